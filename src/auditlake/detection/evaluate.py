"""Evaluate compiled rules on a LazyFrame, and explain one rule's verdict on events.

All rules bound to one frame run in a single `with_columns` pass; Polars shares common
subexpressions (one lowercased `CommandLine` for every rule that reads it). The result has one
row per (event, matching rule).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, partial

import polars as pl

from auditlake.detection import ir
from auditlake.detection.atoms import Columns
from auditlake.detection.compile import CompiledRule, RuleSet
from auditlake.detection.correlate import evaluate_correlation
from auditlake.detection.correlation_plan import CorrelationPlan
from auditlake.detection.distinct_values import merge_equal_rows, split_merged_rows
from auditlake.detection.json_members import crosses_array
from auditlake.detection.logsources import (
    effective_field_map,
    json_arrays,
    json_list_columns,
    json_objects,
    keyword_columns,
)
from auditlake.detection.lower import (
    PARTITION_SOURCE,
    RUNTIME_ENV,
    BindOptions,
    Schema,
    bind,
    json_location,
    lower,
)
from auditlake.detection.lowered_once import PREFIX, lowered_once_all, lowerings
from auditlake.detection.narrow_rules import (
    DEFER_ROWS,
    RANK,
    BoundRule,
    DeferredRules,
    matched_rows,
    narrow_hits,
)
from auditlake.detection.plancache import judged_key, load_judged, planned, store_judged
from auditlake.detection.prefilter import (
    ATOM_TABLE_SCHEMA,
    ROW,
    RulePlan,
    candidate_pairs,
    searched_atoms,
)
from auditlake.detection.raw_json import array_prefix, json_path, json_text_column
from auditlake.errors import UnknownSourceError

RULE_ID_COLUMN = "rule_id"

RAW_JSON_SOURCES = frozenset(
    {"aws.cloudtrail", "okta.system", "github.audit", "gcp.audit", "k8s.audit", "gateway.teleport"}
)
"""Built-in sources whose `raw` is the native JSON record, so a field without a column is read
by path; a generic mapping's source too (`reads_json_paths`)."""


@cache
def reads_json_paths(source: str) -> bool:
    """Whether a field without a column of its own is read from `raw` by path on `source`: a
    built-in JSON source, or a generic mapping's (a source the registry does not know, whose
    `raw` is the application's JSON record and whose native columns stop at a depth)."""
    if source in RAW_JSON_SOURCES:
        return True
    from auditlake.sources.registry import lookup

    try:
        lookup(source)
    except UnknownSourceError:
        return True
    return False


EVIDENCE_SOURCE_COLUMNS = (
    "event_uid",
    "time",
    "source",
    "ingested_at",
    "actor_name",
    "actor_id",
    "src_ip",
    "target_name",
    "target_id",
)
"""Event columns an alert keeps (see `alerts.evidence_frame`)."""


def needed_columns(
    rules: Iterable[CompiledRule], schema: Schema, source: str, *, keep: Iterable[str] = EVIDENCE_SOURCE_COLUMNS
) -> list[str]:
    """The columns the rules read on `source`, plus `keep` (what alerts keep of an event)."""
    names: set[str] = {c for c in keep if c in schema}
    needs_raw = False
    for rule in rules:
        fields, has_keyword = rule.reads(source)
        needs_raw |= has_keyword
        if has_keyword:  # what a keyword searches besides `raw` (`logsources.KEYWORD_COLUMNS`)
            names.update(c for c in keyword_columns(source) or () if c in schema and c != "raw")
        for name in fields:
            if name in schema:
                names.add(name)
            elif isinstance(schema.get(name.split(".", 1)[0]), pl.Struct):
                names.add(name.split(".", 1)[0])  # read as a struct path
            elif reads_json_paths(source):
                text = json_text_column(name, schema, json_arrays(source), json_objects(source)) or "raw"
                names.add(text)  # `raw`, or the JSON column of the array or object it lies in
    if needs_raw and "raw" in schema:
        names.add("raw")
    return [n for n in schema if n in names]


