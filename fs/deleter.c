/* deleter.c - batched deletes behind a barrier store; see deleter.h
 *
 * State: the batches not yet sent (OPEN, oldest first; at most one
 * non-full batch per bucket takes new keys) and the one being sent
 * (INFLIGHT), all under one mutex.  PENDING counts the keys of both and
 * is read without the lock for the common case of nothing pending, so
 * that a request costs one atomic load when no delete is queued. */
#include "deleter.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

struct dl_batch {
    struct dl_batch *next;
    char *bucket;
    char **keys; /* STORE_DEL_MANY_MAX slots */
    size_t n;
    bool urgent; /* somebody waits for one of its keys */
};

struct deleter {
    struct store base; /* first: deleter_store() hands this out */
    struct store *in;
    deleter_failed_cb failed;
    pthread_mutex_t lock;
    pthread_cond_t work; /* the flusher sleeps on it */
    pthread_cond_t done; /* a batch was taken or answered */
    struct dl_batch *open, *inflight;
    size_t queued;       /* keys in OPEN */
    uint64_t pending;    /* keys in OPEN and INFLIGHT (atomic reads) */
    double last_add;     /* monotonic seconds of the last queued key */
    double last_unlink;  /* ... of the last unlink's return */
    unsigned burst;      /* quick unlinks in a row */
    bool no_batch;       /* the server has no DeleteObjects */
    bool stop;
    bool started;
    pthread_t thread;
};

static void batch_free(struct dl_batch *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->keys[i]);
    free(b->keys);
    free(b->bucket);
    free(b);
}

static bool batch_has(const struct dl_batch *b, const char *bucket,
                      const char *key, size_t plen, bool prefix)
{
    if (strcmp(b->bucket, bucket))
        return false;
    for (size_t i = 0; i < b->n; i++)
        if (prefix ? !strncmp(b->keys[i], key, plen)
                   : !strcmp(b->keys[i], key))
            return true;
    return false;
}

/* Wait until no pending delete of BUCKET is KEY (or, with PREFIX, starts
 * with KEY); the batches holding one are sent at once. */
static void wait_for(struct deleter *d, const char *bucket, const char *key,
                     bool prefix)
{
    if (!__atomic_load_n(&d->pending, __ATOMIC_ACQUIRE))
        return;
    if (!key)
        key = "";
    size_t plen = strlen(key);
    pthread_mutex_lock(&d->lock);
    for (;;) {
        bool found = false;
        for (struct dl_batch *b = d->open; b; b = b->next)
            if (batch_has(b, bucket, key, plen, prefix)) {
                b->urgent = true;
                found = true;
            }
        for (struct dl_batch *b = d->inflight; b && !found; b = b->next)
            found = batch_has(b, bucket, key, plen, prefix);
        if (!found)
            break;
        pthread_cond_signal(&d->work);
        pthread_cond_wait(&d->done, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
}

/* ---- sending ---- */

struct send_ctx {
    struct deleter *d;
    const char *bucket;
};

static void key_failed(void *ctx, const char *key, int err, const char *code,
                       const char *message)
{
    struct send_ctx *s = ctx;
    (void)message; /* the server's text: not logged, it may echo anything */
    log_err("cannot delete 's3://%s/%s': %s (%s)", s->bucket, key,
            strerror(-err), code[0] ? code : "no code");
    if (s->d->failed)
        s->d->failed(s->bucket, key, err);
}

static void send_singly(struct deleter *d, struct dl_batch *b)
{
    struct send_ctx sc = {d, b->bucket};
    for (size_t i = 0; i < b->n; i++) {
        int rc = d->in->ops->del(d->in, b->bucket, b->keys[i]);
        if (rc)
            key_failed(&sc, b->keys[i], rc, "", "");
    }
}

/* Send B (no lock held). */
static void send_batch(struct deleter *d, struct dl_batch *b)
{
    struct send_ctx sc = {d, b->bucket};
    bool batch = !__atomic_load_n(&d->no_batch, __ATOMIC_RELAXED) &&
                 d->in->ext && d->in->ext->del_many;
    if (batch) {
        int rc = d->in->ext->del_many(d->in, b->bucket,
                                      (const char *const *)b->keys, b->n,
                                      key_failed, &sc);
        if (!rc)
            return;
        if (rc != -ENOSYS) {
            log_err("cannot delete %zu objects in 's3://%s' (DeleteObjects): "
                    "%s", b->n, b->bucket, strerror(-rc));
            for (size_t i = 0; i < b->n; i++)
                key_failed(&sc, b->keys[i], rc, "", "");
            return;
        }
        log_info("the server does not implement DeleteObjects: deleting "
                 "one object a request from now on");
        __atomic_store_n(&d->no_batch, true, __ATOMIC_RELAXED);
    }
    send_singly(d, b);
}

/* The next batch to send, taken out of OPEN, or NULL (lock held). */
static struct dl_batch *take_ready(struct deleter *d, double now)
{
    bool idle = now - d->last_add >= DELETER_IDLE_MS / 1000.0;
    for (struct dl_batch **pp = &d->open; *pp; pp = &(*pp)->next) {
        struct dl_batch *b = *pp;
        if (b->urgent || b->n == STORE_DEL_MANY_MAX || idle || d->stop) {
            *pp = b->next;
            b->next = NULL;
            d->queued -= b->n;
            return b;
        }
    }
    return NULL;
}

static void *flusher(void *arg)
{
    struct deleter *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        struct dl_batch *b = take_ready(d, clock_mono_s());
        if (!b) {
            if (d->stop && !d->open)
                break;
            if (!d->open) {
                pthread_cond_wait(&d->work, &d->lock);
                continue;
            }
            double at = d->last_add + DELETER_IDLE_MS / 1000.0;
            struct timespec ts;
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&d->work, &d->lock, &ts);
            continue;
        }
        b->next = d->inflight;
        d->inflight = b;
        pthread_cond_broadcast(&d->done); /* room for queued unlinks */
        pthread_mutex_unlock(&d->lock);
        send_batch(d, b);
        pthread_mutex_lock(&d->lock);
        for (struct dl_batch **pp = &d->inflight; *pp; pp = &(*pp)->next)
            if (*pp == b) {
                *pp = b->next;
                break;
            }
        __atomic_sub_fetch(&d->pending, b->n, __ATOMIC_RELEASE);
        batch_free(b);
        /* an rmdir that waited for it goes on with the same burst */
        d->last_unlink = clock_mono_s();
        pthread_cond_broadcast(&d->done);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ---- the barrier store ---- */

static struct deleter *of(struct store *s)
{
    return (struct deleter *)s;
}

static int w_list_buckets(struct store *s, store_list_cb cb, void *ctx)
{
    struct store *in = of(s)->in;
    return in->ops->list_buckets(in, cb, ctx);
}

static int w_list(struct store *s, const char *bucket, const char *prefix,
                  const char *delimiter, store_list_cb cb, void *ctx)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, prefix, true);
    return in->ops->list(in, bucket, prefix, delimiter, cb, ctx);
}

