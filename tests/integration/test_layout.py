"""The mount's top level (DESIGN.md 1): s3 catalog crawlers jobs, .gluefs/stats."""
import os
import stat

from conftest import read_text


def test_root_lists_the_four_namespaces(lake):
    lake.mount()
    names = set(os.listdir(lake.mnt))
    assert names - {".gluefs"} == {"s3", "catalog", "crawlers", "jobs"}
    for n in ("s3", "catalog", "crawlers", "jobs", ".gluefs"):
        assert stat.S_ISDIR(os.stat(lake.mnt / n).st_mode), n
    # the test's bucket is a folder under s3/
    assert lake.bucket in os.listdir(lake.s3())
    assert stat.S_ISDIR(os.stat(lake.s3(lake.bucket)).st_mode)
    # crawlers/default exists from the first mount, with its control files
    assert "default" in os.listdir(lake.path("crawlers"))
    assert {"spec", "status", "log", "wait", "ctl"} <= set(
        os.listdir(lake.path("crawlers", "default")))
    assert os.listdir(lake.path("jobs")) == []


def test_stats_parse_and_start_at_zero(lake):
    lake.mount()
    p = lake.path(".gluefs", "stats")
    assert p.is_file()
    text = read_text(p)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "empty .gluefs/stats"
    counters = {}
    for line in lines:
        parts = line.split()
        assert len(parts) == 2, f"not a 'name value' line: {line!r}"
        name, value = parts
        assert value.isdigit(), f"not a count: {line!r}"
        counters[name] = int(value)
    for name in ("requests_list", "requests_head", "requests_get",
                 "requests_put", "requests_upload_part", "requests_copy",
                 "requests_delete", "bytes_downloaded", "bytes_uploaded",
                 "retries", "errors"):
        assert name in counters, f"{name} missing from .gluefs/stats"
    for name in ("requests_put", "requests_upload_part", "requests_copy",
                 "requests_delete", "bytes_uploaded"):
        assert counters[name] == 0, f"{name} = {counters[name]} at mount"


def test_stats_count_requests(lake):
    lake.store.put(lake.bucket, "hello.txt", b"hello world\n")
    lake.mount()
    before = lake.stats()
    assert lake.s3(lake.bucket, "hello.txt").read_bytes() == b"hello world\n"
    (lake.s3(lake.bucket, "new.txt")).write_bytes(b"new\n")
    after = lake.stats()
    assert after["requests_get"] > before["requests_get"]
    assert after["requests_put"] + after["requests_upload_part"] > before["requests_put"]
    assert after["bytes_uploaded"] >= before["bytes_uploaded"] + 4
    assert after["bytes_downloaded"] >= before["bytes_downloaded"] + 12


def test_unknown_top_level_name_is_enoent(lake):
    import errno
    import pytest
    lake.mount()
    with pytest.raises(OSError) as e:
        os.stat(lake.path("nosuch"))
    assert e.value.errno == errno.ENOENT
