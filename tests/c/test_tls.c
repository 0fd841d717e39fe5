/* SPDX-License-Identifier: MIT */
/*
 * test_tls.c - TLS contexts and connections: handshakes and echo over
 * loopback TCP (blocking, and non-blocking driven by poll), verification
 * failures, protocol versions, closes clean and abrupt, SIGPIPE, bad input.
 *
 * The certificates come from tests/data/make-certs.sh, run by main() into
 * the directory named by EPS_TLS_CERTS (meson sets it inside the build
 * tree).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"
#include "tlstest.h"

/* X509_V_ codes the tests expect (from <openssl/x509_vfy.h>). */
#define V_OK 0
#define V_CERT_HAS_EXPIRED 10
#define V_DEPTH_ZERO_SELF_SIGNED_CERT 18
#define V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY 20
#define V_HOSTNAME_MISMATCH 62
#define V_IP_ADDRESS_MISMATCH 64

/* --- handshakes and data --------------------------------------------------- */

struct blocking_server {
	int64_t ctx;
	int fd;
	int32_t handshake, shutdown1, shutdown2;
	int64_t echoed, eof;
};

/* A read on a blocking socket: a non-data record (a ticket) means "again". */
static int64_t blocking_read(int64_t conn, uint8_t *buf, size_t len)
{
	int64_t n;
	int tries = 0;
	do
		n = eps_tls_connection_read(conn, buf, len);
	while (n == -EPS_ETLSWANTREAD && ++tries < 100);
	return n;
}

/* Serve one echo on a blocking socket, then close cleanly. */
static void *blocking_server_main(void *arg)
{
	struct blocking_server *b = arg;
	int64_t conn = eps_tls_connection_new(b->ctx, b->fd);
	if (conn < 0)
		return NULL;
	uint8_t buf[256];
	b->handshake = eps_tls_connection_handshake(conn);
	int64_t n = blocking_read(conn, buf, sizeof buf);
	b->echoed = n > 0 ? eps_tls_connection_write(conn, buf, (size_t)n) : n;
	b->eof = blocking_read(conn, buf, sizeof buf); /* the client's close_notify */
	b->shutdown1 = eps_tls_connection_shutdown(conn);
	b->shutdown2 = eps_tls_connection_shutdown(conn);
	(void)eps_tls_connection_free(conn);
	return NULL;
}

START_TEST(blocking_handshake_echo_and_clean_close)
{
	struct baseline base = baseline();
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	struct blocking_server b = {.ctx = server_ctx("server"), .fd = sfd};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, blocking_server_main, &b), 0);

	int64_t cctx = client_ctx("ca.pem");
	int64_t conn = eps_tls_connection_new(cctx, cfd);
	ck_assert_int_gt(conn, 0);
	ck_assert_ok(eps_tls_connection_set_hostname(conn, "localhost"));
	ck_assert_int_eq(eps_tls_connection_version(conn), 0);
	ck_assert_int_eq(eps_tls_connection_handshake(conn), 0);
	ck_assert_int_eq(eps_tls_connection_verify_result(conn), V_OK);
	ck_assert_int_eq(eps_tls_connection_version(conn), EPS_TLS_VERSION_1_3);
	const char msg[] = "hello, TLS";
	ck_assert_int_eq(eps_tls_connection_write(conn, (const uint8_t *)msg, sizeof msg),
			 sizeof msg);
	uint8_t buf[256];
	size_t got = 0;
	while (got < sizeof msg) {
		int64_t n = blocking_read(conn, buf + got, sizeof buf - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_mem_eq(buf, msg, sizeof msg);
	/* Our close_notify first; the second call waits for the server's. */
	ck_assert_int_eq(eps_tls_connection_shutdown(conn), EPS_TLS_SHUTDOWN_SENT);
	ck_assert_code(eps_tls_connection_write(conn, (const uint8_t *)"x", 1), EPS_ETLSCLOSED);
	ck_assert_int_eq(eps_tls_connection_shutdown(conn),
			 EPS_TLS_SHUTDOWN_SENT | EPS_TLS_SHUTDOWN_RECEIVED);
	ck_assert_int_eq(pthread_join(th, NULL), 0);

	ck_assert_int_eq(b.handshake, 0);
	ck_assert_int_eq(b.echoed, sizeof msg);
	ck_assert_int_eq(b.eof, 0);
	ck_assert_int_eq(b.shutdown1, EPS_TLS_SHUTDOWN_SENT | EPS_TLS_SHUTDOWN_RECEIVED);
	ck_assert_int_eq(b.shutdown2, EPS_TLS_SHUTDOWN_SENT | EPS_TLS_SHUTDOWN_RECEIVED);
	ck_assert_ok(eps_tls_connection_free(conn));
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(b.ctx));
	close(cfd);
	close(sfd);
	check_baseline(base);
}
END_TEST

