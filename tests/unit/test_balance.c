// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* balance: each algorithm's distribution, skipping, failures, slot accounting. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gw/balance.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PICKS		100000
#define MAXB		(POOL_MAX_BACKENDS + 1)

static const char *algo_name[] = {
	[LB_ROUND_ROBIN] = "round_robin", [LB_WEIGHTED] = "weighted",
	[LB_LEAST_REQUESTS] = "least_requests", [LB_LEAST_TOKENS] = "least_tokens",
	[LB_P2C] = "p2c", [LB_SESSION] = "session", [LB_PREFIX] = "prefix",
};

/* A hand-made config the way the loader would fill it; urls 10.0.0.<i+1>. */
struct pool_spec {
	enum lb_algorithm algo;
	unsigned int n;
	const unsigned int *weight;	/* NULL: all 1 */
	const unsigned int *max;	/* NULL: all unbounded */
	size_t prefix_bytes;
	const unsigned int *order;	/* NULL: backend i is 10.0.0.<i+1>; else order[i]+1 */
};

static struct pool_rt *pool_make(const struct pool_spec *s)
{
	static struct cfg_backend be[MAXB];
	static char url[MAXB][40];
	struct cfg_pool cfg;
	unsigned int i, host;

	memset(&cfg, 0, sizeof(cfg));
	memset(be, 0, sizeof(be));
	snprintf(cfg.name, sizeof(cfg.name), "test");
	cfg.algorithm = s->algo;
	cfg.backends = be;
	cfg.nbackends = s->n;
	cfg.prefix_bytes = s->prefix_bytes;
	for (i = 0; i < s->n && i < MAXB; i++) {
		host = (s->order ? s->order[i] : i) + 1;
		snprintf(url[i], sizeof(url[i]), "http://10.0.%u.%u:8000", host / 256, host % 256);
		be[i].url = url[i];
		snprintf(be[i].host, sizeof(be[i].host), "10.0.%u.%u", host / 256, host % 256);
		be[i].port = 8000;
		be[i].weight = s->weight ? s->weight[i] : 1;
		be[i].max_inflight = s->max ? s->max[i] : 0;
		be[i].tls_verify = true;
	}
	return pool__new(&cfg);
}

static struct pool_rt *pool_simple(enum lb_algorithm algo, unsigned int n)
{
	struct pool_spec s = { .algo = algo, .n = n };
	struct pool_rt *p = pool_make(&s);

	assert_non_null(p);
	return p;
}

/* Key number i: a session id, or a prompt whose leading bytes depend on i. */
static struct lb_key key_make(char *buf, size_t size, enum lb_algorithm algo, unsigned int i)
{
	struct lb_key k = { buf, 0 };

	if (algo == LB_PREFIX)
		k.len = snprintf(buf, size, "system: you are agent %u. user: summarise the "
				 "attached quarterly report in three bullet points", i);
	else
		k.len = snprintf(buf, size, "sess-%08x-%u", i * 2654435761u, i);
	return k;
}

/* One pick that must succeed, released at once (idle pool, equal load). */
static int pick_release(struct pool_rt *p, struct lb_cursor *c, const struct lb_key *k,
			uint64_t exclude)
{
	enum pick_fail why = PICK_ALL_DOWN;
	int i = pool__pick(p, c, k, 0, exclude, &why);

	if (i < 0)
		fail_msg("pick failed: why %d", why);
	assert_int_equal(why, PICK_OK);
	pool__release(p, i, 0);
	return i;
}

