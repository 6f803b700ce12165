"""Cross-check gluefs's SigV4 signer with botocore's S3SigV4Auth.

About 200 random S3 requests (methods, keys with unicode, spaces and
reserved characters, query parameters including bare ones like ?uploads,
repeated and untrimmed headers, payloads, session tokens, regions, times)
are signed by the C signer (tests/tools/sigv4_sign, found under
$GLUEFS_BUILD, default build/ in the repository, i.e. /work/main/build)
and by botocore; the
Authorization headers must be identical.

Run: GLUEFS_BUILD=/work/main/build /usr/bin/python3 -m pytest -q \
         tests/integration/test_sigv4_botocore.py
"""

import datetime
import json
import os
import random
import subprocess
import types
from urllib.parse import quote

import pytest
from botocore import auth as botocore_auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GLUEFS_BUILD") or os.path.join(REPO, "build")  # /work/main/build
SIGNER = os.path.join(BUILD, "tests", "tools", "sigv4_sign")

N_REQUESTS = 200
SEED = int(os.environ.get("GLUEFS_SIGV4_SEED", "20150830"))

KEY_ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" !\"$&'()*+,;=:@%?#[]{}|^`<>~-._/\\")
    + ["\u00e9", "\u00fc", "\u20ac", "\u65e5\u672c", "\U0001F600", "\u0416"]
)
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
HOSTS = [
    "s3.amazonaws.com",
    "examplebucket.s3.eu-west-1.amazonaws.com",
    "127.0.0.1:9000",
    "localhost:9100",
    "minio.internal:9443",
]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]


def rand_text(rng, n_max, alphabet=KEY_ALPHABET, n_min=1):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(n_min, n_max)))


def rand_header_value(rng):
    """ASCII text with runs of spaces/tabs inside and around it."""
    words = [rand_text(rng, 8, list("abcXYZ019=;,/:\"'()-_."))
             for _ in range(rng.randint(1, 4))]
    seps = [rng.choice([" ", "  ", "\t", " \t  "]) for _ in words]
    v = "".join(w + s for w, s in zip(words, seps)).rstrip(" \t")
    if rng.random() < 0.3:
        v = "  " + v + " \t"
    return v


