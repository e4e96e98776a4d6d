// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * proxyproto: pp_parse() on any bytes and on their prefixes, each in a
 * buffer of exactly its length. Checked against proxyproto.h: a prefix
 * gives 0 up to the byte that decides, and from there on the answer of
 * the whole, the same reason with it; a header taken is never longer
 * than the bytes nor than its version allows, and reads nothing past
 * itself (the same info whatever follows it); addresses are v4 or v6,
 * or none when local.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>

#include "gw/proxyproto.h"
#include "fuzz.h"

/* every prefix of short inputs; of longer ones, these many spread over them */
#define ALL_PREFIXES	300
#define SOME_PREFIXES	64

struct answer {
	int ret;
	const char *why;
	struct pp_info info;
};

static void parse(const uint8_t *p, size_t n, struct answer *a)
{
	char *b = fuzz_dup(p, n);

	memset(a, 0, sizeof(*a));
	a->ret = pp_parse(b, n, &a->info, &a->why);
	free(b);
}

static void check_info(const struct pp_info *info)
{
	static const struct sockaddr_storage zero;

	if (info->local) {
		CHECK(!memcmp(&info->src, &zero, sizeof(zero)) &&
		      !memcmp(&info->dst, &zero, sizeof(zero)));
		return;
	}
	CHECK(info->src.ss_family == AF_INET || info->src.ss_family == AF_INET6);
	CHECK(info->dst.ss_family == info->src.ss_family);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct answer whole, pre;
	bool decided = false;
	size_t n, step;

	parse(data, size, &whole);
	CHECK(whole.ret >= 0 || whole.ret == -EPROTO || whole.ret == -EINVAL ||
	      whole.ret == -E2BIG);
	if (whole.ret < 0)
		CHECK(whole.why);
	if (whole.ret > 0) {
		CHECK((size_t)whole.ret <= size && whole.ret <= PP_MAX_HEADER);
		if (data[0] == 'P')
			CHECK(whole.ret <= 107);
		check_info(&whole.info);
	}

	step = size <= ALL_PREFIXES ? 1 : size / SOME_PREFIXES;
	for (n = 0; n <= size; n += step) {
		parse(data, n, &pre);
		if (!pre.ret) {
			/* a valid prefix, until the byte that decides */
			CHECK(!decided && (whole.ret <= 0 || n < (size_t)whole.ret));
			continue;
		}
		decided = true;
		CHECK(pre.ret == whole.ret);
		if (pre.ret < 0)
			CHECK(!strcmp(pre.why, whole.why));
		else
			CHECK(n >= (size_t)pre.ret && !memcmp(&pre.info, &whole.info, sizeof(pre.info)));
	}
	/* the header alone is the same header */
	if (whole.ret > 0) {
		parse(data, whole.ret, &pre);
		CHECK(pre.ret == whole.ret && !memcmp(&pre.info, &whole.info, sizeof(pre.info)));
	}
	return 0;
}
