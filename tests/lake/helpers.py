"""Building small event tables for lake tests."""

from __future__ import annotations

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
