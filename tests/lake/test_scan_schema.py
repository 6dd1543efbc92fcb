"""The columns and types of a lake scan: the same whatever range or commits it reads."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pyarrow as pa
from tests.lake.helpers import events

from auditlake.lake import LakePaths, LakeWriter, scan_events


def _typed(table: pa.Table, name: str, dtype: pa.DataType) -> pa.Table:
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, table.column(name).cast(dtype))


def _evolving_lake(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        writer.commit({"aws.cloudtrail": events(("a", "2024-03-01T10:00:00"), eventName="Old")})
        writer.commit({"okta.system": events(("b", "2024-03-02T10:00:00"), eventType="user.session.start")})
        writer.commit({"aws.cloudtrail": events(("c", "2024-03-03T10:00:00"), eventName="New", newField="x")})
    return lake


def test_a_column_of_later_files_reads_as_null_in_a_range_before_them(tmp_path):
    lake = _evolving_lake(tmp_path)
    before = datetime(2024, 3, 2, tzinfo=UTC)
    got = scan_events(lake, sources=["aws.cloudtrail"], end=before).select("event_uid", "newField")
    assert got.collect().to_dicts() == [{"event_uid": "a", "newField": None}]
    got = scan_events(lake, columns=["event_uid", "newField"], end=before).collect()
    assert got.to_dicts() == [{"event_uid": "a", "newField": None}]


def test_a_range_without_events_has_the_columns_of_one_with_events(tmp_path):
    lake = _evolving_lake(tmp_path)
    empty = scan_events(lake, start=datetime(2030, 1, 1, tzinfo=UTC))
    assert empty.collect_schema() == scan_events(lake).collect_schema()
    assert empty.filter(pl.col("eventType") == "user.session.start").collect().height == 0
    okta = scan_events(lake, sources=["okta.system"], start=datetime(2024, 3, 3, tzinfo=UTC))
    assert okta.select("eventType").collect().height == 0


def test_a_native_column_stored_as_numbers_and_as_text_reads_as_text(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        windows = events(("w", "2024-03-01T10:00:00"), EventID="4624")
        writer.commit({"windows.eventlog": _typed(windows, "EventID", pa.int64())})
        writer.commit({"myapp.audit": events(("m", "2024-03-01T11:00:00"), EventID="login-ok")})
    got = scan_events(lake).select("event_uid", "EventID").sort("event_uid").collect()
    assert got.to_dicts() == [{"event_uid": "m", "EventID": "login-ok"}, {"event_uid": "w", "EventID": "4624"}]
    assert scan_events(lake).filter(pl.col("EventID") == "4624").collect()["event_uid"].to_list() == ["w"]
    windows = scan_events(lake, sources=["windows.eventlog"]).select("EventID").collect()
    assert windows["EventID"].dtype == pl.Int64
    assert windows["EventID"].to_list() == [4624]


def test_integer_widths_read_as_the_widest(tmp_path):
    lake = LakePaths.at(tmp_path)
    with LakeWriter(lake) as writer:
        narrow = events(("a", "2024-03-01T10:00:00"), Level="4")
        wide = events(("b", "2024-03-01T11:00:00"), Level="5000000000")
        writer.commit({"windows.eventlog": _typed(narrow, "Level", pa.int32())})
        writer.commit({"windows.eventlog": _typed(wide, "Level", pa.int64())})
    got = scan_events(lake).select("event_uid", "Level").sort("event_uid").collect()
    assert got["Level"].dtype == pl.Int64
    assert got["Level"].to_list() == [4, 5_000_000_000]


def test_one_source_named_as_a_string_is_that_source(tmp_path):
    lake = _evolving_lake(tmp_path)
    assert scan_events(lake, sources="okta.system").collect()["event_uid"].to_list() == ["b"]
