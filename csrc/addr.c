/* SPDX-License-Identifier: MIT */
/*
 * addr.c - socket addresses in caller buffers, and name resolution.
 *
 * Address constructors take numeric literals only: turning a name into an
 * address is eps_getaddrinfo's job, the one call here that may block.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "internal.h"

_Static_assert((int)EPS_AI_PASSIVE == (int)AI_PASSIVE &&
		   (int)EPS_AI_CANONNAME == (int)AI_CANONNAME &&
		   (int)EPS_AI_NUMERICHOST == (int)AI_NUMERICHOST &&
		   (int)EPS_AI_V4MAPPED == (int)AI_V4MAPPED && (int)EPS_AI_ALL == (int)AI_ALL &&
		   (int)EPS_AI_ADDRCONFIG == (int)AI_ADDRCONFIG &&
		   (int)EPS_AI_NUMERICSERV == (int)AI_NUMERICSERV,
	       "AI_ values differ from <netdb.h>");
/* A path fills sun_path but for its terminating NUL. */
_Static_assert(EPS_UNIX_PATH_MAX == sizeof(((struct sockaddr_un *)0)->sun_path) - 1,
	       "EPS_UNIX_PATH_MAX differs from sun_path");
_Static_assert(EPS_ADDRESS_TEXT_MAX >= 1 + EPS_UNIX_PATH_MAX + 1 &&
		   EPS_ADDRESS_TEXT_MAX >= sizeof("[]:65535%4294967295") + INET6_ADDRSTRLEN,
	       "EPS_ADDRESS_TEXT_MAX too small");

#define SUN_PATH_OFFSET offsetof(struct sockaddr_un, sun_path)
#define LEN_MAX ((size_t)INT32_MAX)

/* An output buffer: NULL only with capacity 0, capacity below 2^31. */
static EPS_MUST_USE int check_out(const void *buf, size_t cap)
{
	EPS_ENSURE(cap <= LEN_MAX && (buf != NULL || cap == 0), EPS_EINVAL);
	return 0;
}

/* Copy a built address to the caller's buffer; return its length. */
static EPS_MUST_USE int32_t put_address(const void *sa, size_t len, uint8_t *addr, size_t addrcap)
{
	EPS_ENSURE(len <= addrcap, EPS_EBUFTOOSMALL);
	memcpy(addr, sa, len);
	return (int32_t)len;
}

EPS_EXPORT int32_t eps_addr_inet(const char *host, int32_t port, uint8_t *addr, size_t addrcap)
{
	EPS_GUARD(check_out(addr, addrcap));
	EPS_ENSURE(host != NULL, EPS_EINVAL);
	EPS_ENSURE(port >= 0 && port <= 65535, EPS_EINVAL);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		eps__set_detail(EPS_EBADADDRESS, "not an IPv4 literal");
		return -EPS_EBADADDRESS;
	}
	return put_address(&sin, sizeof sin, addr, addrcap);
}

/* A scope after "%": an interface number, else an interface name. */
static EPS_MUST_USE int parse_scope(const char *scope, uint32_t *out)
{
	if (*scope == '\0')
		return eps__fail(EPS_EBADADDRESS);
	if (scope[0] >= '0' && scope[0] <= '9') {
		char *end;
		unsigned long long v = strtoull(scope, &end, 10);
		if (*end != '\0' || v > UINT32_MAX)
			return eps__fail(EPS_EBADADDRESS);
		*out = (uint32_t)v;
		return 0;
	}
	unsigned int index = if_nametoindex(scope);
	if (index == 0) {
		eps__set_detail(EPS_EBADADDRESS, "no interface named %.*s", IF_NAMESIZE, scope);
		return -EPS_EBADADDRESS;
	}
	*out = index;
	return 0;
}

EPS_EXPORT int32_t eps_addr_inet6(const char *host, int32_t port, uint32_t scope_id, uint8_t *addr,
				  size_t addrcap)
{
	EPS_GUARD(check_out(addr, addrcap));
	EPS_ENSURE(host != NULL, EPS_EINVAL);
	EPS_ENSURE(port >= 0 && port <= 65535, EPS_EINVAL);
	char text[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE + 1];
	size_t len = strnlen(host, sizeof text);
	EPS_ENSURE(len < sizeof text, EPS_EBADADDRESS);
	memcpy(text, host, len + 1);
	struct sockaddr_in6 sin6 = {
	    .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_scope_id = scope_id};
	char *percent = strchr(text, '%');
	if (percent != NULL) {
		EPS_ENSURE(scope_id == 0, EPS_EINVAL);
		*percent = '\0';
		EPS_GUARD(parse_scope(percent + 1, &sin6.sin6_scope_id));
	}
	if (inet_pton(AF_INET6, text, &sin6.sin6_addr) != 1) {
		eps__set_detail(EPS_EBADADDRESS, "not an IPv6 literal");
		return -EPS_EBADADDRESS;
	}
	return put_address(&sin6, sizeof sin6, addr, addrcap);
}

