"""The identity of a record that names none: a digest of what it says, not of how it is written.

A record without a native id (a GitHub entry without `_document_id`, an Okta event without
`uuid`, a mapped record without its id field) is known by a digest. A digest of `raw` would
change with the writing: the same records read as JSON Lines, then from a pretty-printed array,
then re-spaced by some tool, would land once per writing. For JSON records the digest is taken
of their canonical text instead (`canonical_text`); `event_hash` stays the digest of the bytes
themselves, the evidence that they were not altered.

The canonical text is the record written compactly, and:

- strings by their decoded value, escaped as `json.dumps(ensure_ascii=False)` escapes them:
  `"\\u00e9"` and `"é"`, `"\\/"` and `"/"` are the same string;
- numbers as written: `1.0` and `1` stay apart, as no reader can tell which the producer
  meant, and nothing is lost to float rounding or to Python's limit on integer digits;
- the members of every object sorted by key, stably (a key written twice keeps the order of
  its values, which tells which one a last-wins reader takes), as RFC 8785 sorts them. JSON
  objects are unordered (RFC 8259 §4), and records do get rewritten with their keys sorted
  (`jq -S`, `sort_keys=True`, Go's maps); two records that differ only in key order hold the
  same fields and values, so no rule, column or analyst could tell them apart, and keeping
  both would only keep a duplicate;
- arrays in order.

>>> fallback_uid(b'{"b": 1, "a": "\\\\u00e9"}', "json") == fallback_uid('{"a":"é","b":1}'.encode(), "json")
True
>>> fallback_uid(b'{"a":1}', "json") == hashlib.sha256(b'{"a":1}').hexdigest()  # canonical already
True
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any

import polars as pl
import pyarrow as pa

CONTENT_FORMATS = frozenset({"json", "evtx-json"})
"""`raw_format`s whose records are JSON texts, identified by their canonical text. The others
(auditd's key=value lines) are identified by their bytes, where their source names no id."""

UID = "event_uid"


class _Written(str):
    """Canonical JSON text of a value already written: a number as written, or an object."""

    __slots__ = ()


def canonical_text(text: str) -> str:
    """The canonical text of a JSON value (module docstring); raises `ValueError` for text that
    is not JSON, `RecursionError` for a value nested deeper than Python's stack allows.

    >>> canonical_text('{ "b": [1.50, "\\\\u00e9\\\\/"],\\n  "a": {} }')
    '{"a":{},"b":[1.50,"é/"]}'
    """
    value = json.loads(text, object_pairs_hook=_object, parse_int=_Written, parse_float=_Written,
                       parse_constant=_Written)
    return _write(value)


def fallback_uid(raw: bytes, raw_format: str) -> str:
    """`event_uid` of a record whose source names no id: the hex SHA-256 of its canonical text
    if it is JSON (`CONTENT_FORMATS`), else of its bytes. A JSON record too deep to rewrite
    keeps the digest of its bytes."""
    if raw_format in CONTENT_FORMATS:
        try:
            canonical = canonical_text(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            pass
        else:  # a lone surrogate escape (`"\ud800"`) is a character of the string all the same
            return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def with_fallback_uids(canonical: pl.DataFrame, raws: pa.Array, raw_format: str) -> pl.DataFrame:
    """`canonical` (a batch path's canonical columns, a row per text of `raws`) with every null
    or empty `event_uid` set to `fallback_uid` of its record, as `records.complete_row` sets it.

    Rows with a native id are only looked at: the few rows without one are rewritten here, one
    by one, so a batch path need not decline them.
    """
    uids = canonical.get_column(UID)
    missing = uids.is_null() | (uids == "")
    if not missing.any():
        return canonical
    rows = missing.arg_true()
    texts = raws.take(rows.to_arrow()).to_pylist()
    fallbacks = [fallback_uid(text.encode("utf-8"), raw_format) for text in texts]
    return canonical.with_columns(uids.clone().scatter(rows, fallbacks))


def _object(pairs: list[tuple[str, Any]]) -> _Written:
    members = sorted(pairs, key=itemgetter(0))
    return _Written("{" + ",".join(f"{encode_basestring(key)}:{_write(value)}" for key, value in members) + "}")


def _write(value: Any) -> str:
    """Canonical text of a value as `json.loads` gives it with `canonical_text`'s hooks."""
    if isinstance(value, _Written):
        return value
    if isinstance(value, str):
        return encode_basestring(value)
    if isinstance(value, list):
        return "[" + ",".join(map(_write, value)) + "]"
    return _LITERALS[value]


_LITERALS: dict[Any, str] = {None: "null", True: "true", False: "false"}
