"""Vectorized reading of JSON-record frames: the shared machinery of `SourceSpec.batch` paths.

The per-record path parses every record with simdjson and reads its fields in Python, which
caps ingest at a few thousand records a second. A batch path reads a whole chunk's fields as
text in one native pass (`json_paths`) and maps them with Polars expressions instead; this
module does the parts that do not depend on the source: decoding a chunk (setting aside the
records the per-record path must judge), the columns every event carries (`raw`,
`event_hash`, `raw_format`, `parser_version`, and `event_uid` where the source names none,
exactly as `records.complete_row` makes them) and running a spec's batch path with the
per-record path behind it for the frames it declines.

>>> from auditlake.sources import cloudtrail
>>> frames = [Frame(b'{"a": "x"}', "f:1"), Frame(b'{"a": ', "f:2"), Frame(b'{"a": 1}', "f:3")]
>>> texts, base, declined = decode(frames, ["a"], cloudtrail.SPEC)
>>> texts.rows(), base["raw"].to_pylist(), declined
([('x', 0), ('1', 2)], ['{"a": "x"}', '{"a": 1}'], [1])
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from itertools import accumulate, compress
from operator import itemgetter

import polars as pl
import pyarrow as pa
import simdjson

from auditlake.errors import SourceParseError
from auditlake.sources.base import BatchResult, Frame, Row, SourceSpec
from auditlake.sources.batch_exprs import table
from auditlake.sources.chunking import LineChunk, raws
from auditlake.sources.fields import loads_as_object
from auditlake.sources.json_paths import read_kinds, read_paths
from auditlake.sources.record_identity import with_fallback_uids
from auditlake.sources.records import MAX_RECORD_BYTES, Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table

FRAME_COLUMN = "_frame"
"""Column of a decoded chunk holding each row's index into the frames that were decoded."""
KIND = "kind:"
"""Prefix of the columns of a typed decoding (`decode_typed`) holding a field's JSON type."""


@dataclass(frozen=True)
class Decoded:
    """A chunk decoded for a batch path: a row per frame kept (`FRAME_COLUMN` its index), and
    the frames declined on the way."""

    work: pl.DataFrame
    base: dict[str, pa.Array]
    declined: list[int]


def readable(frame: Frame) -> bool:
    """Whether a frame may be decoded in a batch: a frame with a framing error, an oversized
    one or one that is not a JSON object is left to the per-record path, which knows the exact
    reason to give. A record may span lines (a pretty-printed file's).

    >>> [readable(Frame(r, "f")) for r in (b'{"a": 1}', b'[1]', b'{"a":\\n1}', b'')]
    [True, False, True, False]
    """
    raw = frame.raw
    return frame.error is None and len(raw) <= MAX_RECORD_BYTES and raw[:1] == b"{"


def decode(
    frames: Sequence[Frame], paths: Sequence[str], spec: SourceSpec
) -> tuple[pl.DataFrame, dict[str, pa.Array], list[int]]:
    """The frames' `paths` as text (`json_paths.read_paths`), their base columns
    (`base_columns`), and the indices of the frames declined.

    Declined are the frames that are not one JSON-object line (`readable`), those simdjson
    would not load and those DuckDB refuses. The frame and the columns hold a row per frame
    kept, in frame order; `FRAME_COLUMN` gives each row's index into `frames`.
    """
    indices, declined = _readable_indices(frames)
    base, refused = base_columns(frames, indices, spec)
    if refused:
        gone = set(refused)
        indices = [i for i in indices if i not in gone]
    texts, unread = read_paths(base["raw"], paths)
    frame_index = pl.Series(FRAME_COLUMN, indices, dtype=pl.UInt32)
    texts = texts.with_columns(frame_index) if paths else frame_index.to_frame()
    if unread:
        keep = pa.array(_kept_mask(len(indices), unread))
        texts = texts.filter(pl.Series(keep))
        base = {name: column.filter(keep) for name, column in base.items()}
        refused = refused + [indices[k] for k in unread]
    return texts, base, sorted(declined + refused)


