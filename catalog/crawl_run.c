/* crawl_run.c - one crawler run (see crawl_run.h): list the targets, group
 * objects into tables, reuse or sample each object's classification, merge
 * schemas, write tables and partitions, deprecate vanished tables, and
 * remember what was seen for the next, incremental run.
 *
 *   1. list every target recursively (LIST requests only);
 *   2. skip excluded keys, folder markers and hidden names (_SUCCESS,
 *      _x, .x: Hive and Glue ignore them);
 *   3. group objects into tables: the first folder under the target is the
 *      table, k=v folders below it are partitions;
 *   4. sample new or changed objects (ETag + size differ from the last
 *      run, remembered in crawl_objects) in a few worker threads
 *      (crawl_sample.c);
 *   5. merge schemas per table (the majority classification wins; other
 *      objects are logged and left out), write tables and partitions, and
 *      deprecate this crawler's tables whose folder vanished. */
#include "crawl_run.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog.h"
#include "glob.h"
#include "gluefs.h"
#include "infer.h"
#include "log.h"
#include "state.h"
#include "stats.h"

#define CRAWL_OBJECTS_MAX 2000000 /* objects per run */

/* ---- small helpers ---- */

void crawl_iso_time(int64_t secs, char *out, size_t n)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static sqlite3_stmt *run_prepare(struct run *r, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_err("crawler '%s': cannot prepare statement: %s", r->name,
                sqlite3_errmsg(r->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

void crawl_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

const char *crawl_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? (const char *)s : "";
}

/* ---- the run's log ---- */

/* How full the run's log may get before a kind of line is left out (the
 * counts go to the summary): per-object "Classified" lines first, then
 * everything but the summary, so that the lines naming objects left out
 * of tables and the summary itself always fit in a big crawl. */
#define LOG_OBJECT_LINES_UPTO(max) ((max) / 2)
#define LOG_LINES_UPTO(max) ((max) - (16u << 10))

static void run_vlog(struct run *r, enum crawl_log_kind kind, int level,
                     const char *fmt, va_list ap)
{
    char msg[1200];
    vsnprintf(msg, sizeof msg, fmt, ap);
    LOG_AT(level, "crawler '%s': %s", r->name, msg);
    if (level >= LOG_DEBUG)
        return;
    char ts[32];
    crawl_iso_time(time(NULL), ts, sizeof ts);
    /* Glue's CloudWatch lines: "INFO : Created table ..." */
    const char *lv = level <= LOG_ERR ? "ERROR" : level == LOG_WARNING ? "WARN"
                                                                      : "INFO";
    pthread_mutex_lock(&crawl_lock);
    struct buf *b = &r->c->log;
    size_t upto = kind == CRAWL_LOG_OBJECT ? LOG_OBJECT_LINES_UPTO(b->max)
                  : kind == CRAWL_LOG_LINE ? LOG_LINES_UPTO(b->max)
                                           : b->max;
    if (b->len >= upto ||
        buf_printf(b, "%s %s : %s\n", ts, lv, msg) == -E2BIG)
        r->log_omitted++;
    pthread_mutex_unlock(&crawl_lock);
}

void crawl_run_log(struct run *r, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    run_vlog(r, CRAWL_LOG_LINE, level, fmt, ap);
    va_end(ap);
}

void crawl_run_log_kind(struct run *r, enum crawl_log_kind kind, int level,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    run_vlog(r, kind, level, fmt, ap);
    va_end(ap);
}

static void cobj_release(struct cobj *o)
{
    free(o->key);
    crawl_strv_free(o->pkeys, o->npv);
    crawl_strv_free(o->pvals, o->npv);
    free(o->pseg);
    columns_free(o->cols, o->ncols);
    free(o->reason);
}

void crawl_run_free(struct run *r)
{
    for (size_t i = 0; i < r->nobjs; i++)
        cobj_release(&r->objs[i]);
    free(r->objs);
    for (size_t i = 0; i < r->ntables; i++) {
        struct ctable *t = &r->tables[i];
        free(t->database);
        free(t->name);
        free(t->location);
        free(t->bucket);
        free(t->objs);
        crawl_strv_free(t->pkeys, t->npkeys);
    }
    free(r->tables);
    free(r->todo);
    free(r->name);
    crawl_spec_release(&r->sp);
    pthread_mutex_destroy(&r->pool_lock);
    free(r);
}

static bool hidden_path(const char *rel)
{
    for (const char *s = rel; s && *s;) {
        if (*s == '_' || *s == '.')
            return true;
        s = strchr(s, '/');
        if (s)
            s++;
    }
    return false;
}

/* FNV-1a of S: the suffix that tells apart two folders whose table names
 * sanitise alike. */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* Find or add the table (database, name) at LOCATION: *IDX is its index,
 * *ADDED whether it is new.  -EEXIST if that name is taken by another
 * location (then *IDX is the other table). */
static int table_for(struct run *r, const char *name, const char *location,
                     size_t *idx, bool *added)
{
    *added = false;
    for (size_t i = r->ntables; i-- > 0;) {
        struct ctable *t = &r->tables[i];
        if (!strcmp(t->name, name) && !strcmp(t->database, r->cur_db)) {
            *idx = i;
            return strcmp(t->location, location) ? -EEXIST : 0;
        }
    }
    struct ctable *nt = realloc(r->tables, (r->ntables + 1) * sizeof *nt);
    if (!nt)
        return -ENOMEM;
    r->tables = nt;
    struct ctable *t = &nt[r->ntables];
    memset(t, 0, sizeof *t);
    t->database = strdup(r->cur_db);
    t->name = strdup(name);
    t->location = strdup(location);
    t->bucket = strdup(r->cur_bucket);
    t->target = r->cur_target;
    if (!t->database || !t->name || !t->location || !t->bucket) {
        free(t->database);
        free(t->name);
        free(t->location);
        free(t->bucket);
        return -ENOMEM;
    }
    *idx = r->ntables++;
    *added = true;
    return 0;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Hive writes some characters of a partition value as %XX in the folder
 * name (FileUtils.escapePathName: ':' '=' '%' '/' ...); the value is the
 * unescaped text, e.g. "ts=2020-01-01 10%3A00" is 2020-01-01 10:00. */
static void unescape_value(char *v)
{
    char *w = v;
    for (const char *p = v; *p; p++) {
        int hi = p[0] == '%' ? hex_digit(p[1]) : -1;
        int lo = hi >= 0 ? hex_digit(p[2]) : -1;
        if (lo >= 0 && (hi || lo)) {
            *w++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
}

/* Leading k=v folders of DIRS ("a=1/b=2/x/"): fill O's partition fields
 * (keys lower-cased, values unescaped). */
static int parse_partitions(struct cobj *o, const char *dirs)
{
    const char *s = dirs, *start = dirs;
    while (*s) {
        const char *slash = strchr(s, '/');
        if (!slash)
            break;
        const char *eq = memchr(s, '=', (size_t)(slash - s));
        if (!eq || eq == s)
            break;
        if (crawl_strv_push(&o->pkeys, &o->npv, s, (size_t)(eq - s)))
            return -ENOMEM;
        size_t n = o->npv - 1;
        o->npv = n;
        if (crawl_strv_push(&o->pvals, &o->npv, eq + 1, (size_t)(slash - eq - 1)))
            return -ENOMEM;
        for (char *k = o->pkeys[n]; *k; k++)
            if (*k >= 'A' && *k <= 'Z')
                *k = (char)(*k - 'A' + 'a');
        unescape_value(o->pvals[n]);
        s = slash + 1;
    }
    o->pseg = strndup(start, (size_t)(s - start));
    return o->pseg ? 0 : -ENOMEM;
}

static int list_cb(void *ctx, const struct store_entry *e)
{
    struct run *r = ctx;
    if (crawl_run_cancelled(r))
        return -ECANCELED;
    if (e->is_prefix)
        return 0;
    size_t klen = strlen(e->key), plen = strlen(r->cur_prefix);
    if (klen < plen || strncmp(e->key, r->cur_prefix, plen))
        return 0;
    const char *rel = e->key + plen;
    if (!*rel || e->key[klen - 1] == '/')
        return 0; /* a folder marker */
    /* Hadoop's (EMR, s3n) folder markers "dir_$folder$" are not data */
    static const char hadoop_marker[] = "_$folder$";
    if (klen >= sizeof hadoop_marker - 1 &&
        !strcmp(e->key + klen - (sizeof hadoop_marker - 1), hadoop_marker))
        return 0;
    if (hidden_path(rel)) {
        log_debug("crawler '%s': skipped hidden 's3://%s/%s'", r->name,
                  r->cur_bucket, e->key);
        return 0;
    }
    for (size_t i = 0; i < r->sp.nexcludes; i++)
        if (glob_match(r->sp.excludes[i], rel)) {
            crawl_run_log(r, LOG_DEBUG, "Excluded 's3://%s/%s' (pattern '%s')",
                    r->cur_bucket, e->key, r->sp.excludes[i]);
            return 0;
        }
    if (r->nobjs >= CRAWL_OBJECTS_MAX) {
        crawl_run_log(r, LOG_WARNING,
                "More than %d objects: the rest of 's3://%s/%s' is not "
                "crawled",
                CRAWL_OBJECTS_MAX, r->cur_bucket, r->cur_prefix);
        return 1;
    }

    /* Which table?  The first folder under the target, unless the object
     * sits directly in the target or its first folder is already a k=v
     * partition: then the target itself is the table. */
    char tname[256], location[2048];
    const char *slash = strchr(rel, '/');
    bool kv_first = slash && rel[0] != '=' &&
                    memchr(rel, '=', (size_t)(slash - rel)) != NULL;
    const char *dirs;
    if (!slash || kv_first) {
        char raw[256];
        if (plen) {
            const char *end = r->cur_prefix + plen - 1, *b = end;
            while (b > r->cur_prefix && b[-1] != '/')
                b--;
            snprintf(raw, sizeof raw, "%.*s", (int)(end - b), b);
        } else if (kv_first) {
            snprintf(raw, sizeof raw, "%s", r->cur_bucket);
        } else {
            r->skipped++;
            crawl_run_log(r, LOG_INFO,
                          "Skipped 's3://%s/%s': not in a table folder (a "
                          "table is a folder under the target)",
                          r->cur_bucket, e->key);
            return 0;
        }
        catalog_sanitize_name(raw, tname, sizeof tname);
        snprintf(location, sizeof location, "s3://%s/%s", r->cur_bucket,
                 r->cur_prefix);
        dirs = kv_first ? rel : "";
    } else {
        char raw[256];
        snprintf(raw, sizeof raw, "%.*s", (int)(slash - rel), rel);
        catalog_sanitize_name(raw, tname, sizeof tname);
        snprintf(location, sizeof location, "s3://%s/%s%.*s/", r->cur_bucket,
                 r->cur_prefix, (int)(slash - rel), rel);
        dirs = slash + 1;
    }
    if (!tname[0])
        return 0;
    size_t ti;
    bool added = false;
    int rc = table_for(r, tname, location, &ti, &added);
    if (rc == -EEXIST) {
        /* Two folders with one sanitised name ("A-B/", "a_b/"): as Glue
         * does, the later one gets a hash suffix (of its location, so the
         * name is stable from run to run). */
        char other[2048];
        snprintf(other, sizeof other, "%s", r->tables[ti].location);
        char suffix[16];
        snprintf(suffix, sizeof suffix, "_%08" PRIx32, name_hash(location));
        size_t keep = strlen(tname);
        if (keep > sizeof tname - 1 - strlen(suffix))
            keep = sizeof tname - 1 - strlen(suffix);
        memcpy(tname + keep, suffix, strlen(suffix) + 1);
        rc = table_for(r, tname, location, &ti, &added);
        if (!rc && added)
            crawl_run_log(r, LOG_WARNING,
                          "Folder '%s' has the same table name as '%s' in "
                          "database %s: named its table %s",
                          location, other, r->cur_db, tname);
    }
    if (rc == -EEXIST) {
        r->skipped++;
        crawl_run_log(r, LOG_WARNING,
                "Skipped 's3://%s/%s': table '%s' in database '%s' already "
                "comes from another folder",
                r->cur_bucket, e->key, tname, r->cur_db);
        return 0;
    }
    if (rc)
        return rc;

    if (r->nobjs == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 256;
        struct cobj *no = realloc(r->objs, nc * sizeof *no);
        if (!no)
            return -ENOMEM;
        r->objs = no;
        r->cap = nc;
    }
    struct cobj *o = &r->objs[r->nobjs];
    memset(o, 0, sizeof *o);
    o->key = strdup(e->key);
    if (!o->key)
        return -ENOMEM;
    o->size = e->size;
    snprintf(o->etag, sizeof o->etag, "%s", e->etag ? e->etag : "");
    o->target = r->cur_target;
    o->table = ti;
    rc = parse_partitions(o, dirs);
    r->nobjs++;
    if (rc)
        return rc;
    struct ctable *t = &r->tables[ti];
    size_t *no = realloc(t->objs, (t->nobjs + 1) * sizeof *no);
    if (!no)
        return -ENOMEM;
    t->objs = no;
    t->objs[t->nobjs++] = r->nobjs - 1;
    pthread_mutex_lock(&crawl_lock);
    r->c->objects_scanned++;
    pthread_mutex_unlock(&crawl_lock);
    return 0;
}

/* Columns as text: "<len>:<name><len>:<type>" per column. */
static char *cols_encode(const struct column *c, size_t n)
{
    struct buf b;
    buf_init(&b, 16u << 20);
    int rc = buf_puts(&b, "");
    for (size_t i = 0; i < n && !rc; i++)
        rc = buf_printf(&b, "%zu:%s%zu:%s", strlen(c[i].name), c[i].name,
                        strlen(c[i].type), c[i].type);
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static int cols_decode(const char *s, struct column **cols, size_t *n)
{
    *cols = NULL;
    *n = 0;
    char *parts[2];
    while (s && *s) {
        for (int k = 0; k < 2; k++) {
            char *end;
            errno = 0;
            unsigned long long len = strtoull(s, &end, 10);
            if (errno || end == s || *end != ':' || strlen(end + 1) < len) {
                if (k)
                    free(parts[0]);
                return 0; /* damaged: what was read so far */
            }
            parts[k] = strndup(end + 1, (size_t)len);
            if (!parts[k]) {
                if (k)
                    free(parts[0]);
                return -ENOMEM;
            }
            s = end + 1 + len;
        }
        struct column *nc = realloc(*cols, (*n + 1) * sizeof *nc);
        if (!nc) {
            free(parts[0]);
            free(parts[1]);
            return -ENOMEM;
        }
        *cols = nc;
        nc[*n].name = parts[0];
        nc[*n].type = parts[1];
        (*n)++;
    }
    return 0;
}

/* The result remembered from the last run, if ETag and size still match. */
static int load_previous(struct run *r, sqlite3_stmt *st, struct cobj *o,
                         const char *bucket)
{
    sqlite3_reset(st);
    crawl_bind_str(st, 1, r->name);
    crawl_bind_str(st, 2, bucket);
    crawl_bind_str(st, 3, o->key);
    if (sqlite3_step(st) != SQLITE_ROW)
        return 0;
    if (strcmp(crawl_col_text(st, 0), o->etag) ||
        (uint64_t)sqlite3_column_int64(st, 1) != o->size)
        return 0;
    snprintf(o->fmt.classification, sizeof o->fmt.classification, "%s",
             crawl_col_text(st, 2));
    snprintf(o->fmt.compression, sizeof o->fmt.compression, "%s",
             crawl_col_text(st, 3));
    o->fmt.delimiter = (char)sqlite3_column_int(st, 4);
    o->fmt.header = sqlite3_column_int(st, 5) != 0;
    o->fmt.quoted = sqlite3_column_int(st, 6) != 0;
    o->fmt.ts_forms = (uint32_t)sqlite3_column_int64(st, 10);
    o->records = (uint64_t)sqlite3_column_int64(st, 7);
    o->avg_size = sqlite3_column_double(st, 9);
    const char *schema = crawl_col_text(st, 8);
    if (!strcmp(o->fmt.classification, "UNKNOWN")) {
        o->reason = strdup(schema);
        if (!o->reason)
            return -ENOMEM;
    } else if (cols_decode(schema, &o->cols, &o->ncols)) {
        return -ENOMEM;
    }
    o->have = true;
    o->store = true;
    return 0;
}

/* ---- tables from objects ---- */

static bool cols_equal(const struct column *a, size_t na,
                       const struct column *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || strcmp(a[i].type, b[i].type))
            return false;
    return true;
}

static bool table_changed(const struct table_def *old,
                          const struct table_def *t)
{
    return !cols_equal(old->cols, old->ncols, t->cols, t->ncols) ||
           !cols_equal(old->pkeys, old->npkeys, t->pkeys, t->npkeys) ||
           strcmp(old->fmt.classification, t->fmt.classification) ||
           strcmp(old->fmt.compression, t->fmt.compression) ||
           old->fmt.delimiter != t->fmt.delimiter ||
           old->fmt.header != t->fmt.header ||
           old->fmt.quoted != t->fmt.quoted ||
           old->fmt.ts_forms != t->fmt.ts_forms ||
           strcmp(old->location, t->location) || old->deprecated;
}

/* The key objects group by: classification (and the CSV delimiter). */
static void class_key(const struct cobj *o, char *out, size_t n)
{
    if (!strcmp(o->fmt.classification, "csv"))
        snprintf(out, n, "csv/%d", (unsigned char)o->fmt.delimiter);
    else
        snprintf(out, n, "%s", o->fmt.classification);
}

static int part_cmp(const void *a, const void *b)
{
    const struct partition *x = a, *y = b;
    return strcmp(x->location, y->location);
}

/* Build and write table T.  Counts created/updated in the crawler. */
#define KINDS_MAX 16      /* distinct formats / CSV headers compared */
#define CONFLICTS_MAX 20  /* type conflicts logged per table and run */

/* "a, b, c" of O's column names (the first six, then "..."). */
static void names_text(const struct column *c, size_t n, char *out,
                       size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = i == 6 ? snprintf(out + used, cap - used, ", ...")
                       : snprintf(out + used, cap - used, "%s%s",
                                  i ? ", " : "", c[i].name);
        if (w < 0 || (size_t)w >= cap - used || i == 6)
            break;
        used += (size_t)w;
    }
}

/* Do the column names of A and B agree position by position as far as
 * the shorter goes?  (CSV is read by position: a file with more trailing
 * columns is a schema change, one with other names is another dataset.) */
static bool names_prefix(const struct cobj *a, const struct cobj *b)
{
    size_t n = a->ncols < b->ncols ? a->ncols : b->ncols;
    for (size_t i = 0; i < n; i++)
        if (strcmp(a->cols[i].name, b->cols[i].name))
            return false;
    return true;
}

static void leave_out(struct run *r, struct cobj *o)
{
    o->left_out = true;
    r->skipped++;
}

/* Decide which objects of CT make the table; log every one left out with
 * the reason: unclassified (UNKNOWN), unreadable, another format or CSV
 * delimiter than the majority, CSV columns that do not line up with the
 * most common header.  Writes the majority's class key ("csv/44",
 * "json", ...) to BEST and returns the number of objects kept. */
static size_t table_select(struct run *r, struct ctable *ct, char best[32])
{
    struct {
        char key[32];
        size_t n;
    } kinds[KINDS_MAX];
    size_t nkinds = 0;
    best[0] = '\0';
    for (size_t i = 0; i < ct->nobjs; i++) {
        struct cobj *o = &r->objs[ct->objs[i]];
        if (!o->have) {
            leave_out(r, o); /* unreadable: logged when sampled */
            continue;
        }
        if (o->reason) {
            leave_out(r, o);
            crawl_run_log(r, LOG_INFO,
                          "Skipped 's3://%s/%s': classification UNKNOWN: %s",
                          ct->bucket, o->key, o->reason);
            continue;
        }
        char k[32];
        class_key(o, k, sizeof k);
        size_t j = 0;
        while (j < nkinds && strcmp(kinds[j].key, k))
            j++;
        if (j == nkinds && nkinds < KINDS_MAX) {
            memcpy(kinds[j].key, k, sizeof kinds[j].key);
            kinds[j].n = 0;
            nkinds++;
        }
        if (j < nkinds)
            kinds[j].n++;
    }
    size_t best_n = 0;
    for (size_t j = 0; j < nkinds; j++)
        if (kinds[j].n > best_n) {
            best_n = kinds[j].n;
            memcpy(best, kinds[j].key, sizeof kinds[j].key);
        }
    if (!best_n)
        return 0;
    char best_class[32];
    snprintf(best_class, sizeof best_class, "%s", best);
    char *sl = strchr(best_class, '/');
    if (sl)
        *sl = '\0';

    /* Another format: logged, never a surprise table of its own. */
    size_t kept = 0;
    for (size_t i = 0; i < ct->nobjs; i++) {
        struct cobj *o = &r->objs[ct->objs[i]];
        if (o->left_out)
            continue;
        char k[32];
        class_key(o, k, sizeof k);
        if (!strcmp(k, best)) {
            kept++;
            continue;
        }
        leave_out(r, o);
        if (!strcmp(o->fmt.classification, best_class))
            crawl_run_log(r, LOG_WARNING,
                          "Skipped 's3://%s/%s': its delimiter differs from "
                          "the rest of table %s",
                          ct->bucket, o->key, ct->name);
        else
            crawl_run_log(r, LOG_WARNING,
                          "Skipped 's3://%s/%s': classified as %s, but table "
                          "%s is %s",
                          ct->bucket, o->key, o->fmt.classification,
                          ct->name, best_class);
    }
    if (strcmp(best_class, "csv"))
        return kept;

    /* CSV: the most common header is the table's; files whose columns do
     * not line up with it by position are another dataset. */
    size_t sig[KINDS_MAX], sign[KINDS_MAX], nsig = 0;
    for (size_t i = 0; i < ct->nobjs; i++) {
        size_t oi = ct->objs[i];
        struct cobj *o = &r->objs[oi];
        if (o->left_out)
            continue;
        size_t j = 0;
        while (j < nsig && !(r->objs[sig[j]].ncols == o->ncols &&
                             names_prefix(&r->objs[sig[j]], o)))
            j++;
        if (j == nsig && nsig < KINDS_MAX) {
            sig[j] = oi;
            sign[j] = 0;
            nsig++;
        }
        if (j < nsig)
            sign[j]++;
    }
    size_t ref = 0;
    for (size_t j = 1; j < nsig; j++)
        if (sign[j] > sign[ref])
            ref = j;
    const struct cobj *ro = &r->objs[sig[ref]];
    for (size_t i = 0; i < ct->nobjs; i++) {
        struct cobj *o = &r->objs[ct->objs[i]];
        if (o->left_out || names_prefix(o, ro))
            continue;
        leave_out(r, o);
        kept--;
        char mine[200], theirs[200];
        names_text(o->cols, o->ncols, mine, sizeof mine);
        names_text(ro->cols, ro->ncols, theirs, sizeof theirs);
        crawl_run_log(r, LOG_WARNING,
                      "Skipped 's3://%s/%s': its columns (%s) do not line up "
                      "with those of table %s (%s) as in 's3://%s/%s'; CSV "
                      "columns are read by position",
                      ct->bucket, o->key, mine, ct->name, theirs, ct->bucket,
                      ro->key);
    }
    return kept;
}

/* Merge O's columns into T's, logging columns whose types conflict (the
 * merge can only type them string).  *NCONF counts the lines logged. */
static int merge_logged(struct run *r, const struct ctable *ct,
                        struct table_def *t, const struct cobj *o,
                        unsigned *nconf)
{
    struct {
        size_t at;
        char type[96];
    } before[CONFLICTS_MAX];
    const char *theirs[CONFLICTS_MAX];
    size_t nb = 0;
    for (size_t i = 0; i < o->ncols && nb < CONFLICTS_MAX &&
                       *nconf + nb < CONFLICTS_MAX;
         i++)
        for (size_t j = 0; j < t->ncols; j++)
            if (!strcmp(t->cols[j].name, o->cols[i].name)) {
                if (strcmp(t->cols[j].type, o->cols[i].type) &&
                    strcmp(t->cols[j].type, "string") &&
                    strcmp(o->cols[i].type, "string")) {
                    before[nb].at = j;
                    snprintf(before[nb].type, sizeof before[nb].type, "%s",
                             t->cols[j].type);
                    theirs[nb++] = o->cols[i].type;
                }
                break;
            }
    int rc = schema_merge(&t->cols, &t->ncols, o->cols, o->ncols);
    for (size_t k = 0; k < nb && !rc; k++) {
        const struct column *c = &t->cols[before[k].at];
        if (strcmp(c->type, "string"))
            continue; /* widened: bigint + double -> double */
        (*nconf)++;
        crawl_run_log(r, LOG_WARNING,
                      "Column %s of table %s is %s in 's3://%s/%s' but %s in "
                      "other objects: typed string",
                      c->name, ct->name, theirs[k], ct->bucket, o->key,
                      before[k].type);
    }
    return rc;
}

/* Append to OUT how T's columns differ from OLD's: "new columns: a, b;
 * types changed: c bigint -> double; columns gone: d". */
static int schema_diff(const struct table_def *old, const struct table_def *t,
                       struct buf *out)
{
    int rc = 0;
    const char *sep = "new columns: ";
    for (size_t i = 0; i < t->ncols && !rc; i++) {
        size_t j = 0;
        while (j < old->ncols && strcmp(old->cols[j].name, t->cols[i].name))
            j++;
        if (j == old->ncols) {
            rc = buf_printf(out, "%s%s", sep, t->cols[i].name);
            sep = ", ";
        }
    }
    sep = out->len ? "; types changed: " : "types changed: ";
    for (size_t i = 0; i < t->ncols && !rc; i++)
        for (size_t j = 0; j < old->ncols && !rc; j++)
            if (!strcmp(old->cols[j].name, t->cols[i].name)) {
                if (strcmp(old->cols[j].type, t->cols[i].type)) {
                    rc = buf_printf(out, "%s%s %s -> %s", sep,
                                    t->cols[i].name, old->cols[j].type,
                                    t->cols[i].type);
                    sep = ", ";
                }
                break;
            }
    sep = out->len ? "; columns gone: " : "columns gone: ";
    for (size_t j = 0; j < old->ncols && !rc; j++) {
        size_t i = 0;
        while (i < t->ncols && strcmp(old->cols[j].name, t->cols[i].name))
            i++;
        if (i == t->ncols) {
            rc = buf_printf(out, "%s%s", sep, old->cols[j].name);
            sep = ", ";
        }
    }
    return rc;
}

static int table_write(struct run *r, struct ctable *ct, int64_t now,
                       bool *written)
{
    *written = false;
    char best[32];
    if (!table_select(r, ct, best))
        return 0;

    struct table_def t = {0};
    int rc = 0;
    struct partition *parts = NULL;
    size_t nparts = 0;
    const struct cobj *first = NULL;
    char **pkeys = NULL;
    size_t npkeys = 0;
    bool pk_cut = false;
    unsigned nconf = 0;
    double rec_bytes = 0;
    for (size_t i = 0; i < ct->nobjs && !rc; i++) {
        struct cobj *o = &r->objs[ct->objs[i]];
        if (o->left_out)
            continue;
        if (!first) {
            first = o;
            t.fmt = o->fmt;
            /* Partition keys: the leading k=v keys every object shares. */
            for (size_t j = 0; j < o->npv && !rc; j++)
                rc = crawl_strv_push(&pkeys, &npkeys, o->pkeys[j],
                                     strlen(o->pkeys[j]));
        } else {
            size_t j = 0;
            while (j < npkeys && j < o->npv && !strcmp(pkeys[j], o->pkeys[j]))
                j++;
            if (j < npkeys && !pk_cut) {
                pk_cut = true;
                crawl_run_log(r, LOG_WARNING,
                              "Table %s keeps %zu of %zu partition keys: "
                              "'s3://%s/%s' is under '%s', 's3://%s/%s' "
                              "under '%s'",
                              ct->name, j, npkeys, ct->bucket, first->key,
                              first->pseg, ct->bucket, o->key, o->pseg);
            }
            while (npkeys > j)
                free(pkeys[--npkeys]);
        }
        if (o->fmt.quoted)
            t.fmt.quoted = true;
        t.fmt.ts_forms |= o->fmt.ts_forms;
        if (!rc)
            rc = merge_logged(r, ct, &t, o, &nconf);
        t.objects++;
        t.bytes += o->size;
        t.record_count += o->records;
        rec_bytes += o->avg_size * (double)o->records;
    }
    if (rc)
        goto out;
    /* A date column of one object widened to timestamp by another's: Hive
     * reads its dates (yyyy-MM-dd) as timestamps only with a pattern. */
    for (size_t i = 0; i < ct->nobjs && !(t.fmt.ts_forms & TS_FORM_DATE);
         i++) {
        const struct cobj *o = &r->objs[ct->objs[i]];
        for (size_t j = 0; !o->left_out && j < o->ncols; j++) {
            if (strcmp(o->cols[j].type, "date"))
                continue;
            for (size_t k = 0; k < t.ncols; k++)
                if (!strcmp(t.cols[k].name, o->cols[j].name) &&
                    !strcmp(t.cols[k].type, "timestamp"))
                    t.fmt.ts_forms |= TS_FORM_DATE;
        }
    }

    /* Partition key types and the partitions themselves. */
    t.npkeys = npkeys;
    if (npkeys && !(t.pkeys = calloc(npkeys, sizeof *t.pkeys))) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t j = 0; j < npkeys && !rc; j++) {
        t.pkeys[j].name = strdup(pkeys[j]);
        if (!t.pkeys[j].name)
            rc = -ENOMEM;
        for (size_t c = 0; c < t.ncols && !rc; c++)
            if (!strcmp(t.cols[c].name, pkeys[j]))
                crawl_run_log(r, LOG_WARNING,
                              "Partition key %s of table %s is also a column "
                              "of its data: Athena and Hive refuse a table "
                              "with both; rename the folders or the column",
                              pkeys[j], ct->name);
    }
    for (size_t i = 0; i < ct->nobjs && !rc && npkeys; i++) {
        struct cobj *o = &r->objs[ct->objs[i]];
        if (o->left_out)
            continue;
        for (size_t j = 0; j < npkeys && !rc; j++) {
            const char *v = o->pvals[j];
            /* Hive's name for a NULL partition value: no evidence */
            if (!strcmp(v, "__HIVE_DEFAULT_PARTITION__"))
                continue;
            const char *vt = infer_text_type(v, strlen(v));
            if (!vt)
                vt = "string";
            char *m = hive_type_merge(t.pkeys[j].type, vt);
            if (!m) {
                rc = -ENOMEM;
                break;
            }
            free(t.pkeys[j].type);
            t.pkeys[j].type = m;
        }
        /* Its partition: the table location plus the first NPKEYS k=v
         * folders. */
        struct buf loc;
        buf_init(&loc, 4096);
        const char *seg = o->pseg;
        for (size_t j = 0; j < npkeys && seg; j++) {
            const char *sl = strchr(seg, '/');
            seg = sl ? sl + 1 : NULL;
        }
        size_t seglen = seg ? (size_t)(seg - o->pseg) : strlen(o->pseg);
        if (buf_printf(&loc, "%s%.*s", ct->location, (int)seglen, o->pseg)) {
            buf_release(&loc);
            rc = -ENOMEM;
            break;
        }
        /* Keys come sorted, so a partition's objects are contiguous. */
        if (nparts && !strcmp(parts[nparts - 1].location, loc.data)) {
            buf_release(&loc);
            continue;
        }
        struct partition *np = realloc(parts, (nparts + 1) * sizeof *np);
        if (!np) {
            buf_release(&loc);
            rc = -ENOMEM;
            break;
        }
        parts = np;
        memset(&parts[nparts], 0, sizeof *parts);
        parts[nparts].location = buf_detach(&loc);
        nparts++;
        for (size_t j = 0; j < npkeys && !rc; j++)
            rc = crawl_strv_push(&parts[nparts - 1].values,
                           &parts[nparts - 1].nvalues, o->pvals[j],
                           strlen(o->pvals[j]));
    }
    for (size_t j = 0; j < npkeys && !rc; j++)
        if (!t.pkeys[j].type && !(t.pkeys[j].type = strdup("string")))
            rc = -ENOMEM;
    if (rc)
        goto out;
    if (nparts > 1)
        qsort(parts, nparts, sizeof *parts, part_cmp);

    t.database = ct->database;
    t.name = ct->name;
    t.location = ct->location;
    t.crawler = r->name;
    /* Glue's averageRecordSize: bytes of a record as read (decompressed);
     * for Parquet, its share of the file. */
    t.avg_record_size = t.record_count ? rec_bytes / (double)t.record_count
                                       : 0;
    t.last_crawl = now;
    struct table_def *old = NULL;
    bool created = catalog_get_table(r->db, ct->database, ct->name, &old) != 0;
    bool changed = created || table_changed(old, &t);
    struct buf diff;
    buf_init(&diff, 600);
    if (!created && changed && schema_diff(old, &t, &diff) == -ENOMEM)
        buf_reset(&diff); /* -E2BIG: what fits is said */
    bool revived = old && old->deprecated;
    t.created = old && old->created ? old->created : now;
    t.updated = changed || !old ? now : old->updated;
    table_def_free(old);
    rc = catalog_put_table(r->db, &t);
    if (!rc)
        rc = catalog_put_partitions(r->db, ct->database, ct->name, parts,
                                    nparts);
    if (rc) {
        buf_release(&diff);
        goto out;
    }
    *written = true;
    pthread_mutex_lock(&crawl_lock);
    if (created)
        r->c->tables_created++;
    else if (changed)
        r->c->tables_updated++;
    pthread_mutex_unlock(&crawl_lock);
    if (created)
        crawl_run_log(r, LOG_INFO,
                      "Created table %s in database %s (%s, %zu columns, "
                      "%zu partition keys, %" PRIu64 " objects)",
                      ct->name, ct->database, t.fmt.classification, t.ncols,
                      t.npkeys, t.objects);
    else if (changed)
        crawl_run_log(r, LOG_INFO, "Updated table %s in database %s%s%s%s",
                      ct->name, ct->database, diff.len ? ": " : "",
                      diff.len ? diff.data : "",
                      revived ? (diff.len ? "; no longer deprecated"
                                          : ": no longer deprecated")
                              : "");
    buf_release(&diff);
out:
    t.database = t.name = t.location = t.crawler = NULL;
    columns_free(t.cols, t.ncols);
    columns_free(t.pkeys, t.npkeys);
    crawl_strv_free(pkeys, npkeys);
    for (size_t i = 0; i < nparts; i++)
        partition_release(&parts[i]);
    free(parts);
    return rc;
}

/* Tables this crawler made that this run did not see. */
struct dep_ctx {
    struct run *r;
    const char *database;
    char **names;
    size_t n;
};

static int dep_db_cb(void *ctx, const char *name)
{
    struct dep_ctx *d = ctx;
    return crawl_strv_push(&d->names, &d->n, name, strlen(name));
}

/* The index of table DB.NAME in this run, or SIZE_MAX if no object of
 * the run belongs to it. */
static size_t table_index(const struct run *r, const char *db,
                          const char *name)
{
    for (size_t i = 0; i < r->ntables; i++)
        if (!strcmp(r->tables[i].database, db) &&
            !strcmp(r->tables[i].name, name))
            return i;
    return SIZE_MAX;
}

/* Objects of run table CT that could not be read (an error, not a
 * classification). */
static size_t unreadable(const struct run *r, const struct ctable *ct)
{
    size_t n = 0;
    for (size_t i = 0; i < ct->nobjs; i++)
        if (r->objs[ct->objs[i]].err)
            n++;
    return n;
}

/* Deprecate (Glue's DEPRECATE_IN_DATABASE) this crawler's tables that the
 * run did not write: their folder is gone or holds nothing it could
 * classify.  A table whose objects could not be read (a store error) is
 * kept as it was: an outage is not a deletion. */
static int deprecate_vanished(struct run *r, const bool *written, int64_t now)
{
    struct dep_ctx dbs = {r, NULL, NULL, 0};
    int rc = catalog_list_databases(r->db, dep_db_cb, &dbs);
    for (size_t i = 0; i < dbs.n && !rc; i++) {
        struct dep_ctx tabs = {r, dbs.names[i], NULL, 0};
        rc = catalog_list_tables(r->db, dbs.names[i], dep_db_cb, &tabs);
        for (size_t j = 0; j < tabs.n && !rc; j++) {
            size_t ti = table_index(r, dbs.names[i], tabs.names[j]);
            if (ti != SIZE_MAX && written[ti])
                continue;
            struct table_def *t = NULL;
            if (catalog_get_table(r->db, dbs.names[i], tabs.names[j], &t))
                continue;
            size_t bad = ti != SIZE_MAX ? unreadable(r, &r->tables[ti]) : 0;
            if (!t->crawler || strcmp(t->crawler, r->name) || t->deprecated) {
                /* another crawler's, or deprecated already */
            } else if (bad) {
                crawl_run_log(r, LOG_WARNING,
                              "Kept table %s in database %s as it was: %zu "
                              "of its objects could not be read",
                              t->name, t->database, bad);
            } else {
                t->deprecated = true;
                t->updated = now;
                rc = catalog_put_table(r->db, t);
                if (!rc) {
                    pthread_mutex_lock(&crawl_lock);
                    r->c->tables_deleted++;
                    pthread_mutex_unlock(&crawl_lock);
                    crawl_run_log(r, LOG_INFO,
                                  "Deprecated table %s in database %s: its "
                                  "folder '%s' %s",
                                  t->name, t->database, t->location,
                                  ti == SIZE_MAX
                                      ? "holds no data any more"
                                      : "holds nothing that could be "
                                        "classified");
                }
            }
            table_def_free(t);
        }
        crawl_strv_free(tabs.names, tabs.n);
    }
    crawl_strv_free(dbs.names, dbs.n);
    return rc;
}

/* Remember what each object was (for the next, incremental run). */
static int save_objects(struct run *r, bool complete)
{
    int rc = state_begin(r->db);
    if (rc)
        return rc;
    if (complete) {
        sqlite3_stmt *del =
            run_prepare(r, "DELETE FROM crawl_objects WHERE crawler = ?1");
        if (!del) {
            state_rollback(r->db);
            return -EIO;
        }
        crawl_bind_str(del, 1, r->name);
        rc = sqlite3_step(del) == SQLITE_DONE ? 0 : -EIO;
        sqlite3_finalize(del);
    }
    sqlite3_stmt *st = rc ? NULL : run_prepare(r, 
        "INSERT OR REPLACE INTO crawl_objects (crawler, bucket, key, etag,"
        " size, tbl, classification, compression, delimiter, header, quoted,"
        " records, schema, avg_size, ts_forms) VALUES (?1, ?2, ?3, ?4, ?5,"
        " ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
    if (!rc && !st)
        rc = -EIO;
    for (size_t i = 0; i < r->nobjs && !rc; i++) {
        struct cobj *o = &r->objs[i];
        if (!o->store || (!complete && !o->sampled))
            continue;
        const struct ctable *t = &r->tables[o->table];
        char *schema = o->reason ? strdup(o->reason)
                                 : cols_encode(o->cols, o->ncols);
        if (!schema) {
            rc = -ENOMEM;
            break;
        }
        sqlite3_reset(st);
        crawl_bind_str(st, 1, r->name);
        crawl_bind_str(st, 2, t->bucket);
        crawl_bind_str(st, 3, o->key);
        crawl_bind_str(st, 4, o->etag);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)o->size);
        crawl_bind_str(st, 6, t->name);
        crawl_bind_str(st, 7, o->reason ? "UNKNOWN" : o->fmt.classification);
        crawl_bind_str(st, 8, o->fmt.compression[0] ? o->fmt.compression : "none");
        sqlite3_bind_int(st, 9, (unsigned char)o->fmt.delimiter);
        sqlite3_bind_int(st, 10, o->fmt.header);
        sqlite3_bind_int(st, 11, o->fmt.quoted);
        sqlite3_bind_int64(st, 12, (sqlite3_int64)o->records);
        crawl_bind_str(st, 13, schema);
        sqlite3_bind_double(st, 14, o->avg_size);
        sqlite3_bind_int64(st, 15, (sqlite3_int64)o->fmt.ts_forms);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = -EIO;
        free(schema);
    }
    sqlite3_finalize(st);
    if (rc) {
        log_err("crawler '%s': cannot save what it saw: %s", r->name,
                strerror(-rc));
        state_rollback(r->db);
        return rc;
    }
    return state_commit(r->db);
}

/* A table made of the objects directly in a target (or of k=v folders at
 * its root) has the target as its location, which also holds the folders
 * of the target's other tables: Athena and Spark reading it read theirs
 * too.  Said once per such table. */
static void warn_overlaps(struct run *r)
{
    for (size_t i = 0; i < r->ntables; i++) {
        const struct ctable *t = &r->tables[i];
        if (strcmp(t->location, r->sp.targets[t->target]))
            continue;
        size_t others = 0;
        const char *example = NULL;
        for (size_t j = 0; j < r->ntables; j++)
            if (j != i && r->tables[j].target == t->target) {
                others++;
                example = r->tables[j].name;
            }
        if (others)
            crawl_run_log(r, LOG_WARNING,
                          "Table %s is the objects directly in '%s', a "
                          "location that also holds the folders of %zu "
                          "other tables (e.g. %s): readers of %s (Athena, "
                          "Spark) read those too; move its objects into a "
                          "folder of their own",
                          t->name, t->location, others, example, t->name);
    }
}

struct bucket_list {
    const struct gluefs *g;
    char **names;
    size_t n;
};

static int bucket_cb(void *ctx, const struct store_entry *e)
{
    struct bucket_list *b = ctx;
    if (!gluefs_bucket_allowed(b->g, e->key))
        return 0;
    return crawl_strv_push(&b->names, &b->n, e->key, strlen(e->key));
}

/* The run proper.  Returns 0, -ECANCELED or -errno with ERR set. */
int crawl_run(struct run *r, char *err, size_t errlen)
{
    int rc = 0;
    int64_t now = time(NULL);
    /* The default crawler without targets crawls every allowed bucket. */
    if (!r->sp.ntargets) {
        if (!r->is_default) {
            snprintf(err, errlen, "no targets: write 'targets = s3://...' "
                                  "to the spec");
            return -EINVAL;
        }
        struct bucket_list bl = {r->g, NULL, 0};
        if (r->g->bucket_filter && *r->g->bucket_filter)
            /* buckets= names them: no ListBuckets needed (anonymous
             * access to a public bucket cannot list buckets). */
            rc = crawl_add_list(&bl.names, &bl.n, r->g->bucket_filter);
        else
            rc = r->store->ops->list_buckets(r->store, bucket_cb, &bl);
        if (rc) {
            snprintf(err, errlen, "cannot list buckets: %s", strerror(-rc));
            crawl_strv_free(bl.names, bl.n);
            return rc;
        }
        for (size_t i = 0; i < bl.n && !rc; i++) {
            char url[300];
            snprintf(url, sizeof url, "s3://%s/", bl.names[i]);
            rc = crawl_strv_push(&r->sp.targets, &r->sp.ntargets, url, strlen(url));
        }
        crawl_strv_free(bl.names, bl.n);
        if (rc)
            return rc;
    }

    /* 1-3: list and group. */
    for (size_t i = 0; i < r->sp.ntargets; i++) {
        if (crawl_run_cancelled(r))
            return -ECANCELED;
        r->cur_target = i;
        if (crawl_split_url(r->sp.targets[i], r->cur_bucket, sizeof r->cur_bucket,
                      r->cur_prefix, sizeof r->cur_prefix))
            continue;
        if (r->sp.database)
            snprintf(r->cur_db, sizeof r->cur_db, "%s", r->sp.database);
        else
            catalog_sanitize_name(r->cur_bucket, r->cur_db, sizeof r->cur_db);
        crawl_run_log(r, LOG_DEBUG, "Listing %s", r->sp.targets[i]);
        rc = r->store->ops->list(r->store, r->cur_bucket, r->cur_prefix, NULL,
                                 list_cb, r);
        if (rc == -ECANCELED)
            return rc;
        if (rc == -ENOENT) {
            crawl_run_log(r, LOG_WARNING, "Skipped %s: no such bucket",
                    r->sp.targets[i]);
            rc = 0;
        } else if (rc) {
            snprintf(err, errlen, "cannot list '%s': %s", r->sp.targets[i],
                     strerror(-rc));
            crawl_run_log(r, LOG_ERR, "Cannot list %s: %s", r->sp.targets[i],
                    strerror(-rc));
            r->list_failed = true;
            rc = 0;
        }
    }

    /* 4: reuse what the last run saw; sample the rest.  (ts_forms: a
     * column newer than crawler.c's crawl_objects schema.) */
    rc = catalog_add_column(r->db, "crawl_objects", "ts_forms",
                            "INTEGER NOT NULL DEFAULT 0");
    if (rc)
        return rc;
    sqlite3_stmt *prev = run_prepare(r, 
        "SELECT etag, size, classification, compression, delimiter, header,"
        " quoted, records, schema, avg_size, ts_forms FROM crawl_objects"
        " WHERE crawler = ?1 AND bucket = ?2 AND key = ?3");
    if (!prev)
        return -EIO;
    r->todo = calloc(r->nobjs ? r->nobjs : 1, sizeof *r->todo);
    if (!r->todo) {
        sqlite3_finalize(prev);
        return -ENOMEM;
    }
    for (size_t i = 0; i < r->nobjs && !rc; i++) {
        struct cobj *o = &r->objs[i];
        rc = load_previous(r, prev, o, r->tables[o->table].bucket);
        if (!rc && !o->have)
            r->todo[r->ntodo++] = i;
    }
    sqlite3_finalize(prev);
    if (rc)
        return rc;
    warn_overlaps(r);
    crawl_run_log(r, LOG_INFO, "%zu objects listed, %zu new or changed to classify",
            r->nobjs, r->ntodo);
    crawl_sample_all(r);
    for (size_t i = 0; i < r->ntodo; i++) {
        struct cobj *o = &r->objs[r->todo[i]];
        char url[2400];
        snprintf(url, sizeof url, "s3://%s/%s", r->tables[o->table].bucket,
                 o->key);
        if (!o->sampled)
            continue;
        if (o->err) {
            r->errors++;
            crawl_run_log(r, LOG_WARNING, "Skipped '%s': cannot read it: %s", url,
                    strerror(-o->err));
        } else if (!o->reason) {
            crawl_run_log_kind(r, CRAWL_LOG_OBJECT, LOG_INFO,
                    "Classified %s as %s%s%s", url,
                    o->fmt.classification,
                    strcmp(o->fmt.compression, "none") ? " compressed with "
                                                        : "",
                    strcmp(o->fmt.compression, "none") ? o->fmt.compression
                                                        : "");
        }
    }
    if (crawl_run_cancelled(r)) {
        save_objects(r, false);
        return -ECANCELED;
    }

    /* 5: tables. */
    bool *written = calloc(r->ntables ? r->ntables : 1, sizeof *written);
    if (!written)
        return -ENOMEM;
    now = time(NULL);
    for (size_t i = 0; i < r->ntables && !rc; i++) {
        if (crawl_run_cancelled(r)) {
            rc = -ECANCELED;
            break;
        }
        rc = table_write(r, &r->tables[i], now, &written[i]);
        if (rc) {
            snprintf(err, errlen, "cannot write table '%s.%s': %s",
                     r->tables[i].database, r->tables[i].name, strerror(-rc));
        }
    }
    if (!rc && !r->list_failed)
        rc = deprecate_vanished(r, written, now);
    free(written);
    if (rc)
        return rc;
    rc = save_objects(r, !r->list_failed);
    if (rc) {
        snprintf(err, errlen, "cannot save the crawl state: %s",
                 strerror(-rc));
        return rc;
    }
    if (r->list_failed)
        return -EIO;
    return 0;
}
