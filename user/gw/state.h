/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The state file: what the daemon owes its limits and knows of its keys,
 * kept across a restart.
 *
 * Text, one record a line, fields split by one space:
 *   sluice-state 1
 *   wall <CLOCK_REALTIME of the save, ns>
 *   bucket <key|tenant|address|route> <id> <left rps> <left rpm> <left tpm> <left tpd>
 *   key <key id> <last use, unix seconds>
 *   end <number of bucket and key records>
 * The first two lines come first, in that order; bucket and key records
 * follow in any order; end is the last line. A left is what a rate still
 * owed at the save, in ns (see limit_walk()). Ids are percent-escaped:
 * bytes <= 0x20, '%', 0x7f and >= 0x80 as %XX, so no field holds a space.
 * Numbers are plain decimal (no sign, no leading zero). Every line ends in
 * '\n' and is at most STATE_LINE_MAX bytes.
 *
 * The end record's count tells a whole file from a torn one; the file is
 * also only ever replaced whole (written beside it, synced, renamed). A
 * file is read and checked to its end before any of it is used: a bad one
 * changes nothing.
 *
 * The monotonic clock starts again at boot, so a left is kept relative and
 * the wall clock measures the time the daemon was away: that much has
 * drained when the file is loaded. A wall clock that went back counts as
 * no time away (the budget stays owed rather than being given twice).
 */
#ifndef SLUICE_GW_STATE_H
#define SLUICE_GW_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "gw/limit.h"

#define STATE_VERSION	1
#define STATE_LINE_MAX	1024		/* bytes, without the '\n' */

/* When a key was last used (what sluicectl shows as "last used"). */
struct state_keyuse {
	char id[LIMIT_ID_MAX + 1];
	int64_t last_used;		/* unix seconds */
};

typedef void (*state_keyuse_fn)(const struct state_keyuse *ku, void *arg);

/*
 * Writes the buckets owing something at now_mono (CLOCK_MONOTONIC ns) and
 * ku[0, nku) to path, replacing it whole: path.tmp.<pid> is written (mode
 * 0600), synced and renamed over path, then the directory is synced. Each
 * ku[i].id must be 1..LIMIT_ID_MAX bytes and last_used >= 0 (-EINVAL).
 * 0 or -errno with err naming the path and the cause; on an error before
 * the rename the old file is left as it was and the temp file removed.
 */
int state_save(const char *path, uint64_t now_mono, const struct state_keyuse *ku, size_t nku,
	       char *err, size_t errlen);

/*
 * Reads path and puts its buckets back at now_mono with limit_adopt(), each
 * left less the wall-clock time since the save; key records go to fn (when
 * not NULL). The number of records (>= 0); -ENOENT when there is no file
 * (err says so too: a first start); -EINVAL for a bad file, with err naming
 * the line and the bad thing, and no bucket changed; -ENOSPC when the
 * bucket table filled up part way (the buckets before stay adopted);
 * -ENOMEM, or another -errno from reading.
 */
int state_load(const char *path, uint64_t now_mono, state_keyuse_fn fn, void *arg, char *err,
	       size_t errlen);

/*
 * Reads only the key records of path, checking the whole file as
 * state_load() does but touching no bucket (for a process that is not the
 * daemon). The number of key records, or the errors of state_load().
 */
int state_read_keyuse(const char *path, state_keyuse_fn fn, void *arg, char *err, size_t errlen);

#endif
