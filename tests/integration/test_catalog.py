"""catalog/ and crawlers/ (DESIGN.md 3 and 4): a crawl of real vega-datasets
files and of bad inputs; the rendered files checked against Glue's own
model (botocore's ParamValidator on CreateTable's TableInput)."""
import csv
import gzip
import io
import json
import os

import botocore.session
import botocore.validate
import pytest

from conftest import read_text, wait_until

WEATHER_SCHEMA = [
    ("date", "date"),
    ("precipitation", "double"),
    ("temp_max", "double"),
    ("temp_min", "double"),
    ("wind", "double"),
    ("weather", "string"),
]

BAD_FILES = {
    # malformed CSV: an unterminated quote running to the end of the object
    "badcsv/broken.csv": b'a,b,c\n1,2,3\n4,"5,6\n7,8\n',
    # a gzip stream cut in the middle
    "badgz/cut.csv.gz": None,  # filled in by seed_bad()
    # JSON that is not records
    "badjson/numbers.json": b"[1,2,3]\n",
    # a 0-byte object
    "empty/empty.csv": b"",
    # binary
    "binary/blob.bin": bytes(range(256)) * 64,
}


def glue_table_input_shape():
    model = botocore.session.get_session().get_service_model("glue")
    return model.operation_model("CreateTable").input_shape.members["TableInput"]


def validate_table_input(obj):
    report = botocore.validate.ParamValidator().validate(obj, glue_table_input_shape())
    return report.generate_report() if report.has_errors() else ""


def read_schema(path):
    """schema file -> (columns, partition keys) as (name, type) lists."""
    cols, parts, cur = [], [], None
    cur = cols
    for line in read_text(path).splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            if "Partition Information" in line:
                cur = parts
            continue
        name, _, typ = line.partition("\t")
        assert typ, f"schema line without a TAB: {line!r}"
        cur.append((name, typ))
    return cols, parts


def seed_good(lake, bucket, samples):
    st = lake.store
    weather = (samples / "seattle-weather.csv").read_bytes()
    st.put(bucket, "weather/seattle-weather.csv", weather)
    st.put(bucket, "zipcodes/zipcodes.csv", (samples / "zipcodes.csv").read_bytes())
    st.put(bucket, "cars/cars.json", (samples / "cars.json").read_bytes())
    # a k=v partitioned copy of the weather, one object per year
    lines = weather.decode().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    years = {}
    for r in rows:
        years.setdefault(r[:4], []).append(r)
    for y, rs in sorted(years.items()):
        st.put(bucket, f"weather_by_year/year={y}/part-0.csv",
               (header + "".join(rs)).encode())
    return sorted(years)


