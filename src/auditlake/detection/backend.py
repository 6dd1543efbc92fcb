"""The pySigma backend: Sigma condition trees to the data-independent rule IR.

pySigma parses rules, applies modifiers and processing pipelines, then calls one method per
condition node. Each method here returns an IR node (`ir.py`); nothing is text until a format
asks for it. Unknown value types, unresolved placeholders, text-only query expressions and
regexes Polars cannot run raise `SigmaFeatureNotSupportedByBackendError`: a rule either means
what it says or does not compile, it never silently matches nothing.

Formats: `default` (one Python expression per rule, for `sigma convert`), `module` (one Python
module of all rules, with the rules its correlations read), `ir` (IR objects per condition, for
the library). The text formats render in `rendering.py`: a rule whose `condition` is a list
comes out once, as the OR of its conditions, and under the `auditlake` pipeline it reads a lake
frame as `auditlake.lake.scan_events` returns it. sigma-cli runs `SigmaCliPolarsBackend`, which
also keeps correlation ranges and fractional thresholds that pySigma's parser would reject or
truncate.
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
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaFeatureNotSupportedByBackendError
from sigma.processing.pipeline import ProcessingPipeline
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
from auditlake.detection.logsources import Alternative, route
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
        "default": "one Polars expression (Python source) per rule; with -p auditlake it reads a "
        "lake frame (auditlake.lake.scan_events), without it columns named as the Sigma fields; "
        "every column it names must exist (the module format adds absent ones as nulls)",
        "module": "one Python module: RULES, CORRELATION_RULES, CORRELATIONS, COLUMNS, "
        "with_rule_columns(frame), correlate(events) (see its docstring)",
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
        kept = getattr(rule.condition, RAW_CONDITION, None)
        if document is None and kept is not None:
            document = {"condition": kept}  # parsed under `keep_correlation_conditions`
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
            # `generate: true` it is also output, so it is finalized like any output rule.
            fmt = output_format or self.default_format
            states = rule.get_conversion_states()
            return [self.finalize_query(rule, q, i, states[i], fmt) for i, q in enumerate(queries)]
        return queries

    def finalize_query_default(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        return _for_output(rule, query, state)

    def finalize_output_default(self, queries: list[Any]) -> Any:
        from auditlake.detection.rendering import render_queries

        return render_queries(queries)

    def finalize_query_module(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        return _for_output(rule, query, state)

    def finalize_output_module(self, queries: list[Any]) -> Any:
        from auditlake.detection.rendering import render_module

        return render_module(queries)

    def finalize_query_ir(
        self, rule: SigmaRule | SigmaCorrelationRule, query: Any, index: int, state: ConversionState
    ) -> Any:
        return query

    def finalize_output_ir(self, queries: list[Any]) -> Any:
        return queries


class SigmaCliPolarsBackend(PolarsBackend):
    """The backend as sigma-cli runs it (`sigma convert -t polars`).

    sigma-cli parses the rules with pySigma before the backend converts them, and pySigma 1.5.1
    rejects a correlation range (`gte: 3` with `lte: 4`) and truncates `gt: 500.7` to 500
    (SIGMA.md §1.9); no pipeline runs before parsing. sigma-cli builds the backend of the
    chosen target before it loads the rules, so this one extends pySigma's parser there, for
    the rest of the process (`keep_correlation_conditions`): the plan then holds the thresholds
    the rule wrote, as auditlake's own compiler does (it reads the YAML itself, with
    `PolarsBackend`, which leaves pySigma as it is).
    """

    def __init__(
        self,
        processing_pipeline: ProcessingPipeline | None = None,
        collect_errors: bool = False,
        **backend_options: Any,
    ) -> None:
        super().__init__(processing_pipeline, collect_errors, **backend_options)
        keep_correlation_conditions()

    # sigma-cli's `--output-dir` writes each rule's file from what the conversion callback
    # receives, if text; pySigma hands it each condition unfinalized (an `ir.Node` here). So the
    # callback is called once a rule has converted, with the rule's finished text: one file
    # per rule, a condition list included (SIGMA.md §1.6), as the output without it prints.

    def convert_rule(self, rule: SigmaRule, output_format: str | None = None, callback: Any = None) -> list[Any]:
        queries = super().convert_rule(rule, output_format)
        return self._as_text_to(callback, rule, output_format, queries, rule.detection.parsed_condition[0])

    def convert_correlation_rule(
        self,
        rule: SigmaCorrelationRule,
        output_format: str | None = None,
        method: str | None = None,
        callback: Any = None,
    ) -> list[Any]:
        queries = super().convert_correlation_rule(rule, output_format, method)
        return self._as_text_to(callback, rule, output_format, queries, rule.condition)

    def _as_text_to(
        self,
        callback: Any,
        rule: SigmaRule | SigmaCorrelationRule,
        output_format: str | None,
        queries: list[Any],
        condition: Any,
    ) -> list[Any]:
        """`queries`, after `callback` (when given) has the text they finalize to; none when
        the callback drops it (returns None), as pySigma's callbacks may."""
        if callback is None or not queries:
            return queries
        fmt = output_format or self.default_format
        text = self.finalize(list(queries), fmt)
        if isinstance(text, list) and all(isinstance(part, str) for part in text):
            text = "\n".join(text) + "\n"
        return [] if callback(rule, output_format, 0, condition, text) is None else queries


