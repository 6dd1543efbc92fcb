"""Building small event tables for lake tests, and refusing writes as a full disk does."""

from __future__ import annotations

import resource
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from auditlake.sources.cloudtrail import SPEC
from auditlake.sources.records import complete_row
from auditlake.sources.table import rows_to_table


def events(*specs: tuple[str, str], **native: Any) -> pa.Table:
    """One event per (uid, ISO time) pair, each with the given native columns."""
    rows = []
    for uid, when in specs:
        row: dict[str, Any] = {"event_uid": uid, "time": datetime.fromisoformat(when).replace(tzinfo=UTC)}
        row.update(native)
        rows.append(complete_row(row, f'{{"id": "{uid}"}}'.encode(), SPEC))
    return rows_to_table(rows)


@contextmanager
def file_size_limit(size: int) -> Iterator[None]:
    """Writes beyond `size` bytes of any file fail with the kernel's own error (EFBIG), as
    writes to a full disk fail with theirs: a real refusal, through every library, rather than
    a patched function. Python ignores the SIGXFSZ signal that comes with it."""
    assert signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
