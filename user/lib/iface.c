// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "sluice_xdp.skel.h"
#include "duration.h"
#include "iface.h"
#include "log.h"
#include "stats.h"

const char *iface_mode_name(enum sluice_mode m)
{
	switch (m) {
	case SLUICE_MODE_NATIVE:
		return "native";
	case SLUICE_MODE_SKB:
		return "skb";
	default:
		return "auto";
	}
}

const char *iface_attach_name(enum sluice_attach a)
{
	switch (a) {
	case SLUICE_ATTACH_LIBXDP:
		return "libxdp";
	case SLUICE_ATTACH_LIBXDP_SINGLE:
		return "libxdp-single";
	case SLUICE_ATTACH_LIBBPF:
		return "libbpf";
	default:
		return "none";
	}
}

static int slot_get(struct dataplane *dp, __u32 slot, struct sluice_iface *rec)
{
	if (bpf_map_lookup_elem(dp->fd[DP_IFACES], &slot, rec))
		return -errno;
	return 0;
}

static int slot_put(struct dataplane *dp, __u32 slot, const struct sluice_iface *rec)
{
	if (bpf_map_update_elem(dp->fd[DP_IFACES], &slot, rec, BPF_ANY))
		return -errno;
	return 0;
}

/* Is prog_id a copy of sluice_xdp? */
static bool prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd;
	bool ours;

	if (!prog_id)
		return false;
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strncmp(info.name, SLUICE_PROG_NAME, sizeof(info.name));
	close(fd);
	return ours;
}

/*
 * The id of sluice_xdp running on ifindex, directly or under a libxdp
 * dispatcher; 0 if none. *mode gets the kernel's attach mode.
 */
static __u32 find_ours(int ifindex, __u8 *mode)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	struct link_xdp x;
	__u32 id = 0;

	*mode = XDP_ATTACHED_NONE;
	if (link_xdp_query(ifindex, &x) || x.attached == XDP_ATTACHED_NONE)
		return 0;
	*mode = x.attached;
	if (x.attached == XDP_ATTACHED_MULTI) {
		if (prog_is_ours(x.drv_prog_id)) {
			*mode = XDP_ATTACHED_DRV;
			return x.drv_prog_id;
		}
		if (prog_is_ours(x.skb_prog_id)) {
			*mode = XDP_ATTACHED_SKB;
			return x.skb_prog_id;
		}
	} else if (prog_is_ours(x.prog_id)) {
		return x.prog_id;
	}

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return 0;
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (!strcmp(xdp_program__name(p), SLUICE_PROG_NAME))
			id = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return id;
}

int iface_slot(struct dataplane *dp, const char *ifname)
{
	struct sluice_iface rec;

	for (__u32 s = 0; s < SLUICE_MAX_IFACES; s++)
		if (!slot_get(dp, s, &rec) && rec.ifindex &&
		    !strncmp(rec.name, ifname, sizeof(rec.name)))
			return s;
	return -ENOENT;
}

/*
 * A slot for ifname: its own from an earlier attach (counters continue),
 * else a never-used one, else one whose interface is detached (its
 * counters are cleared for the new owner).
 */
static int slot_claim(struct dataplane *dp, const char *ifname, int ifindex)
{
	struct sluice_iface rec;
	int s, unused = -1, reclaim = -1;

	s = iface_slot(dp, ifname);
	if (s >= 0 && !slot_get(dp, s, &rec) && rec.ifindex == (__u32)ifindex)
		return s;
	for (s = 0; s < SLUICE_MAX_IFACES; s++) {
		if (slot_get(dp, s, &rec))
			continue;
		if (!rec.ifindex && unused < 0)
			unused = s;
		else if (rec.ifindex && rec.attach == SLUICE_ATTACH_NONE && reclaim < 0)
			reclaim = s;
	}
	s = unused >= 0 ? unused : reclaim;
	if (s < 0)
		return -ENOSPC;
	stats_clear_slot(dp, s);
	return s;
}

static int attach_libxdp(struct sluice_xdp *skel, int ifindex, enum xdp_attach_mode xmode,
			 enum sluice_attach *kind, __u32 *prog_id)
{
	struct xdp_program *prog;
	struct xdp_multiprog *mp;
	int err;

