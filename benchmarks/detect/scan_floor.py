"""The scan floor: the time to merely read the columns detection reads, from the same Parquet.

For each lake source, the same scan the engine makes (`scan_events` over the time range, its
predicate pushed into the Parquet reader) with the same projection (the columns the engine's
`needed_columns` chose in the measured run), reduced by the streaming engine to one cheap
aggregate per column, so every value is decoded and nothing but a few numbers is kept:
string columns sum their byte lengths, numeric ones their values, others count non-nulls.

Prints one JSON object: seconds and rows per source, total seconds and this process's peak RSS.

Usage: python benchmarks/detect/scan_floor.py LAKE SINCE UNTIL COLUMNS_JSON
       (COLUMNS_JSON: {"source": ["column", ...], ...})
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from auditlake.lake.scan import scan_events


def reduce(name: str, dtype: pl.DataType) -> pl.Expr:
    """An aggregate that needs every value of the column decoded."""
    if dtype == pl.String:
        return pl.col(name).str.len_bytes().sum().alias(name)
    if dtype.is_numeric():
        return pl.col(name).cast(pl.Float64).sum().alias(name)
    return pl.col(name).is_not_null().sum().alias(name)


def read_source(lake: Path, source: str, columns: list[str], since: datetime, until: datetime) -> dict[str, float]:
    started = time.perf_counter()
    frame = scan_events(lake, sources=[source], start=since, end=until)
    schema = frame.collect_schema()
    present = [c for c in columns if c in schema]
    row_count = pl.len().alias("__rows")
    result = frame.select(row_count, *(reduce(c, schema[c]) for c in present)).collect(engine="streaming")
    return {"rows": int(result["__rows"][0]), "columns": len(present), "seconds": time.perf_counter() - started}


def main() -> None:
    lake, since, until, columns_path = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
    start = datetime.fromisoformat(since).replace(tzinfo=UTC)
    end = datetime.fromisoformat(until).replace(tzinfo=UTC)
    wanted: dict[str, list[str]] = json.loads(columns_path.read_text())
    began = time.perf_counter()
    sources = {s: read_source(lake, s, cols, start, end) for s, cols in sorted(wanted.items())}
    total = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"sources": sources, "seconds": total, "rows": sum(s["rows"] for s in sources.values()),
                      "peak_rss_mib": peak_kib / 1024}))


if __name__ == "__main__":
    main()
