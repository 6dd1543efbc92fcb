"""Necessary atoms: what a row must hold for a rule to match it, read off the rule's IR.

An atom is a lowercased literal that must occur in a text column (`CommandLine` contains
`-enc` for `CommandLine|contains: -enc`), a value a numeric column must equal (`EventID ==
4688`), or a literal of a field read from the raw JSON record, searched in `raw`. A *necessary
set* is a set of atoms one of which every matching row holds:

- a string leaf gives its literals (a wildcard or regex its longest literal run, or one per
  branch of an alternation); a field read from raw gives the part of each literal that the
  record's text must hold verbatim, as does a column that may hold a JSON array's text;
- a keyword gives its literals in every column keywords search, in raw also as JSON escapes
  them, and the escapes that may hide them there (which the binder decodes);
- every child of an AND is necessary, so an AND has all its children's sets;
- an OR needs a set for every child and unions one of each;
- a NOT gives none (nothing is necessary), a constant false the empty set (no row matches).

`prefilter` turns a rule's sets into candidate rows.
"""

from __future__ import annotations

import json
import re
import re._parser as _regex_parser  # the stdlib's own regex parser: literal runs, no guessing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import itemgetter

import polars as pl

from auditlake.detection import ir
from auditlake.detection.lower import PARTITION_SOURCE, array_text_column
from auditlake.detection.raw_json import hiding_escapes, json_text_column

Atom = tuple[str, str, object]
"""(column, kind, value): kind `text` (a lowercased literal), `num` (an exact number) or `json`
(a lowercased literal of a field read from the raw JSON record, searched in `raw`)."""

Atoms = frozenset[Atom]

RAW = "raw"
_LITERAL = _regex_parser.LITERAL
MIN_QUALITY_LENGTH = 3
MAX_SETS = 4
"""Necessary sets kept per node: enough choice for the hit counts, few extra needles."""


@dataclass(frozen=True)
class Columns:
    """What the binder will see (as `lower.BindOptions` tells it): the schema, columns whose
    text is not what leaves compare (JSON arrays are matched member by member), whether absent
    fields are read from raw, where keywords are searched and how."""

    schema: pl.Schema
    opaque: frozenset[str] = frozenset()
    json_fallback: bool = False
    json_arrays: frozenset[str] = frozenset()
    json_objects: frozenset[str] = frozenset()
    keyword_columns: tuple[str, ...] | None = None
    native_arrays: bool = False
    raw_is_json: bool = True
    array_columns: frozenset[str] | None = None

    @property
    def json_list_columns(self) -> frozenset[str]:
        return self.opaque

    def dtype(self, name: str) -> pl.DataType | None:
        return None if name in self.opaque else self.schema.get(name)

    def may_hold_array(self, name: str) -> bool:
        """Whether a String column's text may be a JSON array, whose members leaves match
        (as `lower.BindOptions.may_hold_array` tells the binder)."""
        return array_text_column(name, self.schema.get(name), self)

    def absent(self, name: str) -> bool:
        """True when a leaf on `name` reads no column at all (so it is false)."""
        head = name.split(".", maxsplit=1)[0]
        return not self.json_fallback and name not in self.schema and head not in self.schema

    def json_text(self, name: str) -> str | None:
        """The JSON text column a leaf on `name` reads by path (see `lower.column`): the column
        of the array it names a member field of, else `raw`; None when it reads no JSON."""
        head = name.split(".", maxsplit=1)[0]
        if not self.json_fallback or name in self.schema or isinstance(self.schema.get(head), pl.Struct):
            return None
        return json_text_column(name, self.schema, self.json_arrays, self.json_objects)


def necessary_sets(node: ir.Node, columns: Columns) -> list[Atoms]:
    """Necessary atom sets of `node`, most promising first (see `quality`); none: no help."""
    if isinstance(node, ir.Const):
        return [] if node.value else [frozenset()]
    if isinstance(node, ir.Leaf | ir.Keyword):
        return _leaf_sets(node, columns) if isinstance(node, ir.Leaf) else _keyword_sets(node, columns)
    if isinstance(node, ir.And):
        return best_sets(s for item in node.items for s in necessary_sets(item, columns))
    if isinstance(node, ir.Or):
        per_item = [necessary_sets(item, columns) for item in node.items]
        return [] if not all(per_item) else or_unions(per_item)
    return []  # Not: nothing is necessary


