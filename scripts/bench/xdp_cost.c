// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_cost: what sluice_xdp costs per packet on each verdict path, from
 * BPF_PROG_TEST_RUN. The program is loaded from the skeleton with private,
 * unpinned maps, so nothing an operator pinned is read or changed.
 *
 * Warm figures run one frame `repeat` times and print the duration the
 * kernel returns (total / repeat, whole ns): the frame, its map entries and
 * the trie path stay in cache, so they are a floor. Cold-ish figures run
 * each of `cold` different frames once, so every packet walks a different
 * trie path or hash bucket; they include one ktime read and the
 * local_bh_disable/enable of the test harness, shown by the "harness" row
 * (a two-instruction XDP program measured the same way). The machine's
 * other work between runs decides how cold, so they are indicative only.
 *
 * Every run is checked: the XDP action and the stats counter of the
 * expected reason must move by the number of packets run, else the figure
 * would be for some other path and the tool exits 1.
 *
 * Usage: xdp_cost [-q] [-r REPEAT] [-n ROUNDS] [-k COLD]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sluice/abi.h>
#include "sluice_xdp.skel.h"
#include "lib/dataplane.h"
#include "lib/rate.h"

#define FRAME_MAX	128
#define MAX_ROUNDS	64
#define BATCH		65536
#define SAMPLE		10000

/* Addresses of the paths; the random blocklist covers none of 198.18.0.0/15, 10/8, 100.64/10. */
#define SRC_PASS	0xc6120101	/* 198.18.1.1 */
#define SRC_BUCKET	0xc6120102	/* 198.18.1.2 */
#define SRC_ALLOW	0xc6120201	/* 198.18.2.1, in allow 198.18.2.0/24 */
#define SRC_THROTTLE	0xc6120301	/* 198.18.3.1 */
#define SRC_RATE	0xc6120401	/* 198.18.4.1 */
#define SRC_SYN		0xc6120501	/* 198.18.5.1 */
#define DST_V4		0xc6130001	/* 198.19.0.1 */
#define NET_TRACKED	0x0a000000	/* 10.0.0.0/8: prefilled buckets */
#define NET_FRESH	0x64400000	/* 100.64.0.0/10: sources never seen before */
#define NET_FLOOD	0xc6130000	/* 198.19.0.0/16: blocklisted whole, as in xdp.sh's flood */

enum frame_kind { F_ARP, F_RUNT, F_UDP4, F_SYN4, F_UDP6 };

/* Default per-source limit a path runs under. */
enum lim_kind {
	LIM_NONE,	/* no limit: buckets are looked up, never created */
	LIM_HIGH,	/* 1e9 pps burst 1e6: tracked, never over */
	LIM_PPS1,	/* 1 pps: every packet after the first is over */
	LIM_SYN1,	/* pps as LIM_HIGH, 1 SYN/s */
};

struct path {
	const char *name;
	enum frame_kind frame;
	__u32 src;		/* v4 source; v6 paths use src6 */
	const char *src6;
	enum lim_kind lim;
	int action;		/* expected XDP action */
	__u32 reason;		/* expected stats reason */
};

static const struct path paths[] = {
	{ "non-IP pass",	F_ARP,  0,		NULL, LIM_NONE, XDP_PASS, SLUICE_R_NON_IP },
	{ "malformed drop",	F_RUNT, 0,		NULL, LIM_NONE, XDP_DROP, SLUICE_R_MALFORMED },
	{ "v4 pass, no limit",	F_UDP4, SRC_PASS,	NULL, LIM_NONE, XDP_PASS, SLUICE_R_PASS },
	{ "v4 pass, bucket",	F_UDP4, SRC_BUCKET,	NULL, LIM_HIGH, XDP_PASS, SLUICE_R_PASS },
	{ "v4 allowlisted",	F_UDP4, SRC_ALLOW,	NULL, LIM_HIGH, XDP_PASS, SLUICE_R_ALLOW },
	{ "v4 blocklisted",	F_UDP4, 0,		NULL, LIM_HIGH, XDP_DROP, SLUICE_R_BLOCK },
	{ "v4 throttle drop",	F_UDP4, SRC_THROTTLE,	NULL, LIM_HIGH, XDP_DROP, SLUICE_R_THROTTLE },
	{ "v4 rate drop",	F_UDP4, SRC_RATE,	NULL, LIM_PPS1, XDP_DROP, SLUICE_R_RATE },
	{ "v4 SYN drop",	F_SYN4, SRC_SYN,	NULL, LIM_SYN1, XDP_DROP, SLUICE_R_SYN },
	{ "v6 pass, bucket",	F_UDP6, 0, "2001:db8:1::1",   LIM_HIGH, XDP_PASS, SLUICE_R_PASS },
	{ "v6 blocklisted",	F_UDP6, 0, "2001:db8:dead::1", LIM_HIGH, XDP_DROP, SLUICE_R_BLOCK },
};
#define NR_PATHS	(sizeof(paths) / sizeof(paths[0]))
#define PATH_BLOCK	5

