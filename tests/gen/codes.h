/*
 * codes.h - a fixture for bindings-gen's error table: an X-macro code
 * table with messages (read from the macro's tokens), a second name for a
 * code, a table with the condition class column and one without, and
 * tables that are not code tables.  Expected output: codes-errors.md
 * (--errors-out) and codes.lisp (the code constants and classes).
 */
#ifndef CODES_H
#define CODES_H

#include <stddef.h>
#include <stdint.h>

/* The first table: X(NAME, value, CLASS, message). */
#define EPS__FIRST_CODES(X)                                                   \
	X(EONE, 1, SUBSYSTEM, "the first code")                               \
	X(ETWO, 2, SOME_ERROR, "a \"quoted\" | piped message")

/* The second table, above 4096, without the class column. */
#define EPS__SECOND_CODES(X) X(EBIG, 4097, "a code of our own")

/* Not code tables: two-argument entries, and the enumerator makers. */
#define EPS__PAIRS(X) X(ALPHA, 1) X(BETA, 2)
#define EPS__ENUMERATOR(name, value, class, message) EPS_##name = value,
#define EPS__ENUMERATOR3(name, value, message) EPS_##name = value,

/** The codes. */
enum eps_codes {
	EPS__FIRST_CODES(EPS__ENUMERATOR)
	EPS__SECOND_CODES(EPS__ENUMERATOR3)
	EPS_ESAME = 2,
	EPS_CODES_MAX = 4096
};

/** Not a code although its value is one: another enum. */
enum eps_other { EPS_OTHER_ONE = 1 };

/**
 * Return the message of CODE.
 */
const char *eps_codes_message(int32_t code);

#endif
