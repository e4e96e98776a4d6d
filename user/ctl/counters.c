// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the data plane counted: stats [DEV], watch [DEV] [interval D]
 * [count N], top [N] [interval D], events [count N] [timeout D].
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "lib/cidr.h"
#include "lib/duration.h"
#include "lib/iface.h"
#include "lib/stats.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Slot of DEV (-1: all interfaces), reporting an unknown one. */
static int arg_slot(struct dataplane *dp, const char *what, const char *dev, int *slot)
{
	*slot = -1;
	if (!dev)
		return 0;
	*slot = iface_slot(dp, dev);
	if (*slot >= 0)
		return 0;
	if (!if_nametoindex(dev))
		return fail("%s: '%s': no such interface", what, dev);
	return fail("%s: '%s': sluice has never been attached there", what, dev);
}

static int stats_cmd(int argc, char **argv)
{
	struct sluice_stat st[SLUICE_R_MAX];
	struct sluice_cpustate cs;
	struct dataplane dp;
	int slot, ret;

	if (argc > 1)
		return usage_error("stats: unexpected argument '%s'", argv[1]);
	if ((ret = ctl_open(&dp, 0, "stats")))
		return ret;
	if ((ret = arg_slot(&dp, "stats", argc ? argv[0] : NULL, &slot)))
		goto out;
	if ((ret = stats_read(&dp, slot, st)) || (ret = cpustate_read(&dp, &cs))) {
		ret = fail("stats: cannot read counters: %s", strerror(-ret));
		goto out;
	}
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "interface", argc ? argv[0] : "all");
		jsonw_name(jw, "reasons");
		jsonw_start_array(jw);
		for (__u32 r = 0; r < SLUICE_R_MAX; r++) {
			jsonw_start_object(jw);
			jsonw_string_field(jw, "reason", reason_name(r));
			jsonw_string_field(jw, "verdict", reason_drops(r) ? "drop" : "pass");
			jsonw_uint_field(jw, "packets", st[r].packets);
			jsonw_uint_field(jw, "bytes", st[r].bytes);
			jsonw_uint_field(jw, "dry_run_packets", st[r].dry_packets);
			jsonw_uint_field(jw, "dry_run_bytes", st[r].dry_bytes);
			jsonw_end_object(jw);
		}
		jsonw_end_array(jw);
		jsonw_uint_field(jw, "new_sources_denied", cs.newsrc_denied);
		jsonw_uint_field(jw, "top_sources_denied", cs.top_denied);
		jsonw_uint_field(jw, "events_lost", cs.events_lost);
		jsonw_end_object(jw);
	} else {
		printf("%-13s %-7s %14s %16s %14s %16s\n", "REASON", "VERDICT", "PACKETS", "BYTES",
		       "DRY-RUN PKTS", "DRY-RUN BYTES");
		for (__u32 r = 0; r < SLUICE_R_MAX; r++)
			printf("%-13s %-7s %14llu %16llu %14llu %16llu\n", reason_name(r),
			       reason_drops(r) ? "drop" : "pass", st[r].packets, st[r].bytes,
			       st[r].dry_packets, st[r].dry_bytes);
		printf("untracked new-source packets: %llu, drops not in top: %llu, events lost: %llu\n",
		       cs.newsrc_denied, cs.top_denied, cs.events_lost);
	}
out:
	dataplane_close(&dp);
	return ret;
}

int do_stats(int argc, char **argv)
{
	return stats_cmd(argc, argv);
}

/*
 * Per-second rates by reason, refreshing in place on a terminal; with -j
 * one JSON object per interval (JSON lines). Bounded by count if given.
 */
/* The rate of name in cur since prev: 0 for a name new this round. */
static double named_rate(const struct daemon_named *cur, const struct daemon_figures *prev,
			 const struct daemon_named *pv, size_t np, double secs)
{
	(void)prev;
	for (size_t i = 0; i < np; i++)
		if (!strcmp(pv[i].name, cur->name))
			return (cur->value - pv[i].value) / secs;
	return 0;
}