/* Cold-ish paths: one run per frame over `cold` different sources. */
enum cold_kind { C_HARNESS, C_PASS, C_BLOCK, C_FLOOD, C_BUCKET, C_NEWSRC, NR_COLD };

static const char *const cold_names[NR_COLD] = {
	[C_HARNESS] = "harness (2-insn prog)",
	[C_PASS] = "v4 pass, no limit",
	[C_BLOCK] = "v4 blocklisted",
	[C_FLOOD] = "v4 blocked, spoofed /16",
	[C_BUCKET] = "v4 pass, tracked src",
	[C_NEWSRC] = "v4 pass, new src insert",
};

/*
 * Probes: two-line XDP programs that do one thing of sluice_xdp (read the
 * clock, or look the frame's IPv4 source up in one of its maps, keyed as
 * sluice_xdp keys it), so a path's cost can be split into its lookups.
 * Each is measured warm and cold like the paths; the harness is subtracted.
 */
enum probe_key { K_HARNESS, K_KTIME, K_KTIME_COARSE, K_LPM4, K_SRC, K_U32 };

struct probe {
	const char *name;
	int map;		/* index into the skeleton's maps, or -1 */
	enum probe_key key;
	enum cold_kind srcs;	/* whose cold sources it looks up */
	__u32 warm_src;		/* 0: the scenario's blocklist hit */
};

enum { M_ALLOW4, M_BLOCK4, M_THROTTLE4, M_BUCKETS, M_TOP, NR_PROBE_MAPS };

static const struct probe probes[] = {
	{ "harness (subtracted)",	-1,	     K_HARNESS, C_PASS, SRC_PASS },
	{ "bpf_ktime_get_ns",		-1,	     K_KTIME, C_PASS,  SRC_PASS },
	{ "bpf_ktime_get_coarse_ns",	-1,	     K_KTIME_COARSE, C_PASS, SRC_PASS },
	{ "allow_v4 miss (LPM)",	M_ALLOW4,    K_LPM4, C_PASS,   SRC_PASS },
	{ "block_v4 miss (LPM)",	M_BLOCK4,    K_LPM4, C_PASS,   SRC_PASS },
	{ "block_v4 hit (LPM)",		M_BLOCK4,    K_LPM4, C_BLOCK,  0 },
	{ "throttle_v4 miss (hash)",	M_THROTTLE4, K_U32,  C_PASS,   SRC_PASS },
	{ "buckets miss (LRU)",		M_BUCKETS,   K_SRC,  C_PASS,   SRC_PASS },
	{ "buckets hit (LRU)",		M_BUCKETS,   K_SRC,  C_BUCKET, SRC_BUCKET },
	{ "top (LRU), blocklist hits",	M_TOP,	     K_SRC,  C_BLOCK,  0 },
	{ "top (LRU), spoofed /16",	M_TOP,	     K_SRC,  C_FLOOD,  0 },
};
#define NR_PROBES	(sizeof(probes) / sizeof(probes[0]))

/* A blocklist size, and whether buckets is prefilled with `tracked` sources. */
struct scenario {
	const char *name;
	__u32 block;
	__u32 tracked;
};

struct bench {
	struct sluice_xdp *skel;
	int prog_fd, harness_fd;
	int ncpus;
	__u32 repeat, rounds, cold;
	struct sluice_config cfg;
	__u64 rng;
	struct sluice_lpm_v4 *block;	/* what is in block_v4, in insertion order */
	__u32 nr_block;
	__u32 nr_tracked;
	__u32 fresh;			/* next never-seen source in NET_FRESH */
	__u32 *cold_src[NR_COLD];	/* the sources of each cold path */
	/* [scenario][path][round] */
	double warm[8][NR_PATHS][MAX_ROUNDS];
	double coldv[8][NR_COLD][MAX_ROUNDS];
	int cold_ok[8][NR_COLD];
	int probe_fd[NR_PROBES];
	double pwarm[8][NR_PROBES][MAX_ROUNDS];
	double pcold[8][NR_PROBES][MAX_ROUNDS];
	int pcold_ok[8][NR_PROBES];
};

