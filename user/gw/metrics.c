// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Per-worker counters and their Prometheus exposition (see metrics.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "gw/audit.h"
#include "gw/escalate.h"
#include "gw/gw.h"
#include "gw/metrics.h"
#include "gw/priv.h"
#include "lib/dataplane.h"
#include "lib/iface.h"
#include "lib/stats.h"

static const double bounds[M_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
};
/* sluice's own share of a request: tens of microseconds to a few seconds */
static const double fine_bounds[M_BUCKETS] = {
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 1, 5,
};

static const int widths[MK_N] = {
	[MK_ROUTE] = MR_WIDTH, [MK_POOL] = MP_WIDTH, [MK_RULE] = MU_WIDTH,
	[MK_LISTENER] = ML_WIDTH, [MK_TENANT] = MT_WIDTH, [MK_MODEL] = MM_WIDTH,
};

/* Names by slot, per kind: appended by config loads, read by scrapes. */
static struct {
	char *name[M_SLOTS];
	int n;
} reg[MK_N];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

int metrics_slot(enum m_kind kind, const char *name)
{
	int slot = -1;

	pthread_mutex_lock(&reg_lock);
	for (int i = 0; i < reg[kind].n; i++)
		if (!strcmp(reg[kind].name[i], name)) {
			slot = i;
			goto out;
		}
	if (reg[kind].n < M_SLOTS && (reg[kind].name[reg[kind].n] = strdup(name)))
		slot = reg[kind].n++;
out:
	pthread_mutex_unlock(&reg_lock);
	return slot;
}

uint64_t *metrics_row(struct wmetrics *m, enum m_kind kind, int slot)
{
	_Atomic(uint64_t *) *cp;
	uint64_t *c;

	if (slot < 0 || slot >= M_SLOTS)
		return NULL;
	cp = &m->chunk[kind][slot / M_CHUNK];
	c = atomic_load_explicit(cp, memory_order_relaxed);
	if (!c) {
		c = calloc((size_t)M_CHUNK * widths[kind], sizeof(*c));
		if (!c)
			return NULL;
		atomic_store_explicit(cp, c, memory_order_release);
	}
	return c + (size_t)(slot % M_CHUNK) * widths[kind];
}

static void observe(struct m_hist *h, const double *bound, uint64_t ns)
{
	double s = ns / 1e9;
	int b = 0;

	while (b < M_BUCKETS && s > bound[b])
		b++;
	M_INC(h->n[b]);
	M_ADD(h->sum_us, ns / 1000);
}

void metrics_observe(struct m_hist *h, uint64_t ns)
{
	observe(h, bounds, ns);
}

void metrics_observe_fine(struct m_hist *h, uint64_t ns)
{
	observe(h, fine_bounds, ns);
}

void metrics_free(struct wmetrics *m)
{
	for (int k = 0; k < MK_N; k++)
		for (int i = 0; i < M_CHUNKS; i++)
			free(atomic_load(&m->chunk[k][i]));
	memset(m, 0, sizeof(*m));
}

/* --- the scrape ----------------------------------------------------------- */

/* A counter of slot summed over the workers. */
static uint64_t sum(struct worker *w, unsigned int nw, enum m_kind kind, int slot, int off)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < nw; i++) {
		uint64_t *c = atomic_load_explicit(&w[i].m.chunk[kind][slot / M_CHUNK],
						   memory_order_acquire);

		if (c)
			v += M_GET(c[(size_t)(slot % M_CHUNK) * widths[kind] + off]);
	}
	return v;
}

/* A label value as the text format wants it: \, " and LF escaped. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(FILE *f, const char *name, const char *help, struct worker *w, unsigned int nw,
		 size_t off, const double *bound)
{
	uint64_t n[M_BUCKETS + 1] = { 0 }, sum_us = 0, acc = 0;

	for (unsigned int i = 0; i < nw; i++) {
		const struct m_hist *h = (const struct m_hist *)((const char *)&w[i].m + off);

		for (int b = 0; b <= M_BUCKETS; b++)
			n[b] += M_GET(h->n[b]);
		sum_us += M_GET(h->sum_us);
	}
	family(f, name, "histogram", help);
	for (int b = 0; b < M_BUCKETS; b++) {
		acc += n[b];
		fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", name, bound[b], (unsigned long long)acc);
	}
	acc += n[M_BUCKETS];
	fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
		(unsigned long long)acc, name, sum_us / 1e6, name, (unsigned long long)acc);
}

static const char *const class_names[M_CLASSES] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

/*
 * A family of one series per slot below n of kind, labelled lname, valued
 * by column off summed over the workers. A gauge is printed signed: its
 * workers' ups and downs are summed modulo 2^64.
 */
