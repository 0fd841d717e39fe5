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
#include "fuzzrng.h"
#include "fuzztls.h"

#define SEED_CLIENT UINT64_C(0x45505346555a5a32)

static int64_t open_ctx, verify_ctx, open_ctx12;

static void attempt(int64_t conn, uint8_t flags)
{
	static const uint8_t request[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	fz_tls_attempt(conn, flags, request, sizeof request - 1, NULL);
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
		int64_t r = eps_tls_connection_version(conn);
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
	fz_trace = getenv("EPS_FUZZ_TRACE") != NULL;
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
	int64_t conn = fz_tls_pair((mode & 4)	? verify_ctx
				   : (mode & 8) ? open_ctx12
						: open_ctx,
				   sv);
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
	fz_drain(sv[1]);
	fz_tls_steps(&f, conn, sv[1], attempt);
	fz_tls_peer_leaves(conn, sv, mode, attempt);
	fz_tls_release(sv, mode, live0, fds0);
	return 0;
}

/* --- recording a seed ------------------------------------------------------ */

/* The server, in a child: handshake, the request, a reply, close_notify. */
static void server(int fd, int32_t unused)
{
	(void)unused;
	int64_t ctx = fz_server_context();
	FZ_CHECK(eps_tls_context_set_alpn_protocols(ctx, "h2,http/1.1") == 0, "alpn");
	FZ_CHECK(eps__fd_register(fd, 0) == fd, "register");
	int64_t conn = eps_tls_connection_new(ctx, fd);
	FZ_CHECK(conn > 0, "server connection");
	int64_t r = fz_tls_handshake_wait(conn);
	FZ_CHECK(r == 0, "server handshake: %s", eps_errname((int32_t)r));
	uint8_t buf[4096];
	r = fz_tls_read_wait(conn, buf, sizeof buf);
	FZ_CHECK(r > 0, "request: %s", eps_errname((int32_t)r));
	static const uint8_t reply[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
	FZ_CHECK(eps_tls_connection_write(conn, reply, sizeof reply - 1) ==
		     (int64_t)sizeof reply - 1,
		 "reply");
	fz_tls_peer_close(conn, "server");
}

static void record(const char *path)
{
	const char *v = getenv("EPS_FUZZ_RECORD_VERSION");
	uint8_t mode = (uint8_t)(1 | (v && strcmp(v, "1.2") == 0 ? 8 : 0));
	struct fz_record rec = fz_record_start(path, server, 0);
	fz_put(rec.out, &mode, 1);
	int32_t sv[2];
	int64_t conn = session_open(mode, sv);
	fz_record_relay(&rec, sv[1]);
	for (int steps = 0; steps < 64; steps++) {
		uint8_t chunk[16384];
		ssize_t n = fz_record_next(&rec, chunk, sizeof chunk);
		if (n <= 0)
			break;
		/*
		 * During the handshake: handshake, read, and the request (it
		 * waits until the handshake is through); then reads and a close.
		 */
		uint8_t flags = eps_tls_connection_version(conn) == 0 ? 0x17 : 0x1a;
		fz_record_step(&rec, flags, chunk, n, sv[1]);
		attempt(conn, flags);
		fz_record_relay(&rec, sv[1]);
	}
	fz_record_finish(&rec, conn, sv);
}
