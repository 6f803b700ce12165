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

/* timestamp.formats: the Joda patterns of the forms Hive's default does
 * not read, written for LazySimpleSerDe tables with a timestamp column. */
static void test_timestamp_formats(void)
{
    char out[512];
    /* Hive's default reads yyyy-MM-dd HH:mm:ss[.f]: no pattern */
    uint32_t dflt = ts_form_bit(false, false, TS_FORM_PREC_SEC, false) |
                    ts_form_bit(false, false, TS_FORM_PREC_FRAC, false);
    CHECK(catalog_timestamp_formats(dflt, out, sizeof out) == 0 &&
              out[0] == '\0',
          "%s", out);
    CHECK(catalog_timestamp_formats(0, out, sizeof out) == 0, "none");
    uint32_t slash = ts_form_bit(true, false, TS_FORM_PREC_SEC, false);
    CHECK(catalog_timestamp_formats(slash | dflt, out, sizeof out) == 1,
          "slash");
    CHECK_STR(out, "yyyy/MM/dd HH:mm:ss");
    uint32_t iso = ts_form_bit(false, true, TS_FORM_PREC_SEC, true) |
                   ts_form_bit(false, true, TS_FORM_PREC_FRAC, true) |
                   ts_form_bit(false, false, TS_FORM_PREC_MIN, false);
    CHECK(catalog_timestamp_formats(iso | TS_FORM_DATE | slash, out,
                                    sizeof out) == 5,
          "iso");
    CHECK_STR(out, "yyyy-MM-dd HH:mm,yyyy-MM-dd'T'HH:mm:ssZZ,"
                   "yyyy-MM-dd'T'HH:mm:ss.SSSZZ,yyyy/MM/dd HH:mm:ss,"
                   "yyyy-MM-dd");
    uint32_t t_plain = ts_form_bit(false, true, TS_FORM_PREC_MIN, false) |
                       ts_form_bit(true, false, TS_FORM_PREC_FRAC, true);
    CHECK(catalog_timestamp_formats(t_plain, out, sizeof out) == 2, "t");
    CHECK_STR(out, "yyyy-MM-dd'T'HH:mm,yyyy/MM/dd HH:mm:ss.SSSZZ");
    /* the cap keeps whole patterns only */
    CHECK(catalog_timestamp_formats(iso, out, 42) == 2, "cap");
    CHECK_STR(out, "yyyy-MM-dd HH:mm,yyyy-MM-dd'T'HH:mm:ssZZ");
    /* every form fits the SerDe parameter's 512 bytes */
    CHECK(catalog_timestamp_formats(0x1ffffffu, out, sizeof out) == 17,
          "all: %s", out);

    /* table.json and ddl.sql of a LazySimpleSerDe table */
    struct column cols[] = {{W("day"), W("date")}, {W("at"), W("timestamp")}};
    struct table_def t = weather();
    t.cols = cols;
    t.ncols = 2;
    t.fmt.ts_forms = slash | ts_form_bit(false, true, TS_FORM_PREC_SEC, true);
    char *s = render(render_ddl, &t);
    CHECK(s && strstr(s, "WITH SERDEPROPERTIES (\n"
                         "  'field.delim'=',',\n"
                         "  'timestamp.formats'='yyyy-MM-dd\\'T\\'HH:mm:ssZZ,"
                         "yyyy/MM/dd HH:mm:ss')\n"),
          "%s", s);
    free(s);
    s = render(render_table_json, &t);
    CHECK(s && strstr(s, "\"timestamp.formats\": \"yyyy-MM-dd'T'HH:mm:ssZZ,"
                         "yyyy/MM/dd HH:mm:ss\""),
          "%s", s);
    free(s);
    /* no timestamp column: no parameter (dates need none, and slashed
     * dates are typed string) */
    cols[1].type = W("string");
    s = render(render_table_json, &t);
    CHECK(s && !strstr(s, "timestamp.formats"), "%s", s);
    free(s);
    cols[1].type = W("timestamp");
    /* forms Hive reads by default: no parameter */
    t.fmt.ts_forms = dflt;
    s = render(render_ddl, &t);
    CHECK(s && !strstr(s, "timestamp.formats"), "%s", s);
    free(s);
    /* OpenCSVSerde has no such parameter */
    t.fmt.ts_forms = slash;
    t.fmt.quoted = true;
    s = render(render_ddl, &t);
    CHECK(s && strstr(s, "OpenCSVSerde") && !strstr(s, "timestamp.formats"),
          "%s", s);
    free(s);
    s = render(render_table_json, &t);
    CHECK(s && !strstr(s, "timestamp.formats"), "%s", s);
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
    t.fmt.ts_forms = TS_FORM_DATE | ts_form_bit(true, false, 1, false);
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
        CHECK(got->fmt.ts_forms == t.fmt.ts_forms, "ts_forms %x",
              (unsigned)got->fmt.ts_forms);
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

/* A state store made before ts_forms existed gets the column. */
static void test_old_store(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK, "open");
    CHECK(sqlite3_exec(db,
                       "CREATE TABLE catalog_tables ("
                       " database TEXT NOT NULL, name TEXT NOT NULL,"
                       " location TEXT NOT NULL,"
                       " classification TEXT NOT NULL,"
                       " compression TEXT NOT NULL,"
                       " delimiter INTEGER NOT NULL DEFAULT 0,"
                       " header INTEGER NOT NULL DEFAULT 0,"
                       " quoted INTEGER NOT NULL DEFAULT 0,"
                       " objects INTEGER NOT NULL DEFAULT 0,"
                       " bytes INTEGER NOT NULL DEFAULT 0,"
                       " record_count INTEGER NOT NULL DEFAULT 0,"
                       " avg_record_size REAL NOT NULL DEFAULT 0,"
                       " created INTEGER NOT NULL DEFAULT 0,"
                       " updated INTEGER NOT NULL DEFAULT 0,"
                       " last_crawl INTEGER NOT NULL DEFAULT 0, crawler TEXT,"
                       " deprecated INTEGER NOT NULL DEFAULT 0,"
                       " PRIMARY KEY (database, name));"
                       "INSERT INTO catalog_tables (database, name, location,"
                       " classification, compression) VALUES ('d', 't',"
                       " 's3://b/t/', 'csv', 'none');",
                       NULL, NULL, NULL) == SQLITE_OK,
          "old schema");
    CHECK(catalog_init(db) == 0, "init adds ts_forms");
    struct table_def *got = NULL;
    CHECK(catalog_get_table(db, "d", "t", &got) == 0, "get old row");
    CHECK(got && got->fmt.ts_forms == 0, "old row: no forms");
    table_def_free(got);
    struct table_def t = weather();
    t.fmt.ts_forms = 5;
    CHECK(catalog_put_table(db, &t) == 0, "put");
    CHECK(catalog_get_table(db, "samples", "weather", &got) == 0, "get");
    CHECK(got && got->fmt.ts_forms == 5, "forms kept");
    table_def_free(got);
    CHECK(catalog_add_column(db, "catalog_tables", "ts_forms",
                             "INTEGER NOT NULL DEFAULT 0") == 0,
          "adding it again is a no-op");
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
    test_timestamp_formats();
    test_store_and_partitions();
    test_old_store();
    test_stats();
    test_sanitize();
    return check_done();
}
