// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Placeholders in answers back to their values (see restore.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw/restore.h"

void restore_init(struct restore *r, const struct inspection *in, const char *content_type,
		  size_t ctlen)
{
	memset(r, 0, sizeof(*r));
	r->in = in;
	if (content_type) {
		r->sse = ctlen >= 17 && !strncasecmp(content_type, "text/event-stream", 17);
		r->json = memmem(content_type, ctlen, "json", 4) != NULL;
	}
	sse_parser_init(&r->sp, 0);
}

void restore_fini(struct restore *r)
{
	sse_parser_fini(&r->sp);
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

/* What is held goes out in a copy of the last event that had text. */
static int flush_held(struct restore *r, struct buf *out, size_t max)
{
	cJSON *node;
	int err;

	if (!r->nheld)
		return 0;
	if (!r->last || !(node = text_node(r->last)))
		return restore_text(r, "", 0, false, true, out, max);
	err = set_string(node, r->held, r->nheld);
	explicit_bzero(r->held, r->nheld);
	r->nheld = 0;
	return err ? err : put_event(out, max, r->last_type, r->last);
}

static int sse_event(struct restore *r, const struct sse_event *ev, struct buf *out, size_t max)
{
	struct buf tmp = { 0 };
	cJSON *root = NULL, *node;
	size_t held_before = r->nheld;
	char *type = NULL;
	int err;

	if (ev->ndata && ev->data)
		root = cJSON_ParseWithLength(ev->data, ev->data_len);
	node = root ? text_node(root) : NULL;
	if (!node) {
		cJSON_Delete(root);
		err = flush_held(r, out, max);
		return err ? err : buf_append(out, ev->raw, ev->raw_len, max);
	}
	if (ev->type && !(type = strndup(ev->type, ev->type_len))) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	err = restore_text(r, node->valuestring, strlen(node->valuestring), false, false, &tmp,
			   SIZE_MAX);
	if (!err && !held_before && !r->nheld && buf_used(&tmp) == strlen(node->valuestring) &&
	    !memcmp(buf_head(&tmp), node->valuestring, buf_used(&tmp))) {
		/* nothing restored: the event goes as it came */
		err = buf_append(out, ev->raw, ev->raw_len, max);
	} else if (!err) {
		err = set_string(node, buf_used(&tmp) ? buf_head(&tmp) : "", buf_used(&tmp));
		/* an event whose text is all held waits for the next one */
		if (!err && (buf_used(&tmp) || !r->nheld))
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

int restore_feed(struct restore *r, const char *data, size_t len, struct buf *out, size_t max)
{
	size_t used;
	struct sse_event ev;
	int ret;

	if (!r->sse)
		return restore_text(r, data, len, r->json, false, out, max);
	while (len) {
		ret = sse_next(&r->sp, data, len, &used, &ev);
		if (ret < 0) {
			/* an event past the parser's bound: the rest goes as bytes */
			r->sse = false;
			return restore_text(r, data, len, r->json, false, out, max);
		}
		data += used;
		len -= used;
		if (ret == 1 && (ret = sse_event(r, &ev, out, max)))
			return ret;
	}
	return 0;
}

int restore_finish(struct restore *r, struct buf *out, size_t max)
{
	struct sse_event ev;
	int err;

	if (r->sse && sse_finish(&r->sp, &ev) == 1 && (err = sse_event(r, &ev, out, max)))
		return err;
	if (r->sse)
		return flush_held(r, out, max);
	return restore_text(r, "", 0, r->json, true, out, max);
}
