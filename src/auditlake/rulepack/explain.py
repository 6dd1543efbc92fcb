"""Why a case went the way it did: every event, and which selections matched it.

For a detection rule each event gets the rule's verdict and each named selection's verdict
(`detection.evaluate.explain`), evaluated per lake source so routing and field names are those
of production. For a correlation the same is shown for each referenced detection rule, after a
line on the correlation itself (type, grouping, window, threshold and the hits found).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import polars as pl

from auditlake.detection.compile import CompiledRule, RuleSet
from auditlake.detection.correlation_plan import (
    Comparison,
    CorrelationPlan,
    CorrelationType,
    Operator,
)
from auditlake.detection.evaluate import evaluate_correlations, explain
from auditlake.rulepack.documents import Target
from auditlake.rulepack.items import ItemRule, item_rule
from auditlake.rulepack.judge import find_plan, find_rule

DESCRIBED_COLUMNS = ("time", "action", "actor_name", "outcome")
"""Canonical columns that name an event in one line."""


@dataclass(frozen=True, slots=True)
class EventVerdict:
    """One event under one rule: the verdict and each selection's verdict."""

    event: int
    """1-based position of the event in the case (ordered by time)."""
    summary: str
    rule: str
    matched: bool
    selections: Mapping[str, bool]
    items: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    """Selection → its entries' verdicts, for selections of several entries."""

    def describe(self) -> str:
        parts = " ".join(self._selection(name, hit) for name, hit in self.selections.items())
        verdict = "match" if self.matched else "no match"
        return f"event {self.event} ({self.summary}) {self.rule}: {parts} -> {verdict}"

    def _selection(self, name: str, hit: bool) -> str:
        text = f"{name}={'yes' if hit else 'no'}"
        entries = self.items.get(name)
        if entries:
            text += (
                " [" + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in entries.items()) + "]"
            )
        return text


@dataclass(frozen=True, slots=True)
class CaseExplanation:
    """Notes on the rule as a whole, then one verdict per (event, rule)."""

    notes: tuple[str, ...]
    events: tuple[EventVerdict, ...]


def explain_case(ruleset: RuleSet, target: Target, events: pl.DataFrame) -> CaseExplanation:
    """Per-event selection verdicts of the rule under test (or of a correlation's inputs)."""
    if target.kind == "detection":
        rule = find_rule(ruleset, target)
        return CaseExplanation(routing_notes(rule, events), tuple(explain_rule(rule, events)))
    plan = find_plan(ruleset, target)
    hits = evaluate_correlations(ruleset, events.lazy())[plan.key]
    notes = [describe_plan(plan, hits)]
    if hits.height == 0:
        best = best_window_value(ruleset, plan, events)
        if best is not None:
            notes.append(f"the highest window value reached was {best}")
    verdicts: list[EventVerdict] = []
    for key in plan.distinct_rules:
        feeding = next((r for r in ruleset.rules if key in (r.id, r.name)), None)
        if feeding is not None:
            notes += routing_notes(feeding, events, label=key)
            verdicts += explain_rule(feeding, events, label=key)
    return CaseExplanation(tuple(notes), tuple(verdicts))


def routing_notes(
    rule: CompiledRule, events: pl.DataFrame, *, label: str | None = None
) -> tuple[str, ...]:
    """A note when the case's events come from a lake source the rule does not read.

    Such events never match, whatever their selections say: without the note a case shows
    `selection=yes -> no match`, which points at the detection when the logsource is wrong.
    """
    if "source" not in events.columns:
        return ()
    present = events["source"].drop_nulls().unique(maintain_order=True).to_list()
    unread = [str(s) for s in present if s not in rule.sources]
    if not unread:
        return ()
    reads = ", ".join(sorted(rule.sources)) or "no lake source"
    logsource = ", ".join(
        f"{k}={v}"
        for k, v in zip(("product", "category", "service"), rule.logsource, strict=True)
        if v
    )
    return (
        f"{label or rule.name or rule.title}: its logsource ({logsource}) reads {reads}, so it "
        f"matches none of the case's {', '.join(unread)} events whatever its selections say; "
        "fix the logsource (`auditlake rules check` names the one its folder needs)",
    )


