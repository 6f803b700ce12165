/* store_s3.c - the S3 backend of store.h: SigV4-signed requests over the
 * http.c pool, S3 XML through s3xml.c, status -> errno through
 * store_http_errno().
 *
 * Addressing: path-style (scheme://host/bucket/key) or virtual-host
 * (scheme://bucket.host/key); buckets whose names are not DNS labels (or
 * hold '.' over https) always use path-style, as botocore does.  Keys are
 * percent-encoded per byte except RFC 3986 unreserved characters and '/',
 * with the same function the signer uses, so what is signed is what is
 * sent.
 *
 * Messages name the object (`cannot read 's3://b/k': access denied
 * (403)`) and never hold credentials, tokens or signatures. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "s3xml.h"
#include "sigv4.h"
#include "stats.h"

#define S3_MAX_QUERY 8
#define S3_MAX_EXTRA 16
#define S3_POOL_IDLE 64
#define S3_URL_MAX (64u << 10)
#define S3_REGION_CACHE 64
#define S3_REGION_MAX 32
/* CompleteMultipartUpload and CopyObject answer only when done: S3 sends
 * spaces meanwhile ("Processing of a Complete Multipart Upload request
 * could take several minutes"), s3rver nothing (about 4 s a GiB). */
#define S3_SLOW_ANSWER_S 900
#define S3_MEMO_SLOTS 4
#define S3_MEMO_TTL 2.0              /* seconds */
#define S3_MEMO_BODY_MAX (4u << 20)  /* bytes of one kept page */

/* A bucket found to live outside the configured region. */
struct bucket_region {
    char bucket[64];
    char region[S3_REGION_MAX];
};

/* The first page of a listing whose reader stopped at its end although
 * the listing goes on (a lookup that only asked whether a folder has
 * anything in it).  The same listing asked for again within S3_MEMO_TTL
 * starts from it instead of a request, once: `ls -l dir` then costs
 * exactly ceil(N/1000) LISTs.  Writes through this store to the bucket
 * drop it. */
struct list_memo {
    char *bucket, *prefix, *delimiter;
    char *body;
    size_t len;
    double at; /* CLOCK_MONOTONIC seconds; 0: free */
};

struct s3 {
    struct store base;
    struct http_pool *pool;
    char *scheme;    /* "http" or "https" */
    char *host;      /* host[:port] of the endpoint */
    char *base_path; /* endpoint path without trailing '/', often "" */
    char *region;
    char *access_key, *secret_key, *session_token; /* never logged */
    bool path_style;
    bool anonymous;
    bool aws_default;  /* the endpoint is AWS's regional one: follow a
                          bucket's region in the host name too */
    pthread_mutex_t mu; /* guards regions */
    struct bucket_region regions[S3_REGION_CACHE];
    unsigned nregions, next_region;
    pthread_mutex_t memo_mu; /* guards memo */
    struct list_memo memo[S3_MEMO_SLOTS];
};

/* One S3 call: request description, hooks' state, result. */
struct s3_call {
    struct s3 *s;
    const char *verb;   /* for messages: "read", "write", ... */
    const char *method;
    const char *bucket; /* NULL: service level (ListBuckets) */
    const char *key;    /* NULL or "": bucket level */
    const char *msg_key; /* names the object in messages instead of KEY */
    struct sigv4_kv query[S3_MAX_QUERY];
    size_t nquery;
    struct sigv4_kv extra[S3_MAX_EXTRA];
    size_t nextra;
    const void *body;
    size_t body_len;
    enum stat_id stat;

    /* filled by s3_call_run */
    char region[S3_REGION_MAX];        /* signing region of this call */
    char bucket_region[S3_REGION_MAX]; /* x-amz-bucket-region answered */
    char host[512];
    char payload_hash[SIGV4_HEX_SHA256_LEN + 1];
    struct buf url;
    struct buf raw_path;

    /* per-op hooks (optional) */
    int (*before)(struct s3_call *c, uint64_t delivered);
    void (*on_header)(void *ctx, const char *name, size_t nlen,
                      const char *value, size_t vlen);
    void (*on_response)(void *ctx, long status);
    int (*on_data)(void *ctx, const void *data, size_t len);
    struct buf *body_out;
    bool resumable;
    bool retry_error_200; /* a 200 may carry an <Error> (copy, complete) */
    unsigned idle_timeout_s; /* 0: http.c's default */
    void *op; /* op state for the hooks */
};

/* ---- names and messages ---- */

static bool dns_compatible(const char *b, bool https)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.'))
            return false;
        if (c == '.' && https)
            return false;
    }
    return b[0] != '-' && b[n - 1] != '-';
}

static const char *status_text(long status, int err)
{
    switch (status) {
    case 0:
        switch (err) {
        case -ETIMEDOUT: return "timed out";
        case -ECONNREFUSED: return "connection refused";
        case -EHOSTUNREACH: return "host not found";
        default: return "connection failed";
        }
    case 400: return "bad request";
    case 401:
    case 403: return "access denied";
    case 404: return "not found";
    case 409: return "conflict";
    case 412: return "precondition failed";
    case 416: return "range not satisfiable";
    case 429: return "too many requests";
    default: return status >= 500 ? "server error" : "unexpected answer";
    }
}

/* Keep only printable ASCII of a server-supplied code. */
static void clean_code(char *code)
{
    for (char *p = code; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            *p = '?';
}

static void log_failure(const struct s3_call *c, long status,
                        const char *code, int err, int attempts)
{
    char obj[1200];
    if (c->bucket)
        snprintf(obj, sizeof obj, "s3://%s/%s", c->bucket,
                 c->msg_key ? c->msg_key : (c->key ? c->key : ""));
    else
        snprintf(obj, sizeof obj, "s3://");
    int level = LOG_INFO;
    if (status == 0 || status >= 500 || status == 429)
        level = LOG_ERR;
    else if (status == 404 || status == 412 || status == 416)
        level = LOG_DEBUG;
    if (status == 0)
        LOG_AT(level, "cannot %s '%s': %s after %d attempts", c->verb, obj,
               status_text(status, err), attempts);
    else if (code && code[0])
        LOG_AT(level, "cannot %s '%s': %s (%ld %s)", c->verb, obj,
               status_text(status, err), status, code);
    else
        LOG_AT(level, "cannot %s '%s': %s (%ld)", c->verb, obj,
               status_text(status, err), status);
}

/* ---- request building ---- */

static void call_init(struct s3_call *c, struct s3 *s, const char *verb,
                      const char *method, const char *bucket,
                      const char *key, enum stat_id stat)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->verb = verb;
    c->method = method;
    c->bucket = bucket;
    c->key = key;
    c->stat = stat;
    buf_init(&c->url, S3_URL_MAX);
    buf_init(&c->raw_path, S3_URL_MAX);
}

