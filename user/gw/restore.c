// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The answer filter: answer rules, then placeholders back to their values (see restore.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw/restore.h"
#include "lib/bpe.h"

void restore_init(struct restore *r, struct inspection *in, const struct insp_ctx *ctx,
		  bool anthropic, const char *content_type, size_t ctlen)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	r->restoring = in && in->restore && in->nvalues;
	r->anthropic = anthropic;
	if (ctx) {
		r->ctx = *ctx;
		r->ctx.answer = true;
		r->judge = true;
	}
	if (content_type) {
		r->sse = ctlen >= 17 && !strncasecmp(content_type, "text/event-stream", 17);
		r->json = memmem(content_type, ctlen, "json", 4) != NULL;
	}
	r->whole = r->judge && !r->sse;
	sse_parser_init(&r->sp, 0);
}

void restore_meter(struct restore *r, bool strip_usage, const struct bpe *bpe, uint64_t budget,
		   uint64_t prompt)
{
	r->metering = true;
	r->strip_usage = strip_usage;
	r->bpe = bpe;
	r->budget = budget;
	r->prompt = prompt;
}

void restore_fini(struct restore *r)
{
	sse_parser_fini(&r->sp);
	buf_free(&r->pend);
	buf_free(&r->body);
	buf_free(&r->head);
	explicit_bzero(r->held, sizeof(r->held));
	cJSON_Delete(r->last);
	free(r->last_type);
	memset(r, 0, sizeof(*r));
}

static int put_escaped(struct buf *out, const char *s, size_t n, size_t max)
{
	char u[8];
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\') {
			u[0] = '\\';
			u[1] = ch;
			err = buf_append(out, u, 2, max);
		} else if (ch < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", ch);
			err = buf_append(out, u, 6, max);
		} else {
			err = buf_append(out, s + i, 1, max);
		}
	}
	return err;
}

/* 1: a whole label at s, *v its value; 0: s[0, n) may still become one; -1: neither. */
static int label_at(const struct inspection *in, const char *s, size_t n,
		    const struct insp_value **v)
{
	bool prefix = false;

	for (size_t i = 0; i < in->nvalues; i++) {
		const char *l = in->values[i].label;
		size_t ll = strlen(l);

		if (n >= ll && !memcmp(s, l, ll)) {
			*v = &in->values[i];
			return 1;
		}
		if (n < ll && !memcmp(s, l, n))
			prefix = true;
	}
	return prefix ? 0 : -1;
}

int restore_text(struct restore *r, const char *text, size_t len, bool json, bool final,
		 struct buf *out, size_t max)
{
	char *work = (char *)text;
	size_t n = len, run = 0, i = 0;
	int err = 0;

	if (r->nheld) {
		work = malloc(r->nheld + len);
		if (!work)
			return -ENOMEM;
		memcpy(work, r->held, r->nheld);
		memcpy(work + r->nheld, text, len);
		n = r->nheld + len;
		explicit_bzero(r->held, r->nheld);
		r->nheld = 0;
	}
	while (i < n && !err) {
		const struct insp_value *v = NULL;
		const char *br = memchr(work + i, '[', n - i);
		int at;

		if (!br)
			break;
		i = br - work;
		at = label_at(r->in, work + i, n - i, &v);
		if (at < 0) {
			i++;
			continue;
		}
		if (at == 0 && !final) {
			/* the rest may begin a placeholder: it waits for more text */
			err = buf_append(out, work + run, i - run, max);
			memcpy(r->held, work + i, n - i);
			r->nheld = n - i;
			run = i = n;
			break;
		}
		if (at == 0) {
			i++;
			continue;
		}
		err = buf_append(out, work + run, i - run, max);
		if (!err)
			err = json ? put_escaped(out, v->value, v->len, max)
				   : buf_append(out, v->value, v->len, max);
		r->restored++;
		i += strlen(v->label);
		run = i;
	}
	if (!err && run < n)
		err = buf_append(out, work + run, n - run, max);
	if (work != text) {
		explicit_bzero(work, n);
		free(work);
	}
	return err;
}

