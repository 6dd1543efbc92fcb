"""The lake's append-only alert table: `alerts/part-<run>-<n>.parquet`.

Each file is written whole under a temporary name, fsynced and renamed into place, so a reader
or a crash never sees part of one. Appending skips alerts whose id is already stored: re-runs
and resumed runs add nothing twice. A detection run's matches are stored in the detection
layout, correlation alerts in the full one (`alert_files`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from auditlake.detection.alert_files import (
    DETECTION_SCHEMA,
    detection_rows,
    detection_table,
    scan_alert_files,
)
from auditlake.detection.alerts import ALERT_SCHEMA, RuleInfo, RunInfo
from auditlake.errors import LakeError
from auditlake.lake.commits import fsync_dir
from auditlake.lake.damage import first_line
from auditlake.lake.parquet import write_parquet
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import refused_as

PRUNING_COLUMNS = ("rule_id", "level", "source", "first_evidence_at", "last_evidence_at", "created_at")
"""Columns whose Parquet statistics let a reader skip alert files (by rule, level, source,
time); the others' are not written: min and max of unique ids skip nothing and cost a quarter
of writing a detection's alerts."""

SEPARATE_LENGTHS_COLUMNS = ("alert_id", "event_uid")
"""Ids written with their lengths apart (`lake.parquet.SEPARATE_LENGTHS`): most are UUIDs."""
NOT_STORED = (
    "detection stopped before marking these events done: running it again detects them again "
    "and stores no alert twice"
)

__all__ = ["PRUNING_COLUMNS", "AlertStore", "scan_alert_files"]


