// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What a config needs at run time: TLS contexts, pool balancers, health state. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include "gw/gw.h"

static _Atomic uint64_t generations;

static void runtime_free(struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;

	for (size_t i = 0; rt->tls && i < cfg->nlisteners; i++)
		tls_server_free(rt->tls[i]);
	for (size_t p = 0; p < cfg->npools; p++) {
		if (rt->pools && rt->pools[p])
			pool__free(rt->pools[p]);
		if (rt->up_ctx && rt->up_ctx[p]) {
			for (size_t b = 0; b < cfg->pools[p].nbackends; b++)
				SSL_CTX_free(rt->up_ctx[p][b]);
			free(rt->up_ctx[p]);
		}
		if (rt->health)
			free(rt->health[p]);
	}
	detect_free(&rt->detect);
	EVP_MAC_CTX_free(rt->hash_mac);
	explicit_bzero(rt->hash_key, sizeof(rt->hash_key));
	for (int k = 0; k < MK_N; k++)
		free(rt->slot[k]);
	free(rt->model_glob);
	free(rt->pool_needs_body);
	free(rt->tls);
	free(rt->pools);
	free(rt->up_ctx);
	free(rt->health);
	config_free(rt->cfg);
	free(rt);
}

/*
 * The key of masks in style hash and of prompt hashes: from the configured
 * file (any length: its SHA-256 is the key), else one random key for the
 * life of the process, so hashes stay comparable across reloads.
 */
