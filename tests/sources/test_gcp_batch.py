"""The Google Cloud batch path equals the per-record path on every frame it keeps
(`batch_helpers`), and keeps the ordinary entries of real and synthetic audit logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from tests.sources.batch_helpers import (
    PLAIN,
    any_json,
    assert_batch_equals_per_record,
    assert_run_batch_equals_per_record,
    frames_of,
    generated_equality_test,
    line,
    picker,
    sample_records,
    synthetic_day,
    with_fields,
)

from auditlake.sources import gcp, gcp_batch

SPEC = gcp.SPEC


def _entry(payload: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A SetIamPolicy by an impersonated service account; `payload` replaces or adds members of
    `protoPayload`, keyword arguments top-level fields (None removes one)."""
    entry: dict[str, Any] = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {"code": 7, "message": "PERMISSION_DENIED"},
            "authenticationInfo": {
                "principalEmail": "ci@p1.iam.gserviceaccount.com",
                "serviceAccountDelegationInfo": [{"firstPartyPrincipal": {"principalEmail": "ann@example.com"}}],
            },
            "requestMetadata": {"callerIp": "203.0.113.7", "callerSuppliedUserAgent": "gcloud/470.0"},
            "serviceName": "cloudresourcemanager.googleapis.com",
            "methodName": "SetIamPolicy",
            "resourceName": "projects/p1/",
            "resourceLocation": {"currentLocations": ["europe-west1"]},
            "request": {"policy": {"bindings": [{"role": "roles/owner", "members": ["user:eve@example.com"]}]}},
        },
        "insertId": "i1",
        "resource": {"type": "project", "labels": {"project_id": "p1"}},
        "timestamp": "2024-03-01T10:00:00.123456789Z",
        "receiveTimestamp": "2024-03-01T10:00:01.5Z",
        "severity": "NOTICE",
        "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
        "operation": {"id": "op1", "producer": "iam.googleapis.com"},
    }
    with_fields(entry["protoPayload"], payload or {})
    return with_fields(entry, fields)


def test_typical_entry_is_kept_with_every_column_equal() -> None:
    table = assert_batch_equals_per_record(SPEC, frames_of([line(_entry())]))
    row = table.to_pylist()[0]
    assert (row["actor_type"], row["actor_original"], row["outcome"], row["class_uid"]) == (
        "service", "ann@example.com", "failure", 3005)
    assert (row["target_name"], row["region"], row["log_type"], row["event_uid"]) == (
        "p1", "europe-west1", "activity", "projects/p1/logs/cloudaudit.googleapis.com%2Factivity/i1")


@pytest.mark.parametrize(
    ("payload", "fields", "kept"),
    [
        ({}, {"protoPayload": None, "protopayload": {"methodName": "x"}}, False),
        ({}, {"insertid": "i2"}, False),
        ({"at_sign_type": "x"}, {}, False),
        ({"requestMetadata": {"callerIP": "1.2.3.4"}}, {}, False),
        ({"methodName": ""}, {}, False),
        ({"methodName": 5}, {}, False),
        ({}, {"protoPayload": "x"}, False),
        ({}, {"timestamp": None}, False),
        ({}, {"timestamp": "2024-03-01T10:00:00-05:00"}, False),
        ({}, {"timestamp": "2023-05-01 13:47:18.279921000"}, True),
        ({}, {"receiveTimestamp": None}, True),
        ({}, {"receiveTimestamp": "garbage"}, False),
        ({}, {"receiveTimestamp": 1709287200}, False),
        ({"status": {}}, {}, True),
        ({"status": {"code": 0}}, {}, True),
        ({"status": {"code": "0", "message": ""}}, {}, True),
        ({"status": {"code": [1]}}, {}, False),
        ({"status": {"code": 1.5}}, {}, False),
        ({"authenticationInfo": {"principalSubject": "system:serviceaccount:ns:sa"}}, {}, True),
        ({"authenticationInfo": {"principalEmail": "", "principalSubject": "system:anonymous"}}, {}, True),
        ({"authenticationInfo": {"principalEmail": {"a": 1}}}, {}, False),
        ({"authenticationInfo": "x"}, {}, True),
        ({"authenticationInfo": {"principalEmail": "bob@example.com", "serviceAccountDelegationInfo": [
            {"firstPartyPrincipal": {"principalEmail": ""}}, "x",
            {"firstPartyPrincipal": {"principalEmail": "c@example.com"}}]}}, {}, True),
        ({"requestMetadata": {"callerIp": "private"}}, {}, True),
        ({"requestMetadata": {"callerIp": "2001:db8::1"}}, {}, True),
        ({"requestMetadata": {"callerIp": ""}}, {}, True),
        ({"resourceName": "///"}, {}, True),
        ({"resourceName": None}, {}, True),
        ({"resourceLocation": {"currentLocations": [5, "x"]}}, {"resource": {"type": "gce_instance"}}, True),
        ({"resourceLocation": {"currentLocations": []}}, {"resource": {"labels": {"zone": "us-east1-b"}}}, True),
        ({}, {"resource": {"labels": {"location": {"x": 1}}}}, False),
        ({}, {"resource": {"labels": {"project_id": 42}}}, True),
        ({}, {"resource": "p1", "logName": "organizations/o1/logs/cloudaudit.googleapis.com%2Fpolicy"}, True),
        ({}, {"logName": "projects//logs/x", "insertId": None}, True),
        ({}, {"logName": 7}, True),
        ({}, {"severity": "DEFAULT"}, True),
        ({}, {"severity": 2.5}, False),
        ({"request": {"n": 1e-05, "s": "\u001f"}}, {}, True),
        ({"metadata": {"lat": 39.0437}}, {"operation": {"id": 3}}, True),
    ],
)
def test_keeps_what_it_can_vouch_for_and_declines_the_rest(
    payload: dict[str, Any], fields: dict[str, Any], kept: bool
) -> None:
    frames = frames_of([line(_entry(payload, **fields))])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert (table.num_rows == 1) is kept
    assert_run_batch_equals_per_record(SPEC, frames)


