// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The client side of a request: TLS handshake, strict head and body
 * reading, routing, then relaying the upstream's response as it arrives.
 *
 * A connection handles one request at a time; pipelined bytes wait in the
 * input buffer until the response before them is done. While a request is
 * upstream only end-of-stream is watched, so a client that goes away has
 * its upstream request aborted at once.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <cjson/cJSON.h>
#include "gw/audit.h"
#include "gw/conncount.h"
#include "gw/escalate.h"
#include "gw/restore.h"
#include "gw/gw.h"
#include "gw/jsonreq.h"
#include "gw/keyuse.h"
#include "gw/proxyproto.h"
#include "gw/tokens.h"
#include "lib/keyfile.h"

static void client_step(struct client *c);

static size_t max_out(void)
{
	return 64 * 1024 * 1024;	/* a local response never nears it; relays pause at GW_OUT_HIGH */
}

static const struct cfg_http *http_cfg(struct client *c)
{
	return &c->w->view->rt->cfg->http;
}

/* What the client's socket must wait for, from the state and TLS's wants. */
static void client_events(struct client *c)
{
	uint32_t ev = EPOLLRDHUP;

	switch (c->state) {
	case C_PROXY:
		ev |= EPOLLIN;
		break;
	case C_HANDSHAKE:
		ev |= c->st.want_write ? EPOLLOUT : EPOLLIN;
		break;
	case C_HEAD:
	case C_BODY:
		ev |= EPOLLIN;
		break;
	default:
		break;
	}
	if (buf_used(&c->out) && !c->audit_seq)
		ev |= EPOLLOUT;
	if (c->st.want_read)
		ev |= EPOLLIN;
	io_set(&c->w->loop, &c->io, ev);
}

/* The listener the connection came in on, as the config it was accepted under says */
static const struct cfg_listener *listener_of(const struct client *c)
{
	return &c->conn_rt->cfg->listeners[c->listener];
}

static bool trusted(const struct cfg_listener *l, const struct sockaddr_storage *ss)
{
	struct cidr a;

	return l->ntrusted && !cidr_from_sockaddr(ss, &a) && cidr_list_has(l->trusted, l->ntrusted, &a);
}

/*
 * Strikes against the request's origin. Never against a trusted proxy:
 * its address is every client's behind it, and a verdict on it at the NIC
 * would shut them all out.
 */
static void client_strike(struct client *c, const struct gw_config *cfg, enum esc_event ev,
			  unsigned int n)
{
	if (!trusted(listener_of(c), &c->peer))
		escalate_strike(cfg, &c->peer, ev, n, c->w->loop.now_ns);
	if (c->key)
		escalate_key_strike(cfg, c->key->id, c->key->tenant, ev, n, c->w->loop.now_ns);
}

/* The request's origin becomes ss: the address the limits, rules and audit see. */
static void set_peer(struct client *c, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *m = (const void *)ss;
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;

	c->peer = *ss;
	/* a v4 client on a dual-stack socket is the v4 client it is */
	if (ss->ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&m->sin6_addr)) {
		struct sockaddr_in *in = (void *)&c->peer;
		uint16_t p = m->sin6_port;
		uint32_t a;

		memcpy(&a, &m->sin6_addr.s6_addr[12], 4);
		memset(&c->peer, 0, sizeof(c->peer));
		in->sin_family = AF_INET;
		in->sin_port = p;
		in->sin_addr.s_addr = a;
		ss = &c->peer;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(c->peer_text, sizeof(c->peer_text), "%s:%u", host, port);
}

static void client_free(void *obj)
{
	struct client *c = obj;

	/* The SSL was freed by stream_close(): its callbacks are done with the runtime */
	runtime_put(c->conn_rt);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->head);
	buf_free(&c->body);
	buf_free(&c->prompt_head);
	free(c->model);
	free(c->user);
	free(c->upstream_body);
	free(c->forwarded);
	usage_tap_free(&c->tap);
	free(c);
}

static void filter_end(struct client *c)
{
	if (c->filter) {
		restore_fini(c->filter);
		free(c->filter);
		c->filter = NULL;
	}
}

/* What inspection needs of the request. */
static void insp_ctx_of(const struct client *c, struct insp_ctx *ctx)
{
	const struct runtime *rt = c->view->rt;
	const struct gw_config *cfg = rt->cfg;

	*ctx = (struct insp_ctx){
		.cfg = &cfg->inspect,
		.db = &rt->detect,
		.scan = &c->view->scan,
		.key = rt->hash_key,
		.mac = rt->hash_mac,
		.route = c->route,
		.model = c->model,
		.peer = &c->peer,
		.body_len = buf_used(&c->body),
		.keep_masked = cfg->audit && cfg->audit->include_masked,
		.hash_prompt = cfg->audit != NULL,
	};
}

/*
 * An answer is filtered when it succeeded and has a body, and rules judge
 * answers, placeholders went to the model, or it is a stream to meter
 * (restore.h). ct: its content-type, or NULL. The filter changes the
 * length, so it goes out chunked.
 */
static bool filter_start(struct client *c, const struct http1_msg *m,
			 const struct http1_header *ct)
{
	bool judge = c->inspected && c->view->rt->cfg->inspect.any_response;
	bool restoring = c->inspected && c->insp.restore && c->insp.nvalues;
	bool budgeted = limit_ticket_tokens(&c->lim);
	bool meter = c->sse && c->stream_req && (c->usage_injected || budgeted);
	struct insp_ctx ctx;

	/* every stream goes event by event: one the backend fails ends with an error event */
	if (!(judge || restoring || meter || c->sse) || c->is_head ||
	    m->status < 200 || m->status >= 300 || m->status == 204 ||
	    m->body == HTTP1_BODY_NONE)
		return false;
	c->filter = calloc(1, sizeof(*c->filter));
	if (!c->filter)
		return false;
	if (judge)
		insp_ctx_of(c, &ctx);
	restore_init(c->filter, c->inspected ? &c->insp : NULL, judge ? &ctx : NULL,
		     c->api == API_ANTHROPIC, ct ? ct->value : NULL, ct ? ct->value_len : 0);
	/*
	 * A backend bound by max_tokens stops there itself: the meter's margin
	 * is for counting event by event; one that is not is cut at the
	 * reservation.
	 */
	if (meter)
		restore_meter(c->filter, c->usage_injected,
			      tokens_for(c->view->rt->cfg->tokenizer, c->model),
			      !budgeted ? 0 : c->max_tokens ? c->allowed + c->allowed / 16 + 8 :
			      c->allowed, c->prompt_tokens);
	return true;
}

/* Ends the request's hold on its view (and the view itself when it was the last). */
static void settle(struct client *c);

static void request_end(struct client *c)
{
	settle(c);
	if (c->inspected && c->insp.escalations && c->view)
		client_strike(c, c->view->rt->cfg, EV_POLICY, c->insp.escalations);
	audit_request(c);
	filter_end(c);
	if (c->inspected) {
		inspection_free(&c->insp);
		c->inspected = false;
	}
	retry_leave(c);
	if (c->view) {
		struct view *v = c->view;

		c->view = NULL;
		v->users--;
		view_release(c->w, v);
	}
	free(c->model);
	c->model = NULL;
	free(c->user);
	c->user = NULL;
	buf_reset(&c->prompt_head);
	free(c->upstream_body);
	c->upstream_body = NULL;
	buf_reset(&c->body);
}

void client_close(struct client *c)
{
	struct worker *w = c->w;

	if (c->state == C_CLOSED)
		return;
	if (c->up)
		upstream_abort(c->up);
	c->up = NULL;
	queue_leave(c);
	if (c->state == C_QUEUED) {
		for (struct waiter **p = &w->waiting; *p; p = &(*p)->next)
			if ((*p)->c == c) {
				struct waiter *dead = *p;

				*p = dead->next;
				free(dead);
				break;
			}
		w->waiting_tail = NULL;
		for (struct waiter *q = w->waiting; q; q = q->next)
			w->waiting_tail = q;
	}
	request_end(c);
	c->state = C_CLOSED;
	if (c->m_listener)
		M_ADD(c->m_listener[ML_ACTIVE], -1);
	if (c->conn_counted)
		conncount_put(c->conn_slot);
	c->conn_counted = false;
	timer_disarm(&w->loop, &c->timer);
	io_del(&w->loop, &c->io);
	stream_close(&c->st);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nclients--;
	loop_defer(&w->loop, client_free, c);
}

/* Writes what is pending. 0, or -errno when the connection is dead. */
/*
 * Sync always: the answer waits until its record is on disk; with
 * audit.on_error "continue", no longer once the writer fails.
 */
