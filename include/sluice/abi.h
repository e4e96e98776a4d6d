/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The contract between sluice_xdp and userspace: pin names, map keys and
 * values, verdict reasons, config. Included by both sides, so fixed-width
 * types only, explicit padding, no libc and no libbpf.
 *
 * Any change to a struct here is an ABI change: bump SLUICE_ABI_VERSION so
 * that the new maps are pinned beside, never over, the old ones.
 */
#ifndef SLUICE_ABI_H
#define SLUICE_ABI_H

#include <linux/types.h>

#define SLUICE_ABI_VERSION	3
#define SLUICE_PIN_ROOT		"/sys/fs/bpf/sluice"
#define SLUICE_PIN_DIR		SLUICE_PIN_ROOT "/v3"
#define SLUICE_PROG_NAME	"sluice_xdp"

#define SLUICE_CONFIG_MAGIC	0x534c4331	/* "SLC1" */

#define SLUICE_MAX_IFACES	64
#define SLUICE_REASON_LEN	32
#define SLUICE_IFNAME_LEN	16

/* Map sizes. LPM tries are not preallocated: a size costs nothing unused. */
#define SLUICE_BLOCK_V4_MAX	(4U << 20)
#define SLUICE_BLOCK_V6_MAX	(1U << 20)
#define SLUICE_ALLOW_MAX	65536
#define SLUICE_LIMITS_MAX	65536
#define SLUICE_THROTTLE_MAX	262144
#define SLUICE_BUCKETS_MAX	(1U << 20)
#define SLUICE_TOP_MAX		65536
#define SLUICE_EVENTS_BYTES	(256U << 10)

/* Address families as carried in keys; our own values, not the libc ones. */
#define SLUICE_AF_INET		4
#define SLUICE_AF_INET6		6

/*
 * Why a packet got its verdict. Every packet is counted under exactly one
 * reason. Reasons below SLUICE_R_FIRST_DROP pass; the rest drop, unless
 * dry-run is on, in which case they pass and are counted as dry drops.
 */
enum sluice_reason {
	SLUICE_R_PASS = 0,	/* judged and let through */
	SLUICE_R_ALLOW,		/* allowlisted source */
	SLUICE_R_NON_IP,	/* not IPv4/IPv6: not ours to judge */
	SLUICE_R_FIRST_DROP,
	SLUICE_R_MALFORMED = SLUICE_R_FIRST_DROP, /* truncated or bogus header */
	SLUICE_R_BLOCK,		/* blocklisted prefix */
	SLUICE_R_THROTTLE,	/* daemon verdict: drop */
	SLUICE_R_THROTTLE_CAP,	/* daemon verdict: over its pps cap */
	SLUICE_R_RATE,		/* over the per-source pps limit */
	SLUICE_R_SYN,		/* over the per-source TCP SYN/s limit */
	SLUICE_R_NEW_SOURCE,	/* untracked (new-source cap hit) and the shared bucket is empty */
	SLUICE_R_MAX
};

/* Who put an entry in a list. */
enum sluice_origin {
	SLUICE_ORIGIN_CLI = 0,
	SLUICE_ORIGIN_DAEMON,
	SLUICE_ORIGIN_SYNC,
	SLUICE_ORIGIN_MAX
};

/*
 * config.present: which lists may hold entries. Userspace sets a bit before
 * it inserts and clears it only once the map is empty, so the program can
 * skip the lookup (a cache miss per new source) of an empty map.
 */
#define SLUICE_P_ALLOW_V4	(1U << 0)
#define SLUICE_P_ALLOW_V6	(1U << 1)
#define SLUICE_P_BLOCK_V4	(1U << 2)
#define SLUICE_P_BLOCK_V6	(1U << 3)
#define SLUICE_P_THROTTLE_V4	(1U << 4)
#define SLUICE_P_THROTTLE_V6	(1U << 5)
#define SLUICE_P_ALL		0x3f

/*
 * Drops per CPU per second recorded in top one by one; past it, one in
 * SLUICE_TOP_SAMPLE is recorded with that weight, so a spoofed flood
 * cannot spend a cache miss per packet. Sampled events are capped per CPU.
 */
#define SLUICE_TOP_EXACT	10000
#define SLUICE_TOP_SAMPLE	64
#define SLUICE_EVENTS_PER_SEC	1000

/* config.flags */
#define SLUICE_F_DRY_RUN	(1U << 0)	/* count what would drop, drop nothing */
#define SLUICE_F_FAIL_OPEN	(1U << 1)	/* pass malformed frames instead of dropping them */

/* Source address in the keys of buckets and top: v4 in addr[0], v6 masked. */
struct sluice_src {
	__u32 family;
	__u32 addr[4];		/* network byte order */
};

/* LPM trie keys: prefixlen first, as the kernel's struct bpf_lpm_trie_key. */
struct sluice_lpm_v4 {
	__u32 prefixlen;
	__u32 addr;
};

struct sluice_lpm_v6 {
	__u32 prefixlen;
	__u32 addr[4];
};

