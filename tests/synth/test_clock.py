"""Timestamps text and the human activity curve."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from auditlake.synth.clock import HOURLY_WEIGHTS, Stamps, from_us, human_weight, poisson, to_us


def test_stamps_match_datetime_formatting_across_minutes_and_days() -> None:
    stamps = Stamps()
    rng = random.Random(0)
    base = to_us(datetime(2026, 3, 2, 23, 58, tzinfo=UTC))
    for us in sorted(base + rng.randrange(0, 4 * 60 * 1_000_000) for _ in range(500)):
        moment = from_us(us)
        assert stamps.iso(us, 6) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert stamps.iso(us, 0) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert stamps.space(us, 3) == moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        assert stamps.iso(us, 9).endswith("000Z")


def test_working_day_shape() -> None:
    assert len(HOURLY_WEIGHTS) == 24 and max(HOURLY_WEIGHTS) == 1.0
    assert human_weight(3, 1) < 0.05 < human_weight(10, 1)
    assert human_weight(12, 1) < human_weight(11, 1)
    assert human_weight(10, 6) < 0.1 * human_weight(10, 2)


def test_poisson_mean() -> None:
    rng = random.Random(1)
    for lam in (0.3, 4.0, 250.0):
        mean = sum(poisson(rng, lam) for _ in range(4000)) / 4000
        assert abs(mean - lam) < 0.1 * lam + 0.05
    assert poisson(rng, 0) == 0
