// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Text replies: what the "model" says, and how each API shapes it, whole
 * and as SSE.
 *
 * The reply is a function of the request alone (no clock, no counter), so
 * a test can compute it:
 *   --echo / x-mock-echo: 1   the request body, byte for byte;
 *   --tokens N / x-mock-tokens: N
 *                             "tok1 tok2 ... tokN"; a request's max tokens
 *                             field sets N instead (finish "length");
 *   otherwise                 "echo:" and the words of the last user
 *                             message, one space apart, cut at the
 *                             request's max tokens (finish "length").
 * A token is a word with the whitespace before it, so the streamed deltas
 * concatenate to exactly the whole reply. Usage: prompt tokens are the
 * whitespace-separated words of every message/prompt/input/system/
 * instructions text; completion tokens are the reply's tokens.
 * Ids are the FNV-1a hash of the body; "created" is MOCK_CREATED.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "mock.h"

uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *s = p;

	while (n--) {
		h ^= *s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

uint32_t count_words(const char *s, size_t n)
{
	uint32_t words = 0;
	bool in = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (is_space(s[i]))
			in = false;
		else if (!in)
			in = true, words++;
	}
	return words;
}

/*
 * Text of a content value: a string, or an array of parts whose "text"
 * members are taken (text, input_text, output_text; images and tool parts
 * have none). Parts are joined with a space.
 */
static void content_text(const cJSON *v, struct buf *out)
{
	const cJSON *part, *t;

	if (cJSON_IsString(v)) {
		buf_puts(out, v->valuestring);
		return;
	}
	if (!cJSON_IsArray(v))
		return;
	cJSON_ArrayForEach(part, v) {
		t = cJSON_IsString(part) ? part : cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(t))
			continue;
		if (out->len)
			buf_lit(out, " ");
		buf_puts(out, t->valuestring);
	}
}

static uint32_t content_words(const cJSON *v, struct buf *tmp)
{
	tmp->len = 0;
	content_text(v, tmp);
	return count_words(tmp->p, tmp->len);
}

/*
 * Words of all messages (chat, messages, responses input arrays), and the
 * content of the last one from the user into *last. Refuses a non-array.
 */
static int messages_scan(const cJSON *msgs, uint32_t *words, struct buf *last)
{
	const cJSON *m, *role, *content, *last_user = NULL;
	struct buf tmp = {};

	if (!cJSON_IsArray(msgs))
		return -1;
	cJSON_ArrayForEach(m, msgs) {
		if (!cJSON_IsObject(m))
			continue;
		content = cJSON_GetObjectItemCaseSensitive(m, "content");
		*words += content_words(content, &tmp);
		role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (cJSON_IsString(role) && !strcmp(role->valuestring, "user"))
			last_user = content;
	}
	buf_free(&tmp);
	if (last_user)
		content_text(last_user, last);
	return 0;
}

static int64_t int_field(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);

	return cJSON_IsNumber(v) && v->valuedouble >= 1 ? (int64_t)v->valuedouble : 0;
}

/* The request's own cap on the reply, in tokens; 0: none. */
static int64_t max_tokens(enum api_kind kind, const cJSON *j)
{
	int64_t m;

	switch (kind) {
	case API_CHAT:
		m = int_field(j, "max_completion_tokens");
		return m ? m : int_field(j, "max_tokens");
	case API_RESPONSES:
		return int_field(j, "max_output_tokens");
	default:
		return int_field(j, "max_tokens");
	}
}

/* Prompt words and the text the default reply echoes, per API. */
static int prompt_scan(enum api_kind kind, const cJSON *j, uint32_t *words, struct buf *last,
		       const char **param)
{
	const cJSON *v, *item;
	struct buf tmp = {};

	switch (kind) {
	case API_CHAT:
		*param = "messages";
		return messages_scan(cJSON_GetObjectItemCaseSensitive(j, "messages"), words, last);
	case API_MESSAGES:
		*param = "messages";
		*words += content_words(cJSON_GetObjectItemCaseSensitive(j, "system"), &tmp);
		buf_free(&tmp);
		return messages_scan(cJSON_GetObjectItemCaseSensitive(j, "messages"), words, last);
	case API_COMPLETIONS:
		*param = "prompt";
		v = cJSON_GetObjectItemCaseSensitive(j, "prompt");
		if (cJSON_IsString(v)) {
			buf_puts(last, v->valuestring);
		} else if (cJSON_IsArray(v)) {
			cJSON_ArrayForEach(item, v)
				*words += cJSON_IsString(item) ?
					  count_words(item->valuestring, strlen(item->valuestring)) : 1;
			item = cJSON_GetArrayItem(v, 0);
			if (cJSON_IsString(item))
				buf_puts(last, item->valuestring);
			return 0;
		} else {
			return -1;
		}
		*words += count_words(last->p, last->len);
		return 0;
	case API_RESPONSES:
		*param = "input";
		*words += content_words(cJSON_GetObjectItemCaseSensitive(j, "instructions"), &tmp);
		buf_free(&tmp);
		v = cJSON_GetObjectItemCaseSensitive(j, "input");
		if (cJSON_IsString(v)) {
			buf_puts(last, v->valuestring);
			*words += count_words(last->p, last->len);
			return 0;
		}
		return messages_scan(v, words, last);
	}
	return -1;
}

