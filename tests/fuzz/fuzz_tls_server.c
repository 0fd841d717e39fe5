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
#include "fuzzrng.h"
#include "fuzztls.h"

static int64_t server_ctx;

#define SEED_SERVER UINT64_C(0x45505346555a5a31)

static void record(const char *path);

/* After a read that returned data: what is left buffered stays within a record. */
static void check_pending(int64_t conn)
{
	int64_t p = eps_tls_connection_pending(conn);
	FZ_CHECK(p >= 0 && p <= 16384 + 2048, "pending %lld", (long long)p);
}

static void attempt(int64_t conn, uint8_t flags)
{
	static const uint8_t reply[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
	fz_tls_attempt(conn, flags, reply, sizeof reply - 1, check_pending);
	int64_t r;
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
	fz_trace = getenv("EPS_FUZZ_TRACE") != NULL;
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
	return fz_tls_pair(server_ctx, sv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();

	int32_t sv[2];
	int64_t conn = session_open(sv);

	uint8_t mode = fz_u8(&f);
	fz_tls_steps(&f, conn, sv[1], attempt);
	fz_tls_peer_leaves(conn, sv, mode, attempt);
	FZ_CHECK(eps_tls_connection_read(conn, (uint8_t[1]){0}, 1) == -EPS_EBADHANDLE,
		 "read after free");
	fz_tls_release(sv, mode, live0, fds0);
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
	int64_t r = fz_tls_handshake_wait(conn);
	FZ_CHECK(r == 0, "client handshake: %s", eps_errname((int32_t)r));
	static const uint8_t request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	FZ_CHECK(eps_tls_connection_write(conn, request, sizeof request - 1) ==
		     (int64_t)sizeof request - 1,
		 "request");
	uint8_t buf[4096];
	/* Session tickets first (TLS 1.3), then the reply. */
	r = fz_tls_read_wait(conn, buf, sizeof buf);
	FZ_CHECK(r > 0, "reply: %s", eps_errname((int32_t)r));
	fz_tls_peer_close(conn, "client");
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
	struct fz_record rec = fz_record_start(path, client, max_version);
	int32_t sv[2];
	int64_t conn = session_open(sv);
	uint8_t mode = 1; /* the peer half-closes at the end */
	fz_put(rec.out, &mode, 1);
	int replied = 0;
	for (int steps = 0; steps < 64; steps++) {
		uint8_t chunk[16384];
		ssize_t n = fz_record_next(&rec, chunk, sizeof chunk);
		if (n <= 0)
			break;
		int done = eps_tls_connection_version(conn) != 0;
		uint8_t flags = !done ? 0x03 : !replied ? 0x06 : 0x0a;
		if (done && !replied)
			replied = 1;
		fz_record_step(&rec, flags, chunk, n, sv[1]);
		attempt(conn, flags);
		/* The server's answer goes to the client (the harness drops it). */
		fz_record_relay(&rec, sv[1]);
	}
	fz_record_finish(&rec, conn, sv);
}
