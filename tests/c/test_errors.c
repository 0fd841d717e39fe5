/* SPDX-License-Identifier: MIT */
/*
 * test_errors.c - the error-code table, names, messages and detail text.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

struct row {
	int32_t code;
	const char *name;
};

#define ROW(name, value, class, message) {value, #name},
static const struct row rows[] = {EPS__ERRNO_CODES(ROW) EPS__SHIM_CODES(ROW)};
#define NROWS (sizeof rows / sizeof rows[0])

START_TEST(every_code_has_its_name_and_a_message)
{
	for (size_t i = 0; i < NROWS; i++) {
		ck_assert_str_eq(eps_errname(rows[i].code), rows[i].name);
		ck_assert_str_eq(eps_errname(-rows[i].code), rows[i].name);
		const char *m = eps_strerror(rows[i].code);
		ck_assert_ptr_nonnull(m);
		ck_assert_str_ne(m, "unknown error");
		ck_assert_str_eq(eps_strerror(-rows[i].code), m);
	}
}
END_TEST

START_TEST(codes_are_unique)
{
	for (size_t i = 0; i < NROWS; i++)
		for (size_t j = i + 1; j < NROWS; j++)
			ck_assert_int_ne(rows[i].code, rows[j].code);
}
END_TEST

START_TEST(errno_codes_match_the_kernel)
{
	ck_assert_int_eq(EPS_ECONNREFUSED, ECONNREFUSED);
	ck_assert_int_eq(EPS_EAGAIN, EAGAIN);
	ck_assert_int_eq(EPS_EWOULDBLOCK, EWOULDBLOCK);
	ck_assert_int_eq(EPS_EINPROGRESS, EINPROGRESS);
	ck_assert_str_eq(eps_errname(-EPS_EWOULDBLOCK), "EAGAIN");
}
END_TEST

START_TEST(shim_codes_are_above_4096)
{
	ck_assert_int_gt(EPS_EBADHANDLE, 4096);
	ck_assert_str_eq(eps_errname(-EPS_EBADHANDLE), "EBADHANDLE");
	ck_assert_str_eq(eps_errname(EPS_EUNEXPECTEDEOF), "EUNEXPECTEDEOF");
}
END_TEST

START_TEST(unknown_codes_are_never_null)
{
	const int32_t odd[] = {0, 8, 10, 4096, 4097 + 1000, 99999, -99999, INT32_MAX, INT32_MIN};
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		ck_assert_ptr_nonnull(eps_strerror(odd[i]));
		ck_assert_ptr_nonnull(eps_errname(odd[i]));
	}
	ck_assert_str_eq(eps_errname(99999), "EUNKNOWN");
	ck_assert_str_eq(eps_strerror(INT32_MIN), "unknown error");
	ck_assert_str_eq(eps_errname(0), "OK");
}
END_TEST

START_TEST(detail_is_copied_and_truncated)
{
	uint8_t buf[64];
	eps__clear_detail();
	ck_assert_int_eq(eps_last_error_detail(-EPS_EIO, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");

	eps__set_detail(EPS_EIO, "connect to %s failed", "127.0.0.1");
	eps__append_detail("errno %d", 111);
	const char *want = "connect to 127.0.0.1 failed; errno 111";
	ck_assert_int_eq(eps_last_error_detail(-EPS_EIO, buf, sizeof buf), (int)strlen(want));
	ck_assert_str_eq((char *)buf, want);
	/* The code may be given with either sign. */
	ck_assert_int_eq(eps_last_error_detail(EPS_EIO, buf, sizeof buf), (int)strlen(want));

	/* A short buffer gets a NUL-terminated prefix and the full length back. */
	uint8_t small[8];
	ck_assert_int_eq(eps_last_error_detail(-EPS_EIO, small, sizeof small), (int)strlen(want));
	ck_assert_str_eq((char *)small, "connect");

	/* Asking for the length only. */
	ck_assert_int_eq(eps_last_error_detail(-EPS_EIO, NULL, 0), (int)strlen(want));
}
END_TEST

START_TEST(detail_rejects_null_buffer_with_length)
{
	ck_assert_code(eps_last_error_detail(-EPS_EIO, NULL, 10), EPS_EINVAL);
	ck_assert_code(eps_last_error_detail(0, NULL, 10), EPS_EINVAL);
}
END_TEST