static void column(FILE *f, struct worker *w, unsigned int nw, int n, const char *name,
		   const char *type, const char *help, enum m_kind kind, const char *lname, int off)
{
	family(f, name, type, help);
	for (int s = 0; s < n; s++) {
		uint64_t v = sum(w, nw, kind, s, off);

		fprintf(f, "%s{%s=\"", name, lname);
		label(f, reg[kind].name[s]);
		if (!strcmp(type, "gauge"))
			fprintf(f, "\"} %lld\n", (long long)v);
		else
			fprintf(f, "\"} %llu\n", (unsigned long long)v);
	}
}

/* Requests by slot of kind (label lname), decision and status class, from column off on. */
static void requests(FILE *f, struct worker *w, unsigned int nw, int n, const char *name,
		     const char *help, enum m_kind kind, const char *lname, int off)
{
	family(f, name, "counter", help);
	for (int s = 0; s < n; s++)
		for (int d = 0; d < M_DECISIONS; d++)
			for (int c = 0; c < M_CLASSES; c++) {
				uint64_t v = sum(w, nw, kind, s, off + d * M_CLASSES + c);

				if (!v)
					continue;
				fprintf(f, "%s{%s=\"", name, lname);
				label(f, reg[kind].name[s]);
				fprintf(f, "\",decision=\"%s\",code=\"%s\"} %llu\n",
					decision_name(d), class_names[c], (unsigned long long)v);
			}
}

/* Tokens by slot of kind (label lname) and direction: prompt, completion, cached from off on. */
static void tokens(FILE *f, struct worker *w, unsigned int nw, int n, const char *name,
		   const char *help, enum m_kind kind, const char *lname, int off)
{
	static const char *const dir[] = { "prompt", "completion", "cached" };

	family(f, name, "counter", help);
	for (int s = 0; s < n; s++)
		for (int d = 0; d < 3; d++) {
			fprintf(f, "%s{%s=\"", name, lname);
			label(f, reg[kind].name[s]);
			fprintf(f, "\",direction=\"%s\"} %llu\n", dir[d],
				(unsigned long long)sum(w, nw, kind, s, off + d));
		}
}

