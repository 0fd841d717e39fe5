/* SPDX-License-Identifier: MIT */
/* soak-driver: mixed, bounded load on the server of `make run`, from its
 * own process (tests/soak/soak.py starts it; see there for the checks).
 *
 *   soak-driver --port P --tls-port T --ca CA.pem --seconds S
 *               [--threads N=6] [--seed X] [--max-connections M=2000000]
 *               [--wrong] [--leak N] [--leak-hold S=60] [--only K]
 *
 * Loopback only (127.0.0.1). Each thread picks scenarios at random until
 * S seconds have passed or M connections were made:
 *
 *   well-formed (every response byte is checked):
 *     keep-alive     1-20 requests one after another on one connection
 *     new connection one request with Connection: close, then EOF
 *     pipelined      2-16 requests in one write, answers in order
 *     half-close     request, shutdown(SHUT_WR), the answer, then EOF
 *   each over HTTP and HTTPS (the CA verified, host "localhost"), with a
 *   mix of GET / (200), GET /nope (404), HEAD / and POST with a body (405);
 *   abusive (the server must survive them; only a hang is an error):
 *     reset          part of a request (or all of it), then RST
 *     stall          part of a request (or nothing on the TLS port),
 *                    0.2-2 s of silence, then close
 *     garbage        random bytes and CRLFCRLF: a 4xx/5xx answer, close
 *     tls garbage    random non-TLS bytes on the TLS port: closed
 *     tls cut short  a record header promising more than follows (before
 *                    or after a full handshake), then close or RST
 *
 * Prints one line `DRIVER key=value ...` at the end and exits 0 when no
 * well-formed request was answered wrongly or not at all, 1 otherwise,
 * 2 on bad usage. --wrong expects a wrong body for GET / (every such answer
 * is then "wrong": the harness checks it is noticed). --leak N opens N
 * keep-alive connections at the end and leaves them to a child process
 * that holds them for --leak-hold seconds (`LEAK_PID <pid>` on stdout): the
 * harness checks that the server's descriptors are then seen not to return
 * to the baseline. --only K runs scenario K alone (0 keep-alive, 1 new
 * connection, 2 pipelined, 3 half-close, 4 reset, 5 stall, 6 garbage,
 * 7 tls garbage, 8 tls cut short). For chasing a failure, also: the
 * environment's SOAK_TLS12 caps the client at TLS 1.2, SOAK_DELAY_US pauses
 * that long between the handshake and the first request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 10

static int g_port, g_tls_port, g_seconds, g_threads = 6, g_wrong;
static long g_max_connections = 2000000;
static int g_leak, g_leak_hold = 60, g_only = -1;
static unsigned g_seed;
static const char *g_ca;
static SSL_CTX *g_ctx;
static double g_deadline;

/* Counters, updated with __atomic builtins. */
enum counter {
  C_CONNECTIONS, C_REQUESTS, C_OK, C_WRONG, C_FAILED, C_ABUSE, C_ABUSE_HUNG,
  C_TLS_CONNECTIONS, C_N
};
static const char *counter_names[C_N] = {
  "connections", "requests", "ok", "wrong", "failed", "abusive", "abuse_hung",
  "tls_connections"
};
static long counters[C_N];
static void count(enum counter c, long n) { __atomic_fetch_add(&counters[c], n, __ATOMIC_RELAXED); }
static long counter(enum counter c) { return __atomic_load_n(&counters[c], __ATOMIC_RELAXED); }

