"""Okta System Log's batch path: `okta.normalize` as Polars expressions over a chunk.

Built as `kubernetes_batch` is: the native fields as text from DuckDB (`json_paths.read_paths`;
the `debugContext.debugData` members kept as columns come from `json_paths.read_kinds`, as a
path may not lie under another there), the JSON types of the fields `normalize` checks, and
expressions for the canonical columns. What `normalize` computes from a whole array or a URL
(`target[0]`, `request.ipChain`, the org host) is computed by its own functions, once per
distinct value (`batch_exprs.per_distinct`); whether `client.ipAddress` is an IP address
(`src_ip`) or not (`src_host`, `okta.origin`) by `batch_exprs.is_ip`, which asks `okta.origin`
only about the distinct addresses holding a `:`. On every row it keeps the result equals
`normalize` + `complete_row`; declined rows go to `normalize`:

- a top-level key in one of the lower-case spellings some exporters write (`eventtype`,
  `debugcontext`, ...), which `normalize` merges under Okta's own;
- a missing, empty or non-string `eventType`; a `published` not a string of the
  `batch_exprs.TIME_TEXT` forms within 1970..2200;
- an `actor` that is not an object, or an object or array where a canonical column reads a
  scalar (`uuid`, `client.ipAddress`, `outcome.result`, ...);
- a float where a native or canonical column reads a scalar, which DuckDB spells its own way.

A record holding a float or an escaped control character (Okta's `geolocation` puts floats in
nearly every one) takes the texts of its native objects and arrays (`request.ipChain`,
`target`, `debugContext.debugData`) from simdjson, as `normalize` does: DuckDB spells those two
its own way inside JSON texts (`json_paths`).
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
)
from auditlake.sources.ndjson_batch import (
    KIND,
    declined_all,
    decode_typed,
    finish,
    of_kind,
)

DEBUG_DATA = "debugContext.debugData"
SCALARS: tuple[str, ...] = (
    "uuid", "severity", "actor.id", "actor.type", "actor.alternateId", "actor.displayName",
    "client.ipAddress", "client.geographicalContext.country", "client.userAgent.rawUserAgent",
    "outcome.result", "outcome.reason", "authenticationContext.externalSessionId",
    "authenticationContext.credentialType", "transaction.id", f"{DEBUG_DATA}.requestId",
)
"""Fields `normalize` reads with `scalar_text`: an object or array there is refused."""
ADDRESS = "client.ipAddress"
"""The client's address: `src_ip` when it is an IP address, else `src_host` (`okta.origin`)."""
_URLS = ("debugContext.debugData.origin", "debugContext.debugData.redirectUri", "debugContext.debugData.url")
_TARGET = pl.Struct({"target_type": pl.String, "target_id": pl.String, "target_name": pl.String})


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import okta  # okta imports this module for its SPEC

    spec, natives = okta.SPEC, okta.NATIVE_PATHS
    under_debug = [p for p in natives if p.startswith(f"{DEBUG_DATA}.")]
    spellings = list(okta.TOP_LEVEL_SPELLINGS)
    typed = [*spellings, *natives, "actor", f"{DEBUG_DATA}.factor", *SCALARS, *_URLS]
    members = [tuple(p.split(".", 2)) for p in (*under_debug, f"{DEBUG_DATA}.requestId", *_URLS)]
    decoded = decode_typed(frames, [p for p in natives if p not in under_debug], spec, typed, members)
    if decoded is None:  # DuckDB took the records for their texts, not for their types
        return declined_all(spec, frames)
    work = decoded.work.with_columns(_time=time_from_text(pl.col("published")))
    keep = ~work.select(_declined(spellings, natives)).to_series()
    kept = simdjson_containers(work.filter(keep), natives, KIND)
    kept = kept.with_columns(
        _address_is_ip=is_ip(kept.select(_scalar(ADDRESS)).to_series(), lambda a: okta.origin(a)["src_ip"] is not None),
        _target=per_distinct(_array(kept, "target"), lambda t: okta._target(json_value("ARRAY", t)), _TARGET),
        _chain=per_distinct(
            _array(kept, "request.ipChain"), lambda t: okta._ip_chain(json_value("ARRAY", t)), pl.List(pl.String)
        ),
        _org=per_distinct(
            kept.select(pl.struct(*(of_kind(p, "VARCHAR") for p in _URLS)).alias("urls")).to_series(),
            lambda urls: okta.org_host((urls or {}).values()),
            pl.String(),
        ),
    )
    aliases = (pl.col(name).alias(alias) for alias, name in okta.LOWERCASE_ALIASES.items())
    return finish(
        spec, frames, decoded, keep,
        canonical=kept.select(**_canonical(okta)), natives=kept.select(*natives, *aliases),
    )