static __u64 rnd(struct bench *b)
{
	/* xorshift64*: reproducible, so a rerun builds the same lists */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 2685821657736338717ULL;
}

static void put16(__u8 *p, __u16 v) { p[0] = v >> 8; p[1] = v; }
static void put32(__u8 *p, __u32 v) { put16(p, v >> 16); put16(p + 2, v); }

/* Builds a frame; v4 addresses in host order. Returns its length. */
static __u32 frame_build(__u8 *f, enum frame_kind kind, __u32 src, const struct in6_addr *src6)
{
	__u8 *l3 = f + ETH_HLEN, *l4;
	__u32 len;

	memset(f, 0, FRAME_MAX);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	switch (kind) {
	case F_ARP:
		put16(f + 12, ETH_P_ARP);
		return 60;
	case F_RUNT:
		/* IPv4 cut 10 bytes into its header */
		put16(f + 12, ETH_P_IP);
		l3[0] = 0x45;
		return ETH_HLEN + 10;
	case F_UDP4:
	case F_SYN4:
		put16(f + 12, ETH_P_IP);
		l3[0] = 0x45;
		l3[8] = 64;
		put32(l3 + 12, src);
		put32(l3 + 16, DST_V4);
		l4 = l3 + 20;
		put16(l4, 40000);
		put16(l4 + 2, 80);
		if (kind == F_UDP4) {
			l3[9] = IPPROTO_UDP;
			put16(l4 + 4, 26);
			len = 20 + 26;
		} else {
			l3[9] = IPPROTO_TCP;
			l4[12] = 5 << 4;
			l4[13] = 0x02;	/* SYN */
			len = 20 + 20;
		}
		put16(l3 + 2, len);
		return 60;
	case F_UDP6:
		put16(f + 12, ETH_P_IPV6);
		l3[0] = 0x60;
		put16(l3 + 4, 8 + 18);
		l3[6] = IPPROTO_UDP;
		l3[7] = 64;
		memcpy(l3 + 8, src6, 16);
		inet_pton(AF_INET6, "2001:db8:ffff::1", l3 + 24);
		l4 = l3 + 40;
		put16(l4, 40000);
		put16(l4 + 2, 80);
		put16(l4 + 4, 8 + 18);
		return ETH_HLEN + 40 + 8 + 18;
	}
	return 0;
}

static __u64 stat_packets(struct bench *b, __u32 reason)
{
	struct sluice_stat v[b->ncpus];
	__u32 idx = reason;	/* slot 0 */
	__u64 sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.stats), &idx, v))
		return 0;
	for (int i = 0; i < b->ncpus; i++)
		sum += v[i].packets;
	return sum;
}

/* One BPF_PROG_TEST_RUN; returns the kernel's ns per packet, or -errno. */
static int test_run(int fd, const __u8 *frame, __u32 len, __u32 repeat, int *action)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = repeat);
	__u8 out[FRAME_MAX + 256];
	int err;

	o.data_out = out;
	o.data_size_out = sizeof(out);
	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return err < 0 ? err : -EIO;
	*action = o.retval;
	return o.duration;
}

static int config_put(struct bench *b, enum lim_kind lim, __u32 new_source_cap)
{
	struct sluice_config cfg = b->cfg;
	__u32 zero = 0;

	cfg.new_source_cap = new_source_cap;
	/* Every list marked as holding entries: the cost with all of them in use */
	cfg.present = SLUICE_P_ALL;
	switch (lim) {
	case LIM_NONE:
		break;
	case LIM_HIGH:
		rate_set(&cfg.def.pkt, 1000000000U, 1000000U);
		break;
	case LIM_PPS1:
		rate_set(&cfg.def.pkt, 1, 1);
		break;
	case LIM_SYN1:
		rate_set(&cfg.def.pkt, 1000000000U, 1000000U);
		rate_set(&cfg.def.syn, 1, 1);
		break;
	}
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.config), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

static void rule_init(struct sluice_rule *r, __u32 prefixlen)
{
	memset(r, 0, sizeof(*r));
	r->prefixlen = prefixlen;
	snprintf(r->reason, sizeof(r->reason), "bench");
}

