// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The audit record of a request: what came, what was decided and why,
 * what was changed, and how it ended. Never the raw prompt: a keyed hash
 * of it, and the masked text only when the config asks for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gw/audit.h"
#include "gw/gw.h"
#include "gw/restore.h"
#include "lib/jsonw.h"
#include "lib/keyfile.h"

struct audit *gw_audit;

/* "2026-12-06T03:50:00.123Z" */
static void rfc3339(uint64_t ns, char *buf, size_t len)
{
	time_t s = ns / 1000000000ULL;
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned int)(ns / 1000000ULL % 1000));
}

/* The realtime clock at a loop time: records carry wall time, the loop keeps monotonic. */
static uint64_t wall_ns(uint64_t mono_ns, uint64_t now_mono_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec - (now_mono_ns - mono_ns);
}

static enum decision decision_of(const struct client *c)
{
	if (c->inspected && c->insp.decision == DEC_BLOCKED)
		return DEC_BLOCKED;
	if (c->status == 429)
		return DEC_THROTTLED;
	if (c->local_error || c->upstream_cut || c->status >= 500 || !c->status)
		return DEC_ERROR;
	if (!c->inspected)
		return DEC_ALLOWED;
	return c->insp.decision;
}

static void counts_object(struct jsonw *jw, const uint32_t *counts)
{
	jsonw_start_object(jw);
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		if (counts[k])
			jsonw_uint_field(jw, pii_detectors[k].name, counts[k]);
	jsonw_end_object(jw);
}

static void reasons(struct jsonw *jw, const struct gw_config *cfg, const struct inspection *in)
{
	static const char *const actions[] = { "allow", "block", "mask", "reroute", "tag",
					       "escalate" };

	jsonw_name(jw, "reasons");
	jsonw_start_array(jw);
	for (size_t i = 0; i < in->nreasons; i++) {
		const struct insp_reason *r = &in->reasons[i];
		const struct cfg_rule *rule = &cfg->inspect.rules[r->rule];

		jsonw_start_object(jw);
		jsonw_string_field(jw, "rule", rule->name);
		jsonw_string_field(jw, "action", actions[rule->action]);
		jsonw_bool_field(jw, "monitor", r->monitor);
		if (r->answer)
			jsonw_string_field(jw, "on", "answer");
		jsonw_name(jw, "detectors");
		counts_object(jw, r->counts);
		if (r->sets) {
			jsonw_name(jw, "sets");
			jsonw_start_array(jw);
			for (size_t s = 0; s < cfg->inspect.nsets; s++)
				if (r->sets & (1ULL << s))
					jsonw_string(jw, cfg->inspect.sets[s].name);
			jsonw_end_array(jw);
		}
		jsonw_end_object(jw);
	}
	jsonw_end_array(jw);
}

static void string_or_null(struct jsonw *jw, const char *name, const char *s)
{
	jsonw_name(jw, name);
	if (s)
		jsonw_string(jw, s);
	else
		jsonw_null(jw);
}

/* The session: the x-session-id header, else the body's "user". */
static void session(struct jsonw *jw, const struct client *c)
{
	const struct http1_header *h = c->head_len ? http1_find(&c->req, "x-session-id", NULL)
						   : NULL;
	char v[GW_REQUEST_ID_MAX + 1];

	if (h && h->value_len && h->value_len <= GW_REQUEST_ID_MAX) {
		memcpy(v, h->value, h->value_len);
		v[h->value_len] = '\0';
		string_or_null(jw, "session", v);
		return;
	}
	string_or_null(jw, "session", c->user);
}

