/* SPDX-License-Identifier: MIT */
/*
 * test_tls_policy.c - what a server offers: the cipher policy (AEAD only
 * under TLS 1.2 by default, widened on request), the certificate chain
 * file, and OCSP stapling from a DER file that is read again when it
 * changes; against ourselves and the openssl command, over loopback TCP.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"
#include "tlstest.h"

/* A TLS 1.2 suite with a CBC cipher and a SHA-1 MAC: what Lucky13 is about. */
#define CBC_SUITE "ECDHE-ECDSA-AES128-SHA"

/* A client context capped at TLS 1.2 offering only CBC_SUITE (widened). */
static int64_t cbc_only_client(void)
{
	int64_t cctx = client_ctx_v("ca.pem", EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_2);
	ck_assert_ok(eps_tls_context_set_cipher_list(cctx, CBC_SUITE));
	return cctx;
}

static void assert_refused(int64_t cctx, int64_t sctx)
{
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_msg(c.rc == -EPS_ETLSHANDSHAKE && s.rc == -EPS_ETLSHANDSHAKE,
		      "client %s (%s), server %s (%s)", eps_errname(c.rc), c.detail,
		      eps_errname(s.rc), s.detail);
	close_pair(&c, &s);
}

static void assert_cipher(int64_t cctx, int64_t sctx, const char *want)
{
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	assert_text(eps_tls_connection_cipher, c.conn, want);
	assert_text(eps_tls_connection_cipher, s.conn, want);
	close_pair(&c, &s);
}

START_TEST(default_server_refuses_a_cbc_only_client)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server");
	int64_t cctx = cbc_only_client();
	assert_refused(cctx, sctx);
	/* The same server still speaks TLS 1.2 with an AEAD suite. */
	int64_t tls12 = client_ctx_v("ca.pem", EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_2);
	assert_cipher(tls12, sctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
	free_and_check(base, tls12, cctx, sctx);
}
END_TEST

START_TEST(widened_server_accepts_a_cbc_only_client)
{
	struct baseline base = baseline();
	int64_t cctx = cbc_only_client();
	/* Widened by policy, then by an explicit list. */
	int64_t sctx = server_ctx("server");
	ck_assert_ok(eps_tls_context_set_policy(sctx, EPS_TLS_POLICY_COMPATIBLE));
	assert_cipher(cctx, sctx, CBC_SUITE);
	ck_assert_ok(eps_tls_context_set_policy(sctx, EPS_TLS_POLICY_INTERMEDIATE));
	assert_refused(cctx, sctx);
	ck_assert_ok(eps_tls_context_set_cipher_list(sctx, "ECDHE+AESGCM:" CBC_SUITE));
	assert_cipher(cctx, sctx, CBC_SUITE);
	/* A policy set afterwards replaces the list. */
	ck_assert_ok(eps_tls_context_set_policy(sctx, EPS_TLS_POLICY_INTERMEDIATE));
	assert_refused(cctx, sctx);
	ck_assert_int_eq(eps_tls_context_set_policy(sctx, 2), -EPS_EINVAL);
	ck_assert_int_eq(eps_tls_context_set_policy(sctx, -1), -EPS_EINVAL);
	ck_assert_int_eq(eps_tls_context_set_policy(0, EPS_TLS_POLICY_COMPATIBLE), -EPS_EBADHANDLE);
	free_and_check(base, cctx, sctx);
}
END_TEST

/* `openssl s_client` offering only CBC_SUITE: refused unless widened. */
START_TEST(openssl_cbc_only_client_is_refused_unless_widened)
{
	struct baseline base = baseline();
	for (int widen = 0; widen < 2; widen++) {
		char *extra[] = {"-tls1_2", "-cipher", CBC_SUITE, "-CAfile", (char *)cert("ca.pem"),
				 NULL};
		int to, from, fd;
		pid_t pid = s_client(extra, &to, &from, &fd);
		int64_t sctx = server_ctx("server");
		if (widen)
			ck_assert_ok(eps_tls_context_set_policy(sctx, EPS_TLS_POLICY_COMPATIBLE));
		struct side s;
		open_side(&s, sctx, fd, NULL);
		int32_t r = handshake_alone(&s);
		char out[16384];
		if (widen) {
			ck_assert_msg(r == 0, "handshake: %s", eps_errname(r));
			ck_assert_msg(
			    read_until(from, out, sizeof out, "Verify return code: 0 (ok)"),
			    "s_client said: %s", out);
			ck_assert_msg(strstr(out, "Cipher is " CBC_SUITE) != NULL,
				      "s_client said: %s", out);
		} else {
			ck_assert_int_eq(r, -EPS_ETLSHANDSHAKE);
			ck_assert_msg(read_until(from, out, sizeof out, "alert handshake failure"),
				      "s_client said: %s", out);
		}
		close_tool(&s, to, pid, from);
		ck_assert_ok(eps_tls_context_free(sctx));
	}
	check_baseline(base);
}
END_TEST

