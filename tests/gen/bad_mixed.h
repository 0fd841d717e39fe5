/* bad_mixed.h - errors are reported in line order, whatever their kind. */
#include <stdint.h>

int32_t eps_bad_first(int32_t a);

#define EPS_BAD_SECOND (2)

/** Third. */
int eps_bad_third(void);
