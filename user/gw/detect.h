/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The scanner: every pattern of a config compiled once, at load, into
 * Hyperscan databases, and scanned per text piece with a worker's scratch.
 *
 *   apart   the built-in detectors marked apart (lib/pii.h), and
 *   pii     the others, with start of match, on the folded view; each
 *           candidate is checked at its boundaries and by its validator
 *           on the plain view of its original span.
 *   folded  the caseless user sets, on the folded view (one match per
 *           pattern is enough: a set matched or not, and how many of its
 *           patterns did).
 *   plain   the case-sensitive user sets, on the plain view.
 *
 * More databases, not one a view: a pattern that Hyperscan finds by a rare
 * literal ('@' for email) scans alone at tens of GB/s, but beside patterns
 * led by classes ([0-9], \b[a-z]) it holds the whole database to its
 * slowest engine; separate scans cost a call each and keep each fast.
 *
 * Nothing is compiled per request; a scan allocates only when a piece has
 * more hits than the result has room for.
 */
#ifndef SLUICE_GW_DETECT_H
#define SLUICE_GW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hs/hs.h>
#include "gw/config.h"
#include "gw/textnorm.h"
#include "lib/pii.h"

#define DETECT_MAX_SETS		64
#define DETECT_SET_ID		1024	/* Hyperscan id of user pattern 0 */
#define DETECT_MAX_CANDIDATES	65536	/* per piece: detections past it are dropped, flagged */

enum detect_group { DETECT_DB_APART, DETECT_DB_PII, DETECT_DB_FOLDED, DETECT_DB_PLAIN,
		   DETECT_NDB };

struct detect_db {
	hs_database_t *hs[DETECT_NDB];	/* by enum detect_group; NULL when empty */
	uint32_t kinds;			/* built-in detectors compiled */
	size_t nsets;
	unsigned int *set_of;		/* per user pattern id: its set */
	size_t npatterns;
};

/* One validated detection: kind, and its span in the original text. */
struct detect_hit {
	uint16_t kind;
	uint8_t mask;			/* set by the rules: 0 kept, else enum mask_style + 1 */
	uint32_t start, end;		/* original bytes */
};

struct detect_scan {
	hs_scratch_t *scratch;		/* per worker: for every database */
	struct textnorm tn;
	char *plain;			/* plain view of a whole piece (case-sensitive sets) */
	size_t plain_cap;
	/* candidates of the built-in detectors, before checks */
	struct detect_cand { uint32_t kind, from, to; } *cand;
	size_t ncand, cand_cap;
	bool truncated;			/* DETECT_MAX_CANDIDATES hit */
};

/* What one piece holds. */
struct detect_result {
	struct detect_hit *hits;	/* by start; overlaps of one kind resolved */
	size_t nhits, cap;
	uint32_t counts[PII_NKINDS];
	uint64_t sets;			/* bit per set matched */
	uint32_t set_patterns[DETECT_MAX_SETS];	/* patterns of each set that matched */
	bool truncated;
};

/* Compiles in's detectors and sets. 0, or -1 with err naming the pattern. */
int detect_compile(struct detect_db *db, const struct cfg_inspect *in, char *err, size_t errlen);
void detect_free(struct detect_db *db);
bool detect_empty(const struct detect_db *db);

/* A worker's scanning state for db. 0 or -ENOMEM. */
int detect_scan_init(struct detect_scan *s, const struct detect_db *db);
void detect_scan_fini(struct detect_scan *s);

/*
 * Scans text[0, len) (one piece, UTF-8 as the JSON held it) into r, which
 * is reset first. 0, or -ENOMEM.
 */
int detect_piece(const struct detect_db *db, struct detect_scan *s, const char *text,
		 size_t len, struct detect_result *r);
void detect_result_free(struct detect_result *r);

#endif
