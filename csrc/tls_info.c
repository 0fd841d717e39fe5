/* SPDX-License-Identifier: MIT */
/*
 * tls_info.c - what a connection reports once its handshake is done: the
 * cipher, ALPN protocol, SNI name, resumption, and the peer certificate's
 * names, fingerprint and validity.  Texts are copied into caller buffers
 * like snprintf (the full length is returned; call again with a bigger
 * buffer when it did not fit); -ENOENT says "nothing of the kind".
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_internal.h"

/*
 * The flags `openssl x509 -subject` uses by default (OpenSSL 3): "O = Acme,
 * CN = example", UTF-8 kept, control characters escaped.
 */
#define NAME_FLAGS                                                                        \
	(XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_SPC_EQ | XN_FLAG_FN_SN | ASN1_STRFLGS_ESC_CTRL | \
	 ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN | ASN1_STRFLGS_DUMP_DER)

/* Produce a connection's text into a memory BIO; -code on failure. */
typedef int32_t (*info_fn)(struct tls_connection *t, BIO *out);

static EPS_MUST_USE int32_t info_text(int64_t conn, uint8_t *buf, size_t len, info_fn fn)
{
	if (buf == NULL && len != 0)
		return eps__fail(EPS_EINVAL);
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r;
	BIO *mem = BIO_new(BIO_s_mem());
	if (mem == NULL) {
		r = eps__tls_fail(EPS_ENOMEM, "BIO_new");
	} else {
		r = fn(t, mem);
		if (r == 0) {
			char *data;
			long n = BIO_get_mem_data(mem, &data);
			r = eps__tls_copy_out(data, n > 0 ? (size_t)n : 0, buf, len);
		}
		BIO_free(mem);
	}
	ERR_clear_error();
	eps__tls_connection_leave(conn, t);
	return r;
}

static EPS_MUST_USE int32_t absent(const char *what)
{
	eps__set_detail(EPS_ENOENT, "%s", what);
	return -EPS_ENOENT;
}

static EPS_MUST_USE int32_t put(BIO *out, const void *data, size_t n)
{
	if (n > 0 && BIO_write(out, data, (int)n) != (int)n)
		return eps__tls_fail(EPS_ENOMEM, "BIO_write");
	return 0;
}

static int32_t cipher_fn(struct tls_connection *t, BIO *out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
	if (!SSL_is_init_finished(t->ssl) || c == NULL)
		return absent("the handshake has not completed");
	const char *name = SSL_CIPHER_get_name(c);
	return put(out, name, strlen(name));
}

EPS_EXPORT int32_t eps_tls_connection_cipher(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, cipher_fn);
}

static int32_t alpn_fn(struct tls_connection *t, BIO *out)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;
	SSL_get0_alpn_selected(t->ssl, &p, &n);
	if (n == 0)
		return absent("no ALPN protocol was negotiated");
	return put(out, p, n);
}

EPS_EXPORT int32_t eps_tls_connection_alpn_protocol(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, alpn_fn);
}

static int32_t server_name_fn(struct tls_connection *t, BIO *out)
{
	const char *name = SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return absent("no server name (SNI)");
	return put(out, name, strlen(name));
}

EPS_EXPORT int32_t eps_tls_connection_server_name(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, server_name_fn);
}

EPS_EXPORT int32_t eps_tls_connection_session_reused(int64_t conn)
{
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	int32_t r = SSL_is_init_finished(t->ssl) && SSL_session_reused(t->ssl) ? 1 : 0;
	eps__tls_connection_leave(conn, t);
	return r;
}

/* --- the peer certificate ------------------------------------------------ */

static EPS_MUST_USE int32_t peer(struct tls_connection *t, X509 **out)
{
	X509 *x = SSL_get0_peer_certificate(t->ssl);
	if (x == NULL)
		return absent("the peer sent no certificate (or the handshake has not "
			      "completed)");
	*out = x;
	return 0;
}

static EPS_MUST_USE int32_t print_name(BIO *out, const X509_NAME *name)
{
	if (X509_NAME_print_ex(out, name, 0, NAME_FLAGS) < 0)
		return eps__tls_fail(EPS_ETLS, "X509_NAME_print_ex");
	return 0;
}

static int32_t subject_fn(struct tls_connection *t, BIO *out)
{
	X509 *x;
	EPS_GUARD(peer(t, &x));
	return print_name(out, X509_get_subject_name(x));
}