static bool held(const struct client *c)
{
	const struct cfg_audit *ac = c->w->view->rt->cfg->audit;

	if (!c->audit_seq || audit_durable(gw_audit) >= c->audit_seq)
		return false;
	return !ac || ac->on_error == AUDIT_REFUSE || !audit_error(gw_audit);
}

static int client_flush(struct client *c)
{
	if (c->unrecorded)
		return -EIO;
	if (c->audit_seq) {
		if (held(c))
			return 0;
		c->audit_seq = 0;
	}
	while (buf_used(&c->out)) {
		ssize_t n = stream_write(&c->st, buf_head(&c->out), buf_used(&c->out));

		if (n == -EAGAIN)
			break;
		if (n < 0)
			return (int)n;
		buf_consume(&c->out, n);
	}
	if (c->up && c->up->paused && buf_used(&c->out) < GW_OUT_LOW)
		upstream_resume(c->up);
	return 0;
}

/* Answers with an error of our own; the connection closes after it unless keep. */
static void client_fail(struct client *c, unsigned int status, const char *type, const char *code,
			const char *msg, bool keep)
{
	unsigned int retry_after = status == 503 || status == 429 ?
				   (c->retry_after ? c->retry_after : 1) : 0;

	c->status = status;
	c->local_error = true;
	M_INC(c->w->st.errors);
	queue_leave(c);
	if (!keep || c->w->drain)
		c->close_after = true;
	api_error(&c->out, c->api, status, type, code, msg, c->request_id, !c->close_after,
		  retry_after, c->rl_head);
	c->state = C_LOCAL;
	request_end(c);
	if (gw_verbose)
		gw_log(2, "worker=%d client=%s id=%s status=%u error=\"%s\"", c->w->id, c->peer_text,
		       c->request_id, status, msg);
	if (client_flush(c)) {
		client_close(c);
		return;
	}
	client_step(c);
}

/* Refusal of the parser (negative status) as an error response that closes. */
static void client_refuse(struct client *c, int err, const char *why)
{
	unsigned int status = -err;
	char msg[160];

	snprintf(msg, sizeof(msg), "malformed request: %s", why ? why : http_reason(status));
	client_strike(c, c->w->view->rt->cfg, EV_BAD_REQUEST, 1);
	client_fail(c, status, "invalid_request_error", NULL, msg, false);
}

static void new_request_id(struct client *c)
{
	const struct http1_header *h = http1_find(&c->req, "x-request-id", NULL);
	uint64_t a, b;

	if (h && h->value_len && h->value_len <= GW_REQUEST_ID_MAX) {
		size_t i;

		for (i = 0; i < h->value_len; i++)
			if (!http1_is((unsigned char)h->value[i], HTTP1_C_TCHAR))
				break;
		if (i == h->value_len) {
			memcpy(c->request_id, h->value, h->value_len);
			c->request_id[h->value_len] = '\0';
			return;
		}
	}
	a = worker_rand(c->w);
	b = worker_rand(c->w);
	snprintf(c->request_id, sizeof(c->request_id), "%016llx%016llx",
		 (unsigned long long)a, (unsigned long long)b);
}

#define PROMPT_HEAD_MAX	4096

static void prompt_add(struct buf *b, const cJSON *v)
{
	const cJSON *part;

	if (buf_used(b) >= PROMPT_HEAD_MAX)
		return;
	if (cJSON_IsString(v)) {
		size_t n = strlen(v->valuestring);

		if (n > PROMPT_HEAD_MAX - buf_used(b))
			n = PROMPT_HEAD_MAX - buf_used(b);
		buf_append(b, v->valuestring, n, PROMPT_HEAD_MAX);
		return;
	}
	/* Arrays of strings (prompt, input) or of parts {"type":"text","text":...} */
	cJSON_ArrayForEach(part, v) {
		if (cJSON_IsString(part))
			prompt_add(b, part);
		else if (cJSON_IsObject(part))
			prompt_add(b, cJSON_GetObjectItemCaseSensitive(part, "text"));
	}
}

/*
 * The start of what the model reads, in order: instructions and system,
 * then each message's content, or the prompt/input of the other APIs.
 * Requests that share it can share a backend's KV cache.
 */
static void prompt_head(struct buf *b, const cJSON *root)
{
	static const char *const keys[] = { "instructions", "system", "prompt", "input" };
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages"), *m;

	for (size_t i = 0; i < 2; i++)
		prompt_add(b, cJSON_GetObjectItemCaseSensitive(root, keys[i]));
	cJSON_ArrayForEach(m, msgs)
		prompt_add(b, cJSON_GetObjectItemCaseSensitive(m, "content"));
	for (size_t i = 2; i < 4; i++)
		prompt_add(b, cJSON_GetObjectItemCaseSensitive(root, keys[i]));
}

/*
 * POSTs to the model endpoints always carry a JSON object, so one without
 * a body is refused here; others (a cancel, say) may have none, even when
 * the SDK sends its JSON content type on every request.
 */
static bool body_required(const struct http1_msg *m)
{
	static const char *const ends[] = { "/completions", "/embeddings", "/messages", "/responses" };
	const char *q = memchr(m->target, '?', m->target_len);
	size_t n = q ? (size_t)(q - m->target) : m->target_len;

	if (m->method != HTTP1_POST)
		return false;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t e = strlen(ends[i]);

		if (n >= e && !memcmp(m->target + n - e, ends[i], e))
			return true;
	}
	return false;
}

/*
 * The model, user, completion bound and stream fields of a JSON body. A
 * body that says it is JSON (or looks like it) must be by jsonreq_parse()'s
 * strict reading, or it is refused: 0 to go on, -1 when answered. With
 * keep, the tree is handed on in *keep for inspection instead of freed.
 */
