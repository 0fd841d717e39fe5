/* SPDX-License-Identifier: MIT */
/*
 * timers.c - an event loop's wakeups (eventfd) and timers (timerfd).
 *
 * Both are read and written 8 bytes at a time, and read(2) alone cannot tell
 * an eventfd from a pipe that holds 8 bytes: the descriptor table records
 * which kind each descriptor is, and every entry point here checks it.
 */
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Our numbers are literals in the public header; here they meet the kernel's. */
#define SAME(ours, system) \
	_Static_assert((long long)(ours) == (long long)(system), #ours " differs from " #system)
SAME(EPS_EFD_SEMAPHORE, EFD_SEMAPHORE);
SAME(EPS_EFD_NONBLOCK, EFD_NONBLOCK);
SAME(EPS_EFD_CLOEXEC, EFD_CLOEXEC);
SAME(EPS_TFD_NONBLOCK, TFD_NONBLOCK);
SAME(EPS_TFD_CLOEXEC, TFD_CLOEXEC);
SAME(EPS_CLOCK_REALTIME, CLOCK_REALTIME);
SAME(EPS_CLOCK_MONOTONIC, CLOCK_MONOTONIC);
SAME(EPS_CLOCK_BOOTTIME, CLOCK_BOOTTIME);

#define NS_PER_SEC 1000000000LL

/* 0 if FD is an owned descriptor of KIND, else -EBADF or -EINVAL. */
static EPS_MUST_USE int check_kind(int32_t fd, int kind)
{
	int actual = eps__fd_kind(fd);
	if (actual < 0)
		return actual;
	return actual == kind ? 0 : eps__fail(EPS_EINVAL);
}

/* One 8-byte read; the kernel never returns less for these descriptors. */
static EPS_MUST_USE int32_t read_counter(int32_t fd, uint64_t *out)
{
	uint64_t value;
	ssize_t n = read(fd, &value, sizeof value);
	if (n < 0)
		return EPS_ERRNO();
	if (n != (ssize_t)sizeof value)
		return eps__fail(EPS_EIO);
	*out = value;
	return 0;
}

EPS_EXPORT int32_t eps_eventfd_create(uint32_t initial, int32_t flags)
{
	EPS_ENSURE((flags & ~(EPS_EFD_SEMAPHORE | EPS_EFD_NONBLOCK | EPS_EFD_CLOEXEC)) == 0,
		   EPS_EINVAL);
	int fd = eventfd(initial, flags | EFD_CLOEXEC);
	if (fd < 0)
		return EPS_ERRNO();
	return eps__fd_register_kind(fd, (flags & EPS_EFD_NONBLOCK) != 0, EPS__FD_EVENTFD);
}

EPS_EXPORT int32_t eps_eventfd_write(int32_t fd, uint64_t value)
{
	EPS_ENSURE(value != UINT64_MAX, EPS_EINVAL);
	EPS_GUARD(check_kind(fd, EPS__FD_EVENTFD));
	ssize_t n = write(fd, &value, sizeof value);
	if (n < 0)
		return EPS_ERRNO();
	return n == (ssize_t)sizeof value ? 0 : eps__fail(EPS_EIO);
}

EPS_EXPORT int32_t eps_eventfd_read(int32_t fd, uint64_t *value)
{
	EPS_ENSURE(value != NULL, EPS_EFAULT);
	EPS_GUARD(check_kind(fd, EPS__FD_EVENTFD));
	return read_counter(fd, value);
}

EPS_EXPORT int32_t eps_timerfd_create(int32_t clock, int32_t flags)
{
	EPS_ENSURE(clock == EPS_CLOCK_MONOTONIC || clock == EPS_CLOCK_REALTIME ||
		       clock == EPS_CLOCK_BOOTTIME,
		   EPS_EINVAL);
	EPS_ENSURE((flags & ~(EPS_TFD_NONBLOCK | EPS_TFD_CLOEXEC)) == 0, EPS_EINVAL);
	int fd = timerfd_create(clock, flags | TFD_CLOEXEC);
	if (fd < 0)
		return EPS_ERRNO();
	return eps__fd_register_kind(fd, (flags & EPS_TFD_NONBLOCK) != 0, EPS__FD_TIMERFD);
}

static struct timespec to_timespec(int64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NS_PER_SEC),
				 .tv_nsec = (long)(ns % NS_PER_SEC)};
}

EPS_EXPORT int32_t eps_timerfd_arm(int32_t fd, int64_t initial_ns, int64_t interval_ns)
{
	EPS_ENSURE(initial_ns >= 0 && interval_ns >= 0, EPS_EINVAL);
	EPS_GUARD(check_kind(fd, EPS__FD_TIMERFD));
	struct itimerspec spec = {.it_value = to_timespec(initial_ns),
				  .it_interval = to_timespec(interval_ns)};
	if (timerfd_settime(fd, 0, &spec, NULL) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_timerfd_read(int32_t fd, uint64_t *expirations)
{
	EPS_ENSURE(expirations != NULL, EPS_EFAULT);
	EPS_GUARD(check_kind(fd, EPS__FD_TIMERFD));
	return read_counter(fd, expirations);
}
