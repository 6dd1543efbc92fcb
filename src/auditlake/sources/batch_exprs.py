"""What the batch paths of several sources share: Python semantics of the per-record parsers
written as Polars expressions, the flags for the rows whose DuckDB text may differ from
simdjson's, and the table the rows end up in.

Each piece is exact only on the rows its docstring names; a batch path declines the others,
which the per-record path then judges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import simdjson

from auditlake.schema import CANONICAL, NATIVE_TYPE, STORED_COLUMNS
from auditlake.sources.fields import text as fields_text
from auditlake.sources.timeparse import EARLIEST, LATEST, to_micros

TIME_TEXT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,9})?Z?$"
)
"""The timestamp forms read here (`time_from_text`); `timeparse.parse_time` takes more."""

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"
"""What `ipaddress.ip_address` takes for an address without `:`: four ASCII decimal octets of
0..255 without leading zeros."""

FLOAT_TOKENS = (
    r"\.[0-9]+(?:[eE][+-]?[0-9]+)?[ \t\r\n]*[,\]}]",
    r"[0-9][eE][+-]?[0-9]+[ \t\r\n]*[,\]}]",
)
"""The end of a JSON float somewhere in a record, with a fraction or with only an exponent
(or, harmlessly, something like it inside a string): DuckDB spells floats its own way
(`json_paths`). Two searches beat one alternation."""
HEX_FLOAT_TOKENS = (
    FLOAT_TOKENS[0],
    r"[:,\[][ \t\r\n]*-?[0-9]+[eE][+-]?[0-9]+[ \t\r\n]*[,\]}]",
)
"""`FLOAT_TOKENS` for records whose strings are full of hex digits: a float with only an
exponent must stand where a value may (after `:`, `,` or `[`), so `...9E5,SHA256=...`, in
every Sysmon `Hashes`, is not taken for one. Twice as slow a search."""
CONTROL_ESCAPE = r"\\u00[01]"
"""An escaped control character somewhere in a record (or, harmlessly, something like it):
DuckDB writes `\\u001F` where simdjson writes `\\u001f` (`json_paths`)."""


def respelled(raw: pl.Expr, floats: Sequence[str] = FLOAT_TOKENS) -> pl.Expr:
    """Records whose objects' text DuckDB may spell unlike simdjson: a float (one of the
    `floats` patterns) or an escaped control character somewhere in them."""
    floaty = pl.any_horizontal(raw.str.contains(token) for token in floats)
    return floaty | raw.str.contains(CONTROL_ESCAPE)


def truthy(value: pl.Expr) -> pl.Expr:
    """Python truthiness of an optional text: neither null nor empty."""
    return value.is_not_null() & (value != "")


def nonempty(path: str) -> pl.Expr:
    """A text field as the per-record parsers read one (`fields.scalar_text`, a string
    checked to be one): None when absent or empty."""
    value = pl.col(path)
    return pl.when(value != "").then(value)


def first_truthy(*values: pl.Expr) -> pl.Expr:
    """Python's `a or b or c` over optional texts: the first truthy one, else the last."""
    out = values[-1]
    for value in reversed(values[:-1]):
        out = pl.when(truthy(value)).then(value).otherwise(out)
    return out


def time_from_text(text: pl.Expr) -> pl.Expr:
    """`timeparse.parse_time` of a text in one of the `TIME_TEXT` forms (fraction cut to
    microseconds, space for `T`, no `Z` read as UTC); null for any other text, and for a time
    `parse_time` refuses (an impossible date, outside 1970..2200)."""
    moment = (
        pl.when(text.str.contains(TIME_TEXT))
        .then(text)
        .str.replace("T", " ", literal=True)
        .str.strip_suffix("Z")
        .str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
        .dt.replace_time_zone("UTC")
    )
    return in_range(moment)


def in_range(moment: pl.Expr) -> pl.Expr:
    """The time if `timeparse.parse_time` takes it (1970..2200), else null."""
    micros = moment.dt.epoch("us")
    return pl.when((micros >= to_micros(EARLIEST)) & (micros < to_micros(LATEST))).then(moment)


