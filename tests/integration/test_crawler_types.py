"""The crawler's classification rules (issue 4, docs/crawler.md), one small
file per rule made here (no committed data), crawled through a real mount;
each table's schema, classification, SerDe and parameters are read back
through catalog/ and every table.json is checked against Glue's
CreateTable TableInput shape.  Then the same files and every vega-datasets
file are compared with DuckDB's DESCRIBE by tools/crawl-compare.

The crawl of the rule files runs once per backend (module-scoped), so each
rule is its own test: a failure names the rule."""
import bz2
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import (BUILD, REPO, SAMPLES, Lake, LocalStore, S3Store,
                      read_text, _rmtree_safely)
import gluevalidate
from test_catalog import read_schema

NODE_MODULES = REPO / "tools" / "node_modules"
LAZY = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPENCSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
JSONSERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUETSERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def have_duckdb():
    return bool(shutil.which("node")) and \
        (NODE_MODULES / "@duckdb" / "node-api").is_dir()


def zstd(data):
    r = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                       check=True)
    return r.stdout


def lines(*rows, end="\n"):
    return ("".join(r + end for r in rows)).encode()


def late_contradiction():
    """1,500 integer ids, then one 'x' in the sample (row 1,401): widened."""
    rows = ["id,v"] + [f"{i},{i}" for i in range(1, 1401)] + ["x,1.5"] + \
        [f"{i},{i}" for i in range(1402, 1501)]
    return lines(*rows)


