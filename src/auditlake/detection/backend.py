"""The pySigma backend: Sigma condition trees to the data-independent rule IR.

pySigma parses rules, applies modifiers and processing pipelines, then calls one method per
condition node. Each method here returns an IR node (`ir.py`); nothing is text until a format
asks for it. Unknown value types, unresolved placeholders, text-only query expressions and
regexes Polars cannot run raise `SigmaFeatureNotSupportedByBackendError`: a rule either means
what it says or does not compile, it never silently matches nothing.

Formats: `default` (one Python expression per rule, for `sigma convert`), `module` (one Python
module of all rules), `ir` (IR objects, for the library).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.conversion.base import Backend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
)

from auditlake.detection import ir
from auditlake.detection.patterns import PatternError, sigma_regex, string_match
from auditlake.detection.pipeline import ROUTING_STATE_KEY


class RuleRejected(SigmaFeatureNotSupportedByBackendError):
    """A rule the backend refuses, with a short reason code (see `compile.FAILURE_REASONS`)."""

    def __init__(self, reason: str, message: str, source: Any = None) -> None:
        super().__init__(message, source=source)
        self.reason = reason


_COMPARE = {
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.NEQ: "neq",
}


class PolarsBackend(Backend):
    """Sigma → auditlake rule IR → Polars expressions."""

    name: ClassVar[str] = "auditlake Polars backend"
    identifier: ClassVar[str] = "polars"
    formats: ClassVar[dict[str, str]] = {
        "default": "one Polars expression (Python source) per rule",
        "module": "one Python module holding every rule as a Polars expression",
        "ir": "auditlake rule IR objects (library use)",
    }
    requires_pipeline: ClassVar[bool] = False
    correlation_methods: ClassVar[dict[str, str] | None] = {
        "default": "sliding windows over the matched events of the referenced rules",
    }

    # -- boolean structure ----------------------------------------------------------------

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> ir.Node:
        return ir.any_of([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_and(self, cond: ConditionAND, state: ConversionState) -> ir.Node:
        return ir.all_of([self.convert_condition(a, state) for a in cond.args])

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> ir.Node:
        return ir.negate(self.convert_condition(cond.args[0], state))

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> ir.Node:  # pragma: no cover - convert_or_as_in is off; any_of merges lists itself
        return self.convert_condition_or(cond, state)  # type: ignore[arg-type]

    # -- field = value --------------------------------------------------------------------

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return self._string_leaf(cond, cased=False)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return self._string_leaf(cond, cased=True)

    def _string_leaf(self, cond: ConditionFieldEqualsValueExpression, *, cased: bool) -> ir.Node:
        assert isinstance(cond.value, SigmaString)
        op, operand = _string_or_reject(cond.value, cased=cased, field=cond.field)
        return ir.Leaf(_field(cond), op, (operand,), cased)

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaNumber)
        return ir.Leaf(_field(cond), "num", (cond.value.number,))

    def convert_condition_field_eq_val_timestamp_part(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaTimestampPart)
        part = cond.value.timestamp_part.name.lower()
        return ir.Leaf(_field(cond), "tspart", ((part, "eq", cond.value.number),))

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaBool)
        return ir.Leaf(_field(cond), "bool", (bool(cond.value.boolean),))

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaRegularExpression)
        return ir.Leaf(_field(cond), "regex", (_regex_or_reject(cond.value, field=cond.field),))

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaCIDRExpression)
        return ir.Leaf(_field(cond), "cidr", (str(cond.value.network),))

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaCompareExpression)
        operator = _COMPARE[cond.value.op]
        number = cond.value.number
        if isinstance(number, SigmaTimestampPart):
            part = number.timestamp_part.name.lower()
            return ir.Leaf(_field(cond), "tspart", ((part, operator, number.number),))
        return ir.Leaf(_field(cond), "cmp", ((operator, number.number),))

    def convert_condition_field_eq_field(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaFieldReference)
        ref = cond.value
        if ref.starts_with and ref.ends_with:
            mode = "contains"
        elif ref.starts_with:
            mode = "startswith"
        elif ref.ends_with:
            mode = "endswith"
        else:
            mode = "eq"
        return ir.Leaf(_field(cond), "fieldref", ((ref.field, mode),))

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Leaf(_field(cond), "null", ())

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaExists)
        return ir.Leaf(_field(cond), "exists", (True,))

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        return ir.Leaf(_field(cond), "exists", (False,))

    def convert_condition_field_eq_query_expr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> ir.Node:
        raise RuleRejected(
            "query-expression",
            f"field {cond.field!r}: query expressions are text for one query language and have "
            "no meaning in Polars; use a value list or a placeholder resolved to values instead",
            source=cond.source,
        )

    # -- keywords -------------------------------------------------------------------------

    def convert_condition_val_str(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaString)
        cased = isinstance(cond.value, SigmaCasedString)
        op, operand = _string_or_reject(cond.value, cased=cased, field=None)
        if op in ("startswith", "endswith"):
            op = "contains"  # keywords search inside the text: a leading/trailing * adds nothing
        elif op == "eq":
            op = "contains"
        return ir.Keyword(op, (operand,), cased)

    def convert_condition_val_num(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaNumber)
        return ir.Keyword("num", (cond.value.number,))

    def convert_condition_val_re(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        assert isinstance(cond.value, SigmaRegularExpression)
        return ir.Keyword("regex", (_regex_or_reject(cond.value, field=None),))

    def convert_condition_query_expr(
        self, cond: ConditionValueExpression, state: ConversionState
    ) -> ir.Node:
        raise RuleRejected(
            "query-expression",
            "keyword query expressions are text for one query language and have no meaning in Polars",
            source=cond.source,
        )

    # -- correlations ---------------------------------------------------------------------
    # Every type becomes the same data-only plan; `correlate.py` evaluates it on windows.

    raw_correlations: dict[str, Any]
    """Correlation YAML documents by rule id or name, for exact thresholds (see compile.py)."""

    def _plan(self, rule: SigmaCorrelationRule) -> list[Any]:
        from auditlake.detection.correlation_reader import plan_correlation

        raw = getattr(self, "raw_correlations", {})
        document = raw.get(str(rule.id)) or (raw.get(rule.name) if rule.name else None)
        return [plan_correlation(rule, document)]

    def convert_correlation_event_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_value_count_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_temporal_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_temporal_ordered_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_extended_temporal_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_extended_temporal_ordered_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_value_sum_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_value_avg_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_value_percentile_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    def convert_correlation_value_median_rule(
        self, rule: SigmaCorrelationRule, output_format: str | None = None, method: str = "default"
    ) -> list[Any]:
        return self._plan(rule)

    # -- rules and formats ----------------------------------------------------------------

    def convert_rule(self, rule: SigmaRule, output_format: str | None = None, callback: Any = None) -> list[Any]:
        queries = super().convert_rule(rule, output_format, callback)
        if rule._backreferences and rule._output and not self.finalize_correlation_subqueries:
            # A rule that a correlation references comes back un-finalized; with
            # `generate: true` it is also output, and sigma-cli needs text for it.
            fmt = output_format or self.default_format
            states = rule.get_conversion_states()
            return [self.finalize_query(rule, q, i, states[i], fmt) for i, q in enumerate(queries)]
        return queries

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        from auditlake.detection.rendering import render_rule_query

        return render_rule_query(rule, _routed_for_output(rule, query, state))

    def finalize_output_default(self, queries: list[Any]) -> Any:
        return queries

    def finalize_query_module(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        return (rule, _routed_for_output(rule, query, state))

    def finalize_output_module(self, queries: list[Any]) -> Any:
        from auditlake.detection.rendering import render_module

        return render_module(queries)

    def finalize_query_ir(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        return query

    def finalize_output_ir(self, queries: list[Any]) -> Any:
        return queries


def _routed_for_output(rule: SigmaRule | SigmaCorrelationRule, query: Any, state: ConversionState) -> Any:
    """Text output under the `auditlake` pipeline restricts the rule to its lake sources.

    The library keeps routing separate (`CompiledRule.routes`), so it is applied here only, at
    the last step before text. A logsource with no lake source is an error, not an expression
    that matches nothing.
    """
    if not isinstance(rule, SigmaRule) or not state.processing_state.get(ROUTING_STATE_KEY):
        return query
    from auditlake.detection.logsources import route
    from auditlake.detection.routing import routed_condition

    logsource = rule.logsource
    routes = route(logsource.product, logsource.category, logsource.service)
    if not routes:
        raise RuleRejected(
            "logsource",
            f"logsource (product={logsource.product}, category={logsource.category}, "
            f"service={logsource.service}) has no source in the lake; "
            "convert without `-p auditlake` for the plain expression",
        )
    return routed_condition(query, routes)


def _field(cond: ConditionFieldEqualsValueExpression) -> str:
    if cond.field is None:  # pragma: no cover - pySigma routes field-less values to keywords
        raise SigmaFeatureNotSupportedByBackendError("a field condition without a field name")
    return str(cond.field)


def _string_or_reject(value: SigmaString, *, cased: bool, field: str | None) -> tuple[ir.StringOp, str]:
    try:
        return string_match(value, cased=cased)
    except PatternError as error:
        raise RuleRejected(error.reason, _where(field) + str(error)) from None


def _regex_or_reject(value: SigmaRegularExpression, *, field: str | None) -> str:
    if value.contains_placeholder():
        raise RuleRejected(
            "placeholder",
            _where(field) + "unresolved placeholder in a regex: configure its values or drop the rule",
        )
    try:
        return sigma_regex(value)
    except PatternError as error:
        raise RuleRejected(error.reason, _where(field) + f"{error}: {str(value.regexp)!r}") from None


def _where(field: str | None) -> str:
    return f"field {field!r}: " if field else "keyword: "
