/* SPDX-License-Identifier: MIT */
/*
 * tls_pem.c - reading the small files a context loads (certificates, keys,
 * chains, OCSP responses) and parsing PEM text into OpenSSL's objects.
 * No context is touched here: the callers hold what they parse.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "internal.h"
#include "tls_internal.h"

/* These files are small; a bigger one is a mistake, not a certificate. */
#define FILE_MAX (4 * 1024 * 1024)

/* The password callback: keys must be unencrypted, and nobody is asked. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * For a caller, a missing certificate file and a malformed one are the
 * same mistake: both are -EBADPEM, told apart by the detail.
 */
int32_t eps__tls_read_file(const char *path, uint8_t **out, size_t *out_len)
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
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		eps__set_detail(EPS_EBADPEM, "%s is not a regular file of at most %d bytes", path, FILE_MAX);
		goto out;
	}
	size_t size = (size_t)st.st_size;
	buf = malloc(size + 1);
	if (buf == NULL) {
		r = eps__fail(EPS_ENOMEM);
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

static EPS_MUST_USE int32_t mem_bio(const uint8_t *pem, size_t len, BIO **out)
{
	if (len > INT_MAX) {
		eps__set_detail(EPS_EBADPEM, "PEM text too long");
		return -EPS_EBADPEM;
	}
	*out = BIO_new_mem_buf(pem, (int)len);
	if (*out == NULL)
		return eps__tls_fail(EPS_ENOMEM, "BIO_new_mem_buf");
	return 0;
}

/* Every certificate left in MEM, pushed onto CHAIN; -EBADPEM for a bad block. */
static EPS_MUST_USE int32_t read_certs(BIO *mem, STACK_OF(X509) * chain)
{
	for (;;) {
		X509 *x = PEM_read_bio_X509(mem, NULL, no_password, NULL);
		if (x == NULL)
			break;
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			return eps__tls_fail(EPS_ENOMEM, "sk_X509_push");
		}
	}
	/* The loop ends at end of input (no start line) or at a bad block. */
	unsigned long e = ERR_peek_last_error();
	if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
		return eps__tls_fail(EPS_EBADPEM, "malformed certificate in the chain");
	ERR_clear_error();
	return 0;
}

int32_t eps__tls_parse_chain(const uint8_t *pem, size_t len, X509 **leaf_out,
			     STACK_OF(X509) * *chain_out)
{
	BIO *mem;
	EPS_GUARD(mem_bio(pem, len, &mem));
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
	r = read_certs(mem, chain);
	if (r < 0)
		goto fail;
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

int32_t eps__tls_parse_certs(const uint8_t *pem, size_t len, STACK_OF(X509) * *certs_out)
{
	BIO *mem;
	EPS_GUARD(mem_bio(pem, len, &mem));
	int32_t r;
	STACK_OF(X509) *certs = sk_X509_new_null();
	if (certs == NULL) {
		r = eps__tls_fail(EPS_ENOMEM, "sk_X509_new_null");
		goto fail;
	}
	r = read_certs(mem, certs);
	if (r < 0)
		goto fail;
	if (sk_X509_num(certs) == 0) {
		eps__set_detail(EPS_EBADPEM, "no certificate in the PEM text");
		r = -EPS_EBADPEM;
		goto fail;
	}
	BIO_free(mem);
	*certs_out = certs;
	return 0;
fail:
	sk_X509_pop_free(certs, X509_free);
	BIO_free(mem);
	return r;
}

int32_t eps__tls_parse_key(const uint8_t *pem, size_t len, EVP_PKEY **out)
{
	BIO *mem;
	EPS_GUARD(mem_bio(pem, len, &mem));
	EVP_PKEY *key = PEM_read_bio_PrivateKey(mem, NULL, no_password, NULL);
	BIO_free(mem);
	if (key == NULL)
		return eps__tls_fail(EPS_EBADPEM, "no unencrypted private key in the PEM text");
	ERR_clear_error();
	*out = key;
	return 0;
}
