/* catalog.c - the catalog's tables in the state store; see catalog.h
 *
 * Three tables, all keyed by (database, table):
 *   catalog_tables      one row per table (format, counts, times)
 *   catalog_columns     columns (kind 0) and partition keys (kind 1), by pos
 *   catalog_partitions  one row per partition: location and its values
 * Every statement is prepared with bound parameters; no SQL is built from
 * names. */
#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "state.h"

static const char catalog_schema[] =
    "CREATE TABLE IF NOT EXISTS catalog_tables ("
    " database TEXT NOT NULL, name TEXT NOT NULL, location TEXT NOT NULL,"
    " classification TEXT NOT NULL, compression TEXT NOT NULL,"
    " delimiter INTEGER NOT NULL DEFAULT 0, header INTEGER NOT NULL DEFAULT 0,"
    " quoted INTEGER NOT NULL DEFAULT 0, objects INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0, record_count INTEGER NOT NULL DEFAULT 0,"
    " avg_record_size REAL NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
    " last_crawl INTEGER NOT NULL DEFAULT 0, crawler TEXT,"
    " deprecated INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (database, name));"
    "CREATE TABLE IF NOT EXISTS catalog_columns ("
    " database TEXT NOT NULL, tbl TEXT NOT NULL, kind INTEGER NOT NULL,"
    " pos INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,"
    " PRIMARY KEY (database, tbl, kind, pos));"
    "CREATE TABLE IF NOT EXISTS catalog_partitions ("
    " database TEXT NOT NULL, tbl TEXT NOT NULL, location TEXT NOT NULL,"
    " vals TEXT NOT NULL,"
    " PRIMARY KEY (database, tbl, location));";

static bool has_column(sqlite3 *db, const char *tbl, const char *col)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

int catalog_add_column(sqlite3 *db, const char *tbl, const char *col,
                       const char *decl)
{
    if (has_column(db, tbl, col))
        return 0;
    char sql[256];
    int w = snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", tbl,
                     col, decl);
    if (w < 0 || (size_t)w >= sizeof sql)
        return -EIO;
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    /* another thread may have added it meanwhile */
    if (has_column(db, tbl, col))
        return 0;
    log_err("catalog: cannot add column '%s' to '%s': %s", col, tbl,
            sqlite3_errmsg(db));
    return -EIO;
}

int catalog_init(sqlite3 *db)
{
    int rc = state_exec(db, catalog_schema);
    if (!rc)
        rc = catalog_add_column(db, "catalog_tables", "ts_forms",
                                "INTEGER NOT NULL DEFAULT 0");
    return rc;
}

size_t catalog_timestamp_formats(uint32_t forms, char *out, size_t n)
{
    static const char *const prec[] = {"HH:mm", "HH:mm:ss", "HH:mm:ss.SSS"};
    size_t used = 0, count = 0;
    if (!n)
        return 0;
    out[0] = '\0';
    for (int bit = 0; bit <= 24; bit++) {
        if (!(forms & (1u << bit)))
            continue;
        char pat[64];
        if (bit == 24) {
            snprintf(pat, sizeof pat, "yyyy-MM-dd");
        } else {
            bool slash = bit >= 12, t = bit % 12 >= 6, zone = bit % 2;
            int p = bit % 6 / 2;
            /* Hive's default (java.sql.Timestamp) needs no pattern. */
            if (!slash && !t && p != TS_FORM_PREC_MIN && !zone)
                continue;
            if (slash && t)
                continue; /* not a form infer.c types as timestamp */
            snprintf(pat, sizeof pat, "%s%s%s%s", slash ? "yyyy/MM/dd"
                                                        : "yyyy-MM-dd",
                     t ? "'T'" : " ", prec[p], zone ? "ZZ" : "");
        }
        size_t len = strlen(pat) + (count ? 1 : 0);
        if (used + len >= n)
            break;
        snprintf(out + used, n - used, "%s%s", count ? "," : "", pat);
        used += len;
        count++;
    }
    return count;
}

