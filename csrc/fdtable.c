/* SPDX-License-Identifier: MIT */
/*
 * fdtable.c - the descriptors the library owns, and their blocking mode.
 *
 * One state byte per descriptor number, in chunks that are allocated on
 * first use and never moved, so readers take no lock.  Ownership is given
 * up with an atomic exchange before close(2): of two threads closing the
 * same descriptor only one closes it, and a number the kernel hands out
 * again after close is registered afresh by whoever created it.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

_Static_assert(EPS_POLLIN == POLLIN && EPS_POLLPRI == POLLPRI && EPS_POLLOUT == POLLOUT &&
		       EPS_POLLERR == POLLERR && EPS_POLLHUP == POLLHUP && EPS_POLLNVAL == POLLNVAL &&
		       EPS_POLLRDHUP == POLLRDHUP,
	       "poll bits differ from <poll.h>");

#define CHUNK_BITS 12
#define CHUNK_FDS (1 << CHUNK_BITS)
#define MAX_FDS (1 << 22)
#define CHUNKS (MAX_FDS / CHUNK_FDS)

enum { FD_NONE = 0, FD_OWNED = 1, FD_NONBLOCK = 2, FD_KIND_SHIFT = 2, FD_KIND_MASK = 0x1c };

_Static_assert((EPS__FD_KIND_MAX << FD_KIND_SHIFT) == FD_KIND_MASK, "kind bits");

static _Atomic(_Atomic uint8_t *) chunks[CHUNKS];
static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t open_count;

static _Atomic uint8_t *cell(int fd, int create)
{
	if (fd < 0 || fd >= MAX_FDS)
		return NULL;
	_Atomic(_Atomic uint8_t *) *slot = &chunks[fd >> CHUNK_BITS];
	_Atomic uint8_t *chunk = atomic_load_explicit(slot, memory_order_acquire);
	if (chunk == NULL && create) {
		pthread_mutex_lock(&grow_lock);
		chunk = atomic_load_explicit(slot, memory_order_acquire);
		if (chunk == NULL) {
			chunk = calloc(CHUNK_FDS, sizeof *chunk);
			atomic_store_explicit(slot, chunk, memory_order_release);
		}
		pthread_mutex_unlock(&grow_lock);
	}
	return chunk ? &chunk[fd & (CHUNK_FDS - 1)] : NULL;
}

int eps__fd_register(int fd, int nonblocking)
{
	return eps__fd_register_kind(fd, nonblocking, EPS__FD_OTHER);
}

int eps__fd_register_kind(int fd, int nonblocking, int kind)
{
	_Atomic uint8_t *c = cell(fd, 1);
	if (c == NULL || kind < 0 || kind > EPS__FD_KIND_MAX) {
		/* Out of memory or an absurd descriptor: do not leak it. */
		(void)close(fd);
		return eps__fail(c == NULL ? EPS_ENOMEM : EPS_EINVAL);
	}
	atomic_store_explicit(c,
			      (uint8_t)(FD_OWNED | (nonblocking ? FD_NONBLOCK : 0) |
					(kind << FD_KIND_SHIFT)),
			      memory_order_release);
	atomic_fetch_add_explicit(&open_count, 1, memory_order_relaxed);
	return fd;
}

int eps__fd_state(int fd)
{
	_Atomic uint8_t *c = cell(fd, 0);
	uint8_t s = c ? atomic_load_explicit(c, memory_order_acquire) : FD_NONE;
	if (!(s & FD_OWNED))
		return eps__fail(EPS_EBADF);
	return (s & FD_NONBLOCK) ? 1 : 0;
}

int eps__fd_kind(int fd)
{
	_Atomic uint8_t *c = cell(fd, 0);
	uint8_t s = c ? atomic_load_explicit(c, memory_order_acquire) : FD_NONE;
	if (!(s & FD_OWNED))
		return eps__fail(EPS_EBADF);
	return (s & FD_KIND_MASK) >> FD_KIND_SHIFT;
}

EPS_EXPORT int32_t eps_close(int32_t fd)
{
	_Atomic uint8_t *c = cell(fd, 0);
	if (c == NULL || !(atomic_exchange_explicit(c, FD_NONE, memory_order_acq_rel) & FD_OWNED))
		return eps__fail(EPS_EBADF);
	atomic_fetch_sub_explicit(&open_count, 1, memory_order_relaxed);
	/* On Linux the descriptor is gone even when close reports EINTR. */
	if (close(fd) < 0 && errno != EINTR)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_fd_set_nonblocking(int32_t fd, int32_t on)
{
	_Atomic uint8_t *c = cell(fd, 0);
	if (c == NULL || !(atomic_load_explicit(c, memory_order_acquire) & FD_OWNED))
		return eps__fail(EPS_EBADF);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return EPS_ERRNO();
	int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
	if (want != flags && fcntl(fd, F_SETFL, want) < 0)
		return EPS_ERRNO();
	if (on)
		atomic_fetch_or_explicit(c, FD_NONBLOCK, memory_order_acq_rel);
	else
		atomic_fetch_and_explicit(c, (uint8_t)~FD_NONBLOCK, memory_order_acq_rel);
	return 0;
}

EPS_EXPORT int32_t eps_fd_nonblocking_p(int32_t fd)
{
	return eps__fd_state(fd);
}

EPS_EXPORT int32_t eps_fd_poll(int32_t fd, int32_t events, int32_t timeout_ms)
{
	if (fd < 0)
		return eps__fail(EPS_EBADF);
	if (timeout_ms < -1)
		return eps__fail(EPS_EINVAL);
	struct pollfd p = {.fd = fd, .events = (short)events};
	int n = poll(&p, 1, timeout_ms);
	if (n < 0)
		return EPS_ERRNO();
	if (n == 0)
		return 0;
	if (p.revents & POLLNVAL)
		return eps__fail(EPS_EBADF);
	return p.revents;
}

EPS_EXPORT int64_t eps_fds_open(void)
{
	return atomic_load_explicit(&open_count, memory_order_relaxed);
}
