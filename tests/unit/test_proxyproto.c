// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * proxyproto: one table of headers, one named test per row, each input
 * against a guard page; then every prefix of every row, which must wait
 * (0) until the byte that decides and give the row's answer from there on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw/proxyproto.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#include "guard.h"

/* pp_parse() on s[0, n) placed against a guard page */
static int parse(const char *s, size_t n, struct pp_info *info, const char **why)
{
	struct guard g;
	const char *p = guard_copy(&g, s, n);
	int ret = pp_parse(p, n, info, why);

	guard_free(&g);
	return ret;
}

struct pp_case {
	const char *name;
	const char *raw;
	size_t len;
	int want;		/* header length, 0 (a good prefix) or -errno */
	const char *why;	/* for want < 0 */
	int family;		/* for want > 0: AF_INET, AF_INET6, or 0 for local */
	const char *src, *dst;
	unsigned int sport, dport;
};

/* hdr is the header, rest the bytes after it that must not be consumed */
#define OK(name, hdr, rest, ...) \
	{ name, hdr rest, sizeof(hdr rest) - 1, sizeof(hdr) - 1, NULL, __VA_ARGS__ }
#define LOCAL(name, hdr, rest)	OK(name, hdr, rest, 0)
#define MORE(name, raw)		{ name, raw, sizeof(raw) - 1, 0 }
#define NO(name, raw, err, why)	{ name, raw, sizeof(raw) - 1, err, why }

#define V1(s)	"PROXY v1: " s
#define V2(s)	"PROXY v2: " s
#define NOT_PP	"PROXY: neither the v1 nor the v2 signature"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"
/* 192.0.2.1:12345 -> 198.51.100.2:443 */
#define IN4	"\xc0\x00\x02\x01" "\xc6\x33\x64\x02" "\x30\x39" "\x01\xbb"
/* [2001:db8::1]:12345 -> [2001:db8::2]:443 */
#define IN6	"\x20\x01\x0d\xb8" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x01" \
		"\x20\x01\x0d\xb8" "\0\0\0\0" "\0\0\0\0" "\0\0\0\x02" "\x30\x39" "\x01\xbb"
#define NEXT	"GET / HTTP/1.1\r\n"

