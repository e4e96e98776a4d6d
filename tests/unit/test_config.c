// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * config_load(): the sample etc/sluice.json, every default, every class of
 * error (each message must carry the key's path and the bad value), comments,
 * a large config, and no leaks on the error paths (mallinfo2 here; LSan when
 * built with SAN=1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <sluice/abi.h>

#include "gw/config.h"
#include "lib/duration.h"
#include "lib/size.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SEC		NSEC_PER_SEC
#define MSEC		NSEC_PER_MSEC

/* The repository's root, from where this file was compiled ("" when from the root). */
static const char *src_path(const char *rel, char *buf, size_t len)
{
	static const char me[] = "tests/unit/test_config.c";
	size_t n = strlen(__FILE__) - (sizeof(me) - 1);

	snprintf(buf, len, "%.*s%s", (int)n, __FILE__, rel);
	return buf;
}

/* Writes text to a temporary file; single quotes become double ones when quotes. */
static char *write_tmp(const char *text, size_t len, bool quotes)
{
	char *path = strdup("/tmp/sluice-test-config-XXXXXX"), *copy;
	size_t i;
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	copy = malloc(len + 1);
	assert_non_null(copy);
	memcpy(copy, text, len);
	for (i = 0; quotes && i < len; i++)
		if (copy[i] == '\'')
			copy[i] = '"';
	assert_int_equal(write(fd, copy, len), (ssize_t)len);
	close(fd);
	free(copy);
	return path;
}

/* Loads JSON written with single quotes; err gets the message on failure. */
static struct gw_config *load_q(const char *text, char *err, size_t errlen)
{
	char *path = write_tmp(text, strlen(text), true);
	struct gw_config *cfg = config_load(path, err, errlen);

	unlink(path);
	free(path);
	return cfg;
}

static struct gw_config *load_ok(const char *text)
{
	char err[CFG_ERR_LEN];
	struct gw_config *cfg = load_q(text, err, sizeof(err));

	if (!cfg)
		fail_msg("refused: %s\n%s", err, text);
	return cfg;
}

static const struct sockaddr_in *sin4(const struct cfg_sockaddr *a)
{
	return (const struct sockaddr_in *)&a->ss;
}

static const struct sockaddr_in6 *sin6(const struct cfg_sockaddr *a)
{
	return (const struct sockaddr_in6 *)&a->ss;
}

/* Building blocks, single-quoted */
#define LS	"'listeners': [{'name': 'l', 'address': '127.0.0.1:8080'}]"
#define BK	"'backends': [{'url': 'http://127.0.0.1:8000'}]"
#define PS	"'pools': {'gpu': {" BK "}}"
#define RS	"'routes': [{'name': 'r', 'pool': 'gpu'}]"
#define MINIMAL	"{" LS ", " PS ", " RS "}"
#define WITH(x)		"{" LS ", " PS ", " RS ", " x "}"
#define POOL(x)		"{" LS ", " RS ", 'pools': {'gpu': {" x "}}}"
#define BACKEND(x)	POOL("'backends': [{'url': 'http://127.0.0.1:8000', " x "}]")
#define URL(u)		POOL("'backends': [{'url': '" u "'}]")
#define ROUTE(x)	"{" LS ", " PS ", 'routes': [{'name': 'r', " x "}]}"
#define LISTEN(x)	"{" PS ", " RS ", 'listeners': [{'name': 'l', " x "}]}"
#define ADDR(a)		LISTEN("'address': '" a "'")
#define XDP(x)		WITH("'xdp': {" x "}")
#define HTTP(x)		WITH("'http': {" x "}")
#define X16		"xxxxxxxxxxxxxxxx"
#define X64		X16 X16 X16 X16
#define TLS(x)		LISTEN("'address': '127.0.0.1:8443', 'tls': {'certificates': " \
			       "[{'cert': '/c.pem', 'key': '/k.pem'}], " x "}")

static void test_sample_loads_with_its_values(void **state)
{
	unsigned char want_sha[32], *raw;
	char err[CFG_ERR_LEN], path[4096];
	const struct cfg_listener *l;
	const struct cfg_backend *b;
	const struct cfg_route *r;
	const struct cfg_pool *p;
	struct gw_config *cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	FILE *f;
	size_t n;

	(void)state;
	src_path("etc/sluice.json", path, sizeof(path));
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);

	f = fopen(path, "rb");
	assert_non_null(f);
	raw = malloc(1 << 20);
	assert_non_null(raw);
	n = fread(raw, 1, 1 << 20, f);
	fclose(f);
	assert_true(EVP_Digest(raw, n, want_sha, NULL, EVP_sha256(), NULL));
	free(raw);
	assert_memory_equal(cfg->sha256, want_sha, 32);
	assert_string_equal(cfg->path, path);
	assert_true(cfg->loaded_ns > 1600000000ULL * SEC);

	assert_int_equal(cfg->workers, ncpu > 256 ? 256 : ncpu);
	assert_true(cfg->drain_timeout_ns == 30 * SEC);

	assert_int_equal(cfg->nlisteners, 2);
	l = &cfg->listeners[0];
	assert_string_equal(l->name, "public");
	assert_int_equal(l->addr.ss.ss_family, AF_INET6);
	assert_int_equal(l->addr.len, sizeof(struct sockaddr_in6));
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6(&l->addr)->sin6_addr));
	assert_int_equal(ntohs(sin6(&l->addr)->sin6_port), 443);
	assert_string_equal(l->addr.text, "[::]:443");
	assert_non_null(l->tls);
	assert_int_equal(l->tls->ncerts, 2);
	assert_string_equal(l->tls->certs[0].cert, "/etc/sluice/tls/api.pem");
	assert_string_equal(l->tls->certs[0].key, "/etc/sluice/tls/api.key");
	assert_string_equal(l->tls->certs[1].cert, "/etc/sluice/tls/api-ec.pem");
	assert_null(l->tls->client_ca);
	assert_false(l->tls->client_required);
	assert_true(l->tls->ticket_rotation_ns == 3600 * SEC);
	l = &cfg->listeners[1];
	assert_string_equal(l->name, "local");
	assert_int_equal(l->addr.ss.ss_family, AF_INET);
	assert_int_equal(ntohl(sin4(&l->addr)->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(sin4(&l->addr)->sin_port), 8080);
	assert_null(l->tls);

	assert_int_equal(cfg->http.max_header_bytes, 16384);
	assert_int_equal(cfg->http.max_headers, 100);
	assert_int_equal(cfg->http.max_request_line, 8192);
	assert_int_equal(cfg->http.max_body_bytes, 8 << 20);
	assert_true(cfg->http.header_timeout_ns == 10 * SEC);
	assert_true(cfg->http.body_timeout_ns == 60 * SEC);
	assert_int_equal(cfg->http.body_min_rate, 1024);
	assert_true(cfg->http.idle_timeout_ns == 60 * SEC);
	assert_true(cfg->http.response_timeout_ns == 300 * SEC);

	assert_int_equal(cfg->xdp.nifaces, 1);
	assert_string_equal(cfg->xdp.ifaces[0].name, "eth1");
	assert_int_equal(cfg->xdp.ifaces[0].mode, SLUICE_MODE_NATIVE);
	assert_string_equal(cfg->xdp.protected_ports, "443,8000-8010");
	assert_int_equal(cfg->xdp.pps, 2000);
	assert_int_equal(cfg->xdp.burst, 4000);
	assert_int_equal(cfg->xdp.syn, 200);
	assert_int_equal(cfg->xdp.ipv6_prefix, 64);
	assert_int_equal(cfg->xdp.dry_run, 0);

	assert_int_equal(cfg->npools, 2);
	assert_int_equal(config_pool_index(cfg, "gpu"), 0);
	assert_int_equal(config_pool_index(cfg, "onprem"), 1);
	assert_int_equal(config_pool_index(cfg, "nope"), -1);
	p = &cfg->pools[0];
	assert_string_equal(p->name, "gpu");
	assert_int_equal(p->algorithm, LB_LEAST_TOKENS);
	assert_int_equal(p->nbackends, 2);
	b = &p->backends[0];
	assert_string_equal(b->url, "http://198.51.100.11:8000");
	assert_false(b->tls);
	assert_string_equal(b->host, "198.51.100.11");
	assert_int_equal(b->port, 8000);
	assert_int_equal(b->addr.ss.ss_family, AF_INET);
	assert_string_equal(b->addr.text, "198.51.100.11:8000");
	assert_int_equal(b->weight, 2);
	assert_int_equal(b->max_inflight, 64);
	assert_int_equal(b->nmodel_map, 2);
	assert_string_equal(b->model_map[0].from, "gpt-4o");
	assert_string_equal(b->model_map[0].to, "llama-3-70b");
	assert_string_equal(b->model_map[1].from, "gpt-4o-mini*");
	assert_string_equal(b->model_map[1].to, "llama-3-8b");
	assert_int_equal(p->retries, 1);
	assert_int_equal(p->retry_on, RETRY_CONNECT | RETRY_RESET | RETRY_502 | RETRY_503);
	assert_true(p->retry_budget == 0.2);
	assert_true(p->health.enabled);
	assert_string_equal(p->health.method, "GET");
	assert_string_equal(p->health.path, "/health");
	assert_true(p->health.interval_ns == 2 * SEC);
	assert_true(p->health.timeout_ns == SEC);
	assert_int_equal(p->health.rise, 2);
	assert_int_equal(p->health.fall, 3);
	assert_int_equal(p->health.eject_after, 5);
	assert_true(p->health.eject_base_ns == 5 * SEC);
	assert_true(p->health.eject_max_ns == 300 * SEC);
	assert_int_equal(p->queue_max, 256);
	assert_true(p->queue_timeout_ns == 2 * SEC);
	assert_string_equal(p->session_header, "x-session-id");
	assert_int_equal(p->prefix_bytes, 256);

	p = &cfg->pools[1];
	assert_int_equal(p->algorithm, LB_P2C);
	assert_false(p->health.enabled);	/* no health object */
	b = &p->backends[0];
	assert_true(b->tls);
	assert_int_equal(b->port, 8443);
	assert_string_equal(b->ca_file, "/etc/sluice/tls/upstream-ca.pem");
	assert_true(b->tls_verify);
	b = &p->backends[1];
	assert_false(b->tls);
	assert_string_equal(b->host, "2001:db8::21");
	assert_int_equal(b->port, 8000);
	assert_int_equal(b->addr.ss.ss_family, AF_INET6);
	assert_string_equal(b->addr.text, "[2001:db8::21]:8000");

	assert_int_equal(cfg->nroutes, 5);
	r = &cfg->routes[0];
	assert_string_equal(r->name, "pii-stays-home");
	assert_int_equal(r->ntags, 1);
	assert_string_equal(r->tags[0], "pii");
	assert_int_equal(r->pool, 1);
	assert_null(r->method);
	r = &cfg->routes[1];
	assert_string_equal(r->name, "chat");
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path_prefix, "/v1/chat/completions");
	assert_string_equal(r->model_glob, "gpt-4o*");
	assert_int_equal(r->min_bytes, 0);
	assert_int_equal(r->max_bytes, 4 << 20);
	assert_int_equal(r->max_prompt_tokens, 100000);
	assert_int_equal(r->nheaders, 1);
	assert_string_equal(r->headers[0].name, "x-team");
	assert_string_equal(r->headers[0].glob, "ml-*");
	assert_false(r->refuse);
	assert_int_equal(r->pool, 0);
	assert_int_equal(r->nfallback, 1);
	assert_int_equal(r->fallback[0], 1);
	assert_int_equal(r->api, API_OPENAI);
	assert_int_equal(cfg->routes[2].api, API_ANTHROPIC);
	r = &cfg->routes[4];
	assert_string_equal(r->name, "other");
	assert_true(r->refuse);
	assert_int_equal(r->pool, -1);
	config_free(cfg);
}

