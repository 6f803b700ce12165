/* stats.h - mount-wide counters, rendered as .gluefs/stats (DESIGN.md 1).
 *
 * Counters start at 0 at mount and only grow.  Updates are atomic and
 * cheap enough for the data path. */
#ifndef GLUEFS_STATS_H
#define GLUEFS_STATS_H

#include <stdint.h>

#include "buf.h"

#define STATS_LIST(X)                                                         \
    X(requests_list_buckets)                                                  \
    X(requests_list)                                                          \
    X(requests_head)                                                          \
    X(requests_get)                                                           \
    X(requests_put)                                                           \
    X(requests_create_multipart)                                              \
    X(requests_upload_part)                                                   \
    X(requests_complete_multipart)                                            \
    X(requests_abort_multipart)                                               \
    X(requests_copy)                                                          \
    X(requests_delete)                                                        \
    X(requests_delete_objects)                                                \
    X(keys_deleted)                                                           \
    X(bytes_downloaded)                                                       \
    X(bytes_uploaded)                                                         \
    X(retries)                                                                \
    X(errors)                                                                 \
    X(attr_cache_hits)                                                        \
    X(attr_cache_misses)                                                      \
    X(dir_cache_hits)                                                         \
    X(dir_cache_misses)                                                       \
    X(readahead_bytes_used)                                                   \
    X(readahead_bytes_wasted)                                                 \
    X(crawler_objects_read)                                                   \
    X(crawler_bytes_read)                                                     \
    X(job_bytes_read)                                                         \
    X(job_bytes_written)

enum stat_id {
#define STAT_ENUM(n) STAT_##n,
    STATS_LIST(STAT_ENUM)
#undef STAT_ENUM
    STAT__COUNT
};

/* Add N to counter ID (atomic, relaxed). */
void stats_add(enum stat_id id, uint64_t n);

/* Current value of counter ID. */
uint64_t stats_get(enum stat_id id);

/* Append every counter as "name value\n" to OUT.  Returns 0 or -errno
 * from buf. */
int stats_render(struct buf *out);

#endif
