/* SPDX-License-Identifier: MIT */
/*
 * fuzzlib.h - what the libFuzzer targets share: a reader that turns the
 * input into numbers, lengths and byte strings, an invariant check that
 * aborts (libFuzzer reports an abort as a crash, with the input), and the
 * test certificate the TLS targets serve.
 *
 * The reader never fails: past the end of the input every number is 0 and
 * every byte string empty, so any input decodes into some call sequence.
 */
#ifndef EPSILON_FUZZLIB_H
#define EPSILON_FUZZLIB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* This thread's CPU time in ns: what the EPS_FUZZ_PROFILE figures count. */
static inline double fz_thread_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The sum of a profile's N figures. */
static inline double fz_sum(const double *v, int n)
{
	double total = 0;
	for (int i = 0; i < n; i++)
		total += v[i];
	return total;
}

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline int fz_empty(const struct fz *f)
{
	return f->n == 0;
}

static inline uint8_t fz_u8(struct fz *f)
{
	if (f->n == 0)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v = fz_u8(f);
	return (uint16_t)(v | fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v = fz_u16(f);
	return v | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v = fz_u32(f);
	return v | (uint64_t)fz_u32(f) << 32;
}

/* A value in 0..n-1 (n > 0). */
static inline uint32_t fz_pick(struct fz *f, uint32_t n)
{
	return n <= 256 ? fz_u8(f) % n : fz_u16(f) % n;
}

/* Up to MAX bytes of the input, the count read first; *LEN gets the count. */
static inline const uint8_t *fz_bytes(struct fz *f, size_t max, size_t *len)
{
	size_t want = max <= 255 ? fz_u8(f) : fz_u16(f);
	if (want > max)
		want = want % (max + 1);
	if (want > f->n)
		want = f->n;
	const uint8_t *p = f->p;
	f->p += want;
	f->n -= want;
	*len = want;
	return p;
}

/* Up to MAX-1 bytes of the input as a NUL-terminated string in BUF (MAX bytes). */
static inline char *fz_string(struct fz *f, char *buf, size_t max)
{
	size_t len;
	const uint8_t *p = fz_bytes(f, max - 1, &len);
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

/*
 * A length: mostly one that fits CAP (the real buffer's size), sometimes
 * one the library must refuse before touching memory (above 2^31-1).
 */
static inline size_t fz_len(struct fz *f, size_t cap)
{
	switch (fz_u8(f) & 7) {
	case 0:
		return 0;
	case 1:
		return cap;
	case 2:
		return (size_t)INT32_MAX + 1;
	case 3:
		return SIZE_MAX;
	default:
		return cap ? fz_u16(f) % (cap + 1) : 0;
	}
}

/* An int32 with the edge values likely. */
static inline int32_t fz_i32(struct fz *f)
{
	switch (fz_u8(f) & 7) {
	case 0:
		return 0;
	case 1:
		return -1;
	case 2:
		return INT32_MIN;
	case 3:
		return INT32_MAX;
	case 4:
		return fz_u8(f);
	default:
		return (int32_t)fz_u32(f);
	}
}

/* An invariant of the library: a violation is a bug, reported as a crash. */
#define FZ_CHECK(cond, ...)                                                                  \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, \
				#cond);                                                      \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* A result that is a success or a negative code the library knows. */
#define FZ_CHECK_CODE(r)                                                                     \
	do {                                                                                 \
		int64_t fz_r_ = (r);                                                         \
		FZ_CHECK(fz_r_ >= 0 || strcmp(eps_errname((int32_t)fz_r_), "EUNKNOWN") != 0, \
			 "%s returned %lld, not a known code", #r, (long long)fz_r_);        \
	} while (0)

/*
 * The targets' server certificate: EC P-256 (cheap handshakes), CN and
 * subjectAltName localhost / 127.0.0.1, valid until 2126.  Made once with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes
 *     -days 36500 -subj /CN=localhost
 *     -addext subjectAltName=DNS:localhost,IP:127.0.0.1
 */
static const char fz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7mn5smqj4LKCpCsT\n"
    "6EMnuDMsOa4VmViKAK2LbqBVnDShRANCAAR/ipMf45C8r7AFzXYlzuM+ztf3x+ow\n"
    "QlYMUKo5xJJtngWhts3vhWK8rDkDsEe4VZFgy3zR93Iv1QzmGv0lMGrb\n"
    "-----END PRIVATE KEY-----\n";

static const char fz_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBmzCCAUGgAwIBAgIUZvkO+x3/gU8mIm7WQnWMd/64JKgwCgYIKoZIzj0EAwIw\n"
    "FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMzEyNDY1NVoYDzIxMjYxMDMw\n"
    "MTI0NjU1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO\n"
    "PQMBBwNCAAR/ipMf45C8r7AFzXYlzuM+ztf3x+owQlYMUKo5xJJtngWhts3vhWK8\n"
    "rDkDsEe4VZFgy3zR93Iv1QzmGv0lMGrbo28wbTAdBgNVHQ4EFgQUQ1oBW+u9bWyb\n"
    "Di8TcoCeVXPREjgwHwYDVR0jBBgwFoAUQ1oBW+u9bWybDi8TcoCeVXPREjgwDwYD\n"
    "VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI\n"
    "zj0EAwIDSAAwRQIgEF2Ap/EM+NbTE56x9fgWi1mX5hUhld1B1elLgKi8FRYCIQDP\n"
    "Gcf8bgvdxMxoaTtSnYJAPP3neL+ybEEIHrfqNdErHQ==\n"
    "-----END CERTIFICATE-----\n";

/* A server context with the certificate above, or abort. */
static inline int64_t fz_server_context(void)
{
	int64_t ctx = eps_tls_context_new(EPS_TLS_ROLE_SERVER, 0, 0);
	FZ_CHECK(ctx > 0, "eps_tls_context_new: %s", eps_errname((int32_t)ctx));
	int32_t r = eps_tls_context_use_certificate_pem(ctx, (const uint8_t *)fz_cert_pem,
							sizeof fz_cert_pem - 1);
	FZ_CHECK(r == 0, "certificate: %s", eps_errname(r));
	r = eps_tls_context_use_private_key_pem(ctx, (const uint8_t *)fz_key_pem,
						sizeof fz_key_pem - 1);
	FZ_CHECK(r == 0, "key: %s", eps_errname(r));
	return ctx;
}

#endif