struct key_check {
	const char *text;
	size_t nkeys;
};

static void check_key_in_sample(const char *path, void *arg)
{
	struct key_check *kc = arg;
	const char *last = strrchr(path, '.');
	char want[128];
	size_t n;

	last = last ? last + 1 : path;
	if (!strcmp(last, "<name>"))
		return;
	n = strcspn(last, "[");
	snprintf(want, sizeof(want), "\"%.*s\":", (int)n, last);
	if (!strstr(kc->text, want))
		fail_msg("%s: not in etc/sluice.json", path);
	kc->nkeys++;
}

/* The sample documents every key the loader takes (and loads, above). */
static void test_sample_names_every_key(void **state)
{
	struct key_check kc = {};
	char path[4096], *text;
	FILE *f;
	size_t n;

	(void)state;
	f = fopen(src_path("etc/sluice.json", path, sizeof(path)), "rb");
	assert_non_null(f);
	text = calloc(1, 1 << 20);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(n > 0);
	kc.text = text;
	config_key_paths(check_key_in_sample, &kc);
	assert_true(kc.nkeys > 60);
	free(text);
}

static void test_defaults(void **state)
{
	struct gw_config *cfg = load_ok(MINIMAL);
	const struct cfg_backend *b = &cfg->pools[0].backends[0];
	const struct cfg_pool *p = &cfg->pools[0];
	const struct cfg_route *r = &cfg->routes[0];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	assert_true(cfg->workers >= 1);
	assert_int_equal(cfg->workers, ncpu > 256 ? 256 : ncpu);
	assert_true(cfg->drain_timeout_ns == 30 * SEC);
	assert_null(cfg->listeners[0].tls);

	assert_int_equal(cfg->http.max_header_bytes, 16 * 1024);
	assert_int_equal(cfg->http.max_headers, 100);
	assert_int_equal(cfg->http.max_request_line, 8 * 1024);
	assert_int_equal(cfg->http.max_body_bytes, 8 << 20);
	assert_true(cfg->http.header_timeout_ns == 10 * SEC);
	assert_true(cfg->http.body_timeout_ns == 60 * SEC);
	assert_int_equal(cfg->http.body_min_rate, 1024);
	assert_true(cfg->http.idle_timeout_ns == 60 * SEC);
	assert_true(cfg->http.response_timeout_ns == 300 * SEC);

	/* no xdp section: leave the data plane as it is */
	assert_null(cfg->xdp.ifaces);
	assert_int_equal(cfg->xdp.nifaces, 0);
	assert_null(cfg->xdp.protected_ports);
	assert_int_equal(cfg->xdp.pps, 0);
	assert_int_equal(cfg->xdp.burst, 0);
	assert_int_equal(cfg->xdp.syn, 0);
	assert_int_equal(cfg->xdp.ipv6_prefix, 0);
	assert_int_equal(cfg->xdp.dry_run, -1);

	assert_int_equal(p->algorithm, LB_ROUND_ROBIN);
	assert_int_equal(p->retries, 1);
	assert_int_equal(p->retry_on, RETRY_CONNECT | RETRY_RESET | RETRY_502 | RETRY_503);
	assert_true(p->retry_budget == 0.2);
	assert_false(p->health.enabled);
	assert_string_equal(p->health.method, "GET");
	assert_string_equal(p->health.path, "/health");
	assert_true(p->health.interval_ns == 2 * SEC);
	assert_true(p->health.timeout_ns == SEC);
	assert_int_equal(p->health.rise, 2);
	assert_int_equal(p->health.fall, 3);
	assert_int_equal(p->health.eject_after, 5);
	assert_true(p->health.eject_base_ns == 5 * SEC);
	assert_true(p->health.eject_max_ns == 300 * SEC);
	assert_int_equal(p->queue_max, 256);
	assert_true(p->queue_timeout_ns == 2 * SEC);
	assert_string_equal(p->session_header, "x-session-id");
	assert_int_equal(p->prefix_bytes, 256);

	assert_int_equal(b->weight, 1);
	assert_int_equal(b->max_inflight, 0);
	assert_int_equal(b->nmodel_map, 0);
	assert_null(b->ca_file);
	assert_true(b->tls_verify);
	assert_false(b->tls);

	assert_null(r->method);
	assert_null(r->path_prefix);
	assert_null(r->model_glob);
	assert_int_equal(r->min_bytes, 0);
	assert_int_equal(r->max_bytes, 0);
	assert_int_equal(r->max_prompt_tokens, 0);
	assert_int_equal(r->nheaders, 0);
	assert_int_equal(r->ntags, 0);
	assert_false(r->refuse);
	assert_int_equal(r->pool, 0);
	assert_int_equal(r->nfallback, 0);
	assert_int_equal(r->api, API_AUTO);
	config_free(cfg);

	/* an empty health object turns active checks on with their defaults */
	cfg = load_ok(POOL(BK ", 'health': {}"));
	assert_true(cfg->pools[0].health.enabled);
	assert_int_equal(cfg->pools[0].health.rise, 2);
	config_free(cfg);

	/* tls: client_required follows client_ca */
	cfg = load_ok(TLS("'client_ca': '/ca.pem'"));
	assert_true(cfg->listeners[0].tls->client_required);
	assert_true(cfg->listeners[0].tls->ticket_rotation_ns == 3600 * SEC);
	config_free(cfg);
	cfg = load_ok(TLS("'client_ca': null"));
	assert_false(cfg->listeners[0].tls->client_required);
	config_free(cfg);
}

