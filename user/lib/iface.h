/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Attaching sluice_xdp to interfaces: libxdp first (so it coexists with
 * other XDP programs), falling back to a plain netlink attach where libxdp
 * cannot; each attachment owns a stats slot recorded in the ifaces map.
 */
#ifndef SLUICE_IFACE_H
#define SLUICE_IFACE_H

#include <stdbool.h>
#include <stddef.h>
#include "dataplane.h"
#include "netlink.h"

/* What an interface looks like to `iface list`: our record and the kernel's view. */
struct iface_state {
	__u32 slot;
	struct sluice_iface rec;
	struct link_xdp kernel;
	bool link_present;	/* the interface still exists */
	bool enforcing;		/* our program is what the kernel runs there */
};

/*
 * Attaches to ifname in mode (auto: native, else skb). On success fills
 * *rec and, where libxdp fell back, a sentence saying why in note.
 * -EEXIST (with *rec filled) when sluice is already attached there: the
 * caller adopts it. -ENODEV for an unknown interface.
 */
int iface_attach(struct dataplane *dp, const char *ifname, enum sluice_mode mode,
		 struct sluice_iface *rec, char *note, size_t notelen);

/* Detaches; -ENOENT when sluice is not attached to ifname. */
int iface_detach(struct dataplane *dp, const char *ifname);

/* Fills st for each slot that has ever held an interface; cb returns non-zero to stop. */
int iface_walk(struct dataplane *dp, int (*cb)(const struct iface_state *st, void *arg), void *arg);

/* Slot owned by ifname, -ENOENT if none. */
int iface_slot(struct dataplane *dp, const char *ifname);

/* Whether any interface still runs sluice_xdp (the maps are in use). */
int iface_any_attached(struct dataplane *dp, char *name, size_t len);

const char *iface_mode_name(enum sluice_mode m);
const char *iface_attach_name(enum sluice_attach a);

#endif
