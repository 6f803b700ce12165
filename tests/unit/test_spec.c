/* test_spec.c - job spec parsing (transforms/spec.c): a table of specs and
 * the parse each must give, or the exact error text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "spec.h"

struct ok_case {
    const char *text;
    /* expected, as "|"-joined summaries; NULL fields are not checked */
    const char *sources;  /* "name=ref,name=ref" */
    const char *sql;      /* exact, or "-" for none */
    const char *target;
    const char *format;   /* "csv", "json", "" (default) */
    const char *partition_by; /* "a,b" */
    enum compression comp;
    enum spec_mode mode;
    const char *target_table; /* "db.t" or "-" */
};

static const struct ok_case ok_cases[] = {
    /* The example of DESIGN.md 5, with json for the unsupported parquet. */
    {"source       = weather.seattle                # catalog table\n"
     "sql          = SELECT date, precipitation, substr(date, 1, 4) AS year\n"
     "               FROM seattle WHERE weather = 'rain'\n"
     "target       = s3://curated/rainy-days/\n"
     "format       = json                         # csv | json | parquet\n"
     "partition_by = year\n"
     "compression  = zstd\n"
     "mode         = overwrite    # append (default, as Glue)\n"
     "target_table = curated.rainy_days\n",
     "seattle=weather.seattle",
     "SELECT date, precipitation, substr(date, 1, 4) AS year\n"
     "FROM seattle WHERE weather = 'rain'",
     "s3://curated/rainy-days/", "json", "year", COMP_ZSTD,
     SPEC_MODE_OVERWRITE, "curated.rainy_days"},
    /* Defaults; s3:// source named by its last folder; target gets '/'. */
    {"source = s3://samples/weather/\ntarget = s3://out/copy\n",
     "weather=s3://samples/weather/", "-", "s3://out/copy/", "", "",
     COMP_NONE, SPEC_MODE_APPEND, "-"},
    /* A bucket-wide s3:// source is named by its bucket. */
    {"source=s3://samples\ntarget=s3://o/p/\nformat=CSV\n",
     "samples=s3://samples", "-", "s3://o/p/", "csv", "", COMP_NONE,
     SPEC_MODE_APPEND, "-"},
    /* '#' inside a quoted literal, and without whitespace before it, is
     * data; after whitespace it is a comment. */
    {"source = a.b\n"
     "sql = SELECT 'x # y' AS c, a#b FROM b # trailing\n"
     "target = s3://o/p/\n",
     "b=a.b", "SELECT 'x # y' AS c, a#b FROM b", "s3://o/p/", "", "",
     COMP_NONE, SPEC_MODE_APPEND, "-"},
    /* A quoted literal spanning a continuation line keeps its '#'. */
    {"source = a.b\n"
     "sql = SELECT 'first\n"
     "   # still text' FROM b\n"
     "   # a comment line inside the value\n"
     "   WHERE 1\n"
     "target = s3://o/p/\n",
     NULL, "SELECT 'first\n# still text' FROM b\nWHERE 1", NULL, NULL, NULL,
     COMP_NONE, SPEC_MODE_APPEND, NULL},
    /* Several sources by alias; names sanitised as Glue's. */
    {"# leading comment\n\n"
     "source.o = Sales.Orders-2024\n"
     "source.c = s3://crm/customers/\n"
     "sql = SELECT * FROM o JOIN c USING (id)\n"
     "target = s3://o/joined/\n"
     "mode = error_if_exists\n"
     "compression = bzip2\n"
     "partition_by = year , month\n"
     "target_table = Curated.Joined-Out\n",
     "o=Sales.Orders-2024,c=s3://crm/customers/",
     "SELECT * FROM o JOIN c USING (id)", "s3://o/joined/", "", "year,month",
     COMP_BZIP2, SPEC_MODE_ERROR_IF_EXISTS, "curated.joined_out"},
    /* CRLF line ends, gzip, append spelled out. */
    {"source = db.t\r\ntarget = s3://o/p/\r\ncompression = gzip\r\n"
     "mode = append\r\n",
     "t=db.t", "-", "s3://o/p/", "", "", COMP_GZIP, SPEC_MODE_APPEND, "-"},
};