# name -> (file name, bytes, expected) ; expected keys:
#   cols: [(name, type)], cls: classification (default csv),
#   serde, delim (field.delim / separatorChar), header (bool),
#   compression, records (exact recordCount in the stats),
#   ts_formats (LazySimpleSerDe's "timestamp.formats", absent if None)
RULES = {
    # ---- CSV: dates and timestamps (Glue leaves these string)
    "slash_timestamp": ("t.csv", lines(
        "time,value", "2015/01/01 01:00:00,1", "2015/01/01 02:00:00,2",
        "2015/01/02 03:30:00,3"),
        dict(cols=[("time", "timestamp"), ("value", "bigint")],
             ts_formats="yyyy/MM/dd HH:mm:ss")),
    # Hive has no DATE format for slashed dates: text (docs/crawler.md)
    "slash_date": ("d.csv", lines(
        "day,n", "2015/01/01,1", "2015/01/02,2", "2015/12/31,3"),
        dict(cols=[("day", "string"), ("n", "bigint")])),
    "iso_datetime": ("iso.csv", lines(
        "ts,d,local", "2020-01-01T10:00:00Z,2020-01-01,2020-01-01 10:00:00",
        "2020-01-02T11:30:00.123+02:00,2020-02-29,2020-01-02 11:00:00.5"),
        dict(cols=[("ts", "timestamp"), ("d", "date"),
                   ("local", "timestamp")],
             ts_formats="yyyy-MM-dd'T'HH:mm:ssZZ,yyyy-MM-dd'T'HH:mm:ss.SSSZZ")),
    # a date in a timestamp column, minutes only: patterns for both
    "date_in_timestamp_column": ("dt.csv", lines(
        "at,n", "2020-01-01,1", "2020-01-01 10:30,2", "2020-01-02 11:00:00,3"),
        dict(cols=[("at", "timestamp"), ("n", "bigint")],
             ts_formats="yyyy-MM-dd HH:mm,yyyy-MM-dd")),
    # OpenCSVSerde has no timestamp.formats (Athena reads its timestamps
    # as UNIX milliseconds only): none written
    "quoted_timestamp": ("qt.csv", lines(
        "time,note", '2015/01/01 01:00:00,"a, b"', '2015/01/02 02:00:00,"c"'),
        dict(cols=[("time", "timestamp"), ("note", "string")],
             serde="org.apache.hadoop.hive.serde2.OpenCSVSerde")),
    # not a date Hive or Athena can read: text (DuckDB agrees)
    "month_name_date": ("m.csv", lines(
        "day,n", "Jan 1 2000,1", "Feb 12 2001,2", "Mar 3 2002,3"),
        dict(cols=[("day", "string"), ("n", "bigint")])),
    # an impossible date is not a date
    "bad_calendar_date": ("b.csv", lines(
        "day,n", "2021-02-29,1", "2021-03-01,2"),
        dict(cols=[("day", "string"), ("n", "bigint")])),
    # ---- CSV: numbers
    "leading_zeros": ("z.csv", lines(
        "zip,pop", "02134,100", "10001,2000", "00501,3"),
        dict(cols=[("zip", "string"), ("pop", "bigint")])),
    "empty_is_null": ("e.csv", lines(
        "id,score,name,when", "1,,a,", ",2.5,b,2020-01-01", "3,3.5,,",
        "4,,d,2020-01-03"),
        dict(cols=[("id", "bigint"), ("score", "double"), ("name", "string"),
                   ("when", "date")])),
    "widen_bigint_double": ("w.csv", lines("a,b", "1,x", "2.5,y", "3,z"),
                            dict(cols=[("a", "double"), ("b", "string")])),
    "widen_to_string": ("s.csv", lines("a,b", "1,1", "2,2020-01-01", "foo,3"),
                        dict(cols=[("a", "string"), ("b", "string")])),
    "late_contradiction": ("late.csv", late_contradiction(),
                           dict(cols=[("id", "string"), ("v", "double")])),
    "huge_integer": ("h.csv", lines("a,b", "12345678901234567890,1", "2,2"),
                     dict(cols=[("a", "string"), ("b", "bigint")])),
    "booleans": ("bo.csv", lines("flag,n", "true,1", "FALSE,2", "True,3"),
                 dict(cols=[("flag", "boolean"), ("n", "bigint")])),
    # ---- CSV: headers
    "all_text_header": ("at.csv", lines(
        "name,city,country", "Alice,Paris,France", "Bob,Berlin,Germany",
        "Carol,Rome,Italy", "Dan,Madrid,Spain"),
        dict(cols=[("name", "string"), ("city", "string"),
                   ("country", "string")], header=True)),
    "all_text_no_header": ("nh.csv", lines(
        "Alice,Paris", "Bob,Berlin", "Carol,Rome"),
        dict(cols=[("col0", "string"), ("col1", "string")], header=False)),
    "no_header_numbers": ("nn.csv", lines("1,2.5", "3,4", "5,6"),
                         dict(cols=[("col0", "bigint"), ("col1", "double")],
                              header=False)),
    "header_only": ("ho.csv", lines("alpha,beta"),
                    dict(cols=[("alpha", "string"), ("beta", "string")],
                         header=True, records=0)),
    "single_column": ("one.csv", lines("amount", "1", "2", "", "4"),
                      dict(cols=[("amount", "bigint")], header=True)),
    "single_column_text": ("st.csv", lines(
        "state", "Alabama", "Alaska", "Arizona", "Arkansas", "Alabama"),
        dict(cols=[("state", "string")], header=True)),
    "duplicate_names": ("dn.csv", lines("a,A,b", "1,2,3", "4,5,6"),
                        dict(cols=[("a", "bigint"), ("a_1", "bigint"),
                                   ("b", "bigint")])),
    # a wide table: years as column names (World Bank exports)
    "wide_years": ("wb.csv", lines(
        "Country Name,Country Code,1960,1961", "Aruba,ABW,54608,55811",
        "Africa Eastern,AFE,130692579,134169237"),
        dict(cols=[("country name", "string"), ("country code", "string"),
                   ("1960", "bigint"), ("1961", "bigint")], header=True)),
    # trailing empty fields left out under a full header (distro-info)
    "ragged_right": ("r.csv", lines(
        "version,codename,created,eol,eol-lts", "1.1,Buzz,1993-08-16,1997-06-05",
        "1.2,Rex,1996-06-17", "2.0,Hamm,1998-07-24,2000-03-09",
        "7,Wheezy,2011-02-06,2016-04-25,2018-05-31", "8,Jessie,2013-05-04"),
        dict(cols=[("version", "double"), ("codename", "string"),
                   ("created", "date"), ("eol", "date"), ("eol-lts", "date")],
             header=True, records=5)),
    # ---- CSV: encodings and line ends
    "bom": ("bom.csv", b"\xef\xbb\xbf" + lines("Name,N", "x,1", "y,2"),
            dict(cols=[("name", "string"), ("n", "bigint")])),
    "crlf": ("crlf.csv", lines("a,b", "1,x", "2,y", end="\r\n"),
             dict(cols=[("a", "bigint"), ("b", "string")], records=2)),
    # ---- CSV: delimiters
    "delim_pipe": ("p.csv", lines("a|b|c", "1|x|2.5", "2|y|3.5"),
                   dict(cols=[("a", "bigint"), ("b", "string"),
                              ("c", "double")], delim="|")),
    "delim_tab": ("t.tsv", lines("a\tb\tc", "1\tx, y\t2.5", "2\ty\t3.5"),
                  dict(cols=[("a", "bigint"), ("b", "string"),
                             ("c", "double")], delim="\t")),
    "delim_semicolon": ("sc.csv", lines("a;b;c", "1;x;2.5", "2;y;3.5"),
                        dict(cols=[("a", "bigint"), ("b", "string"),
                                   ("c", "double")], delim=";")),
    "delim_ctrl_a": ("ca.txt", lines("1\x01x\x012.5", "2\x01y\x013.5"),
                     dict(cols=[("col0", "bigint"), ("col1", "string"),
                                ("col2", "double")], delim="\x01",
                          header=False)),
    # ---- CSV: quoting -> OpenCSVSerde
    "quoted_fields": ("q.csv", lines(
        "id,text,n", '1,"a, b",2', '2,"say ""hi""",3', '3,"line1\nline2",4',
        '4,plain,5'),
        dict(cols=[("id", "bigint"), ("text", "string"), ("n", "bigint")],
             serde=OPENCSV, delim=",", records=4)),
    "quoted_crlf": ("qc.csv", b'id,text\r\n1,"multi\r\nline"\r\n2,"x"\r\n',
                    dict(cols=[("id", "bigint"), ("text", "string")],
                         serde=OPENCSV, records=2)),
    # ---- JSON
    "json_lines": ("l.json", lines(
        '{"a":1,"b":"x"}', '{"a":2,"b":"y","c":true}', '{"a":3,"c":null}'),
        dict(cls="json", cols=[("a", "bigint"), ("b", "string"),
                               ("c", "boolean")], records=3)),
    "json_array": ("a.json", b'[{"a":1,"b":"x"},{"a":2.5,"b":null}]',
                   dict(cls="json", cols=[("a", "double"), ("b", "string")],
                        records=2)),
    "json_pretty": ("pr.json", b'[\n  {\n    "a": 1,\n    "o": {"x": 1, '
                    b'"y": [1, 2]}\n  },\n  {\n    "a": 2,\n    "o": '
                    b'{"x": 2, "z": "s"}\n  }\n]\n',
                    dict(cls="json", cols=[
                        ("a", "bigint"),
                        ("o", "struct<x:bigint,y:array<bigint>,z:string>")],
                        records=2)),
    "json_nested": ("n.json", lines(
        '{"id":1,"tags":["a","b"],"pt":{"X":1.5,"y":2},"m":[{"k":1}]}',
        '{"id":2,"tags":[],"pt":{"X":2,"y":3},"m":[{"k":2,"v":"z"}]}'),
        dict(cls="json", cols=[
            ("id", "bigint"), ("tags", "array<string>"),
            ("pt", "struct<x:double,y:bigint>"),
            ("m", "array<struct<k:bigint,v:string>>")])),
    "json_types": ("ty.json", lines(
        '{"b":true,"n":null,"d":"2020-01-01","t":"2020-01-01T10:00:00Z",'
        '"s":"2020/01/01 10:00","i":1}',
        '{"b":false,"n":null,"d":"2020-01-02","t":"2020-01-02T10:00:00Z",'
        '"s":"x","i":"two"}'),
        dict(cls="json", cols=[
            ("b", "boolean"), ("n", "string"), ("d", "date"),
            ("t", "timestamp"), ("s", "string"), ("i", "string")])),
    "geojson": ("g.json", json.dumps({
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"name": "a", "pop": 5},
             "geometry": {"type": "Point", "coordinates": [1.5, 2.5]}},
            {"type": "Feature", "properties": {"name": "b", "pop": None},
             "geometry": {"type": "Point", "coordinates": [3, 4]}}]},
        indent=1).encode(),
        dict(cls="json", records=1, cols=[
            ("type", "string"),
            ("features", "array<struct<type:string,properties:struct<"
                         "name:string,pop:bigint>,geometry:struct<type:"
                         "string,coordinates:array<double>>>>")])),
}

