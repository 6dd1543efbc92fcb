"""The lake's append-only alert table: `alerts/part-<run>-<n>.parquet`.

Each file is written whole under a temporary name, fsynced and renamed into place, so a reader
or a crash never sees part of one. Appending skips alerts whose id is already stored: re-runs
and resumed runs add nothing twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from auditlake.detection.alerts import ALERT_SCHEMA
from auditlake.lake.commits import fsync_dir
from auditlake.lake.parquet import write_parquet
from auditlake.lake.paths import LakePaths


class AlertStore:
    """Alerts of one lake."""

    def __init__(self, lake: LakePaths) -> None:
        self.lake = lake
        self.folder = lake.root / "alerts"
        self._ids: set[str] | None = None

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet")) if self.folder.is_dir() else []

    def scan(self) -> pl.LazyFrame:
        """Every stored alert."""
        files = self.files()
        if not files:
            return ALERT_SCHEMA.to_frame().lazy()
        return pl.scan_parquet([str(f) for f in files], schema=ALERT_SCHEMA, missing_columns="insert")

    def ids(self) -> set[str]:
        if self._ids is None:
            self._ids = set(self.scan().select("alert_id").collect()["alert_id"].to_list())
        return self._ids

    def append(self, alerts: pl.DataFrame, *, run_id: str) -> pl.DataFrame:
        """Store the alerts not stored yet, durably; returns exactly those."""
        known = self.ids()
        candidates = alerts.unique("alert_id", keep="first", maintain_order=True)
        # Membership in the Python set, not `is_in`: building a Series of every stored id for
        # each batch would cost more than the batch itself.
        new = pl.Series([i not in known for i in candidates["alert_id"].to_list()], dtype=pl.Boolean)
        fresh = candidates.filter(new)
        if fresh.is_empty():
            return fresh
        self.folder.mkdir(parents=True, exist_ok=True)
        number = len(self.files())
        final = self.lake.inside(self.folder / f"part-{run_id}-{number:05d}.parquet")
        temporary = self.folder / f".{final.name}.tmp"
        write_parquet(fresh.to_arrow(), temporary)
        os.replace(temporary, final)
        fsync_dir(self.folder)
        known.update(fresh["alert_id"].to_list())
        return fresh
