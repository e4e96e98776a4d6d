/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sluiced's configuration: one JSON file (comments allowed), validated at
 * load into an immutable snapshot. Workers hold a reference to the
 * snapshot they started a request with; a reload swaps in a new one and
 * the old one is freed when its last reference goes.
 *
 * Every error names the path of the bad key and the bad value:
 *   pools.gpu.backends[1].url: 'htp://x': expected http(s)://host:port
 */
#ifndef SLUICE_GW_CONFIG_H
#define SLUICE_GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "lib/cidr.h"

#define CFG_NAME_LEN	64
#define CFG_ERR_LEN	512
#define CFG_MAX_HEADERS	128	/* http.max_headers: the parser's field array */

enum lb_algorithm {
	LB_ROUND_ROBIN = 0,
	LB_WEIGHTED,
	LB_LEAST_REQUESTS,
	LB_LEAST_TOKENS,
	LB_P2C,
	LB_SESSION,
	LB_PREFIX,
};

enum api_kind {
	API_AUTO = 0,		/* from the path: /v1/messages is Anthropic, the rest OpenAI */
	API_OPENAI,
	API_ANTHROPIC,
};

/* Failures that let a request be retried elsewhere (before any byte went to the client) */
#define RETRY_CONNECT	(1U << 0)	/* connect refused / timed out */
#define RETRY_RESET	(1U << 1)	/* reset or closed before the response head */
#define RETRY_502	(1U << 2)
#define RETRY_503	(1U << 3)
#define RETRY_504	(1U << 4)
#define RETRY_TIMEOUT	(1U << 5)	/* no response head within the pool's response timeout */

struct cfg_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];		/* as written, for logs */
};

struct cfg_cert {
	char *cert;		/* PEM chain file */
	char *key;		/* PEM key file */
};

struct cfg_tls {
	struct cfg_cert *certs;	/* the first is the default for unknown SNI */
	size_t ncerts;
	char *client_ca;	/* NULL: no client certificates asked */
	bool client_required;	/* with client_ca: refuse clients without one */
	uint64_t ticket_rotation_ns;	/* 0: tickets off */
};

/* API keys on a listener: ignored (passed on as they came), optional, required */
enum key_mode { KEYS_OFF = 0, KEYS_OPTIONAL, KEYS_REQUIRED };

struct cfg_listener {
	char name[CFG_NAME_LEN];
	struct cfg_sockaddr addr;
	struct cfg_tls *tls;	/* NULL: plain HTTP (behind another terminator) */
	unsigned int api_keys;	/* enum key_mode */
	/*
	 * Who may say whom a connection is from: a PROXY protocol header
	 * (v1 or v2) that a connection from one of these must begin with,
	 * and X-Forwarded-For on requests that one of these sends.
	 */
	struct cidr *trusted;
	size_t ntrusted;
	bool proxy_protocol, forwarded_for;
	unsigned int max_conns_per_source;	/* open at once from one untrusted source; 0: any */
};

/* A request's max_tokens above a cap: lowered to it, or refused with 400 */
enum over_mode { OVER_LOWER = 0, OVER_REJECT };

/*
 * The limits of one scope: a key, a tenant, a source address, a route. 0: no
 * limit. Rates are GCRA (user/gw/limit.h): requests_per_second with a burst
 * of one second's worth, requests_per_minute with ten seconds' worth;
 * token budgets take a request's prompt plus allowed completion before it
 * is sent, and give back what the usage did not spend.
 */
struct cfg_limits {
	uint32_t rps, rpm, concurrent;
	uint64_t tpm, tpd;		/* tokens a minute, a day */
	uint32_t max_prompt_tokens;	/* above: 400 */
	uint32_t max_tokens_cap;	/* max_tokens above it: lowered or 400 (over) */
	unsigned int over;		/* enum over_mode */
};

struct cfg_tenant {
	char name[CFG_NAME_LEN];
	struct cfg_limits limits;
};

struct cfg_limits_top {
	struct cfg_limits per_key;	/* every key, beside its tenant's */
	struct cfg_limits per_address;	/* every source address (IPv6 by /64) */
	uint32_t default_max_tokens;	/* reserved for a request that names none */
	bool stream_usage;		/* OpenAI streams are asked for their usage */
	char *state_file;		/* as written, or NULL: budgets start afresh */
	char *state_path;		/* ... relative to the config's folder */
	uint64_t state_interval_ns;	/* between saves (and one at shutdown) */
};

