// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The admin endpoint (see admin.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <openssl/crypto.h>
#include "gw/admin.h"
#include "gw/audit.h"
#include "gw/gw.h"
#include "gw/http1.h"
#include "gw/metrics.h"
#include "gw/priv.h"
#include "lib/dataplane.h"
#include "lib/iface.h"
#include "lib/jsonw.h"

#define ADMIN_HEAD_MAX		16384
#define ADMIN_DEADLINE_MS	2000
#define ADMIN_RELOAD_WAIT_S	60

extern const char dashboard_html[];	/* dashboard.c, made from dashboard.html */

static struct {
	int fd;
	char unix_path[108];
	char token[256];
	size_t token_len;
	struct worker *w;
	unsigned int nw;
	pthread_t thread;
	_Atomic bool stop;
	bool running;
	/* the runtime serving now, and reloads */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct runtime *rt;
	uint64_t reload_seq, reload_done;
	bool reload_ok;
	char reload_why[CFG_ERR_LEN];
	uint64_t started_ns;
} adm = { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static struct runtime *current(void)
{
	struct runtime *rt;

	pthread_mutex_lock(&adm.lock);
	rt = adm.rt;
	runtime_get(rt);
	pthread_mutex_unlock(&adm.lock);
	return rt;
}

void admin_set_runtime(struct runtime *rt)
{
	struct runtime *old;

	if (!adm.running)
		return;
	runtime_get(rt);
	pthread_mutex_lock(&adm.lock);
	old = adm.rt;
	adm.rt = rt;
	pthread_mutex_unlock(&adm.lock);
	if (old)
		runtime_put(old);
}

uint64_t admin_reload_begin(void)
{
	uint64_t seq;

	pthread_mutex_lock(&adm.lock);
	seq = adm.reload_seq;
	pthread_mutex_unlock(&adm.lock);
	return seq;
}

void admin_reload_done(uint64_t seq, bool ok, const char *why)
{
	pthread_mutex_lock(&adm.lock);
	if (seq > adm.reload_done)
		adm.reload_done = seq;
	adm.reload_ok = ok;
	snprintf(adm.reload_why, sizeof(adm.reload_why), "%s", why ? why : "");
	pthread_cond_broadcast(&adm.cond);
	pthread_mutex_unlock(&adm.lock);
}

/* --- the token ---------------------------------------------------------- */

static int read_token(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		snprintf(err, errlen, "admin.token_file: %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, adm.token, sizeof(adm.token) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "admin.token_file: %s: %s", path, strerror(errno));
		return -1;
	}
	while (n && (adm.token[n - 1] == '\n' || adm.token[n - 1] == '\r' ||
		     adm.token[n - 1] == ' '))
		n--;
	adm.token[n] = '\0';
	if (n < 16 || strpbrk(adm.token, " \t\r\n")) {
		snprintf(err, errlen, "admin.token_file: %s: the token must be one line of at "
				      "least 16 characters without spaces (it has %zd)", path, n);
		explicit_bzero(adm.token, sizeof(adm.token));
		return -1;
	}
	adm.token_len = n;
	return 0;
}

static bool authorized(const struct http1_msg *m)
{
	const struct http1_header *h = http1_find(m, "authorization", NULL);

	if (!adm.token_len)
		return true;
	if (!h || h->value_len != 7 + adm.token_len || strncasecmp(h->value, "Bearer ", 7))
		return false;
	return !CRYPTO_memcmp(h->value + 7, adm.token, adm.token_len);
}

/* --- responses ---------------------------------------------------------- */

static void reply(int fd, unsigned int status, const char *type, const char *body, size_t len,
		  const char *extra)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\ncontent-type: %s\r\ncontent-length: %zu\r\n"
			 "cache-control: no-store\r\n%sconnection: close\r\n\r\n",
			 status, http_reason(status), type, len, extra ? extra : "");
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	const char *parts[2] = { head, body };
	size_t sizes[2] = { (size_t)n, len };

	for (int i = 0; i < 2; i++) {
		size_t off = 0;

		while (off < sizes[i]) {
			ssize_t w = send(fd, parts[i] + off, sizes[i] - off, MSG_NOSIGNAL);

			if (w > 0) {
				off += w;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
			    poll(&p, 1, ADMIN_DEADLINE_MS) > 0)
				continue;
			return;
		}
	}
}

