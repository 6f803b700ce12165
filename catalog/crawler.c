/* crawler.c - crawlers and their runs; see crawler.h
 *
 * A crawler is a spec (targets, database, exclude, interval) kept in the
 * state store with its last run.  One scheduler thread starts runs: at
 * mount (crawl=auto), when writes under a target have settled, every
 * `interval` seconds, and when asked (ctl "run", a new spec).  Each run is
 * a detached thread that calls crawl_run() (crawl_run.c: listing,
 * grouping, writing the catalog) and records the result here.
 * The crawler's mutable state lives under crawl_lock; crawl_cond is
 * broadcast on every state change (crawler_wait sleeps on it). */
#include "crawler.h"
#include "crawl_run.h"
#include "crawl_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "gluefs.h"
#include "log.h"
#include "state.h"
#include "store.h"

#define CRAWL_LOG_MAX (1u << 20)         /* a run's log, bytes */
#define CRAWL_SAMPLE_DEFAULT (1u << 20)  /* sample_bytes when unset */
#define CRAWL_NAME_MAX 128

static const char *const state_names[] = {"READY", "RUNNING", "STOPPING"};


pthread_mutex_t crawl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t crawl_cond;
static struct crawler **crawlers; /* sorted by name */
static size_t ncrawlers;
static struct gluefs *G;
static bool crawl_running;  /* scheduler started */
static bool crawl_shutdown; /* crawlers_shutdown() called */
static unsigned runs_active;
static pthread_t sched_thread;

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_default(const struct crawler *c)
{
    return !strcmp(c->name, "default");
}

/* ---- persistence ---- */

static const char crawl_schema[] =
    "CREATE TABLE IF NOT EXISTS crawlers ("
    " name TEXT PRIMARY KEY, spec TEXT, targets TEXT, database TEXT,"
    " excludes TEXT, interval INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL DEFAULT 'READY', last_run TEXT NOT NULL DEFAULT '',"
    " started INTEGER NOT NULL DEFAULT 0, elapsed INTEGER NOT NULL DEFAULT 0,"
    " objects_scanned INTEGER NOT NULL DEFAULT 0,"
    " bytes_read INTEGER NOT NULL DEFAULT 0,"
    " tables_created INTEGER NOT NULL DEFAULT 0,"
    " tables_updated INTEGER NOT NULL DEFAULT 0,"
    " tables_deleted INTEGER NOT NULL DEFAULT 0,"
    " error TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS crawl_objects ("
    " crawler TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,"
    " etag TEXT NOT NULL, size INTEGER NOT NULL, tbl TEXT,"
    " classification TEXT NOT NULL, compression TEXT NOT NULL,"
    " delimiter INTEGER NOT NULL, header INTEGER NOT NULL,"
    " quoted INTEGER NOT NULL, records INTEGER NOT NULL,"
    " avg_size REAL NOT NULL DEFAULT 0, schema TEXT NOT NULL,"
    " PRIMARY KEY (crawler, bucket, key));";

static sqlite3_stmt *cr_prepare(const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(G->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_err("crawlers: cannot prepare statement: %s",
                sqlite3_errmsg(G->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static char *join(char **v, size_t n)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < n; i++)
        if (buf_printf(&b, "%s%s", i ? ", " : "", v[i])) {
            buf_release(&b);
            return NULL;
        }
    return buf_detach(&b);
}

/* Save crawler C (caller holds crawl_lock). */
static int crawler_save(const struct crawler *c)
{
    sqlite3_stmt *st = cr_prepare(
        "INSERT OR REPLACE INTO crawlers (name, spec, targets, database,"
        " excludes, interval, state, last_run, started, elapsed,"
        " objects_scanned, bytes_read, tables_created, tables_updated,"
        " tables_deleted, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
        " ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
    if (!st)
        return -EIO;
    char *targets = join(c->sp.targets, c->sp.ntargets);
    char *excludes = join(c->sp.excludes, c->sp.nexcludes);
    crawl_bind_str(st, 1, c->name);
    crawl_bind_str(st, 2, c->spec_text);
    crawl_bind_str(st, 3, targets);
    crawl_bind_str(st, 4, c->sp.database);
    crawl_bind_str(st, 5, excludes);
    sqlite3_bind_int64(st, 6, c->sp.interval);
    crawl_bind_str(st, 7, state_names[c->state]);
    crawl_bind_str(st, 8, c->last_run);
    sqlite3_bind_int64(st, 9, c->started);
    sqlite3_bind_int64(st, 10, c->elapsed);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)c->objects_scanned);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)c->bytes_read);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)c->tables_created);
    sqlite3_bind_int64(st, 14, (sqlite3_int64)c->tables_updated);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)c->tables_deleted);
    crawl_bind_str(st, 16, c->error);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (rc)
        log_err("crawler '%s': cannot save: %s", c->name,
                sqlite3_errmsg(G->db));
    sqlite3_finalize(st);
    free(targets);
    free(excludes);
    return rc;
}

