/* test_json.c - json.h: the reader over a table of inputs (JSON Lines,
 * pretty-printed top-level arrays, a single object, nesting, big numbers,
 * BOM, syntax errors with their line, premature ends, truncated samples,
 * record and depth caps), each read whole and one byte per read; value
 * types and numbers; jval_get; jval_to_json (compact, round-trip
 * doubles, cap); a large array streamed without reading it all first. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "instream.h"
#include "json.h"

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

struct json_case {
    const char *name;
    const char *in;
    size_t max_record;
    int max_depth;
    bool truncated;
    const char *want; /* "LINE:compact json\n" per record */
    enum json_shape shape;
    int want_rc;
    const char *want_err; /* prefix of json_reader_error() */
};

#define A JSON_SHAPE_ARRAY
#define L JSON_SHAPE_LINES
#define S JSON_SHAPE_SINGLE
#define U JSON_SHAPE_UNKNOWN

static const struct json_case cases[] = {
    {"lines", "{\"a\":1}\n{\"b\":\"x\"}\n", 0, 0, false,
     "1:{\"a\":1}\n2:{\"b\":\"x\"}\n", L, 0, NULL},
    {"lines crlf and blank lines", "{\"a\":1}\r\n\r\n{\"a\":2}\r\n", 0, 0,
     false, "1:{\"a\":1}\n3:{\"a\":2}\n", L, 0, NULL},
    {"lines without final newline", "{\"a\":1}\n{\"a\":2}", 0, 0, false,
     "1:{\"a\":1}\n2:{\"a\":2}\n", L, 0, NULL},
    {"values on one line", "{\"a\":1} {\"a\":2}", 0, 0, false,
     "1:{\"a\":1}\n1:{\"a\":2}\n", L, 0, NULL},
    {"pretty array",
     "[\n  {\n    \"a\": 1,\n    \"b\": [1, 2]\n  },\n  {\n    \"a\": 2\n"
     "  }\n]\n",
     0, 0, false, "2:{\"a\":1,\"b\":[1,2]}\n6:{\"a\":2}\n", A, 0, NULL},
    {"compact array", "[{\"a\":1},{\"a\":2}]", 0, 0, false,
     "1:{\"a\":1}\n1:{\"a\":2}\n", A, 0, NULL},
    {"empty array", " [ ] ", 0, 0, false, "", A, 0, NULL},
    {"array of scalars", "[1,\"x\",null,true,false,2.5]", 0, 0, false,
     "1:1\n1:\"x\"\n1:null\n1:true\n1:false\n1:2.5\n", A, 0, NULL},
    {"array then array", "[1,2]\n[3]\n", 0, 0, false, "1:1\n1:2\n2:3\n", A,
     0, NULL},
    {"lines holding an array", "{\"a\":1}\n[1,2]\n", 0, 0, false,
     "1:{\"a\":1}\n2:[1,2]\n", L, 0, NULL},
    {"single pretty object",
     "\n\n{\n \"a\": {\"b\": [1, {\"c\": false}]},\n \"d\": \"e\"\n}\n\n", 0,
     0, false, "3:{\"a\":{\"b\":[1,{\"c\":false}]},\"d\":\"e\"}\n", S, 0,
     NULL},
    {"single scalar", "42", 0, 0, false, "1:42\n", S, 0, NULL},
    {"scalar lines", "1\n2\n\"x\"\n", 0, 0, false, "1:1\n2:2\n3:\"x\"\n", L, 0,
     NULL},
    {"bom", "\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n", 0, 0, false,
     "1:{\"a\":1}\n2:{\"a\":2}\n", L, 0, NULL},
    {"bom array", "\xef\xbb\xbf[{\"a\":1}]", 0, 0, false, "1:{\"a\":1}\n", A,
     0, NULL},
    {"big numbers kept as written",
     "{\"i\":9223372036854775807,\"j\":9223372036854775808,"
     "\"k\":-9223372036854775808,\"l\":-9223372036854775809,"
     "\"d\":1.5e300,\"e\":1E2,\"z\":-0}",
     0, 0, false,
     "1:{\"i\":9223372036854775807,\"j\":9223372036854775808,"
     "\"k\":-9223372036854775808,\"l\":-9223372036854775809,"
     "\"d\":1.5e300,\"e\":1E2,\"z\":0}\n",
     S, 0, NULL},
    {"escapes", "{\"s\":\"a\\\"b\\\\c\\n\\u00e9\\u0000x\\/\"}", 0, 0, false,
     "1:{\"s\":\"a\\\"b\\\\c\\n\xc3\xa9\\u0000x/\"}\n", S, 0, NULL},
    {"duplicate keys kept", "{\"a\":1,\"a\":2}", 0, 0, false,
     "1:{\"a\":1,\"a\":2}\n", S, 0, NULL},
    {"empty input", "", 0, 0, false, "", U, 0, NULL},
    {"only whitespace", "  \n\t\r\n ", 0, 0, false, "", U, 0, NULL},
    {"leading control byte is an error", "\x01{\"a\":1}", 0, 0, false, "", U,
     -EBADMSG, "line 1: lexical error"},
    {"syntax error line", "{\"a\":1}\n{\"a\":2}\n{\"a\" 3}\n", 0, 0, false,
     "1:{\"a\":1}\n2:{\"a\":2}\n", L, -EBADMSG,
     "line 3: parse error: object key and value must be separated"},
    {"syntax error in pretty array",
     "[\n {\"a\": 1},\n {\"a\": 2},\n {\"a\": 3,}\n]\n", 0, 0, false,
     "2:{\"a\":1}\n3:{\"a\":2}\n", A, -EBADMSG, "line 4: parse error:"},
    {"premature end", "{\"a\":1}\n{\"a\":", 0, 0, false, "1:{\"a\":1}\n", L,
     -EBADMSG, "line 2: parse error: premature EOF"},
    {"premature end after newline", "{\"a\":1}\n{\"a\":\n", 0, 0, false,
     "1:{\"a\":1}\n", L, -EBADMSG, "line 2: parse error: premature EOF"},
    {"invalid utf-8", "{\"a\":\"\xff\"}", 0, 0, false, "", U, -EBADMSG,
     "line 1: lexical error: invalid bytes in UTF8 string"},
    {"garbage after a value", "{\"a\":1}\nxyz\n", 0, 0, false, "1:{\"a\":1}\n",
     U, -EBADMSG, "line 2: lexical error"},
    {"truncated lines", "{\"a\":1}\n{\"a\":2}\n{\"a\":[1,", 0, 0, true,
     "1:{\"a\":1}\n2:{\"a\":2}\n", L, 0, NULL},
    {"truncated array", "[{\"a\":1},{\"a\":2},{\"a\"", 0, 0, true,
     "1:{\"a\":1}\n1:{\"a\":2}\n", A, 0, NULL},
    {"truncated array between elements", "[{\"a\":1},", 0, 0, true,
     "1:{\"a\":1}\n", A, 0, NULL},
    {"truncated still reports syntax errors", "{\"a\":1}\n{\"a\" 1}\n{", 0, 0,
     true, "1:{\"a\":1}\n", L, -EBADMSG, "line 2: parse error"},
    /* {"a":"0123456789"} is 18 bytes of text */
    {"record cap: at it", "{\"a\":\"0123456789\"}\n", 18, 0, false,
     "1:{\"a\":\"0123456789\"}\n", S, 0, NULL},
    {"record cap: over it", "{\"a\":\"0123456789\"}\n{\"a\":\"01234567890\"}\n",
     18, 0, false, "1:{\"a\":\"0123456789\"}\n", L, -E2BIG,
     "line 2: record is longer than 18 bytes"},
    {"record cap: whitespace not counted",
     "{  \"a\" :   \"0123456789\"   }\n", 18, 0, false,
     "1:{\"a\":\"0123456789\"}\n", S, 0, NULL},
    {"record cap in an array", "[\n[1,2,3],\n[1,2,3,4]\n]", 7, 0, false,
     "2:[1,2,3]\n", A, -E2BIG, "line 3: record is longer than 7 bytes"},
    {"depth cap: at it", "{\"a\":{\"b\":{\"c\":1}}}", 0, 3, false,
     "1:{\"a\":{\"b\":{\"c\":1}}}\n", S, 0, NULL},
    {"depth cap: over it", "{\"a\":1}\n{\"a\":{\"b\":{\"c\":{}}}}", 0, 3,
     false, "1:{\"a\":1}\n", L, -E2BIG, "line 2: nesting deeper than 3"},
    {"depth cap: top array not counted", "[[[[1]]]]", 0, 3, false,
     "1:[[[1]]]\n", A, 0, NULL},
};

