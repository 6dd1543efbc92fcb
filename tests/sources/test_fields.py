"""Tests for `auditlake.sources.fields`: reading untrusted JSON records into plain values.

A simdjson document lives until the next parse, so each test parses once and reads what it
needs from that document before any other parse.
"""

from __future__ import annotations

from typing import Any

import pytest

from auditlake.errors import RecordError
from auditlake.sources.fields import (
    flatten_all,
    flatten_paths,
    get,
    get_str_list,
    get_text,
    json_kind,
    load_json,
    load_json_object,
    require,
    require_str,
    scalar_text,
    text,
)

DOC = (
    b'{"user": {"name": "alice", "id": 42, "admin": false, "mfa": true, "score": 1.5,'
    b' "manager": null, "groups": ["dev", "ops"], "home": {"city": "Zo\xc3\xab"}},'
    b' "roles": ["a", 7, null, {"k": "v"}], "role": "solo", "empty": {}, "none": []}'
)


def test_get_walks_dotted_paths() -> None:
    doc = load_json(DOC)

    assert get(doc, "user.name") == "alice"
    assert get(doc, "user.id") == 42
    assert get(doc, "user.admin") is False
    assert get(doc, "user.score") == 1.5
    assert get(doc, "user.groups") == ["dev", "ops"]  # arrays come back as plain lists
    assert get(doc, "user.home.city") == "Zoë"


@pytest.mark.parametrize(
    "path", ["nope", "user.nope", "user.manager", "user.name.first", "roles.0", "user.groups.dev"]
)
def test_get_is_none_when_a_step_is_missing_null_or_not_an_object(path: str) -> None:
    doc = load_json(DOC)

    assert get(doc, path) is None
    assert get_text(doc, path) is None


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("user.name", "alice"),
        ("user.id", "42"),
        ("user.admin", "false"),
        ("user.mfa", "true"),
        ("user.score", "1.5"),
        ("user.groups", '["dev","ops"]'),
        ("user.home", '{"city":"Zoë"}'),
        ("roles", '["a",7,null,{"k":"v"}]'),
        ("empty", "{}"),
        ("none", "[]"),
    ],
)
def test_get_text_spells_values_as_json_text(path: str, expected: str) -> None:
    doc = load_json(DOC)

    assert get_text(doc, path) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", ""),
        ("x", "x"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-7, "-7"),
        (2.0, "2.0"),
        (0.1, "0.1"),
        (18446744073709551615, "18446744073709551615"),
        ({"a": [1, None]}, '{"a":[1,null]}'),
        ([1, "é", False], '[1,"é",false]'),
    ],
)
def test_text_of_plain_values(value: Any, expected: str | None) -> None:
    assert text(value) == expected


def test_get_str_list() -> None:
    doc = load_json(DOC)

    assert get_str_list(doc, "user.groups") == ["dev", "ops"]
    assert get_str_list(doc, "roles") == ["a", "7", '{"k":"v"}']  # null items dropped
    assert get_str_list(doc, "role") == ["solo"]  # a scalar is a one-item list
    assert get_str_list(doc, "user.id") == ["42"]
    assert get_str_list(doc, "none") == []
    assert get_str_list(doc, "user.manager") is None
    assert get_str_list(doc, "missing") is None


def test_flatten_paths_leaves_absent_paths_out() -> None:
    doc = load_json(DOC)

    assert flatten_paths(doc, ["user.name", "user.manager", "nope", "user.home", "user.mfa"]) == {
        "user.name": "alice",
        "user.home": '{"city":"Zoë"}',
        "user.mfa": "true",
    }


def test_flatten_all_makes_dotted_text_columns() -> None:
    doc = load_json(DOC)

    assert flatten_all(doc) == {
        "user.name": "alice",
        "user.id": "42",
        "user.admin": "false",
        "user.mfa": "true",
        "user.score": "1.5",
        "user.groups": '["dev","ops"]',
        "user.home.city": "Zoë",
        "roles": '["a",7,null,{"k":"v"}]',
        "role": "solo",
        "none": "[]",
    }  # null leaves and empty objects have no columns


def test_flatten_all_on_plain_dicts_with_prefix() -> None:
    assert flatten_all({"a": {"b": 1}, "c": None}, "ext.") == {"ext.a.b": "1"}


def test_flatten_all_stops_at_max_depth_with_json_text() -> None:
    record = {"a": {"b": {"c": {"d": 1}}}, "top": "t"}

    assert flatten_all(record, max_depth=1) == {"a.b": '{"c":{"d":1}}', "top": "t"}
    assert flatten_all(record, max_depth=0) == {"a": '{"b":{"c":{"d":1}}}', "top": "t"}


