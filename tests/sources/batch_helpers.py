"""The differential property every batch path is held to.

For any chunk of frames, the batch table equals `rows_to_table` of the per-record rows of the
frames it kept (same columns, types, order and values, byte for byte), every kept frame is one
the per-record path accepts, and so the batch table plus the per-record results of the
declined frames are exactly the per-record results of the whole chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.chunking import LineChunk
from auditlake.sources.ndjson_batch import run_batch
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table
from auditlake.synth.generate import generate


def frames_of(raws: Sequence[bytes]) -> list[Frame]:
    return [Frame(raw, f"t:{i}") for i, raw in enumerate(raws)]


def outcomes(items: Sequence[Row | Rejected | Skipped]) -> list[tuple[str, ...]]:
    """The skips and rejections among per-record results, as comparable tuples."""
    return sorted(
        (type(i).__name__, i.location, i.reason) for i in items if not isinstance(i, dict)
    )


def assert_batch_equals_per_record(spec: SourceSpec, frames: Sequence[Frame]) -> pa.Table:
    """The batch table against the per-record rows of the frames it kept; returns the table."""
    assert spec.batch is not None
    result = spec.batch(frames)
    declined = set(result.declined)
    assert len(declined) == len(result.declined), "a frame declined twice"
    assert declined <= set(range(len(frames)))
    kept = [i for i in range(len(frames)) if i not in declined]
    assert result.table.num_rows == len(kept), "frames lost: neither kept nor declined"
    reference = list(normalize_frames(spec, [frames[i] for i in kept]))
    not_rows = [(frames[i].raw, r) for i, r in zip(kept, reference, strict=True) if not isinstance(r, dict)]
    assert not_rows == [], "the batch path kept frames the per-record path refuses"
    expected = rows_to_table(reference, spec.native_types)
    assert result.table.schema == expected.schema
    for name in expected.column_names:
        got, want = result.table[name].to_pylist(), expected[name].to_pylist()
        bad = [(frames[kept[k]].raw, g, w) for k, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
        assert bad == [], f"column {name}: (raw, batch, per-record) {bad[:3]}"
    assert result.table.equals(expected)
    return result.table


def assert_run_batch_equals_per_record(spec: SourceSpec, frames: Sequence[Frame]) -> None:
    """The combined result (batch table + per-record results of the declined frames) equals the
    per-record result of the whole chunk: same rows sorted by `event_hash`, same skips and
    rejections."""
    table, rest = run_batch(spec, frames)
    pure = list(normalize_frames(spec, frames))
    assert outcomes(rest) == outcomes(pure)
    rest_rows = [r for r in rest if isinstance(r, dict)]
    combined = pa.concat_tables(
        [table, rows_to_table(rest_rows, spec.native_types)], promote_options="permissive"
    ) if rest_rows else table
    expected = rows_to_table([r for r in pure if isinstance(r, dict)], spec.native_types)
    key = [("event_hash", "ascending"), ("event_uid", "ascending")]
    got = combined.select(expected.column_names).sort_by(key).cast(expected.schema)
    assert set(combined.column_names) == set(expected.column_names)
    assert got.equals(expected.sort_by(key))


# --- generated records ---------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
"""Any text, control characters included."""
PLAIN = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
"""Text without control characters (which JSON escapes and DuckDB spells its own way)."""


def any_json(floats: Sequence[float] = (1.5, 0.0, 1e-05)) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (these floats among them), arrays, objects."""
    scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.sampled_from(list(floats)), TEXT)
    return st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def line(record: Any, *, compact: bool = True, ascii_only: bool = False) -> bytes:
    """A record serialized: compact, or with spaces after separators."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(record, separators=separators, ensure_ascii=ascii_only).encode()


def serialized(records: st.SearchStrategy[Any], again: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    """Records serialized one way or another, now and then damaged: truncated, replaced by
    garbage, or with top-level keys repeated at the end (values from `again`)."""

    @st.composite
    def raws(draw: st.DrawFn) -> bytes:
        raw = line(draw(records), compact=draw(st.booleans()), ascii_only=draw(st.booleans()))
        damage = draw(st.sampled_from(["none"] * 12 + ["truncate", "duplicate", "garbage"]))
        if damage == "truncate":
            return raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
        if damage == "duplicate":
            repeated = draw(again)
            return raw[:-1] + b"," + line(repeated)[1:] if repeated and len(raw) > 2 else raw
        if damage == "garbage":
            return draw(st.binary(max_size=20))
        return raw

    return raws()


def assert_equal_on_generated(spec: SourceSpec, raws: Sequence[bytes]) -> None:
    """Both differential properties on one generated chunk."""
    frames = frames_of(raws)
    assert_batch_equals_per_record(spec, frames)
    assert_run_batch_equals_per_record(spec, frames)


def generated_equality_test(
    spec: SourceSpec, records: st.SearchStrategy[Any], again: st.SearchStrategy[dict[str, Any]]
) -> Callable[..., None]:
    """A Hypothesis test of both differential properties on chunks of `serialized` records."""

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(serialized(records, again), min_size=1, max_size=10))
    def test(raws: list[bytes]) -> None:
        assert_equal_on_generated(spec, raws)

    return test


def sample_records(shared_data: Path, name: str) -> list[bytes]:
    """The events of a file of public samples (`../shared/data/samples/<name>`), one per line."""
    lines = (shared_data / "samples" / name).read_text().splitlines()
    return [json.dumps(json.loads(text)["event"]).encode() for text in lines if text.strip()]


def synthetic_day(tmp_path: Path, source: str) -> LineChunk:
    """One day of the synthetic organisation's log of `source`, as one chunk of lines."""
    generate(tmp_path, seed=3, days=1, scale=0.3, sources=[source])
    lines = [text for path in sorted((tmp_path / source).glob("*.jsonl"))
             for text in path.read_bytes().splitlines() if text.strip()]
    assert len(lines) > 200
    return LineChunk("t", lines, list(range(1, len(lines) + 1)))


def with_fields(record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """`record` with `fields` replacing or adding its members; a None value removes one."""
    for key, value in fields.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return record


def picker(junk: bool, anything: st.SearchStrategy[Any]) -> Callable[..., st.SearchStrategy[Any]]:
    """`pick(valid, odd=())` for building a record strategy: `valid` alone for a clean record;
    for a junk one mostly `valid`, now and then one of the `odd` values or `anything`."""

    def pick(valid: st.SearchStrategy[Any], odd: Sequence[Any] = ()) -> st.SearchStrategy[Any]:
        if not junk:
            return valid
        rare = [st.sampled_from(list(odd))] if odd else []
        return st.one_of(*[valid] * 4, *rare, anything)

    return pick
