/* SPDX-License-Identifier: MIT */
/*
 * fuzztls.h - the harness fuzz_tls_server and fuzz_tls_client share: a TLS
 * connection over one end of a non-blocking socketpair, the input playing
 * the peer on the other end, step by step; and the recording of a seed
 * from a real peer in a child process.  The two targets differ only in
 * the role they fuzz, what each step may try on top of the common
 * attempts, and how a recorded flight is cut into steps.
 *
 * Kept apart from fuzzlib.h, which every target includes: this part needs
 * the socket headers and is of use to the TLS targets alone.
 */
#ifndef EPSILON_FUZZTLS_H
#define EPSILON_FUZZTLS_H

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzzlib.h"

/* EPS_FUZZ_TRACE=1: each attempt's results on stderr. */
static int fz_trace;

static inline void fz_trace_result(const char *what, int64_t r)
{
	if (fz_trace)
		fprintf(stderr, "%s %lld %s\n", what, (long long)r,
			r < 0 ? eps_errname((int32_t)r) : "");
}

/* Throw away what the connection wrote to the peer end FD; never block. */
static inline void fz_drain(int32_t fd)
{
	uint8_t buf[4096];
	for (int i = 0; i < 64; i++)
		if (eps_recv(fd, buf, sizeof buf, EPS_MSG_DONTWAIT) <= 0)
			break;
}

/* A connection of CTX over SV[0] of a new non-blocking socketpair. */
static inline int64_t fz_tls_pair(int64_t ctx, int32_t sv[2])
{
	int32_t r = eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0, sv);
	FZ_CHECK(r == 0, "socketpair: %s", eps_errname(r));
	int64_t conn = eps_tls_connection_new(ctx, sv[0]);
	FZ_CHECK(conn > 0, "connection: %s", eps_errname((int32_t)conn));
	FZ_CHECK(eps_tls_connection_set_nonblocking(conn, 1) == 0, "set_nonblocking");
	return conn;
}

/*
 * The attempts both roles make, each a step's flag: handshake (1), read
 * (2; 0x40 reads one byte; AFTER_READ, unless NULL, then looks at CONN
 * when it returned data), write MSG (4), shutdown (8).  Each result must
 * be a success or a known code within its bounds.
 */
static inline void fz_tls_attempt(int64_t conn, uint8_t flags, const uint8_t *msg, size_t msglen,
				  void (*after_read)(int64_t conn))
{
	uint8_t buf[2048];
	int64_t r;
	if (flags & 1) {
		r = eps_tls_connection_handshake(conn);
		if (fz_trace)
			fprintf(stderr, "handshake %s\n", r ? eps_errname((int32_t)r) : "done");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 0, "handshake returned %lld", (long long)r);
	}
	if (flags & 2) {
		size_t len = (flags & 0x40) ? 1 : sizeof buf;
		r = eps_tls_connection_read(conn, buf, len);
		fz_trace_result("read", r);
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)len, "read %lld of %zu", (long long)r, len);
		if (r > 0 && after_read != NULL)
			after_read(conn);
	}
	if (flags & 4) {
		r = eps_tls_connection_write(conn, msg, msglen);
		fz_trace_result("write", r);
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)msglen, "write %lld", (long long)r);
	}
	if (flags & 8) {
		r = eps_tls_connection_shutdown(conn);
		fz_trace_result("shutdown", r);
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 3, "shutdown state %lld", (long long)r);
	}
}

/* What a target tries in one step: the flags' attempts on CONN. */
typedef void fz_attempt_fn(int64_t conn, uint8_t flags);

/*
 * The input's steps against CONN, the peer end being PEER: each writes the
 * next chunk of the input (a length the input chooses, then that many
 * bytes) to PEER, makes the step's attempts, and discards what CONN sent.
 */
static inline void fz_tls_steps(struct fz *f, int64_t conn, int32_t peer, fz_attempt_fn *attempt)
{
	for (int steps = 0; steps < 256 && !fz_empty(f); steps++) {
		uint8_t flags = fz_u8(f);
		size_t len;
		const uint8_t *chunk = fz_bytes(f, 16384, &len);
		size_t off = 0;
		/* The peer's socket buffer is large; a bounded number of tries. */
		for (int tries = 0; off < len && tries < 4; tries++) {
			int64_t n = eps_send(peer, chunk + off, len - off, EPS_MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			else
				attempt(conn, 2);
		}
		attempt(conn, flags);
		fz_drain(peer);
	}
}

/*
 * The peer goes away, politely (MODE bit 1: half-close) or abruptly; CONN
 * gets one more look (a read, a shutdown when MODE bit 2, the information
 * attempts) and is freed, twice: the second free must fail.
 */
static inline void fz_tls_peer_leaves(int64_t conn, int32_t sv[2], uint8_t mode,
				      fz_attempt_fn *attempt)
{
	if (mode & 1)
		(void)eps_shutdown(sv[1], EPS_SHUT_WR);
	else
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	attempt(conn, (uint8_t)(2 | ((mode & 2) ? 8 : 0) | 0x10));

	FZ_CHECK(eps_tls_connection_free(conn) == 0, "free");
	FZ_CHECK(eps_tls_connection_free(conn) == -EPS_EBADHANDLE, "second free");
}

/* Close what is left of SV; no handle or descriptor may outlive the input. */
static inline void fz_tls_release(int32_t sv[2], uint8_t mode, int64_t live0, int64_t fds0)
{
	FZ_CHECK(eps_close(sv[0]) == 0, "close");
	if (mode & 1)
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == fds0, "descriptors leaked");
}

