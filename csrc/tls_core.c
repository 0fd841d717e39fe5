/* SPDX-License-Identifier: MIT */
/*
 * tls_core.c - what every TLS file stands on: the lifecycle of a locked
 * object (context or connection), entering and leaving one by its handle,
 * and OpenSSL's error queue turned into a code and a detail.
 *
 * OpenSSL's error queue is per thread: it is cleared on entering an object
 * (a stale entry would change SSL_get_error's answer), and every failure
 * moves its text into the thread's detail and clears it again.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "internal.h"
#include "tls_internal.h"

void eps__tls_queue_to_detail(void)
{
	unsigned long e;
	char buf[256];
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof buf);
		eps__append_detail("%s", buf);
	}
}

int32_t eps__tls_fail(int32_t code, const char *what)
{
	eps__set_detail(code, "%s", what);
	eps__tls_queue_to_detail();
	return -code;
}

void *eps__tls_object_new(size_t size)
{
	struct tls_object *o = calloc(1, size);
	if (o == NULL)
		return NULL;
	if (pthread_mutex_init(&o->lock, NULL) != 0) {
		free(o);
		return NULL;
	}
	return o;
}

int64_t eps__tls_object_publish(uint32_t type, void *obj, eps__destroy_fn destroy)
{
	int64_t h = eps__handle_alloc(type, obj, destroy);
	if (h < 0)
		destroy(obj);
	return h;
}

void eps__tls_object_free(void *obj)
{
	struct tls_object *o = obj;
	pthread_mutex_destroy(&o->lock);
	free(o);
}

int eps__tls_object_enter(int64_t handle, uint32_t type, void **out)
{
	void *obj;
	int r = eps__handle_acquire(handle, type, &obj);
	if (r < 0)
		return r;
	struct tls_object *o = obj;
	pthread_mutex_lock(&o->lock);
	ERR_clear_error();
	*out = obj;
	return 0;
}

void eps__tls_object_leave(int64_t handle, void *obj)
{
	struct tls_object *o = obj;
	pthread_mutex_unlock(&o->lock);
	eps__handle_release(handle);
}

int eps__tls_context_enter(int64_t ctx, struct tls_context **out)
{
	return eps__tls_object_enter(ctx, EPS_HANDLE_TLS_CONTEXT, (void **)out);
}

void eps__tls_context_leave(int64_t ctx, struct tls_context *c)
{
	eps__tls_object_leave(ctx, c);
}

int eps__tls_connection_enter(int64_t conn, struct tls_connection **out)
{
	EPS_GUARD(eps__tls_object_enter(conn, EPS_HANDLE_TLS_CONNECTION, (void **)out));
	(void)eps__tls_bio_take_errno((*out)->bio);
	return 0;
}

void eps__tls_connection_leave(int64_t conn, struct tls_connection *t)
{
	eps__tls_object_leave(conn, t);
}

int32_t eps__tls_copy_out(const char *s, size_t n, uint8_t *buf, size_t len)
{
	if (len > 0) {
		size_t k = n < len - 1 ? n : len - 1;
		if (k > 0) /* S may be NULL when N is 0 (an empty memory BIO) */
			memcpy(buf, s, k);
		buf[k] = '\0';
	}
	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}
