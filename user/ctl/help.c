// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The command synopsis: printed by `sluicectl help`, by each object on a
 * usage error, and checked against docs/sluicectl.8 by tests/cli/help.sh.
 */
#include <stdio.h>
#include <string.h>
#include "ctl.h"

const char *const synopsis[] = {
	"sluicectl [-j|-p] [-v] OBJECT COMMAND [ARGS]",
	"sluicectl iface attach DEV [mode native|skb|auto]",
	"sluicectl iface detach DEV [purge]",
	"sluicectl iface list",
	"sluicectl block add CIDR [ttl DURATION] [reason TEXT]",
	"sluicectl block del CIDR",
	"sluicectl block list",
	"sluicectl block flush [expired]",
	"sluicectl block import FILE",
	"sluicectl block export [FILE]",
	"sluicectl allow add CIDR [ttl DURATION] [reason TEXT]",
	"sluicectl allow del CIDR",
	"sluicectl allow list",
	"sluicectl allow flush [expired]",
	"sluicectl allow import FILE",
	"sluicectl allow export [FILE]",
	"sluicectl limit set default|CIDR pps N burst N [syn N [syn-burst N]]",
	"sluicectl limit del default|CIDR",
	"sluicectl limit list",
	"sluicectl throttle add ADDR [pps N [burst N]] [ttl DURATION] [reason TEXT]",
	"sluicectl throttle del ADDR",
	"sluicectl throttle list",
	"sluicectl throttle flush [expired]",
	"sluicectl config show",
	"sluicectl config set KEY VALUE",
	"sluicectl stats [DEV]",
	"sluicectl watch [DEV] [interval DURATION] [count N] [admin ADDR] [token-file FILE]",
	"sluicectl top [N] [interval DURATION]",
	"sluicectl events [count N] [timeout DURATION]",
	"sluicectl audit verify FILE",
	"sluicectl audit [show] [file FILE] [session ID] [origin KEY] [tenant T] [decision D] [rule R] [since T] [limit N]",
	"sluicectl tokens [file FILE] [origin KEY] [tenant T] [since T] [by tenant|key|route|model|pool]",
	"sluicectl key add tenant T [models GLOB...] [routes ROUTE...] [file FILE] [admin ADDR] [token-file FILE]",
	"sluicectl key list [file FILE] [state FILE]",
	"sluicectl key revoke ID [file FILE] [admin ADDR] [token-file FILE]",
	"sluicectl status [admin ADDR] [token-file FILE]",
	"sluicectl reload [admin ADDR] [token-file FILE]",
	"sluicectl help",
	"sluicectl version",
	NULL,
};

void print_object_usage(const char *object)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "sluicectl %s ", object);
	fprintf(stderr, "usage:\n");
	for (const char *const *l = synopsis; *l; l++)
		if (!strncmp(*l, prefix, strlen(prefix)) || !strcmp(object, "sluicectl"))
			fprintf(stderr, "  %s\n", *l);
}

int do_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (json_output) {
		jsonw_start_array(jw);
		for (const char *const *l = synopsis; *l; l++)
			jsonw_string(jw, *l);
		jsonw_end_array(jw);
		return EXIT_OK;
	}
	printf("usage:\n");
	for (const char *const *l = synopsis; *l; l++)
		printf("  %s\n", *l);
	printf("\nOBJECT and COMMAND may be abbreviated to any unique prefix.\n"
	       "-j prints JSON, -p pretty JSON, -v shows libbpf/libxdp diagnostics.\n"
	       "Exit status: 0 ok, 1 runtime error, 2 usage error. See sluicectl(8).\n");
	return EXIT_OK;
}
