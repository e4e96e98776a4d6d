// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The upstream side: pick a backend, take a kept-alive connection or open
 * one, send the request, read the response head, relay the body framed as
 * it came. Failures before any byte reached the client are retried on
 * another backend, then on the route's fallback pools, within the pool's
 * retry count and budget; a full pool queues the request for a while.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include "gw/gw.h"
#include "gw/restore.h"

#define UP_OUT_MAX	(1024 * 1024)	/* a request head never nears it */
#define UP_HEAD_MAX	(64 * 1024)
#define UP_COALESCE_MAX	(64 * 1024)	/* bodies up to this are copied after the head */
#define RETRY_CREDIT_MAX 10.0
#define RETRY_MIN_CONCURRENCY 3		/* retries in flight always allowed, per worker and pool */

static void up_io(struct loop *l, struct io *io, uint32_t events);

static const struct cfg_pool *pool_cfg(struct upconn *u)
{
	return &u->view->rt->cfg->pools[u->pool];
}

static const struct cfg_backend *backend_cfg(struct upconn *u)
{
	return &pool_cfg(u)->backends[u->backend];
}

static void up_free(void *obj)
{
	struct upconn *u = obj;

	buf_free(&u->in);
	buf_free(&u->out);
	free(u);
}

static void up_close(struct upconn *u)
{
	timer_disarm(&u->w->loop, &u->timer);
	io_del(&u->w->loop, &u->io);
	stream_close(&u->st);
	u->c = NULL;
	loop_defer(&u->w->loop, up_free, u);
}

static void up_events(struct upconn *u)
{
	uint32_t ev = 0;

	switch (u->state) {
	case U_CONNECTING:
		ev = EPOLLOUT;
		break;
	case U_HANDSHAKE:
		ev = u->st.want_write ? EPOLLOUT : EPOLLIN;
		break;
	case U_SENDING:
		ev = EPOLLOUT | EPOLLIN;	/* an early answer or close is read at once */
		break;
	case U_HEAD:
	case U_IDLE:
		ev = EPOLLIN | EPOLLRDHUP;
		break;
	case U_BODY:
		ev = u->paused ? 0 : EPOLLIN | EPOLLRDHUP;
		break;
	}
	if (u->st.want_write && u->state != U_CONNECTING)
		ev |= EPOLLOUT;
	io_set(&u->w->loop, &u->io, ev);
}

/* Passive health: consecutive failures eject a backend, for longer each time. */
void backend_result(struct runtime *rt, int pool, int backend, bool ok, uint64_t now_ns)
{
	const struct cfg_health *hc = &rt->cfg->pools[pool].health;
	struct backend_health *h = &rt->health[pool][backend];
	uint32_t f, e;
	uint64_t backoff;

	if (ok) {
		if (atomic_load_explicit(&h->fails, memory_order_relaxed))
			atomic_store_explicit(&h->fails, 0, memory_order_relaxed);
		return;
	}
	f = atomic_fetch_add_explicit(&h->fails, 1, memory_order_relaxed) + 1;
	if (f < hc->eject_after)
		return;
	atomic_store_explicit(&h->fails, 0, memory_order_relaxed);
	e = atomic_fetch_add_explicit(&h->ejections, 1, memory_order_relaxed);
	backoff = hc->eject_base_ns << (e < 16 ? e : 16);
	if (backoff > hc->eject_max_ns || !backoff)
		backoff = hc->eject_max_ns;
	atomic_store_explicit(&h->eject_until_ns, now_ns + backoff, memory_order_relaxed);
	if (pool__set_up(rt->pools[pool], backend, false))
		gw_log(1, "pool=%s backend=%s ejected for=%llums after=%u failures",
		       rt->cfg->pools[pool].name, rt->cfg->pools[pool].backends[backend].url,
		       (unsigned long long)(backoff / 1000000), f);
}

