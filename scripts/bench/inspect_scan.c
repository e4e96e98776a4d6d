// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * inspect_scan: the scanner's throughput on one core, and what a whole
 * inspection of a chat request costs.
 *
 *   inspect_scan [-p PATTERNS] [-t SECONDS] [-c CORPUS] [-s SET_FILE]
 *
 * Text: the lines of CORPUS (ordinary prompts) joined and repeated to
 * 1 KiB, 32 KiB and 1 MiB, with an email, a phone number and a card
 * number about every 4 KiB, as prompts carry them. Configurations:
 *   detectors   the 15 built-in detectors alone
 *   +user       the same plus PATTERNS user patterns (two thirds literal
 *               code names matched as whole words, one third regexes)
 *   +user+injection  and the curated injection set SET_FILE
 * For each, MB/s of detect_piece() (normalise, scan, validate) over at
 * least SECONDS per size, and the same for a text that is not ASCII
 * (every 8th word accented), which takes ICU's path.
 * Then inspect_request() on 1 KiB and 32 KiB chat bodies with a masking
 * rule: p50, p99 and mean microseconds over 2000 runs (parse, walk, scan,
 * rules, mask, print again).
 * Output: one line per figure, KEY=VALUE, for scripts/bench/inspect.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gw/config.h"
#include "gw/detect.h"
#include "gw/inspect.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 65536 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				exit(1);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* size bytes of prompt text, PII every ~4 KiB; accent: every 8th word gets an é */
static char *make_text(const char *corpus, size_t clen, size_t size, bool accent)
{
	static const char *const pii[] = {
		" mail jane.doe@example.com ", " call +1 (415) 555-0172 ",
		" card 4111 1111 1111 1111 ",
	};
	char *t = malloc(size + 64);
	size_t n = 0, c = 0, words = 0, next = 4096, k = 0;

	while (n < size) {
		char ch = corpus[c++ % clen];

		/* one line of prompt text that a JSON string can hold as it is */
		if (ch == '\n' || ch == '\t' || ch == '"' || ch == '\\')
			ch = ' ';
		if (ch == ' ' && accent && ++words % 8 == 0 && n + 3 < size) {
			t[n++] = '\xc3';
			t[n++] = '\xa9';
		}
		t[n++] = ch;
		if (n >= next && ch == ' ') {
			const char *p = pii[k++ % 3];
			size_t l = strlen(p);

			if (n + l < size) {
				memcpy(t + n, p, l);
				n += l;
			}
			next += 4096;
		}
	}
	t[size] = '\0';
	/* a multi-byte character cut at the end would be invalid: trim it */
	while (size && ((unsigned char)t[size - 1] & 0xc0) == 0x80)
		t[--size] = '\0';
	if (size && (unsigned char)t[size - 1] >= 0xc0)
		t[--size] = '\0';
	return t;
}

static struct gw_config *load(const char *inspect)
{
	char path[] = "/tmp/sluice-bench-inspect-XXXXXX", err[CFG_ERR_LEN];
	int fd = mkstemp(path);
	struct gw_config *cfg;
	FILE *f;

	if (fd < 0)
		exit(1);
	f = fdopen(fd, "w");
	fprintf(f, "{ \"listeners\": [ { \"name\": \"l\", \"address\": \"127.0.0.1:1\" } ],"
		   "  \"pools\": { \"p\": { \"backends\": [ { \"url\": \"http://127.0.0.1:2\" } ] } },"
		   "  \"routes\": [ { \"name\": \"r\", \"pool\": \"p\" } ], \"inspect\": %s }",
		inspect);
	fclose(f);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg) {
		fprintf(stderr, "inspect_scan: config: %s\n", err);
		exit(1);
	}
	return cfg;
}

