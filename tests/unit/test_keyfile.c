// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The API keys file: add, save, load back, find, revoke, and bad files refused by name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/keyfile.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-keyfile-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/keys.json", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_add_save_load_find(void **state)
{
	struct keyfile kf = { 0 }, back = { 0 };
	char *models[] = { "gpt-4o*", "o1*" }, *routes[] = { "chat" };
	char k1[KEYFILE_KEY_LEN + 1], k2[KEYFILE_KEY_LEN + 1], err[256];
	const struct keyfile_entry *e;
	struct stat st;

	(void)state;
	assert_int_equal(keyfile_add(&kf, "acme", models, 2, routes, 1, k1, err, sizeof(err)), 0);
	assert_int_equal(keyfile_add(&kf, "beta", NULL, 0, NULL, 0, k2, err, sizeof(err)), 0);
	assert_int_equal(strlen(k1), KEYFILE_KEY_LEN);
	assert_memory_equal(k1, KEYFILE_PREFIX, strlen(KEYFILE_PREFIX));
	for (size_t i = strlen(KEYFILE_PREFIX); i < KEYFILE_KEY_LEN; i++)
		assert_true((k1[i] >= '0' && k1[i] <= '9') || (k1[i] >= 'a' && k1[i] <= 'z') ||
			    (k1[i] >= 'A' && k1[i] <= 'Z'));
	assert_string_not_equal(k1, k2);
	assert_string_not_equal(kf.keys[0].id, kf.keys[1].id);
	assert_int_equal(keyfile_save(path, &kf, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(keyfile_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nkeys, 2);
	e = keyfile_find(&back, k1, strlen(k1));
	assert_non_null(e);
	assert_string_equal(e->tenant, "acme");
	assert_string_equal(e->id, kf.keys[0].id);
	assert_int_equal(e->nmodels, 2);
	assert_string_equal(e->models[1], "o1*");
	assert_int_equal(e->nroutes, 1);
	assert_string_equal(e->routes[0], "chat");
	assert_int_equal(e->created, kf.keys[0].created);
	e = keyfile_find(&back, k2, strlen(k2));
	assert_non_null(e);
	assert_string_equal(e->tenant, "beta");
	assert_int_equal(e->nmodels, 0);
	/* one character off, a prefix, nothing */
	k2[20] = k2[20] == 'a' ? 'b' : 'a';
	assert_null(keyfile_find(&back, k2, strlen(k2)));
	assert_null(keyfile_find(&back, k1, strlen(k1) - 1));
	assert_null(keyfile_find(&back, "", 0));
	/* the key itself is nowhere in the file */
	{
		FILE *f = fopen(path, "r");
		char buf[4096];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		fclose(f);
		buf[n] = 0;
		assert_null(strstr(buf, k1 + strlen(KEYFILE_PREFIX)));
		assert_non_null(strstr(buf, "sha256:"));
	}
	keyfile_free(&kf);
	keyfile_free(&back);
}

static void test_revoke(void **state)
{
	struct keyfile kf = { 0 }, back = { 0 };
	char k[KEYFILE_KEY_LEN + 1], err[256], id[KEYFILE_ID_LEN + 1];

	(void)state;
	assert_int_equal(keyfile_add(&kf, "acme", NULL, 0, NULL, 0, k, err, sizeof(err)), 0);
	strcpy(id, kf.keys[0].id);
	assert_non_null(keyfile_find(&kf, k, strlen(k)));
	assert_int_equal(keyfile_revoke(&kf, id), 0);
	assert_null(keyfile_find(&kf, k, strlen(k)));
	assert_int_equal(keyfile_revoke(&kf, id), -EALREADY);
	assert_int_equal(keyfile_revoke(&kf, "k_00000000"), -ENOENT);
	assert_int_equal(keyfile_save(path, &kf, err, sizeof(err)), 0);
	assert_int_equal(keyfile_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.nkeys, 1);
	assert_true(back.keys[0].revoked > 0);
	assert_null(keyfile_find(&back, k, strlen(k)));
	keyfile_free(&kf);
	keyfile_free(&back);
}

static void test_add_refuses_bad_tenant_and_globs(void **state)
{
	struct keyfile kf = { 0 };
	char k[KEYFILE_KEY_LEN + 1], err[256], long_t[80];
	char *bad[] = { "gpt 4o" };

	(void)state;
	assert_int_equal(keyfile_add(&kf, "", NULL, 0, NULL, 0, k, err, sizeof(err)), -EINVAL);
	assert_int_equal(keyfile_add(&kf, "a/b", NULL, 0, NULL, 0, k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "a/b"));
	memset(long_t, 'a', 64);
	long_t[64] = 0;
	assert_int_equal(keyfile_add(&kf, long_t, NULL, 0, NULL, 0, k, err, sizeof(err)), -EINVAL);
	assert_int_equal(keyfile_add(&kf, "ok", bad, 1, NULL, 0, k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "gpt 4o"));
	assert_int_equal(kf.nkeys, 0);
	keyfile_free(&kf);
}

#define H64 "0000000000000000000000000000000000000000000000000000000000000001"

static void test_load_refuses_bad_files_by_name(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[]", "not a JSON object" },
		{ "{\"keys\": {}}", "keys: expected an array" },
		{ "{\"keys\": [1]}", "keys[0] (?): : expected an object" },
		{ "{\"keys\": [{\"id\": \"k_1\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\"}]}",
		  "keys[0] (k_1): id: expected k_ and 8" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"md5:00\", \"tenant\": \"a\"}]}",
		  "keys[0] (k_0000000a): hash: expected sha256:<64 hex>" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a b\"}]}",
		  "keys[0] (k_0000000a): tenant:" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\", "
		  "\"created\": \"yesterday\"}]}", "keys[0] (k_0000000a): created:" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\", "
		  "\"models\": \"gpt\"}]}", "keys[0] (k_0000000a): models: expected an array" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\", "
		  "\"colour\": 1}]}", "keys[0] (k_0000000a): colour: unknown field" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\"},"
		  "{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"b\"}]}",
		  "keys[1] (k_0000000a): id: also keys[0]" },
		{ "{\"keys\": [{\"id\": \"k_0000000a\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"a\"},"
		  "{\"id\": \"k_0000000b\", \"hash\": \"sha256:" H64 "\", \"tenant\": \"b\"}]}",
		  "hash: the same as another key's" },
	};
	struct keyfile kf = { 0 };
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(cases[i].text);
		err[0] = 0;
		if (keyfile_load(path, &kf, err, sizeof(err)) != -EINVAL || !strstr(err, cases[i].want) ||
		    !strstr(err, path))
			fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
		assert_int_equal(kf.nkeys, 0);
	}
	unlink(path);
	assert_int_equal(keyfile_load(path, &kf, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
}

static void test_failed_load_keeps_the_old_keys(void **state)
{
	struct keyfile kf = { 0 };
	char k[KEYFILE_KEY_LEN + 1], err[256];

	(void)state;
	assert_int_equal(keyfile_add(&kf, "acme", NULL, 0, NULL, 0, k, err, sizeof(err)), 0);
	write_file("{\"keys\": [{}]}");
	assert_int_equal(keyfile_load(path, &kf, err, sizeof(err)), -EINVAL);
	assert_int_equal(kf.nkeys, 1);
	assert_non_null(keyfile_find(&kf, k, strlen(k)));
	keyfile_free(&kf);
}

static void test_many_keys_all_found(void **state)
{
	enum { N = 500 };
	static char keys[N][KEYFILE_KEY_LEN + 1];
	struct keyfile kf = { 0 }, back = { 0 };
	char err[256];

	(void)state;
	for (int i = 0; i < N; i++)
		assert_int_equal(keyfile_add(&kf, "t", NULL, 0, NULL, 0, keys[i], err, sizeof(err)), 0);
	assert_int_equal(keyfile_save(path, &kf, err, sizeof(err)), 0);
	assert_int_equal(keyfile_load(path, &back, err, sizeof(err)), 0);
	for (int i = 0; i < N; i++) {
		const struct keyfile_entry *e = keyfile_find(&back, keys[i], strlen(keys[i]));

		assert_non_null(e);
		assert_string_equal(e->id, kf.keys[i].id);
	}
	keyfile_free(&kf);
	keyfile_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_save_load_find),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_add_refuses_bad_tenant_and_globs),
		cmocka_unit_test(test_load_refuses_bad_files_by_name),
		cmocka_unit_test(test_failed_load_keeps_the_old_keys),
		cmocka_unit_test(test_many_keys_all_found),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
