// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cidr: parsing, canonical text, masking, LPM keys, sources. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/cidr.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void test_parse_then_format_is_canonical(void **state)
{
	static const struct {
		const char *in, *out;
		__u32 family, plen;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", SLUICE_AF_INET, 8 },
		{ "192.0.2.1", "192.0.2.1/32", SLUICE_AF_INET, 32 },
		{ "192.0.2.1/32", "192.0.2.1/32", SLUICE_AF_INET, 32 },
		{ "0.0.0.0/0", "0.0.0.0/0", SLUICE_AF_INET, 0 },
		{ "2001:db8::/32", "2001:db8::/32", SLUICE_AF_INET6, 32 },
		{ "2001:DB8:0:0::/64", "2001:db8::/64", SLUICE_AF_INET6, 64 },
		{ "2001:db8::1", "2001:db8::1/128", SLUICE_AF_INET6, 128 },
		{ "::/0", "::/0", SLUICE_AF_INET6, 0 },
		{ "2001:db8:8000::/33", "2001:db8:8000::/33", SLUICE_AF_INET6, 33 },
		{ "::ffff:192.0.2.0/120", "::ffff:192.0.2.0/120", SLUICE_AF_INET6, 120 },
	};
	char buf[CIDR_STRLEN];
	const char *why;
	struct cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cidr_parse(cases[i].in, &c, &why))
			fail_msg("'%s' refused: %s", cases[i].in, why);
		assert_int_equal(c.family, cases[i].family);
		assert_int_equal(c.prefixlen, cases[i].plen);
		assert_string_equal(cidr_format(&c, buf, sizeof(buf)), cases[i].out);
	}
}

static void test_parse_stores_network_byte_order(void **state)
{
	const char *why;
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse("10.1.2.0/24", &c, &why), 0);
	assert_int_equal(c.addr[0], htonl(0x0a010200));
	assert_int_equal(c.addr[1] | c.addr[2] | c.addr[3], 0);

	assert_int_equal(cidr_parse("2001:db8::1", &c, &why), 0);
	assert_int_equal(c.addr[0], htonl(0x20010db8));
	assert_int_equal(c.addr[1] | c.addr[2], 0);
	assert_int_equal(c.addr[3], htonl(1));
}

static void test_parse_refuses_bad_input_with_reason(void **state)
{
	static const struct {
		const char *in, *why;
	} cases[] = {
		{ "", "empty prefix" },
		{ "/8", "missing address before '/'" },
		{ "10.0.0.0/", "missing prefix length after '/'" },
		{ "10.0.0.0/33", "prefix length out of range (0-32)" },
		{ "10.0.0.0/4294967296", "prefix length out of range (0-32)" },
		{ "2001:db8::/129", "prefix length out of range (0-128)" },
		{ "::/0128", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/08", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/+8", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/-8", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/ 8", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/8x", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/8/8", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "10.0.0.0/0x8", "prefix length must be plain decimal (no sign, spaces or leading zeros)" },
		{ "1.2.3", "not an IPv4 address (expected A.B.C.D)" },
		{ "1.2.3.4.5", "not an IPv4 address (expected A.B.C.D)" },
		{ "256.0.0.0", "not an IPv4 address (expected A.B.C.D)" },
		{ "010.0.0.0/8", "not an IPv4 address (expected A.B.C.D)" },
		{ " 10.0.0.0/8", "not an IPv4 address (expected A.B.C.D)" },
		{ "example.com", "not an IPv4 address (expected A.B.C.D)" },
		{ "2001:db8:::/48", "not an IPv6 address" },
		{ "fe80::1%eth0", "not an IPv6 address" },
		{ "0000:0000:0000:0000:0000:0000:0000:0000:0000:0/64", "not an IPv4 or IPv6 address" },
		{ "10.0.0.1/8", "host bits set past the prefix length (give the network address)" },
		{ "2001:db8::1/64", "host bits set past the prefix length (give the network address)" },
		{ "2001:db8:4000::/33", "host bits set past the prefix length (give the network address)" },
	};
	struct cidr c, untouched;
	const char *why;
	size_t i;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	untouched = c;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		why = NULL;
		if (cidr_parse(cases[i].in, &c, &why) != -EINVAL)
			fail_msg("'%s' not refused with -EINVAL", cases[i].in);
		if (!why || strcmp(why, cases[i].why))
			fail_msg("'%s': why '%s', want '%s'", cases[i].in, why, cases[i].why);
		assert_memory_equal(&c, &untouched, sizeof(c));
	}
}

