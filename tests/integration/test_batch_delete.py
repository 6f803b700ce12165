"""Batched deletes (fs/deleter.c): `rm -r` sends DeleteObjects, and no
later request through the mount sees or overtakes a queued delete.

The first DELETER_SYNC_FIRST (3) unlinks of a burst are sent one at a time;
later ones are queued and sent as one DeleteObjects when the folder's rmdir
(or any request that could see them) needs them gone, or 5 ms after the
last unlink.  Checks go through the mount and through the store's own
client (botocore, or the local folder).  Failures are injected by a proxy
between gluefs and s3rver that answers DeleteObjects itself."""
import errno
import os
import re
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import make_client, wait_until
from s3proxy import LoopbackServer, ProxyHandler, relay

SYNC_FIRST = 3


def errno_of(fn, *a):
    try:
        fn(*a)
    except OSError as e:
        return e.errno
    return 0


def put_many(lake, b, keys, data=lambda k: k.encode()):
    if lake.backend == "s3":
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda k: lake.store.put(b, k, data(k)), keys))
    else:
        for k in keys:
            lake.store.put(b, k, data(k))


def counts(lake):
    s = lake.stats()
    return {k: s.get(k, 0) for k in ("requests_delete", "requests_delete_objects",
                                     "keys_deleted", "requests_head")}


def diff(a, b):
    return {k: b[k] - a[k] for k in a}


def test_rm_r_of_1000_small_files_is_two_requests_at_most(lake):
    b = lake.bucket
    n = 1000
    keys = [f"big/f{i:04d}" for i in range(n)]
    put_many(lake, b, ["big/"] + keys, lambda k: b"" if k.endswith("/") else b"y" * 4096)
    lake.store.put(b, "keep.txt", b"keep")
    lake.mount()
    assert len(os.listdir(lake.s3(b, "big"))) == n
    c0 = counts(lake)
    subprocess.run(["rm", "-r", str(lake.s3(b, "big"))], check=True)
    d = diff(c0, counts(lake))
    # every object gone when rm returns: the rmdir waited for the batch
    assert lake.store.keys(b, "big/") == {}
    assert lake.store.get(b, "keep.txt") == b"keep"
    # the first three one at a time, the marker, and every other file in
    # batches: one DeleteObjects when rm runs without pauses (a pause of
    # 5 ms sends what is queued, one of 50 ms starts a new burst: a loaded
    # machine makes more requests, but never near one per file)
    assert SYNC_FIRST + 1 <= d["requests_delete"], d
    assert d["requests_delete_objects"] >= 1, d
    assert d["requests_delete_objects"] + d["requests_delete"] <= \
        SYNC_FIRST + 1 + 8 + n // 10, d
    assert d["keys_deleted"] + d["requests_delete"] == n + 1, d
    assert d["requests_head"] == 0, d
    assert os.listdir(lake.s3(b)) == ["keep.txt"]
    assert errno_of(os.stat, lake.s3(b, "big")) == errno.ENOENT


def test_ls_right_after_rm_shows_nothing(lake):
    b = lake.bucket
    names = [f"n{i:02d}" for i in range(40)]
    put_many(lake, b, ["d/"] + [f"d/{x}" for x in names],
             lambda k: b"" if k.endswith("/") else k.encode())
    lake.mount()
    assert sorted(os.listdir(lake.s3(b, "d"))) == names
    subprocess.run(["rm"] + [str(lake.s3(b, "d", x)) for x in names], check=True)
    assert os.listdir(lake.s3(b, "d")) == []
    for x in names:
        assert errno_of(os.stat, lake.s3(b, "d", x)) == errno.ENOENT
    # the deletes reach the store by themselves
    wait_until(lambda: lake.store.keys(b, "d/") == {"d/": 0}, 30,
               what="deletes sent")
    assert errno_of(os.unlink, lake.s3(b, "d", "n00")) == errno.ENOENT


def test_rm_of_a_missing_file_is_enoent(lake):
    b = lake.bucket
    lake.store.put(b, "a.txt", b"a")
    lake.mount()
    assert errno_of(os.unlink, lake.s3(b, "nothere")) == errno.ENOENT
    os.unlink(lake.s3(b, "a.txt"))
    assert errno_of(os.unlink, lake.s3(b, "a.txt")) == errno.ENOENT
    assert not lake.store.exists(b, "a.txt")  # a lone rm: done on return