static int body_model(struct client *c, cJSON **keep)
{
	cJSON *root, *model, *user, *so;
	const struct bpe *bpe;
	const struct http1_header *ct = http1_find(&c->req, "content-type", NULL);
	bool json = ct && ct->value_len >= 16 && !strncasecmp(ct->value, "application/json", 16);
	struct jsonreq_error err;
	size_t i;

	if (!buf_used(&c->body)) {
		if (!body_required(&c->req))
			return 0;
		client_fail(c, 400, "invalid_request_error", "invalid_json",
			    "the request body is empty: expected a JSON object", true);
		return -1;
	}
	for (i = 0; i < buf_used(&c->body) && memchr(" \t\r\n", buf_head(&c->body)[i], 4); i++)
		;
	if (!json && (i == buf_used(&c->body) || buf_head(&c->body)[i] != '{'))
		return 0;
	root = jsonreq_parse(buf_head(&c->body), buf_used(&c->body), &err);
	if (!root) {
		if (errno == ENOMEM)
			client_fail(c, 500, "api_error", NULL, "out of memory", false);
		else
			client_fail(c, 400, "invalid_request_error", err.code, err.why, true);
		return -1;
	}
	model = cJSON_GetObjectItemCaseSensitive(root, "model");
	if (cJSON_IsString(model) && model->valuestring)
		c->model = strdup(model->valuestring);
	user = cJSON_GetObjectItemCaseSensitive(root, "user");
	if (cJSON_IsString(user) && user->valuestring)
		c->user = strdup(user->valuestring);
	for (const char *const *k = jsonreq_max_tokens_keys; *k; k++) {
		const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, *k);

		/* jsonreq_parse() took only null or an integer in [1, JSONREQ_MAX_TOKENS] */
		if (cJSON_IsNumber(mt)) {
			c->max_tokens = (uint64_t)mt->valuedouble;
			break;
		}
	}
	c->stream_req = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream"));
	so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
	/* chat or completions (Responses and Anthropic streams always end with their usage) */
	c->usage_unasked = c->stream_req && (!so || (cJSON_IsObject(so) &&
			   !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage")))) &&
			   (cJSON_GetObjectItemCaseSensitive(root, "messages") ||
			    cJSON_GetObjectItemCaseSensitive(root, "prompt"));
	bpe = tokens_for(c->view->rt->cfg->tokenizer, c->model);
	if (bpe) {
		c->prompt_tokens = tokens_prompt(bpe, root);
		c->prompt_exact = true;
	}
	if (c->view->rt->any_prefix)
		prompt_head(&c->prompt_head, root);
	if (keep)
		*keep = root;
	else
		jsonreq_delete(root);
	return 0;
}

/* Does a pool the route may use need the body's model, user or prompt? */
static bool route_needs_body(const struct runtime *rt, const struct cfg_route *r)
{
	if (r->pool >= 0 && rt->pool_needs_body[r->pool])
		return true;
	for (size_t i = 0; i < r->nfallback; i++)
		if (rt->pool_needs_body[r->fallback[i]])
			return true;
	return false;
}

/*
 * Inspects the body (tree: body_model()'s parse of it, or NULL) and acts on
 * the verdict: 0 to go on (the body may be masked, the route and pool
 * changed), -1 when the request was answered.
 */
static int inspect_body(struct client *c, const struct cfg_route **rp, cJSON *tree)
{
	const struct gw_config *cfg = c->view->rt->cfg;
	struct inspection *in = &c->insp;
	const struct cfg_rule *rule;
	struct insp_ctx ctx;
	int err, route;

	insp_ctx_of(c, &ctx);
	if (tree)
		err = inspect_tree(&ctx, tree, in);
	else
		err = inspect_request(&ctx, buf_head(&c->body), buf_used(&c->body), in);
	c->inspected = true;
	if (err) {
		in->decision = DEC_ERROR;
		if (err == -ENOMEM)
			client_fail(c, 500, "api_error", NULL, "out of memory", false);
		else
			client_fail(c, err == -EMSGSIZE ? 413 : 400, "invalid_request_error",
				    err == -EINVAL ? "invalid_json" : NULL, in->why, true);
		return -1;
	}
	if (in->decision == DEC_BLOCKED) {
		rule = &cfg->inspect.rules[in->block_rule];
		/* the rule's message, never what matched */
		client_fail(c, rule->status, "invalid_request_error", "content_policy_violation",
			    rule->message, true);
		return -1;
	}
	if (in->body) {
		/* The masked body replaces the original, which the reset wipes */
		buf_reset(&c->body);
		if (buf_append(&c->body, in->body, in->body_len, in->body_len)) {
			client_fail(c, 500, "api_error", NULL, "out of memory", false);
			return -1;
		}
		explicit_bzero(in->body, in->body_len);
		free(in->body);
		in->body = NULL;
	}
	if (in->ntags) {
		route = route_match(cfg, &c->req, c->model, buf_used(&c->body), c->prompt_tokens,
				    in->tags, in->ntags);
		if (route >= 0 && route != c->route && !cfg->routes[route].refuse) {
			c->route = route;
			*rp = &cfg->routes[route];
			c->api = route_api(*rp, &c->req);
			c->pool = (*rp)->pool;
		}
	}
	if (in->reroute >= 0) {
		c->pool = in->reroute;
		c->no_fallback = true;
	}
	return 0;
}

/* --- origins, limits and token accounting ------------------------------------ */

/* The key a request presents: Authorization: Bearer, x-api-key (Anthropic), api-key (Azure). */
static const struct http1_header *key_header(const struct client *c, const char **key,
					     size_t *len)
{
	static const char *const names[] = { "authorization", "x-api-key", "api-key", NULL };

	for (const char *const *n = names; *n; n++) {
		const struct http1_header *h = http1_find(&c->req, *n, NULL);
		const char *v;
		size_t l;

		if (!h)
			continue;
		v = h->value;
		l = h->value_len;
		if (n == names) {
			if (l < 7 || strncasecmp(v, "bearer ", 7))
				continue;
			v += 7;
			l -= 7;
			while (l && *v == ' ')
				v++, l--;
		}
		*key = v;
		*len = l;
		return h;
	}
	return NULL;
}

/* Who sends the request: its key (and the key's tenant), as the listener asks. 0, or -1 answered. */
static int origin(struct client *c)
{
	const struct gw_config *cfg = c->view->rt->cfg;
	unsigned int mode = cfg->listeners[c->listener].api_keys;
	const struct keyfile_entry *e = NULL;
	const struct http1_header *h;
	const char *key;
	uint64_t left;
	size_t len;

	if (mode == KEYS_OFF)
		return 0;
	if (!(h = key_header(c, &key, &len))) {
		if (mode == KEYS_OPTIONAL)
			return 0;
		M_INC(c->w->st.auth_failed);
		client_strike(c, cfg, EV_AUTH_FAILED, 1);
		client_fail(c, 401, "invalid_request_error", "missing_api_key",
			    "an API key is required (Authorization: Bearer KEY, x-api-key or api-key)",
			    true);
		return -1;
	}
	if (cfg->keys.kf)
		e = keyfile_find(cfg->keys.kf, key, len);
	if (!e) {
		M_INC(c->w->st.auth_failed);
		client_strike(c, cfg, EV_AUTH_FAILED, 1);
		client_fail(c, 401, "invalid_request_error", "invalid_api_key",
			    "the API key is not valid", true);
		return -1;
	}
	c->key = e;
	c->key_hdr = h;
	keyuse_touch(e, time(NULL));
	c->tenant = config_tenant_index(cfg, e->tenant);
	if ((left = escalate_key_suspended(e->id, c->w->loop.now_ns))) {
		char msg[160];

		/* the key's abuse goes on from this address: the address is struck (not the key again) */
		client_strike(c, cfg, EV_KEY_SUSPENDED, 1);
		M_INC(c->w->st.forbidden);
		snprintf(msg, sizeof(msg), "the API key %s is suspended for %llus after repeated abuse",
			 e->id, (unsigned long long)((left + 999999999) / 1000000000ULL));
		client_fail(c, 403, "invalid_request_error", "api_key_suspended", msg, true);
		return -1;
	}
	return 0;
}

/* May the request's key use its route and model? 0, or -1 answered with 403. */
static int permit(struct client *c, const struct cfg_route *r)
{
	const struct keyfile_entry *e = c->key;
	char msg[200];
	bool ok;

	if (!e)
		return 0;
	ok = !e->nroutes;
	for (size_t i = 0; i < e->nroutes && !ok; i++)
		ok = !strcmp(e->routes[i], r->name);
	if (!ok) {
		snprintf(msg, sizeof(msg), "the API key %s may not use route %s", e->id, r->name);
		goto refuse;
	}
	ok = !e->nmodels;
	for (size_t i = 0; i < e->nmodels && !ok && c->model; i++)
		ok = !fnmatch(e->models[i], c->model, 0);
	if (!ok) {
		snprintf(msg, sizeof(msg), "the API key %s may not use model %.80s", e->id,
			 c->model ? c->model : "(none named)");
		goto refuse;
	}
	return 0;
refuse:
	M_INC(c->w->st.forbidden);
	client_fail(c, 403, "invalid_request_error", "model_not_allowed", msg, true);
	return -1;
}

static bool limits_any(const struct cfg_limits *l)
{
	return l->rps || l->rpm || l->concurrent || l->tpm || l->tpd || l->max_prompt_tokens ||
	       l->max_tokens_cap;
}

/* The source address as a limit scope: IPv4 whole, IPv6 by its /64. */
static void address_id(const struct client *c, char *out, size_t size)
{
	/* set_peer() has made a v4-mapped peer plain v4 */
	if (c->peer.ss_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)&c->peer)->sin6_addr;
		char t[INET6_ADDRSTRLEN];

		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, t, sizeof(t));
		snprintf(out, size, "%s/64", t);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->peer)->sin_addr, out, size);
	}
}

/*
 * The body with its completion bound set to cap (the name it used, else
 * max_tokens; 0: as it was) and, with usage, stream_options.include_usage.
 */
static int body_rewrite(struct client *c, uint64_t cap, bool usage)
{
	cJSON *root = cJSON_ParseWithLength(buf_head(&c->body), buf_used(&c->body)), *so;
	const char *name = "max_tokens";
	char *out;
	int err = 0;

	if (!root)
		return -EINVAL;
	if (cap) {
		for (const char *const *k = jsonreq_max_tokens_keys; *k; k++)
			if (cJSON_GetObjectItemCaseSensitive(root, *k)) {
				name = *k;
				break;
			}
		cJSON_DeleteItemFromObjectCaseSensitive(root, name);
		if (!cJSON_AddNumberToObject(root, name, (double)cap))
			err = -ENOMEM;
	}
	if (usage && !err) {
		so = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
		if (!so && !(so = cJSON_AddObjectToObject(root, "stream_options")))
			err = -ENOMEM;
		cJSON_DeleteItemFromObjectCaseSensitive(so, "include_usage");
		if (!err && !cJSON_AddTrueToObject(so, "include_usage"))
			err = -ENOMEM;
	}
	if (err || !(out = cJSON_PrintUnformatted(root))) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	cJSON_Delete(root);
	buf_reset(&c->body);
	if (buf_append(&c->body, out, strlen(out), strlen(out)))
		err = -ENOMEM;
	explicit_bzero(out, strlen(out));
	cJSON_free(out);
	if (cap)
		c->max_tokens = cap;
	c->usage_injected = usage;
	return err;
}

/*
 * The limits of every scope the request draws on (its key, the key's
 * tenant, its source address, its route): the prompt and completion bounds
 * first (400), then one request and prompt + allowed completion tokens
 * reserved from every budget at once (429). 0 to go on, -1 answered.
 */
