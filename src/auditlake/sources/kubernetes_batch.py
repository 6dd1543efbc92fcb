"""Kubernetes audit's batch path: `kubernetes.normalize` as Polars expressions over a chunk.

The per-record path spends over 100 µs of Python a record; this one reads a chunk's native
fields as text in one native pass (`json_paths.read_paths`), the JSON types of the fields
`normalize` checks and the members it reads under dotted keys in a second
(`json_paths.read_kinds`), and maps them with expressions. On every row it keeps, the result
equals `normalize` + `complete_row`: the same table `rows_to_table` would make. It keeps only
rows it can vouch for; the caller sends the declined ones through `normalize`, for the exact
row, skip or rejection. Declined are:

- a `stage` other than `ResponseComplete` or `Panic` (or none), a missing or empty `verb`;
- a member of another JSON type than `normalize` reads: `user`, `impersonatedUser`,
  `objectRef`, `responseStatus` or `annotations` not an object, `sourceIPs` or a `groups`
  not an array of strings, a text field (`auditID`, `user.username`, ...) not a string,
  `responseStatus.code` other than decimal digits (a number or a string);
- a `requestReceivedTimestamp` not a string of the `batch_exprs.TIME_TEXT` forms within
  1970..2200, or a `stageTimestamp` present and not one;
- a `requestURI` read as the target (no `objectRef.resource`) that does not start with one
  `/` or holds a tab or line break, which `urlsplit` reads its own way;
- a float or an escaped control character anywhere in the record, which DuckDB spells its own
  way in the JSON texts of the native columns (`json_paths`).

>>> frames = [
...     Frame(b'{"auditID":"a1","stage":"ResponseComplete","verb":"get","user":{"username":'
...           b'"system:anonymous"},"requestURI":"/healthz?verbose","sourceIPs":["203.0.113.7"],'
...           b'"responseStatus":{"code":403},"requestReceivedTimestamp":"2024-03-01T10:00:00Z"}',
...           "f:1"),
...     Frame(b'{"auditID":"a2","stage":"RequestReceived","verb":"get",'
...           b'"requestReceivedTimestamp":"2024-03-01T10:00:00Z"}', "f:2"),
... ]
>>> result = batch(frames)
>>> result.table.select(["action", "actor_type", "target_id", "src_ip", "outcome"]).to_pylist()
[{'action': 'get', 'actor_type': 'anonymous', 'target_id': '/healthz', 'src_ip': '203.0.113.7', 'outcome': 'failure'}]
>>> result.declined
[1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.batch_exprs import is_ip, nonempty, respelled, time_from_text
from auditlake.sources.ndjson_batch import KIND, declined_all, decode_typed, finish

OBJECTS: tuple[str, ...] = ("user", "impersonatedUser", "objectRef", "responseStatus", "annotations")
"""Members that must be objects when present (`kubernetes.STRUCTURE`)."""
STRINGS: tuple[str, ...] = (
    "stage", "verb", "auditID", "userAgent", "requestURI", "user.username", "user.uid",
    "impersonatedUser.username", "impersonatedUser.uid", "objectRef.resource",
    "objectRef.subresource", "objectRef.namespace", "objectRef.name", "objectRef.apiGroup",
    "responseStatus.message", "requestReceivedTimestamp", "stageTimestamp",
)
"""Fields `normalize` reads as strings (`kubernetes._string`, `parse_time` of a string)."""
LISTS: tuple[str, ...] = ("user.groups", "impersonatedUser.groups", "sourceIPs")
"""Fields `normalize` reads as lists of strings (`kubernetes._string_list`)."""
CODE = "responseStatus.code"
EXTRACTED: tuple[tuple[str, ...], ...] = (
    ("impersonatedUser", "uid"),
    ("impersonatedUser", "groups"),
    ("annotations", "authorization.k8s.io/decision"),
    ("annotations", "authorization.k8s.io/reason"),
)
"""Members read that are not native paths (the annotation keys hold dots)."""

_STRING_ARRAY = r'^\[(?:"(?:[^"\\]|\\.)*"(?:,"(?:[^"\\]|\\.)*")*)?\]$'
"""The compact JSON text of an array of strings only."""
_DIGITS = r"^(?:0|[1-9][0-9]{0,17})$"
_CODE_TEXT = r"^[0-9]{1,18}$"
_PLAIN_PATH = r"^/(?:[^/]|$)"


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import kubernetes  # kubernetes imports this module for its SPEC

    spec, paths = kubernetes.SPEC, kubernetes.NATIVE_PATHS
    decoded = decode_typed(frames, paths, spec, [*OBJECTS, *STRINGS, *LISTS, CODE], EXTRACTED)
    if decoded is None:  # DuckDB took the records for their texts, not for their types
        return declined_all(spec, frames)
    work = decoded.work.with_columns(_fields())
    work = work.with_columns(_src_ip_ok=is_ip(work.select(_last_hop()).to_series(), kubernetes._is_ip))
    keep = ~work.select(_declined(kubernetes)).to_series()
    kept = work.filter(keep)
    annotations = [".".join(keys) for keys in EXTRACTED if keys[0] == "annotations"]
    return finish(
        spec, frames, decoded, keep,
        canonical=kept.select(**_canonical(kubernetes)), natives=kept.select(*paths, *annotations),
    )


_text = nonempty
"""`kubernetes._string` on a row kept: the string at a path, None when absent or empty."""


def _kind_in(path: str, *kinds: str) -> pl.Expr:
    """The field at `path` is absent, null or of one of these JSON types."""
    kind = pl.col(KIND + path)
    return kind.is_null() | kind.is_in(["NULL", *kinds])


def _fields() -> list[pl.Expr]:
    """The values `normalize` derives from, each in a column of its own."""
    impersonated = _text("impersonatedUser.username")
    who_groups = pl.when(impersonated.is_not_null()).then(pl.col("impersonatedUser.groups")).otherwise(
        pl.col("user.groups")
    )
    code = pl.col(CODE)
    code_kind = pl.col(KIND + CODE)
    plain_code = (code_kind.is_in(["UBIGINT", "BIGINT"]) & code.str.contains(_DIGITS)) | (
        (code_kind == "VARCHAR") & code.str.contains(_CODE_TEXT)
    )
    return [
        time_from_text(pl.col("requestReceivedTimestamp")).alias("_time"),
        time_from_text(pl.col("stageTimestamp")).alias("_logged"),
        who_groups.alias("_groups"),
        pl.when(code_kind.is_in(["UBIGINT", "BIGINT", "VARCHAR"])).then(
            pl.when(plain_code).then(code.cast(pl.Int64, strict=False))
        ).alias("_code"),
        plain_code.alias("_plain_code"),
        _decoded("sourceIPs").alias("_chain"),
    ]


def _decoded(column: str) -> pl.Expr:
    """A list of strings from its compact JSON text (null unless it is one)."""
    text = pl.col(column)
    return pl.when(text.str.contains(_STRING_ARRAY)).then(text.str.json_decode(pl.List(pl.String)))


def _last_hop() -> pl.Expr:
    return pl.col("_chain").list.last()


def _declined(kubernetes: Any) -> pl.Expr:
    """Rows `normalize` may skip, reject or read differently (module docstring)."""
    stage = _text("stage")
    final = stage.is_null() | stage.is_in(sorted(kubernetes.FINAL_STAGES))
    types = pl.all_horizontal(
        *(_kind_in(p, "OBJECT") for p in OBJECTS),
        *(_kind_in(p, "VARCHAR") for p in STRINGS),
        *(_kind_in(p, "ARRAY") for p in LISTS),
    )
    lists = pl.all_horizontal(
        *(pl.col(p).is_null() | pl.col(p).str.contains(_STRING_ARRAY) for p in LISTS)
    )
    code_ok = pl.col(CODE).is_null() | pl.col("_plain_code")
    logged_ok = pl.col("stageTimestamp").is_null() | pl.col("_logged").is_not_null()
    uri = _text("requestURI")
    uri_ok = (
        _text("objectRef.resource").is_not_null()
        | uri.is_null()
        | (uri.str.contains(_PLAIN_PATH) & ~uri.str.contains(r"[\t\r\n]"))
    )
    vouched = (
        final
        & _text("verb").is_not_null()
        & types
        & lists
        & code_ok
        & pl.col("_time").is_not_null()
        & logged_ok
        & uri_ok
        & ~respelled(pl.col("raw"))
    )
    return ~vouched.fill_null(False)


def _canonical(kubernetes: Any) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions."""
    k = kubernetes
    verb, auditid = _text("verb"), _text("auditID")
    username, impersonated = _text("user.username"), _text("impersonatedUser.username")
    name = pl.coalesce(impersonated, username)
    uid = pl.when(impersonated.is_not_null()).then(_text("impersonatedUser.uid")).otherwise(_text("user.uid"))
    resource, subresource = _text("objectRef.resource"), _text("objectRef.subresource")
    namespace, object_name = _text("objectRef.namespace"), _text("objectRef.name")
    path = _text("requestURI").str.extract(r"^([^?#]*)", 1)
    chain = pl.col("_chain")
    has_chain = chain.list.len() > 0
    code, decision = pl.col("_code"), pl.col("annotations.authorization.k8s.io/decision")
    reason = pl.col("annotations.authorization.k8s.io/reason")
    is_resource = resource.is_not_null()
    return {
        "event_uid": auditid,  # else from the content, in `finish`
        "request_id": auditid,
        "time": pl.col("_time"),
        "source_logged_at": pl.col("_logged"),
        "user_agent": _text("userAgent"),
        "class_uid": pl.lit(6003, pl.Int32),
        "activity_id": verb.replace_strict(dict(k.VERB_ACTIVITIES), default=0, return_dtype=pl.Int16),
        "category": pl.lit("api"),
        "actor_id": pl.coalesce(uid, name),
        "actor_name": name,
        "actor_type": _actor_type(name, k),
        "actor_original": pl.when(impersonated.is_not_null()).then(username),
        "actor_roles": pl.when(pl.col("_groups").is_not_null()).then(_decoded("_groups")),
        "action": pl.when(is_resource).then(
            pl.concat_str([verb, resource, subresource], separator="/", ignore_nulls=True)
        ).otherwise(verb),
        "service": pl.when(is_resource).then(pl.coalesce(_text("objectRef.apiGroup"), pl.lit("core"))),
        "target_type": pl.when(is_resource).then(resource).when(path.is_not_null()).then(pl.lit("url")),
        "target_id": pl.when(is_resource).then(
            pl.concat_str([namespace, resource, object_name], separator="/", ignore_nulls=True)
        ).otherwise(path),
        "target_name": pl.when(is_resource).then(object_name),
        "src_ip": pl.when(has_chain & pl.col("_src_ip_ok")).then(_last_hop()),
        "src_ip_chain": pl.when(has_chain).then(chain),
        "outcome": pl.when(decision == "forbid").then(pl.lit("failure"))
        .when(code.is_not_null()).then(pl.when(code < 400).then(pl.lit("success")).otherwise(pl.lit("failure")))
        .otherwise(pl.lit("unknown")),
        "status_code": code.cast(pl.String),
        "outcome_reason": pl.coalesce(_text("responseStatus.message"), pl.when(reason != "").then(reason)),
    }


def _actor_type(name: pl.Expr, kubernetes: Any) -> pl.Expr:
    """`kubernetes.actor_type`: exact names first, then the first matching prefix, else user."""
    out = pl.lit("user")
    for prefix, kind in reversed(kubernetes.ACTOR_PREFIXES):
        out = pl.when(name.str.starts_with(prefix)).then(pl.lit(kind)).otherwise(out)
    for exact, kind in kubernetes.ACTOR_EXACT.items():
        out = pl.when(name == exact).then(pl.lit(kind)).otherwise(out)
    return pl.when(name.is_null()).then(pl.lit("unknown")).otherwise(out)
