/* test_csv.c - csv.h: the reader over a table of inputs (quoting with
 * embedded delimiters, quotes and newlines, CRLF, BOM, ragged rows, empty
 * vs quoted-empty fields, tab and \x01 delimiters, no quoting, caps,
 * unterminated quotes, truncated samples), each read both whole and one
 * byte per read; and the writer, including a write/read round trip. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "csv.h"
#include "instream.h"

/* An instream that hands out STEP bytes per read, then FAIL (0: end). */
struct drip {
    struct instream base;
    const char *p;
    size_t n, pos, step;
    int fail;
};

static ssize_t drip_read(struct instream *in, void *buf, size_t n)
{
    struct drip *d = (struct drip *)in;
    size_t k = d->n - d->pos;
    if (k == 0)
        return d->fail;
    if (k > d->step)
        k = d->step;
    if (k > n)
        k = n;
    memcpy(buf, d->p + d->pos, k);
    d->pos += k;
    return (ssize_t)k;
}

static void drip_free(struct instream *in)
{
    (void)in;
}

static void drip_init(struct drip *d, const char *p, size_t n, size_t step)
{
    memset(d, 0, sizeof(*d));
    d->base.read = drip_read;
    d->base.free = drip_free;
    d->p = p;
    d->n = n;
    d->step = step;
}

/* Render records as "LINE:f1|f2\n": ~ is an unquoted empty field (NULL),
 * {x} a quoted field, control characters as \n \r \t \1. */
static void render(struct buf *out, const struct csv_record *r)
{
    int rc = buf_printf(out, "%llu:", r->line);
    for (size_t i = 0; i < r->n && rc == 0; i++) {
        if (i)
            rc |= buf_putc(out, '|');
        if (!r->quoted[i] && r->len[i] == 0) {
            rc |= buf_putc(out, '~');
            continue;
        }
        if (r->quoted[i])
            rc |= buf_putc(out, '{');
        CHECK(strlen(r->field[i]) == r->len[i] || memchr(r->field[i], 0,
                                                         r->len[i]),
              "field %zu is NUL-terminated at len", i);
        CHECK(r->field[i][r->len[i]] == '\0', "NUL after field %zu", i);
        for (size_t k = 0; k < r->len[i]; k++) {
            char c = r->field[i][k];
            if (c == '\n')
                rc |= buf_puts(out, "\\n");
            else if (c == '\r')
                rc |= buf_puts(out, "\\r");
            else if (c == '\t')
                rc |= buf_puts(out, "\\t");
            else if (c == '\x01')
                rc |= buf_puts(out, "\\1");
            else
                rc |= buf_putc(out, c);
        }
        if (r->quoted[i])
            rc |= buf_putc(out, '}');
    }
    rc |= buf_putc(out, '\n');
    CHECK(rc == 0, "render");
}

struct csv_case {
    const char *name;
    const char *in;
    size_t in_len; /* 0: strlen(in) */
    char delim, quote;
    size_t max_field, max_fields;
    bool truncated;
    const char *want;    /* rendered records */
    int want_rc;         /* the last csv_reader_next() result */
    const char *want_err;
};

