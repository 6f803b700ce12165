/* s3xml.h - parsers (expat) for the XML bodies S3 returns.
 *
 * Documents (Amazon S3 API Reference): ListAllMyBucketsResult,
 * ListBucketResult (ListObjectsV2), InitiateMultipartUploadResult,
 * CopyObjectResult, CompleteMultipartUploadResult, DeleteResult and Error.  Every
 * parser takes a whole body of at most S3XML_BODY_MAX bytes; each element
 * text is capped at S3XML_TEXT_MAX bytes and nesting at 32 levels, so bad
 * input cannot grow memory without bound.
 *
 * Returns: 0; -EREMOTEIO when the body is an <Error> document (CopyObject
 * and CompleteMultipartUpload may answer 200 with one) with ERR filled
 * when ERR is not NULL; -EPROTO for malformed XML or a document of another
 * kind; -E2BIG past a cap; -ENOMEM. */
#ifndef GLUEFS_S3XML_H
#define GLUEFS_S3XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define S3XML_BODY_MAX (64u << 20) /* a listing page body: 64 MiB */
#define S3XML_TEXT_MAX (64u << 10) /* one element's text */
#define S3XML_PAGE_MAX 100000      /* entries in one listing page */

struct s3xml_error {
    char code[64];     /* e.g. "NoSuchKey"; "" if absent */
    char message[256]; /* S3's message, truncated; "" if absent */
    char region[32];   /* <Region> (AuthorizationHeaderMalformed and
                          redirects name the bucket's region); "" if absent */
};

/* Parse an <Error> document into OUT.  Returns 0, or -EPROTO when BODY is
 * not an Error document (OUT then holds empty strings). */
int s3xml_parse_error(const char *body, size_t len, struct s3xml_error *out);

/* ListAllMyBucketsResult: CB once per bucket (key = name, mtime =
 * CreationDate), in document order.  A positive CB return stops early and
 * is returned; a negative one is returned as is. */
int s3xml_parse_list_buckets(const char *body, size_t len, store_list_cb cb,
                             void *ctx, struct s3xml_error *err);

/* One ListObjectsV2 page. */
struct s3xml_list_page {
    struct store_entry *entries; /* Contents and CommonPrefixes merged in
                                    key order (UTF-8 binary); strings owned
                                    by the page */
    size_t n;
    bool truncated;   /* IsTruncated */
    char *next_token; /* NextContinuationToken (owned) or NULL */
};

/* Parse a ListBucketResult into PAGE (initialised here; release with
 * s3xml_list_page_release even on error).  With <EncodingType>url</...>
 * keys and prefixes are percent-decoded. */
int s3xml_parse_list_objects(const char *body, size_t len,
                             struct s3xml_list_page *page,
                             struct s3xml_error *err);
void s3xml_list_page_release(struct s3xml_list_page *page);

/* InitiateMultipartUploadResult: *UPLOAD_ID malloc'd, owned by caller. */
int s3xml_parse_initiate(const char *body, size_t len, char **upload_id,
                         struct s3xml_error *err);

/* CopyObjectResult: ETag (unquoted) into ETAG[STORE_ETAG_MAX] (may be
 * NULL).  An <Error> body gives -EREMOTEIO. */
int s3xml_parse_copy(const char *body, size_t len, char *etag,
                     struct s3xml_error *err);

/* CompleteMultipartUploadResult: as s3xml_parse_copy. */
int s3xml_parse_complete(const char *body, size_t len, char *etag,
                         struct s3xml_error *err);

/* DeleteResult (DeleteObjects): CB once per <Error> entry, in document
 * order, with its Key, Code and Message (err from the Code through
 * store_http_errno(500, code)); <Deleted> entries are skipped.  An <Error>
 * document gives -EREMOTEIO, as for s3xml_parse_copy. */
int s3xml_parse_delete_result(const char *body, size_t len,
                              store_del_error_cb cb, void *ctx,
                              struct s3xml_error *err);

/* ISO 8601 as S3 writes it ("2009-10-12T17:50:30.000Z") to seconds since
 * the epoch.  Returns 0 or -EINVAL. */
int s3xml_parse_time(const char *s, int64_t *out);

/* Copy an ETag without its surrounding quotes into OUT[STORE_ETAG_MAX]
 * (truncated if longer). */
void s3xml_etag_copy(char *out, const char *etag, size_t len);

#endif
