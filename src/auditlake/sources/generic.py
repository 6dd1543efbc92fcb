"""Any JSON audit log, mapped onto the canonical columns by a small TOML file.

For an application that no built-in source knows, a mapping file says which field of its records
feeds which canonical column, so its events land in the lake beside everything else without
writing a parser. Records are framed like every JSON source (JSON Lines, arrays, gzip, …).

The mapping file::

    name = "myapp.audit"        # lake source name: ^[a-z0-9][a-z0-9._-]{0,63}$, no "..", and
                                # not a built-in source's name or alias (`auditlake sources`)

    [fields]                    # canonical column = dotted path in the record
    event_uid = "id"
    time = "ts"                 # required; RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or epoch s/ms/us
    actor_id = "who.id"
    src_ip = "client.ip"        # a value that is not an IP address lands in src_host instead
    actor_roles = "who.groups"  # list columns take a JSON array (or one scalar)
    auth_mfa = "who.mfa"        # true/false, or the strings "true"/"false"
    class_uid = "ocsf.class"    # integer columns reject anything but integers
    outcome = "result"          # mapped through [outcome_values]

    [outcome_values]            # native outcome value (as text) = success | failure | unknown
    ok = "success"              # unlisted values stay as they are when already success/failure/
    denied = "failure"          # unknown, and become "unknown" otherwise; needs [fields] outcome
    403 = "failure"             # a numeric code in the data is matched by its digits

    [native]                    # native columns to keep beside the canonical ones; without this
    paths = ["op", "who.name"]  # table every leaf down to 3 levels is kept

    [detect]                    # optional: `ingest --mapping` then reads with it only the inputs
    require = ["op", "who"]     # whose records hold every listed path, and tells the others by
                                # their content; without it, every input given is read with it

Sigma rules reach the mapped source by its name: `logsource: {product: myapp, service: audit}`
for `myapp.audit` (the name up to its first dot is the product, the rest the service), `{product:
myapp}` for a mapping named `myapp` (`detection.logsources.route`). A field without a column of
its own (deeper than the native columns go, or inside an array) is read from `raw` by path.

A path is split on dots, so keys that contain a dot cannot be mapped (they stay in `raw`), and
it does not go into arrays: `who.groups.name` over `"groups": [{"name": ...}]` finds nothing.
An empty string where a time, integer or boolean belongs counts as absent.
`raw`, `event_hash`, `raw_format`, `parser_version`, `source`, `dt` and `ingested_at` are set by
the lake and cannot be mapped. A record whose mapped values have the wrong type is quarantined
with the column and path in the reason; a broken mapping file raises `MappingError` naming the
file and what to change.

>>> spec = mapping_from_dict({"name": "myapp.audit", "fields": {"time": "ts", "action": "op"}})
>>> row = spec.normalize(Frame(b'{"ts": "2024-03-01T10:00:00Z", "op": "login", "n": 1}', "f:1"))
>>> row["action"], row["time"].isoformat(), row["n"], row["outcome"]
('login', '2024-03-01T10:00:00+00:00', '1', 'unknown')
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from auditlake.errors import AuditlakeError, RecordError, UnknownSourceError
from auditlake.schema import CANONICAL, OUTCOMES, is_canonical
from auditlake.sources import registry
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonArray,
    JsonObject,
    flatten_all,
    flatten_paths,
    get,
    ip_or_host,
    json_kind,
    load_json_object,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""A source name becomes a directory in the lake: lower-case, short, no path tricks."""

SECTIONS = ("name", "fields", "outcome_values", "native", "detect")
SET_BY_LAKE = frozenset({
    "raw", "event_hash", "raw_format", "parser_version", "source", "dt", "ingested_at",
})
MAPPABLE = tuple(c for c in CANONICAL if c not in SET_BY_LAKE)
NATIVE_DEPTH = 3
INTEGER = re.compile(r"-?[0-9]+")
"""ASCII digits only: `\\d` would also take other scripts' digits ("٣"), which `int()` reads."""

