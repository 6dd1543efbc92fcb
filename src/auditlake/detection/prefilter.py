"""Candidate rows per rule, found in one pass, so each rule runs only where it could match.

Thousands of rules over one partition cost rules x rows when every rule is evaluated on every
row. Yet a rule can only match a row that holds one of its *necessary atoms*: a lowercased
literal that must occur in a text column (`CommandLine` contains `-enc` for `CommandLine
|contains: -enc`), or a value a numeric column must equal (`EventID == 4688`). Atoms are read
off the rule's IR: a string leaf gives its literals (a wildcard or regex its longest literal
run, or one per branch of a top-level alternation); an AND keeps the best atom set of any one
child (every child is necessary); an OR needs atoms for every child and unions them; a NOT
gives none. A field read from the raw JSON record (no column holds it) gives the part of its
literal that the record's text must hold verbatim, searched in `raw`. A rule with none from
its condition falls back on its route's conditions (EventID, then Channel), which are ANDed
into its expression.

One Aho-Corasick pass per text column (`str.extract_many`, overlapping) and one join per
numeric column turn every row's atoms into (row, rule) candidate pairs; each rule's exact
expression then runs on its candidate rows only. Candidate rows are a superset of matching
rows, so the result equals evaluating every rule on every row (`evaluate.evaluate`); a
differential test holds the two paths together.
"""

from __future__ import annotations

import json
import re
import re._parser as _regex_parser  # the stdlib's own regex parser: literal runs, no guessing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from auditlake.detection import ir
from auditlake.detection.compile import CompiledRule
from auditlake.detection.logsources import effective_field_map
from auditlake.detection.lower import PARTITION_SOURCE

Atom = tuple[str, str, object]
"""(column, kind, value): kind `text` (a lowercased literal), `num` (an exact number) or `json`
(a lowercased literal of a field read from the raw JSON record, searched in `raw`)."""

Atoms = frozenset[Atom]

ROW = "__row"
RAW = "raw"
_LITERAL = _regex_parser.LITERAL
MIN_QUALITY_LENGTH = 3


@dataclass(frozen=True)
class RulePlan:
    """A rule's necessary atoms on one source; None means it must look at every row."""

    rule: CompiledRule
    atoms: Atoms | None


@dataclass(frozen=True)
class Columns:
    """What the binder will see: the schema, columns whose text is not what leaves compare
    (JSON arrays are matched member by member), and whether absent fields are read from raw."""

    schema: pl.Schema
    opaque: frozenset[str] = frozenset()
    json_fallback: bool = False

    def dtype(self, name: str) -> pl.DataType | None:
        return None if name in self.opaque else self.schema.get(name)

    def absent(self, name: str) -> bool:
        """True when a leaf on `name` reads no column at all (so it is false)."""
        head = name.split(".", maxsplit=1)[0]
        return not self.json_fallback and name not in self.schema and head not in self.schema

    def from_raw(self, name: str) -> bool:
        """True when a leaf on `name` reads the raw JSON record by path (see `lower`)."""
        head = name.split(".", maxsplit=1)[0]
        return (
            self.json_fallback
            and name not in self.schema
            and not isinstance(self.schema.get(head), pl.Struct)
            and self.schema.get(RAW) == pl.String
        )


def plan_rules(rules: Sequence[CompiledRule], columns: Columns, source: str) -> list[RulePlan]:
    """Each rule's atoms on `source`'s columns (union over the rule's routes to it)."""
    return [RulePlan(rule, _rule_atoms(rule, columns, source)) for rule in rules]


def _rule_atoms(rule: CompiledRule, columns: Columns, source: str) -> Atoms | None:
    found: set[Atom] = set()
    for alt in rule.routes:
        if alt.source != source:
            continue
        body = ir.rename_fields(rule.condition, effective_field_map(alt))
        atoms = necessary_atoms(body, columns)
        if atoms is None:
            atoms = _route_atoms(alt.conditions, columns)
        if atoms is None:
            return None
        found |= atoms
    return frozenset(found)


