"""The lake's append-only alert table: `alerts/part-<run>-<n>.parquet`.

Each file is written whole under a temporary name, fsynced and renamed into place, so a reader
or a crash never sees part of one. Appending skips alerts whose id is already stored: re-runs
and resumed runs add nothing twice.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa

from auditlake.detection.alerts import ALERT_SCHEMA
from auditlake.lake.commits import fsync_dir
from auditlake.lake.parquet import write_parquet
from auditlake.lake.paths import LakePaths


class AlertStore:
    """Alerts of one lake.

    To know which alerts are new, `append` loads the ids already stored. A detection run
    narrows that, so memory follows the run rather than the whole table:

    - `evidence_span`: only stored alerts whose first evidence falls in [start, end) can be
      duplicates of what this store will append (None: any stored alert);
    - `disjoint_appends`: no two appends through this store hold the same alert (a run reads
      every event once), so ids appended here need not be remembered.
    """

    def __init__(
        self,
        lake: LakePaths,
        *,
        evidence_span: tuple[datetime | None, datetime | None] | None = None,
        disjoint_appends: bool = False,
        background: bool = False,
    ) -> None:
        self.lake = lake
        self.folder = lake.root / "alerts"
        self.evidence_span = evidence_span
        self.disjoint_appends = disjoint_appends
        self._ids: set[str] | None = None
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
        return pl.scan_parquet([str(f) for f in files], schema=ALERT_SCHEMA, missing_columns="insert").collect()

    def scan(self) -> pl.LazyFrame:
        """Every stored alert."""
        files = self.files()
        if not files:
            return ALERT_SCHEMA.to_frame().lazy()
        return pl.scan_parquet([str(f) for f in files], schema=ALERT_SCHEMA, missing_columns="insert")

    def ids(self) -> set[str]:
        """Ids this store's appends are checked against (see the class docstring)."""
        if self._ids is None:
            stored = self.scan()
            if self.evidence_span is not None:
                start, end = self.evidence_span
                first = pl.col("first_evidence_at")
                if start is not None:
                    stored = stored.filter(first.is_null() | (first >= start))
                if end is not None:
                    stored = stored.filter(first.is_null() | (first < end))
            self._ids = set(stored.select("alert_id").collect()["alert_id"].to_list())
        return self._ids

    def append(self, alerts: pl.DataFrame, *, run_id: str) -> pl.DataFrame:
        """Store the alerts not stored yet; returns exactly those. They are durable on return,
        or (with `background`) once `flush` returns."""
        known = self.ids()
        candidates = alerts.unique("alert_id", keep="first", maintain_order=True)
        # Membership in the Python set, not `is_in`: building a Series of every stored id for
        # each batch would cost more than the batch itself.
        new = pl.Series([i not in known for i in candidates["alert_id"].to_list()], dtype=pl.Boolean)
        fresh = candidates.filter(new)
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
        if not self.disjoint_appends:
            known.update(fresh["alert_id"].to_list())
        return fresh

    def _write(self, table: pa.Table, final: Path) -> None:
        temporary = self.folder / f".{final.name}.tmp"
        write_parquet(table, temporary)
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
