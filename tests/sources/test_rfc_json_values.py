"""Valid JSON that simdjson refuses (an integer beyond 64 bits, a lone surrogate escape) is read,
by the per-record path, behind batch paths that decline it, in detection and in ingest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tests.sources.batch_helpers import assert_run_batch_equals_per_record

from auditlake.errors import RecordError
from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources import cloudtrail, fields, registry
from auditlake.sources.base import BatchResult, Frame, Row, SourceSpec
from auditlake.sources.fields import load_json, text
from auditlake.sources.generic import load_mapping
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.rfc_json import WideNumber, escape_lone_surrogates, load

DATA = Path(__file__).parent / "data"

BIG = b'"requestParameters": {"maxItems": 18446744073709551616}'
NEGATIVE = b'"requestParameters": {"n": -9223372036854775809}'
LONE = b'"userAgent": "curl/8 \\udc80"'
VALUES = {"big": BIG, "neg": NEGATIVE, "sur": LONE}
"""The three values, as they stand in a record: Python's `json.loads` reads each of them."""


def trail(event_id: str, member: bytes = b'"userAgent": "aws-cli/2"') -> bytes:
    return (
        b'{"eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z", '
        b'"eventSource": "iam.amazonaws.com", "eventName": "CreateUser", '
        b'"eventID": "' + event_id.encode() + b'", "sourceIPAddress": "198.51.100.4", '
        b'"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"}, '
        + member + b"}"
    )


def records() -> list[bytes]:
    """A plain record, then one holding each of the values."""
    return [trail("plain"), *(trail(name, member) for name, member in VALUES.items())]


def test_python_reads_every_record_the_tests_use() -> None:
    assert [json.loads(raw)["eventID"] for raw in records()] == ["plain", "big", "neg", "sur"]


# --- rfc_json ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        (rb'"\udc80"', rb'"\\udc80"'),  # a lone low surrogate
        (rb'"\uD800x"', rb'"\\uD800x"'),  # a lone high one, spelled as in the record
        (rb'"\ud83d\ude00"', rb'"\ud83d\ude00"'),  # a pair is one character: unchanged
        (rb'"\\udc80"', rb'"\\udc80"'),  # an escaped backslash, then text: unchanged
        (rb'"\\\udc80"', rb'"\\\\udc80"'),  # an escaped backslash, then a lone surrogate
        (rb'"\ud800\ud83d\ude00"', rb'"\\ud800\ud83d\ude00"'),  # lone high before a pair
        (rb'"\ude00\ud83d"', rb'"\\ude00\\ud83d"'),  # a pair in the wrong order is two lone
        (rb'"\u00e9\n"', rb'"\u00e9\n"'),
    ],
)
def test_only_lone_surrogate_escapes_become_text(raw: bytes, escaped: bytes) -> None:
    assert escape_lone_surrogates(raw) == escaped
    json.loads(escaped).encode("utf-8")  # no surrogate is left for UTF-8 (and Arrow) to refuse


@pytest.mark.parametrize(
    "raw",
    [
        b'{"n": NaN}', b'{"n": Infinity}', b'{"n": -Infinity}', b'{"a": 1} {"b": 2}', b'{"a": 1',
        b'{"a": "\xff"}', b'{"a": 01}', b'{"a": "tab\there"}', b"\xef\xbb\xbf{}",
    ],
)
def test_what_rfc_8259_does_not_allow_stays_refused(raw: bytes) -> None:
    assert load(raw) is None


def test_the_first_of_a_repeated_key_counts_as_in_simdjson() -> None:
    raw = b'{"a": 1, "n": 18446744073709551616, "a": 2}'
    assert load(raw) == {"a": 1, "n": 2**64}
    assert load_json(b'{"a": 1, "a": 2}').get("a") == 1


