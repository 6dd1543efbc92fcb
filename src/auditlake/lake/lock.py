"""One writer at a time per lake, enforced with an advisory file lock.

The lock is released by the kernel when the process dies, even by SIGKILL, so a crashed ingest
never leaves the lake locked.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from auditlake.errors import LakeError
from auditlake.lake.write_refused import refused_as


class LockHeld(LakeError):
    """Another process holds the lock; it is let go when that process ends."""


class FileLock:
    """Exclusive, non-blocking lock on `path`; the holder's pid is written into the file."""

    def __init__(self, path: Path, *, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        with refused_as(self.path, outcome="nothing was written"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(
                f"another {self.purpose} is running on this lake (pid {holder})",
                where=str(self.path),
                hint="wait for it to finish; the lock is released automatically when it exits",
            ) from None
        try:
            with refused_as(self.path, outcome="nothing was written"):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)  # closing lets the lock go
            raise
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