/* The restore stage: what the rules let go, its placeholders replaced. */
static int give(struct restore *r, const char *s, size_t n, bool json, bool final,
		struct buf *out, size_t max)
{
	if (r->restoring)
		return restore_text(r, s, n, json, final, out, max);
	return buf_append(out, s, n, max);
}

/*
 * Answer text through the rules (holding back the window unless final),
 * then the restore stage. 0, 1 when a rule blocks, or -ENOMEM.
 */
static int pass_text(struct restore *r, const char *text, size_t len, bool json, bool final,
		     struct buf *out, size_t max)
{
	size_t upto, mlen;
	char *m;
	int ret;

	if (!r->judge)
		return give(r, text, len, json, final, out, max);
	if (buf_append(&r->pend, text, len, SIZE_MAX))
		return -ENOMEM;
	ret = inspect_answer(&r->ctx, r->in, buf_head(&r->pend), buf_used(&r->pend), final,
			     r->ctx.cfg->response_window, &upto, &m, &mlen);
	if (ret) {
		if (ret == 1)
			buf_reset(&r->pend);
		return ret;
	}
	ret = give(r, m ? m : buf_head(&r->pend), m ? mlen : upto, json, final, out, max);
	if (m) {
		explicit_bzero(m, mlen);
		free(m);
	}
	buf_consume(&r->pend, upto);
	return ret;
}

/* The string the model writes in this event, if it has one. */
static cJSON *text_node(cJSON *root)
{
	cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	cJSON *delta = cJSON_GetObjectItemCaseSensitive(root, "delta"), *t;

	if (choice) {
		t = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(choice, "delta"), "content");
		if (cJSON_IsString(t))
			return t;
		t = cJSON_GetObjectItemCaseSensitive(choice, "text");
		return cJSON_IsString(t) ? t : NULL;
	}
	if (cJSON_IsString(delta))	/* Responses: response.output_text.delta */
		return delta;
	t = cJSON_GetObjectItemCaseSensitive(delta, "text");	/* Anthropic text_delta */
	return cJSON_IsString(t) ? t : NULL;
}

static int set_string(cJSON *node, const char *s, size_t n)
{
	char *v = malloc(n + 1);

	if (!v)
		return -ENOMEM;
	memcpy(v, s, n);
	v[n] = '\0';
	explicit_bzero(node->valuestring, strlen(node->valuestring));
	free(node->valuestring);
	node->valuestring = v;
	return 0;
}

static int put_event(struct buf *out, size_t max, const char *type, const cJSON *root)
{
	char *data = cJSON_PrintUnformatted(root);
	int err;

	if (!data)
		return -ENOMEM;
	err = type ? buf_printf(out, max, "event: %s\n", type) : 0;
	if (!err)
		err = buf_printf(out, max, "data: %s\n\n", data);
	explicit_bzero(data, strlen(data));
	free(data);
	return err;
}

