// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * inspect: request bodies walked, scanned, judged and masked under one
 * config (built once, below), byte 0 choosing the route, the context's
 * flags and whether an answer is judged too: the bytes after the first
 * NUL, as an upstream's body that is not JSON can hold any byte (without
 * a NUL, the body itself). Checked against inspect.h:
 *
 *   - the result is 0 or a documented refusal; a blocked request is not
 *     printed again; a body printed again is JSON, and so is it with its
 *     placeholders restored (JSON-escaped);
 *   - placeholders restore exactly: on the routes that mask only with
 *     placeholders, insp_restore() of the masked text gives the text of
 *     route "plain" (which masks nothing), when the text holds no '['
 *     that could spell a placeholder itself;
 *   - an answer releases no more than the window allows, never cuts a
 *     UTF-8 character, and releases all when final.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cjson/cJSON.h>

#include "gw/config.h"
#include "gw/detect.h"
#include "gw/inspect.h"
#include "fuzz.h"

/* routes, in the order of the config */
enum { R_CHAT, R_MESSAGES, R_HASH, R_PARTIAL, R_PLAIN, R_N };

static const char config[] =
	"{ \"listeners\": [ { \"name\": \"l\", \"address\": \"127.0.0.1:1\" } ],\n"
	"  \"pools\": { \"cloud\": { \"backends\": [ { \"url\": \"http://127.0.0.1:2\" } ] },\n"
	"             \"onprem\": { \"backends\": [ { \"url\": \"http://127.0.0.1:3\" } ] } },\n"
	"  \"routes\": [\n"
	"    { \"name\": \"chat\", \"match\": { \"path\": \"/v1/chat/completions\" },\n"
	"      \"pool\": \"cloud\", \"api\": \"openai\" },\n"
	"    { \"name\": \"messages\", \"match\": { \"path\": \"/v1/messages\" },\n"
	"      \"pool\": \"cloud\", \"api\": \"anthropic\" },\n"
	"    { \"name\": \"hash\", \"match\": { \"path\": \"/v1/embeddings\" }, \"pool\": \"cloud\" },\n"
	"    { \"name\": \"partial\", \"match\": { \"path\": \"/v1/responses\" }, \"pool\": \"cloud\" },\n"
	"    { \"name\": \"plain\", \"pool\": \"cloud\" } ],\n"
	"  \"inspect\": {\n"
	"    \"max_depth\": 32, \"max_pieces\": 256, \"max_text_bytes\": \"2KiB\",\n"
	"    \"response_window\": 32,\n"
	"    \"pattern_sets\": [\n"
	"      { \"name\": \"inj\", \"patterns\": [ \"ignore\\\\s+(all\\\\s+)?previous\\\\s+instructions\",\n"
	"        \"reveal\\\\s+the\\\\s+system\\\\s+prompt\" ] },\n"
	"      { \"name\": \"code\", \"patterns\": [ \"Bluebird\", \"hydra-7\" ], \"literal\": true,\n"
	"        \"caseless\": false, \"whole_word\": true } ],\n"
	"    \"rules\": [\n"
	"      { \"name\": \"plain\", \"match\": { \"routes\": [ \"plain\" ] }, \"action\": \"allow\" },\n"
	"      { \"name\": \"trusted\", \"match\": { \"sources\": [ \"198.51.100.0/24\" ],\n"
	"        \"models\": [ \"batch-*\" ] }, \"action\": \"allow\" },\n"
	"      { \"name\": \"watch\", \"match\": { \"sets\": [ \"inj\" ] }, \"action\": \"block\",\n"
	"        \"monitor\": true },\n"
	"      { \"name\": \"inj\", \"match\": { \"sets\": [ \"inj\" ], \"roles\": [ \"user\", \"tool\" ],\n"
	"        \"routes\": [ \"hash\", \"partial\" ] }, \"action\": \"block\", \"status\": 422,\n"
	"        \"message\": \"no\" },\n"
	"      { \"name\": \"tag\", \"match\": { \"sets\": [ \"code\" ] }, \"action\": \"tag\",\n"
	"        \"tag\": \"internal\" },\n"
	"      { \"name\": \"home\", \"match\": { \"detectors\": [ \"ssn\", \"iban\" ],\n"
	"        \"routes\": [ \"messages\" ] }, \"action\": \"reroute\", \"pool\": \"onprem\" },\n"
	"      { \"name\": \"strike\", \"match\": { \"detectors\": [ \"email\" ], \"min_count\": 2 },\n"
	"        \"action\": \"escalate\" },\n"
	"      { \"name\": \"watch-ips\", \"match\": { \"detectors\": [ \"ipv4\", \"ipv6\" ] },\n"
	"        \"action\": \"mask\", \"mask\": { \"style\": \"partial\" }, \"monitor\": true },\n"
	"      { \"name\": \"ph\", \"match\": { \"routes\": [ \"chat\", \"messages\" ] },\n"
	"        \"action\": \"mask\", \"mask\": { \"style\": \"placeholder\", \"restore\": true } },\n"
	"      { \"name\": \"hash\", \"match\": { \"routes\": [ \"hash\" ],\n"
	"        \"detectors\": [ \"email\", \"card\", \"ssn\", \"phone\" ] }, \"action\": \"mask\",\n"
	"        \"mask\": { \"style\": \"hash\" } },\n"
	"      { \"name\": \"partial\", \"match\": { \"routes\": [ \"partial\" ],\n"
	"        \"roles\": [ \"user\", \"system\", \"tool\", \"tool_call\" ] }, \"action\": \"mask\",\n"
	"        \"mask\": { \"style\": \"partial\" } },\n"
	"      { \"name\": \"redact\", \"match\": { \"routes\": [ \"hash\", \"partial\" ] },\n"
	"        \"action\": \"mask\", \"mask\": { \"style\": \"redact\" } },\n"
	"      { \"name\": \"answer\", \"scope\": \"response\", \"match\": { \"detectors\": [\n"
	"        \"email\", \"aws_access_key\", \"github_token\", \"openai_key\", \"anthropic_key\",\n"
	"        \"jwt\", \"pem_private_key\" ] }, \"action\": \"mask\",\n"
	"        \"mask\": { \"style\": \"redact\" } },\n"
	"      { \"name\": \"answer-inj\", \"scope\": \"response\", \"match\": { \"sets\": [ \"inj\" ] },\n"
	"        \"action\": \"block\" } ] } }\n";

