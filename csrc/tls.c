/*
 * tls.c - TLS contexts and connections over OpenSSL 3.
 *
 * Both are handles.  A connection's SSL holds a reference to its context's
 * SSL_CTX, so the context handle can be freed first.  Calls on one
 * connection are serialized by its mutex, held for one operation (which is
 * short when the connection is non-blocking, as the Lisp layer makes it).
 * A context's mutex serializes its configuration against SSL_new.
 *
 * OpenSSL's error queue is per thread: it is cleared before every SSL_ call
 * (a stale entry would change SSL_get_error's answer), and every failure
 * moves its text into the thread's detail and clears it again.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
_Static_assert(EPS_TLS_SHUTDOWN_SENT == SSL_SENT_SHUTDOWN, "SSL_SENT_SHUTDOWN");
_Static_assert(EPS_TLS_SHUTDOWN_RECEIVED == SSL_RECEIVED_SHUTDOWN, "SSL_RECEIVED_SHUTDOWN");

/* PEM files are small; a bigger one is a mistake, not a certificate. */
#define PEM_FILE_MAX (4 * 1024 * 1024)
/* Longest DNS name (RFC 1035) or IP literal accepted as a peer name. */
#define HOSTNAME_MAX 253

/* --- OpenSSL errors ------------------------------------------------------ */

/* Move the error queue's text into the detail (after WHAT) and clear it. */
static void queue_to_detail(void)
{
	unsigned long e;
	char buf[256];
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof buf);
		eps__append_detail("%s", buf);
	}
}

/* Fail with CODE: detail is WHAT and the queue's text; the queue is cleared. */
int32_t eps__tls_fail(int32_t code, const char *what)
{
	eps__set_detail(code, "%s", what);
	queue_to_detail();
	return -code;
}

/* The password callback: keys must be unencrypted, and nobody is asked. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* --- contexts ------------------------------------------------------------ */

static void context_destroy(void *obj)
{
	struct tls_context *c = obj;
	SSL_CTX_free(c->ctx);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int version_ok(int32_t v)
{
	return v == 0 || v == EPS_TLS_VERSION_1_2 || v == EPS_TLS_VERSION_1_3;
}

EPS_EXPORT int64_t eps_tls_context_new(int32_t role, int32_t min_version, int32_t max_version)
{
	if (role != EPS_TLS_ROLE_CLIENT && role != EPS_TLS_ROLE_SERVER)
		return -EPS_EINVAL;
	if (!version_ok(min_version) || !version_ok(max_version))
		return -EPS_EINVAL;
	if (min_version == 0)
		min_version = EPS_TLS_VERSION_1_2;
	if (max_version != 0 && min_version > max_version)
		return -EPS_EINVAL;

	struct tls_context *c = calloc(1, sizeof *c);
	if (c == NULL)
		return -EPS_ENOMEM;
	int64_t r;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c);
		return -EPS_ENOMEM;
	}
	c->role = role;
	ERR_clear_error();
	c->ctx =
	    SSL_CTX_new(role == EPS_TLS_ROLE_CLIENT ? TLS_client_method() : TLS_server_method());
	if (c->ctx == NULL) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_new");
		goto fail;
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
	if (!SSL_CTX_set_min_proto_version(c->ctx, min_version) ||
	    !SSL_CTX_set_max_proto_version(c->ctx, max_version)) {
		r = eps__tls_fail(EPS_ETLS, "setting the protocol versions");
		goto fail;
	}
	SSL_CTX_set_verify(c->ctx, role == EPS_TLS_ROLE_CLIENT ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
			   NULL);
	/*
	 * A server that verifies clients refuses to resume a session from a
	 * cache without a session id context: name one always.
	 */
	if (role == EPS_TLS_ROLE_SERVER &&
	    !SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"epsilon", 7)) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_session_id_context");
		goto fail;
	}
	r = eps__tls_ext_attach(c->ctx, role);
	if (r < 0)
		goto fail;
	r = eps__handle_alloc(EPS_HANDLE_TLS_CONTEXT, c, context_destroy);
	if (r < 0)
		goto fail;
	return r;
