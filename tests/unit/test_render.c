/* test_render.c - the catalog's files (catalog.h renderers) for tables
 * built in code, and the catalog round trip through an in-memory state
 * store. */
#include <errno.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "catalog.h"
#include "check.h"

/* The structs hold char *; the tests never write through them. */
#define W(s) ((char *)(s))

static struct column weather_cols[] = {{W("date"), W("date")},
                                       {W("precipitation"), W("double")},
                                       {W("weather"), W("string")}};
static struct column year_key[] = {{W("year"), W("bigint")},
                                   {W("city"), W("string")}};

static struct table_def weather(void)
{
    struct table_def t = {0};
    t.database = W("samples");
    t.name = W("weather");
    t.location = W("s3://samples/weather/");
    snprintf(t.fmt.classification, sizeof t.fmt.classification, "csv");
    snprintf(t.fmt.compression, sizeof t.fmt.compression, "none");
    t.fmt.delimiter = ',';
    t.fmt.header = true;
    t.cols = weather_cols;
    t.ncols = 3;
    t.objects = 2;
    t.bytes = 1000;
    t.record_count = 40;
    t.avg_record_size = 25;
    t.last_crawl = 1700000000;
    t.created = 1700000000;
    t.updated = 1700000000;
    t.crawler = W("default");
    return t;
}

static char *render(int (*fn)(const struct table_def *, struct buf *),
                    const struct table_def *t)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = fn(t, &b);
    CHECK(rc == 0, "render: %d", rc);
    return buf_detach(&b);
}

static void test_schema(void)
{
    struct table_def t = weather();
    char *s = render(render_schema, &t);
    CHECK_STR(s, "date\tdate\nprecipitation\tdouble\nweather\tstring\n");
    free(s);
    t.pkeys = year_key;
    t.npkeys = 2;
    s = render(render_schema, &t);
    CHECK_STR(s, "date\tdate\nprecipitation\tdouble\nweather\tstring\n"
                 "\n# Partition Information\n# col_name\tdata_type\n"
                 "year\tbigint\ncity\tstring\n");
    free(s);
}