/* An error event in the API's shape; OpenAI's carries code. */
static int error_event(const struct restore *r, const char *type, const char *code,
		       const char *msg, struct buf *out, size_t max)
{
	cJSON *root = cJSON_CreateObject(), *e = cJSON_CreateObject();
	int err = -ENOMEM;

	if (!root || !e) {
		cJSON_Delete(root);
		cJSON_Delete(e);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(root, "error", e);
	if (r->anthropic) {
		if (cJSON_AddStringToObject(root, "type", "error") &&
		    cJSON_AddStringToObject(e, "type", type) &&
		    cJSON_AddStringToObject(e, "message", msg))
			err = put_event(out, max, "error", root);
	} else if (cJSON_AddStringToObject(e, "message", msg) &&
		   cJSON_AddStringToObject(e, "type", type) &&
		   cJSON_AddNullToObject(e, "param") &&
		   cJSON_AddStringToObject(e, "code", code)) {
		err = put_event(out, max, NULL, root);
	}
	cJSON_Delete(root);
	return err;
}

/* A rule stopped the stream: an error event in the API's shape ends it. */
static int blocked_event(struct restore *r, struct buf *out, size_t max)
{
	r->blocked = true;
	buf_reset(&r->pend);
	explicit_bzero(r->held, sizeof(r->held));
	r->nheld = 0;
	return error_event(r, "invalid_request_error", "content_policy_violation",
			   r->ctx.cfg->rules[r->in->block_rule].message, out, max);
}

/* What is held goes out, judged, in a copy of the last event that had text. */
static int flush_held(struct restore *r, struct buf *out, size_t max)
{
	struct buf tmp = { 0 };
	cJSON *node;
	int err;

	if (!r->nheld && !buf_used(&r->pend))
		return 0;
	err = pass_text(r, "", 0, false, true, &tmp, SIZE_MAX);
	if (err == 1)
		err = blocked_event(r, out, max);
	else if (!err && buf_used(&tmp) && r->last && (node = text_node(r->last)) &&
		 !(err = set_string(node, buf_head(&tmp), buf_used(&tmp))))
		err = put_event(out, max, r->last_type, r->last);
	buf_free(&tmp);
	return err;
}

/* --- the meter --- */

static uint64_t count_text(const struct restore *r, const cJSON *s)
{
	size_t n, t;

	if (!cJSON_IsString(s) || !s->valuestring)
		return 0;
	n = strlen(s->valuestring);
	if (r->bpe && (t = bpe__count(r->bpe, s->valuestring, n)) != SIZE_MAX)
		return t;
	return (n + 3) / 4;
}

/* The completion tokens of one event: text, tool-call arguments, reasoning. */
static uint64_t event_tokens(const struct restore *r, cJSON *root, cJSON *text)
{
	cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "choices"), 0);
	cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice ? choice : root, "delta"), *tc;
	uint64_t n = count_text(r, text);

	if (choice) {
		n += count_text(r, cJSON_GetObjectItemCaseSensitive(delta, "reasoning_content"));
		cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"))
			n += count_text(r, cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(tc, "function"), "arguments"));
	} else if (cJSON_IsObject(delta)) {	/* Anthropic tool input and thinking */
		n += count_text(r, cJSON_GetObjectItemCaseSensitive(delta, "partial_json"));
		n += count_text(r, cJSON_GetObjectItemCaseSensitive(delta, "thinking"));
	}
	return n;
}

enum { KEEP = 0, UNUSAGE, DROP };

/* What the usage we asked for does to an event: nothing, its "usage":null goes, or all of it. */
static int usage_fate(const struct restore *r, cJSON *root)
{
	cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "usage"), *ch;

	if (!r->strip_usage || !u)
		return KEEP;
	if (cJSON_IsNull(u))
		return UNUSAGE;
	ch = cJSON_GetObjectItemCaseSensitive(root, "choices");
	return cJSON_IsArray(ch) && !cJSON_GetArraySize(ch) ? DROP : UNUSAGE;
}

/* The event as it came, less its usage when it must go: cut from the bytes where it can be. */
static int put_raw(const struct sse_event *ev, cJSON *root, int fate, struct buf *out, size_t max)
{
	static const char key[] = ",\"usage\":null";
	const char *at;
	char *type = NULL;
	int err;

	if (fate == KEEP)
		return buf_append(out, ev->raw, ev->raw_len, max);
	at = memmem(ev->raw, ev->raw_len, key, sizeof(key) - 1);
	if (at && at[sizeof(key) - 1] == '}' &&
	    !memmem(at + 1, ev->raw_len - (size_t)(at + 1 - ev->raw), key, sizeof(key) - 1))
		return buf_append(out, ev->raw, (size_t)(at - ev->raw), max) ||
		       buf_append(out, at + sizeof(key) - 1,
				  ev->raw_len - (size_t)(at - ev->raw) - (sizeof(key) - 1), max) ?
		       -ENOMEM : 0;
	cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
	if (ev->type && !(type = strndup(ev->type, ev->type_len)))
		return -ENOMEM;
	err = put_event(out, max, type, root);
	free(type);
	return err;
}

