/* SPDX-License-Identifier: MIT */
/*
 * test_net.c - sockets over loopback: TCP on IPv4 and IPv6, Unix path and
 * abstract sockets, UDP, socket pairs; failures and bad input for every
 * entry point.  Port 0 always; every wait bounded.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"

#define WAIT_MS 10000

/* --- leak checks around every test --------------------------------------- */

static int64_t fds_before;

static void leak_setup(void)
{
	fds_before = eps_fds_open();
}

static void leak_teardown(void)
{
	ck_assert_int_eq(eps_fds_open(), fds_before);
}

/* --- helpers ------------------------------------------------------------- */

struct address {
	uint8_t bytes[EPS_SOCKADDR_MAX];
	size_t len;
};

static struct address inet(const char *host, int32_t port)
{
	struct address a;
	int32_t n = eps_addr_inet(host, port, a.bytes, sizeof a.bytes);
	ck_assert_int_gt(n, 0);
	a.len = (size_t)n;
	return a;
}

static struct address inet6(const char *host, int32_t port)
{
	struct address a;
	int32_t n = eps_addr_inet6(host, port, 0, a.bytes, sizeof a.bytes);
	ck_assert_int_gt(n, 0);
	a.len = (size_t)n;
	return a;
}

static struct address local_address(int fd)
{
	struct address a;
	int32_t n = eps_getsockname(fd, a.bytes, sizeof a.bytes);
	ck_assert_int_gt(n, 0);
	a.len = (size_t)n;
	return a;
}

/* The text of address A into OUT. */
static void format(const struct address *a, char *out, size_t cap)
{
	int32_t n = eps_addr_format(a->bytes, a->len, (uint8_t *)out, cap);
	ck_assert_int_ge(n, 0);
}

/* A listening socket bound to A (port 0: the kernel picks); *BOUND is
 * the address it got. */
