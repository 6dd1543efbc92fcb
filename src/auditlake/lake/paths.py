"""Where everything lives in a lake, and the guarantee that nothing is written outside it.

Partition values (source names, dates) and batch ids end up in file names. They are checked
against strict patterns and every final path is verified to resolve inside the lake root, so a
hostile value such as `../../etc` or an absolute path can never escape it.

>>> lake = LakePaths.at("/tmp/lake")
>>> lake.partition("aws.cloudtrail", "2024-03-01").as_posix()
'/tmp/lake/events/source=aws.cloudtrail/dt=2024-03-01'
>>> lake.partition("../x", "2024-03-01")
Traceback (most recent call last):
...
auditlake.errors.LakeError: unsafe source name '../x' (it must match [a-z0-9][a-z0-9._-]{0,63})
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from auditlake.errors import LakeError

SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
BATCH_ID = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True, slots=True)
class LakePaths:
    """The directory layout of one lake rooted at `root` (an absolute, resolved path)."""

    root: Path

    @classmethod
    def at(cls, root: str | Path) -> LakePaths:
        return cls(Path(root).expanduser().resolve())

    @property
    def events(self) -> Path:
        return self.root / "events"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def staging(self) -> Path:
        return self.root / "_staging"

    @property
    def state(self) -> Path:
        return self.root / "_state"

    @property
    def commits(self) -> Path:
        return self.state / "commits"

    @property
    def locks(self) -> Path:
        return self.state / "locks"

    def partition(self, source: str, day: str | date) -> Path:
        """`events/source=<source>/dt=<day>`, after checking both values."""
        return self.inside(self.events / partition_dir(source, day))

    def inside(self, path: Path) -> Path:
        """`path`, provided it resolves inside the lake root; `LakeError` otherwise."""
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root):
            raise LakeError(f"refusing to write outside the lake: {path}", where=str(self.root))
        return resolved


def check_source(source: str) -> str:
    if not SOURCE_NAME.fullmatch(source) or ".." in source:
        raise LakeError(f"unsafe source name {source!r} (it must match {SOURCE_NAME.pattern})")
    return source


def check_day(day: str | date) -> str:
    text = day.isoformat() if isinstance(day, date) else day
    if not DAY.fullmatch(text):
        raise LakeError(f"unsafe partition date {text!r} (it must be YYYY-MM-DD)")
    date.fromisoformat(text)
    return text


def check_batch(batch_id: str) -> str:
    if not BATCH_ID.fullmatch(batch_id):
        raise LakeError(f"unsafe batch id {batch_id!r} (it must be lowercase hex)")
    return batch_id


def partition_dir(source: str, day: str | date) -> str:
    """The relative directory of one events partition."""
    return f"source={check_source(source)}/dt={check_day(day)}"


def part_name(batch_id: str) -> str:
    return f"part-{check_batch(batch_id)}.parquet"
