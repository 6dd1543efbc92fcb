"""`auditlake watch`: near-real-time detection on files dropped into an inbox folder.

The loop, one process per inbox (`<inbox>/.watch.lock` refuses a second one):

1. **Poll** the inbox every `poll_s` (a directory listing: no inotify, no extra dependency).
   Files in subfolders count too. Ignored: anything whose name or folder starts with `.`
   (so `.done/`, `.failed/`) and names ending in `.tmp`, `.part`, `.partial`, `.crdownload`,
   `.swp` or `~`. A writer should write under such a name, or elsewhere on the same file
   system, and rename the finished file into the inbox. For writers that write in place, a
   file is taken only once its size and modification time stayed the same for `settle_s`
   (a file first seen with an mtime at least that old is taken at once); a writer that pauses
   longer than that mid-file must use the rename.
2. **Ingest** each ready file (oldest landing first, at most `max_batch` per round) on its own,
   so a file that cannot be read goes to `<inbox>/.failed/` with a `<name>.reason.txt`
   beside it, without holding up the others.
3. **Detect** incrementally once for the round (the rules were compiled once, at start), then
   **deliver** through `sinks.Delivery`.
4. **Move** the files to `<inbox>/.done/` (same relative path; a clash gets a time prefix) and
   report each: records, alerts, and latency.

Latency is measured from a file's landing to the moment every sink acknowledged its alerts
(for a file without alerts: to the end of its round). Landing is estimated as the file's mtime,
clamped between the previous poll (it was not there yet) and the poll that first saw it, so a
file moved in with an old mtime is not charged for its age, and one written in place is. A file
is credited with the alerts whose evidence it brought (for several, the last such file of the
round); alerts with no evidence in the round count for its last file. When a sink is down the
alerts wait in its spool and the file's latency is reported as unknown (`None`).

When the lake refuses work: another process holding one of its locks is waited for (the
step is deferred to the next poll). Any other lake error (a write the system refuses: a
read-only mount, a full disk; a damaged lake) is deferred too while watching, so the watch
carries on once the cause is fixed; with `once` it ends the run instead (`run` raises it), since
a cron job that cannot do its work must fail rather than wait or pass. Each such note is said
once until the step it is about succeeds or the reason changes, however many steps wait.

Crash safety: a file leaves the inbox only after its round was detected and delivered (or
spooled). Killed earlier, the next start ingests it again, which adds nothing (ingest skips
known events), and detection and delivery pick up where the lake's watermark and the sinks'
ledgers stand. Any data ingested by other means is detected on the next idle poll.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from auditlake.detection.compile import RuleSet
from auditlake.detection.engine import run_detection
from auditlake.detection.watermarks import read_watermark
from auditlake.errors import LakeError
from auditlake.ingest import ingest
from auditlake.lake.commits import next_seq
from auditlake.lake.lock import FileLock, LockHeld
from auditlake.lake.paths import LakePaths
from auditlake.lake.scan import CommitRange, scan_events
from auditlake.sinks.deliver import Delivery, DeliveryReport, SinkStatus
from auditlake.sources.base import SourceSpec

IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".swp", "~")
DONE = ".done"
FAILED = ".failed"


@dataclass(frozen=True)
class Landed:
    """A file ready to be processed."""

    path: Path
    name: str
    """Its path relative to the inbox."""
    landed_at: float
    """Wall-clock estimate of its arrival (see the module docstring)."""


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float
    """Monotonic time since which size and mtime have not changed."""
    landed_at: float


class Inbox:
    """The folder files are dropped into, and which of its files are complete."""

    def __init__(self, root: Path, *, settle_s: float) -> None:
        self.root = root
        self.settle_s = settle_s
        self._seen: dict[Path, _Seen] = {}
        self._kept: dict[Path, tuple[int, int]] = {}
        """Processed files that could not be moved out, by size and mtime: passed over until they change."""
        self._last_poll: float | None = None

    def scan(self) -> tuple[list[Landed], int, bool]:
        """(ready files, oldest landing first; files not ready yet; whether any was new)."""
        now_wall, now = time.time(), time.monotonic()
        ready: list[Landed] = []
        waiting, fresh = 0, False
        present = set()
        for path in self._candidates():
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            present.add(path)
            if self._kept.get(path) == (stat.st_size, stat.st_mtime_ns):
                continue
            self._kept.pop(path, None)
            seen = self._seen.get(path)
            mtime = stat.st_mtime_ns / 1e9
            if seen is None:
                fresh = True
                earliest = self._last_poll if self._last_poll is not None else float("-inf")
                landed = min(now_wall, max(mtime, earliest))
                # An mtime older than the settle time means no writer touched it lately.
                settled_at = float("-inf") if now_wall - mtime >= self.settle_s else now
                seen = self._seen[path] = _Seen(stat.st_size, stat.st_mtime_ns, settled_at, landed)
            elif (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                seen.size, seen.mtime_ns, seen.since = stat.st_size, stat.st_mtime_ns, now
            if now - seen.since >= self.settle_s:
                ready.append(Landed(path, path.relative_to(self.root).as_posix(), seen.landed_at))
            else:
                waiting += 1
        for gone in set(self._seen) - present:
            del self._seen[gone]
        for gone in set(self._kept) - present:
            del self._kept[gone]
        self._last_poll = now_wall
        ready.sort(key=lambda f: (f.landed_at, f.name))
        return ready, waiting, fresh

    def finish(self, file: Landed, *, reason: str | None = None) -> Path | None:
        """Move a processed file to `.done/`, or to `.failed/` with `reason` beside it.

        A file that cannot be moved (this process may not write to its folder) raises `OSError`
        and stays where it is, passed over until it changes: taken again, it would be ingested
        again on every poll, and a run with `once` would never end.
        """
        target = self.root / (FAILED if reason is not None else DONE) / file.name
        seen = self._seen.pop(file.path, None)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                target = target.with_name(f"{time.time_ns()}-{target.name}")
            os.rename(file.path, target)
        except FileNotFoundError:
            return None
        except OSError:
            if seen is not None:
                self._kept[file.path] = (seen.size, seen.mtime_ns)
            raise
        if reason is not None:
            target.with_name(f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        return target

    def _candidates(self) -> list[Path]:
        found = []
        for folder, subfolders, names in os.walk(self.root):
            # Pruned, not filtered: `.done/` grows with every file ever processed.
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            for name in names:
                if not name.startswith(".") and not name.endswith(IGNORED_SUFFIXES):
                    path = Path(folder, name)
                    if path.is_file():
                        found.append(path)
        return found


@dataclass
class FileReport:
    """What became of one file."""

    file: str
    status: str
    """'done' or 'failed'."""
    records: int = 0
    alerts: int = 0
    latency_s: float | None = None
    waiting_for: list[str] = field(default_factory=list)
    """Sinks its alerts are spooled for (down, or delivery busy elsewhere)."""
    reason: str | None = None

    def as_json(self) -> dict[str, object]:
        latency = round(self.latency_s, 3) if self.latency_s is not None else None
        body: dict[str, object] = {"file": self.file, "status": self.status, "records": self.records,
                                   "alerts": self.alerts, "latency_s": latency}
        if self.waiting_for:
            body["waiting_for"] = self.waiting_for
        if self.reason is not None:
            body["reason"] = self.reason
        return body


@dataclass
class WatchStats:
    files: int = 0
    failed: int = 0
    records: int = 0
    alerts: int = 0
    waiting_for: list[str] = field(default_factory=list)
    """Sinks that still owed alerts after the last delivery (down, refused, or stopped)."""


@dataclass
class _Ingested:
    file: Landed
    records: int
    commits: CommitRange


def _ignore(_: object) -> None:
    return None


class Watcher:
    """Runs the loop of the module docstring over one inbox and one lake.

    `source` is what each file is read as, as for `ingest`: 'auto', a source's name, or a
    generic mapping's spec (one with `[detect]` takes the files holding its fields, and the
    others are told by their content).
    """

    def __init__(
        self,
        inbox: Path,
        lake: LakePaths,
        ruleset: RuleSet,
        *,
        digest: str,
        delivery: Delivery,
        poll_s: float = 1.0,
        settle_s: float = 0.5,
        source: str | SourceSpec = "auto",
        workers: int = 1,
        max_batch: int = 64,
        on_file: Callable[[FileReport], None] = _ignore,
        on_note: Callable[[str], None] = _ignore,
    ) -> None:
        self.inbox = Inbox(inbox, settle_s=settle_s)
        self.lake = lake
        self.ruleset = ruleset
        self.digest = digest
        self.delivery = delivery
        self.poll_s = poll_s
        self.source = source
        self.workers = workers
        self.max_batch = max_batch
        self.on_file = on_file
        self.on_note = on_note
        self.stats = WatchStats()
        self._undetected: list[_Ingested] = []
        self._said: dict[str, str] = {}
        """The last note said per step (ingest, detection, delivery, each sink), until it succeeds."""
        self._once = False

    def run(self, *, once: bool = False, stop: threading.Event | None = None) -> WatchStats:
        """Watch until `stop` is set, or with `once` until nothing more is ready.

        With `once`, a lake error other than a lock held by another process is raised (see the
        module docstring). To make sinks give up their retries too, set `delivery.stop`.
        """
        stop = stop or threading.Event()
        self._once = once
        self.inbox.root.mkdir(parents=True, exist_ok=True)
        with FileLock(self.inbox.root / ".watch.lock", purpose="watch of this inbox"):
            self._idle()  # what a previous run (or another ingest) left undetected or undelivered
            while not stop.is_set():
                ready, waiting, fresh = self.inbox.scan()
                if ready:
                    if not self._round(ready[: self.max_batch], stop):
                        stop.wait(self.poll_s)  # the lake is busy: retry, but not in a tight loop
                    continue
                self._idle()
                if once and not self._undetected and (not waiting or not fresh):
                    break
                stop.wait(self.inbox.settle_s if waiting else self.poll_s)
        return self.stats

    def _round(self, files: Sequence[Landed], stop: threading.Event) -> bool:
        """Ingest, detect and deliver; False when the lake was busy (or a stop came) and files were left."""
        complete = True
        for file in files:
            if stop.is_set():  # what is ingested so far is detected; the rest waits for the next start
                complete = False
                break
            before = next_seq(self.lake) - 1
            try:
                summary = ingest([file.path], self.lake, source=self.source, workers=self.workers)
            except LakeError as exc:  # the lake, not the file (e.g. another ingest holds it)
                self._defer("ingest", exc)
                complete = False
                break
            except Exception as exc:  # one bad file must not stop the watch
                self._fail(file, f"{type(exc).__name__}: {exc}")
                continue
            self._said.pop("ingest", None)
            if summary.errors:
                self._fail(file, "; ".join(summary.errors))
                continue
            self._undetected.append(_Ingested(file, summary.records, CommitRange(before, next_seq(self.lake) - 1)))
        self._detect_and_deliver()
        return complete

    def _idle(self) -> None:
        if self._undetected or next_seq(self.lake) - 1 > read_watermark(self.lake, self.digest):
            self._detect_and_deliver()
        else:
            self._delivered(self._sync(lock_wait_s=0.0), backlog=True)

    def _detect_and_deliver(self) -> None:
        try:
            found = run_detection(self.lake, self.ruleset, digest=self.digest, origin="realtime").alerts
        except LakeError as exc:  # e.g. another detection run; the files wait for the next poll
            self._defer("detection", exc)
            return
        self._said.pop("detection", None)
        report = self._delivered(self._sync())
        files, self._undetected = self._undetected, []
        if not files:
            if found.height:
                self.on_note(f"{found.height:,} alerts from data ingested outside this watch")
            return
        counts = _credit(self.lake, files, found)
        for item, count in zip(files, counts, strict=True):
            self._move(item.file)
            waiting = report.waiting if count else []
            latency = None if waiting else report.finished_at - item.file.landed_at
            self._report(FileReport(item.file.name, "done", item.records, count, latency, waiting))

    def _sync(self, *, lock_wait_s: float | None = None) -> DeliveryReport:
        """A delivery; one the lake refused counts as skipped (its alerts wait in the store)."""
        try:
            report = self.delivery.sync(lock_wait_s=lock_wait_s)
        except LakeError as exc:
            self._defer("delivery", exc)
            return DeliveryReport([SinkStatus(s.name, error=str(exc)) for s in self.delivery.sinks],
                                  skipped=str(exc), finished_at=time.time())
        self._said.pop("delivery", None)
        return report

    def _delivered(self, report: DeliveryReport, *, backlog: bool = False) -> DeliveryReport:
        """Say what went wrong, and (for a spool drained between rounds) what finally went out."""
        for status in report.sinks:
            key = f"sink {status.sink}"
            if status.error is not None and status.pending:
                self._note(key, f"{key}: {status.error}; {status.pending:,} alerts wait in its spool")
            elif status.error is None and not status.retry_in_s:
                self._said.pop(key, None)  # delivered: a new failure is news again
                if backlog and status.delivered:
                    self.on_note(f"{key}: {status.delivered:,} spooled alerts delivered")
        # A delivery skipped because another process was delivering owes only what is spooled.
        self.stats.waiting_for = [s.sink for s in report.sinks
                                  if s.pending or (s.error is not None and report.skipped is None)]
        return report

    def _fail(self, file: Landed, reason: str) -> None:
        self._move(file, reason=reason)
        self.stats.failed += 1
        self.on_file(FileReport(file.name, "failed", reason=reason))

    def _move(self, file: Landed, *, reason: str | None = None) -> None:
        """Take a processed file out of the inbox; one that cannot be moved is said, not fatal
        (its alerts are delivered already; a service must not stop over a folder's permissions)."""
        try:
            self.inbox.finish(file, reason=reason)
        except OSError as exc:
            folder = FAILED if reason is not None else DONE
            self.on_note(f"{file.name}: cannot be moved to {folder}/ ({exc.strerror or exc}); it stays in the "
                         "inbox, taken again only once it changes or on the next start: let this service "
                         "write to its folder, or move it yourself")

    def _report(self, report: FileReport) -> None:
        self.stats.files += 1
        self.stats.records += report.records
        self.stats.alerts += report.alerts
        self.on_file(report)

    def _defer(self, step: str, exc: LakeError) -> None:
        """A step the lake refused: waited out while watching; with `once`, only a busy lock is."""
        if self._once and not isinstance(exc, LockHeld):
            raise exc
        self._note(step, f"{step} deferred: {exc}")

    def _note(self, key: str, text: str) -> None:
        # A sink down for an hour, or a read-only lake, is said once, not every poll.
        if self._said.get(key) != text:
            self._said[key] = text
            self.on_note(text)


def _credit(lake: LakePaths, files: Sequence[_Ingested], alerts: pl.DataFrame) -> list[int]:
    """Alerts per file: each to the last file of the round that holds some of its evidence."""
    counts = [0] * len(files)
    if alerts.is_empty():
        return counts
    owner: dict[str, int] = {}
    for index, item in enumerate(files):
        if item.commits.through is not None and item.commits.through > item.commits.after:
            uids = scan_events(lake, commits=item.commits, columns=["event_uid"]).collect()["event_uid"]
            owner.update(dict.fromkeys(uids.to_list(), index))
    for uids in alerts["event_uids"].to_list():
        counts[max((owner[u] for u in uids or () if u in owner), default=len(files) - 1)] += 1
    return counts
