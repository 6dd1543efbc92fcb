"""One chunk of frames to one Arrow table plus its rejections: the unit of parallel work.

The ingest reads inputs into chunks of frames and hands each chunk to `convert_chunk`, in this
process or in a worker process. A chunk's result is self-contained (a table, the rejected
records, the skipped ones), so chunks can be converted in any process and committed in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pyarrow as pa
import pyarrow.compute as pc

from auditlake.errors import SourceParseError
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.chunking import JoinedFrames, LineChunk
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table


@dataclass(slots=True)
class Chunk:
    """The converted form of a chunk of frames."""

    source: str
    table: pa.Table | None = None
    rejected: list[Rejected] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    records: int = 0

    @property
    def rows(self) -> int:
        return 0 if self.table is None else self.table.num_rows


def convert_chunk(spec: SourceSpec, frames: Sequence[Frame]) -> Chunk:
    """Normalize `frames` with `spec`: the fast path where it has one, record by record else."""
    chunk = Chunk(spec.name, records=len(frames))
    joined = isinstance(frames, JoinedFrames) or (isinstance(frames, LineChunk) and bool(frames.parts))
    tables: list[pa.Table] = []
    total, kept = len(frames), 0
    declined: Sequence[int] = range(total)  # the frames made into rows one by one
    if spec.batch is not None:
        result = spec.batch(frames)
        if result.table.num_rows:
            tables.append(_with_tenants(result.table, frames, result.declined))
        kept, declined = result.table.num_rows, list(result.declined)
        frames = [frames[i] for i in result.declined]
    rows: list[Row] = []
    locations: list[str] = []
    places: list[int] = []  # each row's frame, by its place in the chunk
    for place, frame, item in zip(declined, frames, normalize_frames(spec, frames), strict=True):
        if isinstance(item, Rejected):
            chunk.rejected.append(item)
        elif isinstance(item, Skipped):
            chunk.skipped.append(item)
        else:
            rows.append(item)
            locations.append(frame.location)
            places.append(place)
    if rows:
        tables.append(_rows_table(rows, locations, spec, chunk))
    if joined:  # its records come from several inputs: say which, for the quarantine
        chunk.rejected = [_located(item) for item in chunk.rejected]
    chunk.table = _in_input_order(_concat(tables), total, kept, declined, places)
    return chunk


def _in_input_order(
    table: pa.Table | None, total: int, kept: int, declined: Sequence[int], places: list[int]
) -> pa.Table | None:
    """The batch path's `kept` rows, then the rows `normalize` made of frames it declined (at
    `places` in the chunk), put in the order of their frames: an input in time order stays
    in time order, which the lake writer takes as it is (a batch out of order it must gather
    row by row). Left as it is when nothing needs moving, or a row `rows_to_table` refused
    leaves `places` without its row."""
    if table is None or not kept or not places or table.num_rows != kept + len(places):
        return table
    skipped = set(declined)
    batch_places = [n for n in range(total) if n not in skipped]
    if len(batch_places) != kept or batch_places[-1] < places[0]:
        return table
    at = batch_places + places
    order = sorted(range(table.num_rows), key=at.__getitem__)
    return table.take(pa.array(order, type=pa.int64()))


def _with_tenants(table: pa.Table, frames: Sequence[Frame], declined: Sequence[int]) -> pa.Table:
    """`table` (the rows of the frames not `declined`, in order) with the frames' tenants
    where the rows name none, as `records.normalize_frames` fills them in."""
    if isinstance(frames, LineChunk):  # lines of a file: no transport named a tenant
        return table
    skip = set(declined)
    tenants = [frame.tenant for n, frame in enumerate(frames) if n not in skip]
    if all(tenant is None for tenant in tenants):
        return table
    column = table.schema.get_field_index("source_tenant")
    filled = pc.coalesce(table.column(column), pa.array(tenants, type=table.schema.field(column).type))
    return table.set_column(column, table.schema.field(column), filled)


def _located(item: Rejected) -> Rejected:
    """`item` with its input, read off its location (`<input>:<where>`, as frames are located)."""
    return replace(item, input=item.location.rpartition(":")[0])


def _rows_table(rows: list[Row], locations: list[str], spec: SourceSpec, chunk: Chunk) -> pa.Table:
    """Rows to Arrow; a row whose values do not fit the schema is rejected, not fatal."""
    try:
        return rows_to_table(rows, spec.native_types)
    except SourceParseError:
        good: list[Row] = []
        for row, location in zip(rows, locations, strict=True):
            try:
                rows_to_table([row], spec.native_types)
            except SourceParseError as exc:
                reason = f"{spec.name} parser produced a bad value: {exc.message}"
                raw = str(row.get("raw", "")).encode("utf-8", "surrogateescape")
                chunk.rejected.append(Rejected(raw, location, reason, spec.name))
            else:
                good.append(row)
        return rows_to_table(good, spec.native_types)


def _concat(tables: list[pa.Table]) -> pa.Table | None:
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")
