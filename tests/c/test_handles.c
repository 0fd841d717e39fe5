/* SPDX-License-Identifier: MIT */
/*
 * test_handles.c - the handle table: lifecycle, rejection of stale, forged
 * and wrong-type handles, and concurrent use.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "testlib.h"

#define OTHER_TYPE EPS_HANDLE_TLS_CONTEXT

static _Atomic int destroyed;

static void count_destroy(void *obj)
{
	(void)obj;
	atomic_fetch_add(&destroyed, 1);
}

static void free_destroy(void *obj)
{
	free(obj);
}

static int64_t alloc_test(void *obj)
{
	int64_t h = eps__handle_alloc(EPS__HANDLE_TEST, obj, count_destroy);
	ck_assert_int_gt(h, 0);
	return h;
}

START_TEST(handle_is_positive_below_2_62)
{
	int x;
	int64_t h = alloc_test(&x);
	ck_assert_int_gt(h, 0);
	ck_assert_int_lt(h, INT64_C(1) << 62);
	ck_assert_int_eq(eps__handle_free(h, EPS__HANDLE_TEST), 0);
}
END_TEST

START_TEST(lookup_returns_the_object_and_free_destroys_it)
{
	int x;
	atomic_store(&destroyed, 0);
	int64_t before = eps_handles_live(EPS__HANDLE_TEST);
	int64_t h = alloc_test(&x);
	ck_assert_int_eq(eps_handles_live(EPS__HANDLE_TEST), before + 1);
	void *obj = NULL;
	ck_assert_int_eq(eps__handle_acquire(h, EPS__HANDLE_TEST, &obj), 0);
	ck_assert_ptr_eq(obj, &x);
	eps__handle_release(h);
	ck_assert_int_eq(atomic_load(&destroyed), 0);
	ck_assert_int_eq(eps__handle_free(h, EPS__HANDLE_TEST), 0);
	ck_assert_int_eq(atomic_load(&destroyed), 1);
	ck_assert_int_eq(eps_handles_live(EPS__HANDLE_TEST), before);
}
END_TEST

START_TEST(freed_handle_is_rejected_and_double_free_fails)
{
	int x;
	int64_t h = alloc_test(&x);
	ck_assert_int_eq(eps__handle_free(h, EPS__HANDLE_TEST), 0);
	void *obj = (void *)0x1;
	ck_assert_code(eps__handle_acquire(h, EPS__HANDLE_TEST, &obj), EPS_EBADHANDLE);
	ck_assert_ptr_eq(obj, (void *)0x1); /* out-parameter untouched on failure */
	ck_assert_code(eps__handle_free(h, EPS__HANDLE_TEST), EPS_EBADHANDLE);
}
END_TEST

START_TEST(stale_handle_after_slot_reuse_is_rejected)
{
	int x, y;
	int64_t old = alloc_test(&x);
	ck_assert_int_eq(eps__handle_free(old, EPS__HANDLE_TEST), 0);
	/* The most recently freed slot is reused first. */
	int64_t fresh = alloc_test(&y);
	ck_assert_int_eq(fresh & 0xffffff, old & 0xffffff);
	ck_assert_int_ne(fresh, old);
	void *obj;
	ck_assert_code(eps__handle_acquire(old, EPS__HANDLE_TEST, &obj), EPS_EBADHANDLE);
	ck_assert_code(eps__handle_free(old, EPS__HANDLE_TEST), EPS_EBADHANDLE);
	ck_assert_int_eq(eps__handle_acquire(fresh, EPS__HANDLE_TEST, &obj), 0);
	ck_assert_ptr_eq(obj, &y);
	eps__handle_release(fresh);
	ck_assert_int_eq(eps__handle_free(fresh, EPS__HANDLE_TEST), 0);
}
END_TEST

START_TEST(wrong_type_is_rejected)
{
	int x;
	int64_t h = alloc_test(&x);
	void *obj;
	ck_assert_code(eps__handle_acquire(h, OTHER_TYPE, &obj), EPS_EBADHANDLE);
	ck_assert_code(eps__handle_free(h, OTHER_TYPE), EPS_EBADHANDLE);
	/* Rewriting the type bits of a real handle forges nothing. */
	int64_t retyped = (h & ~(INT64_C(0x3f) << 24)) | ((int64_t)OTHER_TYPE << 24);
	ck_assert_code(eps__handle_acquire(retyped, OTHER_TYPE, &obj), EPS_EBADHANDLE);
	ck_assert_code(eps__handle_free(retyped, OTHER_TYPE), EPS_EBADHANDLE);
	ck_assert_int_eq(eps__handle_free(h, EPS__HANDLE_TEST), 0);
}
END_TEST

START_TEST(zero_negative_and_huge_values_are_rejected)
{
	void *obj;
	const int64_t bad[] = {0, -1, INT64_MIN, INT64_MAX, INT64_C(1) << 62, (INT64_C(1) << 62) - 1, 1};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_code(eps__handle_acquire(bad[i], EPS__HANDLE_TEST, &obj), EPS_EBADHANDLE);
		ck_assert_code(eps__handle_free(bad[i], EPS__HANDLE_TEST), EPS_EBADHANDLE);
	}
}
END_TEST

