/* fs_s3.c - the s3/ namespace (DESIGN.md 2); see fs_s3.h
 *
 * Paths: "/" lists buckets, "/bucket" is a bucket, "/bucket/k/e/y" the
 * key "k/e/y" (a file if the object exists, a folder if anything exists
 * under "k/e/y/"; the folder wins).  Attributes and listings are cached
 * for attr_ttl seconds (attrcache.h) and dropped by our own writes through
 * gluefs_object_changed().  Reads go through reader.h (read-ahead),
 * writes through writer_upload.h (streamed multipart or staged).
 *
 * Choices documented here and in docs/architecture.md:
 *  - mkdir/rmdir/rename/create at the bucket level fail with EPERM: buckets
 *    are not created or removed through the mount.
 *  - chmod/chown/utimens of a folder are accepted and not stored.
 *  - an object that is being written shows its current size; other
 *    handles read the object as it was until the upload completes. */
#include "fs_s3.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "attrcache.h"
#include "config.h"
#include "deleter.h"
#include "gluefs.h"
#include "log.h"
#include "reader.h"
#include "stats.h"
#include "store.h"
#include "writer_upload.h"

#define BUCKET_MAX 256
#define LISTING_ROWS_MAX 2000000 /* rows one readdir collects at most */
#define SKIP_LOG_SLOTS 4096
#define LOOKUP_PAGE 1000 /* entries of one ListObjectsV2 page (max-keys) */
#define PREFETCH_AHEAD 4    /* sibling folder listings fetched ahead */
#define PREFETCH_MIN_DIRS 8 /* ... when the parent has this many folders */
#define SLURP_PAGES 10      /* flat pages one slurp reads at most */
#define SLURP_DEPTH 16      /* folder levels below a sibling it caches */
#define WALK_SLOTS 8        /* parents whose folders a walk is reading */

struct fss3_file {
    pthread_mutex_t lock;
    char *path;                 /* "/bucket/key" */
    char *bucket, *key;
    int flags;                  /* open flags */
    uint64_t size;              /* object size at open */
    bool exists;                /* the object existed at open */
    struct store_meta meta;     /* for uploads */
    bool mtime_set;             /* utimens after the last write */
    struct reader *rd;          /* lazily */
    struct upload *up;          /* lazily, or at create / O_TRUNC */
    uint64_t cur_size;          /* for getattr while writing (atomic) */
    struct fss3_file *wnext;    /* in S.writers while up != NULL */
    bool listed;
    int refs;                   /* the handle + writer_get() callers */
};

static struct {
    struct gluefs *g;
    struct store *store;        /* the deleter's barrier store */
    struct store *inner;        /* the store it wraps (g->store at init) */
    struct deleter *dl;
    struct attrcache *ac;
    struct reader_pool *rpool, *upool;
    double ttl, neg_ttl;
    struct reader_params rp;
    struct upload_params up;
    uid_t uid;
    gid_t gid;
    time_t mount_time;
    pthread_mutex_t wlock;      /* writers list */
    struct fss3_file *writers;
    pthread_mutex_t skip_lock;
    uint64_t skip_seen[SKIP_LOG_SLOTS];
    pthread_mutex_t pf_lock;    /* listings being fetched ahead */
    pthread_cond_t pf_cond;
    char pf_path[PREFETCH_AHEAD][PATH_MAX]; /* "" when free */
    char pf_after[PREFETCH_AHEAD][PATH_MAX]; /* slurp jobs: start after */
    uint64_t gen;               /* fss3_invalidate calls (atomic) */
    pthread_mutex_t walk_lock;  /* walks being followed: */
    struct {
        char parent[PATH_MAX];  /* a parent of folders read ("" free) */
        unsigned read;          /* how many of them, minus one */
        uint64_t used;          /* for reuse of the oldest slot */
        char next[PATH_MAX];    /* the next slurp starts after this key */
        char next_path[PATH_MAX]; /* ... with this folder ("" none) */
    } walk[WALK_SLOTS];
    uint64_t walk_clock;
} S = {
    .walk_lock = PTHREAD_MUTEX_INITIALIZER,
    .wlock = PTHREAD_MUTEX_INITIALIZER,
    .skip_lock = PTHREAD_MUTEX_INITIALIZER,
    .pf_lock = PTHREAD_MUTEX_INITIALIZER,
    .pf_cond = PTHREAD_COND_INITIALIZER,
};

/* ---- paths ---- */

/* Split "/bucket/key" into BUCKET and *KEY ("" for the bucket itself);
 * -ENOENT for "/" or a bucket name too long. */
static int split_path(const char *path, char bucket[BUCKET_MAX],
                      const char **key)
{
    *key = "";
    bucket[0] = '\0';
    if (path[0] != '/' || !path[1])
        return -ENOENT;
    const char *b = path + 1;
    const char *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (!n || n >= BUCKET_MAX)
        return -ENOENT;
    memcpy(bucket, b, n);
    bucket[n] = '\0';
    *key = slash ? slash + 1 : "";
    return 0;
}

static int join_path(char *out, size_t cap, const char *bucket,
                     const char *key)
{
    int n = *key ? snprintf(out, cap, "/%s/%s", bucket, key)
                 : snprintf(out, cap, "/%s", bucket);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    /* Never a trailing '/' (a marker "a/" is the folder "/b/a"). */
    if (n > 1 && out[n - 1] == '/')
        out[n - 1] = '\0';
    return 0;
}

