"""Compiled rules as Python source: what `sigma convert -t polars` prints.

The frame a rendered rule reads depends on the pipeline:

- Without the `auditlake` pipeline, every field is a column of that name holding text
  (`AllStrings`), and keywords are searched in `raw`.
- With it, the frame is a lake frame as `auditlake.lake.scan_events` returns it. A rule is bound
  once per lake source it routes to, as the engine binds it (`evaluate.bind_options`), to that
  source's column contract (`LakeColumns`): canonical columns typed as `auditlake.schema` writes
  them (`time` is a UTC Datetime), the source's declared native types (Windows `EventID` is
  Int64), text for its other native columns, and, for JSON sources, fields that have no column
  of their own read from `raw` by path. Each binding is guarded by the `source` column.

Either way the text is printed from the `Code` tree `lower()` builds for the engine, never
written a second time. A rule with a condition list is rendered once, as the OR of its
conditions (SIGMA.md §1.6), as the engine compiles it.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import polars as pl
import pyarrow as pa
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from auditlake.detection import ir
from auditlake.detection.code import Code, _string_literal, binop, columns_read, constant, pl_
from auditlake.detection.evaluate import RAW_JSON_SOURCES, bind_options
from auditlake.detection.logsources import Alternative
from auditlake.detection.lower import PARTITION_SOURCE, BindOptions, Schema, lower
from auditlake.detection.routing import routed_condition
from auditlake.errors import UnknownSourceError
from auditlake.schema import CANONICAL, NATIVE_TYPE
from auditlake.sources.registry import lookup


class AllStrings(Mapping[str, pl.DataType]):
    """A schema in which every field exists and holds text (for rendering without data)."""

    def __getitem__(self, key: str) -> pl.DataType:
        return pl.String()

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class LakeColumns(Mapping[str, pl.DataType]):
    """The columns a lake partition of `source` has by the lake's contract, as Polars types.

    Canonical and partition columns, typed as `auditlake.schema` says; the source's declared
    native types; for a JSON source (whose `raw` is the record) its complete paths, which ingest
    always writes as columns, and nothing else, so the binder reads other fields from `raw` by
    path; for any other source every field, as text. Which native columns a given lake holds
    depends on its events: the module format adds the absent ones as nulls.
    """

    def __init__(self, source: str) -> None:
        try:
            spec = lookup(source)
            natives, paths = dict(spec.native_types), spec.complete_paths
        except UnknownSourceError:
            natives, paths = {}, frozenset()
        arrow = {name: column.type for name, column in CANONICAL.items()}
        arrow |= {path: natives.get(path, NATIVE_TYPE) for path in paths} | natives
        self._typed = _polars_types(arrow)
        self._every_field = source not in RAW_JSON_SOURCES

    def __getitem__(self, key: str) -> pl.DataType:
        if key in self._typed:
            return self._typed[key]
        if self._every_field:
            return pl.String()
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (self._every_field or key in self._typed)

    def __iter__(self) -> Iterator[str]:
        return iter(self._typed)

    def __len__(self) -> int:
        return len(self._typed)


def _polars_types(arrow: Mapping[str, pa.DataType]) -> dict[str, pl.DataType]:
    empty = pl.from_arrow(pa.schema(list(arrow.items())).empty_table())
    assert isinstance(empty, pl.DataFrame)
    return dict(empty.schema)


@dataclass(frozen=True)
class Converted:
    """One rule as the backend hands it over for text output."""

    rule: SigmaRule | SigmaCorrelationRule
    query: Any
    """The condition (`ir.Node`) or the correlation's `CorrelationPlan`."""
    routes: tuple[Alternative, ...] | None = None
    """The lake sources the condition is restricted to (`auditlake` pipeline); None: none."""
    inputs: tuple[tuple[str, Converted], ...] = ()
    """A correlation's referenced detection rules, by the name or id its plan uses."""

    @property
    def key(self) -> str:
        return str(self.rule.id) if self.rule.id else str(self.rule.title)

    @property
    def comment(self) -> str:
        return f"  # {self.rule.title}".replace("\n", " ")


def merged(items: Iterable[Converted]) -> list[Converted]:
    """One item per rule: pySigma converts a condition list one condition at a time, and
    Sigma means their OR (SIGMA.md §1.6)."""
    out: dict[int, Converted] = {}
    for item in items:
        first = out.get(id(item.rule))
        if first is None or isinstance(item.rule, SigmaCorrelationRule):
            out[id(item.rule)] = item
        else:
            out[id(item.rule)] = replace(first, query=ir.any_of([first.query, item.query]))
    return list(out.values())


