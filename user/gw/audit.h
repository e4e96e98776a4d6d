/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tamper-evident audit trail: one writer thread per file, fed by any
 * number of workers, each record linked to the one before by its hash.
 *
 * RECORD FORMAT (a contract: sluicectl audit and outside verifiers rely on it)
 * one JSON object per line:
 *   {"seq":N,<members>,"prev":"<64 hex>","hash":"<64 hex>"}\n
 * where <members> are the caller's JSON members (without braces), seq starts
 * at 1 and increases by one, prev is the previous record's hash (64 zeros for
 * the first record of a chain), and hash = lowercase hex SHA-256 of the line's
 * bytes from the opening '{' up to and including the closing quote of the prev
 * value (i.e. everything before `,"hash":`). The chain continues across
 * files: after a reopen (rotation: the operator renamed the file and sent
 * SIGUSR1), the new file's first record has prev = the last hash written and
 * seq continues. At open, if the file already has records, the writer
 * continues from its last complete line (seq and hash); a torn final line (no
 * trailing newline, left by a crash) is truncated away and that is logged,
 * with its byte count, through a log callback.
 *
 * Empty members give {"seq":N,"prev":...}. Deleting, editing or reordering a
 * record breaks the chain at that line; truncating the end of the file does
 * not, so keep the last hash somewhere else (sluicectl -j audit verify
 * prints it) where that matters.
 *
 * Group commit: the thread takes everything queued at once, formats it and
 * writes it with one write(2); then AUDIT_SYNC_ALWAYS fdatasyncs every
 * batch, AUDIT_SYNC_INTERVAL at most every interval but always within one
 * interval of a write, AUDIT_SYNC_NONE only at audit_close().
 */
#ifndef SLUICE_GW_AUDIT_H
#define SLUICE_GW_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_HASH_HEX		64
#define AUDIT_INTERVAL_DEFAULT	(100ULL * 1000000ULL)	/* ns, for interval_ns 0 */
#define AUDIT_QUEUE_DEFAULT	65536			/* records, for queue_max 0 */
#define AUDIT_RETRY_NS		(100ULL * 1000000ULL)	/* after a write or sync error */
#define AUDIT_MAX_WATCHERS	64

enum audit_sync { AUDIT_SYNC_NONE, AUDIT_SYNC_INTERVAL, AUDIT_SYNC_ALWAYS };

struct audit;

/*
 * Opens (creating it 0600, O_APPEND|O_CLOEXEC) the file at path, continues
 * its chain and starts the writer thread. Refuses a file whose last
 * complete line is not a record of this format or whose hash does not
 * recompute: extending it would hide the break. NULL with errno set and
 * err naming the path and the reason.
 */
struct audit *audit_open(const char *path, enum audit_sync sync, uint64_t interval_ns,
			 size_t queue_max, char *err, size_t errlen);

/*
 * Queues one record of members[0, len), copied. Blocks while queue_max
 * records wait to be written (backpressure: an accepted record is never
 * dropped). Returns its seq (> 0), or 0 when nothing was queued: errno EIO
 * while the writer is failing (see audit_error; submitters blocked on a
 * full queue are woken with 0 too, so workers do not hang on a full disk),
 * EINVAL if members holds a newline (it would split the record), ENOMEM,
 * or ESHUTDOWN once audit_close() began.
 */
uint64_t audit_submit(struct audit *a, const char *members, size_t len);

/* Highest seq written and, for AUDIT_SYNC_ALWAYS, fdatasync'd; every seq up to it is too. */
uint64_t audit_durable(const struct audit *a);

/*
 * The writer writes 1 to the eventfd efd after each commit (each time
 * audit_durable() advances) and when it starts failing. 0, or -ENOSPC past AUDIT_MAX_WATCHERS, -EINVAL
 * for a negative fd. The fd stays the caller's; keep it open until close.
 */
int audit_watch(struct audit *a, int efd);

/*
 * Asks the writer to reopen the path before its next batch (after the
 * operator renamed the file: rotation). Takes a mutex, so call it from the
 * main thread once SIGUSR1 was seen, never from the signal handler. The
 * chain goes on in the new file; if it cannot be opened, that is an error
 * as a write error is, retried until it can.
 */
void audit_reopen(struct audit *a);

/*
 * NULL while healthy; else why the last write, sync or reopen failed,
 * naming the path. The text stays valid until the next failure.
 */
const char *audit_error(const struct audit *a);

struct audit_stats {
	uint64_t written;	/* records */
	uint64_t batches;	/* writes that completed a batch */
	uint64_t fsyncs;
	uint64_t queued_max;	/* most records ever waiting */
	uint64_t lag_ns_max;	/* longest submit to commit */
	size_t depth;		/* records waiting now */
};

void audit_get_stats(const struct audit *a, struct audit_stats *st);

/*
 * Writes everything queued, fdatasyncs (in every mode), joins the thread and
 * frees. If the writer is failing, it makes one last attempt and then logs
 * how many records were lost rather than hang the shutdown. NULL is a no-op.
 */
void audit_close(struct audit *a);

/*
 * Where the writer's messages go: level 0 error, 1 notice, 2 info (gw_log's
 * levels). Default: stderr. Set it before audit_open.
 */
void audit_set_log(void (*log)(int level, const char *fmt, ...));

#endif
