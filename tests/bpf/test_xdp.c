// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_xdp under BPF_PROG_TEST_RUN, on frames built in code (pkt.h).
 *
 * Every test gets a freshly loaded copy of the program with private,
 * unpinned maps (a test must never reuse or pin over the maps of a running
 * sluice) and a config holding only the magic and v6_prefix 64. Every frame
 * sent through frame_expect() is also checked to be counted once, under
 * exactly one reason, with its length in bytes.
 *
 * Runs as root. The thread is pinned to one CPU: BPF_PROG_TEST_RUN runs the
 * program on the calling CPU, and the new-source window is per CPU.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sluice/abi.h>
#include "lib/rate.h"
#include "sluice_xdp.skel.h"
#include "pkt.h"

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Lifetimes of rules and verdicts, in seconds from now */
#define NEVER		0	/* expires_ns = 0 */
#define LIVE		3600
#define EXPIRED		(-1)

#define Q		ETH_TYPE_8021Q
#define AD		ETH_TYPE_8021AD

static struct {
	struct sluice_xdp *skel;
	int prog_fd;
	__u32 slot;			/* if_slot the program was loaded with */
	struct sluice_config cfg;	/* what config_push() writes */
} fx;

static int nr_cpus;

/* Equality of two numbers, naming the case and the quantity when it fails. */
#define expect_eq(what, field, got, want)					\
	do {									\
		unsigned long long got_ = (got), want_ = (want);		\
		if (got_ != want_)						\
			fail_msg("%s: %s: got %llu, want %llu", (what), (field),	\
				 got_, want_);					\
	} while (0)

static const char *const reason_names[SLUICE_R_MAX] = {
	[SLUICE_R_PASS] = "PASS",		[SLUICE_R_ALLOW] = "ALLOW",
	[SLUICE_R_NON_IP] = "NON_IP",		[SLUICE_R_MALFORMED] = "MALFORMED",
	[SLUICE_R_BLOCK] = "BLOCK",		[SLUICE_R_THROTTLE] = "THROTTLE",
	[SLUICE_R_THROTTLE_CAP] = "THROTTLE_CAP", [SLUICE_R_RATE] = "RATE",
	[SLUICE_R_SYN] = "SYN",			[SLUICE_R_NEW_SOURCE] = "NEW_SOURCE",
};

static const char *reason_name(int r)
{
	return r >= 0 && r < SLUICE_R_MAX ? reason_names[r] : "(none)";
}

static const char *action_name(int a)
{
	return a == XDP_PASS ? "XDP_PASS" : a == XDP_DROP ? "XDP_DROP" : "XDP_?";
}

/* ---- Fixture ----------------------------------------------------------- */

static void config_push(void)
{
	__u32 zero = 0;
	int err;

	err = bpf_map__update_elem(fx.skel->maps.config, &zero, sizeof(zero), &fx.cfg,
				   sizeof(fx.cfg), BPF_ANY);
	if (err)
		fail_msg("config: update: %s", strerror(-err));
}

static int fixture_load(__u32 slot)
{
	struct bpf_map *map;
	int err;

	fx.skel = sluice_xdp__open();
	if (!fx.skel) {
		fprintf(stderr, "sluice_xdp__open: %s\n", strerror(errno));
		return -1;
	}
	/* Private maps: LIBBPF_PIN_BY_NAME would reuse a running sluice's */
	bpf_object__for_each_map(map, fx.skel->obj)
		bpf_map__set_pin_path(map, NULL);
	fx.skel->rodata->if_slot = slot;
	err = sluice_xdp__load(fx.skel);
	if (err) {
		fprintf(stderr, "sluice_xdp__load: %s\n", strerror(-err));
		sluice_xdp__destroy(fx.skel);
		fx.skel = NULL;
		return -1;
	}
	fx.prog_fd = bpf_program__fd(fx.skel->progs.sluice_xdp);
	fx.slot = slot;
	memset(&fx.cfg, 0, sizeof(fx.cfg));
	fx.cfg.magic = SLUICE_CONFIG_MAGIC;
	fx.cfg.v6_prefix = 64;
	/* Every list marked as maybe holding entries, as userspace does on insert */
	fx.cfg.present = SLUICE_P_ALL;
	config_push();
	return 0;
}

static void fixture_unload(void)
{
	sluice_xdp__destroy(fx.skel);
	fx.skel = NULL;
}

static int setup(void **state)
{
	(void)state;
	return fixture_load(0);
}

static int teardown(void **state)
{
	(void)state;
	fixture_unload();
	return 0;
}

/* ---- Addresses and map entries ----------------------------------------- */

struct cidr {
	int v6;
	__u32 plen;
	__u32 addr[4];		/* network order */
};

/* "10.0.0.0/16", "2001:db8::/48"; without a length, a host. */
static struct cidr cidr(const char *s)
{
	struct cidr c = {};
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, c.addr) == 1) {
		c.plen = 32;
	} else if (inet_pton(AF_INET6, buf, c.addr) == 1) {
		c.v6 = 1;
		c.plen = 128;
	} else {
		fail_msg("'%s': not an address", s);
	}
	if (slash)
		c.plen = strtoul(slash + 1, NULL, 10);
	return c;
}

/* Keeps the first plen bits of a v6 address, byte by byte. */
static void mask6(__u32 addr[4], __u32 plen)
{
	__u8 *b = (__u8 *)addr;

	for (__u32 i = 0; i < 16; i++) {
		__u32 keep = plen > i * 8 ? plen - i * 8 : 0;

		b[i] &= (__u8)(0xff00 >> (keep > 8 ? 8 : keep));
	}
}

/* The key of buckets and top for a source: v6 masked to the config's prefix. */
static struct sluice_src src_key(const char *addr)
{
	struct cidr c = cidr(addr);
	struct sluice_src s = { .family = c.v6 ? SLUICE_AF_INET6 : SLUICE_AF_INET };

	memcpy(s.addr, c.addr, sizeof(s.addr));
	if (c.v6)
		mask6(s.addr, fx.cfg.v6_prefix);
	return s;
}

static const char *src_str(const struct sluice_src *s, char *buf, size_t len)
{
	if (!s->family)
		snprintf(buf, len, "(overflow)");
	else
		inet_ntop(s->family == SLUICE_AF_INET ? AF_INET : AF_INET6, s->addr, buf, len);
	return buf;
}

/* The program's clock for expiry, windows and top (bpf_ktime_get_coarse_ns) */
static __u64 coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static __u64 expires_at(int ttl_s)
{
	return ttl_s ? mono_ns() + (__s64)ttl_s * (__s64)NSEC_PER_SEC : 0;
}

static void map_put(struct bpf_map *map, const void *key, const void *val)
{
	int err = bpf_map__update_elem(map, key, bpf_map__key_size(map), val,
				       bpf_map__value_size(map), BPF_ANY);

	if (err)
		fail_msg("%s: update: %s", bpf_map__name(map), strerror(-err));
}

/* Looks key up in a map of any kind; 0 or -errno. */
static int map_get(struct bpf_map *map, const void *key, void *val)
{
	return bpf_map_lookup_elem(bpf_map__fd(map), key, val) ? -errno : 0;
}

