/* instream.h - sequential byte sources for the record readers: an object
 * in the store (large ranged GETs), a memory block, or a decompressor
 * (gzip, bzip2, zstd) stacked on another source.
 *
 * Data flows one way: object store -> instream -> record readers
 * (csv.h, json.h) -> crawler | job SQL (DESIGN.md 6). */
#ifndef GLUEFS_INSTREAM_H
#define GLUEFS_INSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;

enum compression {
    COMP_NONE = 0,
    COMP_GZIP,  /* RFC 1952, magic 1f 8b; concatenated members are read */
    COMP_BZIP2, /* magic "BZh" */
    COMP_ZSTD,  /* RFC 8878, magic 28 b5 2f fd */
};

/* Name as Glue writes it in a table's "compressionType": "none", "gzip",
 * "bzip2", "zstd". */
const char *compression_name(enum compression c);

/* Detect compression from the first N bytes (N >= 4 recommended). */
enum compression compression_detect(const void *magic, size_t n);

struct instream {
    /* Read up to N bytes into BUF.  Returns bytes read (> 0), 0 at the end,
     * or a negative errno: -EIO (store), -EBADMSG (corrupt or truncated
     * compressed data), -ENOMEM. */
    ssize_t (*read)(struct instream *in, void *buf, size_t n);
    /* Free the stream and any stream it wraps. */
    void (*free)(struct instream *in);
    uint64_t raw_bytes; /* bytes taken from the underlying source so far
                           (for an object: bytes downloaded) */
};

/* An object read front to back with ranged GETs of CHUNK bytes (0: 8 MiB),
 * one chunk fetched ahead in a background thread.  SIZE is the object's
 * size (from the listing).  LIMIT caps the bytes downloaded (UINT64_MAX:
 * all); a stream cut by LIMIT simply ends there.  Adds to
 * STAT_bytes_downloaded through the store. */
int instream_object(struct store *s, const char *bucket, const char *key,
                    uint64_t size, uint64_t limit, size_t chunk,
                    struct instream **out);

/* N bytes at DATA (borrowed: must outlive the stream). */
int instream_memory(const void *data, size_t n, struct instream **out);

/* Stack a decompressor for C on IN (taking ownership of IN; COMP_NONE
 * returns IN itself).  MAX_OUT caps the decompressed bytes (UINT64_MAX:
 * none); past it the stream ends with -EFBIG. */
int instream_decompress(struct instream *in, enum compression c,
                        uint64_t max_out, struct instream **out);

/* Peek at IN's first bytes, detect the compression and stack the matching
 * decompressor (taking ownership of IN).  *DETECTED may be NULL. */
int instream_auto(struct instream *in, uint64_t max_out,
                  enum compression *detected, struct instream **out);

/* Sample mode, for a bounded prefix of an object (e.g. instream_object
 * with LIMIT = 1 MiB, as the crawler reads): like instream_decompress /
 * instream_auto, but when the underlying data ends inside a compressed
 * stream the decompressed stream simply ends there (read returns 0)
 * instead of failing with -EBADMSG.  Corrupt data is still -EBADMSG and
 * MAX_OUT still gives -EFBIG. */
int instream_decompress_sample(struct instream *in, enum compression c,
                               uint64_t max_out, struct instream **out);
int instream_auto_sample(struct instream *in, uint64_t max_out,
                         enum compression *detected, struct instream **out);

/* Notes on the implementation (all streams):
 * - Errors are sticky: after a read fails, later reads return the same
 *   error.  An object stream passes the store's errno through (-EIO,
 *   -ENOENT, -EACCES, ...).
 * - Concatenated gzip members and bzip2 streams are read one after the
 *   other; bytes after the last member that do not start another one are
 *   ignored (as gzip does).  Empty input decompresses to empty output.
 * - raw_bytes of a decompressor or of instream_auto's stream mirrors the
 *   bottom source's raw_bytes (bytes downloaded for an object).  An object
 *   stream counts a chunk when the reader reaches it (the chunk fetched
 *   ahead is not counted until then).
 * - An object shorter than SIZE simply ends early.
 * - A decompressor stacked (directly or through instream_auto) on an
 *   object stream that LIMIT cut short behaves as in sample mode: the
 *   compressed data ending there is the limit, not corruption. */

/* Read until N bytes or the end; returns bytes read or -errno. */
ssize_t instream_read_full(struct instream *in, void *buf, size_t n);

void instream_free(struct instream *in);

#endif
