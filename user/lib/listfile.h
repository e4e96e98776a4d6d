/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Lines of a block/allow list file, as `block import` reads and
 * `block export` writes them:
 *
 *     CIDR [ttl DURATION] [reason TEXT...]   # comment
 *
 * '#' at the start of a line or after white space starts a comment; blank
 * lines are ignored; the reason runs to the end of the line (or comment),
 * trimmed, at most SLUICE_REASON_LEN - 1 bytes of printable ASCII.
 */
#ifndef SLUICE_LISTFILE_H
#define SLUICE_LISTFILE_H

#include <stddef.h>
#include <stdio.h>
#include "cidr.h"

struct list_entry {
	struct cidr cidr;
	__u64 ttl_ns;		/* 0: none */
	char reason[SLUICE_REASON_LEN];
};

/*
 * Parses one line (modified in place). Returns 1 for an entry, 0 for a blank
 * or comment line, -EINVAL with *why set (a static sentence) and *bad set to
 * the offending token (inside line) or NULL.
 */
int listfile_parse_line(char *line, struct list_entry *e, const char **why, const char **bad);

/* Checks a reason text: length and printable ASCII without '#'. 0 or -EINVAL. */
int reason_check(const char *s, const char **why);

/* Writes one entry in the format above (ttl as remaining time, if any). */
int listfile_write(FILE *f, const struct list_entry *e);

#endif
