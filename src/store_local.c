/* store_local.c - the local backend: a folder served as an object store
 * (store.h).
 *
 * Layout under ROOT:
 *   ROOT/<bucket>/<key>                      one regular file per object
 *   ROOT/<bucket>/<dir>/.gluefs-marker       folder marker: the object "dir/"
 *   ROOT/<bucket>/.gluefs-tmp/               temp files, renamed into place
 *   ROOT/.gluefs-uploads/<upload-id>/        multipart staging: "info" and
 *                                            one file per part number
 * Every name starting with ".gluefs" is hidden from listings, and a key
 * with a segment starting with ".gluefs" is refused (-EINVAL), as are keys
 * with an empty, "." or ".." segment.  Other dot-files are ordinary objects.
 *
 * Listings follow ListObjectsV2: keys in UTF-8 binary order over the whole
 * tree (a folder "a" sorts as "a/", so "a-b" comes before "a/x"), prefix as
 * a plain string prefix, CommonPrefixes as prefix + text up to and
 * including the next delimiter.  A folder with no visible object under it
 * (no file, no marker) is no prefix, as in S3.  Each folder is read and
 * sorted on its own; the tree is never held in memory.
 *
 * Where a folder tree cannot be S3:
 *   - PUT "a/b" while "a" is a file returns -ENOTDIR (S3 allows both keys).
 *   - PUT "a" while objects exist under "a/" returns -EISDIR.
 *   - A marker "dir/" may hold data (it is a file); its listing size is
 *     the file's size.
 *   - Symbolic links to files are followed; links to folders are skipped
 *     in listings (no loops).  Files that are not regular are skipped.
 *   - Keys longer than 1024 bytes (S3's limit) are skipped in listings.
 *
 * Metadata: mode, uid, gid and mtime (store_meta) are kept as the user
 * xattrs user.gluefs.mode/.uid/.gid/.mtime (decimal text); the mtime is
 * also applied to the file with futimens().  A store_meta mtime is reported
 * only while the file's mtime still equals it (another tool that rewrites
 * the file drops it).  Filesystems without user xattrs (ENOTSUP) keep no
 * mode/uid/gid.
 *
 * CopyObject of a key onto itself with new metadata (chmod, touch) changes
 * the metadata in place: no data is copied and the ETag stays (S3 would
 * turn a multipart ETag into the content MD5; the content is the same).
 *
 * ETags: PutObject and CopyObject: MD5 hex of the content.  Multipart:
 * MD5 hex of the concatenated binary part MD5s, then "-N" (N parts), as
 * S3 computes it.  The ETag is stored at write time as user.gluefs.etag =
 * "<etag> <size> <mtime_sec> <mtime_nsec>"; it counts only while size and
 * mtime still match the file.  Files written by other tools (or changed
 * since) get the stand-in "<size hex>-<mtime ns hex>", cheap to compute
 * and changed by any write that changes size or mtime.
 *
 * Temp files a crashed process left in .gluefs-tmp are removed when a
 * store opens, once their ctime is a day old; staged multipart uploads stay
 * until aborted, as on S3. */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#define LOCAL_KEY_MAX 1024          /* S3's key length limit, bytes */
#define LOCAL_CHUNK (1u << 20)      /* GET callback piece and copy buffer */
#define LOCAL_PAGE 1000             /* entries per ListObjectsV2 page */
#define LOCAL_DIR_MAX (64u << 20)   /* entries read from one folder */
#define LOCAL_RETRIES 64            /* rename vs concurrent prune */

#define HIDDEN ".gluefs"
#define HIDDEN_LEN 7
#define MARKER ".gluefs-marker"
#define TMPDIR ".gluefs-tmp"
#define UPLOADS ".gluefs-uploads"
#define UPLOAD_ID_LEN 32

#define XA_ETAG "user.gluefs.etag"
#define XA_MODE "user.gluefs.mode"
#define XA_UID "user.gluefs.uid"
#define XA_GID "user.gluefs.gid"
#define XA_MTIME "user.gluefs.mtime"

struct store_local {
    struct store base;
    char *root;     /* absolute, without trailing '/' */
    size_t rootlen;
    uint64_t seq;   /* temp name counter (atomic) */
    uint64_t tag;   /* random, in temp names: two mounts never collide */
};

/* ---- names and paths ------------------------------------------------- */

static int neg_errno(int e)
{
    if (e == EPERM)
        return -EACCES;
    return e ? -e : -EIO;
}

/* For lookups: a file in the middle of the path means "no such key". */
static int lookup_errno(int e)
{
    if (e == ENOTDIR || e == EISDIR || e == ELOOP)
        return -ENOENT;
    return neg_errno(e);
}

static bool is_hidden(const char *name, size_t len)
{
    return len >= HIDDEN_LEN && memcmp(name, HIDDEN, HIDDEN_LEN) == 0;
}

static int check_bucket(const char *b)
{
    if (!b || !*b || b[0] == '.' || strchr(b, '/'))
        return -EINVAL;
    if (strlen(b) > NAME_MAX)
        return -ENAMETOOLONG;
    return 0;
}

/* A segment of a key or of a listing prefix's folder part. */
static int check_segment(const char *p, size_t l)
{
    if (l == 0)
        return -EINVAL;
    if (l > NAME_MAX)
        return -ENAMETOOLONG;
    if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
        return -EINVAL;
    if (is_hidden(p, l))
        return -EINVAL;
    return 0;
}

/* Keys: 1..1024 bytes, segments separated by '/', none empty (a single
 * trailing '/' makes a folder marker), ".", ".." or hidden. */
static int check_key(const char *k)
{
    if (!k)
        return -EINVAL;
    size_t n = strlen(k);
    if (n == 0)
        return -EINVAL;
    if (n > LOCAL_KEY_MAX)
        return -ENAMETOOLONG;
    const char *p = k;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int rc = check_segment(p, l);
        if (rc)
            return rc;
        if (!e || e[1] == '\0')
            return 0;
        p = e + 1;
    }
}

static bool key_is_marker(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && key[n - 1] == '/';
}

/* ROOT/BUCKET */
static int bucket_path(const struct store_local *s, const char *bucket,
                       char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s", s->root, bucket);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* ROOT/BUCKET/KEY, or ROOT/BUCKET/KEY.gluefs-marker for "dir/". */
static int object_path(const struct store_local *s, const char *bucket,
                       const char *key, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s/%s%s", s->root, bucket, key,
                     key_is_marker(key) ? MARKER : "");
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* 0 if ROOT/BUCKET is a folder, else -ENOENT (or the lookup error). */
static int bucket_exists(const struct store_local *s, const char *bucket)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = bucket_path(s, bucket, path, sizeof path);
    if (rc)
        return rc;
    if (stat(path, &st) != 0)
        return lookup_errno(errno);
    return S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

static int check_names(const char *bucket, const char *key)
{
    int rc = check_bucket(bucket);
    return rc ? rc : check_key(key);
}

/* ---- MD5 -------------------------------------------------------------- */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static EVP_MD_CTX *md5_new(void)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        md = NULL;
    }
    return md;
}

