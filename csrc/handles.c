/* SPDX-License-Identifier: MIT */
/*
 * handles.c - the process-wide handle table.
 *
 * A handle packs three fields into 62 bits:
 *
 *     bits 30..61  generation of the slot (32 bits, never 0)
 *     bits 24..29  kind of object (6 bits, never 0)
 *     bits  0..23  slot index (24 bits)
 *
 * so it is positive, below 2^62 (a fixnum in SBCL) and never 0.
 *
 * Lookups take no lock: each slot has one atomic state word holding the
 * slot's generation, a live bit and a reference count, and a lookup is one
 * compare-and-swap that checks the generation and the live bit and counts
 * the reference in the same step.  Slots live in chunks that are never
 * moved or freed, so a stale handle can always be checked against its slot.
 * Only allocation and destruction take the table's mutex.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

#define INDEX_BITS 24
#define TYPE_BITS 6
#define GEN_SHIFT (INDEX_BITS + TYPE_BITS)
#define INDEX_MASK ((UINT64_C(1) << INDEX_BITS) - 1)
#define TYPE_MASK ((UINT64_C(1) << TYPE_BITS) - 1)
#define GEN_MASK UINT64_C(0xffffffff)

#define CHUNK_BITS 12
#define CHUNK_SLOTS (1u << CHUNK_BITS)
#define CHUNK_COUNT (1u << (INDEX_BITS - CHUNK_BITS))

/* State word: generation << 32 | LIVE | reference count. */
#define STATE_LIVE (UINT64_C(1) << 31)
#define STATE_REFS ((UINT64_C(1) << 31) - 1)
#define STATE_GEN(s) ((uint32_t)((s) >> 32))

struct slot {
	_Atomic uint64_t state;
	_Atomic uint32_t type;
	_Atomic(void *) obj;
	eps__destroy_fn destroy; /* written and read only with the mutex or a reference */
	uint32_t next_free;      /* free-list link, under the mutex */
};

static _Atomic(struct slot *) chunks[CHUNK_COUNT];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_unused;          /* first index never handed out */
static uint32_t free_head = UINT32_MAX; /* most recently freed index */
static _Atomic int64_t live_by_type[EPS__HANDLE_TYPE_MAX + 1];

static struct slot *slot_at(uint32_t index)
{
	struct slot *chunk = atomic_load_explicit(&chunks[index >> CHUNK_BITS], memory_order_acquire);
	return chunk ? &chunk[index & (CHUNK_SLOTS - 1)] : NULL;
}

static int64_t make_handle(uint32_t gen, uint32_t type, uint32_t index)
{
	return (int64_t)(((uint64_t)gen << GEN_SHIFT) | ((uint64_t)type << INDEX_BITS) | index);
}

/* Decode HANDLE; NULL unless its fields are in range and its slot exists. */
static struct slot *decode(int64_t handle, uint32_t *gen, uint32_t *type)
{
	if (handle <= 0 || (uint64_t)handle >> (GEN_SHIFT + 32) != 0)
		return NULL;
	uint64_t h = (uint64_t)handle;
	*gen = (uint32_t)((h >> GEN_SHIFT) & GEN_MASK);
	*type = (uint32_t)((h >> INDEX_BITS) & TYPE_MASK);
	if (*gen == 0 || *type == 0)
		return NULL;
	return slot_at((uint32_t)(h & INDEX_MASK));
}

EPS_MUST_USE int64_t eps__handle_alloc(uint32_t type, void *obj, eps__destroy_fn destroy)
{
	if (type == 0 || type > EPS__HANDLE_TYPE_MAX || destroy == NULL)
		return eps__fail(EPS_EINVAL);

	pthread_mutex_lock(&table_lock);
	uint32_t index;
	struct slot *s;
	if (free_head != UINT32_MAX) {
		index = free_head;
		s = slot_at(index);
		free_head = s->next_free;
	} else {
		if (next_unused > INDEX_MASK) {
			pthread_mutex_unlock(&table_lock);
			eps__set_detail(EPS_ENOMEM, "handle table full (%u handles live)",
					next_unused);
			return -EPS_ENOMEM;
		}
		index = next_unused;
		if ((index & (CHUNK_SLOTS - 1)) == 0 && slot_at(index) == NULL) {
			struct slot *chunk = calloc(CHUNK_SLOTS, sizeof *chunk);
			if (chunk == NULL) {
				pthread_mutex_unlock(&table_lock);
				return eps__fail(EPS_ENOMEM);
			}
			for (uint32_t i = 0; i < CHUNK_SLOTS; i++)
				atomic_init(&chunk[i].state, (uint64_t)1 << 32);
			atomic_store_explicit(&chunks[index >> CHUNK_BITS], chunk, memory_order_release);
		}
		next_unused++;
		s = slot_at(index);
	}
	pthread_mutex_unlock(&table_lock);

	/* Nobody can acquire the slot until the live bit is published. */
	uint32_t gen = STATE_GEN(atomic_load_explicit(&s->state, memory_order_relaxed));
	atomic_store_explicit(&s->type, type, memory_order_relaxed);
	atomic_store_explicit(&s->obj, obj, memory_order_relaxed);
	s->destroy = destroy;
	atomic_fetch_add_explicit(&live_by_type[type], 1, memory_order_relaxed);
	atomic_store_explicit(&s->state, ((uint64_t)gen << 32) | STATE_LIVE, memory_order_release);
	return make_handle(gen, type, index);
}

