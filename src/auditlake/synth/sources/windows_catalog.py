"""What Windows hosts log and run: event definitions and the process catalogue (data only).

`SPECS` holds the `System` block constants of each event (provider, task, keywords) as the
Security auditing and Sysmon providers write them. `USER_PROCS` and `SYSTEM_PROCS` are the
processes people and the machine start, with parents, command lines and PE metadata, so that
Sysmon 1 and Security 4688 describe the same launches realistically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

SECURITY = {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing", "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}}
SYSMON = {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "5770385F-C22A-43E0-BF4C-06F5698FFBD9"}}
EVENTLOG = {"#attributes": {"Name": "Microsoft-Windows-Eventlog", "Guid": "FC65DDD8-D6EF-4962-83D5-6E5CFE9CE148"}}
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
AUDIT_SUCCESS = "0x8020000000000000"
AUDIT_FAILURE = "0x8010000000000000"


@dataclass(frozen=True, slots=True)
class Spec:
    """The constant part of an event's `System` block."""

    channel: str
    provider: dict[str, Any]
    event_id: int
    version: int
    task: int
    keywords: str
    level: int = 0
    provider_json: orjson.Fragment = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider_json", orjson.Fragment(orjson.dumps(self.provider)))


SPECS: dict[str, Spec] = {
    "4624": Spec("Security", SECURITY, 4624, 2, 12544, AUDIT_SUCCESS),
    "4625": Spec("Security", SECURITY, 4625, 0, 12544, AUDIT_FAILURE),
    "4634": Spec("Security", SECURITY, 4634, 0, 12545, AUDIT_SUCCESS),
    "4672": Spec("Security", SECURITY, 4672, 0, 12548, AUDIT_SUCCESS),
    "4688": Spec("Security", SECURITY, 4688, 2, 13312, AUDIT_SUCCESS),
    "4768": Spec("Security", SECURITY, 4768, 0, 14339, AUDIT_SUCCESS),
    "4769": Spec("Security", SECURITY, 4769, 0, 14337, AUDIT_SUCCESS),
    "1102": Spec("Security", EVENTLOG, 1102, 0, 104, "0x4020000000000000", 4),
    "sysmon1": Spec(SYSMON_CHANNEL, SYSMON, 1, 5, 1, "0x8000000000000000", 4),
    "sysmon3": Spec(SYSMON_CHANNEL, SYSMON, 3, 5, 3, "0x8000000000000000", 4),
    "sysmon10": Spec(SYSMON_CHANNEL, SYSMON, 10, 3, 10, "0x8000000000000000", 4),
    "sysmon11": Spec(SYSMON_CHANNEL, SYSMON, 11, 2, 11, "0x8000000000000000", 4),
}


@dataclass(frozen=True, slots=True)
class Proc:
    """A program launch: image, command line, parent, and the PE version info Sysmon reports."""

    image: str
    command_line: str
    parent_image: str
    parent_command_line: str
    description: str
    product: str
    company: str
    integrity: str = "Medium"

    @property
    def original_name(self) -> str:
        return self.image.rsplit("\\", 1)[-1]

    @property
    def hashes(self) -> str:
        digest = hashlib.sha256(self.image.lower().encode()).hexdigest().upper()
        return f"MD5={digest[:32]},SHA256={digest},IMPHASH={digest[32:64]}"


EXPLORER = "C:\\Windows\\explorer.exe"
SVCHOST = "C:\\Windows\\System32\\svchost.exe"
SERVICES = "C:\\Windows\\System32\\services.exe"
MS = "Microsoft Corporation"
WINDOWS = "Microsoft® Windows® Operating System"
CHROME = "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"
EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
TEAMS = "C:\\Program Files\\WindowsApps\\MSTeams_25031.805.3440.5290_x64__8wekyb3d8bbwe\\ms-teams.exe"
OFFICE = "C:\\Program Files\\Microsoft Office\\root\\Office16\\"
CMD = "C:\\Windows\\System32\\cmd.exe"
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"

