/* writer_upload.c - streamed multipart uploads and staged writes; see
 * writer_upload.h
 *
 * A streamed file is cut into parts at fixed offsets (part N starts at
 * upload_part_offset(base, N)).  Part 1 is held in memory until
 * upload_flush(), so that rewriting the start of the file (a header
 * patched once the length is known) costs nothing; parts 2.. go up as
 * they fill.  Each part sent is also written into a ring file of
 * STREAM_KEEP_PARTS parts in cache_dir (overwritten in place, so it stays
 * small and its pages are rarely written back to disk): writes, reads and
 * truncates that reach back into the parts it holds patch it and mark
 * those parts to be sent again.  Further back than that a streamed file
 * cannot be changed (EIO; documented). */
#include "writer_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "reader.h"

#define STREAM_KEEP_PARTS 16 /* parts of base size kept in the ring file */
#define PBUF_HDR 64          /* bytes before a part buffer: its mapping size */

struct part_job {
    struct reader_job job; /* first: the pool hands us this */
    struct upload *u;
    int number;
    char *data;            /* owned (streaming) or NULL (read from u->fd) */
    size_t len;
    uint64_t off;
};

struct upload {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct store *store;
    struct reader_pool *pool;
    char *bucket, *key;
    struct upload_params p;
    struct store_meta meta;        /* for the object */
    bool has_meta;
    struct store_meta create_meta; /* the multipart upload was created with */
    bool create_has_meta;

    uint64_t size;
    bool dirty;
    int err;                       /* sticky */

    /* streaming */
    bool streaming;
    bool stream_done;              /* a multipart stream was completed: the
                                      content is now only in the store */
    char *head;                    /* part 1 once full, held until flush */
    size_t head_len;
    char *buf;                     /* part CUR being filled, or NULL */
    size_t buf_cap, buf_len;
    int cur;                       /* number of the part being filled */
    uint64_t buf_off;              /* file offset of part CUR */
    int ring_fd;                   /* copy of recent parts sent, or -1 */
    uint64_t ring_cap;             /* bytes; 0: keep no copy */
    int ring_first;                /* parts ring_first..cur-1 are in the ring
                                      (none when ring_first >= cur) */
    unsigned char *redo;           /* per part: patched after it was sent */
    int redo_cap;
    bool any_redo;

    int fd;                        /* staged content, or -1 */
    char *spare[64];               /* part buffers kept for reuse */
    unsigned nspare;

    char *upload_id;               /* multipart upload in progress */
    struct store_part *parts;      /* by part number - 1 */
    int nparts;                    /* parts to complete: 1..nparts */
    int parts_cap;
    unsigned inflight;
    int part_err;
};

uint64_t upload_part_size(uint64_t base, int n)
{
    if (base < STORE_PART_MIN)
        base = STORE_PART_MIN;
    int shift = n > 0 ? (n - 1) / 1000 : 0;
    uint64_t s = base << shift;
    return s > STORE_PART_MAX ? STORE_PART_MAX : s;
}

uint64_t upload_part_offset(uint64_t base, int n)
{
    uint64_t off = 0;
    for (int first = 1; first < n; first += 1000) {
        int count = n - first < 1000 ? n - first : 1000;
        off += (uint64_t)count * upload_part_size(base, first);
    }
    return off;
}

/* The number of the part holding file offset OFF. */
static int part_at(uint64_t base, uint64_t off)
{
    int n = 1;
    for (;;) {
        uint64_t ps = upload_part_size(base, n);
        uint64_t block = 1000 * ps; /* parts n..n+999 share a size */
        if (off < block || n + 1000 > STORE_PARTS_MAX)
            return n + (int)(off / ps);
        off -= block;
        n += 1000;
    }
}

/* Part buffers are mapped, not malloc'd: a freed one goes back to the
 * system at once (malloc kept freed 8 MiB blocks in its arenas: 95 MB of
 * RSS after a 100 MiB copy), so the daemon's memory is what is in use. */
