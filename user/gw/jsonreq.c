// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Request bodies as JSON, strictly (see jsonreq.h): one pass over the
 * bytes for what cJSON does not check, cJSON for the grammar, then a walk
 * of the tree for keys given twice and the types of the fields we read.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/jsonreq.h"

const char *const jsonreq_max_tokens_keys[] = {
	"max_tokens", "max_completion_tokens", "max_output_tokens", NULL
};

#define PATH_MAX_LEN	96	/* of a field's name in a message, "messages[12].content" */

__attribute__((format(printf, 3, 4)))
static int refuse(struct jsonreq_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->why, sizeof(err->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The length of the UTF-8 sequence at p (p[0] >= 0x80), 0 if it is none (RFC 3629 4). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t k, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		/* no overlongs, no UTF-16 surrogates */
		k = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		/* no overlongs, nothing past U+10FFFF */
		k = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

/*
 * The bytes cJSON lets through: encoding, control bytes, \u0000, depth.
 * Strings are told apart from the rest by their quotes alone, which is
 * enough here: a body cJSON then refuses may have been misread, a body it
 * takes has its strings exactly where this pass saw them.
 */
static int scan(const unsigned char *p, size_t n, struct jsonreq_error *err)
{
	unsigned int depth = 0;
	bool in_string = false;
	size_t i = 0, k;

	while (i < n) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			if (!(k = utf8_seq(p + i, n - i)))
				return refuse(err, "invalid_json",
					      "the request body is not valid UTF-8 (byte %zu)", i);
			i += k;
			continue;
		}
		if (in_string) {
			if (c < 0x20)
				return refuse(err, "invalid_json",
					      "the request body has a control character (0x%02x) in a string (byte %zu)",
					      c, i);
			if (c == '"')
				in_string = false;
			else if (c == '\\' && n - i >= 6 && !memcmp(p + i + 1, "u0000", 5))
				return refuse(err, "invalid_json",
					      "the request body has \\u0000 in a string (byte %zu)", i);
			else if (c == '\\')
				i++;	/* the escaped byte never ends the string */
			i++;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if ((c == '[' || c == '{') && ++depth > JSONREQ_MAX_DEPTH)
			return refuse(err, "invalid_json",
				      "the request body nests deeper than %u levels", JSONREQ_MAX_DEPTH);
		else if ((c == ']' || c == '}') && depth)
			depth--;
		else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			return refuse(err, "invalid_json",
				      "the request body has a control character (0x%02x) (byte %zu)", c, i);
		i++;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends ".key", "key" at the top, or "[i]" to path (truncated): its new length. */
static size_t path_push(char *path, size_t len, const cJSON *it, size_t i)
{
	int n;

	if (it->string)
		n = snprintf(path + len, PATH_MAX_LEN - len, "%s%.32s", len ? "." : "", it->string);
	else
		n = snprintf(path + len, PATH_MAX_LEN - len, "[%zu]", i);
	return n < 0 || len + n >= PATH_MAX_LEN ? PATH_MAX_LEN - 1 : len + n;
}

/* A key twice in one object anywhere under v (path: where v is). Keys sort to meet. */
static int keys_once(const cJSON *v, char *path, size_t len, struct jsonreq_error *err)
{
	const char *small[16], **names = small;
	const cJSON *it;
	size_t n = 0, i;
	int ret = 0;

	cJSON_ArrayForEach(it, v)
		n++;
	if (cJSON_IsObject(v) && n > 1) {
		if (n > sizeof(small) / sizeof(small[0]) && !(names = malloc(n * sizeof(*names))))
			return -ENOMEM;
		i = 0;
		cJSON_ArrayForEach(it, v)
			names[i++] = it->string;
		qsort(names, n, sizeof(*names), cmp_names);
		for (i = 1; i < n && !ret; i++)
			if (!strcmp(names[i - 1], names[i]))
				ret = refuse(err, "invalid_json", "the key '%.64s' appears twice in %s",
					     names[i], len ? path : "the request body");
		if (names != small)
			free(names);
		if (ret)
			return ret;
	}
	i = 0;
	cJSON_ArrayForEach(it, v) {
		if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
			ret = keys_once(it, path, path_push(path, len, it, i), err);
			path[len] = '\0';
			if (ret)
				return ret;
		}
		i++;
	}
	return 0;
}

enum { T_STRING = 1, T_NUMBER = 2, T_BOOL = 4, T_NULL = 8, T_ARRAY = 16, T_OBJECT = 32 };

static unsigned int type_of(const cJSON *v)
{
	if (cJSON_IsString(v))
		return T_STRING;
	if (cJSON_IsNumber(v))
		return T_NUMBER;
	if (cJSON_IsBool(v))
		return T_BOOL;
	if (cJSON_IsNull(v))
		return T_NULL;
	return cJSON_IsArray(v) ? T_ARRAY : T_OBJECT;
}

static const char *type_name(const cJSON *v)
{
	switch (type_of(v)) {
	case T_STRING: return "a string";
	case T_NUMBER: return "a number";
	case T_BOOL: return "a boolean";
	case T_NULL: return "null";
	case T_ARRAY: return "an array";
	default: return "an object";
	}
}

static int want_type(const cJSON *v, unsigned int types, const char *what, const char *name,
		     struct jsonreq_error *err)
{
	if (type_of(v) & types)
		return 0;
	return refuse(err, "invalid_type", "Invalid type for '%s': expected %s, but got %s instead.",
		      name, what, type_name(v));
}

/* The fields we read ourselves (routing, limits, inspection, usage), and what each may be. */
static const struct {
	const char *key;
	unsigned int types;
	const char *what;
} fields[] = {
	{ "model", T_STRING, "a string" },
	{ "user", T_STRING | T_NULL, "a string" },
	{ "stream", T_BOOL | T_NULL, "a boolean" },
	{ "stream_options", T_OBJECT | T_NULL, "an object" },
	{ "messages", T_ARRAY, "an array" },
	{ "instructions", T_STRING | T_ARRAY | T_NULL, "a string or an array" },
	{ "system", T_STRING | T_ARRAY | T_NULL, "a string or an array" },
	{ "prompt", T_STRING | T_ARRAY | T_NULL, "a string or an array" },
	{ "input", T_STRING | T_ARRAY | T_NULL, "a string or an array" },
};

static int check_fields(const cJSON *root, struct jsonreq_error *err)
{
	char name[PATH_MAX_LEN];
	const cJSON *v, *m;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((v = cJSON_GetObjectItemCaseSensitive(root, fields[i].key)) &&
		    (ret = want_type(v, fields[i].types, fields[i].what, fields[i].key, err)))
			return ret;
	for (const char *const *k = jsonreq_max_tokens_keys; *k; k++) {
		double d;

		v = cJSON_GetObjectItemCaseSensitive(root, *k);
		if (!v || cJSON_IsNull(v))
			continue;
		if ((ret = want_type(v, T_NUMBER, "an integer", *k, err)))
			return ret;
		d = v->valuedouble;
		/* in range first: the cast is defined only there */
		if (!(d >= 1 && d <= JSONREQ_MAX_TOKENS) || (double)(uint64_t)d != d) {
			char got[40];

			if (isfinite(d))
				snprintf(got, sizeof(got), "%.15g", d);
			else
				snprintf(got, sizeof(got), "a number past the range of a double");
			return refuse(err, "invalid_value",
				      "Invalid value for '%s': expected an integer from 1 to %llu, but got %s instead.",
				      *k, JSONREQ_MAX_TOKENS, got);
		}
	}
	i = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(root, "messages")) {
		snprintf(name, sizeof(name), "messages[%zu]", i);
		if ((ret = want_type(m, T_OBJECT, "an object", name, err)))
			return ret;
		snprintf(name, sizeof(name), "messages[%zu].content", i);
		if ((v = cJSON_GetObjectItemCaseSensitive(m, "content")) &&
		    (ret = want_type(v, T_STRING | T_ARRAY | T_NULL, "a string or an array", name, err)))
			return ret;
		i++;
	}
	return 0;
}

/* Every string and key zeroed: prompt text does not stay behind in freed memory. */
static void wipe(cJSON *v)
{
	cJSON *it;

	if (cJSON_IsString(v) && v->valuestring)
		explicit_bzero(v->valuestring, strlen(v->valuestring));
	if (v->string)
		explicit_bzero(v->string, strlen(v->string));
	cJSON_ArrayForEach(it, v)
		wipe(it);
}

void jsonreq_delete(cJSON *root)
{
	if (root) {
		wipe(root);
		cJSON_Delete(root);
	}
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

cJSON *jsonreq_parse(const char *body, size_t len, struct jsonreq_error *err)
{
	char path[PATH_MAX_LEN] = "";
	const char *end = NULL;
	cJSON *root;
	int ret;

	if ((ret = scan((const unsigned char *)body, len, err)))
		goto out;
	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!root) {
		ret = refuse(err, "invalid_json", "the request body is not valid JSON");
		goto out;
	}
	while (end < body + len && is_ws(*end))
		end++;
	if (end != body + len)
		ret = refuse(err, "invalid_json", "the request body has data after its JSON value (byte %zu)",
			     (size_t)(end - body));
	else if (!cJSON_IsObject(root))
		ret = refuse(err, "invalid_json", "the request body is not a JSON object");
	else if (!(ret = keys_once(root, path, 0, err)))
		ret = check_fields(root, err);
	if (!ret)
		return root;
	jsonreq_delete(root);
out:
	if (ret == -ENOMEM)
		refuse(err, "api_error", "out of memory");
	errno = -ret;
	return NULL;
}
