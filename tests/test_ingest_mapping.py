"""`auditlake ingest --mapping`: which inputs a generic mapping reads."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests import application_log

from auditlake.cli import main

MAPPING, DETECT, OKTA = application_log.MAPPING, application_log.DETECT, application_log.OKTA
APP = {"id": "a1", "ts": "2026-03-02T10:00:00Z", "op": "export", "who": {"name": "eve"}}


def _folder(tmp_path: Path, mapping: str) -> tuple[Path, Path]:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.jsonl").write_text(json.dumps(APP) + "\n")
    (logs / "okta.jsonl").write_text(json.dumps(OKTA) + "\n")
    (tmp_path / "app.toml").write_text(mapping)
    return logs, tmp_path / "app.toml"


def test_a_mapping_that_names_its_fields_takes_only_the_inputs_holding_them(tmp_path: Path) -> None:
    logs, mapping = _folder(tmp_path, MAPPING + DETECT)
    lake = tmp_path / "lake"
    result = CliRunner().invoke(main, ["ingest", str(logs), "--mapping", str(mapping), "--lake", str(lake), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["quarantined"] == []
    assert application_log.rows_by_source(lake) == {"myapp.audit": ["a1"], "okta.system": ["o1"]}


def test_a_mapping_without_detect_reads_every_input_given(tmp_path: Path) -> None:
    logs, mapping = _folder(tmp_path, MAPPING)
    lake = tmp_path / "lake"
    result = CliRunner().invoke(main, ["ingest", str(logs), "--mapping", str(mapping), "--lake", str(lake), "--json"])
    assert result.exit_code == 0, result.output
    quarantined = json.loads(result.stdout)["quarantined"]
    assert [(q["source"], q["count"]) for q in quarantined] == [("myapp.audit", 1)]  # the Okta event has no ts
    assert application_log.rows_by_source(lake) == {"myapp.audit": ["a1"]}


def test_a_mapping_and_a_source_together_are_a_usage_error(tmp_path: Path) -> None:
    logs, mapping = _folder(tmp_path, MAPPING)
    result = CliRunner().invoke(main, ["ingest", str(logs), "--mapping", str(mapping), "--source", "okta",
                                       "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2
    assert "leave out" in result.output and "--source okta" in result.output
    assert not (tmp_path / "lake").exists()
