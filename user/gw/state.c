// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state file (see state.h for the format). One parser serves the daemon
 * (state_load) and a reader of key records only (state_read_keyuse): it
 * reads the whole file into records and checks it, and only then does the
 * caller use any of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gw/state.h"
#include "lib/number.h"

#define MAGIC		"sluice-state"
#define MAX_FIELDS	8		/* one more than a bucket has: "too many" is seen */
#define SHOW_MAX	48		/* bytes of a bad value quoted in a message */

static const char *const rate_names[LIMIT_RATES] = {
	"requests_per_second", "requests_per_minute", "tokens_per_minute", "tokens_per_day",
};

struct state_bucket {
	enum limit_scope scope;
	char id[LIMIT_ID_MAX + 1];
	uint64_t left[LIMIT_RATES];
};

/* A file as read: every record, checked. */
struct state_file {
	uint64_t wall;
	struct state_bucket *b;
	size_t nb, capb;
	struct state_keyuse *k;
	size_t nk, capk;
	struct state_escalation *e;
	size_t ne, cape;
};

static bool escaped(unsigned char c)
{
	return c <= 0x20 || c == '%' || c >= 0x7f;
}

/* s[0, n) escaped into out (3 * n + 1 bytes hold any s). */
static void escape(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (escaped(c)) {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = (char)c;
		}
	}
	*out = '\0';
}

/* A bad value for a message: escaped (it may hold anything), cut at SHOW_MAX. */
static const char *show(const char *s, char out[3 * SHOW_MAX + 4])
{
	size_t n = strlen(s);

	escape(s, n < SHOW_MAX ? n : SHOW_MAX, out);
	if (n > SHOW_MAX)
		strcat(out, "...");
	return out;
}

