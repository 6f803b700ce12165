/* test_parquet_meta.c - the Parquet footer decoder (catalog/parquet_meta.c).
 *
 * Table-driven: each case is a schema (Parquet SchemaElements) and a row
 * count, encoded here as a FileMetaData with the Thrift compact protocol,
 * and the columns (name, Hive type) the decoder must give.  Damaged footers
 * must give -EBADMSG and their reason.  A real file, vega-datasets'
 * flights-3m.parquet (installed by tools/setup into tools/node_modules), is
 * checked when present; otherwise that case prints a skip. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parquet_meta.h"

/* ---- a minimal Thrift compact protocol writer ---- */

struct w {
    unsigned char b[4096];
    size_t n;
    int last[8]; /* last field id per struct depth */
    int depth;
};

static void w_byte(struct w *w, unsigned v)
{
    if (w->n < sizeof w->b)
        w->b[w->n++] = (unsigned char)v;
}

static void w_varint(struct w *w, uint64_t v)
{
    while (v >= 0x80) {
        w_byte(w, (unsigned)(v & 0x7f) | 0x80);
        v >>= 7;
    }
    w_byte(w, (unsigned)v);
}

static void w_field(struct w *w, int id, int type)
{
    w_byte(w, (unsigned)((id - w->last[w->depth]) << 4 | type));
    w->last[w->depth] = id;
}

static void w_i32(struct w *w, int id, int64_t v)
{
    w_field(w, id, 5);
    w_varint(w, (uint64_t)((v << 1) ^ (v >> 63)));
}

static void w_i64(struct w *w, int id, int64_t v)
{
    w_field(w, id, 6);
    w_varint(w, (uint64_t)((v << 1) ^ (v >> 63)));
}

static void w_str(struct w *w, int id, const char *s)
{
    w_field(w, id, 8);
    w_varint(w, strlen(s));
    for (const char *p = s; *p; p++)
        w_byte(w, (unsigned char)*p);
}

static void w_begin(struct w *w)
{
    w->depth++;
    w->last[w->depth] = 0;
}

static void w_end(struct w *w)
{
    w_byte(w, 0);
    w->depth--;
}

/* ---- cases ---- */

#define NONE (-99)

struct elem {
    const char *name;
    int type;     /* physical type, NONE for a group */
    int rep;      /* 0 required, 1 optional, 2 repeated */
    int children; /* NONE for a leaf */
    int conv;     /* ConvertedType, NONE */
    int logical;  /* LogicalType union member, 0 none */
    int scale, precision;
};

/* LogicalType INTEGER (member 10) with its IntType, in elem.logical. */
#define LINT(bits, uns) (10 + 100 * (bits) + 10000 * (uns))

struct pq_case {
    const char *what;
    struct elem el[12]; /* el[0] is the root; ends at name NULL */
    int64_t rows;       /* NONE: no num_rows field */
    const char *cols[10][2];
    int64_t want_rows;
};

