"""Correlation evaluation against a brute-force reference that enumerates every window.

The reference below is deliberately naive: for each group and each distinct event time `t` it
lists the events of `(t - span, t]` and of `(t - span, t)` and decides the condition from
scratch. Hypothesis draws small streams whose timestamps come from a few seconds, so equal
timestamps and events exactly `span` apart are common.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from auditlake.detection import correlate
from auditlake.detection.correlate import evaluate_correlation, output_schema
from auditlake.detection.correlation_plan import (
    And,
    Comparison,
    Condition,
    ConditionNode,
    CorrelationError,
    CorrelationPlan,
    CorrelationType,
    FieldAlias,
    Not,
    Operator,
    Or,
    RuleRef,
)
from auditlake.detection.correlation_reader import plan_from_yaml

BASE = datetime(2024, 3, 1, tzinfo=UTC)
T = CorrelationType
NUMERIC = (T.VALUE_SUM, T.VALUE_AVG, T.VALUE_MEDIAN, T.VALUE_PERCENTILE)
TEMPORAL = (T.TEMPORAL, T.TEMPORAL_ORDERED)
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def make_plan(
    ctype: CorrelationType,
    rules: Sequence[str],
    *,
    span: float = 3,
    group_by: Sequence[str] = (),
    comparisons: Sequence[Comparison] = (Comparison(Operator.GTE, 1),),
    fields: Sequence[str] = (),
    percentile: float | None = None,
    extended: ConditionNode | None = None,
    aliases: Sequence[FieldAlias] = (),
    name: str = "corr",
) -> CorrelationPlan:
    condition = None if extended else Condition(tuple(comparisons), tuple(fields), percentile)
    return CorrelationPlan(
        id=None,
        name=name,
        title=name,
        type=ctype,
        rules=tuple(rules),
        group_by=tuple(group_by),
        timespan=timedelta(seconds=span),
        condition=condition,
        extended=extended,
        aliases=tuple(aliases),
        generate=False,
    )


def events(
    rows: Sequence[Mapping[str, Any]], schema: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """A matches frame; `time` given in seconds after BASE."""
    columns: dict[str, pl.DataType] = {"time": pl.Datetime("us", "UTC"), "event_uid": pl.String()}
    columns.update(schema or {})
    data = [{**row, "time": None if row.get("time") is None else at(row["time"])} for row in rows]
    return pl.DataFrame(data, schema=columns)


# --- the reference -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    group: tuple[Any, ...]
    time: datetime
    uid: str
    rule: int
    value: Any


def _number(raw: Any, dtype: pl.DataType) -> float | None:
    if raw is None:
        return None
    if dtype.is_numeric():
        return float(raw)
    if dtype == pl.String:
        try:
            return float(raw)
        except ValueError:
            return None
    return None


def _reference_events(plan: CorrelationPlan, matches: Mapping[str, pl.DataFrame]) -> list[Event]:
    found: list[Event] = []
    seen: set[tuple[Any, ...]] = set()
    for index, key in enumerate(plan.distinct_rules):
        frame = matches[key]
        for row in frame.iter_rows(named=True):
            group = tuple(row[plan.column(name, key)] for name in plan.group_by)
            if row["time"] is None or row["event_uid"] is None or None in group:
                continue
            value: Any = None
            if plan.type in NUMERIC:
                column = plan.column(plan.fields[0], key)
                value = _number(row[column], frame.schema[column])
                if value is None or not math.isfinite(value):
                    continue
            elif plan.type is T.VALUE_COUNT:
                value = tuple(row[plan.column(name, key)] for name in plan.fields)
                if all(item is None for item in value):
                    continue
            if plan.type not in TEMPORAL:
                identity = (group, row["time"], row["event_uid"])
                if identity in seen:
                    continue
                seen.add(identity)
            found.append(Event(group, row["time"], row["event_uid"], index, value))
    return found


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _aggregate(plan: CorrelationPlan, window: list[Event]) -> float:
    values = [event.value for event in window]
    percentile = plan.condition.percentile if plan.condition else None
    aggregates = {
        T.EVENT_COUNT: lambda: len(window),
        T.VALUE_COUNT: lambda: len(set(values)),
        T.VALUE_SUM: lambda: sum(values),
        T.VALUE_AVG: lambda: sum(values) / len(values),
        T.VALUE_MEDIAN: lambda: _quantile(values, 0.5),
        T.VALUE_PERCENTILE: lambda: _quantile(values, (percentile or 0) / 100),
    }
    # Temporal types: how many distinct referenced rules the window holds.
    return aggregates.get(plan.type, lambda: len({event.rule for event in window}))()


def _compare(value: float, comparison: Comparison) -> bool:
    threshold = comparison.threshold
    return {
        Operator.GT: value > threshold,
        Operator.GTE: value >= threshold,
        Operator.LT: value < threshold,
        Operator.LTE: value <= threshold,
        Operator.EQ: value == threshold,
        Operator.NEQ: value != threshold,
    }[comparison.op]


def _evaluate_tree(node: ConditionNode, present: set[str]) -> bool:
    if isinstance(node, RuleRef):
        return node.key in present
    if isinstance(node, Not):
        return not _evaluate_tree(node.operand, present)
    results = [_evaluate_tree(operand, present) for operand in node.operands]
    return all(results) if isinstance(node, And) else any(results)


def _in_order(plan: CorrelationPlan, window: list[Event]) -> bool:
    """Is there one event per listed rule at strictly increasing times? (earliest-first greedy)"""
    index = {key: i for i, key in enumerate(plan.distinct_rules)}
    previous: datetime | None = None
    for key in plan.rules:
        later = [
            e.time
            for e in window
            if e.rule == index[key] and (previous is None or e.time > previous)
        ]
        if not later:
            return False
        previous = min(later)
    return True


def _holds(plan: CorrelationPlan, window: list[Event]) -> bool:
    if not window:
        return False
    if plan.extended is not None:
        present = {plan.distinct_rules[event.rule] for event in window}
        return _evaluate_tree(plan.extended, present)
    if plan.type is T.TEMPORAL_ORDERED:
        return _in_order(plan, window)
    assert plan.condition is not None
    value = _aggregate(plan, window)
    return all(_compare(value, c) for c in plan.condition.comparisons)


def reference(
    plan: CorrelationPlan, matches: Mapping[str, pl.DataFrame], *, every_window: bool = False
) -> pl.DataFrame:
    """The hits, by enumerating every window of every group (with `every_window`, every window
    that satisfies the condition, whether or not the window before its last events did)."""
    span = plan.timespan
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    for event in _reference_events(plan, matches):
        groups[event.group].append(event)
    rows = []
    for group, members in groups.items():
        for t in sorted({event.time for event in members}):
            window = [e for e in members if t - span < e.time <= t]
            before = [e for e in window if e.time < t]
            if not _holds(plan, window) or (not every_window and _holds(plan, before)):
                continue
            ordered = sorted(window, key=lambda e: (e.time, e.uid, e.rule))
            uids = list(dict.fromkeys(e.uid for e in ordered))
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            hit_id = f"{plan.key}|{stamp}"
            if plan.group_by:
                encoded = json.dumps(
                    dict(zip(plan.group_by, group, strict=True)), separators=(",", ":")
                )
                hit_id += f"|{encoded}"
            rows.append(
                {
                    **dict(zip(plan.group_by, group, strict=True)),
                    "window_start": ordered[0].time,
                    "window_end": t,
                    "time": t,
                    "value": None if plan.type in TEMPORAL else float(_aggregate(plan, window)),
                    "event_uids": uids,
                    "rule_keys": [plan.distinct_rules[i] for i in sorted({e.rule for e in window})],
                    "event_uid": hit_id,
                }
            )
    first = plan.distinct_rules[0]
    dtypes = {name: matches[first].schema[plan.column(name, first)] for name in plan.group_by}
    rows.sort(key=lambda row: (row["time"], *(row[name] for name in plan.group_by)))
    return pl.DataFrame(rows, schema=output_schema(plan, dtypes))


# --- random scenarios --------------------------------------------------------------------------

SECONDS = [*range(13), None]
UIDS = [*(f"e{i}" for i in range(10)), None]
HOSTS = ["h1", "h2", None]
NUMBERS: dict[pl.DataType, list[Any]] = {
    pl.Int64(): [0, 1, 2, 3, 4, None],
    pl.Float64(): [0.0, 0.5, 1.0, 2.5, 4.0, -1.5, None, math.nan, math.inf],
    pl.String(): ["3", "2.5", "-1", "x", "", None],
}
USERS = ["u1", "u2", "u3", None]


@dataclass(frozen=True)
class Scenario:
    plan: CorrelationPlan
    matches: dict[str, pl.DataFrame]


def _trees(keys: list[str]) -> st.SearchStrategy[ConditionNode]:
    leaves: st.SearchStrategy[ConditionNode] = st.sampled_from(keys).map(RuleRef)

    def extend(children: st.SearchStrategy[ConditionNode]) -> st.SearchStrategy[ConditionNode]:
        several = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(children.map(Not), several.map(And), several.map(Or))

    return st.recursive(leaves, extend, max_leaves=4)


@st.composite
def comparisons(draw: st.DrawFn, thresholds: Sequence[float]) -> tuple[Comparison, ...]:
    count = draw(st.integers(1, 2))
    return tuple(
        Comparison(draw(st.sampled_from(list(Operator))), draw(st.sampled_from(thresholds)))
        for _ in range(count)
    )


@dataclass(frozen=True)
class Shape:
    """What a scenario's condition reads: field names, comparisons, percentile, extended tree."""

    fields: list[str]
    comparisons: tuple[Comparison, ...]
    percentile: int | None = None
    extended: ConditionNode | None = None


