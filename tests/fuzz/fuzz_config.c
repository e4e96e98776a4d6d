// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * config: config_load() on any file, then config_free() (LeakSanitizer
 * sees what either leaves behind). The input is written to sluice.json in
 * a folder of this process, made at start and removed at exit, beside
 * the files a config names relative to itself in etc/ (patterns/NAME.txt,
 * keys.json) and rank tables of the 256 bytes alone ($SLUICE_TIKTOKEN_DIR
 * points there: the real ones take a second each to load).
 *
 * Host names are not resolved: getaddrinfo() below takes numeric hosts
 * and "localhost" only, so no input makes the fuzzer ask DNS.
 *
 * Checked against config.h: an error is one message within errlen; a
 * config loaded has what the required keys require (a listener, a pool
 * with a backend, a route naming a pool), workers resolved, and pools
 * found by their names.
 */
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gw/config.h"
#include "fuzz.h"

static char dir[] = "/tmp/sluice-fuzz-config-XXXXXX";
static char path[sizeof(dir) + sizeof("/sluice.json")];

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *,
			   struct addrinfo **);
	struct addrinfo h = { 0 };

	if (!real)
		real = (int (*)(const char *, const char *, const struct addrinfo *,
				struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	CHECK(real);
	if (hints)
		h = *hints;
	h.ai_flags |= AI_NUMERICHOST;
	if (node && !strcasecmp(node, "localhost"))
		node = h.ai_family == AF_INET6 ? "::1" : "127.0.0.1";
	return real(node, service, &h, res);
}

static void put(const char *name, const char *s, size_t n)
{
	char p[sizeof(dir) + 64];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	CHECK(f && fwrite(s, 1, n, f) == n && !fclose(f));
}

/* a rank table with one token per byte, valid for either encoding */
static void put_ranks(const char *name)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char table[256 * 10], *p = table;

	for (int i = 0; i < 256; i++)
		p += sprintf(p, "%c%c== %d\n", b64[i >> 2], b64[(i & 3) << 4], i);
	put(name, table, p - table);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#define PUT(name, lit)	put(name, lit, sizeof(lit) - 1)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sub[sizeof(dir) + 16];

	(void)argc;
	(void)argv;
	CHECK(mkdtemp(dir));
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/sluice.json", dir);
	snprintf(sub, sizeof(sub), "%s/patterns", dir);
	CHECK(!mkdir(sub, 0700));
	PUT("patterns/injection.txt", "# one a line\nignore\\s+previous\\s+instructions\n\n"
				      "reveal\\s+the\\s+system\\s+prompt\n");
	PUT("patterns/secrets.txt", "ACME-[0-9]{8}\n");
	PUT("keys.json", "{ \"keys\": [] }\n");
	put_ranks("cl100k_base.tiktoken");
	put_ranks("o200k_base.tiktoken");
	CHECK(!setenv("SLUICE_TIKTOKEN_DIR", dir, 1));
	return 0;
}

static void check_config(const struct gw_config *cfg)
{
	size_t i;

	CHECK(cfg->workers > 0);
	CHECK(cfg->nlisteners > 0 && cfg->npools > 0 && cfg->nroutes > 0);
	for (i = 0; i < cfg->npools; i++) {
		CHECK(cfg->pools[i].nbackends > 0);
		CHECK(config_pool_index(cfg, cfg->pools[i].name) == (int)i);
	}
	for (i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];

		CHECK(r->refuse || (r->pool >= 0 && (size_t)r->pool < cfg->npools));
		for (size_t k = 0; k < r->nfallback; k++)
			CHECK(r->fallback[k] >= 0 && (size_t)r->fallback[k] < cfg->npools);
	}
	for (i = 0; i < cfg->inspect.nrules; i++) {
		const struct cfg_rule *r = &cfg->inspect.rules[i];

		if (r->action == ACT_REROUTE)
			CHECK(r->pool >= 0 && (size_t)r->pool < cfg->npools);
		for (size_t k = 0; k < r->nroutes; k++)
			CHECK(r->routes[k] >= 0 && (size_t)r->routes[k] < cfg->nroutes);
	}
	for (i = 0; i < cfg->ntenants; i++)
		CHECK(config_tenant_index(cfg, cfg->tenants[i].name) == (int)i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CFG_ERR_LEN];
	struct gw_config *cfg;

	put("sluice.json", (const char *)data, size);
	memset(err, 'x', sizeof(err));
	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		CHECK(memchr(err, '\0', sizeof(err)) && err[0]);
		return 0;
	}
	check_config(cfg);
	config_free(cfg);
	return 0;
}
