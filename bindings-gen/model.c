/* SPDX-License-Identifier: MIT */
/*
 * model.c - walk one header with libclang into the plain model of model.h.
 *
 * The header is parsed as a compiler parses it (with the project's include
 * root), with the detailed preprocessing record so that macro definitions
 * are visible as cursors.  Only what is located in the header itself is
 * kept: declarations of included headers belong to their own file.  Lines
 * are expansion lines, so an enumerator produced by an X-macro is reported
 * at the line that expands the table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <clang-c/Index.h>

#include "model.h"

struct walk {
	struct gen_header *h;
	CXTranslationUnit tu;
	CXFile file;
	const char *text; /* the header's bytes, for macro doc blocks */
	size_t text_len;
};

static char *take_string(CXString s)
{
	const char *c = clang_getCString(s);
	char *d = gen_xstrdup(c ? c : "");
	clang_disposeString(s);
	return d;
}

/* The file and line a location expands at. */
static unsigned expansion_line(CXSourceLocation loc, CXFile *file, unsigned *offset)
{
	unsigned line = 0, col = 0, off = 0;
	clang_getExpansionLocation(loc, file, &line, &col, &off);
	if (offset)
		*offset = off;
	return line;
}

static int in_header(struct walk *w, CXCursor c, unsigned *line, unsigned *offset)
{
	CXFile f = NULL;
	*line = expansion_line(clang_getCursorLocation(c), &f, offset);
	return f && clang_File_isEqual(f, w->file);
}

/* "const volatile uint8_t" -> "uint8_t" */
static char *unqualified(const char *spelling)
{
	static const char *const quals[] = {"const ", "volatile ", "restrict "};
	int again = 1;
	while (again) {
		again = 0;
		for (size_t i = 0; i < sizeof quals / sizeof quals[0]; i++) {
			size_t n = strlen(quals[i]);
			if (strncmp(spelling, quals[i], n) == 0) {
				spelling += n;
				again = 1;
			}
		}
	}
	return gen_xstrdup(spelling);
}

static int is_signed_kind(enum CXTypeKind k)
{
	switch (k) {
	case CXType_Char_S:
	case CXType_SChar:
	case CXType_Short:
	case CXType_Int:
	case CXType_Long:
	case CXType_LongLong:
	case CXType_Int128:
		return 1;
	default:
		return 0;
	}
}

static int is_function_kind(enum CXTypeKind k)
{
	return k == CXType_FunctionProto || k == CXType_FunctionNoProto;
}

static void describe_base(CXType t, struct gen_type *out)
{
	CXType canon = clang_getCanonicalType(t);
	char *spelling = take_string(clang_getTypeSpelling(t));
	out->base = unqualified(spelling);
	free(spelling);
	out->base_size = canon.kind == CXType_Void ? -1 : clang_Type_getSizeOf(canon);
	out->base_signed = is_signed_kind(canon.kind);
}

static void describe_type(CXType t, struct gen_type *out)
{
	CXType canon = clang_getCanonicalType(t);
	memset(out, 0, sizeof *out);
	out->spelling = take_string(clang_getTypeSpelling(t));
	switch (canon.kind) {
	case CXType_Record:
		out->class = GEN_TYPE_RECORD;
		break;
	case CXType_Enum:
		out->class = GEN_TYPE_ENUM;
		break;
	case CXType_Pointer: {
		CXType cpointee = clang_getCanonicalType(clang_getPointeeType(canon));
		if (is_function_kind(cpointee.kind)) {
			out->class = GEN_TYPE_FUNCTION;
		} else if (cpointee.kind == CXType_Record) {
			out->class = GEN_TYPE_RECORD;
		} else if (cpointee.kind == CXType_Enum) {
			out->class = GEN_TYPE_ENUM;
		} else if (t.kind != CXType_Pointer) {
			/* A typedef'd pointer: only the table's names are known. */
			out->class = GEN_TYPE_SCALAR;
		} else if (cpointee.kind == CXType_Pointer ||
			   cpointee.kind == CXType_ConstantArray ||
			   cpointee.kind == CXType_IncompleteArray) {
			out->class = GEN_TYPE_OTHER;
		} else {
			CXType pointee = clang_getPointeeType(t);
			out->class = GEN_TYPE_POINTER;
			out->pointee_const = clang_isConstQualifiedType(pointee) != 0;
			describe_base(pointee, out);
			return;
		}
		break;
	}
	case CXType_FunctionProto:
	case CXType_FunctionNoProto:
		out->class = GEN_TYPE_FUNCTION;
		break;
	case CXType_ConstantArray:
	case CXType_IncompleteArray:
	case CXType_VariableArray:
	case CXType_DependentSizedArray:
	case CXType_Vector:
	case CXType_ExtVector:
	case CXType_Complex:
		out->class = GEN_TYPE_OTHER;
		break;
	default:
		out->class = GEN_TYPE_SCALAR;
		describe_base(t, out);
		return;
	}
	out->base = unqualified(out->spelling);
	out->base_size = -1;
}

