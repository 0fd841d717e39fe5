/* SPDX-License-Identifier: MIT */
/*
 * epsilon/digest.h - SHA-1 and base64 from OpenSSL, for protocols that
 * need them (the WebSocket handshake's Sec-WebSocket-Accept).
 */
#ifndef EPSILON_DIGEST_H
#define EPSILON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Sizes, for eps_sha1. */
enum eps_digest_sizes {
	EPS_SHA1_LENGTH = 20
};

/**
 * Compute the SHA-1 digest of DATA[0,LEN) into OUT, a buffer of OUTCAP
 * bytes (at least EPS_SHA1_LENGTH, 20).  DATA may be NULL when LEN is 0.
 * Returns 20, the digest's length, or -EINVAL (DATA NULL with LEN not 0,
 * OUT NULL), -EBUFTOOSMALL (OUTCAP below 20; OUT untouched) or -ETLS
 * (OpenSSL failed).
 */
int32_t eps_sha1(const uint8_t *data, size_t len, uint8_t *out, size_t outcap);

/**
 * Encode DATA[0,LEN) in base64 (RFC 4648, with = padding, no line breaks)
 * into OUT, a buffer of OUTCAP bytes that needs 4 * ceil(LEN / 3) of them
 * (no terminating NUL is written).  DATA may be NULL when LEN is 0; LEN is
 * at most 2^30.  Returns the encoded length, or -EINVAL (DATA NULL with LEN
 * not 0, OUT NULL with OUTCAP not 0, LEN above 2^30) or -EBUFTOOSMALL
 * (OUTCAP too small; OUT untouched).
 */
int64_t eps_base64_encode(const uint8_t *data, size_t len, uint8_t *out, size_t outcap);

#ifdef __cplusplus
}
#endif

#endif
