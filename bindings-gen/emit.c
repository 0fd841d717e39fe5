/*
 * emit.c - the Lisp text of a checked header, built in memory so that the
 * caller writes a file only when every header passed its checks.  The text
 * is a pure function of the model: no time, no absolute path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define PACKAGE "epsilon.linux.bindings"
#define LIBRARY "libepsilon-linux"

struct buf {
	char *s;
	size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = gen_xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void printf_(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void printf_(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	char small[256];
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < (int)sizeof small) {
		put(b, small, (size_t)n);
	} else {
		char *big = gen_xmalloc((size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		put(b, big, (size_t)n);
		free(big);
	}
}

static char *lisp_name(const char *c_name, size_t skip, const char *prefix, const char *suffix)
{
	struct buf b = {0};
	puts_(&b, prefix);
	for (const char *p = c_name + skip; *p; p++) {
		char ch = *p;
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		else if (ch == '_')
			ch = '-';
		put(&b, &ch, 1);
	}
	puts_(&b, suffix);
	return b.s;
}

char *gen_function_lisp_name(const char *c_name)
{
	return lisp_name(c_name, 0, "%", "");
}

char *gen_constant_lisp_name(const char *c_name)
{
	return lisp_name(c_name, strlen("EPS_"), "+", "+");
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * A raw comment as plain text: the comment markers and each line's leading
 * ` * ` (or `///`) dropped, blank lines between paragraphs kept as one,
 * leading and trailing blank lines and trailing blanks dropped.
 */
