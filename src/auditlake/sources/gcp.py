"""Google Cloud Audit Logs: Admin Activity, Data Access, System Event and Policy Denied entries.

Inputs are Cloud Logging exports (JSON Lines from a sink, or arrays from `gcloud logging read
--format=json`) of `LogEntry` objects whose `protoPayload` is an `AuditLog`. GKE's Kubernetes
audit entries (`serviceName: k8s.io`) arrive the same way and stay GCP audit records. Sigma's GCP
rules test the ECS-style names `gcp.audit.method_name` and friends, so those are kept as columns
beside Google's own (`protoPayload.methodName`). Some exports lower-case top-level keys
(`protopayload`, `insertid`) or write `@type` as `at_sign_type` and `callerIp` as `callerIP`;
those spellings are read too.

Chunks of records are converted by `gcp_batch`, with expressions over the whole chunk; it hands
the records it cannot vouch for back to `normalize`, the reference it is tested against.

>>> row = normalize(Frame(b'{"insertId": "i1", "logName": "projects/p1/logs/'
...     b'cloudaudit.googleapis.com%2Factivity", "timestamp": "2024-03-01T10:00:00Z", '
...     b'"protoPayload": {"methodName": "SetIamPolicy", "status": {"code": 7}, '
...     b'"authenticationInfo": {"principalEmail": "ci@p1.iam.gserviceaccount.com"}}}', "f:1"))
>>> row["actor_type"], row["outcome"], row["class_uid"], row["source_tenant"], row["log_type"]
('service', 'failure', 3005, 'p1', 'activity')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from auditlake.errors import RecordError
from auditlake.sources import gcp_batch
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonObject,
    flatten_paths,
    get,
    ip_or_host,
    json_kind,
    load_json_object,
    object_view,
    require_str,
    scalar_text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "gcp.audit"

NATIVE_PATHS: tuple[str, ...] = (
    "logName", "insertId", "severity", "timestamp", "receiveTimestamp",
    "resource.type", "resource.labels", "resource.labels.project_id",
    "protoPayload.@type", "protoPayload.serviceName", "protoPayload.methodName",
    "protoPayload.resourceName", "protoPayload.authenticationInfo.principalEmail",
    "protoPayload.requestMetadata.callerIp", "protoPayload.requestMetadata.callerSuppliedUserAgent",
    "protoPayload.status.code", "protoPayload.status.message",
    "protoPayload.authorizationInfo", "protoPayload.request", "protoPayload.response",
    "protoPayload.serviceData", "protoPayload.metadata", "operation",
)
"""Google's names; `labels` is left out because it would shadow the canonical column."""

ECS_ALIASES: Mapping[str, str] = {
    "gcp.audit.method_name": "protoPayload.methodName",
    "gcp.audit.service_name": "protoPayload.serviceName",
    "gcp.audit.resource_name": "protoPayload.resourceName",
    "gcp.audit.principal_email": "protoPayload.authenticationInfo.principalEmail",
}
"""Extra native columns under the names Sigma's GCP rules use."""

TOP_LEVEL_SPELLINGS: Mapping[str, str] = {
    key.lower(): key for key in ("protoPayload", "insertId", "logName", "receiveTimestamp")
}
PAYLOAD_SPELLINGS: Mapping[str, str] = {"at_sign_type": "@type", "at_type": "@type"}
METADATA_SPELLINGS: Mapping[str, str] = {"callerIP": "callerIp"}

AUDIT_LOG_MARKER = "cloudaudit.googleapis.com"
SEVERITIES: Mapping[str, int] = {
    "DEBUG": 1, "INFO": 1, "NOTICE": 2, "WARNING": 3, "ERROR": 4, "CRITICAL": 5,
    "ALERT": 6, "EMERGENCY": 6,
}
"""LogSeverity → OCSF severity_id (DEFAULT and unknown values stay null)."""

SERVICE_ACCOUNT_SUFFIX = ".gserviceaccount.com"
IAM_POLICY_METHOD = "setiampolicy"
"""Lower-cased end of every method that sets an IAM policy: services spell it `SetIamPolicy`,
`setIamPolicy` (Compute Engine) or `SetIAMPolicy` (IAM's own service accounts)."""
ACTOR_PREFIXES: tuple[tuple[str, str], ...] = (
    ("system:anonymous", "anonymous"),
    ("system:serviceaccount:", "service"),
    ("system:", "system"),
    ("serviceAccount:", "service"),
)
"""Kubernetes principals in GKE entries, and the `principalSubject` of a GKE workload
(`serviceAccount:PROJECT.svc.id.goog[ns/ksa]`, Google's legacy form for it); first match wins,
and any other principal is a user."""
WORKLOAD_POOL = "/workloadIdentityPools/"
"""In a federated workload's `principalSubject`
(`principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/subject/S`):
a CI job or another cloud's workload, not a person. Workforce pools (`/workforcePools/`) hold
people and stay users."""
SYSTEM_PRINCIPAL = "system@google.com"
"""The principal Google's own systems act as, e.g. in Compute Engine's system events."""
SYSTEM_EVENT_LOG = "system_event"
"""System Event audit logs record what Google's systems did, never a person's request."""


