/* SPDX-License-Identifier: MIT */
/*
 * test_epoll.c - epoll instances, eventfds and timerfds.
 *
 * Every test runs between a checked fixture that counts the open
 * descriptors (the library's table and /proc/self/fd) before and after it:
 * nothing a test does may leak one.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"

/* --- helpers ------------------------------------------------------------ */

/* Linked with --wrap=malloc: every call to malloc in this executable,
 * the library's objects included, is counted here, per thread (Check's
 * own bookkeeping allocates in the thread that runs the test). */
void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
static __thread long malloc_calls;

void *__wrap_malloc(size_t size)
{
	malloc_calls++;
	return __real_malloc(size);
}

static int proc_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int64_t owned_before;
static int proc_before;

static void count_fds(void)
{
	owned_before = eps_fds_open();
	proc_before = proc_fds();
}

static void same_fds(void)
{
	ck_assert_int_eq(eps_fds_open(), owned_before);
	ck_assert_int_eq(proc_fds(), proc_before);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0)
		;
}

/* A pipe the test owns (closed with close(2)), ends non-blocking. */
static void test_pipe(int p[2])
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

static void close_pair(int p[2])
{
	ck_assert_int_eq(close(p[0]), 0);
	ck_assert_int_eq(close(p[1]), 0);
}

static void put_byte(int fd)
{
	ck_assert_int_eq(write(fd, "x", 1), 1);
}

static void drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

/* One wait for at most 8 events; the count, with the first event's fields. */
static int32_t wait8(int epfd, int timeout_ms, uint32_t *ev0, uint64_t *data0)
{
	uint32_t events[8];
	uint64_t data[8];
	int32_t n = eps_epoll_wait(epfd, events, data, 8, timeout_ms);
	if (n > 0) {
		if (ev0)
			*ev0 = events[0];
		if (data0)
			*data0 = data[0];
	}
	return n;
}

static int new_epoll(void)
{
	int32_t epfd = eps_epoll_create(0);
	ck_assert_int_ge(epfd, 0);
	return epfd;
}

static void raise_fd_limit(rlim_t want)
{
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_int_ge(rl.rlim_cur, want);
}

/* --- creation and close ------------------------------------------------- */

