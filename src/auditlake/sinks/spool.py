"""A sink's durable queue: one JSON file per pending batch, delivered oldest first.

`<lake>/_state/spool/<sink>/<seq>.json` holds `{"batch_id": ..., "alerts": [...]}`. A batch is
written under a temporary name, fsynced and renamed into place, so a crash leaves it whole or
absent; it is removed (and the removal fsynced) only after the sink acknowledged it, or, when
the sink took only its first alerts, replaced the same way by the rest. The
sequence number (20 digits, so names sort in order) is at least the wall clock in nanoseconds
and always above every pending batch, so batches go out in the order they were queued, also
across processes.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from auditlake.errors import LakeError
from auditlake.lake.commits import fsync_dir, write_durably
from auditlake.sinks.base import Alert, Batch

BATCH_GLOB = "[0-9]*.json"


class Spool:
    """The pending batches of one sink, in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ids: dict[str, list[str]] = {}
        """Alert ids per batch file seen, so a large spool is parsed once, not on every check."""

    def clean(self) -> None:
        """Remove batches a crash left half-written (call under the delivery lock).

        They were never renamed into place, so never visible, and their alerts are still owed
        by the outbox, which queues them again.
        """
        if self.folder.is_dir():
            for leftover in self.folder.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)

    def paths(self) -> list[Path]:
        """Pending batch files, oldest first."""
        return sorted(self.folder.glob(BATCH_GLOB)) if self.folder.is_dir() else []

    def load(self, path: Path) -> Batch:
        try:
            document: dict[str, Any] = orjson.loads(path.read_bytes())
            batch = Batch(str(document["batch_id"]), list(document["alerts"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LakeError(f"spooled batch is unreadable: {exc}", where=str(path),
                            hint="move the file out of the spool and the sink goes on with the next batch; "
                                 "the alerts it held are not sent again (the alert store keeps them)") from exc
        self._ids[path.name] = batch.alert_ids
        return batch

    def put(self, alerts: Sequence[Alert], batch_size: int) -> int:
        """Queue `alerts` in batches of up to `batch_size`; returns the number of batches."""
        if not alerts:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        seq = self._next_seq()
        count = 0
        for start in range(0, len(alerts), batch_size):
            chunk = list(alerts[start:start + batch_size])
            final = self.folder / f"{seq:020d}.json"
            temporary = self.folder / f".{final.name}.tmp"
            document = {"batch_id": uuid.uuid4().hex, "alerts": chunk}
            write_durably(temporary, orjson.dumps(document, default=str))
            os.replace(temporary, final)
            self._ids[final.name] = [str(a["alert_id"]) for a in chunk]
            seq += 1
            count += 1
        fsync_dir(self.folder)
        return count

    def replace(self, path: Path, batch: Batch) -> None:
        """Put `batch` (what is left of the batch at `path` after part of it went out) in its
        place, durably and in its turn."""
        temporary = path.with_name(f".{path.name}.tmp")
        write_durably(temporary, orjson.dumps({"batch_id": batch.batch_id, "alerts": batch.alerts}, default=str))
        os.replace(temporary, path)
        fsync_dir(self.folder)
        self._ids[path.name] = batch.alert_ids

    def remove(self, path: Path) -> None:
        """Forget a delivered batch, durably (else it could be sent again after a power loss)."""
        path.unlink(missing_ok=True)
        fsync_dir(self.folder)
        self._ids.pop(path.name, None)

    def pending_ids(self) -> set[str]:
        return {i for ids in self._pending() for i in ids}

    def pending_alerts(self) -> int:
        return sum(len(ids) for ids in self._pending())

    def _pending(self) -> Iterable[list[str]]:
        names = set()
        for path in self.paths():
            names.add(path.name)
            if path.name not in self._ids:
                try:
                    self.load(path)
                except LakeError:
                    # Removed by another process's delivery meanwhile, or damaged: the drain
                    # stops at a damaged batch and says so; counting must not raise, or one
                    # sink's spool would stop the delivery to every sink.
                    continue
            yield self._ids[path.name]
        for gone in set(self._ids) - names:
            del self._ids[gone]

    def _next_seq(self) -> int:
        paths = self.paths()
        last = int(paths[-1].name.split(".", 1)[0]) if paths else 0
        return max(last + 1, time.time_ns())
