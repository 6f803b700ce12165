/* test_infer.c - classification and schema inference (catalog/infer.h).
 *
 * Tables of (sample, expected classification, delimiter, header, schema)
 * for infer_sample; of (value, type) for infer_text_type; of (a, b,
 * merged) for hive_type_merge.  Then every prefix of a CSV and of two
 * JSON samples as a truncated sample (records and sample_bytes exact), the
 * column and field caps, and the real files of vega-datasets (what the
 * integration tests crawl), when installed under tools/node_modules: set
 * INFER_VERBOSE=1 to print every schema. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "check.h"
#include "infer.h"

/* "name:type,name:type" of R's columns into OUT. */
static void schema_text(const struct infer_result *r, char *out, size_t n)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->ncols; i++)
        rc = buf_printf(&b, "%s%s:%s", i ? "," : "", r->cols[i].name,
                        r->cols[i].type);
    snprintf(out, n, "%s", rc == 0 && b.data ? b.data : "");
    buf_release(&b);
}

/* ------------------------------------------------------------------ */

struct sample_case {
    const char *what;
    const char *in;
    size_t len;        /* 0: strlen(in) */
    bool truncated;
    const char *cls;   /* "csv", "json", "UNKNOWN" */
    char delim;        /* csv */
    int header;        /* csv: 0/1; -1 any */
    const char *want;  /* schema, or for UNKNOWN a part of the reason */
    long records;      /* -1: any */
    long sample_bytes; /* -1: any; 0: the whole input */
    int quoted;        /* csv: 0/1; -1 any */
};

