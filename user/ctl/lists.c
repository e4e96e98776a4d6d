// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl block and allow: one implementation for both lists.
 *   add CIDR [ttl DURATION] [reason TEXT...]   del CIDR   list   flush [expired]
 *   import FILE   export [FILE]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl.h"
#include "lib/duration.h"
#include "lib/listfile.h"
#include "lib/rules.h"

#define MAX_IMPORT_ERRORS	20

static enum rule_list cur_list;
static const char *cur_name;	/* "block" or "allow" */

/* "block add" etc., for messages */
static const char *what_of(const char *cmd)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "%s %s", cur_name, cmd);
	return buf;
}

static int arg_cidr(const char *what, const char *s, struct cidr *c)
{
	const char *why = "invalid";

	if (cidr_parse(s, c, &why))
		return usage_error("%s: '%s': %s", what, s, why);
	return 0;
}

static int list_add(int argc, char **argv)
{
	const char *what = what_of("add");
	char reason[SLUICE_REASON_LEN] = "";
	struct dataplane dp;
	struct cidr c;
	__u64 ttl = 0;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing CIDR", what);
	if ((ret = arg_cidr(what, argv[0], &c)))
		return ret;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "ttl") && need_value(argc, argv, i, what)) {
			if ((ret = arg_duration(what, "ttl", argv[++i], &ttl)))
				return ret;
			if (!ttl)
				return usage_error("%s: ttl '%s': must be positive", what, argv[i]);
		} else if (!strcmp(argv[i], "reason") && need_value(argc, argv, i, what)) {
			if ((ret = arg_reason(what, argc, argv, i + 1, reason, sizeof(reason))))
				return ret;
			break;
		} else if (!strcmp(argv[i], "ttl") || !strcmp(argv[i], "reason")) {
			return EXIT_USAGE;
		} else {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		}
	}
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	err = rules_add(&dp, cur_list, &c, ttl, reason, SLUICE_ORIGIN_CLI);
	dataplane_close(&dp);
	if (err == -E2BIG)
		return fail("%s: '%s': the %s list is full", what, argv[0], cur_name);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		char buf[CIDR_STRLEN];

		jsonw_start_object(jw);
		jsonw_string_field(jw, "added", cidr_format(&c, buf, sizeof(buf)));
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

static int list_del(int argc, char **argv)
{
	const char *what = what_of("del");
	struct dataplane dp;
	struct cidr c;
	int ret, err;

	if (argc < 1)
		return usage_error("%s: missing CIDR", what);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	if ((ret = arg_cidr(what, argv[0], &c)))
		return ret;
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		return ret;
	err = rules_del(&dp, cur_list, &c);
	dataplane_close(&dp);
	if (err == -ENOENT)
		return fail("%s: '%s': not in the %s list", what, argv[0], cur_name);
	if (err)
		return fail("%s: '%s': %s", what, argv[0], strerror(-err));
	if (json_output) {
		char buf[CIDR_STRLEN];

		jsonw_start_object(jw);
		jsonw_string_field(jw, "deleted", cidr_format(&c, buf, sizeof(buf)));
		jsonw_end_object(jw);
	}
	return EXIT_OK;
}

struct list_ctx {
	__u64 now;
	size_t n;
	FILE *f;
};

static int list_one(const struct cidr *c, const struct sluice_rule *r, void *arg)
{
	struct list_ctx *ctx = arg;
	__u64 left = rule_remaining_ns(r, ctx->now);
	char buf[CIDR_STRLEN], dur[DURATION_STRLEN];

	if (left == 1)
		return 0;	/* expired: enforced as absent, swept by flush expired */
	ctx->n++;
	cidr_format(c, buf, sizeof(buf));
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "cidr", buf);
		jsonw_uint_field(jw, "family", c->family);
		if (left)
			jsonw_uint_field(jw, "expires_in_s", left / NSEC_PER_SEC);
		else {
			jsonw_name(jw, "expires_in_s");
			jsonw_null(jw);
		}
		jsonw_string_field(jw, "origin", origin_name(r->origin));
		jsonw_string_field(jw, "reason", r->reason);
		jsonw_uint_field(jw, "created", r->created_s);
		jsonw_end_object(jw);
	} else {
		printf("%-43s %-10s %-7s %s\n", buf,
		       left ? duration_format(left, dur, sizeof(dur)) : "never",
		       origin_name(r->origin), r->reason);
	}
	return 0;
}

static int list_list(int argc, char **argv)
{
	struct list_ctx ctx = { .now = mono_ns() };
	struct dataplane dp;
	int ret, err;

	if (argc > 0)
		return usage_error("%s: unexpected argument '%s'", what_of("list"), argv[0]);
	if ((ret = ctl_open(&dp, 0, what_of("list"))))
		return ret;
	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-43s %-10s %-7s %s\n", "CIDR", "EXPIRES", "ORIGIN", "REASON");
	err = rules_walk(&dp, cur_list, list_one, &ctx);
	if (json_output)
		jsonw_end_array(jw);
	dataplane_close(&dp);
	if (err < 0)
		return fail("%s: %s", what_of("list"), strerror(-err));
	return EXIT_OK;
}

static int flush_cur_list(struct dataplane *dp, int expired_only, size_t *n)
{
	return rules_flush(dp, cur_list, expired_only, n);
}

static int list_flush(int argc, char **argv)
{
	char noun[32];

	snprintf(noun, sizeof(noun), "entries from the %s list", cur_name);
	return cmd_flush(what_of("flush"), noun, argc, argv, flush_cur_list);
}

