/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's shared structures: the runtime built from one config, each
 * worker's view of it, and the two kinds of connection a worker owns.
 *
 * A reload builds a new runtime and hands it to every worker; a worker
 * starts new requests on the new one and lets requests in flight finish on
 * the old, which it releases once its last request there ends. The
 * request path never touches a shared counter for this.
 */
#ifndef SLUICE_GW_H
#define SLUICE_GW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include "gw/balance.h"
#include "gw/buf.h"
#include "gw/chunked.h"
#include "gw/config.h"
#include "gw/detect.h"
#include "gw/inspect.h"
#include "gw/limit.h"
#include "gw/http1.h"
#include "gw/loop.h"
#include "gw/metrics.h"
#include "gw/tls.h"
#include "gw/usage.h"

#define SLUICED_VERSION		"0.1.0"
#define GW_MAX_HEADERS		CFG_MAX_HEADERS
#define GW_OUT_HIGH		(256 * 1024)	/* client output past this pauses the upstream */
#define GW_OUT_LOW		(64 * 1024)	/* ... and below this resumes it */
#define GW_CONNECT_TIMEOUT_NS	(3ULL * 1000000000ULL)
#define GW_READ_CHUNK		(16 * 1024)
#define GW_REQUEST_ID_MAX	128

/* Per backend, shared by workers: passive ejection and the active checks' view. */
struct backend_health {
	_Atomic uint32_t fails;		/* consecutive failed requests */
	_Atomic uint32_t ejections;	/* for the backoff; decays on success */
	_Atomic uint64_t eject_until_ns;
	_Atomic uint32_t active_up;	/* last verdict of the health checks (1 without checks) */
};

struct runtime {
	struct gw_config *cfg;
	struct tls_server **tls;	/* per listener; NULL: plain */
	struct pool_rt **pools;		/* per pool */
	SSL_CTX ***up_ctx;		/* [pool][backend]; NULL: http */
	struct backend_health **health;	/* [pool][backend] */
	bool route_needs_body;		/* a route matches on the model */
	bool accounting;		/* keys or limits: budgets kept */
	bool read_usage;		/* accounting or metrics: answers' usage is read */
	bool *pool_needs_body;		/* per pool: model_map, session by user, or prefix */
	bool any_prefix;		/* a pool hashes the prompt: worth extracting it */
	bool inspect;			/* the config inspects prompts */
	bool any_restore;		/* a rule restores placeholders in answers */
	struct detect_db detect;	/* compiled once per config */
	unsigned char hash_key[INSP_HASH_KEY];
	EVP_MAC_CTX *hash_mac;		/* keyed with hash_key: copied by the workers */
	int *slot[MK_N];		/* metric slots of routes, pools, rules, listeners, tenants, model globs */
	int no_route_slot;		/* requests refused before routing */
	int no_tenant_slot;		/* requests without a key */
	const char **model_glob;	/* the model label's globs: admin.models, else the tokenizer's */
	size_t nmodel_globs;
	int other_model_slot;		/* a model no glob matches */
	int no_model_slot;		/* a request without a model */
	_Atomic int refs;
	uint64_t generation;
};

struct runtime *runtime_new(struct gw_config *cfg, char *err, size_t errlen);
void runtime_get(struct runtime *rt);
void runtime_put(struct runtime *rt);
/* The model label's metric slot of a request's model (NULL: none). */
int runtime_model_slot(const struct runtime *rt, const char *model);

struct client;
struct upconn;

/* One waiting request of a full pool. */
struct waiter {
	struct client *c;
	struct waiter *next;
};

/* A worker's view of a runtime: its cursors and idle upstream connections. */
struct view {
	struct runtime *rt;
	struct lb_cursor *cursors;	/* per pool */
	struct upconn ***idle;		/* [pool][backend]: list heads */
	unsigned int *queued;		/* per pool: waiting requests of this worker */
	double *retry_credit;		/* per pool: retries this worker may still spend */
	unsigned int *retrying;		/* per pool: requests of this worker in a retry now */
	unsigned int users;		/* clients in a request on this view */
	struct detect_scan scan;	/* this worker's scratch for rt->detect */
	struct view *next;		/* older views, draining */
};

struct worker_stats {
	uint64_t accepted, requests, responses, errors, retries, shed, aborted, tls_failed;
	uint64_t audit_lost;		/* records that could not be queued (logged each) */
	uint64_t audit_refused;		/* 503s: the trail was failing (audit.on_error refuse) */
	uint64_t limited[LS_N][LW_N];	/* 429s by scope and limit */
	uint64_t auth_failed;		/* 401s: no key where one is required, or a bad one */
	uint64_t forbidden;		/* 403s: a key outside its models or routes */
};

