/* SPDX-License-Identifier: MIT */
/*
 * test_bindings_gen.c - bindings-gen against golden fixtures (tests/gen/):
 * the supported constructs give the expected Lisp byte for byte, each
 * refused construct fails at its file:line with nothing written, and the
 * output does not depend on the run or the order of the arguments.
 *
 * meson passes BINDINGS_GEN (the generator) and EPS_SOURCE_ROOT; fixtures
 * are given relative to the source root, as the real headers are.
 */
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define FIXTURES "tests/gen/"

extern char **environ;

struct run {
	int status; /* exit status, or -1 when killed by a signal */
	char *err;  /* everything the generator wrote on stderr */
};

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	ck_assert_msg(v && *v, "%s is not set (run through meson test)", name);
	return v;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;
	if (!f)
		return NULL;
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

static char *make_temp_dir(void)
{
	char *d = strdup("/tmp/eps-gen-test.XXXXXX");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ck_assert_int_eq(unlink(path), 0);
	}
	closedir(d);
	ck_assert_int_eq(rmdir(dir), 0);
	free(dir);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Run the generator with the NULL-terminated EXTRA options (or NULL) on
 * the NULL-terminated HEADERS into OUT. */
static struct run run_gen_opts(const char *out, const char *const *extra,
			       const char *const *headers)
{
	const char *gen = env_or_fail("BINDINGS_GEN");
	const char *root = env_or_fail("EPS_SOURCE_ROOT");
	char errpath[] = "/tmp/eps-gen-stderr.XXXXXX";
	const char *argv[32];
	int argc = 0, fd, wstatus;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	struct run r;

	argv[argc++] = gen;
	argv[argc++] = "--source-root";
	argv[argc++] = root;
	argv[argc++] = "--out-dir";
	argv[argc++] = out;
	for (size_t i = 0; extra && extra[i]; i++) {
		ck_assert_int_lt(argc, 31);
		argv[argc++] = extra[i];
	}
	for (size_t i = 0; headers[i]; i++) {
		ck_assert_int_lt(argc, 31);
		argv[argc++] = headers[i];
	}
	argv[argc] = NULL;

	fd = mkstemp(errpath);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, fd, 2), 0);
	ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0), 0);
	ck_assert_int_eq(posix_spawn(&pid, gen, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
	close(fd);
	r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
	r.err = read_file(errpath, NULL);
	ck_assert_ptr_nonnull(r.err);
	unlink(errpath);
	return r;
}

static struct run run_gen(const char *out, const char *const *headers)
{
	return run_gen_opts(out, NULL, headers);
}

static struct run run_one(const char *out, const char *header)
{
	const char *headers[] = {header, NULL};
	return run_gen(out, headers);
}

/* Compare OUT/NAME with the golden file FIXTURES/GOLDEN, byte for byte. */
static void assert_golden(const char *out, const char *name, const char *golden)
{
	char path[4096];
	char *got, *want;
	size_t got_len, want_len;
	snprintf(path, sizeof path, "%s/%s", out, name);
	got = read_file(path, &got_len);
	ck_assert_msg(got != NULL, "%s was not written", path);
	snprintf(path, sizeof path, "%s/" FIXTURES "%s", env_or_fail("EPS_SOURCE_ROOT"), golden);
	want = read_file(path, &want_len);
	ck_assert_msg(want != NULL, "cannot read %s", path);
	ck_assert_msg(got_len == want_len && memcmp(got, want, got_len) == 0,
		      "%s differs from %s:\n--- got\n%s\n--- want\n%s", name, golden, got, want);
	free(got);
	free(want);
}

START_TEST(good_header_matches_golden_lisp)
{
	char *out = make_temp_dir();
	struct run r = run_one(out, FIXTURES "good.h");
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	assert_golden(out, "good.lisp", "good.lisp");
	assert_golden(out, "package.lisp", "good-package.lisp");
	ck_assert_int_eq(count_entries(out), 2);
	free(r.err);
	remove_dir(out);
}
END_TEST

/* --docs-out: the C API reference, every constant and function of good.h. */
START_TEST(good_header_matches_golden_markdown)
{
	char *out = make_temp_dir();
	char docs[4096];
	const char *headers[] = {FIXTURES "good.h", NULL};
	const char *extra[] = {"--docs-out", docs, NULL};
	struct run r;
	snprintf(docs, sizeof docs, "%s/good.md", out);
	r = run_gen_opts(out, extra, headers);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	assert_golden(out, "good.md", "good.md");
	assert_golden(out, "good.lisp", "good.lisp");
	ck_assert_int_eq(count_entries(out), 3);
	free(r.err);
	remove_dir(out);
}
END_TEST

/* --errors-out: the X-macro code tables with their classes and messages,
 * read from the macro's tokens; tables of another shape are not code
 * tables.  The Lisp lists the code constants and their condition classes. */
START_TEST(code_tables_match_golden_markdown)
{
	char *out = make_temp_dir();
	char errors[4096];
	const char *headers[] = {FIXTURES "codes.h", NULL};
	const char *extra[] = {"--errors-out", errors, NULL};
	struct run r;
	snprintf(errors, sizeof errors, "%s/codes-errors.md", out);
	r = run_gen_opts(out, extra, headers);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	assert_golden(out, "codes-errors.md", "codes-errors.md");
	assert_golden(out, "codes.lisp", "codes.lisp");
	ck_assert_int_eq(count_entries(out), 3);
	free(r.err);
	remove_dir(out);
}
END_TEST

/* C++ guards (#ifdef __cplusplus extern "C" { #endif) change nothing. */
START_TEST(extern_c_guards_are_tolerated)
{
	char *out = make_temp_dir();
	struct run r = run_one(out, FIXTURES "extern_c.h");
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert_str_eq(r.err, "");
	assert_golden(out, "extern_c.lisp", "extern_c.lisp");
	free(r.err);
	remove_dir(out);
}
END_TEST

/* A refused header writes no Markdown either. */
START_TEST(refusal_writes_no_markdown)
{
	char *out = make_temp_dir();
	char docs[4096], errors[4096];
	const char *headers[] = {FIXTURES "good.h", FIXTURES "bad_type.h", NULL};
	const char *extra[] = {"--docs-out", docs, "--errors-out", errors, NULL};
	struct run r;
	snprintf(docs, sizeof docs, "%s/api.md", out);
	snprintf(errors, sizeof errors, "%s/errors.md", out);
	r = run_gen_opts(out, extra, headers);
	ck_assert_int_eq(r.status, 1);
	ck_assert_int_eq(count_entries(out), 0);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(output_has_no_carriage_returns_or_tabs)
{
	char *out = make_temp_dir();
	char path[4096];
	char *text;
	struct run r = run_one(out, FIXTURES "good.h");
	ck_assert_int_eq(r.status, 0);
	snprintf(path, sizeof path, "%s/good.lisp", out);
	text = read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_null(strchr(text, '\r'));
	ck_assert_ptr_null(strchr(text, '\t'));
	ck_assert_ptr_null(strstr(text, env_or_fail("EPS_SOURCE_ROOT")));
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(text);
	free(r.err);
	remove_dir(out);
}
END_TEST

/* One refused construct: the fixture, and one `file:line: error: ...`
 * line that must appear on stderr (the prefix and the start of the message). */
struct refusal {
	const char *header;
	const char *expected;
};

/* clang-format off */
static const struct refusal refusals[] = {
	{"bad_type.h", "bad_type.h:6: error: the return value of 'eps_bad_int_return' has type 'int': unknown type"},
	{"bad_type.h", "bad_type.h:10: error: parameter 'count' of 'eps_bad_long_param' has type 'long': unknown type"},
	{"bad_type.h", "bad_type.h:13: error: parameter 'name' of 'eps_bad_char_pointer' has type 'char *': unknown type"},
	{"bad_type.h", "bad_type.h:16: error: parameter 'x' of 'eps_bad_float' has type 'float': unknown type"},
	{"bad_type.h", "bad_type.h:19: error: parameter 'bufs' of 'eps_bad_double_pointer' has type 'uint8_t **'"},
	{"bad_type.h", "bad_type.h:25: error: parameter 'n' of 'eps_bad_size_pointer' has type 'size_t *'"},
	{"bad_struct_param.h", "bad_struct_param.h:14: error: parameter 'thing' of 'eps_bad_struct_pointer' has type 'struct eps_thing *': a struct or union"},
	{"bad_struct_param.h", "bad_struct_param.h:17: error: parameter 'thing' of 'eps_bad_struct_value' has type 'struct eps_thing': a struct or union"},
	{"bad_struct_param.h", "bad_struct_param.h:20: error: the return value of 'eps_bad_union_return' has type 'union eps_either': a struct or union"},
	{"bad_struct_param.h", "bad_struct_param.h:23: error: parameter 'kind' of 'eps_bad_enum' has type 'enum eps_kind': an enum type"},
	{"bad_fnptr.h", "bad_fnptr.h:7: error: parameter 'cb' of 'eps_bad_fnptr' has type 'int32_t (*)(void *)': a function pointer"},
	{"bad_fnptr.h", "bad_fnptr.h:10: error: parameter 'cb' of 'eps_bad_typedef_fnptr' has type 'eps_callback': a function pointer"},
	{"bad_variadic.h", "bad_variadic.h:5: error: function 'eps_bad_variadic' is variadic"},
	{"bad_variadic.h", "bad_variadic.h:8: error: function 'eps_bad_no_prototype' has no prototype"},
	{"bad_undocumented.h", "bad_undocumented.h:4: error: function 'eps_bad_no_comment' has no /** ... */ doc block"},
	{"bad_undocumented.h", "bad_undocumented.h:7: error: function 'eps_bad_plain_comment' has no /** ... */ doc block"},
	{"bad_undocumented.h", "bad_undocumented.h:10: error: function 'eps_bad_line_comment' has no /** ... */ doc block"},
	{"bad_macro.h", "bad_macro.h:5: error: macro 'EPS_BAD_EXPRESSION' is not a single integer literal"},
	{"bad_macro.h", "bad_macro.h:6: error: function-like macro 'EPS_BAD_FUNCTION'"},
	{"bad_macro.h", "bad_macro.h:7: error: macro 'EPS_BAD_FLOAT' is not a single integer literal"},
	{"bad_macro.h", "bad_macro.h:8: error: macro 'EPS_BAD_NEGATIVE' is not a single integer literal"},
	{"bad_macro.h", "bad_macro.h:9: error: macro 'EPS_BAD_EMPTY' is not a single integer literal"},
	{"bad_macro.h", "bad_macro.h:10: error: macro 'EPS_BAD_STRING' is not a single integer literal"},
	{"bad_name.h", "bad_name.h:5: error: function 'other_function' is not named eps_"},
	{"bad_name.h", "bad_name.h:8: error: function 'eps__internal' is internal"},
	{"bad_name.h", "bad_name.h:11: error: parameter 't' of 'eps_bad_param_t' names a Common Lisp constant"},
	{"bad_name.h", "bad_name.h:14: error: parameter 'nil' of 'eps_bad_param_nil' names a Common Lisp constant"},
	{"bad_name.h", "bad_name.h:17: error: parameter 'pi' of 'eps_bad_param_pi' names a Common Lisp constant"},
	{"bad_name.h", "bad_name.h:20: error: parameter 1 of 'eps_bad_unnamed' has no name"},
	{"bad_name.h", "bad_name.h:23: error: parameters 'buf_len' and 'BUF_LEN' of 'eps_bad_same'"},
	{"bad_undocumented.h", "bad_undocumented.h:16: error: function 'eps_bad_empty_doc' has an empty doc block"},
	{"bad_name.h", "bad_name.h:26: error: function 'eps_bad_inline' is defined in the header"},
	{"bad_name.h", "bad_name.h:32: error: parameter '_1' of 'eps_bad_underscore' starts with '_'"},
	{"bad_enum.h", "bad_enum.h:6: error: enumerator 'EPS_TOO_LARGE' does not fit in int"},
	{"bad_syntax.h", "bad_syntax.h:5: error: unknown type name 'widget_t'"},
};

/* Each fixture's full count of errors: all are reported, not just the first. */
static const struct {
	const char *header;
	int errors;
} error_counts[] = {
	{"bad_type.h", 6},
	{"bad_struct_param.h", 4},
	{"bad_fnptr.h", 2},
	{"bad_variadic.h", 2},
	{"bad_undocumented.h", 4},
	{"bad_macro.h", 6},
	{"bad_name.h", 9},
	{"bad_mixed.h", 3},
	{"bad_enum.h", 1},
};
/* clang-format on */

static int has_line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0)
			return 1;
	return 0;
}

