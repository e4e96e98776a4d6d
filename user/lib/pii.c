// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Built-in PII and secret detectors: patterns, edge rules, validators. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pii.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * ASCII classes by hand: <ctype.h> depends on the locale and is undefined
 * for negative chars, and every byte here may be anything.
 */
static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_alpha(int c)
{
	return is_upper(c) || is_lower(c);
}

static bool is_alnum(int c)
{
	return is_digit(c) || is_alpha(c);
}

static bool is_xdigit(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_word(int c)
{
	return is_alnum(c) || c == '_';
}

static bool is_token(int c)
{
	return is_word(c) || c == '-';
}

static bool is_b64(int c)
{
	return is_alnum(c) || c == '/' || c == '+';
}

static int to_upper(int c)
{
	return is_lower(c) ? c - 'a' + 'A' : c;
}

/* s[0, n) are all of class ok. */
static bool all_of(const char *s, size_t n, bool (*ok)(int))
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Upper case, lower case and a digit: a random key of 30 characters or
 * more has all three (the chance it lacks one is below 1e-2), a word or an
 * identifier someone typed seldom does.
 */
static bool mixed(const char *s, size_t n)
{
	bool up = false, lo = false, dig = false;
	size_t i;

	for (i = 0; i < n; i++) {
		up |= is_upper(s[i]);
		lo |= is_lower(s[i]);
		dig |= is_digit(s[i]);
	}
	return up && lo && dig;
}

/* s[0, n) begins with the NUL-terminated p, case kept. */
static bool starts(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && !memcmp(s, p, pl);
}

/* The decimal value of s[0, n), all digits, n <= 9. */
static unsigned int decimal(const char *s, size_t n)
{
	unsigned int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned int)(s[i] - '0');
	return v;
}

/* Edges */

struct edge_rule {
	const char *touch;	/* bytes besides [0-9A-Za-z] that may not touch */
	const char *glue;	/* bytes that join the match to what lies beyond them... */
	bool (*beyond)(int c);	/* ...when that is of this class */
};

static const struct edge_rule edge_rules[] = {
	[PII_EDGE_WORD]		= { "", ".-", is_alnum },
	[PII_EDGE_NUMBER]	= { "", ".-", is_digit },
	[PII_EDGE_PHONE]	= { "", ".- ", is_digit },
	[PII_EDGE_IPV4]		= { "", ".", is_digit },
	[PII_EDGE_IPV6]		= { "", ":.", is_xdigit },
	[PII_EDGE_TOKEN]	= { "_-", ".", is_token },
	[PII_EDGE_BASE64]	= { "/+=", "", NULL },
};

/* c is in the NUL-terminated set; a NUL byte never is. */
static bool in_set(const char *set, int c)
{
	return c && strchr(set, c);
}

/* Does byte c, next to the match, with b beyond it (-1: none), join the match to more? */
static bool edge_joins(const struct edge_rule *r, int c, int b)
{
	if (is_alnum(c) || in_set(r->touch, c))
		return true;
	return b >= 0 && in_set(r->glue, c) && r->beyond(b);
}

bool pii_boundary_ok(const struct pii_detector *d, const char *text, size_t len,
		     size_t start, size_t end)
{
	const unsigned char *t = (const unsigned char *)text;
	const struct edge_rule *r;

	if (start > end || end > len)
		return false;
	if (d->edge == PII_EDGE_NONE)
		return true;
	if ((size_t)d->edge >= ARRAY_SIZE(edge_rules))
		return false;
	r = &edge_rules[d->edge];
	if (start > 0 && edge_joins(r, t[start - 1], start > 1 ? t[start - 2] : -1))
		return false;
	if (end < len && edge_joins(r, t[end], end + 1 < len ? t[end + 1] : -1))
		return false;
	return true;
}

/* Cards */

bool pii_luhn(const char *digits, size_t n)
{
	unsigned int sum = 0, v;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_digit(digits[n - 1 - i]))
			return false;
		v = (unsigned int)(digits[n - 1 - i] - '0');
		if (i & 1)
			v = v * 2 > 9 ? v * 2 - 9 : v * 2;
		sum += v;
	}
	return sum % 10 == 0;
}

#define LEN(n)		(1U << (n))
#define LENS(a, b)	((LEN((b) + 1) - 1) & ~(LEN(a) - 1))	/* a..b */

