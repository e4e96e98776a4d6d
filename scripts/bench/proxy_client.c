// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * proxy_client: the clients of scripts/bench/proxy.sh that wrk is not.
 * HTTP/1.1 keep-alive over plain TCP or TLS (--tls; no verification), one
 * POST of the body in --body FILE to --path (default /v1/chat/completions).
 *
 *   proxy_client load --port P [--tls] --body F --rate R --duration S
 *                     [--warmup S] [--conns N]
 *     Open loop at a fixed rate: request i is due at start + i/R and goes out
 *     on the first idle connection; its latency runs from when it was due,
 *     so time spent waiting for a free connection counts (no coordinated
 *     omission). Prints "LOAD_RESULT rate= sent= done= errors= p50= p90=
 *     p99= p999= max=" (microseconds), over the requests due after warm-up.
 *
 *   proxy_client idle --port P [--tls] --body F --conns N [--hold S]
 *     Opens N connections one after another, each completing its handshake
 *     and one request, then keeps them all open and idle. Prints
 *     "IDLE_READY ok= failed=" and holds them for S seconds (default 60) or
 *     until SIGTERM/SIGINT.
 *
 *   proxy_client stream --port P [--tls] --body F --streams N --tokens K
 *                       --interval D
 *     N streaming requests (chunked SSE from mockllm, which is asked by
 *     x-mock-* headers for K tokens, one every D: 500us, 1ms) one after
 *     another on one connection; the time each chunk is complete at the
 *     client is taken (monotonic clock, right after the read that completed
 *     it). Prints "STREAM_RESULT chunks= reads= gaps= gap_p50= .. gap_max=
 *     late_p50= .. late_max=" (microseconds, fractional): gap_* between
 *     consecutive token chunks, late_* each token chunk's lateness against
 *     the mock's schedule (token k due k*D after the head; zero at the
 *     stream's earliest chunk), which a proxy that holds chunks back and
 *     sends them in bursts cannot hide as small gaps can. reads counts the
 *     reads that returned data (a TLS record each): reads well above
 *     chunks means chunks arrive split across records.
 *
 * Every mode also takes --header 'Name: value' (repeatable) and --host ADDR
 * (default 127.0.0.1). Exit status 0, or 1 when anything failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define RBUF_CAP	(256 * 1024)
#define MAX_HEADERS_ARG	16

struct resp {
	size_t head_len;	/* 0 until the head is complete */
	int status;
	long long clen;		/* -1: none */
	bool chunked;
	size_t pos;		/* chunked: next chunk-size line */
	bool done;
};

struct conn {
	int fd;
	SSL *ssl;
	char *rbuf;
	size_t rlen;
	struct resp r;
	bool busy;
	uint64_t due_ns;
	struct conn *next_idle;
};

static const char *opt_host = "127.0.0.1";
static int opt_port;
static bool opt_tls;
static const char *opt_path = "/v1/chat/completions";
static const char *opt_body;
static const char *opt_headers[MAX_HEADERS_ARG];
static int opt_nheaders;
static char *request;
static size_t request_len;
static SSL_CTX *ctx;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "proxy_client: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void build_request(const char *body_file)
{
	FILE *f = fopen(body_file, "r");
	char *body = NULL, *hdrs;
	size_t blen = 0, hl = 0, cap = 0;
	size_t n;
	char tmp[4096];

	if (!f)
		die(body_file);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
		if (blen + n > cap) {
			cap = (blen + n) * 2;
			body = realloc(body, cap);
			if (!body)
				die("realloc");
		}
		memcpy(body + blen, tmp, n);
		blen += n;
	}
	fclose(f);
	while (blen && (body[blen - 1] == '\n' || body[blen - 1] == '\r'))
		blen--;
	hdrs = calloc(1, 4096);
	if (!hdrs)
		die("calloc");
	for (int i = 0; i < opt_nheaders; i++)
		hl += snprintf(hdrs + hl, 4096 - hl, "%s\r\n", opt_headers[i]);
	request = malloc(blen + 8192);
	if (!request)
		die("malloc");
	request_len = snprintf(request, 8192,
			       "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
			       "Authorization: Bearer sk-bench-0000000000000000\r\n"
			       "Content-Length: %zu\r\n%s\r\n", opt_path, opt_host, opt_port, blen, hdrs);
	memcpy(request + request_len, body, blen);
	request_len += blen;
	free(body);
	free(hdrs);
}