static int listener(int32_t type_flags, const struct address *a, struct address *bound)
{
	int32_t family = eps_addr_family(a->bytes, a->len);
	int fd = eps_socket(family, EPS_SOCK_STREAM | type_flags, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_ok(eps_bind(fd, a->bytes, a->len));
	ck_assert_ok(eps_listen(fd, EPS_SOMAXCONN));
	*bound = local_address(fd);
	return fd;
}

/* A connected TCP (or Unix stream) pair through a listener on A. */
static void stream_pair(const struct address *a, int *client, int *server)
{
	struct address bound;
	int lfd = listener(0, a, &bound);
	*client = eps_socket(eps_addr_family(a->bytes, a->len), EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(*client, 0);
	ck_assert_ok(eps_connect(*client, bound.bytes, bound.len));
	*server = eps_accept(lfd, 0, NULL, NULL);
	ck_assert_int_ge(*server, 0);
	ck_assert_int_eq(eps_close(lfd), 0);
}

/* Send all of BUF on FD (blocking). */
static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		int64_t n = eps_send(fd, p, len, 0);
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Receive exactly LEN bytes into BUF from FD (blocking). */
static void recv_exact(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		int64_t n = eps_recv(fd, p, len, 0);
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

/* "hello" one way, "world" the other. */
static void exchange(int a, int b)
{
	char buf[8] = {0};
	send_all(a, "hello", 5);
	recv_exact(b, buf, 5);
	ck_assert_str_eq(buf, "hello");
	send_all(b, "world", 5);
	recv_exact(a, buf, 5);
	ck_assert_str_eq(buf, "world");
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- TCP ------------------------------------------------------------------ */

/*
 * Connect to an IPv4 or IPv6 loopback listener and check, as text, that the
 * peer address the server sees is the client's own address, and that the
 * client's peer is the listener: byte order right both ways.
 */
static void tcp_loopback(const struct address *any_port, const char *host_prefix)
{
	struct address bound;
	int lfd = listener(0, any_port, &bound);
	ck_assert_int_ne(eps_addr_port(bound.bytes, bound.len), 0);
	char text[EPS_ADDRESS_TEXT_MAX], want[EPS_ADDRESS_TEXT_MAX];
	format(&bound, text, sizeof text);
	snprintf(want, sizeof want, "%s%d", host_prefix, eps_addr_port(bound.bytes, bound.len));
	ck_assert_str_eq(text, want);

	int c = eps_socket(eps_addr_family(bound.bytes, bound.len), EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(eps_connect(c, bound.bytes, bound.len), 0);

	struct address peer;
	uint32_t peerlen = sizeof peer.bytes;
	int s = eps_accept(lfd, 0, peer.bytes, &peerlen);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(s), 0);
	peer.len = peerlen;
	struct address client = local_address(c);
	char peer_text[EPS_ADDRESS_TEXT_MAX], client_text[EPS_ADDRESS_TEXT_MAX];
	format(&peer, peer_text, sizeof peer_text);
	format(&client, client_text, sizeof client_text);
	ck_assert_str_eq(peer_text, client_text);
	ck_assert_int_eq(strncmp(peer_text, host_prefix, strlen(host_prefix)), 0);

	struct address server_seen;
	int32_t n = eps_getpeername(c, server_seen.bytes, sizeof server_seen.bytes);
	ck_assert_int_gt(n, 0);
	server_seen.len = (size_t)n;
	format(&server_seen, text, sizeof text);
	ck_assert_str_eq(text, want);

	exchange(c, s);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
}

START_TEST(tcp_over_ipv4_loopback)
{
	struct address a = inet("127.0.0.1", 0);
	tcp_loopback(&a, "127.0.0.1:");
}
END_TEST

START_TEST(tcp_over_ipv6_loopback)
{
	struct address a = inet6("::1", 0);
	tcp_loopback(&a, "[::1]:");
}
END_TEST

START_TEST(ipv6_only_listener_option)
{
	int fd = eps_socket(EPS_AF_INET6, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_ok(eps_setsockopt_int(fd, EPS_IPPROTO_IPV6, EPS_IPV6_V6ONLY, 1));
	ck_assert_int_eq(eps_getsockopt_int(fd, EPS_IPPROTO_IPV6, EPS_IPV6_V6ONLY), 1);
	ck_assert_ok(eps_setsockopt_int(fd, EPS_IPPROTO_IPV6, EPS_IPV6_V6ONLY, 0));
	ck_assert_int_eq(eps_getsockopt_int(fd, EPS_IPPROTO_IPV6, EPS_IPV6_V6ONLY), 0);
	ck_assert_int_eq(eps_close(fd), 0);
}
END_TEST

/* --- 64 MiB, byte for byte --------------------------------------------- */

#define BIG (64u << 20)

/* The byte at OFFSET of the test stream: no table, no period of 256. */
static uint8_t stream_byte(uint64_t offset)
{
	uint64_t x = offset * 0x9E3779B97F4A7C15ull;
	return (uint8_t)(x >> 56);
}

struct sender {
	int fd;
	int use_sendv;
	int64_t sent;
	int64_t error;
};

static void *send_stream(void *arg)
{
	struct sender *s = arg;
	static uint8_t chunk[1 << 17];
	uint64_t rng = 0x1234567 + (uint64_t)s->use_sendv;
	uint64_t off = 0;
	while (off < BIG) {
		size_t len = 1 + eps_test_rand64(&rng) % sizeof chunk;
		if (len > BIG - off)
			len = BIG - off;
		for (size_t i = 0; i < len; i++)
			chunk[i] = stream_byte(off + i);
		size_t done = 0;
		while (done < len) {
			int64_t n;
			if (s->use_sendv) {
				/* Two pieces, to cover the gather path. */
				size_t rest = len - done, half = rest / 2;
				uint64_t iov[4] = {(uint64_t)(uintptr_t)(chunk + done), half,
						   (uint64_t)(uintptr_t)(chunk + done + half),
						   rest - half};
				n = eps_sendv(s->fd, iov, 2, 0);
			} else {
				n = eps_send(s->fd, chunk + done, len - done, 0);
			}
			if (n <= 0) {
				s->error = n;
				return NULL;
			}
			done += (size_t)n;
		}
		off += len;
	}
	s->sent = (int64_t)off;
	(void)eps_shutdown(s->fd, EPS_SHUT_WR);
	return NULL;
}

static void transfer_64mib(int use_sendv)
{
	struct address a = inet("127.0.0.1", 0);
	int c, s;
	stream_pair(&a, &c, &s);
	struct sender snd = {.fd = c, .use_sendv = use_sendv};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, send_stream, &snd), 0);
	static uint8_t buf[1 << 16];
	uint64_t rng = 99, off = 0;
	int mismatch = 0;
	for (;;) {
		size_t want = 1 + eps_test_rand64(&rng) % sizeof buf;
		int64_t n = eps_recv(s, buf, want, 0);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		for (int64_t i = 0; i < n; i++)
			if (buf[i] != stream_byte(off + (uint64_t)i))
				mismatch = 1;
		ck_assert_msg(!mismatch, "byte mismatch near offset %llu", (unsigned long long)off);
		off += (uint64_t)n;
		ck_assert_uint_le(off, BIG);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(snd.error, 0);
	ck_assert_int_eq(snd.sent, BIG);
	ck_assert_uint_eq(off, BIG);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
}

START_TEST(sixty_four_mib_with_send)
{
	transfer_64mib(0);
}
END_TEST

START_TEST(sixty_four_mib_with_sendv)
{
	transfer_64mib(1);
}
END_TEST

START_TEST(gather_send_concatenates)
{
	int sv[2];
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, sv));
	/* The middle piece is empty, with no address. */
	const char *a = "one ", *c = "three";
	uint64_t iov[6] = {(uint64_t)(uintptr_t)a, 4, 0, 0, (uint64_t)(uintptr_t)c, 5};
	ck_assert_int_eq(eps_sendv(sv[0], iov, 3, 0), 9);
	ck_assert_int_eq(eps_sendv(sv[0], iov, 0, 0), 0);
	ck_assert_int_eq(eps_sendv(sv[0], NULL, 0, 0), 0);
	char buf[16] = {0};
	recv_exact(sv[1], buf, 9);
	ck_assert_str_eq(buf, "one three");
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
}
END_TEST

/* --- Unix sockets ---------------------------------------------------------- */

START_TEST(unix_path_socket)
{
	char dir[] = "/tmp/eps-net-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/s", dir);
	struct address a;
	int32_t n = eps_addr_unix((const uint8_t *)path, strlen(path), a.bytes, sizeof a.bytes);
	ck_assert_int_gt(n, 0);
	a.len = (size_t)n;
	struct address bound;
	int lfd = listener(0, &a, &bound);
	char text[EPS_ADDRESS_TEXT_MAX];
	format(&bound, text, sizeof text);
	ck_assert_str_eq(text, path);
	/* The path is taken while the file exists. */
	int other = eps_socket(EPS_AF_UNIX, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_bind(other, a.bytes, a.len), EPS_EADDRINUSE);

	int c = eps_socket(EPS_AF_UNIX, EPS_SOCK_STREAM, 0);
	ck_assert_ok(eps_connect(c, a.bytes, a.len));
	struct address peer;
	uint32_t peerlen = sizeof peer.bytes;
	int s = eps_accept(lfd, 0, peer.bytes, &peerlen);
	ck_assert_int_ge(s, 0);
	/* The client is unnamed. */
	peer.len = peerlen;
	format(&peer, text, sizeof text);
	ck_assert_str_eq(text, "");
	exchange(c, s);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
	ck_assert_int_eq(eps_close(other), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);

	/* Nobody listens there now. */
	c = eps_socket(EPS_AF_UNIX, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_connect(c, a.bytes, a.len), EPS_ENOENT);
	ck_assert_int_eq(eps_close(c), 0);
}
END_TEST

START_TEST(unix_abstract_socket)
{
	char name[64];
	snprintf(name, sizeof name, "epsilon-test-%d-%lld", (int)getpid(), (long long)now_ms());
	struct address a;
	int32_t n =
	    eps_addr_unix_abstract((const uint8_t *)name, strlen(name), a.bytes, sizeof a.bytes);
	ck_assert_int_gt(n, 0);
	a.len = (size_t)n;
	struct address bound;
	int lfd = listener(0, &a, &bound);
	char text[EPS_ADDRESS_TEXT_MAX], want[EPS_ADDRESS_TEXT_MAX];
	format(&bound, text, sizeof text);
	snprintf(want, sizeof want, "@%s", name);
	ck_assert_str_eq(text, want);
	int c = eps_socket(EPS_AF_UNIX, EPS_SOCK_STREAM, 0);
	ck_assert_ok(eps_connect(c, a.bytes, a.len));
	int s = eps_accept(lfd, 0, NULL, NULL);
	ck_assert_int_ge(s, 0);
	exchange(c, s);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
	/* The name is gone with its socket. */
	c = eps_socket(EPS_AF_UNIX, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_connect(c, a.bytes, a.len), EPS_ECONNREFUSED);
	ck_assert_int_eq(eps_close(c), 0);
}
END_TEST

START_TEST(socketpair_is_registered)
{
	int64_t before = eps_fds_open();
	int32_t sv[2] = {-1, -1};
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0, sv));
	ck_assert_int_eq(eps_fds_open(), before + 2);
	ck_assert_int_eq(eps_fd_nonblocking_p(sv[0]), 1);
	ck_assert_int_eq(eps_fd_nonblocking_p(sv[1]), 1);
	ck_assert(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
	exchange(sv[0], sv[1]);
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
	ck_assert_code(eps_socketpair(EPS_AF_INET, EPS_SOCK_STREAM, 0, sv), EPS_EOPNOTSUPP);
	ck_assert_code(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, NULL), EPS_EINVAL);
	ck_assert_int_eq(eps_fds_open(), before);
}
END_TEST

