/* SPDX-License-Identifier: MIT */
/*
 * util.c - allocation that never returns NULL: the generator is a build
 * tool, so running out of memory ends it with a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void out_of_memory(void)
{
	fputs("bindings-gen: out of memory\n", stderr);
	exit(2);
}

void *gen_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *gen_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory();
	return q;
}

char *gen_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		out_of_memory();
	return d;
}
