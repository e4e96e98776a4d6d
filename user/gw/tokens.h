/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A request's prompt tokens, counted before it is forwarded: with the
 * model's encoding (the config's tokenizer section) where one is known,
 * else estimated at four bytes a token.
 *
 * What is counted, as OpenAI counts it:
 *   chat messages[]   3 a message, plus its role, its content (a string,
 *                     or the text of each part), its name (and 1 more),
 *                     each tool call's function name and arguments; 3
 *                     more for the reply's priming
 *   completions       prompt: a string, strings, or token arrays (their
 *                     length)
 *   embeddings        input: the same shapes
 *   Responses         instructions, and input as a string or as messages
 *                     counted as chat's
 *   Anthropic         system (a string or text blocks) and messages as
 *                     chat's (Anthropic publishes no tokenizer: map claude
 *                     models to "estimate" unless a table is known to fit)
 * Tool and function definitions are counted as their JSON text, which
 * providers do not document: there the count is close, not exact.
 *
 * Texts of 256 bytes to 64 KiB are remembered per worker thread with their
 * counts (256 slots, the text kept to compare): a conversation's system
 * prompt and history come again with every turn.
 */
#ifndef SLUICE_GW_TOKENS_H
#define SLUICE_GW_TOKENS_H

#include <stdint.h>
#include <cjson/cJSON.h>

struct bpe;
struct cfg_tokenizer;

/* The table model is counted with; NULL: estimate (no tokenizer, or mapped so). */
const struct bpe *tokens_for(const struct cfg_tokenizer *t, const char *model);

/* The prompt tokens of the parsed body root, with b. */
uint64_t tokens_prompt(const struct bpe *b, const cJSON *root);

#endif