def test_set_iam_policy_in_any_case_is_user_access_management_on_both_paths() -> None:
    methods = ["google.iam.admin.v1.SetIAMPolicy", "v1.compute.images.setIamPolicy", "v1.compute.disks.getIamPolicy"]
    frames = frames_of([line(_entry({"methodName": m}, insertId=m)) for m in methods])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert table["class_uid"].to_pylist() == [3005, 3005, 6003]
    assert table["category"].to_pylist() == ["iam", "iam", "api"]


POOL_SUBJECT = "principal://iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/gh/subject/repo:o/r"
SYSTEM_EVENT_LOG = "projects/p1/logs/cloudaudit.googleapis.com%2Fsystem_event"


def test_who_acted_behind_which_credential_is_equal_on_both_paths() -> None:
    """Federated and GKE workloads, a workforce person, a key, and Google's system events."""
    sa = "ci@p1.iam.gserviceaccount.com"
    key = f"//iam.googleapis.com/projects/p1/serviceAccounts/{sa}/keys/k1"
    authentications: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"principalEmail": sa, "serviceAccountDelegationInfo": [{"principalSubject": POOL_SUBJECT}]}, {}),
        ({"principalSubject": POOL_SUBJECT}, {}),
        ({"principalSubject": "serviceAccount:p1.svc.id.goog[ns/ksa]"}, {}),
        ({"principalSubject": "principal://iam.googleapis.com/locations/global/workforcePools/w/subject/ann"}, {}),
        ({"principalEmail": sa, "serviceAccountKeyName": key}, {}),
        ({"principalEmail": "system@google.com"}, {"logName": SYSTEM_EVENT_LOG}),
        ({}, {"logName": SYSTEM_EVENT_LOG}),
        ({"principalEmail": "system@google.com"}, {}),
    ]
    frames = frames_of([line(_entry({"authenticationInfo": auth}, insertId=f"a{i}", **fields))
                        for i, (auth, fields) in enumerate(authentications)])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert table["actor_type"].to_pylist() == [
        "service", "service", "service", "user", "service", "system", "system", "system"]
    assert table["actor_original"].to_pylist() == [POOL_SUBJECT, *[None] * 7]
    assert table["credential_id"].to_pylist() == [None] * 4 + [key] + [None] * 3


@pytest.mark.parametrize(("key", "kept"), [("k", True), ("", True), ({"name": "k"}, False), (["k"], False)])
def test_a_key_name_not_text_is_declined(key: Any, kept: bool) -> None:
    frames = frames_of([line(_entry({"authenticationInfo": {"principalEmail": "a@b.c", "serviceAccountKeyName": key}}))])
    assert (assert_batch_equals_per_record(SPEC, frames).num_rows == 1) is kept
    assert_run_batch_equals_per_record(SPEC, frames)


def test_real_gcp_samples_equal_the_per_record_path(shared_data: Path) -> None:
    raws = sample_records(shared_data, "gcp_auditlog.jsonl")
    table = assert_batch_equals_per_record(SPEC, frames_of(raws))
    assert table.num_rows >= 40
    assert_run_batch_equals_per_record(SPEC, frames_of(raws))


