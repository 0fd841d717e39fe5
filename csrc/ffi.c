/* SPDX-License-Identifier: MIT */
/*
 * ffi.c - libffi call interfaces and closures behind handles.
 *
 * The Lisp side caches one call interface per signature, so preparing is
 * rare and calling is the hot path: eps_ffi_call takes one handle
 * reference, points libffi at the caller's 8-byte slots and calls.
 */
#include <ffi.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The slot layout promised in ffi.h needs these. */
_Static_assert(sizeof(ffi_arg) == 8, "libffi widens integer results to 8 bytes");
_Static_assert(sizeof(void *) == 8, "pointers fill an 8-byte slot");

struct cif {
	ffi_cif cif;
	ffi_type *types[EPS_FFI_MAX_ARGS];
};

struct closure {
	struct cif sig;
	ffi_closure *closure;
	void *code;
	void (*dispatch)(int64_t id, void **args, void *result);
	int64_t id;
};

static ffi_type *ffi_type_of(int32_t code)
{
	switch (code) {
	case EPS_FFI_TYPE_VOID: return &ffi_type_void;
	case EPS_FFI_TYPE_SINT8: return &ffi_type_sint8;
	case EPS_FFI_TYPE_UINT8: return &ffi_type_uint8;
	case EPS_FFI_TYPE_SINT16: return &ffi_type_sint16;
	case EPS_FFI_TYPE_UINT16: return &ffi_type_uint16;
	case EPS_FFI_TYPE_SINT32: return &ffi_type_sint32;
	case EPS_FFI_TYPE_UINT32: return &ffi_type_uint32;
	case EPS_FFI_TYPE_SINT64: return &ffi_type_sint64;
	case EPS_FFI_TYPE_UINT64: return &ffi_type_uint64;
	case EPS_FFI_TYPE_FLOAT: return &ffi_type_float;
	case EPS_FFI_TYPE_DOUBLE: return &ffi_type_double;
	case EPS_FFI_TYPE_POINTER: return &ffi_type_pointer;
	default: return NULL;
	}
}

/* Fill SIG from the caller's type codes; 0 or a negative code. */
static EPS_MUST_USE int32_t prepare(struct cif *sig, int32_t return_type, const uint8_t *arg_types, uint32_t nargs)
{
	if (nargs > EPS_FFI_MAX_ARGS || (nargs > 0 && arg_types == NULL)) {
		eps__set_detail(EPS_EINVAL, "ffi: %u arguments (at most %d), types %s", nargs,
				EPS_FFI_MAX_ARGS, arg_types ? "given" : "NULL");
		return -EPS_EINVAL;
	}
	ffi_type *rtype = ffi_type_of(return_type);
	if (rtype == NULL) {
		eps__set_detail(EPS_EINVAL, "ffi: bad return type code %d", return_type);
		return -EPS_EINVAL;
	}
	for (uint32_t i = 0; i < nargs; i++) {
		ffi_type *t = ffi_type_of(arg_types[i]);
		if (t == NULL || t == &ffi_type_void) {
			eps__set_detail(EPS_EINVAL, "ffi: bad type code %u for argument %u",
					arg_types[i], i);
			return -EPS_EINVAL;
		}
		sig->types[i] = t;
	}
	if (ffi_prep_cif(&sig->cif, FFI_DEFAULT_ABI, nargs, rtype, sig->types) != FFI_OK) {
		eps__set_detail(EPS_EFFI, "ffi: ffi_prep_cif refused the signature");
		return -EPS_EFFI;
	}
	return 0;
}

static void destroy_cif(void *obj)
{
	free(obj);
}

EPS_EXPORT int64_t eps_ffi_cif_new(int32_t return_type, const uint8_t *arg_types, uint32_t nargs)
{
	struct cif *sig = calloc(1, sizeof *sig);
	if (sig == NULL)
		return eps__fail(EPS_ENOMEM);
	int32_t r = prepare(sig, return_type, arg_types, nargs);
	if (r < 0) {
		free(sig);
		return r;
	}
	int64_t h = eps__handle_alloc(EPS_HANDLE_FFI_CIF, sig, destroy_cif);
	if (h < 0)
		free(sig);
	return h;
}

