/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * HTTP/1.x message heads (RFC 9112), requests from clients and responses
 * from upstreams: strict, bounded, zero-copy and restartable.
 *
 * The parser is called on the bytes received so far, each time more
 * arrive. It never copies: names, values, method and target point into
 * the buffer of the last call. Bytes already checked are not checked
 * again, so a head dripped byte by byte costs O(n), and a bad byte is
 * refused as soon as it arrives (bare CR/LF, NUL, a bad start line, an
 * obs-fold, a line past a bound) rather than when the head completes.
 * The buffer may move between calls (pointers are taken at the end), but
 * the bytes already passed must not change.
 *
 * Any refusal means the framing of the stream is unknown: the caller
 * answers with the status and closes the connection. After a refusal of
 * a request, method_str and target are those of its request line if it
 * was read (else NULL), pointing into the buffer of that call, so the
 * answer can be in the shape of the API that was asked.
 */
#ifndef SLUICE_GW_HTTP1_H
#define SLUICE_GW_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP1_DEF_MAX_HEADER_BYTES	(16 * 1024)
#define HTTP1_DEF_MAX_HEADERS		100
#define HTTP1_DEF_MAX_REQUEST_LINE	(8 * 1024)

/* All three head bounds must be set: 0 would refuse everything. */
struct http1_limits {
	size_t max_header_bytes;	/* the whole head, start line to blank line: 431 past it */
	unsigned int max_headers;	/* field lines: 431 past it */
	size_t max_request_line;	/* start line without its CRLF: 414 past it */
	uint64_t max_body_bytes;	/* a Content-Length past it: 413; 0: no bound */
};

enum http1_method {
	HTTP1_OTHER = 0,	/* a valid token we do not know: the caller decides (501) */
	HTTP1_GET,
	HTTP1_HEAD,
	HTTP1_POST,
	HTTP1_PUT,
	HTTP1_DELETE,
	HTTP1_CONNECT,
	HTTP1_OPTIONS,
	HTTP1_TRACE,
	HTTP1_PATCH,
};

/* How the body is delimited (RFC 9112 section 6.3). */
enum http1_body {
	HTTP1_BODY_NONE = 0,	/* no framing header, Content-Length: 0, 1xx/204/304, HEAD */
	HTTP1_BODY_LENGTH,	/* content_length bytes */
	HTTP1_BODY_CHUNKED,	/* chunked coding, see chunked.h */
	HTTP1_BODY_CLOSE,	/* responses only: until the upstream closes */
};

#define HTTP1_F_KEEP_ALIVE	(1U << 0)	/* the connection may carry another message */
#define HTTP1_F_EXPECT_CONTINUE	(1U << 1)	/* HTTP/1.1 "Expect: 100-continue" */
#define HTTP1_F_EXPECT_OTHER	(1U << 2)	/* another expectation: 417 is allowed */
#define HTTP1_F_UPGRADE		(1U << 3)	/* Upgrade, and named in Connection */
#define HTTP1_F_CONN_CLOSE	(1U << 4)	/* Connection: close */
#define HTTP1_F_CONN_KEEP_ALIVE	(1U << 5)	/* Connection: keep-alive */
#define HTTP1_F_HAS_CL		(1U << 6)	/* a Content-Length was sent (even 0) */
#define HTTP1_F_HAS_TE		(1U << 7)	/* a Transfer-Encoding was sent */
#define HTTP1_F_ABSOLUTE_FORM	(1U << 8)	/* target "scheme://authority...": not Host */

struct http1_header {
	const char *name;
	const char *value;	/* without leading and trailing white space */
	uint32_t name_len;
	uint32_t value_len;
};

struct http1_msg {
	/* request line */
	enum http1_method method;
	const char *method_str;
	const char *target;
	uint32_t method_len;
	uint32_t target_len;
	/* status line */
	unsigned int status;
	const char *reason;
	uint32_t reason_len;

	unsigned int minor;		/* HTTP/1.<minor>: 0 or 1 */
	unsigned int flags;		/* HTTP1_F_* */
	enum http1_body body;
	uint64_t content_length;	/* HTTP1_BODY_LENGTH (and HEAD/304 answers) */

	struct http1_header *hdr;	/* the caller's array, in order of arrival */
	unsigned int nhdr;
	unsigned int hdr_cap;

	const char *error;		/* why the last call refused: static, for the log */

	/* private: where a restarted call resumes */
	size_t scan;			/* bytes checked */
	size_t line;			/* start of the line being read */
	size_t start;			/* start of the start line (after leading CRLFs) */
	unsigned int nlines;		/* field lines so far */
	int phase;
};

/* Ties hdr[cap] to m and makes it ready for a first message. */
void http1_msg_init(struct http1_msg *m, struct http1_header *hdr, unsigned int cap);
/* Ready for the next message on the same connection (keeps the array). */
void http1_msg_reset(struct http1_msg *m);

/*
 * Parses a request head at the start of buf[0, len): len grows from call
 * to call over the same bytes. lim NULL takes the defaults; at most
 * min(lim->max_headers, hdr_cap) field lines are taken.
 *
 * Returns the length of the head, blank line included (what follows is
 * the body, or a pipelined request for the next call); 0 when more bytes
 * are needed; or -status (-400, -413, -414, -431, -501, -505) with
 * m->error set. Empty lines before the request line are skipped
 * (RFC 9112 section 2.2) and counted in the head.
 */
int http1_parse_request(struct http1_msg *m, const char *buf, size_t len,
			const struct http1_limits *lim);

/*
 * The same for an upstream's response head; to_head: it answers a HEAD
 * request, so it has no body whatever its headers say. A 1xx is returned
 * like any head (body NONE): the caller reads the next one after it. Any
 * refusal is -502, with m->error saying what was wrong.
 */
int http1_parse_response(struct http1_msg *m, const char *buf, size_t len,
			 const struct http1_limits *lim, bool to_head);

/* A header by name, ASCII case-insensitive: the first (prev NULL) or the next after prev. */
const struct http1_header *http1_find(const struct http1_msg *m, const char *name,
				      const struct http1_header *prev);

/* Is tok, case-insensitive, an element of the comma-separated list? ("a, B ,c" has "b") */
bool http1_list_has(const char *list, size_t list_len, const char *tok, size_t tok_len);

/*
 * Must a proxy drop this header when forwarding? Connection, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, and any name
 * listed in a Connection header of m.
 */
bool http1_is_hop_by_hop(const struct http1_msg *m, const char *name, size_t len);

/* Same bytes, ASCII case-insensitive (never the locale's idea of case). */
bool http1_iequal(const char *a, size_t alen, const char *b, size_t blen);

/* Byte classes shared by the head, chunked and trailer parsers. */
#define HTTP1_C_TCHAR	0x01	/* token (RFC 9110 section 5.6.2) */
#define HTTP1_C_URI	0x02	/* origin-form target: pchar, '/', '?' ('%' checked apart) */
#define HTTP1_C_HOST	0x04	/* Host: unreserved, sub-delims, ':', '[', ']', '%' */
#define HTTP1_C_HEX	0x08
#define HTTP1_C_CTL	0x10	/* 0x00-0x1f but HTAB, and DEL */

extern const unsigned char http1_ctype[256];

static inline bool http1_is(unsigned char c, unsigned char class)
{
	return http1_ctype[c] & class;
}

#endif