EPS_EXPORT int32_t eps_addr_unix(const uint8_t *path, size_t pathlen, uint8_t *addr, size_t addrcap)
{
	EPS_GUARD(check_out(addr, addrcap));
	EPS_ENSURE(pathlen <= LEN_MAX && (path != NULL || pathlen == 0), EPS_EINVAL);
	EPS_ENSURE(pathlen <= EPS_UNIX_PATH_MAX, EPS_ENAMETOOLONG);
	EPS_ENSURE(pathlen > 0 && memchr(path, 0, pathlen) == NULL, EPS_EBADADDRESS);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	memcpy(sun.sun_path, path, pathlen);
	return put_address(&sun, SUN_PATH_OFFSET + pathlen + 1, addr, addrcap);
}

EPS_EXPORT int32_t eps_addr_unix_abstract(const uint8_t *name, size_t namelen, uint8_t *addr,
					  size_t addrcap)
{
	EPS_GUARD(check_out(addr, addrcap));
	EPS_ENSURE(namelen <= LEN_MAX && (name != NULL || namelen == 0), EPS_EINVAL);
	EPS_ENSURE(namelen <= EPS_UNIX_PATH_MAX, EPS_ENAMETOOLONG);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (namelen != 0)
		memcpy(sun.sun_path + 1, name, namelen);
	return put_address(&sun, SUN_PATH_OFFSET + 1 + namelen, addr, addrcap);
}

/* The family of a caller's address, read without assuming alignment. */
static EPS_MUST_USE int32_t read_family(const uint8_t *addr, size_t addrlen)
{
	EPS_ENSURE(addrlen <= EPS_SOCKADDR_MAX, EPS_EINVAL);
	EPS_ENSURE(addr != NULL && addrlen >= sizeof(sa_family_t), EPS_EINVAL);
	sa_family_t family;
	memcpy(&family, addr, sizeof family);
	return family;
}

EPS_EXPORT int32_t eps_addr_family(const uint8_t *addr, size_t addrlen)
{
	return read_family(addr, addrlen);
}

EPS_EXPORT int32_t eps_addr_port(const uint8_t *addr, size_t addrlen)
{
	int32_t family = read_family(addr, addrlen);
	EPS_GUARD(family);
	if (family == AF_INET) {
		struct sockaddr_in sin;
		EPS_ENSURE(addrlen >= sizeof sin, EPS_EBADADDRESS);
		memcpy(&sin, addr, sizeof sin);
		return ntohs(sin.sin_port);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 sin6;
		EPS_ENSURE(addrlen >= sizeof sin6, EPS_EBADADDRESS);
		memcpy(&sin6, addr, sizeof sin6);
		return ntohs(sin6.sin6_port);
	}
	return eps__fail(EPS_EAFNOSUPPORT);
}

EPS_EXPORT int64_t eps_addr_scope_id(const uint8_t *addr, size_t addrlen)
{
	int32_t family = read_family(addr, addrlen);
	EPS_GUARD(family);
	EPS_ENSURE(family == AF_INET6, EPS_EAFNOSUPPORT);
	struct sockaddr_in6 sin6;
	EPS_ENSURE(addrlen >= sizeof sin6, EPS_EBADADDRESS);
	memcpy(&sin6, addr, sizeof sin6);
	return sin6.sin6_scope_id;
}

/*
 * Format ADDR into a local buffer of EPS_ADDRESS_TEXT_MAX bytes, with or
 * without the port; return the length or a negative code.
 */