/* The end of an OpenAI chat or completions stream stopped at its bound. */
static int openai_end(struct restore *r, const cJSON *tpl, struct buf *out, size_t max)
{
	static const char *const keep[] = { "id", "object", "created", "model",
					    "system_fingerprint", NULL };
	const cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tpl, "choices"), 0);
	cJSON *root = cJSON_CreateObject(), *ch, *choice, *u;
	int err = -ENOMEM;

	for (const char *const *k = keep; root && *k; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(tpl, *k);

		if (v)
			cJSON_AddItemToObject(root, *k, cJSON_Duplicate(v, true));
	}
	if (!(ch = cJSON_AddArrayToObject(root, "choices")) || !(choice = cJSON_CreateObject()))
		goto out;
	cJSON_AddItemToArray(ch, choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	if (cJSON_GetObjectItemCaseSensitive(c0, "delta"))
		cJSON_AddObjectToObject(choice, "delta");
	else
		cJSON_AddStringToObject(choice, "text", "");
	cJSON_AddNullToObject(choice, "logprobs");
	if (!cJSON_AddStringToObject(choice, "finish_reason", "length") ||
	    (err = put_event(out, max, NULL, root)))
		goto out;
	err = -ENOMEM;
	if (!r->strip_usage && cJSON_GetObjectItemCaseSensitive(tpl, "usage")) {
		/* the client asked for a usage chunk: ours, of what it got */
		cJSON_DeleteItemFromArray(ch, 0);
		if (!(u = cJSON_AddObjectToObject(root, "usage")) ||
		    !cJSON_AddNumberToObject(u, "prompt_tokens", (double)r->prompt) ||
		    !cJSON_AddNumberToObject(u, "completion_tokens", (double)r->counted) ||
		    !cJSON_AddNumberToObject(u, "total_tokens", (double)(r->prompt + r->counted)) ||
		    (err = put_event(out, max, NULL, root)))
			goto out;
	}
	err = buf_printf(out, max, "data: [DONE]\n\n");
out:
	cJSON_Delete(root);
	return err;
}

static int anthropic_end(struct restore *r, const cJSON *tpl, struct buf *out, size_t max)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(tpl, "index");
	int err = 0;

	if (cJSON_IsNumber(index))
		err = buf_printf(out, max, "event: content_block_stop\ndata: {\"type\":"
				 "\"content_block_stop\",\"index\":%d}\n\n", index->valueint);
	if (err)
		return err;
	return buf_printf(out, max, "event: message_delta\ndata: {\"type\":\"message_delta\","
			  "\"delta\":{\"stop_reason\":\"max_tokens\",\"stop_sequence\":null},"
			  "\"usage\":{\"output_tokens\":%llu}}\n\nevent: message_stop\n"
			  "data: {\"type\":\"message_stop\"}\n\n", (unsigned long long)r->counted);
}

static int responses_end(struct restore *r, struct buf *out, size_t max)
{
	return buf_printf(out, max, "event: response.incomplete\ndata: {\"type\":"
			  "\"response.incomplete\",\"response\":{\"object\":\"response\","
			  "\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
			  "\"max_output_tokens\"},\"usage\":{\"input_tokens\":%llu,"
			  "\"output_tokens\":%llu,\"total_tokens\":%llu}}}\n\n",
			  (unsigned long long)r->prompt, (unsigned long long)r->counted,
			  (unsigned long long)(r->prompt + r->counted));
}