static const struct csv_case cases[] = {
    {"simple", "a,b,c\n1,2,3\n", 0, ',', '"', 0, 0, false,
     "1:a|b|c\n2:1|2|3\n", 0, NULL},
    {"no final newline", "a,b\n1,2", 0, ',', '"', 0, 0, false,
     "1:a|b\n2:1|2\n", 0, NULL},
    {"crlf", "a,b\r\n1,2\r\n", 0, ',', '"', 0, 0, false, "1:a|b\n2:1|2\n", 0,
     NULL},
    {"lone cr", "a\rb\r", 0, ',', '"', 0, 0, false, "1:a\n2:b\n", 0, NULL},
    {"bom", "\xef\xbb\xbfid,n\n1,x\n", 0, ',', '"', 0, 0, false,
     "1:id|n\n2:1|x\n", 0, NULL},
    {"bom only", "\xef\xbb\xbf", 0, ',', '"', 0, 0, false, "", 0, NULL},
    {"bom not at start", "a\n\xef\xbb\xbf" "b\n", 0, ',', '"', 0, 0, false,
     "1:a\n2:\xef\xbb\xbf" "b\n", 0, NULL},
    {"quoting", "\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\"\nnext,1,2\n", 0,
     ',', '"', 0, 0, false,
     "1:{a,b}|{say \"hi\"}|{line1\\nline2}\n3:next|1|2\n", 0, NULL},
    {"crlf inside quotes kept", "\"x\r\ny\",z\r\nw\r\n", 0, ',', '"', 0, 0,
     false, "1:{x\\r\\ny}|z\n3:w\n", 0, NULL},
    {"empty vs quoted empty", "a,,\"\",\n", 0, ',', '"', 0, 0, false,
     "1:a|~|{}|~\n", 0, NULL},
    {"only quoted empty", "\"\"", 0, ',', '"', 0, 0, false, "1:{}\n", 0, NULL},
    {"lone delimiter", ",\n", 0, ',', '"', 0, 0, false, "1:~|~\n", 0, NULL},
    {"ragged", "a,b,c\n1\n1,2,3,4\n", 0, ',', '"', 0, 0, false,
     "1:a|b|c\n2:1\n3:1|2|3|4\n", 0, NULL},
    {"spaces kept", " a , b \n", 0, ',', '"', 0, 0, false, "1: a | b \n", 0,
     NULL},
    {"blank lines skipped", "a\n\n\r\n\nb\n\n", 0, ',', '"', 0, 0, false,
     "1:a\n5:b\n", 0, NULL},
    {"text after closing quote", "\"ab\"c,d\n", 0, ',', '"', 0, 0, false,
     "1:{abc}|d\n", 0, NULL},
    {"quote inside unquoted", "5'11\",x\n", 0, ',', '"', 0, 0, false,
     "1:5'11\"|x\n", 0, NULL},
    {"tab", "a\tb\t\"x\ty\"\n1\t\t2\n", 0, '\t', '"', 0, 0, false,
     "1:a|b|{x\\ty}\n2:1|~|2\n", 0, NULL},
    {"semicolon", "a;\"b;c\"\n", 0, ';', '"', 0, 0, false, "1:a|{b;c}\n", 0,
     NULL},
    {"pipe", "a|b||\n", 0, '|', '"', 0, 0, false, "1:a|b|~|~\n", 0, NULL},
    {"ctrl-a, no quoting", "a\x01" "b\"c\x01\n\"q\x01x\n", 0, '\x01', 0, 0, 0,
     false, "1:a|b\"c|~\n2:\"q|x\n", 0, NULL},
    {"no quoting: quotes are data", "\"a,b\",c\n", 0, ',', 0, 0, 0, false,
     "1:\"a|b\"|c\n", 0, NULL},
    {"nul byte is data", "a\0b,c\n", 6, ',', '"', 0, 0, false, "1:a", 0, NULL},
    {"empty input", "", 0, ',', '"', 0, 0, false, "", 0, NULL},
    {"only newlines", "\n\r\n\n", 0, ',', '"', 0, 0, false, "", 0, NULL},
    {"unterminated quote", "a,b\n\"open,\nmore\n", 0, ',', '"', 0, 0, false,
     "1:a|b\n", -EBADMSG, "line 2: unterminated quoted field"},
    {"unterminated quote line after multiline", "\"x\ny\"\nz,\"w\n", 0, ',',
     '"', 0, 0, false, "1:{x\\ny}\n", -EBADMSG,
     "line 3: unterminated quoted field"},
    {"field cap", "abcd,e\nabcde,f\n", 0, ',', '"', 4, 0, false, "1:abcd|e\n",
     -E2BIG, "line 2: field 1 is longer than 4 bytes"},
    {"quoted field cap", "\"abc\"\n\"ab\"\"cd\"\n", 0, ',', '"', 3, 0, false,
     "1:{abc}\n", -E2BIG, "line 2: field 1 is longer than 3 bytes"},
    {"fields cap", "a,b,c\na,b,c,d\n", 0, ',', '"', 0, 3, false,
     "1:a|b|c\n", -E2BIG, "line 2: more than 3 fields"},
    {"fields cap trailing delimiter", "a,b,\n", 0, ',', '"', 0, 2, false, "",
     -E2BIG, "line 1: more than 2 fields"},
    {"truncated sample drops the cut record", "a,b\n1,2\n3,4", 0, ',', '"', 0,
     0, true, "1:a|b\n2:1|2\n", 0, NULL},
    {"truncated sample inside a quote", "a\n\"open", 0, ',', '"', 0, 0, true,
     "1:a\n", 0, NULL},
    {"truncated sample ending at a newline", "a\nb\n", 0, ',', '"', 0, 0,
     true, "1:a\n2:b\n", 0, NULL},
};