/* Finish MD into 16 raw bytes, then reset it for the next use. */
static int md5_final(EVP_MD_CTX *md, unsigned char raw[16])
{
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(md, raw, &n) != 1 || n != 16)
        return -EIO;
    return EVP_DigestInit_ex(md, EVP_md5(), NULL) == 1 ? 0 : -EIO;
}

/* ---- metadata xattrs --------------------------------------------------- */

static int fset_num(int fd, const char *name, unsigned long long v)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%llu", v);
    if (fsetxattr(fd, name, txt, (size_t)n, 0) != 0 && errno != ENOTSUP)
        return neg_errno(errno);
    return 0;
}

static int fset_snum(int fd, const char *name, long long v)
{
    char txt[32];
    int n = snprintf(txt, sizeof txt, "%lld", v);
    if (fsetxattr(fd, name, txt, (size_t)n, 0) != 0 && errno != ENOTSUP)
        return neg_errno(errno);
    return 0;
}

/* Read xattr NAME of PATH as a decimal number; false if absent or bad. */
static bool get_num(const char *path, const char *name, long long *out)
{
    char txt[32];
    ssize_t n = getxattr(path, name, txt, sizeof txt - 1);
    if (n <= 0)
        return false;
    txt[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(txt, &end, 10);
    if (errno || end == txt || *end)
        return false;
    *out = v;
    return true;
}

/* Metadata of the file at PATH whose stat is ST. */
static void read_meta(const char *path, const struct stat *st,
                      struct store_meta *m)
{
    long long v;
    memset(m, 0, sizeof *m);
    if (get_num(path, XA_MODE, &v) && v >= 0 && v <= UINT32_MAX) {
        m->has_mode = true;
        m->mode = (uint32_t)v;
    }
    if (get_num(path, XA_UID, &v) && v >= 0 && v <= UINT32_MAX) {
        m->has_uid = true;
        m->uid = (uint32_t)v;
    }
    if (get_num(path, XA_GID, &v) && v >= 0 && v <= UINT32_MAX) {
        m->has_gid = true;
        m->gid = (uint32_t)v;
    }
    if (get_num(path, XA_MTIME, &v) && v == (long long)st->st_mtim.tv_sec) {
        m->has_mtime = true;
        m->mtime = v;
    }
}

/* The ETag of the file at PATH (see the header comment).  Returns true
 * if it is the one stored at write time, false for the stand-in. */
static bool read_etag(const char *path, const struct stat *st,
                      char out[STORE_ETAG_MAX])
{
    char txt[STORE_ETAG_MAX + 64];
    ssize_t n = getxattr(path, XA_ETAG, txt, sizeof txt - 1);
    if (n > 0) {
        txt[n] = '\0';
        char *sp = strchr(txt, ' ');
        unsigned long long size, sec, nsec;
        if (sp && (size_t)(sp - txt) < STORE_ETAG_MAX &&
            sscanf(sp + 1, "%llu %llu %llu", &size, &sec, &nsec) == 3 &&
            size == (unsigned long long)st->st_size &&
            sec == (unsigned long long)st->st_mtim.tv_sec &&
            nsec == (unsigned long long)st->st_mtim.tv_nsec) {
            memcpy(out, txt, (size_t)(sp - txt));
            out[sp - txt] = '\0';
            return true;
        }
    }
    unsigned long long ns = (unsigned long long)st->st_mtim.tv_sec *
                                1000000000ULL +
                            (unsigned long long)st->st_mtim.tv_nsec;
    snprintf(out, STORE_ETAG_MAX, "%llx-%llx",
             (unsigned long long)st->st_size, ns);
    return false;
}

static int fdel(int fd, const char *name)
{
    if (fremovexattr(fd, name) != 0 && errno != ENODATA && errno != ENOTSUP)
        return neg_errno(errno);
    return 0;
}

/* Set META on the open file FD (absent fields: left alone, or removed if
 * REPLACE; the mtime then becomes now), then store ETAG (if not NULL)
 * with the file's size and mtime. */
static int set_meta_fd(int fd, const struct store_meta *meta, bool replace,
                       const char *etag)
{
    static const struct store_meta none;
    int rc = 0;
    if (!meta)
        meta = &none;
    if (meta->has_mode)
        rc = fset_num(fd, XA_MODE, meta->mode);
    else if (replace)
        rc = fdel(fd, XA_MODE);
    if (!rc && meta->has_uid)
        rc = fset_num(fd, XA_UID, meta->uid);
    else if (!rc && replace)
        rc = fdel(fd, XA_UID);
    if (!rc && meta->has_gid)
        rc = fset_num(fd, XA_GID, meta->gid);
    else if (!rc && replace)
        rc = fdel(fd, XA_GID);
    if (rc)
        return rc;
    if (meta->has_mtime || replace) {
        struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
        if (meta->has_mtime) {
            ts[1].tv_sec = (time_t)meta->mtime;
            ts[1].tv_nsec = 0;
            rc = fset_snum(fd, XA_MTIME, meta->mtime);
        } else {
            rc = fdel(fd, XA_MTIME);
        }
        if (rc)
            return rc;
        if (futimens(fd, ts) != 0)
            return neg_errno(errno);
    }
    if (!etag)
        return 0;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return neg_errno(errno);
    char txt[STORE_ETAG_MAX + 64];
    int n = snprintf(txt, sizeof txt, "%s %llu %llu %llu", etag,
                     (unsigned long long)st.st_size,
                     (unsigned long long)st.st_mtim.tv_sec,
                     (unsigned long long)st.st_mtim.tv_nsec);
    if (fsetxattr(fd, XA_ETAG, txt, (size_t)n, 0) != 0 && errno != ENOTSUP)
        return neg_errno(errno);
    return 0;
}

/* ---- temp files ------------------------------------------------------- */

struct tmpw {
    int fd;
    char path[PATH_MAX];
    EVP_MD_CTX *md;
    uint64_t size;
};

/* Create a new temp file in folder DIR (made if missing and MK, mode
 * 0700). */
static int tmpw_open(struct store_local *s, const char *dir, bool mk,
                     struct tmpw *w)
{
    w->fd = -1;
    w->path[0] = '\0';
    w->size = 0;
    w->md = md5_new();
    if (!w->md)
        return -ENOMEM;
    for (int tries = 0; tries < 16; tries++) {
        uint64_t n = __atomic_add_fetch(&s->seq, 1, __ATOMIC_RELAXED);
        int len = snprintf(w->path, sizeof w->path, "%s/%016llx.%llu.tmp",
                           dir, (unsigned long long)s->tag,
                           (unsigned long long)n);
        if (len < 0 || (size_t)len >= sizeof w->path) {
            EVP_MD_CTX_free(w->md);
            w->md = NULL;
            return -ENAMETOOLONG;
        }
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd >= 0)
            return 0;
        if (errno == ENOENT && mk && tries == 0) {
            if (mkdir(dir, 0700) != 0 && errno != EEXIST)
                goto fail_errno;
            continue;
        }
        if (errno != EEXIST)
            goto fail_errno;
    }
    errno = EEXIST;
fail_errno:;
    int rc = neg_errno(errno);
    EVP_MD_CTX_free(w->md);
    w->md = NULL;
    w->path[0] = '\0';
    return rc;
}

