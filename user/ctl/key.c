// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl key add | list | revoke: the API keys file (user/lib/keyfile.h).
 * The file: file F, else $SLUICE_KEYS, else /etc/sluice/keys.json. A new
 * key is printed once and only its hash is stored. After a change, sluiced
 * is asked to reload (found as for status); when it cannot be reached the
 * keys apply at its next reload, and key says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "ctl.h"
#include "gw/keyuse.h"
#include "lib/keyfile.h"

#define KEYS_DEFAULT	"/etc/sluice/keys.json"

struct key_args {
	const char *file;
	const char *admin;
	const char *token_file;
	const char *state;		/* sluiced's state file: last uses */
	const char *tenant;
	char **models, **routes;	/* into argv */
	size_t nmodels, nroutes;
};

static bool is_keyword(const char *s)
{
	return !strcmp(s, "tenant") || !strcmp(s, "models") || !strcmp(s, "routes") ||
	       !strcmp(s, "file") || !strcmp(s, "admin") || !strcmp(s, "token-file") ||
	       !strcmp(s, "state");
}

/* Keywords of a command; lists (models, routes) run to the next keyword. */
static int parse_args(const char *what, int argc, char **argv, bool lists, struct key_args *a)
{
	int i = 0;

	a->file = getenv("SLUICE_KEYS") ? getenv("SLUICE_KEYS") : KEYS_DEFAULT;
	a->state = getenv("SLUICE_STATE");
	while (i < argc) {
		const char *k = argv[i];

		if (lists && (!strcmp(k, "models") || !strcmp(k, "routes"))) {
			char **start = argv + i + 1;
			size_t n = 0;

			while (i + 1 + (int)n < argc && !is_keyword(argv[i + 1 + n]))
				n++;
			if (!n)
				return usage_error("%s: '%s' needs at least one value", what, k);
			if (!strcmp(k, "models"))
				a->models = start, a->nmodels = n;
			else
				a->routes = start, a->nroutes = n;
			i += 1 + (int)n;
			continue;
		}
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		if (!strcmp(k, "file"))
			a->file = argv[i + 1];
		else if (!strcmp(k, "admin"))
			a->admin = argv[i + 1];
		else if (!strcmp(k, "token-file"))
			a->token_file = argv[i + 1];
		else if (!lists && !strcmp(k, "state"))
			a->state = argv[i + 1];
		else if (lists && !strcmp(k, "tenant"))
			a->tenant = argv[i + 1];
		else {
			usage_error("%s: unknown argument '%s'", what, k);
			print_object_usage("key");
			return EXIT_USAGE;
		}
		i += 2;
	}
	return 0;
}

/* The file, or an empty set when it does not exist yet (for add). */
static int load(const char *what, const char *file, bool may_be_new, struct keyfile *kf)
{
	char err[512];
	int ret = keyfile_load(file, kf, err, sizeof(err));

	if (ret == -ENOENT && may_be_new)
		return 0;
	if (ret)
		return fail("%s: %s", what, err);
	return 0;
}

static int save(const char *what, const char *file, const struct keyfile *kf)
{
	char err[512];

	if (keyfile_save(file, kf, err, sizeof(err)))
		return fail("%s: %s", what, err);
	return 0;
}

/* Asks sluiced to reload; says on stderr what came of it. */
static const char *reload(const char *what, const struct key_args *a)
{
	char why[256] = "";
	double gen = 0;
	int rc = daemon_reload(a->admin, a->token_file, &gen, why, sizeof(why));

	if (!rc) {
		if (!json_output)
			fprintf(stderr, "sluiced reloaded: generation %.0f\n", gen);
		return "reloaded";
	}
	if (rc < 0) {
		if (!json_output)
			fprintf(stderr, "%s: sluiced not reachable; the keys apply at its next reload\n", what);
		return "not reachable";
	}
	fprintf(stderr, "%s: sluiced refused the reload (%d): %s\n", what, rc, why);
	return "refused";
}

static int key_add_cmd(int argc, char **argv)
{
	const char *what = "key add", *r;
	struct key_args a = { 0 };
	struct keyfile kf = { 0 };
	char key[KEYFILE_KEY_LEN + 1], err[256];
	int ret;

	if ((ret = parse_args(what, argc, argv, true, &a)))
		return ret;
	if (!a.tenant)
		return usage_error("%s: missing tenant T", what);
	if ((ret = load(what, a.file, true, &kf)))
		return ret;
	if (keyfile_add(&kf, a.tenant, a.models, a.nmodels, a.routes, a.nroutes, key, err,
			sizeof(err))) {
		keyfile_free(&kf);
		return usage_error("%s: %s", what, err);
	}
	if ((ret = save(what, a.file, &kf))) {
		OPENSSL_cleanse(key, sizeof(key));
		keyfile_free(&kf);
		return ret;
	}
	r = reload(what, &a);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "id", kf.keys[kf.nkeys - 1].id);
		jsonw_string_field(jw, "tenant", a.tenant);
		jsonw_string_field(jw, "key", key);
		jsonw_string_field(jw, "file", a.file);
		jsonw_string_field(jw, "daemon", r);
		jsonw_end_object(jw);
	} else {
		printf("%s\n", key);
		fprintf(stderr, "key %s for tenant %s added to %s; the key is shown only this once\n",
			kf.keys[kf.nkeys - 1].id, a.tenant, a.file);
	}
	OPENSSL_cleanse(key, sizeof(key));
	keyfile_free(&kf);
	return EXIT_OK;
}