static int admit(struct client *c, const struct cfg_route *r)
{
	const struct gw_config *cfg = c->view->rt->cfg;
	struct limit_ask ask[LS_N];
	struct limit_refusal why;
	struct limit_view v;
	char addr[INET6_ADDRSTRLEN + 4], msg[256];
	uint64_t cap = 0, now = c->w->loop.now_ns;
	bool reject = false, inject;
	int n = 0;

	if (c->key && limits_any(&cfg->limits.per_key))
		ask[n++] = (struct limit_ask){ LS_KEY, c->key->id, &cfg->limits.per_key };
	if (c->tenant >= 0 && limits_any(&cfg->tenants[c->tenant].limits))
		ask[n++] = (struct limit_ask){ LS_TENANT, cfg->tenants[c->tenant].name,
					       &cfg->tenants[c->tenant].limits };
	if (limits_any(&cfg->limits.per_address)) {
		address_id(c, addr, sizeof(addr));
		ask[n++] = (struct limit_ask){ LS_ADDRESS, addr, &cfg->limits.per_address };
	}
	if (limits_any(&r->limits))
		ask[n++] = (struct limit_ask){ LS_ROUTE, r->name, &r->limits };
	for (int i = 0; i < n; i++) {
		const struct cfg_limits *l = ask[i].l;

		if (l->max_prompt_tokens && c->prompt_tokens > l->max_prompt_tokens) {
			snprintf(msg, sizeof(msg), "the prompt has %s%llu tokens; the %s limit is %u",
				 c->prompt_exact ? "" : "about ", (unsigned long long)c->prompt_tokens, limit_scope_name(ask[i].scope),
				 l->max_prompt_tokens);
			client_fail(c, 400, "invalid_request_error", "max_prompt_tokens", msg, true);
			return -1;
		}
		if (l->max_tokens_cap && (!cap || l->max_tokens_cap < cap)) {
			cap = l->max_tokens_cap;
			reject = l->over == OVER_REJECT;
		}
	}
	c->allowed = c->max_tokens ? c->max_tokens : cfg->limits.default_max_tokens;
	if (cap && c->allowed > cap) {
		if (reject && c->max_tokens) {
			snprintf(msg, sizeof(msg), "max_tokens %llu is above this key's cap of %llu",
				 (unsigned long long)c->max_tokens, (unsigned long long)cap);
			client_fail(c, 400, "invalid_request_error", "max_tokens_cap", msg, true);
			return -1;
		}
		/* lowered, or set where the request named none: the backend is bound too */
		c->allowed = cap;
	} else {
		cap = 0;
	}
	if (n && limit_acquire(&c->lim, ask, n, c->prompt_tokens + c->allowed, now, &v, &why)) {
		limit_headers(&v, c->rl_head, sizeof(c->rl_head));
		M_INC(c->w->st.limited[why.scope][why.what]);
		client_strike(c, cfg, EV_RATE_LIMITED, 1);
		if (why.what == LW_TPM || why.what == LW_TPD)
			snprintf(msg, sizeof(msg), "%s: %s of %s %s reached (this request needs %llu)",
				 why.retry_ns ? "rate limit" : "request too large for the limit",
				 limit_what_name(why.what), limit_scope_name(why.scope),
				 why.scope == LS_KEY ? c->key->id : why.scope == LS_TENANT ?
				 cfg->tenants[c->tenant].name : why.scope == LS_ROUTE ? r->name : addr,
				 (unsigned long long)(c->prompt_tokens + c->allowed));
		else
			snprintf(msg, sizeof(msg), "rate limit: %s of %s %s reached",
				 limit_what_name(why.what), limit_scope_name(why.scope),
				 why.scope == LS_KEY ? c->key->id : why.scope == LS_TENANT ?
				 cfg->tenants[c->tenant].name : why.scope == LS_ROUTE ? r->name : addr);
		c->retry_after = why.retry_ns ?
			(unsigned int)((why.retry_ns + 999999999ULL) / 1000000000ULL) : 0;
		client_fail(c, 429, why.what == LW_TPM || why.what == LW_TPD ? "tokens" : "requests",
			    "rate_limit_exceeded", msg, true);
		return -1;
	}
	if (n)
		limit_headers(&v, c->rl_head, sizeof(c->rl_head));
	/* An OpenAI stream reports its usage only when asked: ask, and hide the answer (restore.h) */
	inject = cfg->limits.stream_usage && c->usage_unasked && c->api != API_ANTHROPIC;
	if ((cap || inject) && buf_used(&c->body) && body_rewrite(c, cap, inject)) {
		client_fail(c, 400, "invalid_request_error", "invalid_json",
			    "the request body is not valid JSON", true);
		return -1;
	}
	return 0;
}

/* The request's tokens: reported usage, else estimated; its reservation settled. */
static void settle(struct client *c)
{
	uint64_t reserved = c->prompt_tokens + c->allowed, spent = 0;

	usage_parse(&c->tap, &c->used);
	if (c->used.found) {
		spent = c->used.prompt + c->used.completion;
	} else if (c->filter && c->filter->metering) {
		/* a stream without usage, or one we cut: what the meter counted */
		spent = c->prompt_tokens + c->filter->counted;
	} else if (c->first_byte_ns && c->status < 400) {
		/* no usage in the answer: the prompt and about four bytes a token of it */
		spent = c->prompt_tokens + c->tap.bytes / 4;
		if (spent > reserved)
			spent = reserved;
	}
	limit_release(&c->lim, spent, c->w->loop.now_ns);
	usage_tap_end(&c->tap);
}

/* Everything of the request is here: route it and send it upstream. */
static void dispatch(struct client *c)
{
	struct worker *w = c->w;
	const struct gw_config *cfg;
	const struct cfg_route *r;
	cJSON *tree = NULL, **keep;
	char msg[256];

	c->view = w->view;
	c->view->users++;
	cfg = c->view->rt->cfg;
	if (origin(c))
		return;
	/* the body is parsed once: what body_model() reads, inspection walks */
	keep = c->view->rt->inspect && buf_used(&c->body) ? &tree : NULL;
	/* about four bytes a token, until the model's encoding counts them */
	c->prompt_tokens = buf_used(&c->body) / 4;
	c->prompt_exact = false;
	/* The body is read as JSON only where something needs what it says */
	if (c->view->rt->route_needs_body && body_model(c, keep))
		goto out;
	c->route = route_match(cfg, &c->req, c->model, buf_used(&c->body), c->prompt_tokens, NULL, 0);
	if (c->route < 0) {
		snprintf(msg, sizeof(msg), "no route for %.*s %.*s", (int)c->req.method_len,
			 c->req.method_str, (int)(c->req.target_len > 128 ? 128 : c->req.target_len),
			 c->req.target);
		client_fail(c, 404, "invalid_request_error", "unknown_url", msg, true);
		goto out;
	}
	r = &cfg->routes[c->route];
	c->api = route_api(r, &c->req);
	if (!c->view->rt->route_needs_body && !r->refuse && route_needs_body(c->view->rt, r) &&
	    body_model(c, keep))
		goto out;
	if (r->refuse) {
		snprintf(msg, sizeof(msg), "%.*s is not served here",
			 (int)(c->req.target_len > 128 ? 128 : c->req.target_len), c->req.target);
		client_fail(c, 404, "invalid_request_error", "unknown_url", msg, true);
		goto out;
	}
	c->pool = r->pool;
	c->no_fallback = false;
	if (keep && inspect_body(c, &r, tree))
		goto out;
	jsonreq_delete(tree);
	tree = NULL;
	/* the answer's usage: for the budgets' reconciliation and the token counters */
	if (c->view->rt->read_usage && usage_tap_init(&c->tap)) {
		client_fail(c, 500, "api_error", NULL, "out of memory", false);
		return;
	}
	if (c->view->rt->accounting && (permit(c, r) || admit(c, r)))
		return;
	c->pool_step = 0;
	c->tried = 0;
	c->attempts = 0;
	c->tokens = c->prompt_tokens;
	c->state = C_UPSTREAM;
	c->start_ns = w->loop.now_ns;
	timer_disarm(&w->loop, &c->timer);
	client_events(c);
	upstream_start(c);
	return;
out:
	jsonreq_delete(tree);
}

/* Moves body bytes from the input to the body buffer. 1 when complete, 0 more, <0 refuse. */
static int take_body(struct client *c)
{
	const struct cfg_http *hc = http_cfg(c);

	if (c->req.body == HTTP1_BODY_LENGTH) {
		uint64_t need = c->req.content_length - buf_used(&c->body);
		size_t n = buf_used(&c->in) < need ? buf_used(&c->in) : need;

		if (n && buf_append(&c->body, buf_head(&c->in), n, hc->max_body_bytes))
			return -413;
		buf_consume(&c->in, n);
		return buf_used(&c->body) == c->req.content_length;
	}
	while (buf_used(&c->in)) {
		const char *data;
		size_t used, dlen;
		int ret = chunked_decode(&c->chunks, buf_head(&c->in), buf_used(&c->in), &used,
					 &data, &dlen);

		if (ret < 0)
			return ret;
		if (ret == CHUNKED_DATA && buf_append(&c->body, data, dlen, hc->max_body_bytes))
			return -413;
		buf_consume(&c->in, used);
		if (ret == CHUNKED_DONE)
			return 1;
		if (ret == CHUNKED_MORE && !used)
			break;
	}
	return 0;
}

