/* dup_a.h - with dup_b.h: one name from two headers is refused. */
#include <stdint.h>

enum { EPS_DUP_SHARED = 1 };

/** Declared in both. */
int32_t eps_dup_both(void);
