"""Tests for `auditlake.sources.json_paths`: dotted paths read as text, as `fields.text` would."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import simdjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake.sources.fields import get_text
from auditlake.sources.json_paths import read_paths

PATHS = ["a", "b.c", "b.d.e"]


def _records(raws: list[str]) -> pa.Array:
    return pa.array(raws, pa.large_string())


def _per_record(raw: str) -> tuple[str | None, ...]:
    doc = simdjson.Parser().parse(raw.encode())
    return tuple(get_text(doc, path) for path in PATHS)


def test_values_read_as_text_as_the_per_record_path_reads_them() -> None:
    raws = [
        '{"a": "x", "b": {"c": 12, "d": {"e": true}}}',
        '{"a": {"k": [1, null, false, "s"], "k": {"z": {}}}, "b": {"c": []}}',
        '{"a": "first", "a": "second", "b": "not an object"}',
        '{"a": "tab\\tquote\\" nul\\u0000 \\u00e9 \\ud83d\\ude00", "b": {"d": [{"e": 1}]}}',
        '{"a": {"s": "\\\\ \\/ \\b\\f\\n\\r\\t \\u0001"}, "b": {"c": 18446744073709551615}}',
        '{"\\u0061": "escaped key", "b": {"c": -9223372036854775808}}',
        "{}",
    ]
    frame, refused = read_paths(_records(raws), PATHS)
    assert refused == []
    assert frame.columns == PATHS
    assert frame.rows() == [_per_record(raw) for raw in raws]


def test_records_duckdb_refuses_read_as_nulls_and_are_reported() -> None:
    raws = ['{"a": "x"}', '{"a": ', '{"a": "y"}', "{} trailing", '{"a": "z"}']
    frame, refused = read_paths(_records(raws), PATHS)
    assert refused == [1, 3]
    assert frame["a"].to_list() == ["x", None, "y", None, "z"]


def test_no_records_give_an_empty_frame_of_text_columns() -> None:
    frame, refused = read_paths(_records([]), PATHS)
    assert (frame.height, frame.columns, refused) == (0, PATHS, [])


def test_a_path_under_another_is_refused() -> None:
    with pytest.raises(ValueError, match="under"):
        read_paths(_records(["{}"]), ["a", "a.b"])


_SPELLED_APART = tuple(f"\\u{code:04x}" for code in (0x0B, 0x0E, 0x0F, *range(0x1A, 0x20)))
"""The escapes DuckDB writes with capital letters (`json_paths`)."""

_scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(-(2**63), 2**64 - 1),
)
_keys = st.sampled_from(["a", "b", "c", "d", "e", "é", ""])
_values = st.recursive(
    _scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_keys, _values, max_size=4), min_size=1, max_size=8), st.booleans())
def test_generated_records_without_floats_read_as_the_per_record_path_reads_them(
    docs: list[dict[str, object]], ascii_only: bool
) -> None:
    """Without floats and escaped control characters, DuckDB's text equals simdjson's."""
    raws = [json.dumps(doc, ensure_ascii=ascii_only) for doc in docs]
    raws = [raw for raw in raws if not any(escape in raw for escape in _SPELLED_APART)]
    frame, refused = read_paths(_records(raws), PATHS)
    assert refused == []
    assert frame.rows() == [_per_record(raw) for raw in raws]
