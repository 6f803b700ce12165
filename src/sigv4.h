/* sigv4.h - AWS Signature Version 4 for S3 requests (header-based auth).
 *
 * Follows AWS "Signature Version 4 signing process" ("Create a canonical
 * request", "Create a string to sign", "Calculate the signature") with
 * S3's rules (Amazon S3 API Reference, "Signature Calculations for the
 * Authorization Header"): the path is signed as sent, each byte outside
 * the RFC 3986 unreserved set and '/' percent-encoded once; it is never
 * normalised ('//' and '.' segments stay).
 *
 * The signer is pure: it takes a request description and a time and
 * returns the canonical request, the string to sign and the Authorization
 * header value, so it can be tested without HTTP.  It signs exactly the
 * headers it is given; the caller adds host, x-amz-date (sigv4_amz_date()),
 * x-amz-content-sha256 and, with a session token, x-amz-security-token,
 * and sends the same headers.
 *
 * Secrets (secret key, signing key) never leave this module except as the
 * final signature; nothing here logs. */
#ifndef GLUEFS_SIGV4_H
#define GLUEFS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

/* SHA-256 of the empty string, hex: the payload hash of a body-less
 * request. */
#define SIGV4_EMPTY_SHA256                                                    \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_HEX_SHA256_LEN 64
#define SIGV4_AMZ_DATE_LEN 16 /* "20150830T123600Z" */

/* A name/value pair: a header or a query parameter. */
struct sigv4_kv {
    const char *name;
    const char *value; /* query: NULL for a bare name ("?uploads"), signed
                          as "uploads=" */
};

struct sigv4_request {
    const char *method;        /* "GET", "PUT", ... (upper case) */
    const char *path;          /* raw (not percent-encoded) bytes, begins
                                  with '/'; "" or NULL means "/" */
    const struct sigv4_kv *query;   /* raw names and values, any order */
    size_t nquery;
    const struct sigv4_kv *headers; /* as sent; names any case; a name may
                                       repeat (values joined with ',' in
                                       the order given) */
    size_t nheaders;
    const char *payload_hash;  /* lower-case hex SHA-256 of the body, or
                                  "UNSIGNED-PAYLOAD" */
};

struct sigv4_creds {
    const char *access_key; /* never logged */
    const char *secret_key; /* never logged */
};

/* Results, each a caller-owned buf (sigv4_out_init / sigv4_out_release). */
struct sigv4_out {
    struct buf creq;  /* canonical request */
    struct buf sts;   /* string to sign */
    struct buf authz; /* Authorization header value (without the name) */
};

void sigv4_out_init(struct sigv4_out *o);
void sigv4_out_release(struct sigv4_out *o);

/* Sign REQ at time T (UTC seconds) for REGION and SERVICE ("s3").  Fills
 * OUT (emptied first).  Returns 0, -EINVAL (missing method, credentials,
 * region, service or payload hash) or -ENOMEM / -E2BIG. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_creds *cr,
               const char *region, const char *service, time_t t,
               struct sigv4_out *out) __attribute__((warn_unused_result));

/* Write T as the x-amz-date value "YYYYMMDDTHHMMSSZ" into OUT (at least
 * SIGV4_AMZ_DATE_LEN + 1 bytes). */
void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);

/* Lower-case hex SHA-256 of DATA[0..LEN) into OUT (65 bytes). */
void sigv4_sha256_hex(const void *data, size_t len,
                      char out[SIGV4_HEX_SHA256_LEN + 1]);

/* Append S[0..N) to B percent-encoded per RFC 3986: unreserved bytes
 * (A-Z a-z 0-9 - . _ ~) kept, everything else as %XX (upper-case hex);
 * '/' kept too when KEEP_SLASH.  Used for both the signature and the URL
 * so that what is signed is what is sent.  Returns 0 or -errno from buf. */
int sigv4_uri_encode(struct buf *b, const char *s, size_t n, int keep_slash)
    __attribute__((warn_unused_result));

#endif
