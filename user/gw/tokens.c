// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prompt token counts of request bodies. See tokens.h. */
#include <fnmatch.h>
#include <pthread.h>
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

/*
 * Texts counted lately, per worker thread: a conversation sends its system
 * prompt and its history again with every turn. Direct-mapped by a hash of
 * the text, each slot keeping the text itself, so a hit is an exact match
 * (memcmp), never a collision. Texts of CACHE_MIN to CACHE_MAX bytes only:
 * shorter ones count faster than they compare.
 */
#define CACHE_SLOTS	256
#define CACHE_MIN	256
#define CACHE_MAX	(64 * 1024)

struct cached {
	const struct bpe *b;
	char *text;
	size_t len;
	uint64_t tokens;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
	struct cached *c = p;

	for (size_t i = 0; i < CACHE_SLOTS; i++)
		free(c[i].text);
	free(c);
}

static void cache_init(void)
{
	if (pthread_key_create(&cache_key, cache_free))
		cache_key = (pthread_key_t)-1;
}

static struct cached *cache_slot(const char *s, size_t n)
{
	struct cached *c;
	uint64_t h = 0xcbf29ce484222325ULL;

	pthread_once(&cache_once, cache_init);
	if (cache_key == (pthread_key_t)-1)
		return NULL;
	c = pthread_getspecific(cache_key);
	if (!c) {
		c = calloc(CACHE_SLOTS, sizeof(*c));
		if (!c || pthread_setspecific(cache_key, c)) {
			free(c);
			return NULL;
		}
	}
	/* FNV-1a over the first and last 64 bytes and the length: the slot, not the match */
	for (size_t i = 0; i < 64; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	for (size_t i = n - 64; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	h ^= n;
	return &c[(h ^ h >> 32) % CACHE_SLOTS];
}

static uint64_t count(const struct bpe *b, const char *s)
{
	size_t len = strlen(s), n;
	struct cached *slot = NULL;
	char *copy;

	if (len >= CACHE_MIN && len <= CACHE_MAX && (slot = cache_slot(s, len)) &&
	    slot->b == b && slot->len == len && !memcmp(slot->text, s, len))
		return slot->tokens;
	n = bpe__count(b, s, len);
	/* no memory for a long piece: its bytes, an upper bound of its tokens */
	if (n == SIZE_MAX)
		return len;
	if (slot && (copy = realloc(slot->text, len))) {
		memcpy(copy, s, len);
		*slot = (struct cached){ b, copy, len, n };
	}
	return n;
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
