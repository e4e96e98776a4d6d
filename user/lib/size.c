// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Byte sizes as people write them. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Binary units first: size_format() walks them largest to smallest. */
static const struct size_unit {
	const char *name;
	uint64_t mult;
} units[] = {
	{ "TiB", 1ULL << 40 },
	{ "GiB", 1ULL << 30 },
	{ "MiB", 1ULL << 20 },
	{ "KiB", 1ULL << 10 },
	{ "TB", 1000000000000ULL },
	{ "GB", 1000000000ULL },
	{ "MB", 1000000ULL },
	{ "KB", 1000ULL },
	{ "B", 1 },
	{ "", 1 },
};

int parse_size(const char *s, uint64_t *out, const char **why)
{
	const char *p = s;
	bool overflow = false;
	uint64_t v = 0;
	size_t i;

	if (!s || *s < '0' || *s > '9') {
		*why = "expected <number>[unit], e.g. 512, 16KiB, 8MiB, 1GB";
		return -EINVAL;
	}
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
		*why = "leading zeros are not allowed";
		return -EINVAL;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - (*p - '0')) / 10)
			overflow = true;
		else
			v = v * 10 + (*p - '0');
	}
	if (*p == '.' || *p == ',') {
		*why = "fractions are not allowed: use a smaller unit (1536KiB, not 1.5MiB)";
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(p, units[i].name))
			break;
	if (i == ARRAY_SIZE(units)) {
		*why = "unknown unit: use B, KiB, MiB, GiB, TiB (1024) or KB, MB, GB, TB (1000)";
		return -EINVAL;
	}
	if (overflow || (v && units[i].mult > ~0ULL / v)) {
		*why = "too large";
		return -ERANGE;
	}
	*out = v * units[i].mult;
	return 0;
}

char *size_format(uint64_t v, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < 4 && v; i++)
		if (!(v % units[i].mult)) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].mult),
				 units[i].name);
			return buf;
		}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}