/* Gives the backend slot back and records how the attempt went. */
static void up_release(struct upconn *u, bool ok, bool judge)
{
	struct client *c = u->c;
	struct runtime *rt = u->view->rt;

	if (!c)
		return;
	c->upstream_ns += u->w->loop.now_ns - c->up_since_ns;
	pool__release(rt->pools[u->pool], u->backend, c->tokens);
	if (judge)
		backend_result(rt, u->pool, u->backend, ok, u->w->loop.now_ns);
	if (u->w->waiting)
		client_retry_queued(u->w);
}

static bool may_retry(struct client *c, struct upconn *u, unsigned int cause)
{
	const struct cfg_pool *pc = pool_cfg(u);
	double *credit = &c->view->retry_credit[u->pool];

	if (c->response_started || !(cause & pc->retry_on) || c->attempts > pc->retries)
		return false;
	/*
	 * The budget keeps retries from multiplying load on a failing pool; as
	 * in Envoy, a few retries in flight are always allowed, so a quiet pool
	 * (where a fraction of few requests is none) steps around a dead backend.
	 */
	if (*credit >= 1.0)
		*credit -= 1.0;
	else if (c->retry_pool != u->pool && c->view->retrying[u->pool] >= RETRY_MIN_CONCURRENCY)
		return false;
	if (c->retry_pool != u->pool) {
		retry_leave(c);
		c->retry_pool = u->pool;
		c->view->retrying[u->pool]++;
	}
	return true;
}

/* The attempt failed before a response reached the client. */
static void up_fail(struct upconn *u, unsigned int cause, const char *why)
{
	struct client *c = u->c;
	bool stale = u->reused && u->state <= U_HEAD && !buf_used(&u->in);

	/* A kept-alive connection the backend closed meanwhile is not the backend's fault */
	up_release(u, false, !stale);
	if (gw_verbose)
		gw_log(2, "pool=%s backend=%s failed=\"%s\"%s", pool_cfg(u)->name, backend_cfg(u)->url,
		       why, stale ? " (stale keep-alive)" : "");
	if (!c) {
		up_close(u);
		return;
	}
	c->up = NULL;
	if (stale && !c->response_started) {
		up_close(u);
		c->attempts--;	/* not an attempt: the request never reached a live connection */
		upstream_start(c);
		return;
	}
	if (may_retry(c, u, cause)) {
		c->tried |= 1ULL << u->backend;
		M_INC(c->w->st.retries);
		up_close(u);
		upstream_start(c);
		return;
	}
	up_close(u);
	client_upstream_failed(c, cause, why);
}

/* Takes an idle connection off its list (it closed or misbehaved). */
static void up_unpark(struct upconn *u)
{
	struct upconn **p = &u->view->idle[u->pool][u->backend];

	for (; *p; p = &(*p)->next_idle)
		if (*p == u) {
			*p = u->next_idle;
			break;
		}
}

static void up_timer(struct loop *l, struct timer *t)
{
	struct upconn *u = (struct upconn *)((char *)t - offsetof(struct upconn, timer));

	(void)l;
	switch (u->state) {
	case U_CONNECTING:
	case U_HANDSHAKE:
		up_fail(u, RETRY_CONNECT, "connect timed out");
		break;
	case U_IDLE:
		/* Off its list first: the next request to the backend would take it freed */
		up_unpark(u);
		up_close(u);
		break;
	default:
		up_fail(u, RETRY_TIMEOUT, "no response in time");
	}
}

