"""One damaged record in an array written on one line (a CloudTrail delivery file) costs that
record only: framing resumes at the next record, as it does in JSON Lines."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_quarantine
from auditlake.sources import framing
from auditlake.sources.base import Frame
from auditlake.sources.framing import json_frames


def _record(number: int) -> bytes:
    """A CloudTrail record, `eventVersion` first, as CloudTrail writes it (no blanks)."""
    return json.dumps({
        "eventVersion": "1.09", "eventTime": f"2024-05-01T09:{number // 60:02d}:{number % 60:02d}Z",
        "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
        "resources": [{"ARN": "arn:aws:s3:::finance", "type": "AWS::S3::Bucket"}],
        "requestParameters": {"note": '},{"eventVersion":"1.09"} ] {'}, "eventID": f"id-{number:04d}",
    }, separators=(",", ":")).encode()


RECORDS = [_record(n) for n in range(100)]
DAMAGES: dict[str, Callable[[bytes], bytes]] = {
    "raw tab": lambda r: r.replace(b'"eventName":"', b'"eventName":"\t', 1),
    "bad escape": lambda r: r.replace(b'"GetObject"', b'"Get\\qObject"', 1),
    "missing comma": lambda r: r.replace(b',"eventName"', b' "eventName"', 1),
    "bad literal": lambda r: r.replace(b'"awsRegion":"eu-west-1"', b'"awsRegion":nul', 1),
}


def _delivery(records: list[bytes]) -> bytes:
    return b'{"Records":[' + b",".join(records) + b"]}"


def _chunked(path: Path, size: int = 7) -> list[Frame]:
    return [frame for chunk in json_frames(path).chunks(size) for frame in chunk]


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("wrap", ["records", "array"])
def test_a_damaged_record_on_one_line_costs_that_record_only(tmp_path: Path, damage: str, wrap: str) -> None:
    damaged = DAMAGES[damage](RECORDS[10])
    records = [*RECORDS[:10], damaged, *RECORDS[11:]]
    data = _delivery(records) if wrap == "records" else b"[" + b",".join(records) + b"]"
    path = tmp_path / "delivery.json.gz"
    path.write_bytes(gzip.compress(data))

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == records
    assert [i for i, f in enumerate(frames) if f.error is not None] == [10]
    assert (frames[10].error or "").startswith("invalid JSON")
    assert _chunked(path) == frames


def test_a_record_cut_short_on_one_line_resumes_at_the_next_record(tmp_path: Path) -> None:
    """Brackets no longer whole: framing resumes before the next object that opens with the
    records' first key after `}` or `,`, as `one_line_members` splits."""
    cut = RECORDS[10][:150]
    records = [*RECORDS[:10], cut, *RECORDS[11:]]
    path = tmp_path / "delivery.json"
    path.write_bytes(_delivery(records))

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == records
    assert [i for i, f in enumerate(frames) if f.error is not None] == [10]
    assert _chunked(path, 3) == frames


@pytest.mark.parametrize("chunk", [16, 64, 1000])
def test_resuming_does_not_depend_on_where_reads_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(framing, "CHUNK", chunk)
    records = [RECORDS[0], DAMAGES["raw tab"](RECORDS[1]), RECORDS[2], RECORDS[3][:90], *RECORDS[4:8]]
    path = tmp_path / "delivery.json"
    path.write_bytes(_delivery(records))

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == records
    assert [i for i, f in enumerate(frames) if f.error is not None] == [1, 3]


def test_an_oversized_record_is_quarantined_whole_and_the_rest_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framing, "MAX_RECORD_TEXT_READ", 1000)
    monkeypatch.setattr(framing, "CHUNK", 256)
    huge = RECORDS[5].replace(b'"GetObject"', b'"' + b"x" * 1500 + b'"', 1)
    records = [*RECORDS[:5], huge, *RECORDS[6:20]]
    path = tmp_path / "delivery.json"
    path.write_bytes(_delivery(records))

    frames = list(json_frames(path))

    assert [f.raw for f in frames] == records
    assert [(i, f.error) for i, f in enumerate(frames) if f.error is not None] == [
        (5, "record longer than 1000 bytes")
    ]


def test_ingest_of_a_damaged_delivery_file_quarantines_the_damaged_record_alone(tmp_path: Path) -> None:
    damaged = DAMAGES["raw tab"](RECORDS[10])
    path = tmp_path / "delivery.json"
    path.write_bytes(_delivery([*RECORDS[:10], damaged, *RECORDS[11:]]))
    lake = LakePaths.at(tmp_path / "lake")

    summary = ingest([path], lake, workers=1)

    assert (summary.records, summary.added, summary.errors) == (100, 99, [])
    quarantined = scan_quarantine(lake).collect()
    assert quarantined["raw"].to_list() == [damaged]
