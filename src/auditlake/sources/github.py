"""GitHub audit log: organization and enterprise events (repos, members, tokens, git, Actions).

Inputs are audit-log streams and REST exports as JSON Lines or arrays. Each event is flat: an
`action` such as `repo.create` plus whichever keys that action carries, so every top-level key
is kept as a native column (objects and arrays as JSON text). Times come as epoch milliseconds
(`@timestamp`, `created_at`) or, in some exports, as `YYYY-MM-DD HH:MM:SS.fff` text; Panther's
exports rename `@timestamp` to `at_sign_timestamp`.

`actor_ip`, present only when the organization discloses IP addresses, becomes `src_ip` only
when it is an IP address, which rules match as a CIDR; anything else there is taken for a host
name (`src_host`), as CloudTrail's and GCP's origins are (`fields.ip_or_host`). Either way the
text stays in the native `actor_ip` column and `raw`.

Chunks of records are converted by `github_batch`, with expressions over the whole chunk; it
hands the records it cannot vouch for back to `normalize`, the reference it is tested against.

>>> row = normalize(Frame(b'{"@timestamp": 1709287200000, "action": "org.add_member", '
...     b'"actor": "ann", "actor_id": 7, "org": "acme", "user": "bob"}', "f:1"))
>>> row["time"].isoformat(), row["actor_id"], row["target_name"], row["class_uid"]
('2024-03-01T10:00:00+00:00', '7', 'bob', 3006)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from auditlake.errors import RecordError
from auditlake.schema import is_canonical
from auditlake.sources import github_batch
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonObject,
    get,
    get_text,
    ip_or_host,
    load_json_object,
    object_view,
    require_str,
    scalar_text,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "github.audit"

NATIVE_PATHS: tuple[str, ...] = ("actor_location.country_code",)
"""Nested fields kept as columns besides every top-level key."""

TIME_FIELDS: tuple[str, ...] = ("@timestamp", "at_sign_timestamp", "created_at")
"""Occurrence time, in order of preference; the first one present is used."""

FOREIGN_KEYS: tuple[str, ...] = (
    "eventType", "eventtype", "eventSource", "protoPayload", "protopayload",
)
"""Keys of Okta, CloudTrail and GCP records, which also have dotted actions."""

SERVICE_ACTORS = frozenset({"github-actions", "dependabot"})
SYSTEM_ACTORS = frozenset({"github"})
"""`github` acts for GitHub itself, e.g. when it opens a secret-scanning alert."""

FAILED_CONCLUSIONS = frozenset({
    "failure", "failed", "error", "timed_out", "startup_failure", "denied", "rejected",
})
FAILED_ACTIONS = frozenset({
    "protected_branch.rejected_ref_update",
    "user.two_factor_challenge_failure",
})
"""Actions that record an attempt GitHub refused: a push to a protected branch that its rules
rejected, a failed 2FA challenge. The entry has no outcome field; the action name is the outcome."""

CLASSES: tuple[tuple[str, int, str], ...] = (
    ("org.add_member", 3006, "iam"),
    ("org.remove_member", 3006, "iam"),
    ("org.invite_member", 3006, "iam"),
    ("org.update_member", 3006, "iam"),
    ("repo.add_member", 3006, "iam"),
    ("repo.remove_member", 3006, "iam"),
    ("repo.update_member", 3006, "iam"),
    ("business.add_admin", 3006, "iam"),
    ("business.remove_admin", 3006, "iam"),
    ("team.", 3006, "iam"),
    ("user.", 3001, "iam"),
    ("oauth", 3001, "iam"),
    ("personal_access_token.", 3001, "iam"),
    ("public_key.", 3001, "iam"),
)
"""action prefix → (OCSF class, category); anything else is API activity (6003). Membership
is group management wherever it changes: an organization's members, a repository's
collaborators (`repo.add_member`), a team, an enterprise's owners (`business.add_admin`)."""

USER_TARGET_WORDS: tuple[str, ...] = ("member", "user", "admin", "collaborator", "maintainer")
"""An action whose verb names a person acts on `user`, even when a repo is also named."""


def detect(record: Mapping[str, Any]) -> bool:
    """A dotted `action`, an actor or document id, a time, and none of the other clouds' keys."""
    action = record.get("action")
    return (
        isinstance(action, str)
        and "." in action
        and ("actor" in record or "_document_id" in record)
        and any(key in record for key in TIME_FIELDS)
        and not any(key in record for key in FOREIGN_KEYS)
    )


