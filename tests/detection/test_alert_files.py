"""Detection-layout alert files read back as the alerts `detection_alerts` builds, whatever the
event ids, beside full-layout files, and deduplicated against both."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlake.detection import alert_files
from auditlake.detection.alert_store import PRUNING_COLUMNS, AlertStore
from auditlake.detection.alerts import (
    RuleInfo,
    RunInfo,
    correlation_alerts,
    detection_alerts,
    event_alert_id,
    evidence_frame,
)
from auditlake.lake.paths import LakePaths

START = datetime(2026, 3, 2, tzinfo=UTC)
RUN = RunInfo(datetime(2026, 3, 9, 12, 30, 15, 123456, tzinfo=UTC), "replay", "a" * 16)
RULES = {
    "r1": RuleInfo("r1", "First rule", "detection", "high", ("attack.t1003", "attack.credential-access"), "ann"),
    "r2": RuleInfo("r2", "Second rule", "detection", None, (), None),
    "ruleé": RuleInfo("ruleé", "Third rule", "detection", "low", ("x",), "bob"),
}
UIDS = st.one_of(
    st.none(),
    st.text(max_size=140),
    st.sampled_from(["e1", "e2", "", "a b", "h#1", "x" * 128, "x" * 129, "é", "6a5ce198-33ec-4202-ae5c-40c53077bd3c"]),
)


def _evidence(pairs: list[tuple[str, str | None]], minute: int = 0) -> pl.DataFrame:
    count = len(pairs)
    events = pl.DataFrame(
        {
            "event_uid": [uid for _, uid in pairs],
            "time": [START + timedelta(minutes=minute + n) for n in range(count)],
            "source": ["okta.system"] * count,
            "ingested_at": [START + timedelta(hours=1)] * count,
            "actor_name": [None if n % 3 == 0 else f"user{n}" for n in range(count)],
            "actor_id": [f"id{n}" for n in range(count)],
            "src_ip": ["203.0.113.9"] * count,
            "rule_id": [rule for rule, _ in pairs],
        },
        schema_overrides={"event_uid": pl.String, "actor_name": pl.String},
    )
    return evidence_frame(events).with_columns(events["rule_id"])


def _unique(pairs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    return list(dict.fromkeys(pairs))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(RULES)), UIDS), min_size=1, max_size=25))
def test_stored_detections_read_back_as_the_alerts_built_from_the_same_matches(
    pairs: list[tuple[str, str | None]],
) -> None:
    evidence = _evidence(_unique(pairs))
    with tempfile.TemporaryDirectory() as folder:
        lake = LakePaths.at(Path(folder) / "lake")
        AlertStore(lake).append_detections(evidence, RULES, RUN)
        stored = AlertStore(lake).scan().collect()
    expected = detection_alerts(RULES, evidence, RUN)
    assert stored.equals(expected)
    assert stored["alert_id"].to_list() == [event_alert_id(r, u or "") for r, u in _unique(pairs)]


def test_only_ids_of_events_whose_id_is_not_plain_are_written(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append_detections(_evidence([("r1", "e1"), ("r1", "a b"), ("r2", None)]), RULES, RUN)
    (file,) = AlertStore(lake).files()
    written = pl.read_parquet(file)
    assert written.columns == list(alert_files.DETECTION_SCHEMA)
    assert written["alert_id"].to_list() == [None, event_alert_id("r1", "a b"), event_alert_id("r2", "")]
    description = json.loads(pq.read_metadata(file).metadata[alert_files.METADATA_KEY])
    assert [r["id"] for r in description["rules"]] == ["r1", "r2"]  # only the rules matched
    row_group = pq.ParquetFile(file).metadata.row_group(0)
    with_statistics = {
        row_group.column(i).path_in_schema
        for i in range(row_group.num_columns)
        if row_group.column(i).statistics is not None and row_group.column(i).statistics.has_min_max
    }
    assert with_statistics == set(PRUNING_COLUMNS) & set(alert_files.DETECTION_SCHEMA)


def test_matches_already_stored_in_either_layout_or_repeated_are_not_stored_again(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    old = _evidence([("r1", "e1"), ("r2", "e1"), ("r1", "a b")])
    AlertStore(lake).append(detection_alerts(RULES, old, RUN), run_id=RUN.run_id)  # as stored before
    AlertStore(lake).append_detections(_evidence([("r1", "e2")], minute=1), RULES, RUN)
    run = RunInfo(RUN.created_at, "replay", "b" * 16)
    again = _evidence([("r1", "e1"), ("r1", "e2"), ("r2", "e2"), ("r1", "a b"), ("r2", "e2"), ("r1", None)])
    fresh = AlertStore(lake, disjoint_appends=True).append_detections(again, RULES, run)
    assert list(zip(fresh["rule_id"], fresh["event_uid"], strict=True)) == [("r2", "e2"), ("r1", None)]
    stored = AlertStore(lake).scan().collect()
    assert stored.height == stored["alert_id"].n_unique() == 6
    assert AlertStore(lake).append_detections(again, RULES, run).is_empty()


def test_layouts_read_together_in_file_order_each_run_with_its_own_descriptions(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    renamed = {**RULES, "r1": RuleInfo("r1", "First rule, renamed", "detection", "critical", (), "ann")}
    later = RunInfo(RUN.created_at + timedelta(days=1), "realtime", "b" * 16)
    first, second = _evidence([("r1", "e1"), ("r2", "e2")]), _evidence([("r1", "e3")], minute=5)
    AlertStore(lake).append_detections(first, RULES, RUN)
    hits = pl.DataFrame({
        "window_start": [START], "window_end": [START + timedelta(minutes=5)], "event_uids": [["e1", "e2"]],
    })
    correlation = RuleInfo("c1", "Correlated", "correlation", "high", (), None)
    correlated = correlation_alerts(correlation, hits, (), {}, RUN)
    AlertStore(lake).append(correlated, run_id=RUN.run_id)
    AlertStore(lake).append_detections(second, renamed, later)
    stored = AlertStore(lake).scan().collect()
    expected = pl.concat([
        detection_alerts(RULES, first, RUN), correlated, detection_alerts(renamed, second, later),
    ])
    assert stored.equals(expected)
    assert stored["rule_title"].to_list() == ["First rule", "Second rule", "Correlated", "First rule, renamed"]


def test_a_file_of_a_layout_this_version_does_not_know_is_refused(tmp_path: Path) -> None:
    lake = LakePaths.at(tmp_path / "lake")
    AlertStore(lake).append_detections(_evidence([("r1", "e1")]), RULES, RUN)
    (file,) = AlertStore(lake).files()
    table = pq.read_table(file)
    description = json.loads(table.schema.metadata[alert_files.METADATA_KEY]) | {"layout": "detection-99"}
    pq.write_table(table.replace_schema_metadata({alert_files.METADATA_KEY: json.dumps(description)}), file)
    with pytest.raises(ValueError, match="detection-99"):
        AlertStore(lake).scan()
