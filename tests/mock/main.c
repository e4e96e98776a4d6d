// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mockllm: options, listeners, workers, signals.
 *
 * The option table below is both the getopt_long() table and --help, so
 * the two cannot disagree.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>

#include "mock.h"

struct mock_server srv = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

enum {
	O_PORT_FILE = 256,
	O_ECHO_HEADERS,
	O_STREAM_TOKENS,
	O_DIMS,
	O_FAIL_HEALTH,
	O_MAX_BODY,
	O_IDLE,
};

#define DEFAULT_ECHO_HEADERS \
	"host,authorization,x-api-key,x-request-id,x-forwarded-for,x-forwarded-proto," \
	"forwarded,via,user-agent,content-type,content-length,transfer-encoding," \
	"connection,anthropic-version,openai-organization,openai-project"

static const struct opt {
	const char *name;
	int val;
	const char *arg;	/* NULL: a flag */
	const char *help;
} opts[] = {
	{ "listen", 'l', "ADDR:PORT",
	  "Listen there (required; repeatable; [v6addr]:port; port 0 picks a free one)." },
	{ "threads", 't', "N", "Worker threads, one SO_REUSEPORT listener each (default: one per CPU)." },
	{ "port-file", O_PORT_FILE, "FILE", "Write the bound port of the first --listen there once ready." },
	{ "models", 'm', "A,B,..",
	  "Models GET /v1/models lists; the first answers requests without a model (default: mock-model)." },
	{ "echo", 'e', NULL,
	  "Reply with the request body as the text; echo request fields as x-mock-* response headers; "
	  "record the last request in /stats." },
	{ "echo-headers", O_ECHO_HEADERS, "LIST",
	  "Request fields echoed as x-mock-req-NAME ('*': all; default: " DEFAULT_ECHO_HEADERS ")." },
	{ "tokens", 'n', "N",
	  "Reply \"tok1 tok2 .. tokN\" (a request's max tokens sets N) instead of echoing the last user "
	  "message (default 0: echo)." },
	{ "stream-tokens", O_STREAM_TOKENS, "N", "Same as --tokens." },
	{ "token-interval", 'i', "DURATION", "Time between streamed tokens (default 0: all at once)." },
	{ "embedding-dims", O_DIMS, "N", "Embedding length when a request gives no dimensions (default 8)." },
	{ "fault", 'f', "SPEC", "Fault every /v1 request (see FAULTS); POST /admin/fault changes it." },
	{ "fail-health", O_FAIL_HEALTH, NULL, "Start with GET /health answering 503." },
	{ "max-body", O_MAX_BODY, "BYTES", "Largest request body; past it 413 (default 16777216)." },
	{ "idle-timeout", O_IDLE, "DURATION", "Close connections idle this long (default 0: never)." },
	{ "verbose", 'v', NULL, "One line per request on stderr." },
	{ "help", 'h', NULL, "This text." },
};

#define NOPTS	(sizeof(opts) / sizeof(opts[0]))

