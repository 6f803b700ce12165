/* test_instream.c - instream.h: magic detection, memory streams, gzip /
 * bzip2 / zstd round trips (compressed here with zlib, libbz2, libzstd),
 * concatenated members, truncation (error, or a quiet end in sample mode),
 * the max_out cap, and object streams over a fake in-memory store
 * (chunk boundaries, limit, store errors, short objects). */
#include <bzlib.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "instream.h"
#include "store.h"

/* ---- helpers ---------------------------------------------------------- */

struct blob {
    unsigned char *p;
    size_t n, cap;
};

static void blob_add(struct blob *b, const void *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static struct blob gz(const void *p, size_t n)
{
    struct blob b = {0};
    z_stream z;
    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    b.p = malloc(deflateBound(&z, n) + 64);
    z.next_in = (unsigned char *)p;
    z.avail_in = (uInt)n;
    z.next_out = b.p;
    z.avail_out = (uInt)deflateBound(&z, n) + 64;
    deflate(&z, Z_FINISH);
    b.n = z.total_out;
    deflateEnd(&z);
    return b;
}

/* Block size 100k, so a sample cut in half still holds whole blocks. */
static struct blob bz2(const void *p, size_t n)
{
    struct blob b = {0};
    unsigned int cap = (unsigned int)(n + n / 100 + 700);
    b.p = malloc(cap);
    BZ2_bzBuffToBuffCompress((char *)b.p, &cap, (char *)p, (unsigned)n, 1, 0,
                             0);
    b.n = cap;
    return b;
}

static struct blob zst(const void *p, size_t n)
{
    struct blob b = {0};
    size_t cap = ZSTD_compressBound(n);
    b.p = malloc(cap);
    b.n = ZSTD_compress(b.p, cap, p, n, 3);
    return b;
}

static struct blob compress_with(enum compression c, const void *p, size_t n)
{
    switch (c) {
    case COMP_GZIP:
        return gz(p, n);
    case COMP_BZIP2:
        return bz2(p, n);
    case COMP_ZSTD:
        return zst(p, n);
    default: {
        struct blob b = {0};
        blob_add(&b, p, n);
        return b;
    }
    }
}

/* Text that compresses well, and bytes that hardly compress. */
static struct blob make_text(size_t n)
{
    struct blob b = {0};
    char line[64];
    for (size_t i = 0; b.n < n; i++) {
        int k = snprintf(line, sizeof(line), "%zu,row %zu,%zu.5\n", i, i * 7,
                         i % 13);
        blob_add(&b, line, (size_t)k);
    }
    b.n = n;
    return b;
}

static struct blob make_noise(size_t n)
{
    struct blob b = {0};
    b.p = malloc(n + 1);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b.p[i] = (unsigned char)(x >> 16);
    }
    b.n = n;
    return b;
}

/* Read S to the end in pieces of STEP bytes.  Returns 0 or the error;
 * the bytes read go to *GOT. */
static int drain(struct instream *s, size_t step, struct blob *got)
{
    unsigned char *tmp = malloc(step);
    int rc = 0;
    for (;;) {
        ssize_t r = s->read(s, tmp, step);
        if (r < 0) {
            rc = (int)r;
            break;
        }
        if (r == 0)
            break;
        blob_add(got, tmp, (size_t)r);
    }
    free(tmp);
    return rc;
}

static bool same(const struct blob *a, const void *p, size_t n)
{
    return a->n == n && (n == 0 || memcmp(a->p, p, n) == 0);
}

/* ---- object streams over a fake store --------------------------------- */

#define MAX_GETS 64

struct fake_store {
    struct store base;
    const unsigned char *data;
    size_t size;    /* bytes the store really holds */
    size_t piece;   /* bytes per data callback */
    int fail_get;   /* 1-based GET number that fails with -EIO (0: none) */
    pthread_mutex_t mu;
    int ngets;
    uint64_t off[MAX_GETS], len[MAX_GETS];
};

