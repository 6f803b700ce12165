"""The write and namespace side of the s3/ data path (docs/architecture.md
"s3/ data path": New files stream, Lookups, Listings):

- new files stream as multipart uploads cut at fixed part offsets; part 1
  is held until close, the last 16 parts sent are kept in a ring file, so
  writes, reads and truncates that reach back into them work and re-send
  only the parts touched; further back they fail with EIO and nothing is
  uploaded;
- request counts: a created small file costs one PUT (no LIST/HEAD for its
  new name, none after the PUT), `ls -l` costs exactly ceil(N/1000) LISTs
  and no HEAD, later stats cost nothing, a walk costs one LIST a folder.

Every content is checked through the independent client (botocore for
s3, the folder for local) as well as through the mount.  Counts, never
timings, are asserted."""
import errno
import os
import random
import subprocess
import threading

import pytest

K = 1024
MIB = 1 << 20
PART = 5 * MIB        # mounted with part_size=5M: parts are cheap to cross
RING = 16 * PART      # the last 16 parts sent are kept in cache_dir


def data_of(n, seed):
    return random.Random(seed).randbytes(n)


def delta(before, after, *names):
    return {n: after.get(n, 0) - before.get(n, 0) for n in names}


REQS = ("requests_list", "requests_head", "requests_put",
        "requests_create_multipart", "requests_upload_part",
        "requests_complete_multipart", "requests_abort_multipart",
        "requests_copy", "requests_delete", "requests_get")


def write_seq(path, data, chunk=128 * K):
    with open(path, "wb") as f:
        for o in range(0, len(data), chunk):
            f.write(data[o:o + chunk])


# ---- round trips around every part boundary --------------------------------

@pytest.mark.parametrize("size,parts", [
    (0, 0), (1, 0), (PART - 1, 0), (PART, 1), (PART + 1, 2),
    (2 * PART, 2), (2 * PART + 1, 3), (3 * PART + 7, 4)])
def test_round_trip_around_part_boundaries(lake, size, parts):
    b = lake.bucket
    lake.mount("part_size=5M")
    data = data_of(size, size)
    p = lake.s3(b, f"r{size}")
    s0 = lake.stats()
    write_seq(p, data)
    d = delta(s0, lake.stats(), *REQS)
    assert lake.store.get(b, f"r{size}") == data
    assert p.read_bytes() == data
    assert os.stat(p).st_size == size
    # under one part: one PUT; else one multipart upload of PARTS parts
    assert d["requests_upload_part"] == parts, d
    assert d["requests_put"] == (0 if parts else 1), d
    assert d["requests_complete_multipart"] == (1 if parts else 0), d
    assert d["requests_abort_multipart"] == 0 and d["requests_copy"] == 0, d


def test_uneven_writes_cross_parts(lake):
    """Writes of odd sizes that straddle part boundaries."""
    b = lake.bucket
    lake.mount("part_size=5M")
    data = data_of(3 * PART + 12345, 8)
    rnd = random.Random(1)
    p = lake.s3(b, "uneven.bin")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    o = 0
    while o < len(data):
        n = rnd.choice([1, 7, 4095, 65537, 3 * MIB + 1])
        assert os.write(fd, data[o:o + n]) == len(data[o:o + n])
        o += n
    os.close(fd)
    assert lake.store.get(b, "uneven.bin") == data


# ---- seek back: part 1, the ring, behind the ring --------------------------

def test_seek_back_into_part_one_and_sent_parts(lake):
    b = lake.bucket
    lake.mount("part_size=5M")
    data = bytearray(data_of(4 * PART + 7, 2))  # parts 1..5
    p = lake.s3(b, "patch.bin")
    s0 = lake.stats()
    with open(p, "w+b") as f:
        f.write(data)
        f.flush()
        patches = [(10, b"HEADER"),                 # part 1, held in memory
                   (PART + 100, b"x" * 5000),       # part 2, went up
                   (2 * PART - 3, b"BOUNDARY!"),    # parts 2 and 3
                   (4 * PART + 2, b"tail")]         # the part being filled
        for off, patch in patches:
            f.seek(off)
            f.write(patch)
            data[off:off + len(patch)] = patch
        f.flush()
        # read back through the same handle, before close
        for off, patch in patches:
            f.seek(off - 3)
            assert f.read(len(patch) + 6) == bytes(data[off - 3:off + len(patch) + 3])
        f.seek(0)
        assert f.read() == bytes(data)
    assert lake.store.get(b, "patch.bin") == bytes(data)
    d = delta(s0, lake.stats(), *REQS)
    # 5 parts, and parts 2 and 3 once more (patched after they went up)
    assert d["requests_upload_part"] == 7, d
    assert d["requests_complete_multipart"] == 1, d
    assert d["requests_create_multipart"] == 1, d