static int w_head(struct store *s, const char *bucket, const char *key,
                  struct store_head *out)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->head(in, bucket, key, out);
}

static int w_get(struct store *s, const char *bucket, const char *key,
                 uint64_t off, uint64_t len, store_data_cb cb, void *ctx)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->get(in, bucket, key, off, len, cb, ctx);
}

static int w_put(struct store *s, const char *bucket, const char *key,
                 const void *data, size_t len, const struct store_meta *meta)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->put(in, bucket, key, data, len, meta);
}

static int w_mpu_create(struct store *s, const char *bucket, const char *key,
                        const struct store_meta *meta, char **upload_id)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->mpu_create(in, bucket, key, meta, upload_id);
}

static int w_mpu_part(struct store *s, const char *bucket, const char *key,
                      const char *upload_id, int part, const void *data,
                      size_t len, struct store_part *out)
{
    struct store *in = of(s)->in;
    return in->ops->mpu_part(in, bucket, key, upload_id, part, data, len,
                             out);
}

static int w_mpu_complete(struct store *s, const char *bucket,
                          const char *key, const char *upload_id,
                          const struct store_part *parts, int nparts)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->mpu_complete(in, bucket, key, upload_id, parts, nparts);
}

static int w_mpu_abort(struct store *s, const char *bucket, const char *key,
                       const char *upload_id)
{
    struct store *in = of(s)->in;
    return in->ops->mpu_abort(in, bucket, key, upload_id);
}

static int w_copy(struct store *s, const char *src_bucket,
                  const char *src_key, const char *dst_bucket,
                  const char *dst_key, const struct store_meta *meta)
{
    struct store *in = of(s)->in;
    wait_for(of(s), src_bucket, src_key, false);
    wait_for(of(s), dst_bucket, dst_key, false);
    return in->ops->copy(in, src_bucket, src_key, dst_bucket, dst_key, meta);
}

static int w_del(struct store *s, const char *bucket, const char *key)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, key, false);
    return in->ops->del(in, bucket, key);
}

static void w_free(struct store *s)
{
    (void)s; /* owned by deleter_free */
}

static int w_del_many(struct store *s, const char *bucket,
                      const char *const *keys, size_t n,
                      store_del_error_cb cb, void *ctx)
{
    struct store *in = of(s)->in;
    for (size_t i = 0; i < n; i++)
        wait_for(of(s), bucket, keys[i], false);
    if (in->ext && in->ext->del_many)
        return in->ext->del_many(in, bucket, keys, n, cb, ctx);
    return -ENOSYS;
}

