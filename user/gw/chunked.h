/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The chunked transfer coding (RFC 9112 section 7.1): an incremental,
 * zero-copy decoder fed whatever the socket gave, and the few bytes an
 * encoder needs.
 *
 * The decoder hands back spans of chunk data pointing into the input, so
 * a caller that needs the body (a request's JSON) copies the spans, and a
 * caller passing a stream through (a response) forwards the raw bytes it
 * fed and looks at the spans only to count or frame them. It is strict:
 * chunk sizes are 1 to 16 hex digits below 2^63, extensions follow the
 * grammar and are bounded, every chunk's data ends with CRLF, trailers are
 * field lines (validated, bounded, then discarded), and bare CR or LF is
 * refused anywhere.
 */
#ifndef SLUICE_GW_CHUNKED_H
#define SLUICE_GW_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define CHUNKED_DEF_MAX_EXT		256	/* extension bytes on one size line */
#define CHUNKED_DEF_MAX_TRAILER_BYTES	4096
#define CHUNKED_DEF_MAX_TRAILERS	32

struct chunked_limits {
	uint64_t max_body_bytes;	/* data bytes: 413 past it; 0: no bound */
	size_t max_ext;			/* bytes after a size's digits, CR aside: 400 past */
	size_t max_trailer_bytes;	/* the trailer section, final CRLF included: 400 past it */
	unsigned int max_trailers;	/* trailer field lines: 400 past it */
};

struct chunked_dec {
	int state;
	int err;			/* the refusal, repeated by later calls */
	const char *error;		/* why, static, for the log */
	uint64_t size;			/* the chunk being read: size, then bytes left */
	uint64_t total;			/* data bytes so far */
	size_t line;			/* bytes of the current size line past its digits */
	size_t trailer_bytes;
	unsigned int digits;
	unsigned int ntrailers;
	struct chunked_limits lim;
};

enum {
	CHUNKED_MORE = 0,		/* all the input is consumed, none of it data */
	CHUNKED_DATA = 1,		/* *data, *data_len: chunk data, inside buf */
	CHUNKED_DONE = 2,		/* last chunk and trailers read */
};

/* lim NULL: no body bound and the CHUNKED_DEF_* bounds. */
void chunked_dec_init(struct chunked_dec *d, const struct chunked_limits *lim);

/*
 * Reads buf[0, len) until it has data to report, needs more input, or the
 * body ends; *used bytes were consumed (call again with buf + *used).
 * Returns CHUNKED_DATA, CHUNKED_MORE (*used == len), CHUNKED_DONE (bytes
 * past *used belong to the next message: nothing is read past the final
 * CRLF), or -400 / -413 with d->error set (*used: where the bad byte is).
 * Once done or refused, it keeps saying so and consumes nothing.
 */
int chunked_decode(struct chunked_dec *d, const char *buf, size_t len, size_t *used,
		   const char **data, size_t *data_len);

/* Encoding: CHUNKED_SIZE_MAX bytes hold any chunk-size line. */
#define CHUNKED_SIZE_MAX	18	/* 16 hex digits and CRLF */
#define CHUNKED_CRLF		"\r\n"	/* after each chunk's data */
#define CHUNKED_LAST		"0\r\n\r\n"	/* last chunk, no trailers */

/*
 * Writes the chunk-size line "<hex>\r\n" for n data bytes into dst (room
 * for CHUNKED_SIZE_MAX) and returns its length. n == 0 writes the last
 * chunk's "0\r\n": trailers (if any) and CRLF follow it.
 */
size_t chunked_put_size(char *dst, uint64_t n);

#endif