START_TEST(create_makes_cloexec_owned_epoll)
{
	int32_t a = eps_epoll_create(0);
	int32_t b = eps_epoll_create(EPS_EPOLL_CLOEXEC);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(fcntl(a, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fcntl(b, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(eps__fd_kind(a), EPS__FD_EPOLL);
	ck_assert_int_eq(eps_fd_nonblocking_p(a), 0);
	ck_assert_int_eq(eps_fds_open(), owned_before + 2);
	ck_assert_int_eq(eps_epoll_close(a), 0);
	ck_assert_int_eq(fcntl(a, F_GETFD), -1);
	ck_assert_int_eq(eps_close(b), 0);
}
END_TEST

START_TEST(create_rejects_bad_flags)
{
	ck_assert_code(eps_epoll_create(1), EPS_EINVAL);
	ck_assert_code(eps_epoll_create(-1), EPS_EINVAL);
	ck_assert_code(eps_epoll_create(EPS_EPOLL_CLOEXEC | 1), EPS_EINVAL);
	ck_assert_code(eps_epoll_create(O_NONBLOCK), EPS_EINVAL);
	ck_assert_code(eps_epoll_create(INT32_MIN), EPS_EINVAL);
}
END_TEST

START_TEST(close_refuses_what_is_not_an_owned_epoll)
{
	ck_assert_code(eps_epoll_close(0), EPS_EBADF);
	ck_assert_int_ne(fcntl(0, F_GETFD), -1); /* stdin untouched */
	ck_assert_code(eps_epoll_close(-1), EPS_EBADF);
	ck_assert_code(eps_epoll_close(INT32_MAX), EPS_EBADF);
	int32_t efd = eps_eventfd_create(0, 0);
	ck_assert_int_ge(efd, 0);
	ck_assert_code(eps_epoll_close(efd), EPS_EINVAL);
	ck_assert_int_ne(fcntl(efd, F_GETFD), -1); /* still open */
	ck_assert_int_eq(eps_close(efd), 0);
	int epfd = new_epoll();
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
	ck_assert_code(eps_epoll_close(epfd), EPS_EBADF);
}
END_TEST

/* --- readiness ---------------------------------------------------------- */

START_TEST(level_triggered_reports_until_drained)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 42), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	put_byte(p[1]);
	put_byte(p[1]);
	for (int i = 0; i < 3; i++) {
		uint32_t ev = 0;
		uint64_t data = 0;
		ck_assert_int_eq(wait8(epfd, 1000, &ev, &data), 1);
		ck_assert_uint_eq(ev, EPS_EPOLLIN);
		ck_assert_uint_eq(data, 42);
	}
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 1); /* one byte left */
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(edge_triggered_reports_once_per_edge)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN | EPS_EPOLLET, 7),
			 0);
	for (int edge = 0; edge < 3; edge++) {
		put_byte(p[1]);
		uint32_t ev = 0;
		ck_assert_int_eq(wait8(epfd, 1000, &ev, NULL), 1);
		ck_assert_uint_eq(ev, EPS_EPOLLIN);
		/* Data still unread, but no new edge: nothing more. */
		ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	}
	drain(p[0]);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(oneshot_disarms_until_mod)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	ck_assert_int_eq(
	    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN | EPS_EPOLLONESHOT, 1), 0);
	put_byte(p[1]);
	uint64_t data = 0;
	ck_assert_int_eq(wait8(epfd, 1000, NULL, &data), 1);
	ck_assert_uint_eq(data, 1);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0); /* disarmed, data pending */
	put_byte(p[1]);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0); /* still disarmed */
	/* Still registered: adding again is refused, modifying re-arms. */
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), EPS_EEXIST);
	ck_assert_int_eq(
	    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_MOD, p[0], EPS_EPOLLIN | EPS_EPOLLONESHOT, 2), 0);
	ck_assert_int_eq(wait8(epfd, 1000, NULL, &data), 1);
	ck_assert_uint_eq(data, 2);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(rdhup_on_peer_shutdown)
{
	int epfd = new_epoll(), sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, sv[0], EPS_EPOLLIN | EPS_EPOLLRDHUP,
				       (uint64_t)sv[0]),
			 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	uint32_t ev = 0;
	uint64_t data = 0;
	ck_assert_int_eq(wait8(epfd, 1000, &ev, &data), 1);
	ck_assert_uint_eq(data, (uint64_t)sv[0]);
	ck_assert(ev & EPS_EPOLLRDHUP);
	ck_assert(ev & EPS_EPOLLIN); /* end of file is readable */
	ck_assert(!(ev & EPS_EPOLLHUP));
	ck_assert_int_eq(close(sv[1]), 0);
	ck_assert_int_eq(wait8(epfd, 1000, &ev, NULL), 1);
	ck_assert(ev & EPS_EPOLLHUP); /* reported though never asked for */
	ck_assert_int_eq(close(sv[0]), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(socket_readable_and_writable)
{
	int epfd = new_epoll(), sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_int_eq(
	    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, sv[0], EPS_EPOLLIN | EPS_EPOLLOUT, 9), 0);
	uint32_t ev = 0;
	ck_assert_int_eq(wait8(epfd, 1000, &ev, NULL), 1);
	ck_assert_uint_eq(ev, EPS_EPOLLOUT);
	put_byte(sv[1]);
	ck_assert_int_eq(wait8(epfd, 1000, &ev, NULL), 1);
	ck_assert_uint_eq(ev, EPS_EPOLLIN | EPS_EPOLLOUT);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_MOD, sv[0], EPS_EPOLLOUT, 10), 0);
	uint64_t data = 0;
	ck_assert_int_eq(wait8(epfd, 1000, &ev, &data), 1);
	ck_assert_uint_eq(ev, EPS_EPOLLOUT);
	ck_assert_uint_eq(data, 10);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_DEL, sv[0], 0, 0), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	close_pair(sv);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(exclusive_accepted_on_add_only)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	ck_assert_int_eq(
	    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN | EPS_EPOLLEXCLUSIVE, 5), 0);
	put_byte(p[1]);
	uint64_t data = 0;
	ck_assert_int_eq(wait8(epfd, 1000, NULL, &data), 1);
	ck_assert_uint_eq(data, 5);
	/* The kernel allows it on ADD only, and not with one-shot. */
	ck_assert_code(
	    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_MOD, p[0], EPS_EPOLLIN | EPS_EPOLLEXCLUSIVE, 5),
	    EPS_EINVAL);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[1],
				     EPS_EPOLLOUT | EPS_EPOLLEXCLUSIVE | EPS_EPOLLONESHOT, 6),
		       EPS_EINVAL);
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(data_words_cross_intact)
{
	static const uint64_t words[] = {0,
					 1,
					 UINT32_MAX,
					 (uint64_t)1 << 32,
					 ((uint64_t)1 << 32) + 1,
					 (uint64_t)INT64_MAX,
					 (uint64_t)1 << 63,
					 UINT64_MAX - 1,
					 UINT64_MAX};
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	put_byte(p[1]);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), 0);
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		ck_assert_int_eq(
		    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_MOD, p[0], EPS_EPOLLIN, words[i]), 0);
		uint64_t data = ~words[i];
		ck_assert_int_eq(wait8(epfd, 1000, NULL, &data), 1);
		ck_assert_uint_eq(data, words[i]);
	}
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(wait_stores_at_most_max_events)
{
	int epfd = new_epoll();
	int32_t efd[5];
	for (int i = 0; i < 5; i++) {
		efd[i] = eps_eventfd_create(1, EPS_EFD_NONBLOCK);
		ck_assert_int_ge(efd[i], 0);
		ck_assert_int_eq(
		    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, efd[i], EPS_EPOLLIN, 100 + i), 0);
	}
	uint32_t events[8];
	uint64_t data[8];
	memset(events, 0xab, sizeof events);
	memset(data, 0xab, sizeof data);
	ck_assert_int_eq(eps_epoll_wait(epfd, events, data, 3, 1000), 3);
	for (int i = 3; i < 8; i++) { /* past the count: untouched */
		ck_assert_uint_eq(events[i], 0xabababab);
		ck_assert_uint_eq(data[i], 0xababababababababULL);
	}
	ck_assert_int_eq(eps_epoll_wait(epfd, events, data, 1, 1000), 1);
	ck_assert_int_eq(eps_epoll_wait(epfd, events, data, 8, 1000), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(eps_close(efd[i]), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

/* --- scale -------------------------------------------------------------- */

#define READY 1000

/* Each data word, found in WORDS at most once per wait. */
static void check_each_once(const uint64_t *words, const uint64_t *data, const uint32_t *events,
			    int n)
{
	static unsigned char seen[READY];
	memset(seen, 0, sizeof seen);
	ck_assert_int_eq(n, READY);
	for (int i = 0; i < n; i++) {
		int found = -1;
		for (int j = 0; j < READY && found < 0; j++)
			if (words[j] == data[i])
				found = j;
		ck_assert_msg(found >= 0, "unknown data word %#llx", (unsigned long long)data[i]);
		ck_assert_msg(!seen[found], "fd %d reported twice", found);
		seen[found] = 1;
		ck_assert_uint_eq(events[i], EPS_EPOLLIN);
	}
}

START_TEST(thousand_ready_fds_each_once)
{
	raise_fd_limit(READY * 2 + 256);
	static uint64_t words[READY];
	static int fds[READY][2];
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < READY; i++) {
		/* At and above 2^32, all distinct: the low bits carry the index. */
		uint64_t w = (eps_test_rand64(&rng) & ~(uint64_t)0x3ff) | ((uint64_t)1 << 32) | i;
		words[i] = i == 0 ? (uint64_t)1 << 32 : i == 1 ? UINT64_MAX : w;
	}
	int epfd = new_epoll();
	for (int i = 0; i < READY; i++) {
		if (i % 2 == 0) { /* half pipes holding a byte, half eventfds at 1 */
			test_pipe(fds[i]);
			put_byte(fds[i][1]);
		} else {
			fds[i][0] = eps_eventfd_create(1, EPS_EFD_NONBLOCK);
			ck_assert_int_ge(fds[i][0], 0);
			fds[i][1] = -1;
		}
		ck_assert_int_eq(
		    eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, fds[i][0], EPS_EPOLLIN, words[i]), 0);
	}
	static uint32_t events[EPS_EPOLL_MAX_EVENTS];
	static uint64_t data[EPS_EPOLL_MAX_EVENTS];
	int32_t n = eps_epoll_wait(epfd, events, data, READY, 1000);
	check_each_once(words, data, events, n);
	/* Still ready (level-triggered); the largest wait finds the same. */
	n = eps_epoll_wait(epfd, events, data, EPS_EPOLL_MAX_EVENTS, 1000);
	check_each_once(words, data, events, n);
	for (int i = 0; i < READY; i++) {
		if (fds[i][1] >= 0) {
			close_pair(fds[i]);
		} else {
			ck_assert_int_eq(eps_close(fds[i][0]), 0);
		}
	}
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

struct big_waiter {
	int epfd;
	int max_events;
	int32_t result;
};

static void *big_wait(void *arg)
{
	struct big_waiter *w = arg;
	uint32_t *events = malloc(sizeof *events * (size_t)w->max_events);
	uint64_t *data = malloc(sizeof *data * (size_t)w->max_events);
	w->result = -1;
	if (events && data) {
		/* Twice: the second reuses the buffer the first one grew. */
		w->result = eps_epoll_wait(w->epfd, events, data, w->max_events, 1000);
		if (w->result >= 0)
			w->result = eps_epoll_wait(w->epfd, events, data, w->max_events, 1000);
	}
	free(events);
	free(data);
	return NULL;
}

START_TEST(threads_wait_with_their_own_buffers)
{
	int epfd = new_epoll();
	int32_t efd[10];
	for (int i = 0; i < 10; i++) {
		efd[i] = eps_eventfd_create(1, EPS_EFD_NONBLOCK);
		ck_assert_int_ge(efd[i], 0);
		ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, efd[i], EPS_EPOLLIN, i), 0);
	}
	/* Each thread's buffer is freed when it exits (the ASan build checks). */
	struct big_waiter w[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct big_waiter){.epfd = epfd, .max_events = 300 + 3000 * i};
		ck_assert_int_eq(pthread_create(&t[i], NULL, big_wait, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(w[i].result, 10);
	}
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(eps_close(efd[i]), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

struct alloc_probe {
	int epfd;
	long first_wait_mallocs;
	long steady_mallocs;
	int32_t total;
};

static void *probe_allocations(void *arg)
{
	struct alloc_probe *p = arg;
	static uint32_t events[5000];
	static uint64_t data[5000];
	/* A fresh thread: its first large wait grows its buffer, once. */
	long c0 = malloc_calls;
	p->total = eps_epoll_wait(p->epfd, events, data, 5000, 0);
	long c1 = malloc_calls;
	for (int i = 0; i < 1000; i++) {
		p->total += eps_epoll_wait(p->epfd, events, data, 5000, 0);
		p->total += eps_epoll_wait(p->epfd, events, data, 4999, 0);
		p->total += eps_epoll_wait(p->epfd, events, data, 4, 0);
	}
	long c2 = malloc_calls;
	p->first_wait_mallocs = c1 - c0;
	p->steady_mallocs = c2 - c1;
	return NULL;
}

START_TEST(waits_allocate_nothing_in_steady_state)
{
	struct alloc_probe p = {.epfd = new_epoll()};
	int32_t efd = eps_eventfd_create(1, EPS_EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(eps_epoll_ctl(p.epfd, EPS_EPOLL_CTL_ADD, efd, EPS_EPOLLIN, 1), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, probe_allocations, &p), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(p.total, 3001);
	ck_assert_int_eq(p.first_wait_mallocs, 1); /* the counter does see the library */
	ck_assert_int_eq(p.steady_mallocs, 0);
	ck_assert_int_eq(eps_close(efd), 0);
	ck_assert_int_eq(eps_epoll_close(p.epfd), 0);
}
END_TEST

/* --- errors ------------------------------------------------------------- */

START_TEST(ctl_errors)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	/* Bad epfd: not open, negative, or not an epoll instance. */
	int32_t gone = new_epoll();
	ck_assert_int_eq(eps_epoll_close(gone), 0);
	ck_assert_code(eps_epoll_ctl(gone, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), EPS_EBADF);
	ck_assert_code(eps_epoll_ctl(-1, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), EPS_EBADF);
	ck_assert_code(eps_epoll_ctl(INT32_MIN, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0),
		       EPS_EBADF);
	ck_assert_code(eps_epoll_ctl(p[1], EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), EPS_EINVAL);
	/* Bad fd: closed, negative. */
	int q[2];
	test_pipe(q);
	close_pair(q);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, q[0], EPS_EPOLLIN, 0), EPS_EBADF);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, -1, EPS_EPOLLIN, 0), EPS_EBADF);
	/* Bad op. */
	const int32_t ops[] = {0, 4, -1, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		ck_assert_code(eps_epoll_ctl(epfd, ops[i], p[0], EPS_EPOLLIN, 0), EPS_EINVAL);
	/* Registration state. */
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_DEL, p[0], 0, 0), EPS_ENOENT);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_MOD, p[0], EPS_EPOLLIN, 0), EPS_ENOENT);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), 0);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), EPS_EEXIST);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_DEL, p[0], 0, 0), 0);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_DEL, p[0], 0, 0), EPS_ENOENT);
	/* An instance cannot watch itself; nor a directory (no poll). */
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, epfd, EPS_EPOLLIN, 0), EPS_EINVAL);
	int dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dir, 0);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, dir, EPS_EPOLLIN, 0), EPS_EPERM);
	ck_assert_int_eq(close(dir), 0);
	/* Two instances watching each other make a loop. */
	int other = new_epoll();
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, other, EPS_EPOLLIN, 0), 0);
	ck_assert_code(eps_epoll_ctl(other, EPS_EPOLL_CTL_ADD, epfd, EPS_EPOLLIN, 0), EPS_ELOOP);
	ck_assert_int_eq(eps_epoll_close(other), 0);
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(wait_errors)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	uint32_t events[4] = {0};
	uint64_t data[4] = {0};
	const int32_t bad_max[] = {0, -1, EPS_EPOLL_MAX_EVENTS + 1, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++)
		ck_assert_code(eps_epoll_wait(epfd, events, data, bad_max[i], 0), EPS_EINVAL);
	ck_assert_code(eps_epoll_wait(epfd, events, data, 4, -2), EPS_EINVAL);
	ck_assert_code(eps_epoll_wait(epfd, events, data, 4, INT32_MIN), EPS_EINVAL);
	ck_assert_code(eps_epoll_wait(epfd, NULL, data, 4, 0), EPS_EFAULT);
	ck_assert_code(eps_epoll_wait(epfd, events, NULL, 4, 0), EPS_EFAULT);
	ck_assert_code(eps_epoll_wait(epfd, NULL, NULL, 4, 0), EPS_EFAULT);
	ck_assert_code(eps_epoll_wait(-1, events, data, 4, 0), EPS_EBADF);
	ck_assert_code(eps_epoll_wait(p[0], events, data, 4, 0), EPS_EINVAL);
	int32_t gone = new_epoll();
	ck_assert_int_eq(eps_epoll_close(gone), 0);
	ck_assert_code(eps_epoll_wait(gone, events, data, 4, 0), EPS_EBADF);
	/* The limit itself is fine. */
	ck_assert_int_eq(eps_epoll_wait(epfd, events, data, 1, 0), 0);
	for (int i = 0; i < 4; i++) { /* nothing written by any failure */
		ck_assert_uint_eq(events[i], 0);
		ck_assert_uint_eq(data[i], 0);
	}
	close_pair(p);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(closing_a_watched_fd_unregisters_it)
{
	int epfd = new_epoll(), p[2];
	test_pipe(p);
	put_byte(p[1]);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, p[0], EPS_EPOLLIN, 0), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 1);
	close_pair(p);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	ck_assert_code(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_DEL, p[0], 0, 0), EPS_EBADF);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