def or_unions(per_item: list[list[Atoms]]) -> list[Atoms]:
    """Necessary sets of an OR (or of a rule's routes) from each alternative's sets: the k-th
    set of every alternative (its last when it has fewer), joined, for each k.

    The first union joins each alternative's most promising set by `quality`, which cannot
    tell a common literal from a rare one of the same length; the others give the hit counts
    of a sample something to choose from (`\\windows\\` in every image path, or
    `\\..\\windows\\` on the command line).

    >>> a, b, c = (frozenset({("c", "text", t)}) for t in "abc")
    >>> [sorted(v for _, _, v in s) for s in or_unions([[a, b], [c]])]
    [['a', 'c'], ['b', 'c']]
    """
    depth = min(MAX_SETS, max(len(sets) for sets in per_item))
    unions = (frozenset().union(*(sets[min(k, len(sets) - 1)] for sets in per_item)) for k in range(depth))
    return list(dict.fromkeys(unions))


def necessary_atoms(node: ir.Node, columns: Columns) -> Atoms | None:
    """The most promising necessary set of `node`, or None."""
    sets = necessary_sets(node, columns)
    return sets[0] if sets else None


def best_sets(sets: Iterable[Atoms]) -> list[Atoms]:
    """The most promising sets: those as good as the best by `quality`'s first two criteria
    (no short literals when long ones exist, columns before raw), searching for the others
    would cost more than it could save."""
    ranked = sorted(((quality(s), s) for s in dict.fromkeys(sets)), key=itemgetter(0), reverse=True)
    tier = ranked[0][0][:2] if ranked else None
    return [s for q, s in ranked if q[:2] == tier][:MAX_SETS]


def _leaf_sets(leaf: ir.Leaf, columns: Columns) -> list[Atoms]:
    if leaf.field == PARTITION_SOURCE:
        return []  # true on every row of the route's source: no help in finding candidates
    if leaf.op not in ("null", "exists") and columns.absent(leaf.field):
        return [frozenset()]  # a test on an absent column is false: the leaf matches no row
    dtype = columns.dtype(leaf.field)
    if leaf.op == "num" and _is_integer(dtype) and all(type(v) is int for v in leaf.values):
        return [frozenset((leaf.field, "num", v) for v in leaf.values)]
    usable: Callable[[str], str]
    if dtype == pl.String and columns.may_hold_array(leaf.field):
        column, kind, usable = leaf.field, "json", _raw_safe  # a member is JSON-escaped there
    elif dtype == pl.String:
        column, kind, usable = leaf.field, "text", str
    elif (text := columns.json_text(leaf.field)) is not None:
        column, kind, usable = text, "json", _raw_safe
    else:
        return []
    return best_sets(frozenset((column, kind, t) for t in literals) for literals in _leaf_literals(leaf, usable))


def _leaf_literals(leaf: ir.Leaf, usable: Callable[[str], str]) -> list[list[str]]:
    """Choices of lowercased literals one of which every string the leaf matches contains,
    each cut by `usable` to what can be searched for; none when some value has none."""
    if leaf.op not in ("eq", "contains", "startswith", "endswith", "match", "regex") or not leaf.values:
        return []
    per_value: list[list[list[str]]] = []
    for value in map(str, leaf.values):
        if leaf.op in ("eq", "contains", "startswith", "endswith"):
            choices = [[usable(value)]]
        elif leaf.op == "match":
            run = wildcard_literal(value)
            choices = [[usable(run)]] if run else []
        else:
            choices = regex_literal_choices(value, usable)
        choices = [c for c in choices if c and all(c)]
        if not choices:
            return []
        per_value.append(choices)
    if len(per_value) == 1:
        return [[t.lower() for t in c] for c in per_value[0]]
    return [[t.lower() for choices in per_value for t in choices[0]]]  # one of any value


_JSON_ESCAPED = re.compile(r'["\\/\x00-\x1f]')


def _raw_safe(literal: str) -> str:
    """The longest part of `literal` a JSON text holds verbatim whatever its escaping choices:
    quotes, backslashes, slashes and control characters may be escaped, so they split it.
    (A `\\u` escape can spell any character: rows holding one are candidates of every rule
    with such atoms, see `prefilter.candidate_pairs`.)"""
    return max(_JSON_ESCAPED.split(literal), key=len)


