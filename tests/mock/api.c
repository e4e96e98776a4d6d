// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Routing and the endpoints. The per-request knobs are the CLI flags'
 * names as x-mock- headers (x-mock-fault, x-mock-echo, x-mock-tokens,
 * x-mock-token-interval); a bad one is a 400 naming it, never ignored.
 * Faults, global or per request, apply to the /v1 API paths only, so
 * /health, /stats and /admin stay usable while everything else fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "mock.h"

typedef void (*handler_fn)(struct conn *c, struct req *r, const cJSON *j, int arg);

struct route_def {
	const char *method;
	const char *path;
	bool prefix;		/* path is a prefix ending in '/' */
	bool json;		/* body must be a JSON object */
	enum route route;
	handler_fn fn;
	int arg;
};

static void h_text(struct conn *c, struct req *r, const cJSON *j, int kind);
static void h_embeddings(struct conn *c, struct req *r, const cJSON *j, int arg);
static void h_models(struct conn *c, struct req *r, const cJSON *j, int arg);
static void h_health(struct conn *c, struct req *r, const cJSON *j, int arg);
static void h_stats(struct conn *c, struct req *r, const cJSON *j, int arg);
static void h_admin(struct conn *c, struct req *r, const cJSON *j, int arg);

static const struct route_def routes[] = {
	{ "POST", "/v1/chat/completions", false, true, R_CHAT, h_text, API_CHAT },
	{ "POST", "/v1/completions", false, true, R_COMPLETIONS, h_text, API_COMPLETIONS },
	{ "POST", "/v1/responses", false, true, R_RESPONSES, h_text, API_RESPONSES },
	{ "POST", "/v1/messages", false, true, R_MESSAGES, h_text, API_MESSAGES },
	{ "POST", "/v1/embeddings", false, true, R_EMBEDDINGS, h_embeddings, 0 },
	{ "GET", "/v1/models", false, false, R_MODELS, h_models, 0 },
	{ "GET", "/v1/models/", true, false, R_MODELS, h_models, 1 },
	{ "GET", "/health", false, false, R_HEALTH, h_health, 0 },
	{ "GET", "/stats", false, false, R_STATS, h_stats, 0 },
	{ "POST", "/admin/", true, false, R_ADMIN, h_admin, 0 },
};

static const struct route_def *route_find(const struct req *r)
{
	size_t i, n;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		n = strlen(routes[i].path);
		if (routes[i].prefix ? r->plen > n && !memcmp(r->target, routes[i].path, n) :
				       r->plen == n && !memcmp(r->target, routes[i].path, n))
			return &routes[i];
	}
	return NULL;
}

static const char *status_type(int status, bool anthropic)
{
	switch (status) {
	case 400: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 405: return "invalid_request_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 529: return "overloaded_error";
	}
	if (status >= 500)
		return anthropic ? "api_error" : "server_error";
	return "invalid_request_error";
}

void api_error(struct conn *c, struct req *r, int status, const char *type,
	       const char *code, const char *param, const char *msg)
{
	struct buf *b = &c->w->body;

	b->len = 0;
	if (r->route == R_MESSAGES) {
		buf_lit(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
		buf_puts(b, type);
		buf_lit(b, "\",\"message\":");
		buf_json_str(b, msg, strlen(msg));
		buf_lit(b, "}}");
	} else {
		buf_lit(b, "{\"error\":{\"message\":");
		buf_json_str(b, msg, strlen(msg));
		buf_lit(b, ",\"type\":\"");
		buf_puts(b, type);
		buf_lit(b, "\",\"param\":");
		if (param)
			buf_json_str(b, param, strlen(param));
		else
			buf_lit(b, "null");
		buf_lit(b, ",\"code\":");
		if (code)
			buf_json_str(b, code, strlen(code));
		else
			buf_lit(b, "null");
		buf_lit(b, "}}");
	}
	buf_lit(b, "\n");
	conn_reply(c, r, status, "application/json", b->p, b->len);
}

static void bad_request(struct conn *c, struct req *r, const char *code, const char *param,
			const char *msg)
{
	api_error(c, r, 400, "invalid_request_error", code, param, msg);
}

static void reply_json(struct conn *c, struct req *r, int status, const struct buf *b)
{
	conn_reply(c, r, status, "application/json", b->p, b->len);
}

static bool truthy(const struct hdr *h)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (h->vlen == strlen(yes[i]) && !strncasecmp(h->val, yes[i], h->vlen))
			return true;
	return false;
}

