"""Dotted paths of many JSON records read as text in one native pass (DuckDB's `from_json`).

A batch path needs a chunk's native fields as text, spelled as the per-record path spells
them (`fields.text`). DuckDB parses each record once (yyjson) and writes every value back as
that function does: strings as they are, integers and booleans in JSON spelling, objects and
arrays as compact JSON with their keys in written order and repeated keys kept. A path under a
value that is not an object reads as null, as `fields.get` walks only objects; of repeated
keys the first counts, as in simdjson. Two spellings differ, and callers must check for them
(`cloudtrail_batch` sends such rows to simdjson):

- floats: `1e-05` comes back as `0.00001`, `1e+20` as `100000000000000000000.0`, and where
  DuckDB writes the shortest digits that read back as the float (`19.37561`) simdjson may
  write seventeen (`19.375610000000002`);
- control characters escaped as `\\u00XX` with a letter: DuckDB writes `\\u001F`, simdjson
  `\\u001f`.

Records must be JSON objects simdjson loads (DuckDB also takes `NaN` and trailing commas). A
record DuckDB still refuses reads as nulls and is reported, so the caller can decline it.

>>> records = pa.array(['{"a": {"b": [1, true]}, "c": {"d": 2}}', '{"a": "s"}'], pa.large_string())
>>> frame, refused = read_paths(records, ["a.b", "c"])
>>> frame.rows(), refused
([('[1,true]', '{"d":2}'), (None, None)], [])
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from auditlake.stop_signals import stopped_by

if TYPE_CHECKING:
    import duckdb

_CONNECTIONS = threading.local()
_TABLE = "records"


def read_paths(records: pa.Array, paths: Sequence[str]) -> tuple[pl.DataFrame, list[int]]:
    """Each path of each record as text (a column per path, named by it, a row per record),
    and the positions of records DuckDB refuses, whose rows are null. No path may lie under
    another (`a` and `a.b`)."""
    if not len(records) or not paths:
        return _nulls(paths, len(records)), []
    query = _query(tuple(paths))
    frame = _read(records, query)
    if frame is not None:
        return frame, []
    parts: list[pl.DataFrame] = []
    refused: list[int] = []
    _bisect(records, query, paths, 0, (parts, refused))
    return pl.concat(parts), refused


def _read(records: pa.Array, query: str) -> pl.DataFrame | None:
    frame = _run(records, query)
    if frame is None:
        return None
    columns: dict[str, pl.Series] = {}
    _flatten(frame.get_column("j"), "", columns)
    return pl.DataFrame([columns[path] for path in _PATHS[query]])


def _flatten(struct: pl.Series, prefix: str, into: dict[str, pl.Series]) -> None:
    """The text fields of a struct column, nested ones too, named by their dotted paths (one
    eager call per field: an expression per path would cost a plan)."""
    for field in struct.struct.fields:
        values = struct.struct.field(field)
        name = f"{prefix}{field}"
        if isinstance(values.dtype, pl.Struct):
            _flatten(values, f"{name}.", into)
        else:
            into[name] = values.alias(name)


def _bisect(
    records: pa.Array,
    query: str,
    paths: Sequence[str],
    offset: int,
    out: tuple[list[pl.DataFrame], list[int]],
) -> None:
    """Read `records` in halves until the refused ones are isolated (their rows null)."""
    parts, refused = out
    frame = _read(records, query)
    if frame is not None:
        parts.append(frame)
    elif len(records) == 1:
        parts.append(_nulls(paths, 1))
        refused.append(offset)
    else:
        middle = len(records) // 2
        _bisect(records.slice(0, middle), query, paths, offset, out)
        _bisect(records.slice(middle), query, paths, offset + middle, out)


KEYS_OF = "keys of "
"""Prefix of the name of `read_kinds`' column of the keys of an object (its key path follows)."""