def test_seek_back_behind_the_ring_fails_and_uploads_nothing(lake):
    b = lake.bucket
    lake.allow_errors(r"cannot change '.*' at byte", r"cannot write '")
    lake.mount("part_size=5M")
    p = lake.s3(b, "far.bin")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    chunk = data_of(MIB, 3)
    for _ in range((RING + 3 * PART) // MIB):  # parts 2..3 left the ring
        os.write(fd, chunk)
    os.lseek(fd, PART + 5, os.SEEK_SET)
    with pytest.raises(OSError) as e:
        os.write(fd, b"too late")
    assert e.value.errno == errno.EIO
    # a write that missed its place is never uploaded
    with pytest.raises(OSError) as e:
        os.close(fd)
    assert e.value.errno == errno.EIO
    assert not lake.store.exists(b, "far.bin")


def test_header_patch_after_a_big_write_costs_no_extra_part(lake):
    """The common seek back: rewrite the header at offset 0 at the end
    (part 1 is held in memory until close)."""
    b = lake.bucket
    lake.mount("part_size=5M")
    data = bytearray(data_of(RING + 4 * PART, 4))
    p = lake.s3(b, "hdr.bin")
    s0 = lake.stats()
    with open(p, "wb") as f:
        f.write(data)
        f.seek(0)
        f.write(b"LEN=%d;" % len(data))
    data[0:len(b"LEN=%d;" % len(data))] = b"LEN=%d;" % len(data)
    assert lake.store.sha256(b, "hdr.bin") == __import__("hashlib").sha256(data).hexdigest()
    d = delta(s0, lake.stats(), *REQS)
    assert d["requests_upload_part"] == len(data) // PART, d


# ---- truncate while writing ------------------------------------------------

def test_truncate_while_writing(lake):
    b = lake.bucket
    lake.mount("part_size=5M")
    p = lake.s3(b, "trunc.bin")
    want = bytearray()
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)

    def write(d):
        os.write(fd, d)
        want.extend(d)

    def truncate(n):
        os.ftruncate(fd, n)
        del want[n:]
        want.extend(b"\0" * (n - len(want)))
        os.lseek(fd, n, os.SEEK_SET)

    write(data_of(3 * PART + 10, 5))   # parts 2, 3 went up
    truncate(2 * PART + 5)             # back into part 3, kept in the ring
    write(data_of(MIB, 6))
    truncate(PART - 1)                 # back into part 1, held in memory
    write(data_of(2 * PART, 7))
    truncate(2 * PART)                 # exactly a part boundary
    write(data_of(PART + 3, 8))
    truncate(len(want) + 2 * PART + 17)  # longer: zeros go up as parts
    write(b"end")
    assert os.fstat(fd).st_size == len(want)
    os.lseek(fd, 0, os.SEEK_SET)
    got = b""
    while True:
        x = os.read(fd, MIB)
        if not x:
            break
        got += x
    assert got == bytes(want)
    os.close(fd)
    assert lake.store.get(b, "trunc.bin") == bytes(want)
    assert os.stat(p).st_size == len(want)


def test_written_again_after_close_of_a_dup(lake):
    """A multipart stream completed by one close and written again through
    a dup'd descriptor: the object is downloaded, changed, sent again."""
    b = lake.bucket
    lake.mount("part_size=5M")
    data = bytearray(data_of(2 * PART + 3, 9))
    p = lake.s3(b, "again.bin")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fd2 = os.dup(fd)
    os.write(fd, data)
    os.close(fd)
    assert lake.store.get(b, "again.bin") == bytes(data)
    os.lseek(fd2, 7, os.SEEK_SET)
    os.write(fd2, b"SECOND")
    data[7:13] = b"SECOND"
    os.close(fd2)
    assert lake.store.get(b, "again.bin") == bytes(data)


