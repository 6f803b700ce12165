/* crawl_spec.h - a crawler's spec file (DESIGN.md 4): parsing, copies,
 * and the s3:// URL helpers the crawler shares with it. */
#ifndef GLUEFS_CRAWL_SPEC_H
#define GLUEFS_CRAWL_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#define CRAWL_SPEC_MAX (64u << 10) /* spec text, bytes */

struct crawl_spec {
    char **targets; /* "s3://bucket/prefix/" (prefix "" or ending in '/') */
    size_t ntargets;
    char *database; /* NULL: one database per bucket, named after it */
    char **excludes;
    size_t nexcludes;
    unsigned interval; /* seconds, 0: none */
};

/* Free the N strings of V and V itself (V may be NULL). */
void crawl_strv_free(char **v, size_t n);

/* Append a copy of S[0..LEN) to *V (length *N).  Returns 0 or -ENOMEM. */
int crawl_strv_push(char ***v, size_t *n, const char *s, size_t len)
    __attribute__((warn_unused_result));

/* Append the comma-separated items of VALUE to *V (length *N), trimmed;
 * a comma inside {...} (a glob's alternatives) or after a backslash does
 * not split; empty items are dropped.  Returns 0 or -ENOMEM. */
int crawl_add_list(char ***v, size_t *n, const char *value)
    __attribute__((warn_unused_result));

/* Free what SP holds and zero it. */
void crawl_spec_release(struct crawl_spec *sp);

/* Deep copy SRC into DST (zeroed first).  Returns 0 or -ENOMEM (DST
 * empty). */
int crawl_spec_copy(struct crawl_spec *dst, const struct crawl_spec *src)
    __attribute__((warn_unused_result));

/* Split "s3://bucket/prefix" into BUCKET (BN bytes) and PREFIX (PN bytes,
 * as written).  Returns 0, -EINVAL (not s3://, empty or long bucket) or
 * -ENAMETOOLONG (prefix). */
int crawl_split_url(const char *url, char *bucket, size_t bn, char *prefix,
                    size_t pn);

/* Parse spec TEXT[0..LEN) (keys targets, database, exclude, interval;
 * '#' comments; indented continuation lines extend a list) into SP
 * (zeroed first).  Targets are normalised to "s3://bucket/prefix/";
 * database is sanitised (catalog_sanitize_name).  Without targets it is
 * an error unless ALLOW_NO_TARGETS.  Returns 0, -ENOMEM, or -EINVAL with
 * ERR (ERRLEN bytes) set, e.g. "spec line 3: unknown key 'targte'".  On
 * error SP is empty. */
int crawl_spec_parse(const char *text, size_t len, bool allow_no_targets,
                     struct crawl_spec *sp, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif
