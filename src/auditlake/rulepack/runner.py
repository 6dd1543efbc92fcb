"""Run a rule's cases: compile the file once, judge every case, explain every failure.

The steps of rules/README.md "How a case is judged": each case is ingested alone into a fresh
temporary lake (`caselake`), the rule file is compiled, and the rule under test (the last
document) must fire on `match_` cases and stay silent on `miss_` cases (`judge`). A failed
case carries the per-event selection verdicts (`explain`), so the output says what to fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.errors import AuditlakeError
from auditlake.rulepack.caselake import CaseEvents, load_cases
from auditlake.rulepack.documents import Target, read_documents, target_of
from auditlake.rulepack.explain import CaseExplanation, explain_case
from auditlake.rulepack.judge import count_hits
from auditlake.rulepack.layout import Case, Pack, RuleFile


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case judged: what was expected, what the rule did, and why when it went wrong."""

    case: Case
    hits: int | None
    """Matched events (detection) or correlation hits; None when the case could not be judged."""
    error: str | None = None
    explanation: CaseExplanation | None = None
    seconds: float = 0.0

    @property
    def fired(self) -> bool | None:
        return None if self.hits is None else self.hits > 0

    @property
    def passed(self) -> bool:
        return self.error is None and self.fired == self.case.must_fire

    def expected_text(self) -> str:
        return "fires" if self.case.must_fire else "does not fire"

    def got_text(self, target_kind: str = "detection") -> str:
        if self.hits is None:
            return "error"
        unit = "event(s) matched" if target_kind == "detection" else "hit(s)"
        return f"fires ({self.hits} {unit})" if self.hits else "does not fire"


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A rule file's cases judged, or the reason none could be."""

    rule: RuleFile
    target: Target | None
    cases: tuple[CaseResult, ...]
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if not c.passed)


Progress = Callable[[RuleResult], None]


def run_pack(pack: Pack, *, progress: Progress | None = None) -> list[RuleResult]:
    """Every rule file of `pack` with its cases judged, in path order."""
    results = []
    for rule in pack.rules:
        result = run_rule(rule)
        if progress is not None:
            progress(result)
        results.append(result)
    return results


def run_rule(rule: RuleFile) -> RuleResult:
    """Compile `rule` once and judge each of its cases."""
    started = time.monotonic()
    try:
        target = target_of(read_documents(rule.path))
    except AuditlakeError as exc:
        return RuleResult(rule, None, (), str(exc), time.monotonic() - started)
    if not rule.cases:
        return RuleResult(rule, target, (), _no_cases(rule), time.monotonic() - started)
    ruleset = compile_rules([rule.path])
    cases = tuple(judge_case(ruleset, target, loaded) for loaded in load_cases(rule))
    return RuleResult(rule, target, cases, None, time.monotonic() - started)


def _no_cases(rule: RuleFile) -> str:
    if rule.case_dir_is_a_file:
        return (
            f"no cases: {rule.case_dir} is a file, not a folder (rename or move it, then put "
            "the match_ and miss_ files in a folder of that name)"
        )
    return f"no cases in {rule.case_dir}/ (add match_ and miss_ files)"


def judge_case(
    ruleset: RuleSet, target: Target, loaded: CaseEvents, *, explain: bool = True
) -> CaseResult:
    """Judge one loaded case; explain it when it fails (and `explain` is set)."""
    started = time.monotonic()
    if not loaded.usable:
        return CaseResult(
            loaded.case, None, "; ".join(loaded.problems), None, time.monotonic() - started
        )
    try:
        hits = count_hits(ruleset, target, loaded.events)
    except AuditlakeError as exc:
        return CaseResult(loaded.case, None, str(exc), None, time.monotonic() - started)
    result = CaseResult(loaded.case, hits, None, None, time.monotonic() - started)
    if explain and not result.passed:
        why = explain_case(ruleset, target, loaded.events)
        result = CaseResult(loaded.case, hits, None, why, time.monotonic() - started)
    return result


def cases_pass(ruleset: RuleSet, target: Target, loaded: Sequence[CaseEvents]) -> CaseResult | None:
    """The first case that fails under `ruleset`, or None when all pass (no explanations)."""
    for case in loaded:
        result = judge_case(ruleset, target, case, explain=False)
        if not result.passed:
            return result
    return None
