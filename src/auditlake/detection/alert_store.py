"""The lake's append-only alert table: `alerts/part-<run>-<n>.parquet`.

Each file is written whole under a temporary name, fsynced and renamed into place, so a reader
or a crash never sees part of one. Appending skips alerts whose id is already stored: re-runs
and resumed runs add nothing twice.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pyarrow as pa

from auditlake.detection.alerts import ALERT_SCHEMA
from auditlake.lake.commits import fsync_dir
from auditlake.lake.parquet import write_parquet
from auditlake.lake.paths import LakePaths

PRUNING_COLUMNS = ("rule_id", "level", "source", "first_evidence_at", "last_evidence_at", "created_at")
"""Columns whose Parquet statistics let a reader skip alert files (by rule, level, source,
time); the others' are not written: min and max of unique ids skip nothing and cost a quarter
of writing a detection's alerts."""


def scan_alert_files(files: list[Path]) -> pl.LazyFrame:
    """Alert files as one frame of `ALERT_SCHEMA` (columns older files lack are null)."""
    return pl.scan_parquet([str(f) for f in files], schema=ALERT_SCHEMA, missing_columns="insert")


class AlertStore:
    """Alerts of one lake.

    To know which alerts are new, `append` looks up the stored alerts that could be the same:
    an alert's id is made from its rule, so only alerts of the appended rules, and only those
    whose first evidence falls in the appended alerts' time range (a detection alert's is its
    event's time, a correlation's its window's start). Parquet statistics skip the rest, so
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
        if not files:
            return ALERT_SCHEMA.to_frame()
        return scan_alert_files(files).collect()

    def scan(self) -> pl.LazyFrame:
        """Every stored alert."""
        files = self.files()
        if not files:
            return ALERT_SCHEMA.to_frame().lazy()
        return scan_alert_files(files)

    def stored_like(self, alerts: pl.DataFrame) -> pl.Series:
        """Ids of stored alerts that could be among `alerts` (see the class docstring)."""
        if self.disjoint_appends:
            if self._earlier is None:
                self._earlier = self.files()
            files = self._earlier
        else:
            self.flush()
            files = self.files()
        if not files or alerts.is_empty():
            return pl.Series("alert_id", [], pl.String)
        first = pl.col("first_evidence_at")
        low, high = alerts.select(first.min().alias("low"), first.max().alias("high")).row(0)
        in_range = first.is_null()
        if low is not None and high is not None:
            in_range = in_range | first.is_between(low, high)
        rules = alerts["rule_id"].unique().implode()
        stored = scan_alert_files(files)
        matching = stored.filter(pl.col("rule_id").is_in(rules) & in_range).select("alert_id")
        return matching.collect().get_column("alert_id")

    def unstored(self, alerts: pl.DataFrame) -> pl.DataFrame:
        """`alerts` without those already stored. Only `alert_id`, `rule_id` and
        `first_evidence_at` are read, so a batch's alerts can be checked before they are built
        (`alerts.with_alert_ids`)."""
        known = self.stored_like(alerts).implode()
        return alerts.filter(~pl.col("alert_id").is_in(known))

    def append(self, alerts: pl.DataFrame, *, run_id: str, unstored: bool = False) -> pl.DataFrame:
        """Store the alerts not stored yet; returns exactly those. They are durable on return,
        or (with `background`) once `flush` returns. `unstored`: the caller has just taken
        `alerts` from `unstored`, so they are not looked up again."""
        # Counting distinct ids is a third of the cost of dropping repeats, and a run's
        # batches seldom repeat one: drop them only when there are some.
        repeats = alerts.get_column("alert_id").n_unique() < alerts.height
        candidates = alerts.unique("alert_id", keep="first", maintain_order=True) if repeats else alerts
        fresh = candidates if unstored else self.unstored(candidates)
        if fresh.is_empty():
            return fresh
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._number is None:
            self._number = len(self.files())
        number, self._number = self._number, self._number + 1
        final = self.lake.inside(self.folder / f"part-{run_id}-{number:05d}.parquet")
        self.flush()
        if self._writer is None:
            self._write(fresh.to_arrow(), final)
        else:
            self._pending = self._writer.submit(self._write, fresh.to_arrow(), final)
        return fresh

    def _write(self, table: pa.Table, final: Path) -> None:
        temporary = self.folder / f".{final.name}.tmp"
        write_parquet(table, temporary, statistics=PRUNING_COLUMNS)
        os.replace(temporary, final)
        fsync_dir(self.folder)

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
