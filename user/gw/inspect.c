// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Prompt inspection: walk, scan, rules, masks (see inspect.h). */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "gw/inspect.h"
#include "gw/jsonreq.h"

static const char *const decision_names[] = {
	[DEC_ALLOWED] = "allowed", [DEC_MODIFIED] = "modified", [DEC_BLOCKED] = "blocked",
	[DEC_REROUTED] = "rerouted", [DEC_THROTTLED] = "throttled", [DEC_ERROR] = "error",
};

const char *decision_name(enum decision d)
{
	return d <= DEC_ERROR ? decision_names[d] : "error";
}

/* --- keyed hashes --------------------------------------------------------- */

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

EVP_MAC_CTX *insp_mac_new(const unsigned char *key)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;

	/* Fetched once: a fetch walks the provider store under its lock, and
	 * cost more than the hash of a 1 KB prompt (OpenSSL 3.0) */
	pthread_once(&hmac_once, hmac_fetch);
	ctx = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
	if (ctx && !EVP_MAC_init(ctx, key, INSP_HASH_KEY, params)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

void insp_hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * A context keyed for this request's hashes: a copy of the runtime's keyed
 * one (keying fetches SHA-256 and hashes the pads: more than hashing a 1 KB
 * prompt costs), or keyed anew when there is none (tests, tools).
 */
static EVP_MAC_CTX *hmac_new(const struct insp_ctx *ictx)
{
	return ictx->mac ? EVP_MAC_CTX_dup(ictx->mac) : insp_mac_new(ictx->key);
}

void insp_hmac_hex(const struct insp_ctx *ictx, const void *data, size_t len, size_t n,
		   char *out)
{
	unsigned char md[32] = { 0 };
	EVP_MAC_CTX *ctx = hmac_new(ictx);
	size_t mdlen = 0;

	if (ctx) {
		EVP_MAC_update(ctx, data, len);
		EVP_MAC_final(ctx, md, &mdlen, sizeof(md));
		EVP_MAC_CTX_free(ctx);
	}
	insp_hex(md, n > 32 ? 32 : n, out);
}

/* --- the walk ------------------------------------------------------------- */

struct walk {
	const struct insp_ctx *ctx;
	struct inspection *in;
	size_t text_bytes;
	int err;
};

static uint32_t role_of(const cJSON *role)
{
	static const struct {
		const char *name;
		uint32_t role;
	} roles[] = {
		{ "system", ROLE_SYSTEM }, { "developer", ROLE_DEVELOPER }, { "user", ROLE_USER },
		{ "assistant", ROLE_ASSISTANT }, { "tool", ROLE_TOOL }, { "function", ROLE_TOOL },
	};

	if (cJSON_IsString(role))
		for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
			if (!strcmp(role->valuestring, roles[i].name))
				return roles[i].role;
	/* unknown: scoped like the user's own words */
	return ROLE_USER;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void piece(struct walk *w, const cJSON *node, uint32_t role)
{
	struct inspection *in = w->in;
	const struct cfg_inspect *cfg = w->ctx->cfg;
	size_t n;

	if (w->err || !cJSON_IsString(node) || !node->valuestring)
		return;
	n = strlen(node->valuestring);
	w->text_bytes += n;
	if (w->text_bytes > cfg->max_text_bytes) {
		snprintf(in->why, sizeof(in->why), "the prompt text is over the %zu-byte limit",
			 cfg->max_text_bytes);
		w->err = -EMSGSIZE;
		return;
	}
	if (in->npieces == cfg->max_pieces) {
		snprintf(in->why, sizeof(in->why), "more than %u text pieces in the request",
			 cfg->max_pieces);
		w->err = -E2BIG;
		return;
	}
	if (in->npieces == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 16;
		struct insp_piece *p = realloc(in->pieces, cap * sizeof(*p));

		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		memset(p + in->cap, 0, (cap - in->cap) * sizeof(*p));
		in->pieces = p;
		in->cap = cap;
	}
	in->pieces[in->npieces].node = (cJSON *)node;
	in->pieces[in->npieces++].role = role;
}

/* Every string under v (tool_use input: the arguments the model wrote). */
static void all_strings(struct walk *w, const cJSON *v, uint32_t role)
{
	const cJSON *it;

	if (cJSON_IsString(v)) {
		piece(w, v, role);
		return;
	}
	cJSON_ArrayForEach(it, v)
		all_strings(w, it, role);
}

static void content(struct walk *w, const cJSON *v, uint32_t role);

static void message(struct walk *w, const cJSON *m)
{
	uint32_t role = role_of(get(m, "role"));
	const cJSON *tc;

	content(w, get(m, "content"), role);
	cJSON_ArrayForEach(tc, get(m, "tool_calls"))
		piece(w, get(get(tc, "function"), "arguments"), ROLE_TOOL_CALL);
	piece(w, get(get(m, "function_call"), "arguments"), ROLE_TOOL_CALL);
}

/* One part of a content array, or an item of a Responses input. */
static void part(struct walk *w, const cJSON *p, uint32_t role)
{
	const cJSON *type = get(p, "type");
	const char *t = cJSON_IsString(type) ? type->valuestring : "";

	if (!strcmp(t, "tool_use")) {
		all_strings(w, get(p, "input"), ROLE_TOOL_CALL);
	} else if (!strcmp(t, "tool_result")) {
		content(w, get(p, "content"), ROLE_TOOL);
	} else if (!strcmp(t, "function_call")) {
		piece(w, get(p, "arguments"), ROLE_TOOL_CALL);
	} else if (!strcmp(t, "function_call_output")) {
		piece(w, get(p, "output"), ROLE_TOOL);
	} else if (get(p, "role") && (!*t || !strcmp(t, "message"))) {
		message(w, p);
	} else {
		/* text, input_text, output_text, and untyped {"text": ...} */
		piece(w, get(p, "text"), role);
	}
}

static void content(struct walk *w, const cJSON *v, uint32_t role)
{
	const cJSON *it;

	if (cJSON_IsString(v)) {
		piece(w, v, role);
		return;
	}
	if (!cJSON_IsArray(v))
		return;
	cJSON_ArrayForEach(it, v) {
		if (cJSON_IsString(it))
			piece(w, it, role);
		else if (cJSON_IsObject(it))
			part(w, it, role);
	}
}

static void walk_body(struct walk *w, const cJSON *root)
{
	const cJSON *m;

	content(w, get(root, "instructions"), ROLE_SYSTEM);
	content(w, get(root, "system"), ROLE_SYSTEM);
	cJSON_ArrayForEach(m, get(root, "messages"))
		if (cJSON_IsObject(m))
			message(w, m);
	content(w, get(root, "prompt"), ROLE_USER);
	content(w, get(root, "input"), ROLE_USER);
}

static bool too_deep(const cJSON *v, unsigned int depth, unsigned int max)
{
	const cJSON *it;

	if (depth > max)
		return true;
	cJSON_ArrayForEach(it, v)
		if ((cJSON_IsArray(it) || cJSON_IsObject(it)) && too_deep(it, depth + 1, max))
			return true;
	return false;
}

/* --- rules ---------------------------------------------------------------- */

static bool source_in(const struct cfg_rule *r, const struct sockaddr_storage *ss)
{
	struct cidr a;

	if (!r->nsources)
		return true;
	return ss && !cidr_from_sockaddr(ss, &a) && cidr_list_has(r->sources, r->nsources, &a);
}

/* Does r match? Its detections and sets are counted into reason. */
static bool rule_matches(const struct insp_ctx *ctx, const struct inspection *in,
			 const struct cfg_rule *r, struct insp_reason *reason)
{
	unsigned int count = 0;
	uint64_t want = 0, sets = 0;
	bool ok;

	if (r->scope != SCOPE_BOTH && (r->scope == SCOPE_RESPONSE) != ctx->answer)
		return false;
	if (r->nroutes) {
		ok = false;
		for (size_t i = 0; i < r->nroutes && !ok; i++)
			ok = r->routes[i] == ctx->route;
		if (!ok)
			return false;
	}
	if (r->nmodels) {
		ok = false;
		for (size_t i = 0; i < r->nmodels && !ok; i++)
			ok = ctx->model && !fnmatch(r->models[i], ctx->model, 0);
		if (!ok)
			return false;
	}
	if (ctx->body_len < r->min_bytes || (r->max_bytes && ctx->body_len > r->max_bytes))
		return false;
	if (!source_in(r, ctx->peer))
		return false;
	memset(reason, 0, sizeof(*reason));
	for (size_t i = 0; i < r->nsets; i++)
		want |= 1ULL << r->sets[i];
	for (size_t i = 0; i < in->npieces; i++) {
		const struct insp_piece *p = &in->pieces[i];

		if (!(p->role & r->roles))
			continue;
		for (unsigned int k = 0; k < PII_NKINDS; k++)
			if (r->detectors & (1U << k)) {
				reason->counts[k] += p->r.counts[k];
				count += p->r.counts[k];
			}
		sets |= p->r.sets & want;
	}
	if (r->detectors && count < r->min_count)
		return false;
	if (r->nsets && !sets)
		return false;
	reason->sets = sets;
	return true;
}

static int reason_add(struct inspection *in, const struct insp_reason *r)
{
	if (in->nreasons == in->rcap) {
		size_t cap = in->rcap ? 2 * in->rcap : 8;
		struct insp_reason *p = realloc(in->reasons, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		in->reasons = p;
		in->rcap = cap;
	}
	in->reasons[in->nreasons++] = *r;
	return 0;
}

/* Marks the hits a mask rule rewrites; the first rule to claim a hit sets its style. */
static void mask_mark(struct inspection *in, const struct cfg_rule *r)
{
	for (size_t i = 0; i < in->npieces; i++) {
		struct insp_piece *p = &in->pieces[i];

		if (!(p->role & r->roles))
			continue;
		for (size_t h = 0; h < p->r.nhits; h++)
			if (!p->r.hits[h].mask && (r->mask_entities & (1U << p->r.hits[h].kind)))
				p->r.hits[h].mask = r->style + 1;
	}
	if (r->restore)
		in->restore = true;
}

static int run_rules(const struct insp_ctx *ctx, struct inspection *in)
{
	bool masked = false, would_mask = false, would_reroute = false, would_block = false;
	struct insp_reason reason;

	for (size_t i = 0; i < ctx->cfg->nrules; i++) {
		const struct cfg_rule *r = &ctx->cfg->rules[i];

		if (!rule_matches(ctx, in, r, &reason))
			continue;
		reason.rule = i;
		reason.monitor = r->monitor;
		if (reason_add(in, &reason))
			return -ENOMEM;
		if (r->monitor) {
			would_block |= r->action == ACT_BLOCK;
			would_mask |= r->action == ACT_MASK;
			would_reroute |= r->action == ACT_REROUTE;
			continue;
		}
		switch (r->action) {
		case ACT_ALLOW:
			goto done;
		case ACT_BLOCK:
			in->block_rule = i;
			goto done;
		case ACT_MASK:
			mask_mark(in, r);
			masked = true;
			break;
		case ACT_REROUTE:
			if (in->reroute < 0)
				in->reroute = r->pool;
			break;
		case ACT_TAG:
			if (in->ntags < INSP_MAX_TAGS)
				in->tags[in->ntags++] = r->tag;
			break;
		case ACT_ESCALATE:
			in->escalations++;
			break;
		}
	}
done:
	in->decision = in->block_rule >= 0 ? DEC_BLOCKED : in->reroute >= 0 ? DEC_REROUTED :
		       masked ? DEC_MODIFIED : DEC_ALLOWED;
	in->would = in->decision;
	if (in->decision != DEC_BLOCKED && would_block)
		in->would = DEC_BLOCKED;
	else if (in->would == DEC_ALLOWED && would_reroute)
		in->would = DEC_REROUTED;
	else if (in->would == DEC_ALLOWED && would_mask)
		in->would = DEC_MODIFIED;
	return 0;
}

/* --- masks ---------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = malloc(cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		/* grown by copy, so the old bytes can be wiped: they hold prompt text */
		if (b->p) {
			memcpy(p, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_free(struct sbuf *b)
{
	if (b->p)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* The placeholder of value, the same one each time the request repeats it. */
static const char *placeholder(struct inspection *in, uint32_t kind, const char *v, size_t n)
{
	const char *entity = pii_detectors[kind].entity;
	unsigned int seq = 1;
	struct insp_value *x;

	for (size_t i = 0; i < in->nvalues; i++) {
		x = &in->values[i];
		if (!strcmp(pii_detectors[x->kind].entity, entity)) {
			if (x->len == n && !memcmp(x->value, v, n))
				return x->label;
			seq++;
		}
	}
	if (in->nvalues == in->vcap) {
		size_t cap = in->vcap ? 2 * in->vcap : 8;

		x = realloc(in->values, cap * sizeof(*x));
		if (!x)
			return NULL;
		in->values = x;
		in->vcap = cap;
	}
	x = &in->values[in->nvalues];
	x->value = malloc(n + 1);
	if (!x->value)
		return NULL;
	memcpy(x->value, v, n);
	x->value[n] = '\0';
	x->len = n;
	x->kind = kind;
	snprintf(x->label, sizeof(x->label), "[%s_%u]", entity, seq);
	in->nvalues++;
	return x->label;
}

/* The text that stands for v in style. */
static void replacement(const struct insp_ctx *ctx, struct inspection *in, struct sbuf *out,
			unsigned int style, uint32_t kind, const char *v, size_t n)
{
	const char *entity = pii_detectors[kind].entity, *label;
	char h[2 * 6 + 1], tmp[64];
	size_t alnum = 0, kept = 0;

	switch (style) {
	case MASK_PLACEHOLDER:
		label = placeholder(in, kind, v, n);
		if (!label) {
			out->err = -ENOMEM;
			return;
		}
		sb_add(out, label, strlen(label));
		return;
	case MASK_HASH:
		insp_hmac_hex(ctx, v, n, 6, h);
		snprintf(tmp, sizeof(tmp), "[%s:%s]", entity, h);
		sb_add(out, tmp, strlen(tmp));
		return;
	case MASK_PARTIAL:
		/* every letter and digit but the last four becomes '*'; separators stay */
		for (size_t i = 0; i < n; i++)
			alnum += (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
				 (v[i] >= 'A' && v[i] <= 'Z') || (unsigned char)v[i] >= 0x80;
		for (size_t i = 0; i < n; i++) {
			bool an = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
				  (v[i] >= 'A' && v[i] <= 'Z') || (unsigned char)v[i] >= 0x80;

			if (!an) {
				sb_add(out, v + i, 1);
				continue;
			}
			kept++;
			/* short values keep nothing: four of five would be the value */
			if (alnum >= 8 && kept > alnum - 4 && (unsigned char)v[i] < 0x80)
				sb_add(out, v + i, 1);
			else if ((unsigned char)v[i] < 0x80 || ((unsigned char)v[i] & 0xc0) != 0x80)
				sb_add(out, "*", 1);
		}
		return;
	default:
		sb_add(out, "[REDACTED]", 10);
		return;
	}
}

/*
 * Rewrites a piece whose hits are marked: overlapping spans merge into one
 * mask. *len is the text's length (an answer's may hold NUL bytes), and
 * the new one after a rewrite.
 */
static int mask_piece(const struct insp_ctx *ctx, struct inspection *in, struct insp_piece *p,
		      size_t *len)
{
	const char *s = p->node->valuestring;
	size_t pos = 0, n = *len;
	struct sbuf out = { 0 };
	int err;

	for (size_t h = 0; h < p->r.nhits; h++) {
		const struct detect_hit *x = &p->r.hits[h];
		size_t end = x->end;

		if (!x->mask)
			continue;
		if (x->start < pos)	/* inside the span just masked */
			continue;
		for (size_t j = h + 1; j < p->r.nhits && p->r.hits[j].start < end; j++)
			if (p->r.hits[j].mask && p->r.hits[j].end > end)
				end = p->r.hits[j].end;
		sb_add(&out, s + pos, x->start - pos);
		replacement(ctx, in, &out, x->mask - 1, x->kind, s + x->start, end - x->start);
		in->masked[x->kind]++;
		pos = end;
	}
	if (!pos)
		return 0;
	sb_add(&out, s + pos, n - pos);
	if (out.err) {
		err = out.err;
		sb_free(&out);
		return err;
	}
	explicit_bzero(p->node->valuestring, n);
	free(p->node->valuestring);
	p->node->valuestring = out.p;	/* cJSON frees it with free() */
	*len = out.len;
	return 1;
}

static void prompt_hash(const struct insp_ctx *ctx, struct inspection *in)
{
	EVP_MAC_CTX *mac = hmac_new(ctx);
	size_t len = 0;

	if (!mac)
		return;
	for (size_t i = 0; i < in->npieces; i++) {
		const char *s = in->pieces[i].node->valuestring;

		/* the NUL too: "ab","c" and "a","bc" hash apart */
		EVP_MAC_update(mac, (const unsigned char *)s, strlen(s) + 1);
	}
	EVP_MAC_final(mac, in->prompt_hash, &len, sizeof(in->prompt_hash));
	EVP_MAC_CTX_free(mac);
}

static void inspection_init(struct inspection *in)
{
	memset(in, 0, sizeof(*in));
	in->block_rule = -1;
	in->reroute = -1;
}

int inspect_tree(const struct insp_ctx *ctx, cJSON *root, struct inspection *in)
{
	struct walk w = { .ctx = ctx, .in = in };
	bool changed = false;
	int err = 0;

	inspection_init(in);
	if (too_deep(root, 1, ctx->cfg->max_depth)) {
		snprintf(in->why, sizeof(in->why), "the request body nests deeper than %u levels",
			 ctx->cfg->max_depth);
		err = -E2BIG;
		goto out;
	}
	walk_body(&w, root);
	if ((err = w.err))
		goto out;
	if (ctx->hash_prompt)
		prompt_hash(ctx, in);
	for (size_t i = 0; i < in->npieces; i++) {
		struct insp_piece *p = &in->pieces[i];
		const char *s = p->node->valuestring;

		if ((err = detect_piece(ctx->db, ctx->scan, s, strlen(s), &p->r)))
			goto out;
		for (unsigned int k = 0; k < PII_NKINDS; k++)
			in->counts[k] += p->r.counts[k];
		in->sets |= p->r.sets;
		in->truncated |= p->r.truncated;
	}
	if ((err = run_rules(ctx, in)))
		goto out;
	if (in->decision == DEC_BLOCKED)
		goto out;
	for (size_t i = 0; i < in->npieces; i++) {
		size_t n = strlen(in->pieces[i].node->valuestring);
		int r = mask_piece(ctx, in, &in->pieces[i], &n);

		if (r < 0) {
			err = r;
			goto out;
		}
		changed |= r;
	}
	if (ctx->keep_masked) {
		struct sbuf t = { 0 };

		for (size_t i = 0; i < in->npieces; i++) {
			const char *s = in->pieces[i].node->valuestring;

			if (i)
				sb_add(&t, "\n", 1);
			sb_add(&t, s, strlen(s));
		}
		if (t.err) {
			sb_free(&t);
			err = -ENOMEM;
			goto out;
		}
		in->masked_text = t.p;
		in->masked_len = t.len;
	}
	if (changed) {
		in->body = cJSON_PrintUnformatted(root);
		if (!in->body) {
			err = -ENOMEM;
			goto out;
		}
		in->body_len = strlen(in->body);
		if (in->decision == DEC_ALLOWED)
			in->decision = DEC_MODIFIED;
	}
out:
	/* the pieces point into the tree: they are done with */
	for (size_t i = 0; i < in->npieces; i++)
		in->pieces[i].node = NULL;
	return err;
}

int inspect_request(const struct insp_ctx *ctx, const char *body, size_t len,
		    struct inspection *in)
{
	struct jsonreq_error jerr;
	cJSON *root;
	int err;

	/* strictly: what is inspected must be what the backend reads (jsonreq.h) */
	root = jsonreq_parse(body, len, &jerr);
	if (!root) {
		err = -errno;
		inspection_init(in);
		snprintf(in->why, sizeof(in->why), "%s", jerr.why);
		return err;
	}
	err = inspect_tree(ctx, root, in);
	jsonreq_delete(root);
	return err;
}

/* An answer's reason into the request's: one per rule, counts summed. 1 when new. */
static int answer_reason(struct inspection *in, const struct insp_reason *r)
{
	struct insp_reason a = *r;

	for (size_t i = 0; i < in->nreasons; i++) {
		struct insp_reason *x = &in->reasons[i];

		if (!x->answer || x->rule != r->rule)
			continue;
		for (unsigned int k = 0; k < PII_NKINDS; k++)
			x->counts[k] += r->counts[k];
		x->sets |= r->sets;
		return 0;
	}
	a.answer = true;
	return reason_add(in, &a) ? -ENOMEM : 1;
}

/* Where a stream's answer text may be cut: before the window, a detection or a split character. */
static size_t release_point(const char *s, size_t len, const struct detect_result *r,
			    size_t window)
{
	size_t cut = len > window ? len - window : 0;
	bool moved = true;

	/* overlapping hits of different kinds: until no hit spans the cut */
	while (moved) {
		moved = false;
		for (size_t h = 0; h < r->nhits; h++)
			if (r->hits[h].start < cut && r->hits[h].end > cut) {
				cut = r->hits[h].start;
				moved = true;
			}
	}
	while (cut && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	return cut;
}

int inspect_answer(const struct insp_ctx *ctx, struct inspection *in, const char *text,
		   size_t len, bool final, size_t window, size_t *upto, char **out, size_t *olen)
{
	struct inspection a = { .block_rule = -1, .reroute = -1 };
	struct insp_piece p = { .role = ROLE_ASSISTANT };
	size_t cut = len, n;
	int err, masked;

	*out = NULL;
	*olen = 0;
	*upto = 0;
	if (!len)
		return 0;
	if (!(p.node = cJSON_CreateString("")))
		return -ENOMEM;
	free(p.node->valuestring);
	/* all len bytes, NULs too (a body that is not JSON): what is masked is what was scanned */
	if (!(p.node->valuestring = malloc(len + 1))) {
		cJSON_Delete(p.node);
		return -ENOMEM;
	}
	memcpy(p.node->valuestring, text, len);
	p.node->valuestring[len] = '\0';
	a.pieces = &p;
	a.npieces = 1;
	if ((err = detect_piece(ctx->db, ctx->scan, text, len, &p.r)) ||
	    (err = run_rules(ctx, &a)))
		goto out;
	for (size_t i = 0; i < a.nreasons; i++) {
		int fresh = answer_reason(in, &a.reasons[i]);
		const struct cfg_rule *r = &ctx->cfg->rules[a.reasons[i].rule];

		if (fresh < 0) {
			err = fresh;
			goto out;
		}
		if (fresh && !r->monitor && r->action == ACT_ESCALATE)
			in->escalations++;
	}
	if (a.would == DEC_BLOCKED)
		in->would = DEC_BLOCKED;
	else if (a.would == DEC_MODIFIED && in->would == DEC_ALLOWED)
		in->would = DEC_MODIFIED;
	if (a.decision == DEC_BLOCKED) {
		in->block_rule = a.block_rule;
		in->answer_blocked = true;
		in->decision = DEC_BLOCKED;
		err = 1;
		goto out;
	}
	if (!final) {
		cut = release_point(text, len, &p.r, window);
		/* what lies past the cut is judged again with what follows */
		for (size_t h = 0; h < p.r.nhits; h++)
			if (p.r.hits[h].end > cut)
				p.r.hits[h].mask = 0;
		p.node->valuestring[cut] = '\0';
	}
	*upto = n = cut;
	if ((masked = mask_piece(ctx, &a, &p, &n)) < 0) {
		err = masked;
		goto out;
	}
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		in->answer_masked[k] += a.masked[k];
	if (masked) {
		*olen = n;
		*out = p.node->valuestring;
		p.node->valuestring = NULL;
		if (in->decision == DEC_ALLOWED)
			in->decision = DEC_MODIFIED;
	}
out:
	if (p.node->valuestring)
		explicit_bzero(p.node->valuestring, len);
	cJSON_Delete(p.node);
	detect_result_free(&p.r);
	free(a.reasons);
	return err;
}

void inspection_free(struct inspection *in)
{
	for (size_t i = 0; i < in->cap; i++)
		detect_result_free(&in->pieces[i].r);
	free(in->pieces);
	free(in->reasons);
	for (size_t i = 0; i < in->nvalues; i++) {
		explicit_bzero(in->values[i].value, in->values[i].len);
		free(in->values[i].value);
	}
	free(in->values);
	if (in->body) {
		explicit_bzero(in->body, in->body_len);
		free(in->body);
	}
	if (in->masked_text) {
		explicit_bzero(in->masked_text, in->masked_len);
		free(in->masked_text);
	}
	memset(in, 0, sizeof(*in));
	in->block_rule = -1;
	in->reroute = -1;
}

/* --- restore -------------------------------------------------------------- */

static void json_escaped(struct sbuf *b, const char *s, size_t n)
{
	char u[8];

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = s[i];

		if (ch == '"' || ch == '\\') {
			sb_add(b, "\\", 1);
			sb_add(b, s + i, 1);
		} else if (ch < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", ch);
			sb_add(b, u, 6);
		} else {
			sb_add(b, s + i, 1);
		}
	}
}

char *insp_restore(const struct inspection *in, const char *text, size_t len, bool json,
		   size_t *olen)
{
	struct sbuf out = { 0 };
	size_t pos = 0, i = 0;

	*olen = 0;
	if (!in->nvalues)
		return NULL;
	while (i < len) {
		const char *br = memchr(text + i, '[', len - i);
		const struct insp_value *hit = NULL;

		if (!br)
			break;
		i = br - text;
		for (size_t v = 0; v < in->nvalues && !hit; v++) {
			size_t l = strlen(in->values[v].label);

			if (l <= len - i && !memcmp(text + i, in->values[v].label, l))
				hit = &in->values[v];
		}
		if (!hit) {
			i++;
			continue;
		}
		sb_add(&out, text + pos, i - pos);
		if (json)
			json_escaped(&out, hit->value, hit->len);
		else
			sb_add(&out, hit->value, hit->len);
		i += strlen(hit->label);
		pos = i;
	}
	if (!pos) {
		sb_free(&out);
		return NULL;
	}
	sb_add(&out, text + pos, len - pos);
	if (out.err) {
		sb_free(&out);
		return NULL;
	}
	*olen = out.len;
	return out.p;
}