static const struct pp_case cases[] = {
	/* v1, taken */
	OK("v1_tcp4_is_read_and_the_request_after_it_left", "PROXY TCP4 192.0.2.1 198.51.100.2 12345 443\r\n",
	   NEXT, AF_INET, "192.0.2.1", "198.51.100.2", 12345, 443),
	OK("v1_tcp6_is_read", "PROXY TCP6 2001:db8::1 2001:db8::2 12345 443\r\n", "",
	   AF_INET6, "2001:db8::1", "2001:db8::2", 12345, 443),
	OK("v1_tcp6_with_ipv4_tail_is_read", "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", NEXT,
	   AF_INET6, "::ffff:192.0.2.1", "::1", 1, 2),
	OK("v1_ports_0_and_65535_are_taken", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", "",
	   AF_INET, "0.0.0.0", "255.255.255.255", 0, 65535),
	OK("v1_tcp6_longest_plain_line_is_taken",
	   "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
	   " 65535 65535\r\n", "", AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535),
	LOCAL("v1_unknown_alone_is_local", "PROXY UNKNOWN\r\n", NEXT),
	LOCAL("v1_unknown_ignores_the_rest_of_its_line",
	      "PROXY UNKNOWN ffff::1 what\tever 99999 \x01\r\n", NEXT),

	/* v1, waiting */
	MORE("v1_signature_cut_waits", "PROX"),
	MORE("v1_protocol_cut_waits", "PROXY TC"),
	MORE("v1_ipv4_cut_after_a_dot_waits", "PROXY TCP4 1.2."),
	MORE("v1_ipv6_cut_after_a_colon_waits", "PROXY TCP6 fe80:"),
	MORE("v1_port_cut_waits", "PROXY TCP4 1.2.3.4 5.6.7.8 6553"),
	MORE("v1_cut_between_cr_and_lf_waits", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"),

	/* v1, refused */
	NO("v1_source_port_above_65535_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n", -EINVAL,
	   V1("source port out of range (0-65535)")),
	NO("v1_destination_port_65536_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n", -EINVAL,
	   V1("destination port out of range (0-65535)")),
	NO("v1_port_out_of_range_is_refused_before_the_line_ends", "PROXY TCP4 1.2.3.4 5.6.7.8 80 70000",
	   -EINVAL, V1("destination port out of range (0-65535)")),
	NO("v1_port_with_leading_zero_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 0123 80\r\n", -EINVAL,
	   V1("source port is not plain decimal (no sign, no leading zero)")),
	NO("v1_port_with_plus_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 80\r\n", -EINVAL,
	   V1("source port is not plain decimal (no sign, no leading zero)")),
	NO("v1_port_with_minus_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 80 -1\r\n", -EINVAL,
	   V1("destination port is not plain decimal (no sign, no leading zero)")),
	NO("v1_port_in_hex_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 80 8a\r\n", -EINVAL,
	   V1("destination port is not plain decimal (no sign, no leading zero)")),
	NO("v1_ipv4_octet_above_255_is_einval", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("source address is not IPv4")),
	NO("v1_ipv4_bad_octet_is_refused_at_its_digit", "PROXY TCP4 1.2.3.456", -EINVAL,
	   V1("source address is not IPv4")),
	NO("v1_ipv4_of_three_parts_is_einval", "PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n", -EINVAL,
	   V1("destination address is not IPv4")),
	NO("v1_ipv4_with_leading_zero_is_einval", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("source address is not IPv4")),
	NO("v1_ipv6_with_two_double_colons_is_einval", "PROXY TCP6 1::2::3 ::1 1 2\r\n", -EINVAL,
	   V1("source address is not IPv6")),
	NO("v1_ipv6_group_of_five_digits_is_einval", "PROXY TCP6 ::1 12345:: 1 2\r\n", -EINVAL,
	   V1("destination address is not IPv6")),
	NO("v1_address_with_nul_is_einval", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("source address is not IPv4")),
	NO("v1_ipv6_under_tcp4_is_einval", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("source address is not IPv4")),
	NO("v1_ipv4_under_tcp6_is_einval", "PROXY TCP6 ::1 192.0.2.1 1 2\r\n", -EINVAL,
	   V1("destination address is not IPv6")),
	NO("v1_lf_without_cr_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", -EINVAL,
	   V1("LF without CR")),
	NO("v1_cr_without_lf_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", -EINVAL,
	   V1("CR not followed by LF")),
	NO("v1_unknown_with_bare_lf_is_einval", "PROXY UNKNOWN a\nb\r\n", -EINVAL,
	   V1("LF without CR")),
	NO("v1_unknown_with_bare_cr_is_einval", "PROXY UNKNOWN a\rb\r\n", -EINVAL,
	   V1("CR not followed by LF")),
	NO("v1_two_spaces_is_einval", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("no source address")),
	NO("v1_line_ending_before_a_port_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", -EINVAL,
	   V1("no destination port")),
	NO("v1_tcp4_alone_is_einval", "PROXY TCP4\r\n", -EINVAL, V1("no source address")),
	NO("v1_space_after_the_last_port_is_einval", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", -EINVAL,
	   V1("more after the destination port")),
	NO("v1_unknown_protocol_is_einval", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("protocol is not TCP4, TCP6 or UNKNOWN")),
	NO("v1_lowercase_protocol_is_einval", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", -EINVAL,
	   V1("protocol is not TCP4, TCP6 or UNKNOWN")),
	NO("v1_unknown_run_on_is_einval", "PROXY UNKNOWNX\r\n", -EINVAL,
	   V1("protocol is not TCP4, TCP6 or UNKNOWN")),
	NO("v1_tcp6_line_past_107_bytes_is_e2big",
	   "PROXY TCP6 0000:0000:0000:0000:0000:ffff:255.255.255.255"
	   " 0000:0000:0000:0000:0000:ffff:255.255.255.255 65535 65535\r\n", -E2BIG,
	   V1("no CRLF in the first 107 bytes")),

	/* v2, taken */
	OK("v2_ipv4_is_read_and_the_request_after_it_left", SIG "\x21\x11\x00\x0c" IN4, NEXT,
	   AF_INET, "192.0.2.1", "198.51.100.2", 12345, 443),
	OK("v2_ipv6_is_read", SIG "\x21\x21\x00\x24" IN6, NEXT,
	   AF_INET6, "2001:db8::1", "2001:db8::2", 12345, 443),
	OK("v2_tlvs_after_the_addresses_are_skipped",
	   SIG "\x21\x11\x00\x14" IN4 "\x01\x00\x02" "h2" "\x04\x00\x00", NEXT,
	   AF_INET, "192.0.2.1", "198.51.100.2", 12345, 443),
	LOCAL("v2_local_is_local", SIG "\x20\x00\x00\x00", NEXT),
	LOCAL("v2_local_ignores_family_and_block", SIG "\x20\x12\x00\x03" "\xff\xff\xff", NEXT),
	LOCAL("v2_unspec_is_local", SIG "\x21\x00\x00\x00", NEXT),
	LOCAL("v2_unspec_with_a_tlv_is_local", SIG "\x21\x00\x00\x04" "\xee\x00\x01" "x", ""),

	/* v2, waiting */
	MORE("v2_signature_cut_waits", "\r\n\r\n\0\r"),
	MORE("v2_fixed_part_cut_waits", SIG "\x21\x11\x00"),
	MORE("v2_addresses_cut_waits", SIG "\x21\x11\x00\x0c" "\xc0\x00\x02"),
	MORE("v2_tlv_value_cut_waits", SIG "\x21\x11\x00\x14" IN4 "\x01\x00\x02" "h"),

	/* v2, refused */
	NO("v2_version_1_is_einval", SIG "\x11\x11\x00\x0c" IN4, -EINVAL, V2("version is not 2")),
	NO("v2_version_3_is_einval", SIG "\x31\x11\x00\x0c" IN4, -EINVAL, V2("version is not 2")),
	NO("v2_command_2_is_einval", SIG "\x22\x11\x00\x0c" IN4, -EINVAL,
	   V2("command is not LOCAL or PROXY")),
	NO("v2_tcp_over_ipv4_dgram_is_einval", SIG "\x21\x12\x00\x0c" IN4, -EINVAL,
	   V2("DGRAM transport not carried (TCP only)")),
	NO("v2_ipv6_dgram_is_einval", SIG "\x21\x22\x00\x24" IN6, -EINVAL,
	   V2("DGRAM transport not carried (TCP only)")),
	NO("v2_unix_dgram_is_einval", SIG "\x21\x32\x00\x00", -EINVAL,
	   V2("DGRAM transport not carried (TCP only)")),
	NO("v2_unknown_family_is_einval", SIG "\x21\x41\x00\x00", -EINVAL,
	   V2("address family or transport unknown")),
	NO("v2_unknown_transport_is_einval", SIG "\x21\x13\x00\x0c" IN4, -EINVAL,
	   V2("address family or transport unknown")),
	NO("v2_ipv4_length_short_of_addresses_is_einval", SIG "\x21\x11\x00\x0b" IN4, -EINVAL,
	   V2("length too short for the addresses")),
	NO("v2_ipv6_length_of_ipv4_block_is_einval", SIG "\x21\x21\x00\x0c" IN4, -EINVAL,
	   V2("length too short for the addresses")),
	NO("v2_tlv_header_cut_by_the_length_is_einval", SIG "\x21\x11\x00\x0e" IN4 "\x01\x00", -EINVAL,
	   V2("TLV header cut by the length")),
	NO("v2_tlv_value_past_the_length_is_einval", SIG "\x21\x11\x00\x10" IN4 "\x01\x00\x05" "h",
	   -EINVAL, V2("TLV value past the length")),
	NO("v2_second_tlv_past_the_length_is_einval",
	   SIG "\x21\x11\x00\x14" IN4 "\x01\x00\x00" "\x02\x00\x03" "ab", -EINVAL,
	   V2("TLV value past the length")),
	NO("v2_length_above_max_is_e2big_at_once", SIG "\x21\x11\x0f\xf1", -E2BIG,
	   V2("header longer than 4096 bytes")),

	/* neither */
	NO("http_request_is_eproto", "GET / HTTP/1.1\r\n", -EPROTO, NOT_PP),
	NO("proxy_without_space_is_eproto", "PROXYTCP4", -EPROTO, NOT_PP),
	NO("lowercase_proxy_is_eproto", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", -EPROTO, NOT_PP),
	NO("v2_signature_gone_wrong_is_eproto", "\r\n\r\n\0\r\nQUIZ", -EPROTO, NOT_PP),
	NO("crlf_alone_then_text_is_eproto", "\r\nGET", -EPROTO, NOT_PP),
};

/* info as the row wants it */
static void check_info(const struct pp_case *c, const struct pp_info *info)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	const void *sa, *da;
	unsigned int sp, dp;

	if (!c->family) {
		assert_true(info->local);
		assert_int_equal(info->src.ss_family, AF_UNSPEC);
		assert_int_equal(info->dst.ss_family, AF_UNSPEC);
		return;
	}
	assert_false(info->local);
	assert_int_equal(info->src.ss_family, c->family);
	assert_int_equal(info->dst.ss_family, c->family);
	if (c->family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&info->src, *d = (const void *)&info->dst;

		sa = &s->sin_addr;
		da = &d->sin_addr;
		sp = ntohs(s->sin_port);
		dp = ntohs(d->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)&info->src, *d = (const void *)&info->dst;

		sa = &s->sin6_addr;
		da = &d->sin6_addr;
		sp = ntohs(s->sin6_port);
		dp = ntohs(d->sin6_port);
	}
	assert_non_null(inet_ntop(c->family, sa, src, sizeof(src)));
	assert_non_null(inet_ntop(c->family, da, dst, sizeof(dst)));
	assert_string_equal(src, c->src);
	assert_string_equal(dst, c->dst);
	assert_int_equal(sp, c->sport);
	assert_int_equal(dp, c->dport);
}

static void run_case(void **state)
{
	const struct pp_case *c = *state;
	struct pp_info info, untouched;
	const char *why = NULL;
	int ret;

	memset(&info, 0xa5, sizeof(info));
	untouched = info;
	ret = parse(c->raw, c->len, &info, &why);
	if (ret != c->want)
		fail_msg("%s: got %d (%s), want %d", c->name, ret, ret < 0 && why ? why : "", c->want);
	if (ret > 0) {
		check_info(c, &info);
		return;
	}
	assert_memory_equal(&info, &untouched, sizeof(info));
	if (ret < 0) {
		assert_non_null(why);
		assert_string_equal(why, c->why);
	}
}

/*
 * Each prefix of each row: 0 until the byte that decides, then the row's
 * answer (the same length, or the same error and reason) for every longer
 * prefix, the bytes after a header changing nothing.
 */
static void test_every_prefix_waits_then_gives_the_row_s_answer(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct pp_case *c = &cases[i];
		bool decided = false;

		for (k = 0; k <= c->len; k++) {
			struct pp_info info;
			const char *why = NULL;
			int ret = parse(c->raw, k, &info, &why);

			if (!decided && ret == 0)
				continue;
			decided = true;
			if (ret != c->want || (ret < 0 && strcmp(why, c->why)))
				fail_msg("%s: %zu of %zu bytes gave %d (%s), want %d", c->name, k,
					 c->len, ret, ret < 0 ? why : "", c->want);
			if (c->want > 0 && k < (size_t)c->want)
				fail_msg("%s: %zu of %zu bytes gave %d before the header ended",
					 c->name, k, c->len, ret);
		}
		if (!decided && c->want)
			fail_msg("%s: every prefix waited", c->name);
	}
}