class Renderer:
    """Renders rules, noting each column they read and the type it was bound as."""

    def __init__(self) -> None:
        self.columns: dict[str, pl.DataType] = {}
        self._shapes: dict[str, LakeColumns] = {}

    def rule(self, item: Converted) -> Code:
        """A detection rule's boolean expression, never null."""
        if item.routes is None:
            return self._lowered(item.query, AllStrings(), BindOptions())
        return self._routed(item.query, item.routes)

    def _routed(self, condition: ir.Node, routes: Sequence[Alternative]) -> Code:
        """Per source, `source == name` and the condition bound as the engine binds it there."""
        branches: list[Code] = []
        for source in dict.fromkeys(alt.source for alt in routes):
            node = routed_condition(condition, routes, source)
            code = self._lowered(node, self._shape(source), bind_options(source))
            folded = constant(code)
            if folded is False:
                continue
            test = binop("==", pl_.col(PARTITION_SOURCE), source)
            branches.append(test if folded else test & code)
        self.columns.setdefault(PARTITION_SOURCE, pl.String())
        if not branches:
            return pl_.lit(False)
        if len(branches) == 1:
            either = branches[0]
        elif len(branches) == 2:
            either = branches[0] | branches[1]
        else:
            either = pl_.any_horizontal(*branches)
        return either.fill_null(False)

    def _lowered(self, node: ir.Node, schema: Schema, options: BindOptions) -> Code:
        code = lower(node, schema, options)
        for name in columns_read(code):
            self.columns.setdefault(name, schema[name] if name in schema else pl.String())
        return code

    def _shape(self, source: str) -> LakeColumns:
        if source not in self._shapes:
            self._shapes[source] = LakeColumns(source)
        return self._shapes[source]


def render_queries(items: Iterable[Converted]) -> list[str]:
    """The `default` format: one Python expression per rule (a plan per correlation)."""
    renderer = Renderer()
    return [
        plan_source(item.query)
        if isinstance(item.rule, SigmaCorrelationRule)
        else renderer.rule(item).to_source()
        for item in merged(items)
    ]


def plan_source(value: Any) -> str:
    """Python source rebuilding a frozen plan: dataclasses, enums, durations and literals."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        arguments = ", ".join(
            f"{f.name}={plan_source(getattr(value, f.name))}" for f in dataclasses.fields(value)
        )
        return f"{type(value).__name__}({arguments})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}({plan_source(value.value)})"
    if isinstance(value, timedelta):
        return f"datetime.timedelta(seconds={value.total_seconds()!r})"
    if isinstance(value, tuple):
        inner = ", ".join(plan_source(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return _string_literal(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    raise TypeError(f"cannot render {type(value).__name__} in a correlation plan")


PLAN_NAMES = (
    "And",
    "Comparison",
    "Condition",
    "CorrelationPlan",
    "CorrelationType",
    "FieldAlias",
    "Not",
    "Operator",
    "Or",
    "RuleRef",
)
"""What rendered plans refer to, all from `auditlake.detection.correlation_plan`."""


def render_module(items: Iterable[Converted]) -> str:
    """The `module` format: a Python module of every rule (see `MODULE_DOC` for its names)."""
    renderer = Renderer()
    rules: list[str] = []
    inputs: dict[str, str] = {}
    correlations: list[str] = []
    routed = False
    for item in merged(items):
        if isinstance(item.rule, SigmaCorrelationRule):
            correlations.append(f"    {_string_literal(item.key)}: {plan_source(item.query)},{item.comment}")
            for key, rule in item.inputs:
                if key not in inputs:
                    routed |= rule.routes is not None
                    inputs[key] = f"    {_string_literal(key)}: {renderer.rule(rule).to_source()},{rule.comment}"
        else:
            routed |= item.routes is not None
            rules.append(f"    {_string_literal(item.key)}: {renderer.rule(item).to_source()},{item.comment}")
    lines = ['"""' + MODULE_DOC + (LAKE_FRAME_DOC if routed else FIELD_FRAME_DOC) + '"""', ""]
    if correlations:
        lines += ["import datetime", ""]
    lines += ["import polars as pl", ""]
    if correlations:
        lines += [
            "from auditlake.detection.correlate import evaluate_correlation",
            f"from auditlake.detection.correlation_plan import {', '.join(PLAN_NAMES)}",
            "",
        ]
    lines += _mapping("RULES", rules) + _mapping("CORRELATION_RULES", list(inputs.values()))
    lines += _mapping("CORRELATIONS", correlations)
    columns = [f"    {_string_literal(n)}: {dtype_source(t)}," for n, t in renderer.columns.items()]
    lines += [*_mapping("COLUMNS", columns), "", WITH_RULE_COLUMNS]
    if correlations:
        lines += ["", "", CORRELATE]
    return "\n".join([*lines, ""])


def _mapping(name: str, entries: list[str]) -> list[str]:
    return [f"{name} = {{", *entries, "}", ""]


def dtype_source(dtype: pl.DataType) -> str:
    """Python source for a Polars type, e.g. `pl.Datetime("us", "UTC")`."""
    if isinstance(dtype, pl.List):
        return f"pl.List({dtype_source(dtype.inner)})"  # type: ignore[arg-type]
    if isinstance(dtype, pl.Datetime):
        zone = "" if dtype.time_zone is None else f", {_string_literal(dtype.time_zone)}"
        return f"pl.Datetime({_string_literal(dtype.time_unit)}{zone})"
    if isinstance(dtype, pl.Struct | pl.Array | pl.Decimal | pl.Duration | pl.Categorical | pl.Enum):
        raise TypeError(f"cannot render the column type {dtype}")
    return f"pl.{type(dtype).__name__}()"


MODULE_DOC = """Sigma rules compiled to Polars expressions by auditlake.

