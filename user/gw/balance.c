// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pool balancer: the algorithms, the ring, slot accounting. See balance.h. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/balance.h"

#define BIT(i)		(1ULL << (i))

struct pool_rt {
	enum lb_algorithm algo;
	unsigned int n;
	uint64_t all;			/* BIT(0) | ... | BIT(n - 1) */
	uint64_t total_weight;
	size_t prefix_bytes;
	struct backend_rt *be;		/* n, cache-line aligned */
	/* session/prefix ring: the top 32 bits of point hashes, sorted; owner[i] holds ring[i] */
	uint32_t *ring;
	uint8_t *owner;
	uint32_t nring;
	_Atomic uint64_t up;		/* bit i: backend i usable */
};

_Static_assert(POOL_MAX_BACKENDS <= 64, "masks are uint64_t");
_Static_assert(POOL_MAX_BACKENDS <= 256, "ring owners are uint8_t");
_Static_assert(POOL_MAX_WEIGHT * POOL_MAX_BACKENDS <= INT32_MAX, "smooth-WRR sums");

/* XXH64 (xxHash specification, v0.8); reads little-endian on any host. */
#define XXP1	0x9E3779B185EBCA87ULL
#define XXP2	0xC2B2AE3D27D4EB4FULL
#define XXP3	0x165667B19E3779F9ULL
#define XXP4	0x85EBCA77C2B2AE63ULL
#define XXP5	0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t rd32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t xx_round(uint64_t acc, uint64_t in)
{
	return rotl64(acc + in * XXP2, 31) * XXP1;
}

static inline uint64_t xx_merge(uint64_t h, uint64_t v)
{
	return (h ^ xx_round(0, v)) * XXP1 + XXP4;
}

uint64_t lb_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v1 = seed + XXP1 + XXP2, v2 = seed + XXP2;
		uint64_t v3 = seed, v4 = seed - XXP1;

		do {
			v1 = xx_round(v1, rd64(p));
			v2 = xx_round(v2, rd64(p + 8));
			v3 = xx_round(v3, rd64(p + 16));
			v4 = xx_round(v4, rd64(p + 24));
			p += 32;
		} while (end - p >= 32);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xx_merge(h, v1);
		h = xx_merge(h, v2);
		h = xx_merge(h, v3);
		h = xx_merge(h, v4);
	} else {
		h = seed + XXP5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rotl64(h ^ xx_round(0, rd64(p)), 27) * XXP1 + XXP4;
	if (end - p >= 4) {
		h = rotl64(h ^ (uint64_t)rd32(p) * XXP1, 23) * XXP2 + XXP3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ *p * XXP5, 11) * XXP1;
	h ^= h >> 33;
	h *= XXP2;
	h ^= h >> 29;
	h *= XXP3;
	return h ^ (h >> 32);
}

/* splitmix64: one add and two multiplies a draw, good enough to pick two of 64. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* r (32 random bits) scaled to [0, m) without a division (Lemire). */
static inline unsigned int rng_below(uint32_t r, unsigned int m)
{
	return (unsigned int)(((uint64_t)r * m) >> 32);
}

static inline int nth_bit(uint64_t m, unsigned int k)
{
	while (k--)
		m &= m - 1;
	return __builtin_ctzll(m);
}

static inline uint32_t be_inflight(const struct backend_rt *b)
{
	return atomic_load_explicit(&b->inflight, memory_order_relaxed);
}

/*
 * A look, not a promise: another worker may take the last slot before
 * pool__acquire() does, which pool__pick() handles by picking again.
 */
static inline bool be_room(const struct backend_rt *b, uint32_t inflight)
{
	return !b->max_inflight || inflight < b->max_inflight;
}

/* a_load/a->weight < b_load/b->weight, without dividing */
static inline bool less_loaded(uint64_t a_load, const struct backend_rt *a,
			       uint64_t b_load, const struct backend_rt *b)
{
	return (unsigned __int128)a_load * b->weight < (unsigned __int128)b_load * a->weight;
}

static inline unsigned int next_idx(const struct pool_rt *p, unsigned int i)
{
	return i + 1 == p->n ? 0 : i + 1;
}

/* The first candidate with room at or after the cursor, wrapping. */
static int pick_rr(const struct pool_rt *p, struct lb_cursor *c, uint64_t cand)
{
	while (cand) {
		uint64_t after = cand & (~0ULL << c->rr);
		int i = __builtin_ctzll(after ? after : cand);

		if (be_room(&p->be[i], be_inflight(&p->be[i]))) {
			c->rr = next_idx(p, i);
			return i;
		}
		cand &= ~BIT(i);
	}
	return -1;
}

