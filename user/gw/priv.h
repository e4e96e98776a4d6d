/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Privileges. sluiced starts as root: it creates and opens the data
 * plane's maps, attaches XDP, binds its ports and opens its files. With
 * "user" in the config it then becomes that user (its groups too), with
 * no capability left, and reaches the data plane only through the
 * descriptors it holds from the start: the pins under bpffs are root's.
 */
#ifndef SLUICE_GW_PRIV_H
#define SLUICE_GW_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include "gw/config.h"
#include "lib/dataplane.h"

/* Opens the pinned maps once, for the life of the process, when they exist. 0 or -errno. */
int priv_dp_hold(void);
void priv_dp_release(void);

/*
 * The data plane for one operation: the held maps (DP_LOCK: the pins'
 * lock taken, as dataplane_open() takes it, and the list hints synced),
 * else a fresh dataplane_open(). Give it back with priv_dp_put().
 */
int priv_dp_get(struct dataplane *dp, unsigned int flags);
void priv_dp_put(struct dataplane *dp);

/* cfg->user, if any, names an unprivileged user of this system. 0, or -1 with err saying why. */
int priv_check(const struct gw_config *cfg, char *err, size_t errlen);

/*
 * Becomes cfg->user, for good, if the config names one (nothing
 * otherwise): its files (the audit trail, the state file) change owner
 * first, and the folders it must write to, and the files it must read on
 * reload, are checked as that user. 0, or -1 with err naming what and why.
 */
int priv_drop(const struct gw_config *cfg, const char *config_path, char *err, size_t errlen);

/* The user sluiced became, or NULL while it is still root. */
const char *priv_user(void);

#endif
