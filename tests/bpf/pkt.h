/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frames for BPF_PROG_TEST_RUN, built from a recipe: Ethernet, then the
 * layers in order. Fields are written at their wire offsets, not through
 * libc or uapi structs, so the layout under test is the one on this page.
 *
 * The start of every header is kept in off[] (off[0] is Ethernet, off[i]
 * the i-th layer of the recipe) so that a test can cut the frame inside any
 * header or patch one of its fields. Each header fills in the type field
 * its predecessor left open (ethertype, IP protocol, IPv6 next header);
 * pkt_build() fills in IPv4 tot_len, IPv6 payload_len and UDP len last.
 * Checksums are left zero: XDP does not look at them.
 */
#ifndef SLUICE_TEST_PKT_H
#define SLUICE_TEST_PKT_H

#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX		512
#define PKT_MAX_HDRS	16
#define PKT_MAX_LAYERS	12

#define ETH_HDR_LEN	14
#define ETH_TYPE_IP	0x0800
#define ETH_TYPE_ARP	0x0806
#define ETH_TYPE_8021Q	0x8100
#define ETH_TYPE_8021AD	0x88A8
#define ETH_TYPE_IPV6	0x86DD
#define ETH_TYPE_LLDP	0x88CC

#define TCPF_SYN	0x02
#define TCPF_ACK	0x10
#define IP4_MF		0x2000

enum layer_kind {
	L_END = 0,
	L_VLAN,		/* a: TPID of this tag */
	L_IP4,		/* c: IHL (options are NOPs); a: frag_off field (offset in 8-byte units | IP4_MF) */
	L_IP6,
	L_EXT6,		/* a: type (hop-by-hop, routing, dstopts or AH); b: length in bytes */
	L_FRAG6,	/* a: offset in 8-byte units; c: M flag */
	L_PROTO,	/* a: fills the open protocol field, for frames with no L4 header */
	L_TCP,		/* a: dport; b: flags; c: data offset in words */
	L_UDP,		/* a: dport */
	L_ICMP,		/* echo request: ICMP after IPv4, ICMPv6 after IPv6 */
	L_DATA,		/* a: bytes of payload */
	L_ETHER,	/* a: ethertype of a non-IP frame; b: bytes of payload */
};

struct layer {
	uint8_t kind;
	uint8_t c;
	uint16_t a;
	uint16_t b;
};

#define VLAN(tpid)		{ L_VLAN, 0, (tpid), 0 }
#define IP4			{ L_IP4, 5, 0, 0 }
#define IP4_OPT(ihl)		{ L_IP4, (ihl), 0, 0 }
#define IP4_FRAG(off, mf)	{ L_IP4, 5, (uint16_t)((off) | ((mf) ? IP4_MF : 0)), 0 }
#define IP6			{ L_IP6, 0, 0, 0 }
#define EXT6(type, len)		{ L_EXT6, 0, (type), (len) }
#define FRAG6(off, mf)		{ L_FRAG6, (mf), (off), 0 }
#define PROTO(p)		{ L_PROTO, 0, (p), 0 }
#define TCP(dport, flags)	{ L_TCP, 5, (dport), (flags) }
#define TCP_OPT(dport, doff)	{ L_TCP, (doff), (dport), TCPF_ACK }
#define UDP(dport)		{ L_UDP, 0, (dport), 0 }
#define ICMP			{ L_ICMP, 0, 0, 0 }
#define DATA(n)			{ L_DATA, 0, (n), 0 }
#define ETHER(type, n)		{ L_ETHER, 0, (type), (n) }

struct pkt_buf {
	uint8_t data[PKT_MAX];
	uint32_t len;
	uint32_t off[PKT_MAX_HDRS];	/* start of each header, Ethernet first */
	uint32_t nr_hdrs;
	uint32_t type_at;		/* the ethertype the next header sets */
	int nh_at;			/* the protocol byte the next header sets; -1: none */
	int ip4_at, ip6_at, udp_at;	/* -1: absent */
};

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline uint8_t *pkt_put(struct pkt_buf *b, uint32_t n)
{
	uint8_t *h = b->data + b->len;

	assert(b->len + n <= PKT_MAX && b->nr_hdrs < PKT_MAX_HDRS);
	memset(h, 0, n);
	b->off[b->nr_hdrs++] = b->len;
	b->len += n;
	return h;
}

static inline void pkt_set_proto(struct pkt_buf *b, uint8_t proto)
{
	assert(b->nh_at >= 0);
	b->data[b->nh_at] = proto;
}

/* dst 02:00:00:00:00:01, src 02:00:00:00:00:02; ethertype set by the next header */
static inline void pkt_eth(struct pkt_buf *b)
{
	uint8_t *h = pkt_put(b, ETH_HDR_LEN);

	h[0] = 0x02, h[5] = 0x01;
	h[6] = 0x02, h[11] = 0x02;
	b->type_at = 12;
}

static inline void pkt_vlan(struct pkt_buf *b, uint16_t tpid)
{
	uint8_t *h;

	put16(b->data + b->type_at, tpid);
	h = pkt_put(b, 4);
	put16(h, 100);			/* TCI: VID 100 */
	b->type_at = h + 2 - b->data;
}

