"""Alerts: rows built from rule matches and correlation hits, with deterministic ids.

An alert's id depends only on what it is about, never on when or how often detection ran:
a detection rule's alert is (rule, event); a correlation's is (rule, group, window end). So a
re-run over the same range, an incremental run that overlaps an earlier one, or a run resumed
after a crash finds the same ids, and the store adds nothing twice.

A detection alert's id names its rule and event (`event_alert_id`), so a run's millions of ids
are joined in Polars rather than hashed one by one in Python; a correlation's is a hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import polars as pl

UTC_MICROS = pl.Datetime("us", "UTC")

ALERT_SCHEMA = pl.Schema(
    {
        "alert_id": pl.String(),
        "rule_id": pl.String(),
        "rule_title": pl.String(),
        "rule_kind": pl.String(),
        "level": pl.String(),
        "tags": pl.List(pl.String()),
        "rule_author": pl.String(),
        "source": pl.String(),
        "first_evidence_at": UTC_MICROS,
        "last_evidence_at": UTC_MICROS,
        "evidence_ingested_at": UTC_MICROS,
        "created_at": UTC_MICROS,
        "origin": pl.String(),
        "run_id": pl.String(),
        "event_uids": pl.List(pl.String()),
        "group": pl.String(),
        "actor": pl.String(),
        "src_ip": pl.String(),
        "target": pl.String(),
    }
)
"""One row per alert; `group` holds a correlation's group-by values as JSON."""

EVIDENCE_COLUMNS = ("event_uid", "time", "source", "ingested_at", "actor", "src_ip", "target")
"""What alerts keep of each evidence event (see `evidence_frame`)."""

ORIGINS = ("realtime", "replay", "backfill")


@dataclass(frozen=True)
class RuleInfo:
    """What an alert says about the rule that raised it."""

    id: str
    title: str
    kind: str
    level: str | None
    tags: tuple[str, ...]
    author: str | None


@dataclass(frozen=True)
class RunInfo:
    created_at: datetime
    origin: str
    run_id: str


def alert_id(*parts: str) -> str:
    """A stable id from what the alert is about.

    >>> alert_id("rule-1", "event-9") == alert_id("rule-1", "event-9")
    True
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:32]


RULE_KEY_CHARS = 16
"""Hex digits of sha256(rule id) that stand for the rule in its alerts' ids."""
PLAIN_EVENT_UID = r"^[!-~]{1,128}$"
"""Event ids written into alert ids as they are: printable ASCII without spaces, at most 128
characters (CloudTrail, Okta and Kubernetes UUIDs, GCP log names, Windows host|channel|record)."""


def event_alert_id(rule_id: str, event_uid: str) -> str:
    """The id of rule `rule_id`'s alert on event `event_uid`: the rule's key, then `:` and the
    event id when it is plain, else `#` and a hash of it (the two forms never meet).

    >>> event_alert_id("rule-1", "6a5ce198-33ec-4202-ae5c-40c53077bd3c")
    'dc1c69af7701c40b:6a5ce198-33ec-4202-ae5c-40c53077bd3c'
    >>> event_alert_id("rule-1", "two words")
    'dc1c69af7701c40b#a03f1d611645eb53ad16c1af546ca079'
    """
    if re.fullmatch(PLAIN_EVENT_UID, event_uid):
        return f"{rule_key(rule_id)}:{event_uid}"
    return f"{rule_key(rule_id)}#{_uid_digest(event_uid)}"


def event_alert_ids(rule_ids: pl.Series, event_uids: pl.Series) -> pl.Series:
    """`event_alert_id` of each (rule, event) pair, built in Polars: only the rare event ids
    that are not plain are hashed in Python."""
    uid = event_uids.fill_null("")
    plain = uid.str.contains(PLAIN_EVENT_UID)  # the regex runs once, for both uses below
    pairs = pl.DataFrame({"rule_id": rule_ids, "event_uid": uid, "plain": plain})
    keys = {rule_id: rule_key(rule_id) for rule_id in rule_ids.unique().to_list()}
    digests = {u: _uid_digest(u) for u in uid.filter(~plain).unique().to_list()}
    key = pl.col("rule_id").replace_strict(keys, return_dtype=pl.String)
    hashed = pl.col("event_uid").replace_strict(digests, default=None, return_dtype=pl.String)
    ids = pl.when(pl.col("plain")).then(pl.concat_str(key, pl.lit(":"), pl.col("event_uid")))
    return pairs.select(ids.otherwise(pl.concat_str(key, pl.lit("#"), hashed)).alias("alert_id")).to_series()


def rule_key(rule_id: str) -> str:
    """What stands for the rule in the ids of its detection alerts."""
    return hashlib.sha256(rule_id.encode("utf-8")).hexdigest()[:RULE_KEY_CHARS]


def _uid_digest(event_uid: str) -> str:
    return hashlib.sha256(event_uid.encode("utf-8")).hexdigest()[:32]