/*
 * Records without data ahead of data in the socket: a non-blocking read
 * consumes them and returns the data in one call, and -ETLSWANTREAD comes
 * only when the socket is empty (an edge-triggered loop relies on it).  A
 * Unix socketpair makes delivery synchronous.
 */
START_TEST(nonblocking_read_skips_tickets_in_one_call)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct side c, s;
	open_side(&c, cctx, sv[0], "localhost");
	open_side(&s, sctx, sv[1], NULL);
	pump_handshakes(&c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), EPS_TLS_VERSION_1_3);
	/* The server's tickets are unread in the client's socket; data follows. */
	write_all(&s, (const uint8_t *)"ping", 4);
	uint8_t buf[64];
	ck_assert_int_eq(eps_tls_connection_read(c.conn, buf, sizeof buf), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_code(eps_tls_connection_read(c.conn, buf, sizeof buf), EPS_ETLSWANTREAD);
	struct pollfd p = {.fd = c.fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 0), 0);

	close_pair(&c, &s);

	/* Left to the socket's (blocking) mode: a read may stop after a ticket
	 * and say "again" (documented); called again, it gets the data. */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	open_side(&c, cctx, sv[0], "localhost");
	open_side(&s, sctx, sv[1], NULL);
	pump_handshakes(&c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_ok(eps_tls_connection_set_nonblocking(c.conn, 0));
	write_all(&s, (const uint8_t *)"pong", 4);
	ck_assert_int_eq(blocking_read(c.conn, buf, sizeof buf), 4);
	ck_assert_mem_eq(buf, "pong", 4);
	close_pair(&c, &s);
	free_and_check(base, sctx, cctx);
}
END_TEST