START_TEST(refused_construct_fails_at_its_line)
{
	const struct refusal *t = &refusals[_i];
	char header[256], expected[512];
	char *out = make_temp_dir();
	struct run r;
	snprintf(header, sizeof header, FIXTURES "%s", t->header);
	snprintf(expected, sizeof expected, FIXTURES "%s", t->expected);
	r = run_one(out, header);
	/* Exactly 1: a crash or a sanitizer report is not a refusal. */
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(has_line_starting(r.err, expected), "want a line starting\n%s\ngot\n%s",
		      expected, r.err);
	ck_assert_int_eq(count_entries(out), 0);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(every_error_of_a_header_is_reported)
{
	char header[256];
	char *out = make_temp_dir();
	struct run r;
	int n = 0;
	snprintf(header, sizeof header, FIXTURES "%s", error_counts[_i].header);
	r = run_one(out, header);
	ck_assert_int_eq(r.status, 1);
	for (const char *p = r.err; (p = strstr(p, ": error: ")) != NULL; p++)
		n++;
	ck_assert_msg(n == error_counts[_i].errors, "%s: %d errors, want %d:\n%s", header, n,
		      error_counts[_i].errors, r.err);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(errors_are_in_line_order)
{
	char *out = make_temp_dir();
	struct run r = run_one(out, FIXTURES "bad_mixed.h");
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, FIXTURES
			     "bad_mixed.h:4: error: function 'eps_bad_first' has no") == r.err,
		      "got\n%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err,
				     "\n" FIXTURES "bad_mixed.h:6: error: macro 'EPS_BAD_SECOND'"
				     " is not a single integer literal\n" FIXTURES
				     "bad_mixed.h:9: error: the return value of 'eps_bad_third'"));
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(one_name_from_two_headers_is_refused)
{
	const char *headers[] = {FIXTURES "dup_b.h", FIXTURES "dup_a.h", NULL};
	char *out = make_temp_dir();
	struct run r = run_gen(out, headers);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(has_line_starting(r.err,
					FIXTURES "dup_b.h:4: error: 'EPS_DUP_SHARED' is also "
						 "declared at " FIXTURES "dup_a.h:4"),
		      "got\n%s", r.err);
	ck_assert_msg(has_line_starting(r.err, FIXTURES "dup_b.h:7: error: 'eps_dup_both' is also "
							"declared at " FIXTURES "dup_a.h:7"),
		      "got\n%s", r.err);
	ck_assert_int_eq(count_entries(out), 0);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(refusal_replaces_nothing)
{
	/* A good header next to a bad one: neither output is written, and the
	 * files already there are left as they were. */
	const char *headers[] = {FIXTURES "good.h", FIXTURES "bad_macro.h", NULL};
	char *out = make_temp_dir();
	char path[4096];
	char *text;
	FILE *f;
	struct run r;
	snprintf(path, sizeof path, "%s/package.lisp", out);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("old", f);
	fclose(f);
	r = run_gen(out, headers);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "nothing written"));
	ck_assert_int_eq(count_entries(out), 1);
	text = read_file(path, NULL);
	ck_assert_str_eq(text, "old");
	free(text);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(included_declarations_are_not_emitted)
{
	const char *want =
	    ";;;; Generated by bindings-gen from tests/gen/including.h. Do not edit.\n"
	    "\n"
	    "(in-package #:epsilon.linux.bindings)\n"
	    "\n"
	    "(defconstant +including-anonymous+ 3)\n"
	    "\n"
	    "(defshared %eps-including-own \"eps_including_own\" \"libepsilon-linux\" :int\n"
	    "  :documentation \"Declared here.\")\n";
	char *out = make_temp_dir();
	char path[4096];
	char *text;
	struct run r = run_one(out, FIXTURES "including.h");
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	snprintf(path, sizeof path, "%s/including.lisp", out);
	text = read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, want);
	free(text);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(stale_output_is_replaced)
{
	char *out = make_temp_dir();
	char path[4096];
	FILE *f;
	struct run r;
	snprintf(path, sizeof path, "%s/good.lisp", out);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("stale", f);
	fclose(f);
	r = run_one(out, FIXTURES "good.h");
	ck_assert_int_eq(r.status, 0);
	assert_golden(out, "good.lisp", "good.lisp");
	/* No temporary file left behind. */
	ck_assert_int_eq(count_entries(out), 2);
	free(r.err);
	remove_dir(out);
}
END_TEST

