/* writer_upload.c - streamed multipart uploads and staged writes; see
 * writer_upload.h */
#include "writer_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "reader.h"

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

    bool streaming;
    bool stream_done;              /* a multipart stream was completed */
    char *buf;                     /* the part being filled, or NULL */
    size_t buf_cap, buf_len;
    uint64_t buf_off;              /* file offset of buf[0] */
    bool sent_parts;
    int spill_fd;                  /* copy of the parts sent, or -1 */
    bool spill_ok;

    int fd;                        /* staged content, or -1 */

    char *upload_id;               /* multipart upload in progress */
    struct store_part *parts;
    int nparts, parts_cap;
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
    u->spill_fd = -1;
    u->spill_ok = true;
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

int upload_new_staged(struct store *s, struct reader_pool *pool,
                      const char *bucket, const char *key, uint64_t size,
                      const struct upload_params *p, struct upload **out)
{
    *out = NULL;
    struct upload *u = upload_alloc(s, pool, bucket, key, p);
    if (!u)
        return -ENOMEM;
    int rc = make_temp(p->cache_dir, &u->fd);
    if (!rc && size) {
        struct load_ctx l = {u->fd, 0};
        rc = s->ops->get(s, bucket, key, 0, UINT64_MAX, load_cb, &l);
        if (rc)
            log_warn("cannot stage 's3://%s/%s': %s", bucket, key,
                     strerror(-rc));
        else
            size = l.off; /* what the object holds now */
    }
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
    if (!u->sent_parts)
        u->spill_ok = keep;
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
        data = malloc(pj->len);
        rc = data ? pread_all(u->fd, data, pj->len, pj->off) : -ENOMEM;
    } else if (u->spill_fd >= 0) {
        int wr = pwrite_all(u->spill_fd, data, pj->len, pj->off);
        if (wr) {
            log_warn("cannot keep a copy of 's3://%s/%s' in the cache "
                     "folder: %s", u->bucket, u->key, strerror(-wr));
            pthread_mutex_lock(&u->lock);
            u->spill_ok = false;
            pthread_mutex_unlock(&u->lock);
        }
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
    free(data);
    pthread_mutex_lock(&u->lock);
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
    u->inflight--;
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

/* Queue one part: DATA (owned, or NULL to read from u->fd) of LEN bytes
 * at OFF.  Blocks while parts_in_flight are in flight (u->lock held). */
static int mpu_queue(struct upload *u, char *data, size_t len, uint64_t off)
{
    while (u->inflight >= u->p.parts_in_flight && !u->part_err)
        pthread_cond_wait(&u->cond, &u->lock);
    if (u->part_err) {
        free(data);
        return u->part_err;
    }
    if (u->nparts >= STORE_PARTS_MAX) {
        free(data);
        return -EFBIG;
    }
    if (u->nparts == u->parts_cap) {
        int cap = u->parts_cap ? u->parts_cap * 2 : 16;
        struct store_part *np = realloc(u->parts, (size_t)cap * sizeof *np);
        if (!np) {
            free(data);
            return -ENOMEM;
        }
        u->parts = np;
        u->parts_cap = cap;
    }
    struct part_job *pj = calloc(1, sizeof *pj);
    if (!pj) {
        free(data);
        return -ENOMEM;
    }
    pj->job.run = part_run;
    pj->u = u;
    pj->number = ++u->nparts;
    pj->data = data;
    pj->len = len;
    pj->off = off;
    memset(&u->parts[pj->number - 1], 0, sizeof u->parts[0]);
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

/* Wait for the parts, complete the upload (or abort it on error). */
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

/* ---- streaming ---- */

/* Send the full buffer as the next part (u->lock held). */
static int stream_send(struct upload *u)
{
    int rc = mpu_start(u);
    if (rc)
        return rc;
    if (u->spill_fd < 0 && u->spill_ok && make_temp(u->p.cache_dir,
                                                    &u->spill_fd))
        u->spill_ok = false; /* streaming goes on; no switching later */
    char *data = u->buf;
    size_t len = u->buf_len;
    uint64_t off = u->buf_off;
    u->buf = NULL;
    u->buf_len = u->buf_cap = 0;
    u->buf_off = off + len;
    u->sent_parts = true;
    return mpu_queue(u, data, len, off);
}

/* Leave streaming: the content so far goes to a staging file (u->lock
 * held).  -EIO if parts already sent are not kept in the cache. */
static int to_staged(struct upload *u)
{
    if (!u->streaming)
        return 0;
    wait_idle(u);
    if (u->sent_parts && (!u->spill_ok || u->spill_fd < 0)) {
        log_err("cannot rewrite 's3://%s/%s' out of order: the parts "
                "already uploaded are not in the cache folder", u->bucket,
                u->key);
        return -EIO;
    }
    int rc = 0;
    if (u->spill_fd < 0)
        rc = make_temp(u->p.cache_dir, &u->spill_fd);
    if (!rc && u->buf_len)
        rc = pwrite_all(u->spill_fd, u->buf, u->buf_len, u->buf_off);
    if (!rc && ftruncate(u->spill_fd, (off_t)u->size))
        rc = -errno;
    if (rc)
        return rc;
    free(u->buf);
    u->buf = NULL;
    u->buf_len = u->buf_cap = 0;
    mpu_cancel(u); /* an unfinished stream: its parts are in the file */
    u->fd = u->spill_fd;
    u->spill_fd = -1;
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
        if (u->streaming && (u->stream_done || pos < u->buf_off ||
                             pos > u->size)) {
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
        if (!u->buf) {
            size_t cap = (size_t)upload_part_size(u->p.part_size,
                                                  u->nparts + 1);
            u->buf = malloc(cap);
            if (!u->buf) {
                rc = -ENOMEM;
                break;
            }
            u->buf_cap = cap;
            u->buf_len = (size_t)(u->size - u->buf_off);
        }
        size_t in = (size_t)(pos - u->buf_off);
        size_t n = u->buf_cap - in < len - done ? u->buf_cap - in : len - done;
        memcpy(u->buf + in, data + done, n);
        done += n;
        if (pos + n > u->size)
            u->size = pos + n;
        u->buf_len = (size_t)(u->size - u->buf_off);
        u->dirty = true;
        if (u->buf_len == u->buf_cap)
            rc = stream_send(u);
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
    if (off >= u->size || !len)
        goto out;
    if (len > u->size - off)
        len = (size_t)(u->size - off);
    if (u->streaming && off >= u->buf_off && u->buf) {
        memcpy(buf, u->buf + (off - u->buf_off), len);
        ret = (ssize_t)len;
        goto out;
    }
    int rc = to_staged(u);
    if (!rc)
        rc = pread_all(u->fd, buf, len, off);
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
    if (u->streaming && !u->stream_done && size >= u->buf_off &&
        size - u->buf_off < upload_part_size(u->p.part_size, u->nparts + 1)) {
        if (!u->buf) {
            u->buf_cap = (size_t)upload_part_size(u->p.part_size,
                                                  u->nparts + 1);
            u->buf = malloc(u->buf_cap);
            if (!u->buf) {
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
    }
    rc = to_staged(u);
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
    if (!u->upload_id) {
        /* Smaller than a part: one PUT from memory. */
        return u->store->ops->put(u->store, u->bucket, u->key,
                                  u->buf ? u->buf : "", u->buf_len, m);
    }
    int rc = 0;
    if (u->buf_len)
        rc = stream_send(u);
    if (rc) {
        mpu_cancel(u);
        return rc;
    }
    rc = mpu_finish(u);
    u->stream_done = true; /* the content now lives in the spill file */
    return rc;
}

static int flush_staged(struct upload *u)
{
    const struct store_meta *m = u->has_meta ? &u->meta : NULL;
    if (u->size <= u->p.part_size) {
        char *data = malloc(u->size ? (size_t)u->size : 1);
        if (!data)
            return -ENOMEM;
        int rc = pread_all(u->fd, data, (size_t)u->size, 0);
        if (!rc)
            rc = u->store->ops->put(u->store, u->bucket, u->key, data,
                                    (size_t)u->size, m);
        free(data);
        return rc;
    }
    int rc = mpu_start(u);
    if (rc)
        return rc;
    for (uint64_t off = 0; off < u->size && !rc;) {
        uint64_t len = upload_part_size(u->p.part_size, u->nparts + 1);
        if (len > u->size - off)
            len = u->size - off;
        rc = mpu_queue(u, NULL, (size_t)len, off);
        off += len;
    }
    if (rc) {
        mpu_cancel(u);
        return rc;
    }
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
    if (u->spill_fd >= 0)
        close(u->spill_fd);
    free(u->buf);
    free(u->parts);
    free(u->bucket);
    free(u->key);
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->lock);
    free(u);
}
