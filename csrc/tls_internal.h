/*
 * tls_internal.h - what the TLS source files share: the context and
 * connection objects, entering and leaving them, OpenSSL error handling,
 * the PEM parsers and the per-SSL_CTX data the callbacks read.
 *
 * tls.c: contexts, connections, I/O.  tls_ext.c: what runs inside the
 * handshake (ALPN selection, certificate choice by SNI, key logging).
 * tls_info.c: what a connection reports.  tls_session.c: resumption.
 */
#ifndef EPSILON_TLS_INTERNAL_H
#define EPSILON_TLS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct tls_context {
	pthread_mutex_t lock;
	SSL_CTX *ctx;
	int32_t role;
};

struct tls_connection {
	pthread_mutex_t lock;
	SSL *ssl;
	BIO *bio; /* owned by ssl */
	int32_t role;
	int32_t failed; /* the code of a fatal failure, or 0 */
	int started;	/* a handshake, read or write was attempted */
};

/* Acquire CTX and lock it (the error queue cleared); pair with _leave. */
int eps__tls_context_enter(int64_t ctx, struct tls_context **out);
void eps__tls_context_leave(int64_t ctx, struct tls_context *c);
/* Acquire CONN and lock it (the error queue cleared); pair with _leave. */
int eps__tls_connection_enter(int64_t conn, struct tls_connection **out);
void eps__tls_connection_leave(int64_t conn, struct tls_connection *t);

/* Fail with CODE: detail is WHAT and the error queue's text; queue cleared. */
int32_t eps__tls_fail(int32_t code, const char *what);

/*
 * Copy the N bytes at S into BUF of LEN bytes, NUL-terminated when LEN > 0,
 * truncating if needed; return N (like snprintf), at most INT32_MAX.
 */
int32_t eps__tls_copy_out(const char *s, size_t n, uint8_t *buf, size_t len);

/* Read the file PATH (a PEM file: small) into a fresh buffer; -EBADPEM. */
int32_t eps__tls_read_pem_file(const char *path, uint8_t **out, size_t *out_len);
/* The leaf and the rest of the chain from PEM text; -EBADPEM if none. */
int32_t eps__tls_parse_chain(const uint8_t *pem, size_t len, X509 **leaf_out,
			     STACK_OF(X509) * *chain_out);
/* An unencrypted private key from PEM text; -EBADPEM if none. */
int32_t eps__tls_parse_key(const uint8_t *pem, size_t len, EVP_PKEY **out);

/*
 * The per-SSL_CTX data of tls_ext.c, hung on the SSL_CTX as ex_data (the
 * SSL_CTX outlives the context handle while connections hold it) and freed
 * with it.  Attach it to a fresh SSL_CTX before any connection exists: it
 * also installs the callbacks.  Returns 0 or -ENOMEM / -ETLS.
 */
int32_t eps__tls_ext_attach(SSL_CTX *ctx, int32_t role);

#endif /* EPSILON_TLS_INTERNAL_H */