/* Batched where the kernel can (LPM tries since 5.x), one by one otherwise. */
static int map_fill(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, __u32 n)
{
	__u32 count = n;
	int err;

	err = bpf_map_update_batch(fd, keys, vals, &count, NULL);
	if (!err)
		return 0;
	for (__u32 i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz,
					(const char *)vals + i * vsz, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int in_reserved(__u32 a)
{
	return (a >> 24) == 10 || (a >> 22) == (NET_FRESH >> 22) || (a >> 17) == (0xc612U >> 1);
}

/* Grows block_v4 to n random prefixes, /24 to /32, outside the reserved nets. */
static int block_grow(struct bench *b, __u32 n)
{
	static struct sluice_rule vals[BATCH];
	int fd = bpf_map__fd(b->skel->maps.block_v4), err;

	while (b->nr_block < n) {
		__u32 start = b->nr_block, chunk = n - start < BATCH ? n - start : BATCH;

		for (__u32 i = 0; i < chunk; i++) {
			struct sluice_lpm_v4 *k = &b->block[start + i];
			__u32 plen = 24 + rnd(b) % 9, a;

			do
				a = (__u32)rnd(b) & (plen == 32 ? ~0U : ~(~0U >> plen));
			while (in_reserved(a));
			k->prefixlen = plen;
			k->addr = htonl(a);
			rule_init(&vals[i], plen);
		}
		err = map_fill(fd, &b->block[start], sizeof(*b->block), vals, sizeof(vals[0]), chunk);
		if (err)
			return err;
		b->nr_block += chunk;
	}
	return 0;
}

/* A source inside block entry i (host order). */
static __u32 block_hit(struct bench *b, __u32 i)
{
	const struct sluice_lpm_v4 *k = &b->block[i];
	__u32 host = k->prefixlen == 32 ? 0 : (__u32)rnd(b) & (~0U >> k->prefixlen);

	return ntohl(k->addr) | host;
}

static struct sluice_src src4(__u32 a)
{
	struct sluice_src s = { .family = SLUICE_AF_INET, .addr = { htonl(a) } };

	return s;
}

/* Fills buckets with n sources 10.x.y.z (10.0.0.1 upward), limit LIM_HIGH. */
static int buckets_fill(struct bench *b, __u32 n)
{
	static struct sluice_src keys[BATCH];
	static struct sluice_bucket vals[BATCH];
	int fd = bpf_map__fd(b->skel->maps.buckets), err;

	for (__u32 done = 0; done < n;) {
		__u32 chunk = n - done < BATCH ? n - done : BATCH;

		for (__u32 i = 0; i < chunk; i++) {
			keys[i] = src4(NET_TRACKED + 1 + done + i);
			memset(&vals[i], 0, sizeof(vals[i]));
			rate_set(&vals[i].lim.pkt, 1000000000U, 1000000U);
			vals[i].gen = b->cfg.limits_gen;
		}
		err = map_fill(fd, keys, sizeof(keys[0]), vals, sizeof(vals[0]), chunk);
		if (err)
			return err;
		done += chunk;
	}
	b->nr_tracked = n;
	return 0;
}

/* How many of SAMPLE prefilled sources the LRU still holds, scaled to n. */
static __u32 buckets_present(struct bench *b)
{
	int fd = bpf_map__fd(b->skel->maps.buckets);
	struct sluice_bucket v;
	__u32 hit = 0, n = b->nr_tracked < SAMPLE ? b->nr_tracked : SAMPLE;

	for (__u32 i = 0; i < n; i++) {
		struct sluice_src k = src4(NET_TRACKED + 1 + (__u32)(rnd(b) % b->nr_tracked));

		if (!bpf_map_lookup_elem(fd, &k, &v))
			hit++;
	}
	return n ? (__u32)((double)hit / n * b->nr_tracked) : 0;
}

/* The entries of the fixed paths: allow /24, flood /16, v6 block /48, throttle drop. */
static int fixed_entries(struct bench *b)
{
	struct sluice_lpm_v4 a4 = { 24, htonl(SRC_ALLOW & ~0xffU) };
	struct sluice_lpm_v4 f4 = { 16, htonl(NET_FLOOD) };
	struct sluice_lpm_v6 b6 = { .prefixlen = 48 };
	struct sluice_throttle t = { 0 };
	struct sluice_rule r;
	__u32 tk = htonl(SRC_THROTTLE);

	inet_pton(AF_INET6, "2001:db8:dead::", b6.addr);
	rule_init(&r, 24);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.allow_v4), &a4, &r, BPF_ANY))
		return -errno;
	rule_init(&r, 16);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.block_v4), &f4, &r, BPF_ANY))
		return -errno;
	rule_init(&r, 48);
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.block_v6), &b6, &r, BPF_ANY))
		return -errno;
	snprintf(t.reason, sizeof(t.reason), "bench");
	if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.throttle_v4), &tk, &t, BPF_ANY))
		return -errno;
	return 0;
}