/* Linux counts an out-of-band byte on a Unix stream socket as 1 even when
 * read into 0 bytes (found by fuzz_abi): the count never exceeds the buffer. */
START_TEST(recv_count_never_exceeds_the_buffer)
{
	int32_t sv[2] = {-1, -1};
	uint8_t byte = 'x';
	uint8_t addr[EPS_SOCKADDR_MAX];
	uint32_t addrlen = sizeof addr;
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, sv));
	int64_t sent = eps_send(sv[0], &byte, 1, EPS_MSG_OOB);
	if (sent == -EPS_EOPNOTSUPP || sent == -EPS_EINVAL) {
		/* A kernel without AF_UNIX out-of-band data has nothing to clamp. */
		ck_assert_int_eq(eps_close(sv[0]), 0);
		ck_assert_int_eq(eps_close(sv[1]), 0);
		return;
	}
	ck_assert_int_eq(sent, 1);
	ck_assert_int_eq(eps_recv(sv[1], NULL, 0, EPS_MSG_OOB | EPS_MSG_PEEK | EPS_MSG_DONTWAIT), 0);
	ck_assert_int_eq(eps_recvfrom(sv[1], NULL, 0, EPS_MSG_OOB | EPS_MSG_PEEK | EPS_MSG_DONTWAIT,
				      addr, &addrlen),
			 0);
	uint8_t got = 0;
	ck_assert_int_eq(eps_recv(sv[1], &got, 1, EPS_MSG_OOB | EPS_MSG_DONTWAIT), 1);
	ck_assert_int_eq(got, 'x');
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
}
END_TEST

/* --- UDP ------------------------------------------------------------------ */

START_TEST(udp_datagrams_carry_their_sender)
{
	struct address any = inet("127.0.0.1", 0);
	int a = eps_socket(EPS_AF_INET, EPS_SOCK_DGRAM, 0);
	int b = eps_socket(EPS_AF_INET, EPS_SOCK_DGRAM, 0);
	ck_assert_ok(eps_bind(a, any.bytes, any.len));
	ck_assert_ok(eps_bind(b, any.bytes, any.len));
	struct address aa = local_address(a), ba = local_address(b);

	ck_assert_int_eq(eps_sendto(a, (const uint8_t *)"datagram", 8, 0, ba.bytes, ba.len), 8);
	uint8_t buf[64];
	struct address from;
	uint32_t fromlen = sizeof from.bytes;
	ck_assert_int_eq(eps_recvfrom(b, buf, sizeof buf, 0, from.bytes, &fromlen), 8);
	ck_assert_int_eq(memcmp(buf, "datagram", 8), 0);
	from.len = fromlen;
	char t1[EPS_ADDRESS_TEXT_MAX], t2[EPS_ADDRESS_TEXT_MAX];
	format(&from, t1, sizeof t1);
	format(&aa, t2, sizeof t2);
	ck_assert_str_eq(t1, t2);

	/* A short buffer: the rest of the datagram is dropped, TRUNC tells its size. */
	ck_assert_int_eq(eps_sendto(a, (const uint8_t *)"0123456789", 10, 0, ba.bytes, ba.len), 10);
	ck_assert_int_eq(eps_recvfrom(b, buf, 4, EPS_MSG_TRUNC, NULL, NULL), 10);
	ck_assert_int_eq(memcmp(buf, "0123", 4), 0);
	/* Empty datagram. */
	ck_assert_int_eq(eps_sendto(a, NULL, 0, 0, ba.bytes, ba.len), 0);
	ck_assert_int_eq(eps_recv(b, buf, sizeof buf, 0), 0);

	/* Connected: no address needed. */
	ck_assert_ok(eps_connect(a, ba.bytes, ba.len));
	ck_assert_int_eq(eps_sendto(a, (const uint8_t *)"x", 1, 0, NULL, 0), 1);
	ck_assert_int_eq(eps_send(a, (const uint8_t *)"yz", 2, 0), 2);
	ck_assert_int_eq(eps_recv(b, buf, sizeof buf, 0), 1);
	ck_assert_int_eq(eps_recv(b, buf, sizeof buf, 0), 2);
	ck_assert_code(eps_recv(b, buf, sizeof buf, EPS_MSG_DONTWAIT), EPS_EAGAIN);

	ck_assert_ok(eps_setsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_BROADCAST, 1));
	ck_assert_int_eq(eps_getsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_BROADCAST), 1);
	ck_assert_int_eq(eps_getsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_TYPE), EPS_SOCK_DGRAM);
	ck_assert_int_eq(eps_getsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_PROTOCOL), EPS_IPPROTO_UDP);
	ck_assert_int_eq(eps_close(a), 0);
	ck_assert_int_eq(eps_close(b), 0);
}
END_TEST

START_TEST(udp_over_ipv6)
{
	struct address any = inet6("::1", 0);
	int a = eps_socket(EPS_AF_INET6, EPS_SOCK_DGRAM, 0);
	ck_assert_ok(eps_bind(a, any.bytes, any.len));
	struct address aa = local_address(a);
	ck_assert_int_eq(eps_sendto(a, (const uint8_t *)"me", 2, 0, aa.bytes, aa.len), 2);
	uint8_t buf[8];
	struct address from;
	uint32_t fromlen = sizeof from.bytes;
	ck_assert_int_eq(eps_recvfrom(a, buf, sizeof buf, 0, from.bytes, &fromlen), 2);
	ck_assert_int_eq(fromlen, aa.len);
	ck_assert_int_eq(eps_addr_port(from.bytes, fromlen), eps_addr_port(aa.bytes, aa.len));
	ck_assert_int_eq(eps_close(a), 0);
}
END_TEST

/* --- failures the kernel reports ------------------------------------------ */

START_TEST(refused_connect)
{
	/* A bound TCP socket that does not listen holds the port and refuses. */
	struct address any = inet("127.0.0.1", 0);
	int holder = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_ok(eps_bind(holder, any.bytes, any.len));
	struct address target = local_address(holder);
	int c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_connect(c, target.bytes, target.len), EPS_ECONNREFUSED);
	ck_assert_int_eq(eps_close(c), 0);

	/* Non-blocking: in progress, then the error through SO_ERROR. */
	c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0);
	int32_t r = eps_connect(c, target.bytes, target.len);
	if (r == -EPS_EINPROGRESS) {
		ck_assert_int_gt(eps_fd_poll(c, EPS_POLLOUT, WAIT_MS), 0);
		ck_assert_code(eps_socket_error(c), EPS_ECONNREFUSED);
		ck_assert_int_eq(eps_socket_error(c), 0); /* read and cleared */
	} else {
		ck_assert_code(r, EPS_ECONNREFUSED);
	}
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(holder), 0);
}
END_TEST