/* The x-mock-* knobs over the defaults; *why names a bad one. */
static int request_knobs(struct conn *c, struct req *r, char *why, size_t len)
{
	struct fault hf;
	uint64_t v;

	r->echo = r->h_echo ? truthy(r->h_echo) : srv.conf.echo;
	r->tokens = srv.conf.tokens;
	r->interval_ns = srv.conf.token_interval_ns;
	memset(&r->fault, 0, sizeof(r->fault));
	if (r->h_tokens) {
		if (mock_uint(r->h_tokens->val, r->h_tokens->vlen, MOCK_MAX_TOKENS, &v)) {
			snprintf(why, len, "x-mock-tokens: '%.*s': expected 0-%u", (int)r->h_tokens->vlen,
				 r->h_tokens->val, MOCK_MAX_TOKENS);
			return -EINVAL;
		}
		r->tokens = v;
	}
	if (r->h_interval && mock_duration(r->h_interval->val, r->h_interval->vlen, &r->interval_ns)) {
		snprintf(why, len, "x-mock-token-interval: '%.*s': expected a duration such as 5ms",
			 (int)r->h_interval->vlen, r->h_interval->val);
		return -EINVAL;
	}
	if (!ROUTE_API(r->route))
		return 0;
	r->fault = *worker_fault(c->w);
	if (r->h_fault) {
		if (fault_parse(r->h_fault->val, r->h_fault->vlen, &hf, why, len))
			return -EINVAL;
		fault_merge(&r->fault, &hf);
	}
	return 0;
}

void api_handle(struct conn *c, struct req *r)
{
	const struct route_def *d = route_find(r);
	struct worker *w = c->w;
	char why[200];
	cJSON *j = NULL;

	r->route = d ? d->route : R_OTHER;
	if (ROUTE_COUNTED(r->route)) {
		STAT_INC(w, requests);
		STAT_INC(w, by_route[r->route]);
	}
	if (request_knobs(c, r, why, sizeof(why))) {
		memset(&r->fault, 0, sizeof(r->fault));	/* the refusal itself is not faulted */
		bad_request(c, r, "mock_bad_header", NULL, why);
		return;
	}
	if (fault_any(&r->fault))
		STAT_INC(w, faults);
	if (r->echo && (ROUTE_API(r->route) || r->route == R_OTHER))
		stats_record(r);

	if (!d) {
		snprintf(why, sizeof(why), "Unknown request URL: %.*s %.*s", (int)r->mlen, r->method,
			 (int)r->plen, r->target);
		api_error(c, r, 404, "invalid_request_error", "unknown_url", NULL, why);
		return;
	}
	if (r->mlen != strlen(d->method) || memcmp(r->method, d->method, r->mlen)) {
		snprintf(why, sizeof(why), "%.*s is not allowed on %.*s (use %s)", (int)r->mlen,
			 r->method, (int)r->plen, r->target, d->method);
		api_error(c, r, 405, "invalid_request_error", "method_not_allowed", NULL, why);
		return;
	}
	if (r->fault.status) {
		snprintf(why, sizeof(why), "mockllm: injected fault status=%d", r->fault.status);
		api_error(c, r, r->fault.status,
			  status_type(r->fault.status, r->route == R_MESSAGES), "mock_fault", NULL, why);
		return;
	}
	if (d->json) {
		j = r->body_len ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
		if (!cJSON_IsObject(j)) {
			bad_request(c, r, "invalid_json", NULL,
				    j ? "The request body must be a JSON object." :
					"We could not parse the JSON body of your request.");
			cJSON_Delete(j);
			return;
		}
	}
	d->fn(c, r, j, d->arg);
	cJSON_Delete(j);
}

static void h_text(struct conn *c, struct req *r, const cJSON *j, int kind)
{
	struct buf *b = &c->w->body;
	const char *param = NULL, *msg = NULL;
	struct reply *rp;

	rp = reply_new(kind, j, r, &param, &msg);
	if (!rp) {
		bad_request(c, r, "invalid_type", param, msg);
		return;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"))) {
		conn_stream(c, r, rp);
		return;
	}
	b->len = 0;
	reply_body(rp, b);
	buf_lit(b, "\n");
	reply_free(rp);
	reply_json(c, r, 200, b);
}

/* xorshift64*: the same input gives the same vector on every machine. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* Newton's square root: the build links no libm, and x is in [0, dims]. */
static double root(double x)
{
	double r = x > 1 ? x : 1;
	int i;

	for (i = 0; i < 64 && x > 0; i++)
		r = 0.5 * (r + x / r);
	return x > 0 ? r : 0;
}

