"""Constant-time weighted choice."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from auditlake.synth.picker import SLOTS, Picker


def test_frequencies_follow_weights_and_rare_items_survive() -> None:
    pick = Picker([(70, "a"), (29.99, "b"), (0.01, "c")])
    assert len(pick.slots) == SLOTS and "c" in pick.slots
    rng = random.Random(2)
    counts = Counter(pick(rng) for _ in range(20_000))
    assert 0.67 < counts["a"] / 20_000 < 0.73


def test_empty_or_weightless_tables_are_refused() -> None:
    with pytest.raises(ValueError):
        Picker([(0, "a")])
