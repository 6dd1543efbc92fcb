"""Where a Sigma logsource lives in the lake, and which column each Sigma field name reads.

A rule names a kind of log (`product`, `category`, `service`); the lake holds events under a
`source` partition (`windows.eventlog`, `aws.cloudtrail`, ...). `route()` gives every way one
logsource is found in the lake as an `Alternative`: a source, column conditions that pick the
right events inside it, and field renames. The compiler converts a rule once with Sigma field
names, then per alternative renames fields (`effective_field_map`), ANDs `source == alt.source`
and the conditions, and ORs the alternatives. An empty result means the logsource has no source
in the lake; `unsupported_reason()` says why for every logsource the SigmaHQ rules use.

Windows routing is derived from SigmaHQ's `tests/thor.yml` (category → channel + EventID and the
field renames of the Security 4688 view) and vendored as `windows_logsources.toml`, so nothing
outside the package is read. Categories that thor.yml does not list do not route: no Event Log
channel carries them (`file_access`, `file_rename` are ETW-only), and guessing would only give
rules that never fire.

>>> [alt.label for alt in route("windows", "process_creation", None)]
['process_creation via sysmon: EventID 1', 'process_creation via security: EventID 4688']
>>> route("windows", "process_creation", None)[1].field_map["Image"]
'NewProcessName'
>>> route("azure", None, "signinlogs")
()
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from auditlake.sources.auditd import HEX_FIELDS
from auditlake.tables import unique_table

Value = str | int
Conditions = tuple[tuple[str, tuple[Value, ...]], ...]
Logsource = tuple[str | None, str | None, str | None]
"""(product, category, service), lower-case, None where the rule leaves it out."""

WINDOWS = "windows.eventlog"
WINDOWS_TABLE = "windows_logsources.toml"
"""Vendored projection of thor.yml's Windows entries; tests re-derive it and compare."""


@dataclass(frozen=True, slots=True)
class Alternative:
    """One way a Sigma logsource is found in the lake.

    `conditions` name lake columns (not Sigma fields) and the values they must hold exactly as
    the lake stores them (Windows `EventID` is Int64, so its values are ints): ANDed across
    columns, ORed within one. `field_map` holds only this alternative's renames; the
    source-wide ones (`field_map_for`) apply under it, see `effective_field_map`.
    """

    source: str
    conditions: Conditions
    field_map: Mapping[str, str] = field(hash=False)
    label: str


def _alternative(source: str, label: str, conditions: Conditions = (),
                 field_map: Mapping[str, str] | None = None) -> Alternative:
    return Alternative(source, conditions, MappingProxyType(dict(field_map or {})), label)


# ------------------------------------------------------------------------- field maps

AUDITD = "linux.auditd"
AUDITD_ARG_COLUMNS = 32
"""`EXECVE.a0`..`EXECVE.a31` are columns (auditd.MAX_ARG_COLUMNS); later arguments only in `cmdline`."""

SOURCE_FIELD_MAPS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "aws.cloudtrail": MappingProxyType({
        # CloudTrail has no `status`; the one rule that tests `status: success` means the call
        # succeeded, which the lake says in `outcome` (no errorCode → success).
        "status": "outcome",
    }),
    "gcp.audit": MappingProxyType({
        # One rule writes Elastic's `data.` wrapper around the LogEntry; `resource` and
        # `logName` belong to the LogEntry, not to protoPayload, whatever the rule's path says.
        "data.protoPayload.serviceName": "protoPayload.serviceName",
        "data.protoPayload.methodName": "protoPayload.methodName",
        "data.protoPayload.resource.type": "resource.type",
        "data.protoPayload.logName": "logName",
        "data.protoPayload.authorizationInfo.permission": "protoPayload.authorizationInfo.permission",
        "data.protoPayload.authorizationInfo.granted": "protoPayload.authorizationInfo.granted",
    }),
    "k8s.audit": MappingProxyType({
        "apiGroup": "objectRef.apiGroup",
        # Sigma's Kubernetes rules name a pod's volumes and capabilities as flat fields; in an
        # audit event they lie in the pod spec the request carries (regular containers only).
        "hostPath": "requestObject.spec.volumes.hostPath",
        "capabilities": "requestObject.spec.containers.securityContext.capabilities",
    }),
    AUDITD: MappingProxyType({
        # A lake row is a whole event (SYSCALL, EXECVE, CWD, PATH, ... records); Sigma's
        # `type` and `name` test one record, so they read the per-record lists.
        "type": "record_types",
        "name": "PATH.name",
        "nametype": "PATH.nametype",
    }),
    "okta.system": MappingProxyType({}),
    "github.audit": MappingProxyType({}),
    "gateway.teleport": MappingProxyType({}),
    WINDOWS: MappingProxyType({}),
})
"""Lake source → Sigma field → column, for names that differ; unmapped names that are not columns
are left to the compiler's JSON-path lookup in `raw`."""

