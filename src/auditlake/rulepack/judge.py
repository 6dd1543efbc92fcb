"""Does the rule under test fire on a case's events? The verdict of rules/README.md.

A detection rule fires when `evaluate` returns at least one event for its id; a correlation
fires when `evaluate_correlations` returns at least one hit for it. The rule is looked up in
the compiled rule set by the keys its last document gives (id, name, title); a rule that did
not compile is an error that carries the compiler's reason, never a silent "no match".
"""

from __future__ import annotations

import polars as pl

from auditlake.detection.compile import CompiledRule, RuleSet
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.evaluate import RULE_ID_COLUMN, evaluate, evaluate_correlations
from auditlake.errors import AuditlakeError
from auditlake.rulepack.documents import Target


class JudgeError(AuditlakeError):
    """The rule under test cannot be judged: it did not compile or is not in the rule set."""


def find_rule(ruleset: RuleSet, target: Target) -> CompiledRule:
    """The compiled detection rule for `target`; `JudgeError` with the compiler's reason."""
    for key in target.keys:
        for rule in ruleset.rules:
            if key in (rule.id, rule.name):
                return rule
    raise _not_compiled(ruleset, target)


def find_plan(ruleset: RuleSet, target: Target) -> CorrelationPlan:
    """The correlation plan for `target`; `JudgeError` with the compiler's reason."""
    for key in target.keys:
        for plan in ruleset.correlations:
            if key in (plan.id, plan.name, plan.key):
                return plan
    raise _not_compiled(ruleset, target)


def count_hits(ruleset: RuleSet, target: Target, events: pl.DataFrame) -> int:
    """Events the detection rule matches, or hits of the correlation, on `events`."""
    if target.kind == "detection":
        rule = find_rule(ruleset, target)
        matched = evaluate([rule], events.lazy()).select(RULE_ID_COLUMN).collect()
        return matched.filter(pl.col(RULE_ID_COLUMN) == rule.id).height
    plan = find_plan(ruleset, target)
    return evaluate_correlations(ruleset, events.lazy())[plan.key].height


def _not_compiled(ruleset: RuleSet, target: Target) -> JudgeError:
    for failure in ruleset.failures:
        if failure.rule_id in target.keys or failure.title in target.keys:
            return JudgeError(
                f"the rule does not compile ({failure.reason}): {failure.message}",
                hint="run `auditlake rules check` for the details",
            )
    if ruleset.failures:
        reasons = "; ".join(f.message for f in ruleset.failures)
        return JudgeError(
            f"the rule does not compile: {reasons}",
            hint="run `auditlake rules check` for the details",
        )
    return JudgeError(
        f"the compiled rules hold no {target.kind} rule {target.label!r}",
        hint="the last document of the file must be the rule under test",
    )
