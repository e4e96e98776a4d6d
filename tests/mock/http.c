// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.1 requests (RFC 9112) and response heads.
 *
 * The mock is the far end of sluiced's tests, so it is as strict as the
 * proxy is meant to be: a request that sluiced should never forward is
 * refused here, and a test sees it. Refused: obs-fold, whitespace before
 * the colon, bare CR or LF, control bytes in values, a missing or repeated
 * Host on 1.1, conflicting Content-Length, Transfer-Encoding with
 * Content-Length (400); codings other than chunked (501); versions other
 * than 1.0 and 1.1 (505); heads past 64 KiB or 100 fields (431); bodies
 * past --max-body (413).
 *
 * The header block is parsed again each time more of the body arrives: it
 * is short, and pointers into the input buffer never outlive a realloc.
 * Only the chunked decoder keeps state between reads (in struct conn).
 */
#include <stdio.h>
#include <strings.h>

#include "mock.h"

enum { CK_SIZE, CK_DATA, CK_CRLF, CK_TRAILER };

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char ch)
{
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
		return true;
	if (ch >= '0' && ch <= '9')
		return true;
	return ch && strchr("!#$%&'*+-.^_`|~", ch);
}

bool hdr_is(const struct hdr *h, const char *lname)
{
	size_t n = strlen(lname);

	return h->nlen == n && !strncasecmp(h->name, lname, n);
}

const struct hdr *req_hdr(const struct req *r, const char *lname)
{
	uint32_t i;

	for (i = 0; i < r->nhdr; i++)
		if (hdr_is(&r->hdr[i], lname))
			return &r->hdr[i];
	return NULL;
}

/* Calls fn on each comma-separated, trimmed element of a field value. */
static int each_elem(const struct hdr *h, int (*fn)(const char *s, size_t n, struct req *r),
		     struct req *r)
{
	const char *p = h->val, *end = h->val + h->vlen, *e;
	int err;

	while (p < end) {
		e = memchr(p, ',', end - p);
		if (!e)
			e = end;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		err = fn(p, e - p, r);
		if (err)
			return err;
		p = memchr(p, ',', end - p);
		if (!p)
			break;
		p++;
	}
	return 0;
}

static bool elem_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && !strncasecmp(s, lit, n);
}

static int te_elem(const char *s, size_t n, struct req *r)
{
	if (!n)
		return 0;
	if (!elem_is(s, n, "chunked"))
		return -501;
	if (r->chunked)
		return -400;	/* chunked twice */
	r->chunked = true;
	return 0;
}

/* "close" wins over any "keep-alive"; "keep-alive" only matters on 1.0. */
static int conn_elem(const char *s, size_t n, struct req *r)
{
	if (elem_is(s, n, "close"))
		r->close = true;
	else if (elem_is(s, n, "keep-alive") && r->minor == 0)
		r->keepalive = true;
	return 0;
}

