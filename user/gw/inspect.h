/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prompt inspection: what a request body gives the model, found by
 * walking its JSON the way the APIs read it, scanned, judged by the
 * ordered rules, and masked where they say.
 *
 * Text pieces (each a JSON string, with the role of whoever wrote it):
 *   messages[].content        string, or parts {"type":"text","text":...}
 *                             and Anthropic blocks: text, tool_use (every
 *                             string of "input"), tool_result ("content")
 *   messages[].tool_calls[].function.arguments, messages[].function_call
 *   system, instructions      (Anthropic, Responses): role system
 *   prompt, input             (completions, embeddings, Responses; input
 *                             items with a role are messages)
 * Everything else passes untouched. After a change the body is printed
 * again (cJSON: numbers past 2^53 lose precision) and framed anew.
 *
 * Rules run in order. allow and block stop; mask, reroute, tag and
 * escalate go on. A rule in monitor mode is recorded with what it would
 * have done and changes nothing. Masks replace the matched spans of the
 * original text, so a match found through the folded view still masks
 * the zero-width or full-width characters that hid it.
 */
#ifndef SLUICE_GW_INSPECT_H
#define SLUICE_GW_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include "gw/config.h"
#include "gw/detect.h"

enum decision {
	DEC_ALLOWED = 0,
	DEC_MODIFIED,
	DEC_BLOCKED,
	DEC_REROUTED,
	DEC_THROTTLED,
	DEC_ERROR,
};

const char *decision_name(enum decision d);

#define INSP_HASH_KEY	32
#define INSP_MAX_TAGS	32

struct insp_piece {
	cJSON *node;			/* a string item of the body */
	uint32_t role;			/* ROLE_* */
	struct detect_result r;
};

/* One rule that matched. */
struct insp_reason {
	unsigned int rule;		/* index in cfg rules */
	bool monitor;
	bool answer;			/* it judged the model's answer */
	uint32_t counts[PII_NKINDS];	/* the detections it matched on */
	uint64_t sets;
};

/* A placeholder given out, with the value it stands for (kept only to restore). */
struct insp_value {
	char label[40];
	uint32_t kind;
	char *value;
	size_t len;
};

/* What the request path hands in. */
struct insp_ctx {
	const struct cfg_inspect *cfg;
	const struct detect_db *db;
	struct detect_scan *scan;	/* the worker's */
	const unsigned char *key;	/* INSP_HASH_KEY bytes */
	const EVP_MAC_CTX *mac;		/* keyed with key, copied per use; NULL: keyed per use */
	int route;
	const char *model;
	const struct sockaddr_storage *peer;
	size_t body_len;
	bool keep_masked;		/* the audit trail wants the masked text */
	bool hash_prompt;		/* ... and the prompt's keyed hash */
	bool answer;			/* judging the answer: the rules scoped to responses */
};

struct inspection {
	struct insp_piece *pieces;
	size_t npieces, cap;
	struct insp_reason *reasons;
	size_t nreasons, rcap;
	uint32_t counts[PII_NKINDS];	/* detections in the whole request */
	uint32_t masked[PII_NKINDS];	/* entities rewritten */
	uint32_t answer_masked[PII_NKINDS];	/* ... in the answer */
	uint64_t sets;			/* pattern sets matched anywhere */
	enum decision decision;
	enum decision would;		/* with the monitor rules enforced too */
	int block_rule;			/* -1: none */
	bool answer_blocked;		/* block_rule stopped the answer */
	int reroute;			/* pool, -1: none */
	const char *tags[INSP_MAX_TAGS];
	size_t ntags;
	unsigned int escalations;
	struct insp_value *values;
	size_t nvalues, vcap;
	bool restore;			/* a rule asked for placeholders to be restored */
	bool truncated;			/* a piece had more candidates than scanned */
	unsigned char prompt_hash[32];	/* HMAC-SHA256 of the text pieces as they came */
	char *body;			/* the body printed again after masking, or NULL */
	size_t body_len;
	char *masked_text;		/* with keep_masked: the pieces as sent, '\n' between */
	size_t masked_len;
	char why[160];			/* for the errors below */
};

/*
 * Inspects body[0, len). 0 with *in filled; -EINVAL when the body is not
 * a JSON object by jsonreq_parse()'s strict reading, -E2BIG past max_depth
 * or max_pieces, -EMSGSIZE past max_text_bytes (why says which and the
 * figures), -ENOMEM. The caller frees *in with inspection_free() whatever
 * the result.
 */
int inspect_request(const struct insp_ctx *ctx, const char *body, size_t len,
		    struct inspection *in);
/*
 * The same over a tree jsonreq_parse() made of the body, which stays the
 * caller's: masking rewrites its strings in place.
 */
int inspect_tree(const struct insp_ctx *ctx, cJSON *root, struct inspection *in);
void inspection_free(struct inspection *in);

/*
 * The answer side: the rules scoped to responses judge text[0, len) of the
 * model's answer (role assistant) for the request inspected in in. On a
 * stream, the text is what is not yet released: unless final, the last
 * window bytes are held back (and never a detection or a UTF-8 character
 * cut in two), and *upto says how much may go now. The text that goes,
 * masked, is in *out (*olen bytes, malloc'd; NULL when unchanged). A rule
 * is recorded in in->reasons once per answer, its counts summed. Returns
 * 1 when a rule blocks the answer, 0, or -ENOMEM.
 */
int inspect_answer(const struct insp_ctx *ctx, struct inspection *in, const char *text,
		   size_t len, bool final, size_t window, size_t *upto, char **out, size_t *olen);

/* n bytes as 2n lower-case hex digits and a NUL */
void insp_hex(const unsigned char *b, size_t n, char *out);

/* An HMAC-SHA256 context keyed with key (INSP_HASH_KEY bytes); NULL on failure. */
EVP_MAC_CTX *insp_mac_new(const unsigned char *key);
/* HMAC-SHA256 of data under ctx's key, as lower-case hex of the first n bytes (n ≤ 32). */
void insp_hmac_hex(const struct insp_ctx *ctx, const void *data, size_t len, size_t n,
		   char *out);

/*
 * Replaces the placeholders of in that occur in text[0, len) by their
 * values, JSON-escaped when json. Returns a new string (*olen set) or NULL
 * when there is nothing to replace (or no memory: the text then goes as it
 * is, and *olen is set to 0).
 */
char *insp_restore(const struct inspection *in, const char *text, size_t len, bool json,
		   size_t *olen);

#endif
