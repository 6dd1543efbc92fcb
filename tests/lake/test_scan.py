from __future__ import annotations

import warnings
from datetime import UTC, datetime

import polars as pl
import pytest
from tests.lake.helpers import events

from auditlake.errors import LakeError
from auditlake.lake import LakePaths, LakeWriter, scan_events, scan_quarantine
from auditlake.lake.scan import CommitRange, native_columns


def _lake(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T10:00:00"), ("b", "2024-03-02T10:00:00"), eventName="Old")})
        writer.commit({"okta.system": events(("c", "2024-03-02T11:00:00"), eventType="user.session.start")})
        # a native column that only appears in a later file
        writer.commit({"aws.cloudtrail": events(("d", "2024-03-03T10:00:00"), eventName="New", newField="x")})
    return lake


def test_schema_evolution_column_queryable_over_whole_lake(tmp_path):
    lake = _lake(tmp_path)
    frame = scan_events(lake, sources=["aws.cloudtrail"]).select("event_uid", "newField").sort("event_uid").collect()
    assert frame.to_dicts() == [
        {"event_uid": "a", "newField": None},
        {"event_uid": "b", "newField": None},
        {"event_uid": "d", "newField": "x"},
    ]
    assert scan_events(lake).filter(pl.col("newField") == "x").collect()["event_uid"].to_list() == ["d"]
    assert "newField" in native_columns(lake, "aws.cloudtrail")


def test_prunes_by_source_and_time(tmp_path):
    lake = _lake(tmp_path)
    got = scan_events(
        lake,
        sources=["aws.cloudtrail"],
        start=datetime(2024, 3, 2, tzinfo=UTC),
        end=datetime(2024, 3, 3, tzinfo=UTC),
    ).collect()
    assert got["event_uid"].to_list() == ["b"]
    assert got["source"].to_list() == ["aws.cloudtrail"]


def test_end_is_exclusive_and_naive_times_are_utc(tmp_path):
    lake = _lake(tmp_path)
    got = scan_events(lake, start=datetime(2024, 3, 2, 10), end=datetime(2024, 3, 2, 11)).collect()
    assert got["event_uid"].to_list() == ["b"]


def test_columns_projection(tmp_path):
    lake = _lake(tmp_path)
    got = scan_events(lake, columns=["event_uid", "eventType", "source"]).sort("event_uid").collect()
    assert got.columns == ["event_uid", "eventType", "source"]
    assert got.filter(pl.col("source") == "okta.system")["eventType"].to_list() == ["user.session.start"]


def test_empty_lake_has_the_canonical_columns(tmp_path):
    frame = scan_events(tmp_path).collect()
    assert frame.height == 0
    assert {"time", "actor_id", "action", "raw", "source", "dt"} <= set(frame.columns)


def test_a_missing_lake_is_an_error_not_an_empty_lake(tmp_path):
    for reader in (scan_events, scan_quarantine, lambda lake: native_columns(lake, "okta.system")):
        with pytest.raises(LakeError, match=r"no lake at .*nothing is there.*auditlake ingest"):
            reader(tmp_path / "mistyped")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(LakeError, match="a file is there"):
        scan_events(tmp_path / "a-file")


def test_a_source_the_lake_never_held_warns_with_the_ones_it_holds(tmp_path):
    lake = _lake(tmp_path)
    with pytest.warns(UserWarning, match=r"no events of cloudtrail \(its sources: aws.cloudtrail, okta.system\)"):
        assert scan_events(lake, sources=["cloudtrail"]).collect().height == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # held, though not in this range or these commits: no warning
        scan_events(lake, sources=["okta.system"], start=datetime(2030, 1, 1, tzinfo=UTC)).collect()
        scan_events(lake, sources=["okta.system"], commits=CommitRange(after=2)).collect()
