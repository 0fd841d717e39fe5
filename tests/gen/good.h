/*
 * good.h - a fixture for bindings-gen: every construct it supports.
 * The expected output is good.lisp, byte for byte.
 */
#ifndef GOOD_H
#define GOOD_H

#include <stddef.h>
#include <stdint.h>

/* Internal machinery: skipped, as is everything named EPS__. */
#define EPS__TABLE(X) X(ALPHA, 1) X(BETA, 2)
#define EPS__ENTRY(name, value) EPS_##name = value,
#define EPS__LIMIT 12
#define GOOD_NOT_OURS 7

/** Colours. */
enum eps_good {
	EPS__TABLE(EPS__ENTRY)
	EPS_GOOD_HEX = 0x7f,
	/** A negative value, documented. */
	EPS_GOOD_NEGATIVE = -5,
	EPS_GOOD_LARGE = 0x7fffffff, /**< The largest enumerator. */
	EPS__GOOD_HIDDEN = 3,
	EPS_GOOD_OCTAL = 010
};

/** A flag at or above 2^31, so a macro: "quoted". */
#define EPS_GOOD_TOP 0x80000000u
#define EPS_GOOD_WIDE 18446744073709551615ULL
#define EPS_GOOD_LONG 42L /**< A trailing doc comment. */

/**
 * Take one argument of every scalar type.
 *
 * A second paragraph with "quotes", a back\slash and C:\path\.
 *
 *   An indented line.
 */
int32_t eps_good_scalars(int32_t a, uint32_t b, int64_t c, uint64_t d, size_t e_len);

/** Take every kind of pointer (inline, as is every function taking a pointer). */
int64_t eps_good_pointers(void *p, const void *cp, uint8_t *buf, const uint8_t *cbuf,
			  int8_t *i8, uint16_t *u16, int16_t *i16, uint32_t *u32,
			  int32_t *i32, uint64_t *u64, const int64_t *ci64, const char *name);

/** Move bytes: a buffer, its length, a count back (inline: a pointer). */
int64_t eps_good_read(int32_t fd, uint8_t *buf, size_t len);

/** No parameters, nothing returned. */
void eps_good_nothing(void);

/** Return a static string. */
const char *eps_good_string(void);

/** Take a string: no pointer parameter, so not inline. */
int32_t eps_good_named(const char *name);

/** Parameter names are lowercased: MixedCase becomes mixedcase. */
uint64_t eps_good_unsigned(uint32_t MixedCase);

/**
 * Return a size_t.
 */
size_t eps_good_size(const int32_t *x);

#endif
