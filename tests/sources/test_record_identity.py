"""A record without a native id is known by its content, not by how it was written: the same
records as JSON Lines, as a pretty-printed array and as back-to-back pretty objects land once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.sources.batch_helpers import (
    assert_batch_equals_per_record,
    assert_run_batch_equals_per_record,
    frames_of,
)

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.sources import cloudtrail, gateway, gcp, github, kubernetes, okta, windows
from auditlake.sources.base import Frame, SourceSpec
from auditlake.sources.generic import load_mapping
from auditlake.sources.record_identity import canonical_text, fallback_uid
from auditlake.sources.records import normalize_frames

DATA = Path(__file__).parent / "data"

Strip = Callable[[dict[str, Any]], dict[str, Any]]


def _without(*path: str) -> Strip:
    """A function removing the member at `path` from a record (its native id)."""

    def strip(record: dict[str, Any]) -> dict[str, Any]:
        node = record
        for key in path[:-1]:
            node = node[key]
        node.pop(path[-1], None)
        return record

    return strip


SOURCES: dict[str, tuple[SourceSpec | Callable[[], SourceSpec], str, Strip]] = {
    "github": (github.SPEC, "github/audit.jsonl", _without("_document_id")),
    "okta": (okta.SPEC, "okta/system_log.jsonl", _without("uuid")),
    "k8s": (kubernetes.SPEC, "k8s/audit.jsonl", _without("auditID")),
    "cloudtrail": (cloudtrail.SPEC, "cloudtrail/events.jsonl", _without("eventID")),
    "gcp": (gcp.SPEC, "gcp/audit.jsonl", _without("insertId")),
    "gateway": (gateway.SPEC, "gateway/teleport.jsonl", _without("uid")),
    "windows": (windows.SPEC, "windows/security.jsonl", _without("Event", "System", "EventRecordID")),
    "generic": (lambda: load_mapping(DATA / "generic" / "example.toml"), "generic/events.jsonl", _without("id")),
}


def _spec(name: str) -> SourceSpec:
    spec = SOURCES[name][0]
    return spec if isinstance(spec, SourceSpec) else spec()


def _records(name: str, *, strip: bool = True) -> list[dict[str, Any]]:
    _, path, without = SOURCES[name]
    records = [json.loads(text) for text in (DATA / path).read_text().splitlines() if text.strip()]
    return [without(r) for r in records] if strip else records


WRITINGS: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "lines": lambda records: "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records),
    "pretty-array": lambda records: json.dumps(records, indent=2),
    "pretty-objects": lambda records: "".join(json.dumps(r, indent=4) + "\n" for r in records),
    "spaced-sorted-lines": lambda records: "".join(json.dumps(r, sort_keys=True) + "\n" for r in records),
}
"""The same records written four ways: compact lines (non-ASCII as is), a pretty array (non-ASCII
escaped), pretty objects one after another, and lines with spaces and sorted keys (`jq -S`)."""


def _lake_rows(lake: LakePaths) -> list[dict[str, Any]]:
    return scan_events(lake, columns=["event_uid", "event_hash", "raw"]).collect().to_dicts()


@pytest.mark.parametrize("name", SOURCES)
def test_records_without_ids_land_once_whatever_their_writing(tmp_path: Path, name: str) -> None:
    records = [{**r, "note": "café ✓\t"} for r in _records(name)]  # escaped in some writings only
    lake = LakePaths.at(tmp_path / "lake")
    added, duplicates = [], []
    for writing, write in WRITINGS.items():
        path = tmp_path / f"{writing}.json"
        path.write_text(write(records))
        summary = ingest([path], lake, source=_spec(name), workers=1)
        assert summary.errors == [] and not summary.quarantined, (writing, summary)
        added.append(summary.added)
        duplicates.append(sum(summary.duplicates.values()))

    rows = _lake_rows(lake)
    assert added[0] > 0 and added[1:] == [0] * (len(WRITINGS) - 1), added
    assert duplicates == [0] + [added[0]] * (len(WRITINGS) - 1)
    assert len(rows) == added[0]
    assert all(row["event_hash"] == hashlib.sha256(row["raw"].encode()).digest() for row in rows)
    assert len({row["event_uid"] for row in rows}) == len(rows)


@pytest.mark.parametrize("name", ["github", "okta", "generic"])
def test_a_record_differing_in_one_value_is_another_event(tmp_path: Path, name: str) -> None:
    records = [{**r, "note": "as received"} for r in _records(name)]
    lake = LakePaths.at(tmp_path / "lake")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.json"
    first.write_text(WRITINGS["lines"](records))
    records[0]["note"] = "altered"
    second.write_text(WRITINGS["pretty-array"](records))

    summaries = [ingest([path], lake, source=_spec(name), workers=1) for path in (first, second)]

    assert [s.added for s in summaries] == [len(records), 1]


@pytest.mark.parametrize("name", [n for n in SOURCES if n != "windows"])
def test_records_with_native_ids_keep_them(name: str) -> None:
    records = _records(name, strip=False)
    uids = {}
    for writing, indent in (("compact", None), ("pretty", 2)):
        frames = frames_of([json.dumps(r, indent=indent).encode() for r in records])
        uids[writing] = [r["event_uid"] for r in normalize_frames(_spec(name), frames) if isinstance(r, dict)]
        fallbacks = {fallback_uid(f.raw, "json") for f in frames} | {hashlib.sha256(f.raw).hexdigest() for f in frames}
        assert uids[writing] and not set(uids[writing]) & fallbacks
    assert uids["compact"] == uids["pretty"]


def test_a_windows_event_keeps_its_computer_channel_and_record_id() -> None:
    raw = json.dumps(_records("windows", strip=False)[0], indent=2).encode()
    [row] = normalize_frames(windows.SPEC, [Frame(raw, "f:1")])
    assert isinstance(row, dict) and row["event_uid"] == "ws01.corp.example.com|Security|1001"


BATCHED = ["github", "okta", "k8s", "cloudtrail", "gcp", "windows"]


@pytest.mark.parametrize("name", BATCHED)
def test_the_batch_path_gives_the_per_record_identity(name: str) -> None:
    stripped, whole = _records(name), _records(name, strip=False)
    raws = [json.dumps(r, separators=(",", ":")).encode() for r in stripped]
    raws += [json.dumps(r).encode() for r in [*stripped, *whole]]
    frames = frames_of(raws)

    table = assert_batch_equals_per_record(_spec(name), frames)
    assert_run_batch_equals_per_record(_spec(name), frames)

    by_content = {fallback_uid(raw, "json") for raw in raws[: 2 * len(stripped)]}
    assert by_content & set(table["event_uid"].to_pylist())  # the batch path kept some of them


@pytest.mark.parametrize("name", BATCHED)
def test_the_batch_path_identifies_records_by_their_content(name: str) -> None:
    spec = _spec(name)
    assert spec.batch is not None
    kept = {}
    for writing in ("lines", "spaced-sorted-lines"):
        frames = frames_of(WRITINGS[writing](_records(name)).encode().splitlines())
        result = spec.batch(frames)
        assert result.table.num_rows > 0, writing
        kept[writing] = result.declined, sorted(result.table["event_uid"].to_pylist())
    assert kept["lines"] == kept["spaced-sorted-lines"]


# --- the canonical text --------------------------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), [
    (b'{"a":1,"b":[true,null]}', b'{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}'),
    (b'{"a":"\\u00e9"}', '{"a":"é"}'.encode()),
    (b'{"a":"x\\/y"}', b'{"a":"x/y"}'),
    (b'{"a":"\\u0009"}', b'{"a":"\\t"}'),
    (b'{"b":1,"a":{"d":2,"c":3}}', b'{"a":{"c":3,"d":2},"b":1}'),
    (b'\t{"a" :\r\n 1 }  ', b'{"a":1}'),
])
def test_writings_of_one_record_share_an_identity(one: bytes, other: bytes) -> None:
    assert fallback_uid(one, "json") == fallback_uid(other, "json")


@pytest.mark.parametrize(("one", "other"), [
    (b'{"a":1}', b'{"a":2}'),
    (b'{"a":1}', b'{"a":1.0}'),  # numbers as written
    (b'{"a":1}', b'{"a":"1"}'),
    (b'{"a":1,"a":2}', b'{"a":2,"a":1}'),  # repeated keys keep their order
    (b'{"a":[1,2]}', b'{"a":[2,1]}'),
    (b'{"a":null}', b'{}'),
    (b'{"a":"x"}', b'{"a ":"x"}'),
])
def test_different_records_have_different_identities(one: bytes, other: bytes) -> None:
    assert fallback_uid(one, "json") != fallback_uid(other, "json")


def test_the_canonical_text_is_compact_sorted_and_keeps_numbers_as_written() -> None:
    text = '{ "b": [1.50, -0, 1E5, 123456789012345678901234567890], "a": "\\u00e9\\/\\"\\n", "c": {} }'
    assert canonical_text(text) == '{"a":"é/\\"\\n","b":[1.50,-0,1E5,123456789012345678901234567890],"c":{}}'


def test_an_already_canonical_record_is_identified_by_its_hash() -> None:
    raw = b'{"a":[1,{"b":"c"}],"d":null}'
    assert fallback_uid(raw, "json") == hashlib.sha256(raw).hexdigest()


def test_what_is_not_json_is_identified_by_its_bytes() -> None:
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    for raw, raw_format in ((b"type=EOE msg=audit(1.0:1):", "auditd-kv"), (b'{"a": 1}', "auditd-kv"),
                            (b'{"a": ', "json"), (deep, "json")):
        assert fallback_uid(raw, raw_format) == hashlib.sha256(raw).hexdigest()
