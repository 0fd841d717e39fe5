/* SPDX-License-Identifier: MIT */
/*
 * fuzz_abi - the input decodes into a sequence of eps_ calls.
 *
 * Each input starts from the same pool of descriptors, all non-blocking:
 * a Unix stream socketpair, a Unix datagram socketpair, a UDP socket, a
 * loopback TCP listener with one accepted connection, a pipe (not the
 * library's), two epoll instances, an eventfd and a timerfd.  The pool is
 * made once and restored after each input (the units it touched are made
 * again, the others checked untouched; see standing_restore).  Calls take
 * descriptors only from the pool (live, or closed by the input when the
 * number is still free or went to another pool member) or forged numbers no
 * process has (negative, above the fd limit): never stdin, stdout or
 * stderr, never a descriptor of libFuzzer's.  Descriptors the calls create
 * join the pool for the rest of the input.
 * Handles are live ones (of the right kind or another), freed ones, forged
 * values and near misses of live ones (index, kind or generation changed).
 * Lengths, flags, option names, buffers and address bytes come from the
 * input; addresses handed to the kernel are pinned to loopback, to the
 * pool's own ports and to abstract Unix names (no traffic leaves the
 * machine, no file is created), timeouts are 0, sockets stay non-blocking,
 * SO_LINGER never holds a close, and resolution is numeric only.
 *
 * What must hold: no crash or sanitizer report; a call on a handle that is
 * not live (of its kind) fails with -EBADHANDLE, and one on a live handle
 * never does; a free succeeds exactly on live handles; eps_close succeeds
 * exactly on the library's open descriptors; after the input, every live
 * handle still resolves, every freed one does not, eps_fds_open() counts
 * the pool's own descriptors, whose table state (non-blocking, kind)
 * matches the kernel's; after freeing what the input made and restoring the
 * pool and the two standing TLS contexts, the handle and descriptor counts
 * are back where they started (so a leak fails the input that leaked).
 *
 * Deterministic per input: the pool (descriptor numbers included) and the
 * standing contexts are in the same state before every input, and which
 * inputs may make the costly TLS context calls and the costly handshake
 * steps is a hash of the input's own bytes (see SLOW_ONE_IN, DEEP_ONE_IN),
 * so a crash input reproduces when run alone.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "fuzzlib.h"
#include "tls_internal.h"

/* --- the descriptor pool -------------------------------------------------- */

enum kind { K_SOCKET, K_TCP, K_PIPE, K_EPOLL, K_EVENTFD, K_TIMERFD };

/*
 * The standing pool is made once, in units that are made and closed
 * together (both ends of a pair, the TCP listener with its connection).
 * An input that touches a unit (passes one of its descriptors to a call
 * that may change it, or connects or sends to its port) marks it dirty,
 * unless the call refused and refusing changes nothing (a close, bind,
 * listen, epoll_ctl, counter write, timer setting or TLS connection that
 * failed); after the input every dirty unit is closed and made again, in
 * pool order, so each input starts from the same pool, descriptor numbers
 * included (the kernel hands out the lowest free numbers, which are the
 * dirty units' own).
 * Remaking the whole pool per input (the TCP connect and accept above all)
 * was the floor of this target's cost.
 */
enum unit {
	U_STREAM,
	U_DGRAM,
	U_UDP,
	U_LISTENER,
	U_TCP,
	U_PIPE,
	U_EPOLL,
	U_EPOLL_CLOEXEC,
	U_EVENTFD,
	U_TIMERFD,
	U_COUNT
};

struct member {
	int fd;
	int owned; /* the library's (eps_close closes it), not our pipe */
	int open;
	enum kind kind;
	int unit;    /* its unit in the standing pool, -1: made by the input */
	short ready; /* poll(2) events after the unit was made */
	int nb;	     /* and O_NONBLOCK */
	int used;    /* handed to a call in this input (its flags may have changed) */
};

#define POOL_MAX 48
static struct member pool[POOL_MAX];
static int pool_n;
static int standing_n; /* pool[0..standing_n) is the standing pool */
static int standing_owned;
static int unit_first[U_COUNT + 1];
static int unit_dirty[U_COUNT];

static struct sockaddr_in listen_addr, udp_addr;
static int32_t listener = -1;
static char tmpdir[64], cert_path[96], key_path[96], garbage_path[96], fifo_path[96];

static struct member *pool_add(int fd, int owned, enum kind kind)
{
	if (pool_n == POOL_MAX)
		return NULL;
	pool[pool_n] =
	    (struct member){.fd = fd, .owned = owned, .open = 1, .kind = kind, .unit = -1};
	return &pool[pool_n++];
}

static struct member *pool_find(int fd)
{
	for (int i = 0; i < pool_n; i++)
		if (pool[i].open && pool[i].fd == fd)
			return &pool[i];
	return NULL;
}

/* FD goes to a call that may change it (or its peer): its unit is dirty. */
static int prof_op = -1;
static long prof_dirty_by[16][U_COUNT];
static int32_t touch(int32_t fd)
{
	struct member *m = pool_find(fd);
	if (m != NULL && m->unit >= 0) {
		if (!unit_dirty[m->unit] && prof_op >= 0)
			prof_dirty_by[prof_op][m->unit]++;
		unit_dirty[m->unit] = 1;
	}
	return fd;
}

static int fd_kind_of(enum kind k)
{
	return k == K_EPOLL	? EPS__FD_EPOLL
	       : k == K_EVENTFD ? EPS__FD_EVENTFD
	       : k == K_TIMERFD ? EPS__FD_TIMERFD
				: EPS__FD_OTHER;
}

/* A descriptor the library just made: into the pool, non-blocking. */
static void adopt(int32_t fd, enum kind kind)
{
	FZ_CHECK(fd >= 3, "the library returned descriptor %d", fd);
	FZ_CHECK(pool_find(fd) == NULL, "descriptor %d returned while the pool holds it", fd);
	FZ_CHECK(eps__fd_kind(fd) == fd_kind_of(kind), "new descriptor %d of kind %d", fd,
		 eps__fd_kind(fd));
	if (kind != K_EPOLL && eps_fd_nonblocking_p(fd) != 1)
		FZ_CHECK(eps_fd_set_nonblocking(fd, 1) == 0, "set_nonblocking on a new fd");
	/* The kernel's flags now; pool_check looks again only if a call gets it. */
	int fl = fcntl(fd, F_GETFL);
	FZ_CHECK(fl >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
		 "new descriptor %d not close-on-exec", fd);
	int nb = (fl & O_NONBLOCK) != 0;
	FZ_CHECK(eps__fd_state(fd) == nb, "new descriptor %d: table says %d, kernel %d", fd,
		 eps__fd_state(fd), nb);
	struct member *m = pool_add(fd, 1, kind);
	if (m == NULL)
		FZ_CHECK(eps_close(fd) == 0, "close a new descriptor");
	else
		m->nb = nb;
}

static void set_linger_reset(int fd)
{
	/* RST on close: no TIME_WAIT piles up over millions of inputs. */
	(void)eps_setsockopt_linger(fd, 1, 0);
}

/* Unit U's members, made into pool[pool_n...]. */
static void unit_make(enum unit u)
{
	int32_t sv[2];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	switch (u) {
	case U_STREAM:
	case U_DGRAM:
		FZ_CHECK(eps_socketpair(EPS_AF_UNIX,
					(u == U_STREAM ? EPS_SOCK_STREAM : EPS_SOCK_DGRAM) |
					    EPS_SOCK_NONBLOCK,
					0, sv) == 0,
			 "socketpair");
		pool_add(sv[0], 1, K_SOCKET);
		pool_add(sv[1], 1, K_SOCKET);
		break;
	case U_UDP: {
		int32_t udp = eps_socket(EPS_AF_INET, EPS_SOCK_DGRAM | EPS_SOCK_NONBLOCK, 0);
		FZ_CHECK(udp >= 0, "udp");
		FZ_CHECK(eps_bind(udp, (uint8_t *)&a, sizeof a) == 0, "bind udp");
		FZ_CHECK(eps_getsockname(udp, (uint8_t *)&udp_addr, sizeof udp_addr) ==
			     sizeof udp_addr,
			 "n");
		pool_add(udp, 1, K_SOCKET);
		break;
	}
	case U_LISTENER:
		listener = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0);
		FZ_CHECK(listener >= 0, "listener");
		FZ_CHECK(eps_setsockopt_int(listener, EPS_SOL_SOCKET, EPS_SO_REUSEADDR, 1) == 0,
			 "reuse");
		FZ_CHECK(eps_bind(listener, (uint8_t *)&a, sizeof a) == 0, "bind");
		FZ_CHECK(eps_listen(listener, 64) == 0, "listen");
		FZ_CHECK(eps_getsockname(listener, (uint8_t *)&listen_addr, sizeof listen_addr) ==
			     sizeof listen_addr,
			 "name");
		pool_add(listener, 1, K_TCP);
		break;
	case U_TCP: {
		/* Through the listener, made or untouched: its queue is empty again after. */
		int32_t c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0);
		FZ_CHECK(c >= 0, "client");
		int32_t r = eps_connect(c, (uint8_t *)&listen_addr, sizeof listen_addr);
		FZ_CHECK(r == 0 || r == -EPS_EINPROGRESS, "connect: %s", eps_errname(r));
		FZ_CHECK(eps_fd_poll(listener, EPS_POLLIN, 5000) == EPS_POLLIN, "poll listener");
		int32_t s = eps_accept(listener, EPS_SOCK_NONBLOCK, NULL, NULL);
		FZ_CHECK(s >= 0, "accept: %s", eps_errname(s));
		FZ_CHECK(eps_fd_poll(c, EPS_POLLOUT, 5000) == EPS_POLLOUT, "poll client");
		set_linger_reset(c);
		set_linger_reset(s);
		pool_add(c, 1, K_TCP);
		pool_add(s, 1, K_TCP);
		break;
	}
	case U_PIPE: {
		int p[2];
		FZ_CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe");
		pool_add(p[0], 0, K_PIPE);
		pool_add(p[1], 0, K_PIPE);
		break;
	}
	case U_EPOLL:
	case U_EPOLL_CLOEXEC: {
		int32_t ep = eps_epoll_create(u == U_EPOLL ? 0 : EPS_EPOLL_CLOEXEC);
		FZ_CHECK(ep >= 0, "epoll");
		pool_add(ep, 1, K_EPOLL);
		break;
	}
	case U_EVENTFD: {
		int32_t ev = eps_eventfd_create(0, EPS_EFD_NONBLOCK);
		FZ_CHECK(ev >= 0, "eventfd");
		pool_add(ev, 1, K_EVENTFD);
		break;
	}
	default: {
		int32_t tf = eps_timerfd_create(EPS_CLOCK_MONOTONIC, EPS_TFD_NONBLOCK);
		FZ_CHECK(tf >= 0, "timerfd");
		pool_add(tf, 1, K_TIMERFD);
		break;
	}
	}
}

