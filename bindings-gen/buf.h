/* SPDX-License-Identifier: MIT */
/*
 * buf.h - a growing text buffer, the output of the emitters (emit.c,
 * emit_md.c).  Always NUL-terminated; S is NULL until the first write.
 */
#ifndef BINDINGS_GEN_BUF_H
#define BINDINGS_GEN_BUF_H

#include <stddef.h>

struct buf {
	char *s;
	size_t len, cap;
};

/* Append the N bytes of S. */
void buf_put(struct buf *b, const char *s, size_t n);

/* Append the string S. */
void buf_puts(struct buf *b, const char *s);

/* Append printf(FMT, ...). */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