	prog = xdp_program__from_bpf_obj(skel->obj, "xdp");
	err = libxdp_get_error(prog);
	if (err)
		return err;
	err = xdp_program__attach(prog, ifindex, xmode, 0);
	if (!err) {
		*prog_id = xdp_program__id(prog);
		*kind = SLUICE_ATTACH_LIBXDP;
		mp = xdp_multiprog__get_from_ifindex(ifindex);
		if (!libxdp_get_error(mp)) {
			if (xdp_multiprog__is_legacy(mp))
				*kind = SLUICE_ATTACH_LIBXDP_SINGLE;
			xdp_multiprog__close(mp);
		}
	}
	xdp_program__close(prog);
	return err;
}

static int attach_libbpf(struct sluice_xdp *skel, int ifindex, enum xdp_attach_mode xmode,
			 __u32 *prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST;
	int err, fd;

	flags |= xmode == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	err = sluice_xdp__load(skel);
	if (err)
		return err;
	fd = bpf_program__fd(skel->progs.sluice_xdp);
	err = bpf_xdp_attach(ifindex, fd, flags, NULL);
	if (err)
		return err;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		*prog_id = info.id;
	return 0;
}

/* One attempt in one mode: libxdp, then, on a fresh object, plain libbpf. */
static int attach_mode(int slot, int ifindex, enum xdp_attach_mode xmode,
		       enum sluice_attach *kind, __u32 *prog_id, char *note, size_t notelen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dp_pin_dir());
	struct sluice_xdp *skel;
	int err;

	skel = sluice_xdp__open_opts(&opts);
	if (!skel)
		return -errno;
	skel->rodata->if_slot = slot;
	log_clear_lib_warning();
	err = attach_libxdp(skel, ifindex, xmode, kind, prog_id);
	if (!err && *kind == SLUICE_ATTACH_LIBXDP_SINGLE)
		snprintf(note, notelen, "libxdp dispatcher unavailable, single-program mode (%s)",
			 log_last_lib_warning()[0] ? log_last_lib_warning() : "kernel refused it");
	sluice_xdp__destroy(skel);
	if (!err || err == -EEXIST || err == -EBUSY || err == -EOPNOTSUPP)
		return err;

	snprintf(note, notelen, "libxdp failed (%s: %s), attached with libbpf",
		 strerror(-err), log_last_lib_warning());
	skel = sluice_xdp__open_opts(&opts);
	if (!skel)
		return -errno;
	skel->rodata->if_slot = slot;
	err = attach_libbpf(skel, ifindex, xmode, prog_id);
	if (!err)
		*kind = SLUICE_ATTACH_LIBBPF;
	sluice_xdp__destroy(skel);
	return err;
}

int iface_attach(struct dataplane *dp, const char *ifname, enum sluice_mode mode,
		 struct sluice_iface *rec, char *note, size_t notelen)
{
	enum sluice_attach kind = SLUICE_ATTACH_NONE;
	__u32 prog_id = 0;
	__u8 kmode;
	int ifindex, slot, err;

	note[0] = '\0';
	if (strlen(ifname) >= SLUICE_IFNAME_LEN)
		return -ENODEV;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;

	slot = iface_slot(dp, ifname);
	prog_id = find_ours(ifindex, &kmode);
	if (prog_id) {
		/* Already enforcing there (e.g. attached by the CLI before the daemon) */
		if (slot < 0 || slot_get(dp, slot, rec) || rec->ifindex != (__u32)ifindex) {
			memset(rec, 0, sizeof(*rec));
			rec->ifindex = ifindex;
			snprintf(rec->name, sizeof(rec->name), "%s", ifname);
		}
		rec->prog_id = prog_id;
		rec->mode = kmode == XDP_ATTACHED_SKB ? SLUICE_MODE_SKB : SLUICE_MODE_NATIVE;
		return -EEXIST;
	}

	slot = slot_claim(dp, ifname, ifindex);
	if (slot < 0)
		return slot;

	if (mode == SLUICE_MODE_SKB) {
		err = attach_mode(slot, ifindex, XDP_MODE_SKB, &kind, &prog_id, note, notelen);
	} else {
		err = attach_mode(slot, ifindex, XDP_MODE_NATIVE, &kind, &prog_id, note, notelen);
		if (err == -EOPNOTSUPP && mode == SLUICE_MODE_AUTO)
			err = attach_mode(slot, ifindex, XDP_MODE_SKB, &kind, &prog_id, note, notelen);
	}
	if (err)
		return err;

