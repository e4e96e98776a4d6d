// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Routes: the first whose every given condition matches the request wins. */
#include <fnmatch.h>
#include <string.h>
#include <strings.h>
#include "gw/gw.h"

static bool header_matches(const struct http1_msg *req, const struct cfg_header_match *hm)
{
	const struct http1_header *h = NULL;
	char val[1024];

	while ((h = http1_find(req, hm->name, h))) {
		size_t n = h->value_len < sizeof(val) - 1 ? h->value_len : sizeof(val) - 1;

		memcpy(val, h->value, n);
		val[n] = '\0';
		if (!fnmatch(hm->glob, val, 0))
			return true;
	}
	return false;
}

static bool path_has_prefix(const struct http1_msg *req, const char *prefix)
{
	size_t n = strlen(prefix);

	return req->target_len >= n && !memcmp(req->target, prefix, n);
}

/* Every tag the route asks for is among the request's policy tags. */
static bool tags_match(const struct cfg_route *r, const char *const *tags, size_t ntags)
{
	for (size_t i = 0; i < r->ntags; i++) {
		size_t j = 0;

		while (j < ntags && strcmp(r->tags[i], tags[j]))
			j++;
		if (j == ntags)
			return false;
	}
	return true;
}

int route_match(const struct gw_config *cfg, const struct http1_msg *req, const char *model,
		size_t body_len, uint64_t est_tokens, const char *const *tags, size_t ntags)
{
	for (size_t i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		bool ok = true;

		if (r->method && !http1_iequal(req->method_str, req->method_len, r->method,
					       strlen(r->method)))
			continue;
		if (r->path_prefix && !path_has_prefix(req, r->path_prefix))
			continue;
		if (r->model_glob && (!model || fnmatch(r->model_glob, model, 0)))
			continue;
		if (body_len < r->min_bytes || (r->max_bytes && body_len > r->max_bytes))
			continue;
		if (r->max_prompt_tokens && est_tokens > r->max_prompt_tokens)
			continue;
		/* Policy tags are set by the inspection rules */
		if (r->ntags && !tags_match(r, tags, ntags))
			continue;
		for (size_t h = 0; h < r->nheaders && ok; h++)
			ok = header_matches(req, &r->headers[h]);
		if (ok)
			return (int)i;
	}
	return -1;
}

enum api_kind route_api(const struct cfg_route *r, const struct http1_msg *req)
{
	static const char messages[] = "/v1/messages";

	if (r && r->api != API_AUTO)
		return r->api;
	if (req->target_len >= sizeof(messages) - 1 &&
	    !memcmp(req->target, messages, sizeof(messages) - 1) &&
	    (req->target_len == sizeof(messages) - 1 || req->target[sizeof(messages) - 1] == '?' ||
	     req->target[sizeof(messages) - 1] == '/'))
		return API_ANTHROPIC;
	return API_OPENAI;
}

/* The backend's name for model, or NULL to leave it. */
const char *model_rewrite(const struct cfg_backend *b, const char *model)
{
	if (!model)
		return NULL;
	for (size_t i = 0; i < b->nmodel_map; i++)
		if (!fnmatch(b->model_map[i].from, model, 0))
			return b->model_map[i].to;
	return NULL;
}