def test_flatten_all_aliases_keys_with_spaces() -> None:
    doc = load_json(b'{"Threat Name": "EICAR", "Scan Info": {"Engine Version": "1.2"}}')

    assert flatten_all(doc) == {
        "Threat Name": "EICAR",
        "ThreatName": "EICAR",
        "Scan Info.Engine Version": "1.2",
        "ScanInfo.EngineVersion": "1.2",
    }


@pytest.mark.parametrize(
    "record",
    [
        {"Threat Name": "spaced", "ThreatName": "real"},
        {"ThreatName": "real", "Threat Name": "spaced"},
    ],
    ids=["alias-first", "real-first"],
)
def test_a_real_key_wins_over_a_space_alias(record: dict[str, str]) -> None:
    assert flatten_all(record) == {"Threat Name": "spaced", "ThreatName": "real"}


def test_flatten_all_never_shadows_canonical_columns() -> None:
    record = {"time": "t", "action": "a", "ti me": "x", "raw": "r", "host": {"name": "h"}, "kept": "k"}

    flat = flatten_all(record)

    assert flat == {"ti me": "x", "host.name": "h", "kept": "k"}  # no "time" alias for "ti me"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a": {"b": 1}', "truncated JSON"),
        (b'{"a": [1, 2', "truncated JSON"),
        (b'{"a": "\xff"}', "invalid UTF-8 at byte 7"),
        (b'{"ok": "caf\xc3\xa9", "bad": "\xc3("}', "invalid UTF-8 at byte 24"),
        (b'{"a" 1}', "invalid JSON"),
        (b'{"a": 1} trailing', "invalid JSON"),
        (b'{"a": 1}}', "invalid JSON"),
        (b"", "invalid JSON"),
        (b"not json", "invalid JSON"),
        (b'{"n": 123456789012345678901234567890}', "invalid JSON: integer does not fit in 64 bits"),
    ],
)
def test_load_json_names_the_problem(raw: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        load_json(raw)

    assert info.value.message.startswith(reason)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [(b"[1, 2]", "an array"), (b"3", "a number"), (b'"s"', "a string"), (b"true", "a boolean"),
     (b"null", "null")],
)
def test_load_json_object_rejects_non_objects(raw: bytes, kind: str) -> None:
    with pytest.raises(RecordError) as info:
        load_json_object(raw)

    assert info.value.message == f"record is {kind}, not a JSON object"


def test_load_json_object_accepts_an_object() -> None:
    doc = load_json_object(b' {"a": 1} ')

    assert get(doc, "a") == 1


def test_documents_parsed_one_after_another() -> None:
    raws = [b'{"n": 1}', b'{"n": "two"}', b"[3]", b'{"n": {"deep": 3}}']

    assert [get_text(load_json(raw), "n") for raw in raws] == ["1", "two", None, '{"deep":3}']


def test_a_document_still_referenced_does_not_break_the_next_parse() -> None:
    kept = load_json(b'{"a": {"b": [1]}}')  # e.g. held by a traceback kept for a report

    second = load_json(b'{"c": 2}')

    assert get_text(second, "c") == "2"
    assert get_text(kept, "a") == '{"b":[1]}'


@pytest.mark.parametrize("value", [None, ""])
def test_require_refuses_missing(value: Any) -> None:
    with pytest.raises(RecordError, match="missing eventName"):
        require(value, "eventName")


@pytest.mark.parametrize("value", [0, False, "x", [], "0"])
def test_require_passes_present_values(value: Any) -> None:
    assert require(value, "eventName") is value


@pytest.mark.parametrize(
    ("value", "kind"),
    [([1], "an array"), ({}, "an object"), (True, "a boolean"), (0, "a number"), (1.5, "a number"),
     ("x", "a string"), (None, "null")],
)
def test_json_kind(value: Any, kind: str) -> None:
    assert json_kind(value) == kind


def test_require_str() -> None:
    doc = load_json(DOC)

    assert require_str(doc, "user.name") == "alice"
    with pytest.raises(RecordError, match=r"^missing user\.manager$"):
        require_str(doc, "user.manager")
    with pytest.raises(RecordError, match=r"^user\.id is a number, expected a string$"):
        require_str(doc, "user.id")


def test_scalar_text_refuses_objects_and_arrays() -> None:
    doc = load_json(DOC)

    assert scalar_text(doc, "user.id") == "42"
    assert scalar_text(doc, "user.manager") is None
    with pytest.raises(RecordError, match=r"^user\.home is an object, expected a string$"):
        scalar_text(doc, "user.home")
    with pytest.raises(RecordError, match=r"^user\.groups is an array, expected a string$"):
        scalar_text(doc, "user.groups")
