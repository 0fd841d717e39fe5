/* SPDX-License-Identifier: MIT */
/*
 * tls_ocsp.c - OCSP stapling on a server: the DER response of a file,
 * sent to the clients that ask for the certificate status, and read again
 * when the file changes.
 *
 * The state hangs on the SSL_CTX as ex_data, as tls_ext.c's does, and is
 * freed with it.  A handshake that asks compares the file's stat(2) with
 * the one its bytes were read under: one system call, no read, while the
 * file stays the same.  Configuration and the callback meet under the
 * state's own mutex.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "tls_internal.h"

/* What tells one version of the file from the next. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

struct tls_ocsp {
	pthread_mutex_t lock;
	char *path; /* NULL: no stapling */
	uint8_t *der;
	size_t der_len;
	struct file_id seen; /* the file DER was read from */
};

static int ocsp_index = -1;
static pthread_once_t ocsp_once = PTHREAD_ONCE_INIT;

static void ocsp_clear(struct tls_ocsp *o)
{
	free(o->path);
	free(o->der);
	o->path = NULL;
	o->der = NULL;
	o->der_len = 0;
}

static void ocsp_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	struct tls_ocsp *o = ptr;
	if (o == NULL)
		return;
	ocsp_clear(o);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static void ocsp_index_init(void)
{
	ocsp_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ocsp_free);
}

static struct file_id file_id_of(const struct stat *st)
{
	struct file_id id = {.dev = st->st_dev,
			     .ino = st->st_ino,
			     .size = st->st_size,
			     .mtime = st->st_mtim,
			     .ctime = st->st_ctim};
	return id;
}

static int same_file(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/*
 * Read PATH as of its stat ID: the whole file must be one DER OCSPResponse.
 * Returns 0 with *DER (malloc'd), or -EBADPEM / -ENOMEM with the detail.
 */
static EPS_MUST_USE int32_t read_response(const char *path, struct file_id *id, uint8_t **der,
					  size_t *der_len)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		eps__set_detail(EPS_EBADPEM, "cannot read the OCSP response %s: %s", path, strerror(errno));
		return -EPS_EBADPEM;
	}
	uint8_t *buf;
	size_t len;
	EPS_GUARD(eps__tls_read_file(path, &buf, &len));
	const unsigned char *p = buf;
	OCSP_RESPONSE *resp = len <= LONG_MAX ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;
	int whole = resp != NULL && p == buf + len;
	OCSP_RESPONSE_free(resp);
	if (!whole) {
		free(buf);
		eps__set_detail(EPS_EBADPEM, "%s is not a DER OCSP response", path);
		eps__tls_queue_to_detail();
		return -EPS_EBADPEM;
	}
	*id = file_id_of(&st);
	*der = buf;
	*der_len = len;
	return 0;
}

/* Read the file again if it changed; a bad new file keeps the old bytes. */
static void refresh(struct tls_ocsp *o)
{
	struct stat st;
	if (stat(o->path, &st) != 0)
		return;
	struct file_id now = file_id_of(&st);
	if (same_file(&now, &o->seen))
		return;
	uint8_t *der;
	size_t len;
	if (read_response(o->path, &now, &der, &len) < 0) {
		ERR_clear_error();
		return;
	}
	free(o->der);
	o->der = der;
	o->der_len = len;
	o->seen = now;
}

/*
 * Runs in a server's handshake when the client sent status_request.
 * OpenSSL frees the bytes it is given: a copy per handshake.
 */
static int status_cb(SSL *ssl, void *arg)
{
	(void)arg;
	struct tls_ocsp *o = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ocsp_index);
	if (o == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	pthread_mutex_lock(&o->lock);
	unsigned char *copy = NULL;
	size_t len = 0;
	if (o->path != NULL) {
		refresh(o);
		copy = OPENSSL_memdup(o->der, o->der_len);
		len = o->der_len;
	}
	pthread_mutex_unlock(&o->lock);
	if (copy == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len) != 1) {
		OPENSSL_free(copy);
		return SSL_TLSEXT_ERR_NOACK;
	}
	return SSL_TLSEXT_ERR_OK;
}

int32_t eps__tls_ocsp_attach(SSL_CTX *ctx, int32_t role)
{
	if (role != EPS_TLS_ROLE_SERVER)
		return 0;
	pthread_once(&ocsp_once, ocsp_index_init);
	if (ocsp_index < 0)
		return eps__tls_fail(EPS_ENOMEM, "SSL_CTX_get_ex_new_index");
	struct tls_ocsp *o = calloc(1, sizeof *o);
	if (o == NULL)
		return eps__fail(EPS_ENOMEM);
	if (pthread_mutex_init(&o->lock, NULL) != 0) {
		free(o);
		return eps__fail(EPS_ENOMEM);
	}
	if (!SSL_CTX_set_ex_data(ctx, ocsp_index, o)) {
		ocsp_free(NULL, o, NULL, 0, 0, NULL);
		return eps__tls_fail(EPS_ENOMEM, "SSL_CTX_set_ex_data");
	}
	if (SSL_CTX_set_tlsext_status_cb(ctx, status_cb) != 1)
		return eps__tls_fail(EPS_ETLS, "SSL_CTX_set_tlsext_status_cb");
	return 0;
}

EPS_EXPORT int32_t eps_tls_context_set_ocsp_response_file(int64_t ctx, const char *path)
{
	if (path != NULL && path[0] == '\0')
		return eps__fail(EPS_EINVAL);
	struct file_id id = {0};
	uint8_t *der = NULL;
	size_t len = 0;
	char *copy = NULL;
	if (path != NULL) {
		EPS_GUARD(read_response(path, &id, &der, &len));
		copy = strdup(path);
		if (copy == NULL) {
			free(der);
			return eps__fail(EPS_ENOMEM);
		}
	}
	struct tls_context *c;
	int32_t r = eps__tls_context_enter(ctx, &c);
	if (r < 0) {
		free(der);
		free(copy);
		return r;
	}
	struct tls_ocsp *o = SSL_CTX_get_ex_data(c->ctx, ocsp_index);
	if (c->role != EPS_TLS_ROLE_SERVER || o == NULL) {
		eps__set_detail(EPS_EINVAL, "only a server staples an OCSP response");
		free(der);
		free(copy);
		r = -EPS_EINVAL;
	} else {
		pthread_mutex_lock(&o->lock);
		ocsp_clear(o);
		o->path = copy;
		o->der = der;
		o->der_len = len;
		o->seen = id;
		pthread_mutex_unlock(&o->lock);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}
