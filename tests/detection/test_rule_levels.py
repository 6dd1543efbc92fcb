"""`auditlake detect --min-level`: alerts from rules and correlations of a level and above,
the rules below still feeding the correlations above, and progress kept apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sigma.collection import SigmaCollection

from auditlake.cli import main
from auditlake.detection.compile import RuleSet, compile_collection
from auditlake.detection.rule_levels import at_least, rank

FAILURE = """\
title: Okta sign-in failure
id: 5d1c7e00-0000-4000-8000-000000000001
name: okta_failure
status: test
logsource: {product: okta, service: okta}
detection:
  sel: {eventType: user.session.start, outcome.result: FAILURE}
  condition: sel
level: low
"""
LOCKOUT = """\
title: Okta account locked
id: 5d1c7e00-0000-4000-8000-000000000002
status: test
logsource: {product: okta, service: okta}
detection:
  sel: {eventType: user.account.lock}
  condition: sel
level: high
"""
BURST = """\
title: Three failures of one user
id: 5d1c7e00-0000-4000-8000-000000000003
name: burst
status: test
correlation:
  type: event_count
  rules: [okta_failure]
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 3}
  generate: true
level: medium
"""
REPEATED = """\
title: Bursts of failures on two accounts
id: 5d1c7e00-0000-4000-8000-000000000004
status: test
correlation:
  type: event_count
  rules: [burst]
  timespan: 1h
  condition: {gte: 1}
level: critical
"""
UNNAMED_LEVEL = """\
title: Any Okta event
id: 5d1c7e00-0000-4000-8000-000000000005
status: test
logsource: {product: okta, service: okta}
detection:
  sel: {eventType|exists: true}
  condition: sel
"""

ALL = (FAILURE, LOCKOUT, BURST, REPEATED, UNNAMED_LEVEL)


def _ruleset() -> RuleSet:
    ruleset = compile_collection(SigmaCollection.from_yaml("---\n".join(ALL)))
    assert not ruleset.failures
    return ruleset


def test_levels_rank_in_sigmas_order_and_none_ranks_lowest() -> None:
    assert [rank(level) for level in ("informational", "low", "Medium", "high", "critical")] == [0, 1, 2, 3, 4]
    assert rank(None) == rank("unheard-of") == 0


def test_rules_below_the_level_stop_alerting_but_feed_the_correlations_above() -> None:
    every = _ruleset()
    assert all(rule.output for rule in every.rules)  # the burst lets its rule alert (generate)
    ruleset = at_least(every, "high")
    output = {rule.title: rule.output for rule in ruleset.rules}
    assert output == {"Okta sign-in failure": False, "Okta account locked": True, "Any Okta event": False}
    plans = {ruleset.correlation_meta[plan.key].title: plan.generate for plan in ruleset.correlations}
    # the medium burst stays to feed the critical correlation over it, without alerting itself
    assert plans.keys() == {"Three failures of one user", "Bursts of failures on two accounts"}
    assert plans["Three failures of one user"] is False


def test_a_correlation_below_the_level_that_nothing_reads_is_left_out() -> None:
    ruleset = at_least(compile_collection(SigmaCollection.from_yaml("---\n".join((FAILURE, BURST)))), "high")
    assert ruleset.correlations == ()
    assert [rule.output for rule in ruleset.rules] == [False]


def test_every_level_keeps_the_rule_set_as_it_is() -> None:
    ruleset = _ruleset()
    kept = at_least(ruleset, "informational")
    assert [r.output for r in kept.rules] == [r.output for r in ruleset.rules]
    assert [p.generate for p in kept.correlations] == [p.generate for p in ruleset.correlations]


def _okta(uid: str, event: str, user: str, at: datetime) -> dict[str, object]:
    return {
        "uuid": uid, "published": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "eventType": event,
        "displayMessage": event, "severity": "WARN",
        "actor": {"id": f"id-{user}", "type": "User", "alternateId": f"{user}@example.com", "displayName": user},
        "client": {"ipAddress": "203.0.113.9"},
        "outcome": {"result": "FAILURE" if event == "user.session.start" else "SUCCESS"},
    }


def _detect(rules: Path, lake: Path, *more: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake), "--json", *more])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def lake_and_rules(tmp_path: Path) -> tuple[Path, Path]:
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    records = [_okta(f"fail-{n}", "user.session.start", "eve", start + timedelta(minutes=n)) for n in range(3)]
    records.append(_okta("lock-1", "user.account.lock", "eve", start + timedelta(minutes=4)))
    events = tmp_path / "okta.jsonl"
    events.write_text("".join(json.dumps(r) + "\n" for r in records))
    rules = tmp_path / "rules"
    rules.mkdir()
    for n, document in enumerate(ALL):
        (rules / f"rule_{n}.yml").write_text(document)
    lake = tmp_path / "lake"
    result = CliRunner().invoke(main, ["ingest", str(events), "--lake", str(lake)])
    assert result.exit_code == 0, result.output
    return rules, lake


def test_detect_with_a_level_alerts_from_it_up_and_keeps_its_own_progress(lake_and_rules: tuple[Path, Path]) -> None:
    rules, lake = lake_and_rules
    high = _detect(rules, lake, "--min-level", "HIGH")
    assert sorted((a["rule_title"], a["level"]) for a in high) == [
        ("Bursts of failures on two accounts", "critical"),
        ("Okta account locked", "high"),
    ]
    # The run with a level moved only its own progress: a plain run still reads every event,
    # and finds the alerts stored already under the same ids (not new, so not printed).
    every = _detect(rules, lake)
    titles = sorted(str(a["rule_title"]) for a in every)
    assert titles == ["Any Okta event"] * 4 + ["Okta sign-in failure"] * 3 + ["Three failures of one user"]
    assert _detect(rules, lake, "--min-level", "high") == []  # nothing new for that run either


def test_an_unknown_level_is_a_usage_error(lake_and_rules: tuple[Path, Path]) -> None:
    rules, lake = lake_and_rules
    result = CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake), "--min-level", "severe"])
    assert result.exit_code == 2
    assert "informational" in result.output and "critical" in result.output
