/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Metrics: each worker counts into its own memory, and a scrape sums the
 * workers. Counters are written by their worker alone (a relaxed store of
 * the value plus one, no locked instruction) and read relaxed by the
 * scrape: the request path takes no lock and shares no cache line.
 *
 * Labels come only from the config: routes, pools, rules, listeners,
 * tenants and the model label's globs get a slot by name the first time a
 * config names them, and keep it for the life of the process, so counters
 * go on across reloads and cardinality is bounded by what configs have
 * named (at most M_SLOTS a kind). Per-slot counters live in chunks a worker
 * allocates the first time it counts into one; a chunk is published with a
 * release store and never freed before exit.
 */
#ifndef SLUICE_GW_METRICS_H
#define SLUICE_GW_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "lib/pii.h"

enum m_kind {
	MK_ROUTE = 0,
	MK_POOL,
	MK_RULE,
	MK_LISTENER,
	MK_TENANT,
	MK_MODEL,
	MK_N,
};

#define M_CHUNK		64			/* slots a chunk */
#define M_CHUNKS	64
#define M_SLOTS		(M_CHUNK * M_CHUNKS)	/* names a kind */
#define M_DECISIONS	6			/* enum decision */
#define M_CLASSES	5			/* 1xx .. 5xx */
#define M_BUCKETS	16			/* histogram bounds, +Inf apart */

/* The counters of one slot, by kind: offsets into its row. */
enum {
	/* route: requests by decision and status class, prompt tokens sluice counted */
	MR_REQ = 0,
	MR_TOKENS = MR_REQ + M_DECISIONS * M_CLASSES,	/* estimated */
	MR_TOKENS_EXACT,		/* with the model's encoding */
	MR_PROMPT,			/* as the backends reported them */
	MR_COMPLETION,
	MR_CACHED,
	MR_WIDTH,
	/* pool: responses by status class, requests shed, requests queued now */
	MP_RESP = 0,
	MP_SHED = MP_RESP + M_CLASSES,
	MP_QUEUED,
	MP_WIDTH,
	/* rule: hits enforced, hits in monitor mode */
	MU_HITS = 0,
	MU_MONITOR,
	MU_WIDTH,
	/*
	 * listener: connections accepted, open now, TLS handshakes failed, PROXY
	 * headers refused, closed for a head or body that did not come in time,
	 * closed at accept for their source's max_connections_per_source
	 */
	ML_ACCEPTED = 0,
	ML_ACTIVE,
	ML_TLS_FAILED,
	ML_PROXY_FAILED,
	ML_SLOW,
	ML_SOURCE_FULL,
	ML_WIDTH,
	/* tenant: tokens the backends reported, by direction */
	MT_PROMPT = 0,
	MT_COMPLETION,
	MT_CACHED,
	MT_WIDTH,
	/* model (the label's glob): requests by decision and status class, tokens reported */
	MM_REQ = 0,
	MM_PROMPT = MM_REQ + M_DECISIONS * M_CLASSES,
	MM_COMPLETION,
	MM_CACHED,
	MM_WIDTH,
};

struct m_hist {
	uint64_t n[M_BUCKETS + 1];		/* the last: above every bound */
	uint64_t sum_us;
};

struct wmetrics {
	_Atomic(uint64_t *) chunk[MK_N][M_CHUNKS];
	struct m_hist latency;			/* request head to response end */
	struct m_hist ttfb;			/* request head to response head */
	struct m_hist gap;			/* between the reads of a stream's events */
	struct m_hist overhead;			/* latency less upstream time (fine bounds) */
	uint64_t detected[PII_NKINDS];
	uint64_t masked[PII_NKINDS];
};

#define M_INC(x)	M_ADD(x, 1)
#define M_ADD(x, v)	__atomic_store_n(&(x), (x) + (v), __ATOMIC_RELAXED)
#define M_GET(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)

/* The slot of name for kind (main thread, at config load); -1 past M_SLOTS. */
int metrics_slot(enum m_kind kind, const char *name);

/* The row of slot, allocated on first use (by its worker only); NULL: no memory or slot < 0. */
uint64_t *metrics_row(struct wmetrics *m, enum m_kind kind, int slot);

void metrics_observe(struct m_hist *h, uint64_t ns);
/* The same with bounds from 10 us to 5 s, for sluice's own share of a request. */
void metrics_observe_fine(struct m_hist *h, uint64_t ns);

/* Frees a worker's chunks (at exit, after its thread is gone). */
void metrics_free(struct wmetrics *m);

struct worker;
struct runtime;

/* The Prometheus text exposition of nw workers and rt (0.0.4). */
void metrics_write(FILE *f, struct worker *w, unsigned int nw, const struct runtime *rt);

#endif
