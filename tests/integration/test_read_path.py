"""Reads through s3/ (docs/architecture.md "s3/ data path", Reads): every
byte read through the mount equals the source, for object sizes around
each chunk, segment and window boundary and for any pattern of offsets
(random, backwards, interleaved, two handles, many files at once); and
the read-ahead fetches only what the access pattern earns (byte counts
from .gluefs/stats: `head -c 100` and random 4 KiB reads stay small, a
seek after a long sequential read starts small again, the daemon's memory
stays bounded by the window).

The read-ahead sizes these tests are built around (fs/reader.c): the
first window is 512 KiB at offset 0 and 256 KiB after a seek; chunks are
a quarter of the window, 256 KiB at least; chunk memory comes in 256 KiB
segments; `-o readahead=` caps the window."""
import errno
import hashlib
import os
import random
import re
import subprocess
import threading
import time

import pytest

from s3proxy import LoopbackServer, ProxyHandler, open_upstream, send_reply_head

K = 1024
MIB = 1 << 20
SEG = 256 * K


def run_threads(fns):
    """Run each callable of FNS on its own thread, all at once; return when
    every one has returned."""
    ts = [threading.Thread(target=fn) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def data_of(n, seed):
    return random.Random(seed).randbytes(n)


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


def read_seq(path, bs):
    """The whole file with os.read of BS bytes on an unbuffered fd."""
    out = bytearray()
    fd = os.open(path, os.O_RDONLY)
    try:
        while True:
            b = os.read(fd, bs)
            if not b:
                break
            out += b
    finally:
        os.close(fd)
    return bytes(out)


# sizes around: a segment/first chunk (256 KiB), the first window
# (512 KiB), chunks of 1, 2 and 4 MiB (windows 4, 8, 16 MiB with
# readahead=16M the cap), a window of 16 MiB, and odd sizes beyond.
SIZES = [0, 1, 4095, 4096, SEG - 1, SEG, SEG + 1, 2 * SEG - 1, 2 * SEG,
         2 * SEG + 1, 3 * SEG + 7, MIB - 1, MIB, MIB + 1, 2 * MIB + 1,
         4 * MIB - 1, 4 * MIB, 4 * MIB + 1, 16 * MIB - 1, 16 * MIB + 1,
         16 * MIB + 256 * K + 3, 37 * MIB + 12345]


@pytest.mark.parametrize("readahead", [None, "readahead=16M"])
def test_sizes_around_chunk_and_window_boundaries(lake, readahead):
    b = lake.bucket
    want = {}
    for size in SIZES:
        d = data_of(size, size)
        lake.store.put(b, f"o{size}", d)
        want[size] = hashlib.sha256(d).hexdigest()
    lake.mount(*([readahead] if readahead else []))
    for size in SIZES:
        p = lake.s3(b, f"o{size}")
        assert os.stat(p).st_size == size
        # one big read (the kernel splits it), cat-sized and odd-sized reads
        assert hashlib.sha256(p.read_bytes()).hexdigest() == want[size], size
        got = read_seq(p, 128 * K)
        assert hashlib.sha256(got).hexdigest() == want[size], size
    # a fresh mount (empty page cache) and an odd block size that never
    # lines up with a chunk, segment or page
    lake.unmount()
    lake.mount(*([readahead] if readahead else []))
    for size in SIZES:
        got = read_seq(lake.s3(b, f"o{size}"), 100003)
        assert hashlib.sha256(got).hexdigest() == want[size], size
    st = lake.stats()
    assert st["readahead_bytes_used"] >= sum(SIZES)


def test_random_offsets_and_lengths_match_the_source(lake):
    b = lake.bucket
    size = 9 * MIB + 4321
    data = data_of(size, 11)
    lake.store.put(b, "r.bin", data)
    lake.mount()
    rnd = random.Random(12)
    fd = os.open(lake.s3(b, "r.bin"), os.O_RDONLY)
    try:
        for i in range(300):
            off = rnd.randrange(0, size + 2 * MIB)  # some past the end
            n = rnd.choice([1, 7, 4096, 65536, 131072, 300001, MIB + 17,
                            rnd.randrange(1, 3 * MIB)])
            got = os.pread(fd, n, off)
            assert got == data[off:off + n], (i, off, n)
        # exactly at the end, and one byte before it
        assert os.pread(fd, 10, size) == b""
        assert os.pread(fd, 10, size - 1) == data[-1:]
    finally:
        os.close(fd)


def test_backward_and_interleaved_seeks(lake):
    b = lake.bucket
    size = 24 * MIB + 99
    data = data_of(size, 21)
    lake.store.put(b, "s.bin", data)
    lake.mount()
    with open(lake.s3(b, "s.bin"), "rb", buffering=0) as f:
        # sequential, then back to the start, then backwards in steps
        assert f.read(6 * MIB) == data[:6 * MIB]
        f.seek(0)
        assert f.read(MIB) == data[:MIB]
        for off in range(size - 300 * K, 0, -(1 * MIB + 333 * K)):
            f.seek(off)
            assert f.read(200 * K) == data[off:off + 200 * K], off
        # two streams on one handle, alternating (like two columns of a
        # Parquet file): both must stay right as the window moves
        a, c = 1 * MIB + 5, 15 * MIB + 77
        for _ in range(40):
            f.seek(a)
            assert f.read(64 * K) == data[a:a + 64 * K], a
            f.seek(c)
            assert f.read(96 * K) == data[c:c + 96 * K], c
            a += 64 * K
            c += 96 * K
        # small steps backwards inside what was just read
        f.seek(8 * MIB)
        assert f.read(2 * MIB) == data[8 * MIB:10 * MIB]
        for off in range(10 * MIB - 4096, 8 * MIB, -(37 * K + 1)):
            f.seek(off)
            assert f.read(4096) == data[off:off + 4096], off


def test_two_handles_on_one_file(lake):
    b = lake.bucket
    size = 20 * MIB + 1
    data = data_of(size, 31)
    lake.store.put(b, "two.bin", data)
    lake.mount()
    p = lake.s3(b, "two.bin")
    errors = []

    def forward():
        try:
            assert read_seq(p, 128 * K) == data
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    def backward():
        try:
            fd = os.open(p, os.O_RDONLY)
            try:
                for off in range(size - 512 * K, -1, -512 * K):
                    if os.pread(fd, 512 * K, off) != data[off:off + 512 * K]:
                        errors.append(f"backward at {off}")
            finally:
                os.close(fd)
        except Exception as e:  # pragma: no cover
            errors.append(repr(e))

    # same direction at once, and opposite directions at once
    for pair in ((forward, forward), (forward, backward)):
        run_threads(pair)
    assert not errors, errors
    # two handles open at once in this thread, read alternately
    with open(p, "rb", buffering=0) as f1, open(p, "rb", buffering=0) as f2:
        f2.seek(size // 2)
        for i in range(20):
            o1, o2 = i * 256 * K, size // 2 + i * 256 * K
            assert f1.read(256 * K) == data[o1:o1 + 256 * K]
            assert f2.read(256 * K) == data[o2:o2 + 256 * K]


def test_concurrent_readers_of_different_files(lake):
    b = lake.bucket
    n = 8
    want = {}
    for i in range(n):
        d = data_of(6 * MIB + i * 4099, 40 + i)
        lake.store.put(b, f"c{i}.bin", d)
        want[i] = hashlib.sha256(d).hexdigest()
    lake.mount("readahead=4M")  # small windows: many chunks in flight
    got = {}

    def reader(i):
        bs = [128 * K, 4096, 1 * MIB, 100003][i % 4]
        got[i] = hashlib.sha256(read_seq(lake.s3(b, f"c{i}.bin"), bs)).hexdigest()

    run_threads([lambda i=i: reader(i) for i in range(n)])
    assert got == want
    # and with cat, as separate processes
    procs = [subprocess.Popen(["sha256sum", str(lake.s3(b, f"c{i}.bin"))],
                              stdout=subprocess.PIPE) for i in range(n)]
    for i, pr in enumerate(procs):
        out, _ = pr.communicate(timeout=120)
        assert out.split()[0].decode() == want[i]


def test_head_and_random_reads_fetch_little(lake, work):
    """Goal: `head -c 100` downloads at most 2 MiB, a random 4 KiB read at
    most 1 MiB (byte counts from .gluefs/stats, not timings)."""
    b = lake.bucket
    size = 96 * MIB + 3
    src = work / "big"
    src.write_bytes(data_of(size, 51))
    lake.store.put_file(b, "big.bin", src)
    data = src.read_bytes()
    lake.mount()
    p = lake.s3(b, "big.bin")
    s0 = lake.stats()
    r = subprocess.run(["head", "-c", "100", str(p)], capture_output=True,
                       check=True)
    assert r.stdout == data[:100]
    s1 = settle(lake)
    assert delta(s0, s1, "bytes_downloaded") <= 2 * MIB, delta(s0, s1, "bytes_downloaded")
    rnd = random.Random(52)
    # unbuffered 4 KiB preads, and a buffered reader (128 KiB st_blksize)
    fd = os.open(p, os.O_RDONLY)
    try:
        for _ in range(25):
            off = rnd.randrange(0, size - 4096)
            a = settle(lake)
            assert os.pread(fd, 4096, off) == data[off:off + 4096]
            got = delta(a, settle(lake), "bytes_downloaded")
            assert got <= 1 * MIB, (off, got)
    finally:
        os.close(fd)
    with open(p, "rb") as f:
        for _ in range(25):
            off = rnd.randrange(0, size - 4096)
            a = settle(lake)
            f.seek(off)
            assert f.read(4096) == data[off:off + 4096]
            got = delta(a, settle(lake), "bytes_downloaded")
            assert got <= 1 * MIB, (off, got)


def settle(lake, timeout=20):
    """Wait until the read-ahead in flight has landed: bytes_downloaded
    unchanged over 0.3 s.  Returns the stats then."""
    end = time.monotonic() + timeout
    a = lake.stats()
    while time.monotonic() < end:
        time.sleep(0.3)
        b = lake.stats()
        if b.get("bytes_downloaded") == a.get("bytes_downloaded"):
            return b
        a = b
    return a


def test_window_grows_for_sequential_and_resets_on_seek(lake, work):
    b = lake.bucket
    size = 80 * MIB + 5
    src = work / "seq"
    src.write_bytes(data_of(size, 61))
    lake.store.put_file(b, "seq.bin", src)
    data = src.read_bytes()
    lake.mount()
    p = lake.s3(b, "seq.bin")
    fd = os.open(p, os.O_RDONLY)
    try:
        s0 = lake.stats()
        for off in range(0, 40 * MIB, 128 * K):
            assert os.pread(fd, 128 * K, off) == data[off:off + 128 * K]
        s1 = settle(lake)
        # grown: 40 MiB in few GETs (256 KiB chunks would take 160), and
        # the read-ahead went at most one window (64 MiB) past the reads
        gets = delta(s0, s1, "requests_get")
        assert gets <= 40, gets
        assert delta(s0, s1, "bytes_downloaded") <= 40 * MIB + 64 * MIB + MIB
        # a seek back, outside the window: it starts small again
        off = 3 * MIB + 7
        assert os.pread(fd, 4096, off) == data[off:off + 4096]
        s2 = settle(lake)
        got = delta(s1, s2, "bytes_downloaded")
        assert got <= 1 * MIB, got
        # random reads never grow it
        rnd = random.Random(62)
        for _ in range(20):
            o = rnd.randrange(0, 30 * MIB)
            a = lake.stats()
            assert os.pread(fd, 4096, o) == data[o:o + 4096]
            got = delta(a, settle(lake), "bytes_downloaded")
            assert got <= 1 * MIB, (o, got)
        # and a sequential run after them grows it again
        a = lake.stats()
        for off in range(8 * MIB, 24 * MIB, 128 * K):
            assert os.pread(fd, 128 * K, off) == data[off:off + 128 * K]
        gets = delta(a, lake.stats(), "requests_get")
        assert gets <= 24, gets
    finally:
        os.close(fd)


def _vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.big
def test_memory_stays_bounded_by_the_window(lake, work):
    """Reading 512 MiB with readahead=32M: the daemon's peak RSS stays
    far below the object (window + a chunk + fixed costs)."""
    b = lake.bucket
    size = 512 * MIB
    src = work / "m"
    h = hashlib.sha256()
    with open(src, "wb") as f:
        block = data_of(8 * MIB, 71)
        for i in range(size // len(block)):
            chunk = block[i:] + block[:i]  # not all alike
            f.write(chunk)
            h.update(chunk)
    lake.store.put_file(b, "m.bin", src)
    src.unlink()
    lake.mount("readahead=32M")
    assert hashlib.sha256(read_seq(lake.s3(b, "m.bin"), 128 * K)).hexdigest() \
        == h.hexdigest()
    hwm = _vm_hwm_kib(lake.proc.pid) * K
    assert hwm < 160 * MIB, hwm


# ---- the stream (fs/reader.h): a sequential reader's read-ahead is one
# long ranged GET, flow-controlled by the window ----

STALL_S = 3  # READER_STREAM_STALL_MS


def _put_big(lake, work, key, size, seed):
    src = work / key
    with open(src, "wb") as f:
        rnd = random.Random(seed)
        left = size
        while left:
            n = min(left, 8 * MIB)
            f.write(rnd.randbytes(n))
            left -= n
    lake.store.put_file(lake.bucket, key, src)
    return src


def test_sequential_read_takes_few_long_gets(lake, work):
    """160 MiB read in order: the first few MiB as chunk GETs while the
    window grows, the rest one stream GET (8 MiB chunk GETs would be 20
    more), byte-identical, nothing wasted."""
    size = 160 * MIB + 4321
    src = _put_big(lake, work, "long.bin", size, 81)
    h = hashlib.sha256(src.read_bytes()).hexdigest()
    lake.mount()
    s0 = lake.stats()
    got = read_seq(lake.s3(lake.bucket, "long.bin"), 128 * K)
    assert hashlib.sha256(got).hexdigest() == h
    s1 = settle(lake)
    gets = delta(s0, s1, "requests_get")
    assert gets <= 12, gets
    # (plus the lookup's listing page)
    assert size <= delta(s0, s1, "bytes_downloaded") <= size + 64 * K
    assert delta(s0, s1, "readahead_bytes_wasted") == 0


def test_reader_pausing_longer_than_the_stall_limit(lake, work):
    """A reader that stops (`less` waiting for a key) lets the stream's
    GET end after the stall limit; reading on restarts it from the end of
    the window, and every byte is right."""
    size = 96 * MIB + 77
    src = _put_big(lake, work, "pause.bin", size, 82)
    data = src.read_bytes()
    lake.mount()
    p = lake.s3(lake.bucket, "pause.bin")
    fd = os.open(p, os.O_RDONLY)
    try:
        s0 = lake.stats()
        for off in range(0, 12 * MIB, 128 * K):
            assert os.pread(fd, 128 * K, off) == data[off:off + 128 * K]
        time.sleep(STALL_S + 2)
        s1 = settle(lake)
        # the stream stopped at the window (64 MiB past the reads) and
        # its GET has ended (s3: bytes are counted when a GET ends)
        down = delta(s0, s1, "bytes_downloaded")
        assert 12 * MIB < down <= 12 * MIB + 64 * MIB + MIB, down
        for off in range(12 * MIB, size, 100003):
            assert os.pread(fd, 100003, off) == data[off:off + 100003], off
        s2 = settle(lake)
        assert delta(s1, s2, "requests_get") >= 1  # the stream restarted
        # what the ended GET had received but not placed (curl's buffer,
        # a local read) is fetched again (what reached the reader is
        # counted as wasted)
        down = delta(s0, s2, "bytes_downloaded")
        assert size <= down <= size + 2 * MIB, down
        assert delta(s0, s2, "readahead_bytes_wasted") <= 2 * MIB
        # paused twice more, shorter and longer than the limit, on a
        # second pass
        for off in range(0, 40 * MIB, 128 * K):
            if off in (8 * MIB, 24 * MIB):
                time.sleep(1 if off == 8 * MIB else STALL_S + 1)
            assert os.pread(fd, 128 * K, off) == data[off:off + 128 * K], off
    finally:
        os.close(fd)


def test_seeks_during_a_stream(lake, work):
    """Seeks back and forth while a stream runs: right bytes, and the
    stream is cancelled (what was downloaded stays near what was read
    plus one window each time)."""
    size = 200 * MIB + 3
    src = _put_big(lake, work, "seek.bin", size, 83)
    data = src.read_bytes()
    lake.mount("readahead=16M")
    p = lake.s3(lake.bucket, "seek.bin")
    with open(p, "rb", buffering=0) as f:
        s0 = lake.stats()
        assert f.read(20 * MIB) == data[:20 * MIB]
        plan = [(150 * MIB + 5, 6 * MIB), (2 * MIB, 8 * MIB),
                (100 * MIB, 3 * MIB), (190 * MIB, 10 * MIB + 3),
                (21 * MIB, 5 * MIB)]
        for off, n in plan:
            f.seek(off)
            assert f.read(n) == data[off:off + n], off
        s1 = settle(lake)
    read = 20 * MIB + sum(n for _, n in plan)
    down = delta(s0, s1, "bytes_downloaded")
    # each run of reads fetched at most one window (16 MiB) and a chunk
    # ahead of it
    assert down <= read + (1 + len(plan)) * (16 + 4) * MIB, (down, read)
    wasted = delta(s0, s1, "readahead_bytes_wasted")
    assert wasted <= (1 + len(plan)) * (16 + 4) * MIB, wasted


def test_more_sequential_readers_than_streams(lake, work):
    """Twelve files read at once (the pool streams for at most eight):
    the others fall back to chunk GETs; every file byte-identical."""
    n = 12
    want = {}
    for i in range(n):
        d = data_of(20 * MIB + i * 65537, 90 + i)
        lake.store.put(lake.bucket, f"m{i}.bin", d)
        want[i] = hashlib.sha256(d).hexdigest()
    lake.mount()
    procs = [subprocess.Popen(["sha256sum", str(lake.s3(lake.bucket, f"m{i}.bin"))],
                              stdout=subprocess.PIPE) for i in range(n)]
    for i, pr in enumerate(procs):
        out, _ = pr.communicate(timeout=300)
        assert out.split()[0].decode() == want[i], i
    # and as threads of one process, with a pause in some of them
    got = {}

    def reader(i):
        fd = os.open(lake.s3(lake.bucket, f"m{i}.bin"), os.O_RDONLY)
        h = hashlib.sha256()
        try:
            off = 0
            while True:
                b = os.pread(fd, 128 * K, off)
                if not b:
                    break
                h.update(b)
                off += len(b)
                if i % 3 == 0 and off == 6 * MIB:
                    time.sleep(STALL_S + 1)
        finally:
            os.close(fd)
        got[i] = h.hexdigest()

    run_threads([lambda i=i: reader(i) for i in range(n)])
    assert got == want


class _CutProxy:
    """Forwards every request to s3rver, streaming bodies; GETs of KEY
    are cut at byte CUT of the object: a GET whose range starts before CUT
    sends the bytes up to CUT and then drops the connection; one starting
    at CUT or later is answered normally (FAIL False: the resume works)
    or with 500 InternalError (FAIL True: every retry fails)."""

    def __init__(self, upstream, key, cut, fail):
        host, port = upstream.split("//", 1)[1].split(":")
        proxy = self
        self.gets = 0
        self.cuts = 0

        class Handler(ProxyHandler):
            def _forward(self):
                body = self.read_body()
                ours = self.command == "GET" and \
                    self.path.split("?", 1)[0].endswith("/" + key)
                start = 0
                m = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if m:
                    start = int(m.group(1))
                if ours:
                    proxy.gets += 1
                if ours and fail and start >= cut:
                    err = (b"<Error><Code>InternalError</Code>"
                           b"<Message>injected</Message></Error>")
                    self.send_response_only(500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(err)))
                    self.end_headers()
                    self.wfile.write(err)
                    return
                c, r = open_upstream(self, host, port, body)
                length = r.getheader("Content-Length")
                data = b"" if length is not None else r.read()
                send_reply_head(self, r,
                                length if length is not None else str(len(data)))
                if self.command == "HEAD":
                    c.close()
                    return
                if length is None:
                    self.wfile.write(data)
                    c.close()
                    return
                left = int(length)
                pos = start
                while left:
                    b = r.read(min(left, 256 * K))
                    if not b:
                        break
                    if ours and pos < cut <= pos + len(b):
                        self.wfile.write(b[:cut - pos])
                        self.wfile.flush()
                        proxy.cuts += 1
                        self.close_connection = True
                        c.close()
                        self.connection.shutdown(2)
                        return
                    self.wfile.write(b)
                    pos += len(b)
                    left -= len(b)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._srv = LoopbackServer(Handler)
        self.url = self._srv.url

    def close(self):
        self._srv.close()


@pytest.mark.parametrize("fail", [False, True])
def test_a_stream_cut_midway_resumes_or_fails_the_read(lake, work, fail):
    """The server drops a stream's connection at 24 MiB: http.c resumes it
    (the reads go on, byte-identical), or, when every resume fails with
    500, the read that needs those bytes fails with EIO, as a failed chunk
    GET does, and every byte before them was right."""
    if lake.backend != "s3":
        pytest.skip("needs HTTP between gluefs and the store (a proxy)")
    size = 48 * MIB + 5
    src = _put_big(lake, work, "cut.bin", size, 84)
    data = src.read_bytes()
    cut = 24 * MIB + 12345
    proxy = _CutProxy(lake.endpoint, "cut.bin", cut, fail)
    lake.allow_errors(r"cannot read 's3://[^']+/cut\.bin'")
    try:
        lake.mount(env={"AWS_ENDPOINT_URL": proxy.url})
        fd = os.open(lake.s3(lake.bucket, "cut.bin"), os.O_RDONLY)
        off = 0
        err = None
        try:
            while off < size:
                try:
                    b = os.pread(fd, 128 * K, off)
                except OSError as e:
                    err = e
                    break
                assert b == data[off:off + len(b)], off
                if not b:
                    break
                off += len(b)
        finally:
            os.close(fd)
        assert proxy.cuts >= 1
        if fail:
            assert err is not None and err.errno == errno.EIO, err
            assert off <= cut, off
        else:
            assert err is None, err
            assert off == size
            assert proxy.gets <= 16, proxy.gets
    finally:
        lake.unmount()
        proxy.close()
