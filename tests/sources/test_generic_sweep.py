"""Generic JSON mappings as an application's owner writes them: names, hints, and the values
an in-house audit log really holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.generic import MappingError, load_mapping, mapping_from_dict
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

TS = "2024-03-01T10:00:00Z"


def mapping(**fields: str) -> dict[str, Any]:
    return {"name": "myapp.audit", "fields": {"time": "ts", **fields}}


def one(spec: SourceSpec, record: dict[str, Any] | bytes) -> Row | Rejected:
    raw = record if isinstance(record, bytes) else json.dumps(record).encode()
    [result] = normalize_frames(spec, [Frame(raw, "app.jsonl:1")])
    return result


def row_of(spec: SourceSpec, record: dict[str, Any] | bytes) -> Row:
    result = one(spec, record)
    assert isinstance(result, dict), result
    return result


def mapping_error(data: dict[str, Any]) -> MappingError:
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(data, where="app.toml")
    return caught.value


# --- the source name ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("aws.cloudtrail", "aws.cloudtrail"),
        ("okta", "okta.system"),
        ("cloudtrail", "aws.cloudtrail"),
        ("linux.auditd", "linux.auditd"),
    ],
)
def test_a_builtin_source_name_or_alias_is_refused(name: str, builtin: str) -> None:
    # the app's rows would land in the built-in source's partition and meet its rules
    error = mapping_error({**mapping(), "name": name})
    assert f"is the built-in source {builtin!r}" in error.message
    assert error.hint is not None and "myapp.audit" in error.hint


def test_a_builtin_name_in_a_mapping_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text('name = "okta"\n[fields]\ntime = "ts"\n')
    with pytest.raises(MappingError, match=r"built-in source 'okta\.system'") as caught:
        load_mapping(path)
    assert caught.value.where == str(path)


# --- hints for a mistyped column ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "meant"),
    [
        ("ACTOR_ID", "actor_id"),
        ("Src-IP", "src_ip"),
        ("username", "actor_name"),
        ("user", "actor_name"),
        ("mfa", "auth_mfa"),
        ("ip", "src_ip"),
        ("timestamp", "time"),
        ("actr_id", "actor_id"),
    ],
)
def test_an_unknown_column_hints_the_one_meant(column: str, meant: str) -> None:
    error = mapping_error(mapping(**{column: "x"}))
    assert f"unknown column {column!r}" in error.message
    assert error.hint == f"did you mean {meant!r}?"


def test_an_unknown_column_with_nothing_close_lists_the_columns() -> None:
    error = mapping_error(mapping(zzzzzz="x"))
    assert error.hint is not None
    assert "actor_id" in error.hint and "src_ip" in error.hint
    assert "event_hash" not in error.hint  # set by the lake, not mappable


# --- outcome values ----------------------------------------------------------------------------


def test_numeric_outcome_codes_from_toml_match_numbers_in_the_data(tmp_path: Path) -> None:
    path = tmp_path / "app.toml"
    path.write_text(
        'name = "myapp.audit"\n[fields]\ntime = "ts"\noutcome = "status"\n'
        '[outcome_values]\n200 = "success"\n403 = "failure"\n'
    )
    spec = load_mapping(path)
    outcomes = [row_of(spec, {"ts": TS, "status": s})["outcome"] for s in (200, "403", 500)]
    assert outcomes == ["success", "failure", "unknown"]


def test_non_text_outcome_keys_of_a_python_mapping_match_as_text() -> None:
    spec = mapping_from_dict(
        {**mapping(outcome="r"), "outcome_values": {403: "failure", True: "success"}}
    )
    assert row_of(spec, {"ts": TS, "r": 403})["outcome"] == "failure"
    assert row_of(spec, {"ts": TS, "r": True})["outcome"] == "success"


def test_outcome_values_without_an_outcome_field_are_refused() -> None:
    error = mapping_error({**mapping(), "outcome_values": {"ok": "success"}})
    assert "[fields] maps no outcome" in error.message
    assert error.hint is not None and "outcome =" in error.hint


# --- values of each column kind ----------------------------------------------------------------


def test_src_ip_that_is_not_an_address_is_a_host() -> None:
    spec = mapping_from_dict(mapping(src_ip="client"))
    hosts = {
        c: (row["src_ip"], row.get("src_host"))
        for c in ("10.0.0.1", "2001:db8::1", "localhost", "AWS Internal", "")
        for row in [row_of(spec, {"ts": TS, "client": c})]
    }
    assert hosts == {
        "10.0.0.1": ("10.0.0.1", None),
        "2001:db8::1": ("2001:db8::1", None),
        "localhost": (None, "localhost"),
        "AWS Internal": (None, "AWS Internal"),
        "": (None, None),
    }


def test_a_mapped_src_host_wins_over_a_name_in_src_ip() -> None:
    spec = mapping_from_dict(mapping(src_ip="client", src_host="host_name"))
    row = row_of(spec, {"ts": TS, "client": "gateway", "host_name": "web-1"})
    assert (row["src_ip"], row["src_host"]) == (None, "web-1")
    row = row_of(spec, {"ts": TS, "client": "gateway"})
    assert (row["src_ip"], row["src_host"]) == (None, "gateway")


@pytest.mark.parametrize(
    ("column", "kind"),
    [("source_logged_at", "time"), ("class_uid", "integer"), ("auth_mfa", "boolean")],
)
@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_string_in_a_typed_column_is_absent(column: str, kind: str, empty: str) -> None:
    row = row_of(mapping_from_dict(mapping(**{column: "v"})), {"ts": TS, "v": empty})
    assert row[column] is None, kind
    rows_to_table([row])


def test_an_empty_required_time_still_rejects_the_record() -> None:
    result = one(mapping_from_dict(mapping()), {"ts": ""})
    assert isinstance(result, Rejected)
    assert result.reason == "missing time field 'ts'"


def test_integers_are_ascii_digits() -> None:
    spec = mapping_from_dict(mapping(class_uid="c"))
    assert row_of(spec, {"ts": TS, "c": " 6003 "})["class_uid"] == 6003
    result = one(spec, {"ts": TS, "c": "٣"})  # ARABIC-INDIC DIGIT THREE
    assert isinstance(result, Rejected)
    assert result.reason == "class_uid field 'c' is '٣', expected an integer"


def test_booleans_may_be_padded() -> None:
    spec = mapping_from_dict(mapping(auth_mfa="m"))
    assert row_of(spec, {"ts": TS, "m": " TRUE "})["auth_mfa"] is True


def test_an_object_in_a_list_column_rejects_the_record() -> None:
    spec = mapping_from_dict(mapping(actor_roles="who"))
    result = one(spec, {"ts": TS, "who": {"groups": ["a"]}})
    assert isinstance(result, Rejected)
    assert result.reason == "actor_roles field 'who' is an object, expected an array or a single value"
    assert row_of(spec, {"ts": TS, "who": [["a", "b"], "c"]})["actor_roles"] == ['["a","b"]', "c"]


def test_a_time_object_is_named_alike_whichever_parser_read_the_record() -> None:
    # a number beyond 64 bits sends the record to the fallback parser (plain dicts)
    spec = mapping_from_dict(mapping(source_logged_at="r"))
    reasons = {
        result.reason
        for raw in (b'{"ts": 1, "r": {"s": 1}}', b'{"ts": 1, "r": {"s": 1}, "n": 18446744073709551616}')
        for result in [one(spec, raw)]
        if isinstance(result, Rejected)
    }
    assert reasons == {"source_logged_at field 'r' is an object, expected a time"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:00:00+02:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("2024-03-01T10:00:00", datetime(2024, 3, 1, 10, tzinfo=UTC)),  # naive: UTC
        (1709287200.5, datetime(2024, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("1709287200", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        (1709287200250.0, datetime(2024, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_time_spellings_an_application_writes(value: Any, expected: datetime) -> None:
    assert row_of(mapping_from_dict(mapping()), {"ts": value})["time"] == expected