static void scan_rate(const char *label, const struct detect_db *db, struct detect_scan *s,
		      const char *text, size_t len, double secs)
{
	struct detect_result r = { 0 };
	unsigned long long bytes = 0, runs = 0, hits = 0;
	double t0 = now_s(), t;

	do {
		if (detect_piece(db, s, text, len, &r)) {
			fprintf(stderr, "inspect_scan: detect_piece failed\n");
			exit(1);
		}
		hits = r.nhits;
		bytes += len;
		runs++;
	} while ((t = now_s() - t0) < secs || runs < 3);
	printf("scan %s bytes=%zu runs=%llu mb_s=%.0f hits=%llu\n", label, len, runs,
	       bytes / t / 1e6, hits);
	detect_result_free(&r);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void inspect_latency(const char *corpus, size_t clen, const char *sets, size_t size)
{
	char inspect[8192];
	struct gw_config *cfg;
	struct detect_db db;
	struct detect_scan s;
	struct inspection in;
	unsigned char key[INSP_HASH_KEY] = { 1 };
	char err[CFG_ERR_LEN], *text = make_text(corpus, clen, size, false), *body;
	EVP_MAC_CTX *mac = insp_mac_new(key);
	double lat[2000], sum = 0;
	size_t blen;

	snprintf(inspect, sizeof(inspect),
		 "{ %s \"rules\": [ { \"name\": \"m\", \"action\": \"mask\", \"match\": "
		 "{ \"detectors\": [ \"email\", \"phone\", \"card\" ] }, \"mask\": "
		 "{ \"style\": \"placeholder\" } } ] }", sets);
	cfg = load(inspect);
	if (detect_compile(&db, &cfg->inspect, err, sizeof(err)) || detect_scan_init(&s, &db)) {
		fprintf(stderr, "inspect_scan: %s\n", err);
		exit(1);
	}
	blen = strlen(text) + 256;
	body = malloc(blen);
	blen = snprintf(body, blen, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\","
			"\"content\":\"You are helpful.\"},{\"role\":\"user\",\"content\":\"%s\"}]}",
			text);
	for (int i = 0; i < 2000; i++) {
		struct insp_ctx ctx = { .cfg = &cfg->inspect, .db = &db, .scan = &s, .key = key,
					.mac = mac, .route = 0, .body_len = blen,
					.hash_prompt = true };
		double t0 = now_s();

		if (inspect_request(&ctx, body, blen, &in)) {
			fprintf(stderr, "inspect_scan: inspect_request: %s\n", in.why);
			exit(1);
		}
		lat[i] = (now_s() - t0) * 1e6;
		sum += lat[i];
		inspection_free(&in);
	}
	qsort(lat, 2000, sizeof(lat[0]), cmp_d);
	printf("inspect body_bytes=%zu p50_us=%.1f p99_us=%.1f mean_us=%.1f\n", blen, lat[1000],
	       lat[1980], sum / 2000);
	EVP_MAC_CTX_free(mac);
	detect_scan_fini(&s);
	detect_free(&db);
	config_free(cfg);
	free(body);
	free(text);
}

int main(int argc, char **argv)
{
	const char *corpus_path = "tests/data/prompts/benign.txt";
	const char *set_path = "etc/patterns/injection.txt";
	static const size_t sizes[] = { 1024, 32 * 1024, 1024 * 1024 };
	unsigned int npat = 1000;
	double secs = 1;
	static const char *const conf_name[] = { "detectors", "+user", "+user+injection" };
	char pat_path[] = "/tmp/sluice-bench-patterns-XXXXXX", inspect[8192], sets[4096];
	char user[4096];
	char err[CFG_ERR_LEN], *corpus;
	size_t clen;
	int opt, fd;
	FILE *f;

	while ((opt = getopt(argc, argv, "p:t:c:s:")) != -1) {
		switch (opt) {
		case 'p':
			npat = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'c':
			corpus_path = optarg;
			break;
		case 's':
			set_path = optarg;
			break;
		default:
			fprintf(stderr, "usage: inspect_scan [-p PATTERNS] [-t SECONDS] [-c CORPUS] "
					"[-s SET_FILE]\n");
			return 2;
		}
	}
	corpus = read_all(corpus_path, &clen);
	if (!corpus || !clen) {
		fprintf(stderr, "inspect_scan: %s: %s\n", corpus_path, strerror(errno ? errno : EIO));
		return 1;
	}
	/* the user patterns: code names as whole words, and regexes */
	fd = mkstemp(pat_path);
	f = fdopen(fd, "w");
	for (unsigned int i = 0; i < npat; i++) {
		if (i % 3 == 2)
			fprintf(f, "ticket\\s+[a-z]{2}-%u\\d{3}\n", i);
		else
			fprintf(f, "codename-%c%c%c-%u\n", 'a' + i % 26, 'a' + i / 26 % 26, 'q', i);
	}
	fclose(f);
	snprintf(user, sizeof(user),
		 "\"pattern_sets\": [ { \"name\": \"user\", \"file\": \"%s\", \"whole_word\": true } ],",
		 pat_path);
	snprintf(sets, sizeof(sets),
		 "\"pattern_sets\": [ { \"name\": \"user\", \"file\": \"%s\", \"whole_word\": true },"
		 " { \"name\": \"injection\", \"file\": \"%s\" } ],", pat_path,
		 set_path[0] == '/' ? set_path : realpath(set_path, NULL));
	printf("corpus=%s bytes=%zu user_patterns=%u\n", corpus_path, clen, npat);
	for (int conf = 0; conf < 3; conf++) {
		struct gw_config *cfg;
		struct detect_db db;
		struct detect_scan s;

		snprintf(inspect, sizeof(inspect), "{ %s \"detectors\": [ \"all\" ] }",
			 conf == 2 ? sets : conf ? user : "");
		cfg = load(inspect);
		if (detect_compile(&db, &cfg->inspect, err, sizeof(err)) ||
		    detect_scan_init(&s, &db)) {
			fprintf(stderr, "inspect_scan: %s\n", err);
			return 1;
		}
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			for (int accent = 0; accent < 2; accent++) {
				char *t = make_text(corpus, clen, sizes[i], accent);
				char label[64];

				snprintf(label, sizeof(label), "config=%s text=%s",
					 conf_name[conf], accent ? "accented" : "ascii");
				scan_rate(label, &db, &s, t, strlen(t), secs);
				free(t);
			}
		}
		detect_scan_fini(&s);
		detect_free(&db);
		config_free(cfg);
	}
	inspect_latency(corpus, clen, sets, 1024);
	inspect_latency(corpus, clen, sets, 32 * 1024);
	unlink(pat_path);
	free(corpus);
	return 0;
}
