// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The state file: limit budgets survive a save, a restart (limit_fini then
 * limit_init) and a load, less the wall-clock time away; ids round-trip
 * escaped; key records reach both readers; every kind of bad file is
 * refused whole, naming the line and the value; saves are atomic and 0600.
 * And limit_walk/limit_adopt underneath, and the keys' last uses (keyuse.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw/limit.h"
#include "gw/state.h"
#include "gw/keyuse.h"

#define NS	1000000000ULL
#define T0	(1000 * NS)	/* the simulated monotonic clock before the "restart" */
#define T1	(7 * NS)	/* and after: a new boot starts it low again */

static char dir[64], path[128], err[512];
static const struct cfg_limits tpm1000 = { .tpm = 1000 };

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-state-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state", dir);
	err[0] = '\0';
	return limit_init();
}

static int teardown(void **state)
{
	(void)state;
	limit_fini();
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void restart(void)
{
	limit_fini();
	assert_int_equal(limit_init(), 0);
}

static uint64_t wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* Spends tokens of (scope, id) at tokens_per_minute 1000; acquire's result. */
static int spend(enum limit_scope scope, const char *id, uint64_t tokens, uint64_t now)
{
	struct limit_ask a = { scope, id, &tpm1000 };
	struct limit_ticket t;
	struct limit_refusal why;
	struct limit_view v;
	int ret = limit_acquire(&t, &a, 1, tokens, now, &v, &why);

	if (!ret)
		limit_release(&t, tokens, now);
	return ret;
}

/* Would tokens pass now? Charges nothing: a pass is given back at once. */
static bool fits(enum limit_scope scope, const char *id, uint64_t tokens, uint64_t now)
{
	struct limit_ask a = { scope, id, &tpm1000 };
	struct limit_ticket t;
	struct limit_refusal why;
	struct limit_view v;

	if (limit_acquire(&t, &a, 1, tokens, now, &v, &why))
		return false;
	limit_release(&t, 0, now);
	return true;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *read_all(void)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A tenant at 1000 tokens a minute spends 800: after a restart only 200 are left. */
static void test_save_load_restores_budget(void **state)
{
	(void)state;
	assert_int_equal(spend(LS_TENANT, "acme", 800, T0), 0);
	assert_true(fits(LS_TENANT, "acme", 200, T0));
	assert_false(fits(LS_TENANT, "acme", 201, T0));
	assert_int_equal(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)), 0);

	restart();
	assert_true(fits(LS_TENANT, "acme", 1000, T1));	/* forgotten without the file */
	restart();
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 1);
	assert_false(fits(LS_TENANT, "acme", 201, T1));
	assert_true(fits(LS_TENANT, "acme", 200, T1));
	assert_false(fits(LS_TENANT, "acme", 1000, T1 + 47 * NS));
	/* 800 tokens at 1000/min owed 48 s: after it, the whole budget again */
	assert_true(fits(LS_TENANT, "acme", 1000, T1 + 48 * NS + NS / 10));
}

/* Saved 30 s ago by the wall clock: half a minute's worth has drained. */
static void test_wall_time_away_drains(void **state)
{
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "sluice-state 1\nwall %" PRIu64 "\n"
		 "bucket tenant drain 0 0 60000000000 0\nend 1\n", (uint64_t)(wall_now() - 30 * NS));
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 1);
	/* the minute was spent whole; 30 s later 500 are back, not more (520 needs 31.2 s) */
	assert_true(fits(LS_TENANT, "drain", 500, T1));
	assert_false(fits(LS_TENANT, "drain", 520, T1));
}

/* Longer away than owed: the bucket is not even made. */
static void test_drained_bucket_is_not_made(void **state)
{
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "sluice-state 1\nwall %" PRIu64 "\n"
		 "bucket route r1 1000000000 0 60000000000 0\nend 1\n",
		 (uint64_t)(wall_now() - 120 * NS));
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 1);
	assert_int_equal(limit_buckets_used(), 0);
}

/* A wall clock that went back (the save is "in the future") counts as no time away. */
static void test_clock_back_counts_as_zero(void **state)
{
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "sluice-state 1\nwall %" PRIu64 "\n"
		 "bucket tenant back 0 0 48000000000 0\nend 1\n", (uint64_t)(wall_now() + 3600 * NS));
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 1);
	assert_true(fits(LS_TENANT, "back", 200, T1));
	assert_false(fits(LS_TENANT, "back", 201, T1));
}

