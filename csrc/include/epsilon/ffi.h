/* SPDX-License-Identifier: MIT */
/*
 * epsilon/ffi.h - calls whose signature is known only at run time, and C
 * function pointers that call back into Lisp, through libffi.
 *
 * A prepared call interface (a "CIF") describes one signature: a return
 * type and up to EPS_FFI_MAX_ARGS argument types, each an EPS_FFI_TYPE_
 * code.  It is a handle of kind EPS_HANDLE_FFI_CIF.  A call passes its
 * arguments as an array of 8-byte slots, one per argument, each holding
 * the value in its low bytes (little-endian: an int8_t in byte 0, a float
 * in bytes 0-3), and receives the result in one 8-byte slot, where an
 * integer narrower than 64 bits arrives widened to 64 bits.
 *
 * A closure is a handle of kind EPS_HANDLE_FFI_CLOSURE: executable code
 * with a given signature which, when C calls it, calls a dispatcher
 * function with the closure's id, the addresses of the arguments and the
 * address of the result slot.  Calling a closure's code after the closure
 * is freed is undefined behaviour, as for any freed C function pointer.
 */
#ifndef EPSILON_FFI_H
#define EPSILON_FFI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Argument and return types of a call interface or closure. */
enum eps_ffi_type {
	EPS_FFI_TYPE_VOID = 0,
	EPS_FFI_TYPE_SINT8 = 1,
	EPS_FFI_TYPE_UINT8 = 2,
	EPS_FFI_TYPE_SINT16 = 3,
	EPS_FFI_TYPE_UINT16 = 4,
	EPS_FFI_TYPE_SINT32 = 5,
	EPS_FFI_TYPE_UINT32 = 6,
	EPS_FFI_TYPE_SINT64 = 7,
	EPS_FFI_TYPE_UINT64 = 8,
	EPS_FFI_TYPE_FLOAT = 9,
	EPS_FFI_TYPE_DOUBLE = 10,
	EPS_FFI_TYPE_POINTER = 11
};

/** Limits of call interfaces and closures. */
enum eps_ffi_limits {
	EPS_FFI_MAX_ARGS = 32
};

/**
 * Prepare a call interface for a function returning RETURN_TYPE and taking
 * NARGS arguments whose types are the codes ARG_TYPES[0..NARGS-1] (one
 * byte each; EPS_FFI_TYPE_VOID is not an argument type).  ARG_TYPES may be
 * NULL when NARGS is 0.  Returns the handle (> 0), -EINVAL for a bad type
 * code, a NULL ARG_TYPES with NARGS > 0 or NARGS above EPS_FFI_MAX_ARGS,
 * -ENOMEM, or -EFFI when libffi refuses the signature.
 */
int64_t eps_ffi_cif_new(int32_t return_type, const uint8_t *arg_types, uint32_t nargs);

/**
 * Free the call interface CIF.  A call in progress on it finishes first.
 * Returns 0, or -EBADHANDLE for a value that is not a live call interface
 * (including a second free).
 */
int32_t eps_ffi_cif_free(int64_t cif);

/**
 * Call the C function at address FN through the call interface CIF.  ARGS
 * holds one 8-byte slot per argument, read and not modified (it may be
 * NULL when there are none);
 * the result is stored into the 8-byte slot RESULT, which may be NULL for
 * a function returning void.  Returns 0, -EBADHANDLE for a bad CIF, or
 * -EINVAL for a NULL FN, a NULL ARGS with arguments, or a NULL RESULT with
 * a non-void return type.
 */
int32_t eps_ffi_call(int64_t cif, void *fn, uint64_t *args, uint64_t *result);

/**
 * Make a closure: C code with return type RETURN_TYPE and the NARGS
 * argument types ARG_TYPES which, when called, calls DISPATCHER as
 * void dispatcher(int64_t id, void **args, void *result), where ID is the
 * given ID, ARGS[i] the address of argument i and RESULT the address of an
 * 8-byte result slot (integers narrower than 64 bits must be stored widened
 * to 64 bits).  Returns the closure handle (> 0), -EINVAL for bad types,
 * counts or a NULL DISPATCHER, -ENOMEM, or -EFFI.
 */
int64_t eps_ffi_closure_new(int32_t return_type, const uint8_t *arg_types, uint32_t nargs,
                            void *dispatcher, int64_t id);

/**
 * Store the address of the C code of CLOSURE into *ADDRESS.  Returns 0,
 * -EBADHANDLE for a bad closure, or -EINVAL for a NULL ADDRESS.
 */
int32_t eps_ffi_closure_address(int64_t closure, uint64_t *address);

/**
 * Free CLOSURE and its code.  Calling the code afterwards is undefined
 * behaviour.  Returns 0, or -EBADHANDLE for a value that is not a live
 * closure (including a second free).
 */
int32_t eps_ffi_closure_free(int64_t closure);

/**
 * Return VALUE.  Does nothing else: it measures the cost of one call from
 * Lisp in the FFI benchmark.
 */
int32_t eps_ffi_noop(int32_t value);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_FFI_H */
