/* SPDX-License-Identifier: MIT */
/*
 * test_ffi.c - libffi call interfaces and closures: argument checks, bad
 * handles, real calls of every type, closures called from C.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

static int64_t add3(int32_t a, int64_t b, int8_t c)
{
	return a + b + c;
}

static double mix(float f, double d, uint16_t u)
{
	return f * 2 + d + u;
}

static void *identity_ptr(void *p)
{
	return p;
}

static int8_t neg8(int8_t x)
{
	return (int8_t)-x;
}

static int called;
static void touch(void)
{
	called++;
}

static void *fn_ptr(void (*f)(void))
{
	void *p;
	memcpy(&p, &f, sizeof p);
	return p;
}
#define FN(f) fn_ptr((void (*)(void))(f))

START_TEST(cif_rejects_bad_type_codes_and_counts)
{
	const uint8_t ok[] = {EPS_FFI_TYPE_SINT32};
	const uint8_t voidarg[] = {EPS_FFI_TYPE_VOID};
	const uint8_t bad[] = {200};
	ck_assert_code(eps_ffi_cif_new(-1, NULL, 0), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_POINTER + 1, NULL, 0), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, voidarg, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, bad, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, NULL, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, ok, EPS_FFI_MAX_ARGS + 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_cif_new(EPS_FFI_TYPE_SINT32, ok, UINT32_MAX), EPS_EINVAL);
}
END_TEST

START_TEST(bad_handles_are_rejected)
{
	uint64_t slot = 0;
	const int64_t bad[] = {0, -1, 1, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_code(eps_ffi_call(bad[i], FN(touch), NULL, &slot), EPS_EBADHANDLE);
		ck_assert_code(eps_ffi_cif_free(bad[i]), EPS_EBADHANDLE);
		ck_assert_code(eps_ffi_closure_free(bad[i]), EPS_EBADHANDLE);
		ck_assert_code(eps_ffi_closure_address(bad[i], &slot), EPS_EBADHANDLE);
	}
	/* A call interface is not a closure, and the other way round. */
	int64_t cif = eps_ffi_cif_new(EPS_FFI_TYPE_VOID, NULL, 0);
	ck_assert_int_gt(cif, 0);
	ck_assert_code(eps_ffi_closure_free(cif), EPS_EBADHANDLE);
	ck_assert_code(eps_ffi_closure_address(cif, &slot), EPS_EBADHANDLE);
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);
	ck_assert_code(eps_ffi_cif_free(cif), EPS_EBADHANDLE);
	ck_assert_code(eps_ffi_call(cif, FN(touch), NULL, NULL), EPS_EBADHANDLE);
}
END_TEST

START_TEST(call_rejects_null_arguments)
{
	const uint8_t t[] = {EPS_FFI_TYPE_SINT8};
	int64_t cif = eps_ffi_cif_new(EPS_FFI_TYPE_SINT8, t, 1);
	ck_assert_int_gt(cif, 0);
	uint64_t args[1] = {5}, res = 0;
	ck_assert_code(eps_ffi_call(cif, NULL, args, &res), EPS_EINVAL);
	ck_assert_code(eps_ffi_call(cif, FN(neg8), NULL, &res), EPS_EINVAL);
	ck_assert_code(eps_ffi_call(cif, FN(neg8), args, NULL), EPS_EINVAL);
	ck_assert_int_eq(eps_ffi_call(cif, FN(neg8), args, &res), 0);
	ck_assert_int_eq((int64_t)res, -5); /* widened to 64 bits */
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);
}
END_TEST

START_TEST(calls_pass_every_type)
{
	const uint8_t t1[] = {EPS_FFI_TYPE_SINT32, EPS_FFI_TYPE_SINT64, EPS_FFI_TYPE_SINT8};
	int64_t cif = eps_ffi_cif_new(EPS_FFI_TYPE_SINT64, t1, 3);
	ck_assert_int_gt(cif, 0);
	uint64_t args[3] = {(uint64_t)(int64_t)-7, UINT64_C(1) << 40, 0xff /* -1 as int8 */};
	uint64_t res = 0;
	ck_assert_int_eq(eps_ffi_call(cif, FN(add3), args, &res), 0);
	ck_assert_int_eq((int64_t)res, (INT64_C(1) << 40) - 8);
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);

	const uint8_t t2[] = {EPS_FFI_TYPE_FLOAT, EPS_FFI_TYPE_DOUBLE, EPS_FFI_TYPE_UINT16};
	cif = eps_ffi_cif_new(EPS_FFI_TYPE_DOUBLE, t2, 3);
	ck_assert_int_gt(cif, 0);
	float f = 1.5f;
	double d = 0.25;
	uint64_t a2[3] = {0, 0, 65535};
	memcpy(&a2[0], &f, sizeof f);
	memcpy(&a2[1], &d, sizeof d);
	ck_assert_int_eq(eps_ffi_call(cif, FN(mix), a2, &res), 0);
	double out;
	memcpy(&out, &res, sizeof out);
	ck_assert_double_eq(out, 3.25 + 65535);
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);

	const uint8_t t3[] = {EPS_FFI_TYPE_POINTER};
	cif = eps_ffi_cif_new(EPS_FFI_TYPE_POINTER, t3, 1);
	uint64_t a3[1] = {(uint64_t)(uintptr_t)&out};
	ck_assert_int_eq(eps_ffi_call(cif, FN(identity_ptr), a3, &res), 0);
	ck_assert_ptr_eq((void *)(uintptr_t)res, &out);
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);

	cif = eps_ffi_cif_new(EPS_FFI_TYPE_VOID, NULL, 0);
	called = 0;
	ck_assert_int_eq(eps_ffi_call(cif, FN(touch), NULL, NULL), 0);
	ck_assert_int_eq(called, 1);
	ck_assert_int_eq(eps_ffi_cif_free(cif), 0);
	ck_assert_int_eq(eps_ffi_noop(42), 42);
}
END_TEST