static EPS_MUST_USE int32_t format_address(const uint8_t *addr, size_t addrlen, int with_port,
			      char out[EPS_ADDRESS_TEXT_MAX])
{
	int32_t family = read_family(addr, addrlen);
	EPS_GUARD(family);
	int n;
	if (family == AF_INET) {
		struct sockaddr_in sin;
		char host[INET_ADDRSTRLEN];
		EPS_ENSURE(addrlen >= sizeof sin, EPS_EBADADDRESS);
		memcpy(&sin, addr, sizeof sin);
		if (inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host) == NULL)
			return EPS_ERRNO();
		if (with_port)
			n = snprintf(out, EPS_ADDRESS_TEXT_MAX, "%s:%u", host, ntohs(sin.sin_port));
		else
			n = snprintf(out, EPS_ADDRESS_TEXT_MAX, "%s", host);
	} else if (family == AF_INET6) {
		struct sockaddr_in6 sin6;
		char host[INET6_ADDRSTRLEN], scope[16] = "";
		EPS_ENSURE(addrlen >= sizeof sin6, EPS_EBADADDRESS);
		memcpy(&sin6, addr, sizeof sin6);
		if (inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof host) == NULL)
			return EPS_ERRNO();
		/* A number, not an interface name: no system call, stable text. */
		if (sin6.sin6_scope_id != 0)
			(void)snprintf(scope, sizeof scope, "%%%u", sin6.sin6_scope_id);
		if (with_port)
			n = snprintf(out, EPS_ADDRESS_TEXT_MAX, "[%s%s]:%u", host, scope,
				     ntohs(sin6.sin6_port));
		else
			n = snprintf(out, EPS_ADDRESS_TEXT_MAX, "%s%s", host, scope);
	} else if (family == AF_UNIX) {
		/* The caller's length may exceed the structure's. */
		size_t total =
		    addrlen < sizeof(struct sockaddr_un) ? addrlen : sizeof(struct sockaddr_un);
		size_t len = total - SUN_PATH_OFFSET;
		const uint8_t *path = addr + SUN_PATH_OFFSET;
		if (total <= SUN_PATH_OFFSET) {
			n = 0; /* unnamed */
		} else if (path[0] == 0) {
			out[0] = '@';
			for (size_t i = 1; i < len; i++)
				out[i] = path[i] ? (char)path[i] : '@';
			n = (int)len;
		} else {
			/* The kernel may count a terminating NUL, or not. */
			len = strnlen((const char *)path, len);
			memcpy(out, path, len);
			n = (int)len;
		}
		out[n] = '\0';
	} else {
		return eps__fail(EPS_EAFNOSUPPORT);
	}
	if (n < 0 || n >= EPS_ADDRESS_TEXT_MAX)
		return eps__fail(EPS_EBADADDRESS);
	return n;
}

static EPS_MUST_USE int32_t put_text(const char *text, int32_t len, uint8_t *out, size_t outcap)
{
	EPS_ENSURE((size_t)len < outcap, EPS_EBUFTOOSMALL);
	memcpy(out, text, (size_t)len + 1);
	return len;
}

EPS_EXPORT int32_t eps_addr_format(const uint8_t *addr, size_t addrlen, uint8_t *text,
				   size_t textcap)
{
	EPS_GUARD(check_out(text, textcap));
	char buf[EPS_ADDRESS_TEXT_MAX];
	int32_t n = format_address(addr, addrlen, 1, buf);
	EPS_GUARD(n);
	return put_text(buf, n, text, textcap);
}

EPS_EXPORT int32_t eps_addr_format_host(const uint8_t *addr, size_t addrlen, uint8_t *text,
					size_t textcap)
{
	EPS_GUARD(check_out(text, textcap));
	char buf[EPS_ADDRESS_TEXT_MAX];
	int32_t n = format_address(addr, addrlen, 0, buf);
	EPS_GUARD(n);
	return put_text(buf, n, text, textcap);
}

/* --- name resolution ---------------------------------------------------- */

#define AI_ALLOWED                                                                           \
	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | \
	 AI_NUMERICSERV)

struct eps_addrinfo {
	struct addrinfo *list;
	int32_t count;
};

static void addrinfo_destroy(void *obj)
{
	struct eps_addrinfo *ai = obj;
	freeaddrinfo(ai->list);
	free(ai);
}

