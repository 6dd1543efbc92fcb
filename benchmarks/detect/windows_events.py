"""Windows evtx_dump-style JSON Lines for the detection benchmark, grown from SigmaHQ samples.

SigmaHQ's `regression_data/` holds a few hundred real events (Sysmon, Security, Defender,
Task Scheduler, WMI), each one the positive example of a rule, so replaying them verbatim
would make every event an alert. Each output event starts from one of those samples (its
channel, event id and field set are kept, so the lake's columns and the rules' routing are
those of real logs) and is turned into one of three variants:

- **benign** (most events): every process, file, registry, pipe and free-text value is replaced
  by an ordinary one (office applications, browsers, Windows services launching with their
  usual command lines, documents under the user's profile, vendor registry keys);
- **near miss**: a benign event that keeps the sample's program (`Image`, `OriginalFileName`,
  `ParentImage`): the tool an attacker used, run for an ordinary purpose;
- **attack**: the sample's detection-relevant values unchanged.

Every variant gets its own host, user, SIDs, process ids and GUIDs, logon ids, IP addresses,
hashes (except attacks, whose hashes may be indicators), record id and time, so no two events
are equal. Times are spread over a week in order, as logs arrive.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from auditlake.synth.sources.windows_catalog import DOWNLOADS, SYSTEM_PROCS, USER_PROCS, Proc

WEEK_START = datetime(2026, 3, 2, tzinfo=UTC)
VARIANTS = ("benign", "near_miss", "attack")
DEFAULT_SHARES = (0.945, 0.05, 0.005)
"""Benign, near-miss and attack shares of the events."""

DOMAIN = "CORP"
HOSTS = 400
USERS = [f"user{n:04d}" for n in range(1, 1201)]
PROCS: list[Proc] = [proc for _, proc in (*USER_PROCS, *SYSTEM_PROCS)]
PROC_WEIGHTS: list[float] = [weight for weight, _ in (*USER_PROCS, *SYSTEM_PROCS)]
DLLS = ("ntdll.dll", "kernelbase.dll", "kernel32.dll", "user32.dll", "combase.dll", "ole32.dll",
        "msvcp_win.dll", "ucrtbase.dll", "gdi32full.dll", "shell32.dll", "winhttp.dll", "crypt32.dll")
VENDORS = ("Google\\Chrome", "Microsoft\\Office\\16.0\\Excel", "Microsoft\\Teams", "Zoom\\Client",
           "Adobe\\Acrobat Reader\\DC", "Mozilla\\Firefox", "Notepad++", "7-Zip")
FOLDERS = ("Documents", "Downloads", "Desktop", "AppData\\Local\\Packages\\Cache", "Pictures")
PHRASES = ("Get-ChildItem -Path $HOME\\Documents | Sort-Object LastWriteTime | Select-Object -First 10",
           "Import-Module Microsoft.PowerShell.Utility; Get-Date -Format o",
           "Write-Host 'Backup of project files finished' -ForegroundColor Green",
           "$items = Get-Content .\\inventory.csv | ConvertFrom-Csv; $items.Count")

IDENTITY_FIELDS = frozenset({"User", "ParentUser", "SourceUser", "TargetUser", "UserName",
                             "SubjectUserName", "TargetUserName", "Detection User", "Remediation User"})
DOMAIN_FIELDS = frozenset({"SubjectDomainName", "TargetDomainName"})
SID_FIELDS = frozenset({"SubjectUserSid", "TargetUserSid"})
PID_FIELDS = frozenset({"ProcessId", "ParentProcessId", "SourceProcessId", "TargetProcessId",
                        "SourceThreadId", "ClientProcessId", "NewProcessId"})
LOGON_ID_FIELDS = frozenset({"LogonId", "SubjectLogonId", "TargetLogonId"})
HASH_FIELDS = frozenset({"Hashes", "ConfigurationFileHash", "Hash"})
IP_FIELDS = frozenset({"IpAddress", "SourceIp", "DestinationIp", "SourceAddress", "DestAddress"})
HOST_FIELDS = frozenset({"ClientMachine", "WorkstationName", "SourceHostname", "DestinationHostname",
                         "TargetServerName", "TargetInfo", "FQDN"})
TIME_FIELDS = frozenset({"UtcTime", "CreationUtcTime", "Detection Time"})
PROGRAM_FIELDS = frozenset({"Image", "OriginalFileName", "ParentImage", "Description", "Product",
                            "Company", "FileVersion"})
"""What a near miss keeps from its sample: the program, not what it was asked to do."""
HELP_FLAGS = ("/?", "--help", "--version", "-h")

_HEX_RUN = re.compile(r"[0-9A-Fa-f]{16,}")
_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def load_samples(root: Path) -> list[dict[str, Any]]:
    """Every event of the regression JSON files (a file may hold several concatenated objects)."""
    events = []
    decoder = json.JSONDecoder()
    for file in sorted(root.rglob("*.json")):
        text, pos = file.read_text(encoding="utf-8"), 0
        while pos < len(text):
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            obj, pos = decoder.raw_decode(text, pos)
            if isinstance(obj, dict) and isinstance(obj.get("Event"), dict):
                events.append(obj)
    return events


def write_events(
    samples: list[dict[str, Any]], count: int, path: Path, *, seed: int = 7,
    shares: tuple[float, float, float] = DEFAULT_SHARES,
) -> Counter[str]:
    """Write `count` events to `path` (JSON Lines); returns how many of each variant."""
    rng = random.Random(seed)
    templates = [orjson.dumps(s) for s in samples]
    made: Counter[str] = Counter()
    with path.open("wb") as out:
        for i, (template, variant) in enumerate(_plan(rng, templates, count, shares)):
            record = orjson.loads(template)
            _vary(record, variant, i, count, rng)
            made[variant] += 1
            out.write(orjson.dumps(record) + b"\n")
    return made


def _plan(
    rng: random.Random, templates: list[bytes], count: int, shares: tuple[float, float, float]
) -> Iterator[tuple[bytes, str]]:
    for _ in range(count):
        yield rng.choice(templates), rng.choices(VARIANTS, weights=shares)[0]


def _moment(i: int, count: int) -> datetime:
    return WEEK_START + timedelta(seconds=7 * 86400 * i / count)


def _vary(record: dict[str, Any], variant: str, i: int, count: int, rng: random.Random) -> None:
    """Make the record event number `i` of `count`, as `variant` (see the module docstring)."""
    event = record["Event"]
    system = event["System"]
    moment = _moment(i, count)
    host = rng.randrange(HOSTS)
    user = rng.choice(USERS)
    system["EventRecordID"] = i + 1
    system["Computer"] = f"WS-{host:04d}.corp.example"
    system["TimeCreated"] = {"#attributes": {"SystemTime": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
    system["Execution"] = {"#attributes": {"ProcessID": rng.randrange(4, 65536, 4),
                                           "ThreadID": rng.randrange(4, 65536, 4)}}
    if isinstance(system.get("Security"), dict):
        system["Security"] = {"#attributes": {"UserID": _sid(user)}}
    data = event.get("EventData")
    if not isinstance(data, dict):
        user_data = event.get("UserData")
        data = next(iter(user_data.values()), None) if isinstance(user_data, dict) else None
    if not isinstance(data, dict):
        return
    context = _Context(rng, user, host, moment, _pick_proc(rng))
    for key, value in list(data.items()):
        if key == "#attributes" or value is None:
            continue
        if variant == "near_miss" and key in PROGRAM_FIELDS:
            continue
        data[key] = _new_value(key, value, variant, context)
    image = data.get("Image")
    if variant == "near_miss" and isinstance(image, str) and "CommandLine" in data:
        # The program asked for its usage text: what admins and installers run every day.
        data["CommandLine"] = f'"{image.rsplit(chr(92), 1)[-1]}" {rng.choice(HELP_FLAGS)}'


class _Context:
    """The per-event choices every field of one event agrees on."""

    def __init__(self, rng: random.Random, user: str, host: int, moment: datetime, proc: Proc) -> None:
        self.rng = rng
        self.user = user
        self.host = host
        self.moment = moment
        self.proc = proc


def _pick_proc(rng: random.Random) -> Proc:
    return rng.choices(PROCS, weights=PROC_WEIGHTS)[0]


def _new_value(key: str, value: Any, variant: str, ctx: _Context) -> Any:  # noqa: PLR0911, PLR0912 - one branch per kind of field
    """The field's value in this event; identity, ids and times vary for every variant."""
    rng = ctx.rng
    if key in IDENTITY_FIELDS:
        return f"{DOMAIN}\\{ctx.user}" if isinstance(value, str) and "\\" in value else ctx.user
    if key in DOMAIN_FIELDS:
        return DOMAIN
    if key in SID_FIELDS:
        return _sid(ctx.user)
    if key in PID_FIELDS:
        pid = rng.randrange(4, 65536, 4)
        if isinstance(value, str):
            return hex(pid) if value.startswith("0x") else str(pid)
        return pid
    if key in LOGON_ID_FIELDS:
        return hex(rng.randrange(0x10000, 0xFFFFFFF))
    if key in TIME_FIELDS:
        return ctx.moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if key in IP_FIELDS and isinstance(value, str) and value.count(".") == 3:
        return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if key in HOST_FIELDS:
        return f"WS-{rng.randrange(HOSTS):04d}"
    if not isinstance(value, str):
        return value
    if _GUID.fullmatch(value.strip("{}")):
        guid = "-".join(f"{rng.getrandbits(b * 4):0{b}X}" for b in (8, 4, 4, 4, 12))
        return "{" + guid + "}" if value.startswith("{") else guid
    if key in HASH_FIELDS:
        return value if variant == "attack" else _HEX_RUN.sub(lambda m: _hex(rng, len(m.group())), value)
    if variant == "attack":
        return value
    return _benign(key, value, ctx)


