/* parquet_meta.h - the Parquet footer (FileMetaData) decoder: column names,
 * Hive types and the exact row count, as the crawler records them.
 *
 * Source: Apache Parquet "File Format" (parquet.thrift) encoded with the
 * Thrift compact protocol.  Only FileMetaData fields 2 (schema) and 3
 * (num_rows) are read; everything else is skipped. */
#ifndef GLUEFS_PARQUET_META_H
#define GLUEFS_PARQUET_META_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

/* Largest footer the crawler fetches, bytes. */
#define PARQUET_FOOTER_MAX (16u << 20)

struct parquet_meta {
    struct column *cols; /* owned; names lower-cased, Hive types */
    size_t ncols;
    int64_t rows;        /* num_rows, or -1 when the footer has none */
};

/* Decode the FileMetaData bytes P[0..LEN) (the footer without the trailing
 * length and "PAR1") into *M, which is zeroed first.  Top-level schema
 * children become columns; nested groups become struct<...>, array<...>,
 * map<...>; a type longer than 1 MiB becomes string.
 * Returns 0, -ENOMEM, or -EBADMSG with *REASON set to a static message
 * ("parquet: damaged footer" or "parquet: damaged schema") and *M empty.
 * The caller releases *M with parquet_meta_release(). */
int parquet_meta_parse(const unsigned char *p, size_t len,
                       struct parquet_meta *m, const char **reason)
    __attribute__((warn_unused_result));

/* Free what *M holds (not M itself) and empty it. */
void parquet_meta_release(struct parquet_meta *m);

#endif
