"""Are a rule's cases sharp? Run every mutant (`mutation`) against them.

A mutant is killed when at least one case changes its verdict, and survives when every case
still passes: then nothing in the cases needs the piece the mutant removed. Cases are ingested
once per rule file and reused for every mutant; each mutant is written out and compiled with
`compile_rules`, the same path `rules test` takes, so a mutant is judged exactly like the rule.

Before any mutant runs, the rule itself must pass its cases after the same YAML round trip
the mutants go through; otherwise a mutant's verdict would mean nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from auditlake.detection.compile import RuleSet, compile_rules
from auditlake.errors import AuditlakeError
from auditlake.rulepack.caselake import CaseEvents, load_cases
from auditlake.rulepack.condition import ConditionError
from auditlake.rulepack.documents import Target, read_documents, target_of
from auditlake.rulepack.judge import JudgeError, find_plan, find_rule
from auditlake.rulepack.layout import RuleFile
from auditlake.rulepack.mutation import Mutant, mutants
from auditlake.rulepack.runner import cases_pass

Status = Literal["killed", "survived", "stillborn"]


@dataclass(frozen=True)
class MutantOutcome:
    """One mutant against the cases: who killed it, or why it could not run."""

    mutant: Mutant
    status: Status
    killed_by: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class SharpnessReport:
    """Every mutant of one rule file, or the reason mutation could not start."""

    rule: RuleFile
    outcomes: tuple[MutantOutcome, ...]
    error: str | None = None

    @property
    def survivors(self) -> tuple[MutantOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "survived")

    @property
    def stillborn(self) -> tuple[MutantOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "stillborn")

    @property
    def sharp(self) -> bool:
        return self.error is None and not self.survivors


def assess(rule: RuleFile, *, loaded: Sequence[CaseEvents] | None = None) -> SharpnessReport:
    """Run every mutant of `rule` against its cases (`loaded`: already ingested cases)."""
    try:
        docs = read_documents(rule.path)
        target = target_of(docs)
        found = mutants(docs.documents)
    except (AuditlakeError, ConditionError) as exc:
        return SharpnessReport(rule, (), str(exc))
    if not rule.cases:
        return SharpnessReport(rule, (), "the rule has no cases")
    cases = list(loaded) if loaded is not None else load_cases(rule)
    with tempfile.TemporaryDirectory(prefix="auditlake-mutants-") as tmp:
        workdir = Path(tmp)
        baseline = _compile(docs.documents, rule.path.name, workdir)
        failing = cases_pass(baseline, target, cases)
        if failing is not None:
            reason = (
                failing.error
                or f"expected it {failing.expected_text()}, it {failing.got_text(target.kind)}"
            )
            return SharpnessReport(
                rule,
                (),
                f"the rule fails its own case {failing.case.name} ({reason}); "
                "fix that first (`auditlake rules test`)",
            )
        outcomes = tuple(_run(m, target, cases, rule.path.name, workdir) for m in found)
    return SharpnessReport(rule, outcomes)


def _run(
    mutant: Mutant, target: Target, cases: Sequence[CaseEvents], name: str, workdir: Path
) -> MutantOutcome:
    ruleset = _compile(mutant.documents, name, workdir)
    try:
        if target.kind == "detection":
            find_rule(ruleset, target)
        else:
            find_plan(ruleset, target)
    except JudgeError as exc:
        return MutantOutcome(mutant, "stillborn", None, exc.message)
    failing = cases_pass(ruleset, target, cases)
    if failing is None:
        return MutantOutcome(mutant, "survived")
    return MutantOutcome(mutant, "killed", failing.case.name)


def _compile(documents: Sequence[Mapping[str, Any]], name: str, workdir: Path) -> RuleSet:
    """Write `documents` as one rule file named `name` and compile it."""
    path = workdir / name
    path.write_text(
        yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return compile_rules([path])
