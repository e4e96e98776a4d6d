/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The admin endpoint: its own thread and listener (loopback or a unix
 * socket, mode 0600), so nothing of it runs on the request path.
 *
 *   GET  /metrics   Prometheus text (metrics.h)
 *   GET  /healthz   alive
 *   GET  /readyz    200 when the config is loaded, the workers run and every
 *                   pool has a usable backend; 503 with the reasons
 *   GET  /status    JSON: version, config (path, SHA-256, load time,
 *                   generation), workers, listeners, pools and backends
 *                   (health, in flight), XDP interfaces and modes, audit
 *   POST /reload    reloads the config as SIGHUP does; 200 with the new
 *                   generation, or 409 with why the config was refused
 *
 * With token_file, every request but GET / must carry
 * "Authorization: Bearer TOKEN" (compared in constant time); others get 401.
 * One connection at a time, each with a 2 s deadline: it is for operators
 * and scrapers, not for load.
 */
#ifndef SLUICE_GW_ADMIN_H
#define SLUICE_GW_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include "gw/config.h"

struct runtime;
struct worker;

/* Binds and starts the thread. 0, or -1 with err filled. */
int admin_start(const struct cfg_admin *a, struct worker *w, unsigned int nw,
		struct runtime *rt, char *err, size_t errlen);
/* The runtime now serving (after a reload); takes its own reference. */
void admin_set_runtime(struct runtime *rt);
/* Reload bookkeeping, main thread: the sequence a reload starts at, and its outcome. */
uint64_t admin_reload_begin(void);
void admin_reload_done(uint64_t seq, bool ok, const char *why);
/* Stops the thread, closes the socket (removing a unix socket file). */
void admin_stop(void);

#endif
