"""Ground truth: every scenario, every field, ids that are really in the files."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
        times = [in_files[i] for i in ids]
        start = datetime.fromisoformat(str(row["start_time"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(row["end_time"]).replace("Z", "+00:00"))
        assert (start, end) == (min(times), max(times)), (row["scenario_id"], row["step"])


def test_manifest_scenario_start_is_its_earliest_step_start(small: tuple[Path, SynthSummary]) -> None:
    """MTTD's T0: no record of a scenario is earlier than the start the manifest gives it."""
    out, _ = small
    manifest = json.loads((out / "manifest.json").read_text())
    for scenario in manifest["scenarios"]:
        starts = [str(r["start_time"]) for r in _rows(out) if r["scenario_id"] == scenario["id"]]
        assert scenario["start"] == min(starts), scenario["id"]


def _names_in(source: str, record: Any) -> set[str]:
    """Every text a record carries (auditd: each `field=value`'s value), plus the Windows
    Security spelling of a user, `domain\\name`, which the event splits in two fields."""
    if source == "linux.auditd":
        return {value.strip('"') for line in record for value in re.findall(r"\b[\w-]+=(\S+)", line)}
    out: set[str] = set()
    stack = [record]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "SubjectUserName" in value:
                out.add(f"{value.get('SubjectDomainName')}\\{value['SubjectUserName']}")
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        else:
            out.add(str(value))
    return out


def test_every_step_event_names_the_step_actor(small: tuple[Path, SynthSummary]) -> None:
    """The actor of a step is spelled as its source writes it, in each of the step's records."""
    out, _ = small
    names: dict[tuple[str, str], set[str]] = {}
    for source in GENERATORS:
        for path in source_files(out, source):
            for record in records(path):
                names[(source, id_and_time(source, record)[0])] = _names_in(source, record)
    for row in _rows(out):
        unnamed = [i for i in row["event_ids"] if row["actor"] not in names[(str(row["source"]), i)]]  # type: ignore[union-attr]
        assert not unnamed, (row["scenario_id"], row["step"], row["actor"])


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


def test_deprovisioned_login_starts_at_the_leaver_not_at_the_deactivation(small: tuple[Path, SynthSummary]) -> None:
    """IT deactivating the leaver is in the Okta log, but it is no attack step: the scenario's
    true start is the leaver's own sign-in attempt, hours later."""
    out, _ = small
    rows = [r for r in _rows(out) if r["scenario_key"] == "deprovisioned_user_login"]
    leaver = str(rows[0]["actor"])
    deactivations = [
        r for path in source_files(out, "okta.system") for r in records(path)
        if r["eventType"] == "user.lifecycle.deactivate" and r["target"][0]["alternateId"] == leaver
    ]
    assert len(deactivations) == 1
    deactivated_id, deactivated_at = id_and_time("okta.system", deactivations[0])
    assert all(deactivated_id not in r["event_ids"] for r in _rows(out))  # type: ignore[operator]
    first = min(datetime.fromisoformat(str(r["start_time"]).replace("Z", "+00:00")) for r in rows)
    assert first > deactivated_at
    assert rows[0]["step_name"] == "sign-in attempt by deprovisioned user"