static void test_null_is_the_default_and_order_is_free(void **state)
{
	struct gw_config *cfg;

	(void)state;
	cfg = load_ok("{" RS ", " PS ", " LS ", 'workers': null, 'http': {'max_headers': null},"
		      " 'drain_timeout': '0s', 'xdp': null}");
	assert_true(cfg->workers >= 1);
	assert_int_equal(cfg->http.max_headers, 100);
	assert_true(cfg->drain_timeout_ns == 0);
	assert_int_equal(cfg->xdp.dry_run, -1);
	config_free(cfg);

	cfg = load_ok(WITH("'workers': 3, 'http': {'body_min_rate': 0, 'max_body_bytes': 2048}"));
	assert_int_equal(cfg->workers, 3);
	assert_int_equal(cfg->http.body_min_rate, 0);
	assert_int_equal(cfg->http.max_body_bytes, 2048);
	config_free(cfg);

	cfg = load_ok(HTTP("'body_min_rate': '0', 'max_body_bytes': '1MB', 'max_header_bytes': '2048B'"));
	assert_int_equal(cfg->http.body_min_rate, 0);
	assert_int_equal(cfg->http.max_body_bytes, 1000000);
	assert_int_equal(cfg->http.max_header_bytes, 2048);
	config_free(cfg);
}

struct bad {
	const char *json;
	const char *want;	/* in the message: the path and the value */
};