/* Every prefix of a TCP6 line waits, whatever text form its address takes. */
static void test_every_prefix_of_each_address_form_waits(void **state)
{
	static const char *const v6[] = {
		"::", "::1", "1::", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8",
		"1::2:3:4:5:6:7", "fe80::1:2", "ABCD:ef01::", "::ffff:1.2.3.4",
		"1:2:3:4:5:6:255.255.255.255", "::1.2.3.4", "0:0:0:0:0:0:0:0",
	};
	static const char *const v4[] = { "0.0.0.0", "255.255.255.255", "10.0.0.1", "1.22.133.4" };
	char line[256];
	size_t i, k, n;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(v6) + ARRAY_SIZE(v4); i++) {
		bool six = i < ARRAY_SIZE(v6);
		const char *a = six ? v6[i] : v4[i - ARRAY_SIZE(v6)];
		struct pp_info info;
		const char *why = NULL;

		n = (size_t)snprintf(line, sizeof(line), "PROXY TCP%c %s %s 1 2\r\n", six ? '6' : '4',
				     a, a);
		for (k = 0; k < n; k++)
			if (parse(line, k, &info, &why) != 0)
				fail_msg("%s: %zu bytes refused: %s", a, k, why);
		assert_int_equal(parse(line, n, &info, &why), (int)n);
	}
}

