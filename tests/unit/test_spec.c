/* test_spec.c - jobs: spec parsing (transforms/spec.c), a table of specs
 * and the parse each must give or the exact error text; then whole runs
 * (jobs.c, srctab.c, writer.c) over a local store in a temp folder: a
 * table of specs and the status, error and output objects each must give. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "catalog.h"
#include "check.h"
#include "gluefs.h"
#include "jobs.h"
#include "log.h"
#include "spec.h"
#include "state.h"
#include "store.h"

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

/* ---- whole runs --------------------------------------------------------- */

/* The FUSE layer is not here: these two come from fs/fs.c in the mount. */
bool gluefs_bucket_allowed(const struct gluefs *g, const char *bucket)
{
    (void)g;
    return strcmp(bucket, "hidden") != 0;
}

void gluefs_object_changed(const char *bucket, const char *key)
{
    (void)bucket;
    (void)key;
}

static struct store *ST;

static const char weather_csv[] =
    "date,precipitation,temp_max,weather\n"
    "2012-01-01,0.0,12.8,drizzle\n"
    "2012-01-02,10.9,10.6,rain\n"
    "2012/01/03,0.8,11.7,rain\n"
    "2013-01-04,20.3,12.2,rain\n"
    "2013-01-05,1.3,8.9,sun\n"
    "2013-01-06,2.5,4.4,\"rain\"\n"
    "2013-01-07,,7.2,rain\n";

/* Lines of every object under PREFIX whose name starts with "part-",
 * gunzipped if needed, in key order; "|"-joined object names in NAMES. */
struct collect {
    struct buf keys;
};

static int collect_cb(void *ctx, const struct store_entry *e)
{
    struct collect *c = ctx;
    return buf_printf(&c->keys, "%s\n", e->key);
}

static void gunzip(const char *in, size_t n, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 31) != Z_OK)
        return;
    char tmp[4096];
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    int zr;
    do {
        z.next_out = (Bytef *)tmp;
        z.avail_out = sizeof tmp;
        zr = inflate(&z, Z_NO_FLUSH);
        if (buf_append(out, tmp, sizeof tmp - z.avail_out))
            break;
    } while (zr == Z_OK);
    inflateEnd(&z);
}

/* "name name ..." of the objects under PREFIX (relative), and the
 * contents of the part- objects concatenated into DATA. */
static void read_output(const char *bucket, const char *prefix,
                        struct buf *names, struct buf *data)
{
    struct collect c;
    buf_init(&c.keys, 1 << 20);
    ST->ops->list(ST, bucket, prefix, NULL, collect_cb, &c);
    for (char *k = c.keys.data; k && *k;) {
        char *nl = strchr(k, '\n');
        *nl = '\0';
        const char *rel = k + strlen(prefix);
        if (buf_printf(names, "%s%s", names->len ? " " : "", rel))
            break;
        const char *base = strrchr(k, '/');
        base = base ? base + 1 : k;
        if (!strncmp(base, "part-", 5)) {
            char *d = NULL;
            size_t n = 0;
            if (!store_get_all(ST, bucket, k, 1 << 20, &d, &n)) {
                if (n > 2 && (unsigned char)d[0] == 0x1f &&
                    (unsigned char)d[1] == 0x8b)
                    gunzip(d, n, data);
                else if (buf_append(data, d, n))
                    break;
            }
            free(d);
        }
        k = nl + 1;
    }
    buf_release(&c.keys);
}

struct run_case {
    const char *name;
    const char *spec;
    int set_rc;           /* job_set_spec's return */
    const char *state;
    const char *error;    /* exact "error:" value */
    const char *counts;   /* "rows_read rows_written bad_rows", or NULL */
    const char *out;      /* "b/prefix/" to read back, or NULL */
    const char *names;    /* objects under it, space-separated */
    const char *data;     /* the part objects' text, concatenated */
};

#define RAIN "sql = SELECT date, precipitation FROM weather " \
             "WHERE weather = 'rain'\n"

