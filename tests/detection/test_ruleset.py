"""The library API: compile rule files once, evaluate them on frames, explain a verdict."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from auditlake.detection import correlation_plan
from auditlake.detection.compile import compile_rules
from auditlake.detection.correlation_plan import Comparison, Operator
from auditlake.detection.evaluate import (
    RULE_ID_COLUMN,
    correlate_matched,
    evaluate,
    evaluate_correlations,
    explain,
)
from auditlake.detection.rendering import PLAN_NAMES, plan_source

FAILED_LOGIN = """\
title: Okta failed sign-in
id: 11111111-1111-4111-8111-111111111111
name: failed_login
status: test
logsource: {product: okta, service: okta}
detection:
  sel:
    eventType: user.session.start
    outcome.result: FAILURE
  filter:
    actor.alternateId|endswith: '@test.invalid'
  condition: sel and not filter
level: low
"""

BRUTE_FORCE = """\
title: Okta brute force
id: 22222222-2222-4222-8222-222222222222
name: brute_force
status: test
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 3, lte: 4}
level: high
"""

REPEATED_BRUTE_FORCE = """\
title: Brute force from several bursts
id: 33333333-3333-4333-8333-333333333333
status: test
correlation:
  type: event_count
  rules: [brute_force]
  group-by: [actor.alternateId]
  timespan: 1h
  condition: {gte: 2}
level: critical
"""

CLOUDTRAIL_STOP = """\
title: CloudTrail logging stopped
id: 44444444-4444-4444-8444-444444444444
status: test
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: StopLogging
  condition: sel
level: high
"""

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    (tmp_path / "okta.yml").write_text(FAILED_LOGIN + "---\n" + BRUTE_FORCE + "---\n" + REPEATED_BRUTE_FORCE)
    (tmp_path / "aws.yml").write_text(CLOUDTRAIL_STOP)
    return tmp_path


def _okta(minute: float, actor: str, result: str = "FAILURE") -> dict[str, object]:
    return {
        "source": "okta.system",
        "time": T0 + dt.timedelta(minutes=minute),
        "event_uid": f"okta-{actor}-{minute}",
        "eventType": "user.session.start",
        "outcome.result": result,
        "actor.alternateId": actor,
        "eventName": None,
    }


def _cloudtrail(minute: float, name: str) -> dict[str, object]:
    return {
        "source": "aws.cloudtrail",
        "time": T0 + dt.timedelta(minutes=minute),
        "event_uid": f"ct-{minute}",
        "eventType": "user.session.start",  # same field name, other source: must not match
        "outcome.result": "FAILURE",
        "actor.alternateId": "bob",
        "eventName": name,
    }


def test_rules_and_correlations_compile_from_files(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    assert ruleset.failures == ()
    assert {r.id for r in ruleset.rules} == {
        "11111111-1111-4111-8111-111111111111",
        "44444444-4444-4444-8444-444444444444",
    }
    failed_login = ruleset.by_id["11111111-1111-4111-8111-111111111111"]
    assert failed_login.sources == {"okta.system"}
    assert failed_login.output is False  # only referenced by a correlation
    plans = {p.key: p for p in ruleset.correlations}
    # The range survives although pySigma alone rejects two operators.
    assert plans["brute_force"].condition is not None
    assert plans["brute_force"].condition.comparisons == (
        Comparison(Operator.GTE, 3),
        Comparison(Operator.LTE, 4),
    )


MISNAMED = """\
title: Bursts of a misspelt rule
id: 55555555-5555-4555-8555-555555555555
name: misnamed
status: test
correlation:
  type: event_count
  rules: [failed_logins, 66666666-6666-4666-8666-666666666666]
  timespan: 10m
  condition: {gte: 3}
level: high
---
title: Chained on the misspelt one
id: 77777777-7777-4777-8777-777777777777
status: test
correlation:
  type: event_count
  rules: [misnamed]
  timespan: 1h
  condition: {gte: 2}
