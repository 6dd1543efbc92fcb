"""Tests for `auditlake.sources.cloudtrail`: CloudTrail records onto the canonical columns."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from auditlake.errors import RecordError
from auditlake.schema import CANONICAL
from auditlake.sources import cloudtrail
from auditlake.sources.base import Frame, Row
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "cloudtrail"
FIXTURE_IDS = [
    "7f1a0c1e-0001-4a5b-9c3d-000000000001",
    "7f1a0c1e-0002-4a5b-9c3d-000000000002",
    "7f1a0c1e-0003-4a5b-9c3d-000000000003",
]


def _event(**fields: Any) -> dict[str, Any]:
    """A plain IAM user's S3 call; keyword arguments replace or add top-level fields."""
    event: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE",
            "userName": "alice",
        },
        "eventTime": "2024-05-01T09:15:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"bucketName": "finance", "max-keys": 5},
        "responseElements": None,
        "requestID": "REQ1",
        "eventID": "ev-1",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "recipientAccountId": "444455556666",
        "eventCategory": "Management",
    }
    event.update(fields)
    return event


def _raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def _row(event: dict[str, Any]) -> Row:
    return cloudtrail.normalize(Frame(_raw(event), "t:1"))


def _assumed_role(**context: Any) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:mallory",
        "arn": "arn:aws:sts::111122223333:assumed-role/OpsAdmin/mallory",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": "arn:aws:iam::111122223333:role/OpsAdmin",
                "accountId": "111122223333",
                "userName": "OpsAdmin",
            },
            "attributes": {"creationDate": "2024-05-01T09:00:00Z", "mfaAuthenticated": "true"},
            **context,
        },
    }


# --- mapping ----------------------------------------------------------------------------------


def test_iam_user_api_call() -> None:
    row = _row(_event())

    assert row["time"] == datetime(2024, 5, 1, 9, 15, tzinfo=UTC)
    assert row["event_uid"] == "ev-1"
    assert row["action"] == "ListBuckets"
    assert row["service"] == "s3.amazonaws.com"
    assert row["region"] == "eu-west-1"
    assert row["source_tenant"] == "444455556666"  # the receiving account, not the caller's
    assert row["actor_id"] == "arn:aws:iam::111122223333:user/alice"
    assert row["actor_name"] == "alice"
    assert row["actor_type"] == "user"
    assert row["actor_original"] is None
    assert row["auth_mfa"] is None
    assert row["credential_id"] == "AKIAEXAMPLE"
    assert row["src_ip"] == "198.51.100.7" and "src_host" not in row
    assert row["user_agent"] == "aws-cli/2.15.0"
    assert row["request_id"] == "REQ1"
    assert (row["class_uid"], row["activity_id"], row["category"]) == (6003, 0, "api")
    assert row["outcome"] == "success"
    assert row["outcome_reason"] is None


def test_assumed_role_is_a_role_session_of_its_issuer() -> None:
    row = _row(_event(userIdentity=_assumed_role()))

    assert row["actor_type"] == "role_session"
    assert row["actor_id"] == "arn:aws:sts::111122223333:assumed-role/OpsAdmin/mallory"
    assert row["actor_name"] == "mallory"  # the session: people sharing the role stay apart
    assert row["actor_original"] == "arn:aws:iam::111122223333:role/OpsAdmin"
    assert row["auth_mfa"] is True
    assert row["credential_id"] == "ASIAEXAMPLE"
    assert row["userIdentity.sessionContext.sessionIssuer.arn"] == "arn:aws:iam::111122223333:role/OpsAdmin"