static int map_count(struct bpf_map *map)
{
	__u8 key[64], next[64];
	void *prev = NULL;
	int n = 0;

	assert_true(bpf_map__key_size(map) <= sizeof(key));
	while (!bpf_map_get_next_key(bpf_map__fd(map), prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

enum list { ALLOW, BLOCK };

static void rule_add(enum list list, const char *prefix, int ttl_s)
{
	struct cidr c = cidr(prefix);
	struct sluice_rule r = {
		.expires_ns = expires_at(ttl_s),
		.created_s = time(NULL),
		.prefixlen = c.plen,
		.origin = SLUICE_ORIGIN_CLI,
		.reason = "test",
	};

	if (c.v6) {
		struct sluice_lpm_v6 k = { .prefixlen = c.plen };

		memcpy(k.addr, c.addr, sizeof(k.addr));
		map_put(list == ALLOW ? fx.skel->maps.allow_v6 : fx.skel->maps.block_v6, &k, &r);
	} else {
		struct sluice_lpm_v4 k = { .prefixlen = c.plen, .addr = c.addr[0] };

		map_put(list == ALLOW ? fx.skel->maps.allow_v4 : fx.skel->maps.block_v4, &k, &r);
	}
}

static struct sluice_limit limit(__u32 pps, __u32 pkt_burst, __u32 sps, __u32 syn_burst)
{
	struct sluice_limit l = {};

	rate_set(&l.pkt, pps, pkt_burst);
	rate_set(&l.syn, sps, syn_burst);
	return l;
}

/* An override in limits_v4/v6; the caller sets nr_limits and limits_gen. */
static void limit_add(const char *prefix, struct sluice_limit l)
{
	struct cidr c = cidr(prefix);

	if (c.v6) {
		struct sluice_lpm_v6 k = { .prefixlen = c.plen };

		memcpy(k.addr, c.addr, sizeof(k.addr));
		map_put(fx.skel->maps.limits_v6, &k, &l);
	} else {
		struct sluice_lpm_v4 k = { .prefixlen = c.plen, .addr = c.addr[0] };

		map_put(fx.skel->maps.limits_v4, &k, &l);
	}
}

/* A daemon verdict on addr (v6: on its prefix); rate 0 drops everything. */
static void throttle_add(const char *addr, int ttl_s, __u32 rate, __u32 burst)
{
	struct sluice_src s = src_key(addr);
	struct sluice_throttle t = {
		.expires_ns = expires_at(ttl_s),
		.created_s = time(NULL),
		.origin = SLUICE_ORIGIN_DAEMON,
		.reason = "test",
	};

	rate_set(&t.cap, rate, burst);
	if (s.family == SLUICE_AF_INET) {
		map_put(fx.skel->maps.throttle_v4, &s.addr[0], &t);
	} else {
		struct sluice_v6 k;

		memcpy(k.addr, s.addr, sizeof(k.addr));
		map_put(fx.skel->maps.throttle_v6, &k, &t);
	}
}

static void ports_protect(const __u16 *ports, size_t n)
{
	memset(fx.cfg.ports, 0, sizeof(fx.cfg.ports));
	for (size_t i = 0; i < n; i++)
		fx.cfg.ports[ports[i] >> 6] |= 1ULL << (ports[i] & 63);
	fx.cfg.nr_ports = n;
}

static int bucket_get(const char *addr, struct sluice_bucket *b)
{
	struct sluice_src k = src_key(addr);

	return map_get(fx.skel->maps.buckets, &k, b);
}

static const struct sluice_src overflow_key;	/* family 0: the shared bucket */

/* Moves a bucket's packet clock back, as if ns had passed. */
static void bucket_age(const char *addr, __u64 ns)
{
	struct sluice_src k = src_key(addr);
	struct sluice_bucket b;

	if (map_get(fx.skel->maps.buckets, &k, &b))
		fail_msg("bucket of %s: missing", addr);
	b.tat_pkt -= ns;
	map_put(fx.skel->maps.buckets, &k, &b);
}

static int top_get(const char *addr, struct sluice_top *t)
{
	struct sluice_src k = src_key(addr);

	return map_get(fx.skel->maps.top, &k, t);
}

static struct sluice_cpustate cpustate_sum(void)
{
	struct sluice_cpustate sum = {}, *v = calloc(nr_cpus, sizeof(*v));
	__u32 zero = 0;

	assert_non_null(v);
	assert_int_equal(map_get(fx.skel->maps.cpustate, &zero, v), 0);
	for (int c = 0; c < nr_cpus; c++) {
		sum.newsrc += v[c].newsrc;
		sum.newsrc_denied += v[c].newsrc_denied;
		sum.events_lost += v[c].events_lost;
	}
	free(v);
	return sum;
}

/* ---- Running frames and reading counters ------------------------------- */

/* Sum over CPUs of the counters of every reason in a slot. */
static void stats_read(__u32 slot, struct sluice_stat out[SLUICE_R_MAX])
{
	struct sluice_stat *v = calloc(nr_cpus, sizeof(*v));

	assert_non_null(v);
	for (__u32 r = 0; r < SLUICE_R_MAX; r++) {
		__u32 key = slot * SLUICE_R_MAX + r;

		assert_int_equal(map_get(fx.skel->maps.stats, &key, v), 0);
		memset(&out[r], 0, sizeof(out[r]));
		for (int c = 0; c < nr_cpus; c++) {
			out[r].packets += v[c].packets;
			out[r].bytes += v[c].bytes;
			out[r].dry_packets += v[c].dry_packets;
			out[r].dry_bytes += v[c].dry_bytes;
		}
	}
	free(v);
}

static struct sluice_stat stat_of(__u32 slot, __u32 reason)
{
	struct sluice_stat s[SLUICE_R_MAX];

	stats_read(slot, s);
	return s[reason];
}

/* Metadata in front of a frame shorter than Ethernet; see xdp_try_run(). */
#define SHORT_META	16

/* Runs the program once on b: 0 with *action set, or -errno. */
static int xdp_try_run(const struct pkt_buf *b, int *action)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = b->data,
		.data_size_in = b->len,
		.repeat = 1,
	);
	__u8 buf[SHORT_META + ETH_HDR_LEN] = {};
	struct xdp_md ctx = {};
	int err;

	/*
	 * BPF_PROG_TEST_RUN refuses input under ETH_HLEN (bpf_test_init). A
	 * shorter frame goes in behind metadata instead (xdp_md.data is the
	 * metadata length, 5.15+), so that the program sees b->len bytes
	 * between data and data_end. Kernels that also want ETH_HLEN bytes
	 * after the metadata (6.18 does) refuse that too: -EINVAL.
	 */
	if (b->len < ETH_HDR_LEN) {
		memcpy(buf + SHORT_META, b->data, b->len);
		ctx.data = SHORT_META;
		ctx.data_end = SHORT_META + b->len;
		opts.data_in = buf;
		opts.data_size_in = ctx.data_end;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(fx.prog_fd, &opts);
	if (err)
		return err;
	*action = opts.retval;
	return 0;
}

static int xdp_run(const struct pkt_buf *b)
{
	int action, err = xdp_try_run(b, &action);

	if (err)
		fail_msg("BPF_PROG_TEST_RUN of a %u-byte frame: %s", b->len, strerror(-err));
	return action;
}

struct verdict {
	int action;
	int reason;		/* the one reason whose counters moved */
	int dry;		/* counted in dry_packets */
};

/* Runs b and finds the reason it was counted under; fails unless exactly one moved, by one frame. */
static struct verdict frame_judge(const char *what, const struct pkt_buf *b)
{
	struct sluice_stat before[SLUICE_R_MAX], after[SLUICE_R_MAX];
	struct verdict v = { .reason = -1 };
	int moved = 0;

	stats_read(fx.slot, before);
	v.action = xdp_run(b);
	stats_read(fx.slot, after);
	for (int r = 0; r < SLUICE_R_MAX; r++) {
		__u64 pk = after[r].packets - before[r].packets;
		__u64 by = after[r].bytes - before[r].bytes;
		__u64 dpk = after[r].dry_packets - before[r].dry_packets;
		__u64 dby = after[r].dry_bytes - before[r].dry_bytes;

		if (!pk && !by && !dpk && !dby)
			continue;
		moved++;
		v.reason = r;
		v.dry = dpk != 0;
		if (pk + dpk != 1 || (pk ? by : dby) != b->len || (pk ? dby : by))
			fail_msg("%s: %s moved by %llu packets/%llu bytes, dry %llu/%llu; "
				 "want one frame of %u bytes", what, reason_name(r),
				 (unsigned long long)pk, (unsigned long long)by,
				 (unsigned long long)dpk, (unsigned long long)dby, b->len);
	}
	if (moved != 1)
		fail_msg("%s: counted under %d reasons, want exactly 1", what, moved);
	return v;
}

/*
 * Sends b n times; each must get action and be counted under reason. A
 * drop reason with XDP_PASS means a dry-run drop, counted in dry_packets.
 */
static void frame_expect(const char *what, const struct pkt_buf *b, int n, int action, int reason)
{
	int dry = action == XDP_PASS && reason >= SLUICE_R_FIRST_DROP;

	for (int i = 0; i < n; i++) {
		struct verdict v = frame_judge(what, b);

		if (v.action != action || v.reason != reason || v.dry != dry)
			fail_msg("%s: frame %d of %d: got %s %s%s, want %s %s%s", what, i + 1, n,
				 action_name(v.action), reason_name(v.reason), v.dry ? " (dry)" : "",
				 action_name(action), reason_name(reason), dry ? " (dry)" : "");
	}
}

/* Action a frame counted under reason gets, outside dry-run. */
static int action_of(int reason)
{
	return reason >= SLUICE_R_FIRST_DROP ? XDP_DROP : XDP_PASS;
}

struct evlog {
	struct sluice_event ev[64];
	int n;
};

static int evlog_add(void *ctx, void *data, size_t size)
{
	struct evlog *evs = ctx;

	if (size != sizeof(struct sluice_event))
		return -EINVAL;
	if (evs->n < (int)ARRAY_SIZE(evs->ev))
		memcpy(&evs->ev[evs->n], data, size);
	evs->n++;
	return 0;
}

/* Appends the events submitted since the last call. */
static void events_read(struct evlog *evs)
{
	struct ring_buffer *rb;
	int n;

	rb = ring_buffer__new(bpf_map__fd(fx.skel->maps.events), evlog_add, evs, NULL);
	assert_non_null(rb);
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	if (n < 0)
		fail_msg("events: consume: %s", strerror(-n));
}

static void event_check(const char *what, const struct sluice_event *ev, const char *addr,
			int reason, __u16 dport, __u8 proto, __u32 len, int dry)
{
	struct sluice_src want = src_key(addr);
	char got_s[INET6_ADDRSTRLEN], want_s[INET6_ADDRSTRLEN];

	if (memcmp(&ev->src, &want, sizeof(want)))
		fail_msg("%s: event src %s (family %u), want %s", what,
			 src_str(&ev->src, got_s, sizeof(got_s)), ev->src.family,
			 src_str(&want, want_s, sizeof(want_s)));
	if ((int)ev->reason != reason)
		fail_msg("%s: event reason %s, want %s", what, reason_name(ev->reason),
			 reason_name(reason));
	expect_eq(what, "event dport", ev->dport, dport);
	expect_eq(what, "event proto", ev->proto, proto);
	expect_eq(what, "event len", ev->len, len);
	expect_eq(what, "event dry_run", ev->dry_run, dry);
	/* BPF_PROG_TEST_RUN receives on the loopback device of the caller's netns */
	expect_eq(what, "event ifindex", ev->ifindex, if_nametoindex("lo"));
	if (!ev->ts_ns || ev->ts_ns > mono_ns())
		fail_msg("%s: event ts_ns %llu is not a past CLOCK_MONOTONIC time", what,
			 (unsigned long long)ev->ts_ns);
}

static int layers_v6(const struct layer *l)
{
	for (; l->kind != L_END; l++)
		if (l->kind == L_IP6)
			return 1;
	return 0;
}

/* A distinct source for row i of a table: 10.0.i.1 or 2001:db8:i::1. */
static const char *row_src(const struct layer *l, int i, char *buf, size_t len)
{
	if (layers_v6(l))
		snprintf(buf, len, "2001:db8:%x::1", i + 1);
	else
		snprintf(buf, len, "10.0.%d.1", i + 1);
	return buf;
}

/* ---- Parsing ----------------------------------------------------------- */

struct parse_case {
	const char *name;
	struct layer l[PKT_MAX_LAYERS];
	int reason;
	__u16 dport;		/* as the drop event reports it; 0: no ports */
	__u8 proto;
};

/*
 * Well-formed frames through every parse path. Each row's source carries
 * a drop verdict, so the event it raises shows what the parser read: the
 * source through any VLAN tags and extension headers, the destination port
 * where there is one, and the protocol.
 */
static const struct parse_case parse_cases[] = {
	{ "ipv4_udp", { IP4, UDP(53) }, SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "ipv4_tcp", { IP4, TCP(80, TCPF_SYN) }, SLUICE_R_THROTTLE, 80, IPPROTO_TCP },
	{ "ipv4_icmp", { IP4, ICMP }, SLUICE_R_THROTTLE, 0, IPPROTO_ICMP },
	{ "ipv4_options_max", { IP4_OPT(15), TCP(22, TCPF_ACK) }, SLUICE_R_THROTTLE, 22, IPPROTO_TCP },
	{ "ipv4_options_one_word", { IP4_OPT(6), UDP(514) }, SLUICE_R_THROTTLE, 514, IPPROTO_UDP },
	{ "ipv4_first_fragment", { IP4_FRAG(0, 1), UDP(53), DATA(64) },
	  SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "ipv4_middle_fragment", { IP4_FRAG(185, 1), PROTO(IPPROTO_UDP), DATA(64) },
	  SLUICE_R_THROTTLE, 0, IPPROTO_UDP },
	{ "ipv4_last_fragment", { IP4_FRAG(370, 0), PROTO(IPPROTO_TCP), DATA(16) },
	  SLUICE_R_THROTTLE, 0, IPPROTO_TCP },
	{ "vlan_8021q", { VLAN(Q), IP4, UDP(53) }, SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "vlan_8021ad", { VLAN(AD), IP4, UDP(123) }, SLUICE_R_THROTTLE, 123, IPPROTO_UDP },
	{ "vlan_qinq", { VLAN(AD), VLAN(Q), IP4, TCP(443, TCPF_ACK) },
	  SLUICE_R_THROTTLE, 443, IPPROTO_TCP },
	{ "vlan_8021q_twice_ipv6", { VLAN(Q), VLAN(Q), IP6, UDP(53) },
	  SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "vlan_8021ad_ipv6", { VLAN(AD), IP6, TCP(80, TCPF_SYN) }, SLUICE_R_THROTTLE, 80, IPPROTO_TCP },
	{ "ipv6_udp", { IP6, UDP(53) }, SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "ipv6_tcp", { IP6, TCP(8080, TCPF_SYN) }, SLUICE_R_THROTTLE, 8080, IPPROTO_TCP },
	{ "ipv6_icmpv6", { IP6, ICMP }, SLUICE_R_THROTTLE, 0, IPPROTO_ICMPV6 },
	{ "ipv6_hopopts", { IP6, EXT6(IPPROTO_HOPOPTS, 8), TCP(80, TCPF_SYN) },
	  SLUICE_R_THROTTLE, 80, IPPROTO_TCP },
	{ "ipv6_routing", { IP6, EXT6(IPPROTO_ROUTING, 24), UDP(53) },
	  SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "ipv6_dstopts", { IP6, EXT6(IPPROTO_DSTOPTS, 16), TCP(22, TCPF_ACK) },
	  SLUICE_R_THROTTLE, 22, IPPROTO_TCP },
	{ "ipv6_ah", { IP6, EXT6(IPPROTO_AH, 24), UDP(500) }, SLUICE_R_THROTTLE, 500, IPPROTO_UDP },
	{ "ipv6_first_fragment", { IP6, FRAG6(0, 1), UDP(53), DATA(64) },
	  SLUICE_R_THROTTLE, 53, IPPROTO_UDP },
	{ "ipv6_later_fragment", { IP6, FRAG6(100, 1), PROTO(IPPROTO_UDP), DATA(64) },
	  SLUICE_R_THROTTLE, 0, IPPROTO_UDP },
	{ "ipv6_ext_chain", { IP6, EXT6(IPPROTO_HOPOPTS, 8), EXT6(IPPROTO_DSTOPTS, 8),
			      EXT6(IPPROTO_ROUTING, 16), FRAG6(0, 1), EXT6(IPPROTO_AH, 12),
			      EXT6(IPPROTO_DSTOPTS, 8), TCP(443, TCPF_SYN) },
	  SLUICE_R_THROTTLE, 443, IPPROTO_TCP },
	{ "ipv6_esp", { IP6, PROTO(IPPROTO_ESP), DATA(32) }, SLUICE_R_THROTTLE, 0, IPPROTO_ESP },
	{ "ipv6_no_next_header", { IP6, PROTO(IPPROTO_NONE) }, SLUICE_R_THROTTLE, 0, IPPROTO_NONE },
	{ "arp", { ETHER(ETH_TYPE_ARP, 28) }, SLUICE_R_NON_IP },
	{ "lldp", { ETHER(ETH_TYPE_LLDP, 40) }, SLUICE_R_NON_IP },
	{ "vlan_arp", { VLAN(Q), ETHER(ETH_TYPE_ARP, 28) }, SLUICE_R_NON_IP },
	/* Two tags are read; a third leaves a VLAN ethertype, not IP */
	{ "vlan_three_tags", { VLAN(AD), VLAN(Q), VLAN(Q), IP4, UDP(53) }, SLUICE_R_NON_IP },
};

static void test_parse_paths_read_source_port_and_protocol(void **state)
{
	struct evlog evs = {};
	struct pkt_buf b;
	char src[64];
	int drops = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		row_src(c->l, i, src, sizeof(src));
		throttle_add(src, NEVER, 0, 0);
		pkt_build(&b, c->l, src);
		frame_expect(c->name, &b, 1, action_of(c->reason), c->reason);
		drops += c->reason >= SLUICE_R_FIRST_DROP;
	}

	events_read(&evs);
	expect_eq("parse paths", "events", evs.n, drops);
	for (size_t i = 0, e = 0; i < ARRAY_SIZE(parse_cases); i++) {
		const struct parse_case *c = &parse_cases[i];

		if (c->reason < SLUICE_R_FIRST_DROP)
			continue;
		row_src(c->l, i, src, sizeof(src));
		pkt_build(&b, c->l, src);
		event_check(c->name, &evs.ev[e++], src, c->reason, c->dport, c->proto, b.len, 0);
	}
}

static void test_blocklist_applies_to_every_fragment(void **state)
{
	static const struct {
		const char *name;
		const char *src;
		struct layer l[PKT_MAX_LAYERS];
	} cases[] = {
		{ "ipv4_first_fragment", "10.9.0.1", { IP4_FRAG(0, 1), UDP(53), DATA(32) } },
		{ "ipv4_later_fragment", "10.9.0.1", { IP4_FRAG(5, 1), PROTO(IPPROTO_UDP), DATA(32) } },
		{ "ipv4_last_fragment", "10.9.0.1", { IP4_FRAG(9, 0), PROTO(IPPROTO_UDP), DATA(8) } },
		{ "ipv6_first_fragment", "2001:db8:9::1", { IP6, FRAG6(0, 1), TCP(80, TCPF_ACK) } },
		{ "ipv6_later_fragment", "2001:db8:9::1", { IP6, FRAG6(5, 0), PROTO(IPPROTO_TCP), DATA(8) } },
	};
	struct pkt_buf b;

	(void)state;
	rule_add(BLOCK, "10.9.0.0/16", NEVER);
	rule_add(BLOCK, "2001:db8:9::/48", NEVER);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		pkt_build(&b, cases[i].l, cases[i].src);
		frame_expect(cases[i].name, &b, 2, XDP_DROP, SLUICE_R_BLOCK);
	}
}