static int tmpw_write(struct tmpw *w, const void *data, size_t len)
{
    const char *p = data;
    if (len && EVP_DigestUpdate(w->md, data, len) != 1)
        return -EIO;
    while (len) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return neg_errno(errno);
        }
        p += n;
        len -= (size_t)n;
        w->size += (uint64_t)n;
    }
    return 0;
}

/* Apply META (may be NULL), store ETAG (NULL: the MD5 of what was
 * written) and close the file.  Fills ETAG_OUT if not NULL. */
static int tmpw_finish(struct tmpw *w, const struct store_meta *meta,
                       const char *etag, char *etag_out)
{
    char md5hex[33];
    int rc = 0;
    if (!etag) {
        unsigned char raw[16];
        rc = md5_final(w->md, raw);
        if (rc)
            return rc;
        hex_encode(raw, 16, md5hex);
        etag = md5hex;
    }
    if ((rc = set_meta_fd(w->fd, meta, false, etag)))
        return rc;
    if (etag_out)
        snprintf(etag_out, STORE_ETAG_MAX, "%s", etag);
    rc = close(w->fd) == 0 ? 0 : neg_errno(errno);
    w->fd = -1;
    return rc;
}

/* Close and remove the temp file, if any; free the digest. */
static void tmpw_discard(struct tmpw *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    if (w->path[0])
        unlink(w->path);
    w->path[0] = '\0';
    EVP_MD_CTX_free(w->md);
    w->md = NULL;
}

/* Make every folder of PATH between BASE (length of ROOT/BUCKET) and the
 * last '/'.  A file in the way gives -ENOTDIR. */
static int make_parents(char *path, size_t base)
{
    size_t len = strlen(path);
    for (size_t i = base + 1; i < len; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        int rc = 0;
        if (mkdir(path, 0777) != 0) {
            struct stat st;
            if (errno != EEXIST)
                rc = neg_errno(errno);
            else if (stat(path, &st) != 0)
                rc = neg_errno(errno);
            else if (!S_ISDIR(st.st_mode))
                rc = -ENOTDIR;
        }
        path[i] = '/';
        if (rc)
            return rc;
    }
    return 0;
}

/* Rename the finished temp file onto TARGET (BASE = length of
 * ROOT/BUCKET), making folders as needed.  Retries when a concurrent
 * delete prunes a folder we just made. */
static int tmpw_commit(struct tmpw *w, char *target, size_t base)
{
    for (int i = 0; i < LOCAL_RETRIES; i++) {
        if (rename(w->path, target) == 0) {
            w->path[0] = '\0';
            return 0;
        }
        int e = errno;
        if (e == ENOENT) {
            /* -ENOENT again: pruned between two mkdir()s; retry. */
            int rc = make_parents(target, base);
            if (rc && rc != -ENOENT)
                return rc;
            continue;
        }
        if (e == EISDIR || e == ENOTEMPTY || e == EEXIST) {
            /* An empty folder with no marker is no S3 object: replace it. */
            if (rmdir(target) == 0)
                continue;
            return -EISDIR;
        }
        return neg_errno(e);
    }
    return -EIO;
}

/* Remove empty, unmarked folders from PATH's parent up to (excluding)
 * the bucket folder (BASE = length of ROOT/BUCKET).  PATH is modified. */
static void prune_parents(char *path, size_t base)
{
    for (;;) {
        char *slash = strrchr(path, '/');
        if (!slash || (size_t)(slash - path) <= base)
            return;
        *slash = '\0';
        if (rmdir(path) != 0)
            return;
    }
}

/* ---- listing ---------------------------------------------------------- */

struct dent {
    char *name; /* owned; folders carry a trailing '/' */
};

struct dirlist {
    struct dent *v;
    size_t n, alloc;
    bool marker;
};

static void dirlist_release(struct dirlist *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].name);
    free(d->v);
    memset(d, 0, sizeof *d);
}

static int dent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dent *)a)->name,
                  ((const struct dent *)b)->name);
}

/* 1 regular file, 2 folder, 0 anything else (links to folders included). */
static int dent_kind(DIR *dir, const struct dirent *de)
{
    struct stat st;
    switch (de->d_type) {
    case DT_REG: return 1;
    case DT_DIR: return 2;
    case DT_LNK:
        if (fstatat(dirfd(dir), de->d_name, &st, 0) != 0)
            return 0;
        return S_ISREG(st.st_mode) ? 1 : 0;
    case DT_UNKNOWN:
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            return 0;
        if (S_ISDIR(st.st_mode))
            return 2;
        if (S_ISLNK(st.st_mode) && fstatat(dirfd(dir), de->d_name, &st, 0))
            return 0;
        return S_ISREG(st.st_mode) ? 1 : 0;
    default: return 0;
    }
}

/* Read folder PATH: visible names starting with FILTER (may be ""),
 * sorted as S3 would sort their keys.  Sets d->marker if the folder holds
 * a marker. */