static struct crawler *crawler_new(const char *name)
{
    struct crawler *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->name = strdup(name);
    if (!c->name) {
        free(c);
        return NULL;
    }
    buf_init(&c->log, CRAWL_LOG_MAX);
    return c;
}

static void crawler_free(struct crawler *c)
{
    if (!c)
        return;
    free(c->name);
    free(c->spec_text);
    crawl_spec_release(&c->sp);
    buf_release(&c->log);
    free(c);
}

/* Find NAME (caller holds crawl_lock); *POS is where it is or would go. */
static struct crawler *crawler_find(const char *name, size_t *pos)
{
    size_t lo = 0, hi = ncrawlers;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(crawlers[mid]->name, name);
        if (!cmp) {
            if (pos)
                *pos = mid;
            return crawlers[mid];
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static int crawler_insert(struct crawler *c)
{
    size_t pos;
    if (crawler_find(c->name, &pos))
        return -EEXIST;
    struct crawler **n = realloc(crawlers, (ncrawlers + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    crawlers = n;
    memmove(crawlers + pos + 1, crawlers + pos,
            (ncrawlers - pos) * sizeof *crawlers);
    crawlers[pos] = c;
    ncrawlers++;
    return 0;
}

static int crawlers_load(void)
{
    sqlite3_stmt *st = cr_prepare(
        "SELECT name, spec, state, last_run, started, elapsed,"
        " objects_scanned, bytes_read, tables_created, tables_updated,"
        " tables_deleted, error FROM crawlers ORDER BY name");
    if (!st)
        return -EIO;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct crawler *c = crawler_new(crawl_col_text(st, 0));
        if (!c) {
            rc = -ENOMEM;
            break;
        }
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
            const char *spec = crawl_col_text(st, 1);
            char err[256];
            c->spec_text = strdup(spec);
            if (crawl_spec_parse(spec, strlen(spec), true, &c->sp, err, sizeof err))
                log_warn("crawler '%s': stored spec: %s", c->name, err);
        }
        snprintf(c->last_run, sizeof c->last_run, "%s", crawl_col_text(st, 3));
        c->started = sqlite3_column_int64(st, 4);
        c->elapsed = sqlite3_column_int64(st, 5);
        c->objects_scanned = (uint64_t)sqlite3_column_int64(st, 6);
        c->bytes_read = (uint64_t)sqlite3_column_int64(st, 7);
        c->tables_created = (uint64_t)sqlite3_column_int64(st, 8);
        c->tables_updated = (uint64_t)sqlite3_column_int64(st, 9);
        c->tables_deleted = (uint64_t)sqlite3_column_int64(st, 10);
        snprintf(c->error, sizeof c->error, "%s", crawl_col_text(st, 11));
        if (strcmp(crawl_col_text(st, 2), "READY")) {
            /* The mount ended during a run. */
            snprintf(c->last_run, sizeof c->last_run, "FAILED");
            snprintf(c->error, sizeof c->error, "interrupted");
        }
        if (crawler_insert(c)) {
            crawler_free(c);
            continue;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static void *run_thread(void *arg)
{
    struct run *r = arg;
    char err[512] = "";
    crawl_run_log_kind(r, CRAWL_LOG_SUMMARY, LOG_INFO, "Crawler %s started",
                       r->name);
    int rc = crawl_run(r, err, sizeof err);
    int64_t elapsed = (mono_ms() - r->t0 + 500) / 1000;

    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = r->c;
    uint64_t scanned = c->objects_scanned, bytes = c->bytes_read;
    uint64_t created = c->tables_created, updated = c->tables_updated;
    uint64_t deleted = c->tables_deleted;
    pthread_mutex_unlock(&crawl_lock);

    const char *result = !rc ? "SUCCEEDED"
                         : rc == -ECANCELED ? "CANCELLED"
                                            : "FAILED";
    if (rc && rc != -ECANCELED && !err[0])
        snprintf(err, sizeof err, "%s", strerror(-rc));
    pthread_mutex_lock(&crawl_lock);
    size_t omitted = r->log_omitted;
    pthread_mutex_unlock(&crawl_lock);
    char more[64] = "";
    if (omitted)
        snprintf(more, sizeof more, " (%zu log lines left out)", omitted);
    crawl_run_log_kind(r, CRAWL_LOG_SUMMARY,
            rc && rc != -ECANCELED ? LOG_ERR : LOG_INFO,
            "Crawler %s finished: %s in %" PRId64 "s: %" PRIu64
            " objects scanned, %zu new or changed read (%" PRIu64
            " bytes), %zu skipped, %" PRIu64 " tables created, %" PRIu64
            " updated, %" PRIu64 " deprecated%s%s%s",
            r->name, result, elapsed, scanned, r->ntodo, bytes, r->skipped,
            created, updated, deleted, more, err[0] ? ": " : "", err);

    pthread_mutex_lock(&crawl_lock);
    snprintf(c->last_run, sizeof c->last_run, "%s", result);
    snprintf(c->error, sizeof c->error, "%s", rc == -ECANCELED ? "" : err);
    c->elapsed = elapsed;
    c->state = CS_READY;
    __atomic_store_n(&c->cancel, 0, __ATOMIC_RELAXED);
    if (c->sp.interval && !G->cfg->crawl_manual)
        c->interval_due = mono_ms() + (int64_t)c->sp.interval * 1000;
    crawler_save(c);
    runs_active--;
    pthread_cond_broadcast(&crawl_cond);
    pthread_mutex_unlock(&crawl_lock);
    crawl_run_free(r);
    return NULL;
}

/* Start a run of C now (caller holds crawl_lock, C is READY). */
static void run_start(struct crawler *c)
{
    c->pending = false;
    c->settle_due = 0;
    c->interval_due = 0;
    struct run *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(c->name)) || crawl_spec_copy(&r->sp, &c->sp)) {
        if (r)
            free(r->name);
        free(r);
        snprintf(c->last_run, sizeof c->last_run, "FAILED");
        snprintf(c->error, sizeof c->error, "out of memory");
        return;
    }
    pthread_mutex_init(&r->pool_lock, NULL);
    r->c = c;
    r->g = G;
    r->db = G->db;
    r->store = G->store;
    r->is_default = is_default(c);
    r->t0 = mono_ms();
    r->sample_limit = G->cfg && G->cfg->sample_bytes ? G->cfg->sample_bytes
                                                     : CRAWL_SAMPLE_DEFAULT;
    c->state = CS_RUNNING;
    __atomic_store_n(&c->cancel, 0, __ATOMIC_RELAXED);
    c->started = time(NULL);
    c->elapsed = 0;
    c->objects_scanned = c->bytes_read = 0;
    c->tables_created = c->tables_updated = c->tables_deleted = 0;
    c->error[0] = '\0';
    buf_reset(&c->log);
    crawler_save(c);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    runs_active++;
    if (pthread_create(&th, &attr, run_thread, r)) {
        runs_active--;
        c->state = CS_READY;
        snprintf(c->last_run, sizeof c->last_run, "FAILED");
        snprintf(c->error, sizeof c->error, "cannot start a thread");
        crawl_run_free(r);
    }
    pthread_attr_destroy(&attr);
    pthread_cond_broadcast(&crawl_cond);
}

/* ---- scheduler ---- */

static bool run_due(const struct crawler *c, int64_t now)
{
    return c->pending || (c->settle_due && now >= c->settle_due) ||
           (c->interval_due && now >= c->interval_due);
}

static void *scheduler(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&crawl_lock);
    while (!crawl_shutdown) {
        int64_t now = mono_ms(), wake = now + 1000;
        for (size_t i = 0; i < ncrawlers; i++) {
            struct crawler *c = crawlers[i];
            if (c->state != CS_READY)
                continue;
            if (run_due(c, now)) {
                run_start(c);
                continue;
            }
            if (c->settle_due && c->settle_due < wake)
                wake = c->settle_due;
            if (c->interval_due && c->interval_due < wake)
                wake = c->interval_due;
        }
        int64_t wait = wake - mono_ms();
        if (wait < 10)
            wait = 10;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&crawl_cond, &crawl_lock, &ts);
    }
    pthread_mutex_unlock(&crawl_lock);
    return NULL;
}

/* ---- public ---- */

int crawlers_start(struct gluefs *g)
{
    G = g;
    if (state_exec(g->db, crawl_schema))
        return -EIO;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&crawl_cond, &ca);
    pthread_condattr_destroy(&ca);

