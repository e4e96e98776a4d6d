// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include "limits.h"

static int count_keys(int fd, size_t keysz, __u32 *n)
{
	char key[sizeof(struct sluice_lpm_v6)], next[sizeof(struct sluice_lpm_v6)];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, keysz);
		prev = key;
		(*n)++;
	}
	return 0;
}

/* After any change: recount overrides and bump the generation buckets check. */
static int limits_commit(struct dataplane *dp, const struct sluice_limit *def)
{
	struct sluice_config cfg;
	__u32 n = 0;
	int err;

	err = dp_config_get(dp, &cfg);
	if (err)
		return err;
	count_keys(dp->fd[DP_LIMITS_V4], sizeof(struct sluice_lpm_v4), &n);
	count_keys(dp->fd[DP_LIMITS_V6], sizeof(struct sluice_lpm_v6), &n);
	cfg.nr_limits = n;
	if (def)
		cfg.def = *def;
	cfg.limits_gen++;
	return dp_config_put(dp, &cfg);
}

int limits_set(struct dataplane *dp, const struct cidr *c, const struct sluice_limit *lim)
{
	struct sluice_lpm_v6 k6;
	struct sluice_lpm_v4 k4;
	int err;

	if (!c)
		return limits_commit(dp, lim);
	if (c->family == SLUICE_AF_INET) {
		cidr_to_lpm_v4(c, &k4);
		err = bpf_map_update_elem(dp->fd[DP_LIMITS_V4], &k4, lim, BPF_ANY);
	} else {
		cidr_to_lpm_v6(c, &k6);
		err = bpf_map_update_elem(dp->fd[DP_LIMITS_V6], &k6, lim, BPF_ANY);
	}
	if (err)
		return errno == ENOSPC ? -E2BIG : -errno;
	return limits_commit(dp, NULL);
}

int limits_del(struct dataplane *dp, const struct cidr *c)
{
	static const struct sluice_limit none;
	struct sluice_lpm_v6 k6;
	struct sluice_lpm_v4 k4;
	int err;

	if (!c)
		return limits_commit(dp, &none);
	if (c->family == SLUICE_AF_INET) {
		cidr_to_lpm_v4(c, &k4);
		err = bpf_map_delete_elem(dp->fd[DP_LIMITS_V4], &k4);
	} else {
		cidr_to_lpm_v6(c, &k6);
		err = bpf_map_delete_elem(dp->fd[DP_LIMITS_V6], &k6);
	}
	if (err)
		return -errno;
	return limits_commit(dp, NULL);
}

int limits_walk(struct dataplane *dp,
		int (*cb)(const struct cidr *c, const struct sluice_limit *l, void *arg), void *arg)
{
	struct sluice_lpm_v6 k6, n6;
	struct sluice_lpm_v4 k4, n4;
	struct sluice_limit l;
	struct cidr c;
	void *prev = NULL;
	int ret;

	while (bpf_map_get_next_key(dp->fd[DP_LIMITS_V4], prev, &n4) == 0) {
		k4 = n4;
		prev = &k4;
		if (bpf_map_lookup_elem(dp->fd[DP_LIMITS_V4], &k4, &l))
			continue;
		cidr_from_lpm_v4(&k4, &c);
		ret = cb(&c, &l, arg);
		if (ret)
			return ret;
	}
	prev = NULL;
	while (bpf_map_get_next_key(dp->fd[DP_LIMITS_V6], prev, &n6) == 0) {
		k6 = n6;
		prev = &k6;
		if (bpf_map_lookup_elem(dp->fd[DP_LIMITS_V6], &k6, &l))
			continue;
		cidr_from_lpm_v6(&k6, &c);
		ret = cb(&c, &l, arg);
		if (ret)
			return ret;
	}
	return 0;
}
