"""Compiled rules as Python source: what `sigma convert -t polars` prints.

Without a partition schema every field is taken to be a String column, and keywords are
searched in `raw`. The output needs only `import polars as pl` to evaluate.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import polars as pl
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from auditlake.detection import ir
from auditlake.detection.code import _string_literal
from auditlake.detection.lower import render


class AllStrings(Mapping[str, pl.DataType]):
    """A schema in which every field exists and holds text (for rendering without data)."""

    def __getitem__(self, key: str) -> pl.DataType:
        return pl.String()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def render_rule_query(rule: SigmaRule | SigmaCorrelationRule, query: Any) -> str:
    """One rule's query as a single Python expression.

    A detection rule renders as a Polars expression; a correlation as the constructor of its
    `CorrelationPlan` (names from `auditlake.detection.correlation_plan`, plus `datetime`).
    """
    if isinstance(query, ir.NODE_TYPES):
        return render(query, AllStrings())
    return plan_source(query)


def plan_source(value: Any) -> str:
    """Python source rebuilding a frozen plan: dataclasses, enums, durations and literals."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        arguments = ", ".join(
            f"{f.name}={plan_source(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__name__}({arguments})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}({plan_source(value.value)})"
    if isinstance(value, timedelta):
        return f"datetime.timedelta(seconds={value.total_seconds()!r})"
    if isinstance(value, tuple):
        inner = ", ".join(plan_source(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return _string_literal(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise TypeError(f"cannot render {type(value).__name__} in a correlation plan")


PLAN_NAMES = (
    "And",
    "Comparison",
    "Condition",
    "CorrelationPlan",
    "CorrelationType",
    "FieldAlias",
    "Not",
    "Operator",
    "Or",
    "RuleRef",
)
"""What rendered plans refer to, all from `auditlake.detection.correlation_plan`."""


def render_module(items: Sequence[tuple[SigmaRule | SigmaCorrelationRule, Any]]) -> str:
    """A Python module with `RULES` (rule id → `pl.Expr`) and `CORRELATIONS` (id → plan)."""
    rules: list[str] = []
    correlations: list[str] = []
    for rule, query in items:
        key = _string_literal(str(rule.id) if rule.id else str(rule.title))
        comment = f"  # {rule.title}".replace("\n", " ")
        if isinstance(rule, SigmaCorrelationRule):
            correlations.append(f"    {key}: {plan_source(query)},{comment}")
        else:
            rules.append(f"    {key}: {render_rule_query(rule, query)},{comment}")
    lines = [
        '"""Sigma rules compiled to Polars expressions by auditlake."""',
        "",
        "import datetime",
        "",
        "import polars as pl",
        "",
    ]
    if correlations:
        lines += [f"from auditlake.detection.correlation_plan import {', '.join(PLAN_NAMES)}", ""]
    lines += ["RULES = {", *rules, "}", "", "CORRELATIONS = {", *correlations, "}", ""]
    return "\n".join(lines)