def read_kinds(
    records: pa.Array,
    typed: Sequence[str],
    extracted: Sequence[tuple[str, ...]] = (),
    keys_of: tuple[str, ...] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Per record, the JSON type of each dotted path of `typed` (DuckDB's names: `VARCHAR`,
    `BIGINT`, `UBIGINT`, `DOUBLE`, `BOOLEAN`, `NULL`, `OBJECT`, `ARRAY`; null when absent or
    under a non-object), a column named by each path; and the text of each key path of
    `extracted` (keys may hold dots), as `fields.text` gives a value (JSON null reads as null),
    a column named by its keys joined with dots. With `keys_of`, a key path, the texts also
    hold the keys of the object there, as `read_keys` gives them (`KEYS_OF` and the path). One
    parse of each record serves them all. None when DuckDB refuses a record.

    >>> records = pa.array(['{"a": {"b.c": 5}, "d": "x"}', '{"a": 1}'], pa.large_string())
    >>> types, texts = read_kinds(records, ["a", "d"], [("a", "b.c")], keys_of=("a",))
    >>> types.rows(), texts.rows()
    ([('OBJECT', 'VARCHAR'), ('UBIGINT', None)], [('5', ['b.c']), (None, [])])
    """
    names = [".".join(keys) for keys in extracted]
    keys_name = None if keys_of is None else KEYS_OF + ".".join(keys_of)
    if not len(records):
        schema: dict[str, pl.DataType] = dict.fromkeys(names, pl.String())
        if keys_name is not None:
            schema[keys_name] = pl.List(pl.String())
        return pl.DataFrame(schema=dict.fromkeys(typed, pl.String)), pl.DataFrame(schema=schema)
    types = ", ".join(_json_path(tuple(path.split("."))) for path in typed)
    texts = ", ".join(_json_path(keys) for keys in extracted)
    lists = (f"json_type(raw, [{types}])" if typed else "NULL::VARCHAR[]",
             f"json_extract_string(raw, [{texts}])" if extracted else "NULL::VARCHAR[]",
             "NULL::VARCHAR[]" if keys_of is None else f"json_keys(raw, {_json_path(keys_of)})")
    frame = _run(records, f"SELECT {lists[0]} AS t, {lists[1]} AS s, {lists[2]} AS k FROM {_TABLE}")
    if frame is None:
        return None
    kinds = frame.select(pl.col("t").list.get(i, null_on_oob=True).alias(path) for i, path in enumerate(typed))
    values = frame.select(
        *(pl.col("s").list.get(i, null_on_oob=True).alias(name) for i, name in enumerate(names)),
        *([] if keys_name is None else [pl.col("k").alias(keys_name)]),
    )
    return kinds, values


def read_keys(records: pa.Array) -> pl.Series | None:
    """Each record's top-level keys, in written order, repeated ones kept; None when DuckDB
    refuses a record.

    >>> read_keys(pa.array(['{"a": 1, "b": {"c": 2}, "a": 3}', '{}'], pa.large_string())).to_list()
    [['a', 'b', 'a'], []]
    """
    if not len(records):
        return pl.Series("keys", [], pl.List(pl.String))
    frame = _run(records, f"SELECT json_keys(raw) AS keys FROM {_TABLE}")
    return None if frame is None else frame.get_column("keys")


def _run(records: pa.Array, query: str) -> pl.DataFrame | None:
    """`query` over `records` (the table `_TABLE`, column `raw`) on this thread's connection;
    None when DuckDB refuses a record."""
    import duckdb  # here, not at the top: every command imports the sources, few read JSON

    connection = _connection()
    try:
        connection.register(_TABLE, pa.table({"raw": records}))
        try:
            table = connection.sql(query).to_arrow_table()
        finally:
            connection.unregister(_TABLE)
    except (duckdb.Error, RuntimeError) as exc:
        # DuckDB turns the `Stopped` a stop signal raises while it works into an error of its
        # own ("Query interrupted", "reading the schema ... failed: Stopped"): the stop goes on
        stop = stopped_by()
        if stop is not None:
            raise stop from exc
        if isinstance(exc, duckdb.Error):
            return None
        raise
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _json_path(keys: tuple[str, ...]) -> str:
    """A DuckDB JSON path literal reaching `keys`, each quoted."""
    if any('"' in key or "'" in key for key in keys):
        raise ValueError(f"a key of {keys!r} holds a quote")
    return "'$" + "".join(f'."{key}"' for key in keys) + "'"


def _nulls(paths: Sequence[str], count: int) -> pl.DataFrame:
    return pl.DataFrame({path: pl.Series(path, [None] * count, pl.String) for path in paths})


def _connection() -> duckdb.DuckDBPyConnection:
    """This thread's connection, to a database of its own: queries run on the calling thread
    alone (`threads` 1), as the callers run side by side, one per core."""
    import duckdb

    connection = getattr(_CONNECTIONS, "connection", None)
    if connection is None:
        connection = duckdb.connect(config={"threads": 1})
        _CONNECTIONS.connection = connection
    return connection


_QUERIES: dict[tuple[str, ...], str] = {}


def _query(paths: tuple[str, ...]) -> str:
    if paths not in _QUERIES:
        tree: dict[str, Any] = {}
        for path in paths:
            *parents, leaf = path.split(".")
            node = tree
            for key in parents:
                node = node.setdefault(key, {})
                if not isinstance(node, dict):
                    raise ValueError(f"{path!r} lies under another path")
            if leaf in node:
                raise ValueError(f"another path lies under {path!r}, or it is repeated")
            node[leaf] = "VARCHAR"
        structure = json.dumps(tree).replace("'", "''")
        # One struct column, its fields taken out by Polars: DuckDB binds a query of 37
        # columns in about 10 ms, of one in 4 (a chunk of 8,192 records reads in 40 ms).
        query = f"SELECT from_json(raw, '{structure}') AS j FROM {_TABLE}"
        _QUERIES[paths], _PATHS[query] = query, paths
    return _QUERIES[paths]


_PATHS: dict[str, tuple[str, ...]] = {}
