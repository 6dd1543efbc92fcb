"""Listings and envelopes are recognised whatever order their members are written in (`jq -S`
sorts them), and EventBridge events in a JSON array as well as one per line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.sources.envelopes import envelope_of
from auditlake.sources.framing import framing_of, json_frames
from auditlake.sources.registry import detect_path

DATA = Path(__file__).parent / "data"


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _same_lake(tmp_path: Path, path: Path, records: list[dict[str, Any]], *, sort_keys: bool = False) -> None:
    """`path` lands as the same records in JSON Lines do."""
    lines = tmp_path / "lines.jsonl"
    lines.write_text("".join(json.dumps(r, sort_keys=sort_keys) + "\n" for r in records))
    lakes = {name: LakePaths.at(tmp_path / name) for name in ("path", "lines")}
    for name, each in (("path", path), ("lines", lines)):
        summary = ingest([each], lakes[name], workers=1)
        assert summary.errors == [] and summary.added > 0
    rows = {name: scan_events(lake).drop("ingested_at", "raw", "event_hash").collect().sort("event_uid")
            for name, lake in lakes.items()}
    columns = sorted(rows["lines"].columns)  # sorted keys write native fields in another order
    assert rows["path"].select(columns).equals(rows["lines"].select(columns))


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize(("listing", "sample", "label"), [
    ({"apiVersion": "audit.k8s.io/v1", "items": "*", "kind": "EventList", "metadata": {"resourceVersion": "1"}},
     "k8s", "Kubernetes EventList"),
    ({"items": "*", "kind": "EventList"}, "k8s", "Kubernetes EventList"),
    ({"nextPageToken": "EAA46pa", "entries": "*"}, "gcp", "Cloud Logging entries listing"),
], ids=["event-list-sorted", "event-list-kind-last", "entries-token-first"])
def test_a_listing_is_recognised_whatever_its_key_order(
    tmp_path: Path, listing: dict[str, Any], sample: str, label: str, indent: int | None
) -> None:
    records = _records(DATA / sample / "audit.jsonl")
    path = tmp_path / "listing.json"
    path.write_text(json.dumps({k: records if v == "*" else v for k, v in listing.items()}, indent=indent))

    frames = list(json_frames(path))

    assert [json.loads(f.raw) for f in frames] == records and all(f.error is None for f in frames)
    assert framing_of(path) == label
    _same_lake(tmp_path, path, records)


@pytest.mark.parametrize("body", [
    {"apiVersion": "v1", "items": [{"kind": "Event"}], "kind": "List", "metadata": {}},  # kubectl get events -o json
    {"apiVersion": "v1", "items": [{"a": 1}], "kind": "PodList"},
])
def test_another_list_is_one_record(tmp_path: Path, body: dict[str, Any]) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(body))

    assert [json.loads(f.raw) for f in json_frames(path)] == [body]


def _bridged(record: dict[str, Any], number: int) -> dict[str, Any]:
    return {"version": "0", "id": f"eb-{number}", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3", "account": "111122223333", "time": record["eventTime"],
            "region": "eu-west-1", "resources": [], "detail": record}


WRITINGS = {
    "array": json.dumps,
    "pretty-array": lambda events: json.dumps(events, indent=2),
    "sorted-lines": lambda events: "".join(json.dumps(e, sort_keys=True) + "\n" for e in events),
    "sorted-pretty-array": lambda events: json.dumps(events, indent=2, sort_keys=True),
}


@pytest.mark.parametrize("writing", WRITINGS)
def test_eventbridge_events_are_recognised_in_an_array_and_in_any_key_order(tmp_path: Path, writing: str) -> None:
    records = _records(DATA / "cloudtrail" / "events.jsonl")
    path = tmp_path / "bridged.json"
    path.write_text(WRITINGS[writing]([_bridged(r, n) for n, r in enumerate(records)]))

    assert framing_of(path) == "EventBridge events"
    assert detect_path(path).name == "aws.cloudtrail"
    assert [json.loads(f.raw) for f in json_frames(path)] == records
    _same_lake(tmp_path, path, records, sort_keys=writing.startswith("sorted"))


def test_a_subscription_payload_is_recognised_with_its_keys_sorted() -> None:
    payload = {"logEvents": [{"id": "1", "message": "{}", "timestamp": 1}], "logGroup": "g", "logStream": "s",
               "messageType": "DATA_MESSAGE", "owner": "1", "subscriptionFilters": []}
    assert envelope_of(json.dumps(payload, sort_keys=True).encode()) == "cloudwatch subscription"
