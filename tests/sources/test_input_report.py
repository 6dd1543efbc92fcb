"""`auditlake sources PATH`: what ingest would make of an input, told without ingesting it."""

from __future__ import annotations

import codecs
import gzip
from pathlib import Path

import pytest

from auditlake.sources.input_report import InputReport, describe_input

RECORDS = (Path(__file__).parent / "data" / "cloudtrail" / "events.jsonl").read_bytes().splitlines()


@pytest.mark.parametrize(("content", "read_as"), [
    (gzip.compress(b"", mtime=0), "no records (gzip)"),
    (b" \n\t\n", "no records"),
    (codecs.BOM_UTF8 + b"\n", "no records (UTF-8 with BOM)"),
], ids=["gzip", "blank", "bom"])
def test_an_input_of_no_records_is_passed_over(tmp_path: Path, content: bytes, read_as: str) -> None:
    path = tmp_path / "rotated.log.gz"
    path.write_bytes(content)

    report = describe_input(path)

    assert report == InputReport(str(path), None, read_as, "passed over: empty, or blanks only", True)


@pytest.mark.parametrize(("content", "read_as"), [
    (codecs.BOM_UTF16_LE + b"\r\n".join(RECORDS).decode().encode("utf-16-le"), "JSON Lines (UTF-16LE)"),
    (gzip.compress(codecs.BOM_UTF8 + b"[" + b",".join(RECORDS) + b"]", mtime=0), "JSON array (gzip, UTF-8 with BOM)"),
    (b"[" + b",".join(RECORDS[:2]) + b"]\n[" + RECORDS[2] + b"]\n", "JSON arrays back to back (pages)"),
], ids=["utf-16", "gzip-bom", "pages"])
def test_the_report_says_how_the_text_is_stored_and_framed(tmp_path: Path, content: bytes, read_as: str) -> None:
    path = tmp_path / "events.json"
    path.write_bytes(content)

    assert describe_input(path) == InputReport(str(path), "aws.cloudtrail", read_as)
