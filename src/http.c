/* http.c - libcurl handle pool, requests and retries (see http.h). */
#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "log.h"

#define HTTP_RECV_BUFFER (512L << 10)
#define HTTP_SEND_BUFFER (1L << 20)

struct http_headers {
    struct curl_slist *list;
};

struct http_pool {
    pthread_mutex_t mu;
    CURL **idle;
    unsigned nidle, max_idle;
};

int http_headers_add(struct http_headers *h, const char *name,
                     const char *value)
{
    struct buf line;
    int rc;
    buf_init(&line, 1u << 20);
    /* "Name:" alone removes a header curl would add; "Name;" sends it
     * empty (curl's convention). */
    if (value && value[0])
        rc = buf_printf(&line, "%s: %s", name, value);
    else if (value)
        rc = buf_printf(&line, "%s;", name);
    else
        rc = buf_printf(&line, "%s:", name);
    if (rc) {
        buf_release(&line);
        return rc;
    }
    struct curl_slist *n = curl_slist_append(h->list, line.data);
    buf_release(&line);
    if (!n)
        return -ENOMEM;
    h->list = n;
    return 0;
}

void http_result_init(struct http_result *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->error_body, HTTP_ERROR_BODY_MAX);
}

void http_result_release(struct http_result *r)
{
    buf_release(&r->error_body);
}

/* ---- pool ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int http_pool_new(unsigned max_idle, struct http_pool **out)
{
    *out = NULL;
    pthread_once(&global_once, global_init);
    if (global_rc)
        return global_rc;
    struct http_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->max_idle = max_idle ? max_idle : 1;
    p->idle = calloc(p->max_idle, sizeof *p->idle);
    if (!p->idle) {
        free(p);
        return -ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void http_pool_free(struct http_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->nidle; i++)
        curl_easy_cleanup(p->idle[i]);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static CURL *pool_get(struct http_pool *p)
{
    CURL *h = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->nidle)
        h = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->mu);
    if (h)
        curl_easy_reset(h); /* keeps live connections and caches */
    else
        h = curl_easy_init();
    return h;
}

static void pool_put(struct http_pool *p, CURL *h)
{
    pthread_mutex_lock(&p->mu);
    if (p->nidle < p->max_idle) {
        p->idle[p->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    if (h)
        curl_easy_cleanup(h);
}

/* ---- backoff ---- */

bool http_status_retryable(long status)
{
    return status >= 500 || status == 429;
}

unsigned http_backoff_ms(int attempt, double r)
{
    double cap = HTTP_BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && cap < HTTP_BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > HTTP_BACKOFF_CAP_MS)
        cap = HTTP_BACKOFF_CAP_MS;
    if (r < 0 || r >= 1)
        r = 0;
    return (unsigned)(cap * r);
}

static double rand01(void)
{
    static __thread uint64_t s;
    if (!s) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
            (uint64_t)(uintptr_t)&s;
        if (!s)
            s = 0x9e3779b97f4a7c15ULL;
    }
    s ^= s << 13; /* xorshift64 */
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* ---- one attempt ---- */

struct attempt {
    const struct http_request *req;
    struct http_result *res;
    CURL *h;
    uint64_t delivered; /* body bytes given to on_data, all attempts */
    size_t upload_off;
    long status; /* status of the response being received */
    int cb_rc;   /* hook error: abort, no retry */
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *ud)
{
    struct attempt *a = ud;
    size_t room = size * nmemb;
    size_t left = a->req->body_len - a->upload_off;
    size_t n = left < room ? left : room;
    if (n)
        memcpy(dst, (const char *)a->req->body + a->upload_off, n);
    a->upload_off += n;
    return n;
}

static int seek_cb(void *ud, curl_off_t off, int origin)
{
    struct attempt *a = ud;
    if (origin != SEEK_SET || off < 0 || (uint64_t)off > a->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    a->upload_off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
    struct attempt *a = ud;
    size_t n = size * nmemb;
    size_t len = n;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len >= 5 && !memcmp(line, "HTTP/", 5)) {
        const char *sp = memchr(line, ' ', len);
        long st = 0;
        if (sp)
            for (sp++; sp < line + len && *sp >= '0' && *sp <= '9'; sp++)
                st = st * 10 + (*sp - '0');
        a->status = st;
        return n;
    }
    if (a->status < 200)
        return n;
    if (len == 0) { /* end of the final response's headers */
        if (a->req->on_response)
            a->req->on_response(a->req->ctx, a->status);
        return n;
    }
    if (!a->req->on_header)
        return n;
    const char *colon = memchr(line, ':', len);
    if (!colon)
        return n;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    a->req->on_header(a->req->ctx, line, (size_t)(colon - line), v,
                      (size_t)(end - v));
    return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
    struct attempt *a = ud;
    size_t n = size * nmemb;
    long st = a->status;
    if (st >= 200 && st < 300) {
        int rc;
        if (a->req->on_data) {
            rc = a->req->on_data(a->req->ctx, data, n);
            if (!rc)
                a->delivered += n;
        } else if (a->req->body_out) {
            rc = buf_append(a->req->body_out, data, n);
        } else {
            rc = 0; /* body not wanted */
        }
        if (rc) {
            a->cb_rc = rc;
            return 0; /* abort the transfer */
        }
    } else {
        /* Error body: keep the head of it, drop the rest. */
        struct buf *eb = &a->res->error_body;
        size_t room = eb->max > eb->len ? eb->max - eb->len : 0;
        if (room && buf_append(eb, data, n < room ? n : room)) {
            /* out of memory: the error body is only informative */
        }
    }
    return n;
}

static int curl_errno(CURLcode cc)
{
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
    case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
    case CURLE_OUT_OF_MEMORY: return -ENOMEM;
    default: return -EIO;
    }
}

