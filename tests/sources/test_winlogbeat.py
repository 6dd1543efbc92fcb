"""Windows events shipped by Winlogbeat read as the same events from evtx_dump JSON do: the
fields Sigma's rules test, the identity that dedupes them, and the canonical columns.

The Winlogbeat documents are made here from the evtx_dump records, the way Winlogbeat writes an
event (names for keywords and levels, milliseconds, ECS fields beside `winlog`), independently
of the module under test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.sources import windows
from auditlake.sources.base import Frame

DATA = Path(__file__).parent / "data" / "windows"
REGRESSION = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sigmahq" / "regression_data"
SYSTEM_NATIVES = ("EventID", "Channel", "Provider_Name", "Provider_Guid", "Computer", "EventRecordID", "Version",
                  "ProcessID", "ThreadID", "Security_UserID")
CANONICAL = ("event_uid", "host", "source_tenant", "action", "class_uid", "activity_id", "category", "outcome",
             "status_code", "outcome_reason", "src_ip", "src_host", "actor_id", "actor_name", "actor_type",
             "target_type", "target_id", "target_name")
NOT_COMPARED = {"raw", "event_hash", "raw_format", "TimeCreated", "time", "Keywords", "Level", "Task", "Opcode",
                "severity_id", "Correlation_ActivityID", "Correlation_RelatedActivityID"}


def _attribute(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        return (node.get("#attributes") or {}).get(name, node.get(f"@{name}"))
    return None


def _text(node: Any) -> Any:
    return node.get("#text") if isinstance(node, dict) else node


def _event_data(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("EventData") or {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "#attributes":
            continue
        entries = value if key == "Data" and isinstance(value, list) else [value] if key == "Data" else None
        if entries and all(isinstance(e, dict) and _attribute(e, "Name") for e in entries):
            out.update({_attribute(e, "Name"): "" if _text(e) is None else str(_text(e)) for e in entries})
        else:
            out[key] = value if isinstance(value, str) or value is None else json.dumps(value) if isinstance(
                value, dict | list) else str(value)
    return out


def winlogbeat(record: dict[str, Any]) -> dict[str, Any]:
    """How Winlogbeat 8 ships the event evtx_dump wrote as `record`."""
    event = record.get("Event", record)
    system = event["System"]
    when = datetime.fromisoformat(_attribute(system["TimeCreated"], "SystemTime")[:26].rstrip("Z"))
    keywords = int(str(system.get("Keywords") or "0"), 0)
    names = [n for bit, n in ((0x0020000000000000, "Audit Success"), (0x0010000000000000, "Audit Failure"))
             if keywords & bit]
    winlog: dict[str, Any] = {
        "channel": system["Channel"], "event_id": str(_text(system["EventID"])),
        "provider_name": _attribute(system["Provider"], "Name"), "record_id": str(system["EventRecordID"]),
        "computer_name": system["Computer"], "task": "Process Creation", "opcode": "Info", "api": "wineventlog",
        "keywords": names or None, "event_data": _event_data(event) or None,
    }
    for element, fields in (event.get("UserData") or {}).items():  # Winlogbeat names the inner element
        if isinstance(fields, dict):
            winlog["user_data"] = {"xml_name": element, **{k: v for k, v in fields.items() if k != "#attributes"}}
    optional = {"provider_guid": _attribute(system["Provider"], "Guid"), "version": system.get("Version")}
    winlog.update({k: v for k, v in optional.items() if v is not None})
    pid, tid = _attribute(system.get("Execution"), "ProcessID"), _attribute(system.get("Execution"), "ThreadID")
    if pid is not None:
        winlog["process"] = {"pid": int(pid), **({"thread": {"id": int(tid)}} if tid is not None else {})}
    if _attribute(system.get("Security"), "UserID"):
        winlog["user"] = {"identifier": _attribute(system["Security"], "UserID"), "type": "User"}
    return {
        "@timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
        "event": {"code": winlog["event_id"], "kind": "event", "provider": winlog["provider_name"]},
        "host": {"name": system["Computer"].split(".")[0].lower()},
        "log": {"level": "information"},
        "winlog": {k: v for k, v in winlog.items() if v is not None},
        "ecs": {"version": "8.0.0"}, "agent": {"type": "winlogbeat", "version": "8.13.0"},
        "message": "An event was logged.",
    }


def _records(path: Path) -> Iterator[dict[str, Any]]:
    for frame in windows.frames(path):
        yield json.loads(frame.raw)


def _compared(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in NOT_COMPARED}


def test_every_regression_event_reads_alike_from_winlogbeat() -> None:
    cases = sorted(p.parent for p in REGRESSION.rglob("info.yml") if any(p.parent.glob("*.evtx")))
    assert len(cases) == 202
    offenders = []
    for case in cases:
        (json_path,) = case.glob("*.json")
        for record in _records(json_path):
            expected = windows.normalize(Frame(json.dumps(record).encode(), "x:1"))
            shipped = winlogbeat(record)
            assert windows.detect(shipped)
            got = windows.normalize(Frame(json.dumps(shipped).encode(), "y:1"))
            if _compared(got) != _compared(expected):
                diff = {k for k in _compared(got).keys() | _compared(expected).keys()
                        if _compared(got).get(k) != _compared(expected).get(k)}
                offenders.append(f"{case.name}: {sorted(diff)}")
            if got["time"].replace(microsecond=0) != expected["time"].replace(microsecond=0):
                offenders.append(f"{case.name}: time {got['time']} against {expected['time']}")
    assert not offenders, "\n".join(offenders[:20])


@pytest.mark.parametrize("name", ["security.jsonl", "sysmon_concatenated.json"])
def test_a_winlogbeat_file_lands_as_its_evtx_export_does(tmp_path: Path, name: str) -> None:
    shipped = tmp_path / "winlogbeat.ndjson"
    shipped.write_text("".join(json.dumps(winlogbeat(r)) + "\n" for r in _records(DATA / name)))
    lakes = {kind: LakePaths.at(tmp_path / kind) for kind in ("export", "shipped")}
    for kind, path in (("export", DATA / name), ("shipped", shipped)):
        summary = ingest([path], lakes[kind], workers=1)
        assert summary.errors == [] and not summary.quarantined and summary.added > 0
    rows = {kind: scan_events(lake).collect().sort("event_uid") for kind, lake in lakes.items()}
    columns = [c for c in (*SYSTEM_NATIVES, *CANONICAL) if c in rows["export"].columns]
    assert rows["shipped"].select(columns).equals(rows["export"].select(columns))
    assert rows["shipped"]["outcome"].to_list() == rows["export"]["outcome"].to_list()

    both = LakePaths.at(tmp_path / "both")  # the same events by either road are one event each
    ingest([DATA / name], both, workers=1)
    again = ingest([shipped], both, workers=1)
    assert again.added == 0 and sum(again.duplicates.values()) == rows["export"].height


def test_a_winlogbeat_event_without_an_event_id_is_quarantined_with_the_reason() -> None:
    from auditlake.errors import RecordError

    doc = {"@timestamp": "2024-05-01T10:00:00.000Z", "winlog": {"channel": "Security", "record_id": 1}}
    with pytest.raises(RecordError, match="EventID"):
        windows.normalize(Frame(json.dumps(doc).encode(), "x:1"))