START_TEST(nonblocking_echo_with_pending_data)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	/* The sockets block; the connections must not. */
	ck_assert(!(fcntl(c.fd, F_GETFL) & O_NONBLOCK));
	uint8_t buf[4000];
	ck_assert_code(eps_tls_connection_read(c.conn, buf, sizeof buf), EPS_ETLSWANTREAD);

	uint8_t data[4000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	write_all(&s, data, sizeof data); /* one record */
	read_exact(&c, buf, 10);
	ck_assert_mem_eq(buf, data, 10);
	/* The rest of the record is decrypted and waiting: no socket needed. */
	ck_assert_int_eq(eps_tls_connection_pending(c.conn), sizeof data - 10);
	ck_assert_int_eq(eps_tls_connection_read(c.conn, buf + 10, sizeof buf - 10),
			 sizeof data - 10);
	ck_assert_mem_eq(buf, data, sizeof data);
	ck_assert_int_eq(eps_tls_connection_pending(c.conn), 0);

	/* Larger than the socket buffers: interleave writes and reads. */
	enum { BIG = 1 << 20 };
	uint8_t *big = malloc(BIG), *back = malloc(BIG);
	uint64_t seed = 0x9e3779b97f4a7c15u;
	for (size_t i = 0; i < BIG; i += 8) {
		uint64_t r = eps_test_rand64(&seed);
		memcpy(big + i, &r, 8);
	}
	size_t sent = 0, recvd = 0;
	for (int step = 0; recvd < BIG && step < 100000; step++) {
		struct pollfd p[2];
		int np = 0;
		if (sent < BIG) {
			int64_t n = eps_tls_connection_write(c.conn, big + sent, BIG - sent);
			if (n > 0)
				sent += (size_t)n;
			else
				ck_assert_code(n, EPS_ETLSWANTWRITE);
			if (n < 0)
				p[np++] = (struct pollfd){.fd = c.fd, .events = POLLOUT};
		}
		int64_t n = eps_tls_connection_read(s.conn, back + recvd, BIG - recvd);
		if (n > 0) {
			recvd += (size_t)n;
			continue;
		}
		ck_assert_code(n, EPS_ETLSWANTREAD);
		p[np++] = (struct pollfd){.fd = s.fd, .events = POLLIN};
		ck_assert_int_gt(poll(p, (nfds_t)np, POLL_MS), 0);
	}
	ck_assert_uint_eq(recvd, BIG);
	ck_assert_mem_eq(back, big, BIG);
	free(big);
	free(back);

	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

/* A blocking echo server: echoes until the client's close_notify. */
struct echo_server {
	int64_t conn;
	int64_t echoed;
	int32_t result;
};

static void *echo_server_main(void *arg)
{
	struct echo_server *e = arg;
	uint8_t buf[16384];
	for (;;) {
		int64_t n = blocking_read(e->conn, buf, sizeof buf);
		if (n <= 0) {
			e->result = (int32_t)n;
			break;
		}
		for (int64_t off = 0; off < n;) {
			int64_t w = eps_tls_connection_write(e->conn, buf + off, (size_t)(n - off));
			if (w <= 0) {
				e->result = (int32_t)w;
				return NULL;
			}
			off += w;
		}
		e->echoed += n;
	}
	(void)eps_tls_connection_shutdown(e->conn);
	return NULL;
}

enum { DUPLEX_BYTES = 512 * 1024 };

struct duplex {
	struct side *c;
	const uint8_t *data;
	uint8_t *back;
};

/* Each direction's thread: the bytes it moved, 0 after a failure. */
static void *duplex_writer(void *arg)
{
	struct duplex *d = arg;
	int64_t rc;
	size_t off = tls_move(d->c, (uint8_t *)d->data, DUPLEX_BYTES, 1, 100000, &rc);
	return (void *)(uintptr_t)(rc == 0 ? off : 0);
}

static void *duplex_reader(void *arg)
{
	struct duplex *d = arg;
	int64_t rc;
	size_t off = tls_move(d->c, d->back, DUPLEX_BYTES, 0, 100000, &rc);
	return (void *)(uintptr_t)(rc == 0 ? off : 0);
}

START_TEST(one_thread_reads_while_another_writes)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_ok(eps_tls_connection_set_nonblocking(s.conn, 0)); /* the server blocks */
	struct echo_server e = {.conn = s.conn};
	pthread_t server, writer, reader;
	ck_assert_int_eq(pthread_create(&server, NULL, echo_server_main, &e), 0);

	uint8_t *data = malloc(DUPLEX_BYTES), *back = malloc(DUPLEX_BYTES);
	uint64_t seed = 42;
	for (size_t i = 0; i < DUPLEX_BYTES; i += 8) {
		uint64_t r = eps_test_rand64(&seed);
		memcpy(data + i, &r, 8);
	}
	struct duplex d = {&c, data, back};
	ck_assert_int_eq(pthread_create(&writer, NULL, duplex_writer, &d), 0);
	ck_assert_int_eq(pthread_create(&reader, NULL, duplex_reader, &d), 0);
	void *wrote, *read;
	ck_assert_int_eq(pthread_join(writer, &wrote), 0);
	ck_assert_int_eq(pthread_join(reader, &read), 0);
	ck_assert_uint_eq((uintptr_t)wrote, DUPLEX_BYTES);
	ck_assert_uint_eq((uintptr_t)read, DUPLEX_BYTES);
	ck_assert_mem_eq(back, data, DUPLEX_BYTES);
	ck_assert_int_eq(eps_tls_connection_shutdown(c.conn), EPS_TLS_SHUTDOWN_SENT);
	ck_assert_int_eq(pthread_join(server, NULL), 0);
	ck_assert_int_eq(e.result, 0);
	ck_assert_int_eq(e.echoed, DUPLEX_BYTES);
	free(data);
	free(back);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(context_freed_before_its_connections)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	struct side c, s;
	open_side(&c, cctx, cfd, "localhost");
	open_side(&s, sctx, sfd, NULL);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	ck_assert_code(eps_tls_connection_new(cctx, cfd), EPS_EBADHANDLE);
	pump_handshakes(&c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	write_all(&c, (const uint8_t *)"ping", 4);
	uint8_t buf[4];
	read_exact(&s, buf, 4);
	ck_assert_mem_eq(buf, "ping", 4);
	close_pair(&c, &s);
	check_baseline(base);
}
END_TEST

/* --- verification ---------------------------------------------------------- */

struct verify_case {
	const char *server;   /* certificate the server presents */
	const char *ca;	      /* what the client trusts */
	const char *hostname; /* what the client expects */
	int32_t code;	      /* the client's handshake result (positive) */
	long x509;	      /* its verification result */
	const char *text;     /* in the verification text */
};

static const struct verify_case verify_cases[] = {
    {"server", "ca.pem", "localhost", 0, V_OK, "ok"},
    {"server", "ca.pem", "127.0.0.1", 0, V_OK, "ok"},
    {"selfsigned", "ca.pem", "localhost", EPS_ECERTVERIFY, V_DEPTH_ZERO_SELF_SIGNED_CERT,
     "self-signed"},
    {"expired", "ca.pem", "localhost", EPS_ECERTVERIFY, V_CERT_HAS_EXPIRED, "expired"},
    {"server", "ca2.pem", "localhost", EPS_ECERTVERIFY, V_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
     "issuer"},
    {"other", "ca.pem", "localhost", EPS_EHOSTMISMATCH, V_HOSTNAME_MISMATCH, "mismatch"},
    {"server", "ca.pem", "wrong.example", EPS_EHOSTMISMATCH, V_HOSTNAME_MISMATCH, "mismatch"},
    {"other", "ca.pem", "127.0.0.1", EPS_EHOSTMISMATCH, V_IP_ADDRESS_MISMATCH, "mismatch"},
    {"server", "ca.pem", "127.0.0.2", EPS_EHOSTMISMATCH, V_IP_ADDRESS_MISMATCH, "mismatch"},
};

START_TEST(client_verifies_by_default)
{
	const struct verify_case *vc = &verify_cases[_i];
	struct baseline base = baseline();
	int64_t sctx = server_ctx(vc->server), cctx = client_ctx(vc->ca);
	struct side c, s;
	connect_pair(cctx, sctx, vc->hostname, &c, &s);
	if (vc->code == 0) {
		ck_assert_int_eq(c.rc, 0);
		ck_assert_int_eq(s.rc, 0);
	} else {
		ck_assert_code(c.rc, vc->code);
		ck_assert_msg(strstr(c.detail, "certificate verification") != NULL, "detail: %s",
			      c.detail);
		/* The client's alert fails the server's handshake as well. */
		ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
		/* A failed connection stays failed, with a clear code. */
		uint8_t b[8];
		ck_assert_code(eps_tls_connection_read(c.conn, b, sizeof b), EPS_ETLSCLOSED);
		ck_assert_code(eps_tls_connection_handshake(c.conn), EPS_ETLSCLOSED);
		ck_assert_code(eps_tls_connection_shutdown(c.conn), EPS_ETLSCLOSED);
	}
	ck_assert_int_eq(eps_tls_connection_verify_result(c.conn), vc->x509);
	char text[256];
	int32_t len = eps_tls_connection_verify_result_string(c.conn, (uint8_t *)text, sizeof text);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq((int32_t)strlen(text), len);
	ck_assert_msg(strstr(text, vc->text) != NULL, "verify text: %s", text);
	char tiny[4];
	ck_assert_int_eq(
	    eps_tls_connection_verify_result_string(c.conn, (uint8_t *)tiny, sizeof tiny), len);
	ck_assert_int_eq(strlen(tiny), len < 3 ? len : 3);
	ck_assert_int_eq(eps_tls_connection_verify_result_string(c.conn, NULL, 0), len);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(verification_off_connects_to_anyone)
{
	struct baseline base = baseline();
	const char *servers[] = {"selfsigned", "expired", "other"};
	for (int i = 0; i < 3; i++) {
		int64_t sctx = server_ctx(servers[i]), cctx = client_ctx(NULL);
		ck_assert_ok(eps_tls_context_set_verify(cctx, EPS_TLS_VERIFY_NONE));
		struct side c, s;
		connect_pair(cctx, sctx, "localhost", &c, &s);
		ck_assert_int_eq(c.rc, 0);
		ck_assert_int_eq(s.rc, 0);
		close_pair(&c, &s);
		ck_assert_ok(eps_tls_context_free(cctx));
		ck_assert_ok(eps_tls_context_free(sctx));
	}
	check_baseline(base);
}
END_TEST

START_TEST(ip_literals_match_ip_sans)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	/* The certificate names ::1; the socket may be IPv4, names are not. */
	struct side c, s;
	connect_pair(cctx, sctx, "::1", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

/* --- versions -------------------------------------------------------------- */

START_TEST(each_version_negotiated_when_forced)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	int64_t sctx = server_ctx_v("server", v, v), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), v);
	ck_assert_int_eq(eps_tls_connection_version(s.conn), v);
	write_all(&c, (const uint8_t *)"v", 1);
	uint8_t b;
	read_exact(&s, &b, 1);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(client_capped_below_server_minimum_fails_cleanly)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx_v("server", EPS_TLS_VERSION_1_3, 0);
	int64_t cctx = client_ctx_v("ca.pem", 0, EPS_TLS_VERSION_1_2);
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_code(c.rc, EPS_ETLSHANDSHAKE);
	ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
	ck_assert_msg(strstr(c.detail, "version") != NULL, "detail: %s", c.detail);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), 0);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(cipher_settings_apply_and_bad_ones_fail)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx_v("server", EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_2);
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_cipher_list(sctx, "ECDHE-ECDSA-CHACHA20-POLY1305"));
	ck_assert_ok(eps_tls_context_set_ciphersuites(cctx, "TLS_AES_128_GCM_SHA256"));
	ck_assert_code(eps_tls_context_set_cipher_list(sctx, "NO-SUCH-CIPHER"), EPS_ETLS);
	ck_assert_code(eps_tls_context_set_ciphersuites(sctx, "TLS_NOT_A_SUITE"), EPS_ETLS);
	ck_assert_code(eps_tls_context_set_cipher_list(sctx, NULL), EPS_EINVAL);
	ck_assert_code(eps_tls_context_set_ciphersuites(sctx, NULL), EPS_EINVAL);
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_msg(c.rc == 0, "client: %s %s; server: %s", eps_errname(c.rc), c.detail,
		      s.detail);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), EPS_TLS_VERSION_1_2);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