/* The request head as the backend gets it: hop-by-hop and framing headers replaced. */
static int build_request(struct upconn *u, struct client *c)
{
	const struct cfg_backend *b = backend_cfg(u);
	const struct http1_msg *m = &c->req;
	size_t blen;
	int err = 0;

	buf_reset(&u->out);
	err |= buf_printf(&u->out, UP_OUT_MAX, "%.*s %.*s HTTP/1.1\r\nhost: %s\r\n",
			  (int)m->method_len, m->method_str, (int)m->target_len, m->target, b->authority);
	for (unsigned int i = 0; i < m->nhdr; i++) {
		const struct http1_header *h = &m->hdr[i];

		/* the client's sluice key stays here */
		if (h == c->key_hdr || http1_is_hop_by_hop(m, h->name, h->name_len) ||
		    http1_iequal(h->name, h->name_len, "host", 4) ||
		    http1_iequal(h->name, h->name_len, "content-length", 14) ||
		    http1_iequal(h->name, h->name_len, "expect", 6) ||
		    http1_iequal(h->name, h->name_len, "x-request-id", 12) ||
		    http1_iequal(h->name, h->name_len, "x-forwarded-for", 15) ||
		    http1_iequal(h->name, h->name_len, "x-forwarded-proto", 17))
			continue;
		err |= buf_header(&u->out, UP_OUT_MAX, h->name, h->name_len, h->value, h->value_len);
	}
	blen = c->upstream_body ? c->upstream_body_len : buf_used(&c->body);
	/* the chain a trusted proxy forwarded, or the client's address */
	err |= buf_printf(&u->out, UP_OUT_MAX, "x-request-id: %s\r\nx-forwarded-for: %.*s\r\n"
			  "x-forwarded-proto: %s\r\nconnection: keep-alive\r\n", c->request_id,
			  c->forwarded ? (int)strlen(c->forwarded) :
			  (int)(strrchr(c->peer_text, ':') - c->peer_text),
			  c->forwarded ? c->forwarded : c->peer_text, c->st.ssl ? "https" : "http");
	if (blen || m->body != HTTP1_BODY_NONE)
		err |= buf_printf(&u->out, UP_OUT_MAX, "content-length: %zu\r\n", blen);
	err |= buf_append(&u->out, "\r\n", 2, UP_OUT_MAX);
	u->body = c->upstream_body ? c->upstream_body : buf_head(&c->body);
	u->body_len = blen;
	u->body_off = 0;
	/* A small body goes out with its head, in one send (one TLS record) */
	if (blen && blen <= UP_COALESCE_MAX && !buf_append(&u->out, u->body, blen, UP_OUT_MAX))
		u->body_off = blen;
	return err ? -ENOMEM : 0;
}

/* The body with the model renamed for this backend, when its model_map says so. */
static void rewrite_model(struct client *c, const struct cfg_backend *b)
{
	const char *to = model_rewrite(b, c->model);
	cJSON *root;
	char *out;

	free(c->upstream_body);
	c->upstream_body = NULL;
	if (!to || !strcmp(to, c->model))
		return;
	root = cJSON_ParseWithLength(buf_head(&c->body), buf_used(&c->body));
	if (!root)
		return;
	cJSON_ReplaceItemInObjectCaseSensitive(root, "model", cJSON_CreateString(to));
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (out) {
		c->upstream_body = out;
		c->upstream_body_len = strlen(out);
	}
}

static struct upconn *up_connect(struct client *c, int pool, int backend)
{
	struct view *v = c->view;
	const struct cfg_backend *b = &v->rt->cfg->pools[pool].backends[backend];
	struct upconn *u;
	int fd, one = 1;