static void member_close(struct member *m)
{
	if (!m->open)
		return;
	/* The standing Unix and UDP sockets never linger: no call needed. */
	if (m->kind == K_TCP || (m->kind == K_SOCKET && m->unit < 0))
		set_linger_reset(m->fd);
	if (m->owned)
		FZ_CHECK(eps_close(m->fd) == 0, "close %d", m->fd);
	else
		close(m->fd);
	m->open = 0;
}

static long prof_unit[U_COUNT];
static double prof_unit_ns[U_COUNT];
static double thread_ns(void);

/* What poll(2) says of every standing member, into READY. */
static void standing_poll(short *ready)
{
	struct pollfd p[POOL_MAX];
	for (int i = 0; i < standing_n; i++)
		p[i] = (struct pollfd){.fd = pool[i].fd,
				       .events = POLLIN | POLLOUT | POLLPRI | POLLRDHUP};
	FZ_CHECK(poll(p, (nfds_t)standing_n, 0) >= 0, "poll the pool");
	for (int i = 0; i < standing_n; i++)
		ready[i] = p[i].revents;
}

static void standing_build(void)
{
	pool_n = 0;
	standing_owned = 0;
	for (int u = 0; u < U_COUNT; u++) {
		unit_first[u] = pool_n;
		unit_make((enum unit)u);
		for (int i = unit_first[u]; i < pool_n; i++) {
			pool[i].unit = u;
			standing_owned += pool[i].owned;
		}
		unit_dirty[u] = 0;
	}
	unit_first[U_COUNT] = standing_n = pool_n;
	short ready[POOL_MAX];
	standing_poll(ready);
	for (int i = 0; i < standing_n; i++) {
		pool[i].ready = ready[i];
		pool[i].nb = (fcntl(pool[i].fd, F_GETFL) & O_NONBLOCK) != 0;
	}
}

/*
 * After an input: close what it made, remake the dirty units, and check
 * that the untouched ones are as they were (no data, no hang-up: a call
 * that changed one without marking it dirty is a bug of this harness).
 */
static void standing_restore(void)
{
	for (int i = standing_n; i < pool_n; i++)
		member_close(&pool[i]);
	pool_n = standing_n;
	int fds[POOL_MAX], nbs[POOL_MAX];
	for (int i = 0; i < standing_n; i++) {
		fds[i] = pool[i].fd;
		nbs[i] = pool[i].nb;
	}
	for (int u = 0; u < U_COUNT; u++)
		if (unit_dirty[u])
			for (int i = unit_first[u]; i < unit_first[u + 1]; i++)
				member_close(&pool[i]);
	for (int u = 0; u < U_COUNT; u++) {
		if (!unit_dirty[u])
			continue;
		prof_unit[u]++;
		int end = pool_n;
		pool_n = unit_first[u];
		double t0 = thread_ns();
		unit_make((enum unit)u);
		prof_unit_ns[u] += thread_ns() - t0;
		FZ_CHECK(pool_n == unit_first[u + 1], "unit %d remade with %d members", u,
			 pool_n - unit_first[u]);
		for (int i = unit_first[u]; i < pool_n; i++) {
			pool[i].unit = u;
			pool[i].nb = nbs[i];
		}
		pool_n = end;
	}
	short ready[POOL_MAX];
	standing_poll(ready);
	int renumbered = 0;
	for (int i = 0; i < standing_n; i++) {
		/* Made the same way again: the flags seen by standing_build still hold. */
		if (unit_dirty[pool[i].unit])
			pool[i].ready = ready[i];
		else
			FZ_CHECK(ready[i] == pool[i].ready,
				 "untouched pool descriptor %d (unit %d): poll %#x, was %#x",
				 pool[i].fd, pool[i].unit, ready[i], pool[i].ready);
		renumbered |= pool[i].fd != fds[i];
	}
	for (int u = 0; u < U_COUNT; u++)
		unit_dirty[u] = 0;
	/*
	 * The same numbers come back unless a descriptor outside the pool took
	 * one (none should: the library's are all counted): start over then.
	 */
	if (renumbered) {
		for (int i = 0; i < standing_n; i++)
			member_close(&pool[i]);
		standing_build();
	}
}

/* The table agrees with the pool and with the kernel. */
static void pool_check(void)
{
	int64_t owned = 0;
	for (int i = 0; i < pool_n; i++) {
		struct member *m = &pool[i];
		if (!m->open) {
			if (pool_find(m->fd) == NULL)
				FZ_CHECK(eps__fd_state(m->fd) == -EPS_EBADF,
					 "closed descriptor %d still in the table", m->fd);
			continue;
		}
		if ((m->unit >= 0 && !unit_dirty[m->unit]) || !m->used) {
			/*
			 * Untouched, or never handed to a call since it was made
			 * (its file status and descriptor flags change only through
			 * a call on it): the kernel's flags are the ones it was made
			 * with, checked then (standing_build, adopt).
			 */
			owned += m->owned;
			FZ_CHECK(eps__fd_state(m->fd) == (m->owned ? m->nb : -EPS_EBADF),
				 "untouched descriptor %d (unit %d, kind %d, slot %d): table says "
				 "%d, was %d",
				 m->fd, m->unit, m->kind, i, eps__fd_state(m->fd), m->nb);
			FZ_CHECK(!m->owned || eps__fd_kind(m->fd) == fd_kind_of(m->kind),
				 "untouched descriptor %d of kind %d", m->fd, eps__fd_kind(m->fd));
			continue;
		}
		int fl = fcntl(m->fd, F_GETFL);
		FZ_CHECK(fl >= 0, "pool descriptor %d is not open", m->fd);
		FZ_CHECK(fcntl(m->fd, F_GETFD) & FD_CLOEXEC, "descriptor %d not close-on-exec",
			 m->fd);
		if (!m->owned) {
			FZ_CHECK(eps__fd_state(m->fd) == -EPS_EBADF, "pipe %d in the table", m->fd);
			continue;
		}
		owned++;
		int nb = (fl & O_NONBLOCK) != 0;
		FZ_CHECK(eps__fd_state(m->fd) == nb, "descriptor %d: table says %d, kernel %d",
			 m->fd, eps__fd_state(m->fd), nb);
		/* Only an epoll instance may be blocking: a wait never reads it. */
		FZ_CHECK(nb || m->kind == K_EPOLL, "descriptor %d blocking", m->fd);
		FZ_CHECK(eps__fd_kind(m->fd) == fd_kind_of(m->kind), "descriptor %d of kind %d",
			 m->fd, eps__fd_kind(m->fd));
	}
	FZ_CHECK(eps_fds_open() == owned, "eps_fds_open() %lld, the pool owns %lld",
		 (long long)eps_fds_open(), (long long)owned);
}

/*
 * A descriptor for a call that leaves an untouched standing member as it
 * was: one that only looks (poll, names, options), or one that would only
 * take what is waiting (a recv, an accept, a counter's read, a wait), and
 * nothing waits in an untouched member (standing_restore checks it).  A
 * pool member's number, or one nobody has.
 */
