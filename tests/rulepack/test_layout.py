"""Rule files and their cases are found as rules/README.md lays them out."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.rulepack.builders import cloudtrail, rule_doc, write_jsonl

from auditlake.rulepack.layout import LayoutError, discover


def test_rules_and_cases_are_found_in_order(write_rule, tmp_path: Path) -> None:
    write_rule(
        "aws_b",
        [rule_doc({"sel": {"eventName": "x"}, "condition": "sel"})],
        {"miss_quiet.jsonl": [cloudtrail()], "match_loud.jsonl": [cloudtrail()]},
    )
    write_rule("okta_a", [rule_doc({"sel": {"eventType": "x"}, "condition": "sel"})], folder="okta")
    pack = discover(tmp_path / "rules")
    assert [r.path.name for r in pack.rules] == ["aws_b.yml", "okta_a.yml"]
    first = pack.rules[0]
    assert [(c.name, c.expect, c.label) for c in first.cases] == [
        ("match_loud.jsonl", "match", "loud"),
        ("miss_quiet.jsonl", "miss", "quiet"),
    ]
    assert first.folder == "aws" and first.case_dir == tmp_path / "rules" / "aws" / "aws_b"
    assert pack.rules[1].cases == ()


def test_yaml_inside_a_case_folder_is_not_a_rule(write_rule, tmp_path: Path) -> None:
    write_rule(
        "aws_x",
        [rule_doc({"sel": {"a": 1}, "condition": "sel"})],
        {"match_a.jsonl": [cloudtrail()]},
    )
    (tmp_path / "rules" / "aws" / "aws_x" / "notes.yml").write_text("a: 1")
    pack = discover(tmp_path / "rules")
    assert [r.path.name for r in pack.rules] == ["aws_x.yml"]
    assert [p.name for p in pack.rules[0].strays] == ["notes.yml"]


def test_orphan_case_folders_and_hidden_files(write_rule, tmp_path: Path) -> None:
    write_rule(
        "aws_x",
        [rule_doc({"sel": {"a": 1}, "condition": "sel"})],
        {"match_a.jsonl": [cloudtrail()]},
    )
    write_jsonl(tmp_path / "rules" / "aws" / "aws_gone" / "match_a.jsonl", [cloudtrail()])
    (tmp_path / "rules" / "aws" / "aws_x" / ".DS_Store").write_text("")
    pack = discover(tmp_path / "rules")
    assert pack.orphans == (tmp_path / "rules" / "aws" / "aws_gone",)
    assert pack.rules[0].strays == ()


def test_one_rule_file_or_one_source_folder(write_rule, tmp_path: Path) -> None:
    path = write_rule(
        "aws_x",
        [rule_doc({"sel": {"a": 1}, "condition": "sel"})],
        {"match_a.jsonl": [cloudtrail()]},
    )
    write_rule("okta_y", [rule_doc({"sel": {"a": 1}, "condition": "sel"})], folder="okta")
    assert [r.path for r in discover(path).rules] == [path]
    assert [r.path.name for r in discover(tmp_path / "rules" / "okta").rules] == ["okta_y.yml"]


def test_a_bad_path_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="no such file or folder"):
        discover(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(LayoutError, match="not a rule file"):
        discover(tmp_path / "x.txt")
