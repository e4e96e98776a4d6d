// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pii: every validator of pii.h on the whole input, each in a buffer of
 * exactly its length (pii.h: they read nothing outside s[0, len)), then
 * the boundary rule, pii_pem_extent() and pii_extend_left() at offsets
 * taken from the first bytes. Checked, besides memory: what each
 * validator's comment promises about what it takes (a card's digits pass
 * Luhn, an SSN is 9 or 11 bytes, an IPv4 address is what inet_pton()
 * takes, an email has one '@'), and that an extent lies inside the text
 * and starts with its header.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "lib/pii.h"
#include "fuzz.h"

static bool (*const validators[])(const char *, size_t) = {
	pii_card_valid, pii_ssn_valid, pii_iban_valid, pii_ipv4_valid, pii_ipv6_valid,
	pii_phone_valid, pii_email_valid, pii_jwt_valid, pii_github_token_valid,
	pii_aws_access_key_valid, pii_aws_secret_valid, pii_slack_token_valid,
	pii_openai_key_valid, pii_anthropic_key_valid, pii_luhn,
};

static void check_card(const char *s, size_t n)
{
	char d[32];
	size_t nd = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			CHECK(nd < sizeof(d));
			d[nd++] = s[i];
		} else {
			CHECK(s[i] == ' ' || s[i] == '-');
		}
	}
	CHECK(nd >= 13 && nd <= 19 && pii_luhn(d, nd));
}

static void check_ipv4(const char *s, size_t n)
{
	char *t = fuzz_str(s, n);
	unsigned char a[4];

	CHECK(inet_pton(AF_INET, t, a) == 1);
	free(t);
}

static void check_ipv6(const char *s, size_t n)
{
	char *t = fuzz_str(s, n);
	unsigned char a[16];

	CHECK(inet_pton(AF_INET6, t, a) == 1);
	free(t);
}

static size_t at_of(const uint8_t *p, size_t n, size_t k, size_t mod)
{
	size_t v = 0;

	if (k + 1 < n)
		v = (size_t)p[k] << 8 | p[k + 1];
	return mod ? v % mod : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);
	size_t i, start, end, ext, from;

	for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
		validators[i](s, size);
	if (pii_card_valid(s, size))
		check_card(s, size);
	if (pii_ssn_valid(s, size))
		CHECK(size == 9 || size == 11);
	if (pii_ipv4_valid(s, size))
		check_ipv4(s, size);
	if (pii_ipv6_valid(s, size))
		check_ipv6(s, size);
	if (pii_email_valid(s, size)) {
		const char *at = memchr(s, '@', size);

		CHECK(at && at > s && !memchr(at + 1, '@', size - (at + 1 - s)));
	}
	if (pii_iban_valid(s, size))
		CHECK(size >= 15 && size <= 42);

	/* offsets from the first four bytes; out of range on purpose now and then */
	start = at_of(data, size, 0, size + 2);
	end = at_of(data, size, 2, size + 2);
	for (i = 0; i < PII_NKINDS; i++) {
		bool ok = pii_boundary_ok(&pii_detectors[i], s, size, start, end);

		if (start > end || end > size)
			CHECK(!ok);
		CHECK(pii_kind_by_name(pii_detectors[i].name) == (int)i);
		from = start <= size ? start : size;
		if (pii_extend_left(&pii_detectors[i], s, &from))
			CHECK(from <= (start <= size ? start : size));
	}
	ext = pii_pem_extent(s, size, start);
	if (ext) {
		CHECK(start < size && ext <= size - start && ext <= PII_PEM_MAX);
		CHECK(ext >= 11 && !strncasecmp(s + start, "-----BEGIN ", 11));
	}
	/* a NUL-terminated name is looked up, never read past */
	{
		char *name = fuzz_str(data, size < 32 ? size : 32);

		pii_kind_by_name(name);
		free(name);
	}
	free(s);
	return 0;
}
