"""The crawler's grouping, naming and change rules (issue 4; README "How the
crawler groups tables"; DESIGN.md 3 and 4), each proved on a real mount over
s3rver and over the local backend: the catalog and the objects are read
through the mount, the store's side through botocore (or the local folder),
costs from .gluefs/stats counters (requests and bytes, never timings)."""
import errno
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

import gluevalidate
from conftest import read_text, wait_until, write_file
from s3proxy import LoopbackServer, ProxyHandler, relay

LINE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARN|ERROR) : (.*)$")


# --------------------------------------------------------------------------
# helpers

def schema(lake, db, t):
    """catalog/DB/T/schema -> (columns, partition keys) as (name, type)."""
    cols, parts, cur = [], [], None
    cur = cols
    for line in read_text(lake.path("catalog", db, t, "schema")).splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            if "Partition Information" in line:
                cur = parts
            continue
        name, _, typ = line.partition("\t")
        cur.append((name, typ))
    return cols, parts


def tables(lake, db):
    p = lake.path("catalog", db)
    return set(os.listdir(p)) if p.exists() else set()


def tstats(lake, db, t):
    out = {}
    for line in read_text(lake.path("catalog", db, t, "stats")).splitlines():
        k, _, v = line.partition(": ")
        out[k] = v
    return out


def table_json(lake, db, t):
    return json.loads(read_text(lake.path("catalog", db, t, "table.json")))


def log_lines(lake, name="default"):
    """crawlers/NAME/log as (level, message) pairs; every line must have
    Glue's shape "<time> LEVEL : message"."""
    out = []
    for line in read_text(lake.path("crawlers", name, "log")).splitlines():
        m = LINE_RE.match(line)
        assert m, f"log line not in Glue's shape: {line!r}"
        out.append((m.group(1), m.group(2)))
    return out


def messages(lake, name="default"):
    return [m for _, m in log_lines(lake, name)]


def one(msgs, *needles):
    """The messages holding every NEEDLE; fails unless there is one."""
    hits = [m for m in msgs if all(n in m for n in needles)]
    assert len(hits) == 1, f"{needles}: {hits or msgs}"
    return hits[0]


def delta(before, after, key):
    return after.get(key, 0) - before.get(key, 0)


def run_spec(lake, name, spec):
    """mkdir crawlers/NAME (if needed), write its spec (which starts a run),
    and wait for the run to end."""
    d = lake.path("crawlers", name)
    if not d.exists():
        os.mkdir(d)
    write_file(d / "spec", spec)
    st = lake.wait("crawlers", name)
    assert st["state"] == "READY" and st["last_run"] == "SUCCEEDED", st
    return st


CSV3 = b"id,name,score\n1,ann,3.5\n2,bob,4\n3,cy,\n"


# --------------------------------------------------------------------------
# grouping

def test_one_table_per_top_level_folder(lake):
    """Every object below a top-level folder of the target belongs to that
    folder's table, however deep; hidden names are ignored; an object
    directly in the bucket is named in the log, not made a table."""
    b, st = lake.bucket, lake.store
    objs = {
        "sales/2020/01/a.csv": CSV3,
        "sales/2020/02/b.csv": CSV3,
        "sales/c.csv": CSV3,
        "events/e1.json": b'{"t": "2020-01-01T10:00:00Z", "n": 1}\n',
        "events/sub/deeper/e2.json": b'{"t": "2020-01-02T10:00:00Z", "n": 2}\n',
        "top.csv": CSV3,
        "_hidden/x.csv": CSV3,
        "sales/_SUCCESS": b"",
        "sales/.part.csv.crc": b"\x00\x01",
        "sales_$folder$": b"",              # Hadoop's folder markers
        "sales/2020_$folder$": b"",
    }
    for k, v in objs.items():
        st.put(b, k, v)
    lake.mount()
    status = lake.crawl()
    db = lake.database_of(b)
    assert tables(lake, db) == {"sales", "events"}
    assert int(status["tables_created"]) == 2, status
    # the store's view, through botocore / the local folder
    listed = st.keys(b, "sales/")
    data = {k: n for k, n in listed.items()
            if not k.rsplit("/", 1)[-1].startswith(("_", "."))
            and not k.endswith("$folder$")}
    s = tstats(lake, db, "sales")
    assert int(s["objects"]) == len(data) == 3, (s, listed)
    assert int(s["bytes"]) == sum(data.values()), (s, data)
    assert int(tstats(lake, db, "events")["objects"]) == 2
    assert table_json(lake, db, "sales")["StorageDescriptor"]["Location"] == \
        f"s3://{b}/sales/"
    assert schema(lake, db, "sales") == (
        [("id", "bigint"), ("name", "string"), ("score", "double")], [])
    msgs = messages(lake)
    assert "not in a table folder" in one(msgs, f"s3://{b}/top.csv")
    assert not [m for m in msgs if "_hidden" in m or "_SUCCESS" in m
                or "$folder$" in m]
    # the table's data link leads to its folder
    assert os.readlink(lake.path("catalog", db, "sales", "data")) == \
        f"../../../s3/{b}/sales"
    assert (lake.path("catalog", db, "sales", "data", "c.csv").read_bytes()
            == CSV3)


