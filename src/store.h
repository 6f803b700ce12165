/* store.h - the object-store interface: S3 (store_s3.c) and a local folder
 * (store_local.c) behind one vtable, as curl's vtls/ does for TLS.
 *
 * Names follow the S3 API: bucket, key, prefix, ETag, multipart upload.
 * Every function returns 0 or a negative errno; remote status maps to
 * errno in one place per backend (DESIGN.md 2):
 *   404 -> -ENOENT, 403 -> -EACCES, 409 -> -EEXIST (or -ENOTEMPTY for a
 *   bucket), 412 -> -ESTALE, 5xx / timeouts after retries -> -EIO,
 *   400 InvalidArgument-like -> -EINVAL, out of memory -> -ENOMEM.
 * All functions are safe to call from many threads at once.  Every call
 * adds to the matching requests_* counter in stats.h (the local backend
 * counts too, so .gluefs/stats means the same on both stores). */
#ifndef GLUEFS_STORE_H
#define GLUEFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct config;

#define STORE_ETAG_MAX 80 /* ETag text without quotes, NUL-terminated */

/* POSIX attributes kept with an object as x-amz-meta-mode, -uid, -gid and
 * -mtime (the headers s3fs uses; mtime in whole seconds since the epoch,
 * mode as decimal text of st_mode, as s3fs writes it). */
struct store_meta {
    bool has_mode, has_uid, has_gid, has_mtime;
    uint32_t mode; /* st_mode bits, including S_IFREG/S_IFDIR */
    uint32_t uid, gid;
    int64_t mtime; /* seconds since the epoch */
};

/* One row of a listing.  Pointers are valid only during the callback. */
struct store_entry {
    const char *key;  /* full key; for a common prefix, ends in delimiter;
                         for ListBuckets, the bucket name */
    bool is_prefix;   /* a CommonPrefixes entry */
    uint64_t size;    /* bytes (0 for prefixes) */
    int64_t mtime;    /* LastModified, seconds since the epoch (0 if none) */
    const char *etag; /* without quotes; "" for prefixes */
};

/* Listing callback: return 0 to go on, a positive value to stop early
 * (the list call then returns 0), or a negative errno to abort (returned
 * as is). */
typedef int (*store_list_cb)(void *ctx, const struct store_entry *e);

/* Data callback for GET: called with consecutive pieces of the body.
 * Return 0 to go on or a negative errno to abort (returned as is). */
typedef int (*store_data_cb)(void *ctx, const void *data, size_t len);

struct store_head {
    uint64_t size;
    int64_t mtime; /* x-amz-meta-mtime if present, else Last-Modified */
    char etag[STORE_ETAG_MAX];
    struct store_meta meta;
};

struct store_part {
    int number; /* 1..10000 */
    char etag[STORE_ETAG_MAX];
};

struct store;

struct store_ops {
    const char *name; /* "s3" or "local" */

    /* ListBuckets: one entry per bucket (key = name, mtime = creation). */
    int (*list_buckets)(struct store *s, store_list_cb cb, void *ctx);

    /* ListObjectsV2 of every page under PREFIX ("" for all).  DELIMITER
     * is "/" for one level or NULL for a recursive listing.  Entries come
     * in S3 order (UTF-8 binary) page by page; prefixes are reported with
     * is_prefix.  -ENOENT if the bucket does not exist. */
    int (*list)(struct store *s, const char *bucket, const char *prefix,
                const char *delimiter, store_list_cb cb, void *ctx);

    /* HeadObject. */
    int (*head)(struct store *s, const char *bucket, const char *key,
                struct store_head *out);

    /* GetObject of bytes [OFF, OFF+LEN) (Range header); LEN UINT64_MAX
     * means to the end.  A range starting at or past the end gives 0 bytes
     * and returns 0.  The body is streamed to CB. */
    int (*get)(struct store *s, const char *bucket, const char *key,
               uint64_t off, uint64_t len, store_data_cb cb, void *ctx);

    /* PutObject of LEN bytes with optional META (NULL: none). */
    int (*put)(struct store *s, const char *bucket, const char *key,
               const void *data, size_t len, const struct store_meta *meta);

