// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced's configuration: read the file (bounded), blank out comments,
 * parse with cJSON, then walk it against one table per object type (a row
 * per key: type, field, bounds, default) into the immutable gw_config.
 *
 * Rules every table gets for free: unknown and repeated keys are errors,
 * null means "the default", a missing key takes the row's default (or is an
 * error when the row is required), numbers are checked against the row's
 * bounds, and every error names the key's path and the bad value:
 *   pools.gpu.backends[1].url: 'htp://x': expected http://host[:port] or https://host[:port]
 *
 * Keys are read in table order, not file order, so "routes" can look up
 * "pools" wherever either sits in the file.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <sluice/abi.h>

#include "config.h"
#include "lib/pii.h"
#include "lib/duration.h"
#include "lib/keyfile.h"
#include "lib/bpe.h"
#include "lib/number.h"
#include "lib/size.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define CFG_MAX_FILE	(4U << 20)
#define CFG_MAX_STRING	4096	/* default length bound of string values */
#define CFG_MAX_WORKERS	256
#define CFG_MAX_RATE	100000000U	/* packets/s, as sluicectl limit takes them */
#define CFG_PORTS_TEXT	1024		/* what xdpconf_parse_ports() reads */

#define MSEC		NSEC_PER_MSEC
#define SEC		NSEC_PER_SEC
#define MIN		(60 * SEC)
#define HOUR		(60 * MIN)
#define DAY		(24 * HOUR)
#define KiB		(1ULL << 10)
#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)

/* The loader's state: the config being built and the path of the key at hand. */
struct ld {
	struct gw_config *cfg;
	char *err;
	size_t errlen;
	char path[512];
	size_t plen;
};

enum ctype {
	CT_BOOL,	/* bool; with F_TRI an int, -1 when absent */
	CT_UINT,	/* unsigned of .size bytes: an integer in [min, max] */
	CT_DOUBLE,	/* double in [dmin, dmax] */
	CT_DURATION,	/* uint64_t ns from "250ms", "10s", "1h" */
	CT_SIZE,	/* bytes (.size wide) from "16KiB", "8MiB", "1KB" or an integer */
	CT_RATE,	/* uint64_t bytes/s from "1KiB/s" or an integer */
	CT_STRING,	/* char *, at most .max bytes (CFG_MAX_STRING if 0) */
	CT_STRBUF,	/* char[.size] */
	CT_ENUM,	/* unsigned of .size bytes: the index of the value in .names */
	CT_OBJECT,	/* .obj, inline at .off; with F_ALLOC a pointer to .esize bytes */
	CT_ARRAY,	/* pointer at .off, size_t count at .cnt; .obj or .elem per element */
	CT_CUSTOM,	/* .fn(base + .off); .def into .size bytes when absent */
};

#define F_REQUIRED	(1U << 0)
#define F_ZERO_OK	(1U << 1)	/* 0 is accepted below .min: it turns the thing off */
#define F_TRI		(1U << 2)	/* CT_BOOL into an int: -1 absent, 0, 1 */
#define F_ALLOC		(1U << 3)	/* CT_OBJECT: allocated; NULL when absent */
#define F_UNIQUE	(1U << 4)	/* CT_ARRAY: the char[] "name" at .uniq is unique */

struct cobj;

struct ckey {
	const char *key;
	enum ctype type;
	unsigned int flags;
	size_t off, size;
	uint64_t min, max, def;		/* numbers, durations, sizes; counts of arrays */
	double dmin, dmax, ddef;
	const char *sdef;
	const char *const *names;	/* CT_ENUM, NULL-terminated */
	const struct cobj *obj;		/* CT_OBJECT, CT_ARRAY of objects */
	size_t cnt, esize, uniq;	/* CT_ARRAY; esize also for F_ALLOC */
	int (*elem)(struct ld *ld, const cJSON *v, void *slot);		/* CT_ARRAY */
	int (*fn)(struct ld *ld, const cJSON *v, void *field);		/* CT_CUSTOM */
	const char *(*valid)(const char *s);	/* strings: NULL or why it is refused */
};

struct cobj {
	const struct ckey *keys;	/* up to a row without a key */
	/* After the keys: cross-key rules. json is NULL when the object was absent. */
	int (*check)(struct ld *ld, const cJSON *json, void *base);
};

#define FIELD(k, t, s, f) \
	.key = (k), .type = (t), .off = offsetof(s, f), .size = sizeof(((s *)0)->f)
#define ARRAY(k, s, f, n, e) \
	FIELD(k, CT_ARRAY, s, f), .cnt = offsetof(s, n), .esize = sizeof(e)

/* --- paths and errors --------------------------------------------------- */

static size_t path_key(struct ld *ld, const char *key)
{
	size_t old = ld->plen;
	int n;

	n = snprintf(ld->path + old, sizeof(ld->path) - old, "%s%s", old ? "." : "", key);
	if (n > 0)
		ld->plen = old + (size_t)n < sizeof(ld->path) ? old + n : sizeof(ld->path) - 1;
	return old;
}

static size_t path_index(struct ld *ld, size_t i)
{
	size_t old = ld->plen;
	int n;

	n = snprintf(ld->path + old, sizeof(ld->path) - old, "[%zu]", i);
	if (n > 0)
		ld->plen = old + (size_t)n < sizeof(ld->path) ? old + n : sizeof(ld->path) - 1;
	return old;
}

static void path_pop(struct ld *ld, size_t old)
{
	ld->plen = old;
	ld->path[old] = '\0';
}

static bool is_integral(double d)
{
	return d >= 0 && d <= 9007199254740992.0 && d == (double)(uint64_t)d;
}

