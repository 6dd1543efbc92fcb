"""What a Windows event means in canonical terms: class, action, actor, origin and outcome.

Windows event ids are only meaningful per provider (Sysmon 1 is a process start, EventID 1 of
another provider is not), so the table of well-known events is keyed by (provider, event id).
Everything here reads the flat native fields that `windows.normalize` has already extracted,
which are plain strings.

>>> row = {"TargetUserName": "alice", "TargetUserSid": "S-1-5-21-1-2-3-1001",
...        "IpAddress": "10.0.0.7", "Keywords": "0x8010000000000000"}
>>> out = canonical("Microsoft-Windows-Security-Auditing", 4625, row)
>>> out["action"], out["class_uid"], out["actor_name"], out["src_ip"], out["outcome"]
('failed logon', 3002, 'alice', '10.0.0.7', 'failure')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from auditlake.sources.base import Row
from auditlake.tables import unique_table

SECURITY = "microsoft-windows-security-auditing"
SYSMON = "microsoft-windows-sysmon"
EVENTLOG = "microsoft-windows-eventlog"

AUDIT_FAILURE = 0x0010_0000_0000_0000
AUDIT_SUCCESS = 0x0020_0000_0000_0000
"""Keywords bits of Security audit events (with the classic bit: 0x8010..., 0x8020...)."""

PLACEHOLDERS = frozenset({"", "-", "S-1-0-0", "NULL SID"})
"""Values Windows writes where it has nothing to say; they never name an actor or an address."""


@dataclass(frozen=True, slots=True)
class Kind:
    """A well-known event: its short action name and OCSF class, and whose fields hold the actor.

    `actor_is_target`: in logon events the `Target*` fields name who authenticates and
    `Subject*` the service that reported it, which never stands for the actor. `target` says
    what `Target*` (or the new process) is when the actor is the subject. `logger_acts`: whether
    the account the event was logged under (`Security_UserID`) stands for the actor when no
    field names one; not for the activity Sysmon observes, which its service logs as SYSTEM
    whoever acted.
    """

    action: str
    class_uid: int
    activity_id: int
    category: str
    actor_is_target: bool = False
    target: str | None = None
    logger_acts: bool = True


def _logon(action: str, activity_id: int) -> Kind:
    return Kind(action, 3002, activity_id, "authentication", actor_is_target=True)


def _account(action: str, activity_id: int) -> Kind:
    return Kind(action, 3001, activity_id, "iam", target="user")


def _group(action: str, activity_id: int) -> Kind:
    return Kind(action, 3006, activity_id, "iam", target="group")


def _sysmon(action: str, class_uid: int, activity_id: int, category: str, target: str) -> Kind:
    return Kind(action, class_uid, activity_id, category, target=target, logger_acts=False)


KINDS: dict[tuple[str, int], Kind] = unique_table([
    ((SYSMON, 1), _sysmon("process creation", 1007, 1, "process", "process")),
    ((SECURITY, 4688), Kind("process creation", 1007, 1, "process", target="process")),
    ((SYSMON, 3), _sysmon("network connection", 4001, 1, "network", "endpoint")),
    ((SYSMON, 5), _sysmon("process terminated", 1007, 2, "process", "process")),
    ((SYSMON, 7), _sysmon("image loaded", 1005, 1, "process", "module")),
    ((SYSMON, 8), _sysmon("remote thread created", 1007, 3, "process", "process_access")),
    ((SYSMON, 10), _sysmon("process accessed", 1007, 3, "process", "process_access")),
    ((SYSMON, 11), _sysmon("file created", 1001, 1, "file", "file")),
    ((SYSMON, 12), _sysmon("registry object created or deleted", 201001, 1, "registry", "registry")),
    ((SYSMON, 13), _sysmon("registry value set", 201001, 3, "registry", "registry")),
    ((SYSMON, 22), _sysmon("DNS query", 4003, 1, "network", "dns")),
    ((SECURITY, 4624), _logon("logon", 1)),
    ((SECURITY, 4625), _logon("failed logon", 1)),
    ((SECURITY, 4634), _logon("logoff", 2)),
    ((SECURITY, 4647), _logon("user initiated logoff", 2)),
    ((SECURITY, 4672), Kind("special privileges assigned to new logon", 3003, 1, "session")),
    ((SECURITY, 4648), Kind("explicit credential logon", 3002, 1, "authentication", target="user")),
    ((SECURITY, 4768), _logon("kerberos TGT request", 3)),
    ((SECURITY, 4769), _logon("kerberos service ticket request", 4)),
    ((SECURITY, 4771), _logon("kerberos pre-authentication failed", 6)),
    ((SECURITY, 4776), _logon("NTLM credential validation", 1)),
    ((EVENTLOG, 1102), Kind("audit log cleared", 1008, 1, "log_admin")),
    ((EVENTLOG, 104), Kind("event log cleared", 1008, 1, "log_admin")),
    ((SECURITY, 4720), _account("user account created", 1)),
    ((SECURITY, 4722), _account("user account enabled", 2)),
    ((SECURITY, 4725), _account("user account disabled", 5)),
    ((SECURITY, 4726), _account("user account deleted", 6)),
    ((SECURITY, 4738), _account("user account changed", 99)),
    ((SECURITY, 4723), _account("password change attempted", 3)),
    ((SECURITY, 4724), _account("password reset attempted", 4)),
    ((SECURITY, 4740), _account("user account locked out", 9)),
    ((SECURITY, 4767), _account("user account unlocked", 12)),
    ((SECURITY, 4727), _group("global group created", 6)),
    ((SECURITY, 4728), _group("member added to global group", 3)),
    ((SECURITY, 4729), _group("member removed from global group", 4)),
    ((SECURITY, 4730), _group("global group deleted", 5)),
    ((SECURITY, 4731), _group("local group created", 6)),
    ((SECURITY, 4732), _group("member added to local group", 3)),
    ((SECURITY, 4733), _group("member removed from local group", 4)),
    ((SECURITY, 4734), _group("local group deleted", 5)),
    ((SECURITY, 4735), _group("local group changed", 99)),
    ((SECURITY, 4737), _group("global group changed", 99)),
    ((SECURITY, 4754), _group("universal group created", 6)),
    ((SECURITY, 4755), _group("universal group changed", 99)),
    ((SECURITY, 4756), _group("member added to universal group", 3)),
    ((SECURITY, 4757), _group("member removed from universal group", 4)),
    ((SECURITY, 4758), _group("universal group deleted", 5)),
], what='Windows event')

ALWAYS_FAILED = frozenset({(SECURITY, 4625), (SECURITY, 4771)})
STATUS_DECIDES = frozenset({(SECURITY, 4768), (SECURITY, 4769), (SECURITY, 4776)})
"""Events whose `Status` is 0x0 on success and an NTSTATUS or Kerberos code on failure."""

ACTORS: Mapping[str, tuple[tuple[str, ...], str | None, str | None]] = {
    "subject": (("SubjectUserSid",), "SubjectUserName", "SubjectLogonId"),
    "target": (("TargetUserSid", "TargetSid"), "TargetUserName", "TargetLogonId"),
    "user": ((), "User", "LogonId"),  # Sysmon: "DOMAIN\\user"
    "source_user": ((), "SourceUser", "SourceLogonId"),  # Sysmon 8/10: who opened the other process
    "logger": (("Security_UserID",), None, None),  # the account the event was logged under
}
"""Who may have acted: (SID fields, name field, logon-id field), tried in `actor_order`."""

SID_TYPES: Mapping[str, str] = {
    "S-1-5-18": "system", "S-1-5-19": "service", "S-1-5-20": "service", "S-1-5-7": "anonymous",
}
NAME_TYPES: Mapping[str, str] = {
    "SYSTEM": "system", "LOCAL SERVICE": "service", "NETWORK SERVICE": "service",
    "ANONYMOUS LOGON": "anonymous",
}
SERVICE_SID_PREFIXES: tuple[str, ...] = ("S-1-5-80-", "S-1-5-82-", "S-1-5-83-", "S-1-5-90-", "S-1-5-96-")
SERVICE_DOMAINS = frozenset({"NT SERVICE", "IIS APPPOOL", "NT VIRTUAL MACHINE", "WINDOW MANAGER", "FONT DRIVER HOST"})
"""The virtual accounts Windows runs its own components as, by SID prefix and by domain (as
Sysmon's `User` names them): services, IIS application pools, Hyper-V machines, and the
`DWM-n` and `UMFD-n` accounts that log on with every interactive session."""
LEVEL_SEVERITY: Mapping[str, int] = {"0": 1, "1": 5, "2": 4, "3": 3, "4": 1, "5": 1}
"""Windows Level (LogAlways, Critical, Error, Warning, Information, Verbose) → OCSF severity_id."""


def canonical(provider: str | None, event_id: int, row: Mapping[str, str]) -> Row:
    """Canonical columns of one event from its provider, id and flat native fields."""
    key = ((provider or "").lower(), event_id)
    kind = KINDS.get(key)
    out: Row = {
        "action": kind.action if kind else f"{provider or row.get('Channel') or 'windows'}:{event_id}",
        "class_uid": kind.class_uid if kind else 0,
        "activity_id": kind.activity_id if kind else 0,
        "category": kind.category if kind else None,
        "outcome": _outcome(key, row),
        "status_code": value(row, "Status"),
        "outcome_reason": failure_reason(value(row, "FailureReason"), value(row, "SubStatus"), value(row, "Status")),
        "severity_id": LEVEL_SEVERITY.get(row.get("Level") or ""),
        "src_ip": ip_or_none(value(row, "IpAddress", "SourceIp", "SourceAddress")),
        "src_host": value(row, "WorkstationName", "Workstation", "SourceHostname"),
    }
    out.update(_actor(row, kind))
    out.update(_target(row, kind))
    return out


NTSTATUS_REASONS: Mapping[str, str] = {
    "0xc0000064": "no such user", "0xc000006a": "wrong password",
    "0xc000006d": "bad user name or authentication information",
    "0xc000006e": "account restriction", "0xc000006f": "outside the account's logon hours",
    "0xc0000070": "workstation not allowed for the account", "0xc0000071": "password expired",
    "0xc0000072": "account disabled", "0xc0000133": "clock skew with the domain controller",
    "0xc000015b": "logon type not granted on this computer", "0xc0000193": "account expired",
    "0xc0000224": "password must be changed at next logon", "0xc0000234": "account locked out",
    "0xc000018c": "trust relationship with the domain failed",
    "0xc0000413": "authentication firewall: not allowed to authenticate to this computer",
}
"""NTSTATUS codes of failed logons (4625 `SubStatus` and `Status`, 4776 `Status`), as words."""
FAILURE_REASONS: Mapping[str, str] = {
    "%%2304": "an error occurred during logon", "%%2305": "account expired",
    "%%2306": "NetLogon component not active", "%%2307": "account locked out",
    "%%2308": "logon type not granted on this computer", "%%2309": "password expired",
    "%%2310": "account disabled", "%%2311": "outside the account's logon hours",
    "%%2312": "workstation not allowed for the account", "%%2313": "unknown user name or bad password",
}
"""4625 `FailureReason`: message-table references the log keeps unexpanded (`%%2313`)."""


def failure_reason(failure: str | None, sub_status: str | None, status: str | None) -> str | None:
    """Why a logon failed, in words: the `SubStatus` code (which tells a wrong password from an
    unknown user), else the `Status` code, else `FailureReason`'s message; else those fields as
    written (`FailureReason`, then `SubStatus`)."""
    for code in (sub_status, status):
        known = NTSTATUS_REASONS.get((code or "").strip().lower())
        if known:
            return known
    return FAILURE_REASONS.get((failure or "").strip()) or failure or sub_status


def value(row: Mapping[str, str], *names: str) -> str | None:
    """The first of `names` that holds a real value (not `-`, empty or the NULL SID)."""
    for name in names:
        found = row.get(name)
        if found is not None and found.strip() not in PLACEHOLDERS:
            return found
    return None


def actor_order(kind: Kind | None) -> tuple[str, ...]:
    """The `ACTORS` tried for an event's actor, in order: the first that names someone acted.

    A logon event without the account that logged on has no actor: its subject is the service
    (often the computer's own account) that asked for the logon, not who tried it.
    """
    order: tuple[str, ...] = ("target",) if kind and kind.actor_is_target else ("subject", "target", "user")
    if kind is not None and kind.target == "process_access":
        order = ("source_user", *order)
    if kind is None or kind.logger_acts:
        order = (*order, "logger")
    return order


def _actor(row: Mapping[str, str], kind: Kind | None) -> Row:
    """Who acted, from the first of subject / target / Sysmon `User` / logging account that
    names someone."""
    for role in actor_order(kind):
        sid_fields, name_field, logon_field = ACTORS[role]
        sid, name = value(row, *sid_fields), value(row, name_field) if name_field else None
        if sid or name:
            return {"actor_id": sid, "actor_name": name, "actor_type": actor_type(sid, name),
                    "session_id": value(row, logon_field) if logon_field else None}
    return {"actor_id": None, "actor_type": actor_type(None, None)}


def actor_type(sid: str | None, name: str | None) -> str:
    """The kind of account a SID or a name stands for."""
    if sid is not None and sid in SID_TYPES:
        return SID_TYPES[sid]
    if sid is not None and sid.startswith(SERVICE_SID_PREFIXES):
        return "service"
    domain, _, bare = name.upper().rpartition("\\") if name else ("", "", "")
    if bare in NAME_TYPES:
        return NAME_TYPES[bare]
    if domain in SERVICE_DOMAINS:
        return "service"
    if bare.endswith("$"):
        return "system"  # a computer account
    return "user" if sid or name else "unknown"


def _target(row: Mapping[str, str], kind: Kind | None) -> Row:
    """The account, group or new process acted on, for events whose actor is the subject."""
    fields = target_fields(kind)
    if fields is None:
        return {}
    type_name, name_fields, id_fields = fields
    return {"target_type": type_name, "target_name": value(row, *name_fields),
            "target_id": value(row, *id_fields)}


def target_fields(kind: Kind | None) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """What an event acts on: (target_type, fields naming it, fields identifying it); None
    when its kind names no target."""
    if kind is None or kind.target is None:
        return None
    if kind.target in SYSMON_TARGETS:
        return SYSMON_TARGETS[kind.target]
    return kind.target, ("TargetUserName",), ("TargetSid", "TargetUserSid")


SYSMON_TARGETS: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "process": ("process", ("Image", "NewProcessName"), ("ProcessGuid", "NewProcessId")),
    "process_access": ("process", ("TargetImage",), ("TargetProcessGUID", "TargetProcessId")),
    "endpoint": ("endpoint", ("DestinationHostname", "DestinationIp"), ("DestinationIp",)),
    "module": ("module", ("ImageLoaded",), ("Hashes",)),
    "file": ("file", ("TargetFilename",), ("TargetFilename",)),
    "registry": ("registry", ("TargetObject",), ("TargetObject",)),
    "dns": ("domain", ("QueryName",), ("QueryName",)),
}
"""Target kind → (target_type, fields naming it, fields identifying it)."""


def _outcome(key: tuple[str, int], row: Mapping[str, str]) -> str:
    if key in ALWAYS_FAILED:
        return "failure"
    keywords = _keywords(row.get("Keywords"))
    if keywords is not None and keywords & AUDIT_FAILURE:
        return "failure"
    if keywords is not None and keywords & AUDIT_SUCCESS:
        return "success"
    status = value(row, "Status")
    if key in STATUS_DECIDES and status is not None:
        return "success" if _keywords(status) == 0 else "failure"
    return "unknown"


def _keywords(raw: str | None) -> int | None:
    """A hex (`0x8020000000000000`) or decimal number, None when it is neither."""
    try:
        return int(raw.strip(), 0) if raw else None
    except ValueError:
        return None


def ip_or_none(address: str | None) -> str | None:
    """The address when it is an IP, else None; an IPv4 address in its IPv6 form
    (`::ffff:10.0.0.1`, as Kerberos events write every IPv4 client) as plain IPv4, the way
    other events and sources write the same client.

    >>> ip_or_none("::ffff:10.0.0.1"), ip_or_none(" 10.0.0.1 "), ip_or_none("fe80::1%12"), ip_or_none("-")
    ('10.0.0.1', '10.0.0.1', 'fe80::1%12', None)
    """
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    mapped = parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else None
    return str(mapped) if mapped is not None else address.strip()