static void reply_json_error(int fd, unsigned int status, const char *msg, const char *extra)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	struct jsonw *jw;

	if (!f)
		return;
	jw = jsonw_new(f, false);
	if (jw) {
		jsonw_start_object(jw);
		jsonw_string_field(jw, "error", msg);
		jsonw_end_object(jw);
		jsonw_destroy(&jw);
	}
	fclose(f);
	reply(fd, status, "application/json", body, len, extra);
	free(body);
}

/* --- /status and /readyz ------------------------------------------------ */

static const char *const lb_names[] = {
	[LB_ROUND_ROBIN] = "round_robin", [LB_WEIGHTED] = "weighted",
	[LB_LEAST_REQUESTS] = "least_requests", [LB_LEAST_TOKENS] = "least_tokens",
	[LB_P2C] = "p2c", [LB_SESSION] = "session", [LB_PREFIX] = "prefix",
};

static int status_iface(const struct iface_state *st, void *arg)
{
	static const char *const modes[] = { "auto", "native", "skb" };
	struct jsonw *jw = arg;

	jsonw_start_object(jw);
	jsonw_string_field(jw, "name", st->rec.name);
	jsonw_string_field(jw, "mode", st->rec.mode < 3 ? modes[st->rec.mode] : "?");
	jsonw_bool_field(jw, "enforcing", st->enforcing);
	jsonw_bool_field(jw, "present", st->link_present);
	jsonw_end_object(jw);
	return 0;
}

static void write_status(FILE *f, const struct runtime *rt)
{
	const struct gw_config *cfg = rt->cfg;
	struct jsonw *jw = jsonw_new(f, true);
	struct dataplane dp;
	char hex[65], when[32];
	time_t t = cfg->loaded_ns / 1000000000ULL;
	struct tm tm;

	if (!jw)
		return;
	insp_hex(cfg->sha256, sizeof(cfg->sha256), hex);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	jsonw_start_object(jw);
	jsonw_string_field(jw, "version", SLUICED_VERSION);
	jsonw_uint_field(jw, "uptime_s", (realtime_ns() - adm.started_ns) / 1000000000ULL);
	jsonw_name(jw, "config");
	jsonw_start_object(jw);
	jsonw_string_field(jw, "path", cfg->path);
	jsonw_string_field(jw, "sha256", hex);
	jsonw_string_field(jw, "loaded", when);
	jsonw_uint_field(jw, "generation", rt->generation);
	jsonw_end_object(jw);
	jsonw_uint_field(jw, "workers", adm.nw);
	jsonw_name(jw, "listeners");
	jsonw_start_array(jw);
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		int64_t active = 0;
		int slot = rt->slot[MK_LISTENER][i];

		for (unsigned int k = 0; k < adm.nw && slot >= 0; k++) {
			uint64_t *c = atomic_load_explicit(&adm.w[k].m.chunk[MK_LISTENER][slot / M_CHUNK],
							   memory_order_acquire);

			if (c)
				active += (int64_t)M_GET(c[(slot % M_CHUNK) * ML_WIDTH + ML_ACTIVE]);
		}
		jsonw_start_object(jw);
		jsonw_string_field(jw, "name", cfg->listeners[i].name);
		jsonw_string_field(jw, "address", cfg->listeners[i].addr.text);
		jsonw_bool_field(jw, "tls", cfg->listeners[i].tls != NULL);
		jsonw_int_field(jw, "connections", active);
		jsonw_end_object(jw);
	}
	jsonw_end_array(jw);
	jsonw_name(jw, "pools");
	jsonw_start_array(jw);
	for (size_t p = 0; p < cfg->npools; p++) {
		const struct cfg_pool *pc = &cfg->pools[p];

		jsonw_start_object(jw);
		jsonw_string_field(jw, "name", pc->name);
		jsonw_string_field(jw, "algorithm",
				   (size_t)pc->algorithm < sizeof(lb_names) / sizeof(lb_names[0]) ?
					   lb_names[pc->algorithm] : "?");
		jsonw_name(jw, "backends");
		jsonw_start_array(jw);
		for (size_t b = 0; b < pc->nbackends; b++) {
			const struct backend_rt *be = pool__backend(rt->pools[p], (int)b);

			jsonw_start_object(jw);
			jsonw_string_field(jw, "url", pc->backends[b].url);
			jsonw_bool_field(jw, "up", pool__is_up(rt->pools[p], (int)b));
			jsonw_uint_field(jw, "inflight",
					 atomic_load_explicit(&be->inflight, memory_order_relaxed));
			jsonw_end_object(jw);
		}
		jsonw_end_array(jw);
		jsonw_end_object(jw);
	}
	jsonw_end_array(jw);
	jsonw_name(jw, "xdp");
	jsonw_start_array(jw);
	if (!priv_dp_get(&dp, DP_NOCREATE)) {
		iface_walk(&dp, status_iface, jw);
		priv_dp_put(&dp);
	}
	jsonw_end_array(jw);
	if (gw_audit) {
		struct audit_stats as;

		audit_get_stats(gw_audit, &as);
		jsonw_name(jw, "audit");
		jsonw_start_object(jw);
		jsonw_string_field(jw, "path", cfg->audit->path);
		jsonw_uint_field(jw, "written", as.written);
		jsonw_uint_field(jw, "depth", as.depth);
		jsonw_end_object(jw);
	}
	jsonw_end_object(jw);
	jsonw_destroy(&jw);
}

