/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Escalation: strikes against source addresses, from the events the
 * config's escalation section names, pushed down to the NIC. A source that
 * gathers escalation.strikes strikes within escalation.window gets its next
 * step: a verdict in the pinned XDP throttle map (a pps cap, or drop
 * everything) with the step's TTL, which the data plane enforces before the
 * kernel stack. Past the last step, the last step repeats with its TTL
 * doubled each time, up to max_ttl; a source that stays quiet for twice its
 * last TTL goes back one step. Each verdict is logged and, when there is an
 * audit trail, recorded in it (source, step, action, TTL, the events that
 * led to it). Sources are kept by their XDP key (IPv4 /32, IPv6 by its
 * /64) in a table of ESCALATE_SOURCES; a full table ignores new sources.
 */
#ifndef SLUICE_GW_ESCALATE_H
#define SLUICE_GW_ESCALATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "gw/config.h"
#include "gw/state.h"

#define ESCALATE_SOURCES	65536

int escalate_init(void);
void escalate_fini(void);

/* n events ev from peer at now (monotonic ns), as cfg says; any thread. */
void escalate_strike(const struct gw_config *cfg, const struct sockaddr_storage *peer,
		     enum esc_event ev, unsigned int n, uint64_t now);

/*
 * n events ev by the request's API key id (of tenant) at now: counted when
 * escalation.keys is set and ev is one that counts against a key
 * (EV_KEY_EVENTS and in escalation.events); crossing keys.strikes within
 * keys.window suspends the key, logged and recorded in the audit trail.
 */
void escalate_key_strike(const struct gw_config *cfg, const char *id, const char *tenant,
			 enum esc_event ev, unsigned int n, uint64_t now);

/* ns the key id stays suspended from now; 0: it is not. Lock-free while no key is. */
uint64_t escalate_key_suspended(const char *id, uint64_t now);

/*
 * ns a block verdict this daemon wrote for peer still runs; 0: none. For
 * clients behind a trusted proxy, whose packets the verdict at the NIC
 * never sees. Lock-free while no block runs.
 */
uint64_t escalate_blocked(const struct sockaddr_storage *peer, uint64_t now);

/*
 * What escalation remembers at now, for the state file: each key and
 * address with a suspension or block still running or steps to come back
 * from. *out (to be freed) and *n; 0 or -ENOMEM.
 */
int escalate_export(struct state_escalation **out, size_t *n, uint64_t now);

/*
 * Takes back one record escalate_export() gave (its times moved on by the
 * time away) at now: the key stays suspended, the block of a client behind
 * a trusted proxy stays, and the next verdict goes on from its level.
 * Ignored when cfg has no escalation section or the record has nothing
 * left to remember; a bad address is logged and ignored.
 */
void escalate_import(const struct gw_config *cfg, const struct state_escalation *es, uint64_t now);

/* Verdicts written, and the ones that failed to be (for metrics). */
void escalate_counts(uint64_t *written, uint64_t *failed, uint64_t by_step[8]);

#endif
