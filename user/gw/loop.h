/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One epoll loop per worker thread (Redis ae in spirit): file events,
 * timers on a min-heap, and a wakeup for other threads. Nothing here
 * locks: a loop is only touched by its own thread, except loop_wake().
 */
#ifndef SLUICE_GW_LOOP_H
#define SLUICE_GW_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct io;
struct timer;

typedef void (*io_fn)(struct loop *l, struct io *io, uint32_t events);
typedef void (*timer_fn)(struct loop *l, struct timer *t);

/* A registered file descriptor; embed it in the object that owns the fd. */
struct io {
	int fd;
	uint32_t events;	/* EPOLL* currently asked for */
	io_fn fn;
	bool registered;
};

/* A one-shot timer; embed it, arm it, it fires once unless disarmed. */
struct timer {
	uint64_t when_ns;	/* CLOCK_MONOTONIC */
	timer_fn fn;
	size_t slot;		/* heap index + 1; 0: not armed */
};

struct loop {
	int epfd;
	int wakefd;		/* eventfd */
	struct io wake_io;
	void (*on_wake)(struct loop *l);
	struct timer **heap;
	size_t nheap, capheap;
	uint64_t now_ns;	/* cached at each iteration */
	bool stop;
	void *owner;		/* the worker */
	struct deferred *later;	/* frees run after the current batch of events */
	size_t nlater, caplater;
};

struct deferred {
	void (*fn)(void *obj);
	void *obj;
};

int loop_init(struct loop *l, void (*on_wake)(struct loop *l), void *owner);
void loop_fini(struct loop *l);

/* Runs until loop_stop(); returns 0 or -errno on an epoll failure. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* From any thread: makes the loop call on_wake soon. */
void loop_wake(struct loop *l);

int io_add(struct loop *l, struct io *io, int fd, uint32_t events, io_fn fn);
int io_set(struct loop *l, struct io *io, uint32_t events);	/* no-op if unchanged */
void io_del(struct loop *l, struct io *io);			/* does not close fd */

void timer_init(struct timer *t, timer_fn fn);
void timer_arm(struct loop *l, struct timer *t, uint64_t when_ns);
void timer_disarm(struct loop *l, struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return t->slot != 0;
}

/*
 * Runs fn(obj) once the current batch of events is handled. An object
 * whose io is still pending in the batch must outlive it: close its fd
 * and io_del() it at once, free it through here.
 */
void loop_defer(struct loop *l, void (*fn)(void *obj), void *obj);

uint64_t loop_clock_ns(void);

#endif
