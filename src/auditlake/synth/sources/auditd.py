"""Linux auditd background: cron, monitoring scripts, SSH logins, commands and sudo.

Every server runs hourly cron jobs (PAM records around an execve) and a monitoring script; SRE
and Linux users log in over SSH, run commands (execve audited with key `exec`) and use sudo.
Output is raw `audit.log` text as a central collector writes it with `name_format=hostname`:
`node=<host> type=<TYPE> msg=audit(<epoch>.<ms>:<serial>): <fields>`. An execve event is a
SYSCALL record followed by EXECVE, CWD, PATH, PROCTITLE and EOE, all sharing one serial; serials
increase per host across days. `execve()` and `pam()` are shared with the scenarios.
"""

from __future__ import annotations

import hashlib
import random
import zlib
from collections.abc import Callable, Iterator
from typing import Any

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
from auditlake.synth.org import Host, Org, Person
from auditlake.synth.picker import Picker
from auditlake.synth.sourcegen import SourceGen

NAME = "linux.auditd"
SESSIONS_PER_PEAK_HOUR = 0.12
UNSET = 4294967295
Event = dict[str, Any]


def audit_event(node: str, ts: int, records: list[tuple[str, str]]) -> Event:
    """A multi-record audit event; the encoder gives it its serial."""
    return {"node": node, "ts": ts, "records": records, "serial": None}


