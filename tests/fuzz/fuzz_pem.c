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
 *
 * Standing contexts.  Making a context costs 0.4 ms (SSL_CTX_new's
 * provider fetches) and the targets' pair 1.6 ms more (OpenSSL 3.0's key
 * decoder: 1.1 ms even for a refused key), so the three contexts the
 * loaders work on are made once: PAIR (a server holding the targets'
 * pair), BARE (a server holding nothing) and CLIENT.  Every input starts
 * on them in the same state, so an input behaves the same whatever ran
 * before it:
 *   - a refusal the library makes before it touches the context (-EBADPEM
 *     from parsing or reading, -EKEYMISMATCH, -EINVAL) leaves the context
 *     as it was; a CA file is read whole before OpenSSL adds any of it to
 *     the trust store (X509_load_cert_crl_file), so a refused one adds
 *     nothing either;
 *   - anything else marks the context changed, and after the input it is
 *     put back: PAIR's chain by loading its certificate again (which sets
 *     an empty chain), its key by loading the targets' key again, its OCSP
 *     response by setting none; a context that gained what cannot be taken
 *     back (a certificate or key on BARE or CLIENT, trust, an SNI pair) is
 *     freed and made again.
 * After every input the standing contexts it used are checked against that
 * state (PAIR's pair matches; BARE and CLIENT hold no certificate and no
 * pair), so a refusal that changed a context after all fails the run.
 *
 * EPS_FUZZ_PROFILE=1 prints, at exit, the CPU time per loader and of the
 * restores; EPS_FUZZ_TRACE=1 each input's results.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzzlib.h"

static char tmpdir[64], path[96], probe[96];
static int64_t pair_ctx, bare_ctx, client_ctx;
/* What the current input changed, put back after it. */
static int pair_chain_changed, pair_key_changed, pair_ocsp_changed, pair_remake, bare_remake,
    client_remake;
/* Which of them the current input used (only those are checked after it). */
static int used_pair, used_bare, used_client;

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
static const int32_t mismatch_codes[] = {EPS_EKEYMISMATCH, 0};
static const int32_t session_codes[] = {EPS_EINVAL, EPS_ENOMEM, 0};

/*
 * EPS_FUZZ_TRACE=1: each input's loader results on a line of stderr, to
 * check that an input alone gives what it gave in a run.
 */
static int tracing;

/* R is 0 or one of CODES (what WHAT documents); traced. */
static void expect(int64_t r, const int32_t *codes, const char *what)
{
	FZ_CHECK(is_one_of(r, codes), "%s: %s", what, eps_errname((int32_t)r));
	if (tracing)
		fprintf(stderr, " %s=%s", what, r == 0 ? "0" : eps_errname((int32_t)r));
}

/* A refusal made before the loader touched the context (see the top). */
static int left_alone(int64_t r)
{
	return r == -EPS_EBADPEM || r == -EPS_EKEYMISMATCH || r == -EPS_EINVAL;
}

/* --- profile ------------------------------------------------------------- */

static int profiling;
static const char *const prof_names[] = {"0 cert+key (bare)",
					 "1 key (pair)",
					 "2 sni pair (pair)",
					 "3 cert+key files (bare)",
					 "4 chain file (pair)",
					 "5 ca file (bare, client)",
					 "6 ocsp file (pair)",
					 "7 session",
					 "8-9 cert (client)",
					 "restore pair",
					 "remake bare",
					 "remake client",
					 "checks"};
#define PROF_N 13
#define PROF_RESTORE 9
static double prof_ns[PROF_N];
static long prof_calls[PROF_N], prof_inputs;

static double prof_t0;

static void prof_begin(void)
{
	if (profiling)
		prof_t0 = fz_thread_ns();
}

static void prof_end(int what)
{
	if (!profiling)
		return;
	double t = fz_thread_ns();
	prof_ns[what] += t - prof_t0;
	prof_calls[what]++;
	prof_t0 = t;
}

__attribute__((destructor)) static void prof_print(void)
{
	if (!profiling || prof_inputs == 0)
		return;
	double total = fz_sum(prof_ns, PROF_N);
	fprintf(stderr, "fuzz_pem profile: %ld inputs, %.1f us of CPU each\n", prof_inputs,
		total / 1e3 / (double)prof_inputs);
	for (int i = 0; i < PROF_N; i++)
		if (prof_calls[i] > 0)
			fprintf(stderr, "  %-26s %5.1f%%  %9ld times  %8.1f us each\n",
				prof_names[i], 100 * prof_ns[i] / total, prof_calls[i],
				prof_ns[i] / 1e3 / (double)prof_calls[i]);
}

/* --- the scratch file and the standing contexts --------------------------- */

