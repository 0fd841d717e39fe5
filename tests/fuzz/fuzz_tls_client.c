/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_client - arbitrary bytes from a server, fed to a client-side
 * TLS connection: what a malicious or broken server can send.
 *
 * As fuzz_tls_server, with the roles swapped.  The client connection runs
 * over one end of a non-blocking socketpair; the input plays the server on
 * the other end.  The client speaks first (its ClientHello goes out before
 * the first step); then each step writes the next chunk of the input (a
 * length the input chooses, then that many bytes) to the peer end and
 * makes the attempts the step's flags ask for (handshake, read, write,
 * shutdown, information), discarding what the client sent.  The first byte
 * picks the peer's exit (half-close or close) and the context: one that
 * does not verify (so the input can reach records after the handshake) or
 * one that verifies against no trusted CA and names "localhost" (so a
 * certificate always fails, down the verification paths).
 *
 * OpenSSL's random numbers come from fuzzrng.h, reset before every input:
 * the client's hello is the same every time, so a recorded server flight
 * replays.  EPS_FUZZ_RECORD=FILE runs a real server (our library's, in a
 * child process) against the client through this harness and writes its
 * side as a seed (make-corpus.py); EPS_FUZZ_RECORD_VERSION=1.2 caps the
 * client at TLS 1.2.  EPS_FUZZ_TRACE=1 prints each attempt's results.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzzlib.h"
#include "fuzzrng.h"

#define SEED_CLIENT UINT64_C(0x45505346555a5a32)

static int64_t open_ctx, verify_ctx, open_ctx12;
static int trace;

/* Throw away what the client wrote; never block. */
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
	}
	if (flags & 4) {
		static const uint8_t request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
		r = eps_tls_connection_write(conn, request, sizeof request - 1);
		if (trace)
			fprintf(stderr, "write %lld %s\n", (long long)r,
				r < 0 ? eps_errname((int32_t)r) : "");
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)sizeof request - 1, "write %lld", (long long)r);
	}
	if (flags & 8) {
		r = eps_tls_connection_shutdown(conn);
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 3, "shutdown state %lld", (long long)r);
	}
	if (flags & 0x10) {
		/* What a client reads about the server it reached. */
		char text[4096];
		int32_t t = eps_tls_connection_peer_subject(conn, (uint8_t *)text, sizeof text);
		FZ_CHECK(t >= 0 || t == -EPS_ENOENT, "subject %d", t);
		t = eps_tls_connection_peer_alt_names(conn, (uint8_t *)text, sizeof text);
		FZ_CHECK(t >= 0 || t == -EPS_ENOENT, "alt names %d", t);
		t = eps_tls_connection_peer_fingerprint(conn, (uint8_t *)text, sizeof text);
		FZ_CHECK(t == 95 || t == -EPS_ENOENT, "fingerprint %d", t);
		int64_t nb, na;
		t = eps_tls_connection_peer_validity(conn, &nb, &na);
		FZ_CHECK(t == 0 || t == -EPS_ENOENT || t == -EPS_ETLS, "validity %d", t);
		t = eps_tls_connection_alpn_protocol(conn, (uint8_t *)text, sizeof text);
		FZ_CHECK(t >= 0 || t == -EPS_ENOENT, "alpn %d", t);
		int64_t s = eps_tls_connection_get_session(conn);
		FZ_CHECK(s > 0 || s == -EPS_EAGAIN || s == -EPS_ETLSCLOSED, "session %lld",
			 (long long)s);
		if (s > 0)
			FZ_CHECK(eps_tls_session_free(s) == 0, "session free");
		r = eps_tls_connection_version(conn);
		FZ_CHECK(r == 0 || r == EPS_TLS_VERSION_1_2 || r == EPS_TLS_VERSION_1_3,
			 "version %lld", (long long)r);
	}
}

static int64_t client_context(int32_t max_version, int verify)
{
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, max_version);
	FZ_CHECK(ctx > 0, "client context: %s", eps_errname((int32_t)ctx));
	FZ_CHECK(eps_tls_context_set_verify(ctx, verify ? EPS_TLS_VERIFY_PEER
							: EPS_TLS_VERIFY_NONE) == 0,
		 "verify");
	FZ_CHECK(eps_tls_context_set_alpn_protocols(ctx, "h2,http/1.1") == 0, "alpn");
	return ctx;
}

static void record(const char *path);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("EPS_FUZZ_TRACE") != NULL;
	fz_rng_install(SEED_CLIENT);
	open_ctx = client_context(0, 0);
	open_ctx12 = client_context(EPS_TLS_VERSION_1_2, 0);
	verify_ctx = client_context(0, 1);
	const char *out = getenv("EPS_FUZZ_RECORD");
	if (out != NULL) {
		record(out);
		exit(0);
	}
	return 0;
}

