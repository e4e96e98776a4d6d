/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Throttle verdicts per source: drop everything, or cap at a rate, until
 * they expire. The daemon's escalation writes them; operators list and
 * remove them. A v6 source is keyed by its prefix (config v6_prefix).
 * Changes need the lock (dataplane_open with DP_LOCK).
 */
#ifndef SLUICE_THROTTLE_H
#define SLUICE_THROTTLE_H

#include "cidr.h"
#include "dataplane.h"

/* c is a host address (v6 is masked to v6_prefix); rate 0 drops everything. */
int throttle_add(struct dataplane *dp, const struct cidr *c, __u32 rate, __u32 burst,
		 __u64 ttl_ns, const char *reason, __u16 origin);
int throttle_del(struct dataplane *dp, const struct cidr *c);
/* cb gets the key as a prefix (/32, or /v6_prefix). */
int throttle_walk(struct dataplane *dp,
		  int (*cb)(const struct cidr *c, const struct sluice_throttle *t, void *arg), void *arg);
/*
 * After ipv6-prefix changed to new_prefix: moves each v6 verdict to the key
 * of its address under the new prefix (two that meet keep the later expiry).
 */
int throttle_rekey_v6(struct dataplane *dp, __u32 new_prefix);

/* Deletes every verdict, or only the expired ones; *n gets the count. */
int throttle_flush(struct dataplane *dp, int expired_only, size_t *n);

#endif
