"""Events inside CloudWatch Logs envelopes (EKS's Kubernetes audit log, CloudTrail sent to
CloudWatch) reach the lake exactly as the same events read from JSON Lines do."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _subscription(events: list[dict[str, Any]], stream: str, group: str = "/aws/eks/prod/cluster") -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": group,
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
        assert _events(lake).drop("source_tenant").equals(_events(reference).drop("source_tenant"))
        assert _quarantined(lake) == _quarantined(reference)
        # the subscription names its log group, and so the cluster; the export does not
        assert set(_events(lake)["source_tenant"]) == ({"prod"} if path is firehose else {None})
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


def _eventbridge(detail_type: str, source: str, detail: dict[str, Any], number: int) -> str:
    """An EventBridge event as Firehose writes it to S3, the detail spaced as its producer wrote it."""
    return (
        f'{{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718-{number}","detail-type":"{detail_type}",'
        f'"source":"{source}","account":"111122223333","time":"2024-05-01T09:15:00Z","region":"us-east-1",'
        f'"resources":[],"detail":{json.dumps(detail, indent=1)}}}'
    )


def test_eventbridge_events_are_read_as_their_detail_byte_for_byte(shared_data: Path, tmp_path: Path) -> None:
    """Okta's System Log reaches AWS through EventBridge; each event's `raw` is the detail as
    it was written, so the lake equals the one made from the same events as a file."""
    okta = [json.loads(line)["event"] for line in (shared_data / "samples" / "okta_systemlog.jsonl").read_text().splitlines()]
    okta = [{**e, "uuid": f"okta-{n}"} for n, e in enumerate(okta) if isinstance(e, dict)]
    bridged = tmp_path / "okta-firehose"
    bridged.write_text("".join(_eventbridge("SystemLog", "aws.partner/okta.com/acme/okta", e, n) for n, e in enumerate(okta)))
    lines = tmp_path / "okta.jsonl"
    lines.write_text("".join(json.dumps(e, indent=1).replace("\n", "") + "\n" for e in okta))
    assert detect_path(bridged).name == "okta.system"
    lake = _lake(tmp_path, "bridged", bridged)
    assert _events(lake).height >= 10
    raws = set(scan_events(lake).collect()["raw"].to_list())
    assert raws <= {json.dumps(e, indent=1) for e in okta}  # the detail's own text
    reference = _lake(tmp_path, "lines", lines)
    assert _events(lake).drop("raw", "event_hash").equals(_events(reference).drop("raw", "event_hash"))
    locations = scan_quarantine(lake).collect()["location"].to_list()
    assert locations and all(re.fullmatch(r"okta-firehose:\d+ envelope \d+ detail", loc) for loc in locations)


def test_cloudtrail_through_eventbridge_is_read_as_cloudtrail(tmp_path: Path) -> None:
    record = {"eventVersion": "1.09", "eventTime": "2024-05-01T09:15:00Z", "eventSource": "iam.amazonaws.com",
              "eventName": "CreateUser", "awsRegion": "us-east-1", "eventID": "ev-7",
              "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}}
    path = tmp_path / "bridge.jsonl"
    path.write_text(_eventbridge("AWS API Call via CloudTrail", "aws.iam", record, 1).replace("\n", "") + "\n")
    row = scan_events(_lake(tmp_path, "lake", path)).collect().row(0, named=True)
    assert (row["source"], row["event_uid"], row["action"], row["category"]) == ("aws.cloudtrail", "ev-7", "CreateUser", "iam")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(
    before=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "detail"), _JSON, max_size=3),
    detail=st.dictionaries(st.text(max_size=8), _JSON, max_size=4),
    after=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "detail"), _JSON, max_size=3),
    space=st.sampled_from(["", " ", "\n  ", "\t"]),
)
def test_the_detail_is_cut_from_the_envelope_as_written(
    before: dict[str, Any], detail: dict[str, Any], after: dict[str, Any], space: str
) -> None:
    from auditlake.sources.envelopes import detail_text

    def spaced(value: Any) -> str:
        return json.dumps(value, indent=1 if space else None, separators=(f",{space}", f":{space}"))

    members = [*(f"{space}{json.dumps(k)}{space}:{space}{spaced(v)}" for k, v in before.items() if k not in after),
               f"{space}\"detail\"{space}:{space}{spaced(detail)}",
               *(f"{space}{json.dumps(k)}{space}:{space}{spaced(v)}" for k, v in after.items())]
    text = "{" + ",".join(members) + space + "}"
    cut = detail_text(text)
    assert cut == spaced(detail) and json.loads(cut) == detail


def test_an_eks_log_group_names_the_cluster_of_its_events(eks_events: list[dict[str, Any]], tmp_path: Path) -> None:
    """Kubernetes audit events do not name their cluster; the log group EKS writes them to
    does, on the batch path and on the per-record path (a float sends an event there)."""
    from auditlake.sources.kubernetes import SPEC
    from auditlake.workers import _convert_packed, _pack

    half = len(eks_events) // 2
    eks_events = [{**e, "requestObject": {"ratio": 0.5}} if n % 7 == 0 else e for n, e in enumerate(eks_events)]
    path = tmp_path / "two-clusters.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(d) for d in (
        _subscription(eks_events[:half], "a", "/aws/eks/prod-eu/cluster"),
        _subscription(eks_events[half:], "b", "/aws/eks/staging/cluster"),
        _subscription(eks_events[:3], "c", "/aws/lambda/not-a-cluster"),
    )).encode()))
    rows = _events(_lake(tmp_path, "lake", path))
    expected = {e["auditID"]: "prod-eu" for e in eks_events[:half]} | {e["auditID"]: "staging" for e in eks_events[half:]}
    assert rows.height >= 10
    assert dict(zip(rows["event_uid"], rows["source_tenant"], strict=True)) == {
        uid: expected[uid] for uid in rows["event_uid"]
    }
    assert any('"ratio"' in raw for raw in rows["raw"])  # some rows took the per-record path

    frames = [Frame(json.dumps(e).encode(), f"x:{n}", tenant="prod-eu") for n, e in enumerate(eks_events)]
    shipped = _convert_packed(SPEC, _pack(frames))  # as worker processes receive them
    assert shipped.table is not None and set(shipped.table.column("source_tenant").to_pylist()) == {"prod-eu"}


def _log_export(events: list[dict[str, Any]], *, indent: int | None, tail: str) -> str:
    body = json.dumps({"events": [
        {"logStreamName": "kube-apiserver-audit-a", "timestamp": 1_700_000_000_000 + n,
         "message": json.dumps(e), "ingestionTime": 1_700_000_000_500 + n, "eventId": f"{n:056d}"}
        for n, e in enumerate(events)
    ]}, indent=indent)
    return body[: body.rfind("}")] + tail


@pytest.mark.parametrize("indent", [2, None])
def test_a_log_export_is_read_one_log_event_at_a_time(
    eks_events: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, indent: int | None
) -> None:
    """An export larger than the longest record text framing reads (made small here) is
    still read whole: its log events are framed one by one, and the members after them
    (`searchedLogStreams`, paging tokens) are the wrapper's, not damage."""
    from auditlake.sources import framing

    monkeypatch.setattr(framing, "MAX_RECORD_TEXT_READ", 64 << 10)
    many = [{**e, "auditID": f"{e['auditID']}-{k}"} for k in range(4) for e in eks_events]
    tail = ', "searchedLogStreams": [{"logStreamName": "a", "searchedCompletely": true}], "nextToken": "Bxk"}'
    path = tmp_path / "export.json"
    path.write_text(_log_export(many, indent=indent, tail=tail))
    assert path.stat().st_size > 4 * (64 << 10)
    frames = list(framing.json_frames(path))
    assert [f.raw for f in frames] == [json.dumps(e).encode() for e in many]
    assert all(f.error is None for f in frames)
    if indent:  # each log event located by its own line
        assert frames[1].location == "export.json:10"  # after the first event's seven lines

    path.write_text(_log_export(many[:2], indent=indent, tail=', "nextToken": "Bxk"} trailing'))
    *events, damage = framing.json_frames(path)
    assert len(events) == 2 and damage.error == "unexpected content after the JSON records"


