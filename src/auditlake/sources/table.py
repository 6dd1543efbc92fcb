"""Rows to an Arrow table with the canonical columns first and native columns after.

Canonical columns always exist (null where a source has nothing to say) with the types of
`auditlake.schema`; native columns are the union of the rows' other keys, as strings unless the
source declares a type. A value of the wrong type in a row is a parser bug, reported with the
column name rather than a bare Arrow error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa

from auditlake.errors import SourceParseError
from auditlake.schema import CANONICAL, NATIVE_TYPE, STORED_COLUMNS
from auditlake.sources.base import Row


def rows_to_table(rows: Sequence[Row], native_types: Mapping[str, pa.DataType] | None = None) -> pa.Table:
    """One Arrow table for `rows`: stored canonical columns, then sorted native columns."""
    native_types = native_types or {}
    values = _transpose(rows)
    empty: list[object] = [None] * len(rows)
    arrays: list[pa.Array] = []
    names: list[str] = []
    for name in STORED_COLUMNS:
        arrays.append(_column(name, values.get(name, empty), CANONICAL[name].type))
        names.append(name)
    for name in sorted(n for n in values if n not in CANONICAL):
        arrays.append(_column(name, values[name], native_types.get(name, NATIVE_TYPE)))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _transpose(rows: Sequence[Row]) -> dict[str, list[object]]:
    """Rows to columns in one pass over the values present (rows are sparse: Windows events
    of different kinds share few native fields).
    """
    count = len(rows)
    columns: dict[str, list[object]] = {}
    for index, row in enumerate(rows):
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * count
            column[index] = value
    return columns


def _column(name: str, values: list[object], dtype: pa.DataType) -> pa.Array:
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        # Arrow reads a string as a sequence of characters: "admin" would become [a, d, m, i, n].
        text = next((v for v in values if isinstance(v, str | bytes)), None)
        if text is not None:
            raise _wrong_type(name, dtype, text)
    try:
        return pa.array(values, type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        bad = next((v for v in values if v is not None and not _fits(v, dtype)), None)
        raise _wrong_type(name, dtype, bad) from exc


def _wrong_type(name: str, dtype: pa.DataType, bad: object) -> SourceParseError:
    return SourceParseError(
        f"column {name!r} expects {dtype}, got {type(bad).__name__} {bad!r:.80}",
        hint="the source's normalize() must return values of the column's type",
    )


def _fits(value: object, dtype: pa.DataType) -> bool:
    try:
        pa.array([value], type=dtype)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return False
    return True
