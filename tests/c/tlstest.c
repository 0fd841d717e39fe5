/* SPDX-License-Identifier: MIT */
/*
 * tlstest.c - helpers shared by the TLS test suites: the certificate
 * directory, leak checks, loopback pairs, handshakes driven by poll, and
 * the openssl command as a peer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
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

int tls_test_setup(void)
{
	certdir = getenv("EPS_TLS_CERTS");
	const char *script = getenv("EPS_MAKE_CERTS");
	if (certdir == NULL || script == NULL) {
		fprintf(stderr, "set EPS_TLS_CERTS and EPS_MAKE_CERTS (meson test does)\n");
		return -1;
	}
	char cmd[2 * PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "sh '%s' '%s'", script, certdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		return -1;
	}
	return 0;
}

const char *certdir;

int tls_test_main(Suite *(*make)(void))
{
	if (tls_test_setup() < 0)
		return EXIT_FAILURE;
	return eps_test_main(make());
}

TCase *tls_tcase(Suite *s, const char *name, int timeout)
{
	TCase *tc = tcase_create(name);
	if (timeout > 0)
		tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return tc;
}

/* Path of the file NAME in the certificate directory (a few live at once). */
const char *cert(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s", certdir, name);
	return b;
}

/* --- leak checks ---------------------------------------------------------- */

int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

struct baseline baseline(void)
{
	return (struct baseline){eps_handles_live(EPS_HANDLE_ANY), count_fds()};
}

void check_baseline(struct baseline b)
{
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_ANY), b.handles);
	ck_assert_int_eq(count_fds(), b.fds);
}

/* --- sockets and contexts ------------------------------------------------ */

/* A connected TCP pair over 127.0.0.1, port chosen by the kernel. */
void tcp_pair(int *client, int *server)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof a), 0);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(s, 0);
	close(l);
	*client = c;
	*server = s;
}

int64_t server_ctx_v(const char *name, int32_t minv, int32_t maxv)
{
	char key[64];
	snprintf(key, sizeof key, "%s.key", name);
	char pem[64];
	snprintf(pem, sizeof pem, "%s.pem", name);
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, minv, maxv);
	ck_assert_int_gt(ctx, 0);
	ck_assert_ok(eps_tls_context_use_certificate_file(ctx, cert(pem)));
	ck_assert_ok(eps_tls_context_use_private_key_file(ctx, cert(key)));
	ck_assert_ok(eps_tls_context_check_private_key(ctx));
	return ctx;
}

int64_t server_ctx(const char *name)
{
	return server_ctx_v(name, 0, 0);
}

int64_t client_ctx_v(const char *ca, int32_t minv, int32_t maxv)
{
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, minv, maxv);
	ck_assert_int_gt(ctx, 0);
	if (ca != NULL)
		ck_assert_ok(eps_tls_context_load_ca_file(ctx, cert(ca)));
	return ctx;
}

int64_t client_ctx(const char *ca)
{
	return client_ctx_v(ca, 0, 0);
}

void open_side(struct side *s, int64_t ctx, int fd, const char *hostname)
{
	s->fd = fd;
	s->conn = eps_tls_connection_new(ctx, fd);
	ck_assert_int_gt(s->conn, 0);
	ck_assert_ok(eps_tls_connection_set_nonblocking(s->conn, 1));
	if (hostname != NULL)
		ck_assert_ok(eps_tls_connection_set_hostname(s->conn, hostname));
	s->rc = 0;
	s->done = 0;
	s->detail[0] = '\0';
}

void close_side(struct side *s)
{
	if (s->conn > 0)
		ck_assert_ok(eps_tls_connection_free(s->conn));
	if (s->fd >= 0)
		close(s->fd);
	s->conn = 0;
	s->fd = -1;
}

void close_pair(struct side *c, struct side *s)
{
	close_side(c);
	close_side(s);
}

void free_and_check_(struct baseline base, const int64_t *ctxs)
{
	for (; *ctxs != 0; ctxs++)
		ck_assert_ok(eps_tls_context_free(*ctxs));
	check_baseline(base);
}

short want_events(int32_t rc)
{
	return rc == -EPS_ETLSWANTWRITE ? POLLOUT : POLLIN;
}