static void write_file(const char *file, const uint8_t *data, size_t len)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd >= 0, "open %s", file);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		FZ_CHECK(n > 0, "write %s", file);
		off += (size_t)n;
	}
	close(fd);
}

static int64_t new_context(int32_t role)
{
	int64_t ctx = eps_tls_context_new(role, 0, 0);
	FZ_CHECK(ctx > 0, "context: %s", eps_errname((int32_t)ctx));
	return ctx;
}

static void remake(int64_t *ctx, int32_t role, int with_pair)
{
	FZ_CHECK(eps_tls_context_free(*ctx) == 0, "free");
	*ctx = with_pair ? fz_server_context() : new_context(role);
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

/*
 * A context that should hold nothing holds no certificate (a chain needs
 * one: -EINVAL once the file is read; PROBE is no chain, so a context
 * holding a certificate would refuse it with -EBADPEM, unchanged) and no
 * pair.
 */
static void check_empty(int64_t ctx, const char *name)
{
	int32_t r = eps_tls_context_use_chain_file(ctx, probe);
	FZ_CHECK(r == -EPS_EINVAL, "%s holds a certificate after an input: %s", name,
		 eps_errname(r));
	r = eps_tls_context_check_private_key(ctx);
	FZ_CHECK(r == -EPS_EBADPEM, "%s holds a pair after an input: %s", name, eps_errname(r));
}

/* Put back what the input changed (see the top), then check the state. */
static void restore(void)
{
	int32_t r;
	if (pair_remake) {
		remake(&pair_ctx, EPS_TLS_ROLE_SERVER, 1);
	} else {
		if (pair_chain_changed) {
			r = eps_tls_context_use_certificate_pem(
			    pair_ctx, (const uint8_t *)fz_cert_pem, sizeof fz_cert_pem - 1);
			FZ_CHECK(r == 0, "reloading the certificate: %s", eps_errname(r));
		}
		if (pair_key_changed) {
			r = eps_tls_context_use_private_key_pem(
			    pair_ctx, (const uint8_t *)fz_key_pem, sizeof fz_key_pem - 1);
			FZ_CHECK(r == 0, "reloading the key: %s", eps_errname(r));
		}
		if (pair_ocsp_changed) {
			r = eps_tls_context_set_ocsp_response_file(pair_ctx, NULL);
			FZ_CHECK(r == 0, "clearing the OCSP response: %s", eps_errname(r));
		}
	}
	if (pair_remake || pair_chain_changed || pair_key_changed || pair_ocsp_changed)
		prof_end(PROF_RESTORE);
	if (bare_remake) {
		remake(&bare_ctx, EPS_TLS_ROLE_SERVER, 0);
		prof_end(PROF_RESTORE + 1);
	}
	if (client_remake) {
		remake(&client_ctx, EPS_TLS_ROLE_CLIENT, 0);
		prof_end(PROF_RESTORE + 2);
	}
	pair_chain_changed = pair_key_changed = pair_ocsp_changed = pair_remake = 0;
	bare_remake = client_remake = 0;
	if (used_pair)
		check_usable(pair_ctx, 1);
	if (used_bare)
		check_empty(bare_ctx, "the bare server context");
	if (used_client)
		check_empty(client_ctx, "the client context");
	used_pair = used_bare = used_client = 0;
	prof_end(PROF_RESTORE + 3);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* tmpfs where there is one: a file on ext4 costs 15 times as much to write. */
	struct stat st;
	const char *dir =
	    stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
		? "/dev/shm"
		: "/tmp";
	snprintf(tmpdir, sizeof tmpdir, "%s/epsilon-fuzz-pem.XXXXXX", dir);
	FZ_CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp %s", tmpdir);
	snprintf(path, sizeof path, "%s/input", tmpdir);
	snprintf(probe, sizeof probe, "%s/probe", tmpdir);
	write_file(probe, (const uint8_t *)"not a chain\n", 12);
	pair_ctx = fz_server_context();
	bare_ctx = new_context(EPS_TLS_ROLE_SERVER);
	client_ctx = new_context(EPS_TLS_ROLE_CLIENT);
	profiling = getenv("EPS_FUZZ_PROFILE") != NULL;
	tracing = getenv("EPS_FUZZ_TRACE") != NULL;
	return 0;
}

__attribute__((destructor)) static void remove_files(void)
{
	if (tmpdir[0] == 0)
		return;
	(void)unlink(path);
	(void)unlink(probe);
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
	prof_inputs++;
	prof_begin();
	if (tracing)
		fprintf(stderr, "fuzz_pem: mode %d, %zu bytes:", mode % 10, len);
	switch (mode % 10) {
	case 0: { /* a certificate, then the targets' key against it */
		used_bare = 1;
		r = eps_tls_context_use_certificate_pem(bare_ctx, text, len);
		expect(r, pem_codes, "certificate");
		if (!left_alone(r))
			bare_remake = 1;
		/*
		 * After a refusal BARE is checked to hold nothing (restore), and
		 * the next input that loads a certificate shows it still works.
		 */
		if (r == 0) {
			r = eps_tls_context_use_private_key_pem(
			    bare_ctx, (const uint8_t *)fz_key_pem, sizeof fz_key_pem - 1);
			expect(r, mismatch_codes, "key");
			check_usable(bare_ctx, 0);
		}
		prof_end(0);
		break;
	}
	case 1: { /* a key into a context holding the pair: refused unless it matches */
		used_pair = 1;
		r = eps_tls_context_use_private_key_pem(pair_ctx, text, len);
		expect(r, pem_codes, "key");
		/*
		 * A key that matches has the certificate's public key, but its
		 * private half is not compared: the targets' key goes back.
		 */
		if (!left_alone(r))
			pair_key_changed = 1;
		check_usable(pair_ctx, 1);
		prof_end(1);
		break;
	}
	case 2: { /* an SNI pair: the input split in two */
		used_pair = 1;
		size_t cut = len > 0 ? text[0] * (len / 256 + 1) % (len + 1) : 0;
		r = eps_tls_context_add_server_certificate_pem(pair_ctx, NULL, text, cut,
							       text + cut, len - cut);
		expect(r, pem_codes, "sni pair");
		if (!left_alone(r))
			pair_remake = 1;
		r = eps_tls_context_add_server_certificate_pem(pair_ctx, "x.localhost", text, len,
							       (const uint8_t *)fz_key_pem,
							       sizeof fz_key_pem - 1);
		expect(r, pem_codes, "sni cert");
		if (!left_alone(r))
			pair_remake = 1;
		check_usable(pair_ctx, 1);
		prof_end(2);
		break;
	}
	case 3: { /* certificate and key files */
		used_bare = 1;
		write_file(path, text, len);
		r = eps_tls_context_use_certificate_file(bare_ctx, path);
		expect(r, pem_codes, "certificate file");
		if (!left_alone(r))
			bare_remake = 1;
		r = eps_tls_context_use_private_key_file(bare_ctx, path);
		expect(r, pem_codes, "key file");
		if (!left_alone(r))
			bare_remake = 1;
		check_usable(bare_ctx, 0);
		prof_end(3);
		break;
	}
	case 4: { /* a chain file after the pair */
		used_pair = 1;
		write_file(path, text, len);
		r = eps_tls_context_use_chain_file(pair_ctx, path);
		expect(r, chain_codes, "chain");
		if (!left_alone(r))
			pair_chain_changed = 1;
		check_usable(pair_ctx, 1);
		prof_end(4);
		break;
	}
	case 5: { /* a CA file, on both roles */
		used_bare = used_client = 1;
		write_file(path, text, len);
		r = eps_tls_context_load_ca_file(bare_ctx, path);
		expect(r, ca_codes, "ca file (server)");
		if (!left_alone(r))
			bare_remake = 1;
		r = eps_tls_context_load_ca_file(client_ctx, path);
		expect(r, ca_codes, "ca file (client)");
		if (!left_alone(r))
			client_remake = 1;
		prof_end(5);
		break;
	}
	case 6: { /* an OCSP response file */
		used_pair = 1;
		write_file(path, text, len);
		r = eps_tls_context_set_ocsp_response_file(pair_ctx, path);
		expect(r, ocsp_codes, "ocsp");
		if (!left_alone(r))
			pair_ocsp_changed = 1;
		prof_end(6);
		break;
	}
	case 7: { /* a saved session */
		int64_t s = eps_tls_session_from_bytes(text, len);
		expect(s > 0 ? 0 : s, session_codes, "session");
		if (s > 0) {
			int64_t n = eps_tls_session_to_bytes(s, NULL, 0);
			FZ_CHECK(n > 0, "session size %lld", (long long)n);
			FZ_CHECK(eps_tls_session_free(s) == 0, "session free");
		}
		prof_end(7);
		break;
	}
	default: { /* a certificate from memory on a client context (mutual TLS) */
		used_client = 1;
		r = eps_tls_context_use_certificate_pem(client_ctx, text, len);
		expect(r, pem_codes, "client certificate");
		if (!left_alone(r))
			client_remake = 1;
		prof_end(8);
		break;
	}
	}
	restore();
	if (tracing)
		fputc('\n', stderr);
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == fds0, "descriptors leaked");
	return 0;
}
