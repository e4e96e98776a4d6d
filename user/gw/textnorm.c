// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Folded and plain views of prompt text (see textnorm.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "gw/textnorm.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

void textnorm_init(struct textnorm *t)
{
	memset(t, 0, sizeof(*t));
}

static void wipe_free(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
	free(p);
}

void textnorm_free(struct textnorm *t)
{
	wipe_free(t->text, t->cap);
	free(t->start);
	free(t->end);
	free(t->runs);
	wipe_free(t->u16, t->u16_cap * sizeof(*t->u16));
	wipe_free(t->n16, t->n16_cap * sizeof(*t->n16));
	memset(t, 0, sizeof(*t));
}

/* Grows a buffer of elements of size es to hold want, wiping what it leaves. */
static int grow(void **p, size_t *cap, size_t want, size_t es, bool wipe)
{
	size_t n = *cap ? *cap : 256;
	void *q;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	q = malloc(n * es);
	if (!q)
		return -ENOMEM;
	if (*p) {
		memcpy(q, *p, *cap * es);
		if (wipe)
			explicit_bzero(*p, *cap * es);
		free(*p);
	}
	*p = q;
	*cap = n;
	return 0;
}

/* Is a byte of w below 0x20, or 0x7f? (then the word needs a closer look) */
static inline bool word_has_control(uint64_t w)
{
	uint64_t lo = (w - 0x20 * ONES) & ~w & HIGHS;
	uint64_t x = w ^ (0x7f * ONES);
	uint64_t del = (x - ONES) & ~x & HIGHS;

	return lo | del;
}

static inline bool ascii_kept(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r';
}

/* ASCII with nothing to drop: the view is the text, byte for byte. */
static bool plain_ascii(const char *s, size_t n)
{
	size_t i = 0;
	uint64_t w;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		if (w & HIGHS)
			return false;
		if (word_has_control(w))
			for (size_t j = 0; j < 8; j++)
				if (!ascii_kept(s[i + j]))
					return false;
	}
	for (; i < n; i++)
		if (!ascii_kept(s[i]))
			return false;
	return true;
}

/* The folded view of an ASCII byte: lowered, tab a space, CR an LF. */
static const unsigned char fold_ascii[128] = {
#define R4(b) b, b + 1, b + 2, b + 3
#define R16(b) R4(b), R4(b + 4), R4(b + 8), R4(b + 12)
	R4(0), R4(4), 8, ' ', 10, 11, 12, '\n', 14, 15, R16(16), R16(32), R16(48),
	64, R4('a'), R4('e'), R4('i'), R4('m'), R4('q'), R4('u'), 'y', 'z', 91, 92, 93, 94, 95,
	R16(96), R16(112),
#undef R16
#undef R4
};

