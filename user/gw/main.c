// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluiced: the policy daemon. Loads the config, attaches (or adopts) the
 * XDP data plane, binds its listeners, starts one worker per core and the
 * health checker, then waits for signals: SIGHUP reloads (a bad config is
 * refused and the old one keeps serving), SIGUSR1 reopens the audit trail,
 * SIGTERM/SIGINT drain.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "gw/admin.h"
#include "gw/audit.h"
#include "gw/conncount.h"
#include "gw/escalate.h"
#include "gw/gw.h"
#include "gw/keyuse.h"
#include "gw/priv.h"
#include "gw/scan.h"
#include "gw/state.h"
#include "lib/dataplane.h"
#include "lib/iface.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/rate.h"
#include "lib/xdpconf.h"


int worker_init(struct worker *w, int id, struct runtime *rt, const int *fds, size_t nfds);
int worker_start(struct worker *w);
void worker_fini(struct worker *w);
int health_start(struct runtime *rt);
void health_reload(struct runtime *rt);
void health_stop(void);

int gw_verbose;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* One line per event: time, level, then key=value pairs. */
void gw_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "notice", "info", "debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (level > 1 + gw_verbose)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "time=%s.%03ldZ level=%s ", when, ts.tv_nsec / 1000000,
		names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluiced -c FILE [-v]...   run in the foreground, logging to stderr\n"
		"       sluiced --check FILE      validate FILE (and its certificates) and exit\n"
		"       sluiced -c FILE --scan TEXTS [--json]\n"
		"                                 run FILE's detectors and pattern sets over\n"
		"                                 TEXTS (one a line, - for stdin) and report\n"
		"                                 what each flags, then a summary\n"
		"       sluiced --help | --version\n"
		"\n"
		"Signals: SIGHUP reloads the config (a bad one is refused, the old one keeps\n"
		"serving); SIGUSR1 reopens the audit file (after rotation); SIGTERM and SIGINT\n"
		"stop accepting and finish requests in flight\n"
		"(up to drain_timeout). -v logs each error response, -vv each request.\n"
		"Exit status: 0 ok, 1 runtime error, 2 bad usage or config.\n");
}

/* One listening socket (SO_REUSEPORT: one per worker, the kernel spreads connections). */
static int listen_on(const struct cfg_listener *l, char *err, size_t errlen)
{
	int fd, one = 1, zero = 0;

	fd = socket(l->addr.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail_close;
	if (l->addr.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (const struct sockaddr *)&l->addr.ss, l->addr.len) == -1)
		goto fail_close;
	if (listen(fd, 4096) == -1)
		goto fail_close;
	return fd;
fail_close:
	snprintf(err, errlen, "listeners.%s: %s: %s", l->name, l->addr.text, strerror(errno));
	close(fd);
	return -1;
fail:
	snprintf(err, errlen, "listeners.%s: %s: %s", l->name, l->addr.text, strerror(errno));
	return -1;
}

/*
 * Every connection is a descriptor, a proxied request two: the soft limit
 * goes up to the hard one (as HAProxy does), so a systemd default of 1024
 * does not cap the gateway at a few hundred clients.
 */
static void nofile_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		gw_log(0, "cannot raise the open files limit to %llu: %s",
		       (unsigned long long)rl.rlim_max, strerror(errno));
}

