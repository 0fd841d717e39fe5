/* SPDX-License-Identifier: MIT */
/*
 * tls_conn.c - TLS connections over OpenSSL 3: making one from a context,
 * the handshake, reading, writing and closing.
 *
 * A connection's SSL holds a reference to its context's SSL_CTX, so the
 * context handle can be freed first.  Calls on one connection are
 * serialized by its mutex, held for one operation (which is short when the
 * connection is non-blocking, as the Lisp layer makes it).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_internal.h"

_Static_assert(EPS_TLS_SHUTDOWN_SENT == SSL_SENT_SHUTDOWN, "SSL_SENT_SHUTDOWN");
_Static_assert(EPS_TLS_SHUTDOWN_RECEIVED == SSL_RECEIVED_SHUTDOWN, "SSL_RECEIVED_SHUTDOWN");

/* Longest DNS name (RFC 1035) or IP literal accepted as a peer name. */
#define HOSTNAME_MAX 253

/* --- connections --------------------------------------------------------- */

static void connection_destroy(void *obj)
{
	struct tls_connection *t = obj;
	SSL_free(t->ssl); /* frees the BIO; drops the SSL_CTX reference */
	eps__tls_object_free(t);
}

EPS_EXPORT int64_t eps_tls_connection_new(int64_t ctx, int32_t fd)
{
	if (fd < 0)
		return eps__fail(EPS_EBADF);
	int type;
	socklen_t tlen = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return EPS_ERRNO();
	if (type != SOCK_STREAM) {
		eps__set_detail(EPS_EINVAL, "TLS needs a stream socket");
		return -EPS_EINVAL;
	}
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int64_t r;
	struct tls_connection *t = eps__tls_object_new(sizeof *t);
	if (t == NULL) {
		eps__tls_context_leave(ctx, c);
		return eps__fail(EPS_ENOMEM);
	}
	t->role = c->role;
	t->ssl = SSL_new(c->ctx);
	eps__tls_context_leave(ctx, c);
	if (t->ssl == NULL) {
		r = eps__tls_fail(EPS_ENOMEM, "SSL_new");
		goto fail;
	}
	t->bio = eps__tls_bio_new(fd);
	if (t->bio == NULL) {
		r = eps__tls_fail(EPS_ENOMEM, "creating the socket BIO");
		goto fail;
	}
	SSL_set_bio(t->ssl, t->bio, t->bio);
	/* SBCL's GC may move the buffer between a would-block and the retry. */
	SSL_set_mode(t->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (t->role == EPS_TLS_ROLE_CLIENT) {
		SSL_set_connect_state(t->ssl);
		SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	} else {
		SSL_set_accept_state(t->ssl);
	}
	return eps__tls_object_publish(EPS_HANDLE_TLS_CONNECTION, t, connection_destroy);
fail:
	connection_destroy(t);
	return r;
}

EPS_EXPORT int32_t eps_tls_connection_free(int64_t conn)
{
	return eps__handle_free(conn, EPS_HANDLE_TLS_CONNECTION);
}

/* -ETLSCLOSED if an earlier call failed for good, else 0. */
static EPS_MUST_USE int32_t check_usable(struct tls_connection *t)
{
	if (t->failed == 0)
		return 0;
	eps__set_detail(EPS_ETLSCLOSED, "the connection failed earlier with %s", eps_errname(t->failed));
	return -EPS_ETLSCLOSED;
}

static int queue_has_reason(int reason)
{
	unsigned long e = ERR_peek_error();
	return e != 0 && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == reason;
}

/*
 * Turn the failed result RET of an SSL_ call named OP into a code.  Would
 * block and a clean close are no failure of the connection; everything
 * else is fatal and remembered.
 */
static EPS_MUST_USE int32_t ssl_result(struct tls_connection *t, int ret, const char *op)
{
	int err = SSL_get_error(t->ssl, ret);
	int sys = eps__tls_bio_take_errno(t->bio);
	int32_t code;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		ERR_clear_error();
		return eps__fail(EPS_ETLSWANTREAD);
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return eps__fail(EPS_ETLSWANTWRITE);
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		if (sys != 0) {
			eps__set_detail(sys, "%s: %s", op, strerror(sys));
			eps__tls_queue_to_detail();
			code = sys;
		} else {
			code = -eps__tls_fail(EPS_EUNEXPECTEDEOF, op);
		}
		break;
	case SSL_ERROR_SSL: {
		long v = SSL_get_verify_result(t->ssl);
		if (queue_has_reason(SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
			code = EPS_EUNEXPECTEDEOF;
		} else if (v != X509_V_OK && queue_has_reason(SSL_R_CERTIFICATE_VERIFY_FAILED)) {
			code = (v == X509_V_ERR_HOSTNAME_MISMATCH ||
				v == X509_V_ERR_IP_ADDRESS_MISMATCH)
				   ? EPS_EHOSTMISMATCH
				   : EPS_ECERTVERIFY;
		} else if (!SSL_is_init_finished(t->ssl)) {
			code = EPS_ETLSHANDSHAKE;
		} else {
			code = EPS_ETLS;
		}
		eps__set_detail(code, "%s", op);
		if (code == EPS_ECERTVERIFY || code == EPS_EHOSTMISMATCH)
			eps__append_detail("certificate verification: %s (X509_V %ld)",
					   X509_verify_cert_error_string(v), v);
		eps__tls_queue_to_detail();
		break;
	}
	default:
		code = -eps__tls_fail(EPS_ETLS, op);
		break;
	}
	t->failed = code;
	return -code;
}

EPS_EXPORT int32_t eps_tls_connection_set_nonblocking(int64_t conn, int32_t on)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	eps__tls_bio_set_dontwait(t->bio, on);
	/*
	 * Without AUTO_RETRY, SSL_read answers WANT_READ after a record with no
	 * application data (a ticket) even when more is already in the socket,
	 * and an edge-triggered caller would wait forever.  On a BIO that never
	 * sleeps, AUTO_RETRY reads on until the socket says EAGAIN, so WANT_READ
	 * is exact.  On a blocking socket it would sleep inside OpenSSL: off.
	 */
	if (on)
		SSL_set_mode(t->ssl, SSL_MODE_AUTO_RETRY);
	else
		SSL_clear_mode(t->ssl, SSL_MODE_AUTO_RETRY);
	eps__tls_connection_leave(conn, t);
	return 0;
}