static const struct bad bad_cases[] = {
	/* unknown keys, at every level, with a suggestion when one is close */
	{ WITH("'patterns': {}"), "patterns: unknown key" },
	/* inspection and audit: names, references, cross-key rules */
	{ WITH("'inspect': {'detectors': ['emial']}"),
	  "inspect.detectors[0]: 'emial': no such detector (did you mean email?)" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'block', 'match': {'sets': ['inj']}}]}"),
	  "inspect.rules[0].match.sets[0]: 'inj': no such pattern set" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'reroute'}]}"),
	  "inspect.rules[0].pool: required by action reroute" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'mask', 'mask': {'restore': true}}]}"),
	  "inspect.rules[0].mask.restore: true: needs action mask with style placeholder" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'allow', 'match': {'routes': ['nope']}}]}"),
	  "inspect.rules[0].match.routes[0]: 'nope': no such route" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'block', 'match': {'min_count': 2}}]}"),
	  "inspect.rules[0].match.min_count: 2: counts detections: give \"detectors\" too" },
	{ WITH("'inspect': {'rules': [{'name': 'r', 'action': 'banish'}]}"),
	  "inspect.rules[0].action: 'banish': expected one of allow, block, mask, reroute, tag, escalate" },
	{ WITH("'inspect': {'pattern_sets': [{'name': 's'}]}"),
	  "inspect.pattern_sets[0].patterns: required: \"patterns\" or \"file\"" },
	{ WITH("'inspect': {'pattern_sets': [{'name': 's', 'file': '/nonexistent/p.txt'}]}"),
	  "inspect.pattern_sets[0].file: '/nonexistent/p.txt': /nonexistent/p.txt: No such file or directory" },
	{ WITH("'inspect': {'pattern_sets': [{'name': 's', 'file': '/dev/zero'}]}"),
	  "inspect.pattern_sets[0].file: '/dev/zero': /dev/zero: not a regular file" },
	{ WITH("'audit': {'sync': 'sometimes', 'path': '/tmp/a'}"),
	  "audit.sync: 'sometimes': expected one of none, interval, always" },
	{ WITH("'audit': {}"), "audit.path: required" },
	{ WITH("'worker': 2"), "worker: unknown key (did you mean workers?)" },
	{ WITH("'Workers': 2"), "Workers: unknown key (did you mean workers?)" },
	{ POOL(BK ", 'helth': {}"), "pools.gpu.helth: unknown key (did you mean health?)" },
	{ POOL(BK ", 'health': {'intervall': '1s'}"),
	  "pools.gpu.health.intervall: unknown key (did you mean interval?)" },
	{ BACKEND("'wieght': 2"), "pools.gpu.backends[0].wieght: unknown key (did you mean weight?)" },
	{ ROUTE("'pool': 'gpu', 'match': {'modle': 'x'}"),
	  "routes[0].match.modle: unknown key (did you mean model?)" },
	{ LISTEN("'address': '127.0.0.1:1', 'proxy_protocol': true"),
	  "listeners[0].proxy_protocol: true: needs trusted_proxies: the addresses whose header is believed" },
	{ LISTEN("'address': '127.0.0.1:1', 'forwarded_for': true, 'trusted_proxies': []"),
	  "listeners[0].forwarded_for: true: needs trusted_proxies: the addresses whose header is believed" },
	{ LISTEN("'address': '127.0.0.1:1', 'trusted_proxies': ['10.0.0.1/8']"),
	  "listeners[0].trusted_proxies[0]: '10.0.0.1/8': host bits set past the prefix length" },
	{ LISTEN("'address': '127.0.0.1:1', 'api_keys': 'required'"),
	  "listeners[0].api_keys: 'required': needs a keys section naming the keys file" },
	{ WITH("'keys': {'file': '/nonexistent/keys.json'}"),
	  "keys.file: '/nonexistent/keys.json': No such file or directory" },
	{ WITH("'keys': {}"), "keys.file: required" },
	{ WITH("'tenants': {'a b': {}}"), "tenants.a b: bad tenant name" },
	{ WITH("'tenants': {'acme': {'limits': {'tokens_per_minit': 1}}}"),
	  "tenants.acme.limits.tokens_per_minit: unknown key (did you mean tokens_per_minute?)" },
	{ WITH("'limits': {'per_key': {'max_tokens_over': 'clip'}}"),
	  "limits.per_key.max_tokens_over: 'clip'" },
	{ WITH("'limits': {'default_max_tokens': 0}"), "limits.default_max_tokens: 0" },
	{ WITH("'tokenizer': {'ranks': '/nonexistent', 'default': 'o200k_base'}"),
	  "tokenizer.ranks: '/nonexistent': /nonexistent/o200k_base.tiktoken: No such file or directory" },
	{ WITH("'tokenizer': {'models': [{'model': 'gpt-4*', 'encoding': 'p50k_base'}]}"),
	  "tokenizer.models[0].encoding: 'p50k_base': expected one of cl100k_base, o200k_base, estimate" },
	{ WITH("'tokenizer': {'models': [{'encoding': 'estimate'}]}"), "tokenizer.models[0].model: required" },
	{ WITH("'tokenizer': {'default': 'gpt2'}"), "tokenizer.default: 'gpt2'" },
	{ WITH("'admin': {'address': 'unix:/run/a.sock', 'models': ['gpt-4o', 4]}"),
	  "admin.models[1]: 4: expected a string, not a number" },
	{ WITH("'admin': {'address': 'unix:/run/a.sock', 'models': 'gpt-4o'}"),
	  "admin.models: 'gpt-4o': expected an array, not a string" },
	{ WITH("'escalation': {'steps': [{'action': 'throttle', 'ttl': '1m'}]}"),
	  "escalation.steps[0].pps: required for a throttle step" },
	{ WITH("'escalation': {'steps': [{'action': 'block', 'pps': 5, 'ttl': '1m'}]}"),
	  "escalation.steps[0].pps: 5: a block step drops everything: no pps" },
	{ WITH("'escalation': {'steps': [{'action': 'block', 'ttl': '2d'}], 'max_ttl': '1d'}"),
	  "escalation.steps[0].ttl: '2d': above max_ttl" },
	{ WITH("'escalation': {'steps': [{'action': 'block', 'ttl': '1m'}], 'max_ttl': '1h', 'keys': {'ttl': '2h'}}"),
	  "escalation.keys.ttl: '2h': above max_ttl" },
	{ WITH("'escalation': {'steps': [{'action': 'block', 'ttl': '1m'}], 'keys': {'strikes': 3}}"),
	  "escalation.keys.ttl: required" },
	{ WITH("'escalation': {'events': ['rate_limited', 'typo'], 'steps': [{'action': 'block', 'ttl': '1m'}]}"),
	  "escalation.events[1]: " },
	{ WITH("'escalation': {'steps': []}"), "escalation.steps: " },
	{ XDP("'zzz': 1"), "xdp.zzz: unknown key" },
	{ WITH("'workers': 1, 'workers': 2"), "workers: given twice" },
	{ "{" LS ", " RS ", 'pools': {'gpu': {" BK "}, 'gpu': {" BK "}}}", "pools.gpu: given twice" },
	/* types */
	{ WITH("'workers': '4'"), "workers: '4': expected an integer, not a string" },
	{ WITH("'workers': -1"), "workers: -1: expected a non-negative integer" },
	{ WITH("'workers': 1.5"), "workers: 1.5: expected an integer" },
	{ WITH("'http': []"), "http: [...]: expected an object, not an array" },
	{ "{" PS ", " RS ", 'listeners': {}}", "listeners: {...}: expected an array, not an object" },
	{ "{" LS ", " PS ", 'routes': ['r']}", "routes[0]: 'r': expected an object, not a string" },
	{ XDP("'dry_run': 'yes'"), "xdp.dry_run: 'yes': expected true or false, not a string" },
	{ LISTEN("'address': 8080"), "listeners[0].address: 8080: expected \"host:port\", not a number" },
	{ ROUTE("'pool': 'gpu', 'match': {'path': 5}"),
	  "routes[0].match.path: 5: expected a string, not a number" },
	/* bounds */
	{ WITH("'workers': 257"), "workers: 257: above the maximum 256" },
	{ BACKEND("'weight': 0"), "pools.gpu.backends[0].weight: 0: below the minimum 1" },
	{ BACKEND("'weight': 1001"), "pools.gpu.backends[0].weight: 1001: above the maximum 1000" },
	{ BACKEND("'max_inflight': 1000001"), "pools.gpu.backends[0].max_inflight: 1000001: above the maximum 1000000" },
	{ POOL(BK ", 'health': {'rise': 0}"), "pools.gpu.health.rise: 0: below the minimum 1" },
	{ POOL(BK ", 'health': {'fall': 101}"), "pools.gpu.health.fall: 101: above the maximum 100" },
	{ POOL(BK ", 'retries': 11"), "pools.gpu.retries: 11: above the maximum 10" },
	{ POOL(BK ", 'retry_budget': 1.5"), "pools.gpu.retry_budget: 1.5: expected a number from 0 to 1" },
	{ POOL(BK ", 'queue': {'max': 2000000}"), "pools.gpu.queue.max: 2000000: above the maximum 1000000" },
	{ HTTP("'max_headers': 0"), "http.max_headers: 0: below the minimum 1" },
	{ XDP("'ipv6_prefix': 129"), "xdp.ipv6_prefix: 129: above the maximum 128" },
	{ XDP("'ipv6_prefix': 0"), "xdp.ipv6_prefix: 0: below the minimum 1" },
	{ XDP("'default_limit': {'pps': 100, 'burst': 0}"), "xdp.default_limit.burst: 0: below the minimum 1" },
	/* durations */
	{ HTTP("'header_timeout': 10"), "http.header_timeout: 10: expected a duration such as" },
	{ HTTP("'header_timeout': '10 s'"), "http.header_timeout: '10 s': " },
	{ HTTP("'header_timeout': 'soon'"), "http.header_timeout: 'soon': expected <number><unit>" },
	{ HTTP("'header_timeout': '1.5s'"), "http.header_timeout: '1.5s': fractions are not allowed" },
	{ HTTP("'header_timeout': '1h'"), "http.header_timeout: '1h': above the maximum 10m" },
	{ HTTP("'header_timeout': '10ms'"), "http.header_timeout: '10ms': below the minimum 100ms" },
	{ TLS("'ticket_key_rotation': '30s'"),
	  "listeners[0].tls.ticket_key_rotation: '30s': below the minimum 1m (0 turns it off)" },
	{ POOL(BK ", 'queue': {'timeout': '1h'}"), "pools.gpu.queue.timeout: '1h': above the maximum 10m" },
	/* sizes and rates */
	{ HTTP("'max_header_bytes': '16kb'"), "http.max_header_bytes: '16kb': unknown unit" },
	{ HTTP("'max_header_bytes': '1.5KiB'"), "http.max_header_bytes: '1.5KiB': fractions are not allowed" },
	{ HTTP("'max_header_bytes': '2MiB'"), "http.max_header_bytes: '2MiB': above the maximum 1MiB" },
	{ HTTP("'max_header_bytes': 512"), "http.max_header_bytes: 512: below the minimum 1KiB" },
	{ HTTP("'max_header_bytes': true"), "http.max_header_bytes: true: expected a size such as" },
	{ HTTP("'max_body_bytes': '-1'"), "http.max_body_bytes: '-1': expected <number>[unit]" },
	{ HTTP("'body_min_rate': '1KiB'"), "http.body_min_rate: '1KiB': expected a rate such as \"1KiB/s\"" },
	{ HTTP("'body_min_rate': '2GiB/s'"), "http.body_min_rate: '2GiB/s': above the maximum 1GiB/s" },
	{ HTTP("'body_min_rate': '1kib/s'"), "http.body_min_rate: '1kib/s': unknown unit" },
	{ POOL(BK ", 'prefix_bytes': '1MiB'"), "pools.gpu.prefix_bytes: '1MiB': above the maximum 64KiB" },
	/* listener addresses */
	{ ADDR("1.2.3.4"), "listeners[0].address: '1.2.3.4': missing :port" },
	{ ADDR("::1:443"), "listeners[0].address: '::1:443': IPv6 addresses go in brackets" },
	{ ADDR("*:0"), "listeners[0].address: '*:0': port must be 1-65535" },
	{ ADDR("[::1]:99999"), "listeners[0].address: '[::1]:99999': port must be 1-65535" },
	{ ADDR("[::1:80"), "listeners[0].address: '[::1:80': missing ] after an IPv6 address" },
	{ ADDR("localhost:80"), "listeners[0].address: 'localhost:80': not a numeric IPv4 address" },
	{ ADDR("[fe80::zz]:80"), "listeners[0].address: '[fe80::zz]:80': not a numeric IPv6 address" },
	{ ADDR(":80"), "listeners[0].address: ':80': missing host" },
	{ "{" PS ", " RS ", 'listeners': [{'name': 'a', 'address': '127.0.0.1:1'}, "
	  "{'name': 'b', 'address': '127.0.0.1:1'}]}",
	  "listeners[1].address: '127.0.0.1:1': same address as listeners[0] (a)" },
	{ "{" PS ", " RS ", 'listeners': [{'name': 'a', 'address': '127.0.0.1:1'}, "
	  "{'name': 'a', 'address': '127.0.0.1:2'}]}",
	  "listeners[1].name: 'a': given twice: also listeners[0]" },
	{ LISTEN("'address': '127.0.0.1:1', 'name': 'x'"), "listeners[0].name: given twice" },
	{ "{" PS ", " RS ", 'listeners': [{'name': 'a b', 'address': '127.0.0.1:1'}]}",
	  "listeners[0].name: 'a b': names are 1-63 characters" },
	{ "{" PS ", " RS ", 'listeners': [{'name': '', 'address': '127.0.0.1:1'}]}",
	  "listeners[0].name: '': must not be empty" },
	{ "{" PS ", " RS ", 'listeners': [{'address': '127.0.0.1:1'}]}", "listeners[0].name: required" },
	{ "{" PS ", " RS ", 'listeners': []}", "listeners: at least 1 entry is required" },
	/* tls */
	{ LISTEN("'address': '127.0.0.1:1', 'tls': {}"), "listeners[0].tls.certificates: required" },
	{ TLS("'client_required': true"), "listeners[0].tls.client_required: true: needs client_ca" },
	{ LISTEN("'address': '127.0.0.1:1', 'tls': {'certificates': [{'cert': '/c'}]}"),
	  "listeners[0].tls.certificates[0].key: required" },
	/* backend urls */
	{ URL("htp://x"), "pools.gpu.backends[0].url: 'htp://x': expected http://host[:port] or https://host[:port]" },
	{ URL("http://127.0.0.1:8000/v1"), "pools.gpu.backends[0].url: 'http://127.0.0.1:8000/v1': a path is not allowed" },
	{ URL("http://127.0.0.1/?a=1"), "pools.gpu.backends[0].url: 'http://127.0.0.1/?a=1': a query or fragment" },
	{ URL("http://u:p@127.0.0.1"), "pools.gpu.backends[0].url: 'http://u:p@127.0.0.1': credentials" },
	{ URL("http://127.0.0.1:0"), "pools.gpu.backends[0].url: 'http://127.0.0.1:0': port must be 1-65535" },
	{ URL("http://127.0.0.1:"), "pools.gpu.backends[0].url: 'http://127.0.0.1:': port must be 1-65535" },
	{ URL("https://[::1"), "pools.gpu.backends[0].url: 'https://[::1': missing ]" },
	{ URL("http://"), "pools.gpu.backends[0].url: 'http://': missing host" },
	{ URL("http://a b"), "pools.gpu.backends[0].url: 'http://a b': not a host name" },
	/* a label past 63 bytes fails in the stub resolver: no network involved */
	{ URL("http://" X64 ".invalid:8000"),
	  "pools.gpu.backends[0].url: 'http://" X64 ".invalid:8000': cannot resolve " X64 ".invalid" },
	{ BACKEND("'ca_file': '/ca.pem'"), "pools.gpu.backends[0].ca_file: '/ca.pem': only for https backends" },
	{ BACKEND("'tls_verify': false"), "pools.gpu.backends[0].tls_verify: false: only for https backends" },
	{ BACKEND("'model_map': {'gpt-4o': 5}"),
	  "pools.gpu.backends[0].model_map.gpt-4o: 5: expected the backend's model name" },
	{ BACKEND("'model_map': ['a']"), "pools.gpu.backends[0].model_map: [...]: expected an object" },
	{ BACKEND("'model_map': {'a': 'b', 'a': 'c'}"), "pools.gpu.backends[0].model_map.a: given twice" },
	/* pools */
	{ "{" LS ", " RS ", 'pools': {}}", "pools: at least one pool is required" },
	{ "{" LS ", " RS ", 'pools': []}", "pools: [...]: expected an object keyed by pool name" },
	{ "{" LS ", 'routes': [{'name': 'r', 'pool': 'a b'}], 'pools': {'a b': {" BK "}}}",
	  "pools.a b: bad pool name: names are 1-63 characters" },
	{ "{" LS ", " RS ", 'pools': {'gpu': []}}", "pools.gpu: [...]: expected an object, not an array" },
	{ POOL("'backends': []"), "pools.gpu.backends: at least 1 entry is required" },
	{ POOL("'retries': 1"), "pools.gpu.backends: required" },
	{ POOL(BK ", 'algorithm': 'least_request'"),
	  "pools.gpu.algorithm: 'least_request': expected one of round_robin, weighted, least_requests, "
	  "least_tokens, p2c, session, prefix (did you mean least_requests?)" },
	{ POOL(BK ", 'retry_on': ['500']"),
	  "pools.gpu.retry_on[0]: '500': expected one of connect, reset, 502, 503, 504, timeout" },
	{ POOL(BK ", 'retry_on': ['502', '502']"), "pools.gpu.retry_on[1]: '502': given twice" },
	{ POOL(BK ", 'retry_on': 'connect'"), "pools.gpu.retry_on: 'connect': expected an array" },
	{ POOL(BK ", 'health': {'interval': '1s', 'timeout': '2s'}"),
	  "pools.gpu.health.timeout: '2s': longer than the interval 1s" },
	{ POOL(BK ", 'health': {'eject_base': '10m', 'eject_max': '1m'}"),
	  "pools.gpu.health.eject_max: '1m': shorter than eject_base 10m" },
	{ POOL(BK ", 'health': {'method': 'get'}"), "pools.gpu.health.method: 'get': expected an HTTP method" },
	{ POOL(BK ", 'health': {'path': 'health'}"), "pools.gpu.health.path: 'health': expected a path starting with /" },
	{ POOL(BK ", 'session_header': 'x session'"), "pools.gpu.session_header: 'x session': expected a header name" },
	/* routes */
	{ ROUTE("'pool': 'gpx'"), "routes[0].pool: 'gpx': no such pool (did you mean gpu?)" },
	{ ROUTE("'pool': 'elsewhere'"), "routes[0].pool: 'elsewhere': no such pool" },
	{ ROUTE("'pool': 'gpu', 'fallback': ['nope']"), "routes[0].fallback[0]: 'nope': no such pool" },
	{ ROUTE("'pool': 'gpu', 'fallback': ['gpu']"), "routes[0].fallback[0]: 'gpu': already the route's pool" },
	{ ROUTE("'pool': 'gpu', 'fallback': 'gpu'"), "routes[0].fallback: 'gpu': expected an array" },
	{ ROUTE("'match': {}"), "routes[0].pool: required (or \"action\": \"refuse\")" },
	{ ROUTE("'pool': 'gpu', 'action': 'refuse'"), "routes[0].pool: 'gpu': a route that refuses takes no pool" },
	{ ROUTE("'pool': 'gpu', 'action': 'drop'"), "routes[0].action: 'drop': expected one of proxy, refuse" },
	{ ROUTE("'pool': 'gpu', 'api': 'claude'"), "routes[0].api: 'claude': expected one of auto, openai, anthropic" },
	{ ROUTE("'pool': 'gpu', 'match': {'path': 'v1'}"), "routes[0].match.path: 'v1': expected a path starting with /" },
	{ ROUTE("'pool': 'gpu', 'match': {'method': 'post'}"), "routes[0].match.method: 'post': expected an HTTP method" },
	{ ROUTE("'pool': 'gpu', 'match': {'min_bytes': '2KiB', 'max_bytes': 1024}"),
	  "routes[0].match.max_bytes: 1024: below min_bytes 2KiB" },
	{ ROUTE("'pool': 'gpu', 'match': {'headers': {'x team': 'a'}}"),
	  "routes[0].match.headers.x team: expected a header name" },
	{ ROUTE("'pool': 'gpu', 'match': {'headers': {'X-A': 'a', 'x-a': 'b'}}"),
	  "routes[0].match.headers.x-a: given twice" },
	{ ROUTE("'pool': 'gpu', 'match': {'headers': {'x-a': 1}}"),
	  "routes[0].match.headers.x-a: 1: expected a string" },
	{ ROUTE("'pool': 'gpu', 'match': {'tags': ['p i']}"), "routes[0].match.tags[0]: 'p i': names are" },
	{ "{" LS ", " PS ", 'routes': [{'name': 'r', 'pool': 'gpu'}, {'name': 'r', 'pool': 'gpu'}]}",
	  "routes[1].name: 'r': given twice: also routes[0]" },
	{ "{" LS ", " PS "}", "routes: required" },
	/* xdp */
	{ XDP("'interfaces': [{'name': 'eth0', 'mode': 'fast'}]"),
	  "xdp.interfaces[0].mode: 'fast': expected one of auto, native, skb" },
	{ XDP("'interfaces': [{'name': 'eth0'}, {'name': 'eth0'}]"),
	  "xdp.interfaces[1].name: 'eth0': given twice: also interfaces[0]" },
	{ XDP("'interfaces': [{'name': 'a-very-long-interface'}]"),
	  "xdp.interfaces[0].name: 'a-very-long-interface': longer than 15 bytes" },
	{ XDP("'protected_ports': ['9000-8000']"), "xdp.protected_ports[0]: '9000-8000': range ends before it starts" },
	{ XDP("'protected_ports': [443, 70000]"), "xdp.protected_ports[1]: 70000: expected a port 1-65535" },
	{ XDP("'protected_ports': ['http']"), "xdp.protected_ports[0]: 'http': expected a port 1-65535" },
	{ XDP("'default_limit': {'pps': 100}"), "xdp.default_limit.burst: required" },
};

