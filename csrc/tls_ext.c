/* SPDX-License-Identifier: MIT */
/*
 * tls_ext.c - what a context decides inside the handshake, in C: the ALPN
 * protocol a server selects, the certificate a server shows for an SNI
 * name, and the key log.  OpenSSL calls back here; Lisp is never called.
 *
 * The settings live in a struct tls_ext hung on the SSL_CTX as ex_data:
 * the SSL_CTX outlives the context handle while connections hold it, and
 * OpenSSL frees the ex_data with the SSL_CTX.  Configuration (under the
 * context's lock) and the callbacks (under a connection's lock, in any
 * thread) meet under the ext's own mutex, held for a few instructions or
 * one write(2).
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_internal.h"

_Static_assert(EPS_TLS_ALPN_MISMATCH_FAIL == 0, "enum value");

/* Longest DNS name (RFC 1035). */
#define NAME_MAX_LEN 253
/* ALPN: a protocol name is 1..255 bytes, the whole list under 64 KiB. */
#define ALPN_NAME_MAX 255
#define ALPN_LIST_MAX 65535
/* A key log line is about 200 bytes; longer ones take the heap. */
#define KEYLOG_LINE 512

struct sni_cert {
	char *name; /* lower case; "*.x" a wildcard; NULL: the certificate's names */
	X509 *leaf;
	STACK_OF(X509) * chain;
	EVP_PKEY *key;
};

struct tls_ext {
	pthread_mutex_t lock;
	int32_t role;
	uint8_t *alpn; /* a server's preference list, wire format */
	size_t alpn_len;
	int32_t alpn_mismatch;
	struct sni_cert *certs;
	size_t ncerts;
	int keylog_fd; /* -1: off */
};

static int ext_index = -1;
static pthread_once_t ext_once = PTHREAD_ONCE_INIT;

static void sni_cert_clear(struct sni_cert *s)
{
	free(s->name);
	X509_free(s->leaf);
	sk_X509_pop_free(s->chain, X509_free);
	EVP_PKEY_free(s->key);
}

static void ext_destroy(struct tls_ext *e)
{
	if (e == NULL)
		return;
	free(e->alpn);
	for (size_t i = 0; i < e->ncerts; i++)
		sni_cert_clear(&e->certs[i]);
	free(e->certs);
	if (e->keylog_fd >= 0)
		(void)close(e->keylog_fd);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static void ext_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	ext_destroy(ptr);
}

static void ext_index_init(void)
{
	ext_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ext_free);
}

static struct tls_ext *ext_of(const SSL *ssl)
{
	return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ext_index);
}

/* --- callbacks ----------------------------------------------------------- */

