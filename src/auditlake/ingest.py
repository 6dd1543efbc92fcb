"""Ingest: input files in, committed lake batches and a summary out.

Each input is read by its source (named, or detected from the content), record by record, in
bounded chunks: every `batch_rows` records become one atomic commit, so memory stays flat for
inputs of any size and a crash loses at most the uncommitted chunk, which a re-run then adds.
Rejected records go to quarantine with their reason; nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from auditlake.errors import SourceParseError, UnknownSourceError
from auditlake.lake import LakePaths, LakeWriter
from auditlake.lake.quarantine import QuarantineEntry
from auditlake.sources import registry
from auditlake.sources.base import Row, SourceSpec
from auditlake.sources.records import Rejected, Skipped, normalize_frames
from auditlake.sources.table import rows_to_table

DEFAULT_BATCH_ROWS = 100_000
Progress = Callable[[str, int], None]
"""Called with (input name, records read so far in it)."""


@dataclass(slots=True)
class IngestSummary:
    """What an ingest did, per source and day; the CLI prints it as a table or JSON."""

    inputs: int = 0
    records: int = 0
    rows: Counter[tuple[str, str]] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    already_quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    batches: int = 0

    @property
    def added(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True)
class _Batch:
    """Rows and rejects waiting for the next commit."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    specs: dict[str, SourceSpec] = field(default_factory=dict)
    rejected: list[QuarantineEntry] = field(default_factory=list)
    size: int = 0


def expand_inputs(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and files under folders named (sorted, hidden ones skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden:
                    yield child
        else:
            yield path


def ingest(
    paths: Iterable[Path],
    lake: LakePaths,
    *,
    source: str | SourceSpec = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    now: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Read every input into the lake; see the module docstring for the guarantees."""
    summary = IngestSummary()
    batch = _Batch()
    with LakeWriter(lake, now=now or (lambda: datetime.now(UTC))) as writer:
        for path in expand_inputs(paths):
            spec = _resolve(source, path, summary)
            if spec is None:
                continue
            summary.inputs += 1
            for count, item in enumerate(normalize_frames(spec, spec.frames(path)), start=1):
                _add(batch, spec, path, item, summary)
                if batch.size >= batch_rows:
                    _flush(writer, batch, summary)
                    batch = _Batch()
                if progress is not None and count % 10_000 == 0:
                    progress(path.name, count)
        _flush(writer, batch, summary)
    return summary


def _resolve(source: str | SourceSpec, path: Path, summary: IngestSummary) -> SourceSpec | None:
    """The source for `path`; an input nothing recognises is reported, not guessed at."""
    if isinstance(source, SourceSpec):
        spec = source
    elif source != "auto":
        spec = registry.lookup(source)
    else:
        try:
            spec = registry.detect_path(path)
        except UnknownSourceError as exc:
            summary.errors.append(str(exc))
            return None
    if not path.is_file():
        summary.errors.append(f"{path}: no such file")
        return None
    return spec


def _add(batch: _Batch, spec: SourceSpec, path: Path, item: Row | Rejected | Skipped, summary: IngestSummary) -> None:
    summary.records += 1
    if isinstance(item, Skipped):
        summary.skipped[(spec.name, item.reason)] += 1
        return
    batch.size += 1
    if isinstance(item, Rejected):
        entry = QuarantineEntry(item.source, path.name, item.location, item.reason, item.raw)
        batch.rejected.append(entry)
        summary.quarantined[(item.source, item.reason)] += 1
        return
    batch.rows.setdefault(spec.name, []).append(item)
    batch.specs[spec.name] = spec


def _flush(writer: LakeWriter, batch: _Batch, summary: IngestSummary) -> None:
    tables: dict[str, pa.Table] = {}
    for name, rows in batch.rows.items():
        tables[name] = _table(rows, batch.specs[name], batch, summary)
    result = writer.commit(tables, batch.rejected)
    summary.rows.update(result.rows)
    summary.duplicates.update(result.duplicates)
    summary.already_quarantined += result.quarantine_duplicates
    if result.batch_id is not None:
        summary.batches += 1


def _table(rows: list[Row], spec: SourceSpec, batch: _Batch, summary: IngestSummary) -> pa.Table:
    """Rows to Arrow; a row whose values do not fit the schema is quarantined, not fatal."""
    try:
        return rows_to_table(rows, spec.native_types)
    except SourceParseError:
        good: list[Row] = []
        for row in rows:
            try:
                rows_to_table([row], spec.native_types)
            except SourceParseError as exc:
                reason = f"{spec.name} parser produced a bad value: {exc.message}"
                raw = str(row.get("raw", "")).encode("utf-8", "surrogateescape")
                batch.rejected.append(QuarantineEntry(spec.name, "", str(row.get("event_uid")), reason, raw))
                summary.quarantined[(spec.name, reason)] += 1
            else:
                good.append(row)
        return rows_to_table(good, spec.native_types)
