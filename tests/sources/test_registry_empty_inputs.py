"""An input of no records (empty, blanks only, compressed or not) is read as no records, not
refused as one no source recognises; records after any run of blanks are still found."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths
from auditlake.sources import cloudtrail, framing
from auditlake.sources.framing import json_frames
from auditlake.sources.registry import NO_RECORDS, detect_path

BLANK = {
    "empty": b"",
    "blanks": b"  \n\n\t\r\n",
    "gzip-empty": gzip.compress(b""),
    "gzip-blanks": gzip.compress(b"\n   \n"),
    "bom-only": codecs.BOM_UTF8 + b"\n",
}
RECORD = (Path(__file__).parent / "data" / "cloudtrail" / "events.jsonl").read_bytes().splitlines()[0]


@pytest.mark.parametrize("content", BLANK.values(), ids=BLANK.keys())
def test_a_blank_input_is_one_of_no_records(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rotated.json.gz"
    path.write_bytes(content)

    assert detect_path(path) is NO_RECORDS
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, workers=1)
    assert (summary.inputs, summary.records, summary.errors) == (1, 0, [])


def test_records_after_a_long_run_of_blanks_are_read(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    path.write_bytes(b"\n" * (framing.HEAD_BYTES + 10) + RECORD + b"\n")

    assert detect_path(path) is cloudtrail.SPEC
    assert [f.raw for f in json_frames(path)] == [RECORD]