static void call_release(struct s3_call *c)
{
    buf_release(&c->url);
    buf_release(&c->raw_path);
}

static void add_query(struct s3_call *c, const char *name, const char *value)
{
    if (c->nquery < S3_MAX_QUERY) {
        c->query[c->nquery].name = name;
        c->query[c->nquery].value = value;
        c->nquery++;
    }
}

static void add_extra(struct s3_call *c, const char *name, const char *value)
{
    if (c->nextra < S3_MAX_EXTRA) {
        c->extra[c->nextra].name = name;
        c->extra[c->nextra].value = value;
        c->nextra++;
    }
}

/* Text for x-amz-meta-*, kept in the caller's storage. */
struct meta_text {
    char mode[16], uid[16], gid[16], mtime[24];
};

static void add_meta(struct s3_call *c, const struct store_meta *m,
                     struct meta_text *t)
{
    if (!m)
        return;
    if (m->has_mode) {
        snprintf(t->mode, sizeof t->mode, "%" PRIu32, m->mode);
        add_extra(c, "x-amz-meta-mode", t->mode);
    }
    if (m->has_uid) {
        snprintf(t->uid, sizeof t->uid, "%" PRIu32, m->uid);
        add_extra(c, "x-amz-meta-uid", t->uid);
    }
    if (m->has_gid) {
        snprintf(t->gid, sizeof t->gid, "%" PRIu32, m->gid);
        add_extra(c, "x-amz-meta-gid", t->gid);
    }
    if (m->has_mtime) {
        snprintf(t->mtime, sizeof t->mtime, "%" PRId64, m->mtime);
        add_extra(c, "x-amz-meta-mtime", t->mtime);
    }
}

/* Host, raw path and URL for the call. */
static int build_url(struct s3_call *c)
{
    struct s3 *s = c->s;
    bool https = !strcmp(s->scheme, "https");
    bool vhost = c->bucket && !s->path_style && dns_compatible(c->bucket, https);
    char base[300];
    int rc;
    if (s->aws_default)
        snprintf(base, sizeof base, "s3.%s.amazonaws.com", c->region);
    else
        snprintf(base, sizeof base, "%s", s->host);
    if (vhost)
        snprintf(c->host, sizeof c->host, "%s.%s", c->bucket, base);
    else
        snprintf(c->host, sizeof c->host, "%s", base);

    rc = buf_puts(&c->raw_path, s->base_path);
    if (!rc && c->bucket && !vhost)
        rc = buf_printf(&c->raw_path, "/%s", c->bucket);
    if (!rc && c->key && c->key[0])
        rc = buf_printf(&c->raw_path, "/%s", c->key);
    if (!rc && c->raw_path.len == 0)
        rc = buf_putc(&c->raw_path, '/');
    if (rc)
        return rc;

    rc = buf_printf(&c->url, "%s://%s", s->scheme, c->host);
    if (!rc)
        rc = sigv4_uri_encode(&c->url, c->raw_path.data, c->raw_path.len, 1);
    for (size_t i = 0; !rc && i < c->nquery; i++) {
        rc = buf_putc(&c->url, i ? '&' : '?');
        if (!rc)
            rc = sigv4_uri_encode(&c->url, c->query[i].name,
                                  strlen(c->query[i].name), 0);
        if (!rc && c->query[i].value) {
            rc = buf_putc(&c->url, '=');
            if (!rc)
                rc = sigv4_uri_encode(&c->url, c->query[i].value,
                                      strlen(c->query[i].value), 0);
        }
    }
    return rc;
}

/* http.c HEADERS hook: standard headers, extras, signature. */
static int call_headers(void *ctx, uint64_t delivered, struct http_headers *h)
{
    struct s3_call *c = ctx;
    struct s3 *s = c->s;
    struct sigv4_kv hv[S3_MAX_EXTRA + 4];
    size_t n = 0;
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];
    int rc = 0;

    if (c->before) {
        rc = c->before(c, delivered);
        if (rc)
            return rc;
    }
    c->bucket_region[0] = '\0';
    time_t now = time(NULL);
    sigv4_amz_date(now, amz_date);
    hv[n++] = (struct sigv4_kv){"Host", c->host};
    hv[n++] = (struct sigv4_kv){"x-amz-date", amz_date};
    hv[n++] = (struct sigv4_kv){"x-amz-content-sha256", c->payload_hash};
    if (!s->anonymous && s->session_token)
        hv[n++] = (struct sigv4_kv){"x-amz-security-token", s->session_token};
    for (size_t i = 0; i < c->nextra; i++)
        hv[n++] = c->extra[i];
    for (size_t i = 0; !rc && i < n; i++)
        rc = http_headers_add(h, hv[i].name, hv[i].value);
    if (rc || s->anonymous)
        return rc;

    struct sigv4_request sr = {
        .method = c->method, .path = c->raw_path.data,
        .query = c->query, .nquery = c->nquery,
        .headers = hv, .nheaders = n,
        .payload_hash = c->payload_hash,
    };
    struct sigv4_creds cr = {s->access_key, s->secret_key};
    struct sigv4_out out;
    sigv4_out_init(&out);
    rc = sigv4_sign(&sr, &cr, c->region, "s3", now, &out);
    if (!rc)
        rc = http_headers_add(h, "Authorization", out.authz.data);
    sigv4_out_release(&out);
    return rc;
}

