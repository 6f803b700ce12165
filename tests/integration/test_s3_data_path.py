"""s3/ data path (DESIGN.md 2, docs/architecture.md "s3/ data path"):
request costs of listings and small reads, sizes around read-ahead windows
and part boundaries, staged rewrites (seek back, append, truncate, r+),
dup'd descriptors, concurrent readers and writers.  Every content is
checked through the mount and through the independent client."""
import hashlib
import os
import random
import stat
import subprocess
import threading

import pytest

K = 1024
MIB = 1 << 20
PART = 5 * MIB  # mounted with part_size=5M: parts are cheap to cross


def data_of(n, seed):
    return random.Random(seed).randbytes(n)


def delta(before, after, *names):
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}


def test_ls_l_costs_only_list_pages(lake):
    b = lake.bucket
    n = 2500
    if lake.backend == "s3":
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda i: lake.store.put(b, f"d/f{i:05d}", b"x" * (i % 50)),
                        range(n)))
    else:
        for i in range(n):
            lake.store.put(b, f"d/f{i:05d}", b"x" * (i % 50))
    lake.mount()
    s0 = lake.stats()
    r = subprocess.run(["ls", "-l", str(lake.s3(b, "d"))], capture_output=True,
                       text=True, check=True)
    assert len(r.stdout.splitlines()) == n + 1  # "total" line
    s1 = lake.stats()
    d = delta(s0, s1, "requests_list", "requests_head", "requests_get")
    # 3 pages of 1000, plus at most one LIST to look up "d" itself
    assert d["requests_list"] <= 4 and d["requests_head"] == 0, d
    assert d["requests_get"] == 0, d
    # a later stat of every file costs nothing
    for i in range(0, n, 7):
        assert os.stat(lake.s3(b, "d", f"f{i:05d}")).st_size == i % 50
    s2 = lake.stats()
    d = delta(s1, s2, "requests_list", "requests_head")
    assert d == {"requests_list": 0, "requests_head": 0}, d


def test_small_reads_of_a_big_object_fetch_little(lake, work):
    b = lake.bucket
    src = work / "big"
    src.write_bytes(data_of(64 * MIB, 1))
    lake.store.put_file(b, "big.bin", src)
    lake.mount()
    s0 = lake.stats()
    r = subprocess.run(["head", "-c", "100", str(lake.s3(b, "big.bin"))],
                       capture_output=True, check=True)
    assert r.stdout == src.read_bytes()[:100]
    s1 = lake.stats()
    assert s1["bytes_downloaded"] - s0["bytes_downloaded"] <= 2 * MIB
    # random 4 KiB reads: about a window each, never the object
    want = src.read_bytes()
    rnd = random.Random(5)
    with open(lake.s3(b, "big.bin"), "rb") as f:
        for _ in range(20):
            off = rnd.randrange(0, len(want) - 4096)
            f.seek(off)
            assert f.read(4096) == want[off:off + 4096]
    s2 = lake.stats()
    assert s2["bytes_downloaded"] - s1["bytes_downloaded"] <= 20 * MIB
    assert s2["readahead_bytes_used"] > 0


@pytest.mark.parametrize("size", [0, 1, 256 * K - 1, 256 * K + 1, 512 * K,
                                  PART - 1, PART, PART + 1, 2 * PART + 3,
                                  17 * MIB + 5])
def test_sizes_around_windows_and_parts(lake, size):
    b = lake.bucket
    lake.mount("part_size=5M")
    data = data_of(size, size)
    p = lake.s3(b, f"s{size}")
    with open(p, "wb") as f:
        for o in range(0, size, 128 * K):
            f.write(data[o:o + 128 * K])
    assert os.stat(p).st_size == size
    assert lake.store.get(b, f"s{size}") == data
    assert p.read_bytes() == data
    st = lake.stats()
    if size >= PART:
        assert st["requests_upload_part"] >= 1, st
    else:
        assert st["requests_upload_part"] == 0, st


def test_seek_back_after_parts_went_up(lake):
    b = lake.bucket
    lake.mount("part_size=5M")
    data = bytearray(data_of(3 * PART + 77, 7))
    p = lake.s3(b, "rw.bin")
    rnd = random.Random(3)
    with open(p, "wb") as f:
        f.write(data)
        for _ in range(10):
            off = rnd.randrange(0, len(data) - 4096)
            patch = rnd.randbytes(4096)
            f.seek(off)
            f.write(patch)
            data[off:off + 4096] = patch
    assert lake.store.get(b, "rw.bin") == bytes(data)
    assert p.read_bytes() == bytes(data)