static void test_hash_is_xxh64(void **state)
{
	static const struct {
		const char *in;
		uint64_t seed, out;
	} cases[] = {
		/* reference values from libxxhash 0.8.1 XXH64() */
		{ "", 0, 0xef46db3751d8e999ULL },
		{ "a", 0, 0xd24ec4f1a98c6e5bULL },
		{ "abc", 0, 0x44bc2cf5ad770999ULL },
		{ "message digest", 0, 0x066ed728fceeb3beULL },
		{ "abcdefghijklmnopqrstuvwxyz", 0, 0xcfe1f278fa89835cULL },
		{ "1234567890123456789012345678901234567890"
		  "1234567890123456789012345678901234567890", 0, 0xe04a477f19ee145dULL },
		{ "", 0x9e3779b97f4a7c15ULL, 0xc4349fc93c010000ULL },
		{ "abc", 0x9e3779b97f4a7c15ULL, 0x2ed0f59d6b43ac8bULL },
		{ "abcdefghijklmnopqrstuvwxyz", 0x9e3779b97f4a7c15ULL, 0x9c220416fea109c1ULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (lb_hash64(cases[i].in, strlen(cases[i].in), cases[i].seed) != cases[i].out)
			fail_msg("XXH64('%s', %#llx) = %#llx, want %#llx", cases[i].in,
				 (unsigned long long)cases[i].seed,
				 (unsigned long long)lb_hash64(cases[i].in, strlen(cases[i].in),
							       cases[i].seed),
				 (unsigned long long)cases[i].out);
}

static void test_new_refuses_bad_pools(void **state)
{
	static const unsigned int w0[] = { 1, 0, 1 }, wbig[] = { 1, POOL_MAX_WEIGHT + 1 };
	static const struct {
		const char *name;
		struct pool_spec spec;
		int err;
	} cases[] = {
		{ "no backends", { LB_ROUND_ROBIN, 0 }, EINVAL },
		{ "65 backends", { LB_ROUND_ROBIN, POOL_MAX_BACKENDS + 1 }, E2BIG },
		{ "65 backends, session", { LB_SESSION, POOL_MAX_BACKENDS + 1 }, E2BIG },
		{ "weight 0", { LB_WEIGHTED, 3, w0 }, EINVAL },
		{ "weight over max", { LB_WEIGHTED, 2, wbig }, EINVAL },
		{ "unknown algorithm", { (enum lb_algorithm)99, 2 }, EINVAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		errno = 0;
		if (pool_make(&cases[i].spec))
			fail_msg("%s: accepted", cases[i].name);
		if (errno != cases[i].err)
			fail_msg("%s: errno %d, want %d", cases[i].name, errno, cases[i].err);
	}
}

/* 64 is allowed, and backend 63 is reachable and excludable (bit 63). */
static void test_new_takes_64_backends(void **state)
{
	enum lb_algorithm a;
	char buf[160];

	(void)state;
	for (a = LB_ROUND_ROBIN; a <= LB_PREFIX; a++) {
		struct pool_rt *p = pool_simple(a, POOL_MAX_BACKENDS);
		struct lb_cursor c;
		uint64_t seen = 0;
		unsigned int i;

		lb_cursor__init(&c, p, 1);
		assert_int_equal(pool__nbackends(p), 64);
		for (i = 0; i < 20000; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), a, i);

			seen |= 1ULL << pick_release(p, &c, &k, 0);
		}
		if (seen != ~0ULL)
			fail_msg("%s: backends never picked: %#llx", algo_name[a],
				 (unsigned long long)~seen);
		for (i = 0; i < 1000; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), a, i);

			assert_int_equal(pick_release(p, &c, &k, ~(1ULL << 63)), 63);
		}
		pool__free(p);
	}
}

/*
 * Shares over 100,000 picks on an idle pool (each released at once), against
 * weight / total weight. The error is |share - expected| / expected for the
 * worst backend.
 */