/* A code point that goes before any normalisation: controls and format characters. */
static bool dropped(UChar32 c)
{
	int8_t type;

	if (c < 0x80)
		return !ascii_kept(c);
	type = u_charType(c);
	return type == U_CONTROL_CHAR || type == U_FORMAT_CHAR ||
	       u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

struct out {
	struct textnorm *t;
	bool map;
	bool fold;		/* fold quotes and whitespace runs too */
};

static inline bool is_space(unsigned char c)
{
	return c == ' ' || c == '\n';
}

/*
 * Before normalisation, in the folded view: typographic quotes become ASCII
 * quotes and every white space character a space, or LF if it breaks lines.
 */
static UChar32 fold_char(UChar32 c)
{
	switch (c) {
	case '\t':
		return ' ';
	case '\r':
	case 0x2028:
	case 0x2029:
		return '\n';
	case 0x2018: case 0x2019: case 0x201a: case 0x201b: case 0x2032: case 0x2035:
		return '\'';
	case 0x201c: case 0x201d: case 0x201e: case 0x201f: case 0x2033: case 0x2036:
		return '"';
	}
	if (c >= 0x80 && u_isUWhiteSpace(c))
		return ' ';
	return c;
}

/* Room in the view, and in its maps, for n more bytes. */
static int room(struct out *o, size_t n)
{
	struct textnorm *t = o->t;

	if (t->len + n + 1 > t->cap && grow((void **)&t->text, &t->cap, t->len + n + 1, 1, true))
		return -ENOMEM;
	if (o->map && t->len + n > t->map_cap) {
		/* both maps to the same new size; map_cap moves only once both have it */
		size_t ns = t->map_cap, ne = t->map_cap;

		if (grow((void **)&t->start, &ns, t->len + n, sizeof(uint32_t), false) ||
		    grow((void **)&t->end, &ne, t->len + n, sizeof(uint32_t), false))
			return -ENOMEM;
		t->map_cap = ns;
	}
	return 0;
}

/* Byte c of the view, from original bytes [from, to); room() made space for it. */
static inline void put(struct out *o, char c, uint32_t from, uint32_t to)
{
	struct textnorm *t = o->t;

	if (o->fold && is_space(c) && t->len && is_space(t->text[t->len - 1])) {
		/* a white space run: one space, or one LF if the run breaks lines */
		if (c == '\n')
			t->text[t->len - 1] = '\n';
		if (o->map)
			t->end[t->len - 1] = to;
		return;
	}
	t->text[t->len] = c;
	if (o->map) {
		t->start[t->len] = from;
		t->end[t->len] = to;
	}
	t->len++;
}

static int emit(struct out *o, const char *b, size_t n, uint32_t from, uint32_t to)
{
	if (room(o, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		put(o, b[i], from, to);
	return 0;
}

/* ASCII bytes s[a, b), each its own segment: the kept ones, folded, to the view. */
static int emit_ascii(struct out *o, const char *s, size_t a, size_t b)
{
	if (room(o, b - a))
		return -ENOMEM;
	for (size_t k = a; k < b; k++) {
		unsigned char c = s[k];

		if (ascii_kept(c))
			put(o, o->fold ? fold_ascii[c] : c, k, k + 1);
	}
	return 0;
}

/* One segment s[from, to) of code points through ICU. */
static int segment(struct out *o, const UNormalizer2 *nz, const char *s, size_t from, size_t to,
		   bool fold)
{
	struct textnorm *t = o->t;
	UErrorCode st = U_ZERO_ERROR;
	int32_t n16 = 0, nn, n8;
	size_t i = from;

	if (grow((void **)&t->u16, &t->u16_cap, 2 * (to - from) + 2, sizeof(UChar), true))
		return -ENOMEM;
	while (i < to) {
		UChar32 c;

		U8_NEXT(s, i, to, c);
		if (c < 0)
			c = 0xfffd;
		if (dropped(c))
			continue;
		if (fold)
			c = fold_char(c);
		U16_APPEND_UNSAFE((UChar *)t->u16, n16, c);
	}
	if (!n16)
		return 0;
	for (;;) {
		st = U_ZERO_ERROR;
		nn = unorm2_normalize(nz, (UChar *)t->u16, n16, (UChar *)t->n16, (int32_t)t->n16_cap,
				      &st);
		if (st != U_BUFFER_OVERFLOW_ERROR)
			break;
		if (grow((void **)&t->n16, &t->n16_cap, nn + 1, sizeof(UChar), true))
			return -ENOMEM;
	}
	if (U_FAILURE(st))
		return -EIO;
	/* case folding may bring back nothing to drop; the result is at most 3 bytes a unit */
	{
		char buf[256], *b = buf;
		int err;

		if ((size_t)nn * 3 > sizeof(buf) && !(b = malloc((size_t)nn * 3)))
			return -ENOMEM;
		st = U_ZERO_ERROR;
		u_strToUTF8(b, nn * 3, &n8, (UChar *)t->n16, nn, &st);
		err = U_FAILURE(st) ? -EIO : emit(o, b, n8, from, to);
		if (b != buf) {
			explicit_bzero(b, (size_t)nn * 3);
			free(b);
		}
		return err;
	}
}

/*
 * A code point alone in its segment that its normalisation leaves as it
 * is (most letters of most scripts): its bytes go to the view without ICU.
 */
static bool stable(UChar32 c, bool fold)
{
	if (c < 0 || dropped(c))
		return false;
	if (fold)
		return fold_char(c) == c &&
		       !u_hasBinaryProperty(c, UCHAR_CHANGES_WHEN_NFKC_CASEFOLDED);
	return u_getIntPropertyValue(c, UCHAR_NFKC_QUICK_CHECK) == UNORM_YES;
}

/*
 * The general path: ASCII bytes one by one, the rest in normalisation
 * segments (a code point and those after it with no boundary before them).
 */
static int convert(struct textnorm *t, const char *s, size_t n, const UNormalizer2 *nz, bool fold,
		   bool map)
{
	struct out o = { t, map, fold };
	size_t i = 0;
	int err = 0;

	t->len = 0;
	t->identity = false;
	while (i < n && !err) {
		unsigned char ch = s[i];
		size_t from = i, next, one;
		UChar32 c, first;

		if (ch < 0x80) {
			/* a run of ASCII, but for its last kept byte before a code point
			 * that is not: a combining mark may follow it */
			size_t j = i, last = SIZE_MAX, upto;

			for (; j < n && (unsigned char)s[j] < 0x80; j++)
				if (ascii_kept(s[j]))
					last = j;
			upto = j == n || last == SIZE_MAX ? j : last;
			if (upto > i) {
				err = emit_ascii(&o, s, i, upto);
				i = upto;
				continue;
			}
		}
		/* what comes next once controls (dropped) are skipped: a combining mark
		 * after "e\x07" still composes with the e */
		next = i + 1;
		while (next < n && (unsigned char)s[next] < 0x80 && !ascii_kept(s[next]))
			next++;
		if (ch < 0x80 && (next == n || (unsigned char)s[next] < 0x80)) {
			/* ASCII followed by ASCII: its own segment */
			if (ascii_kept(ch)) {
				char l = fold ? fold_ascii[ch] : ch;

				err = emit(&o, &l, 1, i, i + 1);
			}
			i++;
			continue;
		}
		U8_NEXT(s, i, n, c);
		first = c;
		one = i;
		/* take in what combines with it */
		while (i < n) {
			next = i;
			U8_NEXT(s, next, n, c);
			if (c >= 0 && !dropped(c) && unorm2_hasBoundaryBefore(nz, c))
				break;
			i = next;
		}
		if (i == one && stable(first, fold))
			err = emit(&o, s + from, i - from, from, i);
		else
			err = segment(&o, nz, s, from, i, fold);
	}
	if (!err && grow((void **)&t->text, &t->cap, t->len + 1, 1, true))
		err = -ENOMEM;
	if (!err)
		t->text[t->len] = '\0';
	return err;
}

/* Per byte of a word of ASCII (every byte < 0x80), the high bit set where... */
static inline uint64_t word_eq(uint64_t w, unsigned char c)	/* ... w's byte is c */
{
	return ~((w ^ (c * ONES)) + 0x7f * ONES) & HIGHS;
}

static inline uint64_t word_lt(uint64_t w, unsigned char c)	/* ... w's byte is below c */
{
	return ~(w + (0x80 - c) * ONES) & HIGHS;
}

/* Where folded byte j of an ASCII view begins in the original, or ends (end). */
static size_t ascii_orig(const struct textnorm *t, size_t j, bool end)
{
	const struct textnorm_run *r;
	size_t lo = 0, hi = t->nruns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->runs[mid].at <= j)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return j + end;
	r = &t->runs[lo - 1];
	if (r->at == j)
		return end ? r->to : r->from;
	return r->to + (j - r->at - 1) + end;
}

/* Byte i of s into the view at *len: 0, 1 if it is a control to drop, or -ENOMEM. */
static int ascii_byte(struct textnorm *t, const char *s, size_t i, size_t *len)
{
	unsigned char c = s[i];
	struct textnorm_run *r;
	uint32_t from;

	if (!ascii_kept(c))
		return 1;
	c = fold_ascii[c];
	if (!is_space(c) || !*len || !is_space(t->text[*len - 1])) {
		t->text[(*len)++] = c;
		return 0;
	}
	/* a white space run: one space, or one LF if the run breaks lines */
	if (c == '\n')
		t->text[*len - 1] = '\n';
	r = t->nruns ? &t->runs[t->nruns - 1] : NULL;
	if (r && r->at == *len - 1) {
		r->to = i + 1;
		return 0;
	}
	if (t->nruns == t->runs_cap &&
	    grow((void **)&t->runs, &t->runs_cap, t->nruns + 1, sizeof(*t->runs), false))
		return -ENOMEM;
	from = ascii_orig(t, *len - 1, false);
	t->runs[t->nruns++] = (struct textnorm_run){ *len - 1, from, i + 1 };
	t->identity = false;
	return 0;
}

/*
 * The view of ASCII s[0, n): 0, 1 if s is not ASCII with nothing to drop
 * (the general path's), or -ENOMEM. Whole words that need only lowering
 * (no tab, CR, control or white space run) go sixteen bytes at a time
 * with SSE2, else eight.
 */
static int fold_ascii_view(struct textnorm *t, const char *s, size_t n)
{
	size_t i = 0, len = 0;
	int err;

	if (grow((void **)&t->text, &t->cap, n + 1, 1, true))
		return -ENOMEM;
	t->identity = t->ascii = true;
	t->nruns = 0;
#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		const __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
		const __m128i lf = _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'));
		unsigned int sp, ctl;

		if (_mm_movemask_epi8(v))
			return 1;
		sp = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), lf));
		ctl = _mm_movemask_epi8(_mm_or_si128(
			_mm_andnot_si128(lf, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))),
			_mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
		if (!ctl && !(sp & (sp << 1)) && !((sp & 1) && len && is_space(t->text[len - 1]))) {
			const __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
							 _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));

			_mm_storeu_si128((__m128i *)(t->text + len),
					 _mm_or_si128(v, _mm_and_si128(up, _mm_set1_epi8(0x20))));
			len += 16;
			continue;
		}
		for (size_t j = 0; j < 16; j++)
			if ((err = ascii_byte(t, s, i + j, &len)))
				return err;
	}
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		uint64_t w, lf, sp, ctl;

		memcpy(&w, s + i, 8);
		if (w & HIGHS)
			return 1;
		lf = word_eq(w, '\n');
		sp = word_eq(w, ' ') | lf;
		ctl = (word_lt(w, 0x20) & ~lf) | word_eq(w, 0x7f);
		/* a space after a space, in the word or across from the last one */
		if (!ctl && !(sp & (sp << 8)) &&
		    !((sp & 0x80) && len && is_space(t->text[len - 1]))) {
			w |= (~word_lt(w, 'A') & HIGHS & word_lt(w, 'Z' + 1)) >> 2;
			memcpy(t->text + len, &w, 8);
			len += 8;
			continue;
		}
		for (size_t j = 0; j < 8; j++)
			if ((err = ascii_byte(t, s, i + j, &len)))
				return err;
	}