WEATHER_COLS = [("date", "date"), ("precipitation", "double"),
                ("temp_max", "double"), ("temp_min", "double"),
                ("wind", "double"), ("weather", "string")]


def compressed_rules(samples):
    """Compression by magic bytes: the names say nothing."""
    weather = (samples / "seattle-weather.csv").read_bytes()
    jl = lines(*[json.dumps({"id": i, "x": i / 2}) for i in range(100)])
    return {
        "gzip_csv": ("part-0000", gzip.compress(weather),
                     dict(cols=WEATHER_COLS, compression="gzip")),
        "bzip2_csv": ("part-0000", bz2.compress(weather),
                      dict(cols=WEATHER_COLS, compression="bzip2")),
        "zstd_csv": ("part-0000", zstd(weather),
                     dict(cols=WEATHER_COLS, compression="zstd")),
        "gzip_json": ("events", gzip.compress(jl),
                      dict(cls="json", cols=[("id", "bigint"),
                                             ("x", "double")],
                           compression="gzip", records=100)),
    }


PARQUET_SQL = """
COPY (SELECT (i%100)::TINYINT AS ti, i::SMALLINT AS si, i::INTEGER AS i32,
  i::BIGINT AS i64, (i%100)::UTINYINT AS uti, i::USMALLINT AS usi,
  i::UINTEGER AS ui32, (i/3)::FLOAT AS f, (i/3)::DOUBLE AS d,
  (i*1.25)::DECIMAL(9,2) AS dec9, (i*1.25)::DECIMAL(18,4) AS dec18,
  (i*1.25)::DECIMAL(30,5) AS dec30, i%2=0 AS b, 'x'||i AS s,
  DATE '2020-01-01' + (i%1000)::INTEGER AS dt,
  TIMESTAMP '2020-01-01 00:00:00' + INTERVAL (i%1000) HOUR AS ts,
  'abc'::BLOB AS bl, [i, i+1] AS lst, [[i],[i+1]] AS lst2,
  {'A': i, 'b': 'y'} AS st, MAP {'k': i} AS mp, [{'p': i}] AS lst_st,
  {'n': [1,2]} AS st_lst
  FROM range(12345) t(i)) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 1000)
"""
PARQUET_COLS = [
    ("ti", "tinyint"), ("si", "smallint"), ("i32", "int"), ("i64", "bigint"),
    ("uti", "smallint"), ("usi", "int"), ("ui32", "bigint"),
    ("f", "float"), ("d", "double"), ("dec9", "decimal(9,2)"),
    ("dec18", "decimal(18,4)"), ("dec30", "decimal(30,5)"),
    ("b", "boolean"), ("s", "string"), ("dt", "date"), ("ts", "timestamp"),
    ("bl", "binary"), ("lst", "array<bigint>"),
    ("lst2", "array<array<bigint>>"), ("st", "struct<a:bigint,b:string>"),
    ("mp", "map<string,bigint>"), ("lst_st", "array<struct<p:bigint>>"),
    ("st_lst", "struct<n:array<int>>"),
]
PARQUET_ROWS = 12345


