/* SPDX-License-Identifier: MIT */
/*
 * epsilon/net.h - sockets, socket addresses and name resolution.
 *
 * Sockets are plain int file descriptors, always close-on-exec, registered
 * in the library's descriptor table (close them with eps_close).  The calls
 * are thin: they do what the system call does, in the descriptor's own
 * blocking mode; a call that would block on a non-blocking socket (or with
 * EPS_MSG_DONTWAIT) returns -EAGAIN.  Sends never raise SIGPIPE: a closed
 * peer is -EPIPE (or -ECONNRESET).
 *
 * Addresses are byte buffers owned by the caller, holding the kernel's
 * socket address (a sockaddr) for the family: at most EPS_SOCKADDR_MAX
 * bytes.  Calls that take an address take (ADDR, ADDRLEN).  Calls that
 * build or copy out an address return its length and take the buffer's
 * capacity; the two calls that receive an address together with something
 * else (eps_accept, eps_recvfrom) take a uint32 cell holding the capacity
 * on entry and the length on return.
 *
 * Argument errors common to every call: a negative descriptor is -EBADF; a
 * NULL buffer with a non-zero length or capacity, or a length or capacity
 * above 2^31-1, is -EINVAL; an address given to the kernel longer than
 * EPS_SOCKADDR_MAX is -EINVAL; a buffer too small for the result is
 * -EBUFTOOSMALL.
 * Out-parameters are written only on success.
 */
#ifndef EPSILON_NET_H
#define EPSILON_NET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Sizes of address buffers and of formatted addresses. */
enum eps_net_sizes {
	/** Bytes in a buffer that holds any socket address. */
	EPS_SOCKADDR_MAX = 128,
	/** Bytes in a buffer that holds any address formatted as text, NUL included. */
	EPS_ADDRESS_TEXT_MAX = 128,
	/** Longest Unix socket path or abstract name, in bytes. */
	EPS_UNIX_PATH_MAX = 107
};

/** Address families. */
enum eps_address_family { EPS_AF_UNSPEC = 0, EPS_AF_UNIX = 1, EPS_AF_INET = 2, EPS_AF_INET6 = 10 };

/** Socket types, and flags that may be or-ed into a type. */
enum eps_socket_type {
	EPS_SOCK_STREAM = 1,
	EPS_SOCK_DGRAM = 2,
	EPS_SOCK_SEQPACKET = 5,
	EPS_SOCK_NONBLOCK = 04000,
	EPS_SOCK_CLOEXEC = 02000000
};

/** Protocols, also the option levels for IP, IPv6, TCP and UDP options. */
enum eps_ip_protocol {
	EPS_IPPROTO_IP = 0,
	EPS_IPPROTO_TCP = 6,
	EPS_IPPROTO_UDP = 17,
	EPS_IPPROTO_IPV6 = 41
};

/** The option level of the socket-level options (EPS_SO_...). */
enum eps_socket_level { EPS_SOL_SOCKET = 1 };

/** Socket-level options (level EPS_SOL_SOCKET). */
enum eps_socket_option {
	EPS_SO_DEBUG = 1,
	EPS_SO_REUSEADDR = 2,
	EPS_SO_TYPE = 3,
	EPS_SO_ERROR = 4,
	EPS_SO_DONTROUTE = 5,
	EPS_SO_BROADCAST = 6,
	EPS_SO_SNDBUF = 7,
	EPS_SO_RCVBUF = 8,
	EPS_SO_KEEPALIVE = 9,
	EPS_SO_OOBINLINE = 10,
	EPS_SO_LINGER = 13,
	EPS_SO_REUSEPORT = 15,
	EPS_SO_RCVLOWAT = 18,
	EPS_SO_SNDLOWAT = 19,
	EPS_SO_RCVTIMEO = 20,
	EPS_SO_SNDTIMEO = 21,
	EPS_SO_ACCEPTCONN = 30,
	EPS_SO_PROTOCOL = 38,
	EPS_SO_DOMAIN = 39
};

