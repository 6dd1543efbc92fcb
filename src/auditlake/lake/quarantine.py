"""The quarantine table: records that could not become events, kept verbatim with the reason.

Nothing an input contains is ever dropped: a record that fails to frame, decode or normalize is
stored here byte for byte, with where it came from and why, and the ingest summary counts it.
Identity is a hash of (input name, location, bytes), so re-ingesting the same input adds nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from auditlake.schema import UTC_MICROS

QUARANTINE_SCHEMA = pa.schema([
    pa.field("record_hash", pa.binary(32)),
    pa.field("source", pa.string()),
    pa.field("input", pa.string()),
    pa.field("location", pa.string()),
    pa.field("reason", pa.string()),
    pa.field("raw", pa.large_binary()),
    pa.field("quarantined_at", UTC_MICROS),
])


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One rejected record."""

    source: str
    input: str
    location: str
    reason: str
    raw: bytes

    @property
    def record_hash(self) -> bytes:
        digest = hashlib.sha256()
        for part in (self.input.encode(), b"\0", self.location.encode(), b"\0", self.raw):
            digest.update(part)
        return digest.digest()


def quarantine_table(entries: Sequence[QuarantineEntry], at: datetime) -> pa.Table:
    """Arrow table of `entries`, all stamped with the commit time `at`."""
    return pa.table(
        {
            "record_hash": [e.record_hash for e in entries],
            "source": [e.source for e in entries],
            "input": [e.input for e in entries],
            "location": [e.location for e in entries],
            "reason": [e.reason for e in entries],
            "raw": [e.raw for e in entries],
            "quarantined_at": [at] * len(entries),
        },
        schema=QUARANTINE_SCHEMA,
    )


def record_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A quarantined record (a row of the table) as plain JSON types, its bytes without loss.

    `raw` is the record as text when its bytes are UTF-8, and `raw_base64` (base64) otherwise;
    the other one is null. Decoding with replacement would print the byte 0xff and the four
    characters `\\xff` alike, and the record is kept to be looked at exactly as it came.
    """
    body = {k: v for k, v in row.items() if k not in ("record_hash", "raw")}
    raw: bytes = row["raw"]
    try:
        body["raw"], body["raw_base64"] = raw.decode("utf-8"), None
    except UnicodeDecodeError:
        body["raw"], body["raw_base64"] = None, base64.b64encode(raw).decode("ascii")
    return body
