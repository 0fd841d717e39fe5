/* bad_syntax.h - what the compiler itself rejects is refused too. */
#include <stdint.h>

/** An unknown type name. */
int32_t eps_bad_syntax(widget_t w);