START_TEST(address_in_use)
{
	struct address any = inet("127.0.0.1", 0), bound;
	int lfd = listener(0, &any, &bound);
	int other = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_bind(other, bound.bytes, bound.len), EPS_EADDRINUSE);
	/* SO_REUSEADDR does not let a second socket share a listening port. */
	ck_assert_ok(eps_setsockopt_int(other, EPS_SOL_SOCKET, EPS_SO_REUSEADDR, 1));
	ck_assert_code(eps_bind(other, bound.bytes, bound.len), EPS_EADDRINUSE);
	ck_assert_int_eq(eps_close(other), 0);
	ck_assert_int_eq(eps_close(lfd), 0);

	/* Two SO_REUSEPORT listeners may share one. */
	int a = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	int b = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_ok(eps_setsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_REUSEPORT, 1));
	ck_assert_ok(eps_setsockopt_int(b, EPS_SOL_SOCKET, EPS_SO_REUSEPORT, 1));
	ck_assert_int_eq(eps_getsockopt_int(a, EPS_SOL_SOCKET, EPS_SO_REUSEPORT), 1);
	ck_assert_ok(eps_bind(a, any.bytes, any.len));
	struct address shared = local_address(a);
	ck_assert_ok(eps_bind(b, shared.bytes, shared.len));
	ck_assert_ok(eps_listen(a, 8));
	ck_assert_ok(eps_listen(b, 8));
	ck_assert_int_eq(eps_close(a), 0);
	ck_assert_int_eq(eps_close(b), 0);
}
END_TEST

START_TEST(would_block_and_end_of_stream)
{
	struct address a = inet("127.0.0.1", 0);
	int c, s;
	stream_pair(&a, &c, &s);
	uint8_t buf[16];
	/* Blocking socket, non-blocking call. */
	ck_assert_code(eps_recv(s, buf, sizeof buf, EPS_MSG_DONTWAIT), EPS_EAGAIN);
	/* Non-blocking socket. */
	ck_assert_ok(eps_fd_set_nonblocking(s, 1));
	ck_assert_code(eps_recv(s, buf, sizeof buf, 0), EPS_EAGAIN);
	ck_assert_code(eps_recvfrom(s, buf, sizeof buf, 0, NULL, NULL), EPS_EAGAIN);
	/* PEEK leaves the bytes there. */
	send_all(c, "abc", 3);
	ck_assert_int_eq(eps_fd_poll(s, EPS_POLLIN, WAIT_MS), EPS_POLLIN);
	ck_assert_int_eq(eps_recv(s, buf, sizeof buf, EPS_MSG_PEEK), 3);
	ck_assert_int_eq(eps_recv(s, buf, sizeof buf, 0), 3);
	/* Half close: end of stream one way, the other way still open. */
	ck_assert_ok(eps_shutdown(c, EPS_SHUT_WR));
	ck_assert(eps_fd_poll(s, EPS_POLLIN, WAIT_MS) & EPS_POLLIN);
	ck_assert_int_eq(eps_recv(s, buf, sizeof buf, 0), 0);
	ck_assert_int_eq(eps_recv(s, buf, sizeof buf, 0), 0);
	send_all(s, "back", 4);
	/* A stream has no sender address to give: length 0. */
	struct address from;
	uint32_t fromlen = sizeof from.bytes;
	ck_assert(eps_fd_poll(c, EPS_POLLIN, WAIT_MS) & EPS_POLLIN);
	ck_assert_int_eq(eps_recvfrom(c, buf, 2, 0, from.bytes, &fromlen), 2);
	ck_assert_int_eq(fromlen, 0);
	recv_exact(c, buf, 2);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
}
END_TEST

START_TEST(nonblocking_connect_completes)
{
	struct address any = inet("127.0.0.1", 0), bound;
	int lfd = listener(EPS_SOCK_NONBLOCK, &any, &bound);
	ck_assert_int_eq(eps_fd_nonblocking_p(lfd), 1);
	/* Nothing pending yet. */
	ck_assert_code(eps_accept(lfd, 0, NULL, NULL), EPS_EAGAIN);

	int c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(c), 1);
	int32_t r = eps_connect(c, bound.bytes, bound.len);
	ck_assert_msg(r == 0 || r == -EPS_EINPROGRESS, "connect: %d", r);
	if (r == -EPS_EINPROGRESS) {
		ck_assert(eps_fd_poll(c, EPS_POLLOUT, WAIT_MS) & EPS_POLLOUT);
		ck_assert_int_eq(eps_socket_error(c), 0);
	}
	ck_assert(eps_fd_poll(lfd, EPS_POLLIN, WAIT_MS) & EPS_POLLIN);
	int s = eps_accept(lfd, EPS_SOCK_NONBLOCK, NULL, NULL);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(s), 1);
	ck_assert(fcntl(s, F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(s, F_GETFD) & FD_CLOEXEC);
	ck_assert_code(eps_accept(lfd, EPS_SOCK_NONBLOCK, NULL, NULL), EPS_EAGAIN);
	/* Connecting again: the classic way to learn the outcome, then EISCONN. */
	r = eps_connect(c, bound.bytes, bound.len);
	ck_assert_msg(r == 0 || r == -EPS_EISCONN, "connect again: %d", r);
	ck_assert_code(eps_connect(c, bound.bytes, bound.len), EPS_EISCONN);
	ck_assert_int_eq(eps_send(c, (const uint8_t *)"ping", 4, 0), 4);
	ck_assert(eps_fd_poll(s, EPS_POLLIN, WAIT_MS) & EPS_POLLIN);
	uint8_t buf[8];
	ck_assert_int_eq(eps_recv(s, buf, sizeof buf, 0), 4);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
}
END_TEST

START_TEST(receive_timeout_expires)
{
	struct address a = inet("127.0.0.1", 0);
	int c, s;
	stream_pair(&a, &c, &s);
	ck_assert_int_eq(eps_getsockopt_timeout(s, EPS_SO_RCVTIMEO), 0);
	ck_assert_ok(eps_setsockopt_timeout(s, EPS_SO_RCVTIMEO, 100000));
	int64_t got = eps_getsockopt_timeout(s, EPS_SO_RCVTIMEO);
	ck_assert_int_ge(got, 100000);
	ck_assert_int_lt(got, 120000);
	uint8_t buf[4];
	int64_t t0 = now_ms();
	ck_assert_code(eps_recv(s, buf, sizeof buf, 0), EPS_EAGAIN);
	int64_t elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 90);
	ck_assert_int_lt(elapsed, WAIT_MS);
	/* Send timeout: set, read back, cleared. */
	ck_assert_ok(eps_setsockopt_timeout(c, EPS_SO_SNDTIMEO, 2500000));
	got = eps_getsockopt_timeout(c, EPS_SO_SNDTIMEO);
	ck_assert_int_ge(got, 2500000);
	ck_assert_int_lt(got, 2600000);
	ck_assert_ok(eps_setsockopt_timeout(c, EPS_SO_SNDTIMEO, 0));
	ck_assert_int_eq(eps_getsockopt_timeout(c, EPS_SO_SNDTIMEO), 0);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
}
END_TEST

