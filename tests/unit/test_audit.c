// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * audit: the chain as written, checked here independently (OpenSSL SHA256
 * over the bytes the format names), under concurrent submitters, across
 * close/open, a torn tail, rotation, backpressure, the sync modes, write
 * errors (retried, and a reopen away from them), the eventfd watcher and
 * the file mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "gw/audit.h"

#define ZEROS	"0000000000000000000000000000000000000000000000000000000000000000"
#define THREADS	4
#define PER_THREAD	5000

static char dir[64];

/* Every line the writer logged, for the tests that expect one */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void log_capture(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_capture(int level, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	(void)level;
	pthread_mutex_lock(&log_lock);
	off = strlen(log_text);
	va_start(ap, fmt);
	if (off < sizeof(log_text) - 1)
		vsnprintf(log_text + off, sizeof(log_text) - off - 1, fmt, ap);
	va_end(ap);
	strcat(log_text, "\n");
	pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *s)
{
	bool hit;

	pthread_mutex_lock(&log_lock);
	hit = strstr(log_text, s) != NULL;
	pthread_mutex_unlock(&log_lock);
	return hit;
}

static void log_clear(void)
{
	pthread_mutex_lock(&log_lock);
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

static const char *path_of(const char *name)
{
	static char buf[4][128];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-audit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	audit_set_log(log_capture);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A file's records as this test reads the format: every line whole and linked. */
struct chain {
	char *data;
	char **line;		/* line[i]: record i, NUL-terminated, no newline */
	size_t n;
	uint64_t first_seq, last_seq;
	char first_prev[AUDIT_HASH_HEX + 1], last_hash[AUDIT_HASH_HEX + 1];
};

static void chain_free(struct chain *c)
{
	free(c->line);
	free(c->data);
	memset(c, 0, sizeof(*c));
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *data;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	data = malloc((size_t)n + 1);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

static bool hex64(const char *s)
{
	for (int i = 0; i < AUDIT_HASH_HEX; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

/*
 * Reads path and checks the format line by line: it ends with a newline;
 * each line is {"seq":N,...,"prev":"<64>","hash":"<64>"}, the hash is the
 * SHA-256 of everything before ,"hash":, prev is the hash of the line
 * before, seq counts up by one.
 */
static void chain_read(const char *path, struct chain *c)
{
	static const char hash_key[] = ",\"hash\":\"", prev_key[] = ",\"prev\":\"";
	const size_t hk = sizeof(hash_key) - 1, pk = sizeof(prev_key) - 1;
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t len, cap = 0;
	char *p, *nl;

	memset(c, 0, sizeof(*c));
	c->data = slurp(path, &len);
	if (len && c->data[len - 1] != '\n')
		fail_msg("%s: does not end with a newline", path);
	for (p = c->data; (nl = strchr(p, '\n')); p = nl + 1) {
		size_t l = (size_t)(nl - p), i = c->n + 1;
		char calc[AUDIT_HASH_HEX + 1], *h, *pv, *end;
		uint64_t seq;

		*nl = '\0';
		if (l < 7 + 1 + pk + 2 * AUDIT_HASH_HEX + 1 + hk + 2 || strncmp(p, "{\"seq\":", 7) || strcmp(p + l - 2, "\"}"))
			fail_msg("%s: line %zu: not a record: %s", path, i, p);
		h = p + l - 2 - AUDIT_HASH_HEX - hk;
		pv = h - 1 - AUDIT_HASH_HEX - pk;
		if (strncmp(h, hash_key, hk) || strncmp(pv, prev_key, pk) || h[-1] != '"' ||
		    !hex64(h + hk) || !hex64(pv + pk))
			fail_msg("%s: line %zu: prev/hash not at the end: %s", path, i, p);
		seq = strtoull(p + 7, &end, 10);
		if (*end != ',')
			fail_msg("%s: line %zu: bad seq: %s", path, i, p);
		SHA256((unsigned char *)p, (size_t)(h - p), md);
		for (int k = 0; k < SHA256_DIGEST_LENGTH; k++)
			sprintf(calc + 2 * k, "%02x", md[k]);
		if (strncmp(calc, h + hk, AUDIT_HASH_HEX))
			fail_msg("%s: line %zu: hash does not recompute", path, i);
		if (!c->n) {
			c->first_seq = seq;
			memcpy(c->first_prev, pv + pk, AUDIT_HASH_HEX);
		} else {
			if (seq != c->last_seq + 1)
				fail_msg("%s: line %zu: seq %" PRIu64 " after %" PRIu64, path, i, seq,
					 c->last_seq);
			if (strncmp(pv + pk, c->last_hash, AUDIT_HASH_HEX))
				fail_msg("%s: line %zu: prev is not the hash of line %zu", path, i, i - 1);
		}
		c->last_seq = seq;
		memcpy(c->last_hash, calc, sizeof(calc));
		if (c->n == cap) {
			cap = cap ? cap * 2 : 64;
			c->line = realloc(c->line, cap * sizeof(*c->line));
			assert_non_null(c->line);
		}
		c->line[c->n++] = p;
	}
}

static struct audit *open_ok(const char *path, enum audit_sync sync, uint64_t interval_ns,
			     size_t queue_max)
{
	char err[256] = "";
	struct audit *a = audit_open(path, sync, interval_ns, queue_max, err, sizeof(err));

	if (!a)
		fail_msg("audit_open %s: %s", path, err);
	return a;
}

static uint64_t submit_str(struct audit *a, const char *members)
{
	return audit_submit(a, members, strlen(members));
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls until audit_durable reaches seq; false after ms. */
static bool wait_durable(struct audit *a, uint64_t seq, unsigned int ms)
{
	uint64_t until = mono_ms() + ms;

	while (audit_durable(a) < seq)
		if (mono_ms() > until)
			return false;
		else
			usleep(1000);
	return true;
}

static void test_chain_links_records_and_keeps_members(void **state)
{
	const char *path = path_of("basic.jsonl");
	struct audit_stats st;
	struct chain c;
	struct audit *a;
	char m[64], want[80];

	(void)state;
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	assert_null(audit_error(a));
	assert_int_equal(audit_durable(a), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(m, sizeof(m), "\"i\":%d,\"s\":\"x\\\"y\"", i);
		assert_int_equal(submit_str(a, m), i + 1);
	}
	assert_int_equal(audit_submit(a, "", 0), 101);
	assert_true(wait_durable(a, 101, 5000));
	audit_get_stats(a, &st);
	assert_int_equal(st.written, 101);
	assert_int_equal(st.depth, 0);
	assert_true(st.batches >= 1 && st.batches <= 101);
	assert_true(st.queued_max >= 1);
	audit_close(a);

	chain_read(path, &c);
	assert_int_equal(c.n, 101);
	assert_int_equal(c.first_seq, 1);
	assert_int_equal(c.last_seq, 101);
	assert_string_equal(c.first_prev, ZEROS);
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "{\"seq\":%d,\"i\":%d,\"s\":\"x\\\"y\",\"prev\":\"", i + 1, i);
		if (strncmp(c.line[i], want, strlen(want)))
			fail_msg("line %d: %s, want it to start %s", i + 1, c.line[i], want);
	}
	assert_true(!strncmp(c.line[100], "{\"seq\":101,\"prev\":\"", 19));
	chain_free(&c);
}

static void test_submit_refuses_a_newline_without_using_a_seq(void **state)
{
	const char *path = path_of("newline.jsonl");
	struct audit *a;

	(void)state;
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	errno = 0;
	assert_int_equal(submit_str(a, "\"a\":1,\n\"b\":2"), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(submit_str(a, "\"a\":1"), 1);
	audit_close(a);
}

struct submitter {
	struct audit *a;
	int t, n;
	uint64_t *seq;	/* n */
};

static void *submit_main(void *arg)
{
	struct submitter *s = arg;
	char m[64];

	for (int i = 0; i < s->n; i++) {
		snprintf(m, sizeof(m), "\"t\":%d,\"i\":%d", s->t, i);
		s->seq[i] = submit_str(s->a, m);
	}
	return NULL;
}

/* THREADS x n submits; then every seq 1..total once, and each record says who submitted it. */
static void run_submitters(const char *path, size_t queue_max, int n, size_t *queued_max)
{
	struct submitter s[THREADS];
	pthread_t th[THREADS];
	uint64_t total = (uint64_t)THREADS * (uint64_t)n;
	unsigned char *seen = calloc(total + 1, 1);
	struct audit_stats st;
	struct audit *a;
	struct chain c;
	char want[64];

	assert_non_null(seen);
	a = open_ok(path, AUDIT_SYNC_NONE, 0, queue_max);
	for (int t = 0; t < THREADS; t++) {
		s[t] = (struct submitter){ .a = a, .t = t, .n = n, .seq = calloc((size_t)n, 8) };
		assert_non_null(s[t].seq);
		assert_int_equal(pthread_create(&th[t], NULL, submit_main, &s[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	assert_true(wait_durable(a, total, 10000));
	audit_get_stats(a, &st);
	*queued_max = st.queued_max;
	audit_close(a);

	chain_read(path, &c);
	assert_int_equal(c.n, total);
	assert_int_equal(c.first_seq, 1);
	assert_string_equal(c.first_prev, ZEROS);
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < n; i++) {
			uint64_t q = s[t].seq[i];

			if (!q || q > total || seen[q]++)
				fail_msg("thread %d record %d got seq %" PRIu64 " (0, past %" PRIu64
					 " or twice)", t, i, q, total);
			snprintf(want, sizeof(want), "{\"seq\":%" PRIu64 ",\"t\":%d,\"i\":%d,", q, t, i);
			if (strncmp(c.line[q - 1], want, strlen(want)))
				fail_msg("seq %" PRIu64 " is %.40s, want %s", q, c.line[q - 1], want);
		}
		free(s[t].seq);
	}
	chain_free(&c);
	free(seen);
}

static void test_concurrent_submitters_get_each_seq_once(void **state)
{
	size_t qmax;

	(void)state;
	run_submitters(path_of("threads.jsonl"), 0, PER_THREAD, &qmax);
}

static void test_backpressure_with_tiny_queue_loses_nothing(void **state)
{
	size_t qmax;

	(void)state;
	run_submitters(path_of("tiny.jsonl"), 2, 1000, &qmax);
	if (qmax > 2)
		fail_msg("queue held %zu records, queue_max 2", qmax);
}

static void test_open_continues_the_chain_of_the_file(void **state)
{
	const char *path = path_of("continue.jsonl");
	struct audit *a;
	struct chain c;

	(void)state;
	a = open_ok(path, AUDIT_SYNC_ALWAYS, 0, 0);
	for (int i = 0; i < 10; i++)
		submit_str(a, "\"run\":1");
	audit_close(a);
	a = open_ok(path, AUDIT_SYNC_ALWAYS, 0, 0);
	assert_int_equal(audit_durable(a), 10);
	assert_int_equal(submit_str(a, "\"run\":2"), 11);
	for (int i = 0; i < 9; i++)
		submit_str(a, "\"run\":2");
	audit_close(a);

	chain_read(path, &c);
	assert_int_equal(c.n, 20);
	assert_int_equal(c.last_seq, 20);
	assert_non_null(strstr(c.line[10], "\"run\":2"));
	chain_free(&c);
}

static void test_torn_final_line_is_truncated_and_logged(void **state)
{
	static const char torn[] = "{\"seq\":6,\"ts\":\"20";
	const char *path = path_of("torn.jsonl");
	char want[64];
	struct audit *a;
	struct chain c;
	FILE *f;

	(void)state;
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	for (int i = 0; i < 5; i++)
		submit_str(a, "\"before\":true");
	audit_close(a);
	f = fopen(path, "a");
	assert_non_null(f);
	fputs(torn, f);
	fclose(f);

	log_clear();
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	snprintf(want, sizeof(want), "torn final line (%zu bytes)", sizeof(torn) - 1);
	if (!log_has(want) || !log_has(path))
		fail_msg("log does not say '%s' with the path: %s", want, log_text);
	assert_int_equal(submit_str(a, "\"after\":true"), 6);
	audit_close(a);

	chain_read(path, &c);
	assert_int_equal(c.n, 6);
	assert_non_null(strstr(c.line[5], "\"after\":true"));
	chain_free(&c);
}

static void test_open_refuses_a_tampered_last_record(void **state)
{
	const char *path = path_of("tampered.jsonl");
	char err[256] = "", *data, *p;
	struct audit *a;
	size_t len;
	FILE *f;

	(void)state;
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	submit_str(a, "\"status\":200");
	submit_str(a, "\"status\":200");
	audit_close(a);
	data = slurp(path, &len);
	p = strstr(strchr(data, '\n'), "\"status\":200");
	p[9] = '5';	/* the second record now says 500 */
	f = fopen(path, "w");
	fwrite(data, 1, len, f);
	fclose(f);
	free(data);

	errno = 0;
	a = audit_open(path, AUDIT_SYNC_NONE, 0, 0, err, sizeof(err));
	assert_null(a);
	assert_int_equal(errno, EBADMSG);
	if (!strstr(err, path) || !strstr(err, "hash"))
		fail_msg("error does not name the path and the hash: %s", err);
}

static void test_open_error_names_path_and_strerror(void **state)
{
	const char *path = path_of("no/such/dir.jsonl");
	char err[256] = "";

	(void)state;
	assert_null(audit_open(path, AUDIT_SYNC_NONE, 0, 0, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	if (!strstr(err, path) || !strstr(err, strerror(ENOENT)))
		fail_msg("error does not name the path and the errno: %s", err);
}

static void test_rotation_links_the_new_file_to_the_old(void **state)
{
	const char *path = path_of("rot.jsonl"), *old = path_of("rot.jsonl.1");
	struct chain c1, c2;
	struct audit *a;

	(void)state;
	a = open_ok(path, AUDIT_SYNC_INTERVAL, 0, 0);
	for (int i = 0; i < 5; i++)
		submit_str(a, "\"file\":1");
	assert_true(wait_durable(a, 5, 5000));
	assert_int_equal(rename(path, old), 0);
	audit_reopen(a);
	for (int i = 0; i < 5; i++)
		submit_str(a, "\"file\":2");
	audit_close(a);

	chain_read(old, &c1);
	chain_read(path, &c2);
	assert_int_equal(c1.n, 5);
	assert_int_equal(c2.n, 5);
	assert_int_equal(c2.first_seq, c1.last_seq + 1);
	assert_string_equal(c2.first_prev, c1.last_hash);
	chain_free(&c1);
	chain_free(&c2);
}

/* The same records through each sync mode: the same bytes, durable at the end. */
static void test_sync_modes_write_the_same_chain(void **state)
{
	static const struct {
		enum audit_sync mode;
		const char *name;
	} modes[] = {
		{ AUDIT_SYNC_ALWAYS, "always" },
		{ AUDIT_SYNC_NONE, "none" },
		{ AUDIT_SYNC_INTERVAL, "interval" },
	};
	char *data[3], m[64];
	size_t len[3];

	(void)state;
	for (int k = 0; k < 3; k++) {
		const char *path = path_of(modes[k].name);
		struct audit_stats st;
		struct audit *a;
		uint64_t t0;

		a = open_ok(path, modes[k].mode, 50ULL * 1000000ULL, 0);
		for (int i = 0; i < 300; i++) {
			snprintf(m, sizeof(m), "\"i\":%d", i);
			submit_str(a, m);
		}
		if (!wait_durable(a, 300, 5000))
			fail_msg("%s: durable %" PRIu64 ", want 300", modes[k].name, audit_durable(a));
		t0 = mono_ms();
		audit_get_stats(a, &st);
		if (modes[k].mode == AUDIT_SYNC_ALWAYS && st.fsyncs < st.batches)
			fail_msg("always: %" PRIu64 " fsyncs for %" PRIu64 " batches", st.fsyncs,
				 st.batches);
		if (modes[k].mode == AUDIT_SYNC_NONE && st.fsyncs)
			fail_msg("none: %" PRIu64 " fsyncs", st.fsyncs);
		if (modes[k].mode == AUDIT_SYNC_INTERVAL) {
			/* within the interval of the last write, give or take a scheduler */
			while (audit_get_stats(a, &st), st.fsyncs < 1 && mono_ms() - t0 < 2000)
				usleep(1000);
			if (!st.fsyncs || mono_ms() - t0 > 1000)
				fail_msg("interval: no fsync %" PRIu64 "ms after the write",
					 mono_ms() - t0);
		}
		audit_close(a);
		data[k] = slurp(path, &len[k]);
	}
	for (int k = 1; k < 3; k++)
		if (len[k] != len[0] || memcmp(data[k], data[0], len[0]))
			fail_msg("%s wrote other bytes than %s", modes[k].name, modes[0].name);
	{
		struct chain c;

		chain_read(path_of("always"), &c);
		assert_int_equal(c.n, 300);
		chain_free(&c);
	}
	for (int k = 0; k < 3; k++)
		free(data[k]);
}

static void test_watcher_eventfd_is_signalled(void **state)
{
	struct pollfd pfd;
	struct audit *a;
	uint64_t v = 0;
	int efd;

	(void)state;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd >= 0);
	a = open_ok(path_of("watch.jsonl"), AUDIT_SYNC_ALWAYS, 0, 0);
	assert_int_equal(audit_watch(a, efd), 0);
	assert_int_equal(audit_watch(a, -1), -EINVAL);
	for (int i = 1; i < AUDIT_MAX_WATCHERS; i++)
		assert_int_equal(audit_watch(a, efd), 0);
	assert_int_equal(audit_watch(a, efd), -ENOSPC);
	assert_int_equal(submit_str(a, "\"x\":1"), 1);
	pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
	assert_true(v >= 1);
	assert_int_equal(audit_durable(a), 1);
	audit_close(a);
	close(efd);
}

static void test_file_is_created_0600(void **state)
{
	const char *path = path_of("mode.jsonl");
	struct audit *a;
	struct stat st;
	mode_t old;

	(void)state;
	old = umask(0);
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	audit_close(a);
}

/*
 * A write error (EFBIG past RLIMIT_FSIZE, cutting a line in two, as ENOSPC
 * does) is reported, refuses new records, keeps the accepted ones and is
 * retried: once the limit is lifted they are written after the cut bytes
 * and the file is whole.
 */
static void test_write_error_keeps_records_and_retries(void **state)
{
	const char *path = path_of("efbig.jsonl");
	struct rlimit was, lim;
	uint64_t last = 0, until;
	struct stat st;
	struct audit *a;
	struct chain c;
	size_t accepted = 0;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	a = open_ok(path, AUDIT_SYNC_NONE, 0, 0);
	assert_int_equal(submit_str(a, "\"n\":0"), 1);
	assert_true(wait_durable(a, 1, 5000));
	assert_int_equal(stat(path, &st), 0);
	getrlimit(RLIMIT_FSIZE, &was);
	lim = was;
	lim.rlim_cur = (rlim_t)st.st_size + 40;	/* part of the next line */
	log_clear();
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 1; i <= 3; i++) {
		uint64_t q = submit_str(a, "\"n\":1");

		if (q) {
			last = q;
			accepted++;
		}
	}
	until = mono_ms() + 5000;
	while (!audit_error(a) && mono_ms() < until)
		usleep(1000);
	errno = 0;
	if (!audit_error(a) || submit_str(a, "\"n\":2") || errno != EIO) {
		setrlimit(RLIMIT_FSIZE, &was);
		fail_msg("no error reported, or a record accepted while failing (errno %d)", errno);
	}
	usleep(250 * 1000);	/* a few retries, still failing */
	assert_true(audit_durable(a) < last);
	setrlimit(RLIMIT_FSIZE, &was);
	assert_non_null(strstr(audit_error(a) ? audit_error(a) : path, path));
	if (!log_has(strerror(EFBIG)))
		fail_msg("log does not give the errno: %s", log_text);
	assert_true(wait_durable(a, last, 5000));
	until = mono_ms() + 1000;
	while (audit_error(a) && mono_ms() < until)
		usleep(1000);
	assert_null(audit_error(a));
	assert_int_equal(submit_str(a, "\"n\":3"), last + 1);
	audit_close(a);

	chain_read(path, &c);
	assert_int_equal(c.n, 1 + accepted + 1);
	chain_free(&c);
}

/* A write failing at once (ENOSPC from /dev/full) and a reopen onto a good file: nothing lost. */
static void test_reopen_while_failing_writes_the_kept_records(void **state)
{
	const char *path = path_of("full.jsonl"), *good = path_of("full-good.jsonl");
	uint64_t until, last = 0;
	struct audit *a;
	struct chain c;

	(void)state;
	assert_int_equal(symlink("/dev/full", path), 0);
	a = open_ok(path, AUDIT_SYNC_ALWAYS, 0, 0);
	for (int i = 0; i < 3; i++) {
		uint64_t q = submit_str(a, "\"n\":1");

		last = q ? q : last;
	}
	assert_true(last >= 1);
	until = mono_ms() + 5000;
	while (!audit_error(a) && mono_ms() < until)
		usleep(1000);
	assert_non_null(audit_error(a));
	assert_non_null(strstr(audit_error(a), strerror(ENOSPC)));
	assert_int_equal(audit_durable(a), 0);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(good, path), 0);
	audit_reopen(a);
	assert_true(wait_durable(a, last, 5000));
	until = mono_ms() + 1000;
	while (audit_error(a) && mono_ms() < until)
		usleep(1000);
	assert_null(audit_error(a));
	audit_close(a);

	chain_read(good, &c);
	assert_int_equal(c.n, last);
	assert_int_equal(c.first_seq, 1);
	assert_string_equal(c.first_prev, ZEROS);
	chain_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_links_records_and_keeps_members),
		cmocka_unit_test(test_submit_refuses_a_newline_without_using_a_seq),
		cmocka_unit_test(test_concurrent_submitters_get_each_seq_once),
		cmocka_unit_test(test_backpressure_with_tiny_queue_loses_nothing),
		cmocka_unit_test(test_open_continues_the_chain_of_the_file),
		cmocka_unit_test(test_torn_final_line_is_truncated_and_logged),
		cmocka_unit_test(test_open_refuses_a_tampered_last_record),
		cmocka_unit_test(test_open_error_names_path_and_strerror),
		cmocka_unit_test(test_rotation_links_the_new_file_to_the_old),
		cmocka_unit_test(test_sync_modes_write_the_same_chain),
		cmocka_unit_test(test_watcher_eventfd_is_signalled),
		cmocka_unit_test(test_file_is_created_0600),
		cmocka_unit_test(test_write_error_keeps_records_and_retries),
		cmocka_unit_test(test_reopen_while_failing_writes_the_kept_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
