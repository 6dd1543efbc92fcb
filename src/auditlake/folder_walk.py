"""Walking a folder the way every command that takes folders does (ingest's inputs, rule packs).

Sorted, hidden entries (a leading `.`) skipped, links to folders followed, and each folder
walked once however many links reach it, so a link loop ends. Nothing under a folder is passed
over unsaid: a folder that cannot be listed and a link to nothing are yielded as entries of
their own, so that opening them fails and the command reports why. Pipes, sockets and devices
are not yielded: opening a pipe would wait for a writer, and a device may never end.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> for name in ("b/x.yml", "a.yml", ".git/config"):
...     (root / name).parent.mkdir(parents=True, exist_ok=True)
...     _ = (root / name).write_text("")
>>> (root / "c").symlink_to("b")
>>> [(p.relative_to(root).as_posix(), folder) for p, folder in walk(root)]
[('.', True), ('a.yml', False), ('b', True), ('b/x.yml', False)]
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path


def walk(root: Path, *, leave: Path | None = None) -> Iterator[tuple[Path, bool]]:
    """(path, is a walked folder) for `root` and everything under it, each folder before its
    entries. Paths are spelled under `root` (a followed link keeps its own name). `leave`, a
    resolved path, is yielded as an entry but not walked (the lake, inside a folder of logs)."""
    walked: set[Path] = set()
    pending = [(root, True)]  # (path, is a folder), the next one last: a sorted walk
    while pending:
        here, folder = pending.pop()
        if not folder or (leave is not None and here.resolve() == leave):
            yield here, False
            continue
        if here.resolve() in walked:
            continue
        walked.add(here.resolve())
        try:
            with os.scandir(here) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith("."))
        except OSError:
            yield here, False  # opening it says why it cannot be listed
            continue
        yield here, True
        for name in reversed(names):
            try:
                mode = (here / name).stat().st_mode
            except OSError:  # a link to nothing, or no access: opening it says which
                mode = stat.S_IFREG
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                pending.append((here / name, stat.S_ISDIR(mode)))


def files_under(root: Path, *, leave: Path | None = None) -> Iterator[Path]:
    """The entries of `walk` that are not walked folders: files, and what could not be read."""
    return (path for path, folder in walk(root, leave=leave) if not folder)
