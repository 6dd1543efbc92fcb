"""Windows events' batch path: `windows.normalize` as Polars expressions over a chunk.

The per-record path spends about 85 µs of Python an event. This one reads, in one DuckDB pass
over a chunk (`json_paths.read_kinds`), the `System` fields as text, the JSON types
`normalize` checks and the keys of each `EventData`; in a second (`json_paths.read_paths`),
every `EventData` key of the chunk as text. What `windows_events.canonical` makes of an
event's provider, id, channel, keywords and status (its action, class and outcome, which
accounts it tries for the actor, which fields name its target) comes from that function
itself, once per distinct combination (`batch_exprs.per_distinct`); the actor, session,
target, addresses and status are then read from their fields as `windows_events.value` reads
them. On every row it keeps, the result equals `normalize` + `complete_row`; declined rows go
to `normalize`. It reads evtx_dump's spelling (the one `.evtx` files are read in too) and
declines:

- a record without an `Event` object holding a `System` object; an `EventData` that is neither
  an object nor null; a `UserData`;
- another spelling of XML attributes (`"@Name"`, `"<element>_attributes"`), or a character
  of ASCII written as a `\\u` escape anywhere in the record (it could spell one);
- a `System` element other than `EventID` whose value is an object (read for its `#text`);
- an `EventID` other than an integer of 0..2^32-1 written as a number or as decimal digits,
  itself or as the `#text` of its object;
- an `EventData` key not of `KEYS` (a `Data` list of named entries among them), a key
  repeated, two keys with the same name without spaces, or a key spelled like a more common
  key of the chunk but for case (DuckDB takes the keys of a structure without regard to case);
- a `TimeCreated` not of the `batch_exprs.TIME_TEXT` forms within 1970..2200;
- a float or an escaped control character anywhere in the record, which DuckDB spells its
  own way in the JSON texts of the native columns (`json_paths`).

>>> frame = Frame(b'{"Event": {"System": {"Provider": {"#attributes": {"Name": '
...               b'"Microsoft-Windows-Sysmon"}}, "EventID": 1, "Channel": "Sysmon", "Computer": '
...               b'"ws1.corp.example", "EventRecordID": 7, "TimeCreated": {"#attributes": '
...               b'{"SystemTime": "2024-01-01T00:00:00.1234567Z"}}}, "EventData": {"Image": '
...               b'"C:\\\\\\\\Windows\\\\\\\\cmd.exe", "ProcessGuid": "{G1}", "User": "CORP\\\\\\\\ann"}}}', "f:1")
>>> result = batch([frame, Frame(b'{"System": {"EventID": 1}}', "f:2")])
>>> row = result.table.select(["event_uid", "action", "actor_name", "target_name", "EventID"]).to_pylist()[0]
>>> row["event_uid"], row["action"], row["actor_name"], row["target_name"], row["EventID"]
('ws1.corp.example|Sysmon|7', 'process creation', 'CORP\\\\ann', 'C:\\\\Windows\\\\cmd.exe', 1)
>>> result.declined
[1]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from auditlake.schema import is_canonical
from auditlake.sources import windows_events as events
from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.batch_exprs import (
    HEX_FLOAT_TOKENS,
    per_distinct,
    respelled,
    time_from_text,
    truthy,
)
from auditlake.sources.json_paths import KEYS_OF, read_paths
from auditlake.sources.ndjson_batch import KIND, declined_all, decode_typed, finish

EVENT = ("Event",)
SYSTEM = ("Event", "System")
DATA = ("Event", "EventData")
ATTRIBUTES = "#attributes"
EVENT_ID = "Event.System.EventID"
EVENT_ID_TEXT = ("Event", "System", "EventID", "#text")
MAX_EVENT_ID = 2**32 - 1
"""As `windows.MAX_EVENT_ID`."""
KEYS = r"^[A-Za-z0-9_][A-Za-z0-9_ -]*$"
"""`EventData` keys read as native columns here (others decline the event)."""
DATA_LIST = "Data"
"""The `EventData` key of a list of named entries, which `normalize` spreads (declined here)."""
OTHER_SPELLINGS = r'"@|_attributes"|\\u00[0-7]'
"""Text of a record that may spell an XML attribute as `normalize` reads it besides
`#attributes`, or escape an ASCII character of a key."""
PYTHON_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""The characters `str.strip` removes (`str.isspace`; a test recomputes the set)."""
_DATA = "data:"
"""Prefix of the work frame's columns holding `EventData` members."""
_KEYS = "_keys"
_EVENT_ID = "_event_id"
_NATIVE = "native:"
"""Prefix of the work frame's columns holding the native columns as `normalize` fills them."""