static void test_ddl(void)
{
    struct table_def t = weather();
    t.pkeys = year_key;
    t.npkeys = 1;
    char *s = render(render_ddl, &t);
    CHECK_STR(s,
              "CREATE EXTERNAL TABLE `samples`.`weather` (\n"
              "  `date` date,\n"
              "  `precipitation` double,\n"
              "  `weather` string)\n"
              "PARTITIONED BY (\n"
              "  `year` bigint)\n"
              "ROW FORMAT SERDE\n"
              "  'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'\n"
              "WITH SERDEPROPERTIES (\n"
              "  'field.delim'=',')\n"
              "STORED AS INPUTFORMAT\n"
              "  'org.apache.hadoop.mapred.TextInputFormat'\n"
              "OUTPUTFORMAT\n"
              "  'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
              "LOCATION\n"
              "  's3://samples/weather/'\n"
              "TBLPROPERTIES (\n"
              "  'classification'='csv',\n"
              "  'compressionType'='none',\n"
              "  'typeOfData'='file',\n"
              "  'recordCount'='40',\n"
              "  'averageRecordSize'='25',\n"
              "  'objectCount'='2',\n"
              "  'sizeKey'='1000',\n"
              "  'delimiter'=',',\n"
              "  'areColumnsQuoted'='false',\n"
              "  'skip.header.line.count'='1',\n"
              "  'columnsOrdered'='true',\n"
              "  'UPDATED_BY_CRAWLER'='default',\n"
              "  'CrawlerSchemaDeserializerVersion'='1.0',\n"
              "  'CrawlerSchemaSerializerVersion'='1.0');\n");
    free(s);

    /* Odd names are backquoted with '`' doubled; a tab delimiter and the
     * OpenCSVSerde for quoted fields. */
    struct column odd[] = {{W("we`ird name"), W("string")}};
    t.cols = odd;
    t.ncols = 1;
    t.npkeys = 0;
    t.fmt.delimiter = '\t';
    t.fmt.quoted = true;
    t.fmt.header = false;
    t.crawler = NULL;
    s = render(render_ddl, &t);
    CHECK(s && strstr(s, "(\n  `we``ird name` string)\n"), "%s", s);
    CHECK(s && strstr(s, "'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n"
                         "WITH SERDEPROPERTIES (\n"
                         "  'quoteChar'='\"',\n"
                         "  'separatorChar'='\\t')\n"),
          "%s", s);
    CHECK(s && !strstr(s, "skip.header"), "%s", s);
    CHECK(s && !strstr(s, "PARTITIONED"), "%s", s);
    free(s);

    /* JSON and Parquet SerDes. */
    t = weather();
    snprintf(t.fmt.classification, sizeof t.fmt.classification, "json");
    snprintf(t.fmt.compression, sizeof t.fmt.compression, "gzip");
    s = render(render_ddl, &t);
    CHECK(s && strstr(s, "'org.openx.data.jsonserde.JsonSerDe'\n"
                         "WITH SERDEPROPERTIES (\n"
                         "  'paths'='date,precipitation,weather')\n"),
          "%s", s);
    CHECK(s && strstr(s, "'compressionType'='gzip'"), "%s", s);
    CHECK(s && !strstr(s, "'delimiter'"), "%s", s);
    free(s);
    snprintf(t.fmt.classification, sizeof t.fmt.classification, "parquet");
    s = render(render_ddl, &t);
    CHECK(s && strstr(s, "ParquetHiveSerDe'\n") &&
              strstr(s, "'org.apache.hadoop.hive.ql.io.parquet."
                        "MapredParquetInputFormat'\n"),
          "%s", s);
    free(s);
}

