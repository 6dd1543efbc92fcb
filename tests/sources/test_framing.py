"""Tests for `auditlake.sources.framing`: every framing in, verbatim records out."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake.sources import framing, input_head, one_line
from auditlake.sources.base import Frame
from auditlake.sources.framing import json_frames, open_input
from auditlake.sources.input_head import read_head

SIGMA_PROCESS_CREATION = Path("sigmahq/regression_data/rules/windows/process_creation")

# Three records that are awkward to split: nested brackets and braces inside strings, escapes,
# non-ASCII text (two- and four-byte UTF-8) and all JSON scalar kinds.
RECORDS: list[bytes] = [
    b'{"id": 1, "msg": "a ] b } c , d", "nested": {"list": [1, 2, {"x": null}]}}',
    '{"id": 2, "name": "Zoë 🎉", "esc": "quote \\" and \\\\ and \\u00e9", "ok": true}'.encode(),
    b'{"id": 3, "n": -1.5e3, "f": false, "empty": {}, "none": []}',
]


def _write(tmp_path: Path, name: str, data: bytes, *, gz: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _frames(path: Path) -> list[Frame]:
    return list(json_frames(path))


def _assert_verbatim(data: bytes, frames: list[Frame]) -> None:
    """Each frame's raw is the next slice of `data`, in order and without overlap."""
    cursor = 0
    for frame in frames:
        offset = data.find(frame.raw, cursor)
        assert offset >= cursor, f"{frame.location}: raw is not a slice of the input"
        assert data[offset : offset + len(frame.raw)] == frame.raw
        cursor = offset + len(frame.raw)


def _jsonl(records: list[bytes]) -> bytes:
    return b"".join(r + b"\n" for r in records)


def _array(records: list[bytes]) -> bytes:
    return b"[\n  " + b",\n  ".join(records) + b"\n]\n"


def _wrapped(records: list[bytes]) -> bytes:
    return b'{"Records": [' + b", ".join(records) + b"]}"


def _pretty(records: list[bytes]) -> bytes:
    """Pretty-printed objects back to back, as evtx_dump writes them."""
    return b"".join(json.dumps(json.loads(r), indent=2, ensure_ascii=False).encode() + b"\n" for r in records)


FRAMINGS: dict[str, Callable[[list[bytes]], bytes]] = {
    "jsonl": _jsonl,
    "array": _array,
    "records": _wrapped,
    "pretty": _pretty,
}


# --- each framing -----------------------------------------------------------------------------


def test_jsonl_skips_blank_lines_and_counts_every_line(tmp_path: Path) -> None:
    data = b'{"a": 1}\n\n   \n{"a": 2}\r\n{"a": 3}'
    frames = _frames(_write(tmp_path, "events.jsonl", data))

    assert [f.raw for f in frames] == [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}']
    assert [f.location for f in frames] == ["events.jsonl:1", "events.jsonl:4", "events.jsonl:5"]
    assert all(f.error is None for f in frames)


def test_json_array_frames_are_verbatim_and_located_by_line(tmp_path: Path) -> None:
    records = [RECORDS[0], b'{\n    "id": 2,\n    "x": "y"\n  }', RECORDS[2]]
    data = _array(records)
    frames = _frames(_write(tmp_path, "a.json", data))

    assert [f.raw for f in frames] == records
    assert [f.location for f in frames] == ["a.json:2", "a.json:3", "a.json:7"]
    assert all(f.error is None for f in frames)
    _assert_verbatim(data, frames)


@pytest.mark.parametrize(
    "opening", [b'{"Records": [', b'{ "Records" : [\n', b'\n\n  {\n  "Records":\n  ['],
)
def test_records_wrapper_yields_the_records(tmp_path: Path, opening: bytes) -> None:
    data = opening + b",\n".join(RECORDS) + b"]}\n"
    frames = _frames(_write(tmp_path, "ct.json", data))

    assert [f.raw for f in frames] == RECORDS
    assert all(f.error is None for f in frames)


