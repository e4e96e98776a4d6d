// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpe_count: token counts of texts, and the counter's speed on one core.
 *
 *   bpe_count -e o200k_base|cl100k_base -r RANKSFILE [-t|-q] FILE
 *
 * FILE holds one JSON string per line (tests/data/tokens/corpus.jsonl).
 * Prints the number of tokens of each, one per line, in order; with -q
 * each line is instead a request body (chat, completions, embeddings,
 * Responses, Anthropic messages) and the count is its prompt's, as sluiced
 * counts it before forwarding (user/gw/tokens.h); with -t
 * instead one line with the throughput of bpe__count() over all the
 * texts, in MB/s of UTF-8 (10^6 bytes), repeated for at least 2 s.
 * Exit 0, 1 on a bad file or rank table, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "gw/tokens.h"
#include "lib/bpe.h"
#include "lib/log.h"

struct texts {
	char **s;
	size_t *len;
	size_t n, cap, bytes;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: bpe_count -e o200k_base|cl100k_base -r RANKSFILE [-t|-q] FILE\n");
	exit(2);
}

/*
 * Each line of path a JSON string (cJSON ends a string at an escaped NUL),
 * or with requests a JSON object, kept as its text.
 */
static int read_texts(const char *path, struct texts *t, bool requests)
{
	char *line = NULL;
	size_t lcap = 0, ln = 0;
	ssize_t r;
	cJSON *j;
	FILE *f;

	f = fopen(path, "r");
	if (!f) {
		log_err("%s: %s", path, strerror(errno));
		return -1;
	}
	while ((r = getline(&line, &lcap, f)) != -1) {
		ln++;
		j = cJSON_ParseWithLength(line, (size_t)r);
		if (requests ? !cJSON_IsObject(j) : !cJSON_IsString(j)) {
			log_err("%s:%zu: not a JSON %s", path, ln, requests ? "object" : "string");
			cJSON_Delete(j);
			free(line);
			fclose(f);
			return -1;
		}
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 1024;
			t->s = realloc(t->s, t->cap * sizeof(*t->s));
			t->len = realloc(t->len, t->cap * sizeof(*t->len));
			if (!t->s || !t->len) {
				log_err("%s", strerror(ENOMEM));
				exit(1);
			}
		}
		t->s[t->n] = strdup(requests ? line : j->valuestring);
		t->len[t->n] = strlen(t->s[t->n]);
		t->bytes += t->len[t->n++];
		cJSON_Delete(j);
	}
	free(line);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	const char *ranks = NULL, *enc_name = NULL;
	struct texts t = { 0 };
	enum bpe_encoding enc;
	size_t i, rounds = 0, sink = 0, c;
	bool rate = false, requests = false;
	struct bpe *b;
	double t0, dt;
	int opt;

	log_setup("bpe_count", LOG_WARN);
	while ((opt = getopt(argc, argv, "e:r:tq")) != -1) {
		switch (opt) {
		case 'e':
			enc_name = optarg;
			break;
		case 'r':
			ranks = optarg;
			break;
		case 't':
			rate = true;
			break;
		case 'q':
			requests = true;
			break;
		default:
			usage();
		}
	}
	if (!enc_name || !ranks || optind + 1 != argc || (rate && requests))
		usage();
	if (bpe_encoding_parse(enc_name, &enc)) {
		log_err("-e '%s': unknown encoding (o200k_base, cl100k_base)", enc_name);
		return 2;
	}
	b = bpe__load(ranks, enc);
	if (!b)
		return 1;
	if (read_texts(argv[optind], &t, requests))
		return 1;
	if (requests) {
		for (i = 0; i < t.n; i++) {
			cJSON *j = cJSON_Parse(t.s[i]);

			printf("%llu\n", (unsigned long long)tokens_prompt(b, j));
			cJSON_Delete(j);
		}
	} else if (!rate) {
		for (i = 0; i < t.n; i++) {
			c = bpe__count(b, t.s[i], t.len[i]);
			if (c == SIZE_MAX) {
				log_err("%s: line %zu: %s", argv[optind], i + 1, strerror(errno));
				return 1;
			}
			printf("%zu\n", c);
		}
	} else {
		if (!t.bytes) {
			log_err("%s: no text to time", argv[optind]);
			return 1;
		}
		t0 = now_s();
		do {
			for (i = 0; i < t.n; i++)
				sink += bpe__count(b, t.s[i], t.len[i]);
			rounds++;
		} while ((dt = now_s() - t0) < 2.0);
		printf("%s: %.1f MB/s (%zu bytes in %zu texts x %zu rounds in %.2f s, %.1f tokens/KB)\n",
		       enc_name, t.bytes * rounds / dt / 1e6, t.bytes, t.n, rounds, dt,
		       sink * 1000.0 / ((double)t.bytes * rounds));
	}
	for (i = 0; i < t.n; i++)
		free(t.s[i]);
	free(t.s);
	free(t.len);
	bpe__free(b);
	return 0;
}