static int dirlist_read(const char *path, const char *filter,
                        struct dirlist *d)
{
    size_t flen = strlen(filter);
    memset(d, 0, sizeof *d);
    DIR *dir = opendir(path);
    if (!dir)
        return neg_errno(errno);
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno)
                rc = neg_errno(errno);
            break;
        }
        const char *nm = de->d_name;
        size_t nl = strlen(nm);
        if (!strcmp(nm, ".") || !strcmp(nm, ".."))
            continue;
        if (!strcmp(nm, MARKER)) {
            d->marker = true;
            continue;
        }
        if (is_hidden(nm, nl) || strncmp(nm, filter, flen) != 0)
            continue;
        int kind = dent_kind(dir, de);
        if (!kind)
            continue;
        if (d->n == d->alloc) {
            size_t na = d->alloc ? d->alloc * 2 : 64;
            if (na > LOCAL_DIR_MAX) {
                rc = -E2BIG;
                break;
            }
            struct dent *nv = realloc(d->v, na * sizeof *nv);
            if (!nv) {
                rc = -ENOMEM;
                break;
            }
            d->v = nv;
            d->alloc = na;
        }
        char *name = malloc(nl + 2);
        if (!name) {
            rc = -ENOMEM;
            break;
        }
        memcpy(name, nm, nl);
        if (kind == 2)
            name[nl++] = '/';
        name[nl] = '\0';
        d->v[d->n++].name = name;
    }
    closedir(dir);
    if (rc) {
        dirlist_release(d);
        return rc;
    }
    if (d->n > 1)
        qsort(d->v, d->n, sizeof *d->v, dent_cmp);
    return 0;
}

#define WALK_STOP 1 /* the callback asked to stop */

struct lister {
    char path[PATH_MAX]; /* ROOT/BUCKET/ then the current folder's key */
    size_t base;         /* length of ROOT/BUCKET/: keys are path + base */
    const char *prefix;
    size_t plen;
    const char *delim; /* NULL: recursive */
    size_t dlen;
    char cp[PATH_MAX]; /* last CommonPrefix reported */
    size_t cplen;
    store_list_cb cb;
    void *ctx;
    uint64_t given; /* entries passed to cb */
    const char *after; /* NULL, or only keys after this one */
};

/* Does folder PATH hold a visible object anywhere below?  PATH is a
 * buffer of PATH_MAX that is restored on return. */
static bool has_objects(char *path)
{
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    size_t len = strlen(path);
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(dir)) != NULL) {
        const char *nm = de->d_name;
        size_t nl = strlen(nm);
        if (!strcmp(nm, ".") || !strcmp(nm, ".."))
            continue;
        if (!strcmp(nm, MARKER)) {
            found = true;
            break;
        }
        if (is_hidden(nm, nl))
            continue;
        int kind = dent_kind(dir, de);
        if (kind == 1) {
            found = true;
        } else if (kind == 2 && len + 1 + nl < PATH_MAX) {
            path[len] = '/';
            memcpy(path + len + 1, nm, nl + 1);
            found = has_objects(path);
            path[len] = '\0';
        }
    }
    closedir(dir);
    return found;
}

/* The CommonPrefix length of KEY, or 0 if KEY has no delimiter after
 * the prefix. */
static size_t common_prefix_len(const struct lister *L, const char *key,
                                size_t klen)
{
    if (!L->delim || klen < L->plen)
        return 0;
    const char *hit = memmem(key + L->plen, klen - L->plen, L->delim,
                             L->dlen);
    return hit ? (size_t)(hit - key) + L->dlen : 0;
}

static int give(struct lister *L, const struct store_entry *e)
{
    if (L->after && strcmp(e->key, L->after) <= 0)
        return 0; /* before the start: not sent, not counted */
    L->given++;
    int rc = L->cb(L->ctx, e);
    return rc > 0 ? WALK_STOP : rc;
}

/* Report CommonPrefix KEY[0..CPLEN) unless it was the last one. */
static int give_prefix(struct lister *L, const char *key, size_t cplen)
{
    if (cplen == L->cplen && memcmp(L->cp, key, cplen) == 0)
        return 0;
    memcpy(L->cp, key, cplen);
    L->cp[cplen] = '\0';
    L->cplen = cplen;
    struct store_entry e = {.key = L->cp, .is_prefix = true, .etag = ""};
    return give(L, &e);
}

/* Report the object KEY (KLEN bytes) stored in file FILE. */
static int give_object(struct lister *L, const char *file, const char *key,
                       size_t klen)
{
    if (klen > LOCAL_KEY_MAX) {
        log_debug("local: skipping '%s': key longer than %d bytes", file,
                  LOCAL_KEY_MAX);
        return 0;
    }
    size_t cplen = common_prefix_len(L, key, klen);
    if (cplen)
        return give_prefix(L, key, cplen);
    struct stat st;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return 0; /* gone meanwhile, or not a file */
    char etag[STORE_ETAG_MAX];
    read_etag(file, &st, etag);
    struct store_entry e = {.key = key,
                            .size = (uint64_t)st.st_size,
                            .mtime = (int64_t)st.st_mtim.tv_sec,
                            .etag = etag};
    return give(L, &e);
}

/* List the folder whose path is L->path[0..len) (ending in '/'), its
 * names filtered by FILTER; EMIT_MARKER reports the folder's own marker.
 * A folder that vanished meanwhile lists nothing. */
static int walk(struct lister *L, size_t len, const char *filter,
                bool emit_marker)
{
    struct dirlist d;
    L->path[len] = '\0';
    int rc = dirlist_read(L->path, filter, &d);
    if (rc == -ENOENT || rc == -ENOTDIR)
        return 0;
    if (rc)
        return rc;
    if (d.marker && emit_marker && len > L->base) {
        char file[PATH_MAX];
        int n = snprintf(file, sizeof file, "%s" MARKER, L->path);
        if (n < 0 || (size_t)n >= sizeof file) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        if ((rc = give_object(L, file, L->path + L->base, len - L->base)))
            goto out;
    }
    for (size_t i = 0; i < d.n && rc == 0; i++) {
        const char *nm = d.v[i].name;
        size_t nl = strlen(nm);
        if (len + nl + 1 > sizeof L->path)
            continue;
        memcpy(L->path + len, nm, nl + 1);
        const char *key = L->path + L->base;
        size_t klen = len + nl - L->base;
        if (nm[nl - 1] != '/') {
            rc = give_object(L, L->path, key, klen);
            continue;
        }
        /* A folder: if a delimiter falls inside its name, all it holds
         * shares one CommonPrefix; report it if anything is there. */
        size_t cplen = common_prefix_len(L, key, klen);
        if (cplen) {
            if (cplen == L->cplen && memcmp(L->cp, key, cplen) == 0)
                continue;
            L->path[len + nl - 1] = '\0';
            bool any = has_objects(L->path);
            L->path[len + nl - 1] = '/';
            if (any)
                rc = give_prefix(L, key, cplen);
            continue;
        }
        rc = walk(L, len + nl, "", true);
    }
out:
    L->path[len] = '\0';
    dirlist_release(&d);
    return rc;
}

