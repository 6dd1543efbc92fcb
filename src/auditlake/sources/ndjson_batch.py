"""Vectorized reading of JSON-record frames: the shared machinery of `SourceSpec.batch` paths.

The per-record path parses every record with simdjson and reads its fields in Python, which
caps ingest at a few thousand records a second. A batch path reads a whole chunk with one
`pl.read_ndjson` and maps it with Polars expressions instead; this module does the parts that
do not depend on the source: decoding a chunk (setting aside the records Polars cannot read),
the columns every event carries (`raw`, `event_hash`, `raw_format`,
`parser_version`, exactly as `records.complete_row` makes them) and running a spec's batch
path with the per-record path behind it for the frames it declines.

>>> frames = [Frame(b'{"a": "x"}', "f:1"), Frame(b'{"a": ', "f:2"), Frame(b'{"a": 1}', "f:3")]
>>> df, declined = decode(frames, {"a": pl.String})
>>> df.rows(), declined
([('x', 0), ('1', 2)], [1])
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from itertools import accumulate, compress
from operator import itemgetter
from typing import Any

import polars as pl
import pyarrow as pa
import simdjson

from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.chunking import LineChunk, raws
from auditlake.sources.records import MAX_RECORD_BYTES, Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table

FRAME_COLUMN = "_frame"
"""Column of a decoded chunk holding each row's index into the frames that were decoded."""

_DECODE_ERRORS = (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError, OSError)


def readable(frame: Frame) -> bool:
    """Whether a frame can go into a JSON-Lines buffer as exactly one line.

    A frame with a framing error, an oversized one, one that is not a JSON object or one that
    spans lines is left to the per-record path, which knows the exact reason to give.

    >>> [readable(Frame(r, "f")) for r in (b'{"a": 1}', b'[1]', b'{"a":\\n1}', b'')]
    [True, False, False, False]
    """
    raw = frame.raw
    return (
        frame.error is None
        and len(raw) <= MAX_RECORD_BYTES
        and raw[:1] == b"{"
        and b"\n" not in raw
    )


def paths_schema(paths: Sequence[str]) -> pl.Schema:
    """A schema reading each dotted path as text, its parents as structs, for `decode`.

    Text is what `fields.text` makes of any JSON value, so every path reads whatever it holds
    (Polars writes numbers, booleans and JSON for other values); a parent that is not an object
    makes Polars refuse the line, which `decode` then declines.

    >>> paths_schema(["a", "u.b", "u.c.d"])
    Schema([('a', String), ('u', Struct({'b': String, 'c': Struct({'d': String})}))])
    """
    tree: dict[str, Any] = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = None

    def dtype(node: dict[str, Any] | None) -> pl.DataType:
        if node is None:
            return pl.String()
        return pl.Struct({key: dtype(child) for key, child in node.items()})

    return pl.Schema({key: dtype(child) for key, child in tree.items()})


def path_column(path: str) -> pl.Expr:
    """The column of a `paths_schema` frame holding a dotted path, named by the path.

    >>> df = pl.DataFrame({"u": [{"b": "x"}, None]})
    >>> df.select(path_column("u.b")).to_series().to_list()
    ['x', None]
    """
    head, *rest = path.split(".")
    expr = pl.col(head)
    for key in rest:
        expr = expr.struct.field(key)
    return expr.alias(path)


def decode(
    frames: Sequence[Frame], schema: pl.Schema | Mapping[str, pl.DataType]
) -> tuple[pl.DataFrame, list[int]]:
    """The frames' records as one frame typed by `schema`, and the indices of those declined.

    Polars refuses a whole buffer when one line is not JSON or does not fit `schema` (a string
    where a struct is declared). When it does, one simdjson pass sets such lines aside and the
    rest is read again; should Polars still refuse it, it is halved until the refused lines are
    isolated. Rows come in frame order with their frame index in `FRAME_COLUMN`.
    """
    lines = raws(frames)
    buffer = _lines_buffer(frames)
    if buffer is not None:
        indices, declined = list(range(len(lines))), []
    else:
        ok = [readable(frame) for frame in frames]
        indices = [i for i, good in enumerate(ok) if good]
        declined = [i for i, good in enumerate(ok) if not good]
    schema = pl.Schema(schema)
    if not indices:
        return _empty(schema), declined
    df = _read_all(lines, indices, schema, buffer)
    if df is not None:
        return df, declined
    fitting, misfits = _split_fitting(lines, indices, schema)
    parts, refused = _bisect(lines, fitting, schema)
    frame = pl.concat(parts, how="vertical") if parts else _empty(schema)
    return frame, sorted(declined + misfits + refused)


