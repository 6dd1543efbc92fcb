"""Check, test and measure the Sigma rules under rules/ (layout and semantics: rules/README.md).

\b
Exit codes:
  0  every rule passes
  1  some rule fails: a check issue, a failing case, a surviving mutant
  2  usage error (no such path, no rule file under it, unknown flag)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import Any

import click
import orjson

from auditlake.errors import AuditlakeError
from auditlake.lake.write_refused import refused_as
from auditlake.rulepack.attack import AttackCatalog
from auditlake.rulepack.check import check_pack
from auditlake.rulepack.coverage import coverage, to_json
from auditlake.rulepack.junit import explanation_text, write_junit
from auditlake.rulepack.layout import SOURCE_FOLDERS, Pack, discover, rule_of_case
from auditlake.rulepack.mapped_folder import MAPPING_FILE
from auditlake.rulepack.runner import RuleResult, run_pack
from auditlake.rulepack.sharpness import SharpnessReport, assess
from auditlake.terminal_rules import print_check_report, print_coverage, print_test_results

DEFAULT_RULES = Path("rules")


class RulesExit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2


def _path_argument() -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.argument(
        "path",
        required=False,
        type=click.Path(path_type=Path),
        default=lambda: os.environ.get("AUDITLAKE_RULES", str(DEFAULT_RULES)),
        callback=_existing_path,
    )


def _existing_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """PATH must be there: a mistyped path (or an unset $AUDITLAKE_RULES run from another
    folder) must fail the CI job, not pass it for a pack with nothing to check."""
    if not value.exists():
        raise click.BadParameter(
            f"no such file or folder: {value} (check the path; without PATH the rules are read "
            f"from $AUDITLAKE_RULES, else {DEFAULT_RULES}/ in the current folder)",
            ctx=ctx,
            param=param,
        )
    return value


def _json_option() -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as one JSON object."
    )


def _pack(path: Path) -> Pack:
    """The rules under `path`; a usage error when there are none, as `detect --rules` says:
    checking or testing nothing is a wrong path far more often than a pack still to write."""
    rule = rule_of_case(path)
    if rule is not None:
        raise click.UsageError(_case_given(path, rule))
    try:
        pack = discover(path)
    except AuditlakeError as exc:
        raise click.UsageError(str(exc)) from exc
    if not pack.rules:
        raise click.UsageError(_no_rules(pack))
    return pack


def _case_given(path: Path, rule: Path) -> str:
    """`path` is a case (or the case folder) of `rule`: name the rule file to pass instead."""
    what = "the case folder" if path.is_dir() else "a case"
    command = click.get_current_context().command_path
    return (
        f"{path} is {what} of the rule {rule}, not a rule file: pass the rule file instead "
        f"({command} {rule})"
    )


def _no_rules(pack: Pack) -> str:
    """What to check when `pack` holds no rule file, and what one looks like."""
    text = (
        f"no rule files under {pack.root}: a rule file is a Sigma rule in YAML (.yml) in a "
        f"source folder ({', '.join(f'{f}/' for f in SOURCE_FOLDERS)}, or a folder holding "
        f"the {MAPPING_FILE} of an application's log), e.g. "
        f"{DEFAULT_RULES}/aws/aws_cloudtrail_stop_logging.yml, with its match_ and miss_ cases "
        f"in the folder of the same name beside it (see {DEFAULT_RULES}/README.md); check the "
        "path and $AUDITLAKE_RULES"
    )
    if pack.orphans:
        text += f"; {len(pack.orphans)} case folder(s) there have no rule file, e.g. {pack.orphans[0]}"
    return text


@click.group("rules", help=__doc__)
def rules() -> None:
    pass


@rules.command("test")
@_path_argument()
@click.option(
    "--junit",
    "junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the results as JUnit XML to this file.",
)
@click.option(
    "--mutate",
    is_flag=True,
    help="Also drop each detection item and selection in turn; some case must then fail.",
)
@click.option("-v", "--verbose", is_flag=True, help="List passing cases (and killed mutants) too.")
@_json_option()
def cmd_test(path: Path, junit: Path | None, mutate: bool, verbose: bool, as_json: bool) -> None:
    """Run every rule's cases: match_ cases must fire it, miss_ cases must not.

    PATH is the rules folder (default: $AUDITLAKE_RULES or rules/), a source folder or one
    rule file. Each case is ingested alone into a temporary lake; a failure shows the expected
    and actual verdict and, per event, which selections matched.

    \b
    Examples:
      auditlake rules test
      auditlake rules test rules/aws/aws_cloudtrail_stop_logging.yml --mutate
      auditlake rules test --junit reports/rules-junit.xml
    """
    started = time.monotonic()
    pack = _pack(path)
    results = run_pack(pack)
    sharpness = {r.rule.path: assess(r.rule) for r in results if r.passed} if mutate else None
    if junit is not None:
        try:
            with refused_as(junit, outcome="the tests ran; only their JUnit report is missing"):
                write_junit(junit, results, sharpness)
        except AuditlakeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(RulesExit.FAILED)
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(orjson.dumps(results_json(results, sharpness, elapsed)).decode())
    else:
        print_test_results(results, elapsed, verbose=verbose, sharpness=sharpness)
    failed = not all(r.passed for r in results) or any(
        not s.sharp for s in (sharpness or {}).values()
    )
    sys.exit(RulesExit.FAILED if failed else RulesExit.OK)


def results_json(
    results: list[RuleResult], sharpness: dict[Path, SharpnessReport] | None, elapsed: float
) -> dict[str, Any]:
    """The test results as plain JSON types."""
    cases = [c for r in results for c in r.cases]
    body: dict[str, Any] = {
        "rules": [_rule_json(r, sharpness) for r in results],
        "summary": {
            "rules": len(results),
            "cases": len(cases),
            "passed": sum(c.passed for c in cases),
            "failed": sum(not c.passed for c in cases),
            "rule_errors": sum(r.error is not None for r in results),
            "seconds": round(elapsed, 3),
        },
    }
    if sharpness is not None:
        body["summary"]["surviving_mutants"] = sum(len(s.survivors) for s in sharpness.values())
    return body


def _rule_json(
    result: RuleResult, sharpness: dict[Path, SharpnessReport] | None
) -> dict[str, Any]:
    """One rule's results. With `--mutate` every rule has a `mutation` key, null for a rule
    whose cases fail (its mutants are not run), so consumers see the same keys on each rule."""
    target = result.target
    body: dict[str, Any] = {
        "path": str(result.rule.path),
        "id": target.id if target else None,
        "title": target.title if target else None,
        "kind": target.kind if target else None,
        "passed": result.passed,
        "error": result.error,
        "cases": [
            {
                "path": str(c.case.path),
                "expect": c.case.expect,
                "fired": c.fired,
                "hits": c.hits,
                "passed": c.passed,
                "error": c.error,
                "explanation": explanation_text(c).splitlines() if c.explanation else None,
                "events": [
                    {
                        "event": e.event,
                        "summary": e.summary,
                        "rule": e.rule,
                        "matched": e.matched,
                        "selections": dict(e.selections),
                        "items": {k: dict(v) for k, v in e.items.items()},
                    }
                    for e in (c.explanation.events if c.explanation else ())
                ],
            }
            for c in result.cases
        ],
    }
    if sharpness is not None:
        report = sharpness.get(result.rule.path)
        body["mutation"] = _mutation_json(report) if report is not None else None
    return body


def _mutation_json(report: SharpnessReport) -> dict[str, Any]:
    return {
        "error": report.error,
        "mutants": [
            {
                "operator": o.mutant.operator,
                "mutant": o.mutant.describe(),
                "status": o.status,
                "killed_by": o.killed_by,
                "effect": o.mutant.effect,
                "hint": o.mutant.hint() if o.status == "survived" else None,
                "message": o.message,
            }
            for o in report.outcomes
        ],
    }


@rules.command("check")
@_path_argument()
@click.option(
    "--attack-data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=lambda: os.environ.get("AUDITLAKE_ATTACK_DATA"),
    help="Local MITRE enterprise-attack.json (STIX) to check techniques and their tactics "
    "against; without it only tactic names and technique syntax are checked. "
    "[default: $AUDITLAKE_ATTACK_DATA]",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on warnings too (pySigma's low-severity suggestions, and fields a rule reads "
    "that no event of its cases holds).",
)
@_json_option()
def cmd_check(path: Path, attack_data: Path | None, strict: bool, as_json: bool) -> None:
    """Validate the rules offline: Sigma validity, required fields, ids, tags and cases.

    Runs pySigma's parser and its validators (those that need no download), then the pack's
    own checks from rules/README.md: unique ids, required fields, ATT&CK and compliance tags,
    the file layout, and at least one match_ and one miss_ case per rule. Each case is read as
    `rules test` reads it, without being judged: an empty case or a line its source cannot
    read is an error, and a field the rule reads that no event of its cases holds (most often
    a misspelt name) a warning. Every issue names the file and line and says what to fix.
    Nothing is fetched from the network.

    Errors fail the command; warnings (pySigma's low-severity suggestions, such as an escaped
    wildcard, and fields no case holds) are shown and fail it only with --strict.
    """
    pack = _pack(path)
    try:
        catalog = AttackCatalog.from_stix(attack_data) if attack_data else AttackCatalog.builtin()
    except AuditlakeError as exc:
        raise click.UsageError(str(exc)) from exc
    report = check_pack(pack, attack=catalog)
    failed = not report.ok or (strict and bool(report.warnings))
    if as_json:
        click.echo(
            orjson.dumps(
                {
                    "root": str(report.root),
                    "files": report.files,
                    "documents": report.documents,
                    "attack": catalog.release,
                    "ok": failed is False,
                    "errors": len(report.errors),
                    "warnings": len(report.warnings),
                    "issues": [
                        {
                            "path": i.path,
                            "line": i.line,
                            "severity": i.severity,
                            "check": i.check,
                            "message": i.message,
                            "hint": i.hint,
                        }
                        for i in report.issues
                    ],
                }
            ).decode()
        )
    else:
        print_check_report(report, strict=strict)
    sys.exit(RulesExit.FAILED if failed else RulesExit.OK)


@rules.command("coverage")
@_path_argument()
@_json_option()
def cmd_coverage(path: Path, as_json: bool) -> None:
    """Show which ATT&CK techniques and compliance controls the rules cover, per lake source."""
    matrix = coverage(_pack(path))
    if as_json:
        click.echo(orjson.dumps(to_json(matrix)).decode())
    else:
        print_coverage(matrix)
