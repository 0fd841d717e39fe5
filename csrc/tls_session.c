/* SPDX-License-Identifier: MIT */
/*
 * tls_session.c - resumption: sessions taken from one client connection and
 * offered by a later one, their bytes, and a context's cache and tickets.
 *
 * A session is a handle (EPS_HANDLE_TLS_SESSION) holding one reference to
 * an SSL_SESSION; OpenSSL's sessions are reference-counted and immutable
 * once handed out, so a session needs no lock of its own.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "internal.h"
#include "tls_internal.h"

/* A session file is a few KiB; a bigger blob is not one of ours. */
#define SESSION_BYTES_MAX (1 << 20)

static void session_destroy(void *obj)
{
	SSL_SESSION_free(obj);
}

static int64_t session_handle(SSL_SESSION *s)
{
	int64_t h = eps__handle_alloc(EPS_HANDLE_TLS_SESSION, s, session_destroy);
	if (h < 0)
		SSL_SESSION_free(s);
	return h;
}

EPS_EXPORT int64_t eps_tls_connection_get_session(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int64_t r = 0;
	SSL_SESSION *s = NULL;
	if (t->role != EPS_TLS_ROLE_CLIENT) {
		eps__set_detail(EPS_EINVAL, "only a client resumes sessions");
		r = -EPS_EINVAL;
	} else if (t->failed != 0) {
		eps__set_detail(EPS_ETLSCLOSED, "the connection failed earlier with %s",
				eps_errname(t->failed));
		r = -EPS_ETLSCLOSED;
	} else {
		s = SSL_get1_session(t->ssl);
		if (s == NULL || !SSL_is_init_finished(t->ssl) || !SSL_SESSION_is_resumable(s)) {
			eps__set_detail(EPS_EAGAIN,
					"no resumable session yet (TLS 1.3: read from the "
					"connection to receive the server's ticket)");
			r = -EPS_EAGAIN;
		}
	}
	/*
	 * A copy: OpenSSL marks a connection's own session unresumable when the
	 * connection is freed without close_notify, and a session handed out
	 * must not change under its holder.
	 */
	SSL_SESSION *copy = NULL;
	if (r == 0) {
		copy = SSL_SESSION_dup(s);
		if (copy == NULL)
			r = eps__tls_fail(EPS_ENOMEM, "SSL_SESSION_dup");
	}
	eps__tls_connection_leave(conn, t);
	SSL_SESSION_free(s);
	if (r < 0)
		return r;
	return session_handle(copy);
}

EPS_EXPORT int32_t eps_tls_connection_set_session(int64_t conn, int64_t session)
{
	void *obj;
	EPS_GUARD(eps__handle_acquire(session, EPS_HANDLE_TLS_SESSION, &obj));
	struct tls_connection *t;
	int32_t r = eps__tls_connection_enter(conn, &t);
	if (r < 0) {
		eps__handle_release(session);
		return r;
	}
	if (t->role != EPS_TLS_ROLE_CLIENT) {
		eps__set_detail(EPS_EINVAL, "only a client resumes sessions");
		r = -EPS_EINVAL;
	} else if (t->started) {
		eps__set_detail(EPS_EINVAL, "the handshake has begun");
		r = -EPS_EINVAL;
	} else {
		/* A copy, for the reason in eps_tls_connection_get_session. */
		SSL_SESSION *copy = SSL_SESSION_dup(obj);
		if (copy == NULL)
			r = eps__tls_fail(EPS_ENOMEM, "SSL_SESSION_dup");
		else if (!SSL_set_session(t->ssl, copy))
			r = eps__tls_fail(EPS_ETLS, "SSL_set_session");
		SSL_SESSION_free(copy);
	}
	eps__tls_connection_leave(conn, t);
	eps__handle_release(session);
	return r;
}

EPS_EXPORT int32_t eps_tls_session_free(int64_t session)
{
	return eps__handle_free(session, EPS_HANDLE_TLS_SESSION);
}

EPS_EXPORT int64_t eps_tls_session_to_bytes(int64_t session, uint8_t *buf, size_t len)
{
	if (buf == NULL && len != 0)
		return eps__fail(EPS_EINVAL);
	void *obj;
	EPS_GUARD(eps__handle_acquire(session, EPS_HANDLE_TLS_SESSION, &obj));
	ERR_clear_error();
	int64_t r;
	int n = i2d_SSL_SESSION(obj, NULL);
	if (n <= 0) {
		r = eps__tls_fail(EPS_ETLS, "i2d_SSL_SESSION");
	} else if (len == 0) {
		r = n;
	} else if (len < (size_t)n) {
		eps__set_detail(EPS_EBUFTOOSMALL, "the session takes %d bytes", n);
		r = -EPS_EBUFTOOSMALL;
	} else {
		unsigned char *p = buf;
		r = i2d_SSL_SESSION(obj, &p) == n ? n : eps__tls_fail(EPS_ETLS, "i2d_SSL_SESSION");
	}
	eps__handle_release(session);
	return r;
}

EPS_EXPORT int64_t eps_tls_session_from_bytes(const uint8_t *buf, size_t len)
{
	if (buf == NULL || len == 0 || len > SESSION_BYTES_MAX)
		return eps__fail(EPS_EINVAL);
	ERR_clear_error();
	const unsigned char *p = buf;
	SSL_SESSION *s = d2i_SSL_SESSION(NULL, &p, (long)len);
	if (s == NULL)
		return eps__tls_fail(EPS_EINVAL, "not a TLS session (d2i_SSL_SESSION)");
	if (p != buf + len) {
		SSL_SESSION_free(s);
		eps__set_detail(EPS_EINVAL, "bytes after the session");
		return -EPS_EINVAL;
	}
	return session_handle(s);
}

/*
 * With neither a cache nor tickets a TLS 1.3 server would still send
 * tickets that point into nothing: send none then.
 */
static void sync_num_tickets(SSL_CTX *ctx)
{
	int cache = (SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_SERVER) != 0;
	int tickets = (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) == 0;
	(void)SSL_CTX_set_num_tickets(ctx, cache || tickets ? 2 : 0);
}

EPS_EXPORT int32_t eps_tls_context_set_session_cache(int64_t ctx, int32_t on)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (c->role != EPS_TLS_ROLE_SERVER) {
		eps__set_detail(EPS_EINVAL, "a client keeps no cache: take sessions with "
					    "eps_tls_connection_get_session");
		r = -EPS_EINVAL;
	} else {
		(void)SSL_CTX_set_session_cache_mode(c->ctx, on ? SSL_SESS_CACHE_SERVER
								: SSL_SESS_CACHE_OFF);
		sync_num_tickets(c->ctx);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_session_tickets(int64_t ctx, int32_t on)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	if (on)
		SSL_CTX_clear_options(c->ctx, SSL_OP_NO_TICKET);
	else
		SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	if (c->role == EPS_TLS_ROLE_SERVER)
		sync_num_tickets(c->ctx);
	eps__tls_context_leave(ctx, c);
	return 0;
}
