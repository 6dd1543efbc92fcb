"""Reading the lake: a LazyFrame over exactly the committed files a question needs.

Files come from the commit log, not a glob, so a batch is seen whole or not at all. Partitions
are pruned by source and day before Polars sees a path, and the time filter is pushed into the
scan. Files written at different times may carry different native columns (schema evolution):
the scan reads them all under the union schema, with nulls where a file lacks a column, and a
column that files store with different types as one type that holds all their values.

>>> import tempfile
>>> scan_events(tempfile.mkdtemp()).collect().height
0
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa

from auditlake.errors import LakeError
from auditlake.lake.commits import CommittedFile, read_commits
from auditlake.lake.paths import LakePaths
from auditlake.lake.quarantine import QUARANTINE_SCHEMA
from auditlake.lake.writer import committed_path
from auditlake.schema import stored_schema

_TYPE_NAMES = {str(f.type): f.type for f in stored_schema()}


Moment = datetime | date | str
"""A bound of a time range: a datetime (naive is UTC), a date (its midnight UTC), or ISO 8601
text (`2024-03-01`, `2024-03-01T10:00:00+02:00`)."""


def scan_events(
    lake: str | Path | LakePaths,
    *,
    sources: Iterable[str] | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    columns: Sequence[str] | None = None,
    commits: CommitRange | None = None,
) -> pl.LazyFrame:
    """Events of `sources` with `start <= time < end`, as a lazy frame with `source` and `dt`.

    `columns` limits what is read (the partition columns are always available). `commits`
    limits the scan to what batches with those sequence numbers brought (incremental readers).
    The columns are those of every file of `sources`, whatever the range or commits.

    A folder that is not there raises `LakeError` (a mistyped path is not an empty lake); a
    source of which the lake holds no events at all warns, naming the sources it does hold,
    since an alias (`cloudtrail` for `aws.cloudtrail`) would otherwise read as no events.
    """
    paths = _existing(lake)
    wanted = _names(sources)
    start, end = moment(start), moment(end)
    held = list(_files(paths, "events"))
    if wanted:
        _warn_absent(wanted, {f.source for f in held})
    every = held if commits is None else _files(paths, "events", commits)
    files = [f for f in every if _keep(f, wanted, start, end)]
    # the columns are those of every file of the sources, so a query that names a column
    # works on any range and any commits, not only on those whose files happen to have it
    like = [f for f in held if wanted is None or f.source in wanted]
    return scan_files(paths, files, start=start, end=end, columns=columns, like=like)


def _names(sources: Iterable[str] | None) -> set[str] | None:
    """The sources asked for; one name alone is one source, not a set of letters."""
    if sources is None:
        return None
    return {sources} if isinstance(sources, str) else set(sources)


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
    wanted = _names(sources)
    return [f for f in _files(lake, "events", commits) if _keep(f, wanted, start, end)]


def scan_files(
    lake: LakePaths,
    files: Sequence[CommittedFile],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    columns: Sequence[str] | None = None,
    like: Sequence[CommittedFile] = (),
) -> pl.LazyFrame:
    """`scan_events` over exactly these committed files, under the union schema of them and
    of the files `like` (which are not read)."""
    schema = _union_schema([*like, *files]) if files or like else _empty_schema()
    if not files:
        frame = pl.DataFrame(schema=schema).lazy().with_columns(
            source=pl.lit(None, pl.String), dt=pl.lit(None, pl.Date)
        )
    else:
        # one scan per set of files that store their columns with the same types, each cast to
        # the union's: a scan of several files refuses one that stores a column as another type
        frame = pl.concat([_scan(lake, group, schema) for group in _alike(files, schema)])
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
    placed, staged = _where(paths, files)
    frames = [pl.scan_parquet(handle) for _, handle in staged]
    return pl.concat([*frames, pl.scan_parquet(placed)] if placed else frames)


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


def _alike(files: Sequence[CommittedFile], schema: pl.Schema) -> list[list[CommittedFile]]:
    """`files` in groups whose files store the same columns with types other than `schema`'s."""
    odd = {(n, t) for n, t in _stored(files) if n in schema and _polars_type(t) != schema[n]}
    if not odd:
        return [list(files)]
    groups: dict[frozenset[tuple[str, str]], list[CommittedFile]] = {}
    for file in files:
        groups.setdefault(frozenset(odd.intersection(file.columns.items())), []).append(file)
    return list(groups.values())


