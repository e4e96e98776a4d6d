// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pii: the detector table, each validator on true positives and near
 * misses (every input, and every prefix of it, placed against a guard
 * page), the edge rules, the PEM extent, and all patterns compiled into one
 * Hyperscan database and run over a sample the way the gateway runs them.
 *
 * Tokens are assembled at run time (checksums computed here, bodies from a
 * fixed generator), so no string in this file is a credential a secret
 * scanner would stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <hs/hs.h>

#include "guard.h"
#include "lib/pii.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Helpers: tokens built here, independently of pii.c */

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* CRC-32 by the table method (pii.c goes bit by bit), as zlib's crc32(). */
static uint32_t ref_crc32(const char *s, size_t n)
{
	uint32_t table[256], c;
	size_t i;
	int k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320 ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	c = 0xffffffff;
	for (i = 0; i < n; i++)
		c = table[(c ^ (unsigned char)s[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffff;
}

/* v in base62, six digits, zero-padded. */
static void ref_base62_6(uint32_t v, char out[7])
{
	int i;

	for (i = 5; i >= 0; i--) {
		out[i] = b62[v % 62];
		v /= 62;
	}
	out[6] = '\0';
}

/* prefix ("ghp_") + 30 random characters + their checksum. */
static void gh_token(char *out, size_t cap, const char *prefix, const char *random30)
{
	char sum[7];

	assert_int_equal(strlen(random30), 30);
	ref_base62_6(ref_crc32(random30, 30), sum);
	snprintf(out, cap, "%s%s%s", prefix, random30, sum);
}

/* n characters of `alphabet`, from a fixed linear congruential sequence. */
static void gen(char *out, size_t n, unsigned int seed, const char *alphabet)
{
	size_t na = strlen(alphabet), i;
	uint32_t x = seed;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		out[i] = alphabet[(x >> 16) % na];
	}
	out[n] = '\0';
}

static size_t b64url(const char *in, char *out)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(in), i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)(unsigned char)in[i] << 16 | (uint32_t)(unsigned char)in[i + 1] << 8 |
		    (unsigned char)in[i + 2];
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)(unsigned char)in[i] << 16;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)(unsigned char)in[i] << 16 | (uint32_t)(unsigned char)in[i + 1] << 8;
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

#define JWT_PAYLOAD	"{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}"
#define JWT_SIG		"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

static void jwt_make(char *out, const char *hdr, const char *payload, const char *sig)
{
	size_t o = b64url(hdr, out);

	out[o++] = '.';
	o += b64url(payload, out + o);
	out[o++] = '.';
	strcpy(out + o, sig);
}

struct vcase {
	const char *s;
	bool ok;
};

/*
 * Each case against a guard page, with its verdict checked; then every
 * prefix of it, verdict unchecked: a validator that reads past its length
 * faults.
 */
static void check_cases(const char *what, bool (*fn)(const char *, size_t),
			const struct vcase *c, size_t n)
{
	struct guard g;
	const char *p;
	size_t i, k, len;
	bool got;

	for (i = 0; i < n; i++) {
		len = strlen(c[i].s);
		p = guard_copy(&g, c[i].s, len);
		got = fn(p, len);
		guard_free(&g);
		if (got != c[i].ok)
			fail_msg("%s(\"%s\") = %d, want %d", what, c[i].s, got, c[i].ok);
		for (k = 0; k < len; k++) {
			p = guard_copy(&g, c[i].s, k);
			(void)fn(p, k);
			guard_free(&g);
		}
	}
}

#define CHECK(fn, cases)	check_cases(#fn, fn, cases, ARRAY_SIZE(cases))

/* The table */

static void test_table_names_entities_and_secret_flags(void **state)
{
	static const struct {
		int kind;
		const char *name, *entity;
		bool secret;
	} want[] = {
		{ PII_EMAIL, "email", "EMAIL", false },
		{ PII_PHONE, "phone", "PHONE", false },
		{ PII_CARD, "card", "CARD", false },
		{ PII_SSN, "ssn", "SSN", false },
		{ PII_IBAN, "iban", "IBAN", false },
		{ PII_IPV4, "ipv4", "IP", false },
		{ PII_IPV6, "ipv6", "IP", false },
		{ PII_AWS_ACCESS_KEY, "aws_access_key", "AWS_KEY", true },
		{ PII_AWS_SECRET_KEY, "aws_secret_key", "AWS_SECRET", true },
		{ PII_GITHUB_TOKEN, "github_token", "GITHUB_TOKEN", true },
		{ PII_SLACK_TOKEN, "slack_token", "SLACK_TOKEN", true },
		{ PII_OPENAI_KEY, "openai_key", "OPENAI_KEY", true },
		{ PII_ANTHROPIC_KEY, "anthropic_key", "ANTHROPIC_KEY", true },
		{ PII_JWT, "jwt", "JWT", true },
		{ PII_PEM_PRIVATE_KEY, "pem_private_key", "PRIVATE_KEY", true },
	};
	const struct pii_detector *d;
	size_t i;

	(void)state;
	assert_int_equal(ARRAY_SIZE(want), PII_NKINDS);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		d = &pii_detectors[want[i].kind];
		assert_string_equal(d->name, want[i].name);
		assert_string_equal(d->entity, want[i].entity);
		assert_int_equal(d->secret, want[i].secret);
		assert_non_null(d->regex);
		assert_int_equal(pii_kind_by_name(want[i].name), want[i].kind);
		/* only the PEM header needs no validator: pii_pem_extent() stands in */
		assert_int_equal(d->valid == NULL, want[i].kind == PII_PEM_PRIVATE_KEY);
	}
}

static void test_kind_by_name_refuses_unknown(void **state)
{
	(void)state;
	assert_int_equal(pii_kind_by_name("Email"), -1);
	assert_int_equal(pii_kind_by_name("ip"), -1);
	assert_int_equal(pii_kind_by_name(""), -1);
	assert_int_equal(pii_kind_by_name("emails"), -1);
	assert_int_equal(pii_kind_by_name(NULL), -1);
}

/* Cards */

static void test_luhn(void **state)
{
	static const struct vcase cases[] = {
		{ "4111111111111111", true },
		{ "79927398713", true },
		{ "0", true },
		{ "18", true },
		{ "4111111111111112", false },
		{ "79927398710", false },
		{ "4111-1111", false },		/* digits only */
		{ "", false },
	};

	(void)state;
	CHECK(pii_luhn, cases);
}

