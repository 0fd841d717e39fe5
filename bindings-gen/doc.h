/* SPDX-License-Identifier: MIT */
/*
 * doc.h - doc comments as plain text, for the checks (an empty doc block)
 * and both emitters (docstrings, Markdown).
 */
#ifndef BINDINGS_GEN_DOC_H
#define BINDINGS_GEN_DOC_H

/* A raw doc comment as plain text, markers stripped (malloc'd). */
char *gen_doc_text(const char *raw);

#endif
