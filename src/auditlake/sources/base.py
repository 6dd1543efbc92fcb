"""What every log source provides: framing of its inputs into records, and normalization.

A source turns an input file into `Frame`s (one verbatim record each, with where it came from),
and each frame into a `Row`: the canonical columns of `auditlake.schema` plus the source's native
fields under their own dotted names. A record that cannot be normalized raises `RecordError` and
is quarantined by the caller; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

Row = dict[str, Any]
"""Canonical column name or native dotted field name → Python value. `time` is required."""


class Frame(NamedTuple):
    """One record as received: its verbatim bytes and where it was found.

    `error` is set when the record is already known to be broken at framing time (truncated
    JSON, undecodable chunk); such a frame goes straight to quarantine with that reason.
    A named tuple rather than a dataclass: millions are made and sent to worker processes,
    and tuples are several times cheaper to build and to pickle.
    """

    raw: bytes
    location: str
    error: str | None = None
    tenant: str | None = None
    """The tenant (a cluster) the transport named, for events that do not name their own:
    `source_tenant` where the source leaves it empty (see `envelopes`)."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A registry row: everything the lake needs to know about one source.

    - `detect(record)` cheaply tells whether a parsed JSON record looks like this source
      (None for sources that are not JSON, which sniff their bytes with `sniff`).
    - `frames(path)` reads an input into frames.
    - `normalize(frame)` returns a Row or raises `RecordError`.
    - `native_types` overrides the string type of native columns (e.g. Windows `EventID`).
    - `batch(frames)`, optional, is a vectorized fast path equal in result to `normalize` on
      the frames it accepts; the frames it declines go through `normalize` one by one.
    - `complete_paths`: see below.
    - `reads`: the inputs of this source, as `auditlake sources` tells them.
    """

    name: str
    raw_format: str
    frames: Callable[[Path], Iterator[Frame]]
    normalize: Callable[[Frame], Row]
    detect: Callable[[Mapping[str, Any]], bool] | None = None
    sniff: Callable[[bytes], bool] | None = None
    aliases: tuple[str, ...] = ()
    native_types: Mapping[str, pa.DataType] = field(default_factory=dict)
    parser_version: str = "1"
    batch: Callable[[Sequence[Frame]], BatchResult] | None = None
    reads: str = ""
    complete_paths: frozenset[str] = frozenset()
    """Dotted paths of the record, as `raw` holds it, that ingest writes as a column of that
    name whenever the record has a value there: a file without the column has no value there
    in any row, so a reader need not look for it in `raw`."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a vectorized fast path made of a chunk of frames.

    `table` holds complete rows (the columns `records.complete_row` would add included), typed
    like `table.rows_to_table` would type them; `declined` are indices of frames the fast path
    would not vouch for, which the caller sends through the per-record path instead.
    """

    table: pa.Table
    declined: list[int]