def test_numbers_beyond_any_float_or_int_read_as_written() -> None:
    doc = load(b'{"f": -1e400, "i": ' + b"7" * 5000 + b', "ok": 1.5e-7}')
    assert isinstance(doc, dict)
    assert isinstance(doc["f"], WideNumber) and isinstance(doc["i"], WideNumber)
    assert text(doc["f"]) == "-1e400" and text(doc["i"]) == "7" * 5000 and doc["ok"] == 1.5e-7
    assert text(doc) == '{"f":-1e400,"i":' + "7" * 5000 + ',"ok":1.5e-07}'


# --- load_json: the per-record parser ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path", "expected"),
    [
        (b'{"n": 18446744073709551616}', "n", "18446744073709551616"),
        (b'{"n": -9223372036854775809}', "n", "-9223372036854775809"),
        (b'{"n": {"m": [12345678901234567890123]}}', "n", '{"m":[12345678901234567890123]}'),
        (b'{"ua": "curl/8 \\udc80"}', "ua", "curl/8 \\udc80"),
        (b'{"ua": {"v": "\\uDC80\\u00e9"}}', "ua", '{"v":"\\\\uDC80\xe9"}'),
        (b'{"ua": "\\udc80", "n": 18446744073709551616}', "ua", "\\udc80"),
    ],
)
def test_load_json_reads_valid_json_simdjson_refuses(raw: bytes, path: str, expected: str) -> None:
    assert fields.get_text(load_json(raw), path) == expected


def test_load_json_still_names_what_is_wrong_with_invalid_json() -> None:
    with pytest.raises(RecordError, match="invalid JSON"):
        load_json(b'{"n": NaN, "big": 18446744073709551616}')
    with pytest.raises(RecordError, match=r"^truncated JSON"):
        load_json(b'{"ua": "\\udc80", "a": [1, 2')


# --- the per-record path -------------------------------------------------------------------------


def rows_by_uid(results: Sequence[Row | Any]) -> dict[str, Row]:
    assert [r for r in results if not isinstance(r, dict)] == []
    return {row["event_uid"]: row for row in results}


def test_each_value_lands_a_row_on_the_per_record_path() -> None:
    raws = records()
    frames = [Frame(raw, f"f:{i}") for i, raw in enumerate(raws)]
    rows = rows_by_uid(list(normalize_frames(cloudtrail.SPEC, frames)))
    assert rows["big"]["requestParameters"] == '{"maxItems":18446744073709551616}'
    assert rows["neg"]["requestParameters"] == '{"n":-9223372036854775809}'
    assert rows["sur"]["user_agent"] == rows["sur"]["userAgent"] == "curl/8 \\udc80"
    assert [rows[uid]["raw"].encode() for uid in ("plain", "big", "neg", "sur")] == raws  # verbatim
    assert {row["action"] for row in rows.values()} == {"CreateUser"}
    assert rows["big"]["actor_id"] == "arn:aws:iam::111122223333:user/alice"


def test_a_record_too_deep_to_write_back_is_a_rejection_not_a_crash() -> None:
    def deep(frame: Frame) -> Row:
        raise RecursionError("maximum recursion depth exceeded")

    spec = SourceSpec(name="t", raw_format="json", frames=lambda path: iter(()), normalize=deep)
    [result] = normalize_frames(spec, [Frame(b"{}", "f:1")])
    assert isinstance(result, Rejected) and "RecursionError" in result.reason


def json_fixture_frames() -> list[tuple[SourceSpec, list[Frame]]]:
    """The JSON fixtures of `tests/sources/data`, framed by their sources (the generic one's
    by its example mapping)."""
    found = []
    for folder in ("cloudtrail", "okta", "github", "gcp", "k8s", "gateway", "windows", "generic"):
        for path in sorted((DATA / folder).iterdir()):
            if path.suffix in (".json", ".jsonl"):
                spec = (
                    load_mapping(DATA / "generic" / "example.toml")
                    if folder == "generic"
                    else registry.detect_path(path)
                )
                found.append((spec, [f for f in spec.frames(path) if f.error is None]))
    return found