static void test_card_accepts_each_brand_and_grouping(void **state)
{
	static const struct vcase cases[] = {
		{ "4111111111111111", true },		/* Visa 16 */
		{ "4012888888881881", true },
		{ "4222222222222", true },		/* Visa 13 */
		{ "4111111111111111110", true },	/* Visa 19 */
		{ "5555555555554444", true },		/* Mastercard 51-55 */
		{ "5105105105105100", true },
		{ "2221000000000009", true },		/* Mastercard 2221-2720 */
		{ "2720990000000007", true },
		{ "378282246310005", true },		/* Amex */
		{ "371449635398431", true },
		{ "6011111111111117", true },		/* Discover */
		{ "6011000990139424", true },
		{ "6440000000000005", true },
		{ "6500000000000002", true },
		{ "3530111333300000", true },		/* JCB */
		{ "3566002020360505", true },
		{ "30569309025904", true },		/* Diners 14 */
		{ "38520000023237", true },
		{ "6200000000000005", true },		/* UnionPay */
		{ "6212345678901234569", true },	/* UnionPay 19 */
		{ "6759649826438453", true },		/* Maestro */
		{ "5018000000000009", true },
		{ "5893000000003", true },		/* Maestro 13 */
		{ "4111 1111 1111 1111", true },
		{ "4111-1111-1111-1111", true },
		{ "3782 822463 10005", true },		/* Amex as printed */
		{ "3056 930902 5904", true },		/* Diners as printed */
		{ "4111 1111 1111 1111 110", true },
		{ "4222 2222 2222 2", true },
	};

	(void)state;
	CHECK(pii_card_valid, cases);
}

