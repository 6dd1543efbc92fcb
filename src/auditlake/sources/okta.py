"""Okta System Log: sign-ins, MFA, user and group lifecycle, admin and API activity.

Inputs are the System Log API's JSON arrays or JSON Lines exports. Sigma's Okta rules test
native names (`eventType`, `outcome.result`, `debugContext.debugData.requestUri`) and older
rules the lower-case `eventtype` and `displaymessage`, so all of those are kept as columns
beside the canonical ones. Some exports (Panther's among them) lower-case the top-level keys
(`eventtype`, `authenticationcontext`); they are read as Okta's documented camelCase.

`client.ipAddress` becomes `src_ip` only when it is an IP address, which rules match as a CIDR;
anything else there is taken for a host name (`src_host`), as CloudTrail's and GCP's origins are
(`fields.ip_or_host`), except Okta's `unknown` placeholder, which is no value. Either way the
text stays in the native `client.ipAddress` column and `raw`. `request.ipChain[].ip` becomes
`src_ip_chain` as written.

Chunks of records are converted by `okta_batch`, with expressions over the whole chunk; it
hands the records it cannot vouch for back to `normalize`, the reference it is tested against.

>>> row = normalize(Frame(b'{"uuid": "u1", "published": "2024-03-01T10:00:00Z", '
...     b'"eventType": "user.session.start", "outcome": {"result": "FAILURE"}, '
...     b'"actor": {"id": "00u1", "type": "User", "alternateId": "ann@example.com"}}', "f:1"))
>>> row["actor_name"], row["outcome"], row["class_uid"], row["eventtype"]
('ann@example.com', 'failure', 3002, 'user.session.start')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from auditlake.errors import RecordError
from auditlake.sources import okta_batch
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonObject,
    flatten_paths,
    get,
    ip_or_host,
    json_kind,
    load_json_object,
    object_view,
    path_views,
    require_str,
    scalar_text,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "okta.system"

NATIVE_PATHS: tuple[str, ...] = (
    "eventType", "displayMessage", "severity", "legacyEventType", "version", "uuid", "published",
    "actor.id", "actor.type", "actor.alternateId", "actor.displayName",
    "client.ipAddress", "client.userAgent.rawUserAgent", "client.userAgent.os",
    "client.userAgent.browser", "client.geographicalContext.country",
    "client.geographicalContext.city", "client.zone", "client.device",
    "outcome.result", "outcome.reason",
    "authenticationContext.externalSessionId", "authenticationContext.authenticationProvider",
    "authenticationContext.credentialType", "securityContext.isProxy",
    "transaction.id", "transaction.type",
    "debugContext.debugData", "debugContext.debugData.requestUri",
    "debugContext.debugData.threatSuspected", "debugContext.debugData.behaviors",
    "debugContext.debugData.risk", "debugContext.debugData.logOnlySecurityData",
    "target", "request.ipChain",
)

LOWERCASE_ALIASES: Mapping[str, str] = {
    "eventtype": "eventType", "displaymessage": "displayMessage",
}
"""Extra native columns for Sigma rules written against lower-case Okta field names."""

TOP_LEVEL_SPELLINGS: Mapping[str, str] = {
    key.lower(): key
    for key in (
        "eventType", "displayMessage", "legacyEventType", "authenticationContext",
        "debugContext", "securityContext",
    )
}
"""Lower-cased top-level keys some exporters write → Okta's own spelling."""

ACTOR_TYPES: Mapping[str, str] = {
    "User": "user", "SystemPrincipal": "system", "PublicClientApp": "service",
    "AppInstance": "service", "Client": "service",
}
OUTCOMES: Mapping[str, str] = {
    "SUCCESS": "success", "ALLOW": "success", "FAILURE": "failure", "DENY": "failure",
}
SEVERITIES: Mapping[str, int] = {"DEBUG": 1, "INFO": 1, "WARN": 3, "ERROR": 4}

