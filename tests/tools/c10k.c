/* SPDX-License-Identifier: MIT */
/* c10k: N concurrent keep-alive HTTP/1.1 connections to 127.0.0.1:PORT,
 * one `GET /` on each, every response checked byte for byte against the
 * canonical one; all N stay open until every one is answered, then the
 * first asks for /stats and its `connections` line is printed (how many the
 * server held at once).  A separate process from the server (DESIGN 5).
 *
 *   c10k PORT [N=10000] [TIMEOUT_SECONDS=120]
 *
 * Prints `OK <n> FAIL <n> SECONDS <x>` and `SERVER_CONNECTIONS <n>`; exit
 * 0 when every connection got the response, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char expected[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 13\r\n\r\nHello, World!";
#define EXPECTED_LEN (sizeof expected - 1)
#define BATCH 1000

struct conn {
  int fd, sent, done, len;
  char buf[EXPECTED_LEN];
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: c10k PORT [N] [TIMEOUT]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int n = argc > 2 ? atoi(argv[2]) : 10000;
  double timeout = argc > 3 ? atof(argv[3]) : 120;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
  }
  struct conn *cs = calloc((size_t)n, sizeof *cs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!cs || ep < 0)
    return 2;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  int started = 0, finished = 0, ok = 0, fail = 0, reported = 0;
  double t0 = now();
  struct epoll_event evs[256];
  while (finished < n && now() - t0 < timeout) {
    while (started < n && started - finished < BATCH) {
      struct conn *c = &cs[started];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
        if (reported++ < 5)
          fprintf(stderr, "c10k: connection %d: %s\n", started, strerror(errno));
        c->done = 1, fail++, finished++, started++;
        continue;
      }
      struct epoll_event e = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)started};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
      started++;
    }
    int k = epoll_wait(ep, evs, 256, 1000);
    for (int i = 0; i < k; i++) {
      struct conn *c = &cs[evs[i].data.u32];
      if (c->done)
        continue;
      if (!c->sent && (evs[i].events & EPOLLOUT)) {
        if (send(c->fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
          c->sent = 1;
          struct epoll_event e = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
          continue;
        }
      }
      int bad = (evs[i].events & (EPOLLERR | EPOLLHUP)) && !(evs[i].events & EPOLLIN);
      if (!bad && c->sent && (evs[i].events & EPOLLIN)) {
        ssize_t r = recv(c->fd, c->buf + c->len, EXPECTED_LEN - (size_t)c->len, 0);
        if (r > 0) {
          c->len += (int)r;
          if ((size_t)c->len < EXPECTED_LEN)
            continue;
          c->done = 1, finished++;
          if (memcmp(c->buf, expected, EXPECTED_LEN) == 0) {
            ok++;
          } else {
            fail++;
            if (reported++ < 5)
              fprintf(stderr, "c10k: connection %d: wrong response\n", evs[i].data.u32);
          }
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          continue;
        }
        if (r < 0 && errno == EAGAIN)
          continue;
        bad = 1;
      }
      if (bad || !c->sent) {
        if (!c->sent && !(evs[i].events & (EPOLLERR | EPOLLHUP)))
          continue;
        if (reported++ < 5)
          fprintf(stderr, "c10k: connection %d failed\n", evs[i].data.u32);
        c->done = 1, fail++, finished++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
  }
  double secs = now() - t0;
  fail += n - finished;
  printf("OK %d FAIL %d SECONDS %.3f\n", ok, fail, secs);
  /* Every connection is still open: ask the server how many it holds. */
  long held = -1;
  if (n > 0 && cs[0].done && cs[0].fd >= 0) {
    int fd = cs[0].fd;
    const char sreq[] = "GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    int fl = 0;
    (void)fl;
    struct epoll_event e = {.events = EPOLLIN, .data.u32 = 0};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    if (send(fd, sreq, sizeof sreq - 1, MSG_NOSIGNAL) > 0) {
      char sb[4096];
      size_t have = 0;
      double t1 = now();
      while (now() - t1 < 10 && have < sizeof sb - 1) {
        if (epoll_wait(ep, evs, 1, 1000) <= 0)
          continue;
        ssize_t r = recv(fd, sb + have, sizeof sb - 1 - have, 0);
        if (r <= 0 && !(r < 0 && errno == EAGAIN))
          break;
        if (r > 0)
          have += (size_t)r;
        sb[have] = 0;
        char *p = strstr(sb, "\nconnections ");
        if (p && strchr(p + 1, '\n')) {
          held = atol(p + 13);
          break;
        }
      }
    }
  }
  printf("SERVER_CONNECTIONS %ld\n", held);
  fflush(stdout);
  for (int i = 0; i < started; i++)
    if (cs[i].fd >= 0)
      close(cs[i].fd);
  close(ep);
  free(cs);
  return fail == 0 ? 0 : 1;
}
