/* config.c - mount options and the AWS-style configuration; see config.h.
 *
 * Options are parsed with libfuse's fuse_opt.  Before that, every
 * `--key=value` / `--flag` naming one of gluefs's options becomes
 * `-o key=value` (commas and backslashes in the value escaped for
 * fuse_opt), and in `-o buckets=a,b,c` the comma-separated bucket names
 * that follow `buckets=` are kept with it (an item is taken as a bucket
 * when it is a valid bucket name and not a mount flag such as `dev` or
 * `noatime`; `buckets=a\,dev` forces it).
 *
 * AWS files are read with inih.  Its line buffer holds 200 bytes, shorter
 * than an STS session token, so lines longer than that are handed to inih
 * as `name = <placeholder>` and their value is kept aside (long_line_reader
 * below).  Only the static keys of a profile are used (no
 * credential_process, SSO or instance roles).  Secrets are never written
 * to ERR or to the log, and are wiped before they are freed. */
#define FUSE_USE_VERSION 35

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fuse.h>
#include <fuse_opt.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define DEF_READAHEAD (64ULL << 20)
#define DEF_PART_SIZE (8ULL << 20)
#define DEF_PARTS_IN_FLIGHT 4
#define DEF_ATTR_TTL 60
#define DEF_SAMPLE_BYTES (1ULL << 20)
#define DEF_SETTLE 3

const char config_help[] =
    "    -o endpoint=URL        S3 endpoint (default: AWS_ENDPOINT_URL_S3,\n"
    "                           AWS_ENDPOINT_URL, profile endpoint_url,\n"
    "                           else AWS's regional endpoint)\n"
    "    -o region=R            signing region (default: AWS_REGION,\n"
    "                           AWS_DEFAULT_REGION, profile region, us-east-1)\n"
    "    -o profile=NAME        profile in ~/.aws/credentials and ~/.aws/config\n"
    "                           (default: AWS_PROFILE, else default)\n"
    "    -o buckets=A,B         show only these buckets (default: all)\n"
    "    -o path_style          path-style requests (default for a custom\n"
    "                           endpoint)\n"
    "    -o virtual_host        virtual-hosted-style requests\n"
    "    -o no_sign_request     anonymous requests (public buckets)\n"
    "    -o local=DIR           serve a local folder as the object store\n"
    "                           (each subfolder a bucket)\n"
    "    -o state_dir=DIR       catalog, crawler and job state\n"
    "                           (default: $XDG_STATE_HOME/gluefs)\n"
    "    -o cache_dir=DIR       spill space for random writes\n"
    "                           (default: $XDG_CACHE_HOME/gluefs)\n"
    "    -o crawl=auto|manual   when crawlers run (default: auto)\n"
    "    -o readahead=BYTES     largest read-ahead window per file, 0 for\n"
    "                           none (default: 64M)\n"
    "    -o part_size=BYTES     multipart part size, 5M..5G (default: 8M)\n"
    "    -o parts_in_flight=N   parts uploaded in parallel per file, 1..64\n"
    "                           (default: 4)\n"
    "    -o attr_ttl=SECONDS    attribute and listing cache lifetime\n"
    "                           (default: 60)\n"
    "    -o sample_bytes=BYTES  crawler sample per object (default: 1M)\n"
    "    -o settle=SECONDS      quiet time after writes before a crawl\n"
    "                           (default: 3)\n"
    "    BYTES take a K, M, G or T suffix (powers of 1024); every option\n"
    "    is also accepted as --key=value or --flag.\n"
    "    With no endpoint, no credentials and no local=, the embedded lake\n"
    "    at $XDG_DATA_HOME/gluefs/lake is served.\n";

