"""`-` among ingest's inputs: the records piped into the command, read as one input, `stdin`.

Sources read an input more than once (its first bytes to recognise it, then its records), which
a pipe does not allow, so the stream is first copied into a private temporary folder (under
`$TMPDIR`) and removed when the ingest ends. The copy keeps the bytes as they came, so a gzip
stream stays compressed and is read as any gzip input is; a record that goes to quarantine is
located as `stdin:<line>`.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from auditlake.lake.write_refused import refused_as

STDIN = Path("-")
NAME = "stdin"
"""What the piped input is called in summaries and quarantine locations."""


@contextmanager
def stdin_copied(paths: Sequence[Path], stream: BinaryIO | None = None) -> Iterator[list[Path]]:
    """`paths` with `-` standing for a copy of `stream` (standard input by default), which
    lasts as long as the context. Without `-`, `paths` as they are and nothing read."""
    if STDIN not in paths:
        yield list(paths)
        return
    with tempfile.TemporaryDirectory(prefix="auditlake-stdin-") as folder:
        copy = Path(folder) / NAME
        refused = refused_as(copy, outcome="nothing was ingested; set TMPDIR to a folder with room for the piped input")
        with refused, copy.open("wb") as out:
            shutil.copyfileobj(stream or sys.stdin.buffer, out, 1 << 20)
        first = paths.index(STDIN)  # the stream is read once, however often it is named
        yield [copy if n == first else path for n, path in enumerate(paths) if path != STDIN or n == first]
