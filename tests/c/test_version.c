/* SPDX-License-Identifier: MIT */
/*
 * test_version.c - library and ABI version.
 */
#include <string.h>

#include <epsilon/epsilon.h>

#include "config.h"
#include "testlib.h"

START_TEST(version_string_is_the_project_version)
{
	const char *v = eps_version_string();
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, EPS__CONFIG_VERSION);
}
END_TEST

START_TEST(abi_version_packs_major_and_minor)
{
	int32_t v = eps_abi_version();
	ck_assert_int_eq(v >> 16, EPS_ABI_MAJOR);
	ck_assert_int_eq(v & 0xffff, EPS_ABI_MINOR);
}
END_TEST

static Suite *version_suite(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");
	tcase_add_test(tc, version_string_is_the_project_version);
	tcase_add_test(tc, abi_version_packs_major_and_minor);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return eps_test_main(version_suite());
}
