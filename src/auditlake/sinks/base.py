"""What every sink is: a named destination that accepts a batch of alerts or raises `SinkError`.

Sinks never see the alert store or the spool: delivery (`deliver.py`) hands them one batch at a
time, oldest first, and removes a batch from the spool only after `send` returned.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import orjson

Alert = dict[str, Any]
"""One alert as a JSON object: the columns of `ALERT_SCHEMA`, times as ISO-8601 text."""


@dataclass(frozen=True)
class Batch:
    """Alerts delivered together; `batch_id` stays the same across retries and restarts."""

    batch_id: str
    alerts: list[Alert]

    @property
    def alert_ids(self) -> list[str]:
        return [str(a["alert_id"]) for a in self.alerts]

    def after(self, count: int) -> Batch:
        """The alerts after the first `count`, as a batch of their own: a new id, since a
        receiver may deduplicate by batch id."""
        return Batch(f"{self.batch_id}+{count}", self.alerts[count:])


class SinkError(Exception):
    """The batch was not delivered this time; it stays in the spool for the next try.

    `acknowledged`: how many of its first alerts the sink did take (in parts) before failing;
    they leave the spool, so that they are not delivered again.
    """

    def __init__(self, message: str, *, acknowledged: int = 0) -> None:
        super().__init__(message)
        self.acknowledged = acknowledged


class Sink(ABC):
    """A destination for alerts."""

    kind: str = "sink"

    def __init__(self, name: str, *, batch_size: int) -> None:
        self.name = name
        self.batch_size = batch_size

    @abstractmethod
    def send(self, batch: Batch, stop: threading.Event) -> None:
        """Deliver the whole batch or raise `SinkError`; give up early once `stop` is set."""

    def pause_after(self, failures: int) -> float:
        """Seconds to leave the sink alone after `failures` failed tries in a row."""
        return float(min(60, 2**failures))

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}" if self.name != self.kind else self.kind


def alert_line(alert: Alert) -> bytes:
    """One alert as a JSON line, the same form `auditlake detect --json` prints."""
    return orjson.dumps(alert, default=str) + b"\n"
