"""Generic JSON with a TOML field mapping: the mapping's checks and the records it produces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditlake.errors import AuditlakeError
from auditlake.schema import CANONICAL
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.generic import MappingError, load_mapping, mapping_from_dict
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "generic"
EXAMPLE = DATA / "example.toml"
MINIMAL: dict[str, Any] = {"name": "myapp.audit", "fields": {"time": "ts"}}


def ingest(spec: SourceSpec, path: Path) -> list[Row | Rejected]:
    return list(normalize_frames(spec, spec.frames(path)))


def one(spec: SourceSpec, record: dict[str, Any]) -> Row | Rejected:
    [result] = normalize_frames(spec, [Frame(json.dumps(record).encode(), "t:1")])
    return result


def with_fields(**fields: str) -> SourceSpec:
    return mapping_from_dict({"name": "t.app", "fields": {"time": "ts", **fields}})


# --- the example mapping ---------------------------------------------------------------------


def test_example_mapping_loads() -> None:
    spec = load_mapping(EXAMPLE)
    assert (spec.name, spec.raw_format, spec.aliases) == ("myapp.audit", "json", ())
    assert spec.detect is not None


def test_example_records_map_to_canonical_columns() -> None:
    spec = load_mapping(EXAMPLE)
    first, second, third = ingest(spec, DATA / "events.jsonl")
    assert first["event_uid"] == "evt-1"
    assert first["time"] == datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert first["source_logged_at"] == datetime(2024, 3, 1, 12, 0, 1, tzinfo=UTC)
    assert (first["actor_id"], first["actor_name"]) == ("u-17", "alice")
    assert first["actor_roles"] == ["finance", "approvers"]
    assert first["auth_mfa"] is True
    assert (first["action"], first["src_ip"], first["user_agent"]) == (
        "invoice.approve",
        "198.51.100.8",
        "myapp-web/2.1",
    )
    assert (first["target_type"], first["target_id"]) == ("invoice", "INV-2024-0042")
    assert (first["class_uid"], first["severity_id"]) == (6003, 2)  # "2" is an integer too
    assert first["outcome"] == "success"
    assert {k: first[k] for k in ("op", "who.name", "resource.kind", "result")} == {
        "op": "invoice.approve",
        "who.name": "alice",
        "resource.kind": "invoice",
        "result": "ok",
    }
    assert "client.ip" not in first  # only the listed native paths are kept
    assert first["parser_version"] == "myapp.audit/1"

    assert second["time"] == datetime(2024, 3, 1, 12, 1, tzinfo=UTC)  # epoch milliseconds
    assert second["actor_roles"] == ["admins"]  # one scalar becomes a one-item list
    assert second["auth_mfa"] is False  # "FALSE" is a boolean too
    assert second["outcome"] == "failure"
    assert second.get("source_logged_at") is None

    assert third["actor_id"] == "42"  # a number where text is expected is spelled as JSON
    assert third["outcome"] == "unknown"  # "timeout" is not in [outcome_values]
    assert third["time"] == datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
    table = rows_to_table([first, second, third])
    assert table.column("severity_id").type == CANONICAL["severity_id"].type


def test_detect_requires_every_listed_path() -> None:
    spec = load_mapping(EXAMPLE)
    assert spec.detect is not None
    assert spec.detect({"op": "x", "who": {"id": 1}})
    assert not spec.detect({"op": "x"})
    assert not spec.detect({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"})
    assert mapping_from_dict(MINIMAL).detect is None  # no [detect]: only used when named


def test_without_native_paths_every_leaf_to_depth_three_is_kept() -> None:
    spec = mapping_from_dict(MINIMAL)
    row = one(
        spec,
        {
            "ts": 1709294400,
            "a": {"b": {"c": {"d": {"e": 1}}}},
            "n": None,
            "action": "x",
            "flag": True,
            "list": [1, "two"],
        },
    )
    assert isinstance(row, dict)
    assert row["a.b.c.d"] == '{"e":1}'  # below depth 3 an object stays JSON text
    assert (row["flag"], row["list"]) == ("true", '[1,"two"]')
    assert "n" not in row
    assert "action" not in row  # a canonical name is never a native column (it stays in raw)
    assert row["outcome"] == "unknown"


def test_outcome_values_and_canonical_spellings() -> None:
    spec = mapping_from_dict(
        {
            **MINIMAL,
            "fields": {"time": "ts", "outcome": "r"},
            "outcome_values": {"true": "success", "DENY": "failure"},
        }
    )
    outcomes = [
        one(spec, {"ts": 1709294400, "r": r})["outcome"]
        for r in (True, "DENY", "failure", "deny", None)
    ]
    assert outcomes == ["success", "failure", "failure", "unknown", "unknown"]


# --- per-record errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "record", "reason"),
    [
        ({"class_uid": "c"}, {"c": "abc"}, "class_uid field 'c' is 'abc', expected an integer"),
        ({"class_uid": "c"}, {"c": 3.5}, "class_uid field 'c' is '3.5', expected an integer"),
        ({"class_uid": "c"}, {"c": True}, "class_uid field 'c' is 'true', expected an integer"),
        (
            {"severity_id": "s"},
            {"s": 1000},
            "severity_id field 's' is 1000, outside the 8-bit range of the column",
        ),
        ({"auth_mfa": "m"}, {"m": "yes"}, "auth_mfa field 'm' is 'yes', expected true or false"),
        (
            {"actor_id": "a"},
            {"a": {"id": 1}},
            "actor_id field 'a' is an object, expected a single value",
        ),
        ({"action": "a"}, {"a": ["x"]}, "action field 'a' is an array, expected a single value"),
        ({"source_logged_at": "r"}, {"r": "soon"}, "unparsable source_logged_at field 'r' 'soon'"),
    ],
)
def test_wrong_types_reject_the_record(
    fields: dict[str, str], record: dict[str, Any], reason: str
) -> None:
    result = one(with_fields(**fields), {"ts": "2024-03-01T00:00:00Z", **record})
    assert isinstance(result, Rejected)
    assert result.reason == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({}, "missing time field 'ts'"),
        ({"ts": "not a time"}, "unparsable time field 'ts' 'not a time'"),
        ({"ts": {"seconds": 1}}, "time field 'ts' is an object, expected a time"),
        ({"ts": [1709294400]}, "time field 'ts' is an array, expected a time"),
        ({"ts": 99999999999999999}, "time field 'ts' 99999999999999999 is outside 1970..2200"),
    ],
)
def test_bad_time_rejects_the_record(record: dict[str, Any], reason: str) -> None:
    result = one(mapping_from_dict(MINIMAL), record)
    assert isinstance(result, Rejected)
    assert result.reason == reason


def test_bad_records_in_a_file_do_not_stop_the_others(tmp_path: Path) -> None:
    spec = load_mapping(EXAMPLE)
    good = json.loads((DATA / "events.jsonl").read_text().splitlines()[0])
    lines = [
        json.dumps(good).encode(),
        b'{"id":"cut","ts":"2024-03-01T00:00:00Z","op":"x"',
        json.dumps({**good, "id": "big", "op": "y" * (5 << 20)}).encode(),
        json.dumps({**good, "id": "bad-utf8", "op": "ZZ"}).encode().replace(b"ZZ", b"\xed\xa0\x80"),
        b'"just a string"',
        json.dumps({**good, "id": "wrong-roles", "who": ["not", "an", "object"]}).encode(),
        json.dumps({**good, "id": "last"}).encode(),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    results = ingest(spec, path)
    summary = [r["event_uid"] if isinstance(r, dict) else r.reason for r in results]
    assert summary[0] == "evt-1"
    assert summary[1].startswith("truncated JSON")
    assert summary[2] == "big"
    assert summary[3].startswith("invalid UTF-8")
    assert summary[4] == "record is a string, not a JSON object"
    assert summary[5] == "wrong-roles"  # `who` is not an object: its paths are simply absent
    assert summary[6] == "last"
    assert len(results[2]["op"]) == 5 << 20
    assert results[5].get("actor_id") is None


# --- mapping errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "message", "hint"),
    [
        ({"fields": {"time": "ts"}}, "missing or non-text `name`", "name ="),
        ({**MINIMAL, "name": 7}, "missing or non-text `name`", "name ="),
        ({**MINIMAL, "name": "../etc"}, "not a safe directory name", "no '..'"),
        ({**MINIMAL, "name": "a..b"}, "not a safe directory name", "no '..'"),
        ({**MINIMAL, "name": "MyApp"}, "not a safe directory name", "a-z"),
        ({**MINIMAL, "name": "a" * 65}, "not a safe directory name", "1-64"),
        ({**MINIMAL, "name": "my app"}, "not a safe directory name", "a-z"),
        ({"name": "x"}, "no [fields] time", "time ="),
        ({"name": "x", "fields": {"actor_id": "a"}}, "no [fields] time", "time ="),
        ({"name": "x", "fields": "ts"}, "no [fields] time", "time ="),
        (
            {**MINIMAL, "fields": {"time": "ts", "actr_id": "a"}},
            "unknown column 'actr_id'",
            "did you mean 'actor_id'?",
        ),
        (
            {**MINIMAL, "fields": {"time": "ts", "event_hash": "h"}},
            "'event_hash', which the lake sets",
            "remove event_hash",
        ),
        (
            {**MINIMAL, "fields": {"time": "ts", "raw": "r"}},
            "'raw', which the lake sets",
            "remove raw",
        ),
        ({**MINIMAL, "fields": {"time": 5}}, "[fields] time has path 5", "single dots"),
        ({**MINIMAL, "fields": {"time": "a..b"}}, "not a dotted field path", "single dots"),
        (
            {**MINIMAL, "outcome_values": {"ok": "good"}},
            "'good' is not an outcome",
            "success, failure, unknown",
        ),
        ({**MINIMAL, "outcome_values": ["ok"]}, "[outcome_values] is not a table", "table"),
        ({**MINIMAL, "native": {"paths": "op"}}, "[native] needs paths", "paths ="),
        ({**MINIMAL, "native": {"paths": ["time"]}}, "canonical column name", "[fields]"),
        ({**MINIMAL, "native": {"paths": [""]}}, "not a dotted field path", "dots"),
        ({**MINIMAL, "detect": {"require": []}}, "non-empty require", "require ="),
        ({**MINIMAL, "detect": {"require": [3]}}, "[detect] require has path 3", "single dots"),
        ({**MINIMAL, "fileds": {}}, "unknown top-level key 'fileds'", "name, fields"),
    ],
)
def test_mapping_errors_say_what_to_fix(mapping: dict[str, Any], message: str, hint: str) -> None:
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(mapping, where="app.toml")
    error = caught.value
    assert isinstance(error, AuditlakeError)
    assert message in error.message
    assert error.hint is not None and hint in error.hint
    assert error.where == "app.toml"
    assert str(error).startswith("app.toml: ")


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\n[fields\ntime = "ts"\n')
    with pytest.raises(MappingError, match="not valid TOML") as caught:
        load_mapping(broken)
    assert caught.value.where == str(broken)
    missing = tmp_path / "missing.toml"
    with pytest.raises(MappingError, match="cannot read the mapping") as caught:
        load_mapping(missing)
    assert caught.value.where == str(missing)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(MappingError, match="not UTF-8"):
        load_mapping(latin1)
    bad_name = tmp_path / "bad.toml"
    bad_name.write_text('name = "../../escape"\n[fields]\ntime = "ts"\n')
    with pytest.raises(MappingError, match="safe directory name") as caught:
        load_mapping(bad_name)
    assert caught.value.where == str(bad_name)


def test_every_mappable_column_has_a_converter() -> None:
    fields = {
        c: "x"
        for c in CANONICAL
        if c
        not in {"raw", "event_hash", "raw_format", "parser_version", "source", "dt", "ingested_at"}
    }
    spec = mapping_from_dict({"name": "all.columns", "fields": {**fields, "auth_mfa": "m"}})
    row = one(spec, {"x": 7, "m": True})  # 7 fits every integer column and is an epoch time
    assert isinstance(row, dict)
    assert (row["actor_roles"], row["auth_mfa"], row["ext"], row["outcome"]) == (
        ["7"],
        True,
        "7",
        "unknown",
    )
    rows_to_table([row])
