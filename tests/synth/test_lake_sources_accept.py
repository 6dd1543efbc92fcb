"""Every generated record goes through the lake's own source parsers with zero rejections,
and every ground-truth event id is the `event_uid` the lake gives that record.

Checked for each parser module that exists in `auditlake.sources`; a source whose parser is not
written yet is skipped, with the reason shown.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from tests.synth.helpers import source_files

from auditlake.synth import GENERATORS, SynthSummary

PARSER_MODULES = {
    "aws.cloudtrail": "cloudtrail", "k8s.audit": "kubernetes", "okta.system": "okta", "github.audit": "github",
    "gcp.audit": "gcp", "gateway.teleport": "gateway", "windows.eventlog": "windows", "linux.auditd": "auditd",
}


def test_every_synthetic_source_has_a_parser_module_name() -> None:
    assert set(PARSER_MODULES) == set(GENERATORS)


@pytest.mark.parametrize("source", sorted(PARSER_MODULES))
def test_lake_parser_accepts_every_record(small: tuple[Path, SynthSummary], source: str) -> None:
    name = f"auditlake.sources.{PARSER_MODULES[source]}"
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} does not exist yet")
    spec = importlib.import_module(name).SPEC
    from auditlake.sources.records import Rejected, normalize_frames

    out, summary = small
    rejected: Counter[str] = Counter()
    uids: set[str] = set()
    for path in source_files(out, source):
        for result in normalize_frames(spec, spec.frames(path)):
            if isinstance(result, Rejected):
                rejected[f"{result.location}: {result.reason}"] += 1
            else:
                uids.add(result["event_uid"])
                assert result["time"] is not None
    assert not rejected, rejected.most_common(5)
    assert spec.name == source
    assert len(uids) == sum(summary.counts[source].values())
    truth = [json.loads(line) for line in (out / "ground_truth.jsonl").read_text().splitlines()]
    truth_ids = {i for row in truth if row["source"] == source for i in row["event_ids"]}
    assert truth_ids and truth_ids <= uids, "ground-truth ids must be the lake's event_uid values"