/* Drive both handshakes from one thread, waiting with poll in between. */
void pump_handshakes(struct side *c, struct side *s)
{
	struct side *sides[2] = {c, s};
	for (int step = 0; step < MAX_STEPS; step++) {
		struct pollfd p[2];
		int np = 0;
		for (int i = 0; i < 2; i++) {
			struct side *x = sides[i];
			if (x->done)
				continue;
			x->rc = eps_tls_connection_handshake(x->conn);
			if (x->rc == -EPS_ETLSWANTREAD || x->rc == -EPS_ETLSWANTWRITE)
				p[np++] =
				    (struct pollfd){.fd = x->fd, .events = want_events(x->rc)};
			else
				x->done = 1;
			if (x->done && x->rc < 0)
				(void)eps_last_error_detail(x->rc, (uint8_t *)x->detail,
							    sizeof x->detail);
		}
		if (c->done && s->done)
			return;
		if (np == 0)
			continue;
		ck_assert_msg(poll(p, (nfds_t)np, POLL_MS) > 0, "handshake stalled");
	}
	ck_abort_msg("handshake did not finish in %d steps", MAX_STEPS);
}

/* A pair of connections over loopback TCP, handshaken; returns the results. */
void connect_pair(int64_t cctx, int64_t sctx, const char *hostname, struct side *c, struct side *s)
{
	int cfd, sfd;
	tcp_pair(&cfd, &sfd);
	open_side(c, cctx, cfd, hostname);
	open_side(s, sctx, sfd, NULL);
	pump_handshakes(c, s);
}

size_t tls_move(struct side *x, uint8_t *buf, size_t len, int writing, int steps, int64_t *rc)
{
	size_t off = 0;
	*rc = 0;
	for (int step = 0; off < len && step < steps; step++) {
		int64_t n = writing ? eps_tls_connection_write(x->conn, buf + off, len - off)
				    : eps_tls_connection_read(x->conn, buf + off, len - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n != -EPS_ETLSWANTWRITE && n != -EPS_ETLSWANTREAD) {
			*rc = n;
			break;
		}
		struct pollfd p = {.fd = x->fd, .events = want_events((int32_t)n)};
		if (poll(&p, 1, POLL_MS) != 1) {
			*rc = 1;
			break;
		}
	}
	return off;
}

void write_all(struct side *x, const uint8_t *buf, size_t len)
{
	int64_t rc;
	size_t off = tls_move(x, (uint8_t *)buf, len, 1, MAX_STEPS, &rc);
	ck_assert_msg(rc <= 0, "write: poll timed out");
	ck_assert_msg(rc == 0, "write: %s", eps_errname((int32_t)rc));
	ck_assert_uint_eq(off, len);
}

void read_exact(struct side *x, uint8_t *buf, size_t len)
{
	int64_t rc;
	size_t off = tls_move(x, buf, len, 0, MAX_STEPS, &rc);
	ck_assert_msg(rc <= 0, "read: poll timed out");
	ck_assert_msg(rc == 0, "read: %s", eps_errname((int32_t)rc));
	ck_assert_uint_eq(off, len);
}

/* The next read result that is not a would-block. */
int64_t read_settled(struct side *x, uint8_t *buf, size_t len)
{
	for (int step = 0; step < MAX_STEPS; step++) {
		int64_t n = eps_tls_connection_read(x->conn, buf, len);
		if (n != -EPS_ETLSWANTREAD && n != -EPS_ETLSWANTWRITE)
			return n;
		struct pollfd p = {.fd = x->fd, .events = want_events((int32_t)n)};
		ck_assert_int_eq(poll(&p, 1, POLL_MS), 1);
	}
	ck_abort_msg("read never settled");
	return 0;
}

void detail(int32_t code, char *buf, size_t len)
{
	ck_assert_int_ge(eps_last_error_detail(code, (uint8_t *)buf, len), 0);
}

/* Run ARGV with stdin and stdout+stderr on pipes; returns the pid. */
pid_t spawn(char *const argv[], int *to_child, int *from_child)
{
	int in[2], out[2];
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

/* Read FD into BUF until it holds a line with NEEDLE; bounded by POLL_MS per read. */
int read_until(int fd, char *buf, size_t cap, const char *needle)
{
	size_t len = 0;
	buf[0] = '\0';
	/* Until NEEDLE is there and the line it is on is complete. */
	const char *at;
	while (((at = strstr(buf, needle)) == NULL || strchr(at, '\n') == NULL) && len + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, POLL_MS) != 1)
			return 0;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, needle) != NULL;
}

