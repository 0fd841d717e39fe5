/* SPDX-License-Identifier: MIT */
/* ref-http-server: the C reference HTTP/1.1 server of the benchmarks.
 *
 * The design the Lisp server of issue 8 is measured against, so it is the
 * same design: one thread per epoll loop, edge-triggered, reads until
 * would-block or a short read (nginx's rule), keep-alive and pipelining
 * (every complete request in the buffer is answered, in order, with one
 * write for the lot), writes that resume on EPOLLOUT, and for every request
 * the fixed response of bench/response.txt (compiled in by embed.sh).
 *
 *   ref-http-server [--host H] [--port P] [--threads N]
 *                   [--tls-cert PEM --tls-key PEM]
 *
 * --port 0 picks a free port. Once every listener is bound the server prints
 * `PORT <n>` on stdout. With --threads N there are N loops, each with its
 * own SO_REUSEPORT listener. SIGINT or SIGTERM: clean exit, status 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_response.h"

#define READ_BUF (64 * 1024)      /* one read; also the staging buffer for output */
#define MAX_HEAD 8192             /* a request head longer than this closes the connection */
#define OUT_HIGH_WATER (1 << 20)  /* pending output above this: stop reading until drained */
#define MAX_EVENTS 512

struct conn {
  int fd;
  SSL *ssl;
  uint8_t *in;       /* the start of an incomplete request, kept between reads */
  size_t in_len, in_cap;
  uint8_t *out;      /* output the socket did not take yet */
  size_t out_off, out_len, out_cap;
  uint64_t body_left; /* request body bytes still to skip */
  int readable;       /* an EPOLLIN edge not yet consumed to would-block */
  int close_after;    /* Connection: close / HTTP/1.0: close once flushed */
  struct conn *prev, *next;
};

struct loop {
  pthread_t thread;
  int epfd, lfd, stopfd;
  SSL_CTX *tls;
  uint8_t rbuf[READ_BUF + MAX_HEAD];
  uint8_t obuf[READ_BUF];
  size_t olen;
  struct conn *conns;
};

static char listen_tag, stop_tag;

static void die(const char *what) {
  fprintf(stderr, "ref-http-server: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void conn_close(struct loop *l, struct conn *c) {
  if (c->ssl) {
    (void)SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    ERR_clear_error();
  }
  close(c->fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    l->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c->in);
  free(c->out);
  free(c);
}

static int append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n) {
  if (*len + n > *cap) {
    size_t ncap = *cap ? *cap : 512;
    while (ncap < *len + n)
      ncap *= 2;
    uint8_t *nb = realloc(*buf, ncap);
    if (!nb)
      return -1;
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  return 0;
}

/* Send bytes (plain or TLS). Returns bytes taken (maybe short), 0 when the
 * socket would block, -1 on a dead connection. */
static ssize_t raw_send(struct conn *c, const uint8_t *p, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (c->ssl) {
      int chunk = n - done > INT32_MAX ? INT32_MAX : (int)(n - done);
      int k = SSL_write(c->ssl, p + done, chunk);
      if (k > 0) {
        done += (size_t)k;
        continue;
      }
      int e = SSL_get_error(c->ssl, k);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
        break;
      return -1;
    }
    ssize_t k = send(c->fd, p + done, n - done, MSG_NOSIGNAL);
    if (k >= 0) {
      done += (size_t)k;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      break;
    return -1;
  }
  return (ssize_t)done;
}

/* Flush what is pending. 0 ok (maybe still pending), -1 dead. */
static int flush_pending(struct conn *c) {
  if (c->out_off == c->out_len)
    return 0;
  ssize_t k = raw_send(c, c->out + c->out_off, c->out_len - c->out_off);
  if (k < 0)
    return -1;
  c->out_off += (size_t)k;
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  return 0;
}

/* Write the loop's staged output for c: straight to the socket when nothing
 * is pending, the rest (if any) kept for EPOLLOUT. */
static int flush_staged(struct loop *l, struct conn *c) {
  size_t n = l->olen;
  l->olen = 0;
  if (n == 0)
    return 0;
  if (c->out_len == c->out_off) {
    ssize_t k = raw_send(c, l->obuf, n);
    if (k < 0)
      return -1;
    if ((size_t)k == n)
      return 0;
    /* TLS: the retry offers the same bytes from another address, which
     * SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows. */
    return append(&c->out, &c->out_len, &c->out_cap, l->obuf + k, n - (size_t)k);
  }
  if (append(&c->out, &c->out_len, &c->out_cap, l->obuf, n) < 0)
    return -1;
  return flush_pending(c);
}

static int header_is(const uint8_t *line, size_t len, const char *name) {
  size_t nl = strlen(name);
  return len > nl && line[nl] == ':' && strncasecmp((const char *)line, name, nl) == 0;
}

static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *e) {
  while (p < e && (*p == ' ' || *p == '\t'))
    p++;
  return p;
}

