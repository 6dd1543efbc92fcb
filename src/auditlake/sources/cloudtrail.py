"""AWS CloudTrail: management, data and console-sign-in events, and Insights events.

Inputs are CloudTrail's own delivery files (`{"Records": [...]}`, usually gzip), JSON arrays or
JSON Lines. Sigma's CloudTrail rules test native names (`eventSource`, `eventName`,
`userIdentity.arn`, `errorCode`), so those are kept as columns beside the canonical ones.

An Insights event (`eventType: AwsCloudTrailInsight`, delivered under `CloudTrail-Insight/`)
is CloudTrail's own finding that one API's call or error rate left its baseline; it has no
`eventName` or caller of its own. Its action and service are the API's (`insightDetails`), its
actor CloudTrail, and the Start and End events of one insight share `sharedEventID`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from auditlake.sources import cloudtrail_batch
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    flatten_paths,
    get,
    get_text,
    ip_or_host,
    load_json_object,
    member,
    path_views,
    require,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "aws.cloudtrail"

NATIVE_PATHS: tuple[str, ...] = (
    "eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
    "userAgent", "errorCode", "errorMessage", "eventType", "eventCategory", "readOnly",
    "managementEvent", "recipientAccountId", "requestID", "eventID", "sharedEventID",
    "vpcEndpointId", "apiVersion",
    "userIdentity.type", "userIdentity.principalId", "userIdentity.arn", "userIdentity.accountId",
    "userIdentity.accessKeyId", "userIdentity.userName", "userIdentity.invokedBy",
    "userIdentity.sessionContext.sessionIssuer.type",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "userIdentity.sessionContext.sourceIdentity",
    "requestParameters", "responseElements", "additionalEventData", "resources",
    "serviceEventDetails", "tlsDetails.clientProvidedHostHeader",
)

ACTOR_TYPES: Mapping[str, str] = {
    "IAMUser": "user", "Root": "user", "FederatedUser": "user", "IdentityCenterUser": "user",
    "SAMLUser": "user", "WebIdentityUser": "user", "AssumedRole": "role_session",
    "AWSService": "service", "AWSAccount": "service", "Unknown": "unknown",
}
SESSION_ARN = re.compile(r":(?:assumed-role|federated-user)/")
"""An identity of a session: its name is the ARN's last part (an IAM Identity Center user's
e-mail, a federated user's name, an instance id), which tells the people sharing one role or
one federating user apart; the role or user it was issued by is `actor_original`."""
ANONYMOUS_ACCOUNT = "ANONYMOUS_PRINCIPAL"
"""`userIdentity.accountId` of a request no one signed (an object read from a public bucket)."""
SIGN_IN_SOURCE = "signin.amazonaws.com"
LOG_ADMIN_EVENTS = frozenset({
    "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "StartLogging",
    "CreateTrail", "PutInsightSelectors", "DeleteEventDataStore", "StopEventDataStoreIngestion",
})


INSIGHT = "AwsCloudTrailInsight"
INSIGHTS_SERVICE = "cloudtrail.amazonaws.com"
DETECTION_FINDING = 2004
"""OCSF class of an Insights event: a finding, not an API call."""


def detect(record: Mapping[str, Any]) -> bool:
    """CloudTrail records carry `eventSource` ending in amazonaws.com and an `eventName`;
    Insights events their own `eventType` and `insightDetails`."""
    source = record.get("eventSource")
    if isinstance(source, str) and source.endswith("amazonaws.com") and "eventName" in record:
        return True
    return record.get("eventType") == INSIGHT and record.get("insightDetails") is not None


def normalize(frame: Frame) -> Row:
    doc = path_views(load_json_object(frame.raw), NATIVE_PATHS)
    if get_text(doc, "eventType") == INSIGHT:
        return _insight(doc)
    event_name = require(get_text(doc, "eventName"), "eventName")
    event_source = get_text(doc, "eventSource")
    error_code = get_text(doc, "errorCode")
    row: Row = flatten_paths(doc, NATIVE_PATHS)
    row.update(
        event_uid=get_text(doc, "eventID"),
        time=parse_time(get(doc, "eventTime"), what="eventTime"),
        source_tenant=get_text(doc, "recipientAccountId") or get_text(doc, "userIdentity.accountId"),
        action=event_name,
        service=event_source,
        region=get_text(doc, "awsRegion"),
        user_agent=get_text(doc, "userAgent"),
        request_id=get_text(doc, "requestID"),
        correlation_id=get_text(doc, "sharedEventID"),
        credential_id=get_text(doc, "userIdentity.accessKeyId") or None,
        outcome_reason=error_code,
        **_actor(doc),
        **_origin(get_text(doc, "sourceIPAddress")),
        **_target(doc),
        **_classify(event_source, event_name, get_text(doc, "eventCategory")),
    )
    row["outcome"] = _outcome(doc, event_source, event_name, error_code)
    if row["outcome"] == "failure" and not error_code:  # a sign-in says why in its message only
        row["outcome_reason"] = get_text(doc, "errorMessage")
    return row


def _insight(doc: Any) -> Row:
    row: Row = flatten_paths(doc, NATIVE_PATHS)
    row.update(
        event_uid=get_text(doc, "eventID"),
        time=parse_time(get(doc, "eventTime"), what="eventTime"),
        source_tenant=get_text(doc, "recipientAccountId"),
        action=require(get_text(doc, "insightDetails.eventName"), "insightDetails.eventName"),
        service=get_text(doc, "insightDetails.eventSource"),
        region=get_text(doc, "awsRegion"),
        correlation_id=get_text(doc, "sharedEventID"),
        actor_id=INSIGHTS_SERVICE,
        actor_name="CloudTrail Insights",
        actor_type="service",
        class_uid=DETECTION_FINDING,
        activity_id=0,
        category="api",
        outcome="unknown",
        outcome_reason=get_text(doc, "insightDetails.insightType"),
    )
    return row


def _actor(doc: Any) -> Row:
    identity_type = get_text(doc, "userIdentity.type")
    arn = get_text(doc, "userIdentity.arn")
    issuer = get_text(doc, "userIdentity.sessionContext.sessionIssuer.arn")
    last = arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if arn else None  # root: "...:root"
    name = (
        get_text(doc, "userIdentity.userName")
        or (last if arn and SESSION_ARN.search(arn) else None)
        or get_text(doc, "userIdentity.sessionContext.sessionIssuer.userName")
        or last
        or get_text(doc, "userIdentity.invokedBy")
    )
    mfa = get_text(doc, "userIdentity.sessionContext.attributes.mfaAuthenticated")
    if mfa is None and get_text(doc, "additionalEventData.MFAUsed") is not None:
        mfa = "true" if get_text(doc, "additionalEventData.MFAUsed") == "Yes" else "false"
    return {
        "actor_id": arn or get_text(doc, "userIdentity.principalId") or None,
        "actor_name": name,
        "actor_type": _actor_type(identity_type, get_text(doc, "userIdentity.accountId")),
        "actor_original": get_text(doc, "userIdentity.sessionContext.sourceIdentity") or issuer,
        "auth_mfa": None if mfa is None else mfa == "true",
    }


def _actor_type(identity_type: str | None, account: str | None) -> str:
    """An anonymous request is an `AWSAccount` identity by type; its account says it is no one's."""
    if account == ANONYMOUS_ACCOUNT:
        return "anonymous"
    return ACTOR_TYPES.get(identity_type or "", "unknown")