def test_cloudtrail_event_history_is_read_as_its_records(tmp_path: Path) -> None:
    """`aws cloudtrail lookup-events` output: each item's CloudTrailEvent text is the record."""
    records = [
        {"eventVersion": "1.08", "eventTime": f"2024-05-01T09:{n:02d}:00Z", "eventSource": "iam.amazonaws.com",
         "eventName": "CreateUser", "awsRegion": "us-east-1", "eventID": f"ev-{n}", "readOnly": False,
         "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}}
        for n in range(30)
    ]
    items = [{"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false", "EventTime": 1714554000.0,
              "EventSource": r["eventSource"], "Username": "alice", "Resources": [],
              "CloudTrailEvent": json.dumps(r)} for r in records]
    items.append({"EventId": "broken", "EventName": "x"})  # no CloudTrailEvent: quarantined
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"Events": items, "NextToken": "eyJ2IjoiMiJ9"}, indent=4))
    assert detect_path(path).name == "aws.cloudtrail"
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, workers=1)
    assert summary.errors == [] and summary.added == 30
    rows = scan_events(lake).collect().sort("time")
    assert rows["raw"].to_list() == [json.dumps(r) for r in records]
    (bad,) = scan_quarantine(lake).collect().to_dicts()
    assert bad["reason"] == "lookup-events item without its CloudTrailEvent text"