static void test_distribution_matches_weights(void **state)
{
	static const unsigned int eq4[] = { 1, 1, 1, 1 }, w125[] = { 1, 2, 5 };
	static const struct {
		const char *name;
		enum lb_algorithm algo;
		unsigned int n;
		const unsigned int *weight;
		bool no_key;
		double tol;
	} cases[] = {
		{ "round_robin 4, exactly even", LB_ROUND_ROBIN, 4, eq4, false, 0 },
		{ "round_robin 1:2:5 ignores weights", LB_ROUND_ROBIN, 3, w125, false, 1e-4 },
		{ "weighted 1:2:5 within 1%", LB_WEIGHTED, 3, w125, false, 0.01 },
		{ "weighted 1:1:1:1", LB_WEIGHTED, 4, eq4, false, 0 },
		{ "least_requests ties go round robin", LB_LEAST_REQUESTS, 4, eq4, false, 0 },
		{ "least_tokens ties go round robin", LB_LEAST_TOKENS, 4, eq4, false, 0 },
		{ "p2c 4 equal load", LB_P2C, 4, eq4, false, 0.03 },
		{ "session 4, 100k keys within 10%", LB_SESSION, 4, eq4, false, 0.10 },
		{ "prefix 4, 100k prompts within 10%", LB_PREFIX, 4, eq4, false, 0.10 },
		{ "session 1:2:5 within 10%", LB_SESSION, 3, w125, false, 0.10 },
		{ "session without key is p2c", LB_SESSION, 4, eq4, true, 0.03 },
		{ "prefix without key is p2c", LB_PREFIX, 4, eq4, true, 0.03 },
	};
	size_t t;

	(void)state;
	for (t = 0; t < ARRAY_SIZE(cases); t++) {
		struct pool_spec s = { cases[t].algo, cases[t].n, cases[t].weight };
		unsigned int count[8] = { 0 }, i, wsum = 0;
		struct pool_rt *p = pool_make(&s);
		double worst = 0, err;
		struct lb_cursor c;
		char buf[160];

		assert_non_null(p);
		lb_cursor__init(&c, p, 7);
		for (i = 0; i < PICKS; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), cases[t].algo, i);

			if (cases[t].no_key)
				k.len = 0;
			count[pick_release(p, &c, &k, 0)]++;
		}
		for (i = 0; i < cases[t].n; i++)
			wsum += cases[t].weight && cases[t].algo != LB_ROUND_ROBIN ?
				cases[t].weight[i] : 1;
		for (i = 0; i < cases[t].n; i++) {
			unsigned int w = cases[t].weight && cases[t].algo != LB_ROUND_ROBIN ?
					 cases[t].weight[i] : 1;
			double want = (double)PICKS * w / wsum;

			err = (count[i] > want ? count[i] - want : want - count[i]) / want;
			if (err > worst)
				worst = err;
		}
		print_message("  %-40s worst error %.2f%% (%u %u %u %u)\n", cases[t].name,
			      worst * 100, count[0], count[1], count[2], count[3]);
		if (worst > cases[t].tol + 1e-9)
			fail_msg("%s: worst error %.4f > %.4f", cases[t].name, worst, cases[t].tol);
		pool__free(p);
	}
}

/* Backend 2 (weight 5) down: the other two keep exactly 1:2 among themselves. */
static void test_weighted_keeps_ratio_when_one_is_down(void **state)
{
	static const unsigned int w[] = { 1, 2, 5 };
	struct pool_spec s = { LB_WEIGHTED, 3, w };
	struct pool_rt *p = pool_make(&s);
	unsigned int count[3] = { 0 }, i;
	struct lb_cursor c;

	(void)state;
	assert_non_null(p);
	lb_cursor__init(&c, p, 0);
	pool__set_up(p, 2, false);
	for (i = 0; i < 30000; i++)
		count[pick_release(p, &c, NULL, 0)]++;
	assert_int_equal(count[0], 10000);
	assert_int_equal(count[1], 20000);
	assert_int_equal(count[2], 0);
	pool__free(p);
}