static const char help_tail[] =
"\n"
"ENDPOINTS\n"
"  POST /v1/chat/completions  POST /v1/completions  POST /v1/responses\n"
"  POST /v1/messages (Anthropic)  POST /v1/embeddings  GET /v1/models[/ID]\n"
"  \"stream\":true answers SSE (one event per HTTP chunk); chat and completions\n"
"  add a usage chunk (empty choices) before [DONE] with\n"
"  \"stream_options\":{\"include_usage\":true}; messages streams message_start,\n"
"  content_block_start, content_block_delta.., content_block_stop,\n"
"  message_delta, message_stop.\n"
"  GET /health          200 {\"status\":\"ok\"}, or 503 when down\n"
"  GET /stats           counters as JSON (see below)\n"
"  POST /admin/health?state=up|down   POST /admin/fault (body: SPEC, empty clears)\n"
"  POST /admin/reset    zero the counters\n"
"  Errors use the API's shape: {\"error\":{\"message\",\"type\",\"param\",\"code\"}},\n"
"  Anthropic's {\"type\":\"error\",\"error\":{..}} on /v1/messages. Bad JSON: 400.\n"
"\n"
"REPLIES (deterministic: a function of the request alone)\n"
"  default   \"echo:\" and the words of the last user message, one space apart,\n"
"            cut at the request's max_tokens/max_completion_tokens/\n"
"            max_output_tokens (finish_reason \"length\")\n"
"  --tokens  \"tok1 .. tokN\"\n"
"  --echo    the request body, byte for byte\n"
"  A token is a word with the whitespace before it: stream deltas concatenate\n"
"  to the whole text. prompt_tokens: whitespace-separated words of every\n"
"  message, system, prompt, input and instructions text; completion_tokens:\n"
"  tokens of the reply. Embeddings: unit vectors seeded by the input's hash.\n"
"\n"
"PER-REQUEST HEADERS (the flags' names)\n"
"  x-mock-fault: SPEC  (over --fault; \"none\" drops it)   x-mock-echo: 1\n"
"  x-mock-tokens: N    x-mock-token-interval: DURATION\n"
"\n"
"FAULTS (SPEC: terms separated by ',' ';' or spaces; /v1 paths only)\n"
"  delay=D              wait D before the status line\n"
"  status=N             answer N with an error body in the API's shape\n"
"  reset|hang|close     before any byte: TCP RST, no answer ever, or FIN\n"
"  reset-after=N, hang-after=N, close-after=N\n"
"                       the same after N token events of a stream, or N body\n"
"                       bytes of a whole response\n"
"  drip=D[/B]           write the response B bytes (default 1) every D\n"
"  DURATION: <decimal><unit>, units ns us ms s m (\"0\" needs none).\n"
"\n"
"STATS  GET /stats (/stats and /admin are not counted as requests)\n"
"  {\"uptime_ms\",\"threads\",\"health\",\"fault\",\"last_request\":{method,target,\n"
"   version,headers:[[name,value]..],body,body_bytes}|null,\n"
"   \"requests\":{total,in_flight,aborted,faults,bad,by_path:{..},by_status:{..}},\n"
"   \"connections\":{accepted,closed,open},\"streams\":{started,completed,aborted},\n"
"   \"bytes\":{received,sent}}\n"
"  aborted: responses the client left before their end (streams.aborted: of\n"
"  started streams). last_request is kept with --echo or x-mock-echo.\n"
"\n"
"SIGTERM and SIGINT stop it cleanly.\n";

/* Help column wrapped at 100 columns under its own indent. */
static void usage(FILE *f)
{
	const int col = 33, width = 100;
	const char *h, *end;
	char left[64];
	size_t i;
	int room;

	fprintf(f, "Usage: mockllm --listen ADDR:PORT [OPTIONS]\n"
		   "An OpenAI- and Anthropic-compatible model server for tests and benchmarks.\n\n"
		   "OPTIONS\n");
	for (i = 0; i < NOPTS; i++) {
		snprintf(left, sizeof(left), "%s%c%s--%s%s%s", opts[i].val < 256 ? "-" : " ",
			 opts[i].val < 256 ? opts[i].val : ' ', opts[i].val < 256 ? ", " : "  ",
			 opts[i].name, opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-*s", col - 2, left);
		for (h = opts[i].help; *h; h = end) {
			room = width - col;
			end = h + strlen(h);
			if (end - h > room) {
				end = h + room;
				while (end > h && *end != ' ' && *end != ',')
					end--;
				if (end == h)
					end = h + room;
				else if (*end == ',')
					end++;
			}
			fprintf(f, "%.*s\n", (int)(end - h), h);
			while (*end == ' ')
				end++;
			if (*end)
				fprintf(f, "%*s", col, "");
		}
	}
	fputs(help_tail, f);
}

static const char *opt_name(int val)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].val == val)
			return opts[i].name;
	return "?";
}

/* "1.2.3.4:80", "[::1]:80", "localhost:80" */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256];
	const char *colon, *h = s;
	size_t hlen;
	int err;

	if (*s == '[') {
		colon = strchr(s, ']');
		if (!colon || colon[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = colon - h;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = colon - s;
	}
	if (!hlen || hlen >= sizeof(host) || !colon[1])
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	err = getaddrinfo(host, colon + 1, &hints, &res);
	if (err)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static char *addr_str(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(out, n, "?");
	else
		snprintf(out, n, ss->ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
	return out;
}

/* A listening socket on *ss; a port 0 there is replaced by the one the kernel chose. */
static int listen_on(struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)ss, len) == -1 || listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, &len) == -1) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int split_list(const char *s, char ***out, int *n, bool lower)
{
	char *copy = xstrndup(s, strlen(s)), *tok, *save = NULL, *p;

	*n = 0;
	*out = NULL;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (lower)
			for (p = tok; *p; p++)
				*p = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = xstrndup(tok, strlen(tok));
	}
	free(copy);
	return *n ? 0 : -EINVAL;
}