static char *raw_comment(CXCursor c)
{
	char *s = take_string(clang_Cursor_getRawCommentText(c));
	if (!*s) {
		free(s);
		return NULL;
	}
	return s;
}

static void add_function(struct walk *w, CXCursor c, unsigned line)
{
	struct gen_header *h = w->h;
	struct gen_function *f;
	CXType ft = clang_getCursorType(c);
	int n = clang_Cursor_getNumArguments(c);

	h->functions = gen_xrealloc(h->functions, (h->nfunctions + 1) * sizeof *h->functions);
	f = &h->functions[h->nfunctions++];
	memset(f, 0, sizeof *f);
	f->name = take_string(clang_getCursorSpelling(c));
	f->line = line;
	describe_type(clang_getResultType(ft), &f->ret);
	f->variadic = ft.kind == CXType_FunctionProto && clang_isFunctionTypeVariadic(ft);
	f->no_prototype = ft.kind == CXType_FunctionNoProto;
	f->is_definition = clang_isCursorDefinition(c) != 0;
	f->doc = raw_comment(c);
	if (n < 0)
		n = 0;
	f->params = gen_xmalloc((size_t)n * sizeof *f->params);
	f->nparams = (size_t)n;
	for (int i = 0; i < n; i++) {
		CXCursor a = clang_Cursor_getArgument(c, (unsigned)i);
		struct gen_param *p = &f->params[i];
		CXFile pf = NULL;
		unsigned pline;
		p->name = take_string(clang_getCursorSpelling(a));
		if (!*p->name) {
			free(p->name);
			p->name = NULL;
		}
		pline = expansion_line(clang_getCursorLocation(a), &pf, NULL);
		p->line = pline ? pline : line;
		describe_type(clang_getCursorType(a), &p->type);
	}
}

static struct gen_constant *new_constant(struct gen_header *h)
{
	struct gen_constant *k;
	h->constants = gen_xrealloc(h->constants, (h->nconstants + 1) * sizeof *h->constants);
	k = &h->constants[h->nconstants++];
	memset(k, 0, sizeof *k);
	return k;
}

struct cursor_list {
	CXCursor *v;
	size_t n;
};

static enum CXChildVisitResult collect(CXCursor c, CXCursor parent, CXClientData data)
{
	struct cursor_list *acc = data;
	(void)parent;
	acc->v = gen_xrealloc(acc->v, (acc->n + 1) * sizeof *acc->v);
	acc->v[acc->n++] = c;
	return CXChildVisit_Continue;
}

static void add_enumerators(struct walk *w, CXCursor e)
{
	CXType it = clang_getEnumDeclIntegerType(e);
	int is_signed = is_signed_kind(clang_getCanonicalType(it).kind);
	struct cursor_list kids = {NULL, 0};
	char *group = clang_Cursor_isAnonymous(e) ? NULL : take_string(clang_getCursorSpelling(e));
	char *group_doc = raw_comment(e);

	clang_visitChildren(e, collect, &kids);
	for (size_t i = 0; i < kids.n; i++) {
		CXCursor c = kids.v[i];
		struct gen_constant *k;
		unsigned line;
		if (clang_getCursorKind(c) != CXCursor_EnumConstantDecl)
			continue;
		if (!in_header(w, c, &line, NULL))
			continue;
		k = new_constant(w->h);
		k->kind = GEN_CONST_ENUMERATOR;
		k->name = take_string(clang_getCursorSpelling(c));
		k->line = line;
		k->literal_ok = 1;
		k->doc = raw_comment(c);
		k->group = group ? gen_xstrdup(group) : NULL;
		k->group_doc = group_doc ? gen_xstrdup(group_doc) : NULL;
		if (is_signed) {
			long long v = clang_getEnumConstantDeclValue(c);
			k->negative = v < 0;
			k->magnitude = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
		} else {
			k->magnitude = clang_getEnumConstantDeclUnsignedValue(c);
		}
	}
	free(kids.v);
	free(group);
	free(group_doc);
}