static void embed_one(struct buf *b, uint64_t seed, uint32_t dims, bool b64, float *vec)
{
	uint64_t s = seed ? seed : 1;
	double norm = 0;
	uint32_t i;

	for (i = 0; i < dims; i++) {
		vec[i] = (float)((double)(rng_next(&s) >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
		norm += (double)vec[i] * vec[i];
	}
	norm = root(norm);
	for (i = 0; i < dims; i++)
		vec[i] = norm > 0 ? (float)(vec[i] / norm) : 0;
	if (b64) {
		/* the float32 array, little endian, as the API sends it */
		buf_lit(b, "\"");
		buf_base64(b, vec, dims * sizeof(float));
		buf_lit(b, "\"");
		return;
	}
	buf_lit(b, "[");
	for (i = 0; i < dims; i++)
		buf_printf(b, i ? ",%.7g" : "%.7g", vec[i]);
	buf_lit(b, "]");
}

/* Seed and word count of one input: a string, or an array of token ids. */
static int embed_input(const cJSON *in, uint64_t *seed, uint32_t *words)
{
	const cJSON *t;
	int64_t id;

	if (cJSON_IsString(in)) {
		*seed = fnv1a(in->valuestring, strlen(in->valuestring), FNV1A_INIT);
		*words += count_words(in->valuestring, strlen(in->valuestring));
		return 0;
	}
	if (!cJSON_IsArray(in) || !cJSON_GetArraySize(in))
		return -1;
	*seed = FNV1A_INIT;
	cJSON_ArrayForEach(t, in) {
		if (!cJSON_IsNumber(t))
			return -1;
		id = (int64_t)t->valuedouble;
		*seed = fnv1a(&id, sizeof(id), *seed);
		(*words)++;
	}
	return 0;
}

static void h_embeddings(struct conn *c, struct req *r, const cJSON *j, int arg)
{
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(j, "input");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
	const cJSON *dims_j = cJSON_GetObjectItemCaseSensitive(j, "dimensions");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "encoding_format");
	struct buf *b = &c->w->body;
	uint32_t dims = srv.conf.embed_dims, words = 0, idx = 0;
	const cJSON *item, *first;
	bool b64 = false, many;
	uint64_t seed;
	float *vec;

	(void)arg;
	if (dims_j) {
		if (!cJSON_IsNumber(dims_j) || dims_j->valuedouble < 1 || dims_j->valuedouble > 65536) {
			bad_request(c, r, "invalid_value", "dimensions", "'dimensions' must be 1-65536");
			return;
		}
		dims = (uint32_t)dims_j->valuedouble;
	}
	if (fmt && !cJSON_IsNull(fmt)) {
		if (!cJSON_IsString(fmt) || (strcmp(fmt->valuestring, "float") &&
					     strcmp(fmt->valuestring, "base64"))) {
			bad_request(c, r, "invalid_value", "encoding_format",
				    "'encoding_format' must be 'float' or 'base64'");
			return;
		}
		b64 = !strcmp(fmt->valuestring, "base64");
	}
	if (model && !cJSON_IsString(model)) {
		bad_request(c, r, "invalid_type", "model", "'model' must be a string");
		return;
	}
	/* a list of inputs, unless it is one list of token ids */
	first = cJSON_IsArray(input) ? cJSON_GetArrayItem(input, 0) : NULL;
	many = cJSON_IsArray(input) && (cJSON_IsString(first) || cJSON_IsArray(first));
	if (!input || (cJSON_IsArray(input) && !first)) {
		bad_request(c, r, "invalid_value", "input", "'input' must be a non-empty string or array");
		return;
	}

	vec = xmalloc(dims * sizeof(*vec));
	b->len = 0;
	buf_lit(b, "{\"object\":\"list\",\"data\":[");
	for (item = many ? first : input; item; item = many ? item->next : NULL) {
		if (embed_input(item, &seed, &words)) {
			free(vec);
			bad_request(c, r, "invalid_type", "input",
				    "'input' items must be strings or arrays of token ids");
			return;
		}
		if (idx)
			buf_lit(b, ",");
		buf_lit(b, "{\"object\":\"embedding\",\"index\":");
		buf_u64(b, idx++);
		buf_lit(b, ",\"embedding\":");
		embed_one(b, seed, dims, b64, vec);
		buf_lit(b, "}");
	}
	free(vec);
	buf_lit(b, "],\"model\":");
	if (model)
		buf_json_str(b, model->valuestring, strlen(model->valuestring));
	else
		buf_json_str(b, srv.conf.models[0], strlen(srv.conf.models[0]));
	buf_lit(b, ",\"usage\":{\"prompt_tokens\":");
	buf_u64(b, words);
	buf_lit(b, ",\"total_tokens\":");
	buf_u64(b, words);
	buf_lit(b, "}}\n");
	reply_json(c, r, 200, b);
}

static void model_object(struct buf *b, const char *id, size_t n)
{
	buf_lit(b, "{\"id\":");
	buf_json_str(b, id, n);
	buf_lit(b, ",\"object\":\"model\",\"created\":");
	buf_u64(b, MOCK_CREATED);
	buf_lit(b, ",\"owned_by\":\"mockllm\"}");
}

/* arg 0: the list; arg 1: /v1/models/ID, 404 unless ID is listed. */
static void h_models(struct conn *c, struct req *r, const cJSON *j, int arg)
{
	struct buf *b = &c->w->body;
	const char *id = r->target + strlen("/v1/models/");
	size_t n = r->plen - strlen("/v1/models/");
	char why[160];
	int i;

	(void)j;
	b->len = 0;
	if (arg) {
		for (i = 0; i < srv.conf.nmodels; i++) {
			if (strlen(srv.conf.models[i]) != n || memcmp(srv.conf.models[i], id, n))
				continue;
			model_object(b, id, n);
			buf_lit(b, "\n");
			reply_json(c, r, 200, b);
			return;
		}
		snprintf(why, sizeof(why), "The model '%.*s' does not exist", (int)n, id);
		api_error(c, r, 404, "invalid_request_error", "model_not_found", "model", why);
		return;
	}
	buf_lit(b, "{\"object\":\"list\",\"data\":[");
	for (i = 0; i < srv.conf.nmodels; i++) {
		if (i)
			buf_lit(b, ",");
		model_object(b, srv.conf.models[i], strlen(srv.conf.models[i]));
	}
	buf_lit(b, "]}\n");
	reply_json(c, r, 200, b);
}

static void h_health(struct conn *c, struct req *r, const cJSON *j, int arg)
{
	struct buf *b = &c->w->body;
	bool down = __atomic_load_n(&srv.health_down, __ATOMIC_RELAXED);

	(void)j;
	(void)arg;
	b->len = 0;
	buf_puts(b, down ? "{\"status\":\"down\"}\n" : "{\"status\":\"ok\"}\n");
	reply_json(c, r, down ? 503 : 200, b);
}

static void h_stats(struct conn *c, struct req *r, const cJSON *j, int arg)
{
	struct buf *b = &c->w->body;

	(void)j;
	(void)arg;
	b->len = 0;
	stats_json(b);
	reply_json(c, r, 200, b);
}

/* Value of NAME in the query string, or NULL. */
static const char *query_param(const struct req *r, const char *name, size_t *len)
{
	const char *p = r->target + r->plen, *end = r->target + r->tlen, *amp;
	size_t n = strlen(name);

	while (p < end) {
		p++;	/* '?' or '&' */
		amp = memchr(p, '&', end - p);
		if (!amp)
			amp = end;
		if ((size_t)(amp - p) > n && !memcmp(p, name, n) && p[n] == '=') {
			*len = amp - p - n - 1;
			return p + n + 1;
		}
		p = amp;
	}
	return NULL;
}

static bool word_is(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(s, w, n);
}

/*
 * POST /admin/health?state=up|down (or the word as the body),
 * POST /admin/fault with a fault spec as the body ("" or "none": clear),
 * POST /admin/reset: zero the counters and forget the last request.
 */
static void h_admin(struct conn *c, struct req *r, const cJSON *j, int arg)
{
	const char *what = r->target + strlen("/admin/"), *v;
	size_t wlen = r->plen - strlen("/admin/"), vlen;
	struct buf *b = &c->w->body;
	char why[200], spec[160];
	struct fault f;

	(void)j;
	(void)arg;
	b->len = 0;
	if (word_is(what, wlen, "health")) {
		v = query_param(r, "state", &vlen);
		if (!v) {
			v = r->body ? r->body : "";
			vlen = r->body_len;
			while (vlen && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r'))
				vlen--;
		}
		if (!word_is(v, vlen, "up") && !word_is(v, vlen, "down")) {
			bad_request(c, r, "invalid_value", "state", "state must be 'up' or 'down'");
			return;
		}
		__atomic_store_n(&srv.health_down, word_is(v, vlen, "down"), __ATOMIC_RELAXED);
		buf_puts(b, word_is(v, vlen, "down") ? "{\"health\":\"down\"}\n" : "{\"health\":\"up\"}\n");
	} else if (word_is(what, wlen, "fault")) {
		if (fault_parse(r->body ? r->body : "", r->body_len, &f, why, sizeof(why))) {
			bad_request(c, r, "invalid_value", "fault", why);
			return;
		}
		pthread_mutex_lock(&srv.lock);
		srv.fault = (struct fault){};
		fault_merge(&srv.fault, &f);
		__atomic_add_fetch(&srv.fault_gen, 1, __ATOMIC_RELEASE);
		fault_fmt(&srv.fault, spec, sizeof(spec));
		pthread_mutex_unlock(&srv.lock);
		buf_lit(b, "{\"fault\":");
		buf_json_str(b, spec, strlen(spec));
		buf_lit(b, "}\n");
	} else if (word_is(what, wlen, "reset")) {
		stats_reset();
		buf_lit(b, "{\"reset\":true}\n");
	} else {
		api_error(c, r, 404, "invalid_request_error", "unknown_url", NULL,
			  "admin commands: health, fault, reset");
		return;
	}
	reply_json(c, r, 200, b);
}