/* ---- small helpers ----------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void free_secret(char **p)
{
    if (*p) {
        explicit_bzero(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

/* Replace *DST by a copy of SRC (NULL frees).  Returns 0 or -ENOMEM. */
static int set_str(char **dst, const char *src)
{
    char *c = NULL;
    if (src && !(c = strdup(src)))
        return -ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* ---- options: the table ------------------------------------------------- */

enum opt_kind { OPT_STR, OPT_FLAG };

struct raw_opts {
    char *endpoint, *region, *profile, *buckets, *local, *state_dir,
        *cache_dir, *crawl, *readahead, *part_size, *parts_in_flight,
        *attr_ttl, *sample_bytes, *settle;
    int path_style, virtual_host, no_sign_request, foreground;
    const char *missing; /* a value option given without '=' */
};

/* gluefs's own options, in the order of the BARE() keys below. */
static const struct {
    const char *name;
    enum opt_kind kind;
} opt_table[] = {
    {"endpoint", OPT_STR},        {"region", OPT_STR},
    {"profile", OPT_STR},         {"buckets", OPT_STR},
    {"local", OPT_STR},           {"state_dir", OPT_STR},
    {"cache_dir", OPT_STR},       {"crawl", OPT_STR},
    {"readahead", OPT_STR},       {"part_size", OPT_STR},
    {"parts_in_flight", OPT_STR}, {"attr_ttl", OPT_STR},
    {"sample_bytes", OPT_STR},    {"settle", OPT_STR},
    {"path_style", OPT_FLAG},     {"virtual_host", OPT_FLAG},
    {"no_sign_request", OPT_FLAG},
};
#define N_OPTS (sizeof opt_table / sizeof *opt_table)

enum { KEY_FOREGROUND = 1, KEY_MISSING_BASE = 100 };

#define STR_OPT(n, field) {n "=%s", offsetof(struct raw_opts, field), 0}
#define FLAG_OPT(n, field) {n, offsetof(struct raw_opts, field), 1}
#define BARE(n, i) FUSE_OPT_KEY(n, KEY_MISSING_BASE + (i))

static const struct fuse_opt fuse_opts[] = {
    STR_OPT("endpoint", endpoint),
    STR_OPT("region", region),
    STR_OPT("profile", profile),
    STR_OPT("buckets", buckets),
    STR_OPT("local", local),
    STR_OPT("state_dir", state_dir),
    STR_OPT("cache_dir", cache_dir),
    STR_OPT("crawl", crawl),
    STR_OPT("readahead", readahead),
    STR_OPT("part_size", part_size),
    STR_OPT("parts_in_flight", parts_in_flight),
    STR_OPT("attr_ttl", attr_ttl),
    STR_OPT("sample_bytes", sample_bytes),
    STR_OPT("settle", settle),
    FLAG_OPT("path_style", path_style),
    FLAG_OPT("virtual_host", virtual_host),
    FLAG_OPT("no_sign_request", no_sign_request),
    /* a value option without "=value" (index into opt_table) */
    BARE("endpoint", 0), BARE("region", 1), BARE("profile", 2),
    BARE("buckets", 3), BARE("local", 4), BARE("state_dir", 5),
    BARE("cache_dir", 6), BARE("crawl", 7), BARE("readahead", 8),
    BARE("part_size", 9), BARE("parts_in_flight", 10), BARE("attr_ttl", 11),
    BARE("sample_bytes", 12), BARE("settle", 13),
    FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    FUSE_OPT_KEY("-d", KEY_FOREGROUND),
    FUSE_OPT_KEY("debug", KEY_FOREGROUND),
    FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key,
                    struct fuse_args *outargs)
{
    struct raw_opts *r = data;
    if (key == KEY_FOREGROUND) {
        r->foreground = 1;
        return 1; /* libfuse needs it too */
    }
    if (key >= KEY_MISSING_BASE && key < KEY_MISSING_BASE + (int)N_OPTS) {
        if (!r->missing)
            r->missing = opt_table[key - KEY_MISSING_BASE].name;
        return 0;
    }
    return 1;
}

/* Index of option NAME (LEN bytes) in opt_table, or -1. */
static int opt_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opt_table[i].name) == len &&
            !memcmp(opt_table[i].name, name, len))
            return (int)i;
    return -1;
}

/* ---- options: --key=value and buckets=a,b ------------------------------ */

/* Mount flags that are also valid bucket names: after `buckets=` they
 * stay options. */
static const char *const mount_flags[] = {
    "dev",      "nodev",      "suid",     "nosuid",      "exec",
    "noexec",   "async",      "sync",     "atime",       "noatime",
    "diratime", "nodiratime", "relatime", "norelatime",  "strictatime",
    "nostrictatime", "lazytime", "nolazytime", "dirsync", "debug",
    "intr",     "nointr",     "blkdev",   "nonempty",    "mand",
    "nomand",   "silent",     "loud",
};

static bool is_bucket_item(const char *s, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
            s[i] != '.' && s[i] != '-')
            return false;
    for (size_t i = 0; i < sizeof mount_flags / sizeof *mount_flags; i++)
        if (strlen(mount_flags[i]) == n && !memcmp(mount_flags[i], s, n))
            return false;
    return true;
}

/* Rewrite one -o option string: the items after "buckets=" that are
 * bucket names are joined to it with an escaped comma.  Returns a new
 * string or NULL (out of memory). */
