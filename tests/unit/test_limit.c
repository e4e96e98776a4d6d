// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Limits on a simulated clock: GCRA exact over 10 s, alone and with four
 * threads racing; token budgets reserved before spending (50 concurrent
 * requests never overshoot), settled after; all-or-nothing over scopes;
 * concurrency; the x-ratelimit headers. And the usage a backend reports.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw/limit.h"
#include "gw/usage.h"

#define NS	1000000000ULL
#define MS	1000000ULL
#define T0	(1000 * NS)	/* the simulated clock starts well after 0 */

static int setup(void **state)
{
	(void)state;
	return limit_init();
}

static int teardown(void **state)
{
	(void)state;
	limit_fini();
	return 0;
}

static int take(const char *id, const struct cfg_limits *l, uint64_t tokens, uint64_t now,
		struct limit_ticket *t, struct limit_refusal *why)
{
	struct limit_ask a = { LS_TENANT, id, l };
	struct limit_view v;

	return limit_acquire(t, &a, 1, tokens, now, &v, why);
}

/* An attempt every ms for 10 s at 100/s: the burst of 100 plus 1000, exactly. */
static void test_gcra_exact_over_ten_seconds(void **state)
{
	struct cfg_limits l = { .rps = 100 };
	struct limit_ticket t;
	struct limit_refusal why;
	unsigned int ok = 0;

	(void)state;
	for (uint64_t ms = 0; ms < 10000; ms++)
		if (!take("gcra-1", &l, 0, T0 + ms * MS, &t, &why)) {
			limit_release(&t, 0, T0 + ms * MS);
			ok++;
		} else {
			assert_int_equal(why.what, LW_RPS);
			assert_true(why.retry_ns > 0 && why.retry_ns <= 10 * MS);
		}
	if (ok < 1099 || ok > 1101)
		fail_msg("admitted %u, want 1100 (100 burst + 10 s at 100/s)", ok);
}

/* No doubling at a minute's boundary: 60/min gives 10 at once, then one every second. */
static void test_rpm_has_no_window_boundary(void **state)
{
	struct cfg_limits l = { .rpm = 60 };
	struct limit_ticket t;
	struct limit_refusal why;
	unsigned int ok = 0;

	(void)state;
	for (uint64_t ms = 0; ms < 2000; ms += 10)	/* 59 s .. 61 s: across "the minute" */
		if (!take("rpm-1", &l, 0, T0 + 59 * NS + ms * MS, &t, &why)) {
			limit_release(&t, 0, 0);
			ok++;
		}
	if (ok < 11 || ok > 12)
		fail_msg("admitted %u over 2 s at 60/min, want 10 burst + 2", ok);
}

struct race {
	_Atomic uint64_t clock;		/* simulated: every attempt moves it 250 us */
	atomic_uint ok;
	const struct cfg_limits *l;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	struct limit_ticket t;
	struct limit_refusal why;

	for (int i = 0; i < 10000; i++) {
		uint64_t now = atomic_fetch_add(&r->clock, 250000);

		if (!take("gcra-race", r->l, 0, now, &t, &why)) {
			limit_release(&t, 0, now);
			atomic_fetch_add(&r->ok, 1);
		}
	}
	return NULL;
}

/* Four threads, 40000 attempts over 10 simulated seconds at 1000/s: within 1%. */
static void test_gcra_with_concurrent_clients(void **state)
{
	struct cfg_limits l = { .rps = 1000 };
	struct race r = { .clock = T0, .l = &l };
	pthread_t th[4];
	unsigned int ok;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ok = atomic_load(&r.ok);
	/* want 1000 burst + 10 s * 1000 = 11000; threads may see the clock a little out of order */
	if (ok < 10890 || ok > 11110)
		fail_msg("admitted %u, want 11000 +- 1%%", ok);
}

/* 50 requests at once reserving 500 tokens each against 10000 a minute: 20 pass, never more. */
static void test_reservation_never_overshoots(void **state)
{
	struct cfg_limits l = { .tpm = 10000 };
	struct limit_ticket t[50];
	struct limit_refusal why;
	int ok = 0;

	(void)state;
	for (int i = 0; i < 50; i++)
		if (!take("tpm-1", &l, 500, T0, &t[ok], &why))
			ok++;
		else
			assert_int_equal(why.what, LW_TPM);
	assert_int_equal(ok, 20);
	/* each used only 100: 20 * 400 tokens come back at once */
	for (int i = 0; i < ok; i++)
		limit_release(&t[i], 100, T0 + MS);
	ok = 0;
	for (int i = 0; i < 50; i++)
		if (!take("tpm-1", &l, 500, T0 + 2 * MS, &t[ok], &why))
			ok++;
	assert_int_equal(ok, 16);	/* 8000 given back: 16 of 500 */
	for (int i = 0; i < ok; i++)
		limit_release(&t[i], 500, T0 + 3 * MS);
}

/* Used more than reserved: the excess is charged after. */
static void test_overspend_is_charged(void **state)
{
	struct cfg_limits l = { .tpm = 1000 };
	struct limit_ticket t;
	struct limit_refusal why;

	(void)state;
	assert_int_equal(take("tpm-2", &l, 100, T0, &t, &why), 0);
	limit_release(&t, 1000, T0);		/* the whole minute's budget */
	assert_int_equal(take("tpm-2", &l, 100, T0 + MS, &t, &why), -EAGAIN);
	assert_true(why.retry_ns > 0);
	/* after six seconds, a tenth of the minute is back */
	assert_int_equal(take("tpm-2", &l, 100, T0 + 6 * NS + MS, &t, &why), 0);
	limit_release(&t, 100, T0 + 6 * NS + MS);
}

