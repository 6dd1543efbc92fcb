"""Ingest: input files in, committed lake batches and a summary out.

Each input is read by its source (named, or detected from the content), record by record, in
bounded chunks: every `batch_rows` records become one atomic commit, so memory stays flat for
inputs of any size and a crash loses at most what was not committed yet (the batch being
written and the one being gathered), which a re-run then adds. A stop signal under
`auditlake.stop_signals.stopping` (`Stopped`) unwinds it as an error does: the commit under way
finishes, the batch being gathered is dropped whole, and the conversion pools are shut down.
Rejected records go to quarantine with their reason; nothing is dropped silently.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa

from auditlake.committer import Committer
from auditlake.errors import UnknownSourceError
from auditlake.folder_walk import files_under
from auditlake.lake import LakePaths, LakeWriter
from auditlake.lake.quarantine import QuarantineEntry
from auditlake.lake.writer import CommitResult
from auditlake.sources import registry
from auditlake.sources.base import Frame, SourceSpec
from auditlake.sources.chunking import JoinedFrames, LineChunk, frame_chunks
from auditlake.sources.companion_files import companion_of
from auditlake.sources.convert import Chunk
from auditlake.workers import ChunkPool

DEFAULT_BATCH_ROWS = 100_000
CHUNK_FRAMES = 8_192
"""Frames per unit of parallel work: large enough to amortise hand-off, small enough to stream.
CloudTrail's vectorized path converts chunks of 8,192, 16,384 or 32,768 records at the same
speed; each doubling holds about 200 MiB more at peak."""

LAKE_ITSELF = "the lake being written (its own files are not read as inputs)"
TOO_DEEP = (
    "reading it stopped at a JSON value nested too deeply to be split into records; ingest it "
    "again once that value is taken out (what was added is not added twice)"
)

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
    passed_over: Counter[str] = field(default_factory=Counter)
    """Inputs that hold no events (`sources.companion_files`), by what they are."""
    already_quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    batches: int = 0

    @property
    def added(self) -> int:
        return sum(self.rows.values())


@dataclass(slots=True)
class _Batch:
    """Converted chunks waiting for the next commit."""

    tables: dict[str, list[pa.Table]] = field(default_factory=dict)
    rejected: list[QuarantineEntry] = field(default_factory=list)
    size: int = 0


def expand_inputs(paths: Iterable[Path], lake: Path | None = None) -> Iterator[Path]:
    """Files named, and files under folders named, as `folder_walk.walk` finds them: sorted,
    hidden ones skipped, links to folders followed once, and a folder that cannot be listed or
    a link to nothing yielded as an input, so that reading it fails and the run reports why
    (exit 3). The `lake` folder (resolved), when a folder named holds it, is yielded itself
    rather than walked: its Parquet files, commit records and lock are the lake's, not audit
    logs."""
    for path in paths:
        if path.is_dir():
            yield from files_under(path, leave=lake)
        else:
            yield path


def ingest(
    paths: Iterable[Path],
    lake: LakePaths,
    *,
    source: str | SourceSpec = "auto",
    batch_rows: int = DEFAULT_BATCH_ROWS,
    workers: int | None = None,
    now: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Read every input into the lake; see the module docstring for the guarantees.

    `workers` threads or processes convert chunks in parallel (default: one per core; see
    `auditlake.workers`) while a thread commits the previous batch (`auditlake.committer`);
    1 keeps all the work in this thread.
    """
    if batch_rows < 1:  # no batch could ever be full: the run would never end
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
    if isinstance(source, str) and source != "auto":  # a misspelt name fails with no input too
        registry.lookup(source)
    summary = IngestSummary()
    batch = _Batch()
    count = workers or os.cpu_count() or 1
    with LakeWriter(lake, now=now or (lambda: datetime.now(UTC))) as writer, \
            Committer(writer, partial(_count, summary), background=count > 1) as committer, \
            ChunkPool(count) as pool:
        for spec, name, frames in _chunks(paths, source, summary, batch_rows, lake.root):
            for chunk in pool.submit(spec, name, frames):
                batch = _take(committer, batch, chunk, summary, batch_rows, progress)
        for chunk in pool.drain():
            batch = _take(committer, batch, chunk, summary, batch_rows, progress)
        _flush(committer, batch)
    _report_nothing_read(summary, source)
    return summary