def duckdb_run(sql):
    js = ("const {DuckDBInstance}=require('@duckdb/node-api');(async()=>{"
          "const c=await (await DuckDBInstance.create(':memory:')).connect();"
          "await c.run(process.argv[1]);})().catch(e=>{console.error(String(e));"
          "process.exit(1);});")
    subprocess.run(["node", "-e", js, sql], check=True, capture_output=True,
                   env=dict(os.environ, NODE_PATH=str(NODE_MODULES)),
                   timeout=300)


def parquet_rules(tmp):
    """Parquet written by DuckDB (physical + logical types, DECIMAL, LIST,
    MAP, groups, several row groups), when DuckDB is installed."""
    if not have_duckdb():
        return {}
    out = tmp / "types.parquet"
    duckdb_run(PARQUET_SQL.replace("{out}", str(out)))
    return {"parquet_types": ("types.parquet", out.read_bytes(),
                              dict(cls="parquet", cols=PARQUET_COLS,
                                   records=PARQUET_ROWS))}


# --------------------------------------------------------------------------
# one crawl of every rule file per backend

class Crawled:
    def __init__(self, lake, db, rules, status):
        self.lake, self.db, self.rules, self.status = lake, db, rules, status

    def table(self, name):
        return self.lake.path("catalog", self.db, name)


