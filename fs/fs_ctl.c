/* fs_ctl.c - catalog/, crawlers/, jobs/ and .gluefs/; see fs_ctl.h */
#include "fs_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "crawler.h"
#include "gluefs.h"
#include "jobs.h"
#include "log.h"
#include "stats.h"

#define CTL_FILE_MAX (64u << 20) /* cap on a rendered or written file */

static struct gluefs *G;
static time_t mount_time;

/* A path split into at most four components: ns/a/b/c. */
struct ctl_path {
    int n;
    char part[4][NAME_MAX + 1];
};

enum ctl_ns { NS_NONE, NS_GLUEFS, NS_CATALOG, NS_CRAWLERS, NS_JOBS };

static int ctl_split(const char *path, struct ctl_path *p)
{
    p->n = 0;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (p->n == 4)
            return -ENOENT;
        if (len > NAME_MAX)
            return -ENAMETOOLONG;
        memcpy(p->part[p->n], s, len);
        p->part[p->n][len] = '\0';
        p->n++;
        s += len;
    }
    return 0;
}

static enum ctl_ns ctl_ns_of(const struct ctl_path *p)
{
    if (p->n == 0)
        return NS_NONE;
    if (!strcmp(p->part[0], ".gluefs"))
        return NS_GLUEFS;
    if (!strcmp(p->part[0], "catalog"))
        return NS_CATALOG;
    if (!strcmp(p->part[0], "crawlers"))
        return NS_CRAWLERS;
    if (!strcmp(p->part[0], "jobs"))
        return NS_JOBS;
    return NS_NONE;
}

static const char *const catalog_files[] = {"schema", "table.json", "ddl.sql",
                                            "partitions", "stats", NULL};
static const char *const run_files[] = {"spec", "status", "log", "wait",
                                        "ctl", NULL};

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (!strcmp(*list, name))
            return true;
    return false;
}

/* The kinds of file this module serves. */
enum ctl_kind {
    K_STATS,
    K_CAT_FILE,
    K_RUN_SPEC,
    K_RUN_STATUS,
    K_RUN_LOG,
    K_RUN_WAIT,
    K_RUN_CTL,
};

/* An open control file. */
struct ctl_fh {
    enum ctl_kind kind;
    bool jobs;      /* jobs/ rather than crawlers/ */
    bool writable;  /* opened for writing */
    bool dirty;     /* written since the last flush */
    char name[NAME_MAX + 1];
    struct buf data;
};

static void stat_dir(struct stat *st)
{
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = mount_time;
}

static void stat_file(struct stat *st, mode_t mode, off_t size)
{
    st->st_mode = S_IFREG | mode;
    st->st_nlink = 1;
    st->st_size = size;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_mtime = st->st_ctime = st->st_atime = time(NULL);
}

/* Does catalog database DB have any table? */
static int has_table_cb(void *ctx, const char *name)
{
    (void)name;
    *(bool *)ctx = true;
    return 1;
}

static int catalog_db_exists(const char *db)
{
    bool found = false;
    int rc = catalog_list_tables(G->db, db, has_table_cb, &found);
    if (rc < 0)
        return rc;
    return found ? 0 : -ENOENT;
}

/* Render catalog/DB/TABLE/FILE into OUT. */
static int render_catalog_file(const char *db, const char *table,
                               const char *file, struct buf *out)
{
    struct table_def *t = NULL;
    int rc = catalog_get_table(G->db, db, table, &t);
    if (rc)
        return rc;
    if (!strcmp(file, "schema"))
        rc = render_schema(t, out);
    else if (!strcmp(file, "table.json"))
        rc = render_table_json(t, out);
    else if (!strcmp(file, "ddl.sql"))
        rc = render_ddl(t, out);
    else if (!strcmp(file, "partitions"))
        rc = render_partitions(G->db, t, out);
    else if (!strcmp(file, "stats"))
        rc = render_stats(t, out);
    else
        rc = -ENOENT;
    table_def_free(t);
    return rc;
}

static int run_exists(bool jobs, const char *name)
{
    return jobs ? job_exists(name) : crawler_exists(name);
}