@st.composite
def shapes(draw: st.DrawFn, ctype: CorrelationType, keys: list[str], rules: list[str]) -> Shape:
    if ctype in NUMERIC:
        # Quarter quantiles of half-integers are exact in binary floating point.
        percentile = draw(st.sampled_from([0, 25, 50, 75, 100]))
        return Shape(
            ["val"],
            draw(comparisons([-1, 0, 1, 2, 2.5, 4])),
            percentile if ctype is T.VALUE_PERCENTILE else None,
        )
    if ctype is T.VALUE_COUNT:
        fields = draw(st.sampled_from([["user"], ["user", "role"]]))
        return Shape(fields, draw(comparisons([0, 1, 2, 2.5, 3])))
    if ctype is T.EVENT_COUNT:
        return Shape([], draw(comparisons([0, 1, 2, 3, 3.5, 5])))
    if ctype is T.TEMPORAL and draw(st.booleans()):
        return Shape([], (), extended=draw(_trees(keys)))
    if ctype is T.TEMPORAL:
        return Shape([], draw(comparisons([0, 1, 2, 3])))
    return Shape([], (Comparison(Operator.GTE, len(rules)),))


@st.composite
def scenarios(
    draw: st.DrawFn,
    types: Sequence[CorrelationType] = tuple(CorrelationType),
    grouped: bool | None = None,
) -> Scenario:
    ctype = draw(st.sampled_from(types))
    keys = [f"r{i}" for i in range(draw(st.integers(1, 3)))]
    rules = keys
    if ctype is T.TEMPORAL_ORDERED:
        rules = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3))
        keys = list(dict.fromkeys(rules))
    grouped = draw(st.booleans()) if grouped is None else grouped
    aliased = draw(st.booleans())

    def column(name: str, i: int) -> str:
        # With aliases, rule i (but the last, which falls back to the alias name) renames it.
        return f"{name}_{i}" if aliased and i < len(keys) - 1 else name

    shape = draw(shapes(ctype, keys, rules))
    group_by = ["host"] if grouped else []
    aliases = [
        FieldAlias(name, tuple((key, column(name, i)) for i, key in enumerate(keys)))
        for name in [*group_by, *shape.fields]
        if aliased
    ]
    plan = make_plan(
        ctype,
        rules,
        span=draw(st.sampled_from([1, 2, 3, 5])),
        group_by=group_by,
        comparisons=shape.comparisons,
        fields=shape.fields,
        percentile=shape.percentile,
        extended=shape.extended,
        aliases=aliases,
    )
    value_type = draw(st.sampled_from(list(NUMBERS)))
    types_of = {"host": pl.String(), "val": value_type, "user": pl.String(), "role": pl.String()}
    matches = {}
    shared: list[dict[str, Any]] = []
    for i, key in enumerate(keys):
        rows = [
            {
                "time": draw(st.sampled_from(SECONDS)),
                "event_uid": draw(st.sampled_from(UIDS)),
                "host": draw(st.sampled_from(HOSTS)),
                "val": draw(st.sampled_from(NUMBERS[value_type])),
                "user": draw(st.sampled_from(USERS)),
                "role": draw(st.sampled_from(USERS)),
            }
            for _ in range(draw(st.integers(0, 6)))
        ]
        if shared and draw(st.booleans()):
            # The same event matched by two rules (same time and uid).
            rows += draw(st.lists(st.sampled_from(shared), max_size=2))
        shared += rows
        wanted = ["host", *shape.fields]
        schema = {column(name, i): types_of[name] for name in wanted}
        data = [
            {"time": row["time"], "event_uid": row["event_uid"]}
            | {column(name, i): row[name] for name in wanted}
            for row in rows
        ]
        matches[key] = events(data, schema)
    return Scenario(plan, matches)


