"""A case file's events, exactly as the lake holds them after `auditlake ingest`.

Each case is ingested alone into a fresh temporary lake (its source detected from the content,
as `auditlake ingest` does; in the folder of an application's log, read with the folder's
mapping, as `auditlake ingest --mapping` does: `mapped_folder`), scanned back, and kept in
memory; the lake is then removed. Rules are judged on those rows, so a case tests the same
parsing and normalisation as production.

A case that does not ingest cleanly is not judged: records sent to quarantine or an input no
source recognises would otherwise make a miss case pass for the wrong reason. Each problem says
where in the case file it is (the lines of the records the source could not read), so a broken
line is found without a search.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import polars as pl

from auditlake.errors import AuditlakeError
from auditlake.ingest import IngestSummary, ingest
from auditlake.lake import LakePaths, scan_events, scan_quarantine
from auditlake.rulepack.layout import Case, RuleFile
from auditlake.rulepack.mapped_folder import folder_mapping
from auditlake.sources.base import SourceSpec

NO_EVENTS = "the case holds no events"

SHOWN_LINES = 5
"""Lines named per unreadable kind of record; the count says how many more there are."""


@dataclass(frozen=True, slots=True)
class CaseProblem:
    """Why a case cannot be judged, and the first line of the case file it concerns."""

    message: str
    line: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CaseEvents:
    """A case's events (ordered by time), or the problems that kept them from being read."""

    case: Case
    events: pl.DataFrame
    issues: tuple[CaseProblem, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(str(issue) for issue in self.issues)

    @property
    def usable(self) -> bool:
        return not self.issues


def load_cases(rule: RuleFile) -> list[CaseEvents]:
    """The cases of `rule`, each read as its folder's source reads it (`load_case`).

    A broken mapping in the folder keeps every case from being read: each says why.
    """
    try:
        mapping = folder_mapping(rule.path.parent)
    except AuditlakeError as exc:
        problem = CaseProblem(f"the folder's mapping cannot be read: {exc}")
        return [CaseEvents(case, pl.DataFrame(), (problem,)) for case in rule.cases]
    return [load_case(case, mapping) for case in rule.cases]


def load_case(case: Case, mapping: SourceSpec | None = None) -> CaseEvents:
    """Ingest `case` into a temporary lake and read its events back.

    `mapping` is the source of an application's log the case is read as (what `auditlake
    ingest --mapping` is given); without it the source is told by the case's content.
    """
    with tempfile.TemporaryDirectory(prefix="auditlake-case-", dir=scratch_dir()) as tmp:
        lake = LakePaths.at(tmp)
        source: str | SourceSpec = mapping if mapping is not None else "auto"
        summary = ingest([case.path], lake, source=source, workers=1)
        events = scan_events(lake).collect()
        rejected = _rejected_lines(lake) if summary.quarantined else {}
    events = events.sort("time", "event_uid", nulls_last=True) if events.height else events
    problems = _problems(summary, rejected)
    if not problems and events.height == 0:
        problems = (CaseProblem(NO_EVENTS),)
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


def _rejected_lines(lake: LakePaths) -> dict[tuple[str, str], list[int]]:
    """(source, reason) → the lines of the case file whose records went to quarantine.

    The summary counts them by reason only; the quarantine keeps where each came from, as
    `<input>:<line>` for the line-framed formats cases are written in.
    """
    rows = scan_quarantine(lake).select("source", "location", "reason").collect()
    lines: dict[tuple[str, str], list[int]] = {}
    for source, location, reason in rows.iter_rows():
        number = _line_number(str(location))
        if number is not None:
            lines.setdefault((str(source), str(reason)), []).append(number)
    return {key: sorted(set(found)) for key, found in lines.items()}


def _line_number(location: str) -> int | None:
    """The line of a quarantine location `<input>:<line>`; None for any other kind of place."""
    _, _, tail = location.rpartition(":")
    return int(tail) if tail.isdigit() else None


def _problems(
    summary: IngestSummary, rejected: dict[tuple[str, str], list[int]]
) -> tuple[CaseProblem, ...]:
    found = [CaseProblem(error) for error in summary.errors]
    for (source, reason), count in sorted(summary.quarantined.items()):
        lines = rejected.get((source, reason), [])
        found.append(
            CaseProblem(
                f"{count} {source} record(s) could not be read{_at_lines(lines)}: {reason}",
                lines[0] if lines else None,
            )
        )
    for source, count in sorted(summary.duplicates.items()):
        if not count:
            continue
        # the lake keeps one copy of an event: a threshold case built by copying one record
        # would silently count it once
        found.append(
            CaseProblem(
                f"{count} {source} record(s) repeat an earlier event and were dropped;"
                " give every event its own id"
            )
        )
    return tuple(found)


def _at_lines(lines: list[int]) -> str:
    """` (line 2)`, ` (lines 2, 5 and 3 more)`, or nothing when no line is known."""
    if not lines:
        return ""
    shown = ", ".join(str(n) for n in lines[:SHOWN_LINES])
    more = f" and {len(lines) - SHOWN_LINES} more" if len(lines) > SHOWN_LINES else ""
    return f" (line{'s' if len(lines) > 1 else ''} {shown}{more})"
