"""A source folder for an application's own log: `rules/<folder>/mapping.toml`.

The folder's cases are read with the mapping (as `auditlake ingest --mapping` reads them), and
`rules check` takes the folder as the source folder of the source the mapping names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.rulepack.builders import CLOUDTRAIL, STOP_LOGGING, rule_doc, stop_logging_cases

from auditlake.cli import main
from auditlake.detection.compile import compile_rules, rule_files
from auditlake.rulepack.check import CheckReport, Issue, check_pack
from auditlake.rulepack.layout import discover
from auditlake.rulepack.runner import run_pack
from auditlake.rulepack.sharpness import assess

MYAPP = {"product": "myapp", "service": "audit"}
EXPORT = {"sel": {"op": "export"}, "condition": "sel"}
MAPPING = """\
name = "myapp.audit"

[fields]
event_uid = "id"
time = "ts"
action = "op"
"""


def record(op: str, uid: str) -> dict[str, Any]:
    return {"id": uid, "ts": "2026-03-02T10:00:00Z", "op": op}


EXPORT_CASES = {
    "match_export.jsonl": [record("export", "a1")],
    "miss_login.jsonl": [record("login", "a2")],
}


@pytest.fixture
def myapp(tmp_path: Path) -> Path:
    """`rules/myapp/` holding the mapping of the application's log."""
    folder = tmp_path / "rules" / "myapp"
    folder.mkdir(parents=True)
    (folder / "mapping.toml").write_text(MAPPING, encoding="utf-8")
    return folder


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["rules", *map(str, args)], prog_name="auditlake")


def check(path: Path) -> CheckReport:
    return check_pack(discover(path))


def errors_of(report: CheckReport, check_name: str) -> list[Issue]:
    return [i for i in report.errors if i.check == check_name]


def test_rules_test_reads_the_cases_with_the_folders_mapping(myapp: Path, write_rule) -> None:
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    (result,) = run_pack(discover(myapp.parent))

    assert result.passed, [c.error for c in result.cases]
    assert {c.case.name: c.hits for c in result.cases} == {
        "match_export.jsonl": 1,
        "miss_login.jsonl": 0,
    }


def test_rules_test_from_the_command_line_passes(myapp: Path, write_rule) -> None:
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    result = invoke("test", myapp.parent)

    assert result.exit_code == 0, result.output
    assert "2 passed, 0 failed" in result.output


def test_the_mutation_test_reads_the_cases_with_the_mapping(myapp: Path, write_rule) -> None:
    detection = {"sel": {"op": "export", "who": "alice"}, "condition": "sel"}
    cases = {
        "match_export.jsonl": [{**record("export", "a1"), "who": "alice"}],
        "miss_login.jsonl": [{**record("login", "a2"), "who": "alice"}],
        "miss_other_user.jsonl": [{**record("export", "a3"), "who": "bob"}],
    }
    path = write_rule("myapp_export", [rule_doc(detection, logsource=MYAPP)], cases, folder="myapp")

    report = assess(discover(path).rules[0])

    assert report.error is None
    assert report.sharp and len(report.outcomes) == 2


def test_rules_check_accepts_the_folder_as_the_mapped_sources_folder(
    myapp: Path, write_rule
) -> None:
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    report = check(myapp.parent)

    assert report.ok, [str(i) for i in report.issues]
    assert not report.warnings


def test_a_rule_in_the_folder_reading_another_source_fails_routing(myapp: Path, write_rule) -> None:
    other = {"product": "myapp", "service": "billing"}
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=other)], EXPORT_CASES, folder="myapp")

    (issue,) = check(myapp.parent).errors

    assert issue.check == "routing"
    assert "reads myapp.billing, not myapp.audit of folder myapp/" in issue.message


def test_a_rule_for_a_builtin_source_in_the_folder_fails_routing(myapp: Path, write_rule) -> None:
    write_rule(
        "myapp_stop", [rule_doc(STOP_LOGGING, logsource=CLOUDTRAIL)], EXPORT_CASES, folder="myapp"
    )

    (routing,) = errors_of(check(myapp.parent), "routing")

    assert "not myapp.audit of folder myapp/" in routing.message


def test_a_broken_mapping_is_one_error_at_the_file_with_the_mappings_hint(
    myapp: Path, write_rule
) -> None:
    (myapp / "mapping.toml").write_text('name = "myapp.audit"\n[fields]\ntme = "ts"\n')
    for stem in ("myapp_export", "myapp_export_again"):
        write_rule(stem, [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    report = check(myapp.parent)

    (issue,) = report.errors
    assert issue.path == str(myapp / "mapping.toml") and issue.check == "mapping"
    assert "time" in issue.message and 'time = "<path of the timestamp>"' in issue.hint


def test_a_mapping_that_is_not_toml_is_an_error_at_the_file(myapp: Path, write_rule) -> None:
    (myapp / "mapping.toml").write_text('name = "myapp.audit\n')
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    (issue,) = check(myapp.parent).errors

    assert issue.path == str(myapp / "mapping.toml")
    assert "not valid TOML" in issue.message and "fix the TOML syntax" in issue.hint


def test_rules_test_names_a_broken_mapping_in_every_case(myapp: Path, write_rule) -> None:
    (myapp / "mapping.toml").write_text('name = "myapp.audit"\n[fields]\ntme = "ts"\n')
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    (result,) = run_pack(discover(myapp.parent))

    assert not result.passed and len(result.cases) == 2
    for case in result.cases:
        assert case.error is not None and str(myapp / "mapping.toml") in case.error


def test_a_folder_without_a_mapping_is_still_no_source_folder(tmp_path: Path, write_rule) -> None:
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    report = check(tmp_path / "rules")

    (layout,) = errors_of(report, "layout")
    assert layout.message == "the rule is in folder 'myapp', not a source folder"
    assert "mapping.toml" in layout.hint
    assert all("no registered source recognises" in i.message for i in errors_of(report, "cases"))


def test_a_mapping_in_a_builtin_folder_is_reported(tmp_path: Path, write_rule) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    stray = tmp_path / "rules" / "aws" / "mapping.toml"
    stray.write_text(MAPPING, encoding="utf-8")

    (issue,) = check(tmp_path / "rules").errors

    assert issue.path == str(stray) and "built-in source aws.cloudtrail" in issue.message


def test_the_field_check_reads_the_mapped_cases(myapp: Path, write_rule) -> None:
    misspelt = {
        "sel": {"op": "export"},
        "filter": {"opp": "login"},
        "condition": "sel and not filter",
    }
    write_rule("myapp_export", [rule_doc(misspelt, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    report = check(myapp.parent)

    assert report.ok, [str(i) for i in report.issues]
    (warning,) = report.warnings
    assert "reads field opp" in warning.message and "did you mean op?" in warning.hint


def test_detect_reads_no_mapping_as_a_rule(myapp: Path, write_rule) -> None:
    write_rule("myapp_export", [rule_doc(EXPORT, logsource=MYAPP)], EXPORT_CASES, folder="myapp")

    files = list(rule_files([myapp.parent]))

    assert [p.name for p in files] == ["myapp_export.yml"]
    ruleset = compile_rules([myapp.parent])
    assert not ruleset.failures and [set(r.sources) for r in ruleset.rules] == [{"myapp.audit"}]
