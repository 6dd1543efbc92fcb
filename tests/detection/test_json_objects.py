"""Fields inside a JSON object column (CloudTrail's `responseElements`, Kubernetes'
`requestObject`, GCP's `protoPayload.request`).

The lake keeps such an object of the record as its own JSON text; a rule's
`responseElements.ConsoleLogin` is read from that column by path rather than from the whole
raw record, with the same result, escapes and absent objects included.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from auditlake.detection import engine
from auditlake.detection.compile import compile_collection, compile_rules
from auditlake.detection.engine import with_absent_paths
from auditlake.detection.evaluate import (
    RULE_ID_COLUMN,
    LateColumns,
    evaluate,
    evaluate_candidates,
    needed_columns,
)
from auditlake.detection.prefilter import ROW
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

CLOUDTRAIL = "aws.cloudtrail"
RULES = """
title: Console sign-in failed
id: 0b9e4a55-2222-4a5a-9a5a-000000000001
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin: Failure
  condition: sel
---
title: Bucket named like a backup
id: 0b9e4a55-2222-4a5a-9a5a-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    requestParameters.bucketName|contains: backup
  condition: sel
"""


def _record(uid: str, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.08", "eventID": uid, "eventTime": "2026-03-02T10:00:00Z", "eventName": name,
        "eventSource": "signin.amazonaws.com", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ana", "userName": "ana"},
        **fields,
    }


def _events(tmp_path: Path) -> tuple[pl.DataFrame, str]:
    records = [
        _record("failed", "ConsoleLogin", responseElements={"ConsoleLogin": "Failure"}),
        _record("escaped", "ConsoleLogin", responseElements={"ConsoleLogin": "Failure", "note": "caf\u00e9"}),
        _record("succeeded", "ConsoleLogin", responseElements={"ConsoleLogin": "Success"}),
        _record("no-response", "ConsoleLogin", responseElements=None),
        _record("backup", "CreateBucket", requestParameters={"bucketName": "Nightly-BACKUP-01", "x": 1}),
        _record("other-bucket", "CreateBucket", requestParameters={"bucketName": "logs"}),
    ]
    lines = [json.dumps(r, ensure_ascii=r["eventID"] != "escaped") for r in records]
    lines[1] = lines[1].replace('"Failure"', '"Fail\\u0075re"')  # the value spelled with an escape
    path = tmp_path / "trail.jsonl"
    path.write_text("\n".join(lines) + "\n")
    lake = LakePaths.at(tmp_path / "lake")
    assert not ingest([path], lake, source=CLOUDTRAIL, workers=1).quarantined
    return scan_events(lake, sources=[CLOUDTRAIL]).collect(), CLOUDTRAIL


def test_fields_inside_an_object_column_are_read_from_it_as_from_the_raw_record(tmp_path: Path) -> None:
    events, source = _events(tmp_path)
    assert events.schema["responseElements"] == pl.String
    rules = list(compile_collection(SigmaCollection.from_yaml(RULES)).rules)
    engine_read = needed_columns(rules, events.schema, source, keep=())
    assert {"responseElements", "requestParameters"} <= set(engine_read)
    assert "raw" not in engine_read  # the whole record is not needed for these rules
    found = []
    without_objects = events.drop("responseElements", "requestParameters")  # falls back on raw
    asked: list[list[int]] = []

    def read_raw(rows: pl.Series | None) -> pl.DataFrame:  # `raw` read late, for the rows asked
        numbered = without_objects.select("raw").with_row_index(ROW)
        asked.append(numbered[ROW].to_list() if rows is None else rows.to_list())
        return numbered if rows is None else numbered[rows]

    late = LateColumns(pl.Schema({"raw": pl.String}), read_raw)
    for frame in (events, without_objects, events.select(needed_columns(rules, events.schema, source))):
        results = [evaluate(rules, frame.lazy(), source=source).collect(), evaluate_candidates(rules, frame, source=source)]
        if "raw" in frame.columns:
            results.append(evaluate_candidates(rules, frame.drop("raw"), source=source, late=late))
        for result in results:
            uids = dict(zip(events["event_uid"], events["raw"].str.json_path_match("$.eventID"), strict=True))
            found.append({(uids[u], r[-1]) for u, r in zip(result["event_uid"], result[RULE_ID_COLUMN], strict=True)})
    assert all(f == found[0] for f in found)
    assert found[0] == {("failed", "1"), ("escaped", "1"), ("backup", "2")}
    # Without the object columns a rule whose candidates come from a column (`eventName`)
    # reads `raw` for those rows only; one searching `raw` itself reads it for every row.
    assert asked == [list(range(events.height))]
    sign_in = rules[:1]
    asked.clear()
    late_result = evaluate_candidates(sign_in, without_objects.drop("raw"), source=source, late=late)
    assert late_result.equals(evaluate_candidates(sign_in, without_objects, source=source).drop("raw"))
    assert asked == [events.with_row_index(ROW).filter(pl.col("eventName") == "ConsoleLogin")[ROW].to_list()]
    short = LateColumns(late.schema, lambda rows: read_raw(rows).head(1))  # a read that loses rows
    with pytest.raises(ValueError, match="late columns came back for 1 of the 4 rows"):
        evaluate_candidates(sign_in, without_objects.drop("raw"), source=source, late=short)


@pytest.mark.parametrize(("source", "rule_path", "objects"), [
    ("k8s.audit", "kubernetes/kubernetes_clusterrolebinding_cluster_admin.yml", ("requestObject", "responseObject")),
    ("gcp.audit", "gcp/gcp_logging_sink_deleted_or_disabled.yml", ("protoPayload.request", "protoPayload.response")),
])
def test_request_objects_are_read_from_their_column(
    tmp_path: Path, source: str, rule_path: str, objects: tuple[str, ...]
) -> None:
    """A repository rule reading inside a request object, over its own labelled events."""
    rule_file = Path(__file__).resolve().parents[2] / "rules" / rule_path
    inputs = sorted(rule_file.with_suffix("").glob("*.jsonl"))
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(f.read_text() for f in inputs))
    lake = LakePaths.at(tmp_path / "lake")
    assert not ingest([path], lake, source=source, workers=1).quarantined
    events = scan_events(lake, sources=[source]).collect()
    rules = list(compile_rules([rule_file]).rules)
    assert objects[0] in needed_columns(rules, events.schema, source, keep=())
    found = []
    for frame in (events, events.drop(*objects, strict=False)):
        for result in (evaluate(rules, frame.lazy(), source=source).collect(),
                       evaluate_candidates(rules, frame, source=source)):
            found.append(set(result["event_uid"]))
    assert all(f == found[0] for f in found)
    assert len(found[0]) == sum(1 for f in inputs if f.name.startswith("match_"))


def test_a_complete_path_no_file_has_is_read_as_absent_not_from_raw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kubernetes events of an audit policy that leaves request bodies out: no file has a
    `requestObject` column, and a rule reading it needs no `raw`."""
    rule = """
title: Privileged container requested
id: 0b9e4a55-2222-4a5a-9a5a-000000000003
logsource: {product: kubernetes, service: audit}
detection:
  sel:
    requestObject|contains: '"privileged":true'
  condition: sel
"""
    events = [
        {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"a-{n}", "stage": "ResponseComplete",
         "verb": "create", "requestURI": "/api/v1/namespaces/default/pods", "level": "Metadata",
         "user": {"username": "ana"}, "objectRef": {"resource": "pods", "namespace": "default"},
         "requestReceivedTimestamp": "2026-03-02T10:00:00Z", "stageTimestamp": "2026-03-02T10:00:01Z",
         "annotations": {"note": '"privileged":true'}}
        for n in range(3)
    ]
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    lake = LakePaths.at(tmp_path / "lake")
    ingest([path], lake, source="k8s.audit", workers=1)
    frame = scan_events(lake, sources=["k8s.audit"])
    assert "requestObject" not in frame.collect_schema()
    rules = list(compile_collection(SigmaCollection.from_yaml(rule)).rules)
    assert "raw" in needed_columns(rules, frame.collect_schema(), "k8s.audit")  # looked for in raw
    completed = with_absent_paths(frame, "k8s.audit")
    assert completed.collect_schema()["requestObject"] == pl.String
    assert "raw" not in needed_columns(rules, completed.collect_schema(), "k8s.audit")
    for lazy in (frame, completed):
        assert evaluate(rules, lazy, source="k8s.audit").collect().is_empty()
    assert with_absent_paths(frame, "no.such.source") is frame
    late_reads: list[str] = []
    monkeypatch.setattr(engine, "_late_raw", lambda lazy: late_reads.append("raw"))
    summary = engine.run_detection(lake, compile_collection(SigmaCollection.from_yaml(rule)), digest="d")
    assert summary.events_scanned == 3 and late_reads == []  # the detection run reads no raw either
    assert with_absent_paths(frame.drop("raw"), "k8s.audit").collect_schema() == frame.drop("raw").collect_schema()

    # The correlation step's read of the look-back before a range reads no raw either.
    correlated = rule.replace("title: Privileged container requested", "title: Privileged container requested\nname: privileged")
    correlated += """---
title: Privileged containers in a burst
id: 0b9e4a55-2222-4a5a-9a5a-000000000004
correlation:
  type: event_count
  rules: [privileged]
  group-by: [user.username]
  timespan: 1h
  condition: {gte: 2}
"""
    ruleset = compile_collection(SigmaCollection.from_yaml(correlated))
    reads: list[list[str]] = []
    looked_back: list[object] = []
    real_needed, real_lookback = engine.needed_columns, engine._correlation_matches

    def needed(*args: Any, **kwargs: Any) -> list[str]:
        reads.append(real_needed(*args, **kwargs))
        return reads[-1]

    def lookback(*args: Any) -> pl.DataFrame:
        looked_back.append(args)
        return real_lookback(*args)

    monkeypatch.setattr(engine, "needed_columns", needed)
    monkeypatch.setattr(engine, "_correlation_matches", lookback)
    since = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)  # the events lie in the look-back
    engine.run_detection(lake, ruleset, digest="c", since=since, until=since + timedelta(hours=1))
    assert looked_back and reads and not any("raw" in columns for columns in reads)