@dataclass(frozen=True)
class _Layout:
    """Where `normalize` reads each `System` field, in evtx_dump's spelling."""

    texts: tuple[tuple[str, str], ...]
    """(native column, path) of the fields that are an element's own value."""
    attributes: tuple[tuple[str, str], ...]
    """(native column, path) of the fields that are an attribute of an element."""

    @property
    def members(self) -> list[tuple[str, ...]]:
        """Every field read, as key paths: the `System` fields and `EventID`'s `#text`."""
        paths = [EVENT_ID, *(p for _, p in self.texts), *(p for _, p in self.attributes)]
        return [*(tuple(p.split(".")) for p in paths), EVENT_ID_TEXT]

    @property
    def typed(self) -> list[str]:
        whole = [".".join(EVENT), ".".join(SYSTEM), ".".join(DATA), "Event.UserData"]
        return [*whole, EVENT_ID, ".".join(EVENT_ID_TEXT), *(p for _, p in self.texts)]


@cache
def _layout(system_fields: tuple[tuple[str, str, str | None], ...]) -> _Layout:
    system = ".".join(SYSTEM)
    texts = tuple((c, f"{system}.{e}") for c, e, a in system_fields if a is None)
    attributes = tuple((c, f"{system}.{e}.{ATTRIBUTES}.{a}") for c, e, a in system_fields if a is not None)
    return _Layout(texts, attributes)


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import windows  # windows imports this module for its SPEC

    spec = windows.SPEC
    layout = _layout(windows.SYSTEM_FIELDS)
    # One parse reads the System fields (as members: `EventID` and `EventID.#text` are both
    # read), the JSON types and the keys of `EventData`; a second the members of `EventData`.
    decoded = decode_typed(frames, [], spec, layout.typed, layout.members, keys_of=DATA)
    if decoded is None:  # DuckDB took the records for their texts only
        return declined_all(spec, frames)
    work = decoded.work.rename({KEYS_OF + ".".join(DATA): _KEYS})
    chosen = _chosen_keys(work.get_column(_KEYS))
    if chosen:
        paths = [".".join((*DATA, key)) for key in chosen]
        texts, refused = read_paths(decoded.base["raw"], paths)
        if refused:  # DuckDB took these records for the System fields, not for all of theirs
            return declined_all(spec, frames)
        work = pl.concat([work, texts.rename(dict(zip(paths, (_DATA + k for k in chosen), strict=True)))],
                         how="horizontal")
    natives = work.select(**_natives(layout, chosen), EventID=_event_id())
    work = work.with_columns(
        natives.get_column("EventID").alias(_EVENT_ID),
        natives.select(time_from_text(pl.col("TimeCreated")).alias("_time")).to_series(),
        per_distinct(work.get_column(_KEYS), _plain_keys(frozenset(chosen)), pl.Boolean()).alias("_plain_keys"),
    )
    keep = ~work.select(_declined(layout)).to_series()
    if not keep.all():  # a chunk's hundreds of columns are copied only when some row goes
        natives = natives.filter(keep)
    kept = pl.concat([work.select("_time").filter(keep), natives.select(pl.all().name.prefix(_NATIVE))],
                     how="horizontal")
    present = natives.columns
    kinds = per_distinct(kept.select(pl.struct(_native(n, present) for n in KIND_FIELDS)).to_series(), _kind_of,
                         _KIND_TYPE)
    # With a column beside it: a select of literals alone (no such field in the chunk) is one row.
    address = kept.select(_value(["IpAddress", "SourceIp", "SourceAddress"], present), pl.col("_time")).to_series()
    kept = kept.with_columns(
        kinds.alias(_KIND),
        per_distinct(natives.get_column("Computer"), windows._domain, pl.String()).alias("_tenant"),
        per_distinct(address, events.ip_or_none, pl.String()).alias("_src_ip"),
        per_distinct(kept.select(pl.struct(
            failure=_value(["FailureReason"], present), sub_status=_value(["SubStatus"], present),
            status=_value(["Status"], present), row=pl.col("_time").is_null(),  # a column: one value a row
        )).to_series(), _failure_reason, pl.String()).alias("_reason"),
    )
    canonical = kept.select(**_canonical(kinds.unique(), present))
    canonical = canonical.with_columns(actor_type=per_distinct(
        canonical.select(pl.struct("actor_id", "actor_name")).to_series(), _actor_type, pl.String()))
    return finish(spec, frames, decoded, keep, canonical=canonical, natives=natives)


def _failure_reason(fields: Mapping[str, str | None]) -> str | None:
    return events.failure_reason(fields["failure"], fields["sub_status"], fields["status"])


def _actor_type(actor: Mapping[str, str | None]) -> str:
    return events.actor_type(actor["actor_id"], actor["actor_name"])


