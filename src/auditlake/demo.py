"""The demo: a synthetic organisation's week of audit logs, ingested into a lake.

It is what `make demo` runs, and the quickest way to see the whole flow on realistic data:
native files per source and day are generated (deterministically, with injected attacks and
their ground truth beside them), then ingested like any user's logs would be. Re-running it
regenerates identical files and adds nothing to the lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditlake.ingest import IngestSummary, Progress, ingest
from auditlake.lake import LakePaths
from auditlake.synth import SynthSummary, generate


@dataclass(frozen=True, slots=True)
class DemoResult:
    """What the demo generated and what the ingest made of it."""

    synth: SynthSummary
    ingest: IngestSummary
    synth_dir: Path
    lake: Path


def run_demo(
    synth_dir: Path,
    lake: Path,
    *,
    seed: int = 7,
    days: int = 7,
    scale: float = 1.0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Generate the synthetic organisation into `synth_dir` and ingest it into `lake`."""
    synth = generate(synth_dir, seed=seed, days=days, scale=scale)
    inputs = sorted(p for p in synth_dir.iterdir() if p.is_dir())
    summary = ingest(inputs, LakePaths.at(lake), workers=workers, progress=progress)
    return DemoResult(synth, summary, synth_dir, lake)