/* Ready: every pool has a usable backend. The reasons when not, one a line. */
static bool ready(const struct runtime *rt, FILE *why)
{
	const struct gw_config *cfg = rt->cfg;
	bool ok = adm.nw > 0;

	for (size_t p = 0; p < cfg->npools; p++) {
		bool any = false;

		for (size_t b = 0; b < cfg->pools[p].nbackends && !any; b++)
			any = pool__is_up(rt->pools[p], (int)b);
		if (!any) {
			fprintf(why, "pool %s: no backend is up\n", cfg->pools[p].name);
			ok = false;
		}
	}
	return ok;
}

static void do_reload(int fd)
{
	struct timespec until;
	uint64_t want;
	char msg[CFG_ERR_LEN + 64];
	bool ok, done;

	pthread_mutex_lock(&adm.lock);
	want = ++adm.reload_seq;
	pthread_mutex_unlock(&adm.lock);
	/* the main thread reloads on SIGHUP: the same path as an operator's kill -HUP */
	kill(getpid(), SIGHUP);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ADMIN_RELOAD_WAIT_S;
	pthread_mutex_lock(&adm.lock);
	while (adm.reload_done < want && !adm.stop &&
	       pthread_cond_timedwait(&adm.cond, &adm.lock, &until) != ETIMEDOUT)
		;
	done = adm.reload_done >= want;
	ok = adm.reload_ok;
	snprintf(msg, sizeof(msg), "%s", adm.reload_why);
	pthread_mutex_unlock(&adm.lock);
	if (!done) {
		reply_json_error(fd, 503, "the reload did not finish in time", NULL);
		return;
	}
	if (!ok) {
		reply_json_error(fd, 409, msg, NULL);
		return;
	}
	{
		struct runtime *rt = current();
		char body[128];
		int n = snprintf(body, sizeof(body), "{\"reloaded\":true,\"generation\":%llu}\n",
				 (unsigned long long)rt->generation);

		runtime_put(rt);
		reply(fd, 200, "application/json", body, n, NULL);
	}
}

static bool is(const struct http1_msg *m, const char *method, const char *path)
{
	size_t pl = m->target_len;
	const char *q = memchr(m->target, '?', m->target_len);

	if (q)
		pl = q - m->target;
	return m->method_len == strlen(method) && !memcmp(m->method_str, method, m->method_len) &&
	       pl == strlen(path) && !memcmp(m->target, path, pl);
}

static void serve(int fd, const struct http1_msg *m)
{
	static const char plain[] = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t len = 0;
	struct runtime *rt;
	FILE *f;
	bool known = is(m, "GET", "/") || is(m, "GET", "/metrics") || is(m, "GET", "/healthz") ||
		     is(m, "GET", "/readyz") || is(m, "GET", "/status") || is(m, "POST", "/reload");

	if (!known) {
		reply_json_error(fd, 404, "unknown admin path (/metrics, /healthz, /readyz, /status, "
					  "POST /reload, /)", NULL);
		return;
	}
	if (is(m, "GET", "/")) {
		/* the page holds no figures: it asks for them with the token */
		reply(fd, 200, "text/html; charset=utf-8", dashboard_html, strlen(dashboard_html),
		      "content-security-policy: default-src 'self'; script-src 'unsafe-inline'; "
		      "style-src 'unsafe-inline'\r\n");
		return;
	}
	if (!authorized(m)) {
		reply_json_error(fd, 401, "a bearer token is required (admin.token_file)",
				 "www-authenticate: Bearer realm=\"sluiced\"\r\n");
		return;
	}
	if (is(m, "POST", "/reload")) {
		do_reload(fd);
		return;
	}
	if (is(m, "GET", "/healthz")) {
		reply(fd, 200, plain, "ok\n", 3, NULL);
		return;
	}
	if (!(f = open_memstream(&body, &len)))
		return;
	rt = current();
	if (is(m, "GET", "/metrics")) {
		metrics_write(f, adm.w, adm.nw, rt);
		fclose(f);
		reply(fd, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, NULL);
	} else if (is(m, "GET", "/readyz")) {
		bool ok = ready(rt, f);

		if (ok)
			fputs("ready\n", f);
		fclose(f);
		reply(fd, ok ? 200 : 503, plain, body, len, NULL);
	} else {
		write_status(f, rt);
		fclose(f);
		reply(fd, 200, "application/json", body, len, NULL);
	}
	runtime_put(rt);
	free(body);
}