/* KEY + "/" (or "" for the bucket root). */
static int dir_prefix(char *out, size_t cap, const char *key)
{
    int n = *key ? snprintf(out, cap, "%s/", key) : snprintf(out, cap, "%s", "");
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static double now_real(void)
{
    return (double)time(NULL);
}

/* ---- names that cannot be files ---- */

static bool name_ok(const char *name, size_t len)
{
    if (!len || len > NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

static void log_skip(const char *bucket, const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = bucket; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    if (!h)
        h = 1;
    pthread_mutex_lock(&S.skip_lock);
    uint64_t *slot = &S.skip_seen[h % SKIP_LOG_SLOTS];
    bool seen = *slot == h;
    *slot = h;
    pthread_mutex_unlock(&S.skip_lock);
    if (!seen)
        log_warn("skipping 's3://%s/%s': the key cannot be a file name",
                 bucket, key);
}

/* ---- stat ---- */

static void fill_stat(const struct attr *a, struct stat *st)
{
    memset(st, 0, sizeof *st);
    bool dir = a->kind == ATTR_DIR;
    mode_t perm = dir ? 0755 : 0644;
    if (a->meta.has_mode)
        perm = a->meta.mode & 07777;
    st->st_mode = (dir ? S_IFDIR : S_IFREG) | perm;
    st->st_nlink = dir ? 2 : 1;
    st->st_uid = a->meta.has_uid ? a->meta.uid : S.uid;
    st->st_gid = a->meta.has_gid ? a->meta.gid : S.gid;
    st->st_size = dir ? 0 : (off_t)a->size;
    st->st_blksize = 128 << 10; /* stdio buffers: small for random readers */
    st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
    time_t t = a->meta.has_mtime ? (time_t)a->meta.mtime : (time_t)a->mtime;
    if (!t)
        t = S.mount_time;
    st->st_mtime = st->st_ctime = st->st_atime = t;
}

static void dir_attr(struct attr *a, int64_t mtime)
{
    memset(a, 0, sizeof *a);
    a->kind = ATTR_DIR;
    a->mtime = mtime;
}

/* ---- writers in progress ---- */

static void writers_add(struct fss3_file *f)
{
    pthread_mutex_lock(&S.wlock);
    if (!f->listed) {
        f->wnext = S.writers;
        S.writers = f;
        f->listed = true;
    }
    pthread_mutex_unlock(&S.wlock);
}

static void writers_remove(struct fss3_file *f)
{
    pthread_mutex_lock(&S.wlock);
    for (struct fss3_file **pp = &S.writers; *pp; pp = &(*pp)->wnext)
        if (*pp == f) {
            *pp = f->wnext;
            break;
        }
    f->listed = false;
    pthread_mutex_unlock(&S.wlock);
}

/* Attributes of PATH if a handle is writing it. */
static bool writers_attr(const char *path, struct attr *a)
{
    bool found = false;
    pthread_mutex_lock(&S.wlock);
    for (struct fss3_file *f = S.writers; f; f = f->wnext)
        if (!strcmp(f->path, path)) {
            memset(a, 0, sizeof *a);
            a->kind = ATTR_FILE;
            a->size = __atomic_load_n(&f->cur_size, __ATOMIC_RELAXED);
            a->mtime = f->meta.has_mtime ? f->meta.mtime : time(NULL);
            a->meta = f->meta;
            found = true;
            break;
        }
    pthread_mutex_unlock(&S.wlock);
    return found;
}

/* True if a handle writes something below folder PATH. */
static bool writers_under(const char *path)
{
    size_t n = strlen(path);
    bool found = false;
    pthread_mutex_lock(&S.wlock);
    for (struct fss3_file *f = S.writers; f && !found; f = f->wnext)
        found = !strncmp(f->path, path, n) && f->path[n] == '/';
    pthread_mutex_unlock(&S.wlock);
    return found;
}

/* ---- buckets ---- */

struct bucket_list {
    struct listing_entry *e;
    size_t n, cap;
};

static int push_entry(struct bucket_list *bl, const char *name, bool is_dir,
                      uint64_t size, int64_t mtime, const char *etag)
{
    if (bl->n >= LISTING_ROWS_MAX)
        return -E2BIG;
    if (bl->n == bl->cap) {
        size_t cap = bl->cap ? bl->cap * 2 : 64;
        struct listing_entry *ne = realloc(bl->e, cap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        bl->e = ne;
        bl->cap = cap;
    }
    char *nm = strdup(name);
    char *et = strdup(etag ? etag : "");
    if (!nm || !et) {
        free(nm);
        free(et);
        return -ENOMEM;
    }
    bl->e[bl->n].name = nm;
    bl->e[bl->n].is_dir = is_dir;
    bl->e[bl->n].size = size;
    bl->e[bl->n].mtime = mtime;
    bl->e[bl->n].etag = et;
    bl->n++;
    return 0;
}

static void entries_release(struct bucket_list *bl)
{
    for (size_t i = 0; i < bl->n; i++) {
        free((char *)bl->e[i].name);
        free((char *)bl->e[i].etag);
    }
    free(bl->e);
    memset(bl, 0, sizeof *bl);
}

static int bucket_cb(void *ctx, const struct store_entry *e)
{
    struct bucket_list *bl = ctx;
    if (!gluefs_bucket_allowed(S.g, e->key) ||
        !name_ok(e->key, strlen(e->key)))
        return 0;
    return push_entry(bl, e->key, true, 0, e->mtime, "");
}

/* The buckets shown, cached as the listing of "/".  When ListBuckets is
 * denied but buckets= names some, those are shown. */
static int buckets_get(struct listing **out)
{
    *out = attrcache_get_listing(S.ac, "/");
    if (*out) {
        stats_add(STAT_dir_cache_hits, 1);
        return 0;
    }
    stats_add(STAT_dir_cache_misses, 1);
    struct bucket_list bl = {0};
    int rc = S.store->ops->list_buckets(S.store, bucket_cb, &bl);
    if (rc && S.g->bucket_filter && *S.g->bucket_filter) {
        log_warn("cannot list the buckets (%s): showing buckets=%s",
                 strerror(-rc), S.g->bucket_filter);
        entries_release(&bl);
        rc = 0;
        const char *p = S.g->bucket_filter;
        while (*p && !rc) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char name[BUCKET_MAX];
            if (len && len < sizeof name) {
                memcpy(name, p, len);
                name[len] = '\0';
                rc = push_entry(&bl, name, true, 0, 0, "");
            }
            p = e ? e + 1 : p + len;
        }
    }
    if (rc) {
        entries_release(&bl);
        return rc;
    }
    struct listing *l = listing_build(bl.e, bl.n);
    entries_release(&bl);
    if (!l)
        return -ENOMEM;
    attrcache_put_listing(S.ac, "/", l, S.ttl);
    *out = l;
    return 0;
}

/* ---- listings ---- */

struct list_ctx {
    const char *bucket;
    const char *prefix;
    size_t plen;
    struct bucket_list bl;
    size_t seen;  /* entries the store gave, skipped ones included */
    size_t limit; /* stop after this many (0: no limit) */
    bool cut;     /* stopped at LIMIT: the listing may go on */
};

static int list_entry(struct list_ctx *c, const struct store_entry *e);

/* Store callback: one entry; stops once LIMIT entries were seen (at the
 * end of a page, before the store asks for the next one). */
static int list_cb(void *ctx, const struct store_entry *e)
{
    struct list_ctx *c = ctx;
    c->seen++;
    int rc = list_entry(c, e);
    if (!rc && c->limit && c->seen >= c->limit) {
        c->cut = true;
        return 1;
    }
    return rc;
}

static int list_entry(struct list_ctx *c, const struct store_entry *e)
{
    if (strncmp(e->key, c->prefix, c->plen))
        return 0;
    const char *rest = e->key + c->plen;
    size_t len = strlen(rest);
    if (e->is_prefix) {
        if (len && rest[len - 1] == '/')
            len--;
    } else if (!len) {
        return 0; /* the folder's own marker */
    }
    if (!name_ok(rest, len)) {
        log_skip(c->bucket, e->key);
        return 0;
    }
    char name[NAME_MAX + 1];
    memcpy(name, rest, len);
    name[len] = '\0';
    int rc = push_entry(&c->bl, name, e->is_prefix, e->size, e->mtime,
                        e->etag);
    if (rc == -E2BIG) {
        log_warn("listing of 's3://%s/%s' cut at %d entries", c->bucket,
                 c->prefix, LISTING_ROWS_MAX);
        return 1;
    }
    return rc;
}

static struct listing *listing_keep(const char *path,
                                    const struct bucket_list *bl);

/* The listing of folder PATH (BUCKET, KEY), from the cache or the store;
 * every entry also fills the attribute cache. */
/* Is PATH's listing being fetched ahead?  (S.pf_lock held) */
static bool pf_busy(const char *path)
{
    for (int i = 0; i < PREFETCH_AHEAD; i++)
        if (!strcmp(S.pf_path[i], path))
            return true;
    return false;
}

static int listing_get(const char *path, const char *bucket, const char *key,
                       struct listing **out)
{
    *out = attrcache_get_listing(S.ac, path);
    if (!*out) { /* being fetched ahead: wait for it rather than ask twice */
        pthread_mutex_lock(&S.pf_lock);
        bool waited = false;
        while (pf_busy(path)) {
            pthread_cond_wait(&S.pf_cond, &S.pf_lock);
            waited = true;
        }
        pthread_mutex_unlock(&S.pf_lock);
        if (waited)
            *out = attrcache_get_listing(S.ac, path);
    }
    if (*out) {
        stats_add(STAT_dir_cache_hits, 1);
        return 0;
    }
    stats_add(STAT_dir_cache_misses, 1);
    char prefix[PATH_MAX];
    int rc = dir_prefix(prefix, sizeof prefix, key);
    if (rc)
        return rc;
    struct list_ctx c = {bucket, prefix, strlen(prefix), {0}, 0, 0, false};
    rc = S.store->ops->list(S.store, bucket, prefix, "/", list_cb, &c);
    if (rc) {
        entries_release(&c.bl);
        return rc;
    }
    struct listing *l = listing_keep(path, &c.bl);
    entries_release(&c.bl);
    if (!l)
        return -ENOMEM;
    *out = l;
    return 0;
}

/* Build the listing of folder PATH from BL, cache it, and fill the
 * attribute cache with its entries.  Returns it with a reference for the
 * caller, or NULL when out of memory. */
static struct listing *listing_keep(const char *path,
                                    const struct bucket_list *bl)
{
    struct listing *l = listing_build(bl->e, bl->n);
    if (!l)
        return NULL;
    char child[PATH_MAX];
    for (size_t i = 0; i < l->n; i++) {
        const struct listing_entry *e = &l->e[i];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->name);
        if (n < 0 || (size_t)n >= sizeof child)
            continue;
        struct attr a;
        memset(&a, 0, sizeof a);
        a.kind = e->is_dir ? ATTR_DIR : ATTR_FILE;
        a.size = e->size;
        a.mtime = e->mtime;
        snprintf(a.etag, sizeof a.etag, "%s", e->etag);
        attrcache_put(S.ac, child, &a, S.ttl, true);
    }
    attrcache_put_listing(S.ac, path, l, S.ttl);
    return l;
}

/* Our own change to PATH (BUCKET, KEY): E is what PATH now is (NULL: it
 * is gone).  gluefs_object_changed() drops the caches around it and tells
 * the crawlers; the parent's listing, when it was cached, is then put
 * back with PATH patched in (for the time it had left), so that creating
 * many files in a folder costs no LIST or HEAD per new name: the negative
 * lookup of each is answered from it. */
static void own_change(const char *path, const char *bucket, const char *key,
                       const struct listing_entry *e)
{
    const char *slash = strrchr(path, '/');
    char parent[PATH_MAX];
    size_t plen = slash ? (size_t)(slash - path) : 0;
    struct listing *l = NULL;
    double left = 0;
    if (slash && plen && plen < sizeof parent) {
        memcpy(parent, path, plen);
        parent[plen] = '\0';
        l = attrcache_get_listing_ttl(S.ac, parent, &left);
    }
    gluefs_object_changed(bucket, key);
    if (!l)
        return;
    struct listing *nl = listing_patch(l, slash + 1, e);
    listing_unref(l);
    if (nl && left > 0)
        attrcache_put_listing(S.ac, parent, nl, left);
    listing_unref(nl);
    if (e && strchr(parent + 1, '/')) {
        /* It holds what we wrote: still a folder. */
        struct attr a;
        dir_attr(&a, S.mount_time);
        attrcache_put(S.ac, parent, &a, left, false);
    }
}

/* ---- lookups ---- */

/* What PATH is: fills A (never ATTR_NEG: -ENOENT instead). */
/* ---- folders our own deletes emptied ---- */

/* A folder without a marker ends on the server with its last object.  A
 * walker that is emptying it (`rm -r`) still holds it, and the kernel may
 * look it up again before the final rmdir (its entry timeout is 1 s, and
 * a big folder takes longer): that lookup must not say ENOENT.  So the
 * folder of each object we delete (and of each folder we remove) is
 * remembered for EMPTIED_TTL_S seconds, and a lookup that finds nothing
 * on the server answers such a folder as an empty one (it is not listed
 * in its parent: the server does not list it).  rmdir forgets it. */
#define EMPTIED_SLOTS 64
#define EMPTIED_TTL_S 10.0

static struct {
    pthread_mutex_t lock;
    char path[EMPTIED_SLOTS][PATH_MAX]; /* "" free */
    double at[EMPTIED_SLOTS];           /* now_real() of the last delete */
    unsigned next;                      /* the slot to reuse */
} E = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Remember PATH's folder (not the bucket itself) as just emptied of one
 * entry. */
static void emptied_note(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !memchr(path + 1, '/', (size_t)(slash - path - 1)))
        return; /* "/bucket/name": the bucket stays */
    size_t n = (size_t)(slash - path);
    if (n >= PATH_MAX)
        return;
    double now = now_real();
    pthread_mutex_lock(&E.lock);
    int slot = -1;
    for (int i = 0; i < EMPTIED_SLOTS && slot < 0; i++)
        if (!strncmp(E.path[i], path, n) && !E.path[i][n])
            slot = i;
    if (slot < 0) {
        slot = (int)(E.next++ % EMPTIED_SLOTS);
        memcpy(E.path[slot], path, n);
        E.path[slot][n] = '\0';
    }
    E.at[slot] = now;
    pthread_mutex_unlock(&E.lock);
}

/* Did our own deletes empty folder PATH within EMPTIED_TTL_S?  FORGET
 * drops it. */
static bool emptied_recently(const char *path, bool forget)
{
    double now = now_real();
    bool hit = false;
    pthread_mutex_lock(&E.lock);
    for (int i = 0; i < EMPTIED_SLOTS; i++)
        if (E.path[i][0] && !strcmp(E.path[i], path)) {
            hit = now - E.at[i] < EMPTIED_TTL_S;
            if (forget || !hit)
                E.path[i][0] = '\0';
            break;
        }
    pthread_mutex_unlock(&E.lock);
    return hit;
}

static int lookup(const char *path, struct attr *a)
{
    char bucket[BUCKET_MAX];
    const char *key;
    memset(a, 0, sizeof *a);
    if (!strcmp(path, "/")) {
        dir_attr(a, S.mount_time);
        return 0;
    }
    int rc = split_path(path, bucket, &key);
    if (rc)
        return rc;
    if (!*key) {
        if (!gluefs_bucket_allowed(S.g, bucket))
            return -ENOENT;
        struct listing *l;
        rc = buckets_get(&l);
        if (rc)
            return rc;
        const struct listing_entry *e = listing_find(l, bucket);
        if (e)
            dir_attr(a, e->mtime);
        listing_unref(l);
        return e ? 0 : -ENOENT;
    }
    if (writers_attr(path, a))
        return 0;
    if (!attrcache_get(S.ac, path, a)) {
        stats_add(STAT_attr_cache_hits, 1);
        return a->kind == ATTR_NEG ? -ENOENT : 0;
    }
    stats_add(STAT_attr_cache_misses, 1);
    /* The parent's listing, when cached, knows every child. */
    const char *slash = strrchr(path, '/');
    char parent[PATH_MAX];
    size_t plen = (size_t)(slash - path);
    if (plen < sizeof parent) {
        memcpy(parent, path, plen);
        parent[plen] = '\0';
        struct listing *l = attrcache_get_listing(S.ac, parent);
        if (l) {
            const struct listing_entry *e = listing_find(l, slash + 1);
            if (e) {
                a->kind = e->is_dir ? ATTR_DIR : ATTR_FILE;
                a->size = e->size;
                a->mtime = e->mtime;
                snprintf(a->etag, sizeof a->etag, "%s", e->etag);
            } else if (emptied_recently(path, false)) {
                listing_unref(l);
                dir_attr(a, S.mount_time);
                return 0; /* not cached: it is gone once rmdir'd */
            } else {
                a->kind = ATTR_NEG;
            }
            listing_unref(l);
            attrcache_put(S.ac, path, a, a->kind == ATTR_NEG ? S.neg_ttl
                                                             : S.ttl, true);
            return a->kind == ATTR_NEG ? -ENOENT : 0;
        }
    }
    /* A folder: anything under "key/" (its marker included).  The first
     * page costs the same as its first entry: when it holds the whole
     * folder, it is kept as the folder's listing (so `ls` or a lookup
     * inside it that follows costs nothing). */
    char prefix[PATH_MAX];
    rc = dir_prefix(prefix, sizeof prefix, key);
    if (rc)
        return rc;
    struct list_ctx c = {bucket, prefix, strlen(prefix), {0}, 0,
                         LOOKUP_PAGE, false};
    rc = S.store->ops->list(S.store, bucket, prefix, "/", list_cb, &c);
    if (rc) {
        entries_release(&c.bl);
        return rc;
    }
    if (c.seen) {
        if (!c.cut && S.ttl > 0)
            listing_unref(listing_keep(path, &c.bl));
        entries_release(&c.bl);
        dir_attr(a, S.mount_time);
        attrcache_put(S.ac, path, a, S.ttl, false);
        return 0;
    }
    entries_release(&c.bl);
    struct store_head h;
    rc = S.store->ops->head(S.store, bucket, key, &h);
    if (rc == -ENOENT && emptied_recently(path, false)) {
        dir_attr(a, S.mount_time);
        return 0; /* not cached: it is gone once rmdir'd */
    }
    if (rc == -ENOENT) {
        a->kind = ATTR_NEG;
        attrcache_put(S.ac, path, a, S.neg_ttl, false);
        return -ENOENT;
    }
    if (rc)
        return rc;
    a->kind = ATTR_FILE;
    a->size = h.size;
    a->mtime = h.mtime;
    memcpy(a->etag, h.etag, sizeof a->etag);
    a->etag[sizeof a->etag - 1] = '\0';
    a->meta = h.meta;
    attrcache_put(S.ac, path, a, S.ttl, false);
    return 0;
}

/* ---- init ---- */

/* The deleter could not delete KEY: show it again (drop what the caches
 * say about it and its folders). */
static void delete_failed(const char *bucket, const char *key, int err)
{
    (void)err;
    fss3_invalidate(bucket, key);
}

int fss3_init(struct gluefs *g)
{
    S.g = g;
    S.store = g->store;
    const struct config *cfg = g->cfg;
    S.ttl = cfg && cfg->attr_ttl ? cfg->attr_ttl : 0;
    S.neg_ttl = S.ttl < 2 ? S.ttl : 2;
    S.uid = getuid();
    S.gid = getgid();
    S.mount_time = time(NULL);
    memset(&S.rp, 0, sizeof S.rp);
    S.rp.window_first = 512 << 10;
    S.rp.window_seek = 256 << 10;
    S.rp.window_max = cfg && cfg->readahead_max ? cfg->readahead_max
                                                : 64ULL << 20;
    S.rp.chunk_max = 8 << 20;
    S.rp.inflight_max = 8;
    S.up.part_size = cfg && cfg->part_size ? cfg->part_size : 8ULL << 20;
    if (S.up.part_size < STORE_PART_MIN)
        S.up.part_size = STORE_PART_MIN;
    S.up.parts_in_flight = cfg && cfg->parts_in_flight ? cfg->parts_in_flight
                                                      : 4;
    S.up.cache_dir = cfg && cfg->cache_dir ? cfg->cache_dir : "/tmp";
    int rc = attrcache_new(500000, 2000000, &S.ac);
    if (!rc)
        rc = deleter_new(g->store, delete_failed, &S.dl);
    if (!rc) {
        /* Every user of the store (crawlers and jobs too, started after
         * this) goes through the deleter's barriers: no request sees or
         * overtakes a queued delete.  fss3_destroy puts the store back. */
        S.inner = g->store;
        S.store = deleter_store(S.dl);
        g->store = S.store;
    }
    if (!rc)
        rc = reader_pool_new(16, &S.rpool);
    if (!rc)
        rc = reader_pool_new(16, &S.upool);
    if (rc)
        fss3_destroy();
    return rc;
}

void fss3_destroy(void)
{
    reader_pool_free(S.rpool);
    reader_pool_free(S.upool);
    if (S.dl) { /* sends what is queued, and waits */
        S.g->store = S.inner;
        S.store = S.inner;
        deleter_free(S.dl);
        S.dl = NULL;
    }
    attrcache_free(S.ac);
    S.rpool = S.upool = NULL;
    S.ac = NULL;
}

/* ---- getattr / readdir ---- */

int fss3_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    struct attr a;
    struct fss3_file *f = fi ? (struct fss3_file *)(uintptr_t)fi->fh : NULL;
    if (f) {
        pthread_mutex_lock(&f->lock);
        bool writing = f->up != NULL;
        if (writing) {
            memset(&a, 0, sizeof a);
            a.kind = ATTR_FILE;
            a.size = __atomic_load_n(&f->cur_size, __ATOMIC_RELAXED);
            a.meta = f->meta;
            a.mtime = f->meta.has_mtime ? f->meta.mtime : time(NULL);
        }
        pthread_mutex_unlock(&f->lock);
        if (writing) {
            fill_stat(&a, st);
            return 0;
        }
    }
    int rc = lookup(path, &a);
    if (rc)
        return rc;
    fill_stat(&a, st);
    return 0;
}