static int32_t pick_fd_ro(struct fz *f)
{
	uint8_t sel = fz_u8(f);
	if (sel < 0xf0 && pool_n > 0) {
		struct member *m = &pool[sel % pool_n];
		if (m->open) {
			m->used = 1;
			return m->fd;
		}
		/* A closed member's number, if still free or a member's again. */
		struct member *again = pool_find(m->fd);
		if (again != NULL)
			again->used = 1;
		if (again != NULL || (fcntl(m->fd, F_GETFD) < 0 && errno == EBADF))
			return m->fd;
		return -1;
	}
	static const int32_t forged[] = {-1,	  -2,	     INT32_MIN, 1 << 20, (1 << 22) - 1,
					 1 << 22, INT32_MAX, 19999,	20000,	 4 << 20};
	return forged[sel % (sizeof forged / sizeof forged[0])];
}

/* A descriptor for a call that may change it. */
static int32_t pick_fd(struct fz *f)
{
	return touch(pick_fd_ro(f));
}

/* --- handles -------------------------------------------------------------- */

struct tracked {
	int64_t h;
	int32_t type;
	int live;
	int persistent;
	int32_t fd; /* a connection's descriptor when made */
};

#define TRACK_MAX 64
static struct tracked handles[TRACK_MAX];
static int handles_n;
static int64_t client_ctx, server_ctx;

static struct tracked *track_find(int64_t h)
{
	for (int i = 0; i < handles_n; i++)
		if (handles[i].live && handles[i].h == h)
			return &handles[i];
	return NULL;
}

static int live_of(int64_t h, int32_t type)
{
	struct tracked *t = track_find(h);
	return t != NULL && t->type == type;
}

/* A handle the library just returned. */
static void track_new(int64_t h, int32_t type)
{
	FZ_CHECK(h > 0 && h < (INT64_C(1) << 62), "handle %lld", (long long)h);
	FZ_CHECK(track_find(h) == NULL, "handle %lld handed out twice", (long long)h);
	void *obj;
	FZ_CHECK(eps__handle_acquire(h, (uint32_t)type, &obj) == 0,
		 "a new handle does not resolve");
	eps__handle_release(h);
	if (handles_n == TRACK_MAX) {
		/* Full: forget the oldest dead ones first. */
		int j = 0;
		for (int i = 0; i < handles_n; i++)
			if (handles[i].live)
				handles[j++] = handles[i];
		handles_n = j;
	}
	if (handles_n == TRACK_MAX) {
		int32_t r = type == EPS_HANDLE_TLS_CONTEXT	? eps_tls_context_free(h)
			    : type == EPS_HANDLE_TLS_CONNECTION ? eps_tls_connection_free(h)
								: eps_addrinfo_free(h);
		FZ_CHECK(r == 0, "free a new handle");
		return;
	}
	handles[handles_n++] = (struct tracked){.h = h, .type = type, .live = 1};
}

/* After a free of H as TYPE returned R. */
static void track_free(int64_t h, int32_t type, int32_t r)
{
	struct tracked *t = track_find(h);
	if (t != NULL && t->type == type) {
		FZ_CHECK(r == 0, "free of a live handle: %s", eps_errname(r));
		t->live = 0;
	} else {
		FZ_CHECK(r == -EPS_EBADHANDLE, "free of a handle not live: %s", eps_errname(r));
	}
}

/* After a call on H as TYPE returned R: bad-handle exactly when not live. */
static void handle_result(int64_t h, int32_t type, int64_t r, int strict)
{
	FZ_CHECK_CODE(r);
	if (live_of(h, type))
		FZ_CHECK(r != -EPS_EBADHANDLE, "live handle %llx refused", (unsigned long long)h);
	else if (strict)
		FZ_CHECK(r == -EPS_EBADHANDLE, "dead handle %llx: %lld", (unsigned long long)h,
			 (long long)r);
	else
		FZ_CHECK(r < 0, "dead handle %llx accepted", (unsigned long long)h);
}

static int64_t pick_handle(struct fz *f, int32_t type)
{
	uint8_t sel = fz_u8(f);
	int64_t base = 0;
	/* Mostly a live one of the wanted kind. */
	if ((sel & 0xc0) != 0xc0 || (sel & 0x38) == 0) {
		int n = 0;
		for (int i = 0; i < handles_n; i++)
			n += handles[i].live && handles[i].type == type;
		if (n > 0) {
			int k = (int)(fz_u8(f) % n);
			for (int i = 0; i < handles_n; i++)
				if (handles[i].live && handles[i].type == type && k-- == 0)
					return handles[i].h;
		}
	}
	if (handles_n > 0)
		base = handles[fz_u8(f) % handles_n].h; /* any kind, live or dead */
	switch (sel & 7) {
	case 0:
		return base;
	case 1:
		return base + 1;
	case 2:
		return base ^ (INT64_C(1) << 24); /* another kind */
	case 3:
		return base + (INT64_C(1) << 30); /* the next generation */
	case 4:
		return (int64_t)(fz_u64(f) & ((UINT64_C(1) << 62) - 1));
	case 5:
		return (int64_t)fz_u64(f);
	case 6:
		return 0;
	default:
		return base - (INT64_C(1) << 30);
	}
}

/* --- buffers and addresses ------------------------------------------------- */

#define BUF_MAX 65536
static uint8_t inbuf[BUF_MAX], outbuf[BUF_MAX];

/* A buffer from the input (copied: the library may keep a pointer a while). */
static const uint8_t *pick_data(struct fz *f, size_t *len)
{
	size_t n;
	const uint8_t *p = fz_bytes(f, 4096, &n);
	memcpy(inbuf, p, n);
	/* Sometimes a big one: its bytes are whatever the buffer held. */
	if ((fz_u8(f) & 7) == 0)
		n = fz_len(f, BUF_MAX);
	*len = n;
	if (n != 0 && (fz_u8(f) & 31) == 0)
		return NULL;
	return inbuf;
}

static uint8_t *pick_out(struct fz *f, size_t *len)
{
	*len = fz_len(f, BUF_MAX);
	if ((fz_u8(f) & 31) == 0)
		return NULL;
	return outbuf;
}

/*
 * The unit whose port the last address names, -1 if none: a connect or a
 * send to it changes that unit (a connection waits in the listener's queue,
 * a datagram in the socket), a bind to it fails or takes the other
 * protocol's port.
 */
static int addr_unit = -1;

/* Pin a port to the pool's own (or 0, or one nobody listens on here). */
static uint16_t pin_port(uint8_t sel)
{
	switch (sel & 3) {
	case 0:
		return 0;
	case 1:
		addr_unit = U_LISTENER;
		return listen_addr.sin_port;
	case 2:
		addr_unit = U_UDP;
		return udp_addr.sin_port;
	default:
		return htons(1); /* tcpmux: nothing there */
	}
}

static uint8_t addrbuf[EPS_SOCKADDR_MAX + 8];

/* An address for the kernel: loopback, the pool's ports, abstract names. */
static const uint8_t *pick_addr(struct fz *f, size_t *len)
{
	uint8_t sel = fz_u8(f);
	addr_unit = -1;
	memset(addrbuf, 0, sizeof addrbuf);
	size_t n;
	const uint8_t *p = fz_bytes(f, sizeof addrbuf, &n);
	memcpy(addrbuf, p, n);
	sa_family_t fam;
	switch (sel & 7) {
	case 0:
	case 1:
		fam = AF_INET;
		break;
	case 2:
		fam = AF_INET6;
		break;
	case 3:
	case 4:
		fam = AF_UNIX;
		break;
	case 5:
		fam = AF_UNSPEC;
		break;
	default:
		memcpy(&fam, addrbuf, sizeof fam);
		break;
	}
	size_t natural = n;
	if (fam == AF_INET) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = pin_port(sel >> 3),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		memcpy(addrbuf, &a, sizeof a);
		natural = sizeof a;
	} else if (fam == AF_INET6) {
		struct sockaddr_in6 a;
		memcpy(&a, addrbuf, sizeof a);
		a.sin6_family = AF_INET6;
		a.sin6_port = pin_port(sel >> 3);
		a.sin6_addr = in6addr_loopback;
		memcpy(addrbuf, &a, sizeof a);
		natural = sizeof a;
	} else if (fam == AF_UNIX) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		/* Abstract, in a corner of the namespace of our own. */
		static const char tag[] = "epsfz";
		a.sun_path[0] = 0;
		memcpy(a.sun_path + 1, tag, sizeof tag - 1);
		size_t name = (sel >> 3) & 3;
		if ((sel >> 5) == 7)
			name = fz_u8(f) % (sizeof a.sun_path - sizeof tag);
		memset(a.sun_path + sizeof tag, 'a' + (int)(sel >> 5), name);
		memcpy(addrbuf, &a, sizeof a);
		natural = offsetof(struct sockaddr_un, sun_path) + sizeof tag + name;
		if ((sel >> 3) == 0x1f)
			natural = sizeof(sa_family_t); /* unnamed: autobind */
	} else {
		memcpy(addrbuf, &fam, sizeof fam);
		/* Other families go as given: the kernel refuses them on our sockets. */
		if (fam == AF_INET || fam == AF_INET6 || fam == AF_UNIX)
			fam = AF_UNSPEC, memcpy(addrbuf, &fam, sizeof fam);
	}
	switch (fz_u8(f) & 7) {
	case 0:
		*len = n > sizeof addrbuf ? sizeof addrbuf : n;
		break;
	case 1:
		*len = fz_u8(f) % (sizeof addrbuf + 1);
		break;
	case 2:
		*len = (size_t)INT32_MAX + 2;
		break;
	default:
		*len = natural;
		break;
	}
	if (*len != 0 && (fz_u8(f) & 31) == 0)
		return NULL;
	return addrbuf;
}

