// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Token counts for o200k_base and cl100k_base: the rank table and its
 * loader, the two pretokenizers, and the byte-pair merge.
 *
 * The pretokenizers are the regexes of js-tiktoken 1.0.21 (dist/ranks/NAME.js,
 * pat_str), matched as a backtracking JavaScript engine with the u flag
 * does: alternatives in order, the first that matches wins, and inside
 * one the first success in backtracking order, not the longest. Every
 * code point starts some alternative, so pieces cover the text with no
 * gap. o200k_base:
 *
 *   1  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+C?
 *   2  [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*C?
 *   3  \p{N}{1,3}
 *   4   ?[^\s\p{L}\p{N}]+[\r\n/]*
 *   5  \s*[\r\n]+
 *   6  \s+(?!\S)
 *   7  \s+
 *
 * and cl100k_base:
 *
 *   1  C
 *   2  [^\r\n\p{L}\p{N}]?\p{L}+
 *   3-7 as above, but 4 is  ?[^\s\p{L}\p{N}]+[\r\n]*
 *
 * where C is 's|'t|'re|'ve|'m|'ll|'d in any ASCII case, with the ASCII
 * apostrophe only (js-tiktoken spells each case out; it has no (?i)).
 * \s is JavaScript's: U+0009-000D, the space separators (Zs), U+2028,
 * U+2029 and U+FEFF; not U+0085.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unicode/uchar.h>

#include "bpe.h"
#include "log.h"

#define BPE_MAX_TOKEN	1024		/* longest token a table may hold (the real ones: 128) */
#define BPE_MAX_FILE	(256u << 20)	/* a rank table larger than this is not one */
#define NO_RANK		UINT32_MAX

/* What the pretokenizer asks of a code point: a bit per class. */
enum {
	CL_L	= 1 << 0,	/* \p{L} */
	CL_U	= 1 << 1,	/* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] */
	CL_W	= 1 << 2,	/* [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
	CL_N	= 1 << 3,	/* \p{N} */
	CL_S	= 1 << 4,	/* \s */
	CL_NL	= 1 << 5,	/* \r or \n */
};
/* None of the classes: an invalid byte, like punctuation. */
#define CL_NONE		0
/* [^\r\n\p{L}\p{N}], what may come before a word */
#define IS_LEAD(c)	(!((c) & (CL_L | CL_N | CL_NL)))
/* [^\s\p{L}\p{N}], punctuation and symbols */
#define IS_PUNCT(c)	(!((c) & (CL_L | CL_N | CL_S)))

/* One token of the hash table; len 0: an empty slot. */
struct bpe_slot {
	uint32_t tag;		/* high half of the hash */
	uint32_t rank;
	uint32_t off;		/* into bpe.bytes */
	uint32_t len;
};

struct bpe {
	enum bpe_encoding enc;
	uint32_t ntokens;
	uint32_t max_len;		/* longest token, in bytes */
	uint32_t mask;			/* slots - 1, slots a power of two */
	struct bpe_slot *slots;
	uint8_t *bytes;			/* every token's bytes, one after another */
	uint32_t byte_rank[256];	/* the rank of each single byte */
	uint8_t bmp[0x10000];		/* CL_* of each code point below U+10000 */
};

static const char *const encoding_names[] = {
	[BPE_CL100K] = "cl100k_base",
	[BPE_O200K] = "o200k_base",
};

int bpe_encoding_parse(const char *name, enum bpe_encoding *out)
{
	size_t i;

	for (i = 0; i < sizeof(encoding_names) / sizeof(encoding_names[0]); i++) {
		if (!strcmp(name, encoding_names[i])) {
			*out = (enum bpe_encoding)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *bpe_encoding_name(enum bpe_encoding enc)
{
	return enc == BPE_O200K ? encoding_names[BPE_O200K] : encoding_names[BPE_CL100K];
}

enum bpe_encoding bpe__encoding(const struct bpe *b)
{
	return b->enc;
}

/* Code points */

static uint8_t classify(UChar32 c)
{
	uint32_t gc = U_GET_GC_MASK(c);
	uint8_t k = CL_NONE;

	if (gc & U_GC_L_MASK)
		k |= CL_L;
	if (gc & (U_GC_LU_MASK | U_GC_LT_MASK | U_GC_LM_MASK | U_GC_LO_MASK | U_GC_M_MASK))
		k |= CL_U;
	if (gc & (U_GC_LL_MASK | U_GC_LM_MASK | U_GC_LO_MASK | U_GC_M_MASK))
		k |= CL_W;
	if (gc & U_GC_N_MASK)
		k |= CL_N;
	/* ECMAScript WhiteSpace and LineTerminator; ICU's own white space has U+0085 and lacks U+FEFF */
	if ((c >= 0x09 && c <= 0x0d) || (gc & U_GC_ZS_MASK) || c == 0x2028 || c == 0x2029 ||
	    c == 0xfeff)
		k |= CL_S;
	if (c == '\r' || c == '\n')
		k |= CL_NL;
	return k;
}

struct text {
	const uint8_t *s;
	size_t n;
	const uint8_t *bmp;
};

/*
 * The class of the character at i < t->n, its length into *len. Strict
 * UTF-8: a byte that does not start a complete, shortest, non-surrogate
 * sequence up to U+10FFFF is one character of class CL_NONE.
 */
static inline unsigned char_at(const struct text *t, size_t i, size_t *len)
{
	const uint8_t *s = t->s + i;
	size_t left = t->n - i;
	uint32_t c = s[0];

	if (c < 0x80) {
		*len = 1;
		return t->bmp[c];
	}
	*len = 1;
	if (c < 0xc2 || c > 0xf4)
		return CL_NONE;
	if (c < 0xe0) {
		if (left < 2 || (s[1] & 0xc0) != 0x80)
			return CL_NONE;
		*len = 2;
		return t->bmp[(c & 0x1f) << 6 | (s[1] & 0x3f)];
	}
	if (c < 0xf0) {
		if (left < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return CL_NONE;
		*len = 3;
		return t->bmp[(c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f)];
	}
	if (left < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return CL_NONE;
	*len = 4;
	return classify((UChar32)((c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 |
				  (s[3] & 0x3f)));
}

/* The end of the run of characters with any of the classes want, from i. */
static inline size_t run(const struct text *t, size_t i, unsigned want)
{
	size_t l;

	while (i < t->n && (char_at(t, i, &l) & want))
		i += l;
	return i;
}

/* Pretokenizers: each returns the end of the piece that starts at i < t->n. */

/* C? at e: the end of a contraction there, else e. */
static inline size_t contraction(const struct text *t, size_t e)
{
	const uint8_t *s = t->s;
	unsigned a, b;

	if (e + 1 >= t->n || s[e] != '\'')
		return e;
	/* | 0x20 lowers an ASCII letter, and only 'x' and 'X' become 'x' */
	a = s[e + 1] | 0x20;
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return e + 2;
	if (e + 2 >= t->n)
		return e;
	b = s[e + 2] | 0x20;
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return e + 3;
	return e;
}

/* \p{N}{1,3} at i (a number there): its end. */
static inline size_t digits(const struct text *t, size_t i)
{
	size_t k, l;

	for (k = 0; k < 3 && i < t->n && (char_at(t, i, &l) & CL_N); k++)
		i += l;
	return i;
}

/*
 * " ?[^\s\p{L}\p{N}]+[\r\n]*" at i, with slash "[\r\n/]*" at the end: its
 * end, or 0 when it does not match.
 */
static inline size_t punct(const struct text *t, size_t i, unsigned c0, bool slash)
{
	size_t j = i, l;

	if (!IS_PUNCT(c0)) {
		if (t->s[i] != ' ' || i + 1 >= t->n || !IS_PUNCT(char_at(t, i + 1, &l)))
			return 0;
		j = i + 1;
	}
	while (j < t->n && IS_PUNCT(char_at(t, j, &l)))
		j += l;
	while (j < t->n && (t->s[j] == '\r' || t->s[j] == '\n' || (slash && t->s[j] == '/')))
		j++;
	return j;
}

/*
 * "\s*[\r\n]+|\s+(?!\S)|\s+" at i (white space there). The first: up to
 * the last CR or LF of the run. The second gives the run back to a
 * backtracking engine one character at a time until no \S follows: the
 * whole run at the end of the text, else all but its last character (so
 * that the last one goes with the next word), if that leaves any. The
 * third: the whole run, a single character before a non-space.
 */
static inline size_t spaces(const struct text *t, size_t i)
{
	size_t j = i, l, last = i, nl = 0;
	unsigned c;

	while (j < t->n) {
		c = char_at(t, j, &l);
		if (!(c & CL_S))
			break;
		last = j;
		j += l;
		if (c & CL_NL)
			nl = j;
	}
	if (nl)
		return nl;
	if (j == t->n)
		return j;
	return last > i ? last : j;
}

/*
 * o200k [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ at s:
 * its end, or 0. The first part takes its whole run; if what follows is
 * of the second class, the second takes its run from there. Otherwise the
 * engine gives back characters of the first run until the second can
 * start, at the last of them that is of both classes, and ends after it.
 */
static size_t o200k_lower(const struct text *t, size_t s)
{
	size_t j = s, l = 0, both = 0;
	unsigned c;

	while (j < t->n) {
		c = char_at(t, j, &l);
		if (!(c & CL_U)) {
			if (c & CL_W)
				return run(t, j + l, CL_W);
			break;
		}
		j += l;
		if (c & CL_W)
			both = j;
	}
	return both;
}

/* o200k [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* at s: its end, or 0. */
static size_t o200k_upper(const struct text *t, size_t s)
{
	size_t j = run(t, s, CL_U);

	return j == s ? 0 : run(t, j, CL_W);
}

static size_t o200k_piece(const struct text *t, size_t i)
{
	size_t l0, e;
	unsigned c0 = char_at(t, i, &l0);
	bool lead = IS_LEAD(c0) && i + l0 < t->n;

	/* 1 and 2, each first with the leading character, then without */
	if (c0 & (CL_L | CL_U) || lead) {
		if (lead && (e = o200k_lower(t, i + l0)))
			return contraction(t, e);
		if ((e = o200k_lower(t, i)))
			return contraction(t, e);
		if (lead && (e = o200k_upper(t, i + l0)))
			return contraction(t, e);
		if ((e = o200k_upper(t, i)))
			return contraction(t, e);
	}
	if (c0 & CL_N)
		return digits(t, i);
	if ((e = punct(t, i, c0, true)))
		return e;
	if (c0 & CL_S)
		return spaces(t, i);
	/* not reached: every class starts one of the above */
	return i + l0;
}

static size_t cl100k_piece(const struct text *t, size_t i)
{
	size_t l0, l1, e;
	unsigned c0;

	if ((e = contraction(t, i)) != i)
		return e;
	c0 = char_at(t, i, &l0);
	if (IS_LEAD(c0) && i + l0 < t->n && (char_at(t, i + l0, &l1) & CL_L))
		return run(t, i + l0, CL_L);
	if (c0 & CL_L)
		return run(t, i, CL_L);
	if (c0 & CL_N)
		return digits(t, i);
	if ((e = punct(t, i, c0, false)))
		return e;
	if (c0 & CL_S)
		return spaces(t, i);
	return i + l0;
}

/* The rank table */

static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A hash of p[0, n): 8 bytes at a time, each folded in by a wide multiply. */
static inline uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0x243f6a8885a308d3ull ^ n, v;

	while (n > 8) {
		memcpy(&v, p, 8);
		h = fold_mul(h ^ v, 0x9e3779b97f4a7c15ull);
		p += 8;
		n -= 8;
	}
	v = 0;
	memcpy(&v, p, n);
	return fold_mul(h ^ v, 0xbf58476d1ce4e5b9ull);
}

static inline uint32_t rank_of(const struct bpe *b, const uint8_t *p, size_t n)
{
	const struct bpe_slot *sl;
	uint64_t h;
	uint32_t i, tag;

	if (n == 1)
		return b->byte_rank[p[0]];
	if (n > b->max_len)
		return NO_RANK;
	h = hash_bytes(p, n);
	tag = (uint32_t)(h >> 32);
	for (i = (uint32_t)h & b->mask;; i = (i + 1) & b->mask) {
		sl = &b->slots[i];
		if (!sl->len)
			return NO_RANK;
		if (sl->tag == tag && sl->len == n && !memcmp(b->bytes + sl->off, p, n))
			return sl->rank;
	}
}

/* The byte-pair merge */

/* Where the ids go: ids may be NULL (only counting). */
struct sink {
	uint32_t *ids;
	size_t cap;
	size_t n;
};

static inline void emit(struct sink *out, uint32_t id)
{
	if (out->n < out->cap)
		out->ids[out->n] = id;
	out->n++;
}

/*
 * Scratch for one piece: BPE_STACK_PIECE bytes' worth on the stack,
 * a heap buffer for longer ones, kept for the rest of the call. In 32-bit
 * words: merge_tree()'s next and prev (n + 1 each), and
 * its tree of under 4n 64-bit keys (2 * the power of two >= n); 2n + 2 keeps
 * the tree 8-byte aligned.
 */
#define WORK_WORDS(n)	(10 * (size_t)(n) + 2)
struct work {
	uint32_t *buf;
	size_t words;
	uint32_t stack[WORK_WORDS(BPE_STACK_PIECE)] __attribute__((aligned(8)));
};

static int work_reserve(struct work *w, size_t n)
{
	size_t need = WORK_WORDS(n);
	uint32_t *p;

	if (need <= w->words)
		return 0;
	p = malloc(need * sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (w->buf != w->stack)
		free(w->buf);
	w->buf = p;
	w->words = need;
	return 0;
}

/* A candidate merge in the tree: rank << 32 | first byte of its left part. */
#define NO_PAIR		UINT64_MAX

static inline uint64_t pair_key(uint32_t rank, uint32_t left)
{
	return rank == NO_RANK ? NO_PAIR : (uint64_t)rank << 32 | left;
}

/* Leaf k of a tournament tree of 2 * width keys := v; each node the least of its two children. */
static inline void tree_set(uint64_t *tree, size_t width, size_t k, uint64_t v)
{
	size_t i = width + k;
	uint64_t m;

	tree[i] = v;
	for (i >>= 1; i; i >>= 1) {
		m = tree[2 * i] < tree[2 * i + 1] ? tree[2 * i] : tree[2 * i + 1];
		if (tree[i] == m)
			break;
		tree[i] = m;
	}
}

/*
 * Byte-pair merge of p[0, n), n >= 2: parts start as single bytes; while
 * some pair of adjacent parts is a token, the pair of lowest rank (the
 * leftmost of equals) becomes one part. In O(n log n): parts are a list
 * over their first bytes (next, prev); leaf k of a tournament tree holds
 * the key of the pair that the part at k starts, so the root is the pair
 * to merge. A merge changes three leaves: the right part's goes, the
 * merged part's and its left neighbour's pairs are looked up anew.
 */
static void merge_tree(const struct bpe *b, const uint8_t *p, size_t n, uint32_t *ws,
		       struct sink *out)
{
	uint32_t *next = ws, *prev = ws + n + 1;
	uint64_t *tree = (uint64_t *)(ws + 2 * n + 2), top;
	size_t width = 1, m = n, k;
	uint32_t lft, rgt, end, q;

	while (width < n)
		width *= 2;
	for (k = 0; k < n; k++) {
		next[k] = (uint32_t)k + 1;
		prev[k] = (uint32_t)k - 1;	/* prev[0] is never read */
		tree[width + k] = k + 1 < n ? pair_key(rank_of(b, p + k, 2), (uint32_t)k) : NO_PAIR;
	}
	for (k = width + n; k < 2 * width; k++)
		tree[k] = NO_PAIR;
	for (k = width - 1; k; k--)
		tree[k] = tree[2 * k] < tree[2 * k + 1] ? tree[2 * k] : tree[2 * k + 1];
	while ((top = tree[1]) != NO_PAIR) {
		lft = (uint32_t)top;
		rgt = next[lft];
		end = next[rgt];
		next[lft] = end;
		if (end < n)
			prev[end] = lft;
		m--;
		tree_set(tree, width, rgt, NO_PAIR);
		tree_set(tree, width, lft,
			 end < n ? pair_key(rank_of(b, p + lft, next[end] - lft), lft) : NO_PAIR);
		if (lft > 0) {
			q = prev[lft];
			tree_set(tree, width, q, pair_key(rank_of(b, p + q, end - q), q));
		}
	}
	if (!out->ids) {
		out->n += m;
		return;
	}
	for (k = 0; k < n; k = next[k])
		emit(out, rank_of(b, p + k, next[k] - k));
}

static int encode_piece(const struct bpe *b, const uint8_t *p, size_t n, struct work *w,
			struct sink *out)
{
	uint32_t r = rank_of(b, p, n);

	/* a piece that is a token is that token, whatever merging would make of it */
	if (r != NO_RANK) {
		emit(out, r);
		return 0;
	}
	if (work_reserve(w, n))
		return -ENOMEM;
	merge_tree(b, p, n, w->buf, out);
	return 0;
}

static int encode_text(const struct bpe *b, const char *utf8, size_t len, struct sink *out)
{
	struct text t = { (const uint8_t *)utf8, len, b->bmp };
	size_t (*piece)(const struct text *, size_t) =
		b->enc == BPE_O200K ? o200k_piece : cl100k_piece;
	struct work w;
	size_t i, e;
	int err = 0;

	w.buf = w.stack;
	w.words = sizeof(w.stack) / sizeof(w.stack[0]);
	for (i = 0; i < len; i = e) {
		e = piece(&t, i);
		err = encode_piece(b, t.s + i, e - i, &w, out);
		if (err)
			break;
	}
	if (w.buf != w.stack)
		free(w.buf);
	return err;
}

size_t bpe__count(const struct bpe *b, const char *utf8, size_t len)
{
	struct sink out = { NULL, 0, 0 };

	if (encode_text(b, utf8, len, &out)) {
		errno = ENOMEM;
		return SIZE_MAX;
	}
	return out.n;
}

int bpe__encode(const struct bpe *b, const char *utf8, size_t len, uint32_t *ids, size_t cap,
		size_t *n)
{
	struct sink out = { ids, ids ? cap : 0, 0 };
	int err;

	err = encode_text(b, utf8, len, &out);
	*n = out.n;
	if (err)
		return err;
	return out.n > cap ? -ENOSPC : 0;
}

/* Loading */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Padded standard base64 s[0, n) into out: the number of bytes, or -1. */
static long b64_decode(const char *s, size_t n, uint8_t *out)
{
	size_t i, o = 0, pad = 0;
	int v[4], k;

	if (!n || n % 4)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + 4 == n && k >= 4 - (int)pad)
				v[k] = 0;
			else if ((v[k] = b64_value(s[i + k])) < 0)
				return -1;
		}
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (i + 4 < n || pad < 2)
			out[o++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (i + 4 < n || pad < 1)
			out[o++] = (uint8_t)(v[2] << 6 | v[3]);
	}
	return (long)o;
}

/* s[0, n) for a message: printable ASCII as is, the rest as \xNN, at most 48 bytes. */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
	size_t i, j = 0;

	for (i = 0; i < n && j + 8 < cap; i++) {
		unsigned char c = s[i];

		if (i == 48) {
			j += snprintf(buf + j, cap - j, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf[j++] = c;
		else
			j += snprintf(buf + j, cap - j, "\\x%02x", c);
	}
	buf[j] = '\0';
	return buf;
}

static int read_file(const char *path, char **data, size_t *len)
{
	struct stat st;
	size_t got = 0;
	ssize_t r;
	char *buf;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		err = -errno;
		log_err("rank table %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) == -1) {
		err = -errno;
		log_err("rank table %s: %s", path, strerror(-err));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > BPE_MAX_FILE) {
		err = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		log_err("rank table %s: %s", path,
			S_ISREG(st.st_mode) ? "larger than 256 MiB" : "not a regular file");
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		err = -ENOMEM;
		log_err("rank table %s: %s", path, strerror(ENOMEM));
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r ? -errno : -EIO;
			log_err("rank table %s: read: %s", path,
				r ? strerror(-err) : "file shrank while read");
			free(buf);
			goto out_close;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	err = 0;
out_close:
	close(fd);
	return err;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Parses data[0, len) into b->bytes and the slots. line_of[slot] keeps the
 * line of each token for the message about a repeated one; rank_line
 * collects (rank << 32 | line) to find a repeated rank afterwards.
 */
static int parse_table(struct bpe *b, const char *path, const char *data, size_t len,
		       uint32_t *line_of, uint64_t *rank_line)
{
	const char *p = data, *end = data + len, *eol, *num;
	uint32_t line = 0, off = 0, i, tag;
	unsigned long long rank;
	struct bpe_slot *sl;
	char show[256];
	size_t toklen;
	uint64_t h;
	long n;

	for (; p < end; p = eol + 1) {
		line++;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		num = memchr(p, ' ', (size_t)(eol - p));
		if (!num) {
			log_err("%s:%u: '%s': want BASE64 RANK", path, line,
				shown(p, (size_t)(eol - p), show, sizeof(show)));
			return -EINVAL;
		}
		toklen = (size_t)(num - p);
		num++;
		if (toklen > (BPE_MAX_TOKEN + 2) / 3 * 4 ||
		    (n = b64_decode(p, toklen, b->bytes + off)) < 0) {
			log_err("%s:%u: token '%s' is not base64 of 1 to %d bytes", path, line,
				shown(p, toklen, show, sizeof(show)), BPE_MAX_TOKEN);
			return -EINVAL;
		}
		rank = 0;
		for (i = 0; num + i < eol && num[i] >= '0' && num[i] <= '9' && rank < NO_RANK; i++)
			rank = rank * 10 + (unsigned)(num[i] - '0');
		if (!i || num + i != eol || rank >= NO_RANK) {
			log_err("%s:%u: rank '%s' is not a number below %u", path, line,
				shown(num, (size_t)(eol - num), show, sizeof(show)), NO_RANK);
			return -EINVAL;
		}
		h = hash_bytes(b->bytes + off, (size_t)n);
		tag = (uint32_t)(h >> 32);
		for (i = (uint32_t)h & b->mask;; i = (i + 1) & b->mask) {
			sl = &b->slots[i];
			if (!sl->len)
				break;
			if (sl->tag == tag && sl->len == (uint32_t)n &&
			    !memcmp(b->bytes + sl->off, b->bytes + off, (size_t)n)) {
				log_err("%s:%u: token '%s' already on line %u", path, line,
					shown(p, toklen, show, sizeof(show)), line_of[i]);
				return -EINVAL;
			}
		}
		*sl = (struct bpe_slot){ tag, (uint32_t)rank, off, (uint32_t)n };
		line_of[i] = line;
		rank_line[b->ntokens++] = (uint64_t)rank << 32 | line;
		if (n == 1)
			b->byte_rank[b->bytes[off]] = (uint32_t)rank;
		if ((uint32_t)n > b->max_len)
			b->max_len = (uint32_t)n;
		off += (uint32_t)n;
	}
	return 0;
}

struct bpe *bpe__load(const char *path, enum bpe_encoding enc)
{
	uint64_t *rank_line = NULL;
	uint32_t *line_of = NULL;
	size_t len = 0, lines, slots, k;
	struct bpe *b = NULL;
	char *data = NULL;
	int err;

	if (enc != BPE_CL100K && enc != BPE_O200K) {
		errno = EINVAL;
		return NULL;
	}
	err = read_file(path, &data, &len);
	if (err)
		goto out;
	lines = 1;
	for (k = 0; k < len; k++)
		lines += data[k] == '\n';
	if (len && data[len - 1] == '\n')
		lines--;
	if (!len) {
		log_err("rank table %s: empty", path);
		err = -EINVAL;
		goto out;
	}
	for (slots = 1024; slots < 2 * lines; slots *= 2)
		;
	b = calloc(1, sizeof(*b));
	if (b) {
		b->slots = calloc(slots, sizeof(*b->slots));
		b->bytes = malloc(len);
	}
	line_of = malloc(slots * sizeof(*line_of));
	rank_line = malloc(lines * sizeof(*rank_line));
	if (!b || !b->slots || !b->bytes || !line_of || !rank_line) {
		err = -ENOMEM;
		log_err("rank table %s: %s", path, strerror(ENOMEM));
		goto out;
	}
	b->enc = enc;
	b->mask = (uint32_t)slots - 1;
	memset(b->byte_rank, 0xff, sizeof(b->byte_rank));
	err = parse_table(b, path, data, len, line_of, rank_line);
	if (err)
		goto out;
	qsort(rank_line, b->ntokens, sizeof(*rank_line), cmp_u64);
	for (k = 1; k < b->ntokens; k++) {
		if (rank_line[k] >> 32 == rank_line[k - 1] >> 32) {
			log_err("%s:%u: rank %u already on line %u", path,
				(uint32_t)rank_line[k], (uint32_t)(rank_line[k] >> 32),
				(uint32_t)rank_line[k - 1]);
			err = -EINVAL;
			goto out;
		}
	}
	for (k = 0; k < 256; k++) {
		if (b->byte_rank[k] == NO_RANK) {
			log_err("rank table %s: no token for the byte 0x%02zx (a table must have all 256)",
				path, k);
			err = -EINVAL;
			goto out;
		}
	}
	for (k = 0; k < 0x10000; k++)
		b->bmp[k] = classify((UChar32)k);
out:
	free(rank_line);
	free(line_of);
	free(data);
	if (err) {
		bpe__free(b);
		errno = -err;
		return NULL;
	}
	return b;
}

void bpe__free(struct bpe *b)
{
	if (!b)
		return;
	free(b->slots);
	free(b->bytes);
	free(b);
}