/* Members of the record, as audit_submit() takes them: the object without its braces. */
static char *members(const struct client *c, const struct gw_config *cfg, size_t *len)
{
	const struct inspection *in = &c->insp;
	uint64_t now = c->w->loop.now_ns;
	char ts[64], ip[64], h[65], *buf = NULL;
	enum decision d = decision_of(c);
	size_t size = 0, n;
	struct jsonw *jw;
	const char *colon;
	FILE *f;

	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	jw = jsonw_new(f, false);
	if (!jw) {
		fclose(f);
		free(buf);
		return NULL;
	}
	rfc3339(wall_ns(c->head_ns, now), ts, sizeof(ts));
	/* the peer text is "addr:port" ("[v6]:port"): the address alone */
	colon = strrchr(c->peer_text, ':');
	n = colon ? (size_t)(colon - c->peer_text) : strlen(c->peer_text);
	if (n && c->peer_text[0] == '[' && c->peer_text[n - 1] == ']')
		snprintf(ip, sizeof(ip), "%.*s", (int)(n - 2), c->peer_text + 1);
	else
		snprintf(ip, sizeof(ip), "%.*s", (int)n, c->peer_text);

	jsonw_start_object(jw);
	jsonw_string_field(jw, "ts", ts);
	jsonw_string_field(jw, "id", c->request_id);
	session(jw, c);
	jsonw_name(jw, "origin");
	jsonw_start_object(jw);
	string_or_null(jw, "key", c->key ? c->key->id : NULL);
	string_or_null(jw, "tenant", c->key ? c->key->tenant : NULL);
	jsonw_string_field(jw, "ip", ip);
	jsonw_end_object(jw);
	string_or_null(jw, "route", c->route >= 0 && (size_t)c->route < cfg->nroutes ?
				    cfg->routes[c->route].name : NULL);
	string_or_null(jw, "model", c->model);
	string_or_null(jw, "pool", c->pool >= 0 && (size_t)c->pool < cfg->npools ?
				   cfg->pools[c->pool].name : NULL);
	string_or_null(jw, "backend",
		       c->pool >= 0 && (size_t)c->pool < cfg->npools && c->backend >= 0 &&
				       (size_t)c->backend < cfg->pools[c->pool].nbackends ?
			       cfg->pools[c->pool].backends[c->backend].authority : NULL);
	jsonw_string_field(jw, "decision", decision_name(d));
	if (c->inspected && in->would != in->decision)
		jsonw_string_field(jw, "would", decision_name(in->would));
	reasons(jw, cfg, in);
	jsonw_name(jw, "detections");
	counts_object(jw, in->counts);
	jsonw_name(jw, "changes");
	counts_object(jw, in->masked);
	if (c->inspected && cfg->inspect.any_response) {
		jsonw_name(jw, "answer_changes");
		counts_object(jw, in->answer_masked);
	}
	if (c->inspected && in->ntags) {
		jsonw_name(jw, "tags");
		jsonw_start_array(jw);
		for (size_t i = 0; i < in->ntags; i++)
			jsonw_string(jw, in->tags[i]);
		jsonw_end_array(jw);
	}
	if (c->inspected && in->escalations)
		jsonw_uint_field(jw, "strikes", in->escalations);
	jsonw_name(jw, "tokens");
	jsonw_start_object(jw);
	if (c->used.found) {
		jsonw_uint_field(jw, "prompt", c->used.prompt);
		jsonw_uint_field(jw, "completion", c->used.completion);
		jsonw_uint_field(jw, "cached", c->used.cached);
		jsonw_uint_field(jw, "reasoning", c->used.reasoning);
		jsonw_bool_field(jw, "estimated", false);
	} else if (c->filter && c->filter->metering) {
		/* a stream with no usage, or cut: the completion as the meter counted it */
		jsonw_uint_field(jw, "prompt", c->prompt_tokens);
		jsonw_uint_field(jw, "completion", c->filter->counted);
		jsonw_bool_field(jw, "estimated", true);
	} else {
		jsonw_uint_field(jw, "prompt", c->prompt_tokens);
		jsonw_bool_field(jw, "estimated", !c->prompt_exact);
	}
	if (c->filter && c->filter->cut)
		jsonw_bool_field(jw, "cut", true);
	if (c->allowed)
		jsonw_uint_field(jw, "reserved", c->prompt_tokens + c->allowed);
	jsonw_end_object(jw);
	jsonw_uint_field(jw, "status", c->status);
	jsonw_float_field(jw, "latency_ms", (now - c->head_ns) / 1e6);
	if (c->first_byte_ns)
		jsonw_float_field(jw, "ttft_ms", (c->first_byte_ns - c->head_ns) / 1e6);
	if (c->inspected && in->npieces) {
		insp_hex(in->prompt_hash, sizeof(in->prompt_hash), h);
		jsonw_string_field(jw, "prompt_hash", h);
	}
	if (c->inspected && in->masked_text)
		jsonw_string_field(jw, "masked", in->masked_text);
	jsonw_end_object(jw);
	jsonw_destroy(&jw);
	if (fclose(f) || !buf) {
		free(buf);
		return NULL;
	}
	/* {...}\n -> ... */
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n < 2 || buf[0] != '{' || buf[n - 1] != '}') {
		free(buf);
		return NULL;
	}
	memmove(buf, buf + 1, n - 2);
	buf[n - 2] = '\0';
	*len = n - 2;
	return buf;
}