/* Render a crawler's or job's file into OUT (blocking for wait). */
static int render_run_file(bool jobs, const char *name, enum ctl_kind k,
                           struct buf *out)
{
    switch (k) {
    case K_RUN_SPEC:
        return jobs ? job_read_spec(name, out) : crawler_read_spec(name, out);
    case K_RUN_STATUS:
        return jobs ? job_read_status(name, out)
                    : crawler_read_status(name, out);
    case K_RUN_LOG:
        return jobs ? job_read_log(name, out) : crawler_read_log(name, out);
    case K_RUN_WAIT:
        return jobs ? job_wait(name, out) : crawler_wait(name, out);
    case K_RUN_CTL:
        return 0;
    default:
        return -ENOENT;
    }
}

static int run_kind(const char *file, enum ctl_kind *k)
{
    static const struct {
        const char *name;
        enum ctl_kind kind;
    } map[] = {{"spec", K_RUN_SPEC}, {"status", K_RUN_STATUS},
               {"log", K_RUN_LOG},   {"wait", K_RUN_WAIT},
               {"ctl", K_RUN_CTL}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, file)) {
            *k = map[i].kind;
            return 0;
        }
    return -ENOENT;
}

void fsctl_init(struct gluefs *g)
{
    G = g;
    mount_time = time(NULL);
}

int fsctl_getattr(const char *path, struct stat *st)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    memset(st, 0, sizeof *st);
    struct buf b;
    buf_init(&b, CTL_FILE_MAX);
    switch (ctl_ns_of(&p)) {
    case NS_GLUEFS:
        if (p.n == 1) {
            stat_dir(st);
            return 0;
        }
        if (p.n == 2 && !strcmp(p.part[1], "stats")) {
            rc = stats_render(&b);
            stat_file(st, 0444, (off_t)b.len);
            buf_release(&b);
            return rc;
        }
        return -ENOENT;
    case NS_CATALOG:
        if (p.n == 1) {
            stat_dir(st);
            return 0;
        }
        if (p.n == 2) {
            rc = catalog_db_exists(p.part[1]);
            if (!rc)
                stat_dir(st);
            return rc;
        }
        if (p.n == 3) {
            struct table_def *t = NULL;
            rc = catalog_get_table(G->db, p.part[1], p.part[2], &t);
            if (rc)
                return rc;
            table_def_free(t);
            stat_dir(st);
            return 0;
        }
        if (!strcmp(p.part[3], "data")) {
            char target[PATH_MAX];
            rc = fsctl_readlink(path, target, sizeof target);
            if (rc)
                return rc;
            stat_file(st, 0777, (off_t)strlen(target));
            st->st_mode = S_IFLNK | 0777;
            return 0;
        }
        if (!in_list(catalog_files, p.part[3]))
            return -ENOENT;
        rc = render_catalog_file(p.part[1], p.part[2], p.part[3], &b);
        if (!rc)
            stat_file(st, 0444, (off_t)b.len);
        buf_release(&b);
        return rc;
    case NS_CRAWLERS:
    case NS_JOBS: {
        bool jobs = ctl_ns_of(&p) == NS_JOBS;
        if (p.n == 1) {
            stat_dir(st);
            return 0;
        }
        rc = run_exists(jobs, p.part[1]);
        if (rc)
            return rc;
        if (p.n == 2) {
            stat_dir(st);
            return 0;
        }
        enum ctl_kind k;
        if (p.n != 3 || run_kind(p.part[2], &k))
            return -ENOENT;
        off_t size = 0;
        if (k != K_RUN_WAIT && k != K_RUN_CTL) {
            rc = render_run_file(jobs, p.part[1], k, &b);
            size = (off_t)b.len;
            buf_release(&b);
            if (rc)
                return rc;
        }
        stat_file(st, k == K_RUN_SPEC || k == K_RUN_CTL ? 0644 : 0444, size);
        return 0;
    }
    default:
        return -ENOENT;
    }
}

struct fill_ctx {
    void *buf;
    fuse_fill_dir_t filler;
};

static int fill_cb(void *ctx, const char *name)
{
    struct fill_ctx *f = ctx;
    return f->filler(f->buf, name, NULL, 0, 0) ? 1 : 0;
}

