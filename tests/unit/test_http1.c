// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * http1: request and response heads. The refusal matrix is one table, one
 * named test per row; each row is also fed byte by byte and in every other
 * step size, every prefix placed against a guard page, and must give what
 * the whole input gives.
 */
#include <limits.h>
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

#include "gw/http1.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define WHOLE		INT_MAX		/* want: the whole input is one head */
#define LIT(s)		s, sizeof(s) - 1

#include "guard.h"

struct hdrs {
	struct http1_msg m;
	struct http1_header h[HTTP1_DEF_MAX_HEADERS + 8];
};

static int parse_req(struct hdrs *x, const char *s, size_t n, const struct http1_limits *lim)
{
	struct guard g;
	int ret;

	http1_msg_init(&x->m, x->h, ARRAY_SIZE(x->h));
	ret = http1_parse_request(&x->m, guard_copy(&g, s, n), n, lim);
	guard_free(&g);
	return ret;
}

/* Parses s (NUL-terminated) whole; the pointers in x are not to be followed. */
static int req(const char *s)
{
	static struct hdrs x;

	return parse_req(&x, s, strlen(s), NULL);
}

/* --- the refusal matrix ---------------------------------------------- */

struct req_case {
	const char *name;
	const char *raw;
	size_t len;		/* 0: strlen(raw) */
	int want;		/* -status, or WHOLE */
	const char *why;	/* the refusal's reason */
};

#define GET11	"GET / HTTP/1.1\r\nHost: a\r\n"
#define POST11	"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"

