"""Tests for `auditlake.sources.ndjson_batch`: decoding chunks, the base columns, `run_batch`."""

from __future__ import annotations

import dataclasses
import hashlib

import polars as pl
import pyarrow as pa
import pytest

from auditlake.sources import cloudtrail, json_paths, ndjson_batch
from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.chunking import LineChunk
from auditlake.sources.ndjson_batch import FRAME_COLUMN, base_columns, decode, readable, run_batch
from auditlake.sources.records import Rejected, complete_row, normalize_frames
from auditlake.sources.table import rows_to_table

PATHS = ["name", "who.id"]


def _good(i: int) -> bytes:
    return f'{{"name": "n{i}", "who": {{"id": "u{i}"}}, "n": {i}}}'.encode()


def _frames(raws: list[bytes]) -> list[Frame]:
    return [Frame(raw, f"f:{i}") for i, raw in enumerate(raws)]


@pytest.mark.parametrize(
    "bad",
    [
        b'{"name": "x"',  # truncated
        b'{"name": "\xff"}',  # invalid UTF-8
        b'{"name": 01}',  # invalid number
        b'{"name": NaN}',  # DuckDB would read it; simdjson, and so the per-record path, not
        b'{"name": 1,}',  # a trailing comma, likewise
    ],
)
def test_bad_lines_at_start_middle_and_end_are_declined_exactly(bad: bytes) -> None:
    raws = [_good(i) for i in range(41)]
    for i in (0, 20, 40):
        raws[i] = bad
    texts, base, declined = decode(_frames(raws), PATHS, cloudtrail.SPEC)
    assert declined == [0, 20, 40]
    kept = [i for i in range(41) if i not in (0, 20, 40)]
    assert texts[FRAME_COLUMN].to_list() == kept
    assert texts["name"].to_list() == [f"n{i}" for i in kept]
    assert texts["who.id"].to_list() == [f"u{i}" for i in kept]
    assert base["raw"].to_pylist() == [raws[i].decode() for i in kept]


def test_a_path_under_a_value_that_is_not_an_object_reads_as_null() -> None:
    texts, _, declined = decode(_frames([b'{"who": 5}', b'{"who": [{"id": 1}]}']), PATHS, cloudtrail.SPEC)
    assert (texts["who.id"].to_list(), declined) == ([None, None], [])


