/* SPDX-License-Identifier: MIT */
/*
 * fuzzrng.h - a deterministic generator for OpenSSL (splitmix64), for the
 * TLS targets: reset before every input, it makes one side answer the same
 * input with the same bytes (random, key share, signature), so a recorded
 * flight of the other side replays and the fuzzer reaches records after a
 * completed handshake.
 */
#ifndef EPSILON_FUZZRNG_H
#define EPSILON_FUZZRNG_H

/* RAND_set_rand_method is deprecated in OpenSSL 3, and the only way in. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/rand.h>

#include "fuzzlib.h"

static uint64_t fz_rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (fz_rng_state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static int rng_bytes(unsigned char *buf, int num)
{
	for (int i = 0; i < num; i += 8) {
		uint64_t v = rng_next();
		memcpy(buf + i, &v, num - i < 8 ? (size_t)(num - i) : 8);
	}
	return 1;
}

static int rng_seed(const void *buf, int num)
{
	(void)buf;
	(void)num;
	return 1;
}

static int rng_add(const void *buf, int num, double entropy)
{
	(void)buf;
	(void)num;
	(void)entropy;
	return 1;
}

static int rng_status(void)
{
	return 1;
}

static const RAND_METHOD rng_method = {rng_seed, rng_bytes, NULL, rng_add, rng_bytes, rng_status};

/* Make OpenSSL draw from the generator, starting at SEED; before any context. */
static inline void fz_rng_install(uint64_t seed)
{
	fz_rng_state = seed;
	FZ_CHECK(RAND_set_rand_method(&rng_method) == 1, "RAND_set_rand_method");
}

#endif