/* The kind of call within an op, for EPS_FUZZ_PROFILE. */
static int prof_which;

/* --- the calls --------------------------------------------------------------- */

static void op_close(struct fz *f)
{
	/* A refused close (not ours, not an epoll instance) leaves the unit clean. */
	int32_t fd = pick_fd_ro(f);
	struct member *m = pool_find(fd);
	int32_t r = (fz_u8(f) & 1) ? eps_close(fd) : eps_epoll_close(fd);
	if (m != NULL && m->owned && (r == 0 || r != -EPS_EINVAL))
		FZ_CHECK(r == 0, "close of owned %d: %s", fd, eps_errname(r));
	if (r == 0) {
		FZ_CHECK(m != NULL && m->owned, "closed %d, not the library's", fd);
		touch(fd);
		m->open = 0;
	} else {
		FZ_CHECK(r == -EPS_EBADF || r == -EPS_EINVAL, "close: %s", eps_errname(r));
		if (r == -EPS_EINVAL)
			FZ_CHECK(m != NULL && m->owned && m->kind != K_EPOLL, "epoll_close EINVAL");
	}
}

static void op_nonblocking(struct fz *f)
{
	int32_t fd = pick_fd_ro(f);
	struct member *m = pool_find(fd);
	/* Only an epoll instance changes: it was made blocking; the rest are set back. */
	if (m != NULL && m->kind == K_EPOLL)
		touch(fd);
	int owned = m != NULL && m->owned;
	int32_t on = fz_i32(f);
	int32_t r = eps_fd_set_nonblocking(fd, on);
	FZ_CHECK(owned ? r == 0 : r == -EPS_EBADF, "set_nonblocking(%d): %s", fd, eps_errname(r));
	int32_t p = eps_fd_nonblocking_p(fd);
	FZ_CHECK(owned ? p == (on != 0) : p == -EPS_EBADF, "nonblocking_p(%d) = %d", fd, p);
	if (owned && on == 0) {
		FZ_CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "kernel still non-blocking");
		/* Back to non-blocking at once: no call may ever sleep. */
		FZ_CHECK(eps_fd_set_nonblocking(fd, 1) == 0, "restore");
	}
}

static void op_poll(struct fz *f)
{
	int32_t fd = pick_fd_ro(f);
	int32_t events = (fz_u8(f) & 3) ? (int32_t)fz_u16(f) : fz_i32(f);
	static const int32_t timeouts[] = {0, 0, 0, -2, INT32_MIN};
	int32_t r = eps_fd_poll(fd, events, timeouts[fz_pick(f, 5)]);
	FZ_CHECK_CODE(r);
}

static void op_socket(struct fz *f)
{
	static const int32_t domains[] = {EPS_AF_UNIX, EPS_AF_INET, EPS_AF_INET6, 0, 44, 1000};
	static const int32_t types[] = {
	    EPS_SOCK_STREAM, EPS_SOCK_DGRAM, EPS_SOCK_SEQPACKET, 0, 4, 99};
	int32_t domain = domains[fz_pick(f, 6)];
	int32_t type = types[fz_pick(f, 6)] | EPS_SOCK_NONBLOCK;
	uint8_t x = fz_u8(f);
	if (x & 1)
		type |= EPS_SOCK_CLOEXEC;
	if ((x & 0x1e) == 0x1e)
		type |= (int32_t)(fz_u32(f) & ~0xfu); /* stray flag bits */
	int32_t protocol = (x & 0xe0) == 0xe0 ? (int32_t)fz_u8(f) : 0;
	if (fz_u8(f) & 1) {
		int32_t r = eps_socket(domain, type, protocol);
		FZ_CHECK_CODE(r);
		if (r >= 0)
			adopt(r, K_SOCKET);
	} else {
		int32_t sv[2] = {-7, -7};
		int null = (fz_u8(f) & 15) == 0;
		int32_t r = eps_socketpair(domain, type, protocol, null ? NULL : sv);
		FZ_CHECK_CODE(r);
		if (r == 0) {
			FZ_CHECK(!null, "socketpair into NULL");
			adopt(sv[0], K_SOCKET);
			adopt(sv[1], K_SOCKET);
		} else {
			FZ_CHECK(sv[0] == -7 && sv[1] == -7, "socketpair wrote on failure");
		}
	}
}

static void op_bind_connect(struct fz *f)
{
	/*
	 * A refused bind or listen changes nothing (the kernel checks before it
	 * binds, and a failed port claim unwinds); a connect may change the
	 * socket whatever it returns (in progress, refused after an autobind).
	 */
	int32_t fd = pick_fd_ro(f);
	size_t len;
	uint8_t which = fz_u8(f) % 3;
	const uint8_t *addr = pick_addr(f, &len);
	if (which == 1 && addr_unit >= 0)
		unit_dirty[addr_unit] = 1;
	int32_t r = which == 0	 ? eps_bind(fd, addr, len)
		    : which == 1 ? eps_connect(fd, addr, len)
				 : eps_listen(fd, (fz_u8(f) & 1) ? fz_i32(f) : 16);
	if (which == 1 || r == 0)
		touch(fd);
	FZ_CHECK_CODE(r);
	if (fd < 0)
		FZ_CHECK(r == -EPS_EBADF, "negative fd: %s", eps_errname(r));
}

static void op_accept(struct fz *f)
{
	/* A connection waits only in a listener whose port a call named: dirty. */
	int32_t fd = pick_fd_ro(f);
	if ((fz_u8(f) & 1) && pool_find(listener) != NULL) {
		fd = listener;
		pool_find(listener)->used = 1;
	}
	int32_t flags = EPS_SOCK_NONBLOCK;
	uint8_t x = fz_u8(f);
	if (x & 1)
		flags |= EPS_SOCK_CLOEXEC;
	if ((x & 6) == 6)
		flags = fz_i32(f);
	if ((x & 6) == 4)
		flags = 0; /* blocking socket: made non-blocking on adoption */
	uint8_t addr[EPS_SOCKADDR_MAX + 8];
	memset(addr, 0xa5, sizeof addr);
	uint32_t cap = (x & 0x18) == 0x18 ? fz_u32(f) % (sizeof addr + 1) : EPS_SOCKADDR_MAX;
	uint32_t cell = cap;
	int mode = (x >> 5) & 3; /* 0: addr, 1: none, 2: addr without cell, 3: cell without addr */
	int32_t r = eps_accept(fd, flags, mode == 0 || mode == 2 ? addr : NULL,
			       mode == 0 || mode == 3 ? &cell : NULL);
	FZ_CHECK_CODE(r);
	if (r >= 0) {
		FZ_CHECK(mode <= 1, "accept with half an address");
		if (mode == 0)
			FZ_CHECK(cell <= cap && cap >= EPS_SOCKADDR_MAX, "address length %u", cell);
		adopt(r, K_SOCKET);
		/* A TCP connection: reset on close, no TIME_WAIT. */
		if (eps_getsockopt_int(r, EPS_SOL_SOCKET, EPS_SO_PROTOCOL) == EPS_IPPROTO_TCP)
			set_linger_reset(r);
	} else if (mode == 0 && r == -EPS_EBUFTOOSMALL) {
		FZ_CHECK(cap < EPS_SOCKADDR_MAX && cell == cap, "EBUFTOOSMALL, capacity %u", cap);
	}
}

static void op_send(struct fz *f)
{
	int32_t fd = pick_fd(f);
	uint8_t fsel = fz_u8(f) & 3;
	int32_t flags = fsel == 0 ? fz_i32(f)
			: fsel == 1
			    ? 0
			    : (int32_t)(fz_u16(f) & (EPS_MSG_DONTWAIT | EPS_MSG_MORE | EPS_MSG_OOB |
						     EPS_MSG_EOR | EPS_MSG_NOSIGNAL));
	uint8_t which = fz_u8(f) % 3;
	size_t len;
	int64_t r;
	if (which == 0) {
		const uint8_t *buf = pick_data(f, &len);
		r = eps_send(fd, buf, len, flags);
	} else if (which == 1) {
		const uint8_t *buf = pick_data(f, &len);
		size_t alen;
		const uint8_t *addr = pick_addr(f, &alen);
		if (addr_unit >= 0)
			unit_dirty[addr_unit] = 1;
		r = eps_sendto(fd, buf, len, flags, addr, alen);
	} else {
		static uint64_t iov[2 * 1026];
		size_t count = fz_u8(f) & 7;
		if ((fz_u8(f) & 15) == 0)
			count = (fz_u8(f) & 1) ? 1024 : 1025;
		for (size_t i = 0; i < count; i++) {
			uint8_t k = fz_u8(f);
			uint64_t off = fz_u16(f) % 4096;
			uint64_t l = fz_u16(f) % 4096;
			iov[2 * i] = (uintptr_t)(inbuf + off);
			iov[2 * i + 1] = l;
			if ((k & 15) == 1)
				iov[2 * i] = 0, iov[2 * i + 1] = 0;
			else if ((k & 15) == 2)
				iov[2 * i] = 0; /* NULL with a length: refused */
			else if ((k & 15) == 3)
				iov[2 * i + 1] = (uint64_t)INT32_MAX + 1;
		}
		r = eps_sendv(fd, (fz_u8(f) & 31) == 0 ? NULL : iov, count, flags);
	}
	FZ_CHECK_CODE(r);
	FZ_CHECK(r != -EPS_EFAULT, "send reported EFAULT: a buffer check is missing");
}

