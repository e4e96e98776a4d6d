// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sluice_xdp.skel.h"
#include "dataplane.h"
#include "log.h"

#define BPFFS	"/sys/fs/bpf"

const char *const dp_map_names[DP_NR_MAPS] = {
	[DP_ALLOW_V4] = "allow_v4",	[DP_ALLOW_V6] = "allow_v6",
	[DP_BLOCK_V4] = "block_v4",	[DP_BLOCK_V6] = "block_v6",
	[DP_THROTTLE_V4] = "throttle_v4", [DP_THROTTLE_V6] = "throttle_v6",
	[DP_LIMITS_V4] = "limits_v4",	[DP_LIMITS_V6] = "limits_v6",
	[DP_BUCKETS] = "buckets",	[DP_CPUSTATE] = "cpustate",
	[DP_STATS] = "stats",		[DP_TOP] = "top",
	[DP_EVENTS] = "events",		[DP_CONFIG] = "config",
	[DP_IFACES] = "ifaces",
};

/*
 * Where the maps are pinned: SLUICE_PIN_ROOT from the environment (tests
 * use their own, so they never touch an operator's lists) or the default.
 */
static char pin_root[192], pin_dir[224];

const char *dp_pin_dir(void)
{
	const char *env;

	if (!pin_dir[0]) {
		env = getenv("SLUICE_PIN_ROOT");
		snprintf(pin_root, sizeof(pin_root), "%s", env && *env ? env : SLUICE_PIN_ROOT);
		snprintf(pin_dir, sizeof(pin_dir), "%s/v%d", pin_root, SLUICE_ABI_VERSION);
	}
	return pin_dir;
}

static const char *dp_pin_root(void)
{
	dp_pin_dir();
	return pin_root;
}

int bpffs_ensure(void)
{
	struct statfs st;
	int err;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700") == -1) {
		err = -errno;
		log_err("cannot mount bpffs at %s: %s", BPFFS, strerror(-err));
		return err;
	}
	return 0;
}

void dp_config_defaults(struct sluice_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->magic = SLUICE_CONFIG_MAGIC;
	cfg->v6_prefix = 64;
	cfg->new_source_cap = 10000;
	cfg->limits_gen = 1;
}

int dp_config_get(struct dataplane *dp, struct sluice_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->fd[DP_CONFIG], &zero, cfg))
		return -errno;
	return 0;
}

int dp_config_put(struct dataplane *dp, const struct sluice_config *cfg)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(dp->fd[DP_CONFIG], &zero, cfg, BPF_ANY))
		return -errno;
	return 0;
}

static const struct {
	enum dp_map map;
	__u32 bit;
} present_maps[] = {
	{ DP_ALLOW_V4, SLUICE_P_ALLOW_V4 },	{ DP_ALLOW_V6, SLUICE_P_ALLOW_V6 },
	{ DP_BLOCK_V4, SLUICE_P_BLOCK_V4 },	{ DP_BLOCK_V6, SLUICE_P_BLOCK_V6 },
	{ DP_THROTTLE_V4, SLUICE_P_THROTTLE_V4 }, { DP_THROTTLE_V6, SLUICE_P_THROTTLE_V6 },
};

static int present_write(struct dataplane *dp, __u32 present)
{
	struct sluice_config cfg;
	int err = dp_config_get(dp, &cfg);

	if (err)
		return err;
	dp->present = present;
	if (cfg.present == present)
		return 0;
	cfg.present = present;
	return dp_config_put(dp, &cfg);
}

int dp_present_mark(struct dataplane *dp, __u32 bit)
{
	if (dp->present & bit)
		return 0;
	return present_write(dp, dp->present | bit);
}

int dp_present_sync(struct dataplane *dp)
{
	char key[64];
	__u32 present = 0;

	for (size_t i = 0; i < sizeof(present_maps) / sizeof(present_maps[0]); i++)
		if (bpf_map_get_next_key(dp->fd[present_maps[i].map], NULL, key) == 0)
			present |= present_maps[i].bit;
	return present_write(dp, present);
}