static int fake_get(struct store *s, const char *bucket, const char *key,
                    uint64_t off, uint64_t len, store_data_cb cb, void *ctx)
{
    struct fake_store *f = (struct fake_store *)s;
    pthread_mutex_lock(&f->mu);
    int n = f->ngets++;
    if (n < MAX_GETS) {
        f->off[n] = off;
        f->len[n] = len;
    }
    pthread_mutex_unlock(&f->mu);
    if (strcmp(bucket, "b") != 0 || strcmp(key, "k") != 0)
        return -ENOENT;
    if (f->fail_get == n + 1)
        return -EIO;
    if (off >= f->size)
        return 0;
    uint64_t end = len == UINT64_MAX || off + len > f->size ? f->size
                                                            : off + len;
    for (uint64_t p = off; p < end; p += f->piece) {
        size_t k = end - p < f->piece ? (size_t)(end - p) : f->piece;
        int rc = cb(ctx, f->data + p, k);
        if (rc)
            return rc;
    }
    return 0;
}

static const struct store_ops fake_ops = {.name = "fake", .get = fake_get};

static void fake_init(struct fake_store *f, const void *data, size_t size)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &fake_ops;
    f->data = data;
    f->size = size;
    f->piece = 1000;
    pthread_mutex_init(&f->mu, NULL);
}

/* ---- magic ------------------------------------------------------------ */

