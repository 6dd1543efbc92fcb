"""AWS CloudTrail's batch path: `cloudtrail.normalize` as Polars expressions over a chunk.

The per-record path spends about 50 µs of Python a record; this one reads a chunk's native
fields as text in one native pass (`json_paths`) and maps them with expressions, equal in
result to `normalize` + `complete_row` on every row it keeps: the same table `rows_to_table`
would make, byte for byte. It keeps only rows it can vouch for; the caller sends the declined
ones through `normalize`, for the exact row or rejection reason. Declined are rows that
`normalize` might reject or where the text of a scalar field may differ from `fields.text`:

- no `eventName`, or an `eventTime` not of the form `YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z]` within
  1970..2200 (other forms are left to `timeparse.parse_time`);
- a float under the key of a scalar native field at any depth (with escapes in the record,
  any float), or, in a record with a float or an escaped control character, an object or array
  in a scalar native field: DuckDB spells those two its own way (`json_paths`);
- a `resources[0]` whose fields `_target` would not return as text;
- a sign-in event without an `errorCode`, not among `SIGN_IN_RESULTS`, whose
  `responseElements` may hold `Failure` under its name.

Object-valued native columns (`requestParameters`, ...) are DuckDB's compact JSON, which equals
simdjson's except for those two spellings: in a record holding either, those columns alone
come from simdjson.

>>> frames = [
...     Frame(b'{"eventName":"GetObject","eventTime":"2024-05-01T09:15:00Z",'
...           b'"requestParameters":{"bucketName":"b","key":"k"}}', "f:1"),
...     Frame(b'{"eventName":"GetObject","eventTime":"2024-05-01T09:15:00+02:00"}', "f:2"),
... ]
>>> result = batch(frames)
>>> result.table.column("requestParameters").to_pylist(), result.declined
(['{"bucketName":"b","key":"k"}'], [1])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from auditlake.errors import RecordError
from auditlake.sources.base import BatchResult, Frame
from auditlake.sources.batch_exprs import (
    CONTROL_ESCAPE,
    FLOAT_TOKENS,
    TIME_TEXT,
    first_truthy,
    in_range,
    is_ip,
    time_from_text,
    truthy,
)
from auditlake.sources.chunking import raws
from auditlake.sources.fields import get, get_text, load_json_object, member, object_view, text
from auditlake.sources.ndjson_batch import FRAME_COLUMN, Decoded, decode, finish

OBJECT_PATHS: tuple[str, ...] = (
    "requestParameters", "responseElements", "additionalEventData", "resources",
    "serviceEventDetails",
)
"""Native fields that hold JSON objects or arrays, read as JSON text."""

TARGET_COLUMNS: tuple[str, ...] = ("target_type", "target_id", "target_name")
_DERIVED: tuple[str, ...] = ("_mfa_used", "_sign_in_result", *TARGET_COLUMNS)
EXACT_COLUMNS: tuple[str, ...] = (*OBJECT_PATHS, *_DERIVED)
"""What rows needing simdjson take from it: the object columns and what is read out of them."""

COMMON_TIME_TEXT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$"
)


_RENDERED_CONTAINER = r'^(?:\{[}"]|\[[\]\[{"0-9tfn-])'
"""How the text of an object or array starts; `[S3Console/0.4, ...]` is a string."""
_FLAT_FIRST = r'^\[(\{(?:"[^"]*":"[^"]*"(?:,"[^"]*":"[^"]*")*)?\})'
"""`resources[0]` when it is an object of string values only, from a compact text."""


def batch(frames: Sequence[Frame]) -> BatchResult:
    """Rows for the frames this path can vouch for; the indices of the others (declined)."""
    from auditlake.sources import cloudtrail  # cloudtrail imports this module for its SPEC

    paths = cloudtrail.NATIVE_PATHS
    texts, base, declined = decode(frames, paths, cloudtrail.SPEC)
    work = _settle(_read(texts, base), paths)
    work = work.with_columns(_is_ip=_is_ip(work["sourceIPAddress"], cloudtrail))
    work = _exact_objects(work, frames)
    keep = ~work["_decline"]
    kept = work.lazy().filter(keep)
    canonical = kept.select(**_canonical(cloudtrail)).collect()
    natives = kept.select(paths).collect()
    return finish(cloudtrail.SPEC, frames, Decoded(work, base, declined), keep, canonical=canonical, natives=natives)


def _read(texts: pl.DataFrame, base: Mapping[str, pa.Array]) -> pl.DataFrame:
    """The texts with `raw` and the per-row flags."""
    raw = pl.col("raw")
    floaty = pl.any_horizontal(raw.str.contains(token) for token in FLOAT_TOKENS)
    return texts.with_columns(raw=pl.Series(base["raw"])).with_columns(
        _floaty=floaty,
        _respelled=floaty | raw.str.contains(CONTROL_ESCAPE),
        _time=_time_common(),
        _shape=pl.lit(False),
        _scalar_float=pl.lit(False),
        **{name: pl.lit(None, pl.String) for name in ("_first", *_DERIVED)},
    ).rechunk()  # one chunk per column keeps the row-subset steps below cheap


def _first() -> pl.Expr:
    """`resources[0]` from the compact `resources` text when it is a flat object of strings."""
    return pl.col("resources").str.extract(_FLAT_FIRST, 1)


def _targets() -> dict[str, pl.Expr]:
    """`_target(doc)` where `_first` holds `resources[0]` (rows needing simdjson are redone)."""
    first = pl.col("_first")
    arn = first_truthy(
        first.str.extract(r'[{,]"ARN":"([^"]*)"', 1), first.str.extract(r'[{,]"arn":"([^"]*)"', 1)
    )
    return {
        "target_type": first.str.extract(r'[{,]"type":"([^"]*)"', 1),
        "target_id": arn,
        "target_name": pl.when(truthy(arn)).then(_last_segment(arn)),
    }


def _settle(work: pl.DataFrame, paths: Sequence[str]) -> pl.DataFrame:
    """Checks needed on few rows, run on those rows only; then the decline and simdjson flags."""
    scalars = [p for p in paths if p not in OBJECT_PATHS]
    scalar_keys = sorted({p.rsplit(".", 1)[-1] for p in scalars})
    scalar_float = rf'"(?:{"|".join(scalar_keys)})"\s*:\s*-?[0-9]+[.eE]'
    event_time, raw = pl.col("eventTime"), pl.col("raw")
    other_form = pl.col("_time").is_null() & event_time.str.contains(TIME_TEXT)
    work = _on_rows(work, other_form, _time=time_from_text(event_time))
    # a key written with escapes escapes the pattern: with escapes, any float declines the row
    float_key = raw.str.contains("\\", literal=True) | raw.str.contains(scalar_float)
    work = _on_rows(work, pl.col("_floaty"), _scalar_float=float_key)
    shape = pl.any_horizontal(pl.col(p).str.contains(_RENDERED_CONTAINER) for p in scalars)
    work = _on_rows(work, pl.col("_respelled"), _shape=shape.fill_null(False))
    work = work.with_columns(_decline=_declined())
    work = _on_rows(work, pl.col("resources").str.starts_with("[{"), _first=_first())
    work = _on_rows(work, pl.col("_first").is_not_null(), **_targets())
    for where, column in _members():
        work = _on_rows(work, ~pl.col("_decline") & where, **column)
    objects = pl.any_horizontal(pl.col(k).is_not_null() for k in OBJECT_PATHS)
    respelled = pl.col("_respelled") & objects
    return work.with_columns(_exact=~pl.col("_decline") & (respelled | _repeated()))


def _on_rows(work: pl.DataFrame, where: pl.Expr, /, **columns: pl.Expr) -> pl.DataFrame:
    """Compute `columns` on the rows `where` holds only; the other rows keep their values."""
    rows = work.select(pl.arg_where(where)).to_series()
    if rows.is_empty():
        return work
    part = work.lazy().filter(where).select(**columns).collect()
    return work.with_columns(work[name].scatter(rows, part[name]) for name in columns)


def _time_common() -> pl.Expr:
    """`eventTime` in CloudTrail's own form, `YYYY-MM-DDTHH:MM:SSZ`; else null.

    The pattern comes first: Polars' parser also takes `2024-1-1T0:0:0Z`, ` 2024...` or a
    60th second, which `parse_time` refuses or reads differently.
    """
    text = pl.col("eventTime")
    moment = text.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%SZ", strict=False)
    return in_range(pl.when(text.str.contains(COMMON_TIME_TEXT)).then(moment))


def _declined() -> pl.Expr:
    """Rows `normalize` may reject or read differently (module docstring)."""
    from auditlake.sources import cloudtrail

    name = pl.col("eventName")
    # another sign-in event's result is read by its name too, which matters only where it may
    # be `Failure` (`GetSigninToken` writes none): those rows alone are left to `normalize`
    may_fail = pl.col("responseElements").str.contains_any(["Failure", "\\"])
    unknown_sign_in = _sign_in(cloudtrail.SIGN_IN_SOURCE) & ~name.is_in(SIGN_IN_RESULTS) & may_fail
    return (
        ~truthy(name)
        | pl.col("_time").is_null()
        | pl.col("_shape").fill_null(False)
        | pl.col("_scalar_float")
        | unknown_sign_in.fill_null(False)
    )


SIGN_IN_RESULTS = ("ConsoleLogin", "SwitchRole", "CheckMfa", "PasswordUpdated", "ExternalIdPDirectoryLogin")
"""Sign-in events whose result (`Success`, `Failure`) the batch reads under their own name in
`responseElements`, as `cloudtrail._outcome` does (another one is declined where it may have failed)."""


def _sign_in(source: str) -> pl.Expr:
    """Rows whose outcome `cloudtrail._outcome` reads from `responseElements`: a sign-in event
    (or a `ConsoleLogin`) without an `errorCode`."""
    login = (pl.col("eventName") == "ConsoleLogin") | (pl.col("eventSource") == source)
    return login & ~truthy(pl.col("errorCode"))


def _sign_in_result() -> pl.Expr:
    """`responseElements.<eventName>` for the events of `SIGN_IN_RESULTS`."""
    name = pl.col("eventName")
    found: pl.Expr = pl.lit(None, pl.String)
    for event in SIGN_IN_RESULTS:
        found = pl.when(name == event).then(_member("responseElements", event)).otherwise(found)
    return found


def _members() -> list[tuple[pl.Expr, dict[str, pl.Expr]]]:
    """`get_text(doc, "additionalEventData.MFAUsed")` and a sign-in's result under its name in
    `responseElements`, each with the rows where `normalize` reads it: no `mfaAuthenticated`;
    a sign-in event without an `errorCode`.
    """
    from auditlake.sources import cloudtrail

    mfa = pl.col("userIdentity.sessionContext.attributes.mfaAuthenticated")
    mfa_used = _member("additionalEventData", "MFAUsed")
    sign_in = _sign_in(cloudtrail.SIGN_IN_SOURCE)
    return [
        (mfa.is_null() & _is_object("additionalEventData"), {"_mfa_used": mfa_used}),
        (sign_in & _is_object("responseElements"), {"_sign_in_result": _sign_in_result()}),
    ]


def _is_object(column: str) -> pl.Expr:
    """The column's text is a JSON object (rows respelled by DuckDB are redone by simdjson)."""
    return pl.col(column).str.starts_with("{").fill_null(False)