/* The value as the error shows it: 'text', 512, true, [...] */
static const char *value_text(const cJSON *v, char *buf, size_t len)
{
	size_t o = 0, i;

	if (cJSON_IsString(v)) {
		const char *s = v->valuestring;

		buf[o++] = '\'';
		for (i = 0; s[i] && o + 5 < len && i < 100; i++)
			buf[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
		if (s[i]) {
			memcpy(buf + o, "...", 3);
			o += 3;
		}
		buf[o++] = '\'';
		buf[o] = '\0';
	} else if (cJSON_IsNumber(v)) {
		if (is_integral(v->valuedouble) || (v->valuedouble < 0 && is_integral(-v->valuedouble)))
			snprintf(buf, len, "%.0f", v->valuedouble);
		else
			snprintf(buf, len, "%g", v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	} else if (cJSON_IsArray(v)) {
		snprintf(buf, len, "[...]");
	} else if (cJSON_IsObject(v)) {
		snprintf(buf, len, "{...}");
	} else {
		snprintf(buf, len, "null");
	}
	return buf;
}

static const char *type_name(const cJSON *v)
{
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

/* "<path>: <value>: <what>", or "<path>: <what>" without a value; returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(struct ld *ld, const cJSON *v, const char *fmt, ...)
{
	char what[CFG_ERR_LEN], val[112];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (v)
		snprintf(ld->err, ld->errlen, "%s: %s: %s", ld->path, value_text(v, val, sizeof(val)),
			 what);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->path, what);
	return -1;
}

/* --- did you mean ------------------------------------------------------- */

struct near {
	const char *word;
	const char *best;
	unsigned int dist;
};

/* Levenshtein distance, ignoring case; long words are never near. */
static unsigned int edit_distance(const char *a, const char *b)
{
	unsigned int row[65], i, j, diag, up, la = strlen(a), lb = strlen(b);

	if (la > 64 || lb > 64)
		return ~0U;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (tolower((unsigned char)a[i - 1]) !=
					 tolower((unsigned char)b[j - 1]));
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb];
}

static void near_try(struct near *n, const char *cand)
{
	unsigned int d = edit_distance(n->word, cand);

	if (!n->best || d < n->dist) {
		n->best = cand;
		n->dist = d;
	}
}

/* " (did you mean X?)" when a candidate is close enough to be the slip, else "". */
static const char *near_text(const struct near *n, char *buf, size_t len)
{
	size_t wl = strlen(n->word);

	buf[0] = '\0';
	if (n->best && n->dist <= 2 && n->dist < wl && n->dist < strlen(n->best))
		snprintf(buf, len, " (did you mean %s?)", n->best);
	return buf;
}

/* --- field access ------------------------------------------------------- */

static void *field_at(void *base, const struct ckey *k)
{
	return (char *)base + k->off;
}

static void set_uint(void *p, size_t size, uint64_t v)
{
	uint8_t u8 = v;
	uint16_t u16 = v;
	uint32_t u32 = v;

	switch (size) {
	case 1:
		memcpy(p, &u8, 1);
		break;
	case 2:
		memcpy(p, &u16, 2);
		break;
	case 4:
		memcpy(p, &u32, 4);
		break;
	case 8:
		memcpy(p, &v, 8);
		break;
	}
}

static char *bound_text(const struct ckey *k, uint64_t v, char *buf, size_t len)
{
	char tmp[SIZE_STRLEN];

	switch (k->type) {
	case CT_DURATION:
		return duration_format(v, buf, len);
	case CT_SIZE:
		return size_format(v, buf, len);
	case CT_RATE:
		snprintf(buf, len, "%s/s", size_format(v, tmp, sizeof(tmp)));
		return buf;
	default:
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return buf;
	}
}

static int check_bounds(struct ld *ld, const struct ckey *k, const cJSON *v, uint64_t x)
{
	char b[DURATION_STRLEN + SIZE_STRLEN];

	if (x == 0 && (k->flags & F_ZERO_OK))
		return 0;
	if (x < k->min)
		return fail(ld, v, "below the minimum %s%s", bound_text(k, k->min, b, sizeof(b)),
			    k->flags & F_ZERO_OK ? " (0 turns it off)" : "");
	if (x > k->max)
		return fail(ld, v, "above the maximum %s", bound_text(k, k->max, b, sizeof(b)));
	return 0;
}

static int get_uint(struct ld *ld, const cJSON *v, uint64_t *x)
{
	if (!cJSON_IsNumber(v))
		return fail(ld, v, "expected an integer, not %s", type_name(v));
	if (!is_integral(v->valuedouble))
		return fail(ld, v, v->valuedouble < 0 ? "expected a non-negative integer"
						     : "expected an integer");
	*x = (uint64_t)v->valuedouble;
	return 0;
}

static int load_object(struct ld *ld, const cJSON *json, const struct cobj *o, void *base);

/* A key given twice: cJSON keeps both and would quietly read the first. */
static int check_repeats(struct ld *ld, const cJSON *json)
{
	const cJSON *it, *prev;
	size_t old;

	for (it = json->child; it; it = it->next)
		for (prev = json->child; prev != it; prev = prev->next)
			if (!strcmp(prev->string, it->string)) {
				old = path_key(ld, it->string);
				fail(ld, NULL, "given twice");
				path_pop(ld, old);
				return -1;
			}
	return 0;
}

static int load_string(struct ld *ld, const struct ckey *k, const cJSON *v, const char **out)
{
	size_t max = k->max ? k->max : CFG_MAX_STRING, len;
	const char *why;

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected a string, not %s", type_name(v));
	len = strlen(v->valuestring);
	if (!len)
		return fail(ld, v, "must not be empty");
	if (len > max)
		return fail(ld, v, "longer than %zu bytes", max);
	if (k->valid && (why = k->valid(v->valuestring)))
		return fail(ld, v, "%s", why);
	*out = v->valuestring;
	return 0;
}

static int load_enum(struct ld *ld, const struct ckey *k, const cJSON *v, uint64_t *x)
{
	char list[256] = "", hint[96];
	struct near n = { .word = "" };
	size_t i, o = 0;

	if (cJSON_IsString(v)) {
		for (i = 0; k->names[i]; i++)
			if (!strcmp(v->valuestring, k->names[i])) {
				*x = i;
				return 0;
			}
		n.word = v->valuestring;
	}
	for (i = 0; k->names[i]; i++) {
		near_try(&n, k->names[i]);
		o += snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%s",
			      i ? ", " : "", k->names[i]);
	}
	return fail(ld, v, "expected one of %s%s", list, near_text(&n, hint, sizeof(hint)));
}

static int load_array(struct ld *ld, const struct ckey *k, const cJSON *v, void *base)
{
	size_t n = cJSON_GetArraySize(v), i, j, old;
	const cJSON *it;
	char *elems;

	if (!cJSON_IsArray(v))
		return fail(ld, v, "expected an array, not %s", type_name(v));
	if (n < k->min)
		return fail(ld, NULL, "at least %llu %s required", (unsigned long long)k->min,
			    k->min == 1 ? "entry is" : "entries are");
	if (n > k->max)
		return fail(ld, NULL, "%zu entries: at most %llu allowed", n,
			    (unsigned long long)k->max);
	if (!n)
		return 0;
	elems = calloc(n, k->esize);
	if (!elems)
		return fail(ld, NULL, "out of memory");
	/* owned by the config from here, so config_free() finds it on any error */
	memcpy(field_at(base, k), &elems, sizeof(elems));
	memcpy((char *)base + k->cnt, &n, sizeof(n));
	for (i = 0, it = v->child; it; i++, it = it->next) {
		void *slot = elems + i * k->esize;
		int err;

		old = path_index(ld, i);
		if (k->obj) {
			err = cJSON_IsObject(it) ? load_object(ld, it, k->obj, slot)
						 : fail(ld, it, "expected an object, not %s",
							type_name(it));
		} else {
			err = k->elem(ld, it, slot);
		}
		if (err)
			return -1;
		if (k->flags & F_UNIQUE) {
			const char *name = (char *)slot + k->uniq;

			for (j = 0; j < i; j++)
				if (!strcmp(name, elems + j * k->esize + k->uniq)) {
					path_key(ld, "name");
					return fail(ld, cJSON_GetObjectItemCaseSensitive(it, "name"),
						    "given twice: also %s[%zu]", k->key, j);
				}
		}
		path_pop(ld, old);
	}
	return 0;
}

static int load_value(struct ld *ld, const struct ckey *k, const cJSON *v, void *base)
{
	void *p = field_at(base, k);
	const char *s, *why;
	char *dup, buf[64];
	uint64_t x;
	__u64 ns;
	void *obj;
	size_t len;

	switch (k->type) {
	case CT_BOOL:
		if (!cJSON_IsBool(v))
			return fail(ld, v, "expected true or false, not %s", type_name(v));
		if (k->flags & F_TRI)
			set_uint(p, sizeof(int), cJSON_IsTrue(v));
		else
			*(bool *)p = cJSON_IsTrue(v);
		return 0;
	case CT_UINT:
		if (get_uint(ld, v, &x) || check_bounds(ld, k, v, x))
			return -1;
		set_uint(p, k->size, x);
		return 0;
	case CT_DOUBLE:
		if (!cJSON_IsNumber(v))
			return fail(ld, v, "expected a number, not %s", type_name(v));
		if (!(v->valuedouble >= k->dmin && v->valuedouble <= k->dmax))
			return fail(ld, v, "expected a number from %g to %g", k->dmin, k->dmax);
		*(double *)p = v->valuedouble;
		return 0;
	case CT_DURATION:
		if (!cJSON_IsString(v))
			return fail(ld, v, "expected a duration such as \"250ms\", \"10s\" or \"1h\", not %s",
				    type_name(v));
		if (duration_parse(v->valuestring, &ns, &why))
			return fail(ld, v, "%s", why);
		if (check_bounds(ld, k, v, ns))
			return -1;
		set_uint(p, k->size, ns);
		return 0;
	case CT_SIZE:
	case CT_RATE:
		if (cJSON_IsNumber(v)) {
			if (get_uint(ld, v, &x))
				return -1;
		} else if (cJSON_IsString(v)) {
			/* a rate is a size per second: "1KiB/s"; "0" is off */
			s = v->valuestring;
			len = strlen(s);
			if (k->type == CT_RATE && strcmp(s, "0")) {
				if (len < 3 || len >= sizeof(buf) || strcmp(s + len - 2, "/s"))
					return fail(ld, v, "expected a rate such as \"1KiB/s\"");
				memcpy(buf, s, len - 2);
				buf[len - 2] = '\0';
				s = buf;
			}
			if (parse_size(s, &x, &why))
				return fail(ld, v, "%s", why);
		} else {
			return fail(ld, v, "expected a size such as \"16KiB\" or an integer, not %s",
				    type_name(v));
		}
		if (check_bounds(ld, k, v, x))
			return -1;
		set_uint(p, k->size, x);
		return 0;
	case CT_STRING:
		if (load_string(ld, k, v, &s))
			return -1;
		dup = strdup(s);
		if (!dup)
			return fail(ld, NULL, "out of memory");
		free(*(char **)p);	/* a default */
		*(char **)p = dup;
		return 0;
	case CT_STRBUF:
		if (load_string(ld, k, v, &s))
			return -1;
		if (strlen(s) >= k->size)
			return fail(ld, v, "longer than %zu bytes", k->size - 1);
		strcpy(p, s);
		return 0;
	case CT_ENUM:
		if (load_enum(ld, k, v, &x))
			return -1;
		set_uint(p, k->size, x);
		return 0;
	case CT_OBJECT:
		if (!cJSON_IsObject(v))
			return fail(ld, v, "expected an object, not %s", type_name(v));
		if (!(k->flags & F_ALLOC))
			return load_object(ld, v, k->obj, p);
		obj = calloc(1, k->esize);
		if (!obj)
			return fail(ld, NULL, "out of memory");
		memcpy(p, &obj, sizeof(obj));
		return load_object(ld, v, k->obj, obj);
	case CT_ARRAY:
		return load_array(ld, k, v, base);
	case CT_CUSTOM:
		return k->fn(ld, v, p);
	}
	return fail(ld, v, "internal error: no type");
}

/* An absent key: its default, or nothing when the whole object was absent. */
static int load_default(struct ld *ld, const struct ckey *k, void *base, bool parent_given)
{
	void *p = field_at(base, k);

	if ((k->flags & F_REQUIRED) && parent_given)
		return fail(ld, NULL, "required");
	switch (k->type) {
	case CT_BOOL:
		if (k->flags & F_TRI)
			set_uint(p, sizeof(int), (uint32_t)-1);
		else
			*(bool *)p = k->def;
		break;
	case CT_DOUBLE:
		*(double *)p = k->ddef;
		break;
	case CT_STRING:
		if (k->sdef && !(*(char **)p = strdup(k->sdef)))
			return fail(ld, NULL, "out of memory");
		break;
	case CT_STRBUF:
		if (k->sdef)
			snprintf(p, k->size, "%s", k->sdef);
		break;
	case CT_OBJECT:
		if (!(k->flags & F_ALLOC))
			return load_object(ld, NULL, k->obj, p);
		break;
	case CT_ARRAY:
		break;
	default:
		set_uint(p, k->size, k->def);
		break;
	}
	return 0;
}

static int load_object(struct ld *ld, const cJSON *json, const struct cobj *o, void *base)
{
	const struct ckey *k;
	const cJSON *it;
	size_t old;
	int err;

	for (it = json ? json->child : NULL; it; it = it->next) {
		struct near n = { .word = it->string };
		char hint[96];

		for (k = o->keys; k->key && strcmp(k->key, it->string); k++)
			near_try(&n, k->key);
		if (k->key)
			continue;
		old = path_key(ld, it->string);
		fail(ld, NULL, "unknown key%s", near_text(&n, hint, sizeof(hint)));
		path_pop(ld, old);
		return -1;
	}
	if (json && check_repeats(ld, json))
		return -1;
	for (k = o->keys; k->key; k++) {
		it = json ? cJSON_GetObjectItemCaseSensitive(json, k->key) : NULL;
		if (cJSON_IsNull(it))
			it = NULL;
		old = path_key(ld, k->key);
		err = it ? load_value(ld, k, it, base) : load_default(ld, k, base, json != NULL);
		if (err)
			return -1;
		path_pop(ld, old);
	}
	return o->check ? o->check(ld, json, base) : 0;
}

/* The value of key in json, or NULL when absent or null. */
static const cJSON *item(const cJSON *json, const char *key)
{
	const cJSON *v = json ? cJSON_GetObjectItemCaseSensitive(json, key) : NULL;

	return cJSON_IsNull(v) ? NULL : v;
}

/* --- validators of strings ---------------------------------------------- */

static const char *valid_name(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

	if (!n || s[n] || n > CFG_NAME_LEN - 1)
		return "names are 1-63 characters of A-Z a-z 0-9 _ . -";
	return NULL;
}

static const char *valid_url_path(const char *s)
{
	if (s[0] != '/')
		return "expected a path starting with /";
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '#')
			return "spaces, control characters and # are not allowed in a path";
	return NULL;
}

static const char *valid_method(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");

	if (s[n] || n > 15)
		return "expected an HTTP method in capitals, such as GET";
	return NULL;
}

/* RFC 9110 token */
static const char *valid_header(const char *s)
{
	size_t n = strspn(s, "!#$%&'*+-.^_`|~0123456789"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	if (s[n] || n > 63)
		return "expected a header name (1-63 token characters)";
	return NULL;
}

static const char *valid_ifname(const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '/' || *p == ':' || *p == 0x7f)
			return "not an interface name";
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return "not an interface name";
	return NULL;
}

/* --- addresses ---------------------------------------------------------- */

static void sockaddr_text(struct cfg_sockaddr *a)
{
	char host[INET6_ADDRSTRLEN];

	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(a->text, sizeof(a->text), "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(a->text, sizeof(a->text), "%s:%u", host, ntohs(s4->sin_port));
	}
}

static void sockaddr_port(struct cfg_sockaddr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

/*
 * Host and port of "host:port" or "[v6]:port" (the port optional when
 * port_optional), split into host (brackets dropped) and *port (0 absent).
 */
static const char *split_host_port(const char *s, size_t len, char *host, size_t hostlen,
				   uint32_t *port, bool *bracketed, bool port_optional)
{
	const char *end = s + len, *h, *he, *p = NULL;
	char portbuf[8];

	*bracketed = s[0] == '[';
	if (*bracketed) {
		h = s + 1;
		he = memchr(h, ']', end - h);
		if (!he)
			return "missing ] after an IPv6 address";
		if (he + 1 < end && he[1] != ':')
			return "expected :port after ]";
		if (he + 1 < end)
			p = he + 2;
	} else {
		h = s;
		he = memchr(s, ':', len);
		if (he && memchr(he + 1, ':', end - he - 1))
			return "IPv6 addresses go in brackets: [::1]:443";
		if (he)
			p = he + 1;
		else
			he = end;
	}
	if (he == h)
		return "missing host";
	if ((size_t)(he - h) >= hostlen)
		return "host too long";
	memcpy(host, h, he - h);
	host[he - h] = '\0';
	*port = 0;
	if (!p) {
		if (!port_optional)
			return "missing :port";
		return NULL;
	}
	if ((size_t)(end - p) >= sizeof(portbuf))
		return "port must be 1-65535";
	memcpy(portbuf, p, end - p);
	portbuf[end - p] = '\0';
	if (parse_u32(portbuf, 1, 65535, port))
		return "port must be 1-65535";
	return NULL;
}

/* Listeners: numeric only. "*:port" is IPv4 any, "[::]:port" the dual-stack any. */
static int load_listen_addr(struct ld *ld, const cJSON *v, void *field)
{
	struct cfg_sockaddr *a = field;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_PASSIVE }, *res;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *why;
	bool bracketed;
	uint32_t port;

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected \"host:port\", not %s", type_name(v));
	if (strlen(v->valuestring) >= sizeof(a->text))
		return fail(ld, v, "too long");
	why = split_host_port(v->valuestring, strlen(v->valuestring), host, sizeof(host), &port,
			      &bracketed, false);
	if (why)
		return fail(ld, v, "%s (expected host:port, [v6]:port or *:port)", why);
	memset(a, 0, sizeof(*a));
	if (!bracketed && !strcmp(host, "*")) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		a->len = sizeof(*s4);
	} else {
		hints.ai_family = bracketed ? AF_INET6 : AF_INET;
		if (getaddrinfo(host, NULL, &hints, &res))
			return fail(ld, v, "not a numeric %s address (listeners take no host names)",
				    bracketed ? "IPv6" : "IPv4");
		memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
		a->len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	sockaddr_port(a, port);
	snprintf(a->text, sizeof(a->text), "%s", v->valuestring);
	return 0;
}