/* Wait for the tool to exit (its output reaches EOF), ending it if it lingers. */
void reap(pid_t pid, int from)
{
	char sink[4096];
	for (;;) {
		struct pollfd p = {.fd = from, .events = POLLIN};
		if (poll(&p, 1, POLL_MS) != 1) {
			kill(pid, SIGTERM);
			break;
		}
		if (read(from, sink, sizeof sink) <= 0)
			break;
	}
	close(from);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

/* --- shared by the suites of test_tls*.c ------------------------------------- */

const int32_t versions[2] = {EPS_TLS_VERSION_1_2, EPS_TLS_VERSION_1_3};

/* The text FN reports for CONN, or "" with *RC the negative code. */
const char *text(text_fn fn, int64_t conn, int32_t *rc)
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

void assert_text(text_fn fn, int64_t conn, const char *want)
{
	int32_t r;
	const char *got = text(fn, conn, &r);
	ck_assert_msg(r >= 0, "got %s", eps_errname(r));
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(r, (int32_t)strlen(want));
}

void load_pair(int64_t ctx, const char *name)
{
	char p[64], k[64];
	snprintf(p, sizeof p, "%s.pem", name);
	snprintf(k, sizeof k, "%s.key", name);
	ck_assert_ok(eps_tls_context_use_certificate_file(ctx, cert(p)));
	ck_assert_ok(eps_tls_context_use_private_key_file(ctx, cert(k)));
}

int64_t parse_date(const char *s)
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

void chomp(char *s)
{
	s[strcspn(s, "\n")] = '\0';
}

struct x509_facts x509_facts(const char *name)
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
void connect_ok(int64_t cctx, int64_t sctx, const char *hostname, struct side *c, struct side *s)
{
	connect_pair(cctx, sctx, hostname, c, s);
	ck_assert_msg(c->rc == 0 && s->rc == 0, "client %s (%s), server %s (%s)",
		      eps_errname(c->rc), c->detail, eps_errname(s->rc), s->detail);
}

/* The peer's fingerprint on CONN equals the file NAME's. */
void assert_peer_is(int64_t conn, const char *name)
{
	struct x509_facts x = x509_facts(name);
	assert_text(eps_tls_connection_peer_fingerprint, conn, x.fingerprint);
}

/* Drive one handshake against a tool on the other end of FD. */
int32_t handshake_alone(struct side *x)
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
int listener(char *target, size_t cap)
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

int accept_one(int l)
{
	struct pollfd lp = {.fd = l, .events = POLLIN};
	ck_assert_int_eq(poll(&lp, 1, POLL_MS), 1);
	int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	close(l);
	return fd;
}

void append_args(char **argv, int n, char **extra)
{
	while (*extra != NULL)
		argv[n++] = *extra++;
	argv[n] = NULL;
}

/* Start `openssl s_server` with EXTRA arguments; connect to it. */
pid_t s_server(char **extra, int *to, int *from, int *fd)
{
	char *argv[32] = {"openssl",  "s_server",
			  "-accept",  "127.0.0.1:0",
			  "-cert",    (char *)cert("server.pem"),
			  "-key",     (char *)cert("server.key"),
			  "-naccept", "1",
			  "-rev"};
	append_args(argv, 11, extra);
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

pid_t s_client(char **extra, int *to, int *from, int *fd)
{
	char target[64];
	int l = listener(target, sizeof target);
	char *argv[32] = {"openssl", "s_client", "-connect", target};
	append_args(argv, 4, extra);
	pid_t pid = spawn(argv, to, from);
	*fd = accept_one(l);
	return pid;
}

void close_tool(struct side *x, int to, pid_t pid, int from)
{
	close_side(x);
	close(to);
	reap(pid, from);
}

int64_t mtls_server(int32_t version, int32_t mode)
{
	int64_t sctx = server_ctx_v("server", version, version);
	ck_assert_ok(eps_tls_context_load_ca_file(sctx, cert("ca.pem")));
	ck_assert_ok(eps_tls_context_set_verify(sctx, mode));
	return sctx;
}

int64_t mtls_client(const char *name)
{
	int64_t cctx = client_ctx("ca.pem");
	if (name != NULL)
		load_pair(cctx, name);
	return cctx;
}
