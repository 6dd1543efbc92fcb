"""Reading fields of the raw JSON record by path: JSONPaths from dotted names, and the
members of arrays (Okta's `target[]`) for fields Sigma names without an index."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from auditlake.detection.code import Code, binop, pl_

RAW_COLUMN = "raw"


ARRAY_MEMBERS = 16
"""Members of a raw-record array a leaf reads (`target.0.x` .. `target.15.x`): Okta targets
and GCP authorization checks hold a handful; members beyond this are not seen."""


def array_prefix(field: str, arrays: frozenset[str]) -> str | None:
    """The array path `field` reads a member field of, unless it names a member by index.

    >>> array_prefix("target.displayName", frozenset({"target"}))
    'target'
    >>> array_prefix("target.0.displayName", frozenset({"target"})) is None
    True
    """
    for array in arrays:
        rest = field[len(array) + 1 :] if field.startswith(array + ".") else ""
        if rest and not rest.split(".", 1)[0].isdigit():
            return array
    return None


def json_text_column(
    field: str, schema: Mapping[str, pl.DataType], arrays: frozenset[str], objects: frozenset[str] = frozenset()
) -> str | None:
    """The JSON text column a field the schema lacks is read from by path: the column of the
    array it names a member field of, or of the JSON object it lies in (`objects`: columns
    holding a field of the record as JSON text), when the lake has one, else `raw`; None
    without either. An object's own text holds the same values as the record, in a fraction
    of the text."""
    array = array_prefix(field, arrays)
    if array is not None and schema.get(array) == pl.String:
        return array
    head = object_prefix(array or field, objects)
    if head is not None and schema.get(head) == pl.String:
        return head
    return RAW_COLUMN if schema.get(RAW_COLUMN) == pl.String else None


def object_prefix(field: str, objects: frozenset[str]) -> str | None:
    """The object column `field` lies inside (`responseElements.ConsoleLogin`), if any."""
    return next((o for o in sorted(objects) if field.startswith(o + ".")), None)


def raw_members(array: str, rest: str, *, column: str = RAW_COLUMN) -> Code:
    """The values of `rest` in each member of the raw record's `array` (or in `array` itself
    when a record holds one object there), as a list; null when none has a value, so that a
    null test and `exists` read the field as absent. `column` is the JSON text read: the whole
    record, the array's own column, or that of an object the array lies in (the same values,
    in a fraction of the text)."""
    inner = array if column == RAW_COLUMN else array[len(column) + 1 :]
    prefix = f"{inner}." if inner else ""
    paths = [json_path(f"{prefix}{i}.{rest}") for i in range(ARRAY_MEMBERS)] + [json_path(f"{prefix}{rest}")]
    text = pl_.col(column)
    values = pl_.concat_list(*(text.str.json_path_match(p) for p in paths)).list.drop_nulls()
    return pl_.when(binop(">", values.list.len(), 0)).then(values)


def json_path(field: str) -> str:
    """A JSONPath for a dotted field name: a numeric part indexes an array (`target.0.id` →
    `$.target[0].id`), keys with other characters use bracket notation.

    >>> json_path("target.0.alternateId")
    '$.target[0].alternateId'
    """
    parts = field.split(".")
    out = "$"
    for part in parts:
        if part.isdigit():
            out += f"[{int(part)}]"
        elif part.replace("_", "").isalnum():
            out += "." + part
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out