def test_records_duckdb_refuses_are_declined_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should DuckDB refuse a record simdjson loads, halving the chunk isolates it."""
    refuse = b'"refuse me"'
    read = json_paths._read

    def picky(records: pa.Array, query: str) -> pl.DataFrame | None:
        return None if any(refuse.decode() in r for r in records.to_pylist()) else read(records, query)

    monkeypatch.setattr(json_paths, "_read", picky)
    raws = [_good(i) for i in range(9)]
    for i in (0, 5):
        raws[i] = b'{"name": "refuse me"}'
    texts, base, declined = decode(_frames(raws), PATHS, cloudtrail.SPEC)
    assert declined == [0, 5]
    assert texts[FRAME_COLUMN].to_list() == [1, 2, 3, 4, 6, 7, 8]
    assert texts["name"].to_list() == [f"n{i}" for i in (1, 2, 3, 4, 6, 7, 8)]
    assert base["raw"].to_pylist() == [raws[i].decode() for i in (1, 2, 3, 4, 6, 7, 8)]


def test_frames_that_are_not_one_object_are_declined_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndjson_batch, "MAX_RECORD_BYTES", 100)
    frames = [
        Frame(_good(0), "f:0"),
        Frame(b'{"name": "a",\n"n": 1}', "f:1"),  # spans lines, as in a pretty-printed file
        Frame(b'[{"name": "a"}]', "f:2"),
        Frame(b"", "f:3"),
        Frame(_good(4), "f:4", error="input ends early"),
        Frame(b'{"name": "' + b"x" * 100 + b'"}', "f:5"),
        Frame(b' {"name": "a"}', "f:6"),
    ]
    assert [readable(f) for f in frames] == [True, True, False, False, False, False, False]
    texts, _, declined = decode(frames, PATHS, cloudtrail.SPEC)
    assert (texts[FRAME_COLUMN].to_list(), declined) == ([0, 1], [2, 3, 4, 5, 6])
    assert texts["name"].to_list() == ["n0", "a"]


def test_no_frames_give_an_empty_frame() -> None:
    texts, base, declined = decode([], PATHS, cloudtrail.SPEC)
    assert (texts.height, declined, texts.columns) == (0, [], [*PATHS, FRAME_COLUMN])
    assert len(base["raw"]) == 0


def test_base_columns_equal_complete_row() -> None:
    raws = [b'{"a":"\xc3\xa9t\xc3\xa9"}', b'{"a": 1, "b": [true, null]}', b"{}"]
    frames = _frames(raws)
    columns, declined = base_columns(frames, [0, 1, 2], cloudtrail.SPEC)
    assert declined == []
    for i, raw in enumerate(raws):
        row = complete_row({"time": 0}, raw, cloudtrail.SPEC)
        for name, column in columns.items():
            assert column[i].as_py() == row[name], name
    assert columns["event_hash"][2].as_py() == hashlib.sha256(b"{}").digest()
    table = rows_to_table([complete_row({"time": 0}, raw, cloudtrail.SPEC) for raw in raws])
    for name, column in columns.items():
        assert column.type == table.schema.field(name).type, name


def test_base_columns_decline_what_simdjson_would_not_load() -> None:
    raws = [
        b'{"a": "ok"}',
        b'{"a": "\xff"}',  # invalid UTF-8
        b'{"a": 123456789012345678901234567890}',  # beyond 64 bits: DuckDB reads it, simdjson not
        b'{"a": "\\ud800"}',  # a lone surrogate
        b"[1]",
        b'{"a": "ok too"}',
    ]
    columns, declined = base_columns(_frames(raws), range(len(raws)), cloudtrail.SPEC)
    assert declined == [1, 2, 3, 4]
    assert columns["raw"].to_pylist() == ['{"a": "ok"}', '{"a": "ok too"}']
    reasons = [r.reason for r in normalize_frames(cloudtrail.SPEC, _frames(raws)) if isinstance(r, Rejected)]
    assert len(reasons) == 6  # all refused by CloudTrail (no eventName); 1-4 as JSON


def test_run_batch_without_a_batch_path_is_the_per_record_path() -> None:
    spec = dataclasses.replace(cloudtrail.SPEC, batch=None)
    frames = _frames([
        b'{"eventName":"GetObject","eventTime":"2024-01-01T00:00:00Z","eventID":"e1"}', b"{",
    ])
    table, rest = run_batch(spec, frames)
    assert table.num_rows == 0
    assert [type(r).__name__ for r in rest] == ["dict", "Rejected"]


def test_run_batch_sends_declined_frames_through_the_per_record_path() -> None:
    def batch(frames: list[Frame]) -> BatchResult:
        result = cloudtrail.SPEC.batch(frames[:1])  # type: ignore[misc]
        return BatchResult(result.table, [1, 2])

    spec = dataclasses.replace(cloudtrail.SPEC, batch=batch)
    frames = _frames([
        b'{"eventName":"GetObject","eventTime":"2024-01-01T00:00:00Z","eventID":"e1"}',
        b'{"eventName":"GetObject","eventTime":"2024-01-01T00:00:01Z","eventID":"e2"}',
        b'{"eventTime":"2024-01-01T00:00:02Z"}',
    ])
    table, rest = run_batch(spec, frames)
    assert table["event_uid"].to_pylist() == ["e1"]
    assert [r["event_uid"] if isinstance(r, dict) else r.reason for r in rest] == ["e2", "missing eventName"]


@pytest.mark.parametrize(
    "odd",
    [None, b'[{"name": "a"}]', b'"text"', b'{"name": "' + b"x" * 100 + b'"}', b'{"name": "\xff"}', b"{"],
)
def test_line_chunks_decode_like_frame_lists(odd: bytes | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk check for `LineChunk`s (no frames made) decodes as the frames do."""
    monkeypatch.setattr(ndjson_batch, "MAX_RECORD_BYTES", 100)
    lines = [_good(i) for i in range(9)]
    if odd is not None:
        lines[4] = odd
    chunk = LineChunk("f", lines, list(range(1, 10)))
    bulk, listed = decode(chunk, PATHS, cloudtrail.SPEC), decode(list(chunk), PATHS, cloudtrail.SPEC)
    assert bulk[2] == listed[2] == ([] if odd is None else [4])
    assert bulk[0].equals(listed[0])
    assert all(bulk[1][name].equals(listed[1][name]) for name in bulk[1])
