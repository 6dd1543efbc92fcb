"""The alert store: new alerts only, files in order, writes in the background made durable."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.sinks.helpers import made_up_alerts

from auditlake.detection import alert_store
from auditlake.detection.alert_store import AlertStore
from auditlake.detection.alerts import RuleInfo, RunInfo, event_alert_id
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import WriteRefused

RUN = "1" * 16


def test_background_appends_are_durable_after_close_and_in_order(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    store = AlertStore(lake, disjoint_appends=True, background=True)
    fresh = [store.append(made_up_alerts(10, first=10 * n, run=RUN), run_id=RUN).height for n in range(5)]
    store.close()
    assert fresh == [10] * 5
    files = AlertStore(lake).run_files(RUN)
    assert [f.name for f in files] == [f"part-{RUN}-{n:05d}.parquet" for n in range(5)]
    stored = AlertStore(lake).read(files)
    assert stored["alert_id"].to_list() == made_up_alerts(50, run=RUN)["alert_id"].to_list()
    assert not list((tmp_path / "lake" / "alerts").glob(".*.tmp"))


def test_a_failed_background_write_is_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(table: pa.Table, path: Path, **_: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(alert_store, "write_parquet", full_disk)
    store = AlertStore(LakePaths.at(tmp_path / "lake"), background=True)
    store.append(made_up_alerts(3, run=RUN), run_id=RUN)  # returns before the write fails
    with pytest.raises(WriteRefused, match="could not write: disk full"):
        store.close()


def test_only_alerts_not_stored_yet_are_new_and_only_their_like_is_read(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append(made_up_alerts(20, run=RUN), run_id=RUN)  # evidence at minute 0
    store = AlertStore(lake)
    assert store.append(made_up_alerts(30, run="2" * 16), run_id="2" * 16).height == 10
    assert store.append(made_up_alerts(30, run="3" * 16), run_id="3" * 16).height == 0
    later = made_up_alerts(5, first=100, run="4" * 16)  # evidence 100 minutes later
    assert store.stored_like(later).is_empty()  # stored alerts of other times are not read
    other_rule = made_up_alerts(5, run="4" * 16).with_columns(rule_id=pl.lit("rule-2"))
    assert store.stored_like(other_rule).is_empty()  # nor those of other rules


def test_disjoint_appends_are_checked_only_against_earlier_files(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append(made_up_alerts(10, run=RUN), run_id=RUN)
    run = AlertStore(lake, disjoint_appends=True)
    assert run.append(made_up_alerts(15, run="2" * 16), run_id="2" * 16).height == 5
    assert set(run.stored_like(made_up_alerts(15))) == set(made_up_alerts(10)["alert_id"])


def test_alert_files_keep_statistics_of_the_columns_readers_prune_by(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append(made_up_alerts(10, run=RUN), run_id=RUN)
    (file,) = AlertStore(lake).files()
    row_group = pq.ParquetFile(file).metadata.row_group(0)
    with_statistics = {
        row_group.column(i).path_in_schema
        for i in range(row_group.num_columns)
        if row_group.column(i).statistics is not None and row_group.column(i).statistics.has_min_max
    }
    assert with_statistics == set(alert_store.PRUNING_COLUMNS)


def test_alert_ids_are_written_with_their_lengths_apart(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    store = AlertStore(lake)
    store.append(made_up_alerts(10, run=RUN), run_id=RUN)
    matches = pl.DataFrame({
        "event_uid": ["6a5ce198-33ec-4202-ae5c-40c53077bd3c", "two words"],
        "time": [datetime(2026, 3, 2, tzinfo=UTC)] * 2,
        "source": ["aws.cloudtrail"] * 2,
        "ingested_at": [datetime(2026, 3, 2, tzinfo=UTC)] * 2,
        "actor": ["alice", None],
        "src_ip": [None, "192.0.2.1"],
        "target": [None, None],
        "rule_id": ["rule-1"] * 2,
    })
    rules = {"rule-1": RuleInfo("rule-1", "A rule", "detection", "low", (), "someone")}
    store.append_detections(matches, rules, RunInfo(datetime(2026, 3, 2, tzinfo=UTC), "replay", RUN))
    full, detection = store.files()
    for path, columns in ((full, {"alert_id"}), (detection, {"alert_id", "event_uid"})):
        meta = pq.read_metadata(path).row_group(0)
        separate = {
            meta.column(i).path_in_schema for i in range(meta.num_columns)
            if "DELTA_LENGTH_BYTE_ARRAY" in meta.column(i).encodings
        }
        assert separate == columns, path
    stored = store.read([detection]).sort("alert_id")
    uids = matches["event_uid"].to_list()
    assert stored["event_uids"].to_list() == [[u] for u in sorted(uids, key=lambda u: event_alert_id("rule-1", u))]
    assert stored["alert_id"].to_list() == sorted(event_alert_id("rule-1", u) for u in uids)


def test_an_alert_repeated_within_one_append_is_stored_once_as_first_given(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    alerts = made_up_alerts(4, run=RUN)
    again = alerts.head(2).with_columns(actor=pl.lit("someone else"))
    fresh = AlertStore(lake, disjoint_appends=True).append(pl.concat([alerts, again]), run_id=RUN)
    assert fresh["alert_id"].to_list() == alerts["alert_id"].to_list()
    stored = AlertStore(lake).read(AlertStore(lake).files())
    assert stored["actor"].to_list() == alerts["actor"].to_list()


@pytest.mark.parametrize("damage", ["footer", "body"])
def test_a_stored_alert_file_that_no_longer_reads_is_named(tmp_path: Path, damage: str) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append(made_up_alerts(10, run=RUN), run_id=RUN)
    AlertStore(lake).append(made_up_alerts(20, run="2" * 16), run_id="2" * 16)
    broken = AlertStore(lake).run_files("2" * 16)[0]
    data = bytearray(broken.read_bytes())
    if damage == "footer":
        data[-4:] = b"XXXX"
    else:
        data[4:68] = bytes(64)
    broken.write_bytes(bytes(data))
    with pytest.raises(alert_store.UnreadableAlertFiles) as raised:
        AlertStore(lake).append(made_up_alerts(30, run="3" * 16), run_id="3" * 16)
    assert raised.value.files == (broken,)
    assert "move them out of alerts/" in (raised.value.hint or "")
    assert len(AlertStore(lake).files()) == 2  # nothing was added
