"""Reading a Sigma correlation rule into a checked `CorrelationPlan`.

`plan_correlation` takes pySigma's `SigmaCorrelationRule` (and, when the caller still has it,
the rule's YAML, for what pySigma loses); `plan_from_yaml` does both from text.

Decisions the plan fixes (see SIGMA.md §1.8, §1.9):

- **Thresholds.** pySigma keeps one operator and truncates its value with `int()`. A caller that
  still has the rule's YAML mapping passes it as `raw_yaml`; the plan then reads exact float
  thresholds and ranges (several operators, all ANDed, e.g. `gte: 10` + `lte: 20`).
  `pysigma_compatible` narrows such a condition so pySigma parses the rule at all.
- **Timespans.** `s m h d w` are exact. `M` and `y` are accepted with pySigma's fixed lengths,
  an average Gregorian month (30.436875 days) and year (365.2425 days): a sliding window needs a
  fixed duration, so calendar months are not meant.
- **Aliases** name one column per referenced rule (`ip: {a: src, b: client_ip}`); they apply to
  `group-by` and to the condition's `field`. A rule missing from an alias reads a column named
  like the alias.
- **temporal** compares the number of distinct referenced rules seen in the window with the
  condition (pySigma's default is `gte` all of them), or evaluates the extended condition, a
  boolean tree over "rule X matched in the window".
- **temporal_ordered** needs all rules in the listed order; an extended condition is accepted
  only when it is a plain conjunction of the rules (order: the `rules` list, else the order of
  appearance), anything else is ambiguous for ordering and rejected.
- Fail closed: unknown combinations (a `field` on event_count, two fields for value_sum, a
  percentile outside 0..100, a threshold that is not a finite number, ...) raise
  `UnsupportedCorrelationError` naming the rule.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import yaml
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)
from sigma.exceptions import SigmaError

from auditlake.detection.correlation_plan import (
    NUMERIC_TYPES,
    OPERATOR_NAMES,
    OUTPUT_COLUMNS,
    TEMPORAL_TYPES,
    UNIT_SECONDS,
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
    UnsupportedCorrelationError,
)


def plan_correlation(
    rule: SigmaCorrelationRule, raw_yaml: Mapping[str, Any] | None = None
) -> CorrelationPlan:
    """Check `rule` and freeze it into a plan.

    `raw_yaml` is the rule's YAML document (or just its `correlation` mapping); when given, the
    condition's thresholds, `field` and `percentile` are read from it, so `gt: 500.7` stays
    500.7 and a range keeps both bounds. Raises `UnsupportedCorrelationError`.
    """
    builder = _Builder(rule)
    return builder.build(_raw_correlation(builder, raw_yaml))


def pysigma_compatible(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a correlation YAML document that pySigma 1.5.1 accepts.

    pySigma rejects a condition with several operators (a range) and thresholds that `int()`
    cannot read (`"500.7"`): keep the first operator with an integer placeholder. Pass the
    original document as `raw_yaml` to `plan_correlation` to keep the exact condition.
    """
    doc = copy.deepcopy(dict(document))
    section = doc.get("correlation")
    if not isinstance(section, dict) or not isinstance(section.get("condition"), dict):
        return doc
    condition = section["condition"]
    ops = [key for key in condition if key in OPERATOR_NAMES]
    narrowed = {key: value for key, value in condition.items() if key not in ops}
    if ops:
        value = condition[ops[0]]
        narrowed[ops[0]] = _integer_placeholder(value)
    section["condition"] = narrowed
    return doc


def plan_from_yaml(text: str) -> CorrelationPlan:
    """Plan one correlation rule from its YAML text, keeping exact thresholds and ranges.

    References stay unresolved (no collection), so `correlation_refs` is empty.
    """
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise CorrelationError("a correlation rule must be a YAML mapping")
    try:
        rule = SigmaCorrelationRule.from_dict(pysigma_compatible(document))
    except SigmaError as error:
        where = f"correlation {document.get('name') or document.get('id') or document.get('title')}"
        raise UnsupportedCorrelationError(str(error), where=where) from error
    return plan_correlation(rule, document)


