/*
 * test_tls2.c - TLS part 2: ALPN, certificates chosen by SNI, mutual TLS,
 * session resumption, connection and peer-certificate information, key
 * logging; against ourselves and the openssl command, over loopback TCP.
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

static const int32_t versions[] = {EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_3};

typedef int32_t (*text_fn)(int64_t conn, uint8_t *buf, size_t len);

/* The text FN reports for CONN, or "" with *RC the negative code. */
static const char *text(text_fn fn, int64_t conn, int32_t *rc)
{
	static char bufs[4][4096];
	static int next;
	char *b = bufs[next++ % 4];
	int32_t r = fn(conn, (uint8_t *)b, 4096);
	if (rc != NULL)
		*rc = r;
	if (r < 0)
		b[0] = '\0';
	else
		ck_assert_int_lt(r, 4096);
	return b;
}

static void assert_text(text_fn fn, int64_t conn, const char *want)
{
	int32_t r;
	const char *got = text(fn, conn, &r);
	ck_assert_msg(r >= 0, "got %s", eps_errname(r));
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(r, (int32_t)strlen(want));
}

static void load_pair(int64_t ctx, const char *name)
{
	char p[64], k[64];
	snprintf(p, sizeof p, "%s.pem", name);
	snprintf(k, sizeof k, "%s.key", name);
	ck_assert_ok(eps_tls_context_use_certificate_file(ctx, cert(p)));
	ck_assert_ok(eps_tls_context_use_private_key_file(ctx, cert(k)));
}

/* What `openssl x509` prints about a certificate file. */
struct x509_facts {
	char fingerprint[128];
	char subject[256];
	char issuer[256];
	int64_t not_before, not_after;
};

static int64_t parse_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	struct tm tm = {0};
	ck_assert_int_eq(sscanf(s, "%3s %d %d:%d:%d %d", mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
				&tm.tm_sec, &tm.tm_year),
			 6);
	const char *m = strstr(months, mon);
	ck_assert_ptr_nonnull(m);
	tm.tm_mon = (int)(m - months) / 3;
	tm.tm_year -= 1900;
	return (int64_t)timegm(&tm);
}

static void chomp(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

static struct x509_facts x509_facts(const char *name)
{
	char cmd[PATH_MAX + 128];
	snprintf(cmd, sizeof cmd,
		 "openssl x509 -noout -fingerprint -sha256 -subject -issuer -dates -in '%s'",
		 cert(name));
	FILE *f = popen(cmd, "re");
	ck_assert_ptr_nonnull(f);
	struct x509_facts x = {0};
	char line[512];
	int seen = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		chomp(line);
		char *eq = strchr(line, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		const char *v = eq + 1;
		if (strcmp(line, "sha256 Fingerprint") == 0 ||
		    strcmp(line, "SHA256 Fingerprint") == 0)
			snprintf(x.fingerprint, sizeof x.fingerprint, "%s", v), seen |= 1;
		else if (strcmp(line, "subject") == 0)
			snprintf(x.subject, sizeof x.subject, "%s", v), seen |= 2;
		else if (strcmp(line, "issuer") == 0)
			snprintf(x.issuer, sizeof x.issuer, "%s", v), seen |= 4;
		else if (strcmp(line, "notBefore") == 0)
			x.not_before = parse_date(v), seen |= 8;
		else if (strcmp(line, "notAfter") == 0)
			x.not_after = parse_date(v), seen |= 16;
	}
	ck_assert_int_eq(pclose(f), 0);
	ck_assert_int_eq(seen, 31);
	return x;
}

/* Handshake a pair and require both sides to succeed. */
static void connect_ok(int64_t cctx, int64_t sctx, const char *hostname, struct side *c,
		       struct side *s)
{
	connect_pair(cctx, sctx, hostname, c, s);
	ck_assert_msg(c->rc == 0 && s->rc == 0, "client %s (%s), server %s (%s)",
		      eps_errname(c->rc), c->detail, eps_errname(s->rc), s->detail);
}

/* The peer's fingerprint on CONN equals the file NAME's. */
static void assert_peer_is(int64_t conn, const char *name)
{
	struct x509_facts x = x509_facts(name);
	assert_text(eps_tls_connection_peer_fingerprint, conn, x.fingerprint);
}

/* Drive one handshake against a tool on the other end of FD. */
static int32_t handshake_alone(struct side *x)
{
	int32_t r = 0;
	for (int step = 0; step < MAX_STEPS; step++) {
		r = eps_tls_connection_handshake(x->conn);
		if (r != -EPS_ETLSWANTREAD && r != -EPS_ETLSWANTWRITE)
			return r;
		struct pollfd p = {.fd = x->fd, .events = want_events(r)};
		ck_assert_int_eq(poll(&p, 1, POLL_MS), 1);
	}
	ck_abort_msg("handshake did not finish");
	return r;
}

/* A listener on 127.0.0.1, port 0; "127.0.0.1:PORT" in TARGET. */
static int listener(char *target, size_t cap)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	snprintf(target, cap, "127.0.0.1:%d", ntohs(a.sin_port));
	return l;
}

