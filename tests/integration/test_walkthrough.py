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

import gluevalidate
from conftest import BUILD, REPO, wait_until


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


def sh(cmd, env, check=True):
    r = run(cmd, env)
    if check:
        assert r.returncode == 0, f"$ {cmd}\n{r.stdout}{r.stderr}"
    return r


def test_issue_walkthrough_on_the_embedded_lake(home, samples, work):
    """The issue's user flow, command by command, on the embedded lake."""
    env, mnt = home
    big = work / "big.csv"
    big.write_bytes((samples / "seattle-weather.csv").read_bytes())
    lake_dir = Path(env["XDG_DATA_HOME"]) / "gluefs" / "lake"
    # tools/run ~/lake
    r = sh(f"'{REPO}/tools/run' '{mnt}'", env)
    assert "fusermount3 -u" in r.stdout
    assert os.path.ismount(mnt)
    # ls ~/lake
    assert sh(f"ls '{mnt}'", env).stdout.split() == ["catalog", "crawlers", "jobs", "s3"]
    # ls ~/lake/s3/samples/weather/  (seeded on first use of the embedded lake)
    assert sh(f"ls '{mnt}/s3/samples/weather/'", env).stdout.split() == \
        ["seattle-weather.csv"]
    assert (lake_dir / "samples" / "weather" / "seattle-weather.csv").read_bytes() == \
        (samples / "seattle-weather.csv").read_bytes()
    # cat ~/lake/catalog/samples/weather/schema
    assert sh(f"cat '{mnt}/catalog/samples/weather/schema'", env).stdout.splitlines()[:6] == [
        "date\tdate", "precipitation\tdouble", "temp_max\tdouble",
        "temp_min\tdouble", "wind\tdouble", "weather\tstring"]
    # cp big.csv ~/lake/s3/samples/raw/big.csv
    sh(f"cp '{big}' '{mnt}/s3/samples/raw/big.csv'", env)
    assert (lake_dir / "samples" / "raw" / "big.csv").read_bytes() == big.read_bytes()
    # mkdir ~/lake/jobs/rainy; cat > ~/lake/jobs/rainy/spec <<'EOF' ... EOF
    sh(f"""mkdir '{mnt}/jobs/rainy'
cat > '{mnt}/jobs/rainy/spec' <<'EOF'
source = samples.weather
sql    = SELECT date, precipitation FROM weather WHERE weather = 'rain'
target = s3://samples/rainy/
format = json
EOF""", env)
    # cat ~/lake/jobs/rainy/wait   -> blocks, then prints state: SUCCEEDED ...
    r = sh(f"cat '{mnt}/jobs/rainy/wait'", env)
    assert r.stdout.startswith("state: SUCCEEDED"), r.stdout
    # cat ~/lake/s3/samples/rainy/part-*   -> JSON Lines
    r = sh(f"cat '{mnt}'/s3/samples/rainy/part-*", env)
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    with open(samples / "seattle-weather.csv", newline="") as f:
        want = [(x["date"], float(x["precipitation"]))
                for x in csv.DictReader(f) if x["weather"] == "rain"]
    assert sorted((x["date"], float(x["precipitation"])) for x in rows) == sorted(want)
    # every table the walkthrough's crawls made is a valid Glue TableInput
    checked, errors = gluevalidate.validate_catalog(mnt)
    assert checked >= 1 and errors == [], errors
    # fusermount3 -u ~/lake
    sh(f"fusermount3 -u '{mnt}'", env)
    wait_until(lambda: not os.path.ismount(mnt), 30, what="unmount")
    # a second tools/run keeps the lake as the user left it (no re-seeding)
    (lake_dir / "samples" / "weather" / "seattle-weather.csv").unlink()
    sh(f"'{REPO}/tools/run' '{mnt}'", env)
    assert not (mnt / "s3" / "samples" / "weather" / "seattle-weather.csv").exists()
    assert (mnt / "s3" / "samples" / "raw" / "big.csv").is_file()
    assert "rainy" in os.listdir(mnt / "jobs")
    # tools/run on a mount point in use refuses
    assert run(f"'{REPO}/tools/run' '{mnt}'", env).returncode != 0
    sh(f"fusermount3 -u '{mnt}'", env)


def test_issue_gluefs_on_an_s3_endpoint(home, s3_endpoint, s3client, work):
    """AWS_ENDPOINT_URL=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...
    build/gluefs /mnt/lake  (daemon mode, as the issue's last line)."""
    env, mnt = home
    bucket = "walk-" + os.urandom(4).hex()
    s3client.create_bucket(Bucket=bucket)
    s3client.put_object(Bucket=bucket, Key="hello.txt", Body=b"hello\n")
    env = dict(env, AWS_ENDPOINT_URL=s3_endpoint, AWS_ACCESS_KEY_ID="S3RVER",
               AWS_SECRET_ACCESS_KEY="S3RVER")
    mnt.mkdir()
    try:
        r = run([str(BUILD / "gluefs"), str(mnt)], env)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: os.path.ismount(mnt), 30, what="the mount")
        assert bucket in os.listdir(mnt / "s3")
        assert (mnt / "s3" / bucket / "hello.txt").read_bytes() == b"hello\n"
        # nothing was written to the embedded lake
        assert not (Path(env["XDG_DATA_HOME"]) / "gluefs" / "lake").exists()
        sh(f"fusermount3 -u '{mnt}'", env)
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], capture_output=True)
        for k in ("hello.txt",):
            s3client.delete_object(Bucket=bucket, Key=k)
        s3client.delete_bucket(Bucket=bucket)
