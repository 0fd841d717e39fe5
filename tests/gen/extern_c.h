/*
 * extern_c.h - a header with C++ guards, as public headers may carry them:
 * bindings-gen parses C, where __cplusplus is not defined, so the guards
 * are skipped and the declarations between them are emitted as usual.
 */
#ifndef EXTERN_C_H
#define EXTERN_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A constant inside the guards. */
enum eps_guarded { EPS_GUARDED_ONE = 1 };

/** Return one, declared inside the guards. */
int32_t eps_guarded_one(void);

#ifdef __cplusplus
}
#endif

#endif
