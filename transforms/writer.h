/* writer.h - a job's output: the rows of a statement written as part
 * objects under the target (DESIGN.md 5).
 *
 * Objects are named part-<run>-<n>.<ext> (n counts from 00000 across the
 * run; ext "json" or "csv", plus ".gz", ".bz2" or ".zst" when compressed).
 * A part is streamed while it is written: compressed output goes up as a
 * multipart upload in 8 MiB parts (a part object smaller than that is one
 * PUT), and a new part object starts after about 128 MiB, so memory stays
 * bounded whatever the output size.
 *
 * JSON Lines are typed: SQLite integer/real -> JSON numbers, text -> JSON
 * string, NULL -> null, a column declared boolean ("BOOLEAN INT", see
 * srctab.h) -> true/false.  CSV has a header line, RFC 4180 quoting, an
 * empty unquoted field for NULL and "" for the empty string.
 *
 * With partition_by, rows go under target/k=v/... (Hive style: values
 * %XX-escaped, NULL or "" as __HIVE_DEFAULT_PARTITION__) and the
 * partition columns are left out of the rows.  Rows should come sorted by
 * the partition columns: the writer keeps one part object open at a time
 * and starts a new one when the partition changes.
 *
 * After each object is complete, gluefs_object_changed() is called. */
#ifndef GLUEFS_WRITER_H
#define GLUEFS_WRITER_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "instream.h"
#include "spec.h"
#include "srctab.h"

struct store;

#define WRITER_UPLOAD_PART (8u << 20)   /* bytes per multipart part */
#define WRITER_OBJECT_MAX (128u << 20)  /* start a new part object after */
#define WRITER_MAX_PARTITIONS 100000

/* Counters shown in a run's status (updated with __atomic builtins). */
struct writer_counters {
    uint64_t bytes_written; /* bytes uploaded (compressed) */
    uint64_t rows_written;
    uint64_t objects_written;
};

struct writer_opts {
    struct store *store;
    const char *bucket;
    const char *prefix;        /* target prefix, ends in '/' */
    enum spec_format format;   /* CSV or JSON */
    enum compression comp;
    unsigned run;              /* the run number in the object names */
    unsigned first_n;          /* the first part number (past any
                                  part-<run>-<n> already under the target) */
    uint64_t object_max;       /* 0: WRITER_OBJECT_MAX */
    struct writer_counters *counters;
    srctab_log_fn log;         /* may be NULL */
    void *log_ctx;
};

struct writer;

/* A writer for the rows of ST (prepared, not yet stepped), partitioned by
 * the result columns named in PBY (case-insensitive).  Returns 0, -EINVAL
 * (a PBY name is not a result column, or every column is a partition
 * column; message in ERR) or -ENOMEM. */
int writer_new(const struct writer_opts *o, sqlite3_stmt *st,
               char *const *pby, size_t npby, struct writer **out,
               char *err, size_t errlen) __attribute__((warn_unused_result));

/* Write ST's current row.  Returns 0 or -errno (message in
 * writer_error()). */
int writer_row(struct writer *w, sqlite3_stmt *st)
    __attribute__((warn_unused_result));

/* Complete the open part object.  Returns 0 or -errno. */
int writer_finish(struct writer *w) __attribute__((warn_unused_result));

/* Abort the open upload and delete every object this writer completed
 * (a failed or stopped run leaves nothing behind). */
void writer_abort(struct writer *w);

/* PUT the empty `_SUCCESS` object under the target. */
int writer_put_success(struct writer *w) __attribute__((warn_unused_result));

/* True if KEY is an object this writer wrote (or _SUCCESS). */
int writer_wrote(const struct writer *w, const char *key);

const char *writer_error(const struct writer *w);

/* The data columns (result columns minus partition columns), with the
 * Hive type their declared type or values give (integer -> bigint, real
 * -> double, text -> string, mixed integer/real -> double). */
size_t writer_ncols(const struct writer *w);
const char *writer_col_name(const struct writer *w, size_t i);
const char *writer_col_type(const struct writer *w, size_t i);
/* The partition columns, likewise (values as written in the folders). */
size_t writer_npkeys(const struct writer *w);
const char *writer_pkey_name(const struct writer *w, size_t i);
const char *writer_pkey_type(const struct writer *w, size_t i);

/* Partitions written: each as NPKEYS values (unescaped) and its folder
 * below the target ("k=v/k2=v2/"). */
size_t writer_npartitions(const struct writer *w);
const char *const *writer_partition_values(const struct writer *w, size_t i);
const char *writer_partition_path(const struct writer *w, size_t i);

void writer_free(struct writer *w);

#endif