/* Workers seeded 0..3 start on different backends instead of all on 0. */
static void test_cursor_seed_staggers_workers(void **state)
{
	static const unsigned int w[] = { 1, 1, 1, 1 };
	enum lb_algorithm algos[] = { LB_ROUND_ROBIN, LB_WEIGHTED };
	size_t a;

	(void)state;
	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		struct pool_spec s = { algos[a], 4, w };
		struct pool_rt *p = pool_make(&s);
		uint64_t first = 0;
		unsigned int seed;

		assert_non_null(p);
		for (seed = 0; seed < 4; seed++) {
			struct lb_cursor c;

			lb_cursor__init(&c, p, seed);
			first |= 1ULL << pick_release(p, &c, NULL, 0);
		}
		if (first != 0xf)
			fail_msg("%s: first picks cover %#llx", algo_name[algos[a]],
				 (unsigned long long)first);
		pool__free(p);
	}
}

static void load_backend(struct pool_rt *p, int i, unsigned int inflight, uint64_t tokens)
{
	unsigned int k;

	for (k = 0; k < inflight; k++)
		assert_int_equal(pool__acquire(p, i, k ? 0 : tokens), 0);
}

/* Loaded backends: the least loaded (relative to weight) is picked every time. */
static void test_least_picks_minimum(void **state)
{
	static const struct {
		const char *name;
		enum lb_algorithm algo;
		unsigned int n;
		unsigned int weight[4];
		unsigned int inflight[4];
		uint64_t tokens[4];
		int want;
	} cases[] = {
		{ "least_requests fewest", LB_LEAST_REQUESTS, 4, { 1, 1, 1, 1 },
		  { 3, 1, 2, 5 }, { 0 }, 1 },
		{ "least_requests ignores tokens", LB_LEAST_REQUESTS, 3, { 1, 1, 1 },
		  { 2, 2, 1 }, { 10, 10, 90000 }, 2 },
		{ "least_requests relative to weight", LB_LEAST_REQUESTS, 2, { 1, 2 },
		  { 2, 3 }, { 0 }, 1 },
		{ "least_tokens fewest", LB_LEAST_TOKENS, 4, { 1, 1, 1, 1 },
		  { 1, 1, 1, 1 }, { 9000, 4000, 100, 700 }, 2 },
		{ "least_tokens ignores requests", LB_LEAST_TOKENS, 4, { 1, 1, 1, 1 },
		  { 1, 5, 5, 5 }, { 1000, 10, 20, 30 }, 1 },
		{ "least_tokens relative to weight", LB_LEAST_TOKENS, 2, { 1, 4 },
		  { 1, 1 }, { 100, 300 }, 1 },
		{ "p2c of two: fewer in flight", LB_P2C, 2, { 1, 1 }, { 4, 1 }, { 0 }, 1 },
	};
	size_t t;

	(void)state;
	for (t = 0; t < ARRAY_SIZE(cases); t++) {
		struct pool_spec s = { cases[t].algo, cases[t].n, cases[t].weight };
		struct pool_rt *p = pool_make(&s);
		struct lb_cursor c;
		unsigned int i;

		assert_non_null(p);
		lb_cursor__init(&c, p, t);
		for (i = 0; i < cases[t].n; i++)
			load_backend(p, i, cases[t].inflight[i], cases[t].tokens[i]);
		for (i = 0; i < 1000; i++) {
			int got = pick_release(p, &c, NULL, 0);

			if (got != cases[t].want)
				fail_msg("%s: pick %u got %d, want %d", cases[t].name, i, got,
					 cases[t].want);
		}
		pool__free(p);
	}
}

/* Picks that are held (not released) spread by tokens for least_tokens. */
static void test_least_tokens_follows_outstanding_tokens(void **state)
{
	struct pool_rt *p = pool_simple(LB_LEAST_TOKENS, 3);
	const struct backend_rt *b[3];
	struct lb_cursor c;
	unsigned int i;

	(void)state;
	lb_cursor__init(&c, p, 0);
	for (i = 0; i < 3; i++)
		b[i] = pool__backend(p, i);
	/* one big request, then small ones: the small ones avoid the big one's backend */
	assert_int_equal(pool__pick(p, &c, NULL, 8000, 0, NULL), 0);
	for (i = 0; i < 20; i++)
		assert_int_not_equal(pool__pick(p, &c, NULL, 100, 0, NULL), 0);
	assert_int_equal(atomic_load(&b[0]->tokens), 8000);
	assert_int_equal(atomic_load(&b[1]->tokens), 1000);
	assert_int_equal(atomic_load(&b[2]->tokens), 1000);
	assert_int_equal(atomic_load(&b[1]->inflight), 10);
	pool__free(p);
}

