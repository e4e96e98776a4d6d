// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl throttle: per-source verdicts (normally pushed by sluiced).
 *   add ADDR [pps N [burst N]] [ttl DURATION] [reason TEXT...]   del ADDR   list
 * Without pps the source is dropped outright.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/throttle.h"

/* One address, or a v6 source prefix as `throttle list` shows it. */
static int arg_addr(const char *what, const char *s, struct cidr *c)
{
	const char *why = "invalid";

	if (cidr_parse(s, c, &why))
		return usage_error("%s: '%s': %s", what, s, why);
	if (c->family == SLUICE_AF_INET && c->prefixlen != 32)
		return usage_error("%s: '%s': expected one address (verdicts are per source)", what, s);
	return 0;
}

/* A v6 prefix must be exactly the source prefix verdicts are kept per. */
static int check_v6_prefix(struct dataplane *dp, const char *what, const char *s,
			   const struct cidr *c)
{
	struct sluice_config cfg;

	if (c->family != SLUICE_AF_INET6 || c->prefixlen == 128)
		return 0;
	if (dp_config_get(dp, &cfg))
		return fail("%s: cannot read the config map", what);
	if (c->prefixlen != cfg.v6_prefix)
		return usage_error("%s: '%s': expected one address or its /%u source prefix",
				   what, s, cfg.v6_prefix);
	return 0;
}

static int throttle_add_cmd(int argc, char **argv)
{
	const char *what = "throttle add";
	char reason[SLUICE_REASON_LEN] = "";
	__u32 pps = 0, burst = 0;
	struct dataplane dp;
	struct cidr c;
	__u64 ttl = 0;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing ADDR", what);
	if ((ret = arg_addr(what, argv[0], &c)))
		return ret;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "pps") && strcmp(argv[i], "burst") && strcmp(argv[i], "ttl") &&
		    strcmp(argv[i], "reason"))
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		if (!strcmp(argv[i], "pps")) {
			ret = arg_u32(what, "pps", argv[++i], 1, 100000000, &pps);
		} else if (!strcmp(argv[i], "burst")) {
			ret = arg_u32(what, "burst", argv[++i], 1, 100000000, &burst);
		} else if (!strcmp(argv[i], "ttl")) {
			ret = arg_duration(what, "ttl", argv[++i], &ttl);
			if (!ret && !ttl)
				return usage_error("%s: ttl '%s': must be positive", what, argv[i]);
		} else if (!strcmp(argv[i], "reason")) {
			if ((ret = arg_reason(what, argc, argv, i + 1, reason, sizeof(reason))))
				return ret;
			break;
		} else {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		}
		if (ret)
			return ret;
	}
	if (burst && !pps)
		return usage_error("%s: burst needs pps", what);
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	if ((ret = check_v6_prefix(&dp, what, argv[0], &c))) {
		dataplane_close(&dp);
		return ret;
	}
	err = throttle_add(&dp, &c, pps, burst ? burst : pps, ttl, reason, SLUICE_ORIGIN_CLI);
	dataplane_close(&dp);
	if (err == -E2BIG)
		return fail("%s: '%s': the throttle table is full", what, argv[0]);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "added", argv[0]);
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

static int throttle_del_cmd(int argc, char **argv)
{
	const char *what = "throttle del";
	struct dataplane dp;
	struct cidr c;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing ADDR", what);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	if ((ret = arg_addr(what, argv[0], &c)))
		return ret;
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	if ((ret = check_v6_prefix(&dp, what, argv[0], &c))) {
		dataplane_close(&dp);
		return ret;
	}
	err = throttle_del(&dp, &c);
	dataplane_close(&dp);
	if (err == -ENOENT)
		return fail("%s: '%s': no verdict for it", what, argv[0]);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "deleted", argv[0]);
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

static int list_one(const struct cidr *c, const struct sluice_throttle *t, void *arg)
{
	__u64 now = *(__u64 *)arg;
	char buf[CIDR_STRLEN], dur[DURATION_STRLEN];
	__u64 left = t->expires_ns ? (t->expires_ns > now ? t->expires_ns - now : 0) : 0;

	if (t->expires_ns && !left)
		return 0;	/* expired: no longer enforced */
	cidr_format(c, buf, sizeof(buf));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "source", buf);
		jsonw_string_field(jw, "action", t->cap.rate ? "cap" : "drop");
		jsonw_uint_field(jw, "pps", t->cap.rate);
		jsonw_uint_field(jw, "burst", t->cap.burst);
		if (left)
			jsonw_uint_field(jw, "expires_in_s", left / NSEC_PER_SEC);
		else {
			jsonw_name(jw, "expires_in_s");
			jsonw_null(jw);
		}
		jsonw_string_field(jw, "origin", origin_name(t->origin));
		jsonw_string_field(jw, "reason", t->reason);
		jsonw_end_object(jw);
	} else {
		char act[32];

		if (t->cap.rate)
			snprintf(act, sizeof(act), "cap %u/s", t->cap.rate);
		else
			snprintf(act, sizeof(act), "drop");
		printf("%-43s %-14s %-10s %-7s %s\n", buf, act,
		       left ? duration_format(left, dur, sizeof(dur)) : "never",
		       origin_name(t->origin), t->reason);
	}
	return 0;
}

static int throttle_list_cmd(int argc, char **argv)
{
	struct dataplane dp;
	__u64 now = mono_ns();
	int ret;

	if (argc > 0)
		return usage_error("throttle list: unexpected argument '%s'", argv[0]);
	if ((ret = ctl_open(&dp, 0, "throttle list")))
		return ret;
	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-43s %-14s %-10s %-7s %s\n", "SOURCE", "ACTION", "EXPIRES", "ORIGIN", "REASON");
	throttle_walk(&dp, list_one, &now);
	if (json_output)
		jsonw_end_array(jw);
	dataplane_close(&dp);
	return EXIT_OK;
}

static int throttle_flush_cmd(int argc, char **argv)
{
	return cmd_flush("throttle flush", "verdicts", argc, argv, throttle_flush);
}

int do_throttle(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "add", throttle_add_cmd },
		{ "del", throttle_del_cmd },
		{ "list", throttle_list_cmd },
		{ "flush", throttle_flush_cmd },
		{ NULL, NULL },
	};

	return dispatch("throttle", cmds, argc, argv);
}