def test_kv_folders_are_typed_partitions(lake):
    b, st = lake.bucket, lake.store
    parts = [("2019", "01", "2019-01-05"), ("2019", "02", "2019-02-01"),
             ("2020", "11", "2020-11-30"), ("2020", "12", "2020-12-01")]
    for y, m, d in parts:
        st.put(b, f"clicks/year={y}/Month={m}/day={d}/part-0.csv", CSV3)
        st.put(b, f"clicks/year={y}/Month={m}/day={d}/part-1.csv", CSV3)
    # Hive's escaping of partition values, and its NULL partition
    st.put(b, "ev/ts=2020-01-01 10%3A00%3A00/a.csv", CSV3)
    st.put(b, "ev/ts=__HIVE_DEFAULT_PARTITION__/a.csv", CSV3)
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    assert tables(lake, db) == {"clicks", "ev"}
    assert schema(lake, db, "ev")[1] == [("ts", "timestamp")]
    assert read_text(lake.path("catalog", db, "ev", "partitions")).splitlines() == [
        f"ts=2020-01-01 10:00:00\ts3://{b}/ev/ts=2020-01-01 10%3A00%3A00/",
        f"ts=__HIVE_DEFAULT_PARTITION__\ts3://{b}/ev/ts=__HIVE_DEFAULT_PARTITION__/"]
    cols, pkeys = schema(lake, db, "clicks")
    assert cols == [("id", "bigint"), ("name", "string"), ("score", "double")]
    # typed: a year is a number, "01" keeps its leading zero (string), a
    # day is a date; keys are lower-cased as column names are
    assert pkeys == [("year", "bigint"), ("month", "string"), ("day", "date")]
    tj = table_json(lake, db, "clicks")
    assert [(k["Name"], k["Type"]) for k in tj["PartitionKeys"]] == pkeys
    # the partitions, against the store's own listing
    lines = [l for l in read_text(lake.path("catalog", db, "clicks",
                                            "partitions")).splitlines() if l]
    got = {tuple(l.split("\t")) for l in lines}
    want = set()
    for k in lake.store.keys(b, "clicks/"):
        folder = k.rsplit("/", 1)[0]
        spec = folder.split("/", 1)[1].replace("Month=", "month=")
        want.add((spec, f"s3://{b}/{folder}/"))
    assert got == want and len(got) == len(parts), (got, want)
    ddl = read_text(lake.path("catalog", db, "clicks", "ddl.sql"))
    assert "PARTITIONED BY (\n  `year` bigint,\n  `month` string,\n  `day` date)" in ddl
    assert int(tstats(lake, db, "clicks")["objects"]) == 2 * len(parts)