/* --- signals ------------------------------------------------------------ */

struct blocked_waiter {
	int epfd;
	int timeout_ms;
	_Atomic int started;
	_Atomic int done;
	int32_t result;
};

static void *blocked_wait(void *arg)
{
	struct blocked_waiter *w = arg;
	uint32_t events[4];
	uint64_t data[4];
	atomic_store(&w->started, 1);
	w->result = eps_epoll_wait(w->epfd, events, data, 4, w->timeout_ms);
	atomic_store(&w->done, 1);
	return NULL;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

/* Interrupt a thread blocked in a wait; the wait's result. */
static int32_t interrupted_wait(int timeout_ms, int sa_flags)
{
	struct sigaction sa = {.sa_handler = ignore_signal, .sa_flags = sa_flags}, old;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	struct blocked_waiter w = {.epfd = new_epoll(), .timeout_ms = timeout_ms};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, blocked_wait, &w), 0);
	for (int i = 0; i < 100000 && !atomic_load(&w.started); i++)
		sched_yield();
	/* A signal that lands before the thread is inside epoll_wait is lost
	 * to the handler: keep signalling until the wait returns. */
	for (int i = 0; i < 1000 && !atomic_load(&w.done); i++) {
		ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
		sleep_ms(5);
	}
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	ck_assert_int_eq(eps_epoll_close(w.epfd), 0);
	return w.result;
}

