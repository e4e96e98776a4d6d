// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_xdp: per-source blocklist, daemon verdicts and rate limits,
 * enforced before the kernel allocates an skb.
 *
 * Verdict order: malformed -> drop; allowlist -> pass; blocklist -> drop;
 * throttle verdict -> drop or cap; per-source pps and SYN/s -> drop; pass.
 * Every packet is counted under exactly one reason.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>
#include "maps.h"
#include "parsing.h"
#include "gcra.h"

#define NSEC_PER_SEC		1000000000ULL
/* Nested expired entries a lookup steps past before giving up (userspace sweeps them) */
#define MAX_EXPIRED_STEPS	4

/* Stats slot of the interface this copy is attached to; set at load time */
const volatile __u32 if_slot = 0;

static __always_inline int active(const struct sluice_rule *r, __u64 now)
{
	return !r->expires_ns || r->expires_ns > now;
}

/*
 * Longest unexpired match of addr in an LPM map of sluice_rule. An expired
 * entry hides nothing: the lookup is repeated for shorter prefixes, so an
 * expired /32 inside a live /16 still leaves the /16 in force.
 */
static __always_inline int lpm4_match(void *map, __u32 addr, __u64 now)
{
	struct sluice_lpm_v4 k = { .prefixlen = 32, .addr = addr };

#pragma unroll
	for (int i = 0; i < MAX_EXPIRED_STEPS; i++) {
		struct sluice_rule *r = bpf_map_lookup_elem(map, &k);

		if (!r)
			return 0;
		if (active(r, now))
			return 1;
		if (!r->prefixlen)
			return 0;
		k.prefixlen = r->prefixlen - 1;
	}
	return 0;
}

static __always_inline int lpm6_match(void *map, const __u32 *addr, __u64 now)
{
	struct sluice_lpm_v6 k = { .prefixlen = 128 };

	__builtin_memcpy(k.addr, addr, sizeof(k.addr));
#pragma unroll
	for (int i = 0; i < MAX_EXPIRED_STEPS; i++) {
		struct sluice_rule *r = bpf_map_lookup_elem(map, &k);

		if (!r)
			return 0;
		if (active(r, now))
			return 1;
		if (!r->prefixlen)
			return 0;
		k.prefixlen = r->prefixlen - 1;
	}
	return 0;
}

/* Masks a v6 address (network order) to its first plen bits. */
static __always_inline void mask_v6(__u32 *a, __u32 plen)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 lo = i * 32;

		if (plen >= lo + 32)
			continue;
		if (plen <= lo)
			a[i] = 0;
		else
			a[i] &= bpf_htonl(~0U << (32 - (plen - lo)));
	}
}

static __always_inline void resolve_limit(const struct sluice_config *cfg,
					  const struct sluice_src *src,
					  struct sluice_limit *lim)
{
	struct sluice_limit *l = NULL;

	if (cfg->nr_limits) {
		if (src->family == SLUICE_AF_INET) {
			struct sluice_lpm_v4 k = { .prefixlen = 32, .addr = src->addr[0] };

			l = bpf_map_lookup_elem(&limits_v4, &k);
		} else {
			struct sluice_lpm_v6 k = { .prefixlen = 128 };

			__builtin_memcpy(k.addr, src->addr, sizeof(k.addr));
			l = bpf_map_lookup_elem(&limits_v6, &k);
		}
	}
	*lim = l ? *l : cfg->def;
}

/* This CPU's state, its one-second window rolled forward to now. */
static __always_inline struct sluice_cpustate *cpu_window(__u64 now)
{
	__u32 zero = 0;
	struct sluice_cpustate *cs = bpf_map_lookup_elem(&cpustate, &zero);

	if (cs && now - cs->window_ns >= NSEC_PER_SEC) {
		cs->window_ns = now;
		cs->newsrc = 0;
		cs->newtop = 0;
		cs->drops = 0;
		cs->events = 0;
	}
	return cs;
}

/*
 * Admits one new source on this CPU if the per-second cap allows. Capping
 * insertions keeps a flood of spoofed sources from evicting the buckets of
 * established ones, and bounds the CPU the flood can spend on inserts.
 * Buckets and top entries have budgets of their own, so a flood of blocked
 * sources (which only ever get top entries) cannot starve new clients.
 */
static __always_inline int newsrc_admit(const struct sluice_config *cfg,
					struct sluice_cpustate *cs, int for_top)
{
	__u64 *used;

	if (!cs)
		return 0;
	if (!cfg->new_source_cap)
		return 1;
	used = for_top ? &cs->newtop : &cs->newsrc;
	if (*used >= cfg->new_source_cap) {
		if (for_top)
			cs->top_denied++;
		else
			cs->newsrc_denied++;
		return 0;
	}
	(*used)++;
	return 1;
}