static void tls_init(bool small)
{
	if (!opt_tls)
		return;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (small)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

/* A connected (and handshaken) blocking socket, or -1. */
static int conn_open(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(opt_port) };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (inet_pton(AF_INET, opt_host, &sa.sin_addr) != 1 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (opt_tls) {
		c->ssl = SSL_new(ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1 ||
		    SSL_set_tlsext_host_name(c->ssl, "localhost") != 1 || SSL_connect(c->ssl) != 1) {
			ERR_print_errors_fp(stderr);
			goto fail;
		}
	}
	return 0;
fail:
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	c->rbuf = NULL;
}

/* Writes it all; the socket may be non-blocking (then waits for room). 0 or -1. */
static int conn_write(struct conn *c, const char *p, size_t len)
{
	while (len) {
		ssize_t n;

		if (c->ssl) {
			int r = SSL_write(c->ssl, p, (int)len);

			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				struct pollfd pfd = { .fd = c->fd };

				if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
					return -1;
				pfd.events = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
				poll(&pfd, 1, 1000);
				continue;
			}
			n = r;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

				if (errno != EAGAIN)
					return -1;
				poll(&pfd, 1, 1000);
				continue;
			}
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* Reads what is there into rbuf: >0 bytes, 0 nothing yet (non-blocking), -1 closed or error. */
static ssize_t conn_read(struct conn *c)
{
	ssize_t n;

	if (!c->rbuf) {
		c->rbuf = malloc(RBUF_CAP);
		if (!c->rbuf)
			return -1;
	}
	if (c->rlen == RBUF_CAP)
		return -1;	/* a response far larger than any here */
	if (c->ssl) {
		int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(RBUF_CAP - c->rlen));

		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);

			return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
		}
		n = r;
	} else {
		n = recv(c->fd, c->rbuf + c->rlen, RBUF_CAP - c->rlen, 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
	}
	c->rlen += n;
	return n;
}

static const char *find_crlf2(const char *p, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return p + i;
	return NULL;
}

/*
 * Advances the response parser over rbuf; r.done when the response is whole.
 * Returns how many more chunks of a chunked body are complete (the last-chunk
 * not counted), or -1 when the response is malformed.
 */
static int resp_parse(struct conn *c)
{
	struct resp *r = &c->r;
	int chunks = 0;

	if (!r->head_len) {
		const char *end = find_crlf2(c->rbuf, c->rlen);
		const char *p, *eol;

		if (!end)
			return 0;
		r->head_len = end - c->rbuf + 4;
		r->clen = -1;
		if (c->rlen < 12 || strncmp(c->rbuf, "HTTP/1.", 7))
			return -1;
		r->status = atoi(c->rbuf + 9);
		for (p = c->rbuf; p < end; p = eol + 2) {
			eol = memchr(p, '\r', end + 2 - p);
			if (!eol)
				break;
			if (eol - p > 15 && !strncasecmp(p, "content-length:", 15))
				r->clen = atoll(p + 15);
			else if (eol - p > 18 && !strncasecmp(p, "transfer-encoding:", 18) &&
				 memmem(p, eol - p, "chunked", 7))
				r->chunked = true;
		}
		r->pos = r->head_len;
		if (!r->chunked && r->clen < 0)
			r->clen = 0;
	}
	if (!r->chunked) {
		if (c->rlen >= r->head_len + (size_t)r->clen)
			r->done = true;
		return 0;
	}
	for (;;) {
		const char *line = c->rbuf + r->pos, *eol;
		unsigned long long size;
		char *endp;

		eol = memmem(line, c->rlen - r->pos, "\r\n", 2);
		if (!eol)
			return chunks;
		size = strtoull(line, &endp, 16);
		if (endp == line)
			return -1;
		if (!size) {
			/* last-chunk: no trailers expected, the CRLF that ends the message */
			if ((size_t)(eol + 4 - c->rbuf) > c->rlen)
				return chunks;
			r->pos = eol + 4 - c->rbuf;
			r->done = true;
			return chunks;
		}
		if ((size_t)(eol + 2 - c->rbuf) + size + 2 > c->rlen)
			return chunks;
		r->pos = eol + 2 - c->rbuf + size + 2;
		chunks++;
	}
}

