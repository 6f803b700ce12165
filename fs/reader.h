/* reader.h - read-ahead for one open object, and the worker pool that
 * runs the ranged GETs (and the upload parts of writer_upload.c).
 *
 * A reader keeps a window of consecutive chunks [start, end) of the
 * object.  A read outside the window and more than a chunk past its end
 * (a seek) drops it and starts again small: window_first for a read at
 * offset 0, window_seek elsewhere.  Chunks are fetched ahead of the reads
 * only once 512 KiB were read since the seek (or from offset 0), and a
 * chunk read to its end doubles the window, up to window_max, only once
 * half a window was read since the seek: a random reader never grows it.
 *
 * Until the window reaches 2 MiB (or window_max if smaller), chunks are
 * a quarter of the window (256 KiB to chunk_max), each its own ranged GET
 * on a pool thread, at most inflight_max in flight; chunks a read waits
 * for go to the front of the pool's queue.
 *
 * Streams.  From then on the reader is sequential and its read-ahead is
 * one long ranged GET (a stream) from the window's end, READER_STREAM_LEN
 * bytes or to the object's end, run by one pool job: its data callback
 * fills chunks of at most 1 MiB in order, appending the next one when the
 * last is full, as long as it starts within max_pos + window and the
 * memory cap allows; else it waits (TCP then holds the server back).
 * Readers wait on a stream's chunks as on any chunk; a read past the
 * stream's position appends the chunks it needs for the stream to fill.
 * Why: s3rver (one node thread, the bottleneck) spends far more CPU on
 * many 8 MiB GETs than on one long GET; tools/bench/reader_cmp.py, medians
 * of 4 sets of 3-5 rounds on a fresh s3rver per run, s3rver CPU-s: a
 * 1 GiB cat as 144 chunk GETs 1.6-1.9, as 12 GETs (stream) 1.0-1.6, one
 * curl GET 0.7-1.35; eight 128 MiB cats 250 GETs 1.8-2.8, 60 GETs
 * 1.2-1.6, eight curls 0.9-1.2.  And real S3 bills requests.  A stream ends: at its range's end (the next one starts where
 * it ended, if the window wants more); on a seek, a drop or close (its
 * callback returns -ECANCELED at once, or its wait is woken); after
 * READER_STREAM_STALL_MS without room (a reader paused, e.g. `less`: the
 * GET is not held open, curl's 1 byte/s low-speed abort is never near,
 * and the stream restarts from the window's end when the reader reads
 * on).  Chunks it leaves unfilled become chunk GETs of their missing
 * bytes; a failed stream (after http.c's retries and resumes) fails its
 * unfilled chunks with its error, which reads return as a failed chunk
 * GET's.  At most half the pool's threads stream at once (8 of 16): the
 * others serve chunk GETs; readers beyond that keep chunk GETs.  Bytes a
 * stream received but could not place when it ended count as
 * readahead_bytes_wasted; bytes still in socket buffers are not seen
 * (at most a few MiB per ended stream, sent by the server all the same,
 * hence no stream before the reader is sequential).
 *
 * Memory: chunk bytes are 256 KiB mmap'd segments shared by all readers
 * through a free list (at most 32 MiB kept idle); per reader the window
 * plus max(one chunk, 2 MiB) kept behind the read position (the kernel
 * sends reads slightly out of order), and all readers together start no
 * read-ahead (and no stream fills a new chunk) beyond READER_MEM_MIN /
 * 2 x window_max (below).  Counts readahead_bytes_used / _wasted
 * (stats.h). */
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
/* Queue J (FIFO, after the chunks reads wait for); J must stay valid
 * until its run() returns. */
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

/* A stream waiting this long for room (its reader paused) ends its GET;
 * the next starts from the window's end once the reader reads on. */
#define READER_STREAM_STALL_MS 3000u
/* Bytes of one stream GET at most (the last one of an object takes up
 * to half of this more rather than leave a short one). */
#define READER_STREAM_LEN ((uint64_t)256 << 20)

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
