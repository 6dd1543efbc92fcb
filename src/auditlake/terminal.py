"""Human-readable terminal output: summary tables on stdout, progress on stderr.

Kept apart from `cli` so that commands stay short and the formatting is testable on its own.
Every console is made by `console_on()`, which never wraps a message line: off a terminal (a log
file, journald, a pipe) Rich would otherwise break lines at 80 columns, and one message would
become two log records.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from auditlake.ingest import IngestSummary

if TYPE_CHECKING:  # the demo pulls in the synthetic organisation; only its type is needed here
    import polars as pl

    from auditlake.demo import DemoResult
    from auditlake.detection.engine import DetectSummary
    from auditlake.sources.input_report import InputReport


def console_on(file: TextIO) -> Console:
    """A console on `file` whose text lines are never wrapped (tables still fit its width)."""
    return Console(file=file, soft_wrap=True)


def _stdout() -> Console:
    return console_on(sys.stdout)


def print_ingest_summary(summary: IngestSummary, elapsed: float, lake: Path) -> None:
    """Rows per source and day, then duplicates, quarantine and errors."""
    console = _stdout()
    if not summary.inputs and not summary.errors:  # a drop folder that is empty this time
        console.print(f"No file to read (names starting with '.' are skipped): nothing added to {lake}")
        return
    table = Table(title=f"Ingested into {lake}", title_justify="left")
    for name in ("source", "day", "rows added"):
        table.add_column(name, justify="right" if name == "rows added" else "left")
    for source, day, rows in _day_rows(summary):
        table.add_row(source, day, f"{rows:,}")
    console.print(table)
    rate = summary.records / elapsed if elapsed > 0 else 0.0
    console.print(
        f"{summary.inputs} input(s), {summary.records:,} records, {summary.added:,} added, "
        f"{sum(summary.duplicates.values()):,} duplicates skipped, "
        f"{sum(summary.quarantined.values()):,} quarantined"
        f" ({summary.already_quarantined:,} of them already were), in {elapsed:.1f} s ({rate:,.0f} records/s)"
    )
    _print_counts(console, "Quarantined (see the lake's quarantine/ table)", summary.quarantined)
    _print_counts(console, "Skipped on purpose", summary.skipped)
    for reason, count in sorted(summary.passed_over.items()):
        console.print(f"passed over {count:,} input(s) holding no events: {reason}")
    for error in summary.errors:
        console.print(f"[red]not ingested:[/red] {error}")


def _day_rows(summary: IngestSummary, *, limit: int = 40) -> list[tuple[str, str, int]]:
    """One row per source and day; per source with its day range when that would be too long."""
    rows = [(s, d, n) for (s, d), n in sorted(summary.rows.items())]
    if len(rows) <= limit:
        return rows
    spans: dict[str, tuple[str, str, int]] = {}
    for source, day, count in rows:
        first, _, total = spans.get(source, (day, day, 0))
        spans[source] = (first, day, total + count)
    return [(s, f"{a} .. {b}", n) for s, (a, b, n) in spans.items()]


def _print_counts(console: Console, title: str, counts: dict[tuple[str, str], int]) -> None:
    if not counts:
        return
    table = Table(title=title, title_justify="left")
    table.add_column("source", overflow="fold")
    table.add_column("reason", overflow="fold")  # folded, never cut: the reason is the point
    table.add_column("records", justify="right")
    for (source, reason), count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(shown(source), shown(reason), f"{count:,}")
    console.print(table)


def print_demo_summary(result: DemoResult, elapsed: float) -> None:
    """What was generated, what landed in the lake per source, and where the ground truth is."""
    console = _stdout()
    table = Table(title=f"Synthetic organisation → {result.lake}", title_justify="left")
    for name, right in (("source", False), ("days", False), ("generated", True), ("in lake", True)):
        table.add_column(name, justify="right" if right else "left")
    landed: dict[str, int] = {}
    for (source, _), rows in result.ingest.rows.items():
        landed[source] = landed.get(source, 0) + rows
    for source, per_day in sorted(result.synth.counts.items()):
        days = sorted(per_day)
        span = f"{days[0]} .. {days[-1]}" if days else "-"
        table.add_row(source, span, f"{sum(per_day.values()):,}", f"{landed.get(source, 0):,}")
    console.print(table)
    summary = result.ingest
    console.print(
        f"{result.synth.total_events:,} events generated in {result.synth_dir}; "
        f"{summary.added:,} added to the lake, {sum(summary.duplicates.values()):,} already there, "
        f"{sum(summary.quarantined.values()):,} quarantined ({elapsed:.1f} s)."
    )
    console.print(f"Attack scenarios injected: {', '.join(result.synth.scenarios)}")
    console.print(f"Ground truth: {result.synth_dir / 'ground_truth.jsonl'}")
    if result.detection is not None:
        _print_demo_detection(console, result)
    console.print(f"Explore: auditlake.lake.scan_events({str(result.lake)!r})")
    for error in summary.errors:
        console.print(f"[red]not ingested:[/red] {error}")


def _print_demo_detection(console: Console, result: DemoResult) -> None:
    detection = result.detection
    assert detection is not None
    console.print(
        f"Detection: {detection.rules} rules and {detection.correlations} correlations over "
        f"{detection.events_scanned:,} events in {detection.elapsed_s:.1f} s: "
        f"{detection.new_alerts:,} new alerts ({result.alerts_total:,} in {result.lake}/alerts)."
    )
    table = Table(title="Attack scenarios caught", title_justify="left")
    for name in ("scenario", "steps caught", "by rules"):
        table.add_column(name)
    for catch in result.coverage:
        mark = "[green]" if catch.caught else "[red]"
        table.add_row(f"{mark}{catch.scenario_id}[/]", f"{catch.caught_steps}/{catch.steps}",
                      "; ".join(catch.rules) or "-")
    console.print(table)
    caught = sum(1 for c in result.coverage if c.caught)
    console.print(f"{caught} of {len(result.coverage)} scenarios caught. "
                  f"Alerts: auditlake.detection.alert_store.AlertStore(...).scan()")


PREVIEW_CHARACTERS = 120
"""Characters of a quarantined record the table shows (`quarantine --json` has them all)."""

_UNSHOWN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\udc80-\udcff]")
"""Characters a terminal acts on rather than shows: C0 and C1 controls (escape sequences that
clear the screen, set the title or recolour what follows), bidirectional overrides that reorder
a line, and the stand-ins of bytes that are not UTF-8."""


def shown(text: str) -> str:
    """`text` as a table cell shows it: what a terminal would act on is written as an escape
    (`\\x1b`, `\\n`), and Rich markup in it (`[bold]`) is shown rather than applied. Records,
    reasons and file names come from the logs, and must not drive the terminal they are read on."""
    return escape(_UNSHOWN.sub(_escaped, text))


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by "surrogateescape"
        return f"\\x{code - 0xDC00:02x}"
    return repr(match.group())[1:-1]  # \t, \n, \x1b, \u202e


def preview(raw: bytes) -> str:
    """The first `PREVIEW_CHARACTERS` characters of a record, then `…` when there is more;
    cut between characters, never inside one."""
    head = raw[: PREVIEW_CHARACTERS * 4].decode("utf-8", "surrogateescape")  # 4: UTF-8's longest
    cut = len(head) > PREVIEW_CHARACTERS or len(raw) > PREVIEW_CHARACTERS * 4
    return shown(head[:PREVIEW_CHARACTERS]) + ("…" if cut else "")


def print_quarantine(records: pl.DataFrame, listed: Sequence[Mapping[str, Any]], *,
                     source: str | None = None) -> None:
    """Counts per source and reason of `records` (their bytes are not needed), then the
    records `listed` (with them) with a preview; `source` is the one source they were chosen
    from, if any."""
    console = _stdout()
    if records.height == 0:
        console.print("Nothing is quarantined." if source is None else f"Nothing of {shown(source)} is quarantined.")
        return
    counts = records.group_by("source", "reason").len()
    _print_counts(console, f"{records.height:,} quarantined record(s)",
                  {(r["source"], r["reason"]): r["len"] for r in counts.to_dicts()})
    if not listed:
        return
    table = Table(title=f"First {len(listed)} of {records.height:,}", title_justify="left")
    for name in ("input", "location", "reason", "raw (preview)"):
        table.add_column(name, overflow="fold")
    for row in listed:
        table.add_row(shown(row["input"]), shown(row["location"]), shown(row["reason"]), preview(row["raw"]))
    console.print(table)


def print_detect_summary(summary: DetectSummary, *, err: bool = False) -> None:
    """Rules, events, alerts per rule and level, time and rate; on stderr with `err` (when
    stdout carries alerts: `detect --json`, or a stdout sink)."""
    out = console_on(sys.stderr if err else sys.stdout)
    after, through = summary.commits
    if summary.mode != "incremental":
        scope = "time range"
    elif through > after:
        scope = f"commits {after + 1}..{through}"
    else:
        scope = "no new commits"
    out.print(
        f"{summary.rules} rules and {summary.correlations} correlations over "
        f"{summary.events_scanned:,} events ({scope}) in {summary.elapsed_s:.1f} s "
        f"({summary.events_per_second:,.0f} events/s): {summary.new_alerts:,} new alerts"
    )
    if not summary.new_alerts:
        return
    table = Table("level", "rule", "alerts")
    for (level, title), count in summary.counts.most_common():
        table.add_row(level, escape(title), f"{count:,}")
    out.print(table)


def print_sources(rows: list[dict[str, Any]]) -> None:
    table = Table()
    for name in ("name", "aliases", "reads"):
        table.add_column(name, overflow="fold")  # a narrow terminal must not cut a name to type
    for row in rows:
        table.add_row(row["name"], ", ".join(row["aliases"]), row["reads"])
    console = _stdout()
    console.print(table)
    console.print("Any input may be compressed (gzip, zstd, bzip2, xz) or piped in (-); other JSON logs "
                  "are read with a field mapping (ingest --mapping).")


def print_input_reports(reports: Sequence[InputReport]) -> None:
    """Per input: the source that would read it and how, or why none would."""
    table = Table()
    for name in ("input", "source", "read as", "note"):
        table.add_column(name, overflow="fold")  # a path or source name is never cut short
    for report in reports:
        source = report.source or "[red]none[/red]"
        table.add_row(shown(report.input), source, shown(report.read_as), shown(report.note or ""))
    _stdout().print(table)


def progress_reporter(*, every_s: float = 1.0) -> Callable[[str, int], None] | None:
    """A progress callback writing to stderr when it is a terminal, else None (quiet logs)."""
    if not sys.stderr.isatty():
        return None
    err = console_on(sys.stderr)
    last = [0.0]

    def report(name: str, count: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            err.print(f"  {name}: {count:,} records read", end="\r")

    return report