fail:
	context_destroy(c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_free(int64_t ctx)
{
	return eps__handle_free(ctx, EPS_HANDLE_TLS_CONTEXT);
}

/* Acquire CTX and lock it; pair with context_leave. */
int eps__tls_context_enter(int64_t ctx, struct tls_context **out)
{
	void *obj;
	int r = eps__handle_acquire(ctx, EPS_HANDLE_TLS_CONTEXT, &obj);
	if (r < 0)
		return r;
	struct tls_context *c = obj;
	pthread_mutex_lock(&c->lock);
	ERR_clear_error();
	*out = c;
	return 0;
}

void eps__tls_context_leave(int64_t ctx, struct tls_context *c)
{
	pthread_mutex_unlock(&c->lock);
	eps__handle_release(ctx);
}

/*
 * Read the file PATH into a fresh buffer.  Every failure is -EBADPEM with
 * the reason in the detail: for a caller, a missing certificate file and a
 * malformed one are the same mistake.
 */
int32_t eps__tls_read_pem_file(const char *path, uint8_t **out, size_t *out_len)
{
	/*
	 * O_NONBLOCK: opening a FIFO (or a tty) for reading would wait for a
	 * writer, forever; with it the open returns and fstat refuses it.
	 */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		eps__set_detail(EPS_EBADPEM, "cannot open %s: %s", path, strerror(errno));
		return -EPS_EBADPEM;
	}
	int32_t r = -EPS_EBADPEM;
	uint8_t *buf = NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > PEM_FILE_MAX) {
		eps__set_detail(EPS_EBADPEM, "%s is not a regular file of at most %d bytes", path,
				PEM_FILE_MAX);
		goto out;
	}
	size_t size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL) {
		r = -EPS_ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			eps__set_detail(EPS_EBADPEM, "cannot read %s: %s", path,
					n < 0 ? strerror(errno) : "short file");
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*out_len = size;
	buf = NULL;
	r = 0;
out:
	free(buf);
	(void)close(fd);
	return r;
}

/* The leaf, then the rest of the chain, from PEM text; -EBADPEM if none. */
int32_t eps__tls_parse_chain(const uint8_t *pem, size_t len, X509 **leaf_out,
			     STACK_OF(X509) * *chain_out)
{
	if (len > INT_MAX) {
		eps__set_detail(EPS_EBADPEM, "PEM text too long");
		return -EPS_EBADPEM;
	}
	BIO *mem = BIO_new_mem_buf(pem, (int)len);
	if (mem == NULL)
		return eps__tls_fail(EPS_ENOMEM, "BIO_new_mem_buf");
	int32_t r;
	STACK_OF(X509) *chain = NULL;
	X509 *leaf = PEM_read_bio_X509_AUX(mem, NULL, no_password, NULL);
	if (leaf == NULL) {
		r = eps__tls_fail(EPS_EBADPEM, "no certificate in the PEM text");
		goto fail;
	}
	chain = sk_X509_new_null();
	if (chain == NULL) {
		r = eps__tls_fail(EPS_ENOMEM, "sk_X509_new_null");
		goto fail;
	}
	for (;;) {
		X509 *x = PEM_read_bio_X509(mem, NULL, no_password, NULL);
		if (x == NULL)
			break;
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			r = eps__tls_fail(EPS_ENOMEM, "sk_X509_push");
			goto fail;
		}
	}
	/* The loop ends at end of input (no start line) or at a bad block. */
	unsigned long e = ERR_peek_last_error();
	if (e != 0 &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		r = eps__tls_fail(EPS_EBADPEM, "malformed certificate in the chain");
		goto fail;
	}
	ERR_clear_error();
	BIO_free(mem);
	*leaf_out = leaf;
	*chain_out = chain;
	return 0;
fail:
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	BIO_free(mem);
	return r;
}

static int32_t use_certificate(struct tls_context *c, const uint8_t *pem, size_t len)
{
	X509 *leaf;
	STACK_OF(X509) * chain;
	int32_t r = eps__tls_parse_chain(pem, len, &leaf, &chain);
	if (r < 0)
		return r;
	/* OpenSSL would silently drop a key that does not match: refuse. */
	EVP_PKEY *key = SSL_CTX_get0_privatekey(c->ctx);
	if (key != NULL && !X509_check_private_key(leaf, key)) {
		r = eps__tls_fail(EPS_EKEYMISMATCH,
				  "the loaded private key does not match the certificate");
		goto out;
	}
	if (!SSL_CTX_use_certificate(c->ctx, leaf)) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_use_certificate");
		goto out;
	}
	if (!SSL_CTX_set1_chain(c->ctx, chain)) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set1_chain");
		goto out;
	}
	r = 0;
out:
	sk_X509_pop_free(chain, X509_free);
	X509_free(leaf);
	return r;
}

int32_t eps__tls_parse_key(const uint8_t *pem, size_t len, EVP_PKEY **out)
{
	if (len > INT_MAX) {
		eps__set_detail(EPS_EBADPEM, "PEM text too long");
		return -EPS_EBADPEM;
	}
	BIO *mem = BIO_new_mem_buf(pem, (int)len);
	if (mem == NULL)
		return eps__tls_fail(EPS_ENOMEM, "BIO_new_mem_buf");
	EVP_PKEY *key = PEM_read_bio_PrivateKey(mem, NULL, no_password, NULL);
	BIO_free(mem);
	if (key == NULL)
		return eps__tls_fail(EPS_EBADPEM, "no unencrypted private key in the PEM text");
	ERR_clear_error();
	*out = key;
	return 0;
}

