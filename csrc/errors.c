/* SPDX-License-Identifier: MIT */
/*
 * errors.c - names and messages of the error codes, and the per-thread
 * detail text that goes with a failure, stamped with the failure's code.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The public table uses literal numbers; here they meet the kernel's. */
#define EPS__CHECK_ERRNO(name, value, class, message)                                \
	_Static_assert(EPS_##name == name, "EPS_" #name " differs from <errno.h>");
EPS__ERRNO_CODES(EPS__CHECK_ERRNO)
_Static_assert(EPS_EWOULDBLOCK == EWOULDBLOCK, "EWOULDBLOCK");

#define EPS__CHECK_SHIM(name, value, class, message)                                 \
	_Static_assert(EPS_##name > EPS_ERRNO_MAX, "EPS_" #name " must be above 4096");
EPS__SHIM_CODES(EPS__CHECK_SHIM)

struct code_entry {
	int32_t code;
	const char *name;
	const char *message;
};

#define EPS__ENTRY(name, value, class, message) {value, #name, message},

static const struct code_entry errno_entries[] = {EPS__ERRNO_CODES(EPS__ENTRY)};
static const struct code_entry shim_entries[] = {EPS__SHIM_CODES(EPS__ENTRY)};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Errno codes are few and sorted; shim codes are dense from 4097. */
static const struct code_entry *find_entry(int32_t code)
{
	if (code < 0) {
		if (code == INT32_MIN)
			return NULL;
		code = -code;
	}
	if (code > EPS_ERRNO_MAX) {
		size_t i = (size_t)(code - EPS_ERRNO_MAX - 1);
		if (i < COUNT(shim_entries) && shim_entries[i].code == code)
			return &shim_entries[i];
		return NULL;
	}
	size_t lo = 0, hi = COUNT(errno_entries);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (errno_entries[mid].code == code)
			return &errno_entries[mid];
		if (errno_entries[mid].code < code)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

EPS_EXPORT const char *eps_strerror(int32_t code)
{
	if (code == 0)
		return "success";
	const struct code_entry *e = find_entry(code);
	return e ? e->message : "unknown error";
}

EPS_EXPORT const char *eps_errname(int32_t code)
{
	if (code == 0)
		return "OK";
	const struct code_entry *e = find_entry(code);
	return e ? e->name : "EUNKNOWN";
}

/*
 * Detail text: one buffer per thread, stamped with the code of the failure
 * that set it.  Only failures touch it; a reader names the code it got, so
 * a failure that set no detail never shows an older failure's text.
 */
#define DETAIL_MAX 1024
static _Thread_local char detail[DETAIL_MAX];
static _Thread_local size_t detail_len;
static _Thread_local int32_t detail_code;

static int32_t positive_code(int32_t code)
{
	return code == INT32_MIN ? 0 : code < 0 ? -code : code;
}

static void detail_vappend(const char *sep, const char *fmt, va_list ap)
{
	if (detail_len > 0 && detail_len < DETAIL_MAX - 1) {
		int n = snprintf(detail + detail_len, DETAIL_MAX - detail_len, "%s", sep);
		if (n > 0)
			detail_len += (size_t)n;
	}
	if (detail_len >= DETAIL_MAX - 1) {
		detail_len = strlen(detail);
		return;
	}
	int n = vsnprintf(detail + detail_len, DETAIL_MAX - detail_len, fmt, ap);
	if (n > 0)
		detail_len += (size_t)n;
	if (detail_len >= DETAIL_MAX)
		detail_len = DETAIL_MAX - 1;
}

void eps__set_detail(int32_t code, const char *fmt, ...)
{
	va_list ap;
	detail_len = 0;
	detail[0] = '\0';
	detail_code = positive_code(code);
	va_start(ap, fmt);
	detail_vappend("", fmt, ap);
	va_end(ap);
}

void eps__append_detail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	detail_vappend("; ", fmt, ap);
	va_end(ap);
}

void eps__clear_detail(void)
{
	detail_len = 0;
	detail[0] = '\0';
	detail_code = 0;
}

EPS_EXPORT int32_t eps_last_error_detail(int32_t code, uint8_t *buf, size_t len)
{
	if (buf == NULL && len != 0)
		return -EPS_EINVAL;
	code = positive_code(code);
	size_t have = code != 0 && code == detail_code ? detail_len : 0;
	if (len > 0) {
		size_t n = have < len - 1 ? have : len - 1;
		memcpy(buf, detail, n);
		buf[n] = '\0';
	}
	return (int32_t)have;
}