/*
 * Token boundaries: a token runs from the end of the previous word to the
 * end of its own, so it carries the whitespace before it (" hello"); the
 * first token also takes any leading whitespace, the last any trailing.
 */
static void split(struct reply *rp)
{
	const char *t = rp->text;
	size_t i, len = rp->text_len, prev_end = 0;
	uint32_t n = 0, cap = 16;

	rp->piece = xmalloc(cap * sizeof(*rp->piece));
	for (i = 0; i < len; i++) {
		if (is_space(t[i]))
			continue;
		if (!i || is_space(t[i - 1])) {
			if (n + 2 > cap) {
				cap *= 2;
				rp->piece = xrealloc(rp->piece, cap * sizeof(*rp->piece));
			}
			rp->piece[n] = n ? prev_end : 0;
			n++;
		}
		if (i + 1 == len || is_space(t[i + 1]))
			prev_end = i + 1;
	}
	if (!n && len)
		rp->piece[n++] = 0;	/* whitespace only: one token */
	rp->piece[n] = len;
	rp->npieces = n;
}

static void make_text(struct reply *rp, enum api_kind kind, const cJSON *j,
		      const struct req *r, struct buf *last)
{
	int64_t cap = max_tokens(kind, j);
	struct buf t = {};
	uint64_t n, i;
	const char *p, *end;

	if (r->echo) {
		buf_put(&t, r->body, r->body_len);
	} else if (r->tokens) {
		n = cap ? (uint64_t)cap : r->tokens;
		if (n > MOCK_MAX_TOKENS)
			n = MOCK_MAX_TOKENS;
		for (i = 1; i <= n; i++)
			buf_printf(&t, i > 1 ? " tok%" PRIu64 : "tok%" PRIu64, i);
		rp->truncated = cap != 0;
	} else {
		buf_lit(&t, "echo:");
		n = 1;
		p = last->p;
		end = p ? p + last->len : p;
		while (p < end) {
			const char *w;

			while (p < end && is_space(*p))
				p++;
			if (p == end)
				break;
			if (cap && (int64_t)n >= cap) {
				rp->truncated = true;
				break;
			}
			w = p;
			while (p < end && !is_space(*p))
				p++;
			buf_lit(&t, " ");
			buf_put(&t, w, p - w);
			n++;
		}
	}
	rp->text = t.p ? t.p : xcalloc(1, 1);
	rp->text_len = t.len;
	split(rp);
}

struct reply *reply_new(enum api_kind kind, const cJSON *j, const struct req *r,
			const char **param, const char **msg)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "stream_options");
	static const char *const prefix[] = {
		[API_CHAT] = "chatcmpl-", [API_COMPLETIONS] = "cmpl-",
		[API_RESPONSES] = "resp_", [API_MESSAGES] = "msg_",
	};
	struct buf last = {};
	struct reply *rp;
	uint32_t words = 0;

	if (model && !cJSON_IsString(model)) {
		*param = "model";
		*msg = "'model' must be a string";
		return NULL;
	}
	if (prompt_scan(kind, j, &words, &last, param)) {
		*msg = kind == API_COMPLETIONS ? "'prompt' must be a string or an array" :
		       kind == API_RESPONSES ? "'input' must be a string or an array" :
		       "'messages' must be an array";
		buf_free(&last);
		return NULL;
	}
	rp = xcalloc(1, sizeof(*rp));
	rp->kind = kind;
	snprintf(rp->id, sizeof(rp->id), "%s%016" PRIx64, prefix[kind],
		 fnv1a(r->body, r->body_len, FNV1A_INIT));
	if (model) {
		rp->model = xstrndup(model->valuestring, strlen(model->valuestring));
	} else {
		rp->model = xstrndup(srv.conf.models[0], strlen(srv.conf.models[0]));
	}
	rp->model_len = strlen(rp->model);
	rp->prompt_tokens = words;
	rp->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
	rp->chunked = r->minor == 1;
	rp->interval_ns = r->interval_ns;
	make_text(rp, kind, j, r, &last);
	buf_free(&last);
	return rp;
}

