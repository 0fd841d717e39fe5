/* bad_enum.h - enumerators must fit in int: larger flags are macros. */
#include <stdint.h>

enum eps_bad_flags {
	EPS_FITS = 0x7fffffff,
	EPS_TOO_LARGE = 0x80000000,
	EPS_ALSO_FITS = -2147483647 - 1
};