COLUMN_SYNONYMS: Mapping[str, str] = {
    "timestamp": "time", "ts": "time", "id": "event_uid",
    "user": "actor_name", "username": "actor_name", "user_name": "actor_name", "login": "actor_name",
    "user_id": "actor_id", "userid": "actor_id", "actor": "actor_id",
    "groups": "actor_roles", "roles": "actor_roles", "mfa": "auth_mfa",
    "ip": "src_ip", "client_ip": "src_ip", "source_ip": "src_ip", "ip_address": "src_ip",
    "hostname": "host", "useragent": "user_agent",
    "result": "outcome", "status": "outcome", "reason": "outcome_reason",
    "event": "action", "operation": "action", "resource": "target_id",
}
"""Names an application's own schema tends to use, for the hint on an unknown column: spelling
alone would send `user` nowhere and `username` to `user_agent`."""

Convert = Callable[[Any, str], Any]
"""(value at the path, description for reasons) → the column's Python value."""


class MappingError(AuditlakeError):
    """A generic-JSON mapping file is invalid; `where` is the file, `hint` says what to change."""


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """A checked mapping: what `normalize` and `detect` of the generic source run on."""

    name: str
    fields: tuple[tuple[str, str, Convert], ...]
    outcome_path: str | None
    outcome_values: Mapping[str, str]
    native_paths: tuple[str, ...] | None
    detect_paths: tuple[str, ...]

    def normalize(self, frame: Frame) -> Row:
        doc = load_json_object(frame.raw)
        row: Row = self._native_columns(doc)
        for column, path, convert in self.fields:
            row[column] = convert(get(doc, path), f"{column} field {path!r}")
        if "src_ip" in row:
            _address_or_host(row)
        row["outcome"] = self._outcome(doc)
        return row

    def detect(self, record: Mapping[str, Any]) -> bool:
        return all(get(record, path) is not None for path in self.detect_paths)

    def spec(self) -> SourceSpec:
        return SourceSpec(
            name=self.name,
            raw_format="json",
            frames=json_frames,
            normalize=self.normalize,
            detect=self.detect if self.detect_paths else None,
        )

    def _native_columns(self, doc: Any) -> Row:
        if self.native_paths is not None:
            return flatten_paths(doc, self.native_paths)
        return flatten_all(doc, max_depth=NATIVE_DEPTH)

    def _outcome(self, doc: Any) -> str:
        value = None if self.outcome_path is None else text(get(doc, self.outcome_path))
        if value is None:
            return "unknown"
        if value in self.outcome_values:
            return self.outcome_values[value]
        return value if value in OUTCOMES else "unknown"


def _address_or_host(row: Row) -> None:
    """`src_ip` holds addresses only, as every built-in source keeps it (`fields.ip_or_host`):
    a host or service name standing in for one (`localhost`, `AWS Internal`) goes to
    `src_host`, unless the record's own mapped host name is there already."""
    moved = ip_or_host(row.pop("src_ip"))
    row["src_ip"] = moved.get("src_ip")
    if row.get("src_host") is None and "src_host" in moved:
        row["src_host"] = moved["src_host"]


