"""Alerting on rules of a level and above: `auditlake detect --min-level high`.

A rule set as wide as SigmaHQ's holds hunting rules of level `low` or `informational` that
match a large share of ordinary events (`AWS STS AssumeRole Misuse` fires on every call made
with an assumed role); a scheduled job feeding an on-call sink wants the rules that call for
action. Sigma's levels, in order: informational, low, medium, high, critical; a rule without
one counts as informational.

Rules below the level raise no alert but are still evaluated where a correlation at or above it
reads them (as Sigma's `generate: false` rules are); a correlation below the level raises none
either, and feeds a correlation above it that reads it. The level is part of the run's rule-set
digest (`watermarks.ruleset_digest`), so an incremental run with a level keeps its own progress
and does not move the progress of runs without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from auditlake.detection.compile import RuleSet
from auditlake.detection.correlation_plan import CorrelationPlan

LEVELS = ("informational", "low", "medium", "high", "critical")


def rank(level: str | None) -> int:
    """A level's place in `LEVELS`; none (or one Sigma does not define) ranks lowest."""
    return LEVELS.index(level.lower()) if level and level.lower() in LEVELS else 0


def at_least(ruleset: RuleSet, level: str) -> RuleSet:
    """`ruleset` alerting only on rules and correlations of `level` or above (module docstring)."""
    floor = rank(level)
    plans = {plan.key: plan for plan in ruleset.correlations}
    alerting = {key for key in plans if rank(ruleset.correlation_meta[key].level) >= floor}
    fed = _correlations_read(plans, alerting)
    correlations = tuple(
        plan if key in alerting else replace(plan, generate=False)
        for key, plan in plans.items()
        if key in alerting or key in fed
    )
    rules = tuple(
        rule if not rule.output or rank(rule.level) >= floor else replace(rule, output=False)
        for rule in ruleset.rules
    )
    return replace(ruleset, rules=rules, correlations=correlations)


def _correlations_read(plans: Mapping[str, CorrelationPlan], alerting: set[str]) -> set[str]:
    """Keys of the correlations that the alerting ones read, directly or through others."""
    found: set[str] = set()
    pending = list(alerting)
    while pending:
        for key in plans[pending.pop()].correlation_refs:
            if key in plans and key not in found and key not in alerting:
                found.add(key)
                pending.append(key)
    return found
