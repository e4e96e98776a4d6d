/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-source limits: the default and per-prefix overrides. */
#ifndef SLUICE_LIMITS_H
#define SLUICE_LIMITS_H

#include "cidr.h"
#include "dataplane.h"

/*
 * Sets the limit for prefix c, or the default when c is NULL. A rate of 0
 * means unlimited. Existing buckets pick the change up on their next packet.
 * Call with the lock held (dataplane_open with DP_LOCK).
 */
int limits_set(struct dataplane *dp, const struct cidr *c, const struct sluice_limit *lim);
/* Removes an override (-ENOENT if absent), or clears the default when c is NULL. */
int limits_del(struct dataplane *dp, const struct cidr *c);
int limits_walk(struct dataplane *dp,
		int (*cb)(const struct cidr *c, const struct sluice_limit *l, void *arg), void *arg);

#endif