static void op_recv(struct fz *f)
{
	int32_t fd = pick_fd_ro(f);
	int32_t flags =
	    (fz_u8(f) & 7) == 0
		? fz_i32(f)
		: (int32_t)(fz_u16(f) & (EPS_MSG_DONTWAIT | EPS_MSG_PEEK | EPS_MSG_WAITALL |
					 EPS_MSG_TRUNC | EPS_MSG_OOB));
	size_t len;
	uint8_t *buf = pick_out(f, &len);
	int64_t r;
	if (fz_u8(f) & 1) {
		r = eps_recv(fd, buf, len, flags);
	} else {
		uint8_t addr[EPS_SOCKADDR_MAX + 8];
		uint8_t x = fz_u8(f);
		uint32_t cap = (x & 3) == 3 ? fz_u32(f) % (sizeof addr + 1) : EPS_SOCKADDR_MAX;
		uint32_t cell = cap;
		int mode = (x >> 2) & 3;
		r = eps_recvfrom(fd, buf, len, flags, mode == 0 || mode == 2 ? addr : NULL,
				 mode == 0 || mode == 3 ? &cell : NULL);
		if (r >= 0 && mode == 0)
			FZ_CHECK(cell <= cap, "address length %u over %u", cell, cap);
		if (r >= 0)
			FZ_CHECK(mode <= 1, "recvfrom with half an address");
	}
	FZ_CHECK_CODE(r);
	FZ_CHECK(r != -EPS_EFAULT, "recv reported EFAULT: a buffer check is missing");
	if (r > 0 && !(flags & EPS_MSG_TRUNC))
		FZ_CHECK((size_t)r <= len, "received %lld into %zu", (long long)r, len);
}

static void op_misc_socket(struct fz *f)
{
	int32_t fd = pick_fd_ro(f);
	uint8_t which = fz_u8(f) % 4;
	int32_t r;
	if (which == 0)
		touch(fd); /* a shutdown (SO_ERROR is 0 in an untouched member) */
	if (which == 0) {
		r = eps_shutdown(fd, (fz_u8(f) & 3) == 3 ? fz_i32(f) : (int32_t)(fz_u8(f) % 3));
	} else if (which == 1) {
		r = eps_socket_error(fd);
	} else {
		size_t cap = fz_len(f, EPS_SOCKADDR_MAX + 8);
		uint8_t *addr = (fz_u8(f) & 15) == 0 ? NULL : addrbuf;
		r = which == 2 ? eps_getsockname(fd, addr, cap) : eps_getpeername(fd, addr, cap);
		if (r >= 0)
			FZ_CHECK((size_t)r <= cap, "name of %d bytes in %zu", r, cap);
	}
	FZ_CHECK_CODE(r);
}

static void op_sockopt(struct fz *f)
{
	int32_t fd = pick_fd_ro(f);
	static const int32_t levels[] = {EPS_SOL_SOCKET, EPS_SOL_SOCKET,   EPS_IPPROTO_TCP,
					 EPS_IPPROTO_IP, EPS_IPPROTO_IPV6, EPS_IPPROTO_UDP};
	uint8_t x = fz_u8(f);
	int32_t level = (x & 7) < 6 ? levels[x & 7] : fz_i32(f);
	int32_t name = (x & 0x80) ? fz_i32(f) : (int32_t)(fz_u8(f) % 80);
	/*
	 * No binding to a device: a socket tied to a real interface could
	 * send out of the machine, loopback address or not.
	 */
	if ((level == EPS_SOL_SOCKET && (name == 25 || name == 62)) ||
	    (level == EPS_IPPROTO_IP && name == 50) || (level == EPS_IPPROTO_IPV6 && name == 76))
		name = 0;
	uint8_t which = fz_u8(f) % 7;
	int64_t r;
	if (which != 1 && which != 3 && which != 5)
		touch(fd); /* a setter (SO_ERROR is 0 in an untouched member) */
	switch (which) {
	case 0:
		r = eps_setsockopt_int(fd, level, name, fz_i32(f));
		break;
	case 1:
		r = eps_getsockopt_int(fd, level, name);
		break;
	case 2: {
		int32_t on = fz_i32(f);
		int32_t secs = fz_i32(f);
		/* A lingering close would sleep: linger only with 0 seconds (reset). */
		if (on != 0 && secs > 0)
			secs = 0;
		r = eps_setsockopt_linger(fd, on, secs);
		break;
	}
	case 3: {
		int32_t on = -7, secs = -7;
		uint8_t y = fz_u8(f);
		r = eps_getsockopt_linger(fd, (y & 1) ? NULL : &on, (y & 2) ? NULL : &secs);
		if (r == 0)
			FZ_CHECK((on == 0 || on == 1) && secs >= 0, "linger %d %d", on, secs);
		else
			FZ_CHECK(on == -7 && secs == -7, "linger written on failure");
		break;
	}
	case 4: {
		int32_t n = (fz_u8(f) & 1) ? EPS_SO_RCVTIMEO : EPS_SO_SNDTIMEO;
		if ((fz_u8(f) & 7) == 0)
			n = name;
		r = eps_setsockopt_timeout(fd, n, (int64_t)fz_u64(f));
		break;
	}
	case 5: {
		int32_t n = (fz_u8(f) & 1) ? EPS_SO_RCVTIMEO : EPS_SO_SNDTIMEO;
		if ((fz_u8(f) & 7) == 0)
			n = name;
		r = eps_getsockopt_timeout(fd, n);
		break;
	}
	default:
		r = eps_setsockopt_int(fd, level, name, (int32_t)fz_u8(f) & 1);
		break;
	}
	FZ_CHECK_CODE(r);
}

static void op_epoll(struct fz *f)
{
	uint8_t which = fz_u8(f) % 3;
	if (which == 0) {
		int32_t flags =
		    (fz_u8(f) & 3) == 0 ? fz_i32(f) : EPS_EPOLL_CLOEXEC * (fz_u8(f) & 1);
		int32_t r = eps_epoll_create(flags);
		FZ_CHECK_CODE(r);
		if (r >= 0)
			adopt(r, K_EPOLL);
		else
			FZ_CHECK(flags != 0 && flags != EPS_EPOLL_CLOEXEC, "epoll_create: %s",
				 eps_errname(r));
	} else if (which == 1) {
		/*
		 * The interest list is the epoll instance's: FD itself is not
		 * changed, and a refused change leaves the list as it was.
		 */
		int32_t epfd = pick_fd_ro(f);
		int32_t fd = pick_fd_ro(f);
		int32_t op = (fz_u8(f) & 7) == 0 ? fz_i32(f) : (int32_t)(1 + fz_u8(f) % 3);
		uint32_t events = fz_u32(f);
		if (fz_u8(f) & 1)
			events &= EPS_EPOLLIN | EPS_EPOLLOUT | EPS_EPOLLRDHUP | EPS_EPOLLET |
				  EPS_EPOLLONESHOT | EPS_EPOLLPRI;
		int32_t r = eps_epoll_ctl(epfd, op, fd, events, fz_u64(f));
		if (r == 0)
			touch(epfd);
		FZ_CHECK_CODE(r);
	} else {
		static uint32_t evs[2048];
		static uint64_t data[2048];
		int32_t epfd = pick_fd_ro(f);
		uint8_t x = fz_u8(f);
		int32_t max;
		switch (x & 7) {
		case 0:
			max = fz_i32(f);
			if (max > 2048 && max != EPS_EPOLL_MAX_EVENTS)
				max = EPS_EPOLL_MAX_EVENTS + 1;
			break;
		case 1:
			max = 257 + fz_u16(f) % (2048 - 257); /* the per-thread buffer */
			break;
		case 2:
			max = EPS_EPOLL_MAX_EVENTS; /* ready events are few: no overflow */
			break;
		default:
			max = 1 + fz_u8(f) % 64;
			break;
		}
		int32_t timeout = (x & 0x18) == 0x18 ? -2 : 0;
		int32_t r = eps_epoll_wait(epfd, (x & 0xe0) == 0xe0 ? NULL : evs,
					   (x & 0xe0) == 0xc0 ? NULL : data, max, timeout);
		FZ_CHECK_CODE(r);
		if (r >= 0)
			FZ_CHECK(r <= max && r <= POOL_MAX, "%d events of %d", r, max);
	}
}

