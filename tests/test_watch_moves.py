"""`auditlake watch` and files it processed but cannot move out of the inbox."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.detection.test_engine import RULES, START, _okta_failure

from auditlake.cli import main
from auditlake.detection.compile import compile_rules
from auditlake.lake.paths import LakePaths
from auditlake.sinks import Delivery
from auditlake.sinks.jsonl import JsonlSink
from auditlake.watch import FileReport, Watcher


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "okta.yml").write_text(RULES)
    return folder


def _failures(path: Path, count: int, *, first: int = 0) -> Path:
    """An Okta log of `count` sign-in failures (three or more make the correlation's alert)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(_okta_failure(START + timedelta(minutes=n), "mallory@example.com", f"uid-{n}") + "\n"
                            for n in range(first, first + count)))
    return path


def _unmovable(inbox: Path) -> Path:
    """A file in `inbox/sub/` whose place in `.done/` cannot be made: `.done/sub` is a file.
    (A folder the service may not write to, the usual cause, fails the same way; this one
    fails for root too.)"""
    stuck = _failures(inbox / "sub" / "okta.jsonl", 4)
    (inbox / ".done").mkdir()
    (inbox / ".done" / "sub").write_text("in the way\n")
    return stuck


def test_watch_once_goes_on_past_a_file_it_cannot_move(rules: Path, tmp_path: Path) -> None:
    inbox, lake, archive = tmp_path / "inbox", tmp_path / "lake", tmp_path / "alerts.jsonl"
    stuck = _unmovable(inbox)
    _failures(inbox / "other.jsonl", 4, first=100)
    config = tmp_path / "auditlake.toml"
    config.write_text(f'[[sinks]]\ntype = "jsonl"\npath = "{archive}"\n')
    result = CliRunner().invoke(main, ["watch", "--inbox", str(inbox), "--rules", str(rules), "--lake", str(lake),
                                       "--config", str(config), "--once", "--settle-s", "0", "--json"])
    assert result.exit_code == 0, result.output
    assert "sub/okta.jsonl: cannot be moved to .done/" in result.stderr
    assert "let this service write to its folder" in result.stderr
    assert sorted(json.loads(line)["file"] for line in result.stdout.splitlines()) == ["other.jsonl", "sub/okta.jsonl"]
    assert stuck.exists() and (inbox / ".done" / "other.jsonl").exists()
    assert len(archive.read_text().splitlines()) == 2  # each file's alert, delivered


def test_a_file_that_cannot_be_moved_is_not_taken_again_until_it_changes(rules: Path, tmp_path: Path) -> None:
    inbox, lake = tmp_path / "inbox", LakePaths.at(tmp_path / "lake")
    stuck = _unmovable(inbox)
    reports: list[FileReport] = []
    notes: list[str] = []
    watcher = Watcher(inbox, lake, compile_rules([rules]), digest="rules",
                      delivery=Delivery(lake, [JsonlSink("a", tmp_path / "alerts.jsonl")]),
                      settle_s=0.0, poll_s=0.01, on_file=reports.append, on_note=notes.append)
    stop = threading.Event()
    session = threading.Thread(target=watcher.run, kwargs={"stop": stop})
    session.start()
    try:
        deadline = time.monotonic() + 60
        while not reports and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # some fifty polls
        assert [r.file for r in reports] == ["sub/okta.jsonl"]
        _failures(stuck, 8)  # the writer added to it: taken again, with its new events
        while len(reports) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        session.join(timeout=30)
    assert [(r.file, r.records) for r in reports] == [("sub/okta.jsonl", 4), ("sub/okta.jsonl", 8)]
    assert len([n for n in notes if "cannot be moved" in n]) == 2
