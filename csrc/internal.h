/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the library's source files share and nobody else sees.
 *
 * Naming: eps_ is public (exported, declared in include/epsilon/), eps__ is
 * internal but shared between files, bare static names stay in one file.
 */
#ifndef EPSILON_INTERNAL_H
#define EPSILON_INTERNAL_H

#include <errno.h>
#include <stdint.h>

#include <epsilon/epsilon.h>

/* Every public entry point is defined with EPS_EXPORT; the rest is hidden. */
#define EPS_EXPORT __attribute__((visibility("default")))
#define EPS_MUST_USE __attribute__((warn_unused_result))

/*
 * Return -errno from the calling line (read before the detail is forgotten);
 * errno never reaches the caller.
 */
#define EPS_ERRNO() eps__fail(errno)

/* Propagate a negative result. */
#define EPS_GUARD(expr)                                                       \
	do {                                                                  \
		int64_t eps__r = (expr);                                      \
		if (eps__r < 0)                                               \
			return eps__r;                                        \
	} while (0)

/* Fail with -code when a condition does not hold. */
#define EPS_ENSURE(cond, code)                                                \
	do {                                                                  \
		if (!(cond))                                                  \
			return eps__fail(code);                               \
	} while (0)

/* --- error detail (errors.c) ------------------------------------------- */

/*
 * Set the calling thread's detail text for the failure being returned, and
 * stamp it with that failure's CODE (either sign): eps_last_error_detail
 * reports it only to a caller asking about CODE.
 */
void eps__set_detail(int32_t code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the calling thread's detail text. */
void eps__clear_detail(void);
/*
 * Return -CODE (CODE > 0) for a failure that has no detail, forgetting the
 * calling thread's detail so that an earlier failure's text, even one of
 * the same code, is not reported as this one's.  Every failure path goes
 * through this or eps__set_detail; success paths touch neither.
 */
static inline EPS_MUST_USE int32_t eps__fail(int32_t code)
{
	eps__clear_detail();
	return -code;
}
/* Append text to the calling thread's detail (same code), after "; ". */
void eps__append_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --- handle table (handles.c) ------------------------------------------ */

/* A kind used only by the library's own tests. */
#define EPS__HANDLE_TEST 63
#define EPS__HANDLE_TYPE_MAX 63

typedef void (*eps__destroy_fn)(void *obj);

/*
 * Register OBJ of kind TYPE; DESTROY runs once, after the handle is freed
 * and the last reference is released.  Returns the handle (> 0) or
 * -EPS_EINVAL / -EPS_ENOMEM.  On failure OBJ is not destroyed.
 */
EPS_MUST_USE int64_t eps__handle_alloc(uint32_t type, void *obj, eps__destroy_fn destroy);

/*
 * Validate HANDLE as a live handle of kind TYPE and take a reference for
 * the duration of a call; *OBJ is written only on success.  Returns 0 or
 * -EPS_EBADHANDLE.  Every success is paired with eps__handle_release.
 */
EPS_MUST_USE int eps__handle_acquire(int64_t handle, uint32_t type, void **obj);

/* Drop the reference taken by a successful eps__handle_acquire. */
void eps__handle_release(int64_t handle);

/*
 * Mark HANDLE (of kind TYPE) dead at once: later lookups fail.  The object
 * is destroyed now, or when the last reference held by a call in progress
 * is released.  Returns 0 or -EPS_EBADHANDLE (also for a second free).
 */
EPS_MUST_USE int eps__handle_free(int64_t handle, uint32_t type);

/* --- descriptor table (fdtable.c) -------------------------------------- */

/*
 * What an owned descriptor is, for the entry points that only make sense on
 * one kind (reading an eventfd, arming a timerfd): read(2) alone cannot
 * tell an eventfd from a pipe holding 8 bytes.
 */
enum eps__fd_kind {
	EPS__FD_OTHER = 0,
	EPS__FD_EPOLL = 1,
	EPS__FD_EVENTFD = 2,
	EPS__FD_TIMERFD = 3,
	EPS__FD_KIND_MAX = 7
};

/*
 * Record FD, just created or accepted by the library, as owned, with its
 * O_NONBLOCK state.  Returns FD, or a negative code after closing FD.
 */
EPS_MUST_USE int eps__fd_register(int fd, int nonblocking);

/* The same, recording FD as of KIND (an enum eps__fd_kind). */
EPS_MUST_USE int eps__fd_register_kind(int fd, int nonblocking, int kind);

/* 1 if FD is owned and non-blocking, 0 if owned and blocking, else -EBADF. */
EPS_MUST_USE int eps__fd_state(int fd);

/* The kind FD was registered with (>= 0) if it is owned, else -EBADF. */
EPS_MUST_USE int eps__fd_kind(int fd);

/* --- TLS socket BIO (tls_bio.c) ---------------------------------------- */

struct bio_st; /* OpenSSL's BIO */

/*
 * A BIO of ours over the stream socket FD: sends with MSG_NOSIGNAL, passes
 * MSG_DONTWAIT when told to, answers BIO_CTRL_EOF, never closes FD.
 * Returns NULL when out of memory.
 */
struct bio_st *eps__tls_bio_new(int fd);
/* Pass MSG_DONTWAIT on every send and receive (ON non-zero) or not. */
void eps__tls_bio_set_dontwait(struct bio_st *bio, int on);
/* The errno of the BIO's last failed send or receive (0: none); resets it. */
int eps__tls_bio_take_errno(struct bio_st *bio);

#endif /* EPSILON_INTERNAL_H */