/* byte 0 */
#define M_ROUTE(m)	((m) & 7)	/* mod R_N */
#define M_NO_KEEP	0x08	/* without keep_masked (and so without the restore check) */
#define M_HASH		0x10	/* hash_prompt */
#define M_TRUSTED	0x20	/* model and peer the "trusted" rule allows */
#define M_ANSWER	0x40	/* the bytes judged again as an answer */
#define M_FINAL		0x80	/* ... the whole of it */

static struct gw_config *cfg;
static struct detect_db db;
static struct detect_scan scan;
static unsigned char key[INSP_HASH_KEY];
static struct sockaddr_storage peer, trusted_peer;

static void peer4(struct sockaddr_storage *ss, uint32_t addr)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(addr);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/sluice-fuzz-inspect-XXXXXX", err[CFG_ERR_LEN];
	int fd = mkstemp(path);

	(void)argc;
	(void)argv;
	CHECK(fd >= 0);
	CHECK(write(fd, config, sizeof(config) - 1) == (ssize_t)sizeof(config) - 1);
	close(fd);
	cfg = config_load(path, err, sizeof(err));
	unlink(path);
	if (!cfg) {
		fprintf(stderr, "fuzz_inspect: config: %s\n", err);
		abort();
	}
	CHECK(cfg->nroutes == R_N);
	if (detect_compile(&db, &cfg->inspect, err, sizeof(err))) {
		fprintf(stderr, "fuzz_inspect: compile: %s\n", err);
		abort();
	}
	CHECK(!detect_scan_init(&scan, &db));
	memset(key, 7, sizeof(key));
	peer4(&peer, 0xcb007105);		/* 203.0.113.5 */
	peer4(&trusted_peer, 0xc6336405);	/* 198.51.100.5 */
	return 0;
}

static void check_json(const char *s, size_t n)
{
	cJSON *root = cJSON_ParseWithLength(s, n);

	CHECK(root);
	cJSON_Delete(root);
}

