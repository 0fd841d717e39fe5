/* including.h - what an included header declares is not emitted here. */
#include "minimal.h"

enum { EPS_INCLUDING_ANONYMOUS = 3 };

/** Declared here. */
int32_t eps_including_own(void);