static void watch_daemon_text(const struct daemon_figures *p, const struct daemon_figures *c,
			      double secs)
{
	size_t up = 0;

	printf("\nsluiced: %.1f requests/s, %.1f entities masked/s\n",
	       (c->requests - p->requests) / secs, (c->masked - p->masked) / secs);
	printf("%-13s %12s\n", "DECISION", "REQ/S");
	for (size_t i = 0; i < c->ndecisions; i++)
		printf("%-13s %12.1f\n", c->decisions[i].name,
		       named_rate(&c->decisions[i], p, p->decisions, p->ndecisions, secs));
	printf("%-24s %12s\n", "ROUTE", "TOKENS/S");
	for (size_t i = 0; i < c->ntokens; i++)
		printf("%-24s %12.1f\n", c->tokens[i].name,
		       named_rate(&c->tokens[i], p, p->tokens, p->ntokens, secs));
	for (size_t i = 0; i < c->nbackends; i++)
		up += c->backends[i].value > 0;
	printf("backends: %zu up, %zu down\n", up, c->nbackends - up);
	for (size_t i = 0; i < c->nbackends; i++)
		if (c->backends[i].value <= 0)
			printf("  down: %s\n", c->backends[i].name);
}

static void watch_daemon_json(const struct daemon_figures *p, const struct daemon_figures *c,
			      double secs)
{
	jsonw_name(jw, "sluiced");
	jsonw_start_object(jw);
	jsonw_float_field(jw, "requests_per_s", (c->requests - p->requests) / secs);
	jsonw_float_field(jw, "masked_per_s", (c->masked - p->masked) / secs);
	jsonw_name(jw, "decisions_per_s");
	jsonw_start_object(jw);
	for (size_t i = 0; i < c->ndecisions; i++)
		jsonw_float_field(jw, c->decisions[i].name,
				  named_rate(&c->decisions[i], p, p->decisions, p->ndecisions, secs));
	jsonw_end_object(jw);
	jsonw_name(jw, "tokens_per_s");
	jsonw_start_object(jw);
	for (size_t i = 0; i < c->ntokens; i++)
		jsonw_float_field(jw, c->tokens[i].name,
				  named_rate(&c->tokens[i], p, p->tokens, p->ntokens, secs));
	jsonw_end_object(jw);
	jsonw_name(jw, "backends_up");
	jsonw_start_object(jw);
	for (size_t i = 0; i < c->nbackends; i++)
		jsonw_bool_field(jw, c->backends[i].name, c->backends[i].value > 0);
	jsonw_end_object(jw);
	jsonw_end_object(jw);
}

