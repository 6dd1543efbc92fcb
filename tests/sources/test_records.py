"""Tests for `auditlake.sources.records`: each frame becomes a complete row, a rejection or a skip."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.errors import RecordError, RecordSkipped
from auditlake.sources import records
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.records import Rejected, Skipped, complete_row, normalize_frames

WHEN = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _no_frames(path: Path) -> Iterator[Frame]:
    return iter(())


def _json_normalize(frame: Frame) -> Row:
    """A minimal source: `{"id"?, "op", "skip"?}` records; a `fail` key raises what it names."""
    record = json.loads(frame.raw)
    if record.get("skip"):
        raise RecordSkipped("non-final stage")
    if record.get("fail") == "record":
        raise RecordError("missing op", hint="ignored in the reason", where="ignored too")
    if record.get("fail") == "key":
        return {"time": WHEN, "action": record["userIdentity"]}
    row: Row = {"time": WHEN, "action": record["op"], "op.native": record["op"]}
    if "id" in record:
        row["event_uid"] = record["id"]
    return row


def _spec(normalize: Callable[[Frame], Row] = _json_normalize) -> SourceSpec:
    return SourceSpec(
        name="test.src", raw_format="json", frames=_no_frames, normalize=normalize,
        parser_version="3",
    )


def _run(*frames: Frame, spec: SourceSpec | None = None) -> list[Row | Rejected | Skipped]:
    return list(normalize_frames(spec or _spec(), frames))


def test_rows_are_completed() -> None:
    raw = b'{"op": "GetObject", "id": "e-1"}'

    [row] = _run(Frame(raw, "f:1"))

    assert isinstance(row, dict)
    assert row["raw"] == raw.decode()
    assert row["event_hash"] == hashlib.sha256(raw).digest()
    assert row["event_uid"] == "e-1"
    assert row["raw_format"] == "json"
    assert row["parser_version"] == "test.src/3"
    assert row["action"] == "GetObject" and row["op.native"] == "GetObject"
    assert row["time"] == WHEN


@pytest.mark.parametrize("raw", [b'{"op": "x"}', b'{"op": "x", "id": ""}', b'{"op": "x", "id": null}'])
def test_event_uid_falls_back_to_the_hash_of_the_content(raw: bytes) -> None:
    [row] = _run(Frame(raw, "f:1"))

    assert isinstance(row, dict)
    canonical = json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True).encode()
    assert row["event_uid"] == hashlib.sha256(canonical).hexdigest()
    assert row["event_hash"] == hashlib.sha256(raw).digest()


def test_identical_records_hash_alike_and_different_bytes_differently() -> None:
    a, b, c = _run(
        Frame(b'{"op": "x"}', "f:1"), Frame(b'{"op": "x"}', "f:2"), Frame(b'{"op":"x"}', "f:3")
    )

    assert isinstance(a, dict) and isinstance(b, dict) and isinstance(c, dict)
    assert a["event_hash"] == b["event_hash"] != c["event_hash"]


def test_error_frames_become_rejections_without_normalizing() -> None:
    def explode(frame: Frame) -> Row:
        raise AssertionError("an error frame must not be normalized")

    out = _run(Frame(b'{"cut', "f:9", error="truncated JSON at end of input"), spec=_spec(explode))

    assert out == [Rejected(b'{"cut', "f:9", "truncated JSON at end of input", "test.src")]


def test_record_error_becomes_a_rejection_with_its_message() -> None:
    raw = b'{"fail": "record"}'

    assert _run(Frame(raw, "f:2")) == [Rejected(raw, "f:2", "missing op", "test.src")]


def test_record_skipped_becomes_skipped() -> None:
    assert _run(Frame(b'{"skip": true}', "f:3")) == [Skipped("f:3", "non-final stage")]


def test_a_foreign_exception_is_rejected_naming_the_parser() -> None:
    raw = b'{"fail": "key"}'

    [rejected] = _run(Frame(raw, "f:4"))

    assert rejected == Rejected(raw, "f:4", "test.src parser failed: KeyError: 'userIdentity'", "test.src")


@pytest.mark.parametrize(
    "exc", [ValueError("v"), TypeError("t"), AttributeError("a"), IndexError("i"), OverflowError("o")]
)
def test_every_foreign_error_kind_is_contained(exc: Exception) -> None:
    def broken(frame: Frame) -> Row:
        raise exc

    out = _run(Frame(b"{}", "f:1"), Frame(b'{"op": "after"}', "f:2"), spec=_spec(broken))

    assert [type(r) for r in out] == [Rejected, Rejected]
    assert isinstance(out[0], Rejected)
    assert out[0].reason == f"test.src parser failed: {type(exc).__name__}: {exc}"


def test_not_json_is_rejected_and_neighbours_come_through() -> None:
    out = _run(
        Frame(b'{"op": "a"}', "f:1"),
        Frame(b"Jan  1 00:00:00 host sshd[1]: Accepted", "f:2"),
        Frame(b'{"op": "c"}', "f:3"),
    )

    assert [type(r).__name__ for r in out] == ["dict", "Rejected", "dict"]
    assert isinstance(out[1], Rejected)
    assert out[1].reason.startswith("test.src parser failed: JSONDecodeError")


def test_an_over_large_record_is_rejected_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(records, "MAX_RECORD_BYTES", 16)
    at_limit = b'{"op": "ab1234"}'
    too_big = b'{"op": "ab12345"}'
    assert len(at_limit) == 16

    out = _run(Frame(at_limit, "f:1"), Frame(too_big, "f:2"))

    assert isinstance(out[0], dict)
    assert out[1] == Rejected(too_big, "f:2", "record of 17 bytes exceeds 16", "test.src")


def test_invalid_utf8_is_rejected_with_its_offset() -> None:
    raw = b'{"op": "caf\xe9"}'

    def normalize_without_decoding(frame: Frame) -> Row:
        return {"time": WHEN, "action": "x"}

    out = _run(Frame(raw, "f:1"), spec=_spec(normalize_without_decoding))

    assert out == [Rejected(raw, "f:1", "invalid UTF-8 at byte 11", "test.src")]


def test_a_row_without_time_is_rejected() -> None:
    out = _run(Frame(b"{}", "f:1"), spec=_spec(lambda frame: {"action": "x", "time": None}))

    assert out == [Rejected(b"{}", "f:1", "missing timestamp", "test.src")]


def test_results_keep_input_order() -> None:
    out = _run(
        Frame(b'{"op": "1"}', "f:1"),
        Frame(b"", "f:2", error="cut"),
        Frame(b'{"skip": 1}', "f:3"),
        Frame(b'{"fail": "record"}', "f:4"),
        Frame(b'{"op": "5"}', "f:5"),
    )

    assert [type(r).__name__ for r in out] == ["dict", "Rejected", "Skipped", "Rejected", "dict"]
    assert [r["action"] for r in out if isinstance(r, dict)] == ["1", "5"]
    assert [r.location for r in out if not isinstance(r, dict)] == ["f:2", "f:3", "f:4"]


def test_complete_row_keeps_a_raw_format_set_by_the_source() -> None:
    row = complete_row({"time": WHEN, "raw_format": "evtx-json"}, b"{}", _spec())

    assert row["raw_format"] == "evtx-json"
    assert row["raw"] == "{}"
    assert row["parser_version"] == "test.src/3"


def test_complete_row_refuses_invalid_utf8() -> None:
    with pytest.raises(RecordError, match="invalid UTF-8 at byte 1"):
        complete_row({"time": WHEN}, b"x\xff", _spec())