def _keyword_sets(keyword: ir.Keyword, columns: Columns) -> list[Atoms]:
    atoms = _keyword_atoms(keyword, columns)
    return [] if atoms is None else [atoms]


def _keyword_atoms(keyword: ir.Keyword, columns: Columns) -> Atoms | None:
    """Keywords are searched where the binder searches them (`lower.keyword`): the source's
    keyword columns, else `raw`. A JSON text may hold a value in its JSON-escaped spelling,
    or spell part of it with an escape the binder decodes (its rows hold that escape)."""
    if columns.keyword_columns is None:
        if columns.schema.get(RAW) != pl.String:
            return None  # every String column is searched: no help
        searched = [RAW]
    else:
        searched = [c for c in columns.keyword_columns if c in columns.schema]
    if any(columns.schema[c] != pl.String for c in searched):
        return None
    texts = _keyword_texts(keyword)
    if texts is None:
        return None
    atoms: set[Atom] = set()
    for column in searched:
        json_text = column == RAW or column in columns.opaque
        spellings = {t for text in texts for t in (text, _json_spelling(text) if json_text else text)}
        if column == RAW and columns.raw_is_json:
            spellings |= set(hiding_escapes(texts, pattern=keyword.op in ("match", "regex")))
        atoms |= {(column, "text", t) for t in spellings}
    return frozenset(atoms)


def _keyword_texts(keyword: ir.Keyword) -> list[str] | None:
    """Lowercased literals one of which every text the keyword matches holds; None: none."""
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
    return None if any(t == "" for t in texts) else texts


def _json_spelling(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


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


def regex_literal_choices(pattern: str, usable: Callable[[str], str] = str) -> list[list[str]]:
    """Choices of literals one of which every match of `pattern` contains, each literal cut by
    `usable` (the part of it that can be searched for); longest shortest literal first.

    Each literal run at the pattern's top level is a choice; so is an alternation there (or a
    group holding one) whose every branch has a choice, taking the k-th choice of each branch.

    >>> regex_literal_choices(r"mimikatz\\.exe|sekurlsa::")
    [['mimikatz.exe', 'sekurlsa::']]
    >>> regex_literal_choices(r'"(?:allow|deny)ed" by policy')
    [['ed" by policy'], ['allow', 'deny'], ['"']]
    """
    try:
        parsed = _regex_parser.parse(pattern)
    except Exception:  # any pattern Python cannot read: no literal, the rule runs everywhere
        return []
    return _choices(list(parsed), usable)


def _choices(items: list[tuple[object, object]], usable: Callable[[str], str]) -> list[list[str]]:
    found: list[list[str]] = []
    current: list[str] = []
    for opcode, argument in [*items, (None, None)]:
        if opcode is _LITERAL and isinstance(argument, int) and argument < 128:
            current.append(chr(argument))
            continue
        if current:
            found.append([usable("".join(current))])
            current = []
        branches = _branches(opcode, argument)
        if branches:
            per_branch = [_choices(list(b), usable) for b in branches]  # type: ignore[call-overload]
            if all(per_branch):
                depth = max(len(c) for c in per_branch)
                for k in range(min(depth, MAX_SETS)):
                    found.append([t for c in per_branch for t in c[min(k, len(c) - 1)]])
    found = [f for f in found if all(f)]
    unique = {tuple(f): f for f in found}.values()
    return sorted(unique, key=lambda f: min(map(len, f)), reverse=True)


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


def quality(atoms: Atoms) -> tuple[int, int, int, int]:
    """Prefer literal sets whose shortest literal is long (selective), then fewer atoms."""
    if not atoms:
        return (2, 0, 0, 0)  # never matches: the best possible
    texts = [len(str(v)) for _, kind, v in atoms if kind in ("text", "json")]
    shortest = min(texts) if texts else MIN_QUALITY_LENGTH
    long_enough = int(shortest >= MIN_QUALITY_LENGTH)
    on_columns = int(all(column != RAW for column, kind, _ in atoms if kind == "json"))  # raw is long
    return (long_enough, on_columns, shortest, -len(atoms))


