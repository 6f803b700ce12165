/* fs.c - path routing and the mount's lifecycle; see fs.h */
#include "fs.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crawler.h"
#include "fs_ctl.h"
#include "fs_s3.h"
#include "gluefs.h"
#include "jobs.h"
#include "log.h"

static struct gluefs *G;

enum route { R_ROOT, R_S3, R_CTL, R_NONE };

/* Route PATH; for R_S3, *SUB is the path below /s3 ("/" for /s3). */
static enum route route(const char *path, const char **sub)
{
    *sub = path;
    if (!strcmp(path, "/"))
        return R_ROOT;
    if (!strncmp(path, "/s3", 3) && (path[3] == '\0' || path[3] == '/')) {
        *sub = path[3] ? path + 3 : "/";
        return R_S3;
    }
    static const char *const ctl[] = {"/catalog", "/crawlers", "/jobs",
                                      "/.gluefs"};
    for (size_t i = 0; i < sizeof ctl / sizeof ctl[0]; i++) {
        size_t n = strlen(ctl[i]);
        if (!strncmp(path, ctl[i], n) && (path[n] == '\0' || path[n] == '/'))
            return R_CTL;
    }
    return R_NONE;
}

bool gluefs_bucket_allowed(const struct gluefs *g, const char *bucket)
{
    const char *list = g->bucket_filter;
    if (!list || !*list)
        return true;
    size_t n = strlen(bucket);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, bucket, n))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

void gluefs_object_changed(const char *bucket, const char *key)
{
    fss3_invalidate(bucket, key);
    crawlers_notify_write(bucket, key);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    G = fuse_get_context()->private_data;
    /* Large requests: fewer round trips through the kernel. */
    if (conn->capable & FUSE_CAP_ASYNC_READ)
        conn->want |= FUSE_CAP_ASYNC_READ;
    conn->max_write = 1u << 20;
    /* The kernel caps this at the mount's read_ahead_kb (128 KiB unless
     * root raises /sys/class/bdi/0:N/read_ahead_kb): sequential reads
     * arrive as 128 KiB requests; reader.c does the real read-ahead. */
    conn->max_readahead = 1u << 20;
    /* Room for the kernel's asynchronous read-ahead requests of many
     * files read at once (the kernel's default is 12 in flight). */
    conn->max_background = 64;
    conn->congestion_threshold = 48;
    cfg->attr_timeout = 1.0;
    cfg->entry_timeout = 1.0;
    cfg->negative_timeout = 0.0;
    cfg->use_ino = 0;
    cfg->nullpath_ok = 0;
    /* Threads start here, after the daemon has forked. */
    fsctl_init(G);
    int rc = fss3_init(G);
    if (rc)
        log_err("cannot start the s3/ namespace: %s", strerror(-rc));
    rc = crawlers_start(G);
    if (rc)
        log_err("cannot start the crawlers: %s", strerror(-rc));
    rc = jobs_start(G);
    if (rc)
        log_err("cannot start the jobs: %s", strerror(-rc));
    return G;
}

static void fs_destroy(void *data)
{
    (void)data;
    jobs_shutdown();
    crawlers_shutdown();
    fss3_destroy();
}

