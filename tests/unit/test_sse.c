// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sse: event framing of text/event-stream. Streams are fed whole, byte by
 * byte, in every piece size and cut at every point, each piece against a
 * guard page; the events (by content) must come out the same every time,
 * and their raw spans must add up to the stream.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw/sse.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define LIT(s)		s, sizeof(s) - 1

#include "guard.h"

/* An event, copied out while its pointers hold. */
struct rec {
	char raw[256];
	size_t raw_len;
	char data[256];
	size_t data_len;
	bool has_data, has_type, has_id;
	char type[32];
	size_t type_len;
	char id[32];
	size_t id_len;
	unsigned int ndata;
	bool done;
};

struct run {
	struct rec ev[16];
	unsigned int n;
	int err;		/* 0 or the error sse_next gave */
};

static void keep(struct run *r, const struct sse_event *ev)
{
	struct rec *e = &r->ev[r->n++];

	assert_true(r->n <= ARRAY_SIZE(r->ev));
	memset(e, 0, sizeof(*e));
	assert_true(ev->raw_len <= sizeof(e->raw) && ev->data_len <= sizeof(e->data));
	memcpy(e->raw, ev->raw, ev->raw_len);
	e->raw_len = ev->raw_len;
	if (ev->data) {
		e->has_data = true;
		memcpy(e->data, ev->data, ev->data_len);
		e->data_len = ev->data_len;
	}
	if (ev->type) {
		e->has_type = true;
		assert_true(ev->type_len <= sizeof(e->type));
		memcpy(e->type, ev->type, ev->type_len);
		e->type_len = ev->type_len;
	}
	if (ev->id) {
		e->has_id = true;
		assert_true(ev->id_len <= sizeof(e->id));
		memcpy(e->id, ev->id, ev->id_len);
		e->id_len = ev->id_len;
	}
	e->ndata = ev->ndata;
	e->done = ev->done;
}

/* Feeds s[0, n) in pieces: cut (if not 0) splits it in two, else step bytes (0: whole). */
static void feed(const char *s, size_t n, size_t step, size_t cut, size_t max_event,
		 struct run *r)
{
	struct sse_parser p;
	struct sse_event ev;
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	sse_parser_init(&p, max_event);
	while (at < n && !r->err) {
		size_t plen = cut ? (at < cut ? cut : n - at) :
			      step && n - at > step ? step : n - at;
		struct guard g;
		const char *b = guard_copy(&g, s + at, plen);
		size_t off = 0, used;
		int ret;

		do {
			ret = sse_next(&p, b + off, plen - off, &used, &ev);
			assert_true(used <= plen - off);
			off += used;
			if (ret == 1)
				keep(r, &ev);
			else if (ret < 0)
				r->err = ret;
		} while (ret == 1);
		if (!r->err)
			assert_int_equal(off, plen);
		guard_free(&g);
		at += plen;
	}
	if (!r->err && sse_finish(&p, &ev) == 1)
		keep(r, &ev);
	sse_parser_fini(&p);
}

static void assert_same_run(const struct run *a, const struct run *b, const char *how)
{
	unsigned int i;

	if (a->n != b->n || a->err != b->err)
		fail_msg("%s: %u events (%d), not %u (%d)", how, b->n, b->err, a->n, a->err);
	for (i = 0; i < a->n; i++) {
		const struct rec *x = &a->ev[i], *y = &b->ev[i];

		if (x->raw_len != y->raw_len || memcmp(x->raw, y->raw, x->raw_len) ||
		    x->has_data != y->has_data || x->data_len != y->data_len ||
		    memcmp(x->data, y->data, x->data_len) || x->has_type != y->has_type ||
		    x->type_len != y->type_len || memcmp(x->type, y->type, x->type_len) ||
		    x->has_id != y->has_id || x->id_len != y->id_len ||
		    memcmp(x->id, y->id, x->id_len) || x->ndata != y->ndata || x->done != y->done)
			fail_msg("%s: event %u differs", how, i);
	}
}

/* Whole, then every piece size, then every cut: all the same. */
static void assert_any_split_is_the_same(const char *s, size_t n, struct run *whole)
{
	struct run r;
	size_t k;

	feed(s, n, 0, 0, 0, whole);
	for (k = 1; k < n; k++) {
		char how[64];

		feed(s, n, k, 0, 0, &r);
		snprintf(how, sizeof(how), "pieces of %zu", k);
		assert_same_run(whole, &r, how);
		feed(s, n, 0, k, 0, &r);
		snprintf(how, sizeof(how), "cut at %zu", k);
		assert_same_run(whole, &r, how);
	}
}

static void assert_tiles(const struct run *r, const char *s, size_t n)
{
	size_t at = 0;
	unsigned int i;

	for (i = 0; i < r->n; i++) {
		assert_true(at + r->ev[i].raw_len <= n);
		assert_memory_equal(r->ev[i].raw, s + at, r->ev[i].raw_len);
		at += r->ev[i].raw_len;
	}
	assert_int_equal(at, n);
}

