/* reader.c - the worker pool and per-file read-ahead; see reader.h */
#include "reader.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"
#include "stats.h"
#include "store.h"

/* ---- worker pool ---- */

struct reader_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct reader_job *head, *tail;
    bool stop;
    unsigned nthreads;
    pthread_t *threads;
    unsigned streams;     /* jobs parked in a stream GET */
};

/* A stream slot: at most half the pool's threads (at least one) stream,
 * so chunk GETs of other readers still find threads.  Returns true when
 * one was taken. */
static bool pool_stream_take(struct reader_pool *p)
{
    pthread_mutex_lock(&p->lock);
    unsigned max = p->nthreads / 2 ? p->nthreads / 2 : 1;
    bool ok = p->nthreads > 1 && p->streams < max;
    if (ok)
        p->streams++;
    pthread_mutex_unlock(&p->lock);
    return ok;
}

static void pool_stream_put(struct reader_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->streams--;
    pthread_mutex_unlock(&p->lock);
}

static void *pool_main(void *arg)
{
    struct reader_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stop)
            pthread_cond_wait(&p->cond, &p->lock);
        struct reader_job *j = p->head;
        if (!j)
            break; /* stopping and drained */
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->next = NULL;
        j->run(j);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int reader_pool_new(unsigned threads, struct reader_pool **out)
{
    *out = NULL;
    struct reader_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->threads = calloc(threads ? threads : 1, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    for (unsigned i = 0; i < (threads ? threads : 1); i++) {
        int rc = pthread_create(&p->threads[i], NULL, pool_main, p);
        if (rc) {
            if (!p->nthreads) {
                free(p->threads);
                free(p);
                return -rc;
            }
            break; /* fewer threads still work */
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void reader_pool_submit(struct reader_pool *p, struct reader_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Queue J ahead of every queued job (a read waits for it). */
static void pool_submit_first(struct reader_pool *p, struct reader_job *j)
{
    pthread_mutex_lock(&p->lock);
    j->next = p->head;
    p->head = j;
    if (!p->tail)
        p->tail = j;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Move J, if still queued, to the front of the queue. */
static void pool_promote(struct reader_pool *p, struct reader_job *j)
{
    pthread_mutex_lock(&p->lock);
    struct reader_job *prev = NULL, *q = p->head;
    while (q && q != j) {
        prev = q;
        q = q->next;
    }
    if (q && prev) {
        prev->next = q->next;
        if (p->tail == q)
            p->tail = prev;
        q->next = p->head;
        p->head = q;
    }
    pthread_mutex_unlock(&p->lock);
}

void reader_pool_free(struct reader_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

/* ---- chunk memory ----
 *
 * Chunks hold their bytes in SEG_SIZE segments mapped with mmap and kept
 * on a process-wide free list: a sequential reader recycles the same
 * pages instead of faulting in fresh ones for every chunk (page faults
 * and their pte locks were a fifth of the daemon's CPU per byte with
 * malloc'd 8 MiB chunks), and memory given back is really returned
 * (malloc kept freed chunks in per-thread arenas: peak RSS 200-350 MiB
 * while reading 1 GiB with a 64 MiB window). */

#define SEG_SIZE ((size_t)256 << 10)
#define SEG_IDLE_MAX ((size_t)32 << 20) /* idle bytes kept for reuse */

static struct {
    pthread_mutex_t lock;
    void *idle;   /* free list, linked through each segment's first word */
    size_t nidle; /* segments on it */
    size_t used;  /* segments held by chunks */
} SEG = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static char *seg_get(void)
{
    pthread_mutex_lock(&SEG.lock);
    char *p = SEG.idle;
    if (p) {
        SEG.idle = *(void **)p;
        SEG.nidle--;
    }
    SEG.used++;
    pthread_mutex_unlock(&SEG.lock);
    if (p)
        return p;
    p = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED)
        return p;
    pthread_mutex_lock(&SEG.lock);
    SEG.used--;
    pthread_mutex_unlock(&SEG.lock);
    return NULL;
}

static void seg_put(char *p)
{
    pthread_mutex_lock(&SEG.lock);
    SEG.used--;
    bool keep = (SEG.nidle + 1) * SEG_SIZE <= SEG_IDLE_MAX;
    if (keep) {
        *(void **)p = SEG.idle;
        SEG.idle = p;
        SEG.nidle++;
    }
    pthread_mutex_unlock(&SEG.lock);
    if (!keep)
        munmap(p, SEG_SIZE);
}

static uint64_t seg_used_bytes(void)
{
    pthread_mutex_lock(&SEG.lock);
    uint64_t n = (uint64_t)SEG.used * SEG_SIZE;
    pthread_mutex_unlock(&SEG.lock);
    return n;
}

uint64_t reader_mem_bytes(uint64_t *idle)
{
    pthread_mutex_lock(&SEG.lock);
    uint64_t used = (uint64_t)SEG.used * SEG_SIZE;
    uint64_t free_ = (uint64_t)SEG.nidle * SEG_SIZE;
    pthread_mutex_unlock(&SEG.lock);
    if (idle)
        *idle = free_;
    return used;
}

/* ---- read-ahead ---- */

/* Bytes read since the window restarted (at a seek) before any chunk is
 * fetched ahead of the reads, unless it restarted at byte 0: one buffered
 * read after a seek becomes up to three 128 KiB kernel reads (384 KiB),
 * which must not look like a sequential reader. */
#define RUN_AHEAD ((uint64_t)512 << 10)
/* Bytes kept behind the read position at least: the kernel has up to
 * max_background (fs.c) read requests of 128 KiB in flight, answered by
 * several threads in any order. */
#define KEEP_BEHIND ((uint64_t)2 << 20)
/* A reader whose window has grown to this (or to window_max, if smaller)
 * is sequential: its read-ahead becomes a stream (reader.h). */
#define STREAM_WINDOW ((uint64_t)2 << 20)
/* Largest chunk a stream fills. */
#define STREAM_CHUNK ((uint64_t)1 << 20)
/* Poll period of a stream waiting for room (memory freed by other
 * readers does not signal this reader's condvar). */
#define STREAM_POLL_MS 100

enum chunk_state { C_QUEUED, C_LOADING, C_DONE };

struct stream;

struct chunk {
    struct reader_job job;  /* first: the pool hands us this */
    struct chunk *next;     /* in the reader's window, by offset */
    struct reader *r;
    struct stream *st;      /* the stream that will fill it, or NULL */
    uint64_t off;
    size_t len;
    char **seg;             /* ceil(LEN / SEG_SIZE) segments */
    size_t got;             /* bytes received; published under r->lock */
    size_t used;            /* bytes handed to readers */
    enum chunk_state state;
    int err;
    int refs;               /* window + worker/stream + waiting readers */
    int waiters;            /* readers waiting for its bytes */
    size_t wake_at;         /* wake them once got reaches this */
    bool dropped;           /* out of the window */
};

/* One long ranged GET [pos, end) filling consecutive chunks (reader.h). */
struct stream {
    struct reader_job job;  /* first: the pool hands us this */
    struct reader *r;
    uint64_t pos;           /* next byte the GET delivers */
    uint64_t end;           /* end of the GET's range */
    struct chunk *cur;      /* chunk being filled (a reference), or NULL */
    bool started;           /* its job runs (else still queued) */
    bool waiting;           /* for room, on r->room */
    bool detached;          /* the window was dropped: stop */
    bool stalled;           /* ended for want of room */
};

struct reader {
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* chunk bytes arrived, jobs ended */
    pthread_cond_t room;       /* the stream may have room (MONOTONIC) */
    struct store *store;
    struct reader_pool *pool;
    char *bucket, *key;
    uint64_t size;
    struct reader_params p;
    struct chunk *head, *tail; /* consecutive chunks */
    uint64_t fetch_end;        /* end of the last chunk (start if none) */
    uint64_t max_pos;          /* furthest byte asked for + 1 */
    uint64_t run;              /* bytes read since the window restarted */
    bool from_zero;            /* the window restarted at byte 0 */
    uint64_t window;
    uint64_t mem_max;          /* see READER_MEM_MIN */
    unsigned inflight;         /* chunk jobs queued or loading, streams */
    struct stream *st;         /* the stream filling the window, or NULL */
    bool closing;
};

int reader_new(struct store *s, struct reader_pool *pool, const char *bucket,
               const char *key, uint64_t size, const struct reader_params *p,
               struct reader **out)
{
    *out = NULL;
    struct reader *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->bucket = strdup(bucket);
    r->key = strdup(key);
    if (!r->bucket || !r->key) {
        free(r->bucket);
        free(r->key);
        free(r);
        return -ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, NULL);
    pthread_cond_init(&r->room, &ca);
    pthread_condattr_destroy(&ca);
    r->store = s;
    r->pool = pool;
    r->size = size;
    r->p = *p;
    if (!r->p.window_seek)
        r->p.window_seek = 256 << 10;
    if (!r->p.window_first)
        r->p.window_first = 512 << 10;
    if (r->p.window_max < r->p.window_first)
        r->p.window_max = r->p.window_first;
    if (r->p.window_max < r->p.window_seek)
        r->p.window_max = r->p.window_seek;
    if (!r->p.chunk_max)
        r->p.chunk_max = 8 << 20;
    if (!r->p.inflight_max)
        r->p.inflight_max = 8;
    r->mem_max = 2 * r->p.window_max;
    if (r->mem_max < READER_MEM_MIN)
        r->mem_max = READER_MEM_MIN;
    r->window = r->p.window_first;
    *out = r;
    return 0;
}

static size_t chunk_nseg(size_t len)
{
    return (len + SEG_SIZE - 1) / SEG_SIZE;
}

static void chunk_free(struct chunk *c)
{
    if (c->seg) {
        for (size_t i = 0, n = chunk_nseg(c->len); i < n; i++)
            if (c->seg[i])
                seg_put(c->seg[i]);
        free(c->seg);
    }
    free(c);
}

/* A chunk of LEN bytes at OFF with its memory, or NULL when out of
 * memory. */
static struct chunk *chunk_new(uint64_t off, size_t len)
{
    struct chunk *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->off = off;
    c->len = len;
    c->wake_at = SIZE_MAX;
    size_t n = chunk_nseg(len);
    c->seg = calloc(n ? n : 1, sizeof *c->seg);
    if (!c->seg) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(c->seg[i] = seg_get())) {
            chunk_free(c);
            return NULL;
        }
    return c;
}

/* Copy LEN bytes between C's memory at POS and DATA. */
static void chunk_copy_in(struct chunk *c, size_t pos, const char *data,
                          size_t len)
{
    while (len) {
        size_t o = pos % SEG_SIZE;
        size_t k = SEG_SIZE - o < len ? SEG_SIZE - o : len;
        memcpy(c->seg[pos / SEG_SIZE] + o, data, k);
        pos += k;
        data += k;
        len -= k;
    }
}

static void chunk_copy_out(const struct chunk *c, size_t pos, char *buf,
                           size_t len)
{
    while (len) {
        size_t o = pos % SEG_SIZE;
        size_t k = SEG_SIZE - o < len ? SEG_SIZE - o : len;
        memcpy(buf, c->seg[pos / SEG_SIZE] + o, k);
        pos += k;
        buf += k;
        len -= k;
    }
}

/* After C->got grew: wake the readers waiting for it once the nearest
 * one's bytes are there (r->lock held). */
static void chunk_wake(struct reader *r, struct chunk *c)
{
    if (c->waiters && c->got >= c->wake_at) {
        c->wake_at = SIZE_MAX; /* waiters still short set it again */
        pthread_cond_broadcast(&r->cond);
    }
}

/* Drop one reference to C (r->lock held); the last one frees it. */
static void chunk_put(struct chunk *c)
{
    if (--c->refs)
        return;
    if (c->got > c->used)
        stats_add(STAT_readahead_bytes_wasted, c->got - c->used);
    chunk_free(c);
}

static void chunk_submit(struct reader *r, struct chunk *c, bool first);

/* Take C (already unlinked) out of the window (r->lock held).  A chunk
 * its stream has not reached is no longer the stream's (it stops at the
 * first dropped chunk): a reader waiting for it gets a chunk GET. */
static void chunk_drop(struct reader *r, struct chunk *c)
{
    c->dropped = true;
    if (c->st && c->st->cur != c) {
        c->st = NULL;
        if (c->waiters) {
            chunk_submit(r, c, true);
        } else {
            c->state = C_DONE;
            c->err = -ECANCELED;
        }
    }
    chunk_put(c);
}

/* Empty the window and stop its stream (r->lock held). */
static void drop_all(struct reader *r)
{
    if (r->st) {
        r->st->detached = true;
        r->st = NULL;
        pthread_cond_broadcast(&r->room);
    }
    struct chunk *c = r->head;
    r->head = r->tail = NULL;
    while (c) {
        struct chunk *next = c->next;
        chunk_drop(r, c);
        c = next;
    }
}

static uint64_t chunk_size(const struct reader *r)
{
    uint64_t cs = r->window / 4;
    if (cs < (256 << 10))
        cs = 256 << 10;
    if (cs > r->p.chunk_max)
        cs = r->p.chunk_max;
    if (cs > r->window)
        cs = r->window;
    return cs;
}

/* Chunks a stream fills: no GET each, so small, to free memory and make
 * room finely (eight streams share READER_MEM_MIN / 2 x window_max). */
static uint64_t stream_chunk_size(const struct reader *r)
{
    uint64_t cs = chunk_size(r);
    return cs < STREAM_CHUNK ? cs : STREAM_CHUNK;
}

/* Length of the chunk to append at START, ending at most at END (the
 * object's or a stream's end): CS, or the rest when less than half of CS
 * would be left (no tiny tail chunk). */
static uint64_t chunk_len_at(uint64_t start, uint64_t end, uint64_t cs)
{
    uint64_t len = end - start < cs ? end - start : cs;
    if (end - start - len < cs / 2)
        len = end - start;
    return len;
}

/* Append a chunk of LEN bytes at fetch_end to the window (r->lock held).
 * Returns it (one reference: the window's) or NULL when out of memory. */
static struct chunk *chunk_append(struct reader *r, uint64_t len)
{
    struct chunk *c = chunk_new(r->fetch_end, (size_t)len);
    if (!c)
        return NULL;
    c->r = r;
    c->refs = 1;
    if (r->tail)
        r->tail->next = c;
    else
        r->head = c;
    r->tail = c;
    r->fetch_end += len;
    return c;
}

static int fetch_cb(void *ctx, const void *data, size_t len)
{
    struct chunk *c = ctx;
    struct reader *r = c->r;
    size_t room = c->len - c->got;
    if (len > room)
        len = room; /* the object grew: keep what the window asked for */
    chunk_copy_in(c, c->got, data, len);
    pthread_mutex_lock(&r->lock);
    c->got += len;
    /* A dropped chunk that a reader still waits for goes on loading. */
    bool stop = (c->dropped && !c->waiters) || r->closing;
    chunk_wake(r, c);
    pthread_mutex_unlock(&r->lock);
    return stop ? -ECANCELED : 0;
}

static void pump(struct reader *r, uint64_t need_end);

/* A chunk GET: the chunk's bytes from c->got on (a chunk a stream left
 * half full is finished this way). */
static void fetch_run(struct reader_job *j)
{
    struct chunk *c = (struct chunk *)j;
    struct reader *r = c->r;
    pthread_mutex_lock(&r->lock);
    bool skip = (c->dropped && !c->waiters) || r->closing;
    if (!skip)
        c->state = C_LOADING;
    uint64_t from = c->got;
    pthread_mutex_unlock(&r->lock);
    int rc = -ECANCELED;
    if (!skip) {
        rc = r->store->ops->get(r->store, r->bucket, r->key, c->off + from,
                                c->len - from, fetch_cb, c);
        if (rc && rc != -ECANCELED)
            log_warn("cannot read 's3://%s/%s' at %llu: %s", r->bucket,
                     r->key, (unsigned long long)(c->off + from),
                     strerror(-rc));
    }
    pthread_mutex_lock(&r->lock);
    c->state = C_DONE;
    c->err = rc;
    r->inflight--;
    bool more = !c->dropped && !r->closing && !rc;
    chunk_put(c); /* the worker's reference */
    if (more)
        pump(r, 0);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Queue C (in the window, one reference) as a chunk GET (r->lock
 * held). */
static void chunk_submit(struct reader *r, struct chunk *c, bool first)
{
    c->st = NULL;
    c->state = C_QUEUED;
    c->refs++; /* the worker's */
    c->job.run = fetch_run;
    r->inflight++;
    if (first)
        pool_submit_first(r->pool, &c->job);
    else
        reader_pool_submit(r->pool, &c->job);
}

/* ---- streams ---- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait on r->room for at most MS milliseconds (r->lock held). */
static void room_wait_ms(struct reader *r, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&r->room, &r->lock, &ts);
}

/* Make S->cur a chunk with room at S->pos: the next chunk of the window
 * when S is to fill it, else a new one appended once the window and the
 * memory cap have room, waiting for it up to the stall limit (r->lock
 * held).  Returns 0, or -ECANCELED when the stream must end. */
static int stream_next(struct stream *s)
{
    struct reader *r = s->r;
    uint64_t wait_from = 0;
    for (;;) {
        struct chunk *c = s->cur;
        if (s->detached || r->closing || s->pos >= s->end)
            return -ECANCELED;
        if (c && s->pos < c->off + c->len)
            return 0; /* room left in it */
        if (c && c->dropped)
            return -ECANCELED; /* the window moved on without it */
        struct chunk *next = c ? c->next : NULL;
        if (next) {
            /* Appended by a read (pump) for the stream to fill. */
            if (next->st != s || next->off != s->pos)
                return -ECANCELED;
            next->refs++;
            c->st = NULL;
            chunk_put(c);
            s->cur = next;
            return 0;
        }
        if (r->fetch_end != s->pos)
            return -ECANCELED;
        uint64_t cs = stream_chunk_size(r);
        uint64_t len = chunk_len_at(s->pos, s->end, cs);
        if (s->pos + cs / 2 <= r->max_pos + r->window &&
            seg_used_bytes() + len <= r->mem_max) {
            struct chunk *n = chunk_append(r, len);
            if (!n)
                return -ENOMEM;
            n->st = s;
            n->state = C_LOADING;
            n->refs++; /* the stream's */
            if (c) {
                c->st = NULL;
                chunk_put(c);
            }
            s->cur = n;
            return 0;
        }
        /* No room: the reader is behind (or paused). */
        uint64_t t = now_ms();
        if (!wait_from)
            wait_from = t;
        else if (t - wait_from >= READER_STREAM_STALL_MS) {
            s->stalled = true;
            return -ECANCELED;
        }
        s->waiting = true;
        room_wait_ms(r, STREAM_POLL_MS);
        s->waiting = false;
    }
}

static int stream_cb(void *ctx, const void *data, size_t len)
{
    struct stream *s = ctx;
    struct reader *r = s->r;
    const char *p = data;
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    while (len) {
        rc = stream_next(s);
        if (rc)
            break;
        struct chunk *c = s->cur;
        if (c->dropped && !c->waiters) {
            rc = -ECANCELED;
            break;
        }
        size_t in = (size_t)(s->pos - c->off);
        size_t k = c->len - in < len ? c->len - in : len;
        pthread_mutex_unlock(&r->lock);
        chunk_copy_in(c, in, p, k); /* only this stream writes there */
        pthread_mutex_lock(&r->lock);
        c->got += k;
        s->pos += k;
        p += k;
        len -= k;
        if (c->got == c->len) {
            c->state = C_DONE;
            if (c->waiters)
                pthread_cond_broadcast(&r->cond);
        } else {
            chunk_wake(r, c);
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (rc && len) /* received, never placed: fetched again if needed */
        stats_add(STAT_readahead_bytes_wasted, len);
    return rc;
}

/* After the stream's GET (RC its result), chunk C that S was to fill:
 * half full or untouched (r->lock held). */
static void stream_leave(struct reader *r, struct chunk *c, int rc)
{
    c->st = NULL;
    if (c->got == c->len) {
        c->state = C_DONE;
    } else if (rc && rc != -ECANCELED) {
        c->state = C_DONE;
        c->err = rc;
    } else if (c->dropped && !c->waiters) {
        c->state = C_DONE;
        c->err = -ECANCELED;
    } else {
        chunk_submit(r, c, c->waiters > 0); /* the rest as a chunk GET */
    }
}

static void stream_run(struct reader_job *j)
{
    struct stream *s = (struct stream *)j;
    struct reader *r = s->r;
    pthread_mutex_lock(&r->lock);
    bool skip = s->detached || r->closing;
    s->started = true;
    uint64_t from = s->pos, end = s->end;
    pthread_mutex_unlock(&r->lock);
    int rc = -ECANCELED;
    if (!skip) {
        rc = r->store->ops->get(r->store, r->bucket, r->key, from,
                                end - from, stream_cb, s);
        if (rc && rc != -ECANCELED)
            log_warn("cannot read 's3://%s/%s' at %llu: %s", r->bucket,
                     r->key, (unsigned long long)s->pos, strerror(-rc));
    }
    pthread_mutex_lock(&r->lock);
    /* Whatever S did not fill goes back to chunk GETs, or fails. */
    if (s->cur) {
        if (s->cur->st == s)
            stream_leave(r, s->cur, rc);
        chunk_put(s->cur);
        s->cur = NULL;
    }
    for (struct chunk *c = r->head; c; c = c->next)
        if (c->st == s)
            stream_leave(r, c, rc);
    if (r->st == s)
        r->st = NULL;
    r->inflight--;
    pool_stream_put(r->pool);
    if (!r->closing && (!rc || rc == -ECANCELED))
        pump(r, 0); /* a stalled stream restarts once there is room */
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    free(s);
}

/* Start a stream at fetch_end with its first chunk, if a pool slot is
 * free (r->lock held).  Returns true when started. */
static bool stream_start(struct reader *r)
{
    if (!pool_stream_take(r->pool))
        return false;
    struct stream *s = calloc(1, sizeof *s);
    if (!s) {
        pool_stream_put(r->pool);
        return false;
    }
    s->r = r;
    s->pos = r->fetch_end;
    s->end = r->size;
    /* Bounded, with no short last stream. */
    if (s->end - s->pos > READER_STREAM_LEN + READER_STREAM_LEN / 2)
        s->end = s->pos + READER_STREAM_LEN;
    struct chunk *c = chunk_append(r, chunk_len_at(s->pos, s->end, stream_chunk_size(r)));
    if (!c) {
        free(s);
        pool_stream_put(r->pool);
        return false;
    }
    c->st = s;
    c->state = C_LOADING;
    c->refs++; /* the stream's */
    s->cur = c;
    s->job.run = stream_run;
    r->st = s;
    r->inflight++;
    reader_pool_submit(r->pool, &s->job);
    return true;
}

/* Queue chunks: always up to NEED_END, then read-ahead while at least
 * half of the next chunk lies within max_pos + window and fewer than
 * inflight_max GETs are in flight; a sequential reader's read-ahead is a
 * stream instead, and the chunks a read needs go to it (r->lock
 * held). */
static void pump(struct reader *r, uint64_t need_end)
{
    uint64_t limit = r->max_pos + r->window;
    bool ahead = r->from_zero || r->run >= RUN_AHEAD;
    uint64_t seq = STREAM_WINDOW < r->p.window_max ? STREAM_WINDOW
                                                   : r->p.window_max;
    for (;;) {
        uint64_t start = r->fetch_end;
        if (start >= r->size)
            break;
        struct stream *st = r->st;
        if (st) {
            /* The stream fetches ahead (the next one starts when it
             * ends); a read that needs more appends the chunks for it to
             * fill, or past its range fetches them. */
            if (start >= need_end)
                break;
            if (start < st->end) {
                struct chunk *c =
                    chunk_append(r, chunk_len_at(start, st->end,
                                                 stream_chunk_size(r)));
                if (!c)
                    break; /* the reader sees no chunk: -ENOMEM */
                c->st = st;
                c->state = C_LOADING;
                if (st->waiting)
                    pthread_cond_signal(&r->room);
                continue;
            }
        }
        uint64_t cs = chunk_size(r);
        uint64_t len = chunk_len_at(start, r->size, cs);
        if (start >= need_end) {
            if (!ahead || start + cs / 2 > limit ||
                seg_used_bytes() + len > r->mem_max)
                break;
            if (!st && r->window >= seq && stream_start(r))
                continue;
            if (r->inflight >= r->p.inflight_max)
                break;
        }
        struct chunk *c = chunk_append(r, len);
        if (!c)
            break; /* the reader sees no chunk and returns -ENOMEM */
        /* What a read waits for goes before other readers' read-ahead. */
        chunk_submit(r, c, start < need_end);
    }
}

/* Make sure POS is in the window, moving or restarting it (r->lock
 * held). */
static void ensure_window(struct reader *r, uint64_t pos, uint64_t need_end)
{
    bool covered = r->head && pos >= r->head->off && pos < r->fetch_end;
    /* Just past the window (the kernel's next read arriving before the
     * read-ahead started, or reads slightly out of order): the same
     * reader going on; the needed chunks fill the gap. */
    bool next = pos >= r->fetch_end && pos <= r->fetch_end + chunk_size(r) &&
                (r->head || pos > 0);
    if (!covered && !next) {
        /* A seek: start again small. */
        drop_all(r);
        r->window = pos == 0 ? r->p.window_first : r->p.window_seek;
        if (r->window > r->p.window_max)
            r->window = r->p.window_max;
        r->run = 0;
        r->from_zero = pos == 0;
        r->max_pos = pos;
        r->fetch_end = pos; /* the empty window starts here */
    } else {
        /* Keep a chunk's worth (at least KEEP_BEHIND) behind POS for
         * reads the kernel sends out of order. */
        uint64_t keep = r->st ? stream_chunk_size(r) : chunk_size(r);
        if (keep < KEEP_BEHIND)
            keep = KEEP_BEHIND;
        while (r->head && r->head != r->tail &&
               r->head->off + r->head->len + keep <= pos) {
            struct chunk *c = r->head;
            r->head = c->next;
            chunk_drop(r, c);
        }
    }
    if (need_end > r->max_pos)
        r->max_pos = need_end;
    pump(r, need_end);
    /* A stream waiting for room may have some now (the memory cap it
     * polls). */
    if (r->st && r->st->waiting &&
        r->st->pos + stream_chunk_size(r) / 2 <= r->max_pos + r->window)
        pthread_cond_signal(&r->room);
}

ssize_t reader_read(struct reader *r, char *buf, size_t len, uint64_t off)
{
    if (off >= r->size || !len)
        return 0;
    if (len > r->size - off)
        len = (size_t)(r->size - off);
    size_t done = 0;
    int err = 0;
    pthread_mutex_lock(&r->lock);
    while (done < len) {
        uint64_t pos = off + done;
        ensure_window(r, pos, off + len);
        struct chunk *c = r->head;
        while (c && c->off + c->len <= pos)
            c = c->next;
        if (!c || c->off > pos) {
            err = -ENOMEM; /* pump could not allocate */
            break;
        }
        size_t in = (size_t)(pos - c->off);
        size_t want = c->len - in < len - done ? c->len - in : len - done;
        c->refs++;
        c->waiters++;
        if (c->state == C_QUEUED)
            pool_promote(r->pool, &c->job);
        else if (c->st && !c->st->started)
            pool_promote(r->pool, &c->st->job);
        while (c->got < in + want && c->state != C_DONE) {
            if (in + want < c->wake_at)
                c->wake_at = in + want;
            pthread_cond_wait(&r->cond, &r->lock);
        }
        c->waiters--;
        size_t have = c->got > in ? c->got - in : 0;
        if (have > want)
            have = want;
        if (have) {
            /* Bytes below c->got never change: copy them unlocked (our
             * reference keeps the chunk). */
            pthread_mutex_unlock(&r->lock);
            chunk_copy_out(c, in, buf + done, have);
            pthread_mutex_lock(&r->lock);
            r->run += have;
            c->used += have;
            stats_add(STAT_readahead_bytes_used, have);
            done += have;
        }
        bool failed = have < want;
        if (failed && c->err && c->err != -ECANCELED) {
            err = c->err;
            if (!c->dropped) /* the next read retries */
                drop_all(r);
        } else if (!failed && in + want == c->len &&
                   2 * r->run >= r->window) {
            /* A chunk consumed to its end by a reader that has read
             * half a window since the last seek: a sequential reader.
             * (One buffered read after a seek, with the kernel's
             * read-ahead behind it, does not grow the window.) */
            r->window *= 2;
            if (r->window > r->p.window_max)
                r->window = r->p.window_max;
        }
        bool cancelled = failed && c->err == -ECANCELED;
        chunk_put(c);
        if (err)
            break;
        if (failed && !cancelled)
            break; /* the object is shorter than it was: end of file */
    }
    pthread_mutex_unlock(&r->lock);
    if (err)
        return err;
    return (ssize_t)done;
}

uint64_t reader_window(struct reader *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t w = r->window;
    pthread_mutex_unlock(&r->lock);
    return w;
}

void reader_free(struct reader *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->closing = true;
    drop_all(r);
    while (r->inflight)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    pthread_cond_destroy(&r->cond);
    pthread_cond_destroy(&r->room);
    pthread_mutex_destroy(&r->lock);
    free(r->bucket);
    free(r->key);
    free(r);
}
