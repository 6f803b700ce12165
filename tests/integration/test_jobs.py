"""jobs/ (DESIGN.md 5): ETL started by writing a spec, output checked row by
row against Python's own reading of the source CSV, through the mount and
through the independent client."""
import csv
import errno
import io
import json
import os

import pytest

from conftest import parse_kv, read_text, wait_until, write_file


def weather_rows(samples):
    with open(samples / "seattle-weather.csv", newline="") as f:
        return list(csv.DictReader(f))


def rainy_expected(samples):
    return sorted((r["date"], float(r["precipitation"]))
                  for r in weather_rows(samples) if r["weather"] == "rain")


def seed_samples(lake, samples):
    """The embedded lake's sample bucket, made by hand: samples/weather/."""
    b = lake.make_bucket("samples")
    lake.store.put(b, "weather/seattle-weather.csv",
                   (samples / "seattle-weather.csv").read_bytes())
    return b


def part_keys(lake, bucket, prefix):
    return sorted(k for k in lake.store.keys(bucket, prefix)
                  if k[len(prefix):].split("/")[-1].startswith("part-"))


def json_rows(blobs):
    rows = []
    for blob in blobs:
        for line in blob.decode().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


RAINY_SPEC = """source = samples.weather
sql    = SELECT date, precipitation FROM weather WHERE weather = 'rain'
target = s3://samples/rainy/
format = json
"""


def test_rainy_flow(lake, samples):
    """The issue's walkthrough, step by step."""
    seed_samples(lake, samples)
    lake.mount()
    assert "samples" in os.listdir(lake.s3())
    assert os.listdir(lake.s3("samples", "weather")) == ["seattle-weather.csv"]
    lake.crawl()
    schema = read_text(lake.path("catalog", "samples", "weather", "schema"))
    assert schema.splitlines()[:2] == ["date\tdate", "precipitation\tdouble"]
    os.mkdir(lake.path("jobs", "rainy"))
    assert {"spec", "status", "log", "wait", "ctl"} <= set(
        os.listdir(lake.path("jobs", "rainy")))
    write_file(lake.path("jobs", "rainy", "spec"), RAINY_SPEC)
    text = read_text(lake.path("jobs", "rainy", "wait"), timeout=300)
    assert "state: SUCCEEDED" in text, text
    st = parse_kv(text)
    expected = rainy_expected(samples)
    assert int(st["rows_written"]) == len(expected), st
    assert int(st["rows_read"]) == len(weather_rows(samples)), st
    # through the mount
    names = sorted(os.listdir(lake.s3("samples", "rainy")))
    parts = [n for n in names if n.startswith("part-")]
    assert parts and all(n.endswith(".json") for n in parts), names
    assert "_SUCCESS" in names, names
    via_mount = json_rows(lake.s3("samples", "rainy", n).read_bytes() for n in parts)
    # through the independent client
    keys = part_keys(lake, "samples", "rainy/")
    assert [k.split("/")[-1] for k in keys] == parts
    via_store = json_rows(lake.store.get("samples", k) for k in keys)
    assert via_mount == via_store
    for r in via_mount:
        assert set(r) == {"date", "precipitation"}, r
    got = sorted((r["date"], float(r["precipitation"])) for r in via_mount)
    assert got == expected
    # the spec reads back as written
    assert read_text(lake.path("jobs", "rainy", "spec")).strip() == RAINY_SPEC.strip()
    # cat part-* with the shell, as the walkthrough does
    import subprocess
    out = subprocess.run(f"cat {lake.s3('samples', 'rainy')}/part-*", shell=True,
                         capture_output=True, check=True).stdout
    assert len(json_rows([out])) == len(expected)


