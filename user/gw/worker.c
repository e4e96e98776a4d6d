// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Workers: one thread per core, each with its own epoll loop, its own
 * SO_REUSEPORT listening sockets (the kernel spreads connections), its own
 * upstream connections, and its own view of the current runtime.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "gw/audit.h"
#include "gw/gw.h"

#define ACCEPT_BATCH	64

uint64_t worker_rand(struct worker *w)
{
	/* splitmix64: ids and picks, not secrets */
	uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Frees a view's per-pool arrays (any may be NULL) and the view. */
static void view_destroy(struct view *v, size_t npools)
{
	if (v->idle)
		for (size_t p = 0; p < npools; p++)
			free(v->idle[p]);
	free(v->idle);
	free(v->cursors);
	free(v->queued);
	free(v->retry_credit);
	free(v->retrying);
	detect_scan_fini(&v->scan);
	free(v);
}

struct view *view_new(struct worker *w, struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;
	struct view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->rt = rt;
	v->cursors = calloc(cfg->npools, sizeof(*v->cursors));
	v->idle = calloc(cfg->npools, sizeof(*v->idle));
	v->queued = calloc(cfg->npools, sizeof(*v->queued));
	v->retry_credit = calloc(cfg->npools, sizeof(*v->retry_credit));
	v->retrying = calloc(cfg->npools, sizeof(*v->retrying));
	if (!v->cursors || !v->idle || !v->queued || !v->retry_credit || !v->retrying)
		goto fail;
	for (size_t p = 0; p < cfg->npools; p++) {
		v->idle[p] = calloc(cfg->pools[p].nbackends, sizeof(**v->idle));
		if (!v->idle[p])
			goto fail;
		lb_cursor__init(&v->cursors[p], rt->pools[p], w->id);
		v->retry_credit[p] = 1.0;
	}
	if (rt->inspect && detect_scan_init(&v->scan, &rt->detect))
		goto fail;
	runtime_get(rt);
	return v;
fail:
	view_destroy(v, cfg->npools);
	return NULL;
}

static void view_free(struct worker *w, struct view *v)
{
	struct runtime *rt = v->rt;

	(void)w;
	upstream_close_idle(v);
	view_destroy(v, rt->cfg->npools);
	runtime_put(rt);
}

/* An old view goes once no request uses it. */
void view_release(struct worker *w, struct view *v)
{
	if (v == w->view || v->users)
		return;
	for (struct view **p = &w->old; *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			view_free(w, v);
			return;
		}
}

/* The audit writer committed a batch: responses waiting for their records go. */
static void on_audit(struct loop *l, struct io *io, uint32_t events)
{
	struct worker *w = (struct worker *)((char *)io - offsetof(struct worker, audit_io));
	uint64_t n;

	(void)l, (void)events;
	if (read(io->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		gw_log(0, "worker=%d audit eventfd: %s", w->id, strerror(errno));
	client_audit_ready(w);
}

static void on_accept(struct loop *l, struct io *io, uint32_t events)
{
	struct listener *lis = (struct listener *)io;
	struct worker *w = lis->w;

	(void)l, (void)events;
	for (int i = 0; i < ACCEPT_BATCH && !w->drain; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(io->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				gw_log(1, "worker=%d accept: %s", w->id, strerror(errno));
			return;
		}
		client_accept(w, fd, lis->index, &ss);
	}
}

/* A new runtime from the main thread: new requests use it from now on. */
static void adopt_pending(struct worker *w)
{
	struct runtime *rt = atomic_exchange(&w->pending, NULL);
	struct view *v, *old;

	if (!rt)
		return;
	v = view_new(w, rt);
	runtime_put(rt);	/* the main thread's hand-over reference */
	if (!v) {
		gw_log(0, "worker=%d reload: out of memory, keeping the old config", w->id);
		return;
	}
	old = w->view;
	w->view = v;
	old->next = w->old;
	w->old = old;
	/* Its idle connections are of no further use: new requests go to the new view */
	upstream_close_idle(old);
	view_release(w, old);
}

static void drain_check(struct worker *w)
{
	struct client *c, *next;

	for (c = w->clients; c; c = next) {
		next = c->next;
		/* Between requests: nothing to finish */
		if ((c->state == C_HEAD && !buf_used(&c->in)) || c->state == C_HANDSHAKE ||
		    c->state == C_PROXY)
			client_close(c);
	}
	if (!w->nclients || w->loop.now_ns >= w->drain_deadline_ns)
		loop_stop(&w->loop);
}

static void on_wake(struct loop *l)
{
	struct worker *w = l->owner;

	adopt_pending(w);
	if (w->drain) {
		for (size_t i = 0; i < w->nlis; i++)
			if (w->lis[i].io.registered) {
				io_del(l, &w->lis[i].io);
				close(w->lis[i].io.fd);
			}
		drain_check(w);
		/* Looked at again every 100ms until the last client is done */
		if (!timer_armed(&w->queue_timer))
			timer_arm(l, &w->queue_timer, l->now_ns + 100000000ULL);
	}
}

static void queue_tick(struct loop *l, struct timer *t)
{
	struct worker *w = l->owner;

	(void)t;
	client_retry_queued(w);
	if (w->waiting)
		timer_arm(l, &w->queue_timer, l->now_ns + 1000000ULL);
	if (w->drain) {
		drain_check(w);
		if (!timer_armed(&w->queue_timer))
			timer_arm(l, &w->queue_timer, l->now_ns + 100000000ULL);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct client *c;
	int err;

	err = loop_run(&w->loop);
	if (err)
		gw_log(0, "worker=%d epoll: %s", w->id, strerror(-err));
	while ((c = w->clients))
		client_close(c);
	return NULL;
}

int worker_init(struct worker *w, int id, struct runtime *rt, const int *fds, size_t nfds)
{
	int err;

	memset(w, 0, sizeof(*w));
	w->id = id;
	if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng))
		w->rng = (uint64_t)id * 0x9e3779b97f4a7c15ULL ^ loop_clock_ns();
	err = loop_init(&w->loop, on_wake, w);
	if (err)
		return err;
	timer_init(&w->queue_timer, queue_tick);
	w->view = view_new(w, rt);
	w->lis = calloc(nfds, sizeof(*w->lis));
	if (!w->view || !w->lis)
		return -ENOMEM;
	w->nlis = nfds;
	if (gw_audit) {
		int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

		if (efd < 0)
			return -errno;
		err = io_add(&w->loop, &w->audit_io, efd, EPOLLIN, on_audit);
		if (!err)
			err = audit_watch(gw_audit, efd);
		if (err)
			return err;
	}
	for (size_t i = 0; i < nfds; i++) {
		w->lis[i].index = i;
		w->lis[i].w = w;
		err = io_add(&w->loop, &w->lis[i].io, fds[i], EPOLLIN, on_accept);
		if (err)
			return err;
	}
	return 0;
}

int worker_start(struct worker *w)
{
	return -pthread_create(&w->thread, NULL, worker_main, w);
}

void worker_fini(struct worker *w)
{
	struct view *v;

	for (size_t i = 0; i < w->nlis; i++)
		if (w->lis[i].io.registered)
			close(w->lis[i].io.fd);
	free(w->lis);
	/* the writer is closed before the workers are freed: it signals no more */
	if (w->audit_io.registered)
		close(w->audit_io.fd);
	while ((v = w->old)) {
		w->old = v->next;
		view_free(w, v);
	}
	if (w->view)
		view_free(w, w->view);
	loop_fini(&w->loop);
	metrics_free(&w->m);
}
