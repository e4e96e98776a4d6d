// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluicectl status | reload: sluiced's admin endpoint (user/gw/admin.h).
 *   status   GET /status, as a summary or (-j) the daemon's JSON
 *   reload   POST /reload: the new generation, or why the config was refused
 * Where: admin ADDR ("host:port" or "unix:/path"), else $SLUICE_ADMIN, else
 * 127.0.0.1:9901. The bearer token: token-file F, else
 * $SLUICE_ADMIN_TOKEN_FILE, else /etc/sluice/admin.token when it exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <cjson/cJSON.h>
#include "ctl.h"

#define ADMIN_DEFAULT		"127.0.0.1:9901"
#define TOKEN_DEFAULT		"/etc/sluice/admin.token"
#define ANSWER_MAX		(16 << 20)

struct target {
	const char *addr;
	const char *token_file;
	bool token_given;
};

static int parse_target(const char *what, int argc, char **argv, struct target *t)
{
	t->addr = getenv("SLUICE_ADMIN") ? getenv("SLUICE_ADMIN") : ADMIN_DEFAULT;
	t->token_file = getenv("SLUICE_ADMIN_TOKEN_FILE");
	t->token_given = t->token_file != NULL;
	for (int i = 0; i < argc; i += 2) {
		if (!need_value(argc, argv, i, what))
			return EXIT_USAGE;
		if (!strcmp(argv[i], "admin")) {
			t->addr = argv[i + 1];
		} else if (!strcmp(argv[i], "token-file")) {
			t->token_file = argv[i + 1];
			t->token_given = true;
		} else {
			usage_error("%s: unknown argument '%s'", what, argv[i]);
			print_object_usage(what);
			return EXIT_USAGE;
		}
	}
	if (!t->token_file && !access(TOKEN_DEFAULT, F_OK))
		t->token_file = TOKEN_DEFAULT;
	return 0;
}

static int read_token(const char *what, const struct target *t, char *tok, size_t len)
{
	FILE *f;
	size_t n;

	tok[0] = '\0';
	if (!t->token_file)
		return 0;
	f = fopen(t->token_file, "r");
	if (!f)
		return fail("%s: token file %s: %s", what, t->token_file, strerror(errno));
	n = fread(tok, 1, len - 1, f);
	fclose(f);
	while (n && (tok[n - 1] == '\n' || tok[n - 1] == '\r' || tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	return 0;
}

static int connect_to(const char *what, const char *addr)
{
	struct timeval tv = { 10, 0 };
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256];
	const char *colon;
	int fd = -1, rc;

	if (!strncmp(addr, "unix:", 5)) {
		struct sockaddr_un un = { .sun_family = AF_UNIX };

		if (strlen(addr + 5) >= sizeof(un.sun_path))
			return -usage_error("%s: admin '%s': the path is too long", what, addr);
		strcpy(un.sun_path, addr + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un))) {
			rc = fail("%s: admin %s: %s (is sluiced running with this admin.address?)",
				  what, addr, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -rc;
		}
	} else {
		colon = strrchr(addr, ':');
		if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
			return -usage_error("%s: admin '%s': expected host:port or unix:/path", what,
					    addr);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		if ((rc = getaddrinfo(host, colon + 1, &hints, &res)))
			return -usage_error("%s: admin '%s': %s", what, addr, gai_strerror(rc));
		for (ai = res; ai; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
					break;
				close(fd);
				fd = -1;
			}
		}
		freeaddrinfo(res);
		if (fd < 0)
			return -fail("%s: admin %s: %s (is sluiced running with this admin.address?)",
				     what, addr, strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int admin_call(const char *what, const struct target *t, const char *method,
		      const char *path, int *status, char **body);

/* A call for watch and key: -1 on any failure, nothing printed. */
static int admin_call_quiet(const struct target *t, const char *method, const char *path,
			    int *status, char **body)
{
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY | O_CLOEXEC), rc;

	if (saved < 0 || null < 0) {
		if (saved >= 0)
			close(saved);
		if (null >= 0)
			close(null);
		return -1;
	}
	fflush(stderr);
	dup2(null, STDERR_FILENO);
	close(null);
	rc = admin_call("admin", t, method, path, status, body);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	return rc ? -1 : 0;
}

/* One request; *status and the body (NUL-terminated, malloc'd). 0 or an exit code. */
static int admin_call(const char *what, const struct target *t, const char *method,
		      const char *path, int *status, char **body)
{
	char tok[512], req[1024], *buf = NULL, *p;
	size_t len = 0, cap = 0;
	int fd, n, rc;
	ssize_t r;

	if ((rc = read_token(what, t, tok, sizeof(tok))))
		return rc;
	fd = connect_to(what, t->addr);
	if (fd < 0)
		return -fd;
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nhost: sluiced\r\n%s%s%sconnection: close\r\n"
		     "content-length: 0\r\n\r\n", method, path, tok[0] ? "authorization: Bearer " : "",
		     tok, tok[0] ? "\r\n" : "");
	explicit_bzero(tok, sizeof(tok));
	if (send(fd, req, n, MSG_NOSIGNAL) != n) {
		explicit_bzero(req, sizeof(req));
		close(fd);
		return fail("%s: admin %s: %s", what, t->addr, strerror(errno));
	}
	explicit_bzero(req, sizeof(req));
	for (;;) {
		if (len + 65536 + 1 > cap) {
			char *q;

			cap = cap ? 2 * cap : 131072;
			if (cap > ANSWER_MAX || !(q = realloc(buf, cap))) {
				free(buf);
				close(fd);
				return fail("%s: the answer is too large", what);
			}
			buf = q;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	rc = r < 0 ? errno : 0;
	close(fd);
	if (!buf || rc) {
		free(buf);
		return fail("%s: admin %s: %s", what, t->addr, rc ? strerror(rc) : "no answer");
	}
	buf[len] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1 || !(p = strstr(buf, "\r\n\r\n"))) {
		free(buf);
		return fail("%s: admin %s: not an HTTP answer", what, t->addr);
	}
	memmove(buf, p + 4, len - (p + 4 - buf) + 1);
	*body = buf;
	return 0;
}

/* The daemon's error text, or the body. */
static int answer_error(const char *what, int status, const char *body)
{
	cJSON *j = cJSON_Parse(body);
	const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));
	int rc = fail("%s: sluiced answered %d: %s", what, status, e ? e : body);

	cJSON_Delete(j);
	return rc;
}

