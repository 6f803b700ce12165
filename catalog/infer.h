/* infer.h - classification and schema inference from a bounded sample.
 *
 * Pure functions over bytes that are already decompressed: no I/O.  The
 * crawler fetches the sample (the first sample_bytes of an object,
 * decompressed, Glue's "first 1 MB") and calls infer_sample().
 * Order as Glue's built-in classifiers: JSON, then CSV (Parquet by its
 * footer is read elsewhere).  Types are Hive types (types.h). */
#ifndef GLUEFS_INFER_H
#define GLUEFS_INFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"

struct infer_result {
    struct table_format fmt;  /* classification "csv", "json" or "UNKNOWN";
                                 compression left for the caller to set */
    struct column *cols;      /* owned */
    size_t ncols;
    uint64_t records;         /* records seen in the sample */
    uint64_t sample_bytes;    /* bytes of the sample that held them */
    char reason[256];         /* UNKNOWN: why, e.g. "binary data (NUL bytes
                                 at offset 12)", "empty object" */
};

/* Classify N bytes at DATA.  TRUNCATED says the object continues past the
 * sample (so a partial last record is dropped, not an error).  Fills OUT
 * (zeroed first).  Returns 0 (even for UNKNOWN: see out->reason) or
 * -ENOMEM. */
int infer_sample(const char *data, size_t n, bool truncated,
                 struct infer_result *out);

void infer_result_release(struct infer_result *r);

/* The Hive type of one CSV text value, narrowest first: boolean, bigint,
 * double, date (YYYY-MM-DD, YYYY/MM/DD), timestamp (ISO-8601 with 'T' or
 * ' ', optional fraction and zone; YYYY/MM/DD HH:MM:SS), else string.
 * A number with a leading zero ("007") is string.  Returns NULL for an
 * empty value (NULL: no evidence). */
const char *infer_text_type(const char *s, size_t n);

/* The narrowest Hive type holding both A and B (Glue's widening:
 * bigint+double -> double, date+timestamp -> timestamp, struct fields
 * merged by name, array<x>+array<y> -> array<merge(x,y)>, anything else
 * -> string).  A NULL side yields the other.  Returns a malloc'd string. */
char *hive_type_merge(const char *a, const char *b);

/* Merge ADD into *COLS/*NCOLS by column name: new columns are appended,
 * common ones widened with hive_type_merge.  Returns 0 or -ENOMEM. */
int schema_merge(struct column **cols, size_t *ncols,
                 const struct column *add, size_t nadd);

void columns_free(struct column *cols, size_t n);

#endif