/* Done with a response: drops its bytes (there are never more behind it here). */
static void resp_reset(struct conn *c)
{
	size_t used = c->r.chunked ? c->r.pos : c->r.head_len + (size_t)c->r.clen;

	if (used < c->rlen)
		memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= used < c->rlen ? used : c->rlen;
	memset(&c->r, 0, sizeof(c->r));
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)v[i];
}

/* --- load --- */

static int run_load(double rate, double duration, double warmup, int nconns)
{
	struct conn *conns = calloc(nconns, sizeof(*conns)), *idle = NULL;
	uint64_t interval = (uint64_t)(1e9 / rate), start, end, count_from;
	uint64_t next_idx = 0, sent = 0, done = 0, errors = 0, late_max = 0;
	size_t cap = (size_t)(rate * (duration + 1)) + 16, nlat = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat));
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[64];

	if (!conns || !lat || epfd < 0)
		die("setup");
	for (int i = 0; i < nconns; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &conns[i] };

		if (conn_open(&conns[i]))
			die("connect");
		set_nonblock(conns[i].fd);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, conns[i].fd, &e))
			die("epoll_ctl");
		conns[i].next_idle = idle;
		idle = &conns[i];
	}
	start = now_ns() + 1000000;
	count_from = start + (uint64_t)(warmup * 1e9);
	end = start + (uint64_t)((warmup + duration) * 1e9);
	for (;;) {
		uint64_t now = now_ns(), due;
		struct timespec to;
		int n;

		/* Every request now due goes out while a connection is free */
		while ((due = start + next_idx * interval) <= now && due < end && idle) {
			struct conn *c = idle;

			idle = c->next_idle;
			c->busy = true;
			c->due_ns = due;
			if (now - due > late_max && due >= count_from)
				late_max = now - due;
			if (conn_write(c, request, request_len)) {
				errors++;
				die("write");
			}
			next_idx++;
			sent++;
		}
		if (now >= end && (done == sent || now >= end + 2000000000ULL))
			break;
		due = start + next_idx * interval;
		if (due >= end || !idle)
			due = now + 1000000;	/* waiting for answers only */
		due = due > now ? due - now : 0;
		to.tv_sec = due / 1000000000ULL;
		to.tv_nsec = due % 1000000000ULL;
		n = epoll_pwait2(epfd, ev, 64, &to, NULL);
		if (n < 0 && errno != EINTR)
			die("epoll_pwait2");
		for (int i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			for (;;) {
				ssize_t r = conn_read(c);

				if (r < 0) {
					fprintf(stderr, "proxy_client: connection closed by the server\n");
					exit(1);
				}
				if (resp_parse(c) < 0)
					die("bad response");
				if (c->r.done) {
					uint64_t t = now_ns();

					if (c->r.status < 200 || c->r.status > 299)
						errors++;
					if (c->due_ns >= count_from && c->due_ns < end && nlat < cap)
						lat[nlat++] = t - c->due_ns;
					done++;
					resp_reset(c);
					c->busy = false;
					c->next_idle = idle;
					idle = c;
					break;
				}
				if (r == 0)
					break;	/* the rest is not here yet */
			}
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("LOAD_RESULT rate=%.0f achieved=%.0f sent=%llu done=%llu errors=%llu p50=%.0f p90=%.0f "
	       "p99=%.0f p999=%.0f max=%.0f late_max=%.0f\n", rate,
	       (double)nlat / duration, (unsigned long long)sent, (unsigned long long)done,
	       (unsigned long long)errors, pct(lat, nlat, 50) / 1e3, pct(lat, nlat, 90) / 1e3,
	       pct(lat, nlat, 99) / 1e3, pct(lat, nlat, 99.9) / 1e3,
	       nlat ? (double)lat[nlat - 1] / 1e3 : 0, (double)late_max / 1e3);
	for (int i = 0; i < nconns; i++)
		conn_close(&conns[i]);
	free(conns);
	free(lat);
	return errors || done != sent ? 1 : 0;
}

/*
 * One request on a blocking connection, read whole. With chunk_t, the time
 * each chunk of a chunked body was complete goes there; *nreads counts the
 * reads that returned data. 0 or -1.
 */
static int one_request(struct conn *c, uint64_t *chunk_t, size_t *nchunks, size_t max_chunks,
		       size_t *nreads)
{
	if (conn_write(c, request, request_len))
		return -1;
	while (!c->r.done) {
		ssize_t n = conn_read(c);
		uint64_t t = now_ns();
		int k;

		if (n <= 0)
			return -1;
		if (nreads)
			(*nreads)++;
		k = resp_parse(c);
		if (k < 0)
			return -1;
		while (chunk_t && k-- > 0 && *nchunks < max_chunks)
			chunk_t[(*nchunks)++] = t;
	}
	if (c->r.status < 200 || c->r.status > 299)
		return -1;
	resp_reset(c);
	return 0;
}

/* --- idle --- */

struct idle_job {
	struct conn *conns;
	int nconns, first, step;
	int ok, failed;
};

/* Opens every step-th connection from first, one after another. */
static void *idle_open(void *arg)
{
	struct idle_job *j = arg;

	for (int i = j->first; i < j->nconns && !stop; i += j->step) {
		struct conn *c = &j->conns[i];

		if (conn_open(c)) {
			c->fd = -1;
			j->failed++;
			continue;
		}
		if (one_request(c, NULL, NULL, 0, NULL)) {
			conn_close(c);
			j->failed++;
			continue;
		}
		/* Idle now: keep nothing of our own behind it */
		free(c->rbuf);
		c->rbuf = NULL;
		j->ok++;
	}
	return NULL;
}

/*
 * The connections are opened by IDLE_THREADS threads at once, so that a
 * server slow to answer (or a handshake's round trips) does not make
 * 10,000 of them take minutes; each is idle once its answer is in.
 */
#define IDLE_THREADS	64

static int run_idle(int nconns, double hold)
{
	struct conn *conns = calloc(nconns, sizeof(*conns));
	struct idle_job jobs[IDLE_THREADS];
	pthread_t tid[IDLE_THREADS];
	int nthreads = nconns < IDLE_THREADS ? nconns : IDLE_THREADS, ok = 0, failed = 0;
	uint64_t until;

	if (!conns)
		die("calloc");
	for (int t = 0; t < nthreads; t++) {
		jobs[t] = (struct idle_job){ .conns = conns, .nconns = nconns, .first = t,
					     .step = nthreads };
		if (pthread_create(&tid[t], NULL, idle_open, &jobs[t]))
			die("pthread_create");
	}
	for (int t = 0; t < nthreads; t++) {
		pthread_join(tid[t], NULL);
		ok += jobs[t].ok;
		failed += jobs[t].failed;
	}
	printf("IDLE_READY ok=%d failed=%d\n", ok, failed);
	fflush(stdout);
	until = now_ns() + (uint64_t)(hold * 1e9);
	while (!stop && now_ns() < until)
		usleep(10000);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd > 0)
			conn_close(&conns[i]);
	free(conns);
	return failed ? 1 : 0;
}

