"""Damaged `.evtx` files: every record the file holds is read or quarantined with its bytes.

Each case damages a copy of a shared 7-record sample (one chunk; records at chunk bytes
512..7744) in `tmp_path`, and checks that lake rows plus quarantine entries account for all 7
records, that what is intact is read, and that each quarantine entry keeps the bytes it is about.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources import windows
from auditlake.sources.base import Frame
from auditlake.sources.evtx_frames import evtx_frames
from auditlake.sources.evtx_layout import (
    CHUNK_HEADER_SIZE,
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    RECORD_MAGIC,
)

SAMPLE = ("sigmahq/regression_data/rules/windows/file/file_event/"
          "file_event_win_hktl_netexec_file_indicators")
CHUNK = FILE_HEADER_SIZE
"""Where the sample's one chunk starts in the file."""


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> bytes:
    (path,) = (shared_data / SAMPLE).glob("*.evtx")
    return path.read_bytes()


def records_of(data: bytes) -> dict[int, bytes]:
    """The sample's records by id, read from their headers: the bytes quarantine must keep."""
    out, at = {}, CHUNK + CHUNK_HEADER_SIZE
    while data[at : at + 4] == RECORD_MAGIC:
        size, record_id = struct.unpack_from("<IQ", data, at + 4)
        out[record_id] = data[at : at + size]
        at += size
    return out


def read(path: Path) -> tuple[list[Frame], list[Frame]]:
    """(frames read, error frames) of an EVTX file."""
    frames = list(evtx_frames(path))
    return [f for f in frames if f.error is None], [f for f in frames if f.error is not None]


def write(tmp_path: Path, data: bytes | bytearray, name: str = "damaged.evtx") -> Path:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


def ids(frames: list[Frame]) -> list[int]:
    return [int(f.location.rsplit(" ", 1)[1]) for f in frames]


def test_sample_is_the_one_these_cases_assume(sample: bytes) -> None:
    records = records_of(sample)
    assert list(records) == list(range(1, 8))
    assert CHUNK + CHUNK_HEADER_SIZE + sum(map(len, records.values())) == CHUNK + 7744
    assert len(sample) == FILE_HEADER_SIZE + CHUNK_SIZE


def test_cut_past_the_records_of_its_chunk_loses_nothing(tmp_path: Path, sample: bytes) -> None:
    """An interrupted copy that holds every record: the parser alone would skip the short chunk."""
    good, bad = read(write(tmp_path, sample[: CHUNK + 32768]))
    assert (ids(good), bad) == (list(range(1, 8)), [])


def test_cut_inside_a_record_reads_those_before_it_and_keeps_its_bytes(tmp_path: Path, sample: bytes) -> None:
    """Cut 5904 bytes into the chunk: records 1-4 are whole, 5 is cut, 6 and 7 are gone."""
    records = records_of(sample)
    good, bad = read(write(tmp_path, sample[:10_000]))
    assert ids(good) == [1, 2, 3, 4] and ids(bad) == [5, 6, 7]
    assert all("file ends 5904 bytes into chunk 0 (truncated file)" in f.error for f in bad if f.error)
    five, six, seven = bad
    assert five.raw == records[5][:584] and "584 of its 800 bytes are in the file" in (five.error or "")
    assert (six.raw, seven.raw) == (b"", b"")
    assert all("none of its bytes are in the file" in (f.error or "") for f in (six, seven))


def test_cut_record_is_not_read_from_the_zeros_that_complete_its_chunk(tmp_path: Path, sample: bytes) -> None:
    """A record the cut went through would parse from the zero-filled chunk, with made-up values."""
    for cut in (5330, 5400, 6110):  # inside record 5's header, its body, its last bytes
        good, bad = read(write(tmp_path, sample[: CHUNK + cut]))
        assert ids(good) == [1, 2, 3, 4] and ids(bad) == [5, 6, 7], cut
        assert bad[0].raw == records_of(sample)[5][: cut - 5320], cut


