// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Address prefixes: strict parsing, canonical text, LPM trie keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cidr.h"
#include "number.h"

__u32 cidr_maxlen(__u32 family)
{
	return family == SLUICE_AF_INET6 ? 128 : 32;
}

/* Also clears addr[1..3] of a v4 prefix, so two equal prefixes compare equal. */
void cidr_mask(struct cidr *c, __u32 plen)
{
	__u32 i, bits;

	if (plen > cidr_maxlen(c->family))
		plen = cidr_maxlen(c->family);
	for (i = 0; i < 4; i++) {
		if (plen >= 32 * (i + 1))
			continue;
		bits = plen > 32 * i ? plen - 32 * i : 0;
		/* a shift by 32 is undefined, hence the test */
		c->addr[i] &= bits ? htonl(~0U << (32 - bits)) : 0;
	}
	c->prefixlen = plen;
}

/*
 * inet_pton() is strict already: four dotted decimals for v4 ("1.2.3" and
 * "010.0.0.1" fail in glibc), RFC 4291 text for v6, no zone index. The
 * length goes through parse_u32(), which refuses signs, spaces and leading
 * zeros. *c is only written on success.
 */
int cidr_parse(const char *s, struct cidr *c, const char **why)
{
	char text[INET6_ADDRSTRLEN];
	struct cidr r = {}, masked;
	const char *slash;
	size_t alen;
	int err;

	if (!*s) {
		*why = "empty prefix";
		return -EINVAL;
	}
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (!alen) {
		*why = "missing address before '/'";
		return -EINVAL;
	}
	if (alen >= sizeof(text)) {
		*why = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	memcpy(text, s, alen);
	text[alen] = '\0';

	if (strchr(text, ':')) {
		r.family = SLUICE_AF_INET6;
		if (inet_pton(AF_INET6, text, r.addr) != 1) {
			*why = "not an IPv6 address";
			return -EINVAL;
		}
	} else {
		r.family = SLUICE_AF_INET;
		if (inet_pton(AF_INET, text, &r.addr[0]) != 1) {
			*why = "not an IPv4 address (expected A.B.C.D)";
			return -EINVAL;
		}
	}

	r.prefixlen = cidr_maxlen(r.family);
	if (slash) {
		if (!slash[1]) {
			*why = "missing prefix length after '/'";
			return -EINVAL;
		}
		err = parse_u32(slash + 1, 0, cidr_maxlen(r.family), &r.prefixlen);
		if (err == -ERANGE) {
			*why = r.family == SLUICE_AF_INET6 ?
			       "prefix length out of range (0-128)" :
			       "prefix length out of range (0-32)";
			return -EINVAL;
		}
		if (err) {
			*why = "prefix length must be plain decimal (no sign, spaces or leading zeros)";
			return -EINVAL;
		}
	}

	masked = r;
	cidr_mask(&masked, r.prefixlen);
	if (memcmp(masked.addr, r.addr, sizeof(r.addr))) {
		*why = "host bits set past the prefix length (give the network address)";
		return -EINVAL;
	}
	*c = r;
	return 0;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char text[INET6_ADDRSTRLEN] = "?";

	if (c->family == SLUICE_AF_INET6)
		inet_ntop(AF_INET6, c->addr, text, sizeof(text));
	else if (c->family == SLUICE_AF_INET)
		inet_ntop(AF_INET, &c->addr[0], text, sizeof(text));
	snprintf(buf, len, "%s/%u", text, c->prefixlen);
	return buf;
}

void cidr_to_lpm_v4(const struct cidr *c, struct sluice_lpm_v4 *k)
{
	k->prefixlen = c->prefixlen;
	k->addr = c->addr[0];
}

void cidr_to_lpm_v6(const struct cidr *c, struct sluice_lpm_v6 *k)
{
	k->prefixlen = c->prefixlen;
	memcpy(k->addr, c->addr, sizeof(k->addr));
}

/* The kernel keeps whatever bits a key was stored with: mask them here. */
void cidr_from_lpm_v4(const struct sluice_lpm_v4 *k, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = SLUICE_AF_INET;
	c->addr[0] = k->addr;
	cidr_mask(c, k->prefixlen);
}

void cidr_from_lpm_v6(const struct sluice_lpm_v6 *k, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = SLUICE_AF_INET6;
	memcpy(c->addr, k->addr, sizeof(c->addr));
	cidr_mask(c, k->prefixlen);
}

/* v4 sources are per host (/32); v6 ones are tracked per v6_prefix. */
void cidr_from_src(const struct sluice_src *s, __u32 v6_prefix, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = s->family;
	if (s->family == SLUICE_AF_INET6) {
		memcpy(c->addr, s->addr, sizeof(c->addr));
		cidr_mask(c, v6_prefix);
	} else {
		c->addr[0] = s->addr[0];
		cidr_mask(c, 32);
	}
}

int cidr_from_sockaddr(const struct sockaddr_storage *ss, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	if (ss->ss_family == AF_INET) {
		c->family = SLUICE_AF_INET;
		c->prefixlen = 32;
		memcpy(c->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		/* a v4 client on a dual-stack socket is the v4 address */
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			c->family = SLUICE_AF_INET;
			c->prefixlen = 32;
			memcpy(c->addr, &a->s6_addr[12], 4);
		} else {
			c->family = SLUICE_AF_INET6;
			c->prefixlen = 128;
			memcpy(c->addr, a, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	return 0;
}

bool cidr_list_has(const struct cidr *list, size_t n, const struct cidr *host)
{
	for (size_t i = 0; i < n; i++) {
		struct cidr m = *host;

		if (list[i].family != host->family)
			continue;
		cidr_mask(&m, list[i].prefixlen);
		if (!memcmp(m.addr, list[i].addr, sizeof(m.addr)))
			return true;
	}
	return false;
}
