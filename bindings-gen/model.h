/* SPDX-License-Identifier: MIT */
/*
 * model.h - the plain C model of one public header, as bindings-gen sees
 * it: constants and functions with the file:line of each, independent of
 * libclang.  model.c fills it, check.c validates it, emit.c writes Lisp,
 * emit_md.c Markdown; the naming rule and type table they share are
 * names.c's, doc comment text doc.c's.
 */
#ifndef BINDINGS_GEN_MODEL_H
#define BINDINGS_GEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* What a type is underneath its spelling, for the refusals. */
enum gen_type_class {
	GEN_TYPE_SCALAR,   /* a builtin or typedef'd arithmetic type, or void */
	GEN_TYPE_POINTER,  /* one pointer to a scalar or void */
	GEN_TYPE_RECORD,   /* struct or union, or a pointer to one */
	GEN_TYPE_ENUM,	   /* an enum, or a pointer to one */
	GEN_TYPE_FUNCTION, /* a function pointer */
	GEN_TYPE_OTHER,	   /* arrays, pointers to pointers, ... */
};

struct gen_type {
	char *spelling; /* as clang prints it: "const uint8_t *" */
	enum gen_type_class class;
	char *base;	     /* scalar: its name without qualifiers
				("int32_t", "int", "void"); pointer: the
				pointee's name without qualifiers */
	int pointee_const;   /* pointer: the pointee is const */
	long long base_size; /* sizeof the base type, -1 for void */
	int base_signed;     /* the base is a signed integer type */
};

struct gen_param {
	char *name; /* NULL when unnamed */
	struct gen_type type;
	unsigned line;
};

struct gen_function {
	char *name;
	struct gen_type ret;
	struct gen_param *params;
	size_t nparams;
	int variadic;
	int no_prototype;  /* declared as f(), not f(void) */
	int is_definition; /* has a body in the header */
	char *doc;	   /* raw comment text, NULL when none */
	unsigned line;
};

enum gen_constant_kind { GEN_CONST_ENUMERATOR, GEN_CONST_MACRO };

struct gen_constant {
	char *name;
	enum gen_constant_kind kind;
	int negative; /* value is -magnitude */
	uint64_t magnitude;
	int literal_ok;	   /* macro: body is one integer literal */
	int function_like; /* macro: has a parameter list */
	char *doc;	   /* raw comment text, NULL when none */
	char *group;	   /* enumerator: its enum's name ("eps_error"), or
			      NULL for an anonymous enum or a macro */
	char *group_doc;   /* enumerator: its enum's raw doc comment, or NULL */
	unsigned line;
};

/*
 * One entry of an X-macro code table: a function-like EPS__ macro of one
 * parameter X whose body is only X(NAME, integer, CLASS, "message") (or
 * X(NAME, integer, "message")) calls, like EPS__ERRNO_CODES in errors.h.
 * The class and message are read from the macro's tokens: after
 * preprocessing they are gone.
 */
struct gen_code {
	char *table; /* the table macro: "EPS__ERRNO_CODES" */
	char *name;  /* "ECONNREFUSED" (the enumerator is EPS_ + name) */
	uint64_t value;
	char *class; /* the condition class column ("TLS_ERROR"), or NULL */
	char *message; /* the C string literal's text, unescaped */
	unsigned line; /* the line of the table's #define */
};

/* One diagnostic libclang reported while parsing. */
struct gen_diag {
	char *file; /* as clang names it */
	unsigned line;
	char *message;
};

struct gen_header {
	char *path;			/* relative to the source root, as given */
	struct gen_constant *constants; /* enumerators and macros, header order */
	size_t nconstants;
	struct gen_function *functions; /* header order */
	size_t nfunctions;
	struct gen_code *codes; /* X-macro code tables, header order */
	size_t ncodes;
	struct gen_diag *diags; /* parse errors */
	size_t ndiags;
};

/*
 * Parse SOURCE_ROOT/PATH with -ISOURCE_ROOT/csrc/include into H.  Returns 0,
 * or -1 with a message on stderr when the header could not be read at all.
 */
int gen_model_load(struct gen_header *h, const char *source_root, const char *path);
void gen_model_free(struct gen_header *h);

/* check.c: print every refusal as `file:line: error: ...`; return their count. */
size_t gen_check(const struct gen_header *h);

/* check.c: refuse a Lisp name emitted by two of the N headers. */
size_t gen_check_across(const struct gen_header *hs, size_t n);

/* emit.c: the Lisp text of H (malloc'd, NUL-terminated). */
char *gen_emit_header(const struct gen_header *h);
/* The text of package.lisp for the N headers; FROM names them in the banner. */
char *gen_emit_package(const struct gen_header *hs, size_t n, const char *from);

/* emit_md.c: Markdown.  The C API reference of the N headers (every
 * constant with its value, every function's prototype and doc block), and
 * the table of error codes of their X-macro code tables. */
char *gen_emit_api_md(const struct gen_header *hs, size_t n, const char *from);
char *gen_emit_errors_md(const struct gen_header *hs, size_t n, const char *from);

/* util */
void *gen_xmalloc(size_t n);
void *gen_xrealloc(void *p, size_t n);
char *gen_xstrdup(const char *s);

#endif