static void test_p2c_avoids_loaded_backend(void **state)
{
	struct pool_rt *p = pool_simple(LB_P2C, 4);
	unsigned int count[4] = { 0 }, i;
	struct lb_cursor c;

	(void)state;
	lb_cursor__init(&c, p, 3);
	load_backend(p, 0, 10, 0);
	for (i = 0; i < PICKS; i++)
		count[pick_release(p, &c, NULL, 0)]++;
	print_message("  p2c, backend 0 loaded: %u %u %u %u\n", count[0], count[1], count[2],
		      count[3]);
	assert_int_equal(count[0], 0);
	for (i = 1; i < 4; i++)
		assert_in_range(count[i], PICKS / 3 * 0.97, PICKS / 3 * 1.03);
	pool__free(p);
}

/* The same key goes to the same backend, from any worker's cursor. */
static void test_keyed_same_key_same_backend(void **state)
{
	enum lb_algorithm algos[] = { LB_SESSION, LB_PREFIX };
	size_t a;

	(void)state;
	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		struct pool_rt *p = pool_simple(algos[a], 5);
		struct lb_cursor c1, c2;
		char buf[160];
		unsigned int i;

		lb_cursor__init(&c1, p, 1);
		lb_cursor__init(&c2, p, 2);
		for (i = 0; i < 2000; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), algos[a], i);
			int first = pick_release(p, &c1, &k, 0);

			assert_int_equal(pick_release(p, &c2, &k, 0), first);
			assert_int_equal(pick_release(p, &c1, &k, 0), first);
		}
		pool__free(p);
	}
}

/*
 * Backend 2 of 4 goes down: exactly the keys it owned move (each to another
 * backend), every other key stays; when it comes back they all return.
 */
static void test_keyed_down_moves_only_its_keys(void **state)
{
	static unsigned char before[PICKS];
	enum lb_algorithm algos[] = { LB_SESSION, LB_PREFIX };
	size_t a;

	(void)state;
	for (a = 0; a < ARRAY_SIZE(algos); a++) {
		struct pool_rt *p = pool_simple(algos[a], 4);
		unsigned int i, owned = 0, moved = 0;
		struct lb_cursor c;
		char buf[160];

		lb_cursor__init(&c, p, 0);
		for (i = 0; i < PICKS; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), algos[a], i);

			before[i] = pick_release(p, &c, &k, 0);
			owned += before[i] == 2;
		}
		assert_true(pool__set_up(p, 2, false));
		for (i = 0; i < PICKS; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), algos[a], i);
			int now = pick_release(p, &c, &k, 0);

			if (before[i] == 2)
				assert_int_not_equal(now, 2);
			else if (now != before[i])
				fail_msg("%s: key %u moved %u -> %d", algo_name[algos[a]], i,
					 before[i], now);
			moved += now != before[i];
		}
		assert_int_equal(moved, owned);
		print_message("  %s: down moved %.2f%% of keys (1/n = 25%%)\n",
			      algo_name[algos[a]], 100.0 * moved / PICKS);
		assert_in_range(moved, PICKS / 4 * 0.9, PICKS / 4 * 1.1);
		assert_false(pool__set_up(p, 2, true));
		for (i = 0; i < PICKS; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), algos[a], i);

			assert_int_equal(pick_release(p, &c, &k, 0), before[i]);
		}
		pool__free(p);
	}
}

