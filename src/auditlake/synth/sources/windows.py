"""Windows event log background: logons, process launches, connections and file writes.

Each Windows laptop logs its owner's working day (logons and unlocks, applications started,
network connections, downloads) and the machine's own services around the clock; the domain
controllers log Kerberos tickets and network logons for everyone. Records are `evtx_dump`
JSON objects (`{"Event": {"System": …, "EventData": …}}`) from the Security and Sysmon channels;
`EventRecordID` is assigned when a record is written, increasing per (Computer, Channel) across
days. `event()` and the EventData builders are shared with the scenarios.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from auditlake.synth.activity import (
    Ctx,
    Job,
    Plan,
    burst_size,
    job_ticks,
    session_starts,
    spread,
)
from auditlake.synth.clock import US
from auditlake.synth.org import AD_DOMAIN, Host, Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen, frozen
from auditlake.synth.sources.windows_catalog import (
    DESTINATIONS,
    DOWNLOADS,
    SPECS,
    SYSTEM_PROCS,
    USER_PROCS,
    Proc,
)

NAME = "windows.eventlog"
SESSIONS_PER_PEAK_HOUR = 0.3
XMLNS = frozen({"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"})
SYSTEM_SID = frozen({"#attributes": {"UserID": "S-1-5-18"}})
NULL_GUID = "00000000-0000-0000-0000-000000000000"


def event(ctx: Ctx, ts: int, host: Host, spec_key: str, data: Mapping[str, Any], *, user_data: bool = False) -> dict[str, Any]:
    """One evtx_dump record; `EventRecordID` stays None until the encoder numbers it."""
    spec = SPECS[spec_key]
    system = {
        "Provider": spec.provider_json,
        "EventID": spec.event_id,
        "Version": spec.version,
        "Level": spec.level,
        "Task": spec.task,
        "Opcode": 0,
        "Keywords": spec.keywords,
        "TimeCreated": {"#attributes": {"SystemTime": ctx.stamps.iso(ts, 6)}},
        "EventRecordID": None,
        "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 4 if spec.channel == "Security" else 3308, "ThreadID": 4000 + (ts & 0x3FF)}},
        "Channel": spec.channel,
        "Computer": host.fqdn,
        "Security": None if spec.channel == "Security" else SYSTEM_SID,
    }
    body = {"UserData": data} if user_data else {"EventData": data}
    return {"Event": {"#attributes": XMLNS, "System": system, **body}}


def guid(ctx: Ctx) -> str:
    h = ctx.ids.hex(16).upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def account(person: Person | None) -> tuple[str, str, str]:
    """(SID, user name, domain) of a person, or of the machine's SYSTEM account."""
    if person is None:
        return "S-1-5-18", "SYSTEM", "NT AUTHORITY"
    return person.windows_sid, person.sam, AD_DOMAIN


def process_create(ctx: Ctx, ts: int, host: Host, proc: Proc, person: Person | None) -> list[tuple[int, dict[str, Any]]]:
    """A launch as Sysmon 1 and Security 4688 describe it (same instant, same process id)."""
    rng = ctx.rng
    sid, user, domain = account(person)
    pid, ppid = rng.randrange(1000, 30000, 4), rng.randrange(600, 20000, 4)
    utc = ctx.stamps.space(ts, 3)
    sysmon = {
        "RuleName": "-", "UtcTime": utc, "ProcessGuid": guid(ctx), "ProcessId": pid, "Image": proc.image,
        "FileVersion": "10.0.26100.1", "Description": proc.description, "Product": proc.product, "Company": proc.company,
        "OriginalFileName": proc.original_name, "CommandLine": proc.command_line,
        "CurrentDirectory": "C:\\Windows\\system32\\" if person is None else f"C:\\Users\\{user}\\",
        "User": f"{domain}\\{user}", "LogonGuid": guid(ctx), "LogonId": "0x3e7" if person is None else f"0x{(person.index * 7919) & 0xFFFFFF:x}",
        "TerminalSessionId": 0 if person is None else 1, "IntegrityLevel": proc.integrity, "Hashes": proc.hashes,
        "ParentProcessGuid": guid(ctx), "ParentProcessId": ppid, "ParentImage": proc.parent_image,
        "ParentCommandLine": proc.parent_command_line, "ParentUser": f"{domain}\\{user}",
    }
    security = {
        "SubjectUserSid": sid, "SubjectUserName": user, "SubjectDomainName": domain, "SubjectLogonId": sysmon["LogonId"],
        "NewProcessId": f"0x{pid:x}", "NewProcessName": proc.image, "TokenElevationType": "%%1936" if person is None else "%%1938",
        "ProcessId": f"0x{ppid:x}", "CommandLine": proc.command_line, "TargetUserSid": "S-1-0-0", "TargetUserName": "-",
        "TargetDomainName": "-", "TargetLogonId": "0x0", "ParentProcessName": proc.parent_image,
        "MandatoryLabel": "S-1-16-16384" if person is None else "S-1-16-8192",
    }
    return [(ts, event(ctx, ts, host, "sysmon1", sysmon)), (ts + 1, event(ctx, ts + 1, host, "4688", security))]