/* The config's xdp section: attach or adopt, then the data plane's settings. */
static int xdp_apply(const struct cfg_xdp *x, bool attach)
{
	struct sluice_config dc;
	struct dataplane dp;
	char note[256], val[32];
	const char *why;
	int err;

	if (!x->nifaces && !x->protected_ports && !x->pps && !x->syn && !x->ipv6_prefix &&
	    x->dry_run < 0)
		return 0;
	err = priv_dp_get(&dp, DP_LOCK);
	if (err) {
		gw_log(0, "xdp: cannot open the maps in %s: %s", dp_pin_dir(), strerror(-err));
		return err;
	}
	for (size_t i = 0; attach && i < x->nifaces; i++) {
		struct sluice_iface rec;

		err = iface_attach(&dp, x->ifaces[i].name, x->ifaces[i].mode, &rec, note, sizeof(note));
		if (err == -EEXIST) {
			gw_log(1, "xdp: interface=%s adopted mode=%s prog=%u", rec.name,
			       iface_mode_name(rec.mode), rec.prog_id);
			continue;
		}
		if (err) {
			gw_log(0, "xdp: interface=%s attach failed: %s", x->ifaces[i].name,
			       err == -ENODEV ? "no such interface" : strerror(-err));
			goto out;
		}
		gw_log(1, "xdp: interface=%s attached mode=%s via=%s prog=%u%s%s", rec.name,
		       iface_mode_name(rec.mode), iface_attach_name(rec.attach), rec.prog_id,
		       note[0] ? " note=" : "", note);
	}
	err = dp_config_get(&dp, &dc);
	if (err)
		goto out;
	if (x->protected_ports && xdpconf_parse_ports(&dc, x->protected_ports, &why) < 0) {
		gw_log(0, "xdp: protected_ports '%s': %s", x->protected_ports, why);
		err = -EINVAL;
		goto out;
	}
	if (x->ipv6_prefix)
		dc.v6_prefix = x->ipv6_prefix;
	if (x->dry_run >= 0) {
		snprintf(val, sizeof(val), "%s", x->dry_run ? "on" : "off");
		xdpconf_set(&dc, xdpconf_find("dry-run"), val, &why);
	}
	err = dp_config_put(&dp, &dc);
	if (!err && (x->pps || x->syn)) {
		struct sluice_limit lim = {};

		rate_set(&lim.pkt, x->pps, x->burst ? x->burst : x->pps);
		rate_set(&lim.syn, x->syn, x->syn);
		err = limits_set(&dp, NULL, &lim);
	}
out:
	priv_dp_put(&dp);
	return err;
}

/* The audit writer lives as long as the process: a reload cannot move it. */
static bool same_audit(const struct cfg_audit *a, const struct cfg_audit *b)
{
	if (!a || !b)
		return !a == !b;
	return !strcmp(a->path, b->path) && a->sync == b->sync &&
	       a->interval_ns == b->interval_ns && a->queue == b->queue;
}

static struct audit *audit_start(const struct cfg_audit *ac)
{
	static const enum audit_sync sync[] = {
		[AUDIT_NONE] = AUDIT_SYNC_NONE, [AUDIT_INTERVAL] = AUDIT_SYNC_INTERVAL,
		[AUDIT_ALWAYS] = AUDIT_SYNC_ALWAYS,
	};
	char err[CFG_ERR_LEN];
	struct audit *a;

	audit_set_log(gw_log);
	a = audit_open(ac->path, sync[ac->sync], ac->interval_ns, ac->queue, err, sizeof(err));
	if (!a)
		gw_log(0, "audit: %s", err);
	return a;
}

/* A reload may change everything but the listening addresses. */
static bool same_listeners(const struct gw_config *a, const struct gw_config *b)
{
	if (a->nlisteners != b->nlisteners || a->workers != b->workers)
		return false;
	for (size_t i = 0; i < a->nlisteners; i++)
		if (strcmp(a->listeners[i].name, b->listeners[i].name) ||
		    a->listeners[i].addr.len != b->listeners[i].addr.len ||
		    memcmp(&a->listeners[i].addr.ss, &b->listeners[i].addr.ss, a->listeners[i].addr.len) ||
		    !a->listeners[i].tls != !b->listeners[i].tls)
			return false;
	return true;
}

