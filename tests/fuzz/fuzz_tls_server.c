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
 */
#include <sys/socket.h>

#include "fuzzlib.h"

static int64_t server_ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	server_ctx = fz_server_context();
	return 0;
}

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
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= 0, "handshake returned %lld", (long long)r);
	}
	if (flags & 2) {
		size_t len = (flags & 0x40) ? 1 : sizeof buf;
		r = eps_tls_connection_read(conn, buf, len);
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
		FZ_CHECK_CODE(r);
		FZ_CHECK(r <= (int64_t)sizeof reply - 1, "write %lld", (long long)r);
	}
	if (flags & 8) {
		r = eps_tls_connection_shutdown(conn);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();

	int32_t sv[2];
	int32_t r = eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM | EPS_SOCK_NONBLOCK, 0, sv);
	FZ_CHECK(r == 0, "socketpair: %s", eps_errname(r));
	int64_t conn = eps_tls_connection_new(server_ctx, sv[0]);
	FZ_CHECK(conn > 0, "connection: %s", eps_errname((int32_t)conn));
	FZ_CHECK(eps_tls_connection_set_nonblocking(conn, 1) == 0, "set_nonblocking");

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
