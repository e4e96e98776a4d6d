// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Growable byte buffers. A test server has no better answer to a failed
 * allocation than stopping, so the x* allocators abort (as Redis's zmalloc
 * does) and no caller carries an error path for them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mock.h"

static void oom(size_t n)
{
	fprintf(stderr, "mockllm: out of memory (%zu bytes)\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void buf_grow(struct buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->cap - b->len >= extra)
		return;
	while (cap - b->len < extra)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	buf_grow(b, 128);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		buf_grow(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

void buf_u64(struct buf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do
		tmp[--i] = '0' + v % 10;
	while (v /= 10);
	buf_put(b, tmp + i, sizeof(tmp) - i);
}

void buf_json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;
	char esc[6];

	buf_grow(b, n + 2);
	b->p[b->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char ch = s[i];
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		buf_put(b, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			elen = 6;
		}
		buf_put(b, esc, elen);
	}
	buf_put(b, s + run, n - run);
	buf_put(b, "\"", 1);
}

void buf_base64(struct buf *b, const void *p, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	char *d;
	size_t i;

	buf_grow(b, (n + 2) / 3 * 4);
	d = b->p + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		*d++ = tab[s[i] >> 2];
		*d++ = tab[(s[i] & 3) << 4 | s[i + 1] >> 4];
		*d++ = tab[(s[i + 1] & 15) << 2 | s[i + 2] >> 6];
		*d++ = tab[s[i + 2] & 63];
	}
	if (i < n) {
		*d++ = tab[s[i] >> 2];
		if (i + 1 < n) {
			*d++ = tab[(s[i] & 3) << 4 | s[i + 1] >> 4];
			*d++ = tab[(s[i + 1] & 15) << 2];
		} else {
			*d++ = tab[(s[i] & 3) << 4];
			*d++ = '=';
		}
		*d++ = '=';
	}
	b->len = d - b->p;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
