/* SPDX-License-Identifier: MIT */
/*
 * digest.c - SHA-1 and base64 through OpenSSL's EVP interface (SHA1() is
 * deprecated in OpenSSL 3).
 */
#include <string.h>

#include <openssl/evp.h>

#include <epsilon/digest.h>
#include <epsilon/errors.h>

#include "internal.h"

_Static_assert(EPS_SHA1_LENGTH == 20, "SHA-1 digests are 20 bytes");

EPS_EXPORT int32_t eps_sha1(const uint8_t *data, size_t len, uint8_t *out, size_t outcap)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EPS_ENSURE(data != NULL || len == 0, EPS_EINVAL);
	EPS_ENSURE(out != NULL, EPS_EINVAL);
	EPS_ENSURE(outcap >= EPS_SHA1_LENGTH, EPS_EBUFTOOSMALL);
	/* EVP_Digest wants a non-NULL pointer even for no bytes. */
	if (EVP_Digest(len ? data : (const uint8_t *)"", len, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != EPS_SHA1_LENGTH) {
		eps__set_detail(EPS_ETLS, "EVP_Digest(SHA-1) failed");
		return -EPS_ETLS;
	}
	memcpy(out, md, EPS_SHA1_LENGTH);
	return EPS_SHA1_LENGTH;
}

EPS_EXPORT int64_t eps_base64_encode(const uint8_t *data, size_t len, uint8_t *out, size_t outcap)
{
	/* 768 input bytes make exactly 1024 characters, plus the NUL that
	 * EVP_EncodeBlock always writes: chunks through a local buffer keep
	 * that NUL out of the caller's buffer. */
	unsigned char chunk[1025];
	size_t need, done = 0, pos = 0;

	EPS_ENSURE(data != NULL || len == 0, EPS_EINVAL);
	EPS_ENSURE(len <= ((size_t)1 << 30), EPS_EINVAL);
	need = 4 * ((len + 2) / 3);
	EPS_ENSURE(out != NULL || outcap == 0, EPS_EINVAL);
	EPS_ENSURE(outcap >= need, EPS_EBUFTOOSMALL);
	while (done < len) {
		size_t n = len - done < 768 ? len - done : 768;
		int k = EVP_EncodeBlock(chunk, data + done, (int)n);
		memcpy(out + pos, chunk, (size_t)k);
		pos += (size_t)k;
		done += n;
	}
	return (int64_t)pos;
}