static void test_detect(void)
{
    static const struct {
        const char *magic;
        size_t n;
        enum compression want;
    } t[] = {
        {"\x1f\x8b\x08\x00", 4, COMP_GZIP},
        {"\x1f\x8b", 2, COMP_GZIP},
        {"BZh9", 4, COMP_BZIP2},
        {"BZh1", 4, COMP_BZIP2},
        {"BZhx", 4, COMP_NONE}, /* not a block size */
        {"BZh", 3, COMP_BZIP2},
        {"\x28\xb5\x2f\xfd", 4, COMP_ZSTD},
        {"\x28\xb5\x2f", 3, COMP_NONE},
        {"\x50\x2a\x4d\x18", 4, COMP_ZSTD}, /* skippable frame */
        {"\x5f\x2a\x4d\x18", 4, COMP_ZSTD},
        {"\x60\x2a\x4d\x18", 4, COMP_NONE},
        {"id,n", 4, COMP_NONE},
        {"{\"a\"", 4, COMP_NONE},
        {"", 0, COMP_NONE},
        {"\x1f", 1, COMP_NONE},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        CHECK(compression_detect(t[i].magic, t[i].n) == t[i].want,
              "detect case %zu", i);
    CHECK_STR(compression_name(COMP_NONE), "none");
    CHECK_STR(compression_name(COMP_GZIP), "gzip");
    CHECK_STR(compression_name(COMP_BZIP2), "bzip2");
    CHECK_STR(compression_name(COMP_ZSTD), "zstd");
}

/* ---- memory ----------------------------------------------------------- */

static void test_memory(void)
{
    struct instream *s;
    CHECK(instream_memory("hello world", 11, &s) == 0, "memory");
    char b[8];
    CHECK(instream_read_full(s, b, 5) == 5 && memcmp(b, "hello", 5) == 0,
          "first 5");
    CHECK(s->raw_bytes == 5, "raw_bytes %llu",
          (unsigned long long)s->raw_bytes);
    CHECK(instream_read_full(s, b, 8) == 6 && memcmp(b, " world", 6) == 0,
          "rest");
    CHECK(instream_read_full(s, b, 8) == 0, "end");
    CHECK(s->read(s, b, 8) == 0, "end again");
    instream_free(s);

    CHECK(instream_memory("", 0, &s) == 0, "empty memory");
    CHECK(instream_read_full(s, b, 8) == 0, "empty end");
    instream_free(s);
    instream_free(NULL); /* no-op */
}

/* ---- decompressors ---------------------------------------------------- */

static const enum compression codecs[] = {COMP_GZIP, COMP_BZIP2, COMP_ZSTD};

static void test_round_trips(void)
{
    struct blob text = make_text(300000), noise = make_noise(400000);
    const struct blob *inputs[] = {&text, &noise};
    static const size_t steps[] = {1, 7, 4096, 1 << 20};
    for (size_t c = 0; c < 3; c++) {
        for (size_t i = 0; i < 2; i++) {
            struct blob z = compress_with(codecs[c], inputs[i]->p,
                                          inputs[i]->n);
            for (size_t k = 0; k < 4; k++) {
                if (steps[k] == 1 && i == 1)
                    continue; /* byte by byte over noise: slow, no news */
                struct instream *m, *d;
                instream_memory(z.p, z.n, &m);
                CHECK(instream_decompress(m, codecs[c], UINT64_MAX, &d) == 0,
                      "decompress %s", compression_name(codecs[c]));
                struct blob got = {0};
                int rc = drain(d, steps[k], &got);
                CHECK(rc == 0, "%s input %zu step %zu: rc %d",
                      compression_name(codecs[c]), i, steps[k], rc);
                CHECK(same(&got, inputs[i]->p, inputs[i]->n),
                      "%s input %zu step %zu: %zu bytes back",
                      compression_name(codecs[c]), i, steps[k], got.n);
                CHECK(d->raw_bytes == z.n, "raw_bytes %llu want %zu",
                      (unsigned long long)d->raw_bytes, z.n);
                free(got.p);
                instream_free(d);
            }
            /* instream_auto detects it. */
            struct instream *m, *d;
            enum compression det = COMP_NONE;
            instream_memory(z.p, z.n, &m);
            CHECK(instream_auto(m, UINT64_MAX, &det, &d) == 0, "auto");
            CHECK(det == codecs[c], "auto detected %s",
                  compression_name(det));
            struct blob got = {0};
            CHECK(drain(d, 65536, &got) == 0, "auto drain");
            CHECK(same(&got, inputs[i]->p, inputs[i]->n), "auto bytes");
            free(got.p);
            instream_free(d);
            free(z.p);
        }
    }
    free(text.p);
    free(noise.p);
}

static void test_concatenated(void)
{
    static const char *parts[] = {"first member\n", "second,member\n",
                                  "", "third\n"};
    const char *want = "first member\nsecond,member\nthird\n";
    for (size_t c = 0; c < 3; c++) {
        struct blob all = {0};
        for (size_t i = 0; i < 4; i++) {
            struct blob z = compress_with(codecs[c], parts[i],
                                          strlen(parts[i]));
            blob_add(&all, z.p, z.n);
            free(z.p);
        }
        struct instream *m, *d;
        instream_memory(all.p, all.n, &m);
        CHECK(instream_auto(m, UINT64_MAX, NULL, &d) == 0, "auto");
        struct blob got = {0};
        int rc = drain(d, 5, &got);
        CHECK(rc == 0 && same(&got, want, strlen(want)),
              "%s concatenated: rc %d, %zu bytes",
              compression_name(codecs[c]), rc, got.n);
        free(got.p);
        instream_free(d);
        /* Again with the compressed bytes arriving 3 at a time (object
         * chunks of 3 bytes), so member boundaries fall between reads. */
        struct fake_store f;
        fake_init(&f, all.p, all.n);
        instream_object(&f.base, "b", "k", all.n, UINT64_MAX, 3, &m);
        CHECK(instream_auto(m, UINT64_MAX, NULL, &d) == 0, "auto");
        got = (struct blob){0};
        rc = drain(d, 64, &got);
        CHECK(rc == 0 && same(&got, want, strlen(want)),
              "%s concatenated in 3-byte chunks: rc %d, %zu bytes",
              compression_name(codecs[c]), rc, got.n);
        CHECK(f.ngets == (int)((all.n + 2) / 3), "%d GETs", f.ngets);
        free(got.p);
        instream_free(d);
        pthread_mutex_destroy(&f.mu);
        free(all.p);
    }

    /* zstd: a skippable frame before the data (as pzstd writes). */
    {
        struct blob all = {0};
        blob_add(&all, "\x50\x2a\x4d\x18\x04\x00\x00\x00meta", 12);
        struct blob z = zst("after skip", 10);
        blob_add(&all, z.p, z.n);
        free(z.p);
        struct instream *m, *d;
        enum compression det;
        instream_memory(all.p, all.n, &m);
        instream_auto(m, UINT64_MAX, &det, &d);
        struct blob got = {0};
        CHECK(det == COMP_ZSTD && drain(d, 100, &got) == 0 &&
                  same(&got, "after skip", 10),
              "zstd skippable frame");
        free(got.p);
        instream_free(d);
        free(all.p);
    }

    /* gzip: trailing zeros after the last member are ignored. */
    struct blob z = gz("abc", 3);
    blob_add(&z, "\0\0\0\0", 4);
    struct instream *m, *d;
    instream_memory(z.p, z.n, &m);
    instream_decompress(m, COMP_GZIP, UINT64_MAX, &d);
    struct blob got = {0};
    CHECK(drain(d, 100, &got) == 0 && same(&got, "abc", 3),
          "gzip trailing zeros ignored");
    free(got.p);
    instream_free(d);
    free(z.p);
}

static void test_truncated_and_corrupt(void)
{
    struct blob text = make_text(2000000);
    for (size_t c = 0; c < 3; c++) {
        struct blob z = compress_with(codecs[c], text.p, text.n);
        static const double cuts[] = {0.5, 0.99};
        for (size_t k = 0; k < 2; k++) {
            size_t cut = (size_t)((double)z.n * cuts[k]);
            /* normal mode: -EBADMSG */
            struct instream *m, *d;
            instream_memory(z.p, cut, &m);
            instream_decompress(m, codecs[c], UINT64_MAX, &d);
            struct blob got = {0};
            int rc = drain(d, 4096, &got);
            CHECK(rc == -EBADMSG, "%s cut at %zu/%zu: rc %d",
                  compression_name(codecs[c]), cut, z.n, rc);
            CHECK(d->read(d, got.p, 1) == -EBADMSG, "error is sticky");
            free(got.p);
            instream_free(d);

            /* sample mode: a quiet end after a correct prefix */
            instream_memory(z.p, cut, &m);
            enum compression det;
            CHECK(instream_auto_sample(m, UINT64_MAX, &det, &d) == 0,
                  "auto sample");
            CHECK(det == codecs[c], "sample detect");
            got = (struct blob){0};
            rc = drain(d, 4096, &got);
            CHECK(rc == 0, "%s sample cut at %zu: rc %d",
                  compression_name(codecs[c]), cut, rc);
            CHECK(got.n < text.n && got.n > 0 &&
                      memcmp(got.p, text.p, got.n) == 0,
                  "%s sample gives a prefix (%zu bytes)",
                  compression_name(codecs[c]), got.n);
            free(got.p);
            instream_free(d);

            /* instream_decompress_sample: same */
            instream_memory(z.p, cut, &m);
            instream_decompress_sample(m, codecs[c], UINT64_MAX, &d);
            got = (struct blob){0};
            CHECK(drain(d, 4096, &got) == 0, "decompress_sample");
            free(got.p);
            instream_free(d);
        }

        /* Corrupt bytes in the middle: -EBADMSG even in sample mode. */
        struct blob bad = {0};
        blob_add(&bad, z.p, z.n);
        for (size_t i = bad.n / 3; i < bad.n / 3 + 64; i++)
            bad.p[i] ^= 0x5a;
        struct instream *m, *d;
        instream_memory(bad.p, bad.n, &m);
        instream_decompress_sample(m, codecs[c], UINT64_MAX, &d);
        struct blob got = {0};
        int rc = drain(d, 4096, &got);
        CHECK(rc == -EBADMSG, "%s corrupt: rc %d", compression_name(codecs[c]),
              rc);
        free(got.p);
        instream_free(d);
        free(bad.p);
        free(z.p);
    }
    free(text.p);

    /* Not gzip at all, given as gzip. */
    struct instream *m, *d;
    instream_memory("plain text, not gzip", 20, &m);
    instream_decompress(m, COMP_GZIP, UINT64_MAX, &d);
    char b[64];
    CHECK(d->read(d, b, sizeof(b)) == -EBADMSG, "not gzip");
    instream_free(d);

    /* Empty input decompresses to nothing. */
    for (size_t c = 0; c < 3; c++) {
        instream_memory("", 0, &m);
        instream_decompress(m, codecs[c], UINT64_MAX, &d);
        CHECK(d->read(d, b, sizeof(b)) == 0, "empty %s",
              compression_name(codecs[c]));
        instream_free(d);
    }
}

static void test_max_out(void)
{
    const char *text = "0123456789abcdefghij"; /* 20 bytes */
    static const struct {
        uint64_t max;
        int want_rc;
        size_t want_n;
    } t[] = {
        {20, 0, 20}, {100, 0, 20}, {19, -EFBIG, 19}, {0, -EFBIG, 0},
        {1, -EFBIG, 1},
    };
    for (size_t c = 0; c < 3; c++) {
        struct blob z = compress_with(codecs[c], text, 20);
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            struct instream *m, *d;
            instream_memory(z.p, z.n, &m);
            instream_decompress(m, codecs[c], t[i].max, &d);
            struct blob got = {0};
            int rc = drain(d, 3, &got);
            CHECK(rc == t[i].want_rc && got.n == t[i].want_n,
                  "%s max_out %llu: rc %d, %zu bytes",
                  compression_name(codecs[c]),
                  (unsigned long long)t[i].max, rc, got.n);
            free(got.p);
            instream_free(d);
        }
        free(z.p);
    }
}