	u = v->idle[pool][backend];
	if (u) {
		v->idle[pool][backend] = u->next_idle;
		u->next_idle = NULL;
		timer_disarm(&c->w->loop, &u->timer);
		u->reused = true;
		u->state = U_SENDING;
		return u;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->w = c->w;
	u->view = v;
	u->pool = pool;
	u->backend = backend;
	timer_init(&u->timer, up_timer);
	http1_msg_init(&u->resp, u->hdr, GW_MAX_HEADERS);
	fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		free(u);
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	u->st.fd = fd;
	if (connect(fd, (const struct sockaddr *)&b->addr.ss, b->addr.len) == -1 &&
	    errno != EINPROGRESS) {
		/* Refused at once (e.g. a local port with no listener): let the caller retry */
		u->state = U_CONNECTING;
		if (io_add(&c->w->loop, &u->io, fd, EPOLLOUT, up_io)) {
			close(fd);
			free(u);
			return NULL;
		}
		return u;
	}
	u->state = U_CONNECTING;
	if (io_add(&c->w->loop, &u->io, fd, EPOLLOUT, up_io)) {
		close(fd);
		free(u);
		return NULL;
	}
	timer_arm(&c->w->loop, &u->timer, c->w->loop.now_ns + GW_CONNECT_TIMEOUT_NS);
	return u;
}

static void up_send(struct upconn *u);

/* The metrics row of the client's current pool; NULL when none can be had. */
static uint64_t *pool_row(struct client *c)
{
	const struct runtime *rt = c->view->rt;

	return metrics_row(&c->w->m, MK_POOL, rt->slot[MK_POOL][c->pool]);
}

static void enqueue(struct client *c)
{
	struct worker *w = c->w;
	struct waiter *q = malloc(sizeof(*q));
	const struct cfg_pool *pc = &c->view->rt->cfg->pools[c->pool];

	if (!q) {
		client_upstream_failed(c, RETRY_503, "out of memory");
		return;
	}
	if (c->queued_pool < 0) {
		c->queued_until_ns = w->loop.now_ns + pc->queue_timeout_ns;
		c->queued_pool = c->pool;
		c->view->queued[c->pool]++;
		if ((c->queued_row = pool_row(c)))
			M_INC(c->queued_row[MP_QUEUED]);
	}
	c->state = C_QUEUED;
	q->c = c;
	q->next = NULL;
	if (w->waiting_tail)
		w->waiting_tail->next = q;
	else
		w->waiting = q;
	w->waiting_tail = q;
	if (!timer_armed(&w->queue_timer))
		timer_arm(&w->loop, &w->queue_timer, w->loop.now_ns + 1000000ULL);
}

/* This worker's share of the pool's queue bound. */
static bool queue_has_room(struct client *c)
{
	const struct gw_config *cfg = c->view->rt->cfg;
	unsigned int share = cfg->pools[c->pool].queue_max / cfg->workers;

	if (!share && cfg->pools[c->pool].queue_max)
		share = 1;
	return c->queued_pool == c->pool || c->view->queued[c->pool] < share;
}

int upstream_start(struct client *c)
{
	const struct gw_config *cfg = c->view->rt->cfg;
	const struct cfg_route *r = &cfg->routes[c->route];
	struct lb_key key = {};
	enum pick_fail why;
	struct upconn *u;
	int idx;

	for (;;) {
		struct pool_rt *p = c->view->rt->pools[c->pool];
		const struct cfg_pool *pc = &cfg->pools[c->pool];

		if (pc->algorithm == LB_PREFIX) {
			key.data = buf_head(&c->prompt_head);
			key.len = buf_used(&c->prompt_head);
		} else if (pc->algorithm == LB_SESSION) {
			const struct http1_header *h = pc->session_header ?
				http1_find(&c->req, pc->session_header, NULL) : NULL;

			/* The session header, else the body's "user" */
			if (h) {
				key.data = h->value;
				key.len = h->value_len;
			} else if (c->user) {
				key.data = c->user;
				key.len = strlen(c->user);
			}
		}
		idx = pool__pick(p, &c->view->cursors[c->pool], &key, c->tokens, c->tried, &why);
		if (idx >= 0)
			break;
		if (why == PICK_ALL_FULL) {
			uint64_t *row;

			if (pc->queue_max && queue_has_room(c)) {
				enqueue(c);
				return 0;
			}
			row = pool_row(c);
			M_INC(c->w->st.shed);
			if (row)
				M_INC(row[MP_SHED]);
			client_upstream_failed(c, RETRY_503, "all backends are busy");
			return 0;
		}
		/* All down, or all tried: the next fallback pool, if any */
		if (c->no_fallback || (size_t)c->pool_step >= r->nfallback) {
			client_upstream_failed(c, RETRY_503, why == PICK_ALL_DOWN ?
					       "no healthy backend" : "every backend failed");
			return 0;
		}
		c->pool = r->fallback[c->pool_step++];
		c->tried = 0;
	}
	queue_leave(c);
	c->state = C_UPSTREAM;
	c->backend = idx;
	c->attempts++;
	if (c->attempts == 1)
		c->view->retry_credit[c->pool] =
			c->view->retry_credit[c->pool] + cfg->pools[c->pool].retry_budget > RETRY_CREDIT_MAX ?
			RETRY_CREDIT_MAX : c->view->retry_credit[c->pool] + cfg->pools[c->pool].retry_budget;
	rewrite_model(c, &cfg->pools[c->pool].backends[idx]);

	u = up_connect(c, c->pool, idx);
	if (!u) {
		pool__release(c->view->rt->pools[c->pool], idx, c->tokens);
		client_upstream_failed(c, RETRY_CONNECT, "cannot open a connection");
		return 0;
	}
	u->c = c;
	c->up = u;
	c->up_since_ns = c->w->loop.now_ns;
	if (build_request(u, c)) {
		up_fail(u, 0, "out of memory");
		return 0;
	}
	if (u->state == U_SENDING)
		up_send(u);
	return 0;
}

/* Sends the head, then the body; then waits for the response head. */
static void up_send(struct upconn *u)
{
	const struct cfg_http *hc = &u->view->rt->cfg->http;

	while (buf_used(&u->out) || u->body_off < u->body_len) {
		ssize_t n;

		if (buf_used(&u->out))
			n = stream_write(&u->st, buf_head(&u->out), buf_used(&u->out));
		else
			n = stream_write(&u->st, u->body + u->body_off, u->body_len - u->body_off);
		if (n == -EAGAIN) {
			up_events(u);
			return;
		}
		if (n < 0) {
			up_fail(u, RETRY_RESET, strerror((int)-n));
			return;
		}
		if (buf_used(&u->out))
			buf_consume(&u->out, n);
		else
			u->body_off += n;
	}
	u->state = U_HEAD;
	http1_msg_reset(&u->resp);
	timer_arm(&u->w->loop, &u->timer, u->w->loop.now_ns + hc->response_timeout_ns);
	up_events(u);
}

/* The connection may carry another request: back on its idle list. */
static void up_park(struct upconn *u)
{
	struct view *v = u->view;
	uint64_t idle = v->rt->cfg->http.idle_timeout_ns;

	u->state = U_IDLE;
	u->c = NULL;
	u->paused = u->rechunk = u->filter = false;
	buf_reset(&u->in);
	u->next_idle = v->idle[u->pool][u->backend];
	v->idle[u->pool][u->backend] = u;
	timer_arm(&u->w->loop, &u->timer, u->w->loop.now_ns + idle);
	up_events(u);
}

static void up_done(struct upconn *u, bool clean)
{
	struct client *c = u->c;
	bool reuse = clean && (u->resp.flags & HTTP1_F_KEEP_ALIVE) &&
		     u->resp.body != HTTP1_BODY_CLOSE && !buf_used(&u->in) &&
		     u->view == u->w->view && !u->w->drain;

	up_release(u, clean, true);
	timer_disarm(&u->w->loop, &u->timer);
	if (reuse) {
		up_park(u);
	} else {
		up_close(u);
	}
	if (c) {
		c->up = NULL;
		client_response_done(c, clean);
	}
}

/*
 * The gateway ended the answer (a stream past its reservation): the rest
 * is not read, no backend is to blame, and the client's response ends well.
 */
static void up_cut(struct upconn *u)
{
	struct client *c = u->c;

	upstream_abort(u);
	client_response_done(c, true);
}

void upstream_abort(struct upconn *u)
{
	/* The client is going away: give the slot back, blame no backend */
	up_release(u, true, false);
	if (u->c)
		u->c->up = NULL;
	up_close(u);
}

void upstream_resume(struct upconn *u)
{
	u->paused = false;
	up_events(u);
}

void upstream_close_idle(struct view *v)
{
	const struct gw_config *cfg = v->rt->cfg;

	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t b = 0; b < cfg->pools[p].nbackends; b++) {
			struct upconn *u = v->idle[p][b], *next;

			for (; u; u = next) {
				next = u->next_idle;
				up_close(u);
			}
			v->idle[p][b] = NULL;
		}
}