static void assert_data(const struct rec *e, const char *want)
{
	assert_true(e->has_data);
	assert_int_equal(e->data_len, strlen(want));
	assert_memory_equal(e->data, want, e->data_len);
}

/* --- line endings ---------------------------------------------------- */

static void test_lf_events_are_framed(void **state)
{
	static const char s[] = "data: a\n\ndata: b\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 9);
	assert_data(&r.ev[0], "a");
	assert_data(&r.ev[1], "b");
	assert_tiles(&r, LIT(s));
}

static void test_crlf_events_are_framed(void **state)
{
	static const char s[] = "data: a\r\n\r\ndata: b\r\n\r\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 11);
	assert_data(&r.ev[0], "a");
	assert_data(&r.ev[1], "b");
	assert_tiles(&r, LIT(s));
}

static void test_cr_events_are_framed(void **state)
{
	static const char s[] = "data: a\r\rdata: b\r\r";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 9);
	assert_data(&r.ev[0], "a");
	/* the last one waited for a byte after its CR, and came at the end */
	assert_data(&r.ev[1], "b");
	assert_tiles(&r, LIT(s));
}

static void test_mixed_line_endings_are_framed(void **state)
{
	static const char s[] = "data: a\rdata: b\r\ndata: c\n\r\n" "data: d\n\r" "data: e\r\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 3);
	assert_data(&r.ev[0], "a\nb\nc");
	assert_data(&r.ev[1], "d");
	assert_data(&r.ev[2], "e");
	assert_tiles(&r, LIT(s));
}

static void test_cr_then_lf_in_the_next_input_is_one_line_end(void **state)
{
	static const char *const pieces[] = { "data: a\r", "\n\r", "\n" };
	struct sse_parser p;
	struct sse_event ev;
	size_t used;
	unsigned int i;

	(void)state;
	sse_parser_init(&p, 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(sse_next(&p, pieces[i], strlen(pieces[i]), &used, &ev), 0);
		assert_int_equal(used, strlen(pieces[i]));
	}
	assert_int_equal(sse_next(&p, pieces[2], 1, &used, &ev), 1);
	assert_int_equal(used, 1);
	assert_int_equal(ev.raw_len, 11);
	assert_memory_equal(ev.raw, "data: a\r\n\r\n", 11);
	assert_int_equal(ev.ndata, 1);
	sse_parser_fini(&p);
}

/* --- fields ---------------------------------------------------------- */

static void test_data_lines_are_joined_with_lf(void **state)
{
	static const char s[] = "data: a\ndata:b\ndata\ndata:  c\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.ev[0].ndata, 4);
	/* one leading space is dropped, not two; "data" alone is an empty line of data */
	assert_data(&r.ev[0], "a\nb\n\n c");
}

static void test_type_and_id_are_reported(void **state)
{
	static const char s[] = "event: content_block_delta\nid: 7\nretry: 10\nfoo: bar\n"
				"data: {}\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 1);
	assert_true(r.ev[0].has_type);
	assert_int_equal(r.ev[0].type_len, 19);
	assert_memory_equal(r.ev[0].type, "content_block_delta", 19);
	assert_true(r.ev[0].has_id);
	assert_int_equal(r.ev[0].id_len, 1);
	assert_memory_equal(r.ev[0].id, "7", 1);
	assert_data(&r.ev[0], "{}");
}

static void test_id_with_nul_is_ignored(void **state)
{
	static const char s[] = "id: a\0b\ndata: x\n\n";
	struct run r;

	(void)state;
	feed(LIT(s), 0, 0, 0, &r);
	assert_int_equal(r.n, 1);
	assert_false(r.ev[0].has_id);
	assert_data(&r.ev[0], "x");
}

static void test_comment_only_event_has_no_data(void **state)
{
	static const char s[] = ": keep-alive\n\ndata: x\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].ndata, 0);
	assert_false(r.ev[0].has_data);
	assert_int_equal(r.ev[0].raw_len, 14);
	assert_data(&r.ev[1], "x");
	assert_tiles(&r, LIT(s));
}

static void test_leading_blank_line_is_an_empty_event(void **state)
{
	static const char s[] = "\ndata: x\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 1);
	assert_int_equal(r.ev[0].ndata, 0);
	assert_tiles(&r, LIT(s));
}

static void test_bom_is_skipped_at_the_start_only(void **state)
{
	static const char s[] = "\xef\xbb\xbf" "data: a\n\n" "\xef\xbb\xbf" "data: b\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 12);
	assert_data(&r.ev[0], "a");
	/* a second BOM is part of the field name: not "data" */
	assert_false(r.ev[1].has_data);
	assert_tiles(&r, LIT(s));
}

static void test_bom_before_a_blank_line_leaves_it_blank(void **state)
{
	static const char s[] = "\xef\xbb\xbf\ndata: a\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.ev[0].raw_len, 4);
	assert_int_equal(r.ev[0].ndata, 0);
}