/* Frames of one datagram: the first carries the ports, later ones do not. */
static const struct {
	const char *src;
	struct layer first[PKT_MAX_LAYERS];
	struct layer later[PKT_MAX_LAYERS];
} frag_cases[] = {
	{ "10.0.0.1", { IP4_FRAG(0, 1), TCP(80, TCPF_ACK), DATA(32) },
	  { IP4_FRAG(7, 1), PROTO(IPPROTO_TCP), DATA(32) } },
	{ "2001:db8::1", { IP6, FRAG6(0, 1), TCP(80, TCPF_ACK), DATA(32) },
	  { IP6, FRAG6(7, 0), PROTO(IPPROTO_TCP), DATA(32) } },
};

static void test_port_limits_skip_later_fragments(void **state)
{
	static const __u16 ports[] = { 80 };
	struct pkt_buf first, later;

	(void)state;
	fx.cfg.def = limit(1, 1, 0, 0);
	ports_protect(ports, ARRAY_SIZE(ports));
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(frag_cases); i++) {
		pkt_build(&first, frag_cases[i].first, frag_cases[i].src);
		pkt_build(&later, frag_cases[i].later, frag_cases[i].src);
		frame_expect(frag_cases[i].src, &first, 1, XDP_PASS, SLUICE_R_PASS);
		frame_expect(frag_cases[i].src, &first, 1, XDP_DROP, SLUICE_R_RATE);
		frame_expect(frag_cases[i].src, &later, 5, XDP_PASS, SLUICE_R_PASS);
	}
}

static void test_limits_apply_to_later_fragments_without_ports(void **state)
{
	struct pkt_buf later;

	(void)state;
	fx.cfg.def = limit(1, 2, 0, 0);
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(frag_cases); i++) {
		pkt_build(&later, frag_cases[i].later, frag_cases[i].src);
		frame_expect(frag_cases[i].src, &later, 2, XDP_PASS, SLUICE_R_PASS);
		frame_expect(frag_cases[i].src, &later, 1, XDP_DROP, SLUICE_R_RATE);
	}
}

struct malformed_case {
	const char *name;
	struct layer l[PKT_MAX_LAYERS];
	struct { __u8 set, hdr, at; } cut;	/* keep off[hdr] + at bytes */
	struct { __u8 set, hdr, at, width; __u16 val; } patch;
};

/* hdr indexes pkt_buf.off[]: 0 is Ethernet, i the i-th layer */
#define CUT(hdr, at)		{ 1, (hdr), (at) }
#define PATCH8(hdr, at, v)	{ 1, (hdr), (at), 1, (v) }
#define PATCH16(hdr, at, v)	{ 1, (hdr), (at), 2, (v) }
#define DST8			EXT6(IPPROTO_DSTOPTS, 8)

/* A frame cut inside each header the parser reads, and each bogus length it checks. */
static const struct malformed_case malformed_cases[] = {
	{ "vlan_8021q_in_tag", { VLAN(Q), IP4, UDP(53) }, .cut = CUT(1, 2) },
	{ "vlan_8021ad_in_tag", { VLAN(AD), IP4, UDP(53) }, .cut = CUT(1, 3) },
	{ "vlan_qinq_in_outer_tag", { VLAN(AD), VLAN(Q), IP4, UDP(53) }, .cut = CUT(1, 1) },
	{ "vlan_qinq_in_inner_tag", { VLAN(AD), VLAN(Q), IP4, UDP(53) }, .cut = CUT(2, 3) },
	{ "ipv4_absent", { IP4, UDP(53) }, .cut = CUT(1, 0) },
	{ "ipv4_in_header", { IP4, UDP(53) }, .cut = CUT(1, 19) },
	{ "ipv4_in_first_option", { IP4_OPT(8), UDP(53) }, .cut = CUT(1, 20) },
	{ "ipv4_in_last_option", { IP4_OPT(8), UDP(53) }, .cut = CUT(1, 31) },
	{ "ipv4_ihl_4", { IP4, UDP(53) }, .patch = PATCH8(1, 0, 0x44) },
	{ "ipv4_ihl_0", { IP4, UDP(53) }, .patch = PATCH8(1, 0, 0x40) },
	{ "ipv4_version_6", { IP4, UDP(53) }, .patch = PATCH8(1, 0, 0x65) },
	{ "ipv4_tot_len_under_ihl", { IP4, UDP(53) }, .patch = PATCH16(1, 2, 19) },
	{ "ipv4_tot_len_under_options", { IP4_OPT(6), UDP(53) }, .patch = PATCH16(1, 2, 20) },
	{ "ipv4_first_fragment_in_tcp", { IP4_FRAG(0, 1), TCP(80, TCPF_SYN) }, .cut = CUT(2, 12) },
	{ "ipv6_absent", { IP6, UDP(53) }, .cut = CUT(1, 0) },
	{ "ipv6_in_header", { IP6, UDP(53) }, .cut = CUT(1, 39) },
	{ "ipv6_version_4", { IP6, UDP(53) }, .patch = PATCH8(1, 0, 0x40) },
	{ "ipv6_hopopts_in_first_bytes", { IP6, EXT6(IPPROTO_HOPOPTS, 8), UDP(53) },
	  .cut = CUT(2, 1) },
	{ "ipv6_hopopts_in_options", { IP6, EXT6(IPPROTO_HOPOPTS, 16), UDP(53) }, .cut = CUT(2, 15) },
	{ "ipv6_routing_in_header", { IP6, EXT6(IPPROTO_ROUTING, 24), UDP(53) }, .cut = CUT(2, 20) },
	{ "ipv6_dstopts_in_header", { IP6, EXT6(IPPROTO_DSTOPTS, 8), UDP(53) }, .cut = CUT(2, 7) },
	{ "ipv6_fragment_in_header", { IP6, FRAG6(0, 1), UDP(53) }, .cut = CUT(2, 7) },
	{ "ipv6_ah_in_first_bytes", { IP6, EXT6(IPPROTO_AH, 16), UDP(53) }, .cut = CUT(2, 1) },
	{ "ipv6_ah_in_header", { IP6, EXT6(IPPROTO_AH, 16), UDP(53) }, .cut = CUT(2, 15) },
	{ "ipv6_second_ext_in_header", { IP6, EXT6(IPPROTO_HOPOPTS, 8), EXT6(IPPROTO_DSTOPTS, 16),
					 UDP(53) }, .cut = CUT(3, 9) },
	{ "ipv6_nine_ext_headers", { IP6, DST8, DST8, DST8, DST8, DST8, DST8, DST8, DST8, DST8,
				     UDP(53) } },
	{ "tcp_in_header", { IP4, TCP(80, TCPF_SYN) }, .cut = CUT(2, 19) },
	{ "tcp_in_options", { IP4, TCP_OPT(80, 8) }, .cut = CUT(2, 31) },
	{ "tcp_doff_4", { IP4, TCP(80, TCPF_SYN) }, .patch = PATCH8(2, 12, 0x40) },
	{ "tcp_ipv6_in_header", { IP6, TCP(80, TCPF_SYN) }, .cut = CUT(2, 10) },
	{ "tcp_ipv6_doff_0", { IP6, TCP(80, TCPF_SYN) }, .patch = PATCH8(2, 12, 0x00) },
	{ "tcp_ipv6_in_options", { IP6, TCP_OPT(443, 15) }, .cut = CUT(2, 59) },
	{ "udp_in_header", { IP4, UDP(53) }, .cut = CUT(2, 7) },
	{ "udp_ipv6_in_header", { IP6, UDP(53) }, .cut = CUT(2, 4) },
	{ "udp_after_fragment_in_header", { IP6, FRAG6(0, 1), UDP(53) }, .cut = CUT(3, 5) },
};