static const struct sample_case samples[] = {
    /* ---- rejected first */
    {"empty", "", 0, false, "UNKNOWN", 0, -1, "empty object", 0, -1, -1},
    {"nul bytes", "ab\0cd\n", 6, false, "UNKNOWN", 0, -1,
     "binary data (NUL bytes at offset 2)", 0, -1, -1},
    {"invalid utf-8", "a,b\n1,\xff\n", 0, false, "UNKNOWN", 0, -1,
     "binary data (invalid UTF-8 at offset 6)", 0, -1, -1},
    {"overlong utf-8", "a\n\xc0\xaf\n", 0, false, "UNKNOWN", 0, -1,
     "invalid UTF-8 at offset 2", 0, -1, -1},
    {"utf-8 cut by the sample end", "name,n\ncaf\xc3\xa9,1\nx\xc3", 0, true,
     "csv", ',', 1, "name:string,n:bigint", 1, 15, 0},
    {"utf-8 cut but not truncated", "a\nb\xc3", 0, false, "UNKNOWN", 0, -1,
     "invalid UTF-8 at offset 3", 0, -1, -1},
    {"white space only", " \n\n", 0, false, "UNKNOWN", 0, -1, "no records",
     0, -1, -1},

    /* ---- CSV: delimiters */
    {"csv header over numbers", "a,b\n1,x\n2,y\n", 0, false, "csv", ',', 1,
     "a:bigint,b:string", 2, 0, 0},
    {"quoted commas and newlines",
     "id,text\n1,\"hello, world\"\n2,\"line1\nline2\"\n3,plain\n", 0, false,
     "csv", ',', 1, "id:bigint,text:string", 3, 0, 1},
    {"doubled quotes", "k,v\n1,\"say \"\"hi\"\"\"\n2,x\n", 0, false, "csv",
     ',', 1, "k:bigint,v:string", 2, 0, 1},
    {"crlf", "x,y\r\n1,2.5\r\n3,4\r\n", 0, false, "csv", ',', 1,
     "x:bigint,y:double", 2, 0, 0},
    {"lone cr line ends", "x,y\r1,2.5\r3,4\r", 0, false, "csv", ',', 1,
     "x:bigint,y:double", 2, 0, 0},
    {"lone cr, truncated", "x,y\r1,2.5\r3,4\r5,", 0, true, "csv", ',', 1,
     "x:bigint,y:double", 2, 14, 0},
    {"crlf inside quotes, truncated",
     "x,y\r\n1,\"a\r\nb\"\r\n2,\"c\rd\"\r\n3,\"e", 0, true, "csv", ',', 1,
     "x:bigint,y:string", 2, 24, 1},
    {"bom", "\xef\xbb\xbfName,N\nfoo,1\nbar,2\n", 0, false, "csv", ',', 1,
     "name:string,n:bigint", 2, 0, 0},
    {"tsv", "id\trate\n1001\t.097\n1003\t.091\n", 0, false, "csv", '\t', 1,
     "id:bigint,rate:double", 2, 0, 0},
    {"tsv with commas in text", "name\tnote\nbob\thello, world\nann\tx\n",
     0, false, "csv", '\t', 1, "name:string,note:string", 2, 0, 0},
    {"pipe", "a|b|c\n1|2|x\n3|4|y\n", 0, false, "csv", '|', 1,
     "a:bigint,b:bigint,c:string", 2, 0, 0},
    {"pipe with commas inside", "a|b|c\n1|2,5|x\n3|4,5|y\n", 0, false, "csv",
     '|', 1, "a:bigint,b:string,c:string", 2, 0, 0},
    {"semicolon, decimal commas", "a;b\n1,5;2\n3,5;4\n7,25;8\n", 0, false,
     "csv", ';', 1, "a:string,b:bigint", 3, 0, 0},
    {"ctrl-a (hive default)", "1\x01" "a\x01true\n2\x01" "b\x01" "false\n",
     0, false, "csv", '\x01', 0, "col0:bigint,col1:string,col2:boolean", 2,
     0, 0},

    /* ---- CSV: headers */
    {"all text, header (case, categorical)",
     "city,state,country\nSeattle,WA,USA\nPortland,OR,USA\nBoston,MA,USA\n"
     "Austin,TX,USA\nDenver,CO,USA\n",
     0, false, "csv", ',', 1, "city:string,state:string,country:string", 5,
     0, 0},
    {"all text, header (codes with digits)",
     "iata,name\n00M,Thigpen\n00R,Livingston Municipal\n01G,Perry-Warsaw\n", 0,
     false, "csv", ',', 1, "iata:string,name:string", 3, 0, 0},
    {"all text, header (long free text)",
     "user,comment\nann,\"this was a great product, I would buy it again\"\n"
     "bob,terrible service and the package arrived two weeks late\n",
     0, false, "csv", ',', 1, "user:string,comment:string", 2, 0, 1},
    {"all text, header (Title over Title, by its words)",
     "Name,City\nAlice,Seattle\nBob,New York\nCarol,Portland\n", 0, false,
     "csv", ',', 1, "name:string,city:string", 3, 0, 0},
    {"all text, header (words in camelCase and snake_case)",
     "FirstName,zip_code\nAlice,\"Ninety, One\"\nBob,Two\n", 0, false,
     "csv", ',', 1, "firstname:string,zip_code:string", 2, 0, 1},
    /* (d) Wide tables name columns by year (World Bank, OECD exports). */
    {"wide table: years as column names",
     "Country Name,Country Code,1960,1961\nAruba,ABW,54608,55811\n"
     "Africa Eastern,AFE,130692579,134169237\n", 0, false, "csv", ',', 1,
     "country name:string,country code:string,1960:bigint,1961:bigint", 2, 0,
     0},
    {"wide table: years over doubles", "country,2000,2001\nUSA,1.5,2.5\n"
     "France,2,3.5\n", 0, false, "csv", ',', 1,
     "country:string,2000:double,2001:double", 2, 0, 0},
    {"not a header: years over years", "a,1999,2000\nb,2001,2002\n"
     "c,2003,2004\n", 0, false, "csv", ',', 0,
     "col0:string,col1:bigint,col2:bigint", 3, 0, 0},
    {"not a header: years not rising", "x,2001,2000\ny,1.5,2\nz,3,4\n", 0,
     false, "csv", ',', 0, "col0:string,col1:double,col2:bigint", 3, 0, 0},
    {"not a header: one year", "x,2001\ny,1.5\nz,3\n", 0, false, "csv",
     ',', 0, "col0:string,col1:double", 3, 0, 0},
    /* Ragged right: exports that leave trailing empty fields out under a
     * full header (distro-info's debian.csv); missing fields are NULL. */
    {"ragged right under a wider header",
     "version,codename,created,eol,eol-lts\n1.1,Buzz,1993-08-16,1997-06-05\n"
     "1.2,Rex,1996-06-17\n2.0,Hamm,1998-07-24,2000-03-09\n"
     "7,Wheezy,2011-02-06,2016-04-25,2018-05-31\n8,Jessie,2013-05-04\n",
     0, false, "csv", ',', 1,
     "version:double,codename:string,created:date,eol:date,eol-lts:date", 5,
     0, 0},
    {"ragged right, semicolons", "a;b;c;d\n1;x\n2;y;2.5\n3;z\n", 0, false,
     "csv", ';', 1, "a:bigint,b:string,c:double,d:string", 3, 0, 0},
    {"not ragged: a data row wider than the first",
     "a,b\n1,2\n3\n4,5,6\n7,8\n", 0, false, "UNKNOWN", 0, -1,
     "inconsistent field counts", 0, -1, -1},
    {"not ragged: the wide first row is not names",
     "1,2,3,4\n5,6\n7,8\n9,10\n", 0, false, "csv", ',', 0,
     "col0:bigint,col1:bigint", 4, 0, 0},
    /* Rule (a) when a few text values spoil a typed column: the header
     * must still be found (regression: col0, col1 before). */
    {"header over a mostly numeric column spoiled by text",
     "a,b\n1,x\n2,y\nfoo,z\n", 0, false, "csv", ',', 1,
     "a:string,b:string", 3, 0, 0},
    {"header over numbers with NA markers", "a,b\nNULL,1\nnull,2\n3,NA\n",
     0, false, "csv", ',', 1, "a:string,b:string", 3, 0, 0},
    {"header: one column typed, one spoiled by text",
     "x,y\n1,2\n3,4\nfoo,5\n", 0, false, "csv", ',', 1,
     "x:string,y:bigint", 3, 0, 0},
    {"all text, no header (header words in the data too)",
     "name,city\nstate,country\ntitle,code\n", 0, false, "csv", ',', 0,
     "col0:string,col1:string", 3, 0, 0},
    {"free text with a header word, no header",
     "Make it so\nand then go home\nwhere the river bends\n", 0, false,
     "csv", ',', 0, "col0:string", 3, 0, 0},
    {"all text, no header (names everywhere)",
     "alice,paris\nbob,london\ncarol,rome\n", 0, false, "csv", ',', 0,
     "col0:string,col1:string", 3, 0, 0},
    {"all text, no header (categorical first row repeats)",
     "rain,Seattle\nsun,Portland\nrain,Boston\nsun,Austin\nrain,Denver\n", 0,
     false, "csv", ',', 0, "col0:string,col1:string", 5, 0, 0},
    {"lines of free words", "the quick brown fox\njumps over\nthe lazy dog\n"
     "and runs away\nfrom the hunter in the woods\n",
     0, false, "csv", ',', 0, "col0:string", 5, 0, 0},
    {"free text, first line short", "hello\nthis is a longer line of text\n"
     "and another one that goes on\n",
     0, false, "csv", ',', 0, "col0:string", 3, 0, 0},
    {"single column with header", "value\n1\n2\n3\n", 0, false, "csv", ',', 1,
     "value:bigint", 3, 0, 0},
    {"single column, no header", "1\n2\n3\n", 0, false, "csv", ',', 0,
     "col0:bigint", 3, 0, 0},
    {"single column of names (lookup_people)",
     "name\nAlan\nGeorge\nFred\nSteve\n", 0, false, "csv", ',', 1,
     "name:string", 4, 0, 0},
    {"single column of capitalised words, no header",
     "Alan\nGeorge\nFred\nSteve\n", 0, false, "csv", ',', 0, "col0:string",
     4, 0, 0},
    {"sentences, no header", "It was a dark night.\nThe rain fell.\n"
     "Nobody came home.\n",
     0, false, "csv", ',', 0, "col0:string", 3, 0, 0},
    {"single column of codes", "code\nA1\nB2\nC3\n", 0, false, "csv", ',', 1,
     "code:string", 3, 0, 0},
    {"header only", "id,name,created_at\n", 0, false, "csv", ',', 1,
     "id:string,name:string,created_at:string", 0, 0, 0},
    {"numeric first row is data", "1,2\n3,4\n", 0, false, "csv", ',', 0,
     "col0:bigint,col1:bigint", 2, 0, 0},
    {"empty and duplicate names", ",a,A,b\n1,2,3,4\n5,6,7,8\n", 0, false, "csv",
     ',', 1, "col0:bigint,a:bigint,a_1:bigint,b:bigint", 2, 0, 0},
    {"names kept but lower-cased", "Temp Max,Wind (m/s)\n1.5,2\n", 0, false,
     "csv", ',', 1, "temp max:double,wind (m/s):bigint", 1, 0, 0},

    /* ---- CSV: types */
    {"leading zeros are text", "zip,n,f\n00501,0,0.5\n01234,7,10.25\n", 0,
     false, "csv", ',', 1, "zip:string,n:bigint,f:double", 2, 0, 0},
    {"empty values are no evidence", "a,b,c,d\n1,,x,\n,2.5,,\n3,,,\n", 0,
     false, "csv", ',', 1, "a:bigint,b:double,c:string,d:string", 3, 0, 0},
    {"quoted empty is no evidence either", "a,b\n\"\",1\n\"2\",\"\"\n", 0,
     false, "csv", ',', 1, "a:bigint,b:bigint", 2, 0, 1},
    {"hive null \\N", "a,b\n1,\\N\n2,3\n", 0, false, "csv", ',', 1,
     "a:bigint,b:bigint", 2, 0, 0},
    {"dates and timestamps",
     "d,t,z\n2015-01-01,2015-01-01 10:00:00,2015-01-01T10:00:00Z\n"
     "2015-02-28,2015-01-01 10:00,2016-02-29T23:59:59.123+05:30\n",
     0, false, "csv", ',', 1, "d:date,t:timestamp,z:timestamp", 2, 0, 0},
    {"slashed dates alone are text (Hive has no DATE format for them)",
     "d,n\n2015/01/01,1\n2015/12/31,2\n", 0, false, "csv", ',', 1,
     "d:string,n:bigint", 2, 0, 0},
    {"slashed date and slashed timestamp -> string",
     "d,n\n2015/01/01,1\n2015/12/31 10:00:00,2\n", 0, false, "csv", ',', 1,
     "d:string,n:bigint", 2, 0, 0},
    {"slash timestamps (github.csv)",
     "time,count\n2015/01/01 01:00:00,2\n2015/01/01 04:00:00,3\n", 0, false,
     "csv", ',', 1, "time:timestamp,count:bigint", 2, 0, 0},
    {"date and timestamp widen", "when\n2015-01-01\n2015-01-02 03:04:05\n", 0,
     false, "csv", ',', 1, "when:timestamp", 2, 0, 0},
    {"invalid dates are text", "d,n\n2015-02-30,1\n2015-13-01,2\n", 0, false,
     "csv", ',', 1, "d:string,n:bigint", 2, 0, 0},
    {"booleans any case", "flag,n\nTRUE,1\nfalse,2\nTrue,3\n", 0, false,
     "csv", ',', 1, "flag:boolean,n:bigint", 3, 0, 0},
    {"boolean and integer -> string", "flag,n\ntrue,1\n1,2\n", 0, false, "csv",
     ',', 1, "flag:string,n:bigint", 2, 0, 0},
    {"integer and double -> double", "x,n\n1,1\n2.5,2\n-3e4,3\n", 0, false,
     "csv", ',', 1, "x:double,n:bigint", 3, 0, 0},
    {"integers past int64 are text",
     "id,n\n12345678901234567890,1\n9223372036854775807,2\n", 0, false, "csv",
     ',', 1, "id:string,n:bigint", 2, 0, 0},

    /* ---- CSV: shape */
    {"ragged rows are counted, not typed", "a,b\n1,2\n3,x,5\n6,7\n8,9\n", 0,
     false, "csv", ',', 1, "a:bigint,b:bigint", 4, 0, 0},
    {"inconsistent field counts",
     "a,b\nc,d,e,f\ng\nh,i,j\nk,l,m,n,o,p\nq,r,s,t\nu\nv,w,x,y,z,1,2\n", 0,
     false, "UNKNOWN", 0, -1, "inconsistent field counts", 0, -1, -1},
    {"truncated: partial last line dropped", "a,b\n1,2\n3,4\n5,x", 0, true,
     "csv", ',', 1, "a:bigint,b:bigint", 2, 12, 0},
    {"truncated inside a quoted field",
     "a,b\n1,\"x\"\n2,\"multi\nline\"\n3,\"cut\nhere", 0, true, "csv", ',', 1,
     "a:bigint,b:string", 2, 25, 1},
    {"truncated, no line end", "abcdef", 0, true, "UNKNOWN", 0, -1,
     "no complete line", 0, -1, -1},
    {"log lines starting with [", "[INFO] started,1\n[WARN] slow,2\n", 0,
     false, "csv", ',', 0, "col0:string,col1:bigint", 2, 0, 0},

    /* ---- JSON */
    {"json lines, nested",
     "{\"id\":1,\"user\":{\"name\":\"a\",\"age\":3},\"tags\":[\"x\",\"y\"]}\n"
     "{\"id\":2,\"user\":{\"name\":\"b\",\"email\":\"e\"},\"tags\":[],"
     "\"score\":1.5}\n",
     0, false, "json", 0, -1,
     "id:bigint,user:struct<name:string,age:bigint,email:string>,"
     "tags:array<string>,score:double",
     2, 0, -1},
    {"json: first-seen order, lower-cased",
     "{\"b\":1}\n{\"A\":true,\"b\":2}\n{\"B\":3.5}\n", 0, false, "json", 0, -1,
     "b:double,a:boolean", 3, 0, -1},
    {"json pretty array",
     "[\n  {\"A\": 1, \"B\": \"2015-01-01\", \"C\": null},\n"
     "  {\"A\": 2.5, \"B\": null, \"C\": null}\n]\n",
     0, false, "json", 0, -1, "a:double,b:date,c:string", 2, 0, -1},
    {"json: ISO timestamps only",
     "{\"t\":\"2015-01-01T10:00:00Z\",\"s\":\"2015/01/01\",\"n\":\"12\"}\n",
     0, false, "json", 0, -1, "t:timestamp,s:string,n:string", 1, 0, -1},
    {"json: mixed and empty values",
     "{\"m\":1,\"o\":{},\"e\":[],\"aa\":[[1],[2.5]],\"mix\":[1,\"a\"]}\n"
     "{\"m\":true}\n",
     0, false, "json", 0, -1,
     "m:string,o:string,e:array<string>,aa:array<array<double>>,"
     "mix:array<string>",
     2, 0, -1},
    {"json: struct and scalar -> string",
     "{\"s\":{\"a\":1}}\n{\"s\":\"x\"}\n", 0, false, "json", 0, -1, "s:string",
     2, 0, -1},
    {"json: odd top-level names",
     "{\"\":1,\"Tab\\there\":2,\"Same\":3,\"same\":4.5}\n", 0, false,
     "json", 0, -1, "col0:bigint,tab_here:bigint,same:double", 1, 0, -1},
    {"json: members in changing order",
     "{\"a\":1,\"b\":\"x\",\"c\":true}\n{\"c\":false,\"a\":2.5}\n"
     "{\"b\":\"y\",\"d\":null,\"a\":3}\n",
     0, false, "json", 0, -1, "a:double,b:string,c:boolean,d:string", 3, 0,
     -1},
    {"json: odd nested names",
     "{\"p\":{\"Full Name\":\"x\",\"a:b\":1,\"a<b>\":2}}\n", 0, false, "json",
     0, -1, "p:struct<full_name:string,a_b:bigint,a_b_:bigint>", 1, 0, -1},
    {"geojson single object",
     "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
     "\"properties\":{\"name\":\"x\",\"pop\":5},\"geometry\":{\"type\":"
     "\"Point\",\"coordinates\":[1.5,2]}},{\"type\":\"Feature\","
     "\"properties\":{\"name\":\"y\",\"pop\":null,\"area\":1.5},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[3,4]}}]}",
     0, false, "json", 0, -1,
     "type:string,features:array<struct<type:string,properties:struct<"
     "name:string,pop:bigint,area:double>,geometry:struct<type:string,"
     "coordinates:array<double>>>>",
     1, 0, -1},
    {"json array of numbers", "[1,2,3]", 0, false, "UNKNOWN", 0, -1,
     "JSON that is not records", 0, -1, -1},
    {"json array of arrays", "[[1,2],[3,4]]\n", 0, false, "UNKNOWN", 0, -1,
     "JSON that is not records", 0, -1, -1},
    {"json lines of scalars", "{\"a\":1}\n5\n", 0, false, "UNKNOWN", 0, -1,
     "JSON that is not records", 0, -1, -1},
    {"empty json array", "[]\n", 0, false, "UNKNOWN", 0, -1,
     "JSON with no records", 0, -1, -1},
    {"malformed json", "{\"a\":1}\n{\"a\":2}\n{\"a\": }\n", 0, false,
     "UNKNOWN", 0, -1, "json: line 3", 0, -1, -1},
    {"not json at all", "{oops\n", 0, false, "UNKNOWN", 0, -1, "json: ", 0,
     -1, -1},
    {"truncated json array", "[{\"a\":1},\n{\"a\":2},\n{\"a\":", 0, true,
     "json", 0, -1, "a:bigint", 2, 17, -1},
    {"truncated json lines", "{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"b\":\"x", 0,
     true, "json", 0, -1, "a:bigint", 2, 15, -1},
    {"truncated single object",
     "{\"type\":\"x\",\"features\":[{\"a\":1},{\"a\":2.5},{\"a\"", 0, true,
     "json", 0, -1, "type:string,features:array<struct<a:double>>", 1, -1,
     -1},
    {"truncated inside a string",
     "[{\"a\":\"x]}\"},{\"a\":\"y,\\\"z", 0, true, "json", 0, -1, "a:string", 1,
     12, -1},
    /* ---- a type seen again after a wider one stays widened (a column
     * merges each value type once) */
    {"csv types seen again", "n,d,b\n1,2020-01-01,true\n"
     "2.5,2020-01-01 10:00:00,false\n3,2020-01-02,x\n4,2020-01-03,true\n",
     0, false, "csv", ',', 1, "n:double,d:timestamp,b:string", 4, 0, 0},
    {"json types seen again",
     "{\"a\":1,\"b\":\"2020-01-01\",\"c\":\"2020-01-01\"}\n"
     "{\"a\":2.5,\"b\":\"2020-01-01T10:00:00Z\",\"c\":\"2020-01-01 10:00\"}\n"
     "{\"a\":3,\"b\":\"2020/01/02\",\"c\":\"2020-01-03\"}\n"
     "{\"a\":4,\"b\":{\"x\":1},\"c\":null}\n",
     0, false, "json", 0, -1, "a:double,b:string,c:timestamp", 4, 0, -1},
    {"truncated array of records",
     "[{\"a\":1},\n {\"a\":\"q\\\\\"},\n {\"a\":3", 0, true, "json", 0, -1,
     "a:string", 2, 22, -1},
};

