"""JSON arrays back to back, the pages `gh api --paginate` writes for a listing, are read page
after page, as one array of all their records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.sources.base import Frame
from auditlake.sources.framing import framing_of, json_frames

DATA = Path(__file__).parent / "data"
RECORDS = [b'{"id": %d, "msg": "a ] [ b"}' % n for n in range(7)]


def _chunked(path: Path, size: int) -> list[Frame]:
    return [frame for chunk in json_frames(path).chunks(size) for frame in chunk]


@pytest.mark.parametrize(("data", "lines"), [
    (b"[" + b",".join(RECORDS[:3]) + b"][" + b",".join(RECORDS[3:]) + b"]", [1] * 7),
    (b"[" + b",".join(RECORDS[:3]) + b"]\n[]\n[" + b",".join(RECORDS[3:]) + b"]\n", [1, 1, 1, 3, 3, 3, 3]),
    (b"[\n  " + b",\n  ".join(RECORDS[:3]) + b"\n]\n[\n  " + b",\n  ".join(RECORDS[3:]) + b"\n]\n",
     [2, 3, 4, 7, 8, 9, 10]),
], ids=["one-line", "lines-with-an-empty-page", "pretty"])
def test_every_page_is_read(tmp_path: Path, data: bytes, lines: list[int]) -> None:
    path = tmp_path / "pages.json"
    path.write_bytes(data)

    frames = list(json_frames(path))

    assert frames == [Frame(raw, f"pages.json:{line}") for raw, line in zip(RECORDS, lines, strict=True)]
    assert _chunked(path, 2) == frames
    assert framing_of(path) == "JSON arrays back to back (pages)"


def test_one_array_is_not_taken_for_pages(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(b"[" + b",".join(RECORDS) + b"]\n")

    assert framing_of(path) == "JSON array"


def test_paginated_github_audit_log_lands_whole(tmp_path: Path) -> None:
    events = [json.loads(line) for line in (DATA / "github" / "audit.jsonl").read_text().splitlines()]
    path = tmp_path / "audit.json"
    path.write_text("".join(json.dumps(events[k : k + 3]) for k in range(0, len(events), 3)))
    lake = LakePaths.at(tmp_path / "lake")

    summary = ingest([path], lake, workers=1)

    assert (summary.records, summary.errors, dict(summary.quarantined)) == (len(events), [], {})
    assert scan_events(lake).collect().height == summary.added > 0