/* The budget ran out at the event tpl: what is held goes, then the API's end of a bounded answer. */
static int cut_stream(struct restore *r, const cJSON *tpl, struct buf *out, size_t max)
{
	int err = flush_held(r, out, max);

	if (r->blocked)
		return err;
	r->blocked = r->cut = true;
	if (r->last)
		tpl = r->last;
	if (err || (err = buf_printf(out, max, ": sluice: the answer reached the %llu completion "
				     "tokens reserved for it\n\n", (unsigned long long)r->budget)))
		return err;
	if (r->anthropic)
		return anthropic_end(r, tpl, out, max);
	if (cJSON_GetObjectItemCaseSensitive(tpl, "choices"))
		return openai_end(r, tpl, out, max);
	return responses_end(r, out, max);
}

static int sse_event(struct restore *r, const struct sse_event *ev, struct buf *out, size_t max)
{
	struct buf tmp = { 0 };
	cJSON *root = NULL, *node;
	size_t held_before = r->nheld + buf_used(&r->pend);
	char *type = NULL;
	int err, fate = KEEP;

	if (ev->ndata && ev->data)
		root = cJSON_ParseWithLength(ev->data, ev->data_len);
	node = root ? text_node(root) : NULL;
	if (root && r->metering) {
		uint64_t n = event_tokens(r, root, node);

		fate = usage_fate(r, root);
		/* the event that would pass the budget is not sent, nor counted */
		if (r->budget && r->counted + n > r->budget) {
			err = cut_stream(r, root, out, max);
			cJSON_Delete(root);
			return err;
		}
		r->counted += n;
	}
	if (!node || fate == DROP) {
		err = flush_held(r, out, max);
		if (!err && fate != DROP)
			err = put_raw(ev, root, fate, out, max);
		cJSON_Delete(root);
		return err;
	}
	if (ev->type && !(type = strndup(ev->type, ev->type_len))) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	if (fate == UNUSAGE)
		cJSON_DeleteItemFromObjectCaseSensitive(root, "usage");
	err = pass_text(r, node->valuestring, strlen(node->valuestring), false, false, &tmp,
			SIZE_MAX);
	if (err == 1) {
		err = blocked_event(r, out, max);
		free(type);
		cJSON_Delete(root);
		buf_free(&tmp);
		return err;
	}
	if (!err && !held_before && !r->nheld && !buf_used(&r->pend) &&
	    buf_used(&tmp) == strlen(node->valuestring) &&
	    (!buf_used(&tmp) || !memcmp(buf_head(&tmp), node->valuestring, buf_used(&tmp)))) {
		/* nothing restored: the event goes as it came */
		err = put_raw(ev, root, fate, out, max);
	} else if (!err) {
		err = set_string(node, buf_used(&tmp) ? buf_head(&tmp) : "", buf_used(&tmp));
		/* an event whose text is all held waits for the next one */
		if (!err && (buf_used(&tmp) || (!r->nheld && !buf_used(&r->pend))))
			err = put_event(out, max, type, root);
	}
	buf_free(&tmp);
	if (err) {
		free(type);
		cJSON_Delete(root);
		return err;
	}
	cJSON_Delete(r->last);
	free(r->last_type);
	r->last = root;
	r->last_type = type;
	return 0;
}

/* --- whole answers --- */

struct judge {
	struct restore *r;
	bool changed;
	int err;
};

