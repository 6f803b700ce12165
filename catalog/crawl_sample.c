/* crawl_sample.c - classify a run's objects from samples or Parquet
 * footers, on a few worker threads (see crawl_run.h). */
#include "crawl_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "instream.h"
#include "parquet_meta.h"
#include "stats.h"

struct get_buf {
    unsigned char *p;
    size_t n, cap;
};

static int get_buf_cb(void *ctx, const void *data, size_t len)
{
    struct get_buf *g = ctx;
    if (len > g->cap - g->n)
        return -E2BIG;
    memcpy(g->p + g->n, data, len);
    g->n += len;
    return 0;
}

/* Parse FileMetaData into O (parquet_meta.h); a damaged footer or schema
 * sets O's reason and returns 0. */
static int parquet_parse(const unsigned char *p, size_t len, struct cobj *o)
{
    struct parquet_meta m;
    const char *why = NULL;
    int rc = parquet_meta_parse(p, len, &m, &why);
    if (rc == -EBADMSG && why) {
        o->reason = strdup(why);
        return o->reason ? 0 : -ENOMEM;
    }
    if (rc)
        return rc;
    columns_free(o->cols, o->ncols);
    o->cols = m.cols;
    o->ncols = m.ncols;
    m.cols = NULL;
    m.ncols = 0;
    snprintf(o->fmt.classification, sizeof o->fmt.classification, "parquet");
    snprintf(o->fmt.compression, sizeof o->fmt.compression, "none");
    o->records = m.rows > 0 ? (uint64_t)m.rows : 0;
    if (o->records)
        o->avg_size = (double)o->size / (double)o->records;
    return 0;
}

/* Classify a Parquet object from its footer: columns and exact row count.
 * Adds the bytes fetched to *DOWNLOADED. */
