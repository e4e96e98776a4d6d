/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* rtnetlink through libmnl: what the kernel says is attached to a link. */
#ifndef SLUICE_NETLINK_H
#define SLUICE_NETLINK_H

#include <linux/types.h>

struct link_xdp {
	__u8 attached;		/* XDP_ATTACHED_NONE/DRV/SKB/HW/MULTI */
	__u32 prog_id;		/* the one program, or 0 */
	__u32 drv_prog_id;	/* per mode, when several */
	__u32 skb_prog_id;
};

/* 0, -ENODEV when the link is gone, or -errno. */
int link_xdp_query(int ifindex, struct link_xdp *x);

/* "native", "skb", "hw", "multi" or "none". */
const char *link_xdp_mode_name(__u8 attached);

#endif
