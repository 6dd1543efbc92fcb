"""GitHub audit log's batch path: `github.normalize` as Polars expressions over a chunk.

A GitHub entry keeps every top-level key as a native column, so the keys are read first
(`json_paths.read_keys`) and every key of the chunk is then read as text; the fields
`normalize` reads get their JSON types (`json_paths.read_kinds`). Names, times, targets and
conclusions go through github's own functions once per distinct value
(`batch_exprs.per_distinct`); whether `actor_ip` is an IP address (`src_ip`) or not
(`src_host`, `github.origin`) by `batch_exprs.is_ip`, which asks `github.origin` only about the
distinct addresses holding a `:`. On every row it keeps the result equals `normalize` +
`complete_row`; declined rows go to `normalize`:

- a top-level key that is not lower-case ASCII letters, digits, `_`, `@` or `-` (DuckDB reads
  structure keys without regard to case, and a dot would read as a path);
- a missing, empty or non-string `action`; a time `parse_time` refuses;
- an object or array where a canonical column reads a scalar (`actor`, `actor_ip`, ...);
- a float or an escaped control character anywhere in the record, which DuckDB spells its own
  way in the JSON texts of the native columns (`json_paths`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from auditlake.errors import RecordError
from auditlake.schema import is_canonical
from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.batch_exprs import (
    in_range,
    is_ip,
    json_value,
    nonempty,
    per_distinct,
    respelled,
)
from auditlake.sources.json_paths import read_keys, read_paths
from auditlake.sources.ndjson_batch import (
    FRAME_COLUMN,
    KIND,
    declined_all,
    decode_typed,
    finish,
)
from auditlake.sources.timeparse import parse_time

SCALARS: tuple[str, ...] = (
    "actor", "_document_id", "actor_id", "actor_ip", "actor_location.country_code", "user_agent",
    "hashed_token", "token_id", "request_id", "user_id", "conclusion", "result",
)
"""Fields `normalize` reads with `scalar_text`: an object or array there is refused."""
NAMES: tuple[str, ...] = ("org", "business", "user", "repo", "repository", "team", "data.team")
"""Fields `normalize` reads as names (`github.name_of`)."""
KEYS = r"^[a-z0-9_@-]*$"
"""Top-level keys read as native columns here (others decline the record)."""
_COUNTRY = "actor_location.country_code"
_ADDRESS_IS_IP = "_is_ip:actor_ip"
"""Whether `actor_ip` is an IP address; the `:` keeps the name apart from any key read (`KEYS`)."""
_MEMBERS = (("actor_location", "country_code"), ("data", "team"))


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import github  # github imports this module for its SPEC

    spec = github.SPEC
    fixed = [p for p in dict.fromkeys(["action", *github.TIME_FIELDS, "actor_is_bot", *SCALARS, *NAMES]) if "." not in p]
    typed = ["action", *github.TIME_FIELDS, "actor_is_bot", *SCALARS, *NAMES]
    decoded = decode_typed(frames, fixed, spec, typed, _MEMBERS)
    keys = None if decoded is None else read_keys(decoded.base["raw"])
    if decoded is None or keys is None:  # DuckDB took the records for their texts only
        return declined_all(spec, frames)
    work = decoded.work.with_columns(keys.alias("_keys"))
    found = work.get_column("_keys").explode().drop_nulls().unique().to_list()
    others = sorted(k for k in found if k not in fixed and _plain_key(k) and not is_canonical(k))
    if others:
        texts, refused = read_paths(decoded.base["raw"], others)
        if refused:  # DuckDB took these records for the fixed fields, not for all of theirs
            return declined_all(spec, frames)
        work = pl.concat([work, texts], how="horizontal")
    first_time = pl.coalesce(
        *(pl.when(pl.col(KIND + f).is_not_null() & (pl.col(KIND + f) != "NULL")).then(_typed(f))
          for f in github.TIME_FIELDS)
    )
    work = work.with_columns(_time=_times(work.select(first_time).to_series()))
    keep = ~work.select(_declined()).to_series()
    kept = work.filter(keep)
    action = kept.get_column("action")
    kept = kept.with_columns(
        *(per_distinct(kept.select(_typed(p)).to_series(), _name_of(github), pl.String()).alias(f"_name:{p}")
          for p in NAMES),
        _person=per_distinct(action, github.names_a_person, pl.Boolean()),
        _class=per_distinct(action, github._classify, pl.Struct(
            {"class_uid": pl.Int32, "category": pl.String, "activity_id": pl.Int16})),
        _failed=per_distinct(kept.select(_conclusion()).to_series(), github.failed, pl.Boolean()),
        **{_ADDRESS_IS_IP: _actor_ip_is_ip(kept, github)},
    )
    natives = [k for k in [*fixed, *others] if not is_canonical(k)]
    return finish(
        spec, frames, decoded, keep,
        canonical=kept.select(**_canonical(github)), natives=kept.select(*natives, _COUNTRY),
    )


_INTERNAL = frozenset({"raw", FRAME_COLUMN, "_keys", "_time", "_person", "_class", "_failed"})
"""Columns of the work frame besides the fields' own: a key of one of these names declines."""


def _actor_ip_is_ip(kept: pl.DataFrame, github: Any) -> pl.Series:
    """Whether `github.origin` takes each row's `actor_ip` for an IP address (else a host name)."""
    return is_ip(kept.select(nonempty("actor_ip")).to_series(), lambda a: github.origin(a)["src_ip"] is not None)


