// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The audit writer. Workers append records to a queue under a mutex; one
 * thread takes the whole queue at once (group commit), chains and formats
 * it into one buffer, writes it and syncs per mode. See audit.h for the
 * record format.
 *
 * A record is "committed" when audit_durable() may report it: written, and
 * for AUDIT_SYNC_ALWAYS fdatasync'd. It is counted in the depth (and so in
 * the backpressure) from submit until commit, so queue_max bounds every
 * record held in memory, the batch in flight included.
 *
 * A failed write leaves the batch as it is: the bytes already written stay,
 * and the retry writes the rest after them, so a short write (ENOSPC, EFBIG)
 * only delays the line it cut. A reopen in between cuts the torn line off
 * the old file and writes it whole in the new one.
 *
 * Locking: lock guards the queue, the counters, the error and the requests
 * (reopen, stop); the file, the chain and the batch belong to the writer
 * thread alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/sha.h>

#include "gw/audit.h"

enum { AL_ERR, AL_NOTICE, AL_INFO };

#define SEQ_PREFIX	"{\"seq\":"
#define PREV_KEY	",\"prev\":\""
#define HASH_KEY	",\"hash\":\""
#define LIT_LEN(s)	(sizeof(s) - 1)
/* Everything a line adds to the members: {"seq":N, ,"prev":"..." ,"hash":"..."}\n */
#define LINE_OVERHEAD	(LIT_LEN(SEQ_PREFIX) + 20 + 1 + LIT_LEN(PREV_KEY) + AUDIT_HASH_HEX + 1 + \
			 LIT_LEN(HASH_KEY) + AUDIT_HASH_HEX + 3)
/* The tail of a line after the prev value's closing quote: ,"hash":"<64>"} */
#define HASH_TAIL	(LIT_LEN(HASH_KEY) + AUDIT_HASH_HEX + 2)
#define TAIL_WINDOW	65536

struct audit_rec {
	struct audit_rec *next;
	uint64_t seq;
	uint64_t submit_ns;
	size_t start, end;	/* its line in the batch buffer, once formatted */
	size_t len;
	char members[];
};

/* The records the writer took, formatted into buf; written up to off. */
struct audit_batch {
	struct audit_rec *recs;	/* in seq order; freed as they commit */
	struct audit_rec *unwritten;	/* first record whose line is not all written */
	char *buf;
	size_t len, cap, off;
};

struct audit {
	char *path;
	enum audit_sync sync;
	uint64_t interval_ns;
	size_t queue_max;
	pthread_t thread;

	pthread_mutex_t lock;
	pthread_cond_t work;		/* writer: records queued, a request */
	pthread_cond_t room;		/* submitters: the depth went down, or an error */
	struct audit_rec *head, **tail;	/* queued, not yet taken */
	size_t queued_bytes;		/* members bytes of the queued records */
	size_t depth;			/* submitted, not committed */
	uint64_t last_seq;		/* last seq handed out */
	bool reopen, stop;
	bool failing;			/* as failed, but read under lock */
	uint64_t failed_ns;
	char err[512];
	int watch[AUDIT_MAX_WATCHERS];
	int nwatch;
	struct audit_stats st;

	_Atomic uint64_t durable;
	_Atomic bool failed;

	/* writer thread only */
	int fd;
	char prev[AUDIT_HASH_HEX + 1];	/* hash of the last record formatted */
	uint64_t prev_seq;		/* ... and its seq */
	struct audit_batch b;
	bool dirty;			/* written since the last fdatasync */
	uint64_t synced_ns;		/* last fdatasync */
	uint64_t retry_ns;		/* while failing: the next attempt */
};