EPS_EXPORT int32_t eps_tls_connection_set_hostname(int64_t conn, const char *name)
{
	if (name == NULL)
		return eps__fail(EPS_EINVAL);
	size_t len = strnlen(name, HOSTNAME_MAX + 1);
	if (len == 0 || len > HOSTNAME_MAX)
		return eps__fail(EPS_EINVAL);
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r = 0;
	unsigned char ip[16];
	if (t->role != EPS_TLS_ROLE_CLIENT) {
		eps__set_detail(EPS_EINVAL, "only a client names the server it expects");
		r = -EPS_EINVAL;
	} else if (t->started) {
		eps__set_detail(EPS_EINVAL, "the handshake has begun");
		r = -EPS_EINVAL;
	} else if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		/* RFC 6066: no SNI for an address; match the certificate's IPs. */
		EPS_GUARD_OSSL(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name),
			       EPS_ETLS, "X509_VERIFY_PARAM_set1_ip_asc");
	} else {
		EPS_GUARD_OSSL(SSL_set_tlsext_host_name(t->ssl, name), EPS_EINVAL,
			       "setting the host name (SNI)");
		EPS_GUARD_OSSL(SSL_set1_host(t->ssl, name), EPS_EINVAL, "setting the host name");
	}
out:
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int32_t eps_tls_connection_handshake(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r = check_usable(t);
	if (r == 0) {
		t->started = 1;
		int ret = SSL_do_handshake(t->ssl);
		if (ret != 1) {
			r = ssl_result(t, ret, "handshake");
			/* A close_notify in the middle of a handshake is a failure. */
			if (r == 0) {
				eps__set_detail(EPS_ETLSHANDSHAKE, "the peer closed during the handshake");
				t->failed = EPS_ETLSHANDSHAKE;
				r = -EPS_ETLSHANDSHAKE;
			}
		}
	}
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int64_t eps_tls_connection_read(int64_t conn, uint8_t *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return eps__fail(EPS_EINVAL);
	if (len > INT32_MAX)
		len = INT32_MAX;
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int64_t r = check_usable(t);
	if (r == 0) {
		t->started = 1;
		size_t got = 0;
		int ret = SSL_read_ex(t->ssl, buf, len, &got);
		r = ret == 1 ? (int64_t)got : ssl_result(t, ret, "read");
	}
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int64_t eps_tls_connection_write(int64_t conn, const uint8_t *buf, size_t len)
{
	if (buf == NULL && len != 0)
		return eps__fail(EPS_EINVAL);
	if (len > INT32_MAX)
		len = INT32_MAX;
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int64_t r = check_usable(t);
	if (r == 0 && (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
		eps__set_detail(EPS_ETLSCLOSED, "close_notify was sent: no more writes");
		r = -EPS_ETLSCLOSED;
	}
	if (r == 0 && len > 0) {
		t->started = 1;
		size_t put = 0;
		int ret = SSL_write_ex(t->ssl, buf, len, &put);
		if (ret == 1) {
			r = (int64_t)put;
		} else {
			r = ssl_result(t, ret, "write");
			if (r == 0) {
				eps__set_detail(EPS_ETLSCLOSED, "the peer closed the TLS session");
				r = -EPS_ETLSCLOSED;
			}
		}
	}
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int64_t eps_tls_connection_pending(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int64_t r = SSL_pending(t->ssl);
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int32_t eps_tls_connection_shutdown(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r = check_usable(t);
	if (r == 0 && !SSL_is_init_finished(t->ssl)) {
		eps__set_detail(EPS_EINVAL, "the handshake has not completed");
		r = -EPS_EINVAL;
	}
	if (r == 0) {
		int ret = SSL_shutdown(t->ssl);
		if (ret < 0) {
			r = ssl_result(t, ret, "shutdown");
			if (r == 0) /* cannot happen: ZERO_RETURN is not a shutdown result */
				r = SSL_get_shutdown(t->ssl);
		} else {
			r = SSL_get_shutdown(t->ssl) & (SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		}
	}
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int64_t eps_tls_connection_verify_result(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int64_t r = SSL_get_verify_result(t->ssl);
	eps__tls_connection_leave(conn, t);
	return r;
}

EPS_EXPORT int32_t eps_tls_connection_verify_result_string(int64_t conn, uint8_t *buf, size_t len)
{
	if (buf == NULL && len != 0)
		return eps__fail(EPS_EINVAL);
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	const char *s = X509_verify_cert_error_string(SSL_get_verify_result(t->ssl));
	eps__tls_connection_leave(conn, t);
	return eps__tls_copy_out(s, strlen(s), buf, len);
}

EPS_EXPORT int32_t eps_tls_connection_version(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r = SSL_is_init_finished(t->ssl) ? SSL_version(t->ssl) : 0;
	eps__tls_connection_leave(conn, t);
	return r;
}