struct err_case {
    const char *text;
    const char *error;
};

static const struct err_case err_cases[] = {
    {"source = a.b\ntarget = s3://o/p/\n\nfromat = csv\n",
     "spec line 4: unknown key 'fromat'"},
    {"source = a.b\ntarget = s3://o/p/\nformat = parquet\n",
     "spec line 3: format 'parquet' is not supported yet (csv, json)"},
    {"source = a.b\ntarget = s3://o/p/\nformat = xml\n",
     "spec line 3: unknown format 'xml' (csv, json)"},
    {"source = a.b\ntarget = s3://o/p/\ntarget = s3://o/q/\n",
     "spec line 3: duplicate key 'target' (first on line 2)"},
    {"source = a.b\n",
     "spec: missing key 'target' (s3://bucket/prefix/)"},
    {"target = s3://o/p/\n",
     "spec: missing key 'source' (a catalog table database.table, or "
     "s3://bucket/prefix/)"},
    {"source = a.b\ntarget = s3://o/p/\ncompression = lz4\n",
     "spec line 3: unknown compression 'lz4' (none, gzip, bzip2, zstd)"},
    {"source = a.b\ntarget = s3://o/p/\nmode = replace\n",
     "spec line 3: unknown mode 'replace' (append, overwrite, "
     "error_if_exists)"},
    {"source = a.b\ntarget = s3://o/\n",
     "spec line 2: target 's3://o/' must be a folder in a bucket: "
     "s3://bucket/prefix/"},
    {"source = a.b\ntarget = /tmp/out\n",
     "spec line 2: target '/tmp/out' must be a folder in a bucket: "
     "s3://bucket/prefix/"},
    {"source = nodot\ntarget = s3://o/p/\n",
     "spec line 1: source 'nodot' is neither a catalog table "
     "(database.table) nor s3://bucket/prefix/"},
    {"source = a.b\nsql =\ntarget = s3://o/p/\n",
     "spec line 2: key 'sql' has no value"},
    {"source = a.b\nsql = # only a comment\ntarget = s3://o/p/\n",
     "spec line 2: key 'sql' has no value"},
    {"  SELECT 1\nsource = a.b\n",
     "spec line 1: a line that begins with whitespace continues a value, "
     "but no key came before it"},
    {"source = a.b\njust words\n",
     "spec line 2: expected 'key = value', got 'just words'"},
    {"source = a.b\nsource.x = c.d\ntarget = s3://o/p/\n",
     "spec line 2: a job without 'sql' copies one source; name how to "
     "combine 2 sources with sql = SELECT ..."},
    {"source.x = a.b\nsource.X = c.d\nsql = SELECT 1\ntarget = s3://o/p/\n",
     "spec line 2: two sources are named 'X' (first on line 1); name them "
     "with source.ALIAS = ..."},
    {"source.b-c = a.b\ntarget = s3://o/p/\n",
     "spec line 1: source alias 'b-c' must be letters, digits and _"},
    {"source = a.b\ntarget = s3://o/p/\npartition_by = a,,b\n",
     "spec line 3: partition_by has an empty column name"},
    {"source = a.b\ntarget = s3://o/p/\npartition_by = a, A\n",
     "spec line 3: partition_by names 'A' twice"},
    {"source = a.b\ntarget = s3://o/p/\ntarget_table = nodot\n",
     "spec line 3: target_table 'nodot' must be database.table"},
    {"source = s3://b//x/\ntarget = s3://o/p/\n",
     "spec line 1: source 's3://b//x/' is not a valid s3://bucket/prefix/"},
    {"Source = a.b\n", "spec line 1: unknown key 'Source'"},
    {"my key = 1\n", "spec line 1: unknown key 'my key'"},
};

static void join_sources(const struct spec *s, char *out, size_t n)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < s->nsources && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s=%s",
                                 i ? "," : "", s->sources[i].name,
                                 s->sources[i].ref);
}

