/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Open client connections by source address (an IPv6 source by its /64),
 * shared by every worker: a listener's max_connections_per_source keeps
 * one source from holding the gateway's descriptors and memory. The table
 * is fixed (CONNCOUNT_BUCKETS buckets of CONNCOUNT_WAYS), each bucket
 * under its own lock; a source that finds its bucket full of others is let
 * in uncounted (the limit is per source: a flood from many sources is the
 * XDP SYN limit's to stop).
 */
#ifndef SLUICE_GW_CONNCOUNT_H
#define SLUICE_GW_CONNCOUNT_H

#include <stdint.h>
#include <sys/socket.h>

#define CONNCOUNT_BUCKETS	8192
#define CONNCOUNT_WAYS		8

/* 0, or -ENOMEM. Once, before the workers start. */
int conncount_init(void);
void conncount_fini(void);

/*
 * One more connection from ss, unless max are open already. 0 with *slot
 * set (hand it to conncount_put()), -EMFILE over the limit, -ENOSPC when
 * the bucket is full (not counted: *slot is UINT32_MAX, the put a no-op).
 */
int conncount_take(const struct sockaddr_storage *ss, unsigned int max, uint32_t *slot);
void conncount_put(uint32_t slot);

#endif