START_TEST(million_random_values_never_validate)
{
	/* Keep some handles live so the forged values meet real slots. */
	enum { LIVE = 256 };
	int64_t live[LIVE];
	int x;
	for (int i = 0; i < LIVE; i++)
		live[i] = alloc_test(&x);
	uint64_t state = 0x9e3779b97f4a7c15u;
	int accepted = 0;
	for (int i = 0; i < 1000000; i++) {
		int64_t v = (int64_t)eps_test_rand64(&state);
		/* Also try values in range, where a match is only the generation away. */
		if (i & 1)
			v &= (INT64_C(1) << 62) - 1;
		int is_real = 0;
		for (int j = 0; j < LIVE && !is_real; j++)
			is_real = (v == live[j]);
		if (is_real)
			continue;
		void *obj;
		for (uint32_t t = 1; t <= EPS__HANDLE_TYPE_MAX; t++) {
			if (eps__handle_acquire(v, t, &obj) == 0) {
				accepted++;
				eps__handle_release(v);
			}
		}
	}
	ck_assert_int_eq(accepted, 0);
	for (int i = 0; i < LIVE; i++)
		ck_assert_int_eq(eps__handle_free(live[i], EPS__HANDLE_TEST), 0);
}
END_TEST

START_TEST(alloc_rejects_bad_arguments)
{
	int x;
	ck_assert_code(eps__handle_alloc(0, &x, count_destroy), EPS_EINVAL);
	ck_assert_code(eps__handle_alloc(64, &x, count_destroy), EPS_EINVAL);
	ck_assert_code(eps__handle_alloc(EPS__HANDLE_TEST, &x, NULL), EPS_EINVAL);
	ck_assert_code(eps_handles_live(-1), EPS_EINVAL);
	ck_assert_code(eps_handles_live(64), EPS_EINVAL);
}
END_TEST

/* --- free while another thread holds a reference ---------------------- */

struct holder {
	int64_t handle;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stage; /* 1: reference held; 2: may release */
};

static void *hold_reference(void *arg)
{
	struct holder *hd = arg;
	void *obj;
	ck_assert_int_eq(eps__handle_acquire(hd->handle, EPS__HANDLE_TEST, &obj), 0);
	pthread_mutex_lock(&hd->lock);
	hd->stage = 1;
	pthread_cond_broadcast(&hd->cond);
	while (hd->stage != 2)
		pthread_cond_wait(&hd->cond, &hd->lock);
	pthread_mutex_unlock(&hd->lock);
	/* The object must still be intact while the reference is held. */
	ck_assert_int_eq(*(int *)obj, 42);
	eps__handle_release(hd->handle);
	return NULL;
}

START_TEST(free_while_referenced_defers_destruction)
{
	static int value = 42;
	atomic_store(&destroyed, 0);
	struct holder hd = {.handle = alloc_test(&value), .stage = 0};
	pthread_mutex_init(&hd.lock, NULL);
	pthread_cond_init(&hd.cond, NULL);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, hold_reference, &hd), 0);
	pthread_mutex_lock(&hd.lock);
	while (hd.stage != 1)
		pthread_cond_wait(&hd.cond, &hd.lock);
	pthread_mutex_unlock(&hd.lock);

	ck_assert_int_eq(eps__handle_free(hd.handle, EPS__HANDLE_TEST), 0);
	/* Dead at once for everyone else, but not destroyed yet. */
	void *obj;
	ck_assert_code(eps__handle_acquire(hd.handle, EPS__HANDLE_TEST, &obj), EPS_EBADHANDLE);
	ck_assert_code(eps__handle_free(hd.handle, EPS__HANDLE_TEST), EPS_EBADHANDLE);
	ck_assert_int_eq(atomic_load(&destroyed), 0);

	pthread_mutex_lock(&hd.lock);
	hd.stage = 2;
	pthread_cond_broadcast(&hd.cond);
	pthread_mutex_unlock(&hd.lock);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(atomic_load(&destroyed), 1);
}
END_TEST

/* --- 8 threads at once ------------------------------------------------ */

enum { THREADS = 8, ROUNDS = 20000, KEEP = 64 };

struct worker {
	int id;
	int64_t kept[KEEP];
	int errors;
};