static bool code_retryable(const char *code)
{
    static const char *const codes[] = {
        "InternalError", "SlowDown", "ServiceUnavailable", "RequestTimeout",
        "OperationAborted",
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

/* http.c RETRY hook: S3 error codes worth another attempt, including an
 * <Error> in a 200 body of CopyObject / CompleteMultipartUpload. */
static bool call_retry(void *ctx, long status, const struct buf *body)
{
    struct s3_call *c = ctx;
    struct s3xml_error e;
    if (status >= 200 && status < 300 && !c->retry_error_200)
        return false;
    if (!body->len || s3xml_parse_error(body->data, body->len, &e))
        return false;
    return code_retryable(e.code);
}

/* ---- buckets in other regions ---- */

static void region_for(struct s3 *s, const char *bucket, char *out)
{
    snprintf(out, S3_REGION_MAX, "%s", s->region);
    if (!bucket)
        return;
    pthread_mutex_lock(&s->mu);
    for (unsigned i = 0; i < s->nregions; i++)
        if (!strcmp(s->regions[i].bucket, bucket)) {
            snprintf(out, S3_REGION_MAX, "%s", s->regions[i].region);
            break;
        }
    pthread_mutex_unlock(&s->mu);
}

static void region_remember(struct s3 *s, const char *bucket,
                            const char *region)
{
    if (strlen(bucket) >= sizeof s->regions[0].bucket)
        return;
    pthread_mutex_lock(&s->mu);
    unsigned i;
    for (i = 0; i < s->nregions; i++)
        if (!strcmp(s->regions[i].bucket, bucket))
            break;
    if (i == s->nregions) {
        if (s->nregions < S3_REGION_CACHE) {
            s->nregions++;
        } else {
            i = s->next_region;
            s->next_region = (s->next_region + 1) % S3_REGION_CACHE;
        }
    }
    snprintf(s->regions[i].bucket, sizeof s->regions[i].bucket, "%s", bucket);
    snprintf(s->regions[i].region, sizeof s->regions[i].region, "%s", region);
    pthread_mutex_unlock(&s->mu);
}

/* A region name from a server: letters, digits and '-' only. */
static bool region_ok(const char *r)
{
    if (!r[0])
        return false;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
              *r == '-'))
            return false;
    return true;
}

/* http.c ON_HEADER hook: note x-amz-bucket-region, pass the rest on. */
static void call_on_header(void *ctx, const char *name, size_t nlen,
                           const char *value, size_t vlen)
{
    struct s3_call *c = ctx;
    if (nlen == 19 && !strncasecmp(name, "x-amz-bucket-region", 19) &&
        vlen < sizeof c->bucket_region) {
        memcpy(c->bucket_region, value, vlen);
        c->bucket_region[vlen] = '\0';
    }
    if (c->on_header)
        c->on_header(ctx, name, nlen, value, vlen);
}

/* Run the call: 0 with *STATUS set when a response came (any status), or
 * -errno.  Non-2xx answers are mapped to -errno and logged here; CODE
 * (64 bytes, may be NULL) receives the S3 error code. */
static int call_run(struct s3_call *c, long *status, char *code)
{
    struct http_result res;
    struct s3xml_error e;
    int rc;

    *status = 0;
    if (code)
        code[0] = '\0';
    if (c->body_len)
        sigv4_sha256_hex(c->body, c->body_len, c->payload_hash);
    else
        snprintf(c->payload_hash, sizeof c->payload_hash, "%s",
                 SIGV4_EMPTY_SHA256);
    region_for(c->s, c->bucket, c->region);

    for (int hop = 0;; hop++) {
        buf_reset(&c->url);
        buf_reset(&c->raw_path);
        rc = build_url(c);
        if (rc)
            return rc == -E2BIG ? -ENAMETOOLONG : rc;

        struct http_request req = {
            .method = c->method,
            .url = c->url.data,
            .stat = c->stat,
            .body = c->body,
            .body_len = c->body_len,
            .headers = call_headers,
            .on_header = call_on_header,
            .on_response = c->on_response,
            .resumable = c->resumable,
            .on_data = c->on_data,
            .body_out = c->body_out,
            .retry = call_retry,
            .idle_timeout_s = c->idle_timeout_s,
            .ctx = c,
        };
        http_result_init(&res);
        rc = http_execute(c->s->pool, &req, &res);
        *status = res.status;
        if (rc) {
            if (res.status == 0 && (rc == -ETIMEDOUT || rc == -ECONNREFUSED ||
                                    rc == -EHOSTUNREACH || rc == -EIO)) {
                log_failure(c, 0, NULL, rc, res.attempts);
                rc = -EIO;
            }
            http_result_release(&res);
            return rc;
        }
        if (res.status >= 200 && res.status < 300) {
            http_result_release(&res);
            return 0;
        }
        memset(&e, 0, sizeof e);
        if (res.error_body.len)
            s3xml_parse_error(res.error_body.data, res.error_body.len, &e);
        clean_code(e.code);

        /* The bucket lives in another region (301 PermanentRedirect, 307,
         * or 400 AuthorizationHeaderMalformed): remember it and go again,
         * once, signed for that region. */
        const char *other = c->bucket_region[0] ? c->bucket_region : e.region;
        if (hop == 0 && c->bucket &&
            (res.status == 301 || res.status == 307 || res.status == 400) &&
            region_ok(other) && strcmp(other, c->region) != 0) {
            log_info("bucket '%s' is in region '%s'", c->bucket, other);
            region_remember(c->s, c->bucket, other);
            snprintf(c->region, sizeof c->region, "%s", other);
            http_result_release(&res);
            continue;
        }
        break;
    }
    if (code)
        snprintf(code, 64, "%s", e.code);
    rc = store_http_errno(res.status, e.code[0] ? e.code : NULL);
    if (rc == 0 && res.status >= 300 && res.status != 416)
        rc = -EIO; /* 3xx and the like: not an answer we can use */
    if (!(res.status == 404 && c->stat == STAT_requests_delete))
        log_failure(c, res.status, e.code, rc, res.attempts);
    http_result_release(&res);
    return rc;
}

/* ---- ListBuckets ---- */

static int s3_list_buckets(struct store *st, store_list_cb cb, void *ctx)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct buf body;
    struct s3xml_error e;
    long status;
    buf_init(&body, S3XML_BODY_MAX);
    call_init(&c, s, "list buckets at", "GET", NULL, NULL,
              STAT_requests_list_buckets);
    c.body_out = &body;
    int rc = call_run(&c, &status, NULL);
    if (!rc) {
        rc = s3xml_parse_list_buckets(body.data, body.len, cb, ctx, &e);
        if (rc > 0)
            rc = 0;
        else if (rc == -EREMOTEIO || rc == -EPROTO) {
            log_err("cannot list buckets: malformed answer");
            rc = -EIO;
        }
    }
    call_release(&c);
    buf_release(&body);
    return rc;
}

/* ---- first pages kept for a listing asked again ---- */

static void memo_clear(struct list_memo *m)
{
    free(m->bucket);
    free(m->prefix);
    free(m->delimiter);
    free(m->body);
    memset(m, 0, sizeof *m);
}

static bool memo_is(const struct list_memo *m, const char *bucket,
                    const char *prefix, const char *delimiter)
{
    return m->at && !strcmp(m->bucket, bucket) &&
           !strcmp(m->prefix, prefix ? prefix : "") &&
           !strcmp(m->delimiter, delimiter ? delimiter : "");
}