def _report_nothing_read(summary: IngestSummary, source: str | SourceSpec) -> None:
    """An error when records were read and every one of them went to quarantine: the input is
    most likely not what it was taken for (a wrong `--source`), which a scheduled ingest would
    otherwise repeat quietly."""
    quarantined = sum(summary.quarantined.values()) + summary.already_quarantined
    taken = summary.added + sum(summary.duplicates.values()) + sum(summary.skipped.values())
    if not summary.records or taken or quarantined < summary.records:
        return
    named = source.name if isinstance(source, SourceSpec) else source
    check = "" if named == "auto" else f"; is {named!r} the source these inputs come from?"
    summary.errors.append(
        f"none of the {summary.records:,} records could be read: all of them are in quarantine "
        f"(`auditlake quarantine` shows why){check}"
    )


def _chunks(
    paths: Iterable[Path], source: str | SourceSpec, summary: IngestSummary, batch_rows: int,
    lake: Path | None = None,
) -> Iterator[tuple[SourceSpec, str, Sequence[Frame]]]:
    """Each input's frames in chunks of `CHUNK_FRAMES` (never over `batch_rows`), with the
    source that reads them and the input's name; for a source with a vectorized path, the
    records of small inputs in turn are joined into one chunk (see `_joined`)."""
    size = min(CHUNK_FRAMES, batch_rows)
    return _joined(_input_chunks(paths, source, summary, size, lake), size)


def _input_chunks(
    paths: Iterable[Path], source: str | SourceSpec, summary: IngestSummary, size: int, lake: Path | None
) -> Iterator[tuple[SourceSpec, str, Sequence[Frame]]]:
    for path in expand_inputs(paths, lake):
        if lake is not None and path.is_dir() and path.resolve() == lake:  # the folder named holds the lake
            summary.inputs += 1
            summary.passed_over[LAKE_ITSELF] += 1
            continue
        if source == "auto" and _empty(path):  # a rotated log may be empty: nothing to read
            summary.inputs += 1
            continue
        companion = companion_of(path) if path.is_file() else None
        if companion is not None:  # e.g. a CloudTrail digest beside the logs of a bucket sync
            summary.inputs += 1
            summary.passed_over[companion] += 1
            continue
        spec = _resolve(source, path, summary)
        if spec is None:
            continue
        summary.inputs += 1
        try:
            for frames in frame_chunks(spec.frames(path), size):
                yield spec, path.name, frames
        except OSError as exc:  # unreadable input: what was read is kept, the rest reported
            summary.errors.append(f"{path}: {exc.strerror or exc}")
        except RecursionError:  # JSON nested deeper than a framer's decoder goes: this input only
            summary.errors.append(f"{path}: {TOO_DEEP}")


def _joined(
    chunks: Iterable[tuple[SourceSpec, str, Sequence[Frame]]], size: int
) -> Iterator[tuple[SourceSpec, str, Sequence[Frame]]]:
    """`chunks`, those of a vectorized source's small inputs joined up to `size` records.

    A chunk costs a vectorized path tens of milliseconds whatever its size (its queries are
    planned each time), more than its records when they are a few hundred: CloudTrail delivers
    a file every five minutes per region, each of a few hundred records, and a folder of
    `.evtx` samples holds a few events a file. A joined chunk keeps every frame located in its
    own input (`LineChunk.join`, `JoinedFrames`), and is named by its last input.
    """
    waiting: list[tuple[str, Sequence[Frame]]] = []
    waiting_for: SourceSpec | None = None
    held = 0  # records in `waiting`
    for spec, name, frames in chunks:
        small = len(frames) < size and spec.batch is not None
        room = spec is waiting_for and held + len(frames) <= size
        if waiting and waiting_for is not None and not (small and room):
            yield waiting_for, *_join(waiting)
            waiting, held = [], 0
        if small:
            waiting.append((name, frames))
            waiting_for, held = spec, held + len(frames)
        else:
            yield spec, name, frames
    if waiting and waiting_for is not None:
        yield waiting_for, *_join(waiting)