/* getaddrinfo's own codes, as the shim's; errno when it says EAI_SYSTEM. */
static EPS_MUST_USE int32_t eai_code(int eai, int saved_errno)
{
	switch (eai) {
	case EAI_NONAME:
		return eps__fail(EPS_EAINONAME);
	case EAI_AGAIN:
		return eps__fail(EPS_EAIAGAIN);
	case EAI_FAIL:
		return eps__fail(EPS_EAIFAIL);
	case EAI_NODATA:
	case EAI_ADDRFAMILY:
		return eps__fail(EPS_EAINODATA);
	case EAI_FAMILY:
		return eps__fail(EPS_EAIFAMILY);
	case EAI_SERVICE:
		return eps__fail(EPS_EAISERVICE);
	case EAI_SOCKTYPE:
		return eps__fail(EPS_ESOCKTNOSUPPORT);
	case EAI_BADFLAGS:
		return eps__fail(EPS_EINVAL);
	case EAI_MEMORY:
		return eps__fail(EPS_ENOMEM);
	case EAI_SYSTEM:
		return eps__fail(saved_errno > 0 ? saved_errno : EPS_EAIOTHER);
	default:
		return eps__fail(EPS_EAIOTHER);
	}
}

EPS_EXPORT int64_t eps_getaddrinfo(const char *host, const char *service, int32_t family,
				   int32_t socktype, int32_t protocol, int32_t flags)
{
	EPS_ENSURE((flags & ~AI_ALLOWED) == 0, EPS_EINVAL);
	struct addrinfo hints = {
	    .ai_flags = flags,
	    .ai_family = family,
	    .ai_socktype = socktype,
	    .ai_protocol = protocol,
	};
	struct addrinfo *list = NULL;
	errno = 0;
	int eai = getaddrinfo(host, service, &hints, &list);
	if (eai != 0) {
		int32_t code = eai_code(eai, errno);
		eps__set_detail(code, "getaddrinfo: %s", gai_strerror(eai));
		return code;
	}
	int32_t count = 0;
	for (struct addrinfo *p = list; p != NULL && count < INT32_MAX; p = p->ai_next)
		count++;
	struct eps_addrinfo *ai = malloc(sizeof *ai);
	if (ai == NULL) {
		freeaddrinfo(list);
		return eps__fail(EPS_ENOMEM);
	}
	ai->list = list;
	ai->count = count;
	int64_t h = eps__handle_alloc(EPS_HANDLE_ADDRINFO, ai, addrinfo_destroy);
	if (h < 0)
		addrinfo_destroy(ai);
	return h;
}

EPS_EXPORT int32_t eps_addrinfo_count(int64_t handle)
{
	void *obj;
	EPS_GUARD(eps__handle_acquire(handle, EPS_HANDLE_ADDRINFO, &obj));
	int32_t count = ((struct eps_addrinfo *)obj)->count;
	eps__handle_release(handle);
	return count;
}

EPS_EXPORT int32_t eps_addrinfo_get(int64_t handle, int32_t index, uint8_t *addr, size_t addrcap,
				    int32_t *info)
{
	EPS_GUARD(check_out(addr, addrcap));
	void *obj;
	EPS_GUARD(eps__handle_acquire(handle, EPS_HANDLE_ADDRINFO, &obj));
	struct eps_addrinfo *ai = obj;
	int32_t r;
	if (index < 0 || index >= ai->count) {
		r = eps__fail(EPS_EINVAL);
		goto out;
	}
	struct addrinfo *p = ai->list;
	for (int32_t i = 0; i < index; i++)
		p = p->ai_next;
	if (p->ai_addrlen > EPS_SOCKADDR_MAX) {
		r = eps__fail(EPS_EBADADDRESS);
		goto out;
	}
	r = put_address(p->ai_addr, p->ai_addrlen, addr, addrcap);
	if (r >= 0 && info != NULL) {
		info[0] = p->ai_family;
		info[1] = p->ai_socktype;
		info[2] = p->ai_protocol;
	}
out:
	eps__handle_release(handle);
	return r;
}

EPS_EXPORT int32_t eps_addrinfo_canonname(int64_t handle, uint8_t *text, size_t textcap)
{
	EPS_GUARD(check_out(text, textcap));
	void *obj;
	EPS_GUARD(eps__handle_acquire(handle, EPS_HANDLE_ADDRINFO, &obj));
	struct eps_addrinfo *ai = obj;
	const char *name = ai->list ? ai->list->ai_canonname : NULL;
	int32_t r;
	if (name == NULL) {
		r = eps__fail(EPS_ENODATA);
	} else {
		size_t len = strlen(name);
		r = len >= (size_t)INT32_MAX ? eps__fail(EPS_ERANGE)
					     : put_text(name, (int32_t)len, text, textcap);
	}
	eps__handle_release(handle);
	return r;
}

EPS_EXPORT int32_t eps_addrinfo_free(int64_t handle)
{
	return eps__handle_free(handle, EPS_HANDLE_ADDRINFO);
}