def _chosen_keys(keys: pl.Series) -> list[str]:
    """The `EventData` keys of the chunk read as columns: those of `KEYS`, and of those spelled
    alike but for case the one most events hold (events holding another decline)."""
    counts = keys.explode().drop_nulls().value_counts(name="events").sort(["events", keys.name], descending=[True, False])
    chosen: dict[str, str] = {}
    for key in counts.get_column(keys.name).to_list():
        if re.match(KEYS, key) and key != DATA_LIST:
            chosen.setdefault(key.lower(), key)
    return sorted(chosen.values())


def _plain_keys(chosen: frozenset[str]) -> Callable[[list[str] | None], bool]:
    """Whether an event's `EventData` keys are all read here, none repeated, and no two the
    same without spaces (`windows._put` would keep one of them, by their order)."""

    def plain(keys: list[str] | None) -> bool:
        if keys is None:
            return True
        names = [k for k in keys if k != ATTRIBUTES]
        compact = {k.replace(" ", "") for k in names}
        return len(set(keys)) == len(keys) and len(compact) == len(names) and all(k in chosen for k in names)

    return plain


def _natives(layout: _Layout, chosen: Sequence[str]) -> dict[str, pl.Expr]:
    """The native columns as `normalize` fills them: a `System` field wins over an `EventData`
    member of the same name, and a member is also kept under its name without spaces."""
    sources: dict[str, list[pl.Expr]] = {}
    for column, path in (*layout.texts, *layout.attributes):
        sources.setdefault(column, []).append(pl.col(path))
    for key in chosen:
        if key == "EventID" or is_canonical(key):
            continue
        value = pl.col(_DATA + key)
        sources.setdefault(key, []).append(value)
        compact = key.replace(" ", "")
        if compact not in (key, "EventID") and not is_canonical(compact):
            sources.setdefault(compact, []).append(value)
    return {name: pl.coalesce(values) if len(values) > 1 else values[0] for name, values in sources.items()}


def _event_id() -> pl.Expr:
    """`windows._event_id` where it takes the value: a number or decimal digits, itself or as
    the `#text` of its object, within 0..`MAX_EVENT_ID`; null elsewhere (declined)."""
    whole = pl.col(KIND + EVENT_ID) == "OBJECT"
    member = ".".join(EVENT_ID_TEXT)
    kind = pl.when(whole).then(pl.col(KIND + member)).otherwise(pl.col(KIND + EVENT_ID))
    text = pl.when(whole).then(pl.col(member)).otherwise(pl.col(EVENT_ID))
    digits = kind.is_in(["UBIGINT", "BIGINT"]) | ((kind == "VARCHAR") & text.str.contains("^[0-9]+$"))
    number = pl.when(digits).then(text.cast(pl.Int64, strict=False))
    return pl.when((number >= 0) & (number <= MAX_EVENT_ID)).then(number)


def _declined(layout: _Layout) -> pl.Expr:
    """Rows `normalize` may reject or read differently (module docstring)."""

    def kind(keys: Sequence[str]) -> pl.Expr:
        return pl.col(KIND + ".".join(keys))

    absent = ["NULL"]
    vouched = (
        (kind(EVENT) == "OBJECT")
        & (kind(SYSTEM) == "OBJECT")
        & kind(DATA).is_in(["OBJECT", *absent]).fill_null(True)
        & kind(("Event", "UserData")).is_in(absent).fill_null(True)
        & ~pl.any_horizontal(pl.col(KIND + path) == "OBJECT" for _, path in layout.texts).fill_null(False)
        & pl.col(_EVENT_ID).is_not_null()
        & pl.col("_time").is_not_null()
        & pl.col("_plain_keys")
        & ~pl.col("raw").str.contains(OTHER_SPELLINGS)
        & ~respelled(pl.col("raw"), HEX_FLOAT_TOKENS)
    )
    return ~vouched.fill_null(False)


KIND_FIELDS = ("Provider_Name", "EventID", "Channel", "Keywords", "Status")
"""The fields that decide what `windows_events.canonical` makes of an event's action, class
and outcome, and where it looks for its actor and target (`_kind_of`)."""
_KIND = "_kind"
_KIND_TYPE = pl.Struct({
    "action": pl.String, "class_uid": pl.Int32, "activity_id": pl.Int16, "category": pl.String,
    "outcome": pl.String, "target_type": pl.String, "actors": pl.String, "targets": pl.String,
})
_SEP, _GROUP_SEP = ",", "|"


