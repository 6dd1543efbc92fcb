"""Tests for `auditlake.sources.fields`: reading untrusted JSON records into plain values.

A simdjson document lives until the next parse, so each test parses once and reads what it
needs from that document before any other parse.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import simdjson
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlake.errors import RecordError
from auditlake.sources.fields import (
    SCANNED_KEYS,
    JsonObject,
    flatten_all,
    flatten_paths,
    get,
    get_str_list,
    get_text,
    json_kind,
    load_json,
    load_json_object,
    member,
    object_view,
    path_views,
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
        (b'{"n": NaN, "m": 123456789012345678901234567890}', "invalid JSON"),
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


# The readers look keys up without asking simdjson for missing ones (`member`) and walk many
# paths as one tree (`flatten_paths`); these tests hold them to the plain walk, one path at a
# time with simdjson's own `get`, on objects small and large, with repeated and missing keys.

_KEYS = st.sampled_from(["a", "b", "c", "d"]) | st.builds(lambda n: f"k{n}", st.integers(0, SCANNED_KEYS + 4))
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4)


def _object_text(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


def _objects(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Objects of a few keys, or of about `SCANNED_KEYS`, on both sides of the limit."""
    pairs = st.tuples(_KEYS, values)
    few = st.lists(pairs, max_size=4)
    many = st.lists(pairs, min_size=SCANNED_KEYS - 1, max_size=SCANNED_KEYS + 4)
    return (few | many).map(_object_text)


_JSON_TEXT = st.recursive(
    _SCALARS.map(json.dumps),
    lambda inner: st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]") | _objects(inner),
    max_leaves=40,
)
_DOCUMENT = _objects(_JSON_TEXT)
_PATHS = st.lists(st.lists(_KEYS, min_size=1, max_size=3).map(".".join), max_size=12, unique=True)


def _plain_get(doc: Any, path: str) -> Any:
    value = doc
    for key in path.split("."):
        if not isinstance(value, JsonObject):
            return None
        value = value.get(key)
        if value is None:
            return None
    return value


@settings(max_examples=150, deadline=None)
@given(document=_DOCUMENT, paths=_PATHS)
def test_readers_equal_the_plain_walk(document: str, paths: list[str]) -> None:
    doc = simdjson.Parser().parse(document.encode())
    expected = {p: text(_plain_get(doc, p)) for p in paths}
    present = {p: v for p, v in expected.items() if v is not None}

    flattened = flatten_paths(doc, paths)
    assert flattened == present
    assert list(flattened) == list(present)  # in the order of `paths`
    assert flatten_paths(object_view(doc), paths) == present
    views = path_views(doc, paths)
    assert flatten_paths(views, paths) == present
    for path in paths:
        assert get_text(doc, path) == expected[path]
        assert get_text(object_view(doc), path) == expected[path]
        assert get_text(views, path) == expected[path]
        plain, read = _plain_get(doc, path), get(doc, path)
        if isinstance(plain, simdjson.Array):
            assert read == plain.as_list()
        else:
            assert text(read) == text(plain)


def test_member_reads_the_first_of_repeated_keys_and_nothing_from_non_objects() -> None:
    doc = load_json(b'{"a": 1, "b": {"c": 2}, "a": 3, "l": [1]}')

    assert member(doc, "a") == 1
    assert member(doc, "zz") is None
    assert member(doc["l"], "a") is None
    assert member("text", "a") is None
    assert object_view(doc)["a"] == 1
    assert text(object_view(doc)["b"]) == '{"c":2}'


@pytest.mark.parametrize("size", [SCANNED_KEYS - 1, SCANNED_KEYS, SCANNED_KEYS + 1, 3 * SCANNED_KEYS])
def test_member_on_objects_around_the_scanned_size(size: int) -> None:
    keys = [f"k{n}" for n in range(size)]
    doc = load_json(json.dumps({"o": {key: n for n, key in enumerate(keys)}}).encode())
    inner = doc["o"]

    assert [member(inner, key) for key in keys] == list(range(size))
    assert member(inner, "missing") is None
    assert get(doc, f"o.{keys[-1]}") == size - 1
    assert flatten_paths(doc, [f"o.{keys[-1]}", "o.missing", f"o.{keys[0]}"]) == {
        f"o.{keys[-1]}": str(size - 1), f"o.{keys[0]}": "0"
    }
