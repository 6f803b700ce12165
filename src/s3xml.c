/* s3xml.c - expat parsers for S3's XML bodies (see s3xml.h). */
#include "s3xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <expat.h>

#include "buf.h"

#define XP_DEPTH_MAX 32
#define XP_PATH_MAX 512

/* A small path-tracking driver around expat: handlers see the element
 * path ("/ListBucketResult/Contents/Key") and the element's text. */
struct xp {
    XML_Parser p;
    char path[XP_PATH_MAX];
    size_t pathlen;
    size_t stack[XP_DEPTH_MAX]; /* pathlen before each open element */
    int depth;
    struct buf text;
    char root[64];
    int rc; /* first error; parsing stops on it */
    /* Called at every element end with its path and text. */
    int (*on_end)(struct xp *x, const char *path, const char *text,
                  size_t len);
    void *ud;
    struct s3xml_error err; /* filled when the root is <Error> */
};

static void xp_fail(struct xp *x, int rc)
{
    if (!x->rc)
        x->rc = rc;
    XML_StopParser(x->p, XML_FALSE);
}

static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':');
    return c ? c + 1 : n;
}

static void XMLCALL xp_start(void *ud, const XML_Char *name,
                             const XML_Char **atts)
{
    struct xp *x = ud;
    const char *ln = local_name(name);
    size_t n = strlen(ln);
    (void)atts;
    if (x->rc)
        return;
    if (x->depth >= XP_DEPTH_MAX || x->pathlen + n + 2 > sizeof x->path) {
        xp_fail(x, -E2BIG);
        return;
    }
    if (x->depth == 0)
        snprintf(x->root, sizeof x->root, "%s", ln);
    x->stack[x->depth++] = x->pathlen;
    x->path[x->pathlen++] = '/';
    memcpy(x->path + x->pathlen, ln, n + 1);
    x->pathlen += n;
    buf_reset(&x->text);
}

static void copy_trunc(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void XMLCALL xp_end(void *ud, const XML_Char *name)
{
    struct xp *x = ud;
    (void)name;
    if (x->rc || x->depth == 0)
        return;
    const char *t = x->text.data ? x->text.data : "";
    if (!strcmp(x->path, "/Error/Code"))
        copy_trunc(x->err.code, sizeof x->err.code, t, x->text.len);
    else if (!strcmp(x->path, "/Error/Message"))
        copy_trunc(x->err.message, sizeof x->err.message, t, x->text.len);
    else if (!strcmp(x->path, "/Error/Region"))
        copy_trunc(x->err.region, sizeof x->err.region, t, x->text.len);
    else if (x->on_end && strcmp(x->root, "Error") != 0) {
        int rc = x->on_end(x, x->path, t, x->text.len);
        if (rc) {
            xp_fail(x, rc);
            return;
        }
    }
    x->pathlen = x->stack[--x->depth];
    x->path[x->pathlen] = '\0';
    buf_reset(&x->text);
}

static void XMLCALL xp_chars(void *ud, const XML_Char *s, int len)
{
    struct xp *x = ud;
    if (x->rc || len <= 0)
        return;
    int rc = buf_append(&x->text, s, (size_t)len);
    if (rc)
        xp_fail(x, rc);
}

/* S3 never sends a DTD: refuse one (no entity expansion games). */
static void XMLCALL xp_doctype(void *ud, const XML_Char *name,
                               const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    xp_fail(ud, -EPROTO);
}

/* Parse BODY expecting root element ROOT.  Returns 0, the handler's error,
 * -EREMOTEIO for an <Error> document, -EPROTO for bad XML or another
 * root. */
static int xp_run(struct xp *x, const char *body, size_t len,
                  const char *root, struct s3xml_error *err)
{
    int rc;
    if (err)
        memset(err, 0, sizeof *err);
    if (len > S3XML_BODY_MAX)
        return -E2BIG;
    x->p = XML_ParserCreate(NULL);
    if (!x->p)
        return -ENOMEM;
    buf_init(&x->text, S3XML_TEXT_MAX);
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, xp_start, xp_end);
    XML_SetCharacterDataHandler(x->p, xp_chars);
    XML_SetStartDoctypeDeclHandler(x->p, xp_doctype);
    if (XML_Parse(x->p, body ? body : "", (int)len, XML_TRUE) ==
            XML_STATUS_ERROR &&
        !x->rc)
        x->rc = -EPROTO;
    rc = x->rc;
    if (!rc && !strcmp(x->root, "Error")) {
        rc = -EREMOTEIO;
        if (err)
            *err = x->err;
    } else if (!rc && root && strcmp(x->root, root) != 0) {
        rc = -EPROTO;
    }
    XML_ParserFree(x->p);
    buf_release(&x->text);
    return rc;
}