static const struct pq_case cases[] = {
    {"flat primitives",
     {{"schema", NONE, 0, 8, NONE, 0, 0, 0},
      {"B", 0, 1, NONE, NONE, 0, 0, 0},
      {"i", 1, 1, NONE, NONE, 0, 0, 0},
      {"l", 2, 0, NONE, NONE, 0, 0, 0},
      {"ts96", 3, 1, NONE, NONE, 0, 0, 0},
      {"f", 4, 1, NONE, NONE, 0, 0, 0},
      {"d", 5, 1, NONE, NONE, 0, 0, 0},
      {"s", 6, 1, NONE, 0, 0, 0, 0},
      {"raw", 6, 1, NONE, NONE, 0, 0, 0},
      {NULL, 0, 0, 0, 0, 0, 0, 0}},
     1234,
     {{"b", "boolean"}, {"i", "int"}, {"l", "bigint"}, {"ts96", "timestamp"},
      {"f", "float"}, {"d", "double"}, {"s", "string"}, {"raw", "binary"}},
     1234},
    {"converted and logical types",
     {{"schema", NONE, 0, 6, NONE, 0, 0, 0},
      {"day", 1, 1, NONE, 6, 0, 0, 0},
      {"tiny", 1, 1, NONE, 15, 0, 0, 0},
      {"small", 1, 1, NONE, 16, 0, 0, 0},
      {"at", 2, 1, NONE, NONE, 8, 0, 0},
      {"price", 1, 1, NONE, 5, 0, 2, 9},
      {"name", 6, 1, NONE, NONE, 1, 0, 0},
      {NULL, 0, 0, 0, 0, 0, 0, 0}},
     7,
     {{"day", "date"}, {"tiny", "tinyint"}, {"small", "smallint"},
      {"at", "timestamp"}, {"price", "decimal(9,2)"}, {"name", "string"}},
     7},
    /* Unsigned integers go to the narrowest signed Hive type holding
     * every value (a uint32 of 4e9 does not fit int); LogicalType
     * INTEGER without a ConvertedType (newer writers) is read too. */
    {"integer widths and signs",
     {{"schema", NONE, 0, 9, NONE, 0, 0, 0},
      {"u8", 1, 1, NONE, 11, 0, 0, 0},
      {"u16", 1, 1, NONE, 12, 0, 0, 0},
      {"u32", 1, 1, NONE, 13, 0, 0, 0},
      {"u64", 2, 1, NONE, 14, 0, 0, 0},
      {"i32", 1, 1, NONE, 17, 0, 0, 0},
      {"l8", 1, 1, NONE, NONE, LINT(8, 0), 0, 0},
      {"lu16", 1, 1, NONE, NONE, LINT(16, 1), 0, 0},
      {"lu32", 1, 1, NONE, NONE, LINT(32, 1), 0, 0},
      {"l64", 2, 1, NONE, NONE, LINT(64, 0), 0, 0},
      {NULL, 0, 0, 0, 0, 0, 0, 0}},
     5,
     {{"u8", "smallint"}, {"u16", "int"}, {"u32", "bigint"},
      {"u64", "bigint"}, {"i32", "int"}, {"l8", "tinyint"},
      {"lu16", "int"}, {"lu32", "bigint"}, {"l64", "bigint"}},
     5},
    {"list, map, struct, repeated",
     {{"schema", NONE, 0, 4, NONE, 0, 0, 0},
      {"tags", NONE, 1, 1, 3, 0, 0, 0},
      {"list", NONE, 2, 1, NONE, 0, 0, 0},
      {"element", 6, 1, NONE, 0, 0, 0, 0},
      {"attrs", NONE, 1, 1, 1, 0, 0, 0},
      {"key_value", NONE, 2, 2, NONE, 0, 0, 0},
      {"key", 6, 0, NONE, 0, 0, 0, 0},
      {"value", 1, 1, NONE, NONE, 0, 0, 0},
      {"Pt", NONE, 1, 2, NONE, 0, 0, 0},
      {"X y", 5, 1, NONE, NONE, 0, 0, 0},
      {"z", 5, 1, NONE, NONE, 0, 0, 0},
      {"nums", 2, 2, NONE, NONE, 0, 0, 0}},
     0,
     {{"tags", "array<string>"}, {"attrs", "map<string,int>"},
      {"pt", "struct<x_y:double,z:double>"}, {"nums", "array<bigint>"}},
     0},
    {"no num_rows",
     {{"schema", NONE, 0, 1, NONE, 0, 0, 0},
      {"a", 1, 1, NONE, NONE, 0, 0, 0},
      {NULL, 0, 0, 0, 0, 0, 0, 0}},
     NONE,
     {{"a", "int"}},
     -1},
};

static size_t encode(const struct pq_case *c, struct w *w)
{
    memset(w, 0, sizeof *w);
    size_t n = 0;
    while (n < 12 && c->el[n].name)
        n++;
    w_i32(w, 1, 1); /* version */
    w_field(w, 2, 9);
    if (n < 15)
        w_byte(w, (unsigned)(n << 4 | 12));
    else {
        w_byte(w, 0xf0 | 12);
        w_varint(w, n);
    }
    for (size_t i = 0; i < n; i++) {
        const struct elem *e = &c->el[i];
        w_begin(w);
        if (e->type != NONE)
            w_i32(w, 1, e->type);
        if (i)
            w_i32(w, 3, e->rep);
        w_str(w, 4, e->name);
        if (e->children != NONE)
            w_i32(w, 5, e->children);
        if (e->conv != NONE)
            w_i32(w, 6, e->conv);
        if (e->scale || e->precision) {
            w_i32(w, 7, e->scale);
            w_i32(w, 8, e->precision);
        }
        if (e->logical) {
            w_field(w, 10, 12);
            w_begin(w);
            w_field(w, e->logical < 100 ? e->logical : 10, 12);
            w_begin(w);
            if (e->logical >= 100) {
                w_field(w, 1, 3); /* i8 bitWidth */
                w_byte(w, (unsigned)(e->logical / 100 % 100));
                w_field(w, 2, e->logical >= 10000 ? 2 : 1); /* isSigned */
            }
            w_end(w);
            w_end(w);
        }
        w_end(w);
    }
    if (c->rows != NONE)
        w_i64(w, 3, c->rows);
    w_str(w, 6, "test writer"); /* created_by: skipped */
    w_byte(w, 0);
    return w->n;
}