static void run_case(const struct csv_case *t, size_t step)
{
    size_t n = t->in_len ? t->in_len : strlen(t->in);
    struct drip d;
    drip_init(&d, t->in, n, step);
    struct csv_opts o = {t->delim, t->quote, t->max_field, t->max_fields};
    struct csv_reader *r;
    CHECK(csv_reader_new(&d.base, &o, &r) == 0, "%s: new", t->name);
    if (!r)
        return;
    csv_reader_set_truncated(r, t->truncated);
    struct buf got;
    buf_init(&got, 1 << 20);
    int rc;
    struct csv_record *rec;
    int guard = 0;
    while ((rc = csv_reader_next(r, &rec)) == 1 && guard++ < 1000)
        render(&got, rec);
    const char *g = got.data ? got.data : "";
    if (t->in_len) { /* "nul byte is data": check the bytes */
        CHECK(got.len == 8 && memcmp(g, "1:a\0b|c\n", 8) == 0,
              "%s (step %zu)", t->name, step);
    } else {
        CHECK(strcmp(g, t->want) == 0, "%s (step %zu): got\n%s\nwant\n%s",
              t->name, step, g, t->want);
    }
    CHECK(rc == t->want_rc, "%s (step %zu): rc %d want %d", t->name, step, rc,
          t->want_rc);
    if (t->want_err)
        CHECK_STR(csv_reader_error(r), t->want_err);
    if (rc < 0)
        CHECK(csv_reader_next(r, &rec) == rc && rec == NULL,
              "%s: error is sticky", t->name);
    else
        CHECK(csv_reader_next(r, &rec) == 0, "%s: end stays", t->name);
    buf_release(&got);
    csv_reader_free(r);
}

static void test_reader_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i], 1 << 20);
        run_case(&cases[i], 1);
        run_case(&cases[i], 3);
    }
}