struct listener {
	struct io io;
	int index;			/* in cfg->listeners */
	struct worker *w;
};

struct worker {
	int id;
	pthread_t thread;
	struct loop loop;
	struct listener *lis;
	size_t nlis;
	struct view *view;		/* current */
	struct view *old;		/* draining */
	_Atomic(struct runtime *) pending;	/* set by the main thread on reload */
	_Atomic bool drain;		/* stop accepting, finish what runs */
	uint64_t drain_deadline_ns;
	struct client *clients;		/* every open client connection */
	unsigned int nclients;
	struct waiter *waiting, *waiting_tail;
	struct timer queue_timer;	/* retries queued requests */
	struct io audit_io;		/* eventfd the audit writer signals (sync always) */
	uint64_t rng;
	struct worker_stats st;
	struct wmetrics m;
};

enum client_state {
	C_PROXY,	/* awaiting a trusted proxy's PROXY header */
	C_HANDSHAKE,
	C_HEAD,
	C_BODY,
	C_QUEUED,
	C_UPSTREAM,	/* request going out / response head awaited */
	C_STREAM,	/* relaying the response body */
	C_LOCAL,	/* writing a response of our own */
	C_CLOSED,
};

struct client {
	struct io io;
	struct stream st;
	struct worker *w;
	struct view *view;		/* while a request runs */
	struct runtime *conn_rt;	/* accepted under: keeps its TLS contexts alive */
	struct timer timer;
	enum client_state state;
	int listener;
	uint64_t *m_listener;		/* the listener's metrics row */
	uint32_t conn_slot;		/* conncount's, with max_connections_per_source */
	bool conn_counted;
	struct sockaddr_storage peer;	/* the request's origin: conn_peer, or X-Forwarded-For's */
	char peer_text[64];
	struct sockaddr_storage conn_peer;	/* the connection's: accept's, or the PROXY header's */
	char *forwarded;		/* X-Forwarded-For to send on, or NULL: the peer's address */
	bool conn_proxied;		/* conn_peer came from a PROXY header */
	bool proxied;			/* peer came from a proxy's word (PROXY or X-Forwarded-For) */
	struct buf in, out;
	struct buf head;		/* the request head, copied: headers point into it */
	struct buf body;		/* the request body, decoded */
	struct http1_msg req;
	struct http1_header hdr[GW_MAX_HEADERS];
	size_t head_len;
	struct chunked_dec chunks;
	uint64_t body_deadline_ns, body_start_ns;
	bool keep_alive, close_after, sent_continue, counted;
	/* the request's routing */
	int route, pool, backend;
	int pool_step;			/* 0: the route's pool, n: fallback n-1 */
	unsigned int attempts;
	uint64_t tried;			/* backends tried in the current pool */
	uint64_t tokens;		/* estimated, held on the backend */
	char *model;			/* from the body, NULL if none */
	char *user;			/* the body's "user", for session affinity */
	struct buf prompt_head;		/* leading prompt text, for prefix affinity */
	char *upstream_body;		/* body as sent (model rewritten), or NULL: body as is */
	size_t upstream_body_len;
	char request_id[GW_REQUEST_ID_MAX + 1];
	enum api_kind api;
	bool is_head;
	uint64_t start_ns, queued_until_ns;
	int queued_pool;		/* pool whose queue place it holds, or -1 */
	uint64_t *queued_row;		/* ... and the metrics row that counts it */
	int retry_pool;			/* pool whose retry slot it holds, or -1 */
	struct upconn *up;
	bool response_started;		/* bytes went to the client: no more retries */
	bool hold;			/* relaying one upstream read: one flush after it */
	unsigned int status;
	/* inspection and the audit record */
	struct inspection insp;
	bool inspected;			/* insp holds this request's result */
	bool no_fallback;		/* rerouted by policy: that pool only */
	bool in_request;		/* a request head came: it gets an audit record */
	bool local_error;		/* answered by an error of our own */
	bool upstream_cut;		/* the backend failed after the head went out */
	bool audit_down;		/* refused for a failing trail: no record to try */
	bool unrecorded;		/* its record failed under on_error refuse: withheld */
	uint64_t audit_seq;		/* sync always: output waits for this record */
	struct restore *filter;		/* placeholders in the answer get their values back */
	uint64_t head_ns;		/* the request head was read */
	uint64_t first_byte_ns;		/* the response head went out */
	uint64_t last_data_ns;		/* a streamed answer's last upstream read */
	uint64_t up_since_ns;		/* the current upstream attempt began */
	uint64_t upstream_ns;		/* this request's attempts, summed: not sluice's overhead */
	bool sse;			/* the answer is text/event-stream */
	/* origin, limits and token accounting */
	const struct keyfile_entry *key;	/* in the view's config; NULL: no key */
	const struct http1_header *key_hdr;	/* the header that carried it: not sent on */
	int tenant;			/* config tenant, or -1 */
	uint64_t max_tokens;		/* the body's, 0: none named */
	bool stream_req;		/* the body asks for a stream */
	bool usage_unasked;		/* ... without stream_options.include_usage */
	bool usage_injected;		/* we asked for it: the usage chunk is not the client's */
	uint64_t prompt_tokens;		/* counted before forwarding (or estimated) */
	bool prompt_exact;		/* counted with the model's encoding */
	uint64_t allowed;		/* completion tokens reserved */
	struct limit_ticket lim;
	struct usage_tap tap;
	struct usage used;		/* settled at the request's end */
	unsigned int retry_after;	/* of a local 429/503, 0: one second */
	char rl_head[400];		/* x-ratelimit-* lines for the response */
	struct client *prev, *next;
};