static void memo_put(struct s3 *s, const char *bucket, const char *prefix,
                     const char *delimiter, const struct buf *body)
{
    if (body->len > S3_MEMO_BODY_MAX)
        return;
    struct list_memo n = {
        strdup(bucket), strdup(prefix ? prefix : ""),
        strdup(delimiter ? delimiter : ""), malloc(body->len + 1),
        body->len, clock_mono_s(),
    };
    if (!n.bucket || !n.prefix || !n.delimiter || !n.body) {
        memo_clear(&n);
        return;
    }
    memcpy(n.body, body->data, body->len);
    n.body[body->len] = '\0';
    pthread_mutex_lock(&s->memo_mu);
    unsigned oldest = 0;
    for (unsigned i = 0; i < S3_MEMO_SLOTS; i++) {
        if (memo_is(&s->memo[i], bucket, prefix, delimiter) ||
            !s->memo[i].at) {
            oldest = i;
            break;
        }
        if (s->memo[i].at < s->memo[oldest].at)
            oldest = i;
    }
    memo_clear(&s->memo[oldest]);
    s->memo[oldest] = n;
    pthread_mutex_unlock(&s->memo_mu);
}

/* Take the kept first page of this listing into BODY, if fresh.  True
 * when BODY now holds it. */
static bool memo_take(struct s3 *s, const char *bucket, const char *prefix,
                      const char *delimiter, struct buf *body)
{
    bool found = false;
    double now = clock_mono_s();
    pthread_mutex_lock(&s->memo_mu);
    for (unsigned i = 0; i < S3_MEMO_SLOTS; i++) {
        struct list_memo *m = &s->memo[i];
        if (m->at && now - m->at > S3_MEMO_TTL)
            memo_clear(m);
        if (!found && memo_is(m, bucket, prefix, delimiter)) {
            buf_reset(body);
            found = buf_append(body, m->body, m->len) == 0;
            memo_clear(m);
        }
    }
    pthread_mutex_unlock(&s->memo_mu);
    return found;
}

/* A write to BUCKET: its kept pages may be stale. */
static void memo_drop(struct s3 *s, const char *bucket)
{
    pthread_mutex_lock(&s->memo_mu);
    for (unsigned i = 0; i < S3_MEMO_SLOTS; i++)
        if (s->memo[i].at && !strcmp(s->memo[i].bucket, bucket))
            memo_clear(&s->memo[i]);
    pthread_mutex_unlock(&s->memo_mu);
}

/* ---- ListObjectsV2 ---- */

static int s3_list_from(struct store *st, const char *bucket,
                        const char *prefix, const char *start_after,
                        const char *delimiter, store_list_cb cb, void *ctx);

static int s3_list(struct store *st, const char *bucket, const char *prefix,
                   const char *delimiter, store_list_cb cb, void *ctx)
{
    return s3_list_from(st, bucket, prefix, NULL, delimiter, cb, ctx);
}

/* START_AFTER (NULL: none) goes on the first request only (S3 ignores
 * it once a continuation token is sent); such listings keep no memo. */
static int s3_list_from(struct store *st, const char *bucket,
                        const char *prefix, const char *start_after,
                        const char *delimiter, store_list_cb cb, void *ctx)
{
    struct s3 *s = (struct s3 *)st;
    bool memo = !start_after || !*start_after;
    struct buf body;
    char *token = NULL;
    int rc = 0;
    buf_init(&body, S3XML_BODY_MAX);
    for (;;) {
        struct s3_call c;
        struct s3xml_list_page page;
        struct s3xml_error e;
        long status;
        if (token || !memo || !memo_take(s, bucket, prefix, delimiter, &body)) {
            call_init(&c, s, "list", "GET", bucket, prefix,
                      STAT_requests_list);
            c.key = NULL; /* a bucket-level request */
            c.msg_key = prefix;
            add_query(&c, "list-type", "2");
            if (prefix && prefix[0])
                add_query(&c, "prefix", prefix);
            if (delimiter && delimiter[0])
                add_query(&c, "delimiter", delimiter);
            add_query(&c, "max-keys", "1000");
            add_query(&c, "encoding-type", "url");
            if (token)
                add_query(&c, "continuation-token", token);
            else if (!memo)
                add_query(&c, "start-after", start_after);
            c.body_out = &body;
            rc = call_run(&c, &status, NULL);
            call_release(&c);
            if (rc)
                break;
        }
        rc = s3xml_parse_list_objects(body.data, body.len, &page, &e);
        if (rc) {
            s3xml_list_page_release(&page);
            log_err("cannot list 's3://%s/%s': malformed answer", bucket,
                    prefix ? prefix : "");
            rc = rc == -ENOMEM ? rc : -EIO;
            break;
        }
        for (size_t i = 0; !rc && i < page.n; i++)
            rc = cb(ctx, &page.entries[i]);
        bool more = page.truncated;
        char *next = page.next_token;
        page.next_token = NULL;
        s3xml_list_page_release(&page);
        if (rc) {
            free(next);
            if (rc > 0 && !token && more && memo)
                memo_put(s, bucket, prefix, delimiter, &body);
            if (rc > 0)
                rc = 0;
            break;
        }
        if (!more) {
            free(next);
            break;
        }
        if (!next || !next[0] || (token && !strcmp(next, token))) {
            free(next);
            log_err("cannot list 's3://%s/%s': truncated page without a "
                    "new continuation token", bucket, prefix ? prefix : "");
            rc = -EIO;
            break;
        }
        free(token);
        token = next;
    }
    free(token);
    buf_release(&body);
    return rc;
}

/* ---- HeadObject ---- */

static bool hdr_is(const char *name, size_t nlen, const char *want)
{
    return strlen(want) == nlen && !strncasecmp(name, want, nlen);
}

/* Parse decimal text (s3fs may write "1234.5" for mtime: fraction
 * dropped). */
static bool parse_i64(const char *v, size_t vlen, int64_t *out)
{
    char tmp[32];
    char *end;
    if (vlen == 0 || vlen >= sizeof tmp)
        return false;
    memcpy(tmp, v, vlen);
    tmp[vlen] = '\0';
    errno = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || end == tmp || (*end && *end != '.'))
        return false;
    *out = x;
    return true;
}

struct head_state {
    struct store_head *out;
    bool has_lm;
    int64_t last_modified;
};

