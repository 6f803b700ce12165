/* reader.h - read-ahead for one open object, and the worker pool that
 * runs the ranged GETs (and the upload parts of writer_upload.c).
 *
 * A reader keeps a window of consecutive chunks [start, end) of the
 * object, fetched as parallel ranged GETs by pool threads.  A sequential
 * reader doubles the window each time a chunk is consumed, up to
 * window_max; a read outside the window (a seek) drops it and starts
 * again small: window_first for a read at offset 0, window_seek
 * elsewhere.  Memory per reader is bounded by the window plus one chunk
 * kept behind the read position (reads that the kernel sends slightly out
 * of order still hit).  Counts readahead_bytes_used / _wasted (stats.h). */
#ifndef GLUEFS_READER_H
#define GLUEFS_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

/* ---- worker pool ---- */

struct reader_job {
    struct reader_job *next;           /* owned by the pool while queued */
    void (*run)(struct reader_job *j); /* called once on a pool thread */
};

struct reader_pool;

/* Start THREADS threads.  Returns 0 or -errno. */
int reader_pool_new(unsigned threads, struct reader_pool **out);
/* Queue J (FIFO); J must stay valid until its run() returns. */
void reader_pool_submit(struct reader_pool *p, struct reader_job *j);
/* Run the jobs still queued, stop and join the threads, free P. */
void reader_pool_free(struct reader_pool *p);

/* ---- read-ahead ---- */

struct reader_params {
    uint64_t window_first; /* bytes, first window for a read at offset 0 */
    uint64_t window_seek;  /* bytes, first window after a seek */
    uint64_t window_max;   /* bytes, largest window (readahead=) */
    uint64_t chunk_max;    /* bytes, largest single ranged GET */
    unsigned inflight_max; /* GETs in flight per reader */
};

/* Read-ahead memory of all readers together: a reader starts no
 * read-ahead GET while the chunks of all readers hold more than
 * max(2 x its window_max, READER_MEM_MIN) bytes (reads still fetch what
 * they need). */
#define READER_MEM_MIN ((uint64_t)16 << 20)

struct reader;

/* A reader of BUCKET/KEY, whose size is SIZE bytes.  Strings are copied.
 * Returns 0 or -ENOMEM. */
int reader_new(struct store *s, struct reader_pool *pool, const char *bucket,
               const char *key, uint64_t size, const struct reader_params *p,
               struct reader **out);

/* Read up to LEN bytes at OFF into BUF.  Returns the number of bytes read
 * (short only at the end of the object, 0 past it) or the store's
 * negative errno.  Safe from several threads at once. */
ssize_t reader_read(struct reader *r, char *buf, size_t len, uint64_t off);

/* Cancel the GETs in flight, wait for them and free R. */
void reader_free(struct reader *r);

/* Current window size in bytes (for tests). */
uint64_t reader_window(struct reader *r);

/* Bytes of chunk memory held by all readers of the process; *IDLE (may be
 * NULL) gets the bytes kept mapped for reuse (at most 32 MiB).  The
 * process maps at most their sum for read-ahead. */
uint64_t reader_mem_bytes(uint64_t *idle);

#endif