static void arm_body_timer(struct client *c)
{
	const struct cfg_http *hc = http_cfg(c);

	c->body_start_ns = c->w->loop.now_ns;
	c->body_deadline_ns = c->body_start_ns + hc->body_timeout_ns;
	/* Checked each second for the minimum rate, and at the deadline */
	timer_arm(&c->w->loop, &c->timer,
		  c->w->loop.now_ns + 1000000000ULL < c->body_deadline_ns ?
		  c->w->loop.now_ns + 1000000000ULL : c->body_deadline_ns);
}

/* A complete head is at the front of the input: keep it apart, decide the body. */
/*
 * One X-Forwarded-For entry, s[0, n), as an address: "198.51.100.7",
 * "2001:db8::7", with a port "198.51.100.7:443" or "[2001:db8::7]:443",
 * or bracketed without one. Anything else ("unknown", an obfuscated
 * name, a port past 65535) is not one.
 */
static bool forwarded_addr(const char *s, size_t n, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (void *)ss;
	struct sockaddr_in6 *in6 = (void *)ss;
	const char *end = s + n, *port = NULL, *colon;
	char host[INET6_ADDRSTRLEN];
	unsigned long p = 0;

	memset(ss, 0, sizeof(*ss));
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || (close + 1 < end && close[1] != ':'))
			return false;
		if (close + 1 < end)
			port = close + 2;
		n = close - s - 1;
		s++;
	} else if ((colon = memchr(s, ':', n)) && !memchr(colon + 1, ':', end - colon - 1)) {
		port = colon + 1;	/* one colon: v4 and its port */
		n = colon - s;
	}
	if (port) {
		if (port == end || end - port > 5)
			return false;
		for (const char *d = port; d < end; d++) {
			if (*d < '0' || *d > '9')
				return false;
			p = p * 10 + (*d - '0');
		}
		if (p > 65535)
			return false;
	}
	if (n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(p);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
	} else {
		return false;
	}
	return true;
}

/*
 * The request's origin. It starts as the connection's peer; while that
 * hop is a trusted proxy and the listener believes X-Forwarded-For, it
 * steps left along the header (its lines joined in order), and the first
 * address that is not a trusted proxy is the client. The chain from the
 * client on, with the connection's peer after it, is what goes on to the
 * backend: the entries left of the client are the client's own say and
 * are dropped. A trusted hop's entry that is no address is a 400. 0, or -1
 * when the request was answered.
 */
static int client_origin(struct client *c)
{
	const struct cfg_listener *l = listener_of(c);
	struct sockaddr_storage at = c->conn_peer, hop;
	char *chain = NULL, *p, msg[160];
	size_t len = 0, used = 0;
	const char *from;

	if (!l->forwarded_for)
		return 0;	/* the peer stays the connection's */
	free(c->forwarded);
	c->forwarded = NULL;
	set_peer(c, &c->conn_peer);
	c->proxied = c->conn_proxied;
	if (!trusted(l, &at))
		return 0;
	for (unsigned int i = 0; i < c->req.nhdr; i++)
		if (http1_iequal(c->req.hdr[i].name, c->req.hdr[i].name_len, "x-forwarded-for", 15))
			len += c->req.hdr[i].value_len + 2;
	if (!len)
		return 0;
	if (!(chain = malloc(len + INET6_ADDRSTRLEN + 2))) {
		client_fail(c, 500, "api_error", NULL, "out of memory", false);
		return -1;
	}
	for (unsigned int i = 0; i < c->req.nhdr; i++) {
		const struct http1_header *h = &c->req.hdr[i];

		if (!http1_iequal(h->name, h->name_len, "x-forwarded-for", 15) || !h->value_len)
			continue;
		if (used) {
			memcpy(chain + used, ", ", 2);
			used += 2;
		}
		memcpy(chain + used, h->value, h->value_len);
		used += h->value_len;
	}
	chain[used] = '\0';
	if (!used) {
		free(chain);
		return 0;
	}
	/* right to left: each entry is what the hop after it saw */
	from = chain + used;
	for (p = chain + used; p > chain && trusted(l, &at);) {
		char *comma = p, *a, *b;

		while (comma > chain && comma[-1] != ',')
			comma--;
		for (a = comma; a < p && (*a == ' ' || *a == '\t'); a++)
			;
		for (b = p; b > a && (b[-1] == ' ' || b[-1] == '\t'); b--)
			;
		if (!forwarded_addr(a, b - a, &hop)) {
			snprintf(msg, sizeof(msg), "x-forwarded-for: \"%.*s\" is not an address",
				 (int)(b - a > 64 ? 64 : b - a), a);
			free(chain);
			client_fail(c, 400, "invalid_request_error", NULL, msg, false);
			return -1;
		}
		at = hop;
		from = a;
		p = comma > chain ? comma - 1 : chain;
	}
	set_peer(c, &at);
	c->proxied = true;
	/* the chain from the client on, and the hop that connected */
	memmove(chain, from, chain + used - from);
	used = chain + used - from;
	memcpy(chain + used, ", ", 2);
	used += 2;
	if (c->conn_peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&c->conn_peer;

		inet_ntop(AF_INET6, &in6->sin6_addr, chain + used, INET6_ADDRSTRLEN);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&c->conn_peer)->sin_addr,
			  chain + used, INET6_ADDRSTRLEN);
	}
	c->forwarded = chain;
	return 0;
}

/*
 * A client behind a trusted proxy that this daemon has blocked: its packets
 * come from the proxy, so the verdict at the NIC never meets them; it is
 * refused here instead. -1 when answered.
 */
static int client_blocked(struct client *c)
{
	uint64_t left;
	char msg[160];

	if (!c->proxied || !(left = escalate_blocked(&c->peer, c->w->loop.now_ns)))
		return 0;
	snprintf(msg, sizeof(msg), "the client address is blocked for %llus after repeated abuse",
		 (unsigned long long)((left + 999999999) / 1000000000ULL));
	M_INC(c->w->st.forbidden);
	client_fail(c, 403, "invalid_request_error", "source_blocked", msg, false);
	return -1;
}

/*
 * Fail closed: while the audit writer fails (a full disk, a read-only
 * file system), a request that could not be recorded is not served.
 * -1 when answered.
 */
static int client_audit_down(struct client *c)
{
	const struct cfg_audit *ac = c->w->view->rt->cfg->audit;

	if (!gw_audit || !ac || ac->on_error != AUDIT_REFUSE || !audit_error(gw_audit))
		return 0;
	c->audit_down = true;
	client_fail(c, 503, "api_error", "audit_unavailable",
		    "the audit trail cannot be written; the request was not forwarded", false);
	return -1;
}