def detect(record: Mapping[str, Any]) -> bool:
    """An AuditLog `protoPayload` (by its `@type`), or a `cloudaudit.googleapis.com` log name."""
    payload = record.get("protoPayload") or record.get("protopayload")
    if isinstance(payload, JsonObject):
        kind = payload.get("@type") or payload.get("at_sign_type")
        if isinstance(kind, str) and "AuditLog" in kind:
            return True
    log_name = record.get("logName") or record.get("logname")
    return isinstance(log_name, str) and AUDIT_LOG_MARKER in log_name


def normalize(frame: Frame) -> Row:
    view = _view(load_json_object(frame.raw))
    method = require_str(view, "protoPayload.methodName")
    principal = scalar_text(view, "protoPayload.authenticationInfo.principalEmail") or scalar_text(
        view, "protoPayload.authenticationInfo.principalSubject"
    )
    row: Row = flatten_paths(view, NATIVE_PATHS)
    row.update({alias: row[path] for alias, path in ECS_ALIASES.items() if path in row})
    log_type = _log_type(row.get("logName"))
    row.update(
        event_uid=_event_uid(view),
        time=_time(view),
        source_logged_at=_optional_time(get(view, "receiveTimestamp")),
        action=method,
        actor_id=principal,
        actor_name=principal,
        actor_type=actor_type(principal, log_type),
        actor_original=_delegator(get(view, "protoPayload.authenticationInfo")),
        credential_id=scalar_text(view, "protoPayload.authenticationInfo.serviceAccountKeyName"),
        service=scalar_text(view, "protoPayload.serviceName"),
        user_agent=scalar_text(view, "protoPayload.requestMetadata.callerSuppliedUserAgent"),
        source_tenant=_project(view),
        region=_region(view),
        correlation_id=scalar_text(view, "operation.id"),
        severity_id=SEVERITIES.get(scalar_text(view, "severity") or ""),
        **ip_or_host(scalar_text(view, "protoPayload.requestMetadata.callerIp")),
        **_target(view),
        **_status(view),
        **_classify(method),
    )
    if log_type:
        row["log_type"] = log_type
    return row




def _view(doc: Any) -> dict[str, Any]:
    """The entry under Google's spelling: top-level keys, and `protoPayload` with its `@type`
    and `callerIp`, whichever way the exporter wrote them. Values stay lazy.
    """
    view = _respell(doc, TOP_LEVEL_SPELLINGS)
    payload = view.get("protoPayload")
    if payload is None:
        raise RecordError("missing protoPayload (not a Cloud Audit Log entry)")
    if not isinstance(payload, JsonObject):
        raise RecordError(f"protoPayload is {json_kind(payload)}, expected an object")
    payload = _respell(payload, PAYLOAD_SPELLINGS)
    metadata = payload.get("requestMetadata")
    if isinstance(metadata, JsonObject):
        payload["requestMetadata"] = _respell(metadata, METADATA_SPELLINGS)
    view["protoPayload"] = payload
    return view


def _respell(obj: Any, spellings: Mapping[str, str]) -> dict[str, Any]:
    """One level of `obj` as a dict, with each other spelling also under its own one."""
    view = object_view(obj)  # values stay lazy
    for other, own in spellings.items():
        if view.get(own) is None and view.get(other) is not None:
            view[own] = view[other]
    return view








def _event_uid(view: Mapping[str, Any]) -> str | None:
    """`insertId` is unique only within its log, so the log name is part of the identity."""
    insert_id = scalar_text(view, "insertId")
    log_name = scalar_text(view, "logName")
    if insert_id is None:
        return None
    return f"{log_name}/{insert_id}" if log_name else insert_id


def _time(view: Mapping[str, Any]) -> datetime:
    """The entry's `timestamp`; without one, the time the service received the request."""
    if get(view, "timestamp") is not None:
        return parse_time(get(view, "timestamp"), what="timestamp")
    request_time = get(view, "protoPayload.requestMetadata.requestAttributes.time")
    if request_time is not None:
        return parse_time(request_time, what="requestAttributes.time")
    raise RecordError("missing timestamp")


def _optional_time(value: Any) -> datetime | None:
    """`receiveTimestamp` is bookkeeping: an unreadable one is left out (it stays in `raw`)."""
    try:
        return parse_time(value, what="receiveTimestamp") if value is not None else None
    except RecordError:
        return None


