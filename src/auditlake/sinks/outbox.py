"""What a sink is owed: alerts in the alert store that have not been queued in its spool yet.

Delivery reads alerts from the alert store, not from the detection run that produced them, so
a process that dies after the store got new alerts and before they were queued loses nothing:
the next delivery (of any `detect` or `watch`) finds them. Per sink, a ledger
(`_state/spool/<sink>/ledger.txt`) lists the alert-store files already queued, one name per
line, appended and fsynced *after* their alerts were written to the spool.

The store is append-only and its files never change once renamed into place, so "queued" is
tracked per file, which keeps the ledger small and the check a directory listing. A crash
between writing some batches of a file and recording the file leaves it unrecorded; the next
reconciliation then queues only the ids of that file that no pending batch holds. That is exact
because reconciliation always runs before the spool is drained, under the delivery lock: a
batch of an unrecorded file cannot have been delivered and removed yet.

A sink seen for the first time starts at the end of the store: its ledger is created listing
every file already there, so adding a sink does not replay the lake's whole alert history to it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from auditlake.lake.commits import fsync_dir, write_durably
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import refused_as
from auditlake.sinks.spool import Spool

LEDGER = "ledger.txt"
NOT_QUEUED = "the alerts stay in the alert store, and the next delivery queues them for this sink"


class Ledger:
    """The alert-store file names already queued for one sink."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._names: set[str] = set()
        self._read_to = 0

    def exists(self) -> bool:
        return self.path.is_file()

    def start(self, names: Iterable[str]) -> None:
        """Create the ledger listing `names` (files this sink will never be sent)."""
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with refused_as(self.path, outcome="no alert was queued for the new sink yet"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_durably(temporary, "".join(f"{n}\n" for n in sorted(names)).encode())
            os.replace(temporary, self.path)
            fsync_dir(self.path.parent)

    def names(self) -> set[str]:
        """Every name recorded, including lines other processes appended since the last call."""
        if not self.path.is_file():
            return self._names
        with self.path.open("rb") as handle:
            handle.seek(self._read_to)
            tail = handle.read()
        complete = tail.rfind(b"\n") + 1  # a torn last line (crash mid-append) is not a record
        self._names.update(n for n in tail[:complete].decode().splitlines() if n)
        self._read_to += complete
        return self._names

    def add(self, names: Iterable[str]) -> None:
        lines = "".join(f"{n}\n" for n in names).encode()
        if not lines:
            return
        with self.path.open("ab+") as handle:
            # After a torn append, start on a fresh line so the next name is read whole.
            if handle.seek(0, os.SEEK_END) > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    lines = b"\n" + lines
            handle.write(lines)
            handle.flush()
            os.fsync(handle.fileno())


class Outbox:
    """One sink's ledger and spool."""

    def __init__(self, lake: LakePaths, sink: str) -> None:
        self.folder = lake.inside(lake.state / "spool" / sink)
        self.ledger = Ledger(self.folder / LEDGER)
        self.spool = Spool(self.folder)

    def owed(self, store_files: Iterable[Path]) -> list[Path]:
        """Store files whose alerts are not queued yet."""
        known = self.ledger.names()
        return [f for f in store_files if f.name not in known]

    def take(self, files: list[Path], alerts: pl.DataFrame, batch_size: int) -> int:
        """Queue `alerts` (all of `files`' alerts), then record the files; returns alerts queued."""
        if not alerts.is_empty():
            queued = self.spool.pending_ids()
            if queued:  # only after a crash mid-queue can some of them be in the spool already
                alerts = alerts.filter(~pl.col("alert_id").is_in(list(queued)))
        rows = alerts.rows(named=True)
        with refused_as(self.folder, outcome=NOT_QUEUED):
            self.spool.put(rows, batch_size)
            self.ledger.add(f.name for f in files)
        return len(rows)