struct fill_ctx {
    void *buf;
    fuse_fill_dir_t filler;
    bool plus;
};

static int fill_one(struct fill_ctx *fc, const char *name, const struct attr *a)
{
    struct stat st;
    fill_stat(a, &st);
    return fc->filler(fc->buf, name, &st, 0,
                      fc->plus ? FUSE_FILL_DIR_PLUS : (enum fuse_fill_dir_flags)0);
}

/* ---- listings fetched ahead for a walk (find, du, ls -R) ---- */

struct pf_job {
    struct reader_job job; /* first: the pool hands us this */
    int slot;
    bool slurp; /* a flat listing (slurp_job), not one folder's */
};

static void slurp_job(int slot);

static void pf_run(struct reader_job *j)
{
    struct pf_job *pj = (struct pf_job *)j;
    const char *path = S.pf_path[pj->slot];
    char bucket[BUCKET_MAX];
    const char *key;
    if (pj->slurp) {
        slurp_job(pj->slot);
    } else if (!split_path(path, bucket, &key) && *key) {
        struct listing *l = attrcache_get_listing(S.ac, path);
        char prefix[PATH_MAX];
        if (!l && !dir_prefix(prefix, sizeof prefix, key)) {
            stats_add(STAT_dir_cache_misses, 1);
            struct list_ctx c = {bucket, prefix, strlen(prefix), {0}, 0, 0,
                                 false};
            if (!S.store->ops->list(S.store, bucket, prefix, "/", list_cb,
                                    &c))
                l = listing_keep(path, &c.bl);
            entries_release(&c.bl);
        }
        listing_unref(l);
    }
    pthread_mutex_lock(&S.pf_lock);
    S.pf_path[pj->slot][0] = '\0';
    pthread_cond_broadcast(&S.pf_cond);
    pthread_mutex_unlock(&S.pf_lock);
    free(pj);
}