def bind_options(
    source: str | None, array_columns: frozenset[str] | None = None, flat_paths: frozenset[str] = frozenset()
) -> BindOptions:
    """How rules meet a partition of `source` (None: a frame of unknown origin). When the rows
    are known: `array_columns`, the only columns holding a JSON array's text in them
    (`array_columns_of`), and `flat_paths`, fields read by path that cross no array in them
    (`flat_paths_of`)."""
    if source is None:
        return BindOptions()
    return BindOptions(
        source=source,
        json_fallback=reads_json_paths(source),
        keyword_columns=keyword_columns(source),
        json_list_columns=json_list_columns(source),
        json_arrays=json_arrays(source),
        json_objects=json_objects(source),
        native_arrays=reads_json_paths(source),
        array_columns=array_columns,
        flat_paths=flat_paths,
        raw_is_json=raw_is_json(source),
    )


def array_columns_of(frame: pl.DataFrame, source: str) -> frozenset[str]:
    """The columns of `frame` that may hold a JSON array's text (`BindOptions.native_arrays`)
    and hold one in some row: one cheap pass over those columns, which spares every leaf on
    the others its test of members."""
    options = bind_options(source)
    columns = [name for name, dtype in frame.schema.items() if options.may_hold_array(name, dtype)]
    if not columns:
        return frozenset()
    found = frame.select(pl.col(c).str.starts_with("[").any() for c in columns).row(0)
    return frozenset(c for c, holds in zip(columns, found, strict=True) if holds)


@cache
def raw_is_json(source: str) -> bool:
    """Whether a source's `raw` is JSON text (a source this registry does not know is a
    generic mapping's, which reads JSON). The registry is imported here, on first use: it
    imports every source."""
    from auditlake.sources.registry import lookup

    try:
        return lookup(source).raw_format.endswith("json")
    except UnknownSourceError:
        return True


def flat_paths_of(rules: Iterable[CompiledRule], frame: pl.DataFrame, schema: Schema, source: str) -> frozenset[str]:
    """The fields the rules read by JSON path (from a text column of `frame`; `schema` adds
    the columns read later) that cross no array in any row of `frame`: one search per text
    column (`json_members.crosses_array`), which spares each leaf on them reading members."""
    options = bind_options(source)
    if not options.json_fallback:
        return frozenset()
    by_column: dict[str, list[tuple[str, list[str]]]] = {}
    for name in sorted({name for rule in rules for name in rule.reads(source)[0]}):
        if name in schema or isinstance(schema.get(name.split(".", 1)[0]), pl.Struct):
            continue
        found = json_location(name, schema, options)
        if found is not None and found[0] in frame.columns:
            by_column.setdefault(found[0], []).append((name, found[1].split(".")))
    flat = set()
    for column, fields in by_column.items():
        crossing = crosses_array(frame.get_column(column), [keys for _, keys in fields])
        flat |= {name for (name, _), crosses in zip(fields, crossing, strict=True) if not crosses}
    return frozenset(flat)


def atom_columns(schema: Schema, source: str, array_columns: frozenset[str] | None = None) -> Columns:
    """What the binder sees of `schema` on a partition of `source`, for finding atoms."""
    options = bind_options(source, array_columns)
    return Columns(
        pl.Schema(schema), options.json_list_columns, options.json_fallback, options.json_arrays,
        options.json_objects, options.keyword_columns, options.native_arrays, options.raw_is_json,
        options.array_columns,
    )


def rule_expressions(
    rules: Iterable[CompiledRule], schema: Schema, *, source: str | None = None
) -> dict[str, pl.Expr]:
    """Each rule bound to `schema` (rule id → boolean expression, never null).

    A lake frame (it has the `source` partition column) gets each rule restricted to its lake
    sources, in their field names; unroutable rules are left out. Any other frame is matched by
    the rules' conditions alone, in Sigma's field names.
    """
    options = bind_options(source)
    from_lake = PARTITION_SOURCE in schema or source is not None
    out: dict[str, pl.Expr] = {}
    for rule in rules:
        if not from_lake:
            out[rule.id] = bind(rule.condition, schema, options)
        elif rule.routes and (source is None or source in rule.sources):
            out[rule.id] = bind(rule.routed(source), schema, options)
    return out