#endif
	for (; i < n; i++)
		if ((err = ascii_byte(t, s, i, &len)))
			return err;
	t->text[len] = '\0';
	t->len = len;
	return 0;
}

int textnorm_fold(struct textnorm *t, const char *s, size_t n)
{
	UErrorCode st = U_ZERO_ERROR;
	const UNormalizer2 *nz;
	int err;

	if (n > UINT32_MAX)
		return -E2BIG;
	if ((err = fold_ascii_view(t, s, n)) <= 0)
		return err;
	t->ascii = false;
	nz = unorm2_getNFKCCasefoldInstance(&st);
	if (U_FAILURE(st))
		return -EIO;
	return convert(t, s, n, nz, true, true);
}

void textnorm_span(const struct textnorm *t, size_t a, size_t b, size_t *oa, size_t *ob)
{
	if (t->identity) {
		*oa = a;
		*ob = b;
		return;
	}
	if (t->ascii) {
		*oa = ascii_orig(t, a, false);
		*ob = ascii_orig(t, b - 1, true);
		return;
	}
	*oa = t->start[a];
	*ob = t->end[b - 1];
}

size_t textnorm_plain(const char *s, size_t n, char *out, size_t cap)
{
	UErrorCode st = U_ZERO_ERROR;
	const UNormalizer2 *nz;
	struct textnorm t;
	size_t len;

	if (plain_ascii(s, n)) {
		if (cap) {
			len = n < cap - 1 ? n : cap - 1;
			memcpy(out, s, len);
			out[len] = '\0';
		}
		return n;
	}
	nz = unorm2_getNFKCInstance(&st);
	if (U_FAILURE(st) || n > UINT32_MAX)
		return SIZE_MAX;
	textnorm_init(&t);
	if (convert(&t, s, n, nz, false, false)) {
		textnorm_free(&t);
		return SIZE_MAX;
	}
	len = t.len;
	if (cap) {
		size_t k = len < cap - 1 ? len : cap - 1;

		memcpy(out, t.text, k);
		out[k] = '\0';
	}
	textnorm_free(&t);
	return len;
}
