"""`auditlake detect` with sinks: stdout carries only alerts with a stdout sink, a bad
configuration exits 1, and alerts left in a spool exit 4."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.detection.test_engine import CLOUD_RULE, RULES, START, _okta_failure
from tests.sinks.helpers import Receiver, stored_ids

from auditlake.cli import main
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "okta.yml").write_text(RULES)
    (rules / "aws.yml").write_text(CLOUD_RULE)
    log = tmp_path / "okta.jsonl"
    log.write_text("".join(_okta_failure(START + timedelta(minutes=n), "mallory@example.com", f"u{n}") + "\n"
                           for n in range(5)))
    lake = tmp_path / "lake"
    ingest([log], LakePaths.at(lake), workers=1)
    return rules, lake


def _detect(setup: tuple[Path, Path], config: Path, *extra: str) -> Result:
    rules, lake = setup
    return CliRunner().invoke(main, ["detect", "--rules", str(rules), "--lake", str(lake), "--config", str(config),
                                     *extra])


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_with_a_stdout_sink_stdout_carries_each_alert_once(setup: tuple[Path, Path], tmp_path: Path,
                                                          as_json: bool) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[sinks]]\ntype = "stdout"\n')
    result = _detect(setup, config, *(["--json"] if as_json else []))
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["alert_id"] for line in result.stdout.splitlines()]
    assert sorted(ids) == sorted(stored_ids(LakePaths.at(setup[1]))) != []
    assert "new alerts" in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.endswith("new alerts")  # one line, not wrapped at 80 columns


def test_a_config_that_is_not_toml_exits_1(setup: tuple[Path, Path], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[sinks]\ntype = "jsonl"\n')
    result = _detect(setup, config)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        f"error: {config} is not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)")


def test_alerts_left_in_a_spool_exit_4(setup: tuple[Path, Path], tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        receiver.status = 400
        config = tmp_path / "c.toml"
        config.write_text(f'[[sinks]]\ntype = "webhook"\nname = "soc"\nurl = "{receiver.url}"\nsecret = "test-secret"\n')
        refused = _detect(setup, config)
        assert refused.exit_code == 4, refused.output
        assert "not delivered (HTTP 400" in refused.stderr
        receiver.status = None
        again = _detect(setup, config)
        assert again.exit_code == 0, again.output
        assert receiver.exactly_once() == stored_ids(LakePaths.at(setup[1]))
    finally:
        receiver.stop()
