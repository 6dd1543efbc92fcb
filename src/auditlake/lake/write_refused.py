"""A write the system refused, said as what happened, what to do, and what it left behind.

A full disk, a used-up quota, a file-size limit, a read-only mount, a folder the user may not
write, an I/O error: each reaches auditlake as an `OSError` from whichever library was writing
(pyarrow's names no file), or as a Polars error whose text ends in the system's error number. The places that write the lake wrap their writes in `refused_as`,
which turns such an error into `WriteRefused`: the path, the system's reason, the fix for that
reason, and the write's `outcome` (a batch not published, a watermark not moved), so that the
log of a scheduled job says whether running it again is all it takes.

>>> import errno
>>> try:
...     with refused_as(Path("lake/alerts"), outcome="nothing was stored"):
...         raise OSError(errno.ENOSPC, "Error writing bytes to file")
... except WriteRefused as exc:
...     print(exc)
lake/alerts: could not write: No space left on device (the disk is full: free space on it; nothing was stored)
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from auditlake.errors import LakeError

_FIXES = {
    errno.ENOSPC: "the disk is full: free space on it",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota",
    errno.EFBIG: "a file-size limit stopped the write: raise it (`ulimit -f`)",
    errno.EROFS: "the file system is mounted read-only: remount it writable, or use a lake elsewhere",
    errno.EACCES: "this user may not write there: fix the folder's owner or permissions",
    errno.EPERM: "this user may not write there: fix the folder's owner or permissions",
    errno.EIO: "the disk reported an I/O error: check the disk and the system log",
    errno.ENOTDIR: "part of the path is a file, not a folder: choose another place",
    errno.EEXIST: "part of the path is a file, not a folder: choose another place",
}
_OTHERWISE = "check the disk and the folder"


class WriteRefused(LakeError):
    """The system refused a write into the lake; nothing half-written is visible."""

    def __init__(self, path: Path, cause: OSError, outcome: str) -> None:
        self.path = path
        self.errno = cause.errno
        reason = os.strerror(cause.errno) if cause.errno else str(cause)
        fix = _FIXES.get(cause.errno or 0, _OTHERWISE)
        super().__init__(f"could not write: {reason}", where=str(path), hint=f"{fix}; {outcome}")


@contextmanager
def refused_as(path: Path, *, outcome: str) -> Iterator[None]:
    """Run a write into `path`; an `OSError` it raises (or a Polars error carrying one) becomes
    `WriteRefused`, told with `outcome`: what the failed write leaves behind and what running
    again does."""
    try:
        yield
    except OSError as exc:
        raise WriteRefused(path, exc, outcome) from exc
    except pl.exceptions.PolarsError as exc:
        number = _POLARS_OS_ERROR.search(str(exc))
        if number is None:
            raise
        raise WriteRefused(path, OSError(int(number[1]), str(exc)), outcome) from exc


_POLARS_OS_ERROR = re.compile(r"\(os error (\d+)\)")
"""How Polars' I/O errors end: 'underlying IO error: File too large (os error 27)'."""
