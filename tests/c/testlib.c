/* SPDX-License-Identifier: MIT */
/*
 * testlib.c - helpers shared by the C test suites.
 */
#include <epsilon/epsilon.h>
#include <stdlib.h>

#include "testlib.h"

int eps_test_main(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	/* CK_VERBOSITY from the environment decides; "normal" prints the summary. */
	srunner_run_all(runner, CK_ENV);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

uint64_t eps_test_rand64(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}
