"""`auditlake sources PATH`: a path ingest would not read is told as such, with exit 3, as
`auditlake ingest` tells it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from auditlake.cli import main


def test_a_missing_path_is_unreadable_as_for_ingest(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    ingested = CliRunner().invoke(main, ["ingest", str(missing), "--lake", str(tmp_path / "lake"), "--json"])
    assert ingested.exit_code == 3
    assert json.loads(ingested.stdout)["errors"] == [f"{missing}: No such file or directory"]

    told = CliRunner().invoke(main, ["sources", str(missing), "--json"])
    assert told.exit_code == 3, told.output
    assert [json.loads(line) for line in told.stdout.splitlines()] == [
        {"input": str(missing), "source": None, "read_as": "unreadable", "note": "No such file or directory",
         "passed_over": False},
    ]
    table = CliRunner().invoke(main, ["sources", str(missing)])
    assert table.exit_code == 3 and "unreadable" in table.stdout and "No such file or directory" in table.stdout


def test_a_folder_with_nothing_to_read_is_said_and_exits_3(tmp_path: Path) -> None:
    folder = tmp_path / "home"
    (folder / ".cache" / "plans").mkdir(parents=True)
    (folder / ".cache" / "plans" / "x.pickle").write_bytes(b"\x80")
    (folder / ".profile").write_text("export A=1\n")
    told = CliRunner().invoke(main, ["sources", str(folder), "--json"])
    assert told.exit_code == 3, told.output
    (report,) = [json.loads(line) for line in told.stdout.splitlines()]
    assert (report["input"], report["source"], report["read_as"]) == (str(folder), None, "folder")
    assert "no file to read in it" in report["note"] and "'.'" in report["note"]
    table = CliRunner().invoke(main, ["sources", str(folder)])
    assert table.exit_code == 3 and "no file to read" in table.stdout


def test_a_readable_input_next_to_a_missing_one(tmp_path: Path) -> None:
    log = tmp_path / "okta.jsonl"
    log.write_text('{"uuid": "1", "published": "2026-03-02T00:00:00.000Z", "eventType": "user.session.start", '
                   '"actor": {"alternateId": "a"}}\n')
    told = CliRunner().invoke(main, ["sources", str(log), str(tmp_path / "gone.jsonl"), "--json"])
    assert told.exit_code == 3, told.output
    assert [(json.loads(line)["source"], json.loads(line)["read_as"]) for line in told.stdout.splitlines()] == [
        ("okta.system", "JSON Lines"), (None, "unreadable"),
    ]