static int local_list_from(struct store *st, const char *bucket,
                           const char *prefix, const char *start_after,
                           const char *delimiter, store_list_cb cb,
                           void *ctx);

static int local_list(struct store *st, const char *bucket,
                      const char *prefix, const char *delimiter,
                      store_list_cb cb, void *ctx)
{
    return local_list_from(st, bucket, prefix, NULL, delimiter, cb, ctx);
}

/* ListObjectsV2 with start-after: the walk is the same, keys up to
 * START_AFTER are skipped before they count. */
static int local_list_from(struct store *st, const char *bucket,
                           const char *prefix, const char *start_after,
                           const char *delimiter, store_list_cb cb,
                           void *ctx)
{
    struct store_local *s = (struct store_local *)st;
    struct lister *L = calloc(1, sizeof *L);
    int rc;
    if (!L) {
        stats_add(STAT_requests_list, 1);
        return -ENOMEM;
    }
    if (!prefix)
        prefix = "";
    if (delimiter && !*delimiter)
        delimiter = NULL;
    L->prefix = prefix;
    L->plen = strlen(prefix);
    L->delim = delimiter;
    L->dlen = delimiter ? strlen(delimiter) : 0;
    L->cb = cb;
    L->ctx = ctx;
    L->after = start_after && *start_after ? start_after : NULL;

    rc = check_bucket(bucket);
    if (rc)
        goto out;
    rc = bucket_exists(s, bucket);
    if (rc)
        goto out;
    int n = snprintf(L->path, sizeof L->path, "%s/%s/", s->root, bucket);
    if (n < 0 || (size_t)n >= sizeof L->path) {
        rc = -ENAMETOOLONG;
        goto out;
    }
    L->base = (size_t)n;

    /* Start in the deepest folder the prefix names whole; a folder part
     * that no valid key can have lists nothing. */
    const char *slash = strrchr(prefix, '/');
    size_t dirlen = slash ? (size_t)(slash - prefix) + 1 : 0;
    if (L->plen > LOCAL_KEY_MAX || L->base + dirlen + 1 >= sizeof L->path)
        goto out;
    for (size_t i = 0; i < dirlen;) {
        const char *e = memchr(prefix + i, '/', dirlen - i);
        if (check_segment(prefix + i, (size_t)(e - (prefix + i))) != 0)
            goto out;
        i = (size_t)(e - prefix) + 1;
    }
    memcpy(L->path + L->base, prefix, dirlen);
    rc = walk(L, L->base + dirlen, prefix + dirlen, dirlen == L->plen);
    if (rc == WALK_STOP)
        rc = 0;
out:
    stats_add(STAT_requests_list,
              L->given ? (L->given + LOCAL_PAGE - 1) / LOCAL_PAGE : 1);
    free(L);
    return rc;
}

static int local_list_buckets(struct store *st, store_list_cb cb, void *ctx)
{
    struct store_local *s = (struct store_local *)st;
    struct dirlist d;
    stats_add(STAT_requests_list_buckets, 1);
    int rc = dirlist_read(s->rootlen ? s->root : "/", "", &d);
    if (rc)
        return rc;
    for (size_t i = 0; i < d.n && rc == 0; i++) {
        char *nm = d.v[i].name;
        size_t nl = strlen(nm);
        if (nm[0] == '.' || nm[nl - 1] != '/')
            continue;
        nm[nl - 1] = '\0';
        char path[PATH_MAX];
        struct stat sb;
        if (bucket_path(s, nm, path, sizeof path) || stat(path, &sb) != 0)
            continue;
        struct store_entry e = {.key = nm,
                                .mtime = (int64_t)sb.st_mtim.tv_sec,
                                .etag = ""};
        rc = cb(ctx, &e);
    }
    dirlist_release(&d);
    return rc > 0 ? 0 : rc;
}

/* ---- objects ---------------------------------------------------------- */

static int local_head(struct store *st, const char *bucket, const char *key,
                      struct store_head *out)
{
    struct store_local *s = (struct store_local *)st;
    char path[PATH_MAX];
    struct stat sb;
    memset(out, 0, sizeof *out);
    stats_add(STAT_requests_head, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = object_path(s, bucket, key, path, sizeof path)))
        return rc;
    if (stat(path, &sb) != 0)
        return lookup_errno(errno);
    if (!S_ISREG(sb.st_mode))
        return -ENOENT;
    out->size = (uint64_t)sb.st_size;
    out->mtime = (int64_t)sb.st_mtim.tv_sec;
    read_etag(path, &sb, out->etag);
    read_meta(path, &sb, &out->meta);
    return 0;
}

static int local_get(struct store *st, const char *bucket, const char *key,
                     uint64_t off, uint64_t len, store_data_cb cb, void *ctx)
{
    struct store_local *s = (struct store_local *)st;
    char path[PATH_MAX];
    struct stat sb;
    stats_add(STAT_requests_get, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = object_path(s, bucket, key, path, sizeof path)))
        return rc;
    /* O_NONBLOCK: a FIFO left in the folder must not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return lookup_errno(errno);
    char *buf = NULL;
    if (fstat(fd, &sb) != 0) {
        rc = neg_errno(errno);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = -ENOENT;
        goto out;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (off >= size || len == 0)
        goto out;
    uint64_t end = len > size - off ? size : off + len;
    size_t cap = end - off < LOCAL_CHUNK ? (size_t)(end - off) : LOCAL_CHUNK;
    buf = malloc(cap);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    while (off < end) {
        size_t want = end - off < cap ? (size_t)(end - off) : cap;
        ssize_t n = pread(fd, buf, want, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = neg_errno(errno);
            break;
        }
        if (n == 0)
            break; /* truncated meanwhile */
        stats_add(STAT_bytes_downloaded, (uint64_t)n);
        off += (uint64_t)n;
        if ((rc = cb(ctx, buf, (size_t)n)))
            break;
    }
out:
    free(buf);
    close(fd);
    return rc;
}

/* Temp folder of BUCKET: ROOT/BUCKET/.gluefs-tmp */
static int tmp_dir(const struct store_local *s, const char *bucket,
                   char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/%s/" TMPDIR, s->root, bucket);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/* Start a write of BUCKET/KEY: checks names and the bucket, fills TARGET
 * and *BASE (length of ROOT/BUCKET) and opens the temp file. */
static int write_begin(struct store_local *s, const char *bucket,
                       const char *key, char *target, size_t tlen,
                       size_t *base, struct tmpw *w)
{
    char dir[PATH_MAX];
    w->fd = -1;
    w->md = NULL;
    w->path[0] = '\0';
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = bucket_exists(s, bucket)))
        return rc;
    if ((rc = object_path(s, bucket, key, target, tlen)))
        return rc;
    *base = s->rootlen + 1 + strlen(bucket);
    if ((rc = tmp_dir(s, bucket, dir, sizeof dir)))
        return rc;
    return tmpw_open(s, dir, true, w);
}