def _join(chunks: Sequence[tuple[str, Sequence[Frame]]]) -> tuple[str, Sequence[Frame]]:
    """One chunk of `chunks` (name, frames), named by its last input."""
    parts = [frames for _, frames in chunks]
    if all(isinstance(p, LineChunk) for p in parts):
        lines = [p for p in parts if isinstance(p, LineChunk)]
        return lines[-1].inputs()[-1][1], LineChunk.join(lines)
    return chunks[-1][0], JoinedFrames(frame for frames in parts for frame in frames)


def _take(  # noqa: PLR0917 - the loop's whole state, kept flat on purpose
    committer: Committer, batch: _Batch, done: tuple[str, Chunk], summary: IngestSummary,
    batch_rows: int, progress: Progress | None,
) -> _Batch:
    """Add a converted chunk to the batch; commit when the batch is full."""
    name, chunk = done
    summary.records += chunk.records
    for skipped in chunk.skipped:
        summary.skipped[(chunk.source, skipped.reason)] += 1
    for bad in chunk.rejected:
        entry = QuarantineEntry(bad.source, bad.input or name, bad.location, bad.reason, bad.raw)
        batch.rejected.append(entry)
        summary.quarantined[(bad.source, bad.reason)] += 1
    if chunk.table is not None and chunk.table.num_rows:
        batch.tables.setdefault(chunk.source, []).append(chunk.table)
    batch.size += chunk.rows + len(chunk.rejected)
    if progress is not None:
        progress(name, summary.records)
    if batch.size >= batch_rows:
        _flush(committer, batch)
        return _Batch()
    return batch


def _empty(path: Path) -> bool:
    """Whether `path` is a file of no bytes (a file that cannot be read is left to `_resolve`)."""
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def _resolve(source: str | SourceSpec, path: Path, summary: IngestSummary) -> SourceSpec | None:
    """The source for `path`; an input nothing recognises is reported, not guessed at."""
    if _is_device(path):  # /dev/zero never ends, a terminal waits: neither is read
        summary.errors.append(f"{path}: a device, not a file of logs; pipe what it holds into `auditlake ingest -`")
        return None
    if isinstance(source, SourceSpec) and (source.detect is None or source.name in registry.names()):
        spec = source  # a built-in source, or a mapping that says nothing of its records: every input
    elif isinstance(source, str) and source != "auto":
        spec = registry.lookup(source)
    else:
        # a mapping that says what its records hold takes the inputs that hold it; the
        # others are told by their content, as without it (a folder of mixed logs)
        first = (source,) if isinstance(source, SourceSpec) else ()
        try:
            spec = registry.detect_path(path, first=first)
        except UnknownSourceError as exc:
            summary.errors.append(str(exc))
            return None
        except OSError as exc:
            summary.errors.append(f"{path}: {exc.strerror or exc}")
            return None
        except RecursionError:  # its first records are JSON nested deeper than framing goes
            summary.errors.append(f"{path}: {TOO_DEEP}")
            return None
    if not path.is_file():
        what = "a folder that cannot be listed" if path.is_dir() else "no such file"
        summary.errors.append(f"{path}: {what}")
        return None
    return spec


def _is_device(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode)


def _flush(committer: Committer, batch: _Batch) -> None:
    tables = {
        name: parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")
        for name, parts in batch.tables.items()
    }
    committer.submit(tables, batch.rejected)


def _count(summary: IngestSummary, result: CommitResult) -> None:
    summary.rows.update(result.rows)
    summary.duplicates.update(result.duplicates)
    summary.already_quarantined += result.quarantine_duplicates
    if result.batch_id is not None:
        summary.batches += 1
