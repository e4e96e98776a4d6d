// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connections: reading, writing, and delivering responses through faults.
 *
 * Requests on a connection are answered strictly in order. An undelayed
 * whole response is written to c->out at once, and parsing goes on with
 * the next pipelined request. Anything slower (a delay, a stream, a drip,
 * a cut) owns the connection until it ends: c->rs says where it is, and
 * the connection's one timer slot drives it. While it runs, input is still
 * read (up to IN_PAUSE) so a client that leaves is seen at once: that is
 * the "aborted" count a proxy test reads to prove it cancelled upstream.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "mock.h"

#define OUT_HIGH	(1U << 20)	/* stop taking requests while this much is unsent */
#define IN_PAUSE	(1U << 20)	/* stop reading past this much unparsed input while busy */
#define IN_MIN_ROOM	4096
#define RESET_WAIT_NS	(500 * NSEC_PER_MSEC)	/* longest wait for the ack before a RST */

static bool busy(const struct conn *c)
{
	return c->rs != RS_NONE || c->out.len >= OUT_HIGH || c->want_close;
}

static bool dripping(const struct conn *c)
{
	return c->rs == RS_FLUSH && c->f.drip_ns;
}

/* The raw bytes one request may span: its head, and its body with chunk framing. */
static size_t in_max(void)
{
	return MOCK_MAX_HDR_BYTES + 2 * srv.conf.max_body + (1U << 20);
}

void conn_new(struct worker *w, int fd)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
	char host[INET6_ADDRSTRLEN], port[8];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	c->ep.kind = EP_CONN;
	c->ep.fd = fd;
	c->w = w;
	c->heap_idx = -1;
	c->events = ev.events;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		fprintf(stderr, "mockllm: epoll_ctl(add %d): %s\n", fd, strerror(errno));
		close(fd);
		free(c);
		return;
	}
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	STAT_INC(w, accepted);
	STAT_INC(w, open);
	if (srv.conf.verbose && !getpeername(fd, (struct sockaddr *)&ss, &sl) &&
	    !getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			 NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(c->peer, sizeof(c->peer), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			 host, port);
	if (srv.conf.idle_ns)
		timer_set(c, mono_ns() + srv.conf.idle_ns);
}

static void conn_log(struct conn *c, const char *outcome)
{
	char f[160];

	if (!srv.conf.verbose)
		return;
	fault_fmt(&c->f, f, sizeof(f));
	fprintf(stderr, "mockllm: w%d %s \"%s\" %d %s%s%s%s %.3fms\n", c->w->id, c->peer,
		c->logline, c->status, c->rp ? "stream " : "", outcome, *f ? " fault=" : "", f,
		(double)(mono_ns() - c->t0) / NSEC_PER_MSEC);
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;

	timer_clear(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->ep.fd);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->body);
	buf_free(&c->pend);
	reply_free(c->rp);
	free(c);
}

/*
 * Closes c. A response still in progress ends with outcome in the log;
 * left says the client went away first, which counts it as aborted.
 */
static void conn_end(struct conn *c, const char *outcome, bool left)
{
	struct worker *w = c->w;

	if (c->rs != RS_NONE) {
		STAT_DEC(w, in_flight);
		if (left) {
			STAT_INC(w, aborted);
			if (c->streaming)
				STAT_INC(w, streams_aborted);
		}
		conn_log(c, outcome);
	}
	STAT_INC(w, closed);
	STAT_DEC(w, open);
	conn_free(c);
}

/* At shutdown: not the client's doing, so nothing counts as aborted. */
void conn_close_quiet(struct conn *c)
{
	conn_end(c, "shutdown", false);
}

/* Common to every response: the counters, the log line, the fault in force. */
static void resp_begin(struct conn *c, struct req *r, int status)
{
	struct worker *w = c->w;

	r->status = status;
	c->status = status;
	c->f = r->fault;
	c->keep = r->keepalive && !c->peer_closed;
	if (ROUTE_COUNTED(r->route))
		STAT_INC(w, by_status[status]);
	if (srv.conf.verbose) {
		c->t0 = mono_ns();
		snprintf(c->logline, sizeof(c->logline), "%.*s %.*s", (int)r->mlen, r->method,
			 (int)(r->tlen > 160 ? 160 : r->tlen), r->target);
	}
}

static void resp_done(struct conn *c)
{
	STAT_DEC(c->w, in_flight);
	conn_log(c, "done");
	c->rs = RS_NONE;
	c->streaming = false;
	reply_free(c->rp);
	c->rp = NULL;
	if (!c->keep)
		c->want_close = true;
	if (c->pend.cap > 65536)
		buf_free(&c->pend);
}

/* Emits due tokens of the stream, then its tail or its cut. base: when this step was due. */
static void stream_next(struct conn *c, uint64_t base)
{
	struct reply *rp = c->rp;

	for (;;) {
		if (c->f.cut && (int64_t)rp->next == c->f.cut_after) {
			c->rs = RS_FLUSH;
			return;
		}
		if (rp->next == rp->npieces) {
			reply_stream_tail(rp, &c->out);
			c->streaming = false;
			STAT_INC(c->w, streams_completed);
			c->f.cut = CUT_NONE;	/* shorter than the cut: it ends normally */
			c->rs = RS_FLUSH;
			return;
		}
		if (rp->interval_ns && !c->f.drip_ns) {
			timer_set(c, base + rp->interval_ns);
			return;
		}
		reply_stream_token(rp, &c->out);
	}
}