def test_every_source_reads_a_record_from_pythons_decoder_as_from_simdjson(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The normalizers get plain dicts and lists for a record simdjson refuses: on every fixture
    record, they must make of those what they make of simdjson's document."""
    fixtures = json_fixture_frames()
    names = {spec.name for spec, _ in fixtures}
    assert names >= {"aws.cloudtrail", "okta.system", "github.audit", "gcp.audit", "k8s.audit"}
    assert names >= {"windows.eventlog", "gateway.teleport"}
    expected = [list(normalize_frames(spec, frames)) for spec, frames in fixtures]

    def refuse(raw: bytes) -> Any:
        raise ValueError("refused, as simdjson refuses a number beyond 64 bits")

    monkeypatch.setattr(fields, "_parse", refuse)
    got = [list(normalize_frames(spec, frames)) for spec, frames in fixtures]
    rows = [[r for r in results if isinstance(r, dict)] for results in got]
    assert rows == [[r for r in results if isinstance(r, dict)] for results in expected]
    assert sum(map(len, rows)) > 40


# --- batch paths decline, the per-record path reads --------------------------------------------


def test_the_batch_path_declines_them_and_the_per_record_path_reads_them() -> None:
    assert cloudtrail.SPEC.batch is not None
    frames = [Frame(raw, f"f:{i}") for i, raw in enumerate(records() * 3)]
    declined = cloudtrail.SPEC.batch(frames).declined
    assert declined == [i for i, f in enumerate(frames) if f.raw not in records()[:1]]
    assert_run_batch_equals_per_record(cloudtrail.SPEC, frames)


# --- ingest and detection ------------------------------------------------------------------------


def spying(spec: SourceSpec, declined: list[bytes]) -> SourceSpec:
    """`spec` whose batch path notes the records it declines."""
    batch = spec.batch
    assert batch is not None

    def noted(frames: Sequence[Frame]) -> BatchResult:
        result = batch(frames)
        declined.extend(frames[i].raw for i in result.declined)
        return result

    return dataclasses.replace(spec, batch=noted)


def test_ingest_lands_every_record_and_a_second_ingest_adds_none(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    path.write_bytes(b"\n".join(records()) + b"\n")
    lake = LakePaths.at(tmp_path / "lake")
    declined: list[bytes] = []
    spec = spying(cloudtrail.SPEC, declined)

    first = ingest([path], lake, source=spec, workers=1)
    assert (first.records, first.added, dict(first.quarantined)) == (4, 4, {})
    assert sorted(declined) == sorted(records()[1:])
    second = ingest([path], lake, workers=1)
    assert (second.added, second.duplicates["aws.cloudtrail"]) == (0, 4)
    assert scan_quarantine(lake).collect().height == 0
    columns = ("event_uid", "user_agent", "requestParameters", "raw")
    stored = scan_events(lake).select(columns).sort("event_uid").collect()
    assert stored.rows() == [
        ("big", None, '{"maxItems":18446744073709551616}', records()[1].decode()),
        ("neg", None, '{"n":-9223372036854775809}', records()[2].decode()),
        ("plain", "aws-cli/2", None, records()[0].decode()),
        ("sur", "curl/8 \\udc80", None, records()[3].decode()),
    ]


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_file_whose_first_records_all_hold_one_is_recognised(tmp_path: Path, name: str) -> None:
    path = tmp_path / "trail.jsonl"
    path.write_bytes(b"".join(trail(f"{name}-{i}", VALUES[name]) + b"\n" for i in range(7)))
    assert registry.detect_path(path) is cloudtrail.SPEC
    summary = ingest([path], LakePaths.at(tmp_path / "lake"), workers=1)
    assert (summary.added, summary.errors) == (7, [])
    assert scan_events(LakePaths.at(tmp_path / "lake")).select(pl.len()).collect().item() == 7