@pytest.fixture(scope="module", params=["local", "s3"])
def rules_crawl(request, gluefs_bin, test_tmp, samples):
    backend = request.param
    work = Path(tempfile.mkdtemp(prefix=f"crawler-types-{backend}-",
                                 dir=test_tmp))
    if backend == "s3":
        store = S3Store(request.getfixturevalue("s3client"))
        endpoint = request.getfixturevalue("s3_endpoint")
    else:
        store = LocalStore(work / "local")
        endpoint = None
    lake = Lake(backend, work, store, endpoint, "crawlertypes")
    rules = dict(RULES)
    rules.update(compressed_rules(samples))
    rules.update(parquet_rules(work))
    for name, (fname, data, _) in rules.items():
        store.put(lake.bucket, f"{name}/{fname}", data)
    try:
        lake.mount()
        status = lake.crawl()
        yield Crawled(lake, lake.database_of(lake.bucket), rules, status)
    finally:
        lake.unmount()
        problems = lake.problems()
        for b in lake.buckets:
            store.delete_bucket(b)
        _rmtree_safely(work)
    assert not problems, "daemon reported:\n" + "\n".join(problems)


ALL_RULES = list(RULES) + ["gzip_csv", "bzip2_csv", "zstd_csv", "gzip_json",
                           "parquet_types"]


@pytest.mark.parametrize("rule", ALL_RULES)
def test_rule(rules_crawl, rule):
    if rule not in rules_crawl.rules:
        pytest.skip("DuckDB (@duckdb/node-api) is not installed: no Parquet "
                    "writer")
    fname, data, want = rules_crawl.rules[rule]
    t = rules_crawl.table(rule)
    assert t.is_dir(), (f"no table '{rule}' in catalog/{rules_crawl.db}/: "
                        f"{sorted(os.listdir(t.parent))}")
    cols, parts = read_schema(t / "schema")
    assert cols == want["cols"], f"{rule}: schema"
    assert parts == []

    text = read_text(t / "table.json")
    assert gluevalidate.validate(text.encode()) == []
    tj = json.loads(text)
    params = tj["Parameters"]
    sd = tj["StorageDescriptor"]
    serde = sd["SerdeInfo"]
    sparams = serde.get("Parameters", {})
    cls = want.get("cls", "csv")
    assert params["classification"] == cls
    assert params["compressionType"] == want.get("compression", "none")
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == want["cols"]
    if cls == "csv":
        delim = want.get("delim", ",")
        if "serde" in want:
            assert serde["SerializationLibrary"] == want["serde"]
        ddl = read_text(t / "ddl.sql")
        if serde["SerializationLibrary"] == OPENCSV:
            assert sparams["separatorChar"] == delim
            assert sparams["quoteChar"] == '"'
            assert params["areColumnsQuoted"] == "true"
            assert "timestamp.formats" not in sparams
            assert "timestamp.formats" not in ddl
        else:
            assert serde["SerializationLibrary"] == LAZY
            assert sparams["field.delim"] == delim
            assert params["areColumnsQuoted"] == "false"
            # Joda patterns for the timestamps Hive's default cannot read
            want_ts = want.get("ts_formats")
            assert sparams.get("timestamp.formats") == want_ts, rule
            if want_ts:
                lit = want_ts.replace("'", "\\'")
                assert f"  'timestamp.formats'='{lit}'" in ddl, ddl
            else:
                assert "timestamp.formats" not in ddl
        assert params["delimiter"] == delim
        header = want.get("header", True)
        assert (params.get("skip.header.line.count") == "1") == header
    elif cls == "json":
        assert serde["SerializationLibrary"] == JSONSERDE
        assert sparams["paths"] == ",".join(n for n, _ in want["cols"])
    else:
        assert serde["SerializationLibrary"] == PARQUETSERDE
    stats = dict(line.split(": ", 1) for line in
                 read_text(t / "stats").splitlines() if ": " in line)
    assert stats["classification"] == cls
    assert stats["compression"] == want.get("compression", "none")
    if "records" in want:
        assert int(stats["recordCount"]) == want["records"]
        assert int(params["recordCount"]) == want["records"]
    ddl = read_text(t / "ddl.sql")
    for n, typ in want["cols"]:
        assert f"`{n}` {typ}" in ddl, f"{rule}: ddl.sql lacks `{n}` {typ}"


