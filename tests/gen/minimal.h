/* minimal.h - a second fixture header, for the determinism tests. */
#include <stdint.h>

enum eps_minimal { EPS_MINIMAL_ONE = 1 };

/** Return one. */
int32_t eps_minimal_one(void);