static char *fix_option_group(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(2 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_buckets = false;
    const char *item = in;
    for (;;) {
        /* find the end of this item (an unescaped ',' or the end) */
        const char *e = item;
        bool has_eq = false;
        while (*e && *e != ',') {
            if (*e == '=')
                has_eq = true;
            if (*e == '\\' && e[1])
                e++;
            e++;
        }
        size_t len = (size_t)(e - item);
        if (item != in) {
            if (in_buckets && !has_eq && is_bucket_item(item, len))
                out[o++] = '\\';
            else
                in_buckets = false;
            out[o++] = ',';
        }
        if (len >= 8 && !memcmp(item, "buckets=", 8))
            in_buckets = true;
        memcpy(out + o, item, len);
        o += len;
        if (!*e)
            break;
        item = e + 1;
    }
    out[o] = '\0';
    return out;
}

/* "-o" followed by NAME=VALUE with ',' and '\' in VALUE escaped. */
static int add_escaped_opt(struct fuse_args *a, const char *name,
                           size_t nlen, const char *value)
{
    size_t vlen = value ? strlen(value) : 0;
    char *s = malloc(nlen + 2 * vlen + 2);
    if (!s)
        return -ENOMEM;
    size_t o = 0;
    memcpy(s, name, nlen);
    o = nlen;
    if (value) {
        s[o++] = '=';
        for (size_t i = 0; i < vlen; i++) {
            if (value[i] == ',' || value[i] == '\\')
                s[o++] = '\\';
            s[o++] = value[i];
        }
    }
    s[o] = '\0';
    int rc = fuse_opt_add_arg(a, "-o") || fuse_opt_add_arg(a, s) ? -ENOMEM
                                                                    : 0;
    free(s);
    return rc;
}

/* Rewrite ARGS as described at the top of the file. */
static int rewrite_args(struct fuse_args *args, char *err, size_t errlen)
{
    struct fuse_args out = FUSE_ARGS_INIT(0, NULL);
    int rc = 0;
    bool rest = false;
    for (int i = 0; i < args->argc && !rc; i++) {
        const char *a = args->argv[i];
        if (i == 0 || rest) {
            rc = fuse_opt_add_arg(&out, a) ? -ENOMEM : 0;
            continue;
        }
        if (!strcmp(a, "--")) {
            rest = true;
            rc = fuse_opt_add_arg(&out, a) ? -ENOMEM : 0;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            int k = opt_find(name, nlen);
            if (k >= 0) {
                if (opt_table[k].kind == OPT_FLAG && eq) {
                    set_err(err, errlen, "option '--%s' takes no value",
                            opt_table[k].name);
                    rc = -EINVAL;
                } else if (opt_table[k].kind == OPT_STR && !eq) {
                    set_err(err, errlen,
                            "option '--%s' needs a value: --%s=VALUE",
                            opt_table[k].name, opt_table[k].name);
                    rc = -EINVAL;
                } else {
                    rc = add_escaped_opt(&out, name, nlen,
                                         eq ? eq + 1 : NULL);
                }
                continue;
            }
        }
        const char *group = NULL;
        if (!strcmp(a, "-o") && i + 1 < args->argc)
            group = args->argv[++i];
        else if (!strncmp(a, "-o", 2) && a[2])
            group = a + 2;
        if (group) {
            char *fixed = fix_option_group(group);
            if (!fixed || fuse_opt_add_arg(&out, "-o") ||
                fuse_opt_add_arg(&out, fixed))
                rc = -ENOMEM;
            free(fixed);
            continue;
        }
        rc = fuse_opt_add_arg(&out, a) ? -ENOMEM : 0;
    }
    if (rc) {
        if (rc == -ENOMEM)
            set_err(err, errlen, "out of memory parsing options");
        fuse_opt_free_args(&out);
        return rc;
    }
    fuse_opt_free_args(args);
    *args = out;
    return 0;
}

/* ---- options: values --------------------------------------------------- */

/* V as text; sizes that are whole K/M/G/T with that suffix. */
static void fmt_size(uint64_t v, bool bytes, char *out, size_t outlen)
{
    static const char units[] = "KMGT";
    int u = -1;
    while (bytes && v && u < 3 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u >= 0)
        snprintf(out, outlen, "%llu%c", (unsigned long long)v, units[u]);
    else
        snprintf(out, outlen, "%llu", (unsigned long long)v);
}

/* Parse TEXT as an unsigned number; BYTES allows a K/M/G/T suffix (powers
 * of 1024, optionally followed by "B" or "iB").  Range [MIN, MAX]. */
static int parse_num(const char *name, const char *text, bool bytes,
                     uint64_t min, uint64_t max, uint64_t *out, char *err,
                     size_t errlen)
{
    const char *p = text;
    char *end;
    if (!*p || !isdigit((unsigned char)*p))
        goto bad;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno == ERANGE)
        goto range;
    if (errno || end == p)
        goto bad;
    if (*end && bytes) {
        static const char units[] = "KMGT";
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (!u)
            goto bad;
        int shift = 10 * (int)(u - units + 1);
        if (v > (ULLONG_MAX >> shift))
            goto range;
        v <<= shift;
        end++;
        if (!strcasecmp(end, "iB") || !strcasecmp(end, "B"))
            end += strlen(end);
    }
    if (*end)
        goto bad;
    if (v < min || v > max)
        goto range;
    *out = v;
    return 0;
bad:
    set_err(err, errlen, "option '%s': '%s' is not a %s", name, text,
            bytes ? "size in bytes (e.g. 8M)" : "whole number");
    return -EINVAL;
range:;
    char lo[32], hi[32];
    fmt_size(min, bytes, lo, sizeof lo);
    fmt_size(max, bytes, hi, sizeof hi);
    set_err(err, errlen, "option '%s': '%s' is out of range (%s..%s)", name,
            text, lo, hi);
    return -EINVAL;
}