static void test_samples(void)
{
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const struct sample_case *c = &samples[i];
        size_t n = c->len ? c->len : strlen(c->in);
        struct infer_result r;
        int rc = infer_sample(c->in, n, c->truncated, &r);
        CHECK(rc == 0, "%s: rc %d", c->what, rc);
        CHECK(strcmp(r.fmt.classification, c->cls) == 0,
              "%s: classified '%s' (%s), want '%s'", c->what,
              r.fmt.classification, r.reason, c->cls);
        if (strcmp(c->cls, "UNKNOWN") == 0) {
            CHECK(strstr(r.reason, c->want) != NULL,
                  "%s: reason '%s', want '%s' in it", c->what, r.reason,
                  c->want);
            CHECK(r.ncols == 0, "%s: %zu columns", c->what, r.ncols);
            infer_result_release(&r);
            continue;
        }
        char got[4096];
        schema_text(&r, got, sizeof(got));
        if (c->want)
            CHECK(strcmp(got, c->want) == 0, "%s: schema '%s', want '%s'",
                  c->what, got, c->want);
        if (strcmp(c->cls, "csv") == 0) {
            CHECK(r.fmt.delimiter == c->delim, "%s: delimiter 0x%02x",
                  c->what, (unsigned)(unsigned char)r.fmt.delimiter);
            if (c->header >= 0)
                CHECK(r.fmt.header == (c->header == 1), "%s: header %d",
                      c->what, r.fmt.header);
            if (c->quoted >= 0)
                CHECK(r.fmt.quoted == (c->quoted == 1), "%s: quoted %d",
                      c->what, r.fmt.quoted);
        }
        if (c->records >= 0)
            CHECK(r.records == (uint64_t)c->records, "%s: records %llu",
                  c->what, (unsigned long long)r.records);
        if (c->sample_bytes >= 0) {
            uint64_t want = c->sample_bytes ? (uint64_t)c->sample_bytes : n;
            CHECK(r.sample_bytes == want, "%s: sample_bytes %llu, want %llu",
                  c->what, (unsigned long long)r.sample_bytes,
                  (unsigned long long)want);
        }
        CHECK(strcmp(r.fmt.compression, "none") == 0, "%s: compression %s",
              c->what, r.fmt.compression);
        infer_result_release(&r);
        CHECK(r.cols == NULL && r.ncols == 0, "%s: released", c->what);
    }
}