/* --- closes and broken peers ----------------------------------------------- */

START_TEST(reset_peer_is_a_socket_error)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	write_all(&c, (const uint8_t *)"unread", 6);
	struct pollfd p = {.fd = s.fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, POLL_MS), 1);
	/* Closing with unread bytes makes the kernel send a reset. */
	struct linger lg = {1, 0};
	ck_assert_int_eq(setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	close_side(&s);
	uint8_t buf[16];
	ck_assert_code(read_settled(&c, buf, sizeof buf), EPS_ECONNRESET);
	ck_assert_code(eps_tls_connection_read(c.conn, buf, sizeof buf), EPS_ETLSCLOSED);
	close_side(&c);
	free_and_check(base, cctx, sctx);
}
END_TEST

struct blocked_read {
	int64_t conn;
	int64_t result;
	uint8_t buf[16];
};

static void *blocked_read_main(void *arg)
{
	struct blocked_read *b = arg;
	b->result = blocking_read(b->conn, b->buf, sizeof b->buf);
	return NULL;
}

START_TEST(free_during_a_blocked_read_waits_for_the_call)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_ok(eps_tls_connection_set_nonblocking(c.conn, 0));
	int64_t live = eps_handles_live(EPS_HANDLE_TLS_CONNECTION);
	struct blocked_read b = {.conn = c.conn};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, blocked_read_main, &b), 0);
	/* Whether or not the reader is inside the call yet, freeing is safe. */
	ck_assert_ok(eps_tls_connection_free(c.conn));
	/* A reader already inside the call keeps the object until it returns. */
	int64_t now = eps_handles_live(EPS_HANDLE_TLS_CONNECTION);
	ck_assert_msg(now == live - 1 || now == live, "live %lld of %lld", (long long)now,
		      (long long)live);
	uint8_t x[1];
	ck_assert_code(eps_tls_connection_read(c.conn, x, 1), EPS_EBADHANDLE);
	write_all(&s, (const uint8_t *)"wake", 4);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_TLS_CONNECTION), live - 1);
	ck_assert_msg(b.result == 4 || b.result == -EPS_EBADHANDLE, "reader got %lld",
		      (long long)b.result);
	c.conn = 0;
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(abrupt_close_is_unexpected_eof)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(c.rc, 0);
	close_side(&s); /* no close_notify */
	uint8_t buf[16];
	ck_assert_code(read_settled(&c, buf, sizeof buf), EPS_EUNEXPECTEDEOF);
	ck_assert_code(eps_tls_connection_read(c.conn, buf, sizeof buf), EPS_ETLSCLOSED);
	ck_assert_code(eps_tls_connection_write(c.conn, buf, sizeof buf), EPS_ETLSCLOSED);
	close_side(&c);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(clean_close_reads_zero)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(s.rc, 0);
	write_all(&s, (const uint8_t *)"last", 4);
	ck_assert_int_eq(eps_tls_connection_shutdown(s.conn), EPS_TLS_SHUTDOWN_SENT);
	uint8_t buf[16];
	read_exact(&c, buf, 4);
	ck_assert_int_eq(read_settled(&c, buf, sizeof buf), 0);
	ck_assert_int_eq(eps_tls_connection_read(c.conn, buf, sizeof buf), 0);
	ck_assert_int_eq(eps_tls_connection_shutdown(c.conn),
			 EPS_TLS_SHUTDOWN_SENT | EPS_TLS_SHUTDOWN_RECEIVED);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