/*
 * The whole file is parsed before anything is written, so a bad line
 * imports nothing: an operator fixes the file and runs it again.
 */
static int list_import(int argc, char **argv)
{
	const char *what = what_of("import"), *why, *bad;
	struct list_entry *v = NULL, *tmp;
	size_t cap = 0, n = 0, lineno = 0, nerr = 0, done = 0, linecap = 0;
	char *line = NULL;
	struct dataplane dp;
	FILE *f;
	int ret = EXIT_OK, err;

	if (argc < 1)
		return usage_error("%s: missing FILE", what);
	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	f = strcmp(argv[0], "-") ? fopen(argv[0], "r") : stdin;
	if (!f)
		return fail("%s: '%s': %s", what, argv[0], strerror(errno));

	while (getline(&line, &linecap, f) != -1) {
		lineno++;
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			tmp = realloc(v, cap * sizeof(*v));
			if (!tmp) {
				ret = fail("%s: out of memory at line %zu", what, lineno);
				goto out;
			}
			v = tmp;
		}
		err = listfile_parse_line(line, &v[n], &why, &bad);
		if (err < 0) {
			if (++nerr <= MAX_IMPORT_ERRORS) {
				if (bad)
					fprintf(stderr, "sluicectl: %s: %s:%zu: '%s': %s\n", what,
						argv[0], lineno, bad, why);
				else
					fprintf(stderr, "sluicectl: %s: %s:%zu: %s\n", what, argv[0],
						lineno, why);
			}
			continue;
		}
		n += err;
	}
	if (ferror(f)) {
		ret = fail("%s: '%s': read error", what, argv[0]);
		goto out;
	}
	if (nerr) {
		ret = fail("%s: '%s': %zu bad line%s, nothing imported", what, argv[0], nerr,
			   nerr > 1 ? "s" : "");
		goto out;
	}
	if ((ret = ctl_open(&dp, DP_LOCK, what)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		err = rules_add(&dp, cur_list, &v[i].cidr, v[i].ttl_ns, v[i].reason, SLUICE_ORIGIN_CLI);
		if (err) {
			char buf[CIDR_STRLEN];

			ret = fail("%s: '%s': %s after %zu of %zu entries", what,
				   cidr_format(&v[i].cidr, buf, sizeof(buf)),
				   err == -E2BIG ? "list full" : strerror(-err), done, n);
			break;
		}
		done++;
	}
	dataplane_close(&dp);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_uint_field(jw, "imported", done);
		jsonw_end_object(jw);
	} else if (!ret) {
		printf("imported %zu entries into the %s list\n", done, cur_name);
	}
out:
	free(line);
	free(v);
	if (f != stdin)
		fclose(f);
	return ret;
}

static int export_one(const struct cidr *c, const struct sluice_rule *r, void *arg)
{
	struct list_ctx *ctx = arg;
	struct list_entry e = { .cidr = *c };
	__u64 left = rule_remaining_ns(r, ctx->now);

	if (left == 1)
		return 0;
	e.ttl_ns = left;
	memcpy(e.reason, r->reason, sizeof(e.reason));
	e.reason[sizeof(e.reason) - 1] = '\0';
	ctx->n++;
	return listfile_write(ctx->f, &e) ? -EIO : 0;
}

/* To a file: written beside it and renamed, so a reader never sees half a list. */
static int list_export(int argc, char **argv)
{
	const char *what = what_of("export");
	struct list_ctx ctx = { .now = mono_ns(), .f = stdout };
	char tmp[4096] = "";
	struct dataplane dp;
	int ret, err;

	if (argc > 1)
		return usage_error("%s: unexpected argument '%s'", what, argv[1]);
	if (json_output)
		return usage_error("%s: writes the import format; use '%s list -j' for JSON",
				   what, cur_name);
	if ((ret = ctl_open(&dp, 0, what)))
		return ret;
	if (argc == 1 && strcmp(argv[0], "-")) {
		int fd;

		snprintf(tmp, sizeof(tmp), "%s.XXXXXX", argv[0]);
		fd = mkstemp(tmp);
		if (fd == -1 || !(ctx.f = fdopen(fd, "w"))) {
			ret = fail("%s: '%s': %s", what, argv[0], strerror(errno));
			dataplane_close(&dp);
			return ret;
		}
	}
	fprintf(ctx.f, "# sluice %s list: CIDR [ttl DURATION] [reason TEXT]\n", cur_name);
	err = rules_walk(&dp, cur_list, export_one, &ctx);
	dataplane_close(&dp);
	if (fflush(ctx.f) || ferror(ctx.f))
		err = -EIO;
	if (ctx.f != stdout) {
		if (fsync(fileno(ctx.f)) == -1 && !err)
			err = -errno;
		fclose(ctx.f);
		if (!err && rename(tmp, argv[0]) == -1)
			err = -errno;
		if (err)
			unlink(tmp);
	}
	if (err)
		return fail("%s: %s", what, strerror(-err));
	return EXIT_OK;
}

static const struct cmd list_cmds[] = {
	{ "add", list_add },
	{ "del", list_del },
	{ "list", list_list },
	{ "flush", list_flush },
	{ "import", list_import },
	{ "export", list_export },
	{ NULL, NULL },
};

int do_block(int argc, char **argv)
{
	cur_list = RULES_BLOCK;
	cur_name = "block";
	return dispatch("block", list_cmds, argc, argv);
}

int do_allow(int argc, char **argv)
{
	cur_list = RULES_ALLOW;
	cur_name = "allow";
	return dispatch("allow", list_cmds, argc, argv);
}