/* A walk reads folder PATH: when its parent holds many folders, fetch
 * the listings of the next few sibling folders (in listing order, the
 * order a walk takes) on the pool, so that the server works while the
 * walker handles this one.  A plain `ls` of the parent fetches nothing
 * ahead; the first folder read costs at most PREFETCH_AHEAD listings that
 * may not be needed. */
static void prefetch_siblings(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !S.ttl)
        return;
    char parent[PATH_MAX];
    size_t plen = (size_t)(slash - path);
    if (plen >= sizeof parent || !strchr(path + 1, '/'))
        return;
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    struct listing *pl = attrcache_get_listing(S.ac, parent);
    if (!pl)
        return;
    size_t dirs = 0;
    for (size_t i = 0; i < pl->n && dirs < PREFETCH_MIN_DIRS; i++)
        dirs += pl->e[i].is_dir;
    const struct listing_entry *me = listing_find(pl, slash + 1);
    char child[PATH_MAX];
    int ahead = 0;
    for (size_t i = me ? (size_t)(me - pl->e) + 1 : pl->n;
         dirs >= PREFETCH_MIN_DIRS && i < pl->n && ahead < PREFETCH_AHEAD;
         i++) {
        if (!pl->e[i].is_dir)
            continue;
        ahead++;
        int n = snprintf(child, sizeof child, "%s/%s", parent, pl->e[i].name);
        if (n < 0 || (size_t)n >= sizeof child)
            continue;
        struct listing *cl = attrcache_get_listing(S.ac, child);
        if (cl) {
            listing_unref(cl);
            continue;
        }
        pthread_mutex_lock(&S.pf_lock);
        int slot = -1;
        if (!pf_busy(child))
            for (int k = 0; k < PREFETCH_AHEAD && slot < 0; k++)
                if (!S.pf_path[k][0])
                    slot = k;
        struct pf_job *pj = slot >= 0 ? calloc(1, sizeof *pj) : NULL;
        if (pj)
            memcpy(S.pf_path[slot], child, (size_t)n + 1);
        pthread_mutex_unlock(&S.pf_lock);
        if (!pj)
            continue;
        pj->job.run = pf_run;
        pj->slot = slot;
        reader_pool_submit(S.upool, &pj->job);
    }
    listing_unref(pl);
}

/* ---- sibling folders listed flat for a walk (goofys' "slurp") ---- */

struct slurp_ctx {
    struct bucket_list flat; /* names are full keys */
    size_t limit;
    bool cut; /* stopped at LIMIT: the listing may go on */
};

static int slurp_cb(void *ctx, const struct store_entry *e)
{
    struct slurp_ctx *c = ctx;
    if (e->is_prefix)
        return 0;
    int rc = push_entry(&c->flat, e->key, false, e->size, e->mtime, e->etag);
    if (!rc && c->flat.n >= c->limit) {
        c->cut = true;
        return 1;
    }
    return rc == -E2BIG ? 1 : rc;
}

/* Is a walk reading the folders of PATH's parent (a second one at
 * least)?  Notes PATH as read; the last WALK_SLOTS parents are kept, so
 * a depth-first walk that went down into a folder is still followed
 * when it comes back up.  A lone `ls` of a folder is not a walk. */
static bool walk_follows(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    if (plen >= PATH_MAX)
        return false;
    int slot = -1, old = 0;
    pthread_mutex_lock(&S.walk_lock);
    for (int i = 0; i < WALK_SLOTS && slot < 0; i++) {
        if (!strncmp(S.walk[i].parent, path, plen) && !S.walk[i].parent[plen])
            slot = i;
        else if (S.walk[i].used < S.walk[old].used)
            old = i;
    }
    bool walk = slot >= 0;
    if (walk) {
        S.walk[slot].read++;
    } else {
        slot = old;
        memcpy(S.walk[slot].parent, path, plen);
        S.walk[slot].parent[plen] = '\0';
        S.walk[slot].read = 0;
        S.walk[slot].next[0] = S.walk[slot].next_path[0] = '\0';
    }
    S.walk[slot].used = ++S.walk_clock;
    walk = walk && S.walk[slot].read >= 1;
    pthread_mutex_unlock(&S.walk_lock);
    return walk;
}

static void slurp_groups(const char *bucket, const char *parent,
                         const char *pprefix, const struct bucket_list *flat,
                         size_t from, size_t to, bool last_complete,
                         int depth);

/* Cache the listing of the folder whose keys FLAT[from, to) are (all
 * with prefix PPREFIX + name + "/"), built exactly as a delimiter
 * listing of it would be (list_entry: same names skipped and logged, a
 * folder winning over a same-named file); then its subfolders' the same
 * way (they are complete too), DEPTH levels down at most. */
static void slurp_keep(const char *bucket, const char *parent,
                       const char *pprefix, const struct bucket_list *flat,
                       size_t from, size_t to, int depth)
{
    const char *k0 = flat->e[from].name;
    size_t pplen = strlen(pprefix);
    const char *seg = k0 + pplen;
    size_t seglen = (size_t)(strchr(seg, '/') - seg);
    char path[PATH_MAX], gprefix[PATH_MAX];
    if (!name_ok(seg, seglen) || pplen + seglen + 1 >= sizeof gprefix ||
        snprintf(path, sizeof path, "%s/%.*s", parent, (int)seglen, seg) >=
            (int)sizeof path)
        return;
    memcpy(gprefix, k0, pplen + seglen + 1);
    gprefix[pplen + seglen + 1] = '\0';
    size_t glen = pplen + seglen + 1;
    struct list_ctx c = {bucket, gprefix, glen, {0}, 0, 0, false};
    char cp[PATH_MAX] = "";
    int rc = 0;
    for (size_t i = from; i < to && !rc; i++) {
        const struct listing_entry *fe = &flat->e[i];
        const char *rest = fe->name + glen;
        const char *sl = strchr(rest, '/');
        struct store_entry e = {fe->name, false, fe->size, fe->mtime,
                                fe->etag};
        if (sl) { /* a deeper key: its CommonPrefix, once */
            size_t n = (size_t)(sl - fe->name) + 1;
            if (n >= sizeof cp)
                continue;
            if (!strncmp(cp, fe->name, n) && !cp[n])
                continue;
            memcpy(cp, fe->name, n);
            cp[n] = '\0';
            e = (struct store_entry){cp, true, 0, 0, ""};
        }
        rc = list_entry(&c, &e);
    }
    if (rc >= 0)
        listing_unref(listing_keep(path, &c.bl));
    entries_release(&c.bl);
    if (rc >= 0 && depth > 0)
        slurp_groups(bucket, path, gprefix, flat, from, to, true, depth - 1);
}

/* The keys FLAT[from, to), all starting with PPREFIX (folder PARENT),
 * in key order: those under one subfolder are consecutive.  Keep each
 * subfolder's listing; the last one only if LAST_COMPLETE (the listing
 * may go on past it). */
static void slurp_groups(const char *bucket, const char *parent,
                         const char *pprefix, const struct bucket_list *flat,
                         size_t from, size_t to, bool last_complete,
                         int depth)
{
    size_t pplen = strlen(pprefix), start = from;
    bool have = false;
    const char *gname = NULL;
    size_t gl = 0;
    for (size_t i = from; i <= to; i++) {
        const char *k = i < to ? flat->e[i].name : NULL;
        const char *sl = k ? strchr(k + pplen, '/') : NULL;
        size_t kl = sl ? (size_t)(sl - (k + pplen)) : 0;
        if (have && sl && kl == gl && !memcmp(k + pplen, gname, gl))
            continue;
        if (have && (i < to || last_complete))
            slurp_keep(bucket, parent, pprefix, flat, start, i, depth);
        have = sl != NULL;
        gname = sl ? k + pplen : NULL;
        gl = kl;
        start = i;
    }
}

/* One flat listing: PARENT's prefix PPREFIX (BUCKET) after key AFTER,
 * at most SLURP_PAGES pages; every folder the pages hold entirely is
 * cached (slurp_groups).  When the listing goes on, NEXT (PATH_MAX)
 * receives where the next one starts: the key to start after, and
 * NEXT_PATH the folder read partly (NULL, "" otherwise). */