static void malformed_build(struct pkt_buf *b, const struct malformed_case *c)
{
	pkt_build(b, c->l, layers_v6(c->l) ? "2001:db8::1" : "10.0.0.1");
	if (c->patch.set) {
		__u8 *p = b->data + b->off[c->patch.hdr] + c->patch.at;

		if (c->patch.width == 2)
			put16(p, c->patch.val);
		else
			*p = c->patch.val;
	}
	if (c->cut.set) {
		__u32 len = b->off[c->cut.hdr] + c->cut.at;

		assert_true(c->cut.hdr < b->nr_hdrs && len < b->len);
		b->len = len;
	}
}

/*
 * Drops each malformed frame, or passes it counted as a dry drop when
 * spare; the MALFORMED counters move by exactly those frames.
 */
static void malformed_check(const struct malformed_case *cases, size_t n, int spare)
{
	struct sluice_stat s0 = stat_of(fx.slot, SLUICE_R_MALFORMED), s;
	__u64 bytes = 0;
	struct pkt_buf b;

	for (size_t i = 0; i < n; i++) {
		malformed_build(&b, &cases[i]);
		frame_expect(cases[i].name, &b, 1, spare ? XDP_PASS : XDP_DROP, SLUICE_R_MALFORMED);
		bytes += b.len;
	}
	s = stat_of(fx.slot, SLUICE_R_MALFORMED);
	expect_eq("malformed", "packets", s.packets - s0.packets, spare ? 0 : n);
	expect_eq("malformed", "bytes", s.bytes - s0.bytes, spare ? 0 : bytes);
	expect_eq("malformed", "dry_packets", s.dry_packets - s0.dry_packets, spare ? n : 0);
	expect_eq("malformed", "dry_bytes", s.dry_bytes - s0.dry_bytes, spare ? bytes : 0);
	expect_eq("malformed", "top entries", map_count(fx.skel->maps.top), 0);
}

static void test_malformed_frames_drop(void **state)
{
	(void)state;
	malformed_check(malformed_cases, ARRAY_SIZE(malformed_cases), 0);
}

static void test_malformed_frames_pass_with_fail_open(void **state)
{
	(void)state;
	fx.cfg.flags = SLUICE_F_FAIL_OPEN;
	config_push();
	malformed_check(malformed_cases, ARRAY_SIZE(malformed_cases), 1);
}

/* Frames cut inside the Ethernet header, if the kernel will run them. */
static void test_malformed_short_ethernet_drops(void **state)
{
	static const struct malformed_case cases[] = {
		{ "eth_empty", { IP4, UDP(53) }, .cut = CUT(0, 0) },
		{ "eth_in_dst_mac", { IP4, UDP(53) }, .cut = CUT(0, 4) },
		{ "eth_in_ethertype", { IP4, UDP(53) }, .cut = CUT(0, 13) },
	};
	struct pkt_buf b;
	int action, err;

	(void)state;
	/* Probe unconfigured, where the program touches no map */
	fx.cfg.magic = 0;
	config_push();
	malformed_build(&b, &cases[2]);
	err = xdp_try_run(&b, &action);
	if (err == -EINVAL) {
		print_message("kernel refuses frames under ETH_HLEN bytes: skipped\n");
		skip();
	}
	assert_int_equal(err, 0);
	fx.cfg.magic = SLUICE_CONFIG_MAGIC;
	config_push();
	malformed_check(cases, ARRAY_SIZE(cases), 0);
	fx.cfg.flags = SLUICE_F_FAIL_OPEN;
	config_push();
	malformed_check(cases, ARRAY_SIZE(cases), 1);
}

/*
 * parsing.h reads "IPv6 and its extension headers, up to MAX_EXTHDR (8) of
 * them" and refuses "more extension headers than any sane sender uses". A
 * protected port with a burst of 1 shows the UDP header was found: the
 * second frame is over the rate.
 */
static void test_ipv6_ext_headers_up_to_max_exthdr_parse(void **state)
{
	static const __u16 ports[] = { 53 };
	struct layer l[PKT_MAX_LAYERS] = { IP6 };
	struct pkt_buf b;
	char name[32], src[64];

	(void)state;
	fx.cfg.def = limit(1, 1, 0, 0);
	ports_protect(ports, ARRAY_SIZE(ports));
	config_push();
	for (int n = 1; n <= 8; n++) {
		l[n] = (struct layer)DST8;
		l[n + 1] = (struct layer)UDP(53);
		snprintf(name, sizeof(name), "%d_ext_headers", n);
		snprintf(src, sizeof(src), "2001:db8:%x::1", n);
		pkt_build(&b, l, src);
		frame_expect(name, &b, 1, XDP_PASS, SLUICE_R_PASS);
		frame_expect(name, &b, 1, XDP_DROP, SLUICE_R_RATE);
	}
}

/* ---- Allow and block lists --------------------------------------------- */

struct rule_row {
	enum list list;
	const char *prefix;
	int ttl_s;
};

struct probe_row {
	const char *src;
	int reason;
};

static void lists_check(const struct rule_row *rules, size_t nr_rules,
			const struct probe_row *probes, size_t nr_probes)
{
	struct pkt_buf b;

	for (size_t i = 0; i < nr_rules; i++)
		rule_add(rules[i].list, rules[i].prefix, rules[i].ttl_s);
	for (size_t i = 0; i < nr_probes; i++) {
		if (strchr(probes[i].src, ':'))
			FRAME(&b, probes[i].src, IP6, UDP(53));
		else
			FRAME(&b, probes[i].src, IP4, UDP(53));
		frame_expect(probes[i].src, &b, 1, action_of(probes[i].reason), probes[i].reason);
	}
}

static void test_lists_v4_allow_wins_longest_live_match(void **state)
{
	static const struct rule_row rules[] = {
		{ BLOCK, "10.1.0.0/16", LIVE },   { ALLOW, "10.1.2.0/24", LIVE },
		{ ALLOW, "10.2.0.0/16", NEVER },  { BLOCK, "10.2.0.5/32", NEVER },
		{ BLOCK, "10.3.0.0/16", LIVE },   { BLOCK, "10.3.0.9/32", EXPIRED },
		{ BLOCK, "10.4.0.0/16", EXPIRED },
		{ BLOCK, "10.5.0.0/16", NEVER },  { ALLOW, "10.5.1.0/24", EXPIRED },
		{ BLOCK, "10.6.0.0/16", NEVER },  { BLOCK, "10.6.1.0/24", EXPIRED },
		{ BLOCK, "10.6.1.1/32", EXPIRED },
		{ BLOCK, "172.16.0.0/12", LIVE }, { BLOCK, "172.16.5.0/24", EXPIRED },
		{ ALLOW, "192.168.0.0/16", LIVE }, { BLOCK, "192.168.0.0/16", LIVE },
		{ ALLOW, "10.7.0.0/16", EXPIRED }, { ALLOW, "10.7.7.7/32", LIVE },
	};
	static const struct probe_row probes[] = {
		{ "10.1.2.3", SLUICE_R_ALLOW },		/* /24 allow inside /16 block */
		{ "10.1.3.3", SLUICE_R_BLOCK },
		{ "10.2.0.5", SLUICE_R_ALLOW },		/* /32 block inside /16 allow */
		{ "10.2.0.6", SLUICE_R_ALLOW },
		{ "10.3.0.9", SLUICE_R_BLOCK },		/* expired /32 leaves the /16 */
		{ "10.3.0.10", SLUICE_R_BLOCK },
		{ "10.4.0.1", SLUICE_R_PASS },		/* expired alone */
		{ "10.5.1.1", SLUICE_R_BLOCK },		/* expired allow hides nothing */
		{ "10.6.1.1", SLUICE_R_BLOCK },		/* two expired steps to the /16 */
		{ "10.6.2.1", SLUICE_R_BLOCK },
		{ "172.16.5.1", SLUICE_R_BLOCK },
		{ "172.31.255.255", SLUICE_R_BLOCK },
		{ "172.32.0.1", SLUICE_R_PASS },
		{ "192.168.1.1", SLUICE_R_ALLOW },	/* same prefix in both lists */
		{ "10.7.7.7", SLUICE_R_ALLOW },		/* live /32 inside expired /16 */
		{ "10.7.7.8", SLUICE_R_PASS },
		{ "10.8.0.1", SLUICE_R_PASS },
	};

	(void)state;
	lists_check(rules, ARRAY_SIZE(rules), probes, ARRAY_SIZE(probes));
}

static void test_lists_v6_allow_wins_longest_live_match(void **state)
{
	static const struct rule_row rules[] = {
		{ BLOCK, "2001:db8:1::/48", LIVE },	{ ALLOW, "2001:db8:1:2::/64", LIVE },
		{ ALLOW, "2001:db8:2::/48", NEVER },	{ BLOCK, "2001:db8:2::5/128", NEVER },
		{ BLOCK, "2001:db8:3::/48", LIVE },	{ BLOCK, "2001:db8:3::9/128", EXPIRED },
		{ BLOCK, "2001:db8:4::/48", EXPIRED },
		{ BLOCK, "2001:db8:5::/48", NEVER },	{ ALLOW, "2001:db8:5:1::/64", EXPIRED },
		{ BLOCK, "2001:db8:6::/48", NEVER },	{ BLOCK, "2001:db8:6:1::/64", EXPIRED },
		{ BLOCK, "2001:db8:6:1::1/128", EXPIRED },
		{ BLOCK, "2001:db8:8000::/33", LIVE },
	};
	static const struct probe_row probes[] = {
		{ "2001:db8:1:2::3", SLUICE_R_ALLOW },
		{ "2001:db8:1:3::3", SLUICE_R_BLOCK },
		{ "2001:db8:2::5", SLUICE_R_ALLOW },
		{ "2001:db8:3::9", SLUICE_R_BLOCK },
		{ "2001:db8:3::a", SLUICE_R_BLOCK },
		{ "2001:db8:4::1", SLUICE_R_PASS },
		{ "2001:db8:5:1::1", SLUICE_R_BLOCK },
		{ "2001:db8:6:1::1", SLUICE_R_BLOCK },
		{ "2001:db8:6:2::1", SLUICE_R_BLOCK },
		{ "2001:db8:ffff::1", SLUICE_R_BLOCK },
		{ "2001:db8:7fff::1", SLUICE_R_PASS },
		{ "2001:db9::1", SLUICE_R_PASS },
	};

	(void)state;
	lists_check(rules, ARRAY_SIZE(rules), probes, ARRAY_SIZE(probes));
}

