/* SPDX-License-Identifier: MIT */
/*
 * epsilon/epoll.h - epoll(7) instances, and the eventfds and timerfds that
 * give an event loop wakeups and timers without leaving epoll.
 *
 * Every descriptor made here is a plain int, created close-on-exec and
 * recorded in the library's descriptor table: close it with
 * eps_epoll_close (epoll instances) or eps_close (any of them).
 *
 * The kernel's struct epoll_event (12 bytes, packed on x86-64) never crosses
 * this interface: registration takes the event mask and the 64-bit data word
 * as two integers, and a wait fills two caller-owned parallel arrays.
 */
#ifndef EPSILON_EPOLL_H
#define EPSILON_EPOLL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Event bits of an epoll registration and of a reported event.  EPOLLERR
 * and EPOLLHUP are always reported, asked for or not.  The flag bit 2^31,
 * edge-triggered mode, is the macro EPS_EPOLLET below.
 */
enum eps_epoll_events {
	EPS_EPOLLIN = 0x001,
	EPS_EPOLLPRI = 0x002,
	EPS_EPOLLOUT = 0x004,
	EPS_EPOLLERR = 0x008,
	EPS_EPOLLHUP = 0x010,
	EPS_EPOLLRDNORM = 0x040,
	EPS_EPOLLRDBAND = 0x080,
	EPS_EPOLLWRNORM = 0x100,
	EPS_EPOLLWRBAND = 0x200,
	EPS_EPOLLMSG = 0x400,
	EPS_EPOLLRDHUP = 0x2000,
	EPS_EPOLLEXCLUSIVE = 0x10000000,
	EPS_EPOLLWAKEUP = 0x20000000,
	EPS_EPOLLONESHOT = 0x40000000
};

/** Edge-triggered mode: report a readiness change once, not while it lasts. */
#define EPS_EPOLLET 0x80000000u

/** Operations of eps_epoll_ctl. */
enum eps_epoll_ctl_op {
	EPS_EPOLL_CTL_ADD = 1,
	EPS_EPOLL_CTL_DEL = 2,
	EPS_EPOLL_CTL_MOD = 3
};

/** Flags of eps_epoll_create (close-on-exec is always set anyway). */
enum eps_epoll_create_flags {
	EPS_EPOLL_CLOEXEC = 0x80000
};

/** The largest MAX_EVENTS eps_epoll_wait accepts (2^20). */
enum eps_epoll_limits {
	EPS_EPOLL_MAX_EVENTS = 1048576
};

/** Flags of eps_eventfd_create (close-on-exec is always set anyway). */
enum eps_eventfd_flags {
	EPS_EFD_SEMAPHORE = 0x1,
	EPS_EFD_NONBLOCK = 0x800,
	EPS_EFD_CLOEXEC = 0x80000
};

/** Clocks a timerfd can count on. */
enum eps_clock {
	EPS_CLOCK_REALTIME = 0,
	EPS_CLOCK_MONOTONIC = 1,
	EPS_CLOCK_BOOTTIME = 7
};

/** Flags of eps_timerfd_create (close-on-exec is always set anyway). */
enum eps_timerfd_flags {
	EPS_TFD_NONBLOCK = 0x800,
	EPS_TFD_CLOEXEC = 0x80000
};

/**
 * Create an epoll instance and return its descriptor (>= 0).  FLAGS is 0
 * or EPS_EPOLL_CLOEXEC; the descriptor is close-on-exec either way.
 * Returns -EINVAL for any other FLAGS, -EMFILE or -ENFILE when out of
 * descriptors, -ENOMEM.  Close it with eps_epoll_close.
 */
int32_t eps_epoll_create(int32_t flags);

/**
 * Add, change or remove the registration of FD in the epoll instance EPFD.
 * OP is EPS_EPOLL_CTL_ADD, EPS_EPOLL_CTL_MOD or EPS_EPOLL_CTL_DEL.  EVENTS
 * is the mask of EPS_EPOLL... bits to watch (EPS_EPOLLIN, EPS_EPOLLOUT,
 * EPS_EPOLLET, EPS_EPOLLONESHOT, ...) and DATA is any 64-bit word, handed
 * back unchanged with every event of FD (typically FD itself, or a key).
 * For EPS_EPOLL_CTL_DEL, EVENTS and DATA are ignored.  Modifying a
 * one-shot registration re-arms it.  Returns 0, or: -EINVAL for an unknown
 * OP, an EPFD that is not an epoll instance, FD equal to EPFD, or
 * EPS_EPOLLEXCLUSIVE with EPS_EPOLL_CTL_MOD (or with bits it cannot be
 * combined with); -EBADF when EPFD or FD is not an open descriptor;
 * -EEXIST when adding an FD already registered; -ENOENT when modifying or
 * removing an FD that is not registered; -EPERM when FD cannot be watched
 * (a regular file or directory); -ELOOP for a loop of nested epoll
 * instances; -ENOSPC at the per-user limit of registrations; -ENOMEM.
 */
int32_t eps_epoll_ctl(int32_t epfd, int32_t op, int32_t fd, uint32_t events, uint64_t data);

