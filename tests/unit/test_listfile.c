// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* List file lines: parsing, reason checks, writing and reading back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/duration.h"
#include "lib/listfile.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SEC		NSEC_PER_SEC

static int parse(const char *text, struct list_entry *e, const char **why, const char **bad,
		 char *line, size_t len)
{
	snprintf(line, len, "%s", text);
	return listfile_parse_line(line, e, why, bad);
}

static void test_parse_skips_blank_and_comment_lines(void **state)
{
	static const char *const cases[] = {
		"", "\n", "\r\n", "   ", "\t \t\n", "# a comment", "   # indented comment\n",
		"#10.0.0.0/8",
	};
	struct list_entry e;
	const char *why, *bad;
	char line[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (parse(cases[i], &e, &why, &bad, line, sizeof(line)) != 0)
			fail_msg("'%s' not taken as blank", cases[i]);
}

static void test_parse_reads_entries(void **state)
{
	static const struct {
		const char *in, *cidr;
		__u64 ttl;
		const char *reason;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", 0, "" },
		{ "192.0.2.1\n", "192.0.2.1/32", 0, "" },
		{ "  10.0.0.0/8\t\r\n", "10.0.0.0/8", 0, "" },
		{ "10.0.0.0/8 # why not", "10.0.0.0/8", 0, "" },
		{ "10.0.0.0/8 ttl 1h", "10.0.0.0/8", 3600 * SEC, "" },
		{ "10.0.0.0/8 ttl 1h30m reason scanner", "10.0.0.0/8", 5400 * SEC, "scanner" },
		{ "2001:db8::/32 reason spam from abuse desk", "2001:db8::/32", 0, "spam from abuse desk" },
		{ "10.0.0.0/8\treason  two  spaces \t # note", "10.0.0.0/8", 0, "two  spaces" },
	};
	const char *why, *bad;
	struct list_entry e;
	char line[128], buf[CIDR_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int ret = parse(cases[i].in, &e, &why, &bad, line, sizeof(line));

		if (ret != 1)
			fail_msg("'%s': %d (%s)", cases[i].in, ret, ret < 0 ? why : "blank");
		assert_string_equal(cidr_format(&e.cidr, buf, sizeof(buf)), cases[i].cidr);
		assert_true(e.ttl_ns == cases[i].ttl);
		assert_string_equal(e.reason, cases[i].reason);
	}
}

static void test_parse_hash_inside_reason_is_refused(void **state)
{
	static const char *const cases[] = {
		"10.0.0.0/8 reason a#b",
		"10.0.0.0/8 reason x#",
	};
	const char *why, *bad;
	struct list_entry e;
	char line[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(parse(cases[i], &e, &why, &bad, line, sizeof(line)), -EINVAL);
		assert_string_equal(why, "reason must be printable ASCII without '#'");
	}
}

static void test_parse_reason_takes_rest_of_line(void **state)
{
	const char *why, *bad;
	struct list_entry e;
	char line[128];

	(void)state;
	assert_int_equal(parse("10.0.0.0/8 reason spam ttl 1h", &e, &why, &bad,
			       line, sizeof(line)), 1);
	assert_string_equal(e.reason, "spam ttl 1h");
	assert_true(e.ttl_ns == 0);
}

static void test_parse_reason_of_31_bytes_fits(void **state)
{
	const char *why, *bad;
	struct list_entry e;
	char line[128];

	(void)state;
	assert_int_equal(parse("10.0.0.0/8 reason 0123456789012345678901234567890",
			       &e, &why, &bad, line, sizeof(line)), 1);
	assert_string_equal(e.reason, "0123456789012345678901234567890");
}

/* Each bad line, the reason, and the token *bad must point at (NULL: none). */
static void test_parse_refuses_bad_lines_and_points_at_token(void **state)
{
	static const struct {
		const char *in, *why, *bad;
	} cases[] = {
		{ "10.0.0.0/33", "prefix length out of range (0-32)", "10.0.0.0/33" },
		{ "10.0.0.1/8 ttl 1h", "host bits set past the prefix length (give the network address)", "10.0.0.1/8" },
		{ "ttl 1h", "not an IPv4 address (expected A.B.C.D)", "ttl" },
		{ "10.0.0.0/8 ttl", "missing duration after 'ttl'", "ttl" },
		{ "10.0.0.0/8 ttl # 1h", "missing duration after 'ttl'", "ttl" },
		{ "10.0.0.0/8 ttl 1.5h", "fractions are not allowed: use a smaller unit (1500ms, not 1.5s)", "1.5h" },
		{ "10.0.0.0/8 ttl 0s", "ttl must be longer than 0 (leave it out for none)", "0s" },
		{ "10.0.0.0/8 ttl 999999d", "duration too long (over 2^64 ns, about 584 years)", "999999d" },
		{ "10.0.0.0/8 ttl 1h ttl 2h", "ttl given twice", "ttl" },
		{ "10.0.0.0/8 reason", "missing text after 'reason'", "reason" },
		{ "10.0.0.0/8 reason   # only a comment", "missing text after 'reason'", "reason" },
		{ "10.0.0.0/8 expires 1h", "unknown keyword (expected 'ttl' or 'reason')", "expires" },
		{ "10.0.0.0/8 TTL 1h", "unknown keyword (expected 'ttl' or 'reason')", "TTL" },
		{ "10.0.0.0/8#x", "prefix length must be plain decimal (no sign, spaces or leading zeros)", "10.0.0.0/8#x" },
		{ "10.0.0.0/8 ttl 1h 1h", "unknown keyword (expected 'ttl' or 'reason')", "1h" },
		{ "10.0.0.0/8 reason 0123456789012345678901234567890X", "reason longer than 31 bytes",
		  "0123456789012345678901234567890X" },
		{ "10.0.0.0/8 reason caf\xc3\xa9", "reason must be printable ASCII without '#'", "caf\xc3\xa9" },
		{ "10.0.0.0/8 reason a\tb", "reason must be printable ASCII without '#'", "a\tb" },
	};
	const char *why, *bad;
	struct list_entry e;
	char line[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		why = bad = NULL;
		if (parse(cases[i].in, &e, &why, &bad, line, sizeof(line)) != -EINVAL)
			fail_msg("'%s' not refused with -EINVAL", cases[i].in);
		if (!why || strcmp(why, cases[i].why))
			fail_msg("'%s': why '%s', want '%s'", cases[i].in, why, cases[i].why);
		if (!bad || bad < line || bad >= line + sizeof(line))
			fail_msg("'%s': bad does not point into the line", cases[i].in);
		if (strcmp(bad, cases[i].bad))
			fail_msg("'%s': bad '%s', want '%s'", cases[i].in, bad, cases[i].bad);
	}
}

static void test_parse_second_ttl_points_at_second(void **state)
{
	const char *why, *bad;
	struct list_entry e;
	char line[128];

	(void)state;
	assert_int_equal(parse("10.0.0.0/8 ttl 1h ttl 2h", &e, &why, &bad, line, sizeof(line)),
			 -EINVAL);
	assert_ptr_equal(bad, line + strlen("10.0.0.0/8 ttl 1h "));
}

static void test_reason_check_limits(void **state)
{
	static const struct {
		const char *in;
		int ret;
	} cases[] = {
		{ "", 0 },
		{ "scanner", 0 },
		{ " !~ printable ~! ", 0 },
		{ "0123456789012345678901234567890", 0 },
		{ "0123456789012345678901234567890X", -EINVAL },
		{ "a#b", -EINVAL },
		{ "tab\there", -EINVAL },
		{ "nl\n", -EINVAL },
		{ "del\x7f", -EINVAL },
		{ "high\x80", -EINVAL },
	};
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (reason_check(cases[i].in, &why) != cases[i].ret)
			fail_msg("'%s': want %d", cases[i].in, cases[i].ret);
}

static char *write_entry(const struct list_entry *e, int *ret)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&out, &len);
	assert_non_null(f);
	*ret = listfile_write(f, e);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void test_write_formats_entry(void **state)
{
	static const struct {
		const char *cidr;
		__u64 ttl;
		const char *reason, *want;
	} cases[] = {
		{ "10.0.0.0/8", 0, "", "10.0.0.0/8\n" },
		{ "192.0.2.1", 0, "", "192.0.2.1/32\n" },
		{ "10.0.0.0/8", 5400 * SEC, "", "10.0.0.0/8 ttl 1h30m\n" },
		{ "10.0.0.0/8", 0, "scanner", "10.0.0.0/8 reason scanner\n" },
		{ "2001:db8::/32", 250 * NSEC_PER_MSEC, "two  words", "2001:db8::/32 ttl 250ms reason two  words\n" },
		{ "10.0.0.0/8", 0, "  padded  ", "10.0.0.0/8 reason padded\n" },
		{ "10.0.0.0/8", 0, "   ", "10.0.0.0/8\n" },
		{ "10.0.0.0/8", 3601 * SEC, "", "10.0.0.0/8 ttl 1h\n" },	/* rounded down */
	};
	struct list_entry e;
	const char *why;
	char *out;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(cidr_parse(cases[i].cidr, &e.cidr, &why), 0);
		e.ttl_ns = cases[i].ttl;
		strcpy(e.reason, cases[i].reason);
		out = write_entry(&e, &ret);
		assert_int_equal(ret, 0);
		assert_string_equal(out, cases[i].want);
		free(out);
	}
}

