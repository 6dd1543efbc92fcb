"""Compile coverage over the whole SigmaHQ corpus, and render == bind for every compiled rule.

The coverage table is printed (run with `-s` to see it). The target is every rule pySigma itself
accepts, except those whose `|expand` placeholders nobody configured; each failure must carry
one of the documented reason codes.
"""

from __future__ import annotations

import collections
from pathlib import Path

import polars as pl
import pytest

from auditlake.detection.compile import FAILURE_REASONS, RuleSet
from auditlake.detection.logsources import unsupported_reason
from auditlake.detection.lower import RUNTIME_ENV, BindOptions, lower
from auditlake.detection.rendering import AllStrings


def _uses_expand(path: Path) -> bool:
    return "|expand" in path.read_text(encoding="utf-8")


def test_every_rule_compiles_or_fails_for_a_documented_reason(
    sigmahq_ruleset: RuleSet, sigmahq_rule_files: list[Path]
) -> None:
    failures = sigmahq_ruleset.failures
    reasons = collections.Counter(f.reason for f in failures)
    routed = sum(1 for r in sigmahq_ruleset.rules if r.routes)
    rows = [
        ("rule files", len(sigmahq_rule_files)),
        ("compiled", len(sigmahq_ruleset.rules)),
        ("  routed to a lake source", routed),
        ("  logsource with no lake source", len(sigmahq_ruleset.rules) - routed),
        *((f"failed: {reason}", count) for reason, count in sorted(reasons.items())),
    ]
    print("\nSigmaHQ compile coverage")
    for label, count in rows:
        print(f"  {label:<34} {count:>6}")

    assert set(reasons) <= set(FAILURE_REASONS)
    assert len(sigmahq_ruleset.rules) + len(failures) == len(sigmahq_rule_files)
    # Everything pySigma parses compiles, except rules with unconfigured placeholders.
    assert set(reasons) == {"placeholder"}
    expanding = {str(p) for p in sigmahq_rule_files if _uses_expand(p)}
    assert {f.path for f in failures} == expanding
    for failure in failures:
        assert "%" in failure.message and "placeholder" in failure.message


def test_unrouted_rules_have_a_documented_reason(sigmahq_ruleset: RuleSet) -> None:
    unexplained = [
        (rule.path, rule.logsource)
        for rule in sigmahq_ruleset.rules
        if not rule.routes and unsupported_reason(*rule.logsource) is None
    ]
    assert unexplained == []


WINDOWS_SCHEMA = {
    "source": pl.String(),
    "EventID": pl.Int64(),
    "Channel": pl.String(),
    "Image": pl.String(),
    "CommandLine": pl.String(),
    "ParentImage": pl.String(),
    "Hashes": pl.String(),
    "raw": pl.String(),
}


@pytest.mark.parametrize(
    ("schema", "options"),
    [
        (AllStrings(), BindOptions()),
        (WINDOWS_SCHEMA, BindOptions(source="windows.eventlog")),
        (WINDOWS_SCHEMA, BindOptions(source="aws.cloudtrail", json_fallback=True)),
    ],
    ids=["all-strings", "windows-partition", "cloudtrail-json-fallback"],
)
def test_rendered_source_equals_bound_expression(
    sigmahq_ruleset: RuleSet, schema: dict[str, pl.DataType], options: BindOptions
) -> None:
    mismatched = []
    for rule in sigmahq_ruleset.rules:
        code = lower(rule.routed(), schema, options)
        bound = code.to_expr(RUNTIME_ENV)
        rendered = eval(code.to_source(), {"pl": pl})  # the rendered rule needs only polars
        if not rendered.meta.eq(bound):
            mismatched.append(rule.id)
    assert mismatched == []
