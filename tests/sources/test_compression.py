"""Compressed inputs of every kind read as the plain ones do; a cut stream keeps what came
before the cut and hands the cut record to quarantine."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources.compression import open_input
from auditlake.sources.framing import json_frames


def _zstd(data: bytes) -> bytes:
    """Two zstd frames back to back, as a shipper writing in blocks leaves them."""
    codec = pa.Codec("zstd")
    half = len(data) // 2
    return codec.compress(data[:half], asbytes=True) + codec.compress(data[half:], asbytes=True)


CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress, "zstd": _zstd, "bzip2": bz2.compress, "xz": lzma.compress,
}
RECORDS = [  # 8,000 records, 2.6 MB: bzip2 compresses in blocks of 900 kB
    json.dumps({
        "eventVersion": "1.08", "eventID": f"id-{i}", "eventTime": f"2024-03-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "sourceIPAddress": "198.51.100.4",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}, "pad": "p" * (i % 90),
    }).encode()
    for i in range(8_000)
]
LINES = b"".join(r + b"\n" for r in RECORDS)


@pytest.mark.parametrize("codec", CODECS)
def test_each_compression_is_read_by_content_as_the_plain_input(tmp_path: Path, codec: str) -> None:
    plain, packed = tmp_path / "plain.jsonl", tmp_path / "trail.log"  # the name says nothing
    plain.write_bytes(LINES)
    packed.write_bytes(CODECS[codec](LINES))
    with open_input(packed) as handle:
        assert handle.read() == LINES
    lakes = {name: LakePaths.at(tmp_path / name) for name in ("plain", "packed")}
    for name, path in (("plain", plain), ("packed", packed)):
        summary = ingest([path], lakes[name], workers=1)
        assert summary.errors == [] and summary.added == len(RECORDS)
    rows = {name: scan_events(lake).drop("ingested_at").collect().sort("event_uid") for name, lake in lakes.items()}
    assert rows["packed"].equals(rows["plain"])


@pytest.mark.parametrize("codec", CODECS)
def test_a_cut_stream_keeps_what_came_before_and_quarantines_the_cut(tmp_path: Path, codec: str) -> None:
    """What the decompressor hands over before the cut is read (gzip and xz all of it, zstd
    all but its last piece, bzip2 its whole blocks); the rest is one error frame."""
    packed = CODECS[codec](LINES)
    path = tmp_path / "cut.jsonl"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    *good, cut = json_frames(path)
    assert 0 < len(good) < len(RECORDS)
    assert [f.raw for f in good] == RECORDS[: len(good)]
    assert cut.error is not None and "ends early" in cut.error
    assert RECORDS[len(good)].startswith(cut.raw)
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, workers=1)
    assert summary.added == len(good) and scan_quarantine(lake).collect().height == 1


def test_text_that_starts_like_bzip2_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b'BZh9 is not a record\n' + RECORDS[0] + b"\n")
    with open_input(path) as handle:
        assert handle.read().startswith(b"BZh9 is not")


@pytest.mark.parametrize("codec", CODECS)
def test_a_stream_cut_before_anything_readable_is_reported_not_empty(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_bytes(CODECS[codec](LINES)[:12])
    (frame,) = json_frames(path)
    assert frame.error is not None and frame.location == "cut.jsonl:1"
