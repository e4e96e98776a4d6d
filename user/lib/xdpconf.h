/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The data plane's settings (`sluicectl config`, and the daemon's xdp
 * section) as one table: a row per key with its type, bounds and setter.
 */
#ifndef SLUICE_XDPCONF_H
#define SLUICE_XDPCONF_H

#include <stddef.h>
#include <sluice/abi.h>

enum xdpconf_type { XC_BOOL, XC_UINT, XC_PORTS };

struct xdpconf_key {
	const char *name;
	enum xdpconf_type type;
	const char *values;	/* what set accepts, for help and errors */
	const char *help;
	__u32 flag;		/* XC_BOOL: bit of cfg->flags */
	size_t off;		/* XC_UINT: offset of the __u32 in the config */
	__u32 min, max;
};

extern const struct xdpconf_key xdpconf_keys[];
extern const size_t xdpconf_nkeys;

/* Exact name, or a unique prefix; NULL if none or ambiguous. */
const struct xdpconf_key *xdpconf_find(const char *name);

/* Sets key from text; 0, or -EINVAL/-ERANGE with *why a static sentence. */
int xdpconf_set(struct sluice_config *cfg, const struct xdpconf_key *k, const char *val,
		const char **why);

/* XC_BOOL and XC_UINT: the value. */
__u32 xdpconf_get(const struct sluice_config *cfg, const struct xdpconf_key *k);

/* Text of the value as set accepts it ("on", "64", "443,8443", "none"). */
char *xdpconf_format(const struct sluice_config *cfg, const struct xdpconf_key *k,
		     char *buf, size_t len);

/* Protected ports in ascending order into out (up to max); returns the count. */
size_t xdpconf_ports(const struct sluice_config *cfg, __u16 *out, size_t max);

/* Parses "443,8443,9000-9010" or "none" into the bitmap; 0 or -EINVAL/-ERANGE. */
int xdpconf_parse_ports(struct sluice_config *cfg, const char *val, const char **why);

#endif