static void test_parse_longest_v6_text_fits_strlen(void **state)
{
	const char *in = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128";
	char buf[CIDR_STRLEN];
	const char *why;
	struct cidr c;

	(void)state;
	assert_int_equal(strlen(in) + 1, CIDR_STRLEN);
	assert_int_equal(cidr_parse(in, &c, &why), 0);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)),
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}

static void test_mask_clears_bits_past_prefix(void **state)
{
	static const struct {
		const char *in, *out;
		__u32 plen;
	} cases[] = {
		{ "10.1.2.3", "10.0.0.0/8", 8 },
		{ "10.1.2.3", "10.1.2.3/32", 32 },
		{ "10.1.2.3", "0.0.0.0/0", 0 },
		{ "10.1.2.3", "10.1.2.3/32", 40 },	/* clamped */
		{ "255.255.255.255", "255.255.255.254/31", 31 },
		{ "2001:db8:aaaa:bbbb:cccc::1", "2001:db8:aaaa:bb00::/56", 56 },
		{ "2001:db8:aaaa:bbbb:cccc::1", "2001:db8::/32", 32 },
		{ "2001:db8:aaaa:bbbb:cccc::1", "2001:db8:aaaa:bbbb:cccc::/96", 96 },
		{ "2001:db8:aaaa:bbbb:cccc::1", "::/0", 0 },
		{ "2001:db8:aaaa:bbbb:cccc::1", "2001:db8:aaaa:bbbb:cccc::1/128", 200 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", 127 },
	};
	char buf[CIDR_STRLEN];
	const char *why;
	struct cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_int_equal(cidr_parse(cases[i].in, &c, &why), 0);
		cidr_mask(&c, cases[i].plen);
		assert_string_equal(cidr_format(&c, buf, sizeof(buf)), cases[i].out);
	}
}

static void test_maxlen_per_family(void **state)
{
	(void)state;
	assert_int_equal(cidr_maxlen(SLUICE_AF_INET), 32);
	assert_int_equal(cidr_maxlen(SLUICE_AF_INET6), 128);
}

static void test_lpm_v4_round_trip(void **state)
{
	struct sluice_lpm_v4 k;
	const char *why;
	struct cidr c, back;

	(void)state;
	assert_int_equal(cidr_parse("192.0.2.0/24", &c, &why), 0);
	cidr_to_lpm_v4(&c, &k);
	assert_int_equal(k.prefixlen, 24);
	assert_int_equal(k.addr, htonl(0xc0000200));
	cidr_from_lpm_v4(&k, &back);
	assert_memory_equal(&back, &c, sizeof(c));
}

static void test_lpm_v6_round_trip(void **state)
{
	struct sluice_lpm_v6 k;
	const char *why;
	struct cidr c, back;

	(void)state;
	assert_int_equal(cidr_parse("2001:db8:1::/48", &c, &why), 0);
	cidr_to_lpm_v6(&c, &k);
	assert_int_equal(k.prefixlen, 48);
	assert_memory_equal(k.addr, c.addr, sizeof(k.addr));
	cidr_from_lpm_v6(&k, &back);
	assert_memory_equal(&back, &c, sizeof(c));
}

static void test_from_lpm_masks_stray_key_bits(void **state)
{
	struct sluice_lpm_v4 k4 = { .prefixlen = 8, .addr = htonl(0x0a0b0c0d) };
	struct sluice_lpm_v6 k6 = { .prefixlen = 16, .addr = { htonl(0x20010db8), 1, 2, 3 } };
	char buf[CIDR_STRLEN];
	struct cidr c;

	(void)state;
	cidr_from_lpm_v4(&k4, &c);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.0.0.0/8");
	cidr_from_lpm_v6(&k6, &c);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "2001::/16");
}

