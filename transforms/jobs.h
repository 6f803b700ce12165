/* jobs.h - ETL jobs (DESIGN.md 5): the control files under jobs/NAME/ and
 * the runs that a written spec starts.
 *
 * A run reads its sources through SQLite virtual tables that stream
 * records from the store, runs the spec's SQL (or copies), and writes
 * part-<run>-<n>.<ext> objects then _SUCCESS under the target.  Runs are
 * background threads.  Jobs, their specs and their last run survive a
 * remount; a run that was RUNNING when the mount died shows FAILED with
 * error "interrupted" after the next mount. */
#ifndef GLUEFS_JOBS_H
#define GLUEFS_JOBS_H

#include <stddef.h>

#include "buf.h"

struct gluefs;

/* Load jobs, mark interrupted runs FAILED.  Returns 0 or -errno. */
int jobs_start(struct gluefs *g);

/* Stop runs (state STOPPED) and join their threads. */
void jobs_shutdown(void);

int jobs_list(int (*cb)(void *ctx, const char *name), void *ctx);
int job_exists(const char *name);                 /* 0 or -ENOENT */
int job_create(const char *name);                 /* -EEXIST, -EINVAL */
int job_remove(const char *name);                 /* stops a run first */

/* Validate and store a spec, then start a run.  A bad spec returns
 * -EINVAL, leaves the previous spec in place, and sets status's error to
 * e.g. "spec line 4: unknown key 'fromat'" (state FAILED).  While a run is
 * under way the spec cannot change: -EBUSY. */
int job_set_spec(const char *name, const char *text, size_t len);

/* spec as stored; status "key: value" lines (state, run, progress,
 * bytes_read, rows_read, bytes_written, rows_written, objects_written,
 * bad_rows, started, elapsed, error); log of the current/last run. */
int job_read_spec(const char *name, struct buf *out);
int job_read_status(const char *name, struct buf *out);
int job_read_log(const char *name, struct buf *out);

/* Block until the current run (if any) ends, then append status. */
int job_wait(const char *name, struct buf *out);

/* "run" or "stop" (trailing whitespace ignored); else -EINVAL.  "run"
 * re-runs the stored spec: -EBUSY while a run is under way, -EINVAL with
 * no spec yet.  "stop" interrupts the run (state STOPPING, then STOPPED;
 * its part objects are deleted) and is a no-op when none runs. */
int job_ctl(const char *name, const char *cmd, size_t len);

#endif
