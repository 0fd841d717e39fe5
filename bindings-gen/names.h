/* SPDX-License-Identifier: MIT */
/*
 * names.h - how C names and types become Lisp ones: the one naming rule
 * (lowercase, `_` to `-`) and the one type table.  Below everything that
 * checks or emits (check.c, emit.c, emit_md.c); calls nothing of theirs.
 */
#ifndef BINDINGS_GEN_NAMES_H
#define BINDINGS_GEN_NAMES_H

#include <stddef.h>

#include "model.h"

/*
 * The naming rule: PREFIX, C_NAME from byte SKIP on, lowercased with `_`
 * as `-`, then SUFFIX (malloc'd).  ("EPS_AF_INET", 4, "+", "+") -> "+af-inet+".
 */
char *gen_lisp_name(const char *c_name, size_t skip, const char *prefix, const char *suffix);

/* "eps_close" -> "%eps-close" (malloc'd). */
char *gen_function_lisp_name(const char *c_name);
/* "EPS_AF_INET" -> "+af-inet+" (malloc'd). */
char *gen_constant_lisp_name(const char *c_name);
/* "buf_len" -> "buf-len": a parameter, a keyword's name, a class (malloc'd). */
char *gen_plain_lisp_name(const char *c_name);

/* An EPS_ name that is not EPS__ internal machinery. */
int gen_is_public_constant(const struct gen_constant *k);

/* The Lisp type keyword of a type, or NULL when the table refuses it. */
const char *gen_type_keyword(const struct gen_type *t, int is_return);

#endif