/** TCP options (level EPS_IPPROTO_TCP). */
enum eps_tcp_option {
	EPS_TCP_NODELAY = 1,
	EPS_TCP_MAXSEG = 2,
	EPS_TCP_CORK = 3,
	EPS_TCP_KEEPIDLE = 4,
	EPS_TCP_KEEPINTVL = 5,
	EPS_TCP_KEEPCNT = 6
};

/** IPv6 options (level EPS_IPPROTO_IPV6). */
enum eps_ipv6_option { EPS_IPV6_V6ONLY = 26 };

/** Flags for send and receive calls. */
enum eps_msg_flags {
	EPS_MSG_OOB = 0x01,
	EPS_MSG_PEEK = 0x02,
	EPS_MSG_TRUNC = 0x20,
	EPS_MSG_DONTWAIT = 0x40,
	EPS_MSG_EOR = 0x80,
	EPS_MSG_WAITALL = 0x100,
	EPS_MSG_NOSIGNAL = 0x4000,
	EPS_MSG_MORE = 0x8000
};

/** What eps_shutdown shuts down. */
enum eps_shutdown_how { EPS_SHUT_RD = 0, EPS_SHUT_WR = 1, EPS_SHUT_RDWR = 2 };

/**
 * The system's default listen backlog ceiling; the kernel cuts a larger
 * backlog to its net.core.somaxconn setting.
 */
enum eps_listen_limits { EPS_SOMAXCONN = 4096 };

/** Flags for eps_getaddrinfo. */
enum eps_addrinfo_flags {
	EPS_AI_PASSIVE = 0x0001,
	EPS_AI_CANONNAME = 0x0002,
	EPS_AI_NUMERICHOST = 0x0004,
	EPS_AI_V4MAPPED = 0x0008,
	EPS_AI_ALL = 0x0010,
	EPS_AI_ADDRCONFIG = 0x0020,
	EPS_AI_NUMERICSERV = 0x0400
};

/* --- sockets ------------------------------------------------------------ */

/**
 * Create a socket of DOMAIN (EPS_AF_INET, EPS_AF_INET6, EPS_AF_UNIX), TYPE
 * (EPS_SOCK_STREAM, EPS_SOCK_DGRAM, EPS_SOCK_SEQPACKET, optionally or-ed with
 * EPS_SOCK_NONBLOCK) and PROTOCOL (0 for the usual one).  The socket is
 * always close-on-exec (EPS_SOCK_CLOEXEC is accepted and implied).  Returns
 * the descriptor, or -EAFNOSUPPORT, -EPROTONOSUPPORT, -EINVAL, -EMFILE,
 * -ENFILE, -ENOMEM, ...
 */
int32_t eps_socket(int32_t domain, int32_t type, int32_t protocol);

/**
 * Create a connected pair of sockets (DOMAIN is EPS_AF_UNIX; TYPE and
 * PROTOCOL as for eps_socket, EPS_SOCK_NONBLOCK applying to both) and store
 * their descriptors in FDS[0] and FDS[1] (FDS holds two int32 cells).
 * Returns 0, -EINVAL for a NULL FDS, or the kernel's code.
 */
int32_t eps_socketpair(int32_t domain, int32_t type, int32_t protocol, int32_t *fds);

/**
 * Bind socket FD to the address in ADDR (ADDRLEN bytes).  Returns 0, or
 * -EADDRINUSE, -EADDRNOTAVAIL, -EACCES, -EINVAL, -ENOTSOCK, -EBADF, ...
 */
int32_t eps_bind(int32_t fd, const uint8_t *addr, size_t addrlen);

/**
 * Mark socket FD as listening, with room for BACKLOG pending connections
 * (0 .. any; the kernel cuts it to EPS_SOMAXCONN).  Returns 0, -EINVAL for
 * a negative BACKLOG, or -EADDRINUSE, -EOPNOTSUPP, -ENOTSOCK, ...
 */
int32_t eps_listen(int32_t fd, int32_t backlog);

