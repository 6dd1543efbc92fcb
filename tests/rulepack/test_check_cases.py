"""`rules check` reads each rule's cases as `rules test` does, without judging them.

A case that cannot be ingested (empty, a line its source cannot read) is an error at its file
and line. A field the rule reads that no event of its cases holds is a warning naming the field
and the rule, with the close name the events do hold: a misspelt field in a filter, an OR
branch or a correlation's group-by fails no case, so nothing else catches it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.rulepack.builders import (
    OKTA,
    STOP_LOGGING,
    cloudtrail,
    okta,
    rule_doc,
    stop_logging_cases,
)

from auditlake.cli import main
from auditlake.rulepack.check import CheckReport, Issue, check_pack
from auditlake.rulepack.layout import discover
from auditlake.rulepack.runner import run_pack

WINDOWS_PROCESS = {"product": "windows", "category": "process_creation"}


def check(tmp_path: Path) -> CheckReport:
    return check_pack(discover(tmp_path / "rules"))


def of(report: CheckReport, kind: str) -> list[Issue]:
    return [i for i in report.issues if i.check == kind]


def field_warnings(report: CheckReport) -> list[Issue]:
    return [i for i in of(report, "fields") if i.severity == "warning"]


# --- case files that cannot be read --------------------------------------------------------


def test_an_empty_case_file_is_an_error_at_that_file(write_rule, tmp_path: Path) -> None:
    path = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    empty = path.parent / "aws_stop" / "miss_empty.jsonl"
    empty.write_text("", encoding="utf-8")
    (issue,) = of(check(tmp_path), "cases")
    assert (issue.path, issue.severity) == (str(empty), "error")
    assert issue.message == "the case holds no events"
    assert "put the events in it" in issue.hint


def test_a_case_file_of_blank_lines_is_an_error(write_rule, tmp_path: Path) -> None:
    path = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    blank = path.parent / "aws_stop" / "match_blank.jsonl"
    blank.write_text("\n   \n\n", encoding="utf-8")
    report = check(tmp_path)
    assert not report.ok
    assert [(i.path, i.message) for i in of(report, "cases")] == [
        (str(blank), "the case holds no events")
    ]


def test_a_line_that_is_not_json_is_an_error_naming_file_and_line(write_rule, tmp_path: Path) -> None:
    path = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    case = path.parent / "aws_stop" / "match_stop.jsonl"
    good = json.dumps(cloudtrail("StopLogging"))
    case.write_text(f"{good}\n{good[:80]}\n", encoding="utf-8")
    (issue,) = of(check(tmp_path), "cases")
    assert (issue.path, issue.line, issue.severity) == (str(case), 2, "error")
    assert "(line 2)" in issue.message and "JSON" in issue.message
    assert f"{case}:2" in str(issue)


def test_rules_test_names_the_lines_it_could_not_read(write_rule, tmp_path: Path) -> None:
    path = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    case = path.parent / "aws_stop" / "miss_other_call.jsonl"
    good = json.dumps(cloudtrail("StartLogging"))
    case.write_text(f"{good}\nnot json\n{good[:50]}\n", encoding="utf-8")
    (result,) = run_pack(discover(tmp_path / "rules"))
    (failed,) = result.failures
    assert failed.case.path == case
    assert "(line 2)" in (failed.error or "") and "(line 3)" in (failed.error or "")


def test_good_cases_give_no_case_issue(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    report = check(tmp_path)
    assert report.issues == (), [str(i) for i in report.issues]


# --- fields no case holds ------------------------------------------------------------------


def test_a_misspelt_field_is_a_warning_with_the_name_the_cases_hold(
    write_rule, tmp_path: Path
) -> None:
    detection = {**STOP_LOGGING, "selection_event": {"EventNmae": ["StopLogging", "DeleteTrail"]}}
    path = write_rule("aws_stop", [rule_doc(detection, title="Trail stopped")], stop_logging_cases())
    report = check(tmp_path)
    (issue,) = field_warnings(report)
    assert report.ok  # a warning: `--strict` makes it fail
    assert issue.message == "Trail stopped reads field EventNmae, which no event of the rule's cases holds"
    assert issue.hint.startswith("did you mean eventName?")
    assert "EventNmae" in path.read_text().splitlines()[issue.line - 1]


def test_the_warning_points_at_the_line_naming_the_field_whole(write_rule, tmp_path: Path) -> None:
    detection = {
        "selection": {"eventName": "StopLogging"},
        "filter": {"eventNam": "DeleteTrail"},
        "condition": "selection and not filter",
    }
    path = write_rule("aws_stop", [rule_doc(detection)], {
        "match_a.jsonl": [cloudtrail()],
        "miss_a.jsonl": [cloudtrail("StartLogging")],
    })
    (issue,) = field_warnings(check(tmp_path))
    assert path.read_text().splitlines()[issue.line - 1].strip() == "eventNam: DeleteTrail"
    assert issue.hint.startswith("did you mean eventName?")


def test_a_misspelt_filter_field_no_case_fails_on_is_caught(write_rule, tmp_path: Path) -> None:
    detection = {
        "selection": {"eventName": "StopLogging"},
        "filter_cfn": {"userIdentity.invokedBY": "cloudformation.amazonaws.com"},
        "condition": "selection and not filter_cfn",
    }
    invoked = {**cloudtrail()["userIdentity"], "invokedBy": "cloudformation.amazonaws.com"}
    cases = {
        "match_a.jsonl": [cloudtrail()],
        "miss_a.jsonl": [cloudtrail("StartLogging")],
        "miss_cfn.jsonl": [cloudtrail("StartLogging", userIdentity=invoked)],
    }
    write_rule("aws_stop", [rule_doc(detection)], cases)
    assert all(r.passed for r in run_pack(discover(tmp_path / "rules")))  # no case catches it
    (issue,) = field_warnings(check(tmp_path))
    assert "userIdentity.invokedBY" in issue.message
    assert issue.hint.startswith("did you mean userIdentity.invokedBy?")


def test_nested_paths_canonical_columns_and_absence_tests_raise_no_warning(
    write_rule, tmp_path: Path
) -> None:
    detection = {
        "selection": {
            "eventName": "StopLogging",
            "userIdentity.type": "IAMUser",
            "actor_name|contains": "alice",
            "requestParameters.name": "main",
        },
        "filter_failed": {"errorCode|exists": True},
        "filter_console": {"sessionCredentialFromConsole|exists": False},
        "condition": "selection and not filter_failed and filter_console",
    }
    write_rule("aws_stop", [rule_doc(detection)], {
        "match_a.jsonl": [cloudtrail()],
        "miss_a.jsonl": [cloudtrail("StopLogging", userIdentity={"type": "Root"})],
    })
    assert field_warnings(check(tmp_path)) == []


def test_a_field_inside_an_array_of_the_record_is_seen(write_rule, tmp_path: Path) -> None:
    detection = {
        "selection": {"eventType": "user.session.start", "target.alternateId": "admin@example.org"},
        "condition": "selection",
    }
    target = [{"id": "00u1", "type": "User", "alternateId": "admin@example.org"}]
    hit = {**okta("eve@example.org"), "target": target}
    write_rule("okta_target", [rule_doc(detection, logsource=OKTA)], {
        "match_a.jsonl": [hit],
        "miss_a.jsonl": [okta("eve@example.org")],
    }, folder="okta")
    assert field_warnings(check(tmp_path)) == []
    typo = {**detection, "selection": {**detection["selection"], "target.alternateID": "x"}}
    write_rule("okta_target", [rule_doc(typo, logsource=OKTA)], folder="okta")
    (issue,) = field_warnings(check(tmp_path))
    assert "target.alternateID" in issue.message and "did you mean target.alternateId?" in issue.hint


def security_4688(image: str, command_line: str, record: int) -> dict[str, Any]:
    """A Security-log process creation, in evtx_dump's JSON: its image is `NewProcessName`."""
    return {"Event": {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": 4688, "Channel": "Security", "Computer": "ws1.example.org",
            "EventRecordID": record,
            "TimeCreated": {"#attributes": {"SystemTime": f"2024-05-01T09:00:{record:02d}Z"}},
        },
        "EventData": {
            "SubjectUserName": "alice", "NewProcessName": image, "CommandLine": command_line,
        },
    }}