@pytest.mark.parametrize(
    ("identity", "name"),
    [
        ({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b/alice@example.com",
          "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "AWSReservedSSO_Admin_0a1b"}}},
         "alice@example.com"),  # IAM Identity Center: one role per permission set, shared
        ({"type": "FederatedUser", "arn": "arn:aws:sts::111122223333:federated-user/bob",
          "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "broker"}}}, "bob"),
        ({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/web/i-0abc123"}, "i-0abc123"),
        ({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ana", "userName": "ana"}, "ana"),
        ({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "ec2.amazonaws.com"),
    ],
)
def test_a_sessions_actor_name_is_the_session_not_the_role_it_shares(identity: dict[str, object], name: str) -> None:
    assert _row(_event(userIdentity=identity))["actor_name"] == name


def test_source_identity_names_the_human_behind_the_role() -> None:
    row = _row(_event(userIdentity=_assumed_role(sourceIdentity="mallory@example.com")))

    assert row["actor_original"] == "mallory@example.com"


def test_root() -> None:
    identity = {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "",
    }
    row = _row(_event(userIdentity=identity))

    assert row["actor_type"] == "user"
    assert row["actor_id"] == "arn:aws:iam::111122223333:root"
    assert row["actor_name"] == "root"
    assert row["credential_id"] is None  # an empty access key is no credential


def test_aws_service_calls_from_a_service_name() -> None:
    identity = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    row = _row(_event(userIdentity=identity, sourceIPAddress="ec2.amazonaws.com", userAgent="ec2.amazonaws.com"))

    assert row["actor_type"] == "service"
    assert row["actor_name"] == "ec2.amazonaws.com"
    assert row["actor_id"] is None
    assert row["src_host"] == "ec2.amazonaws.com"
    assert "src_ip" not in row
    assert row["sourceIPAddress"] == "ec2.amazonaws.com"


@pytest.mark.parametrize(
    ("address", "column"),
    [("2001:db8::1", "src_ip"), ("10.0.0.5", "src_ip"), ("AWS Internal", "src_host")],
)
def test_source_address_is_an_ip_or_a_host(address: str, column: str) -> None:
    row = _row(_event(sourceIPAddress=address))

    other = "src_host" if column == "src_ip" else "src_ip"
    assert row[column] == address
    assert other not in row


def _console_login(result: str, mfa: str, **fields: Any) -> dict[str, Any]:
    return _event(
        eventSource="signin.amazonaws.com",
        eventName="ConsoleLogin",
        eventType="AwsConsoleSignIn",
        responseElements={"ConsoleLogin": result},
        additionalEventData={"MFAUsed": mfa, "MobileVersion": "No"},
        **fields,
    )


def test_console_login_success_with_mfa() -> None:
    row = _row(_console_login("Success", "Yes"))

    assert (row["class_uid"], row["activity_id"], row["category"]) == (3002, 1, "authentication")
    assert row["outcome"] == "success"
    assert row["auth_mfa"] is True
    assert row["additionalEventData"] == '{"MFAUsed":"Yes","MobileVersion":"No"}'


def test_console_login_failure_without_mfa() -> None:
    row = _row(_console_login("Failure", "No", errorMessage="Failed authentication"))

    assert row["outcome"] == "failure"
    assert row["auth_mfa"] is False
    assert row["errorMessage"] == "Failed authentication"


@pytest.mark.parametrize(
    ("name", "result", "outcome"),
    [
        ("SwitchRole", "Failure", "failure"),
        ("SwitchRole", "Success", "success"),
        ("CheckMfa", "Failure", "failure"),
        ("PasswordUpdated", "Failure", "failure"),
        ("ExternalIdPDirectoryLogin", "Failure", "failure"),
    ],
)
def test_sign_in_events_give_their_result_under_their_own_name(name: str, result: str, outcome: str) -> None:
    """Like ConsoleLogin, the other console sign-in events write no errorCode when they fail."""
    event = _event(
        eventSource="signin.amazonaws.com", eventName=name, eventType="AwsConsoleSignIn",
        responseElements={name: result},
    )
    row = _row(event)

    assert row["category"] == "authentication"
    assert row["outcome"] == outcome


def test_an_anonymous_request_is_no_ones() -> None:
    """S3 names the caller of an unsigned request (a public object's read) this way."""
    identity = {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
    row = _row(_event(userIdentity=identity, eventName="GetObject", eventCategory="Data"))

    assert row["actor_type"] == "anonymous"
    assert row["actor_id"] is None  # an empty principal id names no one


def test_another_accounts_caller_is_not_anonymous() -> None:
    identity = {"type": "AWSAccount", "principalId": "AIDAEXAMPLE", "accountId": "999988887777"}
    row = _row(_event(userIdentity=identity))

    assert row["actor_type"] != "anonymous"
    assert row["actor_id"] == "AIDAEXAMPLE"


def test_an_error_code_is_a_failure_with_its_reason() -> None:
    row = _row(_event(errorCode="AccessDenied", errorMessage="User is not authorized"))

    assert row["outcome"] == "failure"
    assert row["outcome_reason"] == "AccessDenied"
    assert row["errorCode"] == "AccessDenied"


@pytest.mark.parametrize(
    ("source", "name", "category_field", "expected"),
    [
        ("cloudtrail.amazonaws.com", "StopLogging", "Management", (1008, "log_admin")),
        ("cloudtrail.amazonaws.com", "DeleteTrail", "Management", (1008, "log_admin")),
        ("iam.amazonaws.com", "AttachUserPolicy", "Management", (3005, "iam")),
        ("iam.amazonaws.com", "CreateRole", "Management", (3005, "iam")),
        ("iam.amazonaws.com", "AddUserToGroup", "Management", (3006, "iam")),
        ("iam.amazonaws.com", "CreateAccessKey", "Management", (3001, "iam")),
        ("s3.amazonaws.com", "GetObject", "Data", (6005, "data_access")),
        ("ec2.amazonaws.com", "RunInstances", "Management", (6003, "api")),
        ("sts.amazonaws.com", "AttachRolePolicy", "Management", (6003, "api")),  # IAM names only on IAM
    ],
)
def test_classification(source: str, name: str, category_field: str, expected: tuple[int, str]) -> None:
    row = _row(_event(eventSource=source, eventName=name, eventCategory=category_field))

    assert (row["class_uid"], row["category"]) == expected


@pytest.mark.parametrize(
    ("resource", "name"),
    [
        ({"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::finance/2024/q1.csv"}, "q1.csv"),
        ({"type": "AWS::IAM::Role", "ARN": "arn:aws:iam::111122223333:role/OpsAdmin"}, "OpsAdmin"),
        ({"type": "AWS::Lambda::Function", "arn": "arn:aws:lambda:eu-west-1:111122223333:function:fn"}, "fn"),
    ],
)
def test_the_first_resource_is_the_target(resource: dict[str, str], name: str) -> None:
    second = {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::other"}
    row = _row(_event(resources=[resource, second]))

    assert row["target_type"] == resource["type"]
    assert row["target_id"] == resource.get("ARN", resource.get("arn"))
    assert row["target_name"] == name


def test_native_columns_keep_cloudtrail_names() -> None:
    row = _row(_event(userIdentity=_assumed_role()))

    assert row["eventName"] == "ListBuckets"
    assert row["eventSource"] == "s3.amazonaws.com"
    assert row["userIdentity.arn"] == "arn:aws:sts::111122223333:assumed-role/OpsAdmin/mallory"
    assert row["userIdentity.type"] == "AssumedRole"
    assert row["userIdentity.sessionContext.attributes.mfaAuthenticated"] == "true"
    assert row["requestParameters"] == '{"bucketName":"finance","max-keys":5}'
    assert row["readOnly"] == "true"
    assert "responseElements" not in row  # null
    assert "errorCode" not in row
    assert "userIdentity.userName" not in row
    assert set(row) - set(CANONICAL) <= set(cloudtrail.NATIVE_PATHS)


def test_detect() -> None:
    okta = {
        "uuid": "f8b0c3e2",
        "published": "2024-05-01T09:15:00.000Z",
        "eventType": "user.session.start",
        "actor": {"id": "00u1", "type": "User", "alternateId": "alice@example.com"},
        "outcome": {"result": "SUCCESS"},
    }

    assert cloudtrail.detect(_event()) is True
    assert cloudtrail.detect(okta) is False
    assert cloudtrail.detect({"eventSource": "s3.amazonaws.com"}) is False
    assert cloudtrail.detect({"eventSource": 5, "eventName": "x"}) is False
    assert cloudtrail.detect({"eventSource": "github.com", "eventName": "push"}) is False


def test_spec() -> None:
    assert cloudtrail.SPEC.name == "aws.cloudtrail"
    assert cloudtrail.SPEC.raw_format == "json"
    assert set(cloudtrail.SPEC.aliases) == {"cloudtrail", "aws"}
    assert cloudtrail.SPEC.normalize is cloudtrail.normalize


# --- files ------------------------------------------------------------------------------------


def _ingest(path: Path) -> list[Row | Rejected]:
    out = list(normalize_frames(cloudtrail.SPEC, cloudtrail.SPEC.frames(path)))
    assert not [r for r in out if not isinstance(r, dict | Rejected)]
    return out  # type: ignore[return-value]


@pytest.mark.parametrize("name", ["records.json", "array.json", "events.jsonl"])
def test_fixture_files_in_every_framing(name: str) -> None:
    rows = _ingest(DATA / name)

    assert [r["event_uid"] for r in rows if isinstance(r, dict)] == FIXTURE_IDS
    by_id = {r["event_uid"]: r for r in rows if isinstance(r, dict)}
    assert by_id[FIXTURE_IDS[0]]["category"] == "data_access"
    assert by_id[FIXTURE_IDS[0]]["target_name"] == "q1.csv"
    assert by_id[FIXTURE_IDS[1]]["category"] == "log_admin"
    assert by_id[FIXTURE_IDS[1]]["auth_mfa"] is False
    assert by_id[FIXTURE_IDS[2]]["outcome"] == "failure"
    assert by_id[FIXTURE_IDS[2]]["actor_name"] == "bob"
    assert rows_to_table(rows).num_rows == 3  # type: ignore[arg-type]


def test_gzip_delivery_file(tmp_path: Path) -> None:
    path = tmp_path / "111122223333_CloudTrail_eu-west-1_20240501T0915Z_abc.json.gz"
    path.write_bytes(gzip.compress((DATA / "records.json").read_bytes()))

    rows = _ingest(path)

    assert [r["event_uid"] for r in rows if isinstance(r, dict)] == FIXTURE_IDS
    assert [r["event_uid"] for r in _ingest(DATA / "records.json") if isinstance(r, dict)] == FIXTURE_IDS


def test_every_sample_event_becomes_a_row_or_a_rejection(shared_data: Path) -> None:
    lines = (shared_data / "samples" / "aws_cloudtrail.jsonl").read_text(encoding="utf-8").splitlines()
    frames = [
        Frame(json.dumps(json.loads(line)["event"]).encode(), f"aws_cloudtrail.jsonl:{n}")
        for n, line in enumerate(lines, start=1)
    ]
    assert len(frames) == 445

    out = list(normalize_frames(cloudtrail.SPEC, frames))

    rows = [r for r in out if isinstance(r, dict)]
    rejected = [r for r in out if isinstance(r, Rejected)]
    assert len(rows) + len(rejected) == len(frames)
    assert len(rows) >= 380
    assert all(r.reason for r in rejected)
    assert not [r.reason for r in rejected if "parser failed" in r.reason]
    assert {r["actor_type"] for r in rows} <= {"user", "service", "role_session", "unknown"}
    assert rows_to_table(rows).num_rows == len(rows)


# --- bad input --------------------------------------------------------------------------------


def _line(**fields: Any) -> bytes:
    return _raw(_event(eventID=f"id-{fields.pop('tag')}", **fields))


BAD_LINES: list[tuple[bytes, str | None]] = [
    # (JSONL line, rejection reason prefix or None for a row)
    (_line(tag="good-1"), None),
    (_raw(_event(eventID="cut"))[:60], "truncated JSON"),
    (_line(tag="epoch", eventTime=1714554900), None),
    (_line(tag="list-time", eventTime=["2024-05-01T09:15:00Z"]), "eventTime has type list, not a time"),
    (_line(tag="obj-time", eventTime={"t": "2024-05-01T09:15:00Z"}), "eventTime has type"),
    (_raw({k: v for k, v in _event(eventID="no-time").items() if k != "eventTime"}), "missing eventTime"),
    (_line(tag="redacted", eventTime="redacted"), "unparsable eventTime 'redacted'"),
    (_line(tag="no-name", eventName=None), "missing eventName"),
    (_line(tag="good-2"), None),
    (_line(tag="bad-utf8").replace(b"aws-cli/2.15.0", b"aws-cli/\xff\xfe"), "invalid UTF-8 at byte"),
    (_line(tag="list-identity", userIdentity=[{"type": "IAMUser"}]), None),
    (_line(tag="str-resources", resources="arn:aws:s3:::finance"), None),
    (_line(tag="odd-resource", resources=[{"ARN": 5, "type": {"t": 1}}]), None),
    (b"this is not json", "invalid JSON"),
    (b"[1, 2]", "record is an array"),
    (_line(tag="good-3"), None),
]


def test_bad_records_are_rejected_and_neighbours_come_through(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(line for line, _ in BAD_LINES) + b"\n")

    out = _ingest(path)

    assert len(out) == len(BAD_LINES)
    for n, (result, (line, reason)) in enumerate(zip(out, BAD_LINES, strict=True), start=1):
        if reason is None:
            assert isinstance(result, dict), f"line {n}: {result}"
            assert result["raw"] == line.decode()
        else:
            assert isinstance(result, Rejected), f"line {n}: {result}"
            assert result.reason.startswith(reason), f"line {n}: {result.reason}"
            assert result.raw == line
            assert result.location == f"mixed.jsonl:{n}"
    rows = [r for r in out if isinstance(r, dict)]
    assert rows_to_table(rows).num_rows == len(rows)  # every mapped value has its column's type


def test_invalid_utf8_inside_an_array_file_is_rejected_verbatim(tmp_path: Path) -> None:
    bad = _line(tag="bad").replace(b"aws-cli/2.15.0", b"aws-cli/\xe9")
    path = tmp_path / "array.json"
    path.write_bytes(b"[" + b",\n".join([_line(tag="a"), bad, _line(tag="c")]) + b"]")

    out = _ingest(path)

    assert [type(r).__name__ for r in out] == ["dict", "Rejected", "dict"]
    assert isinstance(out[1], Rejected)
    assert out[1].raw == bad
    assert out[1].reason.startswith("invalid UTF-8 at byte")


def test_a_cut_gzip_delivery_file_keeps_its_first_records(tmp_path: Path) -> None:
    events = [_event(eventID=f"id-{n}", requestParameters={"pad": "x" * n}) for n in range(300)]
    packed = gzip.compress(json.dumps({"Records": events}).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(packed[: len(packed) // 2])

    out = _ingest(path)

    rows = [r for r in out if isinstance(r, dict)]
    assert len(rows) > 50
    assert [r["event_uid"] for r in rows] == [f"id-{n}" for n in range(len(rows))]
    assert isinstance(out[-1], Rejected) and "ends early" in out[-1].reason
    assert len(out) == len(rows) + 1


def test_odd_shapes_map_sensibly() -> None:
    epoch = _row(_event(eventTime=1714554900))
    assert epoch["time"] == datetime(2024, 5, 1, 9, 15, tzinfo=UTC)

    listed = _row(_event(userIdentity=[{"type": "IAMUser"}]))
    assert (listed["actor_type"], listed["actor_id"], listed["actor_name"]) == ("unknown", None, None)
    assert listed["source_tenant"] == "444455556666"

    text_resources = _row(_event(resources="arn:aws:s3:::finance"))
    assert text_resources["resources"] == "arn:aws:s3:::finance"
    assert "target_id" not in text_resources

    odd = _row(_event(resources=[{"ARN": 5, "type": {"t": 1}}]))
    assert (odd["target_id"], odd["target_type"], odd["target_name"]) == ("5", '{"t":1}', "5")


def test_a_five_megabyte_user_agent_ingests() -> None:
    agent = "Mozilla/5.0 " + "A" * (5 << 20)
    raw = _raw(_event(userAgent=agent))

    [row] = normalize_frames(cloudtrail.SPEC, [Frame(raw, "big:1")])

    assert isinstance(row, dict)
    assert row["user_agent"] == agent
    assert row["userAgent"] == agent
    assert row["raw"] == raw.decode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"eventName": "GetObject"', "truncated JSON"),
        (b'{"eventName": "x", "eventTime": "2024-05-01T09:15:00Z", "u": "\xc3"}', "invalid UTF-8 at byte 62"),
        (b'{"eventTime": "2024-05-01T09:15:00Z"}', "missing eventName"),
        (b'{"eventName": "", "eventTime": "2024-05-01T09:15:00Z"}', "missing eventName"),
        (b'{"eventName": "x"}', "missing eventTime"),
        (b'{"eventName": "x", "eventTime": "9999-12-31T23:59:59-01:00"}', "eventTime"),
    ],
)
def test_normalize_raises_record_error(raw: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as info:
        cloudtrail.normalize(Frame(raw, "t:1"))

    assert info.value.message.startswith(reason)


# --- Insights events --------------------------------------------------------------------------


def _insight(state: str, event_id: str, **details: Any) -> dict[str, Any]:
    """An Insights event as AWS documents it: CloudTrail's finding about one API's call rate."""
    return {
        "eventVersion": "1.07",
        "eventTime": "2024-05-01T10:00:00Z" if state == "Start" else "2024-05-01T10:05:00Z",
        "awsRegion": "us-east-1",
        "eventID": event_id,
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "111122223333",
        "sharedEventID": "12edc982-3348-4794-83d3-a3db26525049",
        "insightDetails": {
            "state": state,
            "eventSource": "ssm.amazonaws.com",
            "eventName": "UpdateInstanceAssociationStatus",
            "insightType": "ApiCallRateInsight",
            "insightContext": {"statistics": {"baseline": {"average": 1.7}, "insight": {"average": 8.0}}},
            **details,
        },
        "eventCategory": "Insight",
    }


def test_an_insight_is_cloudtrails_finding_about_an_api_of_its_own() -> None:
    start, end = _row(_insight("Start", "in-1")), _row(_insight("End", "in-2"))
    assert cloudtrail.detect(_insight("Start", "in-1")) is True
    assert (start["action"], start["service"], start["outcome_reason"]) == (
        "UpdateInstanceAssociationStatus", "ssm.amazonaws.com", "ApiCallRateInsight",
    )
    assert (start["actor_id"], start["actor_type"], start["class_uid"], start["outcome"]) == (
        "cloudtrail.amazonaws.com", "service", cloudtrail.DETECTION_FINDING, "unknown",
    )
    assert start["correlation_id"] == end["correlation_id"]  # one insight, opened and closed
    assert (start["event_uid"], start["eventCategory"], start["eventType"]) == ("in-1", "Insight", "AwsCloudTrailInsight")
    assert start["time"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(RecordError, match=r"insightDetails\.eventName"):
        _row(_insight("Start", "in-3", eventName=None))


def test_an_insight_folder_is_recognised_and_read_beside_api_calls(tmp_path: Path) -> None:
    from auditlake.sources.registry import detect_path

    path = tmp_path / "111122223333_CloudTrail-Insight_us-east-1_20240501T1000Z_abc.json.gz"
    records = [_insight("Start", "in-1"), _event(eventID="ev-9"), _insight("End", "in-2")]
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    assert detect_path(path) is cloudtrail.SPEC
    rows = _ingest(path)
    assert [r["event_uid"] for r in rows if isinstance(r, dict)] == ["in-1", "ev-9", "in-2"]
    assert [r["class_uid"] for r in rows if isinstance(r, dict)] == [2004, 6003, 2004]


def test_insights_take_the_per_record_path_beside_the_batch_path(tmp_path: Path) -> None:
    """The batch path declines an Insights event (it has no eventName); the lake holds it as
    `normalize` reads it, beside the API calls the batch path reads."""
    from auditlake.ingest import ingest
    from auditlake.lake import LakePaths, scan_events

    path = tmp_path / "trail.jsonl"
    records = [_event(eventID=f"ev-{n}") for n in range(20)] + [_insight("Start", "in-1")]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    lake = LakePaths.at(tmp_path / "lake")
    summary = ingest([path], lake, workers=1)
    assert summary.added == 21 and not summary.quarantined and not summary.errors
    found = scan_events(lake).filter(pl.col("event_uid") == "in-1").collect().row(0, named=True)
    expected = _row(_insight("Start", "in-1"))
    assert {k: found[k] for k in ("action", "service", "actor_id", "class_uid", "correlation_id")} == {
        k: expected[k] for k in ("action", "service", "actor_id", "class_uid", "correlation_id")
    }