static void run_case(const struct json_case *t, size_t step)
{
    struct drip d;
    drip_init(&d, t->in, strlen(t->in), step);
    struct json_reader *r;
    CHECK(json_reader_new(&d.base, t->max_record, t->max_depth, &r) == 0,
          "%s: new", t->name);
    if (!r)
        return;
    json_reader_set_truncated(r, t->truncated);
    struct buf got;
    buf_init(&got, 1 << 20);
    struct jval *v;
    int rc, guard = 0;
    while ((rc = json_reader_next(r, &v)) == 1 && guard++ < 1000) {
        CHECK(buf_printf(&got, "%llu:", json_reader_line(r)) == 0, "line");
        CHECK(jval_to_json(v, &got) == 0, "to_json");
        CHECK(buf_putc(&got, '\n') == 0, "nl");
        jval_free(v);
    }
    const char *g = got.data ? got.data : "";
    CHECK(strcmp(g, t->want) == 0, "%s (step %zu): got\n%s\nwant\n%s",
          t->name, step, g, t->want);
    CHECK(rc == t->want_rc, "%s (step %zu): rc %d want %d (%s)", t->name,
          step, rc, t->want_rc, json_reader_error(r));
    CHECK(json_reader_shape(r) == t->shape, "%s (step %zu): shape %d want %d",
          t->name, step, json_reader_shape(r), t->shape);
    if (t->want_err)
        CHECK(strncmp(json_reader_error(r), t->want_err,
                      strlen(t->want_err)) == 0,
              "%s: error '%s' want '%s...'", t->name, json_reader_error(r),
              t->want_err);
    CHECK(json_reader_next(r, &v) == rc && v == NULL, "%s: result stays",
          t->name);
    buf_release(&got);
    json_reader_free(r);
}

