/* SPDX-License-Identifier: MIT */
/*
 * epsilon/errors.h - the one table of error codes of libepsilon-linux.
 *
 * Every entry point returns an integer: >= 0 is success, < 0 is a failure
 * equal to -code, where code is one of the positive numbers below.  Codes
 * up to 4096 are Linux errno numbers (checked against <errno.h> when the
 * library is built); codes above 4096 are the library's own.  New codes are
 * appended, never renumbered.
 */
#ifndef EPSILON_ERRORS_H
#define EPSILON_ERRORS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The errno codes the library reports: X(NAME, value, CLASS, message).
 * EPS__ macros are the library's internal machinery; bindings skip them,
 * except that bindings-gen reads these tables for the Lisp side: the code
 * constants and their export lists, and the condition class of each code.
 *
 * CLASS is the Lisp condition a failure with the code is signalled as,
 * named with `_` for `-` (TLS_ERROR is epsilon.linux.errors:tls-error).
 * SUBSYSTEM is the root class of the subsystem whose call failed
 * (SOCKET-ERROR for a socket call, EPOLL-ERROR for an epoll call);
 * TIMEOUT is that subsystem's timeout class (SOCKET-TIMEOUT, TLS-TIMEOUT),
 * or its root class when it has none.
 */
#define EPS__ERRNO_CODES(X)                                                   \
	X(EPERM, 1, SUBSYSTEM, "operation not permitted")                     \
	X(ENOENT, 2, SUBSYSTEM, "no such file, directory or registration")    \
	X(ESRCH, 3, SUBSYSTEM, "no such process")                             \
	X(EINTR, 4, SUBSYSTEM, "interrupted by a signal")                     \
	X(EIO, 5, SUBSYSTEM, "input/output error")                            \
	X(ENXIO, 6, SUBSYSTEM, "no such device or address")                   \
	X(E2BIG, 7, SUBSYSTEM, "argument list too long")                      \
	X(EBADF, 9, SUBSYSTEM, "bad file descriptor")                         \
	X(EAGAIN, 11, SUBSYSTEM, "resource temporarily unavailable (would block)") \
	X(ENOMEM, 12, SUBSYSTEM, "out of memory")                             \
	X(EACCES, 13, SUBSYSTEM, "permission denied")                         \
	X(EFAULT, 14, SUBSYSTEM, "bad address")                               \
	X(EBUSY, 16, SUBSYSTEM, "device or resource busy")                    \
	X(EEXIST, 17, SUBSYSTEM, "already exists")                            \
	X(ENODEV, 19, SUBSYSTEM, "no such device")                            \
	X(ENOTDIR, 20, SUBSYSTEM, "not a directory")                          \
	X(EISDIR, 21, SUBSYSTEM, "is a directory")                            \
	X(EINVAL, 22, SUBSYSTEM, "invalid argument")                          \
	X(ENFILE, 23, SUBSYSTEM, "too many open files in the system")         \
	X(EMFILE, 24, SUBSYSTEM, "too many open files in this process")       \
	X(ENOTTY, 25, SUBSYSTEM, "inappropriate ioctl for device")            \
	X(EFBIG, 27, SUBSYSTEM, "file too large")                             \
	X(ENOSPC, 28, SUBSYSTEM, "no space left on device")                   \
	X(ESPIPE, 29, SUBSYSTEM, "illegal seek")                              \
	X(EROFS, 30, SUBSYSTEM, "read-only file system")                      \
	X(EPIPE, 32, SUBSYSTEM, "broken pipe (peer closed)")                  \
	X(ERANGE, 34, SUBSYSTEM, "result out of range")                       \
	X(EDEADLK, 35, SUBSYSTEM, "resource deadlock avoided")                \
	X(ENAMETOOLONG, 36, SUBSYSTEM, "name too long")                       \
	X(ENOSYS, 38, SUBSYSTEM, "function not implemented")                  \
	X(ELOOP, 40, SUBSYSTEM, "too many levels of symbolic links")          \
	X(ENODATA, 61, SUBSYSTEM, "no data available")                        \
	X(EPROTO, 71, SUBSYSTEM, "protocol error")                            \
	X(EOVERFLOW, 75, SUBSYSTEM, "value too large for defined data type")  \
	X(EILSEQ, 84, SUBSYSTEM, "invalid or incomplete multibyte character") \
	X(ENOTSOCK, 88, SUBSYSTEM, "not a socket")                            \
	X(EDESTADDRREQ, 89, SUBSYSTEM, "destination address required")        \
	X(EMSGSIZE, 90, SUBSYSTEM, "message too long")                        \
	X(EPROTOTYPE, 91, SUBSYSTEM, "protocol wrong type for socket")        \
	X(ENOPROTOOPT, 92, SUBSYSTEM, "protocol not available")               \
	X(EPROTONOSUPPORT, 93, SUBSYSTEM, "protocol not supported")           \
	X(ESOCKTNOSUPPORT, 94, SUBSYSTEM, "socket type not supported")        \
	X(EOPNOTSUPP, 95, SUBSYSTEM, "operation not supported")               \
	X(EPFNOSUPPORT, 96, SUBSYSTEM, "protocol family not supported")       \
	X(EAFNOSUPPORT, 97, SUBSYSTEM, "address family not supported")        \
	X(EADDRINUSE, 98, SUBSYSTEM, "address already in use")                \
	X(EADDRNOTAVAIL, 99, SUBSYSTEM, "cannot assign requested address")    \
	X(ENETDOWN, 100, SUBSYSTEM, "network is down")                        \
	X(ENETUNREACH, 101, SUBSYSTEM, "network is unreachable")              \
	X(ENETRESET, 102, SUBSYSTEM, "network dropped connection on reset")   \
	X(ECONNABORTED, 103, SUBSYSTEM, "connection aborted")                 \
	X(ECONNRESET, 104, SUBSYSTEM, "connection reset by peer")             \
	X(ENOBUFS, 105, SUBSYSTEM, "no buffer space available")               \
	X(EISCONN, 106, SUBSYSTEM, "already connected")                       \
	X(ENOTCONN, 107, SUBSYSTEM, "not connected")                          \
	X(ESHUTDOWN, 108, SUBSYSTEM, "cannot send after shutdown")            \
	X(ETIMEDOUT, 110, TIMEOUT, "timed out")                               \
	X(ECONNREFUSED, 111, SUBSYSTEM, "connection refused")                 \
	X(EHOSTDOWN, 112, SUBSYSTEM, "host is down")                          \
	X(EHOSTUNREACH, 113, SUBSYSTEM, "no route to host")                   \
	X(EALREADY, 114, SUBSYSTEM, "operation already in progress")          \
	X(EINPROGRESS, 115, SUBSYSTEM, "operation in progress")               \
	X(ECANCELED, 125, SUBSYSTEM, "operation canceled")

