"""Detection over the lake: route, scan, evaluate in one pass per source, correlate, store alerts.

Two ways to choose events:

- **A time range** (`since`/`until`): events of the routed sources with `since <= time <
  until`. Correlations read a look-back of their longest (chained) timespan before `since`, so
  windows that start in an earlier day partition are found, and keep only hits whose window
  ends inside the range: consecutive ranges neither miss nor repeat a window.
- **Incremental** (no range): exactly the commits ingested since this rule set's watermark
  (a run over only some sources keeps one of its own: it leaves the others' events unread).
  Correlations re-read the time span those commits touch, widened by the look-back on both
  sides; hits already alerted have the same ids and are not stored again. The watermark moves
  only after every alert of the run is stored, so a run killed midway is redone in full and the
  alert store's id check keeps the result exact.

Each event the run chooses is read once: the rules that correlations reference run in the same
pass as the others, and the correlation step reads again only what lies outside the run's own
events (the look-back before `since`; for an incremental run, the older commits in its span).
Each batch's alerts are built in a thread while the next batch is evaluated, and the batch after
is read while this one is, when memory allows (`read_ahead`). Rules with few candidate rows in
a batch wait for the source's later batches and run once on all their rows (`narrow_rules`).
The correlated rules' matches wait on disk (`spilled_matches`) and are correlated in time
slices, each with the look-back before it: a run holds a slice's matches, not its range's.

Only one detection run per lake at a time (a file lock); a second is refused with a message.
"""

from __future__ import annotations

import gc
import hashlib
import time as clock
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from auditlake.detection.alert_store import AlertStore
from auditlake.detection.alerts import (
    ALERT_SCHEMA,
    RuleInfo,
    RunInfo,
    correlation_alerts,
    evidence_frame,
)
from auditlake.detection.atoms import RAW
from auditlake.detection.cache_files import collection_paused
from auditlake.detection.compile import CompiledRule, RuleSet
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.evaluate import (
    EVIDENCE_SOURCE_COLUMNS,
    RULE_ID_COLUMN,
    LateColumns,
    atom_columns,
    correlate_matched,
    correlated_rules,
    correlation_inputs,
    evaluate_candidates,
    needed_columns,
    reads_json_paths,
)
from auditlake.detection.frame_size import estimated_bytes
from auditlake.detection.logsources import effective_field_map
from auditlake.detection.narrow_rules import DeferredRules
from auditlake.detection.plancache import planned
from auditlake.detection.prefilter import ROW, candidate_filter
from auditlake.detection.read_ahead import read_ahead
from auditlake.detection.spilled_matches import (
    SpilledMatches,
    remove_leftovers,
    time_range,
    time_slices,
)
from auditlake.detection.watermarks import read_watermark, write_watermark
from auditlake.errors import UnknownSourceError
from auditlake.lake.commits import CommittedFile, read_commits
from auditlake.lake.damage import reading
from auditlake.lake.lock import FileLock
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import CommitRange, committed_files, event_files, scan_files
from auditlake.schema import NATIVE_TYPE
from auditlake.sources.registry import lookup

Progress = Callable[[str, int, int], None]
"""Called with (what, events done, events in all) before each source, after each batch, before
the correlation pass (`correlations`) and at the end (`done`)."""


@dataclass
class DetectSummary:
    """What a run did. Its new alerts are in the lake's alert store, not in memory (a run may
    raise millions): `counts` has them per (level, rule title), `alerts` reads them back."""

    mode: str
    rules: int
    correlations: int
    sources: list[str] = field(default_factory=list)
    events_scanned: int = 0
    commits: tuple[int, int] = (0, 0)
    new_alerts: int = 0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    store: AlertStore | None = None
    run_id: str = ""

    @property
    def events_per_second(self) -> float:
        return self.events_scanned / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def alerts(self) -> pl.DataFrame:
        """The alerts this run stored, read back from the store (all of them at once)."""
        return self.store.read(self.store.run_files(self.run_id)) if self.store else ALERT_SCHEMA.to_frame()

    def alert_batches(self) -> Iterator[pl.DataFrame]:
        """The alerts this run stored, one stored file at a time (memory bounded by a batch)."""
        if self.store is None:
            return
        for path in self.store.run_files(self.run_id):
            yield self.store.read([path])

    def alerts_by(self, column: str) -> Counter[str]:
        counts: Counter[str] = Counter()
        for batch in self.alert_batches():
            counts.update(str(v) for v in batch[column].to_list())
        return counts

    def record(self, counts: Counter[tuple[str, str]]) -> None:
        """Count new alerts, by (level, rule title)."""
        self.new_alerts += sum(counts.values())
        self.counts.update(counts)