/* The first few problems are described on stderr. */
static int reported;
static double g_start;
static __thread int last_errno, last_ssl_err;
static double now(void);
__attribute__((format(printf, 1, 2))) static void problem(const char *fmt, ...) {
  if (__atomic_fetch_add(&reported, 1, __ATOMIC_RELAXED) < 20) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak-driver: at %.1f s: ", now() - g_start);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " [errno %d, ssl error %d]\n", last_errno, last_ssl_err);
    va_end(ap);
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Requests and the exact bytes the server answers with. */
struct rq { const char *req; const char *resp; };
static const char HELLO[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
static const char HELLO_WRONG[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World?";
static const char HELLO_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n";
static const char NOT_FOUND[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot Found\n";
static const char NOT_ALLOWED[] = "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\nMethod Not Allowed\n";
#define N_RQ 4
static struct rq rqs[N_RQ] = {
  {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", HELLO},
  {"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", NOT_FOUND},
  {"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", HELLO_HEAD},
  {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", NOT_ALLOWED},
};
static const char CLOSE_REQ[] = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";

/* One connection: a socket, and an SSL over it for HTTPS. */
struct conn { int fd; SSL *ssl; };

static int tcp_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {IO_TIMEOUT_S, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  count(C_CONNECTIONS, 1);
  return fd;
}

static void reset_close(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

/* Open C (HTTPS when TLS); 0 or -1. */
static int conn_open(struct conn *c, int tls) {
  c->ssl = NULL;
  c->fd = tcp_connect(tls ? g_tls_port : g_port);
  if (c->fd < 0) return -1;
  if (!tls) return 0;
  count(C_TLS_CONNECTIONS, 1);
  c->ssl = SSL_new(g_ctx);
  if (!c->ssl) goto fail;
  SSL_set_tlsext_host_name(c->ssl, "localhost");
  if (!SSL_set1_host(c->ssl, "localhost")) goto fail;
  if (!SSL_set_fd(c->ssl, c->fd)) goto fail;
  if (SSL_connect(c->ssl) != 1) goto fail;
  if (getenv("SOAK_DELAY_US")) usleep((useconds_t)atoi(getenv("SOAK_DELAY_US")));
  return 0;
fail:
  ERR_clear_error();
  if (c->ssl) SSL_free(c->ssl);
  c->ssl = NULL;
  close(c->fd);
  c->fd = -1;
  return -1;
}

static void conn_close(struct conn *c) {
  if (c->ssl) {
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->ssl = NULL;
}

static int conn_write(struct conn *c, const char *buf, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t k;
    if (c->ssl) {
      int r = SSL_write(c->ssl, buf + off, (int)(n - off));
      k = r > 0 ? r : -1;
    } else {
      k = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR) continue;
    }
    if (k <= 0) return -1;
    off += (size_t)k;
  }
  return 0;
}

/* Up to N bytes; 0 at EOF, -1 on an error or the timeout. */
static ssize_t conn_read(struct conn *c, char *buf, size_t n) {
  if (c->ssl) {
    int r = SSL_read(c->ssl, buf, (int)n);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    last_errno = errno;
    last_ssl_err = e;
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }
  for (;;) {
    ssize_t k = recv(c->fd, buf, n, 0);
    if (k < 0 && errno == EINTR) continue;
    last_errno = k < 0 ? errno : 0;
    last_ssl_err = 0;
    return k;
  }
}

/* Exactly N bytes into BUF; how many arrived. */
static size_t conn_read_exact(struct conn *c, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = conn_read(c, buf + got, n - got);
    if (k <= 0) break;
    got += (size_t)k;
  }
  return got;
}

static const char *expected(int i) {
  return (i == 0 && g_wrong) ? HELLO_WRONG : rqs[i].resp;
}

/* Compare what arrived with what should have: counts ok/wrong/failed. */
static int check(const char *what, const char *want, size_t wlen, const char *got, size_t glen, int nreq) {
  count(C_REQUESTS, nreq);
  if (glen == wlen && memcmp(want, got, wlen) == 0) {
    count(C_OK, nreq);
    return 0;
  }
  if (glen < wlen && memcmp(want, got, glen) == 0) {
    count(C_FAILED, 1);
    problem("%s: the answer stopped after %d bytes", what, (int)glen);
  } else {
    count(C_WRONG, 1);
    problem("%s: wrong answer (%d bytes)", what, (int)glen);
  }
  return -1;
}

static char *build_batch(const int *ids, int n, int close_last, size_t *len, char *want, size_t *wlen) {
  static __thread char req[8192];
  size_t r = 0, w = 0;
  for (int i = 0; i < n; i++) {
    const char *q = (close_last && i == n - 1) ? CLOSE_REQ : rqs[ids[i]].req;
    const char *s = (close_last && i == n - 1) ? expected(0) : expected(ids[i]);
    size_t ql = strlen(q), sl = strlen(s);
    memcpy(req + r, q, ql);
    r += ql;
    memcpy(want + w, s, sl);
    w += sl;
  }
  *len = r;
  *wlen = w;
  return req;
}

/* The server closed after its last answer: EOF (or TLS's unexpected EOF),
 * not more bytes and not the timeout. */
static int expect_eof(struct conn *c, const char *what) {
  char x[64];
  ssize_t k = conn_read(c, x, sizeof x);
  if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return 0;
  count(C_FAILED, 1);
  problem("%s: no EOF after the last answer (%d)", what, (int)k);
  return -1;
}

static void scenario_keep_alive(unsigned *rs, int tls) {
  struct conn c;
  const char *what = tls ? "https keep-alive" : "http keep-alive";
  if (conn_open(&c, tls) < 0) {
    count(C_FAILED, 1);
    problem("%s: connect/handshake failed", what);
    return;
  }
  int n = 1 + (int)(rand_r(rs) % 20);
  char got[512];
  for (int i = 0; i < n; i++) {
    int id = (int)(rand_r(rs) % N_RQ);
    const char *want = expected(id);
    size_t wl = strlen(want);
    if (conn_write(&c, rqs[id].req, strlen(rqs[id].req)) < 0) {
      count(C_FAILED, 1);
      problem("%s: send failed at request %d", what, i);
      break;
    }
    size_t gl = conn_read_exact(&c, got, wl);
    if (check(what, want, wl, got, gl, 1) < 0) break;
  }
  conn_close(&c);
}

static void scenario_new_connection(int tls) {
  struct conn c;
  const char *what = tls ? "https new connection" : "http new connection";
  if (conn_open(&c, tls) < 0) {
    count(C_FAILED, 1);
    problem("%s: connect/handshake failed", what);
    return;
  }
  char got[256];
  const char *want = expected(0);
  size_t wl = strlen(want);
  if (conn_write(&c, CLOSE_REQ, strlen(CLOSE_REQ)) < 0) {
    count(C_FAILED, 1);
    problem("%s: send failed", what);
  } else {
    size_t gl = conn_read_exact(&c, got, wl);
    if (check(what, want, wl, got, gl, 1) == 0) expect_eof(&c, what);
  }
  conn_close(&c);
}

static void scenario_pipelined(unsigned *rs, int tls) {
  struct conn c;
  const char *what = tls ? "https pipelined" : "http pipelined";
  if (conn_open(&c, tls) < 0) {
    count(C_FAILED, 1);
    problem("%s: connect/handshake failed", what);
    return;
  }
  int ids[16];
  int n = 2 + (int)(rand_r(rs) % 15);
  for (int i = 0; i < n; i++) ids[i] = (int)(rand_r(rs) % N_RQ);
  int close_last = (int)(rand_r(rs) % 2);
  static __thread char want[8192], got[8192];
  size_t len, wl;
  char *req = build_batch(ids, n, close_last, &len, want, &wl);
  if (conn_write(&c, req, len) < 0) {
    count(C_FAILED, 1);
    problem("%s: send failed", what);
  } else {
    size_t gl = conn_read_exact(&c, got, wl);
    if (check(what, want, wl, got, gl, n) == 0 && close_last) expect_eof(&c, what);
  }
  conn_close(&c);
}

static void scenario_half_close(unsigned *rs) {
  struct conn c;
  const char *what = "http half-close";
  if (conn_open(&c, 0) < 0) {
    count(C_FAILED, 1);
    problem("%s: connect failed", what);
    return;
  }
  int ids[4];
  int n = 1 + (int)(rand_r(rs) % 4);
  for (int i = 0; i < n; i++) ids[i] = (int)(rand_r(rs) % N_RQ);
  static __thread char want[4096], got[4096];
  size_t len, wl;
  char *req = build_batch(ids, n, 0, &len, want, &wl);
  if (conn_write(&c, req, len) < 0 || shutdown(c.fd, SHUT_WR) < 0) {
    count(C_FAILED, 1);
    problem("%s: send failed", what);
  } else {
    size_t gl = conn_read_exact(&c, got, wl);
    if (check(what, want, wl, got, gl, n) == 0) expect_eof(&c, what);
  }
  conn_close(&c);
}

/* Read until EOF/error (not the timeout): 0, or -1 when it hung. */
static int drain(int fd, char *first, size_t cap, size_t *firstlen) {
  size_t got = 0;
  char scratch[4096];
  for (;;) {
    ssize_t k = got < cap ? recv(fd, first + got, cap - got, 0) : recv(fd, scratch, sizeof scratch, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k == 0) break;
    if (k < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (firstlen) *firstlen = got;
        return -1;
      }
      break;
    }
    if (got < cap) got += (size_t)k;
  }
  if (firstlen) *firstlen = got;
  return 0;
}

static void abuse_hung(const char *what) {
  count(C_ABUSE_HUNG, 1);
  problem("%s: the server neither answered nor closed in time", what);
}

static void scenario_reset(unsigned *rs, int tls) {
  int fd = tcp_connect(tls ? g_tls_port : g_port);
  count(C_ABUSE, 1);
  if (fd < 0) {
    count(C_FAILED, 1);
    problem("reset: connect failed");
    return;
  }
  if (tls) {
    static const unsigned char hdr[] = {0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03};
    send(fd, hdr, (size_t)(1 + rand_r(rs) % sizeof hdr), MSG_NOSIGNAL);
  } else {
    const char *r = rqs[0].req;
    send(fd, r, 1 + rand_r(rs) % strlen(r), MSG_NOSIGNAL);
  }
  if (rand_r(rs) % 2) usleep(1000 * (rand_r(rs) % 50));
  reset_close(fd);
}

static void scenario_stall(unsigned *rs, int tls) {
  int fd = tcp_connect(tls ? g_tls_port : g_port);
  count(C_ABUSE, 1);
  if (fd < 0) {
    count(C_FAILED, 1);
    problem("stall: connect failed");
    return;
  }
  if (!tls) {
    const char *r = rqs[0].req;
    send(fd, r, rand_r(rs) % strlen(r), MSG_NOSIGNAL);
  }
  usleep(200000 + 1000 * (rand_r(rs) % 1800));
  close(fd);
}

static void scenario_garbage(unsigned *rs) {
  int fd = tcp_connect(g_port);
  count(C_ABUSE, 1);
  if (fd < 0) {
    count(C_FAILED, 1);
    problem("garbage: connect failed");
    return;
  }
  char buf[2100];
  size_t n = 1 + rand_r(rs) % 2000;
  for (size_t i = 0; i < n; i++) {
    char b = (char)(rand_r(rs) & 0xff);
    buf[i] = (b == '\r' || b == '\n') ? 'x' : b; /* one head, ended below */
  }
  memcpy(buf + n, "\r\n\r\n", 4);
  char head[16];
  size_t hl = 0;
  if (send(fd, buf, n + 4, MSG_NOSIGNAL) == (ssize_t)(n + 4)) {
    if (drain(fd, head, sizeof head, &hl) < 0) {
      abuse_hung("garbage");
    } else if (hl > 0 && !(hl >= 10 && memcmp(head, "HTTP/1.1 ", 9) == 0 && (head[9] == '4' || head[9] == '5'))) {
      count(C_WRONG, 1);
      problem("garbage: answered with %.12s", head);
    }
  }
  close(fd);
}

static void scenario_tls_garbage(unsigned *rs) {
  int fd = tcp_connect(g_tls_port);
  count(C_ABUSE, 1);
  if (fd < 0) {
    count(C_FAILED, 1);
    problem("tls garbage: connect failed");
    return;
  }
  unsigned char buf[600];
  size_t n = 16 + rand_r(rs) % 580;
  for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(rand_r(rs) & 0xff);
  /* No TLS record header: not a content type, and not version 3.x (with
   * byte 1 = 3 the server rightly waits for the rest of a "record"). */
  buf[0] = (unsigned char)(0x30 + rand_r(rs) % 0x40);
  buf[1] = (unsigned char)(0x30 + rand_r(rs) % 0x40);
  if (send(fd, buf, n, MSG_NOSIGNAL) == (ssize_t)n && drain(fd, (char *)buf, 0, NULL) < 0)
    abuse_hung("tls garbage");
  close(fd);
}

static void scenario_tls_cut(unsigned *rs) {
  count(C_ABUSE, 1);
  if (rand_r(rs) % 2) {
    /* A ClientHello record header promising 512 bytes, fewer sent. */
    int fd = tcp_connect(g_tls_port);
    if (fd < 0) {
      count(C_FAILED, 1);
      problem("tls cut: connect failed");
      return;
    }
    unsigned char buf[600] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    size_t n = 11 + rand_r(rs) % 400;
    for (size_t i = 11; i < n; i++) buf[i] = (unsigned char)(rand_r(rs) & 0xff);
    send(fd, buf, n, MSG_NOSIGNAL);
    if (rand_r(rs) % 2) reset_close(fd); else close(fd);
    return;
  }
  /* A full handshake, then an application-data record cut short. */
  struct conn c;
  if (conn_open(&c, 1) < 0) {
    count(C_FAILED, 1);
    problem("tls cut: handshake failed");
    return;
  }
  unsigned char rec[5 + 40] = {0x17, 0x03, 0x03, 0x00, 0x40};
  for (size_t i = 5; i < sizeof rec; i++) rec[i] = (unsigned char)(rand_r(rs) & 0xff);
  send(c.fd, rec, 5 + rand_r(rs) % 40, MSG_NOSIGNAL);
  SSL_free(c.ssl);
  ERR_clear_error();
  if (rand_r(rs) % 2) reset_close(c.fd); else close(c.fd);
}

static void *worker(void *arg) {
  unsigned rs = g_seed + 7919u * (unsigned)(uintptr_t)arg;
  while (now() < g_deadline && counter(C_CONNECTIONS) < g_max_connections) {
    unsigned pick = rand_r(&rs) % 100;
    int tls = (int)(rand_r(&rs) % 2);
    if (g_only >= 0) { /* --only: one scenario, for chasing a failure */
      static const unsigned at[] = {0, 22, 40, 58, 66, 74, 78, 86, 92};
      pick = at[g_only % 9];
    }
    if (pick < 22) scenario_keep_alive(&rs, tls);
    else if (pick < 40) scenario_new_connection(tls);
    else if (pick < 58) scenario_pipelined(&rs, tls);
    else if (pick < 66) scenario_half_close(&rs);
    else if (pick < 74) scenario_reset(&rs, tls);
    else if (pick < 78) scenario_stall(&rs, tls);
    else if (pick < 86) scenario_garbage(&rs);
    else if (pick < 92) scenario_tls_garbage(&rs);
    else scenario_tls_cut(&rs);
  }
  return NULL;
}

/* --leak: N connections, each with one answered request, handed to a
 * child that holds them. */
static void leak(int n) {
  int fds[1024];
  if (n > 1024) n = 1024;
  int opened = 0;
  for (int i = 0; i < n; i++) {
    struct conn c;
    if (conn_open(&c, 0) < 0) break;
    char got[128];
    conn_write(&c, rqs[0].req, strlen(rqs[0].req));
    conn_read_exact(&c, got, strlen(HELLO));
    fds[opened++] = c.fd;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* Not the harness's pipes: it waits for their EOF. */
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    sleep((unsigned)g_leak_hold);
    _exit(0);
  }
  for (int i = 0; i < opened; i++) close(fds[i]);
  printf("LEAK_PID %d\nLEAKED %d\n", (int)pid, opened);
}

static void usage(void) {
  fprintf(stderr, "usage: soak-driver --port P --tls-port T --ca CA --seconds S [--threads N] [--seed X]\n"
                  "                   [--max-connections M] [--wrong] [--leak N] [--leak-hold S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  static struct option opts[] = {
    {"port", 1, 0, 'p'}, {"tls-port", 1, 0, 't'}, {"ca", 1, 0, 'c'}, {"seconds", 1, 0, 's'},
    {"threads", 1, 0, 'n'}, {"seed", 1, 0, 'r'}, {"max-connections", 1, 0, 'm'},
    {"wrong", 0, 0, 'w'}, {"leak", 1, 0, 'l'}, {"leak-hold", 1, 0, 'h'}, {"only", 1, 0, 'o'}, {0, 0, 0, 0}};
  g_seed = (unsigned)time(NULL);
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'p': g_port = atoi(optarg); break;
    case 't': g_tls_port = atoi(optarg); break;
    case 'c': g_ca = optarg; break;
    case 's': g_seconds = atoi(optarg); break;
    case 'n': g_threads = atoi(optarg); break;
    case 'r': g_seed = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'm': g_max_connections = atol(optarg); break;
    case 'w': g_wrong = 1; break;
    case 'l': g_leak = atoi(optarg); break;
    case 'h': g_leak_hold = atoi(optarg); break;
    case 'o': g_only = atoi(optarg); break;
    default: usage();
    }
  }
  if (g_port <= 0 || g_tls_port <= 0 || !g_ca || g_seconds < 0 || g_threads < 1 || g_threads > 64)
    usage();
  signal(SIGPIPE, SIG_IGN);
  g_ctx = SSL_CTX_new(TLS_client_method());
  if (!g_ctx || SSL_CTX_load_verify_locations(g_ctx, g_ca, NULL) != 1) {
    fprintf(stderr, "soak-driver: cannot load the CA %s\n", g_ca);
    return 2;
  }
  SSL_CTX_set_verify(g_ctx, SSL_VERIFY_PEER, NULL);
  if (getenv("SOAK_TLS12")) SSL_CTX_set_max_proto_version(g_ctx, TLS1_2_VERSION);
  printf("DRIVER_SEED %u\n", g_seed);
  fflush(stdout);
  g_start = now();
  g_deadline = g_start + g_seconds;
  pthread_t th[64];
  for (int i = 0; i < g_threads; i++) pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i);
  for (int i = 0; i < g_threads; i++) pthread_join(th[i], NULL);
  if (g_leak > 0) leak(g_leak);
  printf("DRIVER");
  for (int i = 0; i < C_N; i++) printf(" %s=%ld", counter_names[i], counter(i));
  printf(" seed=%u\n", g_seed);
  SSL_CTX_free(g_ctx);
  return (counter(C_WRONG) || counter(C_FAILED) || counter(C_ABUSE_HUNG)) ? 1 : 0;
}