/* Runs a path once with repeat; checks the action and the reason counter. */
static int run_warm(struct bench *b, const struct path *p, __u32 src, double *ns)
{
	__u8 frame[FRAME_MAX];
	struct in6_addr a6 = {};
	__u64 before, moved;
	int action, dur, err;
	__u32 len;

	if (p->src6)
		inet_pton(AF_INET6, p->src6, &a6);
	len = frame_build(frame, p->frame, src, &a6);
	err = config_put(b, p->lim, b->cfg.new_source_cap);
	if (err)
		return err;
	before = stat_packets(b, p->reason);
	dur = test_run(b->prog_fd, frame, len, b->repeat, &action);
	if (dur < 0) {
		fprintf(stderr, "xdp_cost: %s: test run: %s\n", p->name, strerror(-dur));
		return dur;
	}
	moved = stat_packets(b, p->reason) - before;
	/* A 1/s bucket lets one packet a second through: allow for a few */
	if (action != p->action || moved + 16 < b->repeat) {
		fprintf(stderr, "xdp_cost: %s: action %d (want %d), %llu of %u packets under reason %u\n",
			p->name, action, p->action, (unsigned long long)moved, b->repeat, p->reason);
		return -EPROTO;
	}
	*ns = dur;
	return 0;
}

/* Runs `cold` frames once each; *ns is the mean duration. */
static int run_cold(struct bench *b, enum cold_kind kind, double *ns)
{
	int drop = kind == C_BLOCK || kind == C_FLOOD;
	__u32 reason = drop ? SLUICE_R_BLOCK : SLUICE_R_PASS;
	int fd = kind == C_HARNESS ? b->harness_fd : b->prog_fd;
	__u8 frame[FRAME_MAX];
	__u64 sum = 0, before, moved;
	int err, action, dur;

	/* Admission uncapped for the insert path, so that every packet inserts */
	err = config_put(b, kind == C_PASS ? LIM_NONE : LIM_HIGH,
			 kind == C_NEWSRC ? 0 : b->cfg.new_source_cap);
	if (err)
		return err;
	before = stat_packets(b, reason);
	for (__u32 i = 0; i < b->cold; i++) {
		__u32 src = kind == C_NEWSRC ? NET_FRESH + b->fresh++ % (1U << 22) :
			    kind == C_HARNESS ? SRC_PASS : b->cold_src[kind][i];

		frame_build(frame, F_UDP4, src, NULL);
		dur = test_run(fd, frame, 60, 1, &action);
		if (dur < 0)
			return dur;
		if (action != (drop ? XDP_DROP : XDP_PASS)) {
			fprintf(stderr, "xdp_cost: cold %s: action %d\n", cold_names[kind], action);
			return -EPROTO;
		}
		sum += dur;
	}
	moved = stat_packets(b, reason) - before;
	if (kind != C_HARNESS && moved != b->cold) {
		fprintf(stderr, "xdp_cost: cold %s: %llu of %u packets under reason %u\n",
			cold_names[kind], (unsigned long long)moved, b->cold, reason);
		return -EPROTO;
	}
	*ns = (double)sum / b->cold;
	return 0;
}

/*
 * Sources of the cold paths: hits spread over the blocklist, misses of it,
 * spoofed sources in the blocklisted flood /16, tracked sources.
 */
static void cold_sources(struct bench *b)
{
	int fd = bpf_map__fd(b->skel->maps.block_v4);
	struct sluice_rule r;

	for (__u32 i = 0; i < b->cold; i++) {
		struct sluice_lpm_v4 k = { .prefixlen = 32 };
		__u32 a;

		b->cold_src[C_BLOCK][i] = block_hit(b, (__u32)(rnd(b) % b->nr_block));
		do {
			a = (__u32)rnd(b);
			k.addr = htonl(a);
		} while (in_reserved(a) || !bpf_map_lookup_elem(fd, &k, &r));
		b->cold_src[C_PASS][i] = a;
		b->cold_src[C_FLOOD][i] = NET_FLOOD | (__u32)(rnd(b) & 0xffff);
		b->cold_src[C_BUCKET][i] = b->nr_tracked ?
			NET_TRACKED + 1 + (__u32)(rnd(b) % b->nr_tracked) : 0;
	}
}

