/* SPDX-License-Identifier: MIT */
/*
 * bindings-gen - emit the Lisp declarations of libepsilon-linux from its
 * public headers.
 *
 *   bindings-gen --source-root DIR --out-dir DIR [--docs-out FILE]
 *                [--errors-out FILE] HEADER...
 *
 * Each HEADER is a path relative to the source root
 * (csrc/include/epsilon/fd.h); it is parsed with -I<source root>/csrc/include
 * and becomes <out-dir>/<basename>.lisp; <out-dir>/package.lisp exports
 * every name emitted.  --docs-out writes the C API reference (Markdown) of
 * all the headers, --errors-out the table of their X-macro error codes.
 * All headers are checked before anything is written:
 * on any refusal nothing is written or replaced and the exit status is 1.
 * Files are written to a temporary name in the output directory and renamed,
 * and left untouched when their content is already right.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

static void usage(FILE *to)
{
	fputs("usage: bindings-gen --source-root DIR --out-dir DIR [--docs-out FILE]\n"
	      "                    [--errors-out FILE] HEADER...\n"
	      "  HEADER: a public header, relative to the source root\n"
	      "          (csrc/include/epsilon/fd.h); writes OUT-DIR/fd.lisp and\n"
	      "          OUT-DIR/package.lisp.  Exit 1 on any refusal, with\n"
	      "          nothing written.\n"
	      "  --docs-out FILE: also write the C API reference (Markdown).\n"
	      "  --errors-out FILE: also write the table of error codes (Markdown).\n",
	      to);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "csrc/include/epsilon/fd.h" -> "fd.lisp" */
static char *output_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;
	char *name;
	base = base ? base + 1 : path;
	n = strlen(base);
	if (n > 2 && strcmp(base + n - 2, ".h") == 0)
		n -= 2;
	name = gen_xmalloc(n + sizeof ".lisp");
	memcpy(name, base, n);
	strcpy(name + n, ".lisp");
	return name;
}

/* The headers' common directory as "DIR/" followed by "*.h", else their names. */
static char *banner_from(char **paths, size_t n)
{
	const char *slash = strrchr(paths[0], '/');
	size_t dlen = slash ? (size_t)(slash - paths[0]) : 0;
	int same = 1;
	size_t total = 0;
	char *s;
	for (size_t i = 0; i < n; i++) {
		const char *sl = strrchr(paths[i], '/');
		size_t l = sl ? (size_t)(sl - paths[i]) : 0;
		if (l != dlen || strncmp(paths[i], paths[0], dlen) != 0)
			same = 0;
		total += strlen(paths[i]) + 2;
	}
	if (same && n > 1) {
		s = gen_xmalloc(dlen + sizeof "/*.h");
		memcpy(s, paths[0], dlen);
		strcpy(s + dlen, dlen ? "/*.h" : "*.h");
		return s;
	}
	s = gen_xmalloc(total + 1);
	*s = 0;
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, paths[i]);
	}
	return s;
}

static int same_content(const char *path, const char *text)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(text), got;
	char *old;
	int same;
	if (!f)
		return 0;
	old = gen_xmalloc(n + 1);
	got = fread(old, 1, n + 1, f);
	fclose(f);
	same = got == n && memcmp(old, text, n) == 0;
	free(old);
	return same;
}

/* Write TEXT to PATH (DIR/NAME) through a temporary file and a rename. */
static int write_path(const char *path, const char *text);

/* Write TEXT to DIR/NAME through a temporary file and a rename. */
static int write_file(const char *dir, const char *name, const char *text)
{
	size_t dl = strlen(dir), nl = strlen(name), len = strlen(text);
	char *path = gen_xmalloc(dl + nl + 2);
	char *tmp = gen_xmalloc(dl + nl + sizeof "/..XXXXXX");
	int fd, rc = -1;
	sprintf(path, "%s/%s", dir, name);
	sprintf(tmp, "%s/.%s.XXXXXX", dir, name);
	if (same_content(path, text)) {
		rc = 0;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "bindings-gen: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "bindings-gen: %s: %s\n", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		fprintf(stderr, "bindings-gen: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(path);
	free(tmp);
	return rc;
}

static int write_path(const char *path, const char *text)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int rc;
	if (!slash)
		return write_file(".", path, text);
	dir = gen_xmalloc((size_t)(slash - path) + 2);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = 0;
	if (slash == path)
		strcpy(dir, "/");
	rc = write_file(dir, slash + 1, text);
	free(dir);
	return rc;
}

int main(int argc, char **argv)
{
	const char *root = NULL, *out = NULL, *docs_out = NULL, *errors_out = NULL;
	char **paths;
	size_t n = 0, errors = 0;
	struct gen_header *hs;
	int rc = 0;

	paths = gen_xmalloc((size_t)argc * sizeof *paths);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--source-root") == 0 && i + 1 < argc) {
			root = argv[++i];
		} else if (strcmp(argv[i], "--out-dir") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--docs-out") == 0 && i + 1 < argc) {
			docs_out = argv[++i];
		} else if (strcmp(argv[i], "--errors-out") == 0 && i + 1 < argc) {
			errors_out = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			free(paths);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "bindings-gen: unknown option %s\n", argv[i]);
			usage(stderr);
			free(paths);
			return 2;
		} else {
			paths[n++] = argv[i];
		}
	}
	if (!root || !out || n == 0) {
		usage(stderr);
		free(paths);
		return 2;
	}
	/* The order of the arguments must not change the output. */
	qsort(paths, n, sizeof *paths, cmp_str);

	hs = gen_xmalloc(n * sizeof *hs);
	for (size_t i = 0; i < n; i++) {
		if (paths[i][0] == '/') {
			fprintf(stderr, "%s: error: give headers relative to the source root\n",
				paths[i]);
			errors++;
			memset(&hs[i], 0, sizeof hs[i]);
			continue;
		}
		if (gen_model_load(&hs[i], root, paths[i]) != 0)
			errors++;
		else
			errors += gen_check(&hs[i]);
		for (size_t j = 0; j < i; j++) {
			char *a = output_name(paths[i]), *b = output_name(paths[j]);
			if (strcmp(a, b) == 0) {
				fprintf(stderr, "%s: error: same output file %s as %s\n", paths[i],
					a, paths[j]);
				errors++;
			}
			free(a);
			free(b);
		}
	}
	if (!errors)
		errors += gen_check_across(hs, n);
	if (errors) {
		fprintf(stderr, "bindings-gen: %zu error%s; nothing written\n", errors,
			errors == 1 ? "" : "s");
		rc = 1;
		goto done;
	}
	if (mkdir(out, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "bindings-gen: %s: %s\n", out, strerror(errno));
		rc = 1;
		goto done;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *text = gen_emit_header(&hs[i]);
		char *name = output_name(paths[i]);
		if (write_file(out, name, text) != 0)
			rc = 1;
		free(text);
		free(name);
	}
	if (rc == 0) {
		char *from = banner_from(paths, n);
		char *text = gen_emit_package(hs, n, from);
		if (write_file(out, "package.lisp", text) != 0)
			rc = 1;
		free(text);
		if (rc == 0 && docs_out) {
			text = gen_emit_api_md(hs, n, from);
			if (write_path(docs_out, text) != 0)
				rc = 1;
			free(text);
		}
		if (rc == 0 && errors_out) {
			text = gen_emit_errors_md(hs, n, from);
			if (write_path(errors_out, text) != 0)
				rc = 1;
			free(text);
		}
		free(from);
	}
done:
	for (size_t i = 0; i < n; i++)
		gen_model_free(&hs[i]);
	free(hs);
	free(paths);
	return rc;
}