def test_rules_crawl_status(rules_crawl):
    st = rules_crawl.status
    assert st["last_run"] == "SUCCEEDED", st
    assert int(st["tables_created"]) == len(rules_crawl.rules), st
    # every table.json is a Glue TableInput (the model's shape, lengths and
    # patterns) that names its own table
    n, errors = gluevalidate.validate_catalog(rules_crawl.lake.mnt)
    assert errors == [] and n == len(rules_crawl.rules), errors


# --------------------------------------------------------------------------
# the sampling bound (Glue: the first 1 MB; sample_bytes=BYTES)

@pytest.mark.parametrize("lake", ["local"], indirect=True)
def test_sample_bound_is_an_option(lake):
    """With sample_bytes=64K a value past the first 64 KiB is not seen (the
    column stays bigint and the record count is estimated from the
    sample); one inside it widens the column."""
    b = lake.bucket
    rows = [f"{i},{i % 7}" for i in range(100001, 120001)]  # 8 bytes each
    past = lines("id,v", *rows, "x,1.5")
    inside = lines("id,v", *rows[:2000], "x,1.5", *rows[2000:4000])
    lake.store.put(b, "past/p.csv", past)
    lake.store.put(b, "inside/i.csv", inside)
    lake.mount("sample_bytes=64K")
    lake.crawl()
    db = lake.database_of(b)
    cols, _ = read_schema(lake.path("catalog", db, "past", "schema"))
    assert cols == [("id", "bigint"), ("v", "bigint")]
    cols, _ = read_schema(lake.path("catalog", db, "inside", "schema"))
    assert cols == [("id", "string"), ("v", "double")]
    stats = dict(line.split(": ", 1) for line in read_text(
        lake.path("catalog", db, "past", "stats")).splitlines())
    est = int(stats["recordCount"])
    assert 0.98 * 20001 <= est <= 1.02 * 20001, stats
    n, errors = gluevalidate.validate_catalog(lake.mnt)
    assert errors == [] and n == 2, errors
    # the crawler read about the bound, not the whole object
    st = lake.status("crawlers", "default")
    assert int(st["bytes_read"]) < len(past) // 2 + len(inside), st


def test_timestamp_formats_follow_the_objects(lake):
    """timestamp.formats is the union of the table's objects' forms: a date
    column of one object widened to timestamp by another's adds
    yyyy-MM-dd; an unchanged re-crawl keeps the patterns (stored with each
    object) and changes nothing; a new object adds its own."""
    b = lake.bucket
    lake.store.put(b, "ev/a.csv", lines("at,n", "2020-01-01,1", "2020-01-02,2"))
    lake.store.put(b, "ev/b.csv", lines("at,n", "2020/01/01 10:00:00,3",
                                        "2020/01/02 11:00:00,4"))
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)

    def formats():
        tj = json.loads(read_text(lake.path("catalog", db, "ev",
                                            "table.json")))
        sd = tj["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
            ("at", "timestamp"), ("n", "bigint")]
        return sd["SerdeInfo"]["Parameters"].get("timestamp.formats")

    assert formats() == "yyyy/MM/dd HH:mm:ss,yyyy-MM-dd"
    again = lake.crawl()
    assert (again["tables_created"], again["tables_updated"],
            again["bytes_read"]) == ("0", "0", "0"), again
    assert formats() == "yyyy/MM/dd HH:mm:ss,yyyy-MM-dd"
    lake.store.put(b, "ev/c.csv", lines("at,n", "2020-01-03T10:00:00Z,5"))
    before = lake.stats()
    third = lake.crawl()
    after = lake.stats()
    assert after["crawler_objects_read"] - before["crawler_objects_read"] == 1
    assert third["tables_updated"] == "1", third
    assert formats() == ("yyyy-MM-dd'T'HH:mm:ssZZ,yyyy/MM/dd HH:mm:ss,"
                         "yyyy-MM-dd")
    ddl = read_text(lake.path("catalog", db, "ev", "ddl.sql"))
    assert ("WITH SERDEPROPERTIES (\n  'field.delim'=',',\n"
            "  'timestamp.formats'='yyyy-MM-dd\\'T\\'HH:mm:ssZZ,"
            "yyyy/MM/dd HH:mm:ss,yyyy-MM-dd')\n") in ddl, ddl
    n, errors = gluevalidate.validate_catalog(lake.mnt)
    assert errors == [] and n >= 1, errors