    /* CreateMultipartUpload; *UPLOAD_ID is malloc'd and owned by the
     * caller. */
    int (*mpu_create)(struct store *s, const char *bucket, const char *key,
                      const struct store_meta *meta, char **upload_id);
    /* UploadPart number PART (1..10000); fills OUT. */
    int (*mpu_part)(struct store *s, const char *bucket, const char *key,
                    const char *upload_id, int part, const void *data,
                    size_t len, struct store_part *out);
    /* CompleteMultipartUpload with NPARTS parts in ascending order.  The
     * object appears only now, whole. */
    int (*mpu_complete)(struct store *s, const char *bucket, const char *key,
                        const char *upload_id, const struct store_part *parts,
                        int nparts);
    /* AbortMultipartUpload. */
    int (*mpu_abort)(struct store *s, const char *bucket, const char *key,
                     const char *upload_id);

    /* CopyObject SRC -> DST.  META NULL keeps the source's metadata
     * (COPY directive); otherwise it replaces it (REPLACE directive). */
    int (*copy)(struct store *s, const char *src_bucket, const char *src_key,
                const char *dst_bucket, const char *dst_key,
                const struct store_meta *meta);

    /* DeleteObject.  Deleting a missing key returns 0 (as S3 does). */
    int (*del)(struct store *s, const char *bucket, const char *key);

    /* Release everything the store holds, and the store itself. */
    void (*free)(struct store *s);
};

/* One key DeleteObjects could not delete: ERR is a negative errno (from
 * CODE through store_http_errno()), CODE S3's error code ("" if none) and
 * MESSAGE its text ("" if none).  Pointers are valid only during the
 * call. */
typedef void (*store_del_error_cb)(void *ctx, const char *key, int err,
                                   const char *code, const char *message);

/* Operations added after store_ops was fixed, kept apart so that a store
 * written against the older table (a test's wrapper) still compiles: a
 * store whose `ext` is NULL has none of them and callers fall back to the
 * plain operations. */
struct store_ext_ops {
    /* DeleteObjects of N keys (1..STORE_DEL_MANY_MAX) of BUCKET, in one
     * request (POST ?delete, Quiet, with Content-MD5).  Returns 0 when the
     * request was answered: every key is then deleted (a missing key
     * counts as deleted) except those reported to CB (may be NULL), once
     * each.  Returns -ENOSYS when the server does not implement
     * DeleteObjects (501 NotImplemented, 405): nothing was deleted and the
     * caller deletes one key at a time.  Other -errno: the request failed
     * as a whole; any key may or may not be deleted.  Counted as
     * requests_delete_objects, and keys_deleted for the keys deleted. */
    int (*del_many)(struct store *s, const char *bucket,
                    const char *const *keys, size_t n,
                    store_del_error_cb cb, void *ctx);

    /* As list, starting after key START_AFTER (ListObjectsV2 start-after;
     * NULL or "": from the start). */
    int (*list_from)(struct store *s, const char *bucket, const char *prefix,
                     const char *start_after, const char *delimiter,
                     store_list_cb cb, void *ctx);
};

/* Keys one DeleteObjects request may carry (S3's limit). */
#define STORE_DEL_MANY_MAX 1000

/* Every backend's struct begins with this. */
struct store {
    const struct store_ops *ops;
    const struct store_ext_ops *ext; /* NULL: no extended operations */
};

/* Largest object a single PUT may carry before callers must use a
 * multipart upload (S3: 5 GiB). */
#define STORE_PUT_MAX (5ULL << 30)
/* S3's multipart limits ("Amazon S3 multipart upload limits"). */
#define STORE_PART_MIN (5ULL << 20)
#define STORE_PART_MAX (5ULL << 30)
#define STORE_PARTS_MAX 10000

/* Create the S3 backend from a resolved configuration (endpoint, region,
 * credentials, addressing style).  Returns 0 or -errno; on error writes a
 * message (never holding a secret) to ERR. */
int store_s3_new(const struct config *cfg, struct store **out, char *err,
                 size_t errlen);

/* Create the local backend over ROOT: each subfolder is a bucket, each
 * file below it an object whose key is its relative path.  Writes are
 * atomic (temp file + rename). */
int store_local_new(const char *root, struct store **out, char *err,
                    size_t errlen);

/* Convenience: read a whole object (at most MAX bytes, else -E2BIG) into a
 * malloc'd buffer.  *DATA is NUL-terminated; *LEN excludes the NUL. */
int store_get_all(struct store *s, const char *bucket, const char *key,
                  size_t max, char **data, size_t *len);

/* Map an HTTP status (and S3 error Code, may be NULL) to a negative errno,
 * per the table above.  Shared by backends and tests. */
int store_http_errno(long status, const char *code);

#endif
