/* SPDX-License-Identifier: MIT */
/*
 * tlstest.h - helpers shared by the TLS test suites (tlstest.c).
 */
#ifndef EPSILON_TLSTEST_H
#define EPSILON_TLSTEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#define POLL_MS 5000
#define MAX_STEPS 10000

/* The certificate directory (EPS_TLS_CERTS), filled by tls_test_setup. */
extern const char *certdir;

/* Run make-certs.sh into EPS_TLS_CERTS; 0, or -1 after a message. */
int tls_test_setup(void);
/* A TLS suite's main: tls_test_setup, then run the suite MAKE builds. */
int tls_test_main(Suite *(*make)(void));
/* A test case NAME added to S, with TIMEOUT seconds (0: Check's default). */
TCase *tls_tcase(Suite *s, const char *name, int timeout);

struct baseline {
	int64_t handles;
	int fds;
};

/* One side of a connection under test. */
struct side {
	int fd;
	int64_t conn;
	int32_t rc; /* handshake result */
	int done;
	char detail[1024]; /* the detail of a failed handshake */
};

const char *cert(const char *name);
int count_fds(void);
struct baseline baseline(void);
void check_baseline(struct baseline b);
void tcp_pair(int *client, int *server);
int64_t server_ctx_v(const char *name, int32_t minv, int32_t maxv);
int64_t server_ctx(const char *name);
int64_t client_ctx_v(const char *ca, int32_t minv, int32_t maxv);
int64_t client_ctx(const char *ca);
void open_side(struct side *s, int64_t ctx, int fd, const char *hostname);
void close_side(struct side *s);
/* Close both sides of a pair. */
void close_pair(struct side *c, struct side *s);
/* Free each context named (0-terminated, in order), then check_baseline(BASE). */
void free_and_check_(struct baseline base, const int64_t *ctxs);
#define free_and_check(base, ...) free_and_check_((base), (const int64_t[]){__VA_ARGS__, 0})
short want_events(int32_t rc);
void pump_handshakes(struct side *c, struct side *s);
void connect_pair(int64_t cctx, int64_t sctx, const char *hostname, struct side *c, struct side *s);
/*
 * Write (WRITING) or read LEN bytes of BUF on X, waiting in poll on a want,
 * in at most STEPS calls; the count moved.  *RC: 0, or the failing result
 * (a negative code), or 1 when a poll timed out.  Asserts nothing: threads
 * use it.
 */
size_t tls_move(struct side *x, uint8_t *buf, size_t len, int writing, int steps, int64_t *rc);
void write_all(struct side *x, const uint8_t *buf, size_t len);
void read_exact(struct side *x, uint8_t *buf, size_t len);
int64_t read_settled(struct side *x, uint8_t *buf, size_t len);
void detail(int32_t code, char *buf, size_t len);
pid_t spawn(char *const argv[], int *to_child, int *from_child);
int read_until(int fd, char *buf, size_t cap, const char *needle);
void reap(pid_t pid, int from);

/* TLS 1.2 and TLS 1.3, for loop tests. */
extern const int32_t versions[2];

typedef int32_t (*text_fn)(int64_t conn, uint8_t *buf, size_t len);

/* What `openssl x509` prints about a certificate file. */
struct x509_facts {
	char fingerprint[128];
	char subject[256];
	char issuer[256];
	int64_t not_before, not_after;
};

/* The text FN reports for CONN, or "" with *RC the negative code. */
const char *text(text_fn fn, int64_t conn, int32_t *rc);
void assert_text(text_fn fn, int64_t conn, const char *want);
/* Load NAME.pem and NAME.key into CTX. */
void load_pair(int64_t ctx, const char *name);
int64_t parse_date(const char *s);
void chomp(char *s);
struct x509_facts x509_facts(const char *name);
/* Handshake a pair and require both sides to succeed. */
void connect_ok(int64_t cctx, int64_t sctx, const char *hostname, struct side *c, struct side *s);
/* The peer's fingerprint on CONN equals the file NAME's. */
void assert_peer_is(int64_t conn, const char *name);
/* Drive one handshake against a tool on the other end of X's socket. */
int32_t handshake_alone(struct side *x);
/* A listener on 127.0.0.1, port 0; "127.0.0.1:PORT" in TARGET. */
int listener(char *target, size_t cap);
/* Accept one connection on L (then closed). */
int accept_one(int l);
/* Copy the NULL-terminated EXTRA into ARGV from entry N on, and a NULL. */
void append_args(char **argv, int n, char **extra);
/* Start `openssl s_server` with EXTRA arguments (NULL-terminated); connect to it. */
pid_t s_server(char **extra, int *to, int *from, int *fd);
/* Start `openssl s_client -connect` to a listener of ours with EXTRA arguments; accept it. */
pid_t s_client(char **extra, int *to, int *from, int *fd);
/* Close X and the tool's stdin; wait for the tool (reap). */
void close_tool(struct side *x, int to, pid_t pid, int from);
/* A server context asking client certificates with MODE (ca.pem trusted). */
int64_t mtls_server(int32_t version, int32_t mode);
/* A client context presenting the certificate NAME (none for NULL). */
int64_t mtls_client(const char *name);

#endif
