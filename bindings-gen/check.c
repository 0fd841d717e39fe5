/* SPDX-License-Identifier: MIT */
/*
 * check.c - what the generator refuses, each refusal printed as
 * `file:line: error: message`.  Everything is checked before anything is
 * written, and every error in a header is reported, not just the first.
 * What a type maps to is names.c's type table; here is only why a type
 * it refuses is refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "model.h"
#include "names.h"

/* Refusals are collected, then printed in line order, as a compiler does. */
struct refusal {
	const char *file;
	unsigned line;
	size_t seq;
	char *message;
};

struct checker {
	const struct gen_header *h;
	struct refusal *v;
	size_t errors;
};

static void refuse(struct checker *c, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(struct checker *c, const char *file, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;
	struct refusal *r;
	c->v = gen_xrealloc(c->v, (c->errors + 1) * sizeof *c->v);
	r = &c->v[c->errors];
	r->file = file;
	r->line = line;
	r->seq = c->errors++;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	r->message = gen_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(r->message, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

static int cmp_refusal(const void *a, const void *b)
{
	const struct refusal *x = a, *y = b;
	int f = strcmp(x->file, y->file);
	if (f)
		return f;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void print_refusals(struct checker *c)
{
	if (c->errors == 0)
		return; /* qsort wants a non-NULL array even for 0 elements */
	qsort(c->v, c->errors, sizeof *c->v, cmp_refusal);
	for (size_t i = 0; i < c->errors; i++) {
		fprintf(stderr, "%s:%u: error: %s\n", c->v[i].file, c->v[i].line, c->v[i].message);
		free(c->v[i].message);
	}
	free(c->v);
	c->v = NULL;
}

/* C's own integer and character types, which the ABI replaces. */
static int is_plain_c_type(const char *base)
{
	static const char *const words[] = {"char", "short", "int", "long", "signed", "unsigned"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		size_t n = strlen(words[i]);
		if (strncmp(base, words[i], n) == 0 && (base[n] == 0 || base[n] == ' '))
			return 1;
	}
	return 0;
}

static void check_type(struct checker *c, const struct gen_type *t, int is_return, unsigned line,
		       const char *fn, const char *what)
{
	const char *why;
	if (gen_type_keyword(t, is_return))
		return;
	switch (t->class) {
	case GEN_TYPE_RECORD:
		why = "a struct or union is not allowed in a prototype";
		break;
	case GEN_TYPE_ENUM:
		why = "an enum type is not allowed in a prototype (use int32_t)";
		break;
	case GEN_TYPE_FUNCTION:
		why = "a function pointer is not allowed in a prototype";
		break;
	default:
		if (t->class == GEN_TYPE_SCALAR && strcmp(t->base, "void") == 0)
			why = "void is allowed only as a return type";
		else if (t->class == GEN_TYPE_POINTER && strcmp(t->base, "char") == 0)
			why = "unknown type (a string is 'const char *', a buffer 'uint8_t *')";
		else if (t->class == GEN_TYPE_SCALAR && is_plain_c_type(t->base))
			why = "unknown type (use a fixed-width type: int32_t, uint32_t, int64_t, "
			      "uint64_t, size_t)";
		else
			why = "unknown type (not in the fixed-width type table)";
		break;
	}
	refuse(c, c->h->path, line, "%s of '%s' has type '%s': %s", what, fn, t->spelling, why);
}

/* Names that are constants in COMMON-LISP: binding one is an error. */
static const char *const cl_constants[] = {
    "t",
    "nil",
    "pi",
    "most-positive-fixnum",
    "most-negative-fixnum",
    "array-dimension-limit",
    "array-rank-limit",
    "array-total-size-limit",
    "call-arguments-limit",
    "char-code-limit",
    "lambda-list-keywords",
    "lambda-parameters-limit",
    "multiple-values-limit",
    "internal-time-units-per-second",
};

static int is_cl_constant(const char *lisp_name)
{
	for (size_t i = 0; i < sizeof cl_constants / sizeof cl_constants[0]; i++)
		if (strcmp(cl_constants[i], lisp_name) == 0)
			return 1;
	/* The float limits and boole-* operators, by their shape. */
	return strncmp(lisp_name, "boole-", 6) == 0 ||
	       strncmp(lisp_name, "most-positive-", 14) == 0 ||
	       strncmp(lisp_name, "most-negative-", 14) == 0 ||
	       strncmp(lisp_name, "least-positive-", 15) == 0 ||
	       strncmp(lisp_name, "least-negative-", 15) == 0;
}

static int is_doc_block(const char *doc)
{
	/* A block above the prototype: not `///`, not a trailing `/ **<`. */
	return doc && strncmp(doc, "/**", 3) == 0 && doc[3] != '/' && doc[3] != '<';
}

static void check_function(struct checker *c, const struct gen_function *f)
{
	const char *path = c->h->path;
	if (strncmp(f->name, "eps_", 4) != 0) {
		refuse(c, path, f->line, "function '%s' is not named eps_...", f->name);
	} else if (strncmp(f->name, "eps__", 5) == 0) {
		refuse(c, path, f->line,
		       "function '%s' is internal (eps__) and does not belong in a public header",
		       f->name);
	}
	if (f->is_definition)
		refuse(c, path, f->line, "function '%s' is defined in the header: declare it only",
		       f->name);
	if (!is_doc_block(f->doc)) {
		refuse(c, path, f->line, "function '%s' has no /** ... */ doc block", f->name);
	} else {
		char *text = gen_doc_text(f->doc);
		if (!*text)
			refuse(c, path, f->line, "function '%s' has an empty doc block", f->name);
		free(text);
	}
	if (f->variadic)
		refuse(c, path, f->line, "function '%s' is variadic", f->name);
	if (f->no_prototype)
		refuse(c, path, f->line, "function '%s' has no prototype: write %s(void)", f->name,
		       f->name);
	check_type(c, &f->ret, 1, f->line, f->name, "the return value");
	for (size_t i = 0; i < f->nparams; i++) {
		const struct gen_param *p = &f->params[i];
		char *lisp;
		if (!p->name) {
			refuse(c, path, p->line, "parameter %zu of '%s' has no name", i + 1,
			       f->name);
			continue;
		}
		lisp = gen_plain_lisp_name(p->name);
		/* `_1` would read as the number -1, `_` as the variable `-`. */
		if (p->name[0] == '_')
			refuse(c, path, p->line,
			       "parameter '%s' of '%s' starts with '_': Lisp would read %s",
			       p->name, f->name, lisp);
		if (is_cl_constant(lisp))
			refuse(
			    c, path, p->line,
			    "parameter '%s' of '%s' names a Common Lisp constant (%s): rename it",
			    p->name, f->name, lisp);
		for (size_t j = 0; j < i; j++) {
			char *other;
			if (!f->params[j].name)
				continue;
			other = gen_plain_lisp_name(f->params[j].name);
			if (strcmp(other, lisp) == 0)
				refuse(
				    c, path, p->line,
				    "parameters '%s' and '%s' of '%s' have the same Lisp name %s",
				    f->params[j].name, p->name, f->name, lisp);
			free(other);
		}
		free(lisp);
		{
			char what[64];
			snprintf(what, sizeof what, "parameter '%.40s'", p->name);
			check_type(c, &p->type, 0, p->line, f->name, what);
		}
	}
}

static void check_constant(struct checker *c, const struct gen_constant *k)
{
	if (k->kind == GEN_CONST_ENUMERATOR) {
		/* ISO C enumerators are ints; larger flags are literal macros. */
		if (k->magnitude > (k->negative ? UINT64_C(0x80000000) : UINT64_C(0x7fffffff)))
			refuse(c, c->h->path, k->line,
			       "enumerator '%s' does not fit in int: define it as a macro "
			       "with a single literal (#define %s 0x...u)",
			       k->name, k->name);
		return;
	}
	if (k->function_like)
		refuse(
		    c, c->h->path, k->line,
		    "function-like macro '%s': public EPS_ macros must be a single integer literal "
		    "(name internal machinery EPS__...)",
		    k->name);
	else if (!k->literal_ok)
		refuse(c, c->h->path, k->line, "macro '%s' is not a single integer literal",
		       k->name);
}

/* Two items of one header must not become one Lisp name. */
static void check_duplicates(struct checker *c)
{
	const struct gen_header *h = c->h;
	for (size_t i = 0; i < h->nconstants; i++) {
		if (!gen_is_public_constant(&h->constants[i]))
			continue;
		for (size_t j = 0; j < i; j++) {
			if (!gen_is_public_constant(&h->constants[j]))
				continue;
			if (strcmp(h->constants[i].name, h->constants[j].name) == 0)
				refuse(c, h->path, h->constants[i].line,
				       "constant '%s' is defined twice (first at line %u)",
				       h->constants[i].name, h->constants[j].line);
		}
	}
	for (size_t i = 0; i < h->nfunctions; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(h->functions[i].name, h->functions[j].name) == 0)
				refuse(c, h->path, h->functions[i].line,
				       "function '%s' is declared twice (first at line %u)",
				       h->functions[i].name, h->functions[j].line);
}

size_t gen_check(const struct gen_header *h)
{
	struct checker c = {h, NULL, 0};
	for (size_t i = 0; i < h->ndiags; i++)
		refuse(&c, h->diags[i].file, h->diags[i].line, "%s", h->diags[i].message);
	for (size_t i = 0; i < h->nconstants; i++)
		if (gen_is_public_constant(&h->constants[i]))
			check_constant(&c, &h->constants[i]);
	for (size_t i = 0; i < h->nfunctions; i++)
		check_function(&c, &h->functions[i]);
	check_duplicates(&c);
	print_refusals(&c);
	return c.errors;
}

/* One Lisp name and where it comes from, for the check across headers. */
struct origin {
	char *lisp;
	const char *c_name;
	const char *path;
	unsigned line;
};

static void add_origin(struct origin **v, size_t *n, char *lisp, const char *c_name,
		       const char *path, unsigned line)
{
	*v = gen_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[*n] = (struct origin){lisp, c_name, path, line};
	(*n)++;
}

size_t gen_check_across(const struct gen_header *hs, size_t n)
{
	struct origin *v = NULL;
	size_t nv = 0, errors = 0;
	for (size_t i = 0; i < n; i++) {
		const struct gen_header *h = &hs[i];
		for (size_t j = 0; j < h->nconstants; j++)
			if (gen_is_public_constant(&h->constants[j]))
				add_origin(&v, &nv, gen_constant_lisp_name(h->constants[j].name),
					   h->constants[j].name, h->path, h->constants[j].line);
		for (size_t j = 0; j < h->nfunctions; j++)
			add_origin(&v, &nv, gen_function_lisp_name(h->functions[j].name),
				   h->functions[j].name, h->path, h->functions[j].line);
	}
	/* Within one header check_duplicates has spoken: only across headers here. */
	for (size_t i = 0; i < nv; i++) {
		for (size_t j = 0; j < i; j++) {
			if (v[i].path == v[j].path || strcmp(v[i].lisp, v[j].lisp) != 0)
				continue;
			fprintf(stderr,
				"%s:%u: error: '%s' is also declared at %s:%u (Lisp name %s)\n",
				v[i].path, v[i].line, v[i].c_name, v[j].path, v[j].line, v[i].lisp);
			errors++;
			break;
		}
	}
	for (size_t i = 0; i < nv; i++)
		free(v[i].lisp);
	free(v);
	return errors;
}