static int open_pins(struct dataplane *dp)
{
	char path[256];
	int i, err;

	for (i = 0; i < DP_NR_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), dp_map_names[i]);
		dp->fd[i] = bpf_obj_get(path);
		if (dp->fd[i] < 0) {
			err = -errno;
			dp->fd[i] = -1;
			return err;
		}
	}
	return 0;
}

/* Loading the object once creates and pins every map (LIBBPF_PIN_BY_NAME). */
static int create_pins(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = dp_pin_dir());
	struct sluice_xdp *skel;
	int err;

	if (mkdir(dp_pin_dir(), 0700) == -1 && errno != EEXIST)
		return -errno;
	skel = sluice_xdp__open_opts(&opts);
	if (!skel)
		return -errno;
	log_clear_lib_warning();
	err = sluice_xdp__load(skel);
	if (err)
		log_err("cannot create the maps in %s: %s (%s)", dp_pin_dir(),
			strerror(-err), log_last_lib_warning());
	sluice_xdp__destroy(skel);
	return err;
}

int dataplane_open(struct dataplane *dp, unsigned int flags)
{
	struct sluice_config cfg;
	int err, i;

	memset(dp, 0, sizeof(*dp));
	dp->lock_fd = -1;
	for (i = 0; i < DP_NR_MAPS; i++)
		dp->fd[i] = -1;
	dp->ncpus = libbpf_num_possible_cpus();
	if (dp->ncpus < 0)
		return dp->ncpus;

	if (geteuid() != 0)
		return -EPERM;
	err = bpffs_ensure();
	if (err)
		return err;
	if (mkdir(dp_pin_root(), 0700) == -1 && errno != EEXIST)
		return -errno;

	dp->lock_fd = open(dp_pin_root(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dp->lock_fd == -1)
		return -errno;
	if (flock(dp->lock_fd, LOCK_EX) == -1) {
		err = -errno;
		goto out_close;
	}

	err = open_pins(dp);
	if (err == -ENOENT && !(flags & DP_NOCREATE)) {
		for (i = 0; i < DP_NR_MAPS; i++)
			if (dp->fd[i] >= 0)
				close(dp->fd[i]), dp->fd[i] = -1;
		err = create_pins();
		if (!err)
			err = open_pins(dp);
	}
	if (err)
		goto out_close;

	err = dp_config_get(dp, &cfg);
	if (!err && cfg.magic != SLUICE_CONFIG_MAGIC) {
		dp_config_defaults(&cfg);
		err = dp_config_put(dp, &cfg);
	}
	/* Under the lock: whatever wrote the maps before, the hints match them now */
	if (!err)
		err = dp_present_sync(dp);
	if (err)
		goto out_close;

	if (!(flags & DP_LOCK))
		flock(dp->lock_fd, LOCK_UN);
	return 0;

out_close:
	dataplane_close(dp);
	return err;
}

void dataplane_close(struct dataplane *dp)
{
	for (int i = 0; i < DP_NR_MAPS; i++) {
		if (dp->fd[i] >= 0)
			close(dp->fd[i]);
		dp->fd[i] = -1;
	}
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);	/* releases the flock */
	dp->lock_fd = -1;
}

int dataplane_unpin(void)
{
	char path[256];
	int err = 0;

	for (int i = 0; i < DP_NR_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dp_pin_dir(), dp_map_names[i]);
		if (unlink(path) == -1 && errno != ENOENT && !err)
			err = -errno;
	}
	if (rmdir(dp_pin_dir()) == -1 && errno != ENOENT && !err)
		err = -errno;
	/* The root goes too when nothing else (another ABI version) is in it */
	if (!err && strcmp(dp_pin_root(), SLUICE_PIN_ROOT))
		rmdir(dp_pin_root());
	return err;
}
