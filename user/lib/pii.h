/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Built-in detectors of personal data and credentials in prompt text.
 *
 * Each detector is a Hyperscan pattern, matched on the folded view of the
 * text (NFKC, case folded: letters are lower-case, full-width digits ASCII,
 * invisible characters gone), with HS_FLAG_SOM_LEFTMOST. Hyperscan reports
 * every end offset of a match with the leftmost start for that end, so one
 * number yields many candidates. The caller keeps a candidate only when
 *
 *   1. pii_boundary_ok() accepts its span in the folded view, and
 *   2. the detector's validator, if any, accepts its plain view: the
 *      original text of the span after NFKC and the removal of invisible
 *      characters, with case kept (keys and JWTs are case-sensitive);
 *
 * and among overlapping candidates of one detector keeps the longest.
 * A private key is masked from its header through pii_pem_extent().
 *
 * Validators take (s, len), need no NUL, read nothing outside s[0, len),
 * allocate nothing and keep no state: they are safe to fuzz and to call
 * from any thread.
 */
#ifndef SLUICE_PII_H
#define SLUICE_PII_H

#include <stdbool.h>
#include <stddef.h>

enum pii_kind {
	PII_EMAIL,
	PII_PHONE,
	PII_CARD,
	PII_SSN,
	PII_IBAN,
	PII_IPV4,
	PII_IPV6,
	PII_AWS_ACCESS_KEY,
	PII_AWS_SECRET_KEY,
	PII_GITHUB_TOKEN,
	PII_SLACK_TOKEN,
	PII_OPENAI_KEY,
	PII_ANTHROPIC_KEY,
	PII_JWT,
	PII_PEM_PRIVATE_KEY,
	PII_NKINDS
};

/*
 * What may touch a match on either side, checked by pii_boundary_ok().
 * "Touch" means the byte just before the start or just at the end. Letters
 * and digits never may; bytes of 0x80 and above always may, so a number
 * written straight after CJK text is found. Some punctuation is glue: it
 * joins the match to a longer token when the byte beyond it (away from the
 * match) is of the kind named, as in "1.2.3.4.5" or "4111-...-1111-2".
 */
enum pii_edge {
	PII_EDGE_NONE,		/* no check: the pattern delimits itself */
	PII_EDGE_WORD,		/* glue '.' '-' before a letter or digit (email, iban) */
	PII_EDGE_NUMBER,	/* glue '.' '-' before a digit (card, ssn) */
	PII_EDGE_PHONE,		/* glue '.' '-' ' ' before a digit: not a tail of "DE89 3704 ..." */
	PII_EDGE_IPV4,		/* glue '.' before a digit; "10.0.0.1-10.0.0.9" is two */
	PII_EDGE_IPV6,		/* glue ':' '.' before a hex digit */
	PII_EDGE_TOKEN,		/* '_' '-' touch too; glue '.' before [0-9a-z_-] (keys, jwt) */
	PII_EDGE_BASE64,	/* '/' '+' '=' touch too (the aws secret's value) */
};

struct pii_detector {
	const char *name;	/* config name: "email", "aws_access_key" */
	const char *entity;	/* placeholder label: "EMAIL", "AWS_KEY"; v4 and v6 share "IP" */
	bool secret;		/* a credential, not personal data */
	const char *regex;	/* Hyperscan syntax, on the folded view */
	unsigned int hs_flags;	/* besides HS_FLAG_SOM_LEFTMOST; 0 for all built-ins */
	enum pii_edge edge;	/* what may touch the match */
	bool apart;		/* scanned in a database apart from the others (gw/detect.h) */
	bool (*valid)(const char *s, size_t len);	/* on the plain view; NULL: the regex is enough */
};

/* Indexed by enum pii_kind. */
extern const struct pii_detector pii_detectors[PII_NKINDS];

/* The kind of config name `name` ("email"), or -1 if there is none. */
int pii_kind_by_name(const char *name);

/*
 * Is text[start, end) a whole token for detector d, by its edge rule? text
 * is the view the match offsets refer to (the folded one); false when the
 * span does not lie inside text[0, len).
 */
bool pii_boundary_ok(const struct pii_detector *d, const char *text, size_t len,
		     size_t start, size_t end);

/*
 * The validators, exported for the tests and fuzzers. Each takes the plain
 * view of one candidate and says whether it is the real thing.
 */

/* digits[0, n) are ASCII digits, n >= 1, and the last is their Luhn check digit. */
bool pii_luhn(const char *digits, size_t n);

/*
 * 13-19 digits, bare or grouped by one kind of separator (' ' or '-') as
 * 4-4-4-4[-1..3], 4-4-4-1..4, 4-6-5 or 4-6-4; a known brand's prefix and
 * length (Visa, Mastercard 51-55 and 2221-2720, Amex, Discover, JCB,
 * Diners, UnionPay, Maestro); and the Luhn check.
 */
bool pii_card_valid(const char *s, size_t n);

/*
 * A US SSN as ddd-dd-dddd, ddd dd dddd or nine digits. Refuses area 000,
 * 666 and 900-999 (never issued), group 00, serial 0000, and the numbers
 * made public in advertising or as examples (078-05-1120, 219-09-9999,
 * 123-45-6789).
 */
bool pii_ssn_valid(const char *s, size_t n);

/*
 * An IBAN, bare or in space-separated groups of four (the last 1-4 long),
 * letters in either case: a country of the SWIFT IBAN registry with that
 * country's length, two check digits and mod-97 == 1.
 */
