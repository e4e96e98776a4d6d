// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * http1: message heads, read as requests or as responses. Byte 0 chooses
 * that (M_*), the bounds, and how the bytes arrive; the rest is the
 * stream. Checked against http1.h:
 *
 *   - fed in growing prefixes, each in a buffer of its own (the buffer
 *     may move between calls), the parser answers what one call on the
 *     whole answers: 0 until the head is in or a bad byte arrives, then
 *     the same length or status and the same fields; on a short message,
 *     what a fresh parser answers on each prefix; called again with more
 *     bytes, a head taken stays taken;
 *   - a head taken ends in CRLF CRLF within max_header_bytes; its names
 *     are tokens and its values trimmed, all inside the head;
 *     http1_find() finds each field by its name;
 *   - its framing is one the RFC allows: never Transfer-Encoding with
 *     Content-Length, a length body only with a Content-Length, chunked
 *     only in HTTP/1.1, Host in every HTTP/1.1 request, no keep-alive
 *     with Connection: close or a body delimited by close.
 *
 * The body is skipped (a chunked one through the decoder) and the
 * pipelined message after it parsed the same way, up to MAX_MSGS.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gw/chunked.h"
#include "gw/http1.h"
#include "fuzz.h"

#define MAX_MSGS	8
#define FRESH_MAX	256	/* messages up to this long are checked at every prefix */

#define M_RESPONSE	0x01
#define M_TO_HEAD	0x02	/* responses: answers a HEAD */
#define M_SMALL		0x04	/* bounds a few bytes long, fewer slots than max_headers */
#define M_SPLIT(m)	((m) >> 3)

static const struct http1_limits dflt = {
	.max_header_bytes = HTTP1_DEF_MAX_HEADER_BYTES,
	.max_headers = HTTP1_DEF_MAX_HEADERS,
	.max_request_line = HTTP1_DEF_MAX_REQUEST_LINE,
};

static const struct http1_limits small = {
	.max_header_bytes = 256,
	.max_headers = 12,
	.max_request_line = 64,
	.max_body_bytes = 100,
};

#define SMALL_CAP	8

struct run {
	struct http1_msg m;
	struct http1_header hdr[HTTP1_DEF_MAX_HEADERS];
	char *buf;		/* the bytes of the last call: m points into them */
	int ret;
};

struct mode {
	bool request, to_head;
	const struct http1_limits *lim;	/* as passed: NULL for the defaults */
	const struct http1_limits *eff;
	unsigned int cap;
};

static void call(struct run *r, const uint8_t *p, size_t n, const struct mode *md)
{
	free(r->buf);
	r->buf = fuzz_dup(p, n);
	r->ret = md->request ? http1_parse_request(&r->m, r->buf, n, md->lim) :
			       http1_parse_response(&r->m, r->buf, n, md->lim, md->to_head);
}

#define OFF(r, ptr)	((ptr) ? (size_t)((const char *)(ptr) - (r)->buf) : SIZE_MAX)

static void same(const struct run *a, const struct run *b)
{
	const struct http1_msg *x = &a->m, *y = &b->m;
	unsigned int i;

	CHECK(a->ret == b->ret);
	if (a->ret < 0)
		CHECK(x->error && y->error && !strcmp(x->error, y->error));
	if (a->ret <= 0)
		return;
	CHECK(x->method == y->method && x->method_len == y->method_len &&
	      OFF(a, x->method_str) == OFF(b, y->method_str));
	CHECK(x->target_len == y->target_len && OFF(a, x->target) == OFF(b, y->target));
	CHECK(x->status == y->status && x->reason_len == y->reason_len &&
	      OFF(a, x->reason) == OFF(b, y->reason));
	CHECK(x->minor == y->minor && x->flags == y->flags && x->body == y->body &&
	      x->content_length == y->content_length);
	CHECK(x->nhdr == y->nhdr);
	for (i = 0; i < x->nhdr; i++) {
		CHECK(x->hdr[i].name_len == y->hdr[i].name_len &&
		      OFF(a, x->hdr[i].name) == OFF(b, y->hdr[i].name));
		CHECK(x->hdr[i].value_len == y->hdr[i].value_len &&
		      OFF(a, x->hdr[i].value) == OFF(b, y->hdr[i].value));
	}
}

/*
 * Growing prefixes until the parser answers or the bytes run out; for a
 * short message, each answer is also that of a fresh parser on the prefix.
 */
static void call_pieces(struct run *r, const uint8_t *p, size_t n, const struct mode *md,
			struct fuzz_split *sp)
{
	static struct run fresh;
	size_t at = 0;

	do {
		at += fuzz_next(sp);
		if (at > n)
			at = n;
		call(r, p, at, md);
		if (n <= FRESH_MAX) {
			http1_msg_init(&fresh.m, fresh.hdr, md->cap);
			call(&fresh, p, at, md);
			same(&fresh, r);
		}
	} while (!r->ret && at < n);
	free(fresh.buf);
	fresh.buf = NULL;
}

