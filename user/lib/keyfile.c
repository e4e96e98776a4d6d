// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The API keys file (keyfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keyfile.h"

#define KEYFILE_MAX_SIZE	(64u << 20)
#define GLOB_MAX_LEN		255

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void keyfile_hash(const char *key, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(key, len, out, &n, EVP_sha256(), NULL);
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void entry_free(struct keyfile_entry *e)
{
	strv_free(e->models, e->nmodels);
	strv_free(e->routes, e->nroutes);
}

void keyfile_free(struct keyfile *kf)
{
	for (size_t i = 0; i < kf->nkeys; i++)
		entry_free(&kf->keys[i]);
	free(kf->keys);
	free(kf->by_hash);
	memset(kf, 0, sizeof(*kf));
}

static const struct keyfile *sort_kf;

static int by_hash_cmp(const void *a, const void *b)
{
	return memcmp(sort_kf->keys[*(const size_t *)a].hash,
		      sort_kf->keys[*(const size_t *)b].hash, 32);
}

/* Rebuilds by_hash; -ENOMEM, or -EEXIST with *dup set when two keys share a hash. */
static int index_build(struct keyfile *kf, size_t *dup)
{
	size_t *ix = malloc((kf->nkeys ? kf->nkeys : 1) * sizeof(*ix));

	if (!ix)
		return -ENOMEM;
	for (size_t i = 0; i < kf->nkeys; i++)
		ix[i] = i;
	sort_kf = kf;
	qsort(ix, kf->nkeys, sizeof(*ix), by_hash_cmp);
	sort_kf = NULL;
	for (size_t i = 1; i < kf->nkeys; i++)
		if (!memcmp(kf->keys[ix[i - 1]].hash, kf->keys[ix[i]].hash, 32)) {
			*dup = ix[i];
			free(ix);
			return -EEXIST;
		}
	free(kf->by_hash);
	kf->by_hash = ix;
	return 0;
}

const struct keyfile_entry *keyfile_find(const struct keyfile *kf, const char *key, size_t len)
{
	unsigned char h[32];
	size_t lo = 0, hi = kf->nkeys;

	if (!kf->by_hash)
		return NULL;
	keyfile_hash(key, len, h);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct keyfile_entry *e = &kf->keys[kf->by_hash[mid]];
		int d = memcmp(e->hash, h, 32);

		if (!d) {
			/* The search order leaks nothing the hash does not; the final check is constant-time. */
			if (CRYPTO_memcmp(e->hash, h, 32) || e->revoked)
				return NULL;
			return e;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool tenant_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > KEYFILE_TENANT_MAX)
		return false;
	for (; *s; s++)
		if (!(*s >= '0' && *s <= '9') && !(*s >= 'a' && *s <= 'z') &&
		    !(*s >= 'A' && *s <= 'Z') && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

static bool id_ok(const char *s)
{
	if (strlen(s) != KEYFILE_ID_LEN || s[0] != 'k' || s[1] != '_')
		return false;
	for (s += 2; *s; s++)
		if (!(*s >= '0' && *s <= '9') && !(*s >= 'a' && *s <= 'f'))
			return false;
	return true;
}

/* A glob or route name: 1..255 printable ASCII bytes. */
static bool word_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > GLOB_MAX_LEN)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int parse_hash(const char *s, unsigned char out[32])
{
	if (strncmp(s, "sha256:", 7) || strlen(s) != 7 + 64)
		return -EINVAL;
	s += 7;
	for (int i = 0; i < 32; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);

	if (!end || *end)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An array of words, or absent/null (any). */
static const char *parse_words(const cJSON *a, char ***out, size_t *n)
{
	const cJSON *it;
	size_t cnt;

	*out = NULL;
	*n = 0;
	if (!a || cJSON_IsNull(a))
		return NULL;
	if (!cJSON_IsArray(a))
		return "expected an array of strings";
	cnt = (size_t)cJSON_GetArraySize(a);
	if (cnt > KEYFILE_MAX_GLOBS)
		return "more than 64 entries";
	if (!cnt)
		return NULL;
	if (!(*out = calloc(cnt, sizeof(**out))))
		return "out of memory";
	cJSON_ArrayForEach(it, a) {
		if (!cJSON_IsString(it) || !word_ok(it->valuestring))
			return "expected strings of 1..255 printable ASCII characters";
		if (!((*out)[*n] = strdup(it->valuestring)))
			return "out of memory";
		(*n)++;
	}
	return NULL;
}

static const char *parse_entry(const cJSON *o, struct keyfile_entry *e, const char **field)
{
	const cJSON *v;
	const char *why;

	if (!cJSON_IsObject(o))
		return *field = "", "expected an object";
	for (v = o->child; v; v = v->next)
		if (strcmp(v->string, "id") && strcmp(v->string, "hash") && strcmp(v->string, "tenant") &&
		    strcmp(v->string, "created") && strcmp(v->string, "models") &&
		    strcmp(v->string, "routes") && strcmp(v->string, "revoked"))
			return *field = v->string, "unknown field";
	v = cJSON_GetObjectItemCaseSensitive(o, *field = "id");
	if (!cJSON_IsString(v) || !id_ok(v->valuestring))
		return "expected k_ and 8 lower-case hex digits";
	memcpy(e->id, v->valuestring, KEYFILE_ID_LEN + 1);
	v = cJSON_GetObjectItemCaseSensitive(o, *field = "hash");
	if (!cJSON_IsString(v) || parse_hash(v->valuestring, e->hash))
		return "expected sha256:<64 hex>";
	v = cJSON_GetObjectItemCaseSensitive(o, *field = "tenant");
	if (!cJSON_IsString(v) || !tenant_ok(v->valuestring))
		return "expected 1..63 of [A-Za-z0-9_.-]";
	strcpy(e->tenant, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(o, *field = "created");
	if (v && (!cJSON_IsString(v) || parse_time(v->valuestring, &e->created)))
		return "expected YYYY-MM-DDTHH:MM:SSZ";
	v = cJSON_GetObjectItemCaseSensitive(o, *field = "revoked");
	if (v && !cJSON_IsNull(v) && (!cJSON_IsString(v) || parse_time(v->valuestring, &e->revoked)))
		return "expected YYYY-MM-DDTHH:MM:SSZ";
	if (e->revoked <= 0 && v && !cJSON_IsNull(v))
		e->revoked = 1;
	if ((why = parse_words(cJSON_GetObjectItemCaseSensitive(o, *field = "models"),
			       &e->models, &e->nmodels)))
		return why;
	if ((why = parse_words(cJSON_GetObjectItemCaseSensitive(o, *field = "routes"),
			       &e->routes, &e->nroutes)))
		return why;
	return NULL;
}

static char *read_all(const char *path, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > KEYFILE_MAX_SIZE) {
		*err = fstat(fd, &st) ? -errno : S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		*err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = n ? -errno : -EIO;
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = 0;
	*len = got;
out:
	close(fd);
	return buf;
}

int keyfile_load(const char *path, struct keyfile *kf, char *err, size_t errlen)
{
	struct keyfile nk = { 0 };
	size_t len = 0, i = 0, dup;
	cJSON *root = NULL, *arr, *o;
	const char *why, *field = "";
	int ret = 0;
	char *buf = read_all(path, &len, &ret);

	if (!buf) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EFBIG ? "larger than 64 MiB" : ret == -EINVAL ? "not a regular file" : strerror(-ret));
		return ret;
	}
	root = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!root || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		ret = -EINVAL;
		goto out;
	}
	arr = cJSON_GetObjectItemCaseSensitive(root, "keys");
	if (!cJSON_IsArray(arr)) {
		snprintf(err, errlen, "%s: keys: expected an array", path);
		ret = -EINVAL;
		goto out;
	}
	nk.nkeys = (size_t)cJSON_GetArraySize(arr);
	if (nk.nkeys > KEYFILE_MAX_KEYS) {
		snprintf(err, errlen, "%s: keys: %zu entries, at most %d", path, nk.nkeys, KEYFILE_MAX_KEYS);
		nk.nkeys = 0;
		ret = -E2BIG;
		goto out;
	}
	if (nk.nkeys && !(nk.keys = calloc(nk.nkeys, sizeof(*nk.keys)))) {
		nk.nkeys = 0;
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	cJSON_ArrayForEach(o, arr) {
		const cJSON *id = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "id") : NULL;
		const char *ids = cJSON_IsString(id) ? id->valuestring : "?";

		if ((why = parse_entry(o, &nk.keys[i], &field))) {
			snprintf(err, errlen, "%s: keys[%zu] (%.16s): %s: %s", path, i, ids, field, why);
			ret = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(nk.keys[j].id, nk.keys[i].id)) {
				snprintf(err, errlen, "%s: keys[%zu] (%s): id: also keys[%zu]", path, i,
					 nk.keys[i].id, j);
				ret = -EINVAL;
				goto out;
			}
		i++;
	}
	if ((ret = index_build(&nk, &dup))) {
		if (ret == -EEXIST)
			snprintf(err, errlen, "%s: keys[%zu] (%s): hash: the same as another key's", path, dup,
				 nk.keys[dup].id);
		else
			snprintf(err, errlen, "%s: out of memory", path);
		ret = -EINVAL;
		goto out;
	}
	keyfile_free(kf);
	*kf = nk;
	memset(&nk, 0, sizeof(nk));
out:
	cJSON_Delete(root);
	keyfile_free(&nk);
	return ret;
}

static void put_words(cJSON *o, const char *name, char **v, size_t n)
{
	cJSON *a;

	if (!n)
		return;
	a = cJSON_AddArrayToObject(o, name);
	for (size_t i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

static char *render(const struct keyfile *kf)
{
	cJSON *root = cJSON_CreateObject(), *arr = root ? cJSON_AddArrayToObject(root, "keys") : NULL;
	char *out = NULL;

	if (!arr)
		goto out;
	for (size_t i = 0; i < kf->nkeys; i++) {
		const struct keyfile_entry *e = &kf->keys[i];
		cJSON *o = cJSON_CreateObject();
		char hex[7 + 65], when[32];

		if (!o)
			goto out;
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "id", e->id);
		memcpy(hex, "sha256:", 7);
		for (int b = 0; b < 32; b++)
			sprintf(hex + 7 + 2 * b, "%02x", e->hash[b]);
		cJSON_AddStringToObject(o, "hash", hex);
		cJSON_AddStringToObject(o, "tenant", e->tenant);
		format_time(e->created, when, sizeof(when));
		cJSON_AddStringToObject(o, "created", when);
		put_words(o, "models", e->models, e->nmodels);
		put_words(o, "routes", e->routes, e->nroutes);
		if (e->revoked) {
			format_time(e->revoked, when, sizeof(when));
			cJSON_AddStringToObject(o, "revoked", when);
		}
	}
	out = cJSON_Print(root);
out:
	cJSON_Delete(root);
	return out;
}

int keyfile_save(const char *path, const struct keyfile *kf, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	char *text = render(kf);
	size_t len, off = 0;
	struct stat old;
	int fd, ret = 0;

	if (!text) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	len = strlen(text);
	text[len++] = '\n';	/* cJSON_Print's NUL becomes the final newline */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		free(text);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(-ret));
		free(text);
		return ret;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(text);
	if (!ret && fchmod(fd, 0600))
		ret = -errno;
	/* a file the daemon's user owns stays its own: sluiced reads it as that user */
	if (!ret && !stat(path, &old) && (old.st_uid != geteuid() || old.st_gid != getegid()) &&
	    fchown(fd, old.st_uid, old.st_gid))
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

static int strv_copy(char *const *src, size_t n, char ***dst)
{
	*dst = NULL;
	if (!n)
		return 0;
	if (!(*dst = calloc(n, sizeof(**dst))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return -ENOMEM;
	return 0;
}

int keyfile_add(struct keyfile *kf, const char *tenant, char *const *models, size_t nmodels,
		char *const *routes, size_t nroutes, char *key_out, char *err, size_t errlen)
{
	struct keyfile_entry e = { 0 }, *keys;
	unsigned char rnd[40], idr[4];
	size_t p = strlen(KEYFILE_PREFIX), dup;
	bool unique;
	int ret;

	if (!tenant_ok(tenant)) {
		snprintf(err, errlen, "tenant '%.80s': expected 1..63 of [A-Za-z0-9_.-]", tenant);
		return -EINVAL;
	}
	if (nmodels > KEYFILE_MAX_GLOBS || nroutes > KEYFILE_MAX_GLOBS) {
		snprintf(err, errlen, "%s: more than %d entries", nmodels > KEYFILE_MAX_GLOBS ? "models" : "routes",
			 KEYFILE_MAX_GLOBS);
		return -EINVAL;
	}
	for (size_t i = 0; i < nmodels + nroutes; i++) {
		const char *w = i < nmodels ? models[i] : routes[i - nmodels];

		if (!word_ok(w)) {
			snprintf(err, errlen, "%s '%.80s': expected 1..255 printable ASCII characters",
				 i < nmodels ? "model" : "route", w);
			return -EINVAL;
		}
	}
	if (kf->nkeys >= KEYFILE_MAX_KEYS) {
		snprintf(err, errlen, "already %d keys", KEYFILE_MAX_KEYS);
		return -E2BIG;
	}
	/* 40 characters of 62 by rejection sampling: no bias toward the first ones. */
	memcpy(key_out, KEYFILE_PREFIX, p);
	for (size_t n = 0; n < 40;) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			goto rand_fail;
		for (size_t i = 0; i < sizeof(rnd) && n < 40; i++)
			if (rnd[i] < 248)
				key_out[p + n++] = b62[rnd[i] % 62];
	}
	key_out[KEYFILE_KEY_LEN] = 0;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	do {
		if (RAND_bytes(idr, sizeof(idr)) != 1)
			goto rand_fail;
		snprintf(e.id, sizeof(e.id), "k_%02x%02x%02x%02x", idr[0], idr[1], idr[2], idr[3]);
		unique = true;
		for (size_t i = 0; i < kf->nkeys && unique; i++)
			unique = strcmp(kf->keys[i].id, e.id) != 0;
	} while (!unique);
	keyfile_hash(key_out, KEYFILE_KEY_LEN, e.hash);
	strcpy(e.tenant, tenant);
	e.created = (int64_t)time(NULL);
	/* The copies are zero-filled, so a partial one frees whole. */
	ret = strv_copy(models, nmodels, &e.models);
	e.nmodels = e.models ? nmodels : 0;
	ret = ret ? ret : strv_copy(routes, nroutes, &e.routes);
	e.nroutes = e.routes ? nroutes : 0;
	if (ret)
		goto nomem;
	if (!(keys = realloc(kf->keys, (kf->nkeys + 1) * sizeof(*keys))))
		goto nomem;
	kf->keys = keys;
	kf->keys[kf->nkeys++] = e;
	if ((ret = index_build(kf, &dup))) {
		/* A SHA-256 collision of fresh random keys: only out of memory is real. */
		entry_free(&kf->keys[--kf->nkeys]);
		snprintf(err, errlen, "%s", ret == -ENOMEM ? "out of memory" : "key collision; try again");
		OPENSSL_cleanse(key_out, KEYFILE_KEY_LEN);
		return ret;
	}
	return 0;
nomem:
	entry_free(&e);
	OPENSSL_cleanse(key_out, KEYFILE_KEY_LEN);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
rand_fail:
	OPENSSL_cleanse(key_out, KEYFILE_KEY_LEN);
	snprintf(err, errlen, "RAND_bytes failed");
	return -EIO;
}

int keyfile_revoke(struct keyfile *kf, const char *id)
{
	for (size_t i = 0; i < kf->nkeys; i++) {
		if (strcmp(kf->keys[i].id, id))
			continue;
		if (kf->keys[i].revoked)
			return -EALREADY;
		kf->keys[i].revoked = (int64_t)time(NULL);
		return 0;
	}
	return -ENOENT;
}