def explain_rule(
    rule: CompiledRule, events: pl.DataFrame, *, label: str | None = None
) -> list[EventVerdict]:
    """Each event's verdict under `rule`, source by source, in the events' order."""
    numbered = events.with_row_index("__event")
    split = item_rule(rule)
    found: dict[int, EventVerdict] = {}
    sources = (
        numbered["source"].unique(maintain_order=True).to_list()
        if "source" in numbered.columns
        else [None]
    )
    for source in sources:
        part = numbered if source is None else numbered.filter(pl.col("source") == source)
        verdicts = explain(rule, part, source=source)
        per_item = explain(split.rule, part, source=source) if split else [None] * len(verdicts)
        for row, verdict, items in zip(part.iter_rows(named=True), verdicts, per_item, strict=True):
            index = int(row["__event"])
            found[index] = EventVerdict(
                index + 1,
                describe_event(row),
                label or rule.name or rule.title,
                verdict.matched,
                dict(verdict.selections),
                _items(split, items.selections) if split and items else {},
            )
    return [found[i] for i in sorted(found)]


def _items(split: ItemRule, verdicts: Mapping[str, bool]) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for synthetic, hit in verdicts.items():
        selection, entry = split.items[synthetic]
        out.setdefault(selection, {})[entry] = hit
    return out


COUNTED_TYPES = frozenset(
    {CorrelationType.EVENT_COUNT, CorrelationType.VALUE_COUNT, CorrelationType.TEMPORAL}
)
"""Correlation types whose window value is a whole count, so the highest one can be searched."""


def best_window_value(ruleset: RuleSet, plan: CorrelationPlan, events: pl.DataFrame) -> int | None:
    """The highest count any window of `plan` reaches on `events` (None: not a count type).

    A correlation reports a window once it meets the threshold, so its hits do not show how
    close a window came. Whether some window reaches `k` only grows harder with `k`: a binary
    search over `gte k`, a few evaluations of a small case, finds the highest.
    """
    condition = plan.condition
    if condition is None or plan.type not in COUNTED_TYPES:
        return None

    def reaches(k: int) -> bool:
        relaxed = replace(
            plan, condition=replace(condition, comparisons=(Comparison(Operator.GTE, k),))
        )
        plans = tuple(relaxed if p.key == plan.key else p for p in ruleset.correlations)
        return (
            evaluate_correlations(replace(ruleset, correlations=plans), events.lazy())[
                plan.key
            ].height
            > 0
        )

    low, high = 0, events.height  # no window counts more events (or rules) than the case has
    while low < high:
        middle = (low + high + 1) // 2
        if reaches(middle):
            low = middle
        else:
            high = middle - 1
    return low


def describe_event(row: Mapping[str, Any]) -> str:
    """A one-line summary of an event from its canonical columns."""
    parts: list[str] = []
    for column in DESCRIBED_COLUMNS:
        value = row.get(column)
        if isinstance(value, datetime):
            parts.append(value.strftime("%Y-%m-%d %H:%M:%S"))
        elif value not in (None, ""):
            parts.append(str(value))
    return " ".join(parts) or str(row.get("event_uid") or "?")


def describe_plan(plan: CorrelationPlan, hits: pl.DataFrame) -> str:
    """The correlation in one line, with the hits it found (and the window values)."""
    condition = ""
    if plan.condition is not None:
        tests = " and ".join(f"{c.op.value} {c.threshold}" for c in plan.condition.comparisons)
        over = f" of {', '.join(plan.condition.fields)}" if plan.condition.fields else ""
        condition = f", value{over} {tests}"
    group = f" by {', '.join(plan.group_by)}" if plan.group_by else ""
    values = ""
    if hits.height and "value" in hits.columns:
        values = f" (values {', '.join(str(v) for v in hits['value'].head(5).to_list())})"
    return (
        f"correlation {plan.name or plan.title!r}: {plan.type.value} of {', '.join(plan.distinct_rules)}{group}"
        f" within {plan.timespan}{condition}; {hits.height} hit(s){values}"
    )
