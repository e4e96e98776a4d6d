// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl limit: per-source limits.
 *   set default|CIDR pps N burst N [syn N [syn-burst N]]   del default|CIDR   list
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "lib/cidr.h"
#include "lib/limits.h"
#include "lib/rate.h"

#define MAX_RATE	100000000U

/* NULL target is the default; otherwise *c is parsed. */
static int arg_target(const char *what, const char *s, struct cidr *c, bool *is_default)
{
	const char *why = "invalid";

	*is_default = !strcmp(s, "default");
	if (*is_default)
		return 0;
	if (cidr_parse(s, c, &why))
		return usage_error("%s: '%s': %s (or: default)", what, s, why);
	return 0;
}

static int limit_set(int argc, char **argv)
{
	const char *what = "limit set";
	__u32 pps = 0, burst = 0, syn = 0, syn_burst = 0;
	bool is_default, have_pps = false, have_burst = false;
	struct sluice_limit lim = {};
	struct dataplane dp;
	struct cidr c;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing default or CIDR", what);
	if ((ret = arg_target(what, argv[0], &c, &is_default)))
		return ret;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];

		if (strcmp(k, "pps") && strcmp(k, "burst") && strcmp(k, "syn") && strcmp(k, "syn-burst"))
			return usage_error("%s: unexpected argument '%s'", what, k);
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		if (!strcmp(k, "pps"))
			ret = arg_u32(what, k, argv[++i], 0, MAX_RATE, &pps), have_pps = true;
		else if (!strcmp(k, "burst"))
			ret = arg_u32(what, k, argv[++i], 1, MAX_RATE, &burst), have_burst = true;
		else if (!strcmp(k, "syn"))
			ret = arg_u32(what, k, argv[++i], 0, MAX_RATE, &syn);
		else if (!strcmp(k, "syn-burst"))
			ret = arg_u32(what, k, argv[++i], 1, MAX_RATE, &syn_burst);
		else
			return usage_error("%s: unexpected argument '%s'", what, k);
		if (ret)
			return ret;
	}
	if (!have_pps)
		return usage_error("%s: missing pps N (0: no packet limit)", what);
	if (pps && !have_burst)
		return usage_error("%s: missing burst N", what);
	rate_set(&lim.pkt, pps, burst);
	/* A SYN burst defaults to one second's worth */
	rate_set(&lim.syn, syn, syn_burst ? syn_burst : syn);

	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	if (!is_default && c.family == SLUICE_AF_INET6) {
		struct sluice_config cfg;

		/* Sources are tracked per ipv6-prefix: a longer override could never match */
		if (!dp_config_get(&dp, &cfg) && c.prefixlen > cfg.v6_prefix) {
			dataplane_close(&dp);
			return usage_error("%s: '%s': longer than the IPv6 source prefix /%u "
					   "(config ipv6-prefix)", what, argv[0], cfg.v6_prefix);
		}
	}
	err = limits_set(&dp, is_default ? NULL : &c, &lim);
	dataplane_close(&dp);
	if (err == -E2BIG)
		return fail("%s: '%s': the limits table is full", what, argv[0]);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "set", argv[0]);
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

static int limit_del(int argc, char **argv)
{
	const char *what = "limit del";
	struct dataplane dp;
	bool is_default;
	struct cidr c;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing default or CIDR", what);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	if ((ret = arg_target(what, argv[0], &c, &is_default)))
		return ret;
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	err = limits_del(&dp, is_default ? NULL : &c);
	dataplane_close(&dp);
	if (err == -ENOENT)
		return fail("%s: '%s': no limit set for it", what, argv[0]);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "deleted", argv[0]);
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

static void rate_json(const char *name, const struct sluice_rate *r)
{
	jsonw_name(jw, name);
	jsonw_start_object(jw);
	jsonw_uint_field(jw, "rate", r->rate);
	jsonw_uint_field(jw, "burst", r->burst);
	jsonw_end_object(jw);
}

static void print_limit(const char *target, const struct sluice_limit *l)
{
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "target", target);
		rate_json("pps", &l->pkt);
		rate_json("syn", &l->syn);
		jsonw_end_object(jw);
		return;
	}
	printf("%-43s ", target);
	if (l->pkt.rate)
		printf("%10u %10u ", l->pkt.rate, l->pkt.burst);
	else
		printf("%10s %10s ", "unlimited", "-");
	if (l->syn.rate)
		printf("%10u %10u\n", l->syn.rate, l->syn.burst);
	else
		printf("%10s %10s\n", "unlimited", "-");
}

static int list_one(const struct cidr *c, const struct sluice_limit *l, void *arg)
{
	char buf[CIDR_STRLEN];

	(void)arg;
	print_limit(cidr_format(c, buf, sizeof(buf)), l);
	return 0;
}

static int limit_list(int argc, char **argv)
{
	struct sluice_config cfg;
	struct dataplane dp;
	int ret;

	if (argc > 0)
		return usage_error("limit list: unexpected argument '%s'", argv[0]);
	if ((ret = ctl_open(&dp, 0, "limit list")))
		return ret;
	if (dp_config_get(&dp, &cfg)) {
		dataplane_close(&dp);
		return fail("limit list: cannot read the config map");
	}
	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-43s %10s %10s %10s %10s\n", "TARGET", "PPS", "BURST", "SYN/S", "SYN-BURST");
	print_limit("default", &cfg.def);
	limits_walk(&dp, list_one, NULL);
	if (json_output)
		jsonw_end_array(jw);
	dataplane_close(&dp);
	return EXIT_OK;
}

int do_limit(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "set", limit_set },
		{ "del", limit_del },
		{ "list", limit_list },
		{ NULL, NULL },
	};

	return dispatch("limit", cmds, argc, argv);
}