static void head_header(void *ctx, const char *name, size_t nlen,
                        const char *value, size_t vlen)
{
    struct s3_call *c = ctx;
    struct head_state *h = c->op;
    struct store_head *o = h->out;
    int64_t v;
    if (hdr_is(name, nlen, "content-length")) {
        if (parse_i64(value, vlen, &v) && v >= 0)
            o->size = (uint64_t)v;
    } else if (hdr_is(name, nlen, "etag")) {
        s3xml_etag_copy(o->etag, value, vlen);
    } else if (hdr_is(name, nlen, "last-modified")) {
        char tmp[64];
        if (vlen < sizeof tmp) {
            memcpy(tmp, value, vlen);
            tmp[vlen] = '\0';
            h->has_lm = http_parse_date(tmp, &h->last_modified) == 0;
        }
    } else if (hdr_is(name, nlen, "x-amz-meta-mode")) {
        if (parse_i64(value, vlen, &v) && v >= 0 && v <= UINT32_MAX) {
            o->meta.has_mode = true;
            o->meta.mode = (uint32_t)v;
        }
    } else if (hdr_is(name, nlen, "x-amz-meta-uid")) {
        if (parse_i64(value, vlen, &v) && v >= 0 && v <= UINT32_MAX) {
            o->meta.has_uid = true;
            o->meta.uid = (uint32_t)v;
        }
    } else if (hdr_is(name, nlen, "x-amz-meta-gid")) {
        if (parse_i64(value, vlen, &v) && v >= 0 && v <= UINT32_MAX) {
            o->meta.has_gid = true;
            o->meta.gid = (uint32_t)v;
        }
    } else if (hdr_is(name, nlen, "x-amz-meta-mtime")) {
        if (parse_i64(value, vlen, &v)) {
            o->meta.has_mtime = true;
            o->meta.mtime = v;
        }
    }
}

static int head_before(struct s3_call *c, uint64_t delivered)
{
    struct head_state *h = c->op;
    (void)delivered;
    memset(h->out, 0, sizeof *h->out);
    h->has_lm = false;
    h->last_modified = 0;
    return 0;
}

static int s3_head(struct store *st, const char *bucket, const char *key,
                   struct store_head *out)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct head_state h = {out, false, 0};
    long status;
    memset(out, 0, sizeof *out);
    call_init(&c, s, "stat", "HEAD", bucket, key, STAT_requests_head);
    c.op = &h;
    c.before = head_before;
    c.on_header = head_header;
    int rc = call_run(&c, &status, NULL);
    call_release(&c);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->mtime = out->meta.has_mtime ? out->meta.mtime
                                     : (h.has_lm ? h.last_modified : 0);
    return 0;
}

/* ---- GetObject ---- */

struct get_state {
    uint64_t off, len;     /* requested; len UINT64_MAX = to the end */
    uint64_t got;          /* bytes given to CB */
    uint64_t skip;         /* bytes to drop at the head of this body */
    uint64_t resp_start;   /* first byte of this body (Content-Range) */
    bool has_cr;
    long status;
    bool bad;              /* body does not line up with what we asked */
    char etag[STORE_ETAG_MAX];
    char range[64];
    char if_match[STORE_ETAG_MAX + 3];
    store_data_cb cb;
    void *ctx;
};

static int get_before(struct s3_call *c, uint64_t delivered)
{
    struct get_state *g = c->op;
    (void)delivered; /* G->GOT counts what reached the caller */
    uint64_t start = g->off + g->got;
    g->has_cr = false;
    g->resp_start = 0;
    g->skip = 0;
    g->status = 0;
    g->bad = false;
    c->nextra = 0;
    if (g->len != UINT64_MAX && g->got >= g->len)
        return -EALREADY; /* everything arrived before the cut */
    if (g->len == UINT64_MAX) {
        if (start > 0) {
            snprintf(g->range, sizeof g->range, "bytes=%" PRIu64 "-", start);
            add_extra(c, "Range", g->range);
        }
    } else {
        uint64_t last = g->off + g->len - 1;
        if (last < g->off) /* overflow: to the end */
            snprintf(g->range, sizeof g->range, "bytes=%" PRIu64 "-", start);
        else
            snprintf(g->range, sizeof g->range,
                     "bytes=%" PRIu64 "-%" PRIu64, start, last);
        add_extra(c, "Range", g->range);
    }
    if (g->got > 0 && g->etag[0]) {
        /* resuming: the rest must come from the same object */
        snprintf(g->if_match, sizeof g->if_match, "\"%s\"", g->etag);
        add_extra(c, "If-Match", g->if_match);
    }
    return 0;
}

static void get_header(void *ctx, const char *name, size_t nlen,
                       const char *value, size_t vlen)
{
    struct s3_call *c = ctx;
    struct get_state *g = c->op;
    if (hdr_is(name, nlen, "content-range")) {
        /* "bytes START-END/TOTAL" */
        char tmp[96];
        if (vlen < sizeof tmp) {
            memcpy(tmp, value, vlen);
            tmp[vlen] = '\0';
            const char *p = tmp;
            if (!strncmp(p, "bytes ", 6))
                p += 6;
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (!errno && end != p && *end == '-') {
                g->resp_start = v;
                g->has_cr = true;
            }
        }
    } else if (hdr_is(name, nlen, "etag") && !g->etag[0]) {
        s3xml_etag_copy(g->etag, value, vlen);
    }
}

static void get_response(void *ctx, long status)
{
    struct s3_call *c = ctx;
    struct get_state *g = c->op;
    uint64_t want = g->off + g->got;
    g->status = status;
    if (status == 206) {
        if (!g->has_cr || g->resp_start > want)
            g->bad = true;
        else
            g->skip = want - g->resp_start;
    } else if (status == 200) {
        g->skip = want; /* the whole object from byte 0 */
    }
}

static int get_data(void *ctx, const void *data, size_t len)
{
    struct s3_call *c = ctx;
    struct get_state *g = c->op;
    const char *p = data;
    if (g->bad)
        return -EIO;
    if (g->skip) {
        size_t k = g->skip < len ? (size_t)g->skip : len;
        g->skip -= k;
        p += k;
        len -= k;
    }
    if (!len)
        return 0;
    if (g->len != UINT64_MAX) {
        uint64_t left = g->len - g->got;
        if (left == 0)
            return -ECANCELED; /* more than asked for: stop here */
        if (len > left)
            len = (size_t)left;
    }
    int rc = g->cb(g->ctx, p, len);
    if (rc)
        return rc;
    g->got += len;
    return 0;
}

