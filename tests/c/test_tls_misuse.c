/* SPDX-License-Identifier: MIT */
/*
 * test_tls_misuse.c - the ALPN, SNI, session and information calls given bad
 * handles, bad arguments and calls in the wrong state.
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
/* --- bad input ------------------------------------------------------------- */

static const text_fn text_fns[] = {
    eps_tls_connection_cipher,		 eps_tls_connection_alpn_protocol,
    eps_tls_connection_server_name,	 eps_tls_connection_peer_subject,
    eps_tls_connection_peer_issuer,	 eps_tls_connection_peer_alt_names,
    eps_tls_connection_peer_fingerprint, eps_tls_connection_peer_certificate_pem,
};
#define N_TEXT_FNS (sizeof text_fns / sizeof text_fns[0])

/* Every entry point of part 2 that takes a handle, refusing H. */
static void all_refuse(int64_t h)
{
	uint8_t b[64];
	int64_t nb, na;
	ck_assert_code(eps_tls_context_set_alpn_protocols(h, "h2"), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_alpn_mismatch(h, 0), EPS_EBADHANDLE);
	ck_assert_code(
	    eps_tls_context_add_server_certificate_file(h, NULL, cert("alt.pem"), cert("alt.key")),
	    EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_keylog_file(h, NULL), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_session_cache(h, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_session_tickets(h, 1), EPS_EBADHANDLE);
	for (size_t i = 0; i < N_TEXT_FNS; i++)
		ck_assert_code(text_fns[i](h, b, sizeof b), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_session_reused(h), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_peer_validity(h, &nb, &na), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_get_session(h), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_session_to_bytes(h, NULL, 0), EPS_EBADHANDLE);
}

START_TEST(stale_forged_and_wrong_kind_handles_are_refused)
{
	struct baseline base = baseline();
	all_refuse(0);
	all_refuse(-1);
	all_refuse(INT64_MAX);
	uint64_t seed = 0x7153;
	for (int i = 0; i < 200; i++)
		all_refuse((int64_t)(eps_test_rand64(&seed) >> 2));
	/* Stale handles of each kind. */
	int64_t ctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_free(ctx));
	all_refuse(ctx);

	/* Wrong kinds: a connection or session where a context goes, etc. */
	int64_t sctx = server_ctx("server");
	int64_t cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	write_all(&s, (const uint8_t *)"x", 1);
	uint8_t b[64];
	read_exact(&c, b, 1);
	int64_t sess = eps_tls_connection_get_session(c.conn);
	ck_assert_int_gt(sess, 0);
	ck_assert_code(eps_tls_context_set_alpn_protocols(c.conn, "h2"), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_session_tickets(sess, 1), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_set_keylog_file(sess, NULL), EPS_EBADHANDLE);
	for (size_t i = 0; i < N_TEXT_FNS; i++) {
		ck_assert_code(text_fns[i](cctx, b, sizeof b), EPS_EBADHANDLE);
		ck_assert_code(text_fns[i](sess, b, sizeof b), EPS_EBADHANDLE);
	}
	ck_assert_code(eps_tls_connection_session_reused(sess), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_get_session(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_set_session(c.conn, cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_set_session(sess, sess), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_session_to_bytes(c.conn, NULL, 0), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_session_free(c.conn), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_session_free(cctx), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_context_free(sess), EPS_EBADHANDLE);
	ck_assert_code(eps_tls_connection_free(sess), EPS_EBADHANDLE);
	ck_assert_ok(eps_tls_session_free(sess));
	ck_assert_code(eps_tls_session_free(sess), EPS_EBADHANDLE);
	all_refuse(sess);
	int64_t conn = c.conn;
	close_pair(&c, &s);
	all_refuse(conn);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(context_settings_are_checked)
{
	struct baseline base = baseline();
	int64_t sctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	int64_t cctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, 0);
	ck_assert_int_gt(sctx, 0);
	ck_assert_int_gt(cctx, 0);

	static char longname[300];
	memset(longname, 'a', 256);
	static const char *const bad_alpn[] = {",h2", "h2,", "h2,,http/1.1", ",", longname};
	for (size_t i = 0; i < sizeof bad_alpn / sizeof bad_alpn[0]; i++) {
		ck_assert_code(eps_tls_context_set_alpn_protocols(sctx, bad_alpn[i]), EPS_EINVAL);
		ck_assert_code(eps_tls_context_set_alpn_protocols(cctx, bad_alpn[i]), EPS_EINVAL);
	}
	longname[255] = '\0';
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, longname));
	ck_assert_code(eps_tls_context_set_alpn_protocols(cctx, NULL), EPS_EINVAL);
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, ""));
	ck_assert_code(eps_tls_context_set_alpn_mismatch(cctx, EPS_TLS_ALPN_MISMATCH_PROCEED),
		       EPS_EINVAL);
	ck_assert_code(eps_tls_context_set_alpn_mismatch(sctx, 2), EPS_EINVAL);
	ck_assert_code(eps_tls_context_set_alpn_mismatch(sctx, -1), EPS_EINVAL);

	ck_assert_code(eps_tls_context_add_server_certificate_file(cctx, NULL, cert("alt.pem"),
								   cert("alt.key")),
		       EPS_EINVAL);
	ck_assert_code(
	    eps_tls_context_add_server_certificate_file(sctx, NULL, NULL, cert("alt.key")),
	    EPS_EINVAL);
	ck_assert_code(
	    eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"), NULL),
	    EPS_EINVAL);
	ck_assert_code(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("missing.pem"),
								   cert("alt.key")),
		       EPS_EBADPEM);
	ck_assert_code(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("garbage.pem"),
								   cert("alt.key")),
		       EPS_EBADPEM);
	ck_assert_code(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"),
								   cert("alt.pem")),
		       EPS_EBADPEM);
	ck_assert_code(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"),
								   cert("wrong.key")),
		       EPS_EKEYMISMATCH);
	char huge[300];
	memset(huge, 'x', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	ck_assert_code(eps_tls_context_add_server_certificate_file(sctx, huge, cert("alt.pem"),
								   cert("alt.key")),
		       EPS_EINVAL);
	const uint8_t junk[] = "junk";
	ck_assert_code(eps_tls_context_add_server_certificate_pem(sctx, NULL, NULL, 0, junk, 4),
		       EPS_EINVAL);
	ck_assert_code(eps_tls_context_add_server_certificate_pem(sctx, NULL, junk, 4, NULL, 0),
		       EPS_EINVAL);
	ck_assert_code(eps_tls_context_add_server_certificate_pem(sctx, NULL, junk, 4, junk, 4),
		       EPS_EBADPEM);

	ck_assert_code(eps_tls_context_set_keylog_file(cctx, ""), EPS_EINVAL);
	ck_assert_code(eps_tls_context_set_keylog_file(cctx, "/nonexistent-dir/keys.log"),
		       EPS_ENOENT);
	ck_assert_code(eps_tls_context_set_keylog_file(cctx, "/"), EPS_EISDIR);
	ck_assert_ok(eps_tls_context_set_keylog_file(cctx, NULL));

	ck_assert_code(eps_tls_context_set_session_cache(cctx, 0), EPS_EINVAL);
	ck_assert_ok(eps_tls_context_set_session_tickets(cctx, 0));
	ck_assert_ok(eps_tls_context_set_session_cache(sctx, 0));
	ck_assert_ok(eps_tls_context_set_verify(cctx, EPS_TLS_VERIFY_NONE));
	ck_assert_code(eps_tls_context_set_verify(cctx, EPS_TLS_VERIFY_PEER |
							    EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT),
		       EPS_EINVAL);
	free_and_check(base, sctx, cctx);
}
END_TEST