static void test_errors_name_path_and_value(void **state)
{
	char err[CFG_ERR_LEN];
	struct gw_config *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		err[0] = '\0';
		cfg = load_q(bad_cases[i].json, err, sizeof(err));
		if (cfg) {
			config_free(cfg);
			fail_msg("case %zu accepted, want \"%s\"", i, bad_cases[i].want);
		}
		if (!strstr(err, bad_cases[i].want))
			fail_msg("case %zu: got \"%s\"\n  want \"%s\"", i, err, bad_cases[i].want);
		assert_null(strchr(err, '\n'));
	}
}

/* Sections of later issues are refused until their code lands. */
static void test_later_sections_are_unknown(void **state)
{
	static const char *const keys[] = {
		"patterns", "rules", "state",
	};
	char json[512], want[64], err[CFG_ERR_LEN];
	struct gw_config *cfg;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		snprintf(json, sizeof(json), WITH("'%s': {}"), keys[i]);
		snprintf(want, sizeof(want), "%s: unknown key", keys[i]);
		cfg = load_q(json, err, sizeof(err));
		assert_null(cfg);
		if (strncmp(err, want, strlen(want)))
			fail_msg("got \"%s\", want \"%s\"", err, want);
	}
}

static void expect_file_error(const char *text, size_t len, const char *want)
{
	char *path = write_tmp(text, len, false), err[CFG_ERR_LEN], full[CFG_ERR_LEN];
	struct gw_config *cfg = config_load(path, err, sizeof(err));

	assert_null(cfg);
	snprintf(full, sizeof(full), "%s%s", path, want);
	if (strncmp(err, full, strlen(full)))
		fail_msg("got \"%s\", want \"%s\"", err, full);
	unlink(path);
	free(path);
}

