/* SPDX-License-Identifier: MIT */
/*
 * names.c - C names and types to Lisp ones.
 *
 * The naming rule is written once, here: lowercase, `_` becomes `-`.
 *
 * The type table is the one mapping from C types to the type keywords of
 * epsilon.foreign.  Types are matched by the name the header spells
 * (int32_t, size_t), never by the canonical type: `int` is refused even
 * where it is the same type as int32_t, because the ABI promises
 * fixed-width types only.
 */
#include <string.h>

#include "buf.h"
#include "model.h"
#include "names.h"

char *gen_lisp_name(const char *c_name, size_t skip, const char *prefix, const char *suffix)
{
	struct buf b = {0};
	buf_puts(&b, prefix);
	for (const char *p = c_name + skip; *p; p++) {
		char ch = *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (ch == '_')
			ch = '-';
		buf_put(&b, &ch, 1);
	}
	buf_puts(&b, suffix);
	return b.s ? b.s : gen_xstrdup("");
}

char *gen_function_lisp_name(const char *c_name)
{
	return gen_lisp_name(c_name, 0, "%", "");
}

char *gen_constant_lisp_name(const char *c_name)
{
	return gen_lisp_name(c_name, strlen("EPS_"), "+", "+");
}

char *gen_plain_lisp_name(const char *c_name)
{
	return gen_lisp_name(c_name, 0, "", "");
}

int gen_is_public_constant(const struct gen_constant *k)
{
	return strncmp(k->name, "EPS_", 4) == 0 && strncmp(k->name, "EPS__", 5) != 0;
}

enum { ANY_SIGN = -1 };

struct type_entry {
	const char *name;
	int pointer;	/* 1: a pointer to NAME (const or not) */
	int need_const; /* pointer: only `const NAME *` */
	int return_only;
	long long size; /* expected sizeof NAME, -1 for void/unchecked */
	int is_signed;	/* expected signedness, or ANY_SIGN */
	const char *keyword;
};

/* clang-format off */
static const struct type_entry type_table[] = {
	{"int32_t", 0, 0, 0, 4, 1, ":int"},
	{"uint32_t", 0, 0, 0, 4, 0, ":unsigned-int"},
	{"int64_t", 0, 0, 0, 8, 1, ":long"},
	{"uint64_t", 0, 0, 0, 8, 0, ":unsigned-long"},
	{"size_t", 0, 0, 0, 8, 0, ":unsigned-long"},
	{"void", 0, 0, 1, -1, ANY_SIGN, ":void"},
	{"char", 1, 1, 0, 1, ANY_SIGN, ":string"},
	{"void", 1, 0, 0, -1, ANY_SIGN, ":pointer"},
	{"int8_t", 1, 0, 0, 1, 1, ":pointer"},
	{"uint8_t", 1, 0, 0, 1, 0, ":pointer"},
	{"int16_t", 1, 0, 0, 2, 1, ":pointer"},
	{"uint16_t", 1, 0, 0, 2, 0, ":pointer"},
	{"int32_t", 1, 0, 0, 4, 1, ":pointer"},
	{"uint32_t", 1, 0, 0, 4, 0, ":pointer"},
	{"int64_t", 1, 0, 0, 8, 1, ":pointer"},
	{"uint64_t", 1, 0, 0, 8, 0, ":pointer"},
};
/* clang-format on */

static const struct type_entry *lookup_type(const struct gen_type *t, int is_return)
{
	int pointer;
	if (t->class == GEN_TYPE_SCALAR)
		pointer = 0;
	else if (t->class == GEN_TYPE_POINTER)
		pointer = 1;
	else
		return NULL;
	for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++) {
		const struct type_entry *e = &type_table[i];
		if (e->pointer != pointer || strcmp(e->name, t->base) != 0)
			continue;
		if (e->return_only && !is_return)
			return NULL;
		if (e->need_const && !t->pointee_const)
			return NULL;
		/* The name must also be the type it claims to be. */
		if (e->size != -1 && e->size != t->base_size)
			return NULL;
		if (e->is_signed != ANY_SIGN && e->is_signed != t->base_signed)
			return NULL;
		return e;
	}
	return NULL;
}

const char *gen_type_keyword(const struct gen_type *t, int is_return)
{
	const struct type_entry *e = lookup_type(t, is_return);
	return e ? e->keyword : NULL;
}