static void test_card_refuses_near_misses(void **state)
{
	static const struct vcase cases[] = {
		{ "4111111111111112", false },		/* Luhn */
		{ "4111 1111 1111 1112", false },
		{ "1234567890123452", false },		/* Luhn fine, no brand */
		{ "9000000000000001", false },
		{ "8888888888888888", false },
		{ "0000000000000000", false },
		{ "3782822463100003", false },		/* Amex of 16 */
		{ "520000000000001", false },		/* Mastercard of 15 */
		{ "41111111111114", false },		/* Visa of 14 */
		{ "411111111111111118", false },	/* Visa of 18 */
		{ "35301113333000", false },		/* JCB of 14 */
		{ "60110000000004", false },		/* Discover of 14 */
		{ "2721000000000008", false },		/* past Mastercard's 2720 */
		{ "411111111111", false },		/* 12 digits */
		{ "41111111111111111111", false },	/* 20 digits */
		{ "4111 1111-1111 1111", false },	/* mixed separators */
		{ "4111  1111 1111 1111", false },	/* doubled */
		{ "41111 111 1111 1111", false },	/* not a card's grouping */
		{ "411 1111 1111 11111", false },
		{ "4111 1111 1111 1111 ", false },
		{ " 4111 1111 1111 1111", false },
		{ "4111.1111.1111.1111", false },
		{ "4111111111111111x", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_card_valid, cases);
}

/* SSN */

static void test_ssn(void **state)
{
	static const struct vcase cases[] = {
		{ "536-22-1234", true },
		{ "536 22 1234", true },
		{ "536221234", true },
		{ "001-01-0001", true },
		{ "665-99-9999", true },
		{ "899-12-3456", true },
		{ "000-12-3456", false },		/* area 000 */
		{ "666-12-3456", false },		/* area 666 */
		{ "900-12-3456", false },		/* area 9xx */
		{ "999-12-3456", false },
		{ "987-65-4321", false },
		{ "536-00-1234", false },		/* group 00 */
		{ "536-22-0000", false },		/* serial 0000 */
		{ "078-05-1120", false },		/* Woolworth's wallet card */
		{ "219-09-9999", false },
		{ "123-45-6789", false },
		{ "123456789", false },
		{ "536-22 1234", false },		/* mixed separators */
		{ "536.22.1234", false },
		{ "5362-2-1234", false },
		{ "53622123", false },
		{ "5362212345", false },
		{ "536-2a-1234", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_ssn_valid, cases);
}

/* IBAN */

static void test_iban_accepts_registry_countries(void **state)
{
	static const struct vcase cases[] = {
		{ "DE89370400440532013000", true },
		{ "DE89 3704 0044 0532 0130 00", true },
		{ "de89 3704 0044 0532 0130 00", true },	/* letters in either case */
		{ "GB82WEST12345698765432", true },
		{ "GB82 WEST 1234 5698 7654 32", true },
		{ "gb82 West 1234 5698 7654 32", true },
		{ "FR1420041010050500013M02606", true },
		{ "NL91ABNA0417164300", true },
		{ "BE68539007547034", true },
		{ "CH9300762011623852957", true },
		{ "NO9386011117947", true },		/* shortest, 15 */
		{ "ES9121000418450200051332", true },
		{ "IT60X0542811101000000123456", true },
		{ "MT84MALT011000012345MTLCAST001S", true },
		{ "SA0380000000608010167519", true },
		{ "LC55HEMM000100010012001200023015", true },
		{ "RU0304452522540817810538091310419", true },	/* longest, 33 */
	};

	(void)state;
	CHECK(pii_iban_valid, cases);
}

static void test_iban_refuses_near_misses(void **state)
{
	static const struct vcase cases[] = {
		{ "DE89370400440532013001", false },	/* one digit changed */
		{ "DE89 3704 0044 0532 0130 01", false },
		{ "GB82WEST12345698765433", false },
		{ "DE88370400440532013000", false },	/* check digits changed */
		{ "DE863704004405320130", false },	/* mod-97 fine, DE is 22 not 20 */
		{ "DE08ABNA0417164300", false },	/* a Dutch BBAN under DE */
		{ "XX46370400440532013000", false },	/* mod-97 fine, no such country */
		{ "NO0186011100009", false },		/* mod-97 fine, check digits 01 */
		{ "NO9986011100088", false },		/* and 99 */
		{ "DE89 3704 0044 0532 013 000", false },	/* groups not of four */
		{ "DE893704 0044 0532 0130 00", false },
		{ "DE89  3704 0044 0532 0130 00", false },
		{ "DE89 3704 0044 0532 0130 00 ", false },
		{ "DE89-3704-0044-0532-0130-00", false },
		{ "1E89370400440532013000", false },
		{ "D589370400440532013000", false },
		{ "DEX9370400440532013000", false },
		{ "DE89370400440532013000DE89370400440", false },	/* past 34 */
		{ "DE8937040044", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_iban_valid, cases);
}

/* IP addresses */

static void test_ipv4(void **state)
{
	static const struct vcase cases[] = {
		{ "192.168.1.20", true },
		{ "10.0.0.1", true },
		{ "0.0.0.0", true },
		{ "255.255.255.255", true },
		{ "8.8.8.8", true },
		{ "256.1.1.1", false },
		{ "1.1.1.256", false },
		{ "01.2.3.4", false },			/* leading zero */
		{ "1.2.3.04", false },
		{ "1.2.3.000", false },
		{ "1.2.3", false },
		{ "1.2.3.4.5", false },
		{ "1.2.3.", false },
		{ ".1.2.3", false },
		{ "1..2.3", false },
		{ "1.2.3.4 ", false },
		{ "1111.2.3.4", false },
		{ "1.2.3.4a", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_ipv4_valid, cases);
}

static void test_ipv6(void **state)
{
	static const struct vcase cases[] = {
		{ "2001:db8::1", true },
		{ "2001:DB8::1", true },
		{ "2001:0db8:85a3:0000:0000:8a2e:0370:7334", true },
		{ "2001:db8::8a2e:370:7334", true },
		{ "fe80::1ff:fe23:4567:890a", true },
		{ "::ffff:192.0.2.128", true },
		{ "64:ff9b::192.0.2.33", true },
		{ "2001:db8::", true },
		{ "::1:2", true },
		{ "1:2:3:4:5:6:7:8", true },
		{ "1:2:3:4:5:6:1.2.3.4", true },
		{ "::", false },			/* alone */
		{ "::1", false },			/* one group */
		{ "1::", false },
		{ "12:30:45", false },			/* a time */
		{ "00:1a:2b:3c:4d:5e", false },		/* a MAC */
		{ "1:2:3:4:5:6:7:8:9", false },
		{ "2001:db8:::1", false },
		{ "2001:db8::1::2", false },
		{ "gggg::1", false },
		{ "12345::1", false },
		{ "fe80::1%eth0", false },
		{ "::ffff:256.0.2.128", false },
		{ "2001:0db8:85a3:0000:0000:8a2e:0370:7334:0000:0000:0000", false },	/* too long to copy */
		{ "", false },
	};

	(void)state;
	CHECK(pii_ipv6_valid, cases);
}

/* Phone numbers */

static void test_phone_accepts_e164_nanp_and_national(void **state)
{
	static const struct vcase cases[] = {
		{ "+1 415 555 2671", true },
		{ "+14155552671", true },		/* E.164 needs no separator */
		{ "+1-415-555-2671", true },
		{ "+1 (415) 555-2671", true },
		{ "+44 20 7946 0958", true },
		{ "+44 (0)20 7946 0958", true },
		{ "+33 6 12 34 56 78", true },
		{ "+49-30-1234567", true },
		{ "+49.30.1234567", true },
		{ "+81 3-1234-5678", true },
		{ "+12345678", true },			/* 8 digits */
		{ "+123456789012345", true },		/* 15 digits */
		{ "(415) 555-2671", true },
		{ "(415)555-2671", true },
		{ "415-555-2671", true },
		{ "415.555.2671", true },
		{ "415 555 2671", true },
		{ "1-800-555-0199", true },
		{ "1 (800) 555-0199", true },
		{ "020 7946 0958", true },
		{ "06 12 34 56 78", true },
		{ "030 12345678", true },
		{ "(030) 1234567", true },
		{ "089-123-4567", true },
	};

	(void)state;
	CHECK(pii_phone_valid, cases);
}

static void test_phone_refuses_dates_bare_runs_and_bad_lengths(void **state)
{
	static const struct vcase cases[] = {
		{ "2024-01-15", false },		/* dates */
		{ "15.01.2024", false },
		{ "01-15-2024", false },
		{ "2024-01-15 12", false },
		{ "4155552671", false },		/* bare run, no '+' */
		{ "02079460958", false },
		{ "14155552671", false },
		{ "+1234567", false },			/* 7 digits */
		{ "+1234567890123456", false },		/* 16 digits */
		{ "+0 415 555 2671", false },		/* country code 0 */
		{ "+1 415", false },
		{ "555-1234", false },
		{ "123-456-7890", false },		/* NANP area 1xx */
		{ "415-155-2671", false },		/* NANP exchange 1xx */
		{ "415-555-267", false },
		{ "415-5552-671", false },		/* NANP shape */
		{ "415 5552671", false },
		{ "2-415-555-2671", false },
		{ "415--555-2671", false },		/* doubled separator */
		{ "415 -555-2671", false },
		{ "(415 555-2671", false },		/* unbalanced */
		{ "415) 555-2671", false },
		{ "(415) (555) 2671", false },		/* two groups in parentheses */
		{ "()415 555 2671", false },
		{ "415-555-2671-", false },
		{ "-415-555-2671", false },
		{ "+ 1 415 555 2671", false },
		{ "0 1 2 3 4 5 6 7 8 9", false },	/* one-digit groups */
		{ "+1 4 1 5 5 5 5 2 6 7 1", false },
		{ "00 44 20 7946 0958", false },	/* 00 is an exit code, not a number */
		{ "030 1234", false },			/* national of 7 */
		{ "020 7946 0958 123", false },		/* national of 14 */
		{ "415/555/2671", false },
		{ "415-555-2671x", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_phone_valid, cases);
}

/* Email */

static void test_email(void **state)
{
	char local64[80], local65[80], label63[100], label64[100];
	struct vcase cases[] = {
		{ "john.doe@example.com", true },
		{ "JOHN.DOE@EXAMPLE.COM", true },
		{ "a+tag@sub.example.co.uk", true },
		{ "x_y%z@mail-server.example.org", true },
		{ "a@b.io", true },
		{ local64, true },
		{ label63, true },
		{ "john..doe@example.com", false },	/* '..' */
		{ ".john@example.com", false },
		{ "john.@example.com", false },
		{ "john@example", false },		/* no TLD */
		{ "john@example.c", false },		/* TLD of one */
		{ "john@example.c0m", false },		/* TLD not letters */
		{ "john@example..com", false },
		{ "john@.example.com", false },
		{ "john@example.com.", false },
		{ "john@-example.com", false },		/* leading hyphen */
		{ "john@example-.com", false },		/* trailing hyphen */
		{ "john@exa_mple.com", false },
		{ "john@@example.com", false },
		{ "john@exam@ple.com", false },
		{ "@example.com", false },
		{ "john@", false },
		{ "jo hn@example.com", false },
		{ local65, false },			/* local part of 65 */
		{ label64, false },			/* label of 64 */
		{ "", false },
	};

	(void)state;
	memset(local64, 'a', 64);
	strcpy(local64 + 64, "@example.com");
	memset(local65, 'a', 65);
	strcpy(local65 + 65, "@example.com");
	strcpy(label63, "a@");
	memset(label63 + 2, 'b', 63);
	strcpy(label63 + 65, ".com");
	strcpy(label64, "a@");
	memset(label64 + 2, 'b', 64);
	strcpy(label64 + 66, ".com");
	CHECK(pii_email_valid, cases);
}

/* JWT */

static void test_jwt(void **state)
{
	char hs256[256], none[256], ws[256], no_alg[256], open_hdr[256], not_obj[256],
	     ctl[256], extra_seg[300], bad_char[256], bad_len[256], bad_pay[256];
	struct vcase cases[] = {
		{ hs256, true },
		{ none, true },				/* alg none, empty signature */
		{ ws, true },				/* white space around the object */
		{ no_alg, false },			/* no "alg" */
		{ open_hdr, false },			/* header not JSON: unclosed */
		{ not_obj, false },			/* header not an object */
		{ ctl, false },				/* header with a control byte */
		{ extra_seg, false },			/* four segments */
		{ bad_char, false },
		{ bad_len, false },			/* a segment of 4k + 1 */
		{ bad_pay, false },			/* payload not "ey" */
		{ "eyJhbGciOiJub25lIn0", false },
		{ "eyJhbGciOiJub25lIn0.", false },
		{ ".eyJzdWIiOiIxIn0.", false },
		{ "", false },
	};
	size_t n;

	(void)state;
	jwt_make(hs256, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", JWT_PAYLOAD, JWT_SIG);
	/* the example of jwt.io, so the encoder here is right too */
	assert_string_equal(hs256, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
			    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
			    JWT_SIG);
	jwt_make(none, "{\"alg\":\"none\"}", "{\"sub\":\"x\"}", "");
	jwt_make(ws, " {\n \"typ\": \"JWT\", \"alg\": \"RS256\"\n} ", JWT_PAYLOAD, JWT_SIG);
	jwt_make(no_alg, "{\"typ\":\"JWT\"}", JWT_PAYLOAD, JWT_SIG);
	jwt_make(open_hdr, "{\"alg\":\"HS256\"", JWT_PAYLOAD, JWT_SIG);
	jwt_make(not_obj, "[\"alg\",\"HS256\"]", JWT_PAYLOAD, JWT_SIG);
	jwt_make(ctl, "{\"alg\":\"HS256\",\x01}", JWT_PAYLOAD, JWT_SIG);
	snprintf(extra_seg, sizeof(extra_seg), "%s.abc", hs256);
	jwt_make(bad_char, "{\"alg\":\"HS256\"}", JWT_PAYLOAD, "abc+def");
	jwt_make(bad_len, "{\"alg\":\"HS256\"}", JWT_PAYLOAD, "abcde");
	jwt_make(bad_pay, "{\"alg\":\"HS256\"}", "[1,2,3]", JWT_SIG);
	n = strlen(hs256);
	assert_true(pii_jwt_valid(hs256, n));
	CHECK(pii_jwt_valid, cases);
}

/* GitHub */

static void test_github_checksum_helper_matches_zlib(void **state)
{
	char sum[7];

	(void)state;
	assert_int_equal(ref_crc32("123456789", 9), 0xcbf43926);	/* the CRC-32 check value */
	/* values from Python's zlib.crc32 and a base62 of 0-9A-Za-z */
	ref_base62_6(ref_crc32("aB7cD8eF9gH0jK1mN2pQ3rS4tU5vW6", 30), sum);
	assert_string_equal(sum, "2M5jQM");
	ref_base62_6(ref_crc32("abcdefgh12345678903ZZZZZZZZZZZ", 30), sum);
	assert_string_equal(sum, "0p5S0Y");				/* zero-padded */
}

static void test_github_token(void **state)
{
	static const char *const prefixes[] = { "gh" "p_", "gh" "o_", "gh" "u_", "gh" "s_", "gh" "r_" };
	char tok[5][48], pad[48], bad_sum[48], bad_body[48], bad_pfx[48], upper_pfx[48], short_tok[48];
	char pat[100], pat_lower[100], pat_bad[100], pat_short[100], random30[31];
	struct vcase cases[] = {
		{ tok[0], true }, { tok[1], true }, { tok[2], true }, { tok[3], true }, { tok[4], true },
		{ pad, true },
		{ pat, true },
		{ bad_sum, false },			/* checksum off by one character */
		{ bad_body, false },			/* body changed, checksum kept */
		{ bad_pfx, false },			/* ghx_ */
		{ upper_pfx, false },			/* GHP_: the prefix is lower case */
		{ short_tok, false },
		{ pat_lower, false },			/* no upper case or digits: not random */
		{ pat_bad, false },			/* a '-' in it */
		{ pat_short, false },
		{ "", false },
	};
	size_t i;

	(void)state;
	gen(random30, 30, 1, b62);
	for (i = 0; i < ARRAY_SIZE(prefixes); i++)
		gh_token(tok[i], sizeof(tok[i]), prefixes[i], random30);
	gh_token(pad, sizeof(pad), "gh" "p_", "abcdefgh12345678903ZZZZZZZZZZZ");
	strcpy(bad_sum, tok[0]);
	bad_sum[39] = bad_sum[39] == 'A' ? 'B' : 'A';
	strcpy(bad_body, tok[0]);
	bad_body[10] = bad_body[10] == 'A' ? 'B' : 'A';
	strcpy(bad_pfx, tok[0]);
	bad_pfx[2] = 'x';
	strcpy(upper_pfx, tok[0]);
	memcpy(upper_pfx, "GH" "P_", 4);
	strcpy(short_tok, tok[0]);
	short_tok[39] = '\0';
	strcpy(pat, "github" "_pat_");
	gen(pat + 11, 22, 2, b62);
	pat[33] = '_';
	gen(pat + 34, 59, 3, b62);
	strcpy(pat_lower, "github" "_pat_");
	memset(pat_lower + 11, 'a', 82);
	pat_lower[93] = '\0';
	strcpy(pat_bad, pat);
	pat_bad[50] = '-';
	strcpy(pat_short, pat);
	pat_short[92] = '\0';
	assert_int_equal(strlen(tok[0]), 40);
	assert_int_equal(strlen(pat), 93);
	CHECK(pii_github_token_valid, cases);
}

/* AWS */

static void test_aws_access_key(void **state)
{
	static const struct vcase cases[] = {
		{ "AKIA" "IOSFODNN7EXAMPLE", true },	/* AWS's documented example */
		{ "ASIA" "Z7Q3M9X2K5L8P4T6", true },
		{ "ABIA" "Z7Q3M9X2K5L8P4T6", true },
		{ "ACCA" "Z7Q3M9X2K5L8P4T6", true },
		{ "akia" "iosfodnn7example", false },	/* AWS issues upper case */
		{ "AKIA" "IOSFODNN7EXAMPLe", false },
		{ "AKIB" "IOSFODNN7EXAMPLE", false },
		{ "AKIA" "IOSFODNN7EXAMPL", false },
		{ "AKIA" "IOSFODNN7EXAMPLEX", false },
		{ "AKIA" "IOSFODNN7EXAMP_E", false },
		{ "", false },
	};

	(void)state;
	CHECK(pii_aws_access_key_valid, cases);
}

#define AWS_SECRET_EXAMPLE	"wJalrXUtnFEMI/K7MDENG/" "bPxRfiCYEXAMPLEKEY"	/* AWS's docs */

static void test_aws_secret(void **state)
{
	static const struct vcase cases[] = {
		{ "aws_secret_access_key = " AWS_SECRET_EXAMPLE, true },
		{ "AWS_SECRET_ACCESS_KEY=" AWS_SECRET_EXAMPLE, true },
		{ "\"SecretAccessKey\": \"" AWS_SECRET_EXAMPLE, true },
		{ "aws secret key: " AWS_SECRET_EXAMPLE, true },
		{ "aws_secret_access_key = wjalrxutnfemi/k7mdeng/bpxrficyexamplekey", false },
		{ "aws_secret_access_key = WJALRXUTNFEMI/K7MDENG/BPXRFICYEXAMPLEKEY", false },
		{ "aws_secret_access_key = wJalrXUtnFEMIxKyMDENGxbPxRfiCYEXAMPLEKEY", false },	/* no digit */
		{ "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE", false },	/* 39 */
		{ "aws_secret_access_key = wJalrXUtnFEMI-K7MDENG/bPxRfiCYEXAMPLEKEY", false },
		{ AWS_SECRET_EXAMPLE, false },		/* no context */
		{ "", false },
	};

	(void)state;
	CHECK(pii_aws_secret_valid, cases);
}

/* Slack */

static void test_slack_token(void **state)
{
	char bot[80], user[80], hook[120], hook_http[120], hook_lower[120], hook_short[120];
	char secret24[25];
	struct vcase cases[] = {
		{ bot, true },
		{ user, true },
		{ hook, true },
		{ hook_http, true },
		{ "xox" "b-1234567890", true },
		{ "xox" "b-abcdefghij", false },	/* no digit */
		{ "xox" "b-123456789", false },		/* short */
		{ "xox" "b-1234567890-", false },
		{ "xox" "c-1234567890", false },
		{ "XOX" "B-1234567890", false },
		{ "xox" "b_1234567890", false },
		{ "xox" "b-12345_67890", false },
		{ hook_lower, false },			/* T and B ids are upper case */
		{ hook_short, false },
		{ "hooks.slack.com/services/", false },
		{ "", false },
	};

	(void)state;
	gen(secret24, 24, 4, b62);
	snprintf(bot, sizeof(bot), "xox" "b-1234567890123-1234567890123-%s", secret24);
	snprintf(user, sizeof(user), "xox" "p-1234567890123-1234567890123-1234567890123-%s", secret24);
	snprintf(hook, sizeof(hook), "https://hooks.slack.com/services/T0" "0000000/B0" "0000000/%s",
		 secret24);
	snprintf(hook_http, sizeof(hook_http), "hooks.slack.com/services/TABC" "12345/BABC" "1234567/%s",
		 secret24);
	snprintf(hook_lower, sizeof(hook_lower), "https://hooks.slack.com/services/t0" "0000000/b0"
		 "0000000/%s", secret24);
	snprintf(hook_short, sizeof(hook_short), "https://hooks.slack.com/services/T0" "0000000/B0"
		 "0000000/%.23s", secret24);
	CHECK(pii_slack_token_valid, cases);
}

/* OpenAI, Anthropic */

static void test_openai_key(void **state)
{
	char legacy[80], proj[200], svc[200], admin[200], marked[80], short_key[80], lower[80],
	     ant[200], proj_short[80];
	char body[160];
	struct vcase cases[] = {
		{ legacy, true },
		{ proj, true },
		{ svc, true },
		{ admin, true },
		{ marked, true },
		{ short_key, false },			/* 31 after the prefix */
		{ proj_short, false },			/* sk-proj- then 31 */
		{ lower, false },			/* no upper case: a word, not a key */
		{ ant, false },				/* Anthropic's */
		{ "sk-this-is-a-very-long-variable-name-ok", false },
		{ "SK-abcdefghijklmnopqrstuvwxyzABCDEF0123", false },
		{ "", false },
	};

	(void)state;
	gen(body, 156, 5, b62);
	snprintf(legacy, sizeof(legacy), "sk" "-%.48s", body);
	snprintf(proj, sizeof(proj), "sk" "-proj-%.156s", body);
	snprintf(svc, sizeof(svc), "sk" "-svcacct-%.100s", body);
	snprintf(admin, sizeof(admin), "sk" "-admin-%.64s", body);
	snprintf(marked, sizeof(marked), "sk" "-%.20sT3Blbk" "FJ%.20s", body, body + 20);
	snprintf(short_key, sizeof(short_key), "sk" "-%.31s", body);
	snprintf(proj_short, sizeof(proj_short), "sk" "-proj-%.31s", body);
	snprintf(lower, sizeof(lower), "sk" "-%s", "abcdefghijklmnopqrstuvwxyz0123456789");
	snprintf(ant, sizeof(ant), "sk" "-ant-api03-%.93sAA", body);
	CHECK(pii_openai_key_valid, cases);
}

static void test_anthropic_key(void **state)
{
	char api[200], admin[200], short_key[200], other[200], lower[200], bad[200];
	char body[160];
	struct vcase cases[] = {
		{ api, true },
		{ admin, true },
		{ short_key, false },			/* 79 after the prefix */
		{ other, false },			/* unknown version */
		{ lower, false },
		{ bad, false },
		{ "", false },
	};

	(void)state;
	gen(body, 93, 6, b62);
	snprintf(api, sizeof(api), "sk" "-ant-api03-%sAA", body);
	snprintf(admin, sizeof(admin), "sk" "-ant-admin01-%.80s", body);
	snprintf(short_key, sizeof(short_key), "sk" "-ant-api03-%.79s", body);
	snprintf(other, sizeof(other), "sk" "-ant-api04-%sAA", body);
	snprintf(lower, sizeof(lower), "sk" "-ant-api03-");
	gen(lower + 13, 93, 6, "abcdefghijklmnopqrstuvwxyz0123456789");
	snprintf(bad, sizeof(bad), "sk" "-ant-api03-%s+A", body);
	CHECK(pii_anthropic_key_valid, cases);
}

/* Edges */

static void test_boundary_rules(void **state)
{
	static const struct {
		int kind;
		const char *text;
		size_t start, end;
		bool ok;
	} cases[] = {
		/* alone, or delimited by space and punctuation */
		{ PII_CARD, "4111111111111111", 0, 16, true },
		{ PII_CARD, "(4111111111111111).", 1, 17, true },
		{ PII_CARD, "x 4111111111111111, y", 2, 18, true },
		/* inside a longer number or word */
		{ PII_CARD, "94111111111111111", 1, 17, false },
		{ PII_CARD, "41111111111111119", 0, 16, false },
		{ PII_CARD, "a4111111111111111", 1, 17, false },
		{ PII_CARD, "4111111111111111B", 0, 16, false },
		/* glue: '-' or '.' then a digit continues the number */
		{ PII_CARD, "4111-1111-1111-1111-2", 0, 19, false },
		{ PII_CARD, "4111111111111111.5", 0, 16, false },
		{ PII_CARD, "4111111111111111.", 0, 16, true },
		{ PII_CARD, "4111111111111111-x", 0, 16, true },
		{ PII_CARD, "1-4111111111111111", 2, 18, false },
		/* non-ASCII bytes delimit: text written against CJK */
		{ PII_PHONE, "\xe7\x95\xaa\xe5\x8f\xb7" "090-1234-5678", 6, 19, true },
		/* phone: a space then a digit continues it */
		{ PII_PHONE, "DE89 0532 0130 00", 5, 17, false },
		{ PII_PHONE, "call 020 7946 0958 now", 5, 18, true },
		{ PII_PHONE, "+44 20 7946 0958 2", 0, 16, false },
		/* v4: '-' is a range, '.' then a digit a longer dotted string */
		{ PII_IPV4, "10.0.0.1-10.0.0.9", 0, 8, true },
		{ PII_IPV4, "10.0.0.1-10.0.0.9", 9, 17, true },
		{ PII_IPV4, "1.2.3.4.5", 0, 7, false },
		{ PII_IPV4, "1.2.3.4.5", 2, 9, false },
		{ PII_IPV4, "at 1.2.3.4.", 3, 10, true },
		{ PII_IPV4, "1.2.3.4:8080", 0, 7, true },
		/* v6: ':' then a hex digit continues it, before a letter it is a label */
		{ PII_IPV6, "1:2:3:4:5:6:7:8:9", 0, 15, false },
		{ PII_IPV6, "1:2:3:4:5:6:7:8:9", 2, 17, false },
		{ PII_IPV6, "ip:2001:db8::1", 3, 14, true },
		{ PII_IPV6, "[2001:db8::1]:443", 1, 12, true },
		{ PII_IPV6, "2001:db8::1: done", 0, 11, true },
		{ PII_IPV6, "::ffff:1.2.3.4", 0, 8, false },
		/* words: email */
		{ PII_EMAIL, "john@mail.example.com", 0, 17, false },
		{ PII_EMAIL, "john@example.com.", 0, 16, true },
		{ PII_EMAIL, "<john@example.com>", 1, 17, true },
		{ PII_EMAIL, "john@exa-mple.com", 0, 8, false },
		/* tokens: '_' and '-' are part of them */
		{ PII_OPENAI_KEY, "x_sk-abc", 2, 8, false },
		{ PII_OPENAI_KEY, "sk-abc-", 0, 6, false },
		{ PII_OPENAI_KEY, "key=sk-abc;", 4, 10, true },
		{ PII_JWT, "ey.ey.sig.more", 0, 9, false },
		{ PII_JWT, "ey.ey.sig.", 0, 9, true },
		/* base64: the aws secret value must not run on */
		{ PII_AWS_SECRET_KEY, "MY_AWS_SECRET=abc", 3, 17, true },
		{ PII_AWS_SECRET_KEY, "aws_secret=abc/", 0, 14, false },
		{ PII_AWS_SECRET_KEY, "aws_secret=abc=", 0, 14, false },
		/* none: the header delimits itself */
		{ PII_PEM_PRIVATE_KEY, "x-----BEGIN", 1, 11, true },
		/* spans outside the text */
		{ PII_CARD, "4111", 0, 5, false },
		{ PII_CARD, "4111", 3, 2, false },
		{ PII_PEM_PRIVATE_KEY, "abc", 2, 4, false },
		{ PII_CARD, "", 0, 0, true },
	};
	struct guard g;
	const char *p;
	size_t i, n;
	bool got;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = strlen(cases[i].text);
		p = guard_copy(&g, cases[i].text, n);
		got = pii_boundary_ok(&pii_detectors[cases[i].kind], p, n, cases[i].start,
				      cases[i].end);
		guard_free(&g);
		if (got != cases[i].ok)
			fail_msg("%s edge of \"%s\"[%zu, %zu) = %d, want %d",
				 pii_detectors[cases[i].kind].name, cases[i].text, cases[i].start,
				 cases[i].end, got, cases[i].ok);
	}
}

/* PEM */

#define B64_64	"MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
#define PEM_RSA	"-----BEGIN RSA PRIVATE KEY-----\n" B64_64 "\n-----END RSA PRIVATE KEY-----"
#define PEM_CUT	"-----BEGIN RSA PRIVATE KEY-----\n" B64_64

#define ALL	((size_t)-1)	/* the whole text */

static void test_pem_extent(void **state)
{
	static const struct {
		const char *text;
		size_t start, want;
	} cases[] = {
		{ PEM_RSA, 0, ALL },
		{ PEM_RSA "\ntrailer", 0, sizeof(PEM_RSA) - 1 },
		{ "key: " PEM_RSA, 5, sizeof(PEM_RSA) - 1 },
		{ "-----BEGIN PRIVATE KEY-----\n" B64_64 "\n-----END PRIVATE KEY-----", 0, ALL },
		{ "-----begin ec private key-----\n" B64_64 "\n-----end ec private key-----", 0, ALL },
		{ "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" B64_64 "\n-----END PGP PRIVATE KEY BLOCK-----",
		  0, ALL },
		/* on one line, as a prompt has it */
		{ "-----BEGIN PRIVATE KEY----- MIIBOgIBAAJBAKj34GkxFhD90vcN LYLInFEX6Ppy1tPf9Cnzj4p4WGeK"
		  "Ls1Pt8Qu/+== -----END PRIVATE KEY-----", 0, ALL },
		/* the first END of the same label closes it */
		{ "-----BEGIN EC PRIVATE KEY-----\n" B64_64 "\n-----END RSA PRIVATE KEY-----\n"
		  "-----END EC PRIVATE KEY-----", 0, ALL },
		/* no END: the key cut short runs to its last base64 character */
		{ PEM_CUT, 0, ALL },
		{ PEM_CUT "\n", 0, sizeof(PEM_CUT) - 1 },
		{ PEM_CUT "\n\nwhy does ssh refuse it?", 0, sizeof(PEM_CUT) - 1 },
		/* a body too short to be a key: a placeholder, a name */
		{ "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", 0, 0 },
		{ "-----BEGIN PRIVATE KEY----- ... -----END PRIVATE KEY-----", 0, 0 },
		{ "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n", 0, 0 },
		{ "-----BEGIN RSA PRIVATE KEY----- and -----BEGIN PRIVATE KEY----- differ how?", 0, 0 },
		{ "-----BEGIN PRIVATE KEY----- ... -----END PUBLIC KEY-----", 0, 0 },
		{ "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----", 0, 0 },
		{ "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY----", 0, 0 },
		{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", 0, 0 },
		{ "-----BEGIN RSA PRIVATE\nKEY-----\n-----END RSA PRIVATE\nKEY-----", 0, 0 },
		{ "-----BEGIN RSA PRIVATE KEY", 0, 0 },
		{ "x" PEM_RSA, 0, 0 },						/* not at a header */
		{ PEM_RSA, 1, 0 },
		{ "abc", 3, 0 },
		{ "abc", 9, 0 },
		{ "", 0, 0 },
	};
	size_t i, n, got, want;
	struct guard g;
	const char *p;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		n = strlen(cases[i].text);
		p = guard_copy(&g, cases[i].text, n);
		got = pii_pem_extent(p, n, cases[i].start);
		guard_free(&g);
		want = cases[i].want == ALL ? n : cases[i].want;
		if (got != want)
			fail_msg("pem extent of case %zu = %zu, want %zu", i, got, want);
	}
}

static void test_pem_extent_stops_at_max(void **state)
{
	static const char head[] = "-----BEGIN PRIVATE KEY-----\n", tail[] = "-----END PRIVATE KEY-----";
	size_t body, n;
	char *text;

	(void)state;
	text = malloc(PII_PEM_MAX + 64);
	assert_non_null(text);
	/* ends exactly at the limit: found */
	body = PII_PEM_MAX - (sizeof(head) - 1) - (sizeof(tail) - 1);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'A', body);
	memcpy(text + sizeof(head) - 1 + body, tail, sizeof(tail) - 1);
	n = PII_PEM_MAX;
	assert_int_equal(pii_pem_extent(text, n, 0), PII_PEM_MAX);
	/* one byte further: not */
	memset(text + sizeof(head) - 1, 'A', body + 1);
	memcpy(text + sizeof(head) - 1 + body + 1, tail, sizeof(tail) - 1);
	assert_int_equal(pii_pem_extent(text, n + 1, 0), 0);
	free(text);
}

/* All patterns in one database, scanned as the gateway scans */

static hs_database_t *compile_all(void)
{
	const char *expr[PII_NKINDS];
	unsigned int flags[PII_NKINDS], ids[PII_NKINDS];
	hs_compile_error_t *ce = NULL;
	hs_database_t *db = NULL;
	int k;

	for (k = 0; k < PII_NKINDS; k++) {
		expr[k] = pii_detectors[k].regex;
		flags[k] = HS_FLAG_SOM_LEFTMOST | pii_detectors[k].hs_flags;
		ids[k] = (unsigned int)k;
	}
	if (hs_compile_multi(expr, flags, ids, PII_NKINDS, HS_MODE_BLOCK, NULL, &db, &ce) !=
	    HS_SUCCESS) {
		fail_msg("hs_compile_multi: %s: %s",
			 ce && ce->expression >= 0 ? pii_detectors[ce->expression].name : "all",
			 ce ? ce->message : "?");
	}
	return db;
}

static void test_all_patterns_compile_in_one_database(void **state)
{
	hs_database_t *db;
	size_t size = 0;

	(void)state;
	db = compile_all();
	assert_int_equal(hs_database_size(db, &size), HS_SUCCESS);
	assert_true(size > 0);
	hs_free_database(db);
}

#define MAX_CAND	8192

struct cand {
	unsigned int id;
	size_t from, to;
};

struct cands {
	struct cand c[MAX_CAND];
	size_t n;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct cands *cs = ctx;

	(void)flags;
	if (cs->n == MAX_CAND)
		return 1;
	cs->c[cs->n++] = (struct cand){ id, (size_t)from, (size_t)to };
	return 0;
}

struct span {
	size_t from, to;
};

static int cmp_longest(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	size_t lx = x->to - x->from, ly = y->to - y->from;

	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

static int cmp_from(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->from < y->from ? -1 : x->from > y->from;
}

/*
 * What the gateway keeps of kind k: candidates whose span passes the edge
 * rule on the folded view and whose plain view the validator accepts (a
 * private key runs to its END line), the longest of overlapping ones.
 */
static size_t keep(const struct cands *cs, int k, const char *folded, const char *plain,
		   size_t len, struct span *out, size_t cap)
{
	const struct pii_detector *d = &pii_detectors[k];
	static struct span acc[MAX_CAND];
	size_t na = 0, nout = 0, i, j, ext;
	struct span s;

	for (i = 0; i < cs->n; i++) {
		if (cs->c[i].id != (unsigned int)k)
			continue;
		s = (struct span){ cs->c[i].from, cs->c[i].to };
		if (!pii_extend_left(d, folded, &s.from) ||
		    !pii_boundary_ok(d, folded, len, s.from, s.to))
			continue;
		if (k == PII_PEM_PRIVATE_KEY) {
			ext = pii_pem_extent(plain, len, s.from);
			if (ext)
				s.to = s.from + ext;
		} else if (d->valid && !d->valid(plain + s.from, s.to - s.from)) {
			continue;
		}
		acc[na++] = s;
	}
	qsort(acc, na, sizeof(acc[0]), cmp_longest);
	for (i = 0; i < na; i++) {
		for (j = 0; j < nout; j++)
			if (acc[i].from < out[j].to && out[j].from < acc[i].to)
				break;
		if (j < nout)
			continue;
		assert_true(nout < cap);
		out[nout++] = acc[i];
	}
	qsort(out, nout, sizeof(out[0]), cmp_from);
	return nout;
}

static void test_sample_fires_exactly_where_expected(void **state)
{
	char ghp[48], ghp_bad[48], random30[31], slack[96], secret24[25], openai[64], ant[128],
	     body[100], jwt[256], jwt_bad[256], aws_long[32];
	static char plain[4096], folded[4096];
	static struct cands cs;
	struct {
		int kind;
		const char *needle;
	} want[16];
	struct span got[16];
	size_t nwant = 0, len, i, n, at;
	hs_database_t *db;
	hs_scratch_t *scratch = NULL;
	int k;

	(void)state;
	gen(random30, 30, 7, b62);
	gh_token(ghp, sizeof(ghp), "gh" "p_", random30);
	strcpy(ghp_bad, ghp);
	ghp_bad[39] = ghp_bad[39] == 'A' ? 'B' : 'A';
	gen(secret24, 24, 8, b62);
	snprintf(slack, sizeof(slack), "xox" "b-1234567890123-1234567890123-%s", secret24);
	gen(body, 93, 9, b62);
	snprintf(openai, sizeof(openai), "sk" "-proj-%.48s", body);
	snprintf(ant, sizeof(ant), "sk" "-ant-api03-%sAA", body);
	jwt_make(jwt, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", JWT_PAYLOAD, JWT_SIG);
	jwt_make(jwt_bad, "{\"alg\":\"HS256\"", JWT_PAYLOAD, JWT_SIG);
	snprintf(aws_long, sizeof(aws_long), "AKIA" "IOSFODNN7EXAMPLEX");

	n = (size_t)snprintf(plain, sizeof(plain),
		"Mail john.doe@example.com, not john..doe@example.com or bob@localhost.\n"
		"Call +1 415 555 2671; not 2024-01-15, 555-1234 or 4155552671.\n"
		"Card 4111 1111 1111 1111; not 4111 1111 1111 1112 nor 9994111111111111111999999.\n"
		"SSN 536-22-1234; not 666-22-1234 or 536-22-12345.\n"
		"IBAN DE89 3704 0044 0532 0130 00; not DE89 3704 0044 0532 0130 01.\n"
		"Hosts 192.168.1.20 and 2001:db8::8a2e:370:7334; not 256.1.1.1, 1.2.3.4.5, "
		"01.2.3.4 or 12:30:45.\n"
		"aws_access_key_id=AKIA" "IOSFODNN7EXAMPLE (not %s)\n"
		"aws_secret_access_key = " AWS_SECRET_EXAMPLE "\n"
		"token %s, not %s\n"
		"slack %s\n"
		"openai %s, not sk" "-tooShort123\n"
		"anthropic %s\n"
		"jwt %s; not %s\n"
		PEM_RSA "\nend\n",
		aws_long, ghp, ghp_bad, slack, openai, ant, jwt, jwt_bad);
	assert_true(n < sizeof(plain));
	len = n;
	for (i = 0; i < len; i++)
		folded[i] = (char)(plain[i] >= 'A' && plain[i] <= 'Z' ? plain[i] - 'A' + 'a' : plain[i]);

#define WANT(k, s)	(want[nwant].kind = (k), want[nwant++].needle = (s))
	WANT(PII_EMAIL, "john.doe@example.com");
	WANT(PII_PHONE, "+1 415 555 2671");
	WANT(PII_CARD, "4111 1111 1111 1111;");
	WANT(PII_SSN, "536-22-1234;");
	WANT(PII_IBAN, "DE89 3704 0044 0532 0130 00;");
	WANT(PII_IPV4, "192.168.1.20");
	WANT(PII_IPV6, "2001:db8::8a2e:370:7334");
	WANT(PII_AWS_ACCESS_KEY, "AKIA" "IOSFODNN7EXAMPLE ");
	WANT(PII_AWS_SECRET_KEY, "aws_secret_access_key = " AWS_SECRET_EXAMPLE);
	WANT(PII_GITHUB_TOKEN, ghp);
	WANT(PII_SLACK_TOKEN, slack);
	WANT(PII_OPENAI_KEY, openai);
	WANT(PII_ANTHROPIC_KEY, ant);
	WANT(PII_JWT, jwt);
	WANT(PII_PEM_PRIVATE_KEY, PEM_RSA);
#undef WANT
	assert_int_equal(nwant, PII_NKINDS);

	db = compile_all();
	assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
	cs.n = 0;
	assert_int_equal(hs_scan(db, folded, (unsigned int)len, 0, scratch, on_match, &cs),
			 HS_SUCCESS);
	assert_true(cs.n < MAX_CAND);

	for (k = 0; k < PII_NKINDS; k++) {
		const char *hit = strstr(plain, want[k].needle);
		size_t nl = strlen(want[k].needle);

		assert_int_equal(want[k].kind, k);
		assert_non_null(hit);
		/* a trailing ';' or ' ' in a needle only makes it unique */
		if (want[k].needle[nl - 1] == ';' || want[k].needle[nl - 1] == ' ')
			nl--;
		at = (size_t)(hit - plain);
		n = keep(&cs, k, folded, plain, len, got, ARRAY_SIZE(got));
		for (i = 0; i < n; i++)
			if (got[i].from != at || got[i].to != at + nl)
				fail_msg("%s: also fired on \"%.*s\"", pii_detectors[k].name,
					 (int)(got[i].to - got[i].from), plain + got[i].from);
		if (n != 1)
			fail_msg("%s: %zu hits, want 1 on \"%.*s\"", pii_detectors[k].name, n,
				 (int)nl, plain + at);
	}
	hs_free_scratch(scratch);
	hs_free_database(db);
}

/* A valid card inside a longer run of digits, alone: nothing fires. */
static void test_digits_inside_longer_numbers_do_not_fire(void **state)
{
	static const char *const texts[] = {
		"9994111111111111111999999",		/* 16-digit card in 25 digits */
		"order 4111111111111111123 shipped",	/* 19 digits, bad Luhn, card at its head */
		"x 74111111111111111 y",		/* the card at its tail */
		"id 1536221234 and 5362212340",		/* 9-digit SSN at either end of 10 */
		"v 1.192.168.1.20 and 192.168.1.20.7",
		"ref 12345-4111-1111-1111-1111",
	};
	static struct cands cs;
	struct span got[16];
	hs_scratch_t *scratch = NULL;
	hs_database_t *db;
	char folded[128];
	size_t t, len;
	int k;

	(void)state;
	db = compile_all();
	assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
	for (t = 0; t < ARRAY_SIZE(texts); t++) {
		len = strlen(texts[t]);
		memcpy(folded, texts[t], len + 1);
		cs.n = 0;
		assert_int_equal(hs_scan(db, folded, (unsigned int)len, 0, scratch, on_match, &cs),
				 HS_SUCCESS);
		for (k = 0; k < PII_NKINDS; k++)
			if (keep(&cs, k, folded, texts[t], len, got, ARRAY_SIZE(got)))
				fail_msg("%s fired in \"%s\" at \"%.*s\"", pii_detectors[k].name,
					 texts[t], (int)(got[0].to - got[0].from),
					 texts[t] + got[0].from);
	}
	hs_free_scratch(scratch);
	hs_free_database(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_names_entities_and_secret_flags),
		cmocka_unit_test(test_kind_by_name_refuses_unknown),
		cmocka_unit_test(test_luhn),
		cmocka_unit_test(test_card_accepts_each_brand_and_grouping),
		cmocka_unit_test(test_card_refuses_near_misses),
		cmocka_unit_test(test_ssn),
		cmocka_unit_test(test_iban_accepts_registry_countries),
		cmocka_unit_test(test_iban_refuses_near_misses),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_phone_accepts_e164_nanp_and_national),
		cmocka_unit_test(test_phone_refuses_dates_bare_runs_and_bad_lengths),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_github_checksum_helper_matches_zlib),
		cmocka_unit_test(test_github_token),
		cmocka_unit_test(test_aws_access_key),
		cmocka_unit_test(test_aws_secret),
		cmocka_unit_test(test_slack_token),
		cmocka_unit_test(test_openai_key),
		cmocka_unit_test(test_anthropic_key),
		cmocka_unit_test(test_boundary_rules),
		cmocka_unit_test(test_pem_extent),
		cmocka_unit_test(test_pem_extent_stops_at_max),
		cmocka_unit_test(test_all_patterns_compile_in_one_database),
		cmocka_unit_test(test_sample_fires_exactly_where_expected),
		cmocka_unit_test(test_digits_inside_longer_numbers_do_not_fire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