    pthread_mutex_lock(&crawl_lock);
    crawl_shutdown = false;
    int rc = crawlers_load();
    if (!rc && !crawler_find("default", NULL)) {
        struct crawler *c = crawler_new("default");
        if (!c || crawler_insert(c)) {
            crawler_free(c);
            rc = -ENOMEM;
        } else {
            crawler_save(c);
        }
    }
    bool manual = g->cfg && g->cfg->crawl_manual;
    int64_t now = mono_ms();
    for (size_t i = 0; !rc && i < ncrawlers; i++) {
        struct crawler *c = crawlers[i];
        if (manual)
            continue;
        if (c->sp.ntargets || is_default(c))
            c->pending = true;
        if (c->sp.interval)
            c->interval_due = now + (int64_t)c->sp.interval * 1000;
    }
    if (!rc) {
        rc = -pthread_create(&sched_thread, NULL, scheduler, NULL);
        crawl_running = rc == 0;
    }
    pthread_mutex_unlock(&crawl_lock);
    if (rc)
        log_err("crawlers: cannot start: %s", strerror(-rc));
    return rc;
}

void crawlers_shutdown(void)
{
    pthread_mutex_lock(&crawl_lock);
    if (!crawl_running) {
        pthread_mutex_unlock(&crawl_lock);
        return;
    }
    crawl_shutdown = true;
    for (size_t i = 0; i < ncrawlers; i++) {
        struct crawler *c = crawlers[i];
        c->pending = false;
        c->settle_due = 0;
        if (c->state == CS_RUNNING) {
            c->state = CS_STOPPING;
            __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_cond_broadcast(&crawl_cond);
    while (runs_active)
        pthread_cond_wait(&crawl_cond, &crawl_lock);
    pthread_mutex_unlock(&crawl_lock);
    pthread_join(sched_thread, NULL);
    pthread_mutex_lock(&crawl_lock);
    crawl_running = false;
    for (size_t i = 0; i < ncrawlers; i++)
        crawler_free(crawlers[i]);
    free(crawlers);
    crawlers = NULL;
    ncrawlers = 0;
    pthread_mutex_unlock(&crawl_lock);
}

/* Does crawler C's target list cover BUCKET/KEY? */
static bool covers(const struct crawler *c, const char *bucket,
                   const char *key)
{
    if (!c->sp.ntargets)
        return is_default(c) && G && gluefs_bucket_allowed(G, bucket);
    for (size_t i = 0; i < c->sp.ntargets; i++) {
        char b[256], p[1024];
        if (crawl_split_url(c->sp.targets[i], b, sizeof b, p, sizeof p))
            continue;
        if (!strcmp(b, bucket) && !strncmp(key, p, strlen(p)))
            return true;
    }
    return false;
}

void crawlers_notify_write(const char *bucket, const char *key)
{
    pthread_mutex_lock(&crawl_lock);
    if (!crawl_running || crawl_shutdown || !G || !G->cfg ||
        G->cfg->crawl_manual) {
        pthread_mutex_unlock(&crawl_lock);
        return;
    }
    int64_t due = mono_ms() + (int64_t)G->cfg->settle_seconds * 1000;
    if (due == 0)
        due = 1;
    bool any = false;
    for (size_t i = 0; i < ncrawlers; i++) {
        struct crawler *c = crawlers[i];
        if (covers(c, bucket, key ? key : "")) {
            c->settle_due = due;
            any = true;
        }
    }
    if (any)
        pthread_cond_broadcast(&crawl_cond);
    pthread_mutex_unlock(&crawl_lock);
}

int crawlers_list(int (*cb)(void *ctx, const char *name), void *ctx)
{
    struct {
        char **names;
        size_t n;
    } names = {NULL, 0};
    int rc = 0;
    pthread_mutex_lock(&crawl_lock);
    for (size_t i = 0; i < ncrawlers && !rc; i++)
        rc = crawl_strv_push(&names.names, &names.n, crawlers[i]->name,
                       strlen(crawlers[i]->name));
    pthread_mutex_unlock(&crawl_lock);
    for (size_t i = 0; i < names.n && !rc; i++)
        rc = cb(ctx, names.names[i]);
    crawl_strv_free(names.names, names.n);
    return rc < 0 ? rc : 0;
}

int crawler_exists(const char *name)
{
    pthread_mutex_lock(&crawl_lock);
    bool found = crawler_find(name, NULL) != NULL;
    pthread_mutex_unlock(&crawl_lock);
    return found ? 0 : -ENOENT;
}

static bool valid_name(const char *name)
{
    size_t n = strlen(name);
    if (!n || n >= CRAWL_NAME_MAX || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              ch == '.'))
            return false;
    }
    return true;
}

