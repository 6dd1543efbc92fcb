"""Entries of the user's caches (compiled rules, rule plans): pickles written whole or not at
all, readable by the user only, and never the reason a command fails.

A pickle runs code when loaded, so the cache folder must be as trusted as the code (it is the
user's own).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def load(path: Path) -> object | None:
    """The object stored at `path`; None when it is absent or unreadable (the caller then
    makes it again)."""
    try:
        with path.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None


def store(path: Path, value: object) -> None:
    """Store `value` at `path` through a temporary file renamed over it, mode 0600. A cache that
    cannot be written (a read-only home in a container) costs the next run the work, nothing
    else."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with temporary.open("wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError:
        pass
    finally:  # after a failed write, or one cut short (Ctrl-C while rules compile)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cycle collector off for a while. Unpickling thousands of rules or plans makes
    objects by the hundred thousand, none of them garbage: collections meanwhile would walk
    them in vain (0.1 s of a 0.6 s load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