/* Our default client refuses an `openssl s_server` that offers only CBC. */
START_TEST(default_client_refuses_a_cbc_only_server)
{
	struct baseline base = baseline();
	for (int widen = 0; widen < 2; widen++) {
		char *extra[] = {"-tls1_2", "-cipher", CBC_SUITE, NULL};
		int to, from, fd;
		pid_t pid = s_server(extra, &to, &from, &fd);
		int64_t cctx = client_ctx("ca.pem");
		if (widen)
			ck_assert_ok(eps_tls_context_set_policy(cctx, EPS_TLS_POLICY_COMPATIBLE));
		struct side c;
		open_side(&c, cctx, fd, "localhost");
		int32_t r = handshake_alone(&c);
		if (widen) {
			ck_assert_msg(r == 0, "handshake: %s", eps_errname(r));
			assert_text(eps_tls_connection_cipher, c.conn, CBC_SUITE);
		} else {
			ck_assert_int_eq(r, -EPS_ETLSHANDSHAKE);
		}
		close_tool(&c, to, pid, from);
		ck_assert_ok(eps_tls_context_free(cctx));
	}
	check_baseline(base);
}
END_TEST

/* --- chain file ------------------------------------------------------------- */

/* Run `openssl s_client EXTRA...` against SCTX; its report in OUT. */
static void s_client_report(int64_t sctx, char **extra, char *out, size_t cap)
{
	char *args[32] = {"-CAfile", (char *)cert("ca.pem"), "-servername", "localhost"};
	append_args(args, 4, extra);
	int to, from, fd;
	pid_t pid = s_client(args, &to, &from, &fd);
	struct side s;
	open_side(&s, sctx, fd, NULL);
	int32_t r = handshake_alone(&s);
	ck_assert_msg(r == 0, "handshake: %s", eps_errname(r));
	/* The verdict comes last: the whole report is in OUT then. */
	ck_assert_msg(read_until(from, out, cap, "Verify return code:"), "s_client said: %s", out);
	close_tool(&s, to, pid, from);
}

static int64_t chained_server(void)
{
	int64_t sctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_int_gt(sctx, 0);
	load_pair(sctx, "chained");
	return sctx;
}

START_TEST(chain_file_is_sent_after_the_leaf)
{
	struct baseline base = baseline();
	char out[32768];
	char *showcerts[] = {"-showcerts", NULL};
	/* Without the chain the client cannot reach the CA. */
	int64_t bare = chained_server();
	s_client_report(bare, showcerts, out, sizeof out);
	ck_assert_msg(strstr(out, "Verify return code: 21 ") != NULL, "s_client said: %s", out);
	ck_assert_msg(strstr(out, " 1 s:") == NULL, "s_client said: %s", out);

	int64_t sctx = chained_server();
	ck_assert_ok(eps_tls_context_use_chain_file(sctx, cert("inter.pem")));
	s_client_report(sctx, showcerts, out, sizeof out);
	ck_assert_msg(strstr(out, "Verify return code: 0 (ok)") != NULL, "s_client said: %s", out);
	ck_assert_msg(strstr(out, " 1 s:CN = Epsilon Test Intermediate") != NULL,
		      "s_client said: %s", out);
	/* Our own client, trusting only the root, verifies it too. */
	int64_t cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	assert_text(eps_tls_connection_peer_issuer, c.conn, "CN = Epsilon Test Intermediate");
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx, bare);
}
END_TEST

START_TEST(bad_chain_files_are_refused)
{
	struct baseline base = baseline();
	char d[1024];
	int64_t empty = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_int_eq(eps_tls_context_use_chain_file(empty, cert("inter.pem")), -EPS_EINVAL);
	detail(EPS_EINVAL, d, sizeof d);
	ck_assert_msg(strstr(d, "certificate before its chain") != NULL, "detail: %s", d);

	int64_t sctx = chained_server();
	ck_assert_int_eq(eps_tls_context_use_chain_file(sctx, NULL), -EPS_EINVAL);
	ck_assert_int_eq(eps_tls_context_use_chain_file(sctx, cert("missing.pem")), -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "cannot open") != NULL, "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_use_chain_file(sctx, cert("garbage.pem")), -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "malformed certificate") != NULL, "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_use_chain_file(sctx, cert("chained.key")), -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "no certificate") != NULL, "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_use_chain_file(sctx, cert("ca2.pem")), -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "did not issue the leaf") != NULL, "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_use_chain_file(0, cert("inter.pem")), -EPS_EBADHANDLE);
	/* The failures left the context as it was: still no chain. */
	char out[32768];
	char *none[] = {NULL};
	s_client_report(sctx, none, out, sizeof out);
	ck_assert_msg(strstr(out, "Verify return code: 21 ") != NULL, "s_client said: %s", out);
	free_and_check(base, sctx, empty);
}
END_TEST

/* --- OCSP stapling ------------------------------------------------------------ */

static char ocsp_dir[256];

/* Make the response file PATH for server.pem with STATUS, by the test CA. */
static void make_response(const char *path, const char *status)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "sh '%s' --ocsp '%s' '%s' %s '%s'", getenv("EPS_MAKE_CERTS"),
		 certdir, cert("server.pem"), status, path);
	ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