def execve(host: Host, ts: int, argv: list[str], who: tuple[int, int, int, str], exe: str) -> Event:
    """An audited execve: SYSCALL (key `exec`), EXECVE, CWD, two PATH, PROCTITLE, EOE.

    `who` is (auid, uid, session id, cwd); uid 0 with a real auid is a sudo'd command.
    """
    auid, uid, ses, cwd = who
    pid = 1000 + (ts // 997) % 60000
    comm = exe.rsplit("/", 1)[-1][:15]
    tty = "(none)" if ses == UNSET else "pts0"
    syscall = (f"arch=c000003e syscall=59 success=yes exit=0 a0=55d4c0b2a3f0 a1=55d4c0b2b6a0 a2=55d4c0b29e30 a3=8 "
               f"items=2 ppid={pid - 7} pid={pid} auid={auid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} "
               f"egid={uid} sgid={uid} fsgid={uid} tty={tty} ses={ses} comm=\"{comm}\" exe=\"{exe}\" subj=unconfined key=\"exec\"")
    args = " ".join(f"a{i}={_arg(a)}" for i, a in enumerate(argv))
    return audit_event(host.name, ts, [
        ("SYSCALL", syscall),
        ("EXECVE", f"argc={len(argv)} {args}"),
        ("CWD", f"cwd=\"{cwd}\""),
        ("PATH", f"item=0 name=\"{exe}\" inode={(zlib.crc32(exe.encode()) & 0xFFFFF) + 1000} dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"),
        ("PATH", "item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=1835177 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"),
        ("PROCTITLE", f"proctitle={_proctitle(argv)}"),
        ("EOE", ""),
    ])


def pam(host: Host, ts: int, kind: str, who: tuple[int, str, int], origin: tuple[str, str, str], *, ok: bool = True) -> Event:
    """A PAM-driven record (USER_AUTH, USER_ACCT, CRED_ACQ, USER_START, USER_END, CRED_DISP,
    USER_LOGIN, USER_CMD …). `who` is (auid, account, session); `origin` is (exe, addr, terminal).
    """
    auid, acct, ses = who
    exe, addr, terminal = origin
    op = PAM_OPS[kind]
    res = "success" if ok else "failed"
    pid = 2000 + (ts // 1009) % 60000
    head = f"pid={pid} uid=0 auid={auid} ses={ses} subj=unconfined"
    if kind == "USER_LOGIN":
        body = f"op=login id={auid} exe=\"{exe}\" hostname={addr} addr={addr} terminal={terminal} res={res}"
    else:
        body = f"op={op} acct=\"{acct}\" exe=\"{exe}\" hostname={addr} addr={addr} terminal={terminal} res={res}"
    return audit_event(host.name, ts, [(kind, f"{head} msg='{body}'")])


def user_cmd(host: Host, ts: int, who: tuple[int, str, int], command: str) -> Event:
    """sudo's USER_CMD record: the command line hex-encoded, as sudo logs it."""
    auid, acct, ses = who
    pid = 2000 + (ts // 1009) % 60000
    body = f"cwd=\"/home/{acct}\" cmd={command.encode().hex().upper()} exe=\"/usr/bin/sudo\" terminal=pts/0 res=success"
    return audit_event(host.name, ts, [("USER_CMD", f"pid={pid} uid={auid} auid={auid} ses={ses} subj=unconfined msg='{body}'")])


PAM_OPS = {
    "USER_AUTH": "PAM:authentication grantors=pam_unix", "USER_ACCT": "PAM:accounting grantors=pam_unix",
    "CRED_ACQ": "PAM:setcred grantors=pam_unix", "CRED_REFR": "PAM:setcred grantors=pam_unix",
    "USER_START": "PAM:session_open grantors=pam_loginuid,pam_keyinit,pam_limits,pam_systemd,pam_unix",
    "USER_END": "PAM:session_close grantors=pam_loginuid,pam_keyinit,pam_limits,pam_systemd,pam_unix",
    "CRED_DISP": "PAM:setcred grantors=pam_unix", "USER_LOGIN": "login",
}


def login_record(host: Host, ts: int, auid: int, ses: int) -> Event:
    body = f"pid={2000 + (ts // 1009) % 60000} uid=0 subj=unconfined old-auid={UNSET} auid={auid} tty=(none) old-ses={UNSET} ses={ses} res=1"
    return audit_event(host.name, ts, [("LOGIN", body)])


def _arg(value: str) -> str:
    """EXECVE arguments are quoted, or hex when they hold spaces, quotes or control bytes."""
    if all(33 <= ord(c) <= 126 and c != '"' for c in value) and value:
        return f'"{value}"'
    return value.encode().hex().upper()


def _proctitle(argv: list[str]) -> str:
    title = "\0".join(argv)
    return _arg(title) if len(argv) == 1 else title.encode().hex().upper()


def plan_hour(ctx: Ctx, hour_us: int) -> Iterator[Plan]:
    rng = ctx.rng
    servers = ctx.org.linux_hosts
    for ts, person in session_starts(ctx, ctx.cohorts_of("linux"), hour_us, SESSIONS_PER_PEAK_HOUR):
        host = servers[rng.randrange(len(servers))]
        yield from _ssh_session(ctx, ts, host, person)
    yield from job_ticks(ctx, ctx.memo("jobs", lambda: _jobs(servers)), hour_us)


def _ssh_session(ctx: Ctx, ts: int, host: Host, person: Person) -> Iterator[Plan]:
    """Login (PAM, LOGIN, USER_LOGIN), commands and sudo, then logout."""
    rng = ctx.rng
    auid, acct, ses = person.unix_uid, person.unix_login, rng.randrange(100, 90000)
    sshd = ("/usr/sbin/sshd", f"10.20.0.{5 + person.index % 200}", "ssh")
    times = spread(ctx, ts, 6, 0.05)
    for t, kind in zip(times, ("USER_AUTH", "USER_ACCT", "CRED_ACQ", "USER_START", "USER_LOGIN"), strict=False):
        yield ctx.plan(t, _pam, (host, kind, (UNSET if kind in ("USER_AUTH", "USER_ACCT") else auid, acct, ses), sshd))
    yield ctx.plan(times[5], _login, (host, auid, ses))
    cwd = f"/home/{acct}"
    work = spread(ctx, times[-1] + US, burst_size(rng, 8), 20.0)
    for t in work:
        argv, exe, sudo = COMMANDS(rng)
        if sudo:
            yield ctx.plan(t, _sudo, (host, (auid, acct, ses), " ".join(argv)))
        yield ctx.plan(t + 2000, _exec, (host, argv, (auid, 0 if sudo else auid, ses, cwd), exe))
    end = work[-1] + int(rng.uniform(5, 120) * US)
    for i, kind in enumerate(("USER_END", "CRED_DISP")):
        yield ctx.plan(end + i * 1000, _pam, (host, kind, (auid, acct, ses), sshd))


def _cron(ctx: Ctx, ts: int, host: Host) -> Iterator[Plan]:
    """An hourly cron job: PAM session for root around one execve, as cron logs it."""
    ses = 10_000 + (ts // US) % 80_000
    cron = ("/usr/sbin/cron", "?", "cron")
    root = (0, "root", ses)
    argv, exe = CRON_JOBS[(ts // US) % len(CRON_JOBS)]
    steps: list[tuple[Callable[..., Any], Any]] = [
        (_pam, (host, "CRED_ACQ", root, cron)), (_login, (host, 0, ses)), (_pam, (host, "USER_START", root, cron)),
        (_exec, (host, argv, (0, 0, ses, "/root"), exe)), (_pam, (host, "CRED_DISP", root, cron)), (_pam, (host, "USER_END", root, cron)),
    ]
    for i, (render, arg) in enumerate(steps):
        yield ctx.plan(ts + i * 3000 + (400_000 if i >= 4 else 0), render, arg)


def _pam(ctx: Ctx, ts: int, arg: tuple[Host, str, tuple[int, str, int], tuple[str, str, str]]) -> Event:
    host, kind, who, origin = arg
    return pam(host, ts, kind, who, origin)


def _sudo(ctx: Ctx, ts: int, arg: tuple[Host, tuple[int, str, int], str]) -> Event:
    host, who, command = arg
    return user_cmd(host, ts, who, command)


def _login(ctx: Ctx, ts: int, arg: tuple[Host, int, int]) -> Event:
    host, auid, ses = arg
    return login_record(host, ts, auid, ses)


def _exec(ctx: Ctx, ts: int, arg: tuple[Host, list[str], tuple[int, int, int, str], str]) -> Event:
    host, argv, who, exe = arg
    return execve(host, ts, argv, who, exe)


def _monitor(ctx: Ctx, ts: int, host: Host) -> Event:
    return execve(host, ts, ["/usr/local/bin/node_exporter_textfile.sh"], (UNSET, 0, UNSET, "/"), "/usr/bin/bash")


COMMANDS = Picker([
    (20, (["ls", "-la"], "/usr/bin/ls", False)), (14, (["cat", "/var/log/app/app.log"], "/usr/bin/cat", False)),
    (12, (["tail", "-n", "100", "/var/log/syslog"], "/usr/bin/tail", False)), (10, (["ps", "aux"], "/usr/bin/ps", False)),
    (8, (["df", "-h"], "/usr/bin/df", False)), (8, (["grep", "-r", "ERROR", "/var/log/app"], "/usr/bin/grep", False)),
    (8, (["systemctl", "status", "nginx"], "/usr/bin/systemctl", True)), (5, (["journalctl", "-u", "app", "-n", "200"], "/usr/bin/journalctl", True)),
    (3, (["systemctl", "restart", "app"], "/usr/bin/systemctl", True)), (3, (["apt-get", "install", "-y", "htop"], "/usr/bin/apt-get", True)),
    (4, (["vim", "/etc/app/config.yaml"], "/usr/bin/vim.basic", False)), (3, (["curl", "-s", "localhost:8080/healthz"], "/usr/bin/curl", False)),
])
CRON_JOBS: tuple[tuple[list[str], str], ...] = (
    (["/usr/lib/sysstat/debian-sa1", "1", "1"], "/usr/bin/dash"),
    (["run-parts", "--report", "/etc/cron.hourly"], "/usr/bin/run-parts"),
    (["/usr/bin/logrotate", "/etc/logrotate.conf"], "/usr/sbin/logrotate"),
)


def _jobs(servers: tuple[Host, ...]) -> list[Job]:
    jobs = [Job(h, 3600, _cron, phase_s=60.0 * (i % 59) + 17, jitter_s=1, expands=True) for i, h in enumerate(servers)]
    jobs += [Job(h, 1800, _monitor, phase_s=31.0 * i, jitter_s=3) for i, h in enumerate(servers)]
    return jobs


def encoder(org: Org) -> Callable[[Any], bytes]:
    """Raw audit.log lines, serials increasing per host from a seed-derived start."""
    serials: dict[str, int] = {}
    seed = org.seed

    def encode(event: Event) -> bytes:
        node = event["node"]
        serial = serials.get(node)
        if serial is None:
            serial = random.Random(f"auditd:{seed}:{node}").randrange(1000, 900_000)
        serials[node] = serial + 1 + (event["ts"] & 3)
        event["serial"] = serial
        return ("\n".join(_lines(event)) + "\n").encode()

    return encode


def _stamp(event: Event) -> str:
    seconds, micro = divmod(event["ts"], US)
    return f"{seconds}.{micro // 1000:03d}:{event['serial']}"


def _lines(event: Event) -> list[str]:
    """The event's record lines, once the encoder has given it its serial."""
    node, stamp = event["node"], f"audit({_stamp(event)})"
    return [f"node={node} type={kind} msg={stamp}: {body}" if body else f"node={node} type={kind} msg={stamp}:"
            for kind, body in event["records"]]


def native_id(event: Event) -> str:
    """`<node>:<epoch>.<ms>:<serial>/<digest>`, the lake's `event_uid` of the event read whole:
    host plus the `audit(...)` stamp (a serial alone is only unique per host and boot), then
    the first 16 hex digits of the SHA-256 of its record lines joined by newlines."""
    digest = hashlib.sha256("\n".join(_lines(event)).encode()).hexdigest()[:16]
    return f"{event['node']}:{_stamp(event)}/{digest}"


GEN = SourceGen(NAME, "auditd", plan_hour, encoder, native_id, time_unit_us=1000)
