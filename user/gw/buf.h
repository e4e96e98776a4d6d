/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Byte buffers of connections: data lives in [off, len); space is taken
 * from the end and reclaimed by compacting. They carry prompts, so they
 * are wiped before their memory is freed or reused.
 */
#ifndef SLUICE_GW_BUF_H
#define SLUICE_GW_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data;
	size_t off;		/* start of unread bytes */
	size_t len;		/* end of bytes */
	size_t cap;
	size_t hwm;		/* bytes ever written since the last wipe: what a wipe clears */
};

static inline size_t buf_used(const struct buf *b)
{
	return b->len - b->off;
}

static inline const char *buf_head(const struct buf *b)
{
	return b->data + b->off;
}

static inline void buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len) {
		if (b->len > b->hwm)
			b->hwm = b->len;
		b->off = b->len = 0;
	}
}

/* Room for at least want more bytes (growing up to max total); 0 or -ENOMEM/-E2BIG. */
int buf_reserve(struct buf *b, size_t want, size_t max);
/* Appends; 0 or -ENOMEM/-E2BIG past max. */
int buf_append(struct buf *b, const void *p, size_t n, size_t max);
int buf_printf(struct buf *b, size_t max, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Moves unread bytes to the front (wiping what they leave behind). */
void buf_compact(struct buf *b);
/* Wipes and empties, keeping the memory. */
void buf_reset(struct buf *b);
/* Wipes and frees. */
void buf_free(struct buf *b);

/* Appends "name: value\r\n"; 0 or -ENOMEM/-E2BIG. */
static inline int buf_header(struct buf *b, size_t max, const char *name, size_t nlen,
			     const char *value, size_t vlen)
{
	int err = buf_reserve(b, nlen + vlen + 4, max);
	char *p;

	if (err)
		return err;
	p = b->data + b->len;
	memcpy(p, name, nlen);
	p[nlen] = ':';
	p[nlen + 1] = ' ';
	memcpy(p + nlen + 2, value, vlen);
	p[nlen + 2 + vlen] = '\r';
	p[nlen + 3 + vlen] = '\n';
	b->len += nlen + vlen + 4;
	return 0;
}

static inline char *buf_tail(struct buf *b)
{
	return b->data + b->len;
}

static inline size_t buf_room(const struct buf *b)
{
	return b->cap - b->len;
}

#endif
