// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Request and token limits: GCRA buckets by scope, shared by the workers
 * (see limit.h for the arithmetic and the guarantees).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw/limit.h"

#define STRIPES		256
#define CHAINS		((int)(LIMIT_BUCKETS / STRIPES))	/* chain heads a stripe */
#define NS		1000000000ULL
/*
 * The most a bucket adopts per rate: a year. No real debt comes near it
 * (a day's budget spent many times over); it keeps a damaged or hand-made
 * state file from pushing a TAT to where TAT + interval wraps around.
 */
#define ADOPT_MAX_NS	(366 * 86400 * NS)

enum { R_RPS = 0, R_RPM, R_TPM, R_TPD, R_N };
_Static_assert(R_N == LIMIT_RATES, "limit.h names the rates in this order");

struct limit_bucket {
	struct limit_bucket *next;
	uint8_t scope;
	char id[LIMIT_ID_MAX + 1];
	uint64_t tat[R_N];		/* theoretical arrival time, ns */
	uint32_t held;			/* requests that hold it */
};

static struct stripe {
	pthread_mutex_t lock;
	struct limit_bucket *chain[CHAINS];
} *stripes;
static atomic_size_t nbuckets;

static const uint64_t period_ns[R_N] = { NS, 60 * NS, 60 * NS, 86400 * NS };

/* The limit of rate r in l (0: none) */
static uint64_t rate_limit(const struct cfg_limits *l, int r)
{
	switch (r) {
	case R_RPS: return l->rps;
	case R_RPM: return l->rpm;
	case R_TPM: return l->tpm;
	default: return l->tpd;
	}
}

/* Units that may come at once */
static uint64_t burst(uint64_t limit, int r)
{
	return r == R_RPM ? (limit + 5) / 6 : limit;
}

/* ns that cost units of rate r push the TAT by */
static uint64_t interval(uint64_t units, uint64_t limit, int r)
{
	return (uint64_t)((unsigned __int128)units * period_ns[r] / limit);
}

