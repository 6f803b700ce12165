/* instream.c - see instream.h.
 *
 * Three kinds of source share struct instream: a memory block, an object
 * read with ranged GETs (one chunk fetched ahead by a helper thread), and
 * decompressors (zlib, libbz2, libzstd) stacked on another stream.  Every
 * stream keeps a sticky error: once a read fails, later reads return the
 * same error. */
#include "instream.h"

#include <bzlib.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "log.h"
#include "store.h"

#define INSTREAM_CHUNK_DEFAULT (8u << 20) /* bytes per ranged GET */
#define DECOMP_INBUF (128u << 10)         /* compressed bytes per read */

const char *compression_name(enum compression c)
{
    switch (c) {
    case COMP_GZIP:
        return "gzip";
    case COMP_BZIP2:
        return "bzip2";
    case COMP_ZSTD:
        return "zstd";
    case COMP_NONE:
    default:
        return "none";
    }
}

enum compression compression_detect(const void *magic, size_t n)
{
    const unsigned char *m = magic;
    if (!m)
        return COMP_NONE;
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return COMP_GZIP;
    /* "BZh" then the block size '1'..'9' (when we have the 4th byte). */
    if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h' &&
        (n < 4 || (m[3] >= '1' && m[3] <= '9')))
        return COMP_BZIP2;
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
        m[3] == 0xfd)
        return COMP_ZSTD;
    /* A zstd skippable frame (RFC 8878 3.1.2): 0x184D2A5? little-endian. */
    if (n >= 4 && (m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d &&
        m[3] == 0x18)
        return COMP_ZSTD;
    return COMP_NONE;
}

