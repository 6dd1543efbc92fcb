"""Fan new alerts out to every configured sink, without losing any.

One delivery (`Delivery.sync`), under the lake's delivery lock:

1. **Queue.** For each sink, the alert-store files its ledger does not list yet are read and
   their alerts written to the sink's spool (`outbox.py`, `spool.py`), in the order the runs
   stored them. This is the only way alerts reach a sink, so whatever the store holds is
   delivered, even if the process that stored it died before delivering.
2. **Drain.** Each sink sends its pending batches oldest first, one at a time, and a batch
   leaves the spool only once the sink acknowledged it. Sinks drain in parallel threads, so a
   slow or failing sink never holds the others up; the first failure stops that sink's drain
   (order is kept) and the sink is left alone for `sink.pause_after(failures)` seconds, so a
   long-running `watch` does not retry a dead receiver on every poll.

Guarantee: every alert stored after a sink was added reaches it at least once, whatever
crashes or outages happen, provided the lake's `_state/` survives. Duplicates need the process
to die between the sink's acknowledgement and the batch's removal from the spool (or a receiver
that acknowledged a request whose answer was lost); every alert carries its `alert_id` (and
every webhook request its batch id) so receivers can discard them.

Create the `Delivery` before running detection: that is when a new sink's starting point is
fixed (the current end of the store), so the run's alerts are the first it gets.

Stopping (`Delivery.stop`, set by a stop signal): sinks give up their retries, and a sink still
busy with a request `STOP_GRACE_S` later is not waited for (a receiver that accepts and never
answers would hold the process for its whole timeout). Its batch stays in the spool, since a
batch leaves it only once acknowledged, and goes out on the next delivery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from auditlake.detection.alert_store import AlertStore, scan_alert_files
from auditlake.errors import LakeError
from auditlake.lake.lock import FileLock, LockHeld
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import WriteRefused
from auditlake.sinks.base import Sink, SinkError
from auditlake.sinks.config import JsonlConfig, SinkConfig, StdoutConfig, WebhookConfig
from auditlake.sinks.jsonl import JsonlSink
from auditlake.sinks.outbox import Outbox
from auditlake.sinks.spool import Spool
from auditlake.sinks.stdout import StdoutSink
from auditlake.sinks.webhook import WebhookSink

LOCK_POLL_S = 0.05
STOP_GRACE_S = 1.0
"""How long a stopped delivery still waits for requests in flight."""


def build_sinks(configs: Sequence[SinkConfig]) -> list[Sink]:
    """The sink objects for a loaded configuration."""
    sinks: list[Sink] = []
    for config in configs:
        if isinstance(config, JsonlConfig):
            sinks.append(JsonlSink(config.name, config.path, batch_size=config.batch_size))
        elif isinstance(config, StdoutConfig):
            sinks.append(StdoutSink(config.name))
        elif isinstance(config, WebhookConfig):
            sinks.append(WebhookSink(
                config.name, config.url, config.secret, timeout_s=config.timeout_s,
                max_attempts=config.max_attempts, backoff_s=config.backoff_s,
                backoff_max_s=config.backoff_max_s, batch_size=config.batch_size,
            ))
    return sinks


@dataclass
class SinkStatus:
    """One sink after a delivery."""

    sink: str
    delivered: int = 0
    """Alerts it acknowledged during this delivery."""
    pending: int = 0
    """Alerts still in its spool afterwards."""
    error: str | None = None
    retry_in_s: float | None = None
    """Set while the sink is paused after failures."""


@dataclass
class DeliveryReport:
    """What one `Delivery.sync` did."""

    sinks: list[SinkStatus] = field(default_factory=list)
    queued: int = 0
    """Alerts newly taken from the store into spools (summed over sinks)."""
    skipped: str | None = None
    """Why nothing was done (another process held the delivery lock)."""
    finished_at: float = 0.0
    """Wall-clock time (`time.time()`) when every acknowledgement had arrived."""

    @property
    def complete(self) -> bool:
        """Whether every sink has every stored alert (none left in a spool, none left unqueued)."""
        return self.skipped is None and all(s.pending == 0 and s.error is None for s in self.sinks)

    @property
    def waiting(self) -> list[str]:
        """Sinks that still owe something."""
        if self.skipped is not None:
            return [s.sink for s in self.sinks]
        return [s.sink for s in self.sinks if s.pending or s.error is not None]


class Delivery:
    """Delivers a lake's alerts to `sinks`; see the module docstring."""

    def __init__(self, lake: LakePaths, sinks: Sequence[Sink], *, lock_wait_s: float = 30.0) -> None:
        self.lake = lake
        self.sinks = list(sinks)
        self.lock_wait_s = lock_wait_s
        self.stop = threading.Event()
        """Set to make sinks give up their retries (Ctrl-C)."""
        self._outboxes = {s.name: Outbox(lake, s.name) for s in self.sinks}
        self._failures = dict.fromkeys(self._outboxes, 0)
        self._paused_until = dict.fromkeys(self._outboxes, 0.0)
        if any(not o.ledger.exists() for o in self._outboxes.values()):
            self._start_new_sinks(lock_wait_s)

    def _start_new_sinks(self, lock_wait_s: float) -> None:
        """Fix where sinks seen for the first time start: the current end of the store."""
        lock, busy = self._acquire(lock_wait_s)
        if lock is None:
            raise LakeError(f"cannot start delivery to a new sink: {busy}",
                            hint="wait for the other delivery to finish, then run again")
        try:
            files = AlertStore(self.lake).files()
            for outbox in self._outboxes.values():
                if not outbox.ledger.exists():
                    outbox.ledger.start(f.name for f in files)
        finally:
            lock.__exit__(None, None, None)

    def sync(self, *, lock_wait_s: float | None = None) -> DeliveryReport:
        """Queue what the store holds for each sink, then drain every spool; never raises for a sink."""
        if not self.sinks:
            return DeliveryReport(finished_at=time.time())
        lock, busy = self._acquire(self.lock_wait_s if lock_wait_s is None else lock_wait_s)
        if lock is None:
            statuses = [SinkStatus(s.name, pending=self._outboxes[s.name].spool.pending_alerts(), error=busy)
                        for s in self.sinks]
            return DeliveryReport(statuses, skipped=busy, finished_at=time.time())
        try:
            try:
                queued, refused = self._queue(), None
            except WriteRefused as exc:  # what is spooled already still goes out
                queued, refused = 0, exc
            statuses = self._drain_all()
        finally:
            lock.__exit__(None, None, None)
        if refused is not None:
            for status in statuses:
                status.error = status.error or f"new alerts not queued: {refused}"
        return DeliveryReport(statuses, queued, finished_at=time.time())

    @property
    def writes_stdout(self) -> bool:
        """Whether alerts go to standard output, which then must carry nothing else."""
        return any(isinstance(s, StdoutSink) for s in self.sinks)

    def pending(self) -> dict[str, int]:
        """Alerts waiting in each sink's spool."""
        return {name: outbox.spool.pending_alerts() for name, outbox in self._outboxes.items()}

    def _queue(self) -> int:
        for outbox in self._outboxes.values():
            outbox.spool.clean()
        files = AlertStore(self.lake).files()
        owed = {s.name: self._outboxes[s.name].owed(files) for s in self.sinks}
        needed = sorted({f for paths in owed.values() for f in paths})
        alerts = {f: scan_alert_files([f]).collect() for f in needed}
        queued = 0
        for sink in self.sinks:
            paths = owed[sink.name]
            if not paths:
                continue
            frame = pl.concat([alerts[p] for p in paths])
            # Runs in the order they were stored (a run's files share created_at and sort by
            # their number); the sort is stable, so each file keeps its own order.
            frame = frame.sort("created_at", maintain_order=True, nulls_last=True)
            queued += self._outboxes[sink.name].take(paths, frame, sink.batch_size)
        return queued

    def _drain_all(self) -> list[SinkStatus]:
        statuses = {s.name: SinkStatus(s.name) for s in self.sinks}
        threads = [threading.Thread(target=self._drain, args=(s, statuses[s.name]),
                                    name=f"deliver-{s.name}", daemon=True) for s in self.sinks]
        for thread in threads:
            thread.start()
        try:
            self._join(threads)
        except KeyboardInterrupt:
            self.stop.set()  # sinks give up their retries; a batch in flight is kept in the spool
            self._join(threads)
            raise
        for sink, thread in zip(self.sinks, threads, strict=True):
            if thread.is_alive():  # stopped mid-request: the batch was not acknowledged
                status = statuses[sink.name]
                status.error = "stopped while a request was in flight"
                # A spool of its own: the sink's thread may still be using the outbox's.
                status.pending = Spool(self._outboxes[sink.name].folder).pending_alerts()
        return [statuses[s.name] for s in self.sinks]

    def _join(self, threads: Sequence[threading.Thread]) -> None:
        """Wait for the drains; once `stop` is set, for at most `STOP_GRACE_S` more."""
        deadline: float | None = None
        for thread in threads:
            while thread.is_alive():
                if deadline is None and self.stop.is_set():
                    deadline = time.monotonic() + STOP_GRACE_S
                left = LOCK_POLL_S if deadline is None else min(LOCK_POLL_S, deadline - time.monotonic())
                if left <= 0:
                    return
                thread.join(left)

    def _drain(self, sink: Sink, status: SinkStatus) -> None:
        outbox = self._outboxes[sink.name]
        wait = self._paused_until[sink.name] - time.monotonic()
        try:
            if wait > 0:  # still paused after failures: not retried yet, and not an error again
                status.retry_in_s = wait
                return
            for path in outbox.spool.paths():
                batch = outbox.spool.load(path)
                try:
                    sink.send(batch, self.stop)
                except SinkError as exc:
                    if exc.acknowledged:  # in part: what went out must not go again
                        outbox.spool.replace(path, batch.after(exc.acknowledged))
                        status.delivered += exc.acknowledged
                    raise
                outbox.spool.remove(path)
                status.delivered += len(batch.alerts)
            self._failures[sink.name] = 0
        except Exception as exc:  # any failure must stay with its sink
            # SinkError is the expected case; anything else (a bug, a full disk) is contained
            # the same way, so one sink can never stop the others or lose the spooled alerts.
            self._failures[sink.name] += 1
            pause = sink.pause_after(self._failures[sink.name])
            self._paused_until[sink.name] = time.monotonic() + pause
            status.error = str(exc) if isinstance(exc, SinkError) else f"{type(exc).__name__}: {exc}"
            status.retry_in_s = pause
        finally:
            status.pending = outbox.spool.pending_alerts()

    def _acquire(self, wait_s: float) -> tuple[FileLock | None, str]:
        """The delivery lock, waited for up to `wait_s`; (None, why) when it stayed busy."""
        deadline = time.monotonic() + wait_s
        while True:
            lock = FileLock(self.lake.locks / "deliver.lock", purpose="alert delivery")
            try:
                return lock.__enter__(), ""
            except LockHeld as exc:
                if time.monotonic() >= deadline or self.stop.is_set():
                    return None, str(exc)
            self.stop.wait(LOCK_POLL_S)
