// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * jsonreq: request bodies read strictly. One table, one named test per
 * row, each body placed against a guard page; a refusal must give its
 * code and its message word for word.
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

#include "gw/jsonreq.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#include "guard.h"

struct case_ {
	const char *name;
	const char *body;
	size_t len;		/* 0: strlen(body) */
	const char *code;	/* NULL: accepted */
	const char *why;
};

#define BAD_JSON	"invalid_json"
#define BAD_TYPE	"invalid_type"
#define BAD_VALUE	"invalid_value"
#define CHAT(extra)	"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]" extra "}"

static const struct case_ cases[] = {
	/* accepted */
	{ "chat_is_accepted", CHAT("") },
	{ "white_space_around_is_accepted", " \t\r\n" CHAT("") " \r\n\t" },
	{ "utf8_of_every_length_is_accepted", "{\"input\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"}" },
	{ "escaped_control_characters_are_accepted", "{\"input\":\"a\\u0001\\n\\t\\u001f\"}" },
	{ "escaped_backslash_before_u0000_is_accepted", "{\"input\":\"\\\\u0000\"}" },
	{ "same_key_in_two_objects_is_accepted",
	  "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]}" },
	{ "null_max_tokens_is_accepted", CHAT(",\"max_tokens\":null") },
	{ "max_tokens_1_is_accepted", CHAT(",\"max_tokens\":1") },
	{ "max_tokens_at_bound_is_accepted", CHAT(",\"max_tokens\":999999999999") },
	{ "max_tokens_with_exponent_is_accepted", CHAT(",\"max_tokens\":1e3") },
	{ "content_null_and_parts_are_accepted",
	  "{\"messages\":[{\"role\":\"assistant\",\"content\":null},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}" },
	{ "stream_false_and_null_options_are_accepted", CHAT(",\"stream\":false,\"stream_options\":null") },
	{ "token_id_prompt_is_accepted", "{\"model\":\"m\",\"prompt\":[[1,2],[3]]}" },
	{ "unknown_fields_of_any_type_are_accepted", CHAT(",\"temperature\":\"hot\",\"n\":[1]") },

	/* bytes */
	{ "invalid_utf8_byte_is_refused", "{\"input\":\"ign\xffore\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 13)" },
	{ "lone_continuation_byte_is_refused", "{\"input\":\"\x80\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "overlong_slash_is_refused", "{\"input\":\"\xc0\xaf\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "overlong_three_bytes_is_refused", "{\"input\":\"\xe0\x80\xaf\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "utf8_surrogate_is_refused", "{\"input\":\"\xed\xa0\x80\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "past_u10ffff_is_refused", "{\"input\":\"\xf4\x90\x80\x80\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "cut_utf8_sequence_is_refused", "{\"input\":\"\xe2\x82\"}", 0, BAD_JSON,
	  "the request body is not valid UTF-8 (byte 10)" },
	{ "raw_nul_in_string_is_refused", "{\"input\":\"a\0b\"}", 15, BAD_JSON,
	  "the request body has a control character (0x00) in a string (byte 11)" },
	{ "raw_newline_in_string_is_refused", "{\"input\":\"a\nb\"}", 0, BAD_JSON,
	  "the request body has a control character (0x0a) in a string (byte 11)" },
	{ "raw_nul_between_tokens_is_refused", "{\"input\":\0\"a\"}", 14, BAD_JSON,
	  "the request body has a control character (0x00) (byte 9)" },
	{ "nul_after_the_value_is_refused", CHAT("") "\0", sizeof(CHAT("")), BAD_JSON,
	  "the request body has a control character (0x00) (byte 57)" },
	{ "escaped_nul_in_string_is_refused", "{\"input\":\"a\\u0000b\"}", 0, BAD_JSON,
	  "the request body has \\u0000 in a string (byte 11)" },
	{ "escaped_nul_in_key_is_refused", "{\"a\\u0000\":1}", 0, BAD_JSON,
	  "the request body has \\u0000 in a string (byte 3)" },

	/* grammar */
	{ "empty_body_is_refused", "", 0, BAD_JSON, "the request body is not valid JSON" },
	{ "truncated_body_is_refused", "{\"model\":\"m\",\"messages\":[", 0, BAD_JSON,
	  "the request body is not valid JSON" },
	{ "not_json_is_refused", "model=m&prompt=hi", 0, BAD_JSON, "the request body is not valid JSON" },
	{ "trailing_garbage_is_refused", CHAT("") "x", 0, BAD_JSON,
	  "the request body has data after its JSON value (byte 57)" },
	{ "second_object_is_refused", CHAT("") " {\"model\":\"other\"}", 0, BAD_JSON,
	  "the request body has data after its JSON value (byte 58)" },
	{ "array_at_top_is_refused", "[1,2]", 0, BAD_JSON, "the request body is not a JSON object" },
	{ "string_at_top_is_refused", "\"hi\"", 0, BAD_JSON, "the request body is not a JSON object" },
	{ "lone_surrogate_escape_is_refused", "{\"input\":\"\\udc00\"}", 0, BAD_JSON,
	  "the request body is not valid JSON" },

	/* keys twice: cJSON would read the first, a Python backend the last */
	{ "model_twice_is_refused", "{\"model\":\"cheap\",\"messages\":[],\"model\":\"dear\"}", 0, BAD_JSON,
	  "the key 'model' appears twice in the request body" },
	{ "model_twice_by_escape_is_refused", "{\"model\":\"a\",\"mod\\u0065l\":\"b\"}", 0, BAD_JSON,
	  "the key 'model' appears twice in the request body" },
	{ "content_twice_in_a_message_is_refused",
	  "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\",\"content\":\"c\"}]}",
	  0, BAD_JSON, "the key 'content' appears twice in messages[1]" },
	{ "key_twice_deep_is_refused", "{\"tools\":[{\"function\":{\"parameters\":{\"a\":1,\"a\":2}}}]}", 0,
	  BAD_JSON, "the key 'a' appears twice in tools[0].function.parameters" },

	/* the fields we read */
	{ "messages_object_is_refused", "{\"model\":\"m\",\"messages\":{\"role\":\"user\"}}", 0, BAD_TYPE,
	  "Invalid type for 'messages': expected an array, but got an object instead." },
	{ "messages_string_is_refused", "{\"model\":\"m\",\"messages\":\"hi\"}", 0, BAD_TYPE,
	  "Invalid type for 'messages': expected an array, but got a string instead." },
	{ "messages_number_is_refused", "{\"model\":\"m\",\"messages\":1}", 0, BAD_TYPE,
	  "Invalid type for 'messages': expected an array, but got a number instead." },
	{ "message_not_object_is_refused", "{\"model\":\"m\",\"messages\":[\"hi\"]}", 0, BAD_TYPE,
	  "Invalid type for 'messages[0]': expected an object, but got a string instead." },
	{ "content_object_is_refused",
	  "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":{\"text\":\"hi\"}}]}", 0, BAD_TYPE,
	  "Invalid type for 'messages[0].content': expected a string or an array, but got an object instead." },
	{ "model_number_is_refused", "{\"model\":4}", 0, BAD_TYPE,
	  "Invalid type for 'model': expected a string, but got a number instead." },
	{ "model_array_is_refused", "{\"model\":[\"a\"]}", 0, BAD_TYPE,
	  "Invalid type for 'model': expected a string, but got an array instead." },
	{ "model_null_is_refused", "{\"model\":null}", 0, BAD_TYPE,
	  "Invalid type for 'model': expected a string, but got null instead." },
	{ "stream_string_is_refused", CHAT(",\"stream\":\"true\""), 0, BAD_TYPE,
	  "Invalid type for 'stream': expected a boolean, but got a string instead." },
	{ "stream_number_is_refused", CHAT(",\"stream\":1"), 0, BAD_TYPE,
	  "Invalid type for 'stream': expected a boolean, but got a number instead." },
	{ "stream_options_string_is_refused", CHAT(",\"stream_options\":\"x\""), 0, BAD_TYPE,
	  "Invalid type for 'stream_options': expected an object, but got a string instead." },
	{ "user_number_is_refused", CHAT(",\"user\":7"), 0, BAD_TYPE,
	  "Invalid type for 'user': expected a string, but got a number instead." },
	{ "input_object_is_refused", "{\"model\":\"m\",\"input\":{\"text\":\"hi\"}}", 0, BAD_TYPE,
	  "Invalid type for 'input': expected a string or an array, but got an object instead." },
	{ "system_number_is_refused", "{\"model\":\"m\",\"system\":1}", 0, BAD_TYPE,
	  "Invalid type for 'system': expected a string or an array, but got a number instead." },
	{ "max_tokens_string_is_refused", CHAT(",\"max_tokens\":\"5\""), 0, BAD_TYPE,
	  "Invalid type for 'max_tokens': expected an integer, but got a string instead." },
	{ "max_tokens_minus_1_is_refused", CHAT(",\"max_tokens\":-1"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got -1 instead." },
	{ "max_tokens_0_is_refused", CHAT(",\"max_tokens\":0"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got 0 instead." },
	{ "max_tokens_fraction_is_refused", CHAT(",\"max_tokens\":1.5"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got 1.5 instead." },
	{ "max_tokens_past_bound_is_refused", CHAT(",\"max_tokens\":1000000000000"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got 1000000000000 instead." },
	{ "max_tokens_20_digits_is_refused", CHAT(",\"max_tokens\":99999999999999999999"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got 1e+20 instead." },
	{ "max_tokens_1e400_is_refused", CHAT(",\"max_tokens\":1e400"), 0, BAD_VALUE,
	  "Invalid value for 'max_tokens': expected an integer from 1 to 999999999999, but got a number past the range of a double instead." },
	{ "max_completion_tokens_is_checked_too", CHAT(",\"max_completion_tokens\":2.5"), 0, BAD_VALUE,
	  "Invalid value for 'max_completion_tokens': expected an integer from 1 to 999999999999, but got 2.5 instead." },
	{ "max_output_tokens_is_checked_too", "{\"model\":\"m\",\"input\":\"hi\",\"max_output_tokens\":true}", 0,
	  BAD_TYPE, "Invalid type for 'max_output_tokens': expected an integer, but got a boolean instead." },
};

static void run_case(void **state)
{
	const struct case_ *c = *state;
	size_t n = c->len ? c->len : strlen(c->body);
	struct jsonreq_error err = { 0 };
	struct guard g;
	cJSON *root;

	root = jsonreq_parse(guard_copy(&g, c->body, n), n, &err);
	guard_free(&g);
	if (!c->code) {
		if (!root)
			fail_msg("%s: refused (%s: %s)", c->name, err.code, err.why);
		assert_true(cJSON_IsObject(root));
		jsonreq_delete(root);
		return;
	}
	if (root)
		fail_msg("%s: accepted, want %s: %s", c->name, c->code, c->why);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err.code, c->code);
	assert_string_equal(err.why, c->why);
}

/* n levels of arrays around a number, in {"input": ...} */
static char *nested(unsigned int n, size_t *len)
{
	char *s = malloc(2 * n + 16);
	size_t k = 0;

	assert_non_null(s);
	k += sprintf(s, "{\"input\":");
	memset(s + k, '[', n - 1);
	k += n - 1;
	s[k++] = '1';
	memset(s + k, ']', n - 1);
	k += n - 1;
	s[k++] = '}';
	*len = k;
	return s;
}

static void test_nesting_to_the_bound_is_accepted(void **state)
{
	struct jsonreq_error err;
	size_t len;
	char *s = nested(JSONREQ_MAX_DEPTH, &len);
	cJSON *root;

	(void)state;
	root = jsonreq_parse(s, len, &err);
	if (!root)
		fail_msg("refused: %s", err.why);
	jsonreq_delete(root);
	free(s);
}

static void test_nesting_past_the_bound_is_refused(void **state)
{
	struct jsonreq_error err;
	size_t len;
	/* 10,000 levels, as a client trying to exhaust the stack sends */
	char *s = nested(10000, &len);

	(void)state;
	assert_null(jsonreq_parse(s, len, &err));
	assert_string_equal(err.code, "invalid_json");
	assert_string_equal(err.why, "the request body nests deeper than 1000 levels");
	free(s);
}

/* 1000 keys, the last the first again: found by sorting, not by pairs */
static void test_key_twice_among_many_is_refused(void **state)
{
	struct jsonreq_error err;
	char *s = malloc(16 * 1024), *p = s;

	(void)state;
	assert_non_null(s);
	p += sprintf(p, "{");
	for (int i = 0; i < 1000; i++)
		p += sprintf(p, "\"k%d\":%d,", i, i);
	p += sprintf(p, "\"k0\":0}");
	assert_null(jsonreq_parse(s, p - s, &err));
	assert_string_equal(err.why, "the key 'k0' appears twice in the request body");
	free(s);
}

static void test_tree_is_the_body(void **state)
{
	static const char body[] = CHAT(",\"max_tokens\":7,\"stream\":true");
	struct jsonreq_error err;
	cJSON *root = jsonreq_parse(body, sizeof(body) - 1, &err);

	(void)state;
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "model")->valuestring, "m");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "max_tokens")->valuedouble, 7);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream")));
	jsonreq_delete(root);
}

static void test_max_tokens_keys_are_the_three(void **state)
{
	(void)state;
	assert_string_equal(jsonreq_max_tokens_keys[0], "max_tokens");
	assert_string_equal(jsonreq_max_tokens_keys[1], "max_completion_tokens");
	assert_string_equal(jsonreq_max_tokens_keys[2], "max_output_tokens");
	assert_null(jsonreq_max_tokens_keys[3]);
}

#define T(f)	cmocka_unit_test(f)
static const struct CMUnitTest fixed_tests[] = {
	T(test_nesting_to_the_bound_is_accepted),
	T(test_nesting_past_the_bound_is_refused),
	T(test_key_twice_among_many_is_refused),
	T(test_tree_is_the_body),
	T(test_max_tokens_keys_are_the_three),
};

int main(void)
{
	size_t ncases = ARRAY_SIZE(cases), nfixed = ARRAY_SIZE(fixed_tests), n = 0, i;
	struct CMUnitTest *tests = calloc(ncases + nfixed, sizeof(*tests));
	int ret;

	if (!tests)
		return 1;
	/* one named test per row of the table */
	for (i = 0; i < ncases; i++)
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name, .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	for (i = 0; i < nfixed; i++)
		tests[n++] = fixed_tests[i];
	ret = _cmocka_run_group_tests("jsonreq", tests, n, NULL, NULL);
	free(tests);
	return ret;
}