def test_back_to_back_pretty_objects(tmp_path: Path) -> None:
    first, second = (json.dumps(json.loads(r), indent=2).encode() for r in RECORDS[:2])
    data = first + b"\n\n" + second + b'{"glued": true}\n'
    frames = _frames(_write(tmp_path, "evtx.json", data))

    assert [f.raw for f in frames] == [first, second, b'{"glued": true}']
    second_line = first.count(b"\n") + 3
    glued_line = second_line + second.count(b"\n")
    assert [f.location for f in frames] == [
        "evtx.json:1", f"evtx.json:{second_line}", f"evtx.json:{glued_line}",
    ]
    assert all(f.error is None for f in frames)


def test_single_pretty_printed_object(tmp_path: Path) -> None:
    data = b'\n{\n  "a": {\n    "b": [1, 2]\n  },\n  "c": "d"\n}\n'
    frames = _frames(_write(tmp_path, "one.json", data))

    assert frames == [Frame(data.strip(), "one.json:2")]


def test_a_pretty_object_with_a_value_on_its_own_line_stays_whole(tmp_path: Path) -> None:
    data = b'{"message":\n  "a long value"\n}\n'
    frames = _frames(_write(tmp_path, "odd.json", data))

    assert frames == [Frame(data.strip(), "odd.json:1")]


@pytest.mark.parametrize("kind", FRAMINGS)
def test_gzip_is_read_by_content_not_by_name(tmp_path: Path, kind: str) -> None:
    data = FRAMINGS[kind](RECORDS)
    plain = _frames(_write(tmp_path, f"{kind}.json", data))
    packed = _frames(_write(tmp_path, f"{kind}.data", data, gz=True))

    assert [f.raw for f in packed] == [f.raw for f in plain]
    assert [json.loads(f.raw) for f in packed] == [json.loads(r) for r in RECORDS]
    assert all(f.error is None for f in packed)


@pytest.mark.parametrize("kind", FRAMINGS)
def test_every_framing_keeps_each_record_verbatim(tmp_path: Path, kind: str) -> None:
    data = FRAMINGS[kind](RECORDS)
    frames = _frames(_write(tmp_path, "in.json", data))

    assert len(frames) == 3
    _assert_verbatim(data, frames)
    assert [json.loads(f.raw) for f in frames] == [json.loads(r) for r in RECORDS]


def _top_level_objects(data: bytes) -> list[bytes]:
    """The back-to-back JSON values of `data`, split independently of the module under test."""
    text, decoder, spans, pos = data.decode(), json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return spans
        _, end = decoder.raw_decode(text, pos)
        spans.append(text[pos:end].encode())
        pos = end


def test_sigmahq_evtx_dumps_split_into_their_objects(shared_data: Path) -> None:
    paths = sorted((shared_data / SIGMA_PROCESS_CREATION).glob("*/*.json"))
    assert paths, f"no test data under {shared_data / SIGMA_PROCESS_CREATION}"
    several = 0
    for path in paths:
        expected = _top_level_objects(path.read_bytes())
        frames = _frames(path)
        assert [f.raw for f in frames] == expected, path
        several += len(expected) > 1
    assert several >= 5  # files holding several pretty-printed objects back to back


# --- damaged inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [b'{"id": 3, "msg": "cut in the mid', b'{"id": 3, "ok": tr', b'{"id": 3, "n": 12', b'{"id": 3, ', b'{"id"'],
    ids=["mid-string", "mid-literal", "mid-number", "after-comma", "after-key"],
)
def test_truncated_array_keeps_good_records_and_flags_the_tail(tmp_path: Path, tail: bytes) -> None:
    data = b"[\n" + RECORDS[0] + b",\n" + RECORDS[1] + b",\n" + tail
    frames = _frames(_write(tmp_path, "cut.json", data))

    assert [f.raw for f in frames[:2]] == RECORDS[:2]
    assert all(f.error is None for f in frames[:2])
    assert len(frames) == 3, "one quarantine entry for one cut"
    assert frames[2].raw == tail
    assert frames[2].location == "cut.json:4"
    assert "truncated" in (frames[2].error or "")


def test_array_cut_between_records_is_flagged(tmp_path: Path) -> None:
    data = b"[" + RECORDS[0] + b",\n"
    frames = _frames(_write(tmp_path, "cut.json", data))

    assert frames[0] == Frame(RECORDS[0], "cut.json:1")
    assert frames[1].raw == b""
    assert "truncated" in (frames[1].error or "")


