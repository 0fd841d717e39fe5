/* SPDX-License-Identifier: MIT */
/*
 * testlib.h - helpers shared by the C test suites.
 */
#ifndef EPSILON_TESTLIB_H
#define EPSILON_TESTLIB_H

#include <check.h>
#include <stdint.h>

/* Run SUITE with Check's summary printed; return the process exit code. */
int eps_test_main(Suite *suite);

/* Assert a negative result equal to -CODE, with both names in the message. */
#define ck_assert_code(expr, code)                                            \
	do {                                                                  \
		int64_t ck_r_ = (expr);                                       \
		ck_assert_msg(ck_r_ == -(int64_t)(code), "%s: got %lld (%s), want -%s", \
			      #expr, (long long)ck_r_, eps_errname((int32_t)ck_r_), #code); \
	} while (0)

/* Assert success (>= 0). */
#define ck_assert_ok(expr)                                                    \
	do {                                                                  \
		int64_t ck_r_ = (expr);                                       \
		ck_assert_msg(ck_r_ >= 0, "%s failed: %lld (%s)", #expr,      \
			      (long long)ck_r_, eps_errname((int32_t)ck_r_));    \
	} while (0)

/* A fresh pseudo-random 64-bit value from a per-test xorshift state. */
uint64_t eps_test_rand64(uint64_t *state);

#endif