START_TEST(connection_calls_in_the_wrong_state)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server");
	int64_t cctx = client_ctx("ca.pem");
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	struct side c, s;
	open_side(&c, cctx, cfd, "localhost");
	open_side(&s, sctx, sfd, NULL);

	/* Before the handshake: nothing to report. */
	uint8_t b[128];
	for (size_t i = 0; i < N_TEXT_FNS; i++) {
		if (text_fns[i] == eps_tls_connection_server_name)
			continue; /* the client knows the name it will send */
		ck_assert_code(text_fns[i](c.conn, b, sizeof b), EPS_ENOENT);
		ck_assert_code(text_fns[i](s.conn, b, sizeof b), EPS_ENOENT);
		ck_assert_code(text_fns[i](c.conn, NULL, 5), EPS_EINVAL);
	}
	assert_text(eps_tls_connection_server_name, c.conn, "localhost");
	ck_assert_code(eps_tls_connection_server_name(s.conn, b, sizeof b), EPS_ENOENT);
	int64_t nb = 7, na = 8;
	ck_assert_code(eps_tls_connection_peer_validity(c.conn, &nb, &na), EPS_ENOENT);
	ck_assert_int_eq(nb, 7);
	ck_assert_int_eq(na, 8);
	ck_assert_code(eps_tls_connection_peer_validity(c.conn, NULL, &na), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_peer_validity(c.conn, &nb, NULL), EPS_EINVAL);
	ck_assert_int_eq(eps_tls_connection_session_reused(c.conn), 0);
	ck_assert_code(eps_tls_connection_get_session(c.conn), EPS_EAGAIN);
	ck_assert_code(eps_tls_connection_get_session(s.conn), EPS_EINVAL);

	pump_handshakes(&c, &s);
	ck_assert_int_eq(c.rc, 0);
	ck_assert_int_eq(s.rc, 0);
	write_all(&s, (const uint8_t *)"x", 1);
	read_exact(&c, b, 1);
	int64_t sess = eps_tls_connection_get_session(c.conn);
	ck_assert_int_gt(sess, 0);
	/* Sessions go on clients, before their handshake. */
	ck_assert_code(eps_tls_connection_set_session(c.conn, sess), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_set_session(s.conn, sess), EPS_EINVAL);
	ck_assert_code(eps_tls_connection_peer_subject(s.conn, b, sizeof b), EPS_ENOENT);

	/* Session bytes. */
	int64_t n = eps_tls_session_to_bytes(sess, NULL, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_code(eps_tls_session_to_bytes(sess, NULL, 5), EPS_EINVAL);
	ck_assert_code(eps_tls_session_to_bytes(sess, b, 1), EPS_EBUFTOOSMALL);
	uint8_t *bytes = malloc((size_t)n + 1);
	ck_assert_int_eq(eps_tls_session_to_bytes(sess, bytes, (size_t)n + 1), n);
	ck_assert_code(eps_tls_session_from_bytes(NULL, 5), EPS_EINVAL);
	ck_assert_code(eps_tls_session_from_bytes(bytes, 0), EPS_EINVAL);
	ck_assert_code(eps_tls_session_from_bytes(bytes, (size_t)n - 1), EPS_EINVAL);
	bytes[n] = 0;
	ck_assert_code(eps_tls_session_from_bytes(bytes, (size_t)n + 1), EPS_EINVAL);
	ck_assert_code(eps_tls_session_from_bytes((const uint8_t *)"garbage", 7), EPS_EINVAL);
	ck_assert_code(eps_tls_session_from_bytes(bytes, (size_t)2 << 20), EPS_EINVAL);
	uint64_t seed = 0x5e55;
	for (int i = 0; i < 200; i++) {
		/* Corrupt bytes: a session or a refusal, never a crash. */
		uint8_t *m = malloc((size_t)n);
		memcpy(m, bytes, (size_t)n);
		m[eps_test_rand64(&seed) % (uint64_t)n] ^=
		    (uint8_t)(1 + eps_test_rand64(&seed) % 255);
		int64_t h = eps_tls_session_from_bytes(m, (size_t)n);
		ck_assert(h > 0 || h == -EPS_EINVAL);
		if (h > 0)
			ck_assert_ok(eps_tls_session_free(h));
		free(m);
	}
	free(bytes);
	ck_assert_ok(eps_tls_session_free(sess));

	/* After a failure: no session. */
	int64_t bad = client_ctx("ca2.pem");
	struct side c2, s2;
	connect_pair(bad, sctx, "localhost", &c2, &s2);
	ck_assert_code(c2.rc, EPS_ECERTVERIFY);
	ck_assert_code(eps_tls_connection_get_session(c2.conn), EPS_ETLSCLOSED);
	close_pair(&c2, &s2);

	close_pair(&c, &s);
	free_and_check(base, bad, cctx, sctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tls_misuse");
	TCase *bad = tls_tcase(s, "bad input", 60);
	tcase_add_test(bad, stale_forged_and_wrong_kind_handles_are_refused);
	tcase_add_test(bad, context_settings_are_checked);
	tcase_add_test(bad, connection_calls_in_the_wrong_state);
	return s;
}

int main(void)
{
	return tls_test_main(make_suite);
}