static const char *const garbage[] = {
    "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",		/* a tiny, malformed ClientHello */
    "\x17\x03\x03\x00\x10xxxxxxxxxxxxxxxx",		/* application data first */
    "\x16\x03\x01\xff\xff\x01\xff\xff\xffjunkjunkjunk", /* a lying length */
};

START_TEST(garbage_fails_the_server_handshake)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server");
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	const char *g = garbage[_i];
	size_t len = _i == 0 ? strlen(g) : (_i == 1 ? 10 : (_i == 2 ? 21 : 20));
	ck_assert_int_eq(write(cfd, g, len), (ssize_t)len);
	shutdown(cfd, SHUT_WR);
	struct side s;
	open_side(&s, sctx, sfd, NULL);
	int32_t r = 0;
	for (int step = 0; step < MAX_STEPS; step++) {
		r = eps_tls_connection_handshake(s.conn);
		if (r != -EPS_ETLSWANTREAD && r != -EPS_ETLSWANTWRITE)
			break;
		struct pollfd p = {.fd = sfd, .events = want_events(r)};
		ck_assert_int_eq(poll(&p, 1, POLL_MS), 1);
	}
	ck_assert_msg(r == -EPS_ETLSHANDSHAKE || r == -EPS_EUNEXPECTEDEOF, "got %s",
		      eps_errname(r));
	char d[1024];
	detail(r, d, sizeof d);
	ck_assert_int_gt(strlen(d), 0);
	close_side(&s);
	close(cfd);
	free_and_check(base, sctx);
}
END_TEST