JSON_LIST_COLUMNS: Mapping[str, frozenset[str]] = MappingProxyType({
    AUDITD: frozenset({"record_types", "PATH.name", "PATH.nametype"}),
    "k8s.audit": frozenset({"sourceIPs", "user.groups"}),
})
"""String columns that always hold a JSON array of strings (`["SYSCALL","EXECVE"]`): a Sigma
leaf on them matches any member, and they are decoded as lists outright
(`col.str.json_decode(pl.List(pl.String))`), a fast path; a JSON source's other columns may
hold an array too, and match by member where they do (`lower.BindOptions.native_arrays`)."""


JSON_ARRAYS: Mapping[str, frozenset[str]] = MappingProxyType({
    "okta.system": frozenset({"target"}),
    "gcp.audit": frozenset({"protoPayload.authorizationInfo"}),
    "k8s.audit": frozenset({"requestObject.spec.volumes", "requestObject.spec.containers"}),
})
"""Paths of a source's raw record known to hold an array of objects. Any path crossing an array
matches by any member (`json_members`), these or others; for these the engine reads the array's
own column when the lake has one (a fraction of the record's text), and a correlation grouping
by a member field takes the first member (Okta's main target)."""


KEYWORD_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # auditd writes a value holding spaces or quotes hex-encoded (`cmd=617564697463746C202D44`)
    # and the lake decodes it into its column: `raw` alone would never show `auditctl -D`.
    # The columns are those of every field auditd may hex-encode, `cmdline` (the EXECVE
    # arguments, decoded and joined) and the PATH records' names.
    AUDITD: ("raw", *HEX_FIELDS, "cmdline", "PATH.name"),
})
"""Where keywords are searched in a source whose `raw` does not hold the event's text as its
fields read; elsewhere keywords search `raw` (a JSON record, its escapes decoded, see
`lower.keyword`)."""


def keyword_columns(source: str) -> tuple[str, ...] | None:
    return KEYWORD_COLUMNS.get(source)


def json_arrays(source: str) -> frozenset[str]:
    return JSON_ARRAYS.get(source, frozenset())


JSON_OBJECTS: Mapping[str, frozenset[str]] = MappingProxyType({
    "aws.cloudtrail": frozenset({"requestParameters", "responseElements", "additionalEventData", "serviceEventDetails"}),
    "k8s.audit": frozenset({"requestObject", "responseObject"}),
    "gcp.audit": frozenset({
        "protoPayload.request", "protoPayload.response", "protoPayload.serviceData", "protoPayload.metadata",
    }),
})
"""Columns holding an object of a source's raw record as its compact JSON text (see
`sources.cloudtrail_batch.OBJECT_PATHS`, `sources.fields.text`): a rule's
`responseElements.ConsoleLogin` is read from that column by path, not from the whole record."""


def json_objects(source: str) -> frozenset[str]:
    return JSON_OBJECTS.get(source, frozenset())


def field_map_for(source: str) -> Mapping[str, str]:
    """Source-wide Sigma field → lake column renames (empty for an unknown source)."""
    return SOURCE_FIELD_MAPS.get(source, MappingProxyType({}))


def effective_field_map(alternative: Alternative) -> Mapping[str, str]:
    """The renames that apply under `alternative`: its own over its source's."""
    return MappingProxyType({**field_map_for(alternative.source), **alternative.field_map})


def json_list_columns(source: str) -> frozenset[str]:
    """Columns of `source` whose text is a JSON array, matched by any member."""
    return JSON_LIST_COLUMNS.get(source, frozenset())


# ------------------------------------------------------------------- fixed routes