static void check_result(const struct inspection *in, int ret)
{
	char *r;
	size_t n;

	CHECK(ret == 0 || ret == -EINVAL || ret == -E2BIG || ret == -EMSGSIZE);
	if (ret)
		return;
	for (unsigned int k = 0; k < PII_NKINDS; k++)
		CHECK(in->masked[k] <= in->counts[k]);
	if (in->decision == DEC_BLOCKED)
		CHECK(in->block_rule >= 0 && !in->body);
	if (!in->body)
		return;
	CHECK(in->body_len == strlen(in->body));
	check_json(in->body, in->body_len);
	r = insp_restore(in, in->body, in->body_len, true, &n);
	if (r)
		check_json(r, n);
	free(r);
}

/* the masked text, placeholders restored, is the text of route plain */
static void check_restore(const struct insp_ctx *ctx, const struct inspection *in,
			  const char *body, size_t len)
{
	struct insp_ctx plain_ctx = *ctx;
	struct inspection plain;
	const char *orig, *masked;
	char *r;
	size_t n;

	plain_ctx.route = R_PLAIN;
	CHECK(inspect_request(&plain_ctx, body, len, &plain) == 0);
	CHECK(!plain.body && plain.decision == DEC_ALLOWED);
	/* no pieces, no text */
	orig = plain.masked_text ? plain.masked_text : "";
	masked = in->masked_text ? in->masked_text : "";
	if (!memchr(orig, '[', plain.masked_len)) {
		r = insp_restore(in, masked, in->masked_len, false, &n);
		if (r)
			CHECK(n == plain.masked_len && !memcmp(r, orig, n));
		else
			CHECK(in->masked_len == plain.masked_len &&
			      !memcmp(masked, orig, plain.masked_len));
		free(r);
	}
	inspection_free(&plain);
}

static void check_answer(const struct insp_ctx *ctx, struct inspection *in, const uint8_t *data,
			 size_t size, bool final)
{
	struct insp_ctx actx = *ctx;
	size_t window = cfg->inspect.response_window, upto, olen;
	char *text = fuzz_dup(data, size), *out;
	int ret;

	actx.answer = true;
	ret = inspect_answer(&actx, in, text, size, final, window, &upto, &out, &olen);
	CHECK(ret == 0 || ret == 1);
	if (ret == 1) {
		CHECK(in->decision == DEC_BLOCKED && in->answer_blocked && !out);
	} else {
		CHECK(upto <= size);
		if (final)
			CHECK(upto == size);
		else
			CHECK(upto <= (size > window ? size - window : 0));
		CHECK(!upto || upto == size || ((unsigned char)text[upto] & 0xc0) != 0x80);
		CHECK(!out || olen);
	}
	free(out);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct insp_ctx ctx = {
		.cfg = &cfg->inspect, .db = &db, .scan = &scan, .key = key, .model = "gpt-4o",
		.peer = &peer,
	};
	struct inspection in;
	uint8_t mode;
	char *body;
	const uint8_t *answer;
	size_t alen;
	int ret;

	if (!size)
		return 0;
	mode = data[0];
	data++;
	size--;
	answer = memchr(data, '\0', size);
	if (answer) {
		alen = size - (answer + 1 - data);
		size = answer - data;
		answer++;
	} else {
		answer = data;
		alen = size;
	}
	ctx.route = M_ROUTE(mode) % R_N;
	ctx.keep_masked = !(mode & M_NO_KEEP);
	ctx.hash_prompt = mode & M_HASH;
	if (mode & M_TRUSTED) {
		ctx.model = "batch-7";
		ctx.peer = &trusted_peer;
	}
	ctx.body_len = size;

	body = fuzz_dup(data, size);
	ret = inspect_request(&ctx, body, size, &in);
	check_result(&in, ret);
	if (!ret && ctx.keep_masked && in.decision != DEC_BLOCKED &&
	    (ctx.route == R_CHAT || ctx.route == R_MESSAGES))
		check_restore(&ctx, &in, body, size);
	if (!ret && (mode & M_ANSWER))
		check_answer(&ctx, &in, answer, alen, mode & M_FINAL);
	inspection_free(&in);
	free(body);
	return 0;
}
