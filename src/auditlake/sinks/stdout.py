"""Standard output: one JSON object per alert, flushed per batch (for pipes and log shippers).

Commands run with `--json` print their own objects on stdout too (`detect --json` the same
alerts again, `watch --json` one report per file); alerts are the objects with an `alert_id`.
"""

from __future__ import annotations

import sys
import threading

from auditlake.sinks.base import Batch, Sink, SinkError, alert_line


class StdoutSink(Sink):
    """Writes alerts to whatever `sys.stdout` is when the batch is sent."""

    kind = "stdout"

    def __init__(self, name: str = "stdout", *, batch_size: int = 500) -> None:
        super().__init__(name, batch_size=batch_size)

    def send(self, batch: Batch, stop: threading.Event) -> None:
        text = b"".join(alert_line(a) for a in batch.alerts).decode("utf-8")
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (BrokenPipeError, ValueError) as exc:  # reader gone, or stdout closed
            raise SinkError(f"cannot write to standard output: {exc}") from exc