/* --- OpenAI ---------------------------------------------------------- */

static void test_done_is_detected_exactly(void **state)
{
	static const char s[] = "data: [DONE]\n\ndata:[DONE]\n\ndata: [DONE] \n\n"
				"data: [DONE]\ndata: x\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 4);
	assert_true(r.ev[0].done);
	assert_true(r.ev[1].done);
	assert_false(r.ev[2].done);
	assert_false(r.ev[3].done);
}

static void test_openai_stream_splits_alike_anywhere(void **state)
{
	static const char s[] =
		"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n"
		"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
		": ping\n\n"
		"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,"
		"\"completion_tokens\":1,\"total_tokens\":10}}\n\n"
		"data: [DONE]\n\n";
	struct run r;

	(void)state;
	assert_any_split_is_the_same(LIT(s), &r);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[2].ndata, 0);
	assert_non_null(memmem(r.ev[3].data, r.ev[3].data_len, "\"usage\"", 7));
	assert_true(r.ev[4].done);
	assert_tiles(&r, LIT(s));
}

/* --- buffering and bounds -------------------------------------------- */

static void test_event_in_one_input_is_not_copied(void **state)
{
	static const char s[] = "data: a\n\ndata: b\n\n";
	struct sse_parser p;
	struct sse_event ev;
	size_t used;

	(void)state;
	sse_parser_init(&p, 0);
	assert_int_equal(sse_next(&p, LIT(s), &used, &ev), 1);
	assert_true(ev.raw == s && ev.data == s + 6);
	assert_int_equal(used, 9);
	assert_int_equal(sse_next(&p, s + 9, sizeof(s) - 10, &used, &ev), 1);
	assert_true(ev.raw == s + 9);
	assert_null(p.carry);
	sse_parser_fini(&p);
}

static void test_event_split_across_inputs_is_reassembled(void **state)
{
	static const char *const pieces[] = { "data: hel", "lo\nda", "ta: world\n", "\ndata: x" };
	struct sse_parser p;
	struct sse_event ev;
	size_t used;
	unsigned int i;

	(void)state;
	sse_parser_init(&p, 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(sse_next(&p, pieces[i], strlen(pieces[i]), &used, &ev), 0);
		assert_int_equal(used, strlen(pieces[i]));
	}
	assert_int_equal(sse_next(&p, pieces[3], strlen(pieces[3]), &used, &ev), 1);
	assert_int_equal(used, 1);
	assert_int_equal(ev.raw_len, 25);
	assert_memory_equal(ev.raw, "data: hello\ndata: world\n\n", 25);
	assert_int_equal(ev.data_len, 11);
	assert_memory_equal(ev.data, "hello\nworld", 11);
	/* the rest starts the next event, kept for later */
	assert_int_equal(sse_next(&p, pieces[3] + 1, strlen(pieces[3]) - 1, &used, &ev), 0);
	assert_int_equal(sse_finish(&p, &ev), 0);
	sse_parser_fini(&p);
}

static void test_event_past_max_is_e2big_and_sticky(void **state)
{
	struct run r;

	(void)state;
	feed(LIT("data: 01234567\n\n"), 0, 0, 16, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 1);
	feed(LIT("data: 012345678\n\n"), 0, 0, 16, &r);
	assert_int_equal(r.err, -E2BIG);
	assert_int_equal(r.n, 0);
	/* the same cut in pieces */
	feed(LIT("data: 012345678\n\ndata: x\n\n"), 3, 0, 16, &r);
	assert_int_equal(r.err, -E2BIG);
	assert_int_equal(r.n, 0);
}

static void test_unfinished_event_is_dropped_at_the_end(void **state)
{
	struct run r;

	(void)state;
	feed(LIT("data: a\n\ndata: b\n"), 0, 0, 0, &r);
	assert_int_equal(r.n, 1);
	assert_data(&r.ev[0], "a");
}

#define T(f)	cmocka_unit_test(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_lf_events_are_framed),
		T(test_crlf_events_are_framed),
		T(test_cr_events_are_framed),
		T(test_mixed_line_endings_are_framed),
		T(test_cr_then_lf_in_the_next_input_is_one_line_end),
		T(test_data_lines_are_joined_with_lf),
		T(test_type_and_id_are_reported),
		T(test_id_with_nul_is_ignored),
		T(test_comment_only_event_has_no_data),
		T(test_leading_blank_line_is_an_empty_event),
		T(test_bom_is_skipped_at_the_start_only),
		T(test_bom_before_a_blank_line_leaves_it_blank),
		T(test_done_is_detected_exactly),
		T(test_openai_stream_splits_alike_anywhere),
		T(test_event_in_one_input_is_not_copied),
		T(test_event_split_across_inputs_is_reassembled),
		T(test_event_past_max_is_e2big_and_sticky),
		T(test_unfinished_event_is_dropped_at_the_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
