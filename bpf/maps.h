/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps of sluice_xdp, all pinned by name under SLUICE_PIN_DIR. */
#ifndef SLUICE_BPF_MAPS_H
#define SLUICE_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <sluice/abi.h>

/* Sources that are never dropped (management, health checkers). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v4);
	__type(value, struct sluice_rule);
	__uint(max_entries, SLUICE_ALLOW_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v6);
	__type(value, struct sluice_rule);
	__uint(max_entries, SLUICE_ALLOW_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} allow_v6 SEC(".maps");

/* CIDR blocklist, with expiry and the operator's reason. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v4);
	__type(value, struct sluice_rule);
	__uint(max_entries, SLUICE_BLOCK_V4_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v6);
	__type(value, struct sluice_rule);
	__uint(max_entries, SLUICE_BLOCK_V6_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} block_v6 SEC(".maps");

/* Verdicts per source pushed by the daemon: drop, or cap at a rate. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct sluice_throttle);
	__uint(max_entries, SLUICE_THROTTLE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} throttle_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sluice_v6);
	__type(value, struct sluice_throttle);
	__uint(max_entries, SLUICE_THROTTLE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} throttle_v6 SEC(".maps");

/* Per-prefix overrides of the default per-source limit. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v4);
	__type(value, struct sluice_limit);
	__uint(max_entries, SLUICE_LIMITS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} limits_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct sluice_lpm_v6);
	__type(value, struct sluice_limit);
	__uint(max_entries, SLUICE_LIMITS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} limits_v6 SEC(".maps");

/* Per-source GCRA state, shared by all CPUs so a source gets its rate once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct sluice_src);
	__type(value, struct sluice_bucket);
	__uint(max_entries, SLUICE_BUCKETS_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} buckets SEC(".maps");

/* Per-CPU new-source admission (caps LRU churn under spoofing) and losses. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sluice_cpustate);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cpustate SEC(".maps");

/* Packets and bytes by interface slot and verdict reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct sluice_stat);
	__uint(max_entries, SLUICE_MAX_IFACES * SLUICE_R_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* Drops per source, for sluicectl top. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct sluice_src);
	__type(value, struct sluice_top);
	__uint(max_entries, SLUICE_TOP_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} top SEC(".maps");

/* Sampled drop events (one per source per second) for the audit trail. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SLUICE_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* Defaults, protected ports, dry-run, fail-open. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sluice_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} config SEC(".maps");

/* Which interface owns which stats slot; written by userspace only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct sluice_iface);
	__uint(max_entries, SLUICE_MAX_IFACES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifaces SEC(".maps");

#endif
