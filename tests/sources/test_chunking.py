"""Frames in bulk chunks equal the frames one by one (`json_frames`), whatever the input.

The differential property: for any input, the chunks of `json_frames(path).chunks(size)`,
flattened, are exactly `list(json_frames(path))` (bytes, locations and errors), every chunk but
the last holds `size` frames, and `raws` of a chunk are its frames' bytes.
"""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake.sources import framing
from auditlake.sources.base import Frame
from auditlake.sources.chunking import LineChunk, frame_chunks, raws
from auditlake.sources.framing import json_frames

RECORD = b'{"eventName": "GetObject", "n": 1}'
LINES = [
    RECORD,
    b'{"eventName":"PutObject","pad":"' + b"x" * 90 + b'"}',
    b"",
    b"   ",
    b"\t" + RECORD + b"  ",
    RECORD + b"\r",
    b"\x0b\x0c",
    b'{"cut": ',
    b"not json at all",
    b'{"bad": "\xff\xfe"}',
    b"[1, 2]",
]


def _flatten(path: Path, size: int) -> tuple[list[Frame], list[int]]:
    chunks = list(json_frames(path).chunks(size))
    for chunk in chunks:
        assert raws(chunk) == [frame.raw for frame in chunk]
    return [frame for chunk in chunks for frame in chunk], [len(chunk) for chunk in chunks]


def _assert_same(path: Path, size: int) -> list[Frame]:
    frames, sizes = _flatten(path, size)
    assert frames == list(json_frames(path))
    assert all(n == size for n in sizes[:-1]) and all(0 < n <= size for n in sizes)
    return frames


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(st.sampled_from(LINES), max_size=40),
    ending=st.sampled_from([b"", b"\n", b"\n\n", b"\r\n"]),
    block=st.integers(1, 200),
    size=st.integers(1, 9),
    packing=st.sampled_from(["plain", "gzip", "cut gzip"]),
)
def test_chunks_are_the_frames_of_json_lines(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
    lines: list[bytes], ending: bytes, block: int, size: int, packing: str,
) -> None:
    monkeypatch.setattr(framing, "CHUNK", block)
    data = b"\n".join([RECORD, *lines]) + ending
    if packing != "plain":
        data = gzip.compress(data)
        if packing == "cut gzip":
            data = data[: len(data) * 2 // 3]
    path = tmp_path_factory.mktemp("in") / "in.jsonl"
    path.write_bytes(data)
    _assert_same(path, size)


@pytest.mark.parametrize(
    "data",
    [
        b"[" + b",\n".join([RECORD] * 7) + b"]",
        b'{"Records": [' + b", ".join([RECORD] * 7) + b"]}",
        b"\n".join(json.dumps(json.loads(RECORD), indent=2).encode() for _ in range(7)),
        b"[" + RECORD + b", " + RECORD[:-3],
        b"",
        b" \n\n",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 100])
def test_chunks_are_the_frames_of_other_framings(tmp_path: Path, data: bytes, size: int) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(data)
    frames = _assert_same(path, size)
    assert not any(isinstance(chunk, LineChunk) for chunk in json_frames(path).chunks(size)) or not frames


def test_json_lines_come_as_line_chunks(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join([RECORD] * 5) + b"\n")
    chunks = list(json_frames(path).chunks(2))
    assert all(isinstance(chunk, LineChunk) for chunk in chunks)
    assert [c.numbers for c in chunks] == [[1, 2], [3, 4], [5]]  # type: ignore[attr-defined]


def test_lines_read_before_an_io_error_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join([RECORD] * 10) + b"\n")
    monkeypatch.setattr(framing, "CHUNK", len(RECORD) * 3 + 3)
    real = framing.read_upto
    calls = []

    def failing(handle, size):  # type: ignore[no-untyped-def]
        calls.append(size)
        if len(calls) == 4:  # the head, two blocks, then the failure
            raise OSError(5, "Input/output error")
        return real(handle, size)

    monkeypatch.setattr(framing, "read_upto", failing)
    one_by_one: list[Frame] = []
    with pytest.raises(OSError, match="Input/output"):
        one_by_one.extend(json_frames(path))
    calls.clear()
    chunked: list[Frame] = []
    with pytest.raises(OSError, match="Input/output"):
        for chunk in json_frames(path).chunks(4):
            chunked.extend(chunk)
    assert chunked == one_by_one and len(chunked) == 6


def test_frame_chunks_keep_frames_read_before_an_io_error() -> None:
    def frames():  # type: ignore[no-untyped-def]
        yield Frame(b"{}", "x:1")
        yield Frame(b"{}", "x:2")
        raise OSError(5, "Input/output error")

    got: list[int] = []
    with pytest.raises(OSError):
        for chunk in frame_chunks(frames(), 5):
            got.append(len(chunk))
    assert got == [2]


def test_line_chunks_slice_and_pickle_as_frames() -> None:
    chunk = LineChunk("f", [b"{}", b'{"a":1}', b"[]"], [2, 4, 5])
    assert list(chunk[1:]) == [Frame(b'{"a":1}', "f:4"), Frame(b"[]", "f:5")]
    assert chunk[-1] == Frame(b"[]", "f:5")
    again = pickle.loads(pickle.dumps(chunk))
    assert isinstance(again, LineChunk) and list(again) == list(chunk)


def test_a_joined_chunk_locates_every_frame_in_its_own_input() -> None:
    parts = [
        LineChunk("a:1.json", [b"{}", b"{ }"], [1, 1]),
        LineChunk("b.json", [b'{"b":1}'], [7]),
        LineChunk("c.json", [b"{1}", b"{2}", b"{3}"], [2, 3, 4]),
    ]
    joined = LineChunk.join(parts)
    expected = [frame for part in parts for frame in part]
    assert list(joined) == expected
    assert [joined[i] for i in range(len(joined))] == expected
    assert [joined[i] for i in range(-len(joined), 0)] == expected
    assert raws(joined) == [frame.raw for frame in expected]
    assert joined.inputs() == [(0, "a:1.json"), (2, "b.json"), (3, "c.json")]
    for start in range(len(expected) + 1):
        for stop in range(start, len(expected) + 1):
            assert list(joined[start:stop]) == expected[start:stop]
    assert list(pickle.loads(pickle.dumps(joined))) == expected
    assert list(LineChunk.join([joined[:3], joined[3:]])) == expected