USER_PROCS: tuple[tuple[float, Proc], ...] = (
    (14, Proc(CHROME, f'"{CHROME}" --type=renderer --lang=en-US --num-raster-threads=4', CHROME, f'"{CHROME}"', "Google Chrome", "Google Chrome", "Google LLC")),
    (8, Proc(EDGE, f'"{EDGE}" --type=utility --utility-sub-type=network.mojom.NetworkService', EDGE, f'"{EDGE}" --no-startup-window', "Microsoft Edge", "Microsoft Edge", MS)),
    (6, Proc(TEAMS, f'"{TEAMS}" msteams:system-initiated', EXPLORER, EXPLORER, "Microsoft Teams", "Microsoft Teams", MS)),
    (6, Proc(OFFICE + "OUTLOOK.EXE", f'"{OFFICE}OUTLOOK.EXE" ', EXPLORER, EXPLORER, "Microsoft Outlook", "Microsoft Outlook", MS)),
    (5, Proc(OFFICE + "EXCEL.EXE", f'"{OFFICE}EXCEL.EXE" /dde', EXPLORER, EXPLORER, "Microsoft Excel", "Microsoft Office", MS)),
    (4, Proc(OFFICE + "WINWORD.EXE", f'"{OFFICE}WINWORD.EXE" /n', EXPLORER, EXPLORER, "Microsoft Word", "Microsoft Office", MS)),
    (3, Proc("C:\\Windows\\System32\\notepad.exe", "notepad.exe", EXPLORER, EXPLORER, "Notepad", WINDOWS, MS)),
    (3, Proc(CMD, f'"{CMD}" ', EXPLORER, EXPLORER, "Windows Command Processor", WINDOWS, MS)),
    (2, Proc("C:\\Windows\\System32\\ipconfig.exe", "ipconfig /all", CMD, f'"{CMD}" ', "IP Configuration Utility", WINDOWS, MS)),
    (2, Proc(POWERSHELL, f'"{POWERSHELL}" ', EXPLORER, EXPLORER, "Windows PowerShell", WINDOWS, MS)),
    (2, Proc("C:\\Users\\Public\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe", '"Code.exe" --type=utility', EXPLORER, EXPLORER, "Visual Studio Code", "Visual Studio Code", MS)),
    (2, Proc("C:\\Program Files\\Git\\cmd\\git.exe", "git fetch --prune", CMD, f'"{CMD}" ', "Git for Windows", "Git", "The Git Development Community")),
    (2, Proc("C:\\Program Files\\Microsoft OneDrive\\OneDrive.exe", '"OneDrive.exe" /background', EXPLORER, EXPLORER, "Microsoft OneDrive", "Microsoft OneDrive", MS)),
    (1, Proc("C:\\Windows\\System32\\mstsc.exe", '"mstsc.exe" /v:JUMP01', EXPLORER, EXPLORER, "Remote Desktop Connection", WINDOWS, MS)),
)

SYSTEM_PROCS: tuple[tuple[float, Proc], ...] = (
    (10, Proc(SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", SERVICES, SERVICES, "Host Process for Windows Services", WINDOWS, MS, "System")),
    (6, Proc("C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly", SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "Host Process for Windows Tasks", WINDOWS, MS, "System")),
    (5, Proc("C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1", SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p", "Console Window Host", WINDOWS, MS, "System")),
    (4, Proc("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25010.11-0\\MpCmdRun.exe", '"MpCmdRun.exe" -IdleTask -TaskName WdCacheMaintenance', SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "Microsoft Malware Protection Command Line Utility", "Microsoft Malware Protection", MS, "System")),
    (3, Proc("C:\\Windows\\System32\\CompatTelRunner.exe", "C:\\Windows\\system32\\compattelrunner.exe -maintenance", SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "Microsoft Compatibility Telemetry", WINDOWS, MS, "System")),
    (3, Proc("C:\\Windows\\System32\\SearchProtocolHost.exe", '"C:\\Windows\\system32\\SearchProtocolHost.exe" Global\\UsGthrFltPipeMssGthrPipe1_', "C:\\Windows\\System32\\SearchIndexer.exe", "C:\\Windows\\system32\\SearchIndexer.exe /Embedding", "Microsoft Windows Search Protocol Host", WINDOWS, MS, "System")),
    (2, Proc("C:\\Windows\\servicing\\TrustedInstaller.exe", "C:\\Windows\\servicing\\TrustedInstaller.exe", SERVICES, SERVICES, "Windows Modules Installer", WINDOWS, MS, "System")),
    (2, Proc("C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding", SVCHOST, "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", "WMI Provider Host", WINDOWS, MS, "System")),
    (1, Proc("C:\\Windows\\System32\\gpupdate.exe", "gpupdate.exe /target:computer", SVCHOST, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s gpsvc", "Microsoft® Windows Group Policy Update Utility", WINDOWS, MS, "System")),
)

DESTINATIONS: tuple[tuple[str, str, int, str], ...] = (
    ("203.0.113.240", "teams.microsoft.example", 443, "https"),
    ("203.0.113.241", "outlook.office365.example", 443, "https"),
    ("203.0.113.242", "www.google.example", 443, "https"),
    ("203.0.113.243", "github.example", 443, "https"),
    ("10.10.1.20", "FS01.corp.kestrel.example", 445, "microsoft-ds"),
    ("10.10.1.11", "DC01.corp.kestrel.example", 389, "ldap"),
)

DOWNLOADS: tuple[str, ...] = (
    "Q1-forecast.xlsx", "invoice-2026-0311.pdf", "meeting-notes.docx", "screenshot.png", "setup-1.4.2.msi",
    "export.csv", "design-review.pptx", "contract-draft.pdf",
)
