"""The two layouts of an alert file, both read as `ALERT_SCHEMA`.

- **Full**: one row per alert, every column of `ALERT_SCHEMA`. Correlation alerts (and every
  alert stored before the detection layout existed) are kept so.
- **Detection**: one row per (rule, event) match of a detection run, with only what differs
  from match to match (`DETECTION_SCHEMA`). What each rule says of itself (title, level, tags,
  ...) and what the run says (`created_at`, `origin`, `run_id`) are stored once, in the file's
  key-value metadata; an alert's id is its rule's key and its event id (`event_alert_id`), so
  only the ids of events whose id is not plain are stored. A run that matches half of a cloud
  lake writes millions of alerts: repeating a rule's description on each of them was half of
  the cost of writing them.

`scan_alert_files` joins the metadata back, so every reader sees the same rows whatever the
layout of the files they came from.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from auditlake.detection.alerts import (
    ALERT_SCHEMA,
    PLAIN_EVENT_UID,
    UTC_MICROS,
    RuleInfo,
    RunInfo,
    event_alert_ids,
    rule_key,
)

METADATA_KEY = b"auditlake.alerts"
"""The key-value metadata entry that marks a detection-layout file and holds its descriptions."""
LAYOUT = "detection-1"

DETECTION_SCHEMA = pl.Schema(
    {
        "alert_id": pl.String(),
        "rule_id": pl.String(),
        "source": pl.String(),
        "first_evidence_at": UTC_MICROS,
        "evidence_ingested_at": UTC_MICROS,
        "event_uid": pl.String(),
        "actor": pl.String(),
        "src_ip": pl.String(),
        "target": pl.String(),
    }
)
"""A detection-layout file's columns; `alert_id` is set only where the event id is not plain."""

_FILE = "__alert_file"
_KEY = "__rule_key"


def detection_rows(evidence: pl.DataFrame) -> pl.DataFrame:
    """Matches as a detection-layout file keeps them: `evidence` as `alerts.evidence_frame`
    builds it, with the matching rule's id in `rule_id`."""
    rows = evidence.select(
        pl.lit(None, pl.String).alias("alert_id"),
        pl.col("rule_id"),
        pl.col("source"),
        pl.col("time").alias("first_evidence_at"),
        pl.col("ingested_at").alias("evidence_ingested_at"),
        pl.col("event_uid"),
        pl.col("actor"),
        pl.col("src_ip"),
        pl.col("target"),
    ).cast(DETECTION_SCHEMA)
    odd = rows.select(pl.arg_where(~pl.col("event_uid").fill_null("").str.contains(PLAIN_EVENT_UID))).to_series()
    if odd.is_empty():
        return rows
    ids = event_alert_ids(rows["rule_id"].gather(odd), rows["event_uid"].gather(odd))
    return rows.with_columns(rows["alert_id"].scatter(odd, ids))


def detection_table(rows: pl.DataFrame, rules: Mapping[str, RuleInfo], run: RunInfo) -> pa.Table:
    """`rows` (from `detection_rows`) as the Arrow table of a detection-layout file, the
    descriptions of their rules and of the run in its metadata."""
    present = rows["rule_id"].unique().sort().to_list()
    description = {
        "layout": LAYOUT,
        "run": {"created_at": run.created_at.isoformat(), "origin": run.origin, "run_id": run.run_id},
        "rules": [_rule_description(rules[rule_id]) for rule_id in present],
    }
    table = rows.to_arrow(compat_level=pl.CompatLevel.oldest())
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(description).encode("utf-8")})


def _rule_description(rule: RuleInfo) -> dict[str, object]:
    return {"id": rule.id, "title": rule.title, "kind": rule.kind, "level": rule.level,
            "tags": list(rule.tags), "author": rule.author}