void catalog_sanitize_name(const char *in, char *out, size_t n)
{
    size_t o = 0;
    bool in_seq = false; /* inside a multi-byte UTF-8 character */
    if (!n)
        return;
    for (size_t i = 0; in && in[i] && o + 1 < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x80 && (c & 0xc0) == 0x80 && in_seq)
            continue; /* the rest of a character already written as '_' */
        in_seq = c >= 0xc0;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            c = '_';
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Prepare SQL or log why not.  Returns NULL on failure. */
static sqlite3_stmt *cat_prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_err("catalog: cannot prepare statement: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Run a statement with (database, name) bound to ?1 and ?2 and no rows. */
static int exec_dn(sqlite3 *db, const char *sql, const char *database,
                   const char *name)
{
    sqlite3_stmt *st = cat_prepare(db, sql);
    if (!st)
        return -EIO;
    bind_text(st, 1, database);
    bind_text(st, 2, name);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (rc)
        log_err("catalog: '%s.%s': %s", database, name, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* Partition values are kept as one text: "<len>:<value>" per value. */
static int vals_encode(char *const *vals, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = vals[i] ? vals[i] : "";
        int rc = buf_printf(out, "%zu:%s", strlen(v), v);
        if (rc)
            return rc;
    }
    if (!out->data)
        return buf_puts(out, "");
    return 0;
}

static int vals_decode(const char *s, char ***vals, size_t *n)
{
    size_t cap = 0, cnt = 0;
    char **v = NULL;
    *vals = NULL;
    *n = 0;
    while (s && *s) {
        char *end;
        errno = 0;
        unsigned long long len = strtoull(s, &end, 10);
        if (errno || end == s || *end != ':' || strlen(end + 1) < len)
            break;
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 4;
            char **nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                goto oom;
            v = nv;
            cap = nc;
        }
        v[cnt] = strndup(end + 1, (size_t)len);
        if (!v[cnt])
            goto oom;
        cnt++;
        s = end + 1 + len;
    }
    *vals = v;
    *n = cnt;
    return 0;
oom:
    for (size_t i = 0; i < cnt; i++)
        free(v[i]);
    free(v);
    return -ENOMEM;
}

static int put_columns(sqlite3 *db, const struct table_def *t, int kind,
                       const struct column *cols, size_t n)
{
    sqlite3_stmt *st = cat_prepare(
        db, "INSERT INTO catalog_columns (database, tbl, kind, pos, name, type)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st)
        return -EIO;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, t->database);
        bind_text(st, 2, t->name);
        sqlite3_bind_int(st, 3, kind);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)i);
        bind_text(st, 5, cols[i].name ? cols[i].name : "");
        bind_text(st, 6, cols[i].type ? cols[i].type : "string");
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = -EIO;
    }
    sqlite3_finalize(st);
    return rc;
}

int catalog_put_table(sqlite3 *db, const struct table_def *t)
{
    if (!t || !t->database || !t->name || !t->location)
        return -EINVAL;
    int rc = state_begin(db);
    if (rc)
        return rc;
    sqlite3_stmt *st = cat_prepare(
        db,
        "INSERT OR REPLACE INTO catalog_tables (database, name, location,"
        " classification, compression, delimiter, header, quoted, objects,"
        " bytes, record_count, avg_record_size, created, updated, last_crawl,"
        " crawler, deprecated, ts_forms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
        " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
    if (!st) {
        rc = -EIO;
        goto fail;
    }
    bind_text(st, 1, t->database);
    bind_text(st, 2, t->name);
    bind_text(st, 3, t->location);
    bind_text(st, 4, t->fmt.classification);
    bind_text(st, 5, t->fmt.compression[0] ? t->fmt.compression : "none");
    sqlite3_bind_int(st, 6, (unsigned char)t->fmt.delimiter);
    sqlite3_bind_int(st, 7, t->fmt.header);
    sqlite3_bind_int(st, 8, t->fmt.quoted);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)t->objects);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)t->bytes);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)t->record_count);
    sqlite3_bind_double(st, 12, t->avg_record_size);
    sqlite3_bind_int64(st, 13, t->created);
    sqlite3_bind_int64(st, 14, t->updated);
    sqlite3_bind_int64(st, 15, t->last_crawl);
    bind_text(st, 16, t->crawler);
    sqlite3_bind_int(st, 17, t->deprecated);
    sqlite3_bind_int64(st, 18, (sqlite3_int64)t->fmt.ts_forms);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    sqlite3_finalize(st);
    if (rc)
        goto fail;
    rc = exec_dn(db,
                 "DELETE FROM catalog_columns WHERE database = ?1 AND tbl = ?2",
                 t->database, t->name);
    if (!rc)
        rc = put_columns(db, t, 0, t->cols, t->ncols);
    if (!rc)
        rc = put_columns(db, t, 1, t->pkeys, t->npkeys);
    if (rc)
        goto fail;
    return state_commit(db);
