"""`auditlake rules test|check|coverage`: exit codes, JSON on stdout, JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.rulepack.builders import STOP_LOGGING, cloudtrail, rule_doc, stop_logging_cases

from auditlake.cli import main


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["rules", *map(str, args)])


@pytest.fixture
def good(write_rule, tmp_path: Path) -> Path:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING, title="Trail stopped")], stop_logging_cases())
    return tmp_path / "rules"


@pytest.fixture
def bad(write_rule, tmp_path: Path) -> Path:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_mislabelled.jsonl": [cloudtrail("DeleteTrail")],
    }
    write_rule("aws_stop", [rule_doc(STOP_LOGGING, title="Trail stopped", level=None)], cases)
    return tmp_path / "rules"


def test_test_passes_with_exit_0(good: Path) -> None:
    result = invoke("test", good)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "5 case(s): 5 passed, 0 failed" in result.output


def test_test_failure_shows_expected_got_and_verdicts_with_exit_1(bad: Path) -> None:
    result = invoke("test", bad)
    assert result.exit_code == 1
    assert "fail miss_mislabelled.jsonl" in result.output
    assert "expected: the rule does not fire" in result.output
    assert "got:      the rule fires (1 event(s) matched)" in result.output
    assert "selection_source=yes selection_event=yes filter_failed=no -> match" in result.output


def test_test_json(bad: Path) -> None:
    result = invoke("test", bad / "aws" / "aws_stop.yml", "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["summary"] | {"seconds": 0} == {
        "rules": 1,
        "cases": 2,
        "passed": 1,
        "failed": 1,
        "rule_errors": 0,
        "seconds": 0,
    }
    failed = next(c for c in body["rules"][0]["cases"] if not c["passed"])
    assert (failed["expect"], failed["fired"], failed["hits"]) == ("miss", True, 1)
    assert failed["events"][0]["selections"] == {
        "selection_source": True,
        "selection_event": True,
        "filter_failed": False,
    }


def test_a_junit_report_that_cannot_be_written_is_an_error_not_a_traceback(bad: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the report's folder should be")
    result = invoke("test", bad, "--junit", tmp_path / "out" / "junit.xml")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "could not write" in result.stderr and "is a file, not a folder" in result.stderr
    assert "JUnit report is missing" in result.stderr


def test_test_junit(bad: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "junit.xml"
    assert invoke("test", bad, "--junit", report).exit_code == 1
    root = ET.parse(report).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "2",
        "1",
        "0",
    )
    (suite,) = root
    failure = suite.find("testcase[@name='miss_mislabelled.jsonl']/failure")
    assert failure is not None
    assert failure.get("message") == "expected: does not fire; got: fires (1 event(s) matched)"
    assert "filter_failed=no" in (failure.text or "")
    assert suite.find("testcase[@name='match_stop.jsonl']/failure") is None


def test_test_mutate_reports_survivors(write_rule, tmp_path: Path) -> None:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_denied.jsonl": [cloudtrail("StopLogging", errorCode="AccessDenied")],
    }
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases)
    junit = tmp_path / "junit.xml"
    result = invoke("test", tmp_path / "rules", "--mutate", "--junit", junit)
    assert result.exit_code == 1
    assert "survives: drop `selection_source` from the condition" in result.output
    assert "2 surviving mutant(s)" in result.output
    names = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")]
    assert "mutant: drop `filter_failed` from the condition" in names


def test_check_passes_a_good_pack(good: Path) -> None:
    result = invoke("check", good)
    assert result.exit_code == 0 and "0 error(s), 0 warning(s)" in result.output


def test_check_json_lists_issues_with_exit_1(bad: Path) -> None:
    result = invoke("check", bad, "--json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False and body["errors"] == 1
    (issue,) = body["issues"]
    assert (issue["message"], issue["line"], issue["severity"]) == (
        "`level` is missing",
        1,
        "error",
    )


def test_check_strict_fails_on_warnings(write_rule, tmp_path: Path) -> None:
    detection = {**STOP_LOGGING, "selection_source": {"eventSource": "cloudtrail.*"}}
    write_rule("aws_stop", [rule_doc(detection)], stop_logging_cases())
    assert invoke("check", tmp_path / "rules").exit_code == 0
    result = invoke("check", tmp_path / "rules", "--strict")
    assert result.exit_code == 1 and "warning:" in result.output


def test_coverage_table_and_json(good: Path) -> None:
    result = invoke("coverage", good)
    assert result.exit_code == 0
    assert "t1562.008" in result.output and "pci_dss.10.2.1.6" in result.output
    body = json.loads(invoke("coverage", good, "--json").stdout)
    assert body["techniques"][0]["key"] == "t1562.008"


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    assert invoke("test", tmp_path / "nope").exit_code == 2