def _array(frame: pl.DataFrame, path: str) -> pl.Series:
    """The field's JSON text where it is an array (else null)."""
    return frame.select(of_kind(path, "ARRAY")).to_series()


_scalar = nonempty
"""`fields.scalar_text` on a row kept: the text, None when absent or empty."""


def _known(path: str, okta: Any) -> pl.Expr:
    """`okta._known` of the field's text: Okta's `unknown` placeholder is no value."""
    value = _scalar(path)
    return pl.when(value != okta.UNKNOWN).then(value)


def _origin(okta: Any) -> dict[str, pl.Expr]:
    """`okta.origin`: an IP address is `src_ip`, any other text but Okta's `unknown` `src_host`."""
    address, an_ip = _known(ADDRESS, okta), pl.col("_address_is_ip")
    return {"src_ip": pl.when(an_ip).then(address), "src_host": pl.when(~an_ip).then(address)}


def _declined(spellings: list[str], natives: Sequence[str]) -> pl.Expr:
    """Rows `normalize` may reject or read differently (module docstring)."""
    kind = pl.col
    scalars = dict.fromkeys([*natives, *SCALARS])
    vouched = (
        pl.all_horizontal(*(kind(KIND + s).is_null() for s in spellings))
        & (kind(KIND + "eventType") == "VARCHAR")
        & (pl.col("eventType") != "")
        & pl.col("_time").is_not_null()
        & (kind(KIND + "published") == "VARCHAR")
        & (kind(KIND + "actor").is_null() | kind(KIND + "actor").is_in(["NULL", "OBJECT"]))
        & pl.all_horizontal(*(~kind(KIND + p).is_in(["OBJECT", "ARRAY"]).fill_null(False) for p in SCALARS))
        & pl.all_horizontal(*((kind(KIND + p) != "DOUBLE").fill_null(True) for p in scalars))
    )
    return ~vouched.fill_null(False)


def _canonical(okta: Any) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions."""
    event_type = pl.col("eventType")
    target = pl.col("_target")
    credential = _scalar("authenticationContext.credentialType")
    factor = pl.col(KIND + f"{DEBUG_DATA}.factor")
    session = _scalar("authenticationContext.externalSessionId")
    return {
        "event_uid": _scalar("uuid"),  # else from the content, in `finish`
        "time": pl.col("_time"),
        "action": event_type,
        **_origin(okta),
        "src_ip_chain": pl.col("_chain"),
        "src_country": _scalar("client.geographicalContext.country"),
        "user_agent": _scalar("client.userAgent.rawUserAgent"),
        "session_id": pl.when(session != "unknown").then(session),
        "correlation_id": _scalar("transaction.id"),
        "request_id": _scalar(f"{DEBUG_DATA}.requestId"),
        "outcome": pl.col("outcome.result").replace_strict(dict(okta.OUTCOMES), default="unknown", return_dtype=pl.String),
        "outcome_reason": _scalar("outcome.reason"),
        "severity_id": pl.col("severity").replace_strict(dict(okta.SEVERITIES), default=None, return_dtype=pl.Int8),
        "source_tenant": pl.col("_org"),
        "auth_mfa": pl.when(
            event_type.is_in(sorted(okta.MFA_EVENT_TYPES))
            | (factor.is_not_null() & (factor != "NULL"))
            | credential.is_in(sorted(okta.MFA_CREDENTIAL_TYPES))
        ).then(pl.lit(True)),
        "actor_id": _known("actor.id", okta),
        "actor_name": pl.coalesce(_known("actor.alternateId", okta), _known("actor.displayName", okta)),
        "actor_type": pl.col("actor.type").replace_strict(dict(okta.ACTOR_TYPES), default="unknown", return_dtype=pl.String),
        "target_type": target.struct.field("target_type"),
        "target_id": target.struct.field("target_id"),
        "target_name": target.struct.field("target_name"),
        **_classify(okta, event_type),
    }


def _classify(okta: Any, event_type: pl.Expr) -> dict[str, pl.Expr]:
    """`okta._classify`: the first matching prefix gives class and category; activity by name."""
    class_uid: pl.Expr = pl.lit(6003, pl.Int32)
    category: pl.Expr = pl.lit("api")
    for prefix, uid, name in reversed(okta.CLASSES):
        matches = event_type.str.starts_with(prefix)
        class_uid = pl.when(matches).then(pl.lit(uid, pl.Int32)).otherwise(class_uid)
        category = pl.when(matches).then(pl.lit(name)).otherwise(category)
    activity = event_type.replace_strict(dict(okta.ACTIVITIES), default=0, return_dtype=pl.Int16)
    return {"class_uid": class_uid, "category": category, "activity_id": activity}