static const char *ocsp_path(const char *name)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];
	if (ocsp_dir[0] == '\0') {
		snprintf(ocsp_dir, sizeof ocsp_dir, "%s/ocsp-XXXXXX", certdir);
		ck_assert_ptr_nonnull(mkdtemp(ocsp_dir));
	}
	snprintf(b, 512, "%s/%s", ocsp_dir, name);
	return b;
}

/* What `openssl s_client -status` reports of SCTX's staple, in OUT. */
static void stapled(int64_t sctx, char *out, size_t cap)
{
	char *status[] = {"-status", NULL};
	s_client_report(sctx, status, out, cap);
}

START_TEST(ocsp_response_is_stapled)
{
	struct baseline base = baseline();
	const char *resp = ocsp_path("good.der");
	make_response(resp, "good");
	char out[32768];
	int64_t sctx = server_ctx("server");
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "OCSP response: no response sent") != NULL, "s_client said: %s",
		      out);
	ck_assert_ok(eps_tls_context_set_ocsp_response_file(sctx, resp));
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "OCSP Response Status: successful") != NULL, "s_client said: %s",
		      out);
	ck_assert_msg(strstr(out, "Cert Status: good") != NULL, "s_client said: %s", out);
	/* A client that does not ask gets nothing, and connects. */
	int64_t cctx = client_ctx("ca.pem");
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	close_pair(&c, &s);
	/* NULL stops the stapling. */
	ck_assert_ok(eps_tls_context_set_ocsp_response_file(sctx, NULL));
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "OCSP response: no response sent") != NULL, "s_client said: %s",
		      out);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(ocsp_response_is_read_again_when_the_file_changes)
{
	struct baseline base = baseline();
	const char *resp = ocsp_path("changing.der");
	make_response(resp, "good");
	char out[32768];
	int64_t sctx = server_ctx("server");
	ck_assert_ok(eps_tls_context_set_ocsp_response_file(sctx, resp));
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: good") != NULL, "s_client said: %s", out);
	/* Replaced by a rename, as a cron job would. */
	make_response(resp, "revoked");
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: revoked") != NULL, "s_client said: %s", out);
	/* Rewritten in place with garbage: the last good response stays. */
	FILE *f = fopen(resp, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not an OCSP response", f);
	fclose(f);
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: revoked") != NULL, "s_client said: %s", out);
	/* Removed: the same. */
	ck_assert_int_eq(unlink(resp), 0);
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: revoked") != NULL, "s_client said: %s", out);
	/* Back, good again. */
	make_response(resp, "good");
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: good") != NULL, "s_client said: %s", out);
	free_and_check(base, sctx);
}
END_TEST

START_TEST(bad_ocsp_files_are_refused)
{
	struct baseline base = baseline();
	char d[1024];
	const char *resp = ocsp_path("kept.der");
	make_response(resp, "good");
	int64_t sctx = server_ctx("server");
	ck_assert_ok(eps_tls_context_set_ocsp_response_file(sctx, resp));
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(sctx, ""), -EPS_EINVAL);
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(sctx, ocsp_path("missing.der")),
			 -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "missing.der") != NULL && strstr(d, "No such file") != NULL,
		      "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(sctx, cert("garbage.pem")),
			 -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "is not a DER OCSP response") != NULL, "detail: %s", d);
	/* A certificate is DER-ish but no OCSP response. */
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(sctx, cert("server.pem")),
			 -EPS_EBADPEM);
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(sctx, certdir), -EPS_EBADPEM);
	detail(EPS_EBADPEM, d, sizeof d);
	ck_assert_msg(strstr(d, "not a regular file") != NULL, "detail: %s", d);
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(0, resp), -EPS_EBADHANDLE);
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_int_eq(eps_tls_context_set_ocsp_response_file(cctx, resp), -EPS_EINVAL);
	detail(EPS_EINVAL, d, sizeof d);
	ck_assert_msg(strstr(d, "only a server") != NULL, "detail: %s", d);
	/* The failures left the first response in place. */
	char out[32768];
	stapled(sctx, out, sizeof out);
	ck_assert_msg(strstr(out, "Cert Status: good") != NULL, "s_client said: %s", out);
	free_and_check(base, cctx, sctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tls_policy");
	TCase *policy = tls_tcase(s, "cipher policy", 60);
	tcase_add_test(policy, default_server_refuses_a_cbc_only_client);
	tcase_add_test(policy, widened_server_accepts_a_cbc_only_client);
	tcase_add_test(policy, openssl_cbc_only_client_is_refused_unless_widened);
	tcase_add_test(policy, default_client_refuses_a_cbc_only_server);

	TCase *chain = tls_tcase(s, "chain file", 60);
	tcase_add_test(chain, chain_file_is_sent_after_the_leaf);
	tcase_add_test(chain, bad_chain_files_are_refused);

	TCase *ocsp = tls_tcase(s, "ocsp stapling", 60);
	tcase_add_test(ocsp, ocsp_response_is_stapled);
	tcase_add_test(ocsp, ocsp_response_is_read_again_when_the_file_changes);
	tcase_add_test(ocsp, bad_ocsp_files_are_refused);
	return s;
}

int main(void)
{
	return tls_test_main(make_suite);
}