static void test_table_json(void)
{
    struct table_def t = weather();
    t.pkeys = year_key;
    t.npkeys = 1;
    char *s = render(render_table_json, &t);
    static const char *const want[] = {
        "\"Name\": \"weather\"",
        "\"Columns\": [\n      {\"Name\": \"date\", \"Type\": \"date\"},",
        "\"Location\": \"s3://samples/weather/\"",
        "\"InputFormat\": \"org.apache.hadoop.mapred.TextInputFormat\"",
        "\"Compressed\": false",
        "\"NumberOfBuckets\": -1",
        "\"SerializationLibrary\": "
        "\"org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe\"",
        "\"field.delim\": \",\"",
        "\"BucketColumns\": []",
        "\"StoredAsSubDirectories\": false",
        "\"PartitionKeys\": [\n    {\"Name\": \"year\", \"Type\": \"bigint\"}\n  ]",
        "\"TableType\": \"EXTERNAL_TABLE\"",
        "\"classification\": \"csv\"",
        "\"skip.header.line.count\": \"1\"",
        "\"recordCount\": \"40\"",
        "\"UPDATED_BY_CRAWLER\": \"default\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(s && strstr(s, want[i]), "missing %s in %s", want[i], s);
    free(s);

    /* Escaping: quotes and backslashes in names; control characters in
     * names become '_' (Glue's NameString pattern refuses them), in
     * parameter values they are escaped (no pattern there). */
    struct column odd[] = {{W("a\"b\\c\x01"), W("string")}};
    t.cols = odd;
    t.ncols = 1;
    t.fmt.delimiter = '\x01';
    s = render(render_table_json, &t);
    CHECK(s && strstr(s, "\"a\\\"b\\\\c_\""), "%s", s);
    CHECK(s && strstr(s, "\"field.delim\": \"\\u0001\""), "%s", s);
    free(s);

    /* Bytes that are not UTF-8 (a Latin-1 header) become U+FFFD, so the
     * document stays JSON; a newline in a name becomes '_' everywhere. */
    struct column latin[] = {{W("caf\xe9"), W("string")},
                             {W("two\nlines"), W("struct<a\tb:int>")}};
    t.cols = latin;
    t.ncols = 2;
    s = render(render_table_json, &t);
    CHECK(s && strstr(s, "\"caf\xef\xbf\xbd\""), "%s", s);
    CHECK(s && strstr(s, "\"two_lines\", \"Type\": \"struct<a_b:int>\""),
          "%s", s);
    free(s);
    s = render(render_schema, &t);
    CHECK(s && strstr(s, "two_lines\tstruct<a_b:int>\n"), "%s", s);
    free(s);
    s = render(render_ddl, &t);
    CHECK(s && strstr(s, "`two_lines` struct<a_b:int>"), "%s", s);
    free(s);

    /* A type longer than Glue's ColumnTypeString (131072) is string. */
    size_t big = 131073;
    char *huge = malloc(big + 1);
    CHECK(huge != NULL, "malloc");
    if (huge) {
        memset(huge, 'x', big);
        huge[big] = '\0';
        struct column hc[] = {{W("h"), huge}};
        t.cols = hc;
        t.ncols = 1;
        s = render(render_table_json, &t);
        CHECK(s && strstr(s, "{\"Name\": \"h\", \"Type\": \"string\"}"), "%s",
              s ? "(long)" : "NULL");
        free(s);
        free(huge);
    }

    /* DEPRECATE_IN_DATABASE: Glue's parameter, epoch milliseconds. */
    t = weather();
    t.deprecated = true;
    t.updated = 1700000000;
    s = render(render_table_json, &t);
    CHECK(s && strstr(s, "\"DEPRECATED_BY_CRAWLER\": \"1700000000000\""), "%s",
          s);
    free(s);
    t.deprecated = false;
    s = render(render_table_json, &t);
    CHECK(s && !strstr(s, "DEPRECATED_BY_CRAWLER"), "%s", s);
    free(s);
    t.cols = odd;

    /* Glue limits a column Name to 255 bytes: a longer one is cut, never
     * inside a UTF-8 sequence ("\xc3\xa9" straddles byte 255 here). */
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    longname[254] = '\xc3';
    longname[255] = '\xa9';
    struct column lc[] = {{longname, W("string")}};
    t.cols = lc;
    s = render(render_table_json, &t);
    const char *p = s ? strstr(s, "{\"Name\": \"") : NULL;
    const char *q = p ? strchr(p + 10, '"') : NULL;
    CHECK(p && q && q - (p + 10) == 254, "cut at %td",
          p && q ? q - (p + 10) : (ptrdiff_t)-1);
    free(s);
}

static int collect(void *ctx, const char *name)
{
    struct buf *b = ctx;
    return buf_printf(b, "%s;", name);
}

static void test_store_and_partitions(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "open");
    CHECK(catalog_init(db) == 0, "init");
    CHECK(catalog_init(db) == 0, "init is idempotent");

    struct table_def t = weather();
    t.pkeys = year_key;
    t.npkeys = 2;
    CHECK(catalog_put_table(db, &t) == 0, "put");
    struct table_def t2 = weather();
    t2.name = W("other");
    t2.database = W("a");
    CHECK(catalog_put_table(db, &t2) == 0, "put");

    struct table_def *got = NULL;
    CHECK(catalog_get_table(db, "samples", "weather", &got) == 0, "get");
    if (got) {
        CHECK_STR(got->location, "s3://samples/weather/");
        CHECK(got->ncols == 3 && got->npkeys == 2, "%zu %zu", got->ncols,
              got->npkeys);
        CHECK_STR(got->cols[1].name, "precipitation");
        CHECK_STR(got->cols[1].type, "double");
        CHECK_STR(got->pkeys[1].name, "city");
        CHECK(got->fmt.delimiter == ',' && got->fmt.header && !got->fmt.quoted,
              "fmt");
        CHECK_STR(got->fmt.classification, "csv");
        CHECK_STR(got->crawler, "default");
        CHECK(got->record_count == 40 && got->bytes == 1000 &&
                  got->objects == 2,
              "counts");
        table_def_free(got);
    }
    CHECK(catalog_get_table(db, "samples", "nope", &got) == -ENOENT, "enoent");

    char *v1[] = {W("2020"), W("seattle")};
    char *v2[] = {W("2021"), W("new york/x")};
    struct partition parts[] = {
        {v2, 2, W("s3://samples/weather/year=2021/city=new york%2Fx/")},
        {v1, 2, W("s3://samples/weather/year=2020/city=seattle/")},
    };
    CHECK(catalog_put_partitions(db, "samples", "weather", parts, 2) == 0,
          "put partitions");
    struct buf b;
    buf_init(&b, 1 << 16);
    CHECK(render_partitions(db, &t, &b) == 0, "render partitions");
    CHECK_STR(b.data,
              "year=2020/city=seattle\ts3://samples/weather/year=2020/"
              "city=seattle/\n"
              "year=2021/city=new york/x\ts3://samples/weather/year=2021/"
              "city=new york%2Fx/\n");
    buf_reset(&b);
    CHECK(catalog_list_databases(db, collect, &b) == 0, "dbs");
    CHECK_STR(b.data, "a;samples;");
    buf_reset(&b);
    CHECK(catalog_list_tables(db, "samples", collect, &b) == 0, "tables");
    CHECK_STR(b.data, "weather;");
    buf_reset(&b);
    CHECK(catalog_delete_table(db, "samples", "weather") == 0, "delete");
    CHECK(catalog_get_table(db, "samples", "weather", &got) == -ENOENT,
          "deleted");
    CHECK(render_partitions(db, &t, &b) == 0 && b.len == 0, "no partitions");
    buf_release(&b);
    sqlite3_close(db);
}

