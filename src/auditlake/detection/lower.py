"""Bind a rule's IR to one schema: the only place that knows Polars dtypes.

`lower(ir, schema)` returns a `Code` tree; `bind` evaluates it to a `pl.Expr` and `render`
prints it as Python source. Both come from the same tree, so the rendered rule is exactly what
the engine runs.

Semantics (SIGMA.md §1.3-§1.5, §3.2-§3.3):

- Strings match case-insensitively (both sides lowercased) unless `cased`; regexes are
  case-sensitive unless flagged `i`.
- A predicate on a missing column is false, so its negation is true. Polars' Kleene logic
  would make `not <null>` null and drop the row, so nulls are folded to false at every NOT
  operand and at the root: the two-valued result Sigma defines.
- `null` matches an absent or null field; `''` a present, empty one; `exists` tests presence.
- Numbers compare natively on numeric columns and by exact spelling on text columns (no hex
  coercion); a text value compared with a numeric column must parse as a number, else the leaf
  is false.
- A list column matches when any member does; so does a field whose path crosses a JSON
  array at any level, or whose JSON text is an array (`json_members`).
- A field the schema lacks may be read from the `raw` JSON record by path (`json_fallback`),
  for sources whose raw record carries the native field names.
- Keywords search the whole event: the raw record, also as its JSON escapes decode
  (`caf\\u00e9` holds `café`), and the columns a source decodes out of it (`keyword_columns`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import polars as pl

from auditlake.detection.code import Code, binop, pl_
from auditlake.detection.ip_networks import network_test
from auditlake.detection.ir import And, Const, Keyword, Leaf, Node, Not, Or
from auditlake.detection.json_members import array_gate, path_values
from auditlake.detection.patterns import escape_regex
from auditlake.detection.raw_json import (
    RAW_COLUMN,
    hiding_escapes,
    json_path,
    json_text_column,
    json_unescaped,
)
from auditlake.schema import is_canonical

if TYPE_CHECKING:
    from auditlake.detection.atoms import Columns

Schema = Mapping[str, pl.DataType]

PARTITION_SOURCE = "source"

_TIME_PARTS = {"minute", "hour", "day", "week", "month", "year"}
_CMP_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "neq": "!="}


@dataclass(frozen=True)
class BindOptions:
    """How a rule meets one partition.

    `source`: the partition's source when known; leaves on the `source` column then fold to
    constants, so alternatives for other sources vanish from the expression. `json_fallback`:
    read fields the schema lacks from the `raw` JSON record. `keyword_columns`: where keywords
    are searched (default: `raw`, else every String column). `json_list_columns`: text
    columns holding a JSON array, matched like list columns (any member). `json_arrays`: paths
    of the raw record known to hold an array of objects (Okta's `target`), whose own column
    holds the members a field such as `target.displayName` is read from. `json_objects`:
    columns holding an object of the raw record as JSON text (CloudTrail's `responseElements`),
    from which a field inside it is read instead of from `raw`. `native_arrays`: the source's
    other non-canonical String columns hold its record's fields as text, an array as its
    JSON (Teleport's `argv`), so a leaf also matches any member of one; `array_columns`,
    when the rows are known, names the only such columns that hold an array in them (testing
    members costs every leaf on a column, most of which never hold one); likewise
    `flat_paths`, fields read by path that cross no array in the rows at hand, whose plain
    JSONPath value is all they hold. `raw_is_json`: `raw` is JSON text, so keywords also
    search it with its escapes decoded.
    """

    source: str | None = None
    json_fallback: bool = False
    keyword_columns: tuple[str, ...] | None = None
    json_list_columns: frozenset[str] = frozenset()
    json_arrays: frozenset[str] = frozenset()
    json_objects: frozenset[str] = frozenset()
    native_arrays: bool = False
    array_columns: frozenset[str] | None = None
    flat_paths: frozenset[str] = frozenset()
    raw_is_json: bool = True

    def may_hold_array(self, column: str, dtype: pl.DataType | None) -> bool:
        """Whether a String column may hold a JSON array as its text (see `native_arrays`)."""
        return array_text_column(column, dtype, self)


def json_location(field: str, schema: Schema, options: BindOptions) -> tuple[str, str] | None:
    """The JSON text column a field the schema lacks is read from, and its path there; None
    when no column holds it (see `raw_json.json_text_column`)."""
    text = json_text_column(field, schema, options.json_arrays, options.json_objects)
    if text is None:
        return None
    return text, field if text == RAW_COLUMN else field[len(text) + 1 :]


def array_text_column(column: str, dtype: pl.DataType | None, options: BindOptions | Columns) -> bool:
    """Whether `column` may hold a record's field as text, an array as its JSON: a String
    column of a source with `native_arrays`, not canonical, not known to hold JSON lists or
    objects, not `raw` or the partition, and (when they are known) among the `array_columns`."""
    return (
        options.native_arrays
        and dtype == pl.String
        and column not in (RAW_COLUMN, PARTITION_SOURCE)
        and column not in options.json_list_columns
        and column not in options.json_objects
        and not is_canonical(column)
        and (options.array_columns is None or column in options.array_columns)
    )


def lower(ir: Node, schema: Schema, options: BindOptions | None = None) -> Code:
    """The root expression: true where the rule matches, never null."""
    result = _Lowering(schema, options or BindOptions()).node(ir)
    if isinstance(result, bool):
        return pl_.lit(result)
    return result.fill_null(False)


def bind(ir: Node, schema: Schema, options: BindOptions | None = None) -> pl.Expr:
    """`lower` evaluated to a `pl.Expr`."""
    expr: pl.Expr = lower(ir, schema, options).to_expr(RUNTIME_ENV)
    return expr


def render(ir: Node, schema: Schema, options: BindOptions | None = None) -> str:
    """`lower` as Python source; it needs only `pl` (polars) to evaluate."""
    return lower(ir, schema, options).to_source()


RUNTIME_ENV: Mapping[str, object] = {"pl": pl}

Lowered = Code | bool


@dataclass(frozen=True)
class FieldRead:
    """What a field name reads: an expression of a known dtype, and, where the field may
    cross or be a JSON array, `members`: a List(String) of the further values it holds there
    (empty or null where there are none), any of which may match."""

    expr: Code
    dtype: pl.DataType
    members: Code | None = None


class _Lowering:
    def __init__(self, schema: Schema, options: BindOptions) -> None:
        self.schema = schema
        self.options = options

    # -- boolean structure --------------------------------------------------------------

    def node(self, node: Node) -> Lowered:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, And):
            return self._combine(node.items, conjunction=True)
        if isinstance(node, Or):
            return self._combine(node.items, conjunction=False)
        if isinstance(node, Not):
            inner = self.node(node.item)
            return (not inner) if isinstance(inner, bool) else ~inner.fill_null(False)
        if isinstance(node, Keyword):
            return self.keyword(node)
        return self.leaf(node)

    def _combine(self, items: Sequence[Node], *, conjunction: bool) -> Lowered:
        parts: list[Code] = []
        for item in items:
            result = self.node(item)
            if isinstance(result, bool):
                if result != conjunction:  # False in an AND, True in an OR decides it
                    return result
                continue
            parts.append(result)
        if not parts:
            return conjunction
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            return parts[0] & parts[1] if conjunction else parts[0] | parts[1]
        return (pl_.all_horizontal if conjunction else pl_.any_horizontal)(*parts)

    # -- columns --------------------------------------------------------------------------

    def column(self, field: str) -> FieldRead | None:
        """What a field name reads, or None when it is absent."""
        options = self.options
        if field in options.json_list_columns and self.schema.get(field) == pl.String:
            members = pl.List(pl.String())
            return FieldRead(pl_.col(field).str.json_decode(pl_.List(pl_.String)), members)
        if field in self.schema:
            dtype = self.schema[field]
            if options.may_hold_array(field, dtype):
                text = pl_.col(field)
                return FieldRead(text, dtype, path_values(text, (), where=text.str.starts_with("[")))
            return FieldRead(pl_.col(field), dtype)
        head, _, rest = field.partition(".")
        if rest and isinstance(self.schema.get(head), pl.Struct):
            found = self._struct_path(head, rest.split("."))
            return None if found is None else FieldRead(*found)
        return self._json_field(field) if options.json_fallback else None

    def _json_field(self, field: str) -> FieldRead | None:
        """A field the schema lacks, read by path from the JSON text that holds it: its plain
        JSONPath value, and the values it reaches across arrays on rows where one may lie on
        the path (Sigma writes no index: `target.displayName` is any target's), unless the
        rows at hand hold none there (`BindOptions.flat_paths`)."""
        options = self.options
        found = json_location(field, self.schema, options)
        if found is None:
            return None
        text, path = found
        column = pl_.col(text)
        plain = column.str.json_path_match(json_path(path))
        if field in options.flat_paths:
            return FieldRead(plain, pl.String())
        keys = path.split(".")
        # The record and its object columns are objects; an array's own column is an array.
        members = path_values(column, keys, where=array_gate(column, keys), root_array=text in options.json_arrays)
        return FieldRead(plain, pl.String(), members)

    def _struct_path(self, head: str, path: list[str]) -> tuple[Code, pl.DataType] | None:
        expr: Code = pl_.col(head)
        dtype = self.schema[head]
        for key in path:
            if not isinstance(dtype, pl.Struct):
                return None
            by_name: dict[str, pl.DataType] = {f.name: f.dtype for f in dtype.fields}  # type: ignore[misc]
            if key not in by_name:
                return None
            expr, dtype = expr.struct.field(key), by_name[key]
        return expr, dtype

    # -- field leaves ---------------------------------------------------------------------

    def leaf(self, leaf: Leaf) -> Lowered:
        if leaf.field == PARTITION_SOURCE and self.options.source is not None:
            return _source_constant(leaf, self.options.source)
        found = self.column(leaf.field)
        if leaf.op in ("null", "exists"):
            return _presence_test(leaf, found)
        if found is None:
            return False
        if leaf.op == "fieldref":
            return self.field_reference(leaf, found.expr, found.dtype)
        if isinstance(found.dtype, pl.List):
            result = _any_member(leaf, found.expr, found.dtype)
        else:
            result = value_test(leaf, found.expr, found.dtype)
        if found.members is None:
            return result
        return _either(result, _any_member(leaf, found.members, pl.List(pl.String())))

    def field_reference(self, leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
        other, mode = cast(tuple[str, str], leaf.values[0])
        found = self.column(other)
        if found is None:
            return False
        other_expr, other_dtype = found.expr, found.dtype
        if mode == "eq" and dtype.is_numeric() and other_dtype.is_numeric():
            return binop("==", expr, other_expr)
        left = _as_text(expr, dtype).str.to_lowercase()
        right = _as_text(other_expr, other_dtype).str.to_lowercase()
        if mode == "eq":
            return binop("==", left, right)
        if mode == "startswith":
            return left.str.starts_with(right)
        if mode == "endswith":
            return left.str.ends_with(right)
        return left.str.contains(right, literal=True)

    # -- keywords -------------------------------------------------------------------------

    def keyword(self, keyword: Keyword) -> Lowered:
        columns = self.options.keyword_columns
        if columns is None:
            if RAW_COLUMN in self.schema:
                columns = (RAW_COLUMN,)
            else:
                columns = tuple(n for n, t in self.schema.items() if t == pl.String)
        present = [c for c in columns if c in self.schema]
        if not present:
            return False
        tests: list[Code] = []
        for column in present:
            text = _as_text(pl_.col(column), self.schema[column])
            json_text = column == RAW_COLUMN or column in self.options.json_list_columns
            result = _keyword_test(text, keyword, json_text=json_text)
            if column == RAW_COLUMN and self.options.raw_is_json and self.schema[column] == pl.String:
                result = _either(result, _decoded_keyword_test(text, keyword))
            if isinstance(result, bool):
                if result:
                    return True
                continue
            tests.append(result)
        if not tests:
            return False
        return tests[0] if len(tests) == 1 else pl_.any_horizontal(*tests)


# -- value tests ------------------------------------------------------------------------------


def value_test(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    """The leaf's test on one value expression of a known dtype."""
    return _VALUE_TESTS[leaf.op](leaf, expr, dtype)


def _presence_test(leaf: Leaf, found: FieldRead | None) -> Lowered:
    if found is None:
        return leaf.op == "null" or not leaf.values[0]
    present, absent = found.expr.is_not_null(), found.expr.is_null()
    if found.members is not None:  # a value in some member of an array is a value
        in_members = binop(">", found.members.list.len(), 0).fill_null(False)
        present, absent = present | in_members, absent & ~in_members
    return present if leaf.op == "exists" and leaf.values[0] else absent


def _either(first: Lowered, second: Lowered) -> Lowered:
    """`first or second`, folding constants."""
    if isinstance(first, bool):
        return True if first else second
    if isinstance(second, bool):
        return True if second else first
    return first | second


def _any_member(leaf: Leaf, expr: Code, dtype: pl.List) -> Lowered:
    """A list column matches when any member does; an empty list matches nothing."""
    member = value_test(leaf, pl_.element(), dtype.inner)  # type: ignore[arg-type]
    if isinstance(member, bool):
        return binop(">", expr.list.len(), 0) if member else False
    return expr.list.eval(member).list.any()


def _text_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    if dtype.is_numeric() and leaf.op == "eq" and not leaf.cased:
        return _numeric_eq_from_text(expr, dtype, leaf.values)
    return _string_test(_as_text(expr, dtype), leaf.op, leaf.values, cased=leaf.cased)


def _regex_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    return _as_text(expr, dtype).str.contains(str(leaf.values[0]))


def _number_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    return _number_eq(expr, dtype, leaf.values)


def _bool_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    return _bool_eq(expr, dtype, bool(leaf.values[0]))


def _compare_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    operator, number = cast(tuple[str, float], leaf.values[0])
    return binop(_CMP_OPS[operator], _as_number(expr, dtype), number)


def _time_part_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    part, operator, number = cast(tuple[str, str, int], leaf.values[0])
    return binop(_CMP_OPS[operator], _time_part(expr, dtype, part), number)


def _cidr_leaf(leaf: Leaf, expr: Code, dtype: pl.DataType) -> Lowered:
    return network_test(_as_text(expr, dtype), leaf.values)


_VALUE_TESTS: dict[str, Callable[[Leaf, Code, pl.DataType], Lowered]] = {
    "eq": _text_leaf,
    "contains": _text_leaf,
    "startswith": _text_leaf,
    "endswith": _text_leaf,
    "match": _text_leaf,
    "regex": _regex_leaf,
    "num": _number_leaf,
    "bool": _bool_leaf,
    "cmp": _compare_leaf,
    "tspart": _time_part_leaf,
    "cidr": _cidr_leaf,
}


def _source_constant(leaf: Leaf, source: str) -> bool:
    if leaf.op == "eq":
        return source.lower() in {str(v).lower() for v in leaf.values}
    if leaf.op in ("null", "exists"):
        return leaf.op == "exists" and bool(leaf.values[0])
    raise ValueError(f"unsupported condition on the partition column {PARTITION_SOURCE!r}")


def _as_text(expr: Code, dtype: pl.DataType) -> Code:
    """The value as text: structs as JSON, lists as their members joined by commas."""
    if dtype == pl.String:
        return expr
    if isinstance(dtype, pl.Struct):
        return expr.struct.json_encode()
    if isinstance(dtype, pl.List):
        return expr.list.eval(pl_.element().cast(pl_.String)).list.join(",")
    return expr.cast(pl_.String)


def _string_test(text: Code, op: str, values: tuple[object, ...], *, cased: bool) -> Lowered:
    subject = text if cased else text.str.to_lowercase()
    strings = [str(v) for v in values]
    if op == "eq":
        return binop("==", subject, strings[0]) if len(strings) == 1 else subject.is_in(strings)
    if op == "contains":
        return _contains_test(text, subject, strings)
    if len(strings) == 1 and op in ("startswith", "endswith"):
        method = "starts_with" if op == "startswith" else "ends_with"
        return getattr(subject.str, method)(strings[0])
    # Several prefixes, suffixes or wildcard patterns: one alternation scans the text once.
    bodies = strings if op == "match" else [escape_regex(s) for s in strings]
    body = bodies[0] if len(bodies) == 1 else "(?:" + "|".join(bodies) + ")"
    anchored = {"startswith": f"(?s)^{body}", "endswith": f"(?s){body}$"}
    return subject.str.contains(anchored.get(op, f"(?s)^{body}$"))


def _contains_test(text: Code, subject: Code, needles: list[str]) -> Code:
    if "" in needles:
        return text.is_not_null()
    if len(needles) == 1:
        return subject.str.contains(needles[0], literal=True)
    return subject.str.contains_any(needles)


def _keyword_test(text: Code, keyword: Keyword, *, json_text: bool) -> Lowered:
    """Keywords are unanchored: a plain value is a substring, a wildcard value a regex search.

    In a raw JSON record, `C:\\x` is stored as `C:\\\\x`, so a value that JSON escapes is
    also searched in its escaped spelling.
    """
    if keyword.op == "regex":
        return text.str.contains(str(keyword.values[0]))
    if keyword.op == "num":
        return _contains_test(text, text, [str(v) for v in keyword.values])
    subject = text if keyword.cased else text.str.to_lowercase()
    if keyword.op == "match":
        bodies = [_unanchored(str(v)) for v in keyword.values]
        if json_text:
            bodies = _with_json_spellings_regex(keyword.values, bodies)
        body = bodies[0] if len(bodies) == 1 else "(?:" + "|".join(bodies) + ")"
        return subject.str.contains(f"(?s){body}")
    needles = [str(v) for v in keyword.values]
    if json_text:
        needles += [e for e in (_json_escaped(n) for n in needles) if e not in needles]
    return _contains_test(text, subject, needles)


def _decoded_keyword_test(raw: Code, keyword: Keyword) -> Lowered:
    """The keyword searched in the JSON text with its escapes decoded (`http:\\/\\/`,
    `\\u0026`), on the rows whose text holds an escape that could spell part of a value
    (`raw_json.hiding_escapes`); the others are null, which costs nothing here. A backslash or
    quote escaped alone is found by the escaped spelling `_keyword_test` also searches."""
    texts = [str(v) for v in keyword.values]
    escapes = hiding_escapes(texts, pattern=keyword.op in ("match", "regex"))
    hiding = raw.str.contains_any(escapes, ascii_case_insensitive=True)
    return _keyword_test(json_unescaped(pl_.when(hiding).then(raw)), keyword, json_text=False)


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _with_json_spellings_regex(values: tuple[object, ...], bodies: list[str]) -> list[str]:
    # A regex body escapes a literal backslash as `\\`; its JSON spelling is two of them.
    extra = [b.replace("\\\\", "\\\\\\\\") for b in bodies if "\\\\" in b]
    return bodies + [e for e in extra if e not in bodies]


def _unanchored(body: str) -> str:
    if body.startswith(".*"):
        body = body[2:]
    if body.endswith(".*") and not body.endswith("\\.*"):
        body = body[:-2]
    return body


def _numeric_eq_from_text(expr: Code, dtype: pl.DataType, values: tuple[object, ...]) -> Lowered:
    numbers = [n for n in (_parse_number(str(v), integer=dtype.is_integer()) for v in values) if n is not None]
    if not numbers:
        return False
    return binop("==", expr, numbers[0]) if len(numbers) == 1 else expr.is_in(numbers)


def _parse_number(text: str, *, integer: bool) -> int | float | None:
    """Decimal spellings only: `0x3e7` is not 999 in Sigma."""
    try:
        number = float(text) if not integer else int(text, 10)
    except ValueError:
        if integer:
            try:
                value = float(text)
            except ValueError:
                return None
            return int(value) if value.is_integer() else None
        return None
    return number


def _number_eq(expr: Code, dtype: pl.DataType, values: tuple[object, ...]) -> Lowered:
    if dtype.is_numeric():
        numbers = _numbers_of_kind(dtype, values)
        if not numbers:
            return False
        return binop("==", expr, numbers[0]) if len(numbers) == 1 else expr.is_in(numbers)
    if dtype == pl.Boolean:
        return _number_eq(expr.cast(pl_.Int64), pl.Int64(), values)
    spellings = [str(v) for v in values]
    text = _as_text(expr, dtype)
    return binop("==", text, spellings[0]) if len(spellings) == 1 else text.is_in(spellings)


def _numbers_of_kind(dtype: pl.DataType, values: tuple[object, ...]) -> list[int | float]:
    """The values as the column's kind of number: Polars' `is_in` refuses Int vs Float lists.

    A fractional value can never equal an integer column's value, so it is dropped.
    """
    numbers = [cast(int | float, v) for v in values]
    if dtype.is_float():
        return [float(n) for n in numbers]
    return [n if isinstance(n, int) else int(n) for n in numbers if isinstance(n, int) or n.is_integer()]


def _bool_eq(expr: Code, dtype: pl.DataType, value: bool) -> Lowered:
    if dtype == pl.Boolean:
        return binop("==", expr, value)
    if dtype.is_numeric():
        return binop("==", expr, int(value))
    return binop("==", _as_text(expr, dtype).str.to_lowercase(), "true" if value else "false")


def _as_number(expr: Code, dtype: pl.DataType) -> Code:
    # NaN sorts above every number in Polars, so `nan > 100` would be true: NaN is no number.
    if dtype.is_float():
        return expr.fill_nan(None)
    if dtype.is_numeric():
        return expr
    return _as_text(expr, dtype).cast(pl_.Float64, strict=False).fill_nan(None)


def _time_part(expr: Code, dtype: pl.DataType, part: str) -> Code:
    if part not in _TIME_PARTS:
        raise ValueError(f"unknown time part {part!r}")
    if isinstance(dtype, pl.Date) and part in ("hour", "minute"):
        moment = expr.cast(pl_.Datetime)  # a date is its midnight, as date-only text parses
    elif isinstance(dtype, pl.Datetime | pl.Date):
        moment = expr
    else:
        moment = _text_moment(_as_text(expr, dtype))
    return getattr(moment.dt, part)()


_TEXT_MOMENTS = (
    ("%Y-%m-%dT%H:%M:%S%.f%#z", True),
    ("%Y-%m-%d %H:%M:%S%.f%#z", True),
    ("%Y-%m-%dT%H:%M:%S%.f", False),
    ("%Y-%m-%d %H:%M:%S%.f", False),
    ("%Y-%m-%d", False),
)
"""ISO 8601 spellings a text timestamp is read in (`Z` or an offset, `T` or a space, any
fraction of a second, or a date alone), and whether the spelling names its offset."""


def _text_moment(text: Code) -> Code:
    """The moment a text names, each row in its own spelling of `_TEXT_MOMENTS`, in UTC (a
    text naming no offset is taken as UTC); null when none fits. Polars' inference would read
    every row in the first row's spelling, so a row's verdict would depend on its neighbours."""
    parts = []
    for spelling, names_offset in _TEXT_MOMENTS:
        parsed = text.str.to_datetime(spelling, strict=False, time_unit="us")
        parts.append(parsed if names_offset else parsed.dt.replace_time_zone("UTC"))
    return pl_.coalesce(*parts)
