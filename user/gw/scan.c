// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced --scan: a config's detectors and pattern sets run over a file of
 * texts, one a line, to see what they flag before a policy goes live
 * (false positives on ordinary prompts, misses on a corpus of attacks).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw/gw.h"
#include "lib/jsonw.h"
#include "gw/scan.h"

/* \n, \t and \\ decoded in place, so one line can hold a multi-line text. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && strchr("nt\\", s[i + 1])) {
			i++;
			s[o++] = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : '\\';
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* Counts by set and by detector: of one text's matches, or of texts over the file. */
struct tally {
	size_t texts, flagged;
	size_t sets[DETECT_MAX_SETS];
	size_t kinds[PII_NKINDS];
};

/*
 * One text's line ("12: injection(2) email(1)"), or with line 0 the
 * summary; with json, one JSON document a line.
 */
static void print_tally(FILE *out, const struct gw_config *cfg, size_t line,
			const struct tally *t, bool json)
{
	const struct cfg_inspect *in = &cfg->inspect;
	struct jsonw *jw;

	if (!json) {
		if (line) {
			fprintf(out, "%zu:", line);
			for (size_t i = 0; i < in->nsets; i++)
				if (t->sets[i])
					fprintf(out, " %s(%zu)", in->sets[i].name, t->sets[i]);
			for (unsigned int k = 0; k < PII_NKINDS; k++)
				if (t->kinds[k])
					fprintf(out, " %s(%zu)", pii_detectors[k].name, t->kinds[k]);
			fputc('\n', out);
			return;
		}
		fprintf(out, "# %zu texts, %zu flagged (%.2f%%)\n", t->texts, t->flagged,
			t->texts ? 100.0 * t->flagged / t->texts : 0.0);
		for (size_t i = 0; i < in->nsets; i++)
			fprintf(out, "#   set %-20s %zu\n", in->sets[i].name, t->sets[i]);
		for (unsigned int k = 0; k < PII_NKINDS; k++)
			if (in->detectors & (1U << k))
				fprintf(out, "#   detector %-15s %zu\n", pii_detectors[k].name,
					t->kinds[k]);
		return;
	}
	if (!(jw = jsonw_new(out, false)))
		return;
	jsonw_start_object(jw);
	if (line) {
		jsonw_uint_field(jw, "line", line);
	} else {
		jsonw_uint_field(jw, "texts", t->texts);
		jsonw_uint_field(jw, "flagged", t->flagged);
	}
	jsonw_name(jw, "sets");
	jsonw_start_object(jw);
	for (size_t i = 0; i < in->nsets; i++)
		if (t->sets[i] || !line)
			jsonw_uint_field(jw, in->sets[i].name, t->sets[i]);
	jsonw_end_object(jw);
	jsonw_name(jw, "detectors");
	jsonw_start_object(jw);
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		if (t->kinds[k] || (!line && (in->detectors & (1U << k))))
			jsonw_uint_field(jw, pii_detectors[k].name, t->kinds[k]);
	jsonw_end_object(jw);
	jsonw_end_object(jw);
	jsonw_destroy(&jw);
}

int scan_texts(const struct runtime *rt, const char *path, bool json)
{
	const struct gw_config *cfg = rt->cfg;
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct detect_result r = { 0 };
	struct detect_scan s;
	struct tally t = { 0 }, one;
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int err = 0;

	if (!in) {
		fprintf(stderr, "sluiced: --scan %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!cfg->inspect.enabled || detect_empty(&rt->detect)) {
		fprintf(stderr, "sluiced: --scan: the config inspects nothing (inspect.enabled, "
				"inspect.detectors, inspect.pattern_sets)\n");
		if (in != stdin)
			fclose(in);
		return 2;
	}
	if (detect_scan_init(&s, &rt->detect)) {
		fprintf(stderr, "sluiced: --scan: out of memory\n");
		if (in != stdin)
			fclose(in);
		return 1;
	}
	while (!err && (n = getline(&line, &cap, in)) >= 0) {
		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (!n || line[0] == '#')
			continue;
		n = unescape(line, n);
		if ((err = detect_piece(&rt->detect, &s, line, n, &r))) {
			fprintf(stderr, "sluiced: --scan %s:%zu: %s\n", path, lineno, strerror(-err));
			break;
		}
		t.texts++;
		if (!r.sets && !r.nhits)
			continue;
		memset(&one, 0, sizeof(one));
		for (size_t i = 0; i < cfg->inspect.nsets; i++) {
			one.sets[i] = r.sets & (1ULL << i) ? r.set_patterns[i] : 0;
			t.sets[i] += !!one.sets[i];
		}
		for (unsigned int k = 0; k < PII_NKINDS; k++) {
			one.kinds[k] = r.counts[k];
			t.kinds[k] += !!r.counts[k];
		}
		t.flagged++;
		print_tally(stdout, cfg, lineno, &one, json);
	}
	if (!err && ferror(in)) {
		fprintf(stderr, "sluiced: --scan %s: %s\n", path, strerror(errno));
		err = -EIO;
	}
	if (!err)
		print_tally(stdout, cfg, 0, &t, json);
	if (line)
		explicit_bzero(line, cap);
	free(line);
	detect_result_free(&r);
	detect_scan_fini(&s);
	if (in != stdin)
		fclose(in);
	return err ? 1 : 0;
}