START_TEST(writing_to_a_closed_peer_does_not_raise_sigpipe)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
		struct side c, s;
		connect_pair(cctx, sctx, "localhost", &c, &s);
		if (c.rc != 0 || s.rc != 0)
			_exit(2);
		close_side(&s);
		uint8_t buf[1024] = {0};
		int64_t n = 0;
		for (int i = 0; i < 1000 && n >= 0; i++)
			n = eps_tls_connection_write(c.conn, buf, sizeof buf);
		_exit(n == -EPS_EPIPE || n == -EPS_ECONNRESET ? 0 : 3);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* --- bad input ------------------------------------------------------------- */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	static uint8_t buf[65536];
	*len = fread(buf, 1, sizeof buf, f);
	fclose(f);
	return buf;
}

START_TEST(context_arguments_are_checked)
{
	struct baseline base = baseline();
	ck_assert_code(eps_tls_context_new(2, 0, 0), EPS_EINVAL);
	ck_assert_code(eps_tls_context_new(-1, 0, 0), EPS_EINVAL);
	ck_assert_code(eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0x0301, 0), EPS_EINVAL);
	ck_assert_code(eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, 0x0305), EPS_EINVAL);
	ck_assert_code(
	    eps_tls_context_new(EPS_TLS_ROLE_CLIENT, EPS_TLS_VERSION_1_3, EPS_TLS_VERSION_1_2),
	    EPS_EINVAL);
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_int_gt(ctx, 0);
	ck_assert_ok(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_PEER));
	ck_assert_ok(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_PEER |
							 EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT));
	ck_assert_code(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT),
		       EPS_EINVAL);
	ck_assert_code(eps_tls_context_set_verify(ctx, 7), EPS_EINVAL);
	ck_assert_ok(eps_tls_context_set_verify(ctx, EPS_TLS_VERIFY_NONE));

	char d[1024];
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, cert("missing.pem")), EPS_EBADPEM);
	detail(-EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "missing.pem") != NULL, "detail: %s", d);
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, cert("garbage.pem")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, certdir), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, NULL), EPS_EINVAL);
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, cert("missing.key")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, cert("garbage.pem")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, cert("server.pem")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, NULL), EPS_EINVAL);
	ck_assert_code(eps_tls_context_use_certificate_pem(ctx, NULL, 5), EPS_EINVAL);
	ck_assert_code(eps_tls_context_use_certificate_pem(ctx, NULL, 0), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_certificate_pem(ctx, (const uint8_t *)"junk", 4),
		       EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_private_key_pem(ctx, NULL, 5), EPS_EINVAL);
	ck_assert_code(eps_tls_context_use_private_key_pem(ctx, (const uint8_t *)"junk", 4),
		       EPS_EBADPEM);
	ck_assert_code(eps_tls_context_check_private_key(ctx), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_load_ca_file(ctx, cert("missing.pem")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_load_ca_file(ctx, cert("garbage.pem")), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_load_ca_file(ctx, NULL), EPS_EINVAL);
	ck_assert_code(eps_tls_context_load_ca_dir(ctx, cert("missing")), EPS_ENOENT);
	ck_assert_code(eps_tls_context_load_ca_dir(ctx, cert("ca.pem")), EPS_ENOTDIR);
	ck_assert_code(eps_tls_context_load_ca_dir(ctx, NULL), EPS_EINVAL);
	ck_assert_ok(eps_tls_context_load_ca_dir(ctx, certdir));
	ck_assert_ok(eps_tls_context_use_default_verify_paths(ctx));

	/* From memory, and the key-match check in both orders. */
	size_t len;
	uint8_t *pem = slurp(cert("server.pem"), &len);
	ck_assert_ok(eps_tls_context_use_certificate_pem(ctx, pem, len));
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, cert("wrong.key")),
		       EPS_EKEYMISMATCH);
	detail(-EPS_EKEYMISMATCH, d, sizeof d);
	ck_assert_msg(strstr(d, "match") != NULL, "detail: %s", d);
	ck_assert_code(eps_tls_context_check_private_key(ctx), EPS_EBADPEM);
	pem = slurp(cert("server.key"), &len);
	ck_assert_ok(eps_tls_context_use_private_key_pem(ctx, pem, len));
	ck_assert_ok(eps_tls_context_check_private_key(ctx));
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, cert("other.pem")),
		       EPS_EKEYMISMATCH);
	ck_assert_ok(eps_tls_context_check_private_key(ctx)); /* unchanged */
	ck_assert_ok(eps_tls_context_free(ctx));

	int64_t k = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_ok(eps_tls_context_use_private_key_file(k, cert("wrong.key")));
	ck_assert_code(eps_tls_context_use_certificate_file(k, cert("server.pem")),
		       EPS_EKEYMISMATCH);
	free_and_check(base, k);
}
END_TEST

/*
 * Found by fuzz_abi: a FIFO nobody writes to made the file loaders wait in
 * open(2) forever.  A path that is not a regular file is refused at once.
 */
