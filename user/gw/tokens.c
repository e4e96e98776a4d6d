// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prompt token counts of request bodies. See tokens.h. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tokens.h"
#include "lib/bpe.h"

#define PER_MESSAGE	3	/* <|start|>role<|message|> ... <|end|> */
#define PER_NAME	1
#define PER_REPLY	3	/* <|start|>assistant<|message|> */

const struct bpe *tokens_for(const struct cfg_tokenizer *t, const char *model)
{
	unsigned int enc;

	if (!t)
		return NULL;
	enc = t->dflt;
	for (size_t i = 0; model && i < t->nmodels; i++)
		if (!fnmatch(t->models[i].model, model, 0)) {
			enc = t->models[i].enc;
			break;
		}
	return enc < TOK_ESTIMATE ? t->bpe[enc] : NULL;
}

static uint64_t count(const struct bpe *b, const char *s)
{
	size_t n = bpe__count(b, s, strlen(s));

	/* no memory for a long piece: its bytes, an upper bound of its tokens */
	return n == SIZE_MAX ? strlen(s) : n;
}

static uint64_t str(const struct bpe *b, const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring ? count(b, v->valuestring) : 0;
}

/* A string, or the text of each part of an array ({"text": ...}, or strings). */
static uint64_t content(const struct bpe *b, const cJSON *v)
{
	const cJSON *p, *list = cJSON_IsArray(v) ? v : NULL;
	uint64_t n = 0;

	if (cJSON_IsString(v))
		return str(b, v);
	cJSON_ArrayForEach(p, list) {
		if (cJSON_IsString(p))
			n += str(b, p);
		else
			n += str(b, cJSON_GetObjectItemCaseSensitive(p, "text"));
	}
	return n;
}

/* A JSON value as its text (definitions of tools and functions). */
static uint64_t json_text(const struct bpe *b, const cJSON *v)
{
	char *s;
	uint64_t n;

	if (!v)
		return 0;
	s = cJSON_PrintUnformatted(v);
	if (!s)
		return 0;
	n = count(b, s);
	cJSON_free(s);
	return n;
}

static uint64_t messages(const struct bpe *b, const cJSON *list)
{
	const cJSON *m, *call;
	uint64_t n = 0;

	cJSON_ArrayForEach(m, list) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");

		if (!cJSON_IsObject(m))
			continue;
		n += PER_MESSAGE + str(b, cJSON_GetObjectItemCaseSensitive(m, "role")) +
		     content(b, cJSON_GetObjectItemCaseSensitive(m, "content"));
		if (cJSON_IsString(name))
			n += PER_NAME + str(b, name);
		cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
			const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");

			n += str(b, cJSON_GetObjectItemCaseSensitive(fn, "name")) +
			     str(b, cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
		}
	}
	return n + PER_REPLY;
}

/* prompt / input: a string, strings, a token array, or token arrays. */
static uint64_t texts(const struct bpe *b, const cJSON *v)
{
	const cJSON *p, *list = cJSON_IsArray(v) ? v : NULL;
	uint64_t n = 0;

	if (cJSON_IsString(v))
		return str(b, v);
	cJSON_ArrayForEach(p, list) {
		if (cJSON_IsNumber(p))
			n++;
		else if (cJSON_IsArray(p))
			n += (uint64_t)cJSON_GetArraySize(p);
		else
			n += str(b, p);
	}
	return n;
}

uint64_t tokens_prompt(const struct bpe *b, const cJSON *root)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(root, "input");
	uint64_t n = json_text(b, cJSON_GetObjectItemCaseSensitive(root, "tools")) +
		     json_text(b, cJSON_GetObjectItemCaseSensitive(root, "functions"));

	if (cJSON_IsArray(msgs))
		return n + content(b, cJSON_GetObjectItemCaseSensitive(root, "system")) +
		       messages(b, msgs);
	n += str(b, cJSON_GetObjectItemCaseSensitive(root, "instructions"));
	/* Responses: input as messages, else as texts (embeddings' shapes) */
	if (cJSON_IsArray(input) && cJSON_IsObject(cJSON_GetArrayItem(input, 0)))
		return n + messages(b, input);
	return n + texts(b, input) + texts(b, cJSON_GetObjectItemCaseSensitive(root, "prompt"));
}
