"""`rules check` rejects what rules/README.md forbids, each time saying what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.rulepack.builders import STOP_LOGGING, cloudtrail, rule_doc

from auditlake.rulepack.attack import AttackCatalog
from auditlake.rulepack.check import CheckReport, Issue, check_pack
from auditlake.rulepack.layout import discover
from auditlake.rulepack.sigma_checks import ENABLED, EXCLUDED

CASES = {"match_a.jsonl": [cloudtrail()], "miss_a.jsonl": [cloudtrail("StartLogging")]}


def check(tmp_path: Path, **options: Any) -> CheckReport:
    return check_pack(discover(tmp_path / "rules"), **options)


def only(report: CheckReport, kind: str) -> list[Issue]:
    return [i for i in report.issues if i.check == kind]


def test_a_good_pack_has_no_issues(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], CASES)
    report = check(tmp_path)
    assert report.ok and report.issues == (), [str(i) for i in report.issues]
    assert (report.files, report.documents) == (1, 1)


def test_duplicate_id_names_both_files_and_asks_for_a_new_uuid(write_rule, tmp_path: Path) -> None:
    rule_id = "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
    write_rule("aws_one", [rule_doc(STOP_LOGGING, id=rule_id)], CASES)
    write_rule("aws_two", [rule_doc(STOP_LOGGING, id=rule_id.upper())], CASES)
    issues = only(check(tmp_path), "unique")
    assert [Path(i.path).name for i in issues] == ["aws_one.yml", "aws_two.yml"]
    assert all(f"duplicate id {rule_id}" in i.message and i.line == 2 for i in issues)
    assert "aws_two.yml:2" in issues[0].message and "new UUID" in issues[0].hint


def test_missing_level_is_reported_at_the_rule_with_the_allowed_values(
    write_rule, tmp_path: Path
) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING, level=None)], CASES)
    (issue,) = check(tmp_path).issues
    assert issue.message == "`level` is missing"
    assert "add `level:`" in issue.hint and "critical" in issue.hint
    assert issue.line == 1 and issue.severity == "error"


def test_unknown_modifier_points_at_its_line_and_suggests_the_right_one(
    write_rule, tmp_path: Path
) -> None:
    detection = {**STOP_LOGGING, "filter_failed": {"errorCode|existz": True}}
    path = write_rule("aws_stop", [rule_doc(detection)], CASES)
    (issue,) = only(check(tmp_path), "pysigma")
    assert issue.message == "Unknown modifier 'existz'"
    assert issue.hint == "did you mean 'exists'?"
    assert "errorCode|existz" in path.read_text().splitlines()[issue.line - 1]


def test_a_rule_without_cases_is_told_which_files_to_add(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)])
    write_rule("aws_half", [rule_doc(STOP_LOGGING)], {"match_a.jsonl": [cloudtrail()]})
    issues = only(check(tmp_path), "cases")
    assert sorted((Path(i.path).name, i.message) for i in issues) == [
        ("aws_half.yml", "no miss_ case"),
        ("aws_stop.yml", "no match_ case"),
        ("aws_stop.yml", "no miss_ case"),
    ]
    assert any("aws_stop/match_<label>.jsonl" in i.hint for i in issues)


def test_required_fields_and_tags(write_rule, tmp_path: Path) -> None:
    doc = rule_doc(
        STOP_LOGGING,
        references=[],
        author=None,
        tags=["attack.t1562.008", "compliance.pci.10.2", "compliance.iso27001.a.9.1"],
    )
    write_rule("aws_stop", [doc], CASES)
    messages = {i.message for i in check(tmp_path).issues}
    assert "`author` is missing" in messages
    assert "`references` must be a list of at least one reference" in messages
    assert "no ATT&CK tactic tag" in messages
    assert "compliance tag 'compliance.pci.10.2' names no known framework" in messages
    assert any("'a.9.1' is not a control of ISO/IEC 27001:2022" in m for m in messages)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("compliance.pci_dss.10.2.1.6", True),
        ("compliance.soc2.cc7.2", True),
        ("compliance.hipaa.164.312.b", True),
        ("compliance.gdpr.art32", True),
        ("compliance.iso27001.a.8.15", True),
        ("compliance.nist_800_53.au-9", True),
        ("compliance.nist_800_53.au-9.2", True),
        ("compliance.nist_800_53.xx-9", False),
        ("compliance.hipaa.164.312(b)", False),
        ("compliance.iso27001.a.8.35", False),
        ("compliance.PCI_DSS.10.2", False),
    ],
)
def test_compliance_tag_syntax_follows_the_readme_table(
    write_rule, tmp_path: Path, tag: str, ok: bool
) -> None:
    write_rule(
        "aws_stop",
        [rule_doc(STOP_LOGGING, tags=["attack.t1562.008", "attack.defense-evasion", tag])],
        CASES,
    )
    tag_issues = [i for i in check(tmp_path).issues if "compliance" in i.message]
    assert (not tag_issues) is ok, [str(i) for i in tag_issues]


def test_attack_tactic_typo_gets_a_suggestion(write_rule, tmp_path: Path) -> None:
    write_rule(
        "aws_stop",
        [
            rule_doc(
                STOP_LOGGING,
                tags=["attack.t1562.008", "attack.defence-evasion", "compliance.pci_dss.10.2.1.6"],
            )
        ],
        CASES,
    )
    (issue,) = only(check(tmp_path), "tags")
    assert issue.message == "unknown ATT&CK tactic 'attack.defence-evasion'"
    assert issue.hint == "did you mean 'attack.defense-evasion'?"


def test_attack_data_from_a_local_stix_file_checks_the_pairing(write_rule, tmp_path: Path) -> None:
    bundle = {
        "type": "bundle",
        "objects": [
            {"type": "x-mitre-collection", "x_mitre_version": "18.1"},
            {"type": "x-mitre-tactic", "x_mitre_shortname": "defense-evasion"},
            {"type": "x-mitre-tactic", "x_mitre_shortname": "impact"},
            {
                "type": "attack-pattern",
                "name": "Disable or Modify Cloud Logs",
                "external_references": [
                    {"source_name": "mitre-attack", "external_id": "T1562.008"}
                ],
                "kill_chain_phases": [
                    {"kill_chain_name": "mitre-attack", "phase_name": "defense-evasion"}
                ],
            },
        ],
    }
    stix = tmp_path / "enterprise-attack.json"
    stix.write_text(json.dumps(bundle))
    catalog = AttackCatalog.from_stix(stix)
    write_rule(
        "aws_stop",
        [
            rule_doc(
                STOP_LOGGING,
                tags=[
                    "attack.t1562.008",
                    "attack.impact",
                    "attack.t1999",
                    "compliance.pci_dss.10.2.1.6",
                ],
            )
        ],
        CASES,
    )
    messages = [(i.message, i.hint) for i in only(check(tmp_path, attack=catalog), "tags")]
    assert (
        "'attack.t1562.008' comes without one of its tactics",
        "add attack.defense-evasion",
    ) in messages
    assert any("'attack.t1999' is not in ATT&CK 18.1" in m for m, _ in messages)


def test_pysigma_validators_run_without_the_network(
    write_rule, tmp_path: Path, monkeypatch
) -> None:
    import sigma.data.mitre_attack as mitre

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("rules check tried to download data")

    monkeypatch.setattr(mitre, "urlopen", no_network)
    monkeypatch.setattr(mitre, "_load_mitre_attack_data", no_network)
    detection = {
        "sel": {"eventName": "*Logging*"},
        "unused": {"eventName": "x"},
        "condition": "sel",
    }
    write_rule("aws_stop", [rule_doc(detection)], CASES)
    issues = only(check(tmp_path), "validator")
    by_severity = {(i.severity, i.message.split(" (")[0]) for i in issues}
    assert ("error", "Rule defines detection that is not referenced from condition") in by_severity
    assert any(
        severity == "warning" and "contains" in i.hint for i in issues for severity in [i.severity]
    )
    assert check(tmp_path).errors  # the dangling selection fails the check, the wildcard only warns


def test_validator_lists_cover_every_pysigma_validator() -> None:
    from sigma.validators.core import validators

    assert set(ENABLED) | set(EXCLUDED) == set(validators)
    assert not set(ENABLED) & set(EXCLUDED)
    assert {"attacktag", "d3_fendtag"} <= set(EXCLUDED)


def test_layout_naming_and_routing(write_rule, tmp_path: Path) -> None:
    write_rule("StopIt", [rule_doc(STOP_LOGGING)], CASES, folder="gcp")
    write_rule("misc_rule", [rule_doc(STOP_LOGGING)], CASES, folder="misc")
    messages = {(Path(i.path).name, i.check, i.message) for i in check(tmp_path).issues}
    assert (
        "StopIt.yml",
        "layout",
        "file name 'StopIt' is not lower-case words joined by _",
    ) in messages
    assert (
        "StopIt.yml",
        "routing",
        "the rule reads aws.cloudtrail, not gcp.audit of folder gcp/",
    ) in messages
    assert (
        "misc_rule.yml",
        "layout",
        "the rule is in folder 'misc', not a source folder",
    ) in messages
    assert (
        "misc_rule.yml",
        "layout",
        "file name does not start with its product (aws_)",
    ) in messages


def test_correlation_files_end_with_the_correlation(write_rule, tmp_path: Path) -> None:
    correlation = rule_doc(
        None,
        correlation={
            "type": "event_count",
            "rules": ["feeder"],
            "timespan": "5m",
            "condition": {"gte": 2},
        },
    )
    feeder = rule_doc(STOP_LOGGING, name="feeder")
    write_rule("aws_reversed", [correlation, feeder], CASES)
    messages = {i.message for i in check(tmp_path).issues}
    assert "a correlation before the last document" in messages
    assert "several documents, but the last is not a correlation" in messages


def test_orphan_case_folder_and_stray_files(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], {**CASES, "readme.jsonl": [cloudtrail()]})
    (tmp_path / "rules" / "aws" / "aws_gone").mkdir()
    (tmp_path / "rules" / "aws" / "aws_gone" / "match_x.jsonl").write_text("{}\n")
    messages = {(Path(i.path).name, i.message) for i in check(tmp_path).issues}
    assert ("readme.jsonl", "not a case file (names start with match_ or miss_)") in messages
    assert ("aws_gone", "case folder without a rule file") in messages


def test_issue_text_reads_path_line_message_fix() -> None:
    issue = Issue("rules/aws/x.yml", 12, "`level` is missing", "add `level:`", "fields")
    assert str(issue) == "rules/aws/x.yml:12: `level` is missing (add `level:`)"


def test_a_correlation_naming_no_rule_of_its_file_is_an_issue_not_a_crash(write_rule, tmp_path: Path) -> None:
    correlation = rule_doc(
        None,
        correlation={"type": "event_count", "rules": ["feedr"], "timespan": "5m", "condition": {"gte": 2}},
    )
    write_rule("aws_burst", [rule_doc(STOP_LOGGING, name="feeder"), correlation], CASES)
    write_rule("aws_stop", [rule_doc(STOP_LOGGING)], CASES)
    report = check(tmp_path)
    issues = only(report, "compile")
    assert not report.ok
    assert [(Path(i.path).name, i.message) for i in issues] == [
        (
            "aws_burst.yml",
            "does not compile: the correlation refers to 'feedr', which no rule given defines (by id or "
            "name): pass the file that defines it too, or correct the reference",
        )
    ]
    assert "`name:`" in issues[0].hint


def test_a_correlation_pysigma_cannot_read_is_an_issue_not_a_crash(write_rule, tmp_path: Path) -> None:
    correlation = rule_doc(None, correlation={"type": "event_count", "rules": "feeder", "timespan": "5m"})
    write_rule("aws_burst", [rule_doc(STOP_LOGGING, name="feeder"), correlation], CASES)
    issues = only(check(tmp_path), "compile")
    assert len(issues) == 1
    assert issues[0].message.startswith("does not compile: pySigma cannot read this document (")
