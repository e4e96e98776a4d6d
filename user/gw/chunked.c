// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Chunked decoding, one byte at a time outside chunk data (a size line is
 * a few bytes, so there is nothing to win with a faster scan) and in bulk
 * inside it.
 *
 *   chunk      = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val    = token / quoted-string
 *   last-chunk = 1*("0") [ chunk-ext ] CRLF
 *   trailer-section = *( field-line CRLF ), then CRLF
 *
 * The extension grammar is followed exactly rather than skipped to the
 * next CRLF: a quoted string may not hold a CR or LF, so a reader that
 * skips (or one that ends the line inside quotes) cannot be made to
 * disagree with us about where the chunk data starts. White space after
 * the size is taken only before a ';' ("5 \r\n" is refused: BWS belongs
 * to the extension).
 */
#include <string.h>

#include "chunked.h"
#include "http1.h"

enum {
	S_SIZE = 0,	/* hex digits */
	S_SEMI,		/* BWS, then ';' */
	S_EXT_NAME0,	/* after ';': BWS, then a token */
	S_EXT_NAME,
	S_EXT_NAME_WS,	/* BWS after a name: '=' or ';' */
	S_EXT_VAL0,	/* after '=': BWS, then a token or '"' */
	S_EXT_TOKEN,
	S_EXT_QUOTED,
	S_EXT_QESC,	/* after '\' in quotes */
	S_EXT_QEND,	/* after the closing '"' */
	S_SIZE_LF,
	S_DATA,
	S_DATA_CR,
	S_DATA_LF,
	S_TR_START,	/* start of a trailer line, or the final CRLF */
	S_TR_NAME,
	S_TR_VALUE,
	S_TR_LF,
	S_END_LF,
	S_DONE,
	S_ERROR,
};

void chunked_dec_init(struct chunked_dec *d, const struct chunked_limits *lim)
{
	memset(d, 0, sizeof(*d));
	if (lim) {
		d->lim = *lim;
	} else {
		d->lim.max_ext = CHUNKED_DEF_MAX_EXT;
		d->lim.max_trailer_bytes = CHUNKED_DEF_MAX_TRAILER_BYTES;
		d->lim.max_trailers = CHUNKED_DEF_MAX_TRAILERS;
	}
}

