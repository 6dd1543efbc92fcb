"""`rules test|check|coverage` on a path that holds no rule: a usage error (exit 2), as for
`detect --rules`, so a CI job with a mistyped or empty path fails instead of passing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.rulepack.builders import STOP_LOGGING, rule_doc, stop_logging_cases

from auditlake.cli import main

COMMANDS = ("test", "check", "coverage")


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_folder_is_a_usage_error_that_says_what_a_rule_file_is(
    command: str, tmp_path: Path
) -> None:
    (tmp_path / "rules").mkdir()
    result = CliRunner().invoke(main, ["rules", command, str(tmp_path / "rules")])
    assert result.exit_code == 2, result.output
    assert f"no rule files under {tmp_path / 'rules'}" in result.output
    assert ".yml" in result.output and "aws/" in result.output and "$AUDITLAKE_RULES" in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_folder_is_a_usage_error_that_says_what_to_check(
    command: str, tmp_path: Path
) -> None:
    missing = tmp_path / "rulse"
    result = CliRunner().invoke(main, ["rules", command, str(missing)])
    assert result.exit_code == 2, result.output
    assert f"no such file or folder: {missing}" in result.output
    assert "$AUDITLAKE_RULES" in result.output


def test_the_default_path_from_the_environment_is_named_when_missing(tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere"
    result = CliRunner(env={"AUDITLAKE_RULES": str(missing)}).invoke(main, ["rules", "check"])
    assert result.exit_code == 2 and f"no such file or folder: {missing}" in result.output


def test_case_folders_without_any_rule_are_pointed_out(tmp_path: Path) -> None:
    cases = tmp_path / "rules" / "aws" / "aws_stop"
    cases.mkdir(parents=True)
    (cases / "match_a.jsonl").write_text("{}\n")
    result = CliRunner().invoke(main, ["rules", "test", str(tmp_path / "rules")])
    assert result.exit_code == 2
    assert "1 case folder(s) there have no rule file" in result.output and "aws_stop" in result.output


def test_a_folder_with_a_rule_still_runs(write_rule, tmp_path: Path) -> None:
    write_rule("aws_stop", [rule_doc(STOP_LOGGING, title="Trail stopped")], stop_logging_cases())
    result = CliRunner().invoke(main, ["rules", "check", str(tmp_path / "rules")])
    assert result.exit_code == 0, result.output
