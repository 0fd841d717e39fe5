/* SPDX-License-Identifier: MIT */
/* The public headers must compile on their own, pedantically, as C99,
 * and link against the shared library alone. */
#include <epsilon/epsilon.h>

int main(void)
{
	return (eps_abi_version() >> 16) == EPS_ABI_MAJOR ? 0 : 1;
}
