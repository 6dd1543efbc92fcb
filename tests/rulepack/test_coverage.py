"""The coverage matrix: techniques and controls of the rules under test, per lake source."""

from __future__ import annotations

from pathlib import Path

from tests.rulepack.builders import OKTA, STOP_LOGGING, cloudtrail, rule_doc

from auditlake.rulepack.coverage import coverage, to_json
from auditlake.rulepack.layout import SOURCE_FOLDERS, discover

TAGS_AWS = [
    "attack.defense-evasion",
    "attack.t1562.008",
    "compliance.pci_dss.10.2.1.6",
    "compliance.soc2.cc7.2",
]
TAGS_OKTA = ["attack.credential-access", "attack.t1110.003", "compliance.soc2.cc7.2"]


def build(write_rule) -> None:
    write_rule(
        "aws_stop",
        [rule_doc(STOP_LOGGING, tags=TAGS_AWS, title="Trail stopped")],
        {"match_a.jsonl": [cloudtrail()]},
    )
    feeder = rule_doc(
        {"selection": {"eventType": "user.session.start"}, "condition": "selection"},
        logsource=OKTA,
        name="failed",
        tags=["attack.impact", "attack.t1531", "compliance.gdpr.art32"],
    )
    correlation = rule_doc(
        None,
        title="Spray",
        tags=TAGS_OKTA,
        correlation={
            "type": "event_count",
            "rules": ["failed"],
            "timespan": "5m",
            "condition": {"gte": 3},
        },
    )
    write_rule("okta_spray", [feeder, correlation], folder="okta")


def test_rows_count_rules_per_source(write_rule, tmp_path: Path) -> None:
    build(write_rule)
    matrix = coverage(discover(tmp_path / "rules"))
    assert matrix.sources == tuple(SOURCE_FOLDERS.values())
    rows = {r.key: r for r in matrix.techniques}
    assert sorted(rows) == ["t1110.003", "t1562.008"]  # the feeder's t1531 does not count
    assert rows["t1562.008"].label == "defense-evasion"
    assert {s: n for s, n in rows["t1110.003"].per_source.items() if n} == {"okta.system": 1}
    controls = {r.key: r for r in matrix.controls}
    assert sorted(controls) == ["compliance.pci_dss.10.2.1.6", "compliance.soc2.cc7.2"]
    shared = controls["compliance.soc2.cc7.2"]
    assert [r.title for r in shared.rules] == ["Trail stopped", "Spray"]
    assert {s: n for s, n in shared.per_source.items() if n} == {
        "aws.cloudtrail": 1,
        "okta.system": 1,
    }


def test_json_lists_rules_controls_and_gaps(write_rule, tmp_path: Path) -> None:
    build(write_rule)
    body = to_json(coverage(discover(tmp_path / "rules")))
    spray = next(r for r in body["rules"] if r["title"] == "Spray")
    assert spray["kind"] == "correlation" and spray["sources"] == ["okta.system"]
    control = next(c for c in body["controls"] if c["key"] == "compliance.pci_dss.10.2.1.6")
    assert (control["framework"], control["control"], control["label"]) == (
        "pci_dss",
        "10.2.1.6",
        "PCI DSS 4.0.1",
    )
    assert control["sources"] == {"aws.cloudtrail": 1}
    assert (
        "github.audit" in body["uncovered_sources"]
        and "okta.system" not in body["uncovered_sources"]
    )
    assert body["techniques"][0]["tactics"] == ["credential-access"]


def test_rules_that_cannot_be_read_are_listed_not_dropped(write_rule, tmp_path: Path) -> None:
    write_rule("aws_broken", "title: [unclosed\n")
    matrix = coverage(discover(tmp_path / "rules"))
    assert matrix.rules == () and len(matrix.skipped) == 1 and "not valid YAML" in matrix.skipped[0]


def test_a_rule_that_does_not_compile_is_listed_by_its_file(write_rule, tmp_path: Path) -> None:
    path = write_rule(
        "aws_broken",
        "title: t\nid: 8d6f2a4e-3c1b-4f5a-9e7d-1b2c3d4e5f60\n"
        "correlation: {type: event_count, rules: [missing], timespan: 5m, condition: {gte: 2}}\n",
    )
    matrix = coverage(discover(tmp_path / "rules"))
    assert len(matrix.skipped) == 1 and matrix.skipped[0].startswith(f"{path}: ")
