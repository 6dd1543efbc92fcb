"""`auditlake detect`: run the rules over the lake and store alerts."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import click
import orjson
from rich.console import Console
from rich.table import Table

from auditlake.cli_options import existing_lake
from auditlake.detection.alerts import ORIGINS
from auditlake.detection.compile import RuleSet, compile_rules, rule_files
from auditlake.detection.engine import DetectSummary, run_detection
from auditlake.detection.logsources import unsupported_reason
from auditlake.detection.placeholders import load_placeholders
from auditlake.detection.rulecache import compile_rules_cached, frozen_for_the_run
from auditlake.detection.watermarks import ruleset_digest
from auditlake.errors import AuditlakeError, UnknownSourceError
from auditlake.lake import LakePaths
from auditlake.sinks import config_path, describe, open_delivery

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
@click.option("--origin", type=click.Choice(ORIGINS), default=None,
              help="Recorded on each alert.  [default: realtime for incremental runs, else replay]")
@click.option("--no-cache", is_flag=True,
              help="Compile and plan every rule afresh instead of reusing unchanged files' compiled "
                   "rules and their plans.")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), envvar="AUDITLAKE_CONFIG",
              default=None, show_default="$AUDITLAKE_CONFIG or ./auditlake.toml if present",
              help="Sinks the new alerts are delivered to (see auditlake.example.toml).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the new alerts as JSON Lines on stdout (summary on stderr).")
def cmd_detect(rules_paths: tuple[Path, ...], lake: Path, since: str | None, until: str | None,
               sources: tuple[str, ...], origin: str | None, no_cache: bool, config: Path | None,
               as_json: bool) -> None:
    """Run Sigma rules over the lake and store their alerts in alerts/.

    Without --since/--until the run is incremental: it processes exactly what was ingested
    since the last run of the same rule set (late-arriving events included), so a scheduled
    job just runs `auditlake detect`. With a range, it (re)processes that time range. Alerts
    have deterministic ids: running the same range twice adds nothing. New alerts go to the
    sinks configured in --config (JSON Lines, stdout, webhook); a sink that is down gets them
    from its spool on a later run.

    \b
    Examples:
      auditlake detect                                  # incremental, rules/ over data/lake
      auditlake detect --since 2026-03-02 --until 2026-03-09 --json > alerts.jsonl
      auditlake detect --rules rules/aws --source aws.cloudtrail
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
        placeholders = load_placeholders(config_path(config))
    except AuditlakeError as exc:
        raise click.UsageError(str(exc)) from exc
    ruleset = frozen_for_the_run(compile_rules(files, placeholders=placeholders) if no_cache
                                 else compile_rules_cached(files, placeholders=placeholders))
    warn_failures(ruleset)
    incremental = start is None and end is None
    try:
        # Opened before the run: a sink configured for the first time starts with its alerts.
        delivery = open_delivery(LakePaths.at(lake), config_path(config))
        summary = run_detection(
            LakePaths.at(lake), ruleset, digest=ruleset_digest(files, placeholders), since=start, until=end,
            sources=sources or None, origin=origin or ("realtime" if incremental else "replay"),
            progress=_progress(),
        )
    except AuditlakeError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    if as_json:
        for batch in summary.alert_batches():
            for row in batch.iter_rows(named=True):
                click.echo(orjson.dumps(row, default=str).decode())
    print_detect_summary(summary, err=as_json)
    try:
        report = delivery.sync()
    except AuditlakeError as exc:  # the alerts are stored; the next delivery sends them
        click.echo(f"error: {exc}", err=True)
        sys.exit(ExitCode.FAILURE)
    for line in describe(report):  # a sink that is down keeps its alerts in its spool
        click.echo(line, err=True)


def warn_failures(ruleset: RuleSet) -> None:
    """A warning per rule that did not compile, and per rule whose logsource reaches no lake
    source (`warn_unrouted`); exit 1 when rules failed and none is left to run: a scheduled
    run of a broken rule set must not pass for a quiet day."""
    from auditlake.cli import ExitCode

    for failure in ruleset.failures:
        click.echo(f"warning: rule {failure.path or failure.title} not compiled ({failure.reason}): "
                   f"{failure.message}", err=True)
    warn_unrouted(ruleset)
    if ruleset.failures and not ruleset.correlations and not any(rule.output for rule in ruleset.rules):
        click.echo(f"error: no rule left to run: {len(ruleset.failures)} did not compile (above); "
                   "`auditlake rules check` shows where", err=True)
        sys.exit(ExitCode.FAILURE)


def warn_unrouted(ruleset: RuleSet) -> None:
    """A warning per rule that compiled but whose logsource no lake source holds: it would
    never see an event, which a run must not pass over in silence (a misspelt product, or a
    log the lake does not ingest)."""
    for rule in ruleset.rules:
        if rule.routes:
            continue
        product, category, service = rule.logsource
        written = ", ".join(f"{k}={v}" for k, v in (("product", product), ("category", category),
                                                    ("service", service)) if v)
        why = unsupported_reason(product, category, service) or "no lake source reads it"
        click.echo(f"warning: rule {rule.path or rule.title} not run: its logsource ({written or 'empty'}) "
                   f"reaches no lake source ({why}); `auditlake rules check` shows which logsources route",
                   err=True)


def _progress(every_s: float = 0.5) -> Callable[[str, int, int], None] | None:
    """Events detected so far, on stderr when it is a terminal (scheduled runs log nothing)."""
    if not sys.stderr.isatty():
        return None
    console = Console(file=sys.stderr)
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


def print_detect_summary(summary: DetectSummary, *, err: bool = False) -> None:
    """Rules, events, alerts per rule and level, time and rate."""
    console = Console(file=sys.stderr if err else sys.stdout)
    after, through = summary.commits
    if summary.mode != "incremental":
        scope = "time range"
    elif through > after:
        scope = f"commits {after + 1}..{through}"
    else:
        scope = "no new commits"
    console.print(
        f"{summary.rules} rules and {summary.correlations} correlations over "
        f"{summary.events_scanned:,} events ({scope}) in {summary.elapsed_s:.1f} s "
        f"({summary.events_per_second:,.0f} events/s): {summary.new_alerts:,} new alerts"
    )
    if not summary.new_alerts:
        return
    table = Table("level", "rule", "alerts")
    for (level, title), count in summary.counts.most_common():
        table.add_row(level, title, f"{count:,}")
    console.print(table)