/* Reported usage into three counters from col: prompt, completion, cached. */
static void count_used(uint64_t *col, const struct usage *u)
{
	if (!u->found)
		return;
	M_ADD(col[0], u->prompt);
	M_ADD(col[1], u->completion);
	M_ADD(col[2], u->cached);
}

/* The request's counters, into its worker's memory. */
static void count_request(struct client *c, const struct runtime *rt)
{
	struct wmetrics *wm = &c->w->m;
	const struct inspection *in = &c->insp;
	unsigned int cls = c->status >= 100 && c->status < 600 ? c->status / 100 - 1 : 4;
	uint64_t now = c->w->loop.now_ns, *row;

	/* refused before a route took it: route "" */
	if ((row = metrics_row(wm, MK_ROUTE, c->route >= 0 && (size_t)c->route < rt->cfg->nroutes ?
						     rt->slot[MK_ROUTE][c->route] :
						     rt->no_route_slot))) {
		M_INC(row[MR_REQ + decision_of(c) * M_CLASSES + cls]);
		M_ADD(row[c->prompt_exact ? MR_TOKENS_EXACT : MR_TOKENS], c->prompt_tokens);
		count_used(row + MR_PROMPT, &c->used);
	}
	if (c->used.found &&
	    (row = metrics_row(wm, MK_TENANT, c->tenant >= 0 && (size_t)c->tenant < rt->cfg->ntenants ?
						      rt->slot[MK_TENANT][c->tenant] : rt->no_tenant_slot)))
		count_used(row + MT_PROMPT, &c->used);
	if (rt->nmodel_globs &&
	    (row = metrics_row(wm, MK_MODEL, runtime_model_slot(rt, c->model)))) {
		M_INC(row[MM_REQ + decision_of(c) * M_CLASSES + cls]);
		count_used(row + MM_PROMPT, &c->used);
	}
	if (!c->local_error && c->pool >= 0 && (size_t)c->pool < rt->cfg->npools &&
	    (row = metrics_row(wm, MK_POOL, rt->slot[MK_POOL][c->pool])))
		M_INC(row[MP_RESP + cls]);
	if (c->inspected) {
		for (size_t i = 0; i < in->nreasons; i++) {
			const struct insp_reason *r = &in->reasons[i];

			if (r->rule < rt->cfg->inspect.nrules &&
			    (row = metrics_row(wm, MK_RULE, rt->slot[MK_RULE][r->rule])))
				M_INC(row[r->monitor ? MU_MONITOR : MU_HITS]);
		}
		for (unsigned int k = 0; k < PII_NKINDS; k++) {
			M_ADD(wm->detected[k], in->counts[k]);
			M_ADD(wm->masked[k], in->masked[k] + in->answer_masked[k]);
		}
	}
	metrics_observe(&wm->latency, now - c->head_ns);
	if (now - c->head_ns >= c->upstream_ns)
		metrics_observe_fine(&wm->overhead, now - c->head_ns - c->upstream_ns);
	if (c->first_byte_ns)
		metrics_observe(&wm->ttfb, c->first_byte_ns - c->head_ns);
}

void audit_request(struct client *c)
{
	const struct runtime *rt = (c->view ? c->view : c->w->view)->rt;
	const struct gw_config *cfg = rt->cfg;
	uint64_t seq;
	size_t len = 0;
	char *m;

	if (!c->in_request)
		return;
	c->in_request = false;
	count_request(c, rt);
	if (!gw_audit)
		return;
	if (c->audit_down) {
		M_INC(c->w->st.audit_refused);
		return;
	}
	m = members(c, cfg, &len);
	if (!m) {
		gw_log(0, "audit: no record for request id=%s: out of memory", c->request_id);
		M_INC(c->w->st.audit_lost);
		return;
	}
	seq = audit_submit(gw_audit, m, len);
	if (c->insp.masked_text)
		explicit_bzero(m, len);
	free(m);
	if (!seq) {
		gw_log(0, "audit: record of request id=%s not written: %s", c->request_id,
		       audit_error(gw_audit) ? audit_error(gw_audit) : strerror(errno));
		M_INC(c->w->st.audit_lost);
		/* fail closed: what is not yet sent of an unrecorded answer never is */
		c->unrecorded = cfg->audit && cfg->audit->on_error == AUDIT_REFUSE;
		return;
	}
	/* sync always: the rest of the response waits until the record is on disk */
	if (cfg->audit && cfg->audit->sync == AUDIT_ALWAYS && audit_durable(gw_audit) < seq)
		c->audit_seq = seq;
}
