#!/usr/bin/python3
"""tools/bench/crawl_data.py - the objects tools/bench/crawl crawls.

Creates BUCKET on a local S3 server (s3rver: access key S3RVER) and fills
it with two lakes:

  small/events/dt=YYYY-MM-DD/part-NNNNNN.csv
      SMALL CSV objects of a few hundred bytes (a header and 3 rows:
      bigint, timestamp, date, double, string with quotes and commas,
      boolean), spread over PARTITIONS date partitions (0: no partition
      folder, every object directly in small/events/).
  big/trips_csv/part-NN.csv, big/trips_json/part-NN.json
      BIG objects of BIG_MIB MiB each (whole rows, at most BIG_MIB MiB):
      with --big-format csv all are CSV, with mix (default) the first half
      is CSV and the rest JSON Lines.  Each object starts with 2,000 rows
      of its own, then repeats one ~4 MiB block of rows to its size (the
      crawler samples the head; generating 4 GiB of distinct rows in
      Python would take minutes).  Each is sent as one streamed PUT with a
      Content-Length (anonymous: s3rver allows it), so no copy is kept on
      disk.
  small/, small/events/, big/
      zero-byte folder markers (as the S3 console makes): s3rver 3.7's
      delimiter listing omits a common prefix whose objects sit two or more
      folders below it, so without them `ls`/`find` on the mount would not
      see small/ or big/ (the crawler lists without a delimiter and skips
      markers).

Prints one line "small N BYTES" and one "big N BYTES" (objects and bytes
stored) on stdout.  Everything is deterministic (seeded).
"""
import argparse
import datetime
import http.client
import json
import random
import sys
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import botocore.config
import botocore.session

VENDORS = ["CMT", "VTS", "DDS", "Yellow Cab", "Green \"Boro\" Taxi"]
ZONES = ["Midtown, East", "JFK Airport", "Upper West Side", "SoHo",
         "Astoria", "Park Slope", "Harlem", "Battery Park"]
COUNTRIES = ["US", "DE", "FR", "BR", "IN", "JP", "NG", "CA"]
STATUSES = ["ok", "retry", "failed", "queued"]
BASE = datetime.datetime(2026, 1, 1)


