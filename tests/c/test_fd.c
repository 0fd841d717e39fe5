/* SPDX-License-Identifier: MIT */
/*
 * test_fd.c - the table of descriptors the library owns.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"

/* A pipe whose ends the library owns, as if it had created them. */
static void owned_pipe(int p[2], int nonblocking)
{
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)), 0);
	ck_assert_int_eq(eps__fd_register(p[0], nonblocking), p[0]);
	ck_assert_int_eq(eps__fd_register(p[1], nonblocking), p[1]);
}

START_TEST(close_of_owned_fd_works_once)
{
	int p[2];
	int64_t before = eps_fds_open();
	owned_pipe(p, 0);
	ck_assert_int_eq(eps_fds_open(), before + 2);
	ck_assert_int_eq(eps_close(p[0]), 0);
	ck_assert_int_eq(fcntl(p[0], F_GETFD), -1); /* really closed */
	ck_assert_code(eps_close(p[0]), EPS_EBADF);
	ck_assert_int_eq(eps_close(p[1]), 0);
	ck_assert_int_eq(eps_fds_open(), before);
}
END_TEST

START_TEST(close_of_foreign_fd_is_refused)
{
	ck_assert_code(eps_close(0), EPS_EBADF);
	ck_assert_code(eps_close(2), EPS_EBADF);
	ck_assert_int_ne(fcntl(2, F_GETFD), -1); /* stderr untouched */
	ck_assert_code(eps_close(-1), EPS_EBADF);
	ck_assert_code(eps_close(INT32_MAX), EPS_EBADF);
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_code(eps_close(p[0]), EPS_EBADF);
	ck_assert_int_ne(fcntl(p[0], F_GETFD), -1);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(nonblocking_state_is_tracked)
{
	int p[2];
	owned_pipe(p, 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(p[0]), 0);
	ck_assert_int_eq(eps_fd_set_nonblocking(p[0], 1), 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(p[0]), 1);
	ck_assert(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	ck_assert_int_eq(eps_fd_set_nonblocking(p[0], 0), 0);
	ck_assert_int_eq(eps_fd_nonblocking_p(p[0]), 0);
	ck_assert(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	ck_assert_code(eps_fd_nonblocking_p(0), EPS_EBADF);
	ck_assert_code(eps_fd_set_nonblocking(0, 1), EPS_EBADF);
	ck_assert_int_eq(eps_close(p[0]), 0);
	ck_assert_int_eq(eps_close(p[1]), 0);
	ck_assert_code(eps_fd_nonblocking_p(p[0]), EPS_EBADF);
}
END_TEST

START_TEST(poll_reports_readiness_and_timeout)
{
	int p[2];
	owned_pipe(p, 1);
	ck_assert_int_eq(eps_fd_poll(p[0], EPS_POLLIN, 0), 0);
	ck_assert_int_eq(eps_fd_poll(p[1], EPS_POLLOUT, 0), EPS_POLLOUT);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(eps_fd_poll(p[0], EPS_POLLIN, 1000), EPS_POLLIN);
	ck_assert_int_eq(eps_close(p[1]), 0);
	ck_assert(eps_fd_poll(p[0], EPS_POLLIN, 0) & EPS_POLLHUP);
	ck_assert_int_eq(eps_close(p[0]), 0);
	ck_assert_code(eps_fd_poll(p[0], EPS_POLLIN, 0), EPS_EBADF);
	ck_assert_code(eps_fd_poll(-5, EPS_POLLIN, 0), EPS_EBADF);
	ck_assert_code(eps_fd_poll(0, EPS_POLLIN, -2), EPS_EINVAL);
}
END_TEST

static int race_fd;
static _Atomic int closes_won;

static void *race_close(void *arg)
{
	(void)arg;
	if (eps_close(race_fd) == 0)
		atomic_fetch_add(&closes_won, 1);
	return NULL;
}

START_TEST(concurrent_closes_close_once)
{
	for (int round = 0; round < 200; round++) {
		int p[2];
		owned_pipe(p, 0);
		race_fd = p[0];
		atomic_store(&closes_won, 0);
		pthread_t t[4];
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, race_close, NULL), 0);
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(atomic_load(&closes_won), 1);
		ck_assert_int_eq(eps_close(p[1]), 0);
	}
}
END_TEST

static Suite *fd_suite(void)
{
	Suite *s = suite_create("fd");
	TCase *tc = tcase_create("ownership");
	tcase_add_test(tc, close_of_owned_fd_works_once);
	tcase_add_test(tc, close_of_foreign_fd_is_refused);
	tcase_add_test(tc, nonblocking_state_is_tracked);
	tcase_add_test(tc, concurrent_closes_close_once);
	suite_add_tcase(s, tc);
	TCase *poll = tcase_create("poll");
	tcase_add_test(poll, poll_reports_readiness_and_timeout);
	suite_add_tcase(s, poll);
	return s;
}

int main(void)
{
	return eps_test_main(fd_suite());
}