fail:
    log_err("catalog: cannot store table '%s.%s': %s", t->database, t->name,
            sqlite3_errmsg(db));
    state_rollback(db);
    return -EIO;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return strdup(s ? (const char *)s : "");
}

static int load_columns(sqlite3 *db, struct table_def *t)
{
    sqlite3_stmt *st = cat_prepare(
        db, "SELECT kind, name, type FROM catalog_columns"
            " WHERE database = ?1 AND tbl = ?2 ORDER BY kind, pos");
    if (!st)
        return -EIO;
    bind_text(st, 1, t->database);
    bind_text(st, 2, t->name);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0);
        struct column **arr = kind ? &t->pkeys : &t->cols;
        size_t *n = kind ? &t->npkeys : &t->ncols;
        struct column *na = realloc(*arr, (*n + 1) * sizeof *na);
        if (!na) {
            rc = -ENOMEM;
            break;
        }
        *arr = na;
        na[*n].name = col_dup(st, 1);
        na[*n].type = col_dup(st, 2);
        (*n)++;
        if (!na[*n - 1].name || !na[*n - 1].type) {
            rc = -ENOMEM;
            break;
        }
    }
    if (!rc && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_finalize(st);
    return rc;
}

int catalog_get_table(sqlite3 *db, const char *database, const char *name,
                      struct table_def **out)
{
    *out = NULL;
    sqlite3_stmt *st = cat_prepare(
        db, "SELECT location, classification, compression, delimiter, header,"
            " quoted, objects, bytes, record_count, avg_record_size, created,"
            " updated, last_crawl, crawler, deprecated, ts_forms"
            " FROM catalog_tables"
            " WHERE database = ?1 AND name = ?2");
    if (!st)
        return -EIO;
    bind_text(st, 1, database);
    bind_text(st, 2, name);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_finalize(st);
        return step == SQLITE_DONE ? -ENOENT : -EIO;
    }
    struct table_def *t = calloc(1, sizeof *t);
    int rc = -ENOMEM;
    if (!t)
        goto out;
    t->database = strdup(database);
    t->name = strdup(name);
    t->location = col_dup(st, 0);
    snprintf(t->fmt.classification, sizeof t->fmt.classification, "%s",
             (const char *)sqlite3_column_text(st, 1));
    snprintf(t->fmt.compression, sizeof t->fmt.compression, "%s",
             (const char *)sqlite3_column_text(st, 2));
    t->fmt.delimiter = (char)sqlite3_column_int(st, 3);
    t->fmt.header = sqlite3_column_int(st, 4) != 0;
    t->fmt.quoted = sqlite3_column_int(st, 5) != 0;
    t->fmt.ts_forms = (uint32_t)sqlite3_column_int64(st, 15);
    t->objects = (uint64_t)sqlite3_column_int64(st, 6);
    t->bytes = (uint64_t)sqlite3_column_int64(st, 7);
    t->record_count = (uint64_t)sqlite3_column_int64(st, 8);
    t->avg_record_size = sqlite3_column_double(st, 9);
    t->created = sqlite3_column_int64(st, 10);
    t->updated = sqlite3_column_int64(st, 11);
    t->last_crawl = sqlite3_column_int64(st, 12);
    if (sqlite3_column_type(st, 13) != SQLITE_NULL) {
        t->crawler = col_dup(st, 13);
        if (!t->crawler)
            goto out;
    }
    t->deprecated = sqlite3_column_int(st, 14) != 0;
    if (!t->database || !t->name || !t->location)
        goto out;
    rc = load_columns(db, t);
