"""Where incremental detection stopped: the last lake commit processed, per rule set.

A watermark is keyed by the rule set's content digest, so changing the rules starts a new
watermark (a new rule set has seen nothing yet) instead of silently skipping history. It counts
commits, not event times: a late-arriving event lands in a new commit and is processed by the
next run, whatever its timestamp.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from auditlake.lake.commits import fsync_dir, write_durably
from auditlake.lake.paths import LakePaths
from auditlake.lake.write_refused import refused_as

NOT_MOVED = (
    "the run's alerts are stored but its watermark did not move; the next run detects the same "
    "events again and stores no alert twice"
)


def ruleset_digest(
    files: Iterable[Path],
    placeholders: Mapping[str, Sequence[str]] | None = None,
    *,
    min_level: str | None = None,
) -> str:
    """A digest of the rule files' names and bytes, of the placeholder values and of the level
    the run alerts from (`rule_levels`; without one, the digest of earlier releases)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(placeholders or {}, sort_keys=True).encode())
    if min_level is not None:
        digest.update(b"\0min-level\0" + min_level.encode())
    return digest.hexdigest()[:24]


def _path(lake: LakePaths, digest: str) -> Path:
    return lake.state / "detect" / f"{digest}.json"


def read_watermark(lake: LakePaths, digest: str) -> int:
    """The last commit sequence number processed for this rule set (0: none)."""
    path = _path(lake, digest)
    if not path.is_file():
        return 0
    return int(json.loads(path.read_text(encoding="utf-8"))["through_seq"])


def write_watermark(lake: LakePaths, digest: str, through_seq: int) -> None:
    """Record progress durably: written aside, fsynced, renamed over the old one."""
    path = _path(lake, digest)
    body = {"through_seq": through_seq, "updated_at": datetime.now(UTC).isoformat()}
    temporary = path.with_suffix(".tmp")
    with refused_as(path, outcome=NOT_MOVED):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_durably(temporary, json.dumps(body).encode())
        os.replace(temporary, path)
        fsync_dir(path.parent)
