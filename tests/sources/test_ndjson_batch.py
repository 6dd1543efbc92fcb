"""Tests for `auditlake.sources.ndjson_batch`: decoding chunks, the base columns, `run_batch`."""

from __future__ import annotations

import dataclasses
import hashlib

import polars as pl
import pytest

from auditlake.sources import cloudtrail, ndjson_batch
from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.chunking import LineChunk
from auditlake.sources.ndjson_batch import FRAME_COLUMN, base_columns, decode, readable, run_batch
from auditlake.sources.records import Rejected, complete_row, normalize_frames
from auditlake.sources.table import rows_to_table

SCHEMA = {"name": pl.String, "who": pl.Struct({"id": pl.String})}


def _good(i: int) -> bytes:
    return f'{{"name": "n{i}", "who": {{"id": "u{i}"}}, "n": {i}}}'.encode()


def _frames(raws: list[bytes]) -> list[Frame]:
    return [Frame(raw, f"f:{i}") for i, raw in enumerate(raws)]


@pytest.mark.parametrize(
    "bad",
    [
        b'{"name": "x"',  # truncated
        b'{"name": "x", "who": "not an object"}',  # does not fit the schema
        b'{"name": "\xff"}',  # invalid UTF-8
        b'{"name": 01}',  # invalid number
    ],
)
@pytest.mark.parametrize("bisect_only", [False, True])
def test_bad_lines_at_start_middle_and_end_are_declined_exactly(
    bad: bytes, bisect_only: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if bisect_only:  # without the simdjson pass, bisection alone must find them
        monkeypatch.setattr(ndjson_batch, "_split_fitting", lambda frames, indices, schema: (list(indices), []))
    raws = [_good(i) for i in range(41)]
    for i in (0, 20, 40):
        raws[i] = bad
    df, declined = decode(_frames(raws), SCHEMA)
    assert declined == [0, 20, 40]
    kept = [i for i in range(41) if i not in (0, 20, 40)]
    assert df[FRAME_COLUMN].to_list() == kept
    assert df["name"].to_list() == [f"n{i}" for i in kept]
    assert df["who"].struct.field("id").to_list() == [f"u{i}" for i in kept]


def test_a_chunk_of_only_bad_lines_is_declined_whole() -> None:
    df, declined = decode(_frames([b"{", b'{"who": 5}', b"{}x"]), SCHEMA)
    assert (df.height, declined) == (0, [0, 1, 2])
    assert df.columns == ["name", "who", FRAME_COLUMN]


def test_frames_that_are_not_one_object_line_are_declined_up_front(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ndjson_batch, "MAX_RECORD_BYTES", 100)
    frames = [
        Frame(_good(0), "f:0"),
        Frame(b'{"name": "a",\n"n": 1}', "f:1"),  # spans lines: would split into two records
        Frame(b'[{"name": "a"}]', "f:2"),
        Frame(b"", "f:3"),
        Frame(_good(4), "f:4", error="input ends early"),
        Frame(b'{"name": "' + b"x" * 100 + b'"}', "f:5"),
        Frame(b' {"name": "a"}', "f:6"),
    ]
    assert [readable(f) for f in frames] == [True, False, False, False, False, False, False]
    df, declined = decode(frames, SCHEMA)
    assert (df[FRAME_COLUMN].to_list(), declined) == ([0], [1, 2, 3, 4, 5, 6])


def test_no_frames_give_an_empty_typed_frame() -> None:
    df, declined = decode([], SCHEMA)
    assert (df.height, declined, df.schema["who"]) == (0, [], SCHEMA["who"])


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
        b'{"a": 123456789012345678901234567890}',  # beyond 64 bits: Polars reads it, simdjson not
        b'{"a": "\\ud800"}',  # a lone surrogate: Polars reads it as NUL
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
    """The bulk path for `LineChunk`s (one buffer, no frames made) equals decoding the frames."""
    monkeypatch.setattr(ndjson_batch, "MAX_RECORD_BYTES", 100)
    lines = [_good(i) for i in range(9)]
    if odd is not None:
        lines[4] = odd
    chunk = LineChunk("f", lines, list(range(1, 10)))
    (bulk, bulk_declined), (listed, listed_declined) = decode(chunk, SCHEMA), decode(list(chunk), SCHEMA)
    assert bulk_declined == listed_declined == ([] if odd is None else [4])
    assert bulk.equals(listed)
    assert base_columns(chunk, range(9), cloudtrail.SPEC)[1] == base_columns(list(chunk), range(9), cloudtrail.SPEC)[1]