static int s3_get(struct store *st, const char *bucket, const char *key,
                  uint64_t off, uint64_t len, store_data_cb cb, void *ctx)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct get_state g;
    long status;
    if (len == 0)
        return 0;
    memset(&g, 0, sizeof g);
    g.off = off;
    g.len = len;
    g.cb = cb;
    g.ctx = ctx;
    call_init(&c, s, "read", "GET", bucket, key, STAT_requests_get);
    c.op = &g;
    c.before = get_before;
    c.on_header = get_header;
    c.on_response = get_response;
    c.on_data = get_data;
    c.resumable = true;
    int rc = call_run(&c, &status, NULL);
    call_release(&c);
    if (rc == -EALREADY || (rc == -ECANCELED && g.got == g.len))
        rc = 0;
    if (!rc && status == 416)
        rc = 0; /* range starts at or past the end: no bytes */
    if (rc == -EIO && g.bad)
        log_err("cannot read 's3://%s/%s': answer does not match the range",
                bucket, key);
    return rc;
}

/* ---- PutObject ---- */

static int s3_put(struct store *st, const char *bucket, const char *key,
                  const void *data, size_t len, const struct store_meta *meta)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct meta_text mt;
    long status;
    if (len > STORE_PUT_MAX)
        return -EFBIG;
    memo_drop(s, bucket);
    call_init(&c, s, "write", "PUT", bucket, key, STAT_requests_put);
    c.body = data;
    c.body_len = len;
    add_meta(&c, meta, &mt);
    int rc = call_run(&c, &status, NULL);
    call_release(&c);
    return rc;
}

/* ---- multipart ---- */

static int s3_mpu_create(struct store *st, const char *bucket,
                         const char *key, const struct store_meta *meta,
                         char **upload_id)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct meta_text mt;
    struct buf body;
    struct s3xml_error e;
    long status;
    *upload_id = NULL;
    buf_init(&body, HTTP_ERROR_BODY_MAX);
    call_init(&c, s, "start upload of", "POST", bucket, key,
              STAT_requests_create_multipart);
    add_query(&c, "uploads", NULL);
    add_meta(&c, meta, &mt);
    c.body_out = &body;
    int rc = call_run(&c, &status, NULL);
    if (!rc) {
        rc = s3xml_parse_initiate(body.data, body.len, upload_id, &e);
        if (rc && rc != -ENOMEM) {
            log_err("cannot start upload of 's3://%s/%s': malformed answer",
                    bucket, key);
            rc = -EIO;
        }
    }
    call_release(&c);
    buf_release(&body);
    return rc;
}

static void part_header(void *ctx, const char *name, size_t nlen,
                        const char *value, size_t vlen)
{
    struct s3_call *c = ctx;
    struct store_part *p = c->op;
    if (hdr_is(name, nlen, "etag"))
        s3xml_etag_copy(p->etag, value, vlen);
}

static int s3_mpu_part(struct store *st, const char *bucket, const char *key,
                       const char *upload_id, int part, const void *data,
                       size_t len, struct store_part *out)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    char num[16];
    long status;
    memset(out, 0, sizeof *out);
    if (part < 1 || part > STORE_PARTS_MAX || !upload_id)
        return -EINVAL;
    if (len > STORE_PART_MAX)
        return -EFBIG;
    snprintf(num, sizeof num, "%d", part);
    call_init(&c, s, "upload part of", "PUT", bucket, key,
              STAT_requests_upload_part);
    add_query(&c, "partNumber", num);
    add_query(&c, "uploadId", upload_id);
    c.body = data;
    c.body_len = len;
    c.op = out;
    c.on_header = part_header;
    int rc = call_run(&c, &status, NULL);
    call_release(&c);
    if (!rc && !out->etag[0]) {
        log_err("cannot upload part of 's3://%s/%s': no ETag in the answer",
                bucket, key);
        rc = -EIO;
    }
    out->number = part;
    return rc;
}

static int xml_escape(struct buf *b, const char *s)
{
    int rc = 0;
    for (; !rc && *s; s++) {
        switch (*s) {
        case '&': rc = buf_puts(b, "&amp;"); break;
        case '<': rc = buf_puts(b, "&lt;"); break;
        case '>': rc = buf_puts(b, "&gt;"); break;
        case '"': rc = buf_puts(b, "&quot;"); break;
        default: rc = buf_putc(b, *s);
        }
    }
    return rc;
}

/* Map a 200 answer carrying an <Error> (or malformed XML) to -errno. */
static int error_in_200(const char *verb, const char *bucket,
                        const char *key, int rc, struct s3xml_error *e)
{
    if (rc == -EREMOTEIO) {
        clean_code(e->code);
        int err = store_http_errno(500, e->code[0] ? e->code : NULL);
        long as = err == -EACCES ? 403 : err == -ENOENT ? 404 : 500;
        LOG_AT(as == 500 ? LOG_ERR : LOG_INFO,
               "cannot %s 's3://%s/%s': %s (200 with error %s)", verb, bucket,
               key, status_text(as, err), e->code);
        return err ? err : -EIO;
    }
    if (rc && rc != -ENOMEM) {
        log_err("cannot %s 's3://%s/%s': malformed answer", verb, bucket,
                key);
        return -EIO;
    }
    return rc;
}

static int s3_mpu_complete(struct store *st, const char *bucket,
                           const char *key, const char *upload_id,
                           const struct store_part *parts, int nparts)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct buf req, body;
    struct s3xml_error e;
    long status;
    int rc = 0;
    if (!upload_id || nparts < 1 || nparts > STORE_PARTS_MAX)
        return -EINVAL;
    buf_init(&req, 64u << 20);
    buf_init(&body, HTTP_ERROR_BODY_MAX);
    rc = buf_puts(&req, "<CompleteMultipartUpload>");
    for (int i = 0; !rc && i < nparts; i++) {
        if (i && parts[i].number <= parts[i - 1].number) {
            rc = -EINVAL;
            break;
        }
        rc = buf_printf(&req, "<Part><PartNumber>%d</PartNumber><ETag>&quot;",
                        parts[i].number);
        if (!rc)
            rc = xml_escape(&req, parts[i].etag);
        if (!rc)
            rc = buf_puts(&req, "&quot;</ETag></Part>");
    }
    if (!rc)
        rc = buf_puts(&req, "</CompleteMultipartUpload>");
    if (rc) {
        buf_release(&req);
        buf_release(&body);
        return rc == -E2BIG ? -EINVAL : rc;
    }
    memo_drop(s, bucket);
    call_init(&c, s, "complete upload of", "POST", bucket, key,
              STAT_requests_complete_multipart);
    add_query(&c, "uploadId", upload_id);
    add_extra(&c, "Content-Type", "application/xml");
    c.body = req.data;
    c.body_len = req.len;
    c.body_out = &body;
    c.retry_error_200 = true;
    c.idle_timeout_s = S3_SLOW_ANSWER_S;
    rc = call_run(&c, &status, NULL);
    if (!rc) {
        rc = s3xml_parse_complete(body.data, body.len, NULL, &e);
        rc = error_in_200("complete upload of", bucket, key, rc, &e);
    }
    call_release(&c);
    buf_release(&req);
    buf_release(&body);
    return rc;
}

