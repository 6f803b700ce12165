"""Validate catalog/<db>/<table>/table.json documents against AWS Glue's own
service model: the TableInput member of CreateTable's input, as botocore
(Debian's python3-botocore) ships it in botocore/data/glue/*/service-2.json.

`aws glue create-table --database-name D --table-input file://table.json`
parses the file as JSON and hands the object to botocore, whose
ParamValidator checks required members, unknown members, types (JSON gives
str, int, bool, list, dict: exactly what botocore expects; a timestamp
member would also accept an ISO 8601 string) and minimum lengths.  It
leaves out what the Glue service itself then enforces from the same model:
maximum lengths (counted in UTF-16 code units, as Java counts them) and
each string's pattern (no control characters other than TAB in names,
types and keys).  validate() checks both, so a document that passes would
also be accepted by the service, not only by the CLI.

Also refused: text that is not strict JSON (NaN, duplicate keys) or not
UTF-8.

Usage:
    errors = validate(text_or_obj)          # [] when valid
    errors = validate_file(path)
    errors = validate_catalog(mountpoint)   # every catalog/*/*/table.json
    python3 gluevalidate.py FILE|MOUNTPOINT...
"""
import functools
import json
import os
import re
import sys

import botocore.session
import botocore.validate

# Java's surrogate-pair range in Glue's patterns, as one Python range.
_JAVA_PAIR = r"\uD800\uDC00-\uDBFF\uDFFF"
_PY_ASTRAL = "\U00010000-\U0010FFFF"


@functools.lru_cache(maxsize=1)
def table_input_shape():
    """botocore's shape for CreateTable's TableInput member."""
    model = botocore.session.get_session().get_service_model("glue")
    return model.operation_model("CreateTable").input_shape.members["TableInput"]


@functools.lru_cache(maxsize=256)
def _pattern(java):
    """Compile a Glue (Java) pattern for fullmatch, or None if Python's re
    cannot express it (then only the length is checked)."""
    p = java.replace(_JAVA_PAIR, _PY_ASTRAL)
    try:
        return re.compile(p, re.DOTALL)
    except re.error:
        return None


def _utf16_len(s):
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _limits(value, shape, path, errors):
    """Maximum lengths, ranges and patterns of SHAPE's model, recursively
    (ParamValidator checks types, required members and minimums)."""
    meta = shape.metadata
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                _limits(v, shape.members[k], f"{path}.{k}", errors)
    elif t == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, more than {meta['max']}")
        for i, v in enumerate(value):
            _limits(v, shape.member, f"{path}[{i}]", errors)
    elif t == "map" and isinstance(value, dict):
        for k, v in value.items():
            _limits(k, shape.key, f"{path} key {k!r}", errors)
            _limits(v, shape.value, f"{path}[{k!r}]", errors)
    elif t == "string" and isinstance(value, str):
        n = _utf16_len(value)
        if "max" in meta and n > meta["max"]:
            errors.append(f"{path}: {n} characters, more than {meta['max']}")
        if "pattern" in meta:
            rx = _pattern(meta["pattern"])
            if rx is not None and not rx.fullmatch(value):
                errors.append(f"{path}: {value[:80]!r} does not match the "
                              f"pattern {meta['pattern']!r}")
        if "enum" in meta and value not in meta["enum"]:
            errors.append(f"{path}: {value!r} is not one of {meta['enum']}")
    elif t in ("integer", "long") and isinstance(value, int) \
            and not isinstance(value, bool):
        if "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value} is more than {meta['max']}")


def _no_dup_keys(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _bad_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse(text):
    """Strict JSON: UTF-8, no duplicate keys, no NaN/Infinity."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # UnicodeDecodeError: not UTF-8
    return json.loads(text, object_pairs_hook=_no_dup_keys,
                      parse_constant=_bad_constant)


def validate(doc):
    """Errors (strings) of DOC (a table.json text, bytes or parsed object)
    as a Glue TableInput; [] when it is valid."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = parse(doc)
        except (ValueError, UnicodeDecodeError) as e:
            return [f"not strict UTF-8 JSON: {e}"]
    if not isinstance(doc, dict):
        return [f"not a JSON object but {type(doc).__name__}"]
    shape = table_input_shape()
    errors = []
    report = botocore.validate.ParamValidator().validate(doc, shape)
    if report.has_errors():
        errors += [l for l in report.generate_report().splitlines()
                   if l and not l.startswith("Parameter validation failed")]
    _limits(doc, shape, "TableInput", errors)
    return errors


def validate_file(path):
    with open(path, "rb") as f:
        return validate(f.read())


def table_json_paths(mnt):
    """catalog/<db>/<table>/table.json of every table under mount MNT."""
    cat = os.path.join(str(mnt), "catalog")
    out = []
    try:
        dbs = sorted(os.listdir(cat))
    except FileNotFoundError:
        return out
    for db in dbs:
        for t in sorted(os.listdir(os.path.join(cat, db))):
            out.append((db, t, os.path.join(cat, db, t, "table.json")))
    return out


def validate_catalog(mnt):
    """Validate every table.json of the mount at MNT; also that each
    document names its own table.  Returns (tables checked, errors)."""
    errors = []
    paths = table_json_paths(mnt)
    for db, t, p in paths:
        try:
            with open(p, "rb") as f:
                text = f.read()
        except OSError as e:
            errors.append(f"{db}.{t}: cannot read table.json: {e}")
            continue
        errs = validate(text)
        if not errs:
            name = parse(text).get("Name")
            if name != t:
                errs.append(f"Name {name!r} is not the folder's name {t!r}")
        errors += [f"{db}.{t}: {e}" for e in errs]
    return len(paths), errors


def main(argv):
    bad = 0
    for a in argv:
        if os.path.isdir(os.path.join(a, "catalog")):
            n, errs = validate_catalog(a)
            print(f"{a}: {n} tables, {len(errs)} errors")
        else:
            errs = validate_file(a)
            print(f"{a}: {'valid' if not errs else 'INVALID'}")
        for e in errs:
            print("  " + e)
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
