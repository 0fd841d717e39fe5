/* SPDX-License-Identifier: MIT */
/*
 * test_addr.c - socket addresses in caller buffers, and name resolution.
 * No test sends DNS traffic: names come from /etc/hosts or are refused
 * locally by EPS_AI_NUMERICHOST.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "internal.h"
#include "testlib.h"

static int64_t handles_before;

static void leak_setup(void)
{
	handles_before = eps_handles_live(EPS_HANDLE_ADDRINFO);
}

static void leak_teardown(void)
{
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_ADDRINFO), handles_before);
}

/* Format ADDR and compare with WANT. */
static void check_text(const uint8_t *addr, int32_t len, const char *want)
{
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	int32_t n = eps_addr_format(addr, (size_t)len, text, sizeof text);
	ck_assert_int_eq(n, (int32_t)strlen(want));
	ck_assert_str_eq((char *)text, want);
}

START_TEST(inet_address_is_built_in_network_order)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	int32_t len = eps_addr_inet("127.0.0.1", 8080, a, sizeof a);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in));
	struct sockaddr_in sin;
	memcpy(&sin, a, sizeof sin);
	ck_assert_int_eq(sin.sin_family, AF_INET);
	ck_assert_int_eq(sin.sin_port, htons(8080));
	ck_assert_uint_eq(sin.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	ck_assert_int_eq(eps_addr_family(a, (size_t)len), EPS_AF_INET);
	ck_assert_int_eq(eps_addr_port(a, (size_t)len), 8080);
	check_text(a, len, "127.0.0.1:8080");
	ck_assert_int_eq(eps_addr_inet("0.0.0.0", 0, a, sizeof a), len);
	check_text(a, len, "0.0.0.0:0");
	ck_assert_int_eq(eps_addr_inet("255.255.255.255", 65535, a, sizeof a), len);
	check_text(a, len, "255.255.255.255:65535");
}
END_TEST

