"""Committing batches in a background thread while the next batch is converted.

Writing a batch (deduplication, zstd Parquet, fsync) spends its time in Arrow, Polars and the
kernel, outside the GIL; done inline it stalls the ingest's reading and hand-off, leaving the
conversion threads idle. Here one commit runs at a time, in submission order, in one thread:
a batch is submitted only after the previous commit finished, so at most one batch is being
written while the next one is gathered, and a failed commit is raised before another starts.

When the caller stops with an exception (a stop signal's `Stopped` among them), the commit
under way is let finish and nothing more is submitted: the batch being gathered is dropped
whole, and a re-run adds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

import pyarrow as pa

from auditlake.lake import LakeWriter
from auditlake.lake.quarantine import QuarantineEntry
from auditlake.lake.writer import CommitResult
from auditlake.stop_signals import held

Done = Callable[[CommitResult], None]
"""Called in the submitting thread with each commit's result, in order."""


class Committer:
    """`LakeWriter.commit` one batch at a time, behind the caller. Use as a context manager.

    Without `background`, each batch is committed inline, before `submit` returns.
    """

    def __init__(self, writer: LakeWriter, done: Done, *, background: bool = True) -> None:
        self._writer = writer
        self._done = done
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="commit") if background else None
        self._pending: Future[CommitResult] | None = None

    def __enter__(self) -> Committer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.wait()
        finally:  # a commit under way is let finish: the writer lock is released only after it
            if self._thread is not None:
                self._thread.shutdown(wait=True)

    def submit(
        self, events: Mapping[str, pa.Table], quarantine: Sequence[QuarantineEntry]
    ) -> None:
        """Commit after the previous batch; raises if that one failed."""
        self.wait()
        if self._thread is None:
            with held():  # a stop signal lets the commit finish rather than leave it staged
                result = self._writer.commit(events, quarantine)
            self._done(result)
            return
        self._pending = self._thread.submit(self._writer.commit, events, quarantine)

    def wait(self) -> None:
        """Until the batch under way is committed; report its result (or raise its error)."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        self._done(pending.result())
