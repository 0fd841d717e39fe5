/* SPDX-License-Identifier: MIT */
/*
 * tls_bio.c - the BIO OpenSSL reads and writes TLS records through.
 *
 * OpenSSL's stock socket BIO writes with write(2), which raises SIGPIPE
 * when the peer is gone, and follows the descriptor's blocking mode.  Ours
 * sends with MSG_NOSIGNAL (a closed peer is EPIPE), adds MSG_DONTWAIT when
 * the connection asks for it (so a Lisp thread never sleeps in OpenSSL
 * whatever the socket's mode), and remembers end of file so that
 * BIO_CTRL_EOF lets OpenSSL 3 tell a peer that vanished without
 * close_notify (unexpected EOF) from a failed system call.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>

#include "internal.h"

struct sock_bio {
	int fd;
	int dontwait;
	int eof;	/* a receive returned 0 */
	int last_errno; /* of the last send or receive that failed for good */
};

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

static int retryable(int e)
{
	/* EINTR too: the caller sees want-read/write and calls again. */
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static int sock_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct sock_bio *s = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | (s->dontwait ? MSG_DONTWAIT : 0));
	if (n < 0) {
		int e = errno;
		if (retryable(e))
			BIO_set_retry_write(b);
		else
			s->last_errno = e;
		return 0;
	}
	*written = (size_t)n;
	return 1;
}

static int sock_read(BIO *b, char *data, size_t len, size_t *readbytes)
{
	struct sock_bio *s = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	ssize_t n = recv(s->fd, data, len, s->dontwait ? MSG_DONTWAIT : 0);
	if (n < 0) {
		int e = errno;
		if (retryable(e))
			BIO_set_retry_read(b);
		else
			s->last_errno = e;
		return 0;
	}
	if (n == 0) {
		s->eof = 1;
		return 0;
	}
	*readbytes = (size_t)n;
	return 1;
}

static int sock_puts(BIO *b, const char *str)
{
	size_t written = 0;
	size_t len = strlen(str);
	if (!sock_write(b, str, len, &written))
		return -1;
	return (int)written;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct sock_bio *s = BIO_get_data(b);
	(void)num;
	switch (cmd) {
	case BIO_CTRL_EOF:
		return s->eof;
	case BIO_CTRL_FLUSH:
		/* Nothing is buffered here: every write goes to the kernel. */
		return 1;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = s->fd;
		return s->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_NOCLOSE;
	case BIO_CTRL_SET_CLOSE:
	case BIO_CTRL_PUSH:
	case BIO_CTRL_POP:
		return 1;
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return 0;
	default:
		/* Unknown controls (kTLS, datagram, ...): "not supported". */
		return 0;
	}
}

static int sock_create(BIO *b)
{
	BIO_set_init(b, 0);
	BIO_set_data(b, NULL);
	return 1;
}

static int sock_destroy(BIO *b)
{
	if (b == NULL)
		return 0;
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

static void make_method(void)
{
	int index = BIO_get_new_index();
	if (index < 0)
		return;
	BIO_METHOD *m =
	    BIO_meth_new(index | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "epsilon socket");
	if (m == NULL)
		return;
	if (!BIO_meth_set_write_ex(m, sock_write) || !BIO_meth_set_read_ex(m, sock_read) ||
	    !BIO_meth_set_puts(m, sock_puts) || !BIO_meth_set_ctrl(m, sock_ctrl) ||
	    !BIO_meth_set_create(m, sock_create) || !BIO_meth_set_destroy(m, sock_destroy)) {
		BIO_meth_free(m);
		return;
	}
	method = m;
}

struct bio_st *eps__tls_bio_new(int fd)
{
	(void)pthread_once(&method_once, make_method);
	if (method == NULL)
		return NULL;
	struct sock_bio *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->fd = fd;
	BIO *b = BIO_new(method);
	if (b == NULL) {
		free(s);
		return NULL;
	}
	BIO_set_data(b, s);
	BIO_set_init(b, 1);
	return b;
}

void eps__tls_bio_set_dontwait(struct bio_st *bio, int on)
{
	struct sock_bio *s = BIO_get_data(bio);
	s->dontwait = on != 0;
}

int eps__tls_bio_take_errno(struct bio_st *bio)
{
	struct sock_bio *s = BIO_get_data(bio);
	int e = s->last_errno;
	s->last_errno = 0;
	return e;
}
