"""The README walkthrough as a user types it: tools/run MOUNTPOINT mounts the
embedded local lake (seeded with samples/weather), the crawler fills the
catalog at mount, a job spec written with the shell produces JSON Lines."""
import csv
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, REPO, SAMPLES, parse_kv, read_text, wait_until


@pytest.fixture
def home(work):
    """A clean user: no AWS configuration, XDG folders in WORK."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("XDG_")}
    (work / "empty").write_text("")
    env.update(HOME=str(work / "home"),
               XDG_DATA_HOME=str(work / "home" / "data"),
               XDG_STATE_HOME=str(work / "home" / "state"),
               XDG_CACHE_HOME=str(work / "home" / "cache"),
               AWS_CONFIG_FILE=str(work / "empty"),
               AWS_SHARED_CREDENTIALS_FILE=str(work / "empty"),
               GLUEFS_SETUP_QUIET="1", GLUEFS_BUILD_DIR=str(BUILD))
    (work / "home").mkdir()
    mnt = work / "lake"
    yield env, mnt
    if os.path.ismount(mnt):
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)
        time.sleep(0.5)
    if os.path.ismount(mnt):
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, shell=isinstance(cmd, str),
                          capture_output=True, text=True, timeout=600, **kw)


@pytest.mark.timeout_s(600)
def test_tools_run_embedded_lake_walkthrough(home, samples):
    env, mnt = home
    r = run([str(REPO / "tools" / "run"), str(mnt)], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fusermount3 -u" in r.stdout
    assert os.path.ismount(mnt)
    assert set(os.listdir(mnt)) - {".gluefs"} == {"s3", "catalog", "crawlers", "jobs"}
    # the sample bucket, seeded on first use of the embedded lake
    lake_dir = Path(env["XDG_DATA_HOME"]) / "gluefs" / "lake"
    assert (lake_dir / "samples" / "weather" / "seattle-weather.csv").is_file()
    assert os.listdir(mnt / "s3" / "samples" / "weather") == ["seattle-weather.csv"]
    assert (mnt / "s3" / "samples" / "weather" / "seattle-weather.csv").read_bytes() == \
        (SAMPLES / "seattle-weather.csv").read_bytes()
    # crawl=auto: the catalog fills at mount
    def crawled():
        s = parse_kv(read_text(mnt / "crawlers" / "default" / "wait", timeout=180))
        return s if s.get("last_run") in ("SUCCEEDED", "FAILED", "CANCELLED") else None
    st = wait_until(crawled, 180, interval=0.5, what="the crawl at mount")
    assert st.get("last_run") == "SUCCEEDED", st
    schema = read_text(mnt / "catalog" / "samples" / "weather" / "schema")
    assert schema.splitlines()[:6] == [
        "date\tdate", "precipitation\tdouble", "temp_max\tdouble",
        "temp_min\tdouble", "wind\tdouble", "weather\tstring"]
    # cp in
    r = run(f"cp '{SAMPLES / 'zipcodes.csv'}' '{mnt}/s3/samples/raw.csv'", env)
    assert r.returncode == 0, r.stderr
    assert (lake_dir / "samples" / "raw.csv").read_bytes() == \
        (SAMPLES / "zipcodes.csv").read_bytes()
    # the job, exactly as the walkthrough writes it
    r = run(f"""mkdir '{mnt}/jobs/rainy' && cat > '{mnt}/jobs/rainy/spec' <<'EOF'
source = samples.weather
sql    = SELECT date, precipitation FROM weather WHERE weather = 'rain'
target = s3://samples/rainy/
format = json
EOF""", env)
    assert r.returncode == 0, r.stderr
    r = run(f"cat '{mnt}/jobs/rainy/wait'", env)
    assert r.returncode == 0 and "state: SUCCEEDED" in r.stdout, r.stdout + r.stderr
    r = run(f"cat '{mnt}'/s3/samples/rainy/part-*", env)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    with open(SAMPLES / "seattle-weather.csv", newline="") as f:
        want = sorted((x["date"], float(x["precipitation"]))
                      for x in csv.DictReader(f) if x["weather"] == "rain")
    assert sorted((x["date"], float(x["precipitation"])) for x in rows) == want
    # the walkthrough's unmount
    r = run(["fusermount3", "-u", str(mnt)], env)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: not os.path.ismount(mnt), 30, what="unmount")
    # a second tools/run keeps the lake as the user left it
    (lake_dir / "samples" / "weather" / "seattle-weather.csv").unlink()
    r = run([str(REPO / "tools" / "run"), str(mnt)], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seattle-weather.csv" not in os.listdir(mnt / "s3" / "samples" / "weather") \
        if (mnt / "s3" / "samples" / "weather").exists() else True
    assert (mnt / "s3" / "samples" / "raw.csv").is_file()
    # tools/run on a mount point that is in use refuses
    r = run([str(REPO / "tools" / "run"), str(mnt)], env)
    assert r.returncode != 0
