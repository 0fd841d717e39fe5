/* SPDX-License-Identifier: MIT */
/*
 * codes.c - the X-macro code tables of a header, as the emitters see
 * them: a code by value, and the enumerators that are a code's second name.
 */
#include <string.h>

#include "codes.h"
#include "model.h"
#include "names.h"

static const struct gen_code *code_named(const struct gen_header *h, const char *name)
{
	for (size_t j = 0; j < h->ncodes; j++)
		if (strcmp(h->codes[j].name, name) == 0)
			return &h->codes[j];
	return NULL;
}

const struct gen_code *gen_code_valued(const struct gen_header *h, uint64_t value)
{
	for (size_t j = 0; j < h->ncodes; j++)
		if (h->codes[j].value == value)
			return &h->codes[j];
	return NULL;
}

static int same_group(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

size_t gen_code_second_names(const struct gen_header *h, const struct gen_constant ***out)
{
	const char *group = NULL;
	int have_group = 0;
	size_t n = 0;
	*out = NULL;
	if (h->ncodes == 0)
		return 0;
	/* The codes' enum is the one holding EPS_ + the first code's name. */
	for (size_t j = 0; j < h->nconstants && !have_group; j++)
		if (h->constants[j].kind == GEN_CONST_ENUMERATOR &&
		    strncmp(h->constants[j].name, "EPS_", 4) == 0 &&
		    strcmp(h->constants[j].name + strlen("EPS_"), h->codes[0].name) == 0) {
			group = h->constants[j].group;
			have_group = 1;
		}
	if (!have_group)
		return 0;
	for (size_t j = 0; j < h->nconstants; j++) {
		const struct gen_constant *k = &h->constants[j];
		if (k->kind != GEN_CONST_ENUMERATOR || !gen_is_public_constant(k) ||
		    k->negative || !same_group(k->group, group) ||
		    code_named(h, k->name + strlen("EPS_")) || !gen_code_valued(h, k->magnitude))
			continue;
		*out = gen_xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n++] = k;
	}
	return n;
}
