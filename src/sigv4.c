/* sigv4.c - AWS Signature Version 4 (see sigv4.h). */
#include "sigv4.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
#define SIGV4_CAP (1u << 20) /* cap on each canonical text: 1 MiB */

static const char hexdig_lc[] = "0123456789abcdef";
static const char hexdig_uc[] = "0123456789ABCDEF";

void sigv4_out_init(struct sigv4_out *o)
{
    buf_init(&o->creq, SIGV4_CAP);
    buf_init(&o->sts, SIGV4_CAP);
    buf_init(&o->authz, SIGV4_CAP);
}

void sigv4_out_release(struct sigv4_out *o)
{
    buf_release(&o->creq);
    buf_release(&o->sts);
    buf_release(&o->authz);
}

static void hex_lc(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lc[in[i] >> 4];
        out[2 * i + 1] = hexdig_lc[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len,
                      char out[SIGV4_HEX_SHA256_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data ? data : (const void *)"", len, md);
    hex_lc(md, sizeof md, out);
}

void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) == 0)
        out[0] = '\0';
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

int sigv4_uri_encode(struct buf *b, const char *s, size_t n, int keep_slash)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hexdig_uc[c >> 4], hexdig_uc[c & 15]};
            rc = buf_append(b, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- canonical query string ---- */

struct enc_kv {
    char *name;  /* encoded, owned */
    char *value; /* encoded, owned */
};

static int enc_kv_cmp(const void *a, const void *b)
{
    const struct enc_kv *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s)
{
    struct buf b;
    buf_init(&b, SIGV4_CAP);
    if (sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, 0)) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static int canonical_query(struct buf *out, const struct sigv4_kv *q, size_t n)
{
    if (n == 0)
        return 0;
    struct enc_kv *v = calloc(n, sizeof *v);
    int rc = -ENOMEM;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].name = encode_dup(q[i].name);
        v[i].value = encode_dup(q[i].value);
        if (!v[i].name || !v[i].value)
            goto done;
    }
    qsort(v, n, sizeof *v, enc_kv_cmp);
    for (size_t i = 0; i < n; i++) {
        rc = buf_printf(out, "%s%s=%s", i ? "&" : "", v[i].name, v[i].value);
        if (rc)
            goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
    return rc;
}

/* ---- canonical headers ---- */

struct canon_hdr {
    char *name;  /* lower-case, owned */
    char *value; /* trimmed, inner whitespace collapsed, owned */
    size_t order;
};

static int canon_hdr_cmp(const void *a, const void *b)
{
    const struct canon_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim and collapse whitespace runs to one space (as AWS and botocore's
 * ' '.join(value.split()) do). */
static char *normalize_value(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    char *o = malloc(n + 1);
    size_t j = 0;
    int pending_space = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (is_ws(s[i])) {
            pending_space = j > 0;
            continue;
        }
        if (pending_space)
            o[j++] = ' ';
        pending_space = 0;
        o[j++] = s[i];
    }
    o[j] = '\0';
    return o;
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        o[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return o;
}

/* Appends "name:v1,v2\n" lines to CREQ and "a;b;c" to SIGNED. */
static int canonical_headers(struct buf *creq, struct buf *signed_h,
                             const struct sigv4_kv *h, size_t n)
{
    struct canon_hdr *v = calloc(n ? n : 1, sizeof *v);
    int rc = -ENOMEM;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || !h[i].name[0]) {
            rc = -EINVAL;
            goto done;
        }
        v[i].name = lower_dup(h[i].name);
        v[i].value = normalize_value(h[i].value);
        v[i].order = i;
        if (!v[i].name || !v[i].value)
            goto done;
    }
    qsort(v, n, sizeof *v, canon_hdr_cmp);
    for (size_t i = 0; i < n; i++) {
        int first = i == 0 || strcmp(v[i].name, v[i - 1].name) != 0;
        int last = i + 1 == n || strcmp(v[i].name, v[i + 1].name) != 0;
        if (first) {
            rc = buf_printf(creq, "%s:", v[i].name);
            if (!rc)
                rc = buf_printf(signed_h, "%s%s", i ? ";" : "", v[i].name);
        } else {
            rc = buf_putc(creq, ',');
        }
        if (!rc)
            rc = buf_puts(creq, v[i].value);
        if (!rc && last)
            rc = buf_putc(creq, '\n');
        if (rc)
            goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].value);
    }
    free(v);
    return rc;
}