def test_other_formats_and_schemas_are_logged_never_split(lake):
    """Objects that cannot be read as their folder's table are left out of
    it and named in the log with the reason; no surprise tables."""
    b, st = lake.bucket, lake.store
    st.put(b, "mixed/a.csv", CSV3)
    st.put(b, "mixed/b.csv", CSV3.replace(b"ann", b"ada"))
    st.put(b, "mixed/c.json", b'{"id": 4, "name": "dee"}\n{"id": 5, "name": "ed"}\n')
    st.put(b, "mixed/d.csv", b"x,y,z\n1,2,3\n4,5,6\n")            # another dataset
    st.put(b, "mixed/e.csv", b"id,name,score,extra\n6,fay,1.5,yes\n")  # one more column
    st.put(b, "mixed/f.csv", b"id;name;score\n7;gus;2\n8;hal;3\n")  # other delimiter
    # partition folders that disagree: the table keeps the shared keys
    st.put(b, "pk/year=2020/a.csv", CSV3)
    st.put(b, "pk/yr=2021/b.csv", CSV3)
    # JSON whose column types conflict: typed string, and said so
    st.put(b, "conf/a.json", b'{"v": 1, "w": 1}\n')
    st.put(b, "conf/b.json", b'{"v": {"x": 1}, "w": 2.5}\n')
    # a partition key that is also a column: Athena would refuse the table
    st.put(b, "dup/year=2020/a.csv", b"year,v\n2020,1\n")
    lake.mount()
    status = lake.crawl()
    db = lake.database_of(b)
    assert tables(lake, db) == {"mixed", "pk", "conf", "dup"}
    s = tstats(lake, db, "mixed")
    assert s["classification"] == "csv" and s["objects"] == "3", s
    assert schema(lake, db, "mixed")[0] == [
        ("id", "bigint"), ("name", "string"), ("score", "double"),
        ("extra", "string")]
    msgs = messages(lake)
    u = f"s3://{b}/mixed/"
    assert "classified as json, but table mixed is csv" in one(
        msgs, "Skipped", u + "c.json")
    m = one(msgs, "Skipped", u + "d.csv")
    assert "do not line up" in m and "(x, y, z)" in m and "(id, name, score)" in m
    assert "delimiter differs" in one(msgs, "Skipped", u + "f.csv")
    assert not [x for x in msgs if u + "e.csv" in x and "Skipped" in x]
    # pk: both objects kept, no partition keys, the reason logged
    assert schema(lake, db, "pk")[1] == []
    assert tstats(lake, db, "pk")["objects"] == "2"
    m = one(msgs, "Table pk keeps 0 of 1 partition keys")
    assert "year=2020/" in m and "yr=2021/" in m
    # conf: v cannot be both bigint and a struct; w widens quietly
    assert dict(schema(lake, db, "conf")[0]) == {"v": "string", "w": "double"}
    m = one(msgs, "Column v of table conf")
    assert "typed string" in m and f"s3://{b}/conf/b.json" in m
    assert not [x for x in msgs if "Column w" in x]
    one(msgs, "Partition key year of table dup is also a column")
    summary = msgs[-1]
    assert re.search(r"\b3 skipped\b", summary), summary
    assert status["tables_created"] == "4", status


# --------------------------------------------------------------------------
# custom crawlers

def test_custom_crawler_targets_database_and_glue_excludes(lake):
    b1 = lake.bucket
    b2 = lake.make_bucket()
    st = lake.store
    for k in ("raw/keep/a.csv", "raw/keep/b.bak", "raw/keep/deep/c.bak",
              "raw/tmp/x.csv", "raw/scratch/y.csv", "raw/logs/day1.csv",
              "raw/logs/day7.csv", "raw/logs/dayx.csv", "raw/top.bak",
              "other/zz/z.csv"):
        st.put(b1, k, CSV3)
    st.put(b2, "more/clicks/c.csv", CSV3)
    lake.mount()
    excl = "{tmp,scratch}/**, logs/day[5-9].csv, logs/day[!0-9].csv"
    run_spec(lake, "mine", f"targets  = s3://{b1}/raw/, s3://{b2}/more/\n"
                           f"database = Sales-DB.2024\n"
                           f"exclude  = *.bak, {excl}\n")
    db = "sales_db_2024"  # Glue's sanitising of the database name
    assert os.listdir(lake.path("catalog")) == [db]
    # `*` stays within one folder: *.bak drops raw/top.bak (else a table
    # "raw" would appear) but not keep/b.bak nor keep/deep/c.bak
    assert tables(lake, db) == {"keep", "logs", "clicks"}
    assert tstats(lake, db, "keep")["objects"] == "3"
    assert tstats(lake, db, "logs")["objects"] == "1"  # day1 only
    assert table_json(lake, db, "clicks")["StorageDescriptor"]["Location"] == \
        f"s3://{b2}/more/clicks/"
    # `**` crosses folders: **.bak drops every .bak
    run_spec(lake, "mine", f"targets  = s3://{b1}/raw/, s3://{b2}/more/\n"
                           f"database = Sales-DB.2024\n"
                           f"exclude  = **.bak, {excl}\n")
    assert tables(lake, db) == {"keep", "logs", "clicks"}
    assert tstats(lake, db, "keep")["objects"] == "1"
    assert read_text(lake.path("crawlers", "mine", "spec")).startswith(
        f"targets  = s3://{b1}/raw/")
    # the store still has every object (a crawler never writes to it)
    assert len(st.keys(b1, "raw/")) == 9