static void test_stats(void)
{
    struct table_def t = weather();
    char *s = render(render_stats, &t);
    CHECK(s && !strncmp(s,
                        "objects: 2\nbytes: 1000\nrecordCount: 40\n"
                        "averageRecordSize: 25\nclassification: csv\n"
                        "compression: none\n"
                        "last_crawl: 2023-11-14T22:13:20Z\n",
                        strlen("objects: 2\nbytes: 1000\nrecordCount: 40\n"
                               "averageRecordSize: 25\nclassification: csv\n"
                               "compression: none\n"
                               "last_crawl: 2023-11-14T22:13:20Z\n")),
          "%s", s);
    free(s);
}

static void test_sanitize(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"Weather", "weather"},
        {"my-bucket.2024", "my_bucket_2024"},
        {"a b/c", "a_b_c"},
        {"ok_name_9", "ok_name_9"},
        {"caf\xc3\xa9", "caf_"},            /* one '_' per character */
        {"\xc3\x9c" "ber", "_ber"},
        {"x\xf0\x9f\x98\x80y", "x_y"},      /* 4-byte character */
        {"caf\xe9", "caf_"},                /* Latin-1, not UTF-8 */
        {"\x80\x80z", "__z"},              /* stray continuation bytes */
        {"Sales Data-2020", "sales_data_2020"},
        {"", ""},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        catalog_sanitize_name(cases[i].in, out, sizeof out);
        CHECK_STR(out, cases[i].want);
    }
    catalog_sanitize_name("abcdef", out, 4);
    CHECK_STR(out, "abc");
    /* Glue's 255: a 300-character folder name gives 255 characters. */
    char longin[301];
    memset(longin, 'A', 300);
    longin[300] = '\0';
    catalog_sanitize_name(longin, out, sizeof out);
    CHECK(strlen(out) == 255 && out[0] == 'a', "%zu", strlen(out));
}

int main(void)
{
    test_schema();
    test_ddl();
    test_table_json();
    test_store_and_partitions();
    test_stats();
    test_sanitize();
    return check_done();
}