def evaluate(
    rules: Iterable[CompiledRule], frame: pl.LazyFrame, *, source: str | None = None
) -> pl.LazyFrame:
    """The events any rule matches, one row per (event, rule) with the rule's id.

    A lake frame holding several sources is evaluated source by source, so each source's
    binding options (JSON fallback, JSON list columns) apply to its own rows.
    """
    rules = list(rules)
    schema = frame.collect_schema()
    if source is not None or PARTITION_SOURCE not in schema:
        return _evaluate_one(rules, frame, schema, source)
    sources = sorted({s for rule in rules for s in rule.sources})
    parts = [
        _evaluate_one(rules, frame.filter(pl.col(PARTITION_SOURCE) == name), schema, name)
        for name in sources
    ]
    if not parts:
        return _no_matches(frame)
    return pl.concat(parts, how="diagonal_relaxed")


def _evaluate_one(
    rules: list[CompiledRule], frame: pl.LazyFrame, schema: Schema, source: str | None
) -> pl.LazyFrame:
    return _flagged(frame, rule_expressions(rules, schema, source=source))


def _flagged(frame: pl.LazyFrame, expressions: Mapping[str, pl.Expr]) -> pl.LazyFrame:
    """The rows of `frame` some expression (by rule id) holds on, one per (row, rule id)."""
    if not expressions:
        return _no_matches(frame)
    flags = {f"__rule_{i}": (rule_id, expr) for i, (rule_id, expr) in enumerate(expressions.items())}
    ids = pl.concat_list(
        [pl.when(pl.col(flag)).then(pl.lit(rule_id)) for flag, (rule_id, _) in flags.items()]
    )
    return (
        frame.with_columns([expr.alias(flag) for flag, (_, expr) in flags.items()])
        .filter(pl.any_horizontal(list(flags)))
        .with_columns(ids.list.drop_nulls().alias(RULE_ID_COLUMN))
        .explode(RULE_ID_COLUMN)
        .drop(list(flags))
    )


BROAD_SHARE = 0.2
"""Rules with candidates in more than this share of a frame's rows are evaluated together on
the union of their candidates, in one pass, rather than one by one."""


@dataclass(frozen=True)
class LateColumns:
    """Columns left out of a frame, read only for the rows some rule needs them on: the raw
    record, which a few rules read a field of by path on their candidate rows, is most of a
    batch's bytes."""

    schema: pl.Schema
    """Their names and types."""
    read: Callable[[pl.Series | None], pl.DataFrame]
    """Given sorted row positions of the frame (None: every row), those rows' `ROW` and
    columns, in order."""


def evaluate_candidates(
    rules: Iterable[CompiledRule],
    frame: pl.DataFrame,
    *,
    source: str,
    keep: Sequence[str] | None = None,
    late: LateColumns | None = None,
    deferred: DeferredRules | None = None,
) -> pl.DataFrame:
    """`evaluate` for one source's events in memory, each rule run on its candidate rows only.

    Same rows and rule ids as `evaluate(rules, frame.lazy(), source=source)`, in row order;
    see `prefilter` for why and how candidates are found. `keep` limits the matched rows to
    those columns (all by default): a rule matching most rows then copies only what is needed.
    `late` columns are read for the candidate rows of the rules that read them (for every row
    when the candidate search itself needs them); `keep` must not name them.

    With `deferred`, the rules with few candidate rows here are held there and run on the
    rows of several batches at once (`narrow_rules`): their matches come out of a later call,
    after this call's own matches, or out of `deferred.flush()`.
    """
    rules = [r for r in rules if r.routes and source in r.sources]
    schema = pl.Schema({**frame.schema, **(late.schema if late else {})})
    shapes = (array_columns_of(frame, source), flat_paths_of(rules, frame, schema, source))
    prepared = _prepared(rules, schema, source, frozenset(late.schema) if late else frozenset(), shapes)
    plans = prepared.plans
    indexed = frame.with_row_index(ROW)
    output = indexed if keep is None else indexed.select(ROW, *[c for c in keep if c in frame.schema])
    if late is not None and prepared.searches_any(late.schema):
        indexed, late = _with_late(indexed, late, None), None
    pairs = candidate_pairs(indexed, plans, prepared.searched(indexed), prepared.repeating)
    prepared.remember()
    pairs = pairs.group_by("rule").agg(pl.col(ROW).unique().sort()).sort("rule")
    if late is not None:
        indexed = _with_late(indexed, late, _rows_reading(prepared, pairs, late.schema, frame.height))
    found: list[pl.DataFrame] = []  # (ROW, the matching rule's position in `rules`)
    broad = pairs.filter(pl.col(ROW).list.len() > BROAD_SHARE * frame.height)
    everywhere = [i for i, p in enumerate(plans) if p.everywhere]
    together = [*everywhere, *broad["rule"].to_list()]
    if together:  # one pass shares subexpressions and threads; no per-rule gathers
        rows = None if everywhere else broad[ROW].explode().unique().sort()
        reads = needed_columns([plans[i].rule for i in together], schema, source, keep=())
        subset = indexed.select(ROW, *reads) if rows is None else indexed[rows, [ROW, *reads]]
        subset = merge_equal_rows(subset, reads, ROW)
        matched = prepared.together(together, subset).select(ROW, RULE_ID_COLUMN).collect()
        position = {rule.id: n for n, rule in enumerate(rules)}
        rank = pl.col(RULE_ID_COLUMN).replace_strict(position, return_dtype=pl.UInt32).alias(RANK)
        found.append(split_merged_rows(matched, ROW).select(ROW, rank))

    narrow = pairs.filter(pl.col(ROW).list.len() <= BROAD_SHARE * frame.height)
    ids = [rule.id for rule in rules]
    held = None
    if deferred is not None:  # rules with few candidates run later, on several batches' rows
        few = pl.col(ROW).list.len() <= DEFER_ROWS
        kept = [c for c in output.columns if c != ROW]
        held = deferred.add(
            indexed, narrow.filter(few), owner=prepared, bound=prepared.bound, rule_ids=ids,
            id_column=RULE_ID_COLUMN, keep=kept,
        )
        narrow = narrow.filter(~few)
    found.append(narrow_hits(prepared.bound, indexed, narrow))
    result = matched_rows(output, found, ids, RULE_ID_COLUMN)
    return result if held is None else pl.concat([result, held], how="diagonal_relaxed")