/* One integer literal token, with an optional u/l suffix, as C reads it. */
static int parse_integer_literal(const char *s, uint64_t *value)
{
	static const char *const suffixes[] = {"", "u", "l", "ul", "lu", "ll", "ull", "llu"};
	char *end;
	unsigned long long v;
	if (!(*s >= '0' && *s <= '9'))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return 0;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		if (strcasecmp(end, suffixes[i]) == 0) {
			/* "lL" is not a C suffix: both l's have one case. */
			if (strstr(end, "lL") || strstr(end, "Ll"))
				return 0;
			*value = v;
			return 1;
		}
	}
	return 0;
}

/*
 * A macro's doc block: a doc comment (slash, two stars) that ends on the
 * line just above the #define (only blanks between), or a trailing one
 * (slash, two stars, '<') after the body on the same line.  Comments are
 * not part of the preprocessing record, so this reads the header's bytes
 * around the macro's extent.
 */
static char *macro_doc(struct walk *w, unsigned name_off, unsigned end_off)
{
	const char *t = w->text;
	size_t i, line_start, j;
	int newlines = 0;
	if (!t || name_off > w->text_len || end_off > w->text_len)
		return NULL;
	/* A trailing doc comment (slash, two stars, '<') on the same line. */
	for (i = end_off; i < w->text_len && (t[i] == ' ' || t[i] == '\t'); i++)
		;
	if (i + 4 <= w->text_len && strncmp(t + i, "/**<", 4) == 0) {
		const char *close = strstr(t + i + 4, "*/");
		if (close) {
			size_t n = (size_t)(close + 2 - (t + i));
			char *d = gen_xmalloc(n + 1);
			memcpy(d, t + i, n);
			d[n] = 0;
			return d;
		}
	}
	for (line_start = name_off; line_start > 0 && t[line_start - 1] != '\n'; line_start--)
		;
	j = line_start;
	while (j > 0 &&
	       (t[j - 1] == ' ' || t[j - 1] == '\t' || t[j - 1] == '\n' || t[j - 1] == '\r')) {
		if (t[j - 1] == '\n' && ++newlines > 1)
			return NULL; /* a blank line separates it from the macro */
		j--;
	}
	if (j < 2 || t[j - 1] != '/' || t[j - 2] != '*')
		return NULL;
	for (i = j - 2; i >= 1; i--) {
		if (t[i - 1] == '/' && t[i] == '*') {
			size_t start = i - 1, n = j - start;
			char *d;
			if (n < 5 || t[start + 2] != '*' || t[start + 3] == '/')
				return NULL; /* a plain comment, or an empty one */
			d = gen_xmalloc(n + 1);
			memcpy(d, t + start, n);
			d[n] = 0;
			return d;
		}
	}
	return NULL;
}

/* The text of a C string literal token ("a \"b\"") without quotes or escapes. */
static char *unquote(const char *lit)
{
	size_t n = strlen(lit);
	char *d = gen_xmalloc(n + 1), *o = d;
	if (n < 2 || lit[0] != '"' || lit[n - 1] != '"') {
		free(d);
		return NULL;
	}
	for (size_t i = 1; i + 1 < n; i++) {
		if (lit[i] == '\\' && i + 2 < n) {
			char e = lit[++i];
			*o++ = e == 'n' ? '\n' : e == 't' ? '\t' : e;
		} else {
			*o++ = lit[i];
		}
	}
	*o = 0;
	return d;
}

static int token_is(CXTranslationUnit tu, CXToken t, enum CXTokenKind kind, const char *text)
{
	char *s;
	int yes;
	if (clang_getTokenKind(t) != kind)
		return 0;
	if (!text)
		return 1;
	s = take_string(clang_getTokenSpelling(tu, t));
	yes = strcmp(s, text) == 0;
	free(s);
	return yes;
}

/*
 * An X-macro code table: NAME ( P ) followed only by P ( IDENT , INTEGER ,
 * [CLASS ,] STRING ) groups, CLASS an identifier (the condition class the
 * code maps to).  Anything else (EPS__ENUMERATOR, a table of two-argument
 * entries) is not a code table and is left alone.
 */