/* The daemon's JSON through our writer: one document, -p honoured. */
static void json_copy(const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsObject(v)) {
		jsonw_start_object(jw);
		cJSON_ArrayForEach(c, v) {
			jsonw_name(jw, c->string);
			json_copy(c);
		}
		jsonw_end_object(jw);
	} else if (cJSON_IsArray(v)) {
		jsonw_start_array(jw);
		cJSON_ArrayForEach(c, v)
			json_copy(c);
		jsonw_end_array(jw);
	} else if (cJSON_IsString(v)) {
		jsonw_string(jw, v->valuestring);
	} else if (cJSON_IsBool(v)) {
		jsonw_bool(jw, cJSON_IsTrue(v));
	} else if (cJSON_IsNumber(v)) {
		if (v->valuedouble == (double)(long long)v->valuedouble)
			jsonw_int(jw, (long long)v->valuedouble);
		else
			jsonw_float(jw, v->valuedouble);
	} else {
		jsonw_null(jw);
	}
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	return s ? s : "-";
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_status(const cJSON *s)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(s, "config"), *x, *b;

	printf("sluiced %s, up %.0f s, %.0f workers\n", str(s, "version"), num(s, "uptime_s"),
	       num(s, "workers"));
	printf("config     %s (generation %.0f, loaded %s, sha256 %.12s)\n", str(cfg, "path"),
	       num(cfg, "generation"), str(cfg, "loaded"), str(cfg, "sha256"));
	printf("listeners\n");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "listeners"))
		printf("  %-12s %-28s %-5s %.0f connections\n", str(x, "name"), str(x, "address"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "tls")) ? "tls" : "plain",
		       num(x, "connections"));
	printf("pools\n");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "pools")) {
		printf("  %s (%s)\n", str(x, "name"), str(x, "algorithm"));
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(x, "backends"))
			printf("    %-40s %-4s %.0f in flight\n", str(b, "url"),
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "up")) ? "up" : "down",
			       num(b, "inflight"));
	}
	printf("xdp\n");
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "xdp")))
		printf("  (not attached)\n");
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s, "xdp"))
		printf("  %-16s %-6s %s\n", str(x, "name"), str(x, "mode"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "enforcing")) ? "enforcing" :
										 "not enforcing");
	if ((x = cJSON_GetObjectItemCaseSensitive(s, "audit")))
		printf("audit      %s (%.0f written, %.0f waiting)\n", str(x, "path"),
		       num(x, "written"), num(x, "depth"));
}