START_TEST(inet6_address_with_scope)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	int32_t len = eps_addr_inet6("::1", 443, 0, a, sizeof a);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	struct sockaddr_in6 sin6;
	memcpy(&sin6, a, sizeof sin6);
	ck_assert_int_eq(sin6.sin6_family, AF_INET6);
	ck_assert_int_eq(sin6.sin6_port, htons(443));
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr));
	ck_assert_int_eq(eps_addr_family(a, (size_t)len), EPS_AF_INET6);
	ck_assert_int_eq(eps_addr_port(a, (size_t)len), 443);
	ck_assert_int_eq(eps_addr_scope_id(a, (size_t)len), 0);
	check_text(a, len, "[::1]:443");

	ck_assert_int_eq(eps_addr_inet6("fe80::1%7", 80, 0, a, sizeof a), len);
	ck_assert_int_eq(eps_addr_scope_id(a, (size_t)len), 7);
	check_text(a, len, "[fe80::1%7]:80");
	ck_assert_int_eq(eps_addr_inet6("fe80::1", 80, 3, a, sizeof a), len);
	ck_assert_int_eq(eps_addr_scope_id(a, (size_t)len), 3);
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	ck_assert_int_eq(eps_addr_format_host(a, (size_t)len, text, sizeof text), 9);
	ck_assert_str_eq((char *)text, "fe80::1%3");
	/* The loopback interface by name. */
	ck_assert_int_eq(eps_addr_inet6("fe80::1%lo", 80, 0, a, sizeof a), len);
	ck_assert_int_gt(eps_addr_scope_id(a, (size_t)len), 0);
	/* Both ways of giving a scope at once. */
	ck_assert_code(eps_addr_inet6("fe80::1%2", 80, 2, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6("fe80::1%", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("fe80::1%no-such-if0", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("fe80::1%99999999999", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("fe80::1%1x", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	/* A v4-mapped literal is an IPv6 literal. */
	ck_assert_int_eq(eps_addr_inet6("::ffff:127.0.0.1", 1, 0, a, sizeof a), len);
	check_text(a, len, "[::ffff:127.0.0.1]:1");
}
END_TEST

START_TEST(unix_path_and_abstract_addresses)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	const char *path = "/tmp/eps.sock";
	int32_t len = eps_addr_unix((const uint8_t *)path, strlen(path), a, sizeof a);
	ck_assert_int_eq(len, offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	struct sockaddr_un sun;
	memcpy(&sun, a, (size_t)len);
	ck_assert_int_eq(sun.sun_family, AF_UNIX);
	ck_assert_str_eq(sun.sun_path, path);
	ck_assert_int_eq(eps_addr_family(a, (size_t)len), EPS_AF_UNIX);
	ck_assert_code(eps_addr_port(a, (size_t)len), EPS_EAFNOSUPPORT);
	ck_assert_code(eps_addr_scope_id(a, (size_t)len), EPS_EAFNOSUPPORT);
	check_text(a, len, "/tmp/eps.sock");
	/* Without the terminating NUL, as the kernel may report it. */
	check_text(a, len - 1, "/tmp/eps.sock");

	len = eps_addr_unix_abstract((const uint8_t *)"eps\0x", 5, a, sizeof a);
	ck_assert_int_eq(len, offsetof(struct sockaddr_un, sun_path) + 6);
	ck_assert_int_eq(a[offsetof(struct sockaddr_un, sun_path)], 0);
	check_text(a, len, "@eps@x");
	len = eps_addr_unix_abstract(NULL, 0, a, sizeof a);
	check_text(a, len, "@");
	/* An unnamed socket's address is the family alone. */
	check_text(a, (int32_t)sizeof(sa_family_t), "");

	/* The longest path and name fit; one more byte does not. */
	uint8_t longest[EPS_UNIX_PATH_MAX + 1];
	memset(longest, 'p', sizeof longest);
	longest[0] = '/';
	ck_assert_int_eq(eps_addr_unix(longest, EPS_UNIX_PATH_MAX, a, sizeof a),
			 sizeof(struct sockaddr_un));
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	ck_assert_int_eq(eps_addr_format(a, sizeof(struct sockaddr_un), text, sizeof text),
			 EPS_UNIX_PATH_MAX);
	ck_assert_code(eps_addr_unix(longest, EPS_UNIX_PATH_MAX + 1, a, sizeof a),
		       EPS_ENAMETOOLONG);
	ck_assert_int_eq(eps_addr_unix_abstract(longest, EPS_UNIX_PATH_MAX, a, sizeof a),
			 sizeof(struct sockaddr_un));
	ck_assert_int_eq(eps_addr_format(a, sizeof(struct sockaddr_un), text, sizeof text),
			 EPS_UNIX_PATH_MAX + 1);
	ck_assert_code(eps_addr_unix_abstract(longest, EPS_UNIX_PATH_MAX + 1, a, sizeof a),
		       EPS_ENAMETOOLONG);
	ck_assert_code(eps_addr_unix((const uint8_t *)"", 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_unix((const uint8_t *)"a\0b", 3, a, sizeof a), EPS_EBADADDRESS);
}
END_TEST

START_TEST(malformed_addresses_are_refused)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	memset(a, 0xAA, sizeof a);
	ck_assert_code(eps_addr_inet("300.1.1.1", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet("", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet("localhost", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet("1.2.3", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet("::1", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet(" 1.2.3.4", 80, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet("127.0.0.1", 70000, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet("127.0.0.1", 65536, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet("127.0.0.1", -1, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet(NULL, 80, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6("::g", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("[::1]", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("127.0.0.1", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("localhost", 80, 0, a, sizeof a), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_inet6("::1", 70000, 0, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6("::1", -1, 0, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6(NULL, 80, 0, a, sizeof a), EPS_EINVAL);
	/* A very long string is refused without being copied whole. */
	char huge[4096];
	memset(huge, ':', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	ck_assert_code(eps_addr_inet6(huge, 80, 0, a, sizeof a), EPS_EBADADDRESS);
	/* Nothing was written by the failures. */
	for (size_t i = 0; i < sizeof a; i++)
		ck_assert_int_eq(a[i], 0xAA);
}
END_TEST

START_TEST(small_buffers_are_refused)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	memset(a, 0xAA, sizeof a);
	ck_assert_code(eps_addr_inet("127.0.0.1", 1, a, 15), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_inet("127.0.0.1", 1, NULL, 0), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_inet("127.0.0.1", 1, NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6("::1", 1, 0, a, 27), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_unix((const uint8_t *)"/x", 2, a, 4), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_unix((const uint8_t *)NULL, 2, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_unix_abstract((const uint8_t *)"x", 1, a, 3), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_unix_abstract(NULL, 1, a, sizeof a), EPS_EINVAL);
	/* Capacities and lengths above 2^31-1, even with a bad host. */
	size_t huge = (size_t)INT32_MAX + 1;
	ck_assert_code(eps_addr_inet("127.0.0.1", 1, a, huge), EPS_EINVAL);
	ck_assert_code(eps_addr_inet("300.0.0.1", 1, a, SIZE_MAX), EPS_EINVAL);
	ck_assert_code(eps_addr_inet6("::1", 1, 0, a, huge), EPS_EINVAL);
	ck_assert_code(eps_addr_unix((const uint8_t *)"/x", 2, a, huge), EPS_EINVAL);
	ck_assert_code(eps_addr_unix((const uint8_t *)"/x", huge, a, sizeof a), EPS_EINVAL);
	ck_assert_code(eps_addr_unix_abstract((const uint8_t *)"x", SIZE_MAX, a, sizeof a),
		       EPS_EINVAL);
	ck_assert_code(eps_addr_unix_abstract((const uint8_t *)"x", 1, a, huge), EPS_EINVAL);
	for (size_t i = 0; i < sizeof a; i++)
		ck_assert_int_eq(a[i], 0xAA);

	int32_t len = eps_addr_inet("127.0.0.1", 8080, a, sizeof a);
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	memset(text, 0xAA, sizeof text);
	/* "127.0.0.1:8080" is 14 bytes and its NUL one more. */
	ck_assert_code(eps_addr_format(a, (size_t)len, text, 14), EPS_EBUFTOOSMALL);
	ck_assert_int_eq(text[0], 0xAA);
	ck_assert_int_eq(eps_addr_format(a, (size_t)len, text, 15), 14);
	ck_assert_code(eps_addr_format(a, (size_t)len, NULL, 15), EPS_EINVAL);
	ck_assert_code(eps_addr_format(a, (size_t)len, NULL, 0), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addr_format(a, (size_t)len, text, huge), EPS_EINVAL);
	ck_assert_code(eps_addr_format_host(a, (size_t)len, text, SIZE_MAX), EPS_EINVAL);
	ck_assert_code(eps_addr_format_host(a, (size_t)len, text, 9), EPS_EBUFTOOSMALL);
	ck_assert_int_eq(eps_addr_format_host(a, (size_t)len, text, 10), 9);
	ck_assert_str_eq((char *)text, "127.0.0.1");
}
END_TEST

START_TEST(readers_check_their_input)
{
	uint8_t a[EPS_SOCKADDR_MAX] = {0};
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	ck_assert_code(eps_addr_family(NULL, 0), EPS_EINVAL);
	ck_assert_code(eps_addr_family(NULL, 16), EPS_EINVAL);
	ck_assert_code(eps_addr_family(a, 1), EPS_EINVAL);
	ck_assert_code(eps_addr_family(a, EPS_SOCKADDR_MAX + 1), EPS_EINVAL);
	ck_assert_code(eps_addr_family(a, SIZE_MAX), EPS_EINVAL);
	ck_assert_int_eq(eps_addr_family(a, 2), EPS_AF_UNSPEC);
	ck_assert_code(eps_addr_port(a, 2), EPS_EAFNOSUPPORT);
	ck_assert_code(eps_addr_format(a, 2, text, sizeof text), EPS_EAFNOSUPPORT);
	/* A family whose structure does not fit in the given length. */
	int32_t len = eps_addr_inet("127.0.0.1", 80, a, sizeof a);
	ck_assert_code(eps_addr_port(a, (size_t)len - 1), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_format(a, (size_t)len - 1, text, sizeof text), EPS_EBADADDRESS);
	len = eps_addr_inet6("::1", 80, 0, a, sizeof a);
	ck_assert_code(eps_addr_port(a, (size_t)len - 1), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_scope_id(a, (size_t)len - 1), EPS_EBADADDRESS);
	ck_assert_code(eps_addr_format_host(a, 4, text, sizeof text), EPS_EBADADDRESS);
	/* A Unix address as long as the whole buffer: no read past it. */
	memset(a, 'z', sizeof a);
	sa_family_t unix_family = AF_UNIX;
	memcpy(a, &unix_family, sizeof unix_family);
	ck_assert_int_eq(eps_addr_format(a, sizeof a, text, sizeof text),
			 sizeof(struct sockaddr_un) - offsetof(struct sockaddr_un, sun_path));
}
END_TEST

/* Random bytes of every length, with each family forced in turn: the
 * readers answer with a code or a bounded text, never read past ADDRLEN. */
START_TEST(readers_survive_random_addresses)
{
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	const sa_family_t families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, 0xffff};
	for (int round = 0; round < 2000; round++) {
		size_t len = eps_test_rand64(&rng) % (EPS_SOCKADDR_MAX + 1);
		/* Exactly LEN bytes on the heap, so ASan sees any overread. */
		uint8_t *a = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(a);
		for (size_t i = 0; i < len; i++)
			a[i] = (uint8_t)eps_test_rand64(&rng);
		if (len >= sizeof(sa_family_t)) {
			sa_family_t f = families[round % 5];
			memcpy(a, &f, sizeof f);
		}
		uint8_t text[EPS_ADDRESS_TEXT_MAX];
		int32_t n = eps_addr_format(a, len, text, sizeof text);
		if (n >= 0) {
			ck_assert_int_lt(n, EPS_ADDRESS_TEXT_MAX);
			ck_assert_int_eq(text[n], 0);
		}
		n = eps_addr_format_host(a, len, text, sizeof text);
		if (n >= 0)
			ck_assert_int_lt(n, EPS_ADDRESS_TEXT_MAX);
		(void)eps_addr_family(a, len);
		(void)eps_addr_port(a, len);
		(void)eps_addr_scope_id(a, len);
		free(a);
	}
}
END_TEST

/* --- resolver ------------------------------------------------------------ */

START_TEST(localhost_resolves_from_hosts_file)
{
	int64_t h = eps_getaddrinfo("localhost", "8080", EPS_AF_INET, EPS_SOCK_STREAM, 0, 0);
	ck_assert_int_gt(h, 0);
	ck_assert_int_eq(eps_handles_live(EPS_HANDLE_ADDRINFO), handles_before + 1);
	int32_t n = eps_addrinfo_count(h);
	ck_assert_int_ge(n, 1);
	int found = 0;
	for (int32_t i = 0; i < n; i++) {
		uint8_t a[EPS_SOCKADDR_MAX];
		int32_t info[3] = {-1, -1, -1};
		int32_t len = eps_addrinfo_get(h, i, a, sizeof a, info);
		ck_assert_int_eq(len, sizeof(struct sockaddr_in));
		ck_assert_int_eq(info[0], EPS_AF_INET);
		ck_assert_int_eq(info[1], EPS_SOCK_STREAM);
		ck_assert_int_eq(info[2], EPS_IPPROTO_TCP);
		uint8_t text[EPS_ADDRESS_TEXT_MAX];
		ck_assert_int_gt(eps_addr_format(a, (size_t)len, text, sizeof text), 0);
		if (strcmp((char *)text, "127.0.0.1:8080") == 0)
			found = 1;
	}
	ck_assert(found);
	ck_assert_code(eps_addrinfo_canonname(h, (uint8_t[8]){0}, 8), EPS_ENODATA);
	ck_assert_int_eq(eps_addrinfo_free(h), 0);
	ck_assert_code(eps_addrinfo_free(h), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_count(h), EPS_EBADHANDLE);
}
END_TEST

START_TEST(numeric_hosts_and_passive_wildcard)
{
	uint8_t a[EPS_SOCKADDR_MAX];
	uint8_t text[EPS_ADDRESS_TEXT_MAX];
	int64_t h = eps_getaddrinfo("::1", "99", EPS_AF_UNSPEC, EPS_SOCK_DGRAM, 0,
				    EPS_AI_NUMERICHOST | EPS_AI_NUMERICSERV);
	ck_assert_int_gt(h, 0);
	ck_assert_int_eq(eps_addrinfo_count(h), 1);
	int32_t len = eps_addrinfo_get(h, 0, a, sizeof a, NULL);
	ck_assert_int_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(eps_addr_format(a, (size_t)len, text, sizeof text), 8);
	ck_assert_str_eq((char *)text, "[::1]:99");
	ck_assert_int_eq(eps_addrinfo_free(h), 0);

	h = eps_getaddrinfo(NULL, "0", EPS_AF_INET, EPS_SOCK_STREAM, 0, EPS_AI_PASSIVE);
	ck_assert_int_gt(h, 0);
	len = eps_addrinfo_get(h, 0, a, sizeof a, NULL);
	ck_assert_int_eq(eps_addr_format(a, (size_t)len, text, sizeof text), 9);
	ck_assert_str_eq((char *)text, "0.0.0.0:0");
	ck_assert_int_eq(eps_addrinfo_free(h), 0);

	h = eps_getaddrinfo("127.0.0.1", NULL, EPS_AF_INET, EPS_SOCK_STREAM, 0,
			    EPS_AI_NUMERICHOST | EPS_AI_CANONNAME);
	ck_assert_int_gt(h, 0);
	ck_assert_int_eq(eps_addrinfo_canonname(h, text, sizeof text), 9);
	ck_assert_str_eq((char *)text, "127.0.0.1");
	ck_assert_code(eps_addrinfo_canonname(h, text, 9), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addrinfo_canonname(h, NULL, 9), EPS_EINVAL);
	ck_assert_int_eq(eps_addrinfo_free(h), 0);
}
END_TEST

START_TEST(resolver_failures_have_their_codes)
{
	/* Fails locally: a name with AI_NUMERICHOST is never looked up. */
	ck_assert_code(eps_getaddrinfo("nonexistent.invalid", "80", EPS_AF_UNSPEC, EPS_SOCK_STREAM,
				       0, EPS_AI_NUMERICHOST),
		       EPS_EAINONAME);
	ck_assert_code(eps_getaddrinfo("localhost", "80", EPS_AF_UNSPEC, EPS_SOCK_STREAM, 0,
				       EPS_AI_NUMERICHOST),
		       EPS_EAINONAME);
	uint8_t detail[256];
	ck_assert_int_gt(eps_last_error_detail(-EPS_EAINONAME, detail, sizeof detail), 0);
	ck_assert_code(eps_getaddrinfo(NULL, NULL, EPS_AF_UNSPEC, 0, 0, 0), EPS_EAINONAME);
	ck_assert_code(eps_getaddrinfo("127.0.0.1", "no-such-service-x", EPS_AF_INET,
				       EPS_SOCK_STREAM, 0, EPS_AI_NUMERICHOST),
		       EPS_EAISERVICE);
	ck_assert_code(eps_getaddrinfo("127.0.0.1", "http", EPS_AF_INET, EPS_SOCK_STREAM, 0,
				       EPS_AI_NUMERICHOST | EPS_AI_NUMERICSERV),
		       EPS_EAINONAME);
	ck_assert_code(
	    eps_getaddrinfo("127.0.0.1", "80", 12345, EPS_SOCK_STREAM, 0, EPS_AI_NUMERICHOST),
	    EPS_EAIFAMILY);
	ck_assert_code(
	    eps_getaddrinfo("127.0.0.1", "80", EPS_AF_INET, 12345, 0, EPS_AI_NUMERICHOST),
	    EPS_ESOCKTNOSUPPORT);
	/* A literal of the other family: no address of the family asked for. */
	ck_assert_code(
	    eps_getaddrinfo("::1", "80", EPS_AF_INET, EPS_SOCK_STREAM, 0, EPS_AI_NUMERICHOST),
	    EPS_EAINODATA);
	ck_assert_code(eps_getaddrinfo("127.0.0.1", "80", EPS_AF_INET, 0, 0, 0x40000000),
		       EPS_EINVAL);
}
END_TEST

START_TEST(address_lists_check_handles_and_indexes)
{
	int64_t h =
	    eps_getaddrinfo("127.0.0.1", "1", EPS_AF_INET, EPS_SOCK_STREAM, 0, EPS_AI_NUMERICHOST);
	ck_assert_int_gt(h, 0);
	uint8_t a[EPS_SOCKADDR_MAX];
	int32_t info[3] = {-1, -1, -1};
	ck_assert_code(eps_addrinfo_get(h, 1, a, sizeof a, info), EPS_EINVAL);
	ck_assert_code(eps_addrinfo_get(h, -1, a, sizeof a, info), EPS_EINVAL);
	ck_assert_code(eps_addrinfo_get(h, 0, a, 15, info), EPS_EBUFTOOSMALL);
	ck_assert_code(eps_addrinfo_get(h, 0, NULL, 16, info), EPS_EINVAL);
	ck_assert_code(eps_addrinfo_get(h, 0, a, (size_t)INT32_MAX + 1, info), EPS_EINVAL);
	ck_assert_code(eps_addrinfo_canonname(h, a, SIZE_MAX), EPS_EINVAL);
	ck_assert_int_eq(info[0], -1); /* untouched by the failures */
	ck_assert_int_eq(eps_addrinfo_get(h, 0, a, 16, info), 16);
	ck_assert_int_eq(info[0], EPS_AF_INET);
	ck_assert_code(eps_addrinfo_count(0), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_count(-1), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_count(h + 1), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_count(INT64_MAX), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_get(0, 0, a, sizeof a, NULL), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_free(0), EPS_EBADHANDLE);
	ck_assert_code(eps_addrinfo_canonname(0, a, sizeof a), EPS_EBADHANDLE);
	ck_assert_int_eq(eps_addrinfo_free(h), 0);
	ck_assert_code(eps_addrinfo_get(h, 0, a, sizeof a, NULL), EPS_EBADHANDLE);
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *build = tcase_create("build");
	tcase_add_test(build, inet_address_is_built_in_network_order);
	tcase_add_test(build, inet6_address_with_scope);
	tcase_add_test(build, unix_path_and_abstract_addresses);
	tcase_add_test(build, malformed_addresses_are_refused);
	tcase_add_test(build, small_buffers_are_refused);
	tcase_add_test(build, readers_check_their_input);
	tcase_add_test(build, readers_survive_random_addresses);
	suite_add_tcase(s, build);
	TCase *resolve = tcase_create("resolve");
	tcase_add_checked_fixture(resolve, leak_setup, leak_teardown);
	tcase_add_test(resolve, localhost_resolves_from_hosts_file);
	tcase_add_test(resolve, numeric_hosts_and_passive_wildcard);
	tcase_add_test(resolve, resolver_failures_have_their_codes);
	tcase_add_test(resolve, address_lists_check_handles_and_indexes);
	suite_add_tcase(s, resolve);
	return s;
}

int main(void)
{
	return eps_test_main(addr_suite());
}