def scan_alert_files(files: Sequence[Path]) -> pl.LazyFrame:
    """Alert files as one frame of `ALERT_SCHEMA`, in the order given (columns older full-layout
    files lack are null)."""
    if not files:
        return ALERT_SCHEMA.to_frame().lazy()
    parts: list[pl.LazyFrame] = []
    run: list[tuple[Path, _Description | None]] = []
    for path in files:
        described = _description(path)
        if run and (run[-1][1] is None) != (described is None):
            parts.append(_scan_run(run))
            run = []
        run.append((path, described))
    parts.append(_scan_run(run))
    return parts[0] if len(parts) == 1 else pl.concat(parts)


def _scan_run(files: list[tuple[Path, _Description | None]]) -> pl.LazyFrame:
    """Files of one layout, in order."""
    names = [str(path) for path, _ in files]
    if files[0][1] is None:
        return pl.scan_parquet(names, schema=ALERT_SCHEMA, missing_columns="insert")
    described = pl.DataFrame(
        [row for name, (_, d) in zip(names, files, strict=True) if d is not None for row in d.rows(name)],
        schema=_DESCRIPTION_SCHEMA,
        orient="row",
    )
    scanned = pl.scan_parquet(names, schema=DETECTION_SCHEMA, missing_columns="insert", include_file_paths=_FILE)
    uid = pl.col("event_uid")
    return (
        scanned.join(described.lazy(), on=[_FILE, "rule_id"], how="left", maintain_order="left")
        .with_columns(
            pl.coalesce(pl.col("alert_id"), pl.concat_str(pl.col(_KEY), pl.lit(":"), uid)).alias("alert_id"),
            pl.col("first_evidence_at").alias("last_evidence_at"),
            pl.concat_list(uid).alias("event_uids"),
            pl.lit(None, pl.String).alias("group"),
        )
        .select(ALERT_SCHEMA.names())
        .cast(ALERT_SCHEMA)
    )


_DESCRIPTION_SCHEMA = pl.Schema(
    {
        _FILE: pl.String(),
        "rule_id": pl.String(),
        _KEY: pl.String(),
        "rule_title": pl.String(),
        "rule_kind": pl.String(),
        "level": pl.String(),
        "tags": pl.List(pl.String()),
        "rule_author": pl.String(),
        "created_at": UTC_MICROS,
        "origin": pl.String(),
        "run_id": pl.String(),
    }
)


@dataclass(frozen=True)
class _Description:
    """What a detection-layout file says of its rules and its run."""

    rules: tuple[RuleInfo, ...]
    run: RunInfo

    def rows(self, name: str) -> list[tuple[object, ...]]:
        run = self.run
        return [
            (name, r.id, rule_key(r.id), r.title, r.kind, r.level, list(r.tags), r.author,
             run.created_at, run.origin, run.run_id)
            for r in self.rules
        ]


_DESCRIPTIONS: OrderedDict[tuple[str, int, int], _Description | None] = OrderedDict()
"""Descriptions read, by path, modification time and size: a stored alert file never changes
(it is written whole under a new name), and an alert lookup reads the same files batch after
batch."""
DESCRIPTIONS_KEPT = 4096


def _description(path: Path) -> _Description | None:
    """A detection-layout file's description; None for a full-layout file."""
    status = path.stat()
    key = (str(path), status.st_mtime_ns, status.st_size)
    if key in _DESCRIPTIONS:
        _DESCRIPTIONS.move_to_end(key)
        return _DESCRIPTIONS[key]
    described = _DESCRIPTIONS[key] = _read_description(path)
    while len(_DESCRIPTIONS) > DESCRIPTIONS_KEPT:
        _DESCRIPTIONS.popitem(last=False)
    return described


def _read_description(path: Path) -> _Description | None:
    metadata = pq.read_metadata(path).metadata or {}
    text = metadata.get(METADATA_KEY)
    if text is None:
        return None
    document = json.loads(text)
    if document.get("layout") != LAYOUT:
        raise ValueError(f"{path}: alert file layout {document.get('layout')!r} is not one this version reads")
    run = document["run"]
    return _Description(
        tuple(
            RuleInfo(r["id"], r["title"], r["kind"], r["level"], tuple(r["tags"]), r["author"])
            for r in document["rules"]
        ),
        RunInfo(datetime.fromisoformat(run["created_at"]), run["origin"], run["run_id"]),
    )