static int accept_one(int l)
{
	struct pollfd lp = {.fd = l, .events = POLLIN};
	ck_assert_int_eq(poll(&lp, 1, POLL_MS), 1);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	close(l);
	return fd;
}

/* Start `openssl s_server` with EXTRA arguments; connect to it. */
static pid_t s_server(char **extra, int *to, int *from, int *fd)
{
	char *argv[32] = {"openssl",  "s_server",
			  "-accept",  "127.0.0.1:0",
			  "-cert",    (char *)cert("server.pem"),
			  "-key",     (char *)cert("server.key"),
			  "-naccept", "1",
			  "-rev"};
	int n = 11;
	while (*extra != NULL)
		argv[n++] = *extra++;
	argv[n] = NULL;
	pid_t pid = spawn(argv, to, from);
	char out[4096];
	ck_assert_msg(read_until(*from, out, sizeof out, "ACCEPT 127.0.0.1:"), "s_server said: %s",
		      out);
	int port = atoi(strstr(out, "ACCEPT 127.0.0.1:") + strlen("ACCEPT 127.0.0.1:"));
	ck_assert_int_gt(port, 0);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(connect(*fd, (struct sockaddr *)&a, sizeof a), 0);
	return pid;
}

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
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);

	/* Back to failing; and a client that offers nothing gets nothing. */
	ck_assert_ok(eps_tls_context_set_alpn_mismatch(sctx, EPS_TLS_ALPN_MISMATCH_FAIL));
	connect_pair(cctx, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ETLSHANDSHAKE);
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_set_alpn_protocols(cctx, ""));
	connect_ok(cctx, sctx, "localhost", &c, &s);
	(void)text(eps_tls_connection_alpn_protocol, s.conn, &r);
	ck_assert_code(r, EPS_ENOENT);
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close(to);
	reap(pid, from);
	ck_assert_ok(eps_tls_context_free(cctx));
	check_baseline(base);
}
END_TEST

START_TEST(alpn_with_openssl_s_client)
{
	struct baseline base = baseline();
	char target[64];
	int l = listener(target, sizeof target);
	char *argv[] = {"openssl",     "s_client",  "-connect",
			target,	       "-CAfile",   (char *)cert("ca.pem"),
			"-servername", "localhost", "-alpn",
			"http/1.1,h2", NULL};
	int to, from;
	pid_t pid = spawn(argv, &to, &from);
	int fd = accept_one(l);
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
	close_side(&s);
	close(to);
	reap(pid, from);
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
		close_side(&c);
		close_side(&s);
	}
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(loose));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
	connect_ok(loose, sctx, "nobody.example", &c, &s);
	assert_peer_is(c.conn, "alt.pem");
	close_side(&c);
	close_side(&s);
	connect_ok(loose, sctx, "127.0.0.1", &c, &s); /* no SNI at all */
	assert_peer_is(c.conn, "alt.pem");
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(loose));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
}
END_TEST

START_TEST(sni_with_openssl_s_client)
{
	struct baseline base = baseline();
	char target[64];
	int l = listener(target, sizeof target);
	char *argv[] = {"openssl",
			"s_client",
			"-connect",
			target,
			"-CAfile",
			(char *)cert("ca.pem"),
			"-servername",
			"alt.localhost",
			"-verify_hostname",
			"alt.localhost",
			"-verify_return_error",
			NULL};
	int to, from;
	pid_t pid = spawn(argv, &to, &from);
	int fd = accept_one(l);
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
	close_side(&s);
	close(to);
	reap(pid, from);
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
}
END_TEST

/* --- mutual TLS ------------------------------------------------------------ */

static int64_t mtls_server(int32_t version, int32_t mode)
{
	int64_t sctx = server_ctx_v("server", version, version);
	ck_assert_ok(eps_tls_context_load_ca_file(sctx, cert("ca.pem")));
	ck_assert_ok(eps_tls_context_set_verify(sctx, mode));
	return sctx;
}