static void head_complete(struct client *c, size_t len)
{
	const struct cfg_http *hc = http_cfg(c);

	c->head_len = len;
	/*
	 * RFC 9112 3.2.2: a server accepts the absolute form; routes and the
	 * backend see only its path and query.
	 */
	if (c->req.flags & HTTP1_F_ABSOLUTE_FORM) {
		const char *auth = memmem(c->req.target, c->req.target_len, "://", 3);
		const char *end = c->req.target + c->req.target_len, *path;

		auth = auth ? auth + 3 : c->req.target;
		path = memchr(auth, '/', end - auth);
		if (!path)
			path = memchr(auth, '?', end - auth);
		if (path && *path == '/') {
			c->req.target_len = end - path;
			c->req.target = path;
		} else {
			/* "http://host" or "http://host?q": the path is "/" */
			c->req.target = "/";
			c->req.target_len = 1;
		}
	}
	c->keep_alive = c->req.flags & HTTP1_F_KEEP_ALIVE;
	c->is_head = c->req.method == HTTP1_HEAD;
	c->api = route_api(NULL, &c->req);
	new_request_id(c);
	M_INC(c->w->st.requests);
	c->in_request = true;
	c->head_ns = c->w->loop.now_ns;
	c->first_byte_ns = 0;
	c->upstream_ns = 0;
	c->sse = false;
	c->local_error = false;
	c->upstream_cut = false;
	c->audit_down = c->unrecorded = false;
	c->status = 0;
	c->route = c->pool = c->backend = -1;
	c->key = NULL;
	c->key_hdr = NULL;
	c->tenant = -1;
	c->max_tokens = 0;
	c->stream_req = c->usage_unasked = c->usage_injected = false;
	c->prompt_tokens = c->allowed = 0;
	c->prompt_exact = false;
	c->retry_after = 0;
	c->rl_head[0] = '\0';
	memset(&c->used, 0, sizeof(c->used));
	if (client_origin(c) || client_blocked(c) || client_audit_down(c))
		return;
	/*
	 * RFC 9110 9.1: methods are case-sensitive ("get" is not GET), and one
	 * the server does not implement is a 501; CONNECT would ask a backend
	 * for a tunnel we cannot relay. The body is not read: close after.
	 */
	if (c->req.method == HTTP1_OTHER || c->req.method == HTTP1_CONNECT) {
		char msg[96];

		snprintf(msg, sizeof(msg), "method %.*s is not implemented",
			 (int)(c->req.method_len > 32 ? 32 : c->req.method_len), c->req.method_str);
		client_fail(c, 501, "invalid_request_error", NULL, msg, false);
		return;
	}
	if (c->req.flags & HTTP1_F_UPGRADE) {
		client_fail(c, 501, "invalid_request_error", NULL, "protocol upgrades are not supported",
			    false);
		return;
	}
	if (c->req.flags & HTTP1_F_EXPECT_OTHER) {
		client_fail(c, 417, "invalid_request_error", NULL, "unsupported expectation", false);
		return;
	}
	if (c->req.body == HTTP1_BODY_NONE) {
		dispatch(c);
		return;
	}
	if (c->req.body == HTTP1_BODY_CHUNKED) {
		struct chunked_limits lim = {
			.max_body_bytes = hc->max_body_bytes,
			.max_ext = CHUNKED_DEF_MAX_EXT,
			.max_trailer_bytes = CHUNKED_DEF_MAX_TRAILER_BYTES,
			.max_trailers = CHUNKED_DEF_MAX_TRAILERS,
		};

		chunked_dec_init(&c->chunks, &lim);
	}
	c->state = C_BODY;
	arm_body_timer(c);
	if ((c->req.flags & HTTP1_F_EXPECT_CONTINUE) && !buf_used(&c->in) && !c->sent_continue) {
		buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25, max_out());
		c->sent_continue = true;
	}
}

/* Moves a parsed message's pointers from one copy of its head to another. */
static void msg_rebase(struct http1_msg *m, const char *from, const char *to)
{
#define REBASE(p) do { if (p) (p) = to + ((p) - from); } while (0)
	REBASE(m->method_str);
	REBASE(m->target);
	REBASE(m->reason);
	for (unsigned int i = 0; i < m->nhdr; i++) {
		REBASE(m->hdr[i].name);
		REBASE(m->hdr[i].value);
	}
#undef REBASE
}

/*
 * The head is parsed in place, then copied, its pointers moved with it:
 * body bytes read later may move the input buffer, and the headers must
 * stay valid for the whole request.
 */
static int parse_head(struct client *c)
{
	const struct cfg_http *hc = http_cfg(c);
	struct http1_limits lim = {
		.max_header_bytes = hc->max_header_bytes,
		.max_headers = hc->max_headers < GW_MAX_HEADERS ? hc->max_headers : GW_MAX_HEADERS,
		.max_request_line = hc->max_request_line,
		.max_body_bytes = hc->max_body_bytes,
	};
	int ret = http1_parse_request(&c->req, buf_head(&c->in), buf_used(&c->in), &lim);

	if (ret <= 0)
		return ret;
	buf_reset(&c->head);
	if (buf_append(&c->head, buf_head(&c->in), ret, ret))
		return -500;
	msg_rebase(&c->req, buf_head(&c->in), buf_head(&c->head));
	buf_consume(&c->in, ret);
	return ret;
}

/* Handles what the input holds, in the current state. */
static void client_step(struct client *c)
{
	int ret;

	for (;;) {
		switch (c->state) {
		case C_HEAD:
			if (!buf_used(&c->in))
				goto out;
			ret = parse_head(c);
			if (ret == 0)
				goto out;
			if (ret < 0) {
				/* in the shape of the API asked, when the request line was read */
				if (c->req.target)
					c->api = route_api(NULL, &c->req);
				client_refuse(c, ret, c->req.error);
				return;
			}
			head_complete(c, ret);
			if (c->state != C_BODY)
				return;
			continue;
		case C_BODY:
			ret = take_body(c);
			if (ret < 0) {
				client_refuse(c, ret, c->req.body == HTTP1_BODY_CHUNKED ?
						      c->chunks.error : "body too large");
				return;
			}
			if (!ret)
				goto out;
			dispatch(c);
			return;
		case C_LOCAL:
			if (buf_used(&c->out) || c->audit_seq)
				goto out;
			if (c->close_after || !c->keep_alive || c->w->drain) {
				client_close(c);
				return;
			}
			/* Ready for the next request, which may be buffered already */
			c->state = C_HEAD;
			c->sent_continue = false;
			c->up = NULL;
			http1_msg_reset(&c->req);
			if (buf_used(&c->in)) {
				buf_reset(&c->head);
				buf_reset(&c->body);
			} else {
				/* Idle: an idle keep-alive connection holds no buffers */
				buf_free(&c->in);
				buf_free(&c->out);
				buf_free(&c->head);
				buf_free(&c->body);
				buf_free(&c->prompt_head);
			}
			timer_arm(&c->w->loop, &c->timer,
				  c->w->loop.now_ns + (buf_used(&c->in) ? http_cfg(c)->header_timeout_ns
									: http_cfg(c)->idle_timeout_ns));
			continue;
		default:
			goto out;
		}
	}
out:
	if (c->state != C_CLOSED)
		client_events(c);
}

static void client_read(struct client *c)
{
	const struct cfg_http *hc = http_cfg(c);
	/* Room for the longest head, or the body with a chunk's overhead */
	size_t max = hc->max_header_bytes + hc->max_body_bytes + 64 * 1024;
	bool was_idle = c->state == C_HEAD && !buf_used(&c->in);

	for (int i = 0; i < 16; i++) {
		ssize_t n;

		if (buf_reserve(&c->in, GW_READ_CHUNK, max)) {
			/* Input past every bound: the parsers would refuse it; say so */
			client_refuse(c, c->state == C_HEAD ? -431 : -413, "request too large");
			return;
		}
		n = stream_read(&c->st, buf_tail(&c->in), buf_room(&c->in));
		if (n == -EAGAIN)
			break;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->in.len += n;
		if ((size_t)n < GW_READ_CHUNK)
			break;
	}
	if (was_idle && buf_used(&c->in))
		timer_arm(&c->w->loop, &c->timer, c->w->loop.now_ns + hc->header_timeout_ns);
	client_step(c);
}

static void client_handshake(struct client *c)
{
	int ret = stream_handshake(&c->st);

	if (ret == -EAGAIN) {
		client_events(c);
		return;
	}
	if (ret) {
		M_INC(c->w->st.tls_failed);
		client_strike(c, c->w->view->rt->cfg, EV_TLS_FAILED, 1);
		if (c->m_listener)
			M_INC(c->m_listener[ML_TLS_FAILED]);
		if (gw_verbose)
			gw_log(2, "worker=%d client=%s tls=failed reason=\"%s\"", c->w->id, c->peer_text,
			       tls_last_error());
		client_close(c);
		return;
	}
	c->state = C_HEAD;
	client_read(c);
}

/* The connection's first step in its state: its PROXY header, its TLS handshake or its first request. */
static void client_proxy(struct client *c);

static void client_start(struct client *c)
{
	if (c->state == C_PROXY)
		client_proxy(c);
	else if (c->state == C_HANDSHAKE)
		client_handshake(c);
	else
		client_read(c);
}

/*
 * The PROXY header a trusted load balancer begins the connection with.
 * Peeked at and then read to its last byte and no further: what follows
 * is the client's own, a TLS ClientHello included. A header that has not
 * all come yet is read into c->in (every byte of it is header: a complete
 * one would have been found) and looked at again with the next bytes.
 */
static void client_proxy(struct client *c)
{
	char buf[PP_MAX_HEADER];
	size_t have = buf_used(&c->in);
	struct pp_info info;
	const char *why = "closed before its PROXY header ended";
	ssize_t n;
	int ret = -ECONNRESET;

	if (have)
		memcpy(buf, buf_head(&c->in), have);
	n = recv(c->st.fd, buf + have, sizeof(buf) - have, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		client_events(c);
		return;
	}
	if (n <= 0 && !have) {
		client_close(c);	/* a health check's connect and close: nothing was said */
		return;
	}
	if (n > 0)
		ret = pp_parse(buf, have + n, &info, &why);
	if (!ret && have + n < sizeof(buf)) {
		if (buf_append(&c->in, buf + have, n, PP_MAX_HEADER) ||
		    recv(c->st.fd, buf + have, n, 0) != n) {
			client_close(c);
			return;
		}
		client_events(c);
		return;
	}
	if (ret <= 0 || recv(c->st.fd, buf + have, ret - have, 0) != (ssize_t)(ret - have)) {
		if (c->m_listener)
			M_INC(c->m_listener[ML_PROXY_FAILED]);
		gw_log(1, "worker=%d client=%s proxy_protocol=refused reason=\"%s\"", c->w->id,
		       c->peer_text, why);
		client_close(c);
		return;
	}
	buf_reset(&c->in);
	if (!info.local) {
		set_peer(c, &info.src);
		c->conn_peer = c->peer;
		c->conn_proxied = c->proxied = true;
	}
	c->state = c->st.ssl ? C_HANDSHAKE : C_HEAD;
	client_start(c);
}

