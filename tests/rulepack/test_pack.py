"""Every rule under rules/ passes its own cases: match_ cases fire it, miss_ cases do not.

One test per rule file, so each offender fails on its own with the expected and actual verdict
and the per-event selection verdicts of every failed case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rulepack.builders import PACK

from auditlake.rulepack.junit import explanation_text
from auditlake.rulepack.layout import RuleFile, discover
from auditlake.rulepack.runner import run_rule


def _pack_rules() -> list[RuleFile]:
    return list(discover(PACK).rules) if PACK.is_dir() else []


@pytest.mark.parametrize(
    "rule",
    _pack_rules() or [pytest.param(None, marks=pytest.mark.skip("rules/ has no rules yet"))],
    ids=lambda r: str(r.path.relative_to(PACK)) if isinstance(r, RuleFile) else "none",
)
def test_every_case_in_the_pack_passes(rule: RuleFile) -> None:
    result = run_rule(rule)
    kind = result.target.kind if result.target else "detection"
    problems = [result.error] if result.error else []
    for case in result.failures:
        problems.append(
            case.error
            or f"{case.case.name}: expected it {case.expected_text()}, "
            f"it {case.got_text(kind)}\n    "
            + explanation_text(case).replace("\n", "\n    ")
        )
    assert not problems, f"{Path(rule.path).relative_to(PACK.parent)}:\n  " + "\n  ".join(problems)