static int local_put(struct store *st, const char *bucket, const char *key,
                     const void *data, size_t len,
                     const struct store_meta *meta)
{
    struct store_local *s = (struct store_local *)st;
    char target[PATH_MAX];
    size_t base = 0;
    struct tmpw w;
    stats_add(STAT_requests_put, 1);
    if (len > STORE_PUT_MAX)
        return -EFBIG;
    int rc = write_begin(s, bucket, key, target, sizeof target, &base, &w);
    if (!rc)
        rc = tmpw_write(&w, data, len);
    if (!rc)
        rc = tmpw_finish(&w, meta, NULL, NULL);
    if (!rc)
        rc = tmpw_commit(&w, target, base);
    tmpw_discard(&w);
    if (!rc)
        stats_add(STAT_bytes_uploaded, len);
    return rc;
}

static int local_copy(struct store *st, const char *src_bucket,
                      const char *src_key, const char *dst_bucket,
                      const char *dst_key, const struct store_meta *meta)
{
    struct store_local *s = (struct store_local *)st;
    char src[PATH_MAX], target[PATH_MAX];
    size_t base = 0;
    struct tmpw w = {.fd = -1};
    struct store_meta keep;
    char *buf = NULL;
    int fd = -1;
    stats_add(STAT_requests_copy, 1);
    int rc = check_names(src_bucket, src_key);
    if (rc)
        return rc;
    if (!meta && !strcmp(src_bucket, dst_bucket) && !strcmp(src_key, dst_key))
        return -EINVAL; /* S3: copying onto itself must change something */
    if ((rc = object_path(s, src_bucket, src_key, src, sizeof src)))
        return rc;
    fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return lookup_errno(errno);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        rc = neg_errno(errno);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = -ENOENT;
        goto out;
    }
    if (!strcmp(src_bucket, dst_bucket) && !strcmp(src_key, dst_key)) {
        /* Metadata only: change it in place instead of copying the data
         * (the content, and so the ETag, stay the same). */
        char etag[STORE_ETAG_MAX];
        bool stored = read_etag(src, &sb, etag);
        rc = set_meta_fd(fd, meta, true, stored ? etag : NULL);
        goto out;
    }
    if (!meta) {
        read_meta(src, &sb, &keep);
        meta = &keep;
    }
    if ((rc = write_begin(s, dst_bucket, dst_key, target, sizeof target,
                          &base, &w)))
        goto out;
    if (!(buf = malloc(LOCAL_CHUNK))) {
        rc = -ENOMEM;
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, LOCAL_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = neg_errno(errno);
            goto out;
        }
        if (n == 0)
            break;
        if ((rc = tmpw_write(&w, buf, (size_t)n)))
            goto out;
    }
    if (!(rc = tmpw_finish(&w, meta, NULL, NULL)))
        rc = tmpw_commit(&w, target, base);
out:
    tmpw_discard(&w);
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int del_one(struct store_local *s, const char *bucket,
                   const char *key);

static int local_del(struct store *st, const char *bucket, const char *key)
{
    stats_add(STAT_requests_delete, 1);
    return del_one((struct store_local *)st, bucket, key);
}

/* DeleteObjects: each key deleted in turn, one request counted. */
static int local_del_many(struct store *st, const char *bucket,
                          const char *const *keys, size_t n,
                          store_del_error_cb cb, void *ctx)
{
    struct store_local *s = (struct store_local *)st;
    if (n > STORE_DEL_MANY_MAX)
        return -EINVAL;
    stats_add(STAT_requests_delete_objects, 1);
    int rc = check_bucket(bucket);
    if (!rc)
        rc = bucket_exists(s, bucket);
    if (rc)
        return rc;
    uint64_t done = 0;
    for (size_t i = 0; i < n; i++) {
        int krc = del_one(s, bucket, keys[i]);
        if (!krc)
            done++;
        else if (cb)
            cb(ctx, keys[i], krc, krc == -EACCES ? "AccessDenied"
                                                 : "InternalError",
               strerror(-krc));
    }
    stats_add(STAT_keys_deleted, done);
    return 0;
}

static int del_one(struct store_local *s, const char *bucket,
                   const char *key)
{
    char path[PATH_MAX];
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = bucket_exists(s, bucket)))
        return rc;
    if ((rc = object_path(s, bucket, key, path, sizeof path)))
        return rc;
    if (unlink(path) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR || e == EISDIR)
            return 0; /* no such object */
        return neg_errno(e);
    }
    /* For a marker, path ends in "dir/.gluefs-marker": pruning starts at
     * "dir" itself. */
    prune_parents(path, s->rootlen + 1 + strlen(bucket));
    return 0;
}

/* ---- multipart uploads ------------------------------------------------ */