static void test_from_src_v4_is_host(void **state)
{
	struct sluice_src s = { .family = SLUICE_AF_INET, .addr = { htonl(0xc0000201) } };
	char buf[CIDR_STRLEN];
	struct cidr c;

	(void)state;
	cidr_from_src(&s, 64, &c);
	assert_int_equal(c.family, SLUICE_AF_INET);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "192.0.2.1/32");
}

static void test_from_src_v6_masked_to_v6_prefix(void **state)
{
	static const struct {
		__u32 plen;
		const char *out;
	} cases[] = {
		{ 64, "2001:db8:1:2::/64" },
		{ 56, "2001:db8:1::/56" },
		{ 128, "2001:db8:1:2:3:4:5:6/128" },
	};
	struct sluice_src s = { .family = SLUICE_AF_INET6 };
	char buf[CIDR_STRLEN];
	struct cidr c;
	size_t i;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", s.addr), 1);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		cidr_from_src(&s, cases[i].plen, &c);
		assert_int_equal(c.family, SLUICE_AF_INET6);
		assert_string_equal(cidr_format(&c, buf, sizeof(buf)), cases[i].out);
	}
}

static void test_format_truncates_to_small_buffer(void **state)
{
	char buf[6];
	const char *why;
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse("10.0.0.0/8", &c, &why), 0);
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "10.0.");
}

/* A socket address as a host prefix: v4, v6, v4-mapped v6 as v4; matched against a list. */
static void test_sockaddr_in_list(void **state)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (void *)&ss;
	struct sockaddr_in6 *in6 = (void *)&ss;
	struct cidr list[2], h;
	const char *why;

	(void)state;
	assert_int_equal(cidr_parse("198.51.100.0/28", &list[0], &why), 0);
	assert_int_equal(cidr_parse("2001:db8:5::/64", &list[1], &why), 0);
	in->sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.15", &in->sin_addr);
	assert_int_equal(cidr_from_sockaddr(&ss, &h), 0);
	assert_int_equal(h.prefixlen, 32);
	assert_true(cidr_list_has(list, 2, &h));
	inet_pton(AF_INET, "198.51.100.16", &in->sin_addr);
	assert_int_equal(cidr_from_sockaddr(&ss, &h), 0);
	assert_false(cidr_list_has(list, 2, &h));

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:198.51.100.3", &in6->sin6_addr);
	assert_int_equal(cidr_from_sockaddr(&ss, &h), 0);
	assert_int_equal(h.family, SLUICE_AF_INET);
	assert_true(cidr_list_has(list, 2, &h));
	inet_pton(AF_INET6, "2001:db8:5::77", &in6->sin6_addr);
	assert_int_equal(cidr_from_sockaddr(&ss, &h), 0);
	assert_int_equal(h.prefixlen, 128);
	assert_true(cidr_list_has(list, 2, &h));
	assert_false(cidr_list_has(list, 1, &h));
	inet_pton(AF_INET6, "2001:db8:6::77", &in6->sin6_addr);
	assert_int_equal(cidr_from_sockaddr(&ss, &h), 0);
	assert_false(cidr_list_has(list, 2, &h));

	ss.ss_family = AF_UNIX;
	assert_int_equal(cidr_from_sockaddr(&ss, &h), -EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_then_format_is_canonical),
		cmocka_unit_test(test_parse_stores_network_byte_order),
		cmocka_unit_test(test_parse_refuses_bad_input_with_reason),
		cmocka_unit_test(test_parse_longest_v6_text_fits_strlen),
		cmocka_unit_test(test_mask_clears_bits_past_prefix),
		cmocka_unit_test(test_maxlen_per_family),
		cmocka_unit_test(test_lpm_v4_round_trip),
		cmocka_unit_test(test_lpm_v6_round_trip),
		cmocka_unit_test(test_from_lpm_masks_stray_key_bits),
		cmocka_unit_test(test_from_src_v4_is_host),
		cmocka_unit_test(test_from_src_v6_masked_to_v6_prefix),
		cmocka_unit_test(test_format_truncates_to_small_buffer),
		cmocka_unit_test(test_sockaddr_in_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