static void log_stderr(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void log_stderr(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "notice", "info" };
	va_list ap;

	fprintf(stderr, "%s: ", names[level < 0 ? 0 : level > 2 ? 2 : level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void (*audit_log)(int level, const char *fmt, ...) = log_stderr;

void audit_set_log(void (*log)(int level, const char *fmt, ...))
{
	audit_log = log ? log : log_stderr;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Waits on c until signalled or, when deadline_ns is not 0, until then (CLOCK_MONOTONIC). */
static void wait_until(pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline_ns)
{
	struct timespec ts;

	if (!deadline_ns) {
		pthread_cond_wait(c, m);
		return;
	}
	ts.tv_sec = deadline_ns / 1000000000ULL;
	ts.tv_nsec = deadline_ns % 1000000000ULL;
	pthread_cond_timedwait(c, m, &ts);
}

static void hex32(const unsigned char *md, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[AUDIT_HASH_HEX] = '\0';
}

static bool is_hex64(const char *s)
{
	for (int i = 0; i < AUDIT_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * Reads seq and hash from one complete line of this format, [line, line+len)
 * without its newline, and checks that the hash recomputes. Anything else,
 * torn or edited, is -EBADMSG with *why saying which.
 */
static int line_parse(const char *line, size_t len, uint64_t *seq, char hash[AUDIT_HASH_HEX + 1],
		      const char **why)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	const char *p = line + LIT_LEN(SEQ_PREFIX), *h;
	char calc[AUDIT_HASH_HEX + 1];
	uint64_t v = 0;

	*why = "not a record of the audit format";
	if (len < LIT_LEN(SEQ_PREFIX) + 1 + LIT_LEN(PREV_KEY) + AUDIT_HASH_HEX + 1 + HASH_TAIL ||
	    memcmp(line, SEQ_PREFIX, LIT_LEN(SEQ_PREFIX)) || *p < '1' || *p > '9')
		return -EBADMSG;
	for (; p < line + len && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	h = line + len - HASH_TAIL;
	if (*p != ',' || memcmp(h, HASH_KEY, LIT_LEN(HASH_KEY)) || memcmp(line + len - 2, "\"}", 2) ||
	    h[-1] != '"' || !is_hex64(h + LIT_LEN(HASH_KEY)) ||
	    memcmp(h - 1 - AUDIT_HASH_HEX - LIT_LEN(PREV_KEY), PREV_KEY, LIT_LEN(PREV_KEY)))
		return -EBADMSG;
	SHA256((const unsigned char *)line, (size_t)(h - line), md);
	hex32(md, calc);
	if (memcmp(calc, h + LIT_LEN(HASH_KEY), AUDIT_HASH_HEX)) {
		*why = "its hash does not recompute (edited?)";
		return -EBADMSG;
	}
	*seq = v;
	memcpy(hash, calc, sizeof(calc));
	return 0;
}

/*
 * Where a file's chain stands: the seq and hash of its last complete line,
 * or seq 0 for a file without one. A torn tail after the last newline is
 * truncated away first (a crash mid-write leaves one) and logged. Only for
 * regular files; others (a pipe, /dev/stdout) have no past to continue.
 */
static int tail_load(int fd, const char *path, uint64_t *seq, char hash[AUDIT_HASH_HEX + 1],
		     char *err, size_t errlen)
{
	size_t window, nl, start;
	const char *why;
	struct stat st;
	char *buf = NULL;
	off_t size;
	int ret;

	*seq = 0;
	if (fstat(fd, &st) == -1) {
		ret = -errno;
		snprintf(err, errlen, "%s: fstat: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	size = st.st_size;
	/* Grow the window back from the end until it holds the last line whole */
	for (window = size < TAIL_WINDOW ? (size_t)size : TAIL_WINDOW;; window *= 2) {
		char *nbuf;
		ssize_t n;

		if (window > (size_t)size)
			window = (size_t)size;
		nbuf = realloc(buf, window);
		if (!nbuf) {
			ret = -ENOMEM;
			snprintf(err, errlen, "%s: reading the last record: %s", path, strerror(ENOMEM));
			goto out;
		}
		buf = nbuf;
		n = pread(fd, buf, window, size - (off_t)window);
		if (n != (ssize_t)window) {
			ret = n == -1 ? -errno : -EIO;
			snprintf(err, errlen, "%s: reading the last record: %s", path, strerror(-ret));
			goto out;
		}
		for (nl = window; nl && buf[nl - 1] != '\n'; nl--)
			;
		/* nl: just past the last newline, 0 if none */
		for (start = nl ? nl - 1 : 0; start && buf[start - 1] != '\n'; start--)
			;
		if ((start || window == (size_t)size) && (nl || window == (size_t)size))
			break;
	}
	if (nl < window) {
		off_t keep = size - (off_t)(window - nl);

		if (ftruncate(fd, keep) == -1) {
			ret = -errno;
			snprintf(err, errlen, "%s: truncating a torn final line: %s", path,
				 strerror(-ret));
			goto out;
		}
		audit_log(AL_NOTICE, "audit: %s: truncated a torn final line (%zu bytes)", path,
			  window - nl);
	}
	ret = 0;
	if (!nl)
		goto out;
	if (line_parse(buf + start, nl - 1 - start, seq, hash, &why)) {
		ret = -EBADMSG;
		snprintf(err, errlen, "%s: last record: %s; not extending a broken chain "
			 "(rotate the file away)", path, why);
	}
out:
	free(buf);
	return ret;
}

/* Makes a new file's name durable: its directory entry is not synced with the file. */
static void dir_sync(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd != -1) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static int file_open(const char *path, enum audit_sync sync, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	/* O_RDWR, not O_WRONLY: the tail is read back, and a torn one truncated */
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (sync != AUDIT_SYNC_NONE && !fstat(fd, &st) && S_ISREG(st.st_mode) && !st.st_size)
		dir_sync(path);
	return fd;
}

/*
 * fdatasync, where the file can be synced at all (not a pipe or a tty).
 * 0 or -errno; after a failure the file stays dirty, for the retry.
 */
static int file_sync(struct audit *a)
{
	int ret = 0;

	if (fdatasync(a->fd) == -1 && errno != EINVAL && errno != EROFS)
		ret = -errno;
	if (!ret) {
		a->dirty = false;
		a->synced_ns = now_ns();
	}
	pthread_mutex_lock(&a->lock);
	a->st.fsyncs++;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* Tells the watchers that audit_durable() or audit_error() changed. */
static void wake(const struct audit *a, const int *watch, int nwatch)
{
	uint64_t one = 1;

	for (int i = 0; i < nwatch; i++)
		if (write(watch[i], &one, sizeof(one)) == -1 && errno != EAGAIN)
			audit_log(AL_ERR, "audit: %s: eventfd %d: %s", a->path, watch[i],
				  strerror(errno));
}

/* Enters the failing state (first failure only: no log line per retry). Under lock. */
static void fail_locked(struct audit *a, const char *what, int err)
{
	a->retry_ns = now_ns() + AUDIT_RETRY_NS;
	if (a->failing)
		return;
	snprintf(a->err, sizeof(a->err), "%s: %s: %s", a->path, what, strerror(-err));
	a->failing = true;
	a->failed_ns = now_ns();
	atomic_store_explicit(&a->failed, true, memory_order_release);
	audit_log(AL_ERR, "audit: %s; refusing new records, retrying every %llums", a->err,
		  (unsigned long long)(AUDIT_RETRY_NS / 1000000));
	pthread_cond_broadcast(&a->room);
	wake(a, a->watch, a->nwatch);
}

static void writer_fail(struct audit *a, const char *what, int err)
{
	pthread_mutex_lock(&a->lock);
	fail_locked(a, what, err);
	pthread_mutex_unlock(&a->lock);
}

static void recover_locked(struct audit *a)
{
	if (!a->failing)
		return;
	a->failing = false;
	atomic_store_explicit(&a->failed, false, memory_order_release);
	audit_log(AL_NOTICE, "audit: %s: writing again after %llums", a->path,
		  (unsigned long long)((now_ns() - a->failed_ns) / 1000000));
}

/*
 * Opens the path anew for a rotation. The chain in memory goes on whatever
 * the new file holds; a file that is still the one open is kept. A torn
 * line the old file got from a cut batch is truncated off it, and written
 * whole to the new file.
 */
static int writer_reopen(struct audit *a)
{
	struct audit_batch *b = &a->b;
	char hash[AUDIT_HASH_HEX + 1], why[512];
	struct stat old, cur;
	uint64_t seq;
	int fd, ret;

	/* why goes unused: the failure is reported as "<path>: reopen: <errno>" */
	fd = file_open(a->path, a->sync, why, sizeof(why));
	if (fd < 0)
		return fd;
	if (!fstat(fd, &cur) && !fstat(a->fd, &old) && cur.st_dev == old.st_dev &&
	    cur.st_ino == old.st_ino) {
		close(fd);
		return 0;
	}
	ret = tail_load(fd, a->path, &seq, hash, why, sizeof(why));
	if (ret == -EBADMSG)
		ret = 0;	/* its past is not ours to check: we only append */
	if (ret) {
		close(fd);
		return ret;
	}
	if (seq)
		audit_log(AL_NOTICE, "audit: %s: reopened a file that ends at seq %" PRIu64
			  "; the chain goes on from seq %" PRIu64, a->path, seq,
			  b->unwritten ? b->unwritten->seq : a->prev_seq + 1);
	if (b->unwritten && b->off > b->unwritten->start) {
		size_t torn = b->off - b->unwritten->start;

		if (!fstat(a->fd, &old) && S_ISREG(old.st_mode) &&
		    ftruncate(a->fd, old.st_size - (off_t)torn) == -1)
			audit_log(AL_ERR, "audit: %s (rotated): cannot cut a torn line of %zu bytes: %s",
				  a->path, torn, strerror(errno));
		b->off = b->unwritten->start;
	}
	if (a->sync != AUDIT_SYNC_NONE && fdatasync(a->fd) == -1 && errno != EINVAL)
		audit_log(AL_ERR, "audit: %s (rotated): fdatasync: %s", a->path, strerror(errno));
	close(a->fd);
	a->fd = fd;
	a->dirty = true;	/* the next commit syncs the new file */
	audit_log(AL_INFO, "audit: %s: reopened", a->path);
	return 0;
}

/* Appends r's line to the batch buffer (room reserved), advancing the chain. */
static void batch_format(struct audit *a, struct audit_rec *r)
{
	struct audit_batch *b = &a->b;
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *p = b->buf + b->len;
	size_t n;

	n = (size_t)sprintf(p, SEQ_PREFIX "%" PRIu64, r->seq);
	if (r->len) {
		p[n++] = ',';
		memcpy(p + n, r->members, r->len);
		n += r->len;
	}
	memcpy(p + n, PREV_KEY, LIT_LEN(PREV_KEY));
	n += LIT_LEN(PREV_KEY);
	memcpy(p + n, a->prev, AUDIT_HASH_HEX);
	n += AUDIT_HASH_HEX;
	p[n++] = '"';
	SHA256((const unsigned char *)p, n, md);
	hex32(md, a->prev);
	a->prev_seq = r->seq;
	memcpy(p + n, HASH_KEY, LIT_LEN(HASH_KEY));
	n += LIT_LEN(HASH_KEY);
	memcpy(p + n, a->prev, AUDIT_HASH_HEX);
	n += AUDIT_HASH_HEX;
	memcpy(p + n, "\"}\n", 3);
	n += 3;
	r->start = b->len;
	r->end = b->len + n;
	b->len += n;
}

/*
 * Takes the whole queue into the (empty) batch and formats it. The buffer
 * is sized first, so a failure leaves the records queued as they were.
 */
static int batch_take(struct audit *a)
{
	struct audit_batch *b = &a->b;
	struct audit_rec *r, *recs;
	size_t n = 0, bytes;
	char *buf;

	pthread_mutex_lock(&a->lock);
	recs = a->head;
	bytes = a->queued_bytes;
	for (r = recs; r; r = r->next)
		n++;
	bytes += n * LINE_OVERHEAD;
	if (bytes > b->cap) {
		buf = realloc(b->buf, bytes);
		if (!buf) {
			fail_locked(a, "formatting a batch", -ENOMEM);
			pthread_mutex_unlock(&a->lock);
			return -ENOMEM;
		}
		b->buf = buf;
		b->cap = bytes;
	}
	a->head = NULL;
	a->tail = &a->head;
	a->queued_bytes = 0;
	pthread_mutex_unlock(&a->lock);

	b->recs = b->unwritten = recs;
	b->len = b->off = 0;
	for (r = recs; r; r = r->next)
		batch_format(a, r);
	return 0;
}

/* Writes what is left of the batch, moving unwritten past every complete line. 0 or -errno. */
static int batch_write(struct audit *a)
{
	struct audit_batch *b = &a->b;
	int ret = 0;

	while (b->off < b->len) {
		ssize_t n = write(a->fd, b->buf + b->off, b->len - b->off);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		b->off += (size_t)n;
		a->dirty = true;
	}
	while (b->unwritten && b->unwritten->end <= b->off)
		b->unwritten = b->unwritten->next;
	return ret;
}

/*
 * Makes the written records of the batch durable per mode: counts them,
 * frees them, advances audit_durable() and tells the watchers. 0, or the
 * fdatasync error (they stay, to be synced at the retry).
 */
static int batch_commit(struct audit *a)
{
	struct audit_batch *b = &a->b;
	int watch[AUDIT_MAX_WATCHERS], nwatch, ret;
	uint64_t last = 0, lag_max = 0, now;
	struct audit_rec *r, *next;
	size_t n = 0;

	if (b->recs == b->unwritten)
		return 0;
	if (a->sync == AUDIT_SYNC_ALWAYS && (ret = file_sync(a)))
		return ret;
	now = now_ns();
	for (r = b->recs; r != b->unwritten; r = next) {
		next = r->next;
		last = r->seq;
		if (now - r->submit_ns > lag_max)
			lag_max = now - r->submit_ns;
		free(r);
		n++;
	}
	b->recs = b->unwritten;
	if (!b->recs)
		b->len = b->off = 0;

	pthread_mutex_lock(&a->lock);
	a->depth -= n;
	a->st.written += n;
	if (!b->recs)
		a->st.batches++;
	if (lag_max > a->st.lag_ns_max)
		a->st.lag_ns_max = lag_max;
	nwatch = a->nwatch;
	memcpy(watch, a->watch, sizeof(watch[0]) * (size_t)nwatch);
	atomic_store_explicit(&a->durable, last, memory_order_release);
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);

	wake(a, watch, nwatch);
	return 0;
}

/* One round of the writer's work, with the lock not held. 0, or the error that stopped it. */
static int writer_step(struct audit *a, bool reopen, bool sync_due)
{
	struct audit_batch *b = &a->b;
	int ret;

	if (reopen && (ret = writer_reopen(a))) {
		pthread_mutex_lock(&a->lock);
		a->reopen = true;	/* again at the retry */
		fail_locked(a, "reopen", ret);
		pthread_mutex_unlock(&a->lock);
		return ret;
	}
	if (!b->recs && (ret = batch_take(a)))
		return ret;
	if ((ret = batch_write(a))) {
		writer_fail(a, "write", ret);
		return ret;
	}
	if ((ret = batch_commit(a))) {
		writer_fail(a, "fdatasync", ret);
		return ret;
	}
	/*
	 * A retried fdatasync may succeed though the pages of the failed one
	 * were dropped (Linux reports a writeback error once per file, 4.13+):
	 * the log line of the failure is what tells the operator to check.
	 */
	if (sync_due && a->dirty && (ret = file_sync(a))) {
		writer_fail(a, "fdatasync", ret);
		return ret;
	}
	return 0;
}

/*
 * When the writer must act next, under lock: 0 now, UINT64_MAX only when
 * woken, else a CLOCK_MONOTONIC deadline. *sync_due: an interval sync is
 * due. While failing, everything waits for the retry, a failed interval
 * sync included.
 */
static uint64_t writer_next(struct audit *a, uint64_t now, bool *sync_due)
{
	bool interval = a->sync == AUDIT_SYNC_INTERVAL && a->dirty;
	bool work = a->head || a->b.recs || a->reopen || (interval && a->failing);
	uint64_t sync_at = interval ? a->synced_ns + a->interval_ns : UINT64_MAX, at;

	*sync_due = interval && (sync_at <= now || a->failing);
	if (a->failing && !a->stop) {
		at = work ? a->retry_ns : UINT64_MAX;
	} else {
		at = work || a->stop ? 0 : UINT64_MAX;
		if (sync_at < at)
			at = sync_at;
	}
	return at <= now ? 0 : at;
}

static void *writer_main(void *arg)
{
	struct audit *a = arg;
	bool reopen, sync_due, stop;
	uint64_t at;
	int ret;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		at = writer_next(a, now_ns(), &sync_due);
		if (at) {
			wait_until(&a->work, &a->lock, at == UINT64_MAX ? 0 : at);
			continue;
		}
		if (a->stop && !a->head && !a->b.recs && !a->reopen)
			break;
		reopen = a->reopen;
		a->reopen = false;
		stop = a->stop;
		pthread_mutex_unlock(&a->lock);
		ret = writer_step(a, reopen, sync_due);
		pthread_mutex_lock(&a->lock);
		if (!ret)
			recover_locked(a);
		else if (stop)
			break;	/* the last attempt: close must not hang on a dead disk */
	}
	pthread_mutex_unlock(&a->lock);
	if ((ret = file_sync(a)))
		audit_log(AL_ERR, "audit: %s: fdatasync at close: %s", a->path, strerror(-ret));
	return NULL;
}

struct audit *audit_open(const char *path, enum audit_sync sync, uint64_t interval_ns,
			 size_t queue_max, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	struct audit *a;
	uint64_t seq;
	int ret;

	a = calloc(1, sizeof(*a));
	if (!a || !(a->path = strdup(path))) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto out_free;
	}
	a->sync = sync;
	a->interval_ns = interval_ns ? interval_ns : AUDIT_INTERVAL_DEFAULT;
	a->queue_max = queue_max ? queue_max : AUDIT_QUEUE_DEFAULT;
	a->tail = &a->head;
	a->fd = file_open(path, sync, err, errlen);
	if (a->fd < 0) {
		ret = a->fd;
		goto out_free;
	}
	ret = tail_load(a->fd, path, &seq, a->prev, err, errlen);
	if (ret)
		goto out_close;
	if (!seq)
		memset(a->prev, '0', AUDIT_HASH_HEX);
	a->prev[AUDIT_HASH_HEX] = '\0';
	a->last_seq = a->prev_seq = seq;
	atomic_init(&a->durable, seq);
	atomic_init(&a->failed, false);

	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->work, &ca);
	pthread_cond_init(&a->room, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals are the main thread's business (SIGUSR1 asks for the reopen) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		snprintf(err, errlen, "%s: writer thread: %s", path, strerror(-ret));
		goto out_destroy;
	}
	if (seq)
		audit_log(AL_INFO, "audit: %s: continuing the chain at seq %" PRIu64, path, seq + 1);
	return a;

out_destroy:
	pthread_cond_destroy(&a->room);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
out_close:
	close(a->fd);
out_free:
	if (a)
		free(a->path);
	free(a);
	errno = -ret;
	return NULL;
}

uint64_t audit_submit(struct audit *a, const char *members, size_t len)
{
	struct audit_rec *r;
	uint64_t seq;
	int err = 0;

	if (len && memchr(members, '\n', len)) {
		errno = EINVAL;
		return 0;
	}
	r = malloc(sizeof(*r) + len);
	if (!r) {
		errno = ENOMEM;
		return 0;
	}
	memcpy(r->members, members, len);
	r->len = len;
	r->next = NULL;

	pthread_mutex_lock(&a->lock);
	while (a->depth >= a->queue_max && !a->failing && !a->stop)
		pthread_cond_wait(&a->room, &a->lock);
	if (a->stop)
		err = ESHUTDOWN;
	else if (a->failing)
		err = EIO;
	if (err) {
		pthread_mutex_unlock(&a->lock);
		free(r);
		errno = err;
		return 0;
	}
	seq = r->seq = ++a->last_seq;
	r->submit_ns = now_ns();
	*a->tail = r;
	a->tail = &r->next;
	a->queued_bytes += len;
	if (++a->depth > a->st.queued_max)
		a->st.queued_max = a->depth;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
	return seq;
}

uint64_t audit_durable(const struct audit *a)
{
	return atomic_load_explicit(&a->durable, memory_order_acquire);
}

int audit_watch(struct audit *a, int efd)
{
	int ret = 0;

	if (efd < 0)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	if (a->nwatch == AUDIT_MAX_WATCHERS)
		ret = -ENOSPC;
	else
		a->watch[a->nwatch++] = efd;
	pthread_mutex_unlock(&a->lock);
	return ret;
}

void audit_reopen(struct audit *a)
{
	pthread_mutex_lock(&a->lock);
	a->reopen = true;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->lock);
}

const char *audit_error(const struct audit *a)
{
	return atomic_load_explicit(&a->failed, memory_order_acquire) ? a->err : NULL;
}

void audit_get_stats(const struct audit *a, struct audit_stats *st)
{
	/* The lock is not part of the value: a reader may take it */
	struct audit *m = (struct audit *)a;

	pthread_mutex_lock(&m->lock);
	*st = a->st;
	st->depth = a->depth;
	pthread_mutex_unlock(&m->lock);
}

static size_t rec_free_list(struct audit_rec *r)
{
	struct audit_rec *next;
	size_t n = 0;

	for (; r; r = next, n++) {
		next = r->next;
		free(r);
	}
	return n;
}

void audit_close(struct audit *a)
{
	size_t lost;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->work);
	pthread_cond_broadcast(&a->room);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);

	lost = rec_free_list(a->b.recs) + rec_free_list(a->head);
	if (lost)
		audit_log(AL_ERR, "audit: %s: %zu records not written at close: %s", a->path, lost,
			  a->err);
	close(a->fd);
	free(a->b.buf);
	pthread_cond_destroy(&a->room);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}
