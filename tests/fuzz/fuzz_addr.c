/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addr - socket addresses and numeric name resolution.
 *
 * The input is a sequence of operations: build an address from a string
 * (IPv4, IPv6 with a scope, a Unix path, an abstract name), read and format
 * arbitrary address bytes, and resolve numeric literals.  Every success is
 * checked against what it must mean (a built address formats back to the
 * literal it came from; a formatted text is NUL-terminated at the length
 * returned), every failure must leave the output buffer untouched, and the
 * handle table must hold nothing afterwards.
 *
 * Resolution is numeric only: EPS_AI_NUMERICHOST is forced into every
 * eps_getaddrinfo call, so no input can make the target ask a DNS server.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fuzzlib.h"

#define SENTINEL 0xa5
#define BUF 200

static int untouched(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != SENTINEL)
			return 0;
	return 1;
}

/* A capacity for an output buffer of BUF bytes; maybe NULL'd via *NULLP. */
static size_t out_cap(struct fz *f, int *nullp)
{
	uint8_t sel = fz_u8(f);
	*nullp = (sel & 0xf0) == 0xf0;
	switch (sel & 7) {
	case 0:
		return 0;
	case 1:
		return (size_t)INT32_MAX + 1;
	case 2:
		return SIZE_MAX;
	case 3:
		return EPS_SOCKADDR_MAX;
	default:
		return fz_u8(f) % (BUF + 1);
	}
}

/* Check the text a formatter returned, and its round trip where defined. */
static void check_text(int32_t n, const uint8_t *text, size_t cap)
{
	if (n < 0) {
		FZ_CHECK_CODE(n);
		FZ_CHECK(untouched(text, cap < BUF ? cap : BUF), "output written on failure (%s)",
			 eps_errname(n));
		return;
	}
	FZ_CHECK((size_t)n < cap && n < EPS_ADDRESS_TEXT_MAX, "length %d, capacity %zu", n, cap);
	FZ_CHECK(text[n] == 0 && strlen((const char *)text) == (size_t)n,
		 "text not NUL-terminated at its length %d", n);
}

/* Read and format the address at ADDR (LEN bytes), checking every answer. */
static void read_address(const uint8_t *addr, size_t len, struct fz *f)
{
	int32_t family = eps_addr_family(addr, len);
	FZ_CHECK_CODE(family);
	int32_t port = eps_addr_port(addr, len);
	FZ_CHECK_CODE(port);
	FZ_CHECK(port < 65536, "port %d", port);
	if (port >= 0)
		FZ_CHECK(family == AF_INET || family == AF_INET6, "port of family %d", family);
	int64_t scope = eps_addr_scope_id(addr, len);
	FZ_CHECK_CODE(scope);
	FZ_CHECK(scope <= UINT32_MAX, "scope %lld", (long long)scope);

	uint8_t text[BUF];
	int null_text;
	size_t cap = out_cap(f, &null_text);
	memset(text, SENTINEL, sizeof text);
	uint8_t *t = null_text ? NULL : text;
	size_t real_cap = cap > BUF ? BUF : cap;
	/* A capacity above the real buffer must be refused before writing. */
	if (cap > BUF && cap <= (size_t)INT32_MAX)
		cap = BUF;
	int32_t n = eps_addr_format(addr, len, t, cap);
	if (t == NULL)
		FZ_CHECK(n < 0 || cap == 0, "NULL text accepted with capacity %zu", cap);
	check_text(n, text, real_cap);
	if (n >= 0 && family == AF_INET6) {
		/* "[host%scope]:port" parses back to the same address. */
		char host[BUF];
		memcpy(host, text + 1, (size_t)n);
		char *close = strrchr(host, ']');
		FZ_CHECK(close != NULL, "no ] in %s", text);
		*close = 0;
		uint8_t again[EPS_SOCKADDR_MAX];
		int32_t m = eps_addr_inet6(host, port, 0, again, sizeof again);
		FZ_CHECK(m == (int32_t)sizeof(struct sockaddr_in6), "%s: %s", host, eps_errname(m));
		struct sockaddr_in6 a, b;
		memcpy(&a, addr, sizeof a);
		memcpy(&b, again, sizeof b);
		FZ_CHECK(memcmp(&a.sin6_addr, &b.sin6_addr, 16) == 0 &&
			     a.sin6_port == b.sin6_port && a.sin6_scope_id == b.sin6_scope_id,
			 "%s does not round-trip", (const char *)text);
	}
	if (n >= 0 && family == AF_INET) {
		uint8_t again[EPS_SOCKADDR_MAX];
		char host[BUF];
		memcpy(host, text, (size_t)n + 1);
		*strrchr(host, ':') = 0;
		int32_t m = eps_addr_inet(host, port, again, sizeof again);
		FZ_CHECK(m == (int32_t)sizeof(struct sockaddr_in), "%s: %s", host, eps_errname(m));
		FZ_CHECK(memcmp(again + 2, addr + 2, 6) == 0, "%s does not round-trip",
			 (const char *)text);
	}

	memset(text, SENTINEL, sizeof text);
	n = eps_addr_format_host(addr, len, t, cap);
	check_text(n, text, real_cap);
}