/* Issuer ranges: the first `digits` digits lie in [lo, hi]; lengths as a bit set. */
static const struct card_brand {
	unsigned int lo, hi, digits, lens;
} card_brands[] = {
	{ 4, 4, 1, LEN(13) | LEN(16) | LEN(19) },		/* Visa */
	{ 51, 55, 2, LEN(16) },					/* Mastercard */
	{ 2221, 2720, 4, LEN(16) },				/* Mastercard, 2017 range */
	{ 34, 34, 2, LEN(15) },					/* Amex */
	{ 37, 37, 2, LEN(15) },
	{ 6011, 6011, 4, LENS(16, 19) },			/* Discover */
	{ 644, 649, 3, LENS(16, 19) },
	{ 65, 65, 2, LENS(16, 19) },
	{ 3528, 3589, 4, LENS(16, 19) },			/* JCB */
	{ 300, 305, 3, LENS(14, 19) },				/* Diners */
	{ 3095, 3095, 4, LENS(14, 19) },
	{ 36, 36, 2, LENS(14, 19) },
	{ 38, 39, 2, LENS(14, 19) },
	{ 62, 62, 2, LENS(16, 19) },				/* UnionPay */
	{ 5018, 5018, 4, LENS(13, 19) },			/* Maestro */
	{ 5020, 5020, 4, LENS(13, 19) },
	{ 5038, 5038, 4, LENS(13, 19) },
	{ 5893, 5893, 4, LENS(13, 19) },
	{ 6304, 6304, 4, LENS(13, 19) },
	{ 6759, 6759, 4, LENS(13, 19) },
	{ 6761, 6763, 4, LENS(13, 19) },
};

static bool card_brand_ok(const char *d, size_t n)
{
	const struct card_brand *b;
	unsigned int v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(card_brands); i++) {
		b = &card_brands[i];
		v = decimal(d, b->digits);
		if (v >= b->lo && v <= b->hi && (b->lens & LEN(n)))
			return true;
	}
	return false;
}

/* 4-4-4-4[-1..3] and 4-4-4-1..4 as printed on most cards, 4-6-5 and 4-6-4 on Amex and Diners. */
static bool card_groups_ok(const size_t *g, size_t ng)
{
	size_t i;

	if (ng == 1)
		return true;
	if (ng == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4))
		return true;
	for (i = 0; i + 1 < ng; i++)
		if (g[i] != 4)
			return false;
	return g[ng - 1] >= 1 && g[ng - 1] <= 4;
}

#define CARD_MIN	13
#define CARD_MAX	19
#define CARD_GROUPS	5

bool pii_card_valid(const char *s, size_t n)
{
	size_t nd = 0, ng = 0, cur = 0, i;
	size_t g[CARD_GROUPS];
	char d[CARD_MAX];
	char sep = 0;

	if (n < CARD_MIN || n > CARD_MAX + CARD_GROUPS - 1)
		return false;
	for (i = 0; i < n; i++) {
		if (is_digit(s[i])) {
			if (nd == CARD_MAX)
				return false;
			d[nd++] = s[i];
			cur++;
			continue;
		}
		if ((s[i] != ' ' && s[i] != '-') || (sep && s[i] != sep) || !cur ||
		    ng == CARD_GROUPS - 1)
			return false;
		sep = s[i];
		g[ng++] = cur;
		cur = 0;
	}
	if (!cur || nd < CARD_MIN)
		return false;
	g[ng++] = cur;
	return card_groups_ok(g, ng) && card_brand_ok(d, nd) && pii_luhn(d, nd);
}

/* SSN */

bool pii_ssn_valid(const char *s, size_t n)
{
	/* published in advertising (Woolworth's wallet card) or as examples */
	static const char *const burnt[] = { "078051120", "219099999", "123456789" };
	unsigned int area, group, serial;
	char d[9];
	size_t i;

	if (n == 11) {
		if ((s[3] != '-' && s[3] != ' ') || s[6] != s[3])
			return false;
		memcpy(d, s, 3);
		memcpy(d + 3, s + 4, 2);
		memcpy(d + 5, s + 7, 4);
	} else if (n == 9) {
		memcpy(d, s, 9);
	} else {
		return false;
	}
	if (!all_of(d, sizeof(d), is_digit))
		return false;
	area = decimal(d, 3);
	group = decimal(d + 3, 2);
	serial = decimal(d + 5, 4);
	if (!area || area == 666 || area >= 900 || !group || !serial)
		return false;
	for (i = 0; i < ARRAY_SIZE(burnt); i++)
		if (!memcmp(d, burnt[i], sizeof(d)))
			return false;
	return true;
}

/* IBAN */

