"""Builders for rule-pack tests: rule documents, native records and sharp example cases.

A test states only the detection (or correlation) it is about; `rule_doc` adds the metadata
every rule needs, and `cloudtrail`/`okta` build native records with unique ids.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "rules"

_counter = itertools.count(1)

METADATA: dict[str, Any] = {
    "status": "test",
    "description": "A rule for the rule-pack tests.",
    "author": "auditlake tests",
    "date": "2024-05-01",
    "references": ["https://example.org/rule"],
    "falsepositives": ["Planned changes"],
    "level": "high",
    "tags": ["attack.defense-evasion", "attack.t1562.008", "compliance.pci_dss.10.2.1.6"],
}
CLOUDTRAIL = {"product": "aws", "service": "cloudtrail"}
OKTA = {"product": "okta", "service": "okta"}


def rule_doc(
    detection: Mapping[str, Any] | None = None,
    *,
    logsource: Mapping[str, Any] = CLOUDTRAIL,
    **fields: Any,
) -> dict[str, Any]:
    """A complete rule document around `detection` (None: a correlation, pass `correlation=`)."""
    doc: dict[str, Any] = {
        "title": fields.pop("title", f"Test rule {next(_counter)}"),
        "id": fields.pop("id", str(uuid.uuid4())),
        **METADATA,
    }
    if detection is not None:
        doc["logsource"] = dict(logsource)
        doc["detection"] = dict(detection)
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def rule_yaml(*documents: Mapping[str, Any]) -> str:
    return yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False)


def cloudtrail(event_name: str = "StopLogging", **fields: Any) -> dict[str, Any]:
    """One CloudTrail record with a unique eventID; `fields` override top-level keys."""
    n = next(_counter)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice",
        },
        "eventTime": f"2024-05-01T09:{n % 60:02d}:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "main"},
        "responseElements": None,
        "requestID": f"REQ{n:06d}",
        "eventID": str(uuid.UUID(int=n)),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
    }
    record.update(fields)
    return record


def okta(
    user: str,
    *,
    ip: str = "203.0.113.9",
    result: str = "FAILURE",
    minute: int = 0,
    event_type: str = "user.session.start",
) -> dict[str, Any]:
    """One Okta System Log sign-in event with a unique uuid."""
    n = next(_counter)
    return {
        "uuid": str(uuid.UUID(int=n)),
        "published": f"2024-05-20T08:{minute:02d}:00.000Z",
        "eventType": event_type,
        "version": "0",
        "displayMessage": "User login to Okta",
        "severity": "INFO",
        "legacyEventType": "core.user_auth.login_failed",
        "actor": {"id": f"00u{n:017d}", "type": "User", "alternateId": user, "displayName": user},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": result, "reason": None},
        "target": [],
        "transaction": {"type": "WEB", "id": f"T{n}"},
        "debugContext": {"debugData": {}},
        "authenticationContext": {"externalSessionId": f"S{n}"},
        "securityContext": {},
        "request": {"ipChain": []},
    }


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


STOP_LOGGING = {
    "selection_source": {"eventSource": "cloudtrail.amazonaws.com"},
    "selection_event": {"eventName": ["StopLogging", "DeleteTrail"]},
    "filter_failed": {"errorCode|exists": True},
    "condition": "selection_source and selection_event and not filter_failed",
}
"""A detection whose three selections each need a case of their own."""


def stop_logging_cases() -> dict[str, list[dict[str, Any]]]:
    """Sharp cases for `STOP_LOGGING`: every selection is needed by one of them."""
    return {
        "match_stop.jsonl": [cloudtrail("StopLogging")],
        "match_delete.jsonl": [cloudtrail("DeleteTrail")],
        "miss_denied.jsonl": [cloudtrail("StopLogging", errorCode="AccessDenied")],
        "miss_other_service.jsonl": [
            cloudtrail("StopLogging", eventSource="example.amazonaws.com")
        ],
        "miss_other_call.jsonl": [cloudtrail("StartLogging")],
    }
