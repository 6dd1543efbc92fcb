"""The CloudTrail batch path equals the per-record path on every frame it keeps.

The differential property: for any chunk of frames, the batch table equals `rows_to_table` of
the per-record rows of the frames it kept (same columns, types, order and values, byte for byte),
every kept frame is one the per-record path accepts, and so the batch table plus the per-record
results of the declined frames are exactly the per-record results of the whole chunk. Columns of
JSON text (`requestParameters`, ...) are compared as text, which is stricter than as JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.sources import batch_helpers
from tests.sources.batch_helpers import frames_of

from auditlake.sources import cloudtrail, cloudtrail_batch
from auditlake.sources.base import Frame
from auditlake.sources.chunking import LineChunk
from auditlake.sources.ndjson_batch import run_batch
from auditlake.sources.records import normalize_frames

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"


def _event(**fields: Any) -> dict[str, Any]:
    """An assumed-role S3 call; keyword arguments replace or add top-level fields."""
    event: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice",
            "arn": "arn:aws:sts::111122223333:assumed-role/Admin/alice",
            "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/Admin", "userName": "Admin"},
                "attributes": {"mfaAuthenticated": "false", "creationDate": "2024-05-01T09:00:00Z"},
            },
        },
        "eventTime": "2024-05-01T09:15:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"bucketName": "finance", "key": "q1.csv"},
        "responseElements": None,
        "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::finance/q1.csv"}],
        "requestID": "REQ1",
        "eventID": "ev-1",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }
    event.update(fields)
    return event


def _line(event: Any, *, compact: bool = True, ascii_only: bool = False, indent: int | None = None) -> bytes:
    """The event serialized: compact, with spaces after separators, or pretty-printed."""
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(event, separators=separators, ensure_ascii=ascii_only, indent=indent).encode()


def _frames(raws: Sequence[bytes]) -> list[Frame]:
    return frames_of(raws)


def assert_batch_equals_per_record(frames: Sequence[Frame]) -> pa.Table:
    """The differential property (`batch_helpers`); returns the batch table."""
    return batch_helpers.assert_batch_equals_per_record(cloudtrail.SPEC, frames)


def assert_run_batch_equals_per_record(frames: Sequence[Frame]) -> None:
    batch_helpers.assert_run_batch_equals_per_record(cloudtrail.SPEC, frames)


# --- hand-picked records ------------------------------------------------------------------------


def test_typical_event_is_kept_with_every_column_equal() -> None:
    table = assert_batch_equals_per_record(_frames([_line(_event())]))
    row = table.to_pylist()[0]
    assert (row["action"], row["actor_type"], row["category"]) == ("GetObject", "role_session", "data_access")
    assert (row["target_type"], row["target_name"]) == ("AWS::S3::Object", "q1.csv")
    assert row["requestParameters"] == '{"bucketName":"finance","key":"q1.csv"}'


@pytest.mark.parametrize(
    ("fields", "kept"),
    [
        ({"eventName": ""}, False),
        ({"eventName": None}, False),
        ({"eventTime": "2024-05-01T09:15:00+02:00"}, False),
        ({"eventTime": "1969-12-31T23:59:59Z"}, False),
        ({"eventTime": "2024-02-30T00:00:00Z"}, False),
        ({"eventTime": "2024-05-01 09:15:00.123456789"}, True),
        ({"eventTime": "2024-5-1T9:15:00Z"}, False),
        ({"eventTime": "2024-05-01T09:15:60Z"}, False),
        ({"sourceIPAddress": "2001:db8::1"}, True),
        ({"sourceIPAddress": "fe80::1%eth0"}, True),
        ({"sourceIPAddress": "::ffff:1.2.3.4"}, True),
        ({"sourceIPAddress": "010.0.0.1"}, True),
        ({"sourceIPAddress": "AWS Internal"}, True),
        ({"eventVersion": 1.0}, False),
        ({"awsRegion": {"name": "eu-west-1"}}, True),
        ({"awsRegion": {"name": "eu-west-1", "v": 1.5}}, False),
        ({"awsRegion": {"name": "\u001f"}}, False),
        ({"userAgent": "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12]"}, True),
        ({"userIdentity": "root"}, True),
        ({"userIdentity": ["root", {"arn": "x"}]}, True),
        ({"resources": [{"ARN": 5, "type": ["x"]}]}, True),
        ({"resources": [{"ARN": "a", "tags": {"k": "v"}}]}, True),
    ],
)
def test_keeps_what_it_can_vouch_for_and_declines_the_rest(fields: dict[str, Any], kept: bool) -> None:
    frames = _frames([_line(_event(**fields))])
    assert (cloudtrail_batch.batch(frames).table.num_rows == 1) is kept
    assert_batch_equals_per_record(frames)


@pytest.mark.parametrize(
    ("fields", "kept", "outcome"),
    [
        ({"eventName": "SwitchRole", "responseElements": {"SwitchRole": "Failure"}}, True, "failure"),
        ({"eventName": "CheckMfa", "responseElements": {"CheckMfa": "Success"}}, True, "success"),
        ({"eventName": "RenewRole", "responseElements": {"RenewRole": "Failure"}}, False, "failure"),
        ({"eventName": "GetSigninToken", "responseElements": {"SigninToken": "x"}}, True, "success"),
        ({"eventName": "GetSigninToken"}, True, "success"),
        ({"eventName": "SwitchRole", "responseElements": {"SwitchRole": "Failure", "CheckMfa": "x"}}, True,
         "failure"),  # two result keys: read by simdjson, as a key read twice is
        ({"eventName": "SwitchRole", "errorCode": "AccessDenied"}, True, "failure"),
        ({"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}}, True, "failure"),
    ],
)
def test_sign_in_results_are_read_as_normalize_reads_them(fields: dict[str, Any], kept: bool, outcome: str) -> None:
    """A sign-in event's result is under its own name in `responseElements`; rows the batch
    cannot read it for are left to `normalize`."""
    frames = _frames([_line(_event(eventSource="signin.amazonaws.com", **fields))])
    assert (cloudtrail_batch.batch(frames).table.num_rows == 1) is kept
    assert_batch_equals_per_record(frames)
    table, rest = run_batch(cloudtrail.SPEC, frames)
    outcomes = table.column("outcome").to_pylist() + [r["outcome"] for r in rest if isinstance(r, dict)]
    assert outcomes == [outcome]


def test_a_failed_console_login_says_why_as_normalize_says_it() -> None:
    failed = {"eventName": "ConsoleLogin", "errorMessage": "Failed authentication",
              "responseElements": {"ConsoleLogin": "Failure"}}
    passed = {**failed, "responseElements": {"ConsoleLogin": "Success"}}
    denied = {"eventName": "GetObject", "errorCode": "AccessDenied", "errorMessage": "Access Denied"}
    lines = [_line(_event(eventSource="signin.amazonaws.com", **failed)),
             _line(_event(eventSource="signin.amazonaws.com", **passed)), _line(_event(**denied))]
    table = assert_batch_equals_per_record(_frames(lines))
    assert table.column("outcome_reason").to_pylist() == ["Failed authentication", None, "AccessDenied"]


def test_a_sessions_actor_name_reads_as_normalize_reads_it() -> None:
    issuer = {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Admin_0a1b"}}
    identities = [
        {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.com",
         "sessionContext": issuer},
        {"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/bob", "sessionContext": issuer},
        {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/R/", "sessionContext": issuer},
        {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ana", "sessionContext": issuer},
    ]
    table = assert_batch_equals_per_record(_frames([_line(_event(userIdentity=i)) for i in identities]))
    assert table.column("actor_name").to_pylist() == ["alice@example.com", "bob", "AWSReservedSSO_Admin_0a1b", "AWSReservedSSO_Admin_0a1b"]


def test_an_anonymous_request_reads_as_normalize_reads_it() -> None:
    identity = {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
    table = assert_batch_equals_per_record(_frames([_line(_event(userIdentity=identity))]))
    assert table.column("actor_type").to_pylist() == ["anonymous"]
    assert table.column("actor_id").to_pylist() == [None]


@pytest.mark.parametrize(
    "fields",
    [
        # separators inside strings: squeezing ", " would damage them
        {"responseElements": {"credentials": {"expiration": "Jan 1, 2025, 1:00:00 AM"}}},
        # floats, which Polars respells
        {"additionalEventData": {"bytesTransferredIn": 0.0, "x": [1.5, 1e-05, 1e20]}},
        # escapes, which Polars does not write back
        {"requestParameters": {"policy": '{"Version": "2012-10-17"}', "path": "a\\b\n\u00e9\u2028"}},
        # more than 32 keys: Polars reorders them
        {"responseElements": {f"k{i:02d}": i for i in range(40)}},
        # a repeated member read by normalize
        {"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Failure"}},
        {"additionalEventData": {"MFAUsed": "Yes"}, "userIdentity": {"type": "IAMUser"}},
        {"resources": [{"accountId": "1", "type": "AWS::IAM::Role", "arn": "arn:aws:iam::1:role/x"}]},
        {"resources": [{"ARN": "arn:aws:s3:::b", "tags": {"a": "b"}}, 5]},
        {"requestParameters": "a plain, string: value", "responseElements": 5, "serviceEventDetails": True},
    ],
)
def test_object_columns_are_byte_equal_to_simdjson(fields: dict[str, Any]) -> None:
    for compact in (True, False):
        table = assert_batch_equals_per_record(_frames([_line(_event(**fields), compact=compact)]))
        assert table.num_rows == 1


def test_pretty_printed_records_are_read_in_the_batch() -> None:
    """A record spanning lines (a pretty-printed `{"Records": [...]}` file's) is read like a
    compact one, floats and escapes before a line break included."""
    events = [
        _event(),
        _event(additionalEventData={"x": [1e-05]}),  # a float's only neighbour a line break
        _event(additionalEventData={"x": 19.37561}),
        _event(requestParameters={"s": "a\\b\u001f", "n": [1, {"k": None}]}),
    ]
    frames = _frames([_line(e, compact=False, indent=2) for e in events])
    assert all(b"\n" in frame.raw for frame in frames)
    table = assert_batch_equals_per_record(frames)
    assert table.num_rows == 4


_NESTED_MANY_KEYS = {"items": [{f"k{i:02d}": i for i in range(20)}, {f"j{i:02d}": "v" for i in range(20)}]}


@pytest.mark.parametrize(
    ("fields", "from_duckdb"),
    [
        ({"responseElements": _NESTED_MANY_KEYS}, True),
        # over 32 keys in one object, which simd-json based readers may reorder
        ({"responseElements": {f"k{i:02d}": i for i in range(40)}}, True),
        # ... or with a repeated key
        ({"responseElements": {f"k{i:02d}": i for i in range(40)}, "dup": True}, True),
        # separators inside strings, escapes DuckDB writes as simdjson does
        ({"responseElements": {**_NESTED_MANY_KEYS, "s": "a, b: c \" \\ \n \u00e9 \u2028"}}, True),
        ({"responseElements": {"i": [0, -1, 12345678901234567890]}}, True),
        # a float, or an escaped control character with a letter in its code: spelled apart
        ({"responseElements": {**_NESTED_MANY_KEYS, "f": 1.0}}, False),
        ({"additionalEventData": {"x": [1e-05, 1e20]}}, False),
        ({"requestParameters": {"s": "\u001f"}}, False),
    ],
)
def test_object_texts_come_from_simdjson_only_where_duckdb_spells_them_apart(
    fields: dict[str, Any], from_duckdb: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    duplicate = fields.pop("dup", False)
    raw = _line(_event(**fields))
    if duplicate:
        raw = raw.replace(b'"k01":1,', b'"k01":1,"k01":7,', 1)
    exact_rows: list[bytes] = []
    exact_row = cloudtrail_batch._exact_row
    monkeypatch.setattr(cloudtrail_batch, "_exact_row", lambda r: exact_rows.append(r) or exact_row(r))
    for compact in (True, False):
        line = raw if compact else _line(json.loads(raw), compact=False)
        exact_rows.clear()
        table = assert_batch_equals_per_record(_frames([line]))
        assert table.num_rows == 1
        if not duplicate:
            assert (exact_rows == []) is from_duckdb


@given(st.one_of(
    st.ip_addresses().map(str),
    st.text(st.sampled_from("0123456789.:%abcdef٣ "), max_size=20),
    st.sampled_from(["01.2.3.4", "1.2.3.4%eth0", "fe80::1%eth0", "::ffff:1.2.3.4", "AWS Internal"]),
))
@settings(max_examples=200, deadline=None)
def test_ip_or_host_as_ipaddress_decides(address: str) -> None:
    decided = cloudtrail_batch._is_ip(pl.Series([address]), cloudtrail)[0]
    assert decided == ("src_ip" in cloudtrail._origin(address))


def test_repeated_keys_read_as_simdjson_reads_them() -> None:
    raw = _line(_event(eventName="first"))[:-1] + b',"eventName":"second","responseElements":{"a":1,"a":2}}'
    login = _line(_event(eventName="ConsoleLogin", errorCode=None))
    login = login[:-1] + b',"responseElements":{"ConsoleLogin":"Success","ConsoleLogin":"Failure"}}'
    table = assert_batch_equals_per_record(_frames([raw, login]))
    assert table["action"].to_pylist()[0] == "first"


def test_keys_written_with_escapes_read_as_simdjson_reads_them() -> None:
    raws = [
        _line(_event())[:-1] + b',"event\\u0056ersion":1.0}',  # a float under an escaped scalar key
        _line(_event(eventVersion=None))[:-1] + b',"event\\u0056ersion":"2.0"}',
        _line(_event(requestParameters=None))[:-1] + b',"request\\u0050arameters":{"a":[1,"x"]}}',
        _line(_event(userIdentity={"type": "Root"}))[:-1] + b',"userIdentity":{"type":"IAMUser"}}',
    ]
    assert_batch_equals_per_record(_frames(raws))
    assert cloudtrail_batch.batch(_frames(raws)).declined == [0]


def test_invalid_json_and_utf8_are_declined() -> None:
    good = _line(_event())
    frames = _frames([
        good[:-5], b"[1, 2]", b"",
        # DuckDB reads these two; simdjson, and so the per-record path, does not
        good[:-1] + b',"x": NaN}', good[:-1] + b',}',
        good.replace(b"finance", b"fin\xffance"), good.replace(b'"REQ1"', b"123456789012345678901234"),
        good.replace(b'"REQ1"', b'"\\ud800"'), b"\xef\xbb\xbf" + good,
    ])
    result = cloudtrail_batch.batch(frames)
    assert result.declined == list(range(len(frames)))
    assert_run_batch_equals_per_record(frames)


# --- Panther's public samples --------------------------------------------------------------------


def _sample_events() -> list[Any]:
    path = SAMPLES / "aws_cloudtrail.jsonl"
    return [json.loads(line)["event"] for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(("compact", "ascii_only"), [(True, False), (False, True)])
def test_samples_equal_and_mostly_kept(compact: bool, ascii_only: bool) -> None:
    frames = _frames([_line(e, compact=compact, ascii_only=ascii_only) for e in _sample_events()])
    table = assert_batch_equals_per_record(frames)
    accepted = sum(isinstance(r, dict) for r in normalize_frames(cloudtrail.SPEC, frames))
    assert accepted > 400
    assert table.num_rows >= 0.9 * accepted, f"kept {table.num_rows} of {accepted} well-formed"
    assert_run_batch_equals_per_record(frames)


# --- the differential property on generated records ---------------------------------------------

_TRICKY = ["", " ", ", ", ": ", '"', "\\", "\n", "\t", "\x00", "\x0b", "\x1f", "é", "\u2028", "😀", "/", ":", "{", "["]
_texts = st.one_of(
    st.text(max_size=12),
    st.lists(st.sampled_from([*_TRICKY, "a", "b", "1", "2.5"]), max_size=5).map("".join),
    st.sampled_from(["true", "false", "null", "1.0", "-0", "123456789012", "0.00001", "Yes", "Failure"]),
)
_scalars = st.one_of(
    st.none(), st.booleans(), _texts,
    st.integers(-(2**65), 2**65), st.sampled_from([0, -1, 2**63, 2**64 - 1]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1.0, 0.0, -0.0, 1e16, 1e-05, 2.5]),
)
_keys = st.sampled_from(["a", "b", "ARN", "arn", "type", "MFAUsed", "ConsoleLogin", "SwitchRole", "k, x", "", "é"])
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=10,
)


def _mostly(plausible: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] = _json) -> st.SearchStrategy[Any]:
    """Usually a value of the expected kind, now and then anything at all."""
    return st.integers(0, 11).flatmap(lambda k: odd if k == 0 else plausible)


def _time_text(moment: Any, form: int) -> str:
    if form == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 1:
        return moment.isoformat(sep="T" if moment.second % 2 else " ") + ("Z" if moment.minute % 2 else "")
    if form == 2:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "789Z"
    return moment.isoformat() + "+02:00"


_moments = st.datetimes(min_value=__import__("datetime").datetime(1960, 1, 1), max_value=__import__("datetime").datetime(2210, 1, 1))
_times = _mostly(
    st.builds(_time_text, _moments, st.sampled_from([0, 0, 0, 1, 2, 3])),
    st.one_of(
        st.sampled_from(["2024-05-01T09:15:00z", "2024-13-01T00:00:00Z", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
                         "1970-01-01T00:00:00Z", "2024-05-01T24:00:00Z", " 2024-05-01T09:15:00Z", "1714554900", "",
                         "2024-5-1T09:15:00Z", "2024-05-01T9:15:0Z", "+2024-05-01T09:15:00Z", "2024-05-01T09:15:60Z",
                         "2024-05-01T09:15:00Zjunk", "2024-05-01 09:15:00.1234567891", "2024-05-01T09:15:00.Z"]),
        st.integers(-(2**40), 2**50), _scalars,
    ),
)
_words = st.text(st.sampled_from("abcXYZ09-_/:., é"), min_size=1, max_size=12)
_addresses = _mostly(st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
    st.sampled_from(["AWS Internal", "lambda.amazonaws.com", "1.2.3", "01.2.3.4", "256.1.1.1", "1.2.3.4 ", "٣.1.1.1", ""]),
))
_arns = st.one_of(
    st.sampled_from(["arn:aws:iam::1:root", "arn:aws:sts::1:assumed-role/R/s", "arn:aws:sts::1:federated-user/f",
                     "arn:aws:sts::1:assumed-role/R/", "x:assumed-role/", "a/", "x:", ""]),
    st.builds(lambda a, b: f"arn:aws:{a}/{b}", _words, _words),
)
_identity = st.fixed_dictionaries(
    {},
    optional={
        "type": _mostly(st.sampled_from(list(cloudtrail.ACTOR_TYPES))),
        **{k: _mostly(_words, _scalars) for k in ("principalId", "accessKeyId", "userName", "invokedBy")},
        "accountId": _mostly(st.one_of(_words, st.just(cloudtrail.ANONYMOUS_ACCOUNT)), _scalars),
        "arn": _mostly(_arns, _scalars),
        "sessionContext": _mostly(st.fixed_dictionaries({}, optional={
            "sessionIssuer": _mostly(st.fixed_dictionaries(
                {}, optional={"type": _mostly(_words), "arn": _mostly(_arns), "userName": _mostly(_words)})),
            "attributes": _mostly(st.fixed_dictionaries({}, optional={
                "mfaAuthenticated": _mostly(st.sampled_from(["true", "false"]))})),
            "sourceIdentity": _mostly(_words, _scalars),
        })),
    },
)
_names = _mostly(
    st.one_of(st.sampled_from(["ConsoleLogin", "SwitchRole", "StopLogging", "CreateGroup", "PutRolePolicy", "CreateUser"]), _words),
    _scalars,
)
_resource = st.fixed_dictionaries({}, optional={
    "ARN": _mostly(_arns, _scalars), "arn": _mostly(_arns, _scalars), "type": _mostly(_words, _scalars),
    "accountId": _words, "x": _json,
})
_events = st.fixed_dictionaries(
    {"eventName": _names, "eventTime": _times},
    optional={
        "eventSource": _mostly(st.sampled_from(["iam.amazonaws.com", "signin.amazonaws.com", "s3.amazonaws.com"])),
        "eventCategory": _mostly(st.sampled_from(["Data", "Management"])),
        "errorCode": _mostly(st.sampled_from(["AccessDenied", ""])),
        "sourceIPAddress": _addresses,
        "userIdentity": _mostly(_identity),
        "resources": _mostly(st.lists(_mostly(_resource), max_size=3)),
        "requestParameters": _json, "responseElements": _json, "serviceEventDetails": _json,
        "additionalEventData": _mostly(st.fixed_dictionaries({}, optional={"MFAUsed": _mostly(st.sampled_from(["Yes", "No"])), "n": _json})),
        "tlsDetails": _mostly(st.fixed_dictionaries({}, optional={"clientProvidedHostHeader": _mostly(_words)})),
        **{k: _mostly(_words, _scalars) for k in (
            "eventVersion", "awsRegion", "userAgent", "errorMessage", "eventType", "readOnly", "managementEvent",
            "recipientAccountId", "requestID", "eventID", "sharedEventID", "vpcEndpointId", "apiVersion")},
    },
)


@st.composite
def _raws(draw: st.DrawFn) -> bytes:
    """One frame's bytes: a serialized event, sometimes damaged or oddly written."""
    event = draw(_events)
    indent = draw(st.sampled_from([None, None, None, 2]))
    raw = _line(event, compact=draw(st.booleans()), ascii_only=draw(st.booleans()), indent=indent)
    damage = draw(st.sampled_from(
        ["none"] * 12 + ["truncate", "bad-utf8", "duplicate", "garbage", "array", "newline", "escaped-key"]
    ))
    if damage == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    elif damage == "bad-utf8":
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + b"\xc3\x28" + raw[cut:]
    elif damage == "duplicate":
        again = draw(st.fixed_dictionaries({}, optional={
            "eventName": _names, "eventTime": _times, "userIdentity": _identity, "requestParameters": _json,
        }))
        raw = raw[:-1] + b"," + _line(again)[1:] if again else raw
    elif damage == "garbage":
        raw = draw(st.binary(max_size=20))
    elif damage == "array":
        raw = b"[" + raw + b"]"
    elif damage == "newline":
        raw = raw.replace(b",", b",\n", 1)
    elif damage == "escaped-key":  # the same key, its first letter written as a \u escape
        key = draw(st.sampled_from(sorted(event)))
        raw = raw.replace(f'"{key}"'.encode(), f'"\\u{ord(key[0]):04x}{key[1:]}"'.encode(), 1)
    return raw


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_raws(), min_size=1, max_size=12), st.data())
def test_batch_equals_per_record_on_generated_records(raws: list[bytes], data: st.DataObject) -> None:
    frames = _frames(raws)
    if data.draw(st.booleans()):
        frames.append(Frame(raws[0], "t:error", error="truncated JSON at end of input"))
    assert_batch_equals_per_record(frames)
    assert_run_batch_equals_per_record(frames)



@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_raws(), min_size=1, max_size=12))
def test_line_chunks_equal_frame_lists_on_generated_records(raws: list[bytes]) -> None:
    """Lines framed in bulk (`LineChunk`, read without making frames) give the same result as
    the same frames in a list, and that equals the per-record path."""
    lines = [line for raw in raws for line in raw.split(b"\n") if line.strip()]
    lines = [line.strip() for line in lines] or [_line(_event())]
    chunk = LineChunk("t", lines, list(range(1, len(lines) + 1)))
    listed = list(chunk)
    bulk, one_by_one = cloudtrail_batch.batch(chunk), cloudtrail_batch.batch(listed)
    assert bulk.declined == one_by_one.declined
    assert bulk.table.equals(one_by_one.table)
    assert_batch_equals_per_record(chunk)
    assert_run_batch_equals_per_record(chunk)
