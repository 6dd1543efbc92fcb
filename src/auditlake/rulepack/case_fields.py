"""Fields a rule reads that no event of its cases holds: most often a misspelt field name.

A rule reading `EventNmae` never matches through that entry. Where the entry sits in a filter
(`not filter`), in one branch of an OR, or in a correlation's `group-by`, no case fails and the
rule ships broken; elsewhere `rules test` fails a match case with no word on why. So `rules
check` looks, for each field the rule reads, whether any event of its cases holds it.

"Holds" is asked of the engine itself, not of the case's text: each field becomes an `exists`
leaf, routed as the rule is routed (per-route renames such as the Security log's
`NewProcessName` for `Image`, and each route's own conditions) and bound to each case's events
as the lake holds them (native and canonical columns, struct and JSON paths into `raw`, members
of arrays). Only events the rule's routes read count: when none do, the rule reads another
source than its cases, which `rules test` explains, and nothing is said here.

Not asked: fields the rule only tests for absence (`|exists: false`, `field: null`, or
`|exists: true` under a `not`), which cases rightly leave out, and keywords, which name no
field.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import polars as pl

from auditlake.detection import ir
from auditlake.detection.compile import CompiledRule, RuleSet
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.evaluate import bind_options, reads_json_paths
from auditlake.detection.logsources import effective_field_map
from auditlake.detection.lower import PARTITION_SOURCE, bind
from auditlake.detection.routing import routed_condition
from auditlake.rulepack.caselake import CaseEvents
from auditlake.rulepack.documents import Target
from auditlake.rulepack.judge import find_plan, find_rule

SUGGESTION_CUTOFF = 0.8
"""How alike (difflib's ratio, case ignored) a name of the cases' events must be to be offered."""

JSON_DEPTH = 12
"""How deep `raw` is walked for names to offer; audit records nest a few levels."""


@dataclass(frozen=True, slots=True)
class UnseenField:
    """A field a rule reads that no event of its cases holds."""

    rule: CompiledRule
    """The detection rule that reads it (for a correlation: the referenced rule whose events
    it groups or counts)."""
    field: str
    """The name as the rule writes it (after the pipeline, before per-route renames)."""
    role: str
    """`detection`, or what a correlation does with it: `group-by` or `value`."""
    suggestion: str | None
    """A close name the cases' events do hold, in the rule's field names."""


def unseen_fields(
    ruleset: RuleSet, target: Target, cases: Sequence[CaseEvents]
) -> list[UnseenField]:
    """Fields the rule under test reads (for a correlation: its referenced rules' fields and
    its own group-by and value fields) that no usable case's events hold.

    `JudgeError` when the rule under test did not compile (reported by the compile check).
    """
    frames = [c.events for c in cases if c.usable and c.events.height]
    if target.kind == "detection":
        rule = find_rule(ruleset, target)
        roles = dict.fromkeys(sorted(wanted_fields(rule.condition)), "detection")
        return _unseen(rule, roles, frames)
    plan = find_plan(ruleset, target)
    found: list[UnseenField] = []
    for key, rule in _referenced(ruleset, plan):
        roles = dict.fromkeys(sorted(wanted_fields(rule.condition)), "detection")
        roles.update({plan.column(name, key): "group-by" for name in plan.group_by})
        roles.update({plan.column(name, key): "value" for name in plan.fields})
        found += _unseen(rule, roles, frames)
    return found


def wanted_fields(condition: ir.Node) -> frozenset[str]:
    """The fields `condition` reads for a value: those a leaf wants present, by the leaf's
    polarity under `not`. A field tested for absence only is left out, and so is the
    partition column `source`, which is the route's, not the event's."""
    wanted: set[str] = set()

    def visit(node: ir.Node, negated: bool) -> None:
        if isinstance(node, ir.Leaf):
            if not _tests_absence(node, negated):
                wanted.add(node.field)
            if node.op == "fieldref":
                other, _mode = cast(tuple[str, str], node.values[0])
                wanted.add(other)
        elif isinstance(node, ir.And | ir.Or):
            for item in node.items:
                visit(item, negated)
        elif isinstance(node, ir.Not):
            visit(node.item, not negated)

    visit(condition, False)
    return frozenset(wanted - {PARTITION_SOURCE})


def _tests_absence(leaf: ir.Leaf, negated: bool) -> bool:
    """Whether the leaf, under `negated`, is satisfied by the field being absent."""
    if leaf.op == "null":
        return not negated
    if leaf.op == "exists":
        return bool(leaf.values[0]) == negated
    return False


def _referenced(ruleset: RuleSet, plan: CorrelationPlan) -> Iterator[tuple[str, CompiledRule]]:
    """(key, detection rule) for each rule the correlation reads; a chained correlation's
    columns are its child's output, not fields of events."""
    for key in plan.distinct_rules:
        rule = next((r for r in ruleset.rules if key in (r.id, r.name)), None)
        if rule is not None:
            yield key, rule


def _unseen(
    rule: CompiledRule, roles: Mapping[str, str], frames: Sequence[pl.DataFrame]
) -> list[UnseenField]:
    """The fields of `roles` that no event of `frames` read by `rule`'s routes holds."""
    missing = set(roles)
    routed_any = False
    read: list[pl.DataFrame] = []
    for frame in frames:
        for source, part in _by_source(frame, rule):
            routed = _holding(part, source, rule, [ir.TRUE])
            if not routed[0]:
                continue
            routed_any = True
            read.append(part)
            fields = sorted(missing)
            held = _holding(part, source, rule, [ir.Leaf(f, "exists", (True,)) for f in fields])
            missing -= {f for f, found in zip(fields, held, strict=True) if found}
    if not routed_any or not missing:
        return []
    names = _names_held(rule, read)
    return [
        UnseenField(rule, field, roles[field], suggest(field, names))
        for field in sorted(missing, key=list(roles).index)
    ]


def _by_source(frame: pl.DataFrame, rule: CompiledRule) -> Iterator[tuple[str, pl.DataFrame]]:
    """The rows of `frame` of each lake source `rule` reads."""
    if PARTITION_SOURCE not in frame.columns:
        return
    for source in frame[PARTITION_SOURCE].drop_nulls().unique(maintain_order=True).to_list():
        if source in rule.sources:
            yield str(source), frame.filter(pl.col(PARTITION_SOURCE) == source)


def _holding(
    part: pl.DataFrame, source: str, rule: CompiledRule, probes: Sequence[ir.Node]
) -> list[bool]:
    """For each probe: whether some row of `part` satisfies it under `rule`'s routes."""
    if not probes:
        return []
    options = bind_options(source)
    exprs = [
        bind(routed_condition(probe, rule.routes, source), part.schema, options).any().alias(f"p{i}")
        for i, probe in enumerate(probes)
    ]
    return [bool(v) for v in part.select(exprs).row(0)]


def _names_held(rule: CompiledRule, frames: Sequence[pl.DataFrame]) -> set[str]:
    """Field names the events hold a value under: columns, paths into `raw` JSON on sources
    read by path, and the rule's own names for the columns its routes rename."""
    names: set[str] = set()
    for frame in frames:
        names |= {c for c in frame.columns if frame[c].null_count() < frame.height}
        source = str(frame[PARTITION_SOURCE][0])
        if reads_json_paths(source) and "raw" in frame.columns:
            for text in frame["raw"].drop_nulls().to_list():
                names |= set(_json_paths(_loads(text)))
    renamed = {
        column: sigma
        for alt in rule.routes
        for sigma, column in effective_field_map(alt).items()
        if column in names
    }
    return names | set(renamed.values())


def _loads(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _json_paths(value: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Dotted paths to the values of a JSON value; an array's members share its path, as a
    rule reads them (`target.alternateId` for any target)."""
    if depth > JSON_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if item is not None:
                yield path
            yield from _json_paths(item, path, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _json_paths(item, prefix, depth + 1)


def suggest(field: str, names: set[str]) -> str | None:
    """The name of `names` closest to `field` (case ignored), when it is close enough: one
    typing slip away (two letters swapped; for names of four letters or more also one letter
    wrong, missing or extra), else alike by difflib's ratio.

    >>> suggest("EventNmae", {"eventName", "eventSource"})
    'eventName'
    >>> suggest("vebr", {"verb", "kind"})
    'verb'
    >>> suggest("Image", {"eventName"}) is None
    True
    """
    by_lower: dict[str, str] = {}
    for name in sorted(names - {field}):
        by_lower.setdefault(name.lower(), name)
    wanted = field.lower()
    slips = [lower for lower in by_lower if _one_slip(wanted, lower)]
    if slips:
        return by_lower[slips[0]]
    close = difflib.get_close_matches(wanted, list(by_lower), n=1, cutoff=SUGGESTION_CUTOFF)
    return by_lower[close[0]] if close else None


def _one_slip(typed: str, name: str) -> bool:
    """Whether `typed` is `name` with two neighbouring letters swapped, or (both of four
    letters or more, where one edit still leaves most of the name) one letter changed,
    dropped or added."""
    if len(typed) == len(name):
        differ = [i for i, (a, b) in enumerate(zip(typed, name, strict=True)) if a != b]
        if len(differ) == 2 and differ[1] == differ[0] + 1:
            i = differ[0]
            return typed[i] == name[i + 1] and typed[i + 1] == name[i]
        return len(differ) == 1 and len(name) >= 4
    if min(len(typed), len(name)) < 4 or abs(len(typed) - len(name)) != 1:
        return False
    short, long = sorted((typed, name), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))