#define INSN(c, d, s_, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) })

static int probe_load(struct bench *b, const struct probe *pr)
{
	struct bpf_map *maps[NR_PROBE_MAPS] = {
		b->skel->maps.allow_v4, b->skel->maps.block_v4, b->skel->maps.throttle_v4,
		b->skel->maps.buckets, b->skel->maps.top,
	};
	struct bpf_insn insns[24];
	int n = 0, fd, skip;

	if (pr->key == K_KTIME || pr->key == K_KTIME_COARSE) {
		insns[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, pr->key == K_KTIME ?
				  BPF_FUNC_ktime_get_ns : BPF_FUNC_ktime_get_coarse_ns);
	} else if (pr->key != K_HARNESS) {
		/* r5 = IPv4 source, after the bounds check the verifier wants */
		insns[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
		insns[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 4, 0);
		insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0);
		insns[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, ETH_HLEN + 20);
		skip = n++;
		insns[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_2, ETH_HLEN + 12, 0);
		/* key at fp-24: { 32 | family 4, saddr, 0, 0, 0 }; u32 key at fp-20 */
		insns[n++] = INSN(BPF_ST | BPF_W | BPF_MEM, BPF_REG_10, 0, -24,
				  pr->key == K_LPM4 ? 32 : SLUICE_AF_INET);
		insns[n++] = INSN(BPF_STX | BPF_W | BPF_MEM, BPF_REG_10, BPF_REG_5, -20, 0);
		insns[n++] = INSN(BPF_ST | BPF_DW | BPF_MEM, BPF_REG_10, 0, -16, 0);
		insns[n++] = INSN(BPF_ST | BPF_W | BPF_MEM, BPF_REG_10, 0, -8, 0);
		insns[n++] = INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0,
				  bpf_map__fd(maps[pr->map]));
		insns[n++] = INSN(0, 0, 0, 0, 0);
		insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0);
		insns[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0,
				  pr->key == K_U32 ? -20 : -24);
		insns[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem);
		/* if r4 > r3 (frame too short): straight to the exit */
		insns[skip] = INSN(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, n - skip - 1, 0);
	}
	insns[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS);
	insns[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_probe", "GPL", insns, n, NULL);
	return fd < 0 ? -errno : fd;
}

/* Warm and cold cost of each probe, harness included (subtracted when printed). */
static int run_probes(struct bench *b, int si, __u32 round, __u32 block_src)
{
	__u8 frame[FRAME_MAX];
	int action, dur;

	for (__u32 i = 0; i < NR_PROBES; i++) {
		const struct probe *pr = &probes[i];
		__u64 sum = 0;

		frame_build(frame, F_UDP4, pr->warm_src ? pr->warm_src : block_src, NULL);
		dur = test_run(b->probe_fd[i], frame, 60, b->repeat, &action);
		if (dur < 0)
			return dur;
		if (round)
			b->pwarm[si][i][round - 1] = dur;
		if (pr->srcs == C_BUCKET && !b->nr_tracked)
			continue;
		for (__u32 k = 0; k < b->cold; k++) {
			frame_build(frame, F_UDP4, b->cold_src[pr->srcs][k], NULL);
			dur = test_run(b->probe_fd[i], frame, 60, 1, &action);
			if (dur < 0)
				return dur;
			sum += dur;
		}
		if (round)
			b->pcold[si][i][round - 1] = (double)sum / b->cold;
		b->pcold_ok[si][i] = 1;
	}
	return 0;
}