START_TEST(fifo_paths_are_refused_without_waiting)
{
	struct baseline base = baseline();
	char dir[] = "/tmp/epsilon-tls-fifo.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char fifo[64];
	snprintf(fifo, sizeof fifo, "%s/fifo.pem", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_int_gt(ctx, 0);
	/* A hang kills the test (SIGALRM's default action) instead of the suite. */
	alarm(20);
	ck_assert_code(eps_tls_context_use_certificate_file(ctx, fifo), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_use_private_key_file(ctx, fifo), EPS_EBADPEM);
	ck_assert_code(eps_tls_context_load_ca_file(ctx, fifo), EPS_EBADPEM);
	char d[256];
	detail(-EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "regular file") != NULL, "detail: %s", d);
	ck_assert_code(eps_tls_context_load_ca_file(ctx, "/dev/null"), EPS_EBADPEM);
	alarm(0);
	ck_assert_ok(eps_tls_context_free(ctx));
	ck_assert_int_eq(unlink(fifo), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	check_baseline(base);
}
END_TEST

START_TEST(stale_and_wrong_handles_are_refused)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	int64_t conn = c.conn;
	uint8_t buf[8];

	/* A context where a connection is expected, and the reverse. */
	ck_assert_code(eps_tls_connection_read(cctx, buf, sizeof buf), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_handshake(sctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_free(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_free(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_verify(conn, 0), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_new(conn, c.fd), EPS_EBADHANDLE);

	/* Freed: every entry point refuses it. */
	ck_assert_ok(eps_tls_connection_free(conn));
	c.conn = 0;
	ck_assert_code(eps_tls_connection_free(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_handshake(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_read(conn, buf, sizeof buf), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_write(conn, buf, sizeof buf), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_pending(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_shutdown(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_set_nonblocking(conn, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_set_hostname(conn, "localhost"), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_verify_result(conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_verify_result_string(conn, buf, sizeof buf),
		       EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_version(conn), EPS_EBADHANDLE);

	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_code(eps_tls_context_free(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_use_certificate_file(cctx, cert("server.pem")),
		       EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_use_private_key_file(cctx, cert("server.key")),
		       EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_load_ca_file(cctx, cert("ca.pem")), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_use_default_verify_paths(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_cipher_list(cctx, "ECDHE+AESGCM"), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_check_private_key(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_new(cctx, s.fd), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_read(0, buf, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_read(-5, buf, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_read(INT64_MAX, buf, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_free(12345), EPS_EBADHANDLE);

	close_pair(&c, &s);
	free_and_check(base, sctx);
}
END_TEST

START_TEST(connection_arguments_are_checked)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server"), cctx = client_ctx("ca.pem");
	ck_assert_code(eps_tls_connection_new(cctx, -1), EPS_EBADF);
	ck_assert_code(eps_tls_connection_new(cctx, 1000000), EPS_EBADF);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_code(eps_tls_connection_new(cctx, p[0]), EPS_ENOTSOCK);
	close(p[0]);
	close(p[1]);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_code(eps_tls_connection_new(cctx, u), EPS_EINVAL);
	close(u);

	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	struct side c, s;
	open_side(&c, cctx, cfd, NULL);
	open_side(&s, sctx, sfd, NULL);
	uint8_t buf[8];
	ck_assert_code(eps_tls_connection_set_hostname(c.conn, NULL), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_set_hostname(c.conn, ""), EPS_EINVAL);
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert_code(eps_tls_connection_set_hostname(c.conn, longname), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_set_hostname(s.conn, "localhost"), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_read(c.conn, NULL, 8), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_read(c.conn, buf, 0), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_write(c.conn, NULL, 8), EPS_EINVAL);
	ck_assert_int_eq(eps_tls_connection_write(c.conn, NULL, 0), 0);
	ck_assert_code(eps_tls_connection_verify_result_string(c.conn, NULL, 8), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_shutdown(c.conn), EPS_EINVAL); /* before the handshake */
	ck_assert_int_eq(eps_tls_connection_pending(c.conn), 0);
	ck_assert_ok(eps_tls_connection_set_hostname(c.conn, "localhost"));
	pump_handshakes(&c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_code(eps_tls_connection_set_hostname(c.conn, "localhost"), EPS_EINVAL);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

/* --- interop with the openssl command -------------------------------------- */

START_TEST(client_interoperates_with_openssl_s_server)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	const char *vflag = v == EPS_TLS_VERSION_1_2 ? "-tls1_2" : "-tls1_3";
	char *argv[] = {"openssl",  "s_server",
			"-accept",  "127.0.0.1:0",
			"-cert",    (char *)cert("server.pem"),
			"-key",	    (char *)cert("server.key"),
			"-naccept", "1",
			"-rev",	    (char *)vflag,
			NULL};
	int to, from;
	pid_t pid = spawn(argv, &to, &from);
	char out[4096];
	ck_assert_msg(read_until(from, out, sizeof out, "ACCEPT 127.0.0.1:"), "s_server said: %s",
		      out);
	int port = atoi(strstr(out, "ACCEPT 127.0.0.1:") + strlen("ACCEPT 127.0.0.1:"));
	ck_assert_int_gt(port, 0);

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	int64_t cctx = client_ctx("ca.pem");
	struct side c;
	open_side(&c, cctx, fd, "localhost");
	int32_t r = 0;
	for (int step = 0; step < MAX_STEPS; step++) {
		r = eps_tls_connection_handshake(c.conn);
		if (r != -EPS_ETLSWANTREAD && r != -EPS_ETLSWANTWRITE)
			break;
		struct pollfd p = {.fd = fd, .events = want_events(r)};
		ck_assert_int_eq(poll(&p, 1, POLL_MS), 1);
	}
	ck_assert_msg(r == 0, "handshake: %s", eps_errname(r));
	ck_assert_int_eq(eps_tls_connection_version(c.conn), v);
	write_all(&c, (const uint8_t *)"epsilon\n", 8);
	uint8_t buf[8];
	read_exact(&c, buf, 8);
	ck_assert_mem_eq(buf, "nolispe\n", 8);
	ck_assert_int_ge(eps_tls_connection_shutdown(c.conn), EPS_TLS_SHUTDOWN_SENT);
	close_tool(&c, to, pid, from);
	free_and_check(base, cctx);
}
END_TEST

START_TEST(openssl_s_client_interoperates_with_server)
{
	struct baseline base = baseline();
	char *extra[] = {"-CAfile",
			 (char *)cert("ca.pem"),
			 "-verify_return_error",
			 "-verify_hostname",
			 "localhost",
			 "-servername",
			 "localhost",
			 "-quiet",
			 NULL};
	int to, from, fd;
	pid_t pid = s_client(extra, &to, &from, &fd);

	int64_t sctx = server_ctx("server");
	struct side s;
	open_side(&s, sctx, fd, NULL);
	int32_t r = handshake_alone(&s);
	ck_assert_msg(r == 0, "handshake: %s", eps_errname(r));
	ck_assert_int_eq(write(to, "ping\n", 5), 5);
	uint8_t buf[5];
	read_exact(&s, buf, 5);
	ck_assert_mem_eq(buf, "ping\n", 5);
	write_all(&s, (const uint8_t *)"pong\n", 5);
	char out[8192];
	ck_assert_msg(read_until(from, out, sizeof out, "pong\n"), "s_client said: %s", out);
	ck_assert_int_ge(eps_tls_connection_shutdown(s.conn), EPS_TLS_SHUTDOWN_SENT);
	close_tool(&s, to, pid, from);
	free_and_check(base, sctx);
}
END_TEST

static Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *data = tls_tcase(s, "handshake and data", 60);
	tcase_add_test(data, blocking_handshake_echo_and_clean_close);
	tcase_add_test(data, nonblocking_echo_with_pending_data);
	tcase_add_test(data, nonblocking_read_skips_tickets_in_one_call);
	tcase_add_test(data, context_freed_before_its_connections);
	tcase_add_test(data, one_thread_reads_while_another_writes);

	TCase *verify = tls_tcase(s, "verification", 60);
	tcase_add_loop_test(verify, client_verifies_by_default, 0,
			    (int)(sizeof verify_cases / sizeof verify_cases[0]));
	tcase_add_test(verify, verification_off_connects_to_anyone);
	tcase_add_test(verify, ip_literals_match_ip_sans);

	TCase *vers = tls_tcase(s, "versions and ciphers", 0);
	tcase_add_loop_test(vers, each_version_negotiated_when_forced, 0, 2);
	tcase_add_test(vers, client_capped_below_server_minimum_fails_cleanly);
	tcase_add_test(vers, cipher_settings_apply_and_bad_ones_fail);

	TCase *closes = tls_tcase(s, "closes and broken peers", 60);
	tcase_add_test(closes, abrupt_close_is_unexpected_eof);
	tcase_add_test(closes, clean_close_reads_zero);
	tcase_add_test(closes, reset_peer_is_a_socket_error);
	tcase_add_test(closes, free_during_a_blocked_read_waits_for_the_call);
	tcase_add_loop_test(closes, garbage_fails_the_server_handshake, 0,
			    (int)(sizeof garbage / sizeof garbage[0]));
	tcase_add_test(closes, writing_to_a_closed_peer_does_not_raise_sigpipe);

	TCase *interop = tls_tcase(s, "interop", 60);
	tcase_add_loop_test(interop, client_interoperates_with_openssl_s_server, 0, 2);
	tcase_add_test(interop, openssl_s_client_interoperates_with_server);

	TCase *bad = tls_tcase(s, "bad input", 0);
	tcase_add_test(bad, context_arguments_are_checked);
	tcase_add_test(bad, fifo_paths_are_refused_without_waiting);
	tcase_add_test(bad, stale_and_wrong_handles_are_refused);
	tcase_add_test(bad, connection_arguments_are_checked);
	return s;
}

int main(void)
{
	return tls_test_main(tls_suite);
}