/* ------------------------------------------------------------------ */

static const struct {
    const char *in;
    const char *type; /* NULL: no evidence */
} text_types[] = {
    {"", NULL},
    {"\\N", NULL},
    {"0", "bigint"},
    {"-0", "bigint"},
    {"42", "bigint"},
    {"-17", "bigint"},
    {"+5", "bigint"},
    {"007", "string"},
    {"01234", "string"},
    {"00", "string"},
    {"0.5", "double"},
    {".097", "double"},
    {"5.", "double"},
    {"-1.5e-3", "double"},
    {"1E10", "double"},
    {"01.5", "string"},
    {"1e", "string"},
    {"1e999", "string"},
    {"NaN", "string"},
    {"inf", "string"},
    {"Infinity", "string"},
    {"1,234", "string"},
    {"$5", "string"},
    {"9223372036854775807", "bigint"},
    {"-9223372036854775808", "bigint"},
    {"9223372036854775808", "string"},
    {"true", "boolean"},
    {"FALSE", "boolean"},
    {"True", "boolean"},
    {"yes", "string"},
    {"2015-01-01", "date"},
    {"2015/01/01", "date"},
    {"2016-02-29", "date"},
    {"2015-02-29", "string"},
    {"2015-1-1", "string"},
    {"2015-01-01 10:00", "timestamp"},
    {"2015-01-01 10:00:00", "timestamp"},
    {"2015-01-01 10:00:00.123", "timestamp"},
    {"2015-01-01T10:00:00", "timestamp"},
    {"2015-01-01T10:00:00Z", "timestamp"},
    {"2015-01-01T10:00:00+05:30", "timestamp"},
    {"2015-01-01T10:00:00-0800", "timestamp"},
    {"2015/01/01 01:00:00", "timestamp"},
    {"2015/01/01T01:00:00", "string"},
    {"2015-01-01 25:00:00", "string"},
    {"2015-01-01 10:00:00 UTC", "string"},
    {"Jan 12 1998", "string"},
    {"hello", "string"},
    {" 12", "string"},
};

