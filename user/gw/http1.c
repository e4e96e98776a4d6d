// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP/1.x heads, strictly by RFC 9112: a gateway that reads a message
 * differently from the server behind it lets a second request ride inside
 * the first (request smuggling), so where the RFC allows a choice between
 * repairing and refusing, we refuse. What is refused, and with what:
 *
 *   400  bare CR or LF (CRLF only), NUL or another CTL anywhere in the head;
 *        a method that is not a token, a target with a byte outside RFC 3986
 *        (or a '%' not followed by two hex digits, or a '#'), more or less
 *        than one SP between the parts of the request line, no version;
 *        obs-fold (a field line starting with SP/HTAB, also right after the
 *        start line), white space before the colon, a field name that is not
 *        a token; no Host in HTTP/1.1, two Hosts in any version, a Host
 *        that is not uri-host[:port];
 *        Transfer-Encoding with Content-Length, Transfer-Encoding in an
 *        HTTP/1.0 message, chunked not the final coding (RFC 9112 6.3 rule
 *        4 says 400 for requests, not 501), chunked twice; a Content-Length
 *        that is not 1*DIGIT or does not fit 63 bits, and any second
 *        Content-Length even with the same value (RFC 9110 8.6 allows
 *        either; an identical duplicate is a broken or hostile sender).
 *   413  Content-Length past max_body_bytes.
 *   414  request line past max_request_line.
 *   431  head past max_header_bytes, more field lines than max_headers.
 *   501  a transfer coding other than chunked, chunked being final.
 *   505  a well-formed version other than HTTP/1.0 and HTTP/1.1: HTTP/2.0
 *        (the h2 preface "PRI * HTTP/2.0"), HTTP/0.9, and HTTP/1.2 too,
 *        which RFC 9112 2.3 would read as 1.1: no such version exists, so
 *        a client sending it is not one we want to guess about.
 *
 * Accepted: empty lines before the request line (RFC 9112 2.2), leading
 * zeros in Content-Length (1*DIGIT), obs-text in field values, empty list
 * elements in Transfer-Encoding and Connection (RFC 9110 5.6.1), an
 * upstream's status line without the SP before an empty reason (servers
 * that omit it exist, and the reason is ignored anyway).
 */
#include <limits.h>
#include <string.h>

#include "http1.h"

enum { PH_INIT = 0, PH_LEAD, PH_START, PH_FIELDS, PH_DONE };

#define T	HTTP1_C_TCHAR
#define U	HTTP1_C_URI
#define H	HTTP1_C_HOST
#define X	HTTP1_C_HEX
#define C	HTTP1_C_CTL

const unsigned char http1_ctype[256] = {
	[0x00 ... 0x08] = C,
	[0x0a ... 0x1f] = C,
	[0x7f] = C,
	['0' ... '9'] = T | U | H | X,
	['A' ... 'F'] = T | U | H | X,
	['G' ... 'Z'] = T | U | H,
	['a' ... 'f'] = T | U | H | X,
	['g' ... 'z'] = T | U | H,
	/* unreserved */
	['-'] = T | U | H, ['.'] = T | U | H, ['_'] = T | U | H, ['~'] = T | U | H,
	/* sub-delims that are also tchar */
	['!'] = T | U | H, ['$'] = T | U | H, ['&'] = T | U | H, ['\''] = T | U | H,
	['*'] = T | U | H, ['+'] = T | U | H,
	/* sub-delims that are not */
	['('] = U | H, [')'] = U | H, [','] = U | H, [';'] = U | H, ['='] = U | H,
	['%'] = T | U | H,
	['#'] = T, ['^'] = T, ['`'] = T, ['|'] = T,
	[':'] = U | H, ['@'] = U, ['/'] = U, ['?'] = U,
	['['] = H, [']'] = H,
};

#undef T
#undef U
#undef H
#undef X
#undef C

