// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sse: the event-stream parser on any bytes, byte 0 choosing max_event
 * and the pieces. Checked against sse.h:
 *
 *   - fed in pieces, each in a buffer of its own, it reports the same
 *     events (raw bytes, data, type, id, ndata, done) and the same error
 *     as one pass over the whole, sse_finish() included;
 *   - the raw spans of the events tile the stream from its first byte;
 *     no event is longer than max_event; data is NULL exactly when there
 *     is no data line, and never longer than the event; done is data
 *     "[DONE]".
 *
 * Each event is written to a log, compared between the two passes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gw/sse.h"
#include "fuzz.h"

#define M_SPLIT(m)	((m) >> 2)

static const size_t max_events[4] = { 0, 8, 64, 512 };

struct log {
	char *p;
	size_t len, cap;
	size_t tiled;		/* stream bytes the events' raw spans covered */
	int err;
};

static void put(struct log *l, const void *s, size_t n)
{
	if (l->len + n > l->cap) {
		l->cap = (l->len + n) * 2;
		l->p = realloc(l->p, l->cap);
		CHECK(l->p);
	}
	if (n)
		memcpy(l->p + l->len, s, n);
	l->len += n;
}

static void put_field(struct log *l, const char *s, size_t n)
{
	bool has = s;

	put(l, &has, sizeof(has));
	put(l, &n, sizeof(n));
	if (s)
		put(l, s, n);
}

static void event(struct log *l, const struct sse_event *ev, const uint8_t *stream,
		  size_t stream_len, size_t max_event)
{
	CHECK(ev->raw && ev->raw_len);
	CHECK(ev->raw_len <= max_event);
	CHECK(l->tiled + ev->raw_len <= stream_len &&
	      !memcmp(ev->raw, stream + l->tiled, ev->raw_len));
	l->tiled += ev->raw_len;
	CHECK(!ev->ndata == !ev->data);
	CHECK(ev->data_len <= ev->raw_len && (ev->data || !ev->data_len));
	CHECK(ev->done == (ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6)));
	CHECK(!ev->id || !memchr(ev->id, '\0', ev->id_len));
	put_field(l, ev->raw, ev->raw_len);
	put_field(l, ev->data, ev->data_len);
	put_field(l, ev->type, ev->type_len);
	put_field(l, ev->id, ev->id_len);
	put(l, &ev->ndata, sizeof(ev->ndata));
}

/* One input: its events logged. false once the parser failed. */
static bool feed(struct sse_parser *p, struct log *l, const char *b, size_t n,
		 const uint8_t *stream, size_t stream_len)
{
	struct sse_event ev;
	size_t at = 0, used;
	int ret;

	for (;;) {
		ret = sse_next(p, b + at, n - at, &used, &ev);
		CHECK(used <= n - at);
		if (ret < 0) {
			CHECK(ret == -E2BIG);
			l->err = ret;
			/* sticky */
			CHECK(sse_next(p, b, n, &used, &ev) == ret && !used);
			return false;
		}
		at += used;
		if (!ret) {
			CHECK(at == n);
			return true;
		}
		event(l, &ev, stream, stream_len, p->max_event);
	}
}

static void finish(struct sse_parser *p, struct log *l, const uint8_t *stream, size_t len)
{
	struct sse_event ev;

	if (sse_finish(p, &ev) == 1)
		event(l, &ev, stream, len, p->max_event);
	/* nothing is left to finish */
	CHECK(sse_finish(p, &ev) == 0);
	sse_parser_fini(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log whole = { 0 }, pieces = { 0 };
	struct sse_parser p;
	struct fuzz_split sp;
	size_t max_event, at, n;
	char *b;

	if (!size)
		return 0;
	max_event = max_events[data[0] & 3];
	fuzz_split_init(&sp, M_SPLIT(data[0]));
	data++;
	size--;

	sse_parser_init(&p, max_event);
	b = fuzz_dup(data, size);
	if (feed(&p, &whole, b, size, data, size))
		finish(&p, &whole, data, size);
	else
		sse_parser_fini(&p);
	free(b);

	sse_parser_init(&p, max_event);
	for (at = 0; at < size; at += n) {
		bool ok;

		n = fuzz_next(&sp);
		if (n > size - at)
			n = size - at;
		b = fuzz_dup(data + at, n);
		ok = feed(&p, &pieces, b, n, data, size);
		free(b);
		if (!ok)
			break;
	}
	if (!pieces.err)
		finish(&p, &pieces, data, size);
	else
		sse_parser_fini(&p);

	CHECK(whole.err == pieces.err && whole.tiled == pieces.tiled);
	CHECK(whole.len == pieces.len && (!whole.len || !memcmp(whole.p, pieces.p, whole.len)));
	free(whole.p);
	free(pieces.p);
	return 0;
}
