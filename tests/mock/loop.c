// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Workers: one epoll loop per thread, with its own listeners (SO_REUSEPORT
 * spreads connections over them), a binary min-heap of connection timers
 * behind one timerfd, and an eventfd that main() writes to stop it.
 *
 * A connection has at most one timer (its state says what it is for), so
 * the heap holds connections and each knows its index: setting, moving and
 * clearing are O(log n), and thousands of streams ticking at 5 ms cost one
 * timerfd_settime() per change of the earliest deadline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include "mock.h"

#define MAX_EVENTS	256
#define ACCEPT_BURST	64	/* per wakeup, so one busy listener cannot starve the rest */

static void heap_swap(struct worker *w, size_t i, size_t j)
{
	struct conn *t = w->heap[i];

	w->heap[i] = w->heap[j];
	w->heap[j] = t;
	w->heap[i]->heap_idx = i;
	w->heap[j]->heap_idx = j;
}

static void heap_up(struct worker *w, size_t i)
{
	while (i && w->heap[(i - 1) / 2]->timer_at > w->heap[i]->timer_at) {
		heap_swap(w, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct worker *w, size_t i)
{
	size_t l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < w->nheap && w->heap[l]->timer_at < w->heap[m]->timer_at)
			m = l;
		if (l + 1 < w->nheap && w->heap[l + 1]->timer_at < w->heap[m]->timer_at)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(w, i, m);
		i = m;
	}
}

void timer_set(struct conn *c, uint64_t at)
{
	struct worker *w = c->w;

	c->timer_at = at;
	if (c->heap_idx >= 0) {
		heap_up(w, c->heap_idx);
		heap_down(w, c->heap_idx);
		return;
	}
	if (w->nheap == w->heapcap) {
		w->heapcap = w->heapcap ? 2 * w->heapcap : 64;
		w->heap = xrealloc(w->heap, w->heapcap * sizeof(*w->heap));
	}
	c->heap_idx = w->nheap;
	w->heap[w->nheap++] = c;
	heap_up(w, c->heap_idx);
}

void timer_clear(struct conn *c)
{
	struct worker *w = c->w;
	size_t i = c->heap_idx;

	if (c->heap_idx < 0)
		return;
	c->heap_idx = -1;
	c->timer_at = 0;
	if (i == --w->nheap)
		return;
	w->heap[i] = w->heap[w->nheap];
	w->heap[i]->heap_idx = i;
	heap_up(w, i);
	heap_down(w, w->heap[i]->heap_idx);
}

/* Points the timerfd at the earliest deadline (absolute CLOCK_MONOTONIC). */
static void timer_arm(struct worker *w)
{
	uint64_t at = w->nheap ? w->heap[0]->timer_at : 0;
	struct itimerspec its = {};

	if (at == w->armed)
		return;
	w->armed = at;
	its.it_value.tv_sec = at / NSEC_PER_SEC;
	its.it_value.tv_nsec = at % NSEC_PER_SEC;
	if (timerfd_settime(w->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		fprintf(stderr, "mockllm: timerfd_settime: %s\n", strerror(errno));
}

static void timers_run(struct worker *w)
{
	uint64_t now = mono_ns(), at;
	struct conn *c;

	while (w->nheap && w->heap[0]->timer_at <= now) {
		c = w->heap[0];
		at = c->timer_at;
		timer_clear(c);
		conn_timer(c, at);
	}
	timer_arm(w);
}

const struct fault *worker_fault(struct worker *w)
{
	uint64_t gen = __atomic_load_n(&srv.fault_gen, __ATOMIC_ACQUIRE);

	if (gen != w->fault_gen) {
		pthread_mutex_lock(&srv.lock);
		w->fault = srv.fault;
		w->fault_gen = srv.fault_gen;
		pthread_mutex_unlock(&srv.lock);
	}
	return &w->fault;
}

static void worker_accept(struct worker *w, int lfd)
{
	static __thread uint64_t last_warn;
	int one = 1, fd, i;

	for (i = 0; i < ACCEPT_BURST; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && mono_ns() - last_warn > NSEC_PER_SEC) {
				last_warn = mono_ns();
				fprintf(stderr, "mockllm: w%d: accept: %s\n", w->id, strerror(errno));
			}
			return;
		}
		/* SSE events and small answers must leave now, not after Nagle's 40 ms */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conn_new(w, fd);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	struct ep_item *it;
	uint64_t x;
	int n, i;

	while (!w->stop) {
		n = epoll_wait(w->epfd, ev, MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "mockllm: w%d: epoll_wait: %s\n", w->id, strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			it = ev[i].data.ptr;
			switch (it->kind) {
			case EP_CONN:
				conn_event((struct conn *)it, ev[i].events);
				break;
			case EP_LISTEN:
				worker_accept(w, it->fd);
				break;
			case EP_TIMER:
				if (read(it->fd, &x, sizeof(x)) > 0)
					w->armed = 0;	/* fired: one-shot, so disarmed */
				break;
			case EP_WAKE:
				w->stop = true;
				break;
			}
		}
		timers_run(w);
	}
	while (w->conns)
		conn_close_quiet(w->conns);
	return NULL;
}

static int ep_add(struct worker *w, struct ep_item *it, enum ep_kind kind, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = it };

	it->kind = kind;
	it->fd = fd;
	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1 ? -errno : 0;
}

/* Takes the listening sockets lfds (closed by worker_fini()). Returns 0 or -errno. */
int worker_init(struct worker *w, int id, const int *lfds, int nlfds)
{
	int err, i, fd;

	w->id = id;
	w->timer.fd = w->wake.fd = w->epfd = -1;
	for (i = 0; i < nlfds; i++)
		w->lis[i].fd = lfds[i];
	w->nlis = nlfds;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd == -1)
		return -errno;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd == -1)
		return -errno;
	err = ep_add(w, &w->timer, EP_TIMER, fd);
	if (err) {
		close(fd);
		return err;
	}
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd == -1)
		return -errno;
	err = ep_add(w, &w->wake, EP_WAKE, fd);
	if (err) {
		close(fd);
		return err;
	}
	for (i = 0; i < nlfds; i++) {
		err = ep_add(w, &w->lis[i], EP_LISTEN, lfds[i]);
		if (err)
			return err;
	}
	return 0;
}

int worker_start(struct worker *w)
{
	return -pthread_create(&w->tid, NULL, worker_main, w);
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake.fd, &one, sizeof(one)) == -1)
		fprintf(stderr, "mockllm: w%d: wake: %s\n", w->id, strerror(errno));
}

/* Undoes worker_init() (and worker_start(), joined first when tid is set). */
void worker_fini(struct worker *w)
{
	int i;

	if (w->tid)
		pthread_join(w->tid, NULL);
	for (i = 0; i < w->nlis; i++)
		if (w->lis[i].fd >= 0)
			close(w->lis[i].fd);
	if (w->timer.fd >= 0)
		close(w->timer.fd);
	if (w->wake.fd >= 0)
		close(w->wake.fd);
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->heap);
	buf_free(&w->body);
}
