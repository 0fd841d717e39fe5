/* bad_variadic.h - no variadic prototypes, no unprototyped ones. */
#include <stdint.h>

/** A printf-like entry point. */
int32_t eps_bad_variadic(const char *fmt, ...);

/** An old-style declaration. */
int32_t eps_bad_no_prototype();