/*
 * Smooth weighted round robin as nginx does it: every candidate gains its
 * weight, the highest is picked and loses the candidates' total. Over any
 * W = sum(weights) picks each backend gets exactly its weight, spread out
 * rather than in runs. Backends skipped this pick (down, full, excluded) do
 * not take part, so the others keep their exact ratio among themselves; an
 * interleaved schedule walked past a skipped slot would hand its share to
 * whichever backend follows it, and would cost sum(weights) bytes a pool.
 */
static int pick_wrr(const struct pool_rt *p, struct lb_cursor *c, uint64_t cand)
{
	int64_t total = 0;
	int best = -1;

	for (; cand; cand &= cand - 1) {
		int i = __builtin_ctzll(cand);
		const struct backend_rt *b = &p->be[i];

		if (!be_room(b, be_inflight(b)))
			continue;
		c->cw[i] += b->weight;
		total += b->weight;
		if (best < 0 || c->cw[i] > c->cw[best])
			best = i;
	}
	if (best >= 0)
		c->cw[best] -= total;
	return best;
}

/*
 * Least loaded relative to weight. The scan starts after the backend picked
 * last and takes the first strict minimum, so ties rotate instead of all
 * going to backend 0.
 */
static int pick_least(const struct pool_rt *p, struct lb_cursor *c, uint64_t cand)
{
	bool by_tokens = p->algo == LB_LEAST_TOKENS;
	uint64_t best_load = 0;
	unsigned int i = c->rr, k;
	int best = -1;

	for (k = 0; k < p->n; k++, i = next_idx(p, i)) {
		const struct backend_rt *b = &p->be[i];
		uint32_t inflight;
		uint64_t load;

		if (!(cand & BIT(i)))
			continue;
		inflight = be_inflight(b);
		if (!be_room(b, inflight))
			continue;
		load = inflight;
		if (by_tokens)
			load = atomic_load_explicit(&b->tokens, memory_order_relaxed);
		if (best < 0 || less_loaded(load, b, best_load, &p->be[best])) {
			best = i;
			best_load = load;
		}
	}
	if (best >= 0)
		c->rr = next_idx(p, best);
	return best;
}

/* Power of two choices: two distinct random candidates, the less loaded. */
static int pick_p2c(const struct pool_rt *p, struct lb_cursor *c, uint64_t cand)
{
	while (cand) {
		unsigned int m = __builtin_popcountll(cand), ka, kb;
		uint64_t r = rng_next(&c->rng);
		const struct backend_rt *a, *b;
		uint32_t la, lb;
		bool ra, rb;
		int ia, ib;

		ka = rng_below((uint32_t)r, m);
		ia = nth_bit(cand, ka);
		a = &p->be[ia];
		la = be_inflight(a);
		ra = be_room(a, la);
		if (m == 1)
			return ra ? ia : -1;
		kb = rng_below((uint32_t)(r >> 32), m - 1);
		ib = nth_bit(cand, kb + (kb >= ka));
		b = &p->be[ib];
		lb = be_inflight(b);
		rb = be_room(b, lb);
		if (ra && rb)
			return less_loaded(lb, b, la, a) ? ib : ia;
		if (ra || rb)
			return ra ? ia : ib;
		cand &= ~(BIT(ia) | BIT(ib));
	}
	return -1;
}

