"""Kubernetes API-server audit events (`audit.k8s.io/v1` Event), e.g. from EKS, GKE or kubeadm.

Inputs are the audit log backend's JSON Lines (or any framing `json_frames` reads). The API
server writes one event per request *stage*; only the final stages (`ResponseComplete`,
`Panic`) describe what happened, so the others raise `NonFinalStage`, which ingest counts as
skipped rather than quarantined. Sigma and Panther Kubernetes rules test native names
(`verb`, `objectRef.resource`, `user.username`, `sourceIPs`), so those stay columns.

Chunks of records are converted by `kubernetes_batch`, with expressions over the whole chunk;
it hands the records it cannot vouch for back to `normalize`, the reference it is tested against.

>>> row = normalize(Frame(b'{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1",'
...     b'"stage":"ResponseComplete","verb":"create","user":{"username":"alice"},'
...     b'"objectRef":{"resource":"pods","subresource":"exec","namespace":"default",'
...     b'"name":"web"},"sourceIPs":["10.0.0.9","203.0.113.7"],"responseStatus":{"code":101},'
...     b'"requestReceivedTimestamp":"2024-03-01T10:00:00.123456Z"}', "f:1"))
>>> row["action"], row["target_id"], row["src_ip"], row["outcome"]
('create/pods/exec', 'default/pods/web', '203.0.113.7', 'success')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from auditlake.errors import RecordError, RecordSkipped
from auditlake.sources import kubernetes_batch
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonArray,
    JsonObject,
    flatten_paths,
    get,
    json_kind,
    load_json_object,
    object_view,
    path_views,
    require,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "k8s.audit"

NATIVE_PATHS: tuple[str, ...] = (
    "apiVersion", "kind", "level", "stage", "verb", "requestURI", "auditID",
    "user.username", "user.uid", "user.groups", "impersonatedUser.username",
    "objectRef.resource", "objectRef.subresource", "objectRef.namespace", "objectRef.name",
    "objectRef.apiGroup", "objectRef.apiVersion", "sourceIPs", "userAgent",
    "responseStatus.code", "responseStatus.message", "responseStatus.reason",
    "requestObject", "responseObject", "annotations",
    "requestReceivedTimestamp", "stageTimestamp",
)

DECISION = "authorization.k8s.io/decision"
REASON = "authorization.k8s.io/reason"
ANNOTATION_COLUMNS: tuple[str, ...] = (DECISION, REASON)
"""Annotation keys kept as `annotations.<key>` columns (the keys contain dots, so `get` can't)."""

FINAL_STAGES = frozenset({"ResponseComplete", "Panic"})
NON_FINAL_STAGES = frozenset({"RequestReceived", "ResponseStarted"})

STRUCTURE: Mapping[str, tuple[tuple[type, ...], str]] = {
    "user": (JsonObject, "an object"),
    "impersonatedUser": (JsonObject, "an object"),
    "objectRef": (JsonObject, "an object"),
    "responseStatus": (JsonObject, "an object"),
    "annotations": (JsonObject, "an object"),
    "sourceIPs": (JsonArray, "an array"),
}
"""Top-level members whose JSON type is fixed: another type means the record is corrupt."""

ACTOR_EXACT: Mapping[str, str] = {"system:anonymous": "anonymous"}
ACTOR_PREFIXES: tuple[tuple[str, str], ...] = (
    ("system:serviceaccount:", "service"),
    ("system:", "system"),
)
"""Username → actor_type; the first matching prefix wins, anything else is a user."""

VERB_ACTIVITIES: Mapping[str, int] = {
    "create": 1, "get": 2, "list": 2, "watch": 2, "update": 3, "patch": 3,
    "delete": 4, "deletecollection": 4,
}
"""OCSF API Activity ids (1 create, 2 read, 3 update, 4 delete); other verbs are 0."""


class NonFinalStage(RecordSkipped, RecordError):
    """A `RequestReceived`/`ResponseStarted` event: a duplicate of the final one, not an error.

    `records.normalize_frames` counts it as `Skipped` (it is a `RecordSkipped`); it is also a
    `RecordError`, so a caller that knows nothing of skipping quarantines it rather than crash.
    The `ResponseComplete` event of the same `auditID` carries the full story.
    """


def detect(record: Mapping[str, Any]) -> bool:
    """Audit events say `apiVersion: audit.k8s.io/…`, `kind: Event`, or have auditID+verb+stage."""
    api_version = record.get("apiVersion")
    if isinstance(api_version, str) and api_version.startswith("audit.k8s.io/"):
        return record.get("kind") == "Event"
    return all(key in record for key in ("auditID", "verb", "stage"))


def normalize(frame: Frame) -> Row:
    doc = path_views(load_json_object(frame.raw), NATIVE_PATHS)
    _check_structure(doc)
    _check_stage(_string(doc, "stage"))
    when = parse_time(get(doc, "requestReceivedTimestamp"), what="requestReceivedTimestamp")
    verb = require(_string(doc, "verb"), "verb")
    row: Row = flatten_paths(doc, NATIVE_PATHS)
    row.update(_annotation_columns(doc))
    row.update(
        event_uid=_string(doc, "auditID"),
        request_id=_string(doc, "auditID"),
        time=when,
        source_logged_at=_optional_time(doc, "stageTimestamp"),
        user_agent=_string(doc, "userAgent"),
        class_uid=6003,
        activity_id=VERB_ACTIVITIES.get(verb, 0),
        category="api",
        **_actor(doc),
        **_request(doc, verb),
        **_origin(doc),
        **_outcome(doc),
    )
    return row


def _check_structure(doc: Any) -> None:
    for key, (types, expected) in STRUCTURE.items():
        value = doc.get(key)
        if value is not None and not isinstance(value, types):
            raise RecordError(f"{key} is {_kind(value)}, expected {expected}")


def _check_stage(stage: str | None) -> None:
    """Skip the stages before the response; a missing stage is taken as a complete event."""
    if stage is None or stage in FINAL_STAGES:
        return
    if stage in NON_FINAL_STAGES:
        raise NonFinalStage(f"non-final stage {stage} (only ResponseComplete/Panic are kept)")
    raise RecordError(f"unknown stage {stage!r}: expected ResponseComplete or Panic")


def _actor(doc: Any) -> Row:
    """With impersonation the actor is the impersonated user and `user` is the one behind it."""
    username = _string(doc, "user.username")
    impersonated = _string(doc, "impersonatedUser.username")
    who = "impersonatedUser" if impersonated else "user"
    name = impersonated or username
    return {
        "actor_id": _string(doc, f"{who}.uid") or name,
        "actor_name": name,
        "actor_type": actor_type(name),
        "actor_original": username if impersonated else None,
        "actor_roles": _string_list(doc, f"{who}.groups"),
    }


def actor_type(username: str | None) -> str:
    """`system:serviceaccount:*` service, `system:anonymous` anonymous, `system:*` system."""
    if not username:
        return "unknown"
    if username in ACTOR_EXACT:
        return ACTOR_EXACT[username]
    return next((kind for prefix, kind in ACTOR_PREFIXES if username.startswith(prefix)), "user")


def _request(doc: Any, verb: str) -> Row:
    """Resource requests name `verb/resource[/subresource]`; others (`/healthz`) their URL path."""
    resource = _string(doc, "objectRef.resource")
    if resource is None:
        uri = _string(doc, "requestURI")
        path = urlsplit(uri).path if uri else None
        return {"action": verb, "target_type": "url" if path else None, "target_id": path or None}
    subresource = _string(doc, "objectRef.subresource")
    namespace = _string(doc, "objectRef.namespace")
    name = _string(doc, "objectRef.name")
    return {
        "action": "/".join(p for p in (verb, resource, subresource) if p),
        "service": _string(doc, "objectRef.apiGroup") or "core",
        "target_type": resource,
        "target_id": "/".join(p for p in (namespace, resource, name) if p),
        "target_name": name,
    }


def _origin(doc: Any) -> Row:
    """The last `sourceIPs` entry is the hop the API server saw; earlier ones come from headers."""
    chain = _string_list(doc, "sourceIPs")
    if not chain:
        return {}
    return {"src_ip": chain[-1] if _is_ip(chain[-1]) else None, "src_ip_chain": chain}


def _is_ip(value: str) -> bool:
    """A non-address never becomes `src_ip` (rules match it as a CIDR); the chain keeps it."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _outcome(doc: Any) -> Row:
    code = _status_code(doc)
    annotations = _annotations(doc)
    decision = annotations.get(DECISION)
    if decision == "forbid":
        outcome = "failure"
    elif code is not None:
        outcome = "success" if code < 400 else "failure"
    else:
        outcome = "unknown"
    reason = _string(doc, "responseStatus.message") or text(annotations.get(REASON))
    return {
        "outcome": outcome,
        "status_code": None if code is None else str(code),
        "outcome_reason": reason or None,
    }


def _status_code(doc: Any) -> int | None:
    code = get(doc, "responseStatus.code")
    if code is None:
        return None
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        raise RecordError(f"responseStatus.code is {_kind(code)}, expected an integer")
    return code


def _annotations(doc: Any) -> Any:
    annotations = doc.get("annotations")  # an object when present (`_check_structure`)
    return object_view(annotations) if annotations is not None else {}


def _annotation_columns(doc: Any) -> Row:
    annotations = _annotations(doc)
    values = {f"annotations.{key}": text(annotations.get(key)) for key in ANNOTATION_COLUMNS}
    return {name: value for name, value in values.items() if value is not None}


def _optional_time(doc: Any, path: str) -> Any:
    value = get(doc, path)
    return None if value is None else parse_time(value, what=path)


def _string(doc: Any, path: str) -> str | None:
    """The string at `path`; a number, object or array there means the record is corrupt."""
    value = get(doc, path)
    if value is None or isinstance(value, str):
        return value or None
    raise RecordError(f"{path} is {_kind(value)}, expected a string")


def _string_list(doc: Any, path: str) -> list[str] | None:
    value = get(doc, path)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RecordError(f"{path} is {_kind(value)}, expected a list of strings")
    return value


def _kind(value: Any) -> str:
    """JSON name of a value's type for error messages; says when a list holds non-strings."""
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        return "a list with non-string items"
    return json_kind(value)


SPEC = SourceSpec(
    name=NAME,
    reads="audit.k8s.io Events: audit log files, the webhook's EventLists, EKS through CloudWatch Logs",
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("kubernetes", "k8s"),
    complete_paths=frozenset(NATIVE_PATHS) | {f"annotations.{key}" for key in ANNOTATION_COLUMNS},
    batch=kubernetes_batch.batch,
)
