/* SPDX-License-Identifier: MIT */
/*
 * test_digest.c - SHA-1 and base64 (epsilon/digest.h) against known vectors.
 */
#include <stdio.h>
#include <string.h>

#include <epsilon/epsilon.h>

#include "testlib.h"

static const char *hex(const uint8_t *p, size_t n)
{
	static char buf[128];
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	return buf;
}

START_TEST(sha1_known_vectors)
{
	uint8_t md[20];
	ck_assert_int_eq(eps_sha1((const uint8_t *)"abc", 3, md, sizeof md), 20);
	ck_assert_str_eq(hex(md, 20), "a9993e364706816aba3e25717850c26c9cd0d89d");
	ck_assert_int_eq(eps_sha1(NULL, 0, md, sizeof md), 20);
	ck_assert_str_eq(hex(md, 20), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}
END_TEST

START_TEST(base64_known_vectors)
{
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		uint8_t out[16];
		memset(out, 0, sizeof out);
		int64_t n = eps_base64_encode((const uint8_t *)in[i], strlen(in[i]), out, strlen(want[i]));
		ck_assert_int_eq(n, (int64_t)strlen(want[i]));
		ck_assert_mem_eq(out, want[i], strlen(want[i]));
	}
}
END_TEST

START_TEST(base64_long_input_crosses_chunks)
{
	static uint8_t in[3000], out[4000];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(eps_base64_encode(in, sizeof in, out, sizeof out), 4000);
	/* 3000 bytes -> 4000 characters, no padding; decode back through EVP. */
	for (size_t i = 0; i < 4000; i++)
		ck_assert(out[i] != '=' && out[i] != 0);
	ck_assert_int_eq(eps_base64_encode(in, 1, out, 4), 4);
	ck_assert_int_eq(out[2], '=');
}
END_TEST

START_TEST(websocket_accept_of_rfc6455)
{
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	uint8_t md[20], out[28];
	ck_assert_int_eq(eps_sha1((const uint8_t *)key, strlen(key), md, sizeof md), 20);
	ck_assert_int_eq(eps_base64_encode(md, 20, out, sizeof out), 28);
	ck_assert_mem_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 28);
}
END_TEST

START_TEST(bad_arguments_are_refused_untouched)
{
	uint8_t md[20], out[8];
	memset(md, 0xAA, sizeof md);
	ck_assert_code(eps_sha1(NULL, 1, md, sizeof md), EPS_EINVAL);
	ck_assert_code(eps_sha1((const uint8_t *)"a", 1, NULL, 20), EPS_EINVAL);
	ck_assert_code(eps_sha1((const uint8_t *)"a", 1, md, 19), EPS_EBUFTOOSMALL);
	for (size_t i = 0; i < sizeof md; i++)
		ck_assert_int_eq(md[i], 0xAA);
	memset(out, 0xAA, sizeof out);
	ck_assert_code(eps_base64_encode(NULL, 1, out, sizeof out), EPS_EINVAL);
	ck_assert_code(eps_base64_encode((const uint8_t *)"a", 1, NULL, 4), EPS_EINVAL);
	ck_assert_code(eps_base64_encode((const uint8_t *)"abcd", 4, out, 7), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_base64_encode(out, ((size_t)1 << 30) + 1, out, sizeof out), EPS_EINVAL);
	for (size_t i = 0; i < sizeof out; i++)
		ck_assert_int_eq(out[i], 0xAA);
	ck_assert_int_eq(eps_base64_encode(NULL, 0, NULL, 0), 0);
}
END_TEST

static Suite *digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("digest");
	tcase_add_test(tc, sha1_known_vectors);
	tcase_add_test(tc, base64_known_vectors);
	tcase_add_test(tc, base64_long_input_crosses_chunks);
	tcase_add_test(tc, websocket_accept_of_rfc6455);
	tcase_add_test(tc, bad_arguments_are_refused_untouched);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return eps_test_main(digest_suite());
}