CLASSES: tuple[tuple[str, int, str], ...] = (
    ("user.session.", 3002, "authentication"),
    ("user.authentication.", 3002, "authentication"),
    ("user.lifecycle.", 3001, "iam"),
    ("user.mfa.", 3001, "iam"),
    ("user.account.", 3001, "iam"),
    ("group.", 3006, "iam"),
)
"""eventType prefix → (OCSF class, category); anything else is API activity (6003)."""

ACTIVITIES: Mapping[str, int] = {
    "user.session.start": 1, "user.session.end": 2,
    "user.lifecycle.create": 1, "user.lifecycle.activate": 2, "user.lifecycle.reactivate": 2,
    "user.lifecycle.unsuspend": 2, "user.lifecycle.deactivate": 5, "user.lifecycle.suspend": 5,
    "user.lifecycle.delete.initiated": 6, "user.lifecycle.delete.completed": 6,
    "user.account.update_password": 3, "user.account.reset_password": 4,
    "user.account.lock": 9, "user.account.lock.limit": 9, "user.account.unlock": 12,
    "user.account.unlock_by_admin": 12,
    "user.mfa.factor.activate": 10, "user.mfa.factor.deactivate": 11,
    "user.mfa.factor.reset_all": 11,
    "group.user_membership.add": 3, "group.user_membership.remove": 4,
    "group.lifecycle.create": 6, "group.lifecycle.delete": 5,
    "group.privilege.grant": 1, "group.privilege.revoke": 2,
}
"""eventType → OCSF activity_id within its class (0, unknown, when not listed)."""

UNKNOWN = "unknown"
"""What Okta writes where it has no value."""
MFA_EVENT_TYPES = frozenset({"user.authentication.auth_via_mfa"})
MFA_CREDENTIAL_TYPES = frozenset({"OTP", "SMS"})
OKTA_DOMAINS: tuple[str, ...] = (".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com")
SHARED_OKTA_HOSTS = frozenset({"login.okta.com"})
ORG_URL_PATHS: tuple[str, ...] = (
    "debugContext.debugData.origin", "debugContext.debugData.redirectUri",
    "debugContext.debugData.url",
)


def detect(record: Mapping[str, Any]) -> bool:
    """System Log events have a string `eventType`, a `uuid`, `published` and an `actor` object."""
    event_type = record.get("eventType") or record.get("eventtype")
    return (
        isinstance(event_type, str)
        and "uuid" in record
        and "published" in record
        and isinstance(record.get("actor"), JsonObject)
    )


def normalize(frame: Frame) -> Row:
    view = path_views(_top_level(load_json_object(frame.raw)), NATIVE_PATHS)
    event_type = require_str(view, "eventType")
    row: Row = flatten_paths(view, NATIVE_PATHS)
    row.update({alias: row[name] for alias, name in LOWERCASE_ALIASES.items() if name in row})
    row.update(
        event_uid=scalar_text(view, "uuid"),
        time=parse_time(get(view, "published"), what="published"),
        action=event_type,
        src_ip_chain=_ip_chain(get(view, "request.ipChain")),
        src_country=scalar_text(view, "client.geographicalContext.country"),
        user_agent=scalar_text(view, "client.userAgent.rawUserAgent"),
        session_id=_session_id(scalar_text(view, "authenticationContext.externalSessionId")),
        correlation_id=scalar_text(view, "transaction.id"),
        request_id=scalar_text(view, "debugContext.debugData.requestId"),
        outcome=OUTCOMES.get(scalar_text(view, "outcome.result") or "", "unknown"),
        outcome_reason=scalar_text(view, "outcome.reason"),
        severity_id=SEVERITIES.get(scalar_text(view, "severity") or ""),
        source_tenant=_org(view),
        auth_mfa=_mfa(view, event_type),
        **origin(scalar_text(view, "client.ipAddress")),
        **_actor(view),
        **_target(get(view, "target")),
        **_classify(event_type),
    )
    return row