/* What counts as a strike against a source address */
enum esc_event { EV_RATE_LIMITED = 0, EV_POLICY, EV_AUTH_FAILED, EV_BAD_REQUEST, EV_TLS_FAILED,
		 EV_KEY_SUSPENDED, EV_N };
/* The events that count against the request's API key too */
#define EV_KEY_EVENTS	((1U << EV_RATE_LIMITED) | (1U << EV_POLICY) | (1U << EV_BAD_REQUEST))
extern const char *const esc_event_names[];

struct cfg_esc_step {
	unsigned int block;		/* 0: throttle to pps, 1: drop everything */
	uint32_t pps;
	uint64_t ttl_ns;
};

/*
 * strikes events within window push the source one step on (written into
 * the XDP throttle map with the step's TTL); a source past the last step
 * repeats it with the TTL doubled each time, up to max_ttl; a quiet source
 * steps back one level for every twice its last TTL it stays quiet.
 */
struct cfg_escalation {
	uint32_t events;		/* bits of enum esc_event */
	uint32_t strikes;
	uint64_t window_ns;
	struct cfg_esc_step *steps;
	size_t nsteps;
	uint64_t max_ttl_ns;
	/*
	 * An API key that gathers strikes strikes within window is suspended
	 * at L7 for ttl (doubled for each suspension since it was last quiet
	 * for twice its TTL, up to max_ttl); a request carrying it is a 403
	 * and a key_suspended strike against its address. NULL: keys are not
	 * suspended.
	 */
	struct cfg_key_suspension {
		uint32_t strikes;
		uint64_t window_ns, ttl_ns;
	} *keys;
};

/* The encodings a model can be counted with: bpe.h's, and the estimate. */
#define TOK_ESTIMATE	2	/* after BPE_CL100K, BPE_O200K: bytes / 4 */

struct cfg_tok_model {
	char *model;			/* glob */
	unsigned int enc;		/* enum bpe_encoding, or TOK_ESTIMATE */
};

struct bpe;

struct cfg_tokenizer {
	char *ranks;			/* the tables' folder as written; NULL: the default */
	char *dir;			/* resolved */
	struct cfg_tok_model *models;	/* first match wins */
	size_t nmodels;
	unsigned int dflt;		/* for a model no glob matches */
	struct bpe *bpe[2];		/* loaded with the config: those some model uses */
};

struct keyfile;

struct cfg_keys {
	char *file;			/* as written */
	char *path;			/* resolved against the config's folder; NULL: no keys */
	struct keyfile *kf;		/* loaded with the config */
};

struct cfg_http {
	size_t max_header_bytes;	/* 431 past it; default 16 KiB */
	unsigned int max_headers;	/* 431 past it; default 100 */
	size_t max_request_line;	/* 414 past it; default 8 KiB */
	size_t max_body_bytes;		/* 413 past it; default 8 MiB */
	uint64_t header_timeout_ns;	/* full head within; default 10 s */
	uint64_t body_timeout_ns;	/* full body within; default 60 s */
	uint64_t body_min_rate;		/* bytes/s after the first second; default 1 KiB/s; 0 off */
	uint64_t idle_timeout_ns;	/* keep-alive idle; default 60 s */
	uint64_t response_timeout_ns;	/* upstream response head within; default 300 s */
};

struct cfg_model_map {
	char *from;		/* glob of the client's model */
	char *to;		/* what the backend serves */
};

struct cfg_backend {
	char *url;		/* as written */
	bool tls;		/* https */
	char host[256];		/* for SNI and verification: a v6 address without brackets */
	char authority[270];	/* for Host: host (bracketed if v6) and :port unless the default */
	uint16_t port;
	struct cfg_sockaddr addr;	/* resolved at load */
	unsigned int weight;		/* default 1 */
	unsigned int max_inflight;	/* 0: unbounded */
	struct cfg_model_map *model_map;
	size_t nmodel_map;
	char *ca_file;			/* upstream TLS trust; NULL: system store */
	bool tls_verify;		/* default true */
};

struct cfg_health {
	bool enabled;		/* active checks; passive ejection is always on */
	char method[16];	/* default GET */
	char *path;		/* default /health */
	uint64_t interval_ns;	/* default 2 s */
	uint64_t timeout_ns;	/* default 1 s */
	unsigned int rise;	/* default 2 */
	unsigned int fall;	/* default 3 */
	unsigned int eject_after;	/* passive: consecutive failures, default 5 */
	uint64_t eject_base_ns;		/* passive: first backoff, doubling, default 5 s */
	uint64_t eject_max_ns;		/* default 5 min */
};

