/* SPDX-License-Identifier: MIT */
/*
 * doc.c - a raw doc comment (as libclang or macro_doc gives it) as plain
 * text: the one place that knows comment markers.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "model.h"

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
				buf_puts(&lines, "\n\n");
			else if (any)
				buf_puts(&lines, "\n");
			buf_put(&lines, s, (size_t)(e - s));
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