def test_objects_directly_in_a_target_are_its_table(lake):
    """Objects directly in a custom crawler's target make a table named
    after the target's last folder; its location also holds the other
    tables' folders, which the log points out."""
    b, st = lake.bucket, lake.store
    st.put(b, "raw/a.csv", CSV3)
    st.put(b, "raw/x/b.csv", CSV3)
    lake.mount()
    run_spec(lake, "r", f"targets = s3://{b}/raw/\ndatabase = r\n")
    assert tables(lake, "r") == {"raw", "x"}
    assert table_json(lake, "r", "raw")["StorageDescriptor"]["Location"] == \
        f"s3://{b}/raw/"
    assert tstats(lake, "r", "raw")["objects"] == "1"
    m = one(messages(lake, "r"), "Table raw is the objects directly in")
    assert "1 other tables (e.g. x)" in m


def test_interval_runs_the_crawler_again(lake):
    b = lake.bucket
    lake.store.put(b, "in/first/a.csv", CSV3)
    lake.mount("settle=3600", crawl="auto")
    with pytest.raises(OSError) as e:
        run_spec(lake, "tick", f"targets = s3://{b}/in/\ninterval = soon\n")
    assert e.value.errno == errno.EINVAL
    run_spec(lake, "tick", f"targets = s3://{b}/in/\ndatabase = tick\n"
                           f"interval = 1\n")
    assert tables(lake, "tick") == {"first"}
    # written behind the mount's back: only the interval can find it
    lake.store.put(b, "in/late/b.csv", CSV3)
    wait_until(lambda: "late" in tables(lake, "tick"), 60,
               interval=0.5, what="a run started by the interval")
    st = lake.status("crawlers", "tick")
    assert st["last_run"] in ("SUCCEEDED", ""), st


# --------------------------------------------------------------------------
# naming

def test_glue_name_sanitising(lake):
    b = lake.make_bucket(f"t-dots.and-dash-{os.urandom(3).hex()}")
    st = lake.store
    for folder in ("Sales Data-2020", "\u00dcber", "UPPER", "A-B", "a_b"):
        st.put(b, f"{folder}/a.csv", CSV3)
    lake.mount(f"buckets={b}")
    lake.crawl()
    db = b.replace(".", "_").replace("-", "_")
    assert os.listdir(lake.path("catalog")) == [db]
    got = tables(lake, db)
    suffixed = [t for t in got if re.fullmatch(r"a_b_[0-9a-f]{8}", t)]
    assert got == {"sales_data_2020", "_ber", "upper", "a_b"} | set(suffixed)
    assert len(suffixed) == 1, got
    # "A-B/" sorts first and keeps the plain name; "a_b/" gets the suffix
    assert table_json(lake, db, "a_b")["StorageDescriptor"]["Location"] == \
        f"s3://{b}/A-B/"
    assert table_json(lake, db, suffixed[0])["StorageDescriptor"]["Location"] \
        == f"s3://{b}/a_b/"
    one(messages(lake), f"'s3://{b}/a_b/' has the same table name as "
                        f"'s3://{b}/A-B/'", suffixed[0])
    # stable: a second run finds the same tables
    st2 = lake.crawl()
    assert tables(lake, db) == got
    assert (st2["tables_created"], st2["tables_deleted"]) == ("0", "0"), st2


# --------------------------------------------------------------------------
# schema change

