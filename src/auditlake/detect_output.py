"""`detect --json` prints every alert at least once, even when a run is killed.

A run stores its alerts before it prints them, and a re-run finds them stored, so to it they
are not new: after a crash (SIGKILL, a lost node, an out-of-memory kill) between storing and
printing, `detect --json >> alerts.jsonl` would never print them. So a run that prints marks
itself in `_state/detect/printing/<run_id>.json` (with its process id) before it stores
anything and removes the mark once its output is written. A later printing run that finds the
mark of a process that is gone prints that run's stored alerts first, then its own: an alert
may be printed twice after a crash, never not at all. Sinks have their own ledger
(`auditlake.sinks`); this is only for standard output.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from auditlake.lake.commits import write_durably
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import refused_as

NOT_MARKED = "nothing was stored or printed; once the cause is gone the same command runs whole"


@dataclass(frozen=True)
class PrintingRuns:
    """The marks of one lake's printing runs."""

    lake: LakePaths

    @property
    def folder(self) -> Path:
        return self.lake.state / "detect" / "printing"

    def interrupted(self) -> list[str]:
        """Run ids whose process is gone without removing its mark, oldest first."""
        if not self.folder.is_dir():
            return []
        marks = []
        for path in self.folder.glob("*.json"):
            try:  # a run that ends meanwhile removes its mark
                marks.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue
        return [path.stem for _, _, path in sorted(marks) if not _alive(_pid(path))]

    @contextmanager
    def printing(self, run_id: str) -> Iterator[None]:
        """Mark `run_id` as printing for the block; the mark stays if the block raises, so a
        run that failed after storing alerts has them printed by the next one."""
        path = self.folder / f"{run_id}.json"
        with refused_as(path, outcome=NOT_MARKED):
            self.folder.mkdir(parents=True, exist_ok=True)
            write_durably(path, json.dumps({"pid": os.getpid()}).encode())
        yield
        self.done(run_id)

    def done(self, run_id: str) -> None:
        """Forget `run_id`'s mark: its alerts have been printed."""
        (self.folder / f"{run_id}.json").unlink(missing_ok=True)


def _pid(mark: Path) -> int | None:
    try:
        pid = json.loads(mark.read_bytes())["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a mark cut short by a crash: its process is gone with it
    return pid if isinstance(pid, int) else None


def _alive(pid: int | None) -> bool:
    """Whether a process `pid` runs here (a mark from another host, sharing the lake over a
    network file system, would look gone: such a lake prints at least once all the same)."""
    if pid is None or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