static void test_text_types(void)
{
    for (size_t i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++) {
        const char *got = infer_text_type(text_types[i].in,
                                          strlen(text_types[i].in));
        const char *want = text_types[i].type;
        CHECK((!got && !want) || (got && want && strcmp(got, want) == 0),
              "infer_text_type('%s') = %s, want %s", text_types[i].in,
              got ? got : "NULL", want ? want : "NULL");
    }
}

/* ------------------------------------------------------------------ */

static const struct {
    const char *a, *b, *want;
} merges[] = {
    {"bigint", "bigint", "bigint"},
    {"bigint", "double", "double"},
    {"double", "bigint", "double"},
    {"int", "bigint", "bigint"},
    {"tinyint", "smallint", "smallint"},
    {"int", "float", "float"},
    {"bigint", "float", "double"},
    {"float", "double", "double"},
    {"bigint", "boolean", "string"},
    {"boolean", "double", "string"},
    {"boolean", "boolean", "boolean"},
    {"date", "timestamp", "timestamp"},
    {"timestamp", "date", "timestamp"},
    {"date", "bigint", "string"},
    {"string", "bigint", "string"},
    {"decimal(10,2)", "decimal(12,4)", "decimal(12,4)"},
    {"decimal(5,2)", "int", "decimal(12,2)"},
    {"decimal(5,2)", "double", "double"},
    {"varchar(10)", "varchar(10)", "varchar(10)"},
    {"varchar(10)", "string", "string"},
    {NULL, "bigint", "bigint"},
    {"double", NULL, "double"},
    {"void", "date", "date"},
    {"array<void>", "array<int>", "array<int>"},
    {"array<bigint>", "array<double>", "array<double>"},
    {"array<bigint>", "bigint", "string"},
    {"struct<a:bigint>", "struct<b:string>", "struct<a:bigint,b:string>"},
    {"struct<a:bigint,b:string>", "struct<b:string,a:double>",
     "struct<a:double,b:string>"},
    {"struct<a:struct<x:int>>", "struct<a:struct<y:date>,c:boolean>",
     "struct<a:struct<x:int,y:date>,c:boolean>"},
    {"struct<a:int>", "string", "string"},
    {"struct<a:int>", "array<int>", "string"},
    {"STRUCT< A : INT , B : ARRAY< STRING > >", "struct<a:bigint>",
     "struct<a:bigint,b:array<string>>"},
    {"struct<`a b`:int>", "struct<`a b`:double>", "struct<`a b`:double>"},
    {"map<string,int>", "map<string,bigint>", "map<string,bigint>"},
    {"array<struct<a:int,b:array<struct<c:int>>>>",
     "array<struct<b:array<struct<d:string>>>>",
     "array<struct<a:int,b:array<struct<c:int,d:string>>>>"},
    {"uniontype<int,string>", "uniontype<int,string>",
     "uniontype<int,string>"},
    {"uniontype<int,string>", "int", "string"},
    {"struct<a:int", "struct<a:int", "struct<a:int"},
    /* regressions from fuzzing: merge(m, m) == m for every result m */
    {"struct<`a``b c`:int>", "struct<`a``b c`:bigint>",
     "struct<`a``b c`:bigint>"},
    {"arr ay<void>", "arr ay<void>", "arr ay<void>"},
    {"arr ay<void>", "void", "arr ay<void>"},
};