static char *pbuf_alloc(size_t cap)
{
    void *m = mmap(NULL, cap + PBUF_HDR, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    *(size_t *)m = cap + PBUF_HDR;
    return (char *)m + PBUF_HDR;
}

static void pbuf_free(char *p)
{
    if (!p)
        return;
    char *m = p - PBUF_HDR;
    munmap(m, *(size_t *)m);
}

static size_t pbuf_cap(const char *p)
{
    return *(const size_t *)(p - PBUF_HDR) - PBUF_HDR;
}

/* A buffer of at least CAP bytes: a spare one, else a new one (u->lock
 * held). */
static char *pbuf_get(struct upload *u, size_t cap)
{
    while (u->nspare) {
        char *p = u->spare[--u->nspare];
        if (pbuf_cap(p) >= cap)
            return p;
        pbuf_free(p);
    }
    return pbuf_alloc(cap);
}

/* Give back P: kept while the buffers in flight and kept stay within
 * parts_in_flight, else unmapped (u->lock held). */
static void pbuf_put(struct upload *u, char *p)
{
    if (!p)
        return;
    if (u->inflight + u->nspare < u->p.parts_in_flight &&
        u->nspare < sizeof u->spare / sizeof u->spare[0])
        u->spare[u->nspare++] = p;
    else
        pbuf_free(p);
}

static int mkdirs(const char *dir)
{
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s", dir);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST)
        return -errno;
    return 0;
}

/* An unlinked 0600 temp file in the cache folder. */
static int make_temp(const char *dir, int *out)
{
    *out = -1;
    if (!dir || !*dir)
        dir = "/tmp";
    int rc = mkdirs(dir);
    if (rc) {
        log_err("cannot create the cache folder '%s': %s", dir,
                strerror(-rc));
        return rc;
    }
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        char path[PATH_MAX];
        int n = snprintf(path, sizeof path, "%s/gluefs-XXXXXX", dir);
        if (n < 0 || (size_t)n >= sizeof path)
            return -ENAMETOOLONG;
        fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
            rc = -errno;
            log_err("cannot create a staging file in '%s': %s", dir,
                    strerror(-rc));
            return rc;
        }
        fchmod(fd, 0600);
        unlink(path);
    }
    *out = fd;
    return 0;
}