/* Charges a packet to bucket b; returns a drop reason or SLUICE_R_PASS. */
static __always_inline __u32 bucket_charge(struct sluice_bucket *b, const struct sluice_limit *lim,
					   const struct pkt *p, __u64 now)
{
	if (lim->pkt.interval_ns && gcra_take(&b->tat_pkt, &lim->pkt, now))
		return SLUICE_R_RATE;
	if (p->syn && lim->syn.interval_ns && gcra_take(&b->tat_syn, &lim->syn, now))
		return SLUICE_R_SYN;
	return SLUICE_R_PASS;
}

/*
 * Per-source limits: the source's own bucket, or the shared one when
 * untracked. GCRA needs the precise clock; everything else makes do with
 * the coarse one (a tick of lag on an expiry is harmless).
 */
static __always_inline __u32 check_limits(const struct sluice_config *cfg, const struct pkt *p,
					  __u64 coarse)
{
	struct sluice_bucket *b, nb = {};
	struct sluice_src overflow = {};
	__u32 reason;
	__u64 now;

	/* Nothing configured: no bucket to look up, no clock to read */
	if (!cfg->nr_limits && !cfg->def.pkt.interval_ns && !cfg->def.syn.interval_ns)
		return SLUICE_R_PASS;
	now = bpf_ktime_get_ns();
	b = bpf_map_lookup_elem(&buckets, &p->src);
	if (b) {
		if (b->gen != cfg->limits_gen) {
			resolve_limit(cfg, &p->src, &b->lim);
			b->gen = cfg->limits_gen;
		}
		return bucket_charge(b, &b->lim, p, now);
	}

	resolve_limit(cfg, &p->src, &nb.lim);
	if (!nb.lim.pkt.interval_ns && !nb.lim.syn.interval_ns)
		return SLUICE_R_PASS;
	nb.gen = cfg->limits_gen;

	if (newsrc_admit(cfg, cpu_window(coarse), 0)) {
		bpf_map_update_elem(&buckets, &p->src, &nb, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&buckets, &p->src);
		/* An insert that failed leaves the source unjudged this once */
		return b ? bucket_charge(b, &nb.lim, p, now) : SLUICE_R_PASS;
	}

	/* Untracked sources share one bucket, each charged at its own rate */
	b = bpf_map_lookup_elem(&buckets, &overflow);
	if (!b) {
		bpf_map_update_elem(&buckets, &overflow, &nb, BPF_NOEXIST);
		b = bpf_map_lookup_elem(&buckets, &overflow);
		if (!b)
			return SLUICE_R_PASS;
	}
	reason = bucket_charge(b, &nb.lim, p, now);
	return reason == SLUICE_R_PASS ? SLUICE_R_PASS : SLUICE_R_NEW_SOURCE;
}

static __always_inline int port_protected(const struct sluice_config *cfg, __u16 port)
{
	__u64 word = cfg->ports[(port >> 6) & (SLUICE_PORT_WORDS - 1)];

	return (word >> (port & 63)) & 1;
}

/* Judges an IP packet whose source is known. Masks a v6 source in place. */
static __always_inline __u32 judge(const struct sluice_config *cfg, struct pkt *p, __u64 now)
{
	struct sluice_throttle *t;

	if (p->src.family == SLUICE_AF_INET) {
		if ((cfg->present & SLUICE_P_ALLOW_V4) && lpm4_match(&allow_v4, p->src.addr[0], now))
			return SLUICE_R_ALLOW;
		if ((cfg->present & SLUICE_P_BLOCK_V4) && lpm4_match(&block_v4, p->src.addr[0], now))
			return SLUICE_R_BLOCK;
		t = cfg->present & SLUICE_P_THROTTLE_V4 ?
			bpf_map_lookup_elem(&throttle_v4, &p->src.addr[0]) : NULL;
	} else {
		__u32 full[4];

		/*
		 * One host owns a whole prefix: verdicts, limits, top and events
		 * are per prefix; only the lists match the full address.
		 */
		__builtin_memcpy(full, p->src.addr, sizeof(full));
		mask_v6(p->src.addr, cfg->v6_prefix);
		if ((cfg->present & SLUICE_P_ALLOW_V6) && lpm6_match(&allow_v6, full, now))
			return SLUICE_R_ALLOW;
		if ((cfg->present & SLUICE_P_BLOCK_V6) && lpm6_match(&block_v6, full, now))
			return SLUICE_R_BLOCK;
		t = cfg->present & SLUICE_P_THROTTLE_V6 ?
			bpf_map_lookup_elem(&throttle_v6, p->src.addr) : NULL;
	}

	if (t && (!t->expires_ns || t->expires_ns > now)) {
		if (!t->cap.interval_ns)
			return SLUICE_R_THROTTLE;
		if (gcra_take(&t->tat_ns, &t->cap, bpf_ktime_get_ns()))
			return SLUICE_R_THROTTLE_CAP;
	}

	/* Port-scoped limits apply only where the port is known */
	if (cfg->nr_ports && (!p->has_ports || !port_protected(cfg, p->dport)))
		return SLUICE_R_PASS;
	return check_limits(cfg, p, now);
}

