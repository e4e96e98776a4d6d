/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing through a bounds-checked cursor. Each parse_* returns
 * PARSE_OK with the cursor past the header, PARSE_STOP when there is no
 * further header to read (non-IP, ESP, a non-first fragment), or
 * PARSE_BAD when the header is truncated or its lengths are bogus.
 */
#ifndef SLUICE_BPF_PARSING_H
#define SLUICE_BPF_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <sluice/abi.h>

#define PARSE_OK	0
#define PARSE_STOP	1
#define PARSE_BAD	(-1)

#ifndef ETH_P_8021AD
#define ETH_P_8021AD	0x88A8
#endif
#define IP_MF		0x2000
#define IP_OFFSET	0x1FFF
#define MAX_VLAN	2
#define MAX_EXTHDR	8

struct cursor {
	void *pos;
	void *end;
};

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | M */
	__be32 id;
};

/* What the verdict needs to know about a packet. */
struct pkt {
	struct sluice_src src;
	__u32 len;
	__u16 dport;		/* host order; valid when has_ports */
	__u8 proto;
	__u8 has_ports;
	__u8 syn;		/* TCP SYN without ACK */
};

#define CURSOR_TAKE(c, type)						\
	({								\
		type *__h = (c)->pos;					\
		if ((void *)(__h + 1) > (c)->end)			\
			__h = NULL;					\
		else							\
			(c)->pos = __h + 1;				\
		__h;							\
	})

/* Ethernet plus up to two VLAN tags (802.1Q, 802.1ad). Returns ethertype or -1. */
static __always_inline int parse_eth(struct cursor *c)
{
	struct ethhdr *eth = CURSOR_TAKE(c, struct ethhdr);
	struct vlan_hdr *vh;
	__u16 proto;

	if (!eth)
		return -1;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < MAX_VLAN; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = CURSOR_TAKE(c, struct vlan_hdr);
		if (!vh)
			return -1;
		proto = vh->proto;
	}
	return bpf_ntohs(proto);
}

/* L4 ports and flags; the cursor is at the transport header. */
static __always_inline int parse_l4(struct cursor *c, struct pkt *p)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = CURSOR_TAKE(c, struct tcphdr);

		if (!th || th->doff < 5)
			return PARSE_BAD;
		if ((void *)th + th->doff * 4 > c->end)
			return PARSE_BAD;
		p->dport = bpf_ntohs(th->dest);
		p->has_ports = 1;
		p->syn = th->syn && !th->ack;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = CURSOR_TAKE(c, struct udphdr);

		if (!uh)
			return PARSE_BAD;
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
	}
	return PARSE_OK;
}

/* IPv4 with options; fragments other than the first carry no ports. */
static __always_inline int parse_ipv4(struct cursor *c, struct pkt *p)
{
	struct iphdr *ip = CURSOR_TAKE(c, struct iphdr);
	__u32 hlen;

	if (!ip || ip->version != 4 || ip->ihl < 5)
		return PARSE_BAD;
	hlen = ip->ihl * 4;
	if ((void *)ip + hlen > c->end)
		return PARSE_BAD;
	if (bpf_ntohs(ip->tot_len) < hlen)
		return PARSE_BAD;
	c->pos = (void *)ip + hlen;
	p->src.family = SLUICE_AF_INET;
	p->src.addr[0] = ip->saddr;
	p->proto = ip->protocol;
	if (ip->frag_off & bpf_htons(IP_OFFSET))
		return PARSE_STOP;
	return PARSE_OK;
}

/* IPv6 and its extension headers, up to MAX_EXTHDR of them. */
static __always_inline int parse_ipv6(struct cursor *c, struct pkt *p)
{
	struct ipv6hdr *ip6 = CURSOR_TAKE(c, struct ipv6hdr);
	__u8 nh;

	if (!ip6 || ip6->version != 6)
		return PARSE_BAD;
	p->src.family = SLUICE_AF_INET6;
	__builtin_memcpy(p->src.addr, &ip6->saddr, sizeof(p->src.addr));
	nh = ip6->nexthdr;

	/* One pass more than headers allowed: the last may only find the upper layer */
#pragma unroll
	for (int i = 0; i <= MAX_EXTHDR; i++) {
		struct ipv6_ext *ext;
		struct ipv6_frag *fh;

		if (i == MAX_EXTHDR && (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING ||
					nh == IPPROTO_DSTOPTS || nh == IPPROTO_AH ||
					nh == IPPROTO_FRAGMENT))
			return PARSE_BAD;
		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			ext = c->pos;
			if ((void *)(ext + 1) > c->end)
				return PARSE_BAD;
			if (c->pos + (ext->hdrlen + 1) * 8 > c->end)
				return PARSE_BAD;
			nh = ext->nexthdr;
			c->pos += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			ext = c->pos;
			if ((void *)(ext + 1) > c->end)
				return PARSE_BAD;
			if (c->pos + (ext->hdrlen + 2) * 4 > c->end)
				return PARSE_BAD;
			nh = ext->nexthdr;
			c->pos += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			fh = CURSOR_TAKE(c, struct ipv6_frag);
			if (!fh)
				return PARSE_BAD;
			nh = fh->nexthdr;
			if (fh->frag_off & bpf_htons(0xFFF8)) {
				p->proto = nh;
				return PARSE_STOP;
			}
			break;
		default:
			p->proto = nh;
			/* ESP, no-next-header and unknown protocols carry no ports we read */
			return (nh == IPPROTO_TCP || nh == IPPROTO_UDP) ? PARSE_OK : PARSE_STOP;
		}
	}
	/* More extension headers than any sane sender uses */
	return PARSE_BAD;
}

/*
 * Fills p from the frame. Returns PARSE_OK for an IP packet (ports known or
 * not), PARSE_STOP for a non-IP frame, PARSE_BAD for a malformed one.
 */
static __always_inline int parse_packet(struct xdp_md *ctx, struct pkt *p)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	int proto, ret;

	p->len = c.end - c.pos;
	proto = parse_eth(&c);
	if (proto < 0)
		return PARSE_BAD;
	if (proto == ETH_P_IP)
		ret = parse_ipv4(&c, p);
	else if (proto == ETH_P_IPV6)
		ret = parse_ipv6(&c, p);
	else
		return PARSE_STOP;
	if (ret == PARSE_BAD)
		return PARSE_BAD;
	if (ret == PARSE_STOP)
		return PARSE_OK;
	return parse_l4(&c, p) == PARSE_BAD ? PARSE_BAD : PARSE_OK;
}

#endif