static void assert_same_file(const char *a_dir, const char *b_dir, const char *name)
{
	char pa[4096], pb[4096];
	char *a, *b;
	size_t la, lb;
	snprintf(pa, sizeof pa, "%s/%s", a_dir, name);
	snprintf(pb, sizeof pb, "%s/%s", b_dir, name);
	a = read_file(pa, &la);
	b = read_file(pb, &lb);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(la == lb && memcmp(a, b, la) == 0, "%s differs between runs", name);
	free(a);
	free(b);
}

START_TEST(two_runs_give_identical_bytes)
{
	const char *forward[] = {FIXTURES "good.h", FIXTURES "minimal.h", NULL};
	const char *backward[] = {FIXTURES "minimal.h", FIXTURES "good.h", NULL};
	char *a = make_temp_dir(), *b = make_temp_dir();
	struct run ra = run_gen(a, forward), rb = run_gen(b, backward);
	ck_assert_int_eq(ra.status, 0);
	ck_assert_int_eq(rb.status, 0);
	ck_assert_int_eq(count_entries(a), 3);
	ck_assert_int_eq(count_entries(b), 3);
	assert_same_file(a, b, "good.lisp");
	assert_same_file(a, b, "minimal.lisp");
	assert_same_file(a, b, "package.lisp");
	free(ra.err);
	free(rb.err);
	remove_dir(a);
	remove_dir(b);
}
END_TEST