static void test_reader_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i], 1 << 20);
        run_case(&cases[i], 1);
        run_case(&cases[i], 5);
    }
}

static struct jval *parse_one(const char *text)
{
    struct instream *m;
    instream_memory(text, strlen(text), &m);
    struct json_reader *r;
    json_reader_new(m, 0, 0, &r);
    struct jval *v = NULL;
    int rc = json_reader_next(r, &v);
    CHECK(rc == 1, "parse '%s': rc %d %s", text, rc, json_reader_error(r));
    json_reader_free(r);
    instream_free(m);
    return v;
}

static void test_values(void)
{
    struct jval *v = parse_one(
        "{\"i\":-42,\"max\":9223372036854775807,\"big\":9223372036854775808,"
        "\"d\":2.5,\"e\":1e3,\"s\":\"h\\u00e9\",\"n\":null,\"t\":true,"
        "\"o\":{\"x\":[]},\"nul\":\"a\\u0000b\",\"a\":1,\"a\":2}");
    if (!v)
        return;
    CHECK(v->type == J_OBJECT && v->u.c.n == 12, "object of 12");
    const struct jval *x = jval_get(v, "i");
    CHECK(x && x->type == J_INT && x->u.i == -42, "int");
    CHECK_STR(x ? x->num_text : NULL, "-42");
    x = jval_get(v, "max");
    CHECK(x && x->type == J_INT && x->u.i == INT64_MAX, "int64 max");
    x = jval_get(v, "big");
    CHECK(x && x->type == J_DOUBLE && x->u.d == 9223372036854775808.0,
          "too big for int64: double");
    CHECK_STR(x ? x->num_text : NULL, "9223372036854775808");
    x = jval_get(v, "d");
    CHECK(x && x->type == J_DOUBLE && x->u.d == 2.5, "double");
    x = jval_get(v, "e");
    CHECK(x && x->type == J_DOUBLE && x->u.d == 1000.0, "exponent: double");
    x = jval_get(v, "s");
    CHECK(x && x->type == J_STRING && x->u.str.len == 3 &&
              strcmp(x->u.str.s, "h\xc3\xa9") == 0,
          "string unescaped");
    x = jval_get(v, "n");
    CHECK(x && x->type == J_NULL, "null");
    x = jval_get(v, "t");
    CHECK(x && x->type == J_BOOL && x->u.b, "true");
    x = jval_get(v, "o");
    CHECK(x && x->type == J_OBJECT && jval_get(x, "x") &&
              jval_get(x, "x")->type == J_ARRAY &&
              jval_get(x, "x")->u.c.n == 0,
          "nested");
    x = jval_get(v, "nul");
    CHECK(x && x->u.str.len == 3 && memcmp(x->u.str.s, "a\0b", 4) == 0,
          "embedded NUL kept");
    x = jval_get(v, "a");
    CHECK(x && x->type == J_INT && x->u.i == 1, "first of duplicate keys");
    CHECK(jval_get(v, "missing") == NULL, "missing key");
    CHECK(jval_get(jval_get(v, "i"), "x") == NULL, "get on a non-object");
    CHECK(jval_get(NULL, "x") == NULL, "get on NULL");
    jval_free(v);
    jval_free(NULL);
}