def is_ip(addresses: pl.Series, taken: Callable[[str], bool]) -> pl.Series:
    """Whether `ipaddress.ip_address` takes each address (null stays false).

    Without a `:` only IPv4 is possible, matched by `IPV4`; an address with one is left to
    `taken` (the source's own test), once per distinct address: IPv6's forms (zones, embedded
    IPv4, `::`) are not worth a pattern that could drift from `ipaddress`.
    """
    colon = addresses.str.contains(":", literal=True).fill_null(False)
    distinct = addresses.filter(colon).unique().to_list()
    by_ipaddress = addresses.replace_strict(
        {a: taken(a) for a in distinct}, default=False, return_dtype=pl.Boolean
    )
    return by_ipaddress.zip_with(colon, addresses.str.contains(IPV4).fill_null(False))


def table(
    canonical: pl.DataFrame,
    natives: pl.DataFrame,
    base: Mapping[str, pa.Array],
    native_types: Mapping[str, pa.DataType] | None = None,
) -> pa.Table:
    """Columns typed and ordered as `rows_to_table` would make them from the same rows: every
    stored canonical column (from `canonical`, else `base`, else nulls), then the native
    columns some row has, sorted by name, typed by `native_types` (text by default)."""
    count = canonical.height
    present = sorted(n for n in natives.columns if natives[n].null_count() < count)
    if present:
        canonical = pl.concat([canonical, natives.select(present)], how="horizontal")
    arrow = canonical.to_arrow(compat_level=pl.CompatLevel.oldest())
    arrays = [
        base[name] if name in base
        else arrow[name] if name in arrow.column_names
        else pa.nulls(count, CANONICAL[name].type)
        for name in STORED_COLUMNS
    ]
    names = [*STORED_COLUMNS, *present]
    result = pa.Table.from_arrays([*arrays, *arrow.select(present).columns], names=names)
    typed = native_types or {}
    types = [CANONICAL[n].type if n in CANONICAL else typed.get(n, NATIVE_TYPE) for n in names]
    return result.cast(pa.schema(list(zip(names, types, strict=True))))


def per_distinct(values: pl.Series, function: Callable[[Any], Any], dtype: pl.DataType) -> pl.Series:
    """`function` of each value (the per-record parser's own code), called once per distinct
    value: exact by construction, and as cheap as the values repeat."""
    distinct = values.unique()
    results = pl.Series("result", [function(v) for v in distinct.to_list()], dtype=dtype)
    lookup = pl.DataFrame({"value": distinct, "result": results})
    joined = values.to_frame("value").join(lookup, on="value", how="left", nulls_equal=True, maintain_order="left")
    return joined.get_column("result").alias(values.name)


def simdjson_containers(work: pl.DataFrame, paths: Sequence[str], kind_prefix: str) -> pl.DataFrame:
    """The native objects and arrays of `work` as the per-record path writes them: where
    DuckDB's text holds a float or an escaped control character (`respelled`), simdjson's text
    of the same value. Parsing DuckDB's text gives the same value as parsing the record (the
    same numbers, characters, keys in the same order, repeated ones kept), so its simdjson text
    is the one `fields.text` makes, and only the value is parsed, not the record. Each path's
    JSON type is in the column `kind_prefix + path` (`json_paths.read_kinds`)."""
    redone = []
    for path in paths:
        column = pl.col(path)
        here = pl.col(kind_prefix + path).is_in(["OBJECT", "ARRAY"]) & respelled(column)
        if not work.select(here.any()).item():
            continue
        values = work.select(pl.when(here).then(column)).to_series()
        redone.append(per_distinct(values, _simdjson_text, pl.String()).fill_null(work[path]).alias(path))
    return work.with_columns(redone) if redone else work


def _simdjson_text(text: str | None) -> str | None:
    """`fields.text` of the JSON value `text` spells."""
    return None if text is None else fields_text(simdjson.Parser().parse(text.encode()))


def json_value(kind: str | None, text: str | None) -> Any:
    """A field's value as `fields.get` gives it, from its JSON type and its text as DuckDB
    reads it (`json_paths.read_kinds`, `read_paths`): a string as it is, anything else parsed
    back from its JSON text (arrays as Python lists), null or absent as None."""
    if kind is None or kind == "NULL" or text is None:
        return None
    if kind == "VARCHAR":
        return text
    value = simdjson.Parser().parse(text.encode())
    return value.as_list() if isinstance(value, simdjson.Array) else value