static void test_file_and_syntax_errors(void **state)
{
	char err[CFG_ERR_LEN], *big;
	size_t n = (4 << 20) + 1;

	(void)state;
	expect_file_error("{\n  \"workers\": 1,\n  \"x\" 2\n}\n", 27, ":3:7: not valid JSON near '2'");
	expect_file_error("{ /* never closed\n", 18, ":1:3: comment not closed with */");
	expect_file_error("[]", 2, ": expected a JSON object at the top, not an array");
	expect_file_error("{} {}", 5, ":1:4: not valid JSON near '{}'");
	expect_file_error("{\"a\": \"b\0\"}", 11, ":1:9: a NUL byte");
	expect_file_error("", 0, ":1:1: not valid JSON (at the end)");
	expect_file_error("{\"workers\": 1", 13, ":1:14: not valid JSON (at the end)");

	assert_null(config_load("/nonexistent/sluice.json", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/sluice.json: No such file or directory");
	assert_null(config_load("/tmp", err, sizeof(err)));
	assert_string_equal(err, "/tmp: not a regular file");

	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	expect_file_error(big, n, ": 4194305 bytes: larger than the 4 MiB limit");
	free(big);

	/* a NULL or empty err buffer is allowed */
	assert_null(config_load("/nonexistent/sluice.json", NULL, 0));
}

static void test_at_the_size_limit(void **state)
{
	size_t n = 4 << 20, head;
	char err[CFG_ERR_LEN], *text, *path;
	struct gw_config *cfg;
	const char *min = MINIMAL;

	(void)state;
	text = malloc(n);
	assert_non_null(text);
	head = strlen(min);
	memcpy(text, min, head);
	memset(text + head, ' ', n - head);
	memcpy(text + n - 3, "//x", 3);
	path = write_tmp(text, n, true);
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	config_free(cfg);
	unlink(path);
	free(path);
	free(text);
}

/* Comment markers inside strings are text; escapes do not end a string early. */
static void test_comments_inside_strings_survive(void **state)
{
	const struct cfg_backend *b;
	char err[CFG_ERR_LEN], path[4096];
	struct gw_config *cfg;

	(void)state;
	src_path("tests/unit/config/comments.json", path, sizeof(path));
	cfg = config_load(path, err, sizeof(err));
	if (!cfg)
		fail_msg("%s", err);
	b = &cfg->pools[0].backends[0];
	assert_int_equal(b->nmodel_map, 4);
	assert_string_equal(b->model_map[0].from, "a//b");
	assert_string_equal(b->model_map[0].to, "c/*d*/e");
	assert_string_equal(b->model_map[1].from, "C:\\");
	assert_string_equal(b->model_map[1].to, "//not a comment");
	assert_string_equal(b->model_map[2].from, "say \"/*\"");
	assert_string_equal(b->model_map[2].to, "*/");
	assert_string_equal(b->model_map[3].from, "x");
	assert_string_equal(b->model_map[3].to, "y");
	assert_string_equal(cfg->routes[0].path_prefix, "/v1//chat");
	assert_string_equal(cfg->routes[0].headers[0].glob, "/*");
	assert_int_equal(cfg->workers, 2);
	config_free(cfg);
}

static void test_a_thousand_routes(void **state)
{
	size_t cap = 1 << 20, o = 0, i;
	struct gw_config *cfg;
	char *text;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	o += snprintf(text + o, cap - o, "{" LS ", 'pools': {");
	for (i = 0; i < 50; i++)
		o += snprintf(text + o, cap - o, "%s'p%zu': {'backends': [{'url': 'http://10.0.%zu.1:80'}]}",
			      i ? ", " : "", i, i);
	o += snprintf(text + o, cap - o, "}, 'routes': [");
	for (i = 0; i < 1000; i++)
		o += snprintf(text + o, cap - o,
			      "%s{'name': 'route-%zu', 'match': {'model': 'm%zu-*'}, 'pool': 'p%zu', "
			      "'fallback': ['p%zu']}", i ? ", " : "", i, i, i % 50, (i + 1) % 50);
	o += snprintf(text + o, cap - o, "]}");
	assert_true(o < cap);
	cfg = load_ok(text);
	assert_int_equal(cfg->npools, 50);
	assert_int_equal(cfg->nroutes, 1000);
	assert_string_equal(cfg->routes[999].name, "route-999");
	assert_string_equal(cfg->routes[999].model_glob, "m999-*");
	assert_int_equal(cfg->routes[999].pool, 999 % 50);
	assert_int_equal(cfg->routes[999].fallback[0], 0);
	config_free(cfg);

	/* and one past the bound is refused */
	o = snprintf(text, cap, "{" LS ", " PS ", 'routes': [");
	for (i = 0; i < 10001; i++)
		o += snprintf(text + o, cap - o, "%s{'name': 'r%zu', 'pool': 'gpu'}", i ? ", " : "", i);
	snprintf(text + o, cap - o, "]}");
	{
		char err[CFG_ERR_LEN];

		assert_null(load_q(text, err, sizeof(err)));
		assert_string_equal(err, "routes: 10001 entries: at most 10000 allowed");
	}
	free(text);
}

static void test_listener_addresses(void **state)
{
	static const struct {
		const char *addr;
		int family;
		const char *host;
		int port;
	} cases[] = {
		{ "*:8080", AF_INET, "0.0.0.0", 8080 },
		{ "[::]:443", AF_INET6, "::", 443 },
		{ "127.0.0.1:1", AF_INET, "127.0.0.1", 1 },
		{ "[::1]:65535", AF_INET6, "::1", 65535 },
		{ "[2001:db8::1]:8443", AF_INET6, "2001:db8::1", 8443 },
	};
	char json[512], host[INET6_ADDRSTRLEN];
	struct gw_config *cfg;
	const struct cfg_sockaddr *a;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(json, sizeof(json), LISTEN("'address': '%s'"), cases[i].addr);
		cfg = load_ok(json);
		a = &cfg->listeners[0].addr;
		assert_int_equal(a->ss.ss_family, cases[i].family);
		assert_string_equal(a->text, cases[i].addr);
		if (cases[i].family == AF_INET) {
			assert_int_equal(a->len, sizeof(struct sockaddr_in));
			inet_ntop(AF_INET, &sin4(a)->sin_addr, host, sizeof(host));
			assert_int_equal(ntohs(sin4(a)->sin_port), cases[i].port);
		} else {
			assert_int_equal(a->len, sizeof(struct sockaddr_in6));
			inet_ntop(AF_INET6, &sin6(a)->sin6_addr, host, sizeof(host));
			assert_int_equal(ntohs(sin6(a)->sin6_port), cases[i].port);
		}
		assert_string_equal(host, cases[i].host);
		config_free(cfg);
	}
}

static void test_backend_urls(void **state)
{
	static const struct {
		const char *url;
		bool tls;
		const char *host;
		int port;
		const char *text;
	} cases[] = {
		{ "http://127.0.0.1", false, "127.0.0.1", 80, "127.0.0.1:80" },
		{ "http://127.0.0.1/", false, "127.0.0.1", 80, "127.0.0.1:80" },
		{ "https://127.0.0.1", true, "127.0.0.1", 443, "127.0.0.1:443" },
		{ "https://127.0.0.1:8443/", true, "127.0.0.1", 8443, "127.0.0.1:8443" },
		{ "http://[::1]:8000", false, "::1", 8000, "[::1]:8000" },
		{ "https://[2001:db8::5]", true, "2001:db8::5", 443, "[2001:db8::5]:443" },
		{ "http://localhost:9000", false, "localhost", 9000, NULL },
	};
	const struct cfg_backend *b;
	struct gw_config *cfg;
	char json[512];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(json, sizeof(json), URL("%s"), cases[i].url);
		cfg = load_ok(json);
		b = &cfg->pools[0].backends[0];
		assert_string_equal(b->url, cases[i].url);
		assert_int_equal(b->tls, cases[i].tls);
		assert_string_equal(b->host, cases[i].host);
		assert_int_equal(b->port, cases[i].port);
		if (cases[i].text)
			assert_string_equal(b->addr.text, cases[i].text);
		assert_true(b->addr.len > 0);
		config_free(cfg);
	}
}