class AlertStore:
    """Alerts of one lake.

    To know which alerts are new, `append` looks up the stored alerts that could be the same:
    an alert's id is made from its rule, so only alerts of the appended rules, and only those
    whose last evidence falls in the appended alerts' time range (a detection alert's is its
    event's time, a correlation's its window's end, which its id names: a late event can move
    the window's start, not its id). Parquet statistics skip the rest, so
    the lookup follows the batch, not the table. With `disjoint_appends` (a detection run, which
    reads every event once), appends are not checked against one another: only the files
    stored before the first append are looked up.
    """

    def __init__(self, lake: LakePaths, *, disjoint_appends: bool = False, background: bool = False) -> None:
        self.lake = lake
        self.folder = lake.root / "alerts"
        self.disjoint_appends = disjoint_appends
        self._earlier: list[Path] | None = None
        self._number: int | None = None
        # With `background`, a file is written while the caller goes on (Parquet encoding runs
        # outside the GIL); one write at a time, so at most one batch of alerts waits in memory.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="alerts") if background else None
        self._pending: Future[None] | None = None

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet")) if self.folder.is_dir() else []

    def run_files(self, run_id: str) -> list[Path]:
        """The files one detection run wrote, in the order it wrote them."""
        return sorted(self.folder.glob(f"part-{run_id}-*.parquet")) if self.folder.is_dir() else []

    def read(self, files: list[Path]) -> pl.DataFrame:
        with _reading(files):
            return scan_alert_files(files).collect()

    def scan(self) -> pl.LazyFrame:
        """Every stored alert."""
        return scan_alert_files(self.files())

    def stored_like(self, alerts: pl.DataFrame) -> pl.Series:
        """Ids of stored alerts that could be among `alerts` (see the class docstring)."""
        files = self._lookup_files()
        with _reading(files):
            like = self._like(alerts, files, by="last_evidence_at")
            return like.select("alert_id").collect().get_column("alert_id")

    def _lookup_files(self) -> list[Path]:
        """The files an append looks its alerts up in (see the class docstring)."""
        if self.disjoint_appends:
            if self._earlier is None:
                self._earlier = self.files()
            return self._earlier
        self.flush()
        return self.files()

    @staticmethod
    def _like(alerts: pl.DataFrame, files: list[Path], *, by: str = "first_evidence_at") -> pl.LazyFrame:
        """The alerts stored in `files` that could be among `alerts`: of their rules and time
        range, as column `by` gives it (detection rows have only `first_evidence_at`, their
        last evidence too)."""
        if not files or alerts.is_empty():
            return ALERT_SCHEMA.to_frame().lazy()
        moment = pl.col(by)
        low, high = alerts.select(moment.min().alias("low"), moment.max().alias("high")).row(0)
        in_range = moment.is_null()
        if low is not None and high is not None:
            in_range = in_range | moment.is_between(low, high)
        rules = alerts["rule_id"].unique().implode()
        return scan_alert_files(files).filter(pl.col("rule_id").is_in(rules) & in_range)

    def unstored(self, alerts: pl.DataFrame) -> pl.DataFrame:
        """`alerts` without those already stored. Only `alert_id`, `rule_id` and
        `last_evidence_at` are read."""
        known = self.stored_like(alerts).implode()
        return alerts.filter(~pl.col("alert_id").is_in(known))

    def append(self, alerts: pl.DataFrame, *, run_id: str) -> pl.DataFrame:
        """Store the alerts (`ALERT_SCHEMA`) not stored yet, in the full layout; returns exactly
        those. They are durable on return, or (with `background`) once `flush` returns."""
        # Counting distinct ids is a third of the cost of dropping repeats, and a run's
        # batches seldom repeat one: drop them only when there are some.
        repeats = alerts.get_column("alert_id").n_unique() < alerts.height
        candidates = alerts.unique("alert_id", keep="first", maintain_order=True) if repeats else alerts
        fresh = self.unstored(candidates)
        if fresh.is_empty():
            return fresh
        self._store(fresh.to_arrow(), run_id, PRUNING_COLUMNS)
        return fresh

    def append_detections(self, evidence: pl.DataFrame, rules: Mapping[str, RuleInfo], run: RunInfo) -> pl.DataFrame:
        """Store a detection run's matches not stored yet, in the detection layout: `evidence`
        as `alerts.evidence_frame` builds it with the matching rule's id in `rule_id`, `rules`
        describing each rule. Returns those stored, as `detection_rows` gives them; durable
        as after `append`.

        A detection alert is (rule, event): a match is new unless an alert of its rule on an
        event of its id is stored, or given earlier in `evidence` (the first one is kept).
        """
        rows = detection_rows(evidence)
        # Equal pairs hash alike, so distinct hashes rule repeats out at a third of the cost
        # of looking for them; a collision only costs the exact look.
        hashed = pl.col("event_uid").hash(7) + pl.col("rule_id").hash(11) * 3
        if rows.select(hashed.n_unique()).item() < rows.height:
            rows = rows.filter(pl.struct("rule_id", "event_uid").is_first_distinct())
        files = self._lookup_files()
        if files:
            with _reading(files):
                stored = self._like(rows, files).select("rule_id", pl.col("event_uids").list.first().alias("event_uid"))
                known = stored.collect()
            pairs = ["rule_id", "event_uid"]
            rows = rows.join(known, on=pairs, how="anti", nulls_equal=True, maintain_order="left")
        if rows.is_empty():
            return rows
        statistics = [c for c in PRUNING_COLUMNS if c in DETECTION_SCHEMA]
        self._store(detection_table(rows, rules, run), run.run_id, statistics)
        return rows

    def _store(self, table: pa.Table, run_id: str, statistics: Sequence[str]) -> None:
        """Write `table` as the run's next file (in the background when asked)."""
        with refused_as(self.folder, outcome=NOT_STORED):
            self.folder.mkdir(parents=True, exist_ok=True)
        if self._number is None:
            self._number = len(self.files())
        number, self._number = self._number, self._number + 1
        final = self.lake.inside(self.folder / f"part-{run_id}-{number:05d}.parquet")
        self.flush()
        if self._writer is None:
            self._write(table, final, statistics)
        else:
            self._pending = self._writer.submit(self._write, table, final, statistics)

    def _write(self, table: pa.Table, final: Path, statistics: Sequence[str]) -> None:
        temporary = self.folder / f".{final.name}.tmp"
        try:
            with refused_as(final, outcome=NOT_STORED):
                write_parquet(table, temporary, statistics=statistics, separate_lengths=SEPARATE_LENGTHS_COLUMNS)
                os.replace(temporary, final)
                fsync_dir(self.folder)
        finally:
            with suppress(OSError):  # a refused write's part gives its space back
                temporary.unlink(missing_ok=True)

    def flush(self) -> None:
        """Wait until every append is durable; raises a background write's error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """`flush`, then stop the background writer (a write under way is let finish)."""
        try:
            self.flush()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)


class UnreadableAlertFiles(LakeError):
    """Stored alert files that no longer read (a bad disk, a hand edit)."""

    def __init__(self, files: Sequence[Path], cause: BaseException) -> None:
        self.files = tuple(files)
        super().__init__(
            f"{len(files)} stored alert file(s) no longer read: {', '.join(str(f) for f in files[:5])}"
            f"{' and more' if len(files) > 5 else ''} ({first_line(cause)})",
            hint="move them out of alerts/, then run `auditlake detect --since ... --until ...` over "
            "the time they covered: alert ids are deterministic, so the run writes again exactly the "
            "alerts they held (and hands them to the sinks again)",
        )


@contextmanager
def _reading(files: Sequence[Path]) -> Iterator[None]:
    """Raise `UnreadableAlertFiles` naming the files at fault when reading `files` fails
    because some of them no longer read; any other failure passes through. Each file is
    read whole only then."""
    try:
        yield
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError) as error:
        unreadable = [path for path in files if not _reads(path)]
        if unreadable:
            raise UnreadableAlertFiles(unreadable, error) from error
        raise


def _reads(path: Path) -> bool:
    try:
        pq.read_table(path)
    except (pa.ArrowException, OSError):
        return False
    return True
