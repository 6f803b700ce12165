/* writer_upload.h - the content of one file open for writing, and how it
 * reaches the store (DESIGN.md 2).
 *
 * Two modes:
 *  - streaming (a new file, or O_TRUNC): the file is cut into parts at
 *    fixed offsets (upload_part_offset()).  Part 1 is held in memory until
 *    upload_flush(); parts 2.. are uploaded as they fill, as parts of one
 *    multipart upload, by pool threads, at most parts_in_flight at once
 *    (the writer blocks beyond that).  Each part sent is also copied into
 *    a ring file in cache_dir holding the last 16 parts (16 x part_size
 *    bytes, overwritten in place).  Writes, reads and truncates inside
 *    part 1, the part being filled or the ring are served there (patched
 *    parts go up again at flush); further back they fail with EIO (the
 *    error sticks).  A file that never fills a part is a single PUT in
 *    upload_flush().  Memory per file: at most (parts_in_flight + 2) x
 *    part_size (part 1, the part being filled, the parts in flight).
 *  - staged: the content lives in an unlinked 0600 temp file in
 *    cache_dir (loaded from the object first when asked), and is uploaded
 *    in upload_flush(): one PUT up to part_size, else multipart from the
 *    file.  A stream that is written again after its multipart upload
 *    completed becomes staged by downloading the object.
 * Part sizes double every 1000 parts so that 10,000 parts (S3's limit)
 * hold any file.  Nothing is visible in the store until upload_flush()
 * succeeds (PUT or CompleteMultipartUpload); on any failure the multipart
 * upload is aborted and the error sticks: every later call returns it.
 * All functions are safe from several threads. */
#ifndef GLUEFS_WRITER_UPLOAD_H
#define GLUEFS_WRITER_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

struct reader_pool;

struct upload_params {
    uint64_t part_size;       /* bytes, >= STORE_PART_MIN */
    unsigned parts_in_flight; /* >= 1 */
    const char *cache_dir;    /* created (0700) when first needed */
};

struct upload;

/* A file of BUCKET/KEY whose content starts empty (streaming).  Strings
 * are copied; P->cache_dir must outlive the upload.  The new content is
 * dirty: upload_flush() writes it even if nothing is written. */
int upload_new_stream(struct store *s, struct reader_pool *pool,
                      const char *bucket, const char *key,
                      const struct upload_params *p, struct upload **out);

/* A file of BUCKET/KEY staged in cache_dir, starting with the object's
 * current SIZE bytes (downloaded now; SIZE 0 downloads nothing).  Not
 * dirty until written or truncated.  Returns 0 or the store's -errno
 * (the object could not be read) or -errno from cache_dir. */
int upload_new_staged(struct store *s, struct reader_pool *pool,
                      const char *bucket, const char *key, uint64_t size,
                      const struct upload_params *p, struct upload **out);

/* Metadata for the object (NULL: none), used when the upload is
 * created; upload_flush() replaces it. */
void upload_set_meta(struct upload *u, const struct store_meta *meta);

/* Keep (default) or do not keep the ring copy of the parts sent in
 * cache_dir (only before part 2 went up).  Without it a write, read or
 * truncate behind the part being filled (other than in part 1) fails
 * with EIO.  For copies that are written once, front to back. */
void upload_set_spill(struct upload *u, bool keep);

/* Write LEN bytes at OFF.  Returns LEN or -errno. */
ssize_t upload_write(struct upload *u, const char *buf, size_t len,
                     uint64_t off);
/* Read from the content written so far (switching to staging if the
 * bytes are no longer in memory).  Returns bytes read or -errno. */
ssize_t upload_read(struct upload *u, char *buf, size_t len, uint64_t off);
/* Set the size to SIZE bytes (cut or zero-filled).  0 or -errno. */
int upload_truncate(struct upload *u, uint64_t size);

/* Current size in bytes. */
uint64_t upload_size(struct upload *u);
/* True if there is content not yet in the store. */
bool upload_dirty(struct upload *u);
/* True while the file streams (false once staged). */
bool upload_streaming(struct upload *u);

/* Make the content the object BUCKET/KEY, with META (NULL: keep the one
 * set), if it is dirty.  When a multipart upload was created with other
 * metadata, the completed object is copied onto itself with META.  Returns 0 (nothing to do, or uploaded: *UPLOADED set) or the
 * sticky -errno.  UPLOADED may be NULL. */
int upload_flush(struct upload *u, const struct store_meta *meta,
                 bool *uploaded);

/* Abort an unfinished multipart upload, wait for the workers, delete the
 * spill/staging file and free U. */
void upload_free(struct upload *u);

/* Part size used for part number N (1-based) given BASE (for tests). */
uint64_t upload_part_size(uint64_t base, int n);
/* File offset at which part N (1-based) starts given BASE: the sum of
 * the sizes of parts 1..N-1. */
uint64_t upload_part_offset(uint64_t base, int n);

#endif
