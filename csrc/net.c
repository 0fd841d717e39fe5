/* SPDX-License-Identifier: MIT */
/*
 * net.c - sockets: creation, connection, transfer, options.
 *
 * Thin wrappers: each does what its system call does in the descriptor's
 * own mode, after checking its arguments, and converts errno on the line
 * of the call.  Descriptors the library creates or accepts are registered
 * in the descriptor table at once.
 */
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

/* --- the public constants are the kernel's ----------------------------- */

_Static_assert(EPS_SOCKADDR_MAX == sizeof(struct sockaddr_storage), "sockaddr_storage size");
_Static_assert((int)EPS_AF_UNSPEC == (int)AF_UNSPEC && (int)EPS_AF_UNIX == (int)AF_UNIX &&
		   (int)EPS_AF_INET == (int)AF_INET && (int)EPS_AF_INET6 == (int)AF_INET6,
	       "AF_ values differ from <sys/socket.h>");
_Static_assert((int)EPS_SOCK_STREAM == (int)SOCK_STREAM && (int)EPS_SOCK_DGRAM == (int)SOCK_DGRAM &&
		   (int)EPS_SOCK_SEQPACKET == (int)SOCK_SEQPACKET &&
		   (int)EPS_SOCK_NONBLOCK == (int)SOCK_NONBLOCK &&
		   (int)EPS_SOCK_CLOEXEC == (int)SOCK_CLOEXEC,
	       "SOCK_ values differ from <sys/socket.h>");
_Static_assert((int)EPS_IPPROTO_IP == (int)IPPROTO_IP && (int)EPS_IPPROTO_TCP == (int)IPPROTO_TCP &&
		   (int)EPS_IPPROTO_UDP == (int)IPPROTO_UDP &&
		   (int)EPS_IPPROTO_IPV6 == (int)IPPROTO_IPV6,
	       "IPPROTO_ values differ from <netinet/in.h>");
_Static_assert((int)EPS_SOL_SOCKET == (int)SOL_SOCKET, "SOL_SOCKET");
_Static_assert(
    (int)EPS_SO_DEBUG == (int)SO_DEBUG && (int)EPS_SO_REUSEADDR == (int)SO_REUSEADDR &&
	(int)EPS_SO_TYPE == (int)SO_TYPE && (int)EPS_SO_ERROR == (int)SO_ERROR &&
	(int)EPS_SO_DONTROUTE == (int)SO_DONTROUTE && (int)EPS_SO_BROADCAST == (int)SO_BROADCAST &&
	(int)EPS_SO_SNDBUF == (int)SO_SNDBUF && (int)EPS_SO_RCVBUF == (int)SO_RCVBUF &&
	(int)EPS_SO_KEEPALIVE == (int)SO_KEEPALIVE && (int)EPS_SO_OOBINLINE == (int)SO_OOBINLINE &&
	(int)EPS_SO_LINGER == (int)SO_LINGER && (int)EPS_SO_REUSEPORT == (int)SO_REUSEPORT &&
	(int)EPS_SO_RCVLOWAT == (int)SO_RCVLOWAT && (int)EPS_SO_SNDLOWAT == (int)SO_SNDLOWAT &&
	(int)EPS_SO_RCVTIMEO == (int)SO_RCVTIMEO && (int)EPS_SO_SNDTIMEO == (int)SO_SNDTIMEO &&
	(int)EPS_SO_ACCEPTCONN == (int)SO_ACCEPTCONN && (int)EPS_SO_PROTOCOL == (int)SO_PROTOCOL &&
	(int)EPS_SO_DOMAIN == (int)SO_DOMAIN,
    "SO_ values differ from <sys/socket.h>");
_Static_assert((int)EPS_TCP_NODELAY == (int)TCP_NODELAY && (int)EPS_TCP_MAXSEG == (int)TCP_MAXSEG &&
		   (int)EPS_TCP_CORK == (int)TCP_CORK &&
		   (int)EPS_TCP_KEEPIDLE == (int)TCP_KEEPIDLE &&
		   (int)EPS_TCP_KEEPINTVL == (int)TCP_KEEPINTVL &&
		   (int)EPS_TCP_KEEPCNT == (int)TCP_KEEPCNT,
	       "TCP_ values differ from <netinet/tcp.h>");