static void test_protected_ports_as_sluicectl_text(void **state)
{
	static const struct {
		const char *json;
		const char *want;
	} cases[] = {
		{ "[443]", "443" },
		{ "[8443, 443, '8000-8010', '8005-8011', 8012]", "443,8000-8012,8443" },
		{ "['22']", "22" },
		{ "[1, '65535']", "1,65535" },
		{ "[]", "none" },
	};
	char json[512], err[CFG_ERR_LEN];
	struct gw_config *cfg;
	size_t i, o;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(json, sizeof(json), XDP("'protected_ports': %s"), cases[i].json);
		cfg = load_ok(json);
		assert_string_equal(cfg->xdp.protected_ports, cases[i].want);
		config_free(cfg);
	}

	/* every other port: too long as text for sluicectl */
	{
		char *big = malloc(1 << 20);

		assert_non_null(big);
		o = snprintf(big, 1 << 20, "{" LS ", " PS ", " RS ", 'xdp': {'protected_ports': [");
		for (i = 0; i < 400; i++)
			o += snprintf(big + o, (1 << 20) - o, "%s%zu", i ? ", " : "", 10000 + 2 * i);
		snprintf(big + o, (1 << 20) - o, "]}}");
		assert_null(load_q(big, err, sizeof(err)));
		assert_string_equal(err, "xdp.protected_ports: as text the list passes 1023 bytes: use ranges");
		free(big);
	}
}