def actor_type(principal: str | None, log_type: str | None) -> str:
    """What kind of principal acted: Google itself in a system event, whoever is named there
    otherwise (a service account, a workload, a Kubernetes principal, or a person)."""
    if log_type == SYSTEM_EVENT_LOG or principal == SYSTEM_PRINCIPAL:
        return "system"
    if principal is None:
        return "unknown"
    if principal.endswith(SERVICE_ACCOUNT_SUFFIX) or WORKLOAD_POOL in principal:
        return "service"
    return next((kind for prefix, kind in ACTOR_PREFIXES if principal.startswith(prefix)), "user")


def _delegator(auth: Any) -> str | None:
    """The first authority in `serviceAccountDelegationInfo[]`: the caller who impersonated the
    service account (Google lists delegations in the order they happened). A Google account is
    named by `firstPartyPrincipal.principalEmail`; a federated identity (workload or workforce
    pool, or a third party) has no email, only the hop's `principalSubject`.
    """
    chain = get(auth, "serviceAccountDelegationInfo") if isinstance(auth, JsonObject) else None
    if not isinstance(chain, list):
        return None
    for hop in chain:
        for path in ("firstPartyPrincipal.principalEmail", "principalSubject"):
            principal = get(hop, path)
            if isinstance(principal, str) and principal:
                return principal
    return None



def _project(view: Mapping[str, Any]) -> str | None:
    """`resource.labels.project_id`, else the project, folder or org in `logName`."""
    project = scalar_text(view, "resource.labels.project_id")
    if project:
        return project
    return project_of_log(scalar_text(view, "logName"))


def project_of_log(log_name: str | None) -> str | None:
    """The project, folder or org a log name is under (`projects/p/logs/...` → `p`)."""
    if log_name and "/logs/" in log_name:
        return log_name.split("/logs/", 1)[0].rsplit("/", 1)[-1] or None
    return None


def _region(view: Mapping[str, Any]) -> str | None:
    for path in ("resource.labels.location", "resource.labels.region", "resource.labels.zone"):
        value = scalar_text(view, path)
        if value:
            return value
    return first_location(get(view, "protoPayload.resourceLocation.currentLocations"))


def first_location(locations: Any) -> str | None:
    """The first of `resourceLocation.currentLocations`, when it is a name."""
    if isinstance(locations, list) and locations and isinstance(locations[0], str):
        return locations[0]
    return None


def _target(view: Mapping[str, Any]) -> Row:
    resource_name = scalar_text(view, "protoPayload.resourceName")
    return {
        "target_id": resource_name,
        "target_name": resource_name.rstrip("/").rsplit("/", 1)[-1] if resource_name else None,
        "target_type": scalar_text(view, "resource.type"),
    }


RPC_CODES: Mapping[str, str] = {
    "1": "CANCELLED", "2": "UNKNOWN", "3": "INVALID_ARGUMENT", "4": "DEADLINE_EXCEEDED",
    "5": "NOT_FOUND", "6": "ALREADY_EXISTS", "7": "PERMISSION_DENIED", "8": "RESOURCE_EXHAUSTED",
    "9": "FAILED_PRECONDITION", "10": "ABORTED", "11": "OUT_OF_RANGE", "12": "UNIMPLEMENTED",
    "13": "INTERNAL", "14": "UNAVAILABLE", "15": "DATA_LOSS", "16": "UNAUTHENTICATED",
}
"""google.rpc.Code names: a failed call's reason when its status carries no message (a denied
request is often logged as `{"code": 7}` alone)."""


def _status(view: Mapping[str, Any]) -> Row:
    """A google.rpc.Status: no code, or code 0 (OK), is success; anything else failed, for the
    status's message, else its code's name."""
    code = scalar_text(view, "protoPayload.status.code")
    failed = code not in (None, "0")
    message = scalar_text(view, "protoPayload.status.message")
    reason = message
    if failed and not message:
        reason = RPC_CODES.get(code or "") or message
    return {"outcome": "failure" if failed else "success", "status_code": code, "outcome_reason": reason}


def _classify(method: str) -> Row:
    if method.lower().endswith(IAM_POLICY_METHOD):
        return {"class_uid": 3005, "activity_id": 0, "category": "iam"}
    return {"class_uid": 6003, "activity_id": 0, "category": "api"}


def _log_type(log_name: str | None) -> str | None:
    """`projects/p/logs/cloudaudit.googleapis.com%2Factivity` → `activity`."""
    if not log_name:
        return None
    _, marker, suffix = unquote(log_name).partition(AUDIT_LOG_MARKER + "/")
    return suffix if marker and suffix else None


SPEC = SourceSpec(
    name=NAME,
    reads='Cloud Audit Logs entries: JSON Lines, `gcloud logging read` arrays, `entries.list` responses',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("gcp", "google"),
    batch=gcp_batch.batch,
)