/*
 * Relays the body bytes in u->in to the client, as framed. Returns true
 * when the connection is finished with (done or failed).
 */
static bool up_relay(struct upconn *u)
{
	struct client *c = u->c;

	while (buf_used(&u->in) && u->c) {
		switch (u->resp.body) {
		case HTTP1_BODY_LENGTH: {
			size_t n = buf_used(&u->in) < u->remaining ? buf_used(&u->in) : u->remaining;

			if (u->filter)
				client_response_body(c, buf_head(&u->in), n);
			else
				client_response_data(c, buf_head(&u->in), n);
			buf_consume(&u->in, n);
			u->remaining -= n;
			if (!u->c)
				return true;	/* the client closed under us */
			if (!u->remaining) {
				up_done(u, true);
				return true;
			}
			break;
		}
		case HTTP1_BODY_CHUNKED: {
			const char *data;
			size_t used, dlen;
			int ret = chunked_decode(&u->chunks, buf_head(&u->in), buf_used(&u->in), &used,
						 &data, &dlen);

			if (ret < 0) {
				up_done(u, false);
				return true;
			}
			/* Passed through as it came: the decoder only finds the end */
			if (u->filter && ret == CHUNKED_DATA)
				client_response_body(c, data, dlen);
			else if (used && !u->filter)
				client_response_data(c, buf_head(&u->in), used);
			buf_consume(&u->in, used);
			if (!u->c)
				return true;
			if (ret == CHUNKED_DONE) {
				up_done(u, true);
				return true;
			}
			if (!used)
				return false;
			break;
		}
		case HTTP1_BODY_CLOSE: {
			size_t n = buf_used(&u->in);

			if (u->filter) {
				client_response_body(c, buf_head(&u->in), n);
			} else if (u->rechunk) {
				char hdr[CHUNKED_SIZE_MAX];
				size_t hl = chunked_put_size(hdr, n);

				client_response_data(c, hdr, hl);
				if (!u->c)
					return true;
				client_response_data(c, buf_head(&u->in), n);
				if (!u->c)
					return true;
				client_response_data(c, CHUNKED_CRLF, 2);
			} else {
				client_response_data(c, buf_head(&u->in), n);
			}
			buf_consume(&u->in, n);
			if (!u->c)
				return true;
			break;
		}
		default:
			/* Bytes after a bodiless response: the connection is not reusable */
			up_done(u, false);
			return true;
		}
		if (c->filter && c->filter->cut) {
			up_cut(u);
			return true;
		}
	}
	if (u->c && buf_used(&u->c->out) > GW_OUT_HIGH) {
		u->paused = true;
		up_events(u);
	}
	return false;
}

