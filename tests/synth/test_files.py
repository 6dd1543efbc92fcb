"""File framing: CloudTrail gzip containers, JSON Lines, deterministic gzip headers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from auditlake.synth.files import BATCH, day_path, write_records


def test_cloudtrail_container_is_valid_json_across_batches(tmp_path: Path) -> None:
    path = day_path(tmp_path, "aws.cloudtrail", "2026-03-02", "cloudtrail")
    records = [json.dumps({"eventID": str(i)}).encode() for i in range(BATCH + 5)]
    count, _ = write_records(path, "cloudtrail", records)
    assert path.name == "2026-03-02.json.gz" and count == BATCH + 5
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert [r["eventID"] for r in doc["Records"]] == [str(i) for i in range(BATCH + 5)]


def test_empty_day_is_still_a_valid_container(tmp_path: Path) -> None:
    path = day_path(tmp_path, "aws.cloudtrail", "2026-03-02", "cloudtrail")
    assert write_records(path, "cloudtrail", []) == (0, len(b'{"Records":[]}\n'))
    assert json.loads(gzip.decompress(path.read_bytes())) == {"Records": []}


def test_gzip_output_does_not_depend_on_when_or_where(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "x.json.gz", tmp_path / "b" / "y.json.gz"
    write_records(a, "cloudtrail", [b"{}"])
    write_records(b, "cloudtrail", [b"{}"])
    assert a.read_bytes() == b.read_bytes()


def test_json_lines_are_written_verbatim(tmp_path: Path) -> None:
    path = day_path(tmp_path, "okta.system", "2026-03-02", "jsonl")
    write_records(path, "jsonl", [b'{"a":1}\n', b'{"a":2}\n'])
    assert path.read_bytes() == b'{"a":1}\n{"a":2}\n'