/* The ring follows the backend's url, not its place in the list. */
static void test_keyed_follows_url_not_order(void **state)
{
	static const unsigned int fwd[] = { 0, 1, 2, 3 }, rev[] = { 3, 2, 1, 0 };
	struct pool_spec s1 = { .algo = LB_SESSION, .n = 4, .order = fwd };
	struct pool_spec s2 = { .algo = LB_SESSION, .n = 4, .order = rev };
	struct pool_rt *p1 = pool_make(&s1), *p2 = pool_make(&s2);
	struct lb_cursor c1, c2;
	char buf[160];
	unsigned int i;

	(void)state;
	assert_non_null(p1);
	assert_non_null(p2);
	lb_cursor__init(&c1, p1, 0);
	lb_cursor__init(&c2, p2, 0);
	for (i = 0; i < 10000; i++) {
		struct lb_key k = key_make(buf, sizeof(buf), LB_SESSION, i);

		assert_int_equal(pick_release(p2, &c2, &k, 0), 3 - pick_release(p1, &c1, &k, 0));
	}
	pool__free(p1);
	pool__free(p2);
}

/* prefix hashes only the first prefix_bytes (default 256). */
static void test_prefix_hashes_leading_bytes_only(void **state)
{
	static const struct {
		size_t prefix_bytes, shared;	/* bytes all keys have in common */
		bool same;
	} cases[] = {
		{ 16, 16, true },
		{ 16, 15, false },
		{ 0, 256, true },
		{ 0, 200, false },
	};
	size_t t;

	(void)state;
	for (t = 0; t < ARRAY_SIZE(cases); t++) {
		struct pool_spec s = { .algo = LB_PREFIX, .n = 8,
				       .prefix_bytes = cases[t].prefix_bytes };
		struct pool_rt *p = pool_make(&s);
		uint64_t seen = 0;
		struct lb_cursor c;
		char buf[400];
		unsigned int i;

		assert_non_null(p);
		lb_cursor__init(&c, p, 0);
		for (i = 0; i < 200; i++) {
			struct lb_key k = { buf, 0 };

			memset(buf, 'x', cases[t].shared);
			k.len = cases[t].shared + snprintf(buf + cases[t].shared,
							   sizeof(buf) - cases[t].shared,
							   "%u tail", i);
			seen |= 1ULL << pick_release(p, &c, &k, 0);
		}
		if ((__builtin_popcountll(seen) == 1) != cases[t].same)
			fail_msg("prefix_bytes %zu, %zu shared: %d backends used",
				 cases[t].prefix_bytes, cases[t].shared,
				 __builtin_popcountll(seen));
		pool__free(p);
	}
}

/*
 * Every algorithm skips a down, a full and an excluded backend: with
 * backend 1 down, 2 full and 3 excluded, only 0 is ever picked.
 */
static void test_every_algorithm_skips_down_full_excluded(void **state)
{
	static const unsigned int max[] = { 0, 0, 1, 0 }, w[] = { 1, 5, 5, 5 };
	enum lb_algorithm a;

	(void)state;
	for (a = LB_ROUND_ROBIN; a <= LB_PREFIX; a++) {
		struct pool_spec s = { a, 4, w, max };
		struct pool_rt *p = pool_make(&s);
		struct lb_cursor c;
		char buf[160];
		unsigned int i;

		assert_non_null(p);
		lb_cursor__init(&c, p, 5);
		pool__set_up(p, 1, false);
		assert_int_equal(pool__acquire(p, 2, 0), 0);
		assert_int_equal(pool__acquire(p, 2, 0), -EBUSY);
		for (i = 0; i < 2000; i++) {
			struct lb_key k = key_make(buf, sizeof(buf), a, i);
			int got = pick_release(p, &c, &k, 1ULL << 3);

			if (got != 0)
				fail_msg("%s: picked %d", algo_name[a], got);
		}
		assert_int_equal(atomic_load(&pool__backend(p, 2)->inflight), 1);
		pool__free(p);
	}
}