def _member(column: str, key: str) -> pl.Expr:
    return pl.col(column).str.json_path_match(f"$.{key}")


def _repeated() -> pl.Expr:
    """Keys read from the object texts that occur twice (simdjson takes the first, JSONPath
    and a Python dict the last), or a `resources[0]` too complex for the flat pattern."""
    first = pl.col("_first")
    twice = [first.str.count_matches(f'"{k}":') > 1 for k in ("type", "ARN", "arn")]
    odd = (
        (pl.col("resources").str.starts_with("[{") & first.is_null())
        | pl.any_horizontal(twice)
        | (pl.col("additionalEventData").str.count_matches('"MFAUsed":') > 1)
        | (pl.col("responseElements").str.count_matches(_SIGN_IN_KEYS) > 1)
    )
    return odd.fill_null(False)


_SIGN_IN_KEYS = '"(?:' + "|".join(SIGN_IN_RESULTS) + ')":'
"""A sign-in result's key (two of them in one object: declined, like any key read twice)."""


def _exact_objects(work: pl.DataFrame, frames: Sequence[Frame]) -> pl.DataFrame:
    """Replace the object columns and what is read from them by simdjson's, where needed."""
    rows = work.select(pl.arg_where(pl.col("_exact"))).to_series().to_list()
    if not rows:
        return work
    frame_ids = work[FRAME_COLUMN].gather(rows).to_list()
    lines = raws(frames)
    values = [_exact_row(lines[i]) for i in frame_ids]
    good = [row for row, v in zip(rows, values, strict=True) if v is not None]
    bad = [row for row, v in zip(rows, values, strict=True) if v is None]
    found = [v for v in values if v is not None]
    columns = [
        work[name].scatter(good, [v[k] for v in found]) for k, name in enumerate(EXACT_COLUMNS)
    ]
    if bad:
        columns.append(work["_decline"].scatter(bad, True))
    return work.with_columns(columns)


