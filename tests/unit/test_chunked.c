// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * chunked: the decoder's matrix is one table, one named test per row, each
 * row checked whole and again fed byte by byte (every piece against a guard
 * page): same outcome, same data, same bytes consumed, same reason.
 */
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

#include "gw/chunked.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define LIT(s)		s, sizeof(s) - 1

#include "guard.h"

/* What decoding an input gave. */
struct outcome {
	int ret;		/* CHUNKED_DONE, CHUNKED_MORE (input ran out) or -status */
	size_t used;		/* bytes consumed in all */
	char data[4096];
	size_t data_len;
	const char *error;
};

/*
 * Feeds s[0, n) in pieces of step bytes (0: whole), each piece against a
 * guard page, until the body ends, fails or the input runs out.
 */
static void decode(const char *s, size_t n, size_t step, const struct chunked_limits *lim,
		   struct outcome *o)
{
	struct chunked_dec d;
	size_t at = 0;

	memset(o, 0, sizeof(*o));
	chunked_dec_init(&d, lim);
	o->ret = CHUNKED_MORE;
	while (at < n) {
		size_t plen = step && n - at > step ? step : n - at, off = 0;
		struct guard g;
		const char *p = guard_copy(&g, s + at, plen);

		for (;;) {
			const char *data;
			size_t used, dlen;
			int ret = chunked_decode(&d, p + off, plen - off, &used, &data, &dlen);

			assert_true(used <= plen - off);
			off += used;
			if (ret == CHUNKED_DATA) {
				assert_true(dlen > 0 && o->data_len + dlen <= sizeof(o->data));
				assert_true(data >= p && data + dlen <= p + plen);
				memcpy(o->data + o->data_len, data, dlen);
				o->data_len += dlen;
				continue;
			}
			o->ret = ret;
			break;
		}
		guard_free(&g);
		at += off;
		if (o->ret != CHUNKED_MORE)
			break;
		assert_int_equal(off, plen);
	}
	o->used = at;
	o->error = d.error;
}

struct dec_case {
	const char *name;
	const char *raw;
	size_t len;		/* 0: strlen(raw) */
	int want;		/* CHUNKED_DONE or -status */
	const char *data;	/* decoded, for CHUNKED_DONE */
	size_t used;		/* bytes consumed, for CHUNKED_DONE; 0: all */
	const char *why;	/* the refusal's reason */
	size_t data_len;	/* 0: strlen(data) */
};

#define DONE	CHUNKED_DONE

