/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2), which a load balancer in front of us sends before the client's
 * first byte to say whom the connection is really from. A parser only: it
 * reads a header at the start of a buffer, allocates nothing and keeps no
 * state, so a caller holding part of a header calls again with more.
 *
 * It is strict, as a reader of the client's address should be:
 *
 *   v1  "PROXY TCP4 src dst sport dport\r\n" (TCP6 alike) with single
 *       spaces. Addresses are what inet_pton() takes for the protocol's
 *       family. Ports are plain decimal 0-65535: no sign and no leading
 *       zero ("0" alone is fine, "0123" is refused though HAProxy takes
 *       it, since senders print ports with %u and one spelling per number
 *       leaves nothing to disagree on). "PROXY UNKNOWN" is followed by
 *       CRLF, or by a space and anything but CR or LF up to CRLF. The line
 *       is at most 107 bytes with its CRLF, the spec's bound, even though
 *       an IPv6 text with an IPv4 tail could make a longer TCP6 line.
 *   v2  version 2, command LOCAL or PROXY. LOCAL discards the address
 *       block unread, family and TLVs included, as the spec says. PROXY
 *       takes UNSPEC (0x00), TCP over IPv4 (0x11), IPv6 (0x21) or a UNIX
 *       stream (0x31), refuses the DGRAM ones (we carry TCP only) and any
 *       other byte; the length must hold the family's addresses (0, 12,
 *       36, 216 bytes), and the TLVs after them must tile the rest exactly
 *       (their contents, CRC32C included, are not looked at).
 *
 * Each byte is judged as it arrives: a prefix gives 0 up to the byte that
 * makes it wrong ("PROXY TCP4 1.2.3.456" is refused at its last digit, not
 * at the line's end), and from that byte on the same error and reason.
 */
#ifndef SLUICE_GW_PROXYPROTO_H
#define SLUICE_GW_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PP_MAX_HEADER	4096	/* a v2 header longer than this is refused */

struct pp_info {
	bool local;	/* v2 LOCAL or v1 UNKNOWN (or v2 AF_UNSPEC / UNIX): keep the connection's own addresses */
	struct sockaddr_storage src, dst;	/* AF_INET or AF_INET6 with ports, network order as usual in sockaddr; zeroed when local */
};

/*
 * Parses a PROXY header at the start of buf[0, len).
 * > 0: the header's length in bytes (info filled; nothing past it read);
 * 0: more bytes are needed (what is there is a valid prefix of a header);
 * -EPROTO: the bytes are not a PROXY header at all (neither signature can begin here);
 * -EINVAL: a malformed header;
 * -E2BIG: v1 line longer than 107 bytes without CRLF, or v2 header above PP_MAX_HEADER.
 * On a negative return *why is a static message naming what is wrong
 * ("PROXY v1: source port out of range (0-65535)"), for the log; info is
 * written only on a positive return.
 */
int pp_parse(const void *buf, size_t len, struct pp_info *info, const char **why);

#endif
