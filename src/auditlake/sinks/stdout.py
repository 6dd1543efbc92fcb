"""Standard output: one JSON object per alert, flushed per batch (for pipes and log shippers).

A log collector reading standard output must find alerts there and nothing else, each once:
with a stdout sink, `detect` prints its summary on stderr and leaves the alerts of `--json`
to the sink, and `watch` refuses `--json`, whose per-file reports would share stdout with them.
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
        if sys.stdout is None:  # started with standard output closed (`>&-`)
            raise SinkError("cannot write to standard output: it is closed")
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (BrokenPipeError, ValueError) as exc:  # reader gone, or stdout closed
            raise SinkError(f"cannot write to standard output: {exc}") from exc