/* Request line and fields of head[0..len), which ends with CRLF CRLF. */
static int parse_head(const char *head, size_t len, struct req *r, uint64_t *clen, bool *has_clen)
{
	const char *p = head, *end = head + len - 2, *nl, *colon, *v, *ve;
	int hosts = 0, err;
	uint64_t cl;

	r->method = p;
	while (p < end && is_tchar(*p))
		p++;
	r->mlen = p - r->method;
	if (!r->mlen || *p != ' ')
		return -400;
	r->target = ++p;
	while (p < end && (unsigned char)*p > ' ' && *p != 0x7f)
		p++;
	r->tlen = p - r->target;
	if (!r->tlen || *p != ' ')
		return -400;
	v = memchr(r->target, '?', r->tlen);
	r->plen = v ? (uint32_t)(v - r->target) : r->tlen;
	p++;
	if (end - p < 10 || memcmp(p, "HTTP/", 5) || p[6] != '.' || p[8] != '\r' || p[9] != '\n')
		return -400;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return (p[5] >= '0' && p[5] <= '9' && p[7] >= '0' && p[7] <= '9') ? -505 : -400;
	r->minor = p[7] - '0';
	r->keepalive = r->minor == 1;
	p += 10;

	r->nhdr = 0;
	while (p < end) {
		struct hdr *h;

		nl = memchr(p, '\n', end + 2 - p);
		if (!nl || nl == p || nl[-1] != '\r')
			return -400;	/* bare LF */
		if (*p == ' ' || *p == '\t')
			return -400;	/* obs-fold */
		colon = p;
		while (colon < nl && is_tchar(*colon))
			colon++;
		if (colon == p || *colon != ':')
			return -400;	/* empty name, or space before the colon */
		v = colon + 1;
		ve = nl - 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if (((unsigned char)*q < ' ' && *q != '\t') || *q == 0x7f)
				return -400;	/* bare CR, NUL, controls */
		if (r->nhdr == MOCK_MAX_HDRS)
			return -431;
		h = &r->hdr[r->nhdr++];
		h->name = p;
		h->nlen = colon - p;
		h->val = v;
		h->vlen = ve - v;
		p = nl + 1;

		if (hdr_is(h, "content-length")) {
			if (mock_uint(h->val, h->vlen, UINT64_MAX >> 1, &cl))
				return -400;
			if (*has_clen && cl != *clen)
				return -400;
			*clen = cl;
			*has_clen = true;
		} else if (hdr_is(h, "transfer-encoding")) {
			if (r->minor == 0)
				return -400;
			err = each_elem(h, te_elem, r);
			if (err)
				return err;
		} else if (hdr_is(h, "connection")) {
			each_elem(h, conn_elem, r);
		} else if (hdr_is(h, "host")) {
			hosts++;
		} else if (hdr_is(h, "expect")) {
			r->expect = h->vlen == 12 && !strncasecmp(h->val, "100-continue", 12);
		} else if (h->nlen > 7 && !strncasecmp(h->name, "x-mock-", 7)) {
			if (hdr_is(h, "x-mock-fault"))
				r->h_fault = h;
			else if (hdr_is(h, "x-mock-echo"))
				r->h_echo = h;
			else if (hdr_is(h, "x-mock-tokens"))
				r->h_tokens = h;
			else if (hdr_is(h, "x-mock-token-interval"))
				r->h_interval = h;
		}
	}
	if (r->close)
		r->keepalive = false;
	if (hosts > 1 || (r->minor == 1 && !hosts))
		return -400;
	if (r->chunked && *has_clen)
		return -400;	/* RFC 9112 6.3: a smuggling attempt; refuse and close */
	return 0;
}

