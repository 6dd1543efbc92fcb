"""An unknown modifier is answered with the modifier meant, not merely the nearest spelling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sigma.modifiers import modifier_mapping
from tests.rulepack.builders import STOP_LOGGING, cloudtrail, rule_doc

from auditlake.cli import main
from auditlake.rulepack.sigma_checks import MODIFIER_ALIASES, _spelling, modifier_hint

CASES = {"match_a.jsonl": [cloudtrail()], "miss_a.jsonl": [cloudtrail("StartLogging")]}


def test_utf16le_is_told_to_use_wide_not_the_big_endian_modifier(write_rule, tmp_path: Path) -> None:
    detection = {**STOP_LOGGING, "act": {"requestParameters|utf16le|base64|contains": "x"}}
    detection["condition"] = "selection and act"
    write_rule("aws_stop", [rule_doc(detection)], CASES)
    result = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "rules"), "--json"])
    issues = [i for i in json.loads(result.stdout)["issues"] if i["check"] == "pysigma"]
    assert [i["message"] for i in issues] == ["Unknown modifier 'utf16le'"]
    assert issues[0]["hint"].startswith("did you mean 'wide'?") and "UTF-16LE" in issues[0]["hint"]
    assert "utf16be" not in issues[0]["hint"].split("?")[0]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("utf16le", "wide"),
        ("UTF-16LE", "wide"),
        ("utf_16_le", "wide"),
        ("utf-16be", "utf16be"),
        ("utf-16", "utf16"),
        ("beginswith", "startswith"),
        ("regex", "re"),
        ("StartsWith", "startswith"),
        ("existz", "exists"),
    ],
)
def test_the_hint_names_the_modifier_meant(written: str, meant: str) -> None:
    assert modifier_hint(written).startswith(f"did you mean '{meant}'?")


def test_a_name_like_no_modifier_lists_them_all() -> None:
    assert modifier_hint("qqqqqq").startswith("use a Sigma modifier: all, ")


def test_the_alias_table_points_at_real_modifiers_and_shadows_none() -> None:
    real = {_spelling(m) for m in modifier_mapping}
    assert all(target in modifier_mapping for target, _ in MODIFIER_ALIASES.values())
    assert not real & set(MODIFIER_ALIASES)
    assert all(_spelling(key) == key for key in MODIFIER_ALIASES)