def csv_field(s):
    if any(c in s for c in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def small_object(rng, idx, day):
    lines = ["event_id,user_id,ts,day,amount,score,country,status,note"]
    for r in range(3):
        ts = BASE + datetime.timedelta(days=day, seconds=rng.randrange(86400))
        note = rng.choice(["", "first visit", "promo, spring", "said \"hi\""])
        lines.append(",".join([
            str(idx * 3 + r),
            str(rng.randrange(1, 10**9)),
            ts.strftime("%Y-%m-%d %H:%M:%S"),
            ts.strftime("%Y-%m-%d"),
            "%.2f" % rng.uniform(0, 500),
            "%.6f" % rng.random(),
            rng.choice(COUNTRIES),
            rng.choice(STATUSES),
            csv_field(note),
        ]))
    return ("\n".join(lines) + "\n").encode()


TRIP_COLS = ["trip_id", "vendor", "pickup_at", "pickup_date", "passengers",
             "distance_km", "fare", "zone", "paid_cash"]


def trip_rows(rng, first_id, n):
    """N trip rows as dicts."""
    out = []
    for i in range(n):
        t = BASE + datetime.timedelta(seconds=rng.randrange(365 * 86400))
        out.append({
            "trip_id": first_id + i,
            "vendor": rng.choice(VENDORS),
            "pickup_at": t.strftime("%Y-%m-%d %H:%M:%S"),
            "pickup_date": t.strftime("%Y-%m-%d"),
            "passengers": rng.randrange(1, 7),
            "distance_km": round(rng.uniform(0.3, 60.0), 3),
            "fare": round(rng.uniform(2.5, 180.0), 2),
            "zone": rng.choice(ZONES),
            "paid_cash": rng.random() < 0.3,
        })
    return out


def render(rows, fmt):
    if fmt == "json":
        return "".join(json.dumps(r, separators=(",", ":")) + "\n"
                       for r in rows).encode()
    lines = []
    for r in rows:
        lines.append(",".join(
            "true" if v is True else "false" if v is False
            else csv_field(v) if isinstance(v, str) else repr(v)
            for v in (r[c] for c in TRIP_COLS)))
    return ("\n".join(lines) + "\n").encode()


def big_parts(idx, fmt, size, block):
    """The pieces of big object IDX (bytes objects), at most SIZE bytes in
    all, whole rows only."""
    rng = random.Random(1000 + idx)
    parts = []
    if fmt == "csv":
        parts.append((",".join(TRIP_COLS) + "\n").encode())
    parts.append(render(trip_rows(rng, idx * 10**8, 2000), fmt))
    used = sum(len(p) for p in parts)
    if used > size:
        sys.exit("crawl_data.py: --big-mib is too small for one object's head")
    while used + len(block) <= size:
        parts.append(block)
        used += len(block)
    tail = block[:size - used]
    cut = tail.rfind(b"\n")
    if cut >= 0:
        parts.append(tail[:cut + 1])
    return parts


def put_stream(endpoint, bucket, key, parts):
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    total = sum(len(p) for p in parts)
    path = "/%s/%s" % (bucket, urllib.parse.quote(key))
    conn.request("PUT", path, body=iter(parts),
                 headers={"Content-Length": str(total),
                          "Content-Type": "application/octet-stream"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    if resp.status != 200:
        sys.exit("crawl_data.py: PUT %s: HTTP %d %s" % (key, resp.status,
                                                       body[:200]))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--bucket", default="crawlbench")
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--big", type=int, default=20)
    ap.add_argument("--big-mib", type=int, default=200)
    ap.add_argument("--big-format", choices=["csv", "mix"], default="mix")
    a = ap.parse_args()
    if a.small < 0 or a.big < 0 or a.partitions < 0 or a.big_mib < 1:
        sys.exit("crawl_data.py: sizes must be positive")

    c = botocore.session.get_session().create_client(
        "s3", endpoint_url=a.endpoint, aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER", region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"},
                                      max_pool_connections=16,
                                      retries={"max_attempts": 5}))
    c.create_bucket(Bucket=a.bucket)
    for marker in ("small/", "small/events/", "big/"):
        c.put_object(Bucket=a.bucket, Key=marker, Body=b"")

    def put_small(i):
        rng = random.Random(i)
        if a.partitions:
            day = i % a.partitions
            d = (BASE + datetime.timedelta(days=day)).strftime("%Y-%m-%d")
            key = "small/events/dt=%s/part-%06d.csv" % (d, i)
        else:
            day = i % 365
            key = "small/events/part-%06d.csv" % i
        body = small_object(rng, i, day)
        c.put_object(Bucket=a.bucket, Key=key, Body=body)
        return len(body)

    with ThreadPoolExecutor(16) as ex:
        small_bytes = sum(ex.map(put_small, range(a.small)))
    print("small %d %d" % (a.small, small_bytes), flush=True)

    size = a.big_mib << 20
    n_csv = a.big if a.big_format == "csv" else (a.big + 1) // 2
    blocks = {}
    big_bytes = 0
    for i in range(a.big):
        fmt = "csv" if i < n_csv else "json"
        if fmt not in blocks:
            rng = random.Random(7 if fmt == "csv" else 8)
            rows, b = [], b""
            first = 10**12
            while len(b) < (4 << 20):
                b += render(trip_rows(rng, first, 5000), fmt)
                first += 5000
            blocks[fmt] = b
        key = ("big/trips_csv/part-%02d.csv" % i if fmt == "csv"
               else "big/trips_json/part-%02d.json" % i)
        big_bytes += put_stream(a.endpoint, a.bucket, key,
                                big_parts(i, fmt, size, blocks[fmt]))
    print("big %d %d" % (a.big, big_bytes), flush=True)


if __name__ == "__main__":
    main()