static void add_code_table(struct walk *w, const char *macro, CXToken *t, unsigned n, unsigned line)
{
	struct gen_header *h = w->h;
	size_t first = h->ncodes;
	char *param;
	unsigned i = 4;
	if (n < 4 + 8 || !token_is(w->tu, t[1], CXToken_Punctuation, "(") ||
	    clang_getTokenKind(t[2]) != CXToken_Identifier ||
	    !token_is(w->tu, t[3], CXToken_Punctuation, ")"))
		return;
	param = take_string(clang_getTokenSpelling(w->tu, t[2]));
	while (i + 8 <= n) {
		struct gen_code *code;
		char *lit, *msg, *class = NULL;
		uint64_t value;
		/* With a class the message is two tokens further on. */
		unsigned m = i + 6;
		if (!token_is(w->tu, t[i], CXToken_Identifier, param) ||
		    !token_is(w->tu, t[i + 1], CXToken_Punctuation, "(") ||
		    clang_getTokenKind(t[i + 2]) != CXToken_Identifier ||
		    !token_is(w->tu, t[i + 3], CXToken_Punctuation, ",") ||
		    clang_getTokenKind(t[i + 4]) != CXToken_Literal ||
		    !token_is(w->tu, t[i + 5], CXToken_Punctuation, ","))
			break;
		if (clang_getTokenKind(t[m]) == CXToken_Identifier) {
			if (i + 10 > n || !token_is(w->tu, t[m + 1], CXToken_Punctuation, ","))
				break;
			class = take_string(clang_getTokenSpelling(w->tu, t[m]));
			m += 2;
		}
		if (clang_getTokenKind(t[m]) != CXToken_Literal ||
		    !token_is(w->tu, t[m + 1], CXToken_Punctuation, ")")) {
			free(class);
			break;
		}
		lit = take_string(clang_getTokenSpelling(w->tu, t[i + 4]));
		if (!parse_integer_literal(lit, &value)) {
			free(lit);
			free(class);
			break;
		}
		free(lit);
		lit = take_string(clang_getTokenSpelling(w->tu, t[m]));
		msg = unquote(lit);
		free(lit);
		if (!msg) {
			free(class);
			break;
		}
		h->codes = gen_xrealloc(h->codes, (h->ncodes + 1) * sizeof *h->codes);
		code = &h->codes[h->ncodes++];
		code->table = gen_xstrdup(macro);
		code->name = take_string(clang_getTokenSpelling(w->tu, t[i + 2]));
		code->value = value;
		code->class = class;
		code->message = msg;
		code->line = line;
		i = m + 2;
	}
	if (i != n) {
		/* Not a code table after all: forget what was taken. */
		for (size_t j = first; j < h->ncodes; j++) {
			free(h->codes[j].table);
			free(h->codes[j].name);
			free(h->codes[j].class);
			free(h->codes[j].message);
		}
		h->ncodes = first;
	}
	free(param);
}

static void add_macro(struct walk *w, CXCursor c, unsigned line, unsigned name_off)
{
	char *name = take_string(clang_getCursorSpelling(c));
	struct gen_constant *k;
	CXToken *toks = NULL;
	unsigned ntoks = 0;
	CXSourceRange ext = clang_getCursorExtent(c);
	unsigned end_off = name_off;

	/* Only the EPS_ namespace is public; EPS__ is internal machinery,
	 * except that its code tables carry the messages of the error codes. */
	if (strncmp(name, "EPS__", 5) == 0 && clang_Cursor_isMacroFunctionLike(c)) {
		clang_tokenize(w->tu, ext, &toks, &ntoks);
		add_code_table(w, name, toks, ntoks, line);
		clang_disposeTokens(w->tu, toks, ntoks);
	}
	if (strncmp(name, "EPS_", 4) != 0 || strncmp(name, "EPS__", 5) == 0) {
		free(name);
		return;
	}
	toks = NULL;
	ntoks = 0;
	k = new_constant(w->h);
	k->kind = GEN_CONST_MACRO;
	k->name = name;
	k->line = line;
	k->function_like = clang_Cursor_isMacroFunctionLike(c) != 0;
	clang_tokenize(w->tu, ext, &toks, &ntoks);
	/* Token 0 is the macro's name; the body follows. */
	if (!k->function_like && ntoks == 2 && clang_getTokenKind(toks[1]) == CXToken_Literal) {
		char *lit = take_string(clang_getTokenSpelling(w->tu, toks[1]));
		k->literal_ok = parse_integer_literal(lit, &k->magnitude);
		free(lit);
	}
	if (ntoks > 0) {
		CXSourceRange r = clang_getTokenExtent(w->tu, toks[ntoks - 1]);
		CXFile f = NULL;
		unsigned l, col;
		clang_getExpansionLocation(clang_getRangeEnd(r), &f, &l, &col, &end_off);
	}
	clang_disposeTokens(w->tu, toks, ntoks);
	k->doc = macro_doc(w, name_off, end_off);
}

static enum CXChildVisitResult visit_top(CXCursor c, CXCursor parent, CXClientData data)
{
	struct walk *w = data;
	unsigned line = 0, off = 0;
	(void)parent;
	if (!in_header(w, c, &line, &off))
		return CXChildVisit_Continue;
	switch (clang_getCursorKind(c)) {
	case CXCursor_FunctionDecl:
		add_function(w, c, line);
		break;
	case CXCursor_EnumDecl:
		add_enumerators(w, c);
		break;
	case CXCursor_MacroDefinition:
		add_macro(w, c, line, off);
		break;
	default:
		break;
	}
	return CXChildVisit_Continue;
}