/**
 * Accept a connection on listening socket FD.  FLAGS is 0 or
 * EPS_SOCK_NONBLOCK (the new socket's mode; EPS_SOCK_CLOEXEC is implied).
 * When ADDR is not NULL, ADDRLEN points to a cell holding ADDR's capacity,
 * which must be at least EPS_SOCKADDR_MAX (checked before accepting, so no
 * connection is lost: else -EBUFTOOSMALL); the peer's address is stored in
 * ADDR and its length in *ADDRLEN.  ADDR and ADDRLEN may both be NULL.
 * Returns the new descriptor, already registered (eps_close closes it),
 * -EAGAIN when FD is non-blocking and nothing is pending or when FD's
 * receive timeout (EPS_SO_RCVTIMEO) passed first, -EINTR when a signal
 * ended the wait, -EINVAL (FD not listening, bad FLAGS), -EMFILE, ...
 *
 * The registration after the kernel's accept may take a lock and allocate:
 * a caller whose signal handlers can unwind out of C (a garbage-collected
 * runtime's interrupts) defers them around this call, or the descriptor
 * could leak and the lock stay held.  Such a caller stays interruptible
 * while blocked by giving FD a receive timeout: the kernel then ends the
 * wait with -EINTR at any handled signal, even one installed with
 * SA_RESTART (without one the wait is restarted), and the caller runs its
 * deferred interrupt once this call has returned.
 */
int32_t eps_accept(int32_t fd, int32_t flags, uint8_t *addr, uint32_t *addrlen);

/**
 * Connect socket FD to the address in ADDR (ADDRLEN bytes).  On a
 * non-blocking socket a connection that cannot complete at once returns
 * -EINPROGRESS: wait for EPS_POLLOUT, then read the outcome with
 * eps_socket_error.  Returns 0, -EINPROGRESS, -ECONNREFUSED, -ETIMEDOUT,
 * -ENETUNREACH, -EISCONN, -EALREADY, -ENOENT (Unix path), ...
 */
int32_t eps_connect(int32_t fd, const uint8_t *addr, size_t addrlen);

/**
 * Read and clear socket FD's pending error (SO_ERROR): 0 when there is
 * none (a non-blocking connect succeeded), else the negated code of the
 * failure (-ECONNREFUSED, ...).  Also returns -EBADF or -ENOTSOCK for a bad FD.
 */
int32_t eps_socket_error(int32_t fd);

/**
 * Send LEN bytes from BUF on connected socket FD.  FLAGS: EPS_MSG_DONTWAIT,
 * EPS_MSG_MORE, EPS_MSG_OOB, EPS_MSG_EOR; EPS_MSG_NOSIGNAL is always added.
 * Returns the number of bytes sent (possibly fewer than LEN), -EAGAIN,
 * -EPIPE or -ECONNRESET (closed peer; never SIGPIPE), -EINVAL for other
 * FLAGS, ...
 */
int64_t eps_send(int32_t fd, const uint8_t *buf, size_t len, int32_t flags);

/**
 * Send, in one call, COUNT buffers described by IOV: 2*COUNT uint64 cells,
 * pairs of (address, length).  COUNT is at most 1024; each length at most
 * 2^31-1; a zero address is allowed only with a zero length.  FLAGS as for
 * eps_send; EPS_MSG_NOSIGNAL is always added.  Returns the number of bytes
 * sent (possibly fewer than the total), or a negative code as eps_send.
 */
int64_t eps_sendv(int32_t fd, const uint64_t *iov, size_t count, int32_t flags);

/**
 * Receive up to LEN bytes into BUF from socket FD.  FLAGS:
 * EPS_MSG_DONTWAIT, EPS_MSG_PEEK, EPS_MSG_WAITALL, EPS_MSG_TRUNC,
 * EPS_MSG_OOB.  Returns the number of bytes received, never more than LEN
 * (with EPS_MSG_TRUNC, a datagram's real length), 0 at end of stream
 * (or for an empty datagram), -EAGAIN (nothing there on a non-blocking
 * socket, or a receive timeout expired), -ECONNRESET, -EINVAL for other
 * FLAGS, ...
 */
int64_t eps_recv(int32_t fd, uint8_t *buf, size_t len, int32_t flags);

