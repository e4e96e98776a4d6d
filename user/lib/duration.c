// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Durations as people write them, and the two clocks every expiry uses. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "duration.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Largest first: parsing wants terms in this order, formatting walks it. */
static const struct duration_unit {
	const char *name;
	__u64 ns;
} units[] = {
	{ "d",	86400 * NSEC_PER_SEC },
	{ "h",	3600 * NSEC_PER_SEC },
	{ "m",	60 * NSEC_PER_SEC },
	{ "s",	NSEC_PER_SEC },
	{ "ms",	NSEC_PER_MSEC },
	{ "us",	1000 },
	{ "ns",	1 },
};

static int unit_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (strlen(units[i].name) == len && !memcmp(units[i].name, name, len))
			return (int)i;
	return -1;
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Each term is digits then a unit, the units strictly from largest to
 * smallest ("1h30m", not "30m1h" nor "1m1m"): a repeated or reversed unit
 * is more likely a slip than a sum someone meant. Only a lone number may go
 * without a unit, and then it is seconds ("1h30" is refused).
 */
int duration_parse(const char *s, __u64 *ns, const char **why)
{
	const char *p = s, *q;
	__u64 total = 0, v, unit_ns;
	int last = -1, u;
	bool overflow;

	if (!*s) {
		*why = "empty duration";
		return -EINVAL;
	}
	while (*p) {
		if (*p < '0' || *p > '9') {
			*why = "expected <number><unit>, e.g. 250ms, 10s, 1h30m";
			return -EINVAL;
		}
		v = 0;
		overflow = false;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (v > (~0ULL - (*p - '0')) / 10)
				overflow = true;
			else
				v = v * 10 + (*p - '0');
		}
		if (*p == '.' || *p == ',') {
			*why = "fractions are not allowed: use a smaller unit (1500ms, not 1.5s)";
			return -EINVAL;
		}
		for (q = p; is_letter(*q); q++)
			;
		if (q == p && !*p && last == -1) {
			u = unit_find("s", 1);	/* a lone number */
		} else {
			u = q == p ? -1 : unit_find(p, q - p);
			if (u < 0) {
				*why = q == p && !*p ? "missing unit after the last number" :
				       "unknown unit (use ns, us, ms, s, m, h or d)";
				return -EINVAL;
			}
		}
		if (u <= last) {
			*why = "units must go from largest to smallest, each once (1h30m)";
			return -EINVAL;
		}
		last = u;
		unit_ns = units[u].ns;
		if (overflow || v > ~0ULL / unit_ns || total > ~0ULL - v * unit_ns) {
			*why = "duration too long (over 2^64 ns, about 584 years)";
			return -ERANGE;
		}
		total += v * unit_ns;
		p = q;
	}
	*ns = total;
	return 0;
}

char *duration_format(__u64 ns, char *buf, size_t len)
{
	unsigned long long hi, lo = 0;
	size_t i = 0;

	if (!ns) {
		snprintf(buf, len, "0s");
		return buf;
	}
	while (ns < units[i].ns)
		i++;
	hi = ns / units[i].ns;
	if (i + 1 < ARRAY_SIZE(units))
		lo = ns % units[i].ns / units[i + 1].ns;
	if (lo)
		snprintf(buf, len, "%llu%s%llu%s", hi, units[i].name, lo, units[i + 1].name);
	else
		snprintf(buf, len, "%llu%s", hi, units[i].name);
	return buf;
}

__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

__u64 wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}