static void test_auto_plain(void)
{
    static const char *t[] = {"", "a", "ab", "abc", "abcd", "abcde",
                              "id,name\n1,x\n"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct instream *m, *d;
        instream_memory(t[i], strlen(t[i]), &m);
        enum compression det = COMP_GZIP;
        CHECK(instream_auto(m, UINT64_MAX, &det, &d) == 0, "auto plain");
        CHECK(det == COMP_NONE, "plain detected as none");
        struct blob got = {0};
        CHECK(drain(d, 1, &got) == 0 && same(&got, t[i], strlen(t[i])),
              "plain '%s' comes back whole", t[i]);
        free(got.p);
        instream_free(d);
    }
    /* COMP_NONE returns the stream itself. */
    struct instream *m, *d;
    instream_memory("x", 1, &m);
    CHECK(instream_decompress(m, COMP_NONE, 0, &d) == 0 && d == m,
          "none is identity");
    instream_free(d);
}

static void test_object(void)
{
    struct blob text = make_text(10000);
    static const struct {
        uint64_t listed; /* size from the listing */
        uint64_t limit;
        size_t chunk;
        size_t step;       /* read size */
        size_t want_bytes; /* bytes served */
        int ngets;
        uint64_t off[4], len[4];
    } t[] = {
        {10000, UINT64_MAX, 4096, 100, 10000, 3,
         {0, 4096, 8192}, {4096, 4096, 1808}},
        {10000, 5000, 4096, 4096, 5000, 2, {0, 4096}, {4096, 904}},
        {10000, 4096, 4096, 1, 4096, 1, {0}, {4096}},
        {10000, UINT64_MAX, 0, 65536, 10000, 1, {0}, {10000}},
        {10000, 0, 4096, 100, 0, 0, {0}, {0}},
        {0, UINT64_MAX, 4096, 100, 0, 0, {0}, {0}},
        {10000, UINT64_MAX, 10000, 3333, 10000, 1, {0}, {10000}},
        /* listed bigger than the object: ends early, no error */
        {12000, UINT64_MAX, 4096, 100, 10000, 3,
         {0, 4096, 8192}, {4096, 4096, 3808}},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct fake_store f;
        fake_init(&f, text.p, text.n);
        struct instream *s;
        CHECK(instream_object(&f.base, "b", "k", t[i].listed, t[i].limit,
                              t[i].chunk, &s) == 0,
              "object %zu", i);
        struct blob got = {0};
        int rc = drain(s, t[i].step, &got);
        CHECK(rc == 0, "case %zu: rc %d", i, rc);
        CHECK(same(&got, text.p, t[i].want_bytes),
              "case %zu: %zu bytes, want %zu", i, got.n, t[i].want_bytes);
        CHECK(s->raw_bytes == t[i].want_bytes, "case %zu: raw_bytes %llu", i,
              (unsigned long long)s->raw_bytes);
        CHECK(f.ngets == t[i].ngets, "case %zu: %d GETs, want %d", i,
              f.ngets, t[i].ngets);
        for (int g = 0; g < f.ngets && g < t[i].ngets && g < 4; g++)
            CHECK(f.off[g] == t[i].off[g] && f.len[g] == t[i].len[g],
                  "case %zu GET %d: [%llu,+%llu) want [%llu,+%llu)", i, g,
                  (unsigned long long)f.off[g], (unsigned long long)f.len[g],
                  (unsigned long long)t[i].off[g],
                  (unsigned long long)t[i].len[g]);
        free(got.p);
        instream_free(s);
        pthread_mutex_destroy(&f.mu);
    }

    /* A store error in the second GET: the bytes before it, then -EIO,
     * sticky. */
    struct fake_store f;
    fake_init(&f, text.p, text.n);
    f.fail_get = 2;
    struct instream *s;
    instream_object(&f.base, "b", "k", text.n, UINT64_MAX, 4096, &s);
    struct blob got = {0};
    int rc = drain(s, 1000, &got);
    CHECK(rc == -EIO && got.n == 4096, "store error: rc %d after %zu", rc,
          got.n);
    char b[16];
    CHECK(s->read(s, b, sizeof(b)) == -EIO, "store error sticky");
    free(got.p);
    instream_free(s);
    pthread_mutex_destroy(&f.mu);

    /* Missing object. */
    fake_init(&f, text.p, text.n);
    instream_object(&f.base, "b", "nope", text.n, UINT64_MAX, 4096, &s);
    CHECK(s->read(s, b, sizeof(b)) == -ENOENT, "missing object");
    instream_free(s);
    pthread_mutex_destroy(&f.mu);

    /* Freed after one read, with a fetch in flight: no leak, no hang. */
    fake_init(&f, text.p, text.n);
    instream_object(&f.base, "b", "k", text.n, UINT64_MAX, 1024, &s);
    CHECK(s->read(s, b, sizeof(b)) == (ssize_t)sizeof(b), "one read");
    instream_free(s);
    pthread_mutex_destroy(&f.mu);

    free(text.p);
}

