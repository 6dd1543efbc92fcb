"""Google Cloud audit logs' batch path: `gcp.normalize` as Polars expressions over a chunk.

Built as `okta_batch` is: the native fields as text from DuckDB (the members under
`resource.labels` kept as columns, and the other members read, from `json_paths.read_kinds`),
the JSON types of the fields `normalize` checks, expressions for the canonical columns, and
gcp's own functions once per distinct value for what it computes from a whole object or array
(the delegation chain, the first resource location, the log type and project). On every row it
keeps the result equals `normalize` + `complete_row`; declined rows go to `normalize`:

- a key in one of the other spellings some exporters write (`protopayload`, `insertid`,
  `at_sign_type`, `callerIP`, ...), which `normalize` merges under Google's own;
- a `protoPayload` that is not an object; a missing, empty or non-string `methodName`;
- a `timestamp` not a string of the `batch_exprs.TIME_TEXT` forms within 1970..2200; a
  `receiveTimestamp` present and not one (`normalize` reads other forms, or drops it);
- an object or array, or a float, where a canonical or native column reads a scalar.

Native objects and arrays whose DuckDB text holds a float or an escaped control character
take simdjson's text (`batch_exprs.simdjson_containers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.batch_exprs import (
    is_ip,
    json_value,
    nonempty,
    per_distinct,
    simdjson_containers,
    time_from_text,
    truthy,
)
from auditlake.sources.fields import ip_or_host
from auditlake.sources.ndjson_batch import (
    KIND,
    declined_all,
    decode_typed,
    finish,
    of_kind,
)

LABELS = "resource.labels"
PAYLOAD = "protoPayload"
AUTH = f"{PAYLOAD}.authenticationInfo"
LOCATIONS = f"{PAYLOAD}.resourceLocation.currentLocations"
SCALARS: tuple[str, ...] = (
    "insertId", "logName", "severity", "operation.id", f"{LABELS}.project_id", f"{LABELS}.location",
    f"{LABELS}.region", f"{LABELS}.zone", "resource.type", f"{AUTH}.principalEmail",
    f"{AUTH}.principalSubject", f"{AUTH}.serviceAccountKeyName", f"{PAYLOAD}.serviceName", f"{PAYLOAD}.resourceName",
    f"{PAYLOAD}.requestMetadata.callerIp", f"{PAYLOAD}.requestMetadata.callerSuppliedUserAgent",
    f"{PAYLOAD}.status.code", f"{PAYLOAD}.status.message",
)
"""Fields `normalize` reads with `scalar_text`: an object or array there is refused."""
_MEMBERS: tuple[str, ...] = (
    f"{LABELS}.location", f"{LABELS}.region", f"{LABELS}.zone", f"{AUTH}.principalSubject",
    f"{AUTH}.serviceAccountKeyName", AUTH, LOCATIONS, "operation.id",
)
"""Members read that are not native paths (or lie under one)."""


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import gcp  # gcp imports this module for its SPEC

    spec, natives = gcp.SPEC, gcp.NATIVE_PATHS
    under_labels = [p for p in natives if p.startswith(f"{LABELS}.")]
    spellings = [
        *gcp.TOP_LEVEL_SPELLINGS,
        *(f"{PAYLOAD}.{other}" for other in gcp.PAYLOAD_SPELLINGS),
        *(f"{PAYLOAD}.requestMetadata.{other}" for other in gcp.METADATA_SPELLINGS),
    ]
    typed = [*spellings, *natives, PAYLOAD, f"{PAYLOAD}.methodName", *SCALARS, AUTH, LOCATIONS]
    paths = [p for p in natives if p not in under_labels]
    members = [tuple(p.split(".")) for p in dict.fromkeys([*under_labels, *_MEMBERS]) if p not in paths]
    decoded = decode_typed(frames, paths, spec, typed, members)
    if decoded is None:  # DuckDB took the records for their texts, not for their types
        return declined_all(spec, frames)
    work = decoded.work.with_columns(
        _time=time_from_text(pl.col("timestamp")), _received=time_from_text(pl.col("receiveTimestamp"))
    )
    keep = ~work.select(_declined(spellings, natives)).to_series()
    kept = simdjson_containers(work.filter(keep), natives, KIND)
    caller = _scalar(f"{PAYLOAD}.requestMetadata.callerIp")
    kept = kept.with_columns(
        _delegator=per_distinct(
            kept.select(of_kind(AUTH, "OBJECT")).to_series(), lambda t: gcp._delegator(json_value("OBJECT", t)), pl.String()
        ),
        _location=per_distinct(
            kept.select(of_kind(LOCATIONS, "ARRAY")).to_series(),
            lambda t: gcp.first_location(json_value("ARRAY", t)),
            pl.String(),
        ),
        _log_type=per_distinct(kept["logName"], gcp._log_type, pl.String()),
        _log_project=per_distinct(kept.select(_scalar("logName")).to_series(), gcp.project_of_log, pl.String()),
        _caller_is_ip=is_ip(kept.select(caller).to_series(), lambda a: "src_ip" in ip_or_host(a)),
    )
    columns = kept.select(
        *natives,
        *(pl.col(path).alias(alias) for alias, path in gcp.ECS_ALIASES.items()),
        pl.col("_log_type").alias("log_type"),  # not a canonical column: a native one, as in `normalize`
    )
    return finish(spec, frames, decoded, keep, canonical=kept.select(**_canonical(gcp)), natives=columns)


_scalar = nonempty
"""`fields.scalar_text` on a row kept: the text, None when absent or empty."""


def _declined(spellings: list[str], natives: Sequence[str]) -> pl.Expr:
    """Rows `normalize` may reject or read differently (module docstring)."""
    kind = pl.col
    scalars = dict.fromkeys([*natives, *SCALARS])
    received = kind(KIND + "receiveTimestamp")
    vouched = (
        pl.all_horizontal(*(kind(KIND + s).is_null() for s in spellings))
        & (kind(KIND + PAYLOAD) == "OBJECT")
        & (kind(KIND + f"{PAYLOAD}.methodName") == "VARCHAR")
        & (pl.col(f"{PAYLOAD}.methodName") != "")
        & (kind(KIND + "timestamp") == "VARCHAR")
        & pl.col("_time").is_not_null()
        & (received.is_null() | (received == "NULL") | pl.col("_received").is_not_null())
        & pl.all_horizontal(*(~kind(KIND + p).is_in(["OBJECT", "ARRAY"]).fill_null(False) for p in SCALARS))
        & pl.all_horizontal(*((kind(KIND + p) != "DOUBLE").fill_null(True) for p in scalars))
    )
    return ~vouched.fill_null(False)


def _reason(code: pl.Expr, gcp: Any) -> pl.Expr:
    """`gcp._status`'s reason: the status's message, else a failed code's name (`RPC_CODES`)."""
    message = _scalar(f"{PAYLOAD}.status.message")
    failed = code.is_not_null() & (code != "0")
    named = code.replace_strict(dict(gcp.RPC_CODES), default=None, return_dtype=pl.String)
    return pl.when(failed & ~truthy(message)).then(pl.coalesce(named, message)).otherwise(message)