int crawler_create(const char *name)
{
    if (!valid_name(name))
        return -EINVAL;
    pthread_mutex_lock(&crawl_lock);
    int rc = -EEXIST;
    if (!crawler_find(name, NULL)) {
        struct crawler *c = crawler_new(name);
        rc = c ? crawler_insert(c) : -ENOMEM;
        if (rc)
            crawler_free(c);
        else
            rc = crawler_save(c);
    }
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_remove(const char *name)
{
    if (!strcmp(name, "default"))
        return -EPERM;
    pthread_mutex_lock(&crawl_lock);
    size_t pos;
    struct crawler *c = crawler_find(name, &pos);
    int rc = 0;
    if (!c)
        rc = -ENOENT;
    else if (c->state != CS_READY)
        rc = -EBUSY;
    if (!rc) {
        sqlite3_stmt *st = cr_prepare("DELETE FROM crawlers WHERE name = ?1");
        sqlite3_stmt *st2 =
            cr_prepare("DELETE FROM crawl_objects WHERE crawler = ?1");
        if (st) {
            crawl_bind_str(st, 1, name);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = -EIO;
        }
        if (st2) {
            crawl_bind_str(st2, 1, name);
            sqlite3_step(st2);
        }
        if (!st)
            rc = -EIO;
        sqlite3_finalize(st);
        sqlite3_finalize(st2);
    }
    if (!rc) {
        memmove(crawlers + pos, crawlers + pos + 1,
                (ncrawlers - pos - 1) * sizeof *crawlers);
        ncrawlers--;
        crawler_free(c);
        pthread_cond_broadcast(&crawl_cond);
    }
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_set_spec(const char *name, const char *text, size_t len)
{
    struct crawl_spec sp;
    char err[512];
    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = crawler_find(name, NULL);
    if (!c) {
        pthread_mutex_unlock(&crawl_lock);
        return -ENOENT;
    }
    int rc = crawl_spec_parse(text, len, is_default(c), &sp, err, sizeof err);
    if (rc == -EINVAL) {
        snprintf(c->error, sizeof c->error, "%s", err);
        crawler_save(c);
    }
    if (rc) {
        pthread_mutex_unlock(&crawl_lock);
        return rc;
    }
    char *copy = strndup(text, len);
    if (!copy) {
        crawl_spec_release(&sp);
        pthread_mutex_unlock(&crawl_lock);
        return -ENOMEM;
    }
    free(c->spec_text);
    c->spec_text = copy;
    crawl_spec_release(&c->sp);
    c->sp = sp;
    c->error[0] = '\0';
    c->interval_due = 0;
    if (c->sp.interval && G && G->cfg && !G->cfg->crawl_manual)
        c->interval_due = mono_ms() + (int64_t)c->sp.interval * 1000;
    c->pending = true;
    rc = crawler_save(c);
    pthread_cond_broadcast(&crawl_cond);
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_read_spec(const char *name, struct buf *out)
{
    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = crawler_find(name, NULL);
    int rc = -ENOENT;
    if (c && c->spec_text)
        rc = buf_puts(out, c->spec_text);
    else if (c && is_default(c))
        rc = buf_puts(out,
                      "# every bucket, one database per bucket (named after "
                      "it)\n"
                      "targets =\n"
                      "exclude =\n"
                      "interval = 0\n");
    else if (c)
        rc = buf_printf(out,
                        "# crawler %s: write its spec here, e.g.\n"
                        "# targets  = s3://bucket/prefix/\n"
                        "# database = name\n"
                        "# exclude  = **/_tmp/**, *.bak\n"
                        "# interval = 600\n",
                        name);
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

/* Status text of C (caller holds crawl_lock). */
static int status_text(const struct crawler *c, struct buf *out)
{
    char started[32] = "";
    if (c->started)
        crawl_iso_time(c->started, started, sizeof started);
    int64_t elapsed = c->elapsed;
    if (c->state != CS_READY && c->started)
        elapsed = (int64_t)time(NULL) - c->started;
    return buf_printf(out,
                      "state: %s\n"
                      "last_run: %s\n"
                      "started: %s\n"
                      "elapsed: %" PRId64 "\n"
                      "objects_scanned: %" PRIu64 "\n"
                      "bytes_read: %" PRIu64 "\n"
                      "tables_created: %" PRIu64 "\n"
                      "tables_updated: %" PRIu64 "\n"
                      "tables_deleted: %" PRIu64 "\n"
                      "error: %s\n",
                      state_names[c->state],
                      c->last_run[0] ? c->last_run : "none", started, elapsed,
                      c->objects_scanned, c->bytes_read, c->tables_created,
                      c->tables_updated, c->tables_deleted, c->error);
}

int crawler_read_status(const char *name, struct buf *out)
{
    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = crawler_find(name, NULL);
    int rc = c ? status_text(c, out) : -ENOENT;
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_read_log(const char *name, struct buf *out)
{
    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = crawler_find(name, NULL);
    int rc = -ENOENT;
    if (c)
        rc = c->log.len ? buf_append(out, c->log.data, c->log.len) : 0;
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_wait(const char *name, struct buf *out)
{
    pthread_mutex_lock(&crawl_lock);
    int rc = 0;
    for (;;) {
        struct crawler *c = crawler_find(name, NULL);
        if (!c) {
            rc = -ENOENT;
            break;
        }
        if (crawl_shutdown) {
            rc = -EINTR;
            break;
        }
        bool busy = c->state != CS_READY ||
                    (crawl_running && (c->pending || c->settle_due));
        if (!busy) {
            rc = status_text(c, out);
            break;
        }
        pthread_cond_wait(&crawl_cond, &crawl_lock);
    }
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}

int crawler_ctl(const char *name, const char *cmd, size_t len)
{
    while (len && (cmd[len - 1] == ' ' || cmd[len - 1] == '\t' ||
                   cmd[len - 1] == '\n' || cmd[len - 1] == '\r'))
        len--;
    bool run = len == 3 && !memcmp(cmd, "run", 3);
    bool stop = len == 4 && !memcmp(cmd, "stop", 4);
    pthread_mutex_lock(&crawl_lock);
    struct crawler *c = crawler_find(name, NULL);
    int rc = 0;
    if (!c)
        rc = -ENOENT;
    else if (!run && !stop)
        rc = -EINVAL;
    else if (run) {
        if (c->state == CS_READY)
            c->pending = true;
    } else {
        c->pending = false;
        c->settle_due = 0;
        if (c->state == CS_RUNNING) {
            c->state = CS_STOPPING;
            __atomic_store_n(&c->cancel, 1, __ATOMIC_RELAXED);
        }
    }
    if (!rc)
        pthread_cond_broadcast(&crawl_cond);
    pthread_mutex_unlock(&crawl_lock);
    return rc;
}
