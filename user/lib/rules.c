// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "duration.h"
#include "rules.h"

static int map_fd(struct dataplane *dp, enum rule_list l, __u32 family)
{
	if (l == RULES_ALLOW)
		return dp->fd[family == SLUICE_AF_INET ? DP_ALLOW_V4 : DP_ALLOW_V6];
	return dp->fd[family == SLUICE_AF_INET ? DP_BLOCK_V4 : DP_BLOCK_V6];
}

/* Both key layouts in one: the v4 key is a prefix of the v6 one. */
union lpm_key {
	struct sluice_lpm_v4 v4;
	struct sluice_lpm_v6 v6;
};

static __u32 present_bit(enum rule_list l, __u32 family)
{
	if (l == RULES_ALLOW)
		return family == SLUICE_AF_INET ? SLUICE_P_ALLOW_V4 : SLUICE_P_ALLOW_V6;
	return family == SLUICE_AF_INET ? SLUICE_P_BLOCK_V4 : SLUICE_P_BLOCK_V6;
}

static void key_of(const struct cidr *c, union lpm_key *k)
{
	memset(k, 0, sizeof(*k));
	if (c->family == SLUICE_AF_INET)
		cidr_to_lpm_v4(c, &k->v4);
	else
		cidr_to_lpm_v6(c, &k->v6);
}

int rules_add(struct dataplane *dp, enum rule_list l, const struct cidr *c, __u64 ttl_ns,
	      const char *reason, __u16 origin)
{
	struct sluice_rule r = {};
	union lpm_key k;
	int err;

	/* The program looks only at lists marked present: mark before inserting */
	err = dp_present_mark(dp, present_bit(l, c->family));
	if (err)
		return err;
	key_of(c, &k);
	r.expires_ns = ttl_ns ? mono_ns() + ttl_ns : 0;
	r.created_s = wall_s();
	r.prefixlen = c->prefixlen;
	r.origin = origin;
	if (reason)
		strncpy(r.reason, reason, sizeof(r.reason) - 1);
	if (bpf_map_update_elem(map_fd(dp, l, c->family), &k, &r, BPF_ANY))
		return errno == ENOSPC ? -E2BIG : -errno;
	return 0;
}

int rules_del(struct dataplane *dp, enum rule_list l, const struct cidr *c)
{
	union lpm_key k;

	key_of(c, &k);
	if (bpf_map_delete_elem(map_fd(dp, l, c->family), &k))
		return -errno;
	return dp_present_sync(dp);
}

__u64 rule_remaining_ns(const struct sluice_rule *r, __u64 now)
{
	if (!r->expires_ns)
		return 0;
	return r->expires_ns > now ? r->expires_ns - now : 1;
}

/*
 * Keys are collected before anything is deleted: deleting under
 * get_next_key restarts the walk of an LPM trie.
 */
static int collect(int fd, size_t keysz, void **keys, size_t *n)
{
	union lpm_key key, next;
	size_t cap = 0, cnt = 0;
	void *prev = NULL;
	char *v = NULL, *tmp;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 1024;
			tmp = realloc(v, cap * keysz);
			if (!tmp) {
				free(v);
				return -ENOMEM;
			}
			v = tmp;
		}
		memcpy(v + cnt * keysz, &next, keysz);
		cnt++;
		key = next;
		prev = &key;
	}
	*keys = v;
	*n = cnt;
	return 0;
}

int rules_walk(struct dataplane *dp, enum rule_list l,
	       int (*cb)(const struct cidr *c, const struct sluice_rule *r, void *arg), void *arg)
{
	static const __u32 fams[] = { SLUICE_AF_INET, SLUICE_AF_INET6 };
	struct sluice_rule r;
	struct cidr c;
	size_t n, keysz;
	void *keys;
	int err, ret = 0;

	for (size_t f = 0; f < 2 && !ret; f++) {
		int fd = map_fd(dp, l, fams[f]);

		keysz = fams[f] == SLUICE_AF_INET ? sizeof(struct sluice_lpm_v4) : sizeof(struct sluice_lpm_v6);
		err = collect(fd, keysz, &keys, &n);
		if (err)
			return err;
		for (size_t i = 0; i < n && !ret; i++) {
			void *k = (char *)keys + i * keysz;

			if (bpf_map_lookup_elem(fd, k, &r))
				continue;	/* deleted meanwhile */
			if (fams[f] == SLUICE_AF_INET)
				cidr_from_lpm_v4(k, &c);
			else
				cidr_from_lpm_v6(k, &c);
			ret = cb(&c, &r, arg);
		}
		free(keys);
	}
	return ret;
}

int rules_flush(struct dataplane *dp, enum rule_list l, int expired_only, size_t *n)
{
	static const __u32 fams[] = { SLUICE_AF_INET, SLUICE_AF_INET6 };
	__u64 now = mono_ns();
	struct sluice_rule r;
	size_t cnt, keysz;
	void *keys;
	int err;

	*n = 0;
	for (size_t f = 0; f < 2; f++) {
		int fd = map_fd(dp, l, fams[f]);

		keysz = fams[f] == SLUICE_AF_INET ? sizeof(struct sluice_lpm_v4) : sizeof(struct sluice_lpm_v6);
		err = collect(fd, keysz, &keys, &cnt);
		if (err)
			return err;
		for (size_t i = 0; i < cnt; i++) {
			void *k = (char *)keys + i * keysz;

			if (expired_only &&
			    (bpf_map_lookup_elem(fd, k, &r) || !r.expires_ns || r.expires_ns > now))
				continue;
			if (bpf_map_delete_elem(fd, k) == 0)
				(*n)++;
		}
		free(keys);
	}
	return dp_present_sync(dp);
}
