"""A run's correlated matches: held in memory, then written out, read back by time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
from tests.lake.helpers import file_size_limit

from auditlake.detection.spilled_matches import SpilledMatches, time_slices
from auditlake.lake.write_refused import WriteRefused

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _matches(uids: list[str], hours: list[int | None]) -> pl.DataFrame:
    times = [None if h is None else T0 + timedelta(hours=h) for h in hours]
    return pl.DataFrame({"event_uid": uids, "time": times}, schema={"event_uid": pl.String, "time": pl.Datetime("us", "UTC")})


def test_matches_past_the_memory_bound_are_written_out_and_read_back_in_order(tmp_path: Path) -> None:
    spill = SpilledMatches(tmp_path / "run", memory_bytes=1)
    spill.add(_matches(["a", "b"], [0, 5]))
    spill.add(pl.DataFrame())  # a batch without matches
    spill.add(_matches(["c", "d"], [2, None]))
    assert len(list((tmp_path / "run").glob("*.parquet"))) == 2
    assert spill.rows == 4 and spill.times == (T0, T0 + timedelta(hours=5))
    assert spill.read(None, None)["event_uid"].to_list() == ["a", "b", "c", "d"]
    assert spill.read(T0 + timedelta(hours=1), T0 + timedelta(hours=5))["event_uid"].to_list() == ["c"]
    spill.close()
    assert not (tmp_path / "run").exists() and spill.read(None, None).is_empty()


def test_matches_within_the_memory_bound_stay_in_memory(tmp_path: Path) -> None:
    spill = SpilledMatches(tmp_path / "run")
    spill.add(_matches(["a", "b"], [3, 1]))
    assert not (tmp_path / "run").exists()
    assert spill.read(T0, T0 + timedelta(hours=2))["event_uid"].to_list() == ["b"]


def test_time_slices_cover_every_time_once() -> None:
    low, high = T0, T0 + timedelta(hours=10)
    for rows, per_slice in ((1, 5), (10, 5), (100, 7), (3, 1)):
        slices = time_slices(low, high, rows, per_slice)
        assert slices[0][0] == low and slices[-1][1] > high
        assert all(a < b == c for (a, b), (c, _) in pairwise(slices))
        assert len(slices) == -(-rows // per_slice)


def test_matches_the_disk_refuses_stop_the_run_with_what_to_do(tmp_path: Path) -> None:
    spill = SpilledMatches(tmp_path / "run", memory_bytes=1)
    with pytest.raises(WriteRefused) as raised, file_size_limit(0):
        spill.add(_matches(["a", "b"], [0, 5]))
    assert "could not write: File too large" in str(raised.value)
    assert "detection stopped before marking these events done" in str(raised.value)
    spill.close()
    assert not (tmp_path / "run").exists()
