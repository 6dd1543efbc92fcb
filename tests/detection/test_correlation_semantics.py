"""Correlation rules as the Sigma correlation specification words them, end to end from YAML.

Each test compiles a small collection (`compile_collection`) and evaluates it on a hand-made
frame. The chained examples follow the specification's own "Failed Logins Followed by
Successful Login": a temporal_ordered correlation over an event_count correlation and a rule.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sigma.collection import SigmaCollection

from auditlake.detection.compile import RuleSet, compile_collection
from auditlake.detection.correlate import evaluate_correlation
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.evaluate import RULE_ID_COLUMN, evaluate, evaluate_correlations

T0 = datetime(2024, 1, 1, tzinfo=UTC)

RULES = """
title: Failed login
id: 11111111-1111-4111-8111-111111111111
name: failed_login
status: test
logsource: {product: test}
detection:
  sel: {outcome: failure}
  condition: sel
---
title: Successful login
id: 22222222-2222-4222-8222-222222222222
name: successful_login
status: test
logsource: {product: test}
detection:
  sel: {outcome: success}
  condition: sel
"""

CHAIN = """
---
title: Failed logins followed by a successful login
id: 33333333-3333-4333-8333-333333333333
correlation:
  type: temporal_ordered
  rules: [multiple_failed_login, successful_login]
  group-by: [User]
  timespan: 10m
---
title: Multiple failed logins
id: 44444444-4444-4444-8444-444444444444
name: multiple_failed_login
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [{child_group_by}]
  timespan: 10m
  condition: {{gte: 3}}
"""


def _compile(text: str) -> RuleSet:
    return compile_collection(SigmaCollection.from_yaml(text))


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"event_uid": f"e{i}", **row, "time": T0 + timedelta(seconds=row["time"])}
            for i, row in enumerate(rows)
        ]
    )


def _matches(ruleset: RuleSet, frame: pl.DataFrame, plan: CorrelationPlan) -> dict[str, pl.DataFrame]:
    """Each referenced detection rule's matched events, as the plan reads them."""
    matched = evaluate(ruleset.rules, frame.lazy()).collect()
    by_key = {key: rule for rule in ruleset.rules for key in (rule.id, rule.name) if key}
    return {
        key: matched.filter(pl.col(RULE_ID_COLUMN) == by_key[key].id).select(plan.required_columns(key))
        for key in plan.distinct_rules
        if key in by_key
    }


def _plans(ruleset: RuleSet) -> dict[str, CorrelationPlan]:
    return {plan.key: plan for plan in ruleset.correlations}


def test_a_parent_sees_its_child_wherever_the_child_holds_not_only_where_it_starts() -> None:
    """Failures every minute for half an hour, a success at 25:30: the ten minutes before the
    success hold ten failures ("multiple failed logins", gte 3 in 10m), so the specification's
    chain matches there. The child's alerts are suppressed to 2:00, when the burst starts; read
    as the parent's events, they would put the success 23 minutes after "multiple failed
    logins" and the chain would never match."""
    ruleset = _compile(RULES + CHAIN.format(child_group_by="User"))
    assert not ruleset.failures
    plans = _plans(ruleset)
    child, parent = plans["multiple_failed_login"], plans["33333333-3333-4333-8333-333333333333"]
    rows = [{"outcome": "failure", "User": "bob", "time": 60 * minute} for minute in range(31)]
    frame = _frame([*rows, {"outcome": "success", "User": "bob", "time": 25 * 60 + 30}])
    inputs = _matches(ruleset, frame, child)

    alerts = evaluate_correlation(child, inputs)
    assert alerts["window_end"].to_list() == [T0 + timedelta(minutes=2)]
    stream = evaluate_correlation(child, inputs, every_window=True)
    assert stream["window_end"].to_list() == [T0 + timedelta(minutes=m) for m in range(2, 31)]

    success = _matches(ruleset, frame, parent)["successful_login"]
    hits = evaluate_correlation(parent, {"multiple_failed_login": stream, "successful_login": success})
    assert hits.select("User", "window_end").rows() == [("bob", T0 + timedelta(minutes=25, seconds=30))]
    assert evaluate_correlation(
        parent, {"multiple_failed_login": alerts, "successful_login": success}
    ).is_empty()


