"""`auditlake watch`: ingest files dropped into an inbox, detect, deliver, report latency."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
import orjson

from auditlake.cli_detect import (
    DEFAULT_RULES,
    min_level_option,
    rule_files_of,
    run_ruleset,
    warn_failures,
)
from auditlake.detection.placeholders import load_placeholders
from auditlake.detection.rulecache import compile_rules_cached
from auditlake.detection.watermarks import ruleset_digest
from auditlake.errors import AuditlakeError, UnknownSourceError
from auditlake.lake import LakePaths
from auditlake.sinks import Delivery, SinkConfig, build_sinks, config_path, load_config
from auditlake.sinks.config import StdoutConfig
from auditlake.sources import registry
from auditlake.sources.base import SourceSpec
from auditlake.sources.generic import load_mapping
from auditlake.stop_signals import on_stop_signals
from auditlake.watch import FileReport, Watcher


@click.command("watch")
@click.option("--inbox", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder files are dropped into (created if missing).")
@click.option("--rules", "rules_paths", multiple=True, type=click.Path(path_type=Path),
              help="Rule files or folders (repeatable).  [default: rules/]")
@click.option("--lake", type=click.Path(file_okay=False, path_type=Path), envvar="AUDITLAKE_LAKE",
              default=Path("data/lake"), show_default="$AUDITLAKE_LAKE or data/lake", help="Lake directory.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="AUDITLAKE_CONFIG",
              default=None, show_default="$AUDITLAKE_CONFIG or ./auditlake.toml if present",
              help="Sinks to deliver alerts to (see auditlake.example.toml).")
@click.option("--source", default="auto", show_default=True,
              help="Source of every dropped file, or 'auto' to detect each from its content.")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML field mapping for an application's JSON log: every dropped file is read with "
                   "it, or, when it has [detect] require, the files holding those fields (the others "
                   "by their content).")
@click.option("--poll-s", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="Seconds between looks at the inbox.")
@click.option("--settle-s", type=click.FloatRange(min=0.0), default=0.5, show_default=True,
              help="A file written in place is taken once unchanged this long.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes converting each file (1 is fastest for small files).")
@click.option("--once", is_flag=True,
              help="Process what is in the inbox, then exit (for tests and cron); exit status below.")
@min_level_option()
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per processed file on stdout (not with a stdout sink).")
def cmd_watch(inbox: Path, rules_paths: tuple[Path, ...], lake: Path, config: Path | None, source: str,
              mapping: Path | None, poll_s: float, settle_s: float, workers: int, once: bool, min_level: str | None,
              as_json: bool) -> None:
    """Detect in near real time on log files dropped into an inbox folder.

    Each complete file is ingested, the rules run incrementally, new alerts go to the sinks
    of the configuration, and the file moves to INBOX/.done/ (or INBOX/.failed/ with a
    .reason.txt when it cannot be read). Per file it reports records, alerts and the latency
    from the file landing to its alerts being acknowledged by every sink.

    Writers should write elsewhere (or under a name starting with '.' or ending in .tmp) and
    rename the finished file into the inbox. Ctrl-C or SIGTERM stops within seconds: sinks give
    up their retries (their alerts stay spooled) and whatever was not finished is picked up on
    the next start; a second Ctrl-C stops at once.

    While watching, a lake that refuses writes (read-only, full) is waited for and said once.
    With --once the run ends instead, and its exit status is:

    \b
      0  done
      1  could not run (the lake refused a write, bad configuration, ...)
      3  done, but some files could not be read (moved to INBOX/.failed/)
      4  done, but some alerts wait in a sink's spool (receiver down or refusing)

    \b
    Examples:
      auditlake watch --inbox /var/spool/auditlake --config auditlake.toml
      auditlake watch --inbox inbox/ --rules rules/okta --once --json
      auditlake watch --inbox inbox/ --mapping app-mapping.toml
    """
    from auditlake.cli import ExitCode

    spec = _source_spec(source, mapping)
    files = rule_files_of(rules_paths or (DEFAULT_RULES,))
    if not files:
        raise click.UsageError("no rule files found; pass --rules DIR")
    try:
        chosen = config_path(config)
    except AuditlakeError as exc:
        raise click.UsageError(str(exc)) from exc
    sink_configs, placeholders = _configuration(chosen)
    if as_json and any(isinstance(c, StdoutConfig) for c in sink_configs):
        raise click.UsageError("--json prints a report per file on standard output, where the stdout sink "
                               "writes alerts; leave out --json (the same reports go to stderr as text) "
                               "or send the alerts to a jsonl sink")
    ruleset = run_ruleset(compile_rules_cached(files, placeholders=placeholders), min_level)
    warn_failures(ruleset, lake, writes=[spec.name] if isinstance(spec, SourceSpec) else [])
    stop = threading.Event()
    delivery: Delivery | None = None
    try:
        paths = LakePaths.at(lake)
        delivery = Delivery(paths, build_sinks(sink_configs))
        watcher = Watcher(
            inbox, paths, ruleset, digest=ruleset_digest(files, placeholders, min_level=min_level), delivery=delivery, poll_s=poll_s,
            settle_s=settle_s, source=spec, workers=workers,
            on_file=_file_printer(as_json), on_note=lambda text: click.echo(text, err=True),
        )
        sinks = ", ".join(str(s) for s in delivery.sinks) or f"none ({chosen or 'no auditlake.toml'})"
        click.echo(f"watching {inbox} into {lake}: {len(files)} rule files, sinks: {sinks}"
                   f"{'' if once else '; Ctrl-C to stop'}", err=True)
        previous = on_stop_signals(_stopper(stop, delivery))
        try:
            stats = watcher.run(once=once, stop=stop)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
    except KeyboardInterrupt:
        if delivery is not None:
            delivery.stop.set()
        click.echo("stopped; unfinished files are taken up on the next start", err=True)
        sys.exit(ExitCode.OK)
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    if stop.is_set():
        click.echo("stopped; unfinished files are taken up on the next start", err=True)
    waiting = f", alerts waiting in the spool of {', '.join(stats.waiting_for)}" if stats.waiting_for else ""
    click.echo(f"{stats.files} files, {stats.records:,} records, {stats.alerts:,} alerts"
               f"{f', {stats.failed} failed' if stats.failed else ''}{waiting}", err=True)
    if stats.failed:
        sys.exit(ExitCode.PARTIAL)
    sys.exit(ExitCode.SPOOLED if once and stats.waiting_for else ExitCode.OK)


def _source_spec(source: str, mapping: Path | None) -> str | SourceSpec:
    """What every dropped file is read as, checked before the watch starts: a misspelt source
    or a mapping with a source is a usage error, and a broken mapping exits 1, as for ingest."""
    from auditlake.cli import ExitCode

    if mapping is not None and source != "auto":
        raise click.UsageError(f"--mapping names the source its files are read as; leave out "
                               f"--source {source} (or the mapping, to read them as {source})")
    if source != "auto":
        try:
            registry.lookup(source)
        except UnknownSourceError as exc:
            raise click.UsageError(str(exc)) from exc
    if mapping is None:
        return source
    try:
        return load_mapping(mapping)
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)


def _configuration(chosen: Path | None) -> tuple[list[SinkConfig], dict[str, list[str]]]:
    """The sinks and placeholders of the configuration file; exit 1 when it cannot be used."""
    from auditlake.cli import ExitCode

    if chosen is None:
        return [], {}
    try:
        return load_config(chosen), load_placeholders(chosen)
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)


def _stopper(stop: threading.Event, delivery: Delivery) -> Callable[[int, FrameType | None], None]:
    """A stop signal ends the watch at the next safe point, and sinks give up their retries
    (for a Kubernetes pod, well within its 30 s grace period); a second Ctrl-C stops at once."""
    def handler(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        delivery.stop.set()

    return handler


def _file_printer(as_json: bool) -> Callable[[FileReport], None]:
    def report(file: FileReport) -> None:
        if as_json:
            click.echo(orjson.dumps(file.as_json()).decode())
            sys.stdout.flush()
        click.echo(describe_file(file), err=True)

    return report


def describe_file(file: FileReport) -> str:
    """One line about a processed file."""
    if file.status == "failed":
        return f"{file.file}: failed, moved to .failed/ ({file.reason})"
    alerts = f"{file.alerts:,} alert{'s' if file.alerts != 1 else ''}" if file.alerts else "no alerts"
    if file.waiting_for:
        return f"{file.file}: {file.records:,} records, {alerts}; spooled for {', '.join(file.waiting_for)}"
    latency = f"{file.latency_s:.2f} s" if file.latency_s is not None else "?"
    done = "delivered" if file.alerts else "done"
    return f"{file.file}: {file.records:,} records, {alerts}, {done} {latency} after landing"