START_TEST(package_names_every_header)
{
	const char *headers[] = {FIXTURES "minimal.h", FIXTURES "good.h", NULL};
	char *out = make_temp_dir();
	char path[4096];
	char *text;
	struct run r = run_gen(out, headers);
	ck_assert_int_eq(r.status, 0);
	snprintf(path, sizeof path, "%s/package.lisp", out);
	text = read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(
	    strstr(text, ";;;; Generated by bindings-gen from tests/gen/*.h. Do not edit.\n"));
	/* Sorted by path, each group under its header's name. */
	ck_assert_ptr_nonnull(strstr(text, "   ;; tests/gen/good.h\n"));
	ck_assert_ptr_nonnull(strstr(text, "   #:%eps-good-size\n   ;; tests/gen/minimal.h\n"
					   "   #:+minimal-one+\n   #:%eps-minimal-one))\n"));
	free(text);
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(bad_usage_is_exit_2)
{
	const char *none[] = {NULL};
	char *out = make_temp_dir();
	struct run r = run_gen(out, none);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "usage: bindings-gen"));
	free(r.err);
	remove_dir(out);
}
END_TEST

START_TEST(missing_header_is_refused)
{
	char *out = make_temp_dir();
	struct run r = run_one(out, FIXTURES "no_such_header.h");
	ck_assert_int_eq(r.status, 1);
	ck_assert_int_eq(count_entries(out), 0);
	free(r.err);
	remove_dir(out);
}
END_TEST

