"""Windows event logs: `.evtx` files, their evtx_dump-style JSON exports, and the events
Winlogbeat or Elastic Agent ship (`winlogbeat`).

Both inputs carry the same structure, `{"Event": {"System": {...}, "EventData": {...}}}`, so one
normalizer serves both. Sigma's Windows rules test flat field names (`EventID`, `Channel`,
`Provider_Name`, `Image`, `CommandLine`, ...), so `System` and `EventData` (or `UserData`) are
flattened into native columns under those names. `EventID` is stored as int64 so a rule may
compare it with 4688 as well as '4688'. The same event read from an `.evtx` file and from its
JSON export gets the same `event_uid` (computer, channel, record id), so they dedupe.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import simdjson

from auditlake.errors import RecordError
from auditlake.schema import is_canonical
from auditlake.sources import windows_batch, winlogbeat
from auditlake.sources import windows_events as events
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.chunking import frame_chunks
from auditlake.sources.evtx_frames import evtx_frames, sniff
from auditlake.sources.fields import (
    JsonArray,
    JsonObject,
    json_kind,
    load_json_object,
    member,
    object_view,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.input_head import read_head
from auditlake.sources.timeparse import parse_time

NAME = "windows.eventlog"

SYSTEM_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    # (native column, System child, attribute of that child or None for its text)
    ("Provider_Name", "Provider", "Name"),
    ("Provider_Guid", "Provider", "Guid"),
    ("Provider_EventSourceName", "Provider", "EventSourceName"),
    ("Channel", "Channel", None),
    ("Computer", "Computer", None),
    ("EventRecordID", "EventRecordID", None),
    ("Version", "Version", None),
    ("Level", "Level", None),
    ("Task", "Task", None),
    ("Opcode", "Opcode", None),
    ("Keywords", "Keywords", None),
    ("TimeCreated", "TimeCreated", "SystemTime"),
    ("Security_UserID", "Security", "UserID"),
    ("ProcessID", "Execution", "ProcessID"),
    ("ThreadID", "Execution", "ThreadID"),
    ("Correlation_ActivityID", "Correlation", "ActivityID"),
    ("Correlation_RelatedActivityID", "Correlation", "RelatedActivityID"),
)
"""System fields under the names Sigma's Windows rules use (`Provider_Name`, `Channel`, ...)."""
MAX_EVENT_ID = 2**32 - 1
"""Event ids are 16 bits; with Qualifiers folded in, some exports write up to 32."""


def detect(record: Mapping[str, Any]) -> bool:
    """An `Event` object holding a `System` object, a bare `System` with an `EventID`, or a
    Winlogbeat event (`winlogbeat`)."""
    if winlogbeat.carries(record):
        return True
    event = record.get("Event")
    if isinstance(event, JsonObject):
        return isinstance(event.get("System"), JsonObject)
    system = record.get("System")
    return isinstance(system, JsonObject) and system.get("EventID") is not None


def frames(path: Path) -> WindowsFrames:
    """EVTX by its magic bytes, anything else as JSON; a `.evtx` name without the magic is
    reported once rather than read as lines of binary garbage. Read when first iterated."""
    return WindowsFrames(path)