_AUDITD_ARGV = _alternative(
    AUDITD, "auditd event, a0..a31 as EXECVE arguments",
    field_map={f"a{i}": f"EXECVE.a{i}" for i in range(AUDITD_ARG_COLUMNS)},
)
_AUDITD_REGISTERS = _alternative(AUDITD, "auditd event, a0..a3 as SYSCALL arguments")
"""Sigma's auditd rules use `a0`.. for the argv of an EXECVE record and for the syscall
arguments of a SYSCALL record; the lake keeps both (`EXECVE.aN`, `aN`) in one row, so a rule is
tried under both readings. Registers are hex numbers and pointers that practically never equal
the words an argv test looks for, so the OR adds matches only for a rule whose `aN` tests are
all negated (none in SigmaHQ)."""

_AUDITD_EXEC = _alternative(
    AUDITD, "process_creation via auditd execve events",
    conditions=(("class_uid", (1007,)), ("type", ("SYSCALL", "EXECVE"))),
    # USER_CMD (sudo) is also class 1007 but its `type` is USER_CMD; ParentImage and
    # ParentCommandLine have no auditd counterpart (only `ppid`) and stay unmapped.
    field_map={"Image": "exe", "CommandLine": "cmdline", "CurrentDirectory": "cwd", "User": "UID"},
)


def _whole(source: str, label: str) -> tuple[Alternative, ...]:
    return (_alternative(source, label),)


FIXED_ROUTES: Mapping[Logsource, tuple[Alternative, ...]] = MappingProxyType(unique_table([
    (("aws", None, "cloudtrail"), _whole("aws.cloudtrail", "CloudTrail events")),
    (("aws", None, None), _whole("aws.cloudtrail", "any AWS log: CloudTrail")),
    (("gcp", None, "gcp.audit"), _whole("gcp.audit", "GCP Cloud Audit Logs")),
    (("gcp", None, None), _whole("gcp.audit", "any GCP log: Cloud Audit Logs")),
    (("okta", None, "okta"), _whole("okta.system", "Okta System Log")),
    (("okta", None, None), _whole("okta.system", "any Okta log: System Log")),
    (("github", None, "audit"), _whole("github.audit", "GitHub audit log")),
    (("github", None, None), _whole("github.audit", "any GitHub log: audit log")),
    (("kubernetes", None, "audit"), _whole("k8s.audit", "Kubernetes API audit")),
    (("kubernetes", "application", "audit"), _whole("k8s.audit", "Kubernetes API audit")),
    (("kubernetes", None, None), _whole("k8s.audit", "any Kubernetes log: API audit")),
    # Sigma has no access-gateway product: gateway rules write `product: teleport`.
    (("teleport", None, "audit"), _whole("gateway.teleport", "Teleport audit events")),
    (("teleport", None, None), _whole("gateway.teleport", "any Teleport log: audit events")),
    (("linux", None, "auditd"), (_AUDITD_ARGV, _AUDITD_REGISTERS)),
    (("linux", None, None), (_alternative(AUDITD, "any Linux log: auditd", field_map=_AUDITD_ARGV.field_map),)),
    (("linux", "process_creation", None), (_AUDITD_EXEC,)),
    (("windows", None, None), _whole(WINDOWS, "any Windows event log")),
], what="logsource"))
"""Logsources routed by exact (product, category, service); product-only rows stand for "any
log of this product" (keyword rules) and route to every lake source of it."""


# ---------------------------------------------------------------- unsupported list

def _no_source(what: str) -> str:
    return f"no {what} source in the lake"


UNSUPPORTED_PRODUCTS: Mapping[str, str] = MappingProxyType({
    product: _no_source(what) for product, what in [
        ("azure", "Azure (activity, Entra ID sign-in/audit, PIM, risk detection)"),
        ("m365", "Microsoft 365"), ("macos", "macOS"), ("zeek", "Zeek"),
        ("bitbucket", "Bitbucket"), ("onelogin", "OneLogin"), ("cisco", "Cisco device"),
        ("fortigate", "FortiGate"), ("fortios", "FortiOS"), ("paloalto", "Palo Alto"),
        ("huawei", "Huawei router"), ("juniper", "Juniper router"), ("qualys", "Qualys"),
        ("opencanary", "OpenCanary"), ("rpc_firewall", "RPC Firewall"),
        ("django", "Django application"), ("jvm", "JVM application"),
        ("nodejs", "Node.js application"), ("python", "Python application"),
        ("ruby_on_rails", "Ruby on Rails application"), ("spring", "Spring application"),
        ("sql", "SQL database application"), ("velocity", "Velocity template"),
    ]
})
"""Products with no lake source at all: every logsource of theirs is unsupported."""