def logon(ctx: Ctx, ts: int, host: Host, person: Person | None, logon_type: int, *, ip: str = "-") -> dict[str, Any]:
    """Security 4624 for `person` (SYSTEM when None) with the given logon type."""
    sid, user, domain = account(person)
    return event(ctx, ts, host, "4624", {
        "SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{host.name}$", "SubjectDomainName": AD_DOMAIN, "SubjectLogonId": "0x3e7",
        "TargetUserSid": sid, "TargetUserName": user, "TargetDomainName": domain, "TargetLogonId": f"0x{ctx.rng.getrandbits(24):x}",
        "LogonType": logon_type, "LogonProcessName": "User32 " if logon_type in (2, 7, 11) else "Kerberos",
        "AuthenticationPackageName": "Negotiate", "WorkstationName": host.name, "LogonGuid": NULL_GUID,
        "TransmittedServices": "-", "LmPackageName": "-", "KeyLength": 0, "ProcessId": "0x2c4",
        "ProcessName": "C:\\Windows\\System32\\svchost.exe" if logon_type != 3 else "-", "IpAddress": ip, "IpPort": "0" if ip == "-" else "50123",
        "ImpersonationLevel": "%%1833", "RestrictedAdminMode": "-", "TargetOutboundUserName": "-", "TargetOutboundDomainName": "-",
        "VirtualAccount": "%%1843", "TargetLinkedLogonId": "0x0", "ElevatedToken": "%%1842" if person is None or person.admin else "%%1843",
    })


def special_privileges(ctx: Ctx, ts: int, host: Host, person: Person | None) -> dict[str, Any]:
    sid, user, domain = account(person)
    privileges = "SeAssignPrimaryTokenPrivilege\n\t\t\tSeTcbPrivilege\n\t\t\tSeSecurityPrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege"
    return event(ctx, ts, host, "4672", {"SubjectUserSid": sid, "SubjectUserName": user, "SubjectDomainName": domain,
                                         "SubjectLogonId": "0x3e7", "PrivilegeList": privileges})


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    org = ctx.org
    laptops = ctx.memo("laptops", lambda: {h.name: h for h in org.windows_hosts if h.owner})
    for ts, person in session_starts(ctx, ctx.cohorts_of("windows"), hour_us, SESSIONS_PER_PEAK_HOUR):
        host = laptops[person.laptop]
        if ctx.rng.random() < 0.2:
            yield ctx.plan(ts, _unlock, (host, person))
        for t in spread(ctx, ts + US, burst_size(ctx.rng, 5), 90.0):
            if ctx.rng.random() < SHARE_VISITS:
                yield from _file_share(ctx, t, host, person)
            else:
                yield ctx.plan(t, _user_action, (host, person))
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(org)), hour_us)


def _unlock(ctx: Ctx, ts: int, arg: tuple[Host, Person]) -> list[dict[str, Any]]:
    host, person = arg
    out = [logon(ctx, ts, host, person, 7 if ctx.rng.random() < 0.7 else 2)]
    if person.admin:
        out.append(special_privileges(ctx, ts, host, person))
    return out


