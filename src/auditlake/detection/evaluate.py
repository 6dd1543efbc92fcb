"""Evaluate compiled rules on a LazyFrame, and explain one rule's verdict on events.

All rules bound to one frame run in a single `with_columns` pass; Polars shares common
subexpressions (one lowercased `CommandLine` for every rule that reads it). The result has one
row per (event, matching rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from auditlake.detection import ir
from auditlake.detection.compile import CompiledRule
from auditlake.detection.logsources import effective_field_map, json_list_columns
from auditlake.detection.lower import BindOptions, Schema, bind

RULE_ID_COLUMN = "rule_id"

RAW_JSON_SOURCES = frozenset(
    {"aws.cloudtrail", "okta.system", "github.audit", "gcp.audit", "k8s.audit", "gateway.teleport"}
)
"""Sources whose `raw` is the native JSON record, so a field without a column is read by path."""


def bind_options(source: str | None) -> BindOptions:
    """How rules meet a partition of `source` (None: a frame of unknown origin)."""
    if source is None:
        return BindOptions()
    return BindOptions(
        source=source,
        json_fallback=source in RAW_JSON_SOURCES,
        json_list_columns=json_list_columns(source),
    )


def rule_expressions(
    rules: Iterable[CompiledRule], schema: Schema, *, source: str | None = None
) -> dict[str, pl.Expr]:
    """Each routable rule bound to `schema` (rule id → boolean expression, never null)."""
    options = bind_options(source)
    out: dict[str, pl.Expr] = {}
    for rule in rules:
        if not rule.routes or (source is not None and source not in rule.sources):
            continue
        out[rule.id] = bind(rule.routed(source), schema, options)
    return out


def evaluate(
    rules: Iterable[CompiledRule], frame: pl.LazyFrame, *, source: str | None = None
) -> pl.LazyFrame:
    """The events any rule matches, one row per (event, rule) with the rule's id."""
    expressions = rule_expressions(rules, frame.collect_schema(), source=source)
    if not expressions:
        return frame.head(0).with_columns(pl.lit(None, pl.String).alias(RULE_ID_COLUMN))
    flags = {f"__rule_{i}": (rule_id, expr) for i, (rule_id, expr) in enumerate(expressions.items())}
    ids = pl.concat_list(
        [pl.when(pl.col(flag)).then(pl.lit(rule_id)) for flag, (rule_id, _) in flags.items()]
    )
    return (
        frame.with_columns([expr.alias(flag) for flag, (_, expr) in flags.items()])
        .filter(pl.any_horizontal(list(flags)))
        .with_columns(ids.list.drop_nulls().alias(RULE_ID_COLUMN))
        .explode(RULE_ID_COLUMN)
        .drop(list(flags))
    )


@dataclass(frozen=True)
class Explanation:
    """One event under one rule: the verdict and the verdict of each named selection."""

    rule_id: str
    matched: bool
    selections: Mapping[str, bool]

    def describe(self) -> str:
        parts = [f"{name}={'yes' if hit else 'no'}" for name, hit in self.selections.items()]
        verdict = "matches" if self.matched else "does not match"
        return f"rule {self.rule_id} {verdict}: " + ", ".join(parts)


def explain(rule: CompiledRule, events: pl.DataFrame, *, source: str | None = None) -> list[Explanation]:
    """For each event, whether the rule matches and which of its selections do."""
    schema = events.schema
    options = bind_options(source)
    verdict = bind(rule.routed(source), schema, options).alias("__verdict")
    selections = {
        name: bind(_selection_in_route(rule, node, source), schema, options).alias(f"__sel_{i}")
        for i, (name, node) in enumerate(rule.selections.items())
    }
    table = events.select([verdict, *selections.values()])
    out: list[Explanation] = []
    for row in table.iter_rows(named=True):
        hits = {name: bool(row[f"__sel_{i}"]) for i, name in enumerate(selections)}
        out.append(Explanation(rule.id, bool(row["__verdict"]), hits))
    return out


def _selection_in_route(rule: CompiledRule, node: ir.Node, source: str | None) -> ir.Node:
    """A selection in the field names of the rule's routes, without their source conditions."""
    branches = [
        ir.rename_fields(node, effective_field_map(alt))
        for alt in rule.routes
        if source is None or alt.source == source
    ]
    return ir.any_of(branches) if branches else node
