"""The `auditlake` command: parse flags, call one library function, format the result.

`HELP` is what `auditlake --help` tells its users.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from enum import IntEnum
from pathlib import Path

import click
import orjson
import polars as pl

from auditlake.cli_options import existing_lake
from auditlake.errors import AuditlakeError, UnknownSourceError
from auditlake.ingest import DEFAULT_BATCH_ROWS, IngestSummary, expand_inputs, ingest
from auditlake.lake import LakePaths, scan_quarantine
from auditlake.sources import registry
from auditlake.sources.base import SourceSpec
from auditlake.sources.piped_inputs import STDIN, pipes_copied
from auditlake.stop_signals import Stopped, stopping
from auditlake.terminal import (
    print_demo_summary,
    print_ingest_summary,
    print_input_reports,
    print_quarantine,
    print_sources,
    progress_reporter,
)

DEFAULT_LAKE = Path("data/lake")


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    PARTIAL = 3
    SPOOLED = 4


def _lake_option(*, created: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--lake`; a command that only reads it (`created=False`) refuses a folder that is not there."""
    return click.option(
        "--lake",
        type=click.Path(file_okay=False, path_type=Path),
        default=lambda: os.environ.get("AUDITLAKE_LAKE", str(DEFAULT_LAKE)),
        show_default="$AUDITLAKE_LAKE or data/lake",
        help="Lake directory (created if missing)." if created else "Lake directory.",
        callback=None if created else existing_lake,
    )


HELP = """Detection and analytics on zero-trust audit logs.

Audit events of cloud control planes (CloudTrail, Google Cloud), Okta, Kubernetes, GitHub,
access gateways, Linux auditd and Windows are read into one Parquet lake with a common
who/what/when/where schema; Sigma rules run over it and their alerts are stored beside the
events and sent to the configured sinks.

\b
Getting started:
  auditlake demo                  # build a synthetic org, ingest it, detect
  auditlake ingest logs/          # read logs; each file's source is detected
  auditlake detect                # run rules/ over events new since last run
  auditlake watch --inbox in/     # ingest and detect files dropped into in/
  auditlake rules test            # run every rule's labelled test events

Each command has its own --help. Data and --json go to stdout; progress and messages go to
stderr. The lake defaults to $AUDITLAKE_LAKE, else data/lake.

\b
Exit codes:
  0  done
  1  could not run (lake locked, unreadable input, bad configuration)
  2  usage error (unknown flag or source)
  3  done, but some inputs were not recognised or could not be read
  4  done, but some alerts wait in a sink's spool (receiver down or refusing);
     the next detect or watch sends them
  130, 143  stopped by Ctrl-C or SIGTERM (ingest, detect): what was committed is kept,
     and the same command run again finishes the work
"""

LAZY_COMMANDS = {
    "detect": "auditlake.cli_detect:cmd_detect",
    "watch": "auditlake.cli_watch:cmd_watch",
    "rules": "auditlake.cli_rules:rules",
}
"""Commands defined in other modules, as `module:attribute`, imported when first asked for."""


