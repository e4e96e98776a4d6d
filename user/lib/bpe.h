/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Exact token counts for OpenAI's o200k_base and cl100k_base encodings,
 * the same as the npm package js-tiktoken 1.0.21 gives with
 * encode(text, [], []): special tokens such as "<|endoftext|>" are plain
 * text.
 *
 * Text is cut into pieces by each encoding's pretokenizer (the regex of
 * js-tiktoken, run here by a hand-written scanner over code points, with
 * ICU's general categories for \p{L}, \p{N}, \p{M} and their parts), and
 * each piece is byte-pair merged with the encoding's rank table: a piece
 * that is a token is one token, otherwise adjacent parts are merged, the
 * pair of lowest rank first (the leftmost of equals), until no pair is a
 * token.
 *
 * Input is UTF-8. A byte that does not begin a valid sequence (stray
 * continuation, overlong form, surrogate, above U+10FFFF, truncated) is a
 * character of its own that is neither letter, mark, number nor space, as
 * punctuation is; it never makes the scanner read past len.
 *
 * The code points' categories are ICU's, so the counts agree with
 * js-tiktoken for code points that the linked ICU knows (ICU 72: Unicode
 * 15.0). A code point assigned later is, to it, unassigned: punctuation
 * here, perhaps a letter to a newer JavaScript engine.
 *
 * A loaded table is read-only: any number of threads may count with one
 * struct bpe at once. Counting allocates nothing for pieces up to
 * BPE_STACK_PIECE bytes (nearly all: a word, a number, a run of spaces);
 * a longer piece takes one malloc for the call.
 */
#ifndef SLUICE_BPE_H
#define SLUICE_BPE_H

#include <stddef.h>
#include <stdint.h>

enum bpe_encoding {
	BPE_CL100K,	/* cl100k_base: gpt-4, gpt-3.5-turbo, text-embedding-3 */
	BPE_O200K,	/* o200k_base: gpt-4o, gpt-4.1, o1, o3, o4 */
};

/* Pieces up to this many bytes are merged in a buffer on the stack. */
#define BPE_STACK_PIECE	256

struct bpe;

/* "cl100k_base" or "o200k_base" into *out: 0, or -EINVAL for any other name. */
int bpe_encoding_parse(const char *name, enum bpe_encoding *out);

/* The name bpe_encoding_parse() accepts for enc. */
const char *bpe_encoding_name(enum bpe_encoding enc);

/*
 * Loads a rank table in tiktoken's text format, as
 * scripts/tiktoken-ranks.sh writes it: one line per token,
 *
 *     BASE64 SP RANK LF
 *
 * BASE64 the token's bytes (1 to 1024 of them, padded standard base64),
 * RANK a decimal below 2^32 - 1. Every line must parse; no token and no
 * rank may appear twice; every single byte must be a token (so that any
 * text can be encoded). enc chooses the pretokenizer; the file is not
 * checked to be that encoding's table.
 *
 * NULL with errno set on failure, after one message through log_err()
 * that names the file, and for a bad line its number and value
 * ("bpe: o200k_base.tiktoken:17: rank '12x' is not a number").
 */
struct bpe *bpe__load(const char *path, enum bpe_encoding enc);

void bpe__free(struct bpe *b);

/* The encoding given to bpe__load(). */
enum bpe_encoding bpe__encoding(const struct bpe *b);

/*
 * Number of tokens of utf8[0, len) (need not be NUL-terminated). SIZE_MAX
 * with errno ENOMEM if a piece longer than BPE_STACK_PIECE bytes finds no
 * memory for its merge.
 */
size_t bpe__count(const struct bpe *b, const char *utf8, size_t len);

/*
 * The token ids of utf8[0, len): the first min(cap, total) into ids, the
 * total into *n. 0; -ENOSPC when total > cap (*n says how many were
 * needed); -ENOMEM as bpe__count().
 */
int bpe__encode(const struct bpe *b, const char *utf8, size_t len, uint32_t *ids, size_t cap,
		size_t *n);

#endif