def test_append_truncate_and_rdwr(lake):
    b = lake.bucket
    lake.store.put(b, "f.txt", b"0123456789")
    lake.mount()
    p = lake.s3(b, "f.txt")
    with open(p, "ab") as f:
        f.write(b"abc")
    assert lake.store.get(b, "f.txt") == b"0123456789abc"
    os.truncate(p, 4)
    assert lake.store.get(b, "f.txt") == b"0123"
    os.truncate(p, 6)
    assert lake.store.get(b, "f.txt") == b"0123\0\0"
    with open(p, "r+b") as f:
        f.seek(1)
        f.write(b"XY")
        f.seek(0)
        assert f.read() == b"0XY3\0\0"
    assert lake.store.get(b, "f.txt") == b"0XY3\0\0"
    with open(p, "wb") as f:
        f.write(b"new")
    assert lake.store.get(b, "f.txt") == b"new"
    assert os.stat(p).st_size == 3


def test_chmod_survives_a_rewrite(lake):
    b = lake.bucket
    lake.store.put(b, "m.txt", b"x")
    lake.mount()
    p = lake.s3(b, "m.txt")
    os.chmod(p, 0o600)
    os.listdir(lake.s3(b))  # a listing refresh must not forget the mode
    with open(p, "ab") as f:
        f.write(b"y")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert lake.store.get(b, "m.txt") == b"xy"


def test_dup_fds_upload_once_then_again(lake):
    b = lake.bucket
    lake.mount()
    p = lake.s3(b, "dup.txt")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd2 = os.dup(fd)
    os.write(fd, b"one")
    os.close(fd)
    assert lake.store.get(b, "dup.txt") == b"one"
    puts = lake.stats()["requests_put"]
    os.write(fd2, b"two")
    os.close(fd2)
    assert lake.store.get(b, "dup.txt") == b"onetwo"
    assert lake.stats()["requests_put"] == puts + 1


def test_visible_while_written(lake):
    b = lake.bucket
    lake.mount()
    p = lake.s3(b, "growing.txt")
    with open(p, "wb") as f:
        f.write(b"x" * 1000)
        f.flush()
        assert "growing.txt" in os.listdir(lake.s3(b))
        assert os.stat(p).st_size == 1000
        assert not lake.store.exists(b, "growing.txt")  # not before close
    assert lake.store.get(b, "growing.txt") == b"x" * 1000


@pytest.mark.timeout_s(600)
def test_concurrent_readers_and_writers(lake, work):
    b = lake.bucket
    big = data_of(24 * MIB, 99)
    lake.store.put(b, "shared.bin", big)
    lake.mount("part_size=5M")
    errors = []

    def writer(i):
        d = data_of(7 * MIB + i, 1000 + i)
        p = lake.s3(b, f"w{i}.bin")
        with open(p, "wb") as f:
            for o in range(0, len(d), MIB):
                f.write(d[o:o + MIB])
        if lake.store.get(b, f"w{i}.bin") != d:
            errors.append(f"writer {i}")

    def reader(i):
        rnd = random.Random(i)
        with open(lake.s3(b, "shared.bin"), "rb") as f:
            if i % 2:
                if hashlib.sha256(f.read()).digest() != hashlib.sha256(big).digest():
                    errors.append(f"full reader {i}")
                return
            for _ in range(20):
                off = rnd.randrange(0, len(big) - 65536)
                f.seek(off)
                if f.read(65536) != big[off:off + 65536]:
                    errors.append(f"random reader {i} at {off}")

    fd = os.open(lake.s3(b, "shared.bin"), os.O_RDONLY)

    def shared_fd(k):
        for o in range(k * MIB, len(big), 4 * MIB):
            if os.pread(fd, MIB, o) != big[o:o + MIB]:
                errors.append(f"shared fd at {o}")

    ts = ([threading.Thread(target=writer, args=(i,)) for i in range(4)] +
          [threading.Thread(target=reader, args=(i,)) for i in range(4)] +
          [threading.Thread(target=shared_fd, args=(k,)) for k in range(4)])
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    os.close(fd)
    assert errors == []