class _LazyGroup(click.Group):
    """A group whose `LAZY_COMMANDS` are imported when first asked for: detection's load
    pySigma and the rule compiler (a third of a second), which an ingest run never uses."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, name = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="auditlake")
def main() -> None:
    pass


@main.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", default="auto", show_default=True,
              help="Source name or alias (see `auditlake sources`), or 'auto' to detect from content.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML field mapping for an application's JSON log: every input is read with it, "
                   "or, when it has [detect] require, the inputs holding those fields (the others "
                   "by their content).")
@_lake_option()
@click.option("--batch-rows", default=DEFAULT_BATCH_ROWS, show_default=True, type=click.IntRange(min=1),
              help="Records per atomic commit; bounds memory.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes converting records in parallel.  [default: one per core]")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def cmd_ingest(paths: tuple[Path, ...], source: str, mapping: Path | None, lake: Path,
               batch_rows: int, workers: int | None, as_json: bool) -> None:
    """Read audit logs into the lake.

    PATHS are files, folders (read recursively) or pipes, and - for what is piped in. Each
    input's source is detected from its content unless --source names it. Re-ingesting the
    same input adds nothing; records that cannot be parsed are quarantined with the reason.

    Ctrl-C or SIGTERM stops it within seconds, once the batch being committed is written:
    exit 130 (Ctrl-C) or 143 (SIGTERM), whole batches in the lake and no copy of piped input
    left behind.

    \b
    Examples:
      auditlake ingest cloudtrail/2024/ --lake data/lake
      auditlake ingest audit.log --source auditd --json
      auditlake ingest app.jsonl --mapping app-mapping.toml
      zcat trail.json.gz | auditlake ingest - --source cloudtrail
    """
    if STDIN in paths and sys.stdin.isatty():
        raise click.UsageError("'-' reads what is piped into auditlake, and nothing is: "
                               "e.g. `zcat trail.json.gz | auditlake ingest - --source cloudtrail`")
    if mapping is not None and source != "auto":
        raise click.UsageError(f"--mapping names the source its inputs are read as; leave out "
                               f"--source {source} (or the mapping, to read them as {source})")
    started = time.monotonic()
    try:
        spec = _mapping_spec(mapping) if mapping else source
        with stopping(), pipes_copied(paths) as inputs:
            summary = ingest(inputs, LakePaths.at(lake), source=spec, batch_rows=batch_rows,
                             workers=workers, progress=progress_reporter())
    except UnknownSourceError as exc:
        raise click.UsageError(str(exc)) from exc
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    except Stopped as stop:  # the commit under way finished, the batch being gathered was dropped
        click.echo(f"stopped ({stop.name}): batches committed before it are kept, and the same "
                   "ingest run again adds only what is missing", err=True)
        sys.exit(stop.exit_status)
    elapsed = time.monotonic() - started
    if as_json:
        click.echo(orjson.dumps(summary_json(summary, elapsed, lake)).decode())
    else:
        print_ingest_summary(summary, elapsed, lake)
    sys.exit(ExitCode.PARTIAL if summary.errors else ExitCode.OK)


def _mapping_spec(path: Path) -> SourceSpec:
    from auditlake.sources.generic import load_mapping

    return load_mapping(path)


def summary_json(summary: IngestSummary, elapsed: float, lake: Path) -> dict[str, object]:
    """The ingest summary as plain JSON types, for scripts."""
    return {
        "lake": str(lake),
        "inputs": summary.inputs,
        "records": summary.records,
        "added": summary.added,
        "batches": summary.batches,
        "rows": [{"source": s, "dt": d, "rows": n} for (s, d), n in sorted(summary.rows.items())],
        "duplicates": dict(sorted(summary.duplicates.items())),
        "quarantined": [
            {"source": s, "reason": r, "count": n} for (s, r), n in sorted(summary.quarantined.items())
        ],
        "already_quarantined": summary.already_quarantined,
        "skipped": [{"source": s, "reason": r, "count": n} for (s, r), n in sorted(summary.skipped.items())],
        "passed_over": [{"reason": r, "inputs": n} for r, n in sorted(summary.passed_over.items())],
        "errors": summary.errors,
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(summary.records / elapsed, 1) if elapsed > 0 else None,
    }


@main.command("demo")
@click.option("--synth-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data/synth"),
              show_default=True, help="Where the generated native log files go.")
@_lake_option()
@click.option("--seed", default=7, show_default=True, help="Seed of the synthetic organisation.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(min=1),
              help="Days of activity to generate.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Volume multiplier (1.0 is a few hundred thousand events a week).")
@click.option("--rules", "rules", type=click.Path(file_okay=False, path_type=Path), default=Path("rules"),
              show_default=True, help="Rules to run over the organisation (skipped if the folder is missing).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def cmd_demo(synth_dir: Path, lake: Path, seed: int, days: int, scale: float, rules: Path,
             as_json: bool) -> None:
    """Build a synthetic organisation's audit logs and ingest them into the lake.

    Writes native log files for eight sources (CloudTrail, Okta, GitHub, GCP, Kubernetes,
    the access gateway, Windows, auditd) with injected attack scenarios, and their ground
    truth (`ground_truth.jsonl`) beside them; then ingests them, runs the rules over them
    and shows which attack scenarios their alerts caught. Deterministic by --seed.
    """
    from auditlake.demo import run_demo

    started = time.monotonic()
    click.echo(f"generating {days} days (seed {seed}, scale {scale}) into {synth_dir} ...", err=True)
    try:
        result = run_demo(synth_dir, lake, seed=seed, days=days, scale=scale, progress=progress_reporter(),
                          rules=rules if rules.is_dir() else None)
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    elapsed = time.monotonic() - started
    if as_json:
        body = summary_json(result.ingest, elapsed, lake)
        body["synth"] = {"dir": str(synth_dir), "events": result.synth.total_events,
                         "scenarios": list(result.synth.scenarios),
                         "ground_truth": str(synth_dir / "ground_truth.jsonl")}
        if result.detection is not None:
            body["detection"] = {
                "rules": result.detection.rules, "correlations": result.detection.correlations,
                "events": result.detection.events_scanned, "new_alerts": result.detection.new_alerts,
                "alerts": result.alerts_total,
                "scenarios": [{"scenario": c.scenario_id, "steps": c.steps, "caught_steps": c.caught_steps,
                               "rules": list(c.rules)} for c in result.coverage],
            }
        click.echo(orjson.dumps(body).decode())
    else:
        print_demo_summary(result, elapsed)
    sys.exit(ExitCode.PARTIAL if result.ingest.errors else ExitCode.OK)


QUARANTINE_TABLE_ROWS = 20
"""Records the quarantine table lists when --limit is not given (--json lists them all)."""


@main.command("quarantine")
@_lake_option(created=False)
@click.option("--source", default=None, help="Only this source.")
@click.option("--limit", default=None, type=click.IntRange(min=0),
              help="Records to list; 0: counts per source and reason only.  "
                   f"[default: {QUARANTINE_TABLE_ROWS} in the table, all with --json]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines: one object per record.")
def cmd_quarantine(lake: Path, source: str | None, limit: int | None, as_json: bool) -> None:
    """Show the records ingest could not read, with where they came from and why.

    Each is kept byte for byte in the lake's quarantine/ table; fix the cause (or the
    input), then ingest again: what now parses is added, the rest stays here.

    \b
    With --json, each line is one record:
      source, input, location, reason, quarantined_at
      raw          the record as text; null when its bytes are not UTF-8
      raw_base64   then its bytes in base64 (else null)
    With --json --limit 0, each line is {source, reason, count}.
    """
    paths = LakePaths.at(lake)
    try:  # a damaged commit record fails the scan itself, before any file is read
        wanted = None if source is None else _quarantined_source(paths, source)
        frame = scan_quarantine(paths)
        if wanted is not None:
            frame = frame.filter(pl.col("source") == wanted)
        keys = _read_quarantine(paths, frame.select(pl.exclude("raw")).sort(*_QUARANTINE_ORDER, nulls_last=True))
        # scripts read --json and need every record; a person reads the table and is told the rest
        listed = limit if limit is not None else keys.height if as_json else QUARANTINE_TABLE_ROWS
        if as_json:
            _print_quarantine_json(paths, frame, keys, listed)
        else:
            rows = [row for part in _with_raw(paths, frame, keys.head(listed)) for row in part.iter_rows(named=True)]
            print_quarantine(keys, rows, source=wanted)
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    if 0 < listed < keys.height:
        click.echo(f"{keys.height - listed:,} more quarantined record(s) not listed: --limit "
                   f"{keys.height} lists them all", err=True)


def _read_quarantine(paths: LakePaths, frame: pl.LazyFrame) -> pl.DataFrame:
    """`frame` collected; a quarantine file that changed since its commit is named as such."""
    from auditlake.lake.damage import reading
    from auditlake.lake.scan import committed_files

    with reading(paths, committed_files(paths, "quarantine")):
        return frame.collect()


QUARANTINE_READ_ROWS = 1_000
"""Records whose bytes are read at once: one scan of the quarantine per this many records."""


def _with_raw(paths: LakePaths, frame: pl.LazyFrame, keys: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The records `keys` names, in their order, with their bytes, read `QUARANTINE_READ_ROWS`
    at a time: what is held at once is the files of the commits those records came from, not
    the whole quarantine (a record may be as large as 64 MiB, and an ingest with the wrong
    --source quarantines every record)."""
    for part in keys.iter_slices(QUARANTINE_READ_ROWS):
        # the files of other commits are left unread by their statistics (keys are in commit order)
        first, last = part["quarantined_at"][0], part["quarantined_at"][-1]
        raw = _read_quarantine(paths, frame.filter(
            pl.col("quarantined_at").is_between(first, last),
            pl.col("record_hash").is_in(part["record_hash"].implode()),
        ).select("record_hash", "raw")).unique("record_hash", keep="first")
        yield part.join(raw, on="record_hash", how="left", maintain_order="left")


