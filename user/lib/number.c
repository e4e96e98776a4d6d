// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Strict number parsing. strtoul() takes leading spaces, a sign ("-1" wraps
 * to ULONG_MAX), "0x" and octal: all of them typos on a command line, so we
 * read the digits ourselves. A leading zero ("010", "/0128") is refused too,
 * since some readers take it as octal; "0" alone is fine.
 */
#include <errno.h>
#include <stdbool.h>

#include "number.h"

int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out)
{
	bool overflow = false;
	const char *p;
	__u64 v = 0;

	if (!s || !*s || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (p = s; *p; p++) {
		unsigned int d = (unsigned char)*p - '0';

		if (d > 9)
			return -EINVAL;
		/* keep reading: "99999999999999999999x" is not a number at all */
		if (v > (~0ULL - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out)
{
	__u64 v;
	int err;

	err = parse_u64(s, min, max, &v);
	if (err)
		return err;
	*out = (__u32)v;
	return 0;
}