/**
 * Send LEN bytes from BUF as one datagram on socket FD to the address in
 * ADDR (ADDRLEN bytes; ADDR may be NULL with ADDRLEN 0 on a connected
 * socket).  FLAGS as for eps_send; EPS_MSG_NOSIGNAL is always added.
 * Returns the number of bytes sent, -EMSGSIZE, -EAGAIN, ...
 */
int64_t eps_sendto(int32_t fd, const uint8_t *buf, size_t len, int32_t flags, const uint8_t *addr,
		   size_t addrlen);

/**
 * Receive up to LEN bytes into BUF from socket FD, and the sender's
 * address.  FLAGS as for eps_recv.  When ADDR is not NULL, ADDRLEN points
 * to a cell holding ADDR's capacity, at least EPS_SOCKADDR_MAX (else
 * -EBUFTOOSMALL before receiving anything); the sender's address is stored
 * in ADDR and its length in *ADDRLEN (0 when the socket has no sender
 * address to give, as on a connected stream).  Returns the number of bytes
 * received (with EPS_MSG_TRUNC, the datagram's real length), or a negative
 * code as eps_recv.
 */
int64_t eps_recvfrom(int32_t fd, uint8_t *buf, size_t len, int32_t flags, uint8_t *addr,
		     uint32_t *addrlen);

/**
 * Shut down reading (EPS_SHUT_RD), writing (EPS_SHUT_WR) or both
 * (EPS_SHUT_RDWR) on socket FD; the descriptor stays open.  Returns 0,
 * -ENOTCONN, -EINVAL for another HOW, ...
 */
int32_t eps_shutdown(int32_t fd, int32_t how);

/**
 * Store socket FD's own address in ADDR, a buffer of ADDRCAP bytes (give
 * EPS_SOCKADDR_MAX).  Returns the address's length, -EBUFTOOSMALL, ...
 */
int32_t eps_getsockname(int32_t fd, uint8_t *addr, size_t addrcap);

/**
 * Store the address of socket FD's peer in ADDR, a buffer of ADDRCAP bytes
 * (give EPS_SOCKADDR_MAX).  Returns the address's length, -ENOTCONN,
 * -EBUFTOOSMALL, ...
 */
int32_t eps_getpeername(int32_t fd, uint8_t *addr, size_t addrcap);

/* --- socket options ----------------------------------------------------- */

/**
 * Set the integer socket option NAME at LEVEL (EPS_SOL_SOCKET with
 * EPS_SO_..., EPS_IPPROTO_TCP with EPS_TCP_..., EPS_IPPROTO_IPV6 with
 * EPS_IPV6_V6ONLY, ...) on FD to VALUE (booleans are 0 or 1).  Returns 0,
 * -ENOPROTOOPT for an unknown option, -EINVAL for the options that are not
 * integers (EPS_SO_LINGER, EPS_SO_RCVTIMEO, EPS_SO_SNDTIMEO: use their own
 * calls), ...
 */
int32_t eps_setsockopt_int(int32_t fd, int32_t level, int32_t name, int32_t value);

/**
 * Return the value of the integer socket option NAME at LEVEL on FD (as
 * for eps_setsockopt_int), a number >= 0; -ERANGE when the value is
 * negative (it cannot be told apart from a failure), -ENOPROTOOPT, -EINVAL
 * for the options that are not integers, ...
 */
int32_t eps_getsockopt_int(int32_t fd, int32_t level, int32_t name);

/**
 * Set SO_LINGER on FD: when ON is non-zero, closing FD waits up to SECONDS
 * (>= 0) for unsent data (0: reset the connection at close); when ON is 0
 * close returns at once.  Returns 0, -EINVAL for a negative SECONDS, ...
 */
int32_t eps_setsockopt_linger(int32_t fd, int32_t on, int32_t seconds);

/**
 * Read SO_LINGER on FD: store 1 or 0 in *ON and the linger time in
 * *SECONDS.  Returns 0, -EINVAL for a NULL cell, ...
 */
int32_t eps_getsockopt_linger(int32_t fd, int32_t *on, int32_t *seconds);

/**
 * Set the receive (NAME = EPS_SO_RCVTIMEO) or send (EPS_SO_SNDTIMEO)
 * timeout of FD to USEC microseconds (0: no timeout).  A blocking receive
 * or send that times out returns -EAGAIN.  Returns 0, -EINVAL for another
 * NAME or a negative USEC, ...
 */
