/* SPDX-License-Identifier: MIT */
/*
 * codes.h - questions about a header's X-macro code tables, for both
 * emitters: which code has a value, which enumerators are second names.
 */
#ifndef BINDINGS_GEN_CODES_H
#define BINDINGS_GEN_CODES_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* The code of H's tables with VALUE (the first, in table order), or NULL. */
const struct gen_code *gen_code_valued(const struct gen_header *h, uint64_t value);

/*
 * The other public enumerators of the codes' enum whose value is a code's:
 * second names of a code (EPS_EWOULDBLOCK).  Sets *OUT to a malloc'd array
 * of them in header order (NULL when none) and returns their count.
 */
size_t gen_code_second_names(const struct gen_header *h, const struct gen_constant ***out);

#endif
