// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* duration_parse/duration_format and the clocks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "lib/duration.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SEC		NSEC_PER_SEC

static void test_parse_accepts_each_unit(void **state)
{
	static const struct {
		const char *in;
		__u64 want;
	} cases[] = {
		{ "1ns", 1 },
		{ "1us", 1000 },
		{ "250ms", 250 * NSEC_PER_MSEC },
		{ "10s", 10 * SEC },
		{ "2m", 120 * SEC },
		{ "3h", 3 * 3600 * SEC },
		{ "2d", 2 * 86400 * SEC },
		{ "0s", 0 },
	};
	size_t i;
	__u64 ns;
	const char *why;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		ns = 12345;
		if (duration_parse(cases[i].in, &ns, &why))
			fail_msg("'%s' refused: %s", cases[i].in, why);
		if (ns != cases[i].want)
			fail_msg("'%s' gave %llu, want %llu", cases[i].in,
				 (unsigned long long)ns, (unsigned long long)cases[i].want);
	}
}

static void test_parse_bare_number_is_seconds(void **state)
{
	const char *why;
	__u64 ns;

	(void)state;
	assert_int_equal(duration_parse("90", &ns, &why), 0);
	assert_true(ns == 90 * SEC);
	assert_int_equal(duration_parse("0", &ns, &why), 0);
	assert_true(ns == 0);
}

static void test_parse_sums_terms(void **state)
{
	static const struct {
		const char *in;
		__u64 want;
	} cases[] = {
		{ "1h30m", 5400 * SEC },
		{ "1d1h1m1s", 90061 * SEC },
		{ "1s500ms", 1500 * NSEC_PER_MSEC },
		{ "1h05m", 3900 * SEC },
		{ "1m1ms1ns", 60 * SEC + NSEC_PER_MSEC + 1 },
	};
	size_t i;
	__u64 ns;
	const char *why;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (duration_parse(cases[i].in, &ns, &why))
			fail_msg("'%s' refused: %s", cases[i].in, why);
		if (ns != cases[i].want)
			fail_msg("'%s' gave %llu, want %llu", cases[i].in,
				 (unsigned long long)ns, (unsigned long long)cases[i].want);
	}
}

static void test_parse_refuses_malformed_with_einval(void **state)
{
	static const char *const cases[] = {
		"", "-1s", "+1s", "1.5s", "1,5s", "10x", " 1s", "1s ", "1 s", "s",
		"1S", "1sec", "1h30", "30m1h", "1s1s", "1ms1s", "1hm", "0x10s", "1s-",
	};
	const char *why;
	size_t i;
	__u64 ns = 42;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		why = NULL;
		if (duration_parse(cases[i], &ns, &why) != -EINVAL)
			fail_msg("'%s' not refused with -EINVAL", cases[i]);
		if (!why)
			fail_msg("'%s' refused without a reason", cases[i]);
		assert_true(ns == 42);
	}
}

static void test_parse_explains_common_mistakes(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{ "", "empty duration" },
		{ "1.5s", "fractions are not allowed: use a smaller unit (1500ms, not 1.5s)" },
		{ "10x", "unknown unit (use ns, us, ms, s, m, h or d)" },
		{ "1h30", "missing unit after the last number" },
		{ "30m1h", "units must go from largest to smallest, each once (1h30m)" },
	};
	const char *why;
	size_t i;
	__u64 ns;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_not_equal(duration_parse(cases[i].in, &ns, &why), 0);
		assert_string_equal(why, cases[i].why);
	}
}

static void test_parse_refuses_overflow_with_erange(void **state)
{
	static const char *const cases[] = {
		"18446744074s",			/* just past 2^64 ns */
		"213504d",
		"18446744073709551616ns",	/* the number itself */
		"99999999999999999999999ns",
		"213503d23h59m59s",		/* the sum */
	};
	const char *why;
	size_t i;
	__u64 ns = 42;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (duration_parse(cases[i], &ns, &why) != -ERANGE)
			fail_msg("'%s' not refused with -ERANGE", cases[i]);
		assert_true(ns == 42);
	}
}

static void test_parse_accepts_largest_value(void **state)
{
	const char *why;
	__u64 ns;

	(void)state;
	assert_int_equal(duration_parse("18446744073709551615ns", &ns, &why), 0);
	assert_true(ns == ~0ULL);
}

static void test_format_two_largest_terms_rounded_down(void **state)
{
	static const struct {
		__u64 ns;
		const char *want;
	} cases[] = {
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 999, "999ns" },
		{ 1500, "1us500ns" },
		{ 250 * NSEC_PER_MSEC, "250ms" },
		{ 45 * SEC, "45s" },
		{ 45 * SEC + 999, "45s" },
		{ 1500 * NSEC_PER_MSEC, "1s500ms" },
		{ 60 * SEC, "1m" },
		{ 5400 * SEC, "1h30m" },
		{ 5400 * SEC + 59 * SEC, "1h30m" },
		{ 3601 * SEC, "1h" },
		{ 86400 * SEC, "1d" },
		{ 90061 * SEC, "1d1h" },
		{ ~0ULL, "213503d23h" },
	};
	char buf[DURATION_STRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(duration_format(cases[i].ns, buf, sizeof(buf)), cases[i].want);
}

static void test_format_reads_back_when_two_terms_suffice(void **state)
{
	static const __u64 cases[] = {
		0, 1, 1500, 250 * NSEC_PER_MSEC, 45 * SEC, 5400 * SEC, 90000 * SEC,
		1500 * NSEC_PER_MSEC,
	};
	char buf[DURATION_STRLEN];
	const char *why;
	size_t i;
	__u64 ns;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(duration_parse(duration_format(cases[i], buf, sizeof(buf)),
						&ns, &why), 0);
		assert_true(ns == cases[i]);
	}
}

static void test_format_truncates_to_small_buffer(void **state)
{
	char buf[4];

	(void)state;
	assert_string_equal(duration_format(5400 * SEC, buf, sizeof(buf)), "1h3");
}

static void test_mono_ns_matches_clock_monotonic(void **state)
{
	struct timespec ts;
	__u64 a, b, t;

	(void)state;
	a = mono_ns();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b = mono_ns();
	t = (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
	assert_true(a <= t && t <= b);
}

static void test_wall_s_matches_clock_realtime(void **state)
{
	struct timespec ts;
	__u64 a, b;

	(void)state;
	/* not time(): glibc may serve it from a coarser clock */
	a = wall_s();
	clock_gettime(CLOCK_REALTIME, &ts);
	b = wall_s();
	assert_true(a <= (__u64)ts.tv_sec && (__u64)ts.tv_sec <= b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepts_each_unit),
		cmocka_unit_test(test_parse_bare_number_is_seconds),
		cmocka_unit_test(test_parse_sums_terms),
		cmocka_unit_test(test_parse_refuses_malformed_with_einval),
		cmocka_unit_test(test_parse_explains_common_mistakes),
		cmocka_unit_test(test_parse_refuses_overflow_with_erange),
		cmocka_unit_test(test_parse_accepts_largest_value),
		cmocka_unit_test(test_format_two_largest_terms_rounded_down),
		cmocka_unit_test(test_format_reads_back_when_two_terms_suffice),
		cmocka_unit_test(test_format_truncates_to_small_buffer),
		cmocka_unit_test(test_mono_ns_matches_clock_monotonic),
		cmocka_unit_test(test_wall_s_matches_clock_realtime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