static void per_slot(FILE *f, struct worker *w, unsigned int nw)
{
	int n[MK_N];

	pthread_mutex_lock(&reg_lock);
	for (int k = 0; k < MK_N; k++)
		n[k] = reg[k].n;
	pthread_mutex_unlock(&reg_lock);
	/* names are only appended: those below n stay as they are */

	requests(f, w, nw, n[MK_ROUTE], "sluice_requests_total",
		 "Requests answered, by route, decision and status class.", MK_ROUTE, "route", MR_REQ);
	requests(f, w, nw, n[MK_MODEL], "sluice_model_requests_total",
		 "Requests answered, by model (the first glob of admin.models, else of tokenizer.models,"
		 " that matched it; \"other\"; \"\" for none), decision and status class.", MK_MODEL, "model", MM_REQ);
	family(f, "sluice_prompt_tokens_total", "counter",
	       "Prompt tokens sluice counted before forwarding, by route: with the model's "
	       "encoding, or estimated at body bytes / 4 where the tokenizer has none.");
	for (int s = 0; s < n[MK_ROUTE]; s++)
		for (int e = 0; e < 2; e++) {
			fputs("sluice_prompt_tokens_total{route=\"", f);
			label(f, reg[MK_ROUTE].name[s]);
			fprintf(f, "\",estimated=\"%s\"} %llu\n", e ? "false" : "true",
				(unsigned long long)sum(w, nw, MK_ROUTE, s,
							e ? MR_TOKENS_EXACT : MR_TOKENS));
		}
	tokens(f, w, nw, n[MK_ROUTE], "sluice_tokens_total",
	       "Tokens the backends reported, by route and direction (prompt, completion, cached).",
	       MK_ROUTE, "route", MR_PROMPT);
	tokens(f, w, nw, n[MK_TENANT], "sluice_tenant_tokens_total",
	       "Tokens the backends reported, by tenant (\"\": requests without a key) and direction.",
	       MK_TENANT, "tenant", MT_PROMPT);
	tokens(f, w, nw, n[MK_MODEL], "sluice_model_tokens_total",
	       "Tokens the backends reported, by model (as in sluice_model_requests_total) and direction.",
	       MK_MODEL, "model", MM_PROMPT);
	family(f, "sluice_pool_responses_total", "counter",
	       "Upstream responses relayed, by pool and status class.");
	for (int s = 0; s < n[MK_POOL]; s++)
		for (int c = 0; c < M_CLASSES; c++) {
			uint64_t v = sum(w, nw, MK_POOL, s, MP_RESP + c);

			if (!v)
				continue;
			fputs("sluice_pool_responses_total{pool=\"", f);
			label(f, reg[MK_POOL].name[s]);
			fprintf(f, "\",code=\"%s\"} %llu\n", class_names[c], (unsigned long long)v);
		}
	column(f, w, nw, n[MK_POOL], "sluice_pool_shed_total", "counter",
	       "Requests refused with 503 because every backend of the pool was at its limit"
	       " and its queue full, by pool.", MK_POOL, "pool", MP_SHED);
	/* each worker's count is its enqueues less its leaves */
	column(f, w, nw, n[MK_POOL], "sluice_pool_queue_depth", "gauge",
	       "Requests waiting for a backend of the pool now, by pool.", MK_POOL, "pool", MP_QUEUED);
	family(f, "sluice_rule_hits_total", "counter",
	       "Inspection rules that matched, by rule and mode (enforce or monitor).");
	for (int s = 0; s < n[MK_RULE]; s++)
		for (int m = 0; m < 2; m++) {
			fputs("sluice_rule_hits_total{rule=\"", f);
			label(f, reg[MK_RULE].name[s]);
			fprintf(f, "\",mode=\"%s\"} %llu\n", m ? "monitor" : "enforce",
				(unsigned long long)sum(w, nw, MK_RULE, s, m ? MU_MONITOR : MU_HITS));
		}
	column(f, w, nw, n[MK_LISTENER], "sluice_connections_accepted_total", "counter",
	       "Client connections accepted, by listener.", MK_LISTENER, "listener", ML_ACCEPTED);
	column(f, w, nw, n[MK_LISTENER], "sluice_connections_active", "gauge",
	       "Client connections open, by listener.", MK_LISTENER, "listener", ML_ACTIVE);
	column(f, w, nw, n[MK_LISTENER], "sluice_tls_handshake_failures_total", "counter",
	       "TLS handshakes that failed, by listener.", MK_LISTENER, "listener", ML_TLS_FAILED);
	column(f, w, nw, n[MK_LISTENER], "sluice_proxy_header_failures_total", "counter",
	       "Connections from trusted proxies closed for a missing or malformed PROXY header, "
	       "by listener.", MK_LISTENER, "listener", ML_PROXY_FAILED);
	column(f, w, nw, n[MK_LISTENER], "sluice_slow_clients_total", "counter",
	       "Connections closed at a deadline: a handshake, request head or body that did not "
	       "come in time, or a body below the minimum rate, by listener.", MK_LISTENER,
	       "listener", ML_SLOW);
	column(f, w, nw, n[MK_LISTENER], "sluice_connections_refused_total", "counter",
	       "Connections closed at accept: their source had max_connections_per_source open, "
	       "by listener.", MK_LISTENER, "listener", ML_SOURCE_FULL);
}

static void backends(FILE *f, const struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;

	family(f, "sluice_backend_up", "gauge",
	       "1 when the backend is usable (health checks passing, not ejected).");
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t b = 0; b < cfg->pools[p].nbackends; b++) {
			fputs("sluice_backend_up{pool=\"", f);
			label(f, cfg->pools[p].name);
			fputs("\",backend=\"", f);
			label(f, cfg->pools[p].backends[b].authority);
			fprintf(f, "\"} %d\n", pool__is_up(rt->pools[p], (int)b));
		}
	family(f, "sluice_backend_inflight", "gauge", "Requests in flight to the backend.");
	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t b = 0; b < cfg->pools[p].nbackends; b++) {
			const struct backend_rt *be = pool__backend(rt->pools[p], (int)b);

			fputs("sluice_backend_inflight{pool=\"", f);
			label(f, cfg->pools[p].name);
			fputs("\",backend=\"", f);
			label(f, cfg->pools[p].backends[b].authority);
			fprintf(f, "\"} %u\n", atomic_load_explicit(&be->inflight,
								     memory_order_relaxed));
		}
}

