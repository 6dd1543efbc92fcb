"""Timestamps as sources write them, turned into aware UTC datetimes.

Audit sources disagree on time: RFC 3339 with `Z` or an offset and up to nine fractional digits
(Kubernetes, GCP), `YYYY-MM-DD HH:MM:SS` without a zone (exports), epoch seconds (auditd) or
milliseconds (GitHub). A value that cannot be read raises `RecordError`, so the record is
quarantined instead of landing at a made-up time.

>>> parse_time("2024-03-01T10:00:00.123456789Z").isoformat()
'2024-03-01T10:00:00.123456+00:00'
>>> parse_time(1709287200000).isoformat()
'2024-03-01T10:00:00+00:00'
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from auditlake.errors import RecordError

_FRACTION = re.compile(r"(\.\d{6})\d+")
_EPOCH_MS_FLOOR = 10**11  # numbers above this are milliseconds (year 5138 in seconds)
_EPOCH_US_FLOOR = 10**14
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def parse_time(value: Any, *, what: str = "timestamp") -> datetime:
    """An aware UTC datetime from a string or epoch number; `RecordError` if unreadable."""
    if value is None or value == "":
        raise RecordError(f"missing {what}")
    if isinstance(value, bool):
        raise RecordError(f"{what} is a boolean, not a time")
    if isinstance(value, int | float):
        moment = _from_epoch(value, what)
    elif isinstance(value, str):
        moment = _from_text(value, what)
    else:
        raise RecordError(f"{what} has type {type(value).__name__}, not a time")
    if not EARLIEST <= moment < LATEST:
        raise RecordError(f"{what} {value!r} is outside 1970..2200")
    return moment


def _from_epoch(value: float, what: str) -> datetime:
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        raise RecordError(f"{what} {value!r} is out of range") from None
    if not finite:
        raise RecordError(f"{what} {value!r} is not a finite number")
    magnitude = abs(value)
    if magnitude >= _EPOCH_US_FLOOR:
        seconds = value / 1_000_000
    elif magnitude >= _EPOCH_MS_FLOOR:
        seconds = value / 1000
    else:
        seconds = value
    try:
        return EARLIEST + timedelta(seconds=seconds)
    except OverflowError as exc:
        raise RecordError(f"{what} {value!r} is out of range") from exc


def _from_text(value: str, what: str) -> datetime:
    text = value.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(float(text), what)
    text = _FRACTION.sub(r"\1", text)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise RecordError(f"unparsable {what} {value!r}") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 or 9999 shifted past the calendar's ends
        raise RecordError(f"{what} {value!r} is out of range") from exc


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, the lake's storage unit for times."""
    delta = moment - EARLIEST
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
