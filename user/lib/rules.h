/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The allow and block lists: CIDR entries with expiry, origin and reason.
 * Changes need the lock (dataplane_open with DP_LOCK).
 */
#ifndef SLUICE_RULES_H
#define SLUICE_RULES_H

#include <stddef.h>
#include "cidr.h"
#include "dataplane.h"

enum rule_list { RULES_ALLOW, RULES_BLOCK };

/* Adds or replaces; ttl_ns 0 is permanent; reason may be NULL. 0 or -errno (-E2BIG: list full). */
int rules_add(struct dataplane *dp, enum rule_list l, const struct cidr *c, __u64 ttl_ns,
	      const char *reason, __u16 origin);
/* 0, or -ENOENT when c is not in the list (exact prefix). */
int rules_del(struct dataplane *dp, enum rule_list l, const struct cidr *c);
/* Deletes every entry, or only the expired ones; *n gets the count. */
int rules_flush(struct dataplane *dp, enum rule_list l, int expired_only, size_t *n);

/* Calls cb for each entry, v4 then v6; cb returns non-zero to stop (returned). */
int rules_walk(struct dataplane *dp, enum rule_list l,
	       int (*cb)(const struct cidr *c, const struct sluice_rule *r, void *arg), void *arg);

/* Remaining lifetime at mono time now: 0 permanent, 1 if already expired. */
__u64 rule_remaining_ns(const struct sluice_rule *r, __u64 now);

#endif