def load_mapping(path: Path) -> SourceSpec:
    """The source described by the TOML mapping file at `path`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read the mapping: {exc.strerror or exc}", where=str(path),
                           hint="pass the path of an existing TOML mapping file") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(f"mapping is not UTF-8 (byte {exc.start})", where=str(path),
                           hint="save the file as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping is not valid TOML: {exc}", where=str(path),
                           hint="fix the TOML syntax at the position shown") from exc
    return mapping_from_dict(data, where=str(path))


def mapping_from_dict(data: Mapping[str, Any], *, where: str = "<mapping>") -> SourceSpec:
    """The source described by an already-parsed mapping (the TOML file's content)."""
    return compile_mapping(data, where=where).spec()


def compile_mapping(data: Mapping[str, Any], *, where: str = "<mapping>") -> FieldMapping:
    """Check every part of a mapping and resolve each column's converter, once, up front."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise MappingError(f"unknown top-level key {unknown[0]!r}", where=where,
                           hint=f"a mapping has only: {', '.join(SECTIONS)}")
    name = _name(data.get("name"), where)
    fields = _fields(data.get("fields"), where)
    outcome_values = _outcome_values(data.get("outcome_values", {}), where)
    if outcome_values and "outcome" not in fields:  # the table would silently do nothing
        raise MappingError("[outcome_values] is given but [fields] maps no outcome", where=where,
                           hint='add outcome = "<path of the result>" under [fields]')
    return FieldMapping(
        name=name,
        fields=tuple((c, p, _converter(c)) for c, p in fields.items() if c != "outcome"),
        outcome_path=fields.get("outcome"),
        outcome_values=outcome_values,
        native_paths=_native_paths(data.get("native"), where),
        detect_paths=_detect_paths(data.get("detect"), where),
    )


def _name(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise MappingError("missing or non-text `name`", where=where,
                           hint='add a line like name = "myapp.audit"')
    if not SAFE_NAME.fullmatch(name) or ".." in name:
        raise MappingError(
            f"source name {name!r} is not a safe directory name", where=where,
            hint="use 1-64 of a-z 0-9 . _ -, starting with a letter or digit, no '..'",
        )
    _refuse_builtin_name(name, where)
    return name


def _refuse_builtin_name(name: str, where: str) -> None:
    """A built-in source's name or alias would put the application's events in that source's
    partition, where its rules run on them and its readers misread them."""
    try:
        builtin = registry.lookup(name).name
    except UnknownSourceError:
        return
    raise MappingError(f"source name {name!r} is the built-in source {builtin!r}", where=where,
                       hint='name the application\'s own log, e.g. name = "myapp.audit"')


def _fields(table: Any, where: str) -> dict[str, str]:
    """`[fields]`: known canonical columns onto valid paths, `time` first (its reason wins)."""
    if not isinstance(table, Mapping) or "time" not in table:
        raise MappingError("the mapping has no [fields] time", where=where,
                           hint='add [fields] with at least time = "<path of the timestamp>"')
    for column, path in table.items():
        if column in SET_BY_LAKE:
            raise MappingError(f"[fields] maps {column!r}, which the lake sets itself",
                               where=where, hint=f"remove {column} from [fields]")
        if column not in CANONICAL:
            raise MappingError(f"[fields] maps unknown column {column!r}", where=where,
                               hint=_column_hint(column))
        _check_path(path, f"[fields] {column}", where)
    return {"time": table["time"], **{c: p for c, p in table.items() if c != "time"}}


def _column_hint(column: str) -> str:
    """The column most likely meant: the same name in other case or with `-`, a usual synonym,
    else the closest spelling; when none is close, every column a mapping may name."""
    folded = column.strip().lower().replace("-", "_").replace(" ", "_")
    meant = folded if folded in MAPPABLE else COLUMN_SYNONYMS.get(folded)
    close = [meant] if meant else difflib.get_close_matches(folded, MAPPABLE, 1)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"use one of: {', '.join(MAPPABLE)}"


def _outcome_values(table: Any, where: str) -> dict[str, str]:
    """Native value as text → outcome. Keys are spelled as `text` spells the record's value
    (a mapping built in Python may key a status code by the number 403, or by True)."""
    if not isinstance(table, Mapping):
        raise MappingError("[outcome_values] is not a table", where=where,
                           hint='write it as a table: [outcome_values] then ok = "success"')
    for native, outcome in table.items():
        if outcome not in OUTCOMES:
            raise MappingError(f"[outcome_values] {native} = {outcome!r} is not an outcome",
                               where=where, hint=f"use one of: {', '.join(OUTCOMES)}")
    return {text(native) or "": outcome for native, outcome in table.items()}


def _native_paths(table: Any, where: str) -> tuple[str, ...] | None:
    if table is None:
        return None
    paths = table.get("paths") if isinstance(table, Mapping) else None
    if not isinstance(paths, list):
        raise MappingError("[native] needs paths = [...]", where=where,
                           hint='write paths = ["op", "who.name"], or drop [native] to keep all')
    for path in paths:
        _check_path(path, "[native] paths", where)
        if is_canonical(path):
            raise MappingError(f"[native] path {path!r} is a canonical column name", where=where,
                               hint="map it under [fields] instead; it stays reachable in raw")
    return tuple(paths)


def _detect_paths(table: Any, where: str) -> tuple[str, ...]:
    if table is None:
        return ()
    paths = table.get("require") if isinstance(table, Mapping) else None
    if not isinstance(paths, list) or not paths:
        raise MappingError("[detect] needs a non-empty require = [...]", where=where,
                           hint='write require = ["op", "who"], or drop [detect]')
    for path in paths:
        _check_path(path, "[detect] require", where)
    return tuple(paths)


def _check_path(path: Any, what: str, where: str) -> None:
    if not isinstance(path, str) or not path or not all(path.split(".")):
        raise MappingError(f"{what} has path {path!r}, not a dotted field path", where=where,
                           hint='write a path like "actor.id" (keys separated by single dots)')


def _converter(column: str) -> Convert:
    """The value converter of a canonical column, chosen by its Arrow type."""
    if column == "time":
        return _as_required_time
    dtype = CANONICAL[column].type
    for matches, make in CONVERTERS:
        if matches(dtype):
            return make(dtype)
    raise AssertionError(f"no converter for {column} ({dtype}); add a row to CONVERTERS")


def _as_text(value: Any, what: str) -> str | None:
    """Scalars as text; an object or array in a one-value column means the path is wrong."""
    if isinstance(value, JsonObject):
        raise RecordError(f"{what} is an object, expected a single value")
    if isinstance(value, JsonArray):
        raise RecordError(f"{what} is an array, expected a single value")
    return text(value)


def _as_json_text(value: Any, what: str) -> str | None:
    """`ext` holds JSON: an object or array is kept whole, as compact JSON text."""
    return text(value)


def _absent(value: Any) -> bool:
    """Null or an empty (blank) string: what a typed column reads as "not given", as the
    built-in sources read an empty field."""
    return value is None or (isinstance(value, str) and not value.strip())


def _as_required_time(value: Any, what: str) -> datetime:
    if isinstance(value, (*JsonObject, *JsonArray)):
        # named here: the parser's own type name differs between records (Object, dict)
        raise RecordError(f"{what} is {json_kind(value)}, expected a time")
    return parse_time(value, what=what)


def _as_time(value: Any, what: str) -> datetime | None:
    return None if _absent(value) else _as_required_time(value, what)


def _as_list(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, JsonObject):
        raise RecordError(f"{what} is an object, expected an array or a single value")
    items = value if isinstance(value, list) else [value]
    return [t for t in (text(v) for v in items) if t is not None]


def _as_bool(value: Any, what: str) -> bool | None:
    if _absent(value):
        return None
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in ("true", "false"):
        return word == "true"
    raise RecordError(f"{what} is {text(value)!r:.40}, expected true or false")


def _as_int(value: Any, what: str, *, bits: int) -> int | None:
    if _absent(value):
        return None
    if isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{what} is {text(value)!r:.40}, expected an integer")
    if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
        raise RecordError(f"{what} is {value}, outside the {bits}-bit range of the column")
    return value


CONVERTERS: tuple[tuple[Callable[[pa.DataType], bool], Callable[[pa.DataType], Convert]], ...] = (
    (pa.types.is_string, lambda _: _as_text),
    (pa.types.is_large_string, lambda _: _as_json_text),
    (pa.types.is_timestamp, lambda _: _as_time),
    (pa.types.is_list, lambda _: _as_list),
    (pa.types.is_boolean, lambda _: _as_bool),
    (pa.types.is_integer, lambda dtype: partial(_as_int, bits=dtype.bit_width)),
)
"""Arrow type test → converter factory; every mappable canonical column must match one row."""