static void test_merges(void)
{
    for (size_t i = 0; i < sizeof(merges) / sizeof(merges[0]); i++) {
        char *got = hive_type_merge(merges[i].a, merges[i].b);
        CHECK(got && strcmp(got, merges[i].want) == 0,
              "hive_type_merge(%s, %s) = %s, want %s",
              merges[i].a ? merges[i].a : "NULL",
              merges[i].b ? merges[i].b : "NULL", got ? got : "NULL",
              merges[i].want);
        free(got);
    }
    CHECK(hive_type_merge(NULL, NULL) == NULL, "merge of two NULLs");

    static const struct {
        const char *in, *want;
    } norm[] = {
        {"void", "string"},
        {"struct<>", "string"},
        {"Array< Struct<X:Int> >", "array<struct<x:int>>"},
        {"decimal( 10, 2 )", "decimal(10,2)"},
        {"struct<`a:b`:int>", "struct<`a:b`:int>"},
    };
    for (size_t i = 0; i < sizeof(norm) / sizeof(norm[0]); i++) {
        char *got = hive_type_normalize(norm[i].in);
        CHECK(got && strcmp(got, norm[i].want) == 0,
              "hive_type_normalize(%s) = %s, want %s", norm[i].in,
              got ? got : "NULL", norm[i].want);
        free(got);
    }
}

static void test_schema_merge(void)
{
    struct column a[] = {{(char *)"id", (char *)"bigint"},
                         {(char *)"v", (char *)"bigint"}};
    struct column b[] = {{(char *)"V", (char *)"double"},
                         {(char *)"when", (char *)"date"},
                         {(char *)"id", (char *)"bigint"}};
    struct column *cols = NULL;
    size_t n = 0;
    CHECK(schema_merge(&cols, &n, a, 2) == 0, "schema_merge a");
    CHECK(schema_merge(&cols, &n, b, 3) == 0, "schema_merge b");
    CHECK(n == 3, "schema_merge: %zu columns", n);
    if (n == 3) {
        CHECK_STR(cols[0].name, "id");
        CHECK_STR(cols[0].type, "bigint");
        CHECK_STR(cols[1].name, "v");
        CHECK_STR(cols[1].type, "double");
        CHECK_STR(cols[2].name, "when");
        CHECK_STR(cols[2].type, "date");
    }
    columns_free(cols, n);
    columns_free(NULL, 0);
}

/* Every prefix of a sample, as a truncated sample: the records counted
 * are exactly the complete ones, and sample_bytes ends after the last. */
static void test_prefixes(void)
{
    /* CSV: header and 60 rows (past the 50 sniffed); the last rows widen
     * val from bigint to double. */
    struct buf b;
    buf_init(&b, 1 << 20);
    int rc = buf_puts(&b, "id,val,name\n");
    size_t row_end[61];
    row_end[0] = b.len;
    for (int i = 1; rc == 0 && i <= 60; i++) {
        if (i < 55)
            rc = buf_printf(&b, "%d,%d,\"n%d\"\n", i, i * 3, i);
        else
            rc = buf_printf(&b, "%d,%d.5,\"multi\nline %d\"\n", i, i, i);
        row_end[i] = b.len;
    }
    CHECK(rc == 0, "building the csv sample");
    struct infer_result r;
    CHECK(infer_sample(b.data, b.len, false, &r) == 0, "whole csv");
    char got[256];
    schema_text(&r, got, sizeof(got));
    CHECK_STR(got, "id:bigint,val:double,name:string");
    CHECK(r.records == 60 && r.sample_bytes == b.len && r.fmt.header,
          "whole csv: %llu records", (unsigned long long)r.records);
    infer_result_release(&r);
    for (size_t cut = row_end[0] + 1; cut < b.len; cut++) {
        CHECK(infer_sample(b.data, cut, true, &r) == 0, "csv cut %zu", cut);
        size_t whole = 0;
        while (whole < 60 && row_end[whole + 1] <= cut)
            whole++;
        if (whole == 0) {
            /* The header alone, or a row cut: nothing to check but
             * that it is not an error. */
            infer_result_release(&r);
            continue;
        }
        CHECK(strcmp(r.fmt.classification, "csv") == 0 &&
                  r.records == whole && r.sample_bytes == row_end[whole],
              "csv cut at %zu: %s, %llu records in %llu bytes, want %zu in "
              "%zu",
              cut, r.fmt.classification, (unsigned long long)r.records,
              (unsigned long long)r.sample_bytes, whole, row_end[whole]);
        infer_result_release(&r);
    }
    buf_release(&b);

    /* JSON array and JSON Lines with nesting and tricky strings. */
    static const char *const shapes[][2] = {
        {"[", ",\n"}, /* array: "[" rec ",\n" rec ... "]" */
        {"", "\n"},   /* lines */
    };
    for (int sh = 0; sh < 2; sh++) {
        buf_init(&b, 1 << 20);
        rc = buf_puts(&b, shapes[sh][0]);
        size_t rec_end[21];
        for (int i = 0; rc == 0 && i < 20; i++) {
            if (i > 0)
                rc = buf_puts(&b, shapes[sh][1]);
            if (rc == 0)
                rc = buf_printf(&b,
                                "{\"id\":%d,\"s\":\"a,]}\\\"{[\",\"o\":{\"x\":"
                                "[%d,{\"y\":null}]},\"e\":[]}",
                                i, i);
            rec_end[i + 1] = b.len;
        }
        if (rc == 0)
            rc = buf_puts(&b, sh == 0 ? "]\n" : "\n");
        CHECK(rc == 0, "building the json sample");
        CHECK(infer_sample(b.data, b.len, false, &r) == 0, "whole json");
        schema_text(&r, got, sizeof(got));
        CHECK_STR(got, "id:bigint,s:string,o:struct<x:array<string>>,"
                       "e:array<string>");
        CHECK(r.records == 20, "whole json: %llu records",
              (unsigned long long)r.records);
        infer_result_release(&r);
        for (size_t cut = 1; cut < b.len; cut++) {
            CHECK(infer_sample(b.data, cut, true, &r) == 0, "json cut %zu",
                  cut);
            size_t whole = 0;
            while (whole < 20 && rec_end[whole + 1] <= cut)
                whole++;
            if (whole > 0)
                CHECK(strcmp(r.fmt.classification, "json") == 0 &&
                          r.records == whole &&
                          r.sample_bytes == rec_end[whole],
                      "json shape %d cut at %zu: %s (%s), %llu records in "
                      "%llu bytes, want %zu in %zu",
                      sh, cut, r.fmt.classification, r.reason,
                      (unsigned long long)r.records,
                      (unsigned long long)r.sample_bytes, whole,
                      rec_end[whole]);
            infer_result_release(&r);
        }
        buf_release(&b);
    }
}

