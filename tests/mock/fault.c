// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fault specs, as --fault, POST /admin/fault and the x-mock-fault header
 * take them: terms separated by ',', ';' or spaces.
 *
 *   delay=D          wait D before the status line
 *   status=N         answer N (200-599) with an error body in the API's shape
 *   reset | hang | close
 *                    before any byte: TCP RST, never answer, or FIN
 *   reset-after=N | hang-after=N | close-after=N
 *                    the same after N token events of a stream, or N body
 *                    bytes of a whole response (a shorter reply is not cut)
 *   drip=D[/B]       write the response B bytes (default 1) every D
 *   none             (header only) ignore the global fault for this request
 *
 * D is one <decimal><unit> term (ns us ms s m): a bare number is refused
 * rather than guessed at, except 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "mock.h"

static const struct {
	const char *name;
	uint64_t mul;
} units[] = {
	{ "ns", 1 },
	{ "us", NSEC_PER_USEC },
	{ "ms", NSEC_PER_MSEC },
	{ "s", NSEC_PER_SEC },
	{ "m", 60 * NSEC_PER_SEC },
};

int mock_uint(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (!n || n > 19)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (s[i] - '0');
	}
	if (x > max)
		return -ERANGE;
	*v = x;
	return 0;
}

int mock_duration(const char *s, size_t n, uint64_t *ns)
{
	uint64_t v;
	size_t i = 0, k;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	if (mock_uint(s, i, UINT64_MAX, &v))
		return -EINVAL;
	if (i == n)
		return v ? -EINVAL : (*ns = 0, 0);
	for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
		if (n - i != strlen(units[k].name) || memcmp(s + i, units[k].name, n - i))
			continue;
		if (v > UINT64_MAX / units[k].mul)
			return -ERANGE;
		*ns = v * units[k].mul;
		return 0;
	}
	return -EINVAL;
}

/* Largest unit that divides ns exactly, so a spec prints back as given. */
char *mock_duration_fmt(uint64_t ns, char *out, size_t len)
{
	int k;

	for (k = sizeof(units) / sizeof(units[0]) - 1; k > 0; k--)
		if (ns && ns % units[k].mul == 0)
			break;
	snprintf(out, len, "%" PRIu64 "%s", ns / units[k].mul, units[k].name);
	return out;
}

static const char *const cut_names[] = {
	[CUT_RESET] = "reset",
	[CUT_HANG] = "hang",
	[CUT_CLOSE] = "close",
};

static bool key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && !memcmp(k, name, klen);
}

static int fault_term(const char *k, size_t klen, const char *v, size_t vlen, bool has_v,
		      struct fault *f, const char **why)
{
	uint64_t x;
	int c;

	if (key_is(k, klen, "none") && !has_v) {
		f->set |= FAULT_NONE;
		return 0;
	}
	if (key_is(k, klen, "delay") && has_v) {
		*why = "expected a duration such as 200ms";
		f->set |= FAULT_DELAY;
		return mock_duration(v, vlen, &f->delay_ns);
	}
	if (key_is(k, klen, "status") && has_v) {
		*why = "expected a status code 200-599";
		if (mock_uint(v, vlen, 599, &x) || x < 200)
			return -EINVAL;
		f->status = x == 200 ? 0 : (int)x;
		f->set |= FAULT_STATUS;
		return 0;
	}
	if (key_is(k, klen, "drip") && has_v) {
		const char *slash = memchr(v, '/', vlen);
		size_t dlen = slash ? (size_t)(slash - v) : vlen;

		*why = "expected drip=DURATION[/BYTES], e.g. 10ms or 10ms/64";
		if (mock_duration(v, dlen, &f->drip_ns) || !f->drip_ns)
			return -EINVAL;
		f->drip_bytes = 1;
		if (slash) {
			if (mock_uint(slash + 1, vlen - dlen - 1, 1 << 20, &x) || !x)
				return -EINVAL;
			f->drip_bytes = x;
		}
		f->set |= FAULT_DRIP;
		return 0;
	}
	for (c = CUT_RESET; c <= CUT_CLOSE; c++) {
		size_t nlen = strlen(cut_names[c]);

		if (klen < nlen || memcmp(k, cut_names[c], nlen))
			continue;
		if (f->set & FAULT_CUT) {
			*why = "only one of reset, hang and close";
			return -EINVAL;
		}
		if (klen == nlen && !has_v) {
			f->cut_after = -1;
		} else if (key_is(k + nlen, klen - nlen, "-after") && has_v) {
			*why = "expected a count";
			if (mock_uint(v, vlen, INT64_MAX, &x))
				return -EINVAL;
			f->cut_after = x;
		} else {
			break;
		}
		f->cut = c;
		f->set |= FAULT_CUT;
		return 0;
	}
	*why = "unknown term (delay= status= reset[-after=] hang[-after=] close[-after=] drip= none)";
	return -EINVAL;
}

int fault_parse(const char *s, size_t n, struct fault *f, char *err, size_t errlen)
{
	size_t i = 0, start, klen;
	const char *why, *eq;

	memset(f, 0, sizeof(*f));
	for (;;) {
		while (i < n && (s[i] == ',' || s[i] == ';' || s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == n)
			return 0;
		start = i;
		while (i < n && s[i] != ',' && s[i] != ';' && s[i] != ' ' && s[i] != '\t')
			i++;
		eq = memchr(s + start, '=', i - start);
		klen = eq ? (size_t)(eq - s - start) : i - start;
		why = "";
		if (fault_term(s + start, klen, eq ? eq + 1 : NULL, eq ? (size_t)(s + i - eq - 1) : 0,
			       eq != NULL, f, &why)) {
			snprintf(err, errlen, "fault '%.*s': %s", (int)(i - start), s + start, why);
			return -EINVAL;
		}
	}
}

void fault_merge(struct fault *base, const struct fault *over)
{
	if (over->set & FAULT_NONE)
		memset(base, 0, sizeof(*base));
	if (over->set & FAULT_DELAY)
		base->delay_ns = over->delay_ns;
	if (over->set & FAULT_STATUS)
		base->status = over->status;
	if (over->set & FAULT_CUT) {
		base->cut = over->cut;
		base->cut_after = over->cut_after;
	}
	if (over->set & FAULT_DRIP) {
		base->drip_ns = over->drip_ns;
		base->drip_bytes = over->drip_bytes;
	}
	base->set |= over->set & ~FAULT_NONE;
}

bool fault_any(const struct fault *f)
{
	return f->delay_ns || f->status || f->cut || f->drip_ns;
}

char *fault_fmt(const struct fault *f, char *out, size_t len)
{
	char d[32];
	size_t n = 0;

#define FMT(...) (n += snprintf(out + n, n < len ? len - n : 0, __VA_ARGS__))
	out[0] = '\0';
	if (f->delay_ns)
		FMT(",delay=%s", mock_duration_fmt(f->delay_ns, d, sizeof(d)));
	if (f->status)
		FMT(",status=%d", f->status);
	if (f->cut && f->cut_after < 0)
		FMT(",%s", cut_names[f->cut]);
	else if (f->cut)
		FMT(",%s-after=%" PRId64, cut_names[f->cut], f->cut_after);
	if (f->drip_ns)
		FMT(",drip=%s/%u", mock_duration_fmt(f->drip_ns, d, sizeof(d)), f->drip_bytes);
#undef FMT
	if (n >= len)
		n = len - 1;
	if (n)
		memmove(out, out + 1, n);	/* drop the leading comma */
	return out;
}
