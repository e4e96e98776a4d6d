/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Byte sizes as people write them ("16KiB", "8MiB", "1KB", "512"). */
#ifndef SLUICE_SIZE_H
#define SLUICE_SIZE_H

#include <stddef.h>
#include <stdint.h>

#define SIZE_STRLEN	24

/*
 * Parses <decimal>[unit], units B, KiB MiB GiB TiB (powers of 1024) and
 * KB MB GB TB (powers of 1000), case as written here. A bare number is
 * bytes. Refuses empty input, signs, spaces, fractions, leading zeros
 * ("010") and results past 2^64 - 1. Returns 0, or -EINVAL / -ERANGE with
 * *why a static sentence.
 */
int parse_size(const char *s, uint64_t *out, const char **why);

/* The largest binary unit that divides v exactly: "16KiB", "8MiB", "1000". */
char *size_format(uint64_t v, char *buf, size_t len);

#endif