static int xdp_iface(const struct iface_state *st, void *arg)
{
	struct { FILE *f; struct dataplane *dp; bool bytes; } *a = arg;
	struct sluice_stat s[SLUICE_R_MAX];

	if (stats_read(a->dp, (int)st->slot, s))
		return 0;
	for (unsigned int r = 0; r < SLUICE_R_MAX; r++) {
		fprintf(a->f, "sluice_xdp_%s_total{interface=\"", a->bytes ? "bytes" : "packets");
		label(a->f, st->rec.name);
		fprintf(a->f, "\",reason=\"%s\",action=\"%s\"} %llu\n", reason_name(r),
			reason_drops(r) ? "drop" : "pass",
			(unsigned long long)(a->bytes ? s[r].bytes : s[r].packets));
	}
	return 0;
}

/* The data plane's counters, from the pinned maps, when it is there. */
static void xdp(FILE *f)
{
	struct dataplane dp;
	struct { FILE *f; struct dataplane *dp; bool bytes; } a = { f, &dp, false };

	if (priv_dp_get(&dp, DP_NOCREATE))
		return;
	family(f, "sluice_xdp_packets_total", "counter",
	       "Packets seen by the XDP program, by interface, reason and action.");
	iface_walk(&dp, xdp_iface, &a);
	a.bytes = true;
	family(f, "sluice_xdp_bytes_total", "counter",
	       "Bytes seen by the XDP program, by interface, reason and action.");
	iface_walk(&dp, xdp_iface, &a);
	priv_dp_put(&dp);
}