/* ROOT/.gluefs-uploads/ID, after checking ID's shape. */
static int upload_dir(const struct store_local *s, const char *id,
                      char *out, size_t outlen)
{
    if (!id || strlen(id) != UPLOAD_ID_LEN ||
        strspn(id, "0123456789abcdef") != UPLOAD_ID_LEN)
        return -ENOENT;
    int n = snprintf(out, outlen, "%s/" UPLOADS "/%s", s->root, id);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

#define INFO_MAX 4096

/* The info file: "gluefs-upload 1\n" meta line, bucket line, then the
 * key up to the end of the file. */
static int info_write(const char *dir, const char *bucket, const char *key,
                      const struct store_meta *m)
{
    static const struct store_meta none;
    char path[PATH_MAX], txt[INFO_MAX];
    if (!m)
        m = &none;
    int n = snprintf(txt, sizeof txt,
                     "gluefs-upload 1\n%d %u %d %u %d %u %d %lld\n%s\n%s",
                     m->has_mode, m->mode, m->has_uid, m->uid, m->has_gid,
                     m->gid, m->has_mtime, (long long)m->mtime, bucket, key);
    if (n < 0 || (size_t)n >= sizeof txt)
        return -ENAMETOOLONG;
    int l = snprintf(path, sizeof path, "%s/info", dir);
    if (l < 0 || (size_t)l >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return neg_errno(errno);
    int rc = 0;
    if (write(fd, txt, (size_t)n) != n)
        rc = errno ? neg_errno(errno) : -EIO;
    if (close(fd) != 0 && !rc)
        rc = neg_errno(errno);
    return rc;
}

/* Check that upload DIR belongs to BUCKET/KEY; fill *M if not NULL. */
static int info_check(const char *dir, const char *bucket, const char *key,
                      struct store_meta *m)
{
    char path[PATH_MAX], txt[INFO_MAX];
    int l = snprintf(path, sizeof path, "%s/info", dir);
    if (l < 0 || (size_t)l >= sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lookup_errno(errno);
    ssize_t n = read(fd, txt, sizeof txt - 1);
    close(fd);
    if (n < 0)
        return neg_errno(errno);
    txt[n] = '\0';
    int hm, hu, hg, ht;
    unsigned mode, uid, gid;
    long long mtime;
    const char *l1 = strchr(txt, '\n');
    const char *b = l1 ? strchr(l1 + 1, '\n') : NULL;
    const char *nl = b ? strchr(++b, '\n') : NULL;
    if (!nl || sscanf(txt, "gluefs-upload 1 %d %u %d %u %d %u %d %lld", &hm,
                      &mode, &hu, &uid, &hg, &gid, &ht, &mtime) != 8)
        return -EIO;
    if ((size_t)(nl - b) != strlen(bucket) ||
        memcmp(b, bucket, strlen(bucket)) != 0 || strcmp(nl + 1, key) != 0)
        return -ENOENT; /* NoSuchUpload for this key */
    if (m) {
        memset(m, 0, sizeof *m);
        m->has_mode = hm;
        m->mode = mode;
        m->has_uid = hu;
        m->uid = uid;
        m->has_gid = hg;
        m->gid = gid;
        m->has_mtime = ht;
        m->mtime = mtime;
    }
    return 0;
}

static int local_mpu_create(struct store *st, const char *bucket,
                            const char *key, const struct store_meta *meta,
                            char **upload_id)
{
    struct store_local *s = (struct store_local *)st;
    char dir[PATH_MAX];
    unsigned char raw[UPLOAD_ID_LEN / 2];
    *upload_id = NULL;
    stats_add(STAT_requests_create_multipart, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = bucket_exists(s, bucket)))
        return rc;
    int n = snprintf(dir, sizeof dir, "%s/" UPLOADS, s->root);
    if (n < 0 || (size_t)n >= sizeof dir)
        return -ENAMETOOLONG;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return neg_errno(errno);
    char *id = malloc(UPLOAD_ID_LEN + 1);
    if (!id)
        return -ENOMEM;
    for (int tries = 0;; tries++) {
        if (RAND_bytes(raw, sizeof raw) != 1) {
            rc = -EIO;
            break;
        }
        hex_encode(raw, sizeof raw, id);
        if ((rc = upload_dir(s, id, dir, sizeof dir)))
            break;
        if (mkdir(dir, 0700) == 0)
            break;
        rc = neg_errno(errno);
        if (rc != -EEXIST || tries > 8)
            break;
    }
    if (!rc && (rc = info_write(dir, bucket, key, meta)) != 0) {
        char info[PATH_MAX];
        if (snprintf(info, sizeof info, "%s/info", dir) < (int)sizeof info)
            unlink(info);
        rmdir(dir);
    }
    if (rc) {
        free(id);
        return rc;
    }
    *upload_id = id;
    return 0;
}

static int local_mpu_part(struct store *st, const char *bucket,
                          const char *key, const char *upload_id, int part,
                          const void *data, size_t len,
                          struct store_part *out)
{
    struct store_local *s = (struct store_local *)st;
    char dir[PATH_MAX], target[PATH_MAX];
    struct tmpw w;
    memset(out, 0, sizeof *out);
    stats_add(STAT_requests_upload_part, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if (part < 1 || part > STORE_PARTS_MAX)
        return -EINVAL;
    if (len > STORE_PART_MAX)
        return -EFBIG;
    if ((rc = upload_dir(s, upload_id, dir, sizeof dir)))
        return rc;
    if ((rc = info_check(dir, bucket, key, NULL)))
        return rc;
    int n = snprintf(target, sizeof target, "%s/%d", dir, part);
    if (n < 0 || (size_t)n >= sizeof target)
        return -ENAMETOOLONG;
    if ((rc = tmpw_open(s, dir, false, &w)))
        return lookup_errno(-rc); /* aborted meanwhile: NoSuchUpload */
    if (!(rc = tmpw_write(&w, data, len)))
        rc = tmpw_finish(&w, NULL, NULL, out->etag);
    if (!rc && rename(w.path, target) != 0)
        rc = lookup_errno(errno); /* aborted meanwhile: NoSuchUpload */
    else if (!rc)
        w.path[0] = '\0';
    tmpw_discard(&w);
    if (rc) {
        out->etag[0] = '\0';
        return rc;
    }
    out->number = part;
    stats_add(STAT_bytes_uploaded, len);
    return 0;
}

/* Remove the staging folder DIR and what it holds. */
static void upload_remove(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Compare a client's part ETag (quotes allowed) with HEX. */
static bool etag_matches(const char *given, const char *hex)
{
    size_t n = strlen(given);
    if (n >= 2 && given[0] == '"' && given[n - 1] == '"') {
        given++;
        n -= 2;
    }
    return n == strlen(hex) && strncasecmp(given, hex, n) == 0;
}

/* Append part file PATH to W; its MD5 goes to RAW. */
static int append_part(struct tmpw *w, const char *path, char *buf,
                       EVP_MD_CTX *md, unsigned char raw[16])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -EINVAL : neg_errno(errno);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, LOCAL_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = neg_errno(errno);
            break;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            rc = -EIO;
            break;
        }
        if ((rc = tmpw_write(w, buf, (size_t)n)))
            break;
    }
    close(fd);
    return rc ? rc : md5_final(md, raw);
}

static int local_mpu_complete(struct store *st, const char *bucket,
                              const char *key, const char *upload_id,
                              const struct store_part *parts, int nparts)
{
    struct store_local *s = (struct store_local *)st;
    char dir[PATH_MAX], part[PATH_MAX], target[PATH_MAX];
    struct store_meta meta;
    struct tmpw w = {.fd = -1};
    size_t base = 0;
    char *buf = NULL;
    EVP_MD_CTX *part_md = NULL, *all_md = NULL;
    stats_add(STAT_requests_complete_multipart, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = upload_dir(s, upload_id, dir, sizeof dir)))
        return rc;
    if ((rc = info_check(dir, bucket, key, &meta)))
        return rc;
    if (nparts < 1 || nparts > STORE_PARTS_MAX)
        return -EINVAL; /* MalformedXML */
    /* InvalidPartOrder, InvalidPart, EntityTooSmall: checked before any
     * data moves, as S3 does. */
    for (int i = 0; i < nparts; i++) {
        struct stat sb;
        if (parts[i].number < 1 || parts[i].number > STORE_PARTS_MAX ||
            (i > 0 && parts[i].number <= parts[i - 1].number))
            return -EINVAL;
        int n = snprintf(part, sizeof part, "%s/%d", dir, parts[i].number);
        if (n < 0 || (size_t)n >= sizeof part)
            return -ENAMETOOLONG;
        if (stat(part, &sb) != 0)
            return errno == ENOENT ? -EINVAL : neg_errno(errno);
        if (i < nparts - 1 && (uint64_t)sb.st_size < STORE_PART_MIN)
            return -EINVAL;
    }
    if ((rc = write_begin(s, bucket, key, target, sizeof target, &base, &w)))
        goto out;
    part_md = md5_new();
    all_md = md5_new();
    buf = malloc(LOCAL_CHUNK);
    if (!part_md || !all_md || !buf) {
        rc = -ENOMEM;
        goto out;
    }
    for (int i = 0; i < nparts; i++) {
        unsigned char raw[16];
        char hex[33];
        int n = snprintf(part, sizeof part, "%s/%d", dir, parts[i].number);
        if (n < 0 || (size_t)n >= sizeof part) {
            rc = -ENAMETOOLONG;
            goto out;
        }
        if ((rc = append_part(&w, part, buf, part_md, raw)))
            goto out;
        hex_encode(raw, 16, hex);
        if (!etag_matches(parts[i].etag, hex)) {
            rc = -EINVAL; /* InvalidPart: ETag mismatch */
            goto out;
        }
        if (EVP_DigestUpdate(all_md, raw, 16) != 1) {
            rc = -EIO;
            goto out;
        }
    }
    unsigned char raw[16];
    char etag[STORE_ETAG_MAX];
    if ((rc = md5_final(all_md, raw)))
        goto out;
    hex_encode(raw, 16, etag);
    snprintf(etag + 32, sizeof etag - 32, "-%d", nparts);
    if (!(rc = tmpw_finish(&w, &meta, etag, NULL)))
        rc = tmpw_commit(&w, target, base);
    if (!rc)
        upload_remove(dir);
out:
    tmpw_discard(&w);
    EVP_MD_CTX_free(part_md);
    EVP_MD_CTX_free(all_md);
    free(buf);
    return rc;
}