/* --- recording a seed ------------------------------------------------------ */

/* The real peer's blocking-style calls over its non-blocking connection. */
static inline int64_t fz_tls_handshake_wait(int64_t conn)
{
	int64_t r;
	while ((r = eps_tls_connection_handshake(conn)) == -EPS_ETLSWANTREAD)
		;
	return r;
}

static inline int64_t fz_tls_read_wait(int64_t conn, uint8_t *buf, size_t len)
{
	int64_t r;
	while ((r = eps_tls_connection_read(conn, buf, len)) == -EPS_ETLSWANTREAD)
		;
	return r;
}

/* The real peer's close_notify, then the other side's or the end of the stream; exits. */
static inline void fz_tls_peer_close(int64_t conn, const char *who)
{
	int64_t r = eps_tls_connection_shutdown(conn);
	FZ_CHECK(r >= 0, "%s shutdown: %s", who, eps_errname((int32_t)r));
	uint8_t buf[4096];
	for (int i = 0; i < 100 && (r = eps_tls_connection_read(conn, buf, sizeof buf)) != 0; i++)
		if (r < 0 && r != -EPS_ETLSWANTREAD)
			break;
	_exit(0);
}

/* A recording: the seed file, the real peer's process and the link to it. */
struct fz_record {
	FILE *out;
	pid_t pid;
	int link;
};

/*
 * Start PEER(fd, ARG) in a child over one end of a new socketpair (it never
 * returns) and open the seed file PATH.
 */
static inline struct fz_record fz_record_start(const char *path, void (*peer)(int, int32_t),
					       int32_t arg)
{
	int link[2];
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) == 0, "socketpair");
	pid_t pid = fork();
	FZ_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(link[0]);
		peer(link[1], arg);
	}
	close(link[1]);

	FILE *out = fopen(path, "wb");
	FZ_CHECK(out != NULL, "open %s", path);
	return (struct fz_record){out, pid, link[0]};
}

static inline void fz_put(FILE *out, const void *p, size_t n)
{
	FZ_CHECK(fwrite(p, 1, n, out) == n, "write the seed");
}

/* The real peer's next burst into CHUNK (CAP bytes): its length, or <= 0 when it is done. */
static inline ssize_t fz_record_next(const struct fz_record *rec, uint8_t *chunk, size_t cap)
{
	struct pollfd p = {.fd = rec->link, .events = POLLIN};
	if (poll(&p, 1, 5000) != 1)
		return 0;
	return recv(rec->link, chunk, cap, MSG_DONTWAIT);
}

/* The burst CHUNK (N bytes) as a step of the seed, with FLAGS; and to the harness's peer end. */
static inline void fz_record_step(const struct fz_record *rec, uint8_t flags, const uint8_t *chunk,
				  ssize_t n, int32_t peer)
{
	uint16_t len = (uint16_t)n;
	fz_put(rec->out, &flags, 1);
	fz_put(rec->out, &len, 2);
	fz_put(rec->out, chunk, (size_t)n);
	FZ_CHECK(eps_send(peer, chunk, (size_t)n, 0) == n, "relay to the connection");
}

/* Whatever the connection wrote to the peer end FROM goes to the real peer. */
static inline void fz_record_relay(const struct fz_record *rec, int32_t from)
{
	uint8_t chunk[16384];
	for (;;) {
		int64_t m = eps_recv(from, chunk, sizeof chunk, EPS_MSG_DONTWAIT);
		if (m <= 0)
			break;
		FZ_CHECK(send(rec->link, chunk, (size_t)m, MSG_NOSIGNAL) == m,
			 "relay to the real peer");
	}
}

/*
 * Close the seed, wait for the real peer (it must have succeeded), free the
 * rest.  The link closes first: a peer still waiting to read (the relay
 * stopped early) sees the end of the stream instead of hanging the wait.
 */
static inline void fz_record_finish(struct fz_record *rec, int64_t conn, int32_t sv[2])
{
	FZ_CHECK(fclose(rec->out) == 0, "close the seed");
	close(rec->link);
	int status;
	FZ_CHECK(waitpid(rec->pid, &status, 0) == rec->pid && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0,
		 "the real peer failed");
	(void)eps_tls_connection_free(conn);
	(void)eps_close(sv[0]);
	(void)eps_close(sv[1]);
}

#endif