static void free_list(char **l, int n)
{
	while (n--)
		free(l[n]);
	free(l);
}

static int cpu_count(void)
{
	cpu_set_t set;

	if (!sched_getaffinity(0, sizeof(set), &set))
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

/* Options into srv.conf; 0, 1 for --help, or -EINVAL after saying why. */
static int parse_args(int argc, char **argv)
{
	struct option lo[NOPTS + 1] = {};
	struct mock_conf *cf = &srv.conf;
	char shorts[2 * NOPTS + 1], *p = shorts, err[200];
	const char *bad = NULL;
	uint64_t v;
	size_t i;
	int c;

	for (i = 0; i < NOPTS; i++) {
		lo[i] = (struct option){ opts[i].name, opts[i].arg ? required_argument : no_argument,
					 NULL, opts[i].val };
		if (opts[i].val < 256) {
			*p++ = opts[i].val;
			if (opts[i].arg)
				*p++ = ':';
		}
	}
	*p = '\0';

	cf->embed_dims = 8;
	cf->max_body = 16 << 20;
	while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (cf->nlisten == MOCK_MAX_LISTEN) {
				fprintf(stderr, "mockllm: --listen: at most %d\n", MOCK_MAX_LISTEN);
				return -EINVAL;
			}
			if (parse_listen(optarg, &cf->listen[cf->nlisten], &cf->listen_len[cf->nlisten])) {
				fprintf(stderr, "mockllm: --listen '%s': expected ADDR:PORT or [V6ADDR]:PORT\n",
					optarg);
				return -EINVAL;
			}
			cf->nlisten++;
			break;
		case 't':
			if (mock_uint(optarg, strlen(optarg), 1024, &v) || !v)
				bad = "expected 1-1024";
			cf->threads = v;
			break;
		case O_PORT_FILE:
			cf->port_file = optarg;
			break;
		case 'm':
			free_list(cf->models, cf->nmodels);
			if (split_list(optarg, &cf->models, &cf->nmodels, false))
				bad = "expected model names separated by commas";
			break;
		case 'e':
			cf->echo = true;
			break;
		case O_ECHO_HEADERS:
			free_list(cf->echo_hdrs, cf->n_echo_hdrs);
			cf->echo_hdrs = NULL;
			cf->n_echo_hdrs = 0;
			cf->echo_all = !strcmp(optarg, "*");
			if (!cf->echo_all && *optarg)
				split_list(optarg, &cf->echo_hdrs, &cf->n_echo_hdrs, true);
			break;
		case 'n':
		case O_STREAM_TOKENS:
			if (mock_uint(optarg, strlen(optarg), MOCK_MAX_TOKENS, &v))
				bad = "expected a token count (0-1048576)";
			cf->tokens = v;
			break;
		case 'i':
			if (mock_duration(optarg, strlen(optarg), &cf->token_interval_ns))
				bad = "expected a duration such as 5ms";
			break;
		case O_DIMS:
			if (mock_uint(optarg, strlen(optarg), 65536, &v) || !v)
				bad = "expected 1-65536";
			cf->embed_dims = v;
			break;
		case 'f':
			if (fault_parse(optarg, strlen(optarg), &cf->fault, err, sizeof(err))) {
				fprintf(stderr, "mockllm: --fault: %s\n", err);
				return -EINVAL;
			}
			break;
		case O_FAIL_HEALTH:
			cf->fail_health = true;
			break;
		case O_MAX_BODY:
			if (mock_uint(optarg, strlen(optarg), 1ULL << 32, &v) || !v)
				bad = "expected a byte count (1-4294967296)";
			cf->max_body = v;
			break;
		case O_IDLE:
			if (mock_duration(optarg, strlen(optarg), &cf->idle_ns))
				bad = "expected a duration such as 30s";
			break;
		case 'v':
			cf->verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, "Try 'mockllm --help'.\n");
			return -EINVAL;
		}
		if (bad) {
			fprintf(stderr, "mockllm: --%s '%s': %s\n", opt_name(c), optarg, bad);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mockllm: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!cf->nlisten) {
		fprintf(stderr, "mockllm: --listen ADDR:PORT is required (see --help)\n");
		return -EINVAL;
	}
	if (!cf->threads)
		cf->threads = cpu_count() > 0 ? cpu_count() : 1;
	if (!cf->models)
		split_list("mock-model", &cf->models, &cf->nmodels, false);
	if (!cf->echo_hdrs && !cf->echo_all)
		split_list(DEFAULT_ECHO_HEADERS, &cf->echo_hdrs, &cf->n_echo_hdrs, true);
	return 0;
}