	find_ours(ifindex, &kmode);
	memset(rec, 0, sizeof(*rec));
	rec->ifindex = ifindex;
	rec->prog_id = prog_id;
	rec->attached_s = wall_s();
	rec->mode_req = mode;
	rec->mode = kmode == XDP_ATTACHED_SKB ? SLUICE_MODE_SKB : SLUICE_MODE_NATIVE;
	rec->attach = kind;
	snprintf(rec->name, sizeof(rec->name), "%s", ifname);
	return slot_put(dp, slot, rec);
}

static int detach_prog(int ifindex, __u32 prog_id, __u8 kmode)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int err = -ENOENT, fd;
	__u32 flags;

	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!libxdp_get_error(mp)) {
		enum xdp_attach_mode xm = xdp_multiprog__attach_mode(mp);

		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (xdp_program__id(p) == prog_id)
				err = xdp_program__detach(p, ifindex, xm, 0);
		if (err && xdp_multiprog__is_legacy(mp)) {
			p = xdp_multiprog__main_prog(mp);
			if (p && xdp_program__id(p) == prog_id)
				err = xdp_program__detach(p, ifindex, xm, 0);
		}
		xdp_multiprog__close(mp);
		if (!err)
			return 0;
	}

	/* Not libxdp's to detach: replace exactly our program with nothing */
	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0)
		return -errno;
	flags = XDP_FLAGS_REPLACE | (kmode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);
	{
		LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);

		err = bpf_xdp_attach(ifindex, -1, flags, &o);
	}
	close(fd);
	return err;
}

int iface_detach(struct dataplane *dp, const char *ifname)
{
	struct sluice_iface rec;
	__u32 prog_id;
	__u8 kmode;
	int ifindex, slot, err;

	ifindex = strlen(ifname) < SLUICE_IFNAME_LEN ? (int)if_nametoindex(ifname) : 0;
	slot = iface_slot(dp, ifname);
	if (!ifindex) {
		if (slot < 0)
			return -ENODEV;
		/* The link is gone, and its program with it: forget the attachment */
		if (!slot_get(dp, slot, &rec)) {
			rec.attach = SLUICE_ATTACH_NONE;
			slot_put(dp, slot, &rec);
		}
		return 0;
	}

	prog_id = find_ours(ifindex, &kmode);
	if (!prog_id) {
		if (slot >= 0 && !slot_get(dp, slot, &rec) && rec.attach != SLUICE_ATTACH_NONE) {
			rec.attach = SLUICE_ATTACH_NONE;
			slot_put(dp, slot, &rec);
		}
		return -ENOENT;
	}
	err = detach_prog(ifindex, prog_id, kmode);
	if (err)
		return err;
	if (slot >= 0 && !slot_get(dp, slot, &rec)) {
		rec.attach = SLUICE_ATTACH_NONE;
		rec.prog_id = 0;
		slot_put(dp, slot, &rec);
	}
	return 0;
}

int iface_walk(struct dataplane *dp, int (*cb)(const struct iface_state *st, void *arg), void *arg)
{
	struct iface_state st;
	__u8 kmode;
	int ret;

	for (__u32 s = 0; s < SLUICE_MAX_IFACES; s++) {
		memset(&st, 0, sizeof(st));
		if (slot_get(dp, s, &st.rec) || !st.rec.ifindex)
			continue;
		st.slot = s;
		st.link_present = if_nametoindex(st.rec.name) == st.rec.ifindex;
		if (st.link_present) {
			link_xdp_query(st.rec.ifindex, &st.kernel);
			st.enforcing = find_ours(st.rec.ifindex, &kmode) != 0;
		}
		ret = cb(&st, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int iface_any_attached(struct dataplane *dp, char *name, size_t len)
{
	struct sluice_iface rec;
	__u8 kmode;

	for (__u32 s = 0; s < SLUICE_MAX_IFACES; s++) {
		if (slot_get(dp, s, &rec) || !rec.ifindex || rec.attach == SLUICE_ATTACH_NONE)
			continue;
		if (if_nametoindex(rec.name) != rec.ifindex || !find_ours(rec.ifindex, &kmode))
			continue;
		snprintf(name, len, "%s", rec.name);
		return 1;
	}
	return 0;
}
