// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluicectl config: show, set KEY VALUE. Keys come from lib/xdpconf's table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "lib/throttle.h"
#include "lib/xdpconf.h"

static int config_show(int argc, char **argv)
{
	struct sluice_config cfg;
	struct dataplane dp;
	char buf[512];
	__u16 ports[256];
	size_t n;
	int ret;

	if (argc > 0)
		return usage_error("config show: unexpected argument '%s'", argv[0]);
	if ((ret = ctl_open(&dp, 0, "config show")))
		return ret;
	ret = dp_config_get(&dp, &cfg);
	dataplane_close(&dp);
	if (ret)
		return fail("config show: cannot read the config map: %s", strerror(-ret));

	if (!json_output) {
		for (size_t i = 0; i < xdpconf_nkeys; i++)
			printf("%-16s %s\n", xdpconf_keys[i].name,
			       xdpconf_format(&cfg, &xdpconf_keys[i], buf, sizeof(buf)));
		return EXIT_OK;
	}
	jsonw_start_object(jw);
	for (size_t i = 0; i < xdpconf_nkeys; i++) {
		const struct xdpconf_key *k = &xdpconf_keys[i];

		switch (k->type) {
		case XC_BOOL:
			jsonw_bool_field(jw, k->name, xdpconf_get(&cfg, k));
			break;
		case XC_UINT:
			jsonw_uint_field(jw, k->name, xdpconf_get(&cfg, k));
			break;
		case XC_PORTS:
			/* Ranges keep the list short whatever was set */
			jsonw_string_field(jw, k->name, xdpconf_format(&cfg, k, buf, sizeof(buf)));
			n = xdpconf_ports(&cfg, ports, 256);
			if (cfg.nr_ports <= 256) {
				jsonw_name(jw, "port_list");
				jsonw_start_array(jw);
				for (size_t j = 0; j < n; j++)
					jsonw_uint(jw, ports[j]);
				jsonw_end_array(jw);
			}
			break;
		}
	}
	jsonw_end_object(jw);
	return EXIT_OK;
}

static int config_set(int argc, char **argv)
{
	const char *what = "config set", *why = "invalid";
	const struct xdpconf_key *k;
	struct sluice_config cfg;
	struct dataplane dp;
	char buf[512];
	__u32 old_prefix;
	int ret, err;

	if (argc < 2)
		return usage_error("%s: expected KEY VALUE", what);
	if (argc > 2)
		return usage_error("%s: unexpected argument '%s'", what, argv[2]);
	k = xdpconf_find(argv[0]);
	if (!k) {
		usage_error("%s: unknown key '%s'; keys:", what, argv[0]);
		for (size_t i = 0; i < xdpconf_nkeys; i++)
			fprintf(stderr, "  %-16s %-24s %s\n", xdpconf_keys[i].name,
				xdpconf_keys[i].values, xdpconf_keys[i].help);
		return EXIT_USAGE;
	}
	/* Validate before touching anything */
	memset(&cfg, 0, sizeof(cfg));
	if (xdpconf_set(&cfg, k, argv[1], &why))
		return usage_error("%s: %s '%s': %s (%s)", what, k->name, argv[1], why, k->values);

	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	err = dp_config_get(&dp, &cfg);
	old_prefix = cfg.v6_prefix;
	if (!err)
		err = xdpconf_set(&cfg, k, argv[1], &why);
	if (!err)
		err = dp_config_put(&dp, &cfg);
	/* v6 verdicts are keyed by the source prefix: move them to the new one */
	if (!err && cfg.v6_prefix != old_prefix)
		err = throttle_rekey_v6(&dp, cfg.v6_prefix);
	dataplane_close(&dp);
	if (err)
		return fail("%s: %s: %s", what, k->name, strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, k->name, xdpconf_format(&cfg, k, buf, sizeof(buf)));
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

int do_config(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", config_show },
		{ "set", config_set },
		{ NULL, NULL },
	};

	return dispatch("config", cmds, argc, argv);
}
