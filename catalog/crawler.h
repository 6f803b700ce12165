/* crawler.h - crawlers (DESIGN.md 4): the control files under
 * crawlers/NAME/ and the background runs that fill the catalog.
 *
 * crawlers/default exists from the first mount: every allowed bucket, one
 * database per bucket.  Runs happen in background threads: at mount (if
 * crawl=auto), after writes through the mount settle, every `interval`
 * seconds, and on `echo run > crawlers/NAME/ctl`.  Crawlers and their last
 * run survive a remount (state store). */
#ifndef GLUEFS_CRAWLER_H
#define GLUEFS_CRAWLER_H

#include <stddef.h>

#include "buf.h"

struct gluefs;

/* Load crawlers from the state store, create "default" if missing, and
 * start the scheduler thread (which runs the auto crawls).  Returns 0 or
 * -errno. */
int crawlers_start(struct gluefs *g);

/* Stop every run (state becomes STOPPING, then READY with last_run
 * CANCELLED) and join the threads. */
void crawlers_shutdown(void);

/* A write through the mount changed BUCKET/KEY: crawlers whose targets
 * cover it run again once writes have been quiet for settle seconds. */
void crawlers_notify_write(const char *bucket, const char *key);

/* Call CB with each crawler name (sorted). */
int crawlers_list(int (*cb)(void *ctx, const char *name), void *ctx);

/* 0 if crawler NAME exists, else -ENOENT. */
int crawler_exists(const char *name);

/* mkdir crawlers/NAME: define an empty crawler (no targets yet).  -EEXIST
 * if present, -EINVAL for a bad name. */
int crawler_create(const char *name);

/* rm -r crawlers/NAME.  -EBUSY while running, -EPERM for "default". */
int crawler_remove(const char *name);

/* Validate and store a spec (keys: targets, database, exclude, interval;
 * see DESIGN.md 4), then start a run.  On a bad spec returns -EINVAL and
 * sets the crawler's error (shown in status) to a message naming the line,
 * e.g. "spec line 3: unknown key 'targte'". */
int crawler_set_spec(const char *name, const char *text, size_t len);

/* Append the file's text to OUT:
 *   spec:   the spec as stored (default: a generated one)
 *   status: "key: value" lines - state (READY, RUNNING, STOPPING),
 *           last_run (SUCCEEDED, FAILED, CANCELLED, or none), started,
 *           elapsed, objects_scanned, bytes_read, tables_created,
 *           tables_updated, tables_deleted, error
 *   log:    the last run's log
 * -ENOENT for an unknown crawler. */
int crawler_read_spec(const char *name, struct buf *out);
int crawler_read_status(const char *name, struct buf *out);
int crawler_read_log(const char *name, struct buf *out);

/* Block while a run of NAME is under way or about to start (a settle or
 * requested run pending), then append status.  Returns -EINTR if
 * crawlers_shutdown() is called meanwhile. */
int crawler_wait(const char *name, struct buf *out);

/* ctl: "run" starts a run (no-op if running), "stop" cancels one.
 * Trailing whitespace is ignored; anything else is -EINVAL. */
int crawler_ctl(const char *name, const char *cmd, size_t len);

#endif
