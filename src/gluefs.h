/* gluefs.h - the mount-wide context shared by the FUSE layer, the
 * crawlers and the jobs.  Created once in main(), lives for the mount. */
#ifndef GLUEFS_GLUEFS_H
#define GLUEFS_GLUEFS_H

#include <sqlite3.h>
#include <stdbool.h>

struct config;
struct store;

struct gluefs {
    struct config *cfg;
    struct store *store; /* the object store (S3 or local) */
    sqlite3 *db;         /* the state store (state.h) */
    char *bucket_filter; /* comma-separated buckets= list, or NULL */
};

/* True if BUCKET is shown (the buckets= filter allows it). */
bool gluefs_bucket_allowed(const struct gluefs *g, const char *bucket);

/* An object was written or deleted behind the FUSE layer's back (a job's
 * output, a crawler never writes): drop the FUSE caches for it and tell
 * the crawlers.  Also called by fs_s3 after its own writes.  Implemented
 * in fs/fs.c; safe from any thread. */
void gluefs_object_changed(const char *bucket, const char *key);

#endif