/* A complete response head is at the front of u->in. */
static bool up_head(struct upconn *u, size_t len)
{
	struct client *c = u->c;
	const struct cfg_pool *pc = pool_cfg(u);
	unsigned int s = u->resp.status;
	unsigned int cause = s == 502 ? RETRY_502 : s == 503 ? RETRY_503 : s == 504 ? RETRY_504 : 0;

	if (s >= 100 && s < 200) {
		/* Interim answers are not forwarded: we sent the body without waiting */
		buf_consume(&u->in, len);
		http1_msg_reset(&u->resp);
		return false;
	}
	if (cause && (cause & pc->retry_on) && may_retry(c, u, cause)) {
		char why[32];

		/* Given back before it counts as a failure, so may_retry's credit is spent once */
		snprintf(why, sizeof(why), "status %u", s);
		up_release(u, false, true);
		u->c = NULL;
		c->up = NULL;
		c->tried |= 1ULL << u->backend;
		M_INC(c->w->st.retries);
		up_close(u);
		upstream_start(c);
		return true;
	}
	timer_disarm(&u->w->loop, &u->timer);
	client_response_head(c, u);
	buf_consume(&u->in, len);
	if (!u->c)
		return true;
	u->state = U_BODY;
	switch (u->resp.body) {
	case HTTP1_BODY_LENGTH:
		u->remaining = u->resp.content_length;
		if (!u->remaining) {
			up_done(u, true);
			return true;
		}
		break;
	case HTTP1_BODY_CHUNKED: {
		struct chunked_limits lim = {
			.max_ext = CHUNKED_DEF_MAX_EXT,
			.max_trailer_bytes = CHUNKED_DEF_MAX_TRAILER_BYTES,
			.max_trailers = CHUNKED_DEF_MAX_TRAILERS,
		};

		chunked_dec_init(&u->chunks, &lim);
		break;
	}
	case HTTP1_BODY_CLOSE:
		break;
	default:
		up_done(u, true);
		return true;
	}
	return up_relay(u);
}

