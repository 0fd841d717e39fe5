/* bad_fnptr.h - callbacks are not part of the ABI. */
#include <stdint.h>

typedef int32_t (*eps_callback)(int32_t);

/** A function pointer parameter. */
int32_t eps_bad_fnptr(int32_t (*cb)(void *arg), void *arg);

/** A typedef'd function pointer. */
int32_t eps_bad_typedef_fnptr(eps_callback cb);