/* The countries of the SWIFT IBAN registry (2024-2025 editions) and their IBAN lengths. */
static const struct iban_country {
	char cc[3];
	unsigned char len;
} iban_countries[] = {
	{ "AD", 24 }, { "AE", 23 }, { "AL", 28 }, { "AT", 20 }, { "AZ", 28 }, { "BA", 20 },
	{ "BE", 16 }, { "BG", 22 }, { "BH", 22 }, { "BI", 27 }, { "BR", 29 }, { "BY", 28 },
	{ "CH", 21 }, { "CR", 22 }, { "CY", 28 }, { "CZ", 24 }, { "DE", 22 }, { "DJ", 27 },
	{ "DK", 18 }, { "DO", 28 }, { "EE", 20 }, { "EG", 29 }, { "ES", 24 }, { "FI", 18 },
	{ "FK", 18 }, { "FO", 18 }, { "FR", 27 }, { "GB", 22 }, { "GE", 22 }, { "GI", 23 },
	{ "GL", 18 }, { "GR", 27 }, { "GT", 28 }, { "HN", 28 }, { "HR", 21 }, { "HU", 28 },
	{ "IE", 22 }, { "IL", 23 }, { "IQ", 23 }, { "IS", 26 }, { "IT", 27 }, { "JO", 30 },
	{ "KW", 30 }, { "KZ", 20 }, { "LB", 28 }, { "LC", 32 }, { "LI", 21 }, { "LT", 20 },
	{ "LU", 20 }, { "LV", 21 }, { "LY", 25 }, { "MC", 27 }, { "MD", 24 }, { "ME", 22 },
	{ "MK", 19 }, { "MN", 20 }, { "MR", 27 }, { "MT", 31 }, { "MU", 30 }, { "NI", 28 },
	{ "NL", 18 }, { "NO", 15 }, { "OM", 23 }, { "PK", 24 }, { "PL", 28 }, { "PS", 29 },
	{ "PT", 25 }, { "QA", 29 }, { "RO", 24 }, { "RS", 22 }, { "RU", 33 }, { "SA", 24 },
	{ "SC", 31 }, { "SD", 18 }, { "SE", 24 }, { "SI", 19 }, { "SK", 24 }, { "SM", 27 },
	{ "SO", 23 }, { "ST", 25 }, { "SV", 28 }, { "TL", 23 }, { "TN", 24 }, { "TR", 26 },
	{ "UA", 29 }, { "VA", 22 }, { "VG", 24 }, { "XK", 20 }, { "YE", 30 },
};

#define IBAN_MIN	15	/* Norway */
#define IBAN_MAX	34	/* the standard's bound; Russia's 33 is the longest in use */

static unsigned int iban_length(const char *cc)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(iban_countries); i++)
		if (cc[0] == iban_countries[i].cc[0] && cc[1] == iban_countries[i].cc[1])
			return iban_countries[i].len;
	return 0;
}

/* ISO 7064 MOD 97-10 over the BBAN then the first four, letters as 10..35. */
static unsigned int iban_mod97(const char *c, size_t n)
{
	unsigned int r = 0;
	size_t i, k;

	for (i = 0; i < n; i++) {
		k = (i + 4) % n;
		if (is_digit(c[k]))
			r = (r * 10 + (unsigned int)(c[k] - '0')) % 97;
		else
			r = (r * 100 + (unsigned int)(c[k] - 'A' + 10)) % 97;
	}
	return r;
}

bool pii_iban_valid(const char *s, size_t n)
{
	size_t m = 0, run = 0, i;
	bool spaced = false;
	char c[IBAN_MAX];

	if (n < IBAN_MIN || n > IBAN_MAX + (IBAN_MAX - 1) / 4)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == ' ') {
			if (run != 4)
				return false;
			spaced = true;
			run = 0;
			continue;
		}
		if (!is_alnum(s[i]) || m == IBAN_MAX)
			return false;
		c[m++] = (char)to_upper(s[i]);
		run++;
	}
	if (!run || (spaced && run > 4))
		return false;
	/* check digits 00, 01 and 99 are never issued, though one may pass mod-97 */
	if (!is_upper(c[0]) || !is_upper(c[1]) || !is_digit(c[2]) || !is_digit(c[3]) ||
	    decimal(c + 2, 2) < 2 || decimal(c + 2, 2) > 98)
		return false;
	return iban_length(c) == m && iban_mod97(c, m) == 1;
}

/* IP addresses */

bool pii_ipv4_valid(const char *s, size_t n)
{
	size_t i = 0, j, oct;

	for (oct = 0; oct < 4; oct++) {
		if (oct) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		for (j = i; j < n && j - i < 4 && is_digit(s[j]); j++)
			;
		if (j == i || j - i > 3 || (j - i > 1 && s[i] == '0') || decimal(s + i, j - i) > 255)
			return false;
		i = j;
	}
	return i == n;
}