static const struct http1_limits def_limits = {
	.max_header_bytes = HTTP1_DEF_MAX_HEADER_BYTES,
	.max_headers = HTTP1_DEF_MAX_HEADERS,
	.max_request_line = HTTP1_DEF_MAX_REQUEST_LINE,
};

static inline unsigned char lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

bool http1_iequal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		if (lc(a[i]) != lc(b[i]))
			return false;
	return true;
}

static inline bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The next element of a comma-separated list, OWS trimmed, maybe empty.
 * *pp starts at the list and is NULL once the last element is taken.
 */
static bool list_next(const char **pp, const char *end, const char **el, size_t *el_len)
{
	const char *p = *pp, *comma, *e;

	if (!p)
		return false;
	comma = memchr(p, ',', end - p);
	e = comma ? comma : end;
	*pp = comma ? comma + 1 : NULL;
	while (p < e && is_ows(*p))
		p++;
	while (e > p && is_ows(e[-1]))
		e--;
	*el = p;
	*el_len = e - p;
	return true;
}

bool http1_list_has(const char *list, size_t list_len, const char *tok, size_t tok_len)
{
	const char *p = list, *el;
	size_t n;

	while (list_next(&p, list + list_len, &el, &n))
		if (http1_iequal(el, n, tok, tok_len))
			return true;
	return false;
}

static size_t token_len(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && http1_is(p[i], HTTP1_C_TCHAR); i++)
		;
	return i;
}

static int refuse(struct http1_msg *m, int status, const char *why)
{
	m->error = why;
	return -status;
}

/* Bytes of class, where '%' must start a percent-encoded octet. */
static bool uri_chars(const char *p, size_t n, unsigned char class)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '%') {
			if (n - i < 3 || !http1_is(p[i + 1], HTTP1_C_HEX) ||
			    !http1_is(p[i + 2], HTTP1_C_HEX))
				return false;
			i += 2;
		} else if (!http1_is(p[i], class)) {
			return false;
		}
	}
	return true;
}

static int check_version(struct http1_msg *m, const char *p, size_t n)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return refuse(m, 400, "malformed HTTP version");
	if (p[5] != '1' || p[7] > '1')
		return refuse(m, 505, "HTTP version not supported");
	m->minor = p[7] - '0';
	return 0;
}

static enum http1_method method_of(const char *p, size_t n)
{
	static const struct {
		const char *name;
		enum http1_method m;
	} known[] = {
		{ "GET", HTTP1_GET }, { "HEAD", HTTP1_HEAD }, { "POST", HTTP1_POST },
		{ "PUT", HTTP1_PUT }, { "DELETE", HTTP1_DELETE }, { "CONNECT", HTTP1_CONNECT },
		{ "OPTIONS", HTTP1_OPTIONS }, { "TRACE", HTTP1_TRACE }, { "PATCH", HTTP1_PATCH },
	};
	size_t i;

	/* methods are case-sensitive (RFC 9110 9.1): "get" is another method */
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == n && !memcmp(known[i].name, p, n))
			return known[i].m;
	return HTTP1_OTHER;
}

/*
 * origin-form "/path?query" for most methods, asterisk-form "*" for
 * OPTIONS, authority-form "host:port" for CONNECT and only for it, and
 * absolute-form "scheme://..." (which proxies must accept).
 */