/* http://host[:port][/] or https://host[:port][/], resolved once, here. */
static int load_backend_url(struct ld *ld, const cJSON *v, void *field)
{
	static const char usage[] = "expected http://host[:port] or https://host[:port]";
	struct cfg_backend *b = field;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	const char *s, *rest, *why;
	bool bracketed;
	uint32_t port;
	size_t alen;
	int gai;

	if (!cJSON_IsString(v))
		return fail(ld, v, "%s, not %s", usage, type_name(v));
	s = v->valuestring;
	if (!strncmp(s, "http://", 7)) {
		b->tls = false;
		rest = s + 7;
	} else if (!strncmp(s, "https://", 8)) {
		b->tls = true;
		rest = s + 8;
	} else {
		return fail(ld, v, "%s", usage);
	}
	alen = strcspn(rest, "/?#");
	if (strpbrk(rest, "?#"))
		return fail(ld, v, "a query or fragment is not allowed (%s)", usage);
	if (rest[alen] == '/' && rest[alen + 1])
		return fail(ld, v, "a path is not allowed: requests keep their own path (%s)", usage);
	if (memchr(rest, '@', alen))
		return fail(ld, v, "credentials in the URL are not allowed");
	why = split_host_port(rest, alen, b->host, sizeof(b->host), &port, &bracketed, true);
	if (why)
		return fail(ld, v, "%s (%s)", why, usage);
	if (!bracketed && b->host[strspn(b->host, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "abcdefghijklmnopqrstuvwxyz0123456789.-_")])
		return fail(ld, v, "not a host name");
	b->port = port ? port : b->tls ? 443 : 80;
	/* What the Host header carries: brackets for v6, the port unless the default */
	snprintf(b->authority, sizeof(b->authority), bracketed ? "[%s]" : "%s", b->host);
	if (b->port != (b->tls ? 443 : 80))
		snprintf(b->authority + strlen(b->authority), sizeof(b->authority) - strlen(b->authority),
			 ":%u", b->port);
	b->url = strdup(s);
	if (!b->url)
		return fail(ld, NULL, "out of memory");
	hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
	hints.ai_flags = bracketed ? AI_NUMERICHOST : 0;
	gai = getaddrinfo(b->host, NULL, &hints, &res);
	if (gai)
		return fail(ld, v, "cannot resolve %s: %s", b->host,
			    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
	memcpy(&b->addr.ss, res->ai_addr, res->ai_addrlen);
	b->addr.len = res->ai_addrlen;
	freeaddrinfo(res);
	sockaddr_port(&b->addr, b->port);
	sockaddr_text(&b->addr);
	return 0;
}

/* --- other custom keys -------------------------------------------------- */

/* {"gpt-4o": "llama-3-70b", "claude-*": "qwen-72b"}, kept in file order */
static int load_model_map(struct ld *ld, const cJSON *v, void *field)
{
	struct cfg_backend *b = field;
	size_t n = cJSON_GetArraySize(v), i = 0, old;
	const cJSON *it;

	if (!cJSON_IsObject(v))
		return fail(ld, v, "expected an object {\"client model\": \"backend model\"}, not %s",
			    type_name(v));
	if (n > 1024)
		return fail(ld, NULL, "%zu entries: at most 1024 allowed", n);
	if (check_repeats(ld, v))
		return -1;
	if (!n)
		return 0;
	b->model_map = calloc(n, sizeof(*b->model_map));
	if (!b->model_map)
		return fail(ld, NULL, "out of memory");
	b->nmodel_map = n;
	for (it = v->child; it; it = it->next, i++) {
		old = path_key(ld, it->string);
		if (!it->string[0] || strlen(it->string) > 255)
			return fail(ld, NULL, "a model glob must be 1-255 bytes");
		if (!cJSON_IsString(it) || !it->valuestring[0] || strlen(it->valuestring) > 255)
			return fail(ld, it, "expected the backend's model name (1-255 bytes)");
		b->model_map[i].from = strdup(it->string);
		b->model_map[i].to = strdup(it->valuestring);
		if (!b->model_map[i].from || !b->model_map[i].to)
			return fail(ld, NULL, "out of memory");
		path_pop(ld, old);
	}
	return 0;
}

static const char *const retry_names[] = {
	"connect", "reset", "502", "503", "504", "timeout", NULL
};

static int load_retry_on(struct ld *ld, const cJSON *v, void *field)
{
	const struct ckey k = { .names = retry_names };
	unsigned int mask = 0;
	const cJSON *it;
	size_t i = 0, old;
	uint64_t bit;

	if (!cJSON_IsArray(v))
		return fail(ld, v, "expected an array such as [\"connect\", \"502\"], not %s",
			    type_name(v));
	for (it = v->child; it; it = it->next, i++) {
		old = path_index(ld, i);
		if (load_enum(ld, &k, it, &bit))
			return -1;
		if (mask & (1U << bit))
			return fail(ld, it, "given twice");
		mask |= 1U << bit;
		path_pop(ld, old);
	}
	memcpy(field, &mask, sizeof(mask));
	return 0;
}

/* [443, "8000-8010"] -> "443,8000-8010", the text sluicectl config set ports takes */
static int load_ports(struct ld *ld, const cJSON *v, void *field)
{
	char text[CFG_PORTS_TEXT], buf[16], *dash;
	uint64_t *map;
	uint32_t lo, hi, p;
	const cJSON *it;
	size_t i = 0, o = 0, old;
	int w;

	if (!cJSON_IsArray(v))
		return fail(ld, v, "expected an array of ports and \"lo-hi\" ranges, not %s",
			    type_name(v));
	map = calloc(SLUICE_PORT_WORDS, sizeof(*map));
	if (!map)
		return fail(ld, NULL, "out of memory");
	for (it = v->child; it; it = it->next, i++) {
		old = path_index(ld, i);
		if (cJSON_IsNumber(it)) {
			if (!is_integral(it->valuedouble) || it->valuedouble < 1 ||
			    it->valuedouble > 65535)
				goto bad;
			lo = hi = (uint32_t)it->valuedouble;
		} else if (cJSON_IsString(it) && strlen(it->valuestring) < sizeof(buf)) {
			strcpy(buf, it->valuestring);
			dash = strchr(buf, '-');
			if (dash)
				*dash++ = '\0';
			if (parse_u32(buf, 1, 65535, &lo) ||
			    (dash ? parse_u32(dash, 1, 65535, &hi) : (hi = lo, 0)))
				goto bad;
			if (hi < lo) {
				free(map);
				return fail(ld, it, "range ends before it starts");
			}
		} else {
			goto bad;
		}
		for (p = lo; p <= hi; p++)
			map[p >> 6] |= 1ULL << (p & 63);
		path_pop(ld, old);
	}
	/* canonical: ascending, ranges merged */
	text[0] = '\0';
	for (p = 1; p < 65536; p++) {
		if (!(map[p >> 6] & (1ULL << (p & 63))))
			continue;
		for (lo = hi = p; hi + 1 < 65536 && (map[(hi + 1) >> 6] & (1ULL << ((hi + 1) & 63)));)
			hi++;
		w = lo == hi ? snprintf(text + o, sizeof(text) - o, "%s%u", o ? "," : "", lo)
			     : snprintf(text + o, sizeof(text) - o, "%s%u-%u", o ? "," : "", lo, hi);
		if (w < 0 || (size_t)w >= sizeof(text) - o) {
			free(map);
			return fail(ld, NULL, "as text the list passes %d bytes: use ranges",
				    CFG_PORTS_TEXT - 1);
		}
		o += w;
		p = hi;
	}
	free(map);
	*(char **)field = strdup(o ? text : "none");
	if (!*(char **)field)
		return fail(ld, NULL, "out of memory");
	return 0;
bad:
	free(map);
	return fail(ld, it, "expected a port 1-65535 or a range \"lo-hi\"");
}

static int pool_ref(struct ld *ld, const cJSON *v, int *idx)
{
	struct near n = { .word = "" };
	char hint[96];
	size_t i;

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected a pool name, not %s", type_name(v));
	*idx = config_pool_index(ld->cfg, v->valuestring);
	if (*idx >= 0)
		return 0;
	n.word = v->valuestring;
	for (i = 0; i < ld->cfg->npools; i++)
		near_try(&n, ld->cfg->pools[i].name);
	return fail(ld, v, "no such pool%s", near_text(&n, hint, sizeof(hint)));
}

static int load_pool_ref(struct ld *ld, const cJSON *v, void *field)
{
	return pool_ref(ld, v, field);
}

static int elem_pool_ref(struct ld *ld, const cJSON *v, void *slot)
{
	return pool_ref(ld, v, slot);
}

static int elem_tag(struct ld *ld, const cJSON *v, void *slot)
{
	const struct ckey k = { .valid = valid_name, .max = CFG_NAME_LEN - 1 };
	const char *s;

	if (load_string(ld, &k, v, &s))
		return -1;
	*(char **)slot = strdup(s);
	return *(char **)slot ? 0 : fail(ld, NULL, "out of memory");
}

/* {"x-team": "ml-*"}: header names kept in lower case */
static int load_headers(struct ld *ld, const cJSON *v, void *field)
{
	const struct ckey k = { .max = 255 };
	struct cfg_route *r = field;
	size_t n = cJSON_GetArraySize(v), i = 0, j, old;
	const char *why, *glob;
	const cJSON *it;
	char *c;

	if (!cJSON_IsObject(v))
		return fail(ld, v, "expected an object {\"header\": \"glob\"}, not %s",
			    type_name(v));
	if (n > 32)
		return fail(ld, NULL, "%zu entries: at most 32 allowed", n);
	if (!n)
		return 0;
	r->headers = calloc(n, sizeof(*r->headers));
	if (!r->headers)
		return fail(ld, NULL, "out of memory");
	r->nheaders = n;
	for (it = v->child; it; it = it->next, i++) {
		old = path_key(ld, it->string);
		why = it->string[0] ? valid_header(it->string) : "empty header name";
		if (why)
			return fail(ld, NULL, "%s", why);
		for (j = 0; j < i; j++)
			if (!strcasecmp(r->headers[j].name, it->string))
				return fail(ld, NULL, "given twice (header names ignore case)");
		if (load_string(ld, &k, it, &glob))
			return -1;
		r->headers[i].name = strdup(it->string);
		r->headers[i].glob = strdup(glob);
		if (!r->headers[i].name || !r->headers[i].glob)
			return fail(ld, NULL, "out of memory");
		for (c = r->headers[i].name; *c; c++)
			*c = tolower((unsigned char)*c);
		path_pop(ld, old);
	}
	return 0;
}

/* pools: {"gpu": {...}, "onprem": {...}}, in file order */
static const struct cobj pool_obj;

static int load_pools(struct ld *ld, const cJSON *v, void *field)
{
	struct gw_config *cfg = field;
	size_t n = cJSON_GetArraySize(v), i = 0, old;
	const cJSON *it;
	const char *why;

	if (!cJSON_IsObject(v))
		return fail(ld, v, "expected an object keyed by pool name, not %s", type_name(v));
	if (!n)
		return fail(ld, NULL, "at least one pool is required");
	if (n > 1024)
		return fail(ld, NULL, "%zu pools: at most 1024 allowed", n);
	if (check_repeats(ld, v))
		return -1;
	cfg->pools = calloc(n, sizeof(*cfg->pools));
	if (!cfg->pools)
		return fail(ld, NULL, "out of memory");
	cfg->npools = n;
	for (it = v->child; it; it = it->next, i++) {
		old = path_key(ld, it->string);
		why = valid_name(it->string);
		if (why)
			return fail(ld, NULL, "bad pool name: %s", why);
		strcpy(cfg->pools[i].name, it->string);
		if (!cJSON_IsObject(it))
			return fail(ld, it, "expected an object, not %s", type_name(it));
		if (load_object(ld, it, &pool_obj, &cfg->pools[i]))
			return -1;
		path_pop(ld, old);
	}
	return 0;
}

/* --- cross-key checks --------------------------------------------------- */

static int fail_key(struct ld *ld, const cJSON *json, const char *key, const char *fmt,
		    const char *arg)
{
	path_key(ld, key);
	return fail(ld, item(json, key), fmt, arg);
}

static int tls_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_tls *t = base;

	if (!t->client_ca) {
		if (item(json, "client_required") && t->client_required)
			return fail_key(ld, json, "client_required", "%s", "needs client_ca");
		t->client_required = false;
	}
	return 0;
}

