"""Reading the lake: a LazyFrame over exactly the committed files a question needs.

Files come from the commit log, not a glob, so a batch is seen whole or not at all. Partitions
are pruned by source and day before Polars sees a path, and the time filter is pushed into the
scan. Files written at different times may carry different native columns (schema evolution):
the scan reads them all under the union schema, with nulls where a file lacks a column.

>>> import tempfile
>>> scan_events(tempfile.mkdtemp()).collect().height
0
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from auditlake.errors import LakeError
from auditlake.lake.commits import CommittedFile, read_commits
from auditlake.lake.paths import LakePaths
from auditlake.lake.quarantine import QUARANTINE_SCHEMA
from auditlake.lake.writer import committed_path
from auditlake.schema import stored_schema

_TYPE_NAMES = {str(f.type): f.type for f in stored_schema()}


def scan_events(
    lake: str | Path | LakePaths,
    *,
    sources: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
    commits: CommitRange | None = None,
) -> pl.LazyFrame:
    """Events of `sources` with `start <= time < end`, as a lazy frame with `source` and `dt`.

    `columns` limits what is read (the partition columns are always available). `commits`
    limits the scan to what batches with those sequence numbers brought (incremental readers).

    A folder that is not there raises `LakeError` (a mistyped path is not an empty lake); a
    source of which the lake holds no events at all warns, naming the sources it does hold,
    since an alias (`cloudtrail` for `aws.cloudtrail`) would otherwise read as no events.
    """
    paths = _existing(lake)
    wanted = set(sources) if sources is not None else None
    every = list(_files(paths, "events", commits))
    if wanted:
        held = every if commits is None else _files(paths, "events")
        _warn_absent(wanted, {f.source for f in held})
    files = [f for f in every if _keep(f, wanted, start, end)]
    return scan_files(paths, files, start=start, end=end, columns=columns)


def _existing(lake: str | Path | LakePaths) -> LakePaths:
    paths = lake if isinstance(lake, LakePaths) else LakePaths.at(lake)
    if not paths.root.is_dir():
        what = "a file" if paths.root.exists() else "nothing"
        raise LakeError(
            f"no lake at {paths.root} ({what} is there)",
            hint="check the path; `auditlake ingest` creates a lake",
        )
    return paths


def _warn_absent(wanted: set[str], present: set[str]) -> None:
    absent = sorted(wanted - present)
    if absent:
        held = ", ".join(sorted(present)) or "none yet"
        warnings.warn(
            f"the lake holds no events of {', '.join(absent)} (its sources: {held})",
            stacklevel=3,
        )


def event_files(
    lake: LakePaths,
    *,
    sources: Iterable[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    commits: CommitRange | None = None,
) -> list[CommittedFile]:
    """The committed event files `scan_events` would read, for callers that read in batches."""
    wanted = set(sources) if sources is not None else None
    return [f for f in _files(lake, "events", commits) if _keep(f, wanted, start, end)]


def scan_files(
    lake: LakePaths,
    files: Sequence[CommittedFile],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pl.LazyFrame:
    """`scan_events` over exactly these committed files (their union schema)."""
    paths = lake
    schema = _union_schema(files) if files else _empty_schema()
    if not files:
        frame = pl.DataFrame(schema=schema).lazy().with_columns(
            source=pl.lit(None, pl.String), dt=pl.lit(None, pl.Date)
        )
    else:
        frame = pl.scan_parquet(
            [str(committed_path(paths, f.path)) for f in files],
            schema=schema,
            missing_columns="insert",
            extra_columns="ignore",
            hive_partitioning=True,
            hive_schema={"source": pl.String, "dt": pl.Date},
        )
    if start is not None:
        frame = frame.filter(pl.col("time") >= _utc(start))
    if end is not None:
        frame = frame.filter(pl.col("time") < _utc(end))
    if columns is not None:
        frame = frame.select(list(dict.fromkeys([*columns])))
    return frame


def scan_quarantine(lake: str | Path | LakePaths) -> pl.LazyFrame:
    """Every quarantined record with its source, input, location and reason."""
    paths = _existing(lake)
    files = list(_files(paths, "quarantine"))
    if not files:
        empty = pl.from_arrow(QUARANTINE_SCHEMA.empty_table())
        assert isinstance(empty, pl.DataFrame)
        return empty.lazy()
    return pl.scan_parquet([str(committed_path(paths, f.path)) for f in files])


def native_columns(lake: str | Path | LakePaths, source: str) -> list[str]:
    """Every column that any committed file of `source` has, in first-seen order."""
    paths = _existing(lake)
    names: dict[str, None] = {}
    for file in _files(paths, "events"):
        if file.source == source:
            names.update(dict.fromkeys(file.columns))
    return list(names)


@dataclass(frozen=True)
class CommitRange:
    """Commits with `after < seq <= through` (`through` None: up to the newest)."""

    after: int = 0
    through: int | None = None

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and self.after < seq and (self.through is None or seq <= self.through)


def committed_files(
    lake: LakePaths, table: str = "events", commits: CommitRange | None = None
) -> list[CommittedFile]:
    """The files of `table` that committed batches hold, oldest commit first."""
    return list(_files(lake, table, commits))


def _files(lake: LakePaths, table: str, commits: CommitRange | None = None) -> Iterable[CommittedFile]:
    for commit in read_commits(lake):
        if commits is not None and commit.seq not in commits:
            continue
        for file in commit.files:
            if file.table == table:
                yield file


def _keep(file: CommittedFile, sources: set[str] | None, start: datetime | None, end: datetime | None) -> bool:
    if sources is not None and file.source not in sources:
        return False
    day = date.fromisoformat(file.dt) if file.dt else None
    if day is None:
        return True
    if start is not None and day < _utc(start).date():
        return False
    return not (end is not None and day > (_utc(end) - timedelta(microseconds=1)).date())


def _union_schema(files: Sequence[CommittedFile]) -> pl.Schema:
    """Column → Polars type over all files; the first type seen wins for a native column."""
    fields: dict[str, pa.DataType] = {}
    for file in files:
        for name, type_name in file.columns.items():
            if name not in fields:
                fields[name] = _TYPE_NAMES.get(type_name) or _parse_type(type_name)
    empty = pl.from_arrow(pa.schema(list(fields.items())).empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def _empty_schema() -> pl.Schema:
    """The stored canonical columns as a Polars schema, for a lake with nothing in it yet."""
    empty = pl.from_arrow(stored_schema().empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema


def _parse_type(name: str) -> pa.DataType:
    simple = {
        "string": pa.string(), "large_string": pa.large_string(), "int64": pa.int64(),
        "int32": pa.int32(), "double": pa.float64(), "bool": pa.bool_(),
    }
    return simple.get(name, pa.string())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
