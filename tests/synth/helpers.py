"""Reading generated native files back, independently of the generator's own code.

Each source's id and time are read the way a consumer would read them from the vendor format,
so the tests check the files, not the generator's idea of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

AUDIT_LINE = re.compile(r"^node=(\S+) type=(\S+) msg=audit\((\d+)\.(\d{3}):(\d+)\):")


def _parse_iso(text: str) -> datetime:
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def _windows_id(rec: dict[str, Any]) -> str:
    system = rec["Event"]["System"]
    return f"{system['Computer']}|{system['Channel']}|{system['EventRecordID']}"


IdTime = tuple[Callable[[Any], str], Callable[[Any], datetime]]
JSON_SOURCES: dict[str, IdTime] = {
    "aws.cloudtrail": (lambda r: r["eventID"], lambda r: _parse_iso(r["eventTime"])),
    "k8s.audit": (lambda r: r["auditID"], lambda r: _parse_iso(r["requestReceivedTimestamp"])),
    "okta.system": (lambda r: r["uuid"], lambda r: _parse_iso(r["published"])),
    "github.audit": (lambda r: r["_document_id"], lambda r: _epoch_ms(r["@timestamp"])),
    "gcp.audit": (lambda r: f"{r['logName']}/{r['insertId']}", lambda r: _parse_iso(r["timestamp"])),
    "gateway.teleport": (lambda r: r["uid"], lambda r: _parse_iso(r["time"])),
    "windows.eventlog": (_windows_id, lambda r: _parse_iso(r["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"])),
}


def records(path: Path) -> Iterator[Any]:
    """Native records of one file: JSON objects, or auditd events as lists of lines."""
    if path.name.endswith(".json.gz"):
        with gzip.open(path, "rb") as fh:
            yield from json.load(fh)["Records"]
    elif path.suffix == ".jsonl":
        with path.open("rb") as fh:
            for line in fh:
                yield json.loads(line)
    else:
        yield from _audit_events(path)


def _audit_events(path: Path) -> Iterator[list[str]]:
    group: list[str] = []
    key = None
    for line in path.read_text().splitlines():
        match = AUDIT_LINE.match(line)
        assert match, f"{path.name}: not an audit line: {line[:80]}"
        this = (match[1], match[5])
        if group and this != key:
            yield group
            group = []
        key = this
        group.append(line)
    if group:
        yield group


def id_and_time(source: str, record: Any) -> tuple[str, datetime]:
    """The native event id and time of one record of `source`."""
    if source == "linux.auditd":
        match = AUDIT_LINE.match(record[0])
        assert match
        node, sec, ms, serial = match[1], match[3], match[4], match[5]
        digest = hashlib.sha256("\n".join(record).encode()).hexdigest()[:16]  # the event's records
        return f"{node}:{sec}.{ms}:{serial}/{digest}", datetime.fromtimestamp(int(sec) + int(ms) / 1000, tz=UTC)
    get_id, get_time = JSON_SOURCES[source]
    return get_id(record), get_time(record)


def source_files(out: Path, source: str) -> list[Path]:
    return sorted((out / source).iterdir())