static void slurp_run(const char *bucket, const char *parent,
                      const char *pprefix, const char *after, char *next,
                      char *next_path)
{
    struct store *st = S.store;
    next[0] = next_path[0] = '\0';
    uint64_t gen = __atomic_load_n(&S.gen, __ATOMIC_ACQUIRE);
    struct slurp_ctx c = {{0}, SLURP_PAGES * LOOKUP_PAGE, false};
    stats_add(STAT_dir_cache_misses, 1);
    int rc = st->ext->list_from(st, bucket, pprefix, after, NULL, slurp_cb, &c);
    if (rc || !c.flat.n || gen != __atomic_load_n(&S.gen, __ATOMIC_ACQUIRE)) {
        entries_release(&c.flat);
        return; /* nothing kept (a write raced it) */
    }
    /* the last folder is complete only if the listing ended */
    slurp_groups(bucket, parent, pprefix, &c.flat, 0, c.flat.n, !c.cut,
                 SLURP_DEPTH);
    if (c.cut) {
        size_t pplen = strlen(pprefix);
        const char *last = c.flat.e[c.flat.n - 1].name;
        const char *sl = strchr(last + pplen, '/');
        size_t gl = sl ? (size_t)(sl - last) : 0;
        int n = sl ? snprintf(next, PATH_MAX, "%.*s.", (int)gl, last)
                   : snprintf(next, PATH_MAX, "%s", last);
        if (n < 0 || n >= PATH_MAX)
            next[0] = '\0';
        if (sl && next[0]) {
            n = snprintf(next_path, PATH_MAX, "%s/%.*s", parent,
                         (int)(gl - pplen), last + pplen);
            if (n < 0 || n >= PATH_MAX)
                next_path[0] = '\0';
        }
    }
    entries_release(&c.flat);
}

/* Note where the walk of PARENT's folders may list next (NEXT "" for
 * nowhere), or take that (*NEXT, *NEXT_PATH filled, slot cleared).  A
 * slurp is started ahead only when the walker reads a folder the last
 * one cached: one flat listing ahead of the walker, never more. */
static void walk_next(const char *parent, char *next, char *next_path,
                      bool take)
{
    pthread_mutex_lock(&S.walk_lock);
    int slot = -1;
    for (int i = 0; i < WALK_SLOTS && slot < 0; i++)
        if (!strcmp(S.walk[i].parent, parent))
            slot = i;
    if (slot >= 0 && take) {
        memcpy(next, S.walk[slot].next, PATH_MAX);
        memcpy(next_path, S.walk[slot].next_path, PATH_MAX);
        S.walk[slot].next[0] = S.walk[slot].next_path[0] = '\0';
    } else if (slot >= 0) {
        memcpy(S.walk[slot].next, next, PATH_MAX);
        memcpy(S.walk[slot].next_path, next_path, PATH_MAX);
    } else if (take) {
        next[0] = next_path[0] = '\0';
    }
    pthread_mutex_unlock(&S.walk_lock);
}

/* Start the next flat listing of PARENT's folders on the pool, if one
 * is noted and a fetch slot is free. */
static void slurp_ahead(const char *parent)
{
    char next[PATH_MAX], npath[PATH_MAX];
    walk_next(parent, next, npath, true);
    if (!next[0] || !npath[0])
        return;
    pthread_mutex_lock(&S.pf_lock);
    int slot = -1;
    if (!pf_busy(npath))
        for (int k = 0; k < PREFETCH_AHEAD && slot < 0; k++)
            if (!S.pf_path[k][0])
                slot = k;
    struct pf_job *pj = slot >= 0 ? calloc(1, sizeof *pj) : NULL;
    if (pj) {
        memcpy(S.pf_path[slot], npath, strlen(npath) + 1);
        memcpy(S.pf_after[slot], next, strlen(next) + 1);
    }
    pthread_mutex_unlock(&S.pf_lock);
    if (!pj)
        return;
    pj->job.run = pf_run;
    pj->slot = slot;
    pj->slurp = true;
    reader_pool_submit(S.upool, &pj->job);
}

/* The flat listing of pf_run: S.pf_path[SLOT] is the folder it starts
 * with (a walker reaching it waits), S.pf_after[SLOT] the key to start
 * after. */
static void slurp_job(int slot)
{
    const char *path = S.pf_path[slot];
    const char *slash = strrchr(path, '/');
    char bucket[BUCKET_MAX], parent[PATH_MAX], pprefix[PATH_MAX];
    const char *key;
    if (!slash || (size_t)(slash - path) >= sizeof parent ||
        split_path(path, bucket, &key) || !*key)
        return;
    memcpy(parent, path, (size_t)(slash - path));
    parent[slash - path] = '\0';
    const char *pkey = strchr(parent + 1, '/');
    if (dir_prefix(pprefix, sizeof pprefix, pkey ? pkey + 1 : ""))
        return;
    char next[PATH_MAX], npath[PATH_MAX];
    slurp_run(bucket, parent, pprefix, S.pf_after[slot], next, npath);
    walk_next(parent, next, npath, false);
}

/* A walk reads folder PATH (BUCKET) and its parent holds many folders:
 * list the parent's prefix flat (no delimiter), from PATH's own keys on,
 * for at most SLURP_PAGES pages, and cache the listing of every folder
 * those pages hold entirely; the last, partly read folder is not cached.
 * S3 then sends 1,000 keys a page instead of one page a folder.  While
 * the walker reads the cached folders, the next flat listing runs on
 * the pool (slurp_ahead).  False when this is no walk (or no flat
 * listing): the caller may fetch a few folders ahead instead. */
static bool slurp_siblings(const char *path, const char *bucket)
{
    struct store *st = S.store;
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path || !S.ttl || !st->ext || !st->ext->list_from ||
        !strchr(path + 1, '/'))
        return false;
    char parent[PATH_MAX];
    size_t plen = (size_t)(slash - path);
    if (plen >= sizeof parent)
        return false;
    memcpy(parent, path, plen);
    parent[plen] = '\0';
    struct listing *l = attrcache_get_listing(S.ac, path);
    if (l) {
        listing_unref(l);
        if (walk_follows(path))
            slurp_ahead(parent);
        return true;
    }
    if (!walk_follows(path))
        return false;
    pthread_mutex_lock(&S.pf_lock);
    bool busy = pf_busy(path); /* fetched ahead already: wait for that */
    pthread_mutex_unlock(&S.pf_lock);
    if (busy)
        return true;
    struct listing *pl = attrcache_get_listing(S.ac, parent);
    if (!pl)
        return false;
    size_t dirs = 0;
    for (size_t i = 0; i < pl->n && dirs < PREFETCH_MIN_DIRS; i++)
        dirs += pl->e[i].is_dir;
    listing_unref(pl);
    if (dirs < PREFETCH_MIN_DIRS)
        return false;
    /* parent "/b/x/y" -> prefix "x/y/"; start after "x/y/name." (just
     * before "x/y/name/") */
    const char *pkey = strchr(parent + 1, '/');
    char pprefix[PATH_MAX], after[PATH_MAX];
    if (dir_prefix(pprefix, sizeof pprefix, pkey ? pkey + 1 : ""))
        return false;
    int n = snprintf(after, sizeof after, "%s%s.", pprefix, slash + 1);
    if (n < 0 || (size_t)n >= sizeof after)
        return false;
    char next[PATH_MAX], npath[PATH_MAX];
    slurp_run(bucket, parent, pprefix, after, next, npath);
    walk_next(parent, next, npath, false);
    return true;
}

int fss3_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
                 off_t off, struct fuse_file_info *fi,
                 enum fuse_readdir_flags flags)
{
    (void)off;
    (void)fi;
    struct fill_ctx fc = {buf, filler, (flags & FUSE_READDIR_PLUS) != 0};
    struct listing *l = NULL;
    int rc;
    struct attr a;
    char bucket[BUCKET_MAX];
    const char *key = "";
    bool root = !strcmp(path, "/");
    if (root) {
        rc = buckets_get(&l);
    } else {
        rc = split_path(path, bucket, &key);
        if (!rc && !*key && !gluefs_bucket_allowed(S.g, bucket))
            rc = -ENOENT;
        if (!rc && *key && !slurp_siblings(path, bucket))
            prefetch_siblings(path);
        if (!rc)
            rc = listing_get(path, bucket, key, &l);
        if (!rc && !l->n && *key) {
            /* Nothing under it: a folder only if its marker exists. */
            listing_unref(l);
            l = NULL;
            rc = lookup(path, &a);
            if (!rc && a.kind != ATTR_DIR)
                rc = -ENOTDIR;
            if (!rc)
                rc = listing_get(path, bucket, key, &l);
        }
    }
    if (rc)
        return rc;
    dir_attr(&a, S.mount_time);
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    char child[PATH_MAX];
    for (size_t i = 0; i < l->n; i++) {
        const struct listing_entry *e = &l->e[i];
        struct attr ca;
        int n = snprintf(child, sizeof child, "%s/%s", root ? "" : path,
                         e->name);
        if (root || n < 0 || (size_t)n >= sizeof child ||
            attrcache_get(S.ac, child, &ca) || ca.kind == ATTR_NEG) {
            memset(&ca, 0, sizeof ca);
            ca.kind = e->is_dir ? ATTR_DIR : ATTR_FILE;
            ca.size = e->size;
            ca.mtime = e->mtime;
        }
        if (fill_one(&fc, e->name, &ca))
            break;
    }
    /* Files being written here that the store does not show yet. */
    if (!root) {
        size_t plen = strlen(path);
        pthread_mutex_lock(&S.wlock);
        for (struct fss3_file *f = S.writers; f; f = f->wnext) {
            if (strncmp(f->path, path, plen) || f->path[plen] != '/' ||
                strchr(f->path + plen + 1, '/') ||
                listing_find(l, f->path + plen + 1))
                continue;
            struct attr wa;
            memset(&wa, 0, sizeof wa);
            wa.kind = ATTR_FILE;
            wa.size = __atomic_load_n(&f->cur_size, __ATOMIC_RELAXED);
            wa.meta = f->meta;
            if (fill_one(&fc, f->path + plen + 1, &wa))
                break;
        }
        pthread_mutex_unlock(&S.wlock);
    }
    listing_unref(l);
    return 0;
}

