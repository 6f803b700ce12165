"""Fixtures for gluefs integration tests on a real FUSE mount.

Environment (tools/test sets these; without them a developer can still run
`/usr/bin/python3 -m pytest tests/integration` and get a private s3rver):
  GLUEFS_BUILD        build directory holding the gluefs binary (default build/)
  GLUEFS_S3_ENDPOINT  http://127.0.0.1:PORT of a running s3rver
  GLUEFS_TEST_TMP     where per-test folders go (default: a temp folder)

The `lake` fixture is parametrised over both object stores:
  "s3"     gluefs talks SigV4 to s3rver; the independent client is botocore
  "local"  gluefs serves `-o local=DIR`; the independent client is DIR itself
Each test gets its own state_dir, cache_dir and buckets, and a daemon run in
the foreground (`gluefs -f`) whose stderr is checked after the test for
sanitizer reports and unexpected error lines (Lake.allow_errors()).

Every table a test makes is checked against Glue's model: at the end of
each passing test, every gluefs mount below the test's `work` folder has
each catalog/*/*/table.json validated as a CreateTable TableInput
(gluevalidate.py), and so does Lake.unmount() when a test unmounts
itself.  A mount that never crawled costs one readdir of catalog/.
"""
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import botocore.config
import botocore.session
import pytest

import gluevalidate

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("GLUEFS_BUILD") or REPO / "build")
GLUEFS = BUILD / "gluefs"
SAMPLES = REPO / "tools" / "node_modules" / "vega-datasets" / "data"
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
DEFAULT_TEST_TIMEOUT = 300  # seconds; @pytest.mark.timeout_s(N) overrides
CATALOG_CHECK_TIMEOUT = 120  # seconds for validating one mount's catalog

SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                          r"runtime error:|ThreadSanitizer|"
                          r"AddressSanitizer:DEADLYSIGNAL")
ERROR_RE = re.compile(r"error", re.IGNORECASE)


def pytest_configure(config):
    config.addinivalue_line("markers", "big: moves a GiB or more (runs by default)")
    config.addinivalue_line("markers", "timeout_s(n): per-test watchdog in seconds")


# --------------------------------------------------------------------------
# small helpers, importable by the tests (`from conftest import ...`)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_client(endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    return botocore.session.get_session().create_client(
        "s3", endpoint_url=endpoint, aws_access_key_id=access_key,
        aws_secret_access_key=secret_key, region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 2}))