static int run_scenario(struct bench *b, int si, const struct scenario *sc)
{
	__u32 block_src;
	int err;

	err = block_grow(b, sc->block);
	if (!err && sc->tracked && b->nr_tracked < sc->tracked)
		err = buckets_fill(b, sc->tracked);
	if (err) {
		fprintf(stderr, "xdp_cost: %s: filling maps: %s\n", sc->name, strerror(-err));
		return err;
	}
	block_src = block_hit(b, (__u32)(rnd(b) % b->nr_block));
	cold_sources(b);

	/* Round 0 warms up and is not counted */
	for (__u32 r = 0; r <= b->rounds; r++) {
		double *slot, sink;

		for (__u32 i = 0; i < NR_PATHS; i++) {
			const struct path *p = &paths[i];

			slot = r ? &b->warm[si][i][r - 1] : &sink;
			err = run_warm(b, p, i == PATH_BLOCK ? block_src : p->src, slot);
			if (err)
				return err;
		}
		for (int c = 0; c < NR_COLD; c++) {
			if (c == C_BUCKET && !sc->tracked)
				continue;
			slot = r ? &b->coldv[si][c][r - 1] : &sink;
			err = run_cold(b, c, slot);
			if (err)
				return err;
			b->cold_ok[si][c] = 1;
		}
		err = run_probes(b, si, r, block_src);
		if (err) {
			fprintf(stderr, "xdp_cost: probes: %s\n", strerror(-err));
			return err;
		}
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* "median (min-max)" of n values, into buf. */
static const char *summary(const double *v, __u32 n, char *buf, size_t sz)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	snprintf(buf, sz, "%.0f (%.0f-%.0f)", med, s[0], s[n - 1]);
	return buf;
}

static double median(const double *v, __u32 n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* One table of probe costs net of the harness, round by round. */
static void print_probes(struct bench *b, const struct scenario *sc, int nsc, int cold)
{
	double net[MAX_ROUNDS];
	char buf[64];

	printf("%-26s", cold ? "lookup, cold-ish" : "lookup, warm");
	for (int s = 0; s < nsc; s++)
		printf("  %-16s", sc[s].name);
	printf("\n");
	for (__u32 i = 0; i < NR_PROBES; i++) {
		printf("%-26s", probes[i].name);
		for (int s = 0; s < nsc; s++) {
			double (*v)[MAX_ROUNDS] = cold ? b->pcold[s] : b->pwarm[s];

			if (cold && !b->pcold_ok[s][i]) {
				printf("  %-16s", "-");
				continue;
			}
			for (__u32 r = 0; r < b->rounds; r++)
				net[r] = i ? v[i][r] - v[0][r] : v[0][r];
			printf("  %-16s", summary(net, b->rounds, buf, sizeof(buf)));
		}
		printf("\n");
	}
}

static void print_tables(struct bench *b, const struct scenario *sc, int nsc)
{
	char buf[64];
	double worst = 0;
	const char *worst_name = "", *worst_sc = "";

	printf("\nWarm: ns/packet as BPF_PROG_TEST_RUN returns it, repeat %u, one frame;\n"
	       "median (min-max) of %u rounds after one warm-up round\n\n", b->repeat, b->rounds);
	printf("%-26s", "path");
	for (int s = 0; s < nsc; s++)
		printf("  %-16s", sc[s].name);
	printf("\n");
	for (__u32 i = 0; i < NR_PATHS; i++) {
		printf("%-26s", paths[i].name);
		for (int s = 0; s < nsc; s++) {
			double m = median(b->warm[s][i], b->rounds);

			printf("  %-16s", summary(b->warm[s][i], b->rounds, buf, sizeof(buf)));
			if (m > worst)
				worst = m, worst_name = paths[i].name, worst_sc = sc[s].name;
		}
		printf("\n");
	}
	printf("\nworst warm path: %s, %s: %.0f ns (target <= 60)\n", worst_name, worst_sc, worst);

	printf("\nCold-ish: mean ns/packet over %u frames of different sources, one run each\n"
	       "(includes the harness row's overhead); median (min-max) of %u rounds\n\n",
	       b->cold, b->rounds);
	printf("%-26s", "path");
	for (int s = 0; s < nsc; s++)
		printf("  %-16s", sc[s].name);
	printf("\n");
	for (int c = 0; c < NR_COLD; c++) {
		printf("%-26s", cold_names[c]);
		for (int s = 0; s < nsc; s++)
			printf("  %-16s", b->cold_ok[s][c] ?
			       summary(b->coldv[s][c], b->rounds, buf, sizeof(buf)) : "-");
		printf("\n");
	}

	printf("\nWhat the lookups cost: ns of a probe program doing only that lookup (keyed\n"
	       "as sluice_xdp keys it) minus the harness row; warm: repeat %u, one frame;\n"
	       "cold-ish: %u different sources; median (min-max) of %u rounds\n\n",
	       b->repeat, b->cold, b->rounds);
	print_probes(b, sc, nsc, 0);
	printf("\n");
	print_probes(b, sc, nsc, 1);
}

/* XDP_PASS and exit: the cost of the harness around any program. */
static int harness_load(void)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_harness", "GPL", insns, 2, NULL);

	return fd < 0 ? -errno : fd;
}

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: xdp_cost [-q] [-r REPEAT] [-n ROUNDS] [-k COLD]\n"
		"  -q  quick smoke run: small lists, repeat 10000, 1 round\n");
}