/* --- stream --- */

static void print_dist(const char *name, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf(" %s_p50=%.1f %s_p90=%.1f %s_p99=%.1f %s_p999=%.1f %s_max=%.1f", name,
	       pct(v, n, 50) / 1e3, name, pct(v, n, 90) / 1e3, name, pct(v, n, 99) / 1e3, name,
	       pct(v, n, 99.9) / 1e3, name, n ? (double)v[n - 1] / 1e3 : 0);
}

static int run_stream(int nstreams, int tokens, uint64_t interval)
{
	size_t cap = 1 << 20, ngaps = 0, nlate = 0, nchunks = 0, nreads = 0;
	uint64_t *gaps = malloc(cap * sizeof(*gaps)), *late = malloc(cap * sizeof(*late));
	uint64_t *arr = malloc(65536 * sizeof(*arr));
	char h1[64], h2[64];
	struct conn c;
	int failed = 0;

	if (!gaps || !late || !arr)
		die("malloc");
	/* Asked of the mock per request, so it needs no restart */
	snprintf(h1, sizeof(h1), "x-mock-tokens: %d", tokens);
	snprintf(h2, sizeof(h2), "x-mock-token-interval: %lluns", (unsigned long long)interval);
	if (opt_nheaders + 2 > MAX_HEADERS_ARG)
		die("too many headers");
	opt_headers[opt_nheaders++] = h1;
	opt_headers[opt_nheaders++] = h2;
	free(request);
	build_request(opt_body);
	if (conn_open(&c))
		die("connect");
	for (int s = 0; s < nstreams && !stop; s++) {
		size_t n = 0;
		uint64_t off = UINT64_MAX;

		if (one_request(&c, arr, &n, 65536, &nreads)) {
			failed++;
			break;
		}
		nchunks += n;
		/*
		 * The mock's chunks: [0] role, with the head; [1..tokens] token k
		 * due k intervals after the head (its timer does not drift); then
		 * finish and [DONE] with the last token. Gaps between consecutive
		 * token chunks; lateness of each token chunk against that
		 * schedule, its zero put at the stream's earliest one.
		 */
		if (n != (size_t)tokens + 3) {
			fprintf(stderr, "proxy_client: %zu chunks, not %d\n", n, tokens + 3);
			failed++;
			break;
		}
		for (size_t i = 2; i <= (size_t)tokens && ngaps < cap; i++)
			gaps[ngaps++] = arr[i] - arr[i - 1];
		for (size_t i = 1; i <= (size_t)tokens; i++)
			if (arr[i] - i * interval < off)
				off = arr[i] - i * interval;
		for (size_t i = 1; i <= (size_t)tokens && nlate < cap; i++)
			late[nlate++] = arr[i] - i * interval - off;
	}
	printf("STREAM_RESULT streams=%d chunks=%zu reads=%zu gaps=%zu", nstreams, nchunks, nreads,
	       ngaps);
	print_dist("gap", gaps, ngaps);
	print_dist("late", late, nlate);
	printf(" failed=%d\n", failed);
	conn_close(&c);
	free(gaps);
	free(late);
	free(arr);
	return failed ? 1 : 0;
}