int fsctl_readdir(const char *path, void *buf, fuse_fill_dir_t filler)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    struct stat st;
    rc = fsctl_getattr(path, &st);
    if (rc)
        return rc;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    struct fill_ctx f = {buf, filler};
    switch (ctl_ns_of(&p)) {
    case NS_GLUEFS:
        filler(buf, "stats", NULL, 0, 0);
        return 0;
    case NS_CATALOG:
        if (p.n == 1)
            return catalog_list_databases(G->db, fill_cb, &f) < 0 ? -EIO : 0;
        if (p.n == 2)
            return catalog_list_tables(G->db, p.part[1], fill_cb, &f) < 0
                       ? -EIO
                       : 0;
        for (int i = 0; catalog_files[i]; i++)
            filler(buf, catalog_files[i], NULL, 0, 0);
        filler(buf, "data", NULL, 0, 0);
        return 0;
    case NS_CRAWLERS:
    case NS_JOBS:
        if (p.n == 1)
            return (ctl_ns_of(&p) == NS_JOBS ? jobs_list(fill_cb, &f)
                                              : crawlers_list(fill_cb, &f)) < 0
                       ? -EIO
                       : 0;
        for (int i = 0; run_files[i]; i++)
            filler(buf, run_files[i], NULL, 0, 0);
        return 0;
    default:
        return -ENOENT;
    }
}

int fsctl_readlink(const char *path, char *buf, size_t size)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    if (ctl_ns_of(&p) != NS_CATALOG || p.n != 4 || strcmp(p.part[3], "data"))
        return -EINVAL;
    struct table_def *t = NULL;
    rc = catalog_get_table(G->db, p.part[1], p.part[2], &t);
    if (rc)
        return rc;
    /* s3://bucket/prefix/ -> ../../../s3/bucket/prefix */
    const char *loc = t->location;
    if (!strncmp(loc, "s3://", 5))
        loc += 5;
    size_t len = strlen(loc);
    while (len && loc[len - 1] == '/')
        len--;
    int n = snprintf(buf, size, "../../../s3/%.*s", (int)len, loc);
    table_def_free(t);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int fsctl_open(const char *path, struct fuse_file_info *fi)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    bool wr = (fi->flags & O_ACCMODE) != O_RDONLY;
    struct ctl_fh *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    buf_init(&h->data, CTL_FILE_MAX);
    h->writable = wr;
    rc = -ENOENT;
    switch (ctl_ns_of(&p)) {
    case NS_GLUEFS:
        if (p.n != 2 || strcmp(p.part[1], "stats"))
            goto fail;
        rc = -EACCES;
        if (wr)
            goto fail;
        h->kind = K_STATS;
        rc = stats_render(&h->data);
        break;
    case NS_CATALOG:
        if (p.n != 4 || !in_list(catalog_files, p.part[3]))
            goto fail;
        rc = -EACCES;
        if (wr)
            goto fail;
        h->kind = K_CAT_FILE;
        rc = render_catalog_file(p.part[1], p.part[2], p.part[3], &h->data);
        break;
    case NS_CRAWLERS:
    case NS_JOBS:
        h->jobs = ctl_ns_of(&p) == NS_JOBS;
        if (p.n != 3 || run_kind(p.part[2], &h->kind))
            goto fail;
        rc = run_exists(h->jobs, p.part[1]);
        if (rc)
            goto fail;
        snprintf(h->name, sizeof h->name, "%s", p.part[1]);
        if (wr) {
            rc = -EACCES;
            if (h->kind != K_RUN_SPEC && h->kind != K_RUN_CTL)
                goto fail;
            /* A writer replaces the whole spec: the kernel strips O_TRUNC
             * from open (no atomic_o_trunc), so start empty either way. */
            rc = 0;
        } else {
            rc = render_run_file(h->jobs, h->name, h->kind, &h->data);
        }
        break;
    default:
        goto fail;
    }
    if (rc)
        goto fail;
    fi->direct_io = 1;
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
fail:
    buf_release(&h->data);
    free(h);
    return rc;
}

static struct ctl_fh *fh_of(struct fuse_file_info *fi)
{
    return (struct ctl_fh *)(uintptr_t)fi->fh;
}

int fsctl_read(const char *path, char *buf, size_t size, off_t off,
               struct fuse_file_info *fi)
{
    (void)path;
    struct ctl_fh *h = fh_of(fi);
    if (!h)
        return -EBADF;
    if (off < 0 || (size_t)off >= h->data.len)
        return 0;
    size_t n = h->data.len - (size_t)off;
    if (n > size)
        n = size;
    memcpy(buf, h->data.data + off, n);
    return (int)n;
}

