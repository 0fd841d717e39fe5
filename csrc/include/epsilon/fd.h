/* SPDX-License-Identifier: MIT */
/*
 * epsilon/fd.h - file descriptors the library created: closing them, their
 * blocking mode, and waiting on one of them.
 *
 * Sockets, epoll instances, eventfds and timerfds are plain int file
 * descriptors, always created close-on-exec.  The library remembers which
 * descriptors it created or accepted, and their O_NONBLOCK state, so that it
 * never closes a descriptor it does not own.
 */
#ifndef EPSILON_FD_H
#define EPSILON_FD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** poll(2) event bits, for eps_fd_poll. */
enum eps_poll_events {
	EPS_POLLIN = 0x001,
	EPS_POLLPRI = 0x002,
	EPS_POLLOUT = 0x004,
	EPS_POLLERR = 0x008,
	EPS_POLLHUP = 0x010,
	EPS_POLLNVAL = 0x020,
	EPS_POLLRDHUP = 0x2000
};

/**
 * Close FD, a descriptor this library created or accepted.  Returns 0, or
 * -EBADF when FD is not one of the library's descriptors (stdin, a
 * descriptor opened elsewhere, or one already closed through this call).
 */
int32_t eps_close(int32_t fd);

/**
 * Turn O_NONBLOCK on (ON non-zero) or off for FD, one of the library's
 * descriptors.  Returns 0, or -EBADF for a descriptor the library does not
 * own.
 */
int32_t eps_fd_set_nonblocking(int32_t fd, int32_t on);

/**
 * Return 1 if FD, one of the library's descriptors, is non-blocking, 0 if
 * it blocks, or -EBADF for a descriptor the library does not own.  Answers
 * from the library's own table: no system call.
 */
int32_t eps_fd_nonblocking_p(int32_t fd);

/**
 * Wait up to TIMEOUT_MS milliseconds (-1: no limit, 0: just look) until FD
 * is ready for EVENTS (EPS_POLLIN, EPS_POLLOUT, ...).  Returns the ready
 * events (EPS_POLLERR and EPS_POLLHUP may appear unasked), 0 on timeout,
 * -EINTR when a signal arrived first (the caller retries with the time
 * left), or another negative code.
 */
int32_t eps_fd_poll(int32_t fd, int32_t events, int32_t timeout_ms);

/**
 * Return how many descriptors the library created or accepted and has not
 * closed.  Leak tests compare this before and after a suite.
 */
int64_t eps_fds_open(void);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_FD_H */
