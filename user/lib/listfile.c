// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Block/allow list files: one entry per line, read by import, written by export. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "duration.h"
#include "listfile.h"

_Static_assert(SLUICE_REASON_LEN == 32, "the messages below say 31 bytes");

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The next token at *pos, NUL-terminated in place, or NULL at the end of
 * the line or at a comment. A token only ever starts at the line's start
 * or after a blank, so a '#' there is always a comment.
 */
static char *next_token(char **pos)
{
	char *p = *pos, *tok;

	while (is_blank(*p))
		p++;
	if (!*p || *p == '#') {
		*pos = p;
		return NULL;
	}
	tok = p;
	while (*p && !is_blank(*p))
		p++;
	if (*p)
		*p++ = '\0';
	*pos = p;
	return tok;
}

/* The rest of the line up to a comment, trimmed, NUL-terminated in place. */
static char *rest_of_line(char *p)
{
	char *end;

	while (is_blank(*p))
		p++;
	for (end = p; *end; end++)
		if (*end == '#' && (end == p || is_blank(end[-1])))
			break;
	while (end > p && is_blank(end[-1]))
		end--;
	*end = '\0';
	return p;
}

int reason_check(const char *s, const char **why)
{
	const unsigned char *p;

	if (strlen(s) > SLUICE_REASON_LEN - 1) {
		*why = "reason longer than 31 bytes";
		return -EINVAL;
	}
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '#') {
			*why = "reason must be printable ASCII without '#'";
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * After the CIDR come "ttl DURATION" and "reason TEXT", each at most once.
 * The reason takes the rest of the line, so it comes last: in
 * "reason spam ttl 1h" the reason is "spam ttl 1h". A ttl of 0 is refused,
 * since 0 means "none" in the entry and would silently make it permanent.
 */
int listfile_parse_line(char *line, struct list_entry *e, const char **why, const char **bad)
{
	char *pos = line, *tok, *arg;
	bool have_ttl = false;
	size_t len;
	int err;

	*bad = NULL;
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';

	tok = next_token(&pos);
	if (!tok)
		return 0;
	memset(e, 0, sizeof(*e));
	err = cidr_parse(tok, &e->cidr, why);
	if (err) {
		*bad = tok;
		return err;
	}

	while ((tok = next_token(&pos))) {
		if (!strcmp(tok, "ttl")) {
			if (have_ttl) {
				*why = "ttl given twice";
				*bad = tok;
				return -EINVAL;
			}
			have_ttl = true;
			arg = next_token(&pos);
			if (!arg) {
				*why = "missing duration after 'ttl'";
				*bad = tok;
				return -EINVAL;
			}
			err = duration_parse(arg, &e->ttl_ns, why);
			if (!err && !e->ttl_ns) {
				*why = "ttl must be longer than 0 (leave it out for none)";
				err = -EINVAL;
			}
			if (err) {
				*bad = arg;
				return -EINVAL;
			}
		} else if (!strcmp(tok, "reason")) {
			arg = rest_of_line(pos);
			if (!*arg) {
				*why = "missing text after 'reason'";
				*bad = tok;
				return -EINVAL;
			}
			err = reason_check(arg, why);
			if (err) {
				*bad = arg;
				return err;
			}
			strcpy(e->reason, arg);
			break;
		} else {
			*why = "unknown keyword (expected 'ttl' or 'reason')";
			*bad = tok;
			return -EINVAL;
		}
	}
	return 1;
}

/*
 * Refuses (-EINVAL) what would not read back: a bad family, a reason that
 * is unterminated or fails reason_check(). Blanks around the reason are
 * dropped, as the parser drops them. The ttl is written rounded down to
 * two units by duration_format(), so it reads back exactly when it fits in
 * two ("1h30m"), and a little shorter otherwise. Write errors show up in
 * ferror(f) or at fclose(), as with any stdio stream.
 */
int listfile_write(FILE *f, const struct list_entry *e)
{
	char cidr[CIDR_STRLEN], ttl[DURATION_STRLEN] = "";
	const char *reason = e->reason, *why;
	size_t rlen;

	if (e->cidr.family != SLUICE_AF_INET && e->cidr.family != SLUICE_AF_INET6)
		return -EINVAL;
	if (!memchr(e->reason, '\0', sizeof(e->reason)) || reason_check(e->reason, &why))
		return -EINVAL;
	while (is_blank(*reason))
		reason++;
	rlen = strlen(reason);
	while (rlen && is_blank(reason[rlen - 1]))
		rlen--;
	if (e->ttl_ns)
		duration_format(e->ttl_ns, ttl, sizeof(ttl));

	if (fprintf(f, "%s%s%s%s%.*s\n", cidr_format(&e->cidr, cidr, sizeof(cidr)),
		    e->ttl_ns ? " ttl " : "", ttl,
		    rlen ? " reason " : "", (int)rlen, reason) < 0)
		return -EIO;
	return 0;
}
