/* bad_type.h - types outside the table; every error is reported. */
#include <stddef.h>
#include <stdint.h>

/** Plain int is refused even though it is int32_t underneath. */
int eps_bad_int_return(int32_t ok);

/** A long parameter. */
int32_t eps_bad_long_param(int32_t ok,
			   long count);

/** A mutable char pointer is not a string. */
int32_t eps_bad_char_pointer(char *name);

/** A float. */
int32_t eps_bad_float(float x);

/** A pointer to a pointer. */
int32_t eps_bad_double_pointer(uint8_t **bufs);

/** void as a parameter type only in (void). */
int32_t eps_ok(void);

/** A pointer to size_t is not in the table. */
int32_t eps_bad_size_pointer(size_t *n);
