// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Strikes per source and their verdicts in the XDP throttle map (see escalate.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "gw/audit.h"
#include "gw/escalate.h"
#include "gw/gw.h"
#include "gw/priv.h"
#include "lib/cidr.h"
#include "lib/dataplane.h"
#include "lib/keyfile.h"
#include "lib/throttle.h"

#define CHAINS	4096

/* A source address, or an API key (id set: key zeroed) */
struct source {
	struct source *next;
	struct cidr key;
	char id[KEYFILE_ID_LEN + 1];
	uint64_t until;			/* a key's suspension or a source's block ends (monotonic ns) */
	uint32_t count;			/* strikes in the current window */
	uint32_t events[EV_N];		/* ... by event */
	uint64_t window_start;
	uint32_t level;			/* steps taken */
	uint64_t last_ns, last_ttl;	/* the last verdict */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct source **chain;
static size_t nsources;
static _Atomic uint64_t suspended_until;	/* the last suspension's end: past it, no lock */
static _Atomic uint64_t blocked_until;		/* the last block verdict's end: the same */
static const struct cidr no_source;		/* the key of a key's entry */
static bool full_logged;
static uint64_t written, failed, by_step[8];

int escalate_init(void)
{
	if (!chain && !(chain = calloc(CHAINS, sizeof(*chain))))
		return -ENOMEM;
	return 0;
}

void escalate_fini(void)
{
	if (!chain)
		return;
	for (int i = 0; i < CHAINS; i++)
		for (struct source *s = chain[i], *n; s; s = n) {
			n = s->next;
			free(s);
		}
	free(chain);
	chain = NULL;
	nsources = 0;
}

/* peer as the throttle map keys it: v4 /32, v6 /64 (a v4-mapped v6 as v4) */
static void key_of(const struct sockaddr_storage *peer, struct cidr *k)
{
	memset(k, 0, sizeof(*k));
	if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			k->family = SLUICE_AF_INET;
			k->prefixlen = 32;
			memcpy(&k->addr[0], &a->s6_addr[12], 4);
			return;
		}
		k->family = SLUICE_AF_INET6;
		k->prefixlen = 64;
		memcpy(k->addr, a->s6_addr, 8);
	} else {
		k->family = SLUICE_AF_INET;
		k->prefixlen = 32;
		k->addr[0] = ((const struct sockaddr_in *)peer)->sin_addr.s_addr;
	}
}

static unsigned int hash_of(const struct cidr *k, const char *id)
{
	uint32_t h = 2166136261U;
	const unsigned char *p = (const unsigned char *)k;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619U;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619U;
	return h % CHAINS;
}

/* The window a source's or a key's strikes are counted over */
static uint64_t window_of(const struct source *s, const struct cfg_escalation *e)
{
	return s->id[0] && e->keys ? e->keys->window_ns : e->window_ns;
}

/* Nothing to remember: its window is over and it has no verdict left to decay from. */
static bool spent(const struct source *s, const struct cfg_escalation *e, uint64_t now)
{
	return now - s->window_start > window_of(s, e) && now >= s->until &&
	       (!s->level || now - s->last_ns > 2 * s->last_ttl * s->level);
}

/* The source k (id ""), or the key id (k zeroed); made when absent. Under lock. */
static struct source *source_get(const struct cidr *k, const char *id,
				 const struct cfg_escalation *e, uint64_t now)
{
	struct source **pp = &chain[hash_of(k, id)], *s;

	while ((s = *pp)) {
		if (!memcmp(&s->key, k, sizeof(*k)) && !strcmp(s->id, id))
			return s;
		if (spent(s, e, now)) {
			*pp = s->next;
			free(s);
			nsources--;
			continue;
		}
		pp = &s->next;
	}
	if (nsources >= ESCALATE_SOURCES || !(s = calloc(1, sizeof(*s)))) {
		if (!full_logged)
			gw_log(0, "escalation: %zu sources tracked: strikes of new sources are ignored",
			       nsources);
		full_logged = true;
		return NULL;
	}
	full_logged = false;
	nsources++;
	s->key = *k;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->window_start = now;
	s->next = *pp;
	*pp = s;
	return s;
}

