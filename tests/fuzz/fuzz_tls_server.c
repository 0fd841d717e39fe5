/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_server - arbitrary bytes from a peer, fed to a server-side TLS
 * connection.
 *
 * The connection runs over one end of a non-blocking socketpair; the input
 * plays the client on the other end.  It is a sequence of steps: write the
 * next chunk of the input (a length the input chooses, then that many
 * bytes) to the peer end, then make the attempts the step's flags ask for
 * (handshake, read, write, shutdown, pending), discarding whatever the
 * server sent back so it never fills its socket.  Then the peer half-closes
 * or vanishes, the server gets one more look, and everything is freed: no
 * handle or descriptor may outlive the input.
 *
 * OpenSSL's random numbers come from a generator of ours, reset before
 * every input, so the server answers the same input with the same bytes
 * (its random, key share, signature).  A recorded client flight then
 * replays: the handshake completes and the input reaches records, reads,
 * writes and close_notify.  EPS_FUZZ_RECORD=FILE runs a real client (our
 * library's, in a child process) against the server through this harness
 * and writes its side as a seed (tests/fuzz/make-corpus.py does that);
 * EPS_FUZZ_RECORD_VERSION=1.2 caps it at TLS 1.2.  EPS_FUZZ_TRACE=1 prints
 * each attempt's results.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzzlib.h"
#include "fuzzrng.h"

static int64_t server_ctx;
static int trace;

#define SEED_SERVER UINT64_C(0x45505346555a5a31)

static void record(const char *path);

/* Throw away what the server wrote; never block. */
static void drain(int32_t fd)
{
	uint8_t buf[4096];
	for (int i = 0; i < 64; i++)
		if (eps_recv(fd, buf, sizeof buf, EPS_MSG_DONTWAIT) <= 0)
			break;
}

static void attempt(int64_t conn, uint8_t flags)
{
	uint8_t buf[2048];
	int64_t r;
	if (flags & 1) {
		r = eps_tls_connection_handshake(conn);
		if (trace)
			fprintf(stderr, "handshake %s\n", r ? eps_errname((int32_t)r) : "done");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 0, "handshake returned %lld", (long long)r);
	}
	if (flags & 2) {
		size_t len = (flags & 0x40) ? 1 : sizeof buf;
		r = eps_tls_connection_read(conn, buf, len);
		if (trace)
			fprintf(stderr, "read %lld %s\n", (long long)r,
				r < 0 ? eps_errname((int32_t)r) : "");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)len, "read %lld of %zu", (long long)r, len);
		if (r > 0) {
			int64_t p = eps_tls_connection_pending(conn);
			FZ_CHECK(p >= 0 && p <= 16384 + 2048, "pending %lld", (long long)p);
		}
	}
	if (flags & 4) {
		static const uint8_t reply[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
		r = eps_tls_connection_write(conn, reply, sizeof reply - 1);
		if (trace)
			fprintf(stderr, "write %lld %s\n", (long long)r,
				r < 0 ? eps_errname((int32_t)r) : "");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)sizeof reply - 1, "write %lld", (long long)r);
	}
	if (flags & 8) {
		r = eps_tls_connection_shutdown(conn);
		if (trace)
			fprintf(stderr, "shutdown %lld %s\n", (long long)r,
				r < 0 ? eps_errname((int32_t)r) : "");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 3, "shutdown state %lld", (long long)r);
	}
	if (flags & 0x10) {
		r = eps_tls_connection_pending(conn);
		FZ_CHECK(r >= 0, "pending on a live connection: %lld", (long long)r);
		r = eps_tls_connection_version(conn);
		FZ_CHECK(r == 0 || r == EPS_TLS_VERSION_1_2 || r == EPS_TLS_VERSION_1_3,
			 "version %lld", (long long)r);
		r = eps_tls_connection_verify_result(conn);
		FZ_CHECK(r >= 0, "verify result %lld", (long long)r);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("EPS_FUZZ_TRACE") != NULL;
	/* Before the context exists: its ticket keys come from it too. */
	fz_rng_install(SEED_SERVER);
	server_ctx = fz_server_context();
	const char *out = getenv("EPS_FUZZ_RECORD");
	if (out != NULL) {
		record(out);
		exit(0);
	}
	return 0;
}

