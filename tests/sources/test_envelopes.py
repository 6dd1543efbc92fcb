"""Events inside CloudWatch Logs envelopes (EKS's Kubernetes audit log, CloudTrail sent to
CloudWatch) reach the lake exactly as the same events read from JSON Lines do."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources.base import Frame
from auditlake.sources.envelopes import unwrapped
from auditlake.sources.registry import detect_path

CONTROL = {
    "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
    "subscriptionFilters": [], "logEvents": [
        {"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}
    ],
}


@pytest.fixture(scope="module")
def eks_events(shared_data: Path) -> list[dict[str, Any]]:
    """The public EKS audit samples, each given its own auditID (many share one)."""
    events = []
    for number, line in enumerate((shared_data / "samples" / "amazon_eks_audit.jsonl").read_text().splitlines()):
        event = json.loads(line)["event"]
        if isinstance(event, dict):
            events.append({**event, "auditID": f"audit-{number:04d}"})
    return events


def _subscription(events: list[dict[str, Any]], stream: str) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/eks/prod/cluster",
        "logStream": stream, "subscriptionFilters": ["to-firehose"],
        "logEvents": [
            {"id": str(n), "timestamp": 1_700_000_000_000 + n, "message": json.dumps(e)} for n, e in enumerate(events)
        ],
    }


def _lake(tmp_path: Path, name: str, path: Path) -> LakePaths:
    lake = LakePaths.at(tmp_path / name)
    summary = ingest([path], lake, workers=1)
    assert summary.errors == []
    return lake


def _events(lake: LakePaths) -> pl.DataFrame:
    return scan_events(lake).drop("ingested_at").collect().sort("event_uid")


def _quarantined(lake: LakePaths) -> list[tuple[str, bytes]]:
    frame = scan_quarantine(lake).collect()
    return sorted(zip(frame["reason"].to_list(), frame["raw"].to_list(), strict=True))


def test_firehose_subscription_payloads_and_log_exports_read_as_json_lines(
    eks_events: list[dict[str, Any]], tmp_path: Path
) -> None:
    half = len(eks_events) // 2
    firehose = tmp_path / "eks-firehose.gz"  # envelopes back to back, as Firehose writes them
    firehose.write_bytes(gzip.compress("".join(json.dumps(d) for d in (
        CONTROL, _subscription(eks_events[:half], "kube-apiserver-audit-a"),
        _subscription(eks_events[half:], "kube-apiserver-audit-b"),
    )).encode()))
    export = tmp_path / "eks-filter-log-events.json"  # `aws logs filter-log-events` output
    export.write_text(json.dumps({"events": [
        {"logStreamName": "kube-apiserver-audit-a", "timestamp": 1, "message": json.dumps(e),
         "ingestionTime": 2, "eventId": str(n)} for n, e in enumerate(eks_events)
    ], "searchedLogStreams": []}, indent=2))
    lines = tmp_path / "eks.jsonl"
    lines.write_text("".join(json.dumps(e) + "\n" for e in eks_events))

    reference = _lake(tmp_path, "lines", lines)
    assert _events(reference).height >= 10 and _quarantined(reference)
    for path in (firehose, export):
        assert detect_path(path).name == "k8s.audit"
        lake = _lake(tmp_path, path.stem, path)
        assert _events(lake).equals(_events(reference))
        assert _quarantined(lake) == _quarantined(reference)
    locations = scan_quarantine(_lake(tmp_path, "again", firehose)).collect()["location"].to_list()
    assert all(loc.startswith("eks-firehose.gz:1 envelope ") and " logEvents[" in loc for loc in locations)
    envelopes = {loc.split(" envelope ")[1].split()[0] for loc in locations}
    assert envelopes == {"2", "3"}  # the first is the control message, which holds no events


def test_cloudtrail_sent_to_cloudwatch_is_read_as_cloudtrail(tmp_path: Path) -> None:
    record = {
        "eventVersion": "1.09", "eventTime": "2024-05-01T09:15:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets", "awsRegion": "eu-west-1", "eventID": "ev-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
    }
    path = tmp_path / "trail.gz"
    path.write_bytes(gzip.compress(json.dumps(_subscription([record], "111122223333_CloudTrail_eu-west-1")).encode()))
    lake = _lake(tmp_path, "lake", path)
    row = scan_events(lake).collect().row(0, named=True)
    assert (row["source"], row["event_uid"], row["action"]) == ("aws.cloudtrail", "ev-1", "ListBuckets")
    assert json.loads(row["raw"]) == record


def test_a_log_event_without_a_text_message_is_quarantined_and_the_rest_read() -> None:
    envelope = {"messageType": "DATA_MESSAGE", "logEvents": [
        {"id": "1", "message": "{\"a\": 1}"}, {"id": "2", "message": {"a": 2}}, {"id": "3"}, "x",
    ]}
    frames = list(unwrapped(iter([Frame(json.dumps(envelope).encode(), "f:1"), Frame(b'{"plain": 1}', "f:2")])))
    assert [(f.raw, f.location, f.error) for f in frames[:1]] == [(b'{"a": 1}', "f:1 envelope 1 logEvents[0]", None)]
    assert [f.error for f in frames[1:4]] == ["CloudWatch log event without a text message"] * 3
    assert frames[4] == Frame(b'{"plain": 1}', "f:2")  # not an envelope: passed on as it is
    control = json.dumps(CONTROL).encode()
    assert list(unwrapped(iter([Frame(control, "f:1")]))) == []
