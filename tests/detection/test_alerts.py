"""Detection alerts built for many rules at once carry each rule's own description."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from auditlake.detection.alerts import (
    ALERT_SCHEMA,
    RuleInfo,
    RunInfo,
    alert_id,
    detection_alerts,
    evidence_frame,
)

RUN = RunInfo(datetime(2026, 3, 9, tzinfo=UTC), "replay", "run-1")
RULES = {
    "r1": RuleInfo("r1", "First rule", "detection", "high", ("attack.t1003",), "ann"),
    "r2": RuleInfo("r2", "Second rule", "detection", None, (), None),
    "r3": RuleInfo("r3", "Not matched", "detection", "low", ("x",), "bob"),
}


def _evidence() -> pl.DataFrame:
    events = pl.DataFrame({
        "event_uid": ["e1", "e1", "e2", "e3"],
        "time": [datetime(2026, 3, 2, h, tzinfo=UTC) for h in (1, 1, 2, 3)],
        "source": ["windows.eventlog"] * 4,
        "ingested_at": [datetime(2026, 3, 2, 4, tzinfo=UTC)] * 4,
        "actor_name": ["alice", "alice", None, "carol"],
        "actor_id": ["S-1", "S-1", "S-2", None],
        "rule_id": ["r1", "r2", "r1", "r2"],
    })
    return evidence_frame(events).with_columns(events["rule_id"])


def test_each_alert_carries_its_own_rules_description_and_a_stable_id() -> None:
    alerts = detection_alerts(RULES, _evidence(), RUN)
    assert alerts.schema == ALERT_SCHEMA
    rows = alerts.select("alert_id", "rule_id", "rule_title", "level", "tags", "rule_author", "event_uids", "actor").rows()
    assert rows == [
        (alert_id("r1", "e1"), "r1", "First rule", "high", ["attack.t1003"], "ann", ["e1"], "alice"),
        (alert_id("r2", "e1"), "r2", "Second rule", None, [], None, ["e1"], "alice"),
        (alert_id("r1", "e2"), "r1", "First rule", "high", ["attack.t1003"], "ann", ["e2"], "S-2"),
        (alert_id("r2", "e3"), "r2", "Second rule", None, [], None, ["e3"], "carol"),
    ]
    assert set(alerts["run_id"]) == {"run-1"} and set(alerts["origin"]) == {"replay"}
    assert alerts["created_at"].to_list() == [RUN.created_at] * 4


def test_no_evidence_gives_no_alerts() -> None:
    assert detection_alerts(RULES, _evidence().head(0), RUN).is_empty()
