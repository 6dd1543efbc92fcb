"""Tests for `auditlake.sources.registry`: the source table, lookup and content detection."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from auditlake.errors import UnknownSourceError
from auditlake.sources import cloudtrail, registry
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.registry import SAFE_NAME, _registry, detect_path, lookup, names

DATA = Path(__file__).parent / "data" / "cloudtrail"
CLOUDTRAIL_EVENT = {
    "eventVersion": "1.08",
    "eventTime": "2024-05-01T09:15:00Z",
    "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject",
}
UNKNOWN_EVENT = {"foo": 1, "bar": {"baz": "qux"}}


def _spec(name: str, *aliases: str) -> SourceSpec:
    def frames(path: Path) -> Iterator[Frame]:
        return iter(())

    def normalize(frame: Frame) -> Row:
        return {}

    return SourceSpec(name=name, raw_format="json", frames=frames, normalize=normalize, aliases=aliases)


# --- lookup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aws.cloudtrail", "cloudtrail", "aws"])
def test_lookup_by_name_and_alias(name: str) -> None:
    assert lookup(name) is cloudtrail.SPEC


def test_every_registered_name_and_alias_looks_up_its_spec() -> None:
    assert "aws.cloudtrail" in names()
    assert len(names()) == len(set(names()))
    for spec in registry.SOURCES:
        assert SAFE_NAME.fullmatch(spec.name), spec.name
        for key in (spec.name, *spec.aliases):
            assert lookup(key) is spec, key


@pytest.mark.parametrize("name", ["cloud-trail", "AWS", "", "auto", "../aws.cloudtrail"])
def test_unknown_name_lists_the_known_ones(name: str) -> None:
    with pytest.raises(UnknownSourceError) as info:
        lookup(name)

    assert info.value.message == f"unknown source {name!r}"
    hint = info.value.hint or ""
    assert "aws.cloudtrail" in hint and "cloudtrail" in hint and "'auto'" in hint
    assert all(n in hint for n in names())


# --- detection --------------------------------------------------------------------------------


def test_detect_path_picks_cloudtrail_for_a_gzip_records_file(tmp_path: Path) -> None:
    path = tmp_path / "delivery.bin"  # the name says nothing; the content does
    path.write_bytes(gzip.compress((DATA / "records.json").read_bytes()))

    assert detect_path(path) is cloudtrail.SPEC


@pytest.mark.parametrize("name", ["records.json", "array.json", "events.jsonl"])
def test_detect_path_on_each_cloudtrail_framing(name: str) -> None:
    assert detect_path(DATA / name) is cloudtrail.SPEC


def test_detect_path_looks_past_unrecognised_and_broken_records(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(UNKNOWN_EVENT), '{"cut": ', "[1, 2]", json.dumps(CLOUDTRAIL_EVENT)]
    path.write_text("\n".join(lines) + "\n")

    assert detect_path(path) is cloudtrail.SPEC


def test_detect_path_only_samples_the_first_records(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    lines = [json.dumps(UNKNOWN_EVENT)] * 3 + [json.dumps(CLOUDTRAIL_EVENT)]
    path.write_text("\n".join(lines) + "\n")

    assert detect_path(path, sample=4) is cloudtrail.SPEC
    with pytest.raises(UnknownSourceError):
        detect_path(path, sample=3)


@pytest.mark.parametrize(
    "content",
    [json.dumps(UNKNOWN_EVENT).encode(), json.dumps([UNKNOWN_EVENT] * 3).encode(), b"[]", b"[1, 2, 3]"],
    ids=["object", "array", "empty-array", "scalars"],
)
def test_detect_path_refuses_an_unrecognised_file_with_a_hint(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "mystery.json"
    path.write_bytes(content)

    with pytest.raises(UnknownSourceError) as info:
        detect_path(path)

    assert info.value.where == str(path)
    assert info.value.hint and "--source" in info.value.hint
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("content", "said"), [
    (b'{"ts": 1, "who": "x", "what": "y"}\n', "whose first record's keys are ts, who, what"),
    (json.dumps({f"k{n}": n for n in range(12)}).encode(), "keys are k0, k1, k2, k3, k4, k5, k6, k7, and 4 more"),
    (b"hello world\nline two\n", "which starts with b'hello world'"),
    (b"[]", "which starts with b'[]'"),
])
def test_an_unrecognised_input_says_what_it_starts_with(tmp_path: Path, content: bytes, said: str) -> None:
    path = tmp_path / "mystery.log"
    path.write_bytes(content)
    with pytest.raises(UnknownSourceError, match="no registered source recognises this input, ") as info:
        detect_path(path)
    assert said in str(info.value)


# --- the table itself -------------------------------------------------------------------------


def test_registry_indexes_names_and_aliases() -> None:
    a, b = _spec("a.one", "one", "uno"), _spec("b.two")

    table = _registry([a, b])

    assert table == {"a.one": a, "one": a, "uno": a, "b.two": b}


@pytest.mark.parametrize(
    "specs",
    [
        [_spec("a.one", "x"), _spec("b.two", "x")],
        [_spec("a.one"), _spec("b.two", "a.one")],
        [_spec("a.one"), _spec("a.one")],
        [_spec("a.one", "a.one")],
    ],
    ids=["alias-alias", "alias-name", "name-name", "own-alias"],
)
def test_registry_refuses_duplicates(specs: list[SourceSpec]) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        _registry(specs)


@pytest.mark.parametrize(
    "name", ["../x", "a..b", "..", "a/b", "", ".hidden", "-dash", "Upper", "a b", "x" * 65, "ok\n"]
)
def test_registry_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a safe directory name"):
        _registry([_spec(name)])


@pytest.mark.parametrize("name", ["a", "aws.cloudtrail", "k8s-audit_v2", "x" * 64])
def test_registry_accepts_safe_names(name: str) -> None:
    assert name in _registry([_spec(name)])