level: high
"""


@pytest.mark.parametrize("cached", [False, True])
def test_a_correlation_naming_a_missing_rule_fails_alone(rules_dir: Path, tmp_path: Path, cached: bool) -> None:
    """A mistyped reference (by name or by id) fails its correlation and those chained on it,
    each with what it misses; every other rule and correlation compiles and runs."""
    from auditlake.detection.rulecache import compile_rules_cached

    (rules_dir / "misnamed.yml").write_text(MISNAMED)
    ruleset = compile_rules_cached([rules_dir], cache_dir=tmp_path / "cache") if cached else compile_rules([rules_dir])
    failures = {(f.rule_id, f.reason): f.message for f in ruleset.failures}
    assert set(failures) == {
        ("55555555-5555-4555-8555-555555555555", "reference"),
        ("77777777-7777-4777-8777-777777777777", "reference"),
    }
    assert "'failed_logins', '66666666-6666-4666-8666-666666666666'" in failures[
        ("55555555-5555-4555-8555-555555555555", "reference")
    ]
    assert "reads 'misnamed', a correlation that does not compile either" in failures[
        ("77777777-7777-4777-8777-777777777777", "reference")
    ]
    assert {p.key for p in ruleset.correlations} == {"brute_force", "33333333-3333-4333-8333-333333333333"}
    assert len(ruleset.rules) == 2
    events = pl.DataFrame([_okta(m, "alice") for m in (0, 1, 2)])
    hits = evaluate_correlations(ruleset, events.lazy())
    assert hits["brute_force"].height == 1


@pytest.mark.parametrize(
    "correlation",
    [
        "{type: event_count, rules: failed_login, timespan: 10m}",  # rules: not a list
        "{type: value_count, rules: [failed_login], timespan: 10m, condition: {gte: 2}}",  # no field
        "[event_count, failed_login]",  # not a mapping
    ],
)
def test_a_correlation_pysigma_cannot_read_fails_alone(rules_dir: Path, correlation: str) -> None:
    """pySigma raises, rather than collects, on some malformed correlations: the document
    fails with what to check, and the other documents of its file and of the run compile."""
    beside = CLOUDTRAIL_STOP.replace("44444444-4444-4444-8444-444444444444", "88888888-8888-4888-8888-888888888888")
    (rules_dir / "odd.yml").write_text(
        beside + "---\ntitle: Odd\nid: 99999999-9999-4999-8999-999999999999\ncorrelation: " + correlation + "\n"
    )
    ruleset = compile_rules([rules_dir])
    assert [(f.rule_id, f.title, f.reason) for f in ruleset.failures] == [
        ("99999999-9999-4999-8999-999999999999", "Odd", "pysigma")
    ]
    assert ruleset.failures[0].message.startswith("pySigma cannot read this document (")
    assert "88888888-8888-4888-8888-888888888888" in ruleset.by_id
    assert {p.key for p in ruleset.correlations} == {"brute_force", "33333333-3333-4333-8333-333333333333"}


@pytest.mark.parametrize("cached", [False, True])
def test_a_file_that_is_not_yaml_fails_alone(rules_dir: Path, tmp_path: Path, cached: bool) -> None:
    """A rule file pySigma cannot even parse, with or without a correlation in it, is reported
    with its YAML error; the other files compile."""
    from auditlake.detection.rulecache import compile_rules_cached

    (rules_dir / "broken.yml").write_text("title: x\nid: [\n")
    (rules_dir / "broken_correlation.yml").write_text("title: y\ncorrelation: {\n")
    ruleset = compile_rules_cached([rules_dir], cache_dir=tmp_path / "cache") if cached else compile_rules([rules_dir])
    failures = sorted((Path(f.path or "").name, f.reason) for f in ruleset.failures)
    assert failures == [("broken.yml", "yaml"), ("broken_correlation.yml", "yaml")]
    assert all(f.message.startswith("the file is not valid YAML: ") for f in ruleset.failures)
    assert len(ruleset.rules) == 2 and len(ruleset.correlations) == 2


def test_evaluate_routes_each_rule_to_its_source(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    frame = pl.DataFrame([_okta(0, "bob"), _okta(1, "eve@test.invalid"), _cloudtrail(2, "StopLogging")])
    hits = evaluate(ruleset.rules, frame.lazy()).collect()
    assert sorted(zip(hits["event_uid"], hits[RULE_ID_COLUMN], strict=True)) == [
        ("ct-2", "44444444-4444-4444-8444-444444444444"),
        ("okta-bob-0", "11111111-1111-4111-8111-111111111111"),
    ]


def test_frames_without_a_source_column_use_the_plain_condition(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    frame = pl.DataFrame([_okta(0, "bob")]).drop("source")
    hits = evaluate(ruleset.rules, frame.lazy()).collect()
    assert hits[RULE_ID_COLUMN].to_list() == ["11111111-1111-4111-8111-111111111111"]


def test_correlations_and_chains(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    # Two bursts of three failures for bob, 30 minutes apart; two for alice (below threshold).
    events = [_okta(m, "bob") for m in (0, 1, 2, 30, 31, 32)] + [_okta(m, "alice") for m in (0, 1)]
    results = evaluate_correlations(ruleset, pl.DataFrame(events).lazy())
    brute = results["brute_force"]
    assert brute["actor.alternateId"].to_list() == ["bob", "bob"]
    assert brute["value"].to_list() == [3.0, 3.0]
    assert brute["event_uids"].to_list()[0] == ["okta-bob-0", "okta-bob-1", "okta-bob-2"]
    chained = results["33333333-3333-4333-8333-333333333333"]
    assert chained.height == 1 and chained["actor.alternateId"].item() == "bob"


def test_a_correlation_counts_only_the_matches_of_the_rules_it_names(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    # Two failures for bob, and a CloudTrail rule's match with bob's name between them.
    events = [_okta(0, "bob"), _cloudtrail(0.5, "StopLogging"), _okta(1, "bob")]
    matched = evaluate(ruleset.rules, pl.DataFrame(events).lazy()).collect()
    assert set(matched[RULE_ID_COLUMN]) == {"11111111-1111-4111-8111-111111111111", "44444444-4444-4444-8444-444444444444"}
    assert correlate_matched(ruleset, matched)["brute_force"].is_empty()
    third = evaluate(ruleset.rules, pl.DataFrame([_okta(2, "bob")]).lazy()).collect()
    hits = correlate_matched(ruleset, pl.concat([matched, third]))["brute_force"]
    assert hits["event_uids"].to_list() == [["okta-bob-0", "okta-bob-1", "okta-bob-2"]]


def test_explain_names_the_selections(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    rule = ruleset.by_id["11111111-1111-4111-8111-111111111111"]
    verdicts = explain(rule, pl.DataFrame([_okta(0, "bob"), _okta(1, "eve@test.invalid")]))
    assert [(v.matched, dict(v.selections)) for v in verdicts] == [
        (True, {"sel": True, "filter": False}),
        (False, {"sel": True, "filter": True}),
    ]
    assert "does not match" in verdicts[1].describe() and "filter=yes" in verdicts[1].describe()


def test_rendered_plans_rebuild_the_same_plan(rules_dir: Path) -> None:
    ruleset = compile_rules([rules_dir])
    env = {name: getattr(correlation_plan, name) for name in PLAN_NAMES} | {"datetime": dt}
    for plan in ruleset.correlations:
        assert eval(plan_source(plan), env) == plan


RAW_GROUPED = """\
title: Key created
id: 66666666-6666-4666-8666-666666666661
name: key_created
status: test
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: CreateAccessKey
    requestParameters.userName|exists: true
  condition: sel