def test_a_synthetic_day_is_kept_whole(tmp_path: Path) -> None:
    chunk = synthetic_day(tmp_path, "gcp.audit")
    table = assert_batch_equals_per_record(SPEC, chunk)
    assert table.num_rows == len(chunk)


JSON = any_json([1.5, 1e-05, 0.0])


def _entries(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    """LogEntries: with `junk`, any field may hold any JSON value and the odd forms `normalize`
    refuses or reads its own way; without, fields hold what `normalize` reads (and any JSON in
    the request)."""

    pick = picker(junk, JSON)

    strings = pick(PLAIN, ["", "\u001f", 7])
    times = pick(st.sampled_from(["2024-03-01T10:00:00Z", "2024-03-01 10:00:00.5"]),
                 ["2024-02-30T00:00:00Z", "2024-03-01T10:00:00+01:00", ""])
    principals = pick(st.sampled_from(["a@p.iam.gserviceaccount.com", "system:anonymous", "system:serviceaccount:a:b",
                                       "system:x", "ann@example.com", "", "system@google.com", POOL_SUBJECT,
                                       "serviceAccount:p.svc.id.goog[a/b]"]))
    delegation = pick(st.fixed_dictionaries(
        {}, optional={"firstPartyPrincipal": pick(st.fixed_dictionaries({"principalEmail": principals})),
                      "principalSubject": principals}))
    payload = st.fixed_dictionaries(
        {"methodName": pick(st.sampled_from(["SetIamPolicy", "v1.compute.instances.insert"]), ["", 5])},
        optional={
            "authenticationInfo": pick(st.fixed_dictionaries({}, optional={
                "principalEmail": principals, "principalSubject": principals, "serviceAccountKeyName": strings,
                "serviceAccountDelegationInfo": pick(st.lists(delegation, max_size=2))})),
            "requestMetadata": pick(st.fixed_dictionaries({}, optional={
                "callerIp": pick(st.one_of(st.ip_addresses().map(str), st.just("private"))),
                "callerSuppliedUserAgent": strings})),
            "status": pick(st.fixed_dictionaries({}, optional={"code": pick(st.integers(0, 16)), "message": strings})),
            "resourceName": strings, "serviceName": strings, "request": JSON,
            "resourceLocation": pick(st.fixed_dictionaries({"currentLocations": pick(st.lists(PLAIN, max_size=2))})),
            "at_type": JSON if junk else st.nothing(),
        },
    )
    return st.fixed_dictionaries(
        {"protoPayload": pick(payload), "timestamp": times},
        optional={
            "insertId": strings,
            "logName": pick(st.sampled_from(["projects/p/logs/cloudaudit.googleapis.com%2Factivity", "folders/f/logs/x",
                                             "projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event",
                                             "projects/p/logs/cloudaudit.googleapis.com/", "/logs/", ""])),
            "receiveTimestamp": times,
            "severity": pick(st.sampled_from(["INFO", "NOTICE", "DEFAULT", "ALERT"])),
            "resource": pick(st.fixed_dictionaries({}, optional={"type": strings, "labels": pick(
                st.fixed_dictionaries({}, optional={k: strings for k in ("project_id", "location", "region", "zone")}))})),
            "operation": pick(st.fixed_dictionaries({"id": strings})),
            "insertid": JSON if junk else st.nothing(),
        },
    )


test_batch_equals_per_record_on_generated_records = generated_equality_test(
    SPEC,
    st.one_of(_entries(junk=False), _entries(junk=False), _entries(junk=True)),
    st.fixed_dictionaries({}, optional={"protoPayload": JSON, "timestamp": JSON, "logName": PLAIN}),
)


def test_spec_uses_the_batch_path() -> None:
    assert SPEC.batch is gcp_batch.batch


def test_a_failed_calls_reason_is_its_message_else_its_codes_name_on_both_paths() -> None:
    statuses = [
        {"code": 7},  # a denied request logged with its code alone
        {"code": 5, "message": ""},
        {"code": 7, "message": "Permission 'iam.roles.update' denied"},
        {"code": 99},  # no name known: no reason
        {"code": 0},
        {},
    ]
    frames = frames_of([line(_entry({"status": status}, insertId=f"i{n}")) for n, status in enumerate(statuses)])
    table = assert_batch_equals_per_record(SPEC, frames)
    assert table.num_rows == len(statuses)
    reasons = dict(zip(table.column("event_uid").to_pylist(), table.column("outcome_reason").to_pylist(), strict=True))
    assert [reasons[f"projects/p1/logs/cloudaudit.googleapis.com%2Factivity/i{n}"] for n in range(len(statuses))] == [
        "PERMISSION_DENIED", "NOT_FOUND", "Permission 'iam.roles.update' denied", None, None, None,
    ]