bool pii_ipv6_valid(const char *s, size_t n)
{
	char text[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	size_t groups = 0, i;
	bool compressed;

	if (n < 2 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	if (inet_pton(AF_INET6, text, addr) != 1)
		return false;
	/* inet_pton() took it: count groups, a v4 tail as two */
	compressed = strstr(text, "::") != NULL;
	for (i = 0; i < n; i++) {
		if (text[i] == '.') {
			groups++;	/* with the one its first octet opened */
			break;
		}
		if (text[i] != ':' && (i == 0 || text[i - 1] == ':'))
			groups++;
	}
	return !compressed || groups >= 2;
}

/* Phone numbers */

#define PHONE_MAX	15	/* digits, E.164 */
#define PHONE_GROUPS	8
#define PHONE_TEXT_MIN	8	/* "+1234567" has too few digits, but is the shortest shape */
#define PHONE_TEXT_MAX	32	/* 15 digits and a separator after each, '+' and "()" */

struct phone {
	char d[PHONE_MAX];
	size_t nd;
	size_t glen[PHONE_GROUPS];	/* digits in each group */
	bool gzero[PHONE_GROUPS];	/* the group is "(0)", a trunk prefix */
	size_t ng;
	bool plus, sep;
};

/*
 * Splits s into groups of digits. A group is ended by one of ' ' '.' '-'
 * or by a parenthesis; no two separators in a row except ')' then one of
 * the others; at most one parenthesised group; the text ends in a digit.
 */
static bool phone_split(const char *s, size_t n, struct phone *p)
{
	bool open = false, paren_done = false, after_close = false;
	size_t i = 0, cur = 0;

	p->plus = n && s[0] == '+';
	if (p->plus)
		i++;
	for (; i < n; i++) {
		char c = s[i];

		if (is_digit(c)) {
			if (p->nd == PHONE_MAX)
				return false;
			p->d[p->nd++] = c;
			cur++;
			after_close = false;
			continue;
		}
		if (c == '(') {
			if (open || paren_done || after_close)
				return false;
			open = true;
		} else if (c == ')') {
			if (!open || !cur)
				return false;
			open = false;
			paren_done = true;
			after_close = true;
		} else if (c == ' ' || c == '.' || c == '-') {
			if (!cur && !after_close)
				return false;
			if (open)
				return false;
			after_close = false;
		} else {
			return false;
		}
		p->sep = true;
		if (cur) {
			if (p->ng == PHONE_GROUPS)
				return false;
			p->gzero[p->ng] = c == ')' && cur == 1 && p->d[p->nd - 1] == '0';
			p->glen[p->ng++] = cur;
			cur = 0;
		}
	}
	if (!cur || open || p->ng == PHONE_GROUPS)
		return false;
	p->gzero[p->ng] = false;
	p->glen[p->ng++] = cur;
	return true;
}

/* The NANP shape after an optional country "1": 3-3-4, area and exchange 2-9. */
static bool phone_nanp(const struct phone *p)
{
	size_t g = 0;
	const char *d = p->d;

	if (p->nd == 11) {
		if (d[0] != '1' || p->glen[0] != 1)
			return false;
		g = 1;
		d++;
	} else if (p->nd != 10) {
		return false;
	}
	if (p->ng - g != 3 || p->glen[g] != 3 || p->glen[g + 1] != 3 || p->glen[g + 2] != 4)
		return false;
	return d[0] >= '2' && d[3] >= '2';
}

bool pii_phone_valid(const char *s, size_t n)
{
	struct phone p = {};
	size_t i;

	if (n < PHONE_TEXT_MIN || n > PHONE_TEXT_MAX || !phone_split(s, n, &p))
		return false;
	/* one-digit groups: a country code, "+33 6 ...", or the trunk "(0)" */
	for (i = 2; i < p.ng; i++)
		if (p.glen[i] == 1 && !p.gzero[i])
			return false;
	if (p.plus)
		return p.nd >= 8 && p.d[0] != '0';
	if (!p.sep)
		return false;
	if (p.d[0] == '0')
		return p.nd >= 10 && p.nd <= 11 && p.d[1] != '0';
	return phone_nanp(&p);
}

/* Email */

#define EMAIL_LOCAL_MAX		64
#define EMAIL_DOMAIN_MAX	253
#define EMAIL_LABEL_MAX		63

static bool email_local_ok(const char *s, size_t n)
{
	size_t i;

	if (!n || n > EMAIL_LOCAL_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (!is_alnum(s[i]) && !in_set("._%+-", s[i]))
			return false;
		if (s[i] == '.' && s[i + 1] == '.')	/* s[n - 1] is not '.' */
			return false;
	}
	return true;
}

static bool email_domain_ok(const char *s, size_t n)
{
	size_t i, start = 0, labels = 0;

	if (!n || n > EMAIL_DOMAIN_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || i - start > EMAIL_LABEL_MAX || s[start] == '-' || s[i - 1] == '-')
			return false;
		labels++;
		if (i == n && (i - start < 2 || !all_of(s + start, i - start, is_alpha)))
			return false;
		start = i + 1;
	}
	return labels >= 2;
}

bool pii_email_valid(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t l;

	if (!at)
		return false;
	l = (size_t)(at - s);
	return email_local_ok(s, l) && email_domain_ok(at + 1, n - l - 1);
}

/* JWT */

static int b64url_value(int c)
{
	if (is_upper(c))
		return c - 'A';
	if (is_lower(c))
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* A base64url segment without padding: its alphabet, and no length of 4k + 1. */
static bool b64url_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b64url_value((unsigned char)s[i]) < 0)
			return false;
	return n % 4 != 1;
}