level: low
---
title: Keys created for one user by several people
id: 66666666-6666-4666-8666-666666666662
status: test
correlation:
  type: value_count
  rules: [key_created]
  group-by: [requestParameters.userName]
  timespan: 1h
  condition: {field: userIdentity.arn, gte: 2}
level: high
"""


def test_correlation_fields_are_read_from_raw_json_like_rule_fields(tmp_path: Path) -> None:
    """`requestParameters.userName` has no column: it is read from the raw record by path."""
    (tmp_path / "rules.yml").write_text(RAW_GROUPED)
    ruleset = compile_rules([tmp_path / "rules.yml"])

    def event(minute: int, caller: str, user: str) -> dict[str, object]:
        raw = f'{{"eventName": "CreateAccessKey", "requestParameters": {{"userName": "{user}"}}}}'
        return {"source": "aws.cloudtrail", "time": T0 + dt.timedelta(minutes=minute),
                "event_uid": f"k{minute}", "eventName": "CreateAccessKey",
                "userIdentity.arn": caller, "raw": raw}

    frame = pl.DataFrame([event(0, "arn:a", "bob"), event(5, "arn:b", "bob"), event(6, "arn:a", "carol")])
    hits = evaluate_correlations(ruleset, frame.lazy())["66666666-6666-4666-8666-666666666662"]
    assert hits["requestParameters.userName"].to_list() == ["bob"]
    assert hits["value"].to_list() == [2.0]


def test_numeric_path_parts_index_json_arrays() -> None:
    from auditlake.detection import ir
    from auditlake.detection.lower import BindOptions, bind

    frame = pl.DataFrame({"raw": ['{"target": [{"alternateId": "x"}, {"alternateId": "admin"}]}']})
    leaf = ir.Leaf("target.1.alternateId", "eq", ("admin",))
    assert frame.select(bind(leaf, frame.schema, BindOptions(json_fallback=True))).item() is True