def test_truncated_gzip_delivery_keeps_what_was_decompressed(tmp_path: Path) -> None:
    records = [b'{"eventID": "%04d", "pad": "%s"}' % (i, b"p" * (i % 50)) for i in range(400)]
    packed = gzip.compress(_wrapped(records))
    path = tmp_path / "delivery.json.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])

    frames = _frames(path)

    good = [f for f in frames if f.error is None]
    assert 100 < len(good) < 400
    assert [f.raw for f in good] == records[: len(good)]
    assert frames[-1].error is not None and "ends early" in frames[-1].error
    assert records[len(good)].startswith(frames[-1].raw)


def test_truncated_gzip_jsonl_keeps_the_cut_line_in_the_error_frame(tmp_path: Path) -> None:
    records = [b'{"line": %d, "pad": "%s"}' % (i, b"q" * (i % 40)) for i in range(400)]
    packed = gzip.compress(_jsonl(records))
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(packed[: len(packed) // 2])

    frames = _frames(path)

    *good, cut = frames
    assert [f.raw for f in good] == records[: len(good)]
    assert [f.location for f in good[:2]] == ["events.jsonl.gz:1", "events.jsonl.gz:2"]
    assert cut.error is not None and "ends early" in cut.error
    assert records[len(good)].startswith(cut.raw)
    assert cut.location == f"events.jsonl.gz:{len(good) + 1}"


def test_read_head_of_a_truncated_gzip_is_the_readable_part(tmp_path: Path) -> None:
    data = _jsonl(RECORDS * 20)
    packed = gzip.compress(data)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) - 12])

    head = read_head(path)

    assert head and data.startswith(head)


@pytest.mark.parametrize(
    ("data", "records", "garbage"),
    [
        (b"[" + RECORDS[0] + b"]\ntrailing junk\n", RECORDS[:1], b"trailing junk"),
        (_wrapped(RECORDS[:1]) + b" x", RECORDS[:1], b"x"),
        (_wrapped(RECORDS[:1]) + b"[" + RECORDS[1] + b"]", RECORDS[:1], b"[" + RECORDS[1] + b"]"),
        (b"[" + RECORDS[0] + b"] [" + RECORDS[1] + b"] x", RECORDS[:2], b"x"),
    ],
    ids=["after-array", "after-wrapper", "array-after-wrapper", "after-pages"],
)
def test_content_after_the_records_is_an_error_frame(
    tmp_path: Path, data: bytes, records: list[bytes], garbage: bytes
) -> None:
    *frames, last = _frames(_write(tmp_path, "g.json", data))

    assert frames == [Frame(record, "g.json:1") for record in records]
    assert (last.raw, last.error) == (garbage, "unexpected content after the JSON records")


def test_garbage_between_pretty_objects_is_quarantined_and_framing_goes_on(tmp_path: Path) -> None:
    data = b'{\n "a": 1\n}\n garbage \n{\n "b": 2\n}\n'
    frames = _frames(_write(tmp_path, "g.json", data))

    assert frames[0] == Frame(b'{\n "a": 1\n}', "g.json:1")
    assert frames[1].raw == b"garbage"
    assert frames[1].location == "g.json:4"
    assert (frames[1].error or "").startswith("invalid JSON")
    assert frames[2] == Frame(b'{\n "b": 2\n}', "g.json:5")
    assert len(frames) == 3


def _pretty_indented(records: list[bytes]) -> bytes:
    """Records pretty-printed, nested objects indented deeper than the records."""
    return b"".join(b"{\n  " + r[1:-1] + b',\n  "inner": [\n    {"deep": 1}\n  ]\n}\n' for r in records)


