/* SPDX-License-Identifier: MIT */
/*
 * tls.c - TLS contexts over OpenSSL 3: making one, its certificate, key,
 * chain and trust, verification, and the cipher policy.
 *
 * A context's mutex serializes its configuration against SSL_new (in
 * tls_conn.c).  The handshake-time settings are tls_ext.c's and
 * tls_ocsp.c's, attached to every new SSL_CTX here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "internal.h"
#include "tls_internal.h"

_Static_assert(EPS_TLS_VERSION_1_2 == TLS1_2_VERSION, "TLS1_2_VERSION");
_Static_assert(EPS_TLS_VERSION_1_3 == TLS1_3_VERSION, "TLS1_3_VERSION");
_Static_assert(EPS_TLS_VERIFY_NONE == SSL_VERIFY_NONE, "SSL_VERIFY_NONE");
_Static_assert(EPS_TLS_VERIFY_PEER == SSL_VERIFY_PEER, "SSL_VERIFY_PEER");
_Static_assert(EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT == SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	       "SSL_VERIFY_FAIL_IF_NO_PEER_CERT");

/* --- contexts ------------------------------------------------------------ */

static void context_destroy(void *obj)
{
	struct tls_context *c = obj;
	SSL_CTX_free(c->ctx);
	free(c->cipher_list);
	eps__tls_object_free(c);
}

/*
 * The TLS 1.2 cipher list of each policy (TLS 1.3 has only AEAD suites).
 * INTERMEDIATE is Mozilla's "intermediate" profile (its TLS 1.2 list): forward
 * secret AEAD suites only, so no CBC (Lucky13) and no SHA-1 MAC; the
 * DHE-RSA ones are used only with an RSA certificate and DH parameters,
 * which a context does not set, so in practice ECDHE.  COMPATIBLE is
 * OpenSSL's own default, CBC suites included, for peers from before 2013.
 */
static const char *const policy_ciphers[] = {
    [EPS_TLS_POLICY_INTERMEDIATE] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
				    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
				    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
				    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
				    "DHE-RSA-CHACHA20-POLY1305",
    [EPS_TLS_POLICY_COMPATIBLE] = "DEFAULT",
};

static int version_ok(int32_t v)
{
	return v == 0 || v == EPS_TLS_VERSION_1_2 || v == EPS_TLS_VERSION_1_3;
}

EPS_EXPORT int64_t eps_tls_context_new(int32_t role, int32_t min_version, int32_t max_version)
{
	if (role != EPS_TLS_ROLE_CLIENT && role != EPS_TLS_ROLE_SERVER)
		return eps__fail(EPS_EINVAL);
	if (!version_ok(min_version) || !version_ok(max_version))
		return eps__fail(EPS_EINVAL);
	if (min_version == 0)
		min_version = EPS_TLS_VERSION_1_2;
	if (max_version != 0 && min_version > max_version)
		return eps__fail(EPS_EINVAL);

	struct tls_context *c = eps__tls_object_new(sizeof *c);
	if (c == NULL)
		return eps__fail(EPS_ENOMEM);
	int64_t r;
	c->role = role;
	ERR_clear_error();
	c->ctx =
	    SSL_CTX_new(role == EPS_TLS_ROLE_CLIENT ? TLS_client_method() : TLS_server_method());
	if (c->ctx == NULL) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_new");
		goto out;
	}
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					SSL_OP_CIPHER_SERVER_PREFERENCE);
	/*
	 * One record per call: the caller waits for readiness, not OpenSSL
	 * (eps_tls_connection_set_nonblocking turns it back on where it is safe).
	 */
	SSL_CTX_clear_mode(c->ctx, SSL_MODE_AUTO_RETRY);
	/*
	 * Read ahead: one recv takes a record's header, body and whatever
	 * follows, up to OpenSSL's read buffer, instead of a recv for the
	 * header and another for the body.  Bytes read ahead stay in OpenSSL,
	 * where epoll cannot see them: callers read until want-read, as an
	 * edge-triggered loop does anyway.
	 */
	SSL_CTX_set_read_ahead(c->ctx, 1);
	EPS_GUARD_OSSL(SSL_CTX_set_min_proto_version(c->ctx, min_version), EPS_ETLS,
		       "setting the lowest protocol version");
	EPS_GUARD_OSSL(SSL_CTX_set_max_proto_version(c->ctx, max_version), EPS_ETLS,
		       "setting the highest protocol version");
	EPS_GUARD_OSSL(SSL_CTX_set_cipher_list(c->ctx, policy_ciphers[EPS_TLS_POLICY_INTERMEDIATE]),
		       EPS_ETLS, "setting the cipher policy");
	SSL_CTX_set_verify(c->ctx, role == EPS_TLS_ROLE_CLIENT ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	/*
	 * A server that verifies clients refuses to resume a session from a
	 * cache without a session id context: name one always.
	 */
	if (role == EPS_TLS_ROLE_SERVER)
		EPS_GUARD_OSSL(
		    SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"epsilon", 7),
		    EPS_ETLS, "SSL_CTX_set_session_id_context");
	r = eps__tls_ext_attach(c->ctx, role);
	if (r < 0)
		goto out;
	r = eps__tls_ocsp_attach(c->ctx, role);
	if (r < 0)
		goto out;
	return eps__tls_object_publish(EPS_HANDLE_TLS_CONTEXT, c, context_destroy);