def read_text(path, timeout=120):
    """cat PATH in a child process, killed after TIMEOUT seconds (a read
    that blocks in a FUSE request can only be ended by SIGKILL)."""
    r = subprocess.run(["cat", str(path)], capture_output=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise OSError(f"cat {path}: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode()


def parse_kv(text):
    """`key: value` lines -> dict (first occurrence wins)."""
    out = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out.setdefault(k.strip(), v.strip())
    return out


def write_file(path, text):
    """open(O_WRONLY|O_CREAT|O_TRUNC), write, close: errors surface as
    OSError from write or close (as `cat > spec` sees them)."""
    f = open(path, "w")
    try:
        f.write(text)
    finally:
        f.close()


def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def make_random_file(path, size, seed=0, chunk=8 << 20):
    """Write SIZE pseudo-random bytes to PATH; return their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            b = os.urandom(n)
            f.write(b)
            h.update(b)
            left -= n
    return h.hexdigest()


def wait_until(pred, timeout, interval=0.1, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def gluefs_mounts_under(base):
    """Mount points of gluefs (fstype fuse.gluefs) below folder BASE."""
    base = os.path.realpath(str(base)) + "/"
    out = []
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[2] != "fuse.gluefs":
                continue
            mp = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                        parts[1])
            if mp.startswith(base):
                out.append(mp)
    return out


def check_catalog(mnt, timeout=CATALOG_CHECK_TIMEOUT):
    """Validate every catalog/*/*/table.json of the mount MNT as a Glue
    TableInput (gluevalidate.py), in a thread so that a hung mount fails
    the check instead of hanging the test.  Returns a list of errors."""
    result = []

    def run():
        try:
            result.append(gluevalidate.validate_catalog(mnt)[1])
        except Exception as e:  # a broken mount, an unreadable listing
            result.append([f"cannot walk {mnt}/catalog: {e!r}"])

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        return [f"{mnt}/catalog: not validated within {timeout}s"]
    return result[0]


def catalog_failure_text(mnt, errors):
    return (f"table.json under {mnt}/catalog is not a valid Glue "
            f"TableInput:\n" + "\n".join(errors[:40]))


@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item):
    """After a test body passed: validate the catalog of every gluefs mount
    still up below its `work` folder (runs after pytest's own
    pytest_runtest_call; a failing test never gets here)."""
    work = item.funcargs.get("work") if hasattr(item, "funcargs") else None
    if work is None:
        return
    lake = item.funcargs.get("lake")
    if isinstance(lake, Lake):
        lake.check_on_unmount = False
    for mnt in gluefs_mounts_under(work):
        errors = check_catalog(mnt)
        if errors:
            pytest.fail(catalog_failure_text(mnt, errors), pytrace=False)


# --------------------------------------------------------------------------
# independent clients

class S3Store:
    """botocore view of the s3rver the mount talks to."""
    kind = "s3"

    def __init__(self, client):
        self.c = client

    def create_bucket(self, bucket):
        try:
            self.c.create_bucket(Bucket=bucket)
        except self.c.exceptions.BucketAlreadyOwnedByYou:
            self.empty_bucket(bucket)
        except self.c.exceptions.BucketAlreadyExists:
            self.empty_bucket(bucket)

    def empty_bucket(self, bucket):
        keys = list(self.keys(bucket))
        for i in range(0, len(keys), 1000):
            batch = keys[i:i + 1000]
            try:
                self.c.delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": k} for k in batch], "Quiet": True})
            except Exception:
                for k in batch:
                    self.c.delete_object(Bucket=bucket, Key=k)
        for k in self.keys(bucket):  # whatever a batch left behind
            self.c.delete_object(Bucket=bucket, Key=k)
        try:
            ups = self.c.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        except Exception:
            ups = []
        for u in ups:
            try:
                self.c.abort_multipart_upload(Bucket=bucket, Key=u["Key"],
                                              UploadId=u["UploadId"])
            except Exception:
                pass

    def delete_bucket(self, bucket):
        try:
            self.empty_bucket(bucket)
            self.c.delete_bucket(Bucket=bucket)
        except Exception:
            pass

    def put(self, bucket, key, data, metadata=None):
        kw = {"Metadata": metadata} if metadata else {}
        self.c.put_object(Bucket=bucket, Key=key, Body=data, **kw)

    def put_file(self, bucket, key, path):
        with open(path, "rb") as f:
            self.c.put_object(Bucket=bucket, Key=key, Body=f)

    def get(self, bucket, key):
        return self.c.get_object(Bucket=bucket, Key=key)["Body"].read()

    def sha256(self, bucket, key):
        body = self.c.get_object(Bucket=bucket, Key=key)["Body"]
        h = hashlib.sha256()
        for b in iter(lambda: body.read(1 << 20), b""):
            h.update(b)
        return h.hexdigest()

    def keys(self, bucket, prefix=""):
        """{key: size} of every object under PREFIX."""
        out = {}
        kw = {"Bucket": bucket, "Prefix": prefix}
        while True:
            r = self.c.list_objects_v2(**kw)
            for o in r.get("Contents", []):
                out[o["Key"]] = o["Size"]
            if not r.get("IsTruncated"):
                return out
            kw["ContinuationToken"] = r["NextContinuationToken"]

    def exists(self, bucket, key):
        return key in self.keys(bucket, key)

    def metadata(self, bucket, key):
        return self.c.head_object(Bucket=bucket, Key=key).get("Metadata", {})

    def is_folder(self, bucket, prefix):
        """PREFIX ("dir/") has a marker or objects below it."""
        return bool(self.keys(bucket, prefix))


class LocalStore:
    """The folder served with -o local=DIR, read directly.  Its layout (as
    src/store_local.c documents it): ROOT/<bucket>/<key> files, a folder
    marker "dir/" is ROOT/<bucket>/dir/.gluefs-marker, names starting with
    ".gluefs" are hidden, POSIX attributes are user.gluefs.* xattrs."""
    kind = "local"
    MARKER = ".gluefs-marker"

    def __init__(self, root):
        self.root = Path(root)

    def _p(self, bucket, key=""):
        return self.root / bucket / key

    def create_bucket(self, bucket):
        p = self._p(bucket)
        if p.exists():
            shutil.rmtree(p)
        p.mkdir(parents=True)

    def empty_bucket(self, bucket):
        self.create_bucket(bucket)

    def delete_bucket(self, bucket):
        shutil.rmtree(self._p(bucket), ignore_errors=True)

    def put(self, bucket, key, data, metadata=None):
        if key.endswith("/"):
            p = self._p(bucket, key) / self.MARKER
        else:
            p = self._p(bucket, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())

    def put_file(self, bucket, key, path):
        p = self._p(bucket, key)
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, p)

    def get(self, bucket, key):
        if key.endswith("/"):
            return (self._p(bucket, key) / self.MARKER).read_bytes()
        return self._p(bucket, key).read_bytes()

    def sha256(self, bucket, key):
        return sha256_file(self._p(bucket, key))

    def keys(self, bucket, prefix=""):
        """{key: size} of every object (and "dir/" marker) under PREFIX."""
        out = {}
        base = self._p(bucket)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if not d.startswith(".gluefs")]
            rel = os.path.relpath(dirpath, base)
            rel = "" if rel == "." else rel + "/"
            for f in filenames:
                if f == self.MARKER and rel:
                    k = rel
                elif f.startswith(".gluefs"):
                    continue
                else:
                    k = rel + f
                if k.startswith(prefix):
                    out[k] = os.path.getsize(os.path.join(dirpath, f))
        return out

    def exists(self, bucket, key):
        if key.endswith("/"):
            return (self._p(bucket, key) / self.MARKER).is_file()
        return self._p(bucket, key).is_file()

    def metadata(self, bucket, key):
        """x-amz-meta-* as the local store keeps them (user.gluefs.*)."""
        p = str(self._p(bucket, key))
        out = {}
        try:
            names = os.listxattr(p)
        except OSError:
            return out
        for n in names:
            if n.startswith("user.gluefs.") and n != "user.gluefs.etag":
                out[n[len("user.gluefs."):]] = os.getxattr(p, n).decode()
        return out

    def is_folder(self, bucket, prefix):
        return bool(self.keys(bucket, prefix))


# --------------------------------------------------------------------------
# the mount

class Lake:
    """One test's gluefs mount over one store."""

    def __init__(self, backend, work, store, endpoint, name):
        self.backend = backend
        self.work = Path(work)
        self.store = store
        self.endpoint = endpoint
        self.mnt = self.work / "mnt"
        self.state_dir = self.work / "state"
        self.cache_dir = self.work / "cache"
        self.local_dir = self.work / "local"
        for d in (self.mnt, self.state_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        if backend == "local":
            self.local_dir.mkdir(exist_ok=True)
        self.proc = None
        self.check_on_unmount = True  # validate the catalog (see top)
        self.stderr_files = []
        self.allowed = []
        self.buckets = []
        self._n = 0
        self.tag = re.sub(r"[^a-z0-9]", "", name.lower())[-12:] or "t"
        self.bucket = self.make_bucket()

    # buckets ---------------------------------------------------------------
    def make_bucket(self, name=None):
        """Create a fresh bucket (NAME emptied if it exists); removed after
        the test."""
        if name is None:
            self._n += 1
            name = f"t{self._n}-{self.tag}-{uuid.uuid4().hex[:8]}"
        self.store.create_bucket(name)
        if name not in self.buckets:
            self.buckets.append(name)
        return name

    def database_of(self, bucket):
        return re.sub(r"[^a-z0-9_]", "_", bucket.lower())

    # paths -------------------------------------------------------------------
    def s3(self, *parts):
        """Path of s3/PARTS... in the mount."""
        return self.mnt.joinpath("s3", *parts)

    def path(self, *parts):
        return self.mnt.joinpath(*parts)

    # mount / unmount -------------------------------------------------------
    def mount(self, *opts, crawl="manual", access_key=ACCESS_KEY,
              secret_key=SECRET_KEY, env=None, args=(), timeout=30):
        """gluefs -f -o state_dir=...,cache_dir=...,crawl=CRAWL [-o OPT]...
        [ARGS...] MOUNTPOINT, with the store's endpoint and keys in the
        environment (s3) or -o local=DIR (local)."""
        assert self.proc is None, "already mounted"
        o = [f"state_dir={self.state_dir}", f"cache_dir={self.cache_dir}"]
        if crawl:
            o.append(f"crawl={crawl}")
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("AWS_ENDPOINT_URL") or k in (
                    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN", "AWS_PROFILE"):
                del e[k]
        if self.backend == "local":
            o.append(f"local={self.local_dir}")
        else:
            e["AWS_ENDPOINT_URL"] = self.endpoint
            e["AWS_ACCESS_KEY_ID"] = access_key
            e["AWS_SECRET_ACCESS_KEY"] = secret_key
            e["AWS_REGION"] = "us-east-1"
        e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        if env:
            e.update(env)
        cmd = [str(GLUEFS), "-f", "-o", ",".join(o)]
        for x in opts:
            cmd += ["-o", x]
        cmd += list(args)
        cmd.append(str(self.mnt))
        errf = self.work / f"stderr-{len(self.stderr_files) + 1}.log"
        self.stderr_files.append(errf)
        self.cmd = cmd
        with open(errf, "wb") as f:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=f, stderr=subprocess.STDOUT,
                                         env=e)
        end = time.monotonic() + timeout
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise AssertionError(f"gluefs exited with {rc} before mounting:"
                                     f"\n{errf.read_text(errors='replace')}")
            if time.monotonic() > end:
                self.kill()
                raise AssertionError(f"mount did not come up in {timeout}s:\n"
                                     f"{errf.read_text(errors='replace')}")
            time.sleep(0.05)
        return self

    def unmount(self, timeout=60):
        """Clean unmount (fusermount3 -u, lazily if busy), then wait for the
        daemon to exit; terminate, then kill it if it does not.  While the
        test runs, the catalog is validated first (AssertionError after
        the unmount if a table.json is not a Glue TableInput)."""
        if self.proc is None:
            if os.path.ismount(self.mnt):
                subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                               capture_output=True)
            return None
        errors = []
        if (self.check_on_unmount and self.proc.poll() is None
                and os.path.ismount(self.mnt)):
            errors = check_catalog(self.mnt)
        rc = self._unmount(timeout)
        if errors:
            raise AssertionError(catalog_failure_text(self.mnt, errors))
        return rc

    def _unmount(self, timeout):
        r = subprocess.run(["fusermount3", "-u", str(self.mnt)],
                           capture_output=True)
        if r.returncode != 0 and os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                           capture_output=True)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        self.proc = None
        return rc

    def kill(self):
        """kill -9 the daemon and lazily unmount (a crash)."""
        if self.proc is not None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                       capture_output=True)
        wait_until(lambda: not os.path.ismount(self.mnt), 10, what="unmount")

    def remount(self, *opts, **kw):
        self.unmount()
        return self.mount(*opts, **kw)

    # daemon output ---------------------------------------------------------
    def allow_errors(self, *patterns):
        """Regexes for error lines this test expects in the daemon's stderr."""
        self.allowed += [re.compile(p, re.IGNORECASE) for p in patterns]

    def stderr_text(self):
        return "".join(f.read_text(errors="replace") for f in self.stderr_files
                       if f.exists())

    def problems(self):
        bad = []
        for line in self.stderr_text().splitlines():
            if SANITIZER_RE.search(line):
                bad.append(line)
            elif ERROR_RE.search(line) and not any(a.search(line)
                                                   for a in self.allowed):
                bad.append(line)
        return bad

    # control files -----------------------------------------------------------
    def stats(self):
        out = {}
        for line in (self.mnt / ".gluefs" / "stats").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = int(parts[1])
        return out

    def status(self, kind, name):
        return parse_kv(read_text(self.mnt / kind / name / "status"))

    def wait(self, kind, name, timeout=180):
        return parse_kv(read_text(self.mnt / kind / name / "wait",
                                  timeout=timeout))

    def crawl(self, name="default", timeout=180):
        """echo run > crawlers/NAME/ctl; cat crawlers/NAME/wait."""
        write_file(self.mnt / "crawlers" / name / "ctl", "run\n")
        st = self.wait("crawlers", name, timeout)
        assert st.get("state") == "READY", st
        return st

    def run_job(self, name, spec, timeout=300):
        """mkdir jobs/NAME (if needed), write spec, cat wait."""
        d = self.mnt / "jobs" / name
        if not d.exists():
            d.mkdir()
        write_file(d / "spec", spec)
        return self.wait("jobs", name, timeout)


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def test_tmp():
    base = os.environ.get("GLUEFS_TEST_TMP")
    d = Path(tempfile.mkdtemp(prefix="pytest-", dir=base))
    yield d
    _rmtree_safely(d)