int s3xml_parse_error(const char *body, size_t len, struct s3xml_error *out)
{
    struct xp x;
    memset(&x, 0, sizeof x);
    int rc = xp_run(&x, body, len, "Error", out);
    if (rc == -EREMOTEIO)
        return 0;
    if (out)
        memset(out, 0, sizeof *out);
    return rc ? rc : -EPROTO;
}

int s3xml_parse_time(const char *s, int64_t *out)
{
    struct tm tm;
    *out = 0;
    memset(&tm, 0, sizeof tm);
    const char *e = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!e)
        return -EINVAL;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *out = (int64_t)t;
    return 0;
}

void s3xml_etag_copy(char *out, const char *etag, size_t len)
{
    if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
        etag++;
        len -= 2;
    }
    copy_trunc(out, STORE_ETAG_MAX, etag, len);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -EPROTO;
    *out = v;
    return 0;
}

/* ---- ListAllMyBucketsResult ---- */

struct lb_ctx {
    store_list_cb cb;
    void *ctx;
    char name[256];
    int64_t created;
    int stop; /* positive CB value */
};

static int lb_end(struct xp *x, const char *path, const char *t, size_t n)
{
    struct lb_ctx *c = x->ud;
    if (!strcmp(path, "/ListAllMyBucketsResult/Buckets/Bucket/Name")) {
        copy_trunc(c->name, sizeof c->name, t, n);
    } else if (!strcmp(path,
                       "/ListAllMyBucketsResult/Buckets/Bucket/CreationDate")) {
        if (s3xml_parse_time(t, &c->created))
            c->created = 0;
    } else if (!strcmp(path, "/ListAllMyBucketsResult/Buckets/Bucket")) {
        struct store_entry e = {.key = c->name, .is_prefix = false,
                                .size = 0, .mtime = c->created, .etag = ""};
        int rc = c->name[0] ? c->cb(c->ctx, &e) : 0;
        c->name[0] = '\0';
        c->created = 0;
        if (rc > 0) {
            c->stop = rc;
            return 1; /* stop parsing; not an error */
        }
        return rc;
    }
    return 0;
}

int s3xml_parse_list_buckets(const char *body, size_t len, store_list_cb cb,
                             void *ctx, struct s3xml_error *err)
{
    struct xp x;
    struct lb_ctx c;
    memset(&x, 0, sizeof x);
    memset(&c, 0, sizeof c);
    c.cb = cb;
    c.ctx = ctx;
    x.on_end = lb_end;
    x.ud = &c;
    int rc = xp_run(&x, body, len, "ListAllMyBucketsResult", err);
    if (rc == 1)
        return c.stop;
    return rc;
}

/* ---- ListBucketResult (ListObjectsV2) ---- */

struct lo_ctx {
    struct s3xml_list_page *page;
    size_t alloc;
    struct store_entry cur; /* strings owned until pushed */
    char *cur_key, *cur_etag;
    bool url_encoded;
};

