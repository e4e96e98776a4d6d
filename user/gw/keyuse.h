/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * When each API key was last used: kept on its keyfile entry by the
 * workers, carried from one config's keyfile to the next on reload, and
 * through the state file (user/gw/state.h) across a restart, where
 * sluicectl key list reads it.
 */
#ifndef SLUICE_GW_KEYUSE_H
#define SLUICE_GW_KEYUSE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gw/state.h"
#include "lib/keyfile.h"

/* e was used at now (unix seconds). A store only when the second changes: no line bouncing. */
static inline void keyuse_touch(const struct keyfile_entry *e, int64_t now)
{
	_Atomic int64_t *t = (_Atomic int64_t *)&e->last_used;

	if (atomic_load_explicit(t, memory_order_relaxed) < now)
		atomic_store_explicit(t, now, memory_order_relaxed);
}

/* The keys of kf used so far, as state records into *out (malloc'd; *n of them). 0 or -ENOMEM. */
int keyuse_collect(const struct keyfile *kf, struct state_keyuse **out, size_t *n);

/* Puts ku[0, n) (sorted here by id) on kf's entries of the same ids, keeping the later time. */
void keyuse_apply(struct keyfile *kf, struct state_keyuse *ku, size_t n);

/* Key records as state_load() hands them over, gathered (state_keyuse_fn arg) */
struct keyuse_list {
	struct state_keyuse *v;
	size_t n, cap;
	bool oom;			/* some did not fit */
};

void keyuse_list_add(const struct state_keyuse *ku, void *list);

/* from's times onto to's keys of the same ids (a reload). 0 or -ENOMEM. */
int keyuse_carry(struct keyfile *to, const struct keyfile *from);

#endif
