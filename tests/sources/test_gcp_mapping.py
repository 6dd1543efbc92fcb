"""GCP Cloud Audit Logs: who acted, who stood behind them and with which credential, in entries
shaped as Google writes them for impersonation, federated workloads, GKE workload identity,
service account keys and Google's own system events."""

from __future__ import annotations

import json
from typing import Any

from auditlake.sources import gcp
from auditlake.sources.base import Frame, Row

ACTIVITY = "projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity"
SYSTEM_EVENT = "projects/acme-prod/logs/cloudaudit.googleapis.com%2Fsystem_event"
POOL_SUBJECT = (
    "principal://iam.googleapis.com/projects/123456789012/locations/global/"
    "workloadIdentityPools/github/subject/repo:acme/deploy:ref:refs/heads/main"
)
WORKFORCE_SUBJECT = (
    "principal://iam.googleapis.com/locations/global/workforcePools/staff/subject/ann@acme.example"
)
DEPLOYER = "deployer@acme-prod.iam.gserviceaccount.com"
KEY = f"//iam.googleapis.com/projects/acme-prod/serviceAccounts/{DEPLOYER}/keys/9f3c1e2d4b5a6978"


def entry(authentication: dict[str, Any], log_name: str = ACTIVITY, **payload: Any) -> dict[str, Any]:
    return {
        "insertId": "e1",
        "logName": log_name,
        "timestamp": "2024-05-20T08:15:30.123456Z",
        "resource": {"type": "gcs_bucket", "labels": {"project_id": "acme-prod", "bucket_name": "releases"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.objects.create",
            "resourceName": "projects/_/buckets/releases/objects/app.tar.gz",
            "authenticationInfo": authentication,
            "requestMetadata": {"callerIp": "198.51.100.23"},
            **payload,
        },
    }


def normalize(record: dict[str, Any]) -> Row:
    return gcp.normalize(Frame(json.dumps(record).encode(), "f:1"))


def test_a_federated_workload_impersonating_a_service_account_is_the_original_actor() -> None:
    """Workload identity federation: the pool subject has no email, only the hop's
    `principalSubject`, and it is who stood behind the service account."""
    row = normalize(entry({
        "principalEmail": DEPLOYER,
        "serviceAccountDelegationInfo": [{"principalSubject": POOL_SUBJECT}],
        "principalSubject": f"serviceAccount:{DEPLOYER}",
    }))
    assert (row["actor_id"], row["actor_type"]) == (DEPLOYER, "service")
    assert row["actor_original"] == POOL_SUBJECT


def test_a_person_impersonating_keeps_their_email_over_the_hop_subject() -> None:
    row = normalize(entry({
        "principalEmail": DEPLOYER,
        "serviceAccountDelegationInfo": [{
            "firstPartyPrincipal": {"principalEmail": "bob@acme.example"},
            "principalSubject": "user:bob@acme.example",
        }],
    }))
    assert row["actor_original"] == "bob@acme.example"


def test_a_federated_workload_calling_directly_is_a_service() -> None:
    row = normalize(entry({"principalSubject": POOL_SUBJECT}))
    assert (row["actor_id"], row["actor_name"], row["actor_type"]) == (POOL_SUBJECT, POOL_SUBJECT, "service")


def test_a_gke_workload_identity_subject_is_a_service() -> None:
    subject = "serviceAccount:acme-prod.svc.id.goog[payments/api]"
    row = normalize(entry({"principalSubject": subject}))
    assert (row["actor_id"], row["actor_type"]) == (subject, "service")


def test_a_workforce_pool_subject_is_a_person() -> None:
    row = normalize(entry({"principalSubject": WORKFORCE_SUBJECT}))
    assert (row["actor_id"], row["actor_type"]) == (WORKFORCE_SUBJECT, "user")


def test_the_service_account_key_used_is_the_credential() -> None:
    row = normalize(entry({"principalEmail": DEPLOYER, "serviceAccountKeyName": KEY}))
    assert row["credential_id"] == KEY
    assert normalize(entry({"principalEmail": DEPLOYER})).get("credential_id") is None


def test_a_system_event_has_google_not_a_person_as_actor() -> None:
    row = normalize(entry(
        {"principalEmail": "system@google.com"}, SYSTEM_EVENT,
        methodName="compute.instances.preempted", status={"message": "Instance terminated by Compute Engine."},
    ))
    assert (row["actor_id"], row["actor_type"], row["log_type"]) == ("system@google.com", "system", "system_event")
    assert row["outcome"] == "success"


def test_a_system_event_without_a_principal_is_still_google() -> None:
    row = normalize(entry({}, SYSTEM_EVENT, methodName="compute.instances.automaticRestart"))
    assert (row["actor_id"], row["actor_type"]) == (None, "system")