def _counts(alerts: pl.DataFrame) -> Counter[tuple[str, str]]:
    """Alerts (`ALERT_SCHEMA`) by (level, rule title)."""
    if alerts.is_empty():
        return Counter()
    grouped = alerts.group_by("level", "rule_title").len().iter_rows()
    return Counter({(str(level), str(title)): n for level, title, n in grouped})


def new_run_id() -> str:
    """A fresh id for a detection run (it names the run's alert files)."""
    return uuid.uuid4().hex[:16]


def run_detection(
    lake: LakePaths,
    ruleset: RuleSet,
    *,
    digest: str,
    since: datetime | None = None,
    until: datetime | None = None,
    sources: Iterable[str] | None = None,
    origin: str = "replay",
    now: Callable[[], datetime] | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> DetectSummary:
    """Run `ruleset` over the lake (see the module docstring) and store its alerts.

    `run_id` names the run's alert files (`new_run_id()` when not given): a caller that marks
    the run before it starts can find what it stored should it be killed."""
    started = clock.monotonic()
    with FileLock(lake.locks / "detect.lock", purpose="detection run"):
        commits = read_commits(lake)
        newest = max((c.seq for c in commits), default=0)
        incremental = since is None and until is None
        wanted = set(sources) if sources is not None else None
        progress_key = _watermark_key(digest, wanted)
        after = read_watermark(lake, progress_key) if incremental else 0
        window = CommitRange(after, newest)
        run = RunInfo((now or (lambda: datetime.now(UTC)))(), origin, run_id or new_run_id())
        routed = _sources_of(ruleset, wanted)
        linked = correlated_rules(ruleset) if ruleset.correlations else []
        # Sources only correlations read are scanned here too: each event is read once a run.
        scanned = sorted({*routed, *_correlated_sources(ruleset, wanted)}) if linked else routed
        # Every event is read once per run, so the run's appends never repeat one another; only
        # alerts stored before the run can recur.
        store = AlertStore(lake, disjoint_appends=True, background=True)
        remove_leftovers(lake)
        seen = SpilledMatches.for_run(lake, run.run_id)  # the correlated rules' matches
        try:
            summary = DetectSummary(
                mode="incremental" if incremental else "range",
                rules=sum(1 for r in ruleset.rules if r.output and r.routes),
                correlations=len(ruleset.correlations),
                commits=(after, newest),
                store=AlertStore(lake),  # for reading back; the run's writer is closed at its end
                run_id=run.run_id,
            )
            total = sum(_rows(lake, source, window, since, until) for source in scanned)
            report = progress or (lambda *_: None)
            scan = _Scan(lake, ruleset, linked, window, since, until)
            with _AlertBuilder(store, summary, run) as alerts:
                summary.events_scanned = scan.evaluate(scanned, alerts, report, total, seen)
            summary.sources = list(scanned)
            if ruleset.correlations:
                report("correlations", summary.events_scanned, summary.events_scanned)
                summary.record(_correlate(store, lake, ruleset, window, since, until, run, wanted, seen))
            store.close()  # every alert durable before the watermark moves
            if incremental:
                write_watermark(lake, progress_key, newest)
            report("done", summary.events_scanned, summary.events_scanned)
        finally:
            store.close()  # also when the run fails: a write under way ends before the lock is let go
            seen.close()
    summary.elapsed_s = clock.monotonic() - started
    return summary


def _watermark_key(digest: str, sources: set[str] | None) -> str:
    """Whose watermark a run reads and moves: the rule set's, or with only some sources, the
    rule set's over just those. A run over some sources has not read the others' new events,
    so it must leave the watermark of a run over all of them where it was."""
    if sources is None:
        return digest
    chosen = hashlib.sha256("\0".join(sorted(sources)).encode()).hexdigest()[:12]
    return f"{digest}-{chosen}"


@dataclass(frozen=True)
class _Scan:
    """The batches a run reads: the routed sources' files in its commits and time range."""

    lake: LakePaths
    ruleset: RuleSet
    linked: list[CompiledRule]
    """The rules correlations read."""
    window: CommitRange
    since: datetime | None
    until: datetime | None

    def evaluate(
        self, sources: list[str], alerts: _AlertBuilder, report: Progress, total: int, spill: SpilledMatches
    ) -> int:
        """Every batch of `sources` evaluated, its alerts handed to `alerts`, the matches of the
        rules correlations read (as they read them) to `spill`. Returns the events read (those
        of the range, where `total` counts every row of the files it touches)."""
        rules = {s: [r for r in self.ruleset.rules if r.output and s in r.sources] for s in sources}
        feeding = {s: [r for r in self.linked if s in r.sources] for s in sources}
        work = [(source, batch) for source in sources for batch in _batches(self._files(source))]

        def read(item: tuple[str, list[CommittedFile]]) -> _Batch | None:
            source, batch = item
            frame = scan_files(self.lake, batch, start=self.since, end=self.until)
            with reading(self.lake, batch):
                events = _read_batch(self.ruleset, rules[source], feeding[source], frame, source)
            return _guarded(events, self.lake, batch)

        done, current, events_read = 0, None, 0
        # Rules with few candidates in a batch are run once on all the source's batches.
        deferred = DeferredRules()
        held_for: tuple[str, list[str]] | None = None  # (source, evidence columns) of those rows

        def settle() -> None:
            """Run the rules held back from the source's batches; hand on their matches."""
            held = deferred.flush()
            if held is not None and held_for is not None:
                source, evidence = held_for
                matched, linked_matches = _split_matches(self.ruleset, rules[source], feeding[source], evidence, held)
                alerts.add(rules[source], matched)
                spill.add(linked_matches)

        for (source, batch), events in read_ahead(work, read, _Batch.size):
            if source != current:
                settle()
                report(source, done, total)
                current = source
            # Evaluating a batch makes Python objects by the ten thousand (expressions, plans,
            # frames), none of them garbage cycles: collections meanwhile walk them in vain.
            with collection_paused():
                matched, linked_matches = _source_matches(
                    self.ruleset, rules[source], feeding[source], events, deferred
                )
            alerts.add(rules[source], matched)
            spill.add(linked_matches)
            if events is not None:
                held_for = (events.source, events.evidence)
                events_read += events.events.height
            done = min(done + sum(f.rows for f in batch), total)
            report(source, done, total)
            del events, matched, linked_matches  # freed before the next batch is read
            gc.collect(1)  # whatever cycles the batch left, before they can pile up
        with collection_paused():
            settle()
        return events_read

    def _files(self, source: str) -> list[CommittedFile]:
        return event_files(self.lake, sources=[source], start=self.since, end=self.until, commits=self.window)


def _sources_of(ruleset: RuleSet, wanted: set[str] | None) -> list[str]:
    names = {s for rule in ruleset.rules if rule.output for s in rule.sources}
    return sorted(names if wanted is None else names & wanted)


def _rows(lake: LakePaths, source: str, window: CommitRange, since: datetime | None, until: datetime | None) -> int:
    """Rows in the files a scan reads: at most the events it reads, for its progress."""
    total = 0
    for file in committed_files(lake, "events", window):
        if file.source != source:
            continue
        if since is not None and file.max_time and datetime.fromisoformat(file.max_time) < since:
            continue
        if until is not None and file.min_time and datetime.fromisoformat(file.min_time) >= until:
            continue
        total += file.rows
    return total


BATCH_ROWS = 250_000
"""Events evaluated together: large enough to amortise the per-rule work, small enough that
memory stays bounded whatever the lake's size."""


def _batches(files: list[CommittedFile]) -> Iterable[list[CommittedFile]]:
    batch: list[CommittedFile] = []
    rows = 0
    for file in files:
        batch.append(file)
        rows += file.rows
        if rows >= BATCH_ROWS:
            yield batch
            batch, rows = [], 0
    if batch:
        yield batch


@dataclass(frozen=True)
class _Batch:
    """One batch of a source's events as read for its rules and correlations."""

    source: str
    events: pl.DataFrame
    """The columns the rules and correlations read, `raw` left out when it is read late."""
    late: LateColumns | None
    evidence: list[str]
    """The evidence columns alerts are built from."""
    correlated: list[str]
    """The columns correlations read."""

    @staticmethod
    def size(batch: _Batch | None) -> int:
        return estimated_bytes(batch.events) if batch is not None else 0


def _read_batch(
    ruleset: RuleSet, rules: list[CompiledRule], feeding: list[CompiledRule], frame: pl.LazyFrame, source: str
) -> _Batch | None:
    """What the source's rules (`rules`) and the rules its correlations read (`feeding`) need
    of a batch, read once (None when no rule reads the source)."""
    if not rules and not feeding:
        return None
    frame = with_absent_paths(frame, source)
    schema = frame.collect_schema()
    columns = needed_columns([*rules, *feeding], schema, source)
    correlated = _correlation_reads(ruleset, feeding, schema, source) if feeding else []
    columns += [c for c in correlated if c not in columns]
    # The raw record is read later, for the rows that need it, unless correlations keep it.
    late = _late_raw(frame) if RAW in columns and RAW not in correlated else None
    events = frame.select([c for c in columns if late is None or c not in late.schema]).collect()
    evidence = [c for c in EVIDENCE_SOURCE_COLUMNS if c in columns]
    return _Batch(source, events, late, evidence, correlated)


def _source_matches(
    ruleset: RuleSet,
    rules: list[CompiledRule],
    feeding: list[CompiledRule],
    batch: _Batch | None,
    deferred: DeferredRules | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A batch under its source's rules and under the rules its correlations read (`feeding`):
    one row per (event, matching rule) with the rule's id, for alerts (the evidence columns)
    and for correlations (`correlation_inputs`). With `deferred`, rules with few candidates
    here are held there for later batches (and the matches of rules held earlier may come out
    here)."""
    if batch is None:
        return pl.DataFrame(), pl.DataFrame()
    events, late, evidence, source = batch.events, batch.late, batch.evidence, batch.source
    if not feeding:
        found = evaluate_candidates(rules, events, source=source, keep=evidence, late=late, deferred=deferred)
        return found, pl.DataFrame()
    # One candidate search and one evaluation for both kinds: a second pass over the batch for
    # the rules correlations read cost a tenth of a cloud run.
    both = list({id(rule): rule for rule in (*rules, *feeding)}.values())
    keep = list(dict.fromkeys((*evidence, *batch.correlated)))
    found = evaluate_candidates(both, events, source=source, keep=keep, late=late, deferred=deferred)
    return _split_matches(ruleset, rules, feeding, evidence, found)


def _split_matches(
    ruleset: RuleSet, rules: list[CompiledRule], feeding: list[CompiledRule], evidence: list[str], found: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Matches of `rules` (their `evidence` columns) and of `feeding` (as correlations read them)."""
    if not feeding:
        return found, pl.DataFrame()
    rule_id = pl.col(RULE_ID_COLUMN)
    evidence = [c for c in evidence if c in found.columns]
    matched = found.filter(rule_id.is_in([r.id for r in rules])).select(*evidence, RULE_ID_COLUMN)
    linked = found.filter(rule_id.is_in([r.id for r in feeding]))
    return matched, correlation_inputs(ruleset, linked) if linked.height else pl.DataFrame()


def with_absent_paths(frame: pl.LazyFrame, source: str) -> pl.LazyFrame:
    """`frame` with a column of nulls for each of its source's complete paths that no file
    of the batch has (`SourceSpec.complete_paths`): rules read nothing there, where they would
    otherwise look for the field in every row's `raw` (Kubernetes' `requestObject` in a lake
    whose audit policy leaves request bodies out)."""
    try:
        spec = lookup(source)
    except UnknownSourceError:
        return frame
    if not spec.complete_paths:
        return frame
    schema = frame.collect_schema()
    absent = sorted(p for p in spec.complete_paths if p not in schema)
    if not absent or RAW not in schema:
        return frame
    typed = pl.DataFrame(pa.schema([(p, spec.native_types.get(p, NATIVE_TYPE)) for p in absent]).empty_table())
    return frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in typed.schema.items())


def _guarded(batch: _Batch | None, lake: LakePaths, files: list[CommittedFile]) -> _Batch | None:
    """`batch`, its late columns read under `damage.reading` too (they are read later, from
    the same files)."""
    if batch is None or batch.late is None:
        return batch
    late_read = batch.late.read

    def read(rows: pl.Series | None) -> pl.DataFrame:
        with reading(lake, files):
            return late_read(rows)

    return replace(batch, late=replace(batch.late, read=read))


def _late_raw(frame: pl.LazyFrame) -> LateColumns:
    """`raw` of the batch, read for given rows: a second scan, numbered as the first one."""
    def read(rows: pl.Series | None) -> pl.DataFrame:
        numbered = frame.with_row_index(ROW)
        if rows is not None:
            numbered = numbered.filter(pl.col(ROW).is_in(rows.implode()))
        return numbered.select(ROW, RAW).collect()

    return LateColumns(pl.Schema({RAW: frame.collect_schema()[RAW]}), read)


def _store_matches(
    store: AlertStore, rules: list[CompiledRule], matched: pl.DataFrame, run: RunInfo
) -> Counter[tuple[str, str]]:
    """Store the alerts of one batch's matches; those new to the store, by (level, title)."""
    if matched.is_empty():
        return Counter()
    described = {rule.id: _info(rule) for rule in rules}
    stored = store.append_detections(evidence_frame(matched).with_columns(matched[RULE_ID_COLUMN]), described, run)
    by_rule = stored.group_by("rule_id").len().iter_rows()
    counts: Counter[tuple[str, str]] = Counter()
    for rule_id, n in by_rule:
        counts[(str(described[rule_id].level), described[rule_id].title)] += n
    return counts


class _AlertBuilder:
    """Builds and stores each batch's alerts in a thread while the next batch is evaluated.

    Building, deduplicating and writing a batch's alerts is native work (Polars and Parquet)
    that overlaps the next batch's evaluation; 2.5M alerts of one rule take seconds. Keep
    Python loops out of it: one holding the interpreter stalls every Polars call of the
    evaluating thread. One batch is in the builder at a time, so at most one batch's matches
    wait; batches are stored in order.
    """

    def __init__(self, store: AlertStore, summary: DetectSummary, run: RunInfo) -> None:
        self._store, self._summary, self._run = store, summary, run
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="alert-build")
        self._pending: Future[Counter[tuple[str, str]]] | None = None

    def __enter__(self) -> _AlertBuilder:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        try:
            if exc_type is None:
                self._settle()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, rules: list[CompiledRule], matched: pl.DataFrame) -> None:
        self._settle()
        if not matched.is_empty():
            self._pending = self._pool.submit(_store_matches, self._store, rules, matched, self._run)

    def _settle(self) -> None:
        """Wait for the batch in the builder; count its alerts (or raise its error)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._summary.record(pending.result())


def _info(rule: CompiledRule) -> RuleInfo:
    return RuleInfo(rule.id, rule.title, "detection", rule.level, rule.tags, rule.author)


def rule_lookback(ruleset: RuleSet) -> dict[str, timedelta]:
    """How far back before a window's end each detection rule's matches may count, by rule id:
    the longest chain of timespans from a correlation down to the rule."""
    return _chains(ruleset)[0]


def lookback(ruleset: RuleSet) -> timedelta:
    """The longest span a correlation (with its chained children) looks back over."""
    return _chains(ruleset)[1]


def _chains(ruleset: RuleSet) -> tuple[dict[str, timedelta], timedelta]:
    """`rule_lookback` and `lookback` from one walk down every chain of correlations. The
    longest chain counts even where it names no known rule, so it may exceed every rule's."""
    plans = {p.key: p for p in ruleset.correlations} | {p.id: p for p in ruleset.correlations if p.id}
    rules = {key: rule.id for rule in ruleset.rules for key in (rule.id, rule.name) if key}
    reach: dict[str, timedelta] = {}
    longest = timedelta(0)

    def walk(plan: CorrelationPlan, above: timedelta, seen: frozenset[str]) -> None:
        nonlocal longest
        span = above + plan.timespan
        longest = max(longest, span)
        for key in plan.distinct_rules:
            if key in plans:
                if key not in seen:
                    walk(plans[key], span, seen | {plan.key})
            elif key in rules:
                reach[rules[key]] = max(reach.get(rules[key], timedelta(0)), span)

    for plan in ruleset.correlations:
        walk(plan, timedelta(0), frozenset())
    return reach, longest


