"""Reading fields out of parsed JSON records, fast and without trusting their types.

Records are parsed with simdjson, whose documents are read lazily: only the fields a source asks
for are turned into Python objects, which is what makes ingest fast. A parsed document is valid
only until the next parse, so every value handed back here is a plain Python value: scalars as
they are, objects and arrays as compact JSON text. The rare record simdjson refuses though it is
valid JSON (an integer beyond 64 bits, a lone surrogate escape) is read by `rfc_json` instead,
as plain dicts and lists, which every function here reads as well.

>>> doc = load_json(b'{"a": {"b": [1, 2]}, "n": 3, "s": "x"}')
>>> get(doc, "a.b"), text(get(doc, "n")), text(get(doc, "a")), get(doc, "a.zz")
([1, 2], '3', '{"b":[1,2]}', None)
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import orjson
import simdjson

from auditlake.errors import RecordError
from auditlake.schema import is_canonical
from auditlake.sources import rfc_json

_THREAD = threading.local()
"""One simdjson parser per thread: a parser is not safe to share between threads, and making
one per record would cost more than the parse."""
JsonObject = (simdjson.Object, dict)
JsonArray = (simdjson.Array, list)


def load_json(raw: bytes) -> Any:
    """Parse one JSON record; raise `RecordError` naming what is wrong with it.

    The returned document is lazy and lives until the next call: read what you need from it
    before parsing another record. A record simdjson refuses is read again by `_refused`: the
    reason is given only when that fails too.
    """
    try:
        return _parse(raw)
    except (ValueError, RuntimeError) as exc:  # RuntimeError: an integer beyond 64 bits
        refusal = exc
    doc = _refused(raw)
    if doc is not None:
        return doc
    if isinstance(refusal, ValueError):
        raise RecordError(_json_reason(raw, refusal)) from refusal
    reason = "integer does not fit in 64 bits" if "BIGINT" in str(refusal) else str(refusal)
    raise RecordError(f"invalid JSON: {reason} ({refusal})") from refusal


def _refused(raw: bytes) -> Any | None:
    """A record simdjson refused, when it is valid JSON all the same; else None.

    With its lone surrogate escapes made text (`rfc_json.escape_lone_surrogates`) simdjson may
    read it, as it reads every other record; what it still refuses (a number beyond 64 bits)
    is read by Python's decoder (`rfc_json.load`), as dicts and lists.
    """
    escaped = rfc_json.escape_lone_surrogates(raw)
    if escaped != raw:
        try:
            return _parse(escaped)
        except (ValueError, RuntimeError):
            pass
    return rfc_json.load(raw)


def _parse(raw: bytes) -> Any:
    """Parse with this thread's parser, or a fresh one while a document of it is still referenced.

    simdjson refuses to reuse a parser whose last document is alive (held by a caller, or by a
    traceback kept for a report); that must not turn the next, valid record into a rejection.
    """
    parser = getattr(_THREAD, "parser", None)
    if parser is None:
        parser = _THREAD.parser = simdjson.Parser()
    try:
        return parser.parse(raw)
    except RuntimeError as exc:
        if "re-use a parser" not in str(exc):
            raise
    return simdjson.Parser().parse(raw)


def load_json_object(raw: bytes) -> Any:
    """Like `load_json`, but the record must be a JSON object."""
    doc = load_json(raw)
    if not isinstance(doc, JsonObject):
        raise RecordError(f"record is {json_kind(doc)}, not a JSON object")
    return doc


def loads_as_object(parse: Callable[[bytes], Any], raw: bytes) -> bool:
    """Whether simdjson (`parse`, a parser's bound method, reused for speed) loads `raw` as a
    JSON object, as the per-record path needs it to.

    Only simdjson's verdict: a record it refuses is for the per-record path to read or reject
    (`load_json`), so a batch path that declines what this refuses needs no check of its own
    for the valid JSON simdjson refuses, and pays nothing for it.
    """
    try:
        return type(parse(raw)) is simdjson.Object  # the document dies here, freeing the parser
    except (ValueError, RuntimeError):  # RuntimeError: an integer beyond 64 bits
        return False


def json_kind(value: Any) -> str:
    """A JSON value's type, named as the record's author would say it."""
    if isinstance(value, JsonArray):
        return "an array"
    if isinstance(value, JsonObject):
        return "an object"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else "a string"


def require_str(doc: Any, path: str) -> str:
    """The string at `path`; `RecordError` when it is missing, empty or not a string."""
    value = require(get(doc, path), path)
    if not isinstance(value, str):
        raise RecordError(f"{path} is {json_kind(value)}, expected a string")
    return value


def scalar_text(doc: Any, path: str) -> str | None:
    """A field that feeds a canonical column: a scalar as text, '' as absent; an object or
    array is refused rather than stored as JSON where a name, id or address belongs.
    """
    value = get(doc, path)
    if isinstance(value, (*JsonArray, *JsonObject)):
        raise RecordError(f"{path} is {json_kind(value)}, expected a string")
    return text(value) or None


def _json_reason(raw: bytes, exc: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return f"invalid UTF-8 at byte {uexc.start}"
    message = str(exc) or type(exc).__name__
    if raw.count(b"{") > raw.count(b"}") or raw.count(b"[") > raw.count(b"]"):
        return f"truncated JSON ({message})"
    return f"invalid JSON ({message})"


def get(doc: Any, path: str) -> Any:
    """The value at a dotted `path`, or None when any step is missing or not an object.

    Arrays come back as Python lists of plain values; objects stay lazy (use `text`).
    """
    value = doc
    for key in path.split("."):
        value = member(value, key)
        if value is None:
            return None
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


SCANNED_KEYS = 16
"""Objects of at most this many keys are looked through before a key is read from them: simdjson
reports a missing key with an exception, which costs about 5 µs, twenty-five times a read, and
the optional fields of audit records are often missing."""


def member(value: Any, key: str) -> Any:
    """`value[key]` when `value` is an object holding `key` (the first, when repeated); None
    when it does not, or is not an object."""
    if isinstance(value, dict):
        return value.get(key)
    if not isinstance(value, simdjson.Object):
        return None
    # `in` on the object itself raises and catches the same exception inside: list the keys.
    if len(value) <= SCANNED_KEYS and key not in value.keys():  # noqa: SIM118
        return None
    return value.get(key)


def object_view(obj: Any) -> dict[str, Any]:
    """One level of a parsed object as a dict, its values still lazy: for a record whose
    top-level keys are read many times, present or not (see `SCANNED_KEYS`)."""
    return {key: obj.get(key) for key in obj}


def path_views(obj: Any, paths: Sequence[str]) -> Any:
    """`obj` with each object on the way to `paths` (but not at one of them) read into a dict
    of its keys (`object_view`), as `obj` itself is: a source reads those objects' members
    again and again, and a missing one costs simdjson an exception. The objects at the paths
    stay as they are, so their text is unchanged; read only the paths' values through the
    result, never the text of an object on the way."""
    return _views(obj, _path_tree(tuple(paths)))


def _views(obj: Any, tree: PathTree) -> Any:
    view = dict(obj) if isinstance(obj, dict) else object_view(obj)
    for key, (path, below) in tree.items():
        value = view.get(key)
        if below and path is None and isinstance(value, JsonObject):
            view[key] = _views(value, below)
    return view


def text(value: Any) -> str | None:
    """A value as text: strings as they are, numbers and booleans in JSON spelling, objects
    and arrays as compact JSON, null as None. An integer beyond 64 bits is its digits, a
    `rfc_json.WideNumber` the number as written.

    >>> text(2**64), text({"n": 2**64}), text(-1.5)
    ('18446744073709551616', '{"n":18446744073709551616}', '-1.5')
    """
    if value is None or isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return _container_text(value)


def _container_text(value: Any) -> str:
    """An object or array as compact JSON: simdjson's own text, else orjson's, else (a number
    orjson does not write, in a record `rfc_json` read) `rfc_json.dumps`."""
    if isinstance(value, simdjson.Object | simdjson.Array):
        mini: bytes | str = value.mini  # bytes at run time, whatever the stubs say
        return mini.decode("utf-8") if isinstance(mini, bytes) else mini
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError
        return rfc_json.dumps(value, text)


def get_text(doc: Any, path: str) -> str | None:
    """`text(get(doc, path))`: the value at `path` as text, None when absent."""
    value = doc
    for key in path.split("."):
        value = member(value, key)
        if value is None:
            return None
    return text(value)


def get_str_list(doc: Any, path: str) -> list[str] | None:
    """A list of strings at `path` (a single scalar becomes a one-item list)."""
    value = get(doc, path)
    if value is None:
        return None
    if isinstance(value, list):
        return [t for t in (text(v) for v in value) if t is not None]
    single = text(value)
    return [single] if single is not None else None


def flatten_paths(doc: Any, paths: Sequence[str]) -> dict[str, str]:
    """Native columns for the given dotted `paths` (absent ones are left out), in their order.

    The paths are walked as one tree, so an object under several of them (`userIdentity`,
    `client.userAgent`) is reached once and its keys listed once.
    """
    found: dict[str, str] = {}
    _read_tree(doc, _path_tree(tuple(paths)), found)
    if len(found) < 2:
        return found
    return {path: found[path] for path in paths if path in found}


PathTree = dict[str, tuple[str | None, "PathTree"]]
"""key → (the path ending at it, if one does; the tree of the paths going on below it)."""
_PATH_TREES: dict[tuple[str, ...], PathTree] = {}
_PATH_TREES_KEPT = 64
"""Trees kept, one per tuple of paths (a source has one or two)."""


def _path_tree(paths: tuple[str, ...]) -> PathTree:
    tree = _PATH_TREES.get(paths)
    if tree is None:
        if len(_PATH_TREES) >= _PATH_TREES_KEPT:
            _PATH_TREES.clear()
        tree = {}
        for path in paths:
            node, keys = tree, path.split(".")
            for depth, key in enumerate(keys):
                ends, below = node.get(key, (None, {}))
                node[key] = (path if depth == len(keys) - 1 else ends, below)
                node = below
        tree = _PATH_TREES.setdefault(paths, tree)
    return tree


def _read_tree(obj: Any, tree: PathTree, found: dict[str, str]) -> None:
    """Every path of `tree` present in `obj`, as text, into `found`."""
    if isinstance(obj, simdjson.Object) and len(tree) > 1:
        keys = set(obj.keys())  # listed once: a missing key costs simdjson an exception
        values = {key: obj.get(key) for key in tree if key in keys}
    else:
        values = {key: member(obj, key) for key in tree}
    for key, value in values.items():
        if value is None:
            continue
        path, below = tree[key]
        if path is not None:
            rendered = text(value)
            if rendered is not None:
                found[path] = rendered
        if below:
            _read_tree(value, below, found)


def flatten_all(obj: Any, prefix: str = "", *, max_depth: int = 8) -> dict[str, str]:
    """Every scalar leaf of `obj` as a dotted native column; arrays stay JSON text.

    A name that is also a canonical column is skipped (the value stays reachable in `raw`), and
    a key with spaces is also reachable without them (`Threat Name` → `ThreatName`).
    """
    out: dict[str, str] = {}
    for name, value in _leaves(obj, prefix, max_depth):
        if is_canonical(name):
            continue
        out[name] = value
        if " " in name:
            compact = name.replace(" ", "")
            if not is_canonical(compact):
                out.setdefault(compact, value)
    return out


def _leaves(obj: Any, prefix: str, depth: int) -> Iterator[tuple[str, str]]:
    items = obj.items() if isinstance(obj, (*JsonObject, Mapping)) else ()
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, JsonObject) and depth > 0:
            yield from _leaves(value, name + ".", depth - 1)
        else:
            rendered = text(value)
            if rendered is not None:
                yield name, rendered


def ip_or_host(address: str | None) -> dict[str, str]:
    """`{"src_ip": address}` when it is an IP address, else `{"src_host": address}`.

    Audit sources put a service or host name where an address would be when there is none
    (CloudTrail `AWS Internal`, GCP `private`); such a name must not land in `src_ip`.

    >>> ip_or_host("10.0.0.1"), ip_or_host("ec2.amazonaws.com"), ip_or_host(None)
    ({'src_ip': '10.0.0.1'}, {'src_host': 'ec2.amazonaws.com'}, {})
    """
    if not address:
        return {}
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"src_host": address}
    return {"src_ip": address}


def require(value: Any, what: str) -> Any:
    """Return `value`, or raise `RecordError` saying that `what` is missing."""
    if value is None or value == "":
        raise RecordError(f"missing {what}")
    return value
