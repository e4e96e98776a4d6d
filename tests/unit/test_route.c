// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Routes: the first route whose every given condition matches wins; the
 * API shape follows the route or the path; a backend's model_map renames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw/gw.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static struct http1_header hdr[32];
static struct http1_msg req;
static char head[1024];

/* Parses a request head built from the method, target and extra header lines. */
static void request(const char *method, const char *target, const char *headers)
{
	int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: gw\r\n%s\r\n", method, target,
			 headers ? headers : "");

	http1_msg_init(&req, hdr, ARRAY_SIZE(hdr));
	assert_int_equal(http1_parse_request(&req, head, n, NULL), n);
}

static struct cfg_header_match tenant_hdr = { .name = "x-tenant", .glob = "acme*" };

/* A config with routes in the order a careful operator writes them. */
static char *pii_tags[] = { "pii" };

static struct cfg_route routes[] = {
	{ .name = "models", .method = "GET", .path_prefix = "/v1/models", .pool = 0 },
	{ .name = "acme", .path_prefix = "/v1/", .headers = &tenant_hdr, .nheaders = 1, .pool = 1 },
	{ .name = "small-gpt", .path_prefix = "/v1/chat/", .model_glob = "gpt-4o*", .max_bytes = 1000,
	  .pool = 2 },
	{ .name = "big-gpt", .path_prefix = "/v1/chat/", .model_glob = "gpt-4o*", .pool = 3 },
	{ .name = "long-prompt", .path_prefix = "/v1/", .max_prompt_tokens = 100, .pool = 4 },
	{ .name = "pii", .path_prefix = "/v1/", .tags = pii_tags, .ntags = 1, .pool = 5 },
	{ .name = "messages", .path_prefix = "/v1/messages", .api = API_ANTHROPIC, .pool = 6 },
	{ .name = "admin", .path_prefix = "/admin", .refuse = true, .pool = -1 },
};

static struct gw_config cfg = { .routes = routes, .nroutes = ARRAY_SIZE(routes) };

static int match(const char *method, const char *target, const char *headers, const char *model,
		 size_t body, uint64_t tokens)
{
	request(method, target, headers);
	return route_match(&cfg, &req, model, body, tokens, NULL, 0);
}

static const char *name_of(int i)
{
	return i < 0 ? "(none)" : routes[i].name;
}

static void test_route_first_full_match_wins(void **state)
{
	static const struct {
		const char *method, *target, *headers, *model;
		size_t body;
		uint64_t tokens;
		const char *want;
	} rows[] = {
		{ "GET", "/v1/models", NULL, NULL, 0, 0, "models" },
		/* method is part of the match: a POST to /v1/models goes on */
		{ "POST", "/v1/models", NULL, NULL, 10, 2, "long-prompt" },
		/* a header glob wins over what follows it */
		{ "POST", "/v1/chat/completions", "x-tenant: acme-eu\r\n", "gpt-4o", 10, 2, "acme" },
		{ "POST", "/v1/chat/completions", "x-tenant: other\r\n", "gpt-4o", 10, 2, "small-gpt" },
		/* size bounds: max_bytes itself still fits, past it the next route */
		{ "POST", "/v1/chat/completions", NULL, "gpt-4o-mini", 1000, 250, "small-gpt" },
		{ "POST", "/v1/chat/completions", NULL, "gpt-4o-mini", 1001, 250, "big-gpt" },
		/* a model glob that does not match, or no model at all */
		{ "POST", "/v1/chat/completions", NULL, "llama-3", 10, 2, "long-prompt" },
		{ "POST", "/v1/chat/completions", NULL, NULL, 10, 2, "long-prompt" },
		/* estimated prompt tokens past the bound: an untagged request skips "pii" */
		{ "POST", "/v1/messages", NULL, "claude", 4000, 1000, "messages" },
		{ "GET", "/admin/x", NULL, NULL, 0, 0, "admin" },
		{ "GET", "/other", NULL, NULL, 0, 0, "(none)" },
		/* a prefix is a prefix of the path, not a substring elsewhere */
		{ "GET", "/x/v1/models", NULL, NULL, 0, 0, "(none)" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		int got = match(rows[i].method, rows[i].target, rows[i].headers, rows[i].model,
				rows[i].body, rows[i].tokens);

		if (strcmp(name_of(got), rows[i].want))
			fail_msg("row %zu: %s %s model %s: route %s, want %s", i, rows[i].method,
				 rows[i].target, rows[i].model ? rows[i].model : "-", name_of(got),
				 rows[i].want);
	}
}

/* A tagged route matches once inspection set every tag it names. */
static void test_route_policy_tags(void **state)
{
	const char *pii[] = { "pii" }, *other[] = { "internal" }, *both[] = { "internal", "pii" };

	(void)state;
	request("POST", "/v1/messages", NULL);
	assert_string_equal(name_of(route_match(&cfg, &req, "claude", 4000, 1000, pii, 1)), "pii");
	assert_string_equal(name_of(route_match(&cfg, &req, "claude", 4000, 1000, both, 2)), "pii");
	assert_string_equal(name_of(route_match(&cfg, &req, "claude", 4000, 1000, other, 1)),
			    "messages");
	assert_string_equal(name_of(route_match(&cfg, &req, "claude", 4000, 1000, NULL, 0)),
			    "messages");
}

static void test_route_api_from_route_then_path(void **state)
{
	(void)state;
	request("POST", "/v1/messages", NULL);
	assert_int_equal(route_api(NULL, &req), API_ANTHROPIC);
	request("POST", "/v1/messages?beta=true", NULL);
	assert_int_equal(route_api(NULL, &req), API_ANTHROPIC);
	request("POST", "/v1/messages_batch", NULL);
	assert_int_equal(route_api(NULL, &req), API_OPENAI);
	request("POST", "/v1/chat/completions", NULL);
	assert_int_equal(route_api(NULL, &req), API_OPENAI);
	/* A route's own api wins over the path */
	assert_int_equal(route_api(&routes[6], &req), API_ANTHROPIC);
	assert_int_equal(route_api(&routes[0], &req), API_OPENAI);
}

static void test_model_rewrite_first_glob_wins(void **state)
{
	struct cfg_model_map map[] = {
		{ .from = "gpt-4o-mini*", .to = "llama-3-8b" },
		{ .from = "gpt-4o*", .to = "llama-3-70b" },
	};
	struct cfg_backend b = { .model_map = map, .nmodel_map = ARRAY_SIZE(map) };

	(void)state;
	assert_string_equal(model_rewrite(&b, "gpt-4o-mini-2024"), "llama-3-8b");
	assert_string_equal(model_rewrite(&b, "gpt-4o"), "llama-3-70b");
	assert_null(model_rewrite(&b, "claude-3"));
	assert_null(model_rewrite(&b, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_first_full_match_wins),
		cmocka_unit_test(test_route_policy_tags),
		cmocka_unit_test(test_route_api_from_route_then_path),
		cmocka_unit_test(test_model_rewrite_first_glob_wins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