/* The client's connection over SV[0], its hello sent; the same for fuzzing and recording. */
static int64_t session_open(uint8_t mode, int32_t sv[2])
{
	fz_rng_state = SEED_CLIENT;
	int32_t r = eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0, sv);
	FZ_CHECK(r == 0, "socketpair: %s", eps_errname(r));
	int64_t ctx = (mode & 4) ? verify_ctx : (mode & 8) ? open_ctx12 : open_ctx;
	int64_t conn = eps_tls_connection_new(ctx, sv[0]);
	FZ_CHECK(conn > 0, "connection: %s", eps_errname((int32_t)conn));
	FZ_CHECK(eps_tls_connection_set_nonblocking(conn, 1) == 0, "set_nonblocking");
	FZ_CHECK(eps_tls_connection_set_hostname(conn, "localhost") == 0, "hostname");
	attempt(conn, 1);
	return conn;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();

	uint8_t mode = fz_u8(&f);
	int32_t sv[2];
	int64_t conn = session_open(mode, sv);
	drain(sv[1]);
	for (int steps = 0; steps < 256 && !fz_empty(&f); steps++) {
		uint8_t flags = fz_u8(&f);
		size_t len;
		const uint8_t *chunk = fz_bytes(&f, 16384, &len);
		size_t off = 0;
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

	if (mode & 1)
		(void)eps_shutdown(sv[1], EPS_SHUT_WR);
	else
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	attempt(conn, (uint8_t)(2 | ((mode & 2) ? 8 : 0) | 0x10));

	FZ_CHECK(eps_tls_connection_free(conn) == 0, "free");
	FZ_CHECK(eps_tls_connection_free(conn) == -EPS_EBADHANDLE, "second free");
	FZ_CHECK(eps_close(sv[0]) == 0, "close");
	if (mode & 1)
		FZ_CHECK(eps_close(sv[1]) == 0, "close peer");
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == fds0, "descriptors leaked");
	return 0;
}

/* --- recording a seed ------------------------------------------------------ */

/* The server, in a child: handshake, the request, a reply, close_notify. */
static void server(int fd)
{
	int64_t ctx = fz_server_context();
	FZ_CHECK(eps_tls_context_set_alpn_protocols(ctx, "h2,http/1.1") == 0, "alpn");
	FZ_CHECK(eps__fd_register(fd, 0) == fd, "register");
	int64_t conn = eps_tls_connection_new(ctx, fd);
	FZ_CHECK(conn > 0, "server connection");
	int64_t r;
	while ((r = eps_tls_connection_handshake(conn)) == -EPS_ETLSWANTREAD)
		;
	FZ_CHECK(r == 0, "server handshake: %s", eps_errname((int32_t)r));
	uint8_t buf[4096];
	while ((r = eps_tls_connection_read(conn, buf, sizeof buf)) == -EPS_ETLSWANTREAD)
		;
	FZ_CHECK(r > 0, "request: %s", eps_errname((int32_t)r));
	static const uint8_t reply[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
	FZ_CHECK(eps_tls_connection_write(conn, reply, sizeof reply - 1) ==
		     (int64_t)sizeof reply - 1,
		 "reply");
	r = eps_tls_connection_shutdown(conn);
	FZ_CHECK(r >= 0, "server shutdown: %s", eps_errname((int32_t)r));
	for (int i = 0; i < 100 && (r = eps_tls_connection_read(conn, buf, sizeof buf)) != 0; i++)
		if (r < 0 && r != -EPS_ETLSWANTREAD)
			break;
	_exit(0);
}

static void put(FILE *out, const void *p, size_t n)
{
	FZ_CHECK(fwrite(p, 1, n, out) == n, "write the seed");
}

/* Whatever the client sent goes to the real server. */
static void relay_to_server(int32_t from, int to)
{
	uint8_t chunk[16384];
	for (;;) {
		int64_t m = eps_recv(from, chunk, sizeof chunk, EPS_MSG_DONTWAIT);
		if (m <= 0)
			break;
		FZ_CHECK(send(to, chunk, (size_t)m, MSG_NOSIGNAL) == m, "relay to the server");
	}
}

static void record(const char *path)
{
	const char *v = getenv("EPS_FUZZ_RECORD_VERSION");
	uint8_t mode = (uint8_t)(1 | (v && strcmp(v, "1.2") == 0 ? 8 : 0));
	int link[2];
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, link) == 0, "socketpair");
	pid_t pid = fork();
	FZ_CHECK(pid >= 0, "fork");
	if (pid == 0) {
		close(link[0]);
		server(link[1]);
	}
	close(link[1]);

	FILE *out = fopen(path, "wb");
	FZ_CHECK(out != NULL, "open %s", path);
	put(out, &mode, 1);
	int32_t sv[2];
	int64_t conn = session_open(mode, sv);
	relay_to_server(sv[1], link[0]);
	for (int steps = 0; steps < 64; steps++) {
		struct pollfd p = {.fd = link[0], .events = POLLIN};
		if (poll(&p, 1, 5000) != 1)
			break;
		uint8_t chunk[16384];
		ssize_t n = recv(link[0], chunk, sizeof chunk, MSG_DONTWAIT);
		if (n <= 0)
			break;
		/*
		 * During the handshake: handshake, read, and the request (it
		 * waits until the handshake is through); then reads and a close.
		 */
		uint8_t flags = eps_tls_connection_version(conn) == 0 ? 0x17 : 0x1a;
		uint16_t len = (uint16_t)n;
		put(out, &flags, 1);
		put(out, &len, 2);
		put(out, chunk, (size_t)n);
		FZ_CHECK(eps_send(sv[1], chunk, (size_t)n, 0) == n, "relay to the client");
		attempt(conn, flags);
		relay_to_server(sv[1], link[0]);
	}
	FZ_CHECK(fclose(out) == 0, "close the seed");
	int status;
	FZ_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the server failed");
	(void)eps_tls_connection_free(conn);
	(void)eps_close(sv[0]);
	(void)eps_close(sv[1]);
	close(link[0]);
}