static void client_io(struct loop *l, struct io *io, uint32_t events)
{
	struct client *c = (struct client *)io;

	(void)l;
	if (events & EPOLLERR) {
		client_close(c);
		return;
	}
	/* Gone while its request is upstream: abort it now, the model stops working on it */
	if ((events & (EPOLLRDHUP | EPOLLHUP)) &&
	    (c->state == C_UPSTREAM || c->state == C_STREAM || c->state == C_QUEUED)) {
		M_INC(c->w->st.aborted);
		client_close(c);
		return;
	}
	if (events & EPOLLOUT) {
		if (client_flush(c)) {
			client_close(c);
			return;
		}
		if (c->state == C_LOCAL) {
			client_step(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		if (c->state == C_PROXY)
			client_proxy(c);
		else if (c->state == C_HANDSHAKE)
			client_handshake(c);
		else if (c->state == C_HEAD || c->state == C_BODY)
			client_read(c);
		else if (c->st.want_read && client_flush(c))
			client_close(c);
		else if (events & EPOLLHUP)
			client_close(c);
	}
	if (c->state != C_CLOSED)
		client_events(c);
}

static void client_timer(struct loop *l, struct timer *t)
{
	struct client *c = (struct client *)((char *)t - offsetof(struct client, timer));
	const struct cfg_http *hc = http_cfg(c);

	switch (c->state) {
	case C_BODY: {
		uint64_t secs = (l->now_ns - c->body_start_ns) / 1000000000ULL;

		if (l->now_ns >= c->body_deadline_ns) {
			M_INC(c->m_listener[ML_SLOW]);
			client_fail(c, 408, "invalid_request_error", NULL, "request body timed out", false);
			return;
		}
		/* Slow bodies hold memory and a slot: a minimum rate after the first second */
		if (hc->body_min_rate && secs >= 1 &&
		    buf_used(&c->body) + buf_used(&c->in) < hc->body_min_rate * secs) {
			M_INC(c->m_listener[ML_SLOW]);
			client_fail(c, 408, "invalid_request_error", NULL, "request body too slow", false);
			return;
		}
		timer_arm(l, t, l->now_ns + 1000000000ULL < c->body_deadline_ns ?
			  l->now_ns + 1000000000ULL : c->body_deadline_ns);
		return;
	}
	case C_HEAD:
		if (buf_used(&c->in)) {
			M_INC(c->m_listener[ML_SLOW]);
			client_fail(c, 408, "invalid_request_error", NULL, "request head timed out", false);
			return;
		}
		client_close(c);	/* an idle keep-alive connection */
		return;
	default:
		if (c->state == C_HANDSHAKE || c->state == C_PROXY)
			M_INC(c->m_listener[ML_SLOW]);
		client_close(c);
	}
}

void client_accept(struct worker *w, int fd, int listener, const struct sockaddr_storage *ss)
{
	struct runtime *rt = w->view->rt;
	struct client *c = calloc(1, sizeof(*c));
	const struct cfg_listener *l = &rt->cfg->listeners[listener];
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	/* Heads and small SSE events go out as written, not after the peer's delayed ACK */
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->w = w;
	c->st.fd = fd;
	c->listener = listener;
	set_peer(c, ss);
	c->conn_peer = c->peer;		/* as set_peer() spells it: v4-mapped as v4 */
	c->m_listener = metrics_row(&w->m, MK_LISTENER, rt->slot[MK_LISTENER][listener]);
	if (l->max_conns_per_source && !trusted(l, ss)) {
		int err = conncount_take(ss, l->max_conns_per_source, &c->conn_slot);

		if (err == -EMFILE) {
			if (c->m_listener)
				M_INC(c->m_listener[ML_SOURCE_FULL]);
			if (gw_verbose)
				gw_log(2, "worker=%d client=%s refused: %u connections open from it",
				       w->id, c->peer_text, l->max_conns_per_source);
			close(fd);
			free(c);
			return;
		}
		c->conn_counted = !err;
	}
	http1_msg_init(&c->req, c->hdr, GW_MAX_HEADERS);
	timer_init(&c->timer, client_timer);
	c->queued_pool = -1;
	c->retry_pool = -1;
	c->api = API_OPENAI;
	/*
	 * SNI and ticket callbacks reach the listener's TLS contexts through
	 * this runtime: a reload must not free them under a live connection.
	 */
	runtime_get(rt);
	c->conn_rt = rt;
	if (rt->tls[listener]) {
		c->st.ssl = tls_server_ssl(rt->tls[listener], fd);
		if (!c->st.ssl) {
			close(fd);
			goto fail;
		}
		c->state = C_HANDSHAKE;
	} else {
		c->state = C_HEAD;
	}
	/* A trusted proxy says whom the connection is from before anything else */
	if (l->proxy_protocol && trusted(l, ss))
		c->state = C_PROXY;
	if (io_add(&w->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, client_io)) {
		stream_close(&c->st);
		goto fail;
	}
	if (c->m_listener) {
		M_INC(c->m_listener[ML_ACCEPTED]);
		M_INC(c->m_listener[ML_ACTIVE]);
	}
	c->next = w->clients;
	if (w->clients)
		w->clients->prev = c;
	w->clients = c;
	w->nclients++;
	M_INC(w->st.accepted);
	timer_arm(&w->loop, &c->timer, w->loop.now_ns + rt->cfg->http.header_timeout_ns);
	client_start(c);
	return;
fail:
	if (c->conn_counted)
		conncount_put(c->conn_slot);
	runtime_put(rt);
	free(c);
}

/* --- called by upstream.c --- */

/*
 * The backend failed after the response head went out. A stream ends
 * well: its released events, then an error event in the API's shape and
 * the body's end, the connection closed after. Anything else is cut, so
 * the client sees it.
 */
static void filtered_out(struct client *c, struct buf *tmp);

static void response_failed(struct client *c, const char *why)
{
	struct buf tmp = { 0 };

	c->upstream_cut = true;
	if (!c->filter || restore_fail(c->filter, why, &tmp, max_out())) {
		buf_free(&tmp);
		client_close(c);
		return;
	}
	filtered_out(c, &tmp);
	buf_free(&tmp);
	if (c->state == C_CLOSED)
		return;
	gw_log(2, "worker=%d client=%s id=%s stream ended with an error event: %s", c->w->id,
	       c->peer_text, c->request_id, why);
	c->close_after = true;
	client_response_done(c, true);
}

void client_upstream_failed(struct client *c, unsigned int cause, const char *why)
{
	unsigned int status = cause & (RETRY_TIMEOUT) ? 504 : cause & RETRY_503 ? 503 : 502;
	char msg[200];

	c->up = NULL;
	if (c->response_started) {
		snprintf(msg, sizeof(msg), "upstream failed mid-answer: %s", why);
		response_failed(c, msg);
		return;
	}
	snprintf(msg, sizeof(msg), "upstream failed: %s", why);
	client_fail(c, status, "api_error", status == 503 ? "service_unavailable" : "bad_gateway",
		    msg, true);
}

/* Response head from upstream: ours to forward, framed for this client. */
void client_response_head(struct client *c, struct upconn *u)
{
	const struct http1_msg *m = &u->resp;
	size_t max = max_out();
	bool chunked_out = false, no_store = c->inspected;
	struct buf *out = &c->out;
	const struct http1_header *ct = http1_find(m, "content-type", NULL);

	c->sse = ct && ct->value_len >= 17 && !strncasecmp(ct->value, "text/event-stream", 17);
	c->last_data_ns = 0;
	u->filter = filter_start(c, m, ct);
	/* a whole answer to judge: its head waits for the verdict */
	if (u->filter && c->filter->whole)
		out = &c->filter->head;

	c->state = C_STREAM;
	c->response_started = true;
	c->status = m->status;
	c->first_byte_ns = c->w->loop.now_ns;
	if (c->w->drain)
		c->close_after = true;
	buf_printf(out, max, "HTTP/1.1 %u %.*s\r\n", m->status, (int)m->reason_len, m->reason);
	for (unsigned int i = 0; i < m->nhdr; i++) {
		const struct http1_header *h = &m->hdr[i];

		if (http1_is_hop_by_hop(m, h->name, h->name_len) ||
		    http1_iequal(h->name, h->name_len, "content-length", 14) ||
		    http1_iequal(h->name, h->name_len, "x-request-id", 12) ||
		    (no_store && http1_iequal(h->name, h->name_len, "cache-control", 13)))
			continue;
		buf_header(out, max, h->name, h->name_len, h->value, h->value_len);
	}
	/* answers to inspected prompts are as private as the prompts */
	if (no_store)
		buf_printf(out, max, "cache-control: no-store\r\n");
	switch (u->filter ? HTTP1_BODY_CLOSE : m->body) {
	case HTTP1_BODY_LENGTH:
		buf_printf(out, max, "content-length: %llu\r\n",
			   (unsigned long long)m->content_length);
		break;
	case HTTP1_BODY_CHUNKED:
		chunked_out = true;
		break;
	case HTTP1_BODY_CLOSE:
		/* Re-framed for an HTTP/1.1 client; an HTTP/1.0 one reads to our close */
		if (c->req.minor >= 1) {
			chunked_out = true;
			u->rechunk = !u->filter;
		} else {
			c->close_after = true;
		}
		break;
	default:
		if (m->status >= 200 && m->status != 204 && m->status != 304 && !c->is_head)
			buf_printf(out, max, "content-length: 0\r\n");
		else if (c->is_head && (m->flags & HTTP1_F_HAS_CL))
			buf_printf(out, max, "content-length: %llu\r\n",
				   (unsigned long long)m->content_length);
		break;
	}
	if (chunked_out && !c->is_head)
		buf_printf(out, max, "transfer-encoding: chunked\r\n");
	if (c->rl_head[0])
		buf_printf(out, max, "%s", c->rl_head);
	buf_printf(out, max, "x-request-id: %s\r\nconnection: %s\r\n\r\n", c->request_id,
		   c->close_after || !c->keep_alive ? "close" : "keep-alive");
	if (c->hold || out != &c->out)
		return;
	if (client_flush(c))
		client_close(c);
	else
		client_events(c);
}

/* A streamed answer's inter-event gap: one sample per upstream read (they share a loop time). */
static void stream_gap(struct client *c)
{
	uint64_t now = c->w->loop.now_ns;

	if (!c->sse || now == c->last_data_ns)
		return;
	if (c->last_data_ns)
		metrics_observe(&c->w->m.gap, now - c->last_data_ns);
	c->last_data_ns = now;
}

void client_response_data(struct client *c, const char *data, size_t len)
{
	stream_gap(c);
	usage_tap_add(&c->tap, data, len);
	if (buf_append(&c->out, data, len, max_out())) {
		client_close(c);
		return;
	}
	if (c->hold)
		return;
	if (client_flush(c)) {
		client_close(c);
		return;
	}
	client_events(c);
}

/* The filtered body, as chunks (or as it is to an HTTP/1.0 client, which reads to our close). */
static void filtered_out(struct client *c, struct buf *tmp)
{
	char hdr[CHUNKED_SIZE_MAX];
	size_t n = buf_used(tmp), max = max_out();
	int err = 0;

	if (!n)
		return;
	if (c->req.minor >= 1) {
		err |= buf_append(&c->out, hdr, chunked_put_size(hdr, n), max);
		err |= buf_append(&c->out, buf_head(tmp), n, max);
		err |= buf_append(&c->out, CHUNKED_CRLF, 2, max);
	} else {
		err |= buf_append(&c->out, buf_head(tmp), n, max);
	}
	buf_reset(tmp);
	if (err)
		client_close(c);
}

void client_response_body(struct client *c, const char *data, size_t len)
{
	struct buf tmp = { 0 };
	int err;

	stream_gap(c);
	usage_tap_add(&c->tap, data, len);
	if ((err = restore_feed(c->filter, data, len, &tmp, max_out()))) {
		/* fail closed: an answer too large to judge does not reach the client */
		if (err == -EMSGSIZE)
			gw_log(1, "worker=%d client=%s id=%s error=\"the answer passes "
				  "inspect.max_text_bytes (%zu): connection closed\"", c->w->id,
			       c->peer_text, c->request_id, c->view->rt->cfg->inspect.max_text_bytes);
		c->insp.decision = DEC_ERROR;
		buf_free(&tmp);
		client_close(c);
		return;
	}
	filtered_out(c, &tmp);
	buf_free(&tmp);
	if (c->state == C_CLOSED || c->hold)
		return;
	if (client_flush(c)) {
		client_close(c);
		return;
	}
	client_events(c);
}

/*
 * One upstream read may bring a head and body bytes, or an SSE event in two
 * pieces of framing: they leave in one write (one TLS record) here.
 */
bool client_release(struct client *c)
{
	c->hold = false;
	if (client_flush(c)) {
		client_close(c);
		return false;
	}
	/* A response finished under the hold moves on only once it is out */
	if (c->state == C_LOCAL)
		client_step(c);
	else
		client_events(c);
	return c->state != C_CLOSED;
}

/* The response went out whole (clean) or the upstream broke it off (not clean). */
void client_response_done(struct client *c, bool clean)
{
	c->up = NULL;
	if (!clean) {
		response_failed(c, "upstream failed mid-answer: the answer ended before its end");
		return;
	}
	M_INC(c->w->st.responses);
	if (c->filter) {
		struct buf tmp = { 0 };
		int ret = restore_finish(c->filter, &tmp, max_out());

		if (ret == 1) {
			/* the answer was blocked before its head went out: the rule's error */
			const struct cfg_rule *rule =
				&c->view->rt->cfg->inspect.rules[c->insp.block_rule];

			buf_free(&tmp);
			c->response_started = false;
			client_fail(c, rule->status, "invalid_request_error",
				    "content_policy_violation", rule->message, true);
			return;
		}
		if (ret || (c->filter->whole &&
			    buf_append(&c->out, buf_head(&c->filter->head),
				       buf_used(&c->filter->head), max_out()))) {
			buf_free(&tmp);
			client_close(c);
			return;
		}
		filtered_out(c, &tmp);
		buf_free(&tmp);
		if (c->state == C_CLOSED)
			return;
		if (c->req.minor >= 1 &&
		    buf_append(&c->out, CHUNKED_LAST, sizeof(CHUNKED_LAST) - 1, max_out())) {
			client_close(c);
			return;
		}
		if (c->req.minor < 1)
			c->close_after = true;
	}
	if (gw_verbose)
		gw_log(3, "worker=%d client=%s id=%s status=%u us=%llu", c->w->id, c->peer_text,
		       c->request_id, c->status,
		       (unsigned long long)((c->w->loop.now_ns - c->start_ns) / 1000));
	c->state = C_LOCAL;
	c->response_started = false;
	request_end(c);
	client_step(c);
}

/* The audit writer committed (or failed): the responses that waited for their records go on. */
void client_audit_ready(struct worker *w)
{
	struct client *c, *next;

	for (c = w->clients; c; c = next) {
		next = c->next;
		if (!c->audit_seq || held(c))
			continue;
		if (client_flush(c)) {
			client_close(c);
			continue;
		}
		if (c->state == C_LOCAL)
			client_step(c);
		else
			client_events(c);
	}
}

/* Gives back the retry slot the request holds, if any. */
void retry_leave(struct client *c)
{
	if (c->retry_pool < 0)
		return;
	if (c->view)
		c->view->retrying[c->retry_pool]--;
	c->retry_pool = -1;
}

/* Gives back the queue place the request holds, if any. */
void queue_leave(struct client *c)
{
	if (c->queued_pool < 0)
		return;
	if (c->view)
		c->view->queued[c->queued_pool]--;
	if (c->queued_row)
		M_ADD(c->queued_row[MP_QUEUED], (uint64_t)-1);
	c->queued_row = NULL;
	c->queued_pool = -1;
	c->retry_pool = -1;
}

/* Queued requests get another pick, or their 503 once their wait is over. */
void client_retry_queued(struct worker *w)
{
	struct waiter *list = w->waiting, *next;

	w->waiting = w->waiting_tail = NULL;
	for (struct waiter *q = list; q; q = next) {
		struct client *c = q->c;

		next = q->next;
		free(q);
		if (c->state != C_QUEUED)
			continue;
		if (w->loop.now_ns >= c->queued_until_ns) {
			M_INC(c->w->st.shed);
			if (c->queued_row)
				M_INC(c->queued_row[MP_SHED]);
			client_fail(c, 503, "api_error", "overloaded",
				    "all backends are busy; retry later", true);
			continue;
		}
		/* Still C_QUEUED: a pick gives its queue place back, a full pool keeps it */
		upstream_start(c);
	}
}
