"""Linux audit (auditd): kernel syscall events and user-space audit messages.

Inputs are raw `/var/log/audit/audit.log` files (optionally gzip), one record per line:
`[node=<host> ]type=<TYPE> msg=audit(<epoch>.<millis>:<serial>): key=value ...`. The kernel
splits one event into several records (SYSCALL, EXECVE, CWD, PATH, PROCTITLE, EOE) that share
the stamp and may interleave with other events, so `auditd_events.frames` reassembles them into
one frame per event. Sigma's auditd rules test native keys (`type`, `syscall`, `exe`, `key`,
`a0`, `SYSCALL`), so those stay columns beside the canonical ones.

An event is not always read whole: a live audit.log ends wherever auditd last flushed, and
rotation may leave an event's first records in audit.log.1 and the rest in audit.log. So the
stamp `<node>:<epoch>.<millis>:<serial>` is the event's `correlation_id`, and a row's identity
is that stamp plus a digest of the records read (`event_uid`): a later, fuller reading of an
event lands beside the earlier piece instead of being taken for its duplicate, while reading
the same bytes again still adds nothing.

>>> row = normalize(Frame(b"type=USER_LOGIN msg=audit(1700000000.123:42): pid=9 uid=0 "
...     b"auid=1000 ses=3 msg='op=login acct=\\"alice\\" exe=\\"/usr/sbin/sshd\\" "
...     b"hostname=? addr=10.0.0.5 terminal=ssh res=success'", "audit.log:1"))
>>> row["correlation_id"], row["event_uid"]
(':1700000000.123:42', ':1700000000.123:42/dfd81b43916494bd')
>>> row["actor_id"], row["target_name"], row["src_ip"], row["outcome"]
('1000', 'alice', '10.0.0.5', 'success')
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from auditlake.errors import RecordError
from auditlake.schema import CANONICAL
from auditlake.sources.auditd_events import RECORD_SHAPE, frames, sniff
from auditlake.sources.base import Frame, Row, SourceSpec
from auditlake.sources.timeparse import EARLIEST, LATEST
from auditlake.tables import unique_table

NAME = "linux.auditd"
RAW_FORMAT = "auditd-kv"

UID_DIGEST_CHARS = 16
"""Hex digits of content digest in `event_uid`: 64 bits, to tell apart pieces of one stamp."""
MAX_ARG_COLUMNS = 32
"""`EXECVE.a0`..`EXECVE.a31` become columns; every argument is always in `cmdline`."""

X86_64 = "c000003e"
SYSCALLS_X86_64: Mapping[str, str] = {
    "2": "open", "42": "connect", "49": "bind", "59": "execve", "82": "rename", "87": "unlink",
    "90": "chmod", "99": "sysinfo", "101": "ptrace", "103": "syslog", "105": "setuid",
    "133": "mknod", "135": "personality", "165": "mount", "175": "init_module",
    "176": "delete_module", "257": "openat", "259": "mknodat", "263": "unlinkat",
    "268": "fchmodat", "313": "finit_module", "319": "memfd_create", "322": "execveat",
}
"""x86_64 syscall numbers worth a name (the ones Sigma's auditd rules and our classes use)."""
EXEC_SYSCALLS = frozenset({"execve", "execveat"})
ERRNO_NAMES: Mapping[str, str] = {
    "-1": "EPERM", "-2": "ENOENT", "-13": "EACCES", "-17": "EEXIST", "-22": "EINVAL",
    "-30": "EROFS", "-111": "ECONNREFUSED", "-115": "EINPROGRESS",
}
OUTCOMES: Mapping[str, str] = {
    "yes": "success", "success": "success", "1": "success",
    "no": "failure", "failed": "failure", "fail": "failure", "0": "failure",
}
UNSET_IDS = frozenset({"4294967295", "-1", "unset"})
NULLISH = frozenset({"", "?", "(null)", "(none)", "unset"})
UNNAMED_ACCOUNTS = frozenset({"(invalid user)", "(unknown user)", "(unknown)"})
"""What sshd writes as `acct` when the name tried is no account (or none was given): it stays in
the `acct` column, but names neither an actor nor a target."""

_Class = tuple[int, int, str]
AUTHENTICATION, ACCOUNT_CHANGE, GROUP_CHANGE = 3002, 3001, 3006
PROCESS_LAUNCH: _Class = (1007, 1, "process")
FILE_WATCH: _Class = (1001, 0, "data_access")
LOG_ADMIN_OTHER: _Class = (1008, 99, "log_admin")


CLASSES: Mapping[str, _Class] = unique_table([
    ("USER_LOGIN", (3002, 1, "authentication")), ("USER_LOGOUT", (3002, 2, "authentication")),
    ("USER_AUTH", (3002, 1, "authentication")), ("USER_ACCT", (3002, 99, "authentication")),
    ("USER_START", (3002, 99, "authentication")), ("USER_END", (3002, 99, "authentication")),
    ("USER_ERR", (3002, 99, "authentication")), ("CRED_ACQ", (3002, 99, "authentication")),
    ("CRED_REFR", (3002, 99, "authentication")), ("CRED_DISP", (3002, 99, "authentication")),
    ("ADD_USER", (3001, 1, "iam")), ("DEL_USER", (3001, 6, "iam")),
    ("USER_CHAUTHTOK", (3001, 3, "iam")), ("USER_MGMT", (3001, 99, "iam")),
    ("ACCT_LOCK", (3001, 9, "iam")), ("ACCT_UNLOCK", (3001, 12, "iam")),
    ("ADD_GROUP", (3006, 6, "iam")), ("DEL_GROUP", (3006, 5, "iam")),
    ("GRP_MGMT", (3006, 99, "iam")), ("GRP_CHAUTHTOK", (3006, 99, "iam")),
    ("USER_CMD", PROCESS_LAUNCH),
    ("CONFIG_CHANGE", LOG_ADMIN_OTHER), ("DAEMON_START", (1008, 6, "log_admin")),
    ("DAEMON_END", (1008, 7, "log_admin")), ("DAEMON_ABORT", (1008, 7, "log_admin")),
    ("DAEMON_RESUME", (1008, 6, "log_admin")), ("DAEMON_ROTATE", (1008, 5, "log_admin")),
], what='auditd record type')
"""Record types that say what the event is, whatever syscall carried them (OCSF class,
activity, category); any other DAEMON_* record is Event Log Activity too. One SSH login writes
USER_AUTH, USER_ACCT, CRED_ACQ, USER_START and USER_LOGIN: only the auth attempt and the login
are Logon (1), so counting logons does not count one login three times."""

# ---------------------------------------------------------------------------------- records

_HEADER_TEXT = re.compile(r"(?:node=(\S*) )?type=(\S+) msg=audit\(([^)]*)\):?\s*")
_STAMP_TEXT = re.compile(r"\d{1,12}\.\d{1,9}:\d{1,20}")
_TOKEN = re.compile(r'([\w\-\[\]]+)=(?:"([^"]*)"|(\S*))|(\S+)')
_HEX = re.compile(r"(?:[0-9A-F]{2})+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_EXECVE_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?")
_EXECVE_ARG_FIELD = re.compile(r"a\d+(?:_len|\[\d+\])?")


@dataclass(frozen=True, slots=True)
class _Record:
    """One record of an event: its type, stamp, and fields unquoted and hex-decoded."""

    type: str
    node: str | None
    stamp: str
    fields: dict[str, str]


def _same(text: str) -> str:
    return text


def _argv(text: str) -> str:
    """`proctitle` is argv joined by NUL bytes."""
    return text.replace("\x00", " ").strip()


def _keys(text: str) -> str:
    """Several rule keys on one record are separated by \\x01."""
    return text.replace("\x01", ",")


HEX_FIELDS: Mapping[str, Callable[[str], str]] = {
    "proctitle": _argv, "cmd": _same, "name": _same, "cwd": _same, "data": _same,
    "acct": _same, "comm": _same, "exe": _same, "path": _same, "dir": _same, "key": _keys,
}
"""Fields auditd writes hex-encoded (unquoted) when they hold spaces, quotes or control bytes;
only these are decoded, so that ordinary numbers such as `a0=40000` stay as they are."""


def _unhex(value: str, decode: Callable[[str], str]) -> str:
    """The decoded text of an unquoted hex value, or the value itself when it is not readable."""
    if not _HEX.fullmatch(value):
        return value
    try:
        text = decode(bytes.fromhex(value).decode("utf-8"))
    except UnicodeDecodeError:
        return value
    return value if _CONTROL.search(text) else text


def _pairs(text: str, out: dict[str, str], *, execve: bool) -> None:
    """Add the `key=value` pairs of `text` to `out`; the first occurrence of a key wins.

    A bare word continues the previous unquoted value (`op=adding user id=1001`).
    """
    last: str | None = None
    for key, quoted, plain, bare in _TOKEN.findall(text):
        if bare:
            if last is not None:
                out[last] = f"{out[last]} {bare}"
            continue
        if key in out:
            last = None
            continue
        if plain and (execve or key in HEX_FIELDS):
            plain = _plain(key, plain, execve=execve)  # noqa: PLW2901 - decoded in place
        out[key] = quoted or plain
        last = None if quoted else key


def _plain(key: str, value: str, *, execve: bool) -> str:
    """An unquoted value, hex-decoded when the field is one auditd may hex-encode."""
    decode = HEX_FIELDS.get(key)
    if decode is not None:
        return _unhex(value, decode)
    if execve and key[:1] == "a" and key[1:].isdigit():
        return _unhex(value, _same)
    return value


def _parse_record(line: str) -> _Record:
    """Split one record line into header and fields (nested `msg='…'` and enriched part too)."""
    header = _HEADER_TEXT.match(line)
    if header is None:
        raise RecordError(f"not an audit record ({RECORD_SHAPE}): {line[:60]!r}")
    node, record_type, stamp = header.groups()
    if not _STAMP_TEXT.fullmatch(stamp):
        raise RecordError(f"unparsable stamp msg=audit({stamp[:40]}); expected <epoch>.<millis>:<serial>")
    main, _, enriched = line[header.end():].partition("\x1d")
    fields: dict[str, str] = {}
    execve = record_type == "EXECVE"
    start = _nested_msg_start(main)
    if start >= 0:
        end = main.rfind("'")
        _pairs(main[:start], fields, execve=execve)
        _pairs(main[start + 5 : end if end > start + 4 else len(main)], fields, execve=execve)
    else:
        _pairs(main, fields, execve=execve)
    if enriched:
        _pairs(enriched, fields, execve=False)
    return _Record(record_type, node, stamp, fields)


def _nested_msg_start(text: str) -> int:
    """Where a user-space message's `msg='…'` opens, or -1 (as `auditd_events` finds it): never
    inside a double-quoted value, such as the argument of `grep "msg='op=login" audit.log`."""
    start = text.find("msg='")
    while start >= 0 and text.count('"', 0, start) % 2:
        start = text.find("msg='", start + 1)
    return start


def _records(raw: bytes) -> list[_Record]:
    """All records of one frame, which must belong to a single event."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError(f"invalid UTF-8 at byte {exc.start}") from exc
    records = [_parse_record(line) for line in text.split("\n") if line.strip()]
    if not records:
        raise RecordError("empty event: the frame holds no audit record")
    stamps = {(r.node, r.stamp) for r in records}
    if len(stamps) > 1:
        raise RecordError(f"records of {len(stamps)} events in one frame; frame with auditd_events.frames")
    return records


def _stamp_time(stamp: str) -> datetime:
    """The event time from `<epoch>.<millis>:<serial>`, exact to the digit (no float)."""
    epoch = stamp.partition(":")[0]
    seconds, _, fraction = epoch.partition(".")
    try:
        micros = int(fraction[:6].ljust(6, "0"))
        moment = EARLIEST + timedelta(seconds=int(seconds), microseconds=micros)
    except OverflowError as exc:
        raise RecordError(f"audit stamp time {epoch} is out of range") from exc
    if not EARLIEST <= moment < LATEST:
        raise RecordError(f"audit stamp time {epoch} is outside 1970..2200; check the host clock")
    return moment


# ---------------------------------------------------------------------------------- normalize

def normalize(frame: Frame) -> Row:
    """One audit event (all its records) → canonical columns plus flattened native fields."""
    records = _records(frame.raw)
    first = records[0]
    primary = next((r for r in records if r.type == "SYSCALL"), first)
    types = list(dict.fromkeys(r.type for r in records))
    native = _native(records, primary)
    syscall = _syscall_name(native) if primary.type == "SYSCALL" else None
    native.update(_derived(records, primary, types, syscall))
    klass = _classify(types, syscall, native)
    for name in CANONICAL.keys() & native.keys():  # a native name never shadows a column
        del native[name]
    row: Row = native
    stamp = f"{first.node or ''}:{first.stamp}"
    row.update(
        event_uid=event_uid(stamp, frame.raw),
        correlation_id=stamp,
        time=_stamp_time(first.stamp),
        host=first.node or None,
        session_id=_known_id(native.get("ses")),
        action=_action(types, primary.type, syscall, native),
        **klass,
        **_actor(native, klass["class_uid"]),
        **_origin(native),
        **_outcome(native),
        **_target(native, records, klass["class_uid"]),
    )
    return row


def event_uid(stamp: str, raw: bytes) -> str:
    """The identity of what one frame holds of an event: `<stamp>/<digest of its records>`.

    `stamp` (`<node>:<epoch>.<millis>:<serial>`) names the event, but a reading of it may be
    partial (a live log cut mid-event, an event split by rotation), and the lake skips rows
    whose `event_uid` it holds already: with the stamp alone, whichever piece came first would
    hide every later, fuller one. The digest, the first `UID_DIGEST_CHARS` hex digits of the
    SHA-256 of `raw` (so the start of the row's `event_hash`), keeps different pieces apart
    and lets a re-read of the same bytes dedupe; the pieces of one event share `stamp` as their
    `correlation_id`.

    >>> event_uid("web1:1700000000.123:42", b"type=EOE msg=audit(1700000000.123:42):")
    'web1:1700000000.123:42/8c91e4a2ccbdb73c'
    """
    return f"{stamp}/{hashlib.sha256(raw).hexdigest()[:UID_DIGEST_CHARS]}"


def _native(records: list[_Record], primary: _Record) -> dict[str, str]:
    """Plain keys of the primary record, then of the others where absent or only a placeholder.

    EXECVE arguments are left out: plain `a0`..`a3` stay the SYSCALL registers, and the
    arguments go to `EXECVE.aN` and `cmdline`.
    """
    ordered = [primary, *(r for r in records if r is not primary)]
    out: dict[str, str] = {}
    for record in reversed(ordered):  # earlier records update last, so the first one wins
        if record.type == "EXECVE":
            out.update((k, v) for k, v in record.fields.items() if not _EXECVE_ARG_FIELD.fullmatch(k))
        else:
            out.update(record.fields)
    for key in [k for k, v in out.items() if v in NULLISH]:
        better = (r.fields.get(key) for r in ordered if r.type != "EXECVE")
        out[key] = next((v for v in better if v is not None and v not in NULLISH), out[key])
    return out


def _derived(records: list[_Record], primary: _Record, types: list[str], syscall: str | None
             ) -> dict[str, str]:
    """Native columns computed over the whole event: type, record types, argv, PATH names."""
    out = {"type": primary.type, "record_types": _json(types)}
    if syscall:
        out["SYSCALL"] = syscall
    args = _execve_args(records)
    if args:
        out["cmdline"] = " ".join(args)
        out.update({f"EXECVE.a{i}": arg for i, arg in enumerate(args[:MAX_ARG_COLUMNS])})
    paths = [r.fields for r in records if r.type == "PATH"]
    for key in ("name", "nametype"):
        values = [p[key] for p in paths if key in p]
        if values:
            out[f"PATH.{key}"] = _json(values)
    return out


def _execve_args(records: list[_Record]) -> list[str]:
    """argv from the EXECVE records, joining long arguments split as `aN[0]`, `aN[1]`, …."""
    pieces: dict[int, dict[int, str]] = {}
    for record in records:
        if record.type != "EXECVE":
            continue
        for key, value in record.fields.items():
            match = _EXECVE_ARG.fullmatch(key)
            if match:
                part = -1 if match[2] is None else int(match[2])
                pieces.setdefault(int(match[1]), {})[part] = value
    args = []
    for index in sorted(pieces):
        parts = pieces[index]
        whole = parts.get(-1)
        args.append(whole if whole is not None else _unhex("".join(parts[i] for i in sorted(parts)), _same))
    return args


def _json(values: list[str]) -> str:
    return orjson.dumps(values).decode("utf-8")


def _syscall_name(native: Mapping[str, str]) -> str | None:
    """The enriched `SYSCALL` name, else the x86_64 table's (numbers differ per arch)."""
    named = native.get("SYSCALL")
    if named:
        return named
    if native.get("arch") == X86_64:
        return SYSCALLS_X86_64.get(native.get("syscall", ""))
    return None


def _semantic_type(types: list[str]) -> str | None:
    """The record type that says what the event is (CONFIG_CHANGE rides on a SYSCALL)."""
    return next((t for t in types if t in CLASSES or t.startswith("DAEMON_")), None)


def _action(types: list[str], primary: str, syscall: str | None, native: Mapping[str, str]) -> str:
    semantic = _semantic_type(types)
    if semantic is not None:
        return semantic
    if primary == "SYSCALL":
        return f"SYSCALL:{syscall or native.get('syscall') or '?'}"
    return primary


def _classify(types: list[str], syscall: str | None, native: Mapping[str, str]) -> Row:
    semantic = _semantic_type(types)
    if semantic is not None:
        klass = CLASSES.get(semantic, LOG_ADMIN_OTHER)
    elif syscall in EXEC_SYSCALLS or "EXECVE" in types:
        klass = PROCESS_LAUNCH
    elif "PATH" in types and native.get("key", "") not in NULLISH:
        klass = FILE_WATCH
    else:
        return {"class_uid": 0, "activity_id": 0, "category": None}
    return {"class_uid": klass[0], "activity_id": klass[1], "category": klass[2]}


def _known_id(value: str | None) -> str | None:
    """A uid, auid or session id, or None for auditd's 'unset' (4294967295) and placeholders."""
    return None if value is None or value in UNSET_IDS or value in NULLISH else value


def _account(native: Mapping[str, str]) -> str | None:
    """The account name of `acct`, or None for a placeholder."""
    acct = _known_name(native.get("acct"))
    return None if acct in UNNAMED_ACCOUNTS else acct


def _known_name(value: str | None) -> str | None:
    return None if value is None or value in NULLISH else value


def _actor(native: Mapping[str, str], class_uid: int) -> Row:
    """Who: the account the process runs as (`uid`), and the person behind it (`auid`).

    The login uid is set once at login and kept through su, sudo and setuid programs, so under
    `sudo` the actor is root and `actor_original` the person who logged in. Records without a
    `uid` (a CONFIG_CHANGE of its own) have only the login uid to name the actor.
    """
    auid = _known_id(native.get("auid"))
    person = (_known_name(native.get("AUID")) or auid) if auid else None
    if class_uid == AUTHENTICATION:
        return {**_authenticating(native, auid), "actor_original": person}
    uid = _known_id(native.get("uid"))
    name = _known_name(native.get("UID")) if uid else _known_name(native.get("AUID")) if auid else None
    kind = "user" if auid else "system" if uid == "0" else "service" if uid else "unknown"
    return {"actor_id": uid or auid, "actor_name": name, "actor_type": kind, "actor_original": person}


def _authenticating(native: Mapping[str, str], auid: str | None) -> Row:
    """The actor of an authentication record, never the daemon (sshd, login, cron) writing it.

    Before login (no auid) the actor is the account logging in, `acct` or `id`. Within a login
    session it is the session's user: `su -` run by alice writes `auid=1000 acct="root"`, so
    `acct` is then the account authenticated as (the target), not the actor's name.
    """
    actor_id: str | None
    name: str | None
    if auid:
        actor_id, name = auid, _known_name(native.get("AUID"))
    else:
        actor_id = _known_id(native.get("id"))
        name = _account(native) or _known_name(native.get("ID"))
    return {"actor_id": actor_id, "actor_name": name, "actor_type": "user" if actor_id or name else "unknown"}


def _origin(native: Mapping[str, str]) -> Row:
    """`addr` of login and auth messages; `hostname` only when it names a remote peer."""
    addr = _known_name(native.get("addr"))
    if addr is None:
        return {}
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return {"src_host": addr}
    hostname = _known_name(native.get("hostname"))
    return {"src_ip": addr, "src_host": hostname if hostname != addr else None}


def _outcome(native: Mapping[str, str]) -> Row:
    """`success=yes/no` on syscalls, `res=success/failed` (or 1/0) on messages."""
    verdict = native.get("success") or native.get("res") or ""
    outcome = OUTCOMES.get(verdict.lower(), "unknown")
    exit_code = native.get("exit")
    if outcome == "failure" and exit_code and exit_code.startswith("-"):
        return {"outcome": outcome, "outcome_reason": ERRNO_NAMES.get(exit_code, f"exit={exit_code}")}
    return {"outcome": outcome}


def _target(native: Mapping[str, str], records: list[_Record], class_uid: int) -> Row:
    """The account acted on (`acct`, or only its `id`), else the file the syscall touched (not
    its parent dir)."""
    if class_uid in (ACCOUNT_CHANGE, GROUP_CHANGE):
        return _account_target(native, class_uid)
    acct = _account(native)
    if acct is not None:
        return {"target_type": "user", "target_name": acct}
    paths = [r.fields for r in records if r.type == "PATH" and _known_name(r.fields.get("name"))]
    objects = [p for p in paths if p.get("nametype") != "PARENT"] or paths
    if objects:
        return {"target_type": "file", "target_name": objects[0]["name"]}
    return {}


def _account_target(native: Mapping[str, str], class_uid: int) -> Row:
    """The user or group that useradd, usermod, groupadd or passwd changed.

    shadow-utils names it by `acct=` or, when it has only the number, by `id=` (`op=adding user
    id=1001`, `op=add-group id=1002`, `op=change password id=1001`); on these records `id` is
    the account changed, never the one changing it.
    """
    acct = _account(native)
    account_id = _known_id(native.get("id"))
    if acct is None and account_id is None:
        return {}
    kind = "group" if class_uid == GROUP_CHANGE else "user"
    return {"target_type": kind, "target_id": account_id, "target_name": acct}


SPEC = SourceSpec(
    name=NAME,
    reads='raw audit.log (records of one event joined by their serial)',
    raw_format=RAW_FORMAT,
    frames=frames,
    normalize=normalize,
    sniff=sniff,
    aliases=("auditd", "linux"),
    parser_version="2",  # 2: `event_uid` is the stamp plus a digest of the records read
)