def _canonical(gcp: Any) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions."""
    method = pl.col(f"{PAYLOAD}.methodName")
    principal = pl.coalesce(_scalar(f"{AUTH}.principalEmail"), _scalar(f"{AUTH}.principalSubject"))
    insert_id, log_name = _scalar("insertId"), _scalar("logName")
    caller, caller_is_ip = _scalar(f"{PAYLOAD}.requestMetadata.callerIp"), pl.col("_caller_is_ip")
    resource_name = _scalar(f"{PAYLOAD}.resourceName")
    code = _scalar(f"{PAYLOAD}.status.code")
    sets_iam_policy = method.str.to_lowercase().str.ends_with(gcp.IAM_POLICY_METHOD)
    return {
        # Without an insertId, from the record's content (`finish`).
        "event_uid": pl.when(insert_id.is_not_null() & log_name.is_not_null())
        .then(pl.concat_str([log_name, pl.lit("/"), insert_id]))
        .otherwise(insert_id),
        "time": pl.col("_time"),
        "source_logged_at": pl.col("_received"),
        "action": method,
        "actor_id": principal,
        "actor_name": principal,
        "actor_type": _actor_type(principal, gcp),
        "actor_original": pl.col("_delegator"),
        "credential_id": _scalar(f"{AUTH}.serviceAccountKeyName"),
        "service": _scalar(f"{PAYLOAD}.serviceName"),
        "user_agent": _scalar(f"{PAYLOAD}.requestMetadata.callerSuppliedUserAgent"),
        "source_tenant": pl.coalesce(_scalar(f"{LABELS}.project_id"), pl.col("_log_project")),
        "region": pl.coalesce(
            _scalar(f"{LABELS}.location"), _scalar(f"{LABELS}.region"), _scalar(f"{LABELS}.zone"), pl.col("_location")
        ),
        "correlation_id": _scalar("operation.id"),
        "severity_id": pl.col("severity").replace_strict(dict(gcp.SEVERITIES), default=None, return_dtype=pl.Int8),
        "src_ip": pl.when(caller_is_ip).then(caller),
        "src_host": pl.when(caller.is_not_null() & ~caller_is_ip).then(caller),
        "target_id": resource_name,
        "target_name": resource_name.str.strip_chars_end("/").str.extract(r"([^/]*)$", 1),
        "target_type": _scalar("resource.type"),
        "outcome": pl.when(code.is_null() | (code == "0")).then(pl.lit("success")).otherwise(pl.lit("failure")),
        "status_code": code,
        "outcome_reason": _reason(code, gcp),
        "class_uid": pl.when(sets_iam_policy).then(pl.lit(3005, pl.Int32)).otherwise(pl.lit(6003, pl.Int32)),
        "activity_id": pl.lit(0, pl.Int16),
        "category": pl.when(sets_iam_policy).then(pl.lit("iam")).otherwise(pl.lit("api")),
    }


def _actor_type(principal: pl.Expr, gcp: Any) -> pl.Expr:
    """`gcp.actor_type`: Google itself in a system event; else a service account's suffix or a
    workload pool first, then the first matching prefix."""
    out = pl.lit("user")
    for prefix, kind in reversed(gcp.ACTOR_PREFIXES):
        out = pl.when(principal.str.starts_with(prefix)).then(pl.lit(kind)).otherwise(out)
    is_service = principal.str.ends_with(gcp.SERVICE_ACCOUNT_SUFFIX) | principal.str.contains(
        gcp.WORKLOAD_POOL, literal=True
    )
    out = pl.when(is_service).then(pl.lit("service")).otherwise(out)
    out = pl.when(principal.is_null()).then(pl.lit("unknown")).otherwise(out)
    is_system = (pl.col("_log_type") == gcp.SYSTEM_EVENT_LOG) | (principal == gcp.SYSTEM_PRINCIPAL)
    return pl.when(is_system.fill_null(False)).then(pl.lit("system")).otherwise(out)