/* ---- Throttle verdicts ------------------------------------------------- */

static void test_throttle_drop_verdict_drops(void **state)
{
	static const struct {
		const char *src;
		int ttl_s;
		int reason;
	} cases[] = {
		{ "10.0.0.1", NEVER, SLUICE_R_THROTTLE },
		{ "10.0.0.2", LIVE, SLUICE_R_THROTTLE },
		{ "2001:db8:1::1", LIVE, SLUICE_R_THROTTLE },
		{ "10.0.0.3", LIVE, SLUICE_R_ALLOW },	/* allowlisted below */
		{ "10.0.0.4", EXPIRED, SLUICE_R_PASS },
		{ "2001:db8:2::1", EXPIRED, SLUICE_R_PASS },
	};
	struct pkt_buf b;

	(void)state;
	rule_add(ALLOW, "10.0.0.3/32", NEVER);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		throttle_add(cases[i].src, cases[i].ttl_s, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (strchr(cases[i].src, ':'))
			FRAME(&b, cases[i].src, IP6, TCP(443, TCPF_SYN));
		else
			FRAME(&b, cases[i].src, IP4, TCP(443, TCPF_SYN));
		frame_expect(cases[i].src, &b, 3, action_of(cases[i].reason), cases[i].reason);
	}
	FRAME(&b, "10.0.0.5", IP4, UDP(53));
	frame_expect("no verdict", &b, 3, XDP_PASS, SLUICE_R_PASS);
}

static void test_throttle_cap_passes_burst_then_drops(void **state)
{
	static const struct {
		const char *src;
		int ttl_s;
		__u32 burst;
		int over;	/* reason once the burst is spent */
	} cases[] = {
		{ "10.0.0.1", NEVER, 3, SLUICE_R_THROTTLE_CAP },
		{ "10.0.0.2", LIVE, 1, SLUICE_R_THROTTLE_CAP },
		{ "2001:db8:1::1", LIVE, 2, SLUICE_R_THROTTLE_CAP },
		{ "10.0.0.3", EXPIRED, 1, SLUICE_R_PASS },
	};
	struct pkt_buf b;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		throttle_add(cases[i].src, cases[i].ttl_s, 1, cases[i].burst);
		if (strchr(cases[i].src, ':'))
			FRAME(&b, cases[i].src, IP6, UDP(53));
		else
			FRAME(&b, cases[i].src, IP4, UDP(53));
		frame_expect(cases[i].src, &b, cases[i].burst, XDP_PASS, SLUICE_R_PASS);
		frame_expect(cases[i].src, &b, 2, action_of(cases[i].over), cases[i].over);
	}
}

/* throttle_v6 is keyed by the source masked to v6_prefix. */
static void test_throttle_v6_shared_by_prefix(void **state)
{
	static const struct {
		__u32 v6_prefix;
		const char *verdict_on;
		struct probe_row probes[4];
	} cases[] = {
		{ 64, "2001:db8:1:2::7", {
			{ "2001:db8:1:2::1", SLUICE_R_THROTTLE },
			{ "2001:db8:1:2:ffff:ffff:ffff:ffff", SLUICE_R_THROTTLE },
			{ "2001:db8:1:3::1", SLUICE_R_PASS },
			{ "2001:db8:1:1:ffff:ffff:ffff:ffff", SLUICE_R_PASS } } },
		{ 56, "2001:db8:2:1ab::", {
			{ "2001:db8:2:100::1", SLUICE_R_THROTTLE },
			{ "2001:db8:2:1ff:ffff::1", SLUICE_R_THROTTLE },
			{ "2001:db8:2:200::1", SLUICE_R_PASS },
			{ "2001:db8:2:ff::1", SLUICE_R_PASS } } },
	};
	struct pkt_buf b;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fx.cfg.v6_prefix = cases[i].v6_prefix;
		config_push();
		throttle_add(cases[i].verdict_on, LIVE, 0, 0);
		for (size_t j = 0; j < ARRAY_SIZE(cases[i].probes); j++) {
			const struct probe_row *p = &cases[i].probes[j];

			FRAME(&b, p->src, IP6, UDP(53));
			frame_expect(p->src, &b, 2, action_of(p->reason), p->reason);
		}
	}
}

/* ---- Per-source buckets ------------------------------------------------ */

static void test_bucket_passes_burst_then_drops(void **state)
{
	static const struct {
		const char *src;
		__u32 rate, burst;
	} cases[] = {
		{ "10.0.0.1", 1, 5 },
		{ "10.0.0.2", 1, 1 },
		{ "10.0.0.3", 2, 16 },
		{ "2001:db8::1", 1, 3 },
	};
	struct sluice_bucket bk;
	struct pkt_buf b;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fx.cfg.def = limit(cases[i].rate, cases[i].burst, 0, 0);
		config_push();
		if (strchr(cases[i].src, ':'))
			FRAME(&b, cases[i].src, IP6, UDP(53));
		else
			FRAME(&b, cases[i].src, IP4, UDP(53));
		frame_expect(cases[i].src, &b, cases[i].burst, XDP_PASS, SLUICE_R_PASS);
		frame_expect(cases[i].src, &b, 2, XDP_DROP, SLUICE_R_RATE);
		if (bucket_get(cases[i].src, &bk))
			fail_msg("%s: no bucket", cases[i].src);
		expect_eq(cases[i].src, "bucket pkt.burst", bk.lim.pkt.burst, cases[i].burst);
		expect_eq(cases[i].src, "bucket pkt.interval_ns", bk.lim.pkt.interval_ns,
			  NSEC_PER_SEC / cases[i].rate);
	}
}

/*
 * Time is driven by moving the bucket's clock back rather than by sleeping:
 * at 100/s (10 ms a packet) the frames of one row take well under 10 ms.
 */
static void test_bucket_refills_at_rate(void **state)
{
	static const struct {
		const char *src;
		__u64 elapsed_ms;
		int refilled;
	} cases[] = {
		{ "10.0.0.1", 2000, 10 },	/* more than burst/rate: full again */
		{ "10.0.0.2", 300, 3 },		/* three intervals */
		{ "2001:db8::1", 1000, 10 },
	};
	struct pkt_buf b;

	(void)state;
	/* 10/s: a token every 100 ms, so the test's own time (slow under ASan) adds none */
	fx.cfg.def = limit(10, 10, 0, 0);
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (strchr(cases[i].src, ':'))
			FRAME(&b, cases[i].src, IP6, UDP(53));
		else
			FRAME(&b, cases[i].src, IP4, UDP(53));
		frame_expect(cases[i].src, &b, 10, XDP_PASS, SLUICE_R_PASS);
		frame_expect(cases[i].src, &b, 1, XDP_DROP, SLUICE_R_RATE);
		bucket_age(cases[i].src, cases[i].elapsed_ms * NSEC_PER_MSEC);
		frame_expect(cases[i].src, &b, cases[i].refilled, XDP_PASS, SLUICE_R_PASS);
		frame_expect(cases[i].src, &b, 1, XDP_DROP, SLUICE_R_RATE);
	}
}