def _print_quarantine_json(paths: LakePaths, frame: pl.LazyFrame, keys: pl.DataFrame, limit: int) -> None:
    """JSON Lines: the first `limit` records (of `keys`, read from `frame`), or with `limit` 0
    the count per source and reason, as `ingest --json` reports them."""
    from auditlake.lake.quarantine import record_json

    if limit == 0:
        counts = keys.group_by("source", "reason").len().sort("source", "reason")
        for row in counts.iter_rows(named=True):
            click.echo(orjson.dumps({"source": row["source"], "reason": row["reason"],
                                     "count": row["len"]}).decode())
        return
    for part in _with_raw(paths, frame, keys.head(limit)):
        for row in part.iter_rows(named=True):
            click.echo(orjson.dumps(record_json(row), default=str).decode())


_QUARANTINE_ORDER = (
    pl.col("quarantined_at"),
    pl.col("input"),
    # the line or record number after the input's name (`a.jsonl:12 envelope 2`), so that
    # line 10 comes after line 9 rather than after line 1
    pl.col("location").str.extract(r":[^:]*?(\d+)[^:]*$", 1).cast(pl.Int64, strict=False),
    pl.col("location"),
)
"""Ingest after ingest, input by input, in the order of the records in each input."""


def _quarantined_source(lake: LakePaths, name: str) -> str:
    """The lake name of `--source NAME`: a built-in source's for one of its aliases, else a
    source the lake holds (a generic mapping's). A misspelt name is a usage error rather than
    a quiet "nothing is quarantined"."""
    from auditlake.lake.scan import committed_files

    try:
        return registry.lookup(name).name
    except UnknownSourceError as exc:
        quarantined = {f.source for f in committed_files(lake, "quarantine")}
        if name in quarantined or name in {f.source for f in committed_files(lake)}:
            return name
        held = ", ".join(sorted(quarantined)) or "none"
        raise click.BadParameter(
            f"unknown source {name!r}: neither a source's name or alias (`auditlake sources`) "
            f"nor a source of the lake; sources with quarantined records: {held}",
            param_hint="'--source'",
        ) from exc


