// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * parse: the text parsers of user/lib on the input as one C string, each
 * checked by a round trip through its formatter:
 *
 *   cidr_parse     its cidr_format() parses to the same prefix, and formats
 *                  the same again (canonical); the prefix holds its own
 *                  address, and goes through an LPM key and back unchanged;
 *   duration_parse duration_format() rounds down to two terms: never above
 *                  the value, and exact for what it prints;
 *   parse_size     size_format() is exact;
 *   parse_u64/u32  the text is the value printed: one spelling per number;
 *                  u32 takes exactly the values of u64 that fit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/number.h"
#include "lib/size.h"
#include "fuzz.h"

static void check_cidr(const char *s)
{
	char text[CIDR_STRLEN], again[CIDR_STRLEN];
	struct cidr c, d, host, k;
	struct sluice_lpm_v4 k4;
	struct sluice_lpm_v6 k6;
	const char *why = NULL;

	if (cidr_parse(s, &c, &why)) {
		CHECK(why);
		return;
	}
	CHECK(c.family == SLUICE_AF_INET || c.family == SLUICE_AF_INET6);
	CHECK(c.prefixlen <= cidr_maxlen(c.family));
	cidr_format(&c, text, sizeof(text));
	CHECK(!cidr_parse(text, &d, &why));
	CHECK(!memcmp(&c, &d, sizeof(c)));
	CHECK(!strcmp(cidr_format(&d, again, sizeof(again)), text));

	host = c;
	host.prefixlen = cidr_maxlen(c.family);
	CHECK(cidr_list_has(&c, 1, &host));
	if (c.family == SLUICE_AF_INET) {
		cidr_to_lpm_v4(&c, &k4);
		cidr_from_lpm_v4(&k4, &k);
	} else {
		cidr_to_lpm_v6(&c, &k6);
		cidr_from_lpm_v6(&k6, &k);
	}
	CHECK(!memcmp(&c, &k, sizeof(c)));
}

static void check_duration(const char *s)
{
	char text[DURATION_STRLEN], again[DURATION_STRLEN];
	const char *why = NULL;
	__u64 ns, back, back2;
	int err;

	err = duration_parse(s, &ns, &why);
	if (err) {
		CHECK((err == -EINVAL || err == -ERANGE) && why);
		return;
	}
	duration_format(ns, text, sizeof(text));
	CHECK(!duration_parse(text, &back, &why));
	CHECK(back <= ns);
	CHECK(!strcmp(duration_format(back, again, sizeof(again)), text));
	CHECK(!duration_parse(again, &back2, &why) && back2 == back);
}

static void check_size(const char *s)
{
	char text[SIZE_STRLEN];
	const char *why = NULL;
	uint64_t v, back;
	int err;

	err = parse_size(s, &v, &why);
	if (err) {
		CHECK((err == -EINVAL || err == -ERANGE) && why);
		return;
	}
	size_format(v, text, sizeof(text));
	CHECK(!parse_size(text, &back, &why) && back == v);
}

static void check_number(const char *s)
{
	char text[24];
	__u64 v;
	__u32 w;
	int err, err32;

	err = parse_u64(s, 0, UINT64_MAX, &v);
	err32 = parse_u32(s, 0, UINT32_MAX, &w);
	CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
	if (err) {
		CHECK(err32 == err);
		return;
	}
	snprintf(text, sizeof(text), "%" PRIu64, (uint64_t)v);
	CHECK(!strcmp(text, s));
	CHECK(v > UINT32_MAX ? err32 == -ERANGE : !err32 && w == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);

	check_cidr(s);
	check_duration(s);
	check_size(s);
	check_number(s);
	free(s);
	return 0;
}
