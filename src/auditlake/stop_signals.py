"""Stopping a command in order on SIGTERM (what systemd, Kubernetes and `timeout` send) and on
SIGINT (Ctrl-C).

Python's default for SIGTERM ends the process at once: no `finally` clause runs, so a
temporary copy of piped input stays in `$TMPDIR` and a commit under way is cut off. Two ways
to stop instead:

- `on_stop_signals(handler)`: the handler sets a flag that the command looks at when it is
  safe to stop (`auditlake watch`, which finishes the file in hand).
- `stopping()`: the first stop signal raises `Stopped` in the main thread, which unwinds the
  command's `with` blocks and `finally` clauses as Ctrl-C's `KeyboardInterrupt` does: worker
  pools are shut down, temporary files removed, locks released. Work that must not be cut
  off halfway (an inline commit, removing a temporary copy) runs under `held()`.

Either way, a SIGINT the process was started ignoring (a background job of a script) stays
ignored, and the handlers in place before are put back afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None
"""A signal's disposition, as `signal.getsignal` returns it."""


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; raised by `stopping()` in the main thread.

    A `KeyboardInterrupt`, so that code written to clean up after Ctrl-C (a delivery telling
    its sinks to give up, a parser that passes interruptions through) does the same for
    SIGTERM, and `except Exception` clauses let it pass.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name: SIGTERM, SIGINT."""
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """What a shell reports for a process the signal ended: 128 plus its number (130 for
        SIGINT, 143 for SIGTERM), so that a script or service manager sees it was stopped."""
        return 128 + self.signum


def on_stop_signals(handler: Callable[[int, FrameType | None], None]) -> dict[int, Handler]:
    """Install `handler` for SIGTERM and SIGINT; returns the handlers to put back.

    A SIGINT the process was started ignoring (a background job of a script) stays ignored.
    Installing a Python handler also matters for SIGINT: Polars puts its own handler in place
    when imported, which leaves Ctrl-C unnoticed until the next Polars query.
    """
    previous: dict[int, Handler] = {}
    for number in STOP_SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, handler)
    return previous


def put_back(previous: dict[int, Handler]) -> None:
    """Reinstate the handlers `on_stop_signals` replaced."""
    for number, handler in previous.items():
        signal.signal(number, handler)


class _State:
    """What `stopping()` and `held()` share (signal handlers run in the main thread only)."""

    stopped: int | None = None
    """The signal `Stopped` was raised for: later stop signals are let pass."""
    depth = 0
    """How many `held()` blocks the main thread is in."""
    waiting: int | None = None
    """A stop signal that arrived inside them."""


@contextmanager
def stopping() -> Iterator[None]:
    """Inside the block, the first stop signal raises `Stopped` in the main thread (where
    Python runs signal handlers): between two bytecodes, or out of a blocking call such as
    reading a pipe or waiting for a worker. A signal arriving inside `held()` raises as that
    block ends. Later stop signals are let pass, so that the unwinding (waiting for a commit
    under way, removing a temporary copy) is not itself cut short; SIGKILL remains for a
    process that must end at once. Outside the main thread, where handlers cannot be
    installed, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = on_stop_signals(_raise_stopped)
    try:
        yield
    finally:
        put_back(previous)
        _State.stopped, _State.waiting = None, None


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    if _State.stopped is not None:
        return
    if _State.depth:
        _State.waiting = _State.waiting or signum
        return
    _State.stopped = signum
    raise Stopped(signum)


def stopped_by() -> Stopped | None:
    """The stop under way, for code whose library turned the `Stopped` a signal raised inside
    it into an error of its own (DuckDB's "Query interrupted"): raise it instead of that error."""
    return None if _State.stopped is None else Stopped(_State.stopped)


@contextmanager
def held() -> Iterator[None]:
    """Keep a stop signal from interrupting the block: under `stopping()`, one that arrives
    meanwhile raises `Stopped` once the block has finished (should the block fail, its own
    error goes on instead). Signals interrupt the main thread only, so elsewhere this does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.depth += 1
    try:
        yield
    finally:
        _State.depth -= 1
    if _State.depth == 0 and _State.waiting is not None and _State.stopped is None:
        _State.stopped = _State.waiting
        raise Stopped(_State.waiting)
