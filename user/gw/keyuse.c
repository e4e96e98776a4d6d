// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* When each API key was last used (see keyuse.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw/keyuse.h"

int keyuse_collect(const struct keyfile *kf, struct state_keyuse **out, size_t *n)
{
	size_t m = 0;

	*out = NULL;
	*n = 0;
	if (!kf || !kf->nkeys)
		return 0;
	if (!(*out = calloc(kf->nkeys, sizeof(**out))))
		return -ENOMEM;
	for (size_t i = 0; i < kf->nkeys; i++) {
		int64_t t = atomic_load_explicit(&kf->keys[i].last_used, memory_order_relaxed);

		if (t <= 0)
			continue;
		snprintf((*out)[m].id, sizeof((*out)[m].id), "%s", kf->keys[i].id);
		(*out)[m++].last_used = t;
	}
	*n = m;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct state_keyuse *)a)->id, ((const struct state_keyuse *)b)->id);
}

void keyuse_apply(struct keyfile *kf, struct state_keyuse *ku, size_t n)
{
	if (!kf || !n)
		return;
	qsort(ku, n, sizeof(*ku), by_id);
	for (size_t i = 0; i < kf->nkeys; i++) {
		struct state_keyuse want = { 0 };
		const struct state_keyuse *u;

		snprintf(want.id, sizeof(want.id), "%s", kf->keys[i].id);
		u = bsearch(&want, ku, n, sizeof(*ku), by_id);
		if (u)
			keyuse_touch(&kf->keys[i], u->last_used);
	}
}

int keyuse_carry(struct keyfile *to, const struct keyfile *from)
{
	struct state_keyuse *ku;
	size_t n;

	if (keyuse_collect(from, &ku, &n))
		return -ENOMEM;
	keyuse_apply(to, ku, n);
	free(ku);
	return 0;
}

void keyuse_list_add(const struct state_keyuse *ku, void *list)
{
	struct keyuse_list *u = list;

	if (u->n == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 64;
		struct state_keyuse *v = realloc(u->v, cap * sizeof(*v));

		if (!v) {
			u->oom = true;
			return;
		}
		u->v = v;
		u->cap = cap;
	}
	u->v[u->n++] = *ku;
}