def test_a_field_renamed_on_the_route_is_read_under_its_route_name(
    write_rule, tmp_path: Path
) -> None:
    detection = {
        "selection": {"Image|endswith": "\\certutil.exe", "CommandLine|contains": "-urlcache"},
        "condition": "selection",
    }
    cases = {
        "match_a.jsonl": [security_4688("C:\\Windows\\certutil.exe", "certutil -urlcache -f x", 1)],
        "miss_a.jsonl": [security_4688("C:\\Windows\\certutil.exe", "certutil -dump", 2)],
    }
    doc = rule_doc(detection, logsource=WINDOWS_PROCESS)
    write_rule("windows_certutil", [doc], cases, folder="windows")
    assert [str(i) for i in check(tmp_path).issues] == []
    typo = {"selection": {"Imgae|endswith": "\\certutil.exe"}, "condition": "selection"}
    write_rule("windows_certutil", [rule_doc(typo, logsource=WINDOWS_PROCESS)], folder="windows")
    (issue,) = field_warnings(check(tmp_path))
    assert "Imgae" in issue.message and "did you mean Image?" in issue.hint


def brute_force(group_by: str) -> list[dict[str, Any]]:
    failed = rule_doc(
        {"selection": {"eventName": "ConsoleLogin", "errorMessage": "Failed authentication"},
         "condition": "selection"},
        name="console_login_failed",
    )
    correlation = rule_doc(
        None,
        title="Console brute force",
        correlation={
            "type": "event_count",
            "rules": ["console_login_failed"],
            "group-by": [group_by],
            "timespan": "10m",
            "condition": {"gte": 3},
        },
    )
    return [failed, correlation]