static const struct req_case req_cases[] = {
	/* RFC 9112 6.3: the framing matrix */
	{ "te_with_cl_is_400",
	  POST11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, -400,
	  "Transfer-Encoding with Content-Length" },
	{ "cl_with_te_is_400",
	  POST11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400,
	  "Transfer-Encoding with Content-Length" },
	{ "duplicate_identical_cl_is_400",
	  POST11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 0, -400,
	  "more than one Content-Length" },
	{ "conflicting_cl_is_400", POST11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, -400,
	  "more than one Content-Length" },
	{ "cl_list_in_one_field_is_400", POST11 "Content-Length: 5, 5\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_plus_is_400", POST11 "Content-Length: +5\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_minus_is_400", POST11 "Content-Length: -5\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_inner_space_is_400", POST11 "Content-Length: 1 0\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_hex_is_400", POST11 "Content-Length: 0x10\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_trailing_junk_is_400", POST11 "Content-Length: 10abc\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_with_leading_junk_is_400", POST11 "Content-Length: a10\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_empty_is_400", POST11 "Content-Length: \r\n\r\n", 0, -400, "invalid Content-Length" },
	{ "cl_20_digit_overflow_is_400",
	  POST11 "Content-Length: 99999999999999999999\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "cl_2_pow_63_is_400", POST11 "Content-Length: 9223372036854775808\r\n\r\n", 0, -400,
	  "invalid Content-Length" },
	{ "te_chunked_not_last_is_400", POST11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, -400,
	  "chunked is not the final transfer coding" },
	{ "te_chunked_not_last_across_fields_is_400",
	  POST11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 0, -400,
	  "chunked is not the final transfer coding" },
	{ "te_without_chunked_is_400", POST11 "Transfer-Encoding: gzip\r\n\r\n", 0, -400,
	  "chunked is not the final transfer coding" },
	{ "te_xchunked_is_400", POST11 "Transfer-Encoding: xchunked\r\n\r\n", 0, -400,
	  "chunked is not the final transfer coding" },
	{ "te_chunked_with_parameter_is_400",
	  POST11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 0, -400,
	  "chunked is not the final transfer coding" },
	{ "te_chunked_twice_is_400", POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 0, -400,
	  "chunked applied more than once" },
	{ "te_unknown_coding_before_chunked_is_501",
	  POST11 "Transfer-Encoding: foo, chunked\r\n\r\n", 0, -501,
	  "transfer coding not implemented" },
	{ "te_gzip_before_chunked_is_501",
	  POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, -501,
	  "transfer coding not implemented" },
	{ "te_empty_is_400", POST11 "Transfer-Encoding: \r\n\r\n", 0, -400,
	  "empty Transfer-Encoding" },
	{ "te_only_commas_is_400", POST11 "Transfer-Encoding: , ,\r\n\r\n", 0, -400,
	  "empty Transfer-Encoding" },
	{ "te_not_a_token_is_400", POST11 "Transfer-Encoding: chu\"nked\r\n\r\n", 0, -400,
	  "invalid Transfer-Encoding" },
	{ "te_in_http10_is_400", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -400,
	  "Transfer-Encoding in HTTP/1.0" },
	{ "cl_past_max_body_is_413", POST11 "Content-Length: 8388609\r\n\r\n", 0, -413,
	  "Content-Length too large" },

	/* line endings and bytes */
	{ "bare_cr_in_request_line_is_400", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "bare CR in head" },
	{ "bare_cr_ending_request_line_is_400", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, -400,
	  "bare CR in head" },
	{ "bare_cr_ending_field_is_400", GET11 "X-A: b\rX-B: c\r\n\r\n", 0, -400,
	  "bare CR in head" },
	{ "bare_lf_ending_request_line_is_400", "GET / HTTP/1.1\nHost: a\r\n\r\n", 0, -400,
	  "bare LF in head" },
	{ "bare_lf_ending_field_is_400", GET11 "X-A: b\n\r\n", 0, -400, "bare LF in head" },
	{ "bare_lf_blank_line_is_400", GET11 "\n", 0, -400, "bare LF in head" },
	{ "bare_lf_in_value_is_400", GET11 "X-A: b\nc\r\n\r\n", 0, -400, "bare LF in head" },
	{ "nul_in_value_is_400",
	  GET11 "X-A: b\0c\r\n\r\n", sizeof(GET11 "X-A: b\0c\r\n\r\n") - 1, -400,
	  "NUL in head" },
	{ "nul_in_target_is_400", "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
	  sizeof("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n") - 1, -400, "NUL in head" },
	{ "nul_in_field_name_is_400",
	  GET11 "X\0A: b\r\n\r\n", sizeof(GET11 "X\0A: b\r\n\r\n") - 1, -400,
	  "NUL in head" },
	{ "ctl_in_value_is_400", GET11 "X-A: b\x01" "c\r\n\r\n", 0, -400,
	  "control character in head" },
	{ "del_in_value_is_400", GET11 "X-A: b\x7f" "c\r\n\r\n", 0, -400,
	  "control character in head" },
	{ "tls_hello_on_plain_port_is_400", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, -400,
	  "control character in head" },

	/* field lines */
	{ "obs_fold_is_400", GET11 "X-A: b\r\n c\r\n\r\n", 0, -400,
	  "obs-fold or white space before a field line" },
	{ "obs_fold_with_tab_is_400", GET11 "X-A: b\r\n\tc\r\n\r\n", 0, -400,
	  "obs-fold or white space before a field line" },
	{ "white_space_before_first_field_is_400", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, -400,
	  "obs-fold or white space before a field line" },
	{ "space_before_colon_is_400", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, -400,
	  "white space before colon" },
	{ "tab_before_colon_is_400", GET11 "Content-Length\t: 0\r\n\r\n", 0, -400,
	  "white space before colon" },
	{ "empty_field_name_is_400", GET11 ": b\r\n\r\n", 0, -400, "empty field name" },
	{ "field_without_colon_is_400", GET11 "X-Ab\r\n\r\n", 0, -400,
	  "field line without a colon" },
	{ "invalid_char_in_field_name_is_400", GET11 "X(A): b\r\n\r\n", 0, -400,
	  "invalid character in field name" },
	{ "non_ascii_in_field_name_is_400", GET11 "X\xc3\xa9: b\r\n\r\n", 0, -400,
	  "invalid character in field name" },

	/* Host */
	{ "missing_host_in_http11_is_400", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n", 0, -400,
	  "no Host in HTTP/1.1 request" },
	{ "duplicate_host_is_400", GET11 "Host: a\r\n\r\n", 0, -400, "more than one Host" },
	{ "duplicate_host_in_http10_is_400",
	  "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 0, -400,
	  "more than one Host" },
	{ "host_with_slash_is_400", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, -400,
	  "invalid Host" },
	{ "host_with_inner_space_is_400", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, -400,
	  "invalid Host" },

	/* request line */
	{ "invalid_method_char_is_400", "G(ET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid method" },
	{ "method_with_non_ascii_is_400", "G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid method" },
	{ "empty_method_is_400", " / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400, "invalid method" },
	{ "tab_after_method_is_400", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid method" },
	{ "two_spaces_after_method_is_400", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "empty request-target" },
	{ "two_spaces_before_version_is_400", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "space_after_version_is_400", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "http09_request_without_version_is_400", "GET /\r\n\r\n", 0, -400,
	  "no HTTP version in request line" },
	{ "http20_is_505", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, -505,
	  "HTTP version not supported" },
	{ "http12_is_505", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, -505,
	  "HTTP version not supported" },
	{ "http09_version_is_505", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 0, -505,
	  "HTTP version not supported" },
	{ "h2_preface_is_505", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, -505,
	  "HTTP version not supported" },
	{ "lowercase_http_is_400", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "version_without_minor_is_400", "GET / HTTP/1\r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "version_two_digit_minor_is_400", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "version_two_digit_major_is_400", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", 0, -400,
	  "malformed HTTP version" },
	{ "target_with_fragment_is_400", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid character in request-target" },
	{ "target_with_non_ascii_is_400", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid character in request-target" },
	{ "target_with_bad_percent_is_400", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid character in request-target" },
	{ "target_with_cut_percent_is_400", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid character in request-target" },
	{ "target_with_backslash_is_400", "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid character in request-target" },
	{ "asterisk_outside_options_is_400", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "asterisk-form outside OPTIONS" },
	{ "connect_with_origin_form_is_400", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid CONNECT authority" },
	{ "relative_target_is_400", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 0, -400,
	  "invalid request-target" },

	/* and what is fine */
	{ "plain_get_is_accepted", GET11 "\r\n", 0, WHOLE },
	{ "post_with_cl_is_accepted", POST11 "Content-Length: 5\r\n\r\n", 0, WHOLE },
	{ "post_chunked_is_accepted", POST11 "Transfer-Encoding: chunked\r\n\r\n", 0, WHOLE },
	{ "te_chunked_any_case_is_accepted", POST11 "Transfer-Encoding: ChUnKeD\r\n\r\n", 0,
	  WHOLE },
	{ "te_empty_elements_are_ignored", POST11 "Transfer-Encoding: ,chunked,\r\n\r\n", 0,
	  WHOLE },
	{ "cl_with_leading_zeros_is_accepted", POST11 "Content-Length: 007\r\n\r\n", 0, WHOLE },
	{ "cl_2_pow_63_minus_1_past_max_body_is_413",
	  POST11 "Content-Length: 9223372036854775807\r\n\r\n", 0, -413,
	  "Content-Length too large" },
	{ "http10_without_host_is_accepted", "GET / HTTP/1.0\r\n\r\n", 0, WHOLE },
	{ "leading_empty_lines_are_skipped", "\r\n\r\n" GET11 "\r\n", 0, WHOLE },
	{ "obs_text_in_value_is_accepted", GET11 "X-A: caf\xc3\xa9\r\n\r\n", 0, WHOLE },
	{ "empty_value_is_accepted", GET11 "X-A:\r\n\r\n", 0, WHOLE },
	{ "options_asterisk_is_accepted", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, WHOLE },
	{ "connect_authority_is_accepted",
	  "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 0, WHOLE },
	{ "absolute_form_is_accepted",
	  "GET http://a.example/v1/models?x=%20 HTTP/1.1\r\nHost: a\r\n\r\n", 0, WHOLE },
	{ "ipv6_host_is_accepted", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", 0, WHOLE },
	{ "empty_host_is_accepted", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, WHOLE },
	{ "unknown_method_token_is_accepted", "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 0, WHOLE },
};

static const struct http1_limits body_bound = {
	.max_header_bytes = HTTP1_DEF_MAX_HEADER_BYTES,
	.max_headers = HTTP1_DEF_MAX_HEADERS,
	.max_request_line = HTTP1_DEF_MAX_REQUEST_LINE,
	.max_body_bytes = 8 << 20,
};

static size_t case_len(const struct req_case *c)
{
	return c->len ? c->len : strlen(c->raw);
}

static void run_req_case(void **state)
{
	const struct req_case *c = *state;
	size_t n = case_len(c);
	struct hdrs x;
	int ret;

	ret = parse_req(&x, c->raw, n, &body_bound);
	if (ret != (c->want == WHOLE ? (int)n : c->want))
		fail_msg("%s: got %d (%s), want %d", c->name, ret, ret < 0 ? x.m.error : "",
			 c->want == WHOLE ? (int)n : c->want);
	if (ret < 0)
		assert_string_equal(x.m.error, c->why);
}

/*
 * What a caller can see of a parse: the return and the fields, by content,
 * so that a parse of a moved buffer compares equal.
 */
static void assert_same_msg(const struct http1_msg *a, const struct http1_msg *b)
{
	unsigned int i;

	assert_int_equal(a->method, b->method);
	assert_int_equal(a->method_len, b->method_len);
	assert_memory_equal(a->method_str, b->method_str, a->method_len);
	assert_int_equal(a->target_len, b->target_len);
	assert_memory_equal(a->target, b->target, a->target_len);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->reason_len, b->reason_len);
	if (a->reason_len)
		assert_memory_equal(a->reason, b->reason, a->reason_len);
	assert_int_equal(a->minor, b->minor);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->body, b->body);
	assert_true(a->content_length == b->content_length);
	assert_int_equal(a->nhdr, b->nhdr);
	for (i = 0; i < a->nhdr; i++) {
		assert_int_equal(a->hdr[i].name_len, b->hdr[i].name_len);
		assert_memory_equal(a->hdr[i].name, b->hdr[i].name, a->hdr[i].name_len);
		assert_int_equal(a->hdr[i].value_len, b->hdr[i].value_len);
		if (a->hdr[i].value_len)
			assert_memory_equal(a->hdr[i].value, b->hdr[i].value, a->hdr[i].value_len);
	}
}

/*
 * Feeds s step more bytes per call (the last call gets all of it), each
 * prefix in a fresh mapping against a guard page (so the buffer moves
 * between calls), and checks that every call before the last says "more"
 * and the last says what the whole says. Compared in the same call as the
 * whole parse, while pointers hold.
 */
static void assert_split_same(const char *name, const char *s, size_t n, size_t step,
			      bool request, bool to_head)
{
	struct hdrs whole, inc;
	struct guard gw, g = {};
	const char *wb;
	int want, ret = 0;
	size_t k;

	http1_msg_init(&whole.m, whole.h, ARRAY_SIZE(whole.h));
	http1_msg_init(&inc.m, inc.h, ARRAY_SIZE(inc.h));
	wb = guard_copy(&gw, s, n);
	want = request ? http1_parse_request(&whole.m, wb, n, &body_bound) :
			 http1_parse_response(&whole.m, wb, n, NULL, to_head);
	for (k = step < n ? step : n; ; k = k + step < n ? k + step : n) {
		const char *b = guard_copy(&g, s, k);

		ret = request ? http1_parse_request(&inc.m, b, k, &body_bound) :
				http1_parse_response(&inc.m, b, k, NULL, to_head);
		if (ret || k == n)
			break;
		guard_free(&g);
		g.map = NULL;
	}
	if (ret != want)
		fail_msg("%s: in steps of %zu %d (%s), whole %d (%s)", name, step, ret,
			 ret < 0 ? inc.m.error : "", want, want < 0 ? whole.m.error : "");
	if (ret > 0)
		assert_same_msg(&whole.m, &inc.m);
	else if (ret < 0)
		assert_string_equal(whole.m.error, inc.m.error);
	if (g.map)
		guard_free(&g);
	guard_free(&gw);
}

/* Byte by byte, and in every other step size. */
static void assert_any_split_same(const char *name, const char *s, size_t n, bool request,
				  bool to_head)
{
	size_t step;

	for (step = 1; step < n; step++)
		assert_split_same(name, s, n, step, request, to_head);
}

static void test_every_request_case_is_the_same_fed_in_any_steps(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(req_cases); i++)
		assert_any_split_same(req_cases[i].name, req_cases[i].raw, case_len(&req_cases[i]),
				      true, false);
}

/* --- what a good request yields ------------------------------------ */

static void test_request_fields_point_into_the_buffer(void **state)
{
	static const char s[] = "POST /v1/chat/completions?x=1 HTTP/1.1\r\n"
				"Host: api.example\r\n"
				"Content-Type:application/json \t\r\n"
				"Content-Length: 42\r\n\r\n";
	struct hdrs x;
	int ret;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	ret = http1_parse_request(&x.m, s, sizeof(s) - 1, NULL);
	assert_int_equal(ret, sizeof(s) - 1);
	assert_int_equal(x.m.method, HTTP1_POST);
	assert_true(x.m.method_str == s && x.m.method_len == 4);
	assert_int_equal(x.m.target_len, strlen("/v1/chat/completions?x=1"));
	assert_memory_equal(x.m.target, "/v1/chat/completions?x=1", x.m.target_len);
	assert_true(x.m.target == s + 5);
	assert_int_equal(x.m.minor, 1);
	assert_int_equal(x.m.nhdr, 3);
	assert_int_equal(x.m.hdr[1].name_len, 12);
	assert_memory_equal(x.m.hdr[1].name, "Content-Type", 12);
	/* OWS on both sides of the value is not part of it */
	assert_int_equal(x.m.hdr[1].value_len, 16);
	assert_memory_equal(x.m.hdr[1].value, "application/json", 16);
	assert_int_equal(x.m.body, HTTP1_BODY_LENGTH);
	assert_true(x.m.content_length == 42);
	assert_int_equal(x.m.flags, HTTP1_F_KEEP_ALIVE | HTTP1_F_HAS_CL);
}

static void test_chunked_request_is_framed_chunked(void **state)
{
	struct hdrs x;

	(void)state;
	assert_true(parse_req(&x, POST11 "Transfer-Encoding: chunked\r\n\r\n",
			      strlen(POST11 "Transfer-Encoding: chunked\r\n\r\n"), NULL) > 0);
	assert_int_equal(x.m.body, HTTP1_BODY_CHUNKED);
	assert_true(x.m.flags & HTTP1_F_HAS_TE);
}

static void test_cl_zero_and_no_framing_mean_no_body(void **state)
{
	struct hdrs x;
	const char *s = POST11 "Content-Length: 0\r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	assert_int_equal(x.m.body, HTTP1_BODY_NONE);
	assert_true(x.m.flags & HTTP1_F_HAS_CL);
	assert_true(parse_req(&x, GET11 "\r\n", strlen(GET11 "\r\n"), NULL) > 0);
	assert_int_equal(x.m.body, HTTP1_BODY_NONE);
	assert_false(x.m.flags & (HTTP1_F_HAS_CL | HTTP1_F_HAS_TE));
}

static void test_cl_takes_ows_around_and_leading_zeros(void **state)
{
	struct hdrs x;
	const char *s = POST11 "Content-Length: \t0042 \r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	assert_true(x.m.content_length == 42);
}

static void test_cl_of_2_pow_63_minus_1_is_accepted_without_body_bound(void **state)
{
	struct hdrs x;
	const char *s = POST11 "Content-Length: 9223372036854775807\r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	assert_true(x.m.content_length == INT64_MAX);
}

static void test_cl_at_max_body_is_accepted(void **state)
{
	struct hdrs x;
	const char *s = POST11 "Content-Length: 8388608\r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), &body_bound) > 0);
	assert_true(x.m.content_length == 8 << 20);
}

static void test_partial_head_needs_more(void **state)
{
	static const char s[] = GET11 "\r\n";
	struct hdrs x;
	size_t k;

	(void)state;
	/* also the cuts right after a CR, and at the blank line's CR */
	for (k = 0; k < sizeof(s) - 1; k++)
		if (parse_req(&x, s, k, NULL) != 0)
			fail_msg("prefix of %zu bytes: not 0", k);
}

static void test_pipelined_request_is_left_for_the_next_call(void **state)
{
	static const char first[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char s[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
				"POST /b HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhi";
	struct hdrs x;
	int ret;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	ret = http1_parse_request(&x.m, s, sizeof(s) - 1, NULL);
	assert_int_equal(ret, sizeof(first) - 1);
	assert_int_equal(x.m.target_len, 2);
	assert_memory_equal(x.m.target, "/a", 2);
	assert_int_equal(x.m.nhdr, 1);

	http1_msg_reset(&x.m);
	ret = http1_parse_request(&x.m, s + sizeof(first) - 1, sizeof(s) - sizeof(first), NULL);
	assert_int_equal(ret, sizeof(s) - sizeof(first) - 2);
	assert_memory_equal(x.m.target, "/b", 2);
	assert_int_equal(x.m.body, HTTP1_BODY_LENGTH);
	assert_true(x.m.content_length == 2);
}

static void test_request_after_a_bad_one_is_never_parsed(void **state)
{
	static const char s[] = POST11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
				"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n";
	struct hdrs x;
	int ret;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	ret = http1_parse_request(&x.m, s, sizeof(s) - 1, NULL);
	assert_int_equal(ret, -400);
	assert_string_equal(x.m.error, "Transfer-Encoding with Content-Length");
	/* asking again does not move past the refusal either */
	assert_true(http1_parse_request(&x.m, s, sizeof(s) - 1, NULL) <= 0);
}

/*
 * The request line read in one call, a bad field in the next, with the
 * buffer moved in between: the refusal still names the request line, in
 * the buffer of the refusing call (the caller answers in its API's shape).
 */
static void test_refusal_names_the_request_line_in_the_moved_buffer(void **state)
{
	static const char s[] = "POST /v1/messages HTTP/1.1\r\nHost: a\r\nx-a: 1\r\n bad\r\n\r\n";
	size_t first = sizeof("POST /v1/messages HTTP/1.1\r\nHost: a\r\n") - 1;
	struct guard g1, g2;
	struct hdrs x;
	const char *b;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_int_equal(http1_parse_request(&x.m, guard_copy(&g1, s, first), first, NULL), 0);
	guard_free(&g1);
	b = guard_copy(&g2, s, sizeof(s) - 1);
	assert_int_equal(http1_parse_request(&x.m, b, sizeof(s) - 1, NULL), -400);
	assert_string_equal(x.m.error, "obs-fold or white space before a field line");
	assert_ptr_equal(x.m.method_str, b);
	assert_int_equal(x.m.method_len, 4);
	assert_ptr_equal(x.m.target, b + 5);
	assert_int_equal(x.m.target_len, 12);
	assert_memory_equal(x.m.target, "/v1/messages", 12);
	guard_free(&g2);
}

static void test_refusal_before_the_request_line_has_no_target(void **state)
{
	static const char s[] = "GET /v1/x\x01 HTTP/1.1\r\n";
	struct hdrs x;

	(void)state;
	assert_int_equal(parse_req(&x, s, sizeof(s) - 1, NULL), -400);
	assert_null(x.m.target);
}

static void test_parse_after_completion_returns_the_same_head(void **state)
{
	static const char s[] = GET11 "X-A: 1\r\n\r\nGET";
	struct hdrs x;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_int_equal(http1_parse_request(&x.m, s, sizeof(s) - 4, NULL), sizeof(s) - 4);
	assert_int_equal(http1_parse_request(&x.m, s, sizeof(s) - 1, NULL), sizeof(s) - 4);
	assert_int_equal(x.m.nhdr, 2);
}

static void test_leading_crlf_count_in_the_head(void **state)
{
	static const char s[] = "\r\n" GET11 "\r\n";
	struct hdrs x;

	(void)state;
	assert_int_equal(parse_req(&x, s, sizeof(s) - 1, NULL), sizeof(s) - 1);
	assert_int_equal(x.m.method, HTTP1_GET);
}

static void test_method_is_case_sensitive(void **state)
{
	struct hdrs x;
	const char *s = "get / HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	assert_int_equal(x.m.method, HTTP1_OTHER);
	assert_int_equal(x.m.method_len, 3);
}

static void test_absolute_form_is_flagged(void **state)
{
	struct hdrs x;
	const char *s = "GET https://a.example/v1 HTTP/1.1\r\nHost: b\r\n\r\n";

	(void)state;
	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	assert_true(x.m.flags & HTTP1_F_ABSOLUTE_FORM);
	assert_true(parse_req(&x, GET11 "\r\n", strlen(GET11 "\r\n"), NULL) > 0);
	assert_false(x.m.flags & HTTP1_F_ABSOLUTE_FORM);
}

/* --- keep-alive, Expect, Upgrade ---------------------------------- */

static unsigned int flags_of(const char *s)
{
	struct hdrs x;

	assert_true(parse_req(&x, s, strlen(s), NULL) > 0);
	return x.m.flags;
}

static void test_http11_is_keep_alive_unless_close(void **state)
{
	(void)state;
	assert_true(flags_of(GET11 "\r\n") & HTTP1_F_KEEP_ALIVE);
	assert_false(flags_of(GET11 "Connection: close\r\n\r\n") & HTTP1_F_KEEP_ALIVE);
	assert_false(flags_of(GET11 "Connection: foo, CLOSE\r\n\r\n") & HTTP1_F_KEEP_ALIVE);
}

static void test_http10_is_keep_alive_only_when_asked(void **state)
{
	(void)state;
	assert_false(flags_of("GET / HTTP/1.0\r\n\r\n") & HTTP1_F_KEEP_ALIVE);
	assert_true(flags_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") &
		    HTTP1_F_KEEP_ALIVE);
	assert_false(flags_of("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") &
		     HTTP1_F_KEEP_ALIVE);
}

static void test_connection_with_non_token_is_400(void **state)
{
	(void)state;
	assert_int_equal(req(GET11 "Connection: clo\"se\r\n\r\n"), -400);
}

static void test_expect_100_continue_is_flagged_in_http11_only(void **state)
{
	(void)state;
	assert_true(flags_of(POST11 "Content-Length: 1\r\nExpect: 100-Continue\r\n\r\n") &
		    HTTP1_F_EXPECT_CONTINUE);
	assert_false(flags_of("POST / HTTP/1.0\r\nContent-Length: 1\r\n"
			      "Expect: 100-continue\r\n\r\n") &
		     (HTTP1_F_EXPECT_CONTINUE | HTTP1_F_EXPECT_OTHER));
	assert_int_equal(flags_of(GET11 "Expect: 200-ok\r\n\r\n") &
			 (HTTP1_F_EXPECT_CONTINUE | HTTP1_F_EXPECT_OTHER), HTTP1_F_EXPECT_OTHER);
}

static void test_upgrade_needs_connection_upgrade(void **state)
{
	(void)state;
	assert_true(flags_of(GET11 "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n") &
		    HTTP1_F_UPGRADE);
	assert_false(flags_of(GET11 "Upgrade: websocket\r\n\r\n") & HTTP1_F_UPGRADE);
}

/* --- bounds ---------------------------------------------------------- */

/* "GET /aaa... HTTP/1.1" with a request line of exactly n bytes, then Host, blank line */
static char *request_with_line(size_t n, size_t *len)
{
	char *s = malloc(n + 64);

	assert_non_null(s);
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', n - 14);
	memcpy(s + n - 9, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
	*len = n + 13;
	return s;
}

static void test_request_line_at_bound_is_accepted(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_line(HTTP1_DEF_MAX_REQUEST_LINE, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, len, NULL), (int)len);
	free(s);
}

static void test_request_line_past_bound_is_414(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_line(HTTP1_DEF_MAX_REQUEST_LINE + 1, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, len, NULL), -414);
	/* refused as soon as the bound is passed, long before the line ends */
	assert_int_equal(parse_req(&x, s, HTTP1_DEF_MAX_REQUEST_LINE + 1, NULL), -414);
	free(s);
}

/* GET11, n fields "X-nnnn: v", and if total, one more padded to make the head total bytes */
static char *request_with_fields(unsigned int n, size_t total, size_t *len)
{
	size_t cap = total ? total + 1 : 64 + n * 16, at;
	char *s = malloc(cap);
	unsigned int i;

	assert_non_null(s);
	at = (size_t)sprintf(s, "%s", GET11);
	for (i = 0; i < n; i++)
		at += (size_t)sprintf(s + at, "X-%04u: v\r\n", i);
	if (total) {
		size_t pad = total - at - strlen("X-Pad: \r\n\r\n");

		at += (size_t)sprintf(s + at, "X-Pad: ");
		memset(s + at, 'p', pad);
		at += pad;
		memcpy(s + at, "\r\n", 2);
		at += 2;
	}
	memcpy(s + at, "\r\n", 2);
	*len = at + 2;
	return s;
}

static void test_header_bytes_at_bound_are_accepted(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_fields(0, HTTP1_DEF_MAX_HEADER_BYTES, &len);

	(void)state;
	assert_int_equal(len, HTTP1_DEF_MAX_HEADER_BYTES);
	assert_int_equal(parse_req(&x, s, len, NULL), (int)len);
	free(s);
}

static void test_header_bytes_past_bound_are_431(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_fields(0, HTTP1_DEF_MAX_HEADER_BYTES + 1, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, len, NULL), -431);
	free(s);
}

static void test_headers_never_ending_are_431_at_the_bound(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_fields(0, 4 * HTTP1_DEF_MAX_HEADER_BYTES, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, HTTP1_DEF_MAX_HEADER_BYTES, NULL), 0);
	assert_int_equal(parse_req(&x, s, HTTP1_DEF_MAX_HEADER_BYTES + 1, NULL), -431);
	free(s);
}

static void test_100_headers_are_accepted(void **state)
{
	struct hdrs x;
	size_t len;
	/* Host and 99 more */
	char *s = request_with_fields(HTTP1_DEF_MAX_HEADERS - 1, 0, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, len, NULL), (int)len);
	assert_int_equal(x.m.nhdr, HTTP1_DEF_MAX_HEADERS);
	free(s);
}

static void test_101_headers_are_431(void **state)
{
	struct hdrs x;
	size_t len;
	char *s = request_with_fields(HTTP1_DEF_MAX_HEADERS, 0, &len);

	(void)state;
	assert_int_equal(parse_req(&x, s, len, NULL), -431);
	assert_string_equal(x.m.error, "too many header fields");
	free(s);
}

static void test_header_array_smaller_than_limit_bounds_the_count(void **state)
{
	struct http1_header h[3];
	struct http1_msg m;
	const char *s = GET11 "A: 1\r\nB: 2\r\nC: 3\r\n\r\n";

	(void)state;
	http1_msg_init(&m, h, ARRAY_SIZE(h));
	assert_int_equal(http1_parse_request(&m, s, strlen(s), NULL), -431);
	http1_msg_init(&m, h, ARRAY_SIZE(h));
	assert_int_equal(http1_parse_request(&m, s, strlen(s) - 8, NULL), 0);
}

static void test_bounds_come_from_the_limits(void **state)
{
	static const struct http1_limits small = {
		.max_header_bytes = 64, .max_headers = 2, .max_request_line = 16,
	};
	struct hdrs x;

	(void)state;
	assert_int_equal(parse_req(&x, LIT("GET /0123456789 HTTP/1.1\r\n"), &small), -414);
	assert_int_equal(parse_req(&x, LIT(GET11 "A: 1\r\nB: 2\r\n\r\n"), &small), -431);
	assert_int_equal(parse_req(&x, LIT(GET11 "A: 01234567890123456789012345678901234\r\n\r\n"),
				   &small), -431);
}

/* --- helpers --------------------------------------------------------- */

static void test_find_is_case_insensitive_and_iterates(void **state)
{
	static const char s[] = GET11 "x-a: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n";
	const struct http1_header *h;
	struct hdrs x;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_true(http1_parse_request(&x.m, s, sizeof(s) - 1, NULL) > 0);
	h = http1_find(&x.m, "X-A", NULL);
	assert_non_null(h);
	assert_memory_equal(h->value, "1", 1);
	h = http1_find(&x.m, "X-A", h);
	assert_non_null(h);
	assert_memory_equal(h->value, "3", 1);
	assert_null(http1_find(&x.m, "X-A", h));
	assert_null(http1_find(&x.m, "X-C", NULL));
}

static void test_hop_by_hop_covers_the_fixed_list_and_connection_names(void **state)
{
	static const char s[] = GET11 "Connection: close, X-Secret\r\nX-Secret: 1\r\n\r\n";
	static const char *const hop[] = {
		"Connection", "keep-alive", "Proxy-Connection", "TE", "Trailer",
		"Transfer-Encoding", "upgrade", "x-secret",
	};
	static const char *const end[] = { "Host", "Content-Length", "X-Other", "Trailers" };
	struct hdrs x;
	size_t i;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_true(http1_parse_request(&x.m, s, sizeof(s) - 1, NULL) > 0);
	for (i = 0; i < ARRAY_SIZE(hop); i++)
		if (!http1_is_hop_by_hop(&x.m, hop[i], strlen(hop[i])))
			fail_msg("%s: not hop-by-hop", hop[i]);
	for (i = 0; i < ARRAY_SIZE(end); i++)
		if (http1_is_hop_by_hop(&x.m, end[i], strlen(end[i])))
			fail_msg("%s: hop-by-hop", end[i]);
}

static void test_list_has_trims_and_ignores_case(void **state)
{
	static const char l[] = " gzip ,\tChunked,, br";

	(void)state;
	assert_true(http1_list_has(l, sizeof(l) - 1, "chunked", 7));
	assert_true(http1_list_has(l, sizeof(l) - 1, "br", 2));
	assert_true(http1_list_has(l, sizeof(l) - 1, "GZIP", 4));
	assert_false(http1_list_has(l, sizeof(l) - 1, "chunk", 5));
	assert_false(http1_list_has(l, sizeof(l) - 1, "deflate", 7));
}

/* --- responses ------------------------------------------------------- */

struct resp_case {
	const char *name;
	const char *raw;
	bool to_head;
	int want;		/* -502 or WHOLE */
	enum http1_body body;
	bool keep_alive;
	const char *why;
};

static const struct resp_case resp_cases[] = {
	{ "response_cl_is_length",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_LENGTH, true },
	{ "response_chunked_is_chunked",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_CHUNKED, true },
	{ "response_without_framing_is_close_delimited",
	  "HTTP/1.1 200 OK\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_CLOSE, false },
	{ "response_te_not_chunked_is_close_delimited",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_CLOSE, false },
	{ "response_204_has_no_body",
	  "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_304_has_no_body",
	  "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_1xx_has_no_body",
	  "HTTP/1.1 100 Continue\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_to_head_has_no_body",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  true, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_without_reason_is_accepted",
	  "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_without_sp_after_status_is_accepted",
	  "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_NONE, true },
	{ "response_http10_closes_by_default",
	  "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_LENGTH, false },
	{ "response_connection_close_closes",
	  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_LENGTH, false },
	{ "response_needs_no_host",
	  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n",
	  false, WHOLE, HTTP1_BODY_LENGTH, true },
	{ "response_te_with_cl_is_502",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	  false, -502, .why = "Transfer-Encoding with Content-Length" },
	{ "response_duplicate_cl_is_502",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
	  false, -502, .why = "more than one Content-Length" },
	{ "response_bad_cl_is_502",
	  "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n",
	  false, -502, .why = "invalid Content-Length" },
	{ "response_unknown_coding_before_chunked_is_502",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
	  false, -502, .why = "transfer coding not implemented" },
	{ "response_te_in_http10_is_502",
	  "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
	  false, -502, .why = "Transfer-Encoding in HTTP/1.0" },
	{ "response_two_digit_status_is_502",
	  "HTTP/1.1 20 OK\r\n\r\n",
	  false, -502, .why = "invalid status code" },
	{ "response_four_digit_status_is_502",
	  "HTTP/1.1 2000 OK\r\n\r\n",
	  false, -502, .why = "invalid status code" },
	{ "response_status_600_is_502",
	  "HTTP/1.1 600 OK\r\n\r\n",
	  false, -502, .why = "invalid status code" },
	{ "response_status_099_is_502",
	  "HTTP/1.1 099 OK\r\n\r\n",
	  false, -502, .why = "invalid status code" },
	{ "response_http2_is_502",
	  "HTTP/2.0 200 OK\r\n\r\n",
	  false, -502, .why = "HTTP version not supported" },
	{ "response_bare_lf_is_502",
	  "HTTP/1.1 200 OK\n\r\n",
	  false, -502, .why = "bare LF in head" },
	{ "response_obs_fold_is_502",
	  "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n",
	  false, -502, .why = "obs-fold or white space before a field line" },
	{ "response_leading_empty_line_is_502",
	  "\r\nHTTP/1.1 200 OK\r\n\r\n",
	  false, -502, .why = "malformed status line" },
};

static void run_resp_case(void **state)
{
	const struct resp_case *c = *state;
	size_t n = strlen(c->raw);
	struct hdrs x;
	struct guard g;
	int ret;

	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	ret = http1_parse_response(&x.m, guard_copy(&g, c->raw, n), n, NULL, c->to_head);
	guard_free(&g);
	if (ret != (c->want == WHOLE ? (int)n : c->want))
		fail_msg("%s: got %d (%s)", c->name, ret, ret < 0 ? x.m.error : "");
	if (ret < 0) {
		assert_string_equal(x.m.error, c->why);
		return;
	}
	assert_int_equal(x.m.body, c->body);
	assert_int_equal(!!(x.m.flags & HTTP1_F_KEEP_ALIVE), c->keep_alive);
}

static void test_every_response_case_is_the_same_fed_in_any_steps(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(resp_cases); i++)
		assert_any_split_same(resp_cases[i].name, resp_cases[i].raw,
				      strlen(resp_cases[i].raw), false, resp_cases[i].to_head);
}

static void test_response_status_and_reason_are_read(void **state)
{
	static const char s[] = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\r\n";
	struct hdrs x;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_int_equal(http1_parse_response(&x.m, s, sizeof(s) - 1, NULL, false), sizeof(s) - 1);
	assert_int_equal(x.m.status, 429);
	assert_int_equal(x.m.reason_len, strlen("Too Many Requests"));
	assert_memory_equal(x.m.reason, "Too Many Requests", x.m.reason_len);
	assert_int_equal(x.m.minor, 1);
}

static void test_response_body_start_is_left_unconsumed(void **state)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
	struct hdrs x;

	(void)state;
	http1_msg_init(&x.m, x.h, ARRAY_SIZE(x.h));
	assert_int_equal(http1_parse_response(&x.m, s, sizeof(s) - 1, NULL, false), sizeof(s) - 3);
}

#define T(f)	cmocka_unit_test(f)

static const struct CMUnitTest fixed_tests[] = {
	T(test_every_request_case_is_the_same_fed_in_any_steps),
	T(test_request_fields_point_into_the_buffer),
	T(test_chunked_request_is_framed_chunked),
	T(test_cl_zero_and_no_framing_mean_no_body),
	T(test_cl_takes_ows_around_and_leading_zeros),
	T(test_cl_of_2_pow_63_minus_1_is_accepted_without_body_bound),
	T(test_cl_at_max_body_is_accepted),
	T(test_partial_head_needs_more),
	T(test_pipelined_request_is_left_for_the_next_call),
	T(test_request_after_a_bad_one_is_never_parsed),
	T(test_refusal_names_the_request_line_in_the_moved_buffer),
	T(test_refusal_before_the_request_line_has_no_target),
	T(test_parse_after_completion_returns_the_same_head),
	T(test_leading_crlf_count_in_the_head),
	T(test_method_is_case_sensitive),
	T(test_absolute_form_is_flagged),
	T(test_http11_is_keep_alive_unless_close),
	T(test_http10_is_keep_alive_only_when_asked),
	T(test_connection_with_non_token_is_400),
	T(test_expect_100_continue_is_flagged_in_http11_only),
	T(test_upgrade_needs_connection_upgrade),
	T(test_request_line_at_bound_is_accepted),
	T(test_request_line_past_bound_is_414),
	T(test_header_bytes_at_bound_are_accepted),
	T(test_header_bytes_past_bound_are_431),
	T(test_headers_never_ending_are_431_at_the_bound),
	T(test_100_headers_are_accepted),
	T(test_101_headers_are_431),
	T(test_header_array_smaller_than_limit_bounds_the_count),
	T(test_bounds_come_from_the_limits),
	T(test_find_is_case_insensitive_and_iterates),
	T(test_hop_by_hop_covers_the_fixed_list_and_connection_names),
	T(test_list_has_trims_and_ignores_case),
	T(test_every_response_case_is_the_same_fed_in_any_steps),
	T(test_response_status_and_reason_are_read),
	T(test_response_body_start_is_left_unconsumed),
};

int main(void)
{
	size_t nreq = ARRAY_SIZE(req_cases), nresp = ARRAY_SIZE(resp_cases);
	size_t nfixed = ARRAY_SIZE(fixed_tests), n = 0, i;
	struct CMUnitTest *tests = calloc(nreq + nresp + nfixed, sizeof(*tests));
	int ret;

	if (!tests)
		return 1;
	/* one named test per row of the tables */
	for (i = 0; i < nreq; i++)
		tests[n++] = (struct CMUnitTest){ .name = req_cases[i].name,
						  .test_func = run_req_case,
						  .initial_state = (void *)&req_cases[i] };
	for (i = 0; i < nresp; i++)
		tests[n++] = (struct CMUnitTest){ .name = resp_cases[i].name,
						  .test_func = run_resp_case,
						  .initial_state = (void *)&resp_cases[i] };
	for (i = 0; i < nfixed; i++)
		tests[n++] = fixed_tests[i];
	ret = _cmocka_run_group_tests("http1", tests, n, NULL, NULL);
	free(tests);
	return ret;
}