/*
 * What a JWT header must decode to, checked a byte at a time so a header
 * of any length needs no buffer: printable text, '{' first and '}' last
 * but for white space, and the bytes "alg" in double quotes somewhere.
 */
struct jwt_hdr {
	int first, last;	/* first and last byte that is not white space */
	size_t alg;		/* bytes of "\"alg\"" matched so far */
	bool found, bad;
};

static void jwt_hdr_feed(struct jwt_hdr *h, int c)
{
	static const char key[] = "\"alg\"";

	if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
		h->bad = true;
	if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
		if (h->first < 0)
			h->first = c;
		h->last = c;
	}
	if (c == key[h->alg])
		h->alg++;
	else
		h->alg = c == key[0];
	if (h->alg == sizeof(key) - 1) {
		h->found = true;
		h->alg = 0;
	}
}

static bool jwt_header_ok(const char *s, size_t n)
{
	struct jwt_hdr h = { .first = -1, .last = -1 };
	unsigned int acc = 0, bits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		acc = (acc << 6 | (unsigned int)b64url_value((unsigned char)s[i])) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			jwt_hdr_feed(&h, (int)(acc >> bits & 0xff));
		}
	}
	return !h.bad && h.found && h.first == '{' && h.last == '}';
}

bool pii_jwt_valid(const char *s, size_t n)
{
	const char *d1, *d2;
	size_t hl, pl;

	d1 = memchr(s, '.', n);
	if (!d1)
		return false;
	hl = (size_t)(d1 - s);
	d2 = memchr(d1 + 1, '.', n - hl - 1);
	if (!d2)
		return false;
	pl = (size_t)(d2 - d1 - 1);
	if (hl < 2 || pl < 2 || d1[1] != 'e' || d1[2] != 'y')
		return false;
	if (!b64url_ok(s, hl) || !b64url_ok(d1 + 1, pl) || !b64url_ok(d2 + 1, n - hl - pl - 2))
		return false;
	return jwt_header_ok(s, hl);
}

/* GitHub */