/* The first point at or after h, wrapping to 0. */
static uint32_t ring_find(const struct pool_rt *p, uint32_t h)
{
	uint32_t lo = 0, hi = p->nring;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (p->ring[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == p->nring ? 0 : lo;
}

/*
 * The key's owner on the ring or, when it cannot take the request, the next
 * distinct backend clockwise: so a backend going down moves only its own
 * keys, and each of them to the place it will also go for every worker.
 */
static int pick_ring(const struct pool_rt *p, uint64_t cand, const struct lb_key *key)
{
	size_t len = key->len;
	uint64_t seen = 0;
	uint32_t pos, k;

	if (p->algo == LB_PREFIX && len > p->prefix_bytes)
		len = p->prefix_bytes;
	pos = ring_find(p, lb_hash64(key->data, len, 0) >> 32);
	for (k = 0; k < p->nring && seen != p->all; k++) {
		int i = p->owner[pos];

		if (++pos == p->nring)
			pos = 0;
		if (seen & BIT(i))
			continue;
		seen |= BIT(i);
		if ((cand & BIT(i)) && be_room(&p->be[i], be_inflight(&p->be[i])))
			return i;
	}
	return -1;
}

/* A candidate with room by the pool's algorithm, or -1 if none has room. */
static int choose(const struct pool_rt *p, struct lb_cursor *c, const struct lb_key *key,
		  uint64_t cand)
{
	switch (p->algo) {
	case LB_ROUND_ROBIN:
		return pick_rr(p, c, cand);
	case LB_WEIGHTED:
		return pick_wrr(p, c, cand);
	case LB_LEAST_REQUESTS:
	case LB_LEAST_TOKENS:
		return pick_least(p, c, cand);
	case LB_SESSION:
	case LB_PREFIX:
		if (key && key->len)
			return pick_ring(p, cand, key);
		return pick_p2c(p, c, cand);
	case LB_P2C:
	default:
		return pick_p2c(p, c, cand);
	}
}

int pool__pick(struct pool_rt *p, struct lb_cursor *c, const struct lb_key *key,
	       uint64_t tokens, uint64_t exclude, enum pick_fail *why)
{
	uint64_t up = atomic_load_explicit(&p->up, memory_order_relaxed) & p->all;
	uint64_t cand = up & ~exclude;
	enum pick_fail fail = PICK_ALL_FULL;
	int i;

	if (!up)
		fail = PICK_ALL_DOWN;
	else if (!cand)
		fail = PICK_ALL_TRIED;
	while (cand) {
		i = choose(p, c, key, cand);
		if (i < 0)
			break;
		if (!pool__acquire(p, i, tokens)) {
			if (why)
				*why = PICK_OK;
			return i;
		}
		/* filled up since choose() looked: pick among the others */
		cand &= ~BIT(i);
	}
	if (why)
		*why = fail;
	return -1;
}

/*
 * The slot is taken by a CAS on inflight against max_inflight: every
 * worker's increment is ordered on that one variable, so two workers
 * cannot both take the last slot. Relaxed is enough, no other memory is
 * published through the counter.
 */
int pool__acquire(struct pool_rt *p, int idx, uint64_t tokens)
{
	struct backend_rt *b = &p->be[idx];
	uint32_t cur;

	if (!b->max_inflight) {
		atomic_fetch_add_explicit(&b->inflight, 1, memory_order_relaxed);
	} else {
		cur = atomic_load_explicit(&b->inflight, memory_order_relaxed);
		do {
			if (cur >= b->max_inflight)
				return -EBUSY;
		} while (!atomic_compare_exchange_weak_explicit(&b->inflight, &cur, cur + 1,
								memory_order_relaxed,
								memory_order_relaxed));
	}
	if (tokens)
		atomic_fetch_add_explicit(&b->tokens, tokens, memory_order_relaxed);
	return 0;
}

void pool__release(struct pool_rt *p, int idx, uint64_t tokens)
{
	struct backend_rt *b = &p->be[idx];

	if (tokens)
		atomic_fetch_sub_explicit(&b->tokens, tokens, memory_order_relaxed);
	atomic_fetch_sub_explicit(&b->inflight, 1, memory_order_relaxed);
}

bool pool__set_up(struct pool_rt *p, int idx, bool up)
{
	uint64_t old;

	if (up)
		old = atomic_fetch_or_explicit(&p->up, BIT(idx), memory_order_relaxed);
	else
		old = atomic_fetch_and_explicit(&p->up, ~BIT(idx), memory_order_relaxed);
	return old & BIT(idx);
}

bool pool__is_up(const struct pool_rt *p, int idx)
{
	return atomic_load_explicit(&p->up, memory_order_relaxed) & BIT(idx);
}

unsigned int pool__nbackends(const struct pool_rt *p)
{
	return p->n;
}

const struct backend_rt *pool__backend(const struct pool_rt *p, int idx)
{
	return &p->be[idx];
}

void lb_cursor__init(struct lb_cursor *c, const struct pool_rt *p, uint64_t seed)
{
	uint64_t steps = p->total_weight < 1024 ? p->total_weight : 1024;

	memset(c, 0, sizeof(*c));
	c->rng = seed;
	c->rr = seed % p->n;
	/* a phase into the smooth-WRR sequence (bounded: cursors are made at reload) */
	if (p->algo == LB_WEIGHTED)
		for (steps = seed % steps; steps; steps--)
			pick_wrr(p, c, p->all);
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

struct ring_point {
	uint32_t hash;
	uint32_t owner;
};

static int point_cmp(const void *a, const void *b)
{
	const struct ring_point *x = a, *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->owner > y->owner) - (x->owner < y->owner);
}

/*
 * Points per weight unit, once weights are divided by their gcd (1:1:1 and
 * 3:3:3 make the same ring): at least POOL_VNODES, and more in small pools
 * so that the ring has about POOL_RING_TARGET points, because a backend's
 * share is off by about 1/sqrt(points) (one standard deviation): 160 points
 * leave one of 4 backends 10-20% over its share, 4096 about 2%. Past
 * POOL_RING_MAX (large, uneven weights) scaled down in proportion, at least
 * one point each. 32-bit points keep the ring at 5 bytes a point; a
 * collision only gives one of two points an empty arc.
 *
 * Point j of a backend is XXH64(url, seed j): placed by what the backend
 * is, not where it is listed.
 */
static int ring_build(struct pool_rt *p, const struct cfg_pool *cfg)
{
	uint64_t g = 0, units = 0, total = 0, per_unit, pts[POOL_MAX_BACKENDS];
	struct ring_point *rp;
	unsigned int i;
	uint32_t j, k;

	for (i = 0; i < p->n; i++)
		g = gcd64(p->be[i].weight, g);
	for (i = 0; i < p->n; i++)
		units += p->be[i].weight / g;
	per_unit = POOL_RING_TARGET / units;
	if (per_unit < POOL_VNODES)
		per_unit = POOL_VNODES;
	for (i = 0; i < p->n; i++) {
		if (units * per_unit <= POOL_RING_MAX)
			pts[i] = p->be[i].weight / g * per_unit;
		else
			pts[i] = (uint64_t)POOL_RING_MAX * (p->be[i].weight / g) / units;
		if (!pts[i])
			pts[i] = 1;
		total += pts[i];
	}

	rp = calloc(total, sizeof(*rp));
	p->ring = calloc(total, sizeof(*p->ring));
	p->owner = calloc(total, sizeof(*p->owner));
	if (!rp || !p->ring || !p->owner) {
		free(rp);
		return -ENOMEM;
	}
	for (i = 0, k = 0; i < p->n; i++) {
		const struct cfg_backend *cb = &cfg->backends[i];
		char id[sizeof(cb->host) + 8];
		const char *name = cb->url;

		if (!name || !*name) {
			snprintf(id, sizeof(id), "%s:%u", cb->host, cb->port);
			name = id;
		}
		for (j = 0; j < pts[i]; j++, k++) {
			rp[k].hash = lb_hash64(name, strlen(name), j) >> 32;
			rp[k].owner = i;
		}
	}
	qsort(rp, total, sizeof(*rp), point_cmp);
	for (k = 0; k < total; k++) {
		p->ring[k] = rp[k].hash;
		p->owner[k] = rp[k].owner;
	}
	p->nring = total;
	free(rp);
	return 0;
}

struct pool_rt *pool__new(const struct cfg_pool *cfg)
{
	struct pool_rt *p;
	unsigned int i;
	int err;

	if (!cfg->nbackends) {
		errno = EINVAL;
		return NULL;
	}
	if (cfg->nbackends > POOL_MAX_BACKENDS) {
		errno = E2BIG;
		return NULL;
	}
	if ((unsigned int)cfg->algorithm > LB_PREFIX) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < cfg->nbackends; i++) {
		if (cfg->backends[i].weight < 1 || cfg->backends[i].weight > POOL_MAX_WEIGHT) {
			errno = EINVAL;
			return NULL;
		}
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->algo = cfg->algorithm;
	p->n = cfg->nbackends;
	p->all = p->n == 64 ? ~0ULL : BIT(p->n) - 1;
	p->prefix_bytes = cfg->prefix_bytes ? cfg->prefix_bytes : POOL_PREFIX_DEFAULT;
	atomic_init(&p->up, p->all);
	p->be = aligned_alloc(_Alignof(struct backend_rt), p->n * sizeof(*p->be));
	if (!p->be) {
		err = -ENOMEM;
		goto out_free;
	}
	memset(p->be, 0, p->n * sizeof(*p->be));
	for (i = 0; i < p->n; i++) {
		atomic_init(&p->be[i].inflight, 0);
		atomic_init(&p->be[i].tokens, 0);
		p->be[i].weight = cfg->backends[i].weight;
		p->be[i].max_inflight = cfg->backends[i].max_inflight;
		p->total_weight += p->be[i].weight;
	}
	if (p->algo == LB_SESSION || p->algo == LB_PREFIX) {
		err = ring_build(p, cfg);
		if (err)
			goto out_free;
	}
	return p;

out_free:
	pool__free(p);
	errno = -err;
	return NULL;
}

void pool__free(struct pool_rt *p)
{
	if (!p)
		return;
	free(p->ring);
	free(p->owner);
	free(p->be);
	free(p);
}