static cJSON *get(cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static cJSON *array(cJSON *v)
{
	return cJSON_IsArray(v) ? v : NULL;
}

static void judge_string(struct judge *j, cJSON *node)
{
	size_t upto, mlen;
	char *m;

	if (j->err || !cJSON_IsString(node))
		return;
	j->err = inspect_answer(&j->r->ctx, j->r->in, node->valuestring,
				strlen(node->valuestring), true, 0, &upto, &m, &mlen);
	if (!j->err && m) {
		explicit_bzero(node->valuestring, strlen(node->valuestring));
		free(node->valuestring);
		node->valuestring = m;
		j->changed = true;
	}
}

/* A string, or parts and blocks with a "text". */
static void judge_content(struct judge *j, cJSON *v)
{
	cJSON *p;

	if (cJSON_IsString(v)) {
		judge_string(j, v);
		return;
	}
	cJSON_ArrayForEach(p, array(v))
		judge_string(j, get(p, "text"));
}

/* Chat and completions choices, Anthropic content blocks, Responses output items. */
static void judge_body(struct judge *j, cJSON *root)
{
	cJSON *x, *y, *m;

	cJSON_ArrayForEach(x, array(get(root, "choices"))) {
		m = get(x, "message");
		judge_content(j, get(m, "content"));
		cJSON_ArrayForEach(y, array(get(m, "tool_calls")))
			judge_string(j, get(get(y, "function"), "arguments"));
		judge_string(j, get(x, "text"));
	}
	judge_content(j, get(root, "content"));
	cJSON_ArrayForEach(x, array(get(root, "output")))
		judge_content(j, get(x, "content"));
}

static void wipe_tree(cJSON *v)
{
	for (; v; v = v->next) {
		if (v->valuestring)
			explicit_bzero(v->valuestring, strlen(v->valuestring));
		wipe_tree(v->child);
	}
}

/* The held body judged: JSON by its answer strings, anything else as one text. */
static int judge_whole(struct restore *r, struct buf *out, size_t max)
{
	struct judge j = { .r = r };
	const char *src = buf_head(&r->body);
	size_t n = buf_used(&r->body);
	char *printed = NULL;
	cJSON *root;
	int err;

	root = r->json ? cJSON_ParseWithLength(src, n) : NULL;
	if (!root)
		return pass_text(r, src, n, r->json, true, out, max);
	judge_body(&j, root);
	if (!j.err && j.changed) {
		if (!(printed = cJSON_PrintUnformatted(root)))
			j.err = -ENOMEM;
		else {
			src = printed;
			n = strlen(printed);
		}
	}
	err = j.err ? j.err : give(r, src, n, true, true, out, max);
	if (printed) {
		explicit_bzero(printed, strlen(printed));
		free(printed);
	}
	wipe_tree(root);
	cJSON_Delete(root);
	return err;
}

int restore_feed(struct restore *r, const char *data, size_t len, struct buf *out, size_t max)
{
	size_t used;
	struct sse_event ev;
	int ret;

	if (r->blocked)
		return 0;
	if (r->whole) {
		if (buf_used(&r->body) + len > r->ctx.cfg->max_text_bytes)
			return -EMSGSIZE;
		return buf_append(&r->body, data, len, SIZE_MAX);
	}
	if (!r->sse)
		return give(r, data, len, r->json, false, out, max);
	while (len) {
		ret = sse_next(&r->sp, data, len, &used, &ev);
		if (ret < 0) {
			/* an event past the parser's bound: the rest goes as bytes,
			 * unless it has to be judged */
			if (r->judge)
				return -EMSGSIZE;
			r->sse = false;
			return give(r, data, len, r->json, false, out, max);
		}
		data += used;
		len -= used;
		if (ret == 1 && (ret = sse_event(r, &ev, out, max)))
			return ret;
	}
	return 0;
}

int restore_fail(struct restore *r, const char *why, struct buf *out, size_t max)
{
	int err;

	if (!r->sse || r->whole)
		return -EINVAL;
	if (r->blocked)
		return 0;
	/* the released text stands; an event the backend left half-sent is dropped */
	if ((err = flush_held(r, out, max)))
		return err;
	if (r->blocked)
		return 0;
	r->blocked = true;
	return error_event(r, "api_error", "upstream_error", why, out, max);
}

int restore_finish(struct restore *r, struct buf *out, size_t max)
{
	struct sse_event ev;
	int err;

	if (r->blocked)
		return 0;
	if (r->whole)
		return judge_whole(r, out, max);
	if (r->sse && sse_finish(&r->sp, &ev) == 1 && (err = sse_event(r, &ev, out, max)))
		return err;
	if (r->sse)
		return flush_held(r, out, max);
	return give(r, "", 0, r->json, true, out, max);
}