def decode_typed(
    frames: Sequence[Frame],
    paths: Sequence[str],
    spec: SourceSpec,
    typed: Sequence[str],
    members: Sequence[tuple[str, ...]] = (),
    *,
    keys_of: tuple[str, ...] | None = None,
) -> Decoded | None:
    """`decode`, with the JSON type of each of `typed` (a column `KIND + path`), the text of
    each of `members` (key paths, named by their keys joined with dots, that are not among
    `paths`: members of a path's object, keys holding dots), the keys of the object at
    `keys_of` (`json_paths.read_kinds`), and `raw`. None when DuckDB refuses a record for its
    types after taking it for its texts: the caller declines the chunk."""
    texts, base, declined = decode(frames, paths, spec)
    kinds = read_kinds(base["raw"], list(dict.fromkeys(typed)), list(dict.fromkeys(members)), keys_of)
    if kinds is None:
        return None
    types, values = kinds
    work = pl.concat([texts, types.select(pl.all().name.prefix(KIND)), values], how="horizontal").with_columns(
        pl.Series("raw", base["raw"])
    )
    return Decoded(work, base, declined)


def of_kind(path: str, kind: str) -> pl.Expr:
    """A typed decoding's text of the field at `path` where its JSON type is `kind`, else null."""
    return pl.when(pl.col(KIND + path) == kind).then(pl.col(path)).alias(path)


def declined_all(spec: SourceSpec, frames: Sequence[Frame]) -> BatchResult:
    """A batch result that leaves every frame to the per-record path."""
    return BatchResult(rows_to_table([], spec.native_types), list(range(len(frames))))


def finish(
    spec: SourceSpec,
    frames: Sequence[Frame],
    decoded: Decoded,
    keep: pl.Series,
    *,
    canonical: pl.DataFrame,
    natives: pl.DataFrame,
) -> BatchResult:
    """The batch result: the table of the rows `keep` holds (`canonical` and `natives` are
    theirs), and every frame declined, on decoding or by `keep`. Raises if a frame is neither
    kept nor declined.

    `canonical`'s `event_uid` is the source's own id, null (or empty) where the record names
    none: those rows get the identity `records.complete_row` gives them, from their content
    (`record_identity.with_fallback_uids`).
    """
    base = decoded.base
    if not keep.all():
        base = {name: column.filter(keep.to_arrow()) for name, column in base.items()}
    canonical = with_fallback_uids(canonical, base["raw"], spec.raw_format)
    dropped = decoded.work.get_column(FRAME_COLUMN).filter(~keep).to_list()
    rows = table(canonical, natives, base, spec.native_types)
    result = BatchResult(rows, sorted(decoded.declined + dropped))
    accounted = rows.num_rows + len(result.declined)
    if accounted != len(frames):
        raise SourceParseError(
            f"batch path accounted for {accounted} of {len(frames)} frames",
            where=spec.name,
            hint=f"a bug in the batch path of {spec.name}: please report it with the input that shows it",
        )
    return result


def _kept_mask(count: int, dropped: Sequence[int]) -> list[bool]:
    """`count` flags, false at the positions `dropped`."""
    mask = [True] * count
    for position in dropped:
        mask[position] = False
    return mask


def _readable_indices(frames: Sequence[Frame]) -> tuple[list[int], list[int]]:
    """Indices of the frames that are `readable`, and of the others."""
    if _all_readable(frames):
        return list(range(len(frames))), []
    ok = [readable(frame) for frame in frames]
    return [i for i, good in enumerate(ok) if good], [i for i, good in enumerate(ok) if not good]


def _all_readable(frames: Sequence[Frame]) -> bool:
    """Whether a `LineChunk`'s records are all `readable`, checked without making frames.

    Its frames are error-free and non-empty: only the first byte and the size are left to
    check, in passes that make no frame. The first bytes are gathered into one `bytes` and
    counted there.
    """
    if not isinstance(frames, LineChunk) or not frames.raws:
        return False
    lines = frames.raws
    return (
        bytes(map(itemgetter(0), lines)).count(b"{") == len(lines)
        and max(map(len, lines)) <= MAX_RECORD_BYTES
    )


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
    loads = list(map(partial(loads_as_object, simdjson.Parser().parse), picked))
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