static const struct run_case run_cases[] = {
    /* JSON Lines, typed; "2012/01/03" normalised; NULL stays null. */
    {"rainy", "source = lake.weather\n" RAIN "target = s3://b/rainy/\n"
              "format = json\n",
     0, "SUCCEEDED", "", "7 5 0", "rainy/",
     "_SUCCESS part-1-00000.json",
     "{\"date\":\"2012-01-02\",\"precipitation\":10.9}\n"
     "{\"date\":\"2012-01-03\",\"precipitation\":0.8}\n"
     "{\"date\":\"2013-01-04\",\"precipitation\":20.3}\n"
     "{\"date\":\"2013-01-06\",\"precipitation\":2.5}\n"
     "{\"date\":\"2013-01-07\",\"precipitation\":null}\n"},
    /* CSV with a header, gzip; a copy keeps every column. */
    {"copy", "source = lake.weather\ntarget = s3://b/copy/\nformat = csv\n"
             "compression = gzip\n",
     0, "SUCCEEDED", "", "7 7 0", "copy/", "_SUCCESS part-1-00000.csv.gz",
     "date,precipitation,temp_max,weather\n"
     "2012-01-01,0.0,12.8,drizzle\n"
     "2012-01-02,10.9,10.6,rain\n"
     "2012-01-03,0.8,11.7,rain\n"
     "2013-01-04,20.3,12.2,rain\n"
     "2013-01-05,1.3,8.9,sun\n"
     "2013-01-06,2.5,4.4,rain\n"
     "2013-01-07,,7.2,rain\n"},
    /* Hive partitions, the partition column left out of the rows. */
    {"byyear", "source = lake.weather\n"
               "sql = SELECT date, substr(date, 1, 4) AS year FROM weather\n"
               "      WHERE weather = 'sun' OR date < '2012-01-02'\n"
               "target = s3://b/byyear/\nformat = json\n"
               "partition_by = year\n",
     0, "SUCCEEDED", "", "7 2 0", "byyear/",
     "_SUCCESS year=2012/part-1-00000.json year=2013/part-1-00001.json",
     "{\"date\":\"2012-01-01\"}\n{\"date\":\"2013-01-05\"}\n"},
    /* An s3:// source that the catalog does not know: inferred. */
    {"infer", "source = s3://b/raw/\n"
              "sql = SELECT k, v * 2 AS v2 FROM raw WHERE k > 1\n"
              "target = s3://b/inferred/\nformat = csv\n",
     0, "SUCCEEDED", "", "3 2 0", "inferred/",
     "_SUCCESS part-1-00000.csv", "k,v2\n2,5.0\n3,7.0\n"},
    /* A join of two sources by alias. */
    {"join", "source.w = lake.weather\nsource.r = s3://b/raw/\n"
             "sql = SELECT w.date, r.v FROM w JOIN r ON r.k = "
             "CAST(substr(w.date, 10, 1) AS INTEGER)\n"
             "      WHERE w.weather = 'rain' ORDER BY 1\n"
             "target = s3://b/joined/\nformat = csv\n",
     0, "SUCCEEDED", "", "10 2 0", "joined/", "_SUCCESS part-1-00000.csv",
     "date,v\n2012-01-02,2.5\n2012-01-03,3.5\n"},
    /* A self-join reads its one source once, not once per row. */
    {"selfjoin", "source = lake.weather\n"
                 "sql = SELECT a.date, b.weather AS prev FROM weather a\n"
                 "      JOIN weather b ON b.date = date(a.date, '-1 day')\n"
                 "      ORDER BY 1\n"
                 "target = s3://b/self/\nformat = csv\n",
     0, "SUCCEEDED", "", "7 5 0", "self/", "_SUCCESS part-1-00000.csv",
     "date,prev\n2012-01-02,drizzle\n2012-01-03,rain\n2013-01-05,rain\n"
     "2013-01-06,sun\n2013-01-07,rain\n"},
    /* Rows with a bad field count or a bad value are counted. */
    {"badrows", "source = lake.bad\ntarget = s3://b/badout/\n"
                "format = json\n",
     0, "SUCCEEDED", "", "4 4 2", "badout/", "_SUCCESS part-1-00000.json",
     "{\"n\":1,\"s\":\"a\"}\n{\"n\":null,\"s\":\"b\"}\n"
     "{\"n\":3,\"s\":null}\n{\"n\":4,\"s\":\"d\"}\n"},
    /* Untrusted SQL cannot reach outside. */
    {"attach", "source = lake.weather\n"
               "sql = ATTACH DATABASE '/tmp/gluefs-evil.db' AS evil\n"
               "target = s3://b/evil/\n",
     0, "FAILED", "sql: ATTACH is not allowed: a job's sql is one SELECT "
     "over its sources (not authorized)", NULL, "evil/", "", ""},
    {"loadext", "source = lake.weather\n"
                "sql = SELECT load_extension('/tmp/gluefs-evil.so')\n"
                "target = s3://b/evil/\n",
     0, "FAILED", "sql: load_extension() is not allowed: a job's sql is one "
     "SELECT over its sources (not authorized to use function: "
     "load_extension)", NULL, "evil/", "", ""},
    {"pragma", "source = lake.weather\nsql = PRAGMA table_info(weather)\n"
               "target = s3://b/evil/\n",
     0, "FAILED", "sql: PRAGMA is not allowed: a job's sql is one SELECT "
     "over its sources (not authorized)", NULL, "evil/", "", ""},
    {"vacuum", "source = lake.weather\n"
               "sql = VACUUM INTO '/tmp/gluefs-evil.db'\n"
               "target = s3://b/evil/\n",
     0, "FAILED", "sql: only a SELECT is allowed, not VACUUM", NULL,
     "evil/", "", ""},
    {"twostmts", "source = lake.weather\nsql = SELECT 1; SELECT 2\n"
                 "target = s3://b/evil/\n",
     0, "FAILED", "sql: only one statement is allowed (a SELECT)", NULL,
     "evil/", "", ""},
    /* A bad spec fails at once; a missing table when the run starts. */
    {"badspec", "source = lake.weather\ntarget = s3://b/x/\nfromat = csv\n",
     -EINVAL, "FAILED", "spec line 3: unknown key 'fromat'", NULL, NULL,
     NULL, NULL},
    {"notable", "source = lake.nosuch\ntarget = s3://b/x/\n",
     0, "FAILED", "source 'lake.nosuch': no such table in the catalog "
     "(see catalog/lake/)", NULL, NULL, NULL, NULL},
    {"overlap", "source = s3://b/raw/\ntarget = s3://b/raw/out/\n",
     0, "FAILED", "target 's3://b/raw/out/' overlaps source 's3://b/raw/' "
     "(s3://b/raw/): a job cannot write where it reads", NULL, NULL, NULL,
     NULL},
    {"pby", "source = lake.weather\ntarget = s3://b/x/\n"
            "partition_by = nope\n",
     0, "FAILED", "partition_by column 'nope' is not a column of the result "
     "(date, precipitation, temp_max, weather)", NULL, NULL, NULL, NULL},
    {"hidden", "source = lake.weather\ntarget = s3://hidden/x/\n",
     0, "FAILED", "target 's3://hidden/x/': bucket 'hidden' is not among "
     "the mount's buckets", NULL, NULL, NULL, NULL},
    /* error_if_exists refuses a target with objects. */
    {"exists", "source = lake.weather\ntarget = s3://b/rainy/\n"
               "mode = error_if_exists\n",
     0, "FAILED", "target 's3://b/rainy/' already holds objects (e.g. "
     "'s3://b/rainy/_SUCCESS'), and mode is error_if_exists", NULL,
     "rainy/", "_SUCCESS part-1-00000.json", NULL},
    /* A broken object fails the run and leaves no parts behind. */
    {"broken", "source = lake.broken\ntarget = s3://b/brokenout/\n"
               "format = json\n",
     0, "FAILED", NULL, NULL, "brokenout/", "", ""},
};

