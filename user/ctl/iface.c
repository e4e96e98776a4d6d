// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluicectl iface: attach, detach, list. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include "ctl.h"
#include "lib/iface.h"
#include "lib/netlink.h"

static int iface_attach_cmd(int argc, char **argv)
{
	const char *what = "iface attach";
	enum sluice_mode mode = SLUICE_MODE_AUTO;
	struct sluice_iface rec;
	struct dataplane dp;
	char note[256];
	int err, ret;

	if (argc < 1)
		return usage_error("%s: missing DEV", what);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "mode") && need_value(argc, argv, i, what)) {
			const char *m = argv[++i];

			if (!strcmp(m, "native"))
				mode = SLUICE_MODE_NATIVE;
			else if (!strcmp(m, "skb"))
				mode = SLUICE_MODE_SKB;
			else if (!strcmp(m, "auto"))
				mode = SLUICE_MODE_AUTO;
			else
				return usage_error("%s: mode '%s': expected native, skb or auto", what, m);
		} else {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		}
	}
	/* Before the maps are opened, which would create them for nothing */
	if (strlen(argv[0]) >= SLUICE_IFNAME_LEN || !if_nametoindex(argv[0]))
		return fail("%s: '%s': no such interface", what, argv[0]);
	ret = ctl_open(&dp, DP_LOCK, what);
	if (ret)
		return ret;
	err = iface_attach(&dp, argv[0], mode, &rec, note, sizeof(note));
	dataplane_close(&dp);
	if (err == -ENODEV)
		return fail("%s: '%s': no such interface", what, argv[0]);
	if (err == -EEXIST)
		return fail("%s: '%s': sluice is already attached (prog %u, %s mode)", what,
			    argv[0], rec.prog_id, iface_mode_name(rec.mode));
	if (err == -EOPNOTSUPP)
		return fail("%s: '%s': %s mode not supported by the driver (try mode skb)",
			    what, argv[0], iface_mode_name(mode));
	if (err == -EBUSY)
		return fail("%s: '%s': another XDP program is attached and libxdp cannot share the device",
			    what, argv[0]);
	if (err == -ENOSPC)
		return fail("%s: '%s': all %d interface slots are in use", what, argv[0],
			    SLUICE_MAX_IFACES);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));

	if (note[0])
		fprintf(stderr, "sluicectl: %s: %s: %s\n", what, argv[0], note);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "ifname", rec.name);
		jsonw_uint_field(jw, "ifindex", rec.ifindex);
		jsonw_string_field(jw, "mode", iface_mode_name(rec.mode));
		jsonw_string_field(jw, "attach", iface_attach_name(rec.attach));
		jsonw_uint_field(jw, "prog_id", rec.prog_id);
		if (note[0])
			jsonw_string_field(jw, "note", note);
		jsonw_end_object(jw);
	} else {
		printf("attached to %s: %s mode via %s (prog %u)\n", rec.name,
		       iface_mode_name(rec.mode), iface_attach_name(rec.attach), rec.prog_id);
	}
	return EXIT_OK;
}

static int iface_detach_cmd(int argc, char **argv)
{
	const char *what = "iface detach";
	char other[SLUICE_IFNAME_LEN];
	struct dataplane dp;
	bool purge = false;
	int err, ret;

	if (argc < 1)
		return usage_error("%s: missing DEV", what);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "purge"))
			purge = true;
		else
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
	}
	ret = ctl_open(&dp, DP_LOCK | DP_NOCREATE, what);
	if (ret)
		return ret;
	err = iface_detach(&dp, argv[0]);
	if (err == -ENODEV) {
		ret = fail("%s: '%s': no such interface", what, argv[0]);
		goto out;
	}
	if (err == -ENOENT) {
		ret = fail("%s: '%s': sluice is not attached there", what, argv[0]);
		goto out;
	}
	if (err) {
		ret = fail("%s: '%s': %s", what, argv[0], strerror(-err));
		goto out;
	}
	if (purge) {
		if (iface_any_attached(&dp, other, sizeof(other))) {
			ret = fail("%s: detached from %s, but not purged: the maps are still used on %s",
				   what, argv[0], other);
			goto out;
		}
		err = dataplane_unpin();
		if (err) {
			ret = fail("%s: purge: %s", what, strerror(-err));
			goto out;
		}
	}
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "ifname", argv[0]);
		jsonw_bool_field(jw, "purged", purge);
		jsonw_end_object(jw);
	} else {
		printf("detached from %s%s\n", argv[0], purge ? "; maps purged" : "");
	}
out:
	dataplane_close(&dp);
	return ret;
}

static int list_one(const struct iface_state *st, void *arg)
{
	const char *state = !st->link_present ? "gone" :
			    st->enforcing ? "enforcing" : "detached";

	(void)arg;
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "ifname", st->rec.name);
		jsonw_uint_field(jw, "ifindex", st->rec.ifindex);
		jsonw_uint_field(jw, "slot", st->slot);
		jsonw_string_field(jw, "state", state);
		jsonw_string_field(jw, "mode_requested", iface_mode_name(st->rec.mode_req));
		jsonw_string_field(jw, "mode", st->enforcing ? iface_mode_name(st->rec.mode) : "none");
		jsonw_string_field(jw, "attach", st->enforcing ? iface_attach_name(st->rec.attach) : "none");
		jsonw_string_field(jw, "kernel_xdp", link_xdp_mode_name(st->kernel.attached));
		jsonw_uint_field(jw, "prog_id", st->enforcing ? st->rec.prog_id : 0);
		jsonw_uint_field(jw, "attached_at", st->rec.attached_s);
		jsonw_end_object(jw);
	} else {
		printf("%-16s %7u %4u  %-9s  %-6s  %-6s  %-13s  %u\n", st->rec.name, st->rec.ifindex,
		       st->slot, state, iface_mode_name(st->rec.mode_req),
		       st->enforcing ? iface_mode_name(st->rec.mode) : "-",
		       st->enforcing ? iface_attach_name(st->rec.attach) : "-",
		       st->enforcing ? st->rec.prog_id : 0);
	}
	return 0;
}

static int iface_list_cmd(int argc, char **argv)
{
	struct dataplane dp;
	int ret;

	if (argc > 0)
		return usage_error("iface list: unexpected argument '%s'", argv[0]);
	ret = ctl_open(&dp, 0, "iface list");
	if (ret)
		return ret;
	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-16s %7s %4s  %-9s  %-6s  %-6s  %-13s  %s\n", "IFACE", "IFINDEX", "SLOT",
		       "STATE", "ASKED", "MODE", "ATTACH", "PROG");
	iface_walk(&dp, list_one, NULL);
	if (json_output)
		jsonw_end_array(jw);
	dataplane_close(&dp);
	return EXIT_OK;
}

int do_iface(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "attach", iface_attach_cmd },
		{ "detach", iface_detach_cmd },
		{ "list", iface_list_cmd },
		{ NULL, NULL },
	};

	return dispatch("iface", cmds, argc, argv);
}
