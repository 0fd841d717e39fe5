/* SPDX-License-Identifier: MIT */
/*
 * tls_internal.h - what the TLS source files share: the context and
 * connection objects, entering and leaving them, OpenSSL error handling,
 * the PEM parsers and the attach calls of the per-SSL_CTX extensions.
 *
 * The files call downwards only (tests/c/check-calls.sh checks it):
 *
 *   tls.c (contexts)   tls_conn.c (connections, I/O)   tls_info.c
 *   tls_session.c      tls_ext.c (ALPN, SNI, key log)  tls_ocsp.c (stapling)
 *        |  tls.c also attaches tls_ext.c and tls_ocsp.c to a new SSL_CTX
 *   tls_pem.c (reading files, parsing PEM)
 *   tls_core.c (objects, enter/leave, OpenSSL errors)   tls_bio.c
 */
#ifndef EPSILON_TLS_INTERNAL_H
#define EPSILON_TLS_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "internal.h"

/*
 * OpenSSL's "1 means success": on any other result of CALL, set the
 * caller's R to the failure CODE (detail WHAT and the error queue) and go
 * to the caller's label `out`, where it frees what it took.
 */
#define EPS_GUARD_OSSL(call, code, what)                   \
	do {                                               \
		if ((call) != 1) {                         \
			r = eps__tls_fail((code), (what)); \
			goto out;                          \
		}                                          \
	} while (0)

/* The same, for a function with nothing to free: return the failure. */
#define EPS_ENSURE_OSSL(call, code, what)                     \
	do {                                                  \
		if ((call) != 1)                              \
			return eps__tls_fail((code), (what)); \
	} while (0)

/*
 * What contexts and connections share: the mutex that serializes calls on
 * one object.  It is the first member of both.
 */
struct tls_object {
	pthread_mutex_t lock;
};

struct tls_context {
	struct tls_object obj;
	SSL_CTX *ctx;
	int32_t role;
	int32_t policy;	   /* the cipher policy in force (enum eps_tls_policy) */
	char *cipher_list; /* the list set over it, or NULL */
};

struct tls_connection {
	struct tls_object obj;
	SSL *ssl;
	BIO *bio; /* owned by ssl */
	int32_t role;
	int32_t failed; /* the code of a fatal failure, or 0 */
	int started;	/* a handshake, read or write was attempted */
};

/* --- tls_core.c ---------------------------------------------------------- */

/* A zeroed object of SIZE bytes (a struct beginning with a tls_object). */
EPS_MUST_USE void *eps__tls_object_new(size_t size);
/*
 * The handle of a finished object OBJ of kind TYPE; when no handle can be
 * had, DESTROY frees OBJ and the failure is returned.
 */
EPS_MUST_USE int64_t eps__tls_object_publish(uint32_t type, void *obj, eps__destroy_fn destroy);
/* Free an object of eps__tls_object_new (its own fields freed already). */
void eps__tls_object_free(void *obj);
/*
 * Acquire HANDLE of kind TYPE and lock its object, with the thread's
 * OpenSSL error queue cleared.  Returns 0 or -EBADHANDLE; pair with
 * eps__tls_object_leave.
 */
EPS_MUST_USE int eps__tls_object_enter(int64_t handle, uint32_t type, void **out);
void eps__tls_object_leave(int64_t handle, void *obj);

/* The same, typed: a context; a connection (its BIO's errno reset too). */
EPS_MUST_USE int eps__tls_context_enter(int64_t ctx, struct tls_context **out);
void eps__tls_context_leave(int64_t ctx, struct tls_context *c);
EPS_MUST_USE int eps__tls_connection_enter(int64_t conn, struct tls_connection **out);
void eps__tls_connection_leave(int64_t conn, struct tls_connection *t);

/* Fail with CODE: detail is WHAT and the error queue's text; queue cleared. */
EPS_MUST_USE int32_t eps__tls_fail(int32_t code, const char *what);
/* Append the error queue's text to the detail and clear the queue. */
void eps__tls_queue_to_detail(void);

/*
 * Copy the N bytes at S into BUF of LEN bytes, NUL-terminated when LEN > 0,
 * truncating if needed; return N (like snprintf), at most INT32_MAX.
 */
EPS_MUST_USE int32_t eps__tls_copy_out(const char *s, size_t n, uint8_t *buf, size_t len);

/* --- tls_pem.c ----------------------------------------------------------- */

/*
 * Read the file PATH (small: a PEM or DER file) into a fresh buffer.
 * Every failure is -EBADPEM with the reason in the detail (or -ENOMEM).
 */
EPS_MUST_USE int32_t eps__tls_read_file(const char *path, uint8_t **out, size_t *out_len);
/* The leaf and the rest of the chain from PEM text; -EBADPEM if none. */
EPS_MUST_USE int32_t eps__tls_parse_chain(const uint8_t *pem, size_t len, X509 **leaf_out,
					  STACK_OF(X509) * *chain_out);
/* Only certificates, at least one, from PEM text (a chain file). */
EPS_MUST_USE int32_t eps__tls_parse_certs(const uint8_t *pem, size_t len,
					  STACK_OF(X509) * *certs_out);
/* An unencrypted private key from PEM text; -EBADPEM if none. */
EPS_MUST_USE int32_t eps__tls_parse_key(const uint8_t *pem, size_t len, EVP_PKEY **out);

/* --- tls_ext.c, tls_ocsp.c ----------------------------------------------- */

/*
 * The per-SSL_CTX data of tls_ext.c, hung on the SSL_CTX as ex_data (the
 * SSL_CTX outlives the context handle while connections hold it) and freed
 * with it.  Attach it to a fresh SSL_CTX before any connection exists: it
 * also installs the callbacks.  Returns 0 or -ENOMEM / -ETLS.
 */
EPS_MUST_USE int32_t eps__tls_ext_attach(SSL_CTX *ctx, int32_t role);

/* The same for tls_ocsp.c's stapling state (servers only; 0 on a client). */
EPS_MUST_USE int32_t eps__tls_ocsp_attach(SSL_CTX *ctx, int32_t role);

#endif /* EPSILON_TLS_INTERNAL_H */
