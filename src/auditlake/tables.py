"""Lookup tables that refuse a repeated key instead of letting the last row silently win.

Tables of rows (columns, event kinds, sources, scenarios) grow by hand, and a dict literal keeps
only the last of two rows with the same key, with nothing to say the first is dead.

>>> unique_table([("a", 1), ("b", 2)], what="letter")
{'a': 1, 'b': 2}
>>> unique_table([("a", 1), ("a", 2)], what="letter")
Traceback (most recent call last):
...
ValueError: letter 'a' is listed twice
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def unique_table(rows: Iterable[tuple[K, V]], *, what: str) -> dict[K, V]:
    """A dict of `rows` in their order; `ValueError` naming `what` for a repeated key."""
    table: dict[K, V] = {}
    for key, value in rows:
        if key in table:
            raise ValueError(f"{what} {key!r} is listed twice")
        table[key] = value
    return table