int main(int argc, char **argv)
{
	static const struct scenario full[] = {
		{ "bl=1", 1, 0 }, { "bl=1k", 1000, 0 }, { "bl=100k", 100000, 0 },
		{ "bl=1M", 1000000, 0 }, { "bl=1M+1M src", 1000000, 1000000 },
	};
	static const struct scenario quick[] = {
		{ "bl=1", 1, 0 }, { "bl=1k", 1000, 0 }, { "bl=1k+10k src", 1000, 10000 },
	};
	const struct scenario *sc = full;
	int nsc = sizeof(full) / sizeof(full[0]);
	struct bench *b;
	struct bpf_map *map;
	int opt, err, s;

	b = calloc(1, sizeof(*b));
	if (!b)
		return 1;
	b->repeat = 1000000;
	b->rounds = 5;
	b->cold = 4096;
	b->rng = 0x5eed5eed12345678ULL;
	while ((opt = getopt(argc, argv, "qr:n:k:h")) != -1) {
		switch (opt) {
		case 'q':
			sc = quick, nsc = sizeof(quick) / sizeof(quick[0]);
			b->repeat = 10000, b->rounds = 1, b->cold = 256;
			break;
		case 'r': b->repeat = strtoul(optarg, NULL, 0); break;
		case 'n': b->rounds = strtoul(optarg, NULL, 0); break;
		case 'k': b->cold = strtoul(optarg, NULL, 0); break;
		default:
			usage();
			return 2;
		}
	}
	if (!b->repeat || !b->rounds || b->rounds > MAX_ROUNDS || !b->cold || optind != argc) {
		usage();
		return 2;
	}

	libbpf_set_print(quiet_print);
	b->ncpus = libbpf_num_possible_cpus();
	b->block = calloc(sc[nsc - 1].block, sizeof(*b->block));
	for (int c = 0; c < NR_COLD; c++) {
		b->cold_src[c] = calloc(b->cold, sizeof(__u32));
		if (!b->cold_src[c])
			b->ncpus = -ENOMEM;
	}
	if (b->ncpus < 0 || !b->block) {
		fprintf(stderr, "xdp_cost: out of memory\n");
		return 1;
	}

	b->skel = sluice_xdp__open();
	if (!b->skel) {
		fprintf(stderr, "xdp_cost: open skeleton: %s\n", strerror(errno));
		return 1;
	}
	/* Private maps: never the pinned ones of a running sluice */
	bpf_object__for_each_map(map, b->skel->obj)
		bpf_map__set_pin_path(map, NULL);
	err = sluice_xdp__load(b->skel);
	if (err) {
		fprintf(stderr, "xdp_cost: load: %s\n", strerror(-err));
		goto out_destroy;
	}
	b->prog_fd = bpf_program__fd(b->skel->progs.sluice_xdp);
	b->harness_fd = harness_load();
	if (b->harness_fd < 0) {
		err = b->harness_fd;
		fprintf(stderr, "xdp_cost: load harness program: %s\n", strerror(-err));
		goto out_destroy;
	}

	for (__u32 i = 0; i < NR_PROBES; i++) {
		b->probe_fd[i] = probe_load(b, &probes[i]);
		if (b->probe_fd[i] < 0) {
			err = b->probe_fd[i];
			fprintf(stderr, "xdp_cost: load probe '%s': %s\n", probes[i].name, strerror(-err));
			goto out_close;
		}
	}
	dp_config_defaults(&b->cfg);
	err = fixed_entries(b);
	if (err) {
		fprintf(stderr, "xdp_cost: fixed map entries: %s\n", strerror(-err));
		goto out_close;
	}

	for (s = 0; s < nsc; s++) {
		fprintf(stderr, "xdp_cost: %s ...\n", sc[s].name);
		err = run_scenario(b, s, &sc[s]);
		if (err)
			goto out_close;
		if (sc[s].tracked)
			fprintf(stderr, "xdp_cost: %s: about %u of %u prefilled sources still in buckets\n",
				sc[s].name, buckets_present(b), sc[s].tracked);
	}
	printf("sluice_xdp per-packet cost; new_source_cap %u, v6_prefix %u; bl=N: N random v4\n"
	       "prefixes /24-/32 in block_v4; +M src: M sources prefilled in buckets\n",
	       b->cfg.new_source_cap, b->cfg.v6_prefix);
	print_tables(b, sc, nsc);

out_close:
	close(b->harness_fd);
out_destroy:
	sluice_xdp__destroy(b->skel);
	return err ? 1 : 0;
}
