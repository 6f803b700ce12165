/* test_store_local.c - the local backend against S3 semantics (store.h).
 *
 * Everything runs in a fresh mkdtemp folder: ListObjectsV2 order, prefix
 * and delimiter cases, folder markers, empty-parent cleanup, ranged GETs,
 * multipart ETags, copy with and without metadata, hidden names, bad keys,
 * request counters and concurrent writers. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "check.h"
#include "stats.h"
#include "store.h"

static char root[256];
static struct store *st;

/* ---- helpers ---------------------------------------------------------- */

static void md5_hex(const void *data, size_t len, char out[33])
{
    unsigned char raw[16];
    unsigned int n = 0;
    EVP_Digest(data, len, raw, &n, EVP_md5(), NULL);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void md5_raw(const void *data, size_t len, unsigned char raw[16])
{
    unsigned int n = 0;
    EVP_Digest(data, len, raw, &n, EVP_md5(), NULL);
}

static int put_str(const char *bucket, const char *key, const char *s)
{
    return st->ops->put(st, bucket, key, s, strlen(s), NULL);
}

static bool exists(const char *rel)
{
    char p[1024];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", root, rel);
    return stat(p, &sb) == 0;
}

static void write_raw(const char *rel, const char *s)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "a");
    if (f) {
        fputs(s, f);
        fclose(f);
    }
}

struct listing {
    struct buf out;
    int stop_after; /* >0: return 1 after this many entries */
    int abort_rc;   /* !=0: return it on the first entry */
    int n;
};

/* Entries as "key" for objects and "[key]" for common prefixes, joined
 * by spaces. */
static int list_cb(void *ctx, const struct store_entry *e)
{
    struct listing *l = ctx;
    if (l->abort_rc)
        return l->abort_rc;
    if (buf_printf(&l->out, "%s%s%s%s", l->out.len ? " " : "",
                   e->is_prefix ? "[" : "", e->key, e->is_prefix ? "]" : ""))
        return -ENOMEM;
    l->n++;
    return l->stop_after && l->n >= l->stop_after ? 1 : 0;
}

static int list_str(const char *bucket, const char *prefix,
                    const char *delim, char *out, size_t outlen)
{
    struct listing l = {.n = 0};
    buf_init(&l.out, 1 << 20);
    int rc = st->ops->list(st, bucket, prefix, delim, list_cb, &l);
    snprintf(out, outlen, "%s", l.out.data ? l.out.data : "");
    buf_release(&l.out);
    return rc;
}

struct getbuf {
    struct buf b;
    int calls;
};

static int get_cb(void *ctx, const void *data, size_t len)
{
    struct getbuf *g = ctx;
    g->calls++;
    return buf_append(&g->b, data, len);
}

/* Finds one entry's etag/size in a listing. */
struct find {
    const char *key;
    char etag[STORE_ETAG_MAX];
    uint64_t size;
    int64_t mtime;
    bool found;
};

static int find_cb(void *ctx, const struct store_entry *e)
{
    struct find *f = ctx;
    if (!e->is_prefix && !strcmp(e->key, f->key)) {
        snprintf(f->etag, sizeof f->etag, "%s", e->etag);
        f->size = e->size;
        f->mtime = e->mtime;
        f->found = true;
        return 1;
    }
    return 0;
}

/* ---- tests ------------------------------------------------------------ */

static const char *const lake_keys[] = {
    "zz", "a/y/z", "a-b", "a/x", "data/2024/p.csv", "data/2024/q.csv",
    "data/2025/r.csv", "data/x", "dates.csv", "dir/", "dir/f", "emptydir/",
    ".hidden", "\xc3\xa9.txt", "sp ace",
};

