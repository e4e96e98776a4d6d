// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Active health checks, in a thread of their own: each backend of a pool
 * with checks on gets METHOD PATH every interval; a 2xx within the timeout
 * is a pass. rise passes in a row bring a backend up, fall failures take
 * it down. The same thread lets passively ejected backends back once their
 * backoff is over, and rotates TLS ticket keys.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "gw/gw.h"

#define TICK_MS		100
#define MAX_CHECKS	1024

enum hc_state { HC_IDLE, HC_CONNECTING, HC_HANDSHAKE, HC_SENDING, HC_READING };

struct hc {
	int pool, backend;
	enum hc_state state;
	struct stream st;
	uint64_t next_ns, deadline_ns;
	unsigned int passes, fails;
	char req[512];
	size_t req_len, sent;
	char resp[128];
	size_t got;
};

struct health {
	pthread_t thread;
	_Atomic(struct runtime *) pending;
	_Atomic bool stop;
	struct runtime *rt;
	struct hc *checks;
	size_t nchecks;
};

static struct health H;

static void hc_reset(struct hc *h)
{
	stream_close(&h->st);
	h->st = (struct stream){ .fd = -1 };
	h->state = HC_IDLE;
	h->sent = h->got = 0;
}

static void hc_verdict(struct runtime *rt, struct hc *h, bool pass, const char *why)
{
	const struct cfg_pool *pc = &rt->cfg->pools[h->pool];
	struct backend_health *bh = &rt->health[h->pool][h->backend];
	bool was = atomic_load(&bh->active_up);

	hc_reset(h);
	h->next_ns = loop_clock_ns() + pc->health.interval_ns;
	if (pass) {
		h->fails = 0;
		if (!was && ++h->passes >= pc->health.rise) {
			atomic_store(&bh->active_up, 1);
			if (loop_clock_ns() >= atomic_load(&bh->eject_until_ns))
				pool__set_up(rt->pools[h->pool], h->backend, true);
			gw_log(1, "pool=%s backend=%s health=up", pc->name, pc->backends[h->backend].url);
		}
		return;
	}
	h->passes = 0;
	if (was && ++h->fails >= pc->health.fall) {
		atomic_store(&bh->active_up, 0);
		pool__set_up(rt->pools[h->pool], h->backend, false);
		gw_log(1, "pool=%s backend=%s health=down reason=\"%s\"", pc->name,
		       pc->backends[h->backend].url, why);
	}
}