def _kind_of(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What `windows_events.canonical` makes of an event from its `KIND_FIELDS` alone (these
    columns read no other field), with the `ACTORS` it tries in order and the fields naming
    and identifying its target, each list joined by `_SEP`, the two by `_GROUP_SEP`."""
    row = {name: value for name, value in fields.items() if value is not None and name != "EventID"}
    provider, event_id = row.get("Provider_Name"), fields["EventID"]
    out = events.canonical(provider, event_id, row)
    kind = events.KINDS.get(((provider or "").lower(), event_id))
    target = events.target_fields(kind)
    described = {name: out.get(name) for name in _KIND_TYPE.to_schema() if name in out}
    described["actors"] = _SEP.join(events.actor_order(kind))
    described["targets"] = None if target is None else _GROUP_SEP.join(map(_SEP.join, target[1:]))
    return described


def _native(name: str, present: Sequence[str] = ()) -> pl.Expr:
    """A native column of the work frame under its own name (null when the chunk lacks it
    and `present` names the columns it has)."""
    if present and name not in present:
        return pl.lit(None, pl.String).alias(name)
    return pl.col(_NATIVE + name).alias(name)


def _real(name: str, present: Sequence[str]) -> pl.Expr:
    """The field where `windows_events.value` takes it (not a placeholder once stripped)."""
    value = _native(name, present)
    return pl.when(~value.str.contains(_PLACEHOLDER)).then(value)


def _placeholder_pattern() -> str:
    space = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_SPACE) + "]*"
    words = sorted(p for p in events.PLACEHOLDERS if p)
    return f"^{space}(?:{'|'.join(words)})?{space}$"


_PLACEHOLDER = _placeholder_pattern()
"""Texts `windows_events.value` passes over: a placeholder between any whitespace."""


def _value(names: Sequence[str], present: Sequence[str]) -> pl.Expr:
    """`windows_events.value`: the first of the fields that holds a real value."""
    return pl.coalesce(_real(name, present) for name in names)


def _by(key: pl.Expr, choices: Mapping[str | None, pl.Expr]) -> pl.Expr:
    """The expression `choices` gives for each row's `key` (null for a key it lacks)."""
    out: pl.Expr = pl.lit(None)
    for choice, expr in choices.items():
        if choice is not None:
            out = pl.when(key == choice).then(expr).otherwise(out)
    return out


def _actor(order: str, present: Sequence[str]) -> dict[str, pl.Expr]:
    """`windows_events._actor` for the events trying `ACTORS` in `order`."""
    nothing = pl.lit(None, pl.String)
    actor_id, actor_name, session = nothing, nothing, nothing
    for role in reversed(order.split(_SEP)):
        sid_fields, name_field, logon_field = events.ACTORS[role]
        sid = _value(sid_fields, present) if sid_fields else nothing
        name = _value([name_field], present) if name_field else nothing
        named = sid.is_not_null() | name.is_not_null()
        actor_id = pl.when(named).then(sid).otherwise(actor_id)
        actor_name = pl.when(named).then(name).otherwise(actor_name)
        session = pl.when(named).then(_value([logon_field], present) if logon_field else nothing).otherwise(session)
    return {"actor_id": actor_id, "actor_name": actor_name, "session_id": session}


def _target(targets: str, present: Sequence[str]) -> dict[str, pl.Expr]:
    names, ids = (part.split(_SEP) for part in targets.split(_GROUP_SEP))
    return {"target_name": _value(names, present), "target_id": _value(ids, present)}


def _canonical(kinds: pl.Series, present: Sequence[str]) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions; `kinds` are
    the chunk's distinct `_kind_of`."""
    kind = pl.col(_KIND)
    computer, channel, record = (_native(n, present) for n in ("Computer", "Channel", "EventRecordID"))
    identified = truthy(computer) & truthy(channel) & truthy(record)
    orders = {o: _actor(o, present) for o in kinds.struct.field("actors").unique().drop_nulls().to_list()}
    targets = {t: _target(t, present) for t in kinds.struct.field("targets").unique().drop_nulls().to_list()}
    level = _native("Level", present)
    return {
        # Without all three, from the record's content (`finish`).
        "event_uid": pl.when(identified).then(pl.concat_str(computer, channel, record, separator="|")),
        "time": pl.col("_time"),
        "host": computer,
        "source_tenant": pl.col("_tenant"),
        **{name: kind.struct.field(name) for name in ("action", "class_uid", "activity_id", "category", "outcome")},
        "status_code": _value(["Status"], present),
        "outcome_reason": pl.col("_reason"),
        "severity_id": level.replace_strict(events.LEVEL_SEVERITY, default=None, return_dtype=pl.Int8),
        "src_ip": pl.col("_src_ip"),
        "src_host": _value(["WorkstationName", "Workstation", "SourceHostname"], present),
        **{column: _by(kind.struct.field("actors"), {o: exprs[column] for o, exprs in orders.items()})
           for column in ("actor_id", "actor_name", "session_id")},
        "target_type": kind.struct.field("target_type"),
        **{column: _by(kind.struct.field("targets"), {t: exprs[column] for t, exprs in targets.items()})
           for column in ("target_name", "target_id")},
    }
