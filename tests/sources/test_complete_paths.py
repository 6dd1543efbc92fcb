"""A source's complete paths (`SourceSpec.complete_paths`) are written as columns whenever the
record has a value there, so detection may take a missing column for "no value" rather than
look in `raw`. Checked on real-shaped records: the column has a value exactly where the raw
record has one at that path."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from auditlake.detection.raw_json import json_path
from auditlake.ingest import ingest
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import scan_events
from auditlake.sources import registry

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "data" / "samples"


def _sample_events(name: str) -> list[str]:
    lines = (SAMPLES / name).read_text(encoding="utf-8").splitlines()
    return [json.dumps(json.loads(line)["event"]) for line in lines if line.strip()]


def _labelled_events(folder: str) -> list[str]:
    """The repository rules' labelled events for one source."""
    files = sorted((REPO / "rules" / folder).glob("*/*.jsonl"))
    return [line for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def _raw_path(source: str, dotted: str) -> str:
    """Where `dotted` is in the record: a Kubernetes annotation's key holds dots of its own."""
    if source == "k8s.audit" and dotted.startswith("annotations."):
        return f"$.annotations['{dotted.removeprefix('annotations.')}']"
    return json_path(dotted)


CASES = {
    "aws.cloudtrail": lambda: _sample_events("aws_cloudtrail.jsonl") + _labelled_events("aws"),
    "k8s.audit": lambda: _sample_events("amazon_eks_audit.jsonl") + _labelled_events("kubernetes"),
}


def test_the_sources_that_declare_complete_paths_are_the_ones_checked_here() -> None:
    declaring = {name for name in registry.names() if registry.lookup(name).complete_paths}
    assert declaring == set(CASES)


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared samples not present")
@pytest.mark.parametrize("source", sorted(CASES))
def test_a_complete_path_has_a_column_value_exactly_where_the_raw_record_has_one(tmp_path: Path, source: str) -> None:
    path = tmp_path / "input.jsonl"
    path.write_text("\n".join(CASES[source]()) + "\n", encoding="utf-8")
    lake = LakePaths.at(tmp_path / "lake")
    ingest([path], lake, source=source, workers=1)
    events = scan_events(lake, sources=[source]).collect()
    assert events.height >= 20
    paths = registry.lookup(source).complete_paths
    present_somewhere = 0
    for dotted in sorted(paths):
        in_raw = events["raw"].str.json_path_match(_raw_path(source, dotted)).is_not_null()
        in_column = events[dotted].is_not_null() if dotted in events.columns else pl.repeat(False, events.height, eager=True)
        assert in_raw.to_list() == in_column.to_list(), dotted
        present_somewhere += int(in_raw.any())
    assert present_somewhere >= len(paths) // 2  # the records exercise the paths, not only their absence
