/* SPDX-License-Identifier: MIT */
// The public headers from C++: epsilon.h compiles as strict C++11 and every
// header's functions link unmangled against the C library (a header missing
// its extern "C" guard fails here at link time, as an undefined C++ symbol).
#include <epsilon/epsilon.h>

#include <cstdio>
#include <cstring>

static int failures = 0;

static void expect(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "headers_cxx: %s\n", what);
		failures++;
	}
}

int main()
{
	// version.h
	expect((eps_abi_version() >> 16) == EPS_ABI_MAJOR, "ABI major differs");
	expect(std::strlen(eps_version_string()) > 0, "empty version string");
	// errors.h
	expect(std::strcmp(eps_errname(EPS_ECONNREFUSED), "ECONNREFUSED") == 0,
	       "errname of EPS_ECONNREFUSED");
	// digest.h: SHA-1 of "abc" starts a9 99 3e 36.
	uint8_t digest[EPS_SHA1_LENGTH];
	expect(eps_sha1(reinterpret_cast<const uint8_t *>("abc"), 3, digest, sizeof digest) ==
	               EPS_SHA1_LENGTH &&
	               digest[0] == 0xa9 && digest[1] == 0x99 && digest[2] == 0x3e,
	       "sha1 of abc");
	// net.h and fd.h: a byte through a socket pair.
	int32_t fds[2];
	expect(eps_socketpair(EPS_AF_UNIX, EPS_SOCK_STREAM, 0, fds) == 0, "socketpair");
	expect(eps_send(fds[0], reinterpret_cast<const uint8_t *>("x"), 1, 0) == 1, "send");
	uint8_t byte = 0;
	expect(eps_recv(fds[1], &byte, 1, 0) == 1 && byte == 'x', "recv");
	expect(eps_close(fds[0]) == 0 && eps_close(fds[1]) == 0, "close");
	// epoll.h
	int32_t ep = eps_epoll_create(0);
	expect(ep >= 0 && eps_close(ep) == 0, "epoll_create");
	// handles.h, tls.h, ffi.h: handle 0 is never valid.
	expect(eps_tls_context_free(0) == -EPS_EBADHANDLE, "tls_context_free(0)");
	expect(eps_ffi_cif_free(0) == -EPS_EBADHANDLE, "ffi_cif_free(0)");
	expect(eps_handles_live(EPS_HANDLE_ANY) == 0, "handles live");
	if (failures == 0)
		std::puts("headers_cxx: ok");
	return failures == 0 ? 0 : 1;
}
