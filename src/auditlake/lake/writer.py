"""Committing batches of events to the lake: atomic, idempotent, crash-safe.

A batch is staged under `_staging/<batch>/`, fsynced, then made visible in one step by its
commit record (`lake.commits`), and only then moved into `events/source=…/dt=…/`. A crash before
the record leaves nothing visible (the staging folder is removed on the next open); a crash after
it is rolled forward on the next open, and readers already see the staged files meanwhile.

Re-ingesting adds nothing: events whose `event_uid` is already in their partition, or repeated
within the batch, are counted as duplicates and skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import polars as pl
import pyarrow as pa

from auditlake.lake.commits import (
    Commit,
    CommittedFile,
    committed_batches,
    fsync_dir,
    next_seq,
    read_commits,
    write_commit,
)
from auditlake.lake.damage import reading
from auditlake.lake.lock import FileLock
from auditlake.lake.parquet import write_parquet_files
from auditlake.lake.paths import LakePaths, check_source, part_name, partition_dir
from auditlake.lake.quarantine import QuarantineEntry, quarantine_table
from auditlake.lake.write_refused import WriteRefused, refused_as

NOT_PUBLISHED = (
    "nothing of this batch was published; batches committed before it are kept, and ingesting "
    "the same input again adds only what is missing"
)
PUBLISHED_STAGED = (
    "the batch is committed and readable; the next ingest finishes moving its files into place"
)
RECOVERY_LEFT = (
    "no new data was written; a batch committed by an interrupted ingest is partly still under "
    "_staging/, where readers find it, and the next ingest that can write moves it into place"
)


@dataclass(slots=True)
class CommitResult:
    """What one commit added, and what it skipped as already present."""

    batch_id: str | None = None
    rows: Counter[tuple[str, str]] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    quarantine_duplicates: int = 0


@dataclass(frozen=True, slots=True)
class _Staged:
    file: CommittedFile
    table: pa.Table


class LakeWriter:
    """The single writer of a lake. Use as a context manager: it holds the writer lock."""

    def __init__(self, lake: LakePaths, *, now: Callable[[], datetime] | None = None) -> None:
        self.lake = lake
        self.now = now or (lambda: datetime.now(UTC))
        self._lock = FileLock(lake.locks / "writer.lock", purpose="lake writer")
        self._files: dict[tuple[str, str, str | None], list[CommittedFile]] = {}
        self._known: dict[tuple[str, str, str | None], pl.Series] = {}

    def __enter__(self) -> LakeWriter:
        with refused_as(self.lake.root, outcome="nothing was written"):
            self.lake.root.mkdir(parents=True, exist_ok=True)
        self._lock.__enter__()
        try:
            with refused_as(self.lake.staging, outcome=RECOVERY_LEFT):
                recover(self.lake)
            self._index()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.__exit__(exc_type, exc, tb)

    def commit(
        self, events: Mapping[str, pa.Table], quarantine: Sequence[QuarantineEntry] = ()
    ) -> CommitResult:
        """Stage, commit and publish one batch: `events` by source name, plus rejected records."""
        batch_id = uuid.uuid4().hex
        at = self.now()
        result = CommitResult()
        staged: list[_Staged] = []
        for source, table in events.items():
            staged += self._stage_events(check_source(source), table, batch_id, at, result)
        staged += self._stage_quarantine(quarantine, batch_id, at, result)
        if not staged:
            return result
        commit = Commit(next_seq(self.lake), batch_id, at.isoformat(), tuple(s.file for s in staged))
        self._publish(commit, staged)
        result.batch_id = batch_id
        return result

    def _stage_events(
        self, source: str, table: pa.Table, batch_id: str, at: datetime, result: CommitResult
    ) -> list[_Staged]:
        table = _stamp(table, "ingested_at", at)
        keys = pl.from_arrow(table.select(["event_uid", "time"]))
        assert isinstance(keys, pl.DataFrame)
        keys = keys.with_row_index("_i").with_columns(_dt=pl.col("time").dt.date().cast(pl.String))
        # Identity is checked within a day, as against stored rows (`_known_ids` per partition):
        # two records of one id on different days both land, however the input is batched.
        unique = keys.unique(subset=["event_uid", "_dt"], keep="first", maintain_order=True)
        result.duplicates[source] += keys.height - unique.height
        staged = []
        for (day,), group in unique.group_by("_dt", maintain_order=True):
            key = ("events", source, str(day))
            fresh = group.filter(~pl.col("event_uid").is_in(self._known_ids(key).implode()))
            result.duplicates[source] += group.height - fresh.height
            if fresh.height == 0:
                continue
            part = _select(table, fresh.sort("time", maintain_order=True)["_i"])
            rel = f"events/{partition_dir(source, str(day))}/{part_name(batch_id)}"
            times = fresh["time"]
            file = CommittedFile(
                rel, "events", source, str(day), part.num_rows, "",
                min_time=str(times.min()), max_time=str(times.max()), columns=_columns(part),
            )
            staged.append(_Staged(file, part))
            result.rows[(source, str(day))] += part.num_rows
        return staged

    def _stage_quarantine(
        self, entries: Sequence[QuarantineEntry], batch_id: str, at: datetime, result: CommitResult
    ) -> list[_Staged]:
        by_source: dict[str, list[QuarantineEntry]] = {}
        for entry in entries:
            by_source.setdefault(check_source(entry.source), []).append(entry)
        staged = []
        for source, group in by_source.items():
            key = ("quarantine", source, None)
            known = set(self._known_ids(key).to_list())
            fresh: dict[bytes, QuarantineEntry] = {}
            for entry in group:
                digest = entry.record_hash
                if digest.hex() not in known and digest not in fresh:
                    fresh[digest] = entry
            result.quarantine_duplicates += len(group) - len(fresh)
            if not fresh:
                continue
            table = quarantine_table(list(fresh.values()), at)
            rel = f"quarantine/source={source}/{part_name(batch_id)}"
            file = CommittedFile(rel, "quarantine", source, None, table.num_rows, "", columns=_columns(table))
            staged.append(_Staged(file, table))
            result.quarantined += table.num_rows
        return staged

    def _publish(self, commit: Commit, staged: list[_Staged]) -> None:
        stage_root = self.lake.inside(self.lake.staging / commit.batch_id)
        try:
            with refused_as(stage_root, outcome=NOT_PUBLISHED):
                digests = write_parquet_files(
                    [(item.table, self.lake.inside(stage_root / item.file.path)) for item in staged]
                )
                files = [_with_digest(item.file, digest) for item, digest in zip(staged, digests, strict=True)]
                commit = Commit(commit.seq, commit.batch_id, commit.created_at, tuple(files))
                write_commit(self.lake, commit)
        except WriteRefused:
            if not (self.lake.commits / commit.name).exists():
                shutil.rmtree(stage_root, ignore_errors=True)  # give the space back at once
            raise
        with refused_as(stage_root, outcome=PUBLISHED_STAGED):
            _move_into_place(self.lake, commit)
        for item, file in zip(staged, files, strict=True):
            self._remember(file, item.table)

    def _index(self) -> None:
        for commit in read_commits(self.lake):
            for file in commit.files:
                self._files.setdefault((file.table, file.source, file.dt), []).append(file)

    def _known_ids(self, key: tuple[str, str, str | None]) -> pl.Series:
        """Identities already committed in one partition, loaded once per writer."""
        if key not in self._known:
            column = "event_uid" if key[0] == "events" else "record_hash"
            files = self._files.get(key, [])
            if files:
                paths = [committed_path(self.lake, f.path) for f in files]
                with reading(self.lake, files):  # a damaged file is named, not a reader's error
                    # one scan per file: a partition's files may differ in their native
                    # columns, and a scan of several takes its schema from the first
                    ids = pl.concat([pl.scan_parquet(p).select(column) for p in paths]).collect().to_series()
                self._known[key] = ids.bin.encode("hex") if column == "record_hash" else ids
            else:
                self._known[key] = pl.Series(column, [], dtype=pl.String)
        return self._known[key]

    def _remember(self, file: CommittedFile, table: pa.Table) -> None:
        key = (file.table, file.source, file.dt)
        self._files.setdefault(key, []).append(file)
        if key in self._known:
            if file.table == "events":
                fresh = _series(table, "event_uid").cast(pl.String)
            else:
                fresh = _series(table, "record_hash").bin.encode("hex")
            self._known[key] = self._known[key].append(fresh)


def _series(table: pa.Table, name: str) -> pl.Series:
    series = pl.from_arrow(table.column(name))
    assert isinstance(series, pl.Series)
    return series.alias(name)


def _select(table: pa.Table, order: pl.Series) -> pa.Table:
    """The rows of `table` at positions `order`, copying as little as the order allows.

    Inputs are usually already in time order and one day long, so the common cases are a
    zero-copy slice or an order-keeping filter; only a real reordering pays for a gather.
    """
    first, count = order[0], len(order)
    if order[-1] - first == count - 1 and order.is_sorted():
        return table.slice(first, count)
    if order.is_sorted():
        mask = pl.zeros(table.num_rows, dtype=pl.Boolean, eager=True).scatter(order, True)
        return table.filter(mask.to_arrow())
    return table.take(order.to_arrow())


def _stamp(table: pa.Table, name: str, at: datetime) -> pa.Table:
    index = table.schema.get_field_index(name)
    column = pa.repeat(pa.scalar(at, type=table.schema.field(name).type), table.num_rows)
    return table.set_column(index, name, column)


def _columns(table: pa.Table) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema}


def _with_digest(file: CommittedFile, digest: str) -> CommittedFile:
    return CommittedFile(
        file.path, file.table, file.source, file.dt, file.rows, digest,
        file.min_time, file.max_time, file.columns,
    )


def committed_path(lake: LakePaths, rel: str) -> Path:
    """Where a committed file is now: in place, or still staged if publishing was interrupted."""
    final = lake.inside(lake.root / rel)
    if final.exists():
        return final
    for staged in lake.staging.glob(f"*/{rel}") if lake.staging.is_dir() else ():
        return lake.inside(staged)
    return final


def _move_into_place(lake: LakePaths, commit: Commit) -> None:
    stage_root = lake.staging / commit.batch_id
    for file in commit.files:
        source = stage_root / file.path
        target = lake.inside(lake.root / file.path)
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            fsync_dir(target.parent)
    shutil.rmtree(stage_root, ignore_errors=True)


def recover(lake: LakePaths) -> None:
    """Finish what a crashed writer left: roll committed batches forward, drop the rest."""
    if not lake.staging.is_dir():
        return
    committed = committed_batches(lake)
    by_batch = {c.batch_id: c for c in read_commits(lake)} if committed else {}
    for stage in sorted(lake.staging.iterdir()):
        if stage.name in by_batch:
            _move_into_place(lake, by_batch[stage.name])
        else:
            shutil.rmtree(stage, ignore_errors=True)
