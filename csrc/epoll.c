/* SPDX-License-Identifier: MIT */
/*
 * epoll.c - epoll instances: create, register, wait, close.
 *
 * The kernel's struct epoll_event is packed (12 bytes) on x86-64, so it stays
 * in here: a wait reads the kernel's records into a buffer of ours and copies
 * them out into the caller's two parallel arrays.  Small waits use the stack;
 * large ones a buffer per thread, grown once to the largest size that thread
 * has asked for, so no wait allocates on a steady-state path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "internal.h"

/* Our numbers are literals in the public header; here they meet the kernel's. */
#define SAME(ours, system) \
	_Static_assert((long long)(ours) == (long long)(system), #ours " differs from " #system)
SAME(EPS_EPOLLIN, EPOLLIN);
SAME(EPS_EPOLLPRI, EPOLLPRI);
SAME(EPS_EPOLLOUT, EPOLLOUT);
SAME(EPS_EPOLLERR, EPOLLERR);
SAME(EPS_EPOLLHUP, EPOLLHUP);
SAME(EPS_EPOLLRDNORM, EPOLLRDNORM);
SAME(EPS_EPOLLRDBAND, EPOLLRDBAND);
SAME(EPS_EPOLLWRNORM, EPOLLWRNORM);
SAME(EPS_EPOLLWRBAND, EPOLLWRBAND);
SAME(EPS_EPOLLMSG, EPOLLMSG);
SAME(EPS_EPOLLRDHUP, EPOLLRDHUP);
SAME(EPS_EPOLLEXCLUSIVE, EPOLLEXCLUSIVE);
SAME(EPS_EPOLLWAKEUP, EPOLLWAKEUP);
SAME(EPS_EPOLLONESHOT, EPOLLONESHOT);
SAME(EPS_EPOLLET, (uint32_t)EPOLLET);
SAME(EPS_EPOLL_CTL_ADD, EPOLL_CTL_ADD);
SAME(EPS_EPOLL_CTL_DEL, EPOLL_CTL_DEL);
SAME(EPS_EPOLL_CTL_MOD, EPOLL_CTL_MOD);
SAME(EPS_EPOLL_CLOEXEC, EPOLL_CLOEXEC);
_Static_assert(EPS_EPOLL_MAX_EVENTS == (1 << 20), "the documented bound is 2^20");
/* The buffer per thread tops out at 12 MiB; its size never overflows. */
_Static_assert((uint64_t)EPS_EPOLL_MAX_EVENTS * sizeof(struct epoll_event) < INT32_MAX,
	       "buffer size");

/* Events read straight onto the stack: 3 KiB, safe on any thread's stack. */
#define STACK_EVENTS 256

static __thread struct epoll_event *tl_events;
static __thread uint32_t tl_capacity;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t buffer_key;
static int key_ready;

/* Runs at thread exit, in that thread, so the thread-local view is reset too. */
static void free_thread_buffer(void *buffer)
{
	if (tl_events == buffer) {
		tl_events = NULL;
		tl_capacity = 0;
	}
	free(buffer);
}

static void make_key(void)
{
	key_ready = pthread_key_create(&buffer_key, free_thread_buffer) == 0;
}

/* The calling thread's buffer, with room for at least N records, or NULL. */
static struct epoll_event *thread_buffer(uint32_t n)
{
	if (n <= tl_capacity)
		return tl_events;
	(void)pthread_once(&key_once, make_key);
	if (!key_ready)
		return NULL;
	uint32_t capacity = tl_capacity ? tl_capacity : 1024;
	while (capacity < n)
		capacity *= 2;
	/* The old records are never needed again: no realloc copy. */
	struct epoll_event *buffer = malloc((size_t)capacity * sizeof *buffer);
	if (buffer == NULL)
		return NULL;
	if (pthread_setspecific(buffer_key, buffer) != 0) {
		free(buffer);
		return NULL;
	}
	free(tl_events);
	tl_events = buffer;
	tl_capacity = capacity;
	return buffer;
}

EPS_EXPORT int32_t eps_epoll_create(int32_t flags)
{
	EPS_ENSURE(flags == 0 || flags == EPS_EPOLL_CLOEXEC, EPS_EINVAL);
	int fd = epoll_create1(EPOLL_CLOEXEC);
	if (fd < 0)
		return EPS_ERRNO();
	return eps__fd_register_kind(fd, 0, EPS__FD_EPOLL);
}

EPS_EXPORT int32_t eps_epoll_ctl(int32_t epfd, int32_t op, int32_t fd, uint32_t events,
				 uint64_t data)
{
	EPS_ENSURE(op == EPS_EPOLL_CTL_ADD || op == EPS_EPOLL_CTL_MOD || op == EPS_EPOLL_CTL_DEL,
		   EPS_EINVAL);
	EPS_ENSURE(epfd >= 0 && fd >= 0, EPS_EBADF);
	struct epoll_event ev = {.events = events, .data.u64 = data};
	if (epoll_ctl(epfd, op, fd, &ev) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_epoll_wait(int32_t epfd, uint32_t *events, uint64_t *data,
				  int32_t max_events, int32_t timeout_ms)
{
	EPS_ENSURE(max_events >= 1 && max_events <= EPS_EPOLL_MAX_EVENTS, EPS_EINVAL);
	EPS_ENSURE(timeout_ms >= -1, EPS_EINVAL);
	EPS_ENSURE(events != NULL && data != NULL, EPS_EFAULT);
	EPS_ENSURE(epfd >= 0, EPS_EBADF);
	struct epoll_event stack[STACK_EVENTS];
	struct epoll_event *records = stack;
	if (max_events > STACK_EVENTS) {
		records = thread_buffer((uint32_t)max_events);
		if (records == NULL)
			return eps__fail(EPS_ENOMEM);
	}
	/* EINTR goes back to the caller, who knows how much time is left. */
	int n = epoll_wait(epfd, records, max_events, timeout_ms);
	if (n < 0)
		return EPS_ERRNO();
	for (int i = 0; i < n; i++) {
		events[i] = records[i].events;
		data[i] = records[i].data.u64;
	}
	return n;
}

EPS_EXPORT int32_t eps_epoll_close(int32_t epfd)
{
	int kind = eps__fd_kind(epfd);
	if (kind < 0)
		return kind;
	EPS_ENSURE(kind == EPS__FD_EPOLL, EPS_EINVAL);
	return eps_close(epfd);
}