/* ---- open files ---- */

static void file_put(struct fss3_file *f)
{
    if (!f || __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL))
        return;
    reader_free(f->rd);
    upload_free(f->up);
    pthread_mutex_destroy(&f->lock);
    free(f->path);
    free(f->bucket);
    free(f->key);
    free(f);
}

static void file_free(struct fss3_file *f);

static int file_new(const char *path, int flags, struct fss3_file **out)
{
    *out = NULL;
    char bucket[BUCKET_MAX];
    const char *key;
    int rc = split_path(path, bucket, &key);
    if (rc)
        return rc;
    if (!*key)
        return -EISDIR;
    struct fss3_file *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    pthread_mutex_init(&f->lock, NULL);
    f->refs = 1;
    f->path = strdup(path);
    f->bucket = strdup(bucket);
    f->key = strdup(key);
    if (!f->path || !f->bucket || !f->key) {
        file_free(f);
        return -ENOMEM;
    }
    f->flags = flags;
    f->refs = 1;
    *out = f;
    return 0;
}

/* Take F out of service: no new writer_get() finds it; freed when the
 * last reference goes. */
static void file_free(struct fss3_file *f)
{
    if (!f)
        return;
    writers_remove(f);
    file_put(f);
}

static void new_meta(struct store_meta *m, mode_t mode)
{
    memset(m, 0, sizeof *m);
    /* No mtime: new content shows its LastModified, unless touched. */
    m->has_mode = m->has_uid = m->has_gid = true;
    m->mode = S_IFREG | (mode & 07777);
    m->uid = S.uid;
    m->gid = S.gid;
}

/* Start streaming new content for F (f->lock held). */
static int file_stream(struct fss3_file *f)
{
    int rc = upload_new_stream(S.store, S.upool, f->bucket, f->key, &S.up,
                               &f->up);
    if (rc)
        return rc;
    f->meta.has_mtime = false; /* new content: LastModified */
    upload_set_meta(f->up, &f->meta);
    __atomic_store_n(&f->cur_size, 0, __ATOMIC_RELAXED);
    writers_add(f);
    return 0;
}

/* Make sure F has an upload for writing (f->lock held): an existing
 * object is staged (downloaded) now, an empty one streams. */
static int file_writable(struct fss3_file *f)
{
    if (f->up)
        return 0;
    if (!f->exists || !f->size)
        return file_stream(f);
    int rc = upload_new_staged(S.store, S.upool, f->bucket, f->key, f->size,
                               &S.up, &f->up);
    if (rc)
        return rc;
    f->meta.has_mtime = false; /* rewritten: LastModified */
    upload_set_meta(f->up, &f->meta);
    __atomic_store_n(&f->cur_size, upload_size(f->up), __ATOMIC_RELAXED);
    writers_add(f);
    return 0;
}

int fss3_open(const char *path, struct fuse_file_info *fi)
{
    struct attr a;
    int rc = lookup(path, &a);
    if (rc)
        return rc;
    if (a.kind == ATTR_DIR)
        return -EISDIR;
    struct fss3_file *f;
    rc = file_new(path, fi->flags, &f);
    if (rc)
        return rc;
    f->exists = true;
    f->size = a.size;
    f->meta = a.meta;
    bool meta_known = a.meta.has_mode || a.meta.has_uid || a.meta.has_gid ||
                      a.meta.has_mtime;
    if ((fi->flags & O_ACCMODE) != O_RDONLY && !meta_known) {
        /* A listing knows no metadata: a rewrite must keep the object's. */
        struct store_head h;
        rc = S.store->ops->head(S.store, f->bucket, f->key, &h);
        if (!rc) {
            f->meta = h.meta;
            f->size = h.size;
        } else if (rc != -ENOENT) {
            file_free(f);
            return rc;
        } else {
            f->exists = false;
            f->size = 0;
        }
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY && (fi->flags & O_TRUNC)) {
        pthread_mutex_lock(&f->lock);
        rc = file_stream(f);
        pthread_mutex_unlock(&f->lock);
        if (rc) {
            file_free(f);
            return rc;
        }
    }
    fi->fh = (uint64_t)(uintptr_t)f;
    return 0;
}

int fss3_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    struct fss3_file *f;
    int rc = file_new(path, fi->flags, &f);
    if (rc)
        return rc == -EISDIR ? -EPERM : rc;
    new_meta(&f->meta, mode);
    pthread_mutex_lock(&f->lock);
    rc = file_stream(f);
    pthread_mutex_unlock(&f->lock);
    if (rc) {
        file_free(f);
        return rc;
    }
    fi->fh = (uint64_t)(uintptr_t)f;
    return 0;
}

int fss3_read(const char *path, char *buf, size_t size, off_t off,
              struct fuse_file_info *fi)
{
    (void)path;
    struct fss3_file *f = (struct fss3_file *)(uintptr_t)fi->fh;
    if (!f || off < 0)
        return -EBADF;
    pthread_mutex_lock(&f->lock);
    struct upload *up = f->up;
    int rc = 0;
    if (!up && !f->rd)
        rc = reader_new(S.store, S.rpool, f->bucket, f->key, f->size, &S.rp,
                        &f->rd);
    struct reader *rd = f->rd;
    pthread_mutex_unlock(&f->lock);
    if (rc)
        return rc;
    ssize_t n = up ? upload_read(up, buf, size, (uint64_t)off)
                   : reader_read(rd, buf, size, (uint64_t)off);
    return (int)n;
}

int fss3_write(const char *path, const char *buf, size_t size, off_t off,
               struct fuse_file_info *fi)
{
    (void)path;
    struct fss3_file *f = (struct fss3_file *)(uintptr_t)fi->fh;
    if (!f || off < 0)
        return -EBADF;
    pthread_mutex_lock(&f->lock);
    int rc = file_writable(f);
    struct upload *up = f->up;
    f->mtime_set = false;
    pthread_mutex_unlock(&f->lock);
    if (rc)
        return rc;
    ssize_t n = upload_write(up, buf, size, (uint64_t)off);
    if (n >= 0) {
        uint64_t s = upload_size(up);
        __atomic_store_n(&f->cur_size, s, __ATOMIC_RELAXED);
    }
    return (int)n;
}

/* Upload F if it has unsent content; update caches on success. */
static int file_flush(struct fss3_file *f)
{
    pthread_mutex_lock(&f->lock);
    struct upload *up = f->up;
    if (!up) {
        pthread_mutex_unlock(&f->lock);
        return 0;
    }
    struct store_meta meta = f->meta;
    if (upload_dirty(up) && !f->mtime_set)
        meta.has_mtime = false; /* the upload's LastModified is the mtime */
    bool has_meta = meta.has_mode || meta.has_uid || meta.has_gid ||
                    meta.has_mtime;
    bool uploaded = false;
    int rc = upload_flush(up, has_meta ? &meta : NULL, &uploaded);
    if (!rc && uploaded) {
        f->meta = meta;
        f->exists = true;
        f->size = upload_size(up);
        struct listing_entry le = {f->path, false, f->size, time(NULL), ""};
        own_change(f->path, f->bucket, f->key, &le);
        struct attr a;
        memset(&a, 0, sizeof a);
        a.kind = ATTR_FILE;
        a.size = f->size;
        a.mtime = meta.has_mtime ? meta.mtime : time(NULL);
        a.meta = has_meta ? meta : a.meta;
        attrcache_put(S.ac, f->path, &a, S.ttl, false);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int fss3_flush(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct fss3_file *f = (struct fss3_file *)(uintptr_t)fi->fh;
    return f ? file_flush(f) : 0;
}

int fss3_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    return fss3_flush(path, fi);
}

int fss3_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    struct fss3_file *f = (struct fss3_file *)(uintptr_t)fi->fh;
    if (!f)
        return 0;
    int rc = file_flush(f); /* logged by the upload */
    (void)rc;
    file_free(f);
    fi->fh = 0;
    return 0;
}

/* Find a handle writing PATH; returned with a reference and f->lock
 * held (release with writer_unlock). */
static struct fss3_file *writer_lock(const char *path)
{
    struct fss3_file *f = NULL;
    pthread_mutex_lock(&S.wlock);
    for (f = S.writers; f; f = f->wnext)
        if (!strcmp(f->path, path))
            break;
    if (f)
        __atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&S.wlock);
    if (f)
        pthread_mutex_lock(&f->lock); /* lock order: f->lock, then S.wlock */
    return f;
}

static void writer_unlock(struct fss3_file *f)
{
    pthread_mutex_unlock(&f->lock);
    file_put(f);
}