ssize_t instream_read_full(struct instream *in, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = in->read(in, (char *)buf + got, n - got);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

void instream_free(struct instream *in)
{
    if (in)
        in->free(in);
}

/* ---- memory ----------------------------------------------------------- */

struct mstream {
    struct instream base;
    const unsigned char *data;
    size_t n, pos;
};

static ssize_t mstream_read(struct instream *in, void *buf, size_t n)
{
    struct mstream *m = (struct mstream *)in;
    size_t left = m->n - m->pos;
    if (n > left)
        n = left;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    if (n)
        memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    in->raw_bytes = m->pos;
    return (ssize_t)n;
}

static void mstream_free(struct instream *in)
{
    free(in);
}

int instream_memory(const void *data, size_t n, struct instream **out)
{
    *out = NULL;
    if (!data && n)
        return -EINVAL;
    struct mstream *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->base.read = mstream_read;
    m->base.free = mstream_free;
    m->data = data;
    m->n = n;
    *out = &m->base;
    return 0;
}

/* ---- object: ranged GETs, one chunk ahead ----------------------------- */

struct ostream;

/* One ranged GET, run by the helper thread. */
struct ofetch {
    struct ostream *o;
    pthread_t th;
    bool running;     /* a thread is working on it (join before use) */
    unsigned char *data;
    size_t cap;       /* bytes allocated at data */
    size_t len;       /* bytes received */
    size_t want;      /* bytes asked for */
    uint64_t off;     /* object offset of data[0] */
    int rc;
};

struct ostream {
    struct instream base;
    struct store *s;
    char *bucket, *key;
    uint64_t end;      /* min(size, limit): bytes the stream will serve */
    uint64_t next_off; /* first byte not yet asked for */
    size_t chunk;
    unsigned char *cur; /* the chunk being consumed */
    size_t cur_cap, cur_len, cur_pos;
    struct ofetch ft;  /* the chunk being fetched (or fetched) */
    bool pending;      /* ft holds a chunk not yet taken */
    atomic_bool stop;  /* set by free: abort the GET in flight */
    bool limited;      /* LIMIT cut the object short */
    int err;
    bool eof;
};

static int ofetch_cb(void *ctx, const void *data, size_t len)
{
    struct ofetch *f = ctx;
    if (atomic_load_explicit(&f->o->stop, memory_order_relaxed))
        return -ECANCELED;
    if (len > f->want - f->len) {
        log_info("cannot read 's3://%s/%s': the store sent more than the "
                 "%zu bytes asked for at offset %" PRIu64,
                 f->o->bucket, f->o->key, f->want, f->off);
        return -EIO;
    }
    memcpy(f->data + f->len, data, len);
    f->len += len;
    return 0;
}

static void *ofetch_run(void *arg)
{
    struct ofetch *f = arg;
    struct ostream *o = f->o;
    f->rc = o->s->ops->get(o->s, o->bucket, o->key, f->off, f->want,
                           ofetch_cb, f);
    return NULL;
}

/* Ask for the next chunk, in the helper thread when one can be started. */
static int ostream_start(struct ostream *o)
{
    struct ofetch *f = &o->ft;
    uint64_t left = o->end - o->next_off;
    size_t want = left < o->chunk ? (size_t)left : o->chunk;
    if (f->cap < want) {
        unsigned char *p = realloc(f->data, want);
        if (!p)
            return -ENOMEM;
        f->data = p;
        f->cap = want;
    }
    f->o = o;
    f->off = o->next_off;
    f->want = want;
    f->len = 0;
    f->rc = 0;
    o->next_off += want;
    o->pending = true;
    if (pthread_create(&f->th, NULL, ofetch_run, f) == 0) {
        f->running = true;
    } else {
        ofetch_run(f); /* no thread: fetch here, without overlap */
        f->running = false;
    }
    return 0;
}

/* Wait for the fetch in flight and make it the current chunk. */
static int ostream_take(struct ostream *o)
{
    struct ofetch *f = &o->ft;
    if (f->running) {
        pthread_join(f->th, NULL);
        f->running = false;
    }
    o->pending = false;
    if (f->rc < 0) {
        log_info("cannot read 's3://%s/%s' at offset %" PRIu64 ": %s",
                 o->bucket, o->key, f->off, strerror(-f->rc));
        return f->rc;
    }
    /* Swap buffers: the fetched chunk becomes current, the old current
     * buffer takes the next fetch. */
    unsigned char *p = o->cur;
    size_t cap = o->cur_cap;
    o->cur = f->data;
    o->cur_cap = f->cap;
    o->cur_len = f->len;
    o->cur_pos = 0;
    f->data = p;
    f->cap = cap;
    o->base.raw_bytes += f->len;
    if (f->len < f->want) /* the object is shorter than listed */
        o->end = o->next_off = f->off + f->len;
    return 0;
}

static ssize_t ostream_read(struct instream *in, void *buf, size_t n)
{
    struct ostream *o = (struct ostream *)in;
    while (o->cur_pos == o->cur_len) {
        if (o->err)
            return o->err;
        if (o->eof)
            return 0;
        if (!o->pending) { /* nothing in flight, nothing left to ask for */
            o->eof = true;
            return 0;
        }
        int rc = ostream_take(o);
        if (rc == 0 && o->next_off < o->end)
            rc = ostream_start(o); /* the chunk after this one */
        if (rc < 0) {
            o->err = rc;
            return rc;
        }
    }
    size_t left = o->cur_len - o->cur_pos;
    if (n > left)
        n = left;
    memcpy(buf, o->cur + o->cur_pos, n);
    o->cur_pos += n;
    return (ssize_t)n;
}

static void ostream_free(struct instream *in)
{
    struct ostream *o = (struct ostream *)in;
    atomic_store(&o->stop, true);
    if (o->ft.running)
        pthread_join(o->ft.th, NULL);
    free(o->ft.data);
    free(o->cur);
    free(o->bucket);
    free(o->key);
    free(o);
}

int instream_object(struct store *s, const char *bucket, const char *key,
                    uint64_t size, uint64_t limit, size_t chunk,
                    struct instream **out)
{
    *out = NULL;
    if (!s || !bucket || !key)
        return -EINVAL;
    struct ostream *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->base.read = ostream_read;
    o->base.free = ostream_free;
    o->s = s;
    o->chunk = chunk ? chunk : INSTREAM_CHUNK_DEFAULT;
    o->end = size < limit ? size : limit;
    o->limited = limit < size;
    atomic_init(&o->stop, false);
    o->bucket = strdup(bucket);
    o->key = strdup(key);
    int rc = -ENOMEM;
    if (!o->bucket || !o->key)
        goto fail;
    if (o->end > 0) {
        /* Start the first GET now so that it overlaps the caller's setup. */
        rc = ostream_start(o);
        if (rc < 0)
            goto fail;
    } else {
        o->eof = true;
    }
    *out = &o->base;
    return 0;
fail:
    ostream_free(&o->base);
    return rc;
}

/* ---- peeked bytes put back in front of a stream ----------------------- */

struct pstream {
    struct instream base;
    struct instream *inner;
    unsigned char peek[8];
    size_t plen, ppos;
};

static ssize_t pstream_read(struct instream *in, void *buf, size_t n)
{
    struct pstream *p = (struct pstream *)in;
    if (p->ppos < p->plen) {
        size_t k = p->plen - p->ppos;
        if (k > n)
            k = n;
        memcpy(buf, p->peek + p->ppos, k);
        p->ppos += k;
        return (ssize_t)k;
    }
    ssize_t r = p->inner->read(p->inner, buf, n);
    in->raw_bytes = p->inner->raw_bytes;
    return r;
}

static void pstream_free(struct instream *in)
{
    struct pstream *p = (struct pstream *)in;
    instream_free(p->inner);
    free(p);
}

/* Is the bottom source of IN an object stream that its LIMIT cut short?
 * Then compressed data ending mid-stream is the limit, not corruption. */
static bool instream_cut_by_limit(struct instream *in)
{
    while (in) {
        if (in->read == ostream_read)
            return ((struct ostream *)in)->limited;
        if (in->read != pstream_read)
            return false;
        in = ((struct pstream *)in)->inner;
    }
    return false;
}

/* "CODEC 's3://BUCKET/KEY'" when IN reads an object, else "CODEC data". */
static void instream_name(struct instream *in, const char *codec, char *out,
                          size_t n)
{
    while (in && in->read == pstream_read)
        in = ((struct pstream *)in)->inner;
    if (in && in->read == ostream_read) {
        const struct ostream *o = (const struct ostream *)in;
        snprintf(out, n, "%s 's3://%s/%s'", codec, o->bucket, o->key);
    } else {
        snprintf(out, n, "%s data", codec);
    }
}

/* ---- decompressors ---------------------------------------------------- */

struct dstream {
    struct instream base;
    struct instream *inner;
    enum compression c;
    bool partial_ok;    /* input ending mid-stream is an end, not an error */
    uint64_t max_out, total_out;
    unsigned char *ibuf;
    size_t ilen, ipos;  /* valid compressed bytes in ibuf, next to use */
    uint64_t in_total;  /* compressed bytes taken from inner */
    bool in_eof;
    bool between;       /* at a member/stream boundary (or at the start) */
    bool any;           /* a member was started */
    bool live;          /* the codec state is initialised */
    bool done;
    int err;
    char name[320]; /* for messages: "gzip 's3://b/k'" or "gzip data" */
    union {
        z_stream z;
        bz_stream bz;
        ZSTD_DStream *zs;
    } u;
};

/* Refill the input buffer once it is used up. */
static int dstream_fill(struct dstream *d)
{
    if (d->ipos < d->ilen || d->in_eof)
        return 0;
    ssize_t r = d->inner->read(d->inner, d->ibuf, DECOMP_INBUF);
    d->base.raw_bytes = d->inner->raw_bytes;
    if (r < 0)
        return (int)r;
    d->ipos = 0;
    d->ilen = (size_t)r;
    d->in_total += (uint64_t)r;
    if (r == 0)
        d->in_eof = true;
    return 0;
}

/* The input ended inside a compressed stream. */
static ssize_t dstream_truncated(struct dstream *d)
{
    if (d->partial_ok || instream_cut_by_limit(d->inner)) {
        log_debug("%s: the sample ends inside the compressed stream after "
                  "%" PRIu64 " bytes; stopping there",
                  d->name, d->in_total);
        return 0;
    }
    log_warn("%s: compressed data is truncated: the input ends after %" PRIu64
             " bytes, inside a stream",
             d->name, d->in_total);
    return -EBADMSG;
}

/* At a boundary: decide whether another member follows.  Returns 1 (start
 * one), 0 (the end) or -errno. */
static int dstream_next_member(struct dstream *d, unsigned char first)
{
    int rc = dstream_fill(d);
    if (rc < 0)
        return rc;
    if (d->ipos == d->ilen)
        return 0;
    if (d->any && d->ibuf[d->ipos] != first) {
        log_debug("%s: ignoring trailing bytes after the last compressed "
                  "stream",
                  d->name);
        return 0;
    }
    return 1;
}

static ssize_t gzip_read(struct dstream *d, void *out, size_t n)
{
    if (n > UINT_MAX)
        n = UINT_MAX;
    for (;;) {
        if (d->between) {
            int rc = dstream_next_member(d, 0x1f);
            if (rc <= 0)
                return rc;
            int zr = d->live ? inflateReset(&d->u.z)
                             : inflateInit2(&d->u.z, 15 + 32);
            if (zr != Z_OK)
                return zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
            d->live = true;
            d->any = true;
            d->between = false;
        }
        int rc = dstream_fill(d);
        if (rc < 0)
            return rc;
        if (d->ipos == d->ilen)
            return dstream_truncated(d);
        d->u.z.next_in = d->ibuf + d->ipos;
        d->u.z.avail_in = (uInt)(d->ilen - d->ipos);
        d->u.z.next_out = out;
        d->u.z.avail_out = (uInt)n;
        int zr = inflate(&d->u.z, Z_NO_FLUSH);
        size_t used = (d->ilen - d->ipos) - d->u.z.avail_in;
        size_t made = n - d->u.z.avail_out;
        d->ipos += used;
        if (zr == Z_STREAM_END) {
            d->between = true;
        } else if (zr == Z_MEM_ERROR) {
            return -ENOMEM;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            log_warn("%s: corrupt compressed data near input byte %" PRIu64
                     ": %s",
                     d->name, d->in_total - (d->ilen - d->ipos),
                     d->u.z.msg ? d->u.z.msg : "inflate failed");
            return -EBADMSG;
        } else if (!used && !made) {
            log_warn("%s: compressed data makes no progress", d->name);
            return -EBADMSG;
        }
        if (made)
            return (ssize_t)made;
    }
}

static ssize_t bzip2_read(struct dstream *d, void *out, size_t n)
{
    if (n > UINT_MAX)
        n = UINT_MAX;
    for (;;) {
        if (d->between) {
            int rc = dstream_next_member(d, 'B');
            if (rc <= 0)
                return rc;
            if (d->live)
                BZ2_bzDecompressEnd(&d->u.bz);
            d->live = false;
            memset(&d->u.bz, 0, sizeof(d->u.bz));
            int br = BZ2_bzDecompressInit(&d->u.bz, 0, 0);
            if (br != BZ_OK)
                return br == BZ_MEM_ERROR ? -ENOMEM : -EINVAL;
            d->live = true;
            d->any = true;
            d->between = false;
        }
        int rc = dstream_fill(d);
        if (rc < 0)
            return rc;
        if (d->ipos == d->ilen)
            return dstream_truncated(d);
        d->u.bz.next_in = (char *)d->ibuf + d->ipos;
        d->u.bz.avail_in = (unsigned)(d->ilen - d->ipos);
        d->u.bz.next_out = out;
        d->u.bz.avail_out = (unsigned)n;
        int br = BZ2_bzDecompress(&d->u.bz);
        size_t used = (d->ilen - d->ipos) - d->u.bz.avail_in;
        size_t made = n - d->u.bz.avail_out;
        d->ipos += used;
        if (br == BZ_STREAM_END) {
            d->between = true;
        } else if (br == BZ_MEM_ERROR) {
            return -ENOMEM;
        } else if (br != BZ_OK) {
            log_warn("%s: corrupt compressed data near input byte %" PRIu64
                     " (libbz2 error %d)",
                     d->name, d->in_total - (d->ilen - d->ipos), br);
            return -EBADMSG;
        } else if (!used && !made) {
            log_warn("%s: compressed data makes no progress", d->name);
            return -EBADMSG;
        }
        if (made)
            return (ssize_t)made;
    }
}

static ssize_t zstd_read(struct dstream *d, void *out, size_t n)
{
    for (;;) {
        int rc = dstream_fill(d);
        if (rc < 0)
            return rc;
        ZSTD_inBuffer ib = {d->ibuf + d->ipos, d->ilen - d->ipos, 0};
        ZSTD_outBuffer ob = {out, n, 0};
        if (ib.size == 0 && d->between)
            return 0; /* clean end after a whole frame (or no input) */
        size_t zr = ZSTD_decompressStream(d->u.zs, &ob, &ib);
        d->ipos += ib.pos;
        if (ZSTD_isError(zr)) {
            log_warn("%s: corrupt compressed data near input byte %" PRIu64
                     ": %s",
                     d->name, d->in_total - (d->ilen - d->ipos),
                     ZSTD_getErrorName(zr));
            return -EBADMSG;
        }
        /* 0: a frame is complete and flushed; between frames. */
        d->between = zr == 0;
        if (ob.pos)
            return (ssize_t)ob.pos;
        if (d->ipos == d->ilen && d->in_eof)
            return d->between ? 0 : dstream_truncated(d);
        if (!ib.pos && ib.size) {
            log_warn("%s: compressed data makes no progress", d->name);
            return -EBADMSG;
        }
    }
}

static ssize_t dstream_codec(struct dstream *d, void *out, size_t n)
{
    switch (d->c) {
    case COMP_GZIP:
        return gzip_read(d, out, n);
    case COMP_BZIP2:
        return bzip2_read(d, out, n);
    case COMP_ZSTD:
        return zstd_read(d, out, n);
    case COMP_NONE:
    default:
        return -EINVAL;
    }
}

static ssize_t dstream_read(struct instream *in, void *buf, size_t n)
{
    struct dstream *d = (struct dstream *)in;
    if (d->err)
        return d->err;
    if (d->done || n == 0)
        return 0;
    if (n > SSIZE_MAX)
        n = SSIZE_MAX;
    ssize_t r;
    uint64_t room = d->max_out - d->total_out;
    if (room == 0) {
        /* At the cap: fine if the stream ends exactly here. */
        unsigned char probe;
        r = dstream_codec(d, &probe, 1);
        if (r > 0) {
            log_warn("%s: decompressed data is larger than the %" PRIu64
                     "-byte cap",
                     d->name, d->max_out);
            r = -EFBIG;
        }
    } else {
        r = dstream_codec(d, buf, room < n ? (size_t)room : n);
        if (r > 0)
            d->total_out += (uint64_t)r;
    }
    if (r < 0)
        d->err = (int)r;
    else if (r == 0)
        d->done = true;
    return r;
}

static void dstream_free(struct instream *in)
{
    struct dstream *d = (struct dstream *)in;
    if (d->live) {
        if (d->c == COMP_GZIP)
            inflateEnd(&d->u.z);
        else if (d->c == COMP_BZIP2)
            BZ2_bzDecompressEnd(&d->u.bz);
    }
    if (d->c == COMP_ZSTD)
        ZSTD_freeDStream(d->u.zs);
    instream_free(d->inner);
    free(d->ibuf);
    free(d);
}

static int decompress_new(struct instream *in, enum compression c,
                          uint64_t max_out, bool partial_ok,
                          struct instream **out)
{
    *out = NULL;
    if (!in)
        return -EINVAL;
    if (c == COMP_NONE) {
        *out = in;
        return 0;
    }
    if (c != COMP_GZIP && c != COMP_BZIP2 && c != COMP_ZSTD) {
        instream_free(in);
        return -EINVAL;
    }
    struct dstream *d = calloc(1, sizeof(*d));
    if (!d) {
        instream_free(in);
        return -ENOMEM;
    }
    d->base.read = dstream_read;
    d->base.free = dstream_free;
    d->inner = in;
    d->c = c;
    d->max_out = max_out;
    d->partial_ok = partial_ok;
    d->between = true;
    d->base.raw_bytes = in->raw_bytes;
    instream_name(in, compression_name(c), d->name, sizeof(d->name));
    d->ibuf = malloc(DECOMP_INBUF);
    if (!d->ibuf)
        goto oom;
    if (c == COMP_ZSTD) {
        d->u.zs = ZSTD_createDStream();
        if (!d->u.zs)
            goto oom;
        ZSTD_initDStream(d->u.zs);
    }
    *out = &d->base;
    return 0;
oom:
    dstream_free(&d->base);
    return -ENOMEM;
}

int instream_decompress(struct instream *in, enum compression c,
                        uint64_t max_out, struct instream **out)
{
    return decompress_new(in, c, max_out, false, out);
}

int instream_decompress_sample(struct instream *in, enum compression c,
                               uint64_t max_out, struct instream **out)
{
    return decompress_new(in, c, max_out, true, out);
}

static int auto_new(struct instream *in, uint64_t max_out, bool partial_ok,
                    enum compression *detected, struct instream **out)
{
    *out = NULL;
    if (detected)
        *detected = COMP_NONE;
    if (!in)
        return -EINVAL;
    struct pstream *p = calloc(1, sizeof(*p));
    if (!p) {
        instream_free(in);
        return -ENOMEM;
    }
    p->base.read = pstream_read;
    p->base.free = pstream_free;
    p->inner = in;
    ssize_t r = instream_read_full(in, p->peek, 4);
    p->base.raw_bytes = in->raw_bytes;
    if (r < 0) {
        pstream_free(&p->base);
        return (int)r;
    }
    p->plen = (size_t)r;
    enum compression c = compression_detect(p->peek, p->plen);
    if (detected)
        *detected = c;
    return decompress_new(&p->base, c, max_out, partial_ok, out);
}

int instream_auto(struct instream *in, uint64_t max_out,
                  enum compression *detected, struct instream **out)
{
    return auto_new(in, max_out, false, detected, out);
}

int instream_auto_sample(struct instream *in, uint64_t max_out,
                         enum compression *detected, struct instream **out)
{
    return auto_new(in, max_out, true, detected, out);
}