static int write_port_file(const char *path, const struct sockaddr_storage *ss)
{
	char tmp[4096];
	FILE *f;
	int port = ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port :
						     ((const struct sockaddr_in *)ss)->sin_port);

	/* written whole then renamed: a waiting test never reads half a number */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", port);
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct mock_conf *cf = &srv.conf;
	int lfds[MOCK_MAX_LISTEN], i, k, ninit = 0, nstarted = 0, err, sig, ret = 1;
	char addr[INET6_ADDRSTRLEN + 16];
	sigset_t sigs;

	err = parse_args(argc, argv);
	if (err)
		return err > 0 ? 0 : 2;

	srv.start_ns = mono_ns();
	srv.health_down = cf->fail_health;
	srv.fault = cf->fault;
	srv.fault_gen = 1;
	raise_nofile();

	/* Workers inherit this mask: only main receives SIGINT/SIGTERM, via sigwait(). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	srv.nworkers = cf->threads;
	srv.workers = xcalloc(srv.nworkers, sizeof(*srv.workers));
	for (i = 0; i < srv.nworkers; i++) {
		for (k = 0; k < cf->nlisten; k++) {
			lfds[k] = listen_on(&cf->listen[k], cf->listen_len[k]);
			if (lfds[k] < 0) {
				fprintf(stderr, "mockllm: listen %s: %s\n",
					addr_str(&cf->listen[k], cf->listen_len[k], addr, sizeof(addr)),
					strerror(-lfds[k]));
				while (k--)
					close(lfds[k]);
				goto out_workers;
			}
		}
		err = worker_init(&srv.workers[i], i, lfds, cf->nlisten);
		ninit++;
		if (err) {
			fprintf(stderr, "mockllm: worker %d: %s\n", i, strerror(-err));
			goto out_workers;
		}
	}
	for (i = 0; i < srv.nworkers; i++, nstarted++) {
		err = worker_start(&srv.workers[i]);
		if (err) {
			fprintf(stderr, "mockllm: worker %d: pthread_create: %s\n", i, strerror(-err));
			goto out_stop;
		}
	}
	if (cf->port_file) {
		err = write_port_file(cf->port_file, &cf->listen[0]);
		if (err) {
			fprintf(stderr, "mockllm: --port-file %s: %s\n", cf->port_file, strerror(-err));
			goto out_stop;
		}
	}
	for (k = 0; k < cf->nlisten; k++)
		fprintf(stderr, "mockllm: listening on %s (%d thread%s)\n",
			addr_str(&cf->listen[k], cf->listen_len[k], addr, sizeof(addr)), srv.nworkers,
			srv.nworkers == 1 ? "" : "s");

	do
		err = sigwait(&sigs, &sig);
	while (err == EINTR);
	if (cf->verbose)
		fprintf(stderr, "mockllm: %s, stopping\n", strsignal(sig));
	ret = 0;

out_stop:
	for (i = 0; i < nstarted; i++)
		worker_stop(&srv.workers[i]);
out_workers:
	for (i = 0; i < ninit; i++)
		worker_fini(&srv.workers[i]);
	free(srv.workers);
	cJSON_Delete(srv.last);
	free_list(cf->models, cf->nmodels);
	free_list(cf->echo_hdrs, cf->n_echo_hdrs);
	return ret;
}