/* A file name clang reports, relative to the source root when under it. */
static char *relative_name(const char *name, const char *source_root)
{
	size_t n = strlen(source_root);
	if (strncmp(name, source_root, n) == 0 && name[n] == '/')
		return gen_xstrdup(name + n + 1);
	return gen_xstrdup(name);
}

static void add_diagnostics(struct gen_header *h, CXTranslationUnit tu, const char *source_root)
{
	unsigned n = clang_getNumDiagnostics(tu);
	for (unsigned i = 0; i < n; i++) {
		CXDiagnostic d = clang_getDiagnostic(tu, i);
		if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
			CXFile f = NULL;
			unsigned line = 0, col, off;
			struct gen_diag *g;
			clang_getSpellingLocation(clang_getDiagnosticLocation(d), &f, &line, &col,
						  &off);
			h->diags = gen_xrealloc(h->diags, (h->ndiags + 1) * sizeof *h->diags);
			g = &h->diags[h->ndiags++];
			if (f) {
				char *name = take_string(clang_getFileName(f));
				g->file = relative_name(name, source_root);
				free(name);
			} else {
				g->file = gen_xstrdup(h->path);
			}
			g->line = line;
			g->message = take_string(clang_getDiagnosticSpelling(d));
		}
		clang_disposeDiagnostic(d);
	}
}

int gen_model_load(struct gen_header *h, const char *source_root, const char *path)
{
	size_t rlen = strlen(source_root);
	char *full = gen_xmalloc(rlen + strlen(path) + 2);
	char *inc = gen_xmalloc(rlen + sizeof "-I/csrc/include");
	const char *args[] = {"-xc", "-std=c11", inc};
	CXIndex index;
	CXTranslationUnit tu = NULL;
	enum CXErrorCode err;
	struct walk w;
	int rc = 0;

	memset(h, 0, sizeof *h);
	h->path = gen_xstrdup(path);
	sprintf(full, "%s/%s", source_root, path);
	sprintf(inc, "-I%s/csrc/include", source_root);

	index = clang_createIndex(0, 0);
	err = clang_parseTranslationUnit2(index, full, args, sizeof args / sizeof args[0], NULL, 0,
					  CXTranslationUnit_DetailedPreprocessingRecord, &tu);
	if (err != CXError_Success || !tu) {
		fprintf(stderr, "%s: error: cannot parse (libclang error %d)\n", path, (int)err);
		rc = -1;
		goto out;
	}
	memset(&w, 0, sizeof w);
	w.h = h;
	w.tu = tu;
	w.file = clang_getFile(tu, full);
	if (!w.file) {
		fprintf(stderr, "%s: error: cannot read the header\n", path);
		rc = -1;
		goto out;
	}
	w.text = clang_getFileContents(tu, w.file, &w.text_len);
	add_diagnostics(h, tu, source_root);
	clang_visitChildren(clang_getTranslationUnitCursor(tu), visit_top, &w);
out:
	if (tu)
		clang_disposeTranslationUnit(tu);
	clang_disposeIndex(index);
	free(full);
	free(inc);
	return rc;
}

static void free_type(struct gen_type *t)
{
	free(t->spelling);
	free(t->base);
}

void gen_model_free(struct gen_header *h)
{
	for (size_t i = 0; i < h->nfunctions; i++) {
		struct gen_function *f = &h->functions[i];
		free(f->name);
		free(f->doc);
		free_type(&f->ret);
		for (size_t j = 0; j < f->nparams; j++) {
			free(f->params[j].name);
			free_type(&f->params[j].type);
		}
		free(f->params);
	}
	for (size_t i = 0; i < h->nconstants; i++) {
		free(h->constants[i].name);
		free(h->constants[i].doc);
		free(h->constants[i].group);
		free(h->constants[i].group_doc);
	}
	for (size_t i = 0; i < h->ncodes; i++) {
		free(h->codes[i].table);
		free(h->codes[i].name);
		free(h->codes[i].class);
		free(h->codes[i].message);
	}
	free(h->codes);
	for (size_t i = 0; i < h->ndiags; i++) {
		free(h->diags[i].file);
		free(h->diags[i].message);
	}
	free(h->functions);
	free(h->constants);
	free(h->diags);
	free(h->path);
	memset(h, 0, sizeof *h);
}
