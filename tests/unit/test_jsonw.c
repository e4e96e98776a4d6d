// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* jsonw: separators, nesting, pretty layout, escaping, numbers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lib/jsonw.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

struct capture {
	char *buf;
	size_t len;
	FILE *f;
	struct jsonw *jw;
};

static void capture_start(struct capture *c, bool pretty)
{
	c->buf = NULL;
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	c->jw = jsonw_new(c->f, pretty);
	assert_non_null(c->jw);
}

/* Ends the document and checks the whole output, final newline included. */
static void capture_check(struct capture *c, const char *want)
{
	jsonw_destroy(&c->jw);
	assert_null(c->jw);
	assert_int_equal(fclose(c->f), 0);
	assert_string_equal(c->buf, want);
	free(c->buf);
}

static void write_sample(struct jsonw *jw)
{
	jsonw_start_object(jw);
	jsonw_string_field(jw, "name", "eth0");
	jsonw_uint_field(jw, "ifindex", 2);
	jsonw_name(jw, "ports");
	jsonw_start_array(jw);
	jsonw_uint(jw, 22);
	jsonw_uint(jw, 443);
	jsonw_end_array(jw);
	jsonw_name(jw, "empty");
	jsonw_start_object(jw);
	jsonw_end_object(jw);
	jsonw_name(jw, "none");
	jsonw_start_array(jw);
	jsonw_end_array(jw);
	jsonw_name(jw, "rules");
	jsonw_start_array(jw);
	jsonw_start_object(jw);
	jsonw_bool_field(jw, "dry", true);
	jsonw_end_object(jw);
	jsonw_end_array(jw);
	jsonw_end_object(jw);
}

static void test_compact_places_commas_without_spaces(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	write_sample(c.jw);
	capture_check(&c, "{\"name\":\"eth0\",\"ifindex\":2,\"ports\":[22,443],"
			  "\"empty\":{},\"none\":[],\"rules\":[{\"dry\":true}]}\n");
}

static void test_pretty_indents_two_spaces_one_value_per_line(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, true);
	write_sample(c.jw);
	capture_check(&c,
		"{\n"
		"  \"name\": \"eth0\",\n"
		"  \"ifindex\": 2,\n"
		"  \"ports\": [\n"
		"    22,\n"
		"    443\n"
		"  ],\n"
		"  \"empty\": {},\n"
		"  \"none\": [],\n"
		"  \"rules\": [\n"
		"    {\n"
		"      \"dry\": true\n"
		"    }\n"
		"  ]\n"
		"}\n");
}

static void test_top_level_values_one_per_line(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	jsonw_start_object(c.jw);
	jsonw_end_object(c.jw);
	jsonw_start_array(c.jw);
	jsonw_end_array(c.jw);
	capture_check(&c, "{}\n[]\n");
}

static void test_string_escapes_per_rfc8259(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain", "\"plain\"\n" },
		{ "", "\"\"\n" },
		{ "q\"b\\s/", "\"q\\\"b\\\\s/\"\n" },
		{ "\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"\n" },
		{ "\x01\x1f", "\"\\u0001\\u001f\"\n" },
		{ "\x7f", "\"\x7f\"\n" },
		{ "caf\xc3\xa9 \xff", "\"caf\xc3\xa9 \xff\"\n" },
	};
	struct capture c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		capture_start(&c, false);
		jsonw_string(c.jw, cases[i].in);
		capture_check(&c, cases[i].want);
	}
}

static void test_names_are_escaped(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	jsonw_start_object(c.jw);
	jsonw_string_field(c.jw, "a\"b", "v");
	jsonw_end_object(c.jw);
	capture_check(&c, "{\"a\\\"b\":\"v\"}\n");
}

static void test_null_string_is_null(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	jsonw_start_object(c.jw);
	jsonw_string_field(c.jw, "s", NULL);
	jsonw_end_object(c.jw);
	capture_check(&c, "{\"s\":null}\n");
}

static void test_integers_full_range(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	jsonw_start_array(c.jw);
	jsonw_uint(c.jw, 0);
	jsonw_uint(c.jw, ~0ULL);
	jsonw_int(c.jw, -1);
	jsonw_int(c.jw, INT64_MIN);
	jsonw_int(c.jw, INT64_MAX);
	jsonw_end_array(c.jw);
	capture_check(&c, "[0,18446744073709551615,-1,-9223372036854775808,9223372036854775807]\n");
}

static void test_fields_write_name_and_value(void **state)
{
	struct capture c;

	(void)state;
	capture_start(&c, false);
	jsonw_start_object(c.jw);
	jsonw_int_field(c.jw, "i", -5);
	jsonw_float_field(c.jw, "f", 0.5);
	jsonw_bool_field(c.jw, "b", false);
	jsonw_end_object(c.jw);
	capture_check(&c, "{\"i\":-5,\"f\":0.5,\"b\":false}\n");
}

static void test_float_shortest_that_reads_back(void **state)
{
	static const struct {
		double in;
		const char *want;
	} cases[] = {
		{ 0.0, "0\n" },
		{ 1.0, "1\n" },
		{ -2.5, "-2.5\n" },
		{ 0.1, "0.1\n" },
		{ 1.0 / 3.0, "0.3333333333333333\n" },
		{ 0.1 + 0.2, "0.30000000000000004\n" },
		{ 1e300, "1e+300\n" },
		{ 5e-324, "4.94065645841247e-324\n" },
	};
	struct capture c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		capture_start(&c, false);
		jsonw_float(c.jw, cases[i].in);
		capture_check(&c, cases[i].want);
	}
}

static void test_float_non_finite_is_null(void **state)
{
	static const double cases[] = { NAN, -NAN, INFINITY, -INFINITY };
	struct capture c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		capture_start(&c, false);
		jsonw_float(c.jw, cases[i]);
		capture_check(&c, "null\n");
	}
}

static void test_destroy_null_is_harmless(void **state)
{
	struct jsonw *jw = NULL;

	(void)state;
	jsonw_destroy(&jw);
	jsonw_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact_places_commas_without_spaces),
		cmocka_unit_test(test_pretty_indents_two_spaces_one_value_per_line),
		cmocka_unit_test(test_top_level_values_one_per_line),
		cmocka_unit_test(test_string_escapes_per_rfc8259),
		cmocka_unit_test(test_names_are_escaped),
		cmocka_unit_test(test_null_string_is_null),
		cmocka_unit_test(test_integers_full_range),
		cmocka_unit_test(test_fields_write_name_and_value),
		cmocka_unit_test(test_float_shortest_that_reads_back),
		cmocka_unit_test(test_float_non_finite_is_null),
		cmocka_unit_test(test_destroy_null_is_harmless),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