UNSUPPORTED: Mapping[Logsource, str] = MappingProxyType(unique_table([
    ((None, "webserver", None), _no_source("web server access log")),
    ((None, "proxy", None), _no_source("web proxy")),
    ((None, "dns", None), _no_source("DNS query log")),
    ((None, "firewall", None), _no_source("firewall")),
    ((None, "database", None), _no_source("database audit")),
    ((None, None, "apache"), _no_source("Apache error log")),
    ((None, None, "nginx"), _no_source("nginx log")),
    ((None, None, "netflow"), _no_source("NetFlow")),
    (("gcp", None, "google_workspace.admin"), _no_source("Google Workspace")),
    (("gcp", None, "google_workspace.login"), _no_source("Google Workspace")),
    (("linux", "file_event", None),
     "auditd watches do not say whether a file was created (only PATH nametype, per record)"),
    (("linux", "network_connection", None),
     "auditd connect() events keep the address hex-encoded in SOCKADDR saddr, not in columns"),
    *((("linux", None, service), _no_source(f"Linux {service}"))
      for service in ("sshd", "syslog", "auth", "cron", "vsftpd", "clamav", "guacamole")),
    (("linux", None, "sudo"),
     "no sudo log source (auditd USER_CMD records hold the command, not sudo's USER= target)"),
    (("windows", "file_access", None),
     "not in thor.yml: ETW (Microsoft-Windows-Kernel-File) events no Event Log channel carries"),
    (("windows", "file_rename", None),
     "not in thor.yml: ETW (Microsoft-Windows-Kernel-File) events no Event Log channel carries"),
], what="unsupported logsource"))
"""Logsources of SigmaHQ rules that deliberately do not route, with the reason."""


def unsupported_reason(product: str | None, category: str | None, service: str | None) -> str | None:
    """Why this logsource has no lake source, if it is a known gap; None otherwise."""
    key = _key(product, category, service)
    return UNSUPPORTED.get(key) or UNSUPPORTED_PRODUCTS.get(key[0] or "")


# ------------------------------------------------------------------------ routing

def route(product: str | None, category: str | None, service: str | None) -> tuple[Alternative, ...]:
    """Every way events of this logsource are found in the lake; empty when there is none.

    >>> [(a.source, a.conditions) for a in route("windows", None, "security")]
    [('windows.eventlog', (('Channel', ('Security',)),))]
    >>> [a.conditions for a in route(None, "antivirus", None)][0][1][1][:3]
    (1006, 1007, 1008)
    """
    key = _key(product, category, service)
    fixed = FIXED_ROUTES.get(key)
    if fixed is not None:
        return fixed
    if key[0] == "windows" or (key[0] is None and key[1] is not None):
        return _windows_route(*key)
    return _mapped_route(key)


BUILTIN_PRODUCTS = frozenset(key[0] for key in FIXED_ROUTES if key[0])
"""Products with built-in sources: their other logsources are not taken for mapped ones."""


def _mapped_route(key: Logsource) -> tuple[Alternative, ...]:
    """A logsource no built-in source claims, read as the name of a source a generic mapping
    writes (`auditlake.sources.generic`): `{product: myapp, service: audit}` is the lake
    source `myapp.audit`, `{product: myapp}` the source `myapp`. Not with a category (a
    mapping has no kinds of event to pick from), nor for a product with built-in sources or a
    logsource known to have no source (`unsupported_reason`), so SigmaHQ's rules for logs the
    lake does not hold still say so rather than wait for events under an invented name.

    >>> [a.source for a in route("myapp", None, "audit")], route("myapp", "authentication", None)
    (['myapp.audit'], ())
    """
    product, category, service = key
    if product is None or category is not None or product in BUILTIN_PRODUCTS:
        return ()
    if unsupported_reason(product, category, service):
        return ()
    name = f"{product}.{service}" if service else product
    if not MAPPED_NAME.fullmatch(name) or ".." in name:
        return ()
    return _whole(name, f"the source a mapping names {name}")


MAPPED_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
"""A generic mapping's source name (`generic.SAFE_NAME`, checked equal by a test)."""


def _key(product: str | None, category: str | None, service: str | None) -> Logsource:
    """Lower-cased (Sigma writes logsources in lower case; a capitalised one should still
    route), with '' the same as leaving a value out."""
    return (_norm(product), _norm(category), _norm(service))