/* After the delay: the head and what follows it, or the cut that replaces them. */
static void resp_start(struct conn *c)
{
	struct fault *f = &c->f;
	size_t n = c->pend.len;

	c->rs = RS_FLUSH;
	c->drip_budget = f->drip_bytes;
	if (f->cut && f->cut_after < 0)
		return;
	if (c->rp) {
		buf_put(&c->out, c->pend.p, c->pend.len);
		reply_stream_head(c->rp, &c->out);
		c->streaming = true;
		STAT_INC(c->w, streams_started);
		c->rs = RS_STREAM;
		stream_next(c, mono_ns());
		return;
	}
	if (f->cut && c->pend_head + (uint64_t)f->cut_after < n)
		n = c->pend_head + f->cut_after;
	else
		f->cut = CUT_NONE;
	buf_put(&c->out, c->pend.p, n);
}

static void defer(struct conn *c)
{
	STAT_INC(c->w, in_flight);
	if (c->f.delay_ns) {
		c->rs = RS_DELAY;
		timer_set(c, mono_ns() + c->f.delay_ns);
		return;
	}
	resp_start(c);
}

void conn_reply(struct conn *c, struct req *r, int status, const char *ctype,
		const char *body, size_t len)
{
	const struct fault *f = &r->fault;

	resp_begin(c, r, status);
	if (!f->delay_ns && !f->cut && !f->drip_ns) {
		http_head(&c->out, r, status, ctype, len, c->keep);
		buf_put(&c->out, body, len);
		if (!c->keep)
			c->want_close = true;
		conn_log(c, "done");
		return;
	}
	c->pend.len = 0;
	http_head(&c->pend, r, status, ctype, len, c->keep);
	c->pend_head = c->pend.len;
	buf_put(&c->pend, body, len);
	defer(c);
}

void conn_stream(struct conn *c, struct req *r, struct reply *rp)
{
	resp_begin(c, r, 200);
	if (!rp->chunked)
		c->keep = false;	/* HTTP/1.0: the body ends at close */
	c->rp = rp;
	c->pend.len = 0;
	http_head(&c->pend, r, 200, "text/event-stream",
		  rp->chunked ? HTTP_CHUNKED : HTTP_UNTIL_CLOSE, c->keep);
	c->pend_head = c->pend.len;
	defer(c);
}

