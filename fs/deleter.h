/* deleter.h - batched deletes for the s3/ namespace (`rm -r` at the
 * speed of DeleteObjects).
 *
 * An unlink queues its key on the bucket's pending set and returns; a
 * flusher thread sends the pending keys as one DeleteObjects (store.h
 * del_many, at most STORE_DEL_MANY_MAX keys) when a batch is full, when
 * no unlink arrived for DELETER_IDLE_MS, or at once when something needs
 * them gone.  The first few unlinks of a burst are sent one at a time
 * while the caller waits (an isolated `rm f` is done when it returns, as
 * other clients expect); from the DELETER_SYNC_FIRST + 1st quick unlink in
 * a row on, they are queued.
 *
 * Nothing pending is ever seen or overtaken: the deleter is also a store
 * (deleter_store()) wrapping the real one, and each of its requests
 * first waits until the deletes it could observe or undo are answered:
 *   - list and list_from of PREFIX: the pending keys that start with
 *     PREFIX;
 *   - head, get, put, mpu_create, mpu_complete, del of KEY, copy from or
 *     to KEY: KEY itself;
 *   - list_buckets, mpu_part, mpu_abort: nothing.
 * Waiting sends the batch holding such a key at once.
 *
 * A key the store fails to delete (a per-key <Error> of DeleteObjects, or
 * the whole request failing) is logged with bucket, key and S3 error code,
 * and reported through the FAILED callback, which makes the name visible
 * again (the s3/ namespace drops its cached attributes and listings).
 *
 * A server that does not implement DeleteObjects (del_many -ENOSYS, or a
 * store without it) gets one DeleteObject per key, and unlinks wait for
 * them, for the rest of the mount. */
#ifndef GLUEFS_DELETER_H
#define GLUEFS_DELETER_H

#include "store.h"

#define DELETER_IDLE_MS 5       /* no unlink for this long: send */
#define DELETER_SYNC_FIRST 3    /* unlinks of a burst sent synchronously */
#define DELETER_BURST_GAP_MS 50 /* an unlink this soon after the last one
                                   returned belongs to the same burst */
#define DELETER_PENDING_MAX (4 * STORE_DEL_MANY_MAX) /* queued keys, at most:
                                   an unlink beyond waits for room */

/* Called (from the flusher thread, no lock held) for each key whose
 * delete failed; ERR is a negative errno. */
typedef void (*deleter_failed_cb)(const char *bucket, const char *key,
                                  int err);

struct deleter;

/* Wrap INNER (not owned: the caller frees it after deleter_free).
 * Starts the flusher thread.  Returns 0, -ENOMEM or -errno from
 * pthread_create. */
int deleter_new(struct store *inner, deleter_failed_cb failed,
                struct deleter **out);

/* The wrapping store: requests go to INNER after the waits above.  Valid
 * until deleter_free; its ops->free does nothing. */
struct store *deleter_store(struct deleter *d);

/* Delete KEY of BUCKET: queued (returns 0 at once) or, for the first
 * unlinks of a burst and without DeleteObjects, sent now (returns the
 * store's 0 or -errno). */
int deleter_unlink(struct deleter *d, const char *bucket, const char *key);

/* Send everything pending and wait until it is answered. */
void deleter_flush(struct deleter *d);

/* Flush, stop the thread and free D (NULL is fine). */
void deleter_free(struct deleter *d);

#endif