def _origin(address: str | None) -> Row:
    """`sourceIPAddress` holds an IP, or a service name such as `AWS Internal`."""
    return ip_or_host(address)


def _target(doc: Any) -> Row:
    resources = get(doc, "resources")
    if isinstance(resources, list) and resources and isinstance(resources[0], dict):
        first = resources[0]  # values as written: text() keeps a stray number or object a string
        arn = text(first.get("ARN") or first.get("arn"))
        return {
            "target_type": text(first.get("type")),
            "target_id": arn,
            "target_name": arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] if arn else None,
        }
    return {}


IAM_CLASSES: tuple[tuple[str, int], ...] = (("Group", 3006), ("Policy", 3005), ("Role", 3005))
"""IAM event-name fragments → OCSF class: group management, access policy, else account change."""


def _classify(event_source: str | None, event_name: str, event_category: str | None) -> Row:
    if event_name == "ConsoleLogin" or event_source == SIGN_IN_SOURCE:
        return {"class_uid": 3002, "activity_id": 1, "category": "authentication"}
    if event_name in LOG_ADMIN_EVENTS:
        return {"class_uid": 1008, "activity_id": 0, "category": "log_admin"}
    if event_source == "iam.amazonaws.com":
        uid = next((c for frag, c in IAM_CLASSES if frag in event_name), 3001)
        return {"class_uid": uid, "activity_id": 0, "category": "iam"}
    if event_category == "Data":
        return {"class_uid": 6005, "activity_id": 0, "category": "data_access"}
    return {"class_uid": 6003, "activity_id": 0, "category": "api"}


def _outcome(doc: Any, event_source: str | None, event_name: str, error_code: str | None) -> str:
    """No `errorCode` is success, except for sign-in events (`ConsoleLogin`, `SwitchRole`,
    `CheckMfa`, `PasswordUpdated`, ...): they write no error code and give their result under
    their own name in `responseElements`, `Success` or `Failure`."""
    if error_code:
        return "failure"
    if event_name == "ConsoleLogin" or event_source == SIGN_IN_SOURCE:
        result = text(member(get(doc, "responseElements"), event_name))
        return "failure" if result == "Failure" else "success"
    return "success"


SPEC = SourceSpec(
    name=NAME,
    reads='delivery files ({"Records": [...]}), JSON Lines or arrays, `lookup-events` output, CloudWatch Logs and EventBridge deliveries; Insights events',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("cloudtrail", "aws"),
    complete_paths=frozenset(NATIVE_PATHS),
    batch=cloudtrail_batch.batch,
)
