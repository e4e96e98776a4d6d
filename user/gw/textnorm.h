/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The views prompt inspection matches on.
 *
 * Folded view: Unicode NFKC_Casefold (ICU), so full-width letters,
 * ligatures, compatibility forms and case all fold to one spelling, with
 * every Default_Ignorable code point (zero-width space and joiners, soft
 * hyphen, word joiner, BOM, variation selectors), every other format
 * character (Cf) and every control (Cc) but tab, LF and CR removed.
 * Invalid UTF-8 becomes U+FFFD. Typographic quotes fold to ' and ", and
 * every run of white space (tab, CR, LF, the Unicode spaces) to one space,
 * or to one LF when the run breaks a line, so patterns join words with a
 * single \s and a doubled space or a no-break space evades nothing. Each folded byte maps back to the span of
 * original bytes of its normalisation segment (a base character and what
 * combines with it), so a match in the folded view masks the original
 * text that produced it, hidden characters included.
 *
 * Plain view: NFKC alone, no case, quote or space folding: what validators read,
 * where case matters (JWTs, keys) and digits must be ASCII.
 *
 * ASCII input, the common case, takes a fast path: checked and lowered
 * sixteen bytes at a time, with no map (identity) or, when white space runs
 * fold, only a list of the runs.
 */
#ifndef SLUICE_GW_TEXTNORM_H
#define SLUICE_GW_TEXTNORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct textnorm {
	char *text;		/* the folded view, UTF-8, NUL-terminated */
	size_t len, cap;
	uint32_t *start;	/* per folded byte: where its segment begins in the original */
	uint32_t *end;		/* ... and where it ends */
	size_t map_cap;
	bool identity;		/* ASCII input: text[i] comes from byte i; no map */
	/*
	 * ASCII input with white space runs: no map but the runs, by folded
	 * byte; the bytes between runs come one for one from the original.
	 */
	struct textnorm_run { uint32_t at, from, to; } *runs;
	size_t nruns, runs_cap;
	bool ascii;
	uint16_t *u16, *n16;	/* a segment in UTF-16, before and after ICU */
	size_t u16_cap, n16_cap;
};

void textnorm_init(struct textnorm *t);
/*
 * Builds the folded view of s[0, n), reusing the buffers of earlier calls.
 * 0, -ENOMEM, -E2BIG when n > UINT32_MAX, or -EIO if ICU fails.
 */
int textnorm_fold(struct textnorm *t, const char *s, size_t n);
/* The original span [*oa, *ob) that produced folded bytes [a, b), a < b <= len. */
void textnorm_span(const struct textnorm *t, size_t a, size_t b, size_t *oa, size_t *ob);
/*
 * The plain view of s[0, n) into out: at most cap - 1 bytes and a NUL
 * (nothing if cap is 0). Returns the length it needs, as snprintf does
 * (SIZE_MAX when out of memory).
 */
size_t textnorm_plain(const char *s, size_t n, char *out, size_t cap);
/* Wipes (prompt text is private) and frees the buffers. */
void textnorm_free(struct textnorm *t);

#endif