/* Build an address with one of the constructors, then read it back. */
static void build_address(struct fz *f, int which)
{
	char host[80];
	uint8_t addr[BUF];
	int null_addr;
	size_t cap = out_cap(f, &null_addr);
	size_t real_cap = cap > BUF ? BUF : cap;
	if (cap > BUF && cap <= (size_t)INT32_MAX)
		cap = BUF;
	uint8_t *a = null_addr ? NULL : addr;
	memset(addr, SENTINEL, sizeof addr);
	int32_t port = (fz_u8(f) & 3) == 0 ? fz_i32(f) : fz_u16(f);
	int32_t n;
	size_t plen;
	const uint8_t *path;
	switch (which) {
	case 0:
		n = eps_addr_inet((fz_u8(f) & 15) == 0 ? NULL : fz_string(f, host, sizeof host),
				  port, a, cap);
		if (n >= 0)
			FZ_CHECK(n == (int32_t)sizeof(struct sockaddr_in), "inet length %d", n);
		break;
	case 1: {
		uint32_t scope = (fz_u8(f) & 3) == 0 ? fz_u32(f) : 0;
		n = eps_addr_inet6((fz_u8(f) & 15) == 0 ? NULL : fz_string(f, host, sizeof host),
				   port, scope, a, cap);
		if (n >= 0)
			FZ_CHECK(n == (int32_t)sizeof(struct sockaddr_in6), "inet6 length %d", n);
		break;
	}
	case 2:
		path = fz_bytes(f, 120, &plen);
		n = eps_addr_unix((fz_u8(f) & 15) == 0 ? NULL : path, plen, a, cap);
		if (n >= 0) {
			FZ_CHECK(n == (int32_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1),
				 "unix length %d for a path of %zu", n, plen);
			uint8_t text[BUF];
			int32_t m = eps_addr_format(addr, (size_t)n, text, sizeof text);
			FZ_CHECK(m == (int32_t)plen && memcmp(text, path, plen) == 0,
				 "unix path does not round-trip: %d", m);
		}
		break;
	default:
		path = fz_bytes(f, 120, &plen);
		n = eps_addr_unix_abstract((fz_u8(f) & 15) == 0 ? NULL : path, plen, a, cap);
		if (n >= 0) {
			FZ_CHECK(n == (int32_t)(offsetof(struct sockaddr_un, sun_path) + 1 + plen),
				 "abstract length %d for a name of %zu", n, plen);
			uint8_t text[BUF];
			int32_t m = eps_addr_format(addr, (size_t)n, text, sizeof text);
			FZ_CHECK(m == (int32_t)plen + 1 && text[0] == '@', "abstract name: %d", m);
			for (size_t i = 0; i < plen; i++)
				FZ_CHECK(text[i + 1] == (path[i] ? path[i] : '@'),
					 "abstract byte %zu", i);
		}
		break;
	}
	if (n < 0) {
		FZ_CHECK_CODE(n);
		FZ_CHECK(untouched(addr, real_cap), "address written on failure (%s)",
			 eps_errname(n));
		return;
	}
	FZ_CHECK(a != NULL && (size_t)n <= real_cap, "length %d for capacity %zu", n, cap);
	FZ_CHECK(eps_addr_family(addr, (size_t)n) == (which == 0   ? AF_INET
						      : which == 1 ? AF_INET6
								   : AF_UNIX),
		 "family of a built address");
	if (which <= 1)
		FZ_CHECK(eps_addr_port(addr, (size_t)n) == port, "port of a built address");
	read_address(addr, (size_t)n, f);
}

/* Raw bytes as an address, with a length that may lie about them. */
static void raw_address(struct fz *f)
{
	uint8_t addr[BUF];
	memset(addr, 0, sizeof addr);
	size_t len;
	const uint8_t *p = fz_bytes(f, BUF, &len);
	memcpy(addr, p, len);
	/* Mostly a family the library formats. */
	switch (fz_u8(f) & 3) {
	case 0: {
		sa_family_t fam = (sa_family_t)(fz_u8(f) & 1 ? AF_INET6 : AF_INET);
		memcpy(addr, &fam, sizeof fam);
		break;
	}
	case 1: {
		sa_family_t fam = AF_UNIX;
		memcpy(addr, &fam, sizeof fam);
		break;
	}
	default:
		break;
	}
	size_t addrlen;
	switch (fz_u8(f) & 3) {
	case 0:
		addrlen = len;
		break;
	case 1:
		addrlen = fz_u8(f) % (BUF + 1);
		break;
	case 2:
		addrlen = (size_t)INT32_MAX + 1 + (fz_u8(f) & 1);
		break;
	default:
		addrlen = EPS_SOCKADDR_MAX + (fz_u8(f) & 3);
		break;
	}
	/* A length beyond the real buffer must be refused without a read. */
	if (addrlen > BUF && addrlen <= EPS_SOCKADDR_MAX)
		addrlen = BUF;
	int null_addr = (fz_u8(f) & 31) == 0;
	read_address(null_addr ? NULL : addr, addrlen, f);
}