static void status_field(const char *text, const char *key, char *out,
                         size_t n)
{
    out[0] = '\0';
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t ln = nl ? (size_t)(nl - p) : strlen(p);
        if (ln > kl + 1 && !strncmp(p, key, kl) && p[kl] == ':') {
            const char *v = p + kl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, n, "%.*s", (int)(ln - (size_t)(v - p)), v);
            return;
        }
        p = nl ? nl + 1 : NULL;
    }
}

static void put(const char *bucket, const char *key, const char *data,
                size_t n)
{
    int rc = ST->ops->put(ST, bucket, key, data, n, NULL);
    CHECK(rc == 0, "put %s/%s: %d", bucket, key, rc);
}

static void run_case(const struct run_case *c)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = job_create(c->name);
    CHECK(rc == 0, "%s: create %d", c->name, rc);
    rc = job_set_spec(c->name, c->spec, strlen(c->spec));
    CHECK(rc == c->set_rc, "%s: set_spec %d, want %d", c->name, rc,
          c->set_rc);
    rc = job_wait(c->name, &b);
    CHECK(rc == 0, "%s: wait %d", c->name, rc);
    char v[1024];
    status_field(b.data, "state", v, sizeof v);
    CHECK(!strcmp(v, c->state), "%s: state %s, want %s\n%s", c->name, v,
          c->state, b.data);
    status_field(b.data, "error", v, sizeof v);
    if (c->error)
        CHECK_STR(v, c->error);
    else
        CHECK(!strncmp(v, "cannot read 's3://b/broken/", 27), "%s: %s",
              c->name, v);
    if (c->counts) {
        char r[64], w[64], bad[64], got[200];
        status_field(b.data, "rows_read", r, sizeof r);
        status_field(b.data, "rows_written", w, sizeof w);
        status_field(b.data, "bad_rows", bad, sizeof bad);
        snprintf(got, sizeof got, "%s %s %s", r, w, bad);
        CHECK(!strcmp(got, c->counts), "%s: counts %s, want %s", c->name,
              got, c->counts);
    }
    if (c->out) {
        struct buf names, data;
        buf_init(&names, 1 << 20);
        buf_init(&data, 1 << 20);
        read_output("b", c->out, &names, &data);
        CHECK_STR(names.data ? names.data : "", c->names);
        if (c->data)
            CHECK_STR(data.data ? data.data : "", c->data);
        buf_release(&names);
        buf_release(&data);
    }
    buf_release(&b);
}