def _route_atoms(conditions: Sequence[tuple[str, Sequence[object]]], columns: Columns) -> Atoms | None:
    """The route's own conditions as atoms: a numeric column first (most selective)."""
    ranked = sorted(conditions, key=lambda c: not _is_integer(columns.dtype(c[0])))
    for column, values in ranked:
        dtype = columns.dtype(column)
        if _is_integer(dtype) and all(isinstance(v, int) for v in values):
            return frozenset((column, "num", v) for v in values)
        if dtype == pl.String and all(isinstance(v, str) and v for v in values):
            return frozenset((column, "text", str(v).lower()) for v in values)
    return None


def necessary_atoms(node: ir.Node, columns: Columns) -> Atoms | None:
    """Atoms one of which every matching row holds; None when the node gives no such set."""
    if isinstance(node, ir.Const):
        return None if node.value else frozenset()
    if isinstance(node, ir.Leaf | ir.Keyword):
        return _leaf_atoms(node, columns) if isinstance(node, ir.Leaf) else _keyword_atoms(node, columns)
    if isinstance(node, ir.And):
        candidates = [a for a in (necessary_atoms(i, columns) for i in node.items) if a is not None]
        return max(candidates, key=_quality) if candidates else None
    if isinstance(node, ir.Or):
        union: set[Atom] = set()
        for item in node.items:
            atoms = necessary_atoms(item, columns)
            if atoms is None:
                return None
            union |= atoms
        return frozenset(union)
    return None  # Not: nothing is necessary


def _leaf_atoms(leaf: ir.Leaf, columns: Columns) -> Atoms | None:
    if leaf.field == PARTITION_SOURCE:
        return None  # true on every row of the route's source: no help in finding candidates
    if leaf.op not in ("null", "exists") and columns.absent(leaf.field):
        return frozenset()  # a test on an absent column is false: the leaf matches no row
    dtype = columns.dtype(leaf.field)
    if leaf.op == "num" and _is_integer(dtype) and all(type(v) is int for v in leaf.values):
        return frozenset((leaf.field, "num", v) for v in leaf.values)
    if dtype == pl.String:
        literals = _leaf_literals(leaf, str)
        return None if literals is None else frozenset((leaf.field, "text", t) for t in literals)
    if columns.from_raw(leaf.field):
        literals = _leaf_literals(leaf, _raw_safe)
        return None if literals is None else frozenset((RAW, "json", t) for t in literals)
    return None


def _leaf_literals(leaf: ir.Leaf, usable: Callable[[str], str]) -> list[str] | None:
    """Lowercased literals one of which every string the leaf matches contains, each cut by
    `usable` to what can be searched for; None when some value has none."""
    texts: list[str] = []
    for value in map(str, leaf.values):
        if leaf.op in ("eq", "contains", "startswith", "endswith"):
            found: list[str] | None = [usable(value)]
        elif leaf.op == "match":
            run = wildcard_literal(value)
            found = [usable(run)] if run else None
        elif leaf.op == "regex":
            found = regex_literals(value, usable)
        else:
            return None
        if not found or not all(found):
            return None
        texts += found
    return [t.lower() for t in texts] if texts else None


_JSON_ESCAPED = re.compile(r'["\\/\x00-\x1f]')


def _raw_safe(literal: str) -> str:
    """The longest part of `literal` a JSON text holds verbatim whatever its escaping choices:
    quotes, backslashes, slashes and control characters may be escaped, so they split it.
    (A `\\u` escape can spell any character: rows holding one are candidates of every rule
    with such atoms, see `candidate_pairs`.)"""
    return max(_JSON_ESCAPED.split(literal), key=len)


def _keyword_atoms(keyword: ir.Keyword, columns: Columns) -> Atoms | None:
    """Keywords are searched in `raw` (the binder's default when it exists), where a value
    may also appear in its JSON-escaped spelling."""
    if columns.dtype(RAW) != pl.String:
        return None
    if keyword.op in ("eq", "contains", "startswith", "endswith", "num"):
        texts = [str(v).lower() for v in keyword.values]
    elif keyword.op in ("match", "regex"):
        literal = wildcard_literal if keyword.op == "match" else regex_literal
        found = [literal(str(v)) for v in keyword.values]
        if not all(found):
            return None
        texts = [str(t).lower() for t in found]
    else:
        return None
    if any(t == "" for t in texts):
        return None
    spellings = {t for text in texts for t in (text, json.dumps(text, ensure_ascii=False)[1:-1])}
    return frozenset((RAW, "text", t) for t in spellings)