static int call_json(const char *what, int argc, char **argv, const char *method,
		     const char *path, cJSON **out, int *status)
{
	struct target t;
	char *body = NULL;
	int rc;

	if ((rc = parse_target(what, argc, argv, &t)))
		return rc;
	if ((rc = admin_call(what, &t, method, path, status, &body)))
		return rc;
	if (*status != 200) {
		rc = answer_error(what, *status, body);
		free(body);
		return rc;
	}
	*out = cJSON_Parse(body);
	free(body);
	if (!*out)
		return fail("%s: the answer is not JSON", what);
	return 0;
}

/* --- the daemon's figures for watch ---------------------------------------- */

/* The value of label key in "{a=\"x\",b=\"y\"}", or false. */
static bool label_of(const char *labels, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "%s=\"", key);
	for (p = labels; (p = strstr(p, pat)); p++)
		if (p == labels || p[-1] == '{' || p[-1] == ',')
			break;
	if (!p)
		return false;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e)
		return false;
	snprintf(out, len, "%.*s", (int)(e - p), p);
	return true;
}

static void add_named(struct daemon_named *v, size_t *n, const char *name, double x)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp(v[i].name, name)) {
			v[i].value += x;
			return;
		}
	if (*n < DAEMON_NAMED_MAX) {
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", name);
		v[(*n)++].value = x;
	}
}

/* What status uses when the caller names no address or token file. */
static void target_defaults(struct target *t)
{
	if (!t->addr)
		t->addr = getenv("SLUICE_ADMIN") ? getenv("SLUICE_ADMIN") : ADMIN_DEFAULT;
	if (!t->token_file)
		t->token_file = getenv("SLUICE_ADMIN_TOKEN_FILE");
	if (!t->token_file && !access(TOKEN_DEFAULT, R_OK))
		t->token_file = TOKEN_DEFAULT;
}

int daemon_reload(const char *addr, const char *token_file, double *generation, char *why,
		  size_t len)
{
	struct target t = { .addr = addr, .token_file = token_file };
	char *body = NULL;
	cJSON *j;
	int status;

	target_defaults(&t);
	if (admin_call_quiet(&t, "POST", "/reload", &status, &body))
		return -1;
	j = cJSON_Parse(body);
	if (status == 200) {
		*generation = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "generation"));
	} else {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error"));

		snprintf(why, len, "%s", e ? e : body);
	}
	cJSON_Delete(j);
	free(body);
	return status == 200 ? 0 : status;
}

int daemon_figures(const char *addr, const char *token_file, struct daemon_figures *f)
{
	struct target t = { .addr = addr, .token_file = token_file };
	char *body = NULL, *line, *save = NULL, lab[128];
	int status;

	memset(f, 0, sizeof(*f));
	target_defaults(&t);
	if (admin_call_quiet(&t, "GET", "/metrics", &status, &body))
		return -1;
	if (status != 200) {
		free(body);
		return -status;
	}
	for (line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' '), *br = strchr(line, '{');
		double v;

		if (line[0] == '#' || !sp)
			continue;
		v = strtod(sp + 1, NULL);
		if (!strncmp(line, "sluice_requests_total{", 22)) {
			if (label_of(br, "decision", lab, sizeof(lab)))
				add_named(f->decisions, &f->ndecisions, lab, v);
			f->requests += v;
		} else if (!strncmp(line, "sluice_prompt_tokens_total{", 27)) {
			if (label_of(br, "route", lab, sizeof(lab)))
				add_named(f->tokens, &f->ntokens, lab[0] ? lab : "(none)", v);
		} else if (!strncmp(line, "sluice_backend_up{", 18)) {
			char pool[48], be[64];

			if (label_of(br, "pool", pool, sizeof(pool)) && label_of(br, "backend", be, sizeof(be))) {
				snprintf(lab, sizeof(lab), "%s/%s", pool, be);
				add_named(f->backends, &f->nbackends, lab, v);
			}
		} else if (!strncmp(line, "sluice_pii_masked_total{", 24)) {
			f->masked += v;
		}
	}
	free(body);
	return 0;
}

int do_status(int argc, char **argv)
{
	cJSON *s = NULL;
	int status, rc = call_json("status", argc, argv, "GET", "/status", &s, &status);

	if (rc)
		return rc;
	if (json_output)
		json_copy(s);
	else
		print_status(s);
	cJSON_Delete(s);
	return EXIT_OK;
}

int do_reload(int argc, char **argv)
{
	cJSON *r = NULL;
	int status, rc = call_json("reload", argc, argv, "POST", "/reload", &r, &status);

	if (rc)
		return rc;
	if (json_output)
		json_copy(r);
	else
		printf("reloaded: generation %.0f\n", num(r, "generation"));
	cJSON_Delete(r);
	return EXIT_OK;
}
