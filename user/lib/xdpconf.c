// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "number.h"
#include "xdpconf.h"

const struct xdpconf_key xdpconf_keys[] = {
	{ "dry-run", XC_BOOL, "on|off", "count what would be dropped, drop nothing",
	  .flag = SLUICE_F_DRY_RUN },
	{ "fail-open", XC_BOOL, "on|off", "pass malformed frames instead of dropping them",
	  .flag = SLUICE_F_FAIL_OPEN },
	{ "ports", XC_PORTS, "PORT[-PORT][,...]|none",
	  "destination ports the per-source limits apply to (none: all traffic)" },
	{ "ipv6-prefix", XC_UINT, "1-128", "prefix length that identifies one IPv6 source",
	  .off = offsetof(struct sluice_config, v6_prefix), .min = 1, .max = 128 },
	{ "new-source-cap", XC_UINT, "0-100000000",
	  "new sources tracked per CPU per second (0: no cap); the rest share one bucket",
	  .off = offsetof(struct sluice_config, new_source_cap), .min = 0, .max = 100000000 },
};
const size_t xdpconf_nkeys = sizeof(xdpconf_keys) / sizeof(xdpconf_keys[0]);

const struct xdpconf_key *xdpconf_find(const char *name)
{
	const struct xdpconf_key *hit = NULL;
	size_t n = strlen(name);

	for (size_t i = 0; i < xdpconf_nkeys; i++) {
		if (!strcmp(xdpconf_keys[i].name, name))
			return &xdpconf_keys[i];
		if (n && !strncmp(xdpconf_keys[i].name, name, n)) {
			if (hit)
				return NULL;
			hit = &xdpconf_keys[i];
		}
	}
	return hit;
}

static __u32 *uint_field(struct sluice_config *cfg, const struct xdpconf_key *k)
{
	return (__u32 *)((char *)cfg + k->off);
}

__u32 xdpconf_get(const struct sluice_config *cfg, const struct xdpconf_key *k)
{
	if (k->type == XC_BOOL)
		return !!(cfg->flags & k->flag);
	if (k->type == XC_UINT)
		return *uint_field((struct sluice_config *)cfg, k);
	return cfg->nr_ports;
}

int xdpconf_parse_ports(struct sluice_config *cfg, const char *val, const char **why)
{
	__u64 ports[SLUICE_PORT_WORDS] = {};
	char buf[1024], *tok, *save, *dash;
	__u32 lo, hi, n = 0;

	if (!strcmp(val, "none")) {
		memset(cfg->ports, 0, sizeof(cfg->ports));
		cfg->nr_ports = 0;
		return 0;
	}
	if (strlen(val) >= sizeof(buf)) {
		*why = "list too long";
		return -EINVAL;
	}
	strcpy(buf, val);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (parse_u32(tok, 1, 65535, &lo) ||
		    (dash ? parse_u32(dash + 1, 1, 65535, &hi) : (hi = lo, 0))) {
			*why = "expected ports 1-65535 as PORT or PORT-PORT, comma-separated, or none";
			return -EINVAL;
		}
		if (hi < lo) {
			*why = "port range ends before it starts";
			return -ERANGE;
		}
		for (__u32 p = lo; p <= hi; p++) {
			if (!(ports[p >> 6] & (1ULL << (p & 63))))
				n++;
			ports[p >> 6] |= 1ULL << (p & 63);
		}
	}
	if (!n) {
		*why = "no port given (use none to clear)";
		return -EINVAL;
	}
	memcpy(cfg->ports, ports, sizeof(ports));
	cfg->nr_ports = n;
	return 0;
}

int xdpconf_set(struct sluice_config *cfg, const struct xdpconf_key *k, const char *val,
		const char **why)
{
	__u32 v;
	int err;

	switch (k->type) {
	case XC_BOOL:
		if (!strcmp(val, "on") || !strcmp(val, "true") || !strcmp(val, "1"))
			cfg->flags |= k->flag;
		else if (!strcmp(val, "off") || !strcmp(val, "false") || !strcmp(val, "0"))
			cfg->flags &= ~k->flag;
		else {
			*why = "expected on or off";
			return -EINVAL;
		}
		return 0;
	case XC_UINT:
		err = parse_u32(val, k->min, k->max, &v);
		if (err) {
			*why = err == -ERANGE ? "out of range" : "expected a decimal number";
			return err;
		}
		*uint_field(cfg, k) = v;
		return 0;
	case XC_PORTS:
		return xdpconf_parse_ports(cfg, val, why);
	}
	return -EINVAL;
}

size_t xdpconf_ports(const struct sluice_config *cfg, __u16 *out, size_t max)
{
	size_t n = 0;

	for (__u32 p = 1; p < 65536 && n < max; p++)
		if (cfg->ports[p >> 6] & (1ULL << (p & 63)))
			out[n++] = p;
	return n;
}

/* Ports as ranges: "443,8000-8010". Truncated with "..." if buf is short. */
static void format_ports(const struct sluice_config *cfg, char *buf, size_t len)
{
	size_t off = 0;
	__u32 p = 1;

	buf[0] = '\0';
	if (!cfg->nr_ports) {
		snprintf(buf, len, "none");
		return;
	}
	while (p < 65536) {
		__u32 lo, hi;
		int w;

		if (!(cfg->ports[p >> 6] & (1ULL << (p & 63)))) {
			p++;
			continue;
		}
		lo = hi = p;
		while (hi + 1 < 65536 && (cfg->ports[(hi + 1) >> 6] & (1ULL << ((hi + 1) & 63))))
			hi++;
		w = lo == hi ? snprintf(buf + off, len - off, "%s%u", off ? "," : "", lo)
			     : snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "", lo, hi);
		if (w < 0 || (size_t)w >= len - off) {
			if (len > 4)
				strcpy(buf + len - 4, "...");
			return;
		}
		off += w;
		p = hi + 1;
	}
}

char *xdpconf_format(const struct sluice_config *cfg, const struct xdpconf_key *k,
		     char *buf, size_t len)
{
	switch (k->type) {
	case XC_BOOL:
		snprintf(buf, len, "%s", xdpconf_get(cfg, k) ? "on" : "off");
		break;
	case XC_UINT:
		snprintf(buf, len, "%u", xdpconf_get(cfg, k));
		break;
	case XC_PORTS:
		format_ports(cfg, buf, len);
		break;
	}
	return buf;
}