@main.command("sources")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def cmd_sources(paths: tuple[Path, ...], as_json: bool) -> None:
    """List the log sources auditlake can read, with their aliases and the inputs each takes.

    Any input may also be compressed (gzip, zstd, bzip2, xz) or piped in (-); other JSON logs
    are read with a field mapping (ingest --mapping).

    With PATHS (files or folders), tell instead what ingest would make of each input, without
    ingesting it: the source that reads it and how, or why none does (exit 3), as for a path
    that cannot be read or a folder with no file to read.

    \b
    Examples:
      auditlake sources
      auditlake sources s3-sync/AWSLogs/ --json
    """
    if paths:
        _describe_inputs(paths, as_json)
        return
    rows = [{"name": s.name, "aliases": list(s.aliases), "raw_format": s.raw_format, "reads": s.reads}
            for s in registry.SOURCES]
    if as_json:
        click.echo(orjson.dumps(rows).decode())
    else:
        print_sources(rows)


def _describe_inputs(paths: tuple[Path, ...], as_json: bool) -> None:
    """`auditlake sources PATH...`: per input, what ingest would make of it; exit 3 when some
    input would be neither read nor knowingly passed over."""
    from dataclasses import asdict, replace

    from auditlake.sources.input_report import InputReport, describe_input

    if STDIN in paths and sys.stdin.isatty():
        raise click.UsageError("'-' reads what is piped into auditlake, and nothing is: "
                               "e.g. `zcat trail.json.gz | auditlake sources -`")
    once = list(dict.fromkeys(paths))  # what is piped in is read once, however often it is named
    reports = []
    # a stream's bytes are gone once read, and telling its source reads them more than once:
    # it is copied first, as ingest copies it
    with pipes_copied(once) as inputs:
        for path, read in zip(once, inputs, strict=True):
            if read != path:  # the copy of a stream
                reports.append(replace(describe_input(read), input=str(path)))
                continue
            # a missing path is reported by describe_input, as ingest reports it
            found = [describe_input(each) for each in expand_inputs([path])]
            reports += found or [InputReport(str(path), None, "folder",
                                             "no file to read in it (names starting with '.' are skipped)")]
    if as_json:
        for report in reports:
            click.echo(orjson.dumps(asdict(report)).decode())
    else:
        print_input_reports(reports)
    unread = [r for r in reports if r.source is None and not r.passed_over]
    sys.exit(ExitCode.PARTIAL if unread else ExitCode.OK)