static const struct dec_case dec_cases[] = {
	{ "two_chunks_are_joined", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, DONE, "hello world" },
	{ "empty_body_is_the_last_chunk_alone", "0\r\n\r\n", 0, DONE, "" },
	{ "hex_sizes_take_both_cases", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", 0, DONE,
	  "0123456789abcdefghijk" },
	{ "leading_zeros_in_size_are_accepted", "0005\r\nhello\r\n000\r\n\r\n", 0, DONE, "hello" },
	{ "extension_name_alone_is_accepted", "5;a\r\nhello\r\n0;last\r\n\r\n", 0, DONE, "hello" },
	{ "extension_with_token_value_is_accepted", "5;a=b;c=d\r\nhello\r\n0\r\n\r\n", 0, DONE,
	  "hello" },
	{ "extension_with_quoted_value_is_accepted", "5;a=\"x;y\\\" z\"\r\nhello\r\n0\r\n\r\n",
	  0, DONE, "hello" },
	{ "extension_with_bws_is_accepted", "5 ;\ta = b ; c\r\nhello\r\n0\r\n\r\n", 0, DONE, "hello" },
	{ "trailers_are_read_and_dropped", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nX-Empty:\r\n\r\n", 0, DONE,
	  "hello" },
	{ "next_message_is_left_unconsumed", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 0, DONE, "hi",
	  12 },
	{ "data_with_crlf_inside_is_data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 0, DONE, "\r\n\r\n" },
	{ "data_with_nul_is_data", "3\r\na\0b\r\n0\r\n\r\n", 13, DONE, "a\0b",
	  .data_len = 3 },

	{ "chunk_size_overflow_is_400", "8000000000000000\r\n", 0, -400, NULL, 0,
	  "chunk size overflow" },
	{ "chunk_size_all_f_is_400", "ffffffffffffffff\r\n", 0, -400, NULL, 0, "chunk size overflow" },
	{ "chunk_size_of_17_digits_is_400", "00000000000000001\r\nx\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "chunk size too long" },
	{ "chunk_size_missing_is_400", "\r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk size" },
	{ "chunk_size_with_minus_is_400", "-5\r\nhello\r\n", 0, -400, NULL, 0, "invalid chunk size" },
	{ "chunk_size_with_plus_is_400", "+5\r\nhello\r\n", 0, -400, NULL, 0, "invalid chunk size" },
	{ "chunk_size_with_0x_is_400", "0x5\r\nhello\r\n", 0, -400, NULL, 0, "invalid chunk size" },
	{ "chunk_size_with_leading_space_is_400", " 5\r\nhello\r\n", 0, -400, NULL, 0,
	  "invalid chunk size" },
	{ "chunk_size_with_trailing_space_is_400", "5 \r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk extension" },
	{ "chunk_size_ended_by_bare_lf_is_400", "5\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "bare LF in chunk size line" },
	{ "chunk_size_ended_by_bare_cr_is_400", "5\rhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "bare CR in chunk size line" },
	{ "extension_ended_by_bare_lf_is_400", "5;a=b\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "bare LF in chunk size line" },
	{ "extension_without_name_is_400", "5;\r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk extension" },
	{ "extension_value_missing_is_400", "5;a=\r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk extension" },
	{ "extension_not_a_token_is_400", "5;a@b\r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk extension" },
	{ "extension_quote_holding_crlf_is_400", "5;a=\"x\r\n0\r\n\r\n\"\r\nhello\r\n0\r\n\r\n", 0, -400,
	  NULL, 0, "invalid chunk extension" },
	{ "extension_with_trailing_space_is_400", "5;a=b \r\nhello\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "invalid chunk extension" },
	{ "data_longer_than_size_is_400", "5\r\nhelloX\r\n0\r\n\r\n", 0, -400, NULL, 0,
	  "no CRLF after chunk data" },
	{ "data_ended_by_lf_alone_is_400", "5\r\nhello\n0\r\n\r\n", 0, -400, NULL, 0,
	  "no CRLF after chunk data" },
	{ "data_ended_by_cr_alone_is_400", "5\r\nhello\r0\r\n\r\n", 0, -400, NULL, 0,
	  "no CRLF after chunk data" },
	{ "last_chunk_ended_by_bare_lf_is_400", "0\r\n\n", 0, -400, NULL, 0, "bare LF in trailers" },
	{ "last_chunk_ended_by_bare_cr_is_400", "0\r\n\rX", 0, -400, NULL, 0, "bare CR in trailers" },
	{ "trailer_obs_fold_is_400", "0\r\nX-A: b\r\n c\r\n\r\n", 0, -400, NULL, 0,
	  "obs-fold in trailers" },
	{ "trailer_space_before_colon_is_400", "0\r\nX-A : b\r\n\r\n", 0, -400, NULL, 0,
	  "white space before colon in trailers" },
	{ "trailer_without_colon_is_400", "0\r\nX-A\r\n\r\n", 0, -400, NULL, 0,
	  "trailer field without a colon" },
	{ "trailer_with_bad_name_is_400", "0\r\nX(A): b\r\n\r\n", 0, -400, NULL, 0,
	  "invalid trailer field name" },
	{ "trailer_with_nul_is_400", "0\r\nX-A: \0\r\n\r\n", 13, -400, NULL, 0,
	  "control character in trailers" },
	{ "trailer_ended_by_bare_lf_is_400", "0\r\nX-A: b\n\r\n", 0, -400, NULL, 0,
	  "bare LF in trailers" },
};

static size_t case_len(const struct dec_case *c)
{
	return c->len ? c->len : strlen(c->raw);
}

static void run_dec_case(void **state)
{
	const struct dec_case *c = *state;
	size_t n = case_len(c);
	struct outcome o;

	decode(c->raw, n, 0, NULL, &o);
	if (o.ret != c->want)
		fail_msg("%s: got %d (%s), want %d", c->name, o.ret, o.error ? o.error : "", c->want);
	if (c->want == DONE) {
		assert_int_equal(o.used, c->used ? c->used : n);
		assert_int_equal(o.data_len, c->data_len ? c->data_len : strlen(c->data));
		assert_memory_equal(o.data, c->data, o.data_len);
		assert_null(o.error);
	} else {
		assert_string_equal(o.error, c->why);
	}
}

static void test_every_case_is_the_same_fed_byte_by_byte(void **state)
{
	struct outcome whole, bytes;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];

		decode(c->raw, case_len(c), 0, NULL, &whole);
		decode(c->raw, case_len(c), 1, NULL, &bytes);
		if (whole.ret != bytes.ret || whole.used != bytes.used ||
		    whole.data_len != bytes.data_len ||
		    memcmp(whole.data, bytes.data, whole.data_len) ||
		    (whole.error != bytes.error && strcmp(whole.error, bytes.error)))
			fail_msg("%s: whole %d/%zu, byte by byte %d/%zu", c->name, whole.ret,
				 whole.used, bytes.ret, bytes.used);
	}
}

static void test_every_split_of_a_body_decodes_the_same(void **state)
{
	static const char s[] = "3;x=\"y\"\r\nabc\r\n10\r\n0123456789abcdef\r\n1\r\nZ\r\n"
				"0\r\nX-T: 1\r\n\r\n";
	struct outcome o;
	size_t step;

	(void)state;
	for (step = 1; step < sizeof(s); step++) {
		decode(s, sizeof(s) - 1, step, NULL, &o);
		assert_int_equal(o.ret, CHUNKED_DONE);
		assert_int_equal(o.used, sizeof(s) - 1);
		assert_int_equal(o.data_len, 20);
		assert_memory_equal(o.data, "abc0123456789abcdefZ", 20);
	}
}

static void test_data_spans_point_into_the_input(void **state)
{
	static const char s[] = "5\r\nhello\r\n0\r\n\r\n";
	struct chunked_dec d;
	const char *data;
	size_t used, dlen;

	(void)state;
	chunked_dec_init(&d, NULL);
	assert_int_equal(chunked_decode(&d, s, sizeof(s) - 1, &used, &data, &dlen), CHUNKED_DATA);
	assert_true(data == s + 3);
	assert_int_equal(dlen, 5);
	assert_int_equal(used, 8);
	assert_int_equal(chunked_decode(&d, s + 8, sizeof(s) - 9, &used, &data, &dlen),
			 CHUNKED_DONE);
	assert_int_equal(used, sizeof(s) - 9);
}

static void test_a_chunk_cut_short_gives_what_is_there(void **state)
{
	struct chunked_dec d;
	const char *data;
	size_t used, dlen;

	(void)state;
	chunked_dec_init(&d, NULL);
	assert_int_equal(chunked_decode(&d, "a\r\nhel", 6, &used, &data, &dlen), CHUNKED_DATA);
	assert_int_equal(used, 6);
	assert_int_equal(dlen, 3);
	assert_int_equal(chunked_decode(&d, "", 0, &used, &data, &dlen), CHUNKED_MORE);
	assert_int_equal(used, 0);
	assert_int_equal(chunked_decode(&d, "lo world\r\n", 10, &used, &data, &dlen), CHUNKED_DATA);
	assert_int_equal(dlen, 7);
	assert_int_equal(used, 7);
	assert_true(d.total == 10);
}

static void test_done_and_refusal_are_sticky(void **state)
{
	struct chunked_dec d;
	const char *data;
	size_t used;
	size_t dlen;

	(void)state;
	chunked_dec_init(&d, NULL);
	assert_int_equal(chunked_decode(&d, "0\r\n\r\n1", 6, &used, &data, &dlen), CHUNKED_DONE);
	assert_int_equal(used, 5);
	assert_int_equal(chunked_decode(&d, "1", 1, &used, &data, &dlen), CHUNKED_DONE);
	assert_int_equal(used, 0);

	chunked_dec_init(&d, NULL);
	assert_int_equal(chunked_decode(&d, "z", 1, &used, &data, &dlen), -400);
	assert_int_equal(chunked_decode(&d, "0\r\n\r\n", 5, &used, &data, &dlen), -400);
	assert_int_equal(used, 0);
}

static void test_extension_past_bound_is_400(void **state)
{
	char s[CHUNKED_DEF_MAX_EXT + 16];
	struct outcome o;
	size_t n;

	(void)state;
	/* "5;aaaa...": the ';' and the name make exactly the bound, then one more */
	s[0] = '5';
	s[1] = ';';
	memset(s + 2, 'a', CHUNKED_DEF_MAX_EXT - 1);
	n = 1 + CHUNKED_DEF_MAX_EXT;
	memcpy(s + n, "\r\nhello\r\n0\r\n\r\n", 14);
	decode(s, n + 14, 0, NULL, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);

	s[n] = 'a';
	memcpy(s + n + 1, "\r\nhello\r\n0\r\n\r\n", 14);
	decode(s, n + 15, 0, NULL, &o);
	assert_int_equal(o.ret, -400);
	assert_string_equal(o.error, "chunk extension too long");
}

static void test_extension_bound_counts_per_chunk(void **state)
{
	static const struct chunked_limits lim = {
		.max_ext = 4, .max_trailer_bytes = 64, .max_trailers = 4,
	};
	struct outcome o;

	(void)state;
	decode(LIT("1;abc\r\nx\r\n1;abc\r\ny\r\n0;abc\r\n\r\n"), 0, &lim, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);
	decode(LIT("1;abcd\r\nx\r\n"), 0, &lim, &o);
	assert_int_equal(o.ret, -400);
}

static void test_too_many_trailers_are_400(void **state)
{
	char s[1024];
	struct outcome o;
	size_t n = 3;
	unsigned int i;

	(void)state;
	memcpy(s, "0\r\n", 3);
	for (i = 0; i < CHUNKED_DEF_MAX_TRAILERS; i++)
		n += (size_t)sprintf(s + n, "T%u: v\r\n", i);
	memcpy(s + n, "\r\n", 2);
	decode(s, n + 2, 0, NULL, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);

	n += (size_t)sprintf(s + n, "T: v\r\n\r\n");
	decode(s, n, 0, NULL, &o);
	assert_int_equal(o.ret, -400);
	assert_string_equal(o.error, "too many trailer fields");
}

static void test_trailer_section_past_bound_is_400(void **state)
{
	char s[CHUNKED_DEF_MAX_TRAILER_BYTES + 64];
	struct outcome o;
	size_t pad;

	(void)state;
	/* "X: ppp...\r\n\r\n" of exactly the bound, then one byte more */
	pad = CHUNKED_DEF_MAX_TRAILER_BYTES - strlen("X: \r\n\r\n");
	memcpy(s, "0\r\nX: ", 6);
	memset(s + 6, 'p', pad);
	memcpy(s + 6 + pad, "\r\n\r\n", 4);
	decode(s, 10 + pad, 0, NULL, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);

	memset(s + 6, 'p', pad + 1);
	memcpy(s + 7 + pad, "\r\n\r\n", 4);
	decode(s, 11 + pad, 0, NULL, &o);
	assert_int_equal(o.ret, -400);
	assert_string_equal(o.error, "trailer section too large");
}

static void test_body_past_max_is_413_before_its_data(void **state)
{
	static const struct chunked_limits lim = {
		.max_body_bytes = 10, .max_ext = 16, .max_trailer_bytes = 64, .max_trailers = 4,
	};
	struct outcome o;

	(void)state;
	decode(LIT("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), 0, &lim, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);
	decode(LIT("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"), 0, &lim, &o);
	assert_int_equal(o.ret, -413);
	assert_int_equal(o.data_len, 5);
}

/* --- encoding -------------------------------------------------------- */

static void test_size_line_is_lowercase_hex_and_crlf(void **state)
{
	char b[CHUNKED_SIZE_MAX];

	(void)state;
	assert_int_equal(chunked_put_size(b, 0x1a), 4);
	assert_memory_equal(b, "1a\r\n", 4);
	assert_int_equal(chunked_put_size(b, 0), 3);
	assert_memory_equal(b, "0\r\n", 3);
	assert_int_equal(chunked_put_size(b, UINT64_MAX), CHUNKED_SIZE_MAX);
	assert_memory_equal(b, "ffffffffffffffff\r\n", CHUNKED_SIZE_MAX);
}

static void test_encoded_body_decodes_back(void **state)
{
	static const char body[] = "The quick brown fox jumps over the lazy dog, twice over.";
	static const size_t cuts[] = { 1, 16, 7, 32 };
	char enc[512];
	struct outcome o;
	size_t at = 0, n = 0, i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cuts); i++) {
		n += chunked_put_size(enc + n, cuts[i]);
		memcpy(enc + n, body + at, cuts[i]);
		n += cuts[i];
		memcpy(enc + n, CHUNKED_CRLF, 2);
		n += 2;
		at += cuts[i];
	}
	assert_int_equal(at, sizeof(body) - 1);
	memcpy(enc + n, CHUNKED_LAST, 5);
	n += 5;
	decode(enc, n, 0, NULL, &o);
	assert_int_equal(o.ret, CHUNKED_DONE);
	assert_int_equal(o.used, n);
	assert_int_equal(o.data_len, sizeof(body) - 1);
	assert_memory_equal(o.data, body, sizeof(body) - 1);
}

#define T(f)	cmocka_unit_test(f)

static const struct CMUnitTest fixed_tests[] = {
	T(test_every_case_is_the_same_fed_byte_by_byte),
	T(test_every_split_of_a_body_decodes_the_same),
	T(test_data_spans_point_into_the_input),
	T(test_a_chunk_cut_short_gives_what_is_there),
	T(test_done_and_refusal_are_sticky),
	T(test_extension_past_bound_is_400),
	T(test_extension_bound_counts_per_chunk),
	T(test_too_many_trailers_are_400),
	T(test_trailer_section_past_bound_is_400),
	T(test_body_past_max_is_413_before_its_data),
	T(test_size_line_is_lowercase_hex_and_crlf),
	T(test_encoded_body_decodes_back),
};

int main(void)
{
	size_t ncases = ARRAY_SIZE(dec_cases), nfixed = ARRAY_SIZE(fixed_tests), n = 0, i;
	struct CMUnitTest *tests = calloc(ncases + nfixed, sizeof(*tests));
	int ret;

	if (!tests)
		return 1;
	/* one named test per row of the table */
	for (i = 0; i < ncases; i++)
		tests[n++] = (struct CMUnitTest){ .name = dec_cases[i].name,
						  .test_func = run_dec_case,
						  .initial_state = (void *)&dec_cases[i] };
	for (i = 0; i < nfixed; i++)
		tests[n++] = fixed_tests[i];
	ret = _cmocka_run_group_tests("chunked", tests, n, NULL, NULL);
	free(tests);
	return ret;
}