@pytest.mark.parametrize("chunk", [3, 64, framing.CHUNK])
@pytest.mark.parametrize("kind", ["pretty", "pretty-nested", "array", "jsonl-first-lines-broken"])
def test_one_damaged_record_costs_that_record_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, chunk: int
) -> None:
    """A damaged record is quarantined alone: framing resumes at the next line that opens a
    record at the same indentation (not at a nested object), every byte kept, in order,
    wherever the reads of the input end."""
    monkeypatch.setattr(framing, "CHUNK", chunk)
    damaged = b'{"id": 9, "msg": "broken" "no comma": 1}'
    records = [RECORDS[0], damaged, RECORDS[2], RECORDS[0]]
    if kind == "pretty":
        data = _pretty([RECORDS[0]]) + damaged + b"\n" + _pretty([RECORDS[2], RECORDS[0]])
    elif kind == "pretty-nested":
        data = _pretty_indented(records)
    elif kind == "jsonl-first-lines-broken":  # read as back-to-back objects, as its head shows none whole
        records = [damaged, b'{"id": 8, "cut": ', *RECORDS]
        data = _jsonl(records)
    else:
        data = FRAMINGS[kind](records)
    frames = _frames(_write(tmp_path, "d.json", data))

    bad = [f for f in frames if f.error is not None]
    good = [json.loads(f.raw) for f in frames if f.error is None]
    _assert_verbatim(data, frames)
    if kind == "jsonl-first-lines-broken":
        assert [f.raw for f in bad] == [damaged, b'{"id": 8, "cut":']
        assert good == [json.loads(r) for r in RECORDS]
        return
    assert len(bad) == 1 and bad[0].raw.startswith(b'{') and b'"broken"' in bad[0].raw
    assert (bad[0].error or "").startswith("invalid JSON")
    expected = [RECORDS[0], RECORDS[2], RECORDS[0]]
    if kind == "pretty-nested":
        assert [g["id"] for g in good] == [1, 3, 1] and all(g["inner"] == [{"deep": 1}] for g in good)
    else:
        assert good == [json.loads(r) for r in expected]