/*
 * Select by the server's preference.  *OUT points into the client's list
 * (IN), which lives through the handshake; ours may be replaced meanwhile.
 */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)arg;
	struct tls_ext *e = ext_of(ssl);
	if (e == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	pthread_mutex_lock(&e->lock);
	if (e->alpn_len == 0) {
		pthread_mutex_unlock(&e->lock);
		return SSL_TLSEXT_ERR_NOACK;
	}
	for (size_t i = 0; i < e->alpn_len; i += 1 + (size_t)e->alpn[i]) {
		size_t n = e->alpn[i];
		for (size_t j = 0; j < inlen && j + 1 + in[j] <= inlen; j += 1 + (size_t)in[j]) {
			if (in[j] == n && memcmp(in + j + 1, e->alpn + i + 1, n) == 0) {
				pthread_mutex_unlock(&e->lock);
				*out = in + j + 1;
				*outlen = in[j];
				return SSL_TLSEXT_ERR_OK;
			}
		}
	}
	int proceed = e->alpn_mismatch == EPS_TLS_ALPN_MISMATCH_PROCEED;
	pthread_mutex_unlock(&e->lock);
	/* ALERT_FATAL makes OpenSSL send no_application_protocol (RFC 7301). */
	return proceed ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* An explicit name: exact, or "*.rest" for one more label in front of rest. */
static int name_matches(const char *pattern, const char *host)
{
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = strchr(host, '.');
		return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

static int sni_matches(const struct sni_cert *s, const char *host)
{
	if (s->name != NULL)
		return name_matches(s->name, host);
	return X509_check_host(s->leaf, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/*
 * Runs for every ClientHello, with or without SNI.  The certificate is
 * switched on the SSL itself: switching its SSL_CTX would also switch the
 * ALPN, key log and verification settings, which stay the main context's.
 */
static int servername_select(SSL *ssl, int *al, void *arg)
{
	(void)arg;
	struct tls_ext *e = ext_of(ssl);
	if (e == NULL)
		return SSL_TLSEXT_ERR_OK;
	const char *host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	pthread_mutex_lock(&e->lock);
	struct sni_cert *pick = NULL;
	for (size_t i = 0; host != NULL && i < e->ncerts && pick == NULL; i++)
		if (sni_matches(&e->certs[i], host))
			pick = &e->certs[i];
	/* No match: the context's own certificate, else the first added. */
	if (pick == NULL && e->ncerts > 0 && SSL_get_certificate(ssl) == NULL)
		pick = &e->certs[0];
	int ok = pick == NULL || SSL_use_cert_and_key(ssl, pick->leaf, pick->key, pick->chain, 1);
	pthread_mutex_unlock(&e->lock);
	if (!ok) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/* One write(2) per line: O_APPEND keeps lines of concurrent writers whole. */
static void keylog_write(const SSL *ssl, const char *line)
{
	struct tls_ext *e = ext_of(ssl);
	if (e == NULL)
		return;
	size_t n = strlen(line);
	char small[KEYLOG_LINE];
	char *buf = n + 1 <= sizeof small ? small : malloc(n + 1);
	if (buf == NULL)
		return;
	memcpy(buf, line, n);
	buf[n] = '\n';
	pthread_mutex_lock(&e->lock);
	if (e->keylog_fd >= 0) {
		ssize_t w;
		do
			w = write(e->keylog_fd, buf, n + 1);
		while (w < 0 && errno == EINTR);
	}
	pthread_mutex_unlock(&e->lock);
	OPENSSL_cleanse(buf, n + 1);
	if (buf != small)
		free(buf);
}

int32_t eps__tls_ext_attach(SSL_CTX *ctx, int32_t role)
{
	pthread_once(&ext_once, ext_index_init);
	if (ext_index < 0)
		return eps__tls_fail(EPS_ENOMEM, "SSL_CTX_get_ex_new_index");
	struct tls_ext *e = calloc(1, sizeof *e);
	if (e == NULL)
		return eps__fail(EPS_ENOMEM);
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		free(e);
		return eps__fail(EPS_ENOMEM);
	}
	e->role = role;
	e->keylog_fd = -1;
	if (!SSL_CTX_set_ex_data(ctx, ext_index, e)) {
		ext_destroy(e);
		return eps__tls_fail(EPS_ENOMEM, "SSL_CTX_set_ex_data");
	}
	if (role == EPS_TLS_ROLE_SERVER) {
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
		SSL_CTX_set_tlsext_servername_callback(ctx, servername_select);
	}
	return 0;
}

/* --- configuration ------------------------------------------------------- */

/* Enter CTX and lock its ext; pair with ext_leave. */
static EPS_MUST_USE int ext_enter(int64_t ctx, struct tls_context **c, struct tls_ext **e)
{
	EPS_GUARD(eps__tls_context_enter(ctx, c));
	*e = SSL_CTX_get_ex_data((*c)->ctx, ext_index);
	pthread_mutex_lock(&(*e)->lock);
	return 0;
}

static void ext_leave(int64_t ctx, struct tls_context *c, struct tls_ext *e)
{
	pthread_mutex_unlock(&e->lock);
	eps__tls_context_leave(ctx, c);
}

/* "h2,http/1.1" to the wire format; -EINVAL for an empty or long name. */
static EPS_MUST_USE int32_t alpn_wire(const char *list, uint8_t **out, size_t *out_len)
{
	size_t len = strlen(list);
	if (len == 0) {
		*out = NULL;
		*out_len = 0;
		return 0;
	}
	if (len >= ALPN_LIST_MAX) {
		eps__set_detail(EPS_EINVAL, "the ALPN list is longer than %d bytes", ALPN_LIST_MAX);
		return -EPS_EINVAL;
	}
	uint8_t *w = malloc(len + 1);
	if (w == NULL)
		return eps__fail(EPS_ENOMEM);
	size_t o = 0;
	const char *p = list;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (n == 0 || n > ALPN_NAME_MAX) {
			eps__set_detail(EPS_EINVAL, "an ALPN protocol name must be 1 to %d bytes",
					ALPN_NAME_MAX);
			free(w);
			return -EPS_EINVAL;
		}
		w[o++] = (uint8_t)n;
		memcpy(w + o, p, n);
		o += n;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = w;
	*out_len = o;
	return 0;
}

EPS_EXPORT int32_t eps_tls_context_set_alpn_protocols(int64_t ctx, const char *protocols)
{
	if (protocols == NULL)
		return eps__fail(EPS_EINVAL);
	uint8_t *wire;
	size_t wire_len;
	EPS_GUARD(alpn_wire(protocols, &wire, &wire_len));
	struct tls_context *c;
	struct tls_ext *e;
	int32_t r = ext_enter(ctx, &c, &e);
	if (r < 0) {
		free(wire);
		return r;
	}
	if (c->role == EPS_TLS_ROLE_CLIENT) {
		/* The one OpenSSL setter that returns 0 on success. */
		if (SSL_CTX_set_alpn_protos(c->ctx, wire, (unsigned)wire_len) != 0)
			r = eps__tls_fail(EPS_ENOMEM, "SSL_CTX_set_alpn_protos");
		free(wire);
	} else {
		free(e->alpn);
		e->alpn = wire;
		e->alpn_len = wire_len;
	}
	ext_leave(ctx, c, e);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_alpn_mismatch(int64_t ctx, int32_t action)
{
	if (action != EPS_TLS_ALPN_MISMATCH_FAIL && action != EPS_TLS_ALPN_MISMATCH_PROCEED)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	struct tls_ext *e;
	EPS_GUARD(ext_enter(ctx, &c, &e));
	int32_t r = 0;
	if (c->role != EPS_TLS_ROLE_SERVER) {
		eps__set_detail(EPS_EINVAL, "only a server selects the ALPN protocol");
		r = -EPS_EINVAL;
	} else {
		e->alpn_mismatch = action;
	}
	ext_leave(ctx, c, e);
	return r;
}

/* Check NAME for add_server_certificate: NULL or "" means none. */
static EPS_MUST_USE int32_t sni_name_copy(const char *name, char **out)
{
	*out = NULL;
	if (name == NULL || name[0] == '\0')
		return 0;
	size_t n = strnlen(name, NAME_MAX_LEN + 1);
	if (n > NAME_MAX_LEN) {
		eps__set_detail(EPS_EINVAL, "a server name is at most %d bytes", NAME_MAX_LEN);
		return -EPS_EINVAL;
	}
	char *s = malloc(n + 1);
	if (s == NULL)
		return eps__fail(EPS_ENOMEM);
	for (size_t i = 0; i <= n; i++)
		s[i] = (char)tolower((unsigned char)name[i]);
	*out = s;
	return 0;
}

static EPS_MUST_USE int32_t add_server_certificate(int64_t ctx, const char *name,
						   const uint8_t *cert, size_t cert_len,
						   const uint8_t *key, size_t key_len)
{
	struct sni_cert s = {0};
	int32_t r = sni_name_copy(name, &s.name);
	if (r < 0)
		return r;
	r = eps__tls_parse_chain(cert, cert_len, &s.leaf, &s.chain);
	if (r < 0)
		goto out;
	r = eps__tls_parse_key(key, key_len, &s.key);
	if (r < 0)
		goto out;
	EPS_GUARD_OSSL(X509_check_private_key(s.leaf, s.key), EPS_EKEYMISMATCH,
		       "the private key does not match the certificate");
	struct tls_context *c;
	struct tls_ext *e;
	r = ext_enter(ctx, &c, &e);
	if (r < 0)
		goto out;
	if (c->role != EPS_TLS_ROLE_SERVER) {
		eps__set_detail(EPS_EINVAL, "only a server chooses a certificate by SNI name");
		r = -EPS_EINVAL;
	} else {
		struct sni_cert *more = realloc(e->certs, (e->ncerts + 1) * sizeof *more);
		if (more == NULL) {
			r = eps__fail(EPS_ENOMEM);
		} else {
			e->certs = more;
			e->certs[e->ncerts++] = s;
			memset(&s, 0, sizeof s);
		}
	}
	ext_leave(ctx, c, e);
out:
	sni_cert_clear(&s);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_add_server_certificate_pem(int64_t ctx, const char *name,
							      const uint8_t *cert, size_t cert_len,
							      const uint8_t *key, size_t key_len)
{
	if (cert == NULL || key == NULL)
		return eps__fail(EPS_EINVAL);
	return add_server_certificate(ctx, name, cert, cert_len, key, key_len);
}

EPS_EXPORT int32_t eps_tls_context_add_server_certificate_file(int64_t ctx, const char *name,
							       const char *cert_path,
							       const char *key_path)
{
	if (cert_path == NULL || key_path == NULL)
		return eps__fail(EPS_EINVAL);
	uint8_t *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	int32_t r = eps__tls_read_file(cert_path, &cert, &cert_len);
	if (r == 0)
		r = eps__tls_read_file(key_path, &key, &key_len);
	if (r == 0)
		r = add_server_certificate(ctx, name, cert, cert_len, key, key_len);
	free(cert);
	if (key != NULL) {
		OPENSSL_cleanse(key, key_len);
		free(key);
	}
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_keylog_file(int64_t ctx, const char *path)
{
	int fd = -1;
	if (path != NULL) {
		if (path[0] == '\0')
			return eps__fail(EPS_EINVAL);
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0)
			return EPS_ERRNO();
	}
	struct tls_context *c;
	struct tls_ext *e;
	int32_t r = ext_enter(ctx, &c, &e);
	if (r < 0) {
		if (fd >= 0)
			(void)close(fd);
		return r;
	}
	if (e->keylog_fd >= 0)
		(void)close(e->keylog_fd);
	e->keylog_fd = fd;
	/*
	 * Installed once and never removed: handshakes in other threads read the
	 * pointer without our lock, and "off" is the fd, read under it.
	 */
	if (fd >= 0 && SSL_CTX_get_keylog_callback(c->ctx) == NULL)
		SSL_CTX_set_keylog_callback(c->ctx, keylog_write);
	ext_leave(ctx, c, e);
	return 0;
}
