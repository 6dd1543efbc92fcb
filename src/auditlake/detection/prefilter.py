"""Candidate rows per rule, found in one pass, so each rule runs only where it could match.

Thousands of rules over one partition cost rules x rows when every rule is evaluated on every
row. Yet a rule can only match a row that holds an atom of each of its *necessary sets*
(`atoms`): literals that must occur in a text column, numbers a numeric column must equal. A
rule's route conditions (EventID, then Channel) are ANDed into its expression and so are a
necessary set too, offered after the condition's own: an EventID holds most rows of its channel.
A rule with several routes takes one set of each, joined.

One Aho-Corasick pass per text column (`str.extract_many`, overlapping) and one join per
numeric column find where every atom of every rule occurs. A rule with several sets takes the
one whose atoms occur in the fewest rows, counted in that same pass (so `.exe` gives way to a
rarer literal of the same rule), and its (row, rule) candidate pairs come from that set; each
rule's exact expression then runs on its candidate rows only. A large frame's sets are first
judged on a sample of its rows, and a set occurring in far more rows than its rule's rarest is
not searched at all. A long column's literals (the raw JSON of every event) are searched only
in the rows their rules' routes allow, behind a gate (`text_gate`). Candidate rows are a
superset of matching rows, so the result equals evaluating every rule on every row
(`evaluate.evaluate`); a differential test holds the two paths together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from auditlake.detection import ir
from auditlake.detection.atoms import MAX_SETS, RAW, Atoms, Columns, necessary_sets, or_unions
from auditlake.detection.compile import CompiledRule
from auditlake.detection.distinct_values import (
    MIN_ROWS,
    evenly_spread,
    merge_equal_rows,
    split_merged_rows,
    values_repeat,
)
from auditlake.detection.frame_size import estimated_bytes
from auditlake.detection.logsources import effective_field_map
from auditlake.detection.text_gate import gate

ROW = "__row"
_PAIRS = {ROW: pl.UInt32, "rule": pl.UInt32}


@dataclass(frozen=True)
class RulePlan:
    """A rule's necessary sets on one source, most promising first; a matching row holds an
    atom of each, so any one of them gives its candidates. None: every row is a candidate."""

    rule: CompiledRule
    sets: tuple[Atoms, ...] | None
    scope: Atoms | None = None
    """The route's own conditions as atoms (see `_route_atoms`), joined over the rule's routes:
    the rule can only match rows holding one. None: no such atoms on some route."""

    @property
    def everywhere(self) -> bool:
        return self.sets is None


def plan_rules(rules: Sequence[CompiledRule], columns: Columns, source: str) -> list[RulePlan]:
    """Each rule's necessary sets on `source`'s columns."""
    return [RulePlan(rule, _rule_sets(rule, columns, source), _scope(rule, columns, source)) for rule in rules]


def _rule_sets(rule: CompiledRule, columns: Columns, source: str) -> tuple[Atoms, ...] | None:
    per_route: list[list[Atoms]] = []
    found: dict[ir.Node, list[Atoms]] = {}  # routes whose field names leave the condition the same
    for alt in rule.routes:
        if alt.source != source:
            continue
        renamed = ir.rename_fields(rule.condition, effective_field_map(alt))
        if renamed not in found:
            found[renamed] = necessary_sets(renamed, columns)
        sets = found[renamed]
        route = _route_atoms(alt.conditions, columns)
        if route is not None:
            # The route's EventID is cheap to find but holds most rows of its channel: offer it
            # last, after the condition's sets worth a search; the hit counts decide.
            sets = [*[s for s in sets if _worth_searching(s)][: MAX_SETS - 1], route]
        if not sets:
            return None
        per_route.append([frozenset()] if frozenset() in sets else list(dict.fromkeys(sets)))
    if not per_route:
        return (frozenset(),)  # no route to this source: matches nothing here
    # Routes are alternatives: one set of each, joined, is a necessary set of the rule.
    return tuple(or_unions(per_route))


def _worth_searching(atoms: Atoms) -> bool:
    """Whether a set may be searched when the route's EventID is there to fall back on: not
    when it reads fields by path from `raw` (their search costs more than it would save; a
    keyword's literal searches `raw` anyway). A single character is: where it holds in most
    rows, a large frame's sample shows it before it is searched (`_likely_rarest`), and
    where it is rare (the backtick of obfuscated PowerShell) it spares a pass over every row."""
    return not any(kind == "json" and column == RAW for column, kind, _ in atoms)


def _scope(rule: CompiledRule, columns: Columns, source: str) -> Atoms | None:
    routes = [_route_atoms(alt.conditions, columns) for alt in rule.routes if alt.source == source]
    if not routes or any(route is None for route in routes):
        return None
    return frozenset().union(*routes)  # type: ignore[arg-type]


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


def _is_integer(dtype: pl.DataType | None) -> bool:
    return dtype is not None and dtype.is_integer()


def candidate_filter(plans: Sequence[RulePlan]) -> pl.Expr | None:
    """A row filter keeping every row some rule could match (each rule's first set), to push
    into a scan so the other columns are decoded for those rows only; None when some rule
    must look at every row. Worth it for a few rules, not for thousands (it keeps nearly all)."""
    if not plans or any(p.sets is None for p in plans):
        return None
    tests = [_set_test(plan.sets[0]) for plan in plans if plan.sets and plan.sets[0]]
    if not tests:
        return pl.lit(False)
    return pl.any_horizontal(tests).fill_null(False)


def _set_test(atoms: Atoms) -> pl.Expr:
    """Whether a row holds one of `atoms` (or is one no literal search can vouch for)."""
    tests: list[pl.Expr] = []
    by_column: dict[tuple[str, str], list[str]] = {}
    for column, kind, value in atoms:
        by_column.setdefault((column, kind), []).append(str(value))
    for (column, kind), values in sorted(by_column.items()):
        if kind == "num":
            tests.append(pl.col(column).cast(pl.Int64, strict=False).is_in(pl.Series(values).cast(pl.Int64).implode()))
            continue
        text = pl.col(column)
        ascii_needles = sorted(v for v in values if v.isascii())
        other_needles = sorted(v for v in values if not v.isascii())
        if ascii_needles:
            tests.append(text.str.contains_any(ascii_needles, ascii_case_insensitive=True))
        if other_needles:
            tests.append(text.str.to_lowercase().str.contains_any(other_needles))
        tests.append(_lowers_to_ascii(text))
        if kind == "json":
            tests.append(text.str.contains("\\u", literal=True))
    return pl.any_horizontal(tests)


def candidate_pairs(
    frame: pl.DataFrame,
    plans: Sequence[RulePlan],
    atoms: pl.DataFrame | None = None,
    repeating: dict[str, bool] | None = None,
) -> pl.DataFrame:
    """(row, rule index) pairs where the atoms of the rule's chosen set occur, possibly
    repeated; `frame` has a `ROW` column. Rules without sets are left out. `atoms`: the
    atoms to search, as `searched_atoms` gives them (for `frame` itself by default).
    `repeating`: whether each searched column's values repeat, judged on an earlier batch of
    the same source, reused and filled in (see `_occurrences`)."""
    if atoms is None:
        atoms, _ = searched_atoms(frame, plans)
    if atoms.is_empty():
        return pl.DataFrame(schema=_PAIRS)
    scopes = [plan.scope for plan in plans]
    found, exact = _occurrences(frame, atoms, scopes, {} if repeating is None else repeating)
    chosen = _choose_sets(atoms, found)
    parts = [
        split_merged_rows(hits.join(chosen.filter(pl.col("column") == column), on="needle").select(ROW, "rule"), ROW)
        for column, hits in found.items()
    ]
    parts += _everyones_rows(frame, chosen, exact)
    return pl.concat(parts) if parts else pl.DataFrame(schema=_PAIRS)


def searched_atoms(frame: pl.DataFrame, plans: Sequence[RulePlan]) -> tuple[pl.DataFrame, bool]:
    """The atoms of the plans' sets worth searching in `frame` (one row per rule, set and
    atom), and whether a sample of its rows judged them (`_likely_rarest`).

    A sampled answer may be reused for other batches of the same source and rules: it only
    steers the search, and whichever sets are searched, each rule's candidates hold all its
    matches.
    """
    atoms = _atom_table(plans)
    if atoms.is_empty() or frame.height < 4 * SAMPLE_ROWS:
        return atoms, False
    return _likely_rarest(frame, atoms, [plan.scope for plan in plans]), True


ATOM_TABLE_SCHEMA = pl.Schema(
    {"column": pl.String, "kind": pl.String, "needle": pl.String, "rule": pl.UInt32, "set": pl.UInt32}
)
"""One row per (rule, set, atom) searched: `searched_atoms`' answer."""


def _atom_table(plans: Sequence[RulePlan]) -> pl.DataFrame:
    """One row per (rule, set, atom); numbers as text, like the needles they are joined to."""
    rows = [
        (column, kind, str(value), index, number)
        for index, plan in enumerate(plans)
        if plan.sets
        for number, atoms in enumerate(plan.sets)
        for column, kind, value in atoms
    ]
    return pl.DataFrame(rows, schema=ATOM_TABLE_SCHEMA, orient="row")


def _occurrences(
    frame: pl.DataFrame, atoms: pl.DataFrame, scopes: Sequence[Atoms | None], repeating: dict[str, bool]
) -> tuple[dict[str, pl.DataFrame], frozenset[str]]:
    """Per searched column, (row, needle) wherever an atom occurs (json atoms search `raw`);
    a column searched by distinct value gives the list of its rows instead of one row. Also
    the text columns searched in their lowercased text, whose hits are exact (no row of them
    needs `_everyones_rows`).

    Whether a column's values repeat is looked up in `repeating`, else judged on `frame` and
    kept there when the frame is large enough to judge: the batches of one source hold the
    same kinds of values, and a wrong guess costs only speed, never a hit.

    All searches are collected together, so Polars runs them on every core. A column whose
    values repeat (programs, channels, most command lines) is searched once per distinct
    value; a long text column of mostly distinct values is searched in row slices, so it is
    not left to one core while the others wait, and each of its literals only in the rows the
    routes of the rules searching for it allow (`scopes`, by rule index), behind a gate.
    """
    searches = atoms.group_by("column", numeric=pl.col("kind") == "num").agg(pl.col("needle").unique().sort())
    columns: list[str] = []
    queries: list[pl.LazyFrame] = []
    lowered: set[str] = set()
    for column, numeric, needles in searches.sort("column", "numeric").iter_rows():
        repeats = repeating.get(column)
        if repeats is None:
            repeats = values_repeat(frame.get_column(column))
            if frame.height >= MIN_ROWS:
                repeating[column] = repeats
        slices = _slices(frame, column)
        if repeats or numeric or len(slices) == 1:
            lowering = not numeric and (repeats or len(needles) >= MANY_NEEDLES)
            if lowering:
                lowered.add(column)
            parts = _numbers(column, needles) if numeric else _text_searches(column, needles, lowered=lowering)
            # A repeating column is searched once per distinct value, with the rows holding it;
            # a null holds no atom, and most of a Windows column's rows are null (the field
            # belongs to other event types), so those rows are not grouped at all.
            searched = _distinct_values(frame, column) if repeats else frame.lazy()
            column_queries = [searched.select(pl.col(ROW), e.alias("needle")) for e in parts]
        else:
            groups = _by_scope(atoms.filter(pl.col("column") == column), scopes)
            column_queries = _long_column_queries(frame, column, slices, groups)
        columns += [column] * len(column_queries)
        queries += column_queries
    found: dict[str, list[pl.DataFrame]] = {}
    for column, result in zip(columns, pl.collect_all(queries), strict=True):
        hits = result if result.schema["needle"] == pl.String else result.explode("needle")
        found.setdefault(column, []).append(hits.drop_nulls("needle"))
    return {column: pl.concat(parts) for column, parts in found.items()}, frozenset(lowered)


def _distinct_values(frame: pl.DataFrame, column: str) -> pl.LazyFrame:
    """Each non-null value of `column` once, with the list of rows holding it."""
    return frame.lazy().filter(pl.col(column).is_not_null()).group_by(column).agg(pl.col(ROW))


MANY_NEEDLES = 2000
"""Literals from which a column is lowercased and searched case-sensitively even when its values
do not repeat: folding case slows the Aho-Corasick search of thousands of literals more than
lowercasing costs (the IOC rules' 5,700 hashes over `Hashes`: 0.15 → 0.09 s per 286k events;
with 1,000 or fewer the two take the same)."""


def _by_scope(atoms: pl.DataFrame, scopes: Sequence[Atoms | None]) -> dict[Atoms | None, list[str]]:
    """A column's needles grouped by the rows worth searching for them: the union of the
    scopes of the rules searching for each (None, every row, when one has no scope)."""
    grouped: dict[Atoms | None, list[str]] = {}
    for needle, rules in atoms.group_by("needle").agg(pl.col("rule").unique()).sort("needle").iter_rows():
        parts = [scopes[rule] for rule in rules]
        scope = None if any(part is None for part in parts) else frozenset().union(*parts)
        grouped.setdefault(scope, []).append(needle)
    return grouped


def _long_column_queries(
    frame: pl.DataFrame, column: str, slices: list[tuple[int, int]], groups: dict[Atoms | None, list[str]]
) -> list[pl.LazyFrame]:
    """Searches of a long column: a scope's needles on its rows when they are few, the rest on
    every row, slice by slice, behind a gate."""
    everywhere, scoped = _scoped_rows(frame, column, groups)
    queries = [
        rows.lazy().select(pl.col(ROW), needle_expr.alias("needle"))
        for rows, needles in scoped
        for needle_expr in _text_searches(column, needles)
    ]
    if not everywhere:
        return queries
    first_pass = gate(column, everywhere, evenly_spread(frame.select(column), GATE_SAMPLE_ROWS))
    for start, length in slices:
        for needle_expr in _text_searches(column, everywhere):
            query = frame.lazy().slice(start, length)
            if first_pass is not None:
                query = query.filter(first_pass)
            queries.append(query.select(pl.col(ROW), needle_expr.alias("needle")))
    return queries


GATE_SAMPLE_ROWS = 1024
"""Rows, evenly spread, on which a gate's pieces are tried before they are trusted."""
SCOPED_SHARE = 0.25
"""Largest share of a frame's rows a scope may hold to be searched on its own rows: beyond,
copying them costs more than searching every row behind the shared gate."""


def _scoped_rows(
    frame: pl.DataFrame, column: str, groups: dict[Atoms | None, list[str]]
) -> tuple[list[str], list[tuple[pl.DataFrame, list[str]]]]:
    """The needles to search on every row, and (rows, needles) for scopes holding few rows."""
    everywhere = list(groups.get(None, []))
    scopes = [(scope, needles) for scope, needles in groups.items() if scope is not None]
    if not scopes:
        return everywhere, []
    # Scopes test a route's EventID or Channel, whose values repeat: test each distinct one.
    tested = list(dict.fromkeys(c for scope, _ in scopes for c, _, _ in scope))
    distinct = merge_equal_rows(frame.select(ROW, *tested), tested, ROW)
    masks = distinct.select(
        pl.col(ROW), *(_set_test(scope).fill_null(False).alias(str(n)) for n, (scope, _) in enumerate(scopes))
    )
    scoped = []
    for n, (_, needles) in enumerate(scopes):
        rows = split_merged_rows(masks.filter(pl.col(str(n))).select(ROW), ROW).get_column(ROW).sort()
        if rows.len() > SCOPED_SHARE * frame.height:
            everywhere += needles
        else:
            scoped.append((frame.select(ROW, column).filter(pl.col(ROW).is_in(rows.implode())), needles))
    return sorted(set(everywhere)), scoped


SLICE_BYTES = 64 * 2**20
"""Text searched per query: a column holding more is split into row slices searched in parallel."""


def _slices(frame: pl.DataFrame, column: str) -> list[tuple[int, int]]:
    if frame.height == 0:
        return [(0, 0)]
    size = estimated_bytes(frame.get_column(column)) if frame.schema[column] == pl.String else 0
    count = max(1, min(8, int(size) // SLICE_BYTES))
    step = -(-frame.height // count)
    return [(start, step) for start in range(0, frame.height, step)]


SAMPLE_ROWS = 4096
"""Rows, evenly spread, searched first to tell which of a rule's sets could be its rarest."""
SAMPLE_SLACK = 0.01
"""Share of the sampled rows by which a set may exceed the rule's rarest and still be
searched: a sample's counts are rough, and a wrong guess costs only speed."""


def _likely_rarest(frame: pl.DataFrame, atoms: pl.DataFrame, scopes: Sequence[Atoms | None]) -> pl.DataFrame:
    """The atoms of the sets that a sample of rows shows could be their rule's rarest.

    A set whose literal holds in most rows is then not searched at all: one such literal
    (`principal`, in every CloudTrail record's JSON) can cost more than the rest of the
    search, and it is never chosen while the rule has a rarer set.
    """
    sample = evenly_spread(frame, SAMPLE_ROWS)
    rows = _set_rows(atoms, _occurrences(sample, atoms, scopes, {})[0])
    rarest = pl.col("rows").min().over("rule")
    likely = rows.filter(pl.col("rows") <= pl.max_horizontal(2 * rarest, rarest + SAMPLE_SLACK * sample.height))
    return atoms.join(likely.select("rule", "set"), on=["rule", "set"], how="semi")


def _choose_sets(atoms: pl.DataFrame, found: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The atoms of each rule's set that occurs in the fewest rows of this frame (of those
    searched: a set with an atom not searched counts as occurring nowhere, so `found` must
    hold every atom of each set or none of it)."""
    chosen = (
        _set_rows(atoms, found)
        .sort("rule", "rows", "set")
        .group_by("rule", maintain_order=True)
        .first()
    )
    return atoms.join(chosen.select("rule", "set"), on=["rule", "set"], how="semi")


def _set_rows(atoms: pl.DataFrame, found: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """(rule, set, rows): how many rows each set's atoms occur in, summed over its atoms."""
    counts = pl.concat(
        [hits.group_by("needle").agg(_rows_held(hits).alias("len")).with_columns(pl.lit(column).alias("column"))
         for column, hits in found.items()]
    )
    return (
        atoms.join(counts, on=["column", "needle"], how="left")
        .group_by("rule", "set")
        .agg(pl.col("len").fill_null(0).sum().alias("rows"))
    )


def _rows_held(hits: pl.DataFrame) -> pl.Expr:
    """How many rows a needle's hits stand for (a hit on a distinct value holds all its rows)."""
    held = pl.col(ROW).list.len().sum() if isinstance(hits.schema[ROW], pl.List) else pl.len()
    return held.cast(pl.Int64)


def _everyones_rows(frame: pl.DataFrame, chosen: pl.DataFrame, lowered: frozenset[str]) -> list[pl.DataFrame]:
    """Rows no needle search can vouch for, paired with every rule that searched there.

    A JSON text may spell any character as a `\\u` escape, so a row whose JSON text (`raw`, or
    an array's column) holds one is a candidate of every rule whose chosen set searches that
    text for a JSON field's literal; rows whose text lowercases to ASCII from non-ASCII are
    candidates of every text search there (see `_text_searches`), unless the column was
    searched in its lowercased text (`lowered`).
    """
    tests: list[tuple[pl.Expr, pl.DataFrame]] = []
    json_atoms = chosen.filter(pl.col("kind") == "json")
    for column in json_atoms["column"].unique().sort().to_list():
        rules = json_atoms.filter(pl.col("column") == column).select("rule").unique()
        tests.append((pl.col(column).str.contains("\\u", literal=True), rules))
    text = chosen.filter((pl.col("kind") != "num") & ~pl.col("column").is_in(sorted(lowered)))
    for column in text["column"].unique().sort().to_list():
        rules = text.filter(pl.col("column") == column).select("rule").unique()
        tests.append((_lowers_to_ascii(pl.col(column)), rules))
    if not tests:
        return []
    # One pass over the tested columns alone: filtering the whole frame would copy every column.
    flags = frame.lazy().select(ROW, *[test.alias(f"_{n}") for n, (test, _) in enumerate(tests)]).collect()
    parts = []
    for n, (_, rules) in enumerate(tests):
        rows = flags.filter(pl.col(f"_{n}")).select(ROW)
        if rows.height:
            parts.append(rows.join(rules, how="cross"))
    return parts


def _numbers(column: str, values: list[str]) -> list[pl.Expr]:
    wanted = pl.Series(values).cast(pl.Int64).implode()
    value = pl.col(column).cast(pl.Int64)
    return [pl.when(value.is_in(wanted)).then(value.cast(pl.String))]


def _text_searches(column: str, needles: list[str], *, lowered: bool = False) -> list[pl.Expr]:
    """Expressions giving each row the lowercased literals that occur in lowercased `column`.

    Lowercasing whole columns is the costly part, so ASCII literals are found in the original
    text with ASCII case folding, which agrees with lowercasing except for the few characters
    whose lowercase is ASCII (the Kelvin sign, dotted capital I): rows holding one of those
    are made candidates of every rule searching the column (`_everyones_rows`). Other
    literals search the lowercased text. Repeated pairs are harmless: the caller keeps each
    row once per rule. With `lowered` (a column searched by distinct value, where lowercasing
    is cheap, or for thousands of literals, see `MANY_NEEDLES`), all literals search the
    lowercased text, which is then faster than folding case.
    """
    text = pl.col(column)
    if lowered:
        return [text.str.to_lowercase().str.extract_many(needles, overlapping=True)]
    ascii_needles = [n for n in needles if n.isascii()]
    other_needles = [n for n in needles if not n.isascii()]
    found: list[pl.Expr] = []
    if ascii_needles:
        matches = text.str.extract_many(ascii_needles, overlapping=True, ascii_case_insensitive=True)
        found.append(matches.list.eval(pl.element().str.to_lowercase()))
    if other_needles:
        found.append(text.str.to_lowercase().str.extract_many(other_needles, overlapping=True))
    return found


ASCII_LOWERING = "\u0130\u212a"
"""The non-ASCII characters whose lowercase contains ASCII: dotted capital I, Kelvin sign
(a test recomputes the set from Python's Unicode tables)."""


def _lowers_to_ascii(text: pl.Expr) -> pl.Expr:
    """Whether the text holds a character of `ASCII_LOWERING` (a literal search: a regex class
    costs several times more per row)."""
    return text.str.contains_any(list(ASCII_LOWERING))
