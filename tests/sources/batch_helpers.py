"""The differential property every batch path is held to.

For any chunk of frames, the batch table equals `rows_to_table` of the per-record rows of the
frames it kept (same columns, types, order and values, byte for byte), every kept frame is one
the per-record path accepts, and so the batch table plus the per-record results of the
declined frames are exactly the per-record results of the whole chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.ndjson_batch import run_batch
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table


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
