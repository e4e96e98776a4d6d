// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include "loop.h"

#define MAX_EVENTS	256

uint64_t loop_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void wake_read(struct loop *l, struct io *io, uint32_t events)
{
	uint64_t v;

	(void)events;
	while (read(io->fd, &v, sizeof(v)) == sizeof(v))
		;
	if (l->on_wake)
		l->on_wake(l);
}

int loop_init(struct loop *l, void (*on_wake)(struct loop *l), void *owner)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->on_wake = on_wake;
	l->owner = owner;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd == -1)
		return -errno;
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd == -1) {
		err = -errno;
		close(l->epfd);
		return err;
	}
	err = io_add(l, &l->wake_io, l->wakefd, EPOLLIN, wake_read);
	if (err) {
		close(l->wakefd);
		close(l->epfd);
		return err;
	}
	l->now_ns = loop_clock_ns();
	return 0;
}

static void run_deferred(struct loop *l)
{
	/* fn may defer more: the array can grow while it is walked */
	for (size_t i = 0; i < l->nlater; i++)
		l->later[i].fn(l->later[i].obj);
	l->nlater = 0;
}

void loop_defer(struct loop *l, void (*fn)(void *obj), void *obj)
{
	if (l->nlater == l->caplater) {
		size_t cap = l->caplater ? l->caplater * 2 : 64;
		struct deferred *d = realloc(l->later, cap * sizeof(*d));

		if (!d)
			abort();	/* cannot leave the object alive or free it early */
		l->later = d;
		l->caplater = cap;
	}
	l->later[l->nlater].fn = fn;
	l->later[l->nlater].obj = obj;
	l->nlater++;
}

void loop_fini(struct loop *l)
{
	run_deferred(l);
	close(l->wakefd);
	close(l->epfd);
	free(l->heap);
	free(l->later);
	l->heap = NULL;
	l->later = NULL;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

void loop_wake(struct loop *l)
{
	uint64_t one = 1;

	/* A full counter already means a wakeup is pending */
	if (write(l->wakefd, &one, sizeof(one)) == -1)
		return;
}

int io_add(struct loop *l, struct io *io, int fd, uint32_t events, io_fn fn)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->fn = fn;
	io->events = events;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -errno;
	io->registered = true;
	return 0;
}

int io_set(struct loop *l, struct io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (!io->registered)
		return -EINVAL;
	if (io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) == -1)
		return -errno;
	io->events = events;
	return 0;
}

void io_del(struct loop *l, struct io *io)
{
	if (!io->registered)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->registered = false;
}

/* Timer heap: slot is index + 1 so that 0 means "not armed". */
static void heap_set(struct loop *l, size_t i, struct timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void heap_up(struct loop *l, size_t i)
{
	struct timer *t = l->heap[i];

	while (i) {
		size_t p = (i - 1) / 2;

		if (l->heap[p]->when_ns <= t->when_ns)
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && l->heap[c + 1]->when_ns < l->heap[c]->when_ns)
			c++;
		if (t->when_ns <= l->heap[c]->when_ns)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void timer_init(struct timer *t, timer_fn fn)
{
	t->fn = fn;
	t->slot = 0;
	t->when_ns = 0;
}

void timer_disarm(struct loop *l, struct timer *t)
{
	size_t i;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	if (--l->nheap == i)
		return;
	heap_set(l, i, l->heap[l->nheap]);
	heap_up(l, i);
	heap_down(l, l->heap[i]->slot - 1);
}

void timer_arm(struct loop *l, struct timer *t, uint64_t when_ns)
{
	if (t->slot) {
		size_t i = t->slot - 1;

		t->when_ns = when_ns;
		heap_up(l, i);
		heap_down(l, t->slot - 1);
		return;
	}
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 1024;
		struct timer **h = realloc(l->heap, cap * sizeof(*h));

		/* Out of memory: the timer fires at once rather than never */
		if (!h) {
			t->when_ns = 0;
			t->fn(l, t);
			return;
		}
		l->heap = h;
		l->capheap = cap;
	}
	t->when_ns = when_ns;
	heap_set(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
}

static int next_timeout_ms(struct loop *l)
{
	uint64_t d;

	if (!l->nheap)
		return 1000;
	if (l->heap[0]->when_ns <= l->now_ns)
		return 0;
	d = (l->heap[0]->when_ns - l->now_ns + 999999) / 1000000;
	return d > 1000 ? 1000 : (int)d;
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0]->when_ns <= l->now_ns) {
		struct timer *t = l->heap[0];

		timer_disarm(l, t);
		t->fn(l, t);
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event ev[MAX_EVENTS];
	int n;

	while (!l->stop) {
		n = epoll_wait(l->epfd, ev, MAX_EVENTS, next_timeout_ms(l));
		if (n == -1 && errno != EINTR)
			return -errno;
		l->now_ns = loop_clock_ns();
		for (int i = 0; i < n; i++) {
			struct io *io = ev[i].data.ptr;

			/* Deleted by an earlier callback of this batch: freed only later */
			if (io->registered)
				io->fn(l, io, ev[i].events);
		}
		l->now_ns = loop_clock_ns();
		run_timers(l);
		run_deferred(l);
	}
	return 0;
}