static void test_write_then_parse_gives_same_entry(void **state)
{
	static const struct {
		const char *cidr;
		__u64 ttl;
		const char *reason;
	} cases[] = {
		{ "10.0.0.0/8", 0, "" },
		{ "203.0.113.7", 90061 * SEC - 61 * SEC, "brute force ssh" },
		{ "2001:db8:1::/48", 1, "x" },
		{ "::/0", 2 * 86400 * SEC, "0123456789012345678901234567890" },
		{ "198.51.100.0/24", 0, "ttl 1h reason ttl" },
	};
	const char *why, *bad;
	struct list_entry e, back;
	char *out;
	size_t i;
	int ret;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(cidr_parse(cases[i].cidr, &e.cidr, &why), 0);
		e.ttl_ns = cases[i].ttl;
		strcpy(e.reason, cases[i].reason);
		out = write_entry(&e, &ret);
		assert_int_equal(ret, 0);
		if (listfile_parse_line(out, &back, &why, &bad) != 1)
			fail_msg("'%s' did not read back: %s", out, why);
		assert_memory_equal(&back, &e, sizeof(e));
		free(out);
	}
}

static void test_write_refuses_what_would_not_read_back(void **state)
{
	struct list_entry e;
	const char *why;
	char *out;
	int ret;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(cidr_parse("10.0.0.0/8", &e.cidr, &why), 0);

	strcpy(e.reason, "a # b");
	out = write_entry(&e, &ret);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(out, "");
	free(out);

	memset(e.reason, 'x', sizeof(e.reason));	/* unterminated */
	out = write_entry(&e, &ret);
	assert_int_equal(ret, -EINVAL);
	free(out);

	e.reason[0] = '\0';
	e.cidr.family = 0;
	out = write_entry(&e, &ret);
	assert_int_equal(ret, -EINVAL);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_skips_blank_and_comment_lines),
		cmocka_unit_test(test_parse_reads_entries),
		cmocka_unit_test(test_parse_hash_inside_reason_is_refused),
		cmocka_unit_test(test_parse_reason_takes_rest_of_line),
		cmocka_unit_test(test_parse_reason_of_31_bytes_fits),
		cmocka_unit_test(test_parse_refuses_bad_lines_and_points_at_token),
		cmocka_unit_test(test_parse_second_ttl_points_at_second),
		cmocka_unit_test(test_reason_check_limits),
		cmocka_unit_test(test_write_formats_entry),
		cmocka_unit_test(test_write_then_parse_gives_same_entry),
		cmocka_unit_test(test_write_refuses_what_would_not_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