static bool inside(const struct run *r, const char *p, size_t n)
{
	return p >= r->buf && p + n <= r->buf + r->ret;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void check_field(const struct run *r, unsigned int i)
{
	const struct http1_msg *m = &r->m;
	const struct http1_header *h = &m->hdr[i], *f;
	char *name;
	size_t k;

	CHECK(h->name_len && inside(r, h->name, h->name_len));
	CHECK(inside(r, h->value, h->value_len));
	for (k = 0; k < h->name_len; k++)
		CHECK(http1_is(h->name[k], HTTP1_C_TCHAR));
	for (k = 0; k < h->value_len; k++)
		CHECK(h->value[k] == '\t' || !http1_is(h->value[k], HTTP1_C_CTL));
	CHECK(!h->value_len || (!is_ows(h->value[0]) && !is_ows(h->value[h->value_len - 1])));
	/* a value without a comma is a list of itself */
	if (h->value_len && !memchr(h->value, ',', h->value_len))
		CHECK(http1_list_has(h->value, h->value_len, h->value, h->value_len));

	/* the first of its name at or before it, then each next one up to it */
	name = fuzz_str(h->name, h->name_len);
	f = http1_find(m, name, NULL);
	while (f && f < h)
		f = http1_find(m, name, f);
	CHECK(f == h);
	http1_is_hop_by_hop(m, h->name, h->name_len);
	free(name);
}

static void check_head(const struct run *r, const struct mode *md)
{
	const struct http1_msg *m = &r->m;
	size_t h = r->ret;
	unsigned int i;

	CHECK(h >= 4 && !memcmp(r->buf + h - 4, "\r\n\r\n", 4));
	CHECK(h <= md->eff->max_header_bytes);
	CHECK(m->nhdr <= md->cap && m->nhdr <= md->eff->max_headers);
	CHECK(m->minor <= 1);
	for (i = 0; i < m->nhdr; i++)
		check_field(r, i);

	if (md->request) {
		CHECK(m->method_len && inside(r, m->method_str, m->method_len));
		CHECK(m->target_len && inside(r, m->target, m->target_len));
		CHECK(m->target_len <= md->eff->max_request_line);
		CHECK(m->body != HTTP1_BODY_CLOSE);
		CHECK(m->minor == 0 || http1_find(m, "host", NULL));
		if (md->eff->max_body_bytes && (m->flags & HTTP1_F_HAS_CL))
			CHECK(m->content_length <= md->eff->max_body_bytes);
	} else {
		CHECK(m->status >= 100 && m->status <= 599);
		CHECK(inside(r, m->reason, m->reason_len));
		CHECK(!(m->flags & HTTP1_F_ABSOLUTE_FORM));
		if (md->to_head || m->status < 200 || m->status == 204 || m->status == 304)
			CHECK(m->body == HTTP1_BODY_NONE);
	}
	CHECK(!((m->flags & HTTP1_F_HAS_TE) && (m->flags & HTTP1_F_HAS_CL)));
	if (m->body == HTTP1_BODY_LENGTH)
		CHECK((m->flags & HTTP1_F_HAS_CL) && m->content_length);
	if (m->body == HTTP1_BODY_CHUNKED)
		CHECK((m->flags & HTTP1_F_HAS_TE) && m->minor == 1);
	if (m->flags & HTTP1_F_KEEP_ALIVE)
		CHECK(!(m->flags & HTTP1_F_CONN_CLOSE) && m->body != HTTP1_BODY_CLOSE);
	if (m->flags & HTTP1_F_UPGRADE)
		CHECK(http1_find(m, "upgrade", NULL) && http1_find(m, "connection", NULL));
	CHECK(http1_is_hop_by_hop(m, "Connection", 10));
}

/* The length of the body after a head in p[0, n); SIZE_MAX: to the close, cut short or bad. */
static size_t body_len(const struct http1_msg *m, const uint8_t *p, size_t n)
{
	struct chunked_dec d;
	size_t at = 0, used, dlen;
	const char *data;
	char *b;
	int ret;

	switch (m->body) {
	case HTTP1_BODY_NONE:
		return 0;
	case HTTP1_BODY_LENGTH:
		return m->content_length <= n ? m->content_length : SIZE_MAX;
	case HTTP1_BODY_CHUNKED:
		b = fuzz_dup(p, n);
		chunked_dec_init(&d, NULL);
		while ((ret = chunked_decode(&d, b + at, n - at, &used, &data, &dlen)) == CHUNKED_DATA)
			at += used;
		free(b);
		return ret == CHUNKED_DONE ? at + used : SIZE_MAX;
	default:
		return SIZE_MAX;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, pieces;
	struct fuzz_split sp;
	struct mode md;
	size_t next;
	int k;

	if (!size)
		return 0;
	md.request = !(data[0] & M_RESPONSE);
	md.to_head = data[0] & M_TO_HEAD;
	md.lim = data[0] & M_SMALL ? &small : NULL;
	md.eff = md.lim ? md.lim : &dflt;
	md.cap = md.lim ? SMALL_CAP : HTTP1_DEF_MAX_HEADERS;
	fuzz_split_init(&sp, M_SPLIT(data[0]));
	data++;
	size--;

	/* pieces reuses its message as a connection does; whole starts afresh each time */
	http1_msg_init(&pieces.m, pieces.hdr, md.cap);
	for (k = 0; k < MAX_MSGS && size; k++) {
		http1_msg_init(&whole.m, whole.hdr, md.cap);
		call(&whole, data, size, &md);
		call_pieces(&pieces, data, size, &md, &sp);
		same(&whole, &pieces);
		if (whole.ret <= 0)
			break;
		check_head(&whole, &md);
		call(&pieces, data, size, &md);
		same(&whole, &pieces);

		next = body_len(&whole.m, data + whole.ret, size - whole.ret);
		if (next == SIZE_MAX)
			break;
		data += whole.ret + next;
		size -= whole.ret + next;
		http1_msg_reset(&pieces.m);
	}
	free(whole.buf);
	free(pieces.buf);
	whole.buf = pieces.buf = NULL;
	return 0;
}