/* A parser refusal: the request is not trusted further, so no echo and close. */
static void http_refuse(struct conn *c, int status)
{
	struct buf *b = &c->w->body;
	const char *why;

	switch (status) {
	case 413: why = "request body too large (see --max-body)"; break;
	case 431: why = "request header fields too large"; break;
	case 501: why = "transfer coding not implemented"; break;
	case 505: why = "HTTP version not supported"; break;
	default: why = "malformed HTTP request"; status = 400; break;
	}
	STAT_INC(c->w, bad_requests);
	STAT_INC(c->w, by_status[status]);
	b->len = 0;
	buf_lit(b, "{\"error\":{\"message\":\"mockllm: ");
	buf_puts(b, why);
	buf_lit(b, "\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"http_");
	buf_u64(b, status);
	buf_lit(b, "\"}}\n");
	http_head(&c->out, NULL, status, "application/json", b->len, false);
	buf_put(&c->out, b->p, b->len);
	c->want_close = true;
	c->status = status;
	memset(&c->f, 0, sizeof(c->f));
	c->t0 = mono_ns();
	snprintf(c->logline, sizeof(c->logline), "(refused)");
	conn_log(c, why);
}

/* Answers the complete requests in c->in, in order, until one owns the connection. */
static void conn_process(struct conn *c)
{
	struct req *r = &c->w->req;
	int rc;

	while (!busy(c)) {
		rc = http_parse(c, r);
		if (!rc && c->in.len >= in_max())
			rc = -413;
		if (!rc)
			break;
		if (rc < 0) {
			http_refuse(c, -rc);
			break;
		}
		api_handle(c, r);
		http_consume(c, r);
	}
	if (c->in_off) {
		memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
		c->in.len -= c->in_off;
		c->in_off = 0;
	}
}

/* 0, or -1 when the peer is gone (EPIPE, ECONNRESET). */
static int conn_read(struct conn *c)
{
	size_t room;
	ssize_t n;

	for (;;) {
		if (busy(c) && c->in.len - c->in_off >= IN_PAUSE)
			return 0;
		if (c->in.cap - c->in.len < IN_MIN_ROOM) {
			if (c->in.cap >= in_max())
				return 0;	/* full: conn_process() refuses it */
			buf_grow(&c->in, c->in.cap ? c->in.cap : 16384);
		}
		room = c->in.cap - c->in.len;
		n = read(c->ep.fd, c->in.p + c->in.len, room);
		if (n > 0) {
			c->in.len += n;
			STAT_ADD(c->w, bytes_in, n);
			if ((size_t)n < room)
				return 0;
			continue;
		}
		if (!n) {
			c->peer_closed = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -1;
	}
}

/* Writes what out holds, within the drip budget; -1 when the peer is gone. */
static int conn_flush(struct conn *c)
{
	size_t n;
	ssize_t k;

	while (c->out_off < c->out.len) {
		n = c->out.len - c->out_off;
		if (dripping(c)) {
			if (!c->drip_budget)
				break;
			if (n > c->drip_budget)
				n = c->drip_budget;
		}
		k = send(c->ep.fd, c->out.p + c->out_off, n, MSG_NOSIGNAL);
		if (k == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		c->out_off += k;
		STAT_ADD(c->w, bytes_out, k);
		if (dripping(c))
			c->drip_budget -= k;
	}
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->out.cap > (4U << 20))
			buf_free(&c->out);
	}
	return 0;
}

/* RST once the peer has acknowledged what was written (or after RESET_WAIT_NS). 1: closed. */
static int reset_now(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	uint64_t now = mono_ns();
	int unacked = 0;

	/* close() with SO_LINGER 0 discards unsent data: wait until the peer has it */
	if (!ioctl(c->ep.fd, SIOCOUTQ, &unacked) && unacked > 0 && now < c->cut_deadline) {
		timer_set(c, now + NSEC_PER_MSEC);
		return 0;
	}
	setsockopt(c->ep.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	conn_end(c, "reset", false);
	return 1;
}

/* The cut of the fault, once what precedes it is written. 1: closed. */
static int cut_now(struct conn *c)
{
	switch (c->f.cut) {
	case CUT_HANG:
		c->rs = RS_HANG;
		return 0;
	case CUT_CLOSE:
		shutdown(c->ep.fd, SHUT_WR);
		conn_end(c, "close", false);
		return 1;
	case CUT_RESET:
		c->rs = RS_RESET_WAIT;
		c->cut_deadline = mono_ns() + RESET_WAIT_NS;
		return reset_now(c);
	case CUT_NONE:
		break;
	}
	return 0;
}

static void conn_interest(struct conn *c)
{
	struct epoll_event e = { .data.ptr = c };
	uint32_t ev = 0;

	if (!c->peer_closed) {
		ev = EPOLLRDHUP;
		if (!busy(c) || c->in.len - c->in_off < IN_PAUSE)
			ev |= EPOLLIN;
	}
	if (c->out.len && !dripping(c))
		ev |= EPOLLOUT;
	if (dripping(c) && c->out.len && c->heap_idx < 0)
		timer_set(c, mono_ns() + c->f.drip_ns);
	if (srv.conf.idle_ns && c->rs == RS_NONE && c->heap_idx < 0)
		timer_set(c, mono_ns() + srv.conf.idle_ns);
	if (ev == c->events)
		return;
	c->events = e.events = ev;
	if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->ep.fd, &e) == -1)
		fprintf(stderr, "mockllm: epoll_ctl(mod %d): %s\n", c->ep.fd, strerror(errno));
}

/* Moves c as far as it can go now: answer, write, finish, cut or close. */
static void conn_progress(struct conn *c)
{
	for (;;) {
		if (c->rs == RS_NONE)
			conn_process(c);
		if (conn_flush(c)) {
			conn_end(c, "aborted", true);
			return;
		}
		if (c->out.len || c->rs != RS_FLUSH)
			break;
		if (c->f.cut) {
			if (cut_now(c))
				return;
			break;
		}
		resp_done(c);
	}
	if (c->rs == RS_NONE && !c->out.len && (c->want_close || c->peer_closed)) {
		conn_end(c, "done", false);
		return;
	}
	if (c->peer_closed && c->rs != RS_NONE && c->rs != RS_RESET_WAIT) {
		conn_end(c, "aborted", true);
		return;
	}
	conn_interest(c);
}

void conn_event(struct conn *c, uint32_t events)
{
	if (events & EPOLLERR) {
		conn_end(c, "aborted", true);
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
		if (!(c->events & EPOLLIN)) {
			c->peer_closed = true;	/* paused: the close is all we need to know */
		} else if (conn_read(c)) {
			conn_end(c, "aborted", true);
			return;
		}
		if (srv.conf.idle_ns && c->rs == RS_NONE)
			timer_clear(c);	/* conn_interest() sets it again from now */
	}
	conn_progress(c);
}

void conn_timer(struct conn *c, uint64_t deadline)
{
	switch (c->rs) {
	case RS_NONE:
		conn_end(c, "idle", false);	/* --idle-timeout */
		return;
	case RS_DELAY:
		resp_start(c);
		break;
	case RS_STREAM:
		reply_stream_token(c->rp, &c->out);
		stream_next(c, deadline);
		break;
	case RS_FLUSH:
		c->drip_budget = c->f.drip_bytes;
		break;
	case RS_RESET_WAIT:
		if (reset_now(c))
			return;
		break;
	case RS_HANG:
		break;
	}
	conn_progress(c);
}