static int pwrite_all(int fd, const char *data, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, data, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        data += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int pread_all(int fd, char *data, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pread(fd, data, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) { /* past the end: zeros, as a sparse file reads */
            memset(data, 0, len);
            return 0;
        }
        data += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static struct upload *upload_alloc(struct store *s, struct reader_pool *pool,
                                   const char *bucket, const char *key,
                                   const struct upload_params *p)
{
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->bucket = strdup(bucket);
    u->key = strdup(key);
    if (!u->bucket || !u->key) {
        free(u->bucket);
        free(u->key);
        free(u);
        return NULL;
    }
    pthread_mutex_init(&u->lock, NULL);
    pthread_cond_init(&u->cond, NULL);
    u->store = s;
    u->pool = pool;
    u->p = *p;
    if (u->p.part_size < STORE_PART_MIN)
        u->p.part_size = STORE_PART_MIN;
    if (!u->p.parts_in_flight)
        u->p.parts_in_flight = 1;
    u->fd = -1;
    u->ring_fd = -1;
    u->ring_cap = STREAM_KEEP_PARTS * u->p.part_size;
    u->cur = 1;
    u->ring_first = 2;
    return u;
}

int upload_new_stream(struct store *s, struct reader_pool *pool,
                      const char *bucket, const char *key,
                      const struct upload_params *p, struct upload **out)
{
    *out = NULL;
    struct upload *u = upload_alloc(s, pool, bucket, key, p);
    if (!u)
        return -ENOMEM;
    u->streaming = true;
    u->dirty = true;
    *out = u;
    return 0;
}

struct load_ctx {
    int fd;
    uint64_t off;
};

static int load_cb(void *ctx, const void *data, size_t len)
{
    struct load_ctx *l = ctx;
    int rc = pwrite_all(l->fd, data, len, l->off);
    l->off += len;
    return rc;
}

/* Download BUCKET/KEY into the new staging file *FD; *SIZE is updated to
 * what the object holds. */
static int stage_download(struct upload *u, uint64_t *size)
{
    int rc = make_temp(u->p.cache_dir, &u->fd);
    if (!rc && *size) {
        struct load_ctx l = {u->fd, 0};
        rc = u->store->ops->get(u->store, u->bucket, u->key, 0, UINT64_MAX,
                                load_cb, &l);
        if (rc)
            log_warn("cannot stage 's3://%s/%s': %s", u->bucket, u->key,
                     strerror(-rc));
        else
            *size = l.off;
    }
    return rc;
}

int upload_new_staged(struct store *s, struct reader_pool *pool,
                      const char *bucket, const char *key, uint64_t size,
                      const struct upload_params *p, struct upload **out)
{
    *out = NULL;
    struct upload *u = upload_alloc(s, pool, bucket, key, p);
    if (!u)
        return -ENOMEM;
    int rc = stage_download(u, &size);
    if (rc) {
        upload_free(u);
        return rc;
    }
    u->size = size;
    *out = u;
    return 0;
}

void upload_set_meta(struct upload *u, const struct store_meta *meta)
{
    pthread_mutex_lock(&u->lock);
    u->has_meta = meta != NULL;
    if (meta)
        u->meta = *meta;
    pthread_mutex_unlock(&u->lock);
}

void upload_set_spill(struct upload *u, bool keep)
{
    pthread_mutex_lock(&u->lock);
    if (u->cur <= 2)
        u->ring_cap = keep ? STREAM_KEEP_PARTS * u->p.part_size : 0;
    pthread_mutex_unlock(&u->lock);
}

/* ---- multipart ---- */

static void part_run(struct reader_job *j)
{
    struct part_job *pj = (struct part_job *)j;
    struct upload *u = pj->u;
    int rc = 0;
    char *data = pj->data;
    if (!data) {
        pthread_mutex_lock(&u->lock);
        data = pbuf_get(u, pj->len);
        pthread_mutex_unlock(&u->lock);
        rc = data ? pread_all(u->fd, data, pj->len, pj->off) : -ENOMEM;
    }
    pthread_mutex_lock(&u->lock);
    if (!rc && u->part_err)
        rc = -ECANCELED; /* another part failed: do not bother */
    pthread_mutex_unlock(&u->lock);
    struct store_part out;
    memset(&out, 0, sizeof out);
    if (!rc)
        rc = u->store->ops->mpu_part(u->store, u->bucket, u->key,
                                     u->upload_id, pj->number, data, pj->len,
                                     &out);
    pthread_mutex_lock(&u->lock);
    u->inflight--;
    pbuf_put(u, data);
    if (rc) {
        if (!u->part_err)
            u->part_err = rc;
        if (rc != -ECANCELED)
            log_err("cannot upload part %d of 's3://%s/%s': %s", pj->number,
                    u->bucket, u->key, strerror(-rc));
    } else {
        out.number = pj->number;
        u->parts[pj->number - 1] = out;
    }
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
    free(pj);
}

static void wait_idle(struct upload *u)
{
    while (u->inflight)
        pthread_cond_wait(&u->cond, &u->lock);
}

static int mpu_start(struct upload *u)
{
    if (u->upload_id)
        return 0;
    const struct store_meta *m = u->has_meta ? &u->meta : NULL;
    int rc = u->store->ops->mpu_create(u->store, u->bucket, u->key, m,
                                       &u->upload_id);
    if (rc) {
        log_err("cannot start an upload of 's3://%s/%s': %s", u->bucket,
                u->key, strerror(-rc));
        return rc;
    }
    u->create_meta = u->meta;
    u->create_has_meta = u->has_meta;
    u->nparts = 0;
    u->part_err = 0;
    return 0;
}

/* Room for part NUMBER in u->parts and u->redo. */
static int parts_room(struct upload *u, int number)
{
    if (number > STORE_PARTS_MAX)
        return -EFBIG;
    if (number > u->parts_cap) {
        int cap = u->parts_cap ? u->parts_cap : 16;
        while (cap < number)
            cap *= 2;
        if (cap > STORE_PARTS_MAX)
            cap = STORE_PARTS_MAX;
        struct store_part *np = realloc(u->parts, (size_t)cap * sizeof *np);
        if (!np)
            return -ENOMEM;
        u->parts = np;
        u->parts_cap = cap;
    }
    if (number > u->redo_cap) {
        int cap = u->parts_cap;
        unsigned char *nr = realloc(u->redo, (size_t)cap);
        if (!nr)
            return -ENOMEM;
        memset(nr + u->redo_cap, 0, (size_t)(cap - u->redo_cap));
        u->redo = nr;
        u->redo_cap = cap;
    }
    return 0;
}

/* Queue part NUMBER: DATA (owned, or NULL to read from u->fd) of LEN
 * bytes at OFF.  Blocks while parts_in_flight are in flight (u->lock
 * held). */
static int mpu_queue(struct upload *u, int number, char *data, size_t len,
                     uint64_t off)
{
    while (u->inflight >= u->p.parts_in_flight && !u->part_err)
        pthread_cond_wait(&u->cond, &u->lock);
    int rc = u->part_err;
    if (!rc)
        rc = parts_room(u, number);
    struct part_job *pj = rc ? NULL : calloc(1, sizeof *pj);
    if (!rc && !pj)
        rc = -ENOMEM;
    if (rc) {
        pbuf_put(u, data);
        return rc;
    }
    pj->job.run = part_run;
    pj->u = u;
    pj->number = number;
    pj->data = data;
    pj->len = len;
    pj->off = off;
    memset(&u->parts[number - 1], 0, sizeof u->parts[0]);
    u->inflight++;
    reader_pool_submit(u->pool, &pj->job);
    return 0;
}

static bool meta_equal(bool ha, const struct store_meta *a, bool hb,
                       const struct store_meta *b)
{
    if (ha != hb)
        return false;
    if (!ha)
        return true;
    return a->has_mode == b->has_mode && a->has_uid == b->has_uid &&
           a->has_gid == b->has_gid && a->has_mtime == b->has_mtime &&
           (!a->has_mode || a->mode == b->mode) &&
           (!a->has_uid || a->uid == b->uid) &&
           (!a->has_gid || a->gid == b->gid) &&
           (!a->has_mtime || a->mtime == b->mtime);
}

/* Wait for the parts, complete the upload of parts 1..u->nparts (or
 * abort it on error). */
static int mpu_finish(struct upload *u)
{
    wait_idle(u);
    int rc = u->part_err;
    if (!rc)
        rc = u->store->ops->mpu_complete(u->store, u->bucket, u->key,
                                         u->upload_id, u->parts, u->nparts);
    if (rc) {
        if (!u->part_err)
            log_err("cannot complete the upload of 's3://%s/%s': %s",
                    u->bucket, u->key, strerror(-rc));
        u->store->ops->mpu_abort(u->store, u->bucket, u->key, u->upload_id);
    } else if (!meta_equal(u->has_meta, &u->meta, u->create_has_meta,
                           &u->create_meta) && u->has_meta) {
        /* chmod/touch while the upload ran: set the final metadata. */
        int crc = u->store->ops->copy(u->store, u->bucket, u->key, u->bucket,
                                      u->key, &u->meta);
        if (crc)
            log_warn("cannot set the metadata of 's3://%s/%s': %s",
                     u->bucket, u->key, strerror(-crc));
    }
    free(u->upload_id);
    u->upload_id = NULL;
    u->nparts = 0;
    u->part_err = 0;
    return rc;
}

static void mpu_cancel(struct upload *u)
{
    if (!u->upload_id)
        return;
    if (!u->part_err)
        u->part_err = -ECANCELED;
    wait_idle(u);
    u->store->ops->mpu_abort(u->store, u->bucket, u->key, u->upload_id);
    free(u->upload_id);
    u->upload_id = NULL;
    u->nparts = 0;
    u->part_err = 0;
}

/* ---- streaming: part 1 held, the ring of recent parts ---- */

static uint64_t part_off(const struct upload *u, int n)
{
    return upload_part_offset(u->p.part_size, n);
}

static size_t part_len(const struct upload *u, int n)
{
    return (size_t)upload_part_size(u->p.part_size, n);
}

/* Bytes [OFF, OFF+LEN) of the file in the ring (position OFF modulo
 * ring_cap, wrapping). */
static int ring_io(struct upload *u, char *data, size_t len, uint64_t off,
                   bool write)
{
    while (len) {
        uint64_t pos = off % u->ring_cap;
        size_t n = u->ring_cap - pos < len ? (size_t)(u->ring_cap - pos) : len;
        int rc = write ? pwrite_all(u->ring_fd, data, n, pos)
                       : pread_all(u->ring_fd, data, n, pos);
        if (rc)
            return rc;
        data += n;
        len -= n;
        off += n;
    }
    return 0;
}

static bool in_ring(const struct upload *u, uint64_t pos)
{
    return u->ring_fd >= 0 && u->ring_first < u->cur &&
           pos >= part_off(u, u->ring_first) && pos < u->buf_off;
}

/* Send part N again from the ring (it was patched after it went up). */
static int redo_part(struct upload *u, int n)
{
    wait_idle(u); /* its first upload must not land after this one */
    if (u->part_err)
        return u->part_err;
    size_t len = part_len(u, n);
    uint64_t off = part_off(u, n);
    char *data = pbuf_get(u, len);
    if (!data)
        return -ENOMEM;
    int rc = ring_io(u, data, len, off, false);
    if (rc) {
        pbuf_put(u, data);
        return rc;
    }
    u->redo[n - 1] = 0;
    return mpu_queue(u, n, data, len, off);
}

/* Send again every patched part numbered below LIMIT. */
static int redo_below(struct upload *u, int limit)
{
    if (!u->any_redo)
        return 0;
    bool left = false;
    for (int n = 2; n < u->cur && n <= u->redo_cap; n++) {
        if (!u->redo[n - 1])
            continue;
        if (n >= limit) {
            left = true;
            continue;
        }
        int rc = redo_part(u, n);
        if (rc)
            return rc;
    }
    u->any_redo = left;
    return 0;
}

/* Keep part N (DATA, LEN bytes at OFF) in the ring, making room by
 * dropping the oldest parts (patched ones are sent again first).  A ring
 * that cannot be written is given up (logged): the stream goes on. */
static int ring_keep(struct upload *u, int n, const char *data, size_t len,
                     uint64_t off)
{
    int first = u->ring_first < n ? u->ring_first : n;
    while (first <= n && off + len - part_off(u, first) > u->ring_cap)
        first++;
    int rc = redo_below(u, first);
    if (rc)
        return rc;
    if (first <= n && u->ring_fd < 0 &&
        make_temp(u->p.cache_dir, &u->ring_fd)) {
        u->ring_cap = 0; /* logged by make_temp */
        first = n + 1;
    }
    if (first <= n) {
        rc = ring_io(u, (char *)data, len, off, true);
        if (rc) {
            log_warn("cannot keep parts of 's3://%s/%s' in the cache "
                     "folder: %s", u->bucket, u->key, strerror(-rc));
            u->ring_cap = 0;
            first = n + 1;
        }
    }
    u->ring_first = first;
    return 0;
}

/* Send the buffer as part CUR (u->lock held) and start part CUR + 1.
 * KEEP: copy it into the ring first. */
static int stream_send(struct upload *u, bool keep)
{
    int rc = mpu_start(u);
    if (!rc)
        rc = parts_room(u, u->cur);
    if (!rc && keep && u->ring_cap)
        rc = ring_keep(u, u->cur, u->buf, u->buf_len, u->buf_off);
    else if (!rc && keep)
        rc = redo_below(u, u->cur + 1);
    if (rc)
        return rc;
    int n = u->cur;
    char *data = u->buf;
    size_t len = u->buf_len;
    uint64_t off = u->buf_off;
    u->buf = NULL;
    u->buf_len = u->buf_cap = 0;
    u->cur = n + 1;
    u->buf_off = off + len;
    u->redo[n - 1] = 0;
    return mpu_queue(u, n, data, len, off);
}

/* Write DATA at POS inside the part being filled (buf_off <= POS <=
 * size).  Returns the bytes taken or -errno. */
static ssize_t stream_fill(struct upload *u, const char *data, size_t len,
                           uint64_t pos)
{
    if (!u->buf) {
        size_t cap = part_len(u, u->cur);
        u->buf = pbuf_get(u, cap);
        if (!u->buf)
            return -ENOMEM;
        u->buf_cap = cap;
        u->buf_len = (size_t)(u->size - u->buf_off);
    }
    size_t in = (size_t)(pos - u->buf_off);
    size_t n = u->buf_cap - in < len ? u->buf_cap - in : len;
    memcpy(u->buf + in, data, n);
    if (pos + n > u->size)
        u->size = pos + n;
    u->buf_len = (size_t)(u->size - u->buf_off);
    if (u->buf_len < u->buf_cap)
        return (ssize_t)n;
    int rc = 0;
    if (u->cur == 1) { /* part 1 waits for the flush */
        u->head = u->buf;
        u->head_len = u->buf_len;
        u->buf = NULL;
        u->buf_len = u->buf_cap = 0;
        u->cur = 2;
        u->buf_off = u->head_len;
    } else {
        rc = stream_send(u, true);
    }
    return rc ? rc : (ssize_t)n;
}

static int too_far_back(struct upload *u, uint64_t pos)
{
    log_err("cannot change 's3://%s/%s' at byte %llu while it is written: "
            "a new file keeps only its first part and its last %d parts "
            "(part_size) until it is closed", u->bucket, u->key,
            (unsigned long long)pos, STREAM_KEEP_PARTS);
    return -EIO;
}

/* Write DATA at POS behind the part being filled: in part 1 (memory) or
 * in the ring (the parts touched go up again).  Bytes taken or -errno. */
static ssize_t stream_patch(struct upload *u, const char *data, size_t len,
                            uint64_t pos)
{
    size_t n;
    if (u->head && pos < u->head_len) {
        n = u->head_len - pos < len ? (size_t)(u->head_len - pos) : len;
        memcpy(u->head + pos, data, n);
        return (ssize_t)n;
    }
    if (!in_ring(u, pos))
        return too_far_back(u, pos);
    n = u->buf_off - pos < len ? (size_t)(u->buf_off - pos) : len;
    int rc = ring_io(u, (char *)data, n, pos, true);
    if (rc)
        return rc;
    int last = part_at(u->p.part_size, pos + n - 1);
    for (int k = part_at(u->p.part_size, pos); k <= last; k++)
        u->redo[k - 1] = 1;
    u->any_redo = true;
    return (ssize_t)n;
}

/* Zeros from the current end up to SIZE, through the stream. */
static int stream_zero_fill(struct upload *u, uint64_t size)
{
    static const char zeros[64 << 10];
    while (u->size < size) {
        size_t n = size - u->size < sizeof zeros ? (size_t)(size - u->size)
                                                 : sizeof zeros;
        ssize_t k = stream_fill(u, zeros, n, u->size);
        if (k < 0)
            return (int)k;
    }
    return 0;
}

/* Cut a stream back to S < buf_off: the part holding S becomes the part
 * being filled again (from part 1 or the ring); later parts are dropped
 * from the upload and sent again when rewritten. */
static int stream_rewind(struct upload *u, uint64_t s)
{
    wait_idle(u);
    if (u->part_err)
        return u->part_err;
    int p = part_at(u->p.part_size, s);
    uint64_t po = part_off(u, p);
    size_t cap = part_len(u, p);
    char *nb = NULL;
    if (p == 1) {
        nb = u->head;
        u->head = NULL;
        u->head_len = 0;
    } else if (po != s) {
        if (!in_ring(u, po))
            return too_far_back(u, s);
        nb = pbuf_get(u, cap);
        if (!nb)
            return -ENOMEM;
        int rc = ring_io(u, nb, (size_t)(s - po), po, false);
        if (rc) {
            pbuf_put(u, nb);
            return rc;
        }
    }
    pbuf_put(u, u->buf);
    u->buf = nb;
    u->buf_cap = nb ? cap : 0;
    u->buf_len = nb ? (size_t)(s - po) : 0;
    u->cur = p;
    u->buf_off = po;
    u->size = s;
    if (p == 1 || u->ring_first > p)
        u->ring_first = p < 2 ? 2 : p;
    if (p - 1 < u->redo_cap)
        memset(u->redo + p - 1, 0, (size_t)(u->redo_cap - (p - 1)));
    return 0;
}

static void stream_release(struct upload *u)
{
    pbuf_free(u->head);
    pbuf_free(u->buf);
    u->head = u->buf = NULL;
    while (u->nspare)
        pbuf_free(u->spare[--u->nspare]);
    u->head_len = u->buf_len = u->buf_cap = 0;
    if (u->ring_fd >= 0)
        close(u->ring_fd);
    u->ring_fd = -1;
}

/* Leave streaming (u->lock held): the content goes to a staging file,
 * from memory while nothing went up, or downloaded once a multipart
 * stream was completed. */
static int to_staged(struct upload *u)
{
    if (!u->streaming)
        return 0;
    wait_idle(u);
    int rc;
    if (u->stream_done) {
        uint64_t size = u->size;
        rc = stage_download(u, &size);
        if (!rc && size != u->size) {
            log_err("cannot rewrite 's3://%s/%s': it changed in the store "
                    "since it was written", u->bucket, u->key);
            rc = -EIO;
        }
    } else if (u->cur == 1) {
        rc = make_temp(u->p.cache_dir, &u->fd);
        if (!rc && u->buf_len)
            rc = pwrite_all(u->fd, u->buf, u->buf_len, 0);
        if (!rc && ftruncate(u->fd, (off_t)u->size))
            rc = -errno;
        if (!rc)
            mpu_cancel(u); /* rewound to part 1: nothing of it is used */
    } else {
        rc = too_far_back(u, 0);
    }
    if (rc) {
        if (u->fd >= 0)
            close(u->fd);
        u->fd = -1;
        return rc;
    }
    stream_release(u);
    u->streaming = false;
    return 0;
}

ssize_t upload_write(struct upload *u, const char *data, size_t len,
                     uint64_t off)
{
    pthread_mutex_lock(&u->lock);
    if (!u->err && u->part_err)
        u->err = u->part_err; /* a part failed: the content is lost */
    int rc = u->err;
    size_t done = 0;
    while (!rc && done < len) {
        uint64_t pos = off + done;
        if (u->streaming &&
            (u->stream_done || (pos > u->size && u->cur == 1))) {
            rc = to_staged(u);
            if (rc)
                break;
        }
        if (!u->streaming) {
            rc = pwrite_all(u->fd, data + done, len - done, pos);
            if (!rc) {
                if (off + len > u->size)
                    u->size = off + len;
                u->dirty = true;
                done = len;
            }
            break;
        }
        ssize_t n;
        if (pos > u->size) {
            rc = stream_zero_fill(u, pos);
            continue;
        }
        if (pos >= u->buf_off)
            n = stream_fill(u, data + done, len - done, pos);
        else
            n = stream_patch(u, data + done, len - done, pos);
        if (n < 0)
            rc = (int)n;
        else
            done += (size_t)n;
        u->dirty = true;
    }
    if (rc && rc != -ENOMEM)
        u->err = rc; /* never upload content that missed a write */
    pthread_mutex_unlock(&u->lock);
    return rc ? rc : (ssize_t)len;
}

ssize_t upload_read(struct upload *u, char *buf, size_t len, uint64_t off)
{
    pthread_mutex_lock(&u->lock);
    ssize_t ret = 0;
    int rc = 0;
    if (off >= u->size || !len)
        goto out;
    if (len > u->size - off)
        len = (size_t)(u->size - off);
    if (u->streaming && u->stream_done)
        rc = to_staged(u);
    if (!rc && !u->streaming)
        rc = pread_all(u->fd, buf, len, off);
    for (size_t done = 0; !rc && u->streaming && done < len;) {
        uint64_t pos = off + done;
        size_t n = len - done;
        if (pos >= u->buf_off) {
            memcpy(buf + done, u->buf + (pos - u->buf_off), n);
        } else if (u->head && pos < u->head_len) {
            if (n > u->head_len - pos)
                n = (size_t)(u->head_len - pos);
            memcpy(buf + done, u->head + pos, n);
        } else if (in_ring(u, pos)) {
            if (n > u->buf_off - pos)
                n = (size_t)(u->buf_off - pos);
            rc = ring_io(u, buf + done, n, pos, false);
        } else {
            rc = too_far_back(u, pos);
        }
        done += n;
    }
    ret = rc ? rc : (ssize_t)len;
out:
    pthread_mutex_unlock(&u->lock);
    return ret;
}

int upload_truncate(struct upload *u, uint64_t size)
{
    pthread_mutex_lock(&u->lock);
    int rc = u->err;
    if (rc || size == u->size)
        goto out;
    if (u->streaming && u->stream_done)
        rc = to_staged(u);
    else if (u->streaming && size >= u->buf_off &&
             size - u->buf_off < part_len(u, u->cur)) {
        /* inside the part being filled */
        if (!u->buf) {
            u->buf_cap = part_len(u, u->cur);
            u->buf = pbuf_get(u, u->buf_cap);
            if (!u->buf) {
                u->buf_cap = 0;
                rc = -ENOMEM;
                goto out;
            }
        }
        if (size > u->size)
            memset(u->buf + (u->size - u->buf_off), 0,
                   (size_t)(size - u->size));
        u->size = size;
        u->buf_len = (size_t)(size - u->buf_off);
        u->dirty = true;
        goto out;
    } else if (u->streaming && u->cur == 1) {
        rc = to_staged(u); /* nothing went up: a sparse staging file */
    } else if (u->streaming) {
        rc = size > u->size ? stream_zero_fill(u, size)
                            : stream_rewind(u, size);
        if (!rc)
            u->dirty = true;
        else if (rc != -ENOMEM)
            u->err = rc;
        goto out;
    }
    if (!rc && ftruncate(u->fd, (off_t)size))
        rc = -errno;
    if (!rc) {
        u->size = size;
        u->dirty = true;
    } else if (rc != -ENOMEM) {
        u->err = rc;
    }
out:
    pthread_mutex_unlock(&u->lock);
    return rc;
}

uint64_t upload_size(struct upload *u)
{
    pthread_mutex_lock(&u->lock);
    uint64_t s = u->size;
    pthread_mutex_unlock(&u->lock);
    return s;
}

bool upload_dirty(struct upload *u)
{
    pthread_mutex_lock(&u->lock);
    bool d = u->dirty;
    pthread_mutex_unlock(&u->lock);
    return d;
}

bool upload_streaming(struct upload *u)
{
    pthread_mutex_lock(&u->lock);
    bool s = u->streaming;
    pthread_mutex_unlock(&u->lock);
    return s;
}

static int flush_stream(struct upload *u)
{
    const struct store_meta *m = u->has_meta ? &u->meta : NULL;
    if (u->cur == 1) {
        /* Smaller than a part: one PUT from memory. */
        mpu_cancel(u); /* a stream cut back to part 1 */
        return u->store->ops->put(u->store, u->bucket, u->key,
                                  u->buf ? u->buf : "", u->buf_len, m);
    }
    int rc = mpu_start(u);
    if (!rc)
        rc = redo_below(u, u->cur);
    int last = u->cur - 1;
    if (!rc && u->buf_len) {
        last = u->cur;
        rc = stream_send(u, false);
    }
    if (!rc && u->head) {
        rc = mpu_queue(u, 1, u->head, u->head_len, 0);
        u->head = NULL;
    }
    if (rc) {
        mpu_cancel(u);
        return rc;
    }
    u->nparts = last;
    rc = mpu_finish(u);
    u->stream_done = true; /* the content now lives only in the store */
    stream_release(u);
    return rc;
}

static int flush_staged(struct upload *u)
{
    const struct store_meta *m = u->has_meta ? &u->meta : NULL;
    if (u->size <= u->p.part_size) {
        char *data = pbuf_alloc(u->size ? (size_t)u->size : 1);
        if (!data)
            return -ENOMEM;
        int rc = pread_all(u->fd, data, (size_t)u->size, 0);
        if (!rc)
            rc = u->store->ops->put(u->store, u->bucket, u->key, data,
                                    (size_t)u->size, m);
        pbuf_free(data);
        return rc;
    }
    int rc = mpu_start(u);
    if (rc)
        return rc;
    int n = 0;
    for (uint64_t off = 0; off < u->size && !rc;) {
        uint64_t len = upload_part_size(u->p.part_size, n + 1);
        if (len > u->size - off)
            len = u->size - off;
        rc = mpu_queue(u, ++n, NULL, (size_t)len, off);
        off += len;
    }
    if (rc) {
        mpu_cancel(u);
        return rc;
    }
    u->nparts = n;
    return mpu_finish(u);
}

int upload_flush(struct upload *u, const struct store_meta *meta,
                 bool *uploaded)
{
    if (uploaded)
        *uploaded = false;
    pthread_mutex_lock(&u->lock);
    if (!u->err && u->part_err)
        u->err = u->part_err;
    int rc = u->err;
    if (!rc && meta) {
        u->meta = *meta;
        u->has_meta = true;
    }
    if (rc || !u->dirty)
        goto out;
    rc = u->streaming ? flush_stream(u) : flush_staged(u);
    if (rc) {
        log_err("cannot write 's3://%s/%s': %s", u->bucket, u->key,
                strerror(-rc));
        u->err = rc;
        goto out;
    }
    u->dirty = false;
    if (uploaded)
        *uploaded = true;
out:
    if (rc && u->upload_id)
        mpu_cancel(u);
    pthread_mutex_unlock(&u->lock);
    return rc;
}

void upload_free(struct upload *u)
{
    if (!u)
        return;
    pthread_mutex_lock(&u->lock);
    mpu_cancel(u);
    wait_idle(u);
    pthread_mutex_unlock(&u->lock);
    if (u->fd >= 0)
        close(u->fd);
    stream_release(u);
    free(u->parts);
    free(u->redo);
    free(u->bucket);
    free(u->key);
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->lock);
    free(u);
}
