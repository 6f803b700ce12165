/* attrcache.h - the s3/ namespace's attribute and listing caches.
 *
 * Paths are fs_s3 paths: "/bucket" or "/bucket/dir/key", never with a
 * trailing '/'.  Entries expire after the TTL given when they were put
 * (seconds, CLOCK_MONOTONIC); both caches are bounded (least recently used
 * entries are evicted first) and safe to use from many threads. */
#ifndef GLUEFS_ATTRCACHE_H
#define GLUEFS_ATTRCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum attr_kind {
    ATTR_FILE = 1,
    ATTR_DIR,
    ATTR_NEG, /* known not to exist */
};

struct attr {
    enum attr_kind kind;
    uint64_t size;   /* bytes (files) */
    int64_t mtime;   /* seconds since the epoch */
    char etag[STORE_ETAG_MAX];
    struct store_meta meta; /* from a HEAD (or set by us); listings leave it empty */
};

/* One entry of a cached listing. */
struct listing_entry {
    const char *name; /* one path segment, points into the listing */
    bool is_dir;
    uint64_t size;
    int64_t mtime;
    const char *etag; /* "" for folders */
};

/* An immutable, reference-counted folder listing. */
struct listing {
    int refs;       /* owned by attrcache; use listing_ref/listing_unref */
    size_t n;
    struct listing_entry *e; /* sorted by name, unique names */
    size_t bytes;   /* memory held, for the cache's cap */
};

struct attrcache;

/* Create a cache holding at most MAX_ATTRS attribute entries and
 * MAX_LISTING_ENTRIES listing rows in total.  Returns 0 or -ENOMEM. */
int attrcache_new(size_t max_attrs, size_t max_listing_entries,
                  struct attrcache **out);
void attrcache_free(struct attrcache *c);

/* Store A for PATH for TTL seconds (TTL 0: nothing is stored).  When
 * KEEP_META is set and the entry already cached has meta for the same
 * ETag, that meta is kept (a listing knows no meta). */
void attrcache_put(struct attrcache *c, const char *path, const struct attr *a,
                   double ttl, bool keep_meta);

/* Copy the live entry for PATH to OUT.  Returns 0, or -ENOENT on a miss
 * (not cached or expired; a cached negative entry is a hit with kind
 * ATTR_NEG). */
int attrcache_get(struct attrcache *c, const char *path, struct attr *out);

/* Forget PATH's attributes. */
void attrcache_drop(struct attrcache *c, const char *path);

/* Build a listing from N entries (names are copied; the array is not
 * kept).  Entries are sorted and duplicate names merged, a folder winning
 * over a file of the same name.  Returns NULL when out of memory. */
struct listing *listing_build(const struct listing_entry *e, size_t n);
void listing_ref(struct listing *l);
void listing_unref(struct listing *l);
/* Find NAME in L (binary search); NULL if absent. */
const struct listing_entry *listing_find(const struct listing *l,
                                         const char *name);

/* Cache L (the cache takes a reference) as the listing of folder PATH for
 * TTL seconds. */
void attrcache_put_listing(struct attrcache *c, const char *path,
                           struct listing *l, double ttl);
/* The live listing of PATH with a reference for the caller, or NULL. */
struct listing *attrcache_get_listing(struct attrcache *c, const char *path);
/* The same, also giving the seconds it has left to live in *TTL_LEFT. */
struct listing *attrcache_get_listing_ttl(struct attrcache *c,
                                          const char *path, double *ttl_left);

/* A copy of L in which NAME is E (added, or replacing the entry of that
 * name; E->name is ignored) or, with E NULL, absent.  The caller owns the
 * copy (one reference).  O(n) in L's entries.  NULL when out of memory. */
struct listing *listing_patch(const struct listing *l, const char *name,
                              const struct listing_entry *e);
void attrcache_drop_listing(struct attrcache *c, const char *path);

/* Forget everything. */
void attrcache_clear(struct attrcache *c);

/* Number of live attribute entries and listings (for tests). */
size_t attrcache_count(struct attrcache *c);
size_t attrcache_listing_count(struct attrcache *c);

#endif