/* A dispatcher like the Lisp one: closure id 1 adds, id 2 compares. */
static void dispatch(int64_t id, void **args, void *result)
{
	if (id == 1) {
		int64_t r = *(int32_t *)args[0] + *(int32_t *)args[1];
		memcpy(result, &r, sizeof r);
	} else if (id == 2) {
		int a = **(int *const *)args[0], b = **(int *const *)args[1];
		int64_t r = (a > b) - (a < b);
		memcpy(result, &r, sizeof r);
	}
}

START_TEST(closure_is_callable_from_c)
{
	int64_t before = eps_handles_live(EPS_HANDLE_FFI_CLOSURE);
	const uint8_t t[] = {EPS_FFI_TYPE_SINT32, EPS_FFI_TYPE_SINT32};
	void *d;
	void (*df)(int64_t, void **, void *) = dispatch;
	memcpy(&d, &df, sizeof d);
	int64_t c = eps_ffi_closure_new(EPS_FFI_TYPE_SINT32, t, 2, d, 1);
	ck_assert_int_gt(c, 0);
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_FFI_CLOSURE), before + 1);
	uint64_t addr = 0;
	ck_assert_int_eq(eps_ffi_closure_address(c, &addr), 0);
	ck_assert_int_ne(addr, 0);
	int32_t (*add)(int32_t, int32_t);
	void *code = (void *)(uintptr_t)addr;
	memcpy(&add, &code, sizeof add);
	ck_assert_int_eq(add(40, 2), 42);
	ck_assert_int_eq(add(-40, 2), -38);

	const uint8_t pt[] = {EPS_FFI_TYPE_POINTER, EPS_FFI_TYPE_POINTER};
	int64_t cmp = eps_ffi_closure_new(EPS_FFI_TYPE_SINT32, pt, 2, d, 2);
	ck_assert_int_gt(cmp, 0);
	ck_assert_int_eq(eps_ffi_closure_address(cmp, &addr), 0);
	int (*compare)(const void *, const void *);
	code = (void *)(uintptr_t)addr;
	memcpy(&compare, &code, sizeof compare);
	int v[] = {5, -3, 9, 0, 2};
	qsort(v, 5, sizeof v[0], compare);
	ck_assert_int_eq(v[0], -3);
	ck_assert_int_eq(v[4], 9);

	ck_assert_int_eq(eps_ffi_closure_free(c), 0);
	ck_assert_code(eps_ffi_closure_free(c), EPS_EBADHANDLE);
	ck_assert_int_eq(eps_ffi_closure_free(cmp), 0);
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_FFI_CLOSURE), before);
}
END_TEST

START_TEST(closure_rejects_bad_arguments)
{
	const uint8_t t[] = {EPS_FFI_TYPE_VOID};
	int x;
	ck_assert_code(eps_ffi_closure_new(EPS_FFI_TYPE_SINT32, NULL, 0, NULL, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_closure_new(99, NULL, 0, &x, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_closure_new(EPS_FFI_TYPE_SINT32, t, 1, &x, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_closure_new(EPS_FFI_TYPE_SINT32, NULL, 3, &x, 1), EPS_EINVAL);
	ck_assert_code(eps_ffi_closure_address(1, NULL), EPS_EINVAL);
}
END_TEST

START_TEST(free_cif_and_closure_leave_no_handles)
{
	int64_t cifs = eps_handles_live(EPS_HANDLE_FFI_CIF);
	int x;
	for (int i = 0; i < 1000; i++) {
		int64_t h = eps_ffi_cif_new(EPS_FFI_TYPE_DOUBLE, NULL, 0);
		ck_assert_int_gt(h, 0);
		int64_t c = eps_ffi_closure_new(EPS_FFI_TYPE_VOID, NULL, 0, &x, i);
		ck_assert_int_gt(c, 0);
		ck_assert_int_eq(eps_ffi_cif_free(h), 0);
		ck_assert_int_eq(eps_ffi_closure_free(c), 0);
	}
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_FFI_CIF), cifs);
}
END_TEST

static Suite *ffi_suite(void)
{
	Suite *s = suite_create("ffi");
	TCase *args = tcase_create("arguments");
	tcase_add_test(args, cif_rejects_bad_type_codes_and_counts);
	tcase_add_test(args, bad_handles_are_rejected);
	tcase_add_test(args, call_rejects_null_arguments);
	tcase_add_test(args, closure_rejects_bad_arguments);
	suite_add_tcase(s, args);
	TCase *calls = tcase_create("calls");
	tcase_add_test(calls, calls_pass_every_type);
	tcase_add_test(calls, closure_is_callable_from_c);
	tcase_add_test(calls, free_cif_and_closure_leave_no_handles);
	suite_add_tcase(s, calls);
	return s;
}

int main(void)
{
	return eps_test_main(ffi_suite());
}