def burst_rm(lake, b, folder, names):
    """os.unlink each name in a tight loop: all but the first three are
    queued."""
    for x in names:
        os.unlink(lake.s3(b, folder, x))


def test_rm_then_write_the_same_name_keeps_the_new_object(lake):
    b = lake.bucket
    names = [f"f{i}" for i in range(10)]
    put_many(lake, b, [f"w/{x}" for x in names] + ["w/g"],
             lambda k: b"old " + k.encode())
    lake.store.put(b, "w/", b"")  # stays a folder when emptied
    lake.mount()
    os.listdir(lake.s3(b, "w"))
    c0 = counts(lake)
    burst_rm(lake, b, "w", names)
    with open(lake.s3(b, "w", "f9"), "w") as f:  # queued a moment ago
        f.write("x")
    assert lake.s3(b, "w", "f9").read_bytes() == b"x"
    assert lake.store.get(b, "w/f9") == b"x"
    wait_until(lambda: set(lake.store.keys(b, "w/")) == {"w/", "w/f9", "w/g"}, 30,
               what="the other deletes")
    d = diff(c0, counts(lake))
    assert d["requests_delete_objects"] >= 1, d
    assert sorted(os.listdir(lake.s3(b, "w"))) == ["f9", "g"]
    # the same with a shell: rm f; echo x > f
    subprocess.run(["sh", "-c", f"cd '{lake.s3(b, 'w')}' && rm f9 && rm g && "
                    f"ls >/dev/null && rm -f a b c && echo x > g"], check=True)
    assert lake.store.get(b, "w/g") == b"x\n"


def test_rm_then_mv_or_cp_over_the_same_name(lake):
    b = lake.bucket
    names = [f"f{i}" for i in range(8)]
    put_many(lake, b, [f"m/{x}" for x in names], lambda k: b"old " + k.encode())
    lake.store.put(b, "m/src1", b"moved")
    lake.store.put(b, "m/src2", b"copied")
    lake.mount()
    os.listdir(lake.s3(b, "m"))
    burst_rm(lake, b, "m", names)
    os.rename(lake.s3(b, "m", "src1"), lake.s3(b, "m", "f7"))
    subprocess.run(["cp", str(lake.s3(b, "m", "src2")), str(lake.s3(b, "m", "f6"))],
                   check=True)
    assert lake.store.get(b, "m/f7") == b"moved"
    assert lake.store.get(b, "m/f6") == b"copied"
    assert not lake.store.exists(b, "m/src1")
    assert lake.s3(b, "m", "f7").read_bytes() == b"moved"
    assert lake.s3(b, "m", "f6").read_bytes() == b"copied"
    wait_until(lambda: set(lake.store.keys(b, "m/")) == {"m/f6", "m/f7", "m/src2"},
               30, what="the other deletes")
    assert sorted(os.listdir(lake.s3(b, "m"))) == ["f6", "f7", "src2"]


def test_rm_r_of_many_files_in_several_folders(lake):
    b = lake.bucket
    keys = []
    for top in ("a", "b", "c"):
        keys.append(f"tree/{top}/")
        for i in range(60):
            keys.append(f"tree/{top}/f{i:02d}")
        for sub in ("x", "y"):
            for i in range(25):
                keys.append(f"tree/{top}/{sub}/g{i:02d}")
    keys += [f"tree/top{i}" for i in range(30)]
    keys += ["tree/empty/"]
    put_many(lake, b, keys, lambda k: b"" if k.endswith("/") else k.encode())
    lake.store.put(b, "tree-sibling", b"stays")
    lake.store.put(b, "treeish/x", b"stays")
    lake.mount()
    c0 = counts(lake)
    subprocess.run(["rm", "-r", str(lake.s3(b, "tree"))], check=True)
    d = diff(c0, counts(lake))
    assert lake.store.keys(b, "tree/") == {}
    assert lake.store.get(b, "tree-sibling") == b"stays"
    assert lake.store.get(b, "treeish/x") == b"stays"
    files = sum(1 for k in keys if not k.endswith("/"))
    # every file deleted once; a batch goes when a folder's rmdir needs it
    # or when rm pauses (reading the next folder), never one per file
    assert d["keys_deleted"] + d["requests_delete"] >= files, d
    assert d["requests_delete_objects"] >= 1, d
    assert d["requests_delete_objects"] + d["requests_delete"] <= \
        SYNC_FIRST + 4 + 8 + files // 10, d  # 4: the markers
    assert sorted(os.listdir(lake.s3(b))) == ["tree-sibling", "treeish"]