static void resolve(struct fz *f)
{
	static const int32_t families[] = {EPS_AF_UNSPEC, EPS_AF_INET, EPS_AF_INET6, EPS_AF_UNIX,
					   12345};
	static const int32_t types[] = {0, EPS_SOCK_STREAM, EPS_SOCK_DGRAM, EPS_SOCK_SEQPACKET, 3};
	char host[80], service[40];
	const char *h = (fz_u8(f) & 7) == 0 ? NULL : fz_string(f, host, sizeof host);
	const char *s = (fz_u8(f) & 3) == 0 ? NULL : fz_string(f, service, sizeof service);
	int32_t family = families[fz_pick(f, 5)];
	int32_t socktype = types[fz_pick(f, 5)];
	int32_t protocol = (fz_u8(f) & 3) == 0 ? fz_i32(f) : 0;
	int32_t flags = (int32_t)fz_u16(f);
	if (fz_u8(f) & 1)
		flags &= EPS_AI_PASSIVE | EPS_AI_CANONNAME | EPS_AI_V4MAPPED | EPS_AI_ALL |
			 EPS_AI_ADDRCONFIG | EPS_AI_NUMERICSERV;
	/* Never a DNS query: numeric hosts only, whatever the input says. */
	flags |= EPS_AI_NUMERICHOST;
	int64_t h0 = eps_handles_live(EPS_HANDLE_ADDRINFO);
	int64_t list = eps_getaddrinfo(h, s, family, socktype, protocol, flags);
	FZ_CHECK_CODE(list);
	if (list < 0) {
		FZ_CHECK(eps_handles_live(EPS_HANDLE_ADDRINFO) == h0,
			 "a failed resolve left a handle");
		return;
	}
	int32_t count = eps_addrinfo_count(list);
	FZ_CHECK(count >= 1, "count %d", count);
	int rounds = 1 + (fz_u8(f) & 3);
	for (int i = 0; i < rounds; i++) {
		int32_t index =
		    (fz_u8(f) & 3) == 0 ? fz_i32(f) : (int32_t)fz_pick(f, (uint32_t)count + 1);
		uint8_t addr[BUF];
		int32_t info[3] = {-7, -7, -7};
		int null_addr;
		size_t cap = out_cap(f, &null_addr);
		if (cap > BUF && cap <= (size_t)INT32_MAX)
			cap = BUF;
		memset(addr, SENTINEL, sizeof addr);
		int32_t n = eps_addrinfo_get(list, index, null_addr ? NULL : addr, cap,
					     (fz_u8(f) & 1) ? info : NULL);
		FZ_CHECK_CODE(n);
		if (index < 0 || index >= count)
			FZ_CHECK(n < 0, "index %d of %d accepted", index, count);
		if (n >= 0) {
			read_address(addr, (size_t)n, f);
			if (info[0] != -7)
				FZ_CHECK(info[0] == eps_addr_family(addr, (size_t)n),
					 "info family");
		} else {
			FZ_CHECK(info[0] == -7, "info written on failure");
		}
		uint8_t text[BUF];
		memset(text, SENTINEL, sizeof text);
		cap = out_cap(f, &null_addr);
		size_t real_cap = cap > BUF ? BUF : cap;
		if (cap > BUF && cap <= (size_t)INT32_MAX)
			cap = BUF;
		n = eps_addrinfo_canonname(list, null_addr ? NULL : text, cap);
		if (n != -EPS_ENODATA)
			check_text(n, text, real_cap);
	}
	FZ_CHECK(eps_addrinfo_free(list) == 0, "free");
	FZ_CHECK(eps_addrinfo_free(list) == -EPS_EBADHANDLE, "second free");
	FZ_CHECK(eps_addrinfo_count(list) == -EPS_EBADHANDLE, "use after free");
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ADDRINFO) == h0, "handle count after free");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {data, size};
	int64_t live0 = eps_handles_live(EPS_HANDLE_ANY);
	for (int ops = 0; ops < 64 && !fz_empty(&f); ops++) {
		uint8_t op = fz_u8(&f) % 7;
		if (op < 4)
			build_address(&f, op);
		else if (op < 6)
			raw_address(&f);
		else
			resolve(&f);
	}
	uint8_t detail[64];
	int32_t d = eps_last_error_detail(fz_i32(&f), detail, sizeof detail);
	FZ_CHECK_CODE(d);
	FZ_CHECK(eps_handles_live(EPS_HANDLE_ANY) == live0, "handles leaked");
	FZ_CHECK(eps_fds_open() == 0, "descriptors leaked");
	return 0;
}