_Static_assert((int)EPS_IPV6_V6ONLY == (int)IPV6_V6ONLY, "IPV6_V6ONLY");
_Static_assert((int)EPS_MSG_OOB == (int)MSG_OOB && (int)EPS_MSG_PEEK == (int)MSG_PEEK &&
		   (int)EPS_MSG_TRUNC == (int)MSG_TRUNC &&
		   (int)EPS_MSG_DONTWAIT == (int)MSG_DONTWAIT && (int)EPS_MSG_EOR == (int)MSG_EOR &&
		   (int)EPS_MSG_WAITALL == (int)MSG_WAITALL &&
		   (int)EPS_MSG_NOSIGNAL == (int)MSG_NOSIGNAL && (int)EPS_MSG_MORE == (int)MSG_MORE,
	       "MSG_ values differ from <sys/socket.h>");
_Static_assert((int)EPS_SHUT_RD == (int)SHUT_RD && (int)EPS_SHUT_WR == (int)SHUT_WR &&
		   (int)EPS_SHUT_RDWR == (int)SHUT_RDWR,
	       "SHUT_ values differ from <sys/socket.h>");
_Static_assert((int)EPS_SOMAXCONN == (int)SOMAXCONN, "SOMAXCONN");

/* --- argument checks ------------------------------------------------------ */

#define LEN_MAX ((size_t)INT32_MAX)
#define IOV_COUNT_MAX 1024

#define SEND_FLAGS (MSG_DONTWAIT | MSG_MORE | MSG_OOB | MSG_EOR | MSG_NOSIGNAL)
#define RECV_FLAGS (MSG_DONTWAIT | MSG_PEEK | MSG_WAITALL | MSG_TRUNC | MSG_OOB)

/* A (buffer, length) pair: NULL only with length 0, length below 2^31. */
static EPS_MUST_USE int check_buffer(const void *buf, size_t len)
{
	if (len > LEN_MAX || (buf == NULL && len != 0))
		return eps__fail(EPS_EINVAL);
	return 0;
}

/* An address given to the kernel: a buffer of at most EPS_SOCKADDR_MAX bytes. */
static EPS_MUST_USE int check_address(const uint8_t *addr, size_t addrlen)
{
	if (addrlen > sizeof(struct sockaddr_storage) || (addr == NULL && addrlen != 0))
		return eps__fail(EPS_EINVAL);
	return 0;
}

/*
 * An address cell for a call that also consumes something (a connection,
 * a datagram): the capacity is checked before the call so the result is
 * never lost for want of room.
 */
static EPS_MUST_USE int check_address_out(const uint8_t *addr, const uint32_t *addrlen)
{
	if (addr == NULL)
		return addrlen == NULL ? 0 : eps__fail(EPS_EINVAL);
	if (addrlen == NULL)
		return eps__fail(EPS_EINVAL);
	if (*addrlen < sizeof(struct sockaddr_storage))
		return eps__fail(EPS_EBUFTOOSMALL);
	return 0;
}

/* --- sockets ------------------------------------------------------------ */

EPS_EXPORT int32_t eps_socket(int32_t domain, int32_t type, int32_t protocol)
{
	int nonblocking = (type & SOCK_NONBLOCK) != 0;
	int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (fd < 0)
		return EPS_ERRNO();
	return eps__fd_register(fd, nonblocking);
}

EPS_EXPORT int32_t eps_socketpair(int32_t domain, int32_t type, int32_t protocol, int32_t *fds)
{
	EPS_ENSURE(fds != NULL, EPS_EINVAL);
	int nonblocking = (type & SOCK_NONBLOCK) != 0;
	int sv[2];
	if (socketpair(domain, type | SOCK_CLOEXEC, protocol, sv) < 0)
		return EPS_ERRNO();
	int r = eps__fd_register(sv[0], nonblocking);
	if (r < 0) {
		(void)close(sv[1]);
		return r;
	}
	r = eps__fd_register(sv[1], nonblocking);
	if (r < 0) {
		(void)eps_close(sv[0]);
		return r;
	}
	fds[0] = sv[0];
	fds[1] = sv[1];
	return 0;
}