static int backend_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_backend *b = base;

	if (b->tls)
		return 0;
	if (item(json, "ca_file"))
		return fail_key(ld, json, "ca_file", "%s", "only for https backends");
	if (item(json, "tls_verify"))
		return fail_key(ld, json, "tls_verify", "%s", "only for https backends");
	return 0;
}

static int health_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_health *h = base;
	char b[DURATION_STRLEN];

	if (h->timeout_ns > h->interval_ns)
		return fail_key(ld, json, "timeout", "longer than the interval %s",
				duration_format(h->interval_ns, b, sizeof(b)));
	if (h->eject_max_ns < h->eject_base_ns)
		return fail_key(ld, json, "eject_max", "shorter than eject_base %s",
				duration_format(h->eject_base_ns, b, sizeof(b)));
	return 0;
}

static int pool_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_pool *p = base;

	(void)ld;
	/* no health object: no active checks (a hosted API has no /health) */
	if (!item(json, "health"))
		p->health.enabled = false;
	return 0;
}

static int route_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_route *r = base;
	const cJSON *pool = item(json, "pool"), *fb = item(json, "fallback");
	size_t i, j;

	if (r->max_bytes && r->max_bytes < r->min_bytes) {
		char b[SIZE_STRLEN];

		path_key(ld, "match");
		return fail_key(ld, item(json, "match"), "max_bytes", "below min_bytes %s",
				size_format(r->min_bytes, b, sizeof(b)));
	}
	if (!pool)
		r->pool = -1;
	if (r->refuse) {
		if (pool)
			return fail_key(ld, json, "pool", "%s", "a route that refuses takes no pool");
		if (fb)
			return fail_key(ld, json, "fallback", "%s",
					"a route that refuses takes no fallback");
		return 0;
	}
	if (!pool) {
		path_key(ld, "pool");
		return fail(ld, NULL, "required (or \"action\": \"refuse\")");
	}
	for (i = 0; i < r->nfallback; i++) {
		const char *why = NULL;

		if (r->fallback[i] == r->pool)
			why = "already the route's pool";
		for (j = 0; j < i && !why; j++)
			if (r->fallback[j] == r->fallback[i])
				why = "given twice";
		if (why) {
			path_key(ld, "fallback");
			path_index(ld, i);
			return fail(ld, cJSON_GetArrayItem(fb, i), "%s", why);
		}
	}
	return 0;
}

static int top_check(struct ld *ld, const cJSON *json, void *base)
{
	struct gw_config *cfg = base;
	long n;
	size_t i, j;

	if (!cfg->workers) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->workers = n < 1 ? 1 : n > CFG_MAX_WORKERS ? CFG_MAX_WORKERS : n;
	}
	for (i = 0; i < cfg->nlisteners; i++)
		for (j = 0; j < i; j++) {
			const struct cfg_sockaddr *a = &cfg->listeners[i].addr;
			const struct cfg_sockaddr *b = &cfg->listeners[j].addr;

			if (a->len == b->len && !memcmp(&a->ss, &b->ss, a->len)) {
				path_key(ld, "listeners");
				path_index(ld, i);
				path_key(ld, "address");
				return fail(ld, item(cJSON_GetArrayItem(item(json, "listeners"), i),
						     "address"),
					    "same address as listeners[%zu] (%s)", j,
					    cfg->listeners[j].name);
			}
		}
	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].api_keys != KEYS_OFF && !cfg->keys.file) {
			path_key(ld, "listeners");
			path_index(ld, i);
			path_key(ld, "api_keys");
			return fail(ld, item(cJSON_GetArrayItem(item(json, "listeners"), i), "api_keys"),
				    "needs a keys section naming the keys file");
		}
	return 0;
}

/* --- inspection ----------------------------------------------------------- */

static const char *const role_names[] = {
	"system", "developer", "user", "assistant", "tool", "tool_call", NULL
};

/* ["email", "card"] or ["all"] into a bit set of names (PII kinds, roles) */
static int load_name_bits(struct ld *ld, const cJSON *v, uint32_t *bits, const char *what,
			  int (*index)(const char *name), const char *(*name_at)(int i), int n)
{
	const cJSON *it;
	size_t i = 0, old;

	if (!cJSON_IsArray(v))
		return fail(ld, v, "expected an array of %s names, not %s", what, type_name(v));
	if (!cJSON_GetArraySize(v))
		return fail(ld, v, "must not be empty");
	*bits = 0;
	for (it = v->child; it; it = it->next, i++) {
		struct near nr = { .word = "" };
		char hint[96];
		int k;

		old = path_index(ld, i);
		if (!cJSON_IsString(it))
			return fail(ld, it, "expected a %s name, not %s", what, type_name(it));
		if (!strcmp(it->valuestring, "all")) {
			*bits |= n >= 32 ? UINT32_MAX : (1U << n) - 1;
		} else if ((k = index(it->valuestring)) >= 0) {
			*bits |= 1U << k;
		} else {
			nr.word = it->valuestring;
			for (int j = 0; j < n; j++)
				near_try(&nr, name_at(j));
			return fail(ld, it, "no such %s%s", what, near_text(&nr, hint, sizeof(hint)));
		}
		path_pop(ld, old);
	}
	return 0;
}

static const char *pii_name_at(int i)
{
	return pii_detectors[i].name;
}

static int role_index(const char *name)
{
	for (int i = 0; role_names[i]; i++)
		if (!strcmp(role_names[i], name))
			return i;
	return -1;
}

static const char *role_name_at(int i)
{
	return role_names[i];
}

static int load_kinds(struct ld *ld, const cJSON *v, void *field)
{
	return load_name_bits(ld, v, field, "detector", pii_kind_by_name, pii_name_at,
			      PII_NKINDS);
}

static int load_roles(struct ld *ld, const cJSON *v, void *field)
{
	return load_name_bits(ld, v, field, "role", role_index, role_name_at,
			      (int)ARRAY_SIZE(role_names) - 1);
}

static int elem_string(struct ld *ld, const cJSON *v, void *slot)
{
	const struct ckey k = { .max = 1024 };
	const char *s;

	if (load_string(ld, &k, v, &s))
		return -1;
	*(char **)slot = strdup(s);
	return *(char **)slot ? 0 : fail(ld, NULL, "out of memory");
}

static int elem_cidr(struct ld *ld, const cJSON *v, void *slot)
{
	const char *why;

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected an address prefix such as \"198.51.100.0/24\", not %s",
			    type_name(v));
	if (cidr_parse(v->valuestring, slot, &why))
		return fail(ld, v, "%s", why);
	return 0;
}

static int elem_set_ref(struct ld *ld, const cJSON *v, void *slot)
{
	const struct cfg_inspect *in = &ld->cfg->inspect;
	struct near n = { .word = "" };
	char hint[96];

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected a pattern set name, not %s", type_name(v));
	for (size_t i = 0; i < in->nsets; i++)
		if (!strcmp(in->sets[i].name, v->valuestring)) {
			*(int *)slot = (int)i;
			return 0;
		}
	n.word = v->valuestring;
	for (size_t i = 0; i < in->nsets; i++)
		near_try(&n, in->sets[i].name);
	return fail(ld, v, "no such pattern set%s", near_text(&n, hint, sizeof(hint)));
}

static int elem_route_ref(struct ld *ld, const cJSON *v, void *slot)
{
	const struct gw_config *cfg = ld->cfg;
	struct near n = { .word = "" };
	char hint[96];

	if (!cJSON_IsString(v))
		return fail(ld, v, "expected a route name, not %s", type_name(v));
	for (size_t i = 0; i < cfg->nroutes; i++)
		if (!strcmp(cfg->routes[i].name, v->valuestring)) {
			*(int *)slot = (int)i;
			return 0;
		}
	n.word = v->valuestring;
	for (size_t i = 0; i < cfg->nroutes; i++)
		near_try(&n, cfg->routes[i].name);
	return fail(ld, v, "no such route%s", near_text(&n, hint, sizeof(hint)));
}

/* The folder of the config file, for paths written relative to it */
static char *config_relative(const struct ld *ld, const char *file)
{
	const char *slash = strrchr(ld->cfg->path, '/');
	char *out;

	if (file[0] == '/' || !slash)
		return strdup(file);
	if (asprintf(&out, "%.*s/%s", (int)(slash - ld->cfg->path), ld->cfg->path, file) < 0)
		return NULL;
	return out;
}

static int set_add(struct ld *ld, struct cfg_pattern_set *s, char *pattern, char *origin)
{
	char **p, **o;

	if (!pattern || !origin)
		goto oom;
	p = realloc(s->patterns, (s->npatterns + 1) * sizeof(*p));
	if (!p)
		goto oom;
	s->patterns = p;
	o = realloc(s->origin, (s->npatterns + 1) * sizeof(*o));
	if (!o)
		goto oom;
	s->origin = o;
	p[s->npatterns] = pattern;
	o[s->npatterns++] = origin;
	return 0;
oom:
	free(pattern);
	free(origin);
	return fail(ld, NULL, "out of memory");
}

#define CFG_MAX_PATTERNS	100000

/* One pattern a line; blank lines and lines starting with '#' are skipped. */
static int set_read_file(struct ld *ld, struct cfg_pattern_set *s, const cJSON *json)
{
	char *path = config_relative(ld, s->file), *line = NULL, *origin;
	const char *base;
	struct stat st;
	size_t cap = 0;
	unsigned int n = 0;
	ssize_t len;
	FILE *f;
	int err = 0;

	if (!path)
		return fail(ld, NULL, "out of memory");
	f = fopen(path, "re");
	if (!f) {
		path_key(ld, "file");
		err = fail(ld, item(json, "file"), "%s: %s", path, strerror(errno));
		free(path);
		return err;
	}
	/* a device or a FIFO has no end to read to */
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		path_key(ld, "file");
		err = fail(ld, item(json, "file"), "%s: not a regular file", path);
		fclose(f);
		free(path);
		return err;
	}
	base = strrchr(s->file, '/') ? strrchr(s->file, '/') + 1 : s->file;
	while (!err && (len = getline(&line, &cap, f)) >= 0) {
		n++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len || line[0] == '#')
			continue;
		if (s->npatterns >= CFG_MAX_PATTERNS) {
			path_key(ld, "file");
			err = fail(ld, NULL, "%s: more than %u patterns", path, CFG_MAX_PATTERNS);
			break;
		}
		if (memchr(line, '\0', len)) {
			path_key(ld, "file");
			err = fail(ld, NULL, "%s:%u: a NUL byte", path, n);
			break;
		}
		if (asprintf(&origin, "%s:%u", base, n) < 0)
			origin = NULL;
		err = set_add(ld, s, strdup(line), origin);
	}
	if (!err && ferror(f)) {
		path_key(ld, "file");
		err = fail(ld, NULL, "%s: %s", path, strerror(errno));
	}
	free(line);
	fclose(f);
	free(path);
	return err;
}

static int load_patterns(struct ld *ld, const cJSON *v, void *field)
{
	struct cfg_pattern_set *s = field;
	size_t i = 0, old;
	const cJSON *it;
	char *origin;
	const char *p;
	const struct ckey k = { .max = 8192 };

	if (!cJSON_IsArray(v))
		return fail(ld, v, "expected an array of patterns, not %s", type_name(v));
	for (it = v->child; it; it = it->next, i++) {
		old = path_index(ld, i);
		if (load_string(ld, &k, it, &p))
			return -1;
		if (i >= CFG_MAX_PATTERNS)
			return fail(ld, NULL, "more than %u patterns", CFG_MAX_PATTERNS);
		if (asprintf(&origin, "patterns[%zu]", i) < 0)
			origin = NULL;
		if (set_add(ld, s, strdup(p), origin))
			return -1;
		path_pop(ld, old);
	}
	return 0;
}

