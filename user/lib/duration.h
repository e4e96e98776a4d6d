/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Durations as people write them ("250ms", "10s", "1h30m"), and the clocks. */
#ifndef SLUICE_DURATION_H
#define SLUICE_DURATION_H

#include <stddef.h>
#include <linux/types.h>

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define DURATION_STRLEN	32

/*
 * Parses a sequence of <decimal><unit> terms, units ns us ms s m h d,
 * e.g. "250ms", "10s", "1h30m", "2d". A bare decimal is seconds. Refuses
 * empty input, signs, spaces, unknown units, fractions, and totals past
 * 2^64 ns. Returns 0, or -EINVAL / -ERANGE with *why a static sentence.
 */
int duration_parse(const char *s, __u64 *ns, const char **why);

/* Largest units first, at most two terms, rounded down: "1h30m", "45s", "250ms", "0s". */
char *duration_format(__u64 ns, char *buf, size_t len);

/* CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(), so of every expiry. */
__u64 mono_ns(void);
/* Wall clock in seconds. */
__u64 wall_s(void);

#endif
