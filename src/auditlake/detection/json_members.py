"""The values of a JSON text at a dotted path, crossing arrays at any level.

Sigma writes no index: `requestObject.subjects.name` means the `name` of any subject, and
`requestObject.spec.initContainers.securityContext.privileged` that of any init container. A
JSONPath without an index (Polars' `str.json_path_match`) stops at the first array, so a path
read from JSON text gets, besides its plain value, the list of every value it reaches when each
array on the way stands for all of its members (`path_values`). A field whose value is itself
an array holds its members too (`capabilities.add`, Teleport's `argv` column).

Built of Polars string and list operations alone, so a rule's rendered source needs nothing
but `polars`. Two constraints shape it. Expressions inside `list.eval` share no common
subexpressions, so each pass below reads the previous one once and repeats nothing costly.
Only element-wise `list.eval` runs at native speed (an `explode` inside one runs row by row,
a hundred times slower), so an array's members are flattened by joining and splitting text:

- values travel as a list of strings: scalars decoded (as `json_path_match` gives them),
  objects and arrays as compact JSON text;
- an array's members are cut out of its canonical text by a regex (`MEMBER`) and marked
  (`MARK`) as JSON text still to decode, since a quoted member is not yet its string;
- a value that merely looks like an array (a string such as `"[INFO] up"`) does not split
  into members and stays what it is; a string whose text is a JSON array is read as that
  array.

Reading this list costs several parses of the text, so it is computed only on rows where an
array may lie on the path (`array_gate`), elsewhere the plain JSONPath value being all there
is; and its passes cost each evaluation a few milliseconds whatever the rows, so the engine
leaves them out where the rows at hand hold no array on the path (`crosses_array`).

>>> import polars as pl
>>> text = pl.Series(['{"s": [{"n": "a"}, {"n": ["b", "c"]}], "x": {"n": "d"}}'])
>>> pl.select(path_values(pl_.lit(text), ["s", "n"]).to_expr()).item().to_list()
['a', 'b', 'c']
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from auditlake.detection.code import Code, binop, pl_
from auditlake.detection.patterns import escape_regex
from auditlake.detection.raw_json import json_path

SEP = "\x1f"
"""Joins a row's values while they are flattened (compact JSON escapes every control
character, so no JSON text holds it)."""
MARK = "\x1e"
"""Starts an array member that is still JSON text (a quoted string, a number, an object)."""
MEMBER_DEPTH = 16
"""Nesting an array member may have and still be cut out whole: an array whose members nest
deeper is left as one value (its text), which a leaf tests as a whole."""

_STRING = r'"(?:[^"\\]|\\.)*"'
_SCALAR = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null"


def _member_pattern(depth: int) -> str:
    """A regex matching one member of a compact JSON array: a string, a number or literal, or
    an object or array nested up to `depth` levels (brackets of either kind close one another:
    in valid JSON they pair up as they should). A string that only starts with `[` holds
    other text (`[INFO] up`): it does not split into members."""
    nested = r"[{\[](?:[^{}\[\]" + '"' + r"]|" + _STRING + r")*[}\]]"
    for _ in range(depth - 1):
        nested = r"[{\[](?:[^{}\[\]" + '"' + r"]|" + _STRING + "|" + nested + r")*[}\]]"
    return "(?:" + _STRING + "|" + nested + "|" + _SCALAR + ")"


MEMBER = _member_pattern(MEMBER_DEPTH)


def path_values(text: Code, keys: Sequence[str], *, where: Code | None = None, root_array: bool = True) -> Code:
    """Every value at `keys` below the JSON `text`, any array on the way standing for each of
    its members: a List(String), empty where there is none. A numeric key indexes the array it
    meets (`target.0.id`). With `where`, rows where it is not true get null at little cost
    (see `array_gate`); `root_array=False` when the text is an object (a record, an object
    column), which spares a pass over the whole text."""
    if where is not None:
        text = pl_.when(where).then(text)
    if root_array:  # compact, as the arrays JSONPath gives are (a row's own text may be spaced)
        text = pl_.coalesce(pl_.when(text.str.starts_with("[")).then(text).str.json_path_match("$"), text)
    values = pl_.concat_list(text)
    for depth, key in enumerate(keys):
        if not key.isdigit() and (depth or root_array):
            values = _members(values)
        values = _step(values, key)
    return _decoded(_members(values))


def array_gate(text: Code, keys: Sequence[str]) -> Code:
    """Whether an array may lie on the path in `text`: the text is one, or one of the keys is
    followed by `[`. Cheap (one regex search with a literal prefilter), and never false where
    `path_values` would find an array (a key spelled with escapes aside)."""
    names = sorted({escape_regex(k) for k in keys if not k.isdigit()})
    if not names:
        return text.str.starts_with("[")
    pattern = "(?:" + "|".join(names) + r')"\s*:\s*\['
    return text.str.starts_with("[") | text.str.contains(pattern)


def crosses_array(texts: pl.Series, paths: Sequence[Sequence[str]]) -> list[bool]:
    """For each path (its keys), whether `array_gate` holds in some row of `texts`. The gates
    are tried only on the rows holding a `[` at all (one literal search first): a column with
    arrays in a few of its rows is searched once, not once for each path."""
    arrays = texts.filter(texts.str.contains("[", literal=True)).to_frame("text")
    if arrays.is_empty():
        return [False] * len(paths)
    text = pl_.col("text")
    found = arrays.select(array_gate(text, keys).to_expr().any().alias(str(n)) for n, keys in enumerate(paths))
    return [bool(v) for v in found.row(0)]


def _unmarked(element: Code) -> Code:
    return pl_.when(element.str.starts_with(MARK)).then(element.str.slice(1)).otherwise(element)


def _step(values: Code, key: str) -> Code:
    """Each value's value under `key` (objects only; arrays only by a numeric key)."""
    return values.list.eval(_unmarked(pl_.element()).str.json_path_match(json_path(key))).list.drop_nulls()


def _members(values: Code) -> Code:
    """The values with every array among them replaced by its members (marked JSON text).

    An array is cut into its members only when they make up its whole text: one nested
    deeper than `MEMBER_DEPTH`, or a string that merely starts with `[`, stays one value.
    Each value goes out prefixed by `SEP` (an array as its members joined by it), and a row's
    values are joined and split again, which flattens them.
    """
    element = pl_.element()
    plain = _unmarked(element)
    array = pl_.when(plain.str.starts_with("[") & plain.str.ends_with("]")).then(plain)
    inner = array.str.slice(1, binop("-", array.str.len_chars(), 2))
    found = inner.str.extract_all(MEMBER)
    whole = pl_.when(binop("==", found.list.join(","), inner)).then(found)
    split = binop("+", pl_.lit(MARK), whole.list.join(SEP + MARK))
    joined = values.list.eval(binop("+", pl_.lit(SEP), pl_.coalesce(split, element))).list.join("")
    return joined.str.split(SEP).list.slice(1)


def _decoded(values: Code) -> Code:
    """Marked members decoded (a quoted string to its text, others to canonical JSON); empty
    arrays and null members leave nothing."""
    element = pl_.element()
    marked = element.str.starts_with(MARK)
    decoded = pl_.when(marked).then(element).str.slice(1).str.json_path_match("$")
    return values.list.eval(pl_.when(marked).then(decoded).otherwise(element)).list.drop_nulls()