def _exact_row(raw: bytes) -> tuple[str | None, ...] | None:
    """One row's `EXACT_COLUMNS` as `normalize` reads them (None: decline the row)."""
    from auditlake.sources import cloudtrail

    try:
        doc = load_json_object(raw)
    except RecordError:  # already checked by base_columns; declining is the safe answer
        return None
    doc = object_view(doc)  # read through a dict: a missing key costs simdjson an exception
    values = (
        *(get_text(doc, name) for name in OBJECT_PATHS),
        get_text(doc, "additionalEventData.MFAUsed"),
        _sign_in_value(doc, cloudtrail.SIGN_IN_SOURCE),
        *_target_values(cloudtrail._target(doc)),
    )
    if any(v is not None and not isinstance(v, str) for v in values):
        return None  # a target rows_to_table would refuse: the caller reports it
    return values


def _sign_in_value(doc: Any, source: str) -> str | None:
    """`_sign_in_result` as `cloudtrail._outcome` reads it: a sign-in's result under its name."""
    name = get_text(doc, "eventName")
    if get_text(doc, "errorCode") or not (name == "ConsoleLogin" or get_text(doc, "eventSource") == source):
        return None
    return text(member(get(doc, "responseElements"), name or ""))


def _target_values(target: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(target.get(name) for name in TARGET_COLUMNS)


def _last_segment(arn: pl.Expr) -> pl.Expr:
    """`arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]`: the text after the last `/` or `:`."""
    return arn.str.extract(r"([^/:]*)$", 1)


def _canonical(cloudtrail: Any) -> dict[str, pl.Expr]:
    """The canonical columns `normalize` and `complete_row` set, as expressions."""
    c = pl.col
    who = "userIdentity"
    issuer = f"{who}.sessionContext.sessionIssuer"
    arn, address = c(f"{who}.arn"), c("sourceIPAddress")
    is_ip = c("_is_ip")
    return {
        "event_uid": pl.when(truthy(c("eventID"))).then(c("eventID")),  # else from the content, in `finish`
        "time": c("_time"),
        "source_tenant": first_truthy(c("recipientAccountId"), c(f"{who}.accountId")),
        "action": c("eventName"),
        "service": c("eventSource"),
        "region": c("awsRegion"),
        "user_agent": c("userAgent"),
        "request_id": c("requestID"),
        "correlation_id": c("sharedEventID"),
        "credential_id": pl.when(truthy(c(f"{who}.accessKeyId"))).then(c(f"{who}.accessKeyId")),
        "outcome_reason": pl.when(_login_failed() & ~truthy(c("errorCode"))).then(c("errorMessage")).otherwise(c("errorCode")),
        "actor_id": _or_none(first_truthy(arn, c(f"{who}.principalId"))),
        "actor_name": first_truthy(
            c(f"{who}.userName"),
            pl.when(truthy(arn) & arn.str.contains(cloudtrail.SESSION_ARN.pattern)).then(_last_segment(arn)),
            c(f"{issuer}.userName"),
            pl.when(truthy(arn)).then(_last_segment(arn)),
            c(f"{who}.invokedBy"),
        ),
        "actor_type": pl.when(c(f"{who}.accountId") == cloudtrail.ANONYMOUS_ACCOUNT)
        .then(pl.lit("anonymous"))
        .otherwise(
            c(f"{who}.type").replace_strict(dict(cloudtrail.ACTOR_TYPES), default="unknown", return_dtype=pl.String)
        ),
        "actor_original": first_truthy(c(f"{who}.sessionContext.sourceIdentity"), c(f"{issuer}.arn")),
        "auth_mfa": _mfa(c(f"{who}.sessionContext.attributes.mfaAuthenticated")),
        "src_ip": pl.when(truthy(address) & is_ip).then(address),
        "src_host": pl.when(truthy(address) & ~is_ip).then(address),
        **{name: c(name) for name in TARGET_COLUMNS},
        **_classify(cloudtrail.LOG_ADMIN_EVENTS, cloudtrail.IAM_CLASSES),
        "outcome": _outcome(),
    }


def _or_none(value: pl.Expr) -> pl.Expr:
    """`value or None`: an empty text is no value."""
    return pl.when(truthy(value)).then(value)


def _is_ip(addresses: pl.Series, cloudtrail: Any) -> pl.Series:
    """Whether `cloudtrail._origin` takes each address for an IP (else a host name)."""
    return is_ip(addresses, lambda address: "src_ip" in cloudtrail._origin(address))


def _mfa(attribute: pl.Expr) -> pl.Expr:
    used = pl.col("_mfa_used")
    return (
        pl.when(attribute.is_not_null())
        .then(attribute == "true")
        .when(used.is_not_null())
        .then(used == "Yes")
    )


def _classify(
    log_admin: frozenset[str], iam_classes: Sequence[tuple[str, int]]
) -> dict[str, pl.Expr]:
    """`cloudtrail._classify`: the first matching rule gives class, activity and category."""
    name, source = pl.col("eventName"), pl.col("eventSource")
    iam = source == "iam.amazonaws.com"
    login = (name == "ConsoleLogin") | (source == "signin.amazonaws.com")
    rules: list[tuple[pl.Expr, tuple[int, int, str]]] = [
        (login, (3002, 1, "authentication")),
        (name.is_in(sorted(log_admin)), (1008, 0, "log_admin")),
        *[
            (iam & name.str.contains(part, literal=True), (uid, 0, "iam"))
            for part, uid in iam_classes
        ],
        (iam, (3001, 0, "iam")),
        (pl.col("eventCategory") == "Data", (6005, 0, "data_access")),
    ]
    otherwise = (6003, 0, "api")
    out: dict[str, pl.Expr] = {}
    for k, (column, dtype) in enumerate(
        (("class_uid", pl.Int32), ("activity_id", pl.Int16), ("category", pl.String))
    ):
        expr: Any = pl.lit(otherwise[k], dtype=dtype)
        for condition, values in reversed(rules):
            value = pl.lit(values[k], dtype=dtype)
            expr = pl.when(condition.fill_null(False)).then(value).otherwise(expr)
        out[column] = expr
    return out


def _outcome() -> pl.Expr:
    failed = truthy(pl.col("errorCode")) | _login_failed()
    return pl.when(failed).then(pl.lit("failure")).otherwise(pl.lit("success"))


def _login_failed() -> pl.Expr:
    """A sign-in that failed without an `errorCode` (its message says why)."""
    return (pl.col("_sign_in_result") == "Failure").fill_null(False)