/* The server's connection over SV[0]; the same steps for fuzzing and recording. */
static int64_t session_open(int32_t sv[2])
{
	fz_rng_state = SEED_SERVER;
	int32_t r = eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0, sv);
	FZ_CHECK(r == 0, "socketpair: %s", eps_errname(r));
	int64_t conn = eps_tls_connection_new(server_ctx, sv[0]);
	FZ_CHECK(conn > 0, "connection: %s", eps_errname((int32_t)conn));
	FZ_CHECK(eps_tls_connection_set_nonblocking(conn, 1) == 0, "set_nonblocking");
	return conn;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();

	int32_t sv[2];
	int64_t conn = session_open(sv);

	uint8_t mode = fz_u8(&f);
	for (int steps = 0; steps < 256 && !fz_empty(&f); steps++) {
		uint8_t flags = fz_u8(&f);
		size_t len;
		const uint8_t *chunk = fz_bytes(&f, 16384, &len);
		size_t off = 0;
		/* The peer's socket buffer is large; a bounded number of tries. */
		for (int tries = 0; off < len && tries < 4; tries++) {
			int64_t n = eps_send(sv[1], chunk + off, len - off, EPS_MSG_DONTWAIT);
			if (n > 0)
				off += (size_t)n;
			else
				attempt(conn, 2);
		}
		attempt(conn, flags);
		drain(sv[1]);
	}

	/* The peer goes away: politely (half-close) or abruptly. */
	if (mode & 1)
		(void)eps_shutdown(sv[1], EPS_SHUT_WR);
	else
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	attempt(conn, (uint8_t)(2 | ((mode & 2) ? 8 : 0) | 0x10));

	FZ_CHECK(eps_tls_connection_free(conn) == 0, "free");
	FZ_CHECK(eps_tls_connection_free(conn) == -EPS_EBADHANDLE, "second free");
	FZ_CHECK(eps_tls_connection_read(conn, (uint8_t[1]){0}, 1) == -EPS_EBADHANDLE,
		 "read after free");
	FZ_CHECK(eps_close(sv[0]) == 0, "close");
	if (mode & 1)
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == fds0, "descriptors leaked");
	return 0;
}

/* --- recording a seed ------------------------------------------------------ */

/* The client, in a child: handshake, a request, the reply, close_notify. */
static void client(int fd, int32_t max_version)
{
	fz_rng_state = UINT64_C(0x636c69656e74); /* not the server's sequence */
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, max_version);
	FZ_CHECK(ctx > 0, "client context");
	FZ_CHECK(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_NONE) == 0, "verify");
	FZ_CHECK(eps__fd_register(fd, 0) == fd, "register");
	int64_t conn = eps_tls_connection_new(ctx, fd);
	FZ_CHECK(conn > 0, "client connection");
	int64_t r;
	while ((r = eps_tls_connection_handshake(conn)) == -EPS_ETLSWANTREAD)
		;
	FZ_CHECK(r == 0, "client handshake: %s", eps_errname((int32_t)r));
	static const uint8_t request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	FZ_CHECK(eps_tls_connection_write(conn, request, sizeof request - 1) ==
		     (int64_t)sizeof request - 1,
		 "request");
	uint8_t buf[4096];
	/* Session tickets first (TLS 1.3), then the reply. */
	while ((r = eps_tls_connection_read(conn, buf, sizeof buf)) == -EPS_ETLSWANTREAD)
		;
	FZ_CHECK(r > 0, "reply: %s", eps_errname((int32_t)r));
	r = eps_tls_connection_shutdown(conn);
	FZ_CHECK(r >= 0, "client shutdown: %s", eps_errname((int32_t)r));
	/* Wait for the server's close_notify or the end of the stream. */
	for (int i = 0; i < 100 && (r = eps_tls_connection_read(conn, buf, sizeof buf)) != 0; i++)
		if (r < 0 && r != -EPS_ETLSWANTREAD)
			break;
	_exit(0);
}

static void put(FILE *out, const void *p, size_t n)
{
	FZ_CHECK(fwrite(p, 1, n, out) == n, "write the seed");
}

/*
 * Relay between a real client and the server, in steps the harness can
 * replay: each burst from the client becomes a chunk, followed by the
 * attempts a server would make at that point.
 */
static void record(const char *path)
{
	const char *v = getenv("EPS_FUZZ_RECORD_VERSION");
	int32_t max_version = v && strcmp(v, "1.2") == 0 ? EPS_TLS_VERSION_1_2 : 0;
	int link[2];
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) == 0, "socketpair");
	pid_t pid = fork();
	FZ_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(link[0]);
		client(link[1], max_version);
	}
	close(link[1]);

	FILE *out = fopen(path, "wb");
	FZ_CHECK(out != NULL, "open %s", path);
	int32_t sv[2];
	int64_t conn = session_open(sv);
	uint8_t mode = 1; /* the peer half-closes at the end */
	put(out, &mode, 1);
	int replied = 0;
	for (int steps = 0; steps < 64; steps++) {
		struct pollfd p = {.fd = link[0], .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break;
		uint8_t chunk[16384];
		ssize_t n = recv(link[0], chunk, sizeof chunk, MSG_DONTWAIT);
		if (n <= 0)
			break;
		int done = eps_tls_connection_version(conn) != 0;
		uint8_t flags = !done ? 0x03 : !replied ? 0x06 : 0x0a;
		if (done && !replied)
			replied = 1;
		uint16_t len = (uint16_t)n;
		put(out, &flags, 1);
		put(out, &len, 2);
		put(out, chunk, (size_t)n);
		FZ_CHECK(eps_send(sv[1], chunk, (size_t)n, 0) == n, "relay to the server");
		attempt(conn, flags);
		/* The server's answer goes to the client (the harness drops it). */
		for (;;) {
			int64_t m = eps_recv(sv[1], chunk, sizeof chunk, EPS_MSG_DONTWAIT);
			if (m <= 0)
				break;
			FZ_CHECK(send(link[0], chunk, (size_t)m, MSG_NOSIGNAL) == m,
				 "relay to the client");
		}
	}
	FZ_CHECK(fclose(out) == 0, "close the seed");
	int status;
	FZ_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the client failed");
	(void)eps_tls_connection_free(conn);
	(void)eps_close(sv[0]);
	(void)eps_close(sv[1]);
	close(link[0]);
}