char *gen_doc_text(const char *raw)
{
	size_t n = strlen(raw);
	char *text = gen_xmalloc(n + 1);
	struct buf lines = {0};
	const char *p;
	int pending_blank = 0, any = 0;

	memcpy(text, raw, n + 1);
	if (n >= 4 && strcmp(text + n - 2, "*/") == 0)
		text[n - 2] = 0;
	p = text;
	if (starts_with(p, "/**<") || starts_with(p, "///<"))
		p += 4;
	else if (starts_with(p, "/**") || starts_with(p, "///"))
		p += 3;

	for (;;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p, *e = p + len;
		/* Leading blanks, then the line's marker and one space. */
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (e - s >= 4 && starts_with(s, "///<"))
			s += 4;
		else if (e - s >= 3 && starts_with(s, "///"))
			s += 3;
		else if (s < e && *s == '*')
			s++;
		if (s < e && *s == ' ')
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e) {
			pending_blank = any;
		} else {
			if (pending_blank)
				puts_(&lines, "\n\n");
			else if (any)
				puts_(&lines, "\n");
			put(&lines, s, (size_t)(e - s));
			any = 1;
			pending_blank = 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	free(text);
	return lines.s ? lines.s : gen_xstrdup("");
}

/* The docstring of RAW, quoted, with `"` and `\` escaped. */
static void put_docstring(struct buf *out, const char *raw)
{
	char *text = gen_doc_text(raw);
	puts_(out, "\"");
	for (const char *q = text; *q; q++) {
		if (*q == '"' || *q == '\\')
			put(out, "\\", 1);
		put(out, q, 1);
	}
	puts_(out, "\"");
	free(text);
}

static int has_text(const char *raw)
{
	char *text = raw ? gen_doc_text(raw) : NULL;
	int yes = text && *text;
	free(text);
	return yes;
}

static void emit_constant(struct buf *b, const struct gen_constant *k)
{
	char *name = gen_constant_lisp_name(k->name);
	printf_(b, "\n(defconstant %s %s%llu", name, k->negative ? "-" : "",
		(unsigned long long)k->magnitude);
	if (has_text(k->doc)) {
		puts_(b, "\n  ");
		put_docstring(b, k->doc);
	}
	puts_(b, ")\n");
	free(name);
}

/*
 * The calls that move bytes: a uint8_t buffer and its size_t length in, an
 * int64_t (a count) back.  Declared inline, so a caller passing a buffer
 * at an offset (a computed address) or keeping the count conses nothing.
 */
static int moves_bytes(const struct gen_function *f)
{
	if (f->ret.class != GEN_TYPE_SCALAR || strcmp(f->ret.base, "int64_t") != 0)
		return 0;
	for (size_t i = 0; i + 1 < f->nparams; i++) {
		const struct gen_type *t = &f->params[i].type, *n = &f->params[i + 1].type;
		if (t->class == GEN_TYPE_POINTER && strcmp(t->base, "uint8_t") == 0 &&
		    n->class == GEN_TYPE_SCALAR && strcmp(n->base, "size_t") == 0)
			return 1;
	}
	return 0;
}

static void emit_function(struct buf *b, const struct gen_function *f)
{
	char *name = gen_function_lisp_name(f->name);
	printf_(b, "\n(defshared %s \"%s\" \"%s\" %s\n", name, f->name, LIBRARY,
		gen_type_keyword(&f->ret, 1));
	for (size_t i = 0; i < f->nparams; i++) {
		char *p = lisp_name(f->params[i].name, 0, "", "");
		printf_(b, "  (%s %s)\n", p, gen_type_keyword(&f->params[i].type, 0));
		free(p);
	}
	if (moves_bytes(f))
		puts_(b, "  :inline t\n");
	puts_(b, "  :documentation ");
	put_docstring(b, f->doc);
	puts_(b, ")\n");
	free(name);
}

static void put_banner(struct buf *b, const char *from)
{
	printf_(b, ";;;; Generated by bindings-gen from %s. Do not edit.\n", from);
}

char *gen_emit_header(const struct gen_header *h)
{
	struct buf b = {0};
	put_banner(&b, h->path);
	puts_(&b, "\n(in-package #:" PACKAGE ")\n");
	/* Enumerators, then literal macros, each in header order. */
	for (int pass = 0; pass < 2; pass++) {
		enum gen_constant_kind want = pass == 0 ? GEN_CONST_ENUMERATOR : GEN_CONST_MACRO;
		for (size_t i = 0; i < h->nconstants; i++)
			if (h->constants[i].kind == want &&
			    gen_is_public_constant(&h->constants[i]))
				emit_constant(&b, &h->constants[i]);
	}
	for (size_t i = 0; i < h->nfunctions; i++)
		emit_function(&b, &h->functions[i]);
	return b.s;
}

char *gen_emit_package(const struct gen_header *hs, size_t n, const char *from)
{
	struct buf b = {0};
	int last_was_comment = 0;
	put_banner(&b, from);
	puts_(&b, "\n(defpackage #:" PACKAGE "\n"
		  "  (:use #:cl)\n"
		  "  (:import-from #:epsilon.foreign #:defshared)\n"
		  "  (:documentation \"The generated declarations of " LIBRARY
		  ": internal, never exported to users.\")\n"
		  "  (:export");
	for (size_t i = 0; i < n; i++) {
		const struct gen_header *h = &hs[i];
		printf_(&b, "\n   ;; %s", h->path);
		last_was_comment = 1;
		for (int pass = 0; pass < 2; pass++) {
			enum gen_constant_kind want =
			    pass == 0 ? GEN_CONST_ENUMERATOR : GEN_CONST_MACRO;
			for (size_t j = 0; j < h->nconstants; j++) {
				const struct gen_constant *k = &h->constants[j];
				char *name;
				if (k->kind != want || !gen_is_public_constant(k))
					continue;
				name = gen_constant_lisp_name(k->name);
				printf_(&b, "\n   #:%s", name);
				free(name);
				last_was_comment = 0;
			}
		}
		for (size_t j = 0; j < h->nfunctions; j++) {
			char *name = gen_function_lisp_name(h->functions[j].name);
			printf_(&b, "\n   #:%s", name);
			free(name);
			last_was_comment = 0;
		}
	}
	/* A comment would swallow the closing parentheses. */
	puts_(&b, last_was_comment ? "\n   ))\n" : "))\n");
	return b.s;
}
