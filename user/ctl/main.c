// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl: manage the sluice data plane. bpftool's grammar:
 *   sluicectl [-j|-p] [-v] OBJECT COMMAND [ARGS]
 * Exit status 0 ok, 1 runtime error, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "lib/duration.h"
#include "lib/listfile.h"
#include "lib/log.h"
#include "lib/number.h"

#define SLUICE_VERSION "0.1.0"

bool json_output;
struct jsonw *jw;

/* The first error, repeated on stdout as {"error": ...} in JSON mode */
static char first_error[512];

static int vmsg(const char *fmt, va_list ap)
{
	va_list copy;

	va_copy(copy, ap);
	if (!first_error[0])
		vsnprintf(first_error, sizeof(first_error), fmt, copy);
	va_end(copy);
	fputs("sluicectl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return 0;
}

int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

/* "'t' is ambiguous (throttle, top)": every candidate, no more */
static int ambiguous(const char *object, const struct cmd *cmds, const char *arg)
{
	char list[256] = "";
	size_t n = strlen(arg), off = 0;

	for (const struct cmd *c = cmds; c->name && off < sizeof(list); c++)
		if (!strncmp(c->name, arg, n))
			off += snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", c->name);
	if (object)
		return usage_error("%s: '%s' is ambiguous (%s)", object, arg, list);
	return usage_error("'%s' is ambiguous (%s)", arg, list);
}

int dispatch(const char *object, const struct cmd *cmds, int argc, char **argv)
{
	bool toplevel = !strcmp(object, "sluicectl");
	const struct cmd *hit = NULL;
	size_t n;

	if (argc < 1) {
		usage_error("%s: missing COMMAND", object);
		print_object_usage(object);
		return EXIT_USAGE;
	}
	n = strlen(argv[0]);
	for (const struct cmd *c = cmds; c->name; c++) {
		if (!strcmp(c->name, argv[0])) {
			hit = c;
			break;
		}
		if (n && !strncmp(c->name, argv[0], n)) {
			if (hit)
				return ambiguous(toplevel ? NULL : object, cmds, argv[0]);
			hit = c;
		}
	}
	if (!hit) {
		if (toplevel)
			return usage_error("unknown object '%s' (see sluicectl help)", argv[0]);
		usage_error("%s: unknown command '%s'", object, argv[0]);
		print_object_usage(object);
		return EXIT_USAGE;
	}
	return hit->fn(argc - 1, argv + 1);
}

int ctl_open(struct dataplane *dp, unsigned int flags, const char *what)
{
	int err = dataplane_open(dp, flags);

	if (!err)
		return 0;
	if (err == -EPERM)
		return fail("%s: must run as root (needs CAP_BPF, CAP_NET_ADMIN and bpffs)", what);
	if (err == -ENOENT && (flags & DP_NOCREATE))
		return fail("%s: no sluice maps pinned in %s", what, dp_pin_dir());
	return fail("%s: cannot open the maps in %s: %s", what, dp_pin_dir(), strerror(-err));
}

bool need_value(int argc, char **argv, int i, const char *what)
{
	if (i + 1 < argc)
		return true;
	usage_error("%s: '%s' needs a value", what, argv[i]);
	return false;
}

int arg_duration(const char *what, const char *key, const char *val, __u64 *ns)
{
	const char *why = "invalid";

	if (duration_parse(val, ns, &why))
		return usage_error("%s: %s '%s': %s", what, key, val, why);
	return 0;
}

int arg_u32(const char *what, const char *key, const char *val, __u32 min, __u32 max, __u32 *out)
{
	int err = parse_u32(val, min, max, out);

	if (err == -ERANGE)
		return usage_error("%s: %s '%s': out of range (%u-%u)", what, key, val, min, max);
	if (err)
		return usage_error("%s: %s '%s': expected a decimal number", what, key, val);
	return 0;
}

/* Joins argv[from..] with spaces into a reason, checking it. */
int arg_reason(const char *what, int argc, char **argv, int from, char *out, size_t len)
{
	const char *why;
	size_t off = 0;

	out[0] = '\0';
	for (int i = from; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (off + n + (off ? 1 : 0) >= len)
			return usage_error("%s: reason '%.*s...': longer than %zu bytes", what,
					   (int)off, out, len - 1);
		if (off)
			out[off++] = ' ';
		memcpy(out + off, argv[i], n + 1);
		off += n;
	}
	if (reason_check(out, &why))
		return usage_error("%s: '%s': %s", what, out, why);
	return 0;
}

/* The arguments of a flush command: nothing, or "expired". 0 or EXIT_USAGE. */
static int arg_flush(const char *what, int argc, char **argv, int *expired)
{
	*expired = argc > 0 && !strcmp(argv[0], "expired");
	if (argc > 0 && !*expired)
		return usage_error("%s: unexpected argument '%s' (only: expired)", what, argv[0]);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	return 0;
}

int cmd_flush(const char *what, const char *noun, int argc, char **argv,
	      int (*flush)(struct dataplane *dp, int expired_only, size_t *n))
{
	struct dataplane dp;
	int expired, ret, err;
	size_t n;

	if ((ret = arg_flush(what, argc, argv, &expired)))
		return ret;
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	err = flush(&dp, expired, &n);
	dataplane_close(&dp);
	if (err)
		return fail("%s: %s", what, strerror(-err));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_uint_field(jw, "deleted", n);
		jsonw_end_object(jw);
	} else {
		printf("deleted %zu %s\n", n, noun);
	}
	return EXIT_OK;
}

