"""The demo: a synthetic organisation's week of audit logs, ingested into a lake.

It is what `make demo` runs, and the quickest way to see the whole flow on realistic data:
native files per source and day are generated (deterministically, with injected attacks and
their ground truth beside them), then ingested like any user's logs would be. Re-running it
regenerates identical files and adds nothing to the lake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from auditlake.detection.alert_store import AlertStore
from auditlake.detection.compile import rule_files
from auditlake.detection.coverage import ScenarioCatch, scenario_coverage
from auditlake.detection.engine import DetectSummary, run_detection
from auditlake.detection.rulecache import compile_rules_cached
from auditlake.detection.watermarks import ruleset_digest
from auditlake.ingest import IngestSummary, Progress, ingest
from auditlake.lake import LakePaths
from auditlake.lake.write_refused import refused_as
from auditlake.synth import GENERATORS, SynthSummary, generate
from auditlake.synth.files import day_path


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo generated, what the ingest made of it, and what detection found."""

    synth: SynthSummary
    ingest: IngestSummary
    synth_dir: Path
    lake: Path
    detection: DetectSummary | None = None
    alerts_total: int = 0
    coverage: list[ScenarioCatch] = field(default_factory=list)


def run_demo(
    synth_dir: Path,
    lake: Path,
    *,
    seed: int = 7,
    days: int = 7,
    scale: float = 1.0,
    workers: int | None = None,
    progress: Progress | None = None,
    rules: Path | None = None,
) -> DemoResult:
    """Generate the synthetic organisation into `synth_dir` and ingest it into `lake`; with
    `rules`, run them over it and match their alerts with the scenarios' ground truth."""
    with refused_as(synth_dir, outcome="the demo stopped before ingesting; running it again starts over"):
        synth = generate(synth_dir, seed=seed, days=days, scale=scale)
    paths = LakePaths.at(lake)
    summary = ingest(_generated_files(synth), paths, workers=workers, progress=progress)
    result = DemoResult(synth, summary, synth_dir, lake)
    if rules is None:
        return result
    files = sorted(rule_files([rules]))
    detection = run_detection(
        paths, compile_rules_cached(files), digest=ruleset_digest(files), origin="replay"
    )
    alerts = AlertStore(paths).scan().collect()
    coverage = scenario_coverage(synth_dir / "ground_truth.jsonl", alerts)
    return DemoResult(synth, summary, synth_dir, lake, detection, alerts.height, coverage)


def _generated_files(synth: SynthSummary) -> list[Path]:
    """The files this generation wrote, and only those: whatever else `synth_dir` holds (a
    note, someone's folder) is not the organisation's and stays out of the lake."""
    return [day_path(synth.out_dir, source, day, GENERATORS[source].file_format)
            for source, per_day in sorted(synth.counts.items()) for day in sorted(per_day)]
