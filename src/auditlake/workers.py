"""Converting chunks of frames in parallel, results in input order, memory bounded.

Two kinds of work, two kinds of pool. A source with a vectorized path (`SourceSpec.batch`)
spends its time in Polars and Arrow, which release the GIL: threads run it in parallel with no
start-up or copying cost. A per-record source spends its time in Python: only processes run it
in parallel. The process pool starts lazily, when a second per-record chunk shows that it pays;
its workers are spawned, not forked (Polars' thread pool does not survive a fork), run one
Polars thread each, leave stop signals to the ingest (which shuts the pool down) and exit if
the ingest that started them dies. At most twice as many chunks as workers are in flight, so
reading never runs far ahead of committing.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import TracebackType

from auditlake.errors import AuditlakeError
from auditlake.sources.base import Frame, SourceSpec
from auditlake.sources.chunking import LineChunk
from auditlake.sources.convert import Chunk, convert_chunk
from auditlake.stop_signals import STOP_SIGNALS

Done = tuple[str, Chunk]


class WorkerLost(AuditlakeError):
    """A worker process ended before handing back its chunk: killed from outside, most often
    by the system for want of memory. The ingest stops; what it committed is kept."""

    def __init__(self) -> None:
        super().__init__(
            "a process converting records ended abruptly (killed, most often by the system "
            "for want of memory)",
            hint="batches committed before it are kept and ingesting the same inputs again adds "
            "only what is missing; where memory is short, run with fewer --workers or a smaller "
            "--batch-rows",
        )


class ChunkPool:
    """Submit chunks; take back converted ones in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._processes: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[str, Future[Chunk]]] = deque()
        self._first: tuple[SourceSpec, str, Sequence[Frame]] | None = None

    def __enter__(self) -> ChunkPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for executor in (self._threads, self._processes):
            if executor is not None:
                executor.shutdown(wait=exc_type is None, cancel_futures=exc_type is not None)

    def submit(self, spec: SourceSpec, name: str, frames: Sequence[Frame]) -> Iterator[Done]:
        """Queue a chunk; yield the converted chunks that must be taken to stay bounded."""
        if self.workers == 1:
            yield name, convert_chunk(spec, frames)
            return
        if spec.batch is not None:
            self._release_first(start_processes=False)
            future = self._thread_pool().submit(convert_chunk, spec, frames)
        elif self._processes is None and self._first is None:
            self._first = (spec, name, frames)
            return
        else:
            self._release_first(start_processes=True)
            with _lost_as_error():
                future = self._process_pool().submit(_convert_packed, spec, _pack(frames))
        self._pending.append((name, future))
        while len(self._pending) > 2 * self.workers:
            yield self._take()

    def drain(self) -> Iterator[Done]:
        """Every chunk still queued, in order."""
        self._release_first(start_processes=False)
        while self._pending:
            yield self._take()

    def _release_first(self, *, start_processes: bool) -> None:
        """Queue the held-back chunk ahead of anything newer: in a worker, or converted here."""
        if self._first is None:
            return
        spec, name, frames = self._first
        self._first = None
        if start_processes:
            with _lost_as_error():
                future = self._process_pool().submit(_convert_packed, spec, _pack(frames))
        else:
            future = Future()
            future.set_result(convert_chunk(spec, frames))
        self._pending.append((name, future))

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers + 1, thread_name_prefix="convert")
        return self._threads

    def _process_pool(self) -> ProcessPoolExecutor:
        if self._processes is None:
            context = multiprocessing.get_context("spawn")
            with _child_environment(POLARS_MAX_THREADS="1"):
                self._processes = ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
                # Start them all now, under this environment: each submitted before any is
                # waited for, since a worker found idle takes the next one and the rest would be
                # started later, without it.
                with _stop_signals_blocked():
                    started = [self._processes.submit(os.getpid) for _ in range(self.workers)]
            for future in started:
                future.result()
        return self._processes

    def _take(self) -> Done:
        name, future = self._pending.popleft()
        with _lost_as_error():
            return name, future.result()


@contextmanager
def _lost_as_error() -> Iterator[None]:
    """A dead worker as `WorkerLost`, which the command tells in one line, not a traceback."""
    try:
        yield
    except BrokenProcessPool as exc:
        raise WorkerLost() from exc


@contextmanager
def _child_environment(**values: str) -> Iterator[None]:
    """Environment for processes started inside the block; this process's is restored after.

    Each worker gets one Polars thread: the workers themselves are the parallelism, and
    several multi-threaded Polars pools on two cores only fight over them.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


Packed = LineChunk | tuple[list[bytes], list[str], list[str | None], list[str | None]]


def _pack(frames: Sequence[Frame]) -> Packed:
    """Frames as plain lists: pickling those is several times cheaper than the tuples.

    A `LineChunk` already is two plain lists; its frames are then made in the worker.
    """
    if isinstance(frames, LineChunk):
        return frames
    return [f.raw for f in frames], [f.location for f in frames], [f.error for f in frames], [f.tenant for f in frames]


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Stop signals held back from this thread for the block. A worker process started in it
    inherits that, so one signalled while it is still starting (importing for a second or
    so) is not interrupted: `_start_worker` then ignores them. This process still gets them,
    in another thread or as the block ends."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(parent: int) -> None:
    """Worker start-up: stop signals are the ingest's to act on, and the worker leaves with it."""
    _leave_stop_signals_to_the_ingest()
    _exit_with_parent(parent)


def _leave_stop_signals_to_the_ingest() -> None:
    """Ignore SIGINT and SIGTERM, those held back since the start included.

    Ctrl-C and `timeout` signal the whole process group, systemd the whole service: a worker
    ended by the signal would print a traceback of its own, and might be taken for one the
    system killed (`WorkerLost`). The ingest instead shuts the pool down, and the workers
    finish the chunk in hand and exit.
    """
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)  # discards one that is pending
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _exit_with_parent(parent: int) -> None:
    """Worker start-up: leave as soon as the ingest that started us is gone.

    An ingest killed with SIGKILL cannot shut its pool down, and idle workers would otherwise
    wait for work forever.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _convert_packed(spec: SourceSpec, packed: Packed) -> Chunk:
    """Worker side of `ChunkPool`: rebuild the frames, convert them."""
    if isinstance(packed, LineChunk):
        return convert_chunk(spec, packed)
    raws, locations, errors, tenants = packed
    return convert_chunk(spec, list(map(Frame, raws, locations, errors, tenants)))
