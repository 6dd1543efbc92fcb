"""Inputs that are streams, not files: `-` (what is piped into the command) and pipes named as
paths (`auditlake ingest <(aws s3 cp s3://trail/x.json.gz -)`, a named FIFO).

Sources read an input more than once (its first bytes to recognise it, then its records),
which a stream does not allow: the bytes read to recognise it would be gone. So each stream is
first copied into a private temporary folder (under `$TMPDIR`), read from there, and removed
when the ingest ends. The copy keeps the bytes as they came (a gzip stream stays compressed)
and the stream's name (`stdin` for `-`), so a quarantined record is located as
`stdin:<line>`. Streams inside a folder given as input are not read: opening one may block.
The copy is removed however the ingest ends, stopped by a signal too (under
`auditlake.stop_signals.stopping`); only SIGKILL leaves it behind.
"""

from __future__ import annotations

import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from auditlake.lake.write_refused import refused_as
from auditlake.stop_signals import held

STDIN = Path("-")
NAME = "stdin"
"""What the piped input is called in summaries and quarantine locations."""


@contextmanager
def pipes_copied(paths: Sequence[Path], stdin: BinaryIO | None = None) -> Iterator[list[Path]]:
    """`paths` with each stream among them standing for a copy of its bytes, which lasts as
    long as the context; `-` stands for `stdin` (standard input by default), read once however
    often it is named. Files and folders are left as they are, and nothing is read for them."""
    streams = [n for n, path in enumerate(paths) if path == STDIN or _is_stream(path)]
    if not streams:
        yield list(paths)
        return
    folder = tempfile.TemporaryDirectory(prefix="auditlake-pipes-")
    try:
        copies: dict[Path, Path] = {}
        for number in streams:
            path = paths[number]
            if path not in copies:
                copies[path] = _copied(path, stdin, Path(folder.name) / str(number))
        read: list[Path] = []
        for path in paths:
            if path == STDIN and copies[STDIN] in read:
                continue  # standard input is read once, however often it is named
            read.append(copies.get(path, path))
        yield read
    finally:
        with held():  # a stop signal must not leave a copy of gigabytes half removed
            folder.cleanup()


def _is_stream(path: Path) -> bool:
    """Whether `path` is a pipe, FIFO or socket rather than a file or folder (a path that
    cannot be looked at is left to the reading that follows). A device is not copied: one
    may never end (`/dev/zero`) or wait for a person (a terminal); ingest reports it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _copied(path: Path, stdin: BinaryIO | None, folder: Path) -> Path:
    """A copy of the stream at `path` (`-`: `stdin`) in `folder`, under the stream's name."""
    copy = folder / (NAME if path == STDIN else path.name)
    with refused_as(copy, outcome="nothing was ingested; set TMPDIR to a folder with room for the piped input"):
        folder.mkdir()
        with copy.open("wb") as out:
            if path == STDIN:
                shutil.copyfileobj(stdin or sys.stdin.buffer, out, 1 << 20)
            else:
                with path.open("rb") as stream:
                    shutil.copyfileobj(stream, out, 1 << 20)
    return copy