def normalize(frame: Frame) -> Row:
    doc = object_view(load_json_object(frame.raw))
    action = require_str(doc, "action")
    actor = scalar_text(doc, "actor")
    row: Row = _natives(doc)
    row.update(
        event_uid=scalar_text(doc, "_document_id"),
        time=_time(doc),
        action=action,
        actor_id=scalar_text(doc, "actor_id") or actor,
        actor_name=actor,
        actor_type=_actor_type(actor, get(doc, "actor_is_bot")),
        src_country=scalar_text(doc, "actor_location.country_code"),
        user_agent=scalar_text(doc, "user_agent"),
        source_tenant=_name(doc, "org") or _name(doc, "business"),
        credential_id=scalar_text(doc, "hashed_token") or scalar_text(doc, "token_id"),
        request_id=scalar_text(doc, "request_id"),
        **origin(scalar_text(doc, "actor_ip")),
        **_target(doc, action),
        **_outcome(doc, action),
        **_classify(action),
    )
    return row




def _natives(doc: Any) -> Row:
    """Every top-level key (objects and arrays as JSON text) plus the country code; a key that
    is also a canonical column (`action`, `actor_id`, `user_agent`) stays reachable in `raw`.
    """
    row: Row = {}
    for key in doc:
        value = text(doc.get(key))
        if value is not None and key and not is_canonical(key):
            row[key] = value
    for path in NATIVE_PATHS:
        value = get_text(doc, path)
        if value is not None:
            row[path] = value
    return row






def _name(doc: Any, path: str) -> str | None:
    """An org, repo, user or team name; a list of them (enterprise-wide events) gives the
    first, and anything else that is not a name gives None.
    """
    return name_of(get(doc, path))


def name_of(value: Any) -> str | None:
    """`_name` of a value as `fields.get` gives it."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | int) and v != ""), None)
    if isinstance(value, JsonObject):
        return None
    return text(value) or None


def origin(address: str | None) -> Row:
    """`actor_ip` as `src_ip` when it is an IP address, else as `src_host` (`fields.ip_or_host`)."""
    return {"src_ip": None, "src_host": None, **ip_or_host(address)}


def _time(doc: Any) -> datetime:
    for field in TIME_FIELDS:
        value = get(doc, field)
        if value is not None:
            return parse_time(value, what=field)
    raise RecordError("missing timestamp (@timestamp or created_at)")


def _actor_type(actor: str | None, is_bot: Any) -> str:
    if actor is None:
        return "unknown"
    if actor in SYSTEM_ACTORS:
        return "system"
    if actor.endswith("[bot]") or actor in SERVICE_ACTORS or is_bot is True:
        return "service"
    return "user"


def _target(doc: Any, action: str) -> Row:
    """The user, team or repository the action changed, by what the action is about."""
    user = _name(doc, "user")
    repo = _name(doc, "repo") or _name(doc, "repository")
    if user and (repo is None or names_a_person(action)):
        return {"target_type": "user", "target_id": scalar_text(doc, "user_id") or user,
                "target_name": user}
    team = _name(doc, "team") or _name(doc, "data.team")
    if team and action.startswith("team."):
        return {"target_type": "team", "target_id": team, "target_name": team}
    if repo:
        return {"target_type": "repository", "target_id": repo, "target_name": repo}
    return {}


def names_a_person(action: str) -> bool:
    """Whether the action's verb (`add_member`, `remove_collaborator`) acts on a person."""
    verb = action.rsplit(".", 1)[-1]
    return any(word in verb for word in USER_TARGET_WORDS)


def _outcome(doc: Any, action: str) -> Row:
    """Audit entries record completed actions; only a refused attempt (`FAILED_ACTIONS`) or an
    explicit conclusion says otherwise."""
    conclusion = scalar_text(doc, "conclusion") or scalar_text(doc, "result")
    refused = action in FAILED_ACTIONS or failed(conclusion)
    return {"outcome": "failure" if refused else "success", "outcome_reason": conclusion}


def failed(conclusion: str | None) -> bool:
    """Whether a conclusion (`failure`, `TIMED_OUT`, ...) says the action failed."""
    return conclusion is not None and conclusion.lower() in FAILED_CONCLUSIONS


def _classify(action: str) -> Row:
    class_uid, category = next(
        ((uid, cat) for prefix, uid, cat in CLASSES if action.startswith(prefix)),
        (6003, "api"),
    )
    return {"class_uid": class_uid, "category": category, "activity_id": 0}


SPEC = SourceSpec(
    name=NAME,
    reads='audit log entries: API arrays and JSON exports, streamed JSON Lines',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    batch=github_batch.batch,
    aliases=("github",),
)