void reply_free(struct reply *rp)
{
	if (!rp)
		return;
	free(rp->model);
	free(rp->text);
	free(rp->piece);
	free(rp);
}

static void usage_openai(const struct reply *rp, struct buf *b)
{
	buf_lit(b, "{\"prompt_tokens\":");
	buf_u64(b, rp->prompt_tokens);
	buf_lit(b, ",\"completion_tokens\":");
	buf_u64(b, rp->npieces);
	buf_lit(b, ",\"total_tokens\":");
	buf_u64(b, (uint64_t)rp->prompt_tokens + rp->npieces);
	buf_lit(b, "}");
}

static void usage_responses(const struct reply *rp, struct buf *b)
{
	buf_lit(b, "{\"input_tokens\":");
	buf_u64(b, rp->prompt_tokens);
	buf_lit(b, ",\"output_tokens\":");
	buf_u64(b, rp->npieces);
	buf_lit(b, ",\"total_tokens\":");
	buf_u64(b, (uint64_t)rp->prompt_tokens + rp->npieces);
	buf_lit(b, "}");
}

/* "id":..,"object"/"type":..,"created":..,"model":.. common to OpenAI objects */
static void openai_common(const struct reply *rp, struct buf *b, const char *object)
{
	buf_lit(b, "{\"id\":\"");
	buf_puts(b, rp->id);
	buf_lit(b, "\",\"object\":\"");
	buf_puts(b, object);
	buf_lit(b, "\",\"created\":");
	buf_u64(b, MOCK_CREATED);
	buf_lit(b, ",\"model\":");
	buf_json_str(b, rp->model, rp->model_len);
}

static const char *finish(const struct reply *rp)
{
	return rp->truncated ? "length" : "stop";
}

/* The item id of a Responses message: the response id with msg_ for resp_. */
static void responses_msg_id(const struct reply *rp, struct buf *b)
{
	buf_lit(b, "\"msg_");
	buf_puts(b, rp->id + 5);
	buf_lit(b, "\"");
}

static void responses_output_item(const struct reply *rp, struct buf *b, bool done)
{
	buf_lit(b, "{\"type\":\"message\",\"id\":");
	responses_msg_id(rp, b);
	buf_puts(b, done ? ",\"status\":\"completed\"" : ",\"status\":\"in_progress\"");
	buf_lit(b, ",\"role\":\"assistant\",\"content\":[");
	if (done) {
		buf_lit(b, "{\"type\":\"output_text\",\"text\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, ",\"annotations\":[]}");
	}
	buf_lit(b, "]}");
}

static void responses_object(const struct reply *rp, struct buf *b, bool done)
{
	buf_lit(b, "{\"id\":\"");
	buf_puts(b, rp->id);
	buf_lit(b, "\",\"object\":\"response\",\"created_at\":");
	buf_u64(b, MOCK_CREATED);
	if (!done)
		buf_lit(b, ",\"status\":\"in_progress\"");
	else if (rp->truncated)
		buf_lit(b, ",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}");
	else
		buf_lit(b, ",\"status\":\"completed\"");
	buf_lit(b, ",\"model\":");
	buf_json_str(b, rp->model, rp->model_len);
	buf_lit(b, ",\"output\":[");
	if (done)
		responses_output_item(rp, b, true);
	buf_lit(b, "],\"usage\":");
	if (done)
		usage_responses(rp, b);
	else
		buf_lit(b, "null");
	buf_lit(b, "}");
}

