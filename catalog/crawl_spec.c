/* crawl_spec.c - crawler specs (see crawl_spec.h). */
#include "crawl_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

void crawl_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int crawl_strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    nv[*n] = strndup(s, len);
    if (!nv[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

void crawl_spec_release(struct crawl_spec *sp)
{
    crawl_strv_free(sp->targets, sp->ntargets);
    crawl_strv_free(sp->excludes, sp->nexcludes);
    free(sp->database);
    memset(sp, 0, sizeof *sp);
}

int crawl_spec_copy(struct crawl_spec *dst, const struct crawl_spec *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->ntargets; i++)
        if (crawl_strv_push(&dst->targets, &dst->ntargets, src->targets[i],
                      strlen(src->targets[i])))
            goto oom;
    for (size_t i = 0; i < src->nexcludes; i++)
        if (crawl_strv_push(&dst->excludes, &dst->nexcludes, src->excludes[i],
                      strlen(src->excludes[i])))
            goto oom;
    if (src->database && !(dst->database = strdup(src->database)))
        goto oom;
    dst->interval = src->interval;
    return 0;
oom:
    crawl_spec_release(dst);
    return -ENOMEM;
}

/* Split "s3://bucket/prefix" into BUCKET and PREFIX ("" or ending '/'). */
int crawl_split_url(const char *url, char *bucket, size_t bn, char *prefix,
                    size_t pn)
{
    if (strncmp(url, "s3://", 5))
        return -EINVAL;
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (!blen || blen >= bn)
        return -EINVAL;
    memcpy(bucket, b, blen);
    bucket[blen] = '\0';
    const char *p = slash ? slash + 1 : "";
    int w = snprintf(prefix, pn, "%s", p);
    if (w < 0 || (size_t)w >= pn)
        return -ENAMETOOLONG;
    return 0;
}

/* ---- spec parsing ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Append the comma-separated items of VALUE to *V.  A comma inside {...}
 * (a glob's alternatives) or after a backslash does not split. */
int crawl_add_list(char ***v, size_t *n, const char *value)
{
    const char *p = value;
    while (*p) {
        const char *e = p;
        int depth = 0;
        for (; *e; e++) {
            if (*e == '\\' && e[1])
                e++;
            else if (*e == '{')
                depth++;
            else if (*e == '}' && depth)
                depth--;
            else if (*e == ',' && !depth)
                break;
        }
        size_t len = (size_t)(e - p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len && crawl_strv_push(v, n, p, len))
            return -ENOMEM;
        if (!*e)
            break;
        p = e + 1;
    }
    return 0;
}

/* Normalise target *T in place: "s3://bucket/prefix/".  Returns 0 or
 * -EINVAL. */
static int normalize_target(char **t)
{
    char bucket[256], prefix[1024];
    if (crawl_split_url(*t, bucket, sizeof bucket, prefix, sizeof prefix))
        return -EINVAL;
    if (strchr(bucket, '*') || strchr(bucket, '?'))
        return -EINVAL;
    size_t pl = strlen(prefix);
    char buf[1400];
    int w = snprintf(buf, sizeof buf, "s3://%s/%s%s", bucket, prefix,
                     pl && prefix[pl - 1] != '/' ? "/" : "");
    if (w < 0 || (size_t)w >= sizeof buf)
        return -EINVAL;
    char *n = strdup(buf);
    if (!n)
        return -ENOMEM;
    free(*t);
    *t = n;
    return 0;
}

/* Normalise targets FROM.. of SP, written on spec line LINENO. */
static int check_targets(struct crawl_spec *sp, size_t from, int lineno,
                         char *err, size_t errlen)
{
    for (size_t i = from; i < sp->ntargets; i++) {
        int rc = normalize_target(&sp->targets[i]);
        if (rc == -ENOMEM)
            return rc;
        if (rc) {
            snprintf(err, errlen,
                     "spec line %d: target '%.200s' is not an "
                     "s3://bucket/prefix/ URL",
                     lineno, sp->targets[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* Parse a spec (DESIGN.md 4).  On -EINVAL, ERR says which line and why. */
int crawl_spec_parse(const char *text, size_t len, bool allow_no_targets,
                      struct crawl_spec *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    err[0] = '\0';
    if (len > CRAWL_SPEC_MAX) {
        snprintf(err, errlen, "spec: longer than %u bytes", CRAWL_SPEC_MAX);
        return -EINVAL;
    }
    char *copy = strndup(text, len);
    if (!copy)
        return -ENOMEM;
    int rc = 0, lineno = 0;
    bool seen[4] = {false, false, false, false};
    static const char *const keys[] = {"targets", "database", "exclude",
                                       "interval"};
    int last_key = -1;
    char *save = copy;
    while (save && !rc) {
        char *line = save, *nl = strchr(save, '\n');
        if (nl) {
            *nl = '\0';
            save = nl + 1;
        } else {
            save = NULL;
        }
        lineno++;
        /* '#' at the start or after a blank starts a comment. */
        for (char *h = line; *h; h++)
            if (*h == '#' && (h == line || h[-1] == ' ' || h[-1] == '\t')) {
                *h = '\0';
                break;
            }
        bool cont = line[0] == ' ' || line[0] == '\t';
        char *s = trim(line);
        if (!*s)
            continue;
        size_t ntargets_before = sp->ntargets;
        if (cont && last_key >= 0) {
            /* A continuation line adds to a list. */
            if (last_key == 0)
                rc = crawl_add_list(&sp->targets, &sp->ntargets, s);
            else if (last_key == 2)
                rc = crawl_add_list(&sp->excludes, &sp->nexcludes, s);
            else {
                snprintf(err, errlen,
                         "spec line %d: '%s' only takes one value", lineno,
                         keys[last_key]);
                rc = -EINVAL;
            }
            if (!rc && last_key == 0)
                rc = check_targets(sp, ntargets_before, lineno, err, errlen);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "spec line %d: expected 'key = value'",
                     lineno);
            rc = -EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        int k = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(key, keys[i]))
                k = i;
        if (k < 0) {
            snprintf(err, errlen, "spec line %d: unknown key '%.64s'", lineno,
                     key);
            rc = -EINVAL;
            break;
        }
        if (seen[k]) {
            snprintf(err, errlen, "spec line %d: '%s' given twice", lineno,
                     keys[k]);
            rc = -EINVAL;
            break;
        }
        seen[k] = true;
        last_key = k;
        if (k == 0) {
            rc = crawl_add_list(&sp->targets, &sp->ntargets, val);
        } else if (k == 1) {
            if (*val) {
                char name[256];
                catalog_sanitize_name(val, name, sizeof name);
                if (!(sp->database = strdup(name)))
                    rc = -ENOMEM;
            }
        } else if (k == 2) {
            rc = crawl_add_list(&sp->excludes, &sp->nexcludes, val);
        } else if (*val) {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (errno || *end || v < 0 || v > 365L * 86400) {
                snprintf(err, errlen,
                         "spec line %d: interval '%.64s' is not a number of "
                         "seconds",
                         lineno, val);
                rc = -EINVAL;
                break;
            }
            sp->interval = (unsigned)v;
        }
        if (!rc && k == 0)
            rc = check_targets(sp, ntargets_before, lineno, err, errlen);
    }
    if (!rc && !sp->ntargets && !allow_no_targets) {
        snprintf(err, errlen,
                 "spec: missing key 'targets' (targets = s3://bucket/prefix/)");
        rc = -EINVAL;
    }
    free(copy);
    if (rc)
        crawl_spec_release(sp);
    return rc;
}