out:
	context_destroy(c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_free(int64_t ctx)
{
	return eps__handle_free(ctx, EPS_HANDLE_TLS_CONTEXT);
}

/* One loader per kind of PEM text; the context is locked. */
typedef int32_t (*pem_loader)(struct tls_context *c, const uint8_t *pem, size_t len);

static EPS_MUST_USE int32_t use_certificate(struct tls_context *c, const uint8_t *pem, size_t len)
{
	X509 *leaf;
	STACK_OF(X509) * chain;
	int32_t r = eps__tls_parse_chain(pem, len, &leaf, &chain);
	if (r < 0)
		return r;
	/* OpenSSL would silently drop a key that does not match: refuse. */
	EVP_PKEY *key = SSL_CTX_get0_privatekey(c->ctx);
	if (key != NULL)
		EPS_GUARD_OSSL(X509_check_private_key(leaf, key), EPS_EKEYMISMATCH,
			       "the loaded private key does not match the certificate");
	EPS_GUARD_OSSL(SSL_CTX_use_certificate(c->ctx, leaf), EPS_ETLS, "SSL_CTX_use_certificate");
	EPS_GUARD_OSSL(SSL_CTX_set1_chain(c->ctx, chain), EPS_ETLS, "SSL_CTX_set1_chain");
	r = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	return r;
}

static EPS_MUST_USE int32_t use_private_key(struct tls_context *c, const uint8_t *pem, size_t len)
{
	EVP_PKEY *key;
	int32_t r = eps__tls_parse_key(pem, len, &key);
	if (r < 0)
		return r;
	X509 *cert = SSL_CTX_get0_certificate(c->ctx);
	if (cert != NULL)
		EPS_GUARD_OSSL(X509_check_private_key(cert, key), EPS_EKEYMISMATCH,
			       "the private key does not match the loaded certificate");
	EPS_GUARD_OSSL(SSL_CTX_use_PrivateKey(c->ctx, key), EPS_ETLS, "SSL_CTX_use_PrivateKey");
	r = 0;
out:
	EVP_PKEY_free(key);
	return r;
}

/*
 * The intermediates sent after the leaf, replacing those of the
 * certificate file.  The first must have issued the leaf: a chain that
 * does not continue the leaf is a wrong file, which clients would refuse
 * at every handshake.
 */
static EPS_MUST_USE int32_t use_chain(struct tls_context *c, const uint8_t *pem, size_t len)
{
	X509 *leaf = SSL_CTX_get0_certificate(c->ctx);
	if (leaf == NULL) {
		eps__set_detail(EPS_EINVAL, "load the certificate before its chain");
		return -EPS_EINVAL;
	}
	STACK_OF(X509) * chain;
	EPS_GUARD(eps__tls_parse_certs(pem, len, &chain));
	int32_t r = 0;
	if (X509_check_issued(sk_X509_value(chain, 0), leaf) != X509_V_OK) {
		eps__set_detail(EPS_EBADPEM, "the chain's first certificate did not issue the leaf");
		r = -EPS_EBADPEM;
		goto out;
	}
	EPS_GUARD_OSSL(SSL_CTX_set1_chain(c->ctx, chain), EPS_ETLS, "SSL_CTX_set1_chain");
out:
	sk_X509_pop_free(chain, X509_free);
	return r;
}

static EPS_MUST_USE int32_t load_pem(int64_t ctx, const uint8_t *pem, size_t len, pem_loader load)
{
	if (pem == NULL && len != 0)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = load(c, pem != NULL ? pem : (const uint8_t *)"", len);
	eps__tls_context_leave(ctx, c);
	return r;
}

static EPS_MUST_USE int32_t load_pem_file(int64_t ctx, const char *path, pem_loader load)
{
	if (path == NULL)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	uint8_t *pem;
	size_t len;
	int32_t r = eps__tls_read_file(path, &pem, &len);
	if (r == 0) {
		r = load(c, pem, len);
		OPENSSL_cleanse(pem, len); /* it may be a private key */
		free(pem);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_use_certificate_file(int64_t ctx, const char *path)
{
	return load_pem_file(ctx, path, use_certificate);
}

EPS_EXPORT int32_t eps_tls_context_use_certificate_pem(int64_t ctx, const uint8_t *pem, size_t len)
{
	return load_pem(ctx, pem, len, use_certificate);
}

EPS_EXPORT int32_t eps_tls_context_use_private_key_file(int64_t ctx, const char *path)
{
	return load_pem_file(ctx, path, use_private_key);
}

EPS_EXPORT int32_t eps_tls_context_use_private_key_pem(int64_t ctx, const uint8_t *pem, size_t len)
{
	return load_pem(ctx, pem, len, use_private_key);
}

EPS_EXPORT int32_t eps_tls_context_use_chain_file(int64_t ctx, const char *path)
{
	return load_pem_file(ctx, path, use_chain);
}

EPS_EXPORT int32_t eps_tls_context_check_private_key(int64_t ctx)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (SSL_CTX_get0_certificate(c->ctx) == NULL || SSL_CTX_get0_privatekey(c->ctx) == NULL) {
		eps__set_detail(EPS_EBADPEM, "the context needs both a certificate and a private key");
		r = -EPS_EBADPEM;
		goto out;
	}
	EPS_GUARD_OSSL(SSL_CTX_check_private_key(c->ctx), EPS_EKEYMISMATCH,
		       "SSL_CTX_check_private_key");
out:
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_use_default_verify_paths(int64_t ctx)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	EPS_GUARD_OSSL(SSL_CTX_set_default_verify_paths(c->ctx), EPS_ETLS,
		       "SSL_CTX_set_default_verify_paths");
out:
	eps__tls_context_leave(ctx, c);
	return r;
}

/*
 * A server names the CAs it trusts in its CertificateRequest, so that a
 * client holding several certificates picks one they signed.  The list is
 * rebuilt and swapped: OpenSSL owns the one it holds.
 */
static EPS_MUST_USE int32_t add_client_ca_names(SSL_CTX *ctx, const char *path)
{
	STACK_OF(X509_NAME) *old = SSL_CTX_get_client_CA_list(ctx);
	STACK_OF(X509_NAME) *names =
	    old != NULL ? sk_X509_NAME_deep_copy(old, X509_NAME_dup, X509_NAME_free)
			: sk_X509_NAME_new_null();
	if (names == NULL)
		return eps__tls_fail(EPS_ENOMEM, "copying the client CA names");
	if (!SSL_add_file_cert_subjects_to_stack(names, path)) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		return eps__tls_fail(EPS_EBADPEM, path);
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	return 0;
}

EPS_EXPORT int32_t eps_tls_context_load_ca_file(int64_t ctx, const char *path)
{
	if (path == NULL)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	struct stat st;
	if (access(path, R_OK) != 0) {
		eps__set_detail(EPS_EBADPEM, "cannot read %s: %s", path, strerror(errno));
		r = -EPS_EBADPEM;
	} else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		/* OpenSSL would open a FIFO and wait for a writer, forever. */
		eps__set_detail(EPS_EBADPEM, "%s is not a regular file", path);
		r = -EPS_EBADPEM;
	} else {
		EPS_GUARD_OSSL(SSL_CTX_load_verify_locations(c->ctx, path, NULL), EPS_EBADPEM,
			       path);
		if (c->role == EPS_TLS_ROLE_SERVER)
			r = add_client_ca_names(c->ctx, path);
	}
out:
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_load_ca_dir(int64_t ctx, const char *path)
{
	if (path == NULL)
		return eps__fail(EPS_EINVAL);
	struct stat st;
	if (stat(path, &st) < 0)
		return EPS_ERRNO();
	if (!S_ISDIR(st.st_mode))
		return eps__fail(EPS_ENOTDIR);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	EPS_GUARD_OSSL(SSL_CTX_load_verify_locations(c->ctx, NULL, path), EPS_ETLS, path);
out:
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_verify(int64_t ctx, int32_t mode)
{
	if (mode != EPS_TLS_VERIFY_NONE && mode != EPS_TLS_VERIFY_PEER &&
	    mode != (EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT))
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (c->role == EPS_TLS_ROLE_CLIENT && (mode & EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT)) {
		eps__set_detail(EPS_EINVAL, "a server always sends a certificate: FAIL_IF_NO_PEER_CERT is "
				"for servers");
		r = -EPS_EINVAL;
	} else {
		SSL_CTX_set_verify(c->ctx, mode, NULL);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

/*
 * OpenSSL replaces the list even when nothing in it matches and then
 * reports failure: on failure the last good list goes back.  (Trying LIST
 * on a scratch SSL_CTX first costs an SSL_CTX_new, a millisecond of
 * provider fetches, per call.)  The context is locked.
 */
static EPS_MUST_USE int32_t set_cipher_list(struct tls_context *c, const char *list)
{
	const char *last = c->cipher_list != NULL ? c->cipher_list : policy_ciphers[c->policy];
	if (SSL_CTX_set_cipher_list(c->ctx, list) != 1) {
		int32_t r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_cipher_list");
		if (SSL_CTX_set_cipher_list(c->ctx, last) != 1)
			r = eps__tls_fail(EPS_ETLS, "restoring the cipher list");
		ERR_clear_error();
		return r;
	}
	return 0;
}

/* Remember LIST as the last good one (NULL: the policy's). */
static EPS_MUST_USE int32_t keep_cipher_list(struct tls_context *c, const char *list)
{
	char *copy = NULL;
	if (list != NULL && (copy = strdup(list)) == NULL) {
		/* Keep the context as it was: the last good list back in force. */
		const char *last =
		    c->cipher_list != NULL ? c->cipher_list : policy_ciphers[c->policy];
		(void)SSL_CTX_set_cipher_list(c->ctx, last);
		return eps__fail(EPS_ENOMEM);
	}
	free(c->cipher_list);
	c->cipher_list = copy;
	return 0;
}

EPS_EXPORT int32_t eps_tls_context_set_cipher_list(int64_t ctx, const char *list)
{
	if (list == NULL)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = set_cipher_list(c, list);
	if (r == 0)
		r = keep_cipher_list(c, list);
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_policy(int64_t ctx, int32_t policy)
{
	if (policy != EPS_TLS_POLICY_INTERMEDIATE && policy != EPS_TLS_POLICY_COMPATIBLE)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = set_cipher_list(c, policy_ciphers[policy]);
	if (r == 0) {
		free(c->cipher_list);
		c->cipher_list = NULL;
		c->policy = policy;
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_ciphersuites(int64_t ctx, const char *suites)
{
	if (suites == NULL)
		return eps__fail(EPS_EINVAL);
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	EPS_GUARD_OSSL(SSL_CTX_set_ciphersuites(c->ctx, suites), EPS_ETLS,
		       "SSL_CTX_set_ciphersuites");
out:
	eps__tls_context_leave(ctx, c);
	return r;
}
