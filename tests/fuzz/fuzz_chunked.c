// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * chunked: the decoder on any bytes, byte 0 choosing the bounds and the
 * pieces. Checked against chunked.h:
 *
 *   - fed in pieces, each in a buffer of its own, it reports the same
 *     data, and ends (done, or the same refusal at the same byte) where
 *     one pass over the whole ends;
 *   - data spans lie inside the input and are never empty, MORE consumes
 *     all of it, total counts the data, and once done or refused every
 *     call says so again and consumes nothing;
 *   - the data, chunked again with chunked_put_size() one chunk per span,
 *     decodes back to itself and ends exactly at the last CRLF.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "gw/chunked.h"
#include "fuzz.h"

#define M_SMALL		0x01	/* bounds of a few bytes */
#define M_SPLIT(m)	((m) >> 1)

static const struct chunked_limits small = {
	.max_body_bytes = 64,
	.max_ext = 8,
	.max_trailer_bytes = 64,
	.max_trailers = 2,
};

struct result {
	char *out;		/* the data, at most as long as the input */
	size_t out_len;
	size_t end;		/* bytes consumed when it stopped */
	int ret;		/* DONE, MORE or a refusal */
	const char *error;
};

/*
 * One input through d: data appended to r, r->ret and r->end set when it
 * stops. Returns false when it wants more.
 */
static bool feed(struct chunked_dec *d, struct result *r, const char *b, size_t n,
		 size_t base, char *spans, size_t *nspans)
{
	const char *data;
	size_t at = 0, used, dlen;
	int ret;

	for (;;) {
		ret = chunked_decode(d, b + at, n - at, &used, &data, &dlen);
		CHECK(used <= n - at);
		if (ret != CHUNKED_DATA)
			break;
		CHECK(dlen && data >= b + at && data + dlen == b + at + used);
		memcpy(r->out + r->out_len, data, dlen);
		if (spans) {
			/* the re-encoding: size line, data, CRLF */
			*nspans += chunked_put_size(spans + *nspans, dlen);
			memcpy(spans + *nspans, data, dlen);
			*nspans += dlen;
			memcpy(spans + *nspans, CHUNKED_CRLF, 2);
			*nspans += 2;
		}
		r->out_len += dlen;
		at += used;
	}
	CHECK(d->total == r->out_len);
	if (ret == CHUNKED_MORE) {
		CHECK(used == n - at);
		r->end = base + n;
		r->ret = ret;
		return false;
	}
	CHECK(ret == CHUNKED_DONE || ((ret == -400 || ret == -413) && d->error));
	r->end = base + at + used;
	r->ret = ret;
	r->error = d->error;
	/* sticky: the same answer, nothing consumed */
	CHECK(chunked_decode(d, b, n, &used, &data, &dlen) == ret && !used);
	return true;
}

static const struct chunked_limits *limits(uint8_t mode)
{
	return mode & M_SMALL ? &small : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole = { 0 }, pieces = { 0 }, again = { 0 };
	struct chunked_dec d;
	struct fuzz_split sp;
	char *b, *spans, line[CHUNKED_SIZE_MAX];
	size_t at, n, nspans = 0;
	bool done = false;
	uint64_t v = 0;
	uint8_t mode;

	if (!size)
		return 0;
	mode = data[0];
	data++;
	size--;
	fuzz_split_init(&sp, M_SPLIT(mode));

	/* each DATA span costs at most CHUNKED_SIZE_MAX + 2 bytes more than its data */
	whole.out = malloc(size + 1);
	pieces.out = malloc(size + 1);
	spans = malloc(size * (CHUNKED_SIZE_MAX + 3) + sizeof(CHUNKED_LAST));
	CHECK(whole.out && pieces.out && spans);

	b = fuzz_dup(data, size);
	chunked_dec_init(&d, limits(mode));
	feed(&d, &whole, b, size, 0, spans, &nspans);
	free(b);

	chunked_dec_init(&d, limits(mode));
	for (at = 0; at < size && !done; at += n) {
		n = fuzz_next(&sp);
		if (n > size - at)
			n = size - at;
		b = fuzz_dup(data + at, n);
		done = feed(&d, &pieces, b, n, at, NULL, NULL);
		free(b);
	}
	CHECK(whole.ret == pieces.ret && whole.end == pieces.end);
	CHECK(whole.out_len == pieces.out_len && !memcmp(whole.out, pieces.out, whole.out_len));
	if (whole.ret < 0)
		CHECK(!strcmp(whole.error, pieces.error));

	/* what was decoded, chunked again, decodes to itself */
	memcpy(spans + nspans, CHUNKED_LAST, sizeof(CHUNKED_LAST) - 1);
	nspans += sizeof(CHUNKED_LAST) - 1;
	again.out = malloc(whole.out_len + 1);
	CHECK(again.out);
	b = fuzz_dup(spans, nspans);
	chunked_dec_init(&d, NULL);
	CHECK(feed(&d, &again, b, nspans, 0, NULL, NULL));
	CHECK(again.ret == CHUNKED_DONE && again.end == nspans);
	CHECK(again.out_len == whole.out_len && !memcmp(again.out, whole.out, whole.out_len));
	/* any size's line: its hex digits, no leading zero, then CRLF */
	memcpy(&v, data, size < sizeof(v) ? size : sizeof(v));
	n = chunked_put_size(line, v);
	CHECK(n >= 3 && n <= CHUNKED_SIZE_MAX && !memcmp(line + n - 2, "\r\n", 2));
	CHECK(n == 3 || line[0] != '0');
	line[n - 2] = '\0';
	CHECK(strtoull(line, NULL, 16) == v);
	free(b);
	free(again.out);
	free(spans);
	free(whole.out);
	free(pieces.out);
	return 0;
}