# ---- concurrency ---------------------------------------------------------

@pytest.mark.timeout_s(600)
def test_concurrent_writers_and_a_reader(lake):
    b = lake.bucket
    old = data_of(13 * MIB, 50)
    lake.store.put(b, "old.bin", old)
    lake.mount("part_size=5M", "parts_in_flight=2")
    errors = []

    def writer(i):
        d = data_of(11 * MIB + 1000 * i, 60 + i)
        p = lake.s3(b, f"cw{i}.bin")
        try:
            write_seq(p, d, chunk=(i + 1) * 100 * K + 1)
            if lake.store.get(b, f"cw{i}.bin") != d:
                errors.append(f"writer {i}: store differs")
            if p.read_bytes() != d:
                errors.append(f"writer {i}: mount differs")
        except OSError as e:
            errors.append(f"writer {i}: {e}")

    def reader(i):
        for _ in range(3):
            if lake.s3(b, "old.bin").read_bytes() != old:
                errors.append(f"reader {i}")

    # a reader of the object being rewritten sees the old content until
    # the new one is complete
    rw_new = data_of(9 * MIB, 70)

    def rewriter():
        with open(lake.s3(b, "old2.bin"), "wb") as f:
            for o in range(0, len(rw_new), MIB):
                f.write(rw_new[o:o + MIB])
                with open(lake.s3(b, "old.bin"), "rb") as r:
                    if r.read(MIB) != old[:MIB]:
                        errors.append("reader beside a writer")

    ts = ([threading.Thread(target=writer, args=(i,)) for i in range(4)] +
          [threading.Thread(target=reader, args=(i,)) for i in range(2)] +
          [threading.Thread(target=rewriter)])
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert lake.store.get(b, "old2.bin") == rw_new


# ---- request counts --------------------------------------------------------

def test_small_files_cost_one_request_each(lake, work):
    b = lake.bucket
    src = work / "small"
    src.mkdir()
    n = 60
    files = {f"f{i:03d}": data_of(4 * K, i) for i in range(n)}
    for name, d in files.items():
        (src / name).write_bytes(d)
    lake.mount()
    s0 = lake.stats()
    subprocess.run(["cp", "-r", str(src), str(lake.s3(b, "in"))], check=True)
    s1 = lake.stats()
    d = delta(s0, s1, *REQS)
    # the folder's lookup (LIST + HEAD of "in"), its marker (PUT), then one
    # PUT per file: no LIST or HEAD for each new name, none after a PUT
    assert d["requests_put"] == n + 1, d
    assert d["requests_list"] <= 1 and d["requests_head"] <= 1, d
    assert d["requests_copy"] == 0 and d["requests_get"] == 0, d
    for name, data in files.items():
        assert lake.store.get(b, f"in/{name}") == data
    # cp -p: mode and times set while the file is open go with its PUT
    s1 = lake.stats()
    subprocess.run(["cp", "-rp", str(src), str(lake.s3(b, "inp"))], check=True)
    d = delta(s1, lake.stats(), *REQS)
    assert d["requests_put"] == n + 1, d
    assert d["requests_list"] <= 1 and d["requests_head"] <= 1, d
    assert d["requests_get"] == 0, d
    # stat of every file we wrote: no request
    s2 = lake.stats()
    for name in files:
        assert os.stat(lake.s3(b, "in", name)).st_size == 4 * K
    assert os.listdir(lake.s3(b, "in")) and True
    d = delta(s2, lake.stats(), *REQS)
    assert sum(d.values()) == 0, d
    # rm -r: the first three unlinks of a burst one DELETE each, the rest
    # queued and sent as one DeleteObjects before the folder's rmdir, then
    # the marker's DELETE; no HEAD
    s3_ = lake.stats()
    subprocess.run(["rm", "-r", str(lake.s3(b, "in"))], check=True)
    d = delta(s3_, lake.stats(), *REQS, "requests_delete_objects",
              "keys_deleted")
    # (a loaded machine makes rm pause: more, smaller batches, never near
    # one request per file)
    assert 3 + 1 <= d["requests_delete"], d
    assert d["requests_delete_objects"] >= 1, d
    assert d["requests_delete_objects"] + d["requests_delete"] <= 4 + 8 + n // 10, d
    assert d["keys_deleted"] + d["requests_delete"] == n + 1, d
    assert d["requests_head"] == 0 and d["requests_list"] <= 2, d
    assert not lake.store.keys(b, "in/")
    assert not lake.s3(b, "in").exists()


