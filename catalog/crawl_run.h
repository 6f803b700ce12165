/* crawl_run.h - internal to the crawler (crawler.c, crawl_run.c,
 * crawl_sample.c): a crawler's in-memory record and the state of one run:
 * the objects listed, the tables they group into, and the sampler's work
 * queue. */
#ifndef GLUEFS_CRAWL_RUN_H
#define GLUEFS_CRAWL_RUN_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "crawl_spec.h"
#include "store.h"

#define CRAWL_DECODED_MAX (10u << 20) /* decompressed sample cap, bytes */
#define CRAWL_WORKERS 4               /* parallel sample fetches */

enum crawl_state { CS_READY, CS_RUNNING, CS_STOPPING };

struct crawler {
    char *name;
    char *spec_text; /* as written; NULL: never written */
    struct crawl_spec sp;
    enum crawl_state state;
    char last_run[16]; /* "" (none), SUCCEEDED, FAILED, CANCELLED */
    int64_t started;   /* wall clock, seconds */
    int64_t elapsed;   /* seconds */
    uint64_t objects_scanned, bytes_read;
    uint64_t tables_created, tables_updated, tables_deleted;
    char error[512];
    struct buf log;
    bool pending;          /* a run was asked for */
    int64_t settle_due;    /* monotonic ms; 0: none */
    int64_t interval_due;  /* monotonic ms; 0: none */
    int cancel;            /* atomic: stop the run */
};

/* One object seen by the listing. */
struct cobj {
    char *key;
    uint64_t size;
    char etag[STORE_ETAG_MAX];
    size_t target;
    size_t table;        /* index into run.tables, or SIZE_MAX */
    char **pkeys, **pvals; /* leading k=v folders below the table folder */
    size_t npv;
    char *pseg;          /* those folders as in the key: "k=v/k2=v2/" */
    /* classification */
    bool have;           /* result known (stored or sampled) */
    bool sampled;        /* fetched in this run */
    bool store;          /* save in crawl_objects */
    int err;             /* fetch error */
    struct table_format fmt;
    struct column *cols;
    size_t ncols;
    uint64_t records;    /* estimated for the whole object */
    double avg_size;     /* bytes per record, decompressed (sample) */
    char *reason;        /* UNKNOWN: why */
    bool left_out;       /* not part of its table (logged why) */
};

struct ctable {
    char *database, *name, *location, *bucket;
    size_t target;
    size_t *objs;
    size_t nobjs;
    char **pkeys;
    size_t npkeys;
    bool pk_init;
};

struct gluefs;

struct run {
    struct crawler *c; /* valid while the run lives (remove waits) */
    struct gluefs *g;    /* bucket filter (default crawler) */
    sqlite3 *db;         /* the state store: catalog and crawl_objects */
    struct store *store; /* where objects are read */
    bool is_default;     /* crawlers/default: no targets means every bucket */
    char *name;
    struct crawl_spec sp;
    int64_t t0;
    struct cobj *objs;
    size_t nobjs, cap;
    struct ctable *tables;
    size_t ntables;
    /* target being listed */
    size_t cur_target;
    char cur_bucket[256], cur_prefix[1024];
    char cur_db[256];
    bool list_failed;
    /* sampler */
    pthread_mutex_t pool_lock;
    size_t next;
    size_t *todo;
    size_t ntodo;
    uint64_t sample_limit;
    unsigned errors;
    size_t skipped;      /* objects left out of every table, logged */
    size_t log_omitted;  /* lines the capped log left out (crawl_lock) */
};

/* Guards every struct crawler field and the crawler list (crawler.c). */
extern pthread_mutex_t crawl_lock;

/* True once the run's crawler was asked to stop (ctl "stop", shutdown). */
static inline bool crawl_run_cancelled(const struct run *r)
{
    return __atomic_load_n(&r->c->cancel, __ATOMIC_RELAXED) != 0;
}

/* Append a line to the run's log (crawlers/NAME/log) as
 * "<ISO time> <LEVEL> : <message>" (LEVEL INFO, WARN or ERROR, as Glue's
 * crawler logs read) and to the daemon's log; LOG_DEBUG lines go to the
 * daemon's log only.  The run's log is capped (1 MiB): per-object lines
 * (CRAWL_LOG_OBJECT: "Classified ...") stop at half of it, other lines
 * 16 KiB before the end, so the lines naming skipped objects and the
 * summary (CRAWL_LOG_SUMMARY) still fit; R->log_omitted counts the lines
 * left out. */
enum crawl_log_kind { CRAWL_LOG_OBJECT, CRAWL_LOG_LINE, CRAWL_LOG_SUMMARY };

void crawl_run_log(struct run *r, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void crawl_run_log_kind(struct run *r, enum crawl_log_kind kind, int level,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The run proper (crawl_run.c): list R's targets (every allowed bucket for
 * the default crawler without targets), group objects into tables, reuse
 * the classification remembered for unchanged objects (ETag + size) and
 * sample the rest, write tables and partitions to the catalog, deprecate
 * this crawler's tables whose folder vanished, and remember what it saw.
 * Returns 0, -ECANCELED (stopped), or -errno with ERR (ERRLEN bytes) set
 * to a message for status. */
int crawl_run(struct run *r, char *err, size_t errlen);

/* Free R and everything it holds. */
void crawl_run_free(struct run *r);

/* State-store helpers shared by crawler.c and crawl_run.c (crawl_run.c).
 * crawl_iso_time: SECS (Unix seconds) as "YYYY-MM-DDTHH:MM:SSZ" (UTC)
 * into OUT of N bytes (21 needed).  crawl_bind_str: binds S to parameter
 * I of ST, NULL when S is NULL.  crawl_col_text: column I of ST's row,
 * "" for NULL; valid until ST steps or is reset. */
void crawl_iso_time(int64_t secs, char *out, size_t n);
void crawl_bind_str(sqlite3_stmt *st, int i, const char *s);
const char *crawl_col_text(sqlite3_stmt *st, int i);

/* Classify the objects R->todo[0..R->ntodo) lists, CRAWL_WORKERS at a
 * time: Parquet from its footer (exact columns and row count), anything
 * else from a sample of up to R->sample_limit bytes (decompressed, capped
 * at CRAWL_DECODED_MAX) through infer_sample(); a JSON sample cut inside
 * its first record (infer_result.partial: one large document) is fetched
 * again with a CRAWL_DECODED_MAX bound (Glue samples JSON up to 10 MB),
 * other objects once.  Sets each object's result
 * (have, fmt, cols, records, avg_size, or reason/err) and adds the bytes
 * read to the crawler's counters and stats.  Stops early when cancelled. */
void crawl_sample_all(struct run *r);

#endif
