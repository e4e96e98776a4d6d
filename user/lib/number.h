/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Strict number parsing for command lines and files. */
#ifndef SLUICE_NUMBER_H
#define SLUICE_NUMBER_H

#include <linux/types.h>

/*
 * Parses plain decimal (no sign, no spaces, no hex, no leading '+') in
 * [min, max]. Returns 0, -EINVAL (not a number) or -ERANGE (out of range).
 */
int parse_u32(const char *s, __u32 min, __u32 max, __u32 *out);
int parse_u64(const char *s, __u64 min, __u64 max, __u64 *out);

#endif