static int s3_mpu_abort(struct store *st, const char *bucket, const char *key,
                        const char *upload_id)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    long status;
    if (!upload_id)
        return -EINVAL;
    call_init(&c, s, "abort upload of", "DELETE", bucket, key,
              STAT_requests_abort_multipart);
    add_query(&c, "uploadId", upload_id);
    int rc = call_run(&c, &status, NULL);
    call_release(&c);
    return rc;
}

/* ---- CopyObject ---- */

static int s3_copy(struct store *st, const char *src_bucket,
                   const char *src_key, const char *dst_bucket,
                   const char *dst_key, const struct store_meta *meta)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct meta_text mt;
    struct buf src, body;
    struct s3xml_error e;
    long status;
    int rc;
    buf_init(&src, S3_URL_MAX);
    buf_init(&body, HTTP_ERROR_BODY_MAX);
    rc = buf_putc(&src, '/');
    if (!rc)
        rc = sigv4_uri_encode(&src, src_bucket, strlen(src_bucket), 0);
    if (!rc)
        rc = buf_putc(&src, '/');
    if (!rc)
        rc = sigv4_uri_encode(&src, src_key, strlen(src_key), 1);
    if (rc) {
        buf_release(&src);
        buf_release(&body);
        return rc == -E2BIG ? -ENAMETOOLONG : rc;
    }
    memo_drop(s, dst_bucket);
    call_init(&c, s, "copy to", "PUT", dst_bucket, dst_key,
              STAT_requests_copy);
    add_extra(&c, "x-amz-copy-source", src.data);
    add_extra(&c, "x-amz-metadata-directive", meta ? "REPLACE" : "COPY");
    add_meta(&c, meta, &mt);
    c.body_out = &body;
    c.retry_error_200 = true;
    c.idle_timeout_s = S3_SLOW_ANSWER_S;
    rc = call_run(&c, &status, NULL);
    if (!rc) {
        rc = s3xml_parse_copy(body.data, body.len, NULL, &e);
        rc = error_in_200("copy to", dst_bucket, dst_key, rc, &e);
    }
    call_release(&c);
    buf_release(&src);
    buf_release(&body);
    return rc;
}

/* ---- DeleteObject ---- */

static int s3_del(struct store *st, const char *bucket, const char *key)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    char code[64];
    long status;
    memo_drop(s, bucket);
    call_init(&c, s, "delete", "DELETE", bucket, key, STAT_requests_delete);
    int rc = call_run(&c, &status, code);
    call_release(&c);
    if (rc == -ENOENT && strcmp(code, "NoSuchBucket") != 0)
        rc = 0; /* a missing key is deleted already */
    return rc;
}

/* ---- DeleteObjects ---- */

#define S3_DELETE_ANSWER_MAX (4u << 20) /* 1000 <Error> entries fit */

/* Can KEY go into the XML body?  XML 1.0 has no way to write the control
 * characters other than tab, line feed and carriage return. */
static bool key_xml_ok(const char *key)
{
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return false;
    return true;
}

/* KEY as XML text; tab, LF and CR as character references (a parser
 * would otherwise normalise them). */
static int key_escape(struct buf *b, const char *key)
{
    int rc = 0;
    for (const char *p = key; !rc && *p; p++) {
        switch (*p) {
        case '&': rc = buf_puts(b, "&amp;"); break;
        case '<': rc = buf_puts(b, "&lt;"); break;
        case '>': rc = buf_puts(b, "&gt;"); break;
        case '"': rc = buf_puts(b, "&quot;"); break;
        case '\'': rc = buf_puts(b, "&apos;"); break;
        case '\t': rc = buf_puts(b, "&#9;"); break;
        case '\n': rc = buf_puts(b, "&#10;"); break;
        case '\r': rc = buf_puts(b, "&#13;"); break;
        default: rc = buf_putc(b, *p);
        }
    }
    return rc;
}

struct del_many_state {
    const char *bucket;
    store_del_error_cb cb;
    void *ctx;
    size_t failed;
};

static void del_many_error(void *ctx, const char *key, int err,
                           const char *code, const char *message)
{
    struct del_many_state *d = ctx;
    if (!strcmp(code, "NoSuchKey"))
        return; /* deleted already */
    char c[64];
    snprintf(c, sizeof c, "%s", code);
    clean_code(c);
    d->failed++;
    if (d->cb)
        d->cb(d->ctx, key, err, c, message);
}

static int s3_del_many(struct store *st, const char *bucket,
                       const char *const *keys, size_t n,
                       store_del_error_cb cb, void *ctx)
{
    struct s3 *s = (struct s3 *)st;
    struct s3_call c;
    struct buf req, body;
    struct s3xml_error e;
    struct del_many_state d = {bucket, cb, ctx, 0};
    unsigned char md5[EVP_MAX_MD_SIZE];
    unsigned int md5_len = 0;
    char md5_b64[32];
    char code[64];
    long status;
    size_t sent = 0;
    int rc = 0;
    if (n > STORE_DEL_MANY_MAX)
        return -EINVAL;
    buf_init(&req, 2u << 20); /* 1000 keys of 1024 bytes, escaped: < 2 MiB */
    buf_init(&body, S3_DELETE_ANSWER_MAX);
    rc = buf_puts(&req, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                        "<Delete xmlns=\"http://s3.amazonaws.com/doc/"
                        "2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; !rc && i < n; i++) {
        if (!key_xml_ok(keys[i])) {
            /* no XML form: its own DeleteObject */
            int drc = s3_del(st, bucket, keys[i]);
            if (drc && cb)
                cb(ctx, keys[i], drc, "", "");
            continue;
        }
        rc = buf_puts(&req, "<Object><Key>");
        if (!rc)
            rc = key_escape(&req, keys[i]);
        if (!rc)
            rc = buf_puts(&req, "</Key></Object>");
        sent++;
    }
    if (!rc)
        rc = buf_puts(&req, "</Delete>");
    if (!rc && !sent)
        goto out;
    if (!rc && !EVP_Digest(req.data, req.len, md5, &md5_len, EVP_md5(), NULL))
        rc = -ENOMEM;
    if (rc) {
        rc = rc == -E2BIG ? -ENAMETOOLONG : rc;
        goto out;
    }
    EVP_EncodeBlock((unsigned char *)md5_b64, md5, (int)md5_len);
    memo_drop(s, bucket);
    call_init(&c, s, "delete objects in", "POST", bucket, NULL,
              STAT_requests_delete_objects);
    add_query(&c, "delete", "");
    add_extra(&c, "Content-MD5", md5_b64);
    add_extra(&c, "Content-Type", "application/xml");
    c.body = req.data;
    c.body_len = req.len;
    c.body_out = &body;
    rc = call_run(&c, &status, code);
    call_release(&c);
    if (rc && (status == 501 || status == 405 ||
               !strcmp(code, "NotImplemented"))) {
        rc = -ENOSYS;
        goto out;
    }
    if (rc)
        goto out;
    rc = s3xml_parse_delete_result(body.data, body.len, del_many_error, &d,
                                   &e);
    rc = error_in_200("delete objects in", bucket, "", rc, &e);
    if (!rc)
        stats_add(STAT_keys_deleted, sent - d.failed);
out:
    buf_release(&req);
    buf_release(&body);
    return rc;
}

