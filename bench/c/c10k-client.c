/* SPDX-License-Identifier: MIT */
/* c10k-client: N concurrent keep-alive connections, one request on each.
 *
 *   c10k-client [--host H] --port P [-n N] [--batch B] [--timeout S]
 *               [--path /] [--expect FILE] [--hold]
 *
 * Opens N connections (default 10000) to H:P (default 127.0.0.1) with
 * non-blocking connects through epoll, at most B (default 1000) of them
 * connecting at once; sends one `GET PATH HTTP/1.1` on each as soon as it is
 * connected, reads one response (status 200, a complete Content-Length body;
 * with --expect, the whole response must equal FILE's bytes) and keeps the
 * connection open. When every connection has succeeded or failed, or after
 * --timeout seconds (default 60; what is unfinished then has failed), it
 * prints one line on stdout:
 *
 *   OK <n> FAIL <n> SECONDS <x>
 *
 * Then, with --hold, it keeps every successful connection open until SIGINT,
 * SIGTERM (at most --timeout seconds more), so the server's
 * memory can be measured with all of them open. Exit status 0 when every
 * connection succeeded, 1 otherwise, 2 on bad usage. The first few failures
 * are described on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { IDLE, CONNECTING, SENDING, READING, DONE, FAILED };

struct cconn {
  int fd;
  enum state st;
  size_t sent;
  char *resp;
  size_t len, cap;
};

static struct sockaddr_storage addr;
static socklen_t addrlen;
static char request[1024];
static size_t request_len;
static unsigned char *expect;
static size_t expect_len;
static int nfail_reported;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(struct cconn *c, size_t i, const char *why, int err) {
  if (nfail_reported++ < 5)
    fprintf(stderr, "c10k-client: connection %zu: %s%s%s\n", i, why, err ? ": " : "",
            err ? strerror(err) : "");
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  c->st = FAILED;
  free(c->resp);
  c->resp = NULL;
}

/* 1 when c->resp holds one complete response, 0 when more is needed, -1 bad. */
static int response_complete(struct cconn *c) {
  char *end = memmem(c->resp, c->len, "\r\n\r\n", 4);
  if (!end)
    return c->len > 65536 ? -1 : 0;
  size_t head = (size_t)(end - c->resp) + 4;
  if (c->len < 12 || memcmp(c->resp, "HTTP/1.", 7) != 0 || memcmp(c->resp + 8, " 200", 4) != 0)
    return -1;
  size_t clen = 0;
  int have_clen = 0;
  for (char *line = memmem(c->resp, head, "\r\n", 2) + 2; line < end;) {
    char *le = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
    if ((size_t)(le - line) > 15 && strncasecmp(line, "content-length:", 15) == 0) {
      clen = strtoul(line + 15, NULL, 10);
      have_clen = 1;
    }
    line = le + 2;
  }
  if (!have_clen)
    return -1;
  if (c->len < head + clen)
    return 0;
  if (c->len > head + clen)
    return -1;
  if (expect && (c->len != expect_len || memcmp(c->resp, expect, expect_len) != 0))
    return -1;
  return 1;
}

/* Drive one connection as far as it goes without blocking. */
static void step(struct cconn *c, size_t i) {
  if (c->st == CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
      err = errno;
    if (err == EINPROGRESS || err == EALREADY)
      return;
    if (err) {
      fail(c, i, "connect", err);
      return;
    }
    c->st = SENDING;
  }
  while (c->st == SENDING) {
    ssize_t k = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == ENOTCONN)
        return;
      fail(c, i, "send", errno);
      return;
    }
    c->sent += (size_t)k;
    if (c->sent == request_len)
      c->st = READING;
  }
  while (c->st == READING) {
    if (c->cap - c->len < 1024) {
      size_t ncap = c->cap ? c->cap * 2 : 4096;
      char *nb = realloc(c->resp, ncap);
      if (!nb) {
        fail(c, i, "out of memory", 0);
        return;
      }
      c->resp = nb;
      c->cap = ncap;
    }
    ssize_t k = recv(c->fd, c->resp + c->len, c->cap - c->len, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN)
        return;
      fail(c, i, "recv", errno);
      return;
    }
    if (k == 0) {
      fail(c, i, "connection closed before a complete response", 0);
      return;
    }
    c->len += (size_t)k;
    int r = response_complete(c);
    if (r < 0) {
      fail(c, i, "bad response", 0);
      return;
    }
    if (r > 0) {
      c->st = DONE;
      free(c->resp);
      c->resp = NULL;
    }
  }
}

static int start(struct cconn *c, size_t i, int epfd) {
  c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    fail(c, i, "socket", errno);
    return -1;
  }
  int one = 1;
  (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->st = CONNECTING;
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u64 = i};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &e) < 0) {
    fail(c, i, "epoll_ctl", errno);
    return -1;
  }
  if (connect(c->fd, (struct sockaddr *)&addr, addrlen) < 0 && errno != EINPROGRESS) {
    fail(c, i, "connect", errno);
    return -1;
  }
  /* SO_ERROR reads 0 while a connect is still in progress: wait for
   * EPOLLOUT before looking. */
  return 0;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      unsigned char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t k = fread(buf + n, 1, cap - n, f);
    if (k == 0)
      break;
    n += k;
  }
  fclose(f);
  *len = n;
  return buf;
}