/* Nothing usable: -1, the right reason, and no counter touched. */
static void test_every_algorithm_reports_why_none(void **state)
{
	enum { DOWN, TRIED, FULL, DOWN_OR_FULL, TRIED_OR_FULL };
	static const struct {
		const char *name;
		int setup;
		enum pick_fail why;
	} cases[] = {
		{ "all down", DOWN, PICK_ALL_DOWN },
		{ "all down, some excluded", DOWN, PICK_ALL_DOWN },
		{ "all up excluded, one down", TRIED, PICK_ALL_TRIED },
		{ "all full", FULL, PICK_ALL_FULL },
		{ "down or full", DOWN_OR_FULL, PICK_ALL_FULL },
		{ "excluded or full", TRIED_OR_FULL, PICK_ALL_FULL },
	};
	static const unsigned int max[] = { 1, 1, 1, 1 };
	enum lb_algorithm a;
	size_t t;

	(void)state;
	for (a = LB_ROUND_ROBIN; a <= LB_PREFIX; a++) {
		for (t = 0; t < ARRAY_SIZE(cases); t++) {
			struct pool_spec s = { a, 4, NULL, max };
			struct pool_rt *p = pool_make(&s);
			uint64_t exclude = t == 1 ? 0x3 : 0;
			enum pick_fail why = PICK_OK;
			struct lb_cursor c;
			char buf[160];
			int i, k;

			assert_non_null(p);
			lb_cursor__init(&c, p, t);
			for (i = 0; i < 4; i++) {
				switch (cases[t].setup) {
				case DOWN:
					pool__set_up(p, i, false);
					break;
				case TRIED:
					if (i == 0)
						pool__set_up(p, i, false);
					else
						exclude |= 1ULL << i;
					break;
				case FULL:
					pool__acquire(p, i, 0);
					break;
				case DOWN_OR_FULL:
				case TRIED_OR_FULL:
					if (i & 1)
						pool__acquire(p, i, 0);
					else if (cases[t].setup == DOWN_OR_FULL)
						pool__set_up(p, i, false);
					else
						exclude |= 1ULL << i;
					break;
				}
			}
			for (k = 0; k < 50; k++) {
				struct lb_key key = key_make(buf, sizeof(buf), a, k);

				assert_int_equal(pool__pick(p, &c, &key, 7, exclude, &why), -1);
				if (why != cases[t].why)
					fail_msg("%s, %s: why %d, want %d", algo_name[a],
						 cases[t].name, why, cases[t].why);
			}
			for (i = 0; i < 4; i++)
				assert_int_equal(atomic_load(&pool__backend(p, i)->tokens), 0);
			pool__free(p);
		}
	}
}

static void test_release_returns_slot_and_tokens(void **state)
{
	static const unsigned int max[] = { 2 };
	struct pool_spec s = { LB_ROUND_ROBIN, 1, NULL, max };
	struct pool_rt *p = pool_make(&s);
	const struct backend_rt *b;
	enum pick_fail why;
	struct lb_cursor c;

	(void)state;
	assert_non_null(p);
	b = pool__backend(p, 0);
	lb_cursor__init(&c, p, 0);
	assert_int_equal(pool__pick(p, &c, NULL, 300, 0, &why), 0);
	assert_int_equal(pool__pick(p, &c, NULL, 200, 0, &why), 0);
	assert_int_equal(pool__pick(p, &c, NULL, 100, 0, &why), -1);
	assert_int_equal(why, PICK_ALL_FULL);
	assert_int_equal(atomic_load(&b->inflight), 2);
	assert_int_equal(atomic_load(&b->tokens), 500);
	pool__release(p, 0, 300);
	assert_int_equal(pool__pick(p, &c, NULL, 100, 0, &why), 0);
	assert_int_equal(atomic_load(&b->tokens), 300);
	pool__release(p, 0, 200);
	pool__release(p, 0, 100);
	assert_int_equal(atomic_load(&b->inflight), 0);
	assert_int_equal(atomic_load(&b->tokens), 0);
	pool__free(p);
}