def test_unmount_sends_what_is_queued(lake):
    b = lake.bucket
    names = [f"u{i}" for i in range(20)]
    put_many(lake, b, [f"q/{x}" for x in names])
    lake.mount()
    os.listdir(lake.s3(b, "q"))
    burst_rm(lake, b, "q", names)
    lake.unmount()
    assert lake.store.keys(b, "q/") == {}


def test_listing_a_folder_waits_for_its_deletes(lake):
    """A listing not served from the cache (attr_ttl=0) must not show a
    queued name: it waits for the batch."""
    b = lake.bucket
    names = [f"z{i}" for i in range(12)]
    put_many(lake, b, [f"l/{x}" for x in names] + ["l/stay"])
    lake.mount("attr_ttl=0")
    burst_rm(lake, b, "l", names)
    assert os.listdir(lake.s3(b, "l")) == ["stay"]
    assert set(lake.store.keys(b, "l/")) == {"l/stay"}


# ---- failures (through a proxy that answers DeleteObjects itself) ----------

class _DeleteProxy:
    """Forwards every request to s3rver except DeleteObjects (POST ?delete),
    which it answers itself: MODE "one" deletes every key but those ending
    in VICTIM (through botocore) and reports AccessDenied for them; "all"
    answers 500 InternalError; "501" answers NotImplemented."""

    def __init__(self, upstream, mode, victim="victim"):
        host, port = upstream.split("//", 1)[1].split(":")
        proxy = self
        self.mode = mode
        self.victim = victim
        self.client = make_client(upstream)
        self.delete_posts = 0
        self.lock = threading.Lock()

        class Handler(ProxyHandler):
            def _reply(self, status, body):
                self.send_response_only(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _delete_objects(self, body):
                with proxy.lock:
                    proxy.delete_posts += 1
                bucket = self.path.split("?", 1)[0].strip("/")
                if proxy.mode == "all":
                    return self._reply(500, b"<Error><Code>InternalError</Code>"
                                       b"<Message>injected</Message></Error>")
                if proxy.mode == "501":
                    return self._reply(501, b"<Error><Code>NotImplemented</Code>"
                                       b"<Message>injected</Message></Error>")
                root = ET.fromstring(body)
                ns = {"s": "http://s3.amazonaws.com/doc/2006-03-01/"}
                keys = [k.text for k in root.findall("s:Object/s:Key", ns)]
                errs = []
                for k in keys:
                    if k.endswith(proxy.victim):
                        errs.append(k)
                    else:
                        proxy.client.delete_object(Bucket=bucket, Key=k)
                out = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult>"]
                for k in errs:
                    out.append(f"<Error><Key>{k}</Key><Code>AccessDenied</Code>"
                               f"<Message>Access Denied</Message></Error>")
                out.append("</DeleteResult>")
                self._reply(200, "".join(out).encode())

            def _forward(self):
                body = self.read_body()
                q = self.path.split("?", 1)[1] if "?" in self.path else ""
                if self.command == "POST" and re.match(r"^delete(=|&|$)", q):
                    return self._delete_objects(body)
                relay(self, host, port, body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self._srv = LoopbackServer(Handler)
        self.url = self._srv.url

    def close(self):
        self._srv.close()


def needs_proxy(lake):
    if lake.backend != "s3":
        pytest.skip("needs HTTP between gluefs and the store (a proxy)")


def test_a_key_that_fails_to_delete_makes_rmdir_fail_and_shows_again(lake):
    needs_proxy(lake)
    b = lake.bucket
    names = [f"f{i:02d}" for i in range(30)] + ["victim"]
    put_many(lake, b, [f"r/{x}" for x in names])
    proxy = _DeleteProxy(lake.endpoint, "one")
    lake.allow_errors(r"cannot delete 's3://[^']+/r/victim': .*AccessDenied")
    try:
        lake.mount(env={"AWS_ENDPOINT_URL": proxy.url})
        r = subprocess.run(["rm", "-r", str(lake.s3(b, "r"))],
                           capture_output=True, text=True)
        assert r.returncode != 0
        assert "not empty" in r.stderr, r.stderr
        assert proxy.delete_posts >= 1
        assert lake.store.keys(b, "r/") == {"r/victim": len(b"r/victim")}
        assert os.listdir(lake.s3(b, "r")) == ["victim"]
        assert lake.s3(b, "r", "victim").read_bytes() == b"r/victim"
        log = lake.stderr_text()
        assert re.search(rf"cannot delete 's3://{b}/r/victim': .*AccessDenied", log), log
        assert "S3RVER" not in log.replace("AWS_ACCESS_KEY_ID=S3RVER", "")
    finally:
        lake.unmount()
        proxy.close()


def test_a_failed_delete_objects_request_makes_rmdir_fail(lake):
    needs_proxy(lake)
    b = lake.bucket
    names = [f"f{i:02d}" for i in range(10)]
    put_many(lake, b, [f"r/{x}" for x in names])
    proxy = _DeleteProxy(lake.endpoint, "all")
    lake.allow_errors(r"cannot delete", r"server error", r"InternalError")
    try:
        lake.mount(env={"AWS_ENDPOINT_URL": proxy.url})
        r = subprocess.run(["rm", "-r", str(lake.s3(b, "r"))],
                           capture_output=True, text=True)
        assert r.returncode != 0
        assert re.search(r"not empty|Input/output error", r.stderr), r.stderr
        # the three sent one at a time are gone; the queued ones came back
        left = sorted(os.listdir(lake.s3(b, "r")))
        assert left == names[SYNC_FIRST:], left
        assert sorted(lake.store.keys(b, "r/")) == [f"r/{x}" for x in left]
    finally:
        lake.unmount()
        proxy.close()


def test_no_delete_objects_on_the_server_falls_back_to_single_deletes(lake):
    needs_proxy(lake)
    b = lake.bucket
    names = [f"f{i:02d}" for i in range(20)]
    put_many(lake, b, [f"r/{x}" for x in names])
    proxy = _DeleteProxy(lake.endpoint, "501")
    lake.allow_errors(r"delete objects in .*(501|NotImplemented)")
    try:
        lake.mount(env={"AWS_ENDPOINT_URL": proxy.url})
        c0 = counts(lake)
        subprocess.run(["rm", "-r", str(lake.s3(b, "r"))], check=True)
        assert lake.store.keys(b, "r/") == {}
        # again: DeleteObjects is not tried any more
        posts = proxy.delete_posts
        put_many(lake, b, [f"s/{x}" for x in names])
        subprocess.run(["rm", "-r", str(lake.s3(b, "s"))], check=True)
        assert lake.store.keys(b, "s/") == {}
        assert proxy.delete_posts == posts
        d = diff(c0, counts(lake))
        assert d["requests_delete"] >= 2 * len(names), d
    finally:
        lake.unmount()
        proxy.close()


def test_a_folder_emptied_by_rm_can_still_be_removed_after_its_entry_expires(lake):
    """A folder without a marker ends on the server with its last object;
    when the kernel looks it up again before the final rmdir (its entry
    timeout is 1 s; a big `rm -r` takes longer), the folder our own deletes
    emptied is still there, empty, until rmdir: rm -r does not fail with
    ENOENT at the end."""
    b = lake.bucket
    keys = [f"ghost/sub/f{i}" for i in range(5)] + [f"ghost/g{i}" for i in range(5)]
    put_many(lake, b, keys, lambda k: k.encode())
    lake.mount()
    top = lake.s3(b, "ghost")
    sub = os.path.join(top, "sub")
    for name in sorted(os.listdir(sub)):
        os.unlink(os.path.join(sub, name))
    for name in sorted(n for n in os.listdir(top) if n != "sub"):
        os.unlink(os.path.join(top, name))
    time.sleep(2.5)  # past the kernel's entry timeout and the negative cache
    assert os.path.isdir(sub) and os.listdir(sub) == []
    os.rmdir(sub)
    time.sleep(1.5)
    assert os.listdir(top) == []
    os.rmdir(top)
    assert lake.store.keys(b, "ghost/") == {}
    assert "ghost" not in os.listdir(lake.s3(b))
    with pytest.raises(FileNotFoundError):
        os.rmdir(top)