/* Spaces, '%', control bytes and UTF-8 in ids: escaped on disk, the same after. */
static void test_id_escaping_round_trip(void **state)
{
	static const char *const ids[] = {
		"two words", "100%", "naïve-ключ-🔑", "tab\there\x7f", "%41 not A", "a",
	};
	const size_t n = sizeof(ids) / sizeof(ids[0]);
	char *text;

	(void)state;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(spend(LS_KEY, ids[i], 1000, T0), 0);
	assert_int_equal(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	text = read_all();
	assert_non_null(strstr(text, " two%20words "));
	assert_non_null(strstr(text, " 100%25 "));
	assert_non_null(strstr(text, " na%C3%AFve-%D0%BA%D0%BB%D1%8E%D1%87-%F0%9F%94%91 "));
	assert_non_null(strstr(text, " tab%09here%7F "));
	assert_non_null(strstr(text, " %2541%20not%20A "));

	restart();
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), (int)n);
	for (size_t i = 0; i < n; i++) {
		if (fits(LS_KEY, ids[i], 1, T1))
			fail_msg("id '%s' came back with budget: not restored", ids[i]);
		assert_true(fits(LS_KEY, ids[i], 1000, T1 + 60 * NS + NS / 10));
	}
	assert_int_equal(limit_buckets_used(), n);
}

struct seen {
	struct state_keyuse k[8];
	size_t n;
	struct state_escalation e[8];
	size_t ne;
};

static void collect(const struct state_keyuse *ku, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	s->k[s->n++] = *ku;
}

/* Key records reach state_load and state_read_keyuse alike; the second touches no bucket. */
static void test_keys_round_trip_both_readers(void **state)
{
	const struct state_keyuse ku[3] = {
		{ "k-1a2b", 1700000000 }, { "key with space", 0 }, { "ключ", INT64_MAX },
	};
	struct seen a = { 0 }, b = { 0 };

	(void)state;
	assert_int_equal(spend(LS_ADDRESS, "192.0.2.1", 10, T0), 0);
	assert_int_equal(state_save(path, T0, ku, 3, NULL, 0, err, sizeof(err)), 0);
	restart();

	assert_int_equal(state_read_keyuse(path, collect, &b, err, sizeof(err)), 3);
	assert_int_equal(limit_buckets_used(), 0);
	assert_int_equal(state_load(path, T1, collect, NULL, &a, err, sizeof(err)), 4);
	assert_int_equal(limit_buckets_used(), 1);
	assert_int_equal(a.n, 3);
	assert_int_equal(b.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(a.k[i].id, ku[i].id);
		assert_string_equal(b.k[i].id, ku[i].id);
		assert_true(a.k[i].last_used == ku[i].last_used);
		assert_true(b.k[i].last_used == ku[i].last_used);
	}
	/* fn may be NULL */
	restart();
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 4);
	assert_int_equal(state_read_keyuse(path, NULL, NULL, err, sizeof(err)), 3);
}