int fss3_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (size < 0)
        return -EINVAL;
    struct fss3_file *f = fi ? (struct fss3_file *)(uintptr_t)fi->fh : NULL;
    bool own = false, listed = false;
    int rc;
    if (f) {
        pthread_mutex_lock(&f->lock);
    } else if ((f = writer_lock(path))) {
        listed = true;
    } else {
        struct attr a;
        rc = lookup(path, &a);
        if (rc)
            return rc;
        if (a.kind == ATTR_DIR)
            return -EISDIR;
        if (a.size == (uint64_t)size)
            return 0;
        rc = file_new(path, O_WRONLY, &f);
        if (rc)
            return rc;
        f->exists = true;
        f->size = a.size;
        f->meta = a.meta;
        own = true;
        struct store_head h;
        if (!(a.meta.has_mode || a.meta.has_uid || a.meta.has_gid ||
              a.meta.has_mtime) &&
            !S.store->ops->head(S.store, f->bucket, f->key, &h)) {
            f->meta = h.meta; /* keep the object's metadata */
            f->size = h.size;
        }
        pthread_mutex_lock(&f->lock);
    }
    rc = 0;
    if (!f->up && size == 0)
        rc = file_stream(f); /* nothing to download */
    if (!rc)
        rc = file_writable(f);
    if (!rc)
        rc = upload_truncate(f->up, (uint64_t)size);
    if (!rc)
        __atomic_store_n(&f->cur_size, (uint64_t)size, __ATOMIC_RELAXED);
    f->mtime_set = false;
    pthread_mutex_unlock(&f->lock);
    if (listed) {
        /* truncate(path) found a handle still writing the path (often one
         * already closed whose release has not arrived yet: FUSE sends
         * release asynchronously): the new size must be in the store when
         * truncate() returns, as without a handle */
        if (!rc)
            rc = file_flush(f);
        file_put(f);
    }
    if (own) {
        if (!rc)
            rc = file_flush(f);
        file_free(f);
    }
    return rc;
}

/* ---- namespace changes ---- */

/* BUCKET and KEY of PATH, refusing the root and bucket level. */
static int object_path(const char *path, char bucket[BUCKET_MAX],
                       const char **key)
{
    int rc = split_path(path, bucket, key);
    if (rc)
        return !strcmp(path, "/") ? -EPERM : rc;
    return **key ? 0 : -EPERM;
}

int fss3_unlink(const char *path)
{
    char bucket[BUCKET_MAX];
    const char *key;
    int rc = object_path(path, bucket, &key);
    if (rc)
        return rc;
    /* The kernel looked the name up just before: answer from the caches
     * (no request); when they know nothing, go ahead. */
    struct attr a;
    if (!writers_attr(path, &a) && !attrcache_get(S.ac, path, &a)) {
        if (a.kind == ATTR_NEG)
            return -ENOENT;
        if (a.kind == ATTR_DIR)
            return -EISDIR;
    }
    rc = deleter_unlink(S.dl, bucket, key);
    if (rc)
        return rc;
    emptied_note(path);
    own_change(path, bucket, key, NULL);
    memset(&a, 0, sizeof a);
    a.kind = ATTR_NEG;
    attrcache_put(S.ac, path, &a, S.neg_ttl, false);
    return 0;
}

int fss3_mkdir(const char *path, mode_t mode)
{
    char bucket[BUCKET_MAX];
    const char *key;
    int rc = object_path(path, bucket, &key);
    if (rc)
        return rc;
    char marker[PATH_MAX];
    rc = dir_prefix(marker, sizeof marker, key);
    if (rc)
        return rc;
    struct store_meta m;
    new_meta(&m, mode);
    m.mode = S_IFDIR | (mode & 07777);
    rc = S.store->ops->put(S.store, bucket, marker, "", 0, &m);
    if (rc)
        return rc;
    struct listing_entry le = {path, true, 0, time(NULL), ""};
    own_change(path, bucket, marker, &le);
    struct attr a;
    dir_attr(&a, time(NULL));
    attrcache_put(S.ac, path, &a, S.ttl, false);
    /* A new folder: empty until we write into it (the kernel looked the
     * name up and found nothing), so lookups of new names inside cost no
     * request. */
    struct listing *empty = listing_build(NULL, 0);
    if (empty) {
        attrcache_put_listing(S.ac, path, empty, S.ttl);
        listing_unref(empty);
    }
    return 0;
}

struct empty_ctx {
    const char *marker;
    bool marker_seen, other;
};

static int empty_cb(void *ctx, const struct store_entry *e)
{
    struct empty_ctx *c = ctx;
    if (!e->is_prefix && !strcmp(e->key, c->marker)) {
        c->marker_seen = true;
        return 0;
    }
    c->other = true;
    return 1;
}

/* Is folder BUCKET/KEY empty (ENOTEMPTY if not)?  *MARKER says whether
 * its "key/" marker exists. */
static int folder_empty(const char *path, const char *bucket, const char *key,
                        bool *marker)
{
    char prefix[PATH_MAX];
    int rc = dir_prefix(prefix, sizeof prefix, key);
    if (rc)
        return rc;
    struct empty_ctx c = {prefix, false, false};
    rc = S.store->ops->list(S.store, bucket, prefix, "/", empty_cb, &c);
    if (rc)
        return rc;
    if (c.other || writers_under(path))
        return -ENOTEMPTY;
    *marker = c.marker_seen;
    return 0;
}

int fss3_rmdir(const char *path)
{
    char bucket[BUCKET_MAX];
    const char *key;
    int rc = object_path(path, bucket, &key);
    if (rc)
        return rc;
    bool marker = false;
    rc = folder_empty(path, bucket, key, &marker);
    if (rc)
        return rc;
    if (!marker) {
        /* A folder without a marker (made by another tool) ends with its
         * last object: `rm -r` of it is done. */
        emptied_recently(path, true);
        emptied_note(path);
        gluefs_object_changed(bucket, key);
        attrcache_drop_listing(S.ac, path);
        return 0;
    }
    char m[PATH_MAX];
    rc = dir_prefix(m, sizeof m, key);
    if (!rc)
        rc = S.store->ops->del(S.store, bucket, m);
    if (rc)
        return rc;
    emptied_recently(path, true);
    emptied_note(path);
    own_change(path, bucket, m, NULL);
    attrcache_drop_listing(S.ac, path);
    return 0;
}

struct keys_ctx {
    struct bucket_list bl; /* names are full keys */
};

static int keys_cb(void *ctx, const struct store_entry *e)
{
    struct keys_ctx *k = ctx;
    if (e->is_prefix)
        return 0;
    return push_entry(&k->bl, e->key, false, e->size, e->mtime, e->etag);
}

static uint64_t copy_limit = STORE_PUT_MAX;

void fss3_set_copy_limit(uint64_t bytes)
{
    copy_limit = bytes;
}

struct pipe_ctx {
    struct upload *u;
    uint64_t off;
};

static int pipe_cb(void *ctx, const void *data, size_t len)
{
    struct pipe_ctx *p = ctx;
    ssize_t n = upload_write(p->u, data, len, p->off);
    if (n < 0)
        return (int)n;
    p->off += len;
    return 0;
}

/* CopyObject stops at 5 GiB: larger objects are streamed through a GET
 * into a multipart upload (metadata kept). */
static int copy_big(const char *fb, const char *fk, const char *tb,
                    const char *tk, const struct store_head *h)
{
    log_info("copying 's3://%s/%s' (%llu bytes) through the mount", fb, fk,
             (unsigned long long)h->size);
    struct upload *u;
    int rc = upload_new_stream(S.store, S.upool, tb, tk, &S.up, &u);
    if (rc)
        return rc;
    upload_set_spill(u, false);
    bool any_meta = h->meta.has_mode || h->meta.has_uid || h->meta.has_gid ||
                    h->meta.has_mtime;
    upload_set_meta(u, any_meta ? &h->meta : NULL);
    struct pipe_ctx p = {u, 0};
    rc = S.store->ops->get(S.store, fb, fk, 0, UINT64_MAX, pipe_cb, &p);
    if (!rc && p.off != h->size)
        rc = -EIO; /* changed under us */
    if (!rc)
        rc = upload_flush(u, NULL, NULL);
    upload_free(u);
    return rc;
}

/* Copy BUCKET/KEY to TB/TK (metadata kept), then delete the source. */
static int move_object(const char *fb, const char *fk, const char *tb,
                       const char *tk)
{
    int rc = S.store->ops->copy(S.store, fb, fk, tb, tk, NULL);
    struct store_head h;
    if (rc && rc != -ENOENT && rc != -EACCES &&
        !S.store->ops->head(S.store, fb, fk, &h) && h.size > copy_limit)
        rc = copy_big(fb, fk, tb, tk, &h);
    if (rc) {
        log_err("cannot copy 's3://%s/%s' to 's3://%s/%s': %s", fb, fk, tb,
                tk, strerror(-rc));
        return rc;
    }
    gluefs_object_changed(tb, tk);
    rc = S.store->ops->del(S.store, fb, fk);
    if (rc) {
        log_err("cannot delete 's3://%s/%s' after copying it: %s", fb, fk,
                strerror(-rc));
        return rc;
    }
    gluefs_object_changed(fb, fk);
    return 0;
}

/* Objects of a folder rename, moved by pool threads, a few at a time. */
#define MOVES_IN_FLIGHT 8

struct move_batch {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const char *fb, *tb;
    unsigned inflight;
    size_t done;
    int err;
};

struct move_job {
    struct reader_job job; /* first: the pool hands us this */
    struct move_batch *b;
    const char *src;       /* owned by the caller's key list */
    char dst[];
};

