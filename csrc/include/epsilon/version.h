/* SPDX-License-Identifier: MIT */
/*
 * epsilon/version.h - library and ABI version of libepsilon-linux.
 */
#ifndef EPSILON_VERSION_H
#define EPSILON_VERSION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The ABI version these headers describe.  The major number is the
 * library's soname version and changes only when an existing entry point
 * changes meaning; the minor number grows when entry points are added.
 */
enum eps_abi {
	EPS_ABI_MAJOR = 1,
	EPS_ABI_MINOR = 0
};

/**
 * Return the library's release version as a static string, such as
 * "0.1.0".  Never returns NULL.
 */
const char *eps_version_string(void);

/**
 * Return the ABI version of the loaded library as (major << 16) | minor.
 * A binding compares the major number with the one it was generated from
 * before making any other call.
 */
int32_t eps_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* EPSILON_VERSION_H */
