"""The commit log: which data files exist in the lake, one atomic record per batch.

A batch becomes visible at one instant: when its commit record is renamed into `_state/commits/`.
Readers list data files from these records, never by globbing, so a batch whose files are only
partly written or moved is invisible, and a crash leaves either all of it or none. The records
also carry each file's row count, time range, SHA-256 and column types, which lets a scan build
the lake's union schema without opening every file and gives the integrity ledger its input.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from auditlake.errors import LakeError
from auditlake.lake.paths import LakePaths, check_batch

Table = Literal["events", "quarantine"]
COMMIT_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class CommittedFile:
    """One data file of a batch, by its path relative to the lake root."""

    path: str
    table: Table
    source: str
    dt: str | None
    rows: int
    sha256: str
    min_time: str | None = None
    max_time: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Commit:
    """A batch as committed: sequence number, id, time and files."""

    seq: int
    batch_id: str
    created_at: str
    files: tuple[CommittedFile, ...]

    @property
    def name(self) -> str:
        return f"{self.seq:012d}-{check_batch(self.batch_id)}{COMMIT_SUFFIX}"


def write_commit(lake: LakePaths, commit: Commit) -> Path:
    """Make `commit` durable and visible in one rename; refuse to overwrite a record."""
    lake.commits.mkdir(parents=True, exist_ok=True)
    final = lake.inside(lake.commits / commit.name)
    if final.exists():
        raise LakeError(f"commit record {final.name} already exists", where=str(lake.root))
    temp = final.with_suffix(".tmp")
    body = orjson.dumps(asdict(commit), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    write_durably(temp, body)
    os.replace(temp, final)
    fsync_dir(lake.commits)
    return final


def read_commits(lake: LakePaths) -> list[Commit]:
    """All commits in sequence order."""
    return list(iter_commits(lake))


def iter_commits(lake: LakePaths) -> Iterator[Commit]:
    if not lake.commits.is_dir():
        return
    for path in sorted(lake.commits.glob(f"*{COMMIT_SUFFIX}")):
        yield _load(path)


def next_seq(lake: LakePaths) -> int:
    """The sequence number the next commit takes."""
    if not lake.commits.is_dir():
        return 1
    names = sorted(p.name for p in lake.commits.glob(f"*{COMMIT_SUFFIX}"))
    return int(names[-1].split("-", 1)[0]) + 1 if names else 1


def committed_batches(lake: LakePaths) -> set[str]:
    if not lake.commits.is_dir():
        return set()
    return {p.stem.split("-", 1)[1] for p in lake.commits.glob(f"*{COMMIT_SUFFIX}")}


def _load(path: Path) -> Commit:
    try:
        data: dict[str, Any] = orjson.loads(path.read_bytes())
        files = tuple(CommittedFile(**f) for f in data["files"])
        return Commit(data["seq"], data["batch_id"], data["created_at"], files)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LakeError(
            f"commit record is unreadable: {exc}",
            where=str(path),
            hint="the lake's commit log is damaged: restore this record from a backup of the lake "
            "(every reader and writer of the lake stops here until then)",
        ) from exc


def write_durably(path: Path, body: bytes) -> None:
    """Write `body` to `path` and fsync it, so a crash never leaves a half-written record."""
    with path.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Persist a rename: directories must be fsynced too on POSIX."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
