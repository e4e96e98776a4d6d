// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A streaming JSON writer in the shape of bpftool's json_writer: the caller
 * opens and closes containers, the writer places commas, line breaks and
 * indentation. Nothing is buffered beyond stdio, so a dump of a million map
 * entries costs no memory. Misuse (a value where a name is due, unbalanced
 * ends) yields invalid JSON, not a crash. Write errors stay in ferror(f).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "jsonw.h"

struct jsonw {
	FILE *f;
	unsigned int depth;
	bool pretty;
	bool first;		/* nothing written yet in the current container */
	bool after_name;	/* a name was written: its value comes next */
};

struct jsonw *jsonw_new(FILE *f, bool pretty)
{
	struct jsonw *jw;

	jw = calloc(1, sizeof(*jw));
	if (!jw)
		return NULL;
	jw->f = f;
	jw->pretty = pretty;
	jw->first = true;
	return jw;
}

void jsonw_destroy(struct jsonw **jw)
{
	if (!jw || !*jw)
		return;
	putc('\n', (*jw)->f);
	fflush((*jw)->f);
	free(*jw);
	*jw = NULL;
}

bool jsonw_empty(const struct jsonw *jw)
{
	return !jw->depth && jw->first;
}

static void jsonw_newline(struct jsonw *jw)
{
	unsigned int i;

	if (!jw->pretty)
		return;
	putc('\n', jw->f);
	for (i = 0; i < jw->depth; i++)
		fputs("  ", jw->f);
}

/*
 * Before a value or a name: the comma and, pretty, the line break it needs.
 * A value right after its name needs neither. Top-level values are one
 * per line, so a stream of documents reads as JSON lines.
 */
static void jsonw_sep(struct jsonw *jw)
{
	if (jw->after_name) {
		jw->after_name = false;
		return;
	}
	if (!jw->first)
		putc(jw->depth ? ',' : '\n', jw->f);
	if (jw->depth)
		jsonw_newline(jw);
	jw->first = false;
}

static void jsonw_quote(struct jsonw *jw, const char *s)
{
	const unsigned char *p;

	putc('"', jw->f);
	for (p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", jw->f);
			break;
		case '\\':
			fputs("\\\\", jw->f);
			break;
		case '\b':
			fputs("\\b", jw->f);
			break;
		case '\f':
			fputs("\\f", jw->f);
			break;
		case '\n':
			fputs("\\n", jw->f);
			break;
		case '\r':
			fputs("\\r", jw->f);
			break;
		case '\t':
			fputs("\\t", jw->f);
			break;
		default:
			if (*p < 0x20)
				fprintf(jw->f, "\\u%04x", *p);
			else
				putc(*p, jw->f);
		}
	}
	putc('"', jw->f);
}

static void jsonw_begin(struct jsonw *jw, int c)
{
	jsonw_sep(jw);
	putc(c, jw->f);
	jw->depth++;
	jw->first = true;
}

static void jsonw_end(struct jsonw *jw, int c)
{
	if (jw->depth)
		jw->depth--;
	if (!jw->first)
		jsonw_newline(jw);
	putc(c, jw->f);
	jw->first = false;
}

void jsonw_start_object(struct jsonw *jw)
{
	jsonw_begin(jw, '{');
}

void jsonw_end_object(struct jsonw *jw)
{
	jsonw_end(jw, '}');
}

void jsonw_start_array(struct jsonw *jw)
{
	jsonw_begin(jw, '[');
}

void jsonw_end_array(struct jsonw *jw)
{
	jsonw_end(jw, ']');
}

void jsonw_name(struct jsonw *jw, const char *name)
{
	jsonw_sep(jw);
	jsonw_quote(jw, name);
	putc(':', jw->f);
	if (jw->pretty)
		putc(' ', jw->f);
	jw->after_name = true;
}

static void jsonw_raw(struct jsonw *jw, const char *s)
{
	jsonw_sep(jw);
	fputs(s, jw->f);
}

/* NULL is written as null, which is what a missing string is in JSON. */
void jsonw_string(struct jsonw *jw, const char *s)
{
	if (!s) {
		jsonw_null(jw);
		return;
	}
	jsonw_sep(jw);
	jsonw_quote(jw, s);
}

void jsonw_uint(struct jsonw *jw, __u64 v)
{
	jsonw_sep(jw);
	fprintf(jw->f, "%llu", (unsigned long long)v);
}

void jsonw_int(struct jsonw *jw, __s64 v)
{
	jsonw_sep(jw);
	fprintf(jw->f, "%lld", (long long)v);
}

/*
 * The shortest of %.15g..%.17g that reads back as the same double: 0.1
 * stays "0.1", not "0.10000000000000001". JSON has no NaN nor infinity,
 * so those are null. Assumes the C locale's '.' (we never set LC_NUMERIC).
 */
void jsonw_float(struct jsonw *jw, double v)
{
	char buf[32];
	int prec;

	if (!isfinite(v)) {
		jsonw_null(jw);
		return;
	}
	for (prec = 15; ; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	jsonw_raw(jw, buf);
}

void jsonw_bool(struct jsonw *jw, bool v)
{
	jsonw_raw(jw, v ? "true" : "false");
}

void jsonw_null(struct jsonw *jw)
{
	jsonw_raw(jw, "null");
}

void jsonw_string_field(struct jsonw *jw, const char *name, const char *s)
{
	jsonw_name(jw, name);
	jsonw_string(jw, s);
}

void jsonw_uint_field(struct jsonw *jw, const char *name, __u64 v)
{
	jsonw_name(jw, name);
	jsonw_uint(jw, v);
}

void jsonw_int_field(struct jsonw *jw, const char *name, __s64 v)
{
	jsonw_name(jw, name);
	jsonw_int(jw, v);
}

void jsonw_float_field(struct jsonw *jw, const char *name, double v)
{
	jsonw_name(jw, name);
	jsonw_float(jw, v);
}

void jsonw_bool_field(struct jsonw *jw, const char *name, bool v)
{
	jsonw_name(jw, name);
	jsonw_bool(jw, v);
}