int do_watch(int argc, char **argv)
{
	const char *what = "watch", *dev = NULL, *admin = NULL, *token_file = NULL;
	struct sluice_stat prev[SLUICE_R_MAX], cur[SLUICE_R_MAX];
	static struct daemon_figures dprev, dcur;
	bool have_prev;
	int dstate = -1;
	__u64 interval = NSEC_PER_SEC, t0, t1;
	__u32 count = 0, done = 0;
	struct dataplane dp;
	int slot, ret;
	bool tty = isatty(STDOUT_FILENO) && !json_output;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "interval") && need_value(argc, argv, i, what)) {
			if ((ret = arg_duration(what, "interval", argv[++i], &interval)))
				return ret;
			if (interval < 100 * NSEC_PER_MSEC)
				return usage_error("%s: interval '%s': at least 100ms", what, argv[i]);
		} else if (!strcmp(argv[i], "count") && need_value(argc, argv, i, what)) {
			if ((ret = arg_u32(what, "count", argv[++i], 1, 1000000, &count)))
				return ret;
		} else if (!strcmp(argv[i], "admin") && need_value(argc, argv, i, what)) {
			admin = argv[++i];
		} else if (!strcmp(argv[i], "token-file") && need_value(argc, argv, i, what)) {
			token_file = argv[++i];
		} else if (!strcmp(argv[i], "interval") || !strcmp(argv[i], "count") ||
			   !strcmp(argv[i], "admin") || !strcmp(argv[i], "token-file")) {
			return EXIT_USAGE;
		} else if (!dev && argv[i][0] != '-') {
			dev = argv[i];
		} else {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		}
	}
	if ((ret = ctl_open(&dp, 0, what)))
		return ret;
	if ((ret = arg_slot(&dp, what, dev, &slot)))
		goto out;
	catch_signals();
	stats_read(&dp, slot, prev);
	have_prev = !daemon_figures(admin, token_file, &dprev);
	t0 = mono_ns();
	while (!stop && (!count || done < count)) {
		struct timespec ts = { interval / NSEC_PER_SEC, interval % NSEC_PER_SEC };
		double secs;

		nanosleep(&ts, NULL);
		if (stop)
			break;
		if ((ret = stats_read(&dp, slot, cur))) {
			ret = fail("%s: cannot read counters: %s", what, strerror(-ret));
			goto out;
		}
		/* the daemon's rates need two scrapes in a row */
		if (have_prev) {
			dstate = daemon_figures(admin, token_file, &dcur);
			have_prev = !dstate;
		} else {
			have_prev = !daemon_figures(admin, token_file, &dprev);
			dstate = -1;
		}
		t1 = mono_ns();
		secs = (double)(t1 - t0) / NSEC_PER_SEC;
		if (json_output) {
			jsonw_start_object(jw);
			jsonw_uint_field(jw, "time", wall_s());
			jsonw_string_field(jw, "interface", dev ? dev : "all");
			jsonw_name(jw, "pps");
			jsonw_start_object(jw);
			for (__u32 r = 0; r < SLUICE_R_MAX; r++)
				jsonw_float_field(jw, reason_name(r),
						  (cur[r].packets - prev[r].packets) / secs);
			jsonw_end_object(jw);
			jsonw_name(jw, "dry_run_pps");
			jsonw_start_object(jw);
			for (__u32 r = SLUICE_R_FIRST_DROP; r < SLUICE_R_MAX; r++)
				jsonw_float_field(jw, reason_name(r),
						  (cur[r].dry_packets - prev[r].dry_packets) / secs);
			jsonw_end_object(jw);
			if (!dstate)
				watch_daemon_json(&dprev, &dcur, secs);
			jsonw_end_object(jw);
			fflush(stdout);
		} else {
			if (tty)
				printf("\033[H\033[2J");
			printf("sluice %s, every %.1fs (Ctrl-C to stop)\n", dev ? dev : "all interfaces",
			       (double)interval / NSEC_PER_SEC);
			printf("%-13s %-7s %12s %14s %12s\n", "REASON", "VERDICT", "PPS", "BIT/S", "DRY PPS");
			for (__u32 r = 0; r < SLUICE_R_MAX; r++)
				printf("%-13s %-7s %12.0f %14.0f %12.0f\n", reason_name(r),
				       reason_drops(r) ? "drop" : "pass",
				       (cur[r].packets - prev[r].packets) / secs,
				       (cur[r].bytes - prev[r].bytes) * 8 / secs,
				       (cur[r].dry_packets - prev[r].dry_packets) / secs);
			if (!dstate)
				watch_daemon_text(&dprev, &dcur, secs);
			else if (!have_prev)
				printf("\nsluiced: no admin endpoint answered at %s\n",
				       admin ? admin : getenv("SLUICE_ADMIN") ? getenv("SLUICE_ADMIN") :
										"127.0.0.1:9901");
			if (!tty)
				printf("\n");
			fflush(stdout);
		}
		memcpy(prev, cur, sizeof(prev));
		if (!dstate)
			dprev = dcur;
		t0 = t1;
		done++;
	}
out:
	dataplane_close(&dp);
	return ret;
}

static int cmp_src(const void *a, const void *b)
{
	return memcmp(&((const struct top_entry *)a)->src, &((const struct top_entry *)b)->src,
		      sizeof(struct sluice_src));
}

/* A source of the second read and its rate. */
struct top_row {
	const struct top_entry *e;
	__u64 pps;
};

/* Fastest first, then most packets. */
static int cmp_rate(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->pps != y->pps)
		return x->pps < y->pps ? 1 : -1;
	return x->e->top.packets < y->e->top.packets ? 1 :
	       x->e->top.packets > y->e->top.packets ? -1 : 0;
}

/*
 * top [N] [interval D]: the map read twice, D apart (default 1 s): a
 * source's rate is its packets between the reads over the time between
 * them. interval 0: one read, no rates, most packets first.
 */