/* A number field in [0, max]: plain decimal, as parse_u64() takes it. 0 or -errno. */
static int number(const char *s, uint64_t max, uint64_t *out)
{
	__u64 v;
	int ret;

	if (!(ret = parse_u64(s, 0, max, &v)))
		*out = v;
	return ret;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * An id field unescaped into out (LIMIT_ID_MAX + 1 bytes). NULL, or what is
 * wrong with it: a byte the writer would have escaped stands raw, a '%' is
 * not followed by two hex digits, it decodes to a NUL or is too long.
 */
static const char *unescape(const char *s, char *out)
{
	size_t n = 0;

	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (c == '%') {
			int hi = hex_digit(s[1]), lo = hi < 0 ? -1 : hex_digit(s[2]);

			if (lo < 0)
				return "'%' without two hex digits";
			c = hi << 4 | lo;
			if (!c)
				return "%00 (a NUL byte)";
			s += 2;
		} else if (escaped((unsigned char)c)) {
			return "a byte that should be %-escaped stands raw";
		}
		if (n == LIMIT_ID_MAX)
			return "longer than 63 bytes";
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return NULL;
}

/* "path: line N: ..." into err (no line when line is 0); -EINVAL. */
static int bad(char *err, size_t errlen, const char *path, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = line ? snprintf(err, errlen, "%s: line %u: ", path, line) :
		   snprintf(err, errlen, "%s: ", path);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * The next line of f into buf (STATE_LINE_MAX + 1 bytes), without its '\n'.
 * 1 with a line; 0 at the end of the file; -E2BIG for a line too long,
 * -EILSEQ for a NUL byte, -ENODATA for a last line without '\n' (a torn
 * write), -EIO when reading fails.
 */
static int read_line(FILE *f, char *buf)
{
	size_t n = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (!c)
			return -EILSEQ;
		if (n == STATE_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	if (ferror(f))
		return -EIO;
	if (c == EOF)
		return n ? -ENODATA : 0;
	return 1;
}

/* Splits line at single spaces into field[0, MAX_FIELDS); the count, or -1 for an empty field. */
static int split(char *line, char **field)
{
	int n = 0;

	for (char *p = line;; p++) {
		char *sp = strchr(p, ' ');

		if (sp == p || !*p)
			return -1;
		if (n < MAX_FIELDS)
			field[n] = p;
		n++;
		if (!sp)
			return n;
		*sp = '\0';
		p = sp;
	}
}

/* Grows an array of *cap elements of size to hold one more; 0 or -ENOMEM. */
static int grow(void **a, size_t n, size_t *cap, size_t size)
{
	size_t c = *cap ? 2 * *cap : 64;
	void *p;

	if (n < *cap)
		return 0;
	if (!(p = reallocarray(*a, c, size)))
		return -ENOMEM;
	*a = p;
	*cap = c;
	return 0;
}

static int parse_bucket(char **field, int nf, struct state_bucket *b, const char *path,
			unsigned int line, char *err, size_t errlen)
{
	char v[3 * SHOW_MAX + 4];
	const char *why;
	int s;

	if (nf != 7)
		return bad(err, errlen, path, line,
			   "bucket: expected scope, id and 4 lefts (7 fields), got %d", nf);
	for (s = 0; s < LS_N; s++)
		if (!strcmp(field[1], limit_scope_name(s)))
			break;
	if (s == LS_N)
		return bad(err, errlen, path, line,
			   "bucket: scope \"%s\": expected key, tenant, address or route",
			   show(field[1], v));
	b->scope = s;
	if ((why = unescape(field[2], b->id)))
		return bad(err, errlen, path, line, "bucket: id \"%s\": %s", show(field[2], v), why);
	for (int r = 0; r < LIMIT_RATES; r++)
		if (number(field[3 + r], UINT64_MAX, &b->left[r]))
			return bad(err, errlen, path, line, "bucket: %s left: expected ns, got \"%s\"",
				   rate_names[r], show(field[3 + r], v));
	return 0;
}

static int parse_key(char **field, int nf, struct state_keyuse *k, const char *path,
		     unsigned int line, char *err, size_t errlen)
{
	char v[3 * SHOW_MAX + 4];
	const char *why;
	uint64_t t;

	if (nf != 3)
		return bad(err, errlen, path, line, "key: expected id and last use (3 fields), got %d",
			   nf);
	if ((why = unescape(field[1], k->id)))
		return bad(err, errlen, path, line, "key: id \"%s\": %s", show(field[1], v), why);
	if (number(field[2], INT64_MAX, &t))
		return bad(err, errlen, path, line, "key: last use: expected unix seconds, got \"%s\"",
			   show(field[2], v));
	k->last_used = (int64_t)t;
	return 0;
}

static int parse_escalation(char **field, int nf, struct state_escalation *e, const char *path,
			    unsigned int line, char *err, size_t errlen)
{
	static const char *const what[] = { "left", "since", "ttl", "level" };
	char v[3 * SHOW_MAX + 4];
	const char *why;
	uint64_t n[4];

	if (nf != 7)
		return bad(err, errlen, path, line, "escalation: expected kind, id, left, since, ttl "
			   "and level (7 fields), got %d", nf);
	if (strcmp(field[1], "key") && strcmp(field[1], "address"))
		return bad(err, errlen, path, line, "escalation: kind \"%s\": expected key or address",
			   show(field[1], v));
	e->key = field[1][0] == 'k';
	if ((why = unescape(field[2], e->id)))
		return bad(err, errlen, path, line, "escalation: id \"%s\": %s", show(field[2], v),
			   why);
	for (int i = 0; i < 4; i++)
		if (number(field[3 + i], i == 3 ? UINT32_MAX : UINT64_MAX, &n[i]))
			return bad(err, errlen, path, line, "escalation: %s: expected %s, got \"%s\"",
				   what[i], i == 3 ? "a step count" : "ns", show(field[3 + i], v));
	e->left = n[0];
	e->since = n[1];
	e->ttl = n[2];
	e->level = (uint32_t)n[3];
	return 0;
}

/*
 * Reads and checks the whole of path into sf (buckets kept only when
 * buckets is set; they are checked all the same). 0, or -errno with err
 * set and sf to be freed by the caller all the same.
 */
static int parse(const char *path, bool buckets, struct state_file *sf, char *err, size_t errlen)
{
	char buf[STATE_LINE_MAX + 1], v[3 * SHOW_MAX + 4], *field[MAX_FIELDS];
	unsigned int line = 0;
	size_t nrec = 0;
	bool end = false;
	uint64_t u;
	FILE *f;
	int ret = 0, nf;

	memset(sf, 0, sizeof(*sf));
	if (!(f = fopen(path, "re"))) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	while (!ret && (ret = read_line(f, buf)) == 1) {
		ret = 0;
		line++;
		if (end) {
			ret = bad(err, errlen, path, line, "a record after the end record");
			break;
		}
		if ((nf = split(buf, field)) < 0) {
			ret = bad(err, errlen, path, line, !*buf ? "an empty line" :
				  "an empty field (two spaces, or one at the start or end)");
			break;
		}
		if (line == 1) {
			if (nf != 2 || strcmp(field[0], MAGIC)) {
				ret = bad(err, errlen, path, line, "expected \"" MAGIC " %d\", got \"%s\"",
					  STATE_VERSION, show(field[0], v));
			} else if (number(field[1], UINT64_MAX, &u)) {
				ret = bad(err, errlen, path, line, "version \"%s\": expected 1 to %d",
					  show(field[1], v), STATE_VERSION);
			} else if (u < 1 || u > STATE_VERSION) {
				ret = bad(err, errlen, path, 0, "version %" PRIu64 ": expected 1 to %d", u,
					  STATE_VERSION);
			}
		} else if (line == 2) {
			if (strcmp(field[0], "wall"))
				ret = bad(err, errlen, path, line, "expected \"wall\", got \"%s\"",
					  show(field[0], v));
			else if (nf != 2 || number(field[1], UINT64_MAX, &sf->wall))
				ret = bad(err, errlen, path, line, "wall: expected unix ns, got \"%s\"",
					  nf > 1 ? show(field[1], v) : "");
		} else if (!strcmp(field[0], "bucket") || !strcmp(field[0], "key") ||
			   !strcmp(field[0], "escalation")) {
			bool is_bucket = field[0][0] == 'b';
			struct state_bucket b;

			if (nrec == INT_MAX) {
				ret = bad(err, errlen, path, line, "more than %d records", INT_MAX);
			} else if (field[0][0] == 'e') {
				if (!(ret = grow((void **)&sf->e, sf->ne, &sf->cape, sizeof(*sf->e)))) {
					ret = parse_escalation(field, nf, &sf->e[sf->ne], path, line, err,
							       errlen);
					if (!ret)
						sf->ne++;
				}
			} else if (is_bucket) {
				if (!(ret = parse_bucket(field, nf, &b, path, line, err, errlen)) &&
				    buckets && !(ret = grow((void **)&sf->b, sf->nb, &sf->capb,
							     sizeof(*sf->b))))
					sf->b[sf->nb++] = b;
			} else if (!(ret = grow((void **)&sf->k, sf->nk, &sf->capk, sizeof(*sf->k)))) {
				ret = parse_key(field, nf, &sf->k[sf->nk], path, line, err, errlen);
				if (!ret)
					sf->nk++;
			}
			nrec++;
		} else if (!strcmp(field[0], "end")) {
			if (nf != 2 || number(field[1], UINT64_MAX, &u))
				ret = bad(err, errlen, path, line, "end: expected a record count, got \"%s\"",
					  nf > 1 ? show(field[1], v) : "");
			else if (u != nrec)
				ret = bad(err, errlen, path, 0, "end says %" PRIu64 " records, file has %zu",
					  u, nrec);
			end = true;
		} else {
			ret = bad(err, errlen, path, line,
				  "unknown record \"%s\" (expected bucket, key, escalation or end)",
				  show(field[0], v));
		}
	}
	switch (ret) {
	case 0:
		if (!line)
			ret = bad(err, errlen, path, 0, "empty (torn file?)");
		else if (!end)
			ret = bad(err, errlen, path, 0, "no end record (torn file?)");
		break;
	case -E2BIG:
		ret = bad(err, errlen, path, line + 1, "longer than %d bytes", STATE_LINE_MAX);
		break;
	case -EILSEQ:
		ret = bad(err, errlen, path, line + 1, "a NUL byte");
		break;
	case -ENODATA:
		ret = bad(err, errlen, path, line + 1, "no newline at the end (torn file?)");
		break;
	case -EIO:
		snprintf(err, errlen, "%s: line %u: read: %s", path, line + 1, strerror(EIO));
		break;
	case -ENOMEM:
		snprintf(err, errlen, "%s: out of memory", path);
		break;
	}
	fclose(f);
	return ret;
}

static void state_file_free(struct state_file *sf)
{
	free(sf->b);
	free(sf->k);
	free(sf->e);
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int state_load(const char *path, uint64_t now_mono, state_keyuse_fn fn,
	       state_escalation_fn efn, void *arg, char *err, size_t errlen)
{
	struct state_file sf;
	uint64_t now = wall_ns(), away;
	char id[3 * LIMIT_ID_MAX + 1];
	int ret;

	if ((ret = parse(path, true, &sf, err, errlen)))
		goto out;
	away = now > sf.wall ? now - sf.wall : 0;	/* the clock went back: no time away */
	for (size_t i = 0; i < sf.nb; i++) {
		struct state_bucket *b = &sf.b[i];

		for (int r = 0; r < LIMIT_RATES; r++)
			b->left[r] = b->left[r] > away ? b->left[r] - away : 0;
		if ((ret = limit_adopt(b->scope, b->id, b->left, now_mono))) {
			escape(b->id, strlen(b->id), id);
			snprintf(err, errlen, "%s: bucket %s %s: %s", path, limit_scope_name(b->scope),
				 id, ret == -ENOSPC ? "the bucket table is full" : strerror(-ret));
			goto out;
		}
	}
	for (size_t i = 0; fn && i < sf.nk; i++)
		fn(&sf.k[i], arg);
	for (size_t i = 0; efn && i < sf.ne; i++) {
		struct state_escalation *e = &sf.e[i];

		e->left = e->left > away ? e->left - away : 0;
		e->since = e->since > UINT64_MAX - away ? UINT64_MAX : e->since + away;
		efn(e, arg);
	}
	ret = (int)(sf.nb + sf.nk + sf.ne);
out:
	state_file_free(&sf);
	return ret;
}

int state_read_keyuse(const char *path, state_keyuse_fn fn, void *arg, char *err, size_t errlen)
{
	struct state_file sf;
	int ret;

	if (!(ret = parse(path, false, &sf, err, errlen))) {
		for (size_t i = 0; fn && i < sf.nk; i++)
			fn(&sf.k[i], arg);
		ret = (int)sf.nk;
	}
	state_file_free(&sf);
	return ret;
}

/* Formats the buckets into memory: no file I/O under a stripe's lock. */
struct bucket_text {
	FILE *mem;
	size_t n;
};

static int put_bucket(enum limit_scope scope, const char *id, const uint64_t left[LIMIT_RATES],
		      void *arg)
{
	struct bucket_text *bt = arg;
	char eid[3 * LIMIT_ID_MAX + 1];

	/* an empty id would be an empty field; config names are 1..63 bytes, so none is */
	if (!*id)
		return 0;
	escape(id, strlen(id), eid);
	if (fprintf(bt->mem, "bucket %s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
		    limit_scope_name(scope), eid, left[0], left[1], left[2], left[3]) < 0)
		return -ENOMEM;
	bt->n++;
	return 0;
}

/* Syncs the directory of path, so that the rename outlives a crash. */
static int sync_dir(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	int fd, ret = 0;

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return -errno;
	if (fsync(fd) == -1)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Saves in one process go one at a time. So a temp file of our name that is
 * already there was left by a process that died while saving and had our
 * pid (in a container the daemon's pid is the same at every start): it is
 * removed and made again, once.
 */
static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;

int state_save(const char *path, uint64_t now_mono, const struct state_keyuse *ku, size_t nku,
	       const struct state_escalation *es, size_t nes, char *err, size_t errlen)
{
	struct bucket_text bt = { 0 };
	char tmp[PATH_MAX], dir[PATH_MAX], eid[3 * LIMIT_ID_MAX + 1];
	const char *what = "write";
	char *text = NULL;
	size_t len = 0, idlen;
	FILE *f = NULL;
	int fd, ret;

	for (size_t i = 0; i < nku; i++) {
		idlen = strnlen(ku[i].id, sizeof(ku[i].id));
		if (!idlen || idlen > LIMIT_ID_MAX || ku[i].last_used < 0) {
			snprintf(err, errlen, "%s: key record %zu: expected an id of 1-%d bytes and a "
				 "last use >= 0", path, i, LIMIT_ID_MAX);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < nes; i++) {
		idlen = strnlen(es[i].id, sizeof(es[i].id));
		if (!idlen || idlen > LIMIT_ID_MAX) {
			snprintf(err, errlen, "%s: escalation record %zu: expected an id of 1-%d bytes",
				 path, i, LIMIT_ID_MAX);
			return -EINVAL;
		}
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (!(bt.mem = open_memstream(&text, &len))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	ret = limit_walk(now_mono, put_bucket, &bt);
	if (fclose(bt.mem) || ret) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return -ENOMEM;
	}

	pthread_mutex_lock(&save_lock);
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd == -1 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd == -1) {
		ret = -errno;
		snprintf(err, errlen, "%s: create %s: %s", path, tmp, strerror(-ret));
		goto out_unlock;
	}
	if (!(f = fdopen(fd, "w"))) {
		ret = -errno;
		close(fd);
		goto out_unlink;
	}
	errno = 0;
	fprintf(f, MAGIC " %d\nwall %" PRIu64 "\n", STATE_VERSION, wall_ns());
	fwrite(text, 1, len, f);
	for (size_t i = 0; i < nku; i++) {
		escape(ku[i].id, strnlen(ku[i].id, sizeof(ku[i].id)), eid);
		fprintf(f, "key %s %" PRId64 "\n", eid, ku[i].last_used);
	}
	for (size_t i = 0; i < nes; i++) {
		escape(es[i].id, strnlen(es[i].id, sizeof(es[i].id)), eid);
		fprintf(f, "escalation %s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 "\n",
			es[i].key ? "key" : "address", eid, es[i].left, es[i].since, es[i].ttl,
			es[i].level);
	}
	fprintf(f, "end %zu\n", bt.n + nku + nes);
	if (ferror(f) || fflush(f) == EOF) {
		ret = errno ? -errno : -EIO;
	} else if (fsync(fileno(f)) == -1) {
		ret = -errno;
		what = "fsync";
	}
	if (fclose(f) == EOF && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) == -1) {
		ret = -errno;
		what = "rename";
	}
	if (ret)
		goto out_unlink;
	/* the new file is in place; only its surviving a crash is in doubt */
	if ((ret = sync_dir(path, dir, sizeof(dir))))
		snprintf(err, errlen, "%s: sync directory %s: %s", path, dir, strerror(-ret));
	goto out_unlock;

out_unlink:
	snprintf(err, errlen, "%s: %s %s: %s", path, what, tmp, strerror(-ret));
	unlink(tmp);
out_unlock:
	pthread_mutex_unlock(&save_lock);
	free(text);
	return ret;
}
