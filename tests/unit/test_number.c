// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* parse_u32/parse_u64: plain decimal in range, nothing else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/number.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void test_u32_accepts_plain_decimal(void **state)
{
	static const struct {
		const char *in;
		__u32 want;
	} cases[] = {
		{ "0", 0 },
		{ "7", 7 },
		{ "128", 128 },
		{ "4294967295", 4294967295U },
	};
	size_t i;
	__u32 v;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		v = 12345;
		assert_int_equal(parse_u32(cases[i].in, 0, ~0U, &v), 0);
		assert_int_equal(v, cases[i].want);
	}
}

static void test_u32_refuses_non_decimal_with_einval(void **state)
{
	static const char *const cases[] = {
		"", "-1", "+1", " 1", "1 ", "0x10", "010", "00", "1e3", "1.0",
		"abc", "12a", "99999999999999999999x",
	};
	size_t i;
	__u32 v = 42;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (parse_u32(cases[i], 0, ~0U, &v) != -EINVAL)
			fail_msg("'%s' not refused with -EINVAL", cases[i]);
		assert_int_equal(v, 42);
	}
}

static void test_u32_refuses_out_of_bounds_with_erange(void **state)
{
	__u32 v = 42;

	(void)state;
	assert_int_equal(parse_u32("4294967296", 0, ~0U, &v), -ERANGE);
	assert_int_equal(parse_u32("99999999999999999999", 0, ~0U, &v), -ERANGE);
	assert_int_equal(parse_u32("33", 0, 32, &v), -ERANGE);
	assert_int_equal(parse_u32("0", 1, 32, &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void test_u32_accepts_bounds_inclusive(void **state)
{
	__u32 v;

	(void)state;
	assert_int_equal(parse_u32("1", 1, 32, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(parse_u32("32", 1, 32, &v), 0);
	assert_int_equal(v, 32);
}

static void test_u64_accepts_full_range(void **state)
{
	__u64 v;

	(void)state;
	assert_int_equal(parse_u64("18446744073709551615", 0, ~0ULL, &v), 0);
	assert_true(v == ~0ULL);
	assert_int_equal(parse_u64("4294967296", 0, ~0ULL, &v), 0);
	assert_true(v == 4294967296ULL);
}

static void test_u64_refuses_overflow_with_erange(void **state)
{
	__u64 v = 42;

	(void)state;
	assert_int_equal(parse_u64("18446744073709551616", 0, ~0ULL, &v), -ERANGE);
	assert_int_equal(parse_u64("184467440737095516150", 0, ~0ULL, &v), -ERANGE);
	assert_true(v == 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u32_accepts_plain_decimal),
		cmocka_unit_test(test_u32_refuses_non_decimal_with_einval),
		cmocka_unit_test(test_u32_refuses_out_of_bounds_with_erange),
		cmocka_unit_test(test_u32_accepts_bounds_inclusive),
		cmocka_unit_test(test_u64_accepts_full_range),
		cmocka_unit_test(test_u64_refuses_overflow_with_erange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