static bool curl_retryable(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
        return false;
    default:
        return true;
    }
}

static void setup(struct attempt *a, struct curl_slist *hdrs)
{
    const struct http_request *r = a->req;
    CURL *h = a->h;
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    /* S3 keys may hold "." and ".." segments: send the path as signed */
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, HTTP_RECV_BUFFER);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, HTTP_SEND_BUFFER);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                     (long)(r->idle_timeout_s ? r->idle_timeout_s
                                              : HTTP_LOW_SPEED_TIME_S));
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "gluefs/0.1");
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, a);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, a);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)r->body_len);
    } else if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    }
}

int http_execute(struct http_pool *p, const struct http_request *req,
                 struct http_result *res)
{
    struct attempt a;
    int last = -EIO;
    memset(&a, 0, sizeof a);
    a.req = req;
    a.res = res;
    res->status = 0;
    res->curl_code = 0;
    res->attempts = 0;

    for (int i = 0; i < HTTP_ATTEMPTS; i++) {
        if (i > 0) {
            stats_add(STAT_retries, 1);
            sleep_ms(http_backoff_ms(i, rand01()));
        }
        struct http_headers hh = {NULL};
        int rc = http_headers_add(&hh, "Expect", NULL);
        if (!rc)
            rc = http_headers_add(&hh, "Accept", NULL);
        if (!rc && req->headers)
            rc = req->headers(req->ctx, a.delivered, &hh);
        if (rc) {
            curl_slist_free_all(hh.list);
            return rc;
        }
        a.h = pool_get(p);
        if (!a.h) {
            curl_slist_free_all(hh.list);
            return -ENOMEM;
        }
        a.upload_off = 0;
        a.status = 0;
        a.cb_rc = 0;
        buf_reset(&res->error_body);
        if (req->body_out)
            buf_reset(req->body_out);
        setup(&a, hh.list);

        uint64_t delivered_before = a.delivered;
        stats_add(req->stat, 1);
        CURLcode cc = curl_easy_perform(a.h);
        res->attempts = i + 1;
        res->curl_code = (int)cc;
        long status = 0;
        curl_off_t up = 0, down = 0;
        curl_easy_getinfo(a.h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(a.h, CURLINFO_SIZE_UPLOAD_T, &up);
        curl_easy_getinfo(a.h, CURLINFO_SIZE_DOWNLOAD_T, &down);
        stats_add(STAT_bytes_uploaded, (uint64_t)(up > 0 ? up : 0));
        stats_add(STAT_bytes_downloaded, (uint64_t)(down > 0 ? down : 0));
        char errtext[128];
        snprintf(errtext, sizeof errtext, "%s", curl_easy_strerror(cc));
        pool_put(p, a.h);
        a.h = NULL;
        curl_slist_free_all(hh.list);

        if (a.cb_rc)
            return a.cb_rc; /* the caller aborted: no retry */
        if (cc != CURLE_OK) {
            last = curl_errno(cc);
            bool resumable = a.delivered == delivered_before ||
                             req->resumable;
            if (!curl_retryable(cc) || !resumable)
                break;
            log_debug("%s request failed (attempt %d): %s", req->method,
                      i + 1, errtext);
            continue;
        }
        res->status = status;
        bool again = http_status_retryable(status);
        if (!again && req->retry) {
            const struct buf *b = (status >= 200 && status < 300 &&
                                   req->body_out)
                                      ? req->body_out
                                      : &res->error_body;
            again = req->retry(req->ctx, status, b);
        }
        if (again && i + 1 < HTTP_ATTEMPTS) {
            log_debug("%s request got %ld (attempt %d): retrying",
                      req->method, status, i + 1);
            continue;
        }
        if (again || (status >= 300 && status != 404 && status != 412 &&
                      status != 416 && status != 304))
            stats_add(STAT_errors, 1);
        return 0;
    }
    res->status = 0;
    stats_add(STAT_errors, 1);
    return last;
}

int http_parse_date(const char *s, int64_t *out)
{
    *out = 0;
    if (!s)
        return -EINVAL;
    time_t t = curl_getdate(s, NULL);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = (int64_t)t;
    return 0;
}