/* ---- life cycle ---- */

static void s3_free(struct store *st)
{
    struct s3 *s = (struct s3 *)st;
    if (!s)
        return;
    http_pool_free(s->pool);
    pthread_mutex_destroy(&s->mu);
    for (unsigned i = 0; i < S3_MEMO_SLOTS; i++)
        memo_clear(&s->memo[i]);
    pthread_mutex_destroy(&s->memo_mu);
    free(s->scheme);
    free(s->host);
    free(s->base_path);
    free(s->region);
    free(s->access_key);
    if (s->secret_key) {
        memset(s->secret_key, 0, strlen(s->secret_key));
        free(s->secret_key);
    }
    if (s->session_token) {
        memset(s->session_token, 0, strlen(s->session_token));
        free(s->session_token);
    }
    free(s);
}

static const struct store_ops s3_ops = {
    .name = "s3",
    .list_buckets = s3_list_buckets,
    .list = s3_list,
    .head = s3_head,
    .get = s3_get,
    .put = s3_put,
    .mpu_create = s3_mpu_create,
    .mpu_part = s3_mpu_part,
    .mpu_complete = s3_mpu_complete,
    .mpu_abort = s3_mpu_abort,
    .copy = s3_copy,
    .del = s3_del,
    .free = s3_free,
};

static const struct store_ext_ops s3_ext_ops = {
    .del_many = s3_del_many,
    .list_from = s3_list_from,
};

static char *dup_or_null(const char *v)
{
    return v && v[0] ? strdup(v) : NULL;
}

/* Is HOSTPORT an IP literal ("10.0.0.1:9000", "[::1]:9000")?  Such an
 * endpoint cannot take bucket.host names: path-style is used. */
static bool host_is_ip(const char *hostport)
{
    char h[256];
    struct in_addr a4;
    if (hostport[0] == '[')
        return true;
    size_t n = strcspn(hostport, ":");
    if (n >= sizeof h)
        return false;
    memcpy(h, hostport, n);
    h[n] = '\0';
    return inet_pton(AF_INET, h, &a4) == 1;
}

/* Split an endpoint URL into scheme, host[:port] and base path. */
static int parse_endpoint(struct s3 *s, const char *url, char *err,
                          size_t errlen)
{
    const char *p = url;
    const char *sep = strstr(url, "://");
    if (sep) {
        size_t n = (size_t)(sep - url);
        if (n == 4 && !strncasecmp(url, "http", 4))
            s->scheme = strdup("http");
        else if (n == 5 && !strncasecmp(url, "https", 5))
            s->scheme = strdup("https");
        else {
            snprintf(err, errlen, "unsupported endpoint scheme in '%.200s'",
                     url);
            return -EINVAL;
        }
        p = sep + 3;
    } else {
        s->scheme = strdup("https");
    }
    size_t hl = strcspn(p, "/?#");
    if (hl == 0 || hl >= 256 || memchr(p, '@', hl)) {
        snprintf(err, errlen, "bad endpoint '%.200s'", url);
        return -EINVAL;
    }
    s->host = strndup(p, hl);
    const char *path = p + hl;
    size_t pl = strcspn(path, "?#");
    while (pl && path[pl - 1] == '/')
        pl--;
    s->base_path = strndup(path, pl);
    if (!s->scheme || !s->host || !s->base_path)
        return -ENOMEM;
    return 0;
}

int store_s3_new(const struct config *cfg, struct store **out, char *err,
                 size_t errlen)
{
    struct s3 *s;
    char def[256];
    int rc;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->base.ops = &s3_ops;
    s->base.ext = &s3_ext_ops;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->memo_mu, NULL);
    const char *region = cfg->region && cfg->region[0] ? cfg->region
                                                        : "us-east-1";
    s->region = strdup(region);
    const char *endpoint = cfg->endpoint;
    if (!endpoint || !endpoint[0]) {
        snprintf(def, sizeof def, "https://s3.%s.amazonaws.com", region);
        endpoint = def;
        s->aws_default = true;
    }
    rc = parse_endpoint(s, endpoint, err, errlen);
    if (rc)
        goto fail;
    /* config.c resolves path_style (true for a custom endpoint unless
     * virtual_host); if it was not resolved, decide the same way here. */
    s->path_style = cfg->virtual_host
                        ? false
                        : (cfg->path_style || (cfg->endpoint && cfg->endpoint[0]));
    if (!s->path_style && host_is_ip(s->host))
        s->path_style = true;
    s->anonymous = cfg->no_sign_request;
    if (!s->anonymous) {
        if (!cfg->access_key || !cfg->access_key[0] || !cfg->secret_key ||
            !cfg->secret_key[0]) {
            log_info("no credentials for endpoint '%s': sending anonymous "
                     "requests", endpoint);
            s->anonymous = true;
        } else {
            s->access_key = strdup(cfg->access_key);
            s->secret_key = strdup(cfg->secret_key);
            s->session_token = dup_or_null(cfg->session_token);
            if (!s->access_key || !s->secret_key ||
                (cfg->session_token && cfg->session_token[0] &&
                 !s->session_token)) {
                rc = -ENOMEM;
                goto fail;
            }
        }
    }
    if (!s->region) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = http_pool_new(S3_POOL_IDLE, &s->pool);
    if (rc) {
        snprintf(err, errlen, "cannot set up HTTP for '%s'", endpoint);
        goto fail;
    }
    *out = &s->base;
    return 0;
fail:
    if (rc == -ENOMEM && err && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    s3_free(&s->base);
    return rc;
}
