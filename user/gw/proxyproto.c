// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * PROXY header parsing. v1 is read field by field, each field checked as
 * far as it goes, so a partial line is either the start of a good one (0)
 * or refused at the byte that broke it; v2 is fixed offsets, then a walk
 * over the TLVs' framing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proxyproto.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define STR_(x)		#x
#define STR(x)		STR_(x)

#define V1(s)		"PROXY v1: " s
#define V2(s)		"PROXY v2: " s

#define V1_SIG		"PROXY "
#define V1_SIG_LEN	6
#define V1_MAX		107	/* the spec's bound on the line, CRLF included */
#define V2_HDR		16	/* signature, version/command, family, length */
#define ADDR_TEXT_MAX	(INET6_ADDRSTRLEN - 1)

static const unsigned char v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

static int refuse(const char **why, int err, const char *msg)
{
	*why = msg;
	return err;
}

/* Whether p[0, len) and sig[0, n) agree over the shorter of the two. */
static bool starts(const unsigned char *p, size_t len, const void *sig, size_t n)
{
	const unsigned char *s = sig;
	size_t i;

	for (i = 0; i < len && i < n; i++)
		if (p[i] != s[i])
			return false;
	return true;
}

static void set_addr(struct sockaddr_storage *ss, int family, const void *addr, uint16_t nport)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = nport;
		memcpy(&sin->sin_addr, addr, sizeof(sin->sin_addr));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = nport;
		memcpy(&sin6->sin6_addr, addr, sizeof(sin6->sin6_addr));
	}
}

static void set_local(struct pp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->local = true;
}

/* --- v1 ---------------------------------------------------------------- */

enum { F_SRC, F_DST, F_SPORT, F_DPORT, F_COUNT };

static const struct v1_field {
	const char *missing;	/* empty, or the line ends before it */
	const char *bad[2];	/* an address: not TCP4's, TCP6's; a port: [0] */
	const char *range;	/* a port above 65535 */
} v1_fields[F_COUNT] = {
	[F_SRC] = { V1("no source address"),
		    { V1("source address is not IPv4"), V1("source address is not IPv6") } },
	[F_DST] = { V1("no destination address"),
		    { V1("destination address is not IPv4"),
		      V1("destination address is not IPv6") } },
	[F_SPORT] = { V1("no source port"),
		      { V1("source port is not plain decimal (no sign, no leading zero)") },
		      V1("source port out of range (0-65535)") },
	[F_DPORT] = { V1("no destination port"),
		      { V1("destination port is not plain decimal (no sign, no leading zero)") },
		      V1("destination port out of range (0-65535)") },
};

static bool is_addr_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') || c == ':' ||
	       c == '.';
}

/*
 * Whether s[0, n) is an address of the family (whole), or could begin one
 * (the input ends inside the field). A beginning is tried with the few
 * endings that complete any prefix of a text inet_pton() takes: "1.2."
 * with "0.0", "fe80:" with "0" or ":", "1:2" with "::", "::ffff:1" with
 * ".0.0.0". out: the address, network order, when whole.
 */
static bool v1_addr(const unsigned char *s, size_t n, bool whole, int family, void *out)
{
	static const char *const endings[] = {
		"", "0", ":", "::", ".0", ".0.0", ".0.0.0", "0.0", "0.0.0", "0.0.0.0",
	};
	char text[ADDR_TEXT_MAX + sizeof("0.0.0.0")];
	struct in6_addr scratch;
	size_t i;

	/* no NUL (inet_pton would stop there) nor anything else that is not text */
	if (n > ADDR_TEXT_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!is_addr_char(s[i]))
			return false;
	memcpy(text, s, n);
	if (whole) {
		text[n] = '\0';
		return inet_pton(family, text, out) == 1;
	}
	for (i = 0; i < ARRAY_SIZE(endings); i++) {
		strcpy(text + n, endings[i]);
		if (inet_pton(family, text, &scratch) == 1)
			return true;
	}
	return false;
}

/*
 * NULL when s[0, n) is a port (or, not whole, begins one), *nport its
 * value in network order; else why not. Read left to right so that the
 * reason is the first byte's fault whatever follows it.
 */
static const char *v1_port(const unsigned char *s, size_t n, const struct v1_field *f,
			   uint16_t *nport)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || (i == 1 && s[0] == '0'))
			return f->bad[0];
		v = v * 10 + (s[i] - '0');
		if (v > 65535)
			return f->range;
	}
	*nport = htons((uint16_t)v);
	return NULL;
}

/* Input ran out inside the line: wait for more, unless the bound is reached. */
static int v1_more(size_t len, const char **why)
{
	if (len >= V1_MAX)
		return refuse(why, -E2BIG, V1("no CRLF in the first " STR(V1_MAX) " bytes"));
	return 0;
}

static size_t v1_field_end(const unsigned char *p, size_t at, size_t lim)
{
	while (at < lim && p[at] != ' ' && p[at] != '\r' && p[at] != '\n')
		at++;
	return at;
}

/* p[at] ends the line: its length if it is CRLF, else 0 or a refusal. */
static int v1_eol(const unsigned char *p, size_t at, size_t lim, size_t len, const char **why)
{
	if (p[at] == '\n')
		return refuse(why, -EINVAL, V1("LF without CR"));
	if (at + 1 == lim)
		return v1_more(len, why);
	if (p[at + 1] != '\n')
		return refuse(why, -EINVAL, V1("CR not followed by LF"));
	return (int)at + 2;
}

enum { P_TCP4, P_TCP6, P_UNKNOWN, P_COUNT };