def _rmtree_safely(d):
    """rm -rf D without ever descending into a mount below it."""
    d = str(d)
    with open("/proc/mounts") as f:
        mounts = [line.split()[1] for line in f]
    for m in mounts:
        if m.startswith(d + "/"):
            subprocess.run(["fusermount3", "-u", "-z", m], capture_output=True)
    for root, dirs, _ in os.walk(d):
        for x in list(dirs):
            if os.path.ismount(os.path.join(root, x)):
                dirs.remove(x)
                return  # still mounted: leave it for tools/test's cleanup
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint(test_tmp):
    ep = os.environ.get("GLUEFS_S3_ENDPOINT")
    if ep:
        yield ep.rstrip("/")
        return
    port = free_port()
    data = test_tmp / "s3rver"
    r = subprocess.run([str(REPO / "tools" / "s3server"), "start", str(port),
                        str(data)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot start s3rver: {r.stdout}{r.stderr}")
    yield f"http://127.0.0.1:{port}"
    subprocess.run([str(REPO / "tools" / "s3server"), "stop", str(port)],
                   capture_output=True)


@pytest.fixture(scope="session")
def s3client(s3_endpoint):
    return make_client(s3_endpoint)


@pytest.fixture(scope="session")
def gluefs_bin():
    if not os.access(GLUEFS, os.X_OK):
        pytest.fail(f"{GLUEFS} is not built (run tools/setup)")
    return GLUEFS


@pytest.fixture(scope="session")
def samples():
    if not (SAMPLES / "seattle-weather.csv").exists():
        pytest.fail(f"{SAMPLES} is missing (run tools/setup)")
    return SAMPLES


@pytest.fixture
def work(test_tmp, request):
    d = Path(tempfile.mkdtemp(prefix=re.sub(r"\W", "_", request.node.name)[:40] + "-",
                              dir=test_tmp))
    yield d
    _rmtree_safely(d)


@pytest.fixture(params=["s3", "local"])
def lake(request, gluefs_bin, s3_endpoint, s3client, work):
    backend = request.param
    store = S3Store(s3client) if backend == "s3" else LocalStore(work / "local")
    lk = Lake(backend, work, store, s3_endpoint, request.node.originalname)
    marker = request.node.get_closest_marker("timeout_s")
    limit = marker.args[0] if marker else DEFAULT_TEST_TIMEOUT
    fired = []

    def watchdog():
        # A test stuck in a FUSE request: kill the daemon so the request
        # fails with ENOTCONN and the test ends.
        fired.append(True)
        if lk.proc is not None:
            try:
                lk.proc.kill()
            except Exception:
                pass
        subprocess.run(["fusermount3", "-u", "-z", str(lk.mnt)],
                       capture_output=True)

    timer = threading.Timer(limit, watchdog)
    timer.daemon = True
    timer.start()
    try:
        yield lk
    finally:
        timer.cancel()
        lk.check_on_unmount = False  # done after the test body, if it passed
        try:
            lk.unmount()
        finally:
            if backend == "s3":
                for b in lk.buckets:
                    store.delete_bucket(b)
    if fired:
        pytest.fail(f"test exceeded its {limit}s limit: the daemon was killed")
    bad = lk.problems()
    if bad:
        pytest.fail("daemon stderr has unexpected error lines:\n" +
                    "\n".join(bad[:40]))