def _user_action(ctx: Ctx, ts: int, arg: tuple[Host, Person]) -> list[dict[str, Any]]:
    host, person = arg
    return USER_ACTIONS(ctx.rng)(ctx, ts, host, person)


def _launch(ctx: Ctx, ts: int, host: Host, person: Person | None) -> list[dict[str, Any]]:
    proc = (USER_PROC if person else SYSTEM_PROC)(ctx.rng)
    return [rec for _, rec in process_create(ctx, ts, host, proc, person)]


def _connect(ctx: Ctx, ts: int, host: Host, person: Person | None) -> list[dict[str, Any]]:
    ip, name, port, port_name = DESTINATIONS[ctx.rng.randrange(len(DESTINATIONS))]
    _, user, domain = account(person)
    image = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" if person else "C:\\Windows\\System32\\svchost.exe"
    return [event(ctx, ts, host, "sysmon3", {
        "RuleName": "-", "UtcTime": ctx.stamps.space(ts, 3), "ProcessGuid": guid(ctx), "ProcessId": 4000 + (ts & 0xFFF),
        "Image": image, "User": f"{domain}\\{user}", "Protocol": "tcp", "Initiated": True, "SourceIsIpv6": False,
        "SourceIp": host.ip, "SourceHostname": host.fqdn, "SourcePort": 49152 + (ts & 0x3FFF), "SourcePortName": "-",
        "DestinationIsIpv6": False, "DestinationIp": ip, "DestinationHostname": name, "DestinationPort": port,
        "DestinationPortName": port_name,
    })]


def _file(ctx: Ctx, ts: int, host: Host, person: Person | None) -> list[dict[str, Any]]:
    _, user, domain = account(person)
    name = DOWNLOADS[ctx.rng.randrange(len(DOWNLOADS))]
    path = f"C:\\Users\\{user}\\Downloads\\{name}" if person else f"C:\\Windows\\Temp\\{ctx.ids.hex(4)}.tmp"
    utc = ctx.stamps.space(ts, 3)
    return [event(ctx, ts, host, "sysmon11", {
        "RuleName": "-", "UtcTime": utc, "ProcessGuid": guid(ctx), "ProcessId": 4000 + (ts & 0xFFF),
        "Image": "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" if person else "C:\\Windows\\System32\\svchost.exe",
        "TargetFilename": path, "CreationUtcTime": utc, "User": f"{domain}\\{user}",
    })]


def _file_share(ctx: Ctx, ts: int, host: Host, person: Person) -> Iterator[Plan]:
    """A network logon on the file server, and its logoff a little later (planned apart, so
    both land at their own time in the file server's log)."""
    server = ctx.memo("FS01", lambda: next(h for h in ctx.org.windows_hosts if h.name == "FS01"))
    logon_id = f"0x{ctx.rng.getrandbits(24):x}"
    yield ctx.plan(ts, _share_logon, (server, person, host.ip, logon_id))
    yield ctx.plan(ts + int(ctx.rng.uniform(1, 30) * US), _share_logoff, (server, person, logon_id))


def _share_logon(ctx: Ctx, ts: int, arg: tuple[Host, Person, str, str]) -> dict[str, Any]:
    server, person, ip, logon_id = arg
    record = logon(ctx, ts, server, person, 3, ip=ip)
    record["Event"]["EventData"]["TargetLogonId"] = logon_id
    return record


def _share_logoff(ctx: Ctx, ts: int, arg: tuple[Host, Person, str]) -> dict[str, Any]:
    server, person, logon_id = arg
    sid, user, domain = account(person)
    return event(ctx, ts, server, "4634", {"TargetUserSid": sid, "TargetUserName": user, "TargetDomainName": domain,
                                           "TargetLogonId": logon_id, "LogonType": 3})


SHARE_VISITS = 0.09
"""Share of a person's actions that open a file on the file server."""
USER_ACTIONS: Picker[Callable[[Ctx, int, Host, Person | None], list[dict[str, Any]]]] = Picker(
    [(40, _launch), (30, _connect), (15, _file)]
)
USER_PROC = Picker(USER_PROCS)
SYSTEM_PROC = Picker(SYSTEM_PROCS)