def _empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema).with_columns(pl.Series(FRAME_COLUMN, [], dtype=pl.UInt32))


def _lines_buffer(frames: Sequence[Frame]) -> bytes | None:
    """A `LineChunk`'s records as one JSON Lines buffer, when every one of them is `readable`.

    Its frames are error-free, non-empty and hold no line break: only the first byte and the
    size are left to check, in passes that make no frame. The first bytes are gathered into
    one `bytes` and counted there, which costs a tenth of searching the joined buffer.
    """
    if not isinstance(frames, LineChunk) or not frames.raws:
        return None
    lines = frames.raws
    if bytes(map(itemgetter(0), lines)).count(b"{") != len(lines):
        return None
    if max(map(len, lines)) > MAX_RECORD_BYTES:
        return None
    return b"\n".join(lines)


def _read_all(
    lines: Sequence[bytes], indices: list[int], schema: pl.Schema, buffer: bytes | None = None
) -> pl.DataFrame | None:
    """`lines[indices]` read in one go with their `FRAME_COLUMN`; None if Polars refuses them.

    `buffer`, when given, is all of `lines` joined, which `indices` then must select.
    """
    if buffer is None:
        buffer = b"\n".join([lines[i] for i in indices])
    try:
        df = pl.read_ndjson(buffer, schema=schema)
    except _DECODE_ERRORS:
        return None
    if df.height != len(indices):
        return None
    return df.with_columns(pl.Series(FRAME_COLUMN, indices, dtype=pl.UInt32))


def _bisect(
    lines: Sequence[bytes], indices: list[int], schema: pl.Schema
) -> tuple[list[pl.DataFrame], list[int]]:
    """Read `indices`, halving them until the lines Polars refuses are isolated."""
    if not indices:
        return [], []
    df = _read_all(lines, indices, schema)
    if df is not None:
        return [df], []
    if len(indices) == 1:
        return [], indices
    middle = len(indices) // 2
    left, left_refused = _bisect(lines, indices[:middle], schema)
    right, right_refused = _bisect(lines, indices[middle:], schema)
    return left + right, left_refused + right_refused


def _split_fitting(
    lines: Sequence[bytes], indices: Sequence[int], schema: pl.Schema
) -> tuple[list[int], list[int]]:
    """`indices` of lines that are JSON objects whose struct fields hold objects (or null),
    and of the others: the lines Polars refuses, found in one pass instead of by bisection."""
    parse = simdjson.Parser().parse
    structs = _struct_tree(schema)
    good: list[int] = []
    bad: list[int] = []
    for i in indices:
        (good if _fits(parse, lines[i], structs) else bad).append(i)
    return good, bad


StructTree = dict[str, "StructTree"]
"""The struct fields of a schema, nested: what must hold a JSON object (or null)."""


def _struct_tree(fields: Mapping[str, Any]) -> StructTree:
    return {
        name: _struct_tree({f.name: f.dtype for f in dtype.fields})
        for name, dtype in fields.items()
        if isinstance(dtype, pl.Struct)
    }


def _fits(parse: Callable[[bytes], Any], raw: bytes, structs: StructTree) -> bool:
    """Whether `raw` is a JSON object Polars can read with the struct fields of `structs`."""
    try:
        doc = parse(raw)
    except (ValueError, RuntimeError):
        return False
    return isinstance(doc, simdjson.Object) and _objects_where_due(doc, structs)