def test_schema_change_add_widen_deprecate_revive(lake):
    b, st = lake.bucket, lake.store
    st.put(b, "w/a.csv", b"id,v\n1,2\n2,3\n")
    st.put(b, "p/k=1/a.csv", b"id,v\n1,2\n")
    st.put(b, "p/k=2/a.csv", b"id,v\n3,4\n")
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    assert schema(lake, db, "w")[0] == [("id", "bigint"), ("v", "bigint")]
    created = tstats(lake, db, "w")["created"]

    # a new column is added, a widened type is widened
    st.put(b, "w/b.csv", b"id,v,note\n3,2.5,hi\n")
    s1 = lake.crawl()
    assert s1["tables_updated"] == "1", s1
    assert schema(lake, db, "w")[0] == [("id", "bigint"), ("v", "double"),
                                         ("note", "string")]
    assert tstats(lake, db, "w")["created"] == created
    one(messages(lake), "Updated table w in database", "new columns: note",
        "types changed: v bigint -> double")

    # a vanished partition leaves the partition list
    os.unlink(lake.s3(b, "p", "k=2", "a.csv"))
    lake.crawl()
    parts = read_text(lake.path("catalog", db, "p", "partitions"))
    assert parts == f"k=1\ts3://{b}/p/k=1/\n", parts

    # a removed folder's table is deprecated, not dropped
    for k in ("a.csv", "b.csv"):
        os.unlink(lake.s3(b, "w", k))
    assert lake.store.keys(b, "w/") == {}
    t0 = int(time.time())
    s2 = lake.crawl()
    assert s2["tables_deleted"] == "1", s2
    assert "w" in tables(lake, db)
    assert tstats(lake, db, "w")["deprecated"] == "true"
    tj = table_json(lake, db, "w")
    for params in (tj["Parameters"], tj["StorageDescriptor"]["Parameters"]):
        ms = int(params["DEPRECATED_BY_CRAWLER"])  # Glue: epoch milliseconds
        assert (t0 - 5) * 1000 <= ms <= (time.time() + 5) * 1000, ms
    assert gluevalidate.validate(tj) == []
    assert schema(lake, db, "w")[0] == [("id", "bigint"), ("v", "double"),
                                         ("note", "string")]
    one(messages(lake), "Deprecated table w in database")
    # a second run does not deprecate it again
    s3 = lake.crawl()
    assert s3["tables_deleted"] == "0", s3

    # the folder comes back: the table is current again
    st.put(b, "w/c.csv", b"id,v\n9,1\n")
    s4 = lake.crawl()
    assert s4["tables_updated"] == "1", s4
    assert tstats(lake, db, "w")["deprecated"] == "false"
    assert "DEPRECATED_BY_CRAWLER" not in table_json(lake, db, "w")["Parameters"]
    one(messages(lake), "Updated table w in database", "no longer deprecated")


# --------------------------------------------------------------------------
# incremental

def test_unchanged_recrawl_lists_only_and_changes_read_only_themselves(lake, samples):
    b, st = lake.bucket, lake.store
    weather = (samples / "seattle-weather.csv").read_bytes()
    st.put(b, "weather/w.csv", weather)
    st.put(b, "weathergz/w.csv.gz", gzip.compress(weather))
    st.put(b, "flights/f.parquet", (samples / "flights-3m.parquet").read_bytes())
    for i in range(6):
        st.put(b, f"small/part-{i}.csv", b"id,v\n%d,1\n" % i)
    lake.mount()
    first = lake.crawl()
    assert int(first["bytes_read"]) > 0
    before = lake.stats()
    again = lake.crawl()
    after = lake.stats()
    # LIST requests only: no GET, no HEAD, no object read (over S3,
    # bytes_downloaded also counts the LIST responses' XML)
    for k in ("requests_get", "requests_head", "crawler_objects_read",
              "crawler_bytes_read"):
        assert delta(before, after, k) == 0, (k, before, after)
    if lake.backend == "local":
        assert delta(before, after, "bytes_downloaded") == 0
    assert delta(before, after, "requests_list") >= 1, (before, after)
    assert again["bytes_read"] == "0", again
    assert (again["tables_created"], again["tables_updated"]) == ("0", "0"), again
    one(messages(lake), "9 objects listed, 0 new or changed to classify")

    # one object changed (same size, new content), one new, one deleted
    st.put(b, "small/part-1.csv", b"id,v\n7,1\n")
    st.put(b, "small/part-9.csv", b"id,v,w\n9,1,2\n")
    os.unlink(lake.s3(b, "small", "part-2.csv"))
    before = lake.stats()
    third = lake.crawl()
    after = lake.stats()
    sizes = st.keys(b, "small/")
    assert delta(before, after, "crawler_objects_read") == 2, (before, after)
    want = sizes["small/part-1.csv"] + sizes["small/part-9.csv"]
    assert delta(before, after, "crawler_bytes_read") == want
    assert delta(before, after, "requests_get") == 2, (before, after)
    if lake.backend == "local":
        assert delta(before, after, "bytes_downloaded") == want
    assert third["bytes_read"] == str(want), third
    classified = [m for m in messages(lake) if m.startswith("Classified ")]
    assert sorted(classified) == [f"Classified s3://{b}/small/part-1.csv as csv",
                                  f"Classified s3://{b}/small/part-9.csv as csv"]
    db = lake.database_of(b)
    assert tstats(lake, db, "small")["objects"] == "6"
    assert schema(lake, db, "small")[0] == [("id", "bigint"), ("v", "bigint"),
                                             ("w", "bigint")]


