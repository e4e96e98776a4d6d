// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Event-stream framing in two steps: a scan that carries its few bits of
 * state from input to input and only finds where the event ends, then a
 * parse of the whole event, contiguous by then, into its fields. The scan
 * touches each byte once; the parse runs once per event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

static const char bom[3] = { '\xef', '\xbb', '\xbf' };

void sse_parser_init(struct sse_parser *p, size_t max_event)
{
	memset(p, 0, sizeof(*p));
	p->max_event = max_event ? max_event : SSE_DEF_MAX_EVENT;
	p->line_empty = true;
}

static void wipe_free(char *b, size_t cap)
{
	if (b)
		explicit_bzero(b, cap);
	free(b);
}

void sse_parser_fini(struct sse_parser *p)
{
	wipe_free(p->carry, p->carry_cap);
	wipe_free(p->join, p->join_cap);
	p->carry = p->join = NULL;
	p->carry_len = p->carry_cap = p->join_cap = 0;
}

/* Room for want bytes in *b, keeping its first keep; old memory is wiped, not left to realloc. */
static int reserve(char **b, size_t *cap, size_t keep, size_t want)
{
	size_t ncap = *cap ? *cap : 256;
	char *n;

	if (want <= *cap)
		return 0;
	while (ncap < want)
		ncap *= 2;
	n = malloc(ncap);
	if (!n)
		return -ENOMEM;
	if (keep)
		memcpy(n, *b, keep);
	wipe_free(*b, *cap);
	*b = n;
	*cap = ncap;
	return 0;
}

static int fail(struct sse_parser *p, int err)
{
	p->err = err;
	return err;
}

static int add_data(struct sse_parser *p, struct sse_event *ev, const char *v, size_t n,
		    size_t bound)
{
	size_t at;

	if (++ev->ndata == 1) {
		ev->data = v;
		ev->data_len = n;
		return 0;
	}
	/* a second data line: the joined value needs a buffer, bound is room for all of it */
	if (ev->ndata == 2) {
		if (reserve(&p->join, &p->join_cap, 0, bound))
			return -ENOMEM;
		memcpy(p->join, ev->data, ev->data_len);
		ev->data = p->join;
	}
	at = ev->data_len;
	p->join[at] = '\n';
	memcpy(p->join + at + 1, v, n);
	ev->data_len = at + 1 + n;
	return 0;
}

/* A field line (not empty): "name: value", "name:value", "name", or ":comment". */
static int field(struct sse_parser *p, struct sse_event *ev, const char *s, size_t n, size_t bound)
{
	const char *colon = memchr(s, ':', n);
	size_t name_len = colon ? (size_t)(colon - s) : n;
	const char *v = colon ? colon + 1 : s + n;
	size_t vlen = s + n - v;

	if (!name_len)
		return 0;
	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (name_len == 4 && !memcmp(s, "data", 4))
		return add_data(p, ev, v, vlen, bound);
	if (name_len == 5 && !memcmp(s, "event", 5)) {
		ev->type = v;
		ev->type_len = vlen;
	} else if (name_len == 2 && !memcmp(s, "id", 2) && !memchr(v, '\0', vlen)) {
		ev->id = v;
		ev->id_len = vlen;
	}
	/* "retry" and unknown fields: nothing we use */
	return 0;
}

static int parse_event(struct sse_parser *p, const char *raw, size_t n, struct sse_event *ev)
{
	const char *s = raw, *end = raw + n, *e;
	int ret;

	memset(ev, 0, sizeof(*ev));
	ev->raw = raw;
	ev->raw_len = n;
	if (p->nevents++ == 0 && n >= 3 && !memcmp(s, bom, 3))
		s += 3;
	for (; s < end; s = e) {
		const char *line = s;

		while (s < end && *s != '\r' && *s != '\n')
			s++;
		e = s;
		if (e < end)
			e += (*e == '\r' && e + 1 < end && e[1] == '\n') ? 2 : 1;
		if (s == line)
			continue;
		/* data joined is never longer than the event */
		ret = field(p, ev, line, s - line, n);
		if (ret)
			return fail(p, ret);
	}
	ev->done = ev->data_len == 6 && !memcmp(ev->data, "[DONE]", 6);
	return 1;
}

/* The event is complete: carry (if any) plus buf[0, n). */
static int emit(struct sse_parser *p, const char *buf, size_t n, struct sse_event *ev)
{
	const char *raw = buf;
	size_t len = n;

	p->line_empty = true;
	p->cr = false;
	p->pending_end = false;
	if (p->carry_len) {
		if (reserve(&p->carry, &p->carry_cap, p->carry_len, p->carry_len + n))
			return fail(p, -ENOMEM);
		if (n)
			memcpy(p->carry + p->carry_len, buf, n);
		raw = p->carry;
		len = p->carry_len + n;
		/* raw stays readable until the next call, which starts a new carry */
		p->carry_len = 0;
	}
	return parse_event(p, raw, len, ev);
}

int sse_next(struct sse_parser *p, const char *buf, size_t len, size_t *used,
	     struct sse_event *ev)
{
	size_t i;

	*used = 0;
	if (p->err)
		return p->err;
	for (i = 0; i < len; i++) {
		unsigned char c = buf[i];

		if (p->pending_end && c != '\n') {
			*used = i;
			return emit(p, buf, i, ev);
		}
		if (p->carry_len + i + 1 > p->max_event)
			return fail(p, -E2BIG);
		if (p->pending_end) {
			*used = i + 1;
			return emit(p, buf, i + 1, ev);
		}
		if (p->bom < 3) {
			if (c == (unsigned char)bom[p->bom]) {
				p->bom++;
				continue;
			}
			if (p->bom)
				p->line_empty = false;
			p->bom = 3;
		}
		if (p->cr) {
			p->cr = false;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			if (p->line_empty)
				p->pending_end = true;
			else
				p->cr = p->line_empty = true;
		} else if (c == '\n') {
			if (p->line_empty) {
				*used = i + 1;
				return emit(p, buf, i + 1, ev);
			}
			p->line_empty = true;
		} else {
			p->line_empty = false;
		}
	}
	if (!len)
		return 0;
	if (reserve(&p->carry, &p->carry_cap, p->carry_len, p->carry_len + len))
		return fail(p, -ENOMEM);
	memcpy(p->carry + p->carry_len, buf, len);
	p->carry_len += len;
	*used = len;
	return 0;
}

int sse_finish(struct sse_parser *p, struct sse_event *ev)
{
	int ret = 0;

	if (!p->err && p->pending_end)
		ret = emit(p, NULL, 0, ev);
	p->carry_len = 0;
	p->line_empty = true;
	p->cr = p->pending_end = false;
	return ret;
}