static void usage(void) {
  fprintf(stderr, "usage: c10k-client [--host H] --port P [-n N] [--batch B] [--timeout S] "
                  "[--path /] [--expect FILE] [--hold]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL, *path = "/", *expect_file = NULL;
  long n = 10000, batch = 1000;
  double timeout = 60;
  int hold = 0;
  static const struct option opts[] = {
      {"host", required_argument, 0, 'h'},    {"port", required_argument, 0, 'p'},
      {"connections", required_argument, 0, 'n'}, {"batch", required_argument, 0, 'b'},
      {"timeout", required_argument, 0, 't'}, {"path", required_argument, 0, 'P'},
      {"expect", required_argument, 0, 'e'},  {"hold", no_argument, 0, 'H'},
      {0, 0, 0, 0}};
  for (int o; (o = getopt_long(argc, argv, "n:", opts, NULL)) != -1;) {
    switch (o) {
    case 'h': host = optarg; break;
    case 'p': port = optarg; break;
    case 'n': n = atol(optarg); break;
    case 'b': batch = atol(optarg); break;
    case 't': timeout = atof(optarg); break;
    case 'P': path = optarg; break;
    case 'e': expect_file = optarg; break;
    case 'H': hold = 1; break;
    default: usage();
    }
  }
  if (optind != argc || !port || n < 1 || n > 1000000 || batch < 1 || timeout <= 0)
    usage();
  if (expect_file && !(expect = slurp(expect_file, &expect_len))) {
    fprintf(stderr, "c10k-client: %s: %s\n", expect_file, strerror(errno));
    return 2;
  }

  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &r);
  }
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && (rlim_t)n + 16 > r.rlim_cur)
    fprintf(stderr, "c10k-client: warning: fd limit %lu < %ld connections\n",
            (unsigned long)r.rlim_cur, n);

  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *ai;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    fprintf(stderr, "c10k-client: %s:%s: %s\n", host, port, gai_strerror(gai));
    return 2;
  }
  memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  addrlen = ai->ai_addrlen;
  freeaddrinfo(ai);
  int rl = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", path, host, port);
  if (rl < 0 || (size_t)rl >= sizeof request)
    usage();
  request_len = (size_t)rl;

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);

  struct cconn *cs = calloc((size_t)n, sizeof *cs);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!cs || epfd < 0 || sfd < 0) {
    perror("c10k-client: setup");
    return 2;
  }
  struct epoll_event se = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  (void)epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &se);

  double t0 = now(), deadline = t0 + timeout;
  size_t next = 0, finished = 0, connecting = 0, ok = 0;
  int stop = 0;
  struct epoll_event evs[1024];
  while (finished < (size_t)n && !stop) {
    while (next < (size_t)n && connecting < (size_t)batch) {
      struct cconn *c = &cs[next];
      start(c, next, epfd);
      next++;
      if (c->st == CONNECTING)
        connecting++;
      else if (c->st == DONE || c->st == FAILED)
        finished++, ok += c->st == DONE;
    }
    double left = deadline - now();
    if (left <= 0)
      break;
    int k = epoll_wait(epfd, evs, 1024, (int)(left * 1000) + 1);
    if (k < 0 && errno != EINTR) {
      perror("c10k-client: epoll_wait");
      break;
    }
    for (int j = 0; j < k; j++) {
      if (evs[j].data.u64 == UINT64_MAX) {
        stop = 1;
        continue;
      }
      size_t i = (size_t)evs[j].data.u64;
      struct cconn *c = &cs[i];
      enum state before = c->st;
      if (before == DONE || before == FAILED)
        continue; /* an idle kept-alive connection */
      step(c, i);
      if (before == CONNECTING && c->st != CONNECTING)
        connecting--;
      if (c->st == DONE || c->st == FAILED)
        finished++, ok += c->st == DONE;
    }
  }
  double secs = now() - t0;
  size_t failed = (size_t)n - ok;
  if (finished < (size_t)n && nfail_reported < 5)
    fprintf(stderr, "c10k-client: %zu connections unfinished at the end\n", (size_t)n - finished);
  printf("OK %zu FAIL %zu SECONDS %.3f\n", ok, failed, secs);
  fflush(stdout);

  if (hold && !stop) {
    /* Idle connections until told to let go by a signal. */
    struct pollfd pf[1] = {{.fd = sfd, .events = POLLIN}};
    double end = now() + timeout;
    for (;;) {
      double left = end - now();
      if (left <= 0)
        break;
      int k = poll(pf, 1, (int)(left * 1000) + 1);
      if ((k < 0 && errno != EINTR) || pf[0].revents)
        break;
    }
  }
  for (long i = 0; i < n; i++) {
    if (cs[i].fd >= 0 && cs[i].st != IDLE)
      close(cs[i].fd);
    free(cs[i].resp);
  }
  free(cs);
  free(expect);
  close(epfd);
  close(sfd);
  return failed == 0 ? 0 : 1;
}