START_TEST(signal_interrupts_wait_with_eintr)
{
	ck_assert_code(interrupted_wait(-1, 0), EPS_EINTR);
	ck_assert_code(interrupted_wait(60000, 0), EPS_EINTR);
}
END_TEST

START_TEST(wait_is_not_restarted_even_with_sa_restart)
{
	/* epoll_wait(2) is never restarted after a handler (signal(7)). */
	ck_assert_code(interrupted_wait(-1, SA_RESTART), EPS_EINTR);
}
END_TEST

/* --- timeouts ----------------------------------------------------------- */

START_TEST(zero_timeout_returns_at_once)
{
	int epfd = new_epoll();
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(positive_timeout_is_not_cut_short)
{
	int epfd = new_epoll();
	const int timeouts[] = {1, 20, 50};
	for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
		int64_t t0 = now_ns();
		ck_assert_int_eq(wait8(epfd, timeouts[i], NULL, NULL), 0);
		ck_assert_int_ge(now_ns() - t0, (int64_t)timeouts[i] * 1000000);
	}
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

/* --- eventfd ------------------------------------------------------------ */

START_TEST(eventfd_counts_and_resets)
{
	int32_t efd = eps_eventfd_create(5, EPS_EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(fcntl(efd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(eps_fd_nonblocking_p(efd), 1);
	ck_assert_int_eq(eps__fd_kind(efd), EPS__FD_EVENTFD);
	uint64_t v = 0;
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_uint_eq(v, 5);
	ck_assert_int_eq(eps_eventfd_write(efd, 3), 0);
	ck_assert_int_eq(eps_eventfd_write(efd, (uint64_t)1 << 40), 0);
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_uint_eq(v, ((uint64_t)1 << 40) + 3);
	v = 77;
	ck_assert_code(eps_eventfd_read(efd, &v), EPS_EAGAIN);
	ck_assert_uint_eq(v, 77); /* not written on failure */
	/* The largest count, then one more would overflow. */
	ck_assert_int_eq(eps_eventfd_write(efd, UINT64_MAX - 1), 0);
	ck_assert_code(eps_eventfd_write(efd, 1), EPS_EAGAIN);
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX - 1);
	ck_assert_int_eq(eps_close(efd), 0);
}
END_TEST

START_TEST(eventfd_semaphore_reads_one_at_a_time)
{
	int32_t efd = eps_eventfd_create(3, EPS_EFD_SEMAPHORE | EPS_EFD_NONBLOCK | EPS_EFD_CLOEXEC);
	ck_assert_int_ge(efd, 0);
	uint64_t v;
	for (int i = 0; i < 3; i++) {
		v = 0;
		ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
		ck_assert_uint_eq(v, 1);
	}
	ck_assert_code(eps_eventfd_read(efd, &v), EPS_EAGAIN);
	ck_assert_int_eq(eps_close(efd), 0);
}
END_TEST

START_TEST(eventfd_level_triggered_until_read)
{
	int epfd = new_epoll();
	int32_t efd = eps_eventfd_create(0, EPS_EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, efd, EPS_EPOLLIN, 3), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	ck_assert_int_eq(eps_eventfd_write(efd, 1), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 1);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 1);
	uint64_t v;
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	/* Writing 0 changes nothing and wakes nobody. */
	ck_assert_int_eq(eps_eventfd_write(efd, 0), 0);
	ck_assert_int_eq(wait8(epfd, 0, NULL, NULL), 0);
	ck_assert_int_eq(eps_close(efd), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

struct wake_waiter {
	int epfd;
	int32_t result;
	uint64_t data;
};

static void *wake_wait(void *arg)
{
	struct wake_waiter *w = arg;
	w->result = wait8(w->epfd, -1, NULL, &w->data);
	return NULL;
}

START_TEST(eventfd_wakes_wait_in_another_thread)
{
	struct wake_waiter w = {.epfd = new_epoll()};
	int32_t efd = eps_eventfd_create(0, 0);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(efd), 0);
	ck_assert_int_eq(
	    eps_epoll_ctl(w.epfd, EPS_EPOLL_CTL_ADD, efd, EPS_EPOLLIN, 0xfeedface00000001ULL), 0);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, wake_wait, &w), 0);
	ck_assert_int_eq(eps_eventfd_write(efd, 1), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(w.result, 1);
	ck_assert_uint_eq(w.data, 0xfeedface00000001ULL);
	uint64_t v;
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0); /* blocking, but non-zero */
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(eps_close(efd), 0);
	ck_assert_int_eq(eps_epoll_close(w.epfd), 0);
}
END_TEST

START_TEST(eventfd_errors)
{
	const int32_t bad_flags[] = {0x2, -1, INT32_MIN, O_RDWR, 0x80000 << 1};
	for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++)
		ck_assert_code(eps_eventfd_create(0, bad_flags[i]), EPS_EINVAL);
	int32_t efd = eps_eventfd_create(UINT32_MAX, EPS_EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	int32_t tfd = eps_timerfd_create(EPS_CLOCK_MONOTONIC, EPS_TFD_NONBLOCK);
	ck_assert_int_ge(tfd, 0);
	int p[2];
	test_pipe(p);
	ck_assert_int_eq(eps__fd_register(p[0], 1), p[0]);
	ck_assert_int_eq(eps__fd_register(p[1], 1), p[1]);
	ck_assert_int_eq(write(p[1], "12345678", 8), 8);
	uint64_t v = 99;
	/* Not an eventfd of the library: foreign, negative, the wrong kind. */
	ck_assert_code(eps_eventfd_write(0, 1), EPS_EBADF);
	ck_assert_code(eps_eventfd_read(0, &v), EPS_EBADF);
	ck_assert_code(eps_eventfd_write(-1, 1), EPS_EBADF);
	ck_assert_code(eps_eventfd_read(-1, &v), EPS_EBADF);
	ck_assert_code(eps_eventfd_write(tfd, 1), EPS_EINVAL);
	ck_assert_code(eps_eventfd_read(tfd, &v), EPS_EINVAL);
	ck_assert_code(eps_eventfd_read(p[0], &v), EPS_EINVAL); /* 8 bytes there */
	ck_assert_code(eps_eventfd_write(p[1], 1), EPS_EINVAL);
	ck_assert_uint_eq(v, 99);
	/* Bad arguments. */
	ck_assert_code(eps_eventfd_write(efd, UINT64_MAX), EPS_EINVAL);
	ck_assert_code(eps_eventfd_read(efd, NULL), EPS_EFAULT);
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(eps_close(efd), 0);
	ck_assert_code(eps_eventfd_write(efd, 1), EPS_EBADF);
	ck_assert_code(eps_eventfd_read(efd, &v), EPS_EBADF);
	ck_assert_int_eq(eps_close(tfd), 0);
	ck_assert_int_eq(eps_close(p[0]), 0);
	ck_assert_int_eq(eps_close(p[1]), 0);
}
END_TEST

/* --- timerfd ------------------------------------------------------------ */

START_TEST(timerfd_one_shot_fires_once)
{
	int epfd = new_epoll();
	int32_t tfd = eps_timerfd_create(EPS_CLOCK_MONOTONIC, EPS_TFD_NONBLOCK);
	ck_assert_int_ge(tfd, 0);
	ck_assert_int_eq(fcntl(tfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(eps__fd_kind(tfd), EPS__FD_TIMERFD);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, tfd, EPS_EPOLLIN, 11), 0);
	uint64_t v = 0;
	ck_assert_code(eps_timerfd_read(tfd, &v), EPS_EAGAIN); /* starts disarmed */
	int64_t t0 = now_ns();
	ck_assert_int_eq(eps_timerfd_arm(tfd, 5000000, 0), 0);
	uint32_t ev = 0;
	uint64_t data = 0;
	ck_assert_int_eq(wait8(epfd, 10000, &ev, &data), 1);
	ck_assert_int_ge(now_ns() - t0, 5000000);
	ck_assert_uint_eq(ev, EPS_EPOLLIN);
	ck_assert_uint_eq(data, 11);
	ck_assert_int_eq(eps_timerfd_read(tfd, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_code(eps_timerfd_read(tfd, &v), EPS_EAGAIN);
	ck_assert_int_eq(wait8(epfd, 30, NULL, NULL), 0); /* never again */
	ck_assert_int_eq(eps_close(tfd), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(timerfd_periodic_fires_repeatedly)
{
	int epfd = new_epoll();
	int32_t tfd = eps_timerfd_create(EPS_CLOCK_MONOTONIC, EPS_TFD_NONBLOCK | EPS_TFD_CLOEXEC);
	ck_assert_int_ge(tfd, 0);
	ck_assert_int_eq(eps_epoll_ctl(epfd, EPS_EPOLL_CTL_ADD, tfd, EPS_EPOLLIN, 0), 0);
	ck_assert_int_eq(eps_timerfd_arm(tfd, 1000000, 1000000), 0);
	uint64_t v, total = 0;
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(wait8(epfd, 10000, NULL, NULL), 1);
		ck_assert_int_eq(eps_timerfd_read(tfd, &v), 0);
		ck_assert_uint_ge(v, 1);
		total += v;
	}
	ck_assert_uint_ge(total, 5);
	/* Unread expirations add up: 20 ms of a 1 ms period is more than 1. */
	sleep_ms(20);
	ck_assert_int_eq(eps_timerfd_read(tfd, &v), 0);
	ck_assert_uint_ge(v, 2);
	/* Disarming discards what was not read, and nothing comes after. */
	sleep_ms(3);
	ck_assert_int_eq(eps_timerfd_arm(tfd, 0, 1000000), 0);
	ck_assert_code(eps_timerfd_read(tfd, &v), EPS_EAGAIN);
	ck_assert_int_eq(wait8(epfd, 20, NULL, NULL), 0);
	ck_assert_int_eq(eps_close(tfd), 0);
	ck_assert_int_eq(eps_epoll_close(epfd), 0);
}
END_TEST

START_TEST(timerfd_blocking_read_waits_for_expiry)
{
	const int32_t clocks[] = {EPS_CLOCK_MONOTONIC, EPS_CLOCK_REALTIME, EPS_CLOCK_BOOTTIME};
	for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		int32_t tfd = eps_timerfd_create(clocks[i], 0);
		ck_assert_int_ge(tfd, 0);
		ck_assert_int_eq(eps_fd_nonblocking_p(tfd), 0);
		int64_t t0 = now_ns();
		ck_assert_int_eq(eps_timerfd_arm(tfd, 2000000, 0), 0);
		uint64_t v = 0;
		ck_assert_int_eq(eps_timerfd_read(tfd, &v), 0);
		ck_assert_uint_eq(v, 1);
		ck_assert_int_ge(now_ns() - t0, 2000000);
		ck_assert_int_eq(eps_close(tfd), 0);
	}
}
END_TEST

START_TEST(timerfd_errors)
{
	const int32_t bad_clocks[] = {-1, 2, 3, 4, 8, 9, 11, 100, INT32_MIN};
	for (size_t i = 0; i < sizeof bad_clocks / sizeof bad_clocks[0]; i++)
		ck_assert_code(eps_timerfd_create(bad_clocks[i], 0), EPS_EINVAL);
	const int32_t bad_flags[] = {0x1, 0x2, -1, INT32_MIN, EPS_EFD_SEMAPHORE | EPS_TFD_NONBLOCK};
	for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++)
		ck_assert_code(eps_timerfd_create(EPS_CLOCK_MONOTONIC, bad_flags[i]), EPS_EINVAL);
	int32_t tfd = eps_timerfd_create(EPS_CLOCK_MONOTONIC, EPS_TFD_NONBLOCK);
	ck_assert_int_ge(tfd, 0);
	int32_t efd = eps_eventfd_create(8, EPS_EFD_NONBLOCK);
	ck_assert_int_ge(efd, 0);
	/* Negative times. */
	ck_assert_code(eps_timerfd_arm(tfd, -1, 0), EPS_EINVAL);
	ck_assert_code(eps_timerfd_arm(tfd, 1000000, -1), EPS_EINVAL);
	ck_assert_code(eps_timerfd_arm(tfd, INT64_MIN, INT64_MIN), EPS_EINVAL);
	ck_assert_code(eps_timerfd_arm(tfd, 0, -1), EPS_EINVAL);
	/* The largest times are accepted (and never reached). */
	ck_assert_int_eq(eps_timerfd_arm(tfd, INT64_MAX, INT64_MAX), 0);
	uint64_t v = 55;
	ck_assert_code(eps_timerfd_read(tfd, &v), EPS_EAGAIN);
	/* Not a timerfd of the library. */
	ck_assert_code(eps_timerfd_arm(0, 1, 0), EPS_EBADF);
	ck_assert_code(eps_timerfd_read(0, &v), EPS_EBADF);
	ck_assert_code(eps_timerfd_arm(-1, 1, 0), EPS_EBADF);
	ck_assert_code(eps_timerfd_read(-1, &v), EPS_EBADF);
	ck_assert_code(eps_timerfd_arm(efd, 1, 0), EPS_EINVAL);
	ck_assert_code(eps_timerfd_read(efd, &v), EPS_EINVAL); /* count 8 left alone */
	ck_assert_uint_eq(v, 55);
	ck_assert_code(eps_timerfd_read(tfd, NULL), EPS_EFAULT);
	ck_assert_int_eq(eps_eventfd_read(efd, &v), 0);
	ck_assert_uint_eq(v, 8);
	ck_assert_int_eq(eps_close(tfd), 0);
	ck_assert_code(eps_timerfd_arm(tfd, 1, 0), EPS_EBADF);
	ck_assert_code(eps_timerfd_read(tfd, &v), EPS_EBADF);
	ck_assert_int_eq(eps_close(efd), 0);
}
END_TEST

/* --- the descriptor table's kinds --------------------------------------- */

START_TEST(kinds_survive_mode_changes)
{
	int32_t efd = eps_eventfd_create(0, 0);
	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(eps_fd_set_nonblocking(efd, 1), 0);
	ck_assert_int_eq(eps__fd_kind(efd), EPS__FD_EVENTFD);
	uint64_t v;
	ck_assert_code(eps_eventfd_read(efd, &v), EPS_EAGAIN); /* now non-blocking */
	ck_assert_int_eq(eps_fd_set_nonblocking(efd, 0), 0);
	ck_assert_int_eq(eps__fd_kind(efd), EPS__FD_EVENTFD);
	ck_assert_int_eq(eps_fd_nonblocking_p(efd), 0);
	ck_assert_int_eq(eps_close(efd), 0);
	ck_assert_code(eps__fd_kind(efd), EPS_EBADF);
	int p[2];
	test_pipe(p);
	ck_assert_int_eq(eps__fd_register(p[0], 1), p[0]);
	ck_assert_int_eq(eps__fd_kind(p[0]), EPS__FD_OTHER);
	ck_assert_int_eq(eps_close(p[0]), 0);
	/* An impossible kind is refused, and the descriptor closed. */
	ck_assert_code(eps__fd_register_kind(p[1], 0, EPS__FD_KIND_MAX + 1), EPS_EINVAL);
	ck_assert_int_eq(fcntl(p[1], F_GETFD), -1);
	ck_assert_code(eps__fd_kind(-1), EPS_EBADF);
}
END_TEST

static Suite *epoll_suite(void)
{
	Suite *s = suite_create("epoll");
	struct {
		const char *name;
		const TTest *tests[12];
	} cases[] = {
	    {"create",
	     {create_makes_cloexec_owned_epoll, create_rejects_bad_flags,
	      close_refuses_what_is_not_an_owned_epoll}},
	    {"readiness",
	     {level_triggered_reports_until_drained, edge_triggered_reports_once_per_edge,
	      oneshot_disarms_until_mod, rdhup_on_peer_shutdown, socket_readable_and_writable,
	      exclusive_accepted_on_add_only, data_words_cross_intact,
	      wait_stores_at_most_max_events, closing_a_watched_fd_unregisters_it}},
	    {"scale",
	     {thousand_ready_fds_each_once, threads_wait_with_their_own_buffers,
	      waits_allocate_nothing_in_steady_state}},
	    {"errors", {ctl_errors, wait_errors}},
	    {"signals",
	     {signal_interrupts_wait_with_eintr, wait_is_not_restarted_even_with_sa_restart}},
	    {"timeouts", {zero_timeout_returns_at_once, positive_timeout_is_not_cut_short}},
	    {"eventfd",
	     {eventfd_counts_and_resets, eventfd_semaphore_reads_one_at_a_time,
	      eventfd_level_triggered_until_read, eventfd_wakes_wait_in_another_thread,
	      eventfd_errors}},
	    {"timerfd",
	     {timerfd_one_shot_fires_once, timerfd_periodic_fires_repeatedly,
	      timerfd_blocking_read_waits_for_expiry, timerfd_errors}},
	    {"fdtable", {kinds_survive_mode_changes}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		TCase *tc = tcase_create(cases[i].name);
		tcase_add_checked_fixture(tc, count_fds, same_fds);
		tcase_set_timeout(tc, 60);
		for (size_t j = 0; j < 12 && cases[i].tests[j]; j++)
			tcase_add_test(tc, cases[i].tests[j]);
		suite_add_tcase(s, tc);
	}
	return s;
}

int main(void)
{
	return eps_test_main(epoll_suite());
}
