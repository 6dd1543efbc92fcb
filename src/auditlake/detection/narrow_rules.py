"""Rules run one by one on their own candidate rows: at once, or later for several batches.

Each rule with few candidates in a batch is one Polars call on those rows. Such a call costs a
plan and, for every literal list of the rule, an automaton built afresh (0.6-0.8 ms), whatever
the rows: of 2,800 Windows rules, about 330 have at most 300 candidate rows in a batch of
285k events, and those calls cost 0.2-0.3 s a batch for some 4,000 rows. `DeferredRules` keeps
such rules' candidate rows, with the columns they read and the columns the caller keeps, from
batch to batch, and runs each rule once on all of them. A bound rule is exact, so on rows
gathered from several batches it matches exactly the rows it matches batch by batch. Rules
with more rows gain nothing: their rows' work outweighs the call's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl

from auditlake.detection.code import Code
from auditlake.detection.distinct_values import merge_equal_rows
from auditlake.detection.frame_size import retained_bytes
from auditlake.detection.lower import RUNTIME_ENV
from auditlake.detection.lowered_once import PREFIX, lowered_once, lowerings
from auditlake.detection.prefilter import ROW

RANK = "__rank"
"""A matched rule's position in the rules evaluated, to order matches as `evaluate` does."""


@dataclass
class BoundRule:
    """A rule planned on a schema."""

    expression: pl.Expr
    reads: list[str]
    """The columns it reads."""
    lowering: Callable[[], Code] | None = None
    """Makes the tree `expression` was made from again, for `shared`. The tree itself is not
    kept: holding those of thousands of rules slowed the binding of the others by a quarter."""
    _shared: tuple[pl.Expr | None, tuple[str, ...]] | None = field(default=None, init=False, repr=False)

    def shared(self) -> tuple[pl.Expr | None, tuple[str, ...]]:
        """The same test reading each column it lowercases more than once from a lowercased
        copy (`lowered_once`), and those columns; (None, ()) when it lowercases none twice.
        Made on first use: only rules run on many rows want it."""
        if self._shared is None:
            self._shared = (None, ())
            if self.lowering is not None:
                shared, columns = lowered_once(self.lowering())
                if columns:
                    self._shared = (shared.to_expr(RUNTIME_ENV), columns)
        return self._shared


Bound = Callable[[int], BoundRule]
"""Rule `n` (its rank), planned."""

LOWER_ONCE_ROWS = 100
"""Rows from which a rule's repeated lowercasing is done once (`BoundRule.shared`). Over a
Windows batch's 92 such rules: 349 -> 236 ms single-threaded; below 100 rows the extra step
costs more than it spares (214 -> 248 ms for the 308 others)."""

DEFER_ROWS = 300
"""Candidate rows in a batch up to which a rule's run waits for later batches. Over the four
batches of a million Windows events, the narrow rules took 2.7-3.3 s with none held back,
2.4-2.9 s holding back rules of up to 100, 300 or 500 rows, and 3.0-3.5 s up to 5,000."""
MAX_DEFERRED_BYTES = 64 * 2**20
"""Memory held for later runs beyond which the held rows are run at once, counted as the
buffers they keep alive (`retained_bytes`)."""


