"""The folder walk behind `ingest` and `sources PATH`: no input under a folder is passed over
unsaid. Links to folders are followed (a loop is walked once), and a folder that cannot be
listed or a link to nothing is yielded, so that reading it fails with a reason and exit 3."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditlake.cli import main
from auditlake.ingest import expand_inputs, ingest
from auditlake.lake import LakePaths, scan_events


def trail(path: Path, *ids: int) -> Path:
    """A CloudTrail JSON Lines file, one event per id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({
        "eventVersion": "1.08", "eventID": f"id-{i}", "eventTime": "2024-03-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
    }) + "\n" for i in ids))
    return path


def names(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in expand_inputs([root])]


@pytest.fixture
def unlistable(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Folders `os.scandir` refuses as a mode-000 folder would (root reads those all the same)."""
    refused: set[str] = set()
    scandir = os.scandir

    def guarded(path: Any = ".") -> Any:  # also called with a file descriptor, by shutil
        if isinstance(path, str | os.PathLike) and os.fspath(path) in refused:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    return refused


def test_plain_tree_keeps_the_sorted_order_and_skips_hidden(tmp_path: Path) -> None:
    root = tmp_path / "in"
    for name in ("b/x.jsonl", "b.jsonl", "a/z/y.jsonl", "a.jsonl", ".cache/h.jsonl", "c/.h.jsonl", "B.jsonl"):
        trail(root / name, 1)
    assert names(root) == ["B.jsonl", "a/z/y.jsonl", "a.jsonl", "b/x.jsonl", "b.jsonl"]
    assert names(root) == [p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))
                           if p.is_file() and not any(s.startswith(".") for s in p.relative_to(root).parts)]


def test_linked_folder_is_followed(tmp_path: Path) -> None:
    trail(tmp_path / "real" / "okta.jsonl", 1)
    trail(tmp_path / "in" / "gw.jsonl", 2)
    (tmp_path / "in" / "okta_link").symlink_to("../real")
    assert names(tmp_path / "in") == ["gw.jsonl", "okta_link/okta.jsonl"]


def test_link_loops_end_and_each_folder_is_walked_once(tmp_path: Path) -> None:
    root = tmp_path / "in"
    trail(root / "sub" / "a.jsonl", 1)
    (root / "sub" / "back").symlink_to("..")
    (root / "self").symlink_to(".")
    (root / "twin").symlink_to("sub")
    (root / "knot").symlink_to("knot")  # a link to itself cannot be opened: it is reported
    assert names(root) == ["knot", "sub/a.jsonl"]


def test_unlistable_folder_and_dangling_link_are_yielded(tmp_path: Path, unlistable: set[str]) -> None:
    root = tmp_path / "in"
    trail(root / "locked" / "gh.jsonl", 1)
    trail(root / "gw.jsonl", 2)
    (root / "dangling.jsonl").symlink_to("/nonexistent/x.jsonl")
    unlistable.add(str(root / "locked"))
    assert names(root) == ["dangling.jsonl", "gw.jsonl", "locked"]


def test_pipe_is_not_an_input(tmp_path: Path) -> None:
    """Opening a pipe would wait for a writer that may never come."""
    trail(tmp_path / "in" / "a.jsonl", 1)
    os.mkfifo(tmp_path / "in" / "feed")
    assert names(tmp_path / "in") == ["a.jsonl"]


def test_ingest_reads_linked_folders_and_reports_what_it_cannot_read(
    tmp_path: Path, unlistable: set[str]
) -> None:
    trail(tmp_path / "real" / "okta.jsonl", 1, 2, 3, 4, 5)
    root = tmp_path / "in"
    trail(root / "locked" / "gh.jsonl", 6)
    trail(root / "gw.jsonl", 7, 8, 9)
    (root / "okta_link").symlink_to("../real")
    (root / "dangling.jsonl").symlink_to("/nonexistent/x.jsonl")
    unlistable.add(str(root / "locked"))
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([root], lake, workers=1)
    assert (summary.records, summary.added) == (8, 8)
    assert scan_events(lake).collect().height == 8
    assert [e.split(": ")[0] for e in summary.errors] == [str(root / "dangling.jsonl"), str(root / "locked")]
    assert "No such file or directory" in summary.errors[0]


def test_cli_exits_3_for_inputs_under_a_folder_it_cannot_read(tmp_path: Path) -> None:
    root = tmp_path / "in"
    trail(root / "gw.jsonl", 1)
    (root / "dangling.jsonl").symlink_to("/nonexistent/x.jsonl")
    ingested = CliRunner().invoke(main, ["ingest", str(root), "--lake", str(tmp_path / "lake"), "--json"])
    assert ingested.exit_code == 3, ingested.output
    assert json.loads(ingested.stdout)["errors"] == [f"{root / 'dangling.jsonl'}: No such file or directory"]
    told = CliRunner().invoke(main, ["sources", str(root), "--json"])
    assert told.exit_code == 3, told.output
    reports = [json.loads(line) for line in told.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["read_as"]) for r in reports] == [
        ("dangling.jsonl", "unreadable"), ("gw.jsonl", "JSON Lines"),
    ]