static void test_bad_key_record_is_not_saved(void **state)
{
	struct state_keyuse ku[1] = { { "", 5 } };

	(void)state;
	assert_int_equal(state_save(path, T0, ku, 1, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key record 0"));
	snprintf(ku[0].id, sizeof(ku[0].id), "ok");
	ku[0].last_used = -1;
	assert_int_equal(state_save(path, T0, ku, 1, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(access(path, F_OK), -1);
}

static void collect_esc(const struct state_escalation *es, void *arg)
{
	struct seen *s = arg;

	assert_true(s->ne < 8);
	s->e[s->ne++] = *es;
}

/* Escalation records: written as given, read back with the time away passed. */
static void test_escalation_round_trip(void **state)
{
	const struct state_escalation es[2] = {
		{ true, "k_1a2b3c4d", 30 * NS, 5 * NS, 60 * NS, 1 },
		{ false, "2001:db8:1::/64", 0, 100 * NS, 10 * NS, 2 },
	};
	struct seen a = { 0 };

	(void)state;
	assert_int_equal(state_save(path, T0, NULL, 0, es, 2, err, sizeof(err)), 0);
	assert_non_null(strstr(read_all(), "sluice-state 2\n"));
	assert_non_null(strstr(read_all(), "\nescalation key k_1a2b3c4d 30000000000 5000000000 "
				      "60000000000 1\nescalation address 2001:db8:1::/64 0 "
				      "100000000000 10000000000 2\nend 2\n"));
	restart();
	assert_int_equal(state_load(path, T1, NULL, collect_esc, &a, err, sizeof(err)), 2);
	assert_int_equal(a.ne, 2);
	assert_true(a.e[0].key && !a.e[1].key);
	assert_string_equal(a.e[0].id, es[0].id);
	assert_string_equal(a.e[1].id, es[1].id);
	/* the test ran in well under a second since the save */
	assert_true(a.e[0].left <= 30 * NS && a.e[0].left > 29 * NS);
	assert_true(a.e[0].since >= 5 * NS && a.e[0].since < 6 * NS);
	assert_true(a.e[1].left == 0 && a.e[1].since >= 100 * NS);
	assert_true(a.e[0].ttl == 60 * NS && a.e[0].level == 1 && a.e[1].level == 2);
	/* the key-use reader takes such a file too */
	assert_int_equal(state_read_keyuse(path, NULL, NULL, err, sizeof(err)), 0);
	/* an escalation record without an id is not written */
	assert_int_equal(state_save(path, T0, NULL, 0, &(struct state_escalation){ .level = 1 }, 1,
				    err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "escalation record 0"));
}

/* Saved 20 s ago: a suspension of 30 s has 10 left, its verdict is 25 s old. */
static void test_escalation_time_away(void **state)
{
	struct seen a = { 0 };
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "sluice-state 2\nwall %" PRIu64 "\n"
		 "escalation key k1 30000000000 5000000000 60000000000 1\n"
		 "escalation address 198.51.100.7/32 10000000000 0 10000000000 1\nend 2\n",
		 (uint64_t)(wall_now() - 20 * NS));
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, collect_esc, &a, err, sizeof(err)), 2);
	assert_int_equal(a.ne, 2);
	assert_true(a.e[0].left <= 10 * NS && a.e[0].left > 9 * NS);
	assert_true(a.e[0].since >= 25 * NS && a.e[0].since < 26 * NS);
	assert_true(a.e[1].left == 0);	/* over while the daemon was away */
}

/* No file: a first start. -ENOENT and err says which file. */
static void test_missing_file_is_enoent(void **state)
{
	(void)state;
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOENT)));
	err[0] = '\0';
	assert_int_equal(state_read_keyuse(path, NULL, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
}

#define HEAD	"sluice-state 1\nwall 1\n"
#define OK_B	"bucket tenant victim 0 0 60000000000 0\n"	/* valid: must not be adopted */
#define OK_K	"key k1 1700000000\n"

static const struct bad_case {
	const char *name, *text, *want;
} bad_cases[] = {
	{ "bad scope", HEAD OK_B OK_B OK_K OK_K "bucket foo x 0 0 1 0\nend 5\n",
	  "line 7: bucket: scope \"foo\": expected key, tenant, address or route" },
	{ "wall not a number", "sluice-state 1\nwall x\n" OK_B "end 1\n",
	  "line 2: wall: expected unix ns, got \"x\"" },
	{ "wall negative", "sluice-state 1\nwall -5\nend 0\n",
	  "line 2: wall: expected unix ns, got \"-5\"" },
	{ "wall missing", "sluice-state 1\n" OK_B "end 1\n",
	  "line 2: expected \"wall\", got \"bucket\"" },
	{ "no end", HEAD OK_B OK_K, "no end record (torn file?)" },
	{ "header only", "sluice-state 1\n", "no end record (torn file?)" },
	{ "empty", "", "empty (torn file?)" },
	{ "end count", HEAD OK_B OK_B OK_B OK_B OK_B OK_B OK_K OK_K OK_K OK_K OK_K "end 12\n",
	  "end says 12 records, file has 11" },
	{ "version 3", "sluice-state 3\nwall 1\nend 0\n", "version 3: expected 1 to 2" },
	{ "version 0", "sluice-state 0\nwall 1\nend 0\n", "version 0: expected 1 to 2" },
	{ "not a state file", "{\"json\": 1}\n", "line 1: expected \"sluice-state 2\"" },
	{ "torn last line", HEAD OK_B "end 1", "line 4: no newline at the end (torn file?)" },
	{ "after end", HEAD "end 0\n" OK_B, "line 4: a record after the end record" },
	{ "unknown record", HEAD OK_B "buckets tenant x 0 0 0 0\nend 1\n",
	  "line 4: unknown record \"buckets\"" },
	{ "sign", HEAD OK_B "bucket key k 0 0 +5 0\nend 2\n",
	  "line 4: bucket: tokens_per_minute left: expected ns, got \"+5\"" },
	{ "minus", HEAD "bucket key k -1 0 0 0\nend 1\n",
	  "line 3: bucket: requests_per_second left: expected ns, got \"-1\"" },
	{ "overflow", HEAD "bucket key k 0 18446744073709551616 0 0\nend 1\n",
	  "line 3: bucket: requests_per_minute left: expected ns, got \"18446744073709551616\"" },
	{ "trailing junk", HEAD "bucket key k 0 0 0 12x\nend 1\n",
	  "line 3: bucket: tokens_per_day left: expected ns, got \"12x\"" },
	{ "few fields", HEAD "bucket key k 0 0 0\nend 1\n",
	  "line 3: bucket: expected scope, id and 4 lefts (7 fields), got 6" },
	{ "double space", HEAD "bucket key  k 0 0 0 0\nend 1\n", "line 3: an empty field" },
	{ "blank line", HEAD "\nend 0\n", "line 3: an empty line" },
	{ "bad escape", HEAD "bucket key a%G1 0 0 1 0\nend 1\n",
	  "line 3: bucket: id \"a%25G1\": '%' without two hex digits" },
	{ "raw tab", HEAD "bucket key a\tb 0 0 1 0\nend 1\n",
	  "line 3: bucket: id \"a%09b\": a byte that should be %-escaped stands raw" },
	{ "escaped NUL", HEAD "bucket key a%00 0 0 1 0\nend 1\n", "line 3: bucket: id" },
	{ "id too long", HEAD "bucket key "
	  "0123456789012345678901234567890123456789012345678901234567890123 0 0 1 0\nend 1\n",
	  "longer than 63 bytes" },
	{ "key last use", HEAD OK_B "key k1 x\nend 2\n",
	  "line 4: key: last use: expected unix seconds, got \"x\"" },
	{ "key last use too big", HEAD "key k1 9223372036854775808\nend 1\n",
	  "line 3: key: last use: expected unix seconds" },
	{ "end not a number", HEAD "end twelve\n", "line 3: end: expected a record count" },
	{ "CRLF", "sluice-state 1\r\nwall 1\r\nend 0\r\n", "line 1: version \"1%0D\": expected 1 to 2" },
	{ "escalation kind", HEAD OK_B "escalation tenant acme 0 0 0 1\nend 2\n",
	  "line 4: escalation: kind \"tenant\": expected key or address" },
	{ "escalation fields", HEAD "escalation key k1 0 0 1\nend 1\n",
	  "line 3: escalation: expected kind, id, left, since, ttl and level (7 fields), got 6" },
	{ "escalation level", HEAD "escalation key k1 0 0 1 4294967296\nend 1\n",
	  "line 3: escalation: level: expected a step count, got \"4294967296\"" },
	{ "escalation left", HEAD "escalation address 198.51.100.7/32 -1 0 1 1\nend 1\n",
	  "line 3: escalation: left: expected ns, got \"-1\"" },
};

/* Every bad file: -EINVAL, err names the line and the value, and no bucket moves. */
static void test_bad_files_change_nothing(void **state)
{
	(void)state;
	assert_int_equal(spend(LS_TENANT, "sentinel", 300, T1), 0);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int ret;

		write_file(c->text);
		err[0] = '\0';
		ret = state_load(path, T1, NULL, NULL, NULL, err, sizeof(err));
		if (ret != -EINVAL)
			fail_msg("%s: state_load %d, want -EINVAL (err '%s')", c->name, ret, err);
		if (!strstr(err, c->want) || strncmp(err, path, strlen(path)))
			fail_msg("%s: err '%s', want '%s: ...%s'", c->name, err, path, c->want);
		err[0] = '\0';
		ret = state_read_keyuse(path, NULL, NULL, err, sizeof(err));
		if (ret != -EINVAL || !strstr(err, c->want))
			fail_msg("%s: state_read_keyuse %d '%s'", c->name, ret, err);
		/* the sentinel as it was, and the valid records before the bad line unused */
		assert_int_equal(limit_buckets_used(), 1);
		assert_true(fits(LS_TENANT, "sentinel", 700, T1));
		assert_false(fits(LS_TENANT, "sentinel", 701, T1));
	}
}

