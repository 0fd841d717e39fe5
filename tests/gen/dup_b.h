/* dup_b.h - with dup_a.h: one name from two headers is refused. */
#include <stdint.h>

#define EPS_DUP_SHARED 1

/** Declared in both. */
int32_t eps_dup_both(void);
