"""Time for the synthetic organisation: instants as epoch microseconds, and how busy people are.

Instants travel through the generator as plain `int` microseconds since the epoch (UTC): cheap
to sort, add and compare. They become text only when a record is rendered, through a `Stamps`
object that caches the current day's date prefix, which is several times faster than
`datetime.strftime` on the hot path.

The daily shape of human work (`human_weight`) is one table of 24 hourly weights with the lunch
dip at 12:00 local time, a slow morning ramp and a long evening tail; weekends keep a small
fraction of the weekday level.

>>> us = to_us(datetime(2026, 3, 2, 9, 5, 7, 123456, tzinfo=UTC))
>>> s = Stamps()
>>> s.iso(us, 3), s.iso(us, 0), s.iso(us, 6), s.space(us, 3)
('2026-03-02T09:05:07.123Z', '2026-03-02T09:05:07Z', '2026-03-02T09:05:07.123456Z', '2026-03-02 09:05:07.123')
>>> human_weight(12, 0) < human_weight(10, 0), human_weight(10, 5) < human_weight(10, 0)
(True, True)
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

US = 1_000_000
HOUR_US = 3600 * US
DAY_US = 86_400 * US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)

HOURLY_WEIGHTS: tuple[float, ...] = (
    0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.18,   # 00-07: night, early risers
    0.55, 0.95, 1.00, 0.95, 0.45, 0.80, 0.95, 1.00,   # 08-15: ramp up, lunch dip at 12
    0.90, 0.70, 0.35, 0.20, 0.16, 0.12, 0.07, 0.04,   # 16-23: wind down, evening tail
)
"""Relative human activity by local hour on a working day (peak = 1)."""

WEEKEND_FACTOR = 0.07
"""Saturday and Sunday activity as a fraction of a weekday's, hour for hour."""


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def day_start_us(day: date) -> int:
    """Midnight UTC of `day`, in epoch microseconds."""
    return (day - EPOCH_DATE).days * DAY_US


def from_us(us: int) -> datetime:
    """The aware UTC datetime of epoch microseconds."""
    return EPOCH + timedelta(microseconds=us)


def human_weight(local_hour: float, weekday: int) -> float:
    """How busy a person is at `local_hour` (0-24) on `weekday` (Monday = 0), peak 1."""
    weight = HOURLY_WEIGHTS[int(local_hour) % 24]
    return weight * WEEKEND_FACTOR if weekday >= 5 else weight


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw; normal approximation above 30, which is plenty for event counts."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


class Stamps:
    """Renders epoch microseconds as vendor timestamp text, caching the current minute's prefix.

    Records arrive in time order, so the `YYYY-MM-DDTHH:MM:` prefix changes about once a minute
    and each call only formats seconds and fractions. A cache its caller owns (one per
    generated source-day), not module state.
    """

    __slots__ = ("_minute", "_space", "_t")

    def __init__(self) -> None:
        self._minute = -1
        self._t = ""
        self._space = ""

    def _prefixes(self, minute: int) -> None:
        moment = EPOCH + timedelta(minutes=minute)
        self._minute = minute
        self._t = moment.strftime("%Y-%m-%dT%H:%M:")
        self._space = moment.strftime("%Y-%m-%d %H:%M:")

    def iso(self, us: int, digits: int = 3, sep: str = "T", zone: str = "Z") -> str:
        """RFC 3339 text with 0, 3, 6 or 9 fractional digits (`2026-03-02T09:05:07.123Z`)."""
        minute, rest = divmod(us, 60 * US)
        if minute != self._minute:
            self._prefixes(minute)
        prefix = self._t if sep == "T" else self._space
        second, micro = divmod(rest, US)
        if digits == 6:
            return f"{prefix}{second:02d}.{micro:06d}{zone}"
        if digits == 3:
            return f"{prefix}{second:02d}.{micro // 1000:03d}{zone}"
        if digits == 0:
            return f"{prefix}{second:02d}{zone}"
        return f"{prefix}{second:02d}.{micro:06d}000{zone}"

    def space(self, us: int, digits: int = 3) -> str:
        """`YYYY-MM-DD HH:MM:SS.fff` without a zone, as Sysmon's `UtcTime` writes it."""
        return self.iso(us, digits, sep=" ", zone="")
