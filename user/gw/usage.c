// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Token usage from the answer's bytes (see usage.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "gw/usage.h"

int usage_tap_init(struct usage_tap *t)
{
	if (!t->head)
		t->head = malloc(USAGE_HEAD);
	if (!t->tail)
		t->tail = malloc(2 * USAGE_TAIL);
	if (!t->head || !t->tail) {
		usage_tap_free(t);
		return -ENOMEM;
	}
	t->hlen = t->tlen = 0;
	t->bytes = 0;
	t->on = true;
	return 0;
}

void usage_tap_end(struct usage_tap *t)
{
	t->on = false;
}

void usage_tap_free(struct usage_tap *t)
{
	free(t->head);
	free(t->tail);
	memset(t, 0, sizeof(*t));
}

void usage_tap_add(struct usage_tap *t, const char *data, size_t len)
{
	size_t n;

	if (!t->on)
		return;
	t->bytes += len;
	n = len < USAGE_HEAD - t->hlen ? len : USAGE_HEAD - t->hlen;
	memcpy(t->head + t->hlen, data, n);
	t->hlen += n;
	/* the tail: the last USAGE_TAIL bytes, moved down once the room is used */
	if (len >= USAGE_TAIL) {
		memcpy(t->tail, data + len - USAGE_TAIL, USAGE_TAIL);
		t->tlen = USAGE_TAIL;
		return;
	}
	if (t->tlen + len > 2 * USAGE_TAIL) {
		size_t keep = USAGE_TAIL - len;

		memmove(t->tail, t->tail + t->tlen - keep, keep);
		t->tlen = keep;
	}
	memcpy(t->tail + t->tlen, data, len);
	t->tlen += len;
}

static uint64_t num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 ?
		       (uint64_t)v->valuedouble : 0;
}

static void take(uint64_t *field, uint64_t v)
{
	if (v > *field)
		*field = v;
}

/* Every "usage": {...} in s[0, n) into u. */
static void scan(const char *s, size_t n, struct usage *u)
{
	static const char key[] = "\"usage\"";
	const char *p, *end = s + n;

	for (p = s; (p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)); p++) {
		const char *q = p + sizeof(key) - 1;
		cJSON *o;

		while (q < end && (*q == ' ' || *q == ':' || *q == '\t'))
			q++;
		if (q == end || *q != '{' ||
		    !(o = cJSON_ParseWithLengthOpts(q, (size_t)(end - q), NULL, false)))
			continue;
		if (cJSON_IsObject(o)) {
			uint64_t in = num(o, "input_tokens", NULL);
			uint64_t cread = num(o, "cache_read_input_tokens", NULL);

			u->found = true;
			take(&u->prompt, num(o, "prompt_tokens", NULL));
			/* Anthropic's input_tokens leave out the cached ones */
			take(&u->prompt, in + cread + num(o, "cache_creation_input_tokens", NULL));
			take(&u->completion, num(o, "completion_tokens", NULL));
			take(&u->completion, num(o, "output_tokens", NULL));
			take(&u->cached, num(o, "prompt_tokens_details", "cached_tokens"));
			take(&u->cached, num(o, "input_tokens_details", "cached_tokens"));
			take(&u->cached, cread);
			take(&u->reasoning, num(o, "completion_tokens_details", "reasoning_tokens"));
			take(&u->reasoning, num(o, "output_tokens_details", "reasoning_tokens"));
		}
		cJSON_Delete(o);
	}
}

void usage_parse(const struct usage_tap *t, struct usage *u)
{
	memset(u, 0, sizeof(*u));
	if (!t->on)
		return;
	scan(t->head, t->hlen, u);
	/* the tail repeats the head when the body was short */
	if (t->bytes > t->hlen)
		scan(t->tail, t->tlen, u);
}
