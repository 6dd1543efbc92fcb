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

CODE_OUTCOMES: Mapping[str, str] = {"I": "success", "W": "failure", "E": "failure", "S": "success"}
"""An event code's last letter → outcome; any other letter is `unknown`. Teleport's convention
(its `lib/events/codes.go`) is I (info), W (warn) and E (error), a W or E event being one that
failed or was refused. `S` is outside that convention and ends one code only: T3003S
(`PortForwardStopCode`), which Teleport writes when a port forward ends, also after a T3003E
has reported that forward failing. A stop is read like the end of a session (T2004I): success,
the close of something that ran; a failed forward is its T3003E's to report, and so counts once."""

INTEGER_TEXT = re.compile(r"-?[0-9]{1,18}")
"""An integer written as text (Teleport writes `exitCode` so, and exporters stringify numbers);
18 digits hold any status or return code and stay well inside 64 bits."""

HTTP_ERROR = 400
"""An HTTP status from here on is a request the API refused (4xx) or failed (5xx)."""

NETWORK_ACTIONS: Mapping[str, int] = {"OBSERVED": 0, "DENIED": 1}
"""`session.network` `action`, Teleport's EventAction: 0 a connection let through, 1 one the
session's network policy refused. Written as the number; the name is read too."""

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
        auth_mfa=_mfa(doc, event),
        **_outcome(doc, event, code),
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


def _outcome(doc: Any, event: str, code: str | None) -> Row:
    """`success` when the event has it; else a failure the event's result field shows (see
    `RESULT_FIELDS`); else the code's last letter (`CODE_OUTCOMES`).

    The reason is Teleport's `error`, else a command's `exitError` (descriptive: a structured
    error is kept as JSON), else, for a failure the result field shows, what it says
    (`HTTP 403`, `execve returned -2`).
    """
    success = _success(doc)
    failure = _result_failure(doc, event)  # read even when `success` decides: a bad type rejects
    if success is not None:
        outcome = "success" if success else "failure"
    elif failure:
        outcome = "failure"
    else:
        outcome = CODE_OUTCOMES.get(code[-1:].upper(), "unknown") if code else "unknown"
    shown = failure if outcome == "failure" else None
    reason = text(doc.get("error")) or text(doc.get("exitError")) or shown
    return {"outcome": outcome, "outcome_reason": reason or None}


def _success(doc: Any) -> bool | None:
    """The `success` flag, also as the text `true`/`false`; None when the event has none."""
    success = doc.get("success")
    if success is None or isinstance(success, bool):
        return success
    if isinstance(success, str) and success.lower() in ("true", "false"):
        return success.lower() == "true"
    raise RecordError(f"success is {json_kind(success)}, expected true or false")


def _result_failure(doc: Any, event: str) -> str | None:
    read = RESULT_FIELDS.get(event)
    return read(doc) if read else None


def _http_failure(doc: Any, key: str) -> str | None:
    status = _integer(doc, key)
    return f"HTTP {status}" if status is not None and status >= HTTP_ERROR else None


def _kube_response_failure(doc: Any) -> str | None:
    """`kube.request`: `response_code` is the HTTP status of the proxied Kubernetes API call."""
    return _http_failure(doc, "response_code")


def _app_response_failure(doc: Any) -> str | None:
    """`app.session.request`: `status_code` is the HTTP status of the proxied app request."""
    return _http_failure(doc, "status_code")


def _execve_failure(doc: Any) -> str | None:
    """`session.command`: `return_code` is execve's, 0 when the program started, a negative
    errno (-2, no such file) when it could not be run."""
    returned = _integer(doc, "return_code")
    return f"execve returned {returned}" if returned else None


def _exit_failure(doc: Any) -> str | None:
    """`exec`, `scp`: `exitCode` is the command's exit status (-1 when a signal ended it)."""
    status = _integer(doc, "exitCode")
    return f"exit code {status}" if status else None


def _network_denial(doc: Any) -> str | None:
    """`session.network`: `action` says whether the session's network policy let it through."""
    action = doc.get("action")
    if isinstance(action, str) and action.upper() in NETWORK_ACTIONS:
        action = NETWORK_ACTIONS[action.upper()]
    else:
        action = _integer(doc, "action")
    return "denied" if action == NETWORK_ACTIONS["DENIED"] else None


RESULT_FIELDS: Mapping[str, Callable[[Any], str | None]] = {
    "kube.request": _kube_response_failure,
    "app.session.request": _app_response_failure,
    "session.command": _execve_failure,
    "session.network": _network_denial,
    "exec": _exit_failure,
    "scp": _exit_failure,
}
"""event → the failure (a short reason) its result field shows, or None. Teleport writes
`kube.request` (T3009I), `app.session.request` (T2009I), `session.command` (T4000I) and
`session.network` (T4002I) with their one `I` code whatever the result, so a refused API call
or a program that never ran would read as success by the letter. `exec` and `scp` do get their
E code when the command fails; their `exitCode` is read too, for records whose code is missing.
`session.disk` also has a `return_code`, but of open(2), a file descriptor when it succeeds:
it is not read as execve's. A result field of the wrong type rejects the record (`_integer`)."""


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


def _integer(doc: Any, key: str) -> int | None:
    """The integer under a top-level `key`, also written as text (`"403"`, `"-2"`: Teleport
    writes `exitCode` so); None when absent or ''. A fraction, a boolean, other text, an
    object or an array there is a corrupt record, as a `success` of the wrong type is."""
    value = doc.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{key} is {json_kind(value)}, expected an integer")
    return value



SPEC = SourceSpec(
    name=NAME,
    reads='Teleport audit events: sessions, commands, database queries (JSON Lines or arrays)',
    raw_format="json",
    frames=json_frames,
    normalize=normalize,
    detect=detect,
    aliases=("gateway", "teleport"),
)