static int set_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_pattern_set *s = base;

	if (s->file && set_read_file(ld, s, json))
		return -1;
	if (!s->npatterns) {
		path_key(ld, s->file ? "file" : "patterns");
		return fail(ld, NULL, "%s", s->file ? "the file holds no pattern"
						   : "required: \"patterns\" or \"file\"");
	}
	return 0;
}

static int rule_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_rule *r = base;
	const cJSON *match = item(json, "match");

	if (!item(json, "pool"))
		r->pool = -1;
	if (r->max_bytes && r->max_bytes < r->min_bytes) {
		path_key(ld, "match");
		return fail_key(ld, match, "max_bytes", "%s",
				"below min_bytes");
	}
	if (item(match, "min_count") && !r->detectors) {
		path_key(ld, "match");
		return fail_key(ld, match, "min_count", "%s",
				"counts detections: give \"detectors\" too");
	}
	switch (r->action) {
	case ACT_REROUTE:
		if (r->pool < 0)
			return fail_key(ld, json, "pool", "%s", "required by action reroute");
		break;
	case ACT_TAG:
		if (!r->tag[0])
			return fail_key(ld, json, "tag", "%s", "required by action tag");
		break;
	case ACT_BLOCK:
		if (!r->message && !(r->message = strdup("the request was blocked by policy")))
			return fail(ld, NULL, "out of memory");
		break;
	case ACT_MASK:
		if (!r->mask_entities)
			r->mask_entities = r->detectors ? r->detectors : (1U << PII_NKINDS) - 1;
		break;
	default:
		break;
	}
	if (r->action != ACT_REROUTE && item(json, "pool"))
		return fail_key(ld, json, "pool", "%s", "only for action reroute");
	if (r->scope != SCOPE_REQUEST) {
		if (r->action == ACT_REROUTE)
			return fail_key(ld, json, "action", "%s",
					"reroute is decided before the answer: needs scope request");
		if (r->action == ACT_MASK && r->style == MASK_PLACEHOLDER) {
			path_key(ld, "mask");
			return fail_key(ld, item(json, "mask"), "style", "%s",
					"placeholder is for prompts (restore gives the values "
					"back); answers take redact, hash or partial");
		}
	}
	if (r->restore && (r->action != ACT_MASK || r->style != MASK_PLACEHOLDER)) {
		path_key(ld, "mask");
		return fail_key(ld, item(json, "mask"), "restore", "%s",
				"needs action mask with style placeholder");
	}
	return 0;
}

static int inspect_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_inspect *in = base;

	(void)ld;
	in->enabled = json != NULL;
	for (size_t i = 0; i < in->nrules; i++)
		in->any_response |= in->rules[i].scope != SCOPE_REQUEST;
	return 0;
}

/* --- the tables --------------------------------------------------------- */

static const struct ckey cert_keys[] = {
	{ FIELD("cert", CT_STRING, struct cfg_cert, cert), .flags = F_REQUIRED },
	{ FIELD("key", CT_STRING, struct cfg_cert, key), .flags = F_REQUIRED },
	{ NULL }
};
static const struct cobj cert_obj = { cert_keys };

static const struct ckey tls_keys[] = {
	{ ARRAY("certificates", struct cfg_tls, certs, ncerts, struct cfg_cert),
	  .flags = F_REQUIRED, .obj = &cert_obj, .min = 1, .max = 256 },
	{ FIELD("client_ca", CT_STRING, struct cfg_tls, client_ca) },
	{ FIELD("client_required", CT_BOOL, struct cfg_tls, client_required), .def = true },
	{ FIELD("ticket_key_rotation", CT_DURATION, struct cfg_tls, ticket_rotation_ns),
	  .flags = F_ZERO_OK, .min = MIN, .max = 7 * DAY, .def = HOUR },
	{ NULL }
};
static const struct cobj tls_obj = { tls_keys, tls_check };

static const char *const key_mode_names[] = {
	[KEYS_OFF] = "off", [KEYS_OPTIONAL] = "optional", [KEYS_REQUIRED] = "required", NULL
};

static const struct ckey listener_keys[] = {
	{ FIELD("name", CT_STRBUF, struct cfg_listener, name), .flags = F_REQUIRED,
	  .valid = valid_name },
	{ .key = "address", .type = CT_CUSTOM, .flags = F_REQUIRED,
	  .off = offsetof(struct cfg_listener, addr), .fn = load_listen_addr },
	{ FIELD("tls", CT_OBJECT, struct cfg_listener, tls), .flags = F_ALLOC,
	  .esize = sizeof(struct cfg_tls), .obj = &tls_obj },
	{ FIELD("api_keys", CT_ENUM, struct cfg_listener, api_keys), .names = key_mode_names },
	{ ARRAY("trusted_proxies", struct cfg_listener, trusted, ntrusted, struct cidr),
	  .elem = elem_cidr, .max = 1024 },
	{ FIELD("proxy_protocol", CT_BOOL, struct cfg_listener, proxy_protocol) },
	{ FIELD("forwarded_for", CT_BOOL, struct cfg_listener, forwarded_for) },
	{ FIELD("max_connections_per_source", CT_UINT, struct cfg_listener, max_conns_per_source),
	  .max = 1000000 },
	{ NULL }
};

static int listener_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_listener *l = base;

	if (l->ntrusted)
		return 0;
	if (l->proxy_protocol)
		return fail_key(ld, json, "proxy_protocol", "%s",
				"needs trusted_proxies: the addresses whose header is believed");
	if (l->forwarded_for)
		return fail_key(ld, json, "forwarded_for", "%s",
				"needs trusted_proxies: the addresses whose header is believed");
	return 0;
}
static const struct cobj listener_obj = { listener_keys, listener_check };

/* --- origins and limits ------------------------------------------------------ */

static const char *const over_names[] = { [OVER_LOWER] = "lower", [OVER_REJECT] = "reject", NULL };

static const struct ckey limits_keys[] = {
	{ FIELD("requests_per_second", CT_UINT, struct cfg_limits, rps), .max = 10000000 },
	{ FIELD("requests_per_minute", CT_UINT, struct cfg_limits, rpm), .max = 100000000 },
	{ FIELD("concurrent", CT_UINT, struct cfg_limits, concurrent), .max = 1000000 },
	{ FIELD("tokens_per_minute", CT_UINT, struct cfg_limits, tpm), .max = 1000000000000ULL },
	{ FIELD("tokens_per_day", CT_UINT, struct cfg_limits, tpd), .max = 1000000000000000ULL },
	{ FIELD("max_prompt_tokens", CT_UINT, struct cfg_limits, max_prompt_tokens),
	  .max = 100000000 },
	{ FIELD("max_tokens_cap", CT_UINT, struct cfg_limits, max_tokens_cap), .max = 100000000 },
	{ FIELD("max_tokens_over", CT_ENUM, struct cfg_limits, over), .names = over_names },
	{ NULL }
};
static const struct cobj limits_obj = { limits_keys };

static const struct ckey tenant_keys[] = {
	{ FIELD("limits", CT_OBJECT, struct cfg_tenant, limits), .obj = &limits_obj },
	{ NULL }
};
static const struct cobj tenant_obj = { tenant_keys };

/* tenants: {"acme": {"limits": {...}}, ...}, in file order */
static int load_tenants(struct ld *ld, const cJSON *v, void *field)
{
	struct gw_config *cfg = field;
	size_t n = cJSON_GetArraySize(v), i = 0, old;
	const cJSON *it;
	const char *why;

	if (!cJSON_IsObject(v))
		return fail(ld, v, "expected an object keyed by tenant name, not %s", type_name(v));
	if (n > 10000)
		return fail(ld, NULL, "%zu tenants: at most 10000 allowed", n);
	if (check_repeats(ld, v))
		return -1;
	if (n && !(cfg->tenants = calloc(n, sizeof(*cfg->tenants))))
		return fail(ld, NULL, "out of memory");
	cfg->ntenants = n;
	for (it = v->child; it; it = it->next, i++) {
		old = path_key(ld, it->string);
		why = valid_name(it->string);
		if (why)
			return fail(ld, NULL, "bad tenant name: %s", why);
		strcpy(cfg->tenants[i].name, it->string);
		if (!cJSON_IsObject(it))
			return fail(ld, it, "expected an object, not %s", type_name(it));
		if (load_object(ld, it, &tenant_obj, &cfg->tenants[i]))
			return -1;
		path_pop(ld, old);
	}
	return 0;
}

static const struct ckey limits_top_keys[] = {
	{ FIELD("per_key", CT_OBJECT, struct cfg_limits_top, per_key), .obj = &limits_obj },
	{ FIELD("per_address", CT_OBJECT, struct cfg_limits_top, per_address), .obj = &limits_obj },
	{ FIELD("default_max_tokens", CT_UINT, struct cfg_limits_top, default_max_tokens),
	  .min = 1, .max = 100000000, .def = 4096 },
	{ FIELD("stream_usage", CT_BOOL, struct cfg_limits_top, stream_usage), .def = true },
	{ FIELD("state_file", CT_STRING, struct cfg_limits_top, state_file), .max = 1024 },
	{ FIELD("state_interval", CT_DURATION, struct cfg_limits_top, state_interval_ns),
	  .min = SEC, .max = HOUR, .def = 10 * SEC },
	{ NULL }
};

/* keys.file: relative to the config's folder, loaded with the config */
static char *config_relative(const struct ld *ld, const char *file);

/* limits.state_file: relative to the config's folder too */
static int limits_top_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_limits_top *l = base;

	(void)json;
	if (l->state_file && !(l->state_path = config_relative(ld, l->state_file)))
		return fail(ld, NULL, "out of memory");
	return 0;
}
static const struct cobj limits_top_obj = { limits_top_keys, limits_top_check };

static int keys_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_keys *k = base;
	char err[CFG_ERR_LEN];

	if (!json)
		return 0;
	if (!(k->path = config_relative(ld, k->file)) || !(k->kf = calloc(1, sizeof(*k->kf))))
		return fail(ld, NULL, "out of memory");
	if (keyfile_load(k->path, k->kf, err, sizeof(err))) {
		size_t n = strlen(k->path);
		const char *why = !strncmp(err, k->path, n) && !strncmp(err + n, ": ", 2) ? err + n + 2 : err;

		return fail_key(ld, json, "file", "%s", why);
	}
	return 0;
}

static const struct ckey keys_keys[] = {
	{ FIELD("file", CT_STRING, struct cfg_keys, file), .flags = F_REQUIRED, .max = 1024 },
	{ NULL }
};
static const struct cobj keys_obj = { keys_keys, keys_check };

static const struct ckey http_keys[] = {
	{ FIELD("max_header_bytes", CT_SIZE, struct cfg_http, max_header_bytes),
	  .min = KiB, .max = MiB, .def = 16 * KiB },
	{ FIELD("max_headers", CT_UINT, struct cfg_http, max_headers),
	  .min = 1, .max = CFG_MAX_HEADERS, .def = 100 },
	{ FIELD("max_request_line", CT_SIZE, struct cfg_http, max_request_line),
	  .min = 256, .max = 64 * KiB, .def = 8 * KiB },
	{ FIELD("max_body_bytes", CT_SIZE, struct cfg_http, max_body_bytes),
	  .min = KiB, .max = GiB, .def = 8 * MiB },
	{ FIELD("header_timeout", CT_DURATION, struct cfg_http, header_timeout_ns),
	  .min = 100 * MSEC, .max = 10 * MIN, .def = 10 * SEC },
	{ FIELD("body_timeout", CT_DURATION, struct cfg_http, body_timeout_ns),
	  .min = SEC, .max = HOUR, .def = 60 * SEC },
	{ FIELD("body_min_rate", CT_RATE, struct cfg_http, body_min_rate),
	  .flags = F_ZERO_OK, .min = 1, .max = GiB, .def = KiB },
	{ FIELD("idle_timeout", CT_DURATION, struct cfg_http, idle_timeout_ns),
	  .min = SEC, .max = HOUR, .def = 60 * SEC },
	{ FIELD("response_timeout", CT_DURATION, struct cfg_http, response_timeout_ns),
	  .min = SEC, .max = HOUR, .def = 300 * SEC },
	{ NULL }
};
static const struct cobj http_obj = { http_keys };

static const char *const mode_names[] = {
	[SLUICE_MODE_AUTO] = "auto", [SLUICE_MODE_NATIVE] = "native", [SLUICE_MODE_SKB] = "skb",
	NULL
};