/* Tells a client that sent "Expect: 100-continue" to go on with the body. */
static void maybe_continue(struct conn *c, const struct req *r)
{
	if (!r->expect || c->continued || r->minor == 0)
		return;
	buf_lit(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	c->continued = true;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* One line of base[pos..avail) without its CRLF; 0: incomplete; -1: bare LF. */
static int line_at(const char *base, size_t pos, size_t avail, size_t *llen)
{
	const char *nl = memchr(base + pos, '\n', avail - pos);

	if (!nl)
		return 0;
	if (nl == base + pos || nl[-1] != '\r')
		return -1;
	*llen = nl - (base + pos) - 1;
	return 1;
}

/*
 * Decodes what has arrived of a chunked body into c->body, resuming where
 * the last call stopped. Chunk extensions and trailer fields are skipped.
 */
static int dechunk(struct conn *c, struct req *r, const char *base, size_t avail)
{
	size_t pos = c->ck_pos ? c->ck_pos : c->hdr_len, llen, n, i;
	uint64_t size;
	int d, rc;

	for (;;) {
		switch (c->ck_state) {
		case CK_SIZE:
			rc = line_at(base, pos, avail, &llen);
			if (rc < 0)
				return -400;
			if (!rc) {
				if (avail - pos > 4096)
					return -400;
				goto more;
			}
			size = 0;
			for (i = 0; i < llen && (d = hexval(base[pos + i])) >= 0; i++) {
				if (size >> 56)
					return -413;
				size = size << 4 | d;
			}
			if (!i || (i < llen && base[pos + i] != ';' && base[pos + i] != ' ' &&
				   base[pos + i] != '\t'))
				return -400;
			pos += llen + 2;
			if (c->body.len + size > srv.conf.max_body)
				return -413;
			c->ck_left = size;
			c->ck_state = size ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA:
			n = avail - pos < c->ck_left ? avail - pos : c->ck_left;
			buf_put(&c->body, base + pos, n);
			pos += n;
			c->ck_left -= n;
			if (c->ck_left)
				goto more;
			c->ck_state = CK_CRLF;
			break;
		case CK_CRLF:
			if (avail - pos < 2)
				goto more;
			if (base[pos] != '\r' || base[pos + 1] != '\n')
				return -400;
			pos += 2;
			c->ck_state = CK_SIZE;
			break;
		case CK_TRAILER:
			rc = line_at(base, pos, avail, &llen);
			if (rc < 0)
				return -400;
			if (!rc) {
				if (avail - pos > MOCK_MAX_HDR_BYTES)
					return -431;
				goto more;
			}
			pos += llen + 2;
			if (llen)
				break;	/* a trailer field */
			r->body = c->body.p;
			r->body_len = c->body.len;
			r->consumed = pos;
			return 1;
		}
	}
more:
	c->ck_pos = pos;
	maybe_continue(c, r);
	return 0;
}

int http_parse(struct conn *c, struct req *r)
{
	const char *base, *e;
	size_t avail, from;
	bool has_clen = false;
	uint64_t clen = 0;
	int err;

	/* RFC 9112 2.2: empty lines before a request-line are ignored */
	while (!c->hdr_len && c->in.len - c->in_off >= 2 && c->in.p[c->in_off] == '\r' &&
	       c->in.p[c->in_off + 1] == '\n')
		c->in_off += 2;
	avail = c->in.len - c->in_off;
	if (!avail)
		return 0;
	base = c->in.p + c->in_off;
	if (!c->hdr_len) {
		from = c->scan > 3 ? c->scan - 3 : 0;
		e = memmem(base + from, avail - from, "\r\n\r\n", 4);
		if (!e) {
			c->scan = avail;
			return avail > MOCK_MAX_HDR_BYTES ? -431 : 0;
		}
		c->hdr_len = e - base + 4;
		if (c->hdr_len > MOCK_MAX_HDR_BYTES)
			return -431;
	}

	r->chunked = r->expect = r->close = false;
	r->h_fault = r->h_echo = r->h_tokens = r->h_interval = NULL;
	r->body = NULL;
	r->body_len = 0;
	err = parse_head(base, c->hdr_len, r, &clen, &has_clen);
	if (err)
		return err;
	if (r->chunked)
		return dechunk(c, r, base, avail);
	if (clen > srv.conf.max_body)
		return -413;
	if (avail - c->hdr_len < clen) {
		maybe_continue(c, r);
		return 0;
	}
	r->body = base + c->hdr_len;
	r->body_len = clen;
	r->consumed = c->hdr_len + clen;
	return 1;
}

void http_consume(struct conn *c, const struct req *r)
{
	c->in_off += r->consumed;
	c->scan = 0;
	c->hdr_len = 0;
	c->ck_state = CK_SIZE;
	c->ck_pos = 0;
	c->ck_left = 0;
	c->body.len = 0;
	c->continued = false;
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 529: return "Overloaded";
	default: return "Status";
	}
}

static bool echo_wanted(const struct hdr *h)
{
	int i;

	if (srv.conf.echo_all)
		return true;
	for (i = 0; i < srv.conf.n_echo_hdrs; i++)
		if (hdr_is(h, srv.conf.echo_hdrs[i]))
			return true;
	return false;
}

/* x-mock-method, x-mock-target, x-mock-body-bytes and x-mock-req-<name> per chosen field. */
static void echo_headers(struct buf *out, const struct req *r)
{
	uint32_t i, k;

	buf_lit(out, "x-mock-method: ");
	buf_put(out, r->method, r->mlen);
	buf_lit(out, "\r\nx-mock-target: ");
	buf_put(out, r->target, r->tlen);
	buf_lit(out, "\r\nx-mock-body-bytes: ");
	buf_u64(out, r->body_len);
	buf_lit(out, "\r\n");
	for (i = 0; i < r->nhdr; i++) {
		const struct hdr *h = &r->hdr[i];

		if (!echo_wanted(h))
			continue;
		buf_lit(out, "x-mock-req-");
		buf_grow(out, h->nlen);
		for (k = 0; k < h->nlen; k++)
			out->p[out->len++] = h->name[k] | (h->name[k] >= 'A' && h->name[k] <= 'Z' ? 0x20 : 0);
		buf_lit(out, ": ");
		buf_put(out, h->val, h->vlen);
		buf_lit(out, "\r\n");
	}
}

void http_head(struct buf *out, const struct req *r, int status, const char *ctype,
	       long long clen, bool keepalive)
{
	buf_lit(out, "HTTP/1.1 ");
	buf_u64(out, status);
	buf_lit(out, " ");
	buf_puts(out, reason(status));
	buf_lit(out, "\r\nServer: mockllm\r\n");
	if (ctype) {
		buf_lit(out, "Content-Type: ");
		buf_puts(out, ctype);
		buf_lit(out, "\r\n");
	}
	if (clen >= 0) {
		buf_lit(out, "Content-Length: ");
		buf_u64(out, clen);
		buf_lit(out, "\r\n");
	} else {
		if (clen == HTTP_CHUNKED)
			buf_lit(out, "Transfer-Encoding: chunked\r\n");
		buf_lit(out, "Cache-Control: no-cache\r\n");
	}
	if (!keepalive)
		buf_lit(out, "Connection: close\r\n");
	else if (r && r->minor == 0)
		buf_lit(out, "Connection: keep-alive\r\n");
	if (r && r->echo)
		echo_headers(out, r);
	buf_lit(out, "\r\n");
}