enum up_state {
	U_CONNECTING,
	U_HANDSHAKE,
	U_SENDING,
	U_HEAD,
	U_BODY,
	U_IDLE,
};

struct upconn {
	struct io io;
	struct stream st;
	struct timer timer;
	struct worker *w;
	struct view *view;
	int pool, backend;
	enum up_state state;
	struct client *c;		/* NULL when idle */
	struct buf in, out;
	struct http1_msg resp;
	struct http1_header hdr[GW_MAX_HEADERS];
	struct chunked_dec chunks;
	uint64_t remaining;		/* HTTP1_BODY_LENGTH bytes left */
	const char *body;		/* request body being sent, after out */
	size_t body_len, body_off;
	bool reused, paused, rechunk;
	bool filter;			/* the body goes decoded to client_response_body() */
	struct upconn *next_idle;
};

/* proxy.c: client side */
void client_accept(struct worker *w, int fd, int listener, const struct sockaddr_storage *ss);
void client_close(struct client *c);
/* Called by upstream.c as the upstream progresses. */
void client_upstream_failed(struct client *c, unsigned int retry_cause, const char *why);
void client_response_head(struct client *c, struct upconn *u);
void client_response_data(struct client *c, const char *data, size_t len);
/* Decoded body bytes of a filtered response (see restore.h): framed here. */
void client_response_body(struct client *c, const char *data, size_t len);
void client_response_done(struct client *c, bool clean);
/* Flushes what one upstream read produced (see hold); false if the client closed. */
bool client_release(struct client *c);
void client_retry_queued(struct worker *w);
void queue_leave(struct client *c);
void retry_leave(struct client *c);

/* upstream.c */
int upstream_start(struct client *c);	/* picks a connection and sends the request */
void upstream_abort(struct upconn *u);	/* client gone: close at once */
void upstream_resume(struct upconn *u);	/* client drained: read again */
void upstream_close_idle(struct view *v);
void backend_result(struct runtime *rt, int pool, int backend, bool ok, uint64_t now_ns);

/* record.c: the audit trail's record of each request */
extern struct audit *gw_audit;	/* NULL: no audit trail */
void audit_request(struct client *c);
/* proxy.c: responses that waited for their audit record go out */
void client_audit_ready(struct worker *w);

/* worker.c */
struct view *view_new(struct worker *w, struct runtime *rt);
void view_release(struct worker *w, struct view *v);
uint64_t worker_rand(struct worker *w);

/* apierr.c: errors in the API's own shape */
void api_error(struct buf *out, enum api_kind api, unsigned int status, const char *type,
	       const char *code, const char *message, const char *request_id, bool keep_alive,
	       unsigned int retry_after, const char *extra);
const char *http_reason(unsigned int status);

/* route.c */
int route_match(const struct gw_config *cfg, const struct http1_msg *req, const char *model,
		size_t body_len, uint64_t est_tokens, const char *const *tags, size_t ntags);
enum api_kind route_api(const struct cfg_route *r, const struct http1_msg *req);
const char *model_rewrite(const struct cfg_backend *b, const char *model);

/* log */
void gw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern int gw_verbose;

#endif