/* "PROXY UNKNOWN " padded with 'p' to n bytes, then end (a few bytes) */
static size_t unknown_line(char *s, size_t n, const char *end)
{
	size_t e = strlen(end);

	memcpy(s, "PROXY UNKNOWN ", 14);
	memset(s + 14, 'p', n - 14 - e);
	memcpy(s + n - e, end, e);
	return n;
}

static void test_v1_line_of_107_bytes_is_taken_and_108_is_e2big(void **state)
{
	struct pp_info info;
	const char *why = NULL;
	char s[200];

	(void)state;
	assert_int_equal(parse(s, unknown_line(s, 107, "\r\n"), &info, &why), 107);
	assert_true(info.local);
	assert_int_equal(parse(s, unknown_line(s, 108, "\r\n"), &info, &why), -E2BIG);
	assert_string_equal(why, "PROXY v1: no CRLF in the first 107 bytes");
	/* 107 bytes without the LF: the line could only be 108 or longer */
	assert_int_equal(parse(s, unknown_line(s, 107, "\r"), &info, &why), -E2BIG);
	assert_int_equal(parse(s, unknown_line(s, 106, "\r"), &info, &why), 0);
	assert_int_equal(parse(s, unknown_line(s, 106, ""), &info, &why), 0);
	assert_int_equal(parse(s, unknown_line(s, 107, ""), &info, &why), -E2BIG);
	assert_int_equal(parse(s, unknown_line(s, 200, ""), &info, &why), -E2BIG);
}

