/* SPDX-License-Identifier: MIT */
/*
 * test_tls_extensions.c - what a handshake negotiates beyond the defaults: ALPN,
 * certificates chosen by SNI, mutual TLS, the key log; against ourselves
 * and the openssl command, over loopback TCP.
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
/* --- ALPN ------------------------------------------------------------------ */

struct alpn_case {
	const char *client, *server, *want;
};

static const struct alpn_case alpn_cases[] = {
    {"http/1.1,h2", "h2,http/1.1", "h2"},
    {"http/1.1,h2", "http/1.1,h2", "http/1.1"},
    {"h2,http/1.1", "http/1.1,h2", "http/1.1"},
    {"h2", "spdy/3,h2", "h2"},
};

START_TEST(alpn_server_preference_wins)
{
	struct baseline base = baseline();
	const struct alpn_case *k = &alpn_cases[_i];
	int64_t sctx = server_ctx("server");
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, k->client));
	ck_assert_ok(eps_tls_context_set_alpn_protocols(sctx, k->server));
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	assert_text(eps_tls_connection_alpn_protocol, c.conn, k->want);
	assert_text(eps_tls_connection_alpn_protocol, s.conn, k->want);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(alpn_without_overlap_fails_by_default)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx_v("server", versions[_i], versions[_i]);
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, "spdy/1,imap"));
	ck_assert_ok(eps_tls_context_set_alpn_protocols(sctx, "h2,http/1.1"));
	struct side c, s;
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
	ck_assert_msg(strstr(s.detail, "no application protocol") != NULL, "detail: %s", s.detail);
	ck_assert_code(c.rc, EPS_ETLSHANDSHAKE);
	ck_assert_msg(strstr(c.detail, "no application protocol") != NULL, "detail: %s", c.detail);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(alpn_without_overlap_proceeds_when_asked)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server");
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, "spdy/1"));
	ck_assert_ok(eps_tls_context_set_alpn_protocols(sctx, "h2"));
	ck_assert_ok(eps_tls_context_set_alpn_mismatch(sctx, EPS_TLS_ALPN_MISMATCH_PROCEED));
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	int32_t r;
	(void)text(eps_tls_connection_alpn_protocol, c.conn, &r);
	ck_assert_code(r, EPS_ENOENT);
	(void)text(eps_tls_connection_alpn_protocol, s.conn, &r);
	ck_assert_code(r, EPS_ENOENT);
	close_pair(&c, &s);

	/* Back to failing; and a client that offers nothing gets nothing. */
	ck_assert_ok(eps_tls_context_set_alpn_mismatch(sctx, EPS_TLS_ALPN_MISMATCH_FAIL));
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
	close_pair(&c, &s);
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, ""));
	connect_ok(cctx, sctx, "localhost", &c, &s);
	(void)text(eps_tls_connection_alpn_protocol, s.conn, &r);
	ck_assert_code(r, EPS_ENOENT);
	close_pair(&c, &s);
	free_and_check(base, cctx, sctx);
}
END_TEST

START_TEST(alpn_with_openssl_s_server)
{
	struct baseline base = baseline();
	char *extra[] = {"-alpn", "h2,http/1.1", NULL};
	int to, from, fd;
	pid_t pid = s_server(extra, &to, &from, &fd);
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, "http/1.1,h2"));
	struct side c;
	open_side(&c, cctx, fd, "localhost");
	ck_assert_int_eq(handshake_alone(&c), 0);
	assert_text(eps_tls_connection_alpn_protocol, c.conn, "h2");
	ck_assert_int_ge(eps_tls_connection_shutdown(c.conn), EPS_TLS_SHUTDOWN_SENT);
	close_tool(&c, to, pid, from);
	free_and_check(base, cctx);
}
END_TEST

START_TEST(alpn_with_openssl_s_client)
{
	struct baseline base = baseline();
	char *extra[] = {"-CAfile", (char *)cert("ca.pem"), "-servername", "localhost",
			 "-alpn",   "http/1.1,h2",	    NULL};
	int to, from, fd;
	pid_t pid = s_client(extra, &to, &from, &fd);
	int64_t sctx = server_ctx("server");
	ck_assert_ok(eps_tls_context_set_alpn_protocols(sctx, "h2,http/1.1"));
	struct side s;
	open_side(&s, sctx, fd, NULL);
	ck_assert_int_eq(handshake_alone(&s), 0);
	assert_text(eps_tls_connection_alpn_protocol, s.conn, "h2");
	char out[16384];
	ck_assert_msg(read_until(from, out, sizeof out, "ALPN protocol: h2"), "s_client said: %s",
		      out);
	ck_assert_int_ge(eps_tls_connection_shutdown(s.conn), EPS_TLS_SHUTDOWN_SENT);
	close_tool(&s, to, pid, from);
	free_and_check(base, sctx);
}
END_TEST