def _top_level(doc: Any) -> dict[str, Any]:
    """The record's top-level keys under Okta's spelling; camelCase wins when both are present."""
    view = object_view(doc)  # values stay lazy
    for lower, camel in TOP_LEVEL_SPELLINGS.items():
        if view.get(camel) is None and view.get(lower) is not None:
            view[camel] = view[lower]
    return view








def _actor(view: Mapping[str, Any]) -> Row:
    actor = view.get("actor")
    if actor is not None and not isinstance(actor, JsonObject):
        raise RecordError(f"actor is {json_kind(actor)}, expected an object")
    return {
        "actor_id": _known(scalar_text(view, "actor.id")),
        "actor_name": _known(scalar_text(view, "actor.alternateId")) or _known(scalar_text(view, "actor.displayName")),
        "actor_type": ACTOR_TYPES.get(scalar_text(view, "actor.type") or "", "unknown"),
    }


def origin(address: str | None) -> Row:
    """`client.ipAddress` as `src_ip` when it is an IP address, else as `src_host`
    (`fields.ip_or_host`); Okta's `unknown` placeholder is neither."""
    return {"src_ip": None, "src_host": None, **ip_or_host(_known(address))}


def _ip_chain(chain: Any) -> list[str] | None:
    """`request.ipChain[].ip`, the client first; entries without an address are skipped."""
    if not isinstance(chain, list):
        return None
    ips = [hop["ip"] for hop in chain if isinstance(hop, dict) and isinstance(hop.get("ip"), str)]
    return ips or None


def _known(value: str | None) -> str | None:
    """Okta writes `unknown` for an id or name it does not have (an API token's alternateId,
    an IP-only actor's); that is no one's id or name."""
    return None if value == UNKNOWN else value


def _session_id(value: str | None) -> str | None:
    """Okta writes `unknown` when there is no session; that is not an identifier."""
    return _known(value) or None


def _target(targets: Any) -> Row:
    """The first entry of `target[]` is the object acted on (user, app, group, ...)."""
    if not isinstance(targets, list) or not targets or not isinstance(targets[0], dict):
        return {}
    first = targets[0]
    name = next((v for v in (first.get("alternateId"), first.get("displayName")) if v and v != UNKNOWN), None)
    return {
        "target_type": _plain(first.get("type")),
        "target_id": _plain(first.get("id")),
        "target_name": _plain(name),
    }


def _plain(value: Any) -> str | None:
    """A target attribute as text; objects and arrays are not ids or names."""
    if isinstance(value, dict | list):
        return None
    return text(value) or None


def _mfa(view: Mapping[str, Any], event_type: str) -> bool | None:
    """True when the event shows a second factor was used; unknown (None) otherwise."""
    if event_type in MFA_EVENT_TYPES or get(view, "debugContext.debugData.factor") is not None:
        return True
    credential = scalar_text(view, "authenticationContext.credentialType")
    return True if credential in MFA_CREDENTIAL_TYPES else None


def _org(view: Mapping[str, Any]) -> str | None:
    """The org's Okta host (`acme.okta.com`) when a request URL in debugData names it."""
    return org_host(get(view, path) for path in ORG_URL_PATHS)


def org_host(urls: Iterable[Any]) -> str | None:
    """The first Okta org host named by one of `urls` (the values at `ORG_URL_PATHS`)."""
    for value in urls:
        if not isinstance(value, str) or "://" not in value:
            continue
        try:
            host = (urlsplit(value).hostname or "").lower()
        except ValueError:
            continue
        if host.endswith(OKTA_DOMAINS) and host not in SHARED_OKTA_HOSTS:
            return host
    return None


def _classify(event_type: str) -> Row:
    class_uid, category = next(
        ((uid, cat) for prefix, uid, cat in CLASSES if event_type.startswith(prefix)),
        (6003, "api"),
    )
    return {
        "class_uid": class_uid,
        "category": category,
        "activity_id": ACTIVITIES.get(event_type, 0),
    }


SPEC = SourceSpec(
    name=NAME,
    reads='System Log events: API arrays, JSON Lines, EventBridge log streams',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("okta",),
    batch=okta_batch.batch,
)