def test_one_large_json_document_is_sampled_up_to_10_mib(lake):
    """JSON is sampled up to 10 MB, as Glue does: one ~1.5 MB document whose
    last member comes after the 1 MiB sample is read again whole, so that
    member is a column.  A JSON Lines file of the same size is not: it is
    fetched once (one GET, sample_bytes bytes)."""
    b = lake.bucket
    feats = ",".join('{"type":"Feature","id":%d,"properties":{"mag":%d.5}}'
                     % (i, i % 9) for i in range(27000))
    doc = ('{"type":"FeatureCollection","features":[%s],'
           '"bbox":[-179.9,-60.1,2.5]}' % feats).encode()
    assert 1400000 < len(doc) < 1600000 and doc.rindex(b'"bbox"') > 1 << 20
    jl = b"".join(b'{"id":%d,"mag":%d.5,"place":"somewhere far"}\n'
                  % (i, i % 9) for i in range(30000))
    assert len(jl) > 1 << 20
    lake.store.put(b, "geo/quakes.json", doc)
    lake.store.put(b, "plain/lines.json", jl)
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    cols, _ = read_schema(lake.path("catalog", db, "geo", "schema"))
    assert cols == [
        ("type", "string"),
        ("features", "array<struct<type:string,id:bigint,"
                     "properties:struct<mag:double>>>"),
        ("bbox", "array<double>")], cols
    st = dict(line.split(": ", 1) for line in read_text(
        lake.path("catalog", db, "geo", "stats")).splitlines())
    assert st["recordCount"] == "1", st
    n, errors = gluevalidate.validate_catalog(lake.mnt)
    assert errors == [] and n >= 2, errors

    # a plain JSON Lines file is fetched once, with the 1 MiB bound
    lake.store.put(b, "plain/lines2.json", jl)
    before = lake.stats()
    lake.crawl()
    after = lake.stats()
    got = {k: after.get(k, 0) - before.get(k, 0)
           for k in ("requests_get", "crawler_objects_read",
                     "crawler_bytes_read")}
    assert got == {"requests_get": 1, "crawler_objects_read": 1,
                   "crawler_bytes_read": 1 << 20}, got
    cols, _ = read_schema(lake.path("catalog", db, "plain", "schema"))
    assert cols == [("id", "bigint"), ("mag", "double"),
                    ("place", "string")], cols

    # and the large document: one GET of the sample, one of the whole
    lake.store.put(b, "geo/quakes.json", doc + b"\n")
    before = lake.stats()
    lake.crawl()
    after = lake.stats()
    got = {k: after.get(k, 0) - before.get(k, 0)
           for k in ("requests_get", "crawler_objects_read",
                     "crawler_bytes_read")}
    assert got == {"requests_get": 2, "crawler_objects_read": 1,
                   "crawler_bytes_read": (1 << 20) + len(doc) + 1}, got


# --------------------------------------------------------------------------
# DuckDB agreement (tools/crawl-compare)

# Rule files where gluefs and DuckDB differ on purpose (docs/crawler.md,
# "Where gluefs and DuckDB differ"): file -> {column: (duckdb, gluefs)}.
RULE_DIFFS = {
    # DuckDB's sniffer has no \x01 candidate: one column of whole lines
    "delim_ctrl_a.csv": None,
    # DuckDB types a 20-digit id as DOUBLE (losing digits); gluefs: string
    "huge_integer.csv": {"a": ("double", "string")},
    # DuckDB reads %Y/%m/%d as DATE; Hive and Athena cannot (DATE is
    # yyyy-MM-dd, and LazySimpleSerDe has no date format): gluefs: string
    "slash_date.csv": {"day": ("date", "string")},
    # DuckDB's sniffer wants one format per column: a date, a time to the
    # minute and one to the second make VARCHAR.  gluefs: timestamp, which
    # Hive reads with the timestamp.formats it writes
    "date_in_timestamp_column.csv": {"at": ("string (VARCHAR)", "timestamp")},
    # DuckDB takes an all-text first row as a header; gluefs and Glue
    # do not when the rows look alike
    "all_text_no_header.csv": None,
    # DuckDB takes even a numeric first row ("1,2.5") of a short file as
    # a header; Glue and gluefs never do (a header is text)
    "no_header_numbers.csv": None,
    # DuckDB takes a first row with numbers (years) for data
    "wide_years.csv": None,
    # DuckDB needs null_padding=true for short rows: by default it reads
    # one VARCHAR column of whole lines
    "ragged_right.csv": None,
}


