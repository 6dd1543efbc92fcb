"""`auditlake detect`: run the rules over the lake and store alerts."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

import click
import orjson

from auditlake.cli_options import existing_lake
from auditlake.detect_output import PrintingRuns
from auditlake.detection.alerts import ORIGINS
from auditlake.detection.compile import RuleSet, compile_rules, rule_files
from auditlake.detection.engine import DetectSummary, new_run_id, run_detection
from auditlake.detection.logsources import unsupported_reason
from auditlake.detection.placeholders import load_placeholders
from auditlake.detection.rule_levels import LEVELS, at_least
from auditlake.detection.rulecache import compile_rules_cached, frozen_for_the_run
from auditlake.detection.watermarks import ruleset_digest
from auditlake.errors import AuditlakeError, UnknownSourceError
from auditlake.lake import LakePaths
from auditlake.sinks import config_path, describe, open_delivery
from auditlake.stop_signals import Stopped, stopping
from auditlake.terminal import console_on, print_detect_summary

DEFAULT_RULES = Path("rules")


def parse_moment(text: str | None) -> datetime | None:
    """`2026-03-02` (midnight UTC) or an ISO-8601 time; naive times are UTC."""
    if text is None:
        return None
    try:
        if len(text) == len("YYYY-MM-DD"):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a date or ISO-8601 time (e.g. 2026-03-02T09:00Z)") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def rule_files_of(paths: tuple[Path, ...]) -> list[Path]:
    """The rule files under `paths`; a path that does not exist is a usage error."""
    for path in paths:
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="--rules")
    return sorted(rule_files(paths))


def lake_sources(names: tuple[str, ...], lake: Path) -> tuple[str, ...]:
    """`--source` values as the lake's source names: a built-in source by name or alias, or a
    source the lake holds (a generic mapping's). An unknown one is a usage error rather than
    a run that silently reads nothing."""
    from auditlake.sources.registry import SOURCES, lookup

    found = []
    for name in names:
        try:
            found.append(lookup(name).name)
        except UnknownSourceError:
            if not (LakePaths.at(lake).events / f"source={name}").is_dir():
                known = ", ".join(spec.name for spec in SOURCES)
                raise click.BadParameter(
                    f"unknown source {name!r}: the lake holds no such source; use one of {known}, "
                    "an alias `auditlake sources` lists, or a generic mapping's name",
                    param_hint="--source",
                ) from None
            found.append(name)
    return tuple(dict.fromkeys(found))


def min_level_option() -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--min-level`, shared by detect and watch (`rule_levels`)."""
    return click.option(
        "--min-level", type=click.Choice(LEVELS, case_sensitive=False), default=None,
        callback=lambda _ctx, _param, value: value and value.lower(),
        help="Alert only on rules and correlations of this level or above; rules below it still "
             "feed the correlations above it. Incremental runs with a level keep their own "
             "progress.  [default: every level]",
    )


def run_ruleset(ruleset: RuleSet, min_level: str | None) -> RuleSet:
    """The compiled rules as a run uses them: alerting from `min_level` up, kept for the run."""
    return frozen_for_the_run(ruleset if min_level is None else at_least(ruleset, min_level))


@click.command("detect")
@click.option("--rules", "rules_paths", multiple=True, type=click.Path(path_type=Path),
              help="Rule files or folders (repeatable).  [default: rules/]")
@click.option("--lake", type=click.Path(file_okay=False, path_type=Path), envvar="AUDITLAKE_LAKE",
              default=Path("data/lake"), show_default="$AUDITLAKE_LAKE or data/lake", help="Lake directory.",
              callback=existing_lake)
@click.option("--since", help="Start of the time range (date or ISO-8601 time, inclusive).")
@click.option("--until", help="End of the time range (exclusive).")
@click.option("--source", "sources", multiple=True,
              help="Only these lake sources (repeatable; aliases as `auditlake sources` lists).")
@min_level_option()
@click.option("--origin", type=click.Choice(ORIGINS), default=None,
              help="Recorded on each alert.  [default: realtime for incremental runs, else replay]")
@click.option("--no-cache", is_flag=True,
              help="Compile and plan every rule afresh instead of reusing unchanged files' compiled "
                   "rules and their plans.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="AUDITLAKE_CONFIG",
              default=None, show_default="$AUDITLAKE_CONFIG or ./auditlake.toml if present",
              help="Sinks the new alerts are delivered to (see auditlake.example.toml).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the new alerts as JSON Lines on stdout (summary on stderr); a run "
                   "killed before it printed them has them printed by the next --json run.")
def cmd_detect(rules_paths: tuple[Path, ...], lake: Path, since: str | None, until: str | None,
               sources: tuple[str, ...], min_level: str | None, origin: str | None, no_cache: bool,
               config: Path | None, as_json: bool) -> None:
    """Run Sigma rules over the lake and store their alerts in alerts/.

    Without --since/--until the run is incremental: it processes exactly what was ingested
    since the last run of the same rule set (late-arriving events included), so a scheduled
    job just runs `auditlake detect`. With a range, it (re)processes that time range. Alerts
    have deterministic ids: running the same range twice adds nothing. New alerts go to the
    sinks configured in --config (JSON Lines, stdout, webhook); a sink that is down gets them
    from its spool on a later run (exit 4 until then). With a stdout sink, standard output
    carries the alerts only, each once (the summary goes to stderr, as with --json).

    \b
    Examples:
      auditlake detect                                  # incremental, rules/ over data/lake
      auditlake detect --since 2026-03-02 --until 2026-03-09 --json > alerts.jsonl
      auditlake detect --rules rules/aws --source aws.cloudtrail
      auditlake detect --min-level high                 # hunting rules left out
    """
    from auditlake.cli import ExitCode

    files = rule_files_of(rules_paths or (DEFAULT_RULES,))
    if not files:
        raise click.UsageError("no rule files found; pass --rules DIR")
    start, end = parse_moment(since), parse_moment(until)
    if start and end and start >= end:
        raise click.BadParameter("--since must be before --until")
    sources = lake_sources(sources, lake)
    try:
        chosen = config_path(config)
    except AuditlakeError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        placeholders = load_placeholders(chosen)
    except AuditlakeError as exc:  # bad configuration, not a bad command line
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    with _stopping_in_order():
        ruleset = compile_rules(files, placeholders=placeholders) if no_cache \
            else compile_rules_cached(files, placeholders=placeholders)
        ruleset = run_ruleset(ruleset, min_level)
        warn_failures(ruleset, lake)
        incremental = start is None and end is None
        paths, run_id = LakePaths.at(lake), new_run_id()
        try:
            # Opened before the run: a sink configured for the first time starts with its alerts.
            delivery = open_delivery(paths, chosen)
            prints = as_json and not delivery.writes_stdout  # else the stdout sink prints them, once
            marks = PrintingRuns(paths)
            with marks.printing(run_id) if prints else nullcontext():
                earlier = marks.interrupted() if prints else []
                summary = run_detection(
                    paths, ruleset, digest=ruleset_digest(files, placeholders, min_level=min_level), since=start, until=end,
                    sources=sources or None, origin=origin or ("realtime" if incremental else "replay"),
                    progress=_progress(), run_id=run_id,
                )
                if prints:
                    _print_alerts(summary, earlier, marks)
        except AuditlakeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.FAILURE)
        print_detect_summary(summary, err=as_json or delivery.writes_stdout)
        try:
            report = delivery.sync()
        except AuditlakeError as exc:  # the alerts are stored; the next delivery sends them
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.FAILURE)
        for line in describe(report):  # a sink that is down keeps its alerts in its spool
            click.echo(line, err=True)
        if not report.complete:
            sys.exit(ExitCode.SPOOLED)


