"""Windows events as Winlogbeat and Elastic Agent ship them (Elastic Common Schema), put in the
shape of an evtx_dump record so that `windows.normalize` reads them as it reads `.evtx` events.

Most Windows events leave their hosts through an agent rather than as `.evtx` files. Winlogbeat
writes one JSON object per event: the event's own fields under `winlog` (`channel`, `event_id`,
`provider_name`, `record_id`, `computer_name`, `event_data` with the EventData names Sigma's
rules test, `user_data`), its time in `@timestamp`, and ECS fields beside them. Only `winlog`
and the time are read; `raw` keeps the whole object. The same event read from its `.evtx` file
gets the same `event_uid` (computer, channel, record id), so the two dedupe.

Winlogbeat names what `.evtx` numbers: its `keywords` (`Audit Success`, `Audit Failure`) become
the audit bits the outcome is read from, and `log.level` the level number; `task` and `opcode`
names are left in `raw`, as they cannot be numbered back. Its times are milliseconds.

>>> doc = {"@timestamp": "2024-05-01T10:00:00.123Z", "winlog": {"channel": "Security",
...        "event_id": "4625", "provider_name": "Microsoft-Windows-Security-Auditing",
...        "record_id": 1002, "computer_name": "ws01.corp.example.com",
...        "keywords": ["Audit Failure"], "event_data": {"TargetUserName": "alice"}}}
>>> event = as_event(doc)
>>> event["System"]["EventID"], event["System"]["Keywords"], event["EventData"]
('4625', '0x8010000000000000', {'TargetUserName': 'alice'})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditlake.sources.fields import JsonArray, JsonObject, member, object_view, text

KEYWORD_BITS = {"Audit Success": 0x8020000000000000, "Audit Failure": 0x8010000000000000}
"""Keyword names Winlogbeat writes, back to the bits `.evtx` stores (the audit outcome)."""
LEVELS = {"critical": "1", "error": "2", "warning": "3", "information": "4", "verbose": "5"}


def carries(record: Mapping[str, Any]) -> bool:
    """Whether `record` is a Winlogbeat event: a `winlog` object naming its channel."""
    winlog = member(record, "winlog")  # a key most records lack: see `fields.SCANNED_KEYS`
    return isinstance(winlog, JsonObject) and member(winlog, "channel") is not None


def as_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """The event as evtx_dump writes one: `System` with its attributes, `EventData`, and the
    inner element of `UserData`."""
    winlog = object_view(record["winlog"])
    process = winlog.get("process")
    system = {
        "Provider": _attributes(Name=winlog.get("provider_name") or member(record.get("event"), "provider"),
                                Guid=winlog.get("provider_guid")),
        "EventID": winlog.get("event_id") if winlog.get("event_id") is not None else member(record.get("event"), "code"),
        "Version": winlog.get("version"),
        "Level": LEVELS.get((text(member(record.get("log"), "level")) or "").lower()),
        "Keywords": _keywords(winlog.get("keywords")),
        "TimeCreated": _attributes(SystemTime=record.get("@timestamp")),
        "EventRecordID": winlog.get("record_id"),
        "Correlation": _attributes(ActivityID=winlog.get("activity_id"),
                                   RelatedActivityID=winlog.get("related_activity_id")),
        "Execution": _attributes(ProcessID=member(process, "pid"), ThreadID=member(member(process, "thread"), "id")),
        "Channel": winlog.get("channel"),
        "Computer": winlog.get("computer_name"),
        "Security": _attributes(UserID=member(winlog.get("user"), "identifier")),
    }
    event: dict[str, Any] = {"System": {k: v for k, v in system.items() if v is not None}}
    if winlog.get("event_data") is not None:
        event["EventData"] = winlog["event_data"]
    user_data = winlog.get("user_data")
    if isinstance(user_data, JsonObject):  # its fields, without Winlogbeat's name of the element
        event["UserData"] = {"Event": {k: v for k, v in object_view(user_data).items() if k != "xml_name"}}
    return event


def _attributes(**values: Any) -> dict[str, Any] | None:
    """An element with only XML attributes, as evtx_dump writes one (None when all are absent)."""
    present = {k: v for k, v in values.items() if v is not None}
    return {"#attributes": present} if present else None


def _keywords(names: Any) -> str | None:
    """The audit bits of Winlogbeat's keyword names, in the hex spelling of `.evtx` exports."""
    if not isinstance(names, JsonArray):
        return None
    bits = 0
    for name in names:
        bits |= KEYWORD_BITS.get(text(name) or "", 0)
    return f"0x{bits:016x}" if bits else None
