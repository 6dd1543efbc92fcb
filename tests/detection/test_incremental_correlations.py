"""Incremental runs and late events: correlation alerts are those of one run over everything
known, each stored once, whatever order the events arrive in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from auditlake.detection.alert_store import AlertStore
from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.detection.engine import run_detection
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths

FAILURE = """\
title: Okta sign-in failure
id: 7d0e4c1a-2b6f-4e1d-9c7a-3f5b8e2d1a01
name: okta_failure
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: sel
level: low
"""

REPEATED = FAILURE + """\
---
title: Okta repeated sign-in failures
id: 7d0e4c1a-2b6f-4e1d-9c7a-3f5b8e2d1a02
status: test
correlation:
  type: event_count
  rules: [okta_failure]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 3}
level: high
"""

TWO_ADDRESSES = FAILURE + """\
---
title: Okta sign-in failures from two addresses
id: 7d0e4c1a-2b6f-4e1d-9c7a-3f5b8e2d1a03
status: test
correlation:
  type: value_count
  rules: [okta_failure]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 2, field: client.ipAddress}
level: high
"""

START = datetime(2026, 3, 2, 10, tzinfo=UTC)


def _failure(minute: int, uid: str, ip: str = "203.0.113.9") -> str:
    moment = START + timedelta(minutes=minute)
    return json.dumps({
        "uuid": uid,
        "published": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventType": "user.session.start",
        "displayMessage": "User login to Okta",
        "severity": "WARN",
        "actor": {"id": "id-eve", "type": "User", "alternateId": "eve@example.com", "displayName": "eve"},
        "client": {"ipAddress": ip},
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
    }) + "\n"


def _rules(tmp_path: Path, text: str) -> RuleSet:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "okta.yml").write_text(text)
    return compile_rules([folder])


def _file(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def _correlation_alerts(lake: LakePaths) -> pl.DataFrame:
    stored = AlertStore(lake).scan().filter(pl.col("rule_kind") == "correlation").collect()
    return stored.sort("last_evidence_at")


def test_a_late_event_raises_no_alert_on_a_burst_cut_at_the_runs_look_back(tmp_path: Path) -> None:
    """The second run re-reads an hour before its late event; a burst that an hour's cut
    shows as new three failures (at 10:10-10:12) continues one alerted at 10:02, and is no
    new alert: one run over all the events raises just the first."""
    ruleset = _rules(tmp_path, REPEATED)
    early = _file(tmp_path, "early.jsonl", [_failure(m, f"e{m}") for m in (0, 1, 2, 10, 11, 12)])
    late = _file(tmp_path, "late.jsonl", [_failure(69, "late")])

    incremental = LakePaths.at(tmp_path / "incremental")
    ingest([early], incremental, workers=1)
    run_detection(incremental, ruleset, digest="rules")
    ingest([late], incremental, workers=1)
    assert run_detection(incremental, ruleset, digest="rules").new_alerts == 0

    whole = LakePaths.at(tmp_path / "whole")
    ingest([early, late], whole, workers=1)
    run_detection(whole, ruleset, digest="rules")
    expected = _correlation_alerts(whole)
    assert expected["event_uids"].to_list() == [["e0", "e1", "e2"]]
    assert _correlation_alerts(incremental)["alert_id"].to_list() == expected["alert_id"].to_list()


def test_a_late_event_that_widens_an_alerted_window_does_not_store_its_alert_again(tmp_path: Path) -> None:
    """Failures from two addresses at 10:00 and 10:10 alert; a failure at 09:50 arriving later
    falls in the same window, which still ends at 10:10: the same alert, not a second one,
    in an incremental run as in a range run over the day."""
    ruleset = _rules(tmp_path, TWO_ADDRESSES)
    lake = LakePaths.at(tmp_path / "lake")
    ingest([_file(tmp_path, "early.jsonl", [_failure(0, "a", "198.51.100.1"), _failure(10, "b", "198.51.100.2")])],
           lake, workers=1)
    assert run_detection(lake, ruleset, digest="rules").new_alerts == 1
    ingest([_file(tmp_path, "late.jsonl", [_failure(-10, "late", "198.51.100.1")])], lake, workers=1)
    assert run_detection(lake, ruleset, digest="rules").new_alerts == 0
    day = START.replace(hour=0)
    assert run_detection(lake, ruleset, digest="rules", since=day, until=day + timedelta(days=1)).new_alerts == 0

    stored = _correlation_alerts(lake)
    assert stored.height == stored["alert_id"].n_unique() == 1
    assert stored["event_uids"].to_list() == [["a", "b"]]