CORRELATION_SLICE_ROWS = 500_000
"""Matches correlated together, about: a run's range is cut into time slices of about this
many of the correlated rules' matches, so its memory follows a slice, not the range."""


def _correlate(  # noqa: PLR0917 - the run's state, passed through once
    store: AlertStore,
    lake: LakePaths,
    ruleset: RuleSet,
    window: CommitRange,
    since: datetime | None,
    until: datetime | None,
    run: RunInfo,
    wanted: set[str] | None,
    seen: SpilledMatches,
) -> Counter[tuple[str, str]]:
    """Store correlation alerts: hits over the events the run's span needs, look-back included;
    the new alerts by (level, rule title).

    `seen` holds the correlated rules' matches among the events the run itself read; the rest
    of the span is read here: a range's look-back before `since`, or, for an incremental run,
    the span's events in the commits before the run's. The span is correlated in time slices:
    a hit is decided by the events of its own window alone (`correlate`), so the hits whose
    window ends in a slice are found from the slice's matches and those of the look-back
    before it, and the slices together find every hit of the span once.
    """
    rules = correlated_rules(ruleset)
    sources = _correlated_sources(ruleset, wanted)
    span = _correlation_span(lake, ruleset, sources, window, since, until)
    if span is None:
        return Counter()
    incremental = since is None and until is None
    # The first window end kept. An incremental run's new events lie a look-back after its
    # span's start: a hit that ends before them holds none of them (an earlier run decided it),
    # and the span lacks the look-back its window needs, so it would be judged on part of it.
    opens = span[0] + lookback(ruleset) if incremental and span[0] is not None else since
    if incremental:
        rest = _correlation_matches(lake, ruleset, rules, sources, span, CommitRange(0, window.after))
    elif since is not None:
        rest = _correlation_matches(lake, ruleset, rules, sources, (span[0], since), window)
    else:
        rest = pl.DataFrame()  # the run read all of its span
    times = [t for t in (seen.times, time_range(rest)) if t is not None]
    if not times:
        return Counter()
    low, high = min(t[0] for t in times), max(t[1] for t in times)
    reach = rule_lookback(ruleset)
    longest = max(reach.values(), default=timedelta(0))
    counts: Counter[tuple[str, str]] = Counter()

    def clipped(moment: datetime) -> datetime:
        return moment if span[0] is None else max(moment, span[0])  # the span's own start

    for start, end in time_slices(low, high, seen.rows + rest.height, CORRELATION_SLICE_ROWS):
        # Each rule's matches from as far back as the correlations reading them reach.
        earliest = clipped(start - longest)
        first = {rule: clipped(start - back) for rule, back in reach.items()}
        reached = pl.col("time") >= pl.col(RULE_ID_COLUMN).replace_strict(first, default=earliest)
        parts = [seen.read(earliest, end, reached)]
        if not rest.is_empty():
            parts.append(rest.filter(pl.col("time").is_between(earliest, end, closed="left") & reached))
        parts = [part for part in parts if not part.is_empty()]
        if parts:
            matched = pl.concat(parts, how="diagonal_relaxed")
            ends = (start if opens is None else max(start, opens), end if until is None else min(end, until))
            counts += _counts(_correlation_alerts(store, ruleset, matched, ends, run))
    return counts