static __always_inline void count(__u32 reason, __u32 len, int dry)
{
	__u32 idx = if_slot * SLUICE_R_MAX + reason;
	struct sluice_stat *s = bpf_map_lookup_elem(&stats, &idx);

	if (!s)
		return;
	if (dry) {
		s->dry_packets++;
		s->dry_bytes += len;
	} else {
		s->packets++;
		s->bytes += len;
	}
}

/*
 * Per-source drop counters for top, and one sampled event per source per
 * second. Exact up to SLUICE_TOP_EXACT drops per CPU-second; past that
 * (a flood, often of spoofed sources, each a cache miss) one drop in
 * SLUICE_TOP_SAMPLE is recorded for all of them.
 */
static __always_inline void record_drop(struct xdp_md *ctx, const struct sluice_config *cfg,
					const struct pkt *p, __u32 reason, __u64 now, int dry)
{
	struct sluice_cpustate *cs = cpu_window(now);
	struct sluice_top *t, nt = {};
	struct sluice_event *ev;
	__u64 last, weight = 1;

	if (!cs)
		return;
	if (++cs->drops > SLUICE_TOP_EXACT) {
		if (cs->drops & (SLUICE_TOP_SAMPLE - 1))
			return;
		weight = SLUICE_TOP_SAMPLE;
	}
	t = bpf_map_lookup_elem(&top, &p->src);
	if (!t) {
		if (!newsrc_admit(cfg, cs, 1))
			return;
		bpf_map_update_elem(&top, &p->src, &nt, BPF_NOEXIST);
		t = bpf_map_lookup_elem(&top, &p->src);
		if (!t)
			return;
	}
	__sync_fetch_and_add(&t->packets, weight);
	__sync_fetch_and_add(&t->bytes, p->len * weight);
	t->last_ns = now;
	t->reason = reason;

	last = t->last_event_ns;
	if (now - last < NSEC_PER_SEC)
		return;
	if (__sync_val_compare_and_swap(&t->last_event_ns, last, now) != last)
		return;
	if (cs->events >= SLUICE_EVENTS_PER_SEC) {
		cs->events_lost++;
		return;
	}
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		cs->events_lost++;
		return;
	}
	cs->events++;
	ev->ts_ns = now;
	ev->src = p->src;
	ev->reason = reason;
	ev->ifindex = ctx->ingress_ifindex;
	ev->len = p->len;
	ev->dport = p->has_ports ? p->dport : 0;
	ev->proto = p->proto;
	ev->dry_run = dry;
	bpf_ringbuf_submit(ev, 0);
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	struct sluice_config *cfg;
	struct pkt p = {};
	__u32 zero = 0, reason;
	__u64 now = 0;
	int ret, spare;

	cfg = bpf_map_lookup_elem(&config, &zero);
	/* Maps created but not yet initialised: judge nothing */
	if (!cfg || cfg->magic != SLUICE_CONFIG_MAGIC)
		return XDP_PASS;

	ret = parse_packet(ctx, &p);
	if (ret == PARSE_STOP) {
		count(SLUICE_R_NON_IP, p.len, 0);
		return XDP_PASS;
	}
	if (ret == PARSE_BAD) {
		spare = !!(cfg->flags & (SLUICE_F_FAIL_OPEN | SLUICE_F_DRY_RUN));
		count(SLUICE_R_MALFORMED, p.len, spare);
		return spare ? XDP_PASS : XDP_DROP;
	}

	/* Expiry, windows and top need no better than a tick; GCRA reads its own clock */
	now = bpf_ktime_get_coarse_ns();
	reason = judge(cfg, &p, now);
	if (reason < SLUICE_R_FIRST_DROP) {
		count(reason, p.len, 0);
		return XDP_PASS;
	}
	spare = !!(cfg->flags & SLUICE_F_DRY_RUN);
	count(reason, p.len, spare);
	record_drop(ctx, cfg, &p, reason, now, spare);
	return spare ? XDP_PASS : XDP_DROP;
}

char _license[] SEC("license") = "Dual BSD/GPL";