static void op_counter(struct fz *f)
{
	uint8_t which = fz_u8(f) % 6;
	int32_t r;
	uint64_t v = 0x5a5a;
	uint8_t x = fz_u8(f);
	switch (which) {
	case 0: {
		int32_t flags =
		    (x & 3) == 0 ? fz_i32(f) : (int32_t)((x >> 2) & 1) | EPS_EFD_NONBLOCK;
		r = eps_eventfd_create((x & 0x80) ? fz_u32(f) : 0, flags);
		if (r >= 0)
			adopt(r, K_EVENTFD);
		break;
	}
	case 1: {
		static const uint64_t values[] = {1, 0, UINT64_MAX, UINT64_MAX - 1, 1ull << 63};
		uint64_t value = (x & 1) ? fz_u64(f) : values[(x >> 1) % 5];
		/* A refused write (overflow, 2^64-1) leaves the counter as it was. */
		int32_t fd = pick_fd_ro(f);
		r = eps_eventfd_write(fd, value);
		if (r == 0)
			touch(fd);
		break;
	}
	case 2:
		r = eps_eventfd_read(pick_fd_ro(f), (x & 15) == 0 ? NULL : &v);
		break;
	case 3: {
		static const int32_t clocks[] = {
		    EPS_CLOCK_MONOTONIC, EPS_CLOCK_REALTIME, EPS_CLOCK_BOOTTIME, 2, -1, 11};
		int32_t flags =
		    (x & 3) == 0 ? fz_i32(f) : EPS_TFD_NONBLOCK | (x & 4 ? EPS_TFD_CLOEXEC : 0);
		r = eps_timerfd_create(clocks[(x >> 3) % 6], flags);
		if (r >= 0)
			adopt(r, K_TIMERFD);
		break;
	}
	case 4: {
		int64_t initial = (x & 1) ? (int64_t)fz_u64(f) : (int64_t)(fz_u8(f) & 3);
		int64_t interval = (x & 2) ? (int64_t)fz_u64(f) : 0;
		/* A refused setting (a negative time) leaves the timer as it was. */
		int32_t fd = pick_fd_ro(f);
		r = eps_timerfd_arm(fd, initial, interval);
		if (r == 0)
			touch(fd);
		break;
	}
	default:
		r = eps_timerfd_read(pick_fd_ro(f), (x & 15) == 0 ? NULL : &v);
		break;
	}
	FZ_CHECK_CODE(r);
	if ((which == 2 || which == 5) && r < 0)
		FZ_CHECK(v == 0x5a5a, "counter written on failure");
}

static void op_errors(struct fz *f)
{
	int32_t code = fz_i32(f);
	FZ_CHECK(eps_strerror(code) != NULL && eps_errname(code) != NULL, "NULL message");
	size_t len;
	uint8_t *buf = pick_out(f, &len);
	int32_t r = eps_last_error_detail(code, buf, len);
	FZ_CHECK_CODE(r);
	if (buf != NULL && len > 0 && r >= 0)
		FZ_CHECK(memchr(buf, 0, len) != NULL, "detail not NUL-terminated");
	int64_t n = eps_handles_live(fz_i32(f));
	FZ_CHECK(n >= 0 || n == -EPS_EINVAL, "handles_live %lld", (long long)n);
	FZ_CHECK(eps_abi_version() >= 1 && eps_version_string() != NULL, "version");
}

static const char *pick_path(struct fz *f)
{
	/* A FIFO nobody writes to: opening one for reading waits for a writer. */
	const char *paths[] = {NULL,	  "",	       "/nonexistent/epsilon",
			       cert_path, key_path,    garbage_path,
			       tmpdir,	  "/dev/null", fifo_path};
	return paths[fz_pick(f, 9)];
}

/*
 * The costly context calls, milliseconds each in OpenSSL 3: making a
 * context (SSL_CTX_new's provider fetches), loading a key or certificate
 * into a live one (its decoders), trust stores, and freeing one of the two
 * standing contexts (which then must be made again).  They reach OpenSSL
 * only in one input in SLOW_ONE_IN, chosen by a hash of the whole input (so
 * a crash replays alone, and a mutation draws again), at most SLOW_TLS_OPS
 * times there; in the other inputs such a call runs only where the library
 * refuses it before OpenSSL (a dead or forged handle, a refused argument)
 * and is skipped otherwise.  The cheap context calls run everywhere.
 */
#define SLOW_ONE_IN 64
#define SLOW_TLS_OPS 4
static int slow_input, slow_tls_ops;

static int slow_ok(void)
{
	return slow_input && slow_tls_ops++ < SLOW_TLS_OPS;
}

/*
 * What an input did to a standing context: its verify mode, cipher list or
 * TLS 1.3 suites changed (each set back after the input), or REMAKE (a key,
 * certificate or trust store: freed and made again after the input).
 */
enum { CTX_VERIFY = 1, CTX_CIPHERS = 2, CTX_SUITES = 4, CTX_REMAKE = 8 };
static int ctx_state[2]; /* server_ctx, client_ctx */

static void ctx_mark(int64_t ctx, int how)
{
	if (!live_of(ctx, EPS_HANDLE_TLS_CONTEXT))
		return;
	if (ctx == server_ctx)
		ctx_state[0] |= how;
	else if (ctx == client_ctx)
		ctx_state[1] |= how;
}

static int standing_ctx(int64_t ctx)
{
	return (ctx == server_ctx || ctx == client_ctx) && live_of(ctx, EPS_HANDLE_TLS_CONTEXT);
}

static int version_valid(int32_t v)
{
	return v == 0 || v == EPS_TLS_VERSION_1_2 || v == EPS_TLS_VERSION_1_3;
}

static void op_tls_context(struct fz *f)
{
	uint8_t which = fz_u8(f) % 12;
	prof_which = which;
	int64_t ctx = which == 0 ? 0 : pick_handle(f, EPS_HANDLE_TLS_CONTEXT);
	int live = which != 0 && live_of(ctx, EPS_HANDLE_TLS_CONTEXT);
	int64_t r;
	size_t len;
	char text[256];
	switch (which) {
	case 0: {
		static const int32_t versions[] = {0, EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_3,
						   0x0302, -1};
		int32_t role = (fz_u8(f) & 7) == 0 ? fz_i32(f) : (int32_t)(fz_u8(f) & 1);
		int32_t min = versions[fz_pick(f, 5)];
		int32_t max = versions[fz_pick(f, 5)];
		int32_t lo = min == 0 ? EPS_TLS_VERSION_1_2 : min;
		int made = (role == EPS_TLS_ROLE_CLIENT || role == EPS_TLS_ROLE_SERVER) &&
			   version_valid(min) && version_valid(max) && (max == 0 || lo <= max);
		if (made && !slow_ok())
			return;
		r = eps_tls_context_new(role, min, max);
		FZ_CHECK_CODE(r);
		if (r > 0)
			track_new(r, EPS_HANDLE_TLS_CONTEXT);
		return;
	}
	case 1:
		if (standing_ctx(ctx) && !slow_ok())
			return;
		r = eps_tls_context_free(ctx);
		track_free(ctx, EPS_HANDLE_TLS_CONTEXT, (int32_t)r);
		return;
	case 2:
	case 3: {
		const uint8_t *pem;
		uint8_t x = fz_u8(f);
		if (x & 1) {
			pem = (const uint8_t *)(which == 2 ? fz_cert_pem : fz_key_pem);
			len = which == 2 ? sizeof fz_cert_pem - 1 : sizeof fz_key_pem - 1;
			if (x & 2)
				pem = (const uint8_t *)(which == 2 ? fz_key_pem : fz_cert_pem),
				len = which == 2 ? sizeof fz_key_pem - 1 : sizeof fz_cert_pem - 1;
		} else {
			pem = pick_data(f, &len);
		}
		if (live && !(pem == NULL && len != 0)) {
			if (!slow_ok())
				return;
			ctx_mark(ctx, CTX_REMAKE);
		}
		r = which == 2 ? eps_tls_context_use_certificate_pem(ctx, pem, len)
			       : eps_tls_context_use_private_key_pem(ctx, pem, len);
		break;
	}
	case 4:
		r = eps_tls_context_check_private_key(ctx);
		handle_result(ctx, EPS_HANDLE_TLS_CONTEXT, r, 1);
		return;
	case 5: {
		const char *path = pick_path(f);
		uint8_t loader = fz_u8(f) & 3;
		if (live && path != NULL) {
			if (!slow_ok())
				return;
			ctx_mark(ctx, CTX_REMAKE);
		}
		switch (loader) {
		case 0:
			r = eps_tls_context_use_certificate_file(ctx, path);
			break;
		case 1:
			r = eps_tls_context_use_private_key_file(ctx, path);
			break;
		case 2:
			r = eps_tls_context_load_ca_file(ctx, path);
			break;
		default:
			r = eps_tls_context_load_ca_dir(ctx, path);
			break;
		}
		break;
	}
	case 6:
		r = eps_tls_context_set_verify(ctx, (fz_u8(f) & 3) == 0 ? fz_i32(f) : fz_u8(f) & 1);
		/* A refused mode, list or suite leaves the context as it was. */
		if (r == 0)
			ctx_mark(ctx, CTX_VERIFY);
		break;
	case 7:
		r = eps_tls_context_set_cipher_list(
		    ctx, (fz_u8(f) & 15) == 0 ? NULL : fz_string(f, text, sizeof text));
		if (r == 0)
			ctx_mark(ctx, CTX_CIPHERS);
		break;
	case 8:
		r = eps_tls_context_set_ciphersuites(
		    ctx, (fz_u8(f) & 15) == 0 ? NULL : fz_string(f, text, sizeof text));
		if (r == 0)
			ctx_mark(ctx, CTX_SUITES);
		break;
	case 9:
		if (live) {
			if (!slow_ok())
				return;
			ctx_mark(ctx, CTX_REMAKE);
		}
		/* SSL_CERT_FILE and SSL_CERT_DIR name our small files (see below). */
		r = eps_tls_context_use_default_verify_paths(ctx);
		handle_result(ctx, EPS_HANDLE_TLS_CONTEXT, r, 1);
		return;
	default: {
		/* Only a connection made on FD may write to it. */
		int32_t fd = pick_fd_ro(f);
		r = eps_tls_connection_new(ctx, fd);
		handle_result(ctx, EPS_HANDLE_TLS_CONTEXT, r, 0);
		if (r > 0) {
			FZ_CHECK(live_of(ctx, EPS_HANDLE_TLS_CONTEXT),
				 "connection from a dead context");
			touch(fd);
			track_new(r, EPS_HANDLE_TLS_CONNECTION);
			struct tracked *t = track_find(r);
			if (t != NULL)
				t->fd = fd;
		}
		return;
	}
	}
	handle_result(ctx, EPS_HANDLE_TLS_CONTEXT, r, 0);
}