int32_t eps_setsockopt_timeout(int32_t fd, int32_t name, int64_t usec);

/**
 * Return the receive (NAME = EPS_SO_RCVTIMEO) or send (EPS_SO_SNDTIMEO)
 * timeout of FD in microseconds (0: none), or -EINVAL for another NAME, ...
 */
int64_t eps_getsockopt_timeout(int32_t fd, int32_t name);

/* --- addresses ---------------------------------------------------------- */

/**
 * Build an IPv4 socket address from HOST, a dotted-quad literal such as
 * "127.0.0.1" (never a name: no lookup happens), and PORT (0..65535) into
 * ADDR, a buffer of ADDRCAP bytes.  Returns the address's length (16),
 * -EBADADDRESS for a HOST that is not a literal ("300.1.1.1", ""), -EINVAL
 * for a PORT out of range or a NULL HOST, -EBUFTOOSMALL.
 */
int32_t eps_addr_inet(const char *host, int32_t port, uint8_t *addr, size_t addrcap);

/**
 * Build an IPv6 socket address from HOST, an IPv6 literal without brackets
 * ("::1", "fe80::1%lo", "fe80::1%2"), PORT (0..65535) and SCOPE_ID (the
 * interface index of a link-local address, 0 for none) into ADDR, a buffer
 * of ADDRCAP bytes.  A scope in HOST after "%" is an interface name or
 * number and wins; giving both a "%" scope and a non-zero SCOPE_ID is
 * -EINVAL.  Returns the address's length (28), -EBADADDRESS for a HOST that
 * is not a literal ("::g", "") or an unknown interface, -EINVAL for a PORT
 * out of range or a NULL HOST, -EBUFTOOSMALL.
 */
int32_t eps_addr_inet6(const char *host, int32_t port, uint32_t scope_id, uint8_t *addr,
		       size_t addrcap);

/**
 * Build a Unix socket address for the file system path PATH (PATHLEN
 * bytes, no NUL byte, 1..EPS_UNIX_PATH_MAX) into ADDR, a buffer of ADDRCAP
 * bytes.  Returns the address's length, -ENAMETOOLONG for a longer path,
 * -EBADADDRESS for an empty path or one holding a NUL byte, -EBUFTOOSMALL.
 */
int32_t eps_addr_unix(const uint8_t *path, size_t pathlen, uint8_t *addr, size_t addrcap);

/**
 * Build an abstract Unix socket address (Linux: a name in no file system,
 * gone with the last socket bound to it) for NAME, NAMELEN arbitrary bytes
 * (0..EPS_UNIX_PATH_MAX), into ADDR, a buffer of ADDRCAP bytes.  Returns
 * the address's length, -ENAMETOOLONG for a longer name, -EBUFTOOSMALL.
 */
int32_t eps_addr_unix_abstract(const uint8_t *name, size_t namelen, uint8_t *addr, size_t addrcap);

/**
 * Return the family (EPS_AF_INET, EPS_AF_INET6, EPS_AF_UNIX, ...) of the
 * socket address in ADDR (ADDRLEN bytes), or -EINVAL when ADDRLEN is too
 * short to hold a family.
 */
int32_t eps_addr_family(const uint8_t *addr, size_t addrlen);

/**
 * Return the port (0..65535, host byte order) of the IPv4 or IPv6 socket
 * address in ADDR (ADDRLEN bytes); -EAFNOSUPPORT for another family,
 * -EBADADDRESS when ADDRLEN is too short for the family.
 */
int32_t eps_addr_port(const uint8_t *addr, size_t addrlen);

/**
 * Return the scope id (interface index, 0 for none) of the IPv6 socket
 * address in ADDR (ADDRLEN bytes), as a number >= 0; -EAFNOSUPPORT for
 * another family, -EBADADDRESS when ADDRLEN is too short.
 */
int64_t eps_addr_scope_id(const uint8_t *addr, size_t addrlen);