static const struct ckey iface_keys[] = {
	{ FIELD("name", CT_STRBUF, struct cfg_xdp_iface, name), .flags = F_REQUIRED,
	  .valid = valid_ifname },
	{ FIELD("mode", CT_ENUM, struct cfg_xdp_iface, mode), .names = mode_names,
	  .def = SLUICE_MODE_AUTO },
	{ NULL }
};
static const struct cobj iface_obj = { iface_keys };

/* Inline in struct cfg_xdp: pps != 0 tells the section was given */
static const struct ckey limit_keys[] = {
	{ FIELD("pps", CT_UINT, struct cfg_xdp, pps), .flags = F_REQUIRED,
	  .min = 1, .max = CFG_MAX_RATE },
	{ FIELD("burst", CT_UINT, struct cfg_xdp, burst), .flags = F_REQUIRED,
	  .min = 1, .max = CFG_MAX_RATE },
	{ FIELD("syn", CT_UINT, struct cfg_xdp, syn), .max = CFG_MAX_RATE },
	{ NULL }
};
static const struct cobj limit_obj = { limit_keys };

static const struct ckey xdp_keys[] = {
	{ ARRAY("interfaces", struct cfg_xdp, ifaces, nifaces, struct cfg_xdp_iface),
	  .obj = &iface_obj, .max = SLUICE_MAX_IFACES, .flags = F_UNIQUE,
	  .uniq = offsetof(struct cfg_xdp_iface, name) },
	{ .key = "protected_ports", .type = CT_CUSTOM,
	  .off = offsetof(struct cfg_xdp, protected_ports), .fn = load_ports },
	{ .key = "default_limit", .type = CT_OBJECT, .obj = &limit_obj },
	{ FIELD("ipv6_prefix", CT_UINT, struct cfg_xdp, ipv6_prefix), .min = 1, .max = 128 },
	{ FIELD("dry_run", CT_BOOL, struct cfg_xdp, dry_run), .flags = F_TRI },
	{ NULL }
};
static const struct cobj xdp_obj = { xdp_keys };

static const struct ckey backend_keys[] = {
	{ .key = "url", .type = CT_CUSTOM, .flags = F_REQUIRED, .fn = load_backend_url },
	{ FIELD("weight", CT_UINT, struct cfg_backend, weight), .min = 1, .max = 1000, .def = 1 },
	{ FIELD("max_inflight", CT_UINT, struct cfg_backend, max_inflight),
	  .max = 1000000 },
	{ .key = "model_map", .type = CT_CUSTOM, .fn = load_model_map },
	{ FIELD("ca_file", CT_STRING, struct cfg_backend, ca_file) },
	{ FIELD("tls_verify", CT_BOOL, struct cfg_backend, tls_verify), .def = true },
	{ NULL }
};
static const struct cobj backend_obj = { backend_keys, backend_check };

static const struct ckey health_keys[] = {
	{ FIELD("enabled", CT_BOOL, struct cfg_health, enabled), .def = true },
	{ FIELD("method", CT_STRBUF, struct cfg_health, method), .sdef = "GET",
	  .valid = valid_method },
	{ FIELD("path", CT_STRING, struct cfg_health, path), .sdef = "/health",
	  .valid = valid_url_path, .max = 1024 },
	{ FIELD("interval", CT_DURATION, struct cfg_health, interval_ns),
	  .min = 100 * MSEC, .max = HOUR, .def = 2 * SEC },
	{ FIELD("timeout", CT_DURATION, struct cfg_health, timeout_ns),
	  .min = 10 * MSEC, .max = MIN, .def = SEC },
	{ FIELD("rise", CT_UINT, struct cfg_health, rise), .min = 1, .max = 100, .def = 2 },
	{ FIELD("fall", CT_UINT, struct cfg_health, fall), .min = 1, .max = 100, .def = 3 },
	{ FIELD("eject_after", CT_UINT, struct cfg_health, eject_after),
	  .min = 1, .max = 1000, .def = 5 },
	{ FIELD("eject_base", CT_DURATION, struct cfg_health, eject_base_ns),
	  .min = 100 * MSEC, .max = HOUR, .def = 5 * SEC },
	{ FIELD("eject_max", CT_DURATION, struct cfg_health, eject_max_ns),
	  .min = SEC, .max = DAY, .def = 5 * MIN },
	{ NULL }
};
static const struct cobj health_obj = { health_keys, health_check };

/* Inline in struct cfg_pool */
static const struct ckey queue_keys[] = {
	{ FIELD("max", CT_UINT, struct cfg_pool, queue_max), .max = 1000000, .def = 256 },
	{ FIELD("timeout", CT_DURATION, struct cfg_pool, queue_timeout_ns),
	  .max = 10 * MIN, .def = 2 * SEC },
	{ NULL }
};
static const struct cobj queue_obj = { queue_keys };

static const char *const lb_names[] = {
	[LB_ROUND_ROBIN] = "round_robin", [LB_WEIGHTED] = "weighted",
	[LB_LEAST_REQUESTS] = "least_requests", [LB_LEAST_TOKENS] = "least_tokens",
	[LB_P2C] = "p2c", [LB_SESSION] = "session", [LB_PREFIX] = "prefix", NULL
};

static const struct ckey pool_keys[] = {
	{ FIELD("algorithm", CT_ENUM, struct cfg_pool, algorithm), .names = lb_names,
	  .def = LB_ROUND_ROBIN },
	{ ARRAY("backends", struct cfg_pool, backends, nbackends, struct cfg_backend),
	  .flags = F_REQUIRED, .obj = &backend_obj, .min = 1, .max = 1024 },
	{ FIELD("retries", CT_UINT, struct cfg_pool, retries), .max = 10, .def = 1 },
	{ FIELD("retry_on", CT_CUSTOM, struct cfg_pool, retry_on), .fn = load_retry_on,
	  .def = RETRY_CONNECT | RETRY_RESET | RETRY_502 | RETRY_503 },
	{ FIELD("retry_budget", CT_DOUBLE, struct cfg_pool, retry_budget),
	  .dmin = 0, .dmax = 1, .ddef = 0.2 },
	{ FIELD("health", CT_OBJECT, struct cfg_pool, health), .obj = &health_obj },
	{ .key = "queue", .type = CT_OBJECT, .obj = &queue_obj },
	{ FIELD("session_header", CT_STRING, struct cfg_pool, session_header),
	  .sdef = "x-session-id", .valid = valid_header },
	{ FIELD("prefix_bytes", CT_SIZE, struct cfg_pool, prefix_bytes),
	  .min = 16, .max = 64 * KiB, .def = 256 },
	{ NULL }
};
static const struct cobj pool_obj = { pool_keys, pool_check };

/* Inline in struct cfg_route */
static const struct ckey match_keys[] = {
	{ FIELD("method", CT_STRING, struct cfg_route, method), .valid = valid_method },
	{ FIELD("path", CT_STRING, struct cfg_route, path_prefix), .valid = valid_url_path,
	  .max = 1024 },
	{ FIELD("model", CT_STRING, struct cfg_route, model_glob), .max = 255 },
	{ FIELD("min_bytes", CT_SIZE, struct cfg_route, min_bytes), .max = GiB },
	{ FIELD("max_bytes", CT_SIZE, struct cfg_route, max_bytes), .max = GiB },
	{ FIELD("max_prompt_tokens", CT_UINT, struct cfg_route, max_prompt_tokens),
	  .max = 100000000 },
	{ .key = "headers", .type = CT_CUSTOM, .fn = load_headers },
	{ ARRAY("tags", struct cfg_route, tags, ntags, char *), .elem = elem_tag, .max = 32 },
	{ NULL }
};
static const struct cobj match_obj = { match_keys };

static const char *const action_names[] = { "proxy", "refuse", NULL };
static const char *const api_names[] = {
	[API_AUTO] = "auto", [API_OPENAI] = "openai", [API_ANTHROPIC] = "anthropic", NULL
};

static const struct ckey route_keys[] = {
	{ FIELD("name", CT_STRBUF, struct cfg_route, name), .flags = F_REQUIRED,
	  .valid = valid_name },
	{ .key = "match", .type = CT_OBJECT, .obj = &match_obj },
	{ FIELD("action", CT_ENUM, struct cfg_route, refuse), .names = action_names },
	{ .key = "pool", .type = CT_CUSTOM, .off = offsetof(struct cfg_route, pool),
	  .fn = load_pool_ref },
	{ ARRAY("fallback", struct cfg_route, fallback, nfallback, int), .elem = elem_pool_ref,
	  .max = 8 },
	{ FIELD("api", CT_ENUM, struct cfg_route, api), .names = api_names, .def = API_AUTO },
	{ FIELD("limits", CT_OBJECT, struct cfg_route, limits), .obj = &limits_obj },
	{ NULL }
};
static const struct cobj route_obj = { route_keys, route_check };

/* Inline in struct cfg_rule */
static const struct ckey rule_match_keys[] = {
	{ .key = "detectors", .type = CT_CUSTOM, .off = offsetof(struct cfg_rule, detectors),
	  .fn = load_kinds },
	{ FIELD("min_count", CT_UINT, struct cfg_rule, min_count), .min = 1, .max = 100000,
	  .def = 1 },
	{ ARRAY("sets", struct cfg_rule, sets, nsets, int), .elem = elem_set_ref, .max = 64 },
	{ ARRAY("routes", struct cfg_rule, routes, nroutes, int), .elem = elem_route_ref,
	  .max = 1024 },
	{ ARRAY("models", struct cfg_rule, models, nmodels, char *), .elem = elem_string,
	  .max = 64 },
	{ ARRAY("sources", struct cfg_rule, sources, nsources, struct cidr), .elem = elem_cidr,
	  .max = 1024 },
	{ .key = "roles", .type = CT_CUSTOM, .off = offsetof(struct cfg_rule, roles),
	  .size = sizeof(uint32_t), .fn = load_roles, .def = ROLE_ALL },
	{ FIELD("min_bytes", CT_SIZE, struct cfg_rule, min_bytes), .max = GiB },
	{ FIELD("max_bytes", CT_SIZE, struct cfg_rule, max_bytes), .max = GiB },
	{ NULL }
};
static const struct cobj rule_match_obj = { rule_match_keys };

static const char *const mask_style_names[] = {
	[MASK_REDACT] = "redact", [MASK_PLACEHOLDER] = "placeholder", [MASK_HASH] = "hash",
	[MASK_PARTIAL] = "partial", NULL
};

/* Inline in struct cfg_rule */
static const struct ckey mask_keys[] = {
	{ .key = "entities", .type = CT_CUSTOM, .off = offsetof(struct cfg_rule, mask_entities),
	  .fn = load_kinds },
	{ FIELD("style", CT_ENUM, struct cfg_rule, style), .names = mask_style_names,
	  .def = MASK_REDACT },
	{ FIELD("restore", CT_BOOL, struct cfg_rule, restore) },
	{ NULL }
};
static const struct cobj mask_obj = { mask_keys };

static const char *const insp_action_names[] = {
	[ACT_ALLOW] = "allow", [ACT_BLOCK] = "block", [ACT_MASK] = "mask",
	[ACT_REROUTE] = "reroute", [ACT_TAG] = "tag", [ACT_ESCALATE] = "escalate", NULL
};

static const char *const scope_names[] = {
	[SCOPE_REQUEST] = "request", [SCOPE_RESPONSE] = "response", [SCOPE_BOTH] = "both", NULL
};

static const struct ckey rule_keys[] = {
	{ FIELD("name", CT_STRBUF, struct cfg_rule, name), .flags = F_REQUIRED,
	  .valid = valid_name },
	{ .key = "match", .type = CT_OBJECT, .obj = &rule_match_obj },
	{ FIELD("action", CT_ENUM, struct cfg_rule, action), .flags = F_REQUIRED,
	  .names = insp_action_names },
	{ FIELD("scope", CT_ENUM, struct cfg_rule, scope), .names = scope_names },
	{ FIELD("monitor", CT_BOOL, struct cfg_rule, monitor) },
	{ FIELD("status", CT_UINT, struct cfg_rule, status), .min = 400, .max = 499, .def = 400 },
	{ FIELD("message", CT_STRING, struct cfg_rule, message), .max = 512 },
	{ .key = "mask", .type = CT_OBJECT, .obj = &mask_obj },
	{ .key = "pool", .type = CT_CUSTOM, .off = offsetof(struct cfg_rule, pool),
	  .fn = load_pool_ref },
	{ FIELD("tag", CT_STRBUF, struct cfg_rule, tag), .valid = valid_name },
	{ NULL }
};
static const struct cobj rule_obj = { rule_keys, rule_check };

