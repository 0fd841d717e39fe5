/* SPDX-License-Identifier: MIT */
/* bulk: the C baseline of the bulk-transfer row (1 GiB over loopback TCP
 * and over TLS).
 *
 *   bulk recv [--host H] [--port P] [--tls-cert PEM --tls-key PEM] [--buffer B]
 *   bulk send [--host H] --port P [--bytes N] [--tls] [--buffer B]
 *
 * recv listens (--port 0 picks a port and the program prints `PORT <n>` on
 * stdout), accepts one connection, reads into one buffer until EOF (TLS:
 * close_notify or EOF) and prints `BYTES <n> SECONDS <x> MIBPS <y> CPU <c>`,
 * timed from the first byte received to the EOF: SECONDS is wall time, CPU
 * the thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over the same span, so
 * neither counts start-up or the handshake. send connects, sends N bytes
 * (default 1G; suffixes K, M, G are powers of 1024) in B-byte writes
 * (default 64K), shuts the connection down and prints the same line from
 * its side, timed from the first write to the shutdown. Blocking sockets:
 * this measures the kernel and OpenSSL paths, not a loop.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "bulk: %s: %s\n", what, errno ? strerror(errno) : "failed");
  ERR_print_errors_fp(stderr);
  exit(1);
}

static uint64_t parse_size(const char *s) {
  char *end;
  uint64_t v = strtoull(s, &end, 10);
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  default: break;
  }
  if (*end || v == 0) {
    fprintf(stderr, "bulk: bad size %s\n", s);
    exit(2);
  }
  return v;
}

static void report(uint64_t bytes, double secs, double cpu) {
  printf("BYTES %llu SECONDS %.3f MIBPS %.1f CPU %.3f\n", (unsigned long long)bytes, secs,
         (double)bytes / (1 << 20) / secs, cpu);
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr, "usage: bulk recv [--host H] [--port P] [--tls-cert PEM --tls-key PEM] [--buffer B]\n"
                  "       bulk send [--host H] --port P [--bytes N] [--tls] [--buffer B]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2)
    usage();
  int recv_mode = strcmp(argv[1], "recv") == 0;
  if (!recv_mode && strcmp(argv[1], "send") != 0)
    usage();
  const char *host = "127.0.0.1", *port = recv_mode ? "0" : NULL, *cert = NULL, *key = NULL;
  uint64_t bytes = 1ull << 30;
  size_t bufsize = 64 * 1024;
  int tls = 0;
  static const struct option opts[] = {
      {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
      {"tls-cert", required_argument, 0, 'c'}, {"tls-key", required_argument, 0, 'k'},
      {"bytes", required_argument, 0, 'n'},    {"buffer", required_argument, 0, 'b'},
      {"tls", no_argument, 0, 't'},            {0, 0, 0, 0}};
  optind = 2;
  for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
    switch (o) {
    case 'h': host = optarg; break;
    case 'p': port = optarg; break;
    case 'c': cert = optarg; break;
    case 'k': key = optarg; break;
    case 'n': bytes = parse_size(optarg); break;
    case 'b': bufsize = (size_t)parse_size(optarg); break;
    case 't': tls = 1; break;
    default: usage();
    }
  }
  if (optind != argc || !port || (!cert != !key) || bufsize > (1u << 30))
    usage();
  signal(SIGPIPE, SIG_IGN);

  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV | (recv_mode ? AI_PASSIVE : 0)};
  struct addrinfo *ai;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0) {
    fprintf(stderr, "bulk: %s:%s: %s\n", host, port, gai_strerror(gai));
    return 2;
  }
  uint8_t *buf = malloc(bufsize);
  if (!buf)
    die("malloc");
  memset(buf, 'x', bufsize);
  SSL_CTX *ctx = NULL;
  SSL *ssl = NULL;
  int fd;

  if (recv_mode) {
    int lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, 16) < 0)
      die("listen");
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) < 0)
      die("getsockname");
    int p = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                     : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (cert) {
      ctx = SSL_CTX_new(TLS_server_method());
      if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        die("TLS setup");
    }
    printf("PORT %d\n", p);
    fflush(stdout);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
      die("accept");
    close(lfd);
    double t0 = 0, c0 = 0;
    if (ctx) {
      ssl = SSL_new(ctx);
      if (!ssl || !SSL_set_fd(ssl, fd) || SSL_accept(ssl) != 1)
        die("SSL_accept");
    }
    uint64_t total = 0;
    for (;;) {
      if (ssl) {
        int k = SSL_read(ssl, buf, bufsize > INT32_MAX ? INT32_MAX : (int)bufsize);
        if (k <= 0) {
          int e = SSL_get_error(ssl, k);
          if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
            break;
          die("SSL_read");
        }
        if (total == 0) {
          t0 = now();
          c0 = thread_cpu();
        }
        total += (uint64_t)k;
      } else {
        ssize_t k = recv(fd, buf, bufsize, 0);
        if (k < 0 && errno == EINTR)
          continue;
        if (k < 0)
          die("recv");
        if (k == 0)
          break;
        if (total == 0) {
          t0 = now();
          c0 = thread_cpu();
        }
        total += (uint64_t)k;
      }
    }
    report(total, total ? now() - t0 : 0, total ? thread_cpu() - c0 : 0);
  } else {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
      die("connect");
    if (tls) {
      ctx = SSL_CTX_new(TLS_client_method());
      /* The benchmark measures the transfer; the peer is our own receiver. */
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
      ssl = ctx ? SSL_new(ctx) : NULL;
      if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
        die("SSL_connect");
    }
    uint64_t left = bytes;
    double t0 = now(), c0 = thread_cpu();
    while (left) {
      size_t chunk = left < bufsize ? (size_t)left : bufsize;
      if (ssl) {
        int k = SSL_write(ssl, buf, (int)chunk);
        if (k <= 0)
          die("SSL_write");
        left -= (uint64_t)k;
      } else {
        ssize_t k = send(fd, buf, chunk, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
          continue;
        if (k < 0)
          die("send");
        left -= (uint64_t)k;
      }
    }
    if (ssl)
      (void)SSL_shutdown(ssl);
    (void)shutdown(fd, SHUT_WR);
    report(bytes, now() - t0, thread_cpu() - c0);
  }
  if (ssl)
    SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  freeaddrinfo(ai);
  free(buf);
  return 0;
}