static int hash_key(struct runtime *rt, char *err, size_t errlen)
{
	static unsigned char process_key[INSP_HASH_KEY];
	static bool have;
	const char *path = rt->cfg->inspect.hash_key_file;
	unsigned char buf[4096];
	ssize_t n;
	int fd;

	if (!path) {
		/* runtimes are built by the main thread only */
		if (!have && RAND_bytes(process_key, sizeof(process_key)) != 1) {
			snprintf(err, errlen, "inspect: no random bytes for the hash key");
			return -1;
		}
		have = true;
		memcpy(rt->hash_key, process_key, sizeof(rt->hash_key));
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "inspect.hash_key_file: %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 16) {
		snprintf(err, errlen, "inspect.hash_key_file: %s: %s", path,
			 n < 0 ? strerror(errno) : "shorter than 16 bytes");
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	SHA256(buf, n, rt->hash_key);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int inspect_setup(struct runtime *rt, char *err, size_t errlen)
{
	const struct cfg_inspect *in = &rt->cfg->inspect;

	rt->inspect = in->enabled;
	if (!in->enabled)
		return 0;
	for (size_t i = 0; i < in->nrules; i++)
		if (in->rules[i].restore)
			rt->any_restore = true;
	if (hash_key(rt, err, errlen))
		return -1;
	if (!(rt->hash_mac = insp_mac_new(rt->hash_key))) {
		snprintf(err, errlen, "inspect: HMAC-SHA256 is not available from OpenSSL");
		return -1;
	}
	return detect_compile(&rt->detect, in, err, errlen);
}

static bool limits_set(const struct cfg_limits *l)
{
	static const struct cfg_limits none;

	return memcmp(l, &none, sizeof(none)) != 0;
}

/* The model label's globs: admin.models where given, else the tokenizer's. */
static int model_globs(struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;
	bool own = cfg->admin && cfg->admin->nmodels;
	size_t n = own ? cfg->admin->nmodels : cfg->tokenizer ? cfg->tokenizer->nmodels : 0;

	rt->model_glob = calloc(n ? n : 1, sizeof(*rt->model_glob));
	if (!rt->model_glob)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		rt->model_glob[i] = own ? cfg->admin->models[i] : cfg->tokenizer->models[i].model;
	rt->nmodel_globs = n;
	return 0;
}

/* Metric slots by name: counters go on across reloads that keep a name. */
static int metric_slots(struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;
	size_t n[MK_N] = { cfg->nroutes, cfg->npools, cfg->inspect.nrules, cfg->nlisteners,
			   cfg->ntenants, rt->nmodel_globs };

	for (int k = 0; k < MK_N; k++) {
		rt->slot[k] = calloc(n[k] ? n[k] : 1, sizeof(int));
		if (!rt->slot[k])
			return -ENOMEM;
		for (size_t i = 0; i < n[k]; i++) {
			const char *name = k == MK_ROUTE ? cfg->routes[i].name :
					   k == MK_POOL ? cfg->pools[i].name :
					   k == MK_RULE ? cfg->inspect.rules[i].name :
					   k == MK_LISTENER ? cfg->listeners[i].name :
					   k == MK_TENANT ? cfg->tenants[i].name :
							      rt->model_glob[i];

			rt->slot[k][i] = metrics_slot(k, name);
		}
	}
	rt->no_route_slot = metrics_slot(MK_ROUTE, "");
	rt->no_tenant_slot = metrics_slot(MK_TENANT, "");
	/* no globs: nothing is counted by model */
	rt->other_model_slot = rt->nmodel_globs ? metrics_slot(MK_MODEL, "other") : -1;
	rt->no_model_slot = rt->nmodel_globs ? metrics_slot(MK_MODEL, "") : -1;
	return 0;
}

/* The model label's slot of a request's model (the client's, before any model_map). */
int runtime_model_slot(const struct runtime *rt, const char *model)
{
	if (!model)
		return rt->no_model_slot;
	for (size_t i = 0; i < rt->nmodel_globs; i++)
		if (!fnmatch(rt->model_glob[i], model, 0))
			return rt->slot[MK_MODEL][i];
	return rt->other_model_slot;
}

struct runtime *runtime_new(struct gw_config *cfg, char *err, size_t errlen)
{
	struct runtime *rt = calloc(1, sizeof(*rt));

	if (!rt) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	atomic_init(&rt->refs, 1);
	rt->generation = atomic_fetch_add(&generations, 1) + 1;
	rt->tls = calloc(cfg->nlisteners, sizeof(*rt->tls));
	rt->pools = calloc(cfg->npools, sizeof(*rt->pools));
	rt->up_ctx = calloc(cfg->npools, sizeof(*rt->up_ctx));
	rt->health = calloc(cfg->npools, sizeof(*rt->health));
	rt->pool_needs_body = calloc(cfg->npools ? cfg->npools : 1, sizeof(*rt->pool_needs_body));
	if (!rt->tls || !rt->pools || !rt->up_ctx || !rt->health || !rt->pool_needs_body)
		goto oom;
	/* What makes a request's JSON body worth parsing: most requests need none of it */
	rt->accounting = cfg->keys.kf || cfg->ntenants || limits_set(&cfg->limits.per_key) ||
			 limits_set(&cfg->limits.per_address);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		if (cfg->routes[i].model_glob)
			rt->route_needs_body = true;
		if (limits_set(&cfg->routes[i].limits))
			rt->accounting = true;
	}
	/* keys may be bound to models; budgets need max_tokens; the tokenizer the prompt */
	if (rt->accounting || cfg->tokenizer)
		rt->route_needs_body = true;
	for (size_t p = 0; p < cfg->npools; p++) {
		const struct cfg_pool *pc = &cfg->pools[p];

		rt->pool_needs_body[p] = pc->algorithm == LB_PREFIX || pc->algorithm == LB_SESSION;
		if (pc->algorithm == LB_PREFIX)
			rt->any_prefix = true;
		for (size_t b = 0; b < pc->nbackends; b++)
			if (pc->backends[b].nmodel_map)
				rt->pool_needs_body[p] = true;
	}
	if (model_globs(rt) || metric_slots(rt))
		goto oom;
	/* requests and tokens by model: the body says which */
	if (rt->nmodel_globs)
		rt->route_needs_body = true;
	rt->read_usage = rt->accounting || cfg->admin;
	if (inspect_setup(rt, err, errlen))
		goto fail;
	/* rules match on the model: it is read before routing */
	rt->route_needs_body |= rt->inspect;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (!cfg->listeners[i].tls)
			continue;
		rt->tls[i] = tls_server_new(cfg->listeners[i].tls, cfg->listeners[i].name, err, errlen);
		if (!rt->tls[i])
			goto fail;
	}
	for (size_t p = 0; p < cfg->npools; p++) {
		const struct cfg_pool *pc = &cfg->pools[p];

		rt->pools[p] = pool__new(pc);
		if (!rt->pools[p]) {
			snprintf(err, errlen, "pools.%s: %s", pc->name, strerror(errno));
			goto fail;
		}
		rt->up_ctx[p] = calloc(pc->nbackends, sizeof(**rt->up_ctx));
		rt->health[p] = calloc(pc->nbackends, sizeof(**rt->health));
		if (!rt->up_ctx[p] || !rt->health[p])
			goto oom;
		for (size_t b = 0; b < pc->nbackends; b++) {
			atomic_init(&rt->health[p][b].active_up, 1);
			if (!pc->backends[b].tls)
				continue;
			rt->up_ctx[p][b] = tls_client_ctx_new(&pc->backends[b], err, errlen);
			if (!rt->up_ctx[p][b]) {
				char why[256];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "pools.%s.backends[%zu]: %s", pc->name, b, why);
				goto fail;
			}
		}
	}
	return rt;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	runtime_free(rt);
	return NULL;
}

void runtime_get(struct runtime *rt)
{
	atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

void runtime_put(struct runtime *rt)
{
	if (rt && atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) == 1)
		runtime_free(rt);
}