void metrics_write(FILE *f, struct worker *w, unsigned int nw, const struct runtime *rt)
{
	struct worker_stats st = { 0 };
	uint64_t det[PII_NKINDS] = { 0 }, mask[PII_NKINDS] = { 0 };

	family(f, "sluice_build_info", "gauge", "The running sluiced.");
	fprintf(f, "sluice_build_info{version=\"%s\"} 1\n", SLUICED_VERSION);
	family(f, "sluice_config_generation", "gauge", "Configs loaded since start (1: the first).");
	fprintf(f, "sluice_config_generation %llu\n", (unsigned long long)rt->generation);
	per_slot(f, w, nw);
	for (unsigned int i = 0; i < nw; i++) {
		st.accepted += M_GET(w[i].st.accepted);
		st.retries += M_GET(w[i].st.retries);
		st.shed += M_GET(w[i].st.shed);
		st.errors += M_GET(w[i].st.errors);
		st.aborted += M_GET(w[i].st.aborted);
		st.audit_lost += M_GET(w[i].st.audit_lost);
		st.audit_refused += M_GET(w[i].st.audit_refused);
		st.auth_failed += M_GET(w[i].st.auth_failed);
		st.forbidden += M_GET(w[i].st.forbidden);
		for (int sc = 0; sc < LS_N; sc++)
			for (int l = 0; l < LW_N; l++)
				st.limited[sc][l] += M_GET(w[i].st.limited[sc][l]);
		for (unsigned int k = 0; k < PII_NKINDS; k++) {
			det[k] += M_GET(w[i].m.detected[k]);
			mask[k] += M_GET(w[i].m.masked[k]);
		}
	}
	family(f, "sluice_pii_detections_total", "counter",
	       "Built-in detector hits in prompts, by entity.");
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		fprintf(f, "sluice_pii_detections_total{entity=\"%s\"} %llu\n", pii_detectors[k].name,
			(unsigned long long)det[k]);
	family(f, "sluice_pii_masked_total", "counter",
	       "Entities masked in prompts and answers, by entity.");
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		fprintf(f, "sluice_pii_masked_total{entity=\"%s\"} %llu\n", pii_detectors[k].name,
			(unsigned long long)mask[k]);
	hist(f, "sluice_request_duration_seconds",
	     "From the request head to the end of the response.", w, nw,
	     offsetof(struct wmetrics, latency), bounds);
	hist(f, "sluice_time_to_first_byte_seconds",
	     "From the request head to the response head (time to first token on streams).", w,
	     nw, offsetof(struct wmetrics, ttfb), bounds);
	hist(f, "sluice_stream_event_gap_seconds",
	     "Between successive upstream reads of a streamed (SSE) answer: the inter-token gap.",
	     w, nw, offsetof(struct wmetrics, gap), bounds);
	hist(f, "sluice_gateway_overhead_seconds",
	     "Time a request spent in sluiced itself: from its head to the end of its response,"
	     " less the time upstream attempts took (queueing, inspection, relaying included).",
	     w, nw, offsetof(struct wmetrics, overhead), fine_bounds);
	family(f, "sluice_retries_total", "counter", "Upstream attempts retried.");
	fprintf(f, "sluice_retries_total %llu\n", (unsigned long long)st.retries);
	family(f, "sluice_shed_total", "counter", "Requests shed with 503 (pools full).");
	fprintf(f, "sluice_shed_total %llu\n", (unsigned long long)st.shed);
	family(f, "sluice_rate_limited_total", "counter",
	       "Requests refused with 429, by the scope and the limit that refused them.");
	for (int sc = 0; sc < LS_N; sc++)
		for (int l = LW_RPS; l < LW_N; l++)
			fprintf(f, "sluice_rate_limited_total{scope=\"%s\",limit=\"%s\"} %llu\n",
				limit_scope_name(sc), limit_what_name(l),
				(unsigned long long)st.limited[sc][l]);
	family(f, "sluice_auth_failures_total", "counter",
	       "Requests refused with 401 (no API key where one is required, or an unknown one).");
	fprintf(f, "sluice_auth_failures_total %llu\n", (unsigned long long)st.auth_failed);
	family(f, "sluice_key_forbidden_total", "counter",
	       "Requests refused with 403 (a key used outside its models or routes).");
	fprintf(f, "sluice_key_forbidden_total %llu\n", (unsigned long long)st.forbidden);
	{
		uint64_t ew, ef, bs[8];

		escalate_counts(&ew, &ef, bs);
		family(f, "sluice_escalations_total", "counter",
		       "Verdicts written into the XDP throttle map by escalation, by step.");
		for (int i = 0; i < 8; i++)
			if (bs[i] || !i)
				fprintf(f, "sluice_escalations_total{step=\"%d\"} %llu\n", i + 1,
					(unsigned long long)bs[i]);
		family(f, "sluice_escalation_failures_total", "counter",
		       "Verdicts that could not be written (no data plane, no permission).");
		fprintf(f, "sluice_escalation_failures_total %llu\n", (unsigned long long)ef);
	}
	family(f, "sluice_limit_buckets", "gauge", "Limit buckets in use (keys, tenants, addresses, routes).");
	fprintf(f, "sluice_limit_buckets %zu\n", limit_buckets_used());
	family(f, "sluice_local_errors_total", "counter", "Error responses sluiced made itself.");
	fprintf(f, "sluice_local_errors_total %llu\n", (unsigned long long)st.errors);
	family(f, "sluice_client_aborts_total", "counter", "Clients that left before their answer.");
	fprintf(f, "sluice_client_aborts_total %llu\n", (unsigned long long)st.aborted);
	backends(f, rt);
	if (gw_audit) {
		struct audit_stats as;

		audit_get_stats(gw_audit, &as);
		family(f, "sluice_audit_records_total", "counter", "Audit records written.");
		fprintf(f, "sluice_audit_records_total %llu\n", (unsigned long long)as.written);
		family(f, "sluice_audit_queue_depth", "gauge", "Audit records waiting for the writer.");
		fprintf(f, "sluice_audit_queue_depth %zu\n", as.depth);
		family(f, "sluice_audit_sync_lag_max_seconds", "gauge",
		       "Longest time from a record's submission to its commit.");
		fprintf(f, "sluice_audit_sync_lag_max_seconds %.6f\n", as.lag_ns_max / 1e9);
		family(f, "sluice_audit_lost_total", "counter",
		       "Records that could not be queued (each logged; the writer was failing).");
		fprintf(f, "sluice_audit_lost_total %llu\n", (unsigned long long)st.audit_lost);
		family(f, "sluice_audit_refused_total", "counter",
		       "Requests refused with 503 while the writer was failing (on_error refuse).");
		fprintf(f, "sluice_audit_refused_total %llu\n", (unsigned long long)st.audit_refused);
		family(f, "sluice_audit_up", "gauge", "1 while the audit writer is healthy, 0 while it fails.");
		fprintf(f, "sluice_audit_up %d\n", !audit_error(gw_audit));
	}
	xdp(f);
}
