/* jobs.c - ETL jobs and their runs; see jobs.h
 *
 * Every job lives in the state store (table `jobs`: its spec and its last
 * run's status and log) and in a list in memory that the control files
 * read.  A run is a thread: resolve the sources (srctab.c), run the SQL
 * on a private SQLite connection locked down for untrusted SQL, write the
 * parts (writer.c), then apply the mode and register target_table. */
#include "jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "catalog.h"
#include "gluefs.h"
#include "log.h"
#include "spec.h"
#include "srctab.h"
#include "state.h"
#include "store.h"
#include "writer.h"

#define JOB_LOG_MAX (1u << 20)      /* bytes of one run's log */
#define JOB_NAME_MAX 255
#define SQL_LENGTH_LIMIT (64 << 20) /* largest string or blob in a run */
#define OLD_OBJECTS_MAX 1000000     /* overwrite: objects to replace */
#define PERSIST_EVERY 5.0           /* seconds between status saves */

enum jstate { JS_READY, JS_STARTING, JS_RUNNING, JS_STOPPING, JS_STOPPED,
              JS_SUCCEEDED, JS_FAILED };

static const char *const state_names[] = {
    [JS_READY] = "READY",       [JS_STARTING] = "STARTING",
    [JS_RUNNING] = "RUNNING",   [JS_STOPPING] = "STOPPING",
    [JS_STOPPED] = "STOPPED",   [JS_SUCCEEDED] = "SUCCEEDED",
    [JS_FAILED] = "FAILED",
};

struct job {
    char *name;
    char *spec;              /* as stored ("" for none) */
    unsigned run;            /* last run number (0: never ran) */
    enum jstate state;
    bool active;             /* a run thread is under way */
    bool joinable;
    pthread_t thread;
    int cancel;              /* atomic: stop the run */
    sqlite3 *rundb;          /* the run's connection, for interrupt */
    struct srctab_counters in;
    struct writer_counters out;
    double started, ended;   /* seconds since the epoch; ended 0: running */
    char error[2048];
    struct buf log;
    bool log_full;
    bool needs_save;
    struct job *next;
};

/* jobs_lock guards the list and every field of every job; jobs_cond is
 * signalled when a run ends. */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