static int32_t use_private_key(struct tls_context *c, const uint8_t *pem, size_t len)
{
	EVP_PKEY *key;
	int32_t r = eps__tls_parse_key(pem, len, &key);
	if (r < 0)
		return r;
	X509 *cert = SSL_CTX_get0_certificate(c->ctx);
	if (cert != NULL && !X509_check_private_key(cert, key)) {
		r = eps__tls_fail(EPS_EKEYMISMATCH,
				  "the private key does not match the loaded certificate");
		goto out;
	}
	if (!SSL_CTX_use_PrivateKey(c->ctx, key)) {
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_use_PrivateKey");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(key);
	return r;
}

typedef int32_t (*pem_loader)(struct tls_context *c, const uint8_t *pem, size_t len);

static int32_t load_pem(int64_t ctx, const uint8_t *pem, size_t len, pem_loader load)
{
	if (pem == NULL && len != 0)
		return -EPS_EINVAL;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = load(c, pem != NULL ? pem : (const uint8_t *)"", len);
	eps__tls_context_leave(ctx, c);
	return r;
}

static int32_t load_pem_file(int64_t ctx, const char *path, pem_loader load)
{
	if (path == NULL)
		return -EPS_EINVAL;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	uint8_t *pem;
	size_t len;
	int32_t r = eps__tls_read_pem_file(path, &pem, &len);
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

EPS_EXPORT int32_t eps_tls_context_check_private_key(int64_t ctx)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (SSL_CTX_get0_certificate(c->ctx) == NULL || SSL_CTX_get0_privatekey(c->ctx) == NULL) {
		eps__set_detail(EPS_EBADPEM,
				"the context needs both a certificate and a private key");
		r = -EPS_EBADPEM;
	} else if (!SSL_CTX_check_private_key(c->ctx)) {
		r = eps__tls_fail(EPS_EKEYMISMATCH, "SSL_CTX_check_private_key");
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_use_default_verify_paths(int64_t ctx)
{
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (!SSL_CTX_set_default_verify_paths(c->ctx))
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_default_verify_paths");
	eps__tls_context_leave(ctx, c);
	return r;
}

/*
 * A server names the CAs it trusts in its CertificateRequest, so that a
 * client holding several certificates picks one they signed.  The list is
 * rebuilt and swapped: OpenSSL owns the one it holds.
 */
static int32_t add_client_ca_names(SSL_CTX *ctx, const char *path)
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
		return -EPS_EINVAL;
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
	} else if (!SSL_CTX_load_verify_locations(c->ctx, path, NULL)) {
		r = eps__tls_fail(EPS_EBADPEM, path);
	} else if (c->role == EPS_TLS_ROLE_SERVER) {
		r = add_client_ca_names(c->ctx, path);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_load_ca_dir(int64_t ctx, const char *path)
{
	if (path == NULL)
		return -EPS_EINVAL;
	struct stat st;
	if (stat(path, &st) < 0)
		return EPS_ERRNO();
	if (!S_ISDIR(st.st_mode))
		return -EPS_ENOTDIR;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (!SSL_CTX_load_verify_locations(c->ctx, NULL, path))
		r = eps__tls_fail(EPS_ETLS, path);
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_verify(int64_t ctx, int32_t mode)
{
	if (mode != EPS_TLS_VERIFY_NONE && mode != EPS_TLS_VERIFY_PEER &&
	    mode != (EPS_TLS_VERIFY_PEER | EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT))
		return -EPS_EINVAL;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (c->role == EPS_TLS_ROLE_CLIENT && (mode & EPS_TLS_VERIFY_FAIL_IF_NO_PEER_CERT)) {
		eps__set_detail(EPS_EINVAL,
				"a server always sends a certificate: FAIL_IF_NO_PEER_CERT is "
				"for servers");
		r = -EPS_EINVAL;
	} else {
		SSL_CTX_set_verify(c->ctx, mode, NULL);
	}
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_cipher_list(int64_t ctx, const char *list)
{
	if (list == NULL)
		return -EPS_EINVAL;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	/*
	 * OpenSSL replaces the list even when nothing in it matches and then
	 * reports failure: try it on a scratch context first.
	 */
	SSL_CTX *scratch = SSL_CTX_new(TLS_method());
	if (scratch == NULL)
		r = eps__tls_fail(EPS_ENOMEM, "SSL_CTX_new");
	else if (!SSL_CTX_set_cipher_list(scratch, list))
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_cipher_list");
	else if (!SSL_CTX_set_cipher_list(c->ctx, list))
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_cipher_list");
	SSL_CTX_free(scratch);
	eps__tls_context_leave(ctx, c);
	return r;
}

EPS_EXPORT int32_t eps_tls_context_set_ciphersuites(int64_t ctx, const char *suites)
{
	if (suites == NULL)
		return -EPS_EINVAL;
	struct tls_context *c;
	EPS_GUARD(eps__tls_context_enter(ctx, &c));
	int32_t r = 0;
	if (!SSL_CTX_set_ciphersuites(c->ctx, suites))
		r = eps__tls_fail(EPS_ETLS, "SSL_CTX_set_ciphersuites");
	eps__tls_context_leave(ctx, c);
	return r;
}

/* --- connections --------------------------------------------------------- */

static void connection_destroy(void *obj)
{
	struct tls_connection *t = obj;
	SSL_free(t->ssl); /* frees the BIO; drops the SSL_CTX reference */
	pthread_mutex_destroy(&t->lock);
	free(t);
}

EPS_EXPORT int64_t eps_tls_connection_new(int64_t ctx, int32_t fd)
{
	if (fd < 0)
		return -EPS_EBADF;
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
	struct tls_connection *t = calloc(1, sizeof *t);
	if (t == NULL) {
		eps__tls_context_leave(ctx, c);
		return -EPS_ENOMEM;
	}
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		eps__tls_context_leave(ctx, c);
		return -EPS_ENOMEM;
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
	r = eps__handle_alloc(EPS_HANDLE_TLS_CONNECTION, t, connection_destroy);
	if (r < 0)
		goto fail;
	return r;
fail:
	connection_destroy(t);
	return r;
}

EPS_EXPORT int32_t eps_tls_connection_free(int64_t conn)
{
	return eps__handle_free(conn, EPS_HANDLE_TLS_CONNECTION);
}

/* Acquire CONN and lock it; pair with connection_leave. */
int eps__tls_connection_enter(int64_t conn, struct tls_connection **out)
{
	void *obj;
	int r = eps__handle_acquire(conn, EPS_HANDLE_TLS_CONNECTION, &obj);
	if (r < 0)
		return r;
	struct tls_connection *t = obj;
	pthread_mutex_lock(&t->lock);
	ERR_clear_error();
	(void)eps__tls_bio_take_errno(t->bio);
	*out = t;
	return 0;
}

void eps__tls_connection_leave(int64_t conn, struct tls_connection *t)
{
	pthread_mutex_unlock(&t->lock);
	eps__handle_release(conn);
}

/* -ETLSCLOSED if an earlier call failed for good, else 0. */
static int32_t check_usable(struct tls_connection *t)
{
	if (t->failed == 0)
		return 0;
	eps__set_detail(EPS_ETLSCLOSED, "the connection failed earlier with %s",
			eps_errname(t->failed));
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
static int32_t ssl_result(struct tls_connection *t, int ret, const char *op)
{
	int err = SSL_get_error(t->ssl, ret);
	int sys = eps__tls_bio_take_errno(t->bio);
	int32_t code;
	switch (err) {
	case SSL_ERROR_WANT_READ:
		ERR_clear_error();
		return -EPS_ETLSWANTREAD;
	case SSL_ERROR_WANT_WRITE:
		ERR_clear_error();
		return -EPS_ETLSWANTWRITE;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_SYSCALL:
		if (sys != 0) {
			eps__set_detail(sys, "%s: %s", op, strerror(sys));
			queue_to_detail();
			code = sys;
		} else {
			(void)eps__tls_fail(EPS_EUNEXPECTEDEOF, op);
			code = EPS_EUNEXPECTEDEOF;
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
		queue_to_detail();
		break;
	}
	default:
		(void)eps__tls_fail(EPS_ETLS, op);
		code = EPS_ETLS;
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
		return -EPS_EINVAL;
	size_t len = strnlen(name, HOSTNAME_MAX + 1);
	if (len == 0 || len > HOSTNAME_MAX)
		return -EPS_EINVAL;
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
		if (!X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name))
			r = eps__tls_fail(EPS_ETLS, "X509_VERIFY_PARAM_set1_ip_asc");
	} else if (!SSL_set_tlsext_host_name(t->ssl, name) || !SSL_set1_host(t->ssl, name)) {
		r = eps__tls_fail(EPS_EINVAL, "setting the host name");
	}
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
				eps__set_detail(EPS_ETLSHANDSHAKE,
						"the peer closed during the handshake");
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
		return -EPS_EINVAL;
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
		return -EPS_EINVAL;
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

int32_t eps__tls_copy_out(const char *s, size_t n, uint8_t *buf, size_t len)
{
	if (len > 0) {
		size_t k = n < len - 1 ? n : len - 1;
		if (k > 0) /* S may be NULL when N is 0 (an empty memory BIO) */
			memcpy(buf, s, k);
		buf[k] = '\0';
	}
	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

EPS_EXPORT int32_t eps_tls_connection_verify_result_string(int64_t conn, uint8_t *buf, size_t len)
{
	if (buf == NULL && len != 0)
		return -EPS_EINVAL;
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
