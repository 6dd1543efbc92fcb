"""Frames in, rows or quarantine entries out: the per-record step shared by every source.

Each frame is normalized by its source; the row is completed with what every event carries
(`raw`, `event_hash`, a fallback `event_uid` from the record's content (`record_identity`),
`raw_format`, `parser_version`). A frame that fails becomes a `Rejected` with the reason, never
an exception that stops the input and never a silent drop.

>>> from auditlake.sources import cloudtrail
>>> good = Frame(b'{"eventSource":"s3.amazonaws.com","eventName":"GetObject",'
...              b'"eventTime":"2024-01-01T00:00:00Z","eventID":"e1"}', "f:1")
>>> bad = Frame(b'{"eventName": "GetObject"', "f:2")
>>> [type(r).__name__ for r in normalize_frames(cloudtrail.SPEC, [good, bad])]
['dict', 'Rejected']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from auditlake.errors import RecordError, RecordSkipped
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.record_identity import fallback_uid

MAX_RECORD_BYTES = 64 << 20
"""A record larger than this is quarantined: it is almost surely a framing accident."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not become a row, kept verbatim with the reason."""

    raw: bytes
    location: str
    reason: str
    source: str
    input: str | None = None
    """The input it came from, when its chunk joined several (else the chunk's own input)."""


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record the source deliberately leaves out, with why (counted, not quarantined)."""

    location: str
    reason: str


def normalize_frames(
    spec: SourceSpec, frames: Iterable[Frame]
) -> Iterator[Row | Rejected | Skipped]:
    """Normalize every frame with `spec`; yield complete rows and rejections in input order."""
    for frame in frames:
        if frame.error is not None:
            yield Rejected(frame.raw, frame.location, frame.error, spec.name)
            continue
        if len(frame.raw) > MAX_RECORD_BYTES:
            reason = f"record of {len(frame.raw)} bytes exceeds {MAX_RECORD_BYTES}"
            yield Rejected(frame.raw, frame.location, reason, spec.name)
            continue
        try:
            row = spec.normalize(frame)
            if frame.tenant is not None and row.get("source_tenant") is None:
                row["source_tenant"] = frame.tenant
            yield complete_row(row, frame.raw, spec)
        except RecordSkipped as exc:
            yield Skipped(frame.location, exc.message)
        except RecordError as exc:
            yield Rejected(frame.raw, frame.location, exc.message, spec.name)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError,
                RecursionError) as exc:  # RecursionError: a record nested too deep to write back
            reason = f"{spec.name} parser failed: {type(exc).__name__}: {exc}"
            yield Rejected(frame.raw, frame.location, reason, spec.name)


def complete_row(row: Row, raw: bytes, spec: SourceSpec) -> Row:
    """Add the columns every event has; the raw text must be valid UTF-8.

    A row its source gave no `event_uid` is identified by the record's content, whatever its
    writing (`record_identity.fallback_uid`); `event_hash` is the digest of the bytes as read.
    """
    if row.get("time") is None:
        raise RecordError("missing timestamp")
    try:
        row["raw"] = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"invalid UTF-8 at byte {exc.start}") from exc
    row["event_hash"] = hashlib.sha256(raw).digest()
    if not row.get("event_uid"):
        row["event_uid"] = fallback_uid(raw, spec.raw_format)
    row.setdefault("raw_format", spec.raw_format)
    row["parser_version"] = f"{spec.name}/{spec.parser_version}"
    return row
