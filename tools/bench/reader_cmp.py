#!/usr/bin/python3
"""tools/bench/reader_cmp.py - read path: curl vs two gluefs builds.

Usage: tools/bench/reader_cmp.py PORT ROUNDS BUILD_A BUILD_B [one|par ...]

Starts s3rver on PORT (data in /tmp/reader-cmp-PORT, kept between runs),
creates a 1 GiB random object and 8 x 128 MiB objects once (botocore),
then per round and workload runs, each on a freshly restarted s3rver (it
drifts after parallel ranged GETs), in an order rotated each round: curl GET(s) to /dev/null, `cat` through a fresh
gluefs mount of BUILD_A, the same with BUILD_B; the page cache is dropped
before each.  Prints per run: wall seconds, s3rver CPU seconds, daemon
CPU seconds, requests_get, the daemon's peak RSS; then medians (peak RSS:
the largest) and ratios to curl (curl's wall / the variant's)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = int(sys.argv[1])
ROUNDS = int(sys.argv[2])
BUILDS = {"A": sys.argv[3], "B": sys.argv[4]}
WORK = sys.argv[5:] or ["one", "par"]
EP = f"http://127.0.0.1:{PORT}"
DATA = f"/tmp/reader-cmp-{PORT}"
BUCKET = "readcmp"
MIB = 1 << 20
TMP = tempfile.mkdtemp(prefix="reader-cmp-")
AUTH = os.path.join(TMP, "auth.curlrc")
with open(AUTH, "w") as f:
    f.write('user = "S3RVER:S3RVER"\naws-sigv4 = "aws:amz:us-east-1:s3"\n'
            'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n')
PIDFILE = os.path.join(ROOT, "tools/.cache", f"s3rver-{PORT}.pid")


def s3rver(cmd):
    subprocess.run([os.path.join(ROOT, "tools/s3server"), cmd, str(PORT), DATA],
                   check=cmd == "start", stdout=subprocess.DEVNULL)


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu():
    with open(PIDFILE) as f:
        return cpu_of(int(f.read().strip()))


def drop_caches():
    subprocess.run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def make_data():
    import botocore.session
    s = botocore.session.get_session().create_client(
        "s3", endpoint_url=EP, aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER", region_name="us-east-1")
    try:
        s.create_bucket(Bucket=BUCKET)
    except Exception:
        pass
    have = {o["Key"] for o in s.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    want = [("big.bin", 1024)] + [(f"p{i}.bin", 128) for i in range(8)]
    for key, mib in want:
        if key in have:
            continue
        path = os.path.join(TMP, "src")
        with open(path, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(MIB))
        with open(path, "rb") as f:
            s.put_object(Bucket=BUCKET, Key=key, Body=f)
        os.unlink(path)


def mount(build):
    mnt = tempfile.mkdtemp(dir=TMP)
    st = tempfile.mkdtemp(dir=TMP)
    env = dict(os.environ, AWS_ENDPOINT_URL=EP, AWS_ACCESS_KEY_ID="S3RVER",
               AWS_SECRET_ACCESS_KEY="S3RVER", AWS_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.Popen([os.path.join(build, "gluefs"), "-f", "-o",
                          f"crawl=manual,state_dir={st},cache_dir={st}", mnt],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.ismount(mnt):
            break
        time.sleep(0.05)
    return p, mnt


def stats(mnt):
    out = {}
    with open(os.path.join(mnt, ".gluefs/stats")) as f:
        for line in f:
            k, _, v = line.partition(" ")
            try:
                out[k.strip(":")] = int(v.strip())
            except ValueError:
                pass
    return out


def run_all(cmds):
    t0 = time.monotonic()
    ps = [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in cmds]
    for p in ps:
        if p.wait():
            raise SystemExit(f"failed: {p.args}")
    return time.monotonic() - t0


def keys(work):
    return ["big.bin"] if work == "one" else [f"p{i}.bin" for i in range(8)]


def one_run(work, variant):
    drop_caches()
    c0 = server_cpu()
    if variant == "curl":
        t = run_all([["curl", "-sSf", "-K", AUTH, "-o", "/dev/null",
                      f"{EP}/{BUCKET}/{k}"] for k in keys(work)])
        return t, server_cpu() - c0, 0.0, len(keys(work)), 0
    p, mnt = mount(BUILDS[variant])
    try:
        d = os.path.join(mnt, "s3", BUCKET)
        for k in keys(work):
            os.stat(os.path.join(d, k))
        s0 = stats(mnt)
        drop_caches()
        c0 = server_cpu()
        d0 = cpu_of(p.pid)
        t = run_all([["cat", os.path.join(d, k)] for k in keys(work)])
        sc = server_cpu() - c0
        dc = cpu_of(p.pid) - d0
        s1 = stats(mnt)
        gets = s1.get("requests_get", 0) - s0.get("requests_get", 0)
        hwm = 0
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) // 1024
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        p.wait(timeout=30)
    return t, sc, dc, gets, hwm


def main():
    s3rver("start")
    make_data()
    res = {}
    variants = ["curl", "A", "B"]
    for rnd in range(ROUNDS):
        for work in WORK:
            order = variants[rnd % 3:] + variants[:rnd % 3]
            for v in order:
                s3rver("stop")
                s3rver("start")
                r = one_run(work, v)
                res.setdefault((work, v), []).append(r)
                print(f"round {rnd} {work:3} {v:4} wall {r[0]:6.2f}  s3rver {r[1]:5.2f}"
                      f"  daemon {r[2]:5.2f}  gets {r[3]}  hwm {r[4]} MiB", flush=True)
    s3rver("stop")
    for work in WORK:
        cw = statistics.median(x[0] for x in res[(work, "curl")])
        for v in variants:
            xs = res[(work, v)]
            w = statistics.median(x[0] for x in xs)
            print(f"median {work:3} {v:4} wall {w:6.2f} (curl/x {cw / w:4.2f})"
                  f"  s3rver {statistics.median(x[1] for x in xs):5.2f}"
                  f"  daemon {statistics.median(x[2] for x in xs):5.2f}"
                  f"  gets {statistics.median(x[3] for x in xs)}"
                  f"  hwm {max(x[4] for x in xs)} MiB")


if __name__ == "__main__":
    main()