static Suite *bindings_gen_suite(void)
{
	Suite *s = suite_create("bindings_gen");
	TCase *golden = tcase_create("golden");
	TCase *refuse = tcase_create("refusals");
	TCase *det = tcase_create("determinism");
	TCase *cli = tcase_create("cli");
	/* Each case runs libclang once or twice: seconds under sanitizers. */
	tcase_set_timeout(golden, 60);
	tcase_set_timeout(refuse, 60);
	tcase_set_timeout(det, 60);
	tcase_set_timeout(cli, 60);
	tcase_add_test(golden, good_header_matches_golden_lisp);
	tcase_add_test(golden, output_has_no_carriage_returns_or_tabs);
	tcase_add_test(golden, good_header_matches_golden_markdown);
	tcase_add_test(golden, code_tables_match_golden_markdown);
	tcase_add_test(golden, extern_c_guards_are_tolerated);
	tcase_add_test(golden, refusal_writes_no_markdown);
	tcase_add_test(golden, included_declarations_are_not_emitted);
	tcase_add_test(golden, stale_output_is_replaced);
	suite_add_tcase(s, golden);
	tcase_add_loop_test(refuse, refused_construct_fails_at_its_line, 0,
			    (int)(sizeof refusals / sizeof refusals[0]));
	tcase_add_loop_test(refuse, every_error_of_a_header_is_reported, 0,
			    (int)(sizeof error_counts / sizeof error_counts[0]));
	tcase_add_test(refuse, errors_are_in_line_order);
	tcase_add_test(refuse, one_name_from_two_headers_is_refused);
	tcase_add_test(refuse, refusal_replaces_nothing);
	suite_add_tcase(s, refuse);
	tcase_add_test(det, two_runs_give_identical_bytes);
	tcase_add_test(det, package_names_every_header);
	suite_add_tcase(s, det);
	tcase_add_test(cli, bad_usage_is_exit_2);
	tcase_add_test(cli, missing_header_is_refused);
	suite_add_tcase(s, cli);
	return s;
}

int main(void)
{
	return eps_test_main(bindings_gen_suite());
}