def test_ls_l_costs_exactly_the_list_pages(lake):
    b = lake.bucket
    n = 2500
    if lake.backend == "s3":
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda i: lake.store.put(b, f"d/f{i:05d}", b"y" * (i % 9)),
                        range(n)))
    else:
        for i in range(n):
            lake.store.put(b, f"d/f{i:05d}", b"y" * (i % 9))
    lake.mount()
    s0 = lake.stats()
    r = subprocess.run(["ls", "-l", str(lake.s3(b, "d"))], capture_output=True,
                       text=True, check=True)
    assert len(r.stdout.splitlines()) == n + 1
    d = delta(s0, lake.stats(), *REQS)
    if lake.backend == "s3":
        # the lookup of "d" reads page 1, the listing goes on from it
        assert d["requests_list"] == (n + 999) // 1000, d
    else:  # the local store pages too; it keeps no first page
        assert d["requests_list"] == (n + 999) // 1000 + 1, d
    assert d["requests_head"] == 0 and d["requests_get"] == 0, d
    s1 = lake.stats()
    for i in range(n):
        assert os.stat(lake.s3(b, "d", f"f{i:05d}")).st_size == i % 9
    d = delta(s1, lake.stats(), *REQS)
    assert sum(d.values()) == 0, d


def test_a_walk_costs_one_list_per_folder(lake):
    """find over 20 folders: the first folders are listed one by one
    (and a few fetched ahead), then a walk of the parent's folders is
    seen and the rest come from one flat listing of the parent (fs_s3.c
    slurp_siblings); no folder is listed twice, and `ls` of the parent
    alone fetches nothing ahead."""
    b = lake.bucket
    for i in range(20):
        for j in range(3):
            lake.store.put(b, f"w/p{i:02d}/o{j}", b"z" * j)
    lake.mount()
    s0 = lake.stats()
    assert len(os.listdir(lake.s3(b, "w"))) == 20
    d = delta(s0, lake.stats(), *REQS)
    assert d["requests_list"] <= 1 and d["requests_head"] == 0, d
    s1 = lake.stats()
    r = subprocess.run(["find", str(lake.s3(b, "w"))], capture_output=True,
                       text=True, check=True)
    assert len(r.stdout.splitlines()) == 1 + 20 + 60
    d = delta(s1, lake.stats(), *REQS)
    # p00 and the 4 fetched ahead, then one flat page for p05..p19
    assert d["requests_list"] <= 1 + 4 + 1 and d["requests_head"] == 0, d


def test_own_writes_keep_the_listing_right(lake):
    """Creating, overwriting and removing files in a listed folder patches
    its cached listing: what ls shows matches the store at every step."""
    b = lake.bucket
    lake.store.put(b, "k/a", b"1")
    lake.mount()
    folder = lake.s3(b, "k")
    assert sorted(os.listdir(folder)) == ["a"]
    (folder / "b").write_bytes(b"22")
    os.mkdir(folder / "sub")
    (folder / "sub" / "c").write_bytes(b"333")
    assert sorted(os.listdir(folder)) == ["a", "b", "sub"]
    assert os.listdir(folder / "sub") == ["c"]
    assert os.stat(folder / "b").st_size == 2
    os.unlink(folder / "a")
    assert sorted(os.listdir(folder)) == ["b", "sub"]
    assert not (folder / "a").exists()
    os.unlink(folder / "sub" / "c")
    os.rmdir(folder / "sub")
    assert sorted(os.listdir(folder)) == ["b"]
    assert list(lake.store.keys(b, "k/")) == ["k/b"]