int fsctl_write(const char *path, const char *buf, size_t size, off_t off,
                struct fuse_file_info *fi)
{
    (void)path;
    struct ctl_fh *h = fh_of(fi);
    if (!h || !h->writable)
        return -EBADF;
    if (off < 0 || (uint64_t)off + size > CTL_FILE_MAX)
        return -EFBIG;
    size_t end = (size_t)off + size;
    if (end > h->data.len) {
        /* Grow with zeros up to OFF, then overwrite. */
        size_t grow = end - h->data.len;
        char zeros[256] = {0};
        while (grow) {
            size_t k = grow < sizeof zeros ? grow : sizeof zeros;
            int rc = buf_append(&h->data, zeros, k);
            if (rc)
                return rc;
            grow -= k;
        }
    }
    memcpy(h->data.data + off, buf, size);
    h->dirty = true;
    return (int)size;
}

int fsctl_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct ctl_fh *h = fh_of(fi);
    if (!h || !h->writable || !h->dirty)
        return 0;
    h->dirty = false;
    const char *text = h->data.data ? h->data.data : "";
    if (h->kind == K_RUN_SPEC)
        return h->jobs ? job_set_spec(h->name, text, h->data.len)
                       : crawler_set_spec(h->name, text, h->data.len);
    if (h->kind == K_RUN_CTL)
        return h->jobs ? job_ctl(h->name, text, h->data.len)
                       : crawler_ctl(h->name, text, h->data.len);
    return 0;
}

int fsctl_release(const char *path, struct fuse_file_info *fi)
{
    struct ctl_fh *h = fh_of(fi);
    if (!h)
        return 0;
    if (h->dirty) {
        int rc = fsctl_flush(path, fi);
        if (rc)
            log_warn("'%s': %s", path, strerror(-rc));
    }
    buf_release(&h->data);
    free(h);
    fi->fh = 0;
    return 0;
}

int fsctl_truncate(const char *path, off_t size)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    enum ctl_ns ns = ctl_ns_of(&p);
    enum ctl_kind k;
    if ((ns == NS_CRAWLERS || ns == NS_JOBS) && p.n == 3 &&
        !run_kind(p.part[2], &k) && (k == K_RUN_SPEC || k == K_RUN_CTL)) {
        rc = run_exists(ns == NS_JOBS, p.part[1]);
        /* O_TRUNC before a write: the write itself replaces the spec. */
        return rc ? rc : (size == 0 ? 0 : -EINVAL);
    }
    struct stat st;
    rc = fsctl_getattr(path, &st);
    return rc ? rc : -EACCES;
}

int fsctl_mkdir(const char *path, mode_t mode)
{
    (void)mode;
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    enum ctl_ns ns = ctl_ns_of(&p);
    if ((ns == NS_CRAWLERS || ns == NS_JOBS) && p.n == 2)
        return ns == NS_JOBS ? job_create(p.part[1])
                             : crawler_create(p.part[1]);
    struct stat st;
    if (!fsctl_getattr(path, &st))
        return -EEXIST;
    return -EACCES;
}

int fsctl_rmdir(const char *path)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    enum ctl_ns ns = ctl_ns_of(&p);
    if ((ns == NS_CRAWLERS || ns == NS_JOBS) && p.n == 2)
        return ns == NS_JOBS ? job_remove(p.part[1])
                             : crawler_remove(p.part[1]);
    struct stat st;
    rc = fsctl_getattr(path, &st);
    return rc ? rc : -EACCES;
}

int fsctl_unlink(const char *path)
{
    struct ctl_path p;
    int rc = ctl_split(path, &p);
    if (rc)
        return rc;
    enum ctl_ns ns = ctl_ns_of(&p);
    enum ctl_kind k;
    /* `rm -r jobs/NAME` unlinks the control files first: they are part of
     * the folder and go with it at rmdir, so unlinking them is a no-op. */
    if ((ns == NS_CRAWLERS || ns == NS_JOBS) && p.n == 3 &&
        !run_kind(p.part[2], &k))
        return run_exists(ns == NS_JOBS, p.part[1]);
    struct stat st;
    rc = fsctl_getattr(path, &st);
    return rc ? rc : -EACCES;
}