def _benign(key: str, value: str, ctx: _Context) -> str:  # noqa: PLR0911 - one branch per kind of field
    """An ordinary value for a field that, in the sample, held what the rule looks for."""
    proc, rng = ctx.proc, ctx.rng
    by_proc = {
        "Image": proc.image, "NewProcessName": proc.image, "ProcessName": proc.image,
        "SourceImage": proc.image, "CommandLine": _command_line(ctx),
        "ParentImage": proc.parent_image, "ParentProcessName": proc.parent_image,
        "ParentCommandLine": proc.parent_command_line, "OriginalFileName": proc.original_name,
        "Description": proc.description, "Product": proc.product, "Company": proc.company,
        "IntegrityLevel": proc.integrity, "TargetImage": _pick_proc(rng).image,
        "CurrentDirectory": f"C:\\Users\\{ctx.user}\\", "GrantedAccess": "0x1000",
    }
    if key in by_proc:
        return by_proc[key]
    if key == "ImageLoaded":
        return f"C:\\Windows\\System32\\{rng.choice(DLLS)}"
    if key == "TargetObject":
        return f"HKU\\{_sid(ctx.user)}\\Software\\{rng.choice(VENDORS)}\\Settings\\Option{rng.randrange(100)}"
    if key == "Details":
        return f"DWORD (0x{rng.randrange(4096):08x})"
    if key == "PipeName":
        return f"\\{rng.choice(VENDORS).split(chr(92))[0].lower()}-ipc-{_hex(rng, 8)}"
    if key == "CallTrace":
        return "C:\\Windows\\SYSTEM32\\ntdll.dll+9d204|C:\\Windows\\System32\\KERNELBASE.dll+2c13e"
    if key in ("TargetFilename", "Path", "Configuration", "TaskName") or "\\" in value or ":" in value:
        return _document(ctx)
    if len(value) > 40:
        return rng.choice(PHRASES)
    return value


def _command_line(ctx: _Context) -> str:
    """The catalogue command line: as it is, on a shared download, or on one of the user's own
    documents, so about a third of the lines are unlike any other (as in real process logs,
    where some programs always run alike and others on ever new files)."""
    draw = ctx.rng.random()
    if draw < 0.35:
        return ctx.proc.command_line
    if draw < 0.65:
        return f'{ctx.proc.command_line} "{ctx.rng.choice(DOWNLOADS)}"'
    return f'{ctx.proc.command_line} "{_document(ctx)}"'


def _document(ctx: _Context) -> str:
    name = ctx.rng.choice(DOWNLOADS)
    stem, _, suffix = name.rpartition(".")
    return f"C:\\Users\\{ctx.user}\\{ctx.rng.choice(FOLDERS)}\\{stem}-{ctx.rng.randrange(1000)}.{suffix}"


def _sid(user: str) -> str:
    return f"S-1-5-21-1004336348-1177238915-682003330-{1000 + int(user[4:])}"


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}X}"