def test_csv_output(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    st = lake.run_job("rainy_csv", RAINY_SPEC.replace("rainy/", "rainy_csv/")
                      .replace("format = json", "format = csv"))
    assert st["state"] == "SUCCEEDED", st
    keys = part_keys(lake, "samples", "rainy_csv/")
    assert keys and all(k.endswith(".csv") for k in keys), keys
    rows = []
    for k in keys:
        data = lake.store.get("samples", k)
        assert lake.s3("samples", *k.split("/")).read_bytes() == data
        rs = list(csv.reader(io.StringIO(data.decode())))
        if rs and rs[0] == ["date", "precipitation"]:
            rs = rs[1:]
        rows += [(d, float(p)) for d, p in rs]
    assert sorted(rows) == rainy_expected(samples)


def test_partition_by(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    spec = ("source = samples.weather\n"
            "sql = SELECT date, precipitation, substr(date, 1, 4) AS year\n"
            "      FROM weather WHERE weather = 'rain'\n"
            "target = s3://samples/byyear/\n"
            "format = json\n"
            "partition_by = year\n")
    st = lake.run_job("byyear", spec)
    assert st["state"] == "SUCCEEDED", st
    expected = rainy_expected(samples)
    years = sorted({d[:4] for d, _ in expected})
    assert sorted(os.listdir(lake.s3("samples", "byyear"))) == sorted(
        [f"year={y}" for y in years] + ["_SUCCESS"])
    got = []
    for y in years:
        keys = part_keys(lake, "samples", f"byyear/year={y}/")
        assert keys, y
        for r in json_rows(lake.store.get("samples", k) for k in keys):
            assert r["date"].startswith(y)
            if "year" in r:
                assert str(r["year"]) == y
            got.append((r["date"], float(r["precipitation"])))
    assert sorted(got) == expected


def test_overwrite_keeps_old_data_when_the_run_fails(lake, samples):
    seed_samples(lake, samples)
    lake.allow_errors(r"nosuchcolumn", r"no such column")
    lake.mount()
    lake.crawl()
    good = RAINY_SPEC.replace("rainy/", "ow/") + "mode = overwrite\n"
    st = lake.run_job("ow", good)
    assert st["state"] == "SUCCEEDED", st
    first = part_keys(lake, "samples", "ow/")
    assert first
    bad = good.replace("SELECT date, precipitation", "SELECT date, nosuchcolumn")
    try:
        st = lake.run_job("ow", bad)
        assert st["state"] == "FAILED", st
    except OSError as e:  # rejected when the spec is closed: fine too
        assert e.errno == errno.EINVAL
        st = lake.status("jobs", "ow")
    assert "nosuchcolumn" in st.get("error", ""), st
    assert part_keys(lake, "samples", "ow/") == first
    assert sorted(os.listdir(lake.s3("samples", "ow"))) == sorted(
        [k.split("/")[-1] for k in first] + ["_SUCCESS"])
    # a good run with overwrite replaces the old objects
    st = lake.run_job("ow", good)
    assert st["state"] == "SUCCEEDED", st
    second = part_keys(lake, "samples", "ow/")
    assert second and not set(second) & set(first), (first, second)
    rows = json_rows(lake.store.get("samples", k) for k in second)
    assert sorted((r["date"], float(r["precipitation"])) for r in rows) == \
        rainy_expected(samples)


def test_append_mode_adds_a_run(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    spec = RAINY_SPEC.replace("rainy/", "app/")
    assert lake.run_job("app", spec)["state"] == "SUCCEEDED"
    first = part_keys(lake, "samples", "app/")
    write_file(lake.path("jobs", "app", "ctl"), "run\n")
    st = lake.wait("jobs", "app")
    assert st["state"] == "SUCCEEDED", st
    both = part_keys(lake, "samples", "app/")
    assert set(first) < set(both)
    rows = json_rows(lake.store.get("samples", k) for k in both)
    assert len(rows) == 2 * len(rainy_expected(samples))


def test_bad_spec_fails_close_with_einval(lake):
    lake.mount()
    os.mkdir(lake.path("jobs", "bad"))
    with pytest.raises(OSError) as e:
        write_file(lake.path("jobs", "bad", "spec"), "targte = x\n")
    assert e.value.errno == errno.EINVAL
    st = lake.status("jobs", "bad")
    assert "line 1" in st.get("error", ""), st
    assert "targte" in st.get("error", ""), st
    # a missing target names what is missing
    with pytest.raises(OSError) as e:
        write_file(lake.path("jobs", "bad", "spec"), "source = samples.weather\n")
    assert e.value.errno == errno.EINVAL
    assert "target" in lake.status("jobs", "bad").get("error", "")


def test_parquet_output_is_einval(lake):
    lake.mount()
    os.mkdir(lake.path("jobs", "pq"))
    with pytest.raises(OSError) as e:
        write_file(lake.path("jobs", "pq", "spec"),
                   f"source = s3://{lake.bucket}/in/\n"
                   f"target = s3://{lake.bucket}/out/\n"
                   "format = parquet\n")
    assert e.value.errno == errno.EINVAL
    err = lake.status("jobs", "pq").get("error", "")
    assert "parquet" in err and "line 3" in err, err


@pytest.mark.parametrize("sql,word", [
    ("ATTACH DATABASE '{db}' AS evil", "attach"),
    ("SELECT load_extension('{so}')", "load_extension"),
])
def test_sql_cannot_attach_or_load_extensions(lake, samples, work, sql, word):
    seed_samples(lake, samples)
    lake.allow_errors(word, r"not authorized", r"denied")
    lake.mount()
    lake.crawl()
    evil_db = work / "evil.db"
    so = work / "evil.so"
    spec = ("source = samples.weather\n"
            f"sql = {sql.format(db=evil_db, so=so)}\n"
            "target = s3://samples/evil/\n"
            "format = json\n")
    try:
        st = lake.run_job("evil", spec)
    except OSError as e:
        assert e.errno == errno.EINVAL
        st = lake.status("jobs", "evil")
    assert st["state"] == "FAILED", st
    assert word in st.get("error", "").lower(), st
    assert not evil_db.exists()
    assert lake.store.keys("samples", "evil/") == {}


def test_source_s3_prefix_not_in_catalog(lake, samples):
    b = lake.bucket
    lake.store.put(b, "raw/weather/seattle-weather.csv",
                   (samples / "seattle-weather.csv").read_bytes())
    lake.mount()  # no crawl: the source is not in the catalog
    spec = (f"source = s3://{b}/raw/weather/\n"
            "sql    = SELECT date, precipitation FROM weather WHERE weather = 'rain'\n"
            f"target = s3://{b}/out/\n"
            "format = json\n")
    st = lake.run_job("froms3", spec)
    assert st["state"] == "SUCCEEDED", st
    keys = part_keys(lake, b, "out/")
    rows = json_rows(lake.store.get(b, k) for k in keys)
    assert sorted((r["date"], float(r["precipitation"])) for r in rows) == \
        rainy_expected(samples)


def test_copy_without_sql_converts_csv_to_json(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    st = lake.run_job("conv", "source = samples.weather\n"
                              "target = s3://samples/asjson/\n"
                              "format = json\n")
    assert st["state"] == "SUCCEEDED", st
    rows = json_rows(lake.store.get("samples", k)
                     for k in part_keys(lake, "samples", "asjson/"))
    src = weather_rows(samples)
    assert len(rows) == len(src)
    assert sorted(r["date"] for r in rows) == sorted(r["date"] for r in src)
    assert set(rows[0]) == {"date", "precipitation", "temp_max", "temp_min",
                            "wind", "weather"}


def test_ctl_and_rm(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    lake.run_job("tmp", RAINY_SPEC.replace("rainy/", "tmp/"))
    with pytest.raises(OSError) as e:
        write_file(lake.path("jobs", "tmp", "ctl"), "explode\n")
    assert e.value.errno == errno.EINVAL
    import shutil
    shutil.rmtree(lake.path("jobs", "tmp"))
    assert "tmp" not in os.listdir(lake.path("jobs"))
    # the output stays: rm -r of a job deletes the job, not its data
    assert part_keys(lake, "samples", "tmp/")


@pytest.mark.big
@pytest.mark.timeout_s(600)
def test_job_killed_while_running_is_interrupted(lake, samples, work):
    b = lake.bucket
    raw = (samples / "seattle-weather.csv").read_bytes()
    header, body = raw.split(b"\n", 1)
    if not body.endswith(b"\n"):
        body += b"\n"
    big = work / "big.csv"
    target = 200 << 20
    with open(big, "wb") as f:
        f.write(header + b"\n")
        n = 0
        while n < target:
            f.write(body)
            n += len(body)
    lake.store.put_file(b, "big/big.csv", big)
    big.unlink()
    lake.allow_errors(r".*")  # the first daemon is killed: nothing it says counts
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    os.mkdir(lake.path("jobs", "long"))
    write_file(lake.path("jobs", "long", "spec"),
               f"source = {db}.big\n"
               "sql = SELECT * FROM big WHERE weather = 'rain'\n"
               f"target = s3://{b}/longout/\n"
               "format = json\n")
    wait_until(lambda: lake.status("jobs", "long").get("state") == "RUNNING"
               and int(lake.status("jobs", "long").get("rows_read", "0") or 0) > 0
               or lake.status("jobs", "long").get("state") in ("SUCCEEDED", "FAILED"),
               60, interval=0.05, what="the job to run")
    st = lake.status("jobs", "long")
    if st["state"] != "RUNNING":
        pytest.fail(f"the job was not RUNNING long enough to be killed: {st}")
    lake.kill()
    n_logs = len(lake.stderr_files)
    lake.allowed = []
    lake.mount()
    st = lake.status("jobs", "long")
    assert st["state"] == "FAILED", st
    assert "interrupted" in st.get("error", ""), st
    # no _SUCCESS: the run did not complete
    assert "longout/_SUCCESS" not in lake.store.keys(b, "longout/")
    lake.stderr_files = lake.stderr_files[n_logs:]


def test_gzip_compression(lake, samples):
    import gzip
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    st = lake.run_job("gz", RAINY_SPEC.replace("rainy/", "gz/") + "compression = gzip\n")
    assert st["state"] == "SUCCEEDED", st
    keys = part_keys(lake, "samples", "gz/")
    assert keys and all(k.endswith(".json.gz") for k in keys), keys
    rows = json_rows(gzip.decompress(lake.store.get("samples", k)) for k in keys)
    assert sorted((r["date"], float(r["precipitation"])) for r in rows) == \
        rainy_expected(samples)


def test_error_if_exists(lake, samples):
    seed_samples(lake, samples)
    lake.allow_errors(r"exists")
    lake.mount()
    lake.crawl()
    spec = RAINY_SPEC.replace("rainy/", "once/") + "mode = error_if_exists\n"
    assert lake.run_job("once", spec)["state"] == "SUCCEEDED"
    first = part_keys(lake, "samples", "once/")
    write_file(lake.path("jobs", "once", "ctl"), "run\n")
    st = lake.wait("jobs", "once")
    assert st["state"] == "FAILED", st
    assert "exist" in st.get("error", ""), st
    assert part_keys(lake, "samples", "once/") == first


def test_target_table_is_added_to_the_catalog(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    st = lake.run_job("tt", RAINY_SPEC.replace("rainy/", "curated/rainy_days/") +
                      "target_table = curated.rainy_days\n")
    assert st["state"] == "SUCCEEDED", st
    t = lake.path("catalog", "curated", "rainy_days")
    assert t.is_dir(), os.listdir(lake.path("catalog"))
    schema = read_text(t / "schema").splitlines()
    assert [l.split("\t")[0] for l in schema if l and not l.startswith("#")] == \
        ["date", "precipitation"]
    tj = json.loads(read_text(t / "table.json"))
    assert tj["StorageDescriptor"]["Location"].rstrip("/") == "s3://samples/curated/rainy_days"
    # and the new table is a source for the next job
    st = lake.run_job("next", "source = curated.rainy_days\n"
                              "sql = SELECT count(*) AS n FROM rainy_days\n"
                              "target = s3://samples/count/\nformat = json\n")
    assert st["state"] == "SUCCEEDED", st
    rows = json_rows(lake.store.get("samples", k)
                     for k in part_keys(lake, "samples", "count/"))
    assert rows == [{"n": len(rainy_expected(samples))}]


def test_join_of_two_sources_by_alias(lake, samples):
    b = seed_samples(lake, samples)
    lake.store.put(b, "kinds/kinds.csv",
                   b"weather,wet\nrain,1\ndrizzle,1\nsnow,1\nsun,0\nfog,0\n")
    lake.mount()
    lake.crawl()
    spec = ("source.w = samples.weather\n"
            "source.k = samples.kinds\n"
            "sql = SELECT w.weather AS weather, count(*) AS days\n"
            "      FROM w JOIN k ON w.weather = k.weather\n"
            "      WHERE k.wet = 1 GROUP BY w.weather ORDER BY w.weather\n"
            "target = s3://samples/wetdays/\n"
            "format = json\n")
    st = lake.run_job("join", spec)
    assert st["state"] == "SUCCEEDED", st
    rows = json_rows(lake.store.get("samples", k)
                     for k in part_keys(lake, "samples", "wetdays/"))
    counts = {}
    for r in weather_rows(samples):
        if r["weather"] in ("rain", "drizzle", "snow"):
            counts[r["weather"]] = counts.get(r["weather"], 0) + 1
    assert rows == [{"weather": k, "days": v} for k, v in sorted(counts.items())]


def test_status_fields_and_remount(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    st = lake.run_job("keep", RAINY_SPEC.replace("rainy/", "keep/"))
    for k in ("state", "run", "progress", "bytes_read", "rows_read",
              "bytes_written", "rows_written", "objects_written", "bad_rows",
              "started", "elapsed", "error"):
        assert k in st, f"{k} missing from status: {st}"
    assert st["progress"].startswith("100%"), st
    assert int(st["objects_written"]) == len(part_keys(lake, "samples", "keep/"))
    assert int(st["bytes_written"]) == sum(
        lake.store.keys("samples", "keep/")[k] for k in part_keys(lake, "samples", "keep/"))
    log = read_text(lake.path("jobs", "keep", "log"))
    assert log.strip(), "empty job log"
    lake.remount()
    assert "keep" in os.listdir(lake.path("jobs"))
    st2 = lake.status("jobs", "keep")
    assert st2["state"] == "SUCCEEDED" and st2["run"] == st["run"], st2
    assert read_text(lake.path("jobs", "keep", "spec")).strip() == \
        RAINY_SPEC.replace("rainy/", "keep/").strip()


@pytest.mark.big
@pytest.mark.timeout_s(600)
def test_stop_a_running_job(lake, samples, work):
    b = lake.bucket
    raw = (samples / "seattle-weather.csv").read_bytes()
    header, body = raw.split(b"\n", 1)
    big = work / "big.csv"
    with open(big, "wb") as f:
        f.write(header + b"\n")
        for _ in range((150 << 20) // len(body)):
            f.write(body)
    lake.store.put_file(b, "big/big.csv", big)
    big.unlink()
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    os.mkdir(lake.path("jobs", "long"))
    write_file(lake.path("jobs", "long", "spec"),
               f"source = {db}.big\n"
               f"target = s3://{b}/stopped/\n"
               "format = json\n")
    wait_until(lambda: lake.status("jobs", "long").get("state") != "STARTING",
               60, interval=0.05, what="the job to start")
    write_file(lake.path("jobs", "long", "ctl"), "stop\n")
    st = lake.wait("jobs", "long", timeout=120)
    if st["state"] == "SUCCEEDED":
        pytest.fail(f"the job finished before it could be stopped: {st}")
    assert st["state"] == "STOPPED", st
    assert "stopped/_SUCCESS" not in lake.store.keys(b, "stopped/")


def test_bad_rows_are_counted_and_the_run_succeeds(lake, samples):
    b = lake.bucket
    lake.store.put(b, "nums/a.csv", b"n,name\n1,one\n2,two\n3,three\n4,four\n5,five\n")
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    # a later file with a bad number and a short row
    lake.store.put(b, "nums/b.csv", b"n,name\nsix,6\n7\n8,eight\n")
    st = lake.run_job("nums", f"source = {db}.nums\n"
                              "sql = SELECT n, name FROM nums WHERE n IS NOT NULL\n"
                              f"target = s3://{b}/numsout/\nformat = json\n")
    assert st["state"] == "SUCCEEDED", st
    assert int(st["bad_rows"]) >= 2, st
    rows = json_rows(lake.store.get(b, k) for k in part_keys(lake, b, "numsout/"))
    # a bad value reads as NULL; a short row keeps what it has (srctab.h)
    assert sorted(r["n"] for r in rows) == [1, 2, 3, 4, 5, 7, 8]
    assert [r["name"] for r in rows if r["n"] == 7] == [None]


def test_sql_error_names_the_problem(lake, samples):
    seed_samples(lake, samples)
    lake.allow_errors(r"syntax error", r"near")
    lake.mount()
    lake.crawl()
    try:
        st = lake.run_job("syn", "source = samples.weather\n"
                                 "sql = SELEKT * FROM weather\n"
                                 "target = s3://samples/syn/\nformat = json\n")
    except OSError as e:
        assert e.errno == errno.EINVAL
        st = lake.status("jobs", "syn")
    assert st["state"] == "FAILED", st
    assert "SELEKT" in st["error"] or "syntax" in st["error"], st
    assert lake.store.keys("samples", "syn/") == {}
    # a source that is not in the catalog
    try:
        st = lake.run_job("nosrc", "source = samples.nosuchtable\n"
                                   "target = s3://samples/nosrc/\nformat = json\n")
    except OSError as e:
        assert e.errno == errno.EINVAL
        st = lake.status("jobs", "nosrc")
    assert st["state"] == "FAILED", st
    assert "nosuchtable" in st["error"], st


def test_bad_spec_keeps_the_previous_spec(lake, samples):
    seed_samples(lake, samples)
    lake.mount()
    lake.crawl()
    good = RAINY_SPEC.replace("rainy/", "kept/")
    assert lake.run_job("kept", good)["state"] == "SUCCEEDED"
    with pytest.raises(OSError) as e:
        write_file(lake.path("jobs", "kept", "spec"),
                   good + "fromat = json\n")
    assert e.value.errno == errno.EINVAL
    assert "line 5" in lake.status("jobs", "kept").get("error", "")
    assert read_text(lake.path("jobs", "kept", "spec")).strip() == good.strip()
    # comments and continuation lines
    spec = ("# rainy days, as JSON\n"
            "source = samples.weather   # the crawled table\n"
            "sql    = SELECT date, precipitation\n"
            "         FROM weather\n"
            "\tWHERE weather = 'rain'  # only rain\n"
            "target = s3://samples/commented/\n"
            "format = json\n")
    st = lake.run_job("commented", spec)
    assert st["state"] == "SUCCEEDED", st
    rows = json_rows(lake.store.get("samples", k)
                     for k in part_keys(lake, "samples", "commented/"))
    assert sorted((r["date"], float(r["precipitation"])) for r in rows) == \
        rainy_expected(samples)


def _big_source(lake, samples, work, mib):
    b = lake.bucket
    raw = (samples / "seattle-weather.csv").read_bytes()
    header, body = raw.split(b"\n", 1)
    big = work / "big.csv"
    with open(big, "wb") as f:
        f.write(header + b"\n")
        for _ in range((mib << 20) // len(body)):
            f.write(body)
    lake.store.put_file(b, "big/big.csv", big)
    big.unlink()
    return b


@pytest.mark.big
@pytest.mark.timeout_s(600)
def test_unmount_during_a_run_and_rm_of_a_running_job(lake, samples, work):
    b = _big_source(lake, samples, work, 150)
    lake.allow_errors(r"stopp", r"cancel", r"interrupt", r"shut")
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    spec = (f"source = {db}.big\n"
            f"target = s3://{b}/out/\n"
            "format = json\n")
    os.mkdir(lake.path("jobs", "j"))
    write_file(lake.path("jobs", "j", "spec"), spec)
    wait_until(lambda: lake.status("jobs", "j").get("state") == "RUNNING", 60,
               interval=0.05, what="the job to run")
    lake.unmount()  # a clean unmount stops the run
    lake.mount()
    st = lake.status("jobs", "j")
    assert st["state"] in ("STOPPED", "FAILED"), st
    assert "out/_SUCCESS" not in lake.store.keys(b, "out/")
    # rm -r of a running job stops it first
    write_file(lake.path("jobs", "j", "ctl"), "run\n")
    wait_until(lambda: lake.status("jobs", "j").get("state") == "RUNNING", 60,
               interval=0.05, what="the job to run again")
    import shutil
    shutil.rmtree(lake.path("jobs", "j"))
    assert "j" not in os.listdir(lake.path("jobs"))


TRICKY = [
    {"id": "1", "text": "plain", "num": "1.5"},
    {"id": "2", "text": "comma, inside", "num": "-2"},
    {"id": "3", "text": 'quote " inside', "num": "3e3"},
    {"id": "4", "text": "new\nline", "num": "0"},
    {"id": "5", "text": "back\\slash and tab\t", "num": "4.25"},
    {"id": "6", "text": "ünïcødé € 日本 😀", "num": "5"},
    {"id": "7", "text": "", "num": "6"},
    {"id": "8", "text": " leading and trailing ", "num": "7"},
    {"id": "9", "text": "ctl \x01 char", "num": "8"},
]


def test_tricky_csv_values_round_trip(lake):
    """Quoting, embedded newlines, unicode and escapes: a CSV read by the job
    and written as JSON and as CSV must equal Python's own reading."""
    b = lake.bucket
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "text", "num"], lineterminator="\n")
    w.writeheader()
    for r in TRICKY:
        w.writerow(r)
    lake.store.put(b, "tricky/t.csv", buf.getvalue().encode())
    lake.mount()
    lake.crawl()
    db = lake.database_of(b)
    for fmt in ("json", "csv"):
        st = lake.run_job(f"t{fmt}", f"source = {db}.tricky\n"
                                     "sql = SELECT id, text, num FROM tricky ORDER BY id\n"
                                     f"target = s3://{b}/out{fmt}/\nformat = {fmt}\n")
        assert st["state"] == "SUCCEEDED", st
        keys = part_keys(lake, b, f"out{fmt}/")
        data = b"".join(lake.store.get(b, k) for k in keys).decode()
        if fmt == "json":
            rows = [json.loads(l) for l in data.splitlines() if l.strip()]
        else:
            rows = list(csv.DictReader(io.StringIO(data)))
        assert [str(r["id"]) for r in rows] == [r["id"] for r in TRICKY]
        for got, want in zip(rows, TRICKY):
            text = got["text"]
            if want["text"] == "" and text in (None, ""):
                continue  # an empty CSV field may read as NULL
            assert text == want["text"], (fmt, got, want)
            assert float(got["num"]) == float(want["num"]), (fmt, got, want)