static void test_syn_limit_applies_to_syn_only(void **state)
{
	struct pkt_buf syn, synack, ack, udp;

	(void)state;
	fx.cfg.def = limit(0, 0, 1, 2);
	config_push();
	FRAME(&syn, "10.0.0.1", IP4, TCP(80, TCPF_SYN));
	FRAME(&synack, "10.0.0.1", IP4, TCP(80, TCPF_SYN | TCPF_ACK));
	FRAME(&ack, "10.0.0.1", IP4, TCP(80, TCPF_ACK));
	FRAME(&udp, "10.0.0.1", IP4, UDP(53));
	frame_expect("syn", &syn, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn over", &syn, 2, XDP_DROP, SLUICE_R_SYN);
	frame_expect("syn-ack", &synack, 5, XDP_PASS, SLUICE_R_PASS);
	frame_expect("ack", &ack, 5, XDP_PASS, SLUICE_R_PASS);
	frame_expect("udp", &udp, 5, XDP_PASS, SLUICE_R_PASS);

	FRAME(&syn, "2001:db8::1", IP6, EXT6(IPPROTO_HOPOPTS, 8), TCP(80, TCPF_SYN));
	frame_expect("syn v6", &syn, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn v6 over", &syn, 1, XDP_DROP, SLUICE_R_SYN);
}

static void test_syn_limit_separate_from_pkt_limit(void **state)
{
	struct pkt_buf syn, ack;

	(void)state;
	/* SYN/s runs out first: SYNs drop as SYN, other segments still pass */
	fx.cfg.def = limit(1, 10, 1, 2);
	config_push();
	FRAME(&syn, "10.0.0.1", IP4, TCP(80, TCPF_SYN));
	FRAME(&ack, "10.0.0.1", IP4, TCP(80, TCPF_ACK));
	frame_expect("ack", &ack, 3, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn", &syn, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn over syn/s", &syn, 1, XDP_DROP, SLUICE_R_SYN);
	frame_expect("ack after syn drop", &ack, 1, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn over syn/s again", &syn, 1, XDP_DROP, SLUICE_R_SYN);

	/* pps runs out first: SYNs are packets too, and drop as RATE */
	fx.cfg.def = limit(1, 2, 1, 5);
	config_push();
	FRAME(&syn, "10.0.0.2", IP4, TCP(80, TCPF_SYN));
	FRAME(&ack, "10.0.0.2", IP4, TCP(80, TCPF_ACK));
	frame_expect("syn", &syn, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect("syn over pps", &syn, 1, XDP_DROP, SLUICE_R_RATE);
	frame_expect("ack over pps", &ack, 1, XDP_DROP, SLUICE_R_RATE);
}

static void test_limits_override_by_longest_prefix(void **state)
{
	static const struct {
		const char *prefix;
		__u32 burst;
	} overrides[] = {
		{ "10.5.0.0/16", 5 },
		{ "10.5.5.0/24", 7 },
		{ "2001:db8:5::/48", 4 },
	};
	static const struct {
		const char *src;
		__u32 burst;
	} probes[] = {
		{ "10.5.1.1", 5 },
		{ "10.5.5.1", 7 },
		{ "10.6.0.1", 2 },		/* default */
		{ "2001:db8:5::1", 4 },
		{ "2001:db8:6::1", 2 },
	};
	struct pkt_buf b;

	(void)state;
	fx.cfg.def = limit(1, 2, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(overrides); i++)
		limit_add(overrides[i].prefix, limit(1, overrides[i].burst, 0, 0));
	fx.cfg.nr_limits = ARRAY_SIZE(overrides);
	fx.cfg.limits_gen++;
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		if (strchr(probes[i].src, ':'))
			FRAME(&b, probes[i].src, IP6, UDP(53));
		else
			FRAME(&b, probes[i].src, IP4, UDP(53));
		frame_expect(probes[i].src, &b, probes[i].burst, XDP_PASS, SLUICE_R_PASS);
		frame_expect(probes[i].src, &b, 1, XDP_DROP, SLUICE_R_RATE);
	}

	/* nr_limits 0 says the maps are empty: the default applies */
	fx.cfg.nr_limits = 0;
	fx.cfg.limits_gen++;
	config_push();
	FRAME(&b, "10.5.5.2", IP4, UDP(53));
	frame_expect("nr_limits 0", &b, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect("nr_limits 0", &b, 1, XDP_DROP, SLUICE_R_RATE);
}

static void test_limits_gen_bump_updates_existing_buckets(void **state)
{
	struct sluice_bucket bk;
	struct pkt_buf b;

	(void)state;
	fx.cfg.def = limit(1, 10, 0, 0);
	config_push();
	FRAME(&b, "10.0.0.1", IP4, UDP(53));
	frame_expect("default", &b, 2, XDP_PASS, SLUICE_R_PASS);

	/* Without a bump the bucket keeps the limit it was built with */
	limit_add("10.0.0.0/24", limit(1, 3, 0, 0));
	fx.cfg.nr_limits = 1;
	config_push();
	frame_expect("before bump", &b, 2, XDP_PASS, SLUICE_R_PASS);
	assert_int_equal(bucket_get("10.0.0.1", &bk), 0);
	expect_eq("before bump", "bucket pkt.burst", bk.lim.pkt.burst, 10);

	/* Four packets charged, burst now 3: over */
	fx.cfg.limits_gen++;
	config_push();
	frame_expect("after bump", &b, 1, XDP_DROP, SLUICE_R_RATE);
	assert_int_equal(bucket_get("10.0.0.1", &bk), 0);
	expect_eq("after bump", "bucket pkt.burst", bk.lim.pkt.burst, 3);
	expect_eq("after bump", "bucket gen", bk.gen, fx.cfg.limits_gen);

	FRAME(&b, "10.0.0.2", IP4, UDP(53));
	frame_expect("new source", &b, 3, XDP_PASS, SLUICE_R_PASS);
	frame_expect("new source", &b, 1, XDP_DROP, SLUICE_R_RATE);
}

static void test_protected_ports_limit_only_those_ports(void **state)
{
	static const __u16 ports[] = { 0, 63, 64, 443, 65535 };
	static const struct {
		__u16 port;
		int limited;
	} probes[] = {
		{ 0, 1 }, { 1, 0 }, { 62, 0 }, { 63, 1 }, { 64, 1 }, { 65, 0 }, { 80, 0 },
		{ 443, 1 }, { 444, 0 }, { 65534, 0 }, { 65535, 1 },
	};
	struct pkt_buf b;
	char src[32];

	(void)state;
	fx.cfg.def = limit(1, 1, 0, 0);
	ports_protect(ports, ARRAY_SIZE(ports));
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		snprintf(src, sizeof(src), "10.0.0.%zu", i + 1);
		FRAME(&b, src, IP4, UDP(probes[i].port));
		frame_expect(src, &b, 1, XDP_PASS, SLUICE_R_PASS);
		frame_expect(src, &b, 1, probes[i].limited ? XDP_DROP : XDP_PASS,
			     probes[i].limited ? SLUICE_R_RATE : SLUICE_R_PASS);
	}

	/* One bucket per source, whichever protected port it hits */
	FRAME(&b, "10.1.0.1", IP4, TCP(443, TCPF_ACK));
	frame_expect("tcp/443", &b, 1, XDP_PASS, SLUICE_R_PASS);
	FRAME(&b, "10.1.0.1", IP4, UDP(63));
	frame_expect("udp/63 after tcp/443", &b, 1, XDP_DROP, SLUICE_R_RATE);

	/* No ports, nothing to protect */
	FRAME(&b, "10.2.0.1", IP4, ICMP);
	frame_expect("icmp", &b, 3, XDP_PASS, SLUICE_R_PASS);
	FRAME(&b, "2001:db8::1", IP6, ICMP);
	frame_expect("icmpv6", &b, 3, XDP_PASS, SLUICE_R_PASS);
}

static void test_limits_apply_to_all_when_no_port_protected(void **state)
{
	static const __u16 ports[] = { 443 };
	struct pkt_buf b;

	(void)state;
	fx.cfg.def = limit(1, 1, 0, 0);
	ports_protect(ports, ARRAY_SIZE(ports));
	fx.cfg.nr_ports = 0;	/* bitmap set, but nr_ports is what turns it on */
	config_push();
	FRAME(&b, "10.0.0.1", IP4, UDP(53));
	frame_expect("udp/53", &b, 1, XDP_PASS, SLUICE_R_PASS);
	frame_expect("udp/53", &b, 1, XDP_DROP, SLUICE_R_RATE);
	FRAME(&b, "10.0.0.2", IP4, ICMP);
	frame_expect("icmp", &b, 1, XDP_PASS, SLUICE_R_PASS);
	frame_expect("icmp", &b, 1, XDP_DROP, SLUICE_R_RATE);
}

static void test_bucket_v6_shared_by_prefix(void **state)
{
	static const struct {
		__u32 v6_prefix;
		const char *same[3];	/* one prefix: share a burst of 3 */
		const char *other;
	} cases[] = {
		{ 64, { "2001:db8:7:1::1", "2001:db8:7:1:ffff::9", "2001:db8:7:1::2" },
		  "2001:db8:7:2::1" },
		{ 56, { "2001:db8:8:100::1", "2001:db8:8:1ff::1", "2001:db8:8:1ab::1" },
		  "2001:db8:8:200::1" },
	};
	struct sluice_bucket bk;
	struct sluice_src full;
	struct pkt_buf b;

	(void)state;
	fx.cfg.def = limit(1, 3, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fx.cfg.v6_prefix = cases[i].v6_prefix;
		config_push();
		for (int j = 0; j < 3; j++) {
			FRAME(&b, cases[i].same[j], IP6, UDP(53));
			frame_expect(cases[i].same[j], &b, 1, XDP_PASS, SLUICE_R_PASS);
		}
		FRAME(&b, cases[i].same[0], IP6, UDP(53));
		frame_expect(cases[i].same[0], &b, 1, XDP_DROP, SLUICE_R_RATE);
		FRAME(&b, cases[i].other, IP6, UDP(53));
		frame_expect(cases[i].other, &b, 3, XDP_PASS, SLUICE_R_PASS);

		if (bucket_get(cases[i].same[0], &bk))
			fail_msg("%s: no bucket under the masked key", cases[i].same[0]);
		full = (struct sluice_src){ .family = SLUICE_AF_INET6 };
		memcpy(full.addr, cidr(cases[i].same[0]).addr, sizeof(full.addr));
		if (!map_get(fx.skel->maps.buckets, &full, &bk))
			fail_msg("%s: bucket under the unmasked key", cases[i].same[0]);
	}
	expect_eq("v6 buckets", "entries", map_count(fx.skel->maps.buckets), 4);
}

static void test_no_limit_creates_no_bucket(void **state)
{
	struct pkt_buf b;

	(void)state;
	FRAME(&b, "10.0.0.1", IP4, TCP(80, TCPF_SYN));
	frame_expect("no limit", &b, 50, XDP_PASS, SLUICE_R_PASS);
	expect_eq("no limit", "buckets", map_count(fx.skel->maps.buckets), 0);
}

/* ---- New-source cap ---------------------------------------------------- */

static void test_new_source_cap_sends_later_sources_to_shared_bucket(void **state)
{
	static const char *const tracked[] = { "10.0.0.1", "10.0.0.2" };
	static const char *const untracked[] = { "10.0.0.3", "10.0.0.4", "2001:db8::5" };
	struct sluice_bucket bk;
	struct pkt_buf b;

	(void)state;
	fx.cfg.new_source_cap = 2;
	fx.cfg.def = limit(1, 3, 0, 0);
	config_push();
	for (size_t i = 0; i < ARRAY_SIZE(tracked); i++) {
		FRAME(&b, tracked[i], IP4, UDP(53));
		frame_expect(tracked[i], &b, 1, XDP_PASS, SLUICE_R_PASS);
		if (bucket_get(tracked[i], &bk))
			fail_msg("%s: admitted source has no bucket", tracked[i]);
	}
	/* The shared bucket holds a burst of 3 for all of them together */
	for (size_t i = 0; i < ARRAY_SIZE(untracked); i++) {
		if (strchr(untracked[i], ':'))
			FRAME(&b, untracked[i], IP6, UDP(53));
		else
			FRAME(&b, untracked[i], IP4, UDP(53));
		frame_expect(untracked[i], &b, 1, XDP_PASS, SLUICE_R_PASS);
		if (!bucket_get(untracked[i], &bk))
			fail_msg("%s: source over the cap got its own bucket", untracked[i]);
	}
	FRAME(&b, "10.0.0.6", IP4, UDP(53));
	frame_expect("10.0.0.6", &b, 2, XDP_DROP, SLUICE_R_NEW_SOURCE);
	FRAME(&b, "10.0.0.3", IP4, UDP(53));
	frame_expect("10.0.0.3", &b, 1, XDP_DROP, SLUICE_R_NEW_SOURCE);

	/* Admitted sources keep their own buckets */
	FRAME(&b, tracked[0], IP4, UDP(53));
	frame_expect(tracked[0], &b, 2, XDP_PASS, SLUICE_R_PASS);
	frame_expect(tracked[0], &b, 1, XDP_DROP, SLUICE_R_RATE);

	if (map_get(fx.skel->maps.buckets, &overflow_key, &bk))
		fail_msg("shared bucket (family 0) missing");
	expect_eq("new-source cap", "buckets", map_count(fx.skel->maps.buckets), 3);
	expect_eq("new-source cap", "cpustate.newsrc", cpustate_sum().newsrc, 2);
}

/*
 * The cap bounds how many sources get their own bucket per second. Drops
 * of sources that never reach the limiter (here: blocklisted ones) must not
 * spend it, or a flood from a blocked range sends every legitimate new
 * client to the shared bucket, where it drops as NEW_SOURCE.
 */
static void test_new_source_cap_not_spent_by_blocked_sources(void **state)
{
	struct sluice_bucket bk;
	struct pkt_buf b;

	(void)state;
	fx.cfg.new_source_cap = 2;
	fx.cfg.def = limit(1, 3, 0, 0);
	config_push();
	rule_add(BLOCK, "10.66.0.0/16", NEVER);
	FRAME(&b, "10.66.0.1", IP4, UDP(53));
	frame_expect("blocked 10.66.0.1", &b, 1, XDP_DROP, SLUICE_R_BLOCK);
	FRAME(&b, "10.66.0.2", IP4, UDP(53));
	frame_expect("blocked 10.66.0.2", &b, 1, XDP_DROP, SLUICE_R_BLOCK);

	FRAME(&b, "10.1.0.1", IP4, UDP(53));
	frame_expect("first limited source", &b, 1, XDP_PASS, SLUICE_R_PASS);
	if (bucket_get("10.1.0.1", &bk))
		fail_msg("10.1.0.1: first source to reach the limiter has no bucket of its own "
			 "(cpustate.newsrc %llu after two blocked sources)",
			 (unsigned long long)cpustate_sum().newsrc);
}

/* newsrc_denied counts packets of sources refused tracking: each packet once. */
static void test_newsrc_denied_counts_each_packet_once(void **state)
{
	struct pkt_buf b;

	(void)state;
	fx.cfg.new_source_cap = 1;
	fx.cfg.def = limit(1, 1, 0, 0);
	config_push();
	FRAME(&b, "10.0.0.1", IP4, UDP(53));
	frame_expect("admitted", &b, 1, XDP_PASS, SLUICE_R_PASS);
	FRAME(&b, "10.0.0.2", IP4, UDP(53));
	frame_expect("shared bucket", &b, 1, XDP_PASS, SLUICE_R_PASS);
	FRAME(&b, "10.0.0.3", IP4, UDP(53));
	frame_expect("shared bucket empty", &b, 1, XDP_DROP, SLUICE_R_NEW_SOURCE);
	expect_eq("refused sources", "cpustate.newsrc_denied", cpustate_sum().newsrc_denied, 2);
}

/* ---- Dry run ----------------------------------------------------------- */

static void test_dry_run_passes_and_counts_dry_drops(void **state)
{
	struct pkt_buf blocked, throttled, limited, malformed;
	struct sluice_stat s;
	struct evlog evs = {};

	(void)state;
	fx.cfg.flags = SLUICE_F_DRY_RUN;
	fx.cfg.def = limit(1, 1, 0, 0);
	config_push();
	rule_add(BLOCK, "10.9.0.0/16", NEVER);
	throttle_add("10.8.0.1", NEVER, 0, 0);

	FRAME(&blocked, "10.9.0.1", IP4, UDP(53), DATA(10));
	frame_expect("blocked", &blocked, 3, XDP_PASS, SLUICE_R_BLOCK);
	FRAME(&throttled, "10.8.0.1", IP4, UDP(53));
	frame_expect("throttled", &throttled, 2, XDP_PASS, SLUICE_R_THROTTLE);
	FRAME(&limited, "10.7.0.1", IP4, UDP(53));
	frame_expect("limited", &limited, 1, XDP_PASS, SLUICE_R_PASS);
	frame_expect("limited", &limited, 2, XDP_PASS, SLUICE_R_RATE);
	FRAME(&malformed, "10.7.0.1", IP4, UDP(53));
	malformed.len -= 3;
	frame_expect("malformed", &malformed, 1, XDP_PASS, SLUICE_R_MALFORMED);

	s = stat_of(fx.slot, SLUICE_R_BLOCK);
	expect_eq("dry block", "packets", s.packets, 0);
	expect_eq("dry block", "bytes", s.bytes, 0);
	expect_eq("dry block", "dry_packets", s.dry_packets, 3);
	expect_eq("dry block", "dry_bytes", s.dry_bytes, 3 * 52);

	events_read(&evs);
	expect_eq("dry events", "count", evs.n, 3);
	event_check("dry block", &evs.ev[0], "10.9.0.1", SLUICE_R_BLOCK, 53, IPPROTO_UDP, 52, 1);
	event_check("dry throttle", &evs.ev[1], "10.8.0.1", SLUICE_R_THROTTLE, 53, IPPROTO_UDP, 42, 1);
	event_check("dry rate", &evs.ev[2], "10.7.0.1", SLUICE_R_RATE, 53, IPPROTO_UDP, 42, 1);
}

/* ---- Counters ---------------------------------------------------------- */

static const struct {
	const char *src;
	struct layer l[PKT_MAX_LAYERS];
	int reason;
} stats_seq[] = {
	{ "10.1.0.1", { IP4, UDP(53) }, SLUICE_R_PASS },			/* 42 */
	{ "10.1.0.1", { IP4, UDP(53), DATA(100) }, SLUICE_R_PASS },		/* 142 */
	{ "10.30.0.1", { IP4, TCP(22, TCPF_ACK) }, SLUICE_R_ALLOW },		/* 54 */
	{ "10.20.0.1", { IP4, UDP(53), DATA(7) }, SLUICE_R_BLOCK },		/* 49 */
	{ "10.20.0.2", { IP4, ICMP }, SLUICE_R_BLOCK },				/* 42 */
	{ "2001:db8:20::1", { IP6, UDP(53) }, SLUICE_R_BLOCK },			/* 62 */
	{ "10.1.0.1", { ETHER(ETH_TYPE_ARP, 28) }, SLUICE_R_NON_IP },		/* 42 */
	{ "10.50.0.1", { IP4, UDP(53) }, SLUICE_R_THROTTLE },			/* 42 */
	{ "10.1.0.1", { IP4, TCP_OPT(80, 4) }, SLUICE_R_MALFORMED },		/* 50 */
};

static const struct {
	int reason;
	__u64 packets, bytes;
} stats_want[] = {
	{ SLUICE_R_PASS, 2, 184 },
	{ SLUICE_R_ALLOW, 1, 54 },
	{ SLUICE_R_NON_IP, 1, 42 },
	{ SLUICE_R_MALFORMED, 1, 50 },
	{ SLUICE_R_BLOCK, 3, 153 },
	{ SLUICE_R_THROTTLE, 1, 42 },
};

static void stats_seq_run(void)
{
	struct pkt_buf b;

	rule_add(BLOCK, "10.20.0.0/16", NEVER);
	rule_add(BLOCK, "2001:db8:20::/48", NEVER);
	rule_add(ALLOW, "10.30.0.0/16", NEVER);
	throttle_add("10.50.0.1", NEVER, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(stats_seq); i++) {
		pkt_build(&b, stats_seq[i].l, stats_seq[i].src);
		frame_expect(stats_seq[i].src, &b, 1, action_of(stats_seq[i].reason),
			     stats_seq[i].reason);
	}
}

/* Slot holds exactly stats_want; every other slot holds nothing. */
static void stats_seq_check(__u32 slot)
{
	struct sluice_stat s[SLUICE_R_MAX];
	char what[32];

	for (__u32 sl = 0; sl < SLUICE_MAX_IFACES; sl++) {
		stats_read(sl, s);
		for (int r = 0; r < SLUICE_R_MAX; r++) {
			__u64 packets = 0, bytes = 0;

			for (size_t i = 0; sl == slot && i < ARRAY_SIZE(stats_want); i++) {
				if (stats_want[i].reason == r) {
					packets = stats_want[i].packets;
					bytes = stats_want[i].bytes;
				}
			}
			snprintf(what, sizeof(what), "slot %u %s", sl, reason_name(r));
			expect_eq(what, "packets", s[r].packets, packets);
			expect_eq(what, "bytes", s[r].bytes, bytes);
			expect_eq(what, "dry_packets", s[r].dry_packets, 0);
			expect_eq(what, "dry_bytes", s[r].dry_bytes, 0);
		}
	}
}

static void test_stats_exact_after_sequence(void **state)
{
	(void)state;
	stats_seq_run();
	stats_seq_check(0);
}

static void test_stats_land_in_if_slot(void **state)
{
	(void)state;
	fixture_unload();
	assert_int_equal(fixture_load(3), 0);
	stats_seq_run();
	stats_seq_check(3);
}

static void test_unconfigured_maps_pass_everything(void **state)
{
	struct sluice_stat s[SLUICE_R_MAX];
	struct pkt_buf b;

	(void)state;
	fx.cfg.magic = 0;
	fx.cfg.def = limit(1, 1, 0, 0);
	config_push();
	rule_add(BLOCK, "10.0.0.0/8", NEVER);
	FRAME(&b, "10.0.0.1", IP4, UDP(53));
	for (int i = 0; i < 3; i++)
		expect_eq("blocked, unconfigured", "action", xdp_run(&b), XDP_PASS);
	b.len -= 3;
	expect_eq("malformed, unconfigured", "action", xdp_run(&b), XDP_PASS);
	stats_read(0, s);
	for (int r = 0; r < SLUICE_R_MAX; r++)
		expect_eq(reason_name(r), "packets + dry_packets", s[r].packets + s[r].dry_packets, 0);
	expect_eq("unconfigured", "buckets", map_count(fx.skel->maps.buckets), 0);
}

/* ---- Top and events ---------------------------------------------------- */

static void test_top_counts_drops_per_source(void **state)
{
	struct sluice_top t;
	struct pkt_buf b;
	__u64 t0, t1;

	(void)state;
	rule_add(BLOCK, "10.9.0.0/16", NEVER);
	t0 = coarse_ns();
	FRAME(&b, "10.9.0.1", IP4, UDP(53));
	frame_expect("10.9.0.1", &b, 5, XDP_DROP, SLUICE_R_BLOCK);
	FRAME(&b, "10.9.0.2", IP4, UDP(53), DATA(58));
	frame_expect("10.9.0.2", &b, 3, XDP_DROP, SLUICE_R_BLOCK);
	FRAME(&b, "10.1.0.1", IP4, UDP(53));
	frame_expect("10.1.0.1", &b, 4, XDP_PASS, SLUICE_R_PASS);
	t1 = coarse_ns();

	expect_eq("top", "entries", map_count(fx.skel->maps.top), 2);
	assert_int_equal(top_get("10.9.0.1", &t), 0);
	expect_eq("top 10.9.0.1", "packets", t.packets, 5);
	expect_eq("top 10.9.0.1", "bytes", t.bytes, 5 * 42);
	expect_eq("top 10.9.0.1", "reason", t.reason, SLUICE_R_BLOCK);
	assert_int_equal(top_get("10.9.0.2", &t), 0);
	expect_eq("top 10.9.0.2", "packets", t.packets, 3);
	expect_eq("top 10.9.0.2", "bytes", t.bytes, 3 * 100);
	if (t.last_ns < t0 || t.last_ns > t1)
		fail_msg("top 10.9.0.2: last_ns %llu outside [%llu, %llu]",
			 (unsigned long long)t.last_ns, (unsigned long long)t0,
			 (unsigned long long)t1);

	/* reason is the last drop's */
	throttle_add("10.8.0.1", NEVER, 1, 1);
	FRAME(&b, "10.8.0.1", IP4, UDP(53));
	frame_expect("10.8.0.1", &b, 1, XDP_PASS, SLUICE_R_PASS);
	frame_expect("10.8.0.1", &b, 1, XDP_DROP, SLUICE_R_THROTTLE_CAP);
	rule_add(BLOCK, "10.8.0.1/32", NEVER);
	frame_expect("10.8.0.1", &b, 2, XDP_DROP, SLUICE_R_BLOCK);
	assert_int_equal(top_get("10.8.0.1", &t), 0);
	expect_eq("top 10.8.0.1", "packets", t.packets, 3);
	expect_eq("top 10.8.0.1", "reason", t.reason, SLUICE_R_BLOCK);
}

/* The top entry of a v6 source, with packets; fails on anything else in top. */
static void top_expect_one_v6(const char *what, const char *addr, __u64 packets)
{
	struct sluice_top t;

	expect_eq(what, "top entries", map_count(fx.skel->maps.top), 1);
	if (top_get(addr, &t))
		fail_msg("%s: no top entry under the /%u of %s", what, fx.cfg.v6_prefix, addr);
	expect_eq(what, "top packets", t.packets, packets);
}

static void test_top_v6_keyed_by_prefix(void **state)
{
	struct pkt_buf b;

	(void)state;
	throttle_add("2001:db8:1:2::", NEVER, 0, 0);
	FRAME(&b, "2001:db8:1:2::1", IP6, UDP(53));
	frame_expect("2001:db8:1:2::1", &b, 2, XDP_DROP, SLUICE_R_THROTTLE);
	FRAME(&b, "2001:db8:1:2::2", IP6, UDP(53));
	frame_expect("2001:db8:1:2::2", &b, 3, XDP_DROP, SLUICE_R_THROTTLE);
	top_expect_one_v6("throttled /64", "2001:db8:1:2::", 5);
}

/* abi.h: top is keyed by the source "v6 masked", whatever the drop reason. */
static void test_top_v6_block_drops_keyed_by_prefix(void **state)
{
	struct pkt_buf b;
	struct evlog evs = {};

	(void)state;
	rule_add(BLOCK, "2001:db8:bad::/48", NEVER);
	FRAME(&b, "2001:db8:bad:1::1", IP6, UDP(53));
	frame_expect("2001:db8:bad:1::1", &b, 2, XDP_DROP, SLUICE_R_BLOCK);
	FRAME(&b, "2001:db8:bad:1::2", IP6, UDP(53));
	frame_expect("2001:db8:bad:1::2", &b, 3, XDP_DROP, SLUICE_R_BLOCK);
	top_expect_one_v6("blocked /64", "2001:db8:bad:1::", 5);
	events_read(&evs);
	expect_eq("blocked /64", "events", evs.n, 1);
	event_check("blocked /64", &evs.ev[0], "2001:db8:bad:1::1", SLUICE_R_BLOCK, 53,
		    IPPROTO_UDP, 62, 0);
}

static void test_events_one_per_source_per_second(void **state)
{
	struct sluice_src k = src_key("10.0.0.1");
	struct evlog evs = {};
	struct sluice_top t;
	struct pkt_buf b;

	(void)state;
	throttle_add("10.0.0.1", NEVER, 0, 0);
	FRAME(&b, "10.0.0.1", IP4, TCP(443, TCPF_SYN), DATA(6));
	frame_expect("10.0.0.1", &b, 10, XDP_DROP, SLUICE_R_THROTTLE);
	events_read(&evs);
	expect_eq("10 drops in a second", "events", evs.n, 1);
	event_check("10 drops in a second", &evs.ev[0], "10.0.0.1", SLUICE_R_THROTTLE, 443,
		    IPPROTO_TCP, 60, 0);

	/* A second later (the last event moved back by one), one more */
	assert_int_equal(map_get(fx.skel->maps.top, &k, &t), 0);
	t.last_event_ns -= NSEC_PER_SEC;
	map_put(fx.skel->maps.top, &k, &t);
	frame_expect("10.0.0.1", &b, 3, XDP_DROP, SLUICE_R_THROTTLE);
	events_read(&evs);
	expect_eq("a second later", "events", evs.n, 2);
	event_check("a second later", &evs.ev[1], "10.0.0.1", SLUICE_R_THROTTLE, 443,
		    IPPROTO_TCP, 60, 0);
	expect_eq("events", "cpustate.events_lost", cpustate_sum().events_lost, 0);
}

static void test_events_one_per_source_for_two_sources(void **state)
{
	struct evlog evs = {};
	struct pkt_buf a, b;

	(void)state;
	throttle_add("10.0.0.1", NEVER, 0, 0);
	throttle_add("2001:db8:1::1", NEVER, 0, 0);
	FRAME(&a, "10.0.0.1", IP4, UDP(53));
	FRAME(&b, "2001:db8:1::1", IP6, TCP(80, TCPF_SYN));
	for (int i = 0; i < 5; i++) {
		frame_expect("10.0.0.1", &a, 1, XDP_DROP, SLUICE_R_THROTTLE);
		frame_expect("2001:db8:1::1", &b, 1, XDP_DROP, SLUICE_R_THROTTLE);
	}
	events_read(&evs);
	expect_eq("two sources", "events", evs.n, 2);
	event_check("first source", &evs.ev[0], "10.0.0.1", SLUICE_R_THROTTLE, 53,
		    IPPROTO_UDP, 42, 0);
	event_check("second source", &evs.ev[1], "2001:db8:1::1", SLUICE_R_THROTTLE, 80,
		    IPPROTO_TCP, 74, 0);
}

/* ---- Presence hints, sampling and caps ---------------------------------- */

/* config.present says which lists to look at: an unmarked list is not read. */
static void test_present_bits_gate_each_list(void **state)
{
	static const struct {
		const char *src;
		__u32 bit;
		int action;
		__u32 reason;
	} rows[] = {
		{ "10.1.0.1", SLUICE_P_BLOCK_V4, XDP_DROP, SLUICE_R_BLOCK },
		{ "2001:db8:1::1", SLUICE_P_BLOCK_V6, XDP_DROP, SLUICE_R_BLOCK },
		{ "10.2.0.1", SLUICE_P_THROTTLE_V4, XDP_DROP, SLUICE_R_THROTTLE },
		{ "2001:db8:2::1", SLUICE_P_THROTTLE_V6, XDP_DROP, SLUICE_R_THROTTLE },
	};
	struct pkt_buf b;
	__u32 all = fx.cfg.present;

	(void)state;
	rule_add(BLOCK, "10.1.0.0/16", NEVER);
	rule_add(BLOCK, "2001:db8:1::/48", NEVER);
	throttle_add("10.2.0.1", NEVER, 0, 0);
	throttle_add("2001:db8:2::1", NEVER, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		if (strchr(rows[i].src, ':'))
			FRAME(&b, rows[i].src, IP6, UDP(53));
		else
			FRAME(&b, rows[i].src, IP4, UDP(53));
		fx.cfg.present = all & ~rows[i].bit;
		config_push();
		frame_expect(rows[i].src, &b, 1, XDP_PASS, SLUICE_R_PASS);
		fx.cfg.present = all;
		config_push();
		frame_expect(rows[i].src, &b, 1, rows[i].action, rows[i].reason);
	}
}

/* Writes this CPU's window (the test runs pinned to one CPU) as now. */
static void cpustate_window(__u64 drops, __u64 events)
{
	struct sluice_cpustate *v = calloc(nr_cpus, sizeof(*v));
	__u32 zero = 0;

	assert_non_null(v);
	for (int c = 0; c < nr_cpus; c++) {
		v[c].window_ns = coarse_ns();
		v[c].drops = drops;
		v[c].events = events;
	}
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fx.skel->maps.cpustate), &zero, v, BPF_ANY), 0);
	free(v);
}