def _correlation_alerts(
    store: AlertStore, ruleset: RuleSet, matched: pl.DataFrame, ends: tuple[datetime, datetime], run: RunInfo
) -> pl.DataFrame:
    """Store the alerts of the hits in `matched` whose window ends in `[ends[0], ends[1])`."""
    results = correlate_matched(ruleset, matched)
    referenced = {k for plan in ruleset.correlations for k in plan.correlation_refs}
    kept: dict[str, pl.DataFrame] = {}
    for plan in ruleset.correlations:
        if plan.key in referenced and not plan.generate:
            continue  # a chained child feeds its parent only
        kept[plan.key] = results[plan.key].filter(pl.col("window_end").is_between(*ends, closed="left"))
    evidence = _evidence_of(matched, kept.values())
    alerts = []
    for plan in ruleset.correlations:
        if plan.key not in kept:
            continue
        meta = ruleset.correlation_meta[plan.key]
        info = RuleInfo(meta.id, meta.title, "correlation", meta.level, meta.tags, meta.author)
        alerts.append(correlation_alerts(info, kept[plan.key], plan.group_by, evidence, run))
    alerts = [a for a in alerts if not a.is_empty()]
    return store.append(pl.concat(alerts), run_id=run.run_id) if alerts else pl.DataFrame()