/* A line of 1025 bytes is refused by its number; 1024 is read (and then judged). */
static void test_long_line_refused(void **state)
{
	char text[2200], *p;

	(void)state;
	p = text + sprintf(text, HEAD "bucket key ");
	memset(p, 'x', 1025 - 11);
	sprintf(p + 1025 - 11, "\nend 1\n");
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: longer than 1024 bytes"));

	text[strlen(HEAD) + 1024] = '\n';	/* one byte shorter: the id is what is wrong now */
	text[strlen(HEAD) + 1025] = '\0';
	strcat(text, "end 1\n");
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: bucket: expected scope, id and 4 lefts"));
}

/* The file is 0600 and nothing is left beside it. */
static void test_saved_file_is_private(void **state)
{
	struct dirent *e;
	struct stat st;
	int others = 0;
	DIR *d;

	(void)state;
	assert_int_equal(spend(LS_ROUTE, "chat", 5, T0), 0);
	assert_int_equal(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)), 0);	/* replaces */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "state"))
			others++;
	closedir(d);
	assert_int_equal(others, 0);
	assert_non_null(strstr(read_all(), "\nbucket route chat 0 0 300000000 0\nend 1\n"));
}

/* A temp file of our pid left by a dead process does not block saves forever. */
static void test_stale_temp_file_is_replaced(void **state)
{
	char tmp[192];
	int fd;

	(void)state;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "junk", 4), 4);
	close(fd);
	assert_int_equal(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), 0);
}

