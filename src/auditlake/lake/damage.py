"""Telling a damaged lake file from any other failure to read it.

The commit that published a data file recorded its SHA-256 (`CommittedFile.sha256`). When
reading some committed files fails, each is hashed again: those whose bytes changed, or that
are gone, are named in a `DamagedFiles` error that says what to do, instead of a reader's
"zstd error: Data corruption detected" with no path. Files are hashed only on that failure,
so reading costs nothing more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import polars as pl

from auditlake.errors import LakeError
from auditlake.lake.commits import CommittedFile
from auditlake.lake.paths import LakePaths


class DamagedFiles(LakeError):
    """Committed data files whose bytes are no longer those their commit recorded."""

    def __init__(self, lake: LakePaths, files: Sequence[CommittedFile], cause: BaseException) -> None:
        self.files = tuple(files)
        named = ", ".join(f.path for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        super().__init__(
            f"{len(files)} committed data file(s) changed or missing since their commit: {named} "
            f"(reading them failed: {first_line(cause)})",
            where=str(lake.root),
            hint="restore them from a backup of the lake (each commit record under _state/commits/ holds the "
            "SHA-256 its files must have); a detection run stops before its watermark moves, so the "
            "next run after the repair starts where this one did",
        )


def first_line(error: BaseException) -> str:
    """The first line of a reader's error, for a message that has its own (its name when empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def changed(lake: LakePaths, files: Sequence[CommittedFile]) -> list[CommittedFile]:
    """The files whose bytes do not hash to the digest their commit recorded, or are gone."""
    return [f for f in files if _digest(lake, f) != f.sha256]


@contextmanager
def reading(lake: LakePaths, files: Sequence[CommittedFile]) -> Iterator[None]:
    """Raise `DamagedFiles` for a read of `files` that fails because some of them changed;
    any other failure passes through as it is."""
    try:
        yield
    except (pl.exceptions.PolarsError, OSError) as error:
        damaged = changed(lake, files)
        if damaged:
            raise DamagedFiles(lake, damaged, error) from error
        raise


def _digest(lake: LakePaths, file: CommittedFile) -> str | None:
    from auditlake.lake.writer import committed_path  # the writer reads through `reading`

    digest = hashlib.sha256()
    try:
        with committed_path(lake, file.path).open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()
