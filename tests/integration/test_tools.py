"""The scripts themselves: tools/setup is quick when everything is there,
tools/s3server starts a server botocore can use and stops it."""
import os
import subprocess
import time

import pytest

from conftest import BUILD, REPO, free_port, make_client


def test_setup_is_fast_when_everything_is_there():
    env = dict(os.environ, GLUEFS_BUILD_DIR=str(BUILD), GLUEFS_SETUP_TARGET="gluefs")
    t0 = time.monotonic()
    r = subprocess.run([str(REPO / "tools" / "setup")], env=env, capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    assert "installing" not in r.stdout, r.stdout
    assert "ready:" in r.stdout
    assert took < 30, f"tools/setup took {took:.1f}s with nothing to do"


def test_s3server_start_stop(work):
    port = free_port()
    tool = str(REPO / "tools" / "s3server")
    r = subprocess.run([tool, "start", str(port), str(work / "data")],
                       capture_output=True, text=True, timeout=60)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert subprocess.run([tool, "status", str(port)],
                              capture_output=True).returncode == 0
        c = make_client(f"http://127.0.0.1:{port}")
        c.create_bucket(Bucket="tooltest")
        c.put_object(Bucket="tooltest", Key="k", Body=b"v")
        assert c.get_object(Bucket="tooltest", Key="k")["Body"].read() == b"v"
        # unknown access key ids are refused, as the EACCES test relies on
        bad = make_client(f"http://127.0.0.1:{port}", access_key="NOSUCHKEY")
        with pytest.raises(Exception) as e:
            bad.list_objects_v2(Bucket="tooltest")
        assert "InvalidAccessKeyId" in str(e.value)
        # a second start on the same port is a no-op
        r2 = subprocess.run([tool, "start", str(port)], capture_output=True,
                            text=True, timeout=60)
        assert r2.returncode == 0 and "already running" in r2.stdout
    finally:
        subprocess.run([tool, "stop", str(port)], capture_output=True, timeout=60)
    assert subprocess.run([tool, "status", str(port)],
                          capture_output=True).returncode != 0