def run_compare(data_dir, out_json):
    r = subprocess.run(
        [str(REPO / "tools" / "crawl-compare"), "--build", str(BUILD),
         "--data", str(data_dir), "--json", str(out_json), "--min", "0"],
        capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"crawl-compare failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(Path(out_json).read_text()), r.stdout


@pytest.mark.timeout_s(1200)
def test_vega_datasets_agree_with_duckdb(gluefs_bin, work):
    """Every CSV/TSV/JSON/Parquet file of vega-datasets: at least 97% of
    the columns have DuckDB's name and (mapped) type."""
    if not have_duckdb():
        pytest.skip("node or @duckdb/node-api is not installed")
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is missing (run tools/setup)")
    res, out = run_compare(SAMPLES, work / "vega.json")
    print(out)
    assert res["total"] > 400, res["total"]
    assert len(res["files"]) >= 60
    assert res["percent"] >= 97.0, out
    # every file was classified as its format
    for f in res["files"]:
        assert f["classification"] == f["format"], f


@pytest.mark.timeout_s(600)
def test_rule_files_agree_with_duckdb(gluefs_bin, work, samples):
    """The rule files (uncompressed, plus gzip and zstd, which DuckDB reads
    by extension): every column agrees with DuckDB except the documented
    differences."""
    if not have_duckdb():
        pytest.skip("node or @duckdb/node-api is not installed")
    d = work / "rules"
    d.mkdir()
    for name, (fname, data, want) in RULES.items():
        ext = Path(fname).suffix
        ext = ".csv" if ext in ("", ".txt") else ext
        (d / f"{name}{ext}").write_bytes(data)
    weather = (samples / "seattle-weather.csv").read_bytes()
    (d / "gzip_csv.csv.gz").write_bytes(gzip.compress(weather))
    (d / "zstd_csv.csv.zst").write_bytes(zstd(weather))
    (d / "parquet_types.parquet").write_bytes(
        parquet_rules(work)["parquet_types"][1])
    res, out = run_compare(d, work / "rules.json")
    print(out)
    unexpected = []
    for f in res["files"]:
        allowed = RULE_DIFFS.get(f["file"], {})
        for col, duck, glue in f["diffs"]:
            if allowed is None:
                continue
            if allowed.get(col) != (duck, glue):
                unexpected.append((f["file"], col, duck, glue))
    assert not unexpected, unexpected
    names = {f["file"] for f in res["files"]}
    assert len(names) == len(RULES) + 3


@pytest.mark.timeout_s(600)
def test_headers_found_where_glue_misses_them(gluefs_bin, work):
    """tools/crawl-compare --headers: from every vega CSV/TSV, the file
    without its header, its text columns with the header (Glue never finds
    a header when every column is string) and without it; gluefs must be
    right on every variant (DuckDB's sniff_csv is printed next to it)."""
    if not have_duckdb():
        pytest.skip("node or @duckdb/node-api is not installed")
    if not SAMPLES.is_dir():
        pytest.skip(f"{SAMPLES} is missing (run tools/setup)")
    out = work / "headers.json"
    r = subprocess.run(
        [str(REPO / "tools" / "crawl-compare"), "--headers", "--build",
         str(BUILD), "--json", str(out)],
        capture_output=True, text=True, timeout=1200)
    print(r.stdout)
    assert r.returncode in (0, 1), r.stderr
    res = json.loads(out.read_text())
    assert res["total"] >= 50
    wrong = [v for v in res["variants"] if v["gluefs"] != v["truth"]]
    assert not wrong, wrong
    assert r.returncode == 0
