"""A JSON Lines file: each alert appended as one line, fsynced before the batch counts as done."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from auditlake.sinks.base import Batch, Sink, SinkError, alert_line


class JsonlSink(Sink):
    """Appends alerts to `path` (created with its folder if missing)."""

    kind = "jsonl"

    def __init__(self, name: str, path: Path, *, batch_size: int = 500) -> None:
        super().__init__(name, batch_size=batch_size)
        self.path = path

    def send(self, batch: Batch, stop: threading.Event) -> None:
        body = b"".join(alert_line(a) for a in batch.alerts)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab+", buffering=0) as handle:
                end = handle.seek(0, os.SEEK_END)
                # A crash mid-write leaves a torn last line; start on a fresh line so it stays
                # one unreadable line instead of corrupting the first alert of this batch.
                if end > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        body = b"\n" + body
                _append(handle.fileno(), body, end)
        except OSError as exc:
            raise SinkError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc


def _append(fd: int, body: bytes, end: int) -> None:
    """Write all of `body` and fsync it, or leave the file `end` bytes long and raise.

    A write the disk cuts short (full, over quota) stores part of the batch; the batch stays
    spooled and is appended whole on the next try, so the part would be read twice, ending in
    a torn line.
    """
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):  # else the next append keeps the torn line apart
            os.ftruncate(fd, end)
        raise