static const struct ckey set_keys[] = {
	{ FIELD("name", CT_STRBUF, struct cfg_pattern_set, name), .flags = F_REQUIRED,
	  .valid = valid_name },
	{ .key = "patterns", .type = CT_CUSTOM, .fn = load_patterns },
	{ FIELD("file", CT_STRING, struct cfg_pattern_set, file), .max = 1024 },
	{ FIELD("literal", CT_BOOL, struct cfg_pattern_set, literal) },
	{ FIELD("caseless", CT_BOOL, struct cfg_pattern_set, caseless), .def = true },
	{ FIELD("whole_word", CT_BOOL, struct cfg_pattern_set, whole_word) },
	{ NULL }
};
static const struct cobj set_obj = { set_keys, set_check };

static const struct ckey inspect_keys[] = {
	{ .key = "detectors", .type = CT_CUSTOM, .off = offsetof(struct cfg_inspect, detectors),
	  .size = sizeof(uint32_t), .fn = load_kinds, .def = (1U << PII_NKINDS) - 1 },
	{ FIELD("max_depth", CT_UINT, struct cfg_inspect, max_depth), .min = 2, .max = 1000,
	  .def = 64 },
	{ FIELD("max_pieces", CT_UINT, struct cfg_inspect, max_pieces), .min = 1,
	  .max = 1000000, .def = 10000 },
	{ FIELD("max_text_bytes", CT_SIZE, struct cfg_inspect, max_text_bytes), .min = KiB,
	  .max = GiB, .def = 8 * MiB },
	{ FIELD("response_window", CT_SIZE, struct cfg_inspect, response_window), .min = 16,
	  .max = 64 * KiB, .def = 256 },
	{ ARRAY("pattern_sets", struct cfg_inspect, sets, nsets, struct cfg_pattern_set),
	  .flags = F_UNIQUE, .obj = &set_obj, .max = 64,
	  .uniq = offsetof(struct cfg_pattern_set, name) },
	{ ARRAY("rules", struct cfg_inspect, rules, nrules, struct cfg_rule),
	  .flags = F_UNIQUE, .obj = &rule_obj, .max = 1024,
	  .uniq = offsetof(struct cfg_rule, name) },
	{ FIELD("hash_key_file", CT_STRING, struct cfg_inspect, hash_key_file), .max = 1024 },
	{ NULL }
};
static const struct cobj inspect_obj = { inspect_keys, inspect_check };

static const char *const audit_sync_names[] = {
	[AUDIT_NONE] = "none", [AUDIT_INTERVAL] = "interval", [AUDIT_ALWAYS] = "always", NULL
};

static const char *const audit_on_error_names[] = {
	[AUDIT_REFUSE] = "refuse", [AUDIT_CONTINUE] = "continue", NULL
};

static const struct ckey audit_keys[] = {
	{ FIELD("path", CT_STRING, struct cfg_audit, path), .flags = F_REQUIRED, .max = 1024 },
	{ FIELD("sync", CT_ENUM, struct cfg_audit, sync), .names = audit_sync_names,
	  .def = AUDIT_INTERVAL },
	{ FIELD("interval", CT_DURATION, struct cfg_audit, interval_ns), .min = MSEC,
	  .max = MIN, .def = 100 * MSEC },
	{ FIELD("queue", CT_UINT, struct cfg_audit, queue), .min = 16, .max = 10000000,
	  .def = 65536 },
	{ FIELD("on_error", CT_ENUM, struct cfg_audit, on_error), .names = audit_on_error_names,
	  .def = AUDIT_REFUSE },
	{ FIELD("include_masked", CT_BOOL, struct cfg_audit, include_masked) },
	{ NULL }
};
static const struct cobj audit_obj = { audit_keys };

/* "host:port" or "unix:PATH" */
static int load_admin_addr(struct ld *ld, const cJSON *v, void *field)
{
	struct cfg_admin *a = (struct cfg_admin *)((char *)field - offsetof(struct cfg_admin, addr));
	const char *s = cJSON_IsString(v) ? v->valuestring : "";

	if (strncmp(s, "unix:", 5))
		return load_listen_addr(ld, v, field);
	if (s[5] != '/')
		return fail(ld, v, "expected unix:/absolute/path");
	if (strlen(s + 5) >= sizeof(a->unix_path))
		return fail(ld, v, "a socket path is at most %zu bytes", sizeof(a->unix_path) - 1);
	snprintf(a->unix_path, sizeof(a->unix_path), "%s", s + 5);
	snprintf(a->addr.text, sizeof(a->addr.text), "%.79s", s);
	return 0;
}

static int admin_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_admin *a = base;

	if (!json)
		return 0;
	if (!a->unix_path[0] && !a->token_file)
		return fail_key(ld, json, "token_file", "%s",
				"required when the admin endpoint listens on TCP");
	return 0;
}

static const struct ckey admin_keys[] = {
	{ .key = "address", .type = CT_CUSTOM, .flags = F_REQUIRED,
	  .off = offsetof(struct cfg_admin, addr), .fn = load_admin_addr },
	{ FIELD("token_file", CT_STRING, struct cfg_admin, token_file), .max = 1024 },
	{ ARRAY("models", struct cfg_admin, models, nmodels, char *), .elem = elem_string,
	  .max = 256 },
	{ NULL }
};
static const struct cobj admin_obj = { admin_keys, admin_check };

const char *const esc_event_names[] = {
	[EV_RATE_LIMITED] = "rate_limited", [EV_POLICY] = "policy", [EV_AUTH_FAILED] = "auth_failed",
	[EV_BAD_REQUEST] = "bad_request", [EV_TLS_FAILED] = "tls_failed",
	[EV_KEY_SUSPENDED] = "key_suspended", NULL
};

static int event_index(const char *name)
{
	for (int i = 0; esc_event_names[i]; i++)
		if (!strcmp(esc_event_names[i], name))
			return i;
	return -1;
}

static const char *event_name_at(int i)
{
	return esc_event_names[i];
}

static int load_events(struct ld *ld, const cJSON *v, void *field)
{
	return load_name_bits(ld, v, field, "event", event_index, event_name_at, EV_N);
}

static const char *const step_names[] = { "throttle", "block", NULL };

static int step_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_esc_step *st = base;

	if (!st->block && !st->pps)
		return fail_key(ld, json, "pps", "%s", "required for a throttle step (1 or more)");
	if (st->block && item(json, "pps"))
		return fail_key(ld, json, "pps", "%s", "a block step drops everything: no pps");
	return 0;
}

static const struct ckey step_keys[] = {
	{ FIELD("action", CT_ENUM, struct cfg_esc_step, block), .flags = F_REQUIRED,
	  .names = step_names },
	{ FIELD("pps", CT_UINT, struct cfg_esc_step, pps), .max = 100000000 },
	{ FIELD("ttl", CT_DURATION, struct cfg_esc_step, ttl_ns), .flags = F_REQUIRED,
	  .min = SEC, .max = 30 * 24 * HOUR },
	{ NULL }
};
static const struct cobj step_obj = { step_keys, step_check };

static const struct ckey key_susp_keys[] = {
	{ FIELD("strikes", CT_UINT, struct cfg_key_suspension, strikes), .min = 1, .max = 1000000,
	  .def = 20 },
	{ FIELD("window", CT_DURATION, struct cfg_key_suspension, window_ns), .min = SEC,
	  .max = 24 * HOUR, .def = 60 * SEC },
	{ FIELD("ttl", CT_DURATION, struct cfg_key_suspension, ttl_ns), .flags = F_REQUIRED,
	  .min = SEC, .max = 30 * 24 * HOUR },
	{ NULL }
};
static const struct cobj key_susp_obj = { key_susp_keys };

static int escalation_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_escalation *e = base;

	if (!json)
		return 0;
	if (!item(json, "events"))
		e->events = ~0U >> (32 - EV_N);
	if (e->keys && e->keys->ttl_ns > e->max_ttl_ns) {
		path_key(ld, "keys");
		return fail_key(ld, item(json, "keys"), "ttl", "%s", "above max_ttl");
	}
	for (size_t i = 0; i < e->nsteps; i++)
		if (e->steps[i].ttl_ns > e->max_ttl_ns) {
			path_key(ld, "steps");
			path_index(ld, i);
			return fail_key(ld, cJSON_GetArrayItem(item(json, "steps"), i), "ttl", "%s",
					"above max_ttl");
		}
	return 0;
}

static const struct ckey escalation_keys[] = {
	{ .key = "events", .type = CT_CUSTOM, .off = offsetof(struct cfg_escalation, events),
	  .fn = load_events },
	{ FIELD("strikes", CT_UINT, struct cfg_escalation, strikes), .min = 1, .max = 1000000,
	  .def = 10 },
	{ FIELD("window", CT_DURATION, struct cfg_escalation, window_ns), .min = SEC,
	  .max = 24 * HOUR, .def = 60 * SEC },
	{ ARRAY("steps", struct cfg_escalation, steps, nsteps, struct cfg_esc_step),
	  .flags = F_REQUIRED, .obj = &step_obj, .min = 1, .max = 8 },
	{ FIELD("max_ttl", CT_DURATION, struct cfg_escalation, max_ttl_ns), .min = SEC,
	  .max = 30 * 24 * HOUR, .def = 24 * HOUR },
	{ FIELD("keys", CT_OBJECT, struct cfg_escalation, keys), .flags = F_ALLOC,
	  .esize = sizeof(struct cfg_key_suspension), .obj = &key_susp_obj },
	{ NULL }
};
static const struct cobj escalation_obj = { escalation_keys, escalation_check };

/* --- tokenizer ----------------------------------------------------------- */

#ifndef SLUICE_DATADIR
#define SLUICE_DATADIR	"/usr/local/share/sluice"
#endif

static const char *const enc_names[] = {
	[BPE_CL100K] = "cl100k_base", [BPE_O200K] = "o200k_base", [TOK_ESTIMATE] = "estimate", NULL
};

static const struct ckey tok_model_keys[] = {
	{ FIELD("model", CT_STRING, struct cfg_tok_model, model), .flags = F_REQUIRED, .min = 1,
	  .max = 255 },
	{ FIELD("encoding", CT_ENUM, struct cfg_tok_model, enc), .flags = F_REQUIRED,
	  .names = enc_names },
	{ NULL }
};
static const struct cobj tok_model_obj = { tok_model_keys };

/*
 * The rank tables of the encodings some model (or the default) uses, from
 * "ranks" (relative to the config's folder), else $SLUICE_TIKTOKEN_DIR,
 * else SLUICE_DATADIR/tiktoken where `make install` puts them.
 */
static int tokenizer_check(struct ld *ld, const cJSON *json, void *base)
{
	struct cfg_tokenizer *t = base;
	bool used[2] = { false, false };
	const char *env = getenv("SLUICE_TIKTOKEN_DIR");

	if (!json)
		return 0;
	if (t->dflt < TOK_ESTIMATE)
		used[t->dflt] = true;
	for (size_t i = 0; i < t->nmodels; i++)
		if (t->models[i].enc < TOK_ESTIMATE)
			used[t->models[i].enc] = true;
	if (t->ranks)
		t->dir = config_relative(ld, t->ranks);
	else
		t->dir = strdup(env && *env ? env : SLUICE_DATADIR "/tiktoken");
	if (!t->dir)
		return fail(ld, NULL, "out of memory");
	for (int e = 0; e < TOK_ESTIMATE; e++) {
		char *path, why[512];
		int err;

		if (!used[e])
			continue;
		if (asprintf(&path, "%s/%s.tiktoken", t->dir, enc_names[e]) < 0)
			return fail(ld, NULL, "out of memory");
		t->bpe[e] = bpe__load(path, (enum bpe_encoding)e);
		err = errno;
		if (!t->bpe[e]) {
			snprintf(why, sizeof(why), "%s: %s%s", path,
				 err == EINVAL ? "not a rank table" : strerror(err),
				 err == ENOENT ? " (make install puts the tables there; "
						 "scripts/tiktoken-ranks.sh makes them)" : "");
			free(path);
			return fail_key(ld, json, "ranks", "%s", why);
		}
		free(path);
	}
	return 0;
}

