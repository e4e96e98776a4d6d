/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Address prefixes, v4 and v6: parsing, formatting, LPM keys. */
#ifndef SLUICE_CIDR_H
#define SLUICE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sluice/abi.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" and a NUL */
#define CIDR_STRLEN	50

struct cidr {
	__u32 family;		/* SLUICE_AF_INET or SLUICE_AF_INET6 */
	__u32 prefixlen;
	__u32 addr[4];		/* network byte order; v4 in addr[0], rest zero */
};

/*
 * Parses "A.B.C.D[/N]" or an RFC 4291 v6 address "[/N]"; a bare address is
 * a host prefix (/32, /128). Refuses a prefix length out of range, a
 * length that is not plain decimal, and host bits set past the prefix
 * ("10.0.0.1/8"): such input is more often a typo than intent.
 * Returns 0, or -EINVAL with *why set to a static sentence.
 */
int cidr_parse(const char *s, struct cidr *c, const char **why);

/* Canonical text, always with the length: "10.0.0.0/8", "2001:db8::/32". */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

/* Clears the bits of c->addr past plen and sets c->prefixlen = plen. */
void cidr_mask(struct cidr *c, __u32 plen);

/* Longest prefix length for the family: 32 or 128. */
__u32 cidr_maxlen(__u32 family);

void cidr_to_lpm_v4(const struct cidr *c, struct sluice_lpm_v4 *k);
void cidr_to_lpm_v6(const struct cidr *c, struct sluice_lpm_v6 *k);
void cidr_from_lpm_v4(const struct sluice_lpm_v4 *k, struct cidr *c);
void cidr_from_lpm_v6(const struct sluice_lpm_v6 *k, struct cidr *c);

struct sockaddr_storage;

/*
 * The host prefix of a socket address (/32, /128); a v4-mapped v6 address
 * is the v4 address. -EAFNOSUPPORT for a family other than v4 and v6.
 */
int cidr_from_sockaddr(const struct sockaddr_storage *ss, struct cidr *c);

/* Does one of list[0, n) hold host (a host prefix)? */
bool cidr_list_has(const struct cidr *list, size_t n, const struct cidr *host);

/* A struct sluice_src (family + addr) as a host prefix, e.g. for top. */
void cidr_from_src(const struct sluice_src *s, __u32 v6_prefix, struct cidr *c);

#endif