/* The process has SIGPIPE at its default action: it dies unless every
 * send carries MSG_NOSIGNAL. */
static void sigpipe_default(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGPIPE, &sa, NULL), 0);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
}

START_TEST(closed_peer_gives_epipe_not_sigpipe)
{
	sigpipe_default();
	struct address a = inet("127.0.0.1", 0);
	int c, s;
	stream_pair(&a, &c, &s);
	ck_assert_int_eq(eps_close(s), 0);
	/* The first send may be accepted before the peer's reset comes back. */
	int64_t r = 0;
	for (int i = 0; i < 1000 && r >= 0; i++) {
		r = eps_send(c, (const uint8_t *)"data", 4, 0);
		if (r >= 0)
			(void)eps_fd_poll(c, EPS_POLLERR | EPS_POLLHUP, 10);
	}
	ck_assert_msg(r == -EPS_EPIPE || r == -EPS_ECONNRESET, "send: %lld (%s)", (long long)r,
		      eps_errname((int32_t)r));
	/* Once reset, every send is EPIPE, and so is a gather send. */
	ck_assert_code(eps_send(c, (const uint8_t *)"x", 1, 0), EPS_EPIPE);
	uint64_t iov[2] = {(uint64_t)(uintptr_t) "x", 1};
	ck_assert_code(eps_sendv(c, iov, 1, 0), EPS_EPIPE);
	ck_assert_int_eq(eps_close(c), 0);

	/* A socket pair: the peer closed, EPIPE at once. */
	int32_t sv[2];
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, sv));
	ck_assert_int_eq(eps_close(sv[1]), 0);
	ck_assert_code(eps_send(sv[0], (const uint8_t *)"x", 1, 0), EPS_EPIPE);
	ck_assert_code(eps_sendv(sv[0], iov, 1, 0), EPS_EPIPE);
	ck_assert_int_eq(eps_close(sv[0]), 0);
	/* After shutdown of our own writing side. */
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, sv));
	ck_assert_ok(eps_shutdown(sv[0], EPS_SHUT_WR));
	ck_assert_code(eps_send(sv[0], (const uint8_t *)"x", 1, 0), EPS_EPIPE);
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
}
END_TEST

static void on_sigusr1(int sig)
{
	(void)sig;
}

struct blocked_recv {
	int fd;
	_Atomic int done;
	int64_t result;
};

static void *recv_until_interrupted(void *arg)
{
	struct blocked_recv *b = arg;
	uint8_t buf[4];
	b->result = eps_recv(b->fd, buf, sizeof buf, 0);
	atomic_store(&b->done, 1);
	return NULL;
}

/* A signal handled without SA_RESTART ends a blocking receive with -EINTR
 * (the Lisp layer retries with the time left). */
START_TEST(signal_interrupts_blocking_recv)
{
	struct sigaction sa = {.sa_handler = on_sigusr1, .sa_flags = 0};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	int32_t sv[2];
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, sv));
	struct blocked_recv b = {.fd = sv[0]};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, recv_until_interrupted, &b), 0);
	/* The thread may not be inside recv yet: signal again until it returns. */
	for (int i = 0; i < 2000 && !atomic_load(&b.done); i++) {
		ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
		struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_code(b.result, EPS_EINTR);
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
}
END_TEST

static _Atomic int sigusr1_count;

static void count_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&sigusr1_count, 1);
}

struct blocked_accept {
	int fd;
	_Atomic int done;
	int32_t result;
};

static void *accept_until_returned(void *arg)
{
	struct blocked_accept *b = arg;
	b->result = eps_accept(b->fd, 0, NULL, NULL);
	atomic_store(&b->done, 1);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000 * 1000};
	nanosleep(&ts, NULL);
}

/* What the Lisp layer's blocking accept relies on: with a receive timeout
 * a blocking accept ends with -EAGAIN when it passes and with -EINTR at a
 * signal even under SA_RESTART; without one an SA_RESTART signal does not
 * end it, and the connection that does comes registered. */
START_TEST(blocking_accept_with_receive_timeout)
{
	struct address a = inet("127.0.0.1", 0), bound;
	int lfd = listener(0, &a, &bound);
	ck_assert_int_eq(eps_fd_nonblocking_p(lfd), 0);

	ck_assert_ok(eps_setsockopt_timeout(lfd, EPS_SO_RCVTIMEO, 100000));
	int64_t t0 = now_ms();
	ck_assert_code(eps_accept(lfd, 0, NULL, NULL), EPS_EAGAIN);
	int64_t elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 90);
	ck_assert_int_lt(elapsed, WAIT_MS);

	struct sigaction sa = {.sa_handler = count_sigusr1, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);

	/* A receive timeout of 10 s: the signal ends the wait at once. */
	ck_assert_ok(eps_setsockopt_timeout(lfd, EPS_SO_RCVTIMEO, 10 * 1000000));
	struct blocked_accept b = {.fd = lfd};
	pthread_t t;
	t0 = now_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, accept_until_returned, &b), 0);
	for (int i = 0; i < 2000 && !atomic_load(&b.done); i++) {
		ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
		sleep_ms(5);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_code(b.result, EPS_EINTR);
	ck_assert_int_lt(now_ms() - t0, 5000);

	/* No receive timeout: the signals are handled, the wait goes on. */
	ck_assert_ok(eps_setsockopt_timeout(lfd, EPS_SO_RCVTIMEO, 0));
	struct blocked_accept b2 = {.fd = lfd};
	atomic_store(&sigusr1_count, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, accept_until_returned, &b2), 0);
	sleep_ms(50);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
		sleep_ms(20);
	}
	ck_assert_int_gt(atomic_load(&sigusr1_count), 0);
	ck_assert_int_eq(atomic_load(&b2.done), 0);
	int c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_ok(eps_connect(c, bound.bytes, bound.len));
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_ge(b2.result, 0);
	ck_assert_int_eq(eps_close(b2.result), 0);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
}
END_TEST

/* --- options ---------------------------------------------------------------- */