static void realtime_text(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* s's events as "a=1,b=2" for the log and "\"a\":1,\"b\":2" for the audit record */
static void events_text(const struct source *s, char *evs, size_t ns, char *evj, size_t nj)
{
	size_t o = 0, oj = 0;

	evs[0] = evj[0] = '\0';
	for (int i = 0; i < EV_N; i++) {
		if (!s->events[i])
			continue;
		if (o < ns)
			o += snprintf(evs + o, ns - o, "%s%s=%u", o ? "," : "", esc_event_names[i],
				      s->events[i]);
		if (oj < nj)
			oj += snprintf(evj + oj, nj - oj, "%s\"%s\":%u", oj ? "," : "",
				       esc_event_names[i], s->events[i]);
	}
}

/* s is blocked or suspended until then; latest keeps the last end of all (under lock: no race) */
static void until_set(struct source *s, uint64_t until, _Atomic uint64_t *latest)
{
	s->until = until;
	if (atomic_load(latest) < until)
		atomic_store(latest, until);
}

/* After a verdict or a suspension of ttl: one step up, a fresh window. */
static void stepped(struct source *s, uint64_t ttl, uint64_t now)
{
	s->last_ns = now;
	s->last_ttl = ttl;
	s->level++;
	s->count = 0;
	memset(s->events, 0, sizeof(s->events));
	s->window_start = now;
}

/* The verdict for s at step level (0-based), into the throttle map, the log and the audit trail. */
static void verdict(struct source *s, const struct cfg_escalation *e, uint64_t now)
{
	unsigned int idx = s->level < e->nsteps ? s->level : e->nsteps - 1;
	const struct cfg_esc_step *st = &e->steps[idx];
	uint64_t ttl = st->ttl_ns;
	char src[CIDR_STRLEN], why[SLUICE_REASON_LEN], evs[160], evj[EV_N * 32], ts[64], pps[24] = "";
	char *rec = NULL;
	struct dataplane dp;
	int err;

	for (uint32_t extra = s->level >= e->nsteps ? s->level - (e->nsteps - 1) : 0;
	     extra-- && ttl < e->max_ttl_ns;)
		ttl *= 2;
	if (ttl > e->max_ttl_ns)
		ttl = e->max_ttl_ns;
	cidr_format(&s->key, src, sizeof(src));
	events_text(s, evs, sizeof(evs), evj, sizeof(evj));
	if (st->block)
		until_set(s, now + ttl, &blocked_until);
	/* the map keeps 31 bytes of reason: a '+' ends one cut short (the log and audit have it all) */
	if (snprintf(why, sizeof(why), "escalation %u: %s", idx + 1, evs) >= (int)sizeof(why))
		why[sizeof(why) - 2] = '+';
	err = priv_dp_get(&dp, DP_LOCK | DP_NOCREATE);
	if (!err) {
		err = throttle_add(&dp, &s->key, st->block ? 0 : st->pps, st->block ? 0 : st->pps,
				   ttl, why, SLUICE_ORIGIN_DAEMON);
		priv_dp_put(&dp);
	}
	if (err) {
		failed++;
		gw_log(0, "escalation: source=%s step=%u: cannot write the throttle map: %s", src,
		       idx + 1, strerror(-err));
	} else {
		written++;
		by_step[idx < 8 ? idx : 7]++;
		if (!st->block)
			snprintf(pps, sizeof(pps), " pps=%u", st->pps);
		gw_log(1, "escalation source=%s step=%u action=%s%s ttl=%llus events=\"%s\"", src,
		       idx + 1, st->block ? "block" : "throttle", pps,
		       (unsigned long long)(ttl / 1000000000ULL), evs);
	}
	if (gw_audit) {
		realtime_text(ts, sizeof(ts));
		if (asprintf(&rec, "\"ts\":\"%s\",\"event\":\"escalation\",\"source\":\"%s\","
			     "\"step\":%u,\"action\":\"%s\",\"pps\":%u,\"ttl_s\":%llu,"
			     "\"strikes\":%u,\"window_s\":%llu,\"events\":{%s},\"written\":%s",
			     ts, src, idx + 1, st->block ? "block" : "throttle", st->block ? 0 : st->pps,
			     (unsigned long long)(ttl / 1000000000ULL), s->count,
			     (unsigned long long)(e->window_ns / 1000000000ULL), evj,
			     err ? "false" : "true") < 0)
			rec = NULL;
		if (!rec || !audit_submit(gw_audit, rec, strlen(rec)))
			gw_log(0, "audit: no record of the escalation of %s: %s", src,
			       rec ? strerror(errno) : "out of memory");
		free(rec);
	}
	stepped(s, ttl, now);
}

/* n events ev on s; true when they cross its threshold. Under lock. */
static bool count(struct source *s, const struct cfg_escalation *e, uint32_t strikes,
		  enum esc_event ev, unsigned int n, uint64_t now)
{
	/* quiet since the last verdict: a step back for every twice its TTL */
	if (s->level && s->last_ttl && now - s->last_ns > 2 * s->last_ttl) {
		uint64_t back = (now - s->last_ns) / (2 * s->last_ttl);

		s->level = back >= s->level ? 0 : s->level - (uint32_t)back;
		s->last_ns = now;
	}
	if (now - s->window_start > window_of(s, e)) {
		s->window_start = now;
		s->count = 0;
		memset(s->events, 0, sizeof(s->events));
	}
	s->count += n;
	s->events[ev] += n;
	return s->count >= strikes;
}

void escalate_strike(const struct gw_config *cfg, const struct sockaddr_storage *peer,
		     enum esc_event ev, unsigned int n, uint64_t now)
{
	const struct cfg_escalation *e = cfg->escalation;
	struct cidr k;
	struct source *s;

	if (!e || !n || !(e->events & (1U << ev)) || !chain)
		return;
	if (peer->ss_family != AF_INET && peer->ss_family != AF_INET6)
		return;
	key_of(peer, &k);
	pthread_mutex_lock(&lock);
	if ((s = source_get(&k, "", e, now)) && count(s, e, e->strikes, ev, n, now))
		verdict(s, e, now);
	pthread_mutex_unlock(&lock);
}

/* s, a key, is suspended: for its TTL, doubled for each suspension it has not been quiet since. */
static void suspend(struct source *s, const struct cfg_escalation *e, const char *tenant,
		    uint64_t now)
{
	uint64_t ttl = e->keys->ttl_ns;
	char evs[160], evj[EV_N * 32], ts[64], *rec = NULL;

	for (uint32_t i = 0; i < s->level && ttl < e->max_ttl_ns; i++)
		ttl *= 2;
	if (ttl > e->max_ttl_ns)
		ttl = e->max_ttl_ns;
	events_text(s, evs, sizeof(evs), evj, sizeof(evj));
	until_set(s, now + ttl, &suspended_until);
	gw_log(1, "escalation key=%s tenant=%s action=suspend ttl=%llus events=\"%s\"", s->id, tenant,
	       (unsigned long long)(ttl / 1000000000ULL), evs);
	if (gw_audit) {
		realtime_text(ts, sizeof(ts));
		if (asprintf(&rec, "\"ts\":\"%s\",\"event\":\"key_suspension\",\"key\":\"%s\","
			     "\"tenant\":\"%s\",\"ttl_s\":%llu,\"strikes\":%u,\"window_s\":%llu,"
			     "\"events\":{%s}", ts, s->id, tenant, (unsigned long long)(ttl / 1000000000ULL),
			     s->count, (unsigned long long)(e->keys->window_ns / 1000000000ULL), evj) < 0)
			rec = NULL;
		if (!rec || !audit_submit(gw_audit, rec, strlen(rec)))
			gw_log(0, "audit: no record of the suspension of key %s: %s", s->id,
			       rec ? strerror(errno) : "out of memory");
		free(rec);
	}
	stepped(s, ttl, now);
}

void escalate_key_strike(const struct gw_config *cfg, const char *id, const char *tenant,
			 enum esc_event ev, unsigned int n, uint64_t now)
{
	const struct cfg_escalation *e = cfg->escalation;
	struct source *s;

	if (!e || !e->keys || !n || !(e->events & EV_KEY_EVENTS & (1U << ev)) || !chain || !*id)
		return;
	pthread_mutex_lock(&lock);
	if ((s = source_get(&no_source, id, e, now)) && now >= s->until &&
	    count(s, e, e->keys->strikes, ev, n, now))
		suspend(s, e, tenant, now);
	pthread_mutex_unlock(&lock);
}

/* ns the suspension or block of (k, id) still runs; 0: none */
static uint64_t left_of(const struct cidr *k, const char *id, uint64_t now)
{
	struct source *s;
	uint64_t left = 0;

	pthread_mutex_lock(&lock);
	for (s = chain[hash_of(k, id)]; s; s = s->next)
		if (!memcmp(&s->key, k, sizeof(*k)) && !strcmp(s->id, id)) {
			left = s->until > now ? s->until - now : 0;
			break;
		}
	pthread_mutex_unlock(&lock);
	return left;
}

uint64_t escalate_blocked(const struct sockaddr_storage *peer, uint64_t now)
{
	struct cidr k;

	if (now >= atomic_load_explicit(&blocked_until, memory_order_relaxed) || !chain ||
	    (peer->ss_family != AF_INET && peer->ss_family != AF_INET6))
		return 0;
	key_of(peer, &k);
	return left_of(&k, "", now);
}

uint64_t escalate_key_suspended(const char *id, uint64_t now)
{
	if (now >= atomic_load_explicit(&suspended_until, memory_order_relaxed) || !chain)
		return 0;
	return left_of(&no_source, id, now);
}

int escalate_export(struct state_escalation **out, size_t *n, uint64_t now)
{
	struct state_escalation *v = NULL, *p;
	size_t cap = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!chain)
		return 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < CHAINS; i++)
		for (const struct source *s = chain[i]; s; s = s->next) {
			if (s->until <= now && !s->level)
				continue;
			if (*n == cap) {
				cap = cap ? 2 * cap : 16;
				if (!(p = reallocarray(v, cap, sizeof(*v)))) {
					ret = -ENOMEM;
					goto out;
				}
				v = p;
			}
			p = &v[(*n)++];
			memset(p, 0, sizeof(*p));
			p->key = s->id[0];
			if (p->key)
				snprintf(p->id, sizeof(p->id), "%s", s->id);
			else
				cidr_format(&s->key, p->id, sizeof(p->id));
			p->left = s->until > now ? s->until - now : 0;
			p->since = s->level && now > s->last_ns ? now - s->last_ns : 0;
			p->ttl = s->last_ttl;
			p->level = s->level;
		}
