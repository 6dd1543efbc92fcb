"""Access-gateway audit events in Teleport's shape (logins, SSH sessions, commands, databases).

The gateway is often the only place that ties a person (the SSO `user`) to the shared account
they used on a server or database (`login`, `db_user`), so the SSO user is both `actor_id` and
`actor_original`, and `sid`/`server_id` stay columns to join sshd, auditd and pgaudit records.
Teleport writes the remote address under a flat key literally named `addr.remote`; a nested
`{"addr": {"remote": …}}` and Panther's `addr_remote` are read too. Every top-level field (and
one level of nested objects) is kept as a native column, as Teleport rules test them by name.

>>> row = normalize(Frame(b'{"event":"session.start","code":"T2000I","uid":"u1",'
...     b'"time":"2024-03-01T10:00:00Z","user":"alice@example.com","login":"root",'
...     b'"sid":"s1","server_id":"n1","server_hostname":"db-1","addr.remote":"[::1]:3022"}', "f:1"))
>>> row["action"], row["src_ip"], row["target_id"], row["target_name"], row["outcome"]
('session.start', '::1', 'n1', 'root', 'success')
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from auditlake.errors import RecordError
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.fields import (
    JsonObject,
    flatten_all,
    json_kind,
    load_json_object,
    require,
    text,
)
from auditlake.sources.framing import json_frames
from auditlake.sources.timeparse import parse_time

NAME = "gateway.teleport"

NATIVE_DEPTH = 1
"""Native columns: top-level fields plus one level of nested objects (`server_labels.env`)."""

CODE = re.compile(r"[A-Z]{1,8}[0-9]{2,6}[IWES]", re.IGNORECASE)
"""Teleport event codes: a letter prefix, digits and a severity letter (T1000I, TLK00I,
TAL001E, TSPIFFE000I, SRE001I; T3003S ends a port forward): newer features use longer
prefixes, and a log that opens with their events must still be recognised."""

CODE_OUTCOMES: Mapping[str, str] = {"I": "success", "W": "failure", "E": "failure"}

REMOTE_ADDRESS_PATHS: tuple[tuple[str, ...], ...] = (
    ("addr.remote",), ("addr", "remote"), ("addr_remote",),
)
"""Where the client address is: Teleport's flat key, a nested object, Panther's flattened name."""

HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")
"""A remote address that is not an IP but looks like this is a host name (`src_host`)."""

BUILTIN_USERS = frozenset({"system"})
SERVICE_USER_PREFIXES: tuple[str, ...] = ("bot-",)
"""Machine ID bots are users named `bot-<name>`: services, not people."""

CLASSES: Mapping[str, tuple[int, int, str]] = {
    "user.login": (3002, 1, "authentication"),
    "auth": (3002, 1, "authentication"),
    "session.command": (1007, 1, "process"),
    "exec": (1007, 1, "process"),
    "db.session.query": (6005, 0, "data_access"),
}
"""event → (class_uid, activity_id, category); unlisted events fall to CATEGORY_PREFIXES."""

SESSION_EVENTS = frozenset({"scp", "sftp", "port", "x11-forward", "resize"})
CATEGORY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("session.", "session"), ("db.session.", "session"), ("app.session.", "session"),
    ("desktop.session.", "session"),
    ("access_request.", "iam"), ("role.", "iam"), ("user.", "iam"), ("lock.", "iam"),
    ("cert.", "iam"), ("saml.", "config"), ("oidc.", "config"), ("github.", "config"),
)
"""Category of the remaining (class 6003) events by event-name prefix; else `api`."""


def detect(record: Mapping[str, Any]) -> bool:
    """Teleport records carry `event` plus a T-code, or event+uid+time with a session/server id."""
    event, code = record.get("event"), record.get("code")
    if not isinstance(event, str):
        return False
    if isinstance(code, str) and CODE.fullmatch(code):
        return True
    has_ids = "uid" in record and "time" in record
    return has_ids and ("sid" in record or "server_id" in record)


def normalize(frame: Frame) -> Row:
    doc = load_json_object(frame.raw)
    event = require(_string(doc, "event"), "event")
    code = _string(doc, "code")
    row: Row = flatten_all(doc, max_depth=NATIVE_DEPTH)
    row.update(
        event_uid=_string(doc, "uid"),
        time=parse_time(doc.get("time"), what="time"),
        source_tenant=_string(doc, "cluster_name"),
        action=event,
        status_code=code,
        session_id=_string(doc, "sid"),
        host=_string(doc, "server_hostname"),
        user_agent=_string(doc, "user_agent"),
        outcome=_outcome(doc, code),
        outcome_reason=text(doc.get("error")),  # descriptive: a structured error is kept as JSON
        auth_mfa=_mfa(doc, event),
        **_actor(_string(doc, "user")),
        **_origin(_remote_address(doc)),
        **_target(doc, event),
        **_classify(event),
    )
    return row


def _actor(user: str | None) -> Row:
    """The SSO user is who acted and also the person behind whatever login they used."""
    if user is None or user in BUILTIN_USERS:
        return {"actor_id": user, "actor_name": user, "actor_type": "system"}
    kind = "service" if user.startswith(SERVICE_USER_PREFIXES) else "user"
    return {"actor_id": user, "actor_name": user, "actor_original": user, "actor_type": kind}


def _remote_address(doc: Any) -> str | None:
    for path in REMOTE_ADDRESS_PATHS:
        value: Any = doc
        for key in path:
            value = value.get(key) if isinstance(value, JsonObject) else None
        if value is not None:
            if not isinstance(value, str):
                raise RecordError(f"{'.'.join(path)} is {json_kind(value)}, expected host:port text")
            return value or None
    return None


def _origin(address: str | None) -> Row:
    """`ip:port` or `[v6]:port` → `src_ip`; a host name → `src_host`; garbage → neither.

    A malformed address stays in its native column (and `raw`) but never reaches `src_ip`,
    which rules match as CIDRs.
    """
    if not address:
        return {}
    host = strip_port(address)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return {"src_host": host} if HOST_NAME.fullmatch(host) else {}
    return {"src_ip": host}


def strip_port(address: str) -> str:
    """`192.0.2.1:3022` → `192.0.2.1`, `[::1]:3022` → `::1`; a bare IPv4/IPv6 stays as it is."""
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.rsplit(":", 1)[0]
    return address


def _target(doc: Any, event: str) -> Row:
    """Databases by service/name, Kubernetes by cluster, SSH nodes by id and login account."""
    for prefix, build in TARGETS:
        if event.startswith(prefix):
            return build(doc)
    return _server_target(doc)


def _db_target(doc: Any) -> Row:
    name = _string(doc, "db_name")
    parts = [p for p in (_string(doc, "db_service"), name) if p]
    return {"target_type": "database", "target_id": "/".join(parts) or None, "target_name": name}


def _kube_target(doc: Any) -> Row:
    cluster = _string(doc, "kubernetes_cluster")
    return {"target_type": "kubernetes_cluster" if cluster else None, "target_id": cluster}


def _server_target(doc: Any) -> Row:
    server = _string(doc, "server_id") or _string(doc, "server_hostname")
    login = _string(doc, "login")
    if not server and not login:
        return {}
    return {"target_type": "server", "target_id": server, "target_name": login}


TARGETS: tuple[tuple[str, Callable[[Any], Row]], ...] = (
    ("db.", _db_target),
    ("kube.", _kube_target),
)


def _outcome(doc: Any, code: str | None) -> str:
    """`success` when the event has it, else the code's last letter (I ok, W/E not)."""
    success = doc.get("success")
    if isinstance(success, bool):
        return "success" if success else "failure"
    if isinstance(success, str) and success.lower() in ("true", "false"):
        return "success" if success.lower() == "true" else "failure"
    if success is not None:
        raise RecordError(f"success is {json_kind(success)}, expected true or false")
    return CODE_OUTCOMES.get(code[-1:].upper(), "unknown") if code else "unknown"


def _mfa(doc: Any, event: str) -> bool | None:
    """A login names its `mfa_device`; a local login without one had none; SSO is the IdP's."""
    if event != "user.login":
        return None
    if doc.get("mfa_device") is not None:
        return True
    return False if doc.get("method") == "local" else None


def _classify(event: str) -> Row:
    if event in CLASSES:
        class_uid, activity_id, category = CLASSES[event]
    else:
        class_uid, activity_id = 6003, 0
        by_prefix = (c for prefix, c in CATEGORY_PREFIXES if event.startswith(prefix))
        category = "session" if event in SESSION_EVENTS else next(by_prefix, "api")
    return {"class_uid": class_uid, "activity_id": activity_id, "category": category}



def _string(doc: Any, key: str) -> str | None:
    """The string under a top-level `key`; a number, object or array there is a corrupt record."""
    value = doc.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise RecordError(f"{key} is {json_kind(value)}, expected a string")



SPEC = SourceSpec(
    name=NAME,
    reads='Teleport audit events: sessions, commands, database queries (JSON Lines or arrays)',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("gateway", "teleport"),
)