static void test_to_json(void)
{
    static const struct {
        double d;
        const char *want;
    } t[] = {
        {0.1, "0.1"},       {1.0, "1.0"},
        {-2.0, "-2.0"},     {1e300, "1e+300"},
        {1.5e-7, "1.5e-07"}, {123456789.123, "123456789.123"},
        {1.0 / 3.0, "0.3333333333333333"},
        {NAN, "null"},      {INFINITY, "null"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct jval v = {.type = J_DOUBLE, .u.d = t[i].d};
        struct buf b;
        buf_init(&b, 100);
        CHECK(jval_to_json(&v, &b) == 0, "double %zu", i);
        CHECK_STR(b.data, t[i].want);
        if (isfinite(t[i].d))
            CHECK(strtod(b.data, NULL) == t[i].d, "round trip %s", b.data);
        buf_release(&b);
    }
    struct jval iv = {.type = J_INT, .u.i = INT64_MIN};
    struct buf b;
    buf_init(&b, 100);
    CHECK(jval_to_json(&iv, &b) == 0, "int");
    CHECK_STR(b.data, "-9223372036854775808");
    buf_release(&b);

    /* A cap: -E2BIG and the buffer as it was. */
    struct jval *v = parse_one("{\"a\":[1,2,3],\"b\":\"long string\"}");
    buf_init(&b, 20);
    CHECK(buf_puts(&b, "x") == 0, "prefix");
    CHECK(jval_to_json(v, &b) == -E2BIG, "to_json cap");
    CHECK_STR(b.data, "x");
    buf_release(&b);
    /* Control characters escaped: a parse of the output gives the same. */
    jval_free(v);
    v = parse_one("{\"v\":[\"tab\\there\",\"\\u0001\",{\"k\\n\":-1.25e-3}]}");
    buf_init(&b, 1000);
    CHECK(jval_to_json(v, &b) == 0, "escapes out");
    CHECK_STR(b.data,
              "{\"v\":[\"tab\\there\",\"\\u0001\",{\"k\\n\":-1.25e-3}]}");
    buf_release(&b);
    jval_free(v);
}

/* A 10 MB pretty-printed array: the first record comes out after a small
 * part of the input was read, every record comes out, each with its
 * line (5 lines per record). */
static void test_stream_big_array(void)
{
    struct buf big;
    buf_init(&big, 64 << 20);
    CHECK(buf_puts(&big, "[\n") == 0, "open");
    int n = 0;
    while (big.len < (10u << 20)) {
        CHECK(buf_printf(&big,
                         "%s  {\n    \"id\": %d,\n    \"name\": \"row %d\",\n"
                         "    \"tags\": [\"a\", \"b\"]\n  }",
                         n ? ",\n" : "", n, n) == 0,
              "row");
        n++;
    }
    CHECK(buf_puts(&big, "\n]\n") == 0, "close");
    struct drip d;
    drip_init(&d, big.data, big.len, 1 << 20);
    struct json_reader *r;
    json_reader_new(&d.base, 0, 0, &r);
    struct jval *v;
    int rc = json_reader_next(r, &v);
    CHECK(rc == 1 && d.pos <= (1u << 20), "first record after %zu bytes",
          d.pos);
    int count = 0;
    bool ok = true;
    while (rc == 1) {
        const struct jval *id = jval_get(v, "id");
        if (!id || id->type != J_INT || id->u.i != count ||
            json_reader_line(r) != 2 + 5 * (unsigned long long)count)
            ok = false;
        jval_free(v);
        count++;
        rc = json_reader_next(r, &v);
    }
    CHECK(rc == 0 && count == n && ok, "big array: rc %d, %d of %d records",
          rc, count, n);
    CHECK(json_reader_shape(r) == JSON_SHAPE_ARRAY, "shape");
    json_reader_free(r);
    buf_release(&big);

    /* A single huge string is stopped at the record cap, not buffered. */
    size_t len = 4u << 20;
    char *s = malloc(len + 16);
    memset(s, 'x', len + 16);
    memcpy(s, "{\"a\":\"", 6);
    drip_init(&d, s, len + 16, 65536);
    json_reader_new(&d.base, 1 << 20, 0, &r);
    CHECK(json_reader_next(r, &v) == -E2BIG, "huge token");
    CHECK(d.pos < (2u << 20), "stopped after %zu bytes", d.pos);
    json_reader_free(r);
    free(s);

    /* A read error comes through after the records before it. */
    drip_init(&d, "{\"a\":1}\n{\"a\":2}\n{\"a\"", 20, 8);
    d.fail = -EIO;
    json_reader_new(&d.base, 0, 0, &r);
    count = 0;
    while ((rc = json_reader_next(r, &v)) == 1) {
        jval_free(v);
        count++;
    }
    CHECK(rc == -EIO && count == 2, "read error: rc %d after %d", rc, count);
    json_reader_free(r);
}


/* Property: a random value tree written with jval_to_json, read back (one
 * per line, and as a pretty-ish array) and written again, gives the same
 * text.  Random bytes never crash the reader.  Fixed seed. */
static uint32_t rnd_state = 88172645u;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static struct jval *rnd_val(int depth)
{
    struct jval *v = calloc(1, sizeof(*v));
    uint32_t k = depth >= 4 ? rnd() % 5 : rnd() % 7;
    if (depth == 0)
        k = 6; /* records are objects (a leading '[' means an array file) */
    static const char *const chars[] = {"a", "b", "\"", "\\", "\n",
                                        "\x01", " ", "\xc3\xa9", "/"};
    switch (k) {
    case 0:
        v->type = J_NULL;
        break;
    case 1:
        v->type = J_BOOL;
        v->u.b = rnd() % 2;
        break;
    case 2:
        v->type = J_INT;
        v->u.i = (int64_t)(((uint64_t)rnd() << 32) | rnd());
        break;
    case 3:
        v->type = J_DOUBLE;
        v->u.d = (double)(int32_t)rnd() / ((rnd() % 1000) + 1) *
                 pow(10, (int)(rnd() % 40) - 20);
        break;
    case 4: {
        v->type = J_STRING;
        size_t m = rnd() % 6;
        v->u.str.s = malloc(2 * m + 1);
        v->u.str.len = 0;
        for (size_t i = 0; i < m; i++) { /* whole UTF-8 characters */
            const char *t = chars[rnd() % (sizeof(chars) / sizeof(*chars))];
            memcpy(v->u.str.s + v->u.str.len, t, strlen(t));
            v->u.str.len += strlen(t);
        }
        v->u.str.s[v->u.str.len] = '\0';
        break;
    }
    default:
        v->type = k == 5 ? J_ARRAY : J_OBJECT;
        v->u.c.n = rnd() % 4;
        v->u.c.items = calloc(v->u.c.n + 1, sizeof(*v->u.c.items));
        if (k == 6)
            v->u.c.keys = calloc(v->u.c.n + 1, sizeof(*v->u.c.keys));
        for (size_t i = 0; i < v->u.c.n; i++) {
            v->u.c.items[i] = rnd_val(depth + 1);
            if (k == 6) {
                char key[16];
                snprintf(key, sizeof(key), "k%u\n", rnd() % 5);
                v->u.c.keys[i] = strdup(key);
            }
        }
        break;
    }
    return v;
}

static void test_round_trip_random(void)
{
    int bad = 0;
    for (int iter = 0; iter < 300; iter++) {
        size_t n = 1 + rnd() % 5;
        struct buf lines, arr, back;
        buf_init(&lines, 1 << 20);
        buf_init(&arr, 1 << 20);
        buf_init(&back, 1 << 20);
        bad += buf_puts(&arr, "[\n") != 0;
        for (size_t i = 0; i < n; i++) {
            struct jval *v = rnd_val(0);
            bad += jval_to_json(v, &lines) != 0;
            bad += buf_putc(&lines, '\n') != 0;
            bad += jval_to_json(v, &arr) != 0;
            bad += buf_puts(&arr, i + 1 < n ? ",\n" : "\n]") != 0;
            jval_free(v);
        }
        for (int pass = 0; pass < 2; pass++) {
            const struct buf *src = pass ? &arr : &lines;
            struct drip d;
            drip_init(&d, src->data, src->len, 1 + rnd() % 9);
            struct json_reader *r;
            json_reader_new(&d.base, 0, 0, &r);
            struct jval *v;
            int rc;
            buf_reset(&back);
            while ((rc = json_reader_next(r, &v)) == 1) {
                bad += jval_to_json(v, &back) != 0;
                bad += buf_putc(&back, '\n') != 0;
                jval_free(v);
            }
            if (rc != 0 || back.len != lines.len ||
                memcmp(back.data, lines.data, lines.len) != 0) {
                if (bad < 3)
                    fprintf(stderr, "pass %d rc %d (%s)\nwant %s\ngot  %s\n",
                            pass, rc, json_reader_error(r), lines.data,
                            back.data ? back.data : "");
                bad++;
            }
            json_reader_free(r);
        }
        buf_release(&lines);
        buf_release(&arr);
        buf_release(&back);
    }
    CHECK(bad == 0, "random round trips: %d mismatches", bad);

    for (int iter = 0; iter < 500; iter++) {
        char junk[200];
        for (size_t k = 0; k < sizeof(junk); k++)
            junk[k] = "{}[]\":,1e.-tnul \n\\a\xff"[rnd() % 20];
        struct drip d;
        drip_init(&d, junk, sizeof(junk), 1 + rnd() % 30);
        struct json_reader *r;
        json_reader_new(&d.base, 64, 5, &r);
        json_reader_set_truncated(r, iter % 2);
        struct jval *v;
        int rc, guard = 0;
        while ((rc = json_reader_next(r, &v)) == 1 && guard++ < 1000)
            jval_free(v);
        CHECK(rc == 0 || rc == -EBADMSG || rc == -E2BIG, "junk rc %d", rc);
        json_reader_free(r);
    }
}

int main(void)
{
    test_reader_table();
    test_values();
    test_to_json();
    test_stream_big_array();
    test_round_trip_random();
    return check_done();
}