/* Past SLUICE_TOP_EXACT drops a CPU-second, top is fed one drop in 64, weighted. */
static void test_top_sampled_past_exact_rate(void **state)
{
	struct sluice_top t;
	struct pkt_buf b;

	(void)state;
	rule_add(BLOCK, "10.9.0.0/16", NEVER);
	cpustate_window(SLUICE_TOP_EXACT, 0);
	FRAME(&b, "10.9.0.1", IP4, UDP(53));
	/* Drops 10001..10128 of the second: 10048 and 10112 are sampled */
	frame_expect("10.9.0.1", &b, 2 * SLUICE_TOP_SAMPLE, XDP_DROP, SLUICE_R_BLOCK);
	assert_int_equal(top_get("10.9.0.1", &t), 0);
	expect_eq("sampled top", "packets", t.packets, 2 * SLUICE_TOP_SAMPLE);
	expect_eq("sampled top", "bytes", t.bytes, 2 * SLUICE_TOP_SAMPLE * 42);
}

/* At most SLUICE_EVENTS_PER_SEC events a CPU-second; the rest are counted lost. */
static void test_events_capped_per_cpu_second(void **state)
{
	struct evlog evs = {};
	struct pkt_buf b;

	(void)state;
	throttle_add("10.0.0.1", NEVER, 0, 0);
	cpustate_window(0, SLUICE_EVENTS_PER_SEC);
	FRAME(&b, "10.0.0.1", IP4, UDP(53));
	frame_expect("10.0.0.1", &b, 1, XDP_DROP, SLUICE_R_THROTTLE);
	events_read(&evs);
	expect_eq("over the event rate", "events", evs.n, 0);
	expect_eq("over the event rate", "cpustate.events_lost", cpustate_sum().events_lost, 1);
}