class _DelayProxy:
    """A forwarding HTTP proxy in front of s3rver that holds each object GET
    for DELAY seconds and records how many were in flight at once; with
    fail_gets set, object GETs get that HTTP status instead."""

    def __init__(self, upstream, delay=0.3, fail_gets=None):
        host, port = upstream.split("//", 1)[1].split(":")
        proxy = self
        self.delay = delay
        self.fail_gets = fail_gets
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.object_gets = 0

        class Handler(ProxyHandler):
            def _forward(self):
                body = self.read_body()
                path = self.path.split("?", 1)[0]
                is_object_get = (self.command == "GET" and
                                 path.strip("/").count("/") >= 1)
                if is_object_get:
                    with proxy.lock:
                        proxy.in_flight += 1
                        proxy.object_gets += 1
                        proxy.max_in_flight = max(proxy.max_in_flight,
                                                  proxy.in_flight)
                    time.sleep(proxy.delay)
                try:
                    if is_object_get and proxy.fail_gets:
                        err = (b"<?xml version=\"1.0\"?><Error><Code>"
                               b"ServiceUnavailable</Code><Message>injected"
                               b"</Message></Error>")
                        self.send_response_only(proxy.fail_gets)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(err)))
                        self.end_headers()
                        self.wfile.write(err)
                        return
                    relay(self, host, port, body)
                finally:
                    if is_object_get:
                        with proxy.lock:
                            proxy.in_flight -= 1

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._srv = LoopbackServer(Handler)
        self.url = self._srv.url

    def close(self):
        self._srv.close()


def test_samples_are_fetched_in_parallel(lake):
    """Eight new objects, each GET held 0.3 s by a proxy: the crawler has
    several in flight at once (its sampler runs on worker threads)."""
    if lake.backend != "s3":
        pytest.skip("needs HTTP between gluefs and the store (a proxy)")
    b = lake.bucket
    for i in range(8):
        lake.store.put(b, f"t{i}/a.csv", CSV3)
    proxy = _DelayProxy(lake.endpoint)
    try:
        lake.mount(f"buckets={b}", env={"AWS_ENDPOINT_URL": proxy.url})
        st = lake.crawl()
        assert st["last_run"] == "SUCCEEDED", st
        assert len(tables(lake, lake.database_of(b))) == 8
        assert proxy.object_gets >= 8, proxy.object_gets
        assert proxy.max_in_flight >= 2, \
            f"at most {proxy.max_in_flight} sample GET in flight at once"
        lake.unmount()
    finally:
        proxy.close()


def test_an_outage_is_not_a_deletion(lake):
    """Objects that cannot be read (the store answers 503) leave their
    table as it was: never deprecated, never emptied; the log names them."""
    if lake.backend != "s3":
        pytest.skip("needs HTTP between gluefs and the store (a proxy)")
    b = lake.bucket
    lake.store.put(b, "w/a.csv", CSV3)
    lake.mount(f"buckets={b}")
    lake.crawl()
    db = lake.database_of(b)
    before = table_json(lake, db, "w")
    lake.unmount()
    lake.store.put(b, "w/a.csv", CSV3 + b"4,dee,1\n")  # changed: must be read
    proxy = _DelayProxy(lake.endpoint, delay=0, fail_gets=503)
    try:
        lake.allow_errors(r"503", r"w/a\.csv", r"cannot read", r"unavailable")
        lake.mount(f"buckets={b}", env={"AWS_ENDPOINT_URL": proxy.url})
        st = lake.crawl()
        assert st["tables_deleted"] == "0", st
        assert tstats(lake, db, "w")["deprecated"] == "false"
        assert table_json(lake, db, "w") == before
        msgs = messages(lake)
        one(msgs, f"Skipped 's3://{b}/w/a.csv': cannot read it")
        one(msgs, f"Kept table w in database {db} as it was: 1 of its objects "
                  f"could not be read")
        lake.unmount()
    finally:
        proxy.close()
    # the store is back: the change is read at the next crawl
    lake.mount(f"buckets={b}")
    st = lake.crawl()
    assert tstats(lake, db, "w")["recordCount"] == "4"