/* CRC-32 as zlib computes it (reflected, polynomial 0xedb88320). */
static uint32_t crc32_bytes(const char *s, size_t n)
{
	uint32_t c = 0xffffffff;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= (unsigned char)s[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

#define GH_BODY		36	/* after "ghp_" */
#define GH_RANDOM	30	/* the random part the checksum covers */
#define GH_PAT_BODY	82	/* after "github_pat_" */

static bool github_checksum_ok(const char *body)
{
	static const char b62[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint32_t v = crc32_bytes(body, GH_RANDOM);
	int i;

	for (i = GH_BODY - 1; i >= GH_RANDOM; i--) {
		if (body[i] != b62[v % 62])
			return false;
		v /= 62;
	}
	return v == 0;
}

bool pii_github_token_valid(const char *s, size_t n)
{
	if (n == 4 + GH_BODY && s[0] == 'g' && s[1] == 'h' && in_set("pousr", s[2]) &&
	    s[3] == '_')
		return all_of(s + 4, GH_BODY, is_alnum) && github_checksum_ok(s + 4);
	if (n == 11 + GH_PAT_BODY && starts(s, n, "github_pat_"))
		return all_of(s + 11, GH_PAT_BODY, is_word) && mixed(s + 11, GH_PAT_BODY);
	return false;
}

/* AWS */

static bool is_upper_or_digit(int c)
{
	return is_upper(c) || is_digit(c);
}

bool pii_aws_access_key_valid(const char *s, size_t n)
{
	if (n != 20)
		return false;
	if (!starts(s, n, "AKIA") && !starts(s, n, "ASIA") && !starts(s, n, "ABIA") &&
	    !starts(s, n, "ACCA"))
		return false;
	return all_of(s + 4, 16, is_upper_or_digit);
}

#define AWS_SECRET_LEN	40

bool pii_aws_secret_valid(const char *s, size_t n)
{
	const char *v;

	/* the pattern puts at least "secret" before the value */
	if (n <= AWS_SECRET_LEN)
		return false;
	v = s + n - AWS_SECRET_LEN;
	if (is_b64((unsigned char)v[-1]))
		return false;
	return all_of(v, AWS_SECRET_LEN, is_b64) && mixed(v, AWS_SECRET_LEN);
}

/* Slack */

#define SLACK_HOOK	"hooks.slack.com/services/"

/* An id of the webhook path: upper case letter `kind`, then 8-12 of [A-Z0-9], then '/'. */
static size_t slack_hook_id(const char *s, size_t n, char kind)
{
	size_t i;

	if (!n || s[0] != kind)
		return 0;
	for (i = 1; i < n && is_upper_or_digit(s[i]); i++)
		;
	if (i < 9 || i > 13 || i == n || s[i] != '/')
		return 0;
	return i + 1;
}

static bool slack_hook_ok(const char *s, size_t n)
{
	size_t skip, hl = strlen(SLACK_HOOK);

	if (n >= 8 && !strncasecmp(s, "https://", 8))
		skip = 8;
	else if (n >= 7 && !strncasecmp(s, "http://", 7))
		skip = 7;
	else
		skip = 0;
	s += skip;
	n -= skip;
	if (n < hl || strncasecmp(s, SLACK_HOOK, hl))
		return false;
	s += hl;
	n -= hl;
	skip = slack_hook_id(s, n, 'T');
	if (!skip)
		return false;
	s += skip;
	n -= skip;
	skip = slack_hook_id(s, n, 'B');
	if (!skip)
		return false;
	return n - skip == 24 && all_of(s + skip, 24, is_alnum);
}

static bool is_alnum_or_dash(int c)
{
	return is_alnum(c) || c == '-';
}

bool pii_slack_token_valid(const char *s, size_t n)
{
	size_t i;

	if (n >= 15 && s[0] == 'x' && s[1] == 'o' && s[2] == 'x' && in_set("abpres", s[3]) &&
	    s[4] == '-') {
		if (!all_of(s + 5, n - 5, is_alnum_or_dash) || !is_alnum(s[n - 1]))
			return false;
		for (i = 5; i < n; i++)
			if (is_digit(s[i]))
				return true;
		return false;
	}
	return slack_hook_ok(s, n);
}

/* OpenAI, Anthropic */

/* prefix, then min or more of [A-Za-z0-9_-], mixed. */
static bool key_body_ok(const char *s, size_t n, const char *prefix, size_t min)
{
	size_t pl = strlen(prefix);

	if (!starts(s, n, prefix) || n - pl < min)
		return false;
	return all_of(s + pl, n - pl, is_token) && mixed(s + pl, n - pl);
}

bool pii_openai_key_valid(const char *s, size_t n)
{
	static const char *const prefixes[] = { "sk-proj-", "sk-svcacct-", "sk-admin-" };
	size_t i;

	if (starts(s, n, "sk-ant-"))
		return false;
	for (i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (starts(s, n, prefixes[i]))
			return key_body_ok(s, n, prefixes[i], 32);
	return key_body_ok(s, n, "sk-", 32);
}

bool pii_anthropic_key_valid(const char *s, size_t n)
{
	return key_body_ok(s, n, "sk-ant-api03-", 80) || key_body_ok(s, n, "sk-ant-admin01-", 80);
}

/* PEM */

/* s[0, n) ends with the NUL-terminated p, either case. */
static bool ends_nocase(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && !strncasecmp(s + n - pl, p, pl);
}

/* The shortest run of base64 that pem_body() takes for a line of a key. */
#define PEM_CHUNK_MIN	16

static bool is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The base64 body of a key cut short, at p[0, n): runs of base64 (and '='
 * padding) separated by white space, each PEM_CHUNK_MIN long or ending in
 * '=' (prose after the key has short words; a short last line of the key
 * is left). Returns how many base64 characters it holds; *end is one past
 * its last.
 */
static size_t pem_body(const char *p, size_t n, size_t *end)
{
	size_t i = 0, from, count = 0;

	*end = 0;
	for (;;) {
		while (i < n && is_space((unsigned char)p[i]))
			i++;
		for (from = i; i < n && (is_b64((unsigned char)p[i]) || p[i] == '='); i++)
			;
		if (from == i || (i < n && !is_space((unsigned char)p[i])) ||
		    (i - from < PEM_CHUNK_MIN && p[i - 1] != '='))
			return count;
		count += i - from;
		*end = i;
	}
}

size_t pii_pem_extent(const char *text, size_t len, size_t start)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ", dash[] = "-----";
	const size_t bl = sizeof(begin) - 1, el = sizeof(end) - 1, dl = sizeof(dash) - 1;
	const char *p, *label;
	size_t n, ll, i, head, body_end;

	if (start >= len)
		return 0;
	p = text + start;
	n = len - start < PII_PEM_MAX ? len - start : PII_PEM_MAX;
	if (n < bl || strncasecmp(p, begin, bl))
		return 0;
	label = p + bl;
	for (ll = 0; bl + ll + dl <= n && strncmp(label + ll, dash, dl); ll++)
		if (label[ll] == '\n' || label[ll] == '\r')
			return 0;
	if (bl + ll + dl > n)
		return 0;
	if (!ends_nocase(label, ll, "PRIVATE KEY") && !ends_nocase(label, ll, "PRIVATE KEY BLOCK"))
		return 0;
	head = bl + ll + dl;
	for (i = head; i + el + ll + dl <= n; i++) {
		if (p[i] == '-' && !strncasecmp(p + i, end, el) &&
		    !strncasecmp(p + i + el, label, ll) && !strncmp(p + i + el + ll, dash, dl)) {
			/* PGP puts headers before a blank line: count what is base64 */
			size_t count = 0, k;

			for (k = head; k < i; k++)
				count += is_b64((unsigned char)p[k]) || p[k] == '=';
			return count >= PII_PEM_MIN_BODY ? i + el + ll + dl : 0;
		}
	}
	if (pem_body(p + head, n - head, &body_end) < PII_PEM_MIN_BODY)
		return 0;
	return head + body_end;
}

/* The table */

#define IPV6_H		"[0-9a-f]{1,4}"
#define IPV6_V4		"[0-9]{1,3}(?:\\.[0-9]{1,3}){3}"

/*
 * Patterns run on the folded view, so they are lower case; the validators
 * hold the case-sensitive facts. A leading \b keeps Hyperscan's leftmost
 * start from sitting inside a longer word or number, where the boundary
 * check would then drop a match that a later start would have made.
 */
static bool local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '%' || c == '+' || c == '-';
}

bool pii_extend_left(const struct pii_detector *d, const char *folded, size_t *from)
{
	size_t at = *from, i = at;

	if (d != &pii_detectors[PII_EMAIL])
		return true;
	/* the local part: [a-z0-9._%+-]+ not starting with a dot */
	while (i && local_char(folded[i - 1]))
		i--;
	while (i < at && folded[i] == '.')
		i++;
	if (i == at)
		return false;
	*from = i;
	return true;
}

const struct pii_detector pii_detectors[PII_NKINDS] = {
	[PII_EMAIL] = {
		.name = "email", .entity = "EMAIL",
		/* the local part is found by pii_extend_left() */
		.regex = "@[a-z0-9-]+(?:\\.[a-z0-9-]+)*\\.[a-z]{2,63}",
		.edge = PII_EDGE_WORD, .valid = pii_email_valid,
		/* found by its '@': 38 GB/s alone, 0.73 GB/s for all 15 together */
		.apart = true,
	},
	[PII_PHONE] = {
		.name = "phone", .entity = "PHONE",
		.regex = "\\+[1-9][0-9 .()-]{6,24}[0-9]"
			 "|(?:\\b1[ .-]?)?(?:\\([2-9][0-9]{2}\\)[ .-]?|\\b[2-9][0-9]{2}[ .-]?)"
			 "[2-9][0-9]{2}[ .-]?[0-9]{4}"
			 "|(?:\\(0[1-9][0-9]{0,4}\\)|\\b0[1-9][0-9]{0,4})(?:[ .-]?[0-9]{2,8}){1,4}",
		.edge = PII_EDGE_PHONE, .valid = pii_phone_valid,
	},
	[PII_CARD] = {
		.name = "card", .entity = "CARD",
		.regex = "\\b[0-9]{4}(?:[0-9]{9,15}"
			 "|[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{1,4}(?:[ -][0-9]{1,3})?"
			 "|[ -][0-9]{6}[ -][0-9]{4,5})",
		.edge = PII_EDGE_NUMBER, .valid = pii_card_valid,
	},
	[PII_SSN] = {
		.name = "ssn", .entity = "SSN",
		.regex = "\\b[0-9]{3}(?:-[0-9]{2}-| [0-9]{2} |[0-9]{2})[0-9]{4}",
		.edge = PII_EDGE_NUMBER, .valid = pii_ssn_valid,
	},
	[PII_IBAN] = {
		.name = "iban", .entity = "IBAN",
		.regex = "\\b[a-z]{2}[0-9]{2}(?:[a-z0-9]{11,30}"
			 "|(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,4})?)",
		.edge = PII_EDGE_WORD, .valid = pii_iban_valid,
	},
	[PII_IPV4] = {
		.name = "ipv4", .entity = "IP",
		.regex = "\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}",
		.edge = PII_EDGE_IPV4, .valid = pii_ipv4_valid,
	},
	[PII_IPV6] = {
		.name = "ipv6", .entity = "IP",
		.regex = "(?:" IPV6_H ":){7}" IPV6_H
			 "|(?:" IPV6_H ":){6}" IPV6_V4
			 "|(?:" IPV6_H "(?::" IPV6_H "){0,6})?::"
			 "(?:(?:" IPV6_H ":){0,5}" IPV6_V4 "|" IPV6_H "(?::" IPV6_H "){0,6})?",
		.edge = PII_EDGE_IPV6, .valid = pii_ipv6_valid,
	},
	[PII_AWS_ACCESS_KEY] = {
		.name = "aws_access_key", .entity = "AWS_KEY", .secret = true,
		.regex = "\\b(?:akia|asia|abia|acca)[a-z0-9]{16}",
		.edge = PII_EDGE_TOKEN, .valid = pii_aws_access_key_valid,
	},
	[PII_AWS_SECRET_KEY] = {
		.name = "aws_secret_key", .entity = "AWS_SECRET", .secret = true,
		.regex = "(?:aws[_ .-]?secret(?:[_ .-]?access)?(?:[_ .-]?key)?"
			 "|secret[_ .-]?access[_ .-]?key)"
			 "[\"']?[ \\t]{0,8}(?:[:=]|=>|:=)?[ \\t]{0,8}[\"']?[a-z0-9/+]{40}",
		.edge = PII_EDGE_BASE64, .valid = pii_aws_secret_valid,
	},
	[PII_GITHUB_TOKEN] = {
		.name = "github_token", .entity = "GITHUB_TOKEN", .secret = true,
		.regex = "\\bgh[pousr]_[a-z0-9]{36}|\\bgithub_pat_[a-z0-9_]{82}",
		.edge = PII_EDGE_TOKEN, .valid = pii_github_token_valid,
	},
	[PII_SLACK_TOKEN] = {
		.name = "slack_token", .entity = "SLACK_TOKEN", .secret = true,
		.regex = "\\bxox[abpres]-[a-z0-9-]{10,}"
			 "|(?:https?://)?hooks\\.slack\\.com/services/"
			 "t[a-z0-9]{8,12}/b[a-z0-9]{8,12}/[a-z0-9]{24}",
		.edge = PII_EDGE_TOKEN, .valid = pii_slack_token_valid,
	},
	[PII_OPENAI_KEY] = {
		.name = "openai_key", .entity = "OPENAI_KEY", .secret = true,
		.regex = "\\bsk-[a-z0-9_-]{32,}",
		.edge = PII_EDGE_TOKEN, .valid = pii_openai_key_valid,
	},
	[PII_ANTHROPIC_KEY] = {
		.name = "anthropic_key", .entity = "ANTHROPIC_KEY", .secret = true,
		.regex = "\\bsk-ant-(?:api03|admin01)-[a-z0-9_-]{80,}",
		.edge = PII_EDGE_TOKEN, .valid = pii_anthropic_key_valid,
	},
	[PII_JWT] = {
		.name = "jwt", .entity = "JWT", .secret = true,
		.regex = "\\bey[a-z0-9_-]{8,}\\.ey[a-z0-9_-]{8,}\\.[a-z0-9_-]*",
		.edge = PII_EDGE_TOKEN, .valid = pii_jwt_valid,
	},
	[PII_PEM_PRIVATE_KEY] = {
		.name = "pem_private_key", .entity = "PRIVATE_KEY", .secret = true,
		.regex = "-----begin (?:[a-z0-9]+ ){0,3}private key(?: block)?-----",
		.edge = PII_EDGE_NONE,
	},
};

int pii_kind_by_name(const char *name)
{
	int k;

	if (!name)
		return -1;
	for (k = 0; k < PII_NKINDS; k++)
		if (!strcmp(pii_detectors[k].name, name))
			return k;
	return -1;
}