static int64_t mtls_client(const char *name)
{
	int64_t cctx = client_ctx("ca.pem");
	if (name != NULL)
		load_pair(cctx, name);
	return cctx;
}

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
	close_side(&c);
	close_side(&s);

	int64_t rogue = mtls_client("rogue");
	connect_pair(rogue, sctx, "localhost", &c, &s);
	ck_assert_code(s.rc, EPS_ECERTVERIFY);
	ck_assert_int_eq(eps_tls_connection_verify_result(s.conn), 20); /* unknown issuer */
	client_refused(&c);
	close_side(&c);
	close_side(&s);

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
	close_side(&c);
	close_side(&s);

	ck_assert_ok(eps_tls_context_free(none));
	ck_assert_ok(eps_tls_context_free(rogue));
	ck_assert_ok(eps_tls_context_free(good));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
	int64_t good = mtls_client("client");
	connect_ok(good, sctx, "localhost", &c, &s);
	assert_text(eps_tls_connection_peer_subject, s.conn, "O = Epsilon, CN = epsilon client");
	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(none));
	ck_assert_ok(eps_tls_context_free(good));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
}
END_TEST

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
	close_side(&c);
	close_side(&s);
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
	close_side(&c);
	close_side(&s);
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

	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	ck_assert_ok(eps_tls_context_free(sctx2));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
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
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
}
END_TEST

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

	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
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
	close_side(&c);
	close_side(&s);
	ck_assert_uint_eq(strlen(slurp_text(path)), before);
	ck_assert_int_eq(stat(path2, &st), 0);
	ck_assert_int_eq(st.st_size, 0);

	/* The server side logs too; freeing the context closes the file. */
	ck_assert_ok(eps_tls_context_set_keylog_file(sctx, path));
	connect_ok(cctx, sctx, "localhost", &c, &s);
	close_side(&c);
	close_side(&s);
	ck_assert_uint_gt(strlen(slurp_text(path)), before);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
		close_side(&c);
		close_side(&s);
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
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	close_side(&c);
	close_side(&s);
	all_refuse(conn);
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
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
	ck_assert_ok(eps_tls_context_free(sctx));
	ck_assert_ok(eps_tls_context_free(cctx));
	check_baseline(base);
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
	close_side(&c2);
	close_side(&s2);

	close_side(&c);
	close_side(&s);
	ck_assert_ok(eps_tls_context_free(bad));
	ck_assert_ok(eps_tls_context_free(cctx));
	ck_assert_ok(eps_tls_context_free(sctx));
	check_baseline(base);
}
END_TEST

static Suite *tls2_suite(void)
{
	Suite *s = suite_create("tls2");
	TCase *alpn = tcase_create("alpn");
	tcase_add_loop_test(alpn, alpn_server_preference_wins, 0,
			    (int)(sizeof alpn_cases / sizeof alpn_cases[0]));
	tcase_add_loop_test(alpn, alpn_without_overlap_fails_by_default, 0, 2);
	tcase_add_test(alpn, alpn_without_overlap_proceeds_when_asked);
	tcase_add_test(alpn, alpn_with_openssl_s_server);
	tcase_add_test(alpn, alpn_with_openssl_s_client);
	tcase_set_timeout(alpn, 60);
	suite_add_tcase(s, alpn);

	TCase *sni = tcase_create("sni");
	tcase_add_test(sni, sni_picks_the_certificate_by_name);
	tcase_add_test(sni, sni_without_main_certificate_defaults_to_the_first);
	tcase_add_test(sni, sni_with_openssl_s_client);
	tcase_set_timeout(sni, 60);
	suite_add_tcase(s, sni);

	TCase *mtls = tcase_create("mutual tls");
	tcase_add_loop_test(mtls, mtls_required_refuses_strangers, 0, 2);
	tcase_add_loop_test(mtls, mtls_requested_lets_anonymous_clients_in, 0, 2);
	tcase_set_timeout(mtls, 60);
	suite_add_tcase(s, mtls);

	TCase *sess = tcase_create("sessions");
	tcase_add_loop_test(sess, second_connection_resumes, 0, 2);
	tcase_add_loop_test(sess, server_cache_and_tickets_can_be_turned_off, 0, 2);
	tcase_set_timeout(sess, 60);
	suite_add_tcase(s, sess);

	TCase *info = tcase_create("information");
	tcase_add_loop_test(info, information_matches_the_openssl_command, 0, 2);
	tcase_set_timeout(info, 60);
	suite_add_tcase(s, info);

	TCase *keylog = tcase_create("key log");
	tcase_add_loop_test(keylog, key_log_written_only_when_asked, 0, 2);
	tcase_add_test(keylog, key_log_lines_stay_whole_across_threads);
	tcase_set_timeout(keylog, 60);
	suite_add_tcase(s, keylog);

	TCase *bad = tcase_create("bad input");
	tcase_add_test(bad, stale_forged_and_wrong_kind_handles_are_refused);
	tcase_add_test(bad, context_settings_are_checked);
	tcase_add_test(bad, connection_calls_in_the_wrong_state);
	tcase_set_timeout(bad, 60);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	if (tls_test_setup() < 0)
		return EXIT_FAILURE;
	return eps_test_main(tls2_suite());
}
