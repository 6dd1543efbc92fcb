"""A JSON Lines file: each alert appended as one line, fsynced before the batch counts as done."""

from __future__ import annotations

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
            with self.path.open("ab+") as handle:
                # A crash mid-write leaves a torn last line; start on a fresh line so it stays
                # one unreadable line instead of corrupting the first alert of this batch.
                if handle.seek(0, os.SEEK_END) > 0:
                    handle.seek(-1, os.SEEK_END)
                    if handle.read(1) != b"\n":
                        body = b"\n" + body
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise SinkError(f"cannot append to {self.path}: {exc.strerror or exc}") from exc