int do_top(int argc, char **argv)
{
	const char *what = "top";
	struct top_entry *v = NULL, *old = NULL;
	struct top_row *rows;
	struct sluice_config cfg;
	struct dataplane dp;
	__u32 limit = 10;
	__u64 interval = NSEC_PER_SEC, now, t0;
	size_t n, nold = 0;
	bool have_n = false;
	int ret;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "interval") && need_value(argc, argv, i, what)) {
			if ((ret = arg_duration(what, "interval", argv[++i], &interval)))
				return ret;
			if (interval && interval < 100 * NSEC_PER_MSEC)
				return usage_error("%s: interval '%s': 0 or at least 100ms", what, argv[i]);
		} else if (!strcmp(argv[i], "interval")) {
			return EXIT_USAGE;
		} else if (!have_n) {
			if ((ret = arg_u32(what, "N", argv[i], 1, SLUICE_TOP_MAX, &limit)))
				return ret;
			have_n = true;
		} else {
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		}
	}
	if ((ret = ctl_open(&dp, 0, what)))
		return ret;
	if (dp_config_get(&dp, &cfg))
		cfg.v6_prefix = 64;
	t0 = mono_ns();
	if (interval) {
		struct timespec ts = { interval / NSEC_PER_SEC, interval % NSEC_PER_SEC };

		if ((ret = top_read(&dp, &old, &nold)))
			goto out;
		if (nold)
			qsort(old, nold, sizeof(*old), cmp_src);
		/* Ctrl-C cuts the wait short: rates over the time it lasted */
		catch_signals();
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !stop)
			;
	}
	ret = top_read(&dp, &v, &n);
out:
	dataplane_close(&dp);
	if (ret) {
		free(old);
		return fail("%s: cannot read the top map: %s", what, strerror(-ret));
	}
	now = mono_ns();
	if (!(rows = calloc(n ? n : 1, sizeof(*rows)))) {
		free(old);
		free(v);
		return fail("%s: out of memory", what);
	}
	for (size_t i = 0; i < n; i++) {
		const struct top_entry *o = interval ?
			bsearch(&v[i], old, nold, sizeof(*old), cmp_src) : NULL;
		/* an entry the LRU evicted and took back counts from zero */
		__u64 was = o && o->top.packets <= v[i].top.packets ? o->top.packets : 0;

		rows[i].e = &v[i];
		if (interval)
			rows[i].pps = ((v[i].top.packets - was) * NSEC_PER_SEC + (now - t0) / 2) /
				      (now - t0);
	}
	free(old);
	if (interval && n)
		qsort(rows, n, sizeof(*rows), cmp_rate);

	if (json_output)
		jsonw_start_array(jw);
	else
		printf("%-43s %-13s %10s %14s %16s %10s\n", "SOURCE", "LAST REASON",
		       interval ? "PPS" : "", "PACKETS", "BYTES", "LAST SEEN");
	for (size_t i = 0; i < n && i < limit; i++) {
		const struct top_entry *e = rows[i].e;
		__u64 ago_ns = now > e->top.last_ns ? now - e->top.last_ns : 0;
		char buf[CIDR_STRLEN], ago[DURATION_STRLEN], pps[24] = "";
		struct cidr c;

		cidr_from_src(&e->src, cfg.v6_prefix, &c);
		cidr_format(&c, buf, sizeof(buf));
		if (e->src.family != SLUICE_AF_INET && e->src.family != SLUICE_AF_INET6)
			snprintf(buf, sizeof(buf), "(untracked)");
		duration_format(ago_ns, ago, sizeof(ago));
		if (interval)
			snprintf(pps, sizeof(pps), "%llu", rows[i].pps);
		if (json_output) {
			jsonw_start_object(jw);
			jsonw_string_field(jw, "source", buf);
			jsonw_string_field(jw, "reason", reason_name(e->top.reason));
			if (interval)
				jsonw_uint_field(jw, "pps", rows[i].pps);
			jsonw_uint_field(jw, "packets", e->top.packets);
			jsonw_uint_field(jw, "bytes", e->top.bytes);
			jsonw_float_field(jw, "last_seen_s_ago", (double)ago_ns / NSEC_PER_SEC);
			jsonw_end_object(jw);
		} else {
			printf("%-43s %-13s %10s %14llu %16llu %10s\n", buf, reason_name(e->top.reason),
			       pps, e->top.packets, e->top.bytes, ago);
		}
	}
	if (json_output)
		jsonw_end_array(jw);
	free(rows);
	free(v);
	return EXIT_OK;
}