static uint64_t hash_of(enum limit_scope scope, const char *id)
{
	uint64_t h = 1469598103934665603ULL ^ scope;	/* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h;
}

int limit_init(void)
{
	if (stripes)
		return 0;
	stripes = calloc(STRIPES, sizeof(*stripes));
	if (!stripes)
		return -ENOMEM;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&stripes[i].lock, NULL);
	return 0;
}

void limit_fini(void)
{
	if (!stripes)
		return;
	for (int i = 0; i < STRIPES; i++) {
		for (int c = 0; c < CHAINS; c++) {
			struct limit_bucket *b = stripes[i].chain[c], *next;

			for (; b; b = next) {
				next = b->next;
				free(b);
			}
		}
		pthread_mutex_destroy(&stripes[i].lock);
	}
	free(stripes);
	stripes = NULL;
	atomic_store(&nbuckets, 0);
}

static bool idle(const struct limit_bucket *b, uint64_t now)
{
	if (b->held)
		return false;
	for (int r = 0; r < R_N; r++)
		if (b->tat[r] > now)
			return false;
	return true;
}

/*
 * The bucket of (scope, id) in its stripe, locked by the caller; made when
 * absent. Idle buckets met on the chain are freed on the way: they hold
 * nothing a fresh bucket would not.
 */
static struct limit_bucket *bucket_get(uint64_t h, enum limit_scope scope, const char *id,
				       uint64_t now)
{
	struct limit_bucket **pp = &stripes[h % STRIPES].chain[(h / STRIPES) % CHAINS], *b;

	while ((b = *pp)) {
		if (b->scope == scope && !strcmp(b->id, id))
			return b;
		if (idle(b, now)) {
			*pp = b->next;
			free(b);
			atomic_fetch_sub_explicit(&nbuckets, 1, memory_order_relaxed);
			continue;
		}
		pp = &b->next;
	}
	if (atomic_load_explicit(&nbuckets, memory_order_relaxed) >= LIMIT_BUCKETS ||
	    !(b = calloc(1, sizeof(*b))))
		return NULL;
	atomic_fetch_add_explicit(&nbuckets, 1, memory_order_relaxed);
	b->scope = scope;
	snprintf(b->id, sizeof(b->id), "%s", id);
	b->next = *pp;
	*pp = b;
	return b;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The distinct stripes of h[0, n), sorted: the order they are locked in. */
static int stripe_set(const uint64_t *h, int n, int *out)
{
	int m = 0;

	for (int i = 0; i < n; i++)
		out[i] = (int)(h[i] % STRIPES);
	qsort(out, n, sizeof(*out), cmp_int);
	for (int i = 0; i < n; i++)
		if (!m || out[i] != out[m - 1])
			out[m++] = out[i];
	return m;
}

/* Left of rate r at now if the TAT is tat: units, and ns until it is full again. */
static void rate_view(uint64_t tat, uint64_t limit, int r, uint64_t now, uint64_t *left,
		      uint64_t *reset)
{
	uint64_t base = tat > now ? tat : now, allow = interval(burst(limit, r), limit, r);
	uint64_t used = base - now;

	*reset = used;
	*left = used >= allow ? 0 :
		(uint64_t)((unsigned __int128)(allow - used) * limit / period_ns[r]);
}

/* Folds rate r of bucket b into v when it has less left than what v holds. */
static void view_add(struct limit_view *v, const struct limit_bucket *b,
		     const struct cfg_limits *l, int r, uint64_t now)
{
	uint64_t limit = rate_limit(l, r), left, reset;
	bool tok = r >= R_TPM;

	if (!limit)
		return;
	rate_view(b->tat[r], limit, r, now, &left, &reset);
	if (tok) {
		if (!v->tok || left < v->tok_remaining) {
			v->tok = true;
			v->tok_limit = limit;
			v->tok_remaining = left;
			v->tok_reset_ns = reset;
		}
	} else if (!v->req || left < v->req_remaining) {
		v->req = true;
		v->req_limit = limit;
		v->req_remaining = left;
		v->req_reset_ns = reset;
	}
}

int limit_acquire(struct limit_ticket *t, const struct limit_ask *ask, int n, uint64_t tokens,
		  uint64_t now, struct limit_view *v, struct limit_refusal *why)
{
	uint64_t h[LS_N] = { 0 };
	int locks[LS_N], nl, ret = 0;

	memset(t, 0, sizeof(*t));
	memset(v, 0, sizeof(*v));
	memset(why, 0, sizeof(*why));
	if (n > LS_N)
		n = LS_N;
	for (int i = 0; i < n; i++)
		h[i] = hash_of(ask[i].scope, ask[i].id);
	nl = stripe_set(h, n, locks);
	for (int i = 0; i < nl; i++)
		pthread_mutex_lock(&stripes[locks[i]].lock);

	/* every bucket, every budget: checked before anything is charged */
	for (int i = 0; i < n && !ret; i++) {
		const struct cfg_limits *l = ask[i].l;
		struct limit_bucket *b = bucket_get(h[i], ask[i].scope, ask[i].id, now);

		if (!b) {
			why->what = LW_FULL;
			why->scope = ask[i].scope;
			why->retry_ns = NS;
			ret = -EAGAIN;
			break;
		}
		t->b[i] = b;
		t->l[i] = l;
		if (l->concurrent && b->held >= l->concurrent) {
			why->what = LW_CONCURRENT;
			why->scope = ask[i].scope;
			why->retry_ns = NS;
			ret = -EAGAIN;
		}
		for (int r = 0; r < R_N && !ret; r++) {
			uint64_t limit = rate_limit(l, r), units = r >= R_TPM ? tokens : 1;
			uint64_t base, next, allow;

			if (!limit)
				continue;
			allow = interval(burst(limit, r), limit, r);
			if (units > burst(limit, r)) {
				why->retry_ns = 0;	/* larger than the budget can ever hold */
			} else {
				base = b->tat[r] > now ? b->tat[r] : now;
				next = base + interval(units, limit, r);
				if (next - now <= allow)
					continue;
				why->retry_ns = next - now - allow;
			}
			why->what = (enum limit_what[]){ LW_RPS, LW_RPM, LW_TPM, LW_TPD }[r];
			why->scope = ask[i].scope;
			ret = -EAGAIN;
		}
		if (ret) {
			for (int r = 0; r < R_N; r++)
				view_add(v, b, l, r, now);
		}
	}
	if (!ret) {
		for (int i = 0; i < n; i++) {
			struct limit_bucket *b = t->b[i];
			const struct cfg_limits *l = t->l[i];

			b->held++;
			for (int r = 0; r < R_N; r++) {
				uint64_t limit = rate_limit(l, r);

				if (!limit)
					continue;
				b->tat[r] = (b->tat[r] > now ? b->tat[r] : now) +
					    interval(r >= R_TPM ? tokens : 1, limit, r);
				view_add(v, b, l, r, now);
			}
		}
		t->n = n;
		t->tokens = tokens;
	} else {
		memset(t, 0, sizeof(*t));
	}
	for (int i = nl - 1; i >= 0; i--)
		pthread_mutex_unlock(&stripes[locks[i]].lock);
	return ret;
}

void limit_release(struct limit_ticket *t, uint64_t used, uint64_t now)
{
	uint64_t h[LS_N] = { 0 };
	int locks[LS_N], nl;

	if (!t->n)
		return;
	for (int i = 0; i < t->n; i++)
		h[i] = hash_of(t->b[i]->scope, t->b[i]->id);
	nl = stripe_set(h, t->n, locks);
	for (int i = 0; i < nl; i++)
		pthread_mutex_lock(&stripes[locks[i]].lock);
	for (int i = 0; i < t->n; i++) {
		struct limit_bucket *b = t->b[i];

		for (int r = R_TPM; r < R_N && used != t->tokens; r++) {
			uint64_t limit = rate_limit(t->l[i], r);

			if (!limit)
				continue;
			if (used > t->tokens) {
				b->tat[r] = (b->tat[r] > now ? b->tat[r] : now) +
					    interval(used - t->tokens, limit, r);
			} else {
				uint64_t back = interval(t->tokens - used, limit, r);

				b->tat[r] = b->tat[r] > back ? b->tat[r] - back : 0;
			}
		}
		if (b->held)
			b->held--;
	}
	for (int i = nl - 1; i >= 0; i--)
		pthread_mutex_unlock(&stripes[locks[i]].lock);
	memset(t, 0, sizeof(*t));
}

/* OpenAI's reset format: "1s", "6m0s", "1h2m3s"; below a second "250ms" */
static void reset_text(uint64_t ns, char *out, size_t size)
{
	uint64_t s = (ns + NS - 1) / NS;

	if (ns < NS)
		snprintf(out, size, "%llums", (unsigned long long)((ns + 999999) / 1000000));
	else if (s < 60)
		snprintf(out, size, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, size, "%llum%llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(out, size, "%lluh%llum%llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
}

size_t limit_headers(const struct limit_view *v, char *out, size_t size)
{
	char r1[32], r2[32];
	int n = 0, m;

	if (size)
		out[0] = '\0';
	if (v->req) {
		reset_text(v->req_reset_ns, r1, sizeof(r1));
		m = snprintf(out, size, "x-ratelimit-limit-requests: %llu\r\n"
			     "x-ratelimit-remaining-requests: %llu\r\nx-ratelimit-reset-requests: %s\r\n",
			     (unsigned long long)v->req_limit, (unsigned long long)v->req_remaining, r1);
		if (m < 0 || (size_t)m >= size)
			return 0;
		n = m;
	}
	if (v->tok) {
		reset_text(v->tok_reset_ns, r2, sizeof(r2));
		m = snprintf(out + n, size - n, "x-ratelimit-limit-tokens: %llu\r\n"
			     "x-ratelimit-remaining-tokens: %llu\r\nx-ratelimit-reset-tokens: %s\r\n",
			     (unsigned long long)v->tok_limit, (unsigned long long)v->tok_remaining, r2);
		if (m < 0 || (size_t)m >= size - n) {
			out[n] = '\0';
			return n;
		}
		n += m;
	}
	return n;
}

const char *limit_what_name(enum limit_what w)
{
	static const char *const names[LW_N] = {
		[LW_NONE] = "none", [LW_RPS] = "requests_per_second",
		[LW_RPM] = "requests_per_minute", [LW_CONCURRENT] = "concurrent",
		[LW_TPM] = "tokens_per_minute", [LW_TPD] = "tokens_per_day", [LW_FULL] = "table_full",
	};

	return (unsigned int)w < LW_N ? names[w] : "?";
}

const char *limit_scope_name(enum limit_scope s)
{
	static const char *const names[LS_N] = {
		[LS_KEY] = "key", [LS_TENANT] = "tenant", [LS_ADDRESS] = "address",
		[LS_ROUTE] = "route",
	};

	return (unsigned int)s < LS_N ? names[s] : "?";
}

size_t limit_buckets_used(void)
{
	return atomic_load_explicit(&nbuckets, memory_order_relaxed);
}

int limit_walk(uint64_t now, limit_walk_fn fn, void *arg)
{
	int ret = 0;

	for (int i = 0; i < STRIPES && !ret; i++) {
		pthread_mutex_lock(&stripes[i].lock);
		for (int c = 0; c < CHAINS && !ret; c++) {
			for (struct limit_bucket *b = stripes[i].chain[c]; b && !ret; b = b->next) {
				uint64_t left[R_N];
				bool live = false;

				for (int r = 0; r < R_N; r++) {
					left[r] = b->tat[r] > now ? b->tat[r] - now : 0;
					live |= left[r] != 0;
				}
				if (live)
					ret = fn(b->scope, b->id, left, arg);
			}
		}
		pthread_mutex_unlock(&stripes[i].lock);
	}
	return ret;
}

int limit_adopt(enum limit_scope scope, const char *id, const uint64_t left_ns[LIMIT_RATES],
		uint64_t now)
{
	struct limit_bucket *b;
	bool owes = false;
	uint64_t h;

	if ((unsigned int)scope >= LS_N || !id || strlen(id) > LIMIT_ID_MAX)
		return -EINVAL;
	for (int r = 0; r < R_N; r++)
		owes |= left_ns[r] != 0;
	if (!owes)
		return 0;	/* a drained bucket is the same as none */
	h = hash_of(scope, id);
	pthread_mutex_lock(&stripes[h % STRIPES].lock);
	b = bucket_get(h, scope, id, now);
	if (b) {
		for (int r = 0; r < R_N; r++) {
			uint64_t left = left_ns[r] < ADOPT_MAX_NS ? left_ns[r] : ADOPT_MAX_NS;

			if (left && now + left > b->tat[r])
				b->tat[r] = now + left;
		}
	}
	pthread_mutex_unlock(&stripes[h % STRIPES].lock);
	if (!b)
		return limit_buckets_used() >= LIMIT_BUCKETS ? -ENOSPC : -ENOMEM;
	return 0;
}
