/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A request body read as JSON, strictly: the gateway routes, limits and
 * inspects by what the body says, so it must read exactly what the
 * backend will, or a request says one thing to us and another to the
 * model. cJSON alone is lenient where backends are strict, or where they
 * are lenient in another direction:
 *
 *   refused                        because
 *   invalid UTF-8 (RFC 3629)       backends refuse it, or drop or replace
 *                                  the bytes: "ign\xffore" is scanned as
 *                                  one word and may be read as another
 *   control bytes (RFC 8259 7):    cJSON skips any byte below 0x21 between
 *   any in a string, any but       tokens and keeps them in strings
 *   HTAB LF CR between tokens
 *   \u0000 in a string             a C string ends there: inspection would
 *                                  read less of the text than the model
 *   a key twice in one object      cJSON finds the first, Python and most
 *                                  others keep the last
 *   data after the value           cJSON stops at the end of the value
 *   nesting past 1000 levels       cJSON's own bound, named
 *   a top-level value not {...}    every API takes an object
 *
 * and the fields the gateway reads itself must have the types the APIs
 * give them (a string "true" for stream, or a max_tokens of 1.5 or 1e400,
 * would be read one way here and another there, or not at all).
 */
#ifndef SLUICE_GW_JSONREQ_H
#define SLUICE_GW_JSONREQ_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define JSONREQ_MAX_DEPTH	1000		/* cJSON's CJSON_NESTING_LIMIT */
#define JSONREQ_MAX_TOKENS	999999999999ULL	/* the largest completion bound taken */

/* Why a body was refused, for the client. */
struct jsonreq_error {
	const char *code;	/* "invalid_json", "invalid_type" or "invalid_value" */
	char why[160];		/* names the field or the byte */
};

/* The names APIs give the completion's bound: chat, newer chat, Responses; NULL-ended. */
extern const char *const jsonreq_max_tokens_keys[];

/*
 * Parses body[0, len) as above. Returns the tree (jsonreq_delete() it),
 * or NULL with errno EINVAL (or ENOMEM) and *err filled.
 *
 * Fields checked where present: model (a string), user (a string or
 * null), stream (a boolean or null), stream_options (an object or null),
 * messages (an array of objects, each content a string, an array or
 * null), instructions, system, prompt, input (a string, an array or
 * null), and each of jsonreq_max_tokens_keys (null, or an integer from 1
 * to JSONREQ_MAX_TOKENS).
 */
cJSON *jsonreq_parse(const char *body, size_t len, struct jsonreq_error *err);

/* Zeroes every string and key of root (prompt text), then frees it; NULL is fine. */
void jsonreq_delete(cJSON *root);

#endif
