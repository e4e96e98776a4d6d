/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the fuzz targets share: input copied to heap buffers of its exact
 * size (ASan then faults on a read one byte past it), a check that aborts
 * so libFuzzer keeps the input that broke a promise of the API, and piece
 * lengths drawn from the input itself so that a crash replays from its
 * file alone.
 */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)								\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
				__LINE__, #cond);				\
			abort();						\
		}								\
	} while (0)

/* s[0, n) in a buffer of n bytes; never NULL (ASan gives malloc(0) a pointer) */
static inline char *fuzz_dup(const void *s, size_t n)
{
	char *p = malloc(n);

	CHECK(p);
	if (n)
		memcpy(p, s, n);
	return p;
}

/* s[0, n) and a NUL, for the APIs that take C strings */
static inline char *fuzz_str(const void *s, size_t n)
{
	char *p = malloc(n + 1);

	CHECK(p);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * Piece lengths, 1 to max: max from the seed (byte by byte, a few bytes,
 * a socket read's worth), the lengths from an xorshift it starts.
 */
struct fuzz_split {
	uint32_t x;
	size_t max;
};

static inline void fuzz_split_init(struct fuzz_split *s, unsigned int seed)
{
	static const size_t maxes[8] = { 1, 2, 3, 5, 16, 64, 512, 4096 };

	s->max = maxes[seed & 7];
	s->x = 0x9e3779b9u ^ (seed * 0x85ebca6bu);
}

static inline size_t fuzz_next(struct fuzz_split *s)
{
	s->x ^= s->x << 13;
	s->x ^= s->x >> 17;
	s->x ^= s->x << 5;
	return 1 + s->x % s->max;
}

#endif