def _evidence_of(matched: pl.DataFrame, hits: Iterable[pl.DataFrame]) -> dict[str, dict[str, object]]:
    """Evidence rows (by event_uid) of just the events the kept hits cite."""
    cited = [h.select(pl.col("event_uids").explode().alias("event_uid")) for h in hits if h.height]
    if not cited:
        return {}
    uids = pl.concat(cited).unique()
    rows = evidence_frame(matched.join(uids, on="event_uid", how="semi"))
    return {str(row["event_uid"]): row for row in rows.iter_rows(named=True)}


def _correlated_sources(ruleset: RuleSet, wanted: set[str] | None) -> list[str]:
    return sorted({s for r in correlated_rules(ruleset) for s in r.sources if wanted is None or s in wanted})


def _correlation_span(  # noqa: PLR0917
    lake: LakePaths,
    ruleset: RuleSet,
    sources: list[str],
    window: CommitRange,
    since: datetime | None,
    until: datetime | None,
) -> tuple[datetime | None, datetime | None] | None:
    """The event times correlations must read; None when the run brought nothing to correlate.

    A range reads its look-back before `since`. An incremental run reads the times its new
    commits touch, widened by the look-back on both sides: a new event can complete a window
    that started earlier, and (arriving late) one that ends after it.
    """
    reach = lookback(ruleset)
    if since is not None or until is not None:
        return (since - reach if since is not None else None), until
    touched = [f for f in committed_files(lake, "events", window) if f.source in sources]
    times = [datetime.fromisoformat(t) for f in touched for t in (f.min_time, f.max_time) if t]
    if not times:
        return None
    return min(times) - reach, max(times) + reach + timedelta(microseconds=1)


