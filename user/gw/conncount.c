// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Open client connections by source address (conncount.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "lib/cidr.h"
#include "gw/conncount.h"

struct cc_entry {
	struct cidr key;	/* the host (v4) or the /64 (v6), zero-padded */
	uint32_t open;		/* 0: free */
};

struct cc_bucket {
	pthread_mutex_t lock;
	struct cc_entry e[CONNCOUNT_WAYS];
};

static struct cc_bucket *table;

int conncount_init(void)
{
	if (table)
		return 0;
	table = calloc(CONNCOUNT_BUCKETS, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (unsigned int i = 0; i < CONNCOUNT_BUCKETS; i++)
		pthread_mutex_init(&table[i].lock, NULL);
	return 0;
}

void conncount_fini(void)
{
	if (!table)
		return;
	for (unsigned int i = 0; i < CONNCOUNT_BUCKETS; i++)
		pthread_mutex_destroy(&table[i].lock);
	free(table);
	table = NULL;
}

/* The source's key: a v4 peer (mapped or not) is its address, a v6 one its /64. */
static void source_key(const struct sockaddr_storage *ss, struct cidr *key)
{
	if (cidr_from_sockaddr(ss, key) < 0)
		memset(key, 0, sizeof(*key));
	else if (key->family == SLUICE_AF_INET6)
		cidr_mask(key, 64);
}

/* FNV-1a: the key is not the client's choice beyond its own address. */
static uint32_t key_hash(const struct cidr *key)
{
	const unsigned char *p = (const unsigned char *)key;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*key); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int conncount_take(const struct sockaddr_storage *ss, unsigned int max, uint32_t *slot)
{
	struct cidr key;
	struct cc_bucket *b;
	struct cc_entry *hit = NULL, *free_e = NULL;
	uint32_t bi;
	int ret = 0;

	source_key(ss, &key);
	bi = key_hash(&key) % CONNCOUNT_BUCKETS;
	b = &table[bi];
	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < CONNCOUNT_WAYS && !hit; i++) {
		if (b->e[i].open && !memcmp(&b->e[i].key, &key, sizeof(key)))
			hit = &b->e[i];
		else if (!b->e[i].open && !free_e)
			free_e = &b->e[i];
	}
	if (!hit && free_e) {
		hit = free_e;
		hit->key = key;
	}
	if (!hit) {
		*slot = UINT32_MAX;
		ret = -ENOSPC;
	} else if (hit->open >= max) {
		ret = -EMFILE;
	} else {
		hit->open++;
		*slot = bi * CONNCOUNT_WAYS + (uint32_t)(hit - b->e);
	}
	pthread_mutex_unlock(&b->lock);
	return ret;
}

void conncount_put(uint32_t slot)
{
	struct cc_bucket *b;

	if (slot == UINT32_MAX || !table)
		return;
	b = &table[slot / CONNCOUNT_WAYS];
	pthread_mutex_lock(&b->lock);
	if (b->e[slot % CONNCOUNT_WAYS].open)
		b->e[slot % CONNCOUNT_WAYS].open--;
	pthread_mutex_unlock(&b->lock);
}