const char *origin_name(__u16 origin)
{
	switch (origin) {
	case SLUICE_ORIGIN_CLI:
		return "cli";
	case SLUICE_ORIGIN_DAEMON:
		return "daemon";
	case SLUICE_ORIGIN_SYNC:
		return "sync";
	default:
		return "unknown";
	}
}

static int do_version(int argc, char **argv)
{
	if (argc > 0)
		return usage_error("version: unexpected argument '%s'", argv[0]);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "version", SLUICE_VERSION);
		jsonw_uint_field(jw, "abi", SLUICE_ABI_VERSION);
		jsonw_string_field(jw, "pin_dir", dp_pin_dir());
		jsonw_end_object(jw);
	} else {
		printf("sluicectl %s (abi v%d, maps in %s)\n", SLUICE_VERSION, SLUICE_ABI_VERSION,
		       dp_pin_dir());
	}
	return EXIT_OK;
}

static const struct cmd objects[] = {
	{ "iface", do_iface },
	{ "block", do_block },
	{ "allow", do_allow },
	{ "limit", do_limit },
	{ "throttle", do_throttle },
	{ "config", do_config },
	{ "stats", do_stats },
	{ "watch", do_watch },
	{ "top", do_top },
	{ "events", do_events },
	{ "audit", do_audit },
	{ "tokens", do_tokens },
	{ "key", do_key },
	{ "status", do_status },
	{ "reload", do_reload },
	{ "help", do_help },
	{ "version", do_version },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	enum log_level level = LOG_WARN;
	bool pretty = false, help = false, version = false;
	int opt, ret;

	opterr = 0;	/* our message names the option; getopt's would be a second line */
	while ((opt = getopt_long(argc, argv, "+jpvhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json_output = true;
			break;
		case 'p':
			json_output = pretty = true;
			break;
		case 'v':
			level = LOG_DEBUG;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			version = true;
			break;
		default:
			if (optopt)
				return usage_error("unknown option '-%c' (see sluicectl help)", optopt);
			return usage_error("unknown option '%s' (see sluicectl help)",
					   argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	log_setup("sluicectl", level);
	if (json_output) {
		jw = jsonw_new(stdout, pretty);
		if (!jw)
			return fail("out of memory");
	}
	if (help)
		ret = do_help(0, NULL);
	else if (version)
		ret = do_version(0, NULL);
	else if (argc < 1) {
		ret = usage_error("missing OBJECT");
		print_object_usage("sluicectl");
	}
	else
		ret = dispatch("sluicectl", objects, argc, argv);
	if (jw) {
		/* Every -j run prints one JSON document, whatever happened */
		if (jsonw_empty(jw) && ret) {
			jsonw_start_object(jw);
			jsonw_string_field(jw, "error", first_error[0] ? first_error : "failed");
			jsonw_end_object(jw);
		} else if (jsonw_empty(jw)) {
			jsonw_null(jw);
		}
		jsonw_destroy(&jw);
	}
	return ret;
}