/* One connection: its head within the deadline, one answer, close. */
static void connection(int fd)
{
	struct http1_header hdr[64];
	struct http1_msg m;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[ADMIN_HEAD_MAX];
	size_t len = 0;
	int ret = 0;
	struct timespec t0, t;

	http1_msg_init(&m, hdr, 64);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = ADMIN_DEADLINE_MS - (t.tv_sec - t0.tv_sec) * 1000 -
		       (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			return;
		len += n;
		ret = http1_parse_request(&m, buf, len, NULL);
		if (ret)
			break;
		if (len == sizeof(buf)) {
			ret = -431;
			break;
		}
	}
	if (ret < 0) {
		reply_json_error(fd, -ret, m.error ? m.error : http_reason(-ret), NULL);
		return;
	}
	serve(fd, &m);
}

static void *admin_thread(void *arg)
{
	(void)arg;
	while (!adm.stop) {
		struct pollfd p = { .fd = adm.fd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 500) <= 0)
			continue;
		c = accept4(adm.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			continue;
		connection(c);
		close(c);
	}
	return NULL;
}

int admin_start(const struct cfg_admin *a, struct worker *w, unsigned int nw,
		struct runtime *rt, char *err, size_t errlen)
{
	int one = 1, fd;

	if (a->token_file && read_token(a->token_file, err, errlen))
		return -1;
	if (a->unix_path[0]) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		mode_t old;

		snprintf(un.sun_path, sizeof(un.sun_path), "%s", a->unix_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* a socket file left by a daemon that died: ours to replace */
		if (fd >= 0) {
			struct stat st;

			if (!lstat(a->unix_path, &st) && S_ISSOCK(st.st_mode))
				unlink(a->unix_path);
		}
		old = umask(0177);
		if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) || listen(fd, 16)) {
			snprintf(err, errlen, "admin.address: unix:%s: %s", a->unix_path,
				 strerror(errno));
			umask(old);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		umask(old);
		snprintf(adm.unix_path, sizeof(adm.unix_path), "%s", a->unix_path);
	} else {
		fd = socket(a->addr.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (const struct sockaddr *)&a->addr.ss, a->addr.len) ||
		    listen(fd, 16)) {
			snprintf(err, errlen, "admin.address: %s: %s", a->addr.text, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	adm.fd = fd;
	adm.w = w;
	adm.nw = nw;
	adm.started_ns = realtime_ns();
	adm.stop = false;
	adm.running = true;
	admin_set_runtime(rt);
	if (pthread_create(&adm.thread, NULL, admin_thread, NULL)) {
		snprintf(err, errlen, "admin: cannot start its thread");
		admin_stop();
		return -1;
	}
	pthread_setname_np(adm.thread, "sluiced-admin");
	return 0;
}

void admin_stop(void)
{
	if (!adm.running)
		return;
	adm.stop = true;
	pthread_mutex_lock(&adm.lock);
	pthread_cond_broadcast(&adm.cond);
	pthread_mutex_unlock(&adm.lock);
	if (adm.thread) {
		pthread_join(adm.thread, NULL);
		adm.thread = 0;
	}
	close(adm.fd);
	adm.fd = -1;
	if (adm.unix_path[0])
		unlink(adm.unix_path);
	if (adm.rt)
		runtime_put(adm.rt);
	adm.rt = NULL;
	explicit_bzero(adm.token, sizeof(adm.token));
	adm.running = false;
}
