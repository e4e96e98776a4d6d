// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "stats.h"

static const char *const reason_names[SLUICE_R_MAX] = {
	[SLUICE_R_PASS] = "pass",
	[SLUICE_R_ALLOW] = "allow",
	[SLUICE_R_NON_IP] = "non_ip",
	[SLUICE_R_MALFORMED] = "malformed",
	[SLUICE_R_BLOCK] = "block",
	[SLUICE_R_THROTTLE] = "throttle",
	[SLUICE_R_THROTTLE_CAP] = "throttle_cap",
	[SLUICE_R_RATE] = "rate",
	[SLUICE_R_SYN] = "syn",
	[SLUICE_R_NEW_SOURCE] = "new_source",
};

const char *reason_name(__u32 reason)
{
	return reason < SLUICE_R_MAX && reason_names[reason] ? reason_names[reason] : "unknown";
}

int stats_read(struct dataplane *dp, int slot, struct sluice_stat out[SLUICE_R_MAX])
{
	struct sluice_stat *v;
	__u32 lo = slot < 0 ? 0 : slot, hi = slot < 0 ? SLUICE_MAX_IFACES : (__u32)slot + 1;
	int err = 0;

	memset(out, 0, sizeof(*out) * SLUICE_R_MAX);
	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 s = lo; s < hi && !err; s++) {
		for (__u32 r = 0; r < SLUICE_R_MAX; r++) {
			__u32 idx = s * SLUICE_R_MAX + r;

			if (bpf_map_lookup_elem(dp->fd[DP_STATS], &idx, v)) {
				err = -errno;
				break;
			}
			for (int c = 0; c < dp->ncpus; c++) {
				out[r].packets += v[c].packets;
				out[r].bytes += v[c].bytes;
				out[r].dry_packets += v[c].dry_packets;
				out[r].dry_bytes += v[c].dry_bytes;
			}
		}
	}
	free(v);
	return err;
}

int stats_clear_slot(struct dataplane *dp, __u32 slot)
{
	struct sluice_stat *v;
	int err = 0;

	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 r = 0; r < SLUICE_R_MAX && !err; r++) {
		__u32 idx = slot * SLUICE_R_MAX + r;

		if (bpf_map_update_elem(dp->fd[DP_STATS], &idx, v, BPF_ANY))
			err = -errno;
	}
	free(v);
	return err;
}

int cpustate_read(struct dataplane *dp, struct sluice_cpustate *out)
{
	struct sluice_cpustate *v;
	__u32 zero = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	v = calloc(dp->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->fd[DP_CPUSTATE], &zero, v)) {
		err = -errno;
	} else {
		for (int c = 0; c < dp->ncpus; c++) {
			out->newsrc += v[c].newsrc;
			out->newtop += v[c].newtop;
			out->newsrc_denied += v[c].newsrc_denied;
			out->top_denied += v[c].top_denied;
			out->events_lost += v[c].events_lost;
		}
	}
	free(v);
	return err;
}

static int top_cmp(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	if (x->top.packets != y->top.packets)
		return x->top.packets < y->top.packets ? 1 : -1;
	return memcmp(&x->src, &y->src, sizeof(x->src));
}

int top_read(struct dataplane *dp, struct top_entry **out, size_t *n)
{
	struct sluice_src key, next;
	struct top_entry *v = NULL, *tmp;
	size_t cap = 0, cnt = 0;
	void *prev = NULL;
	int err = 0;

	while (bpf_map_get_next_key(dp->fd[DP_TOP], prev, &next) == 0) {
		key = next;
		prev = &key;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 256;
			tmp = realloc(v, cap * sizeof(*v));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			v = tmp;
		}
		v[cnt].src = key;
		/* An entry evicted between the two calls is simply skipped */
		if (bpf_map_lookup_elem(dp->fd[DP_TOP], &key, &v[cnt].top) == 0)
			cnt++;
	}
	if (err) {
		free(v);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), top_cmp);
	*out = v;
	*n = cnt;
	return 0;
}