static void *churn(void *arg)
{
	struct worker *w = arg;
	int64_t mine[KEEP] = {0};
	uint64_t state = 0x12345 + (uint64_t)w->id * 7919;
	for (int i = 0; i < ROUNDS; i++) {
		int k = (int)(eps_test_rand64(&state) % KEEP);
		if (mine[k] != 0) {
			void *obj;
			/* Our own live handle always resolves to our own object. */
			if (eps__handle_acquire(mine[k], EPS__HANDLE_TEST, &obj) != 0 ||
			    ((int *)obj)[0] != w->id || ((int *)obj)[1] != k)
				w->errors++;
			else
				eps__handle_release(mine[k]);
			if (eps__handle_free(mine[k], EPS__HANDLE_TEST) != 0)
				w->errors++;
			/* ...and is dead right after our free, even if the slot is reused. */
			if (eps__handle_acquire(mine[k], EPS__HANDLE_TEST, &obj) == 0) {
				w->errors++;
				eps__handle_release(mine[k]);
			}
			mine[k] = 0;
		} else {
			int *obj = malloc(2 * sizeof *obj);
			obj[0] = w->id;
			obj[1] = k;
			mine[k] = eps__handle_alloc(EPS__HANDLE_TEST, obj, free_destroy);
			if (mine[k] <= 0) {
				w->errors++;
				free(obj);
				mine[k] = 0;
			}
		}
	}
	for (int k = 0; k < KEEP; k++)
		w->kept[k] = mine[k];
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

START_TEST(eight_threads_lose_and_duplicate_nothing)
{
	int64_t before = eps_handles_live(EPS__HANDLE_TEST);
	struct worker w[THREADS] = {0};
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, churn, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);

	int64_t all[THREADS * KEEP];
	int n = 0;
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(w[i].errors, 0);
		for (int k = 0; k < KEEP; k++)
			if (w[i].kept[k] != 0)
				all[n++] = w[i].kept[k];
	}
	ck_assert_int_eq(eps_handles_live(EPS__HANDLE_TEST), before + n);
	/* No two live handles share a slot. */
	for (int i = 0; i < n; i++)
		all[i] &= 0xffffff;
	qsort(all, (size_t)n, sizeof all[0], cmp_i64);
	for (int i = 1; i < n; i++)
		ck_assert_int_ne(all[i], all[i - 1]);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < KEEP; k++)
			if (w[i].kept[k] != 0)
				ck_assert_int_eq(eps__handle_free(w[i].kept[k], EPS__HANDLE_TEST), 0);
	ck_assert_int_eq(eps_handles_live(EPS__HANDLE_TEST), before);
}
END_TEST

/* Lookups racing with frees of the same handles: none succeeds late. */
struct racer {
	int64_t *handles;
	int count;
	_Atomic int *go;
	int hits;
};

static void *race_lookup(void *arg)
{
	struct racer *r = arg;
	while (!atomic_load(r->go))
		;
	for (int round = 0; round < 50; round++)
		for (int i = 0; i < r->count; i++) {
			void *obj;
			if (eps__handle_acquire(r->handles[i], EPS__HANDLE_TEST, &obj) == 0) {
				ck_assert_int_eq(*(int *)obj, i);
				r->hits++;
				eps__handle_release(r->handles[i]);
			}
		}
	return NULL;
}

START_TEST(lookups_race_frees_safely)
{
	enum { N = 2000, READERS = 7 };
	int64_t *handles = malloc(N * sizeof *handles);
	for (int i = 0; i < N; i++) {
		int *obj = malloc(sizeof *obj);
		*obj = i;
		handles[i] = eps__handle_alloc(EPS__HANDLE_TEST, obj, free_destroy);
		ck_assert_int_gt(handles[i], 0);
	}
	_Atomic int go = 0;
	struct racer r[READERS];
	pthread_t t[READERS];
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct racer){.handles = handles, .count = N, .go = &go};
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_lookup, &r[i]), 0);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(eps__handle_free(handles[i], EPS__HANDLE_TEST), 0);
	for (int i = 0; i < READERS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	void *obj;
	for (int i = 0; i < N; i++)
		ck_assert_code(eps__handle_acquire(handles[i], EPS__HANDLE_TEST, &obj), EPS_EBADHANDLE);
	free(handles);
}
END_TEST

static Suite *handles_suite(void)
{
	Suite *s = suite_create("handles");
	TCase *life = tcase_create("lifecycle");
	tcase_add_test(life, handle_is_positive_below_2_62);
	tcase_add_test(life, lookup_returns_the_object_and_free_destroys_it);
	tcase_add_test(life, freed_handle_is_rejected_and_double_free_fails);
	tcase_add_test(life, stale_handle_after_slot_reuse_is_rejected);
	tcase_add_test(life, alloc_rejects_bad_arguments);
	suite_add_tcase(s, life);

	TCase *reject = tcase_create("rejection");
	tcase_add_test(reject, wrong_type_is_rejected);
	tcase_add_test(reject, zero_negative_and_huge_values_are_rejected);
	tcase_add_test(reject, million_random_values_never_validate);
	tcase_set_timeout(reject, 120);
	suite_add_tcase(s, reject);

	TCase *conc = tcase_create("concurrency");
	tcase_add_test(conc, free_while_referenced_defers_destruction);
	tcase_add_test(conc, eight_threads_lose_and_duplicate_nothing);
	tcase_add_test(conc, lookups_race_frees_safely);
	tcase_set_timeout(conc, 120);
	suite_add_tcase(s, conc);
	return s;
}

int main(void)
{
	return eps_test_main(handles_suite());
}
