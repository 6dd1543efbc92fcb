"""`rules test --junit FILE`: the results as JUnit XML, for CI systems that display it.

One `<testsuite>` per rule file, one `<testcase>` per case (and per mutant when mutation ran).
A case that went the wrong way is a `<failure>` with the expected and actual verdict and the
per-event explanation as its text; one that could not be judged is an `<error>`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from auditlake.rulepack.runner import CaseResult, RuleResult
from auditlake.rulepack.sharpness import SharpnessReport


def junit_xml(
    results: Sequence[RuleResult], sharpness: Mapping[Path, SharpnessReport] | None = None
) -> bytes:
    """The JUnit XML document for `results` (and mutation reports keyed by rule path)."""
    root = ET.Element("testsuites", name="auditlake rules")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for result in results:
        suite = _suite(result, (sharpness or {}).get(result.rule.path))
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        seconds += result.seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_junit(
    path: Path,
    results: Sequence[RuleResult],
    sharpness: Mapping[Path, SharpnessReport] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(results, sharpness))


def _suite(result: RuleResult, report: SharpnessReport | None) -> ET.Element:
    suite = ET.Element("testsuite", name=str(result.rule.path), time=f"{result.seconds:.3f}")
    classname = f"{result.rule.folder}.{result.rule.stem}"
    failures = errors = 0
    if result.error is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="rule file")
        ET.SubElement(case, "error", message=result.error)
        errors += 1
    for case_result in result.cases:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=classname,
            name=case_result.case.name,
            time=f"{case_result.seconds:.3f}",
        )
        if case_result.error is not None:
            ET.SubElement(case, "error", message=case_result.error)
            errors += 1
        elif not case_result.passed:
            kind = result.target.kind if result.target else "detection"
            failure = ET.SubElement(case, "failure", message=_verdict(case_result, kind))
            failure.text = explanation_text(case_result)
            failures += 1
    if report is not None:
        failures += _mutants(suite, classname, report)
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    return suite


def _mutants(suite: ET.Element, classname: str, report: SharpnessReport) -> int:
    failures = 0
    if report.error is not None:
        case = ET.SubElement(suite, "testcase", classname=classname, name="mutation")
        ET.SubElement(case, "error", message=report.error)
        return 0
    for outcome in report.outcomes:
        case = ET.SubElement(
            suite, "testcase", classname=classname, name=f"mutant: {outcome.mutant.describe()}"
        )
        if outcome.status == "survived":
            ET.SubElement(case, "failure", message=f"no case fails: {outcome.mutant.hint()}")
            failures += 1
        elif outcome.status == "stillborn":
            ET.SubElement(case, "skipped", message=outcome.message or "the mutant does not compile")
    return failures


def _verdict(case: CaseResult, kind: str) -> str:
    return f"expected: {case.expected_text()}; got: {case.got_text(kind)}"


def explanation_text(case: CaseResult) -> str:
    """The explanation of a failed case as plain lines."""
    if case.explanation is None:
        return ""
    lines = list(case.explanation.notes) + [e.describe() for e in case.explanation.events]
    return "\n".join(lines)