RULES: rule id -> boolean expression, true on the events the rule matches (never null).
CORRELATION_RULES: every detection rule a correlation reads, under the name or id the
    correlation's plan uses for it -> its expression; also the rules that are not output on
    their own (`generate: false`), so the module alone evaluates its correlations.
CORRELATIONS: correlation id -> `CorrelationPlan`; `correlate(events)` evaluates them all on a
    frame as `auditlake detect` does (auditlake.detection.correlate): each referenced rule's
    events are `events.filter(CORRELATION_RULES[key])`, a correlation over another reads that
    one's hits. `events` needs `time`, `event_uid` and the columns the plans group by and
    aggregate, under the names the plans use.
COLUMNS: column -> type, every column the expressions read, typed as they were compiled for;
    `with_rule_columns(frame)` adds the ones `frame` lacks as nulls: a field no event holds is
    absent, and a condition on an absent field is false (its negation true), as in the engine.
"""

LAKE_FRAME_DOC = """
The expressions read a lake frame, as `auditlake.lake.scan_events(lake)` returns it: each rule
is restricted to its lake sources (`source` column), in their field names, with the lake's
column types (`time` is a UTC Datetime, Windows `EventID` Int64); fields of JSON records without
a column of their own are read from `raw` by path.

    from auditlake.lake import scan_events
    events = with_rule_columns(scan_events("data/lake").collect())
    hits = {rule_id: events.filter(expr) for rule_id, expr in RULES.items()}
"""

FIELD_FRAME_DOC = """
The expressions read a frame whose columns are the rules' Sigma field names, holding text, a
nested field flattened with dots (`userIdentity.type`: `pl.read_ndjson` keeps a struct column
`userIdentity` instead, which no expression reads); keywords are searched in a `raw` column.

    records = [json.loads(line) for line in open("events.jsonl")]
    events = with_rule_columns(pl.json_normalize(records, separator="."))
    hits = {rule_id: events.filter(expr) for rule_id, expr in RULES.items()}
"""

WITH_RULE_COLUMNS = '''
def with_rule_columns(frame):
    """`frame` (a DataFrame or LazyFrame) with a column of nulls for each of COLUMNS it lacks."""
    present = set(frame.collect_schema().names())
    return frame.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in COLUMNS.items() if name not in present
    )
'''.strip("\n")

CORRELATE = '''
def correlate(events):
    """Each correlation's hits on `events` (a DataFrame), by correlation id."""
    by_key = {key: plan for plan in CORRELATIONS.values() for key in (plan.key, plan.id) if key}
    done = {False: {}, True: {}}

    def of(plan, every_window=False):
        # a correlation read by another feeds it every window where it holds, not its hits alone
        if plan.key not in done[every_window]:
            matches = {
                key: of(by_key[key], True) if key in by_key else events.filter(CORRELATION_RULES[key])
                for key in plan.distinct_rules
            }
            done[every_window][plan.key] = evaluate_correlation(plan, matches, every_window=every_window)
        return done[every_window][plan.key]

    return {rule_id: of(plan) for rule_id, plan in CORRELATIONS.items()}
'''.strip("\n")