/**
 * Format the socket address in ADDR (ADDRLEN bytes) as text into TEXT, a
 * buffer of TEXTCAP bytes (EPS_ADDRESS_TEXT_MAX is always enough), NUL
 * terminated: "127.0.0.1:8080", "[::1]:8080", "[fe80::1%2]:80" (the scope
 * as a number), "/path/of/socket", "@name" for an abstract name (NUL bytes
 * in it shown as "@"), "" for an unnamed Unix socket.  Path and name bytes
 * are copied as they are (not necessarily UTF-8).  Returns the text's
 * length without the NUL, -EBUFTOOSMALL, -EAFNOSUPPORT for another family,
 * -EBADADDRESS when ADDRLEN does not fit the family.
 */
int32_t eps_addr_format(const uint8_t *addr, size_t addrlen, uint8_t *text, size_t textcap);

/**
 * Format only the host part of the IPv4 or IPv6 socket address in ADDR
 * (ADDRLEN bytes) into TEXT (TEXTCAP bytes, NUL terminated): "127.0.0.1",
 * "::1", "fe80::1%2"; for a Unix address, the path or "@name" as
 * eps_addr_format.  Returns the text's length without the NUL, or a
 * negative code as eps_addr_format.
 */
int32_t eps_addr_format_host(const uint8_t *addr, size_t addrlen, uint8_t *text, size_t textcap);

/* --- name resolution ---------------------------------------------------- */

/**
 * Resolve HOST (a name or a numeric literal; NULL with EPS_AI_PASSIVE for
 * the wildcard address) and SERVICE (a port number as text, a service name,
 * or NULL for port 0) with getaddrinfo(3), restricted to FAMILY
 * (EPS_AF_UNSPEC, EPS_AF_INET, EPS_AF_INET6), SOCKTYPE (0, EPS_SOCK_STREAM,
 * EPS_SOCK_DGRAM) and PROTOCOL (0 for any).  FLAGS: EPS_AI_PASSIVE,
 * EPS_AI_NUMERICHOST (no lookup: a name fails with -EAINONAME),
 * EPS_AI_NUMERICSERV, EPS_AI_ADDRCONFIG, EPS_AI_V4MAPPED, EPS_AI_ALL,
 * EPS_AI_CANONNAME.  This call may block (it may ask DNS servers).
 * Returns an address-list handle (free it with eps_addrinfo_free), or
 * -EAINONAME, -EAIAGAIN, -EAIFAIL, -EAINODATA, -EAIFAMILY, -EAISERVICE,
 * -EAIOTHER, -ESOCKTNOSUPPORT, -EINVAL (bad FLAGS), -ENOMEM, or the errno of
 * a system failure; the detail text says more.
 */
int64_t eps_getaddrinfo(const char *host, const char *service, int32_t family, int32_t socktype,
			int32_t protocol, int32_t flags);

/**
 * Return the number of entries (>= 1) in address list HANDLE, or
 * -EBADHANDLE.
 */
int32_t eps_addrinfo_count(int64_t handle);

/**
 * Copy entry INDEX (0 .. count-1) of address list HANDLE: its socket
 * address into ADDR, a buffer of ADDRCAP bytes (give EPS_SOCKADDR_MAX), and
 * into INFO, when not NULL, three int32 cells: family, socket type,
 * protocol.  Returns the address's length, -EBADHANDLE, -EINVAL for an
 * INDEX out of range, -EBUFTOOSMALL.
 */
int32_t eps_addrinfo_get(int64_t handle, int32_t index, uint8_t *addr, size_t addrcap,
			 int32_t *info);

/**
 * Copy the canonical name of address list HANDLE (asked for with
 * EPS_AI_CANONNAME) into TEXT, a buffer of TEXTCAP bytes, NUL terminated.
 * Returns the name's length without the NUL, -ENODATA when the list has no
 * canonical name, -EBUFTOOSMALL, -EBADHANDLE.
 */
int32_t eps_addrinfo_canonname(int64_t handle, uint8_t *text, size_t textcap);

/**
 * Free address list HANDLE.  Returns 0, or -EBADHANDLE (also when freed
 * already).
 */
int32_t eps_addrinfo_free(int64_t handle);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_NET_H */