/* Value of allow_v4/allow_v6/block_v4/block_v6. */
struct sluice_rule {
	__u64 expires_ns;	/* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0: never */
	__u64 created_s;	/* wall clock, for people */
	__u32 prefixlen;	/* the key's, so that an expired match can be stepped past */
	__u16 origin;		/* enum sluice_origin */
	__u16 pad;
	char reason[SLUICE_REASON_LEN];	/* operator's text, NUL-terminated */
};

/*
 * A rate: packets per second with a burst, as GCRA. interval_ns is
 * 1e9 / rate, computed in userspace so BPF never divides; a rate of 0 means
 * no limit.
 */
struct sluice_rate {
	__u32 rate;
	__u32 burst;
	__u64 interval_ns;
};

/* Value of limits_v4/limits_v6 and config.def: per-source limits. */
struct sluice_limit {
	struct sluice_rate pkt;
	struct sluice_rate syn;
};

/* Key of throttle_v6: the source masked to config.v6_prefix. */
struct sluice_v6 {
	__u32 addr[4];
};

/* Value of throttle_v4/throttle_v6: a verdict pushed by the daemon or CLI. */
struct sluice_throttle {
	__u64 expires_ns;	/* CLOCK_MONOTONIC; 0: never */
	__u64 created_s;
	__u64 tat_ns;		/* GCRA state of the cap */
	struct sluice_rate cap;	/* rate 0: drop everything */
	__u16 origin;
	__u16 pad;
	__u32 pad2;
	char reason[SLUICE_REASON_LEN];
};

/* Value of buckets: per-source GCRA state, with the limit it was built for. */
struct sluice_bucket {
	__u64 tat_pkt;		/* theoretical arrival time of the next packet */
	__u64 tat_syn;
	struct sluice_limit lim;
	__u32 gen;		/* config.limits_gen when lim was looked up */
	__u32 pad;
};

/* Value of top: drops of one source, shared by all CPUs (atomic adds). */
struct sluice_top {
	__u64 packets;
	__u64 bytes;
	__u64 last_ns;
	__u64 last_event_ns;	/* events are sampled once per source per second */
	__u32 reason;		/* of the last drop */
	__u32 pad;
};

/* Record in the events ring buffer. */
struct sluice_event {
	__u64 ts_ns;
	struct sluice_src src;
	__u32 reason;
	__u32 ifindex;
	__u32 len;
	__u16 dport;
	__u8 proto;
	__u8 dry_run;
};

/* Value of stats, indexed by slot * SLUICE_R_MAX + reason; per CPU. */
struct sluice_stat {
	__u64 packets;
	__u64 bytes;
	__u64 dry_packets;	/* would have dropped, passed in dry-run */
	__u64 dry_bytes;
};

/* Value of cpustate (per CPU): new-source admission window and losses. */
struct sluice_cpustate {
	__u64 window_ns;	/* start of the current one-second window */
	__u64 newsrc;		/* new buckets admitted in this window */
	__u64 newtop;		/* new top entries admitted in this window */
	__u64 drops;		/* drops in this window (top sampling) */
	__u64 events;		/* events sent in this window */
	__u64 newsrc_denied;	/* packets of sources refused a bucket, ever */
	__u64 top_denied;	/* drops of sources refused a top entry, ever */
	__u64 events_lost;	/* events not sent: ring buffer full, or over the per-CPU rate */
};

/* How an interface is attached, as recorded in ifaces. */
enum sluice_attach {
	SLUICE_ATTACH_NONE = 0,
	SLUICE_ATTACH_LIBXDP,		/* libxdp dispatcher (multi-program) */
	SLUICE_ATTACH_LIBXDP_SINGLE,	/* libxdp, dispatcher unavailable */
	SLUICE_ATTACH_LIBBPF,		/* plain netlink attach, libxdp failed */
};

enum sluice_mode {
	SLUICE_MODE_AUTO = 0,
	SLUICE_MODE_NATIVE,
	SLUICE_MODE_SKB,
};

/* Value of ifaces, indexed by slot: which interface owns the slot. */
struct sluice_iface {
	__u32 ifindex;		/* 0: slot free */
	__u32 prog_id;
	__u64 attached_s;
	__u8 mode_req;		/* enum sluice_mode */
	__u8 mode;		/* in effect */
	__u8 attach;		/* enum sluice_attach */
	__u8 pad[5];
	char name[SLUICE_IFNAME_LEN];
};

#define SLUICE_PORT_WORDS	(65536 / 64)

/* The one value of config. */
struct sluice_config {
	__u32 magic;		/* SLUICE_CONFIG_MAGIC once initialised */
	__u32 flags;		/* SLUICE_F_* */
	__u32 v6_prefix;	/* IPv6 sources are limited per this prefix */
	__u32 new_source_cap;	/* new sources tracked per CPU per second; 0: no cap */
	__u32 limits_gen;	/* bumped on each limit change */
	__u32 nr_ports;		/* protected ports set; 0: limits apply to all */
	__u32 nr_limits;	/* entries in limits_v4 + limits_v6 */
	__u32 present;		/* SLUICE_P_*: lists that may hold entries */
	struct sluice_limit def;	/* default per-source limit */
	__u64 ports[SLUICE_PORT_WORDS];	/* bitmap of protected destination ports */
};

#endif /* SLUICE_ABI_H */