static void test_xdp_section(void **state)
{
	struct gw_config *cfg;

	(void)state;
	cfg = load_ok(XDP("'interfaces': [{'name': 'eth0'}, {'name': 'eth1', 'mode': 'skb'}],"
			  " 'default_limit': {'pps': 10, 'burst': 20}, 'dry_run': true"));
	assert_int_equal(cfg->xdp.nifaces, 2);
	assert_int_equal(cfg->xdp.ifaces[0].mode, SLUICE_MODE_AUTO);
	assert_int_equal(cfg->xdp.ifaces[1].mode, SLUICE_MODE_SKB);
	assert_int_equal(cfg->xdp.pps, 10);
	assert_int_equal(cfg->xdp.burst, 20);
	assert_int_equal(cfg->xdp.syn, 0);
	assert_int_equal(cfg->xdp.dry_run, 1);
	assert_int_equal(cfg->xdp.ipv6_prefix, 0);
	config_free(cfg);
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *in;
		uint64_t want;
	} good[] = {
		{ "0", 0 }, { "512", 512 }, { "512B", 512 }, { "16KiB", 16384 },
		{ "8MiB", 8 << 20 }, { "1GiB", 1ULL << 30 }, { "2TiB", 2ULL << 40 },
		{ "1KB", 1000 }, { "3MB", 3000000 }, { "1GB", 1000000000 }, { "1TB", 1000000000000ULL },
		{ "18446744073709551615", ~0ULL },
	};
	static const char *const bad[] = {
		"", "KiB", "-1", "+1", " 1", "1 KiB", "1.5MiB", "1kib", "1k", "01", "1KiBs",
		"18446744073709551616", "17179869184GiB",
	};
	char buf[SIZE_STRLEN];
	const char *why;
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		if (parse_size(good[i].in, &v, &why))
			fail_msg("'%s' refused: %s", good[i].in, why);
		assert_true(v == good[i].want);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		why = NULL;
		if (!parse_size(bad[i], &v, &why))
			fail_msg("'%s' accepted", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(parse_size("18446744073709551616", &v, &why), -ERANGE);
	assert_int_equal(parse_size("1x", &v, &why), -EINVAL);
	assert_string_equal(size_format(16384, buf, sizeof(buf)), "16KiB");
	assert_string_equal(size_format(8 << 20, buf, sizeof(buf)), "8MiB");
	assert_string_equal(size_format(1000, buf, sizeof(buf)), "1000");
	assert_string_equal(size_format(0, buf, sizeof(buf)), "0");
	assert_string_equal(size_format(3ULL << 40, buf, sizeof(buf)), "3TiB");
}

/*
 * Every error path frees what it built: the heap in use does not grow over
 * fifty more failing loads of each case. The first rounds warm up what
 * glibc keeps (the resolver's state; malloc's per-thread cache, which
 * mallinfo2 counts as in use and so leaves up to a few KiB of noise that
 * does not grow with the rounds: 2.2 KiB after 50 rounds, 2.5 after 150).
 * Under SAN=1 LSan checks the same exactly, at exit.
 */
static void test_no_leaks_on_error_paths(void **state)
{
	char err[CFG_ERR_LEN];
	struct mallinfo2 before, after;
	char *paths[ARRAY_SIZE(bad_cases)];
	struct gw_config *cfg;
	size_t i, j;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++)
		paths[i] = write_tmp(bad_cases[i].json, strlen(bad_cases[i].json), true);
	for (j = 0; j < 10; j++) {
		for (i = 0; i < ARRAY_SIZE(bad_cases); i++)
			assert_null(config_load(paths[i], err, sizeof(err)));
		cfg = load_ok(MINIMAL);
		config_free(cfg);
	}
	before = mallinfo2();
	for (j = 0; j < 50; j++) {
		for (i = 0; i < ARRAY_SIZE(bad_cases); i++)
			assert_null(config_load(paths[i], err, sizeof(err)));
		config_free(load_ok(MINIMAL));
	}
	after = mallinfo2();
	/* 50 rounds of some 130 loads: one chunk lost per load would be 200 KiB */
	if (after.uordblks > before.uordblks + 8192)
		fail_msg("heap grew by %zu bytes", after.uordblks - before.uordblks);
	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
}

int main(void)
{
	char tiktoken[4096];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sample_loads_with_its_values),
		cmocka_unit_test(test_sample_names_every_key),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_null_is_the_default_and_order_is_free),
		cmocka_unit_test(test_errors_name_path_and_value),
		cmocka_unit_test(test_later_sections_are_unknown),
		cmocka_unit_test(test_file_and_syntax_errors),
		cmocka_unit_test(test_at_the_size_limit),
		cmocka_unit_test(test_comments_inside_strings_survive),
		cmocka_unit_test(test_a_thousand_routes),
		cmocka_unit_test(test_listener_addresses),
		cmocka_unit_test(test_backend_urls),
		cmocka_unit_test(test_protected_ports_as_sluicectl_text),
		cmocka_unit_test(test_xdp_section),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_no_leaks_on_error_paths),
	};

	/* the sample's tokenizer names no folder: the tables `make tests` made */
	if (getenv("SLUICE_BUILD"))
		snprintf(tiktoken, sizeof(tiktoken), "%s/share/tiktoken", getenv("SLUICE_BUILD"));
	else
		src_path("build/share/tiktoken", tiktoken, sizeof(tiktoken));
	setenv("SLUICE_TIKTOKEN_DIR", tiktoken, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