def _objects_where_due(obj: Any, structs: StructTree) -> bool:
    keys = set(obj.keys())  # a missing key costs simdjson an exception: look before reading
    for name, inner in structs.items():
        value = obj.get(name) if name in keys else None
        if value is None:
            continue
        if not isinstance(value, simdjson.Object) or not _objects_where_due(value, inner):
            return False
    return True


def _loads_object(parse: Callable[[bytes], Any], raw: bytes) -> bool:
    """Whether simdjson loads `raw` as a JSON object, as the per-record path needs it to."""
    try:
        return type(parse(raw)) is simdjson.Object  # the document dies here, freeing the parser
    except (ValueError, RuntimeError):  # RuntimeError: an integer beyond 64 bits
        return False


def base_columns(
    frames: Sequence[Frame], indices: Sequence[int], spec: SourceSpec
) -> tuple[dict[str, pa.Array], list[int]]:
    """`raw`, `event_hash`, `raw_format` and `parser_version` for `frames[indices]`.

    Returns the columns for the frames kept, in order, and the indices declined: those the
    per-record parser (simdjson) would not load as a JSON object, such as invalid UTF-8, an
    integer beyond 64 bits or a lone surrogate escape, which Polars reads without complaint.
    Each value equals what `records.complete_row` puts in the row.

    >>> from auditlake.sources import cloudtrail
    >>> cols, declined = base_columns([Frame(b'{"a":1}', "f:1")], [0], cloudtrail.SPEC)
    >>> cols["raw"].to_pylist(), cols["event_hash"].type, declined
    (['{"a":1}'], FixedSizeBinaryType(fixed_size_binary[32]), [])
    """
    raws, digests, declined = _loadable(frames, indices)
    offsets = array("q", accumulate(map(len, raws), initial=0))
    binary = pa.Array.from_buffers(
        pa.large_binary(), len(raws), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(raws))]
    )
    count = len(raws)
    columns = {
        "raw": binary.cast(pa.large_string()),  # simdjson validated the UTF-8 already
        "event_hash": pa.Array.from_buffers(
            pa.binary(32), count, [None, pa.py_buffer(b"".join(digests))]
        ),
        "raw_format": pa.repeat(pa.scalar(spec.raw_format, pa.string()), count),
        "parser_version": pa.repeat(
            pa.scalar(f"{spec.name}/{spec.parser_version}", pa.string()), count
        ),
    }
    return columns, declined


def _loadable(
    frames: Sequence[Frame], indices: Sequence[int]
) -> tuple[list[bytes], list[bytes], list[int]]:
    """Raw bytes and SHA-256 digests of the frames simdjson loads as an object; the others.

    `indices` increase, so as many as there are frames means all of them.

    Written as whole-list passes: a loop body per record costs as much as the hashing.
    """
    lines = raws(frames)
    picked = lines if len(indices) == len(lines) else [lines[i] for i in indices]
    loads = list(map(partial(_loads_object, simdjson.Parser().parse), picked))
    sha256 = hashlib.sha256
    if all(loads):
        return picked, [sha256(raw).digest() for raw in picked], []
    kept = list(compress(picked, loads))
    declined = [i for i, ok in zip(indices, loads, strict=True) if not ok]
    return kept, [sha256(raw).digest() for raw in kept], declined


def run_batch(
    spec: SourceSpec, frames: Sequence[Frame]
) -> tuple[pa.Table, list[Row | Rejected | Skipped]]:
    """Rows of `frames` by the spec's batch path, and what the per-record path made of the rest.

    The table holds the rows the batch path vouched for; the list holds, in frame order, the
    rows, rejections and skips of the declined frames, as `records.normalize_frames` yields
    them. Without a batch path, every frame goes through the per-record path.
    """
    if spec.batch is None:
        return rows_to_table([], spec.native_types), list(normalize_frames(spec, frames))
    result = spec.batch(frames)
    rest = list(normalize_frames(spec, (frames[i] for i in result.declined)))
    return result.table, rest
