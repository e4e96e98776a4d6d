// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include "buf.h"

/* The end of what may hold old bytes. */
static size_t dirty(const struct buf *b)
{
	return b->len > b->hwm ? b->len : b->hwm;
}

void buf_compact(struct buf *b)
{
	size_t n = buf_used(b), end = dirty(b);

	if (!b->off)
		return;
	memmove(b->data, b->data + b->off, n);
	OPENSSL_cleanse(b->data + n, end - n);
	b->off = 0;
	b->len = n;
	b->hwm = n;
}

int buf_reserve(struct buf *b, size_t want, size_t max)
{
	size_t need, cap;
	char *p;

	if (buf_room(b) >= want)
		return 0;
	buf_compact(b);
	if (buf_room(b) >= want)
		return 0;
	need = b->len + want;
	if (need > max)
		return -E2BIG;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > max)
		cap = max;
	/* Not realloc: the old block held prompt bytes and must be wiped */
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len);
		OPENSSL_cleanse(b->data, dirty(b));
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	b->hwm = b->len;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n, size_t max)
{
	int err;

	if (!n)
		return 0;
	if ((err = buf_reserve(b, n, max)))
		return err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_printf(struct buf *b, size_t max, const char *fmt, ...)
{
	va_list ap;
	int n, err;

	/* Formatted once where it fits, which is nearly always */
	va_start(ap, fmt);
	n = b->data ? vsnprintf(b->data + b->len, buf_room(b), fmt, ap) : vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (b->data && (size_t)n < buf_room(b)) {
		b->len += n;
		return 0;
	}
	/* The attempt that did not fit still wrote past len: a wipe must reach it */
	if (b->data)
		b->hwm = b->cap;
	err = buf_reserve(b, n + 1, max);
	if (err)
		return err;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

void buf_reset(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, dirty(b));
	b->off = b->len = b->hwm = 0;
}

void buf_free(struct buf *b)
{
	if (b->data) {
		OPENSSL_cleanse(b->data, dirty(b));
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}
