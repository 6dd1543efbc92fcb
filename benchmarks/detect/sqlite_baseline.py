"""The SQLite baseline: pySigma's SQLite backend over events loaded into SQLite (Zircolite's way).

Zircolite flattens each log into one SQLite table of text columns and runs every rule's SQL
query over it, one full scan per rule. This script does the same with the benchmark's events:

1. Every rule file is converted by `pysigma-backend-sqlite` (`collate_nocase=True`) once per
   way its logsource is found in the lake (auditlake's own routing, `logsources.route`), with a
   pipeline that renames fields as that route does and adds its conditions (Channel, EventID),
   as Zircolite's rule sets carry the Sysmon/Windows logsource conditions; a rule's queries
   are ORed into one. Keyword rules cannot be expressed (the backend has no full-text field)
   and are counted, not run; correlation rules are not run.
2. Per lake source, a uniform sample of its events (every k-th row of the same time range)
   goes into an in-memory table whose columns are the fields the queries read, all `TEXT
   COLLATE NOCASE`. A value comes from the lake column of that name, else (JSON sources) from
   the raw record by path, as the engine reads it; lists and structs are stored as JSON text.
3. Each query runs with `fetchall()`; `REGEXP` is a Python function (`re.search`), as
   Zircolite registers it.

Prints one JSON object: per source the sample size, load and query seconds, rules run and
matches; and this process's peak RSS.

Usage: python benchmarks/detect/sqlite_baseline.py LAKE SINCE UNTIL --rules DIR [--rules DIR]
       [--events N] [--sources a,b]
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import re
import resource
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation, FieldMappingTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaFieldReference

from auditlake.detection.evaluate import RAW_JSON_SOURCES
from auditlake.detection.logsources import Alternative, effective_field_map, route
from auditlake.lake.scan import scan_events


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """`.yml` files under the given folders (links followed), as `auditlake detect` finds them."""
    files: list[Path] = []
    for path in paths:
        files += sorted(p for p in path.rglob("*.yml") if p.is_file()) if path.is_dir() else [path]
    return files


class Query:
    """One rule as SQL over one source: the WHERE clauses of its routes, ORed."""

    def __init__(self, rule_id: str, title: str, where: list[str], fields: set[str]) -> None:
        self.rule_id = rule_id
        self.title = title
        self.sql = "SELECT * FROM logs WHERE " + " OR ".join(f"({w})" for w in where)
        self.fields = fields


def convert(files: list[Path], sources: set[str]) -> tuple[dict[str, list[Query]], dict[str, int]]:
    """Each source's queries, and counts of what could not be converted (by reason)."""
    collection = SigmaCollection.load_ruleset([str(f) for f in files], collect_errors=True)
    queries: dict[str, list[Query]] = {s: [] for s in sources}
    skipped = {"keyword or unsupported": 0, "correlation": 0, "pysigma error": 0, "no route": 0}
    backends: dict[tuple[str, ...], sqliteBackend] = {}
    for rule in collection.rules:
        if isinstance(rule, SigmaCorrelationRule):
            skipped["correlation"] += 1
            continue
        if rule.errors or not rule._output:
            skipped["pysigma error" if rule.errors else "correlation"] += 1
            continue
        logsource = rule.logsource
        routes = [a for a in route(logsource.product, logsource.category, logsource.service) if a.source in sources]
        if not routes:
            skipped["no route"] += 1
            continue
        by_source: dict[str, tuple[list[str], set[str]]] = {}
        failed = False
        for alt in routes:
            backend = _backend(backends, alt)
            processed = copy.deepcopy(rule)
            try:
                result = backend.convert_rule(processed)
            except Exception:  # any refusal by the backend means the rule is not run
                result = []
            if not result:
                failed = True
                break
            where, fields = by_source.setdefault(alt.source, ([], set()))
            where += [str(q).split(" WHERE ", 1)[1] for q in result]
            fields |= _fields(processed) | {column for column, _ in alt.conditions}
        if failed:
            skipped["keyword or unsupported"] += 1
            continue
        for source, (where, fields) in by_source.items():
            queries[source].append(Query(str(rule.id or rule.title), rule.title, where, fields))
    return queries, skipped


def _backend(cache: dict[tuple[str, ...], sqliteBackend], alt: Alternative) -> sqliteBackend:
    """A backend whose pipeline applies one route: its field renames, then its conditions."""
    renames = dict(effective_field_map(alt))
    conditions: dict[str, Any] = {
        column: list(values) if len(values) > 1 else values[0] for column, values in alt.conditions
    }
    key = (json.dumps(sorted(renames.items())), json.dumps(sorted(conditions.items()), default=str))
    if key not in cache:
        items = []
        if renames:
            items.append(ProcessingItem(FieldMappingTransformation(renames)))
        if conditions:
            items.append(ProcessingItem(AddConditionTransformation(conditions)))
        pipeline = ProcessingPipeline(items=items, name="route") if items else None
        cache[key] = sqliteBackend(processing_pipeline=pipeline, collate_nocase=True, collect_errors=False)
    return cache[key]


