"""Ground truth: which native events each attack step produced, and when the step began.

The ids are read from the records as they are written (after Windows and auditd numbering), so
every id in `ground_truth.*` is an id that is really in the generated files; each is spelled as
the lake's `event_uid` of that record, so truth joins to the lake directly:

| source | event id |
|---|---|
| aws.cloudtrail | `eventID` |
| k8s.audit | `auditID` |
| okta.system | `uuid` |
| github.audit | `_document_id` |
| gcp.audit | `<logName>/<insertId>` |
| gateway.teleport | `uid` |
| windows.eventlog | `<Computer>|<Channel>|<EventRecordID>` |
| linux.auditd | `<node>:<epoch>.<ms>:<serial>/<sha256 of the record lines, 16 hex>` |

One row per step; the true start is the step's earliest record (T0 of the drill vocabulary,
METRICS.md §1.1), at the resolution of its source's timestamps: a CloudTrail step that began at
09:38:40.519 starts at 09:38:40, as its first record says, not after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from auditlake.synth.clock import Stamps, from_us, to_us
from auditlake.synth.scenarios.model import Outcome, Scenario, Step

Tag = tuple[str, int]
"""(scenario id, step number): what a scenario record is tagged with on its way to disk."""

SCHEMA = pa.schema([
    ("scenario_id", pa.string()),
    ("scenario_key", pa.string()),
    ("scenario_name", pa.string()),
    ("step", pa.int32()),
    ("step_name", pa.string()),
    ("technique_id", pa.string()),
    ("source", pa.string()),
    ("actor", pa.string()),
    ("start_time", pa.timestamp("us", tz="UTC")),
    ("end_time", pa.timestamp("us", tz="UTC")),
    ("event_count", pa.int32()),
    ("event_ids", pa.list_(pa.string())),
])


@dataclass(frozen=True, slots=True)
class Run:
    """A scheduled scenario: its id in this generation, its table row, start and outcome."""

    scenario_id: str
    scenario: Scenario
    start_us: int
    outcome: Outcome


class TruthLog:
    """Hands scenario records to the writers and collects their native ids back.

    `time_units` maps a source to the resolution of its native timestamps in microseconds
    (1 where it is missing).
    """

    def __init__(self, runs: Sequence[Run], time_units: Mapping[str, int] | None = None) -> None:
        self.runs = tuple(runs)
        self._units = dict(time_units or {})
        self._ids: dict[Tag, list[str]] = {
            (run.scenario_id, n): [] for run in self.runs for n in range(1, len(run.outcome.steps) + 1)
        }

    def items(self, source: str, lo_us: int, hi_us: int) -> list[tuple[int, Any, Tag | None]]:
        """Scenario records of `source` with `lo_us <= ts < hi_us`, in time order; setup
        records (no part of the attack) carry no tag."""
        out: list[tuple[int, Any, Tag | None]] = [
            (ts, rec, (run.scenario_id, n))
            for run in self.runs
            for n, step in enumerate(run.outcome.steps, start=1)
            if step.source == source
            for ts, rec in step.records
            if lo_us <= ts < hi_us
        ]
        out.extend((ts, rec, None) for run in self.runs for src, ts, rec in run.outcome.setup
                   if src == source and lo_us <= ts < hi_us)
        out.sort(key=lambda item: item[0])
        return out

    def note(self, tag: Tag, event_id: str) -> None:
        self._ids[tag].append(event_id)

    def notes(self, source: str) -> dict[Tag, list[str]]:
        """The ids noted so far for the steps of `source` (to hand back from a worker)."""
        return {
            (run.scenario_id, n): list(self._ids[(run.scenario_id, n)])
            for run in self.runs
            for n, step in enumerate(run.outcome.steps, start=1)
            if step.source == source
        }

    def add_notes(self, notes: dict[Tag, list[str]]) -> None:
        """Take over ids noted elsewhere (a worker process), replacing what was there."""
        for tag, event_ids in notes.items():
            self._ids[tag] = list(event_ids)

    def times(self, step: Step) -> list[int]:
        """The step's record times as its source writes them (truncated to its time unit)."""
        unit = self._units.get(step.source, 1)
        return [ts - ts % unit for ts, _ in step.records]

    def rows(self) -> list[dict[str, Any]]:
        """One row per step, with times as aware datetimes."""
        return list(self._rows())

    def _rows(self) -> Iterator[dict[str, Any]]:
        for run in self.runs:
            for n, step in enumerate(run.outcome.steps, start=1):
                times = self.times(step)
                yield {
                    "scenario_id": run.scenario_id,
                    "scenario_key": run.scenario.key,
                    "scenario_name": run.scenario.name,
                    "step": n,
                    "step_name": step.name,
                    "technique_id": step.technique,
                    "source": step.source,
                    "actor": step.actor,
                    "start_time": from_us(min(times)),
                    "end_time": from_us(max(times)),
                    "event_count": len(times),
                    "event_ids": list(self._ids[(run.scenario_id, n)]),
                }


def write_truth(out_dir: Path, rows: Sequence[dict[str, Any]]) -> tuple[Path, Path]:
    """`ground_truth.jsonl` (times as RFC 3339 text) and `ground_truth.parquet`."""
    jsonl, parquet = out_dir / "ground_truth.jsonl", out_dir / "ground_truth.parquet"
    stamps = Stamps()
    with jsonl.open("wb") as fh:
        for row in rows:
            text = dict(row)
            for key in ("start_time", "end_time"):
                text[key] = stamps.iso(to_us(row[key]), 6)
            fh.write(orjson.dumps(text, option=orjson.OPT_APPEND_NEWLINE))
    table = pa.Table.from_pylist(list(rows), schema=SCHEMA)
    pq.write_table(table, parquet, compression="zstd")
    return jsonl, parquet
