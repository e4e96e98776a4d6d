/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mockllm: a deterministic OpenAI- and Anthropic-compatible backend for
 * tests and benchmarks.
 *
 * One worker thread per core (or --threads), each with its own epoll loop,
 * SO_REUSEPORT listener, timer heap and counters. Workers share only the
 * read-only config, relaxed counters, the health flag and, under srv.lock,
 * the run-time fault and the recorded last request: nothing on the request
 * path takes a lock unless echo recording is on.
 *
 * Files: main.c (options, listeners, threads, signals), loop.c (worker loop,
 * accept, timers), conn.c (connection I/O and response delivery: delay,
 * streams, drip, cuts), http.c (request parsing, response heads), api.c
 * (routing and the endpoints), reply.c (text replies in the four API
 * shapes, whole and streamed), fault.c (fault specs and durations),
 * stats.c (counters and /stats), buf.c (byte buffers, JSON strings).
 */
#ifndef MOCKLLM_H
#define MOCKLLM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define NSEC_PER_USEC	1000ULL
#define NSEC_PER_MSEC	1000000ULL
#define NSEC_PER_SEC	1000000000ULL

#define MOCK_MAX_LISTEN	8
#define MOCK_MAX_HDRS	100		/* past it: 431 */
#define MOCK_MAX_HDR_BYTES (64 * 1024)	/* request line + headers; past it: 431 */
#define MOCK_MAX_TOKENS	(1U << 20)	/* longest reply, in tokens */
#define MOCK_CREATED	1700000000	/* "created" of every object: answers stay byte-identical */

/* ---- buf.c: growable byte buffers; allocation failure aborts (Redis zmalloc) ---- */

struct buf {
	char *p;
	size_t len, cap;
};

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);

void buf_grow(struct buf *b, size_t extra);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_u64(struct buf *b, uint64_t v);
/* s[0..n) as a quoted JSON string; bytes >= 0x80 pass through unchanged. */
void buf_json_str(struct buf *b, const char *s, size_t n);
void buf_base64(struct buf *b, const void *p, size_t n);
void buf_free(struct buf *b);