/*
 * The costly steps of a handshake, a tenth of a millisecond to a
 * millisecond each in OpenSSL 3 (key shares, signatures, the peer's
 * certificate decoded and checked): a client's first flight, and any
 * handshake call on a connection that has TLS records to work on (in its
 * socket or read ahead).  Two connections of an input on the two ends of a
 * socketpair do a full handshake this way; it was most of this target's
 * time.  They run only in one input in DEEP_ONE_IN (another slice of the
 * input's hash than SLOW_ONE_IN), at most DEEP_TLS_OPS times there; in
 * the other inputs such a call is skipped, and every cheap one (a refused
 * handle or argument, a connection that failed, one with nothing to read or
 * only bytes that are no TLS record, every call after the handshake) runs.
 */
#define DEEP_ONE_IN 8
#define DEEP_TLS_OPS 8
static int deep_input, deep_tls_ops;

static int tls_costly(int64_t conn)
{
	struct tracked *t = track_find(conn);
	void *obj;
	if (t == NULL || t->type != EPS_HANDLE_TLS_CONNECTION ||
	    eps__handle_acquire(conn, EPS_HANDLE_TLS_CONNECTION, &obj) != 0)
		return 0;
	struct tls_connection *c = obj;
	int costly = 0;
	if (c->failed == 0 && !SSL_is_init_finished(c->ssl)) {
		if ((c->role == EPS_TLS_ROLE_CLIENT && SSL_in_before(c->ssl)) ||
		    SSL_has_pending(c->ssl)) {
			costly = 1;
		} else {
			/* A peek that cannot take a pending socket error (poll first). */
			struct pollfd p = {.fd = t->fd, .events = POLLIN};
			uint8_t b;
			if (poll(&p, 1, 0) == 1 && p.revents == POLLIN &&
			    recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
				costly = b >= 20 && b <= 23; /* a record's content type */
		}
	}
	eps__handle_release(conn);
	return costly;
}

/* May a call on CONN go on (not costly, or a deep input with some left)? */
static int tls_deep_ok(int64_t conn)
{
	return !tls_costly(conn) || (deep_input && deep_tls_ops++ < DEEP_TLS_OPS);
}

static void op_tls_connection(struct fz *f)
{
	uint8_t which = fz_u8(f) % 11;
	prof_which = which;
	int64_t conn = pick_handle(f, EPS_HANDLE_TLS_CONNECTION);
	int64_t r;
	size_t len;
	char name[300];
	int strict = 1;
	switch (which) {
	case 0:
		r = eps_tls_connection_free(conn);
		track_free(conn, EPS_HANDLE_TLS_CONNECTION, (int32_t)r);
		return;
	case 1:
		r = eps_tls_connection_set_nonblocking(conn, fz_i32(f));
		break;
	case 2:
		r = eps_tls_connection_set_hostname(
		    conn, (fz_u8(f) & 15) == 0 ? NULL : fz_string(f, name, sizeof name));
		strict = 0;
		break;
	case 3:
		if (!tls_deep_ok(conn))
			return;
		r = eps_tls_connection_handshake(conn);
		prof_which = r == 0		       ? 11
			     : r == -EPS_ETLSWANTREAD  ? 12
			     : r == -EPS_ETLSWANTWRITE ? 13
			     : r == -EPS_EBADHANDLE    ? 14
						       : 15;
		break;
	case 4: {
		uint8_t *buf = pick_out(f, &len);
		if (!tls_deep_ok(conn))
			return;
		r = eps_tls_connection_read(conn, buf, len);
		if (r > 0)
			FZ_CHECK((size_t)r <= len, "read %lld into %zu", (long long)r, len);
		strict = 0;
		break;
	}
	case 5: {
		const uint8_t *buf = pick_data(f, &len);
		if (!tls_deep_ok(conn))
			return;
		r = eps_tls_connection_write(conn, buf, len);
		if (r > 0)
			FZ_CHECK((size_t)r <= len, "wrote %lld of %zu", (long long)r, len);
		strict = 0;
		break;
	}
	case 6:
		r = eps_tls_connection_pending(conn);
		break;
	case 7:
		r = eps_tls_connection_shutdown(conn);
		break;
	case 8:
		r = eps_tls_connection_verify_result(conn);
		break;
	case 9: {
		uint8_t *buf = pick_out(f, &len);
		r = eps_tls_connection_verify_result_string(conn, buf, len);
		strict = 0;
		break;
	}
	default:
		r = eps_tls_connection_version(conn);
		break;
	}
	handle_result(conn, EPS_HANDLE_TLS_CONNECTION, r, strict);
}

static void op_resolve(struct fz *f)
{
	uint8_t which = fz_u8(f) % 5;
	prof_which = which;
	int64_t r;
	if (which == 0) {
		static const char *hosts[] = {"127.0.0.1", "::1",     "0.0.0.0",
					      "fe80::1%1", "1.2.3.4", "::ffff:127.0.0.1",
					      "localhost", NULL};
		char host[64], service[32];
		const char *h =
		    (fz_u8(f) & 1) ? hosts[fz_pick(f, 8)] : fz_string(f, host, sizeof host);
		const char *s = (fz_u8(f) & 1) ? NULL : fz_string(f, service, sizeof service);
		int32_t flags = (int32_t)(fz_u16(f) & 0x43f);
		/* Never a DNS query, whatever the input says. */
		int32_t family = (int32_t)(fz_u8(f) % 12);
		int32_t socktype = (int32_t)(fz_u8(f) % 4);
		r = eps_getaddrinfo(h, s, family, socktype, 0, flags | EPS_AI_NUMERICHOST);
		FZ_CHECK_CODE(r);
		if (r > 0)
			track_new(r, EPS_HANDLE_ADDRINFO);
		return;
	}
	int64_t list = pick_handle(f, EPS_HANDLE_ADDRINFO);
	if (which == 1) {
		r = eps_addrinfo_free(list);
		track_free(list, EPS_HANDLE_ADDRINFO, (int32_t)r);
		return;
	}
	if (which == 2) {
		r = eps_addrinfo_count(list);
		handle_result(list, EPS_HANDLE_ADDRINFO, r, 1);
		if (r >= 0)
			FZ_CHECK(r >= 1, "count %lld", (long long)r);
		return;
	}
	size_t cap = fz_len(f, EPS_SOCKADDR_MAX + 8);
	uint8_t *out = (fz_u8(f) & 15) == 0 ? NULL : addrbuf;
	if (which == 3) {
		int32_t info[3];
		int32_t index = (fz_u8(f) & 3) == 0 ? fz_i32(f) : fz_u8(f) % 4;
		r = eps_addrinfo_get(list, index, out, cap, (fz_u8(f) & 1) ? info : NULL);
		if (r >= 0)
			FZ_CHECK((size_t)r <= cap, "address of %lld in %zu", (long long)r, cap);
	} else {
		r = eps_addrinfo_canonname(list, out, cap);
	}
	handle_result(list, EPS_HANDLE_ADDRINFO, r, 0);
}

/* --- one input ------------------------------------------------------------------ */

static int64_t client_context(void)
{
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, 0);
	FZ_CHECK(ctx > 0, "client context");
	FZ_CHECK(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_NONE) == 0, "verify");
	return ctx;
}

/*
 * The standing contexts as an input found them: what it reconfigured set
 * back, what it loaded into one (or freed) made again.
 */