bool pii_iban_valid(const char *s, size_t n);

/* A.B.C.D, each 0-255 in decimal without leading zeros. */
bool pii_ipv4_valid(const char *s, size_t n);

/*
 * RFC 4291 text (inet_pton), with an embedded v4 tail if any. Refuses
 * "::" alone and a compressed form with fewer than two groups ("::1"):
 * too often a C++ scope or a clock. A time ("12:30:45") is not v6 text.
 */
bool pii_ipv6_valid(const char *s, size_t n);

/*
 * A phone number, groups of digits separated by one of ' ' '.' '-' or by
 * parentheses around one group ("(415) 555-2671", "+44 (0)20 ..."):
 *   - '+' then 8-15 digits, the first not 0 (E.164), separators optional;
 *   - NANP: 10 digits as 3-3-4, or 11 as 1-3-3-4, the area and exchange
 *     codes starting with 2-9;
 *   - national: 10-11 digits starting with 0 (not 00).
 * Without '+' a separator is required, so a bare run of digits is not a
 * phone number. A group of one digit is allowed only as the first or
 * second group, or as "(0)": "0 1 2 3 4 5 6 7 8 9" is not a number. Dates
 * have too few digits for any form. PII_EDGE_PHONE also refuses a number
 * that a space and a digit continue, on either side ("call 415 555 2671 3
 * times" is not found): that keeps pieces of IBANs and digit tables out.
 */
bool pii_phone_valid(const char *s, size_t n);

/*
 * local@domain: local part 1-64 of [A-Za-z0-9._%+-], no leading, trailing
 * or doubled '.'; domain up to 253 bytes, two labels or more, each 1-63 of
 * [A-Za-z0-9-] and not starting or ending with '-'; the last label 2-63
 * letters.
 */
bool pii_email_valid(const char *s, size_t n);

/*
 * header.payload.signature in base64url (no padding; the signature may be
 * empty, as with alg "none"); the payload starts "ey" (a JSON object); the
 * header decodes to printable text that is one JSON object ('{' ... '}')
 * with an "alg" member.
 */
bool pii_jwt_valid(const char *s, size_t n);

/*
 * ghp_, gho_, ghu_, ghs_ or ghr_ and 36 base62 characters whose last six
 * are the CRC-32 of the first 30 in base62 (0-9A-Za-z, zero-padded): the
 * checksum GitHub put in its 2021 formats. Or github_pat_ and 82 of
 * [A-Za-z0-9_], with upper case, lower case and digits among them (the
 * fine-grained format has no public checksum).
 */
bool pii_github_token_valid(const char *s, size_t n);

/* AKIA, ASIA, ABIA or ACCA then 16 of [A-Z0-9]: upper case, as AWS issues them. */
bool pii_aws_access_key_valid(const char *s, size_t n);

/*
 * The span is context ("aws_secret_access_key = ") then the value, the
 * last 40 bytes: [A-Za-z0-9/+] with upper case, lower case and digits.
 */
bool pii_aws_secret_valid(const char *s, size_t n);

/*
 * xoxa-, xoxb-, xoxp-, xoxr-, xoxe- or xoxs- then 10 or more of
 * [A-Za-z0-9-] with a digit, ending in a letter or digit; or a webhook
 * URL hooks.slack.com/services/T.../B.../secret with upper-case T and B
 * ids (8-12 of [A-Z0-9]) and a 24-character [A-Za-z0-9] secret.
 */
bool pii_slack_token_valid(const char *s, size_t n);

/*
 * sk-, sk-proj-, sk-svcacct- or sk-admin- then 32 or more of
 * [A-Za-z0-9_-] with upper case, lower case and digits; not an Anthropic
 * key (sk-ant-). The "T3BlbkFJ" mark of many keys is not required.
 */
bool pii_openai_key_valid(const char *s, size_t n);

/* sk-ant-api03- or sk-ant-admin01- then 80 or more of [A-Za-z0-9_-], mixed case and digits. */
bool pii_anthropic_key_valid(const char *s, size_t n);

/* How far pii_pem_extent() looks for the end of a private key. */
#define PII_PEM_MAX	(64 * 1024)

/*
 * The fewest base64 characters a private key's body has: the smallest one
 * sluice knows, an Ed25519 key in PKCS#8, is 48 bytes, 64 characters.
 */
#define PII_PEM_MIN_BODY	64

/*
 * text[start] begins a "-----BEGIN <label>-----" header whose label ends in
 * PRIVATE KEY (or PRIVATE KEY BLOCK, as PGP writes it). Returns the number
 * of bytes from start through the "-----" closing the first matching
 * "-----END <label>-----" line (case-insensitive) within PII_PEM_MAX bytes;
 * without one, through the last base64 character of the run that follows
 * the header (a key cut short still leaks). Either way the body must hold
 * PII_PEM_MIN_BODY base64 characters or more; 0 when it does not or the
 * header is not one: a header alone, or over "...", is a name, not a key.
 */
size_t pii_pem_extent(const char *text, size_t len, size_t start);

/*
 * Patterns that match from an anchor rather than from the value's start
 * (email from its '@': with start of match on a leading class that most
 * letters fit, the scan would track a start at every letter and run at a
 * tenth of its speed): *from moves back to where the value begins in the
 * folded text. False when there is no value there (an '@' with no local
 * part).
 */
bool pii_extend_left(const struct pii_detector *d, const char *folded, size_t *from);

#endif