static int refuse(struct chunked_dec *d, int status, const char *why)
{
	d->state = S_ERROR;
	d->err = -status;
	d->error = why;
	return d->err;
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_tchar(unsigned char c)
{
	return http1_is(c, HTTP1_C_TCHAR);
}

/*
 * One byte of a chunk-size line past the digits. Returns the next state,
 * or -1 when the byte does not fit the grammar.
 */
static int ext_step(int state, unsigned char c)
{
	switch (state) {
	case S_SEMI:
		return is_ws(c) ? S_SEMI : c == ';' ? S_EXT_NAME0 : -1;
	case S_EXT_NAME0:
		return is_ws(c) ? S_EXT_NAME0 : is_tchar(c) ? S_EXT_NAME : -1;
	case S_EXT_NAME:
		if (is_tchar(c))
			return S_EXT_NAME;
		/* fall through */
	case S_EXT_NAME_WS:
		if (is_ws(c))
			return S_EXT_NAME_WS;
		if (c == '=')
			return S_EXT_VAL0;
		if (c == ';')
			return S_EXT_NAME0;
		return c == '\r' && state == S_EXT_NAME ? S_SIZE_LF : -1;
	case S_EXT_VAL0:
		if (is_ws(c))
			return S_EXT_VAL0;
		return c == '"' ? S_EXT_QUOTED : is_tchar(c) ? S_EXT_TOKEN : -1;
	case S_EXT_QUOTED:
		if (c == '"')
			return S_EXT_QEND;
		if (c == '\\')
			return S_EXT_QESC;
		/* qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text */
		return http1_is(c, HTTP1_C_CTL) ? -1 : S_EXT_QUOTED;
	case S_EXT_QESC:
		return http1_is(c, HTTP1_C_CTL) ? -1 : S_EXT_QUOTED;
	case S_EXT_TOKEN:
		if (is_tchar(c))
			return S_EXT_TOKEN;
		/* fall through */
	case S_EXT_QEND:
		if (is_ws(c))
			return S_SEMI;
		if (c == ';')
			return S_EXT_NAME0;
		return c == '\r' ? S_SIZE_LF : -1;
	}
	return -1;
}

/* One byte outside chunk data: 0 to go on, DONE, or a refusal. */
static int step(struct chunked_dec *d, unsigned char c)
{
	int h, next;

	switch (d->state) {
	case S_SIZE:
		h = hexval(c);
		if (h >= 0) {
			if (++d->digits > 16)
				return refuse(d, 400, "chunk size too long");
			if (d->size > (uint64_t)INT64_MAX >> 4)
				return refuse(d, 400, "chunk size overflow");
			d->size = d->size << 4 | h;
			return 0;
		}
		if (c == '\n')
			return refuse(d, 400, "bare LF in chunk size line");
		if (!d->digits || (c != '\r' && c != ';' && !is_ws(c)))
			return refuse(d, 400, "invalid chunk size");
		if (c == '\r') {
			d->state = S_SIZE_LF;
			return 0;
		}
		d->state = S_SEMI;
		/* fall through */
	case S_SEMI ... S_EXT_QEND:
		if (c != '\r' && ++d->line > d->lim.max_ext)
			return refuse(d, 400, "chunk extension too long");
		next = ext_step(d->state, c);
		if (next < 0)
			return refuse(d, 400, c == '\n' ? "bare LF in chunk size line" :
						      "invalid chunk extension");
		d->state = next;
		return 0;
	case S_SIZE_LF:
		if (c != '\n')
			return refuse(d, 400, "bare CR in chunk size line");
		if (!d->size) {
			d->state = S_TR_START;
			return 0;
		}
		if (d->lim.max_body_bytes && d->size > d->lim.max_body_bytes - d->total)
			return refuse(d, 413, "chunked body too large");
		if (d->size > (uint64_t)INT64_MAX - d->total)
			return refuse(d, 400, "chunked body overflow");
		d->state = S_DATA;
		return 0;
	case S_DATA_CR:
		if (c != '\r')
			return refuse(d, 400, "no CRLF after chunk data");
		d->state = S_DATA_LF;
		return 0;
	case S_DATA_LF:
		if (c != '\n')
			return refuse(d, 400, "no CRLF after chunk data");
		d->state = S_SIZE;
		d->size = 0;
		d->digits = 0;
		d->line = 0;
		return 0;
	}

	/* the trailer section */
	if (++d->trailer_bytes > d->lim.max_trailer_bytes)
		return refuse(d, 400, "trailer section too large");
	switch (d->state) {
	case S_TR_START:
		if (c == '\r') {
			d->state = S_END_LF;
			return 0;
		}
		if (c == '\n')
			return refuse(d, 400, "bare LF in trailers");
		if (is_ws(c))
			return refuse(d, 400, "obs-fold in trailers");
		if (!is_tchar(c))
			return refuse(d, 400, "invalid trailer field name");
		if (++d->ntrailers > d->lim.max_trailers)
			return refuse(d, 400, "too many trailer fields");
		d->state = S_TR_NAME;
		return 0;
	case S_TR_NAME:
		if (c == ':')
			d->state = S_TR_VALUE;
		else if (is_ws(c))
			return refuse(d, 400, "white space before colon in trailers");
		else if (c == '\r' || c == '\n')
			return refuse(d, 400, "trailer field without a colon");
		else if (!is_tchar(c))
			return refuse(d, 400, "invalid trailer field name");
		return 0;
	case S_TR_VALUE:
		if (c == '\r')
			d->state = S_TR_LF;
		else if (c == '\n')
			return refuse(d, 400, "bare LF in trailers");
		else if (http1_is(c, HTTP1_C_CTL))
			return refuse(d, 400, "control character in trailers");
		return 0;
	case S_TR_LF:
	case S_END_LF:
		if (c != '\n')
			return refuse(d, 400, "bare CR in trailers");
		if (d->state == S_END_LF) {
			d->state = S_DONE;
			return CHUNKED_DONE;
		}
		d->state = S_TR_START;
		return 0;
	}
	return refuse(d, 400, "chunked decoder in a bad state");
}

int chunked_decode(struct chunked_dec *d, const char *buf, size_t len, size_t *used,
		   const char **data, size_t *data_len)
{
	size_t i = 0;
	int ret;

	*used = 0;
	if (d->state == S_ERROR)
		return d->err;
	if (d->state == S_DONE)
		return CHUNKED_DONE;
	while (i < len) {
		if (d->state == S_DATA) {
			size_t n = len - i < d->size ? len - i : (size_t)d->size;

			*data = buf + i;
			*data_len = n;
			d->size -= n;
			d->total += n;
			if (!d->size)
				d->state = S_DATA_CR;
			*used = i + n;
			return CHUNKED_DATA;
		}
		ret = step(d, buf[i++]);
		if (ret) {
			*used = ret > 0 ? i : i - 1;
			return ret;
		}
	}
	*used = i;
	return CHUNKED_MORE;
}

size_t chunked_put_size(char *dst, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t k = 0, i;

	do {
		tmp[k++] = hex[n & 0xf];
		n >>= 4;
	} while (n);
	for (i = 0; i < k; i++)
		dst[i] = tmp[k - 1 - i];
	dst[k] = '\r';
	dst[k + 1] = '\n';
	return k + 2;
}