/* "500us", "1ms", "2s", "250000ns"; 0 when it is none of those. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || v < 0)
		return 0;
	if (!strcmp(end, "ns"))
		return (uint64_t)v;
	if (!strcmp(end, "us"))
		return (uint64_t)(v * 1e3);
	if (!strcmp(end, "ms"))
		return (uint64_t)(v * 1e6);
	if (!strcmp(end, "s"))
		return (uint64_t)(v * 1e9);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: proxy_client load|idle|stream --port P [--host A] [--tls] --body FILE\n"
		"         [--path P] [--header 'N: v']... [--rate R --duration S --warmup S]\n"
		"         [--conns N] [--hold S] [--streams N --tokens K --interval D]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "tls", no_argument, NULL, 't' },
		{ "body", required_argument, NULL, 'b' },
		{ "path", required_argument, NULL, 'P' },
		{ "header", required_argument, NULL, 'h' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "conns", required_argument, NULL, 'c' },
		{ "streams", required_argument, NULL, 's' },
		{ "hold", required_argument, NULL, 'o' },
		{ "tokens", required_argument, NULL, 'k' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode, *body = NULL;
	double rate = 0, duration = 1, warmup = 0, hold = 60;
	int conns = 0, streams = 10, tokens = 100, o;
	uint64_t interval = 1000000;
	struct sigaction sa = { .sa_handler = on_signal };

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': opt_host = optarg; break;
		case 'p': opt_port = atoi(optarg); break;
		case 't': opt_tls = true; break;
		case 'b': body = optarg; break;
		case 'P': opt_path = optarg; break;
		case 'h':
			if (opt_nheaders == MAX_HEADERS_ARG)
				usage();
			opt_headers[opt_nheaders++] = optarg;
			break;
		case 'r': rate = atof(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'w': warmup = atof(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 's': streams = atoi(optarg); break;
		case 'o': hold = atof(optarg); break;
		case 'k': tokens = atoi(optarg); break;
		case 'i': interval = parse_duration(optarg); break;
		default: usage();
		}
	}
	if (!opt_port || !body)
		usage();
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	opt_body = body;
	build_request(body);
	if (!strcmp(mode, "load")) {
		if (rate <= 0 || duration <= 0)
			usage();
		tls_init(false);
		return run_load(rate, duration, warmup, conns ? conns : 32);
	}
	if (!strcmp(mode, "idle")) {
		tls_init(true);
		return run_idle(conns ? conns : 10000, hold);
	}
	if (!strcmp(mode, "stream")) {
		tls_init(false);
		if (tokens < 2 || !interval)
			usage();
		return run_stream(streams, tokens, interval);
	}
	usage();
	return 2;
}