static void join_pby(const struct spec *s, char *out, size_t n)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < s->npartition_by && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "," : "",
                                 s->partition_by[i]);
}

static void test_ok(void)
{
    for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        const struct ok_case *c = &ok_cases[i];
        struct spec *s = NULL;
        char err[512];
        int rc = spec_parse(c->text, strlen(c->text), &s, err, sizeof err);
        CHECK(rc == 0, "case %zu: %d %s", i, rc, err);
        if (rc)
            continue;
        char tmp[512];
        if (c->sources) {
            join_sources(s, tmp, sizeof tmp);
            CHECK_STR(tmp, c->sources);
        }
        if (c->sql)
            CHECK_STR(s->sql ? s->sql : "-", c->sql);
        if (c->target)
            CHECK_STR(s->target, c->target);
        if (c->format)
            CHECK_STR(spec_format_name(s->format), c->format);
        if (c->partition_by) {
            join_pby(s, tmp, sizeof tmp);
            CHECK_STR(tmp, c->partition_by);
        }
        CHECK(s->compression == c->comp, "case %zu: compression %d", i,
              (int)s->compression);
        CHECK(s->mode == c->mode, "case %zu: mode %d", i, (int)s->mode);
        if (c->target_table) {
            if (s->target_table)
                snprintf(tmp, sizeof tmp, "%s.%s", s->target_database,
                         s->target_table);
            else
                snprintf(tmp, sizeof tmp, "-");
            CHECK_STR(tmp, c->target_table);
        }
        spec_free(s);
    }
}

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
        const struct err_case *c = &err_cases[i];
        struct spec *s = NULL;
        char err[512];
        int rc = spec_parse(c->text, strlen(c->text), &s, err, sizeof err);
        CHECK(rc == -EINVAL && s == NULL, "case %zu: rc %d", i, rc);
        CHECK_STR(err, c->error);
    }
}

static void test_parts(void)
{
    /* Split fields of sources, and the target's bucket/prefix. */
    const char *t = "source = Db-1.My Table\ntarget = s3://out/a/b\n";
    struct spec *s = NULL;
    char err[256];
    /* a space inside a catalog name is an error */
    CHECK(spec_parse(t, strlen(t), &s, err, sizeof err) == -EINVAL, "space");
    t = "source = Db-1.My-Table\nsource.w = s3://in/x/y/\nsql = SELECT 1\n"
        "target = s3://out/a/b\n";
    int rc = spec_parse(t, strlen(t), &s, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (!rc) {
        CHECK_STR(s->sources[0].database, "db_1");
        CHECK_STR(s->sources[0].table, "my_table");
        CHECK_STR(s->sources[0].name, "my_table");
        CHECK(!s->sources[0].is_s3, "catalog source");
        CHECK_STR(s->sources[1].bucket, "in");
        CHECK_STR(s->sources[1].prefix, "x/y/");
        CHECK(s->sources[1].is_s3, "s3 source");
        CHECK_STR(s->target_bucket, "out");
        CHECK_STR(s->target_prefix, "a/b/");
        spec_free(s);
    }
    /* A NUL byte and an over-long spec are refused. */
    CHECK(spec_parse("source\0", 7, &s, err, sizeof err) == -EINVAL, "nul");
    CHECK_STR(err, "spec: holds a NUL byte");
    char *big = malloc(SPEC_MAX_TEXT + 2);
    if (big) {
        memset(big, '#', SPEC_MAX_TEXT + 1);
        CHECK(spec_parse(big, SPEC_MAX_TEXT + 1, &s, err, sizeof err) ==
                  -EINVAL, "too long");
        free(big);
    }
    /* A tiny error buffer is truncated, never overrun. */
    char small[8];
    t = "bogus = 1\n";
    CHECK(spec_parse(t, strlen(t), &s, small, sizeof small) == -EINVAL,
          "small");
    CHECK_STR(small, "spec li");
}

int main(void)
{
    test_ok();
    test_errors();
    test_parts();
    return check_done();
}
