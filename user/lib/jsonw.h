/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A streaming JSON writer (bpftool's json_writer shape): O(1) memory per document. */
#ifndef SLUICE_JSONW_H
#define SLUICE_JSONW_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct jsonw;

/* NULL and errno set on allocation failure. pretty: indented, one value per line. */
struct jsonw *jsonw_new(FILE *f, bool pretty);
/* Ends the document with a newline and frees; *jw becomes NULL. */
void jsonw_destroy(struct jsonw **jw);

/* True until the first value of the document is written. */
bool jsonw_empty(const struct jsonw *jw);

void jsonw_start_object(struct jsonw *jw);
void jsonw_end_object(struct jsonw *jw);
void jsonw_start_array(struct jsonw *jw);
void jsonw_end_array(struct jsonw *jw);
void jsonw_name(struct jsonw *jw, const char *name);

/* Strings are escaped per RFC 8259; bytes >= 0x80 pass as they are, control bytes as \u00XX. */
void jsonw_string(struct jsonw *jw, const char *s);
void jsonw_uint(struct jsonw *jw, __u64 v);
void jsonw_int(struct jsonw *jw, __s64 v);
void jsonw_float(struct jsonw *jw, double v);
void jsonw_bool(struct jsonw *jw, bool v);
void jsonw_null(struct jsonw *jw);

void jsonw_string_field(struct jsonw *jw, const char *name, const char *s);
void jsonw_uint_field(struct jsonw *jw, const char *name, __u64 v);
void jsonw_int_field(struct jsonw *jw, const char *name, __s64 v);
void jsonw_float_field(struct jsonw *jw, const char *name, double v);
void jsonw_bool_field(struct jsonw *jw, const char *name, bool v);

#endif