/* Caps: columns past 10,000 are dropped (JSON objects keyed by ids), a
 * CSV record with more fields than the reader's cap is UNKNOWN. */
static void test_caps(void)
{
    struct buf b;
    buf_init(&b, 4 << 20);
    int rc = 0;
    for (int i = 0; rc == 0 && i < 2010; i++)
        rc = buf_printf(&b, "{\"k%d\":1,\"k%d\":2,\"k%d\":3,\"k%d\":4,"
                            "\"k%d\":\"x\"}\n",
                        5 * i, 5 * i + 1, 5 * i + 2, 5 * i + 3, 5 * i + 4);
    CHECK(rc == 0, "building the json");
    struct infer_result r;
    CHECK(infer_sample(b.data, b.len, false, &r) == 0, "wide json");
    CHECK(strcmp(r.fmt.classification, "json") == 0 && r.ncols == 10000 &&
              r.records == 2010,
          "wide json: %s, %zu columns", r.fmt.classification, r.ncols);
    if (r.ncols == 10000) {
        CHECK_STR(r.cols[9999].name, "k9999");
        CHECK_STR(r.cols[9999].type, "string");
    }
    infer_result_release(&r);
    buf_reset(&b);
    for (int i = 0; rc == 0 && i < 10001; i++)
        rc = buf_puts(&b, i ? ",x" : "x");
    if (rc == 0)
        rc = buf_puts(&b, "\n");
    CHECK(rc == 0, "building the csv");
    CHECK(infer_sample(b.data, b.len, false, &r) == 0, "wide csv");
    CHECK(strcmp(r.fmt.classification, "UNKNOWN") == 0 &&
              strstr(r.reason, "csv: line 1: "),
          "wide csv: %s (%s)", r.fmt.classification, r.reason);
    infer_result_release(&r);
    buf_release(&b);
}

/* ------------------------------------------------------------------ */
/* Real files: vega-datasets, as the crawler sees them (first 1 MiB). */

#define SAMPLE_MAX (1u << 20)

static const struct {
    const char *file;
    const char *cls;
    char delim;
    int header;
    const char *want; /* NULL: any */
} real_files[] = {
    {"seattle-weather.csv", "csv", ',', 1,
     "date:date,precipitation:double,temp_max:double,temp_min:double,"
     "wind:double,weather:string"},
    {"zipcodes.csv", "csv", ',', 1,
     "zip_code:string,latitude:double,longitude:double,city:string,"
     "state:string,county:string"},
    {"airports.csv", "csv", ',', 1,
     "iata:string,name:string,city:string,state:string,country:string,"
     "latitude:double,longitude:double"},
    {"github.csv", "csv", ',', 1, "time:timestamp,count:bigint"},
    {"unemployment.tsv", "csv", '\t', 1, "id:bigint,rate:double"},
    {"cars.json", "json", 0, -1,
     "name:string,miles_per_gallon:double,cylinders:bigint,"
     "displacement:double,horsepower:bigint,weight_in_lbs:bigint,"
     "acceleration:double,year:date,origin:string"},
    {"movies.json", "json", 0, -1, NULL},
    {"stocks.csv", "csv", ',', 1, "symbol:string,date:string,price:double"},
    {"lookup_people.csv", "csv", ',', 1,
     "name:string,age:bigint,height:bigint"},
    {"lookup_groups.csv", "csv", ',', 1, "group:bigint,person:string"},
    {"flights-airport.csv", "csv", ',', 1,
     "origin:string,destination:string,count:bigint"},
    {"la-riots.csv", "csv", ',', 1, NULL},
    {"birdstrikes.csv", "csv", ',', 1, NULL},
    {"species.csv", "csv", ',', 1, NULL},
    {"sp500.csv", "csv", ',', 1, "date:string,price:double"},
    {"weather.csv", "csv", ',', 1, NULL},
    {"seattle-weather-hourly-normals.csv", "csv", ',', 1,
     "date:timestamp,pressure:double,temperature:double,wind:double"},
    {"iowa-electricity.csv", "csv", ',', 1,
     "year:date,source:string,net_generation:bigint"},
    {"earthquakes.json", "json", 0, -1, NULL},
    {"us-10m.json", "json", 0, -1, NULL},
    {"flights-200k.json", "json", 0, -1, NULL},
    {"7zip.png", "UNKNOWN", 0, -1, NULL},
    {"flights-3m.parquet", "UNKNOWN", 0, -1, NULL},
};