def test_a_damaged_stretch_is_quarantined_in_bounded_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no line to resume at, the damaged rest is quarantined in pieces of bounded size,
    not read whole into memory; every byte is kept."""
    monkeypatch.setattr(framing, "MAX_RECORD_TEXT_READ", 100)
    monkeypatch.setattr(framing, "CHUNK", 64)
    data = RECORDS[0] + b" " + b"@" * 1000 + b" " + RECORDS[2]
    frames = _frames(_write(tmp_path, "b.json", data))

    assert frames[0] == Frame(RECORDS[0], "b.json:1")
    damaged = [f for f in frames if f.error is not None]
    assert len(damaged) >= 10 and all(len(f.raw) <= 100 for f in damaged)
    _assert_verbatim(data, frames)
    assert sum(len(f.raw) for f in frames) == len(data) - 2  # all but the two blanks between


def test_invalid_utf8_inside_an_array_record_is_kept_byte_for_byte(tmp_path: Path) -> None:
    bad = b'{"id": 2, "user": "caf\xe9 \xff\xfe", "ok": "\xc3\xa9"}'
    data = b"[" + RECORDS[0] + b",\n" + bad + b",\n" + RECORDS[2] + b"]"
    frames = _frames(_write(tmp_path, "u.json", data))

    assert [f.raw for f in frames] == [RECORDS[0], bad, RECORDS[2]]
    assert all(f.error is None for f in frames)
    with pytest.raises(UnicodeDecodeError):  # so the normalizer rejects it as invalid UTF-8
        frames[1].raw.decode("utf-8")


def test_invalid_utf8_in_jsonl_is_kept_byte_for_byte(tmp_path: Path) -> None:
    bad = b'{"user": "\xff"}'
    frames = _frames(_write(tmp_path, "u.jsonl", _jsonl([RECORDS[0], bad, RECORDS[2]])))

    assert [f.raw for f in frames] == [RECORDS[0], bad, RECORDS[2]]


def test_jsonl_whose_first_line_is_broken_still_frames_line_by_line(tmp_path: Path) -> None:
    data = b'{"id": 1, "cut\n' + _jsonl(RECORDS[1:])
    frames = _frames(_write(tmp_path, "b.jsonl", data))

    assert [f.raw for f in frames] == [b'{"id": 1, "cut', *RECORDS[1:]]
    assert [f.location for f in frames] == ["b.jsonl:1", "b.jsonl:2", "b.jsonl:3"]


def test_a_file_that_is_not_json_becomes_line_frames(tmp_path: Path) -> None:
    data = b"Jan  1 00:00:00 host sshd[1]: Accepted\n\nnot json either\n"
    frames = _frames(_write(tmp_path, "syslog", data))

    assert frames == [
        Frame(b"Jan  1 00:00:00 host sshd[1]: Accepted", "syslog:1"),
        Frame(b"not json either", "syslog:3"),
    ]


@pytest.mark.parametrize("data", [b"", b"  \n\t\n", b"[]", b'{"Records": []}'])
@pytest.mark.parametrize("gz", [False, True])
def test_empty_input_yields_nothing(tmp_path: Path, data: bytes, gz: bool) -> None:
    assert _frames(_write(tmp_path, "empty.json", data, gz=gz)) == []


# --- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "chunk"),
    [
        *[(kind, chunk) for kind in ("array", "pretty", "jsonl") for chunk in (1, 5, 16, 64)],
        # the `{"Records": [` opening is recognised in the first chunk, so it must fit there
        ("records", 16), ("records", 64),
    ],
)
def test_chunk_boundaries_anywhere_inside_a_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, kind: str
) -> None:
    monkeypatch.setattr(framing, "CHUNK", chunk)
    data = FRAMINGS[kind](RECORDS * 3)
    frames = _frames(_write(tmp_path, "s.json", data))

    assert all(f.error is None for f in frames)
    assert [json.loads(f.raw) for f in frames] == [json.loads(r) for r in RECORDS * 3]
    _assert_verbatim(data, frames)


def test_array_larger_than_a_chunk_comes_out_complete_and_in_order(tmp_path: Path) -> None:
    count = 20_000
    records = [b'{"id": %d, "msg": "%s"}' % (i, b"x" * 202) for i in range(count)]
    data = b"[" + b",\n".join(records) + b"]"
    assert len(data) > framing.CHUNK
    assert data[framing.CHUNK - 2 : framing.CHUNK + 2] == b"xxxx", "a chunk ends inside a string"

    frames = _frames(_write(tmp_path, "big.json", data))

    assert len(frames) == count
    assert all(f.error is None for f in frames)
    assert [f.raw for f in frames] == records
    assert frames[-1].location == f"big.json:{count}"


# --- helpers ----------------------------------------------------------------------------------


def test_open_input_gunzips_by_magic_bytes(tmp_path: Path) -> None:
    packed = _write(tmp_path, "plain.txt", b"hello\n", gz=True)
    plain = _write(tmp_path, "x.gz", b"\x1f not gzip\n")

    with open_input(packed) as handle:
        assert handle.read() == b"hello\n"
    with open_input(plain) as handle:
        assert handle.read() == b"\x1f not gzip\n"


def test_read_head_is_bounded(tmp_path: Path) -> None:
    path = _write(tmp_path, "h.json", b"0123456789" * 10, gz=True)

    assert read_head(path, 15) == b"012345678901234"
    assert read_head(path) == b"0123456789" * 10


# --- arrays on one line, split in one go ------------------------------------------------------

_keys = st.sampled_from(["eventVersion", "a", "b", "é"])
_strings = st.one_of(
    st.text(max_size=6),
    st.sampled_from(['},{"eventVersion":', "}, {", "]", "\\", '"', "\n", "\u2028"]),
)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _strings),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)
_records = st.dictionaries(_keys, _values, max_size=4).map(lambda d: {"eventVersion": "1.08", **d})


def _chunked(path: Path, size: int) -> list[Frame]:
    return [frame for chunk in json_frames(path).chunks(size) for frame in chunk]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(_records, max_size=8),
    st.sampled_from(["[", '{"Records":[', ' { "Records" : [ ', "\n["]),
    st.sampled_from([",", ", "]),
    st.booleans(),
    st.sampled_from([b"", b"x", b'{"eventVersion":NaN}', b'{"other":1}', b"\xff"]),
)
def test_arrays_split_in_one_go_frame_as_record_by_record(
    tmp_path: Path, records: list[dict[str, object]], opening: str, comma: str, gz: bool, odd: bytes
) -> None:
    """`one_line_members` gives exactly `_stream_frames`' frames, or leaves the input to it."""
    texts = [json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() for r in records]
    if odd:
        texts.insert(len(texts) // 2, odd)
    closing = "]" if opening.strip().startswith("[") else "]}"
    data = opening.encode() + comma.encode().join(texts) + closing.encode() + b"\n"
    path = _write(tmp_path, "delivery.json", data, gz=gz)
    expected = list(framing._stream_frames(path))
    for size in (1, 3, 1000):
        assert _chunked(path, size) == expected
    members = one_line.one_line_members(path)
    if members is not None:
        assert members == [frame.raw for frame in expected]


def test_a_cloudtrail_delivery_file_is_split_in_one_go(tmp_path: Path) -> None:
    records = [
        {"eventVersion": "1.08", "eventName": "A", "resources": [{"eventVersion": "x"}, {"eventVersion": "y"}]},
        {"eventVersion": "1.08", "eventName": "B", "note": '},{"eventVersion":'},
        {"eventVersion": "1.08", "eventName": "C"},
    ]
    data = b'{"Records":[' + b",".join(json.dumps(r, separators=(",", ":")).encode() for r in records) + b"]}"
    path = _write(tmp_path, "delivery.json.gz", data, gz=True)
    members = one_line.one_line_members(path)
    assert members is not None and [json.loads(m)["eventName"] for m in members] == ["A", "B", "C"]
    assert _chunked(path, 2) == list(framing._stream_frames(path))
    # written over several lines, or with members of another first key: left to the stream
    assert one_line.one_line_members(_write(tmp_path, "a.json", _array(RECORDS))) is None
    mixed = b"[" + b",".join([*RECORDS, b'{"zz": 1}']).replace(b" ", b"") + b"]"
    assert one_line.one_line_members(_write(tmp_path, "b.json", mixed)) is None


def test_a_pretty_printed_array_is_not_read_whole_to_be_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "pretty.json", b"[\n" + b",\n".join(RECORDS) + b"\n]\n")
    sizes: list[int] = []
    read_upto = input_head.read_upto

    def recording(handle: Any, size: int) -> tuple[bytes, str | None]:
        sizes.append(size)
        return read_upto(handle, size)

    monkeypatch.setattr(input_head, "read_upto", recording)
    monkeypatch.setattr(one_line, "read_upto", recording)
    assert one_line.one_line_members(path) is None
    assert sizes and max(sizes) <= 64 << 10  # its head only