/* ---- Main -------------------------------------------------------------- */

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_parse_paths_read_source_port_and_protocol),
		T(test_blocklist_applies_to_every_fragment),
		T(test_port_limits_skip_later_fragments),
		T(test_limits_apply_to_later_fragments_without_ports),
		T(test_malformed_frames_drop),
		T(test_malformed_frames_pass_with_fail_open),
		T(test_malformed_short_ethernet_drops),
		T(test_ipv6_ext_headers_up_to_max_exthdr_parse),
		T(test_lists_v4_allow_wins_longest_live_match),
		T(test_lists_v6_allow_wins_longest_live_match),
		T(test_throttle_drop_verdict_drops),
		T(test_throttle_cap_passes_burst_then_drops),
		T(test_throttle_v6_shared_by_prefix),
		T(test_bucket_passes_burst_then_drops),
		T(test_bucket_refills_at_rate),
		T(test_syn_limit_applies_to_syn_only),
		T(test_syn_limit_separate_from_pkt_limit),
		T(test_limits_override_by_longest_prefix),
		T(test_limits_gen_bump_updates_existing_buckets),
		T(test_protected_ports_limit_only_those_ports),
		T(test_limits_apply_to_all_when_no_port_protected),
		T(test_bucket_v6_shared_by_prefix),
		T(test_no_limit_creates_no_bucket),
		T(test_new_source_cap_sends_later_sources_to_shared_bucket),
		T(test_new_source_cap_not_spent_by_blocked_sources),
		T(test_newsrc_denied_counts_each_packet_once),
		T(test_dry_run_passes_and_counts_dry_drops),
		T(test_stats_exact_after_sequence),
		T(test_stats_land_in_if_slot),
		T(test_unconfigured_maps_pass_everything),
		T(test_top_counts_drops_per_source),
		T(test_top_v6_keyed_by_prefix),
		T(test_top_v6_block_drops_keyed_by_prefix),
		T(test_events_one_per_source_per_second),
		T(test_events_one_per_source_for_two_sources),
		T(test_present_bits_gate_each_list),
		T(test_top_sampled_past_exact_rate),
		T(test_events_capped_per_cpu_second),
	};
	cpu_set_t cpus;

	if (geteuid() != 0) {
		fprintf(stderr, "test_xdp: BPF_PROG_TEST_RUN needs root\n");
		return 1;
	}
	/* One CPU: the program's per-CPU state must be the one the tests read */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) == -1) {
		perror("test_xdp: sched_setaffinity");
		return 1;
	}
	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus < 0) {
		fprintf(stderr, "test_xdp: possible CPUs: %s\n", strerror(-nr_cpus));
		return 1;
	}
	libbpf_set_print(print_warnings);
	return cmocka_run_group_tests_name("sluice_xdp", tests, NULL, NULL);
}