struct cfg_pool {
	char name[CFG_NAME_LEN];
	enum lb_algorithm algorithm;
	struct cfg_backend *backends;
	size_t nbackends;
	unsigned int retries;		/* attempts after the first; default 1 */
	unsigned int retry_on;		/* RETRY_* mask; default connect|reset|502|503 */
	double retry_budget;		/* retries at most this fraction of requests; default 0.2 */
	struct cfg_health health;
	unsigned int queue_max;		/* waiting requests when all in-flight slots are taken; default 256 */
	uint64_t queue_timeout_ns;	/* default 2 s; past it: 503 + Retry-After */
	char *session_header;		/* LB_SESSION: header to hash (default x-session-id), else body "user" */
	size_t prefix_bytes;		/* LB_PREFIX: leading prompt bytes hashed; default 256 */
};

struct cfg_header_match {
	char *name;
	char *glob;
};

struct cfg_route {
	char name[CFG_NAME_LEN];
	/* match: every given field must match */
	char *method;			/* NULL: any */
	char *path_prefix;		/* NULL: any */
	char *model_glob;		/* NULL: any; matched against the body's "model" */
	size_t min_bytes, max_bytes;	/* body size; max 0: no bound */
	uint64_t max_prompt_tokens;	/* estimated; 0: no bound */
	struct cfg_header_match *headers;
	size_t nheaders;
	char **tags;			/* policy tags (set by inspection, later issue) */
	size_t ntags;
	/* action */
	bool refuse;			/* answer 404 in the API's shape instead of proxying */
	int pool;			/* index into config pools */
	int *fallback;			/* indexes, tried in order */
	size_t nfallback;
	enum api_kind api;
	struct cfg_limits limits;	/* of all the route's requests together */
};

struct cfg_xdp_iface {
	char name[16];
	int mode;			/* enum sluice_mode */
};

struct cfg_xdp {
	struct cfg_xdp_iface *ifaces;
	size_t nifaces;
	char *protected_ports;		/* as sluicectl config set ports takes it; NULL: leave */
	uint32_t pps, burst, syn;	/* default limit; 0: leave */
	uint32_t ipv6_prefix;		/* 0: leave */
	int dry_run;			/* -1 leave, 0 off, 1 on */
};


/* --- inspection (see inspect.h) --- */

enum insp_action {
	ACT_ALLOW = 0,		/* stop: the request passes as it is now */
	ACT_BLOCK,		/* stop: answer status with the rule's message */
	ACT_MASK,		/* rewrite the matched entities, go on */
	ACT_REROUTE,		/* send to the rule's pool only, go on */
	ACT_TAG,		/* add a policy tag (routes match on tags), go on */
	ACT_ESCALATE,		/* a strike against the source, go on */
};

/* What a rule judges: the prompt, the model's answer, or both */
enum rule_scope {
	SCOPE_REQUEST = 0,
	SCOPE_RESPONSE,
	SCOPE_BOTH,
};

enum mask_style {
	MASK_REDACT = 0,	/* [REDACTED] */
	MASK_PLACEHOLDER,	/* [EMAIL_1]: stable within the request */
	MASK_HASH,		/* [EMAIL:hmac8]: keyed, stable across requests */
	MASK_PARTIAL,		/* the last four characters kept: ************4242 */
};

/* Roles of text pieces, as rule scopes */
#define ROLE_SYSTEM	(1U << 0)	/* system, instructions */
#define ROLE_DEVELOPER	(1U << 1)
#define ROLE_USER	(1U << 2)	/* also prompt and input of completions/embeddings */
#define ROLE_ASSISTANT	(1U << 3)
#define ROLE_TOOL	(1U << 4)	/* tool results */
#define ROLE_TOOL_CALL	(1U << 5)	/* tool-call arguments */
#define ROLE_ALL	0x3fU

struct cfg_pattern_set {
	char name[CFG_NAME_LEN];
	char **patterns;	/* inline, then the file's lines */
	size_t npatterns;
	char **origin;		/* per pattern: "patterns[3]" or "file.txt:12", for errors */
	char *file;		/* as written; read at load, relative to the config's folder */
	bool literal;		/* patterns are plain strings, not regexes */
	bool caseless;		/* default true; false matches the unfolded text */
	bool whole_word;
};

