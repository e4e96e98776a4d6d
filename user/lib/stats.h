/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading the data plane's counters: per-reason stats, top sources, CPU state. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdbool.h>
#include "dataplane.h"

/* "pass", "allow", "non_ip", "malformed", "block", ... */
const char *reason_name(__u32 reason);
static inline bool reason_drops(__u32 reason)
{
	return reason >= SLUICE_R_FIRST_DROP && reason < SLUICE_R_MAX;
}

/* out[reason] summed over CPUs, for one slot, or all slots when slot < 0. */
int stats_read(struct dataplane *dp, int slot, struct sluice_stat out[SLUICE_R_MAX]);
int stats_clear_slot(struct dataplane *dp, __u32 slot);

/* Summed over CPUs. */
int cpustate_read(struct dataplane *dp, struct sluice_cpustate *out);

struct top_entry {
	struct sluice_src src;
	struct sluice_top top;
};

/* All entries of top, most packets first; *out is malloc'd. */
int top_read(struct dataplane *dp, struct top_entry **out, size_t *n);

#endif