static void messages_object(const struct reply *rp, struct buf *b, bool done)
{
	buf_lit(b, "{\"id\":\"");
	buf_puts(b, rp->id);
	buf_lit(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
	buf_json_str(b, rp->model, rp->model_len);
	buf_lit(b, ",\"content\":[");
	if (done) {
		buf_lit(b, "{\"type\":\"text\",\"text\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, "}");
	}
	buf_lit(b, "],\"stop_reason\":");
	buf_puts(b, !done ? "null" : rp->truncated ? "\"max_tokens\"" : "\"end_turn\"");
	buf_lit(b, ",\"stop_sequence\":null,\"usage\":{\"input_tokens\":");
	buf_u64(b, rp->prompt_tokens);
	buf_lit(b, ",\"output_tokens\":");
	buf_u64(b, done ? rp->npieces : 1);
	buf_lit(b, "}}");
}

void reply_body(const struct reply *rp, struct buf *b)
{
	switch (rp->kind) {
	case API_CHAT:
		openai_common(rp, b, "chat.completion");
		buf_lit(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, ",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"");
		buf_puts(b, finish(rp));
		buf_lit(b, "\"}],\"usage\":");
		usage_openai(rp, b);
		buf_lit(b, ",\"system_fingerprint\":\"fp_mockllm\"}");
		break;
	case API_COMPLETIONS:
		openai_common(rp, b, "text_completion");
		buf_lit(b, ",\"choices\":[{\"text\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
		buf_puts(b, finish(rp));
		buf_lit(b, "\"}],\"usage\":");
		usage_openai(rp, b);
		buf_lit(b, "}");
		break;
	case API_RESPONSES:
		responses_object(rp, b, true);
		break;
	case API_MESSAGES:
		messages_object(rp, b, true);
		break;
	}
}

/*
 * SSE framing. Each event is one HTTP chunk, so it leaves in one piece and
 * a proxy that forwards chunk by chunk forwards event by event. The chunk
 * size is only known once the event is written, so the event is written
 * first and the size line slid in before it.
 */
static size_t ev_begin(struct buf *b, const char *event)
{
	size_t off = b->len;

	if (event) {
		buf_lit(b, "event: ");
		buf_puts(b, event);
		buf_lit(b, "\n");
	}
	buf_lit(b, "data: ");
	return off;
}

static void ev_end(const struct reply *rp, struct buf *b, size_t off)
{
	char hex[20];
	size_t n;
	int hl;

	buf_lit(b, "\n\n");
	if (!rp->chunked)
		return;
	n = b->len - off;
	hl = snprintf(hex, sizeof(hex), "%zx\r\n", n);
	buf_grow(b, hl + 2);
	memmove(b->p + off + hl, b->p + off, n);
	memcpy(b->p + off, hex, hl);
	b->len += hl;
	buf_lit(b, "\r\n");
}

/* A Responses event: event name, then {"type":name,"sequence_number":n, ... */
static size_t resp_ev(struct reply *rp, struct buf *b, const char *type)
{
	size_t off = ev_begin(b, type);

	buf_lit(b, "{\"type\":\"");
	buf_puts(b, type);
	buf_lit(b, "\",\"sequence_number\":");
	buf_u64(b, rp->seq++);
	return off;
}

static void resp_ev_ids(const struct reply *rp, struct buf *b, bool content)
{
	buf_lit(b, ",\"item_id\":");
	responses_msg_id(rp, b);
	buf_lit(b, ",\"output_index\":0");
	if (content)
		buf_lit(b, ",\"content_index\":0");
}

static void chat_chunk_begin(const struct reply *rp, struct buf *b)
{
	openai_common(rp, b, rp->kind == API_CHAT ? "chat.completion.chunk" : "text_completion");
	if (rp->kind == API_CHAT)
		buf_lit(b, ",\"system_fingerprint\":\"fp_mockllm\"");
	buf_lit(b, ",\"choices\":[");
}

/* Closes a chunk; with include_usage every chunk but the last has "usage":null. */
static void chat_chunk_end(const struct reply *rp, struct buf *b)
{
	buf_puts(b, rp->include_usage ? "],\"usage\":null}" : "]}");
}

void reply_stream_head(struct reply *rp, struct buf *b)
{
	size_t off;

	switch (rp->kind) {
	case API_CHAT:
		off = ev_begin(b, NULL);
		chat_chunk_begin(rp, b);
		buf_lit(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
			   "\"logprobs\":null,\"finish_reason\":null}");
		chat_chunk_end(rp, b);
		ev_end(rp, b, off);
		break;
	case API_COMPLETIONS:
		break;
	case API_RESPONSES:
		off = resp_ev(rp, b, "response.created");
		buf_lit(b, ",\"response\":");
		responses_object(rp, b, false);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		off = resp_ev(rp, b, "response.output_item.added");
		buf_lit(b, ",\"output_index\":0,\"item\":");
		responses_output_item(rp, b, false);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		off = resp_ev(rp, b, "response.content_part.added");
		resp_ev_ids(rp, b, true);
		buf_lit(b, ",\"part\":{\"type\":\"output_text\",\"text\":\"\",\"annotations\":[]}}");
		ev_end(rp, b, off);
		break;
	case API_MESSAGES:
		off = ev_begin(b, "message_start");
		buf_lit(b, "{\"type\":\"message_start\",\"message\":");
		messages_object(rp, b, false);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		off = ev_begin(b, "content_block_start");
		buf_lit(b, "{\"type\":\"content_block_start\",\"index\":0,"
			   "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
		ev_end(rp, b, off);
		break;
	}
}

void reply_stream_token(struct reply *rp, struct buf *b)
{
	const char *t = rp->text + rp->piece[rp->next];
	size_t n = rp->piece[rp->next + 1] - rp->piece[rp->next], off;

	rp->next++;
	switch (rp->kind) {
	case API_CHAT:
		off = ev_begin(b, NULL);
		chat_chunk_begin(rp, b);
		buf_lit(b, "{\"index\":0,\"delta\":{\"content\":");
		buf_json_str(b, t, n);
		buf_lit(b, "},\"logprobs\":null,\"finish_reason\":null}");
		chat_chunk_end(rp, b);
		break;
	case API_COMPLETIONS:
		off = ev_begin(b, NULL);
		chat_chunk_begin(rp, b);
		buf_lit(b, "{\"text\":");
		buf_json_str(b, t, n);
		buf_lit(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":null}");
		chat_chunk_end(rp, b);
		break;
	case API_RESPONSES:
		off = resp_ev(rp, b, "response.output_text.delta");
		resp_ev_ids(rp, b, true);
		buf_lit(b, ",\"delta\":");
		buf_json_str(b, t, n);
		buf_lit(b, "}");
		break;
	case API_MESSAGES:
	default:
		off = ev_begin(b, "content_block_delta");
		buf_lit(b, "{\"type\":\"content_block_delta\",\"index\":0,"
			   "\"delta\":{\"type\":\"text_delta\",\"text\":");
		buf_json_str(b, t, n);
		buf_lit(b, "}}");
		break;
	}
	ev_end(rp, b, off);
}

static void chat_tail(struct reply *rp, struct buf *b)
{
	size_t off = ev_begin(b, NULL);

	chat_chunk_begin(rp, b);
	if (rp->kind == API_CHAT)
		buf_lit(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"");
	else
		buf_lit(b, "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
	buf_puts(b, finish(rp));
	buf_lit(b, "\"}");
	chat_chunk_end(rp, b);
	ev_end(rp, b, off);
	if (rp->include_usage) {
		off = ev_begin(b, NULL);
		chat_chunk_begin(rp, b);
		buf_lit(b, "],\"usage\":");
		usage_openai(rp, b);
		buf_lit(b, "}");
		ev_end(rp, b, off);
	}
	off = ev_begin(b, NULL);
	buf_lit(b, "[DONE]");
	ev_end(rp, b, off);
}

/* The closing events, and the chunked body's last-chunk. */
void reply_stream_tail(struct reply *rp, struct buf *b)
{
	size_t off;

	switch (rp->kind) {
	case API_CHAT:
	case API_COMPLETIONS:
		chat_tail(rp, b);
		break;
	case API_RESPONSES:
		off = resp_ev(rp, b, "response.output_text.done");
		resp_ev_ids(rp, b, true);
		buf_lit(b, ",\"text\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		off = resp_ev(rp, b, "response.content_part.done");
		resp_ev_ids(rp, b, true);
		buf_lit(b, ",\"part\":{\"type\":\"output_text\",\"text\":");
		buf_json_str(b, rp->text, rp->text_len);
		buf_lit(b, ",\"annotations\":[]}}");
		ev_end(rp, b, off);
		off = resp_ev(rp, b, "response.output_item.done");
		buf_lit(b, ",\"output_index\":0,\"item\":");
		responses_output_item(rp, b, true);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		off = resp_ev(rp, b, rp->truncated ? "response.incomplete" : "response.completed");
		buf_lit(b, ",\"response\":");
		responses_object(rp, b, true);
		buf_lit(b, "}");
		ev_end(rp, b, off);
		break;
	case API_MESSAGES:
		off = ev_begin(b, "content_block_stop");
		buf_lit(b, "{\"type\":\"content_block_stop\",\"index\":0}");
		ev_end(rp, b, off);
		off = ev_begin(b, "message_delta");
		buf_lit(b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
		buf_puts(b, rp->truncated ? "\"max_tokens\"" : "\"end_turn\"");
		buf_lit(b, ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
		buf_u64(b, rp->npieces);
		buf_lit(b, "}}");
		ev_end(rp, b, off);
		off = ev_begin(b, "message_stop");
		buf_lit(b, "{\"type\":\"message_stop\"}");
		ev_end(rp, b, off);
		break;
	}
	if (rp->chunked)
		buf_lit(b, "0\r\n\r\n");
}