def _rows_reading(prepared: _Prepared, pairs: pl.DataFrame, columns: pl.Schema, height: int) -> pl.Series | None:
    """The rows on which some rule reads one of `columns`: its candidates (every row, None,
    for a rule without candidates to narrow it)."""
    if any(plan.everywhere and set(prepared.bound(i).reads) & set(columns) for i, plan in enumerate(prepared.plans)):
        return None
    reading = [i for i in pairs["rule"].to_list() if set(prepared.bound(i).reads) & set(columns)]
    rows = pairs.filter(pl.col("rule").is_in(reading))[ROW].explode()
    return rows.unique().sort().cast(pl.UInt32) if rows.len() < height else None


def _with_late(indexed: pl.DataFrame, late: LateColumns, rows: pl.Series | None) -> pl.DataFrame:
    """`indexed` with the late columns, read for `rows` (all when None; null elsewhere)."""
    if rows is None:
        return indexed.with_columns(late.read(None).drop(ROW))
    found = late.read(rows) if rows.len() else pl.DataFrame(schema={ROW: pl.UInt32, **late.schema})
    positions = found.get_column(ROW)
    if not positions.equals(rows, check_names=False, check_dtypes=False):
        raise ValueError(f"late columns came back for {found.height} of the {rows.len()} rows asked for")
    return indexed.with_columns(
        pl.Series(name, [], dtype).extend_constant(None, indexed.height).scatter(positions, found.get_column(name))
        for name, dtype in late.schema.items()
    )


