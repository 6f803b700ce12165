"""`find` over many folders (fs_s3.c slurp_siblings): once a walk reads
the folders of one parent one after another, the parent's prefix is
listed flat (ListObjectsV2 without delimiter, start-after) and every
folder those pages hold entirely is cached as its delimiter listing
would be.  What `find` prints must equal the tree computed from the
store's own flat listing, at a fraction of one LIST per folder."""
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor


def put_many(lake, b, items):
    if lake.backend == "s3":
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda kv: lake.store.put(b, kv[0], kv[1]), items))
    else:
        for k, v in items:
            lake.store.put(b, k, v)


def tree_of(keys, top):
    """{relative path: 'd' or 'f'} below TOP/ as the mount shows it: "x/"
    markers and deeper keys make folders, a folder wins over a file of
    the same name."""
    out = {}
    for k in keys:
        if not k.startswith(top + "/"):
            continue
        parts = k[len(top) + 1:].split("/")
        for i in range(1, len(parts)):
            out["/".join(parts[:i])] = "d"
        if parts[-1]:
            p = "/".join(parts)
            out.setdefault(p, "f")
    return out


def find_tree(root):
    r = subprocess.run(["find", str(root), "-mindepth", "1", "-printf", "%y %P %s\n"],
                       capture_output=True, text=True, check=True)
    out, sizes = {}, {}
    for line in r.stdout.splitlines():
        kind, rest = line.split(" ", 1)
        path, size = rest.rsplit(" ", 1)
        out[path] = kind
        sizes[path] = int(size)
    return out, sizes


def lists(lake):
    s = lake.stats()
    return s.get("requests_list", 0), s.get("requests_head", 0)


def odd_tree(same_names=True):
    """About 200 folders under big/, with the shapes that trip a flat
    listing: names sorting around '/', a file and a folder of one name
    (not on the local store: a folder cannot hold both), markers only,
    files at several depths."""
    items = []
    for i in range(200):
        d = f"big/d{i:03d}"
        n = i % 7
        for j in range(n):
            items.append((f"{d}/f{j}", b"x" * (i + j)))
        if i % 10 == 3:
            items.append((f"{d}/", b""))                # marker and files
        if i % 25 == 4:
            items.append((f"{d}/sub/deep/z", b"deep"))  # deeper files
            items.append((f"{d}/sub/y", b"yy"))
        if i % 30 == 5 and same_names:
            items.append((f"{d}/same", b"file"))        # folder wins
            items.append((f"{d}/same/inner", b"in"))
        if n == 0 and i % 10 != 3:
            items.append((f"{d}/", b""))                # empty folder
    for name in ("k", "k-b", "k.b", "k0", "k/b"):
        items.append((f"big/{name}/x", name.encode()))
    for name in ("k-c", "k.c", "k1"):
        items.append((f"big/{name}", name.encode()))   # files among them
    if same_names:
        items.append(("big/d050", b"a file named like a folder"))
    items.append(("big/zz-empty/", b""))
    items.append(("big/top.txt", b"top"))
    items.append(("bigger/x", b"outside the parent"))
    items.append(("bif/x", b"before the parent"))
    return items


def test_find_over_many_folders_equals_the_flat_listing(lake):
    b = lake.bucket
    items = odd_tree(same_names=lake.backend == "s3")
    put_many(lake, b, items)
    lake.mount()
    want = tree_of(lake.store.keys(b, ""), "big")
    folders = sum(1 for v in want.values() if v == "d")
    assert folders > 200
    l0, h0 = lists(lake)
    got, sizes = find_tree(lake.s3(b, "big"))
    l1, h1 = lists(lake)
    assert got == want, (set(got.items()) ^ set(want.items()))
    data = dict(items)
    for p, kind in got.items():
        if kind == "f":
            assert sizes[p] == len(data["big/" + p]), p
    # one LIST a folder before; now a few pages (deeper folders, whose
    # parent has few folders, are still listed one by one)
    assert h1 - h0 == 0
    assert l1 - l0 <= folders / 5 + 12, (l1 - l0, folders)
    # a second walk is served from the caches
    got2, _ = find_tree(lake.s3(b, "big"))
    assert got2 == want
    assert lists(lake)[0] == l1
    # stat of every file found: no request
    for p, kind in got.items():
        if kind == "f":
            os.stat(lake.s3(b, "big", *p.split("/")))
    assert lists(lake) == (l1, h1)


def test_find_over_more_than_one_flat_listing(lake):
    """12,000 keys in 150 folders: more than one slurp of 10 pages; the
    folder a slurp reads only partly is listed again, never cached
    half."""
    b = lake.bucket
    items = [(f"p/d{i:03d}/o{j:02d}", b"") for i in range(150) for j in range(80)]
    put_many(lake, b, items)
    lake.mount()
    l0, _ = lists(lake)
    got, _ = find_tree(lake.s3(b, "p"))
    l1, _ = lists(lake)
    assert got == tree_of([k for k, _ in items], "p")
    assert len(got) == 150 + 12000
    # 1 (p) + 5 folders one by one + 12 flat pages, and a few pages
    # listed again at each slurp's end
    assert l1 - l0 <= 1 + 5 + 12 + 3, l1 - l0


def test_ls_of_folders_after_changes_is_not_stale(lake):
    """A walk's flat listing never hides a change made through the mount
    before it, nor shows a deleted file."""
    b = lake.bucket
    put_many(lake, b, [(f"c/d{i:02d}/f", b"1") for i in range(30)])
    lake.mount()
    assert len(os.listdir(lake.s3(b, "c"))) == 30
    (lake.s3(b, "c", "d20", "new")).write_bytes(b"new")
    os.unlink(lake.s3(b, "c", "d21", "f"))
    got, _ = find_tree(lake.s3(b, "c"))
    assert "d20/new" in got and "d21/f" not in got
    assert got == tree_of(lake.store.keys(b, "c/"), "c")
