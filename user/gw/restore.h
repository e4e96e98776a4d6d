/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The answer filter. The rules scoped to responses judge the model's
 * answer (masking what they mask, or stopping it), then the placeholders
 * the request was given ([EMAIL_1]) are replaced by what they stand for
 * before the client sees them.
 *
 * Judged, a whole body is held to its end (at most inspect.max_text_bytes)
 * and its answer strings (choices[].message.content and parts, tool-call
 * arguments, choices[].text, Anthropic content[].text, Responses
 * output[].content[].text) judged one by one; the response head waits for
 * the verdict, so a blocked answer becomes the rule's error response. On a
 * stream the text is judged as it comes, with the last response_window
 * bytes held back so a value split across events is caught; a blocked
 * stream ends with an error event in the API's shape.
 *
 * A whole body (JSON or text) is filtered as bytes. A stream of server-sent
 * events is filtered event by event, on the text the model writes
 * (choices[].delta.content, choices[].text, Anthropic's delta.text, the
 * Responses API's delta): models write a placeholder in several tokens,
 * so the text is treated as one stream across events. A tail that could
 * still become a placeholder is held back (at most the longest label) and
 * goes out with the next text, or, before an event without text (the
 * finish, usage, [DONE]), in a copy of the last event that had text.
 *
 * The meter, on a stream whose tokens the gateway accounts for, counts the
 * completion as it goes by (the text, tool-call arguments and reasoning of
 * each event, with the model's encoding or at four bytes a token). Past its
 * budget the stream is cut: what is held goes out, then the end the API
 * gives a completion stopped at its bound (OpenAI: a chunk with
 * finish_reason "length", the usage chunk if the client asked for one,
 * [DONE]; Anthropic: content_block_stop, message_delta with stop_reason
 * "max_tokens", message_stop; Responses: response.incomplete), after an
 * SSE comment saying why, and the rest of the upstream's answer is not
 * read. Where the gateway asked an OpenAI stream for its usage
 * (stream_options.include_usage), the meter hides the answer to that from
 * the client: the usage chunk (empty choices) is dropped and the
 * "usage":null of the other chunks taken out.
 */
#ifndef SLUICE_GW_RESTORE_H
#define SLUICE_GW_RESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gw/buf.h"
#include "gw/inspect.h"
#include "gw/sse.h"

struct bpe;

struct restore {
	struct inspection *in;
	struct insp_ctx ctx;		/* the answer rules' */
	bool judge;			/* rules judge the answer */
	bool restoring;			/* placeholders get their values back */
	bool anthropic;			/* the error event's shape */
	bool blocked;			/* a rule stopped the answer: the rest is dropped */
	bool whole;			/* judged and not a stream: held to its end */
	struct buf pend;		/* stream: answer text not yet released */
	struct buf body;		/* whole: the body so far */
	struct buf head;		/* whole: the response head, sent after the verdict */
	bool sse;			/* text/event-stream */
	bool json;			/* values are JSON-escaped where they land */
	struct sse_parser sp;
	char held[64];			/* a possible start of a placeholder */
	size_t nheld;
	cJSON *last;			/* SSE: the last event with text, for a flush */
	char *last_type;		/* its event: field */
	unsigned long long restored;	/* placeholders replaced */
	/* the meter (restore_meter()) */
	bool metering;
	bool strip_usage;		/* the usage was asked for by the gateway, not the client */
	bool cut;			/* the budget ran out: the stream was ended */
	const struct bpe *bpe;		/* counts the completion; NULL: four bytes a token */
	uint64_t budget;		/* completion tokens the stream may have; 0: no bound */
	uint64_t counted;		/* completion tokens seen */
	uint64_t prompt;		/* for a usage chunk of our own */
};

/*
 * ctx: the answer rules judge with it (NULL: only restore). in: the
 * request's inspection, NULL when it had none. content_type may be NULL.
 */
void restore_init(struct restore *r, struct inspection *in, const struct insp_ctx *ctx,
		  bool anthropic, const char *content_type, size_t ctlen);
/*
 * Meters a stream (after restore_init(); see above). budget 0: counted,
 * never cut. prompt: the prompt's tokens, for the usage chunk of a cut.
 */
void restore_meter(struct restore *r, bool strip_usage, const struct bpe *bpe, uint64_t budget,
		   uint64_t prompt);
/*
 * Filters decoded body bytes, appending what the client gets to out. 0,
 * -ENOMEM, or -EMSGSIZE when a whole body passes inspect.max_text_bytes.
 */
int restore_feed(struct restore *r, const char *data, size_t len, struct buf *out, size_t max);
/*
 * The end of the body: what is held goes out. 0, 1 when a rule blocks a
 * whole answer (nothing went out: the caller answers with the rule's
 * error), or -ENOMEM.
 */
int restore_finish(struct restore *r, struct buf *out, size_t max);
/*
 * The backend failed in the middle of a stream: what is held is released,
 * a half-sent event dropped, and an error event in the API's shape (type
 * api_error, code upstream_error, message why) ends the answer; the rest
 * is dropped. -EINVAL when the answer is not a stream (nothing to append
 * to), -ENOMEM.
 */
int restore_fail(struct restore *r, const char *why, struct buf *out, size_t max);
void restore_fini(struct restore *r);

/*
 * The core, on one run of text: held + text with every whole placeholder
 * replaced goes to out; a tail that may begin a placeholder stays held.
 * final: nothing more comes, so nothing is held.
 */
int restore_text(struct restore *r, const char *text, size_t len, bool json, bool final,
		 struct buf *out, size_t max);

#endif
