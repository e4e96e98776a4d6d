/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Request and token limits, shared by every worker and kept across reloads.
 *
 * A bucket is the state of one scope: a key, a tenant, a source address or
 * a route, found by its kind and name. Every rate in it is a GCRA: a
 * theoretical arrival time (TAT) that each admitted unit pushes forward by
 * the emission interval E = period / limit; a request is admitted while
 * TAT - now stays within the burst allowance B * E. So a limit is exact at
 * any instant, with no fixed windows to double at their boundary: over any
 * span t at most B + t / E units pass.
 *   requests_per_second  B = the limit (one second's worth)
 *   requests_per_minute  B = a sixth of the limit (ten seconds' worth)
 *   tokens_per_minute    B = the limit: one request may take a minute's worth
 *   tokens_per_day       B = the limit
 * Concurrency is a count of requests in flight.
 *
 * A request reserves, before it is sent, one request and its prompt plus
 * allowed completion tokens from every scope it draws on, all or nothing:
 * the stripes of its buckets are locked together, each budget is checked,
 * and only then are all charged. When its response ends, the reservation
 * is settled against the usage the backend reported: unspent tokens go back.
 *
 * Buckets live in one table of LIMIT_BUCKETS; a bucket nothing holds and
 * whose rates have drained is free to be taken by another scope. A scope
 * that finds the table full of live buckets is refused (fail closed).
 */
#ifndef SLUICE_GW_LIMIT_H
#define SLUICE_GW_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gw/config.h"

#define LIMIT_BUCKETS	(1U << 18)
#define LIMIT_ID_MAX	63
/*
 * The rates of a bucket, in this order wherever they come as an array:
 * requests_per_second, requests_per_minute, tokens_per_minute, tokens_per_day.
 */
#define LIMIT_RATES	4

enum limit_scope { LS_KEY = 0, LS_TENANT, LS_ADDRESS, LS_ROUTE, LS_N };

/* Which limit refused a request (also a metrics label) */
enum limit_what {
	LW_NONE = 0,
	LW_RPS,
	LW_RPM,
	LW_CONCURRENT,
	LW_TPM,
	LW_TPD,
	LW_FULL,		/* the table: no bucket for the scope */
	LW_N,
};

struct limit_bucket;

/* One scope a request draws on: its kind, name and limits. */
struct limit_ask {
	enum limit_scope scope;
	const char *id;
	const struct cfg_limits *l;
};

/* What a request holds: its buckets until limit_release(). */
struct limit_ticket {
	struct limit_bucket *b[LS_N];
	const struct cfg_limits *l[LS_N];
	int n;
	uint64_t tokens;		/* reserved */
};

/* The figures of the x-ratelimit-* headers: the scope with least left. */
struct limit_view {
	uint64_t req_limit, req_remaining, req_reset_ns;
	uint64_t tok_limit, tok_remaining, tok_reset_ns;
	bool req, tok;			/* some request / token limit applies */
};

/* Why a request was refused. */
struct limit_refusal {
	enum limit_what what;
	enum limit_scope scope;
	uint64_t retry_ns;		/* until it would pass; 0: it never will (too big) */
};

int limit_init(void);
void limit_fini(void);

/*
 * Reserves one request and tokens from every scope of ask[0, n) (n <= LS_N)
 * at now (CLOCK_MONOTONIC ns). 0 with t filled and v set to the headers'
 * figures after the charge; -EAGAIN with why filled when a limit refuses
 * (nothing is charged then, and v has the refusing scope's figures).
 */
int limit_acquire(struct limit_ticket *t, const struct limit_ask *ask, int n, uint64_t tokens,
		  uint64_t now, struct limit_view *v, struct limit_refusal *why);

/* Does t hold tokens from some budget (tokens_per_minute or _per_day)? */
static inline bool limit_ticket_tokens(const struct limit_ticket *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->l[i]->tpm || t->l[i]->tpd)
			return true;
	return false;
}

/* Ends t's request: concurrency back, tokens settled to used (give back or charge more). */
void limit_release(struct limit_ticket *t, uint64_t used, uint64_t now);

/* "x-ratelimit-limit-requests: ...\r\n..." for v into out; the bytes written. */
size_t limit_headers(const struct limit_view *v, char *out, size_t size);

const char *limit_what_name(enum limit_what w);
const char *limit_scope_name(enum limit_scope s);

/* Buckets in use now (for metrics). */
size_t limit_buckets_used(void);

/*
 * What a bucket still owes, rate by rate (LIMIT_RATES order): left_ns[r]
 * is its TAT minus now, 0 when that rate has drained. This is all of a
 * bucket that outlives a restart (see gw/state.h); concurrency does not.
 */
typedef int (*limit_walk_fn)(enum limit_scope scope, const char *id,
			     const uint64_t left_ns[LIMIT_RATES], void *arg);

/*
 * Calls fn for every bucket with some rate not drained at now (CLOCK_MONOTONIC
 * ns). One stripe is locked at a time, so the walk is not a snapshot of the
 * whole table, and fn runs under that lock: it must not call limit_*(). A
 * non-zero return from fn stops the walk and is returned; else 0.
 */
int limit_walk(uint64_t now, limit_walk_fn fn, void *arg);

/*
 * Puts back what (scope, id) owed: each TAT becomes max(TAT, now + left_ns[r]),
 * so adopting never gives budget back, and a left of 0 changes nothing (a
 * bucket all of whose lefts are 0 is not made); a left over a year is taken
 * as a year. 0; -EINVAL for a bad scope
 * or an id longer than LIMIT_ID_MAX; -ENOSPC when the table is full of live
 * buckets; -ENOMEM.
 */
int limit_adopt(enum limit_scope scope, const char *id, const uint64_t left_ns[LIMIT_RATES],
		uint64_t now);

#endif
