/* bad_macro.h - public EPS_ macros must be a single integer literal. */
#include <stdint.h>

#define EPS_OK_FLAG 0x80000000u
#define EPS_BAD_EXPRESSION (1u << 31)
#define EPS_BAD_FUNCTION(x) ((x) + 1)
#define EPS_BAD_FLOAT 1.5
#define EPS_BAD_NEGATIVE -1
#define EPS_BAD_EMPTY
#define EPS_BAD_STRING "text"
#define EPS__INTERNAL_IS_FINE(x) (x)