@pytest.mark.parametrize("ending", [b"\n", b""], ids=["line-break", "end-of-input"])
def test_a_line_longer_than_a_record_is_quarantined_by_its_start_and_not_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: bytes
) -> None:
    monkeypatch.setattr(framing, "CHUNK", 64)
    monkeypatch.setattr(framing, "MAX_RECORD_BYTES", 300)
    long_line = b"\0" * 1000
    data = _jsonl(RECORDS[:2]) + long_line + ending + (_jsonl(RECORDS[2:]) if ending else b"")
    path = _write(tmp_path, "crashed.jsonl", data)
    held: list[int] = []
    read_upto = framing.read_upto

    def reading(handle: Any, size: int) -> tuple[bytes, str | None]:
        held.append(size)
        return read_upto(handle, size)

    monkeypatch.setattr(framing, "read_upto", reading)
    one_by_one = _frames(path)
    chunked = [frame for chunk in json_frames(path).chunks(2) for frame in chunk]

    for frames in (one_by_one, chunked):
        assert [f.raw for f in frames if f.error is None] == (RECORDS if ending else RECORDS[:2])
        [bad] = [f for f in frames if f.error is not None]
        assert bad.raw == long_line[:300] and bad.location == "crashed.jsonl:3"
        assert bad.error == "line of 1000 bytes exceeds 300 (its first 300 kept)"
    assert max(held) <= 64 << 10  # read a block at a time: never the whole line


def test_a_record_nested_too_deeply_is_quarantined_alone(tmp_path: Path) -> None:
    deep = b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    frames = _frames(_write(tmp_path, "array.json", _array([RECORDS[0], deep, RECORDS[2]])))
    assert [(f.raw, f.error) for f in frames] == [
        (RECORDS[0], None), (deep, "JSON nested too deeply to read"), (RECORDS[2], None)]
    # JSON Lines told by its first lines although the first cannot be read: each line a record,
    # which the source's reader then quarantines
    frames = _frames(_write(tmp_path, "first.jsonl", _jsonl([deep, RECORDS[1]])))
    assert [(f.raw, f.error) for f in frames] == [(deep, None), (RECORDS[1], None)]
