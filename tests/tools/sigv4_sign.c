/* sigv4_sign - print the SigV4 Authorization header of S3 requests.
 *
 * Reads JSON objects from stdin, one per line, and prints one line per
 * request: the Authorization header value (or "error: ..." for a request
 * it cannot sign).  Used by tests/integration/test_sigv4_botocore.py to
 * compare with botocore.auth.S3SigV4Auth.
 *
 *   {"method": "PUT", "host": "h:9000", "path": "/bucket/raw key",
 *    "query": [["uploadId", "x"], ["uploads", null]],
 *    "headers": [["X-Amz-Meta-Mode", "33188"]],
 *    "payload_hex": "68656c6c6f", "time": 1440938160,
 *    "access_key": "AK", "secret_key": "SK", "session_token": "T",
 *    "region": "us-east-1", "service": "s3"}
 *
 * PATH and query names/values are raw (not percent-encoded).  As
 * store_s3.c does, the tool adds Host, x-amz-date, x-amz-content-sha256
 * (SHA-256 of the payload) and, with a session token,
 * x-amz-security-token, then signs every header.
 *
 * With -v it also prints the canonical request and string to sign
 * (secrets are never printed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "buf.h"
#include "sigv4.h"

#define MAXKV 128

static const char *str_at(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
    return v ? YAJL_GET_STRING(v) : NULL;
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

/* Pairs from [[name, value], ...]; value may be null when NULLOK. */
static int pairs(yajl_val obj, const char *name, struct sigv4_kv *out,
                 size_t *n, size_t max, int nullok)
{
    const char *path[] = {name, NULL};
    yajl_val a = yajl_tree_get(obj, path, yajl_t_array);
    *n = 0;
    if (!a)
        return 0;
    for (size_t i = 0; i < YAJL_GET_ARRAY(a)->len; i++) {
        yajl_val p = YAJL_GET_ARRAY(a)->values[i];
        if (!YAJL_IS_ARRAY(p) || YAJL_GET_ARRAY(p)->len != 2 || *n >= max)
            return -EINVAL;
        yajl_val k = YAJL_GET_ARRAY(p)->values[0];
        yajl_val v = YAJL_GET_ARRAY(p)->values[1];
        if (!YAJL_IS_STRING(k))
            return -EINVAL;
        if (YAJL_IS_NULL(v) && nullok)
            out[*n].value = NULL;
        else if (YAJL_IS_STRING(v))
            out[*n].value = YAJL_GET_STRING(v);
        else
            return -EINVAL;
        out[*n].name = YAJL_GET_STRING(k);
        (*n)++;
    }
    return 0;
}

static int sign_one(const char *line, int verbose)
{
    char errbuf[256];
    yajl_val obj = yajl_tree_parse(line, errbuf, sizeof errbuf);
    struct sigv4_kv query[MAXKV], extra[MAXKV], hdrs[MAXKV + 4];
    size_t nq = 0, ne = 0, nh = 0;
    char amz_date[SIGV4_AMZ_DATE_LEN + 1];
    char hash[SIGV4_HEX_SHA256_LEN + 1];
    unsigned char *payload = NULL;
    size_t plen = 0;
    int rc = 0;

    if (!obj || !YAJL_IS_OBJECT(obj)) {
        printf("error: bad json\n");
        yajl_tree_free(obj);
        return -EINVAL;
    }
    const char *hex = str_at(obj, "payload_hex");
    if (hex) {
        size_t hl = strlen(hex);
        payload = malloc(hl / 2 + 1);
        if (!payload || hl % 2)
            rc = -EINVAL;
        for (size_t i = 0; !rc && i < hl; i += 2) {
            int h = hexval(hex[i]), l = hexval(hex[i + 1]);
            if (h < 0 || l < 0)
                rc = -EINVAL;
            else
                payload[plen++] = (unsigned char)(h * 16 + l);
        }
    }
    if (!rc)
        rc = pairs(obj, "query", query, &nq, MAXKV, 1);
    if (!rc)
        rc = pairs(obj, "headers", extra, &ne, MAXKV, 0);
    const char *tpath[] = {"time", NULL};
    yajl_val tv = yajl_tree_get(obj, tpath, yajl_t_number);
    const char *token = str_at(obj, "session_token");
    const char *service = str_at(obj, "service");
    if (!rc && (!tv || !YAJL_IS_INTEGER(tv) || !str_at(obj, "host")))
        rc = -EINVAL;
    if (rc) {
        printf("error: bad request description\n");
        goto done;
    }
    time_t t = (time_t)YAJL_GET_INTEGER(tv);
    sigv4_amz_date(t, amz_date);
    sigv4_sha256_hex(payload, plen, hash);
    hdrs[nh++] = (struct sigv4_kv){"Host", str_at(obj, "host")};
    hdrs[nh++] = (struct sigv4_kv){"x-amz-date", amz_date};
    hdrs[nh++] = (struct sigv4_kv){"x-amz-content-sha256", hash};
    if (token && token[0])
        hdrs[nh++] = (struct sigv4_kv){"x-amz-security-token", token};
    for (size_t i = 0; i < ne; i++)
        hdrs[nh++] = extra[i];

    struct sigv4_request r = {
        .method = str_at(obj, "method"), .path = str_at(obj, "path"),
        .query = query, .nquery = nq, .headers = hdrs, .nheaders = nh,
        .payload_hash = hash,
    };
    struct sigv4_creds cr = {str_at(obj, "access_key"),
                             str_at(obj, "secret_key")};
    struct sigv4_out out;
    sigv4_out_init(&out);
    rc = sigv4_sign(&r, &cr, str_at(obj, "region"),
                    service ? service : "s3", t, &out);
    if (rc) {
        printf("error: cannot sign: %s\n", strerror(-rc));
    } else {
        if (verbose)
            printf("--- canonical request\n%s\n--- string to sign\n%s\n---\n",
                   out.creq.data, out.sts.data);
        printf("%s\n", out.authz.data);
    }
    sigv4_out_release(&out);
done:
    free(payload);
    yajl_tree_free(obj);
    return rc;
}

int main(int argc, char **argv)
{
    int verbose = argc > 1 && !strcmp(argv[1], "-v");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int failed = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (!n)
            continue;
        if (sign_one(line, verbose))
            failed = 1;
        fflush(stdout);
    }
    free(line);
    return failed;
}