struct events_ctx {
	__u32 seen;
	__u32 count;
	__u64 boot_offset_ns;	/* realtime - monotonic, to print wall time */
	__u32 v6_prefix;
};

static int on_event(void *arg, void *data, size_t size)
{
	struct events_ctx *ctx = arg;
	const struct sluice_event *ev = data;
	char buf[CIDR_STRLEN], ifname[IF_NAMESIZE] = "?";
	struct cidr c;
	time_t t;
	struct tm tm;
	char ts[32];

	if (size < sizeof(*ev) || (ctx->count && ctx->seen >= ctx->count))
		return 0;
	cidr_from_src(&ev->src, ctx->v6_prefix, &c);
	cidr_format(&c, buf, sizeof(buf));
	if_indextoname(ev->ifindex, ifname);
	t = (ev->ts_ns + ctx->boot_offset_ns) / NSEC_PER_SEC;
	localtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (json_output) {
		jsonw_start_object(jw);
		jsonw_uint_field(jw, "time", t);
		jsonw_string_field(jw, "source", buf);
		jsonw_string_field(jw, "reason", reason_name(ev->reason));
		jsonw_string_field(jw, "interface", ifname);
		jsonw_uint_field(jw, "proto", ev->proto);
		jsonw_uint_field(jw, "dport", ev->dport);
		jsonw_uint_field(jw, "len", ev->len);
		jsonw_bool_field(jw, "dry_run", ev->dry_run);
		jsonw_end_object(jw);
	} else {
		printf("%s %-8s %-13s %-43s proto %u dport %u len %u%s\n", ts, ifname,
		       reason_name(ev->reason), buf, ev->proto, ev->dport, ev->len,
		       ev->dry_run ? " (dry-run)" : "");
	}
	fflush(stdout);
	ctx->seen++;
	return 0;
}

int do_events(int argc, char **argv)
{
	const char *what = "events";
	struct events_ctx ctx = {};
	struct ring_buffer *rb;
	struct sluice_config cfg;
	struct dataplane dp;
	struct timespec rt, mt;
	__u64 timeout = 0, deadline = 0;
	int ret, err;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "count") && strcmp(argv[i], "timeout"))
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		if (!strcmp(argv[i], "count"))
			ret = arg_u32(what, "count", argv[++i], 1, 100000000, &ctx.count);
		else if (!strcmp(argv[i], "timeout"))
			ret = arg_duration(what, "timeout", argv[++i], &timeout);
		else
			return usage_error("%s: unexpected argument '%s'", what, argv[i]);
		if (ret)
			return ret;
	}
	if ((ret = ctl_open(&dp, 0, what)))
		return ret;
	if (dp_config_get(&dp, &cfg))
		cfg.v6_prefix = 64;
	ctx.v6_prefix = cfg.v6_prefix;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	ctx.boot_offset_ns = (rt.tv_sec - mt.tv_sec) * NSEC_PER_SEC + rt.tv_nsec - mt.tv_nsec;

	rb = ring_buffer__new(dp.fd[DP_EVENTS], on_event, &ctx, NULL);
	if (!rb) {
		ret = fail("%s: cannot open the events ring buffer: %s", what, strerror(errno));
		goto out;
	}
	catch_signals();
	if (timeout)
		deadline = mono_ns() + timeout;
	while (!stop) {
		int wait_ms = 200;

		if (deadline) {
			__u64 now = mono_ns();

			if (now >= deadline)
				break;
			if ((deadline - now) / NSEC_PER_MSEC < (__u64)wait_ms)
				wait_ms = (deadline - now) / NSEC_PER_MSEC + 1;
		}
		err = ring_buffer__poll(rb, wait_ms);
		if (err == -EINTR)
			continue;
		if (err < 0) {
			ret = fail("%s: %s", what, strerror(-err));
			break;
		}
		if (ctx.count && ctx.seen >= ctx.count)
			break;
	}
	ring_buffer__free(rb);
out:
	dataplane_close(&dp);
	return ret;
}