/* A csv table lake.NAME at LOC with columns "name:type,name:type". */
static void put_table(sqlite3 *db, const char *name, const char *loc,
                      const char *colspec)
{
    struct table_def t;
    memset(&t, 0, sizeof t);
    char dbname[] = "lake";
    char *nm = strdup(name), *lc = strdup(loc), *cs = strdup(colspec);
    struct column cols[16];
    size_t n = 0;
    for (char *p = cs; p && *p && n < 16;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *colon = strchr(p, ':');
        *colon = '\0';
        cols[n].name = p;
        cols[n].type = colon + 1;
        n++;
        p = comma ? comma + 1 : NULL;
    }
    t.database = dbname;
    t.name = nm;
    t.location = lc;
    snprintf(t.fmt.classification, sizeof t.fmt.classification, "csv");
    snprintf(t.fmt.compression, sizeof t.fmt.compression, "none");
    t.fmt.delimiter = ',';
    t.fmt.header = true;
    t.cols = cols;
    t.ncols = n;
    CHECK(catalog_put_table(db, &t) == 0, "put table %s", name);
    free(nm);
    free(lc);
    free(cs);
}

static void test_runs(void)
{
    char dir[] = "/tmp/gluefs-test-jobs-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char root[64], state[64], cmd[256];
    snprintf(root, sizeof root, "%s/lake", dir);
    snprintf(state, sizeof state, "%s/state", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s/b %s/hidden", root, root);
    CHECK(system(cmd) == 0, "mkdir");
    char err[256];
    CHECK(store_local_new(root, &ST, err, sizeof err) == 0, "store: %s", err);
    sqlite3 *db = NULL;
    CHECK(state_open(state, &db) == 0 && catalog_init(db) == 0, "state");
    if (!ST || !db)
        return;
    put("b", "weather/w.csv", weather_csv, strlen(weather_csv));
    const char raw[] = "k,v\n1,1.5\n2,2.5\n3,3.5\n";
    put("b", "raw/r.csv", raw, strlen(raw));
    put("b", "raw/_SUCCESS", "", 0); /* skipped: starts with '_' */
    const char bad[] = "n,s\n1,a\nx,b\n3\n4,d\n";
    put("b", "bad/x.csv", bad, strlen(bad));
    const char broken[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
                          "garbage that is not deflate";
    put("b", "broken/x.csv.gz", broken, sizeof broken - 1);
    put_table(db, "weather", "s3://b/weather/",
              "date:date,precipitation:double,temp_max:double,"
              "weather:string");
    put_table(db, "bad", "s3://b/bad/", "n:bigint,s:string");
    put_table(db, "broken", "s3://b/broken/", "n:bigint,s:string");

    struct gluefs g = {.store = ST, .db = db};
    CHECK(jobs_start(&g) == 0, "jobs_start");
    for (size_t i = 0; i < sizeof run_cases / sizeof run_cases[0]; i++)
        run_case(&run_cases[i]);

    /* overwrite: a failing run keeps the old objects, a good one
     * replaces them; the log names each step. */
    const char *ow = "source = lake.weather\n" RAIN
                     "target = s3://b/rainy/\nmode = overwrite\n";
    const struct run_case fail_ow = {
        "ow", "source = lake.weather\nsql = SELECT nosuch FROM weather\n"
              "target = s3://b/rainy/\nmode = overwrite\n",
        0, "FAILED", "sql: no such column: nosuch", NULL, "rainy/",
        "_SUCCESS part-1-00000.json", NULL};
    run_case(&fail_ow);
    CHECK(job_set_spec("ow", ow, strlen(ow)) == 0, "ow");
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK(job_wait("ow", &b) == 0 && strstr(b.data, "state: SUCCEEDED\n"),
          "%s", b.data);
    buf_reset(&b);
    struct buf names, data;
    buf_init(&names, 4096);
    buf_init(&data, 1 << 20);
    read_output("b", "rainy/", &names, &data);
    CHECK_STR(names.data, "_SUCCESS part-2-00000.csv");
    buf_release(&names);
    buf_release(&data);
    CHECK(job_read_log("ow", &b) == 0 && b.data &&
              strstr(b.data, " started run 2\n") &&
              strstr(b.data, "mode overwrite: deleted 1 old object\n") &&
              strstr(b.data, " succeeded: "),
          "log:\n%s", b.data ? b.data : "");
    buf_reset(&b);
    /* append twice: the second run adds its part */
    const char *app = "source = lake.weather\n" RAIN
                      "target = s3://b/app/\nformat = json\n";
    CHECK(job_create("app") == 0, "app");
    CHECK(job_set_spec("app", app, strlen(app)) == 0, "app");
    CHECK(job_wait("app", &b) == 0, "wait");
    CHECK(job_ctl("app", "run\n", 4) == 0, "ctl run");
    buf_reset(&b);
    CHECK(job_wait("app", &b) == 0 && strstr(b.data, "run: 2\n"), "%s",
          b.data);
    buf_init(&names, 4096);
    buf_init(&data, 1 << 20);
    read_output("b", "app/", &names, &data);
    CHECK_STR(names.data,
              "_SUCCESS part-1-00000.json part-2-00000.json");
    buf_release(&names);
    buf_release(&data);
    /* control files */
    CHECK(job_ctl("app", "explode", 7) == -EINVAL, "bad ctl");
    CHECK(job_ctl("nosuch", "run", 3) == -ENOENT, "no job");
    CHECK(job_create("app") == -EEXIST, "exists");
    CHECK(job_create("a/b") == -EINVAL, "bad name");
    buf_reset(&b);
    CHECK(job_read_spec("app", &b) == 0 && !strcmp(b.data, app), "spec");
    CHECK(job_remove("app") == 0 && job_exists("app") == -ENOENT, "rm");
    /* A spec rejected keeps the previous one. */
    CHECK(job_set_spec("rainy", "bogus\n", 6) == -EINVAL, "bogus");
    buf_reset(&b);
    CHECK(job_read_spec("rainy", &b) == 0 && strstr(b.data, "rainy/"),
          "kept");
    buf_release(&b);
    jobs_shutdown();
    state_close(db);
    ST->ops->free(ST);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
    /* Failed runs are expected below: their warnings are the statuses
     * checked, not noise for the test log. */
    log_level = LOG_ERR;
    test_ok();
    test_errors();
    test_parts();
    test_runs();
    return check_done();
}