STOPPED = ("alerts stored before it are kept; the same command run again finishes the run without "
           "storing any alert twice, and delivers (or prints, with --json) what this one did not")


@contextmanager
def _stopping_in_order() -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the block in order, with one line and exit 130 or 143: the run's
    thread pools finish what they hold, its spilled matches are removed, the lock is let go.
    Its watermark moves only once every alert is stored, so the next run redoes the rest
    (and a delivery or `--json` output cut short is resumed as after any crash)."""
    try:
        with stopping():
            yield
    except Stopped as stop:
        click.echo(f"stopped ({stop.name}): {STOPPED}", err=True)
        sys.exit(stop.exit_status)


def _print_alerts(summary: DetectSummary, earlier: list[str], marks: PrintingRuns) -> None:
    """JSON Lines of the run's new alerts, after those of printing runs killed before they
    printed theirs (`auditlake.detect_output`)."""
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        _cannot_print("it is closed")
    again = 0
    try:
        if summary.store is not None:
            store = summary.store
            for path in [p for run_id in earlier for p in store.run_files(run_id)]:
                for row in store.read([path]).iter_rows(named=True):
                    click.echo(orjson.dumps(row, default=str).decode())
                    again += 1
        for batch in summary.alert_batches():
            for row in batch.iter_rows(named=True):
                click.echo(orjson.dumps(row, default=str).decode())
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # a reader that stopped early (`| head`): click ends the command quietly
    except OSError as exc:  # a full disk (`> /dev/full`), an I/O error
        _cannot_print(exc.strerror or str(exc))
    for run_id in earlier:
        marks.done(run_id)
    if again:
        click.echo(f"{again:,} alerts of an interrupted run printed again (they may have been "
                   "printed in part before it stopped)", err=True)


def _cannot_print(why: str) -> NoReturn:
    """Exit 1 saying the alerts were not printed. The run's printing mark stays, so the next
    `--json` run prints them (`auditlake.detect_output`)."""
    from auditlake.cli import ExitCode

    click.echo(f"error: cannot write the alerts to standard output ({why}); they are stored, "
               "and the next `auditlake detect --json` prints them", err=True)
    sys.exit(ExitCode.FAILURE)


def warn_failures(ruleset: RuleSet, lake: Path | None = None, *, writes: Iterable[str] = ()) -> None:
    """A warning per rule that did not compile, and per rule whose logsource reaches no lake
    source (`warn_unrouted`) or, with the `lake`, only mapped sources it does not hold
    (`warn_unheld`; `writes`: sources the command is about to write, a watched mapping's);
    exit 1 when rules failed and none is left to run: a scheduled run of a
    broken rule set must not pass for a quiet day."""
    from auditlake.cli import ExitCode

    for failure in ruleset.failures:
        click.echo(f"warning: rule {failure.path or failure.title} not compiled ({failure.reason}): "
                   f"{failure.message}", err=True)
    warn_unrouted(ruleset)
    if lake is not None:
        warn_unheld(ruleset, lake, writes)
    if ruleset.failures and not ruleset.correlations and not any(rule.output for rule in ruleset.rules):
        click.echo(f"error: no rule left to run: {len(ruleset.failures)} did not compile (above); "
                   "`auditlake rules check` shows where", err=True)
        sys.exit(ExitCode.FAILURE)


def warn_unheld(ruleset: RuleSet, lake: Path, writes: Iterable[str] = ()) -> None:
    """A warning per rule whose logsource names only sources no built-in source is and the
    lake does not hold (`logsources.route` reads an unknown logsource as the name of a generic
    mapping's source): a misspelt product, or an application whose log is not ingested yet."""
    from auditlake.sources.registry import SOURCES

    known = {spec.name for spec in SOURCES} | held_sources(lake) | set(writes)
    for rule in ruleset.rules:
        if not rule.sources or rule.sources & known:
            continue
        click.echo(f"warning: rule {rule.path or rule.title} sees no event: its logsource "
                   f"({_written(rule.logsource)}) names the source {', '.join(sorted(rule.sources))}, which is no "
                   "built-in source and which the lake does not hold (a generic mapping of that name "
                   "writes it); `auditlake rules check` shows which logsources route", err=True)


def held_sources(lake: Path) -> set[str]:
    """The sources the lake holds events of (its `events/source=<name>` partitions)."""
    events = LakePaths.at(lake).events
    try:
        return {entry.name.partition("=")[2] for entry in events.iterdir() if entry.name.startswith("source=")}
    except OSError:
        return set()


def _written(logsource: tuple[str | None, str | None, str | None]) -> str:
    """A rule's logsource as it is written: `product=x, service=y`."""
    product, category, service = logsource
    pairs = (("product", product), ("category", category), ("service", service))
    return ", ".join(f"{k}={v}" for k, v in pairs if v) or "empty"


def warn_unrouted(ruleset: RuleSet) -> None:
    """A warning per rule that compiled but whose logsource no lake source holds: it would
    never see an event, which a run must not pass over in silence (a misspelt product, or a
    log the lake does not ingest)."""
    for rule in ruleset.rules:
        if rule.routes:
            continue
        why = unsupported_reason(*rule.logsource) or "no lake source reads it"
        click.echo(f"warning: rule {rule.path or rule.title} not run: its logsource ({_written(rule.logsource)}) "
                   f"reaches no lake source ({why}); `auditlake rules check` shows which logsources route",
                   err=True)


def _progress(every_s: float = 0.5) -> Callable[[str, int, int], None] | None:
    """Events detected so far, on stderr when it is a terminal (scheduled runs log nothing)."""
    if not sys.stderr.isatty():
        return None
    console = console_on(sys.stderr)
    started = time.monotonic()
    last = [0.0]

    def report(what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if what != "done" and now - last[0] < every_s:
            return
        last[0] = now
        share = f"{done / total:.0%}" if total else "-"
        rate = done / (now - started) if now > started else 0.0
        end = "\n" if what == "done" else "\r"
        console.print(f"  detecting {what}: {done:,}/{total:,} events ({share}, {rate:,.0f}/s)   ", end=end)

    return report