RAW_CONDITION = "auditlake_yaml"
"""Attribute of a pySigma correlation condition holding its YAML mapping, once
`keep_correlation_conditions` is in force."""


def keep_correlation_conditions() -> None:
    """Make pySigma keep each correlation condition's YAML and accept ranges and fractions.

    The condition pySigma builds holds the first operator with an integer threshold
    (`pysigma_compatible`), and the mapping as written under `RAW_CONDITION`, from which the
    plan reads every bound exactly. Idempotent.
    """
    current = SigmaCorrelationCondition.__dict__["from_dict"].__func__
    if getattr(current, RAW_CONDITION, False):
        return

    def from_dict(
        cls: type[SigmaCorrelationCondition], d: dict[str, Any], source: Any = None
    ) -> SigmaCorrelationCondition:
        from auditlake.detection.correlation_reader import pysigma_compatible

        narrowed = pysigma_compatible({"correlation": {"condition": d}})["correlation"]["condition"]
        condition = current(cls, narrowed, source)
        setattr(condition, RAW_CONDITION, dict(d))
        return condition

    setattr(from_dict, RAW_CONDITION, True)
    SigmaCorrelationCondition.from_dict = classmethod(from_dict)  # type: ignore[method-assign, assignment]


def _for_output(rule: SigmaRule | SigmaCorrelationRule, query: Any, state: ConversionState) -> Any:
    """What text output renders of one converted condition or correlation plan."""
    from auditlake.detection.rendering import Converted

    routed = bool(state.processing_state.get(ROUTING_STATE_KEY))
    if isinstance(rule, SigmaCorrelationRule):
        return Converted(rule, query, inputs=_referenced_rules(rule, routed))
    return Converted(rule, query, _lake_routes(rule) if routed else None)


def _lake_routes(rule: SigmaRule) -> tuple[Alternative, ...]:
    """Text output under the `auditlake` pipeline restricts the rule to its lake sources.

    The library keeps routing separate (`CompiledRule.routes`), so it is applied at the last
    step before text only. A logsource with no lake source is an error, not an expression that
    matches nothing.
    """
    logsource = rule.logsource
    routes = route(logsource.product, logsource.category, logsource.service)
    if not routes:
        raise RuleRejected(
            "logsource",
            f"logsource (product={logsource.product}, category={logsource.category}, "
            f"service={logsource.service}) has no source in the lake; "
            "convert without `-p auditlake` for the plain expression",
        )
    return routes


def _referenced_rules(rule: SigmaCorrelationRule, routed: bool) -> tuple[tuple[str, Any], ...]:
    """The detection rules a correlation reads, by the key its plan uses, as they converted.

    A referenced rule keeps its conditions unfinalized (pySigma), whether or not it is output
    itself; a referenced correlation is not here, its plan is.
    """
    from auditlake.detection.rendering import Converted

    out = []
    for reference in rule.referenced_rules:
        target = reference.rule
        if not isinstance(target, SigmaRule):
            continue
        try:
            conditions = target.get_conversion_result()
        except SigmaError:
            raise RuleRejected(
                "correlation",
                f"the correlation reads rule {reference.reference!r}, which did not convert "
                "(see its own error)",
            ) from None
        condition = ir.any_of([c for c in conditions if isinstance(c, ir.NODE_TYPES)])
        routes = _lake_routes(target) if routed else None
        out.append((reference.reference, Converted(target, condition, routes)))
    return tuple(out)


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