def _plain_key(key: str) -> bool:
    """A key read as a native column here (`KEYS`): not empty, nor one of `_INTERNAL`."""
    return bool(key) and key not in _INTERNAL and key.isascii() and key == key.lower() and all(
        c.isalnum() or c in "_@-" for c in key
    )


def _typed(path: str) -> pl.Expr:
    """The field's JSON type and text, as one value for `per_distinct`."""
    return pl.struct(kind=pl.col(KIND + path), text=pl.col(path)).alias(path)


def _name_of(github: Any) -> Any:
    return lambda typed: github.name_of(json_value(typed["kind"], typed["text"])) if typed else None


MILLIS = (10**11, 10**14)
"""Epoch numbers `parse_time` reads as milliseconds (GitHub's own), read here by Polars."""


def _times(first: pl.Series) -> pl.Series:
    """`parse_time` of each row's first time field: integers of milliseconds by Polars, any
    other value by `parse_time` itself, once per distinct value. `parse_time` divides the
    milliseconds by 1,000 as a float and rounds to the microsecond; the float is within half a
    microsecond of the exact value for any time before 2200, so it lands on the same one."""
    kind, text = first.struct.field("kind"), first.struct.field("text")
    millis = text.cast(pl.Int64, strict=False)
    plain = kind.is_in(["UBIGINT", "BIGINT"]) & (millis >= MILLIS[0]) & (millis < MILLIS[1])
    fast = in_range(pl.from_epoch(pl.lit(millis), "ms").dt.replace_time_zone("UTC"))
    quick = pl.select(pl.when(pl.lit(plain)).then(fast)).to_series()
    slow = per_distinct(pl.select(pl.when(~pl.lit(plain)).then(pl.lit(first))).to_series(), _moment,
                        pl.Datetime("us", "UTC"))
    return quick.fill_null(slow).alias("_time")


def _moment(typed: dict[str, Any] | None) -> datetime | None:
    """`parse_time` of the first time field present (None when it refuses it, or none is)."""
    if typed is None:
        return None
    try:
        return parse_time(json_value(typed["kind"], typed["text"]))
    except RecordError:
        return None


def _conclusion() -> pl.Expr:
    return pl.coalesce(nonempty("conclusion"), nonempty("result"))


def _declined() -> pl.Expr:
    """Rows `normalize` may reject or read differently (module docstring)."""
    kind = pl.col
    vouched = (
        pl.col("_keys").list.eval(pl.element().str.contains(KEYS) & ~pl.element().is_in(sorted(_INTERNAL))).list.all()
        & (kind(KIND + "action") == "VARCHAR")
        & (pl.col("action") != "")
        & pl.col("_time").is_not_null()
        & pl.all_horizontal(*(~kind(KIND + p).is_in(["OBJECT", "ARRAY"]).fill_null(False) for p in SCALARS))
        & ~respelled(pl.col("raw"))
    )
    return ~vouched.fill_null(False)


def _canonical(github: Any) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions."""
    actor = nonempty("actor")
    is_bot = (pl.col(KIND + "actor_is_bot") == "BOOLEAN") & (pl.col("actor_is_bot") == "true")
    user = pl.col("_name:user")
    repo = pl.coalesce(pl.col("_name:repo"), pl.col("_name:repository"))
    team = pl.coalesce(pl.col("_name:team"), pl.col("_name:data.team"))
    on_user = user.is_not_null() & (repo.is_null() | pl.col("_person"))
    on_team = ~on_user & team.is_not_null() & pl.col("action").str.starts_with("team.")
    on_repo = ~on_user & ~on_team & repo.is_not_null()
    target_name = pl.when(on_user).then(user).when(on_team).then(team).when(on_repo).then(repo)
    conclusion = _conclusion()
    return {
        "event_uid": nonempty("_document_id"),  # else from the content, in `finish`
        "time": pl.col("_time"),
        "action": pl.col("action"),
        "actor_id": pl.coalesce(nonempty("actor_id"), actor),
        "actor_name": actor,
        "actor_type": pl.when(actor.is_null()).then(pl.lit("unknown"))
        .when(actor.is_in(sorted(github.SYSTEM_ACTORS))).then(pl.lit("system"))
        .when(actor.str.ends_with("[bot]") | actor.is_in(sorted(github.SERVICE_ACTORS)) | is_bot.fill_null(False))
        .then(pl.lit("service"))
        .otherwise(pl.lit("user")),
        "src_ip": pl.when(pl.col(_ADDRESS_IS_IP)).then(nonempty("actor_ip")),
        "src_host": pl.when(~pl.col(_ADDRESS_IS_IP)).then(nonempty("actor_ip")),
        "src_country": nonempty(_COUNTRY),
        "user_agent": nonempty("user_agent"),
        "source_tenant": pl.coalesce(pl.col("_name:org"), pl.col("_name:business")),
        "credential_id": pl.coalesce(nonempty("hashed_token"), nonempty("token_id")),
        "request_id": nonempty("request_id"),
        "target_type": pl.when(on_user).then(pl.lit("user")).when(on_team).then(pl.lit("team"))
        .when(on_repo).then(pl.lit("repository")),
        "target_id": pl.when(on_user).then(pl.coalesce(nonempty("user_id"), user)).otherwise(target_name),
        "target_name": target_name,
        "outcome": pl.when(pl.col("_failed") | pl.col("action").is_in(sorted(github.FAILED_ACTIONS)))
        .then(pl.lit("failure")).otherwise(pl.lit("success")),
        "outcome_reason": conclusion,
        "class_uid": pl.col("_class").struct.field("class_uid"),
        "category": pl.col("_class").struct.field("category"),
        "activity_id": pl.col("_class").struct.field("activity_id"),
    }
