/* SPDX-License-Identifier: MIT */
/*
 * test_tls_sessions.c - session resumption: a second connection resumes the
 * first one's session, and servers without cache or tickets resume none.
 */
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"
#include "tlstest.h"
/* --- sessions -------------------------------------------------------------- */

/*
 * Connect, let the client read the ticket, take its session; close with
 * close_notify when CLEAN, else just drop the connections.
 */
static int64_t first_session_closed(int64_t cctx, int64_t sctx, int32_t version, int clean)
{
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	ck_assert_int_eq(eps_tls_connection_session_reused(c.conn), 0);
	ck_assert_int_eq(eps_tls_connection_session_reused(s.conn), 0);
	if (version == EPS_TLS_VERSION_1_3)
		ck_assert_code(eps_tls_connection_get_session(c.conn), EPS_EAGAIN);
	write_all(&s, (const uint8_t *)"ping", 4);
	uint8_t b[4];
	read_exact(&c, b, 4); /* processes the TLS 1.3 tickets on its way */
	int64_t sess = eps_tls_connection_get_session(c.conn);
	if (clean) {
		ck_assert_int_ge(eps_tls_connection_shutdown(c.conn), EPS_TLS_SHUTDOWN_SENT);
		ck_assert_int_ge(eps_tls_connection_shutdown(s.conn), EPS_TLS_SHUTDOWN_SENT);
	}
	close_pair(&c, &s);
	return sess;
}

static int64_t first_session(int64_t cctx, int64_t sctx, int32_t version)
{
	return first_session_closed(cctx, sctx, version, 1);
}

/* Connect offering SESS; return whether both sides resumed (1), else 0. */
static int resumed_with(int64_t cctx, int64_t sctx, int64_t sess)
{
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	struct side c, s;
	open_side(&c, cctx, cfd, "localhost");
	open_side(&s, sctx, sfd, NULL);
	ck_assert_ok(eps_tls_connection_set_session(c.conn, sess));
	pump_handshakes(&c, &s);
	ck_assert_msg(c.rc == 0 && s.rc == 0, "client %s, server %s", eps_errname(c.rc),
		      eps_errname(s.rc));
	int32_t rc = eps_tls_connection_session_reused(c.conn);
	int32_t rs = eps_tls_connection_session_reused(s.conn);
	ck_assert_int_eq(rc, rs);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), eps_tls_connection_version(s.conn));
	/* A resumed session still reports the server's certificate. */
	assert_peer_is(c.conn, "server.pem");
	close_pair(&c, &s);
	return rc;
}

START_TEST(second_connection_resumes)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	int64_t sctx = server_ctx_v("server", v, v);
	int64_t cctx = client_ctx("ca.pem");
	int64_t sess = first_session(cctx, sctx, v);
	ck_assert_int_gt(sess, 0);
	ck_assert_int_eq(resumed_with(cctx, sctx, sess), 1);

	/* Through bytes, as another process would. */
	int64_t n = eps_tls_session_to_bytes(sess, NULL, 0);
	ck_assert_int_gt(n, 0);
	uint8_t *bytes = malloc((size_t)n);
	ck_assert_int_eq(eps_tls_session_to_bytes(sess, bytes, (size_t)n), n);
	ck_assert_ok(eps_tls_session_free(sess));
	int64_t again = eps_tls_session_from_bytes(bytes, (size_t)n);
	ck_assert_int_gt(again, 0);
	free(bytes);
	ck_assert_int_eq(resumed_with(cctx, sctx, again), 1);
	ck_assert_ok(eps_tls_session_free(again));

	/* A session taken before the connection was dropped resumes by ticket. */
	sess = first_session_closed(cctx, sctx, v, 0);
	ck_assert_int_gt(sess, 0);
	ck_assert_int_eq(resumed_with(cctx, sctx, sess), 1);
	/* A session resumes again and again while the server knows it. */
	ck_assert_int_eq(resumed_with(cctx, sctx, sess), 1);
	ck_assert_ok(eps_tls_session_free(sess));

	/* Another server (other ticket keys, other cache) does a full handshake. */
	int64_t sctx2 = server_ctx_v("server", v, v);
	sess = first_session(cctx, sctx, v);
	ck_assert_int_gt(sess, 0);
	ck_assert_int_eq(resumed_with(cctx, sctx2, sess), 0);
	ck_assert_ok(eps_tls_session_free(sess));

	free_and_check(base, cctx, sctx, sctx2);
}
END_TEST

START_TEST(server_cache_and_tickets_can_be_turned_off)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	int64_t cctx = client_ctx("ca.pem");

	/* Tickets off, cache on: resumption through the cache. */
	int64_t sctx = server_ctx_v("server", v, v);
	ck_assert_ok(eps_tls_context_set_session_tickets(sctx, 0));
	int64_t sess = first_session(cctx, sctx, v);
	ck_assert_int_gt(sess, 0);
	ck_assert_int_eq(resumed_with(cctx, sctx, sess), 1);
	ck_assert_ok(eps_tls_session_free(sess));

	/* Both off: nothing resumes (and TLS 1.3 gets no ticket at all). */
	ck_assert_ok(eps_tls_context_set_session_cache(sctx, 0));
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	write_all(&s, (const uint8_t *)"ping", 4);
	uint8_t b[4];
	read_exact(&c, b, 4);
	sess = eps_tls_connection_get_session(c.conn);
	close_pair(&c, &s);
	if (v == EPS_TLS_VERSION_1_3)
		ck_assert_code(sess, EPS_EAGAIN);
	if (sess > 0) {
		ck_assert_int_eq(resumed_with(cctx, sctx, sess), 0);
		ck_assert_ok(eps_tls_session_free(sess));
	}

	/* Back on. */
	ck_assert_ok(eps_tls_context_set_session_cache(sctx, 1));
	ck_assert_ok(eps_tls_context_set_session_tickets(sctx, 1));
	sess = first_session(cctx, sctx, v);
	ck_assert_int_gt(sess, 0);
	ck_assert_int_eq(resumed_with(cctx, sctx, sess), 1);
	ck_assert_ok(eps_tls_session_free(sess));
	free_and_check(base, cctx, sctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tls_sessions");
	TCase *sess = tls_tcase(s, "sessions", 60);
	tcase_add_loop_test(sess, second_connection_resumes, 0, 2);
	tcase_add_loop_test(sess, server_cache_and_tickets_can_be_turned_off, 0, 2);
	return s;
}

int main(void)
{
	return tls_test_main(make_suite);
}