static void test_too_big_never_fits(void **state)
{
	struct cfg_limits l = { .tpm = 1000 };
	struct limit_ticket t;
	struct limit_refusal why;

	(void)state;
	assert_int_equal(take("tpm-3", &l, 1001, T0, &t, &why), -EAGAIN);
	assert_int_equal(why.what, LW_TPM);
	assert_int_equal(why.retry_ns, 0);
}

/* A request two scopes must admit: refused by one, charged to neither. */
static void test_all_or_nothing(void **state)
{
	struct cfg_limits roomy = { .rps = 100 }, tight = { .rps = 1 };
	struct limit_ask a[2] = { { LS_KEY, "aon-key", &roomy }, { LS_ROUTE, "aon-route", &tight } };
	struct limit_ticket t;
	struct limit_refusal why;
	struct limit_view v;
	int ok = 0;

	(void)state;
	for (int i = 0; i < 50; i++)
		if (!limit_acquire(&t, a, 2, 0, T0, &v, &why)) {
			limit_release(&t, 0, T0);
			ok++;
		} else {
			assert_int_equal(why.scope, LS_ROUTE);
		}
	assert_int_equal(ok, 1);
	/* the key was charged once only: 99 more pass on it alone */
	ok = 0;
	for (int i = 0; i < 150; i++)
		if (!limit_acquire(&t, a, 1, 0, T0, &v, &why)) {
			limit_release(&t, 0, T0);
			ok++;
		}
	assert_int_equal(ok, 99);
}

static void test_concurrency(void **state)
{
	struct cfg_limits l = { .concurrent = 3 };
	struct limit_ticket t[4];
	struct limit_refusal why;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(take("conc-1", &l, 0, T0, &t[i], &why), 0);
	assert_int_equal(take("conc-1", &l, 0, T0, &t[3], &why), -EAGAIN);
	assert_int_equal(why.what, LW_CONCURRENT);
	limit_release(&t[0], 0, T0);
	assert_int_equal(take("conc-1", &l, 0, T0, &t[3], &why), 0);
	for (int i = 1; i < 4; i++)
		limit_release(&t[i], 0, T0);
}

static void test_headers(void **state)
{
	struct cfg_limits l = { .rps = 4, .tpm = 1000 };
	struct limit_ask a = { LS_TENANT, "hdr-1", &l };
	struct limit_ticket t;
	struct limit_refusal why;
	struct limit_view v;
	char out[512];

	(void)state;
	assert_int_equal(limit_acquire(&t, &a, 1, 300, T0, &v, &why), 0);
	limit_headers(&v, out, sizeof(out));
	assert_non_null(strstr(out, "x-ratelimit-limit-requests: 4\r\n"));
	assert_non_null(strstr(out, "x-ratelimit-remaining-requests: 3\r\n"));
	assert_non_null(strstr(out, "x-ratelimit-reset-requests: "));
	assert_non_null(strstr(out, "x-ratelimit-limit-tokens: 1000\r\n"));
	assert_non_null(strstr(out, "x-ratelimit-remaining-tokens: 700\r\n"));
	assert_non_null(strstr(out, "x-ratelimit-reset-tokens: "));
	limit_release(&t, 300, T0);
}

static void parse(const char *body, size_t chunk, struct usage *u)
{
	struct usage_tap t = { 0 };
	size_t n = strlen(body);

	assert_int_equal(usage_tap_init(&t), 0);
	for (size_t off = 0; off < n; off += chunk)
		usage_tap_add(&t, body + off, n - off < chunk ? n - off : chunk);
	usage_parse(&t, u);
	usage_tap_free(&t);
}

static void test_usage_shapes(void **state)
{
	struct usage u;
	char *big;

	(void)state;
	parse("{\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,"
	      "\"prompt_tokens_details\":{\"cached_tokens\":5},"
	      "\"completion_tokens_details\":{\"reasoning_tokens\":7}}}", 7, &u);
	assert_true(u.found);
	assert_int_equal(u.prompt, 12);
	assert_int_equal(u.completion, 34);
	assert_int_equal(u.cached, 5);
	assert_int_equal(u.reasoning, 7);

	parse("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
	      "{\"input_tokens\":20,\"cache_read_input_tokens\":4,\"output_tokens\":1}}}\n\n"
	      "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
	      3, &u);
	assert_true(u.found);
	assert_int_equal(u.completion, 15);
	assert_int_equal(u.cached, 4);
	assert_true(u.prompt >= 20);

	parse("{\"object\":\"response\",\"usage\":{\"input_tokens\":9,\"output_tokens\":3,"
	      "\"output_tokens_details\":{\"reasoning_tokens\":2}}}", 1000, &u);
	assert_true(u.found);
	assert_int_equal(u.prompt, 9);
	assert_int_equal(u.completion, 3);
	assert_int_equal(u.reasoning, 2);

	parse("{\"choices\":[{\"message\":{\"content\":\"usage: none\"}}]}", 5, &u);
	assert_false(u.found);

	/* usage at the end of a long stream: only the tail is kept, and it is enough */
	big = malloc(200000);
	assert_non_null(big);
	memset(big, 'a', 199000);
	memcpy(big, "data: {\"x\":\"", 12);
	strcpy(big + 199000, "\"}\n\ndata: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n");
	parse(big, 4096, &u);
	free(big);
	assert_true(u.found);
	assert_int_equal(u.completion, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcra_exact_over_ten_seconds),
		cmocka_unit_test(test_rpm_has_no_window_boundary),
		cmocka_unit_test(test_gcra_with_concurrent_clients),
		cmocka_unit_test(test_reservation_never_overshoots),
		cmocka_unit_test(test_overspend_is_charged),
		cmocka_unit_test(test_too_big_never_fits),
		cmocka_unit_test(test_all_or_nothing),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_usage_shapes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
