"""GCP Cloud Audit Logs: mapping of real-shaped entries, Panther's samples, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditlake.sources import gcp
from auditlake.sources.base import Frame, Row
from auditlake.sources.framing import json_frames
from auditlake.sources.records import Rejected, normalize_frames
from auditlake.sources.table import rows_to_table

DATA = Path(__file__).parent / "data" / "gcp"
SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "samples"
ACTIVITY = "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity"


def ingest(path: Path) -> list[Row | Rejected]:
    return list(normalize_frames(gcp.SPEC, json_frames(path)))


def rows_by_insert_id(results: list[Row | Rejected]) -> dict[str, Row]:
    return {r["insertId"]: r for r in results if isinstance(r, dict)}


def reasons(results: list[Row | Rejected]) -> list[str]:
    return [r.reason for r in results if isinstance(r, Rejected)]


@pytest.fixture(scope="module")
def fixture_rows() -> dict[str, Row]:
    results = ingest(DATA / "audit.jsonl")
    assert reasons(results) == []
    return rows_by_insert_id(results)


def test_set_iam_policy_maps_who_what_where_and_class(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["1x2y3z4a5b6c"]
    assert row["event_uid"] == f"{ACTIVITY}/1x2y3z4a5b6c"
    assert row["time"] == datetime(2024, 5, 20, 8, 15, 30, 123456, tzinfo=UTC)
    assert row["source_logged_at"] == datetime(2024, 5, 20, 8, 15, 31, 224567, tzinfo=UTC)
    assert (row["actor_id"], row["actor_name"], row["actor_type"]) == (
        "alice@acme.example", "alice@acme.example", "user",
    )
    assert row["actor_original"] is None
    assert row["action"] == "SetIamPolicy"
    assert row["service"] == "cloudresourcemanager.googleapis.com"
    assert (row["src_ip"], row.get("src_host")) == ("198.51.100.23", None)
    assert row["user_agent"].startswith("google-cloud-sdk gcloud/475.0.0")
    assert (row["target_id"], row["target_type"]) == ("projects/acme-prod", "project")
    assert row["source_tenant"] == "acme-prod"
    assert (row["outcome"], row["status_code"], row["outcome_reason"]) == ("success", None, None)
    assert (row["class_uid"], row["category"]) == (3005, "iam")
    assert row["correlation_id"] == "op-setiam-1"
    assert row["severity_id"] == 2
    assert row["log_type"] == "activity"


def test_native_columns_and_sigma_ecs_aliases(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["1x2y3z4a5b6c"]
    assert row["gcp.audit.method_name"] == row["protoPayload.methodName"] == "SetIamPolicy"
    assert row["gcp.audit.service_name"] == "cloudresourcemanager.googleapis.com"
    assert row["gcp.audit.resource_name"] == "projects/acme-prod"
    assert row["gcp.audit.principal_email"] == "alice@acme.example"
    assert row["protoPayload.requestMetadata.callerIp"] == "198.51.100.23"
    assert row["severity"] == "NOTICE"
    assert row["resource.labels.project_id"] == "acme-prod"
    assert json.loads(row["resource.labels"]) == {"project_id": "acme-prod"}
    delta = json.loads(row["protoPayload.serviceData"])["policyDelta"]["bindingDeltas"][0]
    assert delta["member"] == "user:mallory@evil.example"
    assert json.loads(row["protoPayload.authorizationInfo"])[0]["granted"] is True
    assert json.loads(row["protoPayload.request"])["resource"] == "acme-prod"
    assert json.loads(row["operation"])["producer"] == "cloudresourcemanager.googleapis.com"


def test_denied_data_access_by_an_impersonated_service_account(
    fixture_rows: dict[str, Row],
) -> None:
    row = fixture_rows["-a1b2c3d4e5"]
    assert row["actor_id"] == "deployer@acme-prod.iam.gserviceaccount.com"
    assert row["actor_type"] == "service"
    assert row["actor_original"] == "bob@acme.example"  # the first delegation is the human
    assert (row.get("src_ip"), row["src_host"]) == (None, "private")
    assert (row["outcome"], row["status_code"], row["outcome_reason"]) == (
        "failure", "7", "PERMISSION_DENIED",
    )
    assert (row["region"], row["log_type"]) == ("europe-west1", "data_access")
    assert row["severity_id"] == 4
    assert row["target_name"] == "keys.json"
    assert (row["class_uid"], row["category"]) == (6003, "api")


def test_gke_entries_stay_gcp_audit_records(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["k8s-0001"]
    assert (row["service"], row["action"]) == ("k8s.io", "io.k8s.core.v1.pods.exec.create")
    assert row["actor_type"] == "service"  # system:serviceaccount:...
    assert row["src_ip"] == "2001:db8::42"
    assert row["target_type"] == "k8s_cluster"
    assert row["target_id"] == "core/v1/namespaces/payments/pods/api-7d9f/exec"
    assert (row["outcome"], row["status_code"]) == ("success", "0")
    assert row["region"] == "europe-west1-b"
    assert row["parser_version"] == "gcp.audit/1"


def test_panther_spellings_are_read_as_google_ones(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["fw-create-01"]  # protopayload, insertid, logname, at_sign_type, callerIP
    log_name = "projects/acme-dev/logs/cloudaudit.googleapis.com%2Factivity"
    assert row["event_uid"] == f"{log_name}/fw-create-01"
    assert row["time"] == datetime(2024, 5, 20, 10, 0, 0, 250000, tzinfo=UTC)
    assert row["source_logged_at"] == datetime(2024, 5, 20, 10, 0, 1, 500000, tzinfo=UTC)
    assert (row["action"], row["actor_id"]) == ("v1.compute.firewalls.insert", "carol@acme.example")
    assert row["src_host"] == "gce-internal-ip"
    assert row["protoPayload.requestMetadata.callerIp"] == "gce-internal-ip"
    assert row["protoPayload.@type"] == "type.googleapis.com/google.cloud.audit.AuditLog"
    assert (row["source_tenant"], row["log_type"]) == ("acme-dev", "activity")


def test_system_event_and_canonical_labels_not_shadowed(fixture_rows: dict[str, Row]) -> None:
    row = fixture_rows["sys-evt-1"]
    assert (row["log_type"], row["region"]) == ("system_event", "europe-west1-b")
    assert row["outcome"] == "success"
    assert row["outcome_reason"] == "Instance terminated by Compute Engine."
    assert row.get("labels") is None  # GCP's labels object stays in raw, not in list<string>
    table = rows_to_table(list(fixture_rows.values()))
    assert table.num_rows == 5
    assert table.column("labels").null_count == 5


def test_json_array_policy_denied_entry() -> None:
    [row] = ingest(DATA / "audit_array.json")
    assert isinstance(row, dict)
    assert row["log_type"] == "policy"
    assert row["source_tenant"] == "888888888888"  # from the org in logName
    assert (row["outcome"], row["status_code"]) == ("failure", "7")
    assert row["target_type"] == "audited_resource"


def test_detect_recognises_audit_log_entries_and_nothing_else() -> None:
    for line in (DATA / "audit.jsonl").read_bytes().splitlines():
        assert gcp.detect(json.loads(line))
    assert gcp.detect({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access"})
    request_log = "type.googleapis.com/google.appengine.logging.v1.RequestLog"
    assert not gcp.detect({"protoPayload": {"@type": request_log}})
    assert not gcp.detect({"logName": "projects/p/logs/stdout", "textPayload": "hello"})
    assert not gcp.detect({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"})
    assert not gcp.detect({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get"})


def test_bad_records_are_rejected_with_reasons_and_the_rest_still_ingest() -> None:
    results = ingest(DATA / "bad.jsonl")
    assert len(results) == 13
    rows = rows_by_insert_id(results)
    assert set(rows) == {"good-1", "good-2", "request-time-only"}
    got = reasons(results)
    assert got[0].startswith("truncated JSON")
    assert got[1:9] == [
        "missing protoPayload (not a Cloud Audit Log entry)",
        "protoPayload is a string, expected an object",
        "missing protoPayload.methodName",
        "protoPayload.methodName is a number, expected a string",
        "missing timestamp",
        "unparsable timestamp '2024-13-45T99:00:00Z'",
        "protoPayload.authenticationInfo.principalEmail is an object, expected a string",
        "protoPayload.requestMetadata.callerIp is an array, expected a string",
    ]
    assert got[9].startswith("record is ") and got[9].endswith("not a JSON object")
    odd = rows["good-2"]
    assert (odd["outcome"], odd["status_code"]) == ("failure", "3")
    assert odd["source_logged_at"] is None and odd["receiveTimestamp"] == "garbage"
    assert odd["target_type"] is None and odd["event_uid"] == "good-2"
    late = rows["request-time-only"]
    assert late["time"] == datetime(2024, 5, 22, 0, 0, 13, 500000, tzinfo=UTC)
    assert late["src_ip"] == "198.51.100.7"


def _entry(insert_id: str, **payload: object) -> dict[str, object]:
    return {
        "insertId": insert_id, "logName": ACTIVITY, "timestamp": "2024-05-22T01:00:00Z",
        "protoPayload": {"methodName": "storage.objects.create", **payload},
    }


@pytest.mark.parametrize(
    "method",
    ["SetIamPolicy", "google.iam.admin.v1.SetIAMPolicy", "v1.compute.disks.setIamPolicy",
     "google.iam.v1.IAMPolicy.SetIamPolicy"],
)
def test_every_spelling_of_set_iam_policy_is_user_access_management(method: str) -> None:
    row = gcp.normalize(Frame(json.dumps(_entry("i1", methodName=method)).encode(), "f:1"))
    assert (row["action"], row["class_uid"], row["category"]) == (method, 3005, "iam")


def test_get_iam_policy_stays_api_activity() -> None:
    row = gcp.normalize(Frame(json.dumps(_entry("i1", methodName="v1.compute.disks.getIamPolicy")).encode(), "f:1"))
    assert (row["class_uid"], row["category"]) == (6003, "api")


def _write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_five_megabyte_field_still_ingests(tmp_path: Path) -> None:
    huge = "z" * (5 << 20)
    path = _write_lines(tmp_path / "big.jsonl", [
        json.dumps(_entry("before")).encode(),
        json.dumps(_entry("huge", request={"data": huge}, resourceName=huge)).encode(),
        json.dumps(_entry("after")).encode(),
    ])
    rows = rows_by_insert_id(ingest(path))
    assert set(rows) == {"before", "huge", "after"}
    assert rows["huge"]["target_id"] == huge
    assert json.loads(rows["huge"]["protoPayload.request"])["data"] == huge


def test_invalid_utf8_is_rejected_and_neighbours_survive(tmp_path: Path) -> None:
    broken = json.dumps(_entry("broken", resourceName="b_d")).encode().replace(b"b_d", b"b\x80d")
    path = _write_lines(tmp_path / "utf8.jsonl", [
        json.dumps(_entry("before")).encode(), broken, json.dumps(_entry("after")).encode(),
    ])
    results = ingest(path)
    assert set(rows_by_insert_id(results)) == {"before", "after"}
    [rejected] = [r for r in results if isinstance(r, Rejected)]
    assert rejected.reason.startswith("invalid UTF-8 at byte")
    assert rejected.raw == broken


def test_integer_too_large_for_64_bits_is_read_as_its_digits(tmp_path: Path) -> None:
    small = json.dumps(_entry("big", request={"n": 0})).encode()
    big = small.replace(b'"n": 0', b'"n": ' + b"1" * 40)
    path = _write_lines(tmp_path / "bigint.jsonl", [big, json.dumps(_entry("ok")).encode()])
    results = ingest(path)
    assert set(rows_by_insert_id(results)) == {"big", "ok"} and reasons(results) == []
    assert rows_by_insert_id(results)["big"]["raw"].encode() == big


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/data/samples is not beside the checkout")
def test_every_panther_sample_is_a_row_or_a_clear_rejection() -> None:
    lines = (SAMPLES / "gcp_auditlog.jsonl").read_text().splitlines()
    samples = [json.loads(line) for line in lines]
    frames = [Frame(json.dumps(s["event"]).encode(), f"sample:{i}") for i, s in enumerate(samples)]
    results = list(normalize_frames(gcp.SPEC, frames))
    assert len(results) == len(samples)
    rows = [r for r in results if isinstance(r, dict)]
    allowed = ("missing timestamp", "missing protoPayload", "missing protoPayload.methodName")
    assert all(reason.startswith(allowed) for reason in reasons(results)), reasons(results)
    assert len(rows) >= 140
    assert rows_to_table(rows).num_rows == len(rows)
    by_name = {s["test_name"]: r for s, r in zip(samples, results, strict=True)}
    escalation = by_name["Principal Subject Used"]  # Panther's time format, nanoseconds
    assert isinstance(escalation, dict)
    assert escalation["time"] == datetime(2024, 8, 29, 19, 30, 36, 339983, tzinfo=UTC)
    assert escalation["source_tenant"] == "sample_project_id"
    assert escalation["source_logged_at"] == datetime(2024, 8, 29, 19, 30, 36, 424542, tzinfo=UTC)
    assert (escalation["actor_id"], escalation["action"]) == (
        "example_principal_subject", "GenerateAccessToken",
    )
    assert (escalation["src_host"], escalation["log_type"]) == ("gce-internal-ip", "data_access")
    assert escalation["event_uid"] == (
        "projects/mylogs/logs/cloudaudit.googleapis.com%2Fdata_access/1dy9ihte4iyjz"
    )
    vpc = by_name["Other Event"]
    assert isinstance(vpc, dict) and vpc["gcp.audit.method_name"] == "v1.compute.subnetworks.patch"
    assert (vpc["src_ip"], vpc["region"]) == ("1.2.3.4", "us-central1")
    assert vpc["source_tenant"] == "test-project"
