"""Committing in the background changes when a batch is written, never what is written."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import polars as pl
import pytest

from auditlake.committer import Committer
from auditlake.ingest import ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.lake.commits import read_commits
from auditlake.lake.writer import CommitResult


class _Writer:
    """Records commits and the thread each ran in; fails the commit numbered `fail`."""

    def __init__(self, fail: int | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def commit(self, events, quarantine=()):  # type: ignore[no-untyped-def]
        name = next(iter(events))
        self.calls.append((name, threading.current_thread().name))
        if len(self.calls) == self.fail:
            raise OSError(28, "No space left on device")
        return CommitResult(batch_id=name)


@pytest.mark.parametrize("background", [True, False])
def test_batches_are_committed_in_order_and_reported_in_order(background: bool) -> None:
    writer, done = _Writer(), []
    with Committer(writer, lambda r: done.append(r.batch_id), background=background) as committer:  # type: ignore[arg-type]
        for name in "abc":
            committer.submit({name: None}, [])  # type: ignore[dict-item]
    assert [name for name, _ in writer.calls] == list("abc")
    assert done == list("abc")
    threads = {thread for _, thread in writer.calls}
    assert all(t.startswith("commit") for t in threads) if background else threads == {"MainThread"}


def test_a_failed_commit_is_raised_and_nothing_after_it_is_committed() -> None:
    writer, done = _Writer(fail=2), []
    with pytest.raises(OSError, match="No space"), \
            Committer(writer, lambda r: done.append(r.batch_id)) as committer:  # type: ignore[arg-type]
        for name in "abcd":
            committer.submit({name: None}, [])  # type: ignore[dict-item]
    assert [name for name, _ in writer.calls] == ["a", "b"]
    assert done == ["a"]


def test_ingest_with_workers_equals_ingest_inline(tmp_path: Path) -> None:
    data = tmp_path / "trail.jsonl"
    lines = [
        json.dumps({
            "eventID": f"e{i}", "eventTime": f"2024-03-0{1 + i % 3}T10:00:{i % 60:02d}Z",
            "eventName": "GetObject", "eventSource": "s3.amazonaws.com",
        }) for i in range(700)
    ]
    lines[100] = '{"eventName": "GetObject", "eventTime": '
    data.write_text("\n".join(lines) + "\n")
    summaries, tables = [], []
    for workers in (1, 2):
        lake = LakePaths.at(tmp_path / f"lake{workers}")
        summary = ingest([data], lake, batch_rows=128, workers=workers)
        summaries.append((summary.records, summary.added, summary.batches, dict(summary.rows), dict(summary.quarantined)))
        tables.append(scan_events(lake).drop("ingested_at").sort("event_uid").collect())
        assert [c.seq for c in read_commits(lake)] == list(range(1, summary.batches + 1))
    assert summaries[0] == summaries[1]
    assert summaries[0][1] == 699
    assert tables[0].equals(tables[1])
    assert tables[0].filter(pl.col("event_uid") == "e5").height == 1