def _correlation_matches(  # noqa: PLR0917
    lake: LakePaths,
    ruleset: RuleSet,
    rules: list[CompiledRule],
    sources: list[str],
    span: tuple[datetime | None, datetime | None],
    commits: CommitRange,
) -> pl.DataFrame:
    """Events of the correlated rules in `span` and `commits`, narrowed to what correlations
    and alerts read.

    Read in batches, each rule on its candidate rows as in detection; a batch keeps only its
    matched events' evidence and correlation columns, so memory follows the matches, not the span.
    """
    parts = []
    for source in sources:
        relevant = [r for r in rules if source in r.sources]
        files = event_files(lake, sources=[source], start=span[0], end=span[1], commits=commits)
        for batch in _batches(files):
            frame = with_absent_paths(scan_files(lake, batch, start=span[0], end=span[1]), source)
            schema = frame.collect_schema()
            columns = needed_columns(relevant, schema, source)
            read = _correlation_reads(ruleset, relevant, schema, source)
            columns += [c for c in read if c not in columns]
            keep = [c for c in dict.fromkeys((*EVIDENCE_SOURCE_COLUMNS, *read)) if c in columns]
            likely = candidate_filter(planned(relevant, atom_columns(schema, source), source))
            if likely is not None:  # few rules: only their candidate rows have `raw` decoded
                frame = frame.filter(likely)
            with reading(lake, batch):
                events = frame.select(columns).collect()
            matched = evaluate_candidates(relevant, events, source=source, keep=keep)
            if matched.height:
                parts.append(correlation_inputs(ruleset, matched))
    return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()


def _correlation_reads(ruleset: RuleSet, rules: list[CompiledRule], schema: pl.Schema, source: str) -> list[str]:
    """The columns of `schema` correlations read from these rules' events; `raw` too when one
    of them is a field no column holds (read from the raw record by path)."""
    wanted = _correlation_columns(ruleset, rules)
    read = [c for c in schema.names() if c in wanted]
    if reads_json_paths(source) and wanted - set(schema.names()) and RAW in schema:
        read.append(RAW)
    return read


def _correlation_columns(ruleset: RuleSet, rules: list[CompiledRule]) -> set[str]:
    """Columns correlations read from these rules' events, also under per-source field names."""
    keys = {k for r in rules for k in (r.id, r.name) if k}
    names: set[str] = set()
    for plan in ruleset.correlations:
        for key in plan.distinct_rules:
            if key in keys:
                names.update(plan.required_columns(key))
    mapped = {m.get(n, n) for r in rules for alt in r.routes for m in [effective_field_map(alt)] for n in names}
    return names | mapped