/* Interfaces are attached as root: once sluiced dropped to its user they are fixed. */
static bool same_ifaces(const struct cfg_xdp *a, const struct cfg_xdp *b)
{
	if (a->nifaces != b->nifaces)
		return false;
	for (size_t i = 0; i < a->nifaces; i++)
		if (strcmp(a->ifaces[i].name, b->ifaces[i].name) || a->ifaces[i].mode != b->ifaces[i].mode)
			return false;
	return true;
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* The admin endpoint lives as long as the process too. */
static bool same_admin(const struct cfg_admin *a, const struct cfg_admin *b)
{
	if (!a || !b)
		return !a == !b;
	return !strcmp(a->addr.text, b->addr.text) &&
	       !a->token_file == !b->token_file &&
	       (!a->token_file || !strcmp(a->token_file, b->token_file));
}

/* The new runtime, or cur with err saying why the config was refused. */
static struct runtime *reload(const char *path, struct runtime *cur, struct worker *w, unsigned int nw,
			      char *err, size_t errlen)
{
	struct gw_config *cfg = config_load(path, err, errlen);
	struct runtime *rt;

	if (!cfg)
		goto refused;
	if (!same_audit(cur->cfg->audit, cfg->audit)) {
		snprintf(err, errlen, "audit settings changed (restart sluiced to change them; "
			 "on_error and include_masked may change)");
		config_free(cfg);
		goto refused;
	}
	if (!same_admin(cur->cfg->admin, cfg->admin)) {
		snprintf(err, errlen, "admin settings changed (restart sluiced to change them)");
		config_free(cfg);
		goto refused;
	}
	if (!same_listeners(cur->cfg, cfg)) {
		snprintf(err, errlen, "listeners or workers changed (restart sluiced to change them)");
		config_free(cfg);
		goto refused;
	}
	if (!same_string(cur->cfg->user, cfg->user) ||
	    (priv_user() && !same_ifaces(&cur->cfg->xdp, &cfg->xdp))) {
		snprintf(err, errlen, "%s changed (sluiced runs as user %s: restart it to change them)",
			 same_string(cur->cfg->user, cfg->user) ? "xdp.interfaces" : "user",
			 priv_user() ? priv_user() : "root");
		config_free(cfg);
		goto refused;
	}
	rt = runtime_new(cfg, err, errlen);
	if (!rt)
		goto refused;
	if (keyuse_carry(rt->cfg->keys.kf, cur->cfg->keys.kf))
		gw_log(0, "reload: out of memory carrying the keys' last uses");
	if (xdp_apply(&rt->cfg->xdp, !priv_user()))
		gw_log(0, "reload: xdp settings not applied (see above); serving the new config");
	for (unsigned int i = 0; i < nw; i++) {
		struct runtime *old;

		runtime_get(rt);
		old = atomic_exchange(&w[i].pending, rt);
		if (old)
			runtime_put(old);
		loop_wake(&w[i].loop);
	}
	health_reload(rt);
	admin_set_runtime(rt);
	err[0] = '\0';
	gw_log(1, "reloaded config=%s generation=%llu pools=%zu routes=%zu", path,
	       (unsigned long long)rt->generation, rt->cfg->npools, rt->cfg->nroutes);
	runtime_put(cur);
	return rt;
refused:
	gw_log(0, "reload refused: %s", err);
	return cur;
}

/*
 * The limits' state file at start: what was owed when the daemon stopped
 * is owed again, less the time it was away. A bad file is kept aside as
 * PATH.bad (for a look) and the budgets start afresh; a file that cannot
 * be read or written at all stops the start.
 */
/*
 * The budgets' debts, the keys' last uses and what escalation remembers
 * (suspensions, blocks, steps) to the state file, if there is one.
 */
static int state_write(const struct gw_config *cfg)
{
	const char *path = cfg->limits.state_path;
	struct state_escalation *es = NULL;
	struct state_keyuse *ku = NULL;
	uint64_t now = loop_clock_ns();
	char err[512];
	size_t n, nes;
	int ret;

	if (!path)
		return 0;
	if (keyuse_collect(cfg->keys.kf, &ku, &n) || escalate_export(&es, &nes, now)) {
		gw_log(0, "limits: state %s: out of memory", path);
		free(ku);
		return -1;
	}
	ret = state_save(path, now, ku, n, es, nes, err, sizeof(err));
	free(ku);
	free(es);
	if (ret)
		gw_log(0, "limits: %s", err);
	return ret;
}

/* What state_load() hands over: key uses gathered, escalation taken back at once. */
struct loaded {
	const struct gw_config *cfg;
	struct keyuse_list *uses;
};

static void loaded_keyuse(const struct state_keyuse *ku, void *arg)
{
	keyuse_list_add(ku, ((struct loaded *)arg)->uses);
}

static void loaded_escalation(const struct state_escalation *es, void *arg)
{
	escalate_import(((struct loaded *)arg)->cfg, es, loop_clock_ns());
}

static int state_start(const struct gw_config *cfg)
{
	const struct cfg_limits_top *l = &cfg->limits;
	struct keyuse_list uses = { 0 };
	struct loaded ld = { cfg, &uses };
	char err[512], bad[1100];
	int n;

	if (!l->state_path)
		return 0;
	n = state_load(l->state_path, loop_clock_ns(), loaded_keyuse, loaded_escalation, &ld, err,
		       sizeof(err));
	keyuse_apply(cfg->keys.kf, uses.v, uses.n);
	free(uses.v);
	if (uses.oom)
		gw_log(0, "limits: state %s: out of memory for key uses; some last uses are lost",
		       l->state_path);
	if (n >= 0) {
		gw_log(1, "limits: state loaded path=%s records=%d", l->state_path, n);
	} else if (n == -ENOENT) {
		gw_log(1, "limits: no state yet path=%s", l->state_path);
	} else if (n == -ENOSPC) {
		gw_log(0, "limits: %s; the buckets loaded before it stay, the rest start afresh", err);
	} else if (n == -EINVAL) {
		snprintf(bad, sizeof(bad), "%s.bad", l->state_path);
		gw_log(0, "limits: %s; kept as %s, budgets start afresh", err, bad);
		if (rename(l->state_path, bad))
			gw_log(0, "limits: %s: %s", bad, strerror(errno));
	} else {
		gw_log(0, "limits: %s", err);
		return -1;
	}
	/* written at once: a path that cannot take it is found now, not at shutdown */
	return state_write(cfg);
}


int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", required_argument, NULL, 'C' },
		{ "scan", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *scan = NULL;
	char err[CFG_ERR_LEN];
	struct gw_config *cfg;
	struct runtime *rt;
	struct worker *w = NULL;
	int *fds = NULL, opt, ret = 1;
	bool check = false, json = false;
	unsigned int nw = 0;
	sigset_t set;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:jvhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			path = optarg;
			check = true;
			break;
		case 'S':
			scan = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			gw_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sluiced %s\n", SLUICED_VERSION);
			return 0;
		default:
			fprintf(stderr, "sluiced: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (!path || optind < argc) {
		fprintf(stderr, optind < argc ? "sluiced: unexpected argument '%s'\n" :
			"sluiced: missing -c FILE%s\n", optind < argc ? argv[optind] : "");
		usage(stderr);
		return 2;
	}
	log_setup("sluiced", gw_verbose > 1 ? LOG_DEBUG : LOG_WARN);

	cfg = config_load(path, err, sizeof(err));
	if (!cfg) {
		fprintf(stderr, "sluiced: %s\n", err);
		return 2;
	}
	/* Certificates and keys are read here, so --check proves them too */
	rt = runtime_new(cfg, err, sizeof(err));
	if (!rt) {
		fprintf(stderr, "sluiced: %s\n", err);
		return 2;
	}
	if (scan) {
		ret = scan_texts(rt, scan, json);
		runtime_put(rt);
		return ret;
	}
	if (check && priv_check(rt->cfg, err, sizeof(err))) {
		fprintf(stderr, "sluiced: %s\n", err);
		runtime_put(rt);
		return 2;
	}
	if (check) {
		printf("%s: ok (%zu listeners, %zu pools, %zu routes, %u workers)\n", path,
		       rt->cfg->nlisteners, rt->cfg->npools, rt->cfg->nroutes, rt->cfg->workers);
		runtime_put(rt);
		return 0;
	}

	/* Signals are taken by this thread alone, through sigtimedwait */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	nofile_raise();
	if (xdp_apply(&rt->cfg->xdp, true))
		goto out;
	ret = priv_dp_hold();
	if (ret) {
		gw_log(0, "xdp: cannot open the maps in %s: %s", dp_pin_dir(), strerror(-ret));
		ret = 1;
		goto out;
	}
	ret = 1;
	if (limit_init() || escalate_init() || conncount_init()) {
		gw_log(0, "limits: out of memory");
		goto out;
	}
	if (state_start(rt->cfg))
		goto out;
	if (rt->cfg->audit && !(gw_audit = audit_start(rt->cfg->audit)))
		goto out;

	nw = rt->cfg->workers;
	w = calloc(nw, sizeof(*w));
	fds = calloc(rt->cfg->nlisteners, sizeof(*fds));
	if (!w || !fds)
		goto out;
	for (unsigned int i = 0; i < nw; i++) {
		for (size_t l = 0; l < rt->cfg->nlisteners; l++) {
			fds[l] = listen_on(&rt->cfg->listeners[l], err, sizeof(err));
			if (fds[l] < 0) {
				gw_log(0, "%s", err);
				while (l--)
					close(fds[l]);
				nw = i;
				goto out_workers;
			}
		}
		if (worker_init(&w[i], i, rt, fds, rt->cfg->nlisteners)) {
			gw_log(0, "worker %u: cannot start", i);
			nw = i + 1;
			goto out_workers;
		}
	}
	if (health_start(rt)) {
		gw_log(0, "cannot start the health checker");
		goto out_workers;
	}
	for (unsigned int i = 0; i < nw; i++)
		if (worker_start(&w[i])) {
			gw_log(0, "cannot start worker %u", i);
			nw = i;
			goto out_health;
		}
	for (size_t l = 0; l < rt->cfg->nlisteners; l++)
		gw_log(1, "listening name=%s address=%s tls=%s", rt->cfg->listeners[l].name,
		       rt->cfg->listeners[l].addr.text, rt->cfg->listeners[l].tls ? "on" : "off");
	if (rt->cfg->admin) {
		if (admin_start(rt->cfg->admin, w, nw, rt, err, sizeof(err))) {
			gw_log(0, "%s", err);
			goto out_health;
		}
		gw_log(1, "admin listening address=%s token=%s", rt->cfg->admin->addr.text,
		       rt->cfg->admin->token_file ? "required" : "none");
	}
	if (priv_drop(rt->cfg, path, err, sizeof(err))) {
		gw_log(0, "%s", err);
		goto out_health;
	}
	if (priv_user())
		gw_log(1, "privileges dropped user=%s uid=%u gid=%u capabilities=none", priv_user(),
		       (unsigned int)getuid(), (unsigned int)getgid());
	gw_log(1, "started version=%s config=%s workers=%u pools=%zu routes=%zu", SLUICED_VERSION,
	       path, nw, rt->cfg->npools, rt->cfg->nroutes);

	for (uint64_t saved = loop_clock_ns();;) {
		struct timespec tick = { 1, 0 };
		int sig = sigtimedwait(&set, NULL, &tick);

		if (loop_clock_ns() - saved >= rt->cfg->limits.state_interval_ns) {
			state_write(rt->cfg);
			saved = loop_clock_ns();
		}

		if (sig == SIGHUP) {
			uint64_t seq = admin_reload_begin();
			struct runtime *was = rt;

			rt = reload(path, rt, w, nw, err, sizeof(err));
			admin_reload_done(seq, rt != was, err);
		} else if (sig == SIGUSR1) {
			if (gw_audit) {
				gw_log(1, "audit: reopening %s", rt->cfg->audit->path);
				audit_reopen(gw_audit);
			}
		} else if (sig == SIGTERM || sig == SIGINT) {
			uint64_t deadline = loop_clock_ns() + rt->cfg->drain_timeout_ns;

			gw_log(1, "draining signal=%s timeout=%llus", sig == SIGTERM ? "TERM" : "INT",
			       (unsigned long long)(rt->cfg->drain_timeout_ns / 1000000000ULL));
			for (unsigned int i = 0; i < nw; i++) {
				w[i].drain_deadline_ns = deadline;
				atomic_store(&w[i].drain, true);
				loop_wake(&w[i].loop);
			}
			break;
		}
	}
	ret = 0;
out_health:
	admin_stop();
	for (unsigned int i = 0; i < nw; i++) {
		atomic_store(&w[i].drain, true);
		loop_wake(&w[i].loop);
		pthread_join(w[i].thread, NULL);
	}
	health_stop();
	/* every request has settled: what the budgets owe now is final */
	state_write(rt->cfg);
	nw = rt->cfg->workers;
out_workers:
	/* after the workers: every record they submitted is written */
	audit_close(gw_audit);
	gw_audit = NULL;
	for (unsigned int i = 0; i < nw; i++)
		worker_fini(&w[i]);
out:
	free(w);
	free(fds);
	limit_fini();
	escalate_fini();
	conncount_fini();
	priv_dp_release();
	runtime_put(rt);
	gw_log(1, "stopped");
	return ret;
}
