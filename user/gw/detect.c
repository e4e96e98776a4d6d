// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The scanner: Hyperscan databases per config, candidates checked and resolved per piece. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "gw/detect.h"
#include "lib/log.h"

#define PLAIN_MAX	8192	/* a candidate's plain view, for its validator */

bool detect_empty(const struct detect_db *db)
{
	for (int g = 0; g < DETECT_NDB; g++)
		if (db->hs[g])
			return false;
	return true;
}

void detect_free(struct detect_db *db)
{
	for (int g = 0; g < DETECT_NDB; g++)
		hs_free_database(db->hs[g]);
	free(db->set_of);
	memset(db, 0, sizeof(*db));
}

/*
 * The scan's entry point. Debian 12's vectorscan (5.4.9) loses matches in
 * its AVX-512 code: a match in a scan's last 32 bytes, a lone letter's
 * pattern ("x[a-z]+\\.[a-z]+") after an earlier 'x', every email after the
 * second with start of match (test_inspect's planted values find all three
 * in the first hundred texts). Its AVX2 code has none of them, and its fat
 * runtime exports each CPU's entry points: on a CPU with AVX-512 the scan
 * goes through avx2_hs_scan, on databases compiled without AVX-512.
 */
typedef hs_error_t (*scan_fn)(const hs_database_t *db, const char *data, unsigned int len,
			      unsigned int flags, hs_scratch_t *scratch, match_event_handler fn,
			      void *ctx);

static scan_fn scan_entry = hs_scan;
static hs_platform_info_t platform;
static pthread_once_t platform_once = PTHREAD_ONCE_INIT;

static void pick_platform(void)
{
	const unsigned long long avx512 = HS_CPU_FEATURES_AVX512 | HS_CPU_FEATURES_AVX512VBMI;
	void *avx2;

	if (hs_populate_platform(&platform) != HS_SUCCESS || !(platform.cpu_features & avx512))
		return;
	avx2 = dlsym(RTLD_DEFAULT, "avx2_hs_scan");
	if (!avx2) {
		log_warn("inspect: this vectorscan has no AVX2 entry point; its AVX-512 "
			 "scans may miss matches");
		return;
	}
	memcpy(&scan_entry, &avx2, sizeof(scan_entry));
	platform.cpu_features &= ~avx512;
}

/*
 * Compiled databases, serialised, by a digest of what produced them: a
 * reload that keeps a pattern set (the common case) deserialises it in
 * milliseconds instead of compiling it again, which takes seconds for a
 * large set of rich regexes.
 */
#define CACHE_SLOTS	8

static struct cached_db {
	unsigned char key[32];
	char *bytes;
	size_t len;
	unsigned long used;
} db_cache[CACHE_SLOTS];
static unsigned long db_cache_clock;
static pthread_mutex_t db_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void cache_key(const char *const *expr, const unsigned int *flags, const unsigned int *ids,
		      unsigned int n, unsigned char key[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char *v = hs_version();

	memset(key, 0, 32);
	if (!md)
		return;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	EVP_DigestUpdate(md, v, strlen(v) + 1);
	EVP_DigestUpdate(md, &n, sizeof(n));
	for (unsigned int i = 0; i < n; i++) {
		EVP_DigestUpdate(md, expr[i], strlen(expr[i]) + 1);
		EVP_DigestUpdate(md, &flags[i], sizeof(flags[i]));
		EVP_DigestUpdate(md, &ids[i], sizeof(ids[i]));
	}
	EVP_DigestFinal_ex(md, key, NULL);
	EVP_MD_CTX_free(md);
}

/* hs_compile_multi in block mode, through the cache. */
static hs_error_t compile_multi(const char *const *expr, const unsigned int *flags,
				const unsigned int *ids, unsigned int n, hs_database_t **db,
				hs_compile_error_t **ce)
{
	unsigned char key[32];
	struct cached_db *victim = &db_cache[0];
	hs_error_t rc;
	char *bytes;
	size_t len;

	cache_key(expr, flags, ids, n, key);
	pthread_mutex_lock(&db_cache_lock);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cached_db *c = &db_cache[i];

		if (c->bytes && !memcmp(c->key, key, sizeof(key)) &&
		    hs_deserialize_database(c->bytes, c->len, db) == HS_SUCCESS) {
			c->used = ++db_cache_clock;
			pthread_mutex_unlock(&db_cache_lock);
			return HS_SUCCESS;
		}
		if (c->used < victim->used)
			victim = c;
	}
	pthread_mutex_unlock(&db_cache_lock);
	pthread_once(&platform_once, pick_platform);
	rc = hs_compile_multi(expr, flags, ids, n, HS_MODE_BLOCK, &platform, db, ce);
	if (rc != HS_SUCCESS || hs_serialize_database(*db, &bytes, &len) != HS_SUCCESS)
		return rc;
	pthread_mutex_lock(&db_cache_lock);
	free(victim->bytes);
	memcpy(victim->key, key, sizeof(key));
	victim->bytes = bytes;
	victim->len = len;
	victim->used = ++db_cache_clock;
	pthread_mutex_unlock(&db_cache_lock);
	return rc;
}