/**
 * Wait up to TIMEOUT_MS milliseconds (-1: no limit, 0: just look) for
 * events on the epoll instance EPFD and store at most MAX_EVENTS of them
 * in two caller-owned arrays of at least MAX_EVENTS elements each: the
 * ready event bits in EVENTS (uint32 elements) and the registration's data
 * word in DATA (uint64 elements), the event at index I in both.  Returns
 * the number of events stored, 0 on timeout.  A descriptor appears at most
 * once per call.  Elements from the count on are left untouched.
 * Returns -EINTR when a signal handler ran before any event arrived: the
 * call is never restarted here, the caller waits again with the time it
 * has left.  Other failures: -EINVAL when MAX_EVENTS is outside 1..2^20,
 * TIMEOUT_MS is below -1, or EPFD is not an epoll instance; -EFAULT when
 * EVENTS or DATA is NULL; -EBADF when EPFD is not an open descriptor;
 * -ENOMEM when a thread first asks for more than 256 events and the
 * per-thread buffer for them cannot be allocated.  Up to 256 events need
 * no memory but the stack; beyond that the kernel's records go through a
 * buffer per thread, grown to the largest MAX_EVENTS that thread has asked
 * for and freed when the thread exits.
 */
int32_t eps_epoll_wait(int32_t epfd, uint32_t *events, uint64_t *data, int32_t max_events,
		       int32_t timeout_ms);

/**
 * Close EPFD, an epoll instance made by eps_epoll_create.  Registrations
 * die with it; the watched descriptors stay open.  Returns 0, -EBADF when
 * EPFD is not a descriptor the library owns (already closed, or never its
 * own), or -EINVAL when EPFD is one of the library's descriptors but not
 * an epoll instance (close that with eps_close).
 */
int32_t eps_epoll_close(int32_t epfd);

/**
 * Create an eventfd, a 64-bit counter that is readable (EPS_EPOLLIN) while
 * it is not zero: a thread wakes a loop by adding to it with
 * eps_eventfd_write, the loop resets it with eps_eventfd_read.  INITIAL is
 * the starting count.  FLAGS combines EPS_EFD_NONBLOCK (reads of a zero
 * counter fail with -EAGAIN instead of blocking), EPS_EFD_SEMAPHORE (each
 * read takes 1 from the counter instead of all of it) and EPS_EFD_CLOEXEC
 * (always on).  Returns the descriptor (>= 0), -EINVAL for unknown FLAGS,
 * -EMFILE or -ENFILE when out of descriptors, -ENOMEM.  Close it with
 * eps_close.
 */
int32_t eps_eventfd_create(uint32_t initial, int32_t flags);

/**
 * Add VALUE to the counter of FD, an eventfd made by eps_eventfd_create,
 * waking whoever waits for it to become readable.  Returns 0, or:
 * -EINVAL when VALUE is 2^64-1 or FD is one of the library's descriptors
 * but not an eventfd; -EBADF when FD is not a descriptor the library owns;
 * -EAGAIN when the counter would exceed 2^64-2 and FD is non-blocking (a
 * blocking FD waits for a read instead, and then -EINTR is possible).
 */
int32_t eps_eventfd_write(int32_t fd, uint64_t value);

/**
 * Read the counter of FD, an eventfd made by eps_eventfd_create, into
 * *VALUE and reset it to zero (with EPS_EFD_SEMAPHORE: store 1 and take 1
 * from it).  *VALUE is written only on success.  Returns 0, or: -EAGAIN
 * when the counter is zero and FD is non-blocking (a blocking FD waits,
 * and then -EINTR is possible); -EFAULT when VALUE is NULL; -EINVAL when
 * FD is one of the library's descriptors but not an eventfd; -EBADF when
 * FD is not a descriptor the library owns.
 */
int32_t eps_eventfd_read(int32_t fd, uint64_t *value);

/**
 * Create a timerfd, a timer that counts expirations and is readable
 * (EPS_EPOLLIN) once it has expired at least once since the last read.
 * CLOCK is EPS_CLOCK_MONOTONIC (unaffected by changes of the date; the
 * usual choice), EPS_CLOCK_REALTIME or EPS_CLOCK_BOOTTIME (counts time
 * suspended too).  FLAGS combines EPS_TFD_NONBLOCK (reads before an
 * expiration fail with -EAGAIN instead of blocking) and EPS_TFD_CLOEXEC
 * (always on).  The timer starts disarmed: arm it with eps_timerfd_arm.
 * Returns the descriptor (>= 0), -EINVAL for an unknown CLOCK or FLAGS,
 * -EMFILE or -ENFILE when out of descriptors, -ENOMEM.  Close it with
 * eps_close.
 */
int32_t eps_timerfd_create(int32_t clock, int32_t flags);

/**
 * Arm FD, a timerfd made by eps_timerfd_create, to expire INITIAL_NS
 * nanoseconds from now and then, if INTERVAL_NS is not 0, every
 * INTERVAL_NS nanoseconds after that (0: once).  INITIAL_NS 0 disarms the
 * timer, whatever INTERVAL_NS says.  Arming (or disarming) replaces any
 * earlier setting and discards expirations not yet read.  Returns 0, or:
 * -EINVAL when INITIAL_NS or INTERVAL_NS is negative, or FD is one of the
 * library's descriptors but not a timerfd; -EBADF when FD is not a
 * descriptor the library owns.
 */
int32_t eps_timerfd_arm(int32_t fd, int64_t initial_ns, int64_t interval_ns);

/**
 * Read into *EXPIRATIONS how many times FD, a timerfd made by
 * eps_timerfd_create, has expired since it was armed or last read (at
 * least 1), and reset that count.  *EXPIRATIONS is written only on
 * success.  Returns 0, or: -EAGAIN when it has not expired and FD is
 * non-blocking (a blocking FD waits, forever if it is disarmed, and then
 * -EINTR is possible); -EFAULT when EXPIRATIONS is NULL; -EINVAL when FD
 * is one of the library's descriptors but not a timerfd; -EBADF when FD is
 * not a descriptor the library owns.
 */
int32_t eps_timerfd_read(int32_t fd, uint64_t *expirations);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_EPOLL_H */