static inline void buf_put(struct buf *b, const void *p, size_t n)
{
	if (!n)		/* memcpy() with a NULL pointer is undefined even for 0 bytes */
		return;
	if (b->cap - b->len < n)
		buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

#define buf_lit(b, s)	buf_put((b), (s), sizeof(s) - 1)

/* ---- fault.c: durations and fault specs ---- */

/* One <decimal><unit> term, units ns us ms s m; "0" alone needs none. */
int mock_duration(const char *s, size_t n, uint64_t *ns);
int mock_uint(const char *s, size_t n, uint64_t max, uint64_t *v);
char *mock_duration_fmt(uint64_t ns, char *out, size_t len);

enum cut {
	CUT_NONE,
	CUT_RESET,	/* TCP RST once what was written is acknowledged */
	CUT_HANG,	/* write nothing more; wait for the client to leave */
	CUT_CLOSE,	/* FIN without finishing the response */
};

#define FAULT_DELAY	(1U << 0)
#define FAULT_STATUS	(1U << 1)
#define FAULT_CUT	(1U << 2)
#define FAULT_DRIP	(1U << 3)
#define FAULT_NONE	(1U << 4)	/* "none": drop the global fault for this request */

struct fault {
	uint64_t delay_ns;	/* before the status line */
	int status;		/* 0: answer normally */
	enum cut cut;
	int64_t cut_after;	/* -1: before any byte; else token events (stream) or body bytes */
	uint64_t drip_ns;	/* 0: no drip */
	uint32_t drip_bytes;	/* written per drip_ns */
	unsigned int set;	/* FAULT_* terms the spec named, for fault_merge() */
};

/* err gets a sentence naming the bad term; returns 0 or -EINVAL. */
int fault_parse(const char *s, size_t n, struct fault *f, char *err, size_t errlen);
/* Terms set in *over replace those of *base ("none" clears *base first). */
void fault_merge(struct fault *base, const struct fault *over);
bool fault_any(const struct fault *f);
/* The canonical spec ("delay=200ms,reset-after=3"), "" for none. */
char *fault_fmt(const struct fault *f, char *out, size_t len);

/* ---- stats.c ---- */

enum route {
	R_CHAT,
	R_COMPLETIONS,
	R_EMBEDDINGS,
	R_MODELS,
	R_RESPONSES,
	R_MESSAGES,
	R_HEALTH,
	R_OTHER,	/* any other path: 404 */
	R_STATS,	/* /stats and /admin/... are not counted as requests */
	R_ADMIN,
	R__MAX,
};

#define ROUTE_COUNTED(r)	((r) < R_STATS)
#define ROUTE_API(r)		((r) <= R_MESSAGES)

struct wstats {
	uint64_t requests;
	uint64_t by_route[R__MAX];
	uint64_t by_status[600];
	uint64_t accepted, closed;
	uint64_t streams_started, streams_completed, streams_aborted;
	uint64_t aborted;	/* responses the client left before their end */
	uint64_t faults;	/* requests that ran with a fault */
	uint64_t bad_requests;	/* refused by the HTTP parser */
	uint64_t bytes_in, bytes_out;
	int64_t open, in_flight;	/* gauges: not zeroed by /admin/reset */
};

/* Counters are written by their worker only; /stats reads them from another thread. */
#define STAT_ADD(w, f, n)	__atomic_fetch_add(&(w)->st.f, (n), __ATOMIC_RELAXED)
#define STAT_INC(w, f)		STAT_ADD(w, f, 1)
#define STAT_DEC(w, f)		__atomic_fetch_sub(&(w)->st.f, 1, __ATOMIC_RELAXED)

const char *route_name(enum route r);
void stats_json(struct buf *out);
void stats_reset(void);
struct req;
void stats_record(const struct req *r);

/* ---- the server: config and shared state (main.c) ---- */

struct mock_conf {
	struct sockaddr_storage listen[MOCK_MAX_LISTEN];
	socklen_t listen_len[MOCK_MAX_LISTEN];
	int nlisten;
	int threads;
	const char *port_file;
	char **models;
	int nmodels;
	bool echo;
	char **echo_hdrs;	/* lower case; NULL with echo_all */
	int n_echo_hdrs;
	bool echo_all;
	uint32_t tokens;	/* 0: reply "echo: <last user message>" */
	uint64_t token_interval_ns;
	uint32_t embed_dims;
	struct fault fault;
	bool fail_health;
	bool verbose;
	size_t max_body;
	uint64_t idle_ns;	/* 0: keep idle connections forever */
};

struct worker;

struct mock_server {
	struct mock_conf conf;
	struct worker *workers;
	int nworkers;
	uint64_t start_ns;
	int health_down;	/* atomic */
	pthread_mutex_t lock;	/* guards fault and last */
	struct fault fault;	/* run-time global fault (/admin/fault) */
	uint64_t fault_gen;	/* atomic; bumped on change, workers re-copy */
	cJSON *last;		/* last recorded request, or NULL */
};

extern struct mock_server srv;

uint64_t mono_ns(void);

/* ---- http.c: requests ---- */

struct hdr {
	const char *name, *val;
	uint32_t nlen, vlen;
};

struct req {
	const char *method, *target;
	uint32_t mlen, tlen, plen;	/* plen: path without the query */
	int minor;			/* HTTP/1.<minor> */
	struct hdr hdr[MOCK_MAX_HDRS];
	uint32_t nhdr;
	const char *body;
	size_t body_len;
	size_t consumed;		/* bytes of the connection's input this request spans */
	bool keepalive, close, chunked, expect;
	const struct hdr *h_fault, *h_echo, *h_tokens, *h_interval;

	/* set by api_handle() */
	enum route route;
	struct fault fault;
	bool echo;
	uint32_t tokens;
	uint64_t interval_ns;
	int status;
};

struct conn;

/* 1: a whole request is in *r; 0: need more input; < 0: -status to refuse with. */
int http_parse(struct conn *c, struct req *r);
/* Drops the request just handled from the connection's input. */
void http_consume(struct conn *c, const struct req *r);
/*
 * A response head. clen >= 0: Content-Length; HTTP_CHUNKED: a chunked body;
 * HTTP_UNTIL_CLOSE: the body ends at close (HTTP/1.0 streams). r may be
 * NULL (parser errors): no echo headers then.
 */
#define HTTP_CHUNKED		(-1)
#define HTTP_UNTIL_CLOSE	(-2)
void http_head(struct buf *out, const struct req *r, int status, const char *ctype,
	       long long clen, bool keepalive);
bool hdr_is(const struct hdr *h, const char *lname);
const struct hdr *req_hdr(const struct req *r, const char *lname);

/* ---- reply.c: text replies of chat, completions, responses and messages ---- */

enum api_kind { API_CHAT, API_COMPLETIONS, API_RESPONSES, API_MESSAGES };

struct reply {
	enum api_kind kind;
	char id[32];		/* hex of the body's FNV-1a: same request, same id */
	char *model;
	size_t model_len;
	char *text;
	size_t text_len;
	uint32_t *piece;	/* npieces + 1 offsets into text: token i is [piece[i], piece[i+1]) */
	uint32_t npieces;
	uint32_t prompt_tokens;
	bool truncated;		/* stopped by the request's max tokens */
	bool include_usage;	/* stream_options.include_usage */
	bool chunked;		/* frame events as HTTP chunks (else HTTP/1.0: until close) */
	uint32_t next;		/* next token to stream */
	uint32_t seq;		/* sequence_number of Responses events */
	uint64_t interval_ns;
};

/* NULL with *param and *msg set on a request the API would refuse (400). */
struct reply *reply_new(enum api_kind kind, const cJSON *j, const struct req *r,
			const char **param, const char **msg);
void reply_free(struct reply *rp);
void reply_body(const struct reply *rp, struct buf *out);
void reply_stream_head(struct reply *rp, struct buf *out);
void reply_stream_token(struct reply *rp, struct buf *out);
void reply_stream_tail(struct reply *rp, struct buf *out);
uint32_t count_words(const char *s, size_t n);
uint64_t fnv1a(const void *p, size_t n, uint64_t h);
#define FNV1A_INIT	0xcbf29ce484222325ULL

/* ---- api.c ---- */

void api_handle(struct conn *c, struct req *r);
/* The API's own error shape: Anthropic's on /v1/messages, OpenAI's elsewhere. */
void api_error(struct conn *c, struct req *r, int status, const char *type,
	       const char *code, const char *param, const char *msg);

/* ---- conn.c: connections and response delivery ---- */

enum ep_kind { EP_LISTEN, EP_TIMER, EP_WAKE, EP_CONN };

struct ep_item {
	enum ep_kind kind;
	int fd;
};

enum rstate {
	RS_NONE,	/* between responses: parsing requests */
	RS_DELAY,	/* response ready, waiting out fault.delay */
	RS_STREAM,	/* SSE events due on the timer */
	RS_FLUSH,	/* all written to out; waiting for it to drain (drip), then cut or done */
	RS_HANG,	/* cut=hang: waiting for the client to leave */
	RS_RESET_WAIT,	/* cut=reset: waiting for the peer to ack, then RST */
};

struct conn {
	struct ep_item ep;	/* first: epoll's data.ptr */
	struct worker *w;
	struct conn *prev, *next;
	struct buf in, out;
	size_t in_off;		/* start of the request being parsed */
	size_t out_off;		/* sent part of out */
	uint32_t events;	/* epoll interest now */

	/* parse state of the request at in_off */
	size_t scan;		/* end-of-headers search resumes here */
	size_t hdr_len;		/* 0 until the header block is whole */
	int ck_state;
	size_t ck_pos, ck_left;	/* chunked decoder, relative to in_off */
	struct buf body;	/* decoded chunked body */
	bool continued;		/* "100 Continue" sent */

	/* the response in progress */
	enum rstate rs;
	struct fault f;
	bool keep;		/* keep-alive after this response */
	bool want_close;	/* close once out drains */
	bool peer_closed;
	bool streaming;		/* stream head sent, tail not yet */
	struct buf pend;	/* head (+ body) held back by a delay */
	size_t pend_head;	/* length of the head in pend */
	struct reply *rp;
	uint32_t drip_budget;
	uint64_t cut_deadline;	/* RS_RESET_WAIT gives up waiting for the ack then */
	uint64_t timer_at;	/* 0: none */
	long heap_idx;		/* -1: not in the worker's heap */
	uint64_t t0;		/* request start, for the log */
	char logline[200];	/* "POST /v1/chat/completions" (with --verbose) */
	int status;
	char peer[64];
};

void conn_new(struct worker *w, int fd);
void conn_event(struct conn *c, uint32_t events);
void conn_timer(struct conn *c, uint64_t deadline);
void conn_close_quiet(struct conn *c);
/* Answers r with a whole body, through the request's fault. */
void conn_reply(struct conn *c, struct req *r, int status, const char *ctype,
		const char *body, size_t len);
/* Streams rp (takes it) as SSE, through the request's fault. */
void conn_stream(struct conn *c, struct req *r, struct reply *rp);

/* ---- loop.c: workers ---- */

struct worker {
	int id;
	pthread_t tid;
	int epfd;
	struct ep_item lis[MOCK_MAX_LISTEN];
	int nlis;
	struct ep_item timer, wake;
	uint64_t armed;		/* deadline timerfd is set to, 0: none */
	struct conn **heap;
	size_t nheap, heapcap;
	struct conn *conns;	/* all open connections, for shutdown */
	struct fault fault;	/* copy of srv.fault at fault_gen */
	uint64_t fault_gen;
	struct req req;		/* the request being handled */
	struct buf body;	/* response body being built */
	bool stop;
	struct wstats st __attribute__((aligned(64)));
};

int worker_init(struct worker *w, int id, const int *lfds, int nlfds);
int worker_start(struct worker *w);
void worker_stop(struct worker *w);
void worker_fini(struct worker *w);
void timer_set(struct conn *c, uint64_t at);
void timer_clear(struct conn *c);
/* The global fault as this worker last saw it. */
const struct fault *worker_fault(struct worker *w);

#endif