class WindowsFrames(Iterator[Frame]):
    """The frames of one Windows input, one by one or (`chunks`) in chunks: JSON Lines are
    split in bulk, as `framing.JsonFrames` splits them, instead of a frame at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._frames: Iterator[Frame] | None = None

    def __next__(self) -> Frame:
        if self._frames is None:
            self._frames = self._framed()
        return next(self._frames)

    def chunks(self, size: int) -> Iterator[Sequence[Frame]]:
        """The same frames, in order, in chunks of `size`."""
        return frame_chunks(self._framed(), size)

    def _framed(self) -> Iterator[Frame]:
        head = read_head(self.path, len(b"ElfFile\x00"))
        if sniff(head):
            return evtx_frames(self.path)
        if self.path.suffix.lower() == ".evtx":
            reason = f"not an EVTX file: starts with {head!r} instead of b'ElfFile\\x00'"
            return iter([Frame(head, f"{self.path.name}:header", error=reason)])
        return json_frames(self.path)


def normalize(frame: Frame) -> Row:
    """One event as a row: flat System and EventData natives, then the canonical columns.

    System fields win over an EventData field of the same name, and no native field may take a
    canonical column's name (it stays reachable in `raw`).

    >>> raw = (b'{"Event": {"System": {"EventID": 4688, "Channel": "Security", "Computer": "h1",'
    ...        b' "EventRecordID": 9, "TimeCreated": {"#attributes": {"SystemTime":'
    ...        b' "2024-01-01T00:00:00.1234567Z"}}}, "EventData": {"NewProcessName": "cmd.exe"}}}')
    >>> row = normalize(Frame(raw, "f:1"))
    >>> row["EventID"], row["NewProcessName"], row["event_uid"], row["action"]
    (4688, 'cmd.exe', 'h1|Security|9', 'Security:4688')
    >>> row["time"].isoformat()
    '2024-01-01T00:00:00.123456+00:00'
    """
    # Read through dicts of their keys: `UserData` and most `<element>_attributes` are absent,
    # and a missing key costs simdjson an exception (see `fields.SCANNED_KEYS`).
    doc = object_view(load_json_object(frame.raw))  # its top-level keys once: Event, or winlog
    event = object_view(_event(winlogbeat.as_event(doc) if winlogbeat.carries(doc) else doc))
    system = object_view(_object(event.get("System"), "Event.System", required=True))
    event_id = _event_id(system.get("EventID"))
    row: Row = system_fields(system)
    row.update((k, v) for k, v in event_data_fields(event).items() if k not in row)
    row["EventID"] = event_id
    time_created = row.get("TimeCreated")
    row["time"] = parse_time(time_created, what="System.TimeCreated.SystemTime")
    row.update(_identity(row))
    row.update(events.canonical(row.get("Provider_Name"), event_id, row))
    return row


def _event(doc: Any) -> Any:
    """The `Event` element, or the record itself when it is a bare event."""
    event = doc.get("Event")
    if event is None:
        return doc
    return _object(event, "Event", required=True)


def _object(value: Any, what: str, *, required: bool = False) -> Any:
    if value is None and not required:
        return None
    if not isinstance(value, JsonObject):
        kind = "missing" if value is None else json_kind(value)
        raise RecordError(f"{what} is {kind}, not an object")
    return value


def _event_id(value: Any) -> int:
    """`EventID` as an int: a number, a digit string or `{"#text": 4688, "#attributes": ...}`."""
    if isinstance(value, JsonObject):
        value = value.get("#text")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdecimal():
        value = int(value.strip())
    if value is None:
        raise RecordError("missing System.EventID")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"System.EventID {text(value)!r:.80} is not an integer")
    if not 0 <= value <= MAX_EVENT_ID:
        raise RecordError(f"System.EventID {value} is outside 0..{MAX_EVENT_ID}")
    return value


def _identity(row: Row) -> Row:
    """`event_uid` from computer, channel and record id (shared by EVTX and its JSON export)."""
    computer, channel, record_id = row.get("Computer"), row.get("Channel"), row.get("EventRecordID")
    uid = f"{computer}|{channel}|{record_id}" if computer and channel and record_id else None
    return {"event_uid": uid, "host": computer, "source_tenant": _domain(computer)}


def _domain(computer: str | None) -> str | None:
    """The DNS domain of a fully qualified computer name: `ws1.corp.example` → `corp.example`."""
    if not computer or "." not in computer.strip("."):
        return None
    host, _, domain = computer.strip(".").partition(".")
    if host.isdigit():
        return None  # an IPv4 address, not a name
    return domain.lower() or None


def system_fields(system: Any) -> Row:
    """The `System` element as flat native columns (text), absent fields left out.

    An attribute is read in any of the JSON spellings of XML attributes, the first found:
    evtx_dump's `{"#attributes": {...}}`, xmltodict's `@name`, or `<element>_attributes`.
    """
    out: Row = {}
    for element, fields in _SYSTEM_ELEMENTS:
        node = system.get(element)
        if isinstance(node, simdjson.Object):
            node = object_view(node)  # read once for all of its attributes
        attributes = _attributes(node)
        for column, attribute in fields:
            if attribute is None:
                value = _element_text(node)
            else:
                value = attributes.get(attribute) if attributes is not None else None
                if value is None and isinstance(node, JsonObject):
                    value = node.get(f"@{attribute}")
                if value is None:
                    value = member(system.get(f"{element}_attributes"), attribute)
            rendered = text(value)
            if rendered is not None:
                out[column] = rendered
    return out


def _attributes(node: Any) -> dict[str, Any] | None:
    """evtx_dump's `{"#attributes": {...}}` of an element, as a dict (None without one)."""
    attributes = member(node, "#attributes")
    return object_view(attributes) if isinstance(attributes, JsonObject) else None


