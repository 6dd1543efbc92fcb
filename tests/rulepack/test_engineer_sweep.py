"""Mistakes a rule author makes, and what `auditlake rules` says about each of them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from tests.rulepack.builders import (
    CLOUDTRAIL,
    OKTA,
    STOP_LOGGING,
    cloudtrail,
    okta,
    rule_doc,
    rule_yaml,
    stop_logging_cases,
    write_jsonl,
)

from auditlake.cli import main
from auditlake.detection.compile import rule_files
from auditlake.rulepack.check import check_pack
from auditlake.rulepack.layout import discover
from auditlake.rulepack.runner import RuleResult, run_rule

NOWHERE = {"product": "nowhere", "service": "nothing"}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["rules", *map(str, args)], prog_name="auditlake")


def run(path: Path) -> RuleResult:
    return run_rule(discover(path).rules[0])


def notes_of_failures(result: RuleResult) -> list[str]:
    return [n for c in result.failures if c.explanation for n in c.explanation.notes]


def test_a_logsource_no_lake_source_reads_is_named_in_the_failure(write_rule) -> None:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_start.jsonl": [cloudtrail("StartLogging")],
    }
    result = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING, logsource=NOWHERE)], cases))

    (failure,) = result.failures
    assert failure.case.name == "match_stop.jsonl"
    (note,) = notes_of_failures(result)
    assert "product=nowhere, service=nothing" in note
    assert "reads nowhere.nothing" in note and "aws.cloudtrail events" in note


def test_a_logsource_of_another_source_is_named_in_the_failure(write_rule) -> None:
    cases = {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "miss_start.jsonl": [cloudtrail("StartLogging")],
    }
    result = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING, logsource=OKTA)], cases))

    (note,) = notes_of_failures(result)
    assert "reads okta.system" in note and "aws.cloudtrail events" in note


def test_a_correlation_input_on_another_source_is_named_in_the_failure(write_rule) -> None:
    signin = {"selection": {"outcome.result": "FAILURE"}, "condition": "selection"}
    spray = {
        "type": "event_count",
        "rules": ["okta_failed_signin"],
        "group-by": ["client.ipAddress"],
        "timespan": "10m",
        "condition": {"gte": 2},
    }
    documents = [
        rule_doc(signin, logsource=CLOUDTRAIL, name="okta_failed_signin"),
        rule_doc(None, correlation=spray, title="Okta failures"),
    ]
    cases = {
        "match_two.jsonl": [okta("a@example.org"), okta("b@example.org", minute=1)],
        "miss_one.jsonl": [okta("a@example.org")],
    }
    result = run(write_rule("okta_failures", documents, cases, folder="okta"))

    notes = notes_of_failures(result)
    assert any(
        n.startswith("okta_failed_signin:") and "reads aws.cloudtrail" in n and "okta.system" in n
        for n in notes
    ), notes


def test_a_rule_that_reads_the_case_source_gets_no_routing_note(write_rule) -> None:
    cases = {
        "match_mislabelled.jsonl": [cloudtrail("StartLogging")],
        "miss_stop.jsonl": [cloudtrail("StopLogging")],
    }
    result = run(write_rule("aws_stop", [rule_doc(STOP_LOGGING)], cases))

    assert len(result.failures) == 2
    assert notes_of_failures(result) == []


def test_a_case_folder_given_as_path_names_its_rule_file(write_rule) -> None:
    rule = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())

    for command in ("test", "check"):
        result = invoke(command, rule.parent / "aws_stop")
        assert result.exit_code == 2, result.output
        assert "is the case folder of the rule" in result.output
        assert f"auditlake rules {command} {rule}" in result.output.replace("\n", "")


def test_a_case_file_given_as_path_names_its_rule_file(write_rule) -> None:
    rule = write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())

    result = invoke("test", rule.parent / "aws_stop" / "match_stop.jsonl")

    assert result.exit_code == 2, result.output
    assert "is a case of the rule" in result.output
    assert f"auditlake rules test {rule}" in result.output.replace("\n", "")


def test_a_source_folder_with_a_yml_beside_it_is_still_a_rules_folder(
    write_rule, tmp_path: Path
) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())
    (tmp_path / "rules" / "aws.yml").write_text("title: stray\n", encoding="utf-8")

    result = invoke("test", tmp_path / "rules" / "aws")

    assert result.exit_code == 0, result.output


def test_a_file_in_place_of_the_case_folder_is_named(write_rule) -> None:
    rule = write_rule("aws_stop", [rule_doc(STOP_LOGGING)])
    (rule.parent / "aws_stop").write_text("not a folder\n", encoding="utf-8")
    pack = discover(rule.parent.parent)

    issues = check_pack(pack).issues
    (issue,) = [i for i in issues if i.check == "cases"]
    assert issue.path == str(rule.parent / "aws_stop")
    assert "a file has the name of the rule's case folder" in issue.message

    result = run_rule(pack.rules[0])
    assert result.error is not None and "is a file, not a folder" in result.error


def test_json_with_mutate_gives_every_rule_a_mutation_key(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING, title="Trail stopped")], stop_logging_cases())
    failing = {
        "match_start.jsonl": [cloudtrail("StartLogging")],
        "miss_stop.jsonl": [cloudtrail("StopLogging")],
    }
    write_rule("aws_stop_broken", [rule_doc(STOP_LOGGING, title="Trail stopped too")], failing)

    result = invoke("test", tmp_path / "rules", "--mutate", "--json")

    assert result.exit_code == 1, result.output
    rules = {Path(r["path"]).stem: r for r in json.loads(result.stdout)["rules"]}
    assert {tuple(sorted(r)) for r in rules.values()} == {tuple(sorted(rules["aws_stop"]))}
    assert rules["aws_stop_broken"]["mutation"] is None
    assert rules["aws_stop"]["mutation"]["error"] is None


def test_json_without_mutate_has_no_mutation_key(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], stop_logging_cases())

    result = invoke("test", tmp_path / "rules", "--json")

    assert result.exit_code == 0, result.output
    assert all("mutation" not in r for r in json.loads(result.stdout)["rules"])


def test_a_symlinked_source_folder_is_read_by_check_test_and_detect(write_rule, tmp_path: Path) -> None:
    """A SigmaHQ checkout or a shared pack linked into the rules folder: its rules are checked,
    tested and compiled for `detect` alike (they were skipped without a word)."""
    write_rule(
        "okta_failures",
        [rule_doc({"sel": {"outcome.result": "FAILURE"}, "condition": "sel"}, logsource=OKTA)],
        folder="okta",
    )
    elsewhere = tmp_path / "shared" / "aws"
    elsewhere.mkdir(parents=True)
    (elsewhere / "aws_stop.yml").write_text(rule_yaml(rule_doc(STOP_LOGGING)), encoding="utf-8")
    for name, records in stop_logging_cases().items():
        write_jsonl(elsewhere / "aws_stop" / name, records)
    rules = tmp_path / "rules"
    (rules / "aws").symlink_to(elsewhere, target_is_directory=True)
    (rules / ".hidden").mkdir()
    (rules / ".hidden" / "workflow.yml").write_text("on: push\n", encoding="utf-8")

    assert [r.path.relative_to(rules).as_posix() for r in discover(rules).rules] == [
        "aws/aws_stop.yml", "okta/okta_failures.yml"]
    assert sorted(p.relative_to(rules).as_posix() for p in rule_files([rules])) == [
        "aws/aws_stop.yml", "okta/okta_failures.yml"]
    tested = invoke("test", rules, "--json")
    assert {Path(r["path"]).name for r in json.loads(tested.stdout)["rules"]} == {
        "aws_stop.yml", "okta_failures.yml"}


def test_a_symlinked_case_folder_is_read_and_not_reported(write_rule, tmp_path: Path) -> None:
    rule = write_rule("aws_stop", [rule_doc(STOP_LOGGING)])
    shared = tmp_path / "shared_cases"
    for name, records in stop_logging_cases().items():
        write_jsonl(shared / name, records)
    (rule.parent / "aws_stop").symlink_to(shared, target_is_directory=True)

    pack = discover(tmp_path / "rules")

    assert pack.orphans == ()
    assert run_rule(pack.rules[0]).passed