/* A literal as a regex: ASCII punctuation escaped, folded when the set is caseless. */
static char *literal_regex(const char *lit, bool fold)
{
	struct textnorm tn;
	const char *s = lit;
	size_t n = strlen(lit);
	char *out, *o;

	textnorm_init(&tn);
	if (fold) {
		if (textnorm_fold(&tn, lit, n)) {
			textnorm_free(&tn);
			return NULL;
		}
		s = tn.text;
		n = tn.len;
	}
	out = o = malloc(2 * n + 1);
	for (size_t i = 0; out && i < n; i++) {
		unsigned char ch = s[i];

		if (ch < 0x80 && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				   (ch >= '0' && ch <= '9')))
			*o++ = '\\';
		*o++ = ch;
	}
	if (out)
		*o = '\0';
	textnorm_free(&tn);
	return out;
}

static bool has_utf8(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/*
 * What goes into each database (enum detect_group): the built-in detectors,
 * with start of match for their spans, those marked apart in their own
 * database; the caseless sets on the folded view; the case-sensitive sets
 * on the plain view. User pattern p has id DETECT_SET_ID + p.
 */
static bool in_group(enum detect_group g, unsigned int kind)
{
	return pii_detectors[kind].apart == (g == DETECT_DB_APART);
}

/* err naming user pattern p (its set, where it came from, its text) and why. */
static void pattern_err(const struct detect_db *db, const struct cfg_inspect *in, unsigned int p,
			const char *why, char *err, size_t errlen)
{
	const struct cfg_pattern_set *s = &in->sets[db->set_of[p]];
	size_t first = 0;

	for (size_t i = 0; &in->sets[i] != s; i++)
		first += in->sets[i].npatterns;
	snprintf(err, errlen, "inspect.pattern_sets.%s.%s: '%.80s': %s", s->name,
		 s->origin[p - first], s->patterns[p - first], why);
}

static int compile_group(struct detect_db *db, const struct cfg_inspect *in, enum detect_group g,
			 char *err, size_t errlen)
{
	const bool pii = g == DETECT_DB_PII || g == DETECT_DB_APART;
	const bool caseless = g == DETECT_DB_FOLDED;
	size_t n = 0, npii = 0, id = 0;
	const char **expr = NULL;
	unsigned int *flags = NULL, *ids = NULL;
	char **owned = NULL;
	hs_compile_error_t *ce = NULL;
	int ret = -1;

	for (unsigned int k = 0; pii && k < PII_NKINDS; k++)
		npii += (in->detectors & (1U << k)) && in_group(g, k);
	for (size_t i = 0; !pii && i < in->nsets; i++) {
		if (in->sets[i].caseless == caseless)
			n += in->sets[i].npatterns;
	}
	if (!(n += npii))
		return 0;
	expr = calloc(n, sizeof(*expr));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	owned = calloc(n, sizeof(*owned));
	if (!expr || !flags || !ids || !owned) {
		snprintf(err, errlen, "inspect: out of memory");
		goto out;
	}
	n = 0;
	for (unsigned int k = 0; npii && k < PII_NKINDS; k++) {
		if (!(in->detectors & (1U << k)) || !in_group(g, k))
			continue;
		expr[n] = pii_detectors[k].regex;
		flags[n] = HS_FLAG_SOM_LEFTMOST | pii_detectors[k].hs_flags;
		ids[n++] = k;
	}
	for (size_t i = 0; !pii && i < in->nsets; i++) {
		const struct cfg_pattern_set *s = &in->sets[i];

		for (size_t p = 0; p < s->npatterns; p++, id++) {
			char *x = NULL;

			if (s->caseless != caseless)
				continue;
			if (s->literal && !(x = literal_regex(s->patterns[p], caseless)))
				goto oom;
			if (s->whole_word) {
				char *w;

				if (asprintf(&w, "\\b(?:%s)\\b", x ? x : s->patterns[p]) < 0)
					goto oom;
				free(x);
				x = w;
			}
			owned[n] = x;
			expr[n] = x ? x : s->patterns[p];
			/* UTF-8 mode only where a pattern needs it: it makes '.' and
			 * classes multi-byte, and bounded repeats of them compile slowly */
			flags[n] = HS_FLAG_SINGLEMATCH | (caseless ? HS_FLAG_CASELESS : 0) |
				   (has_utf8(expr[n]) ? HS_FLAG_UTF8 : 0);
			ids[n++] = DETECT_SET_ID + id;
		}
	}
	if (compile_multi(expr, flags, ids, n, &db->hs[g], &ce) != HS_SUCCESS) {
		if (ce && ce->expression >= 0 && pii) {
			snprintf(err, errlen, "inspect.detectors: %s: %s",
				 pii_detectors[ids[ce->expression]].name, ce->message);
		} else if (ce && ce->expression >= 0) {
			pattern_err(db, in, ids[ce->expression] - DETECT_SET_ID, ce->message, err,
				    errlen);
		} else {
			snprintf(err, errlen, "inspect.pattern_sets: %s",
				 ce ? ce->message : "compile failed");
		}
		goto out;
	}
	ret = 0;
	goto out;
oom:
	snprintf(err, errlen, "inspect.pattern_sets: out of memory");
out:
	hs_free_compile_error(ce);
	for (size_t i = 0; owned && i < n; i++)
		free(owned[i]);
	free(owned);
	free(expr);
	free(flags);
	free(ids);
	return ret;
}

int detect_compile(struct detect_db *db, const struct cfg_inspect *in, char *err, size_t errlen)
{
	size_t id = 0;

	memset(db, 0, sizeof(*db));
	if (!in->enabled)
		return 0;
	db->nsets = in->nsets;
	for (size_t i = 0; i < in->nsets; i++)
		db->npatterns += in->sets[i].npatterns;
	if (db->npatterns) {
		db->set_of = calloc(db->npatterns, sizeof(*db->set_of));
		if (!db->set_of) {
			snprintf(err, errlen, "inspect.pattern_sets: out of memory");
			goto fail;
		}
		for (size_t i = 0; i < in->nsets; i++)
			for (size_t p = 0; p < in->sets[i].npatterns; p++)
				db->set_of[id++] = i;
	}
	db->kinds = in->detectors;
	for (int g = 0; g < DETECT_NDB; g++)
		if (compile_group(db, in, g, err, errlen))
			goto fail;
	return 0;
fail:
	detect_free(db);
	return -1;
}

int detect_scan_init(struct detect_scan *s, const struct detect_db *db)
{
	memset(s, 0, sizeof(*s));
	textnorm_init(&s->tn);
	for (int g = 0; g < DETECT_NDB; g++) {
		if (db->hs[g] && hs_alloc_scratch(db->hs[g], &s->scratch) != HS_SUCCESS) {
			detect_scan_fini(s);
			return -ENOMEM;
		}
	}
	return 0;
}

void detect_scan_fini(struct detect_scan *s)
{
	hs_free_scratch(s->scratch);
	textnorm_free(&s->tn);
	if (s->plain)
		explicit_bzero(s->plain, s->plain_cap);
	free(s->plain);
	free(s->cand);
	memset(s, 0, sizeof(*s));
}

void detect_result_free(struct detect_result *r)
{
	free(r->hits);
	memset(r, 0, sizeof(*r));
}

static int on_pii(unsigned int id, unsigned long long from, unsigned long long to,
		  unsigned int flags, void *ctx)
{
	struct detect_scan *s = ctx;

	(void)flags;
	if (s->ncand == s->cand_cap) {
		size_t cap = s->cand_cap ? 2 * s->cand_cap : 64;
		struct detect_cand *c;

		/* past the cap, detections are dropped (and the piece flagged) but
		 * the scan goes on: the same pass matches the user sets */
		if (cap > DETECT_MAX_CANDIDATES || !(c = realloc(s->cand, cap * sizeof(*c)))) {
			s->truncated = true;
			return 0;
		}
		s->cand = c;
		s->cand_cap = cap;
	}
	s->cand[s->ncand++] = (struct detect_cand){ id, (uint32_t)from, (uint32_t)to };
	return 0;
}

struct set_ctx {
	const struct detect_db *db;
	struct detect_scan *s;
	struct detect_result *r;
};

/* Matches of one view: a detector's candidate, or a user pattern's set. */
static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct set_ctx *sc = ctx;
	unsigned int set;

	if (id < DETECT_SET_ID)
		return on_pii(id, from, to, flags, sc->s);
	set = sc->db->set_of[id - DETECT_SET_ID];
	sc->r->sets |= 1ULL << set;
	sc->r->set_patterns[set]++;
	return 0;
}

