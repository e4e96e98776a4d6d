/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The state file: what the daemon owes its limits and knows of its keys,
 * kept across a restart.
 *
 * Text, one record a line, fields split by one space:
 *   sluice-state 2
 *   wall <CLOCK_REALTIME of the save, ns>
 *   bucket <key|tenant|address|route> <id> <left rps> <left rpm> <left tpm> <left tpd>
 *   key <key id> <last use, unix seconds>
 *   escalation <key|address> <id> <left> <since> <ttl> <level>
 *   end <number of bucket, key and escalation records>
 * The first two lines come first, in that order; bucket, key and
 * escalation records follow in any order; end is the last line. A bucket's
 * left is what a rate still owed at the save, in ns (see limit_walk()). An
 * escalation record is what escalation remembers of an API key (id: its
 * key id) or a source address (id: its prefix, "198.51.100.7/32" or
 * "2001:db8::/64"): the ns its suspension or block still ran (0: none),
 * the ns since its last verdict, that verdict's TTL in ns, and the steps
 * it has taken, so a suspension outlives a restart and a repeat offender's
 * TTL goes on growing. Ids are percent-escaped:
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
 * drained when the file is loaded (and has passed for an escalation
 * record's suspension and since its verdict). A wall clock that went back
 * counts as no time away (the budget stays owed rather than being given
 * twice).
 */
#ifndef SLUICE_GW_STATE_H
#define SLUICE_GW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gw/limit.h"

#define STATE_VERSION	2		/* written; 1 (no escalation records) is read too */
#define STATE_LINE_MAX	1024		/* bytes, without the '\n' */

/* When a key was last used (what sluicectl shows as "last used"). */
struct state_keyuse {
	char id[LIMIT_ID_MAX + 1];
	int64_t last_used;		/* unix seconds */
};

typedef void (*state_keyuse_fn)(const struct state_keyuse *ku, void *arg);

/* What escalation remembers of a key or an address (see the format above). */
struct state_escalation {
	bool key;			/* id is a key id; else an address prefix */
	char id[LIMIT_ID_MAX + 1];
	uint64_t left;			/* ns its suspension or block still runs; 0: none */
	uint64_t since;			/* ns since its last verdict */
	uint64_t ttl;			/* of that verdict, ns */
	uint32_t level;			/* steps taken */
};

typedef void (*state_escalation_fn)(const struct state_escalation *es, void *arg);

/*
 * Writes the buckets owing something at now_mono (CLOCK_MONOTONIC ns),
 * ku[0, nku) and es[0, nes) to path, replacing it whole: path.tmp.<pid> is
 * written (mode 0600), synced and renamed over path, then the directory is
 * synced. Each ku[i].id and es[i].id must be 1..LIMIT_ID_MAX bytes and
 * ku[i].last_used >= 0 (-EINVAL).
 * 0 or -errno with err naming the path and the cause; on an error before
 * the rename the old file is left as it was and the temp file removed.
 */
int state_save(const char *path, uint64_t now_mono, const struct state_keyuse *ku, size_t nku,
	       const struct state_escalation *es, size_t nes, char *err, size_t errlen);

/*
 * Reads path and puts its buckets back at now_mono with limit_adopt(), each
 * left less the wall-clock time since the save; key records go to fn and
 * escalation records, that time passed, to efn (each when not NULL, with
 * arg). The number of records (>= 0); -ENOENT when there is no file
 * (err says so too: a first start); -EINVAL for a bad file, with err naming
 * the line and the bad thing, and no bucket changed; -ENOSPC when the
 * bucket table filled up part way (the buckets before stay adopted);
 * -ENOMEM, or another -errno from reading.
 */
int state_load(const char *path, uint64_t now_mono, state_keyuse_fn fn,
	       state_escalation_fn efn, void *arg, char *err, size_t errlen);

/*
 * Reads only the key records of path, checking the whole file as
 * state_load() does but touching no bucket (for a process that is not the
 * daemon). The number of key records, or the errors of state_load().
 */
int state_read_keyuse(const char *path, state_keyuse_fn fn, void *arg, char *err, size_t errlen);

#endif
