/* SPDX-License-Identifier: MIT */
/*
 * epsilon/handles.h - the process-wide handle table, as seen from outside.
 *
 * Objects the kernel gives no file descriptor for (TLS contexts, TLS
 * connections and sessions, address lists, libffi call interfaces and
 * closures) are named by handles: positive integers below 2^62, never 0.
 * A freed, stale, forged or wrong-type handle is rejected with
 * -EPS_EBADHANDLE by every entry point that takes one.
 */
#ifndef EPSILON_HANDLES_H
#define EPSILON_HANDLES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The kinds of object a handle can name; the kind is part of the handle. */
enum eps_handle_type {
	EPS_HANDLE_ANY = 0,
	EPS_HANDLE_TLS_CONTEXT = 1,
	EPS_HANDLE_TLS_CONNECTION = 2,
	EPS_HANDLE_TLS_SESSION = 3,
	EPS_HANDLE_ADDRINFO = 4,
	EPS_HANDLE_FFI_CIF = 5,
	EPS_HANDLE_FFI_CLOSURE = 6
};

/**
 * Return how many handles of kind TYPE are live (allocated and not yet
 * freed), or of every kind when TYPE is EPS_HANDLE_ANY (0).  Returns
 * -EINVAL for a TYPE that is not a handle kind.  Leak tests compare this
 * before and after a suite.
 */
int64_t eps_handles_live(int32_t type);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_HANDLES_H */
