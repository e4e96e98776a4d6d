/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The token usage a backend reports, read from the answer as it passes:
 * OpenAI chat and completions ("usage": prompt_tokens, completion_tokens,
 * prompt_tokens_details.cached_tokens, completion_tokens_details.
 * reasoning_tokens), Responses (input_tokens, output_tokens, their _details)
 * and Anthropic (input_tokens plus cache_read_input_tokens and
 * cache_creation_input_tokens, output_tokens), whole or streamed. The tap
 * keeps the first USAGE_HEAD and the last USAGE_TAIL bytes of the body:
 * usage is near the end (OpenAI, Responses, Anthropic's message_delta) or
 * at the start (Anthropic's message_start); every "usage" object in them
 * counts, each field its largest value.
 */
#ifndef SLUICE_GW_USAGE_H
#define SLUICE_GW_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USAGE_HEAD	4096
#define USAGE_TAIL	16384

struct usage_tap {
	char *head, *tail;		/* USAGE_HEAD, 2 * USAGE_TAIL bytes, kept for the next request */
	size_t hlen, tlen;
	uint64_t bytes;			/* of the whole body */
	bool on;			/* tapping this request's answer */
};

struct usage {
	uint64_t prompt, completion, cached, reasoning;
	bool found;			/* the backend reported usage */
};

/* Starts tapping a request's answer (the buffers are made once per tap). 0 or -ENOMEM */
int usage_tap_init(struct usage_tap *t);
void usage_tap_add(struct usage_tap *t, const char *data, size_t len);
/* Stops tapping; the buffers stay for the next request. */
void usage_tap_end(struct usage_tap *t);
void usage_tap_free(struct usage_tap *t);

/* What the tapped bytes report; found false when nothing was. */
void usage_parse(const struct usage_tap *t, struct usage *u);

#endif
