"""A case file's events, exactly as the lake holds them after `auditlake ingest`.

Each case is ingested alone into a fresh temporary lake (its source detected from the content,
as `auditlake ingest` does), scanned back, and kept in memory; the lake is then removed. Rules
are judged on those rows, so a case tests the same parsing and normalisation as production.

A case that does not ingest cleanly is not judged: records sent to quarantine or an input no
source recognises would otherwise make a miss case pass for the wrong reason.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import polars as pl

from auditlake.ingest import IngestSummary, ingest
from auditlake.lake import LakePaths, scan_events
from auditlake.rulepack.layout import Case


@dataclass(frozen=True)
class CaseEvents:
    """A case's events (ordered by time), or the problems that kept them from being read."""

    case: Case
    events: pl.DataFrame
    problems: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return not self.problems


def load_case(case: Case) -> CaseEvents:
    """Ingest `case` into a temporary lake and read its events back."""
    with tempfile.TemporaryDirectory(prefix="auditlake-case-", dir=scratch_dir()) as tmp:
        lake = LakePaths.at(tmp)
        summary = ingest([case.path], lake, source="auto", workers=1)
        events = scan_events(lake).collect()
    events = events.sort("time", "event_uid", nulls_last=True) if events.height else events
    problems = _problems(summary)
    if not problems and events.height == 0:
        problems = ("the case holds no events",)
    return CaseEvents(case, events, problems)


def scratch_dir() -> str | None:
    """Where case lakes go: tmpfs when it is there and TMPDIR does not say otherwise.

    A case lake is a few KB that lives for a moment, but the lake writer's durable commit
    (fsync, rename, directory sync) costs tens of milliseconds per case on a disk and next to
    nothing in memory. None means tempfile's default.
    """
    if os.environ.get("TMPDIR"):
        return None
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def _problems(summary: IngestSummary) -> tuple[str, ...]:
    found = list(summary.errors)
    for (source, reason), count in sorted(summary.quarantined.items()):
        found.append(f"{count} {source} record(s) could not be read: {reason}")
    for source, count in sorted(summary.duplicates.items()):
        if not count:
            continue
        # the lake keeps one copy of an event: a threshold case built by copying one record
        # would silently count it once
        found.append(
            f"{count} {source} record(s) repeat an earlier event and were dropped;"
            " give every event its own id"
        )
    return tuple(found)