static const struct store_ops deleter_ops = {
    .name = "deleter",
    .list_buckets = w_list_buckets,
    .list = w_list,
    .head = w_head,
    .get = w_get,
    .put = w_put,
    .mpu_create = w_mpu_create,
    .mpu_part = w_mpu_part,
    .mpu_complete = w_mpu_complete,
    .mpu_abort = w_mpu_abort,
    .copy = w_copy,
    .del = w_del,
    .free = w_free,
};

static int w_list_from(struct store *s, const char *bucket,
                       const char *prefix, const char *start_after,
                       const char *delimiter, store_list_cb cb, void *ctx)
{
    struct store *in = of(s)->in;
    wait_for(of(s), bucket, prefix, true);
    if (in->ext && in->ext->list_from)
        return in->ext->list_from(in, bucket, prefix, start_after, delimiter,
                                  cb, ctx);
    return -ENOSYS;
}

static const struct store_ext_ops deleter_ext_ops = {
    .del_many = w_del_many,
    .list_from = w_list_from,
};

/* ---- public ---- */

int deleter_new(struct store *inner, deleter_failed_cb failed,
                struct deleter **out)
{
    *out = NULL;
    struct deleter *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->base.ops = &deleter_ops;
    d->base.ext = &deleter_ext_ops;
    d->in = inner;
    d->failed = failed;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&d->done, NULL);
    int rc = pthread_create(&d->thread, NULL, flusher, d);
    if (rc) {
        deleter_free(d);
        return -rc;
    }
    d->started = true;
    *out = d;
    return 0;
}

struct store *deleter_store(struct deleter *d)
{
    return &d->base;
}

/* Queue KEY (lock held); waits while DELETER_PENDING_MAX keys are queued. */
static int queue_key(struct deleter *d, const char *bucket, const char *key)
{
    while (d->queued >= DELETER_PENDING_MAX && !d->stop)
        pthread_cond_wait(&d->done, &d->lock);
    struct dl_batch *b = NULL, **tail = &d->open;
    for (struct dl_batch *x = d->open; x; x = x->next) {
        if (!b && x->n < STORE_DEL_MANY_MAX && !strcmp(x->bucket, bucket))
            b = x;
        tail = &x->next;
    }
    char *k = strdup(key);
    if (!k)
        return -ENOMEM;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (b) {
            b->bucket = strdup(bucket);
            b->keys = malloc(STORE_DEL_MANY_MAX * sizeof *b->keys);
        }
        if (!b || !b->bucket || !b->keys) {
            batch_free(b);
            free(k);
            return -ENOMEM;
        }
        *tail = b;
    }
    b->keys[b->n++] = k;
    d->queued++;
    __atomic_add_fetch(&d->pending, 1, __ATOMIC_RELEASE);
    d->last_add = clock_mono_s();
    if (b->n == 1 || b->n == STORE_DEL_MANY_MAX)
        pthread_cond_signal(&d->work);
    return 0;
}

int deleter_unlink(struct deleter *d, const char *bucket, const char *key)
{
    double now = clock_mono_s();
    pthread_mutex_lock(&d->lock);
    bool quick = now - d->last_unlink < DELETER_BURST_GAP_MS / 1000.0;
    d->burst = quick ? d->burst + 1 : 1;
    bool sync = d->burst <= DELETER_SYNC_FIRST || d->stop ||
                __atomic_load_n(&d->no_batch, __ATOMIC_RELAXED) ||
                !d->in->ext || !d->in->ext->del_many;
    int rc = 0;
    if (!sync) {
        rc = queue_key(d, bucket, key);
        sync = rc == -ENOMEM; /* no memory to queue: delete it now */
    }
    pthread_mutex_unlock(&d->lock);
    if (sync)
        rc = w_del(&d->base, bucket, key);
    pthread_mutex_lock(&d->lock);
    d->last_unlink = clock_mono_s();
    pthread_mutex_unlock(&d->lock);
    return rc;
}

void deleter_flush(struct deleter *d)
{
    if (!d || !__atomic_load_n(&d->pending, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&d->lock);
    while (d->open || d->inflight) {
        for (struct dl_batch *b = d->open; b; b = b->next)
            b->urgent = true;
        pthread_cond_signal(&d->work);
        pthread_cond_wait(&d->done, &d->lock);
    }
    pthread_mutex_unlock(&d->lock);
}

void deleter_free(struct deleter *d)
{
    if (!d)
        return;
    if (d->started) {
        deleter_flush(d);
        pthread_mutex_lock(&d->lock);
        d->stop = true;
        pthread_cond_broadcast(&d->work);
        pthread_cond_broadcast(&d->done);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
    }
    while (d->open) { /* only if the thread never ran */
        struct dl_batch *b = d->open;
        d->open = b->next;
        batch_free(b);
    }
    pthread_cond_destroy(&d->work);
    pthread_cond_destroy(&d->done);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