static const char *samples_dir(void)
{
    static const char *const dirs[] = {
        "tools/node_modules/vega-datasets/data",
        "../tools/node_modules/vega-datasets/data",
        "/tmp/npmtry/node_modules/vega-datasets/data",
    };
    const char *e = getenv("GLUEFS_SAMPLES_DIR");
    struct stat sb;
    if (e && stat(e, &sb) == 0)
        return e;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (stat(dirs[i], &sb) == 0)
            return dirs[i];
    return NULL;
}

static int infer_file(const char *path, struct infer_result *r, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *buf = malloc(SAMPLE_MAX);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, SAMPLE_MAX, f);
    int more = fgetc(f) != EOF;
    struct stat sb;
    *size = fstat(fileno(f), &sb) == 0 ? (size_t)sb.st_size : n;
    fclose(f);
    int rc = infer_sample(buf, n, more, r);
    free(buf);
    return rc;
}

static void test_real_files(void)
{
    const char *dir = samples_dir();
    if (!dir) {
        printf("vega-datasets not installed: real files skipped\n");
        return;
    }
    bool verbose = getenv("INFER_VERBOSE") != NULL;
    for (size_t i = 0; i < sizeof(real_files) / sizeof(real_files[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, real_files[i].file);
        struct infer_result r;
        size_t size = 0;
        int rc = infer_file(path, &r, &size);
        CHECK(rc == 0, "%s: rc %d", real_files[i].file, rc);
        if (rc)
            continue;
        char got[1 << 16];
        schema_text(&r, got, sizeof(got));
        if (verbose)
            printf("%s: %s delim=0x%02x header=%d quoted=%d records=%llu "
                   "sample_bytes=%llu size=%zu %s\n  %s\n",
                   real_files[i].file, r.fmt.classification,
                   (unsigned)(unsigned char)r.fmt.delimiter, r.fmt.header,
                   r.fmt.quoted, (unsigned long long)r.records,
                   (unsigned long long)r.sample_bytes, size, r.reason, got);
        CHECK(strcmp(r.fmt.classification, real_files[i].cls) == 0,
              "%s: classified %s (%s)", real_files[i].file,
              r.fmt.classification, r.reason);
        if (strcmp(real_files[i].cls, "csv") == 0) {
            CHECK(r.fmt.delimiter == real_files[i].delim, "%s: delimiter",
                  real_files[i].file);
            CHECK(r.fmt.header == (real_files[i].header == 1), "%s: header",
                  real_files[i].file);
        }
        if (real_files[i].want)
            CHECK(strcmp(got, real_files[i].want) == 0,
                  "%s: schema '%s', want '%s'", real_files[i].file, got,
                  real_files[i].want);
        if (strcmp(r.fmt.classification, "UNKNOWN") != 0) {
            CHECK(r.records > 0 && r.sample_bytes > 0 &&
                      r.sample_bytes <= SAMPLE_MAX,
                  "%s: records %llu in %llu bytes", real_files[i].file,
                  (unsigned long long)r.records,
                  (unsigned long long)r.sample_bytes);
        }
        infer_result_release(&r);
    }
}

/* ------------------------------------------------------------------ */
/* infer_result.partial: the sample ended inside its first JSON record,
 * so the crawler knows a larger sample would show more columns. */

static void test_partial(void)
{
    static const struct {
        const char *in;
        bool truncated, want;
    } cases[] = {
        {"{\"type\":\"x\",\"features\":[{\"a\":1},{\"a\"", true, true},
        {"{\"a\":1}\n{\"a\":2}\n{\"a\":3,\"b\":\"x", true, false},
        {"[{\"a\":1},\n{\"a\":2},\n{\"a\":", true, false},
        {"{\"type\":\"x\",\"features\":[{\"a\":1}]}", false, false},
        {"a,b\n1,2\n3,", true, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct infer_result r;
        int rc = infer_sample(cases[i].in, strlen(cases[i].in),
                              cases[i].truncated, &r);
        CHECK(rc == 0, "partial %zu: rc %d", i, rc);
        CHECK(r.partial == cases[i].want, "partial %zu: %d, want %d", i,
              r.partial, cases[i].want);
        infer_result_release(&r);
    }
}

/* fmt.ts_forms: the forms of the values of timestamp columns. */
static void test_ts_forms(void)
{
    static const struct {
        const char *in;
        uint32_t want;
    } cases[] = {
        {"t,n\n2015/01/01 01:00:00,1\n2015/01/01 04:00:00,2\n",
         1u << 14},
        /* Hive's default form only */
        {"t,n\n2015-01-01 01:00:00,1\n2015-01-01 04:00:00.25,2\n",
         1u << 2 | 1u << 4},
        /* T, minutes, zones of each kind, a fraction */
        {"t\n2020-01-01T10:00\n2020-01-01T10:00:00Z\n"
         "2020-01-01T10:00:00.5+02\n2020-01-01 10:00+0200\n",
         1u << 6 | 1u << 9 | 1u << 11 | 1u << 1},
        /* a date in a timestamp column; a date column alone has none */
        {"t,d\n2020-01-01,2020-01-01\n2020-01-01 10:00:00,2020-01-02\n",
         TS_FORM_DATE | 1u << 2},
        /* a column spoiled to string keeps none */
        {"t,n\n2020-01-01T10:00:00,1\nsoon,2\n", 0},
        /* no header: the first row counts */
        {"2020-01-01T10:00:00,1\n2020-01-01 10:00:00,2\n", 1u << 8 | 1u << 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct infer_result r;
        CHECK(infer_sample(cases[i].in, strlen(cases[i].in), false, &r) == 0,
              "case %zu", i);
        CHECK(r.fmt.ts_forms == cases[i].want, "case %zu: forms 0x%x, want 0x%x",
              i, (unsigned)r.fmt.ts_forms, (unsigned)cases[i].want);
        infer_result_release(&r);
    }
    CHECK(ts_form_bit(true, false, TS_FORM_PREC_SEC, false) == 1u << 14,
          "bit layout");
}

int main(void)
{
    test_text_types();
    test_merges();
    test_schema_merge();
    test_samples();
    test_ts_forms();
    test_partial();
    test_prefixes();
    test_caps();
    test_real_files();
    return check_done();
}