def _system_tick(ctx: Ctx, ts: int, host: Host) -> list[dict[str, Any]]:
    """What the machine does by itself: services, updates, scheduled tasks, Defender."""
    roll = ctx.rng.random()
    if roll < 0.5:
        return _launch(ctx, ts, host, None)
    if roll < 0.75:
        return _connect(ctx, ts, host, None)
    if roll < 0.9:
        return [logon(ctx, ts, host, None, 5), special_privileges(ctx, ts, host, None)]
    if roll < 0.97:
        return _file(ctx, ts, host, None)
    return [_benign_lsass_access(ctx, ts, host)]


def _benign_lsass_access(ctx: Ctx, ts: int, host: Host) -> dict[str, Any]:
    """Defender reading LSASS with limited rights: normal, and what detections must not flag."""
    image = "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25010.11-0\\MsMpEng.exe"
    return event(ctx, ts, host, "sysmon10", {
        "RuleName": "-", "UtcTime": ctx.stamps.space(ts, 3), "SourceProcessGUID": guid(ctx), "SourceProcessId": 3472,
        "SourceThreadId": 5120, "SourceImage": image, "TargetProcessGUID": guid(ctx), "TargetProcessId": 788,
        "TargetImage": "C:\\Windows\\system32\\lsass.exe", "GrantedAccess": "0x1000",
        "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9f4d4|C:\\Windows\\System32\\KERNELBASE.dll+2a1f3|UNKNOWN(00007FFB1C2B3A10)",
        "SourceUser": "NT AUTHORITY\\SYSTEM", "TargetUser": "NT AUTHORITY\\SYSTEM",
    })


def _kerberos(ctx: Ctx, ts: int, host: Host) -> list[dict[str, Any]]:
    """A domain controller issuing a service ticket to someone's laptop."""
    person = ctx.org.people[ctx.rng.randrange(len(ctx.org.people))]
    return [event(ctx, ts, host, "4769", {
        "TargetUserName": f"{person.sam}@{AD_DOMAIN}.KESTREL.EXAMPLE", "TargetDomainName": f"{AD_DOMAIN}.KESTREL.EXAMPLE",
        "ServiceName": "FS01$", "ServiceSid": "S-1-5-21-3623811015-3361044348-30300820-1001", "TicketOptions": "0x40810000",
        "TicketEncryptionType": "0x12", "IpAddress": f"::ffff:10.40.{person.index % 16}.{2 + person.index % 250}",
        "IpPort": str(49152 + (ts & 0x3FFF)), "Status": "0x0", "LogonGuid": guid(ctx), "TransmittedServices": "-",
    })]


def _jobs(org: Org) -> list[Job]:
    jobs = [Job(h, 2400 if h.kind == "workstation" else 600, _system_tick, poisson=True) for h in org.windows_hosts]
    jobs += [Job(h, 45, _kerberos, poisson=True) for h in org.windows_hosts if h.kind == "dc"]
    return jobs


def encoder(org: Org) -> Callable[[Any], bytes]:
    """JSON Lines with `EventRecordID` numbered per (Computer, Channel), continuing across days.

    Each log starts at a seed-derived number, as a real host's log would after months of use.
    """
    counters: dict[tuple[str, str], int] = {}
    seed = org.seed

    def encode(record: dict[str, Any]) -> bytes:
        system = record["Event"]["System"]
        key = (system["Computer"], system["Channel"])
        value = counters.get(key)
        if value is None:
            value = random.Random(f"evtx:{seed}:{key[0]}:{key[1]}").randrange(10_000, 2_000_000)
        counters[key] = value + 1
        system["EventRecordID"] = value
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)

    return encode


def native_id(record: Any) -> str:
    """`Computer|Channel|EventRecordID` of a written record."""
    system = record["Event"]["System"]
    return f"{system['Computer']}|{system['Channel']}|{system['EventRecordID']}"


GEN = SourceGen(NAME, "jsonl", plan_hour, encoder, native_id)
