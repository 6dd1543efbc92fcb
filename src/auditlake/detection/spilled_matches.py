"""A run's matches for correlations, held until correlations read them slice by slice: in
memory, or on disk past a bound.

Correlations read every match of the rules they reference over the run's whole range, and a
run reads its batches one by one: held in memory, those matches grow with the lake (about 370
bytes a match; the cloud benchmark's week holds 342k of them, 121 MiB). Past `MEMORY_BYTES`
they are written to Parquet files in the run's own folder under the lake's `_state/tmp/`, and
read back by time slices (`time_slices`, `read`). The folder is removed when the run ends, and
any a killed run left behind when the next run starts.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import polars as pl

from auditlake.detection.alert_store import NOT_STORED
from auditlake.detection.frame_size import retained_bytes
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import refused_as

TIME = "time"
PREFIX = "detect-"


def time_slices(low: datetime, high: datetime, rows: int, per_slice: int) -> list[tuple[datetime, datetime]]:
    """Consecutive time ranges `[start, end)` from `low` to just past `high`, as many as `rows`
    matches spread evenly over them need for about `per_slice` a range.

    >>> from datetime import UTC
    >>> day = datetime(2026, 3, 2, tzinfo=UTC)
    >>> [(a.hour, b.hour) for a, b in time_slices(day, day + timedelta(hours=4), 10, 5)]
    [(0, 2), (2, 4)]
    """
    end = high + timedelta(microseconds=1)
    count = max(1, -(-rows // max(per_slice, 1)))
    step = (end - low) / count
    edges = [low + step * n for n in range(count)] + [end]
    return [(a, b) for a, b in pairwise(edges) if a < b]


def time_range(frame: pl.DataFrame) -> tuple[datetime, datetime] | None:
    """The earliest and latest `time` of `frame` (None: no row has one)."""
    if frame.is_empty():
        return None
    low, high = frame.select(pl.col(TIME).min().alias("low"), pl.col(TIME).max().alias("high")).row(0)
    return None if low is None else (low, high)


def tmp_folder(lake: LakePaths) -> Path:
    return lake.state / "tmp"


def remove_leftovers(lake: LakePaths) -> None:
    """Remove what killed runs left (call only under the run lock: no run is using them)."""
    folder = tmp_folder(lake)
    if folder.is_dir():
        for path in folder.glob(f"{PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)


MEMORY_BYTES = 256 * 2**20
"""Matches held in memory (counted as `retained_bytes`) before they are all written out:
writing and reading back costs a run of the cloud benchmark about 0.4 s, which a run whose
matches fit in memory need not pay."""


@dataclass
class SpilledMatches:
    """Frames of matches (each with a `time` column), held in memory up to `memory_bytes`, and
    then written to files in `folder` as they come."""

    folder: Path
    memory_bytes: int = MEMORY_BYTES
    _held: list[pl.DataFrame] = field(default_factory=list, init=False)
    _held_bytes: int = field(default=0, init=False)
    _files: list[Path] = field(default_factory=list, init=False)
    _rows: int = field(default=0, init=False)
    _low: datetime | None = field(default=None, init=False)
    _high: datetime | None = field(default=None, init=False)

    @classmethod
    def for_run(cls, lake: LakePaths, run_id: str) -> SpilledMatches:
        return cls(lake.inside(tmp_folder(lake) / f"{PREFIX}{run_id}"), MEMORY_BYTES)

    @property
    def rows(self) -> int:
        return self._rows

    def add(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        self._held.append(frame)
        self._held_bytes += retained_bytes(frame)
        if self._held_bytes > self.memory_bytes:
            for held in self._held:
                self._write(held)
            self._held, self._held_bytes = [], 0
        self._rows += frame.height
        times = time_range(frame)
        if times is not None:
            self._low = times[0] if self._low is None else min(self._low, times[0])
            self._high = times[1] if self._high is None else max(self._high, times[1])

    @property
    def times(self) -> tuple[datetime, datetime] | None:
        """The earliest and latest match time (None: no match with a time)."""
        return None if self._low is None or self._high is None else (self._low, self._high)

    def _write(self, frame: pl.DataFrame) -> None:
        path = self.folder / f"part-{len(self._files):05d}.parquet"
        with refused_as(path, outcome=NOT_STORED):
            self.folder.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path, compression="lz4", statistics=True)
        self._files.append(path)

    def read(self, start: datetime | None, end: datetime | None, where: pl.Expr | None = None) -> pl.DataFrame:
        """The matches with `start <= time < end` (None: unbounded) for which `where` holds,
        in the order added (the conditions are applied as the files are read)."""
        parts = [pl.scan_parquet(path) for path in self._files] + [held.lazy() for held in self._held]
        if not parts:
            return pl.DataFrame()
        frame = pl.concat(parts, how="diagonal_relaxed")
        if start is not None:
            frame = frame.filter(pl.col(TIME) >= start)
        if end is not None:
            frame = frame.filter(pl.col(TIME) < end)
        if where is not None:
            frame = frame.filter(where)
        return frame.collect()

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._held, self._held_bytes, self._files, self._rows, self._low, self._high = [], 0, [], 0, None, None
