"""Correlation plans: what a Sigma correlation rule asks for, as frozen data.

A `CorrelationPlan` is what `correlate.evaluate_correlation` runs over matched events; it knows
no Polars and no data. `correlation_reader.plan_correlation` builds one from a pySigma
`SigmaCorrelationRule` and checks it once, so evaluation never meets a half-understood rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from auditlake.errors import AuditlakeError


class CorrelationError(AuditlakeError):
    """A correlation rule or its input cannot be evaluated as asked."""


class UnsupportedCorrelationError(CorrelationError):
    """A correlation rule uses something auditlake does not (or cannot exactly) support."""


class CorrelationType(StrEnum):
    """Correlation types (Sigma 2.1 plus pySigma's `value_median`)."""

    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"
    TEMPORAL_ORDERED = "temporal_ordered"
    VALUE_SUM = "value_sum"
    VALUE_AVG = "value_avg"
    VALUE_PERCENTILE = "value_percentile"
    VALUE_MEDIAN = "value_median"


TEMPORAL_TYPES = frozenset({CorrelationType.TEMPORAL, CorrelationType.TEMPORAL_ORDERED})
NUMERIC_TYPES = frozenset(
    {
        CorrelationType.VALUE_SUM,
        CorrelationType.VALUE_AVG,
        CorrelationType.VALUE_PERCENTILE,
        CorrelationType.VALUE_MEDIAN,
    }
)
"""Types that aggregate one numeric field."""


class Operator(StrEnum):
    """Comparison of the window's value with a threshold."""

    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    EQ = "eq"
    NEQ = "neq"


OPERATOR_NAMES = frozenset(op.value for op in Operator)

OUTPUT_COLUMNS = frozenset(
    {"time", "event_uid", "window_start", "window_end", "value", "event_uids", "rule_keys"}
)
"""Columns every correlation output has; a group-by column may not shadow them."""

UNIT_SECONDS: Mapping[str, int] = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    # pySigma's average Gregorian month and year; fixed, because a sliding window needs a length.
    "M": 2_629_746,
    "y": 31_556_952,
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """`value <op> threshold`."""

    op: Operator
    threshold: int | float


@dataclass(frozen=True, slots=True)
class Condition:
    """Threshold condition: all `comparisons` must hold (one, or two for a range).

    `fields` are the columns value_count counts (distinct tuples when several) or the one numeric
    column value_sum/avg/median/percentile aggregate; empty for the other types. `percentile` is
    0..100, set only for value_percentile.
    """

    comparisons: tuple[Comparison, ...]
    fields: tuple[str, ...] = ()
    percentile: int | float | None = None


@dataclass(frozen=True, slots=True)
class RuleRef:
    """Leaf of an extended condition: "rule `key` matched in the window"."""

    key: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: ConditionNode


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[ConditionNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[ConditionNode, ...]


ConditionNode = RuleRef | Not | And | Or
"""Extended temporal condition tree."""


@dataclass(frozen=True, slots=True)
class FieldAlias:
    """One alias: the column it stands for in each referenced rule's events."""

    name: str
    columns: tuple[tuple[str, str], ...]
    """(rule key, column) pairs."""

    def column(self, rule_key: str) -> str:
        """The column for `rule_key`; a rule the alias does not list uses the alias name."""
        return dict(self.columns).get(rule_key, self.name)


@dataclass(frozen=True, slots=True)
class CorrelationPlan:
    """Everything needed to evaluate one correlation rule; no data, no Polars.

    `rules` are the referenced rule keys exactly as the rule writes them (ids or names), in
    order; `matches[key]` feeds evaluation. `correlation_refs` lists those that are correlation
    rules themselves (known only when pySigma resolved the references): their input is that
    correlation's output frame. `condition` is None exactly when `extended` is set.
    """

    id: str | None
    name: str | None
    title: str
    type: CorrelationType
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: timedelta
    condition: Condition | None
    extended: ConditionNode | None
    aliases: tuple[FieldAlias, ...]
    generate: bool
    correlation_refs: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """How other rules and outputs name this correlation: its name, else id, else title."""
        return self.name or self.id or self.title

    @property
    def distinct_rules(self) -> tuple[str, ...]:
        """Referenced keys without repeats (temporal_ordered may list a rule twice)."""
        return tuple(dict.fromkeys(self.rules))

    @property
    def fields(self) -> tuple[str, ...]:
        return self.condition.fields if self.condition else ()

    def column(self, name: str, rule_key: str) -> str:
        """The column of `rule_key`'s events that plays group-by column or field `name`."""
        for alias in self.aliases:
            if alias.name == name:
                return alias.column(rule_key)
        return name

    def required_columns(self, rule_key: str) -> tuple[str, ...]:
        """Columns `matches[rule_key]` must have: time, event_uid, group-by and field columns."""
        if rule_key not in self.rules:
            raise CorrelationError(
                f"{rule_key!r} is not referenced by this correlation",
                where=f"correlation {self.key}",
            )
        names = ["time", "event_uid"]
        names += [self.column(name, rule_key) for name in (*self.group_by, *self.fields)]
        return tuple(dict.fromkeys(names))