static struct job *jobs_head;
static struct gluefs *G;

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void iso_time(double t, char *out, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static uint64_t ld(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void st(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static struct job *find(const char *name)
{
    for (struct job *j = jobs_head; j; j = j->next)
        if (!strcmp(j->name, name))
            return j;
    return NULL;
}

static void job_free(struct job *j)
{
    free(j->name);
    free(j->spec);
    buf_release(&j->log);
    free(j);
}

/* ---- the run log (jobs_lock not held by the caller) -------------------- */

static void log_line_locked(struct job *j, const char *line)
{
    if (j->log_full)
        return;
    char ts[32];
    iso_time(now_s(), ts, sizeof ts);
    size_t before = j->log.len;
    if (buf_printf(&j->log, "%s %s\n", ts, line)) {
        /* Keep what fits, and say so once. */
        j->log.len = before;
        if (j->log.data)
            j->log.data[before] = '\0';
        j->log_full = true;
        j->log.max += 64;
        if (buf_puts(&j->log, "... (log truncated)\n"))
            return;
    }
}

static void run_log_cb(void *ctx, const char *line)
{
    struct job *j = ctx;
    pthread_mutex_lock(&jobs_lock);
    log_line_locked(j, line);
    pthread_mutex_unlock(&jobs_lock);
}

static void run_log(struct job *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void run_log(struct job *j, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    run_log_cb(j, line);
}

/* ---- persistence -------------------------------------------------------- */

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " name TEXT PRIMARY KEY,"
    " spec TEXT NOT NULL DEFAULT '',"
    " run INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'READY',"
    " started REAL NOT NULL DEFAULT 0,"
    " ended REAL NOT NULL DEFAULT 0,"
    " bytes_read INTEGER NOT NULL DEFAULT 0,"
    " rows_read INTEGER NOT NULL DEFAULT 0,"
    " total_bytes INTEGER NOT NULL DEFAULT 0,"
    " bytes_written INTEGER NOT NULL DEFAULT 0,"
    " rows_written INTEGER NOT NULL DEFAULT 0,"
    " objects_written INTEGER NOT NULL DEFAULT 0,"
    " bad_rows INTEGER NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '',"
    " log TEXT NOT NULL DEFAULT '')";

/* Save J (jobs_lock held).  Returns 0 or -EIO. */
static int persist_locked(struct job *j)
{
    if (!G || !G->db)
        return 0;
    /* The state store's connection is shared: a statement of ours must
     * not land inside another module's open transaction. */
    if (state_begin(G->db))
        return -EIO;
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        G->db,
        "INSERT INTO jobs (name, spec, run, state, started, ended,"
        " bytes_read, rows_read, total_bytes, bytes_written, rows_written,"
        " objects_written, bad_rows, error, log)"
        " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)"
        " ON CONFLICT(name) DO UPDATE SET spec=?2, run=?3, state=?4,"
        " started=?5, ended=?6, bytes_read=?7, rows_read=?8,"
        " total_bytes=?9, bytes_written=?10, rows_written=?11,"
        " objects_written=?12, bad_rows=?13, error=?14, log=?15",
        -1, &s, NULL);
    if (rc != SQLITE_OK) {
        log_warn("jobs: cannot save job '%s': %s", j->name,
                 sqlite3_errmsg(G->db));
        state_rollback(G->db);
        return -EIO;
    }
    sqlite3_bind_text(s, 1, j->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, j->spec ? j->spec : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, j->run);
    sqlite3_bind_text(s, 4, state_names[j->state], -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 5, j->started);
    sqlite3_bind_double(s, 6, j->ended ? j->ended : now_s());
    sqlite3_bind_int64(s, 7, (sqlite3_int64)ld(&j->in.bytes_read));
    sqlite3_bind_int64(s, 8, (sqlite3_int64)ld(&j->in.rows_read));
    sqlite3_bind_int64(s, 9, (sqlite3_int64)ld(&j->in.total_bytes));
    sqlite3_bind_int64(s, 10, (sqlite3_int64)ld(&j->out.bytes_written));
    sqlite3_bind_int64(s, 11, (sqlite3_int64)ld(&j->out.rows_written));
    sqlite3_bind_int64(s, 12, (sqlite3_int64)ld(&j->out.objects_written));
    sqlite3_bind_int64(s, 13, (sqlite3_int64)ld(&j->in.bad_rows));
    sqlite3_bind_text(s, 14, j->error, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 15, j->log.data ? j->log.data : "",
                      (int)j->log.len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        log_warn("jobs: cannot save job '%s': %s", j->name,
                 sqlite3_errmsg(G->db));
        state_rollback(G->db);
        return -EIO;
    }
    return state_commit(G->db);
}

static enum jstate state_of(const char *s)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (s && !strcmp(s, state_names[i]))
            return (enum jstate)i;
    return JS_READY;
}

static int load_jobs(void)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(G->db,
                           "SELECT name, spec, run, state, started, ended,"
                           " bytes_read, rows_read, total_bytes,"
                           " bytes_written, rows_written, objects_written,"
                           " bad_rows, error, log FROM jobs ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK)
        return -EIO;
    int rc = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        struct job *j = calloc(1, sizeof *j);
        if (!j) {
            rc = -ENOMEM;
            break;
        }
        buf_init(&j->log, JOB_LOG_MAX);
        j->name = strdup((const char *)sqlite3_column_text(s, 0));
        j->spec = strdup((const char *)sqlite3_column_text(s, 1));
        if (!j->name || !j->spec) {
            job_free(j);
            rc = -ENOMEM;
            break;
        }
        j->run = (unsigned)sqlite3_column_int64(s, 2);
        j->state = state_of((const char *)sqlite3_column_text(s, 3));
        j->started = sqlite3_column_double(s, 4);
        j->ended = sqlite3_column_double(s, 5);
        st(&j->in.bytes_read, (uint64_t)sqlite3_column_int64(s, 6));
        st(&j->in.rows_read, (uint64_t)sqlite3_column_int64(s, 7));
        st(&j->in.total_bytes, (uint64_t)sqlite3_column_int64(s, 8));
        st(&j->out.bytes_written, (uint64_t)sqlite3_column_int64(s, 9));
        st(&j->out.rows_written, (uint64_t)sqlite3_column_int64(s, 10));
        st(&j->out.objects_written, (uint64_t)sqlite3_column_int64(s, 11));
        st(&j->in.bad_rows, (uint64_t)sqlite3_column_int64(s, 12));
        snprintf(j->error, sizeof j->error, "%s",
                 (const char *)sqlite3_column_text(s, 13));
        const char *lg = (const char *)sqlite3_column_text(s, 14);
        if (lg && *lg && buf_puts(&j->log, lg))
            j->log_full = true;
        if (j->state == JS_STARTING || j->state == JS_RUNNING ||
            j->state == JS_STOPPING) {
            /* The mount died under the run. */
            j->state = JS_FAILED;
            snprintf(j->error, sizeof j->error, "interrupted");
            log_line_locked(j, "interrupted: the mount ended during the "
                            "run");
            j->needs_save = true;
        }
        j->next = jobs_head;
        jobs_head = j;
    }
    sqlite3_finalize(s);
    /* Saved after the listing, not while its statement is open. */
    for (struct job *j = jobs_head; j; j = j->next)
        if (j->needs_save) {
            j->needs_save = false;
            persist_locked(j);
        }
    return rc;
}

int jobs_start(struct gluefs *g)
{
    G = g;
    if (!g || !g->db)
        return -EINVAL;
    if (state_exec(g->db, create_sql))
        return -EIO;
    pthread_mutex_lock(&jobs_lock);
    int rc = load_jobs();
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

/* ---- a run ---------------------------------------------------------- */

struct auth_ctx {
    bool strict;
    char denied[128]; /* the first thing refused, for the message */
};

static const char *action_name(int code)
{
    switch (code) {
    case SQLITE_ATTACH: return "ATTACH";
    case SQLITE_DETACH: return "DETACH";
    case SQLITE_PRAGMA: return "PRAGMA";
    case SQLITE_INSERT: return "INSERT";
    case SQLITE_UPDATE: return "UPDATE";
    case SQLITE_DELETE: return "DELETE";
    case SQLITE_TRANSACTION: return "a transaction";
    case SQLITE_SAVEPOINT: return "SAVEPOINT";
    case SQLITE_ALTER_TABLE: return "ALTER TABLE";
    case SQLITE_REINDEX: return "REINDEX";
    case SQLITE_ANALYZE: return "ANALYZE";
    case SQLITE_CREATE_VTABLE:
    case SQLITE_CREATE_INDEX: case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_TEMP_INDEX: case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER: case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_CREATE_TRIGGER: case SQLITE_CREATE_VIEW: return "CREATE";
    case SQLITE_DROP_VTABLE:
    case SQLITE_DROP_INDEX: case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_INDEX: case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER: case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_TRIGGER: case SQLITE_DROP_VIEW: return "DROP";
    default: return "this statement";
    }
}

/* Only reads: SELECT, reading columns, functions (but not
 * load_extension) and recursive CTEs. */
static int authorizer(void *ctx, int code, const char *a, const char *b,
                      const char *dbname, const char *trigger)
{
    struct auth_ctx *ac = ctx;
    (void)dbname;
    (void)trigger;
    if (!ac->strict)
        return SQLITE_OK;
    switch (code) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_UPDATE:
        /* SQLite itself asks this when it first connects an eponymous
         * table such as json_each().  A user's UPDATE never runs: the
         * statement must be read-only, and DEFENSIVE forbids writing
         * the schema. */
        if (a && (!strcmp(a, "sqlite_master") ||
                  !strcmp(a, "sqlite_temp_master")))
            return SQLITE_OK;
        break;
    case SQLITE_FUNCTION:
        if (b && (!strcasecmp(b, "load_extension") ||
                  !strcasecmp(b, "fts3_tokenizer"))) {
            if (!ac->denied[0])
                snprintf(ac->denied, sizeof ac->denied, "%s()", b);
            return SQLITE_DENY;
        }
        return SQLITE_OK;
    default:
        break;
    }
    if (!ac->denied[0])
        snprintf(ac->denied, sizeof ac->denied, "%s",
                 action_name(code));
    return SQLITE_DENY;
}

struct run {
    struct job *j;
    struct spec *spec;
    sqlite3 *db;
    struct srctab_env env;
    struct srctab_source *srcs[SPEC_MAX_SOURCES];
    size_t nsrcs;
    struct writer *w;
    sqlite3_stmt *stmt;
    struct auth_ctx auth;
    char **old;          /* overwrite: objects under the target before */
    size_t nold, aold;
    enum spec_format format;
    unsigned runno;
    unsigned first_n;    /* past part-<run>-<n> objects already there */
    char err[2048];
};

static int fail(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct run *r, const char *fmt, ...)
{
    if (!r->err[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof r->err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static bool cancelled(const struct run *r)
{
    return __atomic_load_n(&r->j->cancel, __ATOMIC_RELAXED) != 0;
}

static int open_db(struct run *r)
{
    /* "": a private temporary database; it spills to disk rather than
     * growing memory when a join or ORDER BY must hold rows. */
    if (sqlite3_open_v2("", &r->db, SQLITE_OPEN_READWRITE |
                                        SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return fail(r, "cannot open the run's SQL engine: %s",
                    r->db ? sqlite3_errmsg(r->db) : "out of memory");
    int off = 0, on = 1;
    sqlite3_db_config(r->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &off);
    sqlite3_db_config(r->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on);
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
    sqlite3_db_config(r->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &off);
#endif
    sqlite3_limit(r->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(r->db, SQLITE_LIMIT_LENGTH, SQL_LENGTH_LIMIT);
    sqlite3_limit(r->db, SQLITE_LIMIT_SQL_LENGTH, SPEC_MAX_TEXT + 4096);
    sqlite3_set_authorizer(r->db, authorizer, &r->auth);
    if (srctab_register(r->db, &r->env))
        return fail(r, "cannot register the source tables");
    pthread_mutex_lock(&jobs_lock);
    r->j->rundb = r->db;
    pthread_mutex_unlock(&jobs_lock);
    return 0;
}

static void log_source(struct run *r, const struct srctab_source *s)
{
    struct buf b;
    buf_init(&b, 3500);
    int rc = 0;
    for (size_t i = 0; !rc && i < s->ncols; i++)
        rc = buf_printf(&b, "%s%s %s", i ? ", " : "", s->cols[i].name,
                        s->cols[i].type);
    for (size_t i = 0; !rc && i < s->npkeys; i++)
        rc = buf_printf(&b, "%s%s %s (partition)", i || s->ncols ? ", " : "",
                        s->pkeys[i].name, s->pkeys[i].type);
    run_log(r->j, "source '%s': %s at %s, %s, %zu objects, %llu bytes; "
            "columns: %s%s", s->name, s->origin, s->location,
            s->fmt.classification, s->nobjs, (unsigned long long)s->bytes,
            b.data ? b.data : "", rc ? " ..." : "");
    buf_release(&b);
}

static bool overlaps(const char *b1, const char *p1, const char *b2,
                     const char *p2)
{
    if (strcmp(b1, b2))
        return false;
    size_t n1 = strlen(p1), n2 = strlen(p2);
    return !strncmp(p1, p2, n1 < n2 ? n1 : n2);
}

static int resolve_sources(struct run *r)
{
    const struct spec *sp = r->spec;
    for (size_t i = 0; i < sp->nsources; i++) {
        char err[1024] = "";
        struct srctab_source *s = NULL;
        if (sp->sources[i].is_s3 &&
            !gluefs_bucket_allowed(G, sp->sources[i].bucket))
            return fail(r, "source '%s': bucket '%s' is not among the "
                        "mount's buckets", sp->sources[i].ref,
                        sp->sources[i].bucket);
        int rc = srctab_resolve(&r->env, &sp->sources[i], &s, err,
                                sizeof err);
        if (rc)
            return fail(r, "%s", err[0] ? err : strerror(-rc));
        r->srcs[r->nsrcs++] = s;
        log_source(r, s);
        if (overlaps(s->bucket, s->prefix, sp->target_bucket,
                     sp->target_prefix))
            return fail(r, "target '%s' overlaps source '%s' (%s): a job "
                        "cannot write where it reads", sp->target,
                        sp->sources[i].ref, s->location);
        if (cancelled(r))
            return -1;
    }
    r->env.sources = r->srcs;
    r->env.nsources = r->nsrcs;
    return 0;
}

struct old_ctx {
    struct run *r;
    int err;
};

static int old_cb(void *ctx, const struct store_entry *e)
{
    struct old_ctx *o = ctx;
    struct run *r = o->r;
    size_t n = strlen(e->key);
    if (e->is_prefix || !n || e->key[n - 1] == '/')
        return 0; /* folder markers stay */
    /* A part of the same run number (a job made again under the same
     * name, or another job with the same target) is never overwritten. */
    const char *base = strrchr(e->key, '/');
    base = base ? base + 1 : e->key;
    char pre[32];
    int pl = snprintf(pre, sizeof pre, "part-%u-", r->runno);
    if (!strncmp(base, pre, (size_t)pl)) {
        char *end;
        unsigned long v = strtoul(base + pl, &end, 10);
        if (end != base + pl && v < 100000000 && v + 1 > r->first_n)
            r->first_n = (unsigned)v + 1;
    }
    if (r->spec->mode == SPEC_MODE_APPEND)
        return 0;
    if (r->nold >= OLD_OBJECTS_MAX) {
        o->err = -E2BIG;
        return -E2BIG;
    }
    if (r->nold == r->aold) {
        size_t na = r->aold ? r->aold * 2 : 64;
        char **no = realloc(r->old, na * sizeof *no);
        if (!no)
            return -ENOMEM;
        r->old = no;
        r->aold = na;
    }
    r->old[r->nold] = strdup(e->key);
    if (!r->old[r->nold])
        return -ENOMEM;
    r->nold++;
    return 0;
}

static int check_target(struct run *r)
{
    const struct spec *sp = r->spec;
    struct store *s = G->store;
    struct old_ctx o = {.r = r};
    int rc = s->ops->list(s, sp->target_bucket, sp->target_prefix, NULL,
                          old_cb, &o);
    if (rc == -ENOENT)
        return fail(r, "target '%s': no such bucket", sp->target);
    if (rc)
        return fail(r, "cannot list target '%s': %s", sp->target,
                    rc == -E2BIG ? "too many objects to overwrite"
                                 : strerror(-rc));
    if (sp->mode == SPEC_MODE_ERROR_IF_EXISTS && r->nold)
        return fail(r, "target '%s' already holds objects (e.g. "
                    "'s3://%s/%s'), and mode is error_if_exists", sp->target,
                    sp->target_bucket, r->old[0]);
    if (sp->mode == SPEC_MODE_OVERWRITE)
        run_log(r->j, "mode overwrite: %zu objects under %s will be "
                "replaced if the run succeeds", r->nold, sp->target);
    return 0;
}

static int exec_setup(struct run *r, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail(r, "%s", msg ? msg : sqlite3_errmsg(r->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* One source: its virtual table is the table.  Several: each is read
 * once into a table of the run's database, so a join never re-reads the
 * store once per outer row. */
/* A source named like "rainy-days" (an s3:// folder) can also be read as
 * rainy_days, without quotes: a view under the Glue-style name. */
static int add_alias(struct run *r, const char *name)
{
    char alias[256];
    size_t n = strlen(name);
    if (n >= sizeof alias)
        return 0;
    bool differs = false;
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        bool ok = !c || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_';
        alias[i] = ok ? c : '_';
        differs |= !ok;
    }
    if (!differs || (alias[0] >= '0' && alias[0] <= '9'))
        return 0;
    for (size_t i = 0; i < r->nsrcs; i++)
        if (!strcasecmp(r->srcs[i]->name, alias))
            return 0; /* a source has that name itself */
    struct buf sql;
    buf_init(&sql, 4096);
    int rc = buf_printf(&sql, "CREATE TEMP VIEW IF NOT EXISTS \"%s\" AS "
                        "SELECT * FROM ", alias);
    if (!rc)
        rc = srctab_quote_ident(&sql, name);
    if (!rc) {
        char *msg = NULL;
        if (sqlite3_exec(r->db, sql.data, NULL, NULL, &msg) == SQLITE_OK)
            run_log(r->j, "source '%s' can also be read as %s", name,
                    alias);
        sqlite3_free(msg);
    }
    buf_release(&sql);
    return 0;
}

static int create_tables(struct run *r, bool load)
{
    char err[1024] = "";
    if (r->nsrcs == 1 && !load) {
        if (srctab_create(r->db, 0, r->srcs[0]->name, err, sizeof err))
            return fail(r, "source '%s': %s", r->srcs[0]->name, err);
        return add_alias(r, r->srcs[0]->name);
    }
    for (size_t i = 0; i < r->nsrcs; i++) {
        char vname[64];
        snprintf(vname, sizeof vname, "gluefs_src_%zu", i);
        if (srctab_create(r->db, i, vname, err, sizeof err))
            return fail(r, "source '%s': %s", r->srcs[i]->name, err);
        struct buf sql;
        buf_init(&sql, 1u << 20);
        int rc = buf_puts(&sql, "CREATE TABLE main.");
        if (!rc)
            rc = srctab_quote_ident(&sql, r->srcs[i]->name);
        if (!rc)
            rc = buf_putc(&sql, '(');
        if (!rc)
            rc = srctab_columns_sql(r->srcs[i], &sql);
        if (!rc)
            rc = buf_puts(&sql, "); INSERT INTO main.");
        if (!rc)
            rc = srctab_quote_ident(&sql, r->srcs[i]->name);
        if (!rc)
            rc = buf_printf(&sql, " SELECT * FROM temp.%s", vname);
        if (rc) {
            buf_release(&sql);
            return fail(r, "out of memory");
        }
        run_log(r->j, "loading source '%s': the sql reads it more than "
                "once", r->srcs[i]->name);
        rc = exec_setup(r, sql.data);
        buf_release(&sql);
        if (rc)
            return rc;
        add_alias(r, r->srcs[i]->name);
    }
    return 0;
}

/* Nothing but whitespace, comments and ';' from P on. */
static bool only_trailer(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
               *p == '\f' || *p == ';')
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p = strchr(p, '\n');
            if (!p)
                return true;
        } else if (p[0] == '/' && p[1] == '*') {
            p = strstr(p + 2, "*/");
            if (!p)
                return true;
            p += 2;
        } else {
            return *p == '\0';
        }
    }
}

static int sql_error(struct run *r, const char *what)
{
    if (r->auth.denied[0])
        return fail(r, "sql: %s is not allowed: a job's sql is one SELECT "
                    "over its sources (%s)", r->auth.denied,
                    sqlite3_errmsg(r->db));
    return fail(r, "sql: %s%s", what ? what : "", sqlite3_errmsg(r->db));
}

static int prepare_sql(struct run *r)
{
    const struct spec *sp = r->spec;
    struct buf sql;
    buf_init(&sql, SPEC_MAX_TEXT + 4096);
    int rc;
    if (sp->sql) {
        rc = buf_puts(&sql, sp->sql);
    } else {
        rc = buf_puts(&sql, "SELECT * FROM ");
        if (!rc)
            rc = srctab_quote_ident(&sql, r->srcs[0]->name);
    }
    if (rc) {
        buf_release(&sql);
        return fail(r, "out of memory");
    }
    run_log(r->j, "sql: %s", sql.data);
    r->auth.strict = true;
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(r->db, sql.data, (int)sql.len, &s, &tail) !=
        SQLITE_OK) {
        buf_release(&sql);
        return sql_error(r, NULL);
    }
    if (!s) {
        buf_release(&sql);
        return fail(r, "sql: no statement");
    }
    if (tail && !only_trailer(tail)) {
        sqlite3_finalize(s);
        buf_release(&sql);
        return fail(r, "sql: only one statement is allowed (a SELECT)");
    }
    if (!sqlite3_stmt_readonly(s) || sqlite3_column_count(s) == 0) {
        const char *p = sql.data;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        size_t wl = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz");
        fail(r, "sql: only a SELECT is allowed, not %.*s", (int)(wl ? wl : 1),
             wl ? p : "?");
        sqlite3_finalize(s);
        buf_release(&sql);
        return -1;
    }
    /* Default partitions for a copy: the source's own. */
    char **pby = sp->partition_by;
    size_t npby = sp->npartition_by;
    char *copy_keys[SPEC_MAX_PARTITION_BY];
    if (!sp->sql && !npby && r->srcs[0]->npkeys) {
        for (size_t i = 0;
             i < r->srcs[0]->npkeys && i < SPEC_MAX_PARTITION_BY; i++)
            copy_keys[npby++] = r->srcs[0]->pkeys[i].name;
        pby = copy_keys;
        run_log(r->j, "copy keeps the source's %zu partition keys", npby);
    }
    if (npby) {
        /* Sorted by the partition columns: one part open at a time. */
        size_t stmt_len = (size_t)(tail - sql.data);
        struct buf w;
        buf_init(&w, SPEC_MAX_TEXT + 8192);
        rc = buf_puts(&w, "SELECT * FROM (\n");
        if (!rc)
            rc = buf_append(&w, sql.data, stmt_len);
        /* a trailing ';' cannot stand inside the parentheses */
        while (!rc && w.len && (w.data[w.len - 1] == ';' ||
                                w.data[w.len - 1] == ' ' ||
                                w.data[w.len - 1] == '\n' ||
                                w.data[w.len - 1] == '\t' ||
                                w.data[w.len - 1] == '\r'))
            w.data[--w.len] = '\0';
        if (!rc)
            rc = buf_puts(&w, "\n) ORDER BY ");
        for (size_t i = 0; !rc && i < npby; i++) {
            if (i)
                rc = buf_puts(&w, ", ");
            if (!rc)
                rc = srctab_quote_ident(&w, pby[i]);
        }
        if (rc) {
            buf_release(&w);
            sqlite3_finalize(s);
            buf_release(&sql);
            return fail(r, "out of memory");
        }
        /* Check the names on the first statement: a clearer message. */
        char err[1024] = "";
        struct writer_opts o = {.store = G->store, .bucket = "", .prefix = "",
                                .format = r->format,
                                .counters = &r->j->out};
        struct writer *probe = NULL;
        rc = writer_new(&o, s, pby, npby, &probe, err, sizeof err);
        writer_free(probe);
        sqlite3_finalize(s);
        s = NULL;
        if (rc) {
            buf_release(&w);
            buf_release(&sql);
            return fail(r, "%s", err);
        }
        if (sqlite3_prepare_v2(r->db, w.data, (int)w.len, &s, NULL) !=
            SQLITE_OK) {
            buf_release(&w);
            buf_release(&sql);
            return sql_error(r, "partition_by: ");
        }
        buf_release(&w);
    }
    buf_release(&sql);
    r->stmt = s;
    char err[1024] = "";
    struct writer_opts o = {
        .store = G->store,
        .bucket = sp->target_bucket,
        .prefix = sp->target_prefix,
        .format = r->format,
        .comp = sp->compression,
        .run = r->runno,
        .first_n = r->first_n,
        .counters = &r->j->out,
        .log = run_log_cb,
        .log_ctx = r->j,
    };
    rc = writer_new(&o, r->stmt, pby, npby, &r->w, err, sizeof err);
    if (rc)
        return fail(r, "%s", err);
    return 0;
}

/* How many times the statement opens a virtual table (EXPLAIN's VOpen):
 * more than one means a source would be scanned more than once. */
static int scans_of(struct run *r)
{
    struct buf sql;
    buf_init(&sql, SPEC_MAX_TEXT + 16384);
    int n = 0;
    sqlite3_stmt *e = NULL;
    if (!buf_puts(&sql, "EXPLAIN ") &&
        !buf_puts(&sql, sqlite3_sql(r->stmt)) &&
        sqlite3_prepare_v2(r->db, sql.data, (int)sql.len, &e, NULL) ==
            SQLITE_OK) {
        while (sqlite3_step(e) == SQLITE_ROW) {
            const char *op = (const char *)sqlite3_column_text(e, 1);
            if (op && !strcmp(op, "VOpen"))
                n++;
        }
    }
    sqlite3_finalize(e);
    buf_release(&sql);
    return n;
}

static void maybe_persist(struct run *r, double *last)
{
    double t = now_s();
    if (t - *last < PERSIST_EVERY)
        return;
    *last = t;
    pthread_mutex_lock(&jobs_lock);
    persist_locked(r->j);
    pthread_mutex_unlock(&jobs_lock);
}

static int run_rows(struct run *r)
{
    double last = now_s();
    uint64_t n = 0;
    for (;;) {
        int rc = sqlite3_step(r->stmt);
        if (rc == SQLITE_ROW) {
            if (writer_row(r->w, r->stmt))
                return fail(r, "%s", writer_error(r->w));
            if ((++n & 1023) == 0)
                maybe_persist(r, &last);
            continue;
        }
        if (rc == SQLITE_DONE)
            return 0;
        if (cancelled(r) || rc == SQLITE_INTERRUPT)
            return -1;
        /* A source that cannot be read names its object itself. */
        const char *msg = sqlite3_errmsg(r->db);
        if (!strncmp(msg, "cannot read '", 13))
            return fail(r, "%s", msg);
        return sql_error(r, NULL);
    }
}

static int delete_old(struct run *r)
{
    struct store *s = G->store;
    size_t deleted = 0;
    for (size_t i = 0; i < r->nold; i++) {
        if (writer_wrote(r->w, r->old[i]))
            continue;
        int rc = s->ops->del(s, r->spec->target_bucket, r->old[i]);
        if (rc)
            return fail(r, "overwrite: cannot delete old object "
                        "'s3://%s/%s': %s", r->spec->target_bucket,
                        r->old[i], strerror(-rc));
        gluefs_object_changed(r->spec->target_bucket, r->old[i]);
        deleted++;
    }
    run_log(r->j, "mode overwrite: deleted %zu old object%s", deleted,
            deleted == 1 ? "" : "s");
    return 0;
}

struct old_parts {
    struct partition *p;
    size_t n, a;
    size_t nkeys;
};

static int old_part_cb(void *ctx, const struct partition *p)
{
    struct old_parts *o = ctx;
    if (p->nvalues != o->nkeys)
        return 0;
    if (o->n == o->a) {
        size_t na = o->a ? o->a * 2 : 16;
        struct partition *np = realloc(o->p, na * sizeof *np);
        if (!np)
            return -ENOMEM;
        o->p = np;
        o->a = na;
    }
    struct partition *d = &o->p[o->n];
    memset(d, 0, sizeof *d);
    d->values = calloc(p->nvalues + 1, sizeof *d->values);
    d->location = strdup(p->location ? p->location : "");
    if (!d->values || !d->location) {
        free(d->values);
        free(d->location);
        return -ENOMEM;
    }
    d->nvalues = p->nvalues;
    o->n++;
    for (size_t i = 0; i < p->nvalues; i++) {
        d->values[i] = strdup(p->values[i] ? p->values[i] : "");
        if (!d->values[i])
            return -ENOMEM;
    }
    return 0;
}

/* target_table: the output as a catalog table. */
static int register_table(struct run *r)
{
    const struct spec *sp = r->spec;
    struct writer *w = r->w;
    struct table_def t;
    memset(&t, 0, sizeof t);
    t.database = sp->target_database;
    t.name = sp->target_table;
    t.location = sp->target;
    snprintf(t.fmt.classification, sizeof t.fmt.classification, "%s",
             spec_format_name(r->format));
    snprintf(t.fmt.compression, sizeof t.fmt.compression, "%s",
             compression_name(sp->compression));
    t.fmt.delimiter = ',';
    t.fmt.header = r->format == SPEC_FORMAT_CSV;
    t.fmt.quoted = r->format == SPEC_FORMAT_CSV;
    t.ncols = writer_ncols(w);
    t.npkeys = writer_npkeys(w);
    t.cols = calloc(t.ncols + 1, sizeof *t.cols);
    t.pkeys = calloc(t.npkeys + 1, sizeof *t.pkeys);
    struct old_parts op = {.nkeys = t.npkeys};
    struct table_def *prev = NULL;
    int rc = (t.cols && t.pkeys) ? 0 : -ENOMEM;
    for (size_t i = 0; !rc && i < t.ncols; i++) {
        t.cols[i].name = (char *)writer_col_name(w, i);
        t.cols[i].type = (char *)writer_col_type(w, i);
    }
    for (size_t i = 0; !rc && i < t.npkeys; i++) {
        t.pkeys[i].name = (char *)writer_pkey_name(w, i);
        t.pkeys[i].type = (char *)writer_pkey_type(w, i);
    }
    double now = now_s();
    t.objects = ld(&r->j->out.objects_written);
    t.bytes = ld(&r->j->out.bytes_written);
    t.record_count = ld(&r->j->out.rows_written);
    t.avg_record_size = t.record_count ? (double)t.bytes /
                                             (double)t.record_count : 0;
    t.created = t.updated = t.last_crawl = (int64_t)now;
    if (!rc && !catalog_get_table(G->db, t.database, t.name, &prev)) {
        if (prev->created)
            t.created = prev->created;
        /* append: the partitions of earlier runs stay listed */
        if (sp->mode == SPEC_MODE_APPEND && prev->npkeys == t.npkeys &&
            prev->location && !strcmp(prev->location, t.location))
            rc = catalog_list_partitions(G->db, t.database, t.name,
                                         old_part_cb, &op);
    }
    if (!rc)
        rc = catalog_put_table(G->db, &t);
    size_t np = writer_npartitions(w);
    struct partition *parts = NULL;
    size_t kold = 0, k = 0;
    if (!rc && t.npkeys) {
        /* Earlier runs' partitions (shallow copies: op owns them), then
         * this run's (values borrowed from the writer). */
        parts = calloc(np + op.n + 1, sizeof *parts);
        rc = parts ? 0 : -ENOMEM;
        for (size_t i = 0; !rc && i < op.n; i++) {
            bool dup = false;
            for (size_t m = 0; m < np && !dup; m++) {
                const char *pp = writer_partition_path(w, m);
                size_t tl = strlen(sp->target);
                dup = !strncmp(op.p[i].location, sp->target, tl) &&
                      !strcmp(op.p[i].location + tl, pp);
            }
            if (!dup)
                parts[kold++] = op.p[i];
        }
        k = kold;
        for (size_t m = 0; !rc && m < np; m++) {
            size_t n = strlen(sp->target) +
                       strlen(writer_partition_path(w, m)) + 1;
            parts[k].location = malloc(n);
            if (!parts[k].location) {
                rc = -ENOMEM;
                break;
            }
            snprintf(parts[k].location, n, "%s%s", sp->target,
                     writer_partition_path(w, m));
            parts[k].values = (char **)writer_partition_values(w, m);
            parts[k].nvalues = t.npkeys;
            k++;
        }
        if (!rc)
            rc = catalog_put_partitions(G->db, t.database, t.name, parts, k);
        for (size_t m = kold; m < k; m++)
            free(parts[m].location);
    }
    for (size_t i = 0; i < op.n; i++)
        partition_release(&op.p[i]);
    free(op.p);
    free(parts);
    free(t.cols);
    free(t.pkeys);
    table_def_free(prev);
    if (rc)
        return fail(r, "target_table %s.%s: cannot register it in the "
                    "catalog: %s", sp->target_database, sp->target_table,
                    strerror(-rc));
    run_log(r->j, "registered catalog table %s.%s (%zu columns, %zu "
            "partition keys)", sp->target_database, sp->target_table,
            t.ncols, t.npkeys);
    return 0;
}

static void run_release(struct run *r)
{
    if (r->stmt)
        sqlite3_finalize(r->stmt);
    pthread_mutex_lock(&jobs_lock);
    r->j->rundb = NULL;
    pthread_mutex_unlock(&jobs_lock);
    if (r->db)
        sqlite3_close_v2(r->db);
    writer_free(r->w);
    for (size_t i = 0; i < r->nsrcs; i++)
        srctab_source_free(r->srcs[i]);
    for (size_t i = 0; i < r->nold; i++)
        free(r->old[i]);
    free(r->old);
    spec_free(r->spec);
}

/* The body of a run; 0 when it succeeded. */
static int run_body(struct run *r, const char *spec_text)
{
    char err[1024];
    if (spec_parse(spec_text, strlen(spec_text), &r->spec, err, sizeof err))
        return fail(r, "%s", err);
    r->env.store = G->store;
    r->env.catalog = G->db;
    r->env.counters = &r->j->in;
    r->env.cancel = &r->j->cancel;
    r->env.log = run_log_cb;
    r->env.log_ctx = r->j;
    if (!gluefs_bucket_allowed(G, r->spec->target_bucket))
        return fail(r, "target '%s': bucket '%s' is not among the mount's "
                    "buckets", r->spec->target, r->spec->target_bucket);
    if (open_db(r) || resolve_sources(r) || check_target(r))
        return -1;
    r->format = r->spec->format;
    if (r->format == SPEC_FORMAT_DEFAULT)
        r->format = !strcmp(r->srcs[0]->fmt.classification, "csv")
                        ? SPEC_FORMAT_CSV
                        : SPEC_FORMAT_JSON;
    bool load = r->nsrcs > 1;
    if (create_tables(r, load) || cancelled(r) || prepare_sql(r))
        return -1;
    if (!load && scans_of(r) > 1) {
        /* A self-join or a correlated subquery would read the store once
         * per use: read it once into the run's database instead. */
        sqlite3_finalize(r->stmt);
        r->stmt = NULL;
        writer_free(r->w);
        r->w = NULL;
        r->auth.strict = false;
        r->auth.denied[0] = '\0';
        struct buf drop;
        buf_init(&drop, 4096);
        int rc = buf_puts(&drop, "DROP TABLE temp.");
        if (!rc)
            rc = srctab_quote_ident(&drop, r->srcs[0]->name);
        rc = rc ? fail(r, "out of memory") : exec_setup(r, drop.data);
        buf_release(&drop);
        if (rc || create_tables(r, true) || cancelled(r) || prepare_sql(r))
            return -1;
    }
    run_log(r->j, "writing %s%s%s to %s (mode %s)",
            spec_format_name(r->format),
            r->spec->compression ? ", compressed with " : "",
            r->spec->compression ? compression_name(r->spec->compression)
                                 : "",
            r->spec->target, spec_mode_name(r->spec->mode));
    if (run_rows(r) || writer_finish(r->w)) {
        if (!r->err[0] && !cancelled(r))
            fail(r, "%s", writer_error(r->w));
        return -1;
    }
    if (cancelled(r))
        return -1;
    if (r->spec->mode == SPEC_MODE_OVERWRITE && delete_old(r))
        return -1;
    if (writer_put_success(r->w))
        return fail(r, "%s", writer_error(r->w));
    return 0;
}

static void *run_thread(void *arg)
{
    struct job *j = arg;
    struct run r;
    memset(&r, 0, sizeof r);
    r.j = j;
    pthread_mutex_lock(&jobs_lock);
    char *spec_text = strdup(j->spec ? j->spec : "");
    r.runno = j->run;
    if (j->state == JS_STARTING)
        j->state = JS_RUNNING;
    persist_locked(j);
    pthread_mutex_unlock(&jobs_lock);

    int rc = spec_text ? run_body(&r, spec_text) : fail(&r, "out of memory");
    bool registered_ok = true;
    if (!rc && r.spec->target_table && !cancelled(&r))
        registered_ok = register_table(&r) == 0;
    if (rc && r.w)
        writer_abort(r.w); /* a failed run leaves no parts behind */
    bool stopped = rc && cancelled(&r);
    run_release(&r);
    free(spec_text);

    pthread_mutex_lock(&jobs_lock);
    j->ended = now_s();
    if (stopped) {
        j->state = JS_STOPPED;
        j->error[0] = '\0';
        log_line_locked(j, "stopped");
    } else if (rc || !registered_ok) {
        j->state = JS_FAILED;
        snprintf(j->error, sizeof j->error, "%s",
                 r.err[0] ? r.err : "failed");
        char line[2200];
        snprintf(line, sizeof line, "failed: %s", j->error);
        log_line_locked(j, line);
        log_warn("job '%s' run %u failed: %s", j->name, j->run, j->error);
    } else {
        j->state = JS_SUCCEEDED;
        char line[256];
        snprintf(line, sizeof line, "succeeded: %llu rows read, %llu rows "
                 "written in %llu objects, %llu bad rows, %.1f s",
                 (unsigned long long)ld(&j->in.rows_read),
                 (unsigned long long)ld(&j->out.rows_written),
                 (unsigned long long)ld(&j->out.objects_written),
                 (unsigned long long)ld(&j->in.bad_rows),
                 j->ended - j->started);
        log_line_locked(j, line);
    }
    persist_locked(j);
    j->active = false;
    pthread_cond_broadcast(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
    return NULL;
}

/* Start a run of J's stored spec (jobs_lock held). */
static int start_run_locked(struct job *j)
{
    if (j->active)
        return -EBUSY;
    if (!G || !G->store)
        return -EIO; /* jobs_start has not run */
    if (j->joinable) {
        pthread_join(j->thread, NULL); /* ended: returns at once */
        j->joinable = false;
    }
    j->run++;
    j->state = JS_STARTING;
    __atomic_store_n(&j->cancel, 0, __ATOMIC_RELAXED);
    memset(&j->in, 0, sizeof j->in);
    memset(&j->out, 0, sizeof j->out);
    j->started = now_s();
    j->ended = 0;
    j->error[0] = '\0';
    buf_reset(&j->log);
    j->log.max = JOB_LOG_MAX;
    j->log_full = false;
    char line[64];
    snprintf(line, sizeof line, "started run %u", j->run);
    log_line_locked(j, line);
    persist_locked(j);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20); /* SQLite recursion */
    int rc = pthread_create(&j->thread, &attr, run_thread, j);
    pthread_attr_destroy(&attr);
    if (rc) {
        j->state = JS_FAILED;
        j->ended = now_s();
        snprintf(j->error, sizeof j->error, "cannot start the run: %s",
                 strerror(rc));
        persist_locked(j);
        return -rc;
    }
    j->joinable = true;
    j->active = true;
    return 0;
}

/* ---- the control files ------------------------------------------------ */

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (!n || n > JOB_NAME_MAX || strchr(name, '/') || !strcmp(name, ".") ||
        !strcmp(name, ".."))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20)
            return -EINVAL;
    return 0;
}

int jobs_list(int (*cb)(void *ctx, const char *name), void *ctx)
{
    /* Names are copied so that CB runs without the lock. */
    pthread_mutex_lock(&jobs_lock);
    size_t n = 0;
    for (struct job *j = jobs_head; j; j = j->next)
        n++;
    char **names = calloc(n + 1, sizeof *names);
    size_t k = 0;
    for (struct job *j = jobs_head; names && j; j = j->next)
        if ((names[k] = strdup(j->name)))
            k++;
    pthread_mutex_unlock(&jobs_lock);
    if (!names)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        if (!rc) {
            int r = cb(ctx, names[i]);
            if (r < 0)
                rc = r;
            else if (r > 0)
                rc = 1;
        }
        free(names[i]);
    }
    free(names);
    return rc < 0 ? rc : 0;
}

int job_exists(const char *name)
{
    pthread_mutex_lock(&jobs_lock);
    int rc = find(name) ? 0 : -ENOENT;
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

int job_create(const char *name)
{
    int rc = name_ok(name);
    if (rc)
        return rc;
    pthread_mutex_lock(&jobs_lock);
    if (find(name)) {
        pthread_mutex_unlock(&jobs_lock);
        return -EEXIST;
    }
    struct job *j = calloc(1, sizeof *j);
    if (!j || !(j->name = strdup(name)) || !(j->spec = strdup(""))) {
        if (j)
            job_free(j);
        pthread_mutex_unlock(&jobs_lock);
        return -ENOMEM;
    }
    buf_init(&j->log, JOB_LOG_MAX);
    j->state = JS_READY;
    rc = persist_locked(j);
    if (rc) {
        job_free(j);
    } else {
        j->next = jobs_head;
        jobs_head = j;
    }
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

/* Ask J's run to stop (jobs_lock held). */
static void stop_locked(struct job *j)
{
    if (!j->active)
        return;
    __atomic_store_n(&j->cancel, 1, __ATOMIC_RELAXED);
    if (j->state == JS_STARTING || j->state == JS_RUNNING)
        j->state = JS_STOPPING;
    if (j->rundb)
        sqlite3_interrupt(j->rundb);
}

int job_remove(const char *name)
{
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    if (!j) {
        pthread_mutex_unlock(&jobs_lock);
        return -ENOENT;
    }
    stop_locked(j);
    while (j->active)
        pthread_cond_wait(&jobs_cond, &jobs_lock);
    /* Another remove may have won while we waited. */
    struct job **pp = &jobs_head;
    while (*pp && *pp != j)
        pp = &(*pp)->next;
    if (!*pp) {
        pthread_mutex_unlock(&jobs_lock);
        return -ENOENT;
    }
    *pp = j->next;
    if (j->joinable)
        pthread_join(j->thread, NULL);
    if (G && G->db && !state_begin(G->db)) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(G->db, "DELETE FROM jobs WHERE name = ?1", -1,
                               &s, NULL) == SQLITE_OK) {
            sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(s) != SQLITE_DONE)
                log_warn("jobs: cannot delete job '%s': %s", name,
                         sqlite3_errmsg(G->db));
        }
        sqlite3_finalize(s);
        if (state_commit(G->db))
            log_warn("jobs: cannot delete job '%s'", name);
    }
    pthread_mutex_unlock(&jobs_lock);
    job_free(j);
    return 0;
}

int job_set_spec(const char *name, const char *text, size_t len)
{
    struct spec *sp = NULL;
    char err[1024] = "";
    int prc = spec_parse(text, len, &sp, err, sizeof err);
    spec_free(sp);
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    int rc = 0;
    if (!j) {
        rc = -ENOENT;
    } else if (j->active) {
        rc = -EBUSY;
    } else if (prc) {
        /* The previous spec stays; status says why this one failed. */
        j->state = JS_FAILED;
        snprintf(j->error, sizeof j->error, "%s",
                 err[0] ? err : strerror(-prc));
        log_line_locked(j, j->error);
        persist_locked(j);
        log_info("job '%s': spec rejected: %s", name, j->error);
        rc = prc == -ENOMEM ? -ENOMEM : -EINVAL;
    } else {
        char *copy = strndup(text, len);
        if (!copy) {
            rc = -ENOMEM;
        } else {
            free(j->spec);
            j->spec = copy;
            rc = start_run_locked(j);
        }
    }
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

int job_read_spec(const char *name, struct buf *out)
{
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    int rc = j ? buf_puts(out, j->spec ? j->spec : "") : -ENOENT;
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

static int render_locked(const struct job *j, struct buf *out)
{
    uint64_t total = ld(&j->in.total_bytes), got = ld(&j->in.bytes_read);
    unsigned pct;
    if (j->state == JS_SUCCEEDED)
        pct = 100;
    else if (!total)
        pct = 0;
    else {
        double p = 100.0 * (double)got / (double)total;
        pct = p >= 99 ? 99 : (unsigned)p;
    }
    char bar[21];
    unsigned fill = pct / 5;
    for (unsigned i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    char started[32] = "";
    if (j->started)
        iso_time(j->started, started, sizeof started);
    double elapsed = 0;
    if (j->started)
        elapsed = (j->ended ? j->ended : now_s()) - j->started;
    if (elapsed < 0)
        elapsed = 0;
    /* One line, whatever the message holds (a spec value may span
     * lines). */
    char error[sizeof j->error];
    snprintf(error, sizeof error, "%s", j->error);
    for (char *p = error; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    return buf_printf(out,
                      "state: %s\n"
                      "run: %u\n"
                      "progress: %u%% [%s]\n"
                      "bytes_read: %llu\n"
                      "rows_read: %llu\n"
                      "bytes_written: %llu\n"
                      "rows_written: %llu\n"
                      "objects_written: %llu\n"
                      "bad_rows: %llu\n"
                      "started: %s\n"
                      "elapsed: %.1f\n"
                      "error: %s\n",
                      state_names[j->state], j->run, pct, bar,
                      (unsigned long long)got,
                      (unsigned long long)ld(&j->in.rows_read),
                      (unsigned long long)ld(&j->out.bytes_written),
                      (unsigned long long)ld(&j->out.rows_written),
                      (unsigned long long)ld(&j->out.objects_written),
                      (unsigned long long)ld(&j->in.bad_rows), started,
                      elapsed, error);
}

int job_read_status(const char *name, struct buf *out)
{
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    int rc = j ? render_locked(j, out) : -ENOENT;
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

int job_read_log(const char *name, struct buf *out)
{
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    int rc = j ? (j->log.len ? buf_append(out, j->log.data, j->log.len) : 0)
               : -ENOENT;
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

int job_wait(const char *name, struct buf *out)
{
    pthread_mutex_lock(&jobs_lock);
    struct job *j;
    while ((j = find(name)) && j->active)
        pthread_cond_wait(&jobs_cond, &jobs_lock);
    int rc = j ? render_locked(j, out) : -ENOENT;
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

int job_ctl(const char *name, const char *cmd, size_t len)
{
    while (len && (cmd[len - 1] == '\n' || cmd[len - 1] == ' ' ||
                   cmd[len - 1] == '\t' || cmd[len - 1] == '\r'))
        len--;
    bool run = len == 3 && !memcmp(cmd, "run", 3);
    bool stop = len == 4 && !memcmp(cmd, "stop", 4);
    pthread_mutex_lock(&jobs_lock);
    struct job *j = find(name);
    int rc = 0;
    if (!j)
        rc = -ENOENT;
    else if (!run && !stop)
        rc = -EINVAL;
    else if (stop)
        stop_locked(j);
    else if (!j->spec || !j->spec[0])
        rc = -EINVAL; /* nothing to run yet */
    else
        rc = start_run_locked(j);
    pthread_mutex_unlock(&jobs_lock);
    return rc;
}

void jobs_shutdown(void)
{
    pthread_mutex_lock(&jobs_lock);
    for (struct job *j = jobs_head; j; j = j->next)
        stop_locked(j);
    for (struct job *j = jobs_head; j; j = j->next) {
        while (j->active)
            pthread_cond_wait(&jobs_cond, &jobs_lock);
        if (j->joinable) {
            pthread_join(j->thread, NULL);
            j->joinable = false;
        }
    }
    pthread_mutex_unlock(&jobs_lock);
}