static void move_run(struct reader_job *j)
{
    struct move_job *m = (struct move_job *)j;
    struct move_batch *b = m->b;
    pthread_mutex_lock(&b->lock);
    bool skip = b->err != 0;
    pthread_mutex_unlock(&b->lock);
    int rc = skip ? 0 : move_object(b->fb, m->src, b->tb, m->dst);
    pthread_mutex_lock(&b->lock);
    if (rc && !b->err)
        b->err = rc;
    if (!skip && !rc)
        b->done++;
    b->inflight--;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
    free(m);
}

static int rename_folder(const char *fb, const char *fk, const char *tb,
                         const char *tk)
{
    char fp[PATH_MAX], tp[PATH_MAX];
    int rc = dir_prefix(fp, sizeof fp, fk);
    if (!rc)
        rc = dir_prefix(tp, sizeof tp, tk);
    if (rc)
        return rc;
    size_t flen = strlen(fp);
    if (!strcmp(fb, tb) && !strncmp(tp, fp, flen))
        return -EINVAL; /* into itself */
    struct keys_ctx k = {{0}};
    rc = S.store->ops->list(S.store, fb, fp, NULL, keys_cb, &k);
    if (rc) {
        entries_release(&k.bl);
        return rc;
    }
    log_info("renaming folder 's3://%s/%s' to 's3://%s/%s': %zu objects "
             "(not atomic)", fb, fp, tb, tp, k.bl.n);
    struct move_batch b = {.fb = fb, .tb = tb};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    size_t tlen = strlen(tp), logged = 0;
    for (size_t i = 0; i < k.bl.n; i++) {
        const char *src = k.bl.e[i].name;
        size_t dlen = tlen + strlen(src + flen);
        struct move_job *m = dlen < PATH_MAX ? malloc(sizeof *m + dlen + 1)
                                             : NULL;
        pthread_mutex_lock(&b.lock);
        if (!m && !b.err)
            b.err = dlen < PATH_MAX ? -ENOMEM : -ENAMETOOLONG;
        while (b.inflight >= MOVES_IN_FLIGHT && !b.err)
            pthread_cond_wait(&b.cond, &b.lock);
        bool stop = b.err != 0;
        if (b.done >= logged + 1000) {
            logged = b.done;
            log_info("renaming 's3://%s/%s': %zu of %zu objects moved", fb,
                     fp, b.done, k.bl.n);
        }
        if (!stop)
            b.inflight++;
        pthread_mutex_unlock(&b.lock);
        if (stop) {
            free(m);
            break;
        }
        m->b = &b;
        m->src = src;
        memcpy(m->dst, tp, tlen);
        memcpy(m->dst + tlen, src + flen, dlen - tlen + 1);
        m->job.run = move_run;
        reader_pool_submit(S.upool, &m->job);
    }
    pthread_mutex_lock(&b.lock);
    while (b.inflight)
        pthread_cond_wait(&b.cond, &b.lock);
    rc = b.err;
    pthread_mutex_unlock(&b.lock);
    if (rc)
        log_err("renaming folder 's3://%s/%s' stopped after %zu of %zu "
                "objects: %s", fb, fp, b.done, k.bl.n, strerror(-rc));
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    entries_release(&k.bl);
    return rc;
}

int fss3_rename(const char *from, const char *to, unsigned int flags)
{
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL;
    char fb[BUCKET_MAX], tb[BUCKET_MAX];
    const char *fk, *tk;
    int rc = object_path(from, fb, &fk);
    if (!rc)
        rc = object_path(to, tb, &tk);
    if (rc)
        return rc;
    if (!strcmp(from, to))
        return 0;
    struct attr fa, ta;
    rc = lookup(from, &fa);
    if (rc)
        return rc;
    rc = lookup(to, &ta);
    bool target = rc == 0;
    if (rc && rc != -ENOENT)
        return rc;
    if (target && (flags & RENAME_NOREPLACE))
        return -EEXIST;
    if (fa.kind == ATTR_DIR) {
        if (target && ta.kind != ATTR_DIR)
            return -ENOTDIR;
        if (target) {
            bool marker = false;
            rc = folder_empty(to, tb, tk, &marker);
            if (rc)
                return rc;
            if (marker) {
                char m[PATH_MAX];
                rc = dir_prefix(m, sizeof m, tk);
                if (!rc)
                    rc = S.store->ops->del(S.store, tb, m);
                if (rc)
                    return rc;
            }
        }
        rc = rename_folder(fb, fk, tb, tk);
    } else {
        if (target && ta.kind == ATTR_DIR)
            return -EISDIR;
        rc = move_object(fb, fk, tb, tk);
    }
    attrcache_drop(S.ac, from);
    attrcache_drop(S.ac, to);
    return rc;
}

/* ---- metadata ---- */

enum meta_change { M_MODE, M_OWNER, M_MTIME };

static int set_meta(const char *path, enum meta_change what, mode_t mode,
                    uid_t uid, gid_t gid, int64_t mtime)
{
    char bucket[BUCKET_MAX];
    const char *key;
    int rc = object_path(path, bucket, &key);
    if (rc)
        return rc;
    /* A file being written: kept for its upload. */
    struct fss3_file *f = writer_lock(path);
    if (f) {
        struct store_meta *m = &f->meta;
        switch (what) {
        case M_MODE: m->has_mode = true; m->mode = S_IFREG | (mode & 07777); break;
        case M_OWNER:
            if (uid != (uid_t)-1) { m->has_uid = true; m->uid = uid; }
            if (gid != (gid_t)-1) { m->has_gid = true; m->gid = gid; }
            break;
        case M_MTIME:
            m->has_mtime = true;
            m->mtime = mtime;
            f->mtime_set = true;
            break;
        }
        bool pending = f->up && upload_dirty(f->up);
        if (pending)
            upload_set_meta(f->up, m);
        writer_unlock(f);
        if (pending)
            return 0;
        /* Already uploaded: change the object below. */
    }
    struct attr a;
    rc = lookup(path, &a);
    if (rc)
        return rc;
    if (a.kind == ATTR_DIR)
        return 0; /* folders keep no attributes (documented) */
    struct store_head h;
    rc = S.store->ops->head(S.store, bucket, key, &h);
    if (rc)
        return rc;
    struct store_meta m = h.meta;
    switch (what) {
    case M_MODE:
        m.has_mode = true;
        m.mode = S_IFREG | (mode & 07777);
        break;
    case M_OWNER:
        if (uid != (uid_t)-1) {
            m.has_uid = true;
            m.uid = uid;
        }
        if (gid != (gid_t)-1) {
            m.has_gid = true;
            m.gid = gid;
        }
        break;
    case M_MTIME:
        m.has_mtime = true;
        m.mtime = mtime;
        break;
    }
    if (!m.has_mtime) { /* keep what stat showed */
        m.has_mtime = true;
        m.mtime = h.mtime;
    }
    rc = S.store->ops->copy(S.store, bucket, key, bucket, key, &m);
    if (rc)
        return rc;
    gluefs_object_changed(bucket, key);
    memset(&a, 0, sizeof a);
    a.kind = ATTR_FILE;
    a.size = h.size;
    a.mtime = m.mtime;
    snprintf(a.etag, sizeof a.etag, "%s", h.etag);
    a.meta = m;
    attrcache_put(S.ac, path, &a, S.ttl, false);
    return 0;
}

int fss3_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    return set_meta(path, M_MODE, mode, 0, 0, 0);
}

int fss3_chown(const char *path, uid_t uid, gid_t gid,
               struct fuse_file_info *fi)
{
    (void)fi;
    if (uid == (uid_t)-1 && gid == (gid_t)-1)
        return 0;
    return set_meta(path, M_OWNER, 0, uid, gid, 0);
}

int fss3_utimens(const char *path, const struct timespec tv[2],
                 struct fuse_file_info *fi)
{
    (void)fi;
    int64_t mtime;
    if (!tv || tv[1].tv_nsec == UTIME_NOW)
        mtime = (int64_t)now_real();
    else if (tv[1].tv_nsec == UTIME_OMIT)
        return 0; /* atime is not stored */
    else
        mtime = (int64_t)tv[1].tv_sec;
    return set_meta(path, M_MTIME, 0, 0, 0, mtime);
}

int fss3_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    memset(st, 0, sizeof *st);
    st->f_bsize = 4096;
    st->f_frsize = 4096;
    st->f_blocks = 1ULL << 38; /* 1 PiB: object stores have no bound */
    st->f_bfree = st->f_blocks;
    st->f_bavail = st->f_blocks;
    st->f_files = 1ULL << 32;
    st->f_ffree = st->f_files;
    st->f_favail = st->f_files;
    st->f_namemax = NAME_MAX;
    return 0;
}

/* ---- invalidation ---- */

void fss3_invalidate(const char *bucket, const char *key)
{
    if (!S.ac || !bucket)
        return;
    __atomic_add_fetch(&S.gen, 1, __ATOMIC_ACQ_REL);
    char path[PATH_MAX];
    if (join_path(path, sizeof path, bucket, key ? key : ""))
        return;
    attrcache_drop(S.ac, path);
    attrcache_drop_listing(S.ac, path);
    /* Every parent folder: its listing, and its own attributes (a folder
     * may appear or vanish with this key). */
    size_t blen = strlen(bucket) + 1; /* "/bucket" */
    for (char *s = strrchr(path, '/'); s && (size_t)(s - path) >= blen;
         s = strrchr(path, '/')) {
        *s = '\0';
        attrcache_drop_listing(S.ac, path);
        if (strlen(path) > blen)
            attrcache_drop(S.ac, path);
    }
}