# --------------------------------------------------------------------------
# the log

def test_log_reads_like_glue(lake):
    b, st = lake.bucket, lake.store
    st.put(b, "good/a.csv", CSV3)
    st.put(b, "bad/blob.bin", bytes(range(256)) * 16)
    st.put(b, "bad/empty.csv", b"")
    lake.allow_errors(r"blob\.bin", r"empty\.csv", r"UNKNOWN")
    lake.mount()
    status = lake.crawl()
    db = lake.database_of(b)
    lines = log_lines(lake)
    msgs = [m for _, m in lines]
    assert msgs[0] == "Crawler default started", msgs
    one(msgs, f"Classified s3://{b}/good/a.csv as csv")
    one(msgs, f"Created table good in database {db}")
    for k in ("bad/blob.bin", "bad/empty.csv"):
        m = one(msgs, f"Skipped 's3://{b}/{k}': classification UNKNOWN: ")
        assert len(m.split("UNKNOWN: ", 1)[1]) > 5, m  # a reason
    m = re.fullmatch(r"Crawler default finished: SUCCEEDED in \d+s: (\d+) objects "
                     r"scanned, (\d+) new or changed read \((\d+) bytes\), "
                     r"(\d+) skipped, (\d+) tables created, (\d+) updated, "
                     r"(\d+) deprecated", msgs[-1])
    assert m, msgs[-1]
    scanned, read, nbytes, skipped, created, updated, dep = map(int, m.groups())
    assert (scanned, read, skipped, created, updated, dep) == (3, 3, 2, 1, 0, 0)
    assert (str(scanned), str(nbytes), str(created)) == (
        status["objects_scanned"], status["bytes_read"],
        status["tables_created"])
    assert [lv for lv, _ in lines if lv == "ERROR"] == []
    # a second run: an update, said with what changed
    st.put(b, "good/b.csv", b"id,name,score,more\n4,dan,1,x\n")
    lake.crawl()
    msgs = messages(lake)
    assert msgs[0] == "Crawler default started"
    one(msgs, f"Updated table good in database {db}: new columns: more")
    assert "1 updated" in msgs[-1] and "1 new or changed read" in msgs[-1]


# --------------------------------------------------------------------------
# table.json against Glue's model