def test_bit_flip_that_breaks_every_record_quarantines_each_with_its_bytes(tmp_path: Path, sample: bytes) -> None:
    """A flip in record 1's template, which the later records use: none of them parse."""
    data = bytearray(sample)
    data[CHUNK + 617] ^= 0x10
    good, bad = read(write(tmp_path, data))
    assert good == [] and ids(bad) == list(range(1, 8))
    assert [f.raw for f in bad] == list(records_of(bytes(data)).values())
    assert all("could not be read: EVTX parse error" in (f.error or "") for f in bad)


def test_bit_flip_in_one_record_costs_that_record_only(tmp_path: Path, sample: bytes) -> None:
    data = bytearray(sample)
    data[CHUNK + 4885] ^= 0x10  # inside record 4 (chunk bytes 4552..5320)
    good, bad = read(write(tmp_path, data))
    assert ids(good) == [1, 2, 3, 5, 6, 7] and ids(bad) == [4]
    assert bad[0].raw == records_of(bytes(data))[4]


def test_record_without_its_header_keeps_the_bytes_where_it_lay(tmp_path: Path, sample: bytes) -> None:
    """Record 3's header is wiped: its start is unknown, so the gap before record 4 is kept."""
    records = records_of(sample)
    data = bytearray(sample)
    data[CHUNK + 2984 + 784 : CHUNK + 2984 + 784 + 24] = bytes(24)
    good, bad = read(write(tmp_path, data))
    assert ids(good) == [1, 2] and ids(bad) == [3, 4, 5, 6, 7]
    assert bad[0].raw == bytes(24) + records[3][24:]
    assert [f.raw for f in bad[1:]] == [records[n] for n in range(4, 8)]


def test_record_without_its_magic_is_found_by_its_size_and_id(tmp_path: Path, sample: bytes) -> None:
    data = bytearray(sample)
    data[CHUNK + 3768 : CHUNK + 3772] = bytes(4)  # record 3's magic
    good, bad = read(write(tmp_path, data))
    assert len(good) + len(bad) == 7 and ids(bad)[0] == 3
    assert all(f.raw for f in bad) and bad[0].raw[4:] == records_of(sample)[3][4:]


def test_checksum_mismatch_keeps_the_records_and_notes_the_chunk(tmp_path: Path, sample: bytes) -> None:
    """A change the parser does not notice (a record edited in place): read, and noted once."""
    data = bytearray(sample)
    data[CHUNK + 600] ^= 0x10
    good, bad = read(write(tmp_path, data))
    assert ids(good) == list(range(1, 8))
    assert [f.location for f in bad] == ["damaged.evtx:chunk 0"]
    assert "checksum does not match" in (bad[0].error or "")
    assert bad[0].raw == bytes(data[CHUNK:])


def test_checksum_of_a_live_logs_current_chunk_is_not_held_against_it(tmp_path: Path, sample: bytes) -> None:
    """A copy of a log still open (header flag `dirty`) may catch its current chunk mid-update."""
    data = bytearray(sample)
    data[CHUNK + 600] ^= 0x10
    struct.pack_into("<I", data, 120, struct.unpack_from("<I", data, 120)[0] | 1)
    struct.pack_into("<I", data, 124, zlib.crc32(data[:120]))
    good, bad = read(write(tmp_path, data))
    assert (len(good), bad) == (7, [])


def test_cut_gzipped_file_is_read_as_well(tmp_path: Path, sample: bytes) -> None:
    good, bad = read(write(tmp_path, gzip.compress(sample[:10_000]), "cut.evtx.gz"))
    assert ids(good) == [1, 2, 3, 4] and ids(bad) == [5, 6, 7] and bad[0].raw


@pytest.mark.parametrize(("cut", "added", "quarantined"), [(32768, 7, 0), (5904, 4, 3)])
def test_ingest_of_a_cut_file_accounts_for_every_record(
    tmp_path: Path, sample: bytes, cut: int, added: int, quarantined: int
) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([write(tmp_path, sample[: CHUNK + cut], "cut.evtx")], lake, source=windows.SPEC, workers=1)
    assert (summary.added, sum(summary.quarantined.values())) == (added, quarantined)
    assert scan_events(lake).collect().height == added
    entries = scan_quarantine(lake).collect()
    assert entries.height == quarantined
    if quarantined:
        assert entries.sort("location")["raw"].to_list()[0] == records_of(sample)[5][: cut - 5320]