def _stored(files: Sequence[CommittedFile]) -> list[tuple[str, str]]:
    """Every (column, type name) that some file stores, in first-seen order."""
    pairs: dict[tuple[str, str], None] = {}
    for file in files:
        pairs.update(dict.fromkeys(file.columns.items()))
    return list(pairs)


def _scan(lake: LakePaths, files: Sequence[CommittedFile], schema: pl.Schema) -> pl.LazyFrame:
    """Files alike (`_alike`) read under `schema`: as they store them, then cast."""
    stored = _stored_types(files[0], schema)
    own = pl.Schema({name: stored.get(name, dtype) for name, dtype in schema.items()})
    placed, staged = _where(lake, files)
    frames = [
        pl.scan_parquet(handle, schema=own, missing_columns="insert", extra_columns="ignore")
        .with_columns(source=pl.lit(file.source, pl.String), dt=pl.lit(file.dt, pl.String).str.to_date())
        for file, handle in staged
    ]
    if placed:
        frames.append(pl.scan_parquet(
            placed,
            schema=own,
            missing_columns="insert",
            extra_columns="ignore",
            hive_partitioning=True,
            hive_schema={"source": pl.String, "dt": pl.Date},
        ))
    frame = pl.concat(frames)
    return frame.with_columns(pl.col(name).cast(schema[name]) for name in stored)


def _where(
    lake: LakePaths, files: Sequence[CommittedFile]
) -> tuple[list[str], list[tuple[CommittedFile, BinaryIO]]]:
    """The paths of the files in place, and the files still staged, opened: an ingest moves a
    committed file from `_staging/` into place at any moment, and a scan reads its paths only
    when collected, whereas an open file is read wherever it went."""
    placed: list[str] = []
    staged: list[tuple[CommittedFile, BinaryIO]] = []
    for file in files:
        path = committed_path(lake, file.path)
        if path.is_relative_to(lake.staging):
            try:
                staged.append((file, path.open("rb")))
                continue
            except FileNotFoundError:  # moved into place since
                path = committed_path(lake, file.path)
        placed.append(str(path))
    return placed, staged


def _stored_types(file: CommittedFile, schema: pl.Schema) -> dict[str, pl.DataType]:
    """The columns `file` stores with another type than `schema` says, with their type."""
    types = {name: _polars_type(t) for name, t in file.columns.items() if name in schema}
    return {name: dtype for name, dtype in types.items() if dtype != schema[name]}


def _union_schema(files: Sequence[CommittedFile]) -> pl.Schema:
    """Column → Polars type over all files, in first-seen order. A canonical column has its
    canonical type; a native column that files store with different types has one that
    takes all their values: the widest integer, a float, else text."""
    seen: dict[str, set[pl.DataType]] = {}
    for name, type_name in _stored(files):
        seen.setdefault(name, set()).add(_polars_type(type_name))
    canonical = _empty_schema()
    return pl.Schema(
        {name: canonical[name] if name in canonical else _common(types) for name, types in seen.items()}
    )


def _common(types: set[pl.DataType]) -> pl.DataType:
    if len(types) == 1:
        return next(iter(types))
    if all(t.is_integer() for t in types):
        return pl.Int64()
    return pl.Float64() if all(t.is_numeric() for t in types) else pl.String()


@cache
def _polars_type(type_name: str) -> pl.DataType:
    """The Polars type of an Arrow type as a commit record names it."""
    arrow = _TYPE_NAMES.get(type_name) or _parse_type(type_name)
    empty = pl.from_arrow(pa.schema([("column", arrow)]).empty_table())
    assert isinstance(empty, pl.DataFrame)
    return empty.schema["column"]


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


def moment(value: Moment | None) -> datetime | None:
    """A range bound as a UTC datetime (see `Moment`); text that is not ISO 8601 raises
    `ValueError` saying what is expected."""
    if value is None or isinstance(value, datetime):
        return None if value is None else _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _utc(datetime.fromisoformat(value))
        except ValueError:
            raise ValueError(f"time {value!r} is not ISO 8601: expected e.g. 2024-03-01 or 2024-03-01T10:00:00Z") from None
    raise TypeError(f"a time range bound is a datetime, a date or ISO 8601 text, not {type(value).__name__}")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