/* IPv4 to 192.0.2.1 with ihl*4 bytes of header, options NOP-filled. */
static inline void pkt_ipv4(struct pkt_buf *b, const char *src, uint8_t ihl, uint16_t frag)
{
	uint8_t *h;

	put16(b->data + b->type_at, ETH_TYPE_IP);
	h = pkt_put(b, ihl * 4);
	h[0] = 0x40 | ihl;
	put16(h + 6, frag);
	h[8] = 64;			/* TTL */
	assert(inet_pton(AF_INET, src, h + 12) == 1);
	assert(inet_pton(AF_INET, "192.0.2.1", h + 16) == 1);
	memset(h + 20, 1, ihl * 4 - 20);
	b->ip4_at = h - b->data;
	b->nh_at = b->ip4_at + 9;
}

/* IPv6 to 2001:db8::1. */
static inline void pkt_ipv6(struct pkt_buf *b, const char *src)
{
	uint8_t *h;

	put16(b->data + b->type_at, ETH_TYPE_IPV6);
	h = pkt_put(b, 40);
	h[0] = 0x60;
	h[7] = 64;			/* hop limit */
	assert(inet_pton(AF_INET6, src, h + 8) == 1);
	assert(inet_pton(AF_INET6, "2001:db8::1", h + 24) == 1);
	b->ip6_at = h - b->data;
	b->nh_at = b->ip6_at + 6;
}

/* Hop-by-hop, routing, dstopts (len a multiple of 8) or AH (of 4); zero is Pad1. */
static inline void pkt_ext6(struct pkt_buf *b, uint8_t type, uint16_t len)
{
	uint8_t *h;

	pkt_set_proto(b, type);
	h = pkt_put(b, len);
	if (type == IPPROTO_AH) {
		assert(len >= 8 && len % 4 == 0);
		h[1] = len / 4 - 2;
	} else {
		assert(len >= 8 && len % 8 == 0);
		h[1] = len / 8 - 1;
	}
	b->nh_at = h - b->data;
}

static inline void pkt_frag6(struct pkt_buf *b, uint16_t offset, int more)
{
	uint8_t *h;

	pkt_set_proto(b, IPPROTO_FRAGMENT);
	h = pkt_put(b, 8);
	put16(h + 2, (uint16_t)(offset << 3 | !!more));
	h[7] = 0x2a;			/* identification */
	b->nh_at = h - b->data;
}

static inline void pkt_tcp(struct pkt_buf *b, uint16_t dport, uint8_t flags, uint8_t doff)
{
	uint8_t *h;

	pkt_set_proto(b, IPPROTO_TCP);
	h = pkt_put(b, doff * 4);
	put16(h, 40000);
	put16(h + 2, dport);
	h[12] = doff << 4;
	h[13] = flags;
	put16(h + 14, 65535);		/* window */
	b->nh_at = -1;
}

static inline void pkt_udp(struct pkt_buf *b, uint16_t dport)
{
	uint8_t *h;

	pkt_set_proto(b, IPPROTO_UDP);
	h = pkt_put(b, 8);
	put16(h, 40000);
	put16(h + 2, dport);
	b->udp_at = h - b->data;
	b->nh_at = -1;
}

static inline void pkt_icmp(struct pkt_buf *b)
{
	int v6 = b->ip6_at >= 0;
	uint8_t *h;

	pkt_set_proto(b, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	h = pkt_put(b, 8);
	h[0] = v6 ? 128 : 8;		/* echo request */
	b->nh_at = -1;
}

static inline void pkt_seal(struct pkt_buf *b)
{
	if (b->ip4_at >= 0)
		put16(b->data + b->ip4_at + 2, b->len - b->ip4_at);
	if (b->ip6_at >= 0)
		put16(b->data + b->ip6_at + 4, b->len - b->ip6_at - 40);
	if (b->udp_at >= 0)
		put16(b->data + b->udp_at + 4, b->len - b->udp_at);
}

/* Builds Ethernet + the layers up to L_END; src is the IP source address. */
static inline void pkt_build(struct pkt_buf *b, const struct layer *l, const char *src)
{
	memset(b, 0, sizeof(*b));
	b->nh_at = b->ip4_at = b->ip6_at = b->udp_at = -1;
	pkt_eth(b);
	for (; l->kind != L_END; l++) {
		switch (l->kind) {
		case L_VLAN:
			pkt_vlan(b, l->a);
			break;
		case L_IP4:
			pkt_ipv4(b, src, l->c, l->a);
			break;
		case L_IP6:
			pkt_ipv6(b, src);
			break;
		case L_EXT6:
			pkt_ext6(b, l->a, l->b);
			break;
		case L_FRAG6:
			pkt_frag6(b, l->a, l->c);
			break;
		case L_PROTO:
			pkt_set_proto(b, l->a);
			pkt_put(b, 0);	/* keeps off[] in step with the recipe */
			break;
		case L_TCP:
			pkt_tcp(b, l->a, l->b, l->c);
			break;
		case L_UDP:
			pkt_udp(b, l->a);
			break;
		case L_ICMP:
			pkt_icmp(b);
			break;
		case L_DATA:
			memset(pkt_put(b, l->a), 0xab, l->a);
			break;
		case L_ETHER:
			put16(b->data + b->type_at, l->a);
			pkt_put(b, l->b);
			break;
		default:
			assert(!"unknown layer");
		}
	}
	pkt_seal(b);
}

/* FRAME(&b, "10.0.0.1", IP4, UDP(53)) */
#define FRAME(b, src, ...) \
	pkt_build((b), (const struct layer[]){ __VA_ARGS__, { L_END, 0, 0, 0 } }, (src))

#endif