static void scan(const struct detect_db *db, enum detect_group g, struct set_ctx *sc,
		 const char *v, size_t len)
{
	if (db->hs[g])
		scan_entry(db->hs[g], v, (unsigned int)len, 0, sc->s->scratch, on_match, sc);
}

static int hit_add(struct detect_result *r, uint32_t kind, size_t start, size_t end)
{
	if (r->nhits == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct detect_hit *h = realloc(r->hits, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		r->hits = h;
		r->cap = cap;
	}
	r->hits[r->nhits++] = (struct detect_hit){ .kind = kind, .start = start, .end = end };
	return 0;
}

/* Is the candidate real: boundaries, then the validator on its plain view. */
static bool cand_valid(const struct detect_scan *s, const struct detect_cand *c, const char *text,
		       size_t len, size_t *oa, size_t *ob)
{
	const struct pii_detector *d = &pii_detectors[c->kind];
	char plain[PLAIN_MAX];
	const char *v;
	size_t vlen, from = c->from;

	if (!pii_extend_left(d, s->tn.text, &from) ||
	    !pii_boundary_ok(d, s->tn.text, s->tn.len, from, c->to))
		return false;
	textnorm_span(&s->tn, from, c->to, oa, ob);
	if (c->kind == PII_PEM_PRIVATE_KEY) {
		size_t ext = pii_pem_extent(text, len, *oa);

		*ob = *oa + ext;
		return ext != 0;
	}
	if (!d->valid)
		return true;
	if (s->tn.identity) {
		v = text + *oa;
		vlen = *ob - *oa;
	} else {
		vlen = textnorm_plain(text + *oa, *ob - *oa, plain, sizeof(plain));
		if (vlen >= sizeof(plain))
			return false;
		v = plain;
	}
	return d->valid(v, vlen);
}

static int cmp_hit(const void *a, const void *b)
{
	const struct detect_hit *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end > y->end ? -1 : x->end < y->end;
}

static int cmp_start(const void *a, const void *b)
{
	const struct detect_hit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end > y->end ? -1 : x->end < y->end;
}

/* Of one kind's overlapping hits the one that starts first and reaches furthest stays. */
static void resolve(struct detect_result *r)
{
	size_t n = 0;

	if (!r->nhits)
		return;
	qsort(r->hits, r->nhits, sizeof(*r->hits), cmp_hit);
	for (size_t i = 0; i < r->nhits; i++) {
		if (n && r->hits[n - 1].kind == r->hits[i].kind &&
		    r->hits[i].start < r->hits[n - 1].end)
			continue;
		r->hits[n++] = r->hits[i];
	}
	r->nhits = n;
	qsort(r->hits, r->nhits, sizeof(*r->hits), cmp_start);
	memset(r->counts, 0, sizeof(r->counts));
	for (size_t i = 0; i < n; i++)
		r->counts[r->hits[i].kind]++;
}

static int plain_view(struct detect_scan *s, const char *text, size_t len, const char **v,
		      size_t *vlen)
{
	size_t need;

	if (s->tn.identity) {
		*v = text;
		*vlen = len;
		return 0;
	}
	need = textnorm_plain(text, len, s->plain, s->plain_cap);
	if (need >= s->plain_cap) {
		char *p;

		if (s->plain)
			explicit_bzero(s->plain, s->plain_cap);
		free(s->plain);
		s->plain_cap = 0;
		p = malloc(need + 1);
		if (!(s->plain = p))
			return -ENOMEM;
		s->plain_cap = need + 1;
		textnorm_plain(text, len, s->plain, s->plain_cap);
	}
	*v = s->plain;
	*vlen = need;
	return 0;
}

int detect_piece(const struct detect_db *db, struct detect_scan *s, const char *text,
		 size_t len, struct detect_result *r)
{
	struct set_ctx sc = { db, s, r };
	int err;

	r->nhits = 0;
	r->sets = 0;
	r->truncated = false;
	memset(r->counts, 0, sizeof(r->counts));
	memset(r->set_patterns, 0, sizeof(r->set_patterns));
	if (!len || detect_empty(db))
		return 0;
	if ((err = textnorm_fold(&s->tn, text, len)))
		return err;
	if (db->hs[DETECT_DB_APART] || db->hs[DETECT_DB_PII]) {
		s->ncand = 0;
		s->truncated = false;
		scan(db, DETECT_DB_APART, &sc, s->tn.text, s->tn.len);
		scan(db, DETECT_DB_PII, &sc, s->tn.text, s->tn.len);
		r->truncated = s->truncated;
		for (size_t i = 0; i < s->ncand; i++) {
			size_t oa, ob;

			if (cand_valid(s, &s->cand[i], text, len, &oa, &ob) &&
			    hit_add(r, s->cand[i].kind, oa, ob))
				return -ENOMEM;
		}
		resolve(r);
	}
	scan(db, DETECT_DB_FOLDED, &sc, s->tn.text, s->tn.len);
	if (db->hs[DETECT_DB_PLAIN]) {
		const char *v;
		size_t vlen;

		if ((err = plain_view(s, text, len, &v, &vlen)))
			return err;
		scan(db, DETECT_DB_PLAIN, &sc, v, vlen);
	}
	return 0;
}