static int lo_push(struct lo_ctx *c, bool is_prefix)
{
    struct s3xml_list_page *pg = c->page;
    if (!c->cur_key)
        return 0; /* an entry without a key is ignored */
    if (pg->n == c->alloc) {
        if (c->alloc >= S3XML_PAGE_MAX)
            return -E2BIG;
        size_t na = c->alloc ? 2 * c->alloc : 64;
        struct store_entry *ne = realloc(pg->entries, na * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        pg->entries = ne;
        c->alloc = na;
    }
    struct store_entry *e = &pg->entries[pg->n++];
    *e = c->cur;
    e->is_prefix = is_prefix;
    e->key = c->cur_key;
    if (!c->cur_etag)
        c->cur_etag = strdup("");
    e->etag = c->cur_etag;
    c->cur_key = NULL;
    c->cur_etag = NULL;
    memset(&c->cur, 0, sizeof c->cur);
    return e->etag ? 0 : -ENOMEM;
}

static int lo_end(struct xp *x, const char *path, const char *t, size_t n)
{
    struct lo_ctx *c = x->ud;
    static const char C[] = "/ListBucketResult/Contents";
    static const char P[] = "/ListBucketResult/CommonPrefixes";
    if (!strncmp(path, C, sizeof C - 1)) {
        const char *leaf = path + sizeof C - 1;
        if (!strcmp(leaf, "/Key") || !strcmp(leaf, "/ETag")) {
            char *v;
            if (leaf[1] == 'E') {
                char tmp[STORE_ETAG_MAX];
                s3xml_etag_copy(tmp, t, n);
                v = strdup(tmp);
                free(c->cur_etag);
                c->cur_etag = v;
            } else {
                v = strndup(t, n);
                free(c->cur_key);
                c->cur_key = v;
            }
            return v ? 0 : -ENOMEM;
        }
        if (!strcmp(leaf, "/Size"))
            return parse_u64(t, &c->cur.size);
        if (!strcmp(leaf, "/LastModified")) {
            if (s3xml_parse_time(t, &c->cur.mtime))
                c->cur.mtime = 0;
            return 0;
        }
        if (!leaf[0])
            return lo_push(c, false);
        return 0;
    }
    if (!strcmp(path, "/ListBucketResult/CommonPrefixes/Prefix")) {
        free(c->cur_key);
        c->cur_key = strndup(t, n);
        return c->cur_key ? 0 : -ENOMEM;
    }
    if (!strcmp(path, P)) {
        memset(&c->cur, 0, sizeof c->cur);
        return lo_push(c, true);
    }
    if (!strcmp(path, "/ListBucketResult/IsTruncated")) {
        c->page->truncated = !strcmp(t, "true");
        return 0;
    }
    if (!strcmp(path, "/ListBucketResult/NextContinuationToken")) {
        free(c->page->next_token);
        c->page->next_token = strndup(t, n);
        return c->page->next_token ? 0 : -ENOMEM;
    }
    if (!strcmp(path, "/ListBucketResult/EncodingType")) {
        c->url_encoded = !strcmp(t, "url");
        return 0;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* In-place percent-decoding ('+' is a space in S3's url encoding). */
static void url_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        int h, l;
        if (*s == '%' && (h = hexval(s[1])) >= 0 && (l = hexval(s[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else if (*s == '+') {
            *o++ = ' ';
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static int entry_cmp(const void *a, const void *b)
{
    const struct store_entry *x = a, *y = b;
    return strcmp(x->key, y->key);
}

int s3xml_parse_list_objects(const char *body, size_t len,
                             struct s3xml_list_page *page,
                             struct s3xml_error *err)
{
    struct xp x;
    struct lo_ctx c;
    memset(page, 0, sizeof *page);
    memset(&x, 0, sizeof x);
    memset(&c, 0, sizeof c);
    c.page = page;
    x.on_end = lo_end;
    x.ud = &c;
    int rc = xp_run(&x, body, len, "ListBucketResult", err);
    free(c.cur_key);
    free(c.cur_etag);
    if (rc)
        return rc;
    if (c.url_encoded)
        for (size_t i = 0; i < page->n; i++)
            url_decode((char *)page->entries[i].key);
    /* S3 sends a page's Contents, then its CommonPrefixes: merge them into
     * one key order (both are sorted; keys are unique within a page). */
    if (page->n > 1)
        qsort(page->entries, page->n, sizeof *page->entries, entry_cmp);
    return 0;
}

void s3xml_list_page_release(struct s3xml_list_page *page)
{
    for (size_t i = 0; i < page->n; i++) {
        free((char *)page->entries[i].key);
        free((char *)page->entries[i].etag);
    }
    free(page->entries);
    free(page->next_token);
    memset(page, 0, sizeof *page);
}

/* ---- single-value results ---- */

struct one_ctx {
    const char *want; /* path of the value */
    char *value;      /* malloc'd */
};

static int one_end(struct xp *x, const char *path, const char *t, size_t n)
{
    struct one_ctx *c = x->ud;
    if (!strcmp(path, c->want)) {
        free(c->value);
        c->value = strndup(t, n);
        return c->value ? 0 : -ENOMEM;
    }
    return 0;
}

static int parse_one(const char *body, size_t len, const char *root,
                     const char *want, char **value, struct s3xml_error *err)
{
    struct xp x;
    struct one_ctx c = {want, NULL};
    memset(&x, 0, sizeof x);
    x.on_end = one_end;
    x.ud = &c;
    *value = NULL;
    int rc = xp_run(&x, body, len, root, err);
    if (rc) {
        free(c.value);
        return rc;
    }
    *value = c.value;
    return 0;
}

int s3xml_parse_initiate(const char *body, size_t len, char **upload_id,
                         struct s3xml_error *err)
{
    int rc = parse_one(body, len, "InitiateMultipartUploadResult",
                       "/InitiateMultipartUploadResult/UploadId", upload_id,
                       err);
    if (!rc && (!*upload_id || !**upload_id)) {
        free(*upload_id);
        *upload_id = NULL;
        rc = -EPROTO;
    }
    return rc;
}

static int parse_etag_doc(const char *body, size_t len, const char *root,
                          const char *path, char *etag,
                          struct s3xml_error *err)
{
    char *v = NULL;
    int rc = parse_one(body, len, root, path, &v, err);
    if (etag)
        etag[0] = '\0';
    if (!rc && etag && v)
        s3xml_etag_copy(etag, v, strlen(v));
    free(v);
    return rc;
}

int s3xml_parse_copy(const char *body, size_t len, char *etag,
                     struct s3xml_error *err)
{
    return parse_etag_doc(body, len, "CopyObjectResult",
                          "/CopyObjectResult/ETag", etag, err);
}

int s3xml_parse_complete(const char *body, size_t len, char *etag,
                         struct s3xml_error *err)
{
    return parse_etag_doc(body, len, "CompleteMultipartUploadResult",
                          "/CompleteMultipartUploadResult/ETag", etag, err);
}

/* ---- DeleteResult (DeleteObjects) ---- */

struct del_ctx {
    store_del_error_cb cb;
    void *ctx;
    char *key;          /* malloc'd */
    char code[64];
    char message[256];
};

static int del_end(struct xp *x, const char *path, const char *t, size_t n)
{
    struct del_ctx *c = x->ud;
    if (!strcmp(path, "/DeleteResult/Error/Key")) {
        free(c->key);
        c->key = strndup(t, n);
        return c->key ? 0 : -ENOMEM;
    }
    if (!strcmp(path, "/DeleteResult/Error/Code")) {
        copy_trunc(c->code, sizeof c->code, t, n);
        return 0;
    }
    if (!strcmp(path, "/DeleteResult/Error/Message")) {
        copy_trunc(c->message, sizeof c->message, t, n);
        return 0;
    }
    if (!strcmp(path, "/DeleteResult/Error")) {
        if (c->key && c->cb) {
            int err = store_http_errno(500, c->code[0] ? c->code : NULL);
            c->cb(c->ctx, c->key, err ? err : -EIO, c->code, c->message);
        }
        free(c->key);
        c->key = NULL;
        c->code[0] = c->message[0] = '\0';
    }
    return 0;
}

int s3xml_parse_delete_result(const char *body, size_t len,
                              store_del_error_cb cb, void *ctx,
                              struct s3xml_error *err)
{
    struct xp x;
    struct del_ctx c;
    memset(&x, 0, sizeof x);
    memset(&c, 0, sizeof c);
    c.cb = cb;
    c.ctx = ctx;
    x.on_end = del_end;
    x.ud = &c;
    int rc = xp_run(&x, body, len, "DeleteResult", err);
    free(c.key);
    return rc;
}