START_TEST(detail_overlong_is_bounded)
{
	char big[4000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	eps__set_detail(EPS_EIO, "%s", big);
	eps__append_detail("%s", big);
	int32_t n = eps_last_error_detail(EPS_EIO, NULL, 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 4000);
}
END_TEST

START_TEST(detail_belongs_to_the_code_it_was_set_for)
{
	uint8_t buf[64] = "unset";
	eps__set_detail(-EPS_EBADPEM, "cannot read /nonexistent/ca.pem");
	ck_assert_int_gt(eps_last_error_detail(-EPS_EBADPEM, buf, sizeof buf), 0);
	ck_assert_int_eq(eps_last_error_detail(-EPS_ECONNREFUSED, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");
	/* 0 is success: no failure, no detail; nor does a code that is no code. */
	ck_assert_int_eq(eps_last_error_detail(0, buf, sizeof buf), 0);
	ck_assert_int_eq(eps_last_error_detail(INT32_MIN, buf, sizeof buf), 0);
	eps__clear_detail();
	ck_assert_int_eq(eps_last_error_detail(-EPS_EBADPEM, buf, sizeof buf), 0);
}
END_TEST

/*
 * Real failures: a malformed literal explains itself; a refused connect and
 * a bad epoll close, which follow it and have nothing to add, show no
 * detail, not the literal's.
 */
START_TEST(a_failure_without_detail_shows_none_of_an_earlier_one)
{
	uint8_t addr[128], buf[128];
	ck_assert_code(eps_addr_inet("not-an-address", 80, addr, sizeof addr), EPS_EBADADDRESS);
	ck_assert_int_gt(eps_last_error_detail(-EPS_EBADADDRESS, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "not an IPv4 literal");

	/* A port bound but not listening refuses connections, at once, on loopback. */
	int32_t quiet = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(quiet, 0);
	int32_t n = eps_addr_inet("127.0.0.1", 0, addr, sizeof addr);
	ck_assert_int_gt(n, 0);
	ck_assert_ok(eps_bind(quiet, addr, (size_t)n));
	n = eps_getsockname(quiet, addr, sizeof addr);
	ck_assert_int_gt(n, 0);
	int32_t fd = eps_socket(EPS_AF_INET, EPS_SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	int32_t r = eps_connect(fd, addr, (size_t)n);
	ck_assert_code(r, EPS_ECONNREFUSED);
	memcpy(buf, "unset", 6);
	ck_assert_int_eq(eps_last_error_detail(r, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");
	ck_assert_ok(eps_close(fd));
	ck_assert_ok(eps_close(quiet));

	r = eps_epoll_close(fd);
	ck_assert_code(r, EPS_EBADF);
	ck_assert_int_eq(eps_last_error_detail(r, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");
}
END_TEST

/* The older failure's code is the same as the newer one's: still not its text. */
START_TEST(a_failure_without_detail_shows_none_of_an_earlier_one_of_the_same_code)
{
	uint8_t addr[128], buf[128];
	/* EBADADDRESS: a detail, then a literal return without one. */
	ck_assert_code(eps_addr_inet("not-an-address", 80, addr, sizeof addr), EPS_EBADADDRESS);
	ck_assert_int_gt(eps_last_error_detail(-EPS_EBADADDRESS, buf, sizeof buf), 0);
	int32_t r = eps_addr_inet6("fe80::1%", 80, 0, addr, sizeof addr);
	ck_assert_code(r, EPS_EBADADDRESS);
	memcpy(buf, "unset", 6);
	ck_assert_int_eq(eps_last_error_detail(r, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");

	/* EINVAL: a detail, then an argument check (EPS_ENSURE). */
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, NULL, 1), EPS_EINVAL);
	ck_assert_int_gt(eps_last_error_detail(-EPS_EINVAL, buf, sizeof buf), 0);
	r = eps_addr_inet("127.0.0.1", 70000, addr, sizeof addr);
	ck_assert_code(r, EPS_EINVAL);
	ck_assert_int_eq(eps_last_error_detail(r, buf, sizeof buf), 0);
	ck_assert_str_eq((char *)buf, "");

	/* EBADF: a detail-less errno failure (EPS_ERRNO) after a detailed one. */
	eps__set_detail(EPS_EBADF, "an earlier EBADF");
	r = eps_socket_error(999999);
	ck_assert_code(r, EPS_EBADF);
	ck_assert_int_eq(eps_last_error_detail(r, buf, sizeof buf), 0);
}
END_TEST

static void *other_thread(void *arg)
{
	uint8_t *buf = arg;
	/* A fresh thread has no detail, whatever the main thread set. */
	eps_last_error_detail(EPS_EIO, buf, 32);
	eps__set_detail(EPS_EIO, "from the other thread");
	return NULL;
}

START_TEST(detail_is_per_thread)
{
	uint8_t seen[32] = "unset", buf[64];
	eps__set_detail(EPS_EIO, "main thread detail");
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, other_thread, seen), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_str_eq((char *)seen, "");
	eps_last_error_detail(EPS_EIO, buf, sizeof buf);
	ck_assert_str_eq((char *)buf, "main thread detail");
}
END_TEST

static Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *table = tcase_create("table");
	tcase_add_test(table, every_code_has_its_name_and_a_message);
	tcase_add_test(table, codes_are_unique);
	tcase_add_test(table, errno_codes_match_the_kernel);
	tcase_add_test(table, shim_codes_are_above_4096);
	tcase_add_test(table, unknown_codes_are_never_null);
	suite_add_tcase(s, table);

	TCase *detail = tcase_create("detail");
	tcase_add_test(detail, detail_is_copied_and_truncated);
	tcase_add_test(detail, detail_rejects_null_buffer_with_length);
	tcase_add_test(detail, detail_overlong_is_bounded);
	tcase_add_test(detail, detail_belongs_to_the_code_it_was_set_for);
	tcase_add_test(detail, a_failure_without_detail_shows_none_of_an_earlier_one);
	tcase_add_test(detail, a_failure_without_detail_shows_none_of_an_earlier_one_of_the_same_code);
	tcase_add_test(detail, detail_is_per_thread);
	suite_add_tcase(s, detail);
	return s;
}

int main(void)
{
	return eps_test_main(errors_suite());
}
