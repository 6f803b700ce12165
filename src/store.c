/* store.c - helpers shared by every store backend; see store.h */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct get_all_ctx {
    struct buf b;
};

static int get_all_cb(void *ctx, const void *data, size_t len)
{
    struct get_all_ctx *c = ctx;
    return buf_append(&c->b, data, len);
}

int store_get_all(struct store *s, const char *bucket, const char *key,
                  size_t max, char **data, size_t *len)
{
    struct get_all_ctx c;
    *data = NULL;
    *len = 0;
    buf_init(&c.b, max);
    int rc = s->ops->get(s, bucket, key, 0, UINT64_MAX, get_all_cb, &c);
    if (rc) {
        buf_release(&c.b);
        return rc;
    }
    *len = c.b.len;
    *data = buf_detach(&c.b);
    return *data ? 0 : -ENOMEM;
}

int store_http_errno(long status, const char *code)
{
    if (code) {
        if (!strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchBucket") ||
            !strcmp(code, "NoSuchUpload"))
            return -ENOENT;
        if (!strcmp(code, "BucketNotEmpty"))
            return -ENOTEMPTY;
        if (!strcmp(code, "InvalidAccessKeyId") ||
            !strcmp(code, "SignatureDoesNotMatch") ||
            !strcmp(code, "AccessDenied"))
            return -EACCES;
        if (!strcmp(code, "EntityTooLarge"))
            return -EFBIG;
    }
    if (status >= 200 && status < 300)
        return 0;
    switch (status) {
    case 400: return -EINVAL;
    case 401:
    case 403: return -EACCES;
    case 404: return -ENOENT;
    case 409: return -EEXIST;
    case 412: return -ESTALE;
    case 416: return 0; /* range past the end: no bytes */
    default: return -EIO;
    }
}