def assert_same(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    assert_frame_equal(actual, expected, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


# --- properties --------------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_matches_reference(scenario: Scenario) -> None:
    assert_same(
        evaluate_correlation(scenario.plan, scenario.matches),
        reference(scenario.plan, scenario.matches),
    )


@PROPERTY
@given(scenarios(types=[CorrelationType.VALUE_COUNT]))
def test_distinct_counts_by_join_match_reference(scenario: Scenario) -> None:
    """value_count's fallback for (group, time) keys too wide to pack into one integer."""
    with patch.object(correlate, "PACKED_KEY_BITS", 0):
        assert_same(
            evaluate_correlation(scenario.plan, scenario.matches),
            reference(scenario.plan, scenario.matches),
        )


@pytest.mark.parametrize("ctype", list(CorrelationType))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_matches_reference_per_type(ctype: CorrelationType, data: st.DataObject) -> None:
    scenario = data.draw(scenarios(types=[ctype]))
    assert_same(
        evaluate_correlation(scenario.plan, scenario.matches),
        reference(scenario.plan, scenario.matches),
    )


def _split(frames: Mapping[str, pl.DataFrame], keep: pl.Expr) -> dict[str, pl.DataFrame]:
    return {key: frame.filter(keep) for key, frame in frames.items()}


@PROPERTY
@given(scenarios(), st.sampled_from(range(14)))
def test_bounded_look_back(scenario: Scenario, split: int) -> None:
    """Evaluating [s, inf) over events from s - span on, plus (-inf, s), equals one evaluation."""
    plan, matches = scenario.plan, scenario.matches
    s = at(split)
    early = evaluate_correlation(plan, _split(matches, pl.col("time") < s))
    late = evaluate_correlation(plan, _split(matches, pl.col("time") >= s - plan.timespan))
    combined = pl.concat([early, late.filter(pl.col("window_end") >= s)])
    assert early.filter(pl.col("window_end") >= s).is_empty()
    assert_same(combined, evaluate_correlation(plan, matches))


@st.composite
def chains(draw: st.DrawFn) -> tuple[Scenario, CorrelationPlan]:
    """A child scenario and a parent correlation over the child's hits (and maybe a rule)."""
    child = draw(scenarios())
    grouped = bool(child.plan.group_by) and draw(st.booleans())
    group_by = list(child.plan.group_by) if grouped else []
    ctype = draw(
        st.sampled_from([T.EVENT_COUNT, T.VALUE_COUNT, T.VALUE_SUM, T.TEMPORAL, T.TEMPORAL_ORDERED])
    )
    span = draw(st.sampled_from([1, 2, 4]))
    if ctype is T.TEMPORAL_ORDERED:
        rules = draw(st.sampled_from([["child"], ["child", "child"]]))
        return child, make_plan(
            ctype,
            rules,
            span=span,
            group_by=group_by,
            comparisons=(Comparison(Operator.GTE, len(rules)),),
            name="parent",
        )
    if ctype is T.TEMPORAL:
        return child, make_plan(ctype, ["child"], span=span, group_by=group_by, name="parent")
    fields = ["value"] if ctype is not T.EVENT_COUNT else []
    return child, make_plan(
        ctype,
        ["child"],
        span=span,
        group_by=group_by,
        comparisons=draw(comparisons([0, 1, 2, 3])),
        fields=fields,
        name="parent",
    )


@PROPERTY
@given(chains())
def test_chained_matches_reference(chain: tuple[Scenario, CorrelationPlan]) -> None:
    child, parent = chain
    child_hits = evaluate_correlation(child.plan, child.matches)
    assert_same(child_hits, reference(child.plan, child.matches))
    assert_same(
        evaluate_correlation(parent, {"child": child_hits}),
        reference(parent, {"child": reference(child.plan, child.matches)}),
    )


@PROPERTY
@given(scenarios())
def test_every_window_matches_reference(scenario: Scenario) -> None:
    """What a chained correlation reads: a row wherever the condition holds."""
    assert_same(
        evaluate_correlation(scenario.plan, scenario.matches, every_window=True),
        reference(scenario.plan, scenario.matches, every_window=True),
    )


@PROPERTY
@given(scenarios(types=[CorrelationType.TEMPORAL_ORDERED]))
def test_every_window_of_ordered_sequences_matches_reference(scenario: Scenario) -> None:
    """A sequence completed earlier still holds at later events of its window."""
    assert_same(
        evaluate_correlation(scenario.plan, scenario.matches, every_window=True),
        reference(scenario.plan, scenario.matches, every_window=True),
    )


@PROPERTY
@given(chains())
def test_chained_over_every_window_matches_reference(chain: tuple[Scenario, CorrelationPlan]) -> None:
    child, parent = chain
    child_rows = evaluate_correlation(child.plan, child.matches, every_window=True)
    assert_same(
        evaluate_correlation(parent, {"child": child_rows}),
        reference(parent, {"child": reference(child.plan, child.matches, every_window=True)}),
    )


@PROPERTY
@given(chains(), st.sampled_from(range(14)), st.booleans())
def test_chained_look_back_is_the_sum_of_spans(
    chain: tuple[Scenario, CorrelationPlan], split: int, every_window: bool
) -> None:
    child, parent = chain
    s = at(split)

    def run(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        child_rows = evaluate_correlation(child.plan, frames, every_window=every_window)
        return evaluate_correlation(parent, {"child": child_rows})

    look_back = child.plan.timespan + parent.timespan
    early = run(_split(child.matches, pl.col("time") < s))
    late = run(_split(child.matches, pl.col("time") >= s - look_back))
    combined = pl.concat([early, late.filter(pl.col("window_end") >= s)])
    assert_same(combined, run(child.matches))


# --- worked examples ---------------------------------------------------------------------------


def _count_plan(
    threshold: int, span: float = 10, ctype: CorrelationType = T.EVENT_COUNT
) -> CorrelationPlan:
    return make_plan(ctype, ["r"], span=span, comparisons=(Comparison(Operator.GTE, threshold),))


def _times(hits: pl.DataFrame) -> list[float]:
    return [(t - BASE).total_seconds() for t in hits.get_column("time")]


def test_window_excludes_events_exactly_one_span_apart() -> None:
    plan = _count_plan(2, span=5)
    apart = events([{"time": 0, "event_uid": "a"}, {"time": 5, "event_uid": "b"}])
    assert evaluate_correlation(plan, {"r": apart}).is_empty()
    inside = events([{"time": 0, "event_uid": "a"}, {"time": 4.999999, "event_uid": "b"}])
    assert _times(evaluate_correlation(plan, {"r": inside})) == [4.999999]


def test_sliding_window_sees_a_burst_that_straddles_a_tumbling_boundary() -> None:
    minute = 60
    burst = events([{"time": m * minute, "event_uid": f"e{m}"} for m in range(8, 13)])
    hits = evaluate_correlation(_count_plan(5, span=10 * minute), {"r": burst})
    assert _times(hits) == [12 * minute]
    assert hits.get_column("event_uids").to_list() == [[f"e{m}" for m in range(8, 13)]]
    assert hits.get_column("window_start").to_list() == [at(8 * minute)]


def test_a_burst_alerts_once_and_again_after_it_lapses() -> None:
    stream = events([{"time": t, "event_uid": f"e{t}"} for t in [0, 1, 2, 3, 4, 5, 30, 31, 32]])
    hits = evaluate_correlation(_count_plan(3), {"r": stream})
    assert _times(hits) == [2, 32]
    assert hits.get_column("value").to_list() == [3.0, 3.0]


def test_equal_timestamps_share_a_window_and_alert_once() -> None:
    stream = events([{"time": 1, "event_uid": uid} for uid in ["c", "a", "b"]])
    hits = evaluate_correlation(_count_plan(2), {"r": stream})
    assert _times(hits) == [1]
    assert hits.get_column("event_uids").to_list() == [["a", "b", "c"]]


def test_distinct_count_before_the_events_at_t_drops_values_one_span_old() -> None:
    """(t - span, t) excludes t - span: u2 at 8 has left the window (8, 11) of t = 11."""
    plan = make_plan(
        T.VALUE_COUNT, ["r"], fields=["user"], comparisons=(Comparison(Operator.LT, 2),)
    )
    stream = events(
        [
            {"time": 8, "event_uid": "a", "user": "u2"},
            {"time": 9, "event_uid": "b", "user": "u1"},
            {"time": 11, "event_uid": "c", "user": "u1"},
        ],
        {"user": pl.String()},
    )
    assert _times(evaluate_correlation(plan, {"r": stream})) == [8]


def test_distinct_count_of_tuples_counts_partial_nulls() -> None:
    plan = make_plan(
        T.VALUE_COUNT, ["r"], fields=["user", "role"], comparisons=(Comparison(Operator.GTE, 3),)
    )
    stream = events(
        [
            {"time": 0, "event_uid": "a", "user": "u1", "role": None},
            {"time": 1, "event_uid": "b", "user": "u1", "role": "admin"},
            {"time": 1, "event_uid": "c", "user": None, "role": None},  # ignored
            {"time": 2, "event_uid": "d", "user": "u1", "role": None},
            {"time": 2, "event_uid": "e", "user": None, "role": "admin"},
        ],
        {"user": pl.String(), "role": pl.String()},
    )
    hits = evaluate_correlation(plan, {"r": stream})
    assert hits.select("time", "value", "event_uids").to_dicts() == [
        {"time": at(2), "value": 3.0, "event_uids": ["a", "b", "d", "e"]}
    ]


def test_numeric_fields_parse_strings_and_ignore_the_rest() -> None:
    plan = make_plan(
        T.VALUE_SUM, ["r"], fields=["bytes"], comparisons=(Comparison(Operator.GT, 4),)
    )
    stream = events(
        [
            {"time": 0, "event_uid": "a", "bytes": "2.5"},
            {"time": 1, "event_uid": "b", "bytes": "lots"},
            {"time": 1, "event_uid": "c", "bytes": "nan"},
            {"time": 2, "event_uid": "d", "bytes": "2"},
        ],
        {"bytes": pl.String()},
    )
    hits = evaluate_correlation(plan, {"r": stream})
    assert hits.select("value", "event_uids").to_dicts() == [
        {"value": 4.5, "event_uids": ["a", "d"]}
    ]


def test_temporal_ordered_needs_strictly_increasing_times() -> None:
    plan = make_plan(
        T.TEMPORAL_ORDERED, ["a", "b"], span=10, comparisons=(Comparison(Operator.GTE, 2),)
    )

    def run(a_time: float, b_time: float) -> list[float]:
        return _times(
            evaluate_correlation(
                plan,
                {
                    "a": events([{"time": a_time, "event_uid": "x"}]),
                    "b": events([{"time": b_time, "event_uid": "y"}]),
                },
            )
        )

    assert run(0, 1) == [1]
    assert run(1, 1) == []  # equal timestamps are not an order
    assert run(1, 0) == []
    assert run(0, 10) == []  # one span apart: not in one window


def test_temporal_counts_one_event_for_two_rules_and_event_count_counts_it_once() -> None:
    shared = events([{"time": 0, "event_uid": "x"}])
    temporal = make_plan(T.TEMPORAL, ["a", "b"], comparisons=(Comparison(Operator.GTE, 2),))
    hits = evaluate_correlation(temporal, {"a": shared, "b": shared})
    assert hits.get_column("rule_keys").to_list() == [["a", "b"]]
    assert hits.get_column("event_uids").to_list() == [["x"]]
    counted = make_plan(T.EVENT_COUNT, ["a", "b"], comparisons=(Comparison(Operator.GTE, 2),))
    assert evaluate_correlation(counted, {"a": shared, "b": shared}).is_empty()


def test_null_group_values_are_ignored_and_aliases_join_groups() -> None:
    plan = make_plan(
        T.TEMPORAL,
        ["a", "b"],
        group_by=["ip"],
        comparisons=(Comparison(Operator.GTE, 2),),
        aliases=[FieldAlias("ip", (("a", "src"), ("b", "client_ip")))],
    )
    a = events(
        [
            {"time": 0, "event_uid": "a1", "src": "10.0.0.1"},
            {"time": 0, "event_uid": "a2", "src": None},
        ],
        {"src": pl.String()},
    )
    b = events(
        [
            {"time": 1, "event_uid": "b1", "client_ip": "10.0.0.1"},
            {"time": 1, "event_uid": "b2", "client_ip": None},
        ],
        {"client_ip": pl.String()},
    )
    hits = evaluate_correlation(plan, {"a": a, "b": b})
    assert hits.select("ip", "event_uids").to_dicts() == [
        {"ip": "10.0.0.1", "event_uids": ["a1", "b1"]}
    ]


def test_output_columns_and_hit_id_for_chaining() -> None:
    plan = plan_from_yaml(
        """
title: brute force
name: brute
correlation:
  type: event_count
  rules: [fail]
  group-by: [user]
  timespan: 1m
  condition: {gte: 2}
"""
    )
    fail = events(
        [
            {"time": 0, "event_uid": "f1", "user": "ann"},
            {"time": 30, "event_uid": "f2", "user": "ann"},
        ],
        {"user": pl.String()},
    )
    hits = evaluate_correlation(plan, {"fail": fail})
    assert hits.schema == output_schema(plan, {"user": pl.String()})
    assert hits.to_dicts() == [
        {
            "user": "ann",
            "window_start": at(0),
            "window_end": at(30),
            "time": at(30),
            "value": 2.0,
            "event_uids": ["f1", "f2"],
            "rule_keys": ["fail"],
            "event_uid": 'brute|2024-03-01T00:00:30.000000Z|{"user":"ann"}',
        }
    ]
    parent = make_plan(
        T.EVENT_COUNT,
        ["brute"],
        group_by=["user"],
        comparisons=(Comparison(Operator.GTE, 1),),
        name="p",
    )
    chained = evaluate_correlation(parent, {"brute": hits})
    assert chained.get_column("event_uids").to_list() == [[hits.item(0, "event_uid")]]


def test_time_is_normalised_to_utc_microseconds() -> None:
    plan = _count_plan(2)
    naive = pl.DataFrame(
        {
            "time": [datetime(2024, 3, 1, 0, 0, 0), datetime(2024, 3, 1, 0, 0, 1)],
            "event_uid": ["a", "b"],
        },
        schema={"time": pl.Datetime("ms"), "event_uid": pl.String},
    )
    berlin = naive.with_columns(
        pl.col("time").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Berlin")
    )
    for frame in (naive, berlin):
        assert evaluate_correlation(plan, {"r": frame}).get_column("time").to_list() == [at(1)]


def test_empty_input_gives_an_empty_frame_with_the_output_schema() -> None:
    for ctype in CorrelationType:
        fields = ["v"] if ctype in (*NUMERIC, T.VALUE_COUNT) else []
        plan = make_plan(
            ctype,
            ["r"],
            group_by=["host"],
            fields=fields,
            percentile=50 if ctype is T.VALUE_PERCENTILE else None,
        )
        frame = events([], {"host": pl.String(), "v": pl.Int64()})
        result = evaluate_correlation(plan, {"r": frame})
        assert result.is_empty()
        assert result.schema == output_schema(plan, {"host": pl.String()})


def test_input_errors_are_clear() -> None:
    plan = make_plan(T.EVENT_COUNT, ["r"], group_by=["host"])
    with pytest.raises(CorrelationError, match="no matches frame for referenced rule 'r'"):
        evaluate_correlation(plan, {})
    with pytest.raises(CorrelationError, match=r"lacks columns \['host'\]") as caught:
        evaluate_correlation(plan, {"r": events([])})
    assert caught.value.where == "correlation corr"
    text_time = pl.DataFrame({"time": ["2024"], "event_uid": ["a"], "host": ["h"]})
    with pytest.raises(CorrelationError, match="not Datetime"):
        evaluate_correlation(plan, {"r": text_time})


def test_extended_temporal_condition_from_yaml() -> None:
    plan = plan_from_yaml(
        """
title: login without mfa
name: no_mfa
correlation:
  type: temporal
  group-by: [user]
  timespan: 10s
  condition: login and not mfa
"""
    )
    schema = {"user": pl.String()}
    login = events(
        [
            {"time": 0, "event_uid": "l1", "user": "ann"},
            {"time": 0, "event_uid": "l2", "user": "bob"},
        ],
        schema,
    )
    mfa = events([{"time": 0, "event_uid": "m1", "user": "bob"}], schema)
    hits = evaluate_correlation(plan, {"login": login, "mfa": mfa})
    assert hits.select("user", "rule_keys", "event_uids").to_dicts() == [
        {"user": "ann", "rule_keys": ["login"], "event_uids": ["l1"]}
    ]