def seed_bad(lake, bucket, samples):
    full = gzip.compress((samples / "seattle-weather.csv").read_bytes())
    data = dict(BAD_FILES)
    data["badgz/cut.csv.gz"] = full[:len(full) // 2]
    for k, v in data.items():
        lake.store.put(bucket, k, v)
    return data


@pytest.fixture
def crawled(lake, samples):
    b = lake.bucket
    years = seed_good(lake, b, samples)
    seed_bad(lake, b, samples)
    lake.allow_errors(r"cut\.csv\.gz", r"broken\.csv", r"numbers\.json",
                      r"empty\.csv", r"blob\.bin", r"UNKNOWN")
    lake.mount()
    status = lake.crawl()
    return lake, b, lake.database_of(b), years, status


def test_crawl_status(crawled):
    lake, b, db, years, st = crawled
    assert st["state"] == "READY", st
    assert st["last_run"] == "SUCCEEDED", st
    good = 3 + len(years)
    assert int(st["objects_scanned"]) >= good + len(BAD_FILES) - 1, st
    assert int(st["tables_created"]) >= 4, st
    for k in ("started", "elapsed", "bytes_read", "tables_updated",
              "tables_deleted"):
        assert k in st, f"{k} missing from status: {st}"
    # status reads the same as wait once the run is over
    st2 = lake.status("crawlers", "default")
    assert st2["last_run"] == "SUCCEEDED" and st2["state"] == "READY"


def test_weather_schema_exact(crawled):
    lake, b, db, years, st = crawled
    assert db in os.listdir(lake.path("catalog"))
    tables = os.listdir(lake.path("catalog", db))
    assert "weather" in tables, tables
    assert {"schema", "table.json", "ddl.sql", "partitions", "stats",
            "data"} <= set(os.listdir(lake.path("catalog", db, "weather")))
    cols, parts = read_schema(lake.path("catalog", db, "weather", "schema"))
    assert cols == WEATHER_SCHEMA
    assert parts == []


def test_other_tables(crawled):
    lake, b, db, years, st = crawled
    tables = set(os.listdir(lake.path("catalog", db)))
    assert {"weather", "zipcodes", "cars", "weather_by_year"} <= tables, tables
    cols, _ = read_schema(lake.path("catalog", db, "zipcodes", "schema"))
    names = [c for c, _ in cols]
    assert names == ["zip_code", "latitude", "longitude", "city", "state", "county"]
    types = dict(cols)
    assert types["latitude"] == "double" and types["longitude"] == "double"
    assert types["city"] == "string" and types["state"] == "string"
    cols, _ = read_schema(lake.path("catalog", db, "cars", "schema"))
    types = dict(cols)
    assert set(types) == {"name", "miles_per_gallon", "cylinders", "displacement",
                          "horsepower", "weight_in_lbs", "acceleration", "year",
                          "origin"}, types
    assert types["name"] == "string" and types["origin"] == "string"
    assert types["cylinders"] in ("int", "bigint")
    assert types["acceleration"] in ("double", "float", "int", "bigint")


def test_partitioned_table(crawled):
    lake, b, db, years, st = crawled
    t = lake.path("catalog", db, "weather_by_year")
    cols, parts = read_schema(t / "schema")
    assert cols == WEATHER_SCHEMA
    assert [p for p, _ in parts] == ["year"]
    lines = [l for l in read_text(t / "partitions").splitlines() if l.strip()]
    assert len(lines) == len(years), lines
    for y, line in zip(years, sorted(lines)):
        assert f"year={y}" in line
        assert f"s3://{b}/weather_by_year/year={y}/" in line
    tj = json.loads(read_text(t / "table.json"))
    assert [k["Name"] for k in tj["PartitionKeys"]] == ["year"]


def test_every_table_json_is_a_glue_table_input(crawled):
    lake, b, db, years, st = crawled
    tables = os.listdir(lake.path("catalog", db))
    assert tables
    for t in tables:
        text = read_text(lake.path("catalog", db, t, "table.json"))
        obj = json.loads(text)
        err = validate_table_input(obj)
        assert err == "", f"{db}.{t}: table.json is not a valid TableInput:\n{err}"
        assert obj["Name"] == t
    tj = json.loads(read_text(lake.path("catalog", db, "weather", "table.json")))
    sd = tj["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == WEATHER_SCHEMA
    assert sd["Location"].rstrip("/") == f"s3://{b}/weather"
    assert tj.get("TableType") == "EXTERNAL_TABLE"
    assert tj.get("Parameters", {}).get("classification") == "csv"


def test_ddl_and_stats_and_data_link(crawled):
    lake, b, db, years, st = crawled
    t = lake.path("catalog", db, "weather")
    ddl = read_text(t / "ddl.sql")
    assert ddl.lstrip().startswith("CREATE EXTERNAL TABLE"), ddl[:200]
    for name, typ in WEATHER_SCHEMA:
        assert f"`{name}` {typ}" in ddl, (name, ddl)
    assert f"s3://{b}/weather" in ddl
    stats = read_text(t / "stats")
    assert "objects" in stats and "classification" in stats
    assert "csv" in stats
    link = os.readlink(t / "data")
    assert link.rstrip("/") == f"../../../s3/{b}/weather"
    assert os.listdir(t / "data") == ["seattle-weather.csv"]


def test_bad_files_are_unknown_with_a_reason(crawled):
    lake, b, db, years, st = crawled
    assert st["last_run"] == "SUCCEEDED"
    log = read_text(lake.path("crawlers", "default", "log"))
    for key in BAD_FILES:
        lines = [l for l in log.splitlines() if key in l or key.split("/")[-1] in l]
        assert lines, f"{key} not in crawlers/default/log:\n{log}"
        assert any("UNKNOWN" in l for l in lines), f"{key} not UNKNOWN: {lines}"
        # a reason: more than the key and the word
        assert any(len(l.replace(key, "").replace("UNKNOWN", "").strip(" :-\t")) > 3
                   for l in lines), lines


def test_catalog_is_read_only(crawled):
    lake, b, db, years, st = crawled
    with pytest.raises(OSError):
        with open(lake.path("catalog", db, "weather", "schema"), "w") as f:
            f.write("x")
    with pytest.raises(OSError):
        os.mkdir(lake.path("catalog", db, "newtable"))


def test_catalog_survives_remount(crawled):
    lake, b, db, years, st = crawled
    before = read_text(lake.path("catalog", db, "weather", "schema"))
    tables = sorted(os.listdir(lake.path("catalog", db)))
    lake.remount()
    assert sorted(os.listdir(lake.path("catalog", db))) == tables
    assert read_text(lake.path("catalog", db, "weather", "schema")) == before
    st2 = lake.status("crawlers", "default")
    assert st2.get("last_run") == "SUCCEEDED", st2


def test_second_crawl_downloads_nothing(crawled):
    lake, b, db, years, st = crawled
    before = lake.stats()
    st2 = lake.crawl()
    after = lake.stats()
    assert st2["last_run"] == "SUCCEEDED", st2
    assert after["requests_get"] == before["requests_get"], (before, after)
    assert int(st2.get("tables_created", "0")) == 0, st2


def test_crawl_after_new_objects_updates(lake, samples):
    b = lake.bucket
    weather = (samples / "seattle-weather.csv").read_bytes()
    lake.store.put(b, "w/a.csv", weather)
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    assert os.listdir(lake.path("catalog", db)) == ["w"]
    # a new folder written through the mount becomes a table at the next crawl
    os.mkdir(lake.s3(b, "z"))
    (lake.s3(b, "z", "zip.csv")).write_bytes((samples / "zipcodes.csv").read_bytes())
    st = lake.crawl()
    assert st["last_run"] == "SUCCEEDED"
    assert set(os.listdir(lake.path("catalog", db))) == {"w", "z"}


def test_auto_crawl_at_mount(lake, samples):
    b = lake.bucket
    lake.store.put(b, "weather/seattle-weather.csv",
                   (samples / "seattle-weather.csv").read_bytes())
    lake.mount(crawl="auto")
    # wait blocks while the run at mount is under way or about to start
    st = lake.wait("crawlers", "default")
    if st.get("last_run") not in ("SUCCEEDED", "FAILED", "CANCELLED"):
        st = wait_until(lambda: (lambda s: s if s.get("last_run") in (
            "SUCCEEDED", "FAILED", "CANCELLED") else None)(
                lake.wait("crawlers", "default")), 120, interval=0.5,
            what="the crawl at mount")
    assert st["last_run"] == "SUCCEEDED", st
    db = lake.database_of(b)
    cols, _ = read_schema(lake.path("catalog", db, "weather", "schema"))
    assert cols == WEATHER_SCHEMA


def test_named_crawler_with_spec(lake, samples):
    b = lake.bucket
    lake.store.put(b, "raw/weather/seattle-weather.csv",
                   (samples / "seattle-weather.csv").read_bytes())
    lake.store.put(b, "raw/weather/_tmp/skip.csv", b"x,y\n1,2\n")
    lake.store.put(b, "other/zip/zipcodes.csv", (samples / "zipcodes.csv").read_bytes())
    lake.mount()
    os.mkdir(lake.path("crawlers", "mine"))
    spec = (f"targets  = s3://{b}/raw/\n"
            f"database = mydb\n"
            f"exclude  = **/_tmp/**\n")
    with open(lake.path("crawlers", "mine", "spec"), "w") as f:
        f.write(spec)
    st = lake.wait("crawlers", "mine")
    if st.get("last_run") != "SUCCEEDED":
        st = lake.crawl("mine")
    assert st["last_run"] == "SUCCEEDED", st
    assert os.listdir(lake.path("catalog", "mydb")) == ["weather"]
    cols, _ = read_schema(lake.path("catalog", "mydb", "weather", "schema"))
    assert cols == WEATHER_SCHEMA


def test_bad_crawler_spec_is_einval(lake):
    import errno
    lake.mount()
    os.mkdir(lake.path("crawlers", "bad"))
    with pytest.raises(OSError) as e:
        with open(lake.path("crawlers", "bad", "spec"), "w") as f:
            f.write("targte = s3://x/\n")
    assert e.value.errno == errno.EINVAL
    st = lake.status("crawlers", "bad")
    assert "line 1" in st.get("error", ""), st


def test_compressed_and_other_formats(lake, samples, work):
    """gzip, bzip2 and zstd by magic; JSON Lines; TSV; Parquet by its footer."""
    import bz2
    import shutil
    import subprocess
    b = lake.bucket
    weather = (samples / "seattle-weather.csv").read_bytes()
    lake.store.put(b, "wgz/w.csv.gz", gzip.compress(weather))
    lake.store.put(b, "wbz/w.csv.bz2", bz2.compress(weather))
    have_zstd = shutil.which("zstd") is not None
    if have_zstd:
        zst = subprocess.run(["zstd", "-q", "-c"], input=weather,
                             capture_output=True, check=True).stdout
        lake.store.put(b, "wzst/w.csv.zst", zst)
    rows = list(csv.DictReader(io.StringIO(weather.decode())))
    jsonl = "".join(json.dumps({"date": r["date"], "wind": float(r["wind"]),
                                "weather": r["weather"]}) + "\n" for r in rows)
    lake.store.put(b, "wjson/w.json", jsonl.encode())
    lake.store.put(b, "unemp/unemployment.tsv", (samples / "unemployment.tsv").read_bytes())
    lake.store.put(b, "flights/flights-3m.parquet",
                   (samples / "flights-3m.parquet").read_bytes())
    lake.mount()
    st = lake.crawl()
    assert st["last_run"] == "SUCCEEDED", st
    db = lake.database_of(b)
    tables = set(os.listdir(lake.path("catalog", db)))
    want = {"wgz", "wbz", "wjson", "unemp", "flights"} | ({"wzst"} if have_zstd else set())
    assert want <= tables, tables
    for t, comp in (("wgz", "gzip"), ("wbz", "bzip2"), ("wzst", "zstd")):
        if t not in tables:
            continue
        cols, _ = read_schema(lake.path("catalog", db, t, "schema"))
        assert cols == WEATHER_SCHEMA, (t, cols)
        stats = read_text(lake.path("catalog", db, t, "stats"))
        assert comp in stats, (t, stats)
    cols, _ = read_schema(lake.path("catalog", db, "wjson", "schema"))
    assert dict(cols) == {"date": dict(cols).get("date"), "wind": "double",
                          "weather": "string"}
    assert dict(cols)["date"] in ("date", "string")
    tj = json.loads(read_text(lake.path("catalog", db, "wjson", "table.json")))
    assert tj["Parameters"]["classification"] == "json"
    cols, _ = read_schema(lake.path("catalog", db, "unemp", "schema"))
    assert [c for c, _ in cols] == ["id", "rate"]
    assert dict(cols)["rate"] == "double"
    cols, _ = read_schema(lake.path("catalog", db, "flights", "schema"))
    assert len(cols) >= 3, cols
    tj = json.loads(read_text(lake.path("catalog", db, "flights", "table.json")))
    assert tj["Parameters"]["classification"] == "parquet"
    for t in tables:
        err = validate_table_input(json.loads(read_text(
            lake.path("catalog", db, t, "table.json"))))
        assert err == "", (t, err)


def test_schema_change_updates_the_table(lake, samples):
    b = lake.bucket
    lake.store.put(b, "w/a.csv", b"date,wind\n2012-01-01,4.7\n2012-01-02,4.5\n")
    lake.mount()
    st = lake.crawl()
    db = lake.database_of(b)
    cols, _ = read_schema(lake.path("catalog", db, "w", "schema"))
    assert cols == [("date", "date"), ("wind", "double")]
    # a second file with one more column: the schemas merge
    lake.store.put(b, "w/b.csv", b"date,wind,weather\n2012-01-03,2.3,rain\n")
    before = lake.stats()
    st = lake.crawl()
    after = lake.stats()
    assert st["last_run"] == "SUCCEEDED", st
    assert int(st["tables_updated"]) == 1, st
    cols, _ = read_schema(lake.path("catalog", db, "w", "schema"))
    assert cols == [("date", "date"), ("wind", "double"), ("weather", "string")], cols
    # only the new object was read
    assert after["requests_get"] - before["requests_get"] >= 1
    assert int(st["objects_scanned"]) >= 1


def test_crawl_after_writes_settle(lake, samples):
    b = lake.bucket
    lake.mount("settle=1", crawl="auto")
    lake.wait("crawlers", "default")
    db = lake.database_of(b)
    os.mkdir(lake.s3(b, "weather"))
    (lake.s3(b, "weather", "w.csv")).write_bytes(
        (samples / "seattle-weather.csv").read_bytes())
    wait_until(lambda: os.path.exists(lake.path("catalog", db, "weather", "schema")),
               60, interval=0.5, what="a crawl after the write settled")
    cols, _ = read_schema(lake.path("catalog", db, "weather", "schema"))
    assert cols == WEATHER_SCHEMA


def test_stop_a_crawl_and_remove_a_crawler(lake, samples):
    import errno
    import shutil
    lake.mount()
    os.mkdir(lake.path("crawlers", "tmp"))
    assert "tmp" in os.listdir(lake.path("crawlers"))
    with pytest.raises(OSError) as e:
        with open(lake.path("crawlers", "default", "ctl"), "w") as f:
            f.write("explode\n")
    assert e.value.errno == errno.EINVAL
    shutil.rmtree(lake.path("crawlers", "tmp"))
    assert "tmp" not in os.listdir(lake.path("crawlers"))
    # default cannot be removed
    with pytest.raises(OSError):
        os.rmdir(lake.path("crawlers", "default"))
    assert "default" in os.listdir(lake.path("crawlers"))


def test_removed_folder_is_noticed_at_the_next_crawl(lake, samples):
    b = lake.bucket
    weather = (samples / "seattle-weather.csv").read_bytes()
    lake.store.put(b, "keep/w.csv", weather)
    lake.store.put(b, "gone/w.csv", weather)
    lake.mount()
    st = lake.crawl()
    db = lake.database_of(b)
    assert set(os.listdir(lake.path("catalog", db))) == {"keep", "gone"}
    os.unlink(lake.s3(b, "gone", "w.csv"))
    st = lake.crawl()
    assert st["last_run"] == "SUCCEEDED", st
    # Glue's default delete behaviour marks the table deprecated (or deletes it)
    if "gone" in os.listdir(lake.path("catalog", db)):
        stats = read_text(lake.path("catalog", db, "gone", "stats"))
        assert "deprecated: true" in stats, stats
    else:
        assert int(st["tables_deleted"]) == 1, st
    assert "keep" in os.listdir(lake.path("catalog", db))