/* Parse one request head [p, e) (e just past CRLFCRLF): keep-alive and the
 * body length. -1 on a malformed Content-Length. */
static int parse_head(struct conn *c, const uint8_t *p, const uint8_t *e) {
  const uint8_t *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
  int http10 = eol - p >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
  int keep_alive = !http10, close = 0;
  uint64_t clen = 0;
  for (const uint8_t *line = eol + 2; line < e - 2;) {
    const uint8_t *le = memmem(line, (size_t)(e - line), "\r\n", 2);
    size_t len = (size_t)(le - line);
    if (header_is(line, len, "content-length")) {
      const uint8_t *v = skip_ws(line + 15, le);
      if (v == le)
        return -1;
      clen = 0;
      for (; v < le && *v >= '0' && *v <= '9'; v++) {
        if (clen > (UINT64_MAX - 9) / 10)
          return -1;
        clen = clen * 10 + (uint64_t)(*v - '0');
      }
      if (skip_ws(v, le) != le)
        return -1;
    } else if (header_is(line, len, "connection")) {
      const uint8_t *v = skip_ws(line + 11, le);
      if ((size_t)(le - v) >= 5 && strncasecmp((const char *)v, "close", 5) == 0)
        close = 1;
      else if ((size_t)(le - v) >= 10 && strncasecmp((const char *)v, "keep-alive", 10) == 0)
        keep_alive = 1;
    }
    line = le + 2;
  }
  c->body_left = clen;
  c->close_after = close || !keep_alive;
  return 0;
}

/* Answer every complete request in buf[0, len); keep an incomplete one. */
static int process(struct loop *l, struct conn *c, uint8_t *buf, size_t len) {
  size_t p = 0;
  while (p < len && !c->close_after) {
    if (c->body_left) {
      size_t skip = len - p < c->body_left ? len - p : (size_t)c->body_left;
      p += skip;
      c->body_left -= skip;
      continue;
    }
    uint8_t *end = memmem(buf + p, len - p, "\r\n\r\n", 4);
    if (!end) {
      if (len - p > MAX_HEAD)
        return -1;
      c->in_len = 0;
      return append(&c->in, &c->in_len, &c->in_cap, buf + p, len - p);
    }
    end += 4;
    if (parse_head(c, buf + p, end) < 0)
      return -1;
    if (l->olen + bench_response_len > sizeof l->obuf && flush_staged(l, c) < 0)
      return -1;
    memcpy(l->obuf + l->olen, bench_response, bench_response_len);
    l->olen += bench_response_len;
    p = (size_t)(end - buf);
  }
  return 0;
}

/* Read until would-block (or a short read) and answer. -1: close it. */
static int conn_read(struct loop *l, struct conn *c) {
  while (c->readable && !c->close_after) {
    if (c->out_len - c->out_off > OUT_HIGH_WATER)
      return 0; /* EPOLLOUT resumes us; `readable` stays set */
    size_t have = c->in_len;
    if (have)
      memcpy(l->rbuf, c->in, have);
    c->in_len = 0;
    size_t want = READ_BUF;
    ssize_t n;
    if (c->ssl) {
      int k = SSL_read(c->ssl, l->rbuf + have, (int)want);
      if (k <= 0) {
        int e = SSL_get_error(c->ssl, k);
        c->in_len = have; /* unchanged: c->in still holds those bytes */
        if (e == SSL_ERROR_WANT_READ) {
          c->readable = 0;
          break;
        }
        if (e == SSL_ERROR_WANT_WRITE)
          break; /* the handshake waits for EPOLLOUT, which retries the read */
        return -1;
      }
      n = k;
    } else {
      n = read(c->fd, l->rbuf + have, want);
      if (n <= 0) {
        c->in_len = have;
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          c->readable = 0;
          break;
        }
        return -1; /* EOF or error */
      }
      if ((size_t)n < want)
        c->readable = 0; /* a short read: the socket is drained */
    }
    if (process(l, c, l->rbuf, have + (size_t)n) < 0)
      return -1;
    if (flush_staged(l, c) < 0)
      return -1;
  }
  if (c->close_after && c->out_len == c->out_off)
    return -1;
  return 0;
}