def narrow_hits(bound: Bound, frame: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """(`ROW`, `RANK`) wherever rule `rank` matches one of its rows: `pairs` has one row per
    rule, its rank in `rule` and its sorted rows in `ROW`. `frame` is numbered by `ROW` from
    0, so a row's number is its position."""

    def run(index: int, rows: pl.Series) -> pl.Series:
        # Each Polars call costs a plan (about 0.3 ms), more than a few rows' work: the rows
        # and columns are taken in one call and the hits read off the filtered frame.
        rule = bound(index)
        candidates = merge_equal_rows(frame[rows, [ROW, *rule.reads]], rule.reads, ROW)
        shared, lowered = rule.shared() if candidates.height >= LOWER_ONCE_ROWS else (None, ())
        if shared is not None and not any(PREFIX + column in candidates.columns for column in lowered):
            hits = candidates.with_columns(lowerings(lowered)).filter(shared).get_column(ROW)
        else:
            hits = candidates.filter(rule.expression).get_column(ROW)
        return hits.explode() if isinstance(hits.dtype, pl.List) else hits

    if pairs.is_empty():
        return pl.DataFrame(schema={ROW: pl.UInt32, RANK: pl.UInt32})
    # Polars releases the GIL while it filters, so rules run side by side on every core.
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        hits = list(pool.map(run, pairs["rule"], pairs[ROW]))
    # The rows of every rule at once: a frame per rule cost more than its filter.
    counts = pl.Series([h.len() for h in hits], dtype=pl.UInt32)
    ranks = pairs.select(pl.col("rule").cast(pl.UInt32).repeat_by(counts).explode().alias(RANK))
    return ranks.select(pl.concat(hits).cast(pl.UInt32).alias(ROW), RANK)


def matched_rows(
    output: pl.DataFrame, found: Sequence[pl.DataFrame], rule_ids: Sequence[str], id_column: str
) -> pl.DataFrame:
    """The rows of `output` (numbered by `ROW`) that `found` (`ROW`, `RANK`) names, one per
    match, in row order and then rule order, with the rule's id in `id_column`."""
    if not any(part.height for part in found):
        return output.head(0).drop(ROW).with_columns(pl.lit(None, pl.String).alias(id_column))
    # One 64-bit key sorts in two thirds of the time of the two columns it packs.
    matches = pl.concat(found).sort(pl.col(ROW).cast(pl.UInt64) * (1 << 32) + pl.col(RANK))
    ids = pl.Series(id_column, list(rule_ids), pl.String).gather(matches.get_column(RANK))
    return output[matches.get_column(ROW)].drop(ROW).with_columns(ids)


@dataclass
class DeferredRules:
    """Narrow rules' candidate rows held from batch to batch of one source, run at `flush`.

    `add` takes a batch's deferred rules and their rows; held rows are run, and their matches
    returned, when the rules or schema change (`owner`), when the kept columns change, or
    when they pass `max_bytes`. The caller runs `flush` after its last batch.
    """

    max_bytes: int = MAX_DEFERRED_BYTES
    _owner: object | None = field(default=None, init=False, repr=False)
    _bound: Bound | None = field(default=None, init=False, repr=False)
    _rule_ids: Sequence[str] = field(default=(), init=False, repr=False)
    _id_column: str = field(default="", init=False, repr=False)
    _keep: list[str] = field(default_factory=list, init=False)
    _frames: list[pl.DataFrame] = field(default_factory=list, init=False, repr=False)
    _pairs: list[pl.DataFrame] = field(default_factory=list, init=False, repr=False)
    _rows: int = field(default=0, init=False)
    _bytes: int = field(default=0, init=False)

    @property
    def held_rows(self) -> int:
        return self._rows

    def add(
        self,
        frame: pl.DataFrame,
        pairs: pl.DataFrame,
        *,
        owner: object,
        bound: Bound,
        rule_ids: Sequence[str],
        id_column: str,
        keep: list[str],
    ) -> pl.DataFrame | None:
        """Hold `pairs` (rule rank, sorted rows of `frame` by `ROW`) of the rules `owner`
        planned (`bound` by rank, named by `rule_ids`); `keep` names the columns of `frame`
        the matches keep. Returns the matches of rows held before, when they had to be run
        now (None otherwise)."""
        flushed = None
        if self._owner is not owner or self._keep != keep:
            flushed = self.flush()
            self._owner, self._bound, self._rule_ids, self._id_column, self._keep = (
                owner, bound, rule_ids, id_column, keep,
            )
        if pairs.is_empty():
            return flushed
        rows = pairs.get_column(ROW).explode().unique().sort()
        reads = {column for index in pairs["rule"].to_list() for column in bound(index).reads}
        columns = [*keep, *sorted(reads - set(keep) - {ROW})]
        renumbered = pl.int_range(self._rows, self._rows + rows.len(), dtype=pl.UInt32).alias(ROW)
        held = frame[rows, columns].with_columns(renumbered).select(ROW, *columns)
        exploded = pairs.select("rule", pl.col(ROW)).explode(ROW)
        at = rows.search_sorted(exploded.get_column(ROW)).cast(pl.UInt32) + self._rows
        self._pairs.append(exploded.with_columns(at.alias(ROW)))
        self._frames.append(held)
        self._rows += held.height
        self._bytes += retained_bytes(held)
        if self._bytes <= self.max_bytes:
            return flushed
        now = self.flush()
        return now if flushed is None or now is None else pl.concat([flushed, now], how="diagonal_relaxed")

    def flush(self) -> pl.DataFrame | None:
        """Run every rule on all its held rows; their matches with the kept columns and the
        rule's id (None when nothing was held)."""
        if not self._frames or self._bound is None:
            self._frames, self._pairs, self._rows, self._bytes = [], [], 0, 0
            return None
        frame = pl.concat(self._frames, how="diagonal_relaxed")
        pairs = pl.concat(self._pairs).group_by("rule").agg(pl.col(ROW).sort()).sort("rule")
        self._frames, self._pairs, self._rows, self._bytes = [], [], 0, 0
        found = narrow_hits(self._bound, frame, pairs)
        return matched_rows(frame.select(ROW, *self._keep), [found], self._rule_ids, self._id_column)