static int v1_parse(const unsigned char *p, size_t len, struct pp_info *info, const char **why)
{
	static const char *const protos[P_COUNT] = { "TCP4", "TCP6", "UNKNOWN" };
	size_t lim = len < V1_MAX ? len : V1_MAX;
	size_t at = V1_SIG_LEN, end = v1_field_end(p, at, lim);
	bool whole = end < lim;
	struct in6_addr addr[2];
	uint16_t nport[2];
	int proto, family, i, ret;

	for (proto = 0; proto < P_COUNT; proto++) {
		size_t n = strlen(protos[proto]);

		if (whole ? end - at == n && !memcmp(p + at, protos[proto], n) :
			    end - at <= n && !memcmp(p + at, protos[proto], end - at))
			break;
	}
	if (proto == P_COUNT)
		return refuse(why, -EINVAL, V1("protocol is not TCP4, TCP6 or UNKNOWN"));
	if (!whole)
		return v1_more(len, why);

	if (proto == P_UNKNOWN) {
		if (p[end] == ' ')
			while (++end < lim && p[end] != '\r' && p[end] != '\n')
				;
		if (end == lim)
			return v1_more(len, why);
		ret = v1_eol(p, end, lim, len, why);
		if (ret > 0)
			set_local(info);
		return ret;
	}

	family = proto == P_TCP4 ? AF_INET : AF_INET6;
	for (i = 0; i < F_COUNT; i++) {
		const struct v1_field *f = &v1_fields[i];
		const char *bad;

		/* p[end] ended the field before: a space, or the line is short */
		if (p[end] == '\n')
			return refuse(why, -EINVAL, V1("LF without CR"));
		if (p[end] == '\r')
			return refuse(why, -EINVAL, f->missing);
		at = end + 1;
		end = v1_field_end(p, at, lim);
		whole = end < lim;
		if (whole && end == at)
			return refuse(why, -EINVAL, f->missing);
		if (i < F_SPORT)
			bad = v1_addr(p + at, end - at, whole, family, &addr[i]) ? NULL :
									   f->bad[proto];
		else
			bad = v1_port(p + at, end - at, f, &nport[i - F_SPORT]);
		if (bad)
			return refuse(why, -EINVAL, bad);
		if (!whole)
			return v1_more(len, why);
	}
	if (p[end] == ' ')
		return refuse(why, -EINVAL, V1("more after the destination port"));
	ret = v1_eol(p, end, lim, len, why);
	if (ret > 0) {
		info->local = false;
		set_addr(&info->src, family, &addr[0], nport[0]);
		set_addr(&info->dst, family, &addr[1], nport[1]);
	}
	return ret;
}

/* --- v2 ---------------------------------------------------------------- */

static int v2_parse(const unsigned char *p, size_t len, struct pp_info *info, const char **why)
{
	size_t hlen, end, at, tlv, addr_len = 0;
	bool local;

	if (len == sizeof(v2_sig))
		return 0;
	if (p[12] >> 4 != 2)
		return refuse(why, -EINVAL, V2("version is not 2"));
	if ((p[12] & 0x0f) > 1)
		return refuse(why, -EINVAL, V2("command is not LOCAL or PROXY"));
	local = (p[12] & 0x0f) == 0;
	if (!local && len > 13) {
		switch (p[13]) {
		case 0x00:	/* UNSPEC */
			break;
		case 0x11:	/* TCP over IPv4 */
			addr_len = 12;
			break;
		case 0x21:	/* TCP over IPv6 */
			addr_len = 36;
			break;
		case 0x31:	/* UNIX stream */
			addr_len = 216;
			break;
		case 0x12:
		case 0x22:
		case 0x32:
			return refuse(why, -EINVAL, V2("DGRAM transport not carried (TCP only)"));
		default:
			return refuse(why, -EINVAL, V2("address family or transport unknown"));
		}
	}
	if (len < V2_HDR)
		return 0;
	hlen = (size_t)p[14] << 8 | p[15];
	end = V2_HDR + hlen;
	if (end > PP_MAX_HEADER)
		return refuse(why, -E2BIG, V2("header longer than " STR(PP_MAX_HEADER) " bytes"));
	if (hlen < addr_len)
		return refuse(why, -EINVAL, V2("length too short for the addresses"));

	/* the TLVs tile [addresses, end): each one's framing as soon as it is here */
	for (at = local ? end : V2_HDR + addr_len; at < end; at += 3 + tlv) {
		if (end - at < 3)
			return refuse(why, -EINVAL, V2("TLV header cut by the length"));
		if (len < at + 3)
			break;
		tlv = (size_t)p[at + 1] << 8 | p[at + 2];
		if (tlv > end - at - 3)
			return refuse(why, -EINVAL, V2("TLV value past the length"));
	}
	if (len < end)
		return 0;

	if (local || (addr_len != 12 && addr_len != 36)) {
		set_local(info);
	} else {
		int family = addr_len == 12 ? AF_INET : AF_INET6;
		size_t alen = addr_len == 12 ? 4 : 16;
		uint16_t nport[2];

		/* src, dst, then the two ports, all in network order */
		memcpy(nport, p + V2_HDR + 2 * alen, sizeof(nport));
		info->local = false;
		set_addr(&info->src, family, p + V2_HDR, nport[0]);
		set_addr(&info->dst, family, p + V2_HDR + alen, nport[1]);
	}
	return (int)end;
}

int pp_parse(const void *buf, size_t len, struct pp_info *info, const char **why)
{
	const unsigned char *p = buf;

	if (starts(p, len, V1_SIG, V1_SIG_LEN))
		return len < V1_SIG_LEN ? 0 : v1_parse(p, len, info, why);
	if (starts(p, len, v2_sig, sizeof(v2_sig)))
		return len < sizeof(v2_sig) ? 0 : v2_parse(p, len, info, why);
	return refuse(why, -EPROTO, "PROXY: neither the v1 nor the v2 signature");
}