static void conn_event(struct loop *l, struct conn *c, uint32_t ev) {
  if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
    c->readable = 1;
  if (flush_pending(c) < 0 || conn_read(l, c) < 0) {
    l->olen = 0;
    conn_close(l, c);
  }
}

static void accept_all(struct loop *l) {
  for (;;) {
    int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        fprintf(stderr, "ref-http-server: accept4: %s\n", strerror(errno));
      return;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    if (l->tls) {
      c->ssl = SSL_new(l->tls);
      if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
        SSL_free(c->ssl);
        close(fd);
        free(c);
        continue;
      }
      SSL_set_accept_state(c->ssl);
    }
    c->next = l->conns;
    if (l->conns)
      l->conns->prev = c;
    l->conns = c;
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
      conn_close(l, c);
      continue;
    }
    /* Data may already be there (the client wrote with its ACK). */
    c->readable = 1;
    conn_event(l, c, 0);
  }
}

static void *loop_run(void *arg) {
  struct loop *l = arg;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == &stop_tag)
        return NULL;
      if (p == &listen_tag)
        accept_all(l);
      else
        conn_event(l, p, evs[i].events);
    }
  }
}

static int make_listener(const struct addrinfo *ai, int port) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    die("setsockopt");
  struct sockaddr_storage ss;
  memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
  if (ss.ss_family == AF_INET6)
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) < 0)
    die("bind");
  if (listen(fd, 65535) < 0)
    die("listen");
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
    die("getsockname");
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void raise_fd_limit(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
}

static SSL_CTX *make_tls(const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "ref-http-server: TLS setup failed:\n");
    ERR_print_errors_fp(stderr);
    exit(1);
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
  return ctx;
}

static void usage(void) {
  fprintf(stderr, "usage: ref-http-server [--host H] [--port P] [--threads N] "
                  "[--tls-cert PEM --tls-key PEM]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
  int port = 8080, threads = 1;
  static const struct option opts[] = {
      {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
      {"threads", required_argument, 0, 't'},  {"tls-cert", required_argument, 0, 'c'},
      {"tls-key", required_argument, 0, 'k'},  {0, 0, 0, 0}};
  for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (o) {
    case 'h': host = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 't': threads = atoi(optarg); break;
    case 'c': cert = optarg; break;
    case 'k': key = optarg; break;
    default: usage();
    }
  }
  if (optind != argc || port < 0 || port > 65535 || threads < 1 || threads > 64 ||
      (!cert != !key))
    usage();

  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN); /* OpenSSL's socket BIO write()s */
  SSL_CTX *tls = cert ? make_tls(cert, key) : NULL;

  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai;
  int gai = getaddrinfo(host, "0", &hints, &ai);
  if (gai != 0) {
    fprintf(stderr, "ref-http-server: %s: %s\n", host, gai_strerror(gai));
    return 1;
  }

  /* The loops inherit a mask without SIGINT/SIGTERM: main takes them. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);

  struct loop **loops = calloc((size_t)threads, sizeof *loops);
  if (!loops)
    die("calloc");
  for (int i = 0; i < threads; i++) {
    struct loop *l = calloc(1, sizeof *l);
    if (!l)
      die("calloc");
    l->tls = tls;
    l->lfd = make_listener(ai, port);
    if (port == 0)
      port = bound_port(l->lfd);
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->epfd < 0 || l->stopfd < 0)
      die("epoll_create1/eventfd");
    struct epoll_event le = {.events = EPOLLIN | EPOLLET, .data.ptr = &listen_tag};
    struct epoll_event se = {.events = EPOLLIN, .data.ptr = &stop_tag};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->lfd, &le) < 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &se) < 0)
      die("epoll_ctl");
    loops[i] = l;
  }
  freeaddrinfo(ai);
  for (int i = 0; i < threads; i++)
    if (pthread_create(&loops[i]->thread, NULL, loop_run, loops[i]) != 0)
      die("pthread_create");

  printf("PORT %d\n", port);
  fflush(stdout);

  int sig;
  while (sigwait(&sigs, &sig) != 0)
    ;
  for (int i = 0; i < threads; i++) {
    uint64_t one = 1;
    if (write(loops[i]->stopfd, &one, sizeof one) < 0)
      die("write eventfd");
  }
  for (int i = 0; i < threads; i++) {
    struct loop *l = loops[i];
    pthread_join(l->thread, NULL);
    while (l->conns)
      conn_close(l, l->conns);
    close(l->lfd);
    close(l->epfd);
    close(l->stopfd);
    free(l);
  }
  free(loops);
  SSL_CTX_free(tls);
  return 0;
}
