/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the sluicectl objects share: output mode, errors, dispatch. */
#ifndef SLUICECTL_H
#define SLUICECTL_H

#include <stdbool.h>
#include "lib/dataplane.h"
#include "lib/jsonw.h"

#define EXIT_OK		0
#define EXIT_FAIL	1	/* runtime error */
#define EXIT_USAGE	2	/* bad command line */

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

extern bool json_output;
extern struct jsonw *jw;	/* the document, when json_output */

/* "sluicectl: <message>" on stderr; return EXIT_USAGE / EXIT_FAIL. */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs the command of cmds that argv[0] names or uniquely prefixes. */
int dispatch(const char *object, const struct cmd *cmds, int argc, char **argv);

/* Opens the maps for `what` (e.g. "block add"), reporting failure. */
int ctl_open(struct dataplane *dp, unsigned int flags, const char *what);

/* Keyword arguments: argv[i] must be followed by a value. */
bool need_value(int argc, char **argv, int i, const char *what);

/* Parses a duration argument, printing the error. 0 or EXIT_USAGE. */
int arg_duration(const char *what, const char *key, const char *val, __u64 *ns);
int arg_u32(const char *what, const char *key, const char *val, __u32 min, __u32 max, __u32 *out);

/* Joins argv[from..] with spaces into a checked reason text. 0 or EXIT_USAGE. */
int arg_reason(const char *what, int argc, char **argv, int from, char *out, size_t len);

/* A whole flush command: arguments, lock, flush(), the count as text or JSON. */
int cmd_flush(const char *what, const char *noun, int argc, char **argv,
	      int (*flush)(struct dataplane *dp, int expired_only, size_t *n));

const char *origin_name(__u16 origin);

/* The daemon's figures, summed from its /metrics (for watch). */
#define DAEMON_NAMED_MAX	32
struct daemon_named {
	char name[128];
	double value;
};
struct daemon_figures {
	double requests, masked;
	struct daemon_named decisions[DAEMON_NAMED_MAX], tokens[DAEMON_NAMED_MAX];
	struct daemon_named backends[DAEMON_NAMED_MAX];	/* "pool/backend": 1 up, 0 down */
	size_t ndecisions, ntokens, nbackends;
};
/* addr, token_file: NULL for the defaults of status. 0, -1 unreachable, -status. */
int daemon_figures(const char *addr, const char *token_file, struct daemon_figures *f);

/*
 * POST /reload on the daemon found as for status (addr, token_file: NULL for
 * the defaults). 0 with *generation, -1 unreachable, or the HTTP status with
 * the daemon's reason in why.
 */
int daemon_reload(const char *addr, const char *token_file, double *generation, char *why,
		  size_t len);

/* Objects */
int do_iface(int argc, char **argv);
int do_block(int argc, char **argv);
int do_allow(int argc, char **argv);
int do_limit(int argc, char **argv);
int do_throttle(int argc, char **argv);
int do_config(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_watch(int argc, char **argv);
int do_top(int argc, char **argv);
int do_events(int argc, char **argv);
int do_audit(int argc, char **argv);
int do_tokens(int argc, char **argv);
int do_key(int argc, char **argv);
int do_status(int argc, char **argv);
int do_reload(int argc, char **argv);
int do_help(int argc, char **argv);

/* The synopsis, one line per command; also the man page's SYNOPSIS. */
extern const char *const synopsis[];
void print_object_usage(const char *object);

#endif