def _fields(rule: SigmaRule) -> set[str]:
    """The field names a (processed) rule's detections read."""

    def walk(detection: SigmaDetection | SigmaDetectionItem) -> Iterator[str]:
        if isinstance(detection, SigmaDetectionItem):
            if detection.field:
                yield detection.field
            yield from (v.field for v in detection.value if isinstance(v, SigmaFieldReference))
            return
        for item in detection.detection_items:
            yield from walk(item)

    return {name for detection in rule.detection.detections.values() for name in walk(detection)}


def sample(lake: Path, source: str, *, since: datetime, until: datetime, every: int, fields: set[str]) -> pl.DataFrame:
    """Every `every`-th event of `source` in the range, one text column per field."""
    frame = scan_events(lake, sources=[source], start=since, end=until)
    schema = frame.collect_schema()
    json_source = source in RAW_JSON_SOURCES and "raw" in schema
    # SQLite column names ignore case, so `payload` and `Payload` are one column: either value.
    spellings: dict[str, list[str]] = {}
    for name in sorted(fields):
        spellings.setdefault(name.lower(), []).append(name)
    columns = []
    for names in spellings.values():
        values = [_read(name, schema, json_source) for name in names]
        columns.append((values[0] if len(values) == 1 else pl.coalesce(values)).alias(names[0]))
    return frame.gather_every(every).select(columns).collect()


def _read(name: str, schema: pl.Schema, json_source: bool) -> pl.Expr:
    """A field as text: its column, else its path in the raw JSON record, else null."""
    if name in schema:
        return _as_text(pl.col(name), schema[name])
    if json_source:
        return pl.col("raw").str.json_path_match(_json_path(name))
    return pl.lit(None, pl.String)


def _as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return expr
    if isinstance(dtype, pl.Struct):
        return expr.struct.json_encode()
    if isinstance(dtype, pl.List):
        return expr.list.eval(pl.element().cast(pl.String)).list.join(",")
    if dtype == pl.Boolean:
        return pl.when(expr).then(pl.lit("true")).when(~expr).then(pl.lit("false"))
    return expr.cast(pl.String)


def _json_path(field: str) -> str:
    """`a.b` as the JSONPath `$['a']['b']` (bracket form: keys may hold any character)."""
    return "$" + "".join("['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']" for part in field.split("."))


@functools.lru_cache(maxsize=4096)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _regexp(pattern: str, value: object) -> bool | None:
    return None if value is None else _pattern(pattern).search(str(value)) is not None


def run_source(queries: list[Query], events: pl.DataFrame) -> dict[str, Any]:
    """Load `events` into an in-memory table and run every query; timings and counts."""
    started = time.perf_counter()
    connection = sqlite3.connect(":memory:")
    connection.create_function("regexp", 2, _regexp, deterministic=True)
    names = events.columns
    ddl = ", ".join(f'"{n}" TEXT COLLATE NOCASE' for n in names)
    connection.execute(f"CREATE TABLE logs ({ddl})")
    marks = ", ".join("?" * len(names))
    connection.executemany(f"INSERT INTO logs VALUES ({marks})", events.iter_rows())
    connection.commit()
    load_s = time.perf_counter() - started
    matches, errors, timings = 0, [], []
    query_started = time.perf_counter()
    for query in queries:
        began = time.perf_counter()
        try:
            matches += len(connection.execute(query.sql).fetchall())
        except sqlite3.Error as error:
            errors.append(f"{query.title}: {error}")
        timings.append((time.perf_counter() - began, query.title))
    query_s = time.perf_counter() - query_started
    connection.close()
    timings.sort(reverse=True)
    return {
        "events": events.height, "columns": len(names), "load_s": load_s, "query_s": query_s,
        "rules": len(queries) - len(errors), "query_errors": errors, "matches": matches,
        "slowest": [{"rule": title, "s": round(seconds, 3)} for seconds, title in timings[:5]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("since")
    parser.add_argument("until")
    parser.add_argument("--rules", type=Path, action="append", required=True)
    parser.add_argument("--events", type=int, default=100_000,
                        help="events in the SQLite sample, over all sources (uniform, every k-th)")
    parser.add_argument("--sources", type=str, required=True, help="lake sources, comma-separated")
    args = parser.parse_args()
    since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
    until = datetime.fromisoformat(args.until).replace(tzinfo=UTC)
    sources = set(args.sources.split(","))
    began = time.perf_counter()
    queries, skipped = convert(rule_files(args.rules), sources)
    convert_s = time.perf_counter() - began
    totals = {
        s: scan_events(args.lake, sources=[s], start=since, end=until).select(pl.len()).collect().item()
        for s in sorted(sources)
    }
    every = max(1, math.ceil(sum(totals.values()) / args.events))
    per_source = {}
    for source in sorted(sources):
        if not queries[source] or not totals[source]:
            continue
        fields = set().union(*(q.fields for q in queries[source]))
        events = sample(args.lake, source, since=since, until=until, every=every, fields=fields)
        per_source[source] = run_source(queries[source], events) | {"total_events": totals[source]}
        print(f"  sqlite {source}: {per_source[source]['events']:,} events, "
              f"{per_source[source]['query_s']:.1f} s of queries", file=sys.stderr)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"every": every, "convert_s": convert_s, "skipped": skipped,
                      "sources": per_source, "peak_rss_mib": peak_kib / 1024}))


if __name__ == "__main__":
    main()