static void check_cols(const struct parquet_meta *m, const char *const (*cols)[2],
                       size_t nwant, const char *what)
{
    CHECK(m->ncols == nwant, "%s: %zu columns, want %zu", what, m->ncols,
          nwant);
    for (size_t i = 0; i < m->ncols && i < nwant; i++) {
        CHECK_STR(m->cols[i].name, cols[i][0]);
        CHECK_STR(m->cols[i].type, cols[i][1]);
    }
}

/* vega-datasets flights-3m.parquet: 3,000,000 rows (DuckDB agrees:
 * count(*) and DESCRIBE give TIMESTAMP, BIGINT, BIGINT, VARCHAR, VARCHAR). */
static const char *const flights_cols[][2] = {
    {"date", "timestamp"}, {"delay", "bigint"}, {"distance", "bigint"},
    {"origin", "string"}, {"destination", "string"},
};

static void check_flights(void)
{
    /* meson test runs in the source root (tests/meson.build workdir) */
    const char *path =
        "tools/node_modules/vega-datasets/data/flights-3m.parquet";
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("skip: flights-3m case: '%s' absent (run tools/setup)\n",
               path);
        return;
    }
    unsigned char tail[8];
    CHECK(fseek(f, -8, SEEK_END) == 0 && fread(tail, 1, 8, f) == 8,
          "read tail");
    CHECK(memcmp(tail + 4, "PAR1", 4) == 0, "magic");
    uint32_t flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 |
                    (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    unsigned char *p = malloc(flen);
    CHECK(p && fseek(f, -8 - (long)flen, SEEK_END) == 0 &&
              fread(p, 1, flen, f) == flen,
          "read footer");
    fclose(f);
    struct parquet_meta m;
    const char *why = NULL;
    int rc = parquet_meta_parse(p, flen, &m, &why);
    CHECK(rc == 0, "flights: rc %d (%s)", rc, why ? why : "");
    CHECK(m.rows == 3000000, "flights: rows %lld", (long long)m.rows);
    check_cols(&m, flights_cols, 5, "flights");
    parquet_meta_release(&m);
    free(p);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct pq_case *c = &cases[i];
        struct w w;
        size_t n = encode(c, &w);
        struct parquet_meta m;
        const char *why = NULL;
        int rc = parquet_meta_parse(w.b, n, &m, &why);
        CHECK(rc == 0, "%s: rc %d (%s)", c->what, rc, why ? why : "");
        size_t nwant = 0;
        while (nwant < 10 && c->cols[nwant][0])
            nwant++;
        check_cols(&m, c->cols, nwant, c->what);
        CHECK(m.rows == c->want_rows, "%s: rows %lld", c->what,
              (long long)m.rows);
        parquet_meta_release(&m);
        /* every strict prefix of the footer is damaged, never a crash */
        for (size_t cut = 0; cut < n - 1; cut++) {
            rc = parquet_meta_parse(w.b, cut, &m, &why);
            if (rc == 0)
                parquet_meta_release(&m);
            CHECK(rc == 0 || rc == -EBADMSG, "%s: cut %zu: rc %d", c->what,
                  cut, rc);
        }
    }
    /* damaged footers */
    {
        struct parquet_meta m;
        const char *why = NULL;
        static const unsigned char empty[] = {0};
        CHECK(parquet_meta_parse(empty, sizeof empty, &m, &why) == -EBADMSG,
              "empty footer");
        CHECK_STR(why, "parquet: damaged footer");
        CHECK(m.ncols == 0 && m.cols == NULL, "empty: no columns");
        /* schema root says 3 children but only 1 follows */
        struct pq_case c = {"short schema",
                            {{"schema", NONE, 0, 3, NONE, 0, 0, 0},
                             {"a", 1, 1, NONE, NONE, 0, 0, 0},
                             {NULL, 0, 0, 0, 0, 0, 0, 0}},
                            5, {{NULL, NULL}}, 0};
        struct w w;
        size_t n = encode(&c, &w);
        why = NULL;
        CHECK(parquet_meta_parse(w.b, n, &m, &why) == -EBADMSG,
              "short schema");
        CHECK_STR(why, "parquet: damaged schema");
        CHECK(m.ncols == 0 && m.cols == NULL, "short schema: no columns");
    }
    check_flights();
    return check_done();
}
