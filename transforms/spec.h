/* spec.h - a job's spec (DESIGN.md 5): `key = value` lines.
 *
 *   source       = weather.seattle          # catalog table, or s3://b/p/
 *   source.o     = sales.orders             # a source named by alias
 *   sql          = SELECT date FROM seattle
 *                  WHERE weather = 'rain'   # continuation lines
 *   target       = s3://curated/rainy/      # required
 *   format       = csv | json               # parquet: not supported yet
 *   partition_by = year, month
 *   compression  = none | gzip | bzip2 | zstd
 *   mode         = append | overwrite | error_if_exists
 *   target_table = curated.rainy_days
 *
 * `#` starts a comment at the start of a line or after whitespace, but not
 * inside a single-quoted SQL string literal.  A line that begins with
 * whitespace continues the previous value (joined with '\n').  Keys are
 * lower case; unknown or repeated keys, missing source/target and bad
 * values are errors that name the line: "spec line 4: unknown key
 * 'fromat'". */
#ifndef GLUEFS_SPEC_H
#define GLUEFS_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "instream.h"

#define SPEC_MAX_TEXT (1u << 20)  /* bytes of spec text accepted */
#define SPEC_MAX_SOURCES 16
#define SPEC_MAX_PARTITION_BY 16

struct spec_source {
    char *name;     /* the SQL table name: alias, table name, or the last
                       folder of an s3:// prefix (never NULL) */
    char *ref;      /* as written: "db.table" or "s3://bucket/prefix/" */
    bool is_s3;
    char *database; /* catalog source: sanitised database and table names */
    char *table;
    char *bucket;   /* s3:// source: bucket and prefix ("" or ends in '/') */
    char *prefix;
    int line;       /* spec line of the key */
};

enum spec_format { SPEC_FORMAT_DEFAULT = 0, SPEC_FORMAT_CSV,
                   SPEC_FORMAT_JSON };
enum spec_mode { SPEC_MODE_APPEND = 0, SPEC_MODE_OVERWRITE,
                 SPEC_MODE_ERROR_IF_EXISTS };

struct spec {
    struct spec_source *sources; /* in spec order */
    size_t nsources;
    char *sql;                   /* NULL: copy/convert the one source */
    char *target;                /* "s3://bucket/prefix/" (ends in '/') */
    char *target_bucket;
    char *target_prefix;         /* never "" ; ends in '/' */
    enum spec_format format;     /* DEFAULT: the first source's format */
    char **partition_by;         /* column names, in folder order */
    size_t npartition_by;
    enum compression compression;
    enum spec_mode mode;
    char *target_database;       /* target_table, or NULLs */
    char *target_table;
};

/* Parse LEN bytes of TEXT into a new *OUT (free with spec_free).  Returns
 * 0, -EINVAL with a message in ERR ("spec line N: ..." or "spec: ..."),
 * or -ENOMEM. */
int spec_parse(const char *text, size_t len, struct spec **out, char *err,
               size_t errlen) __attribute__((warn_unused_result));

void spec_free(struct spec *s);

const char *spec_format_name(enum spec_format f); /* "csv", "json", "" */
const char *spec_mode_name(enum spec_mode m);

/* Split "s3://bucket/prefix" into malloc'd *BUCKET and *PREFIX (prefix ""
 * or ending in '/').  Returns 0 or -EINVAL (not s3://, bad bucket name,
 * empty segment) or -ENOMEM. */
int spec_split_s3(const char *url, char **bucket, char **prefix);

#endif