START_TEST(integer_and_structured_options)
{
	struct address any = inet("127.0.0.1", 0), bound;
	int lfd = listener(0, &any, &bound);
	ck_assert_int_eq(eps_getsockopt_int(lfd, EPS_SOL_SOCKET, EPS_SO_ACCEPTCONN), 1);
	ck_assert_int_eq(eps_getsockopt_int(lfd, EPS_SOL_SOCKET, EPS_SO_TYPE), EPS_SOCK_STREAM);
	ck_assert_int_eq(eps_getsockopt_int(lfd, EPS_SOL_SOCKET, EPS_SO_DOMAIN), EPS_AF_INET);
	ck_assert_int_eq(eps_getsockopt_int(lfd, EPS_SOL_SOCKET, EPS_SO_ERROR), 0);
	int c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_ACCEPTCONN), 0);
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_REUSEADDR), 0);
	ck_assert_ok(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_REUSEADDR, 1));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_REUSEADDR), 1);
	ck_assert_ok(eps_setsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_NODELAY, 1));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_NODELAY), 1);
	ck_assert_ok(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_KEEPALIVE, 1));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_KEEPALIVE), 1);
	ck_assert_ok(eps_setsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPIDLE, 30));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPIDLE), 30);
	ck_assert_ok(eps_setsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPINTVL, 5));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPINTVL), 5);
	ck_assert_ok(eps_setsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPCNT, 3));
	ck_assert_int_eq(eps_getsockopt_int(c, EPS_IPPROTO_TCP, EPS_TCP_KEEPCNT), 3);
	/* The kernel doubles a buffer size for its bookkeeping. */
	ck_assert_ok(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_RCVBUF, 65536));
	ck_assert_int_ge(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_RCVBUF), 65536);
	ck_assert_ok(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_SNDBUF, 65536));
	ck_assert_int_ge(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_SNDBUF), 65536);

	int32_t on = -1, secs = -1;
	ck_assert_ok(eps_getsockopt_linger(c, &on, &secs));
	ck_assert_int_eq(on, 0);
	ck_assert_ok(eps_setsockopt_linger(c, 1, 7));
	ck_assert_ok(eps_getsockopt_linger(c, &on, &secs));
	ck_assert_int_eq(on, 1);
	ck_assert_int_eq(secs, 7);
	ck_assert_ok(eps_setsockopt_linger(c, 0, 0));
	ck_assert_ok(eps_getsockopt_linger(c, &on, &secs));
	ck_assert_int_eq(on, 0);

	/* Structured options refuse the integer calls. */
	ck_assert_code(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_LINGER, 1), EPS_EINVAL);
	ck_assert_code(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_LINGER), EPS_EINVAL);
	ck_assert_code(eps_setsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_RCVTIMEO, 1), EPS_EINVAL);
	ck_assert_code(eps_getsockopt_int(c, EPS_SOL_SOCKET, EPS_SO_SNDTIMEO), EPS_EINVAL);
	/* Unknown options and levels. */
	ck_assert_code(eps_setsockopt_int(c, EPS_SOL_SOCKET, 9999, 1), EPS_ENOPROTOOPT);
	ck_assert_code(eps_getsockopt_int(c, EPS_SOL_SOCKET, 9999), EPS_ENOPROTOOPT);
	ck_assert_code(eps_getsockopt_int(c, EPS_IPPROTO_TCP, 9999), EPS_ENOPROTOOPT);
	/* Bad arguments of the structured calls. */
	ck_assert_code(eps_setsockopt_linger(c, 1, -1), EPS_EINVAL);
	ck_assert_code(eps_getsockopt_linger(c, NULL, &secs), EPS_EINVAL);
	ck_assert_code(eps_getsockopt_linger(c, &on, NULL), EPS_EINVAL);
	ck_assert_code(eps_setsockopt_timeout(c, EPS_SO_RCVTIMEO, -1), EPS_EINVAL);
	ck_assert_code(eps_setsockopt_timeout(c, EPS_SO_LINGER, 1), EPS_EINVAL);
	ck_assert_code(eps_getsockopt_timeout(c, EPS_SO_KEEPALIVE), EPS_EINVAL);
	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
}
END_TEST

/* --- bad input ------------------------------------------------------------- */

START_TEST(negative_and_closed_descriptors)
{
	uint8_t buf[8] = {0}, addr[EPS_SOCKADDR_MAX] = {0};
	uint32_t alen = sizeof addr;
	int32_t on, secs;
	uint64_t iov[2] = {(uint64_t)(uintptr_t)buf, 1};
	struct address a = inet("127.0.0.1", 0);
	int closed = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(closed, 0);
	ck_assert_int_eq(eps_close(closed), 0);
	int fds[] = {-1, INT32_MIN, closed};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		int fd = fds[i];
		ck_assert_code(eps_bind(fd, a.bytes, a.len), EPS_EBADF);
		ck_assert_code(eps_listen(fd, 1), EPS_EBADF);
		ck_assert_code(eps_accept(fd, 0, addr, &alen), EPS_EBADF);
		ck_assert_code(eps_connect(fd, a.bytes, a.len), EPS_EBADF);
		ck_assert_code(eps_socket_error(fd), EPS_EBADF);
		ck_assert_code(eps_send(fd, buf, 1, 0), EPS_EBADF);
		ck_assert_code(eps_sendv(fd, iov, 1, 0), EPS_EBADF);
		ck_assert_code(eps_recv(fd, buf, 1, 0), EPS_EBADF);
		ck_assert_code(eps_sendto(fd, buf, 1, 0, a.bytes, a.len), EPS_EBADF);
		ck_assert_code(eps_recvfrom(fd, buf, 1, 0, addr, &alen), EPS_EBADF);
		ck_assert_code(eps_shutdown(fd, EPS_SHUT_RDWR), EPS_EBADF);
		ck_assert_code(eps_getsockname(fd, addr, sizeof addr), EPS_EBADF);
		ck_assert_code(eps_getpeername(fd, addr, sizeof addr), EPS_EBADF);
		ck_assert_code(eps_setsockopt_int(fd, EPS_SOL_SOCKET, EPS_SO_REUSEADDR, 1),
			       EPS_EBADF);
		ck_assert_code(eps_getsockopt_int(fd, EPS_SOL_SOCKET, EPS_SO_REUSEADDR), EPS_EBADF);
		ck_assert_code(eps_setsockopt_linger(fd, 1, 1), EPS_EBADF);
		ck_assert_code(eps_getsockopt_linger(fd, &on, &secs), EPS_EBADF);
		ck_assert_code(eps_setsockopt_timeout(fd, EPS_SO_RCVTIMEO, 1), EPS_EBADF);
		ck_assert_code(eps_getsockopt_timeout(fd, EPS_SO_RCVTIMEO), EPS_EBADF);
		ck_assert_code(eps_close(fd), EPS_EBADF);
	}
	ck_assert_int_eq(alen, sizeof addr); /* untouched */
}
END_TEST