def test_every_window_of_an_ordered_sequence_includes_later_events_of_its_window() -> None:
    """a, b, then a again within the span: the window ending at the second a still holds "a
    then b", so a parent reading the sequence sees it there too."""
    ruleset = _compile(
        RULES
        + """
---
title: Failure then success
name: failure_then_success
correlation: {type: temporal_ordered, rules: [failed_login, successful_login], timespan: 1m}
"""
    )
    plan = _plans(ruleset)["failure_then_success"]
    frame = _frame(
        [
            {"outcome": "failure", "time": 0},
            {"outcome": "success", "time": 1},
            {"outcome": "failure", "time": 2},
        ]
    )
    inputs = _matches(ruleset, frame, plan)
    assert evaluate_correlation(plan, inputs)["window_end"].to_list() == [T0 + timedelta(seconds=1)]
    stream = evaluate_correlation(plan, inputs, every_window=True)
    assert stream["window_end"].to_list() == [T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    assert stream["event_uids"].to_list() == [["e0", "e1"], ["e0", "e1", "e2"]]


def test_a_parent_grouped_by_a_field_its_child_does_not_hold_fails_alone_at_compile() -> None:
    """The specification's note: the child may group by ComputerName while the parent groups
    by User. A child's hits carry its own group-by columns only, so the parent cannot be
    evaluated: it fails at compile time, naming the rule, and everything else still runs
    (it used to compile and then stop every correlation of the evaluation with an error)."""
    ruleset = _compile(RULES + CHAIN.format(child_group_by="ComputerName"))
    failures = {f.rule_id: f.message for f in ruleset.failures}
    assert set(failures) == {"33333333-3333-4333-8333-333333333333"}
    assert "'multiple_failed_login' has no column ['User']" in failures["33333333-3333-4333-8333-333333333333"]
    assert [plan.key for plan in ruleset.correlations] == ["multiple_failed_login"]
    frame = _frame([{"outcome": "failure", "User": "bob", "ComputerName": "pc1", "time": s} for s in range(3)])
    hits = evaluate_correlations(ruleset, frame.lazy())
    assert hits["multiple_failed_login"].select("ComputerName", "value").rows() == [("pc1", 3.0)]


def test_a_parent_may_read_its_childs_group_by_and_output_columns() -> None:
    """Grouping by the child's group-by (directly or through an alias) and aggregating the
    child's `value` stay accepted."""
    ruleset = _compile(
        RULES
        + CHAIN.format(child_group_by="User")
        + """
---
title: Failure counts summed
name: summed
correlation:
  type: value_sum
  rules: [multiple_failed_login]
  group-by: [account]
  aliases: {account: {multiple_failed_login: User}}
  timespan: 1h
  condition: {field: value, gte: 6}
"""
    )
    assert not ruleset.failures
    assert {plan.key for plan in ruleset.correlations} == {
        "33333333-3333-4333-8333-333333333333",
        "multiple_failed_login",
        "summed",
    }


def test_the_engine_and_the_module_format_feed_a_parent_every_window_of_its_child() -> None:
    """The chain of the first test as `auditlake detect` evaluates it (`evaluate_correlations`)
    and as `sigma convert -f module` does (`correlate`): the parent matches at 25:30, and the
    child's own hits (its alerts) stay the burst's start."""
    from auditlake.detection.backend import PolarsBackend

    text = RULES + CHAIN.format(child_group_by="User")
    rows = [{"outcome": "failure", "User": "bob", "time": 60 * minute} for minute in range(31)]
    frame = _frame([*rows, {"outcome": "success", "User": "bob", "time": 25 * 60 + 30}])
    parent = "33333333-3333-4333-8333-333333333333"

    engine = evaluate_correlations(_compile(text), frame.lazy())
    assert engine[parent].select("User", "window_end").rows() == [("bob", T0 + timedelta(minutes=25, seconds=30))]
    assert engine["multiple_failed_login"]["window_end"].to_list() == [T0 + timedelta(minutes=2)]

    module: dict[str, Any] = {}
    exec(compile(PolarsBackend().convert(SigmaCollection.from_yaml(text), "module"), "rules.py", "exec"), module)
    found = module["correlate"](module["with_rule_columns"](frame))
    assert found[parent].select("User", "window_end").rows() == [("bob", T0 + timedelta(minutes=25, seconds=30))]