static void test_reader_misc(void)
{
    struct csv_opts o = {',', '"', 0, 0};
    struct csv_reader *r;
    struct drip d;
    drip_init(&d, "", 0, 1);

    /* Bad options. */
    struct csv_opts bad[] = {{'\n', '"', 0, 0}, {',', ',', 0, 0},
                             {'\0', '"', 0, 0}, {',', '\n', 0, 0}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(csv_reader_new(&d.base, &bad[i], &r) == -EINVAL && !r,
              "bad opts %zu", i);

    /* A read error in the middle comes through, after the whole records. */
    drip_init(&d, "a,b\nc,d\ne,", 10, 4);
    d.fail = -EIO;
    CHECK(csv_reader_new(&d.base, &o, &r) == 0, "new");
    struct csv_record *rec;
    int n = 0, rc;
    while ((rc = csv_reader_next(r, &rec)) == 1)
        n++;
    CHECK(n == 2 && rc == -EIO, "read error: %d records, rc %d", n, rc);
    csv_reader_free(r);

    /* Many records across many input buffers: counts and line numbers. */
    struct buf big;
    buf_init(&big, 64 << 20);
    for (int i = 0; i < 50000; i++)
        CHECK(buf_printf(&big, "%d,\"name %d, \"\"q\"\"\",%d.5\r\n", i, i,
                         i % 7) == 0,
              "build");
    struct instream *m;
    instream_memory(big.data, big.len, &m);
    CHECK(csv_reader_new(m, &o, &r) == 0, "new big");
    long count = 0;
    bool ok = true;
    while ((rc = csv_reader_next(r, &rec)) == 1) {
        char want[64];
        snprintf(want, sizeof(want), "name %ld, \"q\"", count);
        if (rec->n != 3 || rec->line != (unsigned long long)count + 1 ||
            strcmp(rec->field[1], want) != 0 || !rec->quoted[1] ||
            rec->quoted[0] || strtol(rec->field[0], NULL, 10) != count)
            ok = false;
        count++;
    }
    CHECK(rc == 0 && count == 50000 && ok, "big: rc %d count %ld ok %d", rc,
          count, ok);
    csv_reader_free(r);
    instream_free(m);
    buf_release(&big);

    /* Default caps: one 2 MiB field is over the 1 MiB default. */
    size_t len = 2u << 20;
    char *huge = malloc(len);
    memset(huge, 'x', len);
    instream_memory(huge, len, &m);
    csv_reader_new(m, &o, &r);
    CHECK(csv_reader_next(r, &rec) == -E2BIG, "default field cap");
    CHECK_STR(csv_reader_error(r),
              "line 1: field 1 is longer than 1048576 bytes");
    csv_reader_free(r);
    instream_free(m);
    free(huge);
}

static void test_writer(void)
{
    static const struct {
        const char *s;
        size_t n; /* (size_t)-1: strlen */
        char delim;
        const char *want;
    } t[] = {
        {"abc", (size_t)-1, ',', "abc"},
        {"a,b", (size_t)-1, ',', "\"a,b\""},
        {"a,b", (size_t)-1, '\t', "a,b"},
        {"a\tb", (size_t)-1, '\t', "\"a\tb\""},
        {"say \"hi\"", (size_t)-1, ',', "\"say \"\"hi\"\"\""},
        {"\"", (size_t)-1, ',', "\"\"\"\""},
        {"line\nnext", (size_t)-1, ',', "\"line\nnext\""},
        {"cr\r", (size_t)-1, ',', "\"cr\r\""},
        {" lead", (size_t)-1, ',', "\" lead\""},
        {"trail ", (size_t)-1, ',', "\"trail \""},
        {"in side", (size_t)-1, ',', "in side"},
        {"", 0, ',', "\"\""},
        {NULL, 0, ',', ""},
        {"a\x01" "b", (size_t)-1, '\x01', "\"a\x01" "b\""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct buf b;
        buf_init(&b, 1024);
        size_t n = t[i].n == (size_t)-1 ? strlen(t[i].s) : t[i].n;
        CHECK(csv_write_field(&b, t[i].s, n, t[i].delim) == 0, "write %zu", i);
        CHECK_STR(b.data ? b.data : "", t[i].want);
        buf_release(&b);
    }

    /* Over the cap: -E2BIG and the buffer is unchanged. */
    struct buf b;
    buf_init(&b, 6);
    CHECK(buf_puts(&b, "x,") == 0, "prefix");
    CHECK(csv_write_field(&b, "a\"b", 3, ',') == -E2BIG, "cap");
    CHECK_STR(b.data, "x,");
    CHECK(b.len == 2, "len restored");
    buf_release(&b);

    /* Round trip: write a row of awkward fields, read it back. */
    static const char *row[] = {"plain", "", NULL, "a,b", "q\"q",
                                "multi\nline", " pad ", "last"};
    const size_t nrow = sizeof(row) / sizeof(row[0]);
    buf_init(&b, 4096);
    for (size_t i = 0; i < nrow; i++) {
        if (i)
            CHECK(buf_putc(&b, ',') == 0, "delim");
        CHECK(csv_write_field(&b, row[i], row[i] ? strlen(row[i]) : 0, ',') ==
                  0,
              "write row");
    }
    CHECK(buf_puts(&b, "\r\n") == 0, "eol");
    struct instream *m;
    instream_memory(b.data, b.len, &m);
    struct csv_opts o = {',', '"', 0, 0};
    struct csv_reader *r;
    csv_reader_new(m, &o, &r);
    struct csv_record *rec;
    CHECK(csv_reader_next(r, &rec) == 1 && rec->n == nrow, "read row back");
    for (size_t i = 0; rec && i < nrow && i < rec->n; i++) {
        if (!row[i])
            CHECK(rec->len[i] == 0 && !rec->quoted[i], "NULL stays NULL");
        else
            CHECK(rec->len[i] == strlen(row[i]) &&
                      memcmp(rec->field[i], row[i], rec->len[i]) == 0 &&
                      (row[i][0] != '\0' || rec->quoted[i]),
                  "field %zu round trip: '%s'", i, rec->field[i]);
    }
    CHECK(csv_reader_next(r, &rec) == 0, "one row");
    csv_reader_free(r);
    instream_free(m);
    buf_release(&b);
}


/* Property: any row of fields written with csv_write_field reads back
 * the same (NULL as an unquoted empty field, "" as a quoted one), for
 * several delimiters, in input pieces of varied sizes.  And random bytes
 * never crash the reader.  Fixed seed: failures reproduce. */
static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static void test_round_trip_random(void)
{
    static const char alphabet[] = "ab ,;\t\"\r\n\x01|x\xc3\xa9";
    static const char delims[] = {',', '\t', ';', '|', '\x01'};
    int bad = 0;
    for (int iter = 0; iter < 2000; iter++) {
        char delim = delims[iter % 5];
        size_t nrows = 1 + rnd() % 4, nf = 1 + rnd() % 5;
        char text[5][5][16];
        size_t tlen[5][5];
        bool isnull[5][5];
        struct buf b;
        buf_init(&b, 1 << 16);
        for (size_t i = 0; i < nrows; i++) {
            for (size_t j = 0; j < nf; j++) {
                tlen[i][j] = rnd() % 12;
                for (size_t k = 0; k < tlen[i][j]; k++)
                    text[i][j][k] = alphabet[rnd() % (sizeof(alphabet) - 1)];
                text[i][j][tlen[i][j]] = '\0';
                /* a one-field row cannot hold NULL: it is an empty line */
                isnull[i][j] = tlen[i][j] == 0 && nf > 1 && rnd() % 2;
                if (j && buf_putc(&b, delim))
                    bad++;
                if (csv_write_field(&b, isnull[i][j] ? NULL : text[i][j],
                                    tlen[i][j], delim))
                    bad++;
            }
            if (buf_puts(&b, rnd() % 2 ? "\r\n" : "\n"))
                bad++;
        }
        struct drip d;
        drip_init(&d, b.data, b.len, 1 + rnd() % 7);
        struct csv_opts o = {delim, '"', 0, 0};
        struct csv_reader *r;
        csv_reader_new(&d.base, &o, &r);
        struct csv_record *rec;
        for (size_t i = 0; i < nrows; i++) {
            if (csv_reader_next(r, &rec) != 1 || rec->n != nf) {
                bad++;
                break;
            }
            for (size_t j = 0; j < nf; j++) {
                bool ok = isnull[i][j]
                              ? rec->len[j] == 0 && !rec->quoted[j]
                              : rec->len[j] == tlen[i][j] &&
                                    memcmp(rec->field[j], text[i][j],
                                           tlen[i][j]) == 0 &&
                                    (tlen[i][j] || rec->quoted[j]);
                if (!ok) {
                    if (bad < 5)
                        fprintf(stderr, "row %zu field %zu: '%s' vs '%s'\n",
                                i, j, rec->field[j], text[i][j]);
                    bad++;
                }
            }
        }
        if (csv_reader_next(r, &rec) != 0)
            bad++;
        csv_reader_free(r);
        buf_release(&b);
    }
    CHECK(bad == 0, "random round trips: %d mismatches", bad);

    /* Random bytes: any result, but no crash, and it ends. */
    for (int iter = 0; iter < 300; iter++) {
        char junk[300];
        for (size_t k = 0; k < sizeof(junk); k++)
            junk[k] = "a,\"\r\n\t x\xef\xbb\xbf"[rnd() % 11];
        struct drip d;
        drip_init(&d, junk, sizeof(junk), 1 + rnd() % 50);
        struct csv_opts o = {',', iter % 3 ? '"' : 0, 8, 6};
        struct csv_reader *r;
        csv_reader_new(&d.base, &o, &r);
        struct csv_record *rec;
        int rc, guard = 0;
        while ((rc = csv_reader_next(r, &rec)) == 1 && guard < 1000)
            guard++;
        CHECK(rc == 0 || rc == -E2BIG || rc == -EBADMSG, "junk rc %d", rc);
        csv_reader_free(r);
    }
}

int main(void)
{
    test_reader_table();
    test_reader_misc();
    test_writer();
    test_round_trip_random();
    return check_done();
}