static void raw_release(struct raw_opts *r)
{
    char **strs[] = {&r->endpoint,  &r->region,          &r->profile,
                     &r->buckets,   &r->local,           &r->state_dir,
                     &r->cache_dir, &r->crawl,           &r->readahead,
                     &r->part_size, &r->parts_in_flight, &r->attr_ttl,
                     &r->sample_bytes, &r->settle};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

static void set_tuning_defaults(struct config *cfg)
{
    cfg->readahead_max = DEF_READAHEAD;
    cfg->part_size = DEF_PART_SIZE;
    cfg->parts_in_flight = DEF_PARTS_IN_FLIGHT;
    cfg->attr_ttl = DEF_ATTR_TTL;
    cfg->sample_bytes = DEF_SAMPLE_BYTES;
    cfg->settle_seconds = DEF_SETTLE;
}

/* Move the parsed strings and numbers of R into CFG. */
static int apply_raw(struct raw_opts *r, struct config *cfg, char *err,
                     size_t errlen)
{
    uint64_t v;
    int rc;
    static const struct {
        const char *name;
        size_t roff;
    } empty_check[] = {
        {"endpoint", offsetof(struct raw_opts, endpoint)},
        {"region", offsetof(struct raw_opts, region)},
        {"profile", offsetof(struct raw_opts, profile)},
        {"buckets", offsetof(struct raw_opts, buckets)},
        {"local", offsetof(struct raw_opts, local)},
        {"state_dir", offsetof(struct raw_opts, state_dir)},
        {"cache_dir", offsetof(struct raw_opts, cache_dir)},
    };
    if (r->missing) {
        set_err(err, errlen, "option '%s' needs a value: -o %s=VALUE",
                r->missing, r->missing);
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof empty_check / sizeof *empty_check; i++) {
        char *s = *(char **)((char *)r + empty_check[i].roff);
        if (s && !*s) {
            set_err(err, errlen, "option '%s' needs a value: -o %s=VALUE",
                    empty_check[i].name, empty_check[i].name);
            return -EINVAL;
        }
    }
    if (r->path_style && r->virtual_host) {
        set_err(err, errlen,
                "options 'path_style' and 'virtual_host' exclude each other");
        return -EINVAL;
    }
    if (r->local && r->endpoint) {
        set_err(err, errlen,
                "options 'local' and 'endpoint' exclude each other");
        return -EINVAL;
    }
    if (r->crawl && strcmp(r->crawl, "auto") && strcmp(r->crawl, "manual")) {
        set_err(err, errlen, "option 'crawl': unknown value '%s' "
                             "(auto or manual)", r->crawl);
        return -EINVAL;
    }
    if (r->buckets) {
        const char *b = r->buckets;
        size_t n = strlen(b);
        if (b[0] == ',' || b[n - 1] == ',' || strstr(b, ",,")) {
            set_err(err, errlen, "option 'buckets': empty bucket name in "
                                 "'%s'", b);
            return -EINVAL;
        }
    }
    if (r->readahead) {
        if ((rc = parse_num("readahead", r->readahead, true, 0, 1ULL << 30,
                            &v, err, errlen)))
            return rc;
        cfg->readahead_max = v;
    }
    if (r->part_size) {
        if ((rc = parse_num("part_size", r->part_size, true, 5ULL << 20,
                            5ULL << 30, &v, err, errlen)))
            return rc;
        cfg->part_size = v;
    }
    if (r->parts_in_flight) {
        if ((rc = parse_num("parts_in_flight", r->parts_in_flight, false, 1,
                            64, &v, err, errlen)))
            return rc;
        cfg->parts_in_flight = (unsigned)v;
    }
    if (r->attr_ttl) {
        if ((rc = parse_num("attr_ttl", r->attr_ttl, false, 0, 86400, &v,
                            err, errlen)))
            return rc;
        cfg->attr_ttl = (unsigned)v;
    }
    if (r->sample_bytes) {
        if ((rc = parse_num("sample_bytes", r->sample_bytes, true, 1024,
                            1ULL << 30, &v, err, errlen)))
            return rc;
        cfg->sample_bytes = v;
    }
    if (r->settle) {
        if ((rc = parse_num("settle", r->settle, false, 0, 86400, &v, err,
                            errlen)))
            return rc;
        cfg->settle_seconds = (unsigned)v;
    }
    /* Strings move over (ownership passes to CFG). */
    cfg->endpoint = r->endpoint;
    r->endpoint = NULL;
    cfg->region = r->region;
    r->region = NULL;
    cfg->profile = r->profile;
    r->profile = NULL;
    cfg->buckets = r->buckets;
    r->buckets = NULL;
    cfg->local_dir = r->local;
    r->local = NULL;
    cfg->state_dir = r->state_dir;
    r->state_dir = NULL;
    cfg->cache_dir = r->cache_dir;
    r->cache_dir = NULL;
    cfg->crawl_manual = r->crawl && !strcmp(r->crawl, "manual");
    cfg->path_style = r->path_style;
    cfg->virtual_host = r->virtual_host;
    cfg->no_sign_request = r->no_sign_request;
    cfg->foreground = r->foreground;
    return 0;
}

int config_parse(struct fuse_args *args, struct config *cfg, char *err,
                 size_t errlen)
{
    struct raw_opts r;
    memset(&r, 0, sizeof r);
    memset(cfg, 0, sizeof *cfg);
    set_tuning_defaults(cfg);
    if (err && errlen)
        err[0] = '\0';
    int rc = rewrite_args(args, err, errlen);
    if (rc)
        return rc;
    if (fuse_opt_parse(args, &r, fuse_opts, opt_proc) != 0) {
        raw_release(&r);
        set_err(err, errlen, "cannot parse the options");
        return -EINVAL;
    }
    rc = apply_raw(&r, cfg, err, errlen);
    raw_release(&r);
    if (rc)
        config_release(cfg);
    return rc;
}

/* ---- AWS files ---------------------------------------------------------- */

#define LONG_MAX_VALUES 32
#define LINE_CAP 65536 /* longest line read from an AWS file */
#define LONG_TAG '\x01'

/* What one profile says (from either file). */
struct profile_vals {
    char *region, *endpoint, *s3_endpoint, *addressing, *services;
    char *akid, *secret, *token;
    bool found;
};

static void profile_release(struct profile_vals *p)
{
    free(p->region);
    free(p->endpoint);
    free(p->s3_endpoint);
    free(p->addressing);
    free(p->services);
    free_secret(&p->akid);
    free_secret(&p->secret);
    free_secret(&p->token);
    memset(p, 0, sizeof *p);
}

struct ini_ctx {
    FILE *f;
    char *line;
    size_t cap;
    char *longv[LONG_MAX_VALUES]; /* values of lines too long for inih */
    int nlong;
    /* what to collect */
    const char *profile;
    bool config_style;     /* ~/.aws/config: [profile NAME] / [default] */
    const char *services;  /* NULL, or collect [services NAME] s3 */
    struct profile_vals *out;
    int oom;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* fgets-style reader for inih: a line that does not fit in NUM bytes is
 * passed as "<name> = \x01<index>" and its value kept in ctx->longv. */
static char *long_line_reader(char *str, int num, void *stream)
{
    struct ini_ctx *c = stream;
    ssize_t n = getline(&c->line, &c->cap, c->f);
    if (n < 0)
        return NULL;
    if (n < num) {
        memcpy(str, c->line, (size_t)n + 1);
        return str;
    }
    char *eq = strpbrk(c->line, "=:");
    size_t head = eq ? (size_t)(eq - c->line) + 1 : 0;
    if (!eq || n > LINE_CAP || head + 16 > (size_t)num ||
        c->nlong == LONG_MAX_VALUES) {
        log_warn("ignoring a line of %zd bytes in an AWS config file", n);
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    char *v = eq + 1;
    for (char *p = v; *p; p++)
        if (*p == ';' && p > v && isspace((unsigned char)p[-1])) {
            *p = '\0'; /* inline comment, as inih strips it */
            break;
        }
    char *copy = strdup(trim(v));
    if (!copy) {
        c->oom = 1;
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    c->longv[c->nlong] = copy;
    snprintf(str, (size_t)num, "%.*s %c%d\n", (int)head, c->line, LONG_TAG,
             c->nlong);
    c->nlong++;
    return str;
}

/* The real value of V (resolving a long-line placeholder). */
static const char *ini_value(const struct ini_ctx *c, const char *v)
{
    if (v[0] == LONG_TAG) {
        char *end;
        long i = strtol(v + 1, &end, 10);
        if (!*end && i >= 0 && i < c->nlong)
            return c->longv[i];
        return "";
    }
    return v;
}

static bool section_matches(const struct ini_ctx *c, const char *section)
{
    if (c->services) {
        if (strncmp(section, "services", 8) || !isspace((unsigned char)section[8]))
            return false;
        const char *n = section + 8;
        while (isspace((unsigned char)*n))
            n++;
        return !strcmp(n, c->services);
    }
    if (!c->config_style)
        return !strcmp(section, c->profile);
    if (!strcmp(c->profile, "default") && !strcmp(section, "default"))
        return true;
    if (strncmp(section, "profile", 7) || !isspace((unsigned char)section[7]))
        return false;
    const char *n = section + 7;
    while (isspace((unsigned char)*n))
        n++;
    return !strcmp(n, c->profile);
}

static int keep(struct ini_ctx *c, char **dst, const char *v)
{
    if (*dst)
        explicit_bzero(*dst, strlen(*dst));
    if (set_str(dst, v))
        c->oom = 1;
    return 1;
}

/* "s3 =" sub-section lines arrive as name "s3", value "key = value". */
static int ini_s3_line(struct ini_ctx *c, const char *value)
{
    const char *eq = strchr(value, '=');
    if (!eq)
        return 1;
    char key[64];
    size_t kl = (size_t)(eq - value);
    if (kl >= sizeof key)
        return 1;
    memcpy(key, value, kl);
    key[kl] = '\0';
    char *k = trim(key);
    const char *v = eq + 1;
    while (isspace((unsigned char)*v))
        v++;
    v = ini_value(c, v);
    if (!strcmp(k, "endpoint_url"))
        return keep(c, &c->out->s3_endpoint, v);
    if (!strcmp(k, "addressing_style"))
        return keep(c, &c->out->addressing, v);
    return 1;
}

static int ini_handler_fn(void *user, const char *section, const char *name,
                          const char *value)
{
    struct ini_ctx *c = user;
    if (!section_matches(c, section))
        return 1;
    c->out->found = true;
    if (!strcmp(name, "s3"))
        return *value ? ini_s3_line(c, value) : 1;
    if (c->services)
        return 1;
    value = ini_value(c, value);
    if (!strcmp(name, "aws_access_key_id"))
        return keep(c, &c->out->akid, value);
    if (!strcmp(name, "aws_secret_access_key"))
        return keep(c, &c->out->secret, value);
    if (!strcmp(name, "aws_session_token") ||
        (!strcmp(name, "aws_security_token") && !c->out->token))
        return keep(c, &c->out->token, value);
    if (!c->config_style)
        return 1;
    if (!strcmp(name, "region"))
        return keep(c, &c->out->region, value);
    if (!strcmp(name, "endpoint_url"))
        return keep(c, &c->out->endpoint, value);
    if (!strcmp(name, "services"))
        return keep(c, &c->out->services, value);
    return 1;
}

/* Read PATH's section for PROFILE into OUT.  A missing file is no error. */
static int ini_read(const char *path, const char *profile, bool config_style,
                    const char *services, struct profile_vals *out)
{
    struct ini_ctx c;
    memset(&c, 0, sizeof c);
    c.profile = profile;
    c.config_style = config_style;
    c.services = services;
    c.out = out;
    c.f = fopen(path, "re");
    if (!c.f)
        return 0;
    int line = ini_parse_stream(long_line_reader, &c, ini_handler_fn, &c);
    if (line > 0)
        log_warn("'%s': cannot parse line %d (ignored)", path, line);
    fclose(c.f);
    if (c.line) {
        explicit_bzero(c.line, c.cap);
        free(c.line);
    }
    for (int i = 0; i < c.nlong; i++)
        free_secret(&c.longv[i]);
    return c.oom ? -ENOMEM : 0;
}

/* ---- resolution -------------------------------------------------------- */

static const char *home_dir(void)
{
    const char *h = env_nonempty("HOME");
    if (h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* $VAR/gluefs SUB if VAR is an absolute path, else ~/HOMEREL/gluefs SUB. */
static char *xdg_path(const char *var, const char *homerel, const char *sub)
{
    const char *x = getenv(var);
    char tmp[PATH_MAX];
    int n;
    if (x && x[0] == '/') {
        n = snprintf(tmp, sizeof tmp, "%s/gluefs%s", x, sub);
    } else {
        const char *h = home_dir();
        if (!h)
            return NULL;
        n = snprintf(tmp, sizeof tmp, "%s/%s/gluefs%s", h, homerel, sub);
    }
    if (n < 0 || (size_t)n >= sizeof tmp)
        return NULL;
    return strdup(tmp);
}

/* Make *P absolute (relative to the current folder): FUSE daemons chdir
 * to "/" when they go to the background. */
static int absolutize(char **p)
{
    if (!*p || (*p)[0] == '/')
        return 0;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -errno;
    char *s = malloc(strlen(cwd) + strlen(*p) + 2);
    if (!s)
        return -ENOMEM;
    size_t l = strlen(cwd);
    memcpy(s, cwd, l);
    s[l] = '/';
    memcpy(s + l + 1, *p, strlen(*p) + 1);
    free(*p);
    *p = s;
    return 0;
}

/* Check an endpoint's scheme and drop trailing '/'s. */
static int endpoint_check(char *ep, const char *from, char *err,
                          size_t errlen)
{
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
        set_err(err, errlen,
                "endpoint '%s' (from %s) must start with http:// or https://",
                ep, from);
        return -EINVAL;
    }
    size_t n = strlen(ep);
    while (n > 8 && ep[n - 1] == '/')
        ep[--n] = '\0';
    return 0;
}

/* File path from env VAR, else ~/.aws/NAME. */
static char *aws_file(const char *var, const char *name)
{
    const char *v = env_nonempty(var);
    if (v)
        return strdup(v);
    const char *h = home_dir();
    if (!h)
        return NULL;
    char tmp[PATH_MAX];
    int n = snprintf(tmp, sizeof tmp, "%s/.aws/%s", h, name);
    return n < 0 || (size_t)n >= sizeof tmp ? NULL : strdup(tmp);
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

int config_resolve(struct config *cfg, char *err, size_t errlen)
{
    struct profile_vals conf, cred;
    char *conf_path = NULL, *cred_path = NULL;
    const char *ep_from = "option";
    int rc = 0;
    memset(&conf, 0, sizeof conf);
    memset(&cred, 0, sizeof cred);
    if (err && errlen)
        err[0] = '\0';

    if (cfg->part_size == 0) /* not from config_parse */
        set_tuning_defaults(cfg);

    /* Folders. */
    if (!cfg->state_dir &&
        !(cfg->state_dir = xdg_path("XDG_STATE_HOME", ".local/state", ""))) {
        set_err(err, errlen, "cannot find the home folder for the state "
                             "folder: set HOME or state_dir=");
        return -EINVAL;
    }
    if (!cfg->cache_dir &&
        !(cfg->cache_dir = xdg_path("XDG_CACHE_HOME", ".cache", ""))) {
        set_err(err, errlen, "cannot find the home folder for the cache "
                             "folder: set HOME or cache_dir=");
        return -EINVAL;
    }
    if ((rc = absolutize(&cfg->state_dir)) ||
        (rc = absolutize(&cfg->cache_dir)) ||
        (rc = absolutize(&cfg->local_dir))) {
        set_err(err, errlen, "cannot resolve a relative folder: %s",
                strerror(-rc));
        return rc == -ENOMEM ? rc : -EINVAL;
    }

    /* Profile. */
    bool explicit_profile = cfg->profile != NULL;
    if (!cfg->profile) {
        const char *p = env_nonempty("AWS_PROFILE");
        explicit_profile = p != NULL;
        if ((rc = set_str(&cfg->profile, p ? p : "default")))
            goto oom;
    }

    /* The profile's files. */
    conf_path = aws_file("AWS_CONFIG_FILE", "config");
    cred_path = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    if (conf_path &&
        (rc = ini_read(conf_path, cfg->profile, true, NULL, &conf)))
        goto oom;
    if (conf_path && conf.services &&
        (rc = ini_read(conf_path, cfg->profile, true, conf.services, &conf)))
        goto oom;
    if (cred_path &&
        (rc = ini_read(cred_path, cfg->profile, false, NULL, &cred)))
        goto oom;
    /* As botocore: a named profile must exist; "default" need not. */
    if (explicit_profile && strcmp(cfg->profile, "default") && !conf.found &&
        !cred.found && !cfg->local_dir) {
        set_err(err, errlen, "profile '%s' not found in '%s' or '%s'",
                cfg->profile, cred_path ? cred_path : "~/.aws/credentials",
                conf_path ? conf_path : "~/.aws/config");
        rc = -EINVAL;
        goto out;
    }

    /* Endpoint. */
    if (!cfg->endpoint) {
        bool ignore = env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
        const char *v = NULL;
        if (!ignore && (v = env_nonempty("AWS_ENDPOINT_URL_S3")))
            ep_from = "AWS_ENDPOINT_URL_S3";
        else if (!ignore && (v = env_nonempty("AWS_ENDPOINT_URL")))
            ep_from = "AWS_ENDPOINT_URL";
        else if (!ignore && conf.s3_endpoint && *conf.s3_endpoint)
            v = conf.s3_endpoint, ep_from = "the profile's s3 endpoint_url";
        else if (!ignore && conf.endpoint && *conf.endpoint)
            v = conf.endpoint, ep_from = "the profile's endpoint_url";
        if ((rc = set_str(&cfg->endpoint, v)))
            goto oom;
    }
    if (cfg->endpoint &&
        (rc = endpoint_check(cfg->endpoint, ep_from, err, errlen)))
        goto out;

    /* Region. */
    if (!cfg->region) {
        const char *v = env_nonempty("AWS_REGION");
        if (!v)
            v = env_nonempty("AWS_DEFAULT_REGION");
        if (!v && conf.region && *conf.region)
            v = conf.region;
        if ((rc = set_str(&cfg->region, v ? v : "us-east-1")))
            goto oom;
    }

    /* Credentials: each source counts only with both keys. */
    if (!cfg->no_sign_request) {
        const char *ak = env_nonempty("AWS_ACCESS_KEY_ID");
        const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
        const char *tk = env_nonempty("AWS_SESSION_TOKEN");
        struct profile_vals *src = NULL;
        if (!(ak && sk)) {
            tk = NULL;
            if (cred.akid && *cred.akid && cred.secret && *cred.secret)
                src = &cred;
            else if (conf.akid && *conf.akid && conf.secret && *conf.secret)
                src = &conf;
            ak = src ? src->akid : NULL;
            sk = src ? src->secret : NULL;
            tk = src && src->token && *src->token ? src->token : NULL;
        }
        free_secret(&cfg->access_key);
        free_secret(&cfg->secret_key);
        free_secret(&cfg->session_token);
        if ((rc = set_str(&cfg->access_key, ak)) ||
            (rc = set_str(&cfg->secret_key, sk)) ||
            (rc = set_str(&cfg->session_token, tk)))
            goto oom;
    }

    /* Embedded lake: nothing points at a store. */
    if (!cfg->local_dir && !cfg->endpoint && !cfg->access_key &&
        !cfg->no_sign_request) {
        cfg->embedded = true;
        if (!(cfg->local_dir = xdg_path("XDG_DATA_HOME", ".local/share",
                                        "/lake"))) {
            set_err(err, errlen, "cannot find the home folder for the "
                                 "embedded lake: set HOME or local=");
            rc = -EINVAL;
            goto out;
        }
    }
    if (cfg->local_dir) {
        /* A local store needs no endpoint and no keys. */
        free(cfg->endpoint);
        cfg->endpoint = NULL;
        free_secret(&cfg->access_key);
        free_secret(&cfg->secret_key);
        free_secret(&cfg->session_token);
    }

    /* Addressing: options, then the profile's s3 addressing_style, then
     * path-style for a custom endpoint.  With no endpoint, store_s3 uses
     * AWS's regional endpoint (https://s3.REGION.amazonaws.com); it is not
     * stored here so that it does not count as a custom endpoint. */
    if (!cfg->path_style && !cfg->virtual_host) {
        if (conf.addressing && !strcmp(conf.addressing, "path"))
            cfg->path_style = true;
        else if (conf.addressing && !strcmp(conf.addressing, "virtual"))
            cfg->virtual_host = true;
        else
            cfg->path_style = cfg->endpoint != NULL;
    }
    if (cfg->virtual_host)
        cfg->path_style = false;
    rc = 0;
    goto out;
oom:
    set_err(err, errlen, "out of memory resolving the configuration");
    rc = -ENOMEM;
out:
    profile_release(&conf);
    profile_release(&cred);
    free(conf_path);
    free(cred_path);
    return rc;
}

void config_release(struct config *cfg)
{
    if (!cfg)
        return;
    free(cfg->endpoint);
    free(cfg->region);
    free(cfg->profile);
    free(cfg->buckets);
    free(cfg->local_dir);
    free(cfg->state_dir);
    free(cfg->cache_dir);
    free_secret(&cfg->access_key);
    free_secret(&cfg->secret_key);
    free_secret(&cfg->session_token);
    cfg->endpoint = cfg->region = cfg->profile = cfg->buckets = NULL;
    cfg->local_dir = cfg->state_dir = cfg->cache_dir = NULL;
}