out:
    sqlite3_finalize(st);
    if (rc) {
        table_def_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int catalog_delete_table(sqlite3 *db, const char *database, const char *name)
{
    int rc = state_begin(db);
    if (rc)
        return rc;
    rc = exec_dn(db,
                 "DELETE FROM catalog_tables WHERE database = ?1 AND name = ?2",
                 database, name);
    if (!rc)
        rc = exec_dn(
            db, "DELETE FROM catalog_columns WHERE database = ?1 AND tbl = ?2",
            database, name);
    if (!rc)
        rc = exec_dn(
            db,
            "DELETE FROM catalog_partitions WHERE database = ?1 AND tbl = ?2",
            database, name);
    if (rc) {
        state_rollback(db);
        return rc;
    }
    return state_commit(db);
}

int catalog_put_partitions(sqlite3 *db, const char *database,
                           const char *name, const struct partition *parts,
                           size_t nparts)
{
    struct buf vals;
    buf_init(&vals, 1 << 20);
    int rc = state_begin(db);
    if (rc)
        return rc;
    rc = exec_dn(
        db, "DELETE FROM catalog_partitions WHERE database = ?1 AND tbl = ?2",
        database, name);
    sqlite3_stmt *st = NULL;
    if (!rc) {
        st = cat_prepare(db, "INSERT OR REPLACE INTO catalog_partitions"
                             " (database, tbl, location, vals)"
                             " VALUES (?1, ?2, ?3, ?4)");
        if (!st)
            rc = -EIO;
    }
    for (size_t i = 0; i < nparts && !rc; i++) {
        buf_reset(&vals);
        rc = vals_encode(parts[i].values, parts[i].nvalues, &vals);
        if (rc)
            break;
        sqlite3_reset(st);
        bind_text(st, 1, database);
        bind_text(st, 2, name);
        bind_text(st, 3, parts[i].location ? parts[i].location : "");
        bind_text(st, 4, vals.data);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = -EIO;
    }
    sqlite3_finalize(st);
    buf_release(&vals);
    if (rc) {
        log_err("catalog: cannot store partitions of '%s.%s'", database, name);
        state_rollback(db);
        return rc == -ENOMEM ? rc : -EIO;
    }
    return state_commit(db);
}

int catalog_list_partitions(sqlite3 *db, const char *database,
                            const char *name,
                            int (*cb)(void *ctx, const struct partition *p),
                            void *ctx)
{
    sqlite3_stmt *st = cat_prepare(
        db, "SELECT location, vals FROM catalog_partitions"
            " WHERE database = ?1 AND tbl = ?2 ORDER BY location");
    if (!st)
        return -EIO;
    bind_text(st, 1, database);
    bind_text(st, 2, name);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct partition p = {0};
        p.location = (char *)sqlite3_column_text(st, 0);
        rc = vals_decode((const char *)sqlite3_column_text(st, 1), &p.values,
                         &p.nvalues);
        if (rc)
            break;
        rc = cb(ctx, &p);
        p.location = NULL;
        partition_release(&p);
        if (rc)
            break;
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = -EIO;
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

static int list_names(sqlite3 *db, const char *sql, const char *database,
                      int (*cb)(void *ctx, const char *name), void *ctx)
{
    sqlite3_stmt *st = cat_prepare(db, sql);
    if (!st)
        return -EIO;
    if (database)
        bind_text(st, 1, database);
    int rc = 0, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(st, 0);
        rc = cb(ctx, s ? (const char *)s : "");
        if (rc)
            break;
    }
    if (!rc && step != SQLITE_DONE)
        rc = -EIO;
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

int catalog_list_databases(sqlite3 *db,
                           int (*cb)(void *ctx, const char *name), void *ctx)
{
    return list_names(db,
                      "SELECT DISTINCT database FROM catalog_tables"
                      " ORDER BY database",
                      NULL, cb, ctx);
}

int catalog_list_tables(sqlite3 *db, const char *database,
                        int (*cb)(void *ctx, const char *name), void *ctx)
{
    return list_names(db,
                      "SELECT name FROM catalog_tables WHERE database = ?1"
                      " ORDER BY name",
                      database, cb, ctx);
}

void table_def_free(struct table_def *t)
{
    if (!t)
        return;
    free(t->database);
    free(t->name);
    free(t->location);
    for (size_t i = 0; i < t->ncols; i++) {
        free(t->cols[i].name);
        free(t->cols[i].type);
    }
    free(t->cols);
    for (size_t i = 0; i < t->npkeys; i++) {
        free(t->pkeys[i].name);
        free(t->pkeys[i].type);
    }
    free(t->pkeys);
    free(t->crawler);
    free(t);
}

void partition_release(struct partition *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nvalues; i++)
        free(p->values[i]);
    free(p->values);
    free(p->location);
    p->values = NULL;
    p->nvalues = 0;
    p->location = NULL;
}