EPS_EXPORT int32_t eps_bind(int32_t fd, const uint8_t *addr, size_t addrlen)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_address(addr, addrlen));
	if (bind(fd, (const struct sockaddr *)addr, (socklen_t)addrlen) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_listen(int32_t fd, int32_t backlog)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(backlog >= 0, EPS_EINVAL);
	if (listen(fd, backlog) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_accept(int32_t fd, int32_t flags, uint8_t *addr, uint32_t *addrlen)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE((flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == 0, EPS_EINVAL);
	EPS_GUARD(check_address_out(addr, addrlen));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	int nfd = accept4(fd, (struct sockaddr *)&ss, &sslen, flags | SOCK_CLOEXEC);
	if (nfd < 0)
		return EPS_ERRNO();
	nfd = eps__fd_register(nfd, (flags & SOCK_NONBLOCK) != 0);
	if (nfd < 0)
		return nfd;
	if (addr != NULL) {
		if (sslen > sizeof ss)
			sslen = sizeof ss;
		memcpy(addr, &ss, sslen);
		*addrlen = sslen;
	}
	return nfd;
}

EPS_EXPORT int32_t eps_connect(int32_t fd, const uint8_t *addr, size_t addrlen)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_address(addr, addrlen));
	if (connect(fd, (const struct sockaddr *)addr, (socklen_t)addrlen) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_socket_error(int32_t fd)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return EPS_ERRNO();
	return err == 0 ? 0 : eps__fail(err);
}

EPS_EXPORT int64_t eps_send(int32_t fd, const uint8_t *buf, size_t len, int32_t flags)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_buffer(buf, len));
	EPS_ENSURE((flags & ~SEND_FLAGS) == 0, EPS_EINVAL);
	ssize_t n = send(fd, buf, len, flags | MSG_NOSIGNAL);
	if (n < 0)
		return EPS_ERRNO();
	return n;
}

EPS_EXPORT int64_t eps_sendv(int32_t fd, const uint64_t *iov, size_t count, int32_t flags)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(count <= IOV_COUNT_MAX, EPS_EINVAL);
	EPS_ENSURE(iov != NULL || count == 0, EPS_EINVAL);
	EPS_ENSURE((flags & ~SEND_FLAGS) == 0, EPS_EINVAL);
	struct iovec vec[IOV_COUNT_MAX];
	for (size_t i = 0; i < count; i++) {
		uint64_t base = iov[2 * i], len = iov[2 * i + 1];
		EPS_ENSURE(len <= LEN_MAX && (base != 0 || len == 0), EPS_EINVAL);
		vec[i].iov_base = (void *)(uintptr_t)base;
		vec[i].iov_len = (size_t)len;
	}
	struct msghdr msg = {.msg_iov = vec, .msg_iovlen = count};
	ssize_t n = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
	if (n < 0)
		return EPS_ERRNO();
	return n;
}

/*
 * A receive's count, never more than the LEN bytes the caller offered
 * unless it asked for a datagram's real length (MSG_TRUNC): Linux reports
 * an out-of-band byte read from a Unix stream socket as 1 even into a
 * 0-byte buffer, and a caller trusting the count would read past its own.
 */
static int64_t received(ssize_t n, size_t len, int32_t flags)
{
	if ((size_t)n > len && !(flags & MSG_TRUNC))
		return (int64_t)len;
	return n;
}

EPS_EXPORT int64_t eps_recv(int32_t fd, uint8_t *buf, size_t len, int32_t flags)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_buffer(buf, len));
	EPS_ENSURE((flags & ~RECV_FLAGS) == 0, EPS_EINVAL);
	ssize_t n = recv(fd, buf, len, flags);
	if (n < 0)
		return EPS_ERRNO();
	return received(n, len, flags);
}

EPS_EXPORT int64_t eps_sendto(int32_t fd, const uint8_t *buf, size_t len, int32_t flags,
			      const uint8_t *addr, size_t addrlen)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_buffer(buf, len));
	EPS_GUARD(check_address(addr, addrlen));
	EPS_ENSURE((flags & ~SEND_FLAGS) == 0, EPS_EINVAL);
	ssize_t n = sendto(fd, buf, len, flags | MSG_NOSIGNAL,
			   addrlen ? (const struct sockaddr *)addr : NULL, (socklen_t)addrlen);
	if (n < 0)
		return EPS_ERRNO();
	return n;
}

EPS_EXPORT int64_t eps_recvfrom(int32_t fd, uint8_t *buf, size_t len, int32_t flags, uint8_t *addr,
				uint32_t *addrlen)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_buffer(buf, len));
	EPS_ENSURE((flags & ~RECV_FLAGS) == 0, EPS_EINVAL);
	EPS_GUARD(check_address_out(addr, addrlen));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	ssize_t n = recvfrom(fd, buf, len, flags, (struct sockaddr *)&ss, &sslen);
	if (n < 0)
		return EPS_ERRNO();
	if (addr != NULL) {
		if (sslen > sizeof ss)
			sslen = sizeof ss;
		memcpy(addr, &ss, sslen);
		*addrlen = sslen;
	}
	return received(n, len, flags);
}

