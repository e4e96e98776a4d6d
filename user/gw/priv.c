// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Privileges: the held data plane and the drop to an unprivileged user (priv.h). */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include "gw/priv.h"

static struct dataplane held;
static bool holding;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static char dropped_to[64];

int priv_dp_hold(void)
{
	int err;

	if (holding)
		return 0;
	err = dataplane_open(&held, DP_NOCREATE);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	holding = true;
	return 0;
}

void priv_dp_release(void)
{
	if (holding)
		dataplane_close(&held);
	holding = false;
}

int priv_dp_get(struct dataplane *dp, unsigned int flags)
{
	int err = 0;

	if (!holding)
		return dataplane_open(dp, flags);
	pthread_mutex_lock(&held_lock);
	*dp = held;
	dp->lock_fd = -1;
	if (!(flags & DP_LOCK))
		return 0;
	/* the lock is sluicectl's too: it excludes the CLI, the mutex this process's threads */
	if (flock(held.lock_fd, LOCK_EX) == -1 || (err = dp_present_sync(dp))) {
		err = err ? err : -errno;
		priv_dp_put(dp);
		return err;
	}
	dp->lock_fd = held.lock_fd;
	return 0;
}

void priv_dp_put(struct dataplane *dp)
{
	if (!holding || dp->fd[0] != held.fd[0]) {
		dataplane_close(dp);
		return;
	}
	if (dp->lock_fd >= 0)
		flock(dp->lock_fd, LOCK_UN);
	pthread_mutex_unlock(&held_lock);
	memset(dp, 0xff, sizeof(*dp));	/* every fd -1: a second put closes nothing */
}

/* The folder of path, writable by the user sluiced is now. */
static int writable_dir(const char *what, const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	int ret = 0;

	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", what);
		return -1;
	}
	if (access(dirname(copy), W_OK | X_OK)) {
		snprintf(err, errlen, "%s: folder %s not writable by user %s: %s", what, dirname(copy),
			 dropped_to, strerror(errno));
		ret = -1;
	}
	free(copy);
	return ret;
}

static int readable(const char *what, const char *path, char *err, size_t errlen)
{
	if (!path || !access(path, R_OK))
		return 0;
	snprintf(err, errlen, "%s: %s not readable by user %s: %s", what, path, dropped_to,
		 strerror(errno));
	return -1;
}

/* What a reload reads, and the folders the trail's rotation and the state file write to. */
static int check_as_user(const struct gw_config *cfg, const char *config_path, char *err,
			 size_t errlen)
{
	char lerr[CFG_ERR_LEN];
	struct gw_config *again;

	if (readable("config", config_path, err, errlen))
		return -1;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_tls *t = cfg->listeners[i].tls;

		for (size_t j = 0; t && j < t->ncerts; j++)
			if (readable("listeners.tls.certificates", t->certs[j].cert, err, errlen) ||
			    readable("listeners.tls.certificates", t->certs[j].key, err, errlen))
				return -1;
		if (t && readable("listeners.tls.client_ca", t->client_ca, err, errlen))
			return -1;
	}
	if (cfg->audit && writable_dir("audit.path", cfg->audit->path, err, errlen))
		return -1;
	if (cfg->limits.state_path && writable_dir("limits.state_file", cfg->limits.state_path, err,
						   errlen))
		return -1;
	/* the config and the keys file as a reload will read them */
	again = config_load(config_path, lerr, sizeof(lerr));
	if (!again) {
		snprintf(err, errlen, "as user %s: %s", dropped_to, lerr);
		return -1;
	}
	config_free(again);
	return 0;
}

/* The passwd entry of user, an unprivileged one; NULL with err saying why not. */
static struct passwd *user_entry(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		snprintf(err, errlen, "user: '%s': %s", user, errno ? strerror(errno) : "no such user");
	else if (pw->pw_uid == 0)
		snprintf(err, errlen, "user: '%s': uid 0 is where sluiced starts: name an unprivileged user",
			 user);
	return pw && pw->pw_uid ? pw : NULL;
}

int priv_check(const struct gw_config *cfg, char *err, size_t errlen)
{
	return cfg->user && !user_entry(cfg->user, err, errlen) ? -1 : 0;
}

int priv_drop(const struct gw_config *cfg, const char *config_path, char *err, size_t errlen)
{
	struct passwd *pw;

	if (!cfg->user)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "user: '%s' needs sluiced started as root (euid is %u)",
			 cfg->user, (unsigned int)geteuid());
		return -1;
	}
	pw = user_entry(cfg->user, err, errlen);
	if (!pw)
		return -1;
	/* its own files first: written as the user from now on */
	if (cfg->audit && chown(cfg->audit->path, pw->pw_uid, pw->pw_gid)) {
		snprintf(err, errlen, "audit.path: chown %s: %s", cfg->audit->path, strerror(errno));
		return -1;
	}
	if (cfg->limits.state_path && chown(cfg->limits.state_path, pw->pw_uid, pw->pw_gid) &&
	    errno != ENOENT) {
		snprintf(err, errlen, "limits.state_file: chown %s: %s", cfg->limits.state_path,
			 strerror(errno));
		return -1;
	}
	/*
	 * glibc makes every thread take the new ids; leaving uid 0 for good
	 * (real, effective and saved) clears each thread's capabilities.
	 */
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		snprintf(err, errlen, "user: becoming '%s' (uid %u): %s", cfg->user,
			 (unsigned int)pw->pw_uid, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() != pw->pw_uid || getuid() != pw->pw_uid) {
		snprintf(err, errlen, "user: '%s': root could be regained", cfg->user);
		return -1;
	}
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);	/* no core or ptrace of keys and prompts */
	snprintf(dropped_to, sizeof(dropped_to), "%s", pw->pw_name);
	return check_as_user(cfg, config_path, err, errlen);
}

const char *priv_user(void)
{
	return dropped_to[0] ? dropped_to : NULL;
}