/* A directory that is not there: err names the path and the cause. */
static void test_failed_save_names_path(void **state)
{
	char missing[192];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no-such-dir/state", dir);
	assert_int_equal(state_save(missing, T0, NULL, 0, NULL, 0, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

/* The rename fails (the target is a directory): the temp file goes, the target stays. */
static void test_failed_rename_leaves_old(void **state)
{
	struct dirent *e;
	int n = 0;
	DIR *d;

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(spend(LS_TENANT, "t", 5, T0), 0);
	assert_true(state_save(path, T0, NULL, 0, NULL, 0, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "rename"));
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1);		/* only the directory "state" */
}

static void test_adopt_takes_the_larger(void **state)
{
	uint64_t small[LIMIT_RATES] = { 0, 0, 12 * NS, 0 }, big[LIMIT_RATES] = { 0, 0, 48 * NS, 0 };
	uint64_t zero[LIMIT_RATES] = { 0 };
	char longid[LIMIT_ID_MAX + 2];

	(void)state;
	assert_int_equal(limit_adopt(LS_TENANT, "adopt", big, T1), 0);
	assert_int_equal(limit_adopt(LS_TENANT, "adopt", small, T1), 0);	/* never gives back */
	assert_int_equal(limit_adopt(LS_TENANT, "adopt", zero, T1), 0);
	assert_true(fits(LS_TENANT, "adopt", 200, T1));
	assert_false(fits(LS_TENANT, "adopt", 201, T1));
	assert_int_equal(limit_adopt(LS_N, "x", big, T1), -EINVAL);
	assert_int_equal(limit_adopt((enum limit_scope)-1, "x", big, T1), -EINVAL);
	memset(longid, 'a', LIMIT_ID_MAX + 1);
	longid[LIMIT_ID_MAX + 1] = '\0';
	assert_int_equal(limit_adopt(LS_KEY, longid, big, T1), -EINVAL);
	longid[LIMIT_ID_MAX] = '\0';
	assert_int_equal(limit_adopt(LS_KEY, longid, big, T1), 0);
	assert_int_equal(limit_buckets_used(), 2);
}

static int count_live(enum limit_scope scope, const char *id, const uint64_t left[LIMIT_RATES],
		      void *arg)
{
	(void)scope, (void)id, (void)left;
	return ++*(int *)arg == 2 ? 42 : 0;
}

static int sum_left(enum limit_scope scope, const char *id, const uint64_t left[LIMIT_RATES],
		    void *arg)
{
	(void)scope, (void)id;
	*(uint64_t *)arg += left[0] + left[1] + left[2] + left[3];
	return 0;
}

/* The walk skips drained buckets, reports what is left, and stops when fn says so. */
static void test_walk(void **state)
{
	uint64_t left[LIMIT_RATES] = { NS, 2 * NS, 3 * NS, 4 * NS }, sum = 0;
	int n = 0;

	(void)state;
	assert_int_equal(limit_adopt(LS_KEY, "w1", left, T1), 0);
	assert_int_equal(limit_adopt(LS_KEY, "w2", left, T1), 0);
	assert_int_equal(limit_adopt(LS_KEY, "w3", left, T1), 0);
	assert_int_equal(limit_walk(T1, count_live, &n), 42);
	assert_int_equal(n, 2);
	assert_int_equal(limit_walk(T1 + NS, sum_left, &sum), 0);
	assert_true(sum == 3 * (0 + NS + 2 * NS + 3 * NS));
	n = 0;
	assert_int_equal(limit_walk(T1 + 4 * NS, count_live, &n), 0);
	assert_int_equal(n, 0);
}

/* A full table: -ENOSPC from limit_adopt, and state_load says so. */
static void test_adopt_full_table(void **state)
{
	uint64_t left[LIMIT_RATES] = { 0, 0, 0, 60 * NS };
	char id[16], text[256];

	(void)state;
	for (unsigned int i = 0; i < LIMIT_BUCKETS; i++) {
		snprintf(id, sizeof(id), "f%u", i);
		assert_int_equal(limit_adopt(LS_ADDRESS, id, left, T1), 0);
	}
	assert_int_equal(limit_adopt(LS_ADDRESS, "one-more", left, T1), -ENOSPC);
	snprintf(text, sizeof(text), "sluice-state 1\nwall %" PRIu64 "\n"
		 "bucket tenant late 0 0 0 3600000000000\nend 1\n", wall_now());
	write_file(text);
	assert_int_equal(state_load(path, T1, NULL, NULL, NULL, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "bucket tenant late: the bucket table is full"));
}

/* Last uses: collected from a keyfile's entries, put back by id, carried to a reloaded keyfile. */
static void test_keyuse_collect_apply_carry(void **state)
{
	struct keyfile_entry a[3] = { { .id = "k_0000000a" }, { .id = "k_0000000b" },
				      { .id = "k_0000000c" } };
	struct keyfile_entry b[2] = { { .id = "k_0000000c" }, { .id = "k_0000000a" } };
	struct keyfile from = { .keys = a, .nkeys = 3 }, to = { .keys = b, .nkeys = 2 };
	struct state_keyuse *ku;
	size_t n;

	(void)state;
	keyuse_touch(&a[0], 1700000000);
	keyuse_touch(&a[0], 1600000000);	/* an earlier time does not go back */
	keyuse_touch(&a[2], 1700000500);
	assert_int_equal(keyuse_collect(&from, &ku, &n), 0);
	assert_int_equal(n, 2);			/* b was never used: not a record */
	assert_string_equal(ku[0].id, "k_0000000a");
	assert_int_equal(ku[0].last_used, 1700000000);
	free(ku);

	keyuse_touch(&b[1], 1800000000);	/* used under the new config already */
	assert_int_equal(keyuse_carry(&to, &from), 0);
	assert_int_equal(atomic_load(&b[0].last_used), 1700000500);
	assert_int_equal(atomic_load(&b[1].last_used), 1800000000);	/* the later time stays */
	assert_int_equal(keyuse_collect(NULL, &ku, &n), 0);
	assert_int_equal(n, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_save_load_restores_budget),
		T(test_wall_time_away_drains),
		T(test_drained_bucket_is_not_made),
		T(test_clock_back_counts_as_zero),
		T(test_id_escaping_round_trip),
		T(test_keys_round_trip_both_readers),
		T(test_bad_key_record_is_not_saved),
		T(test_escalation_round_trip),
		T(test_escalation_time_away),
		T(test_missing_file_is_enoent),
		T(test_bad_files_change_nothing),
		T(test_long_line_refused),
		T(test_saved_file_is_private),
		T(test_stale_temp_file_is_replaced),
		T(test_failed_save_names_path),
		T(test_failed_rename_leaves_old),
		T(test_adopt_takes_the_larger),
		T(test_walk),
		T(test_adopt_full_table),
		T(test_keyuse_collect_apply_carry),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