EPS_EXPORT int32_t eps_shutdown(int32_t fd, int32_t how)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(how == SHUT_RD || how == SHUT_WR || how == SHUT_RDWR, EPS_EINVAL);
	if (shutdown(fd, how) < 0)
		return EPS_ERRNO();
	return 0;
}

/* getsockname and getpeername share everything but the call. */
static EPS_MUST_USE int32_t copy_name(int32_t fd, uint8_t *addr, size_t addrcap, int peer)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_GUARD(check_buffer(addr, addrcap));
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &sslen)
		     : getsockname(fd, (struct sockaddr *)&ss, &sslen);
	if (r < 0)
		return EPS_ERRNO();
	if (sslen > sizeof ss)
		sslen = sizeof ss;
	EPS_ENSURE(sslen <= addrcap, EPS_EBUFTOOSMALL);
	memcpy(addr, &ss, sslen);
	return (int32_t)sslen;
}

EPS_EXPORT int32_t eps_getsockname(int32_t fd, uint8_t *addr, size_t addrcap)
{
	return copy_name(fd, addr, addrcap, 0);
}

EPS_EXPORT int32_t eps_getpeername(int32_t fd, uint8_t *addr, size_t addrcap)
{
	return copy_name(fd, addr, addrcap, 1);
}

/* --- socket options ----------------------------------------------------- */

/* Options whose value is a structure: an int would be misread. */
static int structured_option(int32_t level, int32_t name)
{
	return level == SOL_SOCKET &&
	       (name == SO_LINGER || name == SO_RCVTIMEO || name == SO_SNDTIMEO ||
		name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW || name == SO_PEERCRED);
}

EPS_EXPORT int32_t eps_setsockopt_int(int32_t fd, int32_t level, int32_t name, int32_t value)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(!structured_option(level, name), EPS_EINVAL);
	int v = value;
	if (setsockopt(fd, level, name, &v, sizeof v) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_getsockopt_int(int32_t fd, int32_t level, int32_t name)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(!structured_option(level, name), EPS_EINVAL);
	int v = 0;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) < 0)
		return EPS_ERRNO();
	/* A byte-sized option (a few IP ones) fills only the first byte. */
	if (len == 1)
		v = *(unsigned char *)&v;
	else if (len != sizeof v)
		return eps__fail(EPS_EINVAL);
	EPS_ENSURE(v >= 0, EPS_ERANGE);
	return v;
}

EPS_EXPORT int32_t eps_setsockopt_linger(int32_t fd, int32_t on, int32_t seconds)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(seconds >= 0, EPS_EINVAL);
	struct linger l = {.l_onoff = on != 0, .l_linger = seconds};
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int32_t eps_getsockopt_linger(int32_t fd, int32_t *on, int32_t *seconds)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(on != NULL && seconds != NULL, EPS_EINVAL);
	struct linger l = {0};
	socklen_t len = sizeof l;
	if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) < 0)
		return EPS_ERRNO();
	*on = l.l_onoff != 0;
	*seconds = l.l_linger;
	return 0;
}

#define USEC_PER_SEC 1000000

EPS_EXPORT int32_t eps_setsockopt_timeout(int32_t fd, int32_t name, int64_t usec)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(name == SO_RCVTIMEO || name == SO_SNDTIMEO, EPS_EINVAL);
	EPS_ENSURE(usec >= 0, EPS_EINVAL);
	struct timeval tv = {.tv_sec = usec / USEC_PER_SEC, .tv_usec = usec % USEC_PER_SEC};
	if (setsockopt(fd, SOL_SOCKET, name, &tv, sizeof tv) < 0)
		return EPS_ERRNO();
	return 0;
}

EPS_EXPORT int64_t eps_getsockopt_timeout(int32_t fd, int32_t name)
{
	EPS_ENSURE(fd >= 0, EPS_EBADF);
	EPS_ENSURE(name == SO_RCVTIMEO || name == SO_SNDTIMEO, EPS_EINVAL);
	struct timeval tv = {0};
	socklen_t len = sizeof tv;
	if (getsockopt(fd, SOL_SOCKET, name, &tv, &len) < 0)
		return EPS_ERRNO();
	/* The kernel caps the seconds far below INT64_MAX / 10^6. */
	return (int64_t)tv.tv_sec * USEC_PER_SEC + tv.tv_usec;
}