def wildcard_literal(body: str) -> str | None:
    """The longest literal run of a wildcard regex body built by `patterns.wildcard_regex`.

    >>> wildcard_literal(r".*whoami.*\\>.*")
    'whoami'
    """
    runs, current, index = [], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            current.append(body[index + 1])
            index += 2
            continue
        if char == ".":
            runs.append("".join(current))
            current = []
            index += 2 if body[index + 1 : index + 2] == "*" else 1
            continue
        current.append(char)
        index += 1
    runs.append("".join(current))
    return max(runs, key=len) or None


def regex_literal(pattern: str) -> str | None:
    """The longest run of ASCII literal characters every match of `pattern` contains.

    Only the pattern's top level is read (a branch, group or repetition ends a run), so the
    run is necessary; ASCII only, so case folding cannot make it miss.

    >>> regex_literal(r"(?i)\\.exe[x']?\\s+werfault")
    'werfault'
    """
    try:
        parsed = _regex_parser.parse(pattern)
    except Exception:  # any pattern Python cannot read: no literal, the rule runs everywhere
        return None
    return _longest_run(parsed)


def regex_literals(pattern: str, usable: Callable[[str], str] = str) -> list[str] | None:
    """Literals one of which every match of `pattern` contains, each cut by `usable` (which
    keeps the part of a literal that can be searched for), or None.

    A top-level literal run is one such set; so is an alternation at the top level whose every
    branch has one (read the same way). The set whose shortest literal is longest wins.

    >>> regex_literals(r"mimikatz\\.exe|sekurlsa::")
    ['mimikatz.exe', 'sekurlsa::']
    >>> regex_literals(r'"(?:allow|deny)ed"')
    ['allow', 'deny']
    """
    try:
        parsed = _regex_parser.parse(pattern)
    except Exception:
        return None
    return _necessary_literals(list(parsed), usable)


def _necessary_literals(items: list[tuple[object, object]], usable: Callable[[str], str]) -> list[str] | None:
    options: list[list[str]] = []
    current: list[str] = []
    for opcode, argument in [*items, (None, None)]:
        if opcode is _LITERAL and isinstance(argument, int) and argument < 128:
            current.append(chr(argument))
            continue
        if current:
            options.append([usable("".join(current))])
            current = []
        branches = _branches(opcode, argument)
        if branches:
            found = [_necessary_literals(list(b), usable) for b in branches]  # type: ignore[call-overload]
            if all(found):
                options.append([t for f in found for t in f])  # type: ignore[union-attr]
    options = [o for o in options if all(o)]
    return max(options, key=lambda o: min(map(len, o))) if options else None


def _longest_run(parsed: Iterable[tuple[object, object]]) -> str | None:
    runs, current = [], []
    for opcode, argument in parsed:
        if opcode is _LITERAL and isinstance(argument, int) and argument < 128:
            current.append(chr(argument))
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    return max(runs, key=len) or None


def _branches(opcode: object, argument: object) -> list[object] | None:
    """The alternatives of a BRANCH, or of a group holding exactly one BRANCH."""
    if opcode is _regex_parser.BRANCH:
        return list(argument[1])  # type: ignore[index]
    if opcode is _regex_parser.SUBPATTERN:
        body = list(argument[-1])  # type: ignore[index]
        if len(body) == 1 and body[0][0] is _regex_parser.BRANCH:
            return list(body[0][1][1])
    return None


def _is_integer(dtype: pl.DataType | None) -> bool:
    return dtype is not None and dtype.is_integer()


def _quality(atoms: Atoms) -> tuple[int, int, int, int]:
    """Prefer literal sets whose shortest literal is long (selective), then fewer atoms."""
    if not atoms:
        return (2, 0, 0, 0)  # never matches: the best possible
    texts = [len(str(v)) for _, kind, v in atoms if kind in ("text", "json")]
    shortest = min(texts) if texts else MIN_QUALITY_LENGTH
    long_enough = int(shortest >= MIN_QUALITY_LENGTH)
    on_columns = int(all(kind != "json" for _, kind, _ in atoms))  # raw is long and less precise
    return (long_enough, on_columns, shortest, -len(atoms))