static int check_target(struct http1_msg *m, const char *p, size_t n)
{
	size_t i;

	if (m->method == HTTP1_CONNECT) {
		if (!memchr(p, ':', n) || !uri_chars(p, n, HTTP1_C_HOST))
			return refuse(m, 400, "invalid CONNECT authority");
		return 0;
	}
	if (n == 1 && p[0] == '*') {
		if (m->method != HTTP1_OPTIONS)
			return refuse(m, 400, "asterisk-form outside OPTIONS");
		return 0;
	}
	if (p[0] == '/') {
		if (!uri_chars(p, n, HTTP1_C_URI))
			return refuse(m, 400, "invalid character in request-target");
		return 0;
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (!((lc(c) >= 'a' && lc(c) <= 'z') ||
		      (i && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			break;
	}
	if (!i || n - i < 4 || memcmp(p + i, "://", 3) ||
	    !uri_chars(p + i + 3, n - i - 3, HTTP1_C_URI | HTTP1_C_HOST))
		return refuse(m, 400, "invalid request-target");
	m->flags |= HTTP1_F_ABSOLUTE_FORM;
	return 0;
}

/* request-line = method SP request-target SP HTTP-version, nothing more */
static int parse_request_line(struct http1_msg *m, const char *p, size_t n)
{
	const char *t, *sp, *end = p + n;
	size_t i;
	int ret;

	i = token_len(p, n);
	if (!i || i == n || p[i] != ' ')
		return refuse(m, 400, "invalid method");
	m->method_str = p;
	m->method_len = i;
	m->method = method_of(p, i);

	t = p + i + 1;
	sp = memchr(t, ' ', end - t);
	if (!sp)
		return refuse(m, 400, "no HTTP version in request line");
	if (sp == t)
		return refuse(m, 400, "empty request-target");
	/* the version first: the h2 preface "PRI * HTTP/2.0" is a 505, not a bad '*' */
	ret = check_version(m, sp + 1, end - sp - 1);
	if (ret)
		return ret;
	m->target = t;
	m->target_len = sp - t;
	return check_target(m, t, sp - t);
}

/* status-line = HTTP-version SP 3DIGIT [SP reason-phrase]; 100-599 */
static int parse_status_line(struct http1_msg *m, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	const char *s;
	int ret;

	if (!sp)
		return refuse(m, 400, "malformed status line");
	ret = check_version(m, p, sp - p);
	if (ret)
		return ret;
	s = sp + 1;
	if (p + n - s < 3 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
	    s[2] < '0' || s[2] > '9' || (p + n - s > 3 && s[3] != ' '))
		return refuse(m, 400, "invalid status code");
	m->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	m->reason = p + n - s > 3 ? s + 4 : s + 3;
	m->reason_len = p + n - m->reason;
	return 0;
}

/* NULL if p[0, n) (not empty, no CR/LF/CTL but HTAB) is a field line */
static const char *field_line_error(const char *p, size_t n)
{
	size_t i;

	if (is_ows(p[0]))
		return "obs-fold or white space before a field line";
	i = token_len(p, n);
	if (i == n)
		return "field line without a colon";
	if (p[i] == ':')
		return i ? NULL : "empty field name";
	if (is_ows(p[i]))
		return "white space before colon";
	return "invalid character in field name";
}

/* A CRLF is at cr: the line from m->line is complete. >0 at the end of the head. */
static int end_line(struct http1_msg *m, const char *buf, size_t cr,
		    unsigned int max_fields, bool request)
{
	const char *p = buf + m->line;
	size_t n = cr - m->line;
	const char *why;
	int ret;

	switch (m->phase) {
	case PH_LEAD:
		break;
	case PH_START:
		ret = request ? parse_request_line(m, p, n) : parse_status_line(m, p, n);
		if (ret)
			return ret;
		m->phase = PH_FIELDS;
		break;
	default:
		if (!n)
			return (int)(cr + 2);
		why = field_line_error(p, n);
		if (why)
			return refuse(m, 400, why);
		if (++m->nlines > max_fields)
			return refuse(m, 431, "too many header fields");
		break;
	}
	m->line = cr + 2;
	return 0;
}

/*
 * Checks bytes from m->scan on, line by line, and returns the head length
 * once the blank line is in, 0 for more, or a refusal. A CR that is the
 * last byte is left for the next call, which will see what follows it.
 */
static int scan_head(struct http1_msg *m, const char *buf, size_t len,
		     const struct http1_limits *lim, bool request)
{
	size_t max_bytes = lim->max_header_bytes < INT_MAX ? lim->max_header_bytes : INT_MAX;
	unsigned int max_fields = lim->max_headers < m->hdr_cap ? lim->max_headers : m->hdr_cap;
	size_t i;
	int ret;

	if (m->phase == PH_INIT || len < m->scan) {
		http1_msg_reset(m);
		m->phase = request ? PH_LEAD : PH_START;
	}
	/* a request line read by an earlier call: its pointers follow the buffer */
	if (request && m->phase == PH_FIELDS) {
		m->method_str = buf + m->start;
		m->target = m->method_str + m->method_len + 1;
	}
	for (i = m->scan; i < len; i++) {
		unsigned char c = buf[i];

		if (m->phase == PH_LEAD && c != '\r') {
			m->phase = PH_START;
			m->start = m->line = i;
		}
		if (m->phase == PH_START && c != '\r' && i - m->line >= lim->max_request_line)
			return refuse(m, 414, "start line too long");
		if (i >= max_bytes)
			return refuse(m, 431, "header section too large");
		if (c == '\r') {
			if (i + 1 == len)
				break;
			if (buf[i + 1] != '\n')
				return refuse(m, 400, "bare CR in head");
			if (i + 1 >= max_bytes)
				return refuse(m, 431, "header section too large");
			ret = end_line(m, buf, i, max_fields, request);
			if (ret)
				return ret;
			i++;
		} else if (c == '\n') {
			return refuse(m, 400, "bare LF in head");
		} else if (http1_is(c, HTTP1_C_CTL)) {
			return refuse(m, 400, c ? "control character in head" : "NUL in head");
		}
	}
	m->scan = i;
	return 0;
}

/* Everything the framing depends on, gathered over all field lines. */
struct framing {
	unsigned int ncl;
	unsigned int nhost;
	unsigned int nchunked;		/* "chunked" elements of Transfer-Encoding */
	unsigned int ncodings;		/* all non-empty elements */
	bool te;
	bool te_other;			/* a coding other than plain "chunked" */
	bool last_chunked;
	bool conn_upgrade;
	bool upgrade;
};

/* 1*DIGIT, at most 2^63 - 1 so that it fits an off_t */
static bool parse_content_length(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		unsigned int d = (unsigned char)p[i] - '0';

		if (d > 9 || v > ((uint64_t)INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
static int add_codings(struct http1_msg *m, struct framing *f, const char *v, size_t n)
{
	const char *p = v, *el;
	size_t len, i;

	f->te = true;
	while (list_next(&p, v + n, &el, &len)) {
		bool chunked;

		if (!len)
			continue;
		i = token_len(el, len);
		if (!i)
			return refuse(m, 400, "invalid Transfer-Encoding");
		if (i < len) {
			while (i < len && is_ows(el[i]))
				i++;
			if (i == len || el[i] != ';')
				return refuse(m, 400, "invalid Transfer-Encoding");
			/* chunked takes no parameters: whatever this is, we do not implement it */
			chunked = false;
		} else {
			chunked = http1_iequal(el, len, "chunked", 7);
		}
		f->ncodings++;
		f->nchunked += chunked;
		f->te_other |= !chunked;
		f->last_chunked = chunked;
	}
	return 0;
}

static int add_connection(struct http1_msg *m, struct framing *f, const char *v, size_t n)
{
	const char *p = v, *el;
	size_t len;

	while (list_next(&p, v + n, &el, &len)) {
		if (token_len(el, len) != len)
			return refuse(m, 400, "invalid Connection");
		if (http1_iequal(el, len, "close", 5))
			m->flags |= HTTP1_F_CONN_CLOSE;
		else if (http1_iequal(el, len, "keep-alive", 10))
			m->flags |= HTTP1_F_CONN_KEEP_ALIVE;
		else if (http1_iequal(el, len, "upgrade", 7))
			f->conn_upgrade = true;
	}
	return 0;
}

#define NAME_IS(h, lit)	http1_iequal((h)->name, (h)->name_len, lit, sizeof(lit) - 1)

static int add_field(struct http1_msg *m, struct framing *f, const struct http1_header *h,
		     bool request)
{
	if (NAME_IS(h, "content-length")) {
		if (++f->ncl > 1)
			return refuse(m, 400, "more than one Content-Length");
		if (!parse_content_length(h->value, h->value_len, &m->content_length))
			return refuse(m, 400, "invalid Content-Length");
		m->flags |= HTTP1_F_HAS_CL;
	} else if (NAME_IS(h, "transfer-encoding")) {
		m->flags |= HTTP1_F_HAS_TE;
		return add_codings(m, f, h->value, h->value_len);
	} else if (NAME_IS(h, "connection")) {
		return add_connection(m, f, h->value, h->value_len);
	} else if (NAME_IS(h, "upgrade")) {
		f->upgrade = true;
	} else if (!request) {
		return 0;
	} else if (NAME_IS(h, "host")) {
		if (++f->nhost > 1)
			return refuse(m, 400, "more than one Host");
		if (!uri_chars(h->value, h->value_len, HTTP1_C_HOST))
			return refuse(m, 400, "invalid Host");
	} else if (NAME_IS(h, "expect") && m->minor == 1) {
		/* RFC 9110 10.1.1: a 100-continue in an HTTP/1.0 request is ignored */
		if (http1_iequal(h->value, h->value_len, "100-continue", 12))
			m->flags |= HTTP1_F_EXPECT_CONTINUE;
		else
			m->flags |= HTTP1_F_EXPECT_OTHER;
	}
	return 0;
}

/* RFC 9112 6.3, requests: rules 3, 4, 5 and 7; responses: all of them. */
static int decide_body(struct http1_msg *m, const struct framing *f,
		       const struct http1_limits *lim, bool request, bool to_head)
{
	if (f->te) {
		if (!f->ncodings)
			return refuse(m, 400, "empty Transfer-Encoding");
		if (f->ncl)
			return refuse(m, 400, "Transfer-Encoding with Content-Length");
		if (m->minor == 0)
			return refuse(m, 400, "Transfer-Encoding in HTTP/1.0");
		if (!f->last_chunked) {
			if (request)
				return refuse(m, 400, "chunked is not the final transfer coding");
			m->body = HTTP1_BODY_CLOSE;
		} else if (f->nchunked > 1) {
			return refuse(m, 400, "chunked applied more than once");
		} else if (f->te_other) {
			return refuse(m, 501, "transfer coding not implemented");
		} else {
			m->body = HTTP1_BODY_CHUNKED;
		}
	} else if (f->ncl) {
		if (request && lim->max_body_bytes && m->content_length > lim->max_body_bytes)
			return refuse(m, 413, "Content-Length too large");
		m->body = m->content_length ? HTTP1_BODY_LENGTH : HTTP1_BODY_NONE;
	} else {
		m->body = request ? HTTP1_BODY_NONE : HTTP1_BODY_CLOSE;
	}
	if (!request && (to_head || m->status < 200 || m->status == 204 || m->status == 304))
		m->body = HTTP1_BODY_NONE;
	return 0;
}

/* The head [0, head) is lexically valid: take its fields and decide framing. */
static int finish(struct http1_msg *m, const char *buf, size_t head,
		  const struct http1_limits *lim, bool request, bool to_head)
{
	const char *p = buf + m->start, *end = buf + head - 2, *cr, *colon, *v, *e;
	struct framing f = {};
	unsigned int i;
	int ret;

	m->flags = 0;
	m->nhdr = 0;
	m->body = HTTP1_BODY_NONE;
	m->content_length = 0;
	cr = memchr(p, '\r', end - p);
	ret = request ? parse_request_line(m, p, cr - p) : parse_status_line(m, p, cr - p);
	if (ret)
		return ret;
	for (p = cr + 2; p < end; p = cr + 2) {
		struct http1_header *h = &m->hdr[m->nhdr++];

		cr = memchr(p, '\r', end - p);
		colon = memchr(p, ':', cr - p);
		for (v = colon + 1; v < cr && is_ows(*v); v++)
			;
		for (e = cr; e > v && is_ows(e[-1]); e--)
			;
		h->name = p;
		h->name_len = colon - p;
		h->value = v;
		h->value_len = e - v;
	}
	for (i = 0; i < m->nhdr; i++) {
		ret = add_field(m, &f, &m->hdr[i], request);
		if (ret)
			return ret;
	}
	if (request) {
		if (!f.nhost && m->minor == 1)
			return refuse(m, 400, "no Host in HTTP/1.1 request");
		if (f.upgrade && f.conn_upgrade && m->minor == 1)
			m->flags |= HTTP1_F_UPGRADE;
	} else if (f.upgrade && f.conn_upgrade) {
		m->flags |= HTTP1_F_UPGRADE;
	}
	ret = decide_body(m, &f, lim, request, to_head);
	if (ret)
		return ret;

	if (m->minor == 1 ? !(m->flags & HTTP1_F_CONN_CLOSE) :
	    (m->flags & (HTTP1_F_CONN_KEEP_ALIVE | HTTP1_F_CONN_CLOSE)) == HTTP1_F_CONN_KEEP_ALIVE)
		m->flags |= HTTP1_F_KEEP_ALIVE;
	if (m->body == HTTP1_BODY_CLOSE)
		m->flags &= ~HTTP1_F_KEEP_ALIVE;
	return (int)head;
}

static int parse(struct http1_msg *m, const char *buf, size_t len,
		 const struct http1_limits *lim, bool request, bool to_head)
{
	int ret;

	if (!lim)
		lim = &def_limits;
	if (m->phase == PH_DONE && len >= m->scan)
		return finish(m, buf, m->scan, lim, request, to_head);
	ret = scan_head(m, buf, len, lim, request);
	if (ret <= 0)
		return ret;
	m->phase = PH_DONE;
	m->scan = ret;
	return finish(m, buf, ret, lim, request, to_head);
}

int http1_parse_request(struct http1_msg *m, const char *buf, size_t len,
			const struct http1_limits *lim)
{
	return parse(m, buf, len, lim, true, false);
}

int http1_parse_response(struct http1_msg *m, const char *buf, size_t len,
			 const struct http1_limits *lim, bool to_head)
{
	int ret = parse(m, buf, len, lim, false, to_head);

	return ret < 0 ? -502 : ret;
}

void http1_msg_reset(struct http1_msg *m)
{
	struct http1_header *hdr = m->hdr;
	unsigned int cap = m->hdr_cap;

	memset(m, 0, sizeof(*m));
	m->hdr = hdr;
	m->hdr_cap = cap;
}

void http1_msg_init(struct http1_msg *m, struct http1_header *hdr, unsigned int cap)
{
	m->hdr = hdr;
	m->hdr_cap = cap;
	http1_msg_reset(m);
}

const struct http1_header *http1_find(const struct http1_msg *m, const char *name,
				      const struct http1_header *prev)
{
	size_t n = strlen(name);
	unsigned int i;

	for (i = prev ? prev - m->hdr + 1 : 0; i < m->nhdr; i++)
		if (http1_iequal(m->hdr[i].name, m->hdr[i].name_len, name, n))
			return &m->hdr[i];
	return NULL;
}

bool http1_is_hop_by_hop(const struct http1_msg *m, const char *name, size_t len)
{
	static const char *const fixed[] = {
		"connection", "keep-alive", "proxy-connection", "te", "trailer",
		"transfer-encoding", "upgrade",
	};
	const struct http1_header *h = NULL;
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (http1_iequal(name, len, fixed[i], strlen(fixed[i])))
			return true;
	while ((h = http1_find(m, "connection", h)))
		if (http1_list_has(h->value, h->value_len, name, len))
			return true;
	return false;
}