static void test_listing(void)
{
    for (size_t i = 0; i < sizeof lake_keys / sizeof *lake_keys; i++)
        CHECK(put_str("b", lake_keys[i], "") == 0, "put %s", lake_keys[i]);
    /* Left by other tools: an empty folder tree (no objects: no prefix),
     * a file with no gluefs ETag. */
    char p[1024];
    snprintf(p, sizeof p, "%s/b/ghost", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/b/ghost/sub", root);
    mkdir(p, 0777);
    write_raw("b/ext.txt", "external");

    static const struct {
        const char *prefix, *delim, *want;
    } cases[] = {
        {"", NULL,
         ".hidden a-b a/x a/y/z data/2024/p.csv data/2024/q.csv "
         "data/2025/r.csv data/x dates.csv dir/ dir/f emptydir/ ext.txt "
         "sp ace zz \xc3\xa9.txt"},
        {"", "/",
         ".hidden a-b [a/] [data/] dates.csv [dir/] [emptydir/] ext.txt "
         "sp ace zz \xc3\xa9.txt"},
        {"da", "/", "[data/] dates.csv"},
        {"da", NULL,
         "data/2024/p.csv data/2024/q.csv data/2025/r.csv data/x dates.csv"},
        {"data", "/", "[data/]"},
        {"data/", "/", "[data/2024/] [data/2025/] data/x"},
        {"data/20", "/", "[data/2024/] [data/2025/]"},
        {"data/2024/", "/", "data/2024/p.csv data/2024/q.csv"},
        {"data/2024/q", "/", "data/2024/q.csv"},
        {"data/2024/p.csv", NULL, "data/2024/p.csv"},
        {"dir/", "/", "dir/ dir/f"},
        {"dir", "/", "[dir/]"},
        {"dir", NULL, "dir/ dir/f"},
        {"emptydir/", "/", "emptydir/"},
        {"a", "/", "a-b [a/]"},
        {"a/", NULL, "a/x a/y/z"},
        {"nope/", "/", ""},
        {"ghost/", NULL, ""},
        {"ghost", "/", ""},
        {"a/../", NULL, ""},
        {"a//", NULL, ""},
        {".gluefs-tmp/", NULL, ""},
        {".g", NULL, ""},
        {"", "-", ".hidden [a-] a/x a/y/z data/2024/p.csv data/2024/q.csv "
                  "data/2025/r.csv data/x dates.csv dir/ dir/f emptydir/ "
                  "ext.txt sp ace zz \xc3\xa9.txt"},
        {"a", "/y", "a-b a/x [a/y]"},
        {"data/", "4", "[data/2024] data/2025/r.csv data/x"},
        {"", "", /* empty delimiter: recursive */
         ".hidden a-b a/x a/y/z data/2024/p.csv data/2024/q.csv "
         "data/2025/r.csv data/x dates.csv dir/ dir/f emptydir/ ext.txt "
         "sp ace zz \xc3\xa9.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char got[4096];
        uint64_t before = stats_get(STAT_requests_list);
        int rc = list_str("b", cases[i].prefix, cases[i].delim, got,
                          sizeof got);
        CHECK(rc == 0, "list '%s' '%s': %d", cases[i].prefix,
              cases[i].delim ? cases[i].delim : "(null)", rc);
        CHECK(strcmp(got, cases[i].want) == 0,
              "list '%s' '%s':\n  got  '%s'\n  want '%s'", cases[i].prefix,
              cases[i].delim ? cases[i].delim : "(null)", got,
              cases[i].want);
        CHECK(stats_get(STAT_requests_list) - before == 1,
              "one page per small listing");
    }

    /* Early stop and abort from the callback. */
    struct listing l = {.stop_after = 2};
    buf_init(&l.out, 4096);
    CHECK(st->ops->list(st, "b", "", NULL, list_cb, &l) == 0, "stop -> 0");
    CHECK_STR(l.out.data, ".hidden a-b");
    buf_release(&l.out);
    struct listing ab = {.abort_rc = -EIO};
    buf_init(&ab.out, 4096);
    CHECK(st->ops->list(st, "b", "", NULL, list_cb, &ab) == -EIO,
          "abort passes the errno");
    buf_release(&ab.out);

    char got[64];
    CHECK(list_str("nosuch", "", "/", got, sizeof got) == -ENOENT,
          "missing bucket");
    CHECK(list_str("..", "", "/", got, sizeof got) == -EINVAL, "bad bucket");

    /* Sizes, mtimes and ETags from the listing. */
    CHECK(put_str("b", "data/x", "hello") == 0, "overwrite data/x");
    struct find f = {.key = "data/x"};
    st->ops->list(st, "b", "data/", "/", find_cb, &f);
    CHECK(f.found && f.size == 5, "size %llu", (unsigned long long)f.size);
    CHECK_STR(f.etag, "5d41402abc4b2a76b9719d911017c592");
    struct find e = {.key = "ext.txt"};
    st->ops->list(st, "b", "", "/", find_cb, &e);
    struct stat sb;
    snprintf(p, sizeof p, "%s/b/ext.txt", root);
    stat(p, &sb);
    char want[80];
    snprintf(want, sizeof want, "%llx-%llx", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ULL +
                 (unsigned long long)sb.st_mtim.tv_nsec);
    CHECK(e.found, "ext.txt listed");
    CHECK_STR(e.etag, want);
    CHECK(e.mtime == (int64_t)sb.st_mtim.tv_sec, "mtime from the file");

    /* A file changed by another tool loses its stored ETag. */
    CHECK(put_str("b", "mod.txt", "hello") == 0, "put mod.txt");
    write_raw("b/mod.txt", " world");
    struct store_head h;
    CHECK(st->ops->head(st, "b", "mod.txt", &h) == 0, "head mod.txt");
    CHECK(h.size == 11 && strcmp(h.etag,
                                 "5d41402abc4b2a76b9719d911017c592") != 0 &&
              strchr(h.etag, '-') != NULL,
          "stale etag replaced: %s", h.etag);
}

/* Files other tools leave: links to files count, links to folders (loops)
 * and special files do not; a stray marker at the bucket root is hidden. */
static void test_links(void)
{
    char p[1024], q[1024];
    snprintf(p, sizeof p, "%s/links", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/links/sub", root);
    mkdir(p, 0777);
    write_raw("links/sub/real", "data");
    write_raw("links/.gluefs-marker", "");
    snprintf(p, sizeof p, "%s/links/sub/real", root);
    snprintf(q, sizeof q, "%s/links/tofile", root);
    CHECK(symlink(p, q) == 0, "symlink to a file");
    snprintf(p, sizeof p, "%s/links", root);
    snprintf(q, sizeof q, "%s/links/sub/loop", root);
    CHECK(symlink(p, q) == 0, "symlink to a folder");
    snprintf(q, sizeof q, "%s/links/fifo", root);
    CHECK(mkfifo(q, 0644) == 0, "fifo");
    snprintf(q, sizeof q, "%s/links/dangling", root);
    CHECK(symlink("/nonexistent/x", q) == 0, "dangling symlink");
    char got[1024];
    CHECK(list_str("links", "", NULL, got, sizeof got) == 0, "list links");
    CHECK_STR(got, "sub/real tofile");
    CHECK(list_str("links", "", "/", got, sizeof got) == 0, "list links /");
    CHECK_STR(got, "[sub/] tofile");
    struct getbuf g = {.calls = 0};
    buf_init(&g.b, 64);
    CHECK(st->ops->get(st, "links", "tofile", 0, UINT64_MAX, get_cb, &g) ==
              0,
          "get through a link");
    CHECK_STR(g.b.data, "data");
    buf_release(&g.b);
    struct store_head h;
    CHECK(st->ops->head(st, "links", "fifo", &h) == -ENOENT, "fifo: ENOENT");
    g.calls = 0;
    buf_init(&g.b, 64);
    CHECK(st->ops->get(st, "links", "fifo", 0, UINT64_MAX, get_cb, &g) ==
              -ENOENT,
          "get of a fifo: ENOENT, without blocking");
    buf_release(&g.b);
    CHECK(st->ops->copy(st, "links", "fifo", "links", "x", NULL) == -ENOENT,
          "copy of a fifo");
}

static int count_cb(void *ctx, const struct store_entry *e)
{
    (*(int *)ctx)++;
    return 0;
}

static void test_pages(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/many", root);
    mkdir(p, 0777);
    for (int i = 0; i < 2001; i++) {
        char key[32];
        snprintf(key, sizeof key, "k/%05d", i);
        if (put_str("many", key, "x") != 0) {
            CHECK(0, "put %s", key);
            return;
        }
    }
    static const struct {
        const char *delim;
        int entries;
        uint64_t pages;
    } cases[] = {{NULL, 2001, 3}, {"/", 1, 1}};
    for (size_t i = 0; i < 2; i++) {
        int n = 0;
        uint64_t before = stats_get(STAT_requests_list);
        CHECK(st->ops->list(st, "many", "", cases[i].delim, count_cb, &n) ==
                  0,
              "list many");
        CHECK(n == cases[i].entries, "entries %d", n);
        CHECK(stats_get(STAT_requests_list) - before == cases[i].pages,
              "pages %llu",
              (unsigned long long)(stats_get(STAT_requests_list) - before));
    }
}

static void test_markers(void)
{
    static const struct {
        const char *op, *key; /* op: "put" or "del" */
        int rc;
        const char *gone, *there; /* paths under ROOT/b after the op */
    } steps[] = {
        {"put", "newdir/", 0, NULL, "b/newdir/.gluefs-marker"},
        {"del", "newdir/", 0, "b/newdir", NULL},
        {"put", "m/", 0, NULL, "b/m"},
        {"put", "m/f", 0, NULL, "b/m/f"},
        {"del", "m/f", 0, "b/m/f", "b/m/.gluefs-marker"},
        {"del", "m/", 0, "b/m", NULL},
        {"put", "p/q/r", 0, NULL, "b/p/q/r"},
        {"del", "p/q/r", 0, "b/p", NULL},
        {"put", "s/", 0, NULL, "b/s"},
        {"put", "s/t/u", 0, NULL, "b/s/t/u"},
        {"del", "s/t/u", 0, "b/s/t", "b/s/.gluefs-marker"},
        {"del", "s/", 0, "b/s", NULL},
        {"put", "v/w", 0, NULL, "b/v/w"},
        {"put", "v/x", 0, NULL, "b/v/x"},
        {"del", "v/", 0, NULL, "b/v/w"},      /* no marker: nothing to do */
        {"del", "v/w", 0, "b/v/w", "b/v/x"},  /* v still holds x */
        {"del", "v/x", 0, "b/v", NULL},
        {"del", "never/was", 0, NULL, NULL},  /* missing key: 0 */
        {"del", "zz/under-a-file", 0, NULL, "b/zz"},
        {"del", "data", 0, NULL, "b/data"},   /* a folder is no object */
        {"put", "zz/x", -ENOTDIR, "b/zz/x", "b/zz"},
        {"put", "zz/", -ENOTDIR, NULL, "b/zz"},
        {"put", "data", -EISDIR, NULL, "b/data/x"},
        {"put", "dir", -EISDIR, NULL, "b/dir/.gluefs-marker"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        int rc = !strcmp(steps[i].op, "put")
                     ? put_str("b", steps[i].key, "")
                     : st->ops->del(st, "b", steps[i].key);
        CHECK(rc == steps[i].rc, "%s %s: %d, want %d", steps[i].op,
              steps[i].key, rc, steps[i].rc);
        if (steps[i].gone)
            CHECK(!exists(steps[i].gone), "%s %s: %s still there",
                  steps[i].op, steps[i].key, steps[i].gone);
        if (steps[i].there)
            CHECK(exists(steps[i].there), "%s %s: %s missing", steps[i].op,
                  steps[i].key, steps[i].there);
    }
    /* An empty folder left by another tool gives way to an object. */
    char p[1024];
    snprintf(p, sizeof p, "%s/b/lonely", root);
    mkdir(p, 0777);
    CHECK(put_str("b", "lonely", "x") == 0, "put over an empty folder");

    struct store_head h;
    CHECK(st->ops->head(st, "b", "dir/", &h) == 0, "head marker");
    CHECK(h.size == 0, "marker size");
    CHECK_STR(h.etag, "d41d8cd98f00b204e9800998ecf8427e");
    CHECK(st->ops->head(st, "b", "data/", &h) == -ENOENT,
          "a prefix without marker has no HEAD");
    CHECK(st->ops->head(st, "b", "data", &h) == -ENOENT, "folder: ENOENT");
    CHECK(st->ops->head(st, "b", "zz/x", &h) == -ENOENT, "under a file");
    CHECK(st->ops->head(st, "nosuch", "x", &h) == -ENOENT, "no bucket");
    CHECK(put_str("nosuch", "x", "") == -ENOENT, "put: no bucket");
}

static void test_bad_names(void)
{
    char longkey[1100], longseg[300];
    memset(longkey, 'k', 1025);
    longkey[1025] = '\0';
    for (int i = 0; i < 1025; i += 100)
        longkey[i] = '/';
    longkey[0] = 'k';
    memset(longseg, 's', 256);
    longseg[256] = '\0';
    static const struct {
        const char *bucket, *key;
        int rc;
    } cases[] = {
        {"b", "", -EINVAL},          {"b", "/a", -EINVAL},
        {"b", "a//b", -EINVAL},      {"b", "./a", -EINVAL},
        {"b", "a/./b", -EINVAL},     {"b", "a/../b", -EINVAL},
        {"b", "..", -EINVAL},        {"b", "a/..", -EINVAL},
        {"b", "//", -EINVAL},        {"b", "/", -EINVAL},
        {"b", "a//", -EINVAL},       {"b", ".gluefs-x", -EINVAL},
        {"b", "a/.gluefs-marker", -EINVAL},
        {"b", ".gluefsfoo/x", -EINVAL},
        {"b", ".gluefs-tmp/1", -EINVAL},
        {".", "x", -EINVAL},         {".x", "x", -EINVAL},
        {"a/b", "x", -EINVAL},       {"", "x", -EINVAL},
        {"b", ".ok", 0},             {"b", "a b/c d", 0},
        {"b", "x.gluefs", 0},        {"b", "...", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = put_str(cases[i].bucket, cases[i].key, "v");
        CHECK(rc == cases[i].rc, "put '%s' '%s': %d, want %d",
              cases[i].bucket, cases[i].key, rc, cases[i].rc);
        struct store_head h;
        rc = st->ops->head(st, cases[i].bucket, cases[i].key, &h);
        CHECK(cases[i].rc ? rc == cases[i].rc : rc == 0,
              "head '%s' '%s': %d", cases[i].bucket, cases[i].key, rc);
        rc = st->ops->del(st, cases[i].bucket, cases[i].key);
        CHECK(rc == cases[i].rc, "del '%s' '%s': %d", cases[i].bucket,
              cases[i].key, rc);
    }
    CHECK(put_str("b", longkey, "") == -ENAMETOOLONG, "key > 1024 bytes");
    CHECK(put_str("b", longseg, "") == -ENAMETOOLONG, "segment > 255");
    char got[4096];
    list_str("b", "", NULL, got, sizeof got);
    CHECK(strstr(got, ".gluefs") == NULL, "hidden names never listed: %s",
          got);
}

static void test_get(void)
{
    CHECK(put_str("b", "digits", "0123456789") == 0, "put digits");
    static const struct {
        uint64_t off, len;
        const char *want;
    } cases[] = {
        {0, UINT64_MAX, "0123456789"}, {2, 3, "234"}, {8, 100, "89"},
        {9, 1, "9"},                   {10, 1, ""},   {11, UINT64_MAX, ""},
        {0, 0, ""},                    {5, UINT64_MAX, "56789"},
        {UINT64_MAX, UINT64_MAX, ""},  {3, UINT64_MAX - 1, "3456789"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct getbuf g = {.calls = 0};
        buf_init(&g.b, 1 << 20);
        uint64_t before = stats_get(STAT_bytes_downloaded);
        int rc = st->ops->get(st, "b", "digits", cases[i].off, cases[i].len,
                              get_cb, &g);
        CHECK(rc == 0, "get %llu+%llu: %d", (unsigned long long)cases[i].off,
              (unsigned long long)cases[i].len, rc);
        CHECK_STR(g.b.data ? g.b.data : "", cases[i].want);
        CHECK(stats_get(STAT_bytes_downloaded) - before ==
                  strlen(cases[i].want),
              "bytes_downloaded");
        buf_release(&g.b);
    }
    /* A big object arrives in pieces of at most 1 MiB. */
    size_t big = (3u << 20) + 17;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 7);
    CHECK(st->ops->put(st, "b", "big", data, big, NULL) == 0, "put big");
    struct getbuf g = {.calls = 0};
    buf_init(&g.b, 8u << 20);
    CHECK(st->ops->get(st, "b", "big", 0, UINT64_MAX, get_cb, &g) == 0,
          "get big");
    CHECK(g.b.len == big && memcmp(g.b.data, data, big) == 0, "big content");
    CHECK(g.calls == 4, "pieces: %d", g.calls);
    buf_release(&g.b);
    free(data);

    struct getbuf m = {.calls = 0};
    buf_init(&m.b, 64);
    CHECK(st->ops->get(st, "b", "missing", 0, UINT64_MAX, get_cb, &m) ==
              -ENOENT,
          "get missing");
    CHECK(st->ops->get(st, "b", "data", 0, UINT64_MAX, get_cb, &m) ==
              -ENOENT,
          "get folder");
    CHECK(st->ops->get(st, "b", "dir/", 0, UINT64_MAX, get_cb, &m) == 0 &&
              m.b.len == 0,
          "get marker");
    buf_release(&m.b);

    char *all;
    size_t len;
    CHECK(store_get_all(st, "b", "digits", 100, &all, &len) == 0 &&
              len == 10,
          "store_get_all");
    free(all);
}

static void test_multipart(void)
{
    size_t p1len = STORE_PART_MIN;
    char *p1 = malloc(p1len);
    memset(p1, 'a', p1len);
    const char *p2 = "tail";
    struct store_meta meta = {.has_mode = true, .mode = 0100640};
    char *id = NULL;
    struct store_part parts[2];
    uint64_t up_before = stats_get(STAT_bytes_uploaded);

    CHECK(st->ops->mpu_create(st, "b", "mp/obj", &meta, &id) == 0 && id,
          "create");
    CHECK(st->ops->mpu_part(st, "b", "mp/obj", id, 1, p1, p1len,
                            &parts[0]) == 0,
          "part 1");
    CHECK(st->ops->mpu_part(st, "b", "mp/obj", id, 2, p2, 4, &parts[1]) ==
              0,
          "part 2");
    CHECK(stats_get(STAT_bytes_uploaded) - up_before == p1len + 4,
          "bytes_uploaded for parts");
    char h1[33], h2[33];
    md5_hex(p1, p1len, h1);
    md5_hex(p2, 4, h2);
    CHECK_STR(parts[0].etag, h1);
    CHECK_STR(parts[1].etag, h2);
    CHECK(parts[0].number == 1 && parts[1].number == 2, "numbers");

    struct store_head h;
    CHECK(st->ops->head(st, "b", "mp/obj", &h) == -ENOENT,
          "no object before complete");
    struct store_part bad[2] = {parts[1], parts[0]};
    CHECK(st->ops->mpu_complete(st, "b", "mp/obj", id, bad, 2) == -EINVAL,
          "InvalidPartOrder");
    struct store_part wrong[2] = {parts[0], parts[1]};
    wrong[1].etag[0] = wrong[1].etag[0] == '0' ? '1' : '0';
    CHECK(st->ops->mpu_complete(st, "b", "mp/obj", id, wrong, 2) == -EINVAL,
          "InvalidPart (etag)");
    struct store_part missing[2] = {parts[0], parts[1]};
    missing[1].number = 3;
    CHECK(st->ops->mpu_complete(st, "b", "mp/obj", id, missing, 2) ==
              -EINVAL,
          "InvalidPart (missing)");
    CHECK(st->ops->mpu_complete(st, "b", "other", id, parts, 2) == -ENOENT,
          "upload of another key");
    CHECK(st->ops->head(st, "b", "mp/obj", &h) == -ENOENT,
          "still no object after failed completes");

    uint64_t cm = stats_get(STAT_requests_complete_multipart);
    CHECK(st->ops->mpu_complete(st, "b", "mp/obj", id, parts, 2) == 0,
          "complete");
    CHECK(stats_get(STAT_requests_complete_multipart) - cm == 1, "counted");
    unsigned char raws[32];
    md5_raw(p1, p1len, raws);
    md5_raw(p2, 4, raws + 16);
    char want[80];
    md5_hex(raws, 32, want);
    snprintf(want + 32, sizeof want - 32, "-2");
    CHECK(st->ops->head(st, "b", "mp/obj", &h) == 0, "head after complete");
    CHECK_STR(h.etag, want);
    CHECK(h.size == p1len + 4, "size");
    CHECK(h.meta.has_mode && h.meta.mode == 0100640, "meta from create");
    struct find f = {.key = "mp/obj"};
    st->ops->list(st, "b", "mp/", NULL, find_cb, &f);
    CHECK(f.found, "listed");
    CHECK_STR(f.etag, want);
    struct getbuf g = {.calls = 0};
    buf_init(&g.b, 16);
    CHECK(st->ops->get(st, "b", "mp/obj", p1len - 2, UINT64_MAX, get_cb,
                       &g) == 0,
          "get tail");
    CHECK_STR(g.b.data, "aatail");
    buf_release(&g.b);
    char p[1024];
    snprintf(p, sizeof p, ".gluefs-uploads/%s", id);
    CHECK(!exists(p), "staging removed after complete");
    CHECK(st->ops->mpu_complete(st, "b", "mp/obj", id, parts, 2) == -ENOENT,
          "complete twice: NoSuchUpload");
    free(id);

    /* A small part that is not the last: EntityTooSmall. */
    id = NULL;
    CHECK(st->ops->mpu_create(st, "b", "mp/small", NULL, &id) == 0, "create");
    CHECK(st->ops->mpu_part(st, "b", "mp/small", id, 1, "x", 1, &parts[0]) ==
              0,
          "small part");
    CHECK(st->ops->mpu_part(st, "b", "mp/small", id, 2, "y", 1, &parts[1]) ==
              0,
          "small part");
    CHECK(st->ops->mpu_complete(st, "b", "mp/small", id, parts, 2) ==
              -EINVAL,
          "EntityTooSmall");
    CHECK(st->ops->mpu_complete(st, "b", "mp/small", id, parts + 1, 1) == 0,
          "one small part is fine");
    CHECK(st->ops->head(st, "b", "mp/small", &h) == 0 && h.size == 1,
          "one-part object");
    md5_raw("y", 1, raws);
    md5_hex(raws, 16, want);
    snprintf(want + 32, sizeof want - 32, "-1");
    CHECK_STR(h.etag, want);
    free(id);

    /* Abort removes the staging folder. */
    id = NULL;
    CHECK(st->ops->mpu_create(st, "b", "mp/ab", NULL, &id) == 0, "create");
    CHECK(st->ops->mpu_part(st, "b", "mp/ab", id, 1, "x", 1, &parts[0]) == 0,
          "part");
    snprintf(p, sizeof p, ".gluefs-uploads/%s", id);
    CHECK(exists(p), "staging there");
    CHECK(st->ops->mpu_abort(st, "b", "mp/ab", id) == 0, "abort");
    CHECK(!exists(p), "staging removed");
    CHECK(st->ops->mpu_part(st, "b", "mp/ab", id, 2, "x", 1, &parts[0]) ==
              -ENOENT,
          "part after abort");
    CHECK(st->ops->mpu_abort(st, "b", "mp/ab", id) == -ENOENT, "abort twice");
    CHECK(st->ops->head(st, "b", "mp/ab", &h) == -ENOENT, "never appeared");
    free(id);
    CHECK(st->ops->mpu_part(st, "b", "mp/ab", "../../etc", 1, "x", 1,
                            &parts[0]) == -ENOENT,
          "bad upload id");
    CHECK(st->ops->mpu_part(st, "b", "mp/ab", "0123456789abcdef0123456789abcdef",
                            0, "x", 1, &parts[0]) == -EINVAL,
          "part number 0");
    CHECK(st->ops->mpu_create(st, "nosuch", "k", NULL, &id) == -ENOENT &&
              id == NULL,
          "create: no bucket");
    free(p1);
}

static void test_copy_meta(void)
{
    struct store_meta m = {.has_mode = true, .mode = 0100640,
                           .has_uid = true, .uid = 1234,
                           .has_gid = true, .gid = 55,
                           .has_mtime = true, .mtime = 1600000000};
    CHECK(st->ops->put(st, "b", "src.txt", "payload", 7, &m) == 0, "put");
    struct store_head h;
    CHECK(st->ops->head(st, "b", "src.txt", &h) == 0, "head");
    CHECK(h.meta.has_mode && h.meta.mode == 0100640 && h.meta.has_uid &&
              h.meta.uid == 1234 && h.meta.has_gid && h.meta.gid == 55 &&
              h.meta.has_mtime && h.meta.mtime == 1600000000,
          "meta round trip");
    CHECK(h.mtime == 1600000000, "mtime applied to the file");
    char md5[33];
    md5_hex("payload", 7, md5);
    CHECK_STR(h.etag, md5);

    static const struct {
        const char *dst;
        bool with_meta;
        bool has_mode, has_uid, has_mtime;
        uint32_t mode;
    } cases[] = {
        {"copy/keep.txt", false, true, true, true, 0100640},
        {"copy/replace.txt", true, true, false, false, 0100600},
    };
    for (size_t i = 0; i < 2; i++) {
        struct store_meta r = {.has_mode = true, .mode = 0100600};
        uint64_t before = stats_get(STAT_requests_copy);
        CHECK(st->ops->copy(st, "b", "src.txt", "b", cases[i].dst,
                            cases[i].with_meta ? &r : NULL) == 0,
              "copy to %s", cases[i].dst);
        CHECK(stats_get(STAT_requests_copy) - before == 1, "counted");
        CHECK(st->ops->head(st, "b", cases[i].dst, &h) == 0, "head copy");
        CHECK(h.meta.has_mode == cases[i].has_mode &&
                  h.meta.mode == cases[i].mode &&
                  h.meta.has_uid == cases[i].has_uid &&
                  h.meta.has_mtime == cases[i].has_mtime,
              "%s: meta mode=%o uid=%d mtime=%d", cases[i].dst, h.meta.mode,
              h.meta.has_uid, h.meta.has_mtime);
        CHECK_STR(h.etag, md5);
        CHECK(h.size == 7, "size");
    }
    CHECK(st->ops->copy(st, "b", "src.txt", "b", "src.txt", NULL) == -EINVAL,
          "copy onto itself without new meta");
    struct store_meta r = {.has_mtime = true, .mtime = 1700000000};
    CHECK(st->ops->copy(st, "b", "src.txt", "b", "src.txt", &r) == 0,
          "copy onto itself with new meta");
    CHECK(st->ops->head(st, "b", "src.txt", &h) == 0 && h.mtime == 1700000000 &&
              !h.meta.has_mode && !h.meta.has_uid && h.meta.has_mtime,
          "meta replaced");
    CHECK_STR(h.etag, md5);
    struct store_meta only_mode = {.has_mode = true, .mode = 0100444};
    time_t now = time(NULL);
    CHECK(st->ops->copy(st, "b", "src.txt", "b", "src.txt", &only_mode) == 0,
          "chmod in place");
    CHECK(st->ops->head(st, "b", "src.txt", &h) == 0 && h.meta.has_mode &&
              h.meta.mode == 0100444 && !h.meta.has_mtime &&
              h.mtime >= now - 1,
          "no mtime given: Last-Modified is now");
    CHECK_STR(h.etag, md5);
    /* A multipart object keeps its ETag through a metadata change. */
    struct store_head mh, mh2;
    CHECK(st->ops->head(st, "b", "mp/obj", &mh) == 0, "head mp/obj");
    CHECK(st->ops->copy(st, "b", "mp/obj", "b", "mp/obj", &only_mode) == 0,
          "chmod multipart object");
    CHECK(st->ops->head(st, "b", "mp/obj", &mh2) == 0 &&
              !strcmp(mh.etag, mh2.etag) && mh2.meta.mode == 0100444,
          "etag kept: %s -> %s", mh.etag, mh2.etag);
    CHECK(st->ops->copy(st, "b", "nope", "b", "x", NULL) == -ENOENT,
          "copy missing");
    CHECK(st->ops->copy(st, "b", "src.txt", "nosuch", "x", NULL) == -ENOENT,
          "copy to missing bucket");
    CHECK(st->ops->copy(st, "b", "src.txt", "b", "zz/x", NULL) == -ENOTDIR,
          "copy under a file");
}

static int bucket_cb(void *ctx, const struct store_entry *e)
{
    struct buf *b = ctx;
    return buf_printf(b, "%s%s", b->len ? " " : "", e->key) ? -ENOMEM : 0;
}

static void test_buckets_and_stats(void)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/.dot", root);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/Zed", root);
    mkdir(p, 0777);
    write_raw("file-not-bucket", "x");
    struct buf b;
    buf_init(&b, 4096);
    uint64_t before = stats_get(STAT_requests_list_buckets);
    CHECK(st->ops->list_buckets(st, bucket_cb, &b) == 0, "list_buckets");
    CHECK_STR(b.data, "Zed b links many");
    CHECK(stats_get(STAT_requests_list_buckets) - before == 1, "counted");
    buf_release(&b);

    /* One request per call, as the S3 backend counts them. */
    static const struct {
        enum stat_id id;
        const char *op;
    } cases[] = {
        {STAT_requests_put, "put"},       {STAT_requests_head, "head"},
        {STAT_requests_get, "get"},       {STAT_requests_delete, "del"},
        {STAT_requests_head, "head-missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t n0 = stats_get(cases[i].id);
        uint64_t up0 = stats_get(STAT_bytes_uploaded);
        struct store_head h;
        struct getbuf g = {.calls = 0};
        buf_init(&g.b, 64);
        if (!strcmp(cases[i].op, "put"))
            put_str("b", "stat", "12345");
        else if (!strcmp(cases[i].op, "head"))
            st->ops->head(st, "b", "stat", &h);
        else if (!strcmp(cases[i].op, "get"))
            st->ops->get(st, "b", "stat", 0, UINT64_MAX, get_cb, &g);
        else if (!strcmp(cases[i].op, "del"))
            st->ops->del(st, "b", "stat");
        else
            st->ops->head(st, "b", "stat", &h);
        buf_release(&g.b);
        CHECK(stats_get(cases[i].id) - n0 == 1, "%s counted once",
              cases[i].op);
        CHECK(stats_get(STAT_bytes_uploaded) - up0 ==
                  (strcmp(cases[i].op, "put") ? 0u : 5u),
              "%s bytes_uploaded", cases[i].op);
    }
}

/* Writers and deleters race on shared parent folders: a put must never
 * fail because a delete pruned the folder it was writing into. */
struct racer {
    int id;
    int failures;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char key[64];
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "race/sub/deep/%d-%d", r->id, i % 3);
        if (put_str("b", key, "x") != 0)
            r->failures++;
        if (st->ops->del(st, "b", key) != 0)
            r->failures++;
        if (i % 50 == 0) {
            int n = 0;
            if (st->ops->list(st, "b", "race/", NULL, count_cb, &n) != 0)
                r->failures++;
        }
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    struct racer r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (struct racer){.id = i};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(r[i].failures == 0, "racer %d: %d failures", i, r[i].failures);
    }
    CHECK(!exists("b/race"), "all pruned at the end");
}

static void rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

int main(void)
{
    char err[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/gluefs-local-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    char p[1024];
    snprintf(p, sizeof p, "%s/b", root);
    mkdir(p, 0777);

    CHECK(store_local_new("/nonexistent/gluefs", &st, err, sizeof err) ==
              -ENOENT,
          "missing root");
    CHECK(strstr(err, "/nonexistent/gluefs") != NULL, "err names it: %s",
          err);
    CHECK(store_local_new(root, &st, err, sizeof err) == 0, "new: %s", err);
    CHECK_STR(st->ops->name, "local");

    test_listing();
    test_pages();
    test_links();
    test_markers();
    test_bad_names();
    test_get();
    test_multipart();
    test_copy_meta();
    test_buckets_and_stats();
    test_threads();

    st->ops->free(st);

    /* Opening a store sweeps only day-old temp files: a writer's fresh
     * temp file (even one carrying an old object mtime) stays. */
    write_raw("b/.gluefs-tmp/fresh.tmp", "in flight");
    snprintf(p, sizeof p, "%s/b/.gluefs-tmp/fresh.tmp", root);
    struct timespec old[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    utimensat(AT_FDCWD, p, old, 0);
    CHECK(store_local_new(root, &st, err, sizeof err) == 0, "reopen");
    CHECK(exists("b/.gluefs-tmp/fresh.tmp"), "fresh temp file kept");
    st->ops->free(st);
    rm_rf(root);
    return check_done();
}