def _integer_placeholder(value: Any) -> Any:
    """An int pySigma can read in place of `value`; non-numbers stay for pySigma to reject."""
    if isinstance(value, bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if math.isfinite(number) else value


def _raw_correlation(
    builder: _Builder, raw_yaml: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The `correlation` mapping of `raw_yaml`, checked to belong to the rule."""
    if raw_yaml is None:
        return None
    section = raw_yaml.get("correlation", raw_yaml)
    if not isinstance(section, Mapping):
        raise builder.error("raw YAML has no `correlation` mapping")
    for attribute in ("name", "id"):
        raw_value = raw_yaml.get(attribute)
        planned = getattr(builder.rule, attribute)
        if raw_value is not None and planned is not None and str(raw_value) != str(planned):
            raise builder.error(
                f"raw YAML {attribute} {raw_value!r} does not match the rule's {str(planned)!r}"
            )
    return section


class _Builder:
    """Collects the checks for one rule, so every error names the same rule."""

    def __init__(self, rule: SigmaCorrelationRule) -> None:
        self.rule = rule
        self.key = rule.name or (str(rule.id) if rule.id else None) or rule.title or "<unnamed>"

    def error(self, message: str, hint: str | None = None) -> UnsupportedCorrelationError:
        where = f"correlation {self.key}"
        if self.rule.source is not None:
            where += f" ({self.rule.source})"
        return UnsupportedCorrelationError(message, where=where, hint=hint)

    def build(self, raw: Mapping[str, Any] | None) -> CorrelationPlan:
        rule = self.rule
        ctype = CorrelationType(rule.type.name.lower())
        extended = (
            self.extended(rule.condition.parsed)
            if isinstance(rule.condition, SigmaExtendedCorrelationCondition)
            else None
        )
        rules = self.rule_keys(extended)
        condition = None if extended else self.condition(ctype, raw)
        if ctype is CorrelationType.TEMPORAL_ORDERED:
            condition = self.ordered_condition(rules, condition, extended)
            extended = None
        elif len(set(rules)) != len(rules):
            # Only an ordered sequence can meaningfully list a rule twice (a, b, a).
            raise self.error(f"rule references repeat: {list(rules)}")
        group_by = tuple(rule.group_by or ())
        self.check_group_by(group_by)
        plan = CorrelationPlan(
            id=str(rule.id) if rule.id else None,
            name=rule.name,
            title=rule.title,
            type=ctype,
            rules=rules,
            group_by=group_by,
            timespan=self.timespan(),
            condition=condition,
            extended=extended,
            aliases=self.aliases(rules),
            generate=bool(rule.generate),
            correlation_refs=self.correlation_refs(rules),
        )
        self.check_chained_columns(plan)
        return plan

    def rule_keys(self, extended: ConditionNode | None) -> tuple[str, ...]:
        if self.rule.rules is not None:
            keys = tuple(ref.reference for ref in self.rule.rules)
        elif extended is not None:
            keys = tuple(dict.fromkeys(_tree_keys(extended)))
        else:
            keys = ()
        if not keys:
            raise self.error("no referenced rules", hint="list them under `rules`")
        return keys

    def timespan(self) -> timedelta:
        span = self.rule.timespan
        if span.unit not in UNIT_SECONDS or span.count <= 0:
            raise self.error(f"timespan {span.spec!r} is not N followed by one of s m h d w M y")
        return timedelta(seconds=span.count * UNIT_SECONDS[span.unit])

    def condition(self, ctype: CorrelationType, raw: Mapping[str, Any] | None) -> Condition:
        parsed = self.rule.condition
        assert isinstance(parsed, SigmaCorrelationCondition)
        raw_condition = raw.get("condition") if raw is not None else None
        if isinstance(raw_condition, Mapping):
            comparisons = self.raw_comparisons(raw_condition)
            fields_value = raw_condition.get("field")
            percentile = raw_condition.get("percentile")
        elif raw_condition is not None and not isinstance(raw_condition, str):
            raise self.error("condition must be a mapping (or, for temporal types, a string)")
        else:
            op = Operator(parsed.op.name.lower())
            comparisons = (Comparison(op, parsed.count),)
            fields_value = parsed.fieldref
            percentile = parsed.percentile
        fields = self.fields(fields_value)
        self.check_fields(ctype, fields)
        return Condition(comparisons, fields, self.percentile(ctype, percentile))

    def raw_comparisons(self, raw_condition: Mapping[str, Any]) -> tuple[Comparison, ...]:
        unknown = set(raw_condition) - OPERATOR_NAMES - {"field", "percentile"}
        if unknown:
            raise self.error(f"unknown condition keys: {sorted(unknown)}")
        comparisons = tuple(
            Comparison(op, self.number(raw_condition[op.value], f"threshold `{op.value}`"))
            for op in Operator
            if op.value in raw_condition
        )
        if not comparisons:
            raise self.error("condition has no operator", hint="use one of gt gte lt lte eq neq")
        return comparisons

    def number(self, value: Any, what: str) -> int | float:
        """A finite int or float from YAML (numbers, or strings that spell one)."""
        if isinstance(value, bool):
            raise self.error(f"{what} {value!r} is not a number")
        if isinstance(value, int | float):
            number: int | float = value
        elif isinstance(value, str):
            try:
                number = int(value)
            except ValueError:
                try:
                    number = float(value)
                except ValueError:
                    raise self.error(f"{what} {value!r} is not a number") from None
        else:
            raise self.error(f"{what} {value!r} is not a number")
        if not math.isfinite(number):
            raise self.error(f"{what} {value!r} is not a finite number")
        return number

    def fields(self, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
            if len(set(value)) != len(value):
                raise self.error(f"condition field lists a column twice: {list(value)}")
            return tuple(value)
        raise self.error(f"condition field {value!r} must be a column name or a list of them")

    def check_fields(self, ctype: CorrelationType, fields: tuple[str, ...]) -> None:
        if ctype is CorrelationType.VALUE_COUNT and not fields:
            raise self.error("value_count needs a condition `field`")
        if ctype in NUMERIC_TYPES and len(fields) != 1:
            raise self.error(
                f"{ctype} aggregates exactly one numeric field, got {list(fields)}",
                hint="set `field` to one column name",
            )
        if ctype in TEMPORAL_TYPES | {CorrelationType.EVENT_COUNT} and fields:
            raise self.error(f"{ctype} takes no condition `field` (got {list(fields)})")

    def percentile(self, ctype: CorrelationType, value: Any) -> int | float | None:
        if ctype is not CorrelationType.VALUE_PERCENTILE:
            if value is not None:
                raise self.error(f"`percentile` is only for value_percentile, not {ctype}")
            return None
        if value is None:
            raise self.error("value_percentile needs a condition `percentile` (0..100)")
        number = self.number(value, "percentile")
        if not 0 <= number <= 100:
            raise self.error(f"percentile {number} is outside 0..100")
        return number

    def ordered_condition(
        self,
        rules: tuple[str, ...],
        condition: Condition | None,
        extended: ConditionNode | None,
    ) -> Condition:
        """temporal_ordered means "all rules, in order": accept only spellings of that."""
        every = Condition((Comparison(Operator.GTE, len(rules)),))
        if extended is not None:
            if not _is_conjunction(extended) or set(_tree_keys(extended)) != set(rules):
                raise self.error(
                    "temporal_ordered supports an extended condition only as `a and b and ...`",
                    hint="order is undefined under `or` / `not`; use type temporal",
                )
            return every
        assert condition is not None
        if condition.comparisons != every.comparisons:
            raise self.error(
                "temporal_ordered needs every rule in order; "
                f"condition {[(c.op.value, c.threshold) for c in condition.comparisons]} "
                f"is not `gte: {len(rules)}`",
            )
        return every

    def extended(self, node: CorrelationConditionItem | SigmaRuleReference) -> ConditionNode:
        if isinstance(node, SigmaRuleReference):
            return RuleRef(node.reference)
        children = tuple(
            self.extended(arg)
            for arg in node.args
            if isinstance(arg, CorrelationConditionItem | SigmaRuleReference)
        )
        if isinstance(node, CorrelationConditionNOT) and len(children) == 1:
            return Not(children[0])
        if isinstance(node, CorrelationConditionAND):
            return And(children)
        if isinstance(node, CorrelationConditionOR):
            return Or(children)
        raise self.error(f"extended condition node {type(node).__name__} is not understood")

    def aliases(self, rules: tuple[str, ...]) -> tuple[FieldAlias, ...]:
        aliases = []
        for alias in self.rule.aliases:
            columns = []
            for ref, column in alias.mapping.items():
                columns.append((self.alias_key(alias.alias, ref, rules), column))
            aliases.append(FieldAlias(alias.alias, tuple(columns)))
        return tuple(aliases)

    def alias_key(self, alias: str, ref: SigmaRuleReference, rules: tuple[str, ...]) -> str:
        """The rule key an alias entry means: same spelling, else the same resolved rule.

        pySigma resolves `rules` (not alias entries) in a collection, so an alias may name a rule
        that `rules` references by id, or the other way round.
        """
        if ref.reference in rules:
            return ref.reference
        for planned in self.rule.rules or ():
            resolved = getattr(planned, "rule", None)
            if resolved is not None and ref.reference in (resolved.name, str(resolved.id)):
                return planned.reference
        raise self.error(f"alias {alias!r} maps rule {ref.reference!r}, which is not referenced")

    def check_group_by(self, group_by: tuple[str, ...]) -> None:
        if len(set(group_by)) != len(group_by):
            raise self.error(f"group-by lists a column twice: {list(group_by)}")
        for name in group_by:
            if name in OUTPUT_COLUMNS or name.startswith("__"):
                raise self.error(
                    f"group-by column {name!r} collides with a correlation output column",
                    hint="rename it with an alias",
                )

    def check_chained_columns(self, plan: CorrelationPlan) -> None:
        """Refuse a column a referenced correlation's output cannot hold.

        A correlation's events are another correlation's hits, which carry that correlation's
        group-by columns and the output columns only. Grouping by (or aggregating) anything
        else, as the specification's note on a chain grouped by another field allows, would
        need the fields of each hit's evidence events, which evaluation does not carry: refused
        here, naming the rule, rather than failing every correlation of a run at evaluation.
        """
        for ref in self.rule.rules or ():
            child = getattr(ref, "rule", None)
            if not isinstance(child, SigmaCorrelationRule):
                continue
            held = {*(child.group_by or ()), *OUTPUT_COLUMNS}
            wanted = (plan.column(name, ref.reference) for name in (*plan.group_by, *plan.fields))
            missing = [column for column in dict.fromkeys(wanted) if column not in held]
            if missing:
                raise self.error(
                    f"referenced correlation {ref.reference!r} has no column {missing} in its "
                    f"output (it groups by {list(child.group_by or ())})",
                    hint="group both correlations by the same fields, or map them with `aliases`",
                )

    def correlation_refs(self, rules: tuple[str, ...]) -> tuple[str, ...]:
        refs = []
        for ref in self.rule.rules or ():
            if isinstance(getattr(ref, "rule", None), SigmaCorrelationRule):
                refs.append(ref.reference)
        return tuple(key for key in dict.fromkeys(refs) if key in rules)


def _tree_keys(node: ConditionNode) -> list[str]:
    """Rule keys in an extended condition, in order of appearance (with repeats)."""
    if isinstance(node, RuleRef):
        return [node.key]
    if isinstance(node, Not):
        return _tree_keys(node.operand)
    return [key for operand in node.operands for key in _tree_keys(operand)]


def _is_conjunction(node: ConditionNode) -> bool:
    if isinstance(node, RuleRef):
        return True
    return isinstance(node, And) and all(_is_conjunction(op) for op in node.operands)