struct cfg_rule {
	char name[CFG_NAME_LEN];
	/* match: every given condition must hold */
	uint32_t detectors;	/* PII kinds (bit = enum pii_kind); 0: not a condition */
	unsigned int min_count;	/* detections of those kinds, default 1 */
	int *sets;		/* any of these pattern sets matched */
	size_t nsets;
	int *routes;		/* the request's route is one of these */
	size_t nroutes;
	char **models;		/* globs of the body's model */
	size_t nmodels;
	struct cidr *sources;	/* the client address is in one of these */
	size_t nsources;
	uint32_t roles;		/* pieces whose detections count; default all */
	size_t min_bytes, max_bytes;	/* the request body; max 0: no bound */
	/* action */
	enum insp_action action;
	enum rule_scope scope;	/* default request */
	bool monitor;		/* record what it would do, change nothing */
	unsigned int status;	/* block: default 400 */
	char *message;		/* block: shown to the client */
	uint32_t mask_entities;	/* mask: kinds; default: the rule's detectors, else all */
	enum mask_style style;
	bool restore;		/* placeholders in the answer get their values back */
	int pool;		/* reroute */
	char tag[CFG_NAME_LEN];	/* tag */
};

struct cfg_inspect {
	bool enabled;		/* the section was given */
	uint32_t detectors;	/* built-in detectors scanned for (bit = enum pii_kind) */
	unsigned int max_depth;	/* JSON nesting; 400 past it */
	unsigned int max_pieces;	/* text pieces; 400 past it */
	size_t max_text_bytes;	/* text inspected per request (and answer); 413 past it */
	size_t response_window;	/* answer text held back on streams, for values split across events */
	bool any_response;	/* a rule judges answers */
	struct cfg_pattern_set *sets;
	size_t nsets;
	struct cfg_rule *rules;
	size_t nrules;
	char *hash_key_file;	/* HMAC key of mask style hash and prompt hashes; NULL: random per start */
};

enum audit_sync_mode { AUDIT_NONE = 0, AUDIT_INTERVAL, AUDIT_ALWAYS };
/* While the writer fails: refuse new requests with 503 (fail closed), or serve on */
enum audit_on_error { AUDIT_REFUSE = 0, AUDIT_CONTINUE };

struct cfg_audit {
	char *path;
	enum audit_sync_mode sync;
	uint64_t interval_ns;
	unsigned int queue;	/* records waiting before submitters wait */
	enum audit_on_error on_error;
	bool include_masked;	/* the masked prompt text in each record */
};

/* The admin endpoint: metrics, health, status, reload. */
struct cfg_admin {
	struct cfg_sockaddr addr;	/* TCP; unused with a unix path */
	char unix_path[108];		/* "unix:PATH": a socket file, mode 0600 */
	char *token_file;		/* bearer token; required on TCP */
	char **models;			/* model label globs, first match wins */
	size_t nmodels;
};

struct gw_config {
	char *path;
	uint64_t loaded_ns;		/* CLOCK_REALTIME of the load */
	unsigned char sha256[32];	/* of the file's bytes */
	unsigned int workers;		/* resolved: never 0 */
	struct cfg_listener *listeners;
	size_t nlisteners;
	struct cfg_http http;
	struct cfg_xdp xdp;
	struct cfg_pool *pools;
	size_t npools;
	struct cfg_route *routes;
	size_t nroutes;
	uint64_t drain_timeout_ns;	/* SIGTERM: finish in-flight within; default 30 s */
	char *user;			/* become this user once set up (priv.h); NULL: stay */
	struct cfg_inspect inspect;
	struct cfg_audit *audit;	/* NULL: no audit trail */
	struct cfg_admin *admin;	/* NULL: no admin endpoint */
	struct cfg_keys keys;
	struct cfg_tenant *tenants;
	size_t ntenants;
	struct cfg_limits_top limits;
	struct cfg_escalation *escalation;	/* NULL: no escalation */
	struct cfg_tokenizer *tokenizer;	/* NULL: prompt tokens estimated */
};

/*
 * Loads and validates path. NULL on error, with err filled with one line
 * naming the key path and the value. Backend host names are resolved here
 * (getaddrinfo), so a reload never blocks a worker on DNS.
 */
struct gw_config *config_load(const char *path, char *err, size_t errlen);
void config_free(struct gw_config *cfg);

/* Lookups by name; -1 if absent. */
int config_pool_index(const struct gw_config *cfg, const char *name);
int config_tenant_index(const struct gw_config *cfg, const char *name);

/*
 * Calls fn with the path of every key config_load() accepts, parents
 * before children: "listeners[].tls.certificates[].cert",
 * "pools.<name>.health.interval" (for docs, and the test that the sample
 * names them all).
 */
void config_key_paths(void (*fn)(const char *path, void *arg), void *arg);



#endif