def test_every_table_json_is_a_valid_glue_table_input(lake):
    """Tables of every kind, odd names included, validated with botocore's
    ParamValidator and the model's lengths and patterns (gluevalidate)."""
    b, st = lake.bucket, lake.store
    long_name = "c" * 300
    st.put(b, "plain/a.csv", CSV3)
    st.put(b, "quoted/a.csv", b'id,text\n1,"a, b"\n2,"say ""hi"""\n')
    st.put(b, "tabs/a.tsv", b"id\tv\n1\t2\n")
    st.put(b, "nested/a.json",
           b'{"a": {"b": [1, 2], "c": {"d": "x"}}, "ok": true}\n')
    st.put(b, "gz/a.csv.gz", gzip.compress(CSV3))
    st.put(b, "parts/dt=2024-01-01/a.csv", CSV3)
    st.put(b, "latin1/a.csv", b"caf\xe9,na\xefve\n1,2\n3,4\n")
    st.put(b, "oddnames/a.csv",
           b'"two\nlines","ctl\x01x","' + long_name.encode() + b'"\n1,2,3\n4,5,6\n')
    st.put(b, "gone/a.csv", CSV3)
    lake.allow_errors(r"latin1", r"oddnames")
    lake.mount()
    lake.crawl()
    os.unlink(lake.s3(b, "gone", "a.csv"))
    lake.crawl()  # "gone" is now deprecated
    db = lake.database_of(b)
    want = {"plain", "quoted", "tabs", "nested", "gz", "parts", "oddnames",
            "gone"}
    # a Latin-1 file is not classified (the sampler wants UTF-8): logged
    assert tables(lake, db) == want
    one(messages(lake), f"'s3://{b}/latin1/a.csv': classification UNKNOWN")
    n, errors = gluevalidate.validate_catalog(lake.mnt)
    assert errors == [] and n == len(want), errors
    for t in want:
        tj = table_json(lake, db, t)
        sd = tj["StorageDescriptor"]
        assert tj["Name"] == t and tj["TableType"] == "EXTERNAL_TABLE"
        assert sd["Location"] == f"s3://{b}/{t}/"
        assert all(isinstance(v, str) for v in tj["Parameters"].values())
        assert sd["Columns"], t
    assert table_json(lake, db, "quoted")["StorageDescriptor"]["SerdeInfo"][
        "SerializationLibrary"] == "org.apache.hadoop.hive.serde2.OpenCSVSerde"
    names = [c["Name"] for c in
             table_json(lake, db, "oddnames")["StorageDescriptor"]["Columns"]]
    assert all(len(x.encode()) <= 255 and "\n" not in x and "\x01" not in x
               for x in names), names
    # the validator is not vacuous: it refuses what Glue would refuse
    good = table_json(lake, db, "plain")
    for breakage, why in (
            (lambda d: d.pop("Name"), "Missing required"),
            (lambda d: d.update(Owner=""), "Invalid length"),
            (lambda d: d["Parameters"].update(n=1), "Invalid type"),
            (lambda d: d.update(Surprise=1), "Unknown parameter"),
            (lambda d: d["StorageDescriptor"]["Columns"].append(
                {"Name": "a\nb", "Type": "int"}), "does not match"),
            (lambda d: d.update(Name="x" * 256), "more than 255")):
        d = json.loads(json.dumps(good))
        breakage(d)
        errs = gluevalidate.validate(d)
        assert any(why in e for e in errs), (why, errs)
    assert gluevalidate.validate(b'{"Name": "caf\xe9"}')  # not UTF-8
    assert gluevalidate.validate('{"Name": "a", "Name": "b"}')  # duplicate key

    # DESIGN.md 3: `aws glue create-table --database-name D --table-input
    # file://.../table.json` works as is.  The AWS CLI (its own, newer
    # botocore) sends each one to a stand-in Glue endpoint that records it.
    aws = shutil.which("aws")
    if lake.backend != "local" or not aws:
        return
    got = []

    class Glue(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((self.headers.get("X-Amz-Target"), json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Glue)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y",
               AWS_CONFIG_FILE=os.devnull, AWS_MAX_ATTEMPTS="1",
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    try:
        for t in sorted(want):
            path = lake.path("catalog", db, t, "table.json")
            r = subprocess.run(
                [aws, "glue", "create-table", "--region", "us-east-1",
                 "--endpoint-url", f"http://127.0.0.1:{srv.server_address[1]}",
                 "--database-name", db, "--table-input", f"file://{path}"],
                capture_output=True, text=True, env=env, timeout=120)
            assert r.returncode == 0, (t, r.stdout + r.stderr)
            target, req = got[-1]
            assert target == "AWSGlue.CreateTable"
            assert req == {"DatabaseName": db, "TableInput": table_json(lake, db, t)}
    finally:
        srv.shutdown()
        srv.server_close()
    assert len(got) == len(want)


def test_big_crawl_log_keeps_every_skip_and_the_summary(lake):
    """The log is capped (1 MiB): per-object "Classified" lines give way
    first, so every object left out and the summary are still named."""
    if lake.backend != "local":
        pytest.skip("7,000 objects: the local store is quick enough")
    b = lake.bucket
    root = lake.local_dir / b / "big"
    root.mkdir(parents=True)
    for i in range(7000):
        (root / f"p-{i:05d}.csv").write_bytes(b"id,v\n%d,1\n" % i)
    for i in range(20):
        (root / f"zz-bad-{i:02d}.bin").write_bytes(bytes(range(256)) * 4)
    lake.allow_errors(r"zz-bad")
    lake.mount()
    st = lake.crawl()
    assert st["last_run"] == "SUCCEEDED", st
    text = read_text(lake.path("crawlers", "default", "log"))
    assert len(text.encode()) <= 1 << 20
    msgs = messages(lake)
    for i in range(20):
        one(msgs, f"s3://{b}/big/zz-bad-{i:02d}.bin': classification UNKNOWN")
    classified = [m for m in msgs if m.startswith("Classified ")]
    assert 1000 < len(classified) < 7000, len(classified)
    m = re.search(r"(\d+) log lines left out", msgs[-1])
    assert msgs[-1].startswith("Crawler default finished: SUCCEEDED"), msgs[-1]
    assert m and int(m.group(1)) == 7000 - len(classified), msgs[-1]
    assert "7020 objects scanned" in msgs[-1] and "20 skipped" in msgs[-1]
    assert tstats(lake, lake.database_of(b), "big")["objects"] == "7000"
