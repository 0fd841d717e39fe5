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
 * The errno codes the library reports: X(NAME, value, message).
 * EPS__ macros are the library's internal machinery; bindings skip them.
 */
#define EPS__ERRNO_CODES(X)                                                   \
	X(EPERM, 1, "operation not permitted")                                \
	X(ENOENT, 2, "no such file, directory or registration")               \
	X(ESRCH, 3, "no such process")                                        \
	X(EINTR, 4, "interrupted by a signal")                                \
	X(EIO, 5, "input/output error")                                       \
	X(ENXIO, 6, "no such device or address")                              \
	X(E2BIG, 7, "argument list too long")                                 \
	X(EBADF, 9, "bad file descriptor")                                    \
	X(EAGAIN, 11, "resource temporarily unavailable (would block)")       \
	X(ENOMEM, 12, "out of memory")                                        \
	X(EACCES, 13, "permission denied")                                    \
	X(EFAULT, 14, "bad address")                                          \
	X(EBUSY, 16, "device or resource busy")                               \
	X(EEXIST, 17, "already exists")                                       \
	X(ENODEV, 19, "no such device")                                       \
	X(ENOTDIR, 20, "not a directory")                                     \
	X(EISDIR, 21, "is a directory")                                       \
	X(EINVAL, 22, "invalid argument")                                     \
	X(ENFILE, 23, "too many open files in the system")                    \
	X(EMFILE, 24, "too many open files in this process")                  \
	X(ENOTTY, 25, "inappropriate ioctl for device")                       \
	X(EFBIG, 27, "file too large")                                        \
	X(ENOSPC, 28, "no space left on device")                              \
	X(ESPIPE, 29, "illegal seek")                                         \
	X(EROFS, 30, "read-only file system")                                 \
	X(EPIPE, 32, "broken pipe (peer closed)")                             \
	X(ERANGE, 34, "result out of range")                                  \
	X(EDEADLK, 35, "resource deadlock avoided")                           \
	X(ENAMETOOLONG, 36, "name too long")                                  \
	X(ENOSYS, 38, "function not implemented")                             \
	X(ELOOP, 40, "too many levels of symbolic links")                     \
	X(ENODATA, 61, "no data available")                                   \
	X(EPROTO, 71, "protocol error")                                       \
	X(EOVERFLOW, 75, "value too large for defined data type")             \
	X(EILSEQ, 84, "invalid or incomplete multibyte character")            \
	X(ENOTSOCK, 88, "not a socket")                                       \
	X(EDESTADDRREQ, 89, "destination address required")                   \
	X(EMSGSIZE, 90, "message too long")                                   \
	X(EPROTOTYPE, 91, "protocol wrong type for socket")                   \
	X(ENOPROTOOPT, 92, "protocol not available")                          \
	X(EPROTONOSUPPORT, 93, "protocol not supported")                      \
	X(ESOCKTNOSUPPORT, 94, "socket type not supported")                   \
	X(EOPNOTSUPP, 95, "operation not supported")                          \
	X(EPFNOSUPPORT, 96, "protocol family not supported")                  \
	X(EAFNOSUPPORT, 97, "address family not supported")                   \
	X(EADDRINUSE, 98, "address already in use")                           \
	X(EADDRNOTAVAIL, 99, "cannot assign requested address")               \
	X(ENETDOWN, 100, "network is down")                                   \
	X(ENETUNREACH, 101, "network is unreachable")                         \
	X(ENETRESET, 102, "network dropped connection on reset")              \
	X(ECONNABORTED, 103, "connection aborted")                            \
	X(ECONNRESET, 104, "connection reset by peer")                        \
	X(ENOBUFS, 105, "no buffer space available")                          \
	X(EISCONN, 106, "already connected")                                  \
	X(ENOTCONN, 107, "not connected")                                     \
	X(ESHUTDOWN, 108, "cannot send after shutdown")                       \
	X(ETIMEDOUT, 110, "timed out")                                        \
	X(ECONNREFUSED, 111, "connection refused")                            \
	X(EHOSTDOWN, 112, "host is down")                                     \
	X(EHOSTUNREACH, 113, "no route to host")                              \
	X(EALREADY, 114, "operation already in progress")                     \
	X(EINPROGRESS, 115, "operation in progress")                          \
	X(ECANCELED, 125, "operation canceled")

/* The library's own codes, above 4096: X(NAME, value, message). */
#define EPS__SHIM_CODES(X)                                                    \
	X(EBADHANDLE, 4097, "bad handle (freed, stale, forged or wrong type)") \
	X(ETLS, 4098, "TLS error")                                            \
	X(ETLSWANTREAD, 4099, "TLS operation must wait until readable")       \
	X(ETLSWANTWRITE, 4100, "TLS operation must wait until writable")      \
	X(ECERTVERIFY, 4101, "certificate verification failed")               \
	X(EHOSTMISMATCH, 4102, "certificate does not match the host name")    \
	X(EUNEXPECTEDEOF, 4103, "peer closed the connection without close_notify") \
	X(EBUFTOOSMALL, 4104, "buffer too small")                             \
	X(EAINONAME, 4105, "host or service name not known")                  \
	X(EAIAGAIN, 4106, "temporary failure in name resolution")             \
	X(EAIFAIL, 4107, "non-recoverable failure in name resolution")        \
	X(EAINODATA, 4108, "host name has no address of the requested family") \
	X(EAIFAMILY, 4109, "address family not supported by the resolver")    \
	X(EAISERVICE, 4110, "service not supported for this socket type")     \
	X(EAIOTHER, 4111, "name resolution failed")                           \
	X(EBADADDRESS, 4112, "malformed address")                             \
	X(ETLSHANDSHAKE, 4113, "TLS handshake failed")                        \
	X(EKEYMISMATCH, 4114, "private key does not match the certificate")   \
	X(EBADPEM, 4115, "missing or malformed PEM data")                     \
	X(ETLSCLOSED, 4116, "TLS connection already closed")                  \
	X(EFFI, 4117, "libffi could not prepare the call")

#define EPS__ENUMERATOR(name, value, message) EPS_##name = value,

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
 * Copy the calling thread's detail text for its most recent failure (the
 * OpenSSL error queue, a verification reason, the syscall that failed) into
 * BUF of LEN bytes, always NUL-terminated when LEN > 0, truncating if needed.
 * Returns the full length of the detail (like snprintf), 0 when there is
 * none, or -EINVAL when BUF is NULL and LEN is not 0.
 */
int32_t eps_last_error_detail(uint8_t *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_ERRORS_H */
