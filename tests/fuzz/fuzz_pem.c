/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pem - the loaders of certificates, keys, chains, CA files, OCSP
 * responses and saved sessions, given arbitrary bytes: what a wrong or
 * hostile file on disk can do.
 *
 * The first byte picks the loader; the rest is the text (from memory, or
 * written to a scratch file for the file loaders).  A loader that needs a
 * certificate already loaded (the chain, a key check) gets the targets'
 * own pair first.  What must hold: each call returns 0 or one of the codes
 * its documentation names; a context that refused a file still works (its
 * certificate and key still match when they were loaded); no handle, no
 * descriptor and no memory outlives the input.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzzlib.h"

static char tmpdir[64], path[96];

static int is_one_of(int64_t r, const int32_t *codes)
{
	if (r == 0)
		return 1;
	for (; *codes != 0; codes++)
		if (r == -*codes)
			return 1;
	return 0;
}

static const int32_t pem_codes[] = {EPS_EBADPEM, EPS_EKEYMISMATCH, EPS_ENOMEM, EPS_ETLS, 0};
static const int32_t ca_codes[] = {EPS_EBADPEM, EPS_ENOMEM, EPS_ETLS, 0};
static const int32_t chain_codes[] = {EPS_EBADPEM, EPS_ENOMEM, EPS_ETLS, EPS_EINVAL, 0};
static const int32_t ocsp_codes[] = {EPS_EBADPEM, EPS_ENOMEM, 0};

static void write_file(const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd >= 0, "open %s", path);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		FZ_CHECK(n > 0, "write %s", path);
		off += (size_t)n;
	}
	close(fd);
}

static int64_t new_server(int with_pair)
{
	if (with_pair)
		return fz_server_context();
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	FZ_CHECK(ctx > 0, "context: %s", eps_errname((int32_t)ctx));
	return ctx;
}

/* The context still works: if it holds a pair, the pair matches. */
static void check_usable(int64_t ctx, int pair_loaded)
{
	int32_t r = eps_tls_context_check_private_key(ctx);
	if (pair_loaded)
		FZ_CHECK(r == 0, "the loaded pair no longer matches: %s", eps_errname(r));
	else
		FZ_CHECK(r == 0 || r == -EPS_EBADPEM || r == -EPS_EKEYMISMATCH, "check %s",
			 eps_errname(r));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/epsilon-fuzz-pem.XXXXXX");
	FZ_CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
	snprintf(path, sizeof path, "%s/input", tmpdir);
	return 0;
}

__attribute__((destructor)) static void remove_files(void)
{
	if (tmpdir[0] == 0)
		return;
	(void)unlink(path);
	(void)rmdir(tmpdir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	int64_t fds0 = eps_fds_open();
	uint8_t mode = data[0];
	const uint8_t *text = data + 1;
	size_t len = size - 1;
	int64_t r;
	switch (mode % 10) {
	case 0: { /* a certificate, then the targets' key against it */
		int64_t ctx = new_server(0);
		r = eps_tls_context_use_certificate_pem(ctx, text, len);
		FZ_CHECK(is_one_of(r, pem_codes), "certificate: %s", eps_errname((int32_t)r));
		r = eps_tls_context_use_private_key_pem(ctx, (const uint8_t *)fz_key_pem,
							sizeof fz_key_pem - 1);
		FZ_CHECK(r == 0 || r == -EPS_EKEYMISMATCH, "key: %s", eps_errname((int32_t)r));
		check_usable(ctx, 0);
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 1: { /* a key into a context holding the pair: refused unless it matches */
		int64_t ctx = new_server(1);
		r = eps_tls_context_use_private_key_pem(ctx, text, len);
		FZ_CHECK(is_one_of(r, pem_codes), "key: %s", eps_errname((int32_t)r));
		check_usable(ctx, 1);
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 2: { /* an SNI pair: the input split in two */
		int64_t ctx = new_server(1);
		size_t cut = len > 0 ? text[0] * (len / 256 + 1) % (len + 1) : 0;
		r = eps_tls_context_add_server_certificate_pem(ctx, NULL, text, cut, text + cut,
							       len - cut);
		FZ_CHECK(is_one_of(r, pem_codes), "sni pair: %s", eps_errname((int32_t)r));
		r = eps_tls_context_add_server_certificate_pem(ctx, "x.localhost", text, len,
							       (const uint8_t *)fz_key_pem,
							       sizeof fz_key_pem - 1);
		FZ_CHECK(is_one_of(r, pem_codes), "sni cert: %s", eps_errname((int32_t)r));
		check_usable(ctx, 1);
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 3: { /* certificate and key files */
		write_file(text, len);
		int64_t ctx = new_server(0);
		r = eps_tls_context_use_certificate_file(ctx, path);
		FZ_CHECK(is_one_of(r, pem_codes), "certificate file: %s", eps_errname((int32_t)r));
		r = eps_tls_context_use_private_key_file(ctx, path);
		FZ_CHECK(is_one_of(r, pem_codes), "key file: %s", eps_errname((int32_t)r));
		check_usable(ctx, 0);
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 4: { /* a chain file after the pair */
		write_file(text, len);
		int64_t ctx = new_server(1);
		r = eps_tls_context_use_chain_file(ctx, path);
		FZ_CHECK(is_one_of(r, chain_codes), "chain: %s", eps_errname((int32_t)r));
		check_usable(ctx, 1);
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 5: { /* a CA file, on both roles */
		write_file(text, len);
		int64_t ctx = new_server(1);
		r = eps_tls_context_load_ca_file(ctx, path);
		FZ_CHECK(is_one_of(r, ca_codes), "ca file (server): %s", eps_errname((int32_t)r));
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, 0);
		FZ_CHECK(ctx > 0, "client context");
		r = eps_tls_context_load_ca_file(ctx, path);
		FZ_CHECK(is_one_of(r, ca_codes), "ca file (client): %s", eps_errname((int32_t)r));
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 6: { /* an OCSP response file */
		write_file(text, len);
		int64_t ctx = new_server(1);
		r = eps_tls_context_set_ocsp_response_file(ctx, path);
		FZ_CHECK(is_one_of(r, ocsp_codes), "ocsp: %s", eps_errname((int32_t)r));
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	case 7: { /* a saved session */
		int64_t s = eps_tls_session_from_bytes(text, len);
		FZ_CHECK(s > 0 || s == -EPS_EINVAL || s == -EPS_ENOMEM, "session: %s",
			 eps_errname((int32_t)s));
		if (s > 0) {
			int64_t n = eps_tls_session_to_bytes(s, NULL, 0);
			FZ_CHECK(n > 0, "session size %lld", (long long)n);
			FZ_CHECK(eps_tls_session_free(s) == 0, "session free");
		}
		break;
	}
	default: { /* a certificate from memory on a client context (mutual TLS) */
		int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_CLIENT, 0, 0);
		FZ_CHECK(ctx > 0, "client context");
		r = eps_tls_context_use_certificate_pem(ctx, text, len);
		FZ_CHECK(is_one_of(r, pem_codes), "client certificate: %s",
			 eps_errname((int32_t)r));
		FZ_CHECK(eps_tls_context_free(ctx) == 0, "free");
		break;
	}
	}
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == fds0, "descriptors leaked");
	return 0;
}