@dataclass
class _Prepared:
    """What evaluating rules on one source's schema needs besides the rows: reused by every
    batch of the same rules, schema and columns holding JSON arrays."""

    rules: list[CompiledRule]
    schema: Schema
    source: str
    plans: list[RulePlan]
    judged_key: str | None = None
    """Where the judgements below are kept between runs (`plancache.load_judged`)."""
    shapes: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
    """In the batches these are for: the columns holding a JSON array's text, the fields read
    by path that cross no array (`bind_options`)."""
    _bound: dict[int, BoundRule] = field(default_factory=dict)
    _together: dict[tuple[int, ...], tuple[dict[str, pl.Expr], tuple[str, ...]]] = field(default_factory=dict)
    _sampled: pl.DataFrame | None = None
    _kept: bool = False
    """Whether the judgements are those kept on disk (loaded, or stored once made)."""
    repeating: dict[str, bool] = field(default_factory=dict)
    """Whether each searched column's values repeat, as the first large batch showed."""

    def searches_any(self, columns: pl.Schema) -> bool:
        """Whether finding candidates may read one of `columns` (some set has an atom there)."""
        return any(column in columns for plan in self.plans for atoms in plan.sets or () for column, _, _ in atoms)

    def searched(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The atoms to search in `frame`: as the first batch large enough for a sample judged
        them (a sample per batch cost 0.2 s of a 286k-event batch's 2.5), in this run or in an
        earlier one that kept its judgements (`plancache.load_judged`); else all of them."""
        if self._sampled is not None:
            return self._sampled
        judged = load_judged(self.judged_key) if self.judged_key is not None and not self._kept else None
        if judged is not None and self._fits(judged[0]):
            self._sampled, self._kept = judged[0], True
            for column, repeats in judged[1].items():
                self.repeating.setdefault(column, repeats)
            return self._sampled
        atoms, sampled = searched_atoms(frame, self.plans)
        if sampled:
            self._sampled = atoms
        return atoms

    def _fits(self, atoms: pl.DataFrame) -> bool:
        """Whether kept atoms can be these plans' (a damaged cache entry is sampled again)."""
        if atoms.schema != ATOM_TABLE_SCHEMA:
            return False
        return atoms.is_empty() or int(atoms.select(pl.col("rule").max()).item()) < len(self.plans)

    def remember(self) -> None:
        """Keep the judgements of the batch just searched for the next run, once made."""
        if self._kept or self.judged_key is None or self._sampled is None:
            return
        store_judged(self.judged_key, (self._sampled, dict(self.repeating)))
        self._kept = True

    def together(self, indices: list[int], frame: pl.DataFrame) -> pl.LazyFrame:
        """Rules `indices` evaluated side by side on `frame`, as `_evaluate_one` does, each
        column they lowercase more than once in all lowercased once (`lowered_once_all`;
        Polars shares most of those among the expressions of one pass, not all)."""
        key = tuple(indices)
        if key not in self._together:
            self._together[key] = self._lowered_together(indices)
        shared, lowered = self._together[key]
        if not lowered or any(PREFIX + column in frame.columns for column in lowered):
            return _flagged(frame.lazy(), {self.plans[i].rule.id: self.bound(i).expression for i in indices})
        copies = [PREFIX + column for column in lowered]
        return _flagged(frame.lazy().with_columns(lowerings(lowered)), shared).drop(copies)

    def _lowered_together(self, indices: list[int]) -> tuple[dict[str, pl.Expr], tuple[str, ...]]:
        lowerings_of = [self.bound(i).lowering for i in indices]
        if any(lowering is None for lowering in lowerings_of):
            return {}, ()
        codes, lowered = lowered_once_all([lowering() for lowering in lowerings_of if lowering is not None])
        if not lowered:
            return {}, ()
        ids = [self.plans[i].rule.id for i in indices]
        return {rule_id: code.to_expr(RUNTIME_ENV) for rule_id, code in zip(ids, codes, strict=True)}, lowered

    def bound(self, index: int) -> BoundRule:
        """Plan `index`'s rule on the schema: its expression, and the columns it reads."""
        if index not in self._bound:
            rule = self.plans[index].rule
            options = bind_options(self.source, *self.shapes)
            lowering = partial(lower, rule.routed(self.source), self.schema, options)
            reads = needed_columns([rule], self.schema, self.source, keep=())
            self._bound[index] = BoundRule(lowering().to_expr(RUNTIME_ENV), reads, lowering)
        return self._bound[index]


_PREPARED: OrderedDict[tuple[object, ...], _Prepared] = OrderedDict()
PREPARED_KEPT = 8


def _prepared(
    rules: list[CompiledRule],
    schema: Schema,
    source: str,
    late: frozenset[str],
    shapes: tuple[frozenset[str], frozenset[str]],
) -> _Prepared:
    key = (source, tuple(id(r) for r in rules), tuple((n, str(d)) for n, d in schema.items()), late, shapes)
    if key in _PREPARED:
        _PREPARED.move_to_end(key)
        return _PREPARED[key]
    columns = atom_columns(schema, source, shapes[0])
    plans = _sparing(planned(rules, columns, source), late)
    # The entry holds the rules, so their ids in the key cannot be reused by other objects.
    entry = _Prepared(rules, schema, source, plans, judged_key(rules, columns, source, late), shapes)
    _PREPARED[key] = entry
    while len(_PREPARED) > PREPARED_KEPT:
        _PREPARED.popitem(last=False)
    return entry


def _sparing(plans: list[RulePlan], late: frozenset[str]) -> list[RulePlan]:
    """`plans` without the sets that search a late column, when every rule searching one has
    a set of its own condition elsewhere: a set searched in `raw` has every row's `raw` read
    for the search (a GCP rule's keyword beside its `methodName`), where candidates from
    another set need it on their rows only. Otherwise `raw` is read for the search anyway, and
    each rule keeps all its sets: a route's Channel or EventID holds most rows of a source,
    where the keyword beside it may be rare (Windows keyword rules)."""
    if not late:
        return plans
    spared = []
    for plan in plans:
        kept = tuple(atoms for atoms in plan.sets or () if not any(column in late for column, _, _ in atoms))
        if not plan.sets or len(kept) == len(plan.sets):
            spared.append(plan)
        elif any(plan.scope is None or not atoms <= plan.scope for atoms in kept):
            spared.append(replace(plan, sets=kept))
        else:
            return plans
    return spared


def _no_matches(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.head(0).with_columns(pl.lit(None, pl.String).alias(RULE_ID_COLUMN))


def evaluate_correlations(
    ruleset: RuleSet, frame: pl.LazyFrame, *, source: str | None = None
) -> dict[str, pl.DataFrame]:
    """Every correlation's hits (plan key → frame, see `correlate.evaluate_correlation`).

    The referenced detection rules are evaluated once over `frame`; chained correlations take
    their child's hits as events.
    """
    if not ruleset.correlations:
        return {}
    matched = evaluate(correlated_rules(ruleset), frame, source=source).collect()
    return correlate_matched(ruleset, matched)


def correlated_rules(ruleset: RuleSet) -> list[CompiledRule]:
    """The detection rules some correlation references (by id or name)."""
    by_key = {key: rule for rule in ruleset.rules for key in (rule.id, rule.name) if key}
    wanted = {k for plan in ruleset.correlations for k in plan.rules if k in by_key}
    return list({by_key[k].id: by_key[k] for k in sorted(wanted)}.values())


def correlate_matched(ruleset: RuleSet, matched: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Correlation hits from already matched events (`evaluate` output with `rule_id`)."""
    rules = {key: rule for rule in ruleset.rules for key in (rule.id, rule.name) if key}
    plans = {plan.key: plan for plan in ruleset.correlations}
    for plan in ruleset.correlations:
        if plan.id:
            plans.setdefault(plan.id, plan)
    results: dict[str, pl.DataFrame] = {}
    # Each rule's rows, split off in one pass: a filter per referenced rule read every row again.
    by_rule = {
        key[0]: rows for key, rows in matched.partition_by(RULE_ID_COLUMN, as_dict=True).items()
    } if RULE_ID_COLUMN in matched.columns else {}

    # A correlation read by another feeds it every window where it holds, not its hits alone
    # (`correlate`, "Chaining"): a burst that keeps going is seen beside a success late in it.
    fed: dict[str, pl.DataFrame] = {}

    def hits(plan: CorrelationPlan, every_window: bool = False) -> pl.DataFrame:
        done = fed if every_window else results
        if plan.key not in done:
            inputs: dict[str, pl.DataFrame] = {}
            for key in plan.distinct_rules:
                if key in plans:
                    inputs[key] = hits(plans[key], every_window=True)
                elif key in rules:
                    rule = rules[key]
                    rows = by_rule.get(rule.id, matched.head(0))
                    inputs[key] = rows.select(_present(rows, plan.required_columns(key), rule))
                else:
                    raise KeyError(f"correlation {plan.key}: no rule {key!r} in the rule set")
            done[plan.key] = evaluate_correlation(plan, inputs, every_window=every_window)
        return done[plan.key]

    for plan in ruleset.correlations:
        hits(plan)
    return results


def correlation_inputs(ruleset: RuleSet, matched: pl.DataFrame) -> pl.DataFrame:
    """`matched` (`evaluate` output) narrowed to what correlations and their alerts read.

    Each rule's events keep the evidence columns and every column a correlation reads from
    that rule, resolved as `correlate_matched` would (field maps, raw JSON paths), under its
    Sigma name; `correlate_matched` gives the same hits on the result as on `matched`.
    """
    rules = {rule.id: rule for rule in ruleset.rules}
    names: dict[str, list[str]] = {}
    for plan in ruleset.correlations:
        for key in plan.distinct_rules:
            names.setdefault(key, []).extend(plan.required_columns(key))
    by_rule = {
        rule.id: list(dict.fromkeys(c for key in (rule.id, rule.name) if key in names for c in names[key]))
        for rule in ruleset.rules
    }
    keep = [c for c in EVIDENCE_SOURCE_COLUMNS if c in matched.columns]
    parts = []
    for (rule_id,), rows in matched.partition_by(RULE_ID_COLUMN, as_dict=True, maintain_order=True).items():
        rule = rules[str(rule_id)]
        read = [e for e in _present(rows, by_rule.get(rule.id, ()), rule) if e.meta.output_name() not in keep]
        parts.append(rows.select(*keep, pl.col(RULE_ID_COLUMN), *read))
    return pl.concat(parts, how="diagonal_relaxed") if parts else matched.select(*keep, RULE_ID_COLUMN)


def _present(frame: pl.DataFrame, columns: Iterable[str], rule: CompiledRule) -> list[pl.Expr]:
    """The columns a correlation reads from one rule's events, found like the rule's fields.

    A Sigma field name is looked up as a column, then under the rule's per-source field names,
    then in the raw JSON record by path (JSON sources); only what none of these holds is null.
    """
    sources = set(frame["source"].unique().to_list()) if "source" in frame.columns else set()
    from_raw = "raw" in frame.columns and any(reads_json_paths(str(s)) for s in sources if s)
    out: list[pl.Expr] = []
    for column in columns:
        names = [column, *(effective_field_map(alt).get(column, column) for alt in rule.routes)]
        present = [pl.col(n) for n in dict.fromkeys(names) if n in frame.columns]
        if from_raw and column not in frame.columns:
            present.append(pl.col("raw").str.json_path_match(json_path(_first_member(column, sources))))
        value = pl.coalesce(present) if present else pl.lit(None, pl.String)
        out.append(value.alias(column))
    return out


def _first_member(field: str, sources: set[str]) -> str:
    """`field`, with the first member named where it crosses an array of the raw record: a
    correlation groups by one value per event, and Okta's first target is the main one."""
    for source in sorted(sources):
        array = array_prefix(field, json_arrays(source))
        if array is not None:
            return f"{array}.0.{field[len(array) + 1 :]}"
    return field


@dataclass(frozen=True)
class Explanation:
    """One event under one rule: the verdict and the verdict of each named selection."""

    rule_id: str
    matched: bool
    selections: Mapping[str, bool]

    def describe(self) -> str:
        parts = [f"{name}={'yes' if hit else 'no'}" for name, hit in self.selections.items()]
        verdict = "matches" if self.matched else "does not match"
        return f"rule {self.rule_id} {verdict}: " + ", ".join(parts)


def explain(rule: CompiledRule, events: pl.DataFrame, *, source: str | None = None) -> list[Explanation]:
    """For each event, whether the rule matches and which of its selections do."""
    schema = events.schema
    options = bind_options(source)
    from_lake = PARTITION_SOURCE in schema or source is not None
    verdict_node = rule.routed(source) if from_lake else rule.condition
    verdict = bind(verdict_node, schema, options).alias("__verdict")
    selections = {
        name: bind(
            _selection_in_route(rule, node, source) if from_lake else node, schema, options
        ).alias(f"__sel_{i}")
        for i, (name, node) in enumerate(rule.selections.items())
    }
    table = events.select([verdict, *selections.values()])
    out: list[Explanation] = []
    for row in table.iter_rows(named=True):
        hits = {name: bool(row[f"__sel_{i}"]) for i, name in enumerate(selections)}
        out.append(Explanation(rule.id, bool(row["__verdict"]), hits))
    return out


def _selection_in_route(rule: CompiledRule, node: ir.Node, source: str | None) -> ir.Node:
    """A selection in the field names of the rule's routes, without their source conditions."""
    branches = [
        ir.rename_fields(node, effective_field_map(alt))
        for alt in rule.routes
        if source is None or alt.source == source
    ]
    return ir.any_of(branches) if branches else node