static int32_t issuer_fn(struct tls_connection *t, BIO *out)
{
	X509 *x;
	EPS_GUARD(peer(t, &x));
	return print_name(out, X509_get_issuer_name(x));
}

static int32_t alt_names_fn(struct tls_connection *t, BIO *out)
{
	X509 *x;
	EPS_GUARD(peer(t, &x));
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names == NULL)
		return absent("the peer certificate has no subject alternative names");
	int32_t r = 0;
	int lines = 0;
	for (int i = 0; r == 0 && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const char *tag = NULL;
		const ASN1_STRING *s = NULL;
		char ip[INET6_ADDRSTRLEN] = "";
		switch (g->type) {
		case GEN_DNS:
			tag = "DNS:";
			s = g->d.dNSName;
			break;
		case GEN_EMAIL:
			tag = "email:";
			s = g->d.rfc822Name;
			break;
		case GEN_URI:
			tag = "URI:";
			s = g->d.uniformResourceIdentifier;
			break;
		case GEN_IPADD: {
			int n = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);
			if ((n == 4 && inet_ntop(AF_INET, a, ip, sizeof ip) != NULL) ||
			    (n == 16 && inet_ntop(AF_INET6, a, ip, sizeof ip) != NULL))
				tag = "IP:";
			break;
		}
		default:
			break;
		}
		if (tag == NULL)
			continue;
		if (lines++ > 0)
			r = put(out, "\n", 1);
		if (r == 0)
			r = put(out, tag, strlen(tag));
		if (r == 0 && s != NULL)
			r = put(out, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
		else if (r == 0)
			r = put(out, ip, strlen(ip));
	}
	GENERAL_NAMES_free(names);
	if (r == 0 && lines == 0)
		r = absent("the peer certificate has no DNS, IP, email or URI names");
	return r;
}

static int32_t fingerprint_fn(struct tls_connection *t, BIO *out)
{
	X509 *x;
	EPS_GUARD(peer(t, &x));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EPS_ENSURE_OSSL(X509_digest(x, EVP_sha256(), md, &n), EPS_ETLS, "X509_digest");
	char hex[3 * EVP_MAX_MD_SIZE];
	static const char digits[] = "0123456789ABCDEF";
	for (unsigned int i = 0; i < n; i++) {
		hex[3 * i] = digits[md[i] >> 4];
		hex[3 * i + 1] = digits[md[i] & 15];
		hex[3 * i + 2] = ':';
	}
	return put(out, hex, n > 0 ? 3 * n - 1 : 0);
}

static int32_t pem_fn(struct tls_connection *t, BIO *out)
{
	X509 *x;
	EPS_GUARD(peer(t, &x));
	EPS_ENSURE_OSSL(PEM_write_bio_X509(out, x), EPS_ENOMEM, "PEM_write_bio_X509");
	return 0;
}

EPS_EXPORT int32_t eps_tls_connection_peer_subject(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, subject_fn);
}

EPS_EXPORT int32_t eps_tls_connection_peer_issuer(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, issuer_fn);
}

EPS_EXPORT int32_t eps_tls_connection_peer_alt_names(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, alt_names_fn);
}

EPS_EXPORT int32_t eps_tls_connection_peer_fingerprint(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, fingerprint_fn);
}

EPS_EXPORT int32_t eps_tls_connection_peer_certificate_pem(int64_t conn, uint8_t *buf, size_t len)
{
	return info_text(conn, buf, len, pem_fn);
}

static EPS_MUST_USE int32_t unix_time(const ASN1_TIME *at, int64_t *out)
{
	struct tm tm;
	if (at == NULL || !ASN1_TIME_to_tm(at, &tm))
		return eps__tls_fail(EPS_ETLS, "a malformed validity date");
	*out = (int64_t)timegm(&tm);
	return 0;
}

EPS_EXPORT int32_t eps_tls_connection_peer_validity(int64_t conn, int64_t *not_before,
						    int64_t *not_after)
{
	if (not_before == NULL || not_after == NULL)
		return eps__fail(EPS_EINVAL);
	struct tls_connection *t;
	EPS_GUARD(eps__tls_connection_enter(conn, &t));
	X509 *x;
	int64_t nb = 0, na = 0;
	int32_t r = peer(t, &x);
	if (r == 0)
		r = unix_time(X509_get0_notBefore(x), &nb);
	if (r == 0)
		r = unix_time(X509_get0_notAfter(x), &na);
	ERR_clear_error();
	eps__tls_connection_leave(conn, t);
	if (r == 0) {
		*not_before = nb;
		*not_after = na;
	}
	return r;
}
