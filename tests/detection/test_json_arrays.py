"""Fields inside arrays of the raw record (Okta's `target[]`, GCP's `authorizationInfo[]`).

Sigma writes no index: `target.displayName` means the `displayName` of any target. SigmaHQ
rules that test such fields must match a record whose matching member is not the first, and
must not match when no member does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sigma.collection import SigmaCollection

from auditlake.detection.compile import compile_collection, compile_rules
from auditlake.detection.evaluate import (
    RULE_ID_COLUMN,
    evaluate,
    evaluate_candidates,
    evaluate_correlations,
    needed_columns,
)
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events

OKTA = "okta.system"
GCP = "gcp.audit"


def _okta(uid: str, targets: list[dict[str, Any]] | None, behaviors: str = "{New Device=POSITIVE}") -> dict[str, Any]:
    record: dict[str, Any] = {
        "uuid": uid, "published": "2026-03-02T10:00:00.000Z", "eventType": "policy.evaluate_sign_on",
        "version": "0", "severity": "INFO", "displayMessage": "Evaluation of sign-on policy",
        "actor": {"alternateId": "ana@example.com", "displayName": "Ana", "id": "00u1", "type": "User"},
        "client": {"ipAddress": "198.51.100.7"},
        "outcome": {"result": "ALLOW"},
        "debugContext": {"debugData": {"behaviors": behaviors}},
    }
    if targets is not None:
        record["target"] = targets
    return record


def _gcp(uid: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "insertId": uid, "timestamp": "2026-03-02T10:00:00Z", "severity": "NOTICE",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "audited_resource", "labels": {"project_id": "p"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "accesscontextmanager.googleapis.com",
            "methodName": "google.identity.accesscontextmanager.v1.AccessContextManager.DeleteAccessPolicy",
            "authenticationInfo": {"principalEmail": "ana@example.com"},
            "requestMetadata": {"callerIp": "198.51.100.7"},
            "authorizationInfo": checks,
        },
    }


def _lake(tmp_path: Path, source: str, records: list[dict[str, Any]]) -> pl.DataFrame:
    path = tmp_path / f"{source}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, source=source, workers=1)
    assert not summary.quarantined
    return scan_events(lake, sources=[source]).collect()


def _matched(rules: list[Any], events: pl.DataFrame, source: str) -> set[str]:
    """Events matched by every path: all rules on all rows and candidate rows, reading the
    array's own JSON column or (without it) the raw record, and on just the columns the
    engine reads for these rules; all must agree."""
    found = []
    engine_read = events.select(needed_columns(rules, events.schema, source))
    for frame in (events, events.drop("target", "protoPayload.authorizationInfo", strict=False), engine_read):
        for result in (evaluate(rules, frame.lazy(), source=source).collect(),
                       evaluate_candidates(rules, frame, source=source)):
            found.append(set(zip(result["event_uid"], result[RULE_ID_COLUMN], strict=True)))
    assert all(f == found[0] for f in found)
    return {uid for uid, _ in found[0]}


def _uids(events: pl.DataFrame, native_ids: list[str], key: str) -> set[str]:
    raw = events.select("event_uid", pl.col("raw").str.json_path_match(f"$.{key}").alias("native"))
    return set(raw.filter(pl.col("native").is_in(native_ids))["event_uid"].to_list())


def test_okta_target_member_fields_match_any_member(tmp_path: Path, shared_data: Path) -> None:
    console = {"type": "AppInstance", "displayName": "Okta Admin Console", "alternateId": "admin"}
    other = {"type": "User", "displayName": "Ana", "alternateId": "ana@example.com"}
    events = _lake(tmp_path, OKTA, [
        _okta("second-member", [other, console]),
        _okta("first-member", [console]),
        _okta("no-member", [other, {**other, "displayName": "Okta Dashboard"}]),
        _okta("no-target", None),
        _okta("not-positive", [other, console], behaviors="{New Device=NEGATIVE}"),
    ])
    rules = compile_rules([shared_data / "sigmahq" / "rules" / "identity" / "okta" / "okta_new_behaviours_admin_console.yml"]).rules
    assert _matched(list(rules), events, OKTA) == _uids(events, ["second-member", "first-member"], "uuid")


def test_gcp_authorization_checks_match_any_member(tmp_path: Path, shared_data: Path) -> None:
    delete = {"resource": "accessPolicies/1", "permission": "accesscontextmanager.accessPolicies.delete", "granted": True}
    read = {"resource": "accessPolicies/1", "permission": "accesscontextmanager.accessPolicies.get", "granted": True}
    events = _lake(tmp_path, GCP, [
        _gcp("delete-second", [read, delete]),
        _gcp("delete-denied", [{**delete, "granted": False}]),
        _gcp("read-only", [read, read]),
    ])
    rules = compile_rules([shared_data / "sigmahq" / "rules" / "cloud" / "gcp" / "audit" / "gcp_access_policy_deleted.yml"]).rules
    assert _matched(list(rules), events, GCP) == _uids(events, ["delete-second"], "insertId")


@pytest.mark.parametrize(("condition", "expected"), [
    ("sel", {"second-member", "first-member", "not-positive"}),
    ("not sel", {"no-member", "no-target"}),
    ("missing", {"no-target"}),
    ("present", {"second-member", "first-member", "no-member", "not-positive"}),
])
def test_null_exists_and_not_read_the_members(tmp_path: Path, condition: str, expected: set[str]) -> None:
    console = {"type": "AppInstance", "displayName": "Okta Admin Console"}
    other = {"type": "User", "displayName": "Ana"}
    events = _lake(tmp_path, OKTA, [
        _okta("second-member", [other, console]),
        _okta("first-member", [console]),
        _okta("no-member", [other]),
        _okta("no-target", None),
        _okta("not-positive", [other, console]),
    ])
    rule = f"""title: t
id: 5b0b7c4e-0d6e-4c55-9d55-000000000001
logsource: {{product: okta, service: okta}}
detection:
  sel:
    target.displayName|contains: admin console
  missing:
    target.displayName: null
  present:
    target.displayName|exists: true
  condition: {condition}
"""
    rules = list(compile_collection(SigmaCollection.from_yaml(rule)).rules)
    assert _matched(rules, events, OKTA) == _uids(events, sorted(expected), "uuid")


def test_correlations_group_by_the_first_target(tmp_path: Path) -> None:
    events = _lake(tmp_path, OKTA, [
        _okta(f"e{i}", [{"type": "User", "alternateId": "victim@example.com"}, {"type": "Other", "alternateId": f"x{i}"}])
        for i in range(3)
    ])
    rules = """title: push
id: 5b0b7c4e-0d6e-4c55-9d55-000000000002
name: push
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: policy.evaluate_sign_on
  condition: sel
---
title: burst
id: 5b0b7c4e-0d6e-4c55-9d55-000000000003
correlation:
  type: event_count
  rules: [push]
  group-by: [target.alternateId]
  timespan: 1h
  condition: {gte: 3}
level: high
"""
    ruleset = compile_collection(SigmaCollection.from_yaml(rules))
    hits = next(iter(evaluate_correlations(ruleset, events.lazy(), source=OKTA).values()))
    assert hits["target.alternateId"].to_list() == ["victim@example.com"]