out:
	pthread_mutex_unlock(&lock);
	if (ret) {
		free(v);
		*n = 0;
		return ret;
	}
	*out = v;
	return 0;
}

void escalate_import(const struct gw_config *cfg, const struct state_escalation *es, uint64_t now)
{
	const struct cfg_escalation *e = cfg->escalation;
	struct cidr k = no_source;
	struct source *s;
	const char *why;

	if (!e || !chain || (!es->left && !es->level))
		return;
	if (!es->key && cidr_parse(es->id, &k, &why)) {
		gw_log(0, "escalation: state: address \"%s\": %s; not taken back", es->id, why);
		return;
	}
	pthread_mutex_lock(&lock);
	if ((s = source_get(&k, es->key ? es->id : "", e, now))) {
		if (es->left)
			until_set(s, now + es->left, es->key ? &suspended_until : &blocked_until);
		s->level = es->level;
		s->last_ttl = es->ttl;
		s->last_ns = es->since < now ? now - es->since : 0;
	}
	pthread_mutex_unlock(&lock);
}

void escalate_counts(uint64_t *w, uint64_t *f, uint64_t bs[8])
{
	pthread_mutex_lock(&lock);
	*w = written;
	*f = failed;
	memcpy(bs, by_step, sizeof(by_step));
	pthread_mutex_unlock(&lock);
}