/* Runs once per object, when it is dead and unreferenced. */
static void destroy_slot(struct slot *s, uint32_t index)
{
	uint32_t type = atomic_load_explicit(&s->type, memory_order_relaxed);
	void *obj = atomic_load_explicit(&s->obj, memory_order_relaxed);
	s->destroy(obj);
	atomic_fetch_sub_explicit(&live_by_type[type], 1, memory_order_relaxed);

	pthread_mutex_lock(&table_lock);
	uint32_t gen = STATE_GEN(atomic_load_explicit(&s->state, memory_order_relaxed)) + 1;
	if (gen == 0)
		gen = 1; /* generation 0 would make handle 0 possible */
	atomic_store_explicit(&s->obj, NULL, memory_order_relaxed);
	s->destroy = NULL;
	atomic_store_explicit(&s->state, (uint64_t)gen << 32, memory_order_release);
	s->next_free = free_head;
	free_head = index;
	pthread_mutex_unlock(&table_lock);
}

EPS_MUST_USE int eps__handle_acquire(int64_t handle, uint32_t type, void **obj)
{
	uint32_t gen, htype;
	struct slot *s = decode(handle, &gen, &htype);
	if (s == NULL || htype != type)
		return eps__fail(EPS_EBADHANDLE);

	uint64_t old = atomic_load_explicit(&s->state, memory_order_acquire);
	for (;;) {
		if (STATE_GEN(old) != gen || !(old & STATE_LIVE) || (old & STATE_REFS) == STATE_REFS)
			return eps__fail(EPS_EBADHANDLE);
		if (atomic_compare_exchange_weak_explicit(&s->state, &old, old + 1,
							  memory_order_acquire, memory_order_acquire))
			break;
	}
	if (atomic_load_explicit(&s->type, memory_order_relaxed) != type) {
		eps__handle_release(handle);
		return eps__fail(EPS_EBADHANDLE);
	}
	*obj = atomic_load_explicit(&s->obj, memory_order_relaxed);
	return 0;
}

void eps__handle_release(int64_t handle)
{
	uint32_t index = (uint32_t)((uint64_t)handle & INDEX_MASK);
	struct slot *s = slot_at(index);
	uint64_t old = atomic_fetch_sub_explicit(&s->state, 1, memory_order_acq_rel);
	if ((old & STATE_REFS) == 1 && !(old & STATE_LIVE))
		destroy_slot(s, index);
}

EPS_MUST_USE int eps__handle_free(int64_t handle, uint32_t type)
{
	uint32_t gen, htype;
	struct slot *s = decode(handle, &gen, &htype);
	if (s == NULL || htype != type)
		return eps__fail(EPS_EBADHANDLE);

	uint64_t old = atomic_load_explicit(&s->state, memory_order_acquire);
	for (;;) {
		if (STATE_GEN(old) != gen || !(old & STATE_LIVE))
			return eps__fail(EPS_EBADHANDLE);
		/* The type is stable while the slot is live with this generation. */
		if (atomic_load_explicit(&s->type, memory_order_relaxed) != type)
			return eps__fail(EPS_EBADHANDLE);
		if (atomic_compare_exchange_weak_explicit(&s->state, &old, old & ~STATE_LIVE,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	if ((old & STATE_REFS) == 0)
		destroy_slot(s, (uint32_t)((uint64_t)handle & INDEX_MASK));
	return 0;
}

EPS_EXPORT int64_t eps_handles_live(int32_t type)
{
	if (type < 0 || type > EPS__HANDLE_TYPE_MAX)
		return eps__fail(EPS_EINVAL);
	if (type != EPS_HANDLE_ANY)
		return atomic_load_explicit(&live_by_type[type], memory_order_relaxed);
	int64_t total = 0;
	for (int i = 1; i <= EPS__HANDLE_TYPE_MAX; i++)
		total += atomic_load_explicit(&live_by_type[i], memory_order_relaxed);
	return total;
}
