/* SPDX-License-Identifier: MIT */
/*
 * version.c - library and ABI version.
 */
#include "config.h"
#include "internal.h"

/* meson.build and version.h must agree on the ABI the soname carries. */
_Static_assert(EPS_ABI_MAJOR == EPS__CONFIG_ABI_MAJOR, "ABI major: version.h vs meson.build");
_Static_assert(EPS_ABI_MINOR == EPS__CONFIG_ABI_MINOR, "ABI minor: version.h vs meson.build");

EPS_EXPORT const char *eps_version_string(void)
{
	return EPS__CONFIG_VERSION;
}

EPS_EXPORT int32_t eps_abi_version(void)
{
	return (EPS_ABI_MAJOR << 16) | EPS_ABI_MINOR;
}