static void up_read(struct upconn *u)
{
	struct client *c;
	struct http1_limits lim = {
		.max_header_bytes = UP_HEAD_MAX,
		.max_headers = GW_MAX_HEADERS,
		.max_request_line = UP_HEAD_MAX,
	};

	for (int i = 0; i < 16 && u->c && !u->paused; i++) {
		ssize_t n;
		int ret;

		if (buf_reserve(&u->in, GW_READ_CHUNK, UP_HEAD_MAX + GW_OUT_HIGH)) {
			up_fail(u, RETRY_RESET, "response head too large");
			return;
		}
		n = stream_read(&u->st, buf_tail(&u->in), buf_room(&u->in));
		if (n == -EAGAIN)
			break;
		if (n < 0 || (n == 0 && u->state != U_BODY)) {
			up_fail(u, RETRY_RESET, n == 0 ? "closed before the response" : strerror((int)-n));
			return;
		}
		if (n == 0) {
			/* End of stream: the end of a close-delimited body, else a cut one */
			if (u->resp.body == HTTP1_BODY_CLOSE && u->rechunk && !u->filter)
				client_response_data(u->c, CHUNKED_LAST, sizeof(CHUNKED_LAST) - 1);
			up_done(u, u->resp.body == HTTP1_BODY_CLOSE);
			return;
		}
		u->in.len += n;
		/* What this read produces leaves in one write to the client */
		c = u->c;
		c->hold = true;
		if (u->state == U_HEAD) {
			for (;;) {
				ret = http1_parse_response(&u->resp, buf_head(&u->in), buf_used(&u->in),
							   &lim, u->c->is_head);
				if (ret == 0)
					break;
				if (ret < 0) {
					c->hold = false;
					up_fail(u, RETRY_RESET, u->resp.error ? u->resp.error : "bad response");
					return;
				}
				if (up_head(u, ret) || u->state != U_HEAD)
					break;
			}
		} else {
			up_relay(u);
		}
		/* c is still ours: client_close() is deferred, and only flags */
		if (c->state == C_CLOSED || !client_release(c) || u->c != c)
			return;
		if ((size_t)n < GW_READ_CHUNK)
			break;
	}
}

static void up_io(struct loop *l, struct io *io, uint32_t events)
{
	struct upconn *u = (struct upconn *)io;
	int err = 0;
	socklen_t len = sizeof(err);

	(void)l;
	switch (u->state) {
	case U_IDLE:
		/* Anything on an idle connection (close, junk) ends it */
		up_unpark(u);
		up_close(u);
		return;
	case U_CONNECTING:
		if (getsockopt(u->st.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err) {
			up_fail(u, RETRY_CONNECT, strerror(err));
			return;
		}
		if (backend_cfg(u)->tls) {
			SSL_CTX *ctx = u->view->rt->up_ctx[u->pool][u->backend];

			u->st.ssl = tls_client_ssl(ctx, u->st.fd, backend_cfg(u)->host);
			if (!u->st.ssl) {
				up_fail(u, RETRY_CONNECT, "TLS setup failed");
				return;
			}
			u->state = U_HANDSHAKE;
		} else {
			u->state = U_SENDING;
			up_send(u);
			return;
		}
		/* fallthrough */
	case U_HANDSHAKE:
		err = stream_handshake(&u->st);
		if (err == -EAGAIN) {
			up_events(u);
			return;
		}
		if (err) {
			up_fail(u, RETRY_CONNECT, tls_last_error());
			return;
		}
		u->state = U_SENDING;
		up_send(u);
		return;
	case U_SENDING:
		if (events & EPOLLOUT) {
			up_send(u);
			if (u->state == U_SENDING || !u->c)
				return;
		}
		if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			up_read(u);
		return;
	case U_HEAD:
	case U_BODY:
		if (u->st.want_write && (events & EPOLLOUT))
			u->st.want_write = false;
		up_read(u);
		return;
	}
}