static int fs_getattr(const char *path, struct stat *st,
                      struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_ROOT:
        memset(st, 0, sizeof *st);
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 6;
        st->st_uid = getuid();
        st->st_gid = getgid();
        st->st_mtime = st->st_ctime = st->st_atime = time(NULL);
        return 0;
    case R_S3:
        return fss3_getattr(sub, st, fi);
    case R_CTL:
        return fsctl_getattr(path, st);
    default:
        return -ENOENT;
    }
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
                      off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_ROOT:
        filler(buf, ".", NULL, 0, 0);
        filler(buf, "..", NULL, 0, 0);
        filler(buf, "s3", NULL, 0, 0);
        filler(buf, "catalog", NULL, 0, 0);
        filler(buf, "crawlers", NULL, 0, 0);
        filler(buf, "jobs", NULL, 0, 0);
        filler(buf, ".gluefs", NULL, 0, 0);
        return 0;
    case R_S3:
        return fss3_readdir(sub, buf, filler, off, fi, flags);
    case R_CTL:
        return fsctl_readdir(path, buf, filler);
    default:
        return -ENOENT;
    }
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
    const char *sub;
    return route(path, &sub) == R_CTL ? fsctl_readlink(path, buf, size)
                                      : -EINVAL;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_open(sub, fi);
    case R_CTL: return fsctl_open(path, fi);
    case R_ROOT: return -EISDIR;
    default: return -ENOENT;
    }
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_create(sub, mode, fi);
    case R_CTL: {
        /* Control files exist already; anything else cannot be made. */
        struct stat st;
        return fsctl_getattr(path, &st) ? -EACCES : fsctl_open(path, fi);
    }
    default: return -EACCES;
    }
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_read(sub, buf, size, off, fi);
    case R_CTL: return fsctl_read(path, buf, size, off, fi);
    default: return -EBADF;
    }
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_write(sub, buf, size, off, fi);
    case R_CTL: return fsctl_write(path, buf, size, off, fi);
    default: return -EBADF;
    }
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_flush(sub, fi);
    case R_CTL: return fsctl_flush(path, fi);
    default: return 0;
    }
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_fsync(sub, datasync, fi);
    case R_CTL: return fsctl_flush(path, fi);
    default: return 0;
    }
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_release(sub, fi);
    case R_CTL: return fsctl_release(path, fi);
    default: return 0;
    }
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_truncate(sub, size, fi);
    case R_CTL: return fsctl_truncate(path, size);
    case R_ROOT: return -EISDIR;
    default: return -ENOENT;
    }
}

static int fs_unlink(const char *path)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_unlink(sub);
    case R_CTL: return fsctl_unlink(path);
    default: return -ENOENT;
    }
}

static int fs_mkdir(const char *path, mode_t mode)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_mkdir(sub, mode);
    case R_CTL: return fsctl_mkdir(path, mode);
    case R_ROOT: return -EEXIST;
    default: return -EACCES;
    }
}

static int fs_rmdir(const char *path)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_rmdir(sub);
    case R_CTL: return fsctl_rmdir(path);
    case R_ROOT: return -EBUSY;
    default: return -ENOENT;
    }
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
    const char *sf, *st;
    enum route a = route(from, &sf), b = route(to, &st);
    if (a == R_S3 && b == R_S3)
        return fss3_rename(sf, st, flags);
    /* Across namespaces, or inside the generated ones: not a rename. */
    return a == R_NONE ? -ENOENT : -EXDEV;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    const char *sub;
    return route(path, &sub) == R_S3 ? fss3_chmod(sub, mode, fi) : -EPERM;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid,
                    struct fuse_file_info *fi)
{
    const char *sub;
    return route(path, &sub) == R_S3 ? fss3_chown(sub, uid, gid, fi) : -EPERM;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
                      struct fuse_file_info *fi)
{
    const char *sub;
    switch (route(path, &sub)) {
    case R_S3: return fss3_utimens(sub, tv, fi);
    case R_CTL: return 0; /* `touch status` is harmless */
    default: return -ENOENT;
    }
}

static int fs_statfs(const char *path, struct statvfs *st)
{
    return fss3_statfs("/", st);
}

const struct fuse_operations fs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .getattr = fs_getattr,
    .readdir = fs_readdir,
    .readlink = fs_readlink,
    .open = fs_open,
    .create = fs_create,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .fsync = fs_fsync,
    .release = fs_release,
    .truncate = fs_truncate,
    .unlink = fs_unlink,
    .mkdir = fs_mkdir,
    .rmdir = fs_rmdir,
    .rename = fs_rename,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
    .statfs = fs_statfs,
};
