"""Compiled rules as Python source: what `sigma convert -t polars` prints.

Without a partition schema every field is taken to be a String column, and keywords are
searched in `raw`. The output needs only `import polars as pl` to evaluate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
    """One rule's query as a single Python expression."""
    if isinstance(query, ir.NODE_TYPES):
        return render(query, AllStrings())
    return repr(query)


def render_module(items: Sequence[tuple[SigmaRule | SigmaCorrelationRule, Any]]) -> str:
    """A Python module with `RULES` (rule id → `pl.Expr`) and `CORRELATIONS` (id → plan)."""
    rules: list[str] = []
    correlations: list[str] = []
    for rule, query in items:
        key = _string_literal(str(rule.id) if rule.id else str(rule.title))
        comment = f"  # {rule.title}".replace("\n", " ")
        if isinstance(rule, SigmaCorrelationRule):
            correlations.append(f"    {key}: {query!r},{comment}")
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
        lines += ["from auditlake.detection.correlation_plan import *  # noqa: F403", ""]
    lines += ["RULES = {", *rules, "}", "", "CORRELATIONS = {", *correlations, "}", ""]
    return "\n".join(lines)