/* A v2 header: signature, ver/cmd, family, then block[0, n) as its length. */
static size_t v2_header(unsigned char *s, unsigned char ver_cmd, unsigned char fam,
			const unsigned char *block, size_t n)
{
	memcpy(s, SIG, 12);
	s[12] = ver_cmd;
	s[13] = fam;
	s[14] = n >> 8;
	s[15] = n & 0xff;
	memcpy(s + 16, block, n);
	return 16 + n;
}

static void test_v2_unix_stream_is_local(void **state)
{
	unsigned char block[216 + 4] = { 0 }, s[300];
	struct pp_info info;
	const char *why = NULL;
	size_t n;

	(void)state;
	memcpy(block, "/run/a.sock", 11);
	n = v2_header(s, 0x21, 0x31, block, 216);
	assert_int_equal(parse((char *)s, n, &info, &why), 216 + 16);
	assert_true(info.local);
	assert_int_equal(parse((char *)s, n - 1, &info, &why), 0);

	/* with a NOOP TLV of one byte after the two paths */
	memcpy(block + 216, "\x04\x00\x01" "z", 4);
	n = v2_header(s, 0x21, 0x31, block, sizeof(block));
	assert_int_equal(parse((char *)s, n, &info, &why), (int)n);
	assert_true(info.local);

	n = v2_header(s, 0x21, 0x31, block, 215);
	assert_int_equal(parse((char *)s, n, &info, &why), -EINVAL);
	assert_string_equal(why, "PROXY v2: length too short for the addresses");
}

static void test_v2_header_of_PP_MAX_HEADER_is_taken_and_one_more_is_e2big(void **state)
{
	static unsigned char block[PP_MAX_HEADER], s[PP_MAX_HEADER + 64];
	size_t hlen = PP_MAX_HEADER - 16, tlv = hlen - 12 - 3;
	struct pp_info info;
	const char *why = NULL;
	size_t n;

	(void)state;
	memcpy(block, IN4, 12);
	block[12] = 0x04;	/* NOOP filling the rest */
	block[13] = tlv >> 8;
	block[14] = tlv & 0xff;
	n = v2_header(s, 0x21, 0x11, block, hlen);
	assert_int_equal(n, PP_MAX_HEADER);
	assert_int_equal(parse((char *)s, n, &info, &why), PP_MAX_HEADER);
	assert_false(info.local);
	assert_int_equal(ntohs(((struct sockaddr_in *)&info.dst)->sin_port), 443);

	tlv++;
	block[13] = tlv >> 8;
	block[14] = tlv & 0xff;
	n = v2_header(s, 0x21, 0x11, block, hlen + 1);
	assert_int_equal(parse((char *)s, n, &info, &why), -E2BIG);
	assert_string_equal(why, "PROXY v2: header longer than 4096 bytes");
	assert_int_equal(parse((char *)s, 16, &info, &why), -E2BIG);
}

static void test_v2_largest_length_is_e2big_not_overflow(void **state)
{
	struct pp_info info;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse(SIG "\x21\x11\xff\xff", 16, &info, &why), -E2BIG);
	assert_int_equal(parse(SIG "\x20\x00\xff\xff", 16, &info, &why), -E2BIG);
}

static void test_empty_input_waits(void **state)
{
	struct pp_info info;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse("", 0, &info, &why), 0);
}

#define T(f)	cmocka_unit_test(f)

static const struct CMUnitTest fixed_tests[] = {
	T(test_every_prefix_waits_then_gives_the_row_s_answer),
	T(test_every_prefix_of_each_address_form_waits),
	T(test_v1_line_of_107_bytes_is_taken_and_108_is_e2big),
	T(test_v2_unix_stream_is_local),
	T(test_v2_header_of_PP_MAX_HEADER_is_taken_and_one_more_is_e2big),
	T(test_v2_largest_length_is_e2big_not_overflow),
	T(test_empty_input_waits),
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
		tests[n++] = (struct CMUnitTest){ .name = cases[i].name,
						  .test_func = run_case,
						  .initial_state = (void *)&cases[i] };
	for (i = 0; i < nfixed; i++)
		tests[n++] = fixed_tests[i];
	ret = _cmocka_run_group_tests("proxyproto", tests, n, NULL, NULL);
	free(tests);
	return ret;
}
