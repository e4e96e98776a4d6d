/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Pool balancer: which backend of a pool takes the next request.
 *
 * A struct pool_rt is built once per pool per config snapshot and shared by
 * every worker. What changes at run time is per backend (in-flight requests,
 * outstanding estimated tokens) and per pool (which backends are up); all of
 * it is C11 atomics with relaxed ordering, because nothing else is published
 * through them: they only steer admission. Everything a worker changes on
 * every pick (round-robin position, smooth-WRR weights, PRNG) lives in a
 * struct lb_cursor that the worker owns, one per pool. No locks.
 *
 * pool__pick() chooses *and* takes the slot: the returned backend's
 * in-flight count and tokens already include the request, and a full
 * backend is never overcommitted however many workers race for it (the
 * slot is taken with a CAS against max_inflight). Pair every successful
 * pick (or pool__acquire()) with one pool__release() with the same tokens.
 *
 * Every algorithm skips backends that are down, excluded by the caller
 * (already tried by this request) or full:
 *   round_robin     next backend after the last one this worker picked
 *   weighted        smooth weighted round robin (nginx), per worker
 *   least_requests  fewest in-flight relative to weight; ties go round robin
 *   least_tokens    fewest outstanding estimated tokens relative to weight;
 *                   ties go round robin
 *   p2c             two distinct random candidates, the one with fewer
 *                   in-flight relative to weight
 *   session         consistent hash of the key (session id) on a ring of
 *                   virtual nodes in proportion to weight (at least
 *                   POOL_VNODES per unit, about POOL_RING_TARGET in all); an
 *                   unusable backend passes the key to the next distinct
 *                   backend clockwise
 *   prefix          as session, key = the first prefix_bytes of the prompt
 *                   (so requests sharing a prefix meet the same KV cache)
 * session and prefix with an empty key fall back to p2c.
 *
 * The hash is XXH64 (seed 0 for keys): fast, well mixed, and the same on
 * every node and across restarts, so a fleet of gateways sends a session to
 * the same backend. It is not keyed: the client picks its session key
 * anyway, so there is nothing to hide from it.
 */
#ifndef SLUICE_GW_BALANCE_H
#define SLUICE_GW_BALANCE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw/config.h"

#define POOL_MAX_BACKENDS	64	/* the width of the exclude and up masks */
#define POOL_MAX_WEIGHT		1000
#define POOL_VNODES		160	/* ring points per weight unit, at least */
#define POOL_RING_TARGET	16384	/* ring points aimed at (more per unit in small pools) */
#define POOL_RING_MAX		65536	/* ring points at most; past it, scaled down */
#define POOL_PREFIX_DEFAULT	256	/* prefix bytes hashed when the config says 0 */

/*
 * One backend's shared run-time state, a cache line each so that workers
 * bumping one backend's counters do not slow down picks of another.
 */
struct backend_rt {
	_Alignas(64) _Atomic uint32_t inflight;	/* requests holding a slot */
	uint32_t max_inflight;			/* 0: unbounded */
	_Atomic uint64_t tokens;		/* estimated tokens of those requests */
	uint32_t weight;			/* 1..POOL_MAX_WEIGHT */
};

struct pool_rt;

/*
 * A worker's private view of one pool. Initialise it with lb_cursor__init()
 * for the pool it will be used with; it is only valid with that pool.
 */
struct lb_cursor {
	uint64_t rng;				/* splitmix64 state (p2c) */
	uint32_t rr;				/* where the next scan starts (rr, least_*) */
	int64_t cw[POOL_MAX_BACKENDS];		/* smooth-WRR current weights */
};

/* session id or prompt bytes; NULL or len 0: no key */
struct lb_key {
	const void *data;
	size_t len;
};

enum pick_fail {
	PICK_OK = 0,
	PICK_ALL_DOWN,		/* no backend is up: fail over to the fallback pool */
	PICK_ALL_TRIED,		/* every backend up was excluded: retries spent on this pool */
	PICK_ALL_FULL,		/* every usable backend is at max_inflight: queue */
};

/*
 * Builds a pool's run-time state from its config: 1..POOL_MAX_BACKENDS
 * backends, weights 1..POOL_MAX_WEIGHT, a known algorithm. Every backend
 * starts up. The ring for session/prefix places each backend's points by
 * hashing its url, so reordering or adding backends moves only the keys
 * that must move. NULL with errno: E2BIG (too many backends), EINVAL
 * (none, a bad weight or algorithm), ENOMEM.
 */
struct pool_rt *pool__new(const struct cfg_pool *cfg);
void pool__free(struct pool_rt *p);

/*
 * seed should differ per worker (the worker's index will do): it staggers
 * the round-robin start and the smooth-WRR phase, so that workers started
 * together do not all send their first request to the same backend.
 */
void lb_cursor__init(struct lb_cursor *c, const struct pool_rt *p, uint64_t seed);

/*
 * Picks a backend and takes a slot on it (tokens: the request's estimated
 * tokens). exclude: bit i set skips backend i (already tried). Returns the
 * backend's index, or -1 with *why (may be NULL) telling the caller what
 * to do next; the reason is the first that holds of down, tried, full.
 */
int pool__pick(struct pool_rt *p, struct lb_cursor *c, const struct lb_key *key,
	       uint64_t tokens, uint64_t exclude, enum pick_fail *why);

/*
 * Takes a slot on backend idx whatever its state: 0, or -EBUSY if it is at
 * max_inflight. pool__pick() uses it; exposed for callers that must go
 * back to a given backend.
 */
int pool__acquire(struct pool_rt *p, int idx, uint64_t tokens);
/* Gives back a slot taken by pool__pick() or pool__acquire(), same tokens. */
void pool__release(struct pool_rt *p, int idx, uint64_t tokens);

/*
 * Marks backend idx up (usable) or down (failed health checks, ejected).
 * Called from the health checker and from workers; returns the previous
 * state so that only one caller logs the transition.
 */
bool pool__set_up(struct pool_rt *p, int idx, bool up);
bool pool__is_up(const struct pool_rt *p, int idx);

unsigned int pool__nbackends(const struct pool_rt *p);
/* For metrics and the admin endpoint: read the counters with relaxed loads. */
const struct backend_rt *pool__backend(const struct pool_rt *p, int idx);

/* XXH64 of data, as the ring uses it; exposed so that tests can check it. */
uint64_t lb_hash64(const void *data, size_t len, uint64_t seed);

#endif
