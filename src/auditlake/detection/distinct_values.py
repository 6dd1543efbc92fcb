"""Work once per distinct value: audit events repeat the same programs, channels, users and
command lines, so searching or testing each distinct value (or combination of values) once and
handing the answer to every row that holds it costs a hash per row instead of a pass over its
text. Whether a frame's values repeat enough to pay for the grouping is judged on a sample.

>>> frame = pl.DataFrame({"row": [0, 1, 2, 3], "image": ["a.exe", "b.exe", "a.exe", "a.exe"]})
>>> merged = merge_equal_rows(frame, ["image"], "row", min_rows=1)
>>> sorted(split_merged_rows(merged.filter(pl.col("image") == "a.exe"), "row")["row"].to_list())
[0, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

SAMPLE_ROWS = 4096
"""Rows sampled, evenly spread, to tell whether values repeat."""
REPEAT_SHARE = 0.5
"""Distinct values per sampled row at or below which rows are worth merging: grouping a row
costs a hash of its values, while a search or a rule costs a pass over its text."""
MIN_ROWS = 2 * SAMPLE_ROWS
"""Frames smaller than this are worked row by row: the sample would be most of the frame."""


def evenly_spread(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
    """About `rows` rows of `frame`, evenly spread (all of them when there are fewer)."""
    return frame.gather_every(max(1, frame.height // rows))


def values_repeat(values: pl.Series | pl.DataFrame, *, min_rows: int | None = None) -> bool:
    """Whether a column (or a combination of columns) holds few enough distinct values."""
    frame = values.to_frame() if isinstance(values, pl.Series) else values
    if _too_small(frame, min_rows):
        return False
    sample = evenly_spread(frame, SAMPLE_ROWS)
    return sample.n_unique() <= REPEAT_SHARE * sample.height


def merge_equal_rows(
    frame: pl.DataFrame, columns: Sequence[str], row: str, *, min_rows: int | None = None
) -> pl.DataFrame:
    """`frame` with rows equal in `columns` merged into one, their `row` ids in a list, when
    the values repeat and every column can be grouped; otherwise `frame` unchanged. Anything
    computed from `columns` alone holds for a merged row exactly when it holds for each of
    the rows merged into it."""
    columns = [c for c in columns if c != row]
    # Most callers hand over a rule's few candidate rows: answer those before any Polars call.
    if _too_small(frame, min_rows):
        return frame
    if not columns or not all(_groupable(frame.schema[c]) for c in columns):
        return frame
    if not values_repeat(frame.select(columns), min_rows=min_rows):
        return frame
    return frame.group_by(columns).agg(pl.col(row))


def split_merged_rows(frame: pl.DataFrame, row: str) -> pl.DataFrame:
    """One row per `row` id again (a frame that was not merged is returned as it is)."""
    return frame.explode(row) if isinstance(frame.schema[row], pl.List) else frame


def _too_small(frame: pl.DataFrame, min_rows: int | None) -> bool:
    """Whether `frame` has too few rows to be worth sampling for repeats."""
    return frame.height < max(MIN_ROWS if min_rows is None else min_rows, 1)


def _groupable(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype.is_numeric() or dtype in (pl.Boolean, pl.Binary) or dtype.is_temporal()