/* The crawler's path: a 1 MiB-style sample of a compressed object,
 * decompressed in sample mode, ends quietly where the limit cut it. */
static void test_object_sample(void)
{
    struct blob text = make_text(2000000);
    for (size_t c = 0; c < 3; c++) {
        struct blob z = compress_with(codecs[c], text.p, text.n);
        struct fake_store f;
        fake_init(&f, z.p, z.n);
        uint64_t limit = z.n / 2;
        struct instream *o, *d;
        instream_object(&f.base, "b", "k", z.n, limit, 8192, &o);
        enum compression det;
        CHECK(instream_auto_sample(o, UINT64_MAX, &det, &d) == 0,
              "sample auto");
        CHECK(det == codecs[c], "sample detect %s", compression_name(det));
        struct blob got = {0};
        int rc = drain(d, 65536, &got);
        CHECK(rc == 0, "%s sample rc %d", compression_name(codecs[c]), rc);
        CHECK(got.n > 0 && got.n < text.n && memcmp(got.p, text.p, got.n) == 0,
              "%s sample prefix %zu", compression_name(codecs[c]), got.n);
        CHECK(d->raw_bytes == limit, "%s sample raw_bytes %llu want %llu",
              compression_name(codecs[c]), (unsigned long long)d->raw_bytes,
              (unsigned long long)limit);
        free(got.p);
        instream_free(d);

        /* instream_auto (not _sample) over an object cut by its LIMIT
         * ends quietly too: the limit is not corruption. */
        instream_object(&f.base, "b", "k", z.n, limit, 8192, &o);
        CHECK(instream_auto(o, UINT64_MAX, NULL, &d) == 0, "auto on limit");
        got = (struct blob){0};
        rc = drain(d, 65536, &got);
        CHECK(rc == 0 && got.n > 0 && memcmp(got.p, text.p, got.n) == 0,
              "%s auto over a limited object: rc %d",
              compression_name(codecs[c]), rc);
        free(got.p);
        instream_free(d);

        /* ... but an object whose listed size is its real size, cut in
         * the store (a truncated upload), is still -EBADMSG. */
        f.size = z.n / 2;
        instream_object(&f.base, "b", "k", z.n / 2, UINT64_MAX, 8192, &o);
        instream_auto(o, UINT64_MAX, NULL, &d);
        got = (struct blob){0};
        rc = drain(d, 65536, &got);
        CHECK(rc == -EBADMSG, "%s truncated object: rc %d",
              compression_name(codecs[c]), rc);
        free(got.p);
        instream_free(d);
        f.size = z.n;

        /* The whole object through instream_auto: exact bytes. */
        instream_object(&f.base, "b", "k", z.n, UINT64_MAX, 8192, &o);
        instream_auto(o, UINT64_MAX, NULL, &d);
        got = (struct blob){0};
        CHECK(drain(d, 65536, &got) == 0 && same(&got, text.p, text.n),
              "%s whole object", compression_name(codecs[c]));
        free(got.p);
        instream_free(d);
        pthread_mutex_destroy(&f.mu);
        free(z.p);
    }
    free(text.p);
}

int main(void)
{
    test_detect();
    test_memory();
    test_round_trips();
    test_concatenated();
    test_truncated_and_corrupt();
    test_max_out();
    test_auto_plain();
    test_object();
    test_object_sample();
    return check_done();
}
