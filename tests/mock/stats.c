// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counters and GET /stats. Each worker counts into its own struct wstats;
 * /stats sums them with relaxed loads, so a reading taken while requests
 * run may be a few events behind, never torn. /stats and /admin/... are
 * control traffic and count nowhere but in connections and bytes, so a test
 * can read /stats between steps without moving the numbers it checks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "mock.h"

static const char *const route_names[R__MAX] = {
	[R_CHAT] = "/v1/chat/completions",
	[R_COMPLETIONS] = "/v1/completions",
	[R_EMBEDDINGS] = "/v1/embeddings",
	[R_MODELS] = "/v1/models",
	[R_RESPONSES] = "/v1/responses",
	[R_MESSAGES] = "/v1/messages",
	[R_HEALTH] = "/health",
	[R_OTHER] = "other",
	[R_STATS] = "/stats",
	[R_ADMIN] = "/admin",
};

const char *route_name(enum route r)
{
	return route_names[r];
}

#define LOAD(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

static void sum(struct wstats *t)
{
	int i, k;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < srv.nworkers; i++) {
		const struct wstats *s = &srv.workers[i].st;

		t->requests += LOAD(s->requests);
		for (k = 0; k < R__MAX; k++)
			t->by_route[k] += LOAD(s->by_route[k]);
		for (k = 0; k < 600; k++)
			t->by_status[k] += LOAD(s->by_status[k]);
		t->accepted += LOAD(s->accepted);
		t->closed += LOAD(s->closed);
		t->streams_started += LOAD(s->streams_started);
		t->streams_completed += LOAD(s->streams_completed);
		t->streams_aborted += LOAD(s->streams_aborted);
		t->aborted += LOAD(s->aborted);
		t->faults += LOAD(s->faults);
		t->bad_requests += LOAD(s->bad_requests);
		t->bytes_in += LOAD(s->bytes_in);
		t->bytes_out += LOAD(s->bytes_out);
		t->open += LOAD(s->open);
		t->in_flight += LOAD(s->in_flight);
	}
}

static cJSON *obj(cJSON *parent, const char *name)
{
	return cJSON_AddObjectToObject(parent, name);
}

static void num(cJSON *o, const char *name, double v)
{
	cJSON_AddNumberToObject(o, name, v);
}

void stats_json(struct buf *out)
{
	cJSON *root = cJSON_CreateObject(), *o, *p;
	char tmp[160];
	struct wstats t;
	char *text;
	int k;

	sum(&t);
	num(root, "uptime_ms", (double)((mono_ns() - srv.start_ns) / NSEC_PER_MSEC));
	num(root, "threads", srv.nworkers);
	cJSON_AddStringToObject(root, "health",
				__atomic_load_n(&srv.health_down, __ATOMIC_RELAXED) ? "down" : "up");
	pthread_mutex_lock(&srv.lock);
	cJSON_AddStringToObject(root, "fault", fault_fmt(&srv.fault, tmp, sizeof(tmp)));
	cJSON_AddItemToObject(root, "last_request",
			      srv.last ? cJSON_Duplicate(srv.last, 1) : cJSON_CreateNull());
	pthread_mutex_unlock(&srv.lock);

	o = obj(root, "requests");
	num(o, "total", (double)t.requests);
	num(o, "in_flight", (double)t.in_flight);
	num(o, "aborted", (double)t.aborted);
	num(o, "faults", (double)t.faults);
	num(o, "bad", (double)t.bad_requests);
	p = obj(o, "by_path");
	for (k = 0; k < R__MAX; k++)
		if (ROUTE_COUNTED(k))
			num(p, route_names[k], (double)t.by_route[k]);
	p = obj(o, "by_status");
	for (k = 0; k < 600; k++) {
		if (!t.by_status[k])
			continue;
		snprintf(tmp, sizeof(tmp), "%d", k);
		num(p, tmp, (double)t.by_status[k]);
	}

	o = obj(root, "connections");
	num(o, "accepted", (double)t.accepted);
	num(o, "closed", (double)t.closed);
	num(o, "open", (double)t.open);

	o = obj(root, "streams");
	num(o, "started", (double)t.streams_started);
	num(o, "completed", (double)t.streams_completed);
	num(o, "aborted", (double)t.streams_aborted);

	o = obj(root, "bytes");
	num(o, "received", (double)t.bytes_in);
	num(o, "sent", (double)t.bytes_out);

	text = cJSON_PrintUnformatted(root);
	if (!text) {
		fprintf(stderr, "mockllm: out of memory printing /stats\n");
		abort();
	}
	buf_puts(out, text);
	buf_lit(out, "\n");
	cJSON_free(text);
	cJSON_Delete(root);
}

#define ZERO(x)	__atomic_store_n(&(x), 0, __ATOMIC_RELAXED)

/* Counters only: open and in_flight describe the present, and stay true. */
void stats_reset(void)
{
	int i, k;

	for (i = 0; i < srv.nworkers; i++) {
		struct wstats *s = &srv.workers[i].st;

		ZERO(s->requests);
		for (k = 0; k < R__MAX; k++)
			ZERO(s->by_route[k]);
		for (k = 0; k < 600; k++)
			ZERO(s->by_status[k]);
		ZERO(s->accepted);
		ZERO(s->closed);
		ZERO(s->streams_started);
		ZERO(s->streams_completed);
		ZERO(s->streams_aborted);
		ZERO(s->aborted);
		ZERO(s->faults);
		ZERO(s->bad_requests);
		ZERO(s->bytes_in);
		ZERO(s->bytes_out);
	}
	pthread_mutex_lock(&srv.lock);
	cJSON_Delete(srv.last);
	srv.last = NULL;
	pthread_mutex_unlock(&srv.lock);
}

/* cJSON has no string-with-length constructor. */
static cJSON *strn(const char *s, size_t n)
{
	char *z = xstrndup(s ? s : "", n);
	cJSON *o = cJSON_CreateString(z);

	free(z);
	return o;
}

/* The request as it reached us: method, target, headers in order and case, body. */
void stats_record(const struct req *r)
{
	cJSON *o = cJSON_CreateObject(), *h, *pair;
	uint32_t i;

	cJSON_AddItemToObject(o, "method", strn(r->method, r->mlen));
	cJSON_AddItemToObject(o, "target", strn(r->target, r->tlen));
	cJSON_AddStringToObject(o, "version", r->minor ? "HTTP/1.1" : "HTTP/1.0");
	h = cJSON_AddArrayToObject(o, "headers");
	for (i = 0; i < r->nhdr; i++) {
		pair = cJSON_CreateArray();
		cJSON_AddItemToArray(pair, strn(r->hdr[i].name, r->hdr[i].nlen));
		cJSON_AddItemToArray(pair, strn(r->hdr[i].val, r->hdr[i].vlen));
		cJSON_AddItemToArray(h, pair);
	}
	cJSON_AddItemToObject(o, "body", strn(r->body, r->body_len));
	cJSON_AddNumberToObject(o, "body_bytes", (double)r->body_len);

	pthread_mutex_lock(&srv.lock);
	cJSON_Delete(srv.last);
	srv.last = o;
	pthread_mutex_unlock(&srv.lock);
}