static int hmac(const void *key, size_t klen, const char *msg,
                unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned int olen = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
              strlen(msg), out, &olen) ||
        olen != SHA256_DIGEST_LENGTH)
        return -EIO;
    return 0;
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_creds *cr,
               const char *region, const char *service, time_t t,
               struct sigv4_out *out)
{
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];
    char date[9];
    char creq_hash[SIGV4_HEX_SHA256_LEN + 1];
    char sig_hex[2 * SHA256_DIGEST_LENGTH + 1];
    unsigned char k[SHA256_DIGEST_LENGTH];
    struct buf signed_h;
    struct buf secret;
    int rc;

    buf_reset(&out->creq);
    buf_reset(&out->sts);
    buf_reset(&out->authz);
    if (!req || !req->method || !req->payload_hash || !cr ||
        !cr->access_key || !cr->secret_key || !region || !service)
        return -EINVAL;

    sigv4_amz_date(t, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    buf_init(&signed_h, SIGV4_CAP);
    buf_init(&secret, 4096);

    /* 1. Canonical request. */
    const char *path = (req->path && req->path[0]) ? req->path : "/";
    rc = buf_printf(&out->creq, "%s\n", req->method);
    if (!rc)
        rc = sigv4_uri_encode(&out->creq, path, strlen(path), 1);
    if (!rc)
        rc = buf_putc(&out->creq, '\n');
    if (!rc)
        rc = canonical_query(&out->creq, req->query, req->nquery);
    if (!rc)
        rc = buf_putc(&out->creq, '\n');
    if (!rc)
        rc = canonical_headers(&out->creq, &signed_h, req->headers,
                               req->nheaders);
    if (!rc)
        rc = buf_printf(&out->creq, "\n%s\n%s", signed_h.data ? signed_h.data : "",
                        req->payload_hash);
    if (rc)
        goto done;

    /* 2. String to sign. */
    sigv4_sha256_hex(out->creq.data, out->creq.len, creq_hash);
    rc = buf_printf(&out->sts, SIGV4_ALGO "\n%s\n%s/%s/%s/aws4_request\n%s",
                    amz_date, date, region, service, creq_hash);
    if (rc)
        goto done;

    /* 3. Signing key and signature. */
    rc = buf_printf(&secret, "AWS4%s", cr->secret_key);
    if (rc)
        goto done;
    rc = hmac(secret.data, secret.len, date, k);
    if (!rc)
        rc = hmac(k, sizeof k, region, k);
    if (!rc)
        rc = hmac(k, sizeof k, service, k);
    if (!rc)
        rc = hmac(k, sizeof k, "aws4_request", k);
    if (!rc)
        rc = hmac(k, sizeof k, out->sts.data, k);
    if (rc)
        goto done;
    hex_lc(k, sizeof k, sig_hex);

    /* 4. Authorization header. */
    rc = buf_printf(&out->authz,
                    SIGV4_ALGO " Credential=%s/%s/%s/%s/aws4_request, "
                    "SignedHeaders=%s, Signature=%s",
                    cr->access_key, date, region, service,
                    signed_h.data ? signed_h.data : "", sig_hex);
done:
    OPENSSL_cleanse(k, sizeof k);
    if (secret.data)
        OPENSSL_cleanse(secret.data, secret.len);
    buf_release(&secret);
    buf_release(&signed_h);
    return rc;
}