def login_failures(count: int) -> list[dict[str, Any]]:
    return [cloudtrail("ConsoleLogin", errorMessage="Failed authentication") for _ in range(count)]


def test_a_misspelt_group_by_field_of_a_correlation_is_a_warning(write_rule, tmp_path: Path) -> None:
    cases = {"match_a.jsonl": login_failures(3), "miss_a.jsonl": login_failures(2)}
    path = write_rule("aws_brute", brute_force("sourceIPAddress"), cases)
    assert field_warnings(check(tmp_path)) == []
    path.write_text(path.read_text().replace("- sourceIPAddress", "- sourceIpAddress"))
    (issue,) = field_warnings(check(tmp_path))
    assert issue.message == (
        "correlation Console brute force groups console_login_failed's events by field "
        "sourceIpAddress, which no event of its cases holds"
    )
    assert "did you mean sourceIPAddress?" in issue.hint
    assert "sourceIpAddress" in path.read_text().splitlines()[issue.line - 1]


def test_no_field_warning_when_the_cases_come_from_another_source(write_rule, tmp_path: Path) -> None:
    """Events the rule's routes do not read say nothing of its fields (`rules test` explains
    the mismatch)."""
    detection = {"selection": {"eventType": "user.session.start"}, "condition": "selection"}
    write_rule("okta_x", [rule_doc(detection, logsource=OKTA)], {
        "match_a.jsonl": [cloudtrail()],
        "miss_a.jsonl": [cloudtrail("StartLogging")],
    }, folder="okta")
    assert field_warnings(check(tmp_path)) == []


def test_strict_fails_on_a_field_no_case_holds(write_rule, tmp_path: Path) -> None:
    detection = {**STOP_LOGGING, "selection_source": {"eventSorce": "cloudtrail.amazonaws.com"}}
    write_rule("aws_stop", [rule_doc(detection)], stop_logging_cases())
    rules = str(tmp_path / "rules")
    plain = CliRunner().invoke(main, ["rules", "check", rules])
    assert plain.exit_code == 0 and "eventSorce" in plain.stdout
    strict = CliRunner().invoke(main, ["rules", "check", rules, "--strict", "--json"])
    assert strict.exit_code == 1
    (issue,) = json.loads(strict.stdout)["issues"]
    assert (issue["check"], issue["severity"]) == ("fields", "warning")


def test_the_repository_pack_holds_every_field_its_rules_read() -> None:
    from tests.rulepack.builders import PACK

    report = check_pack(discover(PACK))
    assert of(report, "fields") == [] and of(report, "cases") == [], [
        str(i) for i in report.issues
    ]

