"""API listings whose records stand in one array among other members (Cloud Logging's
`entries.list` response, the Kubernetes audit webhook's `EventList`) are read record by record,
as the same records in JSON Lines are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.sources.framing import json_frames

DATA = Path(__file__).parent / "data"


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _listing(kind: str, records: list[dict[str, object]], indent: int | None) -> str:
    if kind == "entries":
        return json.dumps({"entries": records, "nextPageToken": "EAA46pa"}, indent=indent)
    body = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {"resourceVersion": "12"},
            "items": records}
    return json.dumps(body, indent=indent)


@pytest.mark.parametrize(("kind", "sample", "source"), [
    ("entries", DATA / "gcp" / "audit.jsonl", "gcp.audit"),
    ("event_list", DATA / "k8s" / "audit.jsonl", "k8s.audit"),
])
@pytest.mark.parametrize("indent", [None, 2])
def test_a_listing_lands_as_its_records_in_json_lines(
    tmp_path: Path, kind: str, sample: Path, source: str, indent: int | None
) -> None:
    records = _records(sample)
    listing = tmp_path / "listing.json"
    listing.write_text(_listing(kind, records, indent))
    lines = tmp_path / "lines.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in records))
    frames = list(json_frames(listing))
    assert [json.loads(f.raw) for f in frames] == records and all(f.error is None for f in frames)
    lakes = {name: LakePaths.at(tmp_path / name) for name in ("listing", "lines")}
    for name, path in (("listing", listing), ("lines", lines)):
        summary = ingest([path], lakes[name], workers=1)
        assert summary.errors == [] and summary.added > 0
    rows = {name: scan_events(lake).drop("ingested_at", "raw", "event_hash").collect().sort("event_uid")
            for name, lake in lakes.items()}
    assert rows["listing"]["source"].unique().to_list() == [source]
    assert rows["listing"].equals(rows["lines"])
    assert scan_quarantine(lakes["listing"]).collect().height == scan_quarantine(lakes["lines"]).collect().height


def test_only_an_event_list_is_taken_for_one(tmp_path: Path) -> None:
    """A record that merely holds `items` is a record, not a listing of them."""
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"kind": "PodList", "items": [{"a": 1}], "other": 2}))
    (frame,) = json_frames(path)
    assert json.loads(frame.raw)["kind"] == "PodList"