static void hc_begin(struct runtime *rt, struct hc *h)
{
	const struct cfg_pool *pc = &rt->cfg->pools[h->pool];
	const struct cfg_backend *b = &pc->backends[h->backend];
	int fd, one = 1;

	h->req_len = snprintf(h->req, sizeof(h->req),
			      "%s %s HTTP/1.1\r\nhost: %s\r\nuser-agent: sluiced-health\r\n"
			      "connection: close\r\n\r\n", pc->health.method, pc->health.path, b->authority);
	fd = socket(b->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		hc_verdict(rt, h, false, strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	h->st = (struct stream){ .fd = fd };
	h->deadline_ns = loop_clock_ns() + pc->health.timeout_ns;
	h->state = HC_CONNECTING;
	if (connect(fd, (const struct sockaddr *)&b->addr.ss, b->addr.len) == -1 &&
	    errno != EINPROGRESS)
		hc_verdict(rt, h, false, strerror(errno));
}

/* Advances one check as far as it goes without blocking. */
static void hc_step(struct runtime *rt, struct hc *h)
{
	const struct cfg_backend *b = &rt->cfg->pools[h->pool].backends[h->backend];
	int err = 0, ret;
	socklen_t len = sizeof(err);
	ssize_t n;

	switch (h->state) {
	case HC_CONNECTING:
		if (getsockopt(h->st.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
			hc_verdict(rt, h, false, strerror(err ? err : errno));
			return;
		}
		if (b->tls) {
			h->st.ssl = tls_client_ssl(rt->up_ctx[h->pool][h->backend], h->st.fd, b->host);
			if (!h->st.ssl) {
				hc_verdict(rt, h, false, "TLS setup failed");
				return;
			}
			h->state = HC_HANDSHAKE;
		} else {
			h->state = HC_SENDING;
		}
		hc_step(rt, h);
		return;
	case HC_HANDSHAKE:
		ret = stream_handshake(&h->st);
		if (ret == -EAGAIN)
			return;
		if (ret) {
			hc_verdict(rt, h, false, tls_last_error());
			return;
		}
		h->state = HC_SENDING;
		/* fallthrough */
	case HC_SENDING:
		while (h->sent < h->req_len) {
			n = stream_write(&h->st, h->req + h->sent, h->req_len - h->sent);
			if (n == -EAGAIN)
				return;
			if (n < 0) {
				hc_verdict(rt, h, false, strerror((int)-n));
				return;
			}
			h->sent += n;
		}
		h->state = HC_READING;
		/* fallthrough */
	case HC_READING:
		n = stream_read(&h->st, h->resp + h->got, sizeof(h->resp) - 1 - h->got);
		if (n == -EAGAIN)
			return;
		if (n > 0)
			h->got += n;
		h->resp[h->got] = '\0';
		/* The status line is all we judge by */
		if (h->got >= 12 || n <= 0) {
			unsigned int status = 0;
			char why[64];

			sscanf(h->resp, "HTTP/1.%*d %u", &status);
			snprintf(why, sizeof(why), status ? "status %u" : "no valid answer", status);
			hc_verdict(rt, h, status >= 200 && status < 300, why);
		}
		return;
	default:
		return;
	}
}

static void adopt(struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;
	size_t n = 0;

	for (size_t i = 0; i < H.nchecks; i++)
		hc_reset(&H.checks[i]);
	free(H.checks);
	H.checks = NULL;
	H.nchecks = 0;
	if (H.rt)
		runtime_put(H.rt);
	H.rt = rt;
	for (size_t p = 0; p < cfg->npools; p++)
		if (cfg->pools[p].health.enabled)
			n += cfg->pools[p].nbackends;
	if (n > MAX_CHECKS)
		n = MAX_CHECKS;
	H.checks = calloc(n ? n : 1, sizeof(*H.checks));
	if (!H.checks)
		return;
	for (size_t p = 0; p < cfg->npools; p++) {
		if (!cfg->pools[p].health.enabled)
			continue;
		for (size_t b = 0; b < cfg->pools[p].nbackends && H.nchecks < n; b++) {
			struct hc *h = &H.checks[H.nchecks++];

			h->pool = p;
			h->backend = b;
			h->st.fd = -1;
			/* A backend starts up; checks confirm or take it down */
			h->passes = cfg->pools[p].health.rise;
			h->next_ns = loop_clock_ns() + (b * 37 % 100) * 1000000ULL;
		}
	}
}

/* Ejected backends whose backoff is over come back if the checks agree. */
static void readmit(struct runtime *rt, uint64_t now)
{
	const struct gw_config *cfg = rt->cfg;

	for (size_t p = 0; p < cfg->npools; p++)
		for (size_t b = 0; b < cfg->pools[p].nbackends; b++) {
			struct backend_health *bh = &rt->health[p][b];
			uint64_t until = atomic_load_explicit(&bh->eject_until_ns, memory_order_relaxed);

			if (!until || now < until || !atomic_load(&bh->active_up))
				continue;
			atomic_store(&bh->eject_until_ns, 0);
			if (!pool__set_up(rt->pools[p], b, true))
				gw_log(1, "pool=%s backend=%s ejection=over", cfg->pools[p].name,
				       cfg->pools[p].backends[b].url);
		}
}

static void *health_main(void *arg)
{
	struct pollfd pfd[MAX_CHECKS];
	struct hc *idx[MAX_CHECKS];

	(void)arg;
	while (!atomic_load(&H.stop)) {
		struct runtime *rt = atomic_exchange(&H.pending, NULL);
		uint64_t now = loop_clock_ns();
		int n = 0;

		if (rt)
			adopt(rt);
		rt = H.rt;
		for (size_t i = 0; i < H.nchecks; i++) {
			struct hc *h = &H.checks[i];

			if (h->state == HC_IDLE && now >= h->next_ns)
				hc_begin(rt, h);
			else if (h->state != HC_IDLE && now >= h->deadline_ns)
				hc_verdict(rt, h, false, "timed out");
			if (h->state == HC_IDLE)
				continue;
			pfd[n].fd = h->st.fd;
			pfd[n].events = h->state == HC_CONNECTING || h->state == HC_SENDING ||
					h->st.want_write ? POLLOUT : POLLIN;
			idx[n++] = h;
		}
		readmit(rt, now);
		for (size_t i = 0; i < rt->cfg->nlisteners; i++)
			tls_server_tick(rt->tls[i], now);
		if (poll(pfd, n, TICK_MS) > 0)
			for (int i = 0; i < n; i++)
				if (pfd[i].revents)
					hc_step(rt, idx[i]);
	}
	for (size_t i = 0; i < H.nchecks; i++)
		hc_reset(&H.checks[i]);
	free(H.checks);
	if (H.rt)
		runtime_put(H.rt);
	return NULL;
}

int health_start(struct runtime *rt)
{
	runtime_get(rt);
	atomic_store(&H.pending, rt);
	return -pthread_create(&H.thread, NULL, health_main, NULL);
}

void health_reload(struct runtime *rt)
{
	struct runtime *old;

	runtime_get(rt);
	old = atomic_exchange(&H.pending, rt);
	if (old)
		runtime_put(old);
}

void health_stop(void)
{
	struct runtime *left;

	atomic_store(&H.stop, true);
	pthread_join(H.thread, NULL);
	left = atomic_exchange(&H.pending, NULL);
	if (left)
		runtime_put(left);
}
