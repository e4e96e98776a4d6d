// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "duration.h"
#include "rate.h"
#include "throttle.h"

/* The map key of c: fd, key bytes, and the prefix it stands for. */
static int key_of(struct dataplane *dp, const struct cidr *c, struct cidr *masked, int *fd)
{
	struct sluice_config cfg;
	int err;

	*masked = *c;
	if (c->family == SLUICE_AF_INET) {
		*fd = dp->fd[DP_THROTTLE_V4];
		cidr_mask(masked, 32);
		return 0;
	}
	err = dp_config_get(dp, &cfg);
	if (err)
		return err;
	*fd = dp->fd[DP_THROTTLE_V6];
	cidr_mask(masked, cfg.v6_prefix);
	return 0;
}

int throttle_add(struct dataplane *dp, const struct cidr *c, __u32 rate, __u32 burst,
		 __u64 ttl_ns, const char *reason, __u16 origin)
{
	struct sluice_throttle t = {};
	struct cidr m;
	int fd, err;

	err = key_of(dp, c, &m, &fd);
	if (!err)
		err = dp_present_mark(dp, c->family == SLUICE_AF_INET ? SLUICE_P_THROTTLE_V4
								 : SLUICE_P_THROTTLE_V6);
	if (err)
		return err;
	t.expires_ns = ttl_ns ? mono_ns() + ttl_ns : 0;
	t.created_s = wall_s();
	rate_set(&t.cap, rate, burst);
	t.origin = origin;
	if (reason)
		strncpy(t.reason, reason, sizeof(t.reason) - 1);
	if (bpf_map_update_elem(fd, m.family == SLUICE_AF_INET ? (void *)&m.addr[0] : (void *)m.addr,
				&t, BPF_ANY))
		return errno == ENOSPC || errno == E2BIG ? -E2BIG : -errno;
	return 0;
}

int throttle_del(struct dataplane *dp, const struct cidr *c)
{
	struct cidr m;
	int fd, err;

	err = key_of(dp, c, &m, &fd);
	if (err)
		return err;
	if (bpf_map_delete_elem(fd, m.family == SLUICE_AF_INET ? (void *)&m.addr[0] : (void *)m.addr))
		return -errno;
	return dp_present_sync(dp);
}

/* With swept: deletes the verdicts expired at sweep_now (all, if sweep_now is ~0) instead of calling cb. */
static int walk_one(struct dataplane *dp, __u32 family, __u64 sweep_now, size_t *swept,
		    int (*cb)(const struct cidr *c, const struct sluice_throttle *t, void *arg), void *arg)
{
	int fd = dp->fd[family == SLUICE_AF_INET ? DP_THROTTLE_V4 : DP_THROTTLE_V6];
	size_t ksz = family == SLUICE_AF_INET ? sizeof(__u32) : sizeof(struct sluice_v6);
	struct sluice_config cfg;
	struct sluice_throttle t;
	__u32 key[4], next[4];
	struct cidr c;
	void *prev = NULL;
	int ret = 0, doomed = 0;

	if (dp_config_get(dp, &cfg))
		cfg.v6_prefix = 64;
	while (!ret && bpf_map_get_next_key(fd, prev, next) == 0) {
		/* Delete only once the walk has moved past: a hash walk restarts at a missing key */
		if (doomed && !bpf_map_delete_elem(fd, key))
			(*swept)++;
		doomed = 0;
		memcpy(key, next, ksz);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &t))
			continue;
		if (swept) {
			doomed = sweep_now == ~0ULL || (t.expires_ns && t.expires_ns <= sweep_now);
			continue;
		}
		memset(&c, 0, sizeof(c));
		c.family = family;
		memcpy(c.addr, key, ksz);
		c.prefixlen = family == SLUICE_AF_INET ? 32 : cfg.v6_prefix;
		ret = cb(&c, &t, arg);
	}
	if (doomed && !bpf_map_delete_elem(fd, key))
		(*swept)++;
	return ret;
}

int throttle_walk(struct dataplane *dp,
		  int (*cb)(const struct cidr *c, const struct sluice_throttle *t, void *arg), void *arg)
{
	int ret = walk_one(dp, SLUICE_AF_INET, 0, NULL, cb, arg);

	return ret ? ret : walk_one(dp, SLUICE_AF_INET6, 0, NULL, cb, arg);
}

int throttle_flush(struct dataplane *dp, int expired_only, size_t *n)
{
	__u64 now = expired_only ? mono_ns() : ~0ULL;

	*n = 0;
	walk_one(dp, SLUICE_AF_INET, now, n, NULL, NULL);
	walk_one(dp, SLUICE_AF_INET6, now, n, NULL, NULL);
	return dp_present_sync(dp);
}

int throttle_rekey_v6(struct dataplane *dp, __u32 new_prefix)
{
	int fd = dp->fd[DP_THROTTLE_V6];
	struct sluice_throttle t, have;
	struct sluice_v6 *keys = NULL, *tmp;
	struct sluice_v6 key, next;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	struct cidr c;
	int err = 0;

	/* Collected first: the walk would meet the moved entries again */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			tmp = realloc(keys, cap * sizeof(*keys));
			if (!tmp) {
				free(keys);
				return -ENOMEM;
			}
			keys = tmp;
		}
		keys[n++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &keys[i], &t))
			continue;
		memset(&c, 0, sizeof(c));
		c.family = SLUICE_AF_INET6;
		memcpy(c.addr, keys[i].addr, sizeof(c.addr));
		cidr_mask(&c, new_prefix);
		if (!memcmp(c.addr, keys[i].addr, sizeof(c.addr)))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
		if (!bpf_map_lookup_elem(fd, c.addr, &have) &&
		    (!have.expires_ns || (t.expires_ns && have.expires_ns >= t.expires_ns)))
			continue;
		if (bpf_map_update_elem(fd, c.addr, &t, BPF_ANY) && !err)
			err = -errno;
	}
	free(keys);
	return err;
}