static void standing_ctx_restore(void)
{
	for (int k = 0; k < 2; k++) {
		int64_t *ctx = k == 0 ? &server_ctx : &client_ctx;
		int live = live_of(*ctx, EPS_HANDLE_TLS_CONTEXT);
		if (live && (ctx_state[k] & CTX_REMAKE)) {
			FZ_CHECK(eps_tls_context_free(*ctx) == 0, "free a standing context");
			track_find(*ctx)->live = 0;
			live = 0;
		}
		if (!live) {
			*ctx = k == 0 ? fz_server_context() : client_context();
		} else {
			if (ctx_state[k] & CTX_VERIFY)
				FZ_CHECK(eps_tls_context_set_verify(*ctx, EPS_TLS_VERIFY_NONE) == 0,
					 "verify");
			if (ctx_state[k] & CTX_CIPHERS)
				FZ_CHECK(eps_tls_context_set_policy(
					     *ctx, EPS_TLS_POLICY_INTERMEDIATE) == 0,
					 "policy");
			if (ctx_state[k] & CTX_SUITES)
				FZ_CHECK(eps_tls_context_set_ciphersuites(
					     *ctx, OSSL_default_ciphersuites()) == 0,
					 "ciphersuites");
		}
		ctx_state[k] = 0;
	}
}

/*
 * EPS_FUZZ_PROFILE=1: the thread CPU time of each kind of call and of the
 * harness's own work, printed at exit (where this target's time goes).
 */
static int profiling;
static const char *const prof_names[] = {
    "close",   "nonblocking",  "poll",	 "socket",	    "bind/connect/listen",
    "accept",  "send",	       "recv",	 "misc socket",	    "sockopt",
    "epoll",   "counters",     "errors", "tls context",	    "tls connection",
    "resolve", "restore pool", "checks", "restore contexts"};
#define PROF_N 19
static double prof_ns[PROF_N];
static double prof_sub_ns[PROF_N][16];
static long prof_sub_calls[PROF_N][16];
static long prof_calls[PROF_N], prof_inputs, prof_slow;

static double thread_ns(void)
{
	if (!profiling)
		return 0;
	return fz_thread_ns();
}

__attribute__((destructor)) static void prof_print(void)
{
	if (!profiling || prof_inputs == 0)
		return;
	double total = fz_sum(prof_ns, PROF_N);
	fprintf(stderr, "fuzz_abi profile: %ld inputs (%ld slow), %.1f us of CPU each\n",
		prof_inputs, prof_slow, total / 1e3 / (double)prof_inputs);
	for (int i = 0; i < PROF_N; i++)
		if (prof_calls[i] > 0)
			fprintf(stderr, "  %-20s %5.1f%%  %9ld calls  %8.1f us each\n",
				prof_names[i], 100 * prof_ns[i] / total, prof_calls[i],
				prof_ns[i] / 1e3 / (double)prof_calls[i]);
	for (int u = 0; u < U_COUNT; u++) {
		fprintf(stderr, "  unit %d remade %ld times, %.1f us each:", u, prof_unit[u],
			prof_unit_ns[u] / 1e3 / (double)(prof_unit[u] + !prof_unit[u]));
		for (int o = 0; o < 16; o++)
			fprintf(stderr, " %ld", prof_dirty_by[o][u]);
		fprintf(stderr, "\n");
	}
	for (int i = 0; i < PROF_N; i++)
		for (int j = 0; j < 16; j++)
			if (prof_sub_calls[i][j] > 0)
				fprintf(stderr, "  %-17s %2d %5.1f%%  %9ld calls  %8.1f us each\n",
					prof_names[i], j, 100 * prof_sub_ns[i][j] / total,
					prof_sub_calls[i][j],
					prof_sub_ns[i][j] / 1e3 / (double)prof_sub_calls[i][j]);
}

/* A hash of all the input's bytes: which inputs are slow or deep. */
static uint32_t input_hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Files for the path-taking calls: a certificate, a key, garbage. */
	snprintf(tmpdir, sizeof tmpdir, "/tmp/epsilon-fuzz-abi.XXXXXX");
	FZ_CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
	snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmpdir);
	snprintf(key_path, sizeof key_path, "%s/key.pem", tmpdir);
	snprintf(garbage_path, sizeof garbage_path, "%s/garbage.pem", tmpdir);
	snprintf(fifo_path, sizeof fifo_path, "%s/fifo.pem", tmpdir);
	FZ_CHECK(mkfifo(fifo_path, 0600) == 0, "mkfifo");
	const char *files[][2] = {{cert_path, fz_cert_pem},
				  {key_path, fz_key_pem},
				  {garbage_path, "-----BEGIN CERTIFICATE-----\nAAAA\n"}};
	for (int i = 0; i < 3; i++) {
		FILE *fp = fopen(files[i][0], "w");
		FZ_CHECK(fp != NULL, "fopen %s", files[i][0]);
		fputs(files[i][1], fp);
		fclose(fp);
	}
	/* The system's CA bundle takes 60 ms to load: the defaults are ours. */
	setenv("SSL_CERT_FILE", cert_path, 1);
	setenv("SSL_CERT_DIR", tmpdir, 1);
	server_ctx = fz_server_context();
	client_ctx = client_context();
	profiling = getenv("EPS_FUZZ_PROFILE") != NULL;
	return 0;
}

/* The files go at exit; libFuzzer exits through exit(). */
__attribute__((destructor)) static void remove_files(void)
{
	if (tmpdir[0] == 0)
		return;
	(void)unlink(cert_path);
	(void)unlink(key_path);
	(void)unlink(garbage_path);
	(void)unlink(fifo_path);
	(void)rmdir(tmpdir);
}

#ifndef OPS_MAX
#define OPS_MAX 200
#endif
typedef void (*op_fn)(struct fz *);
static const op_fn ops[16] = {op_close,	       op_nonblocking, op_poll,		  op_socket,
			      op_bind_connect, op_accept,      op_send,		  op_recv,
			      op_misc_socket,  op_sockopt,     op_epoll,	  op_counter,
			      op_errors,       op_tls_context, op_tls_connection, op_resolve};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	if (standing_n == 0)
		standing_build();
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();
	FZ_CHECK(fds0 == standing_owned, "descriptors open before the input: %lld, the pool's %d",
		 (long long)fds0, standing_owned);

	for (int i = 0; i < pool_n; i++)
		pool[i].used = 0;
	handles_n = 0;
	slow_tls_ops = 0;
	deep_tls_ops = 0;
	uint32_t h = input_hash(data, size);
	slow_input = h % SLOW_ONE_IN == 0;
	deep_input = h / SLOW_ONE_IN % DEEP_ONE_IN == 0;
	handles[handles_n++] = (struct tracked){server_ctx, EPS_HANDLE_TLS_CONTEXT, 1, 1, -1};
	handles[handles_n++] = (struct tracked){client_ctx, EPS_HANDLE_TLS_CONTEXT, 1, 1, -1};

	for (int n = 0; n < OPS_MAX && !fz_empty(&f); n++) {
		int op = fz_u8(&f) % 16;
		if (!profiling) {
			ops[op](&f);
			continue;
		}
		double t0 = thread_ns();
		prof_which = -1;
		prof_op = op;
		ops[op](&f);
		double dt = thread_ns() - t0;
		prof_ns[op] += dt;
		if (prof_which >= 0) {
			prof_sub_ns[op][prof_which] += dt;
			prof_sub_calls[op][prof_which]++;
		}
		prof_calls[op]++;
	}
	double t1 = profiling ? thread_ns() : 0;

	/* Every live handle resolves, every freed one does not. */
	for (int i = 0; i < handles_n; i++) {
		void *obj;
		int r = eps__handle_acquire(handles[i].h, (uint32_t)handles[i].type, &obj);
		if (handles[i].live) {
			FZ_CHECK(r == 0, "live handle %llx does not resolve",
				 (unsigned long long)handles[i].h);
			eps__handle_release(handles[i].h);
		} else {
			FZ_CHECK(r == -EPS_EBADHANDLE, "freed handle %llx resolves",
				 (unsigned long long)handles[i].h);
		}
	}
	pool_check();

	/* Free what the input made: connections first, then the rest. */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < handles_n; i++) {
			struct tracked *t = &handles[i];
			if (!t->live || t->persistent)
				continue;
			if ((pass == 0) != (t->type == EPS_HANDLE_TLS_CONNECTION))
				continue;
			int32_t r = t->type == EPS_HANDLE_TLS_CONTEXT ? eps_tls_context_free(t->h)
				    : t->type == EPS_HANDLE_TLS_CONNECTION
					? eps_tls_connection_free(t->h)
					: eps_addrinfo_free(t->h);
			FZ_CHECK(r == 0, "freeing a live handle: %s", eps_errname(r));
			t->live = 0;
		}
	}
	double t2 = profiling ? thread_ns() : 0;
	standing_restore();
	double t2b = profiling ? thread_ns() : 0;
	standing_ctx_restore();

	/* Back to where the input started: the pool, the two contexts, nothing else. */
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles live %lld, expected %lld",
		 (long long)eps_handles_live(EPS_HANDLE_ANY), (long long)live0);
	FZ_CHECK(eps_handles_live(EPS_HANDLE_TLS_CONTEXT) == 2, "contexts leaked");
	FZ_CHECK(eps_fds_open() == standing_owned, "descriptors leaked: %lld open, the pool's %d",
		 (long long)eps_fds_open(), standing_owned);
	if (profiling) {
		double t3 = thread_ns();
		prof_ns[16] += t2b - t2;
		prof_ns[17] += t2 - t1;
		prof_ns[18] += t3 - t2b;
		prof_calls[16]++;
		prof_calls[17]++;
		prof_calls[18]++;
		prof_inputs++;
		prof_slow += slow_input;
	}
	return 0;
}