def candidate_pairs(frame: pl.DataFrame, plans: Sequence[RulePlan]) -> pl.DataFrame:
    """(row, rule index) pairs where the rule's atoms occur, possibly repeated; `frame` has a
    `ROW` column."""
    table = [
        (column, "text" if kind == "json" else kind, value, index)
        for index, plan in enumerate(plans)
        if plan.atoms
        for column, kind, value in plan.atoms
    ]
    parts: list[pl.DataFrame] = []
    from_json = sorted({i for i, plan in enumerate(plans) if plan.atoms and any(k == "json" for _, k, _ in plan.atoms)})
    if from_json:  # a `\u` escape may spell a literal's characters: such rows are everyone's
        escaped = frame.filter(pl.col(RAW).str.contains("\\u", literal=True)).select(ROW)
        parts.append(escaped.join(pl.DataFrame({"rule": from_json}, schema={"rule": pl.UInt32}), how="cross"))
    for column in sorted({c for c, k, _, _ in table if k == "text"}):
        owners = [(str(v), i) for c, k, v, i in table if c == column and k == "text"]
        parts.append(_text_pairs(frame, column, owners))
    for column in sorted({c for c, k, _, _ in table if k == "num"}):
        values = pl.DataFrame(
            [(int(v), i) for c, k, v, i in table if c == column and k == "num"],  # type: ignore[call-overload]
            schema={"value": pl.Int64, "rule": pl.UInt32},
            orient="row",
        )
        present = frame.select(pl.col(ROW), pl.col(column).cast(pl.Int64).alias("value")).drop_nulls("value")
        parts.append(present.join(values, on="value").select(ROW, "rule"))
    if not parts:
        return pl.DataFrame(schema={ROW: pl.UInt32, "rule": pl.UInt32})
    return pl.concat(parts)


def _text_pairs(frame: pl.DataFrame, column: str, owners: list[tuple[str, int]]) -> pl.DataFrame:
    """(row, rule) pairs where a rule's lowercased literal occurs in lowercased `column`.

    Lowercasing whole columns is the costly part, so ASCII literals are found in the original
    text with ASCII case folding, which agrees with lowercasing except for the few characters
    whose lowercase is ASCII (the Kelvin sign, dotted capital I): rows holding one of those
    are made candidates of every rule with a literal here. Other literals search the
    lowercased text.
    """
    table = pl.DataFrame(owners, schema={"needle": pl.String, "rule": pl.UInt32}, orient="row")
    ascii_needles = sorted({n for n, _ in owners if n.isascii()})
    other_needles = sorted({n for n, _ in owners if not n.isascii()})
    text = pl.col(column)
    found: list[pl.DataFrame] = []
    if ascii_needles:
        matches = text.str.extract_many(ascii_needles, overlapping=True, ascii_case_insensitive=True)
        found.append(_matched(frame, matches.list.eval(pl.element().str.to_lowercase())))
    if other_needles:
        found.append(_matched(frame, text.str.to_lowercase().str.extract_many(other_needles, overlapping=True)))
    # Repeated pairs are harmless here: the caller keeps each row once per rule.
    pairs = pl.concat(found).join(table, on="needle").select(ROW, "rule")
    folding = frame.filter(text.str.contains(_ascii_lowering_class())).select(ROW)
    if folding.height:
        everyone = table.select("rule").unique()
        pairs = pl.concat([pairs, folding.join(everyone, how="cross")])
    return pairs


def _matched(frame: pl.DataFrame, needles: pl.Expr) -> pl.DataFrame:
    return frame.select(pl.col(ROW), needles.alias("needle")).explode("needle").drop_nulls("needle")


ASCII_LOWERING = "\u0130\u212a"
"""The non-ASCII characters whose lowercase contains ASCII: dotted capital I, Kelvin sign
(a test recomputes the set from Python's Unicode tables)."""


def _ascii_lowering_class() -> str:
    return "[" + ASCII_LOWERING + "]"
