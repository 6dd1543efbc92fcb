"""Terminal output of `auditlake rules`: test results, check issues and the coverage matrix.

Kept apart from `cli_rules` so the commands stay short; everything goes to stdout, since it is
the command's result.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from auditlake.rulepack.check import CheckReport
from auditlake.rulepack.coverage import Coverage, Row
from auditlake.rulepack.runner import CaseResult, RuleResult
from auditlake.rulepack.sharpness import SharpnessReport


def _stdout() -> Console:
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def shown(path: str | Path) -> str:
    """`path` relative to the working directory when it is inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # on another drive
        return str(path)
    return str(path) if relative.startswith("..") else relative


def print_test_results(
    results: Sequence[RuleResult],
    seconds: float,
    *,
    verbose: bool = False,
    sharpness: Mapping[Path, SharpnessReport] | None = None,
) -> None:
    """One line per rule file; every failed case with expected, got and per-event verdicts."""
    console = _stdout()
    for result in results:
        report = (sharpness or {}).get(result.rule.path)
        ok = result.passed and (report is None or report.sharp)
        mark = "[green]PASS[/green]" if ok else "[red]FAIL[/red]"
        title = f"  {escape(result.target.title or '')}" if result.target else ""
        console.print(
            f"{mark} {escape(shown(result.rule.path))} ({len(result.cases)} cases){title}"
        )
        if result.error:
            console.print(f"     [red]error:[/red] {escape(result.error)}")
        kind = result.target.kind if result.target else "detection"
        for case in result.cases:
            if verbose or not case.passed:
                _print_case(console, case, kind)
        if report is not None:
            _print_sharpness(console, report, verbose=verbose)
    cases = [c for r in results for c in r.cases]
    failed = sum(not c.passed for c in cases)
    broken = sum(r.error is not None for r in results)
    survivors = sum(len(r.survivors) for r in (sharpness or {}).values())
    text = f"{len(results)} rule file(s), {len(cases)} case(s): {len(cases) - failed} passed, {failed} failed"
    if broken:
        text += f", {broken} rule file(s) could not run"
    if sharpness is not None:
        text += f"; {survivors} surviving mutant(s)"
    colour = "green" if not (failed or broken or survivors) else "red"
    console.print(f"[{colour}]{text}[/{colour}] in {seconds:.1f} s")


def _print_case(console: Console, case: CaseResult, kind: str) -> None:
    mark = "[green]ok[/green]  " if case.passed else "[red]fail[/red]"
    console.print(f"  {mark} {escape(case.case.name)}")
    if case.error is not None:
        console.print(f"       [red]error:[/red] {escape(case.error)}")
        return
    if case.passed:
        return
    console.print(f"       expected: the rule {case.expected_text()}")
    console.print(f"       got:      the rule {case.got_text(kind)}")
    if case.explanation is not None:
        for note in case.explanation.notes:
            console.print(f"       {escape(note)}")
        for verdict in case.explanation.events:
            console.print(f"       {escape(verdict.describe())}")


def _print_sharpness(console: Console, report: SharpnessReport, *, verbose: bool) -> None:
    if report.error is not None:
        console.print(f"     [red]mutation:[/red] {escape(report.error)}")
        return
    killed = sum(o.status == "killed" for o in report.outcomes)
    console.print(f"     mutants: {killed} of {len(report.outcomes)} killed")
    for outcome in report.outcomes:
        if outcome.status == "survived":
            console.print(f"     [red]survives:[/red] {escape(outcome.mutant.describe())}")
            console.print(f"       fix: {escape(outcome.mutant.hint())}")
        elif outcome.status == "stillborn":
            console.print(
                f"     [yellow]not run:[/yellow] {escape(outcome.mutant.describe())}: "
                f"{escape(outcome.message or '')}"
            )
        elif verbose:
            console.print(
                f"     killed by {escape(outcome.killed_by or '?')}: {escape(outcome.mutant.describe())}"
            )


def print_check_report(report: CheckReport, *, strict: bool = False) -> None:
    """Every issue with its place and fix, then a one-line summary."""
    console = _stdout()
    for issue in report.issues:
        line = f":{issue.line}" if issue.line else ""
        colour = "red" if issue.severity == "error" else "yellow"
        console.print(
            f"{escape(shown(issue.path))}{line}: [{colour}]{issue.severity}:[/{colour}] "
            f"{escape(issue.message)}"
        )
        if issue.hint:
            console.print(f"  fix: {escape(issue.hint)}")
    summary = (
        f"checked {report.files} rule file(s), {report.documents} rule document(s): "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    )
    failed = not report.ok or (strict and report.warnings)
    console.print(f"[red]{summary}[/red]" if failed else f"[green]{summary}[/green]")


def print_coverage(matrix: Coverage) -> None:
    """Techniques and controls against sources, the rules behind them, and uncovered sources."""
    console = _stdout()
    if not console.is_terminal:  # a file or pipe has room: do not squeeze the matrix
        console.width = max(console.width, 132)
    console.print(_matrix_table("ATT&CK techniques", "tactics", matrix.techniques, matrix.sources))
    console.print(
        _matrix_table("Compliance controls", "framework", matrix.controls, matrix.sources)
    )
    console.print(_rules_table(matrix))
    uncovered = [s for s in matrix.sources if not any(s in r.sources for r in matrix.rules)]
    console.print(
        f"{len(matrix.rules)} rule(s), {len(matrix.techniques)} technique(s), "
        f"{len(matrix.controls)} control(s)"
    )
    if uncovered:
        console.print(f"[yellow]sources without rules:[/yellow] {', '.join(uncovered)}")
    for reason in matrix.skipped:
        console.print(f"[red]left out:[/red] {escape(reason)}")


def _matrix_table(title: str, label: str, rows: Sequence[Row], sources: Sequence[str]) -> Table:
    """Rows against sources, each cell the number of rules; a dot is a gap."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(title.rsplit(maxsplit=1)[-1].removesuffix("s"), no_wrap=True)
    table.add_column(label, overflow="fold")
    for source in sources:
        table.add_column(source.split(".")[0], justify="right")
    table.add_column("rules", justify="right")
    for row in rows:
        counts = [str(row.per_source[s]) if row.per_source.get(s) else "·" for s in sources]
        table.add_row(row.key.removeprefix("compliance."), row.label, *counts, str(len(row.rules)))
    return table


def _rules_table(matrix: Coverage) -> Table:
    table = Table(title="Rules", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("rule", "level", "sources", "techniques", "controls"):
        table.add_column(name, overflow="fold")
    for rule in matrix.rules:
        table.add_row(
            Path(rule.path).stem,
            rule.level or "-",
            ", ".join(rule.sources),
            ", ".join(rule.techniques),
            ", ".join(c.tag.removeprefix("compliance.") for c in rule.controls),
        )
    return table