def evidence_frame(events: pl.DataFrame) -> pl.DataFrame:
    """The columns alerts keep of each event: who (name, else id), from where, on what."""
    def first_present(*names: str) -> pl.Expr:
        present = [pl.col(n) for n in names if n in events.columns]
        return pl.coalesce(present) if present else pl.lit(None, pl.String)

    return events.select(
        pl.col("event_uid"),
        pl.col("time"),
        pl.col("source") if "source" in events.columns else pl.lit(None, pl.String).alias("source"),
        pl.col("ingested_at") if "ingested_at" in events.columns else pl.lit(None, UTC_MICROS).alias("ingested_at"),
        first_present("actor_name", "actor_id").cast(pl.String).alias("actor"),
        first_present("src_ip").cast(pl.String).alias("src_ip"),
        first_present("target_name", "target_id").cast(pl.String).alias("target"),
    )


def detection_alerts(rules: Mapping[str, RuleInfo], evidence: pl.DataFrame, run: RunInfo) -> pl.DataFrame:
    """One alert per matched (rule, event), in `evidence`'s order: `evidence` as built by
    `evidence_frame`, with the matching rule's id in `rule_id`; `rules` maps each id to what
    its alerts say of the rule. What a detection run stores is these alerts, in the detection
    layout of `alert_files` (this is the plain form it is tested against)."""
    if evidence.is_empty():
        return ALERT_SCHEMA.to_frame()
    frame = evidence.select(
        event_alert_ids(evidence["rule_id"], evidence["event_uid"]),
        pl.col("rule_id"),
        pl.col("source"),
        pl.col("time").alias("first_evidence_at"),
        pl.col("time").alias("last_evidence_at"),
        pl.col("ingested_at").alias("evidence_ingested_at"),
        pl.concat_list(pl.col("event_uid")).alias("event_uids"),
        pl.lit(None, pl.String).alias("group"),
        pl.col("actor"),
        pl.col("src_ip"),
        pl.col("target"),
    )
    wanted = frame["rule_id"].unique().to_list()
    described = _rule_columns([rules[rule_id] for rule_id in wanted])
    return _with_run(frame.join(described, on="rule_id", how="left", maintain_order="left"), run)


def correlation_alerts(
    rule: RuleInfo,
    hits: pl.DataFrame,
    group_by: tuple[str, ...],
    evidence: Mapping[str, Mapping[str, object]],
    run: RunInfo,
) -> pl.DataFrame:
    """One alert per correlation hit; `evidence` maps event_uid → its evidence row."""
    if hits.is_empty():
        return ALERT_SCHEMA.to_frame()
    rows = []
    for hit in hits.iter_rows(named=True):
        group = pl.DataFrame([{k: hit[k] for k in group_by}]).write_json() if group_by else "[{}]"
        uids: list[str] = list(hit["event_uids"])
        known = [evidence[u] for u in uids if u in evidence]
        first = known[0] if known else {}
        ingested: list[datetime] = [
            r["ingested_at"] for r in known if isinstance(r.get("ingested_at"), datetime)  # type: ignore[misc]
        ]
        sources = sorted({str(r["source"]) for r in known if r.get("source")})
        rows.append(
            {
                "alert_id": alert_id(rule.id, group, hit["window_end"].isoformat()),
                "source": ",".join(sources) or None,
                "first_evidence_at": hit["window_start"],
                "last_evidence_at": hit["window_end"],
                "evidence_ingested_at": max(ingested) if ingested else None,
                "event_uids": uids,
                "group": group,
                "actor": first.get("actor"),
                "src_ip": first.get("src_ip"),
                "target": first.get("target"),
            }
        )
    frame = pl.DataFrame(rows, schema={k: ALERT_SCHEMA[k] for k in rows[0]})
    return _with_rule_and_run(frame, rule, run)


def _rule_columns(rules: Sequence[RuleInfo]) -> pl.DataFrame:
    """What alerts say of each rule, one row per rule, keyed by `rule_id`."""
    return pl.DataFrame(
        {
            "rule_id": [r.id for r in rules],
            "rule_title": [r.title for r in rules],
            "rule_kind": [r.kind for r in rules],
            "level": [r.level for r in rules],
            "tags": [list(r.tags) for r in rules],
            "rule_author": [r.author for r in rules],
        },
        schema={name: ALERT_SCHEMA[name] for name in ("rule_id", "rule_title", "rule_kind", "level", "tags", "rule_author")},
    )


def _with_rule_and_run(frame: pl.DataFrame, rule: RuleInfo, run: RunInfo) -> pl.DataFrame:
    described = frame.with_columns(pl.lit(rule.id, pl.String).alias("rule_id")).join(
        _rule_columns([rule]), on="rule_id", how="left", maintain_order="left"
    )
    return _with_run(described, run)


def _with_run(frame: pl.DataFrame, run: RunInfo) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(run.created_at, UTC_MICROS).alias("created_at"),
        pl.lit(run.origin, pl.String).alias("origin"),
        pl.lit(run.run_id, pl.String).alias("run_id"),
    ).select(ALERT_SCHEMA.names()).cast(ALERT_SCHEMA)