static const struct ckey tokenizer_keys[] = {
	{ FIELD("ranks", CT_STRING, struct cfg_tokenizer, ranks), .min = 1, .max = 1024 },
	{ ARRAY("models", struct cfg_tokenizer, models, nmodels, struct cfg_tok_model),
	  .obj = &tok_model_obj, .max = 1024 },
	{ FIELD("default", CT_ENUM, struct cfg_tokenizer, dflt), .names = enc_names,
	  .def = TOK_ESTIMATE },
	{ NULL }
};
static const struct cobj tokenizer_obj = { tokenizer_keys, tokenizer_check };

static const struct ckey top_keys[] = {
	{ FIELD("workers", CT_UINT, struct gw_config, workers), .max = CFG_MAX_WORKERS },
	{ FIELD("drain_timeout", CT_DURATION, struct gw_config, drain_timeout_ns),
	  .max = HOUR, .def = 30 * SEC },
	{ FIELD("user", CT_STRING, struct gw_config, user), .min = 1, .max = 32 },
	{ ARRAY("listeners", struct gw_config, listeners, nlisteners, struct cfg_listener),
	  .flags = F_REQUIRED | F_UNIQUE, .obj = &listener_obj, .min = 1, .max = 64,
	  .uniq = offsetof(struct cfg_listener, name) },
	{ FIELD("http", CT_OBJECT, struct gw_config, http), .obj = &http_obj },
	{ FIELD("xdp", CT_OBJECT, struct gw_config, xdp), .obj = &xdp_obj },
	{ .key = "pools", .type = CT_CUSTOM, .flags = F_REQUIRED, .fn = load_pools,
	  .obj = &pool_obj },	/* obj: for config_key_paths() */
	{ ARRAY("routes", struct gw_config, routes, nroutes, struct cfg_route),
	  .flags = F_REQUIRED | F_UNIQUE, .obj = &route_obj, .min = 1, .max = 10000,
	  .uniq = offsetof(struct cfg_route, name) },
	/* after pools and routes: rules name them */
	{ FIELD("inspect", CT_OBJECT, struct gw_config, inspect), .obj = &inspect_obj },
	{ FIELD("audit", CT_OBJECT, struct gw_config, audit), .obj = &audit_obj,
	  .flags = F_ALLOC, .esize = sizeof(struct cfg_audit) },
	{ FIELD("admin", CT_OBJECT, struct gw_config, admin), .obj = &admin_obj,
	  .flags = F_ALLOC, .esize = sizeof(struct cfg_admin) },
	{ FIELD("keys", CT_OBJECT, struct gw_config, keys), .obj = &keys_obj },
	{ .key = "tenants", .type = CT_CUSTOM, .fn = load_tenants, .obj = &tenant_obj },
	{ FIELD("limits", CT_OBJECT, struct gw_config, limits), .obj = &limits_top_obj },
	{ FIELD("escalation", CT_OBJECT, struct gw_config, escalation), .obj = &escalation_obj,
	  .flags = F_ALLOC, .esize = sizeof(struct cfg_escalation) },
	{ FIELD("tokenizer", CT_OBJECT, struct gw_config, tokenizer), .obj = &tokenizer_obj,
	  .flags = F_ALLOC, .esize = sizeof(struct cfg_tokenizer) },
	{ NULL }
};
static const struct cobj top_obj = { top_keys, top_check };

/* --- the file ----------------------------------------------------------- */

static char *read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CFG_MAX_FILE) {
		if (!S_ISREG(st.st_mode))
			snprintf(err, errlen, "%s: not a regular file", path);
		else
			snprintf(err, errlen, "%s: %lld bytes: larger than the %u MiB limit", path,
				 (long long)st.st_size, CFG_MAX_FILE >> 20);
		close(fd);
		return NULL;
	}
	/* one byte of room to see the file grow past what fstat said */
	buf = malloc(st.st_size + 2);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size + 1) {
		n = read(fd, buf + len, st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (!n)
			break;
		len += n;
	}
	if (len > (size_t)st.st_size) {
		snprintf(err, errlen, "%s: changed while being read", path);
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/*
 * Blanks // and block comments with spaces, keeping newlines so positions
 * still point at the right line. Strings are skipped whole, escapes
 * included: cJSON_Minify() (1.7.15) takes the quote of "C:\\" for an
 * escaped one and then eats a "//" inside the next string.
 * Returns 0, or -1 with *bad at an unterminated comment.
 */
static int strip_comments(char *s, size_t len, size_t *bad)
{
	size_t i = 0;

	while (i < len) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '/') {
			while (i < len && s[i] != '\n')
				s[i++] = ' ';
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			*bad = i;
			s[i] = s[i + 1] = ' ';
			for (i += 2; i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'); i++)
				if (s[i] != '\n')
					s[i] = ' ';
			if (i + 1 >= len)
				return -1;
			s[i] = s[i + 1] = ' ';
			i += 2;
		} else {
			i++;
		}
	}
	return 0;
}

static void position(const char *s, size_t off, unsigned int *line, unsigned int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (s[i] == '\n') {
			++*line;
			*col = 1;
		} else {
			++*col;
		}
	}
}

struct gw_config *config_load(const char *path, char *err, size_t errlen)
{
	char ebuf[CFG_ERR_LEN], near[24];
	struct gw_config *cfg = NULL;
	const char *end = NULL;
	unsigned int line, col;
	struct timespec ts;
	struct ld ld = {};
	cJSON *root = NULL;
	size_t len, bad, i;
	char *buf;

	if (!err || !errlen) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	err[0] = '\0';
	buf = read_file(path, &len, err, errlen);
	if (!buf)
		return NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg || !(cfg->path = strdup(path)) ||
	    !EVP_Digest(buf, len, cfg->sha256, NULL, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	cfg->loaded_ns = (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
	if (memchr(buf, '\0', len)) {
		position(buf, (const char *)memchr(buf, '\0', len) - buf, &line, &col);
		snprintf(err, errlen, "%s:%u:%u: a NUL byte: not a text file", path, line, col);
		goto fail;
	}
	if (strip_comments(buf, len, &bad)) {
		position(buf, bad, &line, &col);
		snprintf(err, errlen, "%s:%u:%u: comment not closed with */", path, line, col);
		goto fail;
	}
	root = cJSON_ParseWithOpts(buf, &end, true);
	if (!root) {
		bad = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
		position(buf, bad, &line, &col);
		for (i = 0; i < sizeof(near) - 1 && buf[bad + i] && buf[bad + i] != '\n' &&
			    buf[bad + i] != '\r'; i++)
			near[i] = buf[bad + i];
		near[i] = '\0';
		snprintf(err, errlen, "%s:%u:%u: not valid JSON%s%s%s", path, line, col,
			 i ? " near '" : " (at the end)", near, i ? "'" : "");
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: expected a JSON object at the top, not %s", path,
			 type_name(root));
		goto fail;
	}
	ld.cfg = cfg;
	ld.err = err;
	ld.errlen = errlen;
	if (load_object(&ld, root, &top_obj, cfg))
		goto fail;
	cJSON_Delete(root);
	free(buf);
	return cfg;
fail:
	cJSON_Delete(root);
	free(buf);
	config_free(cfg);
	return NULL;
}

static void free_tls(struct cfg_tls *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->ncerts; i++) {
		free(t->certs[i].cert);
		free(t->certs[i].key);
	}
	free(t->certs);
	free(t->client_ca);
	free(t);
}

static void free_pool(struct cfg_pool *p)
{
	size_t i, j;

	for (i = 0; i < p->nbackends; i++) {
		struct cfg_backend *b = &p->backends[i];

		free(b->url);
		for (j = 0; j < b->nmodel_map; j++) {
			free(b->model_map[j].from);
			free(b->model_map[j].to);
		}
		free(b->model_map);
		free(b->ca_file);
	}
	free(p->backends);
	free(p->health.path);
	free(p->session_header);
}

static void free_route(struct cfg_route *r)
{
	size_t i;

	free(r->method);
	free(r->path_prefix);
	free(r->model_glob);
	for (i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].glob);
	}
	free(r->headers);
	for (i = 0; i < r->ntags; i++)
		free(r->tags[i]);
	free(r->tags);
	free(r->fallback);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_inspect(struct cfg_inspect *in)
{
	for (size_t i = 0; i < in->nsets; i++) {
		struct cfg_pattern_set *s = &in->sets[i];

		free_strings(s->patterns, s->npatterns);
		free_strings(s->origin, s->npatterns);
		free(s->file);
	}
	free(in->sets);
	for (size_t i = 0; i < in->nrules; i++) {
		struct cfg_rule *r = &in->rules[i];

		free(r->sets);
		free(r->routes);
		free_strings(r->models, r->nmodels);
		free(r->sources);
		free(r->message);
	}
	free(in->rules);
	free(in->hash_key_file);
}

void config_free(struct gw_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->nlisteners; i++) {
		free_tls(cfg->listeners[i].tls);
		free(cfg->listeners[i].trusted);
	}
	free(cfg->listeners);
	free(cfg->xdp.ifaces);
	free(cfg->xdp.protected_ports);
	for (i = 0; i < cfg->npools; i++)
		free_pool(&cfg->pools[i]);
	free(cfg->pools);
	for (i = 0; i < cfg->nroutes; i++)
		free_route(&cfg->routes[i]);
	free(cfg->routes);
	free_inspect(&cfg->inspect);
	free(cfg->user);
	if (cfg->audit)
		free(cfg->audit->path);
	free(cfg->audit);
	if (cfg->admin) {
		free(cfg->admin->token_file);
		free_strings(cfg->admin->models, cfg->admin->nmodels);
	}
	free(cfg->admin);
	if (cfg->keys.kf)
		keyfile_free(cfg->keys.kf);
	free(cfg->keys.kf);
	free(cfg->keys.file);
	free(cfg->keys.path);
	free(cfg->limits.state_file);
	free(cfg->limits.state_path);
	free(cfg->tenants);
	if (cfg->escalation) {
		free(cfg->escalation->steps);
		free(cfg->escalation->keys);
	}
	free(cfg->escalation);
	if (cfg->tokenizer) {
		for (size_t j = 0; j < cfg->tokenizer->nmodels; j++)
			free(cfg->tokenizer->models[j].model);
		free(cfg->tokenizer->models);
		free(cfg->tokenizer->ranks);
		free(cfg->tokenizer->dir);
		for (int e = 0; e < TOK_ESTIMATE; e++)
			bpe__free(cfg->tokenizer->bpe[e]);
	}
	free(cfg->tokenizer);
	free(cfg->path);
	free(cfg);
}

static void walk_keys(const struct cobj *o, char *path, size_t size, size_t len,
		      void (*fn)(const char *path, void *arg), void *arg)
{
	const struct ckey *k;
	int n;

	for (k = o->keys; k->key; k++) {
		n = snprintf(path + len, size - len, "%s%s%s", len ? "." : "", k->key,
			     k->type == CT_ARRAY && k->obj ? "[]" :
			     k->type == CT_CUSTOM && k->obj ? ".<name>" : "");
		if (n < 0 || (size_t)n >= size - len)
			continue;
		fn(path, arg);
		if (k->obj)
			walk_keys(k->obj, path, size, len + n, fn, arg);
		path[len] = '\0';
	}
}

void config_key_paths(void (*fn)(const char *path, void *arg), void *arg)
{
	char path[256] = "";

	walk_keys(&top_obj, path, sizeof(path), 0, fn, arg);
}

int config_tenant_index(const struct gw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntenants; i++)
		if (!strcmp(cfg->tenants[i].name, name))
			return (int)i;
	return -1;
}

int config_pool_index(const struct gw_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->npools; i++)
		if (!strcmp(cfg->pools[i].name, name))
			return (int)i;
	return -1;
}
