/* bad_name.h - names the generator refuses. */
#include <stdint.h>

/** Not in the eps_ namespace. */
int32_t other_function(int32_t a);

/** Internal functions stay out of public headers. */
int32_t eps__internal(int32_t a);

/** A Lisp constant as a parameter name. */
int32_t eps_bad_param_t(int32_t t);

/** Another one. */
int32_t eps_bad_param_nil(int32_t nil);

/** And pi. */
int32_t eps_bad_param_pi(uint64_t pi);

/** An unnamed parameter. */
int32_t eps_bad_unnamed(int32_t);

/** Two C names, one Lisp name. */
int32_t eps_bad_same(int32_t buf_len, int32_t BUF_LEN);

/** Defined in the header: the library would not export it. */
static inline int32_t eps_bad_inline(void)
{
	return 0;
}

/** A parameter that Lisp would read as a number. */
int32_t eps_bad_underscore(int32_t _1);
