"""A rule's expression with each column it lowercases more than once lowercased once.

Sigma matches text without regard to case, so a rule's expression lowercases a column for each
leaf that reads it: "Potential Dridex Activity" lowercases `CommandLine` seven times. Polars
does not share those among the terms of a filter, so a rule run on its own candidate rows
(`narrow_rules`) pays each again: about a third of its time on a few thousand rows. Here each
such `pl.col(name).str.to_lowercase()` is read instead from a column computed once beside the
rows (`lowerings`): the same values, so the same matches.

>>> from auditlake.detection.code import pl_
>>> text = pl_.col("CommandLine").str.to_lowercase()
>>> code = text.str.contains("a") & text.str.contains("b") & pl_.col("Image").str.to_lowercase().str.ends_with("c")
>>> shared, columns = lowered_once(code)
>>> columns
('CommandLine',)
>>> shared.to_source()
'((pl.col("\\\\x00lower:CommandLine").str.contains("a") & pl.col("\\\\x00lower:CommandLine").str.contains("b")) & pl.col("Image").str.to_lowercase().str.ends_with("c"))'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import polars as pl

from auditlake.detection.code import (
    Code,
    column_name,
    method_call,
    namespace_of,
    pl_,
    rewrite,
    walk,
)

PREFIX = "\x00lower:"
"""Starts the name of a lowercased copy. A JSON key could start so (NUL escaped in the key):
a caller whose rows hold such a column runs the rule's own expression instead."""


def lowered_once(code: Code) -> tuple[Code, tuple[str, ...]]:
    """`code` reading each column it lowercases at least twice from its lowercased copy
    (`PREFIX` + name), and those columns, sorted; `code` itself and () when there are none."""
    (shared,), columns = lowered_once_all([code])
    return shared, columns


def lowered_once_all(codes: Sequence[Code]) -> tuple[list[Code], tuple[str, ...]]:
    """`lowered_once` for expressions evaluated side by side: a column counts as lowercased
    twice when it is so in all of them together."""
    counts = Counter(
        column for code in codes for node in walk(code) if (column := _lowercased_column(node)) is not None
    )
    repeated = {column for column, n in counts.items() if n > 1}
    if not repeated:
        return list(codes), ()

    def shared(node: Code) -> Code | None:
        column = _lowercased_column(node)
        return pl_.col(PREFIX + column) if column in repeated else None

    return [rewrite(code, shared) for code in codes], tuple(sorted(repeated))


def lowerings(columns: Iterable[str]) -> list[pl.Expr]:
    """The lowercased copies `lowered_once` reads, to add beside the rows it runs on."""
    return [pl.col(column).str.to_lowercase().alias(PREFIX + column) for column in columns]


def _lowercased_column(node: Code) -> str | None:
    """`x` of `pl.col("x").str.to_lowercase()`; else None."""
    call = method_call(node)
    if call is None or call[1] != "to_lowercase" or call[2]:
        return None
    receiver = namespace_of(call[0], "str")
    return None if receiver is None else column_name(receiver)
