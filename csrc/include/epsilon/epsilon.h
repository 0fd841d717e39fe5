/* SPDX-License-Identifier: MIT */
/*
 * epsilon/epsilon.h - umbrella header of libepsilon-linux.
 *
 * It declares nothing itself: each header it includes carries its own
 * extern "C" guard, so C++ may include any of them alone.
 */
#ifndef EPSILON_EPSILON_H
#define EPSILON_EPSILON_H

#include <epsilon/digest.h>
#include <epsilon/epoll.h>
#include <epsilon/errors.h>
#include <epsilon/fd.h>
#include <epsilon/ffi.h>
#include <epsilon/handles.h>
#include <epsilon/net.h>
#include <epsilon/tls.h>
#include <epsilon/version.h>

#endif /* EPSILON_EPSILON_H */