/* --- SNI ------------------------------------------------------------------- */

START_TEST(sni_picks_the_certificate_by_name)
{
	struct baseline base = baseline();
	int64_t sctx = server_ctx("server");
	/* alt: by the certificate's own names; other: by an explicit wildcard. */
	ck_assert_ok(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"),
								 cert("alt.key")));
	ck_assert_ok(eps_tls_context_add_server_certificate_file(
	    sctx, "*.Explicit.localhost", cert("other.pem"), cert("other.key")));
	int64_t cctx = client_ctx("ca.pem");
	int64_t loose = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_verify(loose, EPS_TLS_VERIFY_NONE));
	/* The main context's other settings hold whichever certificate is shown. */
	ck_assert_ok(eps_tls_context_set_alpn_protocols(sctx, "h2,http/1.1"));
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, "http/1.1,h2"));
	ck_assert_ok(eps_tls_context_set_alpn_protocols(loose, "http/1.1,h2"));
	static const struct {
		const char *host, *want;
		int verify;
	} cases[] = {
	    {"localhost", "server.pem", 1},	      {"alt.localhost", "alt.pem", 1},
	    {"x.wild.localhost", "alt.pem", 1},	      {"ALT.LOCALHOST", "alt.pem", 1},
	    {"a.explicit.localhost", "other.pem", 0}, {"explicit.localhost", "server.pem", 0},
	    {"unknown.example", "server.pem", 0},     {"127.0.0.1", "server.pem", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct side c, s;
		connect_ok(cases[i].verify ? cctx : loose, sctx, cases[i].host, &c, &s);
		assert_peer_is(c.conn, cases[i].want);
		assert_text(eps_tls_connection_alpn_protocol, c.conn, "h2");
		int32_t r;
		const char *sent = text(eps_tls_connection_server_name, s.conn, &r);
		if (strcmp(cases[i].host, "127.0.0.1") == 0) {
			ck_assert_code(r, EPS_ENOENT);
		} else {
			ck_assert_int_ge(r, 0);
			ck_assert_msg(strcasecmp(sent, cases[i].host) == 0, "sent %s", sent);
			assert_text(eps_tls_connection_server_name, c.conn, cases[i].host);
		}
		close_pair(&c, &s);
	}
	free_and_check(base, cctx, loose, sctx);
}
END_TEST

START_TEST(sni_without_main_certificate_defaults_to_the_first)
{
	struct baseline base = baseline();
	int64_t sctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	ck_assert_int_gt(sctx, 0);
	size_t clen, klen;
	FILE *f = fopen(cert("alt.pem"), "re");
	static uint8_t pem[8192], key[8192];
	clen = fread(pem, 1, sizeof pem, f);
	fclose(f);
	f = fopen(cert("alt.key"), "re");
	klen = fread(key, 1, sizeof key, f);
	fclose(f);
	ck_assert_ok(eps_tls_context_add_server_certificate_pem(sctx, "", pem, clen, key, klen));
	ck_assert_ok(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("server.pem"),
								 cert("server.key")));
	int64_t loose = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_verify(loose, EPS_TLS_VERIFY_NONE));
	struct side c, s;
	connect_ok(loose, sctx, "localhost", &c, &s);
	assert_peer_is(c.conn, "server.pem");
	close_pair(&c, &s);
	connect_ok(loose, sctx, "nobody.example", &c, &s);
	assert_peer_is(c.conn, "alt.pem");
	close_pair(&c, &s);
	connect_ok(loose, sctx, "127.0.0.1", &c, &s); /* no SNI at all */
	assert_peer_is(c.conn, "alt.pem");
	close_pair(&c, &s);
	free_and_check(base, loose, sctx);
}
END_TEST

START_TEST(sni_with_openssl_s_client)
{
	struct baseline base = baseline();
	char *extra[] = {
	    "-CAfile",		(char *)cert("ca.pem"), "-servername",		"alt.localhost",
	    "-verify_hostname", "alt.localhost",	"-verify_return_error", NULL};
	int to, from, fd;
	pid_t pid = s_client(extra, &to, &from, &fd);
	int64_t sctx = server_ctx("server");
	ck_assert_ok(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"),
								 cert("alt.key")));
	struct side s;
	open_side(&s, sctx, fd, NULL);
	ck_assert_int_eq(handshake_alone(&s), 0);
	assert_text(eps_tls_connection_server_name, s.conn, "alt.localhost");
	char out[16384];
	/* The verdict comes last: the whole report is in OUT then. */
	ck_assert_msg(read_until(from, out, sizeof out, "Verify return code: 0 (ok)"),
		      "s_client said: %s", out);
	ck_assert_msg(strstr(out, "\nsubject=CN = alt.localhost\n") != NULL, "s_client said: %s",
		      out);
	ck_assert_int_ge(eps_tls_connection_shutdown(s.conn), EPS_TLS_SHUTDOWN_SENT);
	close_tool(&s, to, pid, from);
	free_and_check(base, sctx);
}
END_TEST

