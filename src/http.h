/* http.h - HTTP requests over a pool of libcurl easy handles, with
 * retries.
 *
 * The pool keeps idle handles (and so their live connections) for reuse;
 * any thread may run requests at once.  Each request is tried up to
 * HTTP_ATTEMPTS times: a retry follows a connection error or timeout, a
 * 5xx, a 429, or a response the caller's RETRY hook calls retryable
 * (e.g. S3's SlowDown, or an <Error> in a 200 body), after a delay drawn
 * with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): uniform in [0, min(HTTP_BACKOFF_CAP_MS, HTTP_BACKOFF_BASE_MS *
 * 2^attempt)].
 *
 * A streamed GET that fails mid-body is retried only when no byte reached
 * the data callback, or else, for a request marked resumable, resumed: the
 * HEADERS hook learns how many body bytes were already delivered and
 * adjusts its Range (the caller checks what comes back: ON_RESPONSE and
 * ON_HEADER see each attempt's status and headers).
 *
 * Stats (stats.h): the request's counter per attempt sent,
 * bytes_downloaded / bytes_uploaded for body bytes, retries per retry,
 * errors per request that finally fails (transport errors, 5xx/429 after
 * the last attempt, and other non-2xx answers except 404, 412 and 416,
 * which are answers rather than failures). */
#ifndef GLUEFS_HTTP_H
#define GLUEFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stats.h"

#define HTTP_ATTEMPTS 5
#define HTTP_BACKOFF_BASE_MS 100
#define HTTP_BACKOFF_CAP_MS 5000
#define HTTP_CONNECT_TIMEOUT_S 10
#define HTTP_LOW_SPEED_TIME_S 30 /* abort below 1 byte/s for this long */
#define HTTP_ERROR_BODY_MAX (64u << 10)

struct http_pool;

/* A header list built by the HEADERS hook: "Name: value" lines. */
struct http_headers;

/* Append one header line NAME: VALUE.  Returns 0 or -ENOMEM. */
int http_headers_add(struct http_headers *h, const char *name,
                     const char *value) __attribute__((warn_unused_result));

struct http_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;    /* full URL, already percent-encoded */
    enum stat_id stat;  /* requests_* counter for this operation */

    /* Request body (PUT/POST), sent from memory; may be NULL/0. */
    const void *body;
    size_t body_len;

    /* Called before every attempt to fill the request headers (sign with
     * a fresh date, set Range).  DELIVERED is how many body bytes reached
     * ON_DATA in earlier attempts (0 on the first).  Returns 0 or -errno
     * (which ends the request). */
    int (*headers)(void *ctx, uint64_t delivered, struct http_headers *h);

    /* Called for every response header of the final response of each
     * attempt (NAME without the colon, VALUE trimmed; not NUL-terminated).
     * May be NULL. */
    void (*on_header)(void *ctx, const char *name, size_t nlen,
                      const char *value, size_t vlen);

    /* Called once per attempt when the final response's headers are
     * complete (after every ON_HEADER), with its status.  May be NULL. */
    void (*on_response)(void *ctx, long status);

    /* True for a streamed GET whose HEADERS hook resumes from DELIVERED
     * (Range): a transfer cut mid-body is then retried.  Otherwise a cut
     * after bytes reached ON_DATA fails without retry. */
    bool resumable;

    /* 2xx bodies: streamed to ON_DATA when set (return 0 or -errno to
     * abort; the error is returned as is), else collected into BODY_OUT
     * (capped by its max: -E2BIG).  Non-2xx bodies are collected into the
     * result's error body instead. */
    int (*on_data)(void *ctx, const void *data, size_t len);
    struct buf *body_out;

    /* Optional: decide whether a finished response is worth retrying
     * (STATUS, BODY = the collected body: the error body, or BODY_OUT for
     * a 2xx).  Called only when the default rules (5xx, 429) did not
     * already decide to retry. */
    bool (*retry)(void *ctx, long status, const struct buf *body);

    /* Seconds without a byte moving before an attempt is abandoned;
     * 0: HTTP_LOW_SPEED_TIME_S.  For answers a server computes before
     * sending anything (s3rver's CompleteMultipartUpload of 10 GiB: about
     * 40 s). */
    unsigned idle_timeout_s;

    void *ctx;
};

struct http_result {
    long status;       /* final HTTP status; 0 when no response */
    int curl_code;     /* CURLcode of the last attempt (0 = CURLE_OK) */
    int attempts;      /* attempts made */
    struct buf error_body; /* non-2xx body (capped), owned: release with
                              http_result_release */
};

void http_result_init(struct http_result *r);
void http_result_release(struct http_result *r);

/* Create a pool keeping at most MAX_IDLE idle handles.  Calls
 * curl_global_init once per process.  Returns 0 or -ENOMEM. */
int http_pool_new(unsigned max_idle, struct http_pool **out);
void http_pool_free(struct http_pool *p);

/* Run REQ with retries.  Returns 0 when a response arrived (any status:
 * look at RES->status), the ON_DATA / HEADERS hook's error, or -EIO /
 * -ETIMEDOUT / -ECONNREFUSED / -EHOSTUNREACH when no response could be had
 * after the last attempt.  RES must be initialised (http_result_init). */
int http_execute(struct http_pool *p, const struct http_request *req,
                 struct http_result *res) __attribute__((warn_unused_result));

/* Parse an HTTP date (RFC 7231, e.g. Last-Modified) into seconds since the
 * epoch.  Returns 0 or -EINVAL. */
int http_parse_date(const char *s, int64_t *out);

/* The delay before retry ATTEMPT (1 = first retry), in milliseconds, as
 * described above; R is a uniform random value in [0, 1). */
unsigned http_backoff_ms(int attempt, double r);

/* Does a status alone call for a retry (5xx, 429)? */
bool http_status_retryable(long status);

#endif
