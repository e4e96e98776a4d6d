/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The API keys file: which keys exist, stored as SHA-256 hashes, never in
 * plain. Shared by sluiced (which loads it with its config and on every
 * reload) and sluicectl key (which adds and revokes keys).
 *
 * The file is JSON, mode 0600, written whole to a temporary file in the same
 * folder and renamed over the old one, so a reader never sees half of it:
 *
 *   { "keys": [
 *     { "id": "k_3f9a1c2b", "hash": "sha256:<64 lower-case hex>",
 *       "tenant": "acme", "created": "2026-12-06T19:50:00Z",
 *       "models": [ "gpt-4o*" ], "routes": [ "chat" ],
 *       "revoked": "2026-12-07T08:00:00Z" } ] }
 *
 * id: "k_" and 8 lower-case hex digits, unique. tenant: 1..63 of
 * [A-Za-z0-9_.-]. models: fnmatch(3) globs of the body's model the key may
 * use (absent or empty: any). routes: route names the key may use (absent or
 * empty: any). revoked: absent while the key is valid. A key is
 * KEYFILE_PREFIX followed by 40 characters of [0-9A-Za-z] (238 bits from
 * RAND_bytes); its hash is SHA-256 over the whole key string.
 */
#ifndef SLUICE_LIB_KEYFILE_H
#define SLUICE_LIB_KEYFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEYFILE_PREFIX		"sk-sluice-"
#define KEYFILE_KEY_LEN		(sizeof(KEYFILE_PREFIX) - 1 + 40)
#define KEYFILE_ID_LEN		10		/* "k_" + 8 hex */
#define KEYFILE_TENANT_MAX	63
#define KEYFILE_MAX_KEYS	100000
#define KEYFILE_MAX_GLOBS	64

struct keyfile_entry {
	char id[KEYFILE_ID_LEN + 1];
	unsigned char hash[32];		/* SHA-256 of the key */
	char tenant[KEYFILE_TENANT_MAX + 1];
	int64_t created;		/* unix seconds */
	int64_t revoked;		/* unix seconds; 0: valid */
	char **models;			/* globs; NULL/0: any model */
	size_t nmodels;
	char **routes;			/* route names; NULL/0: any route */
	size_t nroutes;
	_Atomic int64_t last_used;	/* unix seconds, 0: not seen; sluiced's, not in the file */
};

struct keyfile {
	struct keyfile_entry *keys;	/* in the file's order */
	size_t nkeys;
	size_t *by_hash;		/* indexes into keys, sorted by hash: keyfile_find */
};

/*
 * Reads path into kf. 0, or -errno with err holding one line that names the
 * file, the entry (by index and id) and the bad value:
 *   "/etc/sluice/keys.json: keys[3] (k_3f9a1c2b): hash: expected sha256:<64 hex>"
 * A missing file is -ENOENT ("... : No such file or directory"). Duplicate
 * ids or hashes are refused.
 */
int keyfile_load(const char *path, struct keyfile *kf, char *err, size_t errlen);

/* Writes kf to path atomically (temp file, fsync, rename), mode 0600. 0 or -errno. */
int keyfile_save(const char *path, const struct keyfile *kf, char *err, size_t errlen);

void keyfile_free(struct keyfile *kf);

/*
 * A new key for tenant with the given globs and routes (copied), appended to
 * kf with a fresh unique id; the key's text (KEYFILE_KEY_LEN + 1 bytes with
 * the NUL) into key_out. 0 or -errno (-EINVAL with err for a bad tenant).
 */
int keyfile_add(struct keyfile *kf, const char *tenant, char *const *models, size_t nmodels,
		char *const *routes, size_t nroutes, char *key_out, char *err, size_t errlen);

/* Marks id revoked now. 0, -ENOENT (no such id) or -EALREADY. */
int keyfile_revoke(struct keyfile *kf, const char *id);

/* SHA-256 of key[0, len) into out. */
void keyfile_hash(const char *key, size_t len, unsigned char out[32]);

/*
 * The valid (not revoked) entry whose hash is that of key[0, len); NULL if
 * none. O(log n) through by_hash, which load, add and revoke keep; the
 * comparison of hashes is constant-time (CRYPTO_memcmp).
 */
const struct keyfile_entry *keyfile_find(const struct keyfile *kf, const char *key, size_t len);

#endif
