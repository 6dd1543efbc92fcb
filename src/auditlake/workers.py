"""Converting chunks of frames in worker processes, results in input order, memory bounded.

Normalizing records is CPU work in Python, so it scales with processes, not threads. The pool
starts lazily: an input that fits in one chunk is converted in this process and never pays for
starting workers. At most twice as many chunks as workers are in flight, so reading never runs far ahead
of committing. Workers are spawned, not forked: Polars' thread pool does not survive a fork.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from types import TracebackType

from auditlake.sources.base import Frame, SourceSpec
from auditlake.sources.convert import Chunk, convert_chunk

Done = tuple[str, Chunk]


class ChunkPool:
    """Submit chunks; take back converted ones in submission order."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._executor: ProcessPoolExecutor | None = None
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
        if self._executor is not None:
            self._executor.shutdown(wait=exc_type is None, cancel_futures=exc_type is not None)

    def submit(self, spec: SourceSpec, name: str, frames: Sequence[Frame]) -> Iterator[Done]:
        """Queue a chunk; yield the converted chunks that must be taken to stay bounded."""
        if self.workers == 1:
            yield name, convert_chunk(spec, frames)
            return
        if self._executor is None and self._first is None:
            self._first = (spec, name, frames)
            return
        self._start()
        assert self._executor is not None
        self._pending.append((name, self._executor.submit(_convert_packed, spec, _pack(frames))))
        while len(self._pending) > 2 * self.workers:
            yield self._take()

    def drain(self) -> Iterator[Done]:
        """Every chunk still queued, in order."""
        if self._first is not None:
            spec, name, frames = self._first
            self._first = None
            yield name, convert_chunk(spec, frames)
        while self._pending:
            yield self._take()

    def _start(self) -> None:
        if self._executor is not None:
            return
        context = multiprocessing.get_context("spawn")
        with _child_environment(POLARS_MAX_THREADS="1"):
            self._executor = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
            for _ in range(self.workers):  # start them all now, under this environment
                self._executor.submit(os.getpid).result()
        if self._first is not None:
            spec, name, frames = self._first
            self._first = None
            self._pending.append((name, self._executor.submit(_convert_packed, spec, _pack(frames))))

    def _take(self) -> Done:
        name, future = self._pending.popleft()
        return name, future.result()


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


Packed = tuple[list[bytes], list[str], list[str | None]]


def _pack(frames: Sequence[Frame]) -> Packed:
    """Frames as three plain lists: pickling those is several times cheaper than the tuples."""
    return [f.raw for f in frames], [f.location for f in frames], [f.error for f in frames]


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
    raws, locations, errors = packed
    return convert_chunk(spec, list(map(Frame, raws, locations, errors)))