EPS_EXPORT int32_t eps_ffi_cif_free(int64_t cif)
{
	return eps__handle_free(cif, EPS_HANDLE_FFI_CIF);
}

EPS_EXPORT int32_t eps_ffi_call(int64_t cif, void *fn, uint64_t *args, uint64_t *result)
{
	struct cif *sig;
	if (eps__handle_acquire(cif, EPS_HANDLE_FFI_CIF, (void **)&sig) < 0)
		return eps__fail(EPS_EBADHANDLE);
	unsigned nargs = sig->cif.nargs;
	int32_t r = 0;
	if (fn == NULL || (nargs > 0 && args == NULL) ||
	    (result == NULL && sig->cif.rtype != &ffi_type_void)) {
		r = eps__fail(EPS_EINVAL);
		goto done;
	}
	void *avalues[EPS_FFI_MAX_ARGS];
	for (unsigned i = 0; i < nargs; i++)
		avalues[i] = (void *)&args[i];
	uint64_t scratch;
	ffi_call(&sig->cif, FFI_FN(fn), result ? (void *)result : (void *)&scratch, avalues);
done:
	eps__handle_release(cif);
	return r;
}

/* libffi calls this with the closure's arguments; hand them to Lisp. */
static void closure_entry(ffi_cif *cif, void *result, void **args, void *data)
{
	(void)cif;
	struct closure *c = data;
	c->dispatch(c->id, args, result);
}

static void destroy_closure(void *obj)
{
	struct closure *c = obj;
	if (c->closure != NULL)
		ffi_closure_free(c->closure);
	free(c);
}

EPS_EXPORT int64_t eps_ffi_closure_new(int32_t return_type, const uint8_t *arg_types, uint32_t nargs,
				       void *dispatcher, int64_t id)
{
	if (dispatcher == NULL)
		return eps__fail(EPS_EINVAL);
	struct closure *c = calloc(1, sizeof *c);
	if (c == NULL)
		return eps__fail(EPS_ENOMEM);
	int64_t r = prepare(&c->sig, return_type, arg_types, nargs);
	if (r < 0)
		goto fail;
	c->closure = ffi_closure_alloc(sizeof(ffi_closure), &c->code);
	if (c->closure == NULL) {
		r = eps__fail(EPS_ENOMEM);
		goto fail;
	}
	/* A data pointer converted to a function pointer: POSIX guarantees it works. */
	memcpy(&c->dispatch, &dispatcher, sizeof c->dispatch);
	c->id = id;
	if (ffi_prep_closure_loc(c->closure, &c->sig.cif, closure_entry, c, c->code) != FFI_OK) {
		eps__set_detail(EPS_EFFI, "ffi: ffi_prep_closure_loc failed");
		r = -EPS_EFFI;
		goto fail;
	}
	r = eps__handle_alloc(EPS_HANDLE_FFI_CLOSURE, c, destroy_closure);
	if (r < 0)
		goto fail;
	return r;
fail:
	destroy_closure(c);
	return r;
}

EPS_EXPORT int32_t eps_ffi_closure_address(int64_t closure, uint64_t *address)
{
	if (address == NULL)
		return eps__fail(EPS_EINVAL);
	struct closure *c;
	if (eps__handle_acquire(closure, EPS_HANDLE_FFI_CLOSURE, (void **)&c) < 0)
		return eps__fail(EPS_EBADHANDLE);
	*address = (uint64_t)(uintptr_t)c->code;
	eps__handle_release(closure);
	return 0;
}

EPS_EXPORT int32_t eps_ffi_closure_free(int64_t closure)
{
	return eps__handle_free(closure, EPS_HANDLE_FFI_CLOSURE);
}

EPS_EXPORT int32_t eps_ffi_noop(int32_t value)
{
	return value;
}
