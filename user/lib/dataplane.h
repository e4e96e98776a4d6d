/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned maps of the data plane, as one handle. Opening creates and
 * pins them (and writes the default config) when they do not exist yet, so
 * lists can be filled before any interface is attached. Mutations take the
 * exclusive lock so that concurrent CLI runs and the daemon are safe.
 */
#ifndef SLUICE_DATAPLANE_H
#define SLUICE_DATAPLANE_H

#include <stdbool.h>
#include <sluice/abi.h>

enum dp_map {
	DP_ALLOW_V4, DP_ALLOW_V6, DP_BLOCK_V4, DP_BLOCK_V6,
	DP_THROTTLE_V4, DP_THROTTLE_V6, DP_LIMITS_V4, DP_LIMITS_V6,
	DP_BUCKETS, DP_CPUSTATE, DP_STATS, DP_TOP, DP_EVENTS, DP_CONFIG, DP_IFACES,
	DP_NR_MAPS
};

/* flags of dataplane_open() */
#define DP_LOCK		(1U << 0)	/* hold the exclusive lock until close */
#define DP_NOCREATE	(1U << 1)	/* -ENOENT rather than create the maps */

struct dataplane {
	int fd[DP_NR_MAPS];
	int lock_fd;
	int ncpus;
	__u32 present;		/* config.present as last written by this handle */
};

extern const char *const dp_map_names[DP_NR_MAPS];

/* The pin directory in use: $SLUICE_PIN_ROOT/v1, by default SLUICE_PIN_DIR. */
const char *dp_pin_dir(void);

/* Mounts bpffs at /sys/fs/bpf if it is not there. 0 or -errno. */
int bpffs_ensure(void);

/* 0 or -errno (-EPERM without root, -ENOENT with DP_NOCREATE and no maps). */
int dataplane_open(struct dataplane *dp, unsigned int flags);
void dataplane_close(struct dataplane *dp);

/* Removes every pin (the maps die with the last program using them). */
int dataplane_unpin(void);

/*
 * config.present, the program's hint of which lists may hold entries.
 * dp_present_mark() sets the bit of a list before an insert; after
 * deletions dp_present_sync() clears the bits of maps found empty. Both
 * need the lock (they rewrite the config).
 */
int dp_present_mark(struct dataplane *dp, __u32 bit);
int dp_present_sync(struct dataplane *dp);

int dp_config_get(struct dataplane *dp, struct sluice_config *cfg);
int dp_config_put(struct dataplane *dp, const struct sluice_config *cfg);
void dp_config_defaults(struct sluice_config *cfg);

#endif
