/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Server-sent events (text/event-stream, HTML Living Standard 9.2.6) seen
 * from the side: the proxy forwards a streamed response's bytes as they
 * come and feeds the same bytes here to learn where each event ends and
 * what its data says (to count tokens and to find the usage chunk).
 *
 * Events are reported zero-copy when they sit whole in one input; an event
 * cut across inputs is carried in a buffer of the parser, bounded by
 * max_event, so each one is reported whole and contiguous. Lines end with
 * CRLF, LF or CR; a blank line ends an event. Every block that a blank
 * line ends is reported, also those a browser would not fire (a comment
 * keep-alive ": ping", a leading blank line): ndata tells them apart, and
 * the raw spans of all events tile the stream.
 *
 * An event whose blank line is a lone CR is reported only once the next
 * byte is in (it may be the LF of a CRLF, which belongs to that event) or
 * at sse_finish(). Only CR-only streams wait: they are not seen in practice,
 * and the bytes themselves are forwarded without waiting anyway.
 */
#ifndef SLUICE_GW_SSE_H
#define SLUICE_GW_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* a Responses API "response.completed" event holds the whole output */
#define SSE_DEF_MAX_EVENT	(1024 * 1024)

struct sse_event {
	const char *raw;	/* the event's bytes, its blank line included */
	size_t raw_len;
	const char *data;	/* "data" lines' values joined with '\n'; NULL without any */
	size_t data_len;
	const char *type;	/* the last "event" value; NULL without */
	size_t type_len;
	const char *id;		/* the last "id" value (without NUL); NULL without */
	size_t id_len;
	unsigned int ndata;	/* "data" lines; 0: a browser would not dispatch it */
	bool done;		/* OpenAI's end of stream: data is exactly "[DONE]" */
};

struct sse_parser {
	size_t max_event;
	int err;		/* sticky: -E2BIG or -ENOMEM */
	unsigned long long nevents;
	/* an event begun in an earlier input */
	char *carry;
	size_t carry_len;
	size_t carry_cap;
	/* data of an event with several data lines */
	char *join;
	size_t join_cap;
	/* where the scan is, between inputs */
	unsigned int bom;	/* bytes of a leading UTF-8 BOM matched; 3: past the start */
	bool line_empty;
	bool cr;		/* the last byte was a CR ending a line: a LF next is part of it */
	bool pending_end;	/* the last byte was a CR ending a blank line */
};

/* max_event 0 takes SSE_DEF_MAX_EVENT. Allocates nothing yet. */
void sse_parser_init(struct sse_parser *p, size_t max_event);
/* Wipes (model output is as private as prompts) and frees the buffers. */
void sse_parser_fini(struct sse_parser *p);

/*
 * Looks in buf[0, len) for the end of the current event; *used bytes of buf
 * are consumed (call again with buf + *used). Returns 1 with *ev set (its
 * pointers hold until the next call), 0 when all of buf is consumed without
 * ending an event (a partial event is kept), -E2BIG when an event grows past
 * max_event, or -ENOMEM. Errors are sticky: the caller stops parsing (the
 * stream itself can still be forwarded).
 */
int sse_next(struct sse_parser *p, const char *buf, size_t len, size_t *used,
	     struct sse_event *ev);

/*
 * At the end of the stream: returns 1 with *ev for an event that only
 * waited for a byte after its final CR, or 0 (an incomplete event is
 * dropped, as a browser drops it).
 */
int sse_finish(struct sse_parser *p, struct sse_event *ev);

#endif
