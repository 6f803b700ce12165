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
    bool partial;             /* JSON: the sample ended inside its first
                                 record (one large document, e.g. a 1.2 MB
                                 GeoJSON object): the columns are those of
                                 the part seen, and a larger sample (Glue
                                 reads JSON up to 10 MB) would show more */
    char reason[256];         /* UNKNOWN: why, e.g. "binary data (NUL bytes
                                 at offset 12)", "empty object" */
};

/* Classify N bytes at DATA.  TRUNCATED says the object continues past the
 * sample (so a partial last record is dropped, not an error).  Fills OUT
 * (zeroed first; fmt.compression "none").  Returns 0 (even for UNKNOWN:
 * see out->reason) or -ENOMEM.
 *
 * In order:
 *  - UNKNOWN "empty object" (0 bytes); "binary data (NUL bytes at offset
 *    N)" or "binary data (invalid UTF-8 at offset N)" (a sequence cut by
 *    the end of a truncated sample is fine).
 *  - JSON when the first non-space byte (after a UTF-8 BOM) is '{' or
 *    '[': JSON Lines of objects, an array of objects, or one object (one
 *    row: a GeoJSON FeatureCollection's members become the columns).
 *    Records that are not objects: UNKNOWN "JSON that is not records
 *    ..."; a syntax error: UNKNOWN "json: line N: ..." (when it comes
 *    before any record and the text reads as CSV of 2+ columns, CSV wins:
 *    "[INFO] ..." logs).  A truncated sample is cut after its last
 *    complete record (or, when not even one is complete, after its last
 *    complete value, closing the open brackets: one partial row).
 *  - CSV: delimiter sniffed among ',' '\t' '|' ';' '\x01' over the first
 *    50 records (the most consistent field count > 1; ties: more fields,
 *    then that order); none splitting: one column; no delimiter giving
 *    the same count in 70% of records and lines not mostly unsplit:
 *    UNKNOWN "inconsistent field counts ...".  fmt.quoted: some field was
 *    quoted.  fmt.header: see infer.c (Glue's rule, and a rule for
 *    all-string files).  Values are typed by infer_text_type, except
 *    that a slashed date alone ("2015/01/01") is string: Hive cannot read
 *    it as DATE.  fmt.ts_forms: the TS_FORM_* bits (catalog.h) of the
 *    values of the columns typed timestamp (for timestamp.formats).
 *    Rows with another field count are counted but not typed.  A
 *    truncated sample ends at its last line end.
 * Column names are lower-cased (control characters -> '_'; empty ->
 * col<i>; repeated CSV header names -> name_1, name_2, ...); headerless
 * CSV columns are col0, col1, ...  A column with no evidence is string.
 * RECORDS counts data records (not the header); SAMPLE_BYTES is the
 * bytes up to the end of the last of them (N when the sample is whole), so
 * that objectSize / (sample_bytes / records) estimates recordCount. */
int infer_sample(const char *data, size_t n, bool truncated,
                 struct infer_result *out);

void infer_result_release(struct infer_result *r);

/* The Hive type of one CSV text value, narrowest first: boolean, bigint,
 * double, date (YYYY-MM-DD, YYYY/MM/DD), timestamp (ISO-8601 with 'T' or
 * ' ', optional fraction and zone; YYYY/MM/DD HH:MM:SS), else string.
 * A number with a leading zero ("007") is string.  Returns NULL for an
 * empty value (NULL: no evidence).
 * Details: booleans are true/false in any case; bigint is an integer
 * that fits int64 (a longer one is string: an id, not a double that loses
 * digits); double has a fraction or an exponent and is finite ("NaN",
 * "inf" are string); dates are checked against the calendar; a timestamp
 * has HH:MM[:SS[.1-9 digits]] and an optional Z, +hh, +hhmm or +hh:mm;
 * surrounding spaces make a value string; Hive's NULL "\N" is NULL. */
const char *infer_text_type(const char *s, size_t n);

/* The narrowest Hive type holding both A and B (Glue's widening:
 * bigint+double -> double, date+timestamp -> timestamp, struct fields
 * merged by name, array<x>+array<y> -> array<merge(x,y)>, anything else
 * -> string).  A NULL side yields the other.  Returns a malloc'd string. */
char *hive_type_merge(const char *a, const char *b);

/* Merge ADD into *COLS and *NCOLS by column name: new columns are appended,
 * common ones widened with hive_type_merge.  Returns 0 or -ENOMEM. */
int schema_merge(struct column **cols, size_t *ncols,
                 const struct column *add, size_t nadd);

void columns_free(struct column *cols, size_t n);

/* ---- Lower level: parsed Hive types (types.c), used by infer.c and by
 * anyone who merges types value by value.
 *
 * A type string is parsed case-insensitively and with any spaces; nested
 * struct<>, array<>, map<> are understood, struct field names may be
 * backquoted; a type it cannot parse is kept as an opaque name that only
 * merges with itself.  "void" is no evidence yet (only nulls, an empty
 * array): it merges to the other side and is written as string.  A
 * struct with no fields (only empty objects seen) is written as string. */
struct htype;
struct jval;

/* Parse S.  Returns NULL only when out of memory. */
struct htype *htype_parse(const char *s);

/* The type of one JSON value: null -> void, true/false -> boolean,
 * integer -> bigint, other number -> double, a string -> date or
 * timestamp when it is an ISO-8601 date / date-time (YYYY-MM-DD,
 * YYYY-MM-DD[T ]HH:MM[:SS[.f]][Z|+hh:mm]), else string; object ->
 * struct (field names lower-cased, and ' ', ':', ',', '<', '>', '`'
 * replaced by '_' so the type string stays parseable; duplicates merged);
 * array -> array<merge of the elements> (void when empty).  Returns NULL
 * only when out of memory. */
struct htype *htype_from_jval(const struct jval *v);

/* *DST = merge(*DST, SRC) (hive_type_merge's rules); SRC is consumed.
 * *DST may be NULL (it becomes SRC).  Returns 0 or -ENOMEM (then *DST is
 * unchanged and SRC freed). */
int htype_merge_into(struct htype **dst, struct htype *src);

/* Write T without spaces, void as string.  A result longer than MAX bytes
 * becomes "string".  Returns a malloc'd string or NULL (out of memory). */
char *htype_format(const struct htype *t, size_t max);

void htype_free(struct htype *t);

/* Normalise a type string: parse and write it back (lower case, no
 * spaces, void and struct<> as string).  Returns a malloc'd string or
 * NULL (out of memory). */
char *hive_type_normalize(const char *t);

#endif
