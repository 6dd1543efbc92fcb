"""An object written over several lines inside JSON Lines is one record (read, or quarantined
whole), not one quarantined fragment per line; JSON Lines proper is framed as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_quarantine
from auditlake.sources import framing, pretty_lines
from auditlake.sources.base import Frame
from auditlake.sources.framing import json_frames

DATA = Path(__file__).parent / "data" / "cloudtrail"
EVENTS = [json.loads(line) for line in (DATA / "events.jsonl").read_text().splitlines()]
LINES = [json.dumps(e).encode() for e in EVENTS]


def _chunked(path: Path, size: int) -> list[Frame]:
    return [frame for chunk in json_frames(path).chunks(size) for frame in chunk]


def _pretty(event: dict[str, object], newline: str = "\n") -> bytes:
    return json.dumps(event, indent=2).replace("\n", newline).encode()


@pytest.mark.parametrize("chunk", [16, 100, 700, framing.CHUNK])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_pretty_object_among_lines_is_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, newline: str
) -> None:
    monkeypatch.setattr(framing, "CHUNK", chunk)
    pretty = _pretty(EVENTS[1], newline)
    end = newline.encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(LINES[0] + end + pretty + end + LINES[2] + end + LINES[0] + end)

    frames = list(json_frames(path))

    after = 2 + pretty.count(b"\n") + 1
    assert frames == [Frame(LINES[0], "mixed.jsonl:1"), Frame(pretty, "mixed.jsonl:2"),
                      Frame(LINES[2], f"mixed.jsonl:{after}"), Frame(LINES[0], f"mixed.jsonl:{after + 1}")]
    assert _chunked(path, 3) == frames


def test_a_damaged_pretty_object_is_quarantined_whole(tmp_path: Path) -> None:
    damaged = _pretty(EVENTS[1]).replace(b'"eventName": "', b'"eventName": "\t', 1)
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([LINES[0], damaged, LINES[2]]) + b"\n")
    lake = LakePaths.at(tmp_path / "lake")

    summary = ingest([path], lake, workers=1)

    assert (summary.records, summary.added) == (3, 2)
    assert scan_quarantine(lake).collect()["raw"].to_list() == [damaged]


@pytest.mark.parametrize("data", [
    b"{\n" + LINES[0] + b"\n" + LINES[1] + b"\n",  # a `{` never closed: the lines stay lines
    LINES[0] + b"\n{\n" + LINES[1] + b"\n}\n",  # a record inside: not an object's lines
], ids=["never-closed", "record-inside"])
def test_lines_that_do_not_make_an_object_stay_lines(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(data)

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == [line for line in data.split(b"\n") if line]
    assert _chunked(path, 2) == frames


def test_a_longer_object_than_is_held_back_is_read_as_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines are held back for a bounded length, so memory stays bounded: a longer object
    comes as its lines, every byte still framed."""
    monkeypatch.setattr(framing, "CHUNK", 64)
    monkeypatch.setattr(pretty_lines, "MAX_OBJECT_BYTES", 200)
    pretty = _pretty(EVENTS[0])
    path = tmp_path / "long.jsonl"
    path.write_bytes(LINES[1] + b"\n" + pretty + b"\n" + LINES[2] + b"\n")

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == [LINES[1], *(line.strip() for line in pretty.split(b"\n")), LINES[2]]
    assert _chunked(path, 5) == frames
