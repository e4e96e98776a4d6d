// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl audit: read the audit trail sluiced writes (user/gw/audit.h
 * has the record format).
 *   verify FILE     every record whole, its hash recomputed, linked to the
 *                   one before, seq consecutive
 *   [show] FILTERS  the records that match, as a table or as they are (-j)
 * The file is only read, never locked: sluiced appends whole lines, so a
 * reader sees at most a torn final line, which both commands pass over.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <openssl/sha.h>
#include "ctl.h"
#include "lib/duration.h"

#define AUDIT_DEFAULT_FILE	"/var/log/sluice/audit.jsonl"
#define HASH_HEX		64
#define HASH_KEY		",\"hash\":"
#define SEQ_MAX			9007199254740992.0	/* 2^53: exact in a JSON number */

static const char zeros[HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

static const char *const decisions[] = {
	"allowed", "modified", "blocked", "rerouted", "throttled", "error", NULL,
};

/* One line of the file, without its newline, NUL-terminated. */
struct line {
	char *buf;
	size_t cap;
	size_t len;
	size_t no;		/* 1-based */
	bool terminated;	/* had its newline: only the last line may not */
};

/* 1: a line in l, 0: end of file, -errno. */
static int line_next(FILE *f, struct line *l)
{
	ssize_t n;

	errno = 0;
	n = getline(&l->buf, &l->cap, f);
	if (n == -1)
		return errno ? -errno : 0;
	l->no++;
	l->len = (size_t)n;
	l->terminated = n && l->buf[n - 1] == '\n';
	if (l->terminated)
		l->buf[--l->len] = '\0';
	return 1;
}

/* A JSON object filling the whole line, or NULL (embedded NULs included). */
static cJSON *line_json(const struct line *l)
{
	cJSON *j;

	if (strlen(l->buf) != l->len)
		return NULL;
	j = cJSON_ParseWithOpts(l->buf, NULL, true);
	if (j && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static bool is_hash(const cJSON *j)
{
	const char *s = cJSON_GetStringValue(j);

	if (!s || strlen(s) != HASH_HEX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* seq as the writer writes it: an integer from 1 to 2^53. 0 if not. */
static uint64_t seq_of(const cJSON *rec)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(rec, "seq");
	double v;

	if (!cJSON_IsNumber(j))
		return 0;
	v = j->valuedouble;
	if (v < 1 || v > SEQ_MAX || v != (double)(uint64_t)v)
		return 0;
	return (uint64_t)v;
}

/* The hex SHA-256 of the line's bytes before its last ,"hash": (the format's definition). */
static bool line_hash(const struct line *l, char out[HASH_HEX + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	const char *p = NULL, *q = l->buf;

	while ((q = strstr(q, HASH_KEY)))
		p = q++;
	if (!p)
		return false;
	SHA256((const unsigned char *)l->buf, (size_t)(p - l->buf), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return true;
}

struct verify {
	const char *file;
	size_t records;
	uint64_t first_seq, last_seq;
	char anchor[HASH_HEX + 1];	/* prev of the first record */
	char last_hash[HASH_HEX + 1];
	size_t torn;			/* bytes of a torn final line */
	/* the first broken record */
	size_t err_line;
	uint64_t err_seq;		/* 0: unknown */
	char reason[96];
};

/*
 * Checks one record against the chain so far. NULL, or why it breaks the
 * chain; in that order, so that an edit says "hash mismatch" and a deleted
 * or moved record "does not link" (its seq jumps too, but that is the
 * consequence).
 */
static const char *verify_record(struct verify *v, const struct line *l, const cJSON *rec,
				 uint64_t seq)
{
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(rec, "prev");
	const cJSON *hash = cJSON_GetObjectItemCaseSensitive(rec, "hash");
	char calc[HASH_HEX + 1];

	if (!seq)
		return "missing or bad seq (want an integer from 1)";
	if (!is_hash(prev))
		return "missing or bad prev (want 64 lowercase hex)";
	if (!is_hash(hash))
		return "missing or bad hash (want 64 lowercase hex)";
	if (!line_hash(l, calc) || strcmp(calc, hash->valuestring))
		return "hash mismatch";
	if (v->records && strcmp(prev->valuestring, v->last_hash))
		return "does not link to the previous record (deleted or reordered?)";
	if (v->records && seq != v->last_seq + 1) {
		snprintf(v->reason, sizeof(v->reason), "seq jumps from %llu to %llu",
			 (unsigned long long)v->last_seq, (unsigned long long)seq);
		return v->reason;
	}
	if (!v->records) {
		v->first_seq = seq;
		snprintf(v->anchor, sizeof(v->anchor), "%s", prev->valuestring);
	}
	v->records++;
	v->last_seq = seq;
	snprintf(v->last_hash, sizeof(v->last_hash), "%s", hash->valuestring);
	return NULL;
}

/* Walks the file; 0 when the whole chain holds (v->reason empty), 1 when a record breaks it, -errno. */
static int verify_file(FILE *f, struct verify *v)
{
	struct line l = { 0 };
	const char *why;
	int ret;

	while ((ret = line_next(f, &l)) == 1) {
		cJSON *rec = line_json(&l);
		uint64_t seq = rec ? seq_of(rec) : 0;

		/* A crash mid-write leaves this; sluiced cuts it off when it starts */
		if (!rec && !l.terminated) {
			v->torn = l.len;
			ret = 0;
			break;
		}
		why = rec ? verify_record(v, &l, rec, seq) : "not JSON";
		cJSON_Delete(rec);
		if (why) {
			v->err_line = l.no;
			v->err_seq = seq;
			if (why != v->reason)
				snprintf(v->reason, sizeof(v->reason), "%s", why);
			ret = 1;
			break;
		}
	}
	free(l.buf);
	return ret;
}

/* name: v, or null when 0 (no such value) */
static void uint_or_null(const char *name, __u64 v)
{
	jsonw_name(jw, name);
	if (v)
		jsonw_uint(jw, v);
	else
		jsonw_null(jw);
}

static void str_or_null(const char *name, const char *s)
{
	jsonw_name(jw, name);
	if (s)
		jsonw_string(jw, s);
	else
		jsonw_null(jw);
}

static void verify_print(const struct verify *v)
{
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "file", v->file);
		jsonw_uint_field(jw, "records", v->records);
		jsonw_bool_field(jw, "ok", !v->reason[0]);
		uint_or_null("first_seq", v->records ? v->first_seq : 0);
		uint_or_null("last_seq", v->records ? v->last_seq : 0);
		str_or_null("anchor", v->records ? v->anchor : NULL);
		str_or_null("last_hash", v->records ? v->last_hash : NULL);
		jsonw_name(jw, "error");
		if (v->reason[0]) {
			jsonw_start_object(jw);
			jsonw_uint_field(jw, "line", v->err_line);
			uint_or_null("seq", v->err_seq);
			jsonw_string_field(jw, "reason", v->reason);
			jsonw_end_object(jw);
		} else {
			jsonw_null(jw);
		}
		jsonw_uint_field(jw, "torn_bytes", v->torn);
		jsonw_end_object(jw);
		return;
	}
	if (v->reason[0] && v->err_seq)
		printf("%s: line %zu (seq %llu): %s\n", v->file, v->err_line,
		       (unsigned long long)v->err_seq, v->reason);
	else if (v->reason[0])
		printf("%s: line %zu: %s\n", v->file, v->err_line, v->reason);
	else if (!v->records)
		printf("%s: 0 records ok\n", v->file);
	else
		printf("%s: %zu records ok, seq %llu-%llu%s%.16s\n", v->file, v->records,
		       (unsigned long long)v->first_seq, (unsigned long long)v->last_seq,
		       strcmp(v->anchor, zeros) ? ", anchored at " : "",
		       strcmp(v->anchor, zeros) ? v->anchor : "");
}

static int audit_verify_cmd(int argc, char **argv)
{
	const char *what = "audit verify";
	struct verify v = { 0 };
	FILE *f;
	int ret;

	if (argc < 1)
		return usage_error("%s: missing FILE", what);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	v.file = argv[0];
	f = fopen(v.file, "r");
	if (!f)
		return fail("%s: %s: %s", what, v.file, strerror(errno));
	ret = verify_file(f, &v);
	fclose(f);
	if (ret < 0)
		return fail("%s: %s: %s", what, v.file, strerror(-ret));
	if (v.torn)
		fprintf(stderr, "sluicectl: %s: %s: final line torn (%zu bytes), ignored\n", what,
			v.file, v.torn);
	verify_print(&v);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* Reads exactly n digits at *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

/*
 * RFC 3339 date-time, "2026-12-06T03:50:00.123Z" or with an offset
 * "+01:00", to ms since the epoch. Fractions past ms are dropped.
 */
static int rfc3339_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0, scale = 100, sign = 0;
	struct tm tm = { 0 };
	const char *p = s;
	time_t t;

	/* each test fails before p could pass the NUL */
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return -EINVAL;
	if (*p != 'T' && *p != 't')
		return -EINVAL;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
	    !digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ms = ((int64_t)t - sign * (oh * 3600 + om * 60)) * 1000 + frac;
	return 0;
}

struct filter {
	const char *file;
	bool file_given;		/* file FILE or $SLUICE_AUDIT, not the built-in default */
	const char *session, *origin, *tenant, *decision, *rule;
	bool since_given;
	int64_t since_ms;
	__u32 limit;			/* 0: all */
};

static int arg_since(const char *what, const char *val, int64_t *ms)
{
	const char *why;
	struct timespec now;
	__u64 ns;

	if (!rfc3339_parse(val, ms))
		return 0;
	if (duration_parse(val, &ns, &why))
		return usage_error("%s: since '%s': expected a duration back from now (10m, 2h, 1d) "
				   "or an RFC 3339 time (2026-12-06T03:00:00Z)", what, val);
	clock_gettime(CLOCK_REALTIME, &now);
	*ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (int64_t)(ns / NSEC_PER_MSEC);
	return 0;
}

static int arg_decision(const char *what, const char *val)
{
	for (const char *const *d = decisions; *d; d++)
		if (!strcmp(val, *d))
			return 0;
	return usage_error("%s: decision '%s': expected allowed, modified, blocked, rerouted, "
			   "throttled or error", what, val);
}

static const char *const filter_keys[] = {
	"file", "session", "origin", "tenant", "decision", "rule", "since", "limit", NULL,
};

static bool is_filter_key(const char *s)
{
	for (const char *const *k = filter_keys; *k; k++)
		if (!strcmp(s, *k))
			return true;
	return false;
}

static int filter_parse(const char *what, int argc, char **argv, struct filter *fl)
{
	unsigned int seen = 0;
	const char *env = getenv("SLUICE_AUDIT");
	int ret = 0;

	*fl = (struct filter){ .file = env && *env ? env : AUDIT_DEFAULT_FILE,
			       .file_given = env && *env };
	for (int i = 0; i < argc; i += 2) {
		const char *key = argv[i], *val;
		unsigned int bit;

		if (!is_filter_key(key))
			return usage_error("%s: unexpected argument '%s'", what, key);
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		for (bit = 0; strcmp(filter_keys[bit], key); bit++)
			;
		if (seen & (1u << bit))
			return usage_error("%s: '%s' given twice", what, key);
		seen |= 1u << bit;
		val = argv[i + 1];
		if (!strcmp(key, "file")) {
			fl->file = val;
			fl->file_given = true;
		} else if (!strcmp(key, "session")) {
			fl->session = val;
		} else if (!strcmp(key, "origin")) {
			fl->origin = val;
		} else if (!strcmp(key, "tenant")) {
			fl->tenant = val;
		} else if (!strcmp(key, "decision")) {
			ret = arg_decision(what, val);
			fl->decision = val;
		} else if (!strcmp(key, "rule")) {
			fl->rule = val;
		} else if (!strcmp(key, "since")) {
			ret = arg_since(what, val, &fl->since_ms);
			fl->since_given = true;
		} else {
			ret = arg_u32(what, "limit", val, 1, 100000000, &fl->limit);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static bool str_is(const cJSON *j, const char *s)
{
	const char *v = cJSON_GetStringValue(j);

	return v && !strcmp(v, s);
}

static const cJSON *get(const cJSON *j, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(j, name);
}

/* Every filter given holds for rec. */
static bool filter_match(const struct filter *fl, const cJSON *rec)
{
	const cJSON *origin = get(rec, "origin"), *r;
	int64_t ts;

	if (fl->session && !str_is(get(rec, "session"), fl->session))
		return false;
	if (fl->origin && !str_is(get(origin, "key"), fl->origin) &&
	    !str_is(get(origin, "tenant"), fl->origin) && !str_is(get(origin, "ip"), fl->origin))
		return false;
	if (fl->tenant && !str_is(get(origin, "tenant"), fl->tenant))
		return false;
	if (fl->decision && !str_is(get(rec, "decision"), fl->decision))
		return false;
	if (fl->rule) {
		bool hit = false;

		cJSON_ArrayForEach(r, get(rec, "reasons"))
			hit = hit || str_is(get(r, "rule"), fl->rule);
		if (!hit)
			return false;
	}
	if (fl->since_given) {
		const char *s = cJSON_GetStringValue(get(rec, "ts"));

		if (!s || rfc3339_parse(s, &ts) || ts < fl->since_ms)
			return false;
	}
	return true;
}

/* A record as it is, through the document's writer. */
static void emit_json(const cJSON *j)
{
	const cJSON *c;
	double v;

	if (cJSON_IsObject(j)) {
		jsonw_start_object(jw);
		cJSON_ArrayForEach(c, j) {
			jsonw_name(jw, c->string);
			emit_json(c);
		}
		jsonw_end_object(jw);
	} else if (cJSON_IsArray(j)) {
		jsonw_start_array(jw);
		cJSON_ArrayForEach(c, j)
			emit_json(c);
		jsonw_end_array(jw);
	} else if (cJSON_IsString(j)) {
		jsonw_string(jw, j->valuestring);
	} else if (cJSON_IsNumber(j)) {
		v = j->valuedouble;
		/* cJSON keeps a double: integers print as integers, the rest shortest */
		if (v >= -SEQ_MAX && v <= SEQ_MAX && v == (double)(int64_t)v)
			jsonw_int(jw, (int64_t)v);
		else
			jsonw_float(jw, v);
	} else if (cJSON_IsBool(j)) {
		jsonw_bool(jw, cJSON_IsTrue(j));
	} else {
		jsonw_null(jw);
	}
}

/* Control bytes of s as '?': record values come from clients, and no escape may reach a terminal. */
static char *printable(char *s)
{
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* Text of a string or number field for the table, "-" when absent or empty. */
static const char *cell(const cJSON *j, char *buf, size_t len)
{
	const char *s = cJSON_GetStringValue(j);

	if (cJSON_IsNumber(j)) {
		snprintf(buf, len, "%.0f", j->valuedouble);
		return buf;
	}
	if (!s || !*s)
		return "-";
	snprintf(buf, len, "%s", s);
	return printable(buf);
}

/* "mask-pii(email:2,phone:1),deny-tools": rules, each with its detector counts. */
static const char *reasons_cell(const cJSON *reasons, char *buf, size_t len)
{
	const cJSON *r, *d;
	char name[64];
	size_t off = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(r, reasons) {
		const cJSON *det = get(r, "detectors");
		bool first = true;

		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s", off ? "," : "",
				cell(get(r, "rule"), name, sizeof(name)));
		cJSON_ArrayForEach(d, det) {
			if (!cJSON_IsNumber(d))
				continue;
			off += snprintf(buf + off, off < len ? len - off : 0, "%s%s:%.0f",
					first ? "(" : ",", d->string, d->valuedouble);
			first = false;
		}
		if (!first)
			off += snprintf(buf + off, off < len ? len - off : 0, ")");
	}
	if (off >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf[0] ? printable(buf) : "-";
}

#define ROW_FMT	"%-24s %-20s %-16s %-15s %-10s %-16s %-9s %-6s %s\n"

static void show_row(const cJSON *rec)
{
	char ts[40], id[129], ses[129], org[129], route[65], model[129], dec[16], st[16], rs[512];
	const cJSON *origin = get(rec, "origin");
	const cJSON *who = cJSON_IsString(get(origin, "key")) ? get(origin, "key") : get(origin, "ip");

	if (json_output) {
		emit_json(rec);
		return;
	}
	printf(ROW_FMT, cell(get(rec, "ts"), ts, sizeof(ts)), cell(get(rec, "id"), id, sizeof(id)),
	       cell(get(rec, "session"), ses, sizeof(ses)), cell(who, org, sizeof(org)),
	       cell(get(rec, "route"), route, sizeof(route)), cell(get(rec, "model"), model, sizeof(model)),
	       cell(get(rec, "decision"), dec, sizeof(dec)), cell(get(rec, "status"), st, sizeof(st)),
	       reasons_cell(get(rec, "reasons"), rs, sizeof(rs)));
}

/* The last limit matches, oldest first: a ring that grows up to limit. */
struct ring {
	cJSON **rec;
	size_t cap, n, next;
};

static int ring_push(struct ring *r, cJSON *rec, size_t limit)
{
	if (r->n < limit && r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		cJSON **p;

		if (cap > limit)
			cap = limit;
		p = realloc(r->rec, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->rec = p;
		r->cap = cap;
	}
	if (r->n < limit) {
		r->rec[r->n++] = rec;
		r->next = r->n % limit;
		return 0;
	}
	cJSON_Delete(r->rec[r->next]);
	r->rec[r->next] = rec;
	r->next = (r->next + 1) % limit;
	return 0;
}

static void ring_flush(struct ring *r)
{
	size_t start = r->n == r->cap ? r->next : 0;

	for (size_t i = 0; i < r->n; i++) {
		cJSON *rec = r->rec[(start + i) % r->n];

		show_row(rec);
		cJSON_Delete(rec);
	}
	free(r->rec);
}

static int show_file(const char *what, FILE *f, const struct filter *fl)
{
	struct ring ring = { 0 };
	struct line l = { 0 };
	int ret;

	while ((ret = line_next(f, &l)) == 1) {
		cJSON *rec = line_json(&l);

		if (!rec) {
			/* a torn final line is a write in progress or a crash: not worth a word */
			if (l.terminated)
				fprintf(stderr, "sluicectl: %s: %s: line %zu: not JSON, skipped\n", what,
					fl->file, l.no);
			continue;
		}
		if (!filter_match(fl, rec)) {
			cJSON_Delete(rec);
			continue;
		}
		if (!fl->limit) {
			show_row(rec);
			cJSON_Delete(rec);
		} else if ((ret = ring_push(&ring, rec, fl->limit))) {
			cJSON_Delete(rec);
			break;
		}
	}
	ring_flush(&ring);
	free(l.buf);
	return ret;
}

/*
 * The trail the filter names, for reading, into *f. Where nobody named a
 * file, a missing default is a trail not yet written (sluiced has not
 * started, or audits elsewhere): *f NULL, no records, said on stderr. A
 * file named is one that must be there. EXIT_OK, or the failure's status.
 */
static int trail_open(const char *what, const struct filter *fl, FILE **f)
{
	*f = fopen(fl->file, "r");
	if (!*f && (errno != ENOENT || fl->file_given))
		return fail("%s: %s: %s", what, fl->file, strerror(errno));
	if (!*f)
		fprintf(stderr, "sluicectl: %s: %s: %s (no records; name one with file FILE or "
			"SLUICE_AUDIT)\n", what, fl->file, strerror(ENOENT));
	return EXIT_OK;
}

static int audit_show_cmd(int argc, char **argv)
{
	const char *what = "audit";
	struct filter fl;
	FILE *f;
	int ret;

	if ((ret = filter_parse(what, argc, argv, &fl)))
		return ret;
	if ((ret = trail_open(what, &fl, &f)))
		return ret;
	if (json_output)
		jsonw_start_array(jw);
	else
		printf(ROW_FMT, "TIME", "ID", "SESSION", "ORIGIN", "ROUTE", "MODEL", "DECISION",
		       "STATUS", "REASONS");
	ret = f ? show_file(what, f, &fl) : 0;
	if (json_output)
		jsonw_end_array(jw);
	if (f)
		fclose(f);
	if (ret)
		return fail("%s: %s: %s", what, fl.file, strerror(-ret));
	return EXIT_OK;
}

/* --- tokens: usage summed from the trail ---------------------------------- */

static const char *const by_names[] = { "tenant", "key", "route", "model", "pool", NULL };

struct usage_row {
	char *name;			/* NULL: a free slot */
	__u64 requests, prompt, completion, cached, reasoning, estimated;
};

struct usage_table {
	struct usage_row *rows;
	size_t n, cap;			/* cap a power of two */
};

static __u64 fnv1a(const char *s)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The row of name, made if new; NULL without memory. */
static struct usage_row *usage_row(struct usage_table *t, const char *name)
{
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct usage_table g = { .cap = t->cap ? 2 * t->cap : 64 };

		g.rows = calloc(g.cap, sizeof(*g.rows));
		if (!g.rows)
			return NULL;
		for (i = 0; i < t->cap; i++) {
			size_t j;

			if (!t->rows[i].name)
				continue;
			for (j = fnv1a(t->rows[i].name) & (g.cap - 1); g.rows[j].name; j = (j + 1) & (g.cap - 1))
				;
			g.rows[j] = t->rows[i];
		}
		g.n = t->n;
		free(t->rows);
		*t = g;
	}
	for (i = fnv1a(name) & (t->cap - 1); t->rows[i].name; i = (i + 1) & (t->cap - 1))
		if (!strcmp(t->rows[i].name, name))
			return &t->rows[i];
	t->rows[i].name = strdup(name);
	if (!t->rows[i].name)
		return NULL;
	t->n++;
	return &t->rows[i];
}

static __u64 num(const cJSON *j, const char *name)
{
	const cJSON *v = get(j, name);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (__u64)v->valuedouble : 0;
}

/*
 * A request record's tokens into its row. Only requests a backend answered
 * spent tokens: refused ones (401, 429, blocked) had theirs given back.
 */
static int usage_add(struct usage_table *t, const cJSON *rec, const char *by)
{
	const cJSON *tok = get(rec, "tokens"), *where;
	const char *name;
	struct usage_row *r;

	if (!cJSON_IsObject(tok) || !cJSON_GetStringValue(get(rec, "backend")))
		return 0;
	where = !strcmp(by, "tenant") || !strcmp(by, "key") ? get(rec, "origin") : rec;
	name = cJSON_GetStringValue(get(where, by));
	r = usage_row(t, name ? name : "-");
	if (!r)
		return -ENOMEM;
	r->requests++;
	r->prompt += num(tok, "prompt");
	r->completion += num(tok, "completion");
	r->cached += num(tok, "cached");
	r->reasoning += num(tok, "reasoning");
	r->estimated += cJSON_IsTrue(get(tok, "estimated"));
	return 0;
}

static int usage_cmp(const void *a, const void *b)
{
	const struct usage_row *x = a, *y = b;
	__u64 tx = x->prompt + x->completion, ty = y->prompt + y->completion;

	if (tx != ty)
		return tx < ty ? 1 : -1;
	return strcmp(x->name, y->name);
}

#define USAGE_FMT	"%-24s %9s %12s %12s %12s %12s %9s\n"

static void usage_print(struct usage_table *t, const char *by)
{
	struct usage_row total = { .name = "total" };
	size_t n = 0;

	for (size_t i = 0; i < t->cap; i++)
		if (t->rows[i].name)
			t->rows[n++] = t->rows[i];
	if (n)
		qsort(t->rows, n, sizeof(*t->rows), usage_cmp);
	if (json_output)
		jsonw_start_array(jw);
	else
		printf(USAGE_FMT, by[0] == 'k' ? "KEY" : by[0] == 't' ? "TENANT" : by[0] == 'r' ? "ROUTE" :
		       by[0] == 'm' ? "MODEL" : "POOL", "REQUESTS", "PROMPT", "COMPLETION", "CACHED",
		       "REASONING", "ESTIMATED");
	for (size_t i = 0; i <= n; i++) {
		const struct usage_row *r = i < n ? &t->rows[i] : &total;
		char c[6][24];

		if (i < n) {
			total.requests += r->requests;
			total.prompt += r->prompt;
			total.completion += r->completion;
			total.cached += r->cached;
			total.reasoning += r->reasoning;
			total.estimated += r->estimated;
		}
		if (json_output) {
			if (i == n)
				break;
			jsonw_start_object(jw);
			jsonw_string_field(jw, by, r->name);
			jsonw_uint_field(jw, "requests", r->requests);
			jsonw_uint_field(jw, "prompt", r->prompt);
			jsonw_uint_field(jw, "completion", r->completion);
			jsonw_uint_field(jw, "cached", r->cached);
			jsonw_uint_field(jw, "reasoning", r->reasoning);
			jsonw_uint_field(jw, "estimated", r->estimated);
			jsonw_end_object(jw);
			continue;
		}
		snprintf(c[0], sizeof(c[0]), "%llu", (unsigned long long)r->requests);
		snprintf(c[1], sizeof(c[1]), "%llu", (unsigned long long)r->prompt);
		snprintf(c[2], sizeof(c[2]), "%llu", (unsigned long long)r->completion);
		snprintf(c[3], sizeof(c[3]), "%llu", (unsigned long long)r->cached);
		snprintf(c[4], sizeof(c[4]), "%llu", (unsigned long long)r->reasoning);
		snprintf(c[5], sizeof(c[5]), "%llu", (unsigned long long)r->estimated);
		printf(USAGE_FMT, r->name, c[0], c[1], c[2], c[3], c[4], c[5]);
	}
	if (json_output)
		jsonw_end_array(jw);
	for (size_t i = 0; i < n; i++)
		free(t->rows[i].name);
	free(t->rows);
}

int do_tokens(int argc, char **argv)
{
	const char *what = "tokens", *by = "tenant";
	struct usage_table t = { 0 };
	struct line l = { 0 };
	char *rest[32];
	struct filter fl;
	int nrest = 0, ret;
	bool by_given = false;
	FILE *f;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "by")) {
			const char *const *b;

			if (by_given)
				return usage_error("%s: 'by' given twice", what);
			if (!need_value(argc, argv, i, what))
				return EXIT_USAGE;
			for (b = by_names; *b && strcmp(*b, argv[i + 1]); b++)
				;
			if (!*b)
				return usage_error("%s: by '%s': expected tenant, key, route, model or pool",
						   what, argv[i + 1]);
			by = *b;
			by_given = true;
			i++;
		} else if (!strcmp(argv[i], "limit") || !strcmp(argv[i], "decision") ||
			   !strcmp(argv[i], "rule") || !strcmp(argv[i], "session")) {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		} else if (nrest == (int)(sizeof(rest) / sizeof(rest[0]))) {
			return usage_error("%s: too many arguments", what);
		} else {
			rest[nrest++] = argv[i];
		}
	}
	if ((ret = filter_parse(what, nrest, rest, &fl)))
		return ret;
	if ((ret = trail_open(what, &fl, &f)))
		return ret;
	while (f && (ret = line_next(f, &l)) == 1) {
		cJSON *rec = line_json(&l);

		if (!rec) {
			if (l.terminated)
				fprintf(stderr, "sluicectl: %s: %s: line %zu: not JSON, skipped\n", what,
					fl.file, l.no);
			continue;
		}
		ret = filter_match(&fl, rec) ? usage_add(&t, rec, by) : 0;
		cJSON_Delete(rec);
		if (ret)
			break;
	}
	free(l.buf);
	if (f)
		fclose(f);
	if (ret < 0) {
		for (size_t i = 0; i < t.cap; i++)
			free(t.rows[i].name);
		free(t.rows);
		return fail("%s: %s: %s", what, fl.file, strerror(-ret));
	}
	usage_print(&t, by);
	return EXIT_OK;
}

int do_audit(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", audit_show_cmd },
		{ "verify", audit_verify_cmd },
		{ NULL, NULL },
	};

	/* The filters may come straight after the object: show is the default */
	if (argc < 1 || is_filter_key(argv[0]))
		return audit_show_cmd(argc, argv);
	return dispatch("audit", cmds, argc, argv);
}