/*
 * Two threads each grab as many slots as they can, check the count, give
 * them back. A check-then-increment acquire lets both take the last slot;
 * the CAS must never let inflight pass max_inflight.
 */
#define HAMMER_MAX	8
#define HAMMER_ROUNDS	200000

struct hammer {
	struct pool_rt *p;
	bool use_pick;
	unsigned int seed;
	unsigned long over, busy, taken;
};

static void *hammer_run(void *arg)
{
	struct hammer *h = arg;
	const struct backend_rt *b = pool__backend(h->p, 0);
	struct lb_cursor c;
	unsigned int r, k, held;

	lb_cursor__init(&c, h->p, h->seed);
	for (r = 0; r < HAMMER_ROUNDS; r++) {
		for (held = 0; held < HAMMER_MAX; held++) {
			int ok = h->use_pick ? pool__pick(h->p, &c, NULL, 3, 0, NULL) == 0 :
					       pool__acquire(h->p, 0, 3) == 0;

			if (!ok) {
				h->busy++;
				break;
			}
			if (atomic_load_explicit(&b->inflight, memory_order_relaxed) > HAMMER_MAX)
				h->over++;
		}
		h->taken += held;
		for (k = 0; k < held; k++)
			pool__release(h->p, 0, 3);
	}
	return NULL;
}

static void test_acquire_never_overcommits_under_two_threads(void **state)
{
	static const unsigned int max[] = { HAMMER_MAX };
	static const bool modes[] = { false, true };	/* pool__acquire, pool__pick */
	size_t m;

	(void)state;
	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		struct pool_spec s = { LB_LEAST_REQUESTS, 1, NULL, max };
		bool use_pick = modes[m];
		struct hammer h[2];
		pthread_t th[2];
		int i;

		memset(h, 0, sizeof(h));
		h[0].p = h[1].p = pool_make(&s);
		assert_non_null(h[0].p);
		for (i = 0; i < 2; i++) {
			h[i].use_pick = use_pick;
			h[i].seed = i;
			assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
		}
		for (i = 0; i < 2; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
		print_message("  %s: %lu + %lu slots taken, %lu + %lu refused full\n",
			      use_pick ? "pool__pick" : "pool__acquire", h[0].taken, h[1].taken,
			      h[0].busy, h[1].busy);
		assert_int_equal(h[0].over + h[1].over, 0);
		/* a refusal means the other thread held slots: the bound was contended */
		assert_true(h[0].busy + h[1].busy > 0);
		assert_int_equal(atomic_load(&pool__backend(h[0].p, 0)->inflight), 0);
		assert_int_equal(atomic_load(&pool__backend(h[0].p, 0)->tokens), 0);
		pool__free(h[0].p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_xxh64),
		cmocka_unit_test(test_new_refuses_bad_pools),
		cmocka_unit_test(test_new_takes_64_backends),
		cmocka_unit_test(test_distribution_matches_weights),
		cmocka_unit_test(test_weighted_keeps_ratio_when_one_is_down),
		cmocka_unit_test(test_cursor_seed_staggers_workers),
		cmocka_unit_test(test_least_picks_minimum),
		cmocka_unit_test(test_least_tokens_follows_outstanding_tokens),
		cmocka_unit_test(test_p2c_avoids_loaded_backend),
		cmocka_unit_test(test_keyed_same_key_same_backend),
		cmocka_unit_test(test_keyed_down_moves_only_its_keys),
		cmocka_unit_test(test_keyed_follows_url_not_order),
		cmocka_unit_test(test_prefix_hashes_leading_bytes_only),
		cmocka_unit_test(test_every_algorithm_skips_down_full_excluded),
		cmocka_unit_test(test_every_algorithm_reports_why_none),
		cmocka_unit_test(test_release_returns_slot_and_tokens),
		cmocka_unit_test(test_acquire_never_overcommits_under_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