/* --- mutual TLS ------------------------------------------------------------ */

/* The client's view of a refused handshake: now, or at its first read. */
static void client_refused(struct side *c)
{
	if (c->rc == 0) {
		uint8_t b[16];
		ck_assert_int_lt(read_settled(c, b, sizeof b), 0);
	} else {
		ck_assert_int_lt(c->rc, 0);
	}
}

START_TEST(mtls_required_refuses_strangers)
{
	struct baseline base = baseline();
	int64_t sctx =
	    mtls_server(versions[_i], EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT);
	struct side c, s;

	int64_t none = mtls_client(NULL);
	connect_pair(none, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
	ck_assert_msg(strstr(s.detail, "certificate") != NULL, "detail: %s", s.detail);
	client_refused(&c);
	close_pair(&c, &s);

	int64_t rogue = mtls_client("rogue");
	connect_pair(rogue, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ECERTVERIFY);
	ck_assert_int_eq(eps_tls_connection_verify_result(s.conn), 20); /* unknown issuer */
	client_refused(&c);
	close_pair(&c, &s);

	int64_t good = mtls_client("client");
	connect_ok(good, sctx, "localhost", &c, &s);
	ck_assert_int_eq(eps_tls_connection_verify_result(s.conn), 0);
	assert_text(eps_tls_connection_peer_subject, s.conn, "O = Epsilon, CN = epsilon client");
	assert_peer_is(s.conn, "client.pem");
	/* Data flows both ways after the client's certificate was checked. */
	write_all(&c, (const uint8_t *)"hi", 2);
	uint8_t b[2];
	read_exact(&s, b, 2);
	write_all(&s, (const uint8_t *)"yo", 2);
	read_exact(&c, b, 2);
	ck_assert_mem_eq(b, "yo", 2);
	close_pair(&c, &s);

	free_and_check(base, none, rogue, good, sctx);
}
END_TEST

START_TEST(mtls_requested_lets_anonymous_clients_in)
{
	struct baseline base = baseline();
	int64_t sctx = mtls_server(versions[_i], EPS_TLS_VERIFY_PEER);
	struct side c, s;
	int64_t none = mtls_client(NULL);
	connect_ok(none, sctx, "localhost", &c, &s);
	int32_t r;
	(void)text(eps_tls_connection_peer_subject, s.conn, &r);
	ck_assert_code(r, EPS_ENOENT);
	close_pair(&c, &s);
	int64_t good = mtls_client("client");
	connect_ok(good, sctx, "localhost", &c, &s);
	assert_text(eps_tls_connection_peer_subject, s.conn, "O = Epsilon, CN = epsilon client");
	close_pair(&c, &s);
	free_and_check(base, none, good, sctx);
}
END_TEST

/* --- key log --------------------------------------------------------------- */

static char *slurp_text(const char *path)
{
	static char buf[65536];
	buf[0] = '\0';
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return buf;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

START_TEST(key_log_written_only_when_asked)
{
	struct baseline base = baseline();
	int32_t v = versions[_i];
	char dir[] = "/tmp/eps-keylog.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[PATH_MAX], path2[PATH_MAX];
	snprintf(path, sizeof path, "%s/keys.log", dir);
	snprintf(path2, sizeof path2, "%s/off.log", dir);

	int64_t sctx = server_ctx_v("server", v, v);
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_keylog_file(cctx, path));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	struct side c, s;
	connect_ok(cctx, sctx, "localhost", &c, &s);
	close_pair(&c, &s);
	const char *log = slurp_text(path);
	if (v == EPS_TLS_VERSION_1_3) {
		ck_assert_msg(strstr(log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ") != NULL, "%s", log);
		ck_assert_msg(strstr(log, "SERVER_HANDSHAKE_TRAFFIC_SECRET ") != NULL, "%s", log);
		ck_assert_msg(strstr(log, "CLIENT_TRAFFIC_SECRET_0 ") != NULL, "%s", log);
	} else {
		ck_assert_msg(strncmp(log, "CLIENT_RANDOM ", 14) == 0, "%s", log);
	}
	/* Whole lines: LABEL <64 hex> <hex>\n. */
	int lines = 0;
	for (const char *p = log; *p != '\0'; lines++) {
		const char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		const char *sp = strchr(p, ' ');
		ck_assert_msg(sp != NULL && sp < nl && strspn(sp + 1, "0123456789abcdef") == 64 &&
				  sp[65] == ' ',
			      "line: %.*s", (int)(nl - p), p);
		p = nl + 1;
	}
	ck_assert_int_ge(lines, v == EPS_TLS_VERSION_1_3 ? 5 : 1);
	size_t before = strlen(log);

	/* Off: the file is closed and grows no more; another file stays empty. */
	ck_assert_ok(eps_tls_context_set_keylog_file(cctx, path2));
	ck_assert_ok(eps_tls_context_set_keylog_file(cctx, NULL));
	connect_ok(cctx, sctx, "localhost", &c, &s);
	close_pair(&c, &s);
	ck_assert_uint_eq(strlen(slurp_text(path)), before);
	ck_assert_int_eq(stat(path2, &st), 0);
	ck_assert_int_eq(st.st_size, 0);

	/* The server side logs too; freeing the context closes the file. */
	ck_assert_ok(eps_tls_context_set_keylog_file(sctx, path));
	connect_ok(cctx, sctx, "localhost", &c, &s);
	close_pair(&c, &s);
	ck_assert_uint_gt(strlen(slurp_text(path)), before);
	free_and_check(base, cctx, sctx);
	unlink(path);
	unlink(path2);
	rmdir(dir);
}
END_TEST

struct hs_worker {
	int64_t cctx, sctx;
	const char *fp_server, *fp_alt; /* the fingerprints each name must get */
	int done;
};

static void *hs_worker_main(void *arg)
{
	struct hs_worker *w = arg;
	for (int i = 0; i < 8; i++) {
		const char *host = i % 2 ? "alt.localhost" : "localhost";
		struct side c, s;
		connect_pair(w->cctx, w->sctx, host, &c, &s);
		char fp[128];
		if (c.rc == 0 && s.rc == 0 &&
		    eps_tls_connection_peer_fingerprint(c.conn, (uint8_t *)fp, sizeof fp) == 95 &&
		    strcmp(fp, i % 2 ? w->fp_alt : w->fp_server) == 0)
			w->done++;
		close_pair(&c, &s);
	}
	return NULL;
}

START_TEST(key_log_lines_stay_whole_across_threads)
{
	struct baseline base = baseline();
	char dir[] = "/tmp/eps-keylog.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/keys.log", dir);
	int64_t sctx = server_ctx_v("server", EPS_TLS_VERSION_1_3, 0);
	ck_assert_ok(eps_tls_context_add_server_certificate_file(sctx, NULL, cert("alt.pem"),
								 cert("alt.key")));
	int64_t cctx = client_ctx("ca.pem");
	ck_assert_ok(eps_tls_context_set_keylog_file(cctx, path));
	struct x509_facts fs = x509_facts("server.pem"), fa = x509_facts("alt.pem");
	struct hs_worker w[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct hs_worker){cctx, sctx, fs.fingerprint, fa.fingerprint, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, hs_worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(w[i].done, 8);
	}
	free_and_check(base, cctx, sctx);
	/* TLS 1.3: five secrets per handshake, every line whole. */
	const char *log = slurp_text(path);
	int lines = 0;
	for (const char *p = log; *p != '\0'; lines++) {
		const char *nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		const char *sp = strchr(p, ' ');
		ck_assert(sp != NULL && sp < nl && strspn(sp + 1, "0123456789abcdef") == 64);
		ck_assert(sp[65] == ' ' &&
			  strspn(sp + 66, "0123456789abcdef") == (size_t)(nl - sp - 66));
		p = nl + 1;
	}
	ck_assert_int_eq(lines, 4 * 8 * 5);
	unlink(path);
	rmdir(dir);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("tls_extensions");
	TCase *alpn = tls_tcase(s, "alpn", 60);
	tcase_add_loop_test(alpn, alpn_server_preference_wins, 0,
			    (int)(sizeof alpn_cases / sizeof alpn_cases[0]));
	tcase_add_loop_test(alpn, alpn_without_overlap_fails_by_default, 0, 2);
	tcase_add_test(alpn, alpn_without_overlap_proceeds_when_asked);
	tcase_add_test(alpn, alpn_with_openssl_s_server);
	tcase_add_test(alpn, alpn_with_openssl_s_client);

	TCase *sni = tls_tcase(s, "sni", 60);
	tcase_add_test(sni, sni_picks_the_certificate_by_name);
	tcase_add_test(sni, sni_without_main_certificate_defaults_to_the_first);
	tcase_add_test(sni, sni_with_openssl_s_client);

	TCase *mtls = tls_tcase(s, "mutual tls", 60);
	tcase_add_loop_test(mtls, mtls_required_refuses_strangers, 0, 2);
	tcase_add_loop_test(mtls, mtls_requested_lets_anonymous_clients_in, 0, 2);

	TCase *keylog = tls_tcase(s, "key log", 60);
	tcase_add_loop_test(keylog, key_log_written_only_when_asked, 0, 2);
	tcase_add_test(keylog, key_log_lines_stay_whole_across_threads);
	return s;
}

int main(void)
{
	return tls_test_main(make_suite);
}
