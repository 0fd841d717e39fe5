/* SPDX-License-Identifier: MIT */
/*
 * test_tls_info.c - what a connection reports about itself and its peer's
 * certificate, checked against the openssl command.
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
/* --- information ----------------------------------------------------------- */

static void assert_matches_cli(int64_t conn, const char *name)
{
	struct x509_facts x = x509_facts(name);
	assert_text(eps_tls_connection_peer_fingerprint, conn, x.fingerprint);
	assert_text(eps_tls_connection_peer_subject, conn, x.subject);
	assert_text(eps_tls_connection_peer_issuer, conn, x.issuer);
	int64_t nb = -1, na = -1;
	ck_assert_ok(eps_tls_connection_peer_validity(conn, &nb, &na));
	ck_assert_int_eq(nb, x.not_before);
	ck_assert_int_eq(na, x.not_after);
	/* The PEM text is the file's (the files hold the leaf alone). */
	FILE *f = fopen(cert(name), "re");
	char file[8192];
	size_t n = fread(file, 1, sizeof file - 1, f);
	fclose(f);
	file[n] = '\0';
	assert_text(eps_tls_connection_peer_certificate_pem, conn, file);
}

START_TEST(information_matches_the_openssl_command)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	int64_t sctx = mtls_server(v, EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT);
	int64_t cctx = mtls_client("client");
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	assert_matches_cli(c.conn, "server.pem");
	assert_matches_cli(s.conn, "client.pem");
	assert_text(eps_tls_connection_peer_alt_names, c.conn,
		    "DNS:localhost\nIP:127.0.0.1\nIP:::1");
	assert_text(eps_tls_connection_peer_alt_names, s.conn, "DNS:client.localhost\nIP:10.1.2.3");

	int32_t r;
	const char *cipher = text(eps_tls_connection_cipher, c.conn, &r);
	ck_assert_int_gt(r, 0);
	ck_assert_str_eq(cipher, text(eps_tls_connection_cipher, s.conn, NULL));
	if (v == EPS_TLS_VERSION_1_3)
		ck_assert_msg(strncmp(cipher, "TLS_", 4) == 0, "cipher %s", cipher);
	else
		ck_assert_msg(strncmp(cipher, "ECDHE-ECDSA-", 12) == 0, "cipher %s", cipher);
	ck_assert_int_eq(eps_tls_connection_version(c.conn), v);

	/* Like snprintf: truncated, terminated, the full length returned. */
	char small[5] = "xxxx";
	ck_assert_int_eq(eps_tls_connection_peer_fingerprint(c.conn, (uint8_t *)small, 5), 95);
	ck_assert_int_eq(strlen(small), 4);
	ck_assert_int_eq(eps_tls_connection_peer_fingerprint(c.conn, NULL, 0), 95);
	ck_assert_int_eq(eps_tls_connection_peer_subject(c.conn, (uint8_t *)small, 1), 14);
	ck_assert_str_eq(small, "");

	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tls_info");
	TCase *info = tls_tcase(s, "information", 60);
	tcase_add_loop_test(info, information_matches_the_openssl_command, 0, 2);
	return s;
}

int main(void)
{
	return tls_test_main(make_suite);
}