/* The library's own codes, above 4096: X(NAME, value, CLASS, message). */
#define EPS__SHIM_CODES(X)                                                    \
	X(EBADHANDLE, 4097, SUBSYSTEM, "bad handle (freed, stale, forged or wrong type)") \
	X(ETLS, 4098, TLS_ERROR, "TLS error")                                 \
	X(ETLSWANTREAD, 4099, SUBSYSTEM, "TLS operation must wait until readable") \
	X(ETLSWANTWRITE, 4100, SUBSYSTEM, "TLS operation must wait until writable") \
	X(ECERTVERIFY, 4101, TLS_VERIFICATION_ERROR, "certificate verification failed") \
	X(EHOSTMISMATCH, 4102, TLS_HOSTNAME_MISMATCH, "certificate does not match the host name") \
	X(EUNEXPECTEDEOF, 4103, TLS_UNEXPECTED_EOF, "peer closed the connection without close_notify") \
	X(EBUFTOOSMALL, 4104, SUBSYSTEM, "buffer too small")                  \
	X(EAINONAME, 4105, RESOLVE_ERROR, "host or service name not known")   \
	X(EAIAGAIN, 4106, RESOLVE_ERROR, "temporary failure in name resolution") \
	X(EAIFAIL, 4107, RESOLVE_ERROR, "non-recoverable failure in name resolution") \
	X(EAINODATA, 4108, RESOLVE_ERROR, "host name has no address of the requested family") \
	X(EAIFAMILY, 4109, RESOLVE_ERROR, "address family not supported by the resolver") \
	X(EAISERVICE, 4110, RESOLVE_ERROR, "service not supported for this socket type") \
	X(EAIOTHER, 4111, RESOLVE_ERROR, "name resolution failed")            \
	X(EBADADDRESS, 4112, ADDRESS_ERROR, "malformed address")              \
	X(ETLSHANDSHAKE, 4113, TLS_HANDSHAKE_ERROR, "TLS handshake failed")   \
	X(EKEYMISMATCH, 4114, TLS_ERROR, "private key does not match the certificate") \
	X(EBADPEM, 4115, TLS_ERROR, "missing or malformed PEM data")          \
	X(ETLSCLOSED, 4116, TLS_ERROR, "TLS connection already closed")       \
	X(EFFI, 4117, SUBSYSTEM, "libffi could not prepare the call")

#define EPS__ENUMERATOR(name, value, class, message) EPS_##name = value,

/** The error codes. A failing function returns the negated code. */
enum eps_error {
	EPS__ERRNO_CODES(EPS__ENUMERATOR)
	EPS__SHIM_CODES(EPS__ENUMERATOR)
	/* Linux defines EWOULDBLOCK as EAGAIN: one code, two names. */
	EPS_EWOULDBLOCK = 11,
	/* Codes above this value are the library's own. */
	EPS_ERRNO_MAX = 4096
};

/**
 * Return a short English message for CODE, which may be given with either
 * sign (-111 and 111 both mean ECONNREFUSED).  Never returns NULL: an
 * unknown code gives "unknown error".  The string is static.
 */
const char *eps_strerror(int32_t code);

/**
 * Return the symbolic name of CODE ("ECONNREFUSED", "EBADHANDLE"), given
 * with either sign.  Never returns NULL: an unknown code gives "EUNKNOWN".
 * The string is static.
 */
const char *eps_errname(int32_t code);

/**
 * Copy the calling thread's detail text for the failure that returned CODE
 * (given with either sign: pass the negative result as it came back) into
 * BUF of LEN bytes, always NUL-terminated when LEN > 0, truncating if needed.
 * The detail is the OpenSSL error queue, a verification reason, the syscall
 * that failed.  Returns the full length of the detail (like snprintf), 0
 * when that failure set none, or -EINVAL when BUF is NULL and LEN is not 0.
 *
 * How a detail stays with its failure at no cost to successful calls: only
 * a failing path writes it.  A failure with something to say stamps its
 * text with the code it returns; a failure with nothing to say forgets the
 * text, so an older failure's detail never shows up under a later failure,
 * even one of the same code.  The caller names the code it got, and a
 * detail stamped with another code is not reported.  The detail is per
 * thread and stays until the thread's next failure.
 */
int32_t eps_last_error_detail(int32_t code, uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_ERRORS_H */