_SYSTEM_ELEMENTS: tuple[tuple[str, tuple[tuple[str, str | None], ...]], ...] = tuple(
    (element, tuple((c, a) for c, e, a in SYSTEM_FIELDS if e == element))
    for element in dict.fromkeys(e for _, e, _ in SYSTEM_FIELDS)
)
"""`SYSTEM_FIELDS` by System child: (child, ((column, attribute or None), ...))."""


def _element_text(value: Any) -> Any:
    """An element's value: itself, or its `#text` when it also carries attributes."""
    return value.get("#text") if isinstance(value, JsonObject) else value


def _own_attribute(node: Any, name: str) -> Any:
    value = member(member(node, "#attributes"), name)
    return value if value is not None else member(node, f"@{name}")


def event_data_fields(event: Any) -> dict[str, str]:
    """`EventData` children, or the children of `UserData`'s inner element, by their names.

    Values that are objects or arrays stay JSON text; a `Data` list of named entries
    (`{"#attributes": {"Name": "Image"}, "#text": "..."}`) is spread into one field per name.
    """
    out: dict[str, str] = {}
    data = _object(event.get("EventData"), "Event.EventData")
    if data is not None:
        _put_children(data, out)
    user_data = _object(event.get("UserData"), "Event.UserData")
    for key, inner in user_data.items() if user_data is not None else ():
        if isinstance(inner, JsonObject):
            _put_children(inner, out)
        elif key != "#attributes":
            _put(out, key, inner)
    return out


def _put_children(element: Any, out: dict[str, str]) -> None:
    for key, value in element.items():
        if key == "#attributes":
            continue  # e.g. TaskScheduler's <EventData Name="TaskDisabled">; kept in raw
        entries = _named_entries(value) if key == "Data" else None
        if entries is None:
            _put(out, key, value)
            continue
        for name, entry_value in entries:
            _put(out, name, entry_value)


def _named_entries(value: Any) -> list[tuple[str, Any]] | None:
    """`Data` as named entries, or None when any entry lacks a name (kept whole as `Data`)."""
    items: Any = value if isinstance(value, JsonArray) else (value,)
    entries: list[tuple[str, Any]] = []
    for item in items:
        name = _own_attribute(item, "Name") if isinstance(item, JsonObject) else None
        if not isinstance(name, str) or not name:
            return None
        entry_value = item.get("#text")
        entries.append((name, "" if entry_value is None else entry_value))  # <Data Name="x"/>
    return entries


def _put(out: dict[str, str], name: str, value: Any) -> None:
    """Store a field as text, never under a canonical name, and also without its spaces."""
    rendered = text(value)
    if rendered is None or is_canonical(name):
        return
    out[name] = rendered
    compact = name.replace(" ", "")
    if compact != name and not is_canonical(compact):
        out.setdefault(compact, rendered)


SPEC = SourceSpec(
    name=NAME,
    reads='.evtx files, evtx_dump JSON, Winlogbeat and Elastic Agent documents',
    raw_format="evtx-json",
    frames=frames,
    normalize=normalize,
    detect=detect,
    sniff=sniff,
    aliases=("windows", "evtx"),
    native_types={"EventID": pa.int64()},
    batch=windows_batch.batch,
)