static int parquet_classify(struct run *r, const char *bucket, struct cobj *o,
                            uint64_t *downloaded)
{
    unsigned char tail[8];
    struct get_buf g = {tail, 0, sizeof tail};
    struct store *s = r->store;
    if (o->size < 12) {
        o->reason = strdup("parquet: object too small");
        return o->reason ? 0 : -ENOMEM;
    }
    int rc = s->ops->get(s, bucket, o->key, o->size - 8, 8, get_buf_cb, &g);
    *downloaded += g.n;
    if (rc)
        return rc;
    if (g.n != 8 || memcmp(tail + 4, "PAR1", 4)) {
        o->reason = strdup("parquet: no footer magic");
        return o->reason ? 0 : -ENOMEM;
    }
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
                    (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if (!flen || flen > o->size - 12 || flen > PARQUET_FOOTER_MAX) {
        o->reason = strdup("parquet: bad footer length");
        return o->reason ? 0 : -ENOMEM;
    }
    g.p = malloc(flen);
    if (!g.p)
        return -ENOMEM;
    g.n = 0;
    g.cap = flen;
    rc = s->ops->get(s, bucket, o->key, o->size - 8 - flen, flen, get_buf_cb,
                     &g);
    *downloaded += g.n;
    if (!rc && g.n != flen)
        rc = -EIO;
    if (!rc)
        rc = parquet_parse(g.p, g.n, o);
    free(g.p);
    return rc;
}

/* One fetched sample: the first LIMIT raw bytes of an object, decompressed
 * (at most CRAWL_DECODED_MAX bytes). */
struct sample {
    char *data;           /* malloc'd, n bytes (+1 spare), or NULL */
    size_t n;
    enum compression comp;
    bool truncated;       /* the object continues past the sample */
    bool corrupt;         /* compressed data of a whole object is damaged */
    uint64_t downloaded;  /* raw bytes fetched */
};

/* Fetch the sample of O with a raw LIMIT into *S (zeroed first).  Returns
 * 0 (S->corrupt set for damaged compressed data) or -errno from the store
 * or -ENOMEM.  S->data is the caller's to free, also on error. */
static int fetch_sample(struct run *r, const char *bucket,
                        const struct cobj *o, uint64_t limit,
                        struct sample *s)
{
    struct instream *raw = NULL, *in = NULL;
    size_t cap = 0;
    bool whole = o->size <= limit;
    memset(s, 0, sizeof *s);
    int rc = instream_object(r->store, bucket, o->key, o->size, limit, 0,
                             &raw);
    if (rc)
        return rc;
    /* A sample cut inside a compressed stream ends quietly; a whole object
     * whose compressed data is cut or corrupt is an error (UNKNOWN). */
    rc = whole ? instream_auto(raw, CRAWL_DECODED_MAX, &s->comp, &in)
               : instream_auto_sample(raw, CRAWL_DECODED_MAX, &s->comp, &in);
    if (rc == -EBADMSG) {
        s->corrupt = true;
        return 0;
    }
    if (rc)
        return rc;
    for (;;) {
        if (s->n == cap) {
            if (cap >= CRAWL_DECODED_MAX) {
                s->truncated = true;
                break;
            }
            size_t nc = cap ? cap * 2 : 64u << 10;
            if (nc > CRAWL_DECODED_MAX)
                nc = CRAWL_DECODED_MAX;
            char *nd = realloc(s->data, nc + 1);
            if (!nd) {
                rc = -ENOMEM;
                break;
            }
            s->data = nd;
            cap = nc;
        }
        ssize_t got = in->read(in, s->data + s->n, cap - s->n);
        if (got == 0)
            break;
        if (got == -EFBIG || (got == -EBADMSG && !whole)) {
            s->truncated = true;
            break;
        }
        if (got == -EBADMSG) {
            s->corrupt = true;
            break;
        }
        if (got < 0) {
            rc = (int)got;
            break;
        }
        s->n += (size_t)got;
    }
    if (!whole)
        s->truncated = true;
    s->downloaded = in->raw_bytes;
    if (!rc && !s->corrupt && s->comp == COMP_NONE && s->downloaded < s->n)
        s->downloaded = s->n;
    instream_free(in);
    return rc;
}

/* Classify O from a sample (or its Parquet footer).  Sets O's result.
 * JSON as Glue samples it, up to 10 MB: when the sample ended inside its
 * first record (one large document, infer_result.partial) and a larger
 * sample is allowed, the object is read again with CRAWL_DECODED_MAX and
 * classified from that; other objects are fetched once. */
static void sample_one(struct run *r, struct cobj *o)
{
    const char *bucket = r->tables[o->table].bucket;
    struct sample s = {0};
    uint64_t downloaded = 0;
    int rc = 0;
    if (o->size) { /* empty: nothing to fetch */
        rc = fetch_sample(r, bucket, o, r->sample_limit, &s);
        downloaded += s.downloaded;
        if (rc)
            goto out;
        if (s.corrupt)
            goto corrupt;
    }
    if (s.comp == COMP_NONE && s.n >= 4 && !memcmp(s.data, "PAR1", 4)) {
        rc = parquet_classify(r, bucket, o, &downloaded);
        goto out;
    }
    struct infer_result res;
    rc = infer_sample(s.data ? s.data : "", s.n, s.truncated, &res);
    if (rc)
        goto out;
    if (res.partial && s.truncated && r->sample_limit < CRAWL_DECODED_MAX) {
        struct sample big;
        rc = fetch_sample(r, bucket, o, CRAWL_DECODED_MAX, &big);
        downloaded += big.downloaded;
        if (!rc && !big.corrupt && big.n > s.n) {
            struct infer_result res2;
            rc = infer_sample(big.data, big.n, big.truncated, &res2);
            if (!rc) {
                infer_result_release(&res);
                res = res2;
                free(s.data);
                s = big;
                big.data = NULL;
            }
        }
        free(big.data);
        if (rc) {
            infer_result_release(&res);
            goto out;
        }
    }
    uint64_t raw_consumed = s.downloaded ? s.downloaded : s.n;
    o->fmt = res.fmt;
    snprintf(o->fmt.compression, sizeof o->fmt.compression, "%s",
             compression_name(s.comp));
    if (!strcmp(res.fmt.classification, "UNKNOWN")) {
        o->reason = strdup(res.reason[0] ? res.reason : "unrecognised data");
        if (!o->reason)
            rc = -ENOMEM;
    } else {
        o->cols = res.cols;
        o->ncols = res.ncols;
        res.cols = NULL;
        res.ncols = 0;
        /* Records in the whole object: the sample's records scaled by the
         * object's (decompressed) size over the sample's. */
        o->records = res.records;
        if (res.records)
            o->avg_size = (double)res.sample_bytes / (double)res.records;
        if (s.truncated && res.records && res.sample_bytes && raw_consumed) {
            double total =
                (double)s.n * (double)o->size / (double)raw_consumed;
            double est = (double)res.records * total / (double)res.sample_bytes;
            if (est > (double)res.records)
                o->records = (uint64_t)(est + 0.5);
        }
    }
    infer_result_release(&res);
    goto out;
corrupt:
    snprintf(o->fmt.classification, sizeof o->fmt.classification, "UNKNOWN");
    snprintf(o->fmt.compression, sizeof o->fmt.compression, "%s",
             compression_name(s.comp));
    o->reason = malloc(160);
    if (o->reason)
        snprintf(o->reason, 160,
                 "corrupt or truncated %s data after %zu decompressed bytes",
                 s.comp == COMP_NONE ? "compressed"
                                     : compression_name(s.comp),
                 s.n);
    rc = o->reason ? 0 : -ENOMEM;
out:
    free(s.data);
    stats_add(STAT_crawler_objects_read, 1);
    stats_add(STAT_crawler_bytes_read, downloaded);
    pthread_mutex_lock(&crawl_lock);
    r->c->bytes_read += downloaded;
    pthread_mutex_unlock(&crawl_lock);
    o->sampled = true;
    if (rc) {
        o->err = rc;
        return;
    }
    o->have = true;
    o->store = true;
}

static void *sample_worker(void *arg)
{
    struct run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->pool_lock);
        size_t i = r->next++;
        pthread_mutex_unlock(&r->pool_lock);
        if (i >= r->ntodo || crawl_run_cancelled(r))
            break;
        sample_one(r, &r->objs[r->todo[i]]);
    }
    return NULL;
}

void crawl_sample_all(struct run *r)
{
    if (!r->ntodo)
        return;
    pthread_t th[CRAWL_WORKERS];
    size_t nth = r->ntodo < CRAWL_WORKERS ? r->ntodo : CRAWL_WORKERS, started = 0;
    for (size_t i = 1; i < nth; i++) {
        if (pthread_create(&th[i], NULL, sample_worker, r))
            break;
        started = i;
    }
    sample_worker(r);
    for (size_t i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
}