def make_request(rng):
    method = rng.choice(METHODS)
    host = rng.choice(HOSTS)
    key = rand_text(rng, 40)
    if rng.random() < 0.2:
        key = key + "//" + rand_text(rng, 5)
    path = "/" + ("bucket-" + str(rng.randint(0, 9)) + "/" if rng.random() < 0.7 else "") + key
    query = []
    pool = [
        ("list-type", "2"), ("delimiter", "/"), ("max-keys", "1000"),
        ("encoding-type", "url"), ("uploads", None), ("partNumber", str(rng.randint(1, 10000))),
        ("uploadId", rand_text(rng, 30, list(TOKEN_ALPHABET + "-_.~"))),
        ("prefix", rand_text(rng, 20)), ("continuation-token", rand_text(rng, 40, list(TOKEN_ALPHABET))),
        (rand_text(rng, 6, list("abcXYZ-_.~ &=+")), rand_text(rng, 10)),
        ("x-id", ""),
    ]
    for _ in range(rng.randint(0, 5)):
        query.append(rng.choice(pool))
    headers = []
    for _ in range(rng.randint(0, 6)):
        name = rng.choice([
            "x-amz-meta-mode", "X-Amz-Meta-Uid", "x-amz-meta-" + rand_text(rng, 6, list("abcdef0123-")),
            "Range", "Content-Type", "x-amz-metadata-directive", "x-amz-copy-source",
            "If-Match", "Content-MD5", "x-amz-storage-class",
        ])
        if name == "x-amz-copy-source":
            value = "/src-bucket/" + quote(rand_text(rng, 20), safe="/~")
        elif name == "Range":
            value = "bytes=%d-%d" % (rng.randint(0, 100), rng.randint(100, 10 ** 9))
        else:
            value = rand_header_value(rng)
        headers.append([name, value])
        if rng.random() < 0.15:  # the same header again: values joined with ','
            headers.append([name, rand_header_value(rng)])
    payload = b""
    if method in ("PUT", "POST") and rng.random() < 0.8:
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 3000)))
    token = rand_text(rng, 200, list(TOKEN_ALPHABET), n_min=20) if rng.random() < 0.4 else None
    t = rng.randint(1420070400, 1893456000)  # 2015 .. 2030
    return {
        "method": method, "host": host, "path": path, "query": query,
        "headers": headers, "payload_hex": payload.hex(), "time": t,
        "access_key": "AKIA" + rand_text(rng, 16, list("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
        "secret_key": rand_text(rng, 40, list(TOKEN_ALPHABET)),
        "session_token": token, "region": rng.choice(REGIONS), "service": "s3",
    }


def encode_query(query):
    parts = []
    for name, value in query:
        q = quote(name, safe="-_.~")
        if value is not None:
            q += "=" + quote(value, safe="-_.~")
        parts.append(q)
    return "&".join(parts)


class _FixedClock:
    """Stands in for the datetime module inside botocore.auth."""

    def __init__(self, t):
        fixed = datetime.datetime.utcfromtimestamp(t)

        class FixedDatetime(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return fixed

        self.datetime = FixedDatetime


def botocore_authorization(r, monkeypatch):
    url = "http://" + r["host"] + quote(r["path"], safe="/~")
    if r["query"]:
        url += "?" + encode_query(r["query"])
    req = AWSRequest(method=r["method"], url=url, data=bytes.fromhex(r["payload_hex"]))
    for name, value in r["headers"]:
        req.headers[name] = value  # HTTPHeaders: assignment appends
    creds = Credentials(r["access_key"], r["secret_key"], r["session_token"])
    monkeypatch.setattr(botocore_auth, "datetime", _FixedClock(r["time"]))
    signer = S3SigV4Auth(creds, "s3", r["region"])
    signer.add_auth(req)
    return req.headers["Authorization"], signer.canonical_request(req)


def c_authorizations(requests):
    if not os.access(SIGNER, os.X_OK):
        pytest.fail(f"{SIGNER} not built (set GLUEFS_BUILD to the build dir)")
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    out = subprocess.run([SIGNER], input=lines.encode("utf-8"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=60, check=False)
    got = out.stdout.decode("utf-8").splitlines()
    assert len(got) == len(requests), out.stderr.decode()
    return got


def c_verbose(r):
    out = subprocess.run([SIGNER, "-v"], input=(json.dumps(r, ensure_ascii=False) + "\n").encode(),
                         stdout=subprocess.PIPE, timeout=30, check=False)
    return out.stdout.decode("utf-8", "replace")


def test_random_requests_match_botocore(monkeypatch):
    rng = random.Random(SEED)
    requests = [make_request(rng) for _ in range(N_REQUESTS)]
    got = c_authorizations(requests)
    mismatches = []
    for r, c_authz in zip(requests, got):
        want, creq = botocore_authorization(r, monkeypatch)
        if c_authz != want:
            mismatches.append((r, c_authz, want, creq))
    for r, c_authz, want, creq in mismatches[:3]:
        print("request:", json.dumps(r, ensure_ascii=False))
        print("botocore canonical request:\n" + creq)
        print("C signer:\n" + c_verbose(r))
    assert not mismatches, f"{len(mismatches)} of {len(requests)} requests differ (seed {SEED})"


def test_s3_documented_example(monkeypatch):
    """S3 API Reference, GET Object example: the signature is known."""
    r = {
        "method": "GET", "host": "examplebucket.s3.amazonaws.com",
        "path": "/test.txt", "query": [], "headers": [["Range", "bytes=0-9"]],
        "payload_hex": "", "time": 1369353600,
        "access_key": "AKIAIOSFODNN7EXAMPLE",
        "secret_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "session_token": None, "region": "us-east-1", "service": "s3",
    }
    want = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
            "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    assert c_authorizations([r]) == [want]
    assert botocore_authorization(r, monkeypatch)[0] == want


def test_bad_input_is_reported_not_signed():
    if not os.access(SIGNER, os.X_OK):
        pytest.fail(f"{SIGNER} not built")
    out = subprocess.run([SIGNER], input=b'{"method": "GET"}\nnot json\n',
                         stdout=subprocess.PIPE, timeout=30, check=False)
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 2 and all(l.startswith("error:") for l in lines)
    assert out.returncode != 0