def _norm(value: str | None) -> str | None:
    return value.lower() if value else None


# ------------------------------------------------------------------------ Windows

EXTRA_CHANNELS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    # Services SigmaHQ rules use that thor.yml does not list; channel names as the rules'
    # `definition` lines and pySigma's Windows channel table give them.
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
})
SERVICE_ALIASES: Mapping[str, str] = MappingProxyType({
    # The one rule using it says "change to servicebus-client once validators are up to date".
    "microsoft-servicebus-client": "servicebus-client",
})


@dataclass(frozen=True, slots=True)
class _Category:
    """One thor.yml category entry: the events of `category` that `service` logs."""

    category: str
    product: str | None  # None: the entry names no product (thor's `antivirus`)
    service: str
    conditions: Conditions
    field_map: Mapping[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class _WindowsTable:
    channels: Mapping[str, tuple[str, ...]]
    categories: tuple[_Category, ...]


def channels_for(service: str) -> tuple[str, ...]:
    """Event Log channels of a Windows Sigma service; empty when unknown."""
    service = SERVICE_ALIASES.get(service, service)
    return _windows_table().channels.get(service) or EXTRA_CHANNELS.get(service, ())


def _windows_route(product: str | None, category: str | None, service: str | None
                   ) -> tuple[Alternative, ...]:
    if category is None:
        channels = channels_for(service) if service and product == "windows" else ()
        if not channels:
            return ()
        label = f"service {service}: Channel {', '.join(channels)}"
        return (_alternative(WINDOWS, label, (("Channel", channels),)),)
    entries = [
        e for e in _windows_table().categories
        if e.category == category and (service is None or e.service == service)
        and (e.product == product or (e.product is None and product in (None, "windows")))
    ]
    return tuple(_category_alternatives(entries))


def _category_alternatives(entries: Iterable[_Category]) -> Iterable[Alternative]:
    """One alternative per (service, field map), merging entries that differ in one column.

    thor.yml lists registry_event as EventID 12, 13 and 14 in three entries; one alternative
    with `EventID in (12, 13, 14)` is the same OR, written once. Entries that differ in two
    columns stay apart: merging them would also admit the mixed combinations.
    """
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[dict[str, tuple[Value, ...]]]] = {}
    first: dict[tuple[str, tuple[tuple[str, str], ...]], _Category] = {}
    for entry in entries:
        key = (entry.service, tuple(sorted(entry.field_map.items())))
        first.setdefault(key, entry)
        _merge_into(groups.setdefault(key, []), dict(entry.conditions))
    for key, merged in groups.items():
        entry = first[key]
        channels = channels_for(entry.service)
        for conditions in merged:
            described = "; ".join(f"{c} {', '.join(map(str, v))}" for c, v in conditions.items())
            yield _alternative(
                WINDOWS, f"{entry.category} via {entry.service}: {described}",
                (("Channel", channels), *conditions.items()), entry.field_map,
            )


def _merge_into(merged: list[dict[str, tuple[Value, ...]]], new: dict[str, tuple[Value, ...]]) -> None:
    """Add `new` to the first of `merged` it differs from in at most one column, else append it."""
    for known in merged:
        if known.keys() != new.keys():
            continue
        differing = [c for c in known if set(known[c]) != set(new[c])]
        if len(differing) <= 1:
            for column in differing:
                known[column] = (*known[column], *(v for v in new[column] if v not in known[column]))
            return
    merged.append(new)


@functools.cache
def _windows_table() -> _WindowsTable:
    """The vendored thor.yml projection, read on first use (the file ships in the package and
    never changes while running, so reading it once is reading a constant)."""
    data = tomllib.loads(Path(__file__).with_name(WINDOWS_TABLE).read_text(encoding="utf-8"))
    channels = {service: tuple(names) for service, names in data["channels"].items()}
    categories = tuple(_category(row) for row in data["categories"])
    missing = sorted({c.service for c in categories} - channels.keys())
    if missing:
        raise ValueError(f"{WINDOWS_TABLE}: services without channels: {', '.join(missing)}")
    return _WindowsTable(MappingProxyType(channels), categories)


def _category(row: Mapping[str, Any]) -> _Category:
    return _Category(
        category=row["category"],
        product=row.get("product"),
        service=row["service"],
        conditions=tuple((column, tuple(values)) for column, values in row["conditions"].items()),
        field_map=MappingProxyType(dict(row["fieldmappings"])),
    )