START_TEST(descriptors_that_are_not_sockets)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	uint8_t buf[8] = {0}, addr[EPS_SOCKADDR_MAX] = {0};
	uint32_t alen = sizeof addr;
	int32_t on, secs;
	uint64_t iov[2] = {(uint64_t)(uintptr_t)buf, 1};
	struct address a = inet("127.0.0.1", 0);
	int fd = p[1];
	ck_assert_code(eps_bind(fd, a.bytes, a.len), EPS_ENOTSOCK);
	ck_assert_code(eps_listen(fd, 1), EPS_ENOTSOCK);
	ck_assert_code(eps_accept(fd, 0, addr, &alen), EPS_ENOTSOCK);
	ck_assert_code(eps_connect(fd, a.bytes, a.len), EPS_ENOTSOCK);
	ck_assert_code(eps_socket_error(fd), EPS_ENOTSOCK);
	ck_assert_code(eps_send(fd, buf, 1, 0), EPS_ENOTSOCK);
	ck_assert_code(eps_sendv(fd, iov, 1, 0), EPS_ENOTSOCK);
	ck_assert_code(eps_recv(p[0], buf, 1, 0), EPS_ENOTSOCK);
	ck_assert_code(eps_sendto(fd, buf, 1, 0, a.bytes, a.len), EPS_ENOTSOCK);
	ck_assert_code(eps_recvfrom(p[0], buf, 1, 0, addr, &alen), EPS_ENOTSOCK);
	ck_assert_code(eps_shutdown(fd, EPS_SHUT_RDWR), EPS_ENOTSOCK);
	ck_assert_code(eps_getsockname(fd, addr, sizeof addr), EPS_ENOTSOCK);
	ck_assert_code(eps_getpeername(fd, addr, sizeof addr), EPS_ENOTSOCK);
	ck_assert_code(eps_setsockopt_int(fd, EPS_SOL_SOCKET, EPS_SO_REUSEADDR, 1), EPS_ENOTSOCK);
	ck_assert_code(eps_getsockopt_int(fd, EPS_SOL_SOCKET, EPS_SO_REUSEADDR), EPS_ENOTSOCK);
	ck_assert_code(eps_setsockopt_linger(fd, 1, 1), EPS_ENOTSOCK);
	ck_assert_code(eps_getsockopt_linger(fd, &on, &secs), EPS_ENOTSOCK);
	ck_assert_code(eps_setsockopt_timeout(fd, EPS_SO_RCVTIMEO, 1), EPS_ENOTSOCK);
	ck_assert_code(eps_getsockopt_timeout(fd, EPS_SO_RCVTIMEO), EPS_ENOTSOCK);
	/* Not ours either: eps_close leaves it alone. */
	ck_assert_code(eps_close(fd), EPS_EBADF);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(bad_sizes_buffers_and_flags)
{
	int32_t sv[2];
	ck_assert_ok(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_DGRAM, 0, sv));
	int fd = sv[0];
	uint8_t buf[8] = {0}, addr[EPS_SOCKADDR_MAX] = {0};
	size_t huge = (size_t)INT32_MAX + 1;
	struct address a = inet("127.0.0.1", 0);

	ck_assert_code(eps_send(fd, NULL, 1, 0), EPS_EINVAL);
	ck_assert_code(eps_send(fd, buf, huge, 0), EPS_EINVAL);
	ck_assert_code(eps_send(fd, buf, SIZE_MAX, 0), EPS_EINVAL);
	ck_assert_code(eps_send(fd, buf, 1, EPS_MSG_PEEK), EPS_EINVAL);
	ck_assert_code(eps_send(fd, buf, 1, -1), EPS_EINVAL);
	ck_assert_code(eps_recv(fd, NULL, 1, 0), EPS_EINVAL);
	ck_assert_code(eps_recv(fd, buf, huge, 0), EPS_EINVAL);
	ck_assert_code(eps_recv(fd, buf, SIZE_MAX, 0), EPS_EINVAL);
	ck_assert_code(eps_recv(fd, buf, 1, EPS_MSG_MORE), EPS_EINVAL);
	ck_assert_code(eps_sendto(fd, NULL, 1, 0, a.bytes, a.len), EPS_EINVAL);
	ck_assert_code(eps_sendto(fd, buf, huge, 0, a.bytes, a.len), EPS_EINVAL);
	ck_assert_code(eps_sendto(fd, buf, 1, 0, NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_sendto(fd, buf, 1, 0, addr, EPS_SOCKADDR_MAX + 1), EPS_EINVAL);
	ck_assert_code(eps_sendto(fd, buf, 1, 0x10000000, a.bytes, a.len), EPS_EINVAL);
	ck_assert_code(eps_recvfrom(fd, NULL, 1, 0, NULL, NULL), EPS_EINVAL);
	ck_assert_code(eps_recvfrom(fd, buf, SIZE_MAX, 0, NULL, NULL), EPS_EINVAL);
	ck_assert_code(eps_recvfrom(fd, buf, 1, EPS_MSG_NOSIGNAL, NULL, NULL), EPS_EINVAL);
	uint32_t alen = sizeof addr;
	ck_assert_code(eps_recvfrom(fd, buf, 1, 0, addr, NULL), EPS_EINVAL);
	ck_assert_code(eps_recvfrom(fd, buf, 1, 0, NULL, &alen), EPS_EINVAL);

	/* An address cell too small is refused before the datagram is taken. */
	ck_assert_int_eq(eps_send(sv[1], (const uint8_t *)"d", 1, 0), 1);
	alen = EPS_SOCKADDR_MAX - 1;
	ck_assert_code(eps_recvfrom(fd, buf, 1, 0, addr, &alen), EPS_EBUFTOOSMALL);
	ck_assert_int_eq(alen, EPS_SOCKADDR_MAX - 1);
	alen = EPS_SOCKADDR_MAX;
	ck_assert_int_eq(eps_recvfrom(fd, buf, 1, 0, addr, &alen), 1);
	ck_assert_int_eq(buf[0], 'd');
	ck_assert_int_le(alen, EPS_SOCKADDR_MAX);

	/* Gather sends. */
	uint64_t iov[2 * 1025];
	for (int i = 0; i < 1025; i++) {
		iov[2 * i] = (uint64_t)(uintptr_t)buf;
		iov[2 * i + 1] = 0;
	}
	ck_assert_code(eps_sendv(fd, iov, 1025, 0), EPS_EINVAL);
	ck_assert_code(eps_sendv(fd, iov, SIZE_MAX, 0), EPS_EINVAL);
	ck_assert_code(eps_sendv(fd, NULL, 1, 0), EPS_EINVAL);
	ck_assert_code(eps_sendv(fd, iov, 1, EPS_MSG_PEEK), EPS_EINVAL);
	iov[1] = huge;
	ck_assert_code(eps_sendv(fd, iov, 1, 0), EPS_EINVAL);
	iov[0] = 0;
	iov[1] = 1;
	ck_assert_code(eps_sendv(fd, iov, 1, 0), EPS_EINVAL);

	/* Addresses given to the kernel. */
	ck_assert_code(eps_bind(fd, NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_bind(fd, addr, EPS_SOCKADDR_MAX + 1), EPS_EINVAL);
	ck_assert_code(eps_bind(fd, addr, SIZE_MAX), EPS_EINVAL);
	ck_assert_code(eps_connect(fd, NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_connect(fd, addr, SIZE_MAX), EPS_EINVAL);
	ck_assert_code(eps_connect(fd, NULL, 0), EPS_EINVAL); /* the kernel's answer */

	/* Copied-out addresses. */
	ck_assert_code(eps_getsockname(fd, NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_getsockname(fd, addr, SIZE_MAX), EPS_EINVAL);
	ck_assert_code(eps_getpeername(fd, NULL, 16), EPS_EINVAL);
	struct address tcp_any = a, bound;
	int lfd = listener(0, &tcp_any, &bound);
	ck_assert_code(eps_getsockname(lfd, addr, bound.len - 1), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_getsockname(lfd, NULL, 0), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_getpeername(lfd, addr, sizeof addr), EPS_ENOTCONN);

	/* Accept: the address cell is checked before a connection is taken. */
	int c = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_ok(eps_connect(c, bound.bytes, bound.len));
	alen = 16;
	ck_assert_code(eps_accept(lfd, 0, addr, &alen), EPS_EBUFTOOSMALL);
	ck_assert_int_eq(alen, 16);
	ck_assert_code(eps_accept(lfd, 0, addr, NULL), EPS_EINVAL);
	ck_assert_code(eps_accept(lfd, 0, NULL, &alen), EPS_EINVAL);
	ck_assert_code(eps_accept(lfd, EPS_SOCK_STREAM, NULL, NULL), EPS_EINVAL);
	ck_assert_code(eps_accept(lfd, -1, NULL, NULL), EPS_EINVAL);
	alen = sizeof addr;
	int s = eps_accept(lfd, EPS_SOCK_CLOEXEC, addr, &alen);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(alen, 16);
	ck_assert_code(eps_accept(c, 0, NULL, NULL), EPS_EINVAL); /* not listening */

	/* Other calls. */
	ck_assert_code(eps_listen(lfd, -1), EPS_EINVAL);
	ck_assert_code(eps_listen(fd, 1), EPS_EOPNOTSUPP); /* datagrams */
	ck_assert_code(eps_shutdown(c, 3), EPS_EINVAL);
	ck_assert_code(eps_shutdown(c, -1), EPS_EINVAL);
	ck_assert_code(eps_socket(12345, EPS_SOCK_STREAM, 0), EPS_EAFNOSUPPORT);
	ck_assert_code(eps_socket(EPS_AF_INET, 12345, 0), EPS_EINVAL);
	ck_assert_code(eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, EPS_IPPROTO_UDP),
		       EPS_EPROTONOSUPPORT);
	ck_assert_code(eps_socketpair(EPS_AF_UNIX, 12345, 0, sv), EPS_EINVAL);
	/* Connecting to an address of another family. */
	struct address six = inet6("::1", 1);
	ck_assert_code(eps_connect(c, six.bytes, six.len), EPS_EISCONN);
	int c4 = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_code(eps_connect(c4, six.bytes, six.len), EPS_EAFNOSUPPORT);
	ck_assert_code(eps_bind(c4, six.bytes, six.len), EPS_EAFNOSUPPORT);
	ck_assert_int_eq(eps_close(c4), 0);

	ck_assert_int_eq(eps_close(c), 0);
	ck_assert_int_eq(eps_close(s), 0);
	ck_assert_int_eq(eps_close(lfd), 0);
	ck_assert_int_eq(eps_close(sv[0]), 0);
	ck_assert_int_eq(eps_close(sv[1]), 0);
}
END_TEST

START_TEST(sockets_are_cloexec_and_registered)
{
	int64_t before = eps_fds_open();
	int fd = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(eps_fds_open(), before + 1);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(eps_fd_nonblocking_p(fd), 0);
	ck_assert(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
	ck_assert_int_eq(eps_close(fd), 0);
	fd = eps_socket(EPS_AF_INET6, EPS_SOCK_DGRAM | EPS_SOCK_NONBLOCK | EPS_SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(fd), 1);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(eps_close(fd), 0);
	ck_assert_int_eq(eps_fds_open(), before);
}
END_TEST

static Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tcp = tcase_create("tcp");
	tcase_add_checked_fixture(tcp, leak_setup, leak_teardown);
	tcase_add_test(tcp, tcp_over_ipv4_loopback);
	tcase_add_test(tcp, tcp_over_ipv6_loopback);
	tcase_add_test(tcp, ipv6_only_listener_option);
	tcase_add_test(tcp, gather_send_concatenates);
	tcase_add_test(tcp, sockets_are_cloexec_and_registered);
	suite_add_tcase(s, tcp);
	TCase *bulk = tcase_create("bulk");
	tcase_add_checked_fixture(bulk, leak_setup, leak_teardown);
	tcase_set_timeout(bulk, 120);
	tcase_add_test(bulk, sixty_four_mib_with_send);
	tcase_add_test(bulk, sixty_four_mib_with_sendv);
	suite_add_tcase(s, bulk);
	TCase *local = tcase_create("unix");
	tcase_add_checked_fixture(local, leak_setup, leak_teardown);
	tcase_add_test(local, unix_path_socket);
	tcase_add_test(local, unix_abstract_socket);
	tcase_add_test(local, socketpair_is_registered);
	tcase_add_test(local, recv_count_never_exceeds_the_buffer);
	suite_add_tcase(s, local);
	TCase *udp = tcase_create("udp");
	tcase_add_checked_fixture(udp, leak_setup, leak_teardown);
	tcase_add_test(udp, udp_datagrams_carry_their_sender);
	tcase_add_test(udp, udp_over_ipv6);
	suite_add_tcase(s, udp);
	TCase *fail = tcase_create("failures");
	tcase_add_checked_fixture(fail, leak_setup, leak_teardown);
	tcase_add_test(fail, refused_connect);
	tcase_add_test(fail, address_in_use);
	tcase_add_test(fail, would_block_and_end_of_stream);
	tcase_add_test(fail, nonblocking_connect_completes);
	tcase_add_test(fail, receive_timeout_expires);
	tcase_add_test(fail, closed_peer_gives_epipe_not_sigpipe);
	tcase_add_test(fail, signal_interrupts_blocking_recv);
	tcase_add_test(fail, blocking_accept_with_receive_timeout);
	suite_add_tcase(s, fail);
	TCase *opts = tcase_create("options");
	tcase_add_checked_fixture(opts, leak_setup, leak_teardown);
	tcase_add_test(opts, integer_and_structured_options);
	suite_add_tcase(s, opts);
	TCase *bad = tcase_create("bad-input");
	tcase_add_checked_fixture(bad, leak_setup, leak_teardown);
	tcase_add_test(bad, negative_and_closed_descriptors);
	tcase_add_test(bad, descriptors_that_are_not_sockets);
	tcase_add_test(bad, bad_sizes_buffers_and_flags);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return eps_test_main(net_suite());
}