static void when(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void join(char **v, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "*");
	for (size_t i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "," : "", v[i]);
}

static void json_words(const char *name, char **v, size_t n)
{
	jsonw_name(jw, name);
	jsonw_start_array(jw);
	for (size_t i = 0; i < n; i++)
		jsonw_string(jw, v[i]);
	jsonw_end_array(jw);
}

static int key_list_cmd(int argc, char **argv)
{
	struct key_args a = { 0 };
	struct keyfile kf = { 0 };
	struct keyuse_list lu = { 0 };
	char c[32], r[32], l[32], m[256], rt[256], err[512];
	int ret;

	if ((ret = parse_args("key list", argc, argv, false, &a)) ||
	    (ret = load("key list", a.file, false, &kf)))
		return ret;
	/* no state file yet: nothing was used since sluiced began keeping one */
	if (a.state && (ret = state_read_keyuse(a.state, keyuse_list_add, &lu, err, sizeof(err))) < 0 &&
	    ret != -ENOENT) {
		keyfile_free(&kf);
		free(lu.v);
		return fail("key list: %s", err);
	}
	keyuse_apply(&kf, lu.v, lu.n);
	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-10s %-20s %-20s %-20s %-20s %-24s %s\n", "ID", "TENANT", "CREATED", "REVOKED",
		       "LAST USED", "MODELS", "ROUTES");
	for (size_t i = 0; i < kf.nkeys; i++) {
		const struct keyfile_entry *e = &kf.keys[i];
		int64_t last = atomic_load(&e->last_used);

		when(e->created, c, sizeof(c));
		when(e->revoked, r, sizeof(r));
		when(last, l, sizeof(l));
		if (json_output) {
			jsonw_start_object(jw);
			jsonw_string_field(jw, "id", e->id);
			jsonw_string_field(jw, "tenant", e->tenant);
			jsonw_string_field(jw, "created", c);
			jsonw_name(jw, "revoked");
			if (e->revoked)
				jsonw_string(jw, r);
			else
				jsonw_null(jw);
			jsonw_name(jw, "last_used");
			if (last)
				jsonw_string(jw, l);
			else
				jsonw_null(jw);
			json_words("models", e->models, e->nmodels);
			json_words("routes", e->routes, e->nroutes);
			jsonw_end_object(jw);
			continue;
		}
		join(e->models, e->nmodels, m, sizeof(m));
		join(e->routes, e->nroutes, rt, sizeof(rt));
		printf("%-10s %-20s %-20s %-20s %-20s %-24s %s\n", e->id, e->tenant, c,
		       e->revoked ? r : "-", last ? l : "-", m, rt);
	}
	if (json_output)
		jsonw_end_array(jw);
	keyfile_free(&kf);
	free(lu.v);
	return EXIT_OK;
}

static int key_revoke_cmd(int argc, char **argv)
{
	const char *what = "key revoke", *r;
	struct key_args a = { 0 };
	struct keyfile kf = { 0 };
	int ret;

	if (argc < 1)
		return usage_error("%s: missing ID", what);
	if ((ret = parse_args(what, argc - 1, argv + 1, false, &a)) ||
	    (ret = load(what, a.file, false, &kf)))
		return ret;
	ret = keyfile_revoke(&kf, argv[0]);
	if (ret == -ENOENT) {
		ret = fail("%s: '%s': no such key in %s", what, argv[0], a.file);
		goto out;
	}
	if (ret == -EALREADY) {
		ret = fail("%s: '%s': already revoked", what, argv[0]);
		goto out;
	}
	if ((ret = save(what, a.file, &kf)))
		goto out;
	r = reload(what, &a);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "revoked", argv[0]);
		jsonw_string_field(jw, "daemon", r);
		jsonw_end_object(jw);
	}
	ret = EXIT_OK;
out:
	keyfile_free(&kf);
	return ret;
}

int do_key(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "add", key_add_cmd },
		{ "list", key_list_cmd },
		{ "revoke", key_revoke_cmd },
		{ NULL, NULL },
	};

	return dispatch("key", cmds, argc, argv);
}
