"""Ground truth: every scenario, every field, ids that are really in the files."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from tests.synth.conftest import SMALL
from tests.synth.helpers import id_and_time, records, source_files

from auditlake.synth import GENERATORS, SCENARIOS, SynthSummary

TECHNIQUE = re.compile(r"T\d{4}(\.\d{3})?")
FIELDS = ("scenario_id", "scenario_key", "scenario_name", "step", "step_name", "technique_id", "source",
          "actor", "start_time", "end_time", "event_count", "event_ids")


def _rows(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "ground_truth.jsonl").read_text().splitlines()]


def test_every_scenario_has_steps_with_every_field(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    rows = _rows(out)
    assert {r["scenario_key"] for r in rows} == {s.key for s in SCENARIOS}
    for row in rows:
        assert list(row) == list(FIELDS)
        assert all(row[f] not in (None, "", []) for f in FIELDS), row
        assert TECHNIQUE.fullmatch(str(row["technique_id"])), row
        assert row["source"] in GENERATORS
        assert row["event_count"] == len(row["event_ids"])  # type: ignore[arg-type]
    for key in {r["scenario_id"] for r in rows}:
        steps = [r["step"] for r in rows if r["scenario_id"] == key]
        assert steps == list(range(1, len(steps) + 1))


def test_step_times_lie_in_the_period_and_in_order(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    begin = datetime(2026, 3, 2, tzinfo=UTC)
    end = begin + timedelta(days=SMALL["days"])
    rows = _rows(out)
    for row in rows:
        start = datetime.fromisoformat(str(row["start_time"]).replace("Z", "+00:00"))
        stop = datetime.fromisoformat(str(row["end_time"]).replace("Z", "+00:00"))
        assert begin <= start <= stop < end, row["scenario_id"]


def test_event_ids_are_in_the_step_source_files_at_the_step_times(small: tuple[Path, SynthSummary]) -> None:
    out, _ = small
    seen: dict[str, dict[str, datetime]] = {}
    for source in GENERATORS:
        seen[source] = {i: t for path in source_files(out, source) for i, t in (id_and_time(source, r) for r in records(path))}
    for row in _rows(out):
        in_files = seen[str(row["source"])]
        ids = list(row["event_ids"])  # type: ignore[call-overload]
        missing = [i for i in ids if i not in in_files]
        assert not missing, (row["scenario_id"], row["step"], missing[:3])
        first = min(in_files[i] for i in ids)
        start = datetime.fromisoformat(str(row["start_time"]).replace("Z", "+00:00"))
        assert abs((first - start).total_seconds()) < 1, row["scenario_id"]


def test_parquet_holds_the_same_rows_with_utc_timestamps(small: tuple[Path, SynthSummary]) -> None:
    out, summary = small
    frame = pl.read_parquet(out / "ground_truth.parquet")
    assert frame.height == len(_rows(out)) == summary.truth_steps
    assert frame.schema["start_time"] == pl.Datetime("us", "UTC")
    assert frame["event_ids"].to_list() == [r["event_ids"] for r in _rows(out)]


def test_scenarios_are_the_same_at_every_scale(small: tuple[Path, SynthSummary], tmp_path: Path) -> None:
    """Only the background grows with scale; attacks keep their times and (non-numbered) ids."""
    from auditlake.synth import generate

    out, _ = small
    generate(tmp_path, **{**SMALL, "scale": 0.1, "sources": ["okta.system"]})
    small_okta = [r for r in _rows(out) if r["source"] == "okta.system"]
    assert small_okta == _rows(tmp_path)