static int local_mpu_abort(struct store *st, const char *bucket,
                           const char *key, const char *upload_id)
{
    struct store_local *s = (struct store_local *)st;
    char dir[PATH_MAX];
    stats_add(STAT_requests_abort_multipart, 1);
    int rc = check_names(bucket, key);
    if (rc)
        return rc;
    if ((rc = upload_dir(s, upload_id, dir, sizeof dir)))
        return rc;
    if ((rc = info_check(dir, bucket, key, NULL)))
        return rc;
    upload_remove(dir);
    return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

#define TMP_STALE_SECONDS (24 * 3600)

/* Remove temp files untouched for a day from every bucket's temp folder
 * (a crashed writer's leftovers).  ctime, not mtime: a finished temp file
 * carries the object's mtime, which may be old. */
static void sweep_temps(const struct store_local *s)
{
    struct dirlist d;
    if (dirlist_read(s->rootlen ? s->root : "/", "", &d))
        return;
    time_t limit = time(NULL) - TMP_STALE_SECONDS;
    unsigned removed = 0;
    for (size_t i = 0; i < d.n; i++) {
        char *nm = d.v[i].name;
        size_t nl = strlen(nm);
        if (nm[0] == '.' || nm[nl - 1] != '/')
            continue;
        nm[nl - 1] = '\0';
        char dir[PATH_MAX];
        if (tmp_dir(s, nm, dir, sizeof dir))
            continue;
        DIR *td = opendir(dir);
        if (!td)
            continue;
        struct dirent *de;
        while ((de = readdir(td)) != NULL) {
            struct stat sb;
            if (de->d_name[0] == '.' ||
                fstatat(dirfd(td), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
                !S_ISREG(sb.st_mode) || sb.st_ctim.tv_sec >= limit)
                continue;
            if (unlinkat(dirfd(td), de->d_name, 0) == 0)
                removed++;
        }
        closedir(td);
    }
    dirlist_release(&d);
    if (removed)
        log_info("local: removed %u stale temp files under '%s'", removed,
                 s->rootlen ? s->root : "/");
}

static void local_free(struct store *st)
{
    struct store_local *s = (struct store_local *)st;
    if (!s)
        return;
    free(s->root);
    free(s);
}

static const struct store_ops local_ops = {
    .name = "local",
    .list_buckets = local_list_buckets,
    .list = local_list,
    .head = local_head,
    .get = local_get,
    .put = local_put,
    .mpu_create = local_mpu_create,
    .mpu_part = local_mpu_part,
    .mpu_complete = local_mpu_complete,
    .mpu_abort = local_mpu_abort,
    .copy = local_copy,
    .del = local_del,
    .free = local_free,
};

static const struct store_ext_ops local_ext_ops = {
    .del_many = local_del_many,
    .list_from = local_list_from,
};

int store_local_new(const char *root, struct store **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!root || !*root) {
        snprintf(err, errlen, "local store: no folder given");
        return -EINVAL;
    }
    char *real = realpath(root, NULL);
    if (!real) {
        int rc = neg_errno(errno);
        snprintf(err, errlen, "local store: cannot open '%s': %s", root,
                 strerror(-rc));
        return rc;
    }
    struct stat sb;
    if (stat(real, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "local store: '%s' is not a folder", root);
        free(real);
        return -ENOTDIR;
    }
    size_t len = strlen(real);
    if (len > PATH_MAX / 2) {
        snprintf(err, errlen, "local store: path of '%s' is too long", root);
        free(real);
        return -ENAMETOOLONG;
    }
    if (len == 1) /* "/": keep paths as "/bucket", not "//bucket" */
        real[len = 0] = '\0';
    struct store_local *s = calloc(1, sizeof *s);
    if (!s) {
        free(real);
        snprintf(err, errlen, "local store: out of memory");
        return -ENOMEM;
    }
    s->base.ops = &local_ops;
    s->base.ext = &local_ext_ops;
    s->root = real;
    s->rootlen = len;
    sweep_temps(s);
    if (RAND_bytes((unsigned char *)&s->tag, sizeof s->tag) != 1)
        s->tag = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
    *out = &s->base;
    return 0;
}
